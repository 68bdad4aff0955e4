/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure's confidential VMs behind a paravisor (az_vtpm.h): Trustee's
 * az-snp-vtpm and az-tdx-vtpm evidence, versions 1 and 2
 * (confidential-containers/trustee, deps/verifier/src/az_snp_vtpm/compat.rs
 * and az_tdx_vtpm/compat.rs):
 *   {"version": 1|2,
 *    "tpm_quote": {"signature": hex RSASSA-PKCS1-v1_5 signature, "message":
 *                  hex TPMS_ATTEST, "pcrs": [24 hex SHA-256 PCRs]},
 *    "hcl_report": base64url,
 *    "vcek": base64url DER (az-snp-vtpm) | "td_quote": base64url (az-tdx-vtpm)}
 * Trustee's verifiers check the same facts (the quote by the AK, its nonce,
 * its PCR digest, the var data hash in the hardware report, the hardware
 * report genuine); here the hardware comes first, as it is what makes the
 * AK worth anything.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "lib/lib.h"
#include "measurement/az_vtpm.h"

/* The HCL report's header and IGVM request data, as the paravisor writes them. */
struct hcl {
	uint32_t signature, version, report_size, request_type, status;
	uint32_t data_size, igvm_version, report_type, hash_type, var_size;
	const uint8_t *hw;  /* AZ_HCL_HW_SIZE bytes */
	const uint8_t *var; /* var_size bytes */
};

/* base64url, padded as serde_with's Base64<UrlSafe> writes it, or unpadded. */
static int b64url_member(const cJSON *o, const char *key, size_t cap, uint8_t **out, size_t *len)
{
	const char *s;
	size_t n;

	if (json_get_string(o, key, &s) < 0 || (n = strlen(s)) > cap / 3 * 4 + 4)
		return -EBADMSG;
	if (n % 4 == 0 && n >= 2 && s[n - 1] == '=')
		n -= s[n - 2] == '=' ? 2 : 1;
	if (memchr(s, '=', n))
		return -EBADMSG;
	return base64_decode(s, n, BASE64_URL, out, len) < 0 ? -EBADMSG : 0;
}

static int hex_member(const cJSON *o, const char *key, size_t cap, uint8_t **out, size_t *len)
{
	const char *s;

	if (json_get_string(o, key, &s) < 0 || strlen(s) > 2 * cap || !*s)
		return -EBADMSG;
	*out = malloc(strlen(s) / 2 + 1);
	if (!*out)
		return -ENOMEM;
	return hex_decode(s, *out, cap, len) < 0 ? -EBADMSG : 0;
}

/* The members both shapes share. */
static int az_parse_common(const cJSON *ev, struct kbs_evidence *e, char *err, size_t errlen)
{
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(ev, "version");
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(ev, "tpm_quote"), *pc, *m;
	_cleanup_free_ uint8_t *sig = NULL;
	size_t i = 0, siglen = 0;
	int r;

	if (!ver)
		return set_error(err, errlen, -EBADMSG,
				 "version missing: Trustee's version 0 shape is not supported");
	if (!cJSON_IsNumber(ver) || (ver->valuedouble != 1 && ver->valuedouble != 2))
		return set_error(err, errlen, -EBADMSG, "version must be 1 or 2");
	e->az_version = (unsigned)ver->valueint;
	if (!cJSON_IsObject(q))
		return set_error(err, errlen, -EBADMSG, "tpm_quote is not an object");
	if ((r = hex_member(q, "message", 1024, &e->raw, &e->raw_len)) < 0 ||
	    (r = hex_member(q, "signature", 512, &sig, &siglen)) < 0)
		return r == -ENOMEM ? r
				    : set_error(err, errlen, -EBADMSG,
						"tpm_quote needs hex message and signature");
	/*
	 * The signature is the bare RSASSA-PKCS1-v1_5 SHA-256 signature
	 * (azure-cvm-tooling, az-cvm-vtpm/src/vtpm/mod.rs, Quote::signature):
	 * as the TPMT_SIGNATURE that tpm_quote_verify reads (TPM 2.0 Part 2,
	 * 11.3.4: sigAlg TPM_ALG_RSASSA, hash TPM_ALG_SHA256, TPM2B sig).
	 */
	e->extra = malloc(6 + siglen);
	if (!e->extra)
		return -ENOMEM;
	e->extra_len = 6 + siglen;
	memcpy(e->extra, (const uint8_t[]){ 0x00, 0x14, 0x00, 0x0b }, 4);
	e->extra[4] = (uint8_t)(siglen >> 8);
	e->extra[5] = (uint8_t)siglen;
	memcpy(e->extra + 6, sig, siglen);
	pc = cJSON_GetObjectItemCaseSensitive(q, "pcrs");
	if (!cJSON_IsArray(pc) || cJSON_GetArraySize(pc) != TPM_PCRS)
		return set_error(err, errlen, -EBADMSG, "tpm_quote.pcrs is not 24 values");
	e->pcrs = calloc(TPM_PCRS, 32);
	if (!e->pcrs)
		return -ENOMEM;
	cJSON_ArrayForEach(m, pc) {
		if (!cJSON_IsString(m) || hex_decode_exact(m->valuestring, e->pcrs[i++], 32) < 0)
			return set_error(err, errlen, -EBADMSG,
					 "tpm_quote.pcrs[%zu] is not 32 bytes of hex", i - 1);
	}
	if ((r = b64url_member(ev, "hcl_report", AZ_HCL_MAX, &e->hcl, &e->hcl_len)) < 0)
		return set_error(err, errlen, -EBADMSG, "hcl_report is not base64url");
	return 0;
}

/*
 * cvm's extension (Trustee ignores it): an SNP "cert_chain" as in the snp
 * shape, for an ASK or ARK that is not built in (the test PKI's). A VCEK in
 * it must be the "vcek" itself.
 */
static int cert_chain_ext(const cJSON *ev, struct kbs_evidence *e, char *err, size_t errlen)
{
	struct snp_certs c;
	int r = snp_certs_from_sev_json(cJSON_GetObjectItemCaseSensitive(ev, "cert_chain"), &c, err,
					errlen);

	if (r < 0)
		return r;
	if (c.vcek && X509_cmp(c.vcek, e->certs.vcek)) {
		snp_certs_free(&c);
		return set_error(err, errlen, -EBADMSG, "cert_chain names another VCEK than vcek");
	}
	e->certs.ask = c.ask;
	e->certs.ark = c.ark;
	c.ask = c.ark = NULL;
	snp_certs_free(&c);
	return 0;
}

int az_snp_parse(const cJSON *ev, struct kbs_evidence *e, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *der = NULL;
	size_t n = 0;
	int r = az_parse_common(ev, e, err, errlen);

	if (r < 0)
		return r;
	if (b64url_member(ev, "vcek", CVM_CAP_CERT, &der, &n) < 0 ||
	    x509_load_one(der, n, &e->certs.vcek) < 0)
		return set_error(err, errlen, -EBADMSG, "vcek is not a base64url DER certificate");
	return cert_chain_ext(ev, e, err, errlen);
}

int az_tdx_parse(const cJSON *ev, struct kbs_evidence *e, char *err, size_t errlen)
{
	int r = az_parse_common(ev, e, err, errlen);

	if (r < 0)
		return r;
	if (b64url_member(ev, "td_quote", CVM_CAP_EVIDENCE, &e->td_quote, &e->td_quote_len) < 0)
		return set_error(err, errlen, -EBADMSG, "td_quote is not base64url");
	return 0;
}

/* ---- the HCL report ---- */

static int hcl_parse(const struct kbs_evidence *e, uint32_t want_type, struct hcl *h,
		     struct verdict *v)
{
	const uint8_t *b = e->hcl;
	size_t end;

	if (e->hcl_len < AZ_HCL_VAR_OFF)
		return verdict_fail(v, CHECK_FORMAT, "HCL report of %zu bytes is shorter than %u",
				    e->hcl_len, AZ_HCL_VAR_OFF);
	h->signature = le32(b);
	h->version = le32(b + 4);
	h->report_size = le32(b + 8);
	h->request_type = le32(b + 12);
	h->status = le32(b + 16);
	h->data_size = le32(b + AZ_HCL_IGVM_OFF);
	h->igvm_version = le32(b + AZ_HCL_IGVM_OFF + 4);
	h->report_type = le32(b + AZ_HCL_IGVM_OFF + 8);
	h->hash_type = le32(b + AZ_HCL_IGVM_OFF + 12);
	h->var_size = le32(b + AZ_HCL_IGVM_OFF + 16);
	h->hw = b + AZ_HCL_HEADER_SIZE;
	h->var = b + AZ_HCL_VAR_OFF;
	if (h->signature != AZ_HCL_SIGNATURE)
		return verdict_fail(v, CHECK_FORMAT, "HCL report does not start with \"HCLA\"");
	if (h->report_type != want_type)
		return verdict_fail(v, CHECK_FORMAT,
				    "HCL report type %u, this evidence shape needs %u (%s)",
				    h->report_type, want_type,
				    want_type == AZ_HCL_TYPE_SNP ? "SEV-SNP" : "TDX");
	if (h->status != 0)
		return verdict_fail(v, CHECK_FORMAT, "HCL report status %u is not success",
				    h->status);
	if (h->hash_type != AZ_HCL_HASH_SHA256)
		return verdict_fail(v, CHECK_FORMAT, "HCL report hash type %u is not SHA-256 (1)",
				    h->hash_type);
	if (h->var_size > AZ_VAR_DATA_MAX || e->hcl_len < AZ_HCL_VAR_OFF + (size_t)h->var_size)
		return verdict_fail(v, CHECK_FORMAT,
				    "HCL report of %zu bytes is truncated: its var data needs %u",
				    e->hcl_len, h->var_size);
	end = AZ_HCL_VAR_OFF + (size_t)h->var_size;
	if (h->report_size != end || h->data_size != 20 + h->var_size)
		return verdict_fail(v, CHECK_FORMAT,
				    "HCL report sizes disagree (report %u, request data %u, var "
				    "data %u)",
				    h->report_size, h->data_size, h->var_size);
	/* Nothing the hardware report does not cover may ride along. */
	if (!is_zero(b + end, e->hcl_len - end))
		return verdict_fail(v, CHECK_FORMAT, "bytes after the HCL report are not zero");
	if (want_type == AZ_HCL_TYPE_TDX &&
	    !is_zero(h->hw + AZ_HCL_TD_REPORT_SIZE, AZ_HCL_HW_SIZE - AZ_HCL_TD_REPORT_SIZE))
		return verdict_fail(v, CHECK_FORMAT, "padding after the TD report is not zero");
	verdict_pass(v, CHECK_FORMAT, "HCL report v%u, %s, %u bytes of var data", h->version,
		     want_type == AZ_HCL_TYPE_SNP ? "SEV-SNP report" : "TD report", h->var_size);
	return 0;
}

int az_hcl_build(uint32_t type, const uint8_t *hw, size_t hwlen, const uint8_t *var, size_t var_len,
		 uint8_t **out, size_t *len)
{
	uint8_t *b;

	if (hwlen > AZ_HCL_HW_SIZE || var_len > AZ_VAR_DATA_MAX)
		return -EINVAL;
	b = calloc(1, AZ_HCL_VAR_OFF + var_len);
	if (!b)
		return -ENOMEM;
	put_le(b, AZ_HCL_SIGNATURE, 4);
	put_le(b + 4, type == AZ_HCL_TYPE_TDX ? 2 : 1, 4);
	put_le(b + 8, AZ_HCL_VAR_OFF + var_len, 4);
	put_le(b + 12, 2, 4); /* request type as Azure's reports carry it */
	memcpy(b + AZ_HCL_HEADER_SIZE, hw, hwlen);
	put_le(b + AZ_HCL_IGVM_OFF, 20 + var_len, 4);
	put_le(b + AZ_HCL_IGVM_OFF + 4, 1, 4);
	put_le(b + AZ_HCL_IGVM_OFF + 8, type, 4);
	put_le(b + AZ_HCL_IGVM_OFF + 12, AZ_HCL_HASH_SHA256, 4);
	put_le(b + AZ_HCL_IGVM_OFF + 16, var_len, 4);
	memcpy(b + AZ_HCL_VAR_OFF, var, var_len);
	*out = b;
	*len = AZ_HCL_VAR_OFF + var_len;
	return 0;
}

/* ---- the attestation key in the var data ---- */

static int b64url_bn(const cJSON *jwk, const char *key, size_t cap, BIGNUM **bn)
{
	_cleanup_free_ uint8_t *raw = NULL;
	const char *s;
	size_t n = 0;

	if (json_get_string(jwk, key, &s) < 0 || strlen(s) > cap / 3 * 4 + 4 ||
	    base64_decode(s, strlen(s), BASE64_URL, &raw, &n) < 0 || !n)
		return -EBADMSG;
	*bn = BN_bin2bn(raw, (int)n, NULL);
	return *bn ? 0 : -ENOMEM;
}

/*
 * {"keys": [{"kid": "HCLAkPub", "kty": "RSA", "n", "e"}, ...], "user-data":
 * hex, ...}: the AK as a key, and user-data (64 bytes) when there is one.
 */
int az_var_data_parse(const uint8_t *var, size_t len, EVP_PKEY **ak, uint8_t user[64],
		      bool *has_user, char *why, size_t cap)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	const cJSON *keys, *k, *found = NULL;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	const char *kid, *kty;
	int r = -EBADMSG;

	if (json_parse((const char *)var, len, &doc) < 0 || !cJSON_IsObject(doc))
		return set_error(why, cap, -EBADMSG, "the HCL var data is not a JSON object");
	keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
	if (!cJSON_IsArray(keys))
		return set_error(why, cap, -EBADMSG, "the var data has no \"keys\" array");
	cJSON_ArrayForEach(k, keys) {
		if (json_get_string(k, "kid", &kid) < 0 || strcmp(kid, "HCLAkPub"))
			continue;
		if (found)
			return set_error(why, cap, -EBADMSG, "the var data has two HCLAkPub keys");
		found = k;
	}
	if (!found)
		return set_error(why, cap, -EBADMSG, "the var data has no HCLAkPub key");
	*has_user = cJSON_GetObjectItemCaseSensitive(doc, "user-data") != NULL;
	if (*has_user && json_get_hex(doc, "user-data", user, 64) < 0)
		return set_error(why, cap, -EBADMSG, "the var data's user-data is not 64 bytes");
	if (json_get_string(found, "kty", &kty) < 0 || strcmp(kty, "RSA") ||
	    b64url_bn(found, "n", 1024, &n) < 0 || b64url_bn(found, "e", 8, &e) < 0) {
		set_error(why, cap, -EBADMSG, "HCLAkPub is not an RSA JWK (kty, n, e)");
		goto out;
	}
	r = -ENOMEM;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) ||
	    !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)))
		goto out;
	r = -EBADMSG;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, ak, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		set_error(why, cap, -EBADMSG, "HCLAkPub is not a usable RSA key");
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return r;
}

/* ---- verification ---- */

/* Appends the checks of a sub-verifier's verdict to v. */
static void merge(struct verdict *v, const struct verdict *sub)
{
	for (size_t i = 0; i < sub->n; i++) {
		const struct check_result *c = &sub->results[i];

		if (c->ok)
			verdict_pass(v, c->check, "%s", c->detail);
		else
			verdict_fail(v, c->check, "%s", c->detail);
	}
	v->tcb_status_checked = sub->tcb_status_checked;
	memcpy(v->tcb_status, sub->tcb_status, sizeof(v->tcb_status));
	memcpy(v->qe_tcb_status, sub->qe_tcb_status, sizeof(v->qe_tcb_status));
}

/* The hardware report is genuine; *rd is where it keeps report_data. */
static int hardware_verify(const struct kbs_evidence *e, const struct platform_verifiers *pv,
			   const struct hcl *h, struct kbs_claims *c, uint8_t rd[64],
			   struct verdict *v)
{
	_cleanup_free_ struct verdict *sub = malloc(sizeof(*sub));
	int r;

	if (!sub)
		return -ENOMEM;
	if (e->platform == PLATFORM_AZ_SNP_VTPM) {
		if (!pv->snp)
			return verdict_fail(v, CHECK_ROOT_PINNED, "no SEV-SNP verifier");
		r = snp_verify_genuine(pv->snp, h->hw, AZ_HCL_HW_SIZE, &e->certs, &c->snp,
				       c->snp_product, sub);
		memcpy(rd, h->hw + 0x50, 64); /* SEV-SNP ABI (AMD 56860) Table 23 */
	} else {
		if (!pv->tdx)
			return verdict_fail(v, CHECK_ROOT_PINNED, "no TDX verifier");
		r = tdx_verify_genuine(pv->tdx, e->td_quote, e->td_quote_len, &c->tdx, &c->tcb,
				       sub);
		memcpy(rd, c->tdx.body.report_data, 64);
	}
	merge(v, sub);
	if (r < 0 && verdict_ok(sub))
		return r;
	return verdict_ok(sub) ? 0 : -1;
}

/* The hardware report's claims against the reference's section for it. */
static int hardware_match(const struct kbs_claims *c, const struct reference *ref,
			  struct verdict *v)
{
	struct tdx_reference tref = ref->tdx;

	if (c->e->platform == PLATFORM_AZ_SNP_VTPM)
		return snp_verify_match(&c->snp, c->snp_product, &ref->snp, NULL, v);
	/*
	 * The TD is Azure's paravisor, which takes #VE itself: its TD
	 * attributes have SEPT_VE_DISABLE clear (tests/vectors/azure).
	 * A reference may still pin td_attributes.
	 */
	tref.allow_sept_ve = true;
	return tdx_verify_match(&c->tdx, &c->tcb, &tref, NULL, v);
}

/* The vTPM's quote, signed by the AK, of the PCRs given. */
static int quote_verify(const struct kbs_evidence *e, EVP_PKEY *ak, struct kbs_claims *c,
			struct verdict *v)
{
	_cleanup_free_ struct verdict *sub = malloc(sizeof(*sub));
	int r;

	if (!sub)
		return -ENOMEM;
	r = tpm_quote_genuine(e->raw, e->raw_len, e->extra, e->extra_len, ak,
			      (const uint8_t(*)[32])e->pcrs, &c->tpm, c->ak_sha256, sub);
	merge(v, sub);
	if (r < 0 || !verdict_ok(sub))
		return r < 0 && verdict_ok(sub) ? r : -1;
	return 0;
}

int az_vtpm_genuine(const struct kbs_evidence *e, const struct platform_verifiers *pv,
		    struct kbs_claims *c, struct verdict *v)
{
	EVP_PKEY *ak = NULL;
	uint8_t rd[64], want[64] = { 0 };
	char hex[65], why[160];
	struct hcl h;
	int r;

	verdict_init(v, e->platform);
	if (hcl_parse(e, e->platform == PLATFORM_AZ_SNP_VTPM ? AZ_HCL_TYPE_SNP : AZ_HCL_TYPE_TDX,
		      &h, v) < 0)
		return -1;
	if ((r = hardware_verify(e, pv, &h, c, rd, v)) < 0)
		return r;
	/* The paravisor puts SHA-256 of the var data in report_data, the rest zero. */
	if (EVP_Digest(h.var, h.var_size, want, NULL, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	hex_encode(want, 32, hex);
	if (CRYPTO_memcmp(rd, want, 64))
		return verdict_fail(v, CHECK_REPORT_DATA,
				    "hardware report_data does not bind the HCL var data (SHA-256 "
				    "%.16s...)",
				    hex);
	verdict_pass(v, CHECK_REPORT_DATA, "hardware report_data is SHA-256 of the var data %s",
		     hex);
	if (az_var_data_parse(h.var, h.var_size, &ak, c->user_data, &c->has_user_data, why,
			      sizeof(why)) < 0)
		return verdict_fail(v, CHECK_AK, "%s", why);
	verdict_pass(v, CHECK_AK, "HCLAkPub, RSA-%d, bound by the hardware report",
		     EVP_PKEY_get_bits(ak));
	r = quote_verify(e, ak, c, v);
	EVP_PKEY_free(ak);
	return r;
}

int az_vtpm_match(const struct kbs_claims *c, const struct reference *ref,
		  const uint8_t *report_data, uint8_t reg[48], size_t *reglen, struct verdict *v)
{
	const struct tpm_quote *q = &c->tpm;

	*reglen = 0;
	if (hardware_match(c, ref, v) < 0 ||
	    tpm_quote_match(q, c->ak_sha256, (const uint8_t(*)[32])c->e->pcrs, &ref->tpm, NULL, v) <
		    0)
		return -1;
	/* Azure's attester quotes report_data as long as it is (Trustee: 48 bytes, SHA-384). */
	if (report_data && (!q->extra_len || memcmp(q->extra_data, report_data, q->extra_len) ||
			    !is_zero(report_data + q->extra_len, 64 - q->extra_len)))
		return verdict_fail(v, CHECK_REPORT_DATA,
				    "TPM quote qualifying data (%zu bytes) is not the expected "
				    "report_data",
				    q->extra_len);
	if (report_data)
		verdict_pass(v, CHECK_REPORT_DATA, "TPM quote qualifying data binds report_data");
	/* Version 2: the paravisor also put report_data in the var data (Trustee's verify_user_data). */
	if (c->e->az_version >= 2 && report_data) {
		if (!c->has_user_data || CRYPTO_memcmp(c->user_data, report_data, 64))
			return verdict_fail(v, CHECK_REPORT_DATA,
					    "the var data's user-data is not the expected "
					    "report_data (evidence version 2)");
		verdict_pass(v, CHECK_REPORT_DATA, "the var data's user-data binds report_data");
	}
	memcpy(reg, c->e->pcrs[15], 32);
	*reglen = 32;
	return 0;
}

cJSON *az_vtpm_claims(const struct kbs_evidence *e, char *summary, size_t cap)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	cJSON *hcl, *hw = NULL, *tpm, *pcrs;
	uint8_t digest[32];
	struct verdict v;
	struct hcl h;
	char key[4];

	verdict_init(&v, e->platform);
	if (!o ||
	    hcl_parse(e, e->platform == PLATFORM_AZ_SNP_VTPM ? AZ_HCL_TYPE_SNP : AZ_HCL_TYPE_TDX,
		      &h, &v) < 0 ||
	    EVP_Digest(h.var, h.var_size, digest, NULL, EVP_sha256(), NULL) != 1)
		return NULL;
	hcl = cJSON_AddObjectToObject(o, "hcl");
	if (!hcl)
		return NULL;
	cJSON_AddNumberToObject(hcl, "version", h.version);
	json_add_hex(hcl, "var_data_sha256", digest, 32);
	if (e->platform == PLATFORM_AZ_SNP_VTPM) {
		struct snp_report rep;

		if (snp_report_parse(h.hw, AZ_HCL_HW_SIZE, &rep, &v) == 0)
			hw = snp_report_claims(&rep);
	} else {
		struct tdx_quote q;

		if (tdx_quote_parse(e->td_quote, e->td_quote_len, &q, &v) == 0)
			hw = tdx_quote_claims(&q);
	}
	if (!hw ||
	    !cJSON_AddItemToObject(o, e->platform == PLATFORM_AZ_SNP_VTPM ? "snp" : "tdx", hw)) {
		cJSON_Delete(hw);
		return NULL;
	}
	tpm = cJSON_AddObjectToObject(o, "tpm");
	pcrs = tpm ? cJSON_AddObjectToObject(tpm, "pcrs") : NULL;
	for (unsigned i = 0; pcrs && i < TPM_PCRS; i++) {
		snprintf(key, sizeof(key), "%u", i % 100u);
		json_add_hex(pcrs, key, e->pcrs[i], 32);
	}
	if (!pcrs)
		return NULL;
	snprintf(summary, cap,
		 "genuine %s evidence: HCL report v%u with %s, %u bytes of var data, 24 PCRs",
		 platform_name(e->platform), h.version,
		 e->platform == PLATFORM_AZ_SNP_VTPM ? "an SNP report" : "a TD report and quote",
		 h.var_size);
	hw = o;
	o = NULL;
	return hw;
}

int az_reference_complete(const struct reference *r, enum cvm_platform p, char *err, size_t errlen)
{
	uint32_t boot = launch_registers_required(PLATFORM_TPM);
	uint32_t open = boot & ~reference_pinned(r, PLATFORM_TPM);
	bool hw = p == PLATFORM_AZ_SNP_VTPM ? r->has_snp && r->snp.has_measurement
					    : r->has_tdx && r->tdx.has_mrtd;
	char names[160] = "";

	if (open)
		launch_registers_text(PLATFORM_TPM, open, names, sizeof(names));
	if (!hw || open)
		return set_error(err, errlen, -EINVAL, "%s: %s%s%s unpinned", platform_name(p),
				 hw			     ? ""
				 : p == PLATFORM_AZ_SNP_VTPM ? "the paravisor (snp.measurement)"
							     : "the paravisor (tdx.mrtd)",
				 !hw && open ? ", " : "", open ? names : "");
	return 0;
}
