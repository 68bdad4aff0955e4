/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The platform table (platform.h): SEV-SNP, TDX and a TPM quote, one row
 * each, with the functions that take their "primary_evidence" apart (the
 * shapes of Trustee's attesters: docs/kbs.md) and verify it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/lib.h"
#include "measurement/az_vtpm.h"
#include "measurement/platform.h"

static int b64_member(const cJSON *o, const char *key, uint8_t **out, size_t *len, size_t cap)
{
	const char *s;

	if (json_get_string(o, key, &s) < 0 || strlen(s) > cap / 3 * 4 + 4 ||
	    base64_decode(s, strlen(s), BASE64_STD, out, len) < 0)
		return -EBADMSG;
	return 0;
}

/* ---- SEV-SNP: {"attestation_report": virtee's JSON, "cert_chain": [...]} ---- */

static int snp_parse(const cJSON *ev, struct kbs_evidence *s, char *err, size_t errlen)
{
	int r;

	s->raw = malloc(SNP_REPORT_SIZE);
	if (!s->raw)
		return -ENOMEM;
	s->raw_len = SNP_REPORT_SIZE;
	r = snp_report_from_sev_json(cJSON_GetObjectItemCaseSensitive(ev, "attestation_report"),
				     s->raw, err, errlen);
	if (r < 0)
		return r;
	r = snp_certs_from_sev_json(cJSON_GetObjectItemCaseSensitive(ev, "cert_chain"), &s->certs,
				    err, errlen);
	if (r < 0)
		return r;
	if (!s->certs.vcek)
		return set_error(err, errlen, -EBADMSG,
				 "cert_chain carries no VCEK or VLEK (this broker does not "
				 "fetch from AMD KDS)");
	return 0;
}

static int snp_evidence_verify(const struct kbs_evidence *e, const struct platform_verifiers *pv,
			       const struct reference *ref, const uint8_t *report_data,
			       uint8_t reg[48], size_t *reglen, struct verdict *v)
{
	struct snp_report rep;

	(void)reg;
	*reglen = 0;
	return snp_verify(pv->snp, e->raw, e->raw_len, &e->certs, &ref->snp, report_data, &rep, v);
}

/* ---- TDX: {"quote": base64, "cc_eventlog": base64 or null} ---- */

static int tdx_parse(const cJSON *ev, struct kbs_evidence *s, char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "cc_eventlog");

	if (m && !cJSON_IsNull(m) && !cJSON_IsString(m))
		return set_error(err, errlen, -EBADMSG, "cc_eventlog malformed");
	if (b64_member(ev, "quote", &s->raw, &s->raw_len, CVM_CAP_EVIDENCE) < 0)
		return set_error(err, errlen, -EBADMSG, "quote is not standard base64");
	return 0;
}

/* RTMR3 comes back whatever the verdict, for the caller's messages. */
static int tdx_evidence_verify(const struct kbs_evidence *e, const struct platform_verifiers *pv,
			       const struct reference *ref, const uint8_t *report_data,
			       uint8_t reg[48], size_t *reglen, struct verdict *v)
{
	struct tdx_quote q = { 0 };
	int r = tdx_verify(pv->tdx, e->raw, e->raw_len, &ref->tdx, report_data, &q, v);

	memcpy(reg, q.body.rtmr[3], 48);
	*reglen = 48;
	return r;
}

/* ---- TPM: {"ak_public": base64 DER, "tpm_quote": {"message", "signature", "pcrs"}} ---- */

static int tpm_parse(const cJSON *ev, struct kbs_evidence *s, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *der = NULL;
	const uint8_t *p;
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(ev, "tpm_quote"), *pc, *m;
	size_t n = 0, i = 0;

	if (b64_member(ev, "ak_public", &der, &n, 4096) < 0)
		return set_error(err, errlen, -EBADMSG, "ak_public is not base64");
	p = der;
	s->ak = d2i_PUBKEY(NULL, &p, (long)n);
	ERR_clear_error();
	if (!s->ak || p != der + n)
		return set_error(err, errlen, -EBADMSG, "ak_public is not a public key");
	if (!cJSON_IsObject(q) || b64_member(q, "message", &s->raw, &s->raw_len, 2048) < 0 ||
	    b64_member(q, "signature", &s->extra, &s->extra_len, 2048) < 0)
		return set_error(err, errlen, -EBADMSG,
				 "tpm_quote needs base64 message and signature");
	pc = cJSON_GetObjectItemCaseSensitive(q, "pcrs");
	if (!cJSON_IsArray(pc) || cJSON_GetArraySize(pc) != TPM_PCRS)
		return set_error(err, errlen, -EBADMSG, "tpm_quote.pcrs is not 24 values");
	s->pcrs = calloc(TPM_PCRS, 32);
	if (!s->pcrs)
		return -ENOMEM;
	cJSON_ArrayForEach(m, pc) {
		if (!cJSON_IsString(m) || hex_decode_exact(m->valuestring, s->pcrs[i++], 32) < 0)
			return set_error(err, errlen, -EBADMSG,
					 "tpm_quote.pcrs[%zu] is not 32 bytes of hex", i - 1);
	}
	return 0;
}

static int tpm_evidence_verify(const struct kbs_evidence *e, const struct platform_verifiers *pv,
			       const struct reference *ref, const uint8_t *report_data,
			       uint8_t reg[48], size_t *reglen, struct verdict *v)
{
	struct tpm_quote q;
	int r;

	(void)pv;
	r = tpm_quote_verify(e->raw, e->raw_len, e->extra, e->extra_len, e->ak,
			     (const uint8_t(*)[32])e->pcrs, &ref->tpm, report_data, &q, v);
	memcpy(reg, e->pcrs[15], 32);
	*reglen = 32;
	return r;
}

/* ---- the table ---- */

static const struct platform platforms[] = {
	{
		.id = PLATFORM_SNP,
		.name = "snp",
		.kbs_tee = "snp",
		.json_member = "attestation_report",
		.ref_sections = REF_SECTION_SNP,
		.launch_binding = "host_data",
		.launch_binding_len = 32,
		.qemu = "snp",
		.parse = snp_parse,
		.verify = snp_evidence_verify,
	},
	/* Azure's shapes carry "tpm_quote" too: before the TPM row (az_vtpm.h). */
	{
		.id = PLATFORM_AZ_SNP_VTPM,
		.name = "az-snp-vtpm",
		.kbs_tee = "az-snp-vtpm",
		.json_member = "vcek",
		.ref_sections = REF_SECTION_SNP | REF_SECTION_TPM,
		.runtime_reg = "pcr15",
		.runtime_reg_len = 32,
		.parse = az_snp_parse,
		.verify = az_vtpm_verify,
		.ref_complete = az_reference_complete,
		.claims = az_vtpm_claims,
	},
	{
		.id = PLATFORM_AZ_TDX_VTPM,
		.name = "az-tdx-vtpm",
		.kbs_tee = "az-tdx-vtpm",
		.json_member = "td_quote",
		.ref_sections = REF_SECTION_TDX | REF_SECTION_TPM,
		.runtime_reg = "pcr15",
		.runtime_reg_len = 32,
		.parse = az_tdx_parse,
		.verify = az_vtpm_verify,
		.ref_complete = az_reference_complete,
		.claims = az_vtpm_claims,
	},
	{
		.id = PLATFORM_TDX,
		.name = "tdx",
		.kbs_tee = "tdx",
		.json_member = "quote",
		.ref_sections = REF_SECTION_TDX,
		.runtime_reg = "rtmr3",
		.runtime_reg_len = 48,
		.launch_binding = "mrconfigid",
		.launch_binding_len = 48,
		.qemu = "tdx",
		.parse = tdx_parse,
		.verify = tdx_evidence_verify,
	},
	{
		.id = PLATFORM_TPM,
		.name = "tpm",
		.kbs_tee = "tpm",
		.json_member = "tpm_quote",
		.ref_sections = REF_SECTION_TPM,
		.runtime_reg = "pcr15",
		.runtime_reg_len = 32,
		.qemu = "plain",
		.parse = tpm_parse,
		.verify = tpm_evidence_verify,
	},
};

const struct platform *platform_at(size_t i)
{
	return i < ARRAY_SIZE(platforms) ? &platforms[i] : NULL;
}

const struct platform *platform_get(enum cvm_platform p)
{
	for (size_t i = 0; i < ARRAY_SIZE(platforms); i++)
		if (platforms[i].id == p)
			return &platforms[i];
	return NULL;
}

const struct platform *platform_by_name(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(platforms); i++)
		if (!strcmp(platforms[i].name, name))
			return &platforms[i];
	return NULL;
}

const struct platform *platform_of_json(const cJSON *ev)
{
	for (size_t i = 0; cJSON_IsObject(ev) && i < ARRAY_SIZE(platforms); i++)
		if (cJSON_GetObjectItemCaseSensitive(ev, platforms[i].json_member))
			return &platforms[i];
	return NULL;
}

const struct platform *platform_by_kbs_tee(const char *tee)
{
	for (size_t i = 0; tee && i < ARRAY_SIZE(platforms); i++)
		if (!strcmp(platforms[i].kbs_tee, tee))
			return &platforms[i];
	return NULL;
}

const char *platform_name(enum cvm_platform p)
{
	const struct platform *pl = platform_get(p);

	return pl ? pl->name : "unknown";
}
