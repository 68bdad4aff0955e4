/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX collateral as Intel's Provisioning Certification Service (PCS v4)
 * serves it: TCB info, QE identity, their issuer chain, and the CRLs of the
 * PCK chain. Formats: Intel "PCS API v4" (TDX TCB Info v3, Enclave Identity
 * v2); TCB status: Intel "TDX DCAP Quote Verification Library" (QVL),
 * TCB level matching for TDX.
 *
 * Files in the collateral directory:
 *   tcbinfo.json          {"tcbInfo": {...}, "signature": hex}
 *   qe-identity.json      {"enclaveIdentity": {...}, "signature": hex}
 *   tcb-signing-chain.pem Intel SGX TCB Signing certificate and root
 *                         (the TCB-Info-Issuer-Chain response header)
 *   pckcrl                CRL of the PCK CA (PEM or DER), optional
 *   rootcrl.der           CRL of the root CA (PEM or DER), optional
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "measurement/tdx_internal.h"

struct signed_json {
	uint8_t *text; /* the whole file */
	size_t len;
	struct span body; /* the raw bytes of the signed object */
	cJSON *root;
	const cJSON *obj;
	uint8_t sig[64];
};

struct tdx_collateral {
	struct signed_json tcb, qe;
	STACK_OF(X509) *signing_chain;
	X509_CRL *pck_crl, *root_crl;
};

static void signed_json_free(struct signed_json *s)
{
	free(s->text);
	cJSON_Delete(s->root);
	memset(s, 0, sizeof(*s));
}

void tdx_collateral_free(struct tdx_collateral *c)
{
	if (!c)
		return;
	signed_json_free(&c->tcb);
	signed_json_free(&c->qe);
	sk_X509_pop_free(c->signing_chain, X509_free);
	X509_CRL_free(c->pck_crl);
	X509_CRL_free(c->root_crl);
	free(c);
}

/*
 * The signature covers the object's bytes exactly as served. Find the
 * value of the top-level member `key` in the raw text by scanning JSON
 * tokens (strings may hold braces), after cJSON has validated the whole.
 */
static int raw_member(const char *t, size_t n, const char *key, struct span *out)
{
	size_t i = 0, klen = strlen(key);
	int depth = 0;

	while (i < n) {
		char c = t[i];

		if (c == '"') {
			size_t start = ++i;

			while (i < n && t[i] != '"')
				i += t[i] == '\\' ? 2 : 1;
			if (i >= n)
				return -EBADMSG;
			i++;
			if (depth == 1 && i - 1 - start == klen &&
			    memcmp(t + start, key, klen) == 0) {
				size_t vstart;
				int d = 0;

				while (i < n && (isspace((unsigned char)t[i]) || t[i] == ':'))
					i++;
				if (i >= n || t[i] != '{')
					return -EBADMSG;
				vstart = i;
				for (; i < n; i++) {
					if (t[i] == '"') {
						for (i++; i < n && t[i] != '"';)
							i += t[i] == '\\' ? 2 : 1;
					} else if (t[i] == '{') {
						d++;
					} else if (t[i] == '}' && --d == 0) {
						*out = span_make(t + vstart, i + 1 - vstart);
						return 0;
					}
				}
				return -EBADMSG;
			}
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		i++;
	}
	return -ENOENT;
}

static int signed_json_load(const char *dir, const char *const *names, const char *member,
			    struct signed_json *s, char *err, size_t errlen)
{
	const char *sig;
	const char *name = names[0];
	int r = -ENOENT;

	for (size_t i = 0; names[i] && r == -ENOENT; i++) {
		name = names[i];
		r = file_read_at(dir, name, CVM_CAP_COLLATERAL, &s->text, &s->len);
	}
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(-r));
		return r;
	}
	if (json_parse((const char *)s->text, s->len, &s->root) < 0 ||
	    !(s->obj = cJSON_GetObjectItemCaseSensitive(s->root, member)) ||
	    !cJSON_IsObject(s->obj) || json_get_string(s->root, "signature", &sig) < 0 ||
	    hex_decode_exact(sig, s->sig, 64) < 0 ||
	    raw_member((const char *)s->text, s->len, member, &s->body) < 0) {
		snprintf(err, errlen, "%s/%s: not a signed %s document", dir, name, member);
		return -EBADMSG;
	}
	return 0;
}

static int load_crl(const char *dir, const char *name, X509_CRL **out, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	const unsigned char *p;
	size_t len;
	int r = file_read_at(dir, name, CVM_CAP_COLLATERAL, &buf, &len);

	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(-r));
		return r;
	}
	if (len > 11 && memcmp(buf, "-----BEGIN ", 11) == 0) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);

		*out = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
	} else {
		p = buf;
		*out = d2i_X509_CRL(NULL, &p, (long)len);
	}
	ERR_clear_error();
	if (!*out) {
		snprintf(err, errlen, "%s/%s: not a CRL", dir, name);
		return -EBADMSG;
	}
	return 0;
}

int tdx_collateral_load(const char *dir, struct tdx_collateral **out, char *err, size_t errlen)
{
	static const char *const tcb_names[] = { "tcbinfo.json", "tcb_info.json", NULL };
	static const char *const qe_names[] = { "qe-identity.json", "qe_identity.json", NULL };
	struct tdx_collateral *c = calloc(1, sizeof(*c));
	_cleanup_free_ uint8_t *pem = NULL;
	size_t len;
	int r;

	if (!c)
		return -ENOMEM;
	r = signed_json_load(dir, tcb_names, "tcbInfo", &c->tcb, err, errlen);
	if (r == 0)
		r = signed_json_load(dir, qe_names, "enclaveIdentity", &c->qe, err, errlen);
	if (r == 0) {
		r = file_read_at(dir, "tcb-signing-chain.pem", CVM_CAP_CERT, &pem, &len);
		if (r < 0)
			snprintf(err, errlen, "%s/tcb-signing-chain.pem: %s", dir, strerror(-r));
		else if ((r = x509_load_pem_chain(pem, len, &c->signing_chain)) < 0)
			snprintf(err, errlen, "%s/tcb-signing-chain.pem: no PEM certificate", dir);
	}
	if (r == 0)
		r = load_crl(dir, "pckcrl", &c->pck_crl, err, errlen);
	if (r == 0)
		r = load_crl(dir, "rootcrl.der", &c->root_crl, err, errlen);
	if (r < 0) {
		tdx_collateral_free(c);
		return r;
	}
	*out = c;
	return 0;
}

/* ---- checks ---- */

static int json_date(const cJSON *o, const char *key, int64_t *t)
{
	const char *s;

	if (json_get_string(o, key, &s) < 0)
		return -EBADMSG;
	return rfc3339_parse(s, t);
}

enum signed_problem {
	SIGNED_OK,
	SIGNED_CHAIN,	  /* the issuer chain does not lead to the root, or is out of date */
	SIGNED_SIGNATURE, /* the signature does not verify */
	SIGNED_DATES,	  /* no issueDate or nextUpdate */
	SIGNED_STALE,	  /* not current */
};

/* Signature, issuer chain to root, and dates of one document. */
static enum signed_problem signed_check(struct tdx_collateral *c, struct signed_json *s, X509 *root,
					time_t now)
{
	X509 *signer = sk_X509_value(c->signing_chain, 0);
	X509 *top = sk_X509_value(c->signing_chain, sk_X509_num(c->signing_chain) - 1);
	int64_t issued, next;

	if (!signer || X509_cmp(top, root) != 0 || !x509_signed_by(signer, root) ||
	    x509_check_time(signer, now) < 0)
		return SIGNED_CHAIN;
	if (ecdsa_verify_raw(X509_get0_pubkey(signer), EVP_sha256(), s->body.p, s->body.len, s->sig,
			     s->sig + 32, 32) < 0)
		return SIGNED_SIGNATURE;
	if (json_date(s->obj, "issueDate", &issued) < 0 ||
	    json_date(s->obj, "nextUpdate", &next) < 0)
		return SIGNED_DATES;
	if ((int64_t)now < issued || (int64_t)now >= next)
		return SIGNED_STALE;
	return SIGNED_OK;
}

static int check_signed(struct tdx_collateral *c, struct signed_json *s, X509 *root, time_t now,
			const char *what, struct verdict *v)
{
	switch (signed_check(c, s, root, now)) {
	case SIGNED_OK:
		return 0;
	case SIGNED_CHAIN:
		return verdict_fail(v, CHECK_COLLATERAL,
				    "%s issuer chain does not lead to the PCK chain's root, or is "
				    "out of date",
				    what);
	case SIGNED_SIGNATURE:
		return verdict_fail(v, CHECK_COLLATERAL, "%s signature does not verify", what);
	case SIGNED_DATES:
		return verdict_fail(v, CHECK_COLLATERAL, "%s lacks issueDate or nextUpdate", what);
	default:
		return verdict_fail(v, CHECK_COLLATERAL,
				    "%s is not current at the verification time", what);
	}
}

static int check_crl(X509_CRL *crl, X509 *issuer, X509 *subject, time_t now, const char *what,
		     struct verdict *v)
{
	X509_REVOKED *rev = NULL;
	EVP_PKEY *k = X509_get0_pubkey(issuer);

	if (!crl)
		return 0;
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0 || !k ||
	    X509_CRL_verify(crl, k) != 1) {
		ERR_clear_error();
		return verdict_fail(v, CHECK_REVOCATION, "%s is not signed by its issuer", what);
	}
	if (X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &now) > 0 ||
	    !X509_CRL_get0_nextUpdate(crl) ||
	    X509_cmp_time(X509_CRL_get0_nextUpdate(crl), &now) < 0)
		return verdict_fail(v, CHECK_REVOCATION, "%s is not current", what);
	if (X509_CRL_get0_by_cert(crl, &rev, subject) == 1)
		return verdict_fail(v, CHECK_REVOCATION, "certificate revoked by the %s", what);
	return 0;
}

static const char *const status_names[] = {
	"UpToDate",
	"SWHardeningNeeded",
	"ConfigurationNeeded",
	"ConfigurationAndSWHardeningNeeded",
	"OutOfDate",
	"OutOfDateConfigurationNeeded",
	"Revoked",
};

/* Position in status_names, which runs from best to worst; -1 when unknown. */
static int status_rank(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(status_names); i++)
		if (strcmp(s, status_names[i]) == 0)
			return (int)i;
	return -1;
}

static int svn_array(const cJSON *a, uint8_t out[16])
{
	const cJSON *e;
	int i = 0;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 16)
		return -EBADMSG;
	cJSON_ArrayForEach(e, a) {
		uint64_t x;

		if (json_get_u64(e, "svn", &x) < 0 || x > 255)
			return -EBADMSG;
		out[i++] = (uint8_t)x;
	}
	return 0;
}

static bool hex_eq(const char *hex, const uint8_t *bytes, size_t n)
{
	uint8_t buf[64];

	return n <= sizeof(buf) && hex && hex_decode_exact(hex, buf, n) == 0 &&
	       memcmp(buf, bytes, n) == 0;
}

/* Masked comparison: (value & mask) == (expected & mask), expected and mask as hex. */
static bool masked_eq(const cJSON *o, const char *key, const char *mask_key, const uint8_t *value,
		      size_t n)
{
	uint8_t want[16], mask[16];
	const char *w, *m;

	if (n > 16 || json_get_string(o, key, &w) < 0 || json_get_string(o, mask_key, &m) < 0 ||
	    hex_decode_exact(w, want, n) < 0 || hex_decode_exact(m, mask, n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((value[i] & mask[i]) != (want[i] & mask[i]))
			return false;
	return true;
}

/* TCB info describes this platform: TDX, the PCK's FMSPC and PCE-ID. */
static int tcb_info_matches(const cJSON *info, const struct pck_info *pck, struct verdict *v)
{
	const char *s = NULL;
	char fmspc_hex[13];

	hex_encode(pck->fmspc, 6, fmspc_hex);
	if (json_get_string(info, "id", &s) < 0 || strcmp(s, "TDX") != 0)
		return verdict_fail(v, CHECK_COLLATERAL, "TCB info is not for TDX");
	if (json_get_string(info, "fmspc", &s) < 0 || !hex_eq(s, pck->fmspc, 6))
		return verdict_fail(v, CHECK_COLLATERAL, "TCB info is for FMSPC %s, the PCK for %s",
				    s ? s : "(none)", fmspc_hex);
	if (json_get_string(info, "pceId", &s) < 0 || !hex_eq(s, pck->pce_id, 2))
		return verdict_fail(v, CHECK_COLLATERAL, "TCB info PCE-ID differs from the PCK's");
	return 0;
}

/* The TDX module and TCB level of the quote: Intel QVL TDX TCB status. */
static int tcb_status(const cJSON *info, const struct pck_info *pck, const struct tdx_quote *q,
		      int *rank, struct verdict *v)
{
	const cJSON *levels = cJSON_GetObjectItemCaseSensitive(info, "tcbLevels"), *lvl;
	const cJSON *module = cJSON_GetObjectItemCaseSensitive(info, "tdxModule");
	const uint8_t *svn = q->body.tee_tcb_svn;
	const char *s;

	if (!module || json_get_string(module, "mrsigner", &s) < 0 ||
	    !hex_eq(s, q->body.mrsignerseam, 48) ||
	    !masked_eq(module, "attributes", "attributesMask", q->body.seam_attributes, 8))
		return verdict_fail(v, CHECK_TCB_STATUS,
				    "TDX module signer or attributes differ from the TCB info");

	cJSON_ArrayForEach(lvl, levels) {
		const cJSON *tcb = cJSON_GetObjectItemCaseSensitive(lvl, "tcb");
		uint8_t sgx[16], tdx[16];
		uint64_t pcesvn;
		bool ok = true;

		if (svn_array(cJSON_GetObjectItemCaseSensitive(tcb, "sgxtcbcomponents"), sgx) < 0 ||
		    svn_array(cJSON_GetObjectItemCaseSensitive(tcb, "tdxtcbcomponents"), tdx) < 0 ||
		    json_get_u64(tcb, "pcesvn", &pcesvn) < 0 ||
		    json_get_string(lvl, "tcbStatus", &s) < 0 || status_rank(s) < 0)
			return verdict_fail(v, CHECK_COLLATERAL, "malformed TCB level");
		for (int i = 0; i < 16; i++)
			ok &= pck->comp_svn[i] >= sgx[i];
		ok &= pck->pce_svn >= pcesvn;
		/*
		 * With TEE_TCB_SVN[1] > 0 the module's own version is judged by
		 * tdxModuleIdentities; components 0 and 1 are then skipped.
		 */
		for (int i = svn[1] > 0 ? 2 : 0; i < 16; i++)
			ok &= svn[i] >= tdx[i];
		if (ok) {
			*rank = status_rank(s);
			return 0;
		}
	}
	return verdict_fail(v, CHECK_TCB_STATUS,
			    "no TCB level matches (PCESVN %u, TEE_TCB_SVN %02x%02x%02x...)",
			    pck->pce_svn, svn[0], svn[1], svn[2]);
}

/* tdxModuleIdentities: the identity "TDX_<major>" for TEE_TCB_SVN[1] > 0. */
static int module_status(const cJSON *info, const struct tdx_quote *q, int *rank, struct verdict *v)
{
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(info, "tdxModuleIdentities"), *id, *lvl;
	const uint8_t *svn = q->body.tee_tcb_svn;
	char want[16];
	const char *s;

	*rank = 0;
	if (svn[1] == 0 || !ids)
		return 0;
	snprintf(want, sizeof(want), "TDX_%02X", svn[1]);
	cJSON_ArrayForEach(id, ids) {
		if (json_get_string(id, "id", &s) < 0 || strcmp(s, want) != 0)
			continue;
		if (json_get_string(id, "mrsigner", &s) < 0 ||
		    !hex_eq(s, q->body.mrsignerseam, 48) ||
		    !masked_eq(id, "attributes", "attributesMask", q->body.seam_attributes, 8))
			return verdict_fail(v, CHECK_TCB_STATUS, "%s signer or attributes differ",
					    want);
		cJSON_ArrayForEach(lvl, cJSON_GetObjectItemCaseSensitive(id, "tcbLevels")) {
			uint64_t isvsvn;

			if (json_get_u64(cJSON_GetObjectItemCaseSensitive(lvl, "tcb"), "isvsvn",
					 &isvsvn) < 0 ||
			    json_get_string(lvl, "tcbStatus", &s) < 0 || status_rank(s) < 0)
				return verdict_fail(v, CHECK_COLLATERAL, "malformed %s level",
						    want);
			if (svn[0] >= isvsvn) {
				*rank = status_rank(s);
				return 0;
			}
		}
		return verdict_fail(v, CHECK_TCB_STATUS, "no %s level matches SVN %u", want,
				    svn[0]);
	}
	return verdict_fail(v, CHECK_TCB_STATUS, "TCB info has no module identity %s", want);
}

/* Intel QE identity against the QE report; its TCB status by isvsvn. */
static int qe_identity(const cJSON *id, const struct tdx_quote *q, int *rank, struct verdict *v)
{
	const struct sgx_report_body *qe = &q->qe_report;
	const cJSON *lvl;
	const char *s;
	uint64_t prodid;
	uint8_t misc[4];

	misc[0] = (uint8_t)qe->misc_select;
	misc[1] = (uint8_t)(qe->misc_select >> 8);
	misc[2] = (uint8_t)(qe->misc_select >> 16);
	misc[3] = (uint8_t)(qe->misc_select >> 24);
	if (json_get_string(id, "id", &s) < 0 || strcmp(s, "TD_QE") != 0)
		return verdict_fail(v, CHECK_QE_IDENTITY, "QE identity is not for TD_QE");
	if (json_get_string(id, "mrsigner", &s) < 0 || !hex_eq(s, qe->mr_signer, 32))
		return verdict_fail(v, CHECK_QE_IDENTITY, "QE MRSIGNER is not Intel's");
	if (json_get_u64(id, "isvprodid", &prodid) < 0 || prodid != qe->isv_prod_id)
		return verdict_fail(v, CHECK_QE_IDENTITY, "QE ISVPRODID %u is not %llu",
				    qe->isv_prod_id, (unsigned long long)prodid);
	/* miscselect is a 32-bit number printed big-endian in hex. */
	{
		uint8_t be[4] = { misc[3], misc[2], misc[1], misc[0] };

		if (!masked_eq(id, "miscselect", "miscselectMask", be, 4) ||
		    !masked_eq(id, "attributes", "attributesMask", qe->attributes, 16))
			return verdict_fail(v, CHECK_QE_IDENTITY,
					    "QE MISCSELECT or ATTRIBUTES differ under their masks");
	}
	cJSON_ArrayForEach(lvl, cJSON_GetObjectItemCaseSensitive(id, "tcbLevels")) {
		uint64_t isvsvn;

		if (json_get_u64(cJSON_GetObjectItemCaseSensitive(lvl, "tcb"), "isvsvn", &isvsvn) <
			    0 ||
		    json_get_string(lvl, "tcbStatus", &s) < 0 || status_rank(s) < 0)
			return verdict_fail(v, CHECK_COLLATERAL, "malformed QE identity level");
		if (qe->isv_svn >= isvsvn) {
			*rank = status_rank(s);
			verdict_pass(v, CHECK_QE_IDENTITY, "TD_QE, ISVSVN %u: %s", qe->isv_svn, s);
			return 0;
		}
	}
	return verdict_fail(v, CHECK_QE_IDENTITY, "QE ISVSVN %u is below every level", qe->isv_svn);
}

/*
 * The platform's status with the QE's folded in, as Intel's QVL converges
 * them (QuoteVerification, convergeTcbStatusWithQeTcbStatus): an OutOfDate
 * QE makes UpToDate and SWHardeningNeeded OutOfDate, and the configuration
 * statuses OutOfDateConfigurationNeeded; a Revoked QE makes it Revoked.
 * Enclave Identity v2 gives a QE no other status; should one come, the
 * worse of the two counts, so that no QE status is ever ignored.
 */
static int converge_with_qe(int rank, int qe_rank)
{
	const int ood = status_rank("OutOfDate"), revoked = status_rank("Revoked");

	if (qe_rank == status_rank("UpToDate"))
		return rank;
	if (qe_rank == revoked)
		return revoked;
	if (qe_rank == ood) {
		if (rank == status_rank("UpToDate") || rank == status_rank("SWHardeningNeeded"))
			return ood;
		if (rank == status_rank("ConfigurationNeeded") ||
		    rank == status_rank("ConfigurationAndSWHardeningNeeded"))
			return status_rank("OutOfDateConfigurationNeeded");
		return rank;
	}
	return qe_rank > rank ? qe_rank : rank;
}

int tdx_collateral_status(struct tdx_collateral *c, STACK_OF(X509) *chain, X509 *pinned_root,
			  const struct pck_info *pck, const struct tdx_quote *q, time_t now,
			  struct tdx_tcb *t, struct verdict *v)
{
	X509 *root = pinned_root ? pinned_root : sk_X509_value(chain, 2);
	int tcb_rank = 6, mod_rank = 6, qe_rank = 6, rank; /* Revoked until shown otherwise */

	if (tcb_info_matches(c->tcb.obj, pck, v) < 0 ||
	    check_signed(c, &c->tcb, root, now, "TCB info", v) < 0 ||
	    check_signed(c, &c->qe, root, now, "QE identity", v) < 0)
		return -1;
	verdict_pass(v, CHECK_COLLATERAL, "TCB info and QE identity signed by Intel and current");

	if (check_crl(c->pck_crl, sk_X509_value(chain, 1), sk_X509_value(chain, 0), now, "PCK CRL",
		      v) < 0 ||
	    check_crl(c->root_crl, root, sk_X509_value(chain, 1), now, "root CA CRL", v) < 0)
		return -1;
	verdict_pass(v, CHECK_REVOCATION, "%s",
		     c->pck_crl || c->root_crl ? "no certificate of the chain revoked"
					       : "no CRL given: revocation not checked");

	if (qe_identity(c->qe.obj, q, &qe_rank, v) < 0 ||
	    tcb_status(c->tcb.obj, pck, q, &tcb_rank, v) < 0 ||
	    module_status(c->tcb.obj, q, &mod_rank, v) < 0)
		return -1;
	rank = tcb_rank;
	if (mod_rank > rank)
		rank = mod_rank;
	t->checked = true;
	t->rank = converge_with_qe(rank, qe_rank);
	t->qe_rank = qe_rank;
	return 0;
}

int tdx_tcb_accept(const struct tdx_tcb *t, unsigned accepted, struct verdict *v)
{
	if (!t->checked) {
		v->tcb_status_checked = false;
		verdict_pass(v, CHECK_TCB_STATUS, "TCB status not checked (no --collateral)");
		return 0;
	}
	v->tcb_status_checked = true;
	snprintf(v->tcb_status, sizeof(v->tcb_status), "%s", status_names[t->rank]);
	snprintf(v->qe_tcb_status, sizeof(v->qe_tcb_status), "%s", status_names[t->qe_rank]);
	if (!(accepted & (1u << t->rank)))
		return verdict_fail(v, CHECK_TCB_STATUS,
				    "TCB status %s (QE identity %s) is not accepted; the reference "
				    "names the others it accepts (tdx.accepted_tcb_status)",
				    status_names[t->rank], status_names[t->qe_rank]);
	verdict_pass(v, CHECK_TCB_STATUS, "%s (QE identity %s)", status_names[t->rank],
		     status_names[t->qe_rank]);
	return 0;
}

/* ---- a directory on its own (cvm collateral fetch) ---- */

static int validate_doc(struct tdx_collateral *c, struct signed_json *s, X509 *root, time_t now,
			const char *name, char *err, size_t errlen)
{
	switch (signed_check(c, s, root, now)) {
	case SIGNED_OK:
		return 0;
	case SIGNED_CHAIN:
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_CHAIN: %s: its issuer chain does not lead to the "
				 "root, or is out of date",
				 name);
	case SIGNED_SIGNATURE:
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_SIGNATURE: %s: the signature does not verify with "
				 "the TCB signing certificate",
				 name);
	case SIGNED_DATES:
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_FORMAT: %s: no issueDate or nextUpdate", name);
	default:
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_STALE: %s: not current (issueDate..nextUpdate)",
				 name);
	}
}

static int validate_crl(X509_CRL *crl, X509 *issuer, time_t now, const char *name, char *err,
			size_t errlen)
{
	EVP_PKEY *k = X509_get0_pubkey(issuer);
	char cn[80];

	x509_cn(issuer, cn, sizeof(cn));
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0 || !k ||
	    X509_CRL_verify(crl, k) != 1) {
		ERR_clear_error();
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_SIGNATURE: %s is not signed by %s", name, cn);
	}
	if (X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &now) > 0 ||
	    !X509_CRL_get0_nextUpdate(crl) ||
	    X509_cmp_time(X509_CRL_get0_nextUpdate(crl), &now) < 0)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_STALE: %s: not current (thisUpdate..nextUpdate)",
				 name);
	return 0;
}

/* A certificate valid now, signed by issuer, not on the root's CRL. */
static int validate_cert(X509 *cert, X509 *issuer, X509_CRL *root_crl, time_t now, const char *name,
			 char *err, size_t errlen)
{
	X509_REVOKED *rev = NULL;
	char cn[80];

	x509_cn(cert, cn, sizeof(cn));
	if (!x509_signed_by(cert, issuer))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_CHAIN: %s: %s is not signed by the root", name, cn);
	if (x509_check_time(cert, now) < 0)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_STALE: %s: %s is not valid now", name, cn);
	if (root_crl && X509_CRL_get0_by_cert(root_crl, &rev, cert) == 1)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_REVOKED: %s: the root CA CRL revokes %s", name, cn);
	return 0;
}

static int validate_set(struct tdx_collateral *c, STACK_OF(X509) *roots, STACK_OF(X509) *crl_chain,
			const uint8_t fmspc[6], time_t now, char *err, size_t errlen)
{
	X509 *root, *signer, *pck_ca;
	const char *s;
	char cn[80];
	int r;

	if (sk_X509_num(c->signing_chain) != 2)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_CHAIN: tcb-signing-chain.pem holds %d certificates, "
				 "not 2 (TCB signing, root)",
				 sk_X509_num(c->signing_chain));
	signer = sk_X509_value(c->signing_chain, 0);
	root = sk_X509_value(c->signing_chain, 1);
	x509_cn(root, cn, sizeof(cn));
	if (!tdx_root_trusted(root, roots) || !x509_signed_by(root, root))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_ROOT: tcb-signing-chain.pem ends in '%s', not the "
				 "Intel SGX Root CA",
				 cn);
	if (x509_check_time(root, now) < 0)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_STALE: the root '%s' is not valid now", cn);
	if ((r = validate_crl(c->root_crl, root, now, "rootcrl.der", err, errlen)) < 0 ||
	    (r = validate_cert(signer, root, c->root_crl, now, "tcb-signing-chain.pem", err,
			       errlen)) < 0 ||
	    (r = validate_doc(c, &c->tcb, root, now, "tcbinfo.json", err, errlen)) < 0 ||
	    (r = validate_doc(c, &c->qe, root, now, "qe-identity.json", err, errlen)) < 0)
		return r;
	if (json_get_string(c->tcb.obj, "id", &s) < 0 || strcmp(s, "TDX") != 0)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_CONTENT: tcbinfo.json is not a TDX TCB info");
	if (fmspc && (json_get_string(c->tcb.obj, "fmspc", &s) < 0 || !hex_eq(s, fmspc, 6)))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_CONTENT: tcbinfo.json is for another FMSPC");
	if (json_get_string(c->qe.obj, "id", &s) < 0 || strcmp(s, "TD_QE") != 0)
		return set_error(
			err, errlen, -EKEYREJECTED,
			"E_COLLATERAL_CONTENT: qe-identity.json is not the TD QE's identity");
	if (sk_X509_num(crl_chain) != 2 || X509_cmp(sk_X509_value(crl_chain, 1), root) != 0)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_CHAIN: pckcrl-issuer-chain.pem is not a PCK CA and "
				 "the same root");
	pck_ca = sk_X509_value(crl_chain, 0);
	if (X509_check_ca(pck_ca) < 1)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_CHAIN: pckcrl-issuer-chain.pem: not a CA");
	if ((r = validate_cert(pck_ca, root, c->root_crl, now, "pckcrl-issuer-chain.pem", err,
			       errlen)) < 0)
		return r;
	return validate_crl(c->pck_crl, pck_ca, now, "pckcrl", err, errlen);
}

int tdx_collateral_validate(const char *dir, const char *test_roots_pem, const uint8_t fmspc[6],
			    time_t now, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *pem = NULL;
	STACK_OF(X509) *roots = NULL, *crl_chain = NULL;
	struct tdx_collateral *c = NULL;
	char why[320];
	size_t len;
	int r = 0;

	if (test_roots_pem) {
		r = file_read(test_roots_pem, CVM_CAP_CERT, &pem, &len);
		if (r == 0)
			r = x509_load_pem_chain(pem, len, &roots);
		if (r < 0)
			return set_error(err, errlen, -EINVAL, "%s: not readable certificates",
					 test_roots_pem);
		free(pem);
		pem = NULL;
	}
	r = tdx_collateral_load(dir, &c, why, sizeof(why));
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		r = set_error(err, errlen, -EKEYREJECTED, "E_COLLATERAL_FORMAT: %s", why);
		goto out;
	}
	if (!c->pck_crl || !c->root_crl) {
		r = set_error(err, errlen, -EKEYREJECTED, "E_COLLATERAL_FORMAT: %s: no %s", dir,
			      c->pck_crl ? "rootcrl.der" : "pckcrl");
		goto out;
	}
	r = file_read_at(dir, "pckcrl-issuer-chain.pem", CVM_CAP_CERT, &pem, &len);
	if (r == 0)
		r = x509_load_pem_chain(pem, len, &crl_chain);
	if (r < 0) {
		r = set_error(err, errlen, -EKEYREJECTED,
			      "E_COLLATERAL_FORMAT: %s/pckcrl-issuer-chain.pem: %s", dir,
			      r == -EBADMSG ? "no PEM certificate" : strerror(-r));
		goto out;
	}
	r = validate_set(c, roots, crl_chain, fmspc, now, err, errlen);
out:
	ERR_clear_error();
	sk_X509_pop_free(roots, X509_free);
	sk_X509_pop_free(crl_chain, X509_free);
	tdx_collateral_free(c);
	return r;
}
