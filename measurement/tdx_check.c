/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX quote verification: the PCK chain to the pinned Intel SGX Root CA,
 * the QE report signed by the PCK leaf and binding the attestation key, the
 * quote signed by that key, then collateral and reference values.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "measurement/tdx_internal.h"

/*
 * SHA-256 of the DER encoding of the Intel SGX Root CA certificate
 * (https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem),
 * the root every genuine PCK chain ends in.
 */
static const char intel_sgx_root_sha256[] =
	"44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

bool tdx_root_trusted(X509 *root, STACK_OF(X509) *test_roots)
{
	uint8_t fp[32], want[32];

	if (x509_fingerprint(root, fp) < 0)
		return false;
	hex_decode_exact(intel_sgx_root_sha256, want, 32);
	if (memcmp(fp, want, 32) == 0)
		return true;
	for (int i = 0; i < sk_X509_num(test_roots); i++)
		if (X509_cmp(root, sk_X509_value(test_roots, i)) == 0)
			return true;
	return false;
}

struct tdx_verifier {
	time_t now;
	uint8_t root_fp[32];
	STACK_OF(X509) *test_roots;
	struct tdx_collateral *collateral;
	/* the last PCK chain verified */
	uint8_t *pem;
	size_t pem_len;
	STACK_OF(X509) *chain;
	EVP_PKEY *leaf_key;
	struct pck_info pck;
	bool test_root;
	/* the last attestation key: a QE keeps its key across quotes */
	uint8_t ak_xy[64];
	EVP_PKEY *ak;
};

static void cache_clear(struct tdx_verifier *tv)
{
	free(tv->pem);
	tv->pem = NULL;
	tv->pem_len = 0;
	sk_X509_pop_free(tv->chain, X509_free);
	tv->chain = NULL;
	tv->leaf_key = NULL; /* owned by the chain's leaf */
}

void tdx_verifier_free(struct tdx_verifier *tv)
{
	if (!tv)
		return;
	cache_clear(tv);
	EVP_PKEY_free(tv->ak);
	sk_X509_pop_free(tv->test_roots, X509_free);
	tdx_collateral_free(tv->collateral);
	free(tv);
}

int tdx_verifier_new(const char *test_roots_pem, const char *collateral_dir, time_t now,
		     struct tdx_verifier **out, char *err, size_t errlen)
{
	struct tdx_verifier *tv = calloc(1, sizeof(*tv));
	int r = 0;

	if (!tv) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	tv->now = now;
	hex_decode_exact(intel_sgx_root_sha256, tv->root_fp, 32);
	if (test_roots_pem) {
		_cleanup_free_ uint8_t *pem = NULL;
		size_t len;

		r = file_read(test_roots_pem, CVM_CAP_CERT, &pem, &len);
		if (r == 0)
			r = x509_load_pem_chain(pem, len, &tv->test_roots);
		if (r < 0)
			snprintf(err, errlen, "%s: %s", test_roots_pem,
				 r == -EBADMSG ? "no PEM certificate" : strerror(-r));
	}
	if (r == 0 && collateral_dir)
		r = tdx_collateral_load(collateral_dir, &tv->collateral, err, errlen);
	if (r < 0) {
		tdx_verifier_free(tv);
		return r;
	}
	*out = tv;
	return 0;
}

static bool is_p256(X509 *c)
{
	EVP_PKEY *k = X509_get0_pubkey(c);
	char curve[32] = "";

	if (!k || !EVP_PKEY_is_a(k, "EC"))
		return false;
	EVP_PKEY_get_group_name(k, curve, sizeof(curve), NULL);
	return strcmp(curve, "prime256v1") == 0;
}

/* The PCK chain: leaf, intermediate CA, root; each signed by the next. */
static int chain_verify(struct tdx_verifier *tv, const struct tdx_quote *q, struct verdict *v)
{
	STACK_OF(X509) *chain = NULL;
	X509 *root;
	uint8_t fp[32];
	char cn[64], fphex[65];
	time_t now = tv->now ? tv->now : time(NULL);
	int n;

	if (x509_load_pem_chain(q->pck_chain_pem.p, q->pck_chain_pem.len, &chain) < 0)
		return verdict_fail(v, CHECK_CERTIFICATES, "PCK chain holds no PEM certificate");
	tv->chain = chain;
	n = sk_X509_num(chain);
	if (n != 3)
		return verdict_fail(v, CHECK_CERTIFICATES,
				    "PCK chain has %d certificates, expected 3 (PCK, CA, root)", n);
	if (pck_info_parse(sk_X509_value(chain, 0), &tv->pck) < 0)
		return verdict_fail(v, CHECK_CERTIFICATES,
				    "PCK certificate lacks well-formed SGX extensions");
	x509_cn(sk_X509_value(chain, 0), cn, sizeof(cn));
	verdict_pass(v, CHECK_CERTIFICATES, "%s, FMSPC %02x%02x%02x%02x%02x%02x", cn,
		     tv->pck.fmspc[0], tv->pck.fmspc[1], tv->pck.fmspc[2], tv->pck.fmspc[3],
		     tv->pck.fmspc[4], tv->pck.fmspc[5]);

	root = sk_X509_value(chain, 2);
	if (x509_fingerprint(root, fp) < 0)
		return verdict_fail(v, CHECK_ROOT_PINNED, "cannot hash the root certificate");
	tv->test_root = false;
	if (memcmp(fp, tv->root_fp, 32) != 0) {
		tv->test_root = tdx_root_trusted(root, tv->test_roots);
		if (!tv->test_root) {
			hex_encode(fp, 32, fphex);
			return verdict_fail(v, CHECK_ROOT_PINNED,
					    "root (SHA-256 %s) is not the Intel SGX Root CA",
					    fphex);
		}
	}
	x509_cn(root, cn, sizeof(cn));
	verdict_pass(v, CHECK_ROOT_PINNED, "%s%s", cn,
		     tv->test_root ? " (test root)" : " (pinned)");

	for (int i = 0; i < 3; i++) {
		X509 *c = sk_X509_value(chain, i),
		     *issuer = sk_X509_value(chain, i < 2 ? i + 1 : 2);

		if (!x509_signed_by(c, issuer)) {
			x509_cn(c, cn, sizeof(cn));
			return verdict_fail(v, CHECK_CHAIN,
					    "%s is not signed by the next certificate", cn);
		}
		if (i > 0 && X509_check_ca(c) < 1) {
			x509_cn(c, cn, sizeof(cn));
			return verdict_fail(v, CHECK_CHAIN, "%s is not a CA", cn);
		}
	}
	verdict_pass(v, CHECK_CHAIN, "PCK <- CA <- root");

	for (int i = 0; i < 3; i++) {
		if (x509_check_time(sk_X509_value(chain, i), now) < 0) {
			x509_cn(sk_X509_value(chain, i), cn, sizeof(cn));
			return verdict_fail(v, CHECK_VALIDITY,
					    "%s is not valid at the verification time", cn);
		}
	}
	{
		char when[32];

		time_rfc3339(now, when);
		verdict_pass(v, CHECK_VALIDITY, "all certificates valid at %s", when);
	}
	for (int i = 0; i < 3; i++)
		if (!is_p256(sk_X509_value(chain, i)))
			return verdict_fail(v, CHECK_KEY_TYPE, "PCK chain key is not ECDSA P-256");
	tv->leaf_key = X509_get0_pubkey(sk_X509_value(chain, 0));
	return 0;
}

static int check_reference(const struct tdx_quote *q, const struct tdx_reference *ref,
			   const uint8_t *report_data, struct verdict *v)
{
	const struct tdx_report_body *b = &q->body;

	if (ref->has_mrtd && verdict_compare(v, CHECK_MRTD, "MRTD", b->mrtd, ref->mrtd, 48) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		char what[16];

		snprintf(what, sizeof(what), "RTMR%d", i);
		if (ref->has_rtmr[i] &&
		    verdict_compare(v, CHECK_RTMR, what, b->rtmr[i], ref->rtmr[i], 48) < 0)
			return -1;
	}
	if (ref->has_mrconfigid && verdict_compare(v, CHECK_MRCONFIGID, "MRCONFIGID", b->mrconfigid,
						   ref->mrconfigid, 48) < 0)
		return -1;
	if (ref->has_mrowner &&
	    verdict_compare(v, CHECK_MROWNER, "MROWNER", b->mrowner, ref->mrowner, 48) < 0)
		return -1;
	if (ref->has_mrownerconfig && verdict_compare(v, CHECK_MROWNERCONFIG, "MROWNERCONFIG",
						      b->mrownerconfig, ref->mrownerconfig, 48) < 0)
		return -1;
	if (ref->has_report_data && verdict_compare(v, CHECK_REPORT_DATA, "REPORTDATA",
						    b->report_data, ref->report_data, 64) < 0)
		return -1;
	if (report_data && verdict_compare(v, CHECK_REPORT_DATA, "REPORTDATA", b->report_data,
					   report_data, 64) < 0)
		return -1;
	return 0;
}

static void le_hex(uint64_t x, char out[17])
{
	uint8_t b[8];

	put_le(b, x, 8);
	hex_encode(b, 8, out);
}

/*
 * TD attributes and XFAM. Bit positions: Intel TDX Module ABI Specification
 * (348551), "TD Attributes Definition": DEBUG (bit 0) lets the host read
 * and write the TD; without SEPT_VE_DISABLE (bit 28) the host can make EPT
 * violations on pending pages raise #VE inside the TD at points of its
 * choosing, which the guest kernel cannot tell from its own faults.
 */
static int check_attributes(const struct tdx_quote *q, const struct tdx_reference *ref,
			    struct verdict *v)
{
	uint64_t attr = le64(q->body.td_attributes), xfam = le64(q->body.xfam);
	char got[17], pin[17], mask[17];

	if ((attr & TDX_ATTR_DEBUG) && !ref->allow_debug)
		return verdict_fail(v, CHECK_TD_DEBUG,
				    "TD attributes have DEBUG; the reference does not allow it");
	verdict_pass(v, CHECK_TD_DEBUG, "%s",
		     attr & TDX_ATTR_DEBUG ? "DEBUG allowed by the reference" : "no DEBUG");
	/* Values in the form of the claims and the reference: the quote's bytes in hex. */
	hex_encode(q->body.td_attributes, 8, got);
	if (!(attr & TDX_ATTR_SEPT_VE_DISABLE) && !ref->allow_sept_ve)
		return verdict_fail(v, CHECK_TD_ATTRIBUTES,
				    "TD attributes %s lack SEPT_VE_DISABLE (bit 28); the reference "
				    "does not allow that (tdx.allow_sept_ve)",
				    got);
	if (ref->has_td_attributes &&
	    (attr & ref->td_attributes_mask) != (ref->td_attributes & ref->td_attributes_mask)) {
		le_hex(ref->td_attributes, pin);
		le_hex(ref->td_attributes_mask, mask);
		return verdict_fail(v, CHECK_TD_ATTRIBUTES,
				    "TD attributes %s, the reference pins %s under mask %s", got,
				    pin, mask);
	}
	verdict_pass(v, CHECK_TD_ATTRIBUTES, "%s: SEPT_VE_DISABLE %s%s", got,
		     attr & TDX_ATTR_SEPT_VE_DISABLE ? "set" : "clear, allowed by the reference",
		     ref->has_td_attributes ? ", as pinned" : ", not pinned");
	hex_encode(q->body.xfam, 8, got);
	if (ref->has_xfam && (xfam & ref->xfam_mask) != (ref->xfam & ref->xfam_mask)) {
		le_hex(ref->xfam, pin);
		le_hex(ref->xfam_mask, mask);
		return verdict_fail(v, CHECK_XFAM, "XFAM %s, the reference pins %s under mask %s",
				    got, pin, mask);
	}
	verdict_pass(v, CHECK_XFAM, "%s%s", got, ref->has_xfam ? ", as pinned" : ", not pinned");
	return 0;
}

/* The PCK chain: verified, or the one verified last time. 0, -1 (failed, in v) or -ENOMEM. */
static int pck_chain(struct tdx_verifier *tv, const struct tdx_quote *q, struct verdict *v)
{
	if (tv->pem && tv->pem_len == q->pck_chain_pem.len &&
	    memcmp(tv->pem, q->pck_chain_pem.p, tv->pem_len) == 0) {
		verdict_pass(v, CHECK_CERTIFICATES, "cached");
		verdict_pass(v, CHECK_ROOT_PINNED, "cached");
		verdict_pass(v, CHECK_CHAIN, "cached");
		verdict_pass(v, CHECK_VALIDITY, "cached");
		return 0;
	}
	cache_clear(tv);
	if (chain_verify(tv, q, v) < 0) {
		cache_clear(tv);
		return -1;
	}
	tv->pem = malloc(q->pck_chain_pem.len);
	if (!tv->pem) {
		cache_clear(tv);
		return -ENOMEM;
	}
	memcpy(tv->pem, q->pck_chain_pem.p, q->pck_chain_pem.len);
	tv->pem_len = q->pck_chain_pem.len;
	return 0;
}

/* The quote's attestation key as a P-256 key (kept in tv for the next quote). 0 or -1. */
static int attestation_key(struct tdx_verifier *tv, const struct tdx_quote *q, EVP_PKEY **ak,
			   struct verdict *v)
{
	if (tv->ak && memcmp(tv->ak_xy, q->attestation_key, 64) == 0) {
		*ak = tv->ak;
	} else {
		EVP_PKEY_free(tv->ak);
		tv->ak = NULL;
		if (p256_key_from_xy(q->attestation_key, ak) < 0)
			return verdict_fail(v, CHECK_KEY_TYPE,
					    "attestation key is not a P-256 point");
		tv->ak = *ak;
		memcpy(tv->ak_xy, q->attestation_key, 64);
	}
	verdict_pass(v, CHECK_KEY_TYPE, "P-256 PCK chain and attestation key");
	return 0;
}

/* The QE report: signed by the PCK, binding the attestation key. 0, -1 or -ENOMEM. */
static int qe_report_check(const struct tdx_verifier *tv, const struct tdx_quote *q,
			   struct verdict *v)
{
	uint8_t digest[SHA256_DIGEST_LENGTH], expect[64] = { 0 };
	EVP_MD_CTX *md;

	if (ecdsa_verify_raw(tv->leaf_key, EVP_sha256(), q->qe_report_raw, SGX_REPORT_BODY_SIZE,
			     q->qe_report_signature, q->qe_report_signature + 32, 32) < 0)
		return verdict_fail(v, CHECK_QE_SIGNATURE,
				    "QE report signature does not verify with the PCK");
	verdict_pass(v, CHECK_QE_SIGNATURE, "ECDSA P-256 by the PCK");

	/* QE report_data = SHA-256(attestation key || QE auth data) || 32 zero bytes. */
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, q->attestation_key, 64) != 1 ||
	    EVP_DigestUpdate(md, q->qe_auth_data.p, q->qe_auth_data.len) != 1 ||
	    EVP_DigestFinal_ex(md, digest, NULL) != 1) {
		EVP_MD_CTX_free(md);
		return -ENOMEM;
	}
	EVP_MD_CTX_free(md);
	memcpy(expect, digest, sizeof(digest));
	if (CRYPTO_memcmp(expect, q->qe_report.report_data, 64) != 0)
		return verdict_fail(v, CHECK_QE_REPORT_DATA,
				    "QE report_data does not bind the attestation key");
	verdict_pass(v, CHECK_QE_REPORT_DATA, "binds the attestation key");
	return 0;
}

/* The TCB level from the collateral, when there is any. 0 or -1. */
static int tcb_level(struct tdx_verifier *tv, const struct tdx_quote *q, struct tdx_tcb *t,
		     struct verdict *v)
{
	time_t now = tv->now ? tv->now : time(NULL);

	if (!tv->collateral)
		return 0;
	return tdx_collateral_status(tv->collateral, tv->chain, NULL, &tv->pck, q, now, t, v);
}

int tdx_verify_genuine(struct tdx_verifier *tv, const uint8_t *buf, size_t len, struct tdx_quote *q,
		       struct tdx_tcb *t, struct verdict *v)
{
	EVP_PKEY *ak = NULL;
	int r;

	memset(t, 0, sizeof(*t));
	verdict_init(v, PLATFORM_TDX);
	if (tdx_quote_parse(buf, len, q, v) < 0)
		return 0;
	r = pck_chain(tv, q, v);
	if (r == 0 && (r = attestation_key(tv, q, &ak, v)) == 0)
		r = qe_report_check(tv, q, v);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	if (ecdsa_verify_raw(ak, EVP_sha256(), q->signed_region.p, q->signed_region.len,
			     q->signature, q->signature + 32, 32) < 0) {
		verdict_fail(v, CHECK_SIGNATURE,
			     "quote signature does not verify with the "
			     "attestation key");
		return 0;
	}
	verdict_pass(v, CHECK_SIGNATURE, "ECDSA P-256 by the attestation key");
	tcb_level(tv, q, t, v);
	return 0;
}

int tdx_verify_match(const struct tdx_quote *q, const struct tdx_tcb *t,
		     const struct tdx_reference *ref, const uint8_t *report_data, struct verdict *v)
{
	struct tdx_reference defaults = { .accepted_tcb = TCB_UP_TO_DATE };

	if (!ref)
		ref = &defaults;
	if (check_attributes(q, ref, v) < 0 || tdx_tcb_accept(t, ref->accepted_tcb, v) < 0 ||
	    check_reference(q, ref, report_data, v) < 0)
		return -1;
	return 0;
}

int tdx_verify(struct tdx_verifier *tv, const uint8_t *buf, size_t len,
	       const struct tdx_reference *ref, const uint8_t *report_data, struct tdx_quote *q,
	       struct verdict *v)
{
	struct tdx_tcb t;
	int r = tdx_verify_genuine(tv, buf, len, q, &t, v);

	if (r < 0 || !verdict_ok(v))
		return r;
	tdx_verify_match(q, &t, ref, report_data, v);
	return 0;
}
