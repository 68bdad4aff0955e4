/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TPM 2.0 quotes: TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE and the
 * TPMT_SIGNATURE over it (TCG TPM 2.0 Library, Part 2, §10.12 and §11.3).
 * TPM structures are big-endian.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "measurement/measurement.h"

#define TPM_GENERATED_VALUE 0xff544347u
#define TPM_ST_ATTEST_QUOTE 0x8018
#define TPM_ALG_RSASSA 0x0014
#define TPM_ALG_RSAPSS 0x0016
#define TPM_ALG_ECDSA 0x0018

static int be16(struct span *s, uint16_t *v)
{
	uint8_t b[2];

	if (span_copy(s, b, 2) < 0)
		return -EBADMSG;
	*v = (uint16_t)(b[0] << 8 | b[1]);
	return 0;
}

static int be32(struct span *s, uint32_t *v)
{
	uint16_t hi, lo;

	if (be16(s, &hi) < 0 || be16(s, &lo) < 0)
		return -EBADMSG;
	*v = (uint32_t)hi << 16 | lo;
	return 0;
}

static int be64(struct span *s, uint64_t *v)
{
	uint32_t hi, lo;

	if (be32(s, &hi) < 0 || be32(s, &lo) < 0)
		return -EBADMSG;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/* A TPM2B: a 16-bit size, then at most cap bytes. */
static int tpm2b(struct span *s, size_t cap, struct span *out)
{
	uint16_t n;

	if (be16(s, &n) < 0 || n > cap || span_take(s, n, out) < 0)
		return -EBADMSG;
	return 0;
}

static int parse_attest(const uint8_t *msg, size_t len, struct tpm_quote *q, struct verdict *v)
{
	struct span s = span_make(msg, len), name, extra, digest;
	uint32_t magic, count;
	uint16_t type;
	uint8_t safe;

	if (be32(&s, &magic) < 0 || magic != TPM_GENERATED_VALUE)
		return verdict_fail(v, CHECK_FORMAT, "quote magic is not TPM_GENERATED_VALUE");
	if (be16(&s, &type) < 0 || type != TPM_ST_ATTEST_QUOTE)
		return verdict_fail(v, CHECK_FORMAT, "attestation type is not TPM_ST_ATTEST_QUOTE");
	if (tpm2b(&s, 2 + 64, &name) < 0 || tpm2b(&s, 64, &extra) < 0 || be64(&s, &q->clock) < 0 ||
	    be32(&s, &q->reset_count) < 0 || be32(&s, &q->restart_count) < 0 ||
	    span_u8(&s, &safe) < 0 || be64(&s, &q->firmware_version) < 0 || be32(&s, &count) < 0)
		return verdict_fail(v, CHECK_FORMAT, "quote truncated in its header");
	memcpy(q->extra_data, extra.p, extra.len);
	q->extra_len = extra.len;
	if (count != 1)
		return verdict_fail(v, CHECK_FORMAT,
				    "quote selects %u PCR banks; one (SHA-256) is supported",
				    count);
	{
		uint16_t alg;
		uint8_t size, sel[4] = { 0 };

		if (be16(&s, &alg) < 0 || span_u8(&s, &size) < 0 || size < 3 || size > 4 ||
		    span_copy(&s, sel, size) < 0)
			return verdict_fail(v, CHECK_FORMAT, "quote PCR selection malformed");
		if (alg != TPM_ALG_SHA256)
			return verdict_fail(v, CHECK_FORMAT,
					    "quote selects bank 0x%04x, not SHA-256", alg);
		q->pcr_mask = (uint32_t)sel[0] | (uint32_t)sel[1] << 8 | (uint32_t)sel[2] << 16 |
			      (uint32_t)sel[3] << 24;
		if (q->pcr_mask >> TPM_PCRS)
			return verdict_fail(v, CHECK_FORMAT, "quote selects PCRs past 23");
	}
	if (tpm2b(&s, 64, &digest) < 0 || digest.len != 32)
		return verdict_fail(v, CHECK_FORMAT, "quote PCR digest is not 32 bytes");
	memcpy(q->pcr_digest, digest.p, 32);
	if (s.len)
		return verdict_fail(v, CHECK_FORMAT, "%zu bytes after the quote", s.len);
	verdict_pass(v, CHECK_FORMAT, "TPMS_ATTEST quote, %zu bytes of qualifying data",
		     q->extra_len);
	return 0;
}

static int check_signature(const uint8_t *msg, size_t msglen, const uint8_t *sig, size_t siglen,
			   EVP_PKEY *ak, struct tpm_quote *q, struct verdict *v)
{
	struct span s = span_make(sig, siglen), a, b;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	bool ok = false;
	int base = EVP_PKEY_get_base_id(ak);

	if (be16(&s, &q->sig_alg) < 0 || be16(&s, &q->sig_hash) < 0)
		return verdict_fail(v, CHECK_SIG_ALGO, "signature truncated");
	if (q->sig_hash != TPM_ALG_SHA256)
		return verdict_fail(v, CHECK_SIG_ALGO, "signature hash 0x%04x is not SHA-256",
				    q->sig_hash);
	switch (q->sig_alg) {
	case TPM_ALG_RSASSA:
	case TPM_ALG_RSAPSS:
		if (base != EVP_PKEY_RSA || tpm2b(&s, 512, &a) < 0 || s.len)
			return verdict_fail(v, CHECK_SIG_ALGO,
					    "RSA signature malformed or AK not RSA");
		if (EVP_PKEY_get_bits(ak) < 2048)
			return verdict_fail(v, CHECK_KEY_TYPE, "RSA AK below 2048 bits");
		ctx = EVP_MD_CTX_new();
		ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, ak) == 1 &&
		     (q->sig_alg == TPM_ALG_RSASSA ||
		      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1)) &&
		     EVP_DigestVerify(ctx, a.p, a.len, msg, msglen) == 1;
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		break;
	case TPM_ALG_ECDSA: {
		uint8_t r[32] = { 0 }, sv[32] = { 0 };

		if (base != EVP_PKEY_EC || tpm2b(&s, 32, &a) < 0 || tpm2b(&s, 32, &b) < 0 || s.len)
			return verdict_fail(v, CHECK_SIG_ALGO,
					    "ECDSA signature malformed or AK not P-256");
		memcpy(r + 32 - a.len, a.p, a.len);
		memcpy(sv + 32 - b.len, b.p, b.len);
		ok = ecdsa_verify_raw(ak, EVP_sha256(), msg, msglen, r, sv, 32) == 0;
		break;
	}
	default:
		return verdict_fail(v, CHECK_SIG_ALGO, "signature algorithm 0x%04x not supported",
				    q->sig_alg);
	}
	verdict_pass(v, CHECK_SIG_ALGO, "%s with SHA-256",
		     q->sig_alg == TPM_ALG_ECDSA    ? "ECDSA"
		     : q->sig_alg == TPM_ALG_RSAPSS ? "RSASSA-PSS"
						    : "RSASSA-PKCS1-v1_5");
	if (!ok)
		return verdict_fail(v, CHECK_SIGNATURE,
				    "quote signature does not verify with the AK");
	verdict_pass(v, CHECK_SIGNATURE, "quote signed by the AK");
	return 0;
}

int tpm_quote_parse(const uint8_t *msg, size_t len, struct tpm_quote *q, struct verdict *v)
{
	memset(q, 0, sizeof(*q));
	verdict_init(v, PLATFORM_TPM);
	if (len > 1024)
		return verdict_fail(v, CHECK_FORMAT, "quote of %zu bytes is too long", len);
	return parse_attest(msg, len, q, v);
}

/* SHA-256 of the AK's SubjectPublicKeyInfo (DER): what a reference pins. */
static int ak_digest(EVP_PKEY *ak, uint8_t out[32], struct verdict *v)
{
	_cleanup_free_ uint8_t *der = NULL;
	int n = i2d_PUBKEY(ak, &der);

	if (n <= 0 || EVP_Digest(der, (size_t)n, out, NULL, EVP_sha256(), NULL) != 1)
		return verdict_fail(v, CHECK_AK, "cannot encode the AK");
	return 0;
}

static int check_ak(const uint8_t ak_sha256[32], const struct tpm_reference *ref, struct verdict *v)
{
	char seen[65];

	if (!ref || !ref->has_ak_sha256)
		return 0;
	if (memcmp(ak_sha256, ref->ak_sha256, 32)) {
		/* the AK seen, so that a verifier can tell which TPM this was */
		hex_encode(ak_sha256, 32, seen);
		return verdict_fail(v, CHECK_AK, "AK (sha256 %s) is not the pinned one", seen);
	}
	verdict_pass(v, CHECK_AK, "AK matches the pinned SHA-256");
	return 0;
}

static int check_pcr_digest(const struct tpm_quote *q, const uint8_t pcrs[TPM_PCRS][32],
			    struct verdict *v)
{
	uint8_t d[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return -ENOMEM;
	}
	for (int i = 0; i < TPM_PCRS; i++)
		if (q->pcr_mask & (1u << i))
			EVP_DigestUpdate(c, pcrs[i], 32);
	EVP_DigestFinal_ex(c, d, NULL);
	EVP_MD_CTX_free(c);
	if (memcmp(d, q->pcr_digest, 32))
		return verdict_fail(v, CHECK_PCR_DIGEST,
				    "the PCR values given do not hash to the quoted digest");
	verdict_pass(v, CHECK_PCR_DIGEST, "PCR selection 0x%06x matches the quoted digest",
		     q->pcr_mask);
	return 0;
}

/* The qualifying data, then the PCRs the reference pins. */
static int check_claims(const struct tpm_quote *q, const uint8_t pcrs[TPM_PCRS][32],
			const struct tpm_reference *ref, const uint8_t *report_data,
			struct verdict *v)
{
	if (report_data) {
		/* Trustee's TPM attester sends the first 32 bytes; earlier ones all 64. */
		if ((q->extra_len != 32 && q->extra_len != 64) ||
		    memcmp(q->extra_data, report_data, q->extra_len))
			return verdict_fail(v, CHECK_REPORT_DATA,
					    "qualifying data is not the expected report_data");
		verdict_pass(v, CHECK_REPORT_DATA,
			     "qualifying data binds the expected report_data");
	}
	for (int i = 0; ref && i < TPM_PCRS; i++) {
		char what[16];

		if (!ref->has_pcr[i])
			continue;
		if (!(q->pcr_mask & (1u << i)))
			return verdict_fail(v, CHECK_PCR, "PCR%d is not in the quote", i);
		snprintf(what, sizeof(what), "PCR%d", i);
		if (verdict_compare(v, CHECK_PCR, what, pcrs[i], ref->pcr[i], 32) < 0)
			return -1;
	}
	return 0;
}

int tpm_quote_verify(const uint8_t *msg, size_t msglen, const uint8_t *sig, size_t siglen,
		     EVP_PKEY *ak, const uint8_t pcrs[TPM_PCRS][32],
		     const struct tpm_reference *ref, const uint8_t *report_data,
		     struct tpm_quote *q, struct verdict *v)
{
	uint8_t ak_sha256[32];
	int r;

	if ((r = tpm_quote_parse(msg, msglen, q, v)) < 0)
		return r;
	if (ref && ref->has_ak_sha256 &&
	    ((r = ak_digest(ak, ak_sha256, v)) < 0 || (r = check_ak(ak_sha256, ref, v)) < 0))
		return r;
	if ((r = check_signature(msg, msglen, sig, siglen, ak, q, v)) < 0 ||
	    (r = check_pcr_digest(q, pcrs, v)) < 0)
		return r;
	return check_claims(q, pcrs, ref, report_data, v);
}

int tpm_quote_genuine(const uint8_t *msg, size_t msglen, const uint8_t *sig, size_t siglen,
		      EVP_PKEY *ak, const uint8_t pcrs[TPM_PCRS][32], struct tpm_quote *q,
		      uint8_t ak_sha256[32], struct verdict *v)
{
	int r;

	if ((r = tpm_quote_parse(msg, msglen, q, v)) < 0 ||
	    (r = check_signature(msg, msglen, sig, siglen, ak, q, v)) < 0 ||
	    (r = check_pcr_digest(q, pcrs, v)) < 0)
		return r;
	return ak_digest(ak, ak_sha256, v);
}

int tpm_quote_match(const struct tpm_quote *q, const uint8_t ak_sha256[32],
		    const uint8_t pcrs[TPM_PCRS][32], const struct tpm_reference *ref,
		    const uint8_t *report_data, struct verdict *v)
{
	if (check_ak(ak_sha256, ref, v) < 0)
		return -1;
	return check_claims(q, pcrs, ref, report_data, v);
}

cJSON *tpm_quote_claims(const struct tpm_quote *q, const uint8_t pcrs[TPM_PCRS][32])
{
	cJSON *j = cJSON_CreateObject(), *p;
	char key[8];

	if (!j)
		return NULL;
	json_add_hex(j, "qualifying_data", q->extra_data, q->extra_len);
	cJSON_AddNumberToObject(j, "clock", (double)q->clock);
	cJSON_AddNumberToObject(j, "reset_count", q->reset_count);
	cJSON_AddNumberToObject(j, "restart_count", q->restart_count);
	p = cJSON_AddObjectToObject(j, "pcrs");
	for (int i = 0; p && i < TPM_PCRS; i++) {
		if (!(q->pcr_mask & (1u << i)))
			continue;
		snprintf(key, sizeof(key), "%d", i);
		json_add_hex(p, key, pcrs[i], 32);
	}
	return j;
}
