/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The platform table (platform.h): SEV-SNP, TDX and a TPM quote, one row
 * each, with the functions that take their "primary_evidence" apart (the
 * shapes of Trustee's attesters: docs/kbs.md) and verify it.
 */
#include <errno.h>
#include <stddef.h>
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

/* Whether every member of o is one of names (a NULL-terminated list). */
static bool members_known(const cJSON *o, const char *const *names)
{
	const cJSON *m;

	if (!cJSON_IsObject(o))
		return false;
	cJSON_ArrayForEach(m, o) {
		size_t i = 0;

		while (names[i] && strcmp(names[i], m->string))
			i++;
		if (!names[i])
			return false;
	}
	return true;
}

/* A raw blob copied into e->raw. */
static int raw_copy(const uint8_t *buf, size_t len, struct kbs_evidence *e)
{
	e->raw = malloc(len ? len : 1);
	if (!e->raw)
		return -ENOMEM;
	memcpy(e->raw, buf, len);
	e->raw_len = len;
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

static int snp_genuine(const struct kbs_evidence *e, const struct platform_verifiers *pv,
		       struct kbs_claims *c, struct verdict *v)
{
	return snp_verify_genuine(pv->snp, e->raw, e->raw_len, &e->certs, &c->snp, c->snp_product,
				  v);
}

static int snp_match(const struct kbs_claims *c, const struct reference *ref,
		     const uint8_t *report_data, uint8_t reg[48], size_t *reglen, struct verdict *v)
{
	(void)reg;
	*reglen = 0;
	return snp_verify_match(&c->snp, c->snp_product, &ref->snp, report_data, v);
}

static bool snp_raw_detect(const uint8_t *buf, size_t len)
{
	(void)buf;
	return len == SNP_REPORT_SIZE;
}

static cJSON *snp_claims(const struct kbs_evidence *e, char *summary, size_t cap)
{
	_cleanup_free_ struct verdict *v = malloc(sizeof(*v));
	struct snp_report rep;

	if (!v)
		return NULL;
	verdict_init(v, e->platform);
	if (snp_report_parse(e->raw, e->raw_len, &rep, v) < 0 || !verdict_ok(v))
		return NULL;
	snprintf(summary, cap, "genuine SEV-SNP report (%s)", snp_product_name(rep.product));
	return snp_report_claims(&rep);
}

/*
 * The report exactly as its raw bytes give it, certificates only of the
 * kinds the chain uses.
 */
static bool snp_shape_exact(const cJSON *ev, const struct kbs_evidence *e)
{
	static const char *const members[] = { "attestation_report", "cert_chain", NULL };
	static const char *const certs[] = { "VCEK", "VLEK", "ASK", "ASVK", "ARK", NULL };
	_cleanup_(cJSON_Deletep) cJSON *again = snp_report_to_sev_json(e->raw);
	const cJSON *c;
	bool ok = members_known(ev, members) &&
		  jcs_equal(again, cJSON_GetObjectItemCaseSensitive(ev, "attestation_report"));

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(ev, "cert_chain")) {
		const char *type =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "cert_type"));
		size_t i = 0;

		while (type && certs[i] && strcmp(certs[i], type))
			i++;
		ok = ok && type && certs[i];
	}
	return ok;
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

static int tdx_genuine(const struct kbs_evidence *e, const struct platform_verifiers *pv,
		       struct kbs_claims *c, struct verdict *v)
{
	return tdx_verify_genuine(pv->tdx, e->raw, e->raw_len, &c->tdx, &c->tcb, v);
}

/* RTMR3 comes back whatever the verdict, for the caller's messages. */
static int tdx_match(const struct kbs_claims *c, const struct reference *ref,
		     const uint8_t *report_data, uint8_t reg[48], size_t *reglen, struct verdict *v)
{
	memcpy(reg, c->tdx.body.rtmr[3], 48);
	*reglen = 48;
	return tdx_verify_match(&c->tdx, &c->tcb, &ref->tdx, report_data, v);
}

/* Version 4 or 5, attestation key type 2, TEE type 0x81 (Intel TDX DCAP Quote Library API, A.3). */
static bool tdx_raw_detect(const uint8_t *buf, size_t len)
{
	return len >= TDX_QUOTE_HEADER_SIZE && (le16(buf) == 4 || le16(buf) == 5) &&
	       le32(buf + 4) == 0x81;
}

static cJSON *tdx_claims(const struct kbs_evidence *e, char *summary, size_t cap)
{
	_cleanup_free_ struct verdict *v = malloc(sizeof(*v));
	_cleanup_free_ struct tdx_quote *q = calloc(1, sizeof(*q));

	if (!v || !q)
		return NULL;
	verdict_init(v, e->platform);
	if (tdx_quote_parse(e->raw, e->raw_len, q, v) < 0 || !verdict_ok(v))
		return NULL;
	snprintf(summary, cap, "genuine TDX quote v%u", q->version);
	return tdx_quote_claims(q);
}

/* cc_eventlog, the firmware's RTMR0-2 log, is carried but not read: RTMR0-2 are reference values. */
static bool tdx_shape_exact(const cJSON *ev, const struct kbs_evidence *e)
{
	static const char *const members[] = { "quote", "cc_eventlog", "runtime_eventlog", NULL };

	(void)e;
	return members_known(ev, members);
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

static int tpm_genuine(const struct kbs_evidence *e, const struct platform_verifiers *pv,
		       struct kbs_claims *c, struct verdict *v)
{
	(void)pv;
	verdict_init(v, PLATFORM_TPM);
	return tpm_quote_genuine(e->raw, e->raw_len, e->extra, e->extra_len, e->ak,
				 (const uint8_t(*)[32])e->pcrs, &c->tpm, c->ak_sha256, v);
}

static int tpm_match(const struct kbs_claims *c, const struct reference *ref,
		     const uint8_t *report_data, uint8_t reg[48], size_t *reglen, struct verdict *v)
{
	memcpy(reg, c->e->pcrs[15], 32);
	*reglen = 32;
	return tpm_quote_match(&c->tpm, c->ak_sha256, (const uint8_t(*)[32])c->e->pcrs, &ref->tpm,
			       report_data, v);
}

static cJSON *tpm_claims(const struct kbs_evidence *e, char *summary, size_t cap)
{
	_cleanup_free_ struct verdict *v = malloc(sizeof(*v));
	struct tpm_quote q;

	if (!v || tpm_quote_parse(e->raw, e->raw_len, &q, v) < 0 || !verdict_ok(v))
		return NULL;
	snprintf(summary, cap, "TPM quote signed by the pinned AK");
	return tpm_quote_claims(&q, (const uint8_t(*)[32])e->pcrs);
}

static bool tpm_shape_exact(const cJSON *ev, const struct kbs_evidence *e)
{
	static const char *const members[] = { "ak_public", "tpm_quote", "runtime_eventlog", NULL };
	static const char *const quote[] = { "message", "signature", "pcrs", NULL };

	(void)e;
	return members_known(ev, members) &&
	       members_known(cJSON_GetObjectItemCaseSensitive(ev, "tpm_quote"), quote);
}

/* ---- launch registers: where a reference holds them ---- */

#define REF_REG(n, h, v, l)                                                        \
	{                                                                          \
		n, offsetof(struct reference, h), offsetof(struct reference, v), l \
	}

static const struct platform_reg snp_launch_regs[] = {
	REF_REG("measurement", snp.has_measurement, snp.measurement, 48),
};

static const struct platform_reg tdx_launch_regs[] = {
	REF_REG("mrtd", tdx.has_mrtd, tdx.mrtd, 48),
	REF_REG("rtmr0", tdx.has_rtmr[0], tdx.rtmr[0], 48),
	REF_REG("rtmr1", tdx.has_rtmr[1], tdx.rtmr[1], 48),
	REF_REG("rtmr2", tdx.has_rtmr[2], tdx.rtmr[2], 48),
};

#define TPM_PCR(i) REF_REG("pcr" #i, tpm.has_pcr[i], tpm.pcr[i], 32)
static const struct platform_reg tpm_launch_regs[] = {
	TPM_PCR(0), TPM_PCR(1), TPM_PCR(2), TPM_PCR(3), TPM_PCR(4),
	TPM_PCR(5), TPM_PCR(6), TPM_PCR(7), TPM_PCR(8), TPM_PCR(9),
};

static const struct platform_reg tpm_key_pin =
	REF_REG("ak_sha256", tpm.has_ak_sha256, tpm.ak_sha256, 32);

static const char *const snp_launch_members[] = { "vcpus", "vcpu_type", "measurement", NULL };
static const char *const tdx_launch_members[] = { "memory_mib", "mrtd",	 "rtmr0",
						  "rtmr1",	"rtmr2", NULL };
static const char *const tpm_launch_members[] = { "memory_mib", "vcpus", "pcrs", NULL };

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
		.verify = snp_genuine,
		.match = snp_match,
		.title = "SEV-SNP",
		.noun = "an SNP report",
		.opts = PLATFORM_OPT_CERTS | PLATFORM_OPT_TEST_ROOTS,
		.verifiers = PLATFORM_VERIFIER_SNP,
		.launch_regs = snp_launch_regs,
		.nlaunch_regs = ARRAY_SIZE(snp_launch_regs),
		.launch_required = 0x1,
		.launch_covers = "launch image",
		.launch_members = snp_launch_members,
		.launch_by_vcpus = true,
		.launch_inputs = PLATFORM_LAUNCH_FIRMWARE,
		.raw_detect = snp_raw_detect,
		.from_raw = raw_copy,
		.raw_needs = "--certs DIR with its VCEK or VLEK",
		.claims = snp_claims,
		.genuine = "genuine SEV-SNP report (VCEK chain to a pinned AMD root)",
		.shape_exact = snp_shape_exact,
		.qemu_shape = QEMU_SNP,
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
		.verify = az_vtpm_genuine,
		.match = az_vtpm_match,
		.ref_complete = az_reference_complete,
		.claims = az_vtpm_claims,
		.title = "Azure SEV-SNP vTPM",
		.noun = "Azure SEV-SNP vTPM evidence",
		.runtime_label = "PCR15",
		.opts = PLATFORM_OPT_TEST_ROOTS,
		.verifiers = PLATFORM_VERIFIER_SNP,
		.genuine = "genuine Azure SEV-SNP vTPM evidence (VCEK chain to a pinned AMD root, "
			   "vTPM key bound by the HCL report)",
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
		.verify = az_vtpm_genuine,
		.match = az_vtpm_match,
		.ref_complete = az_reference_complete,
		.claims = az_vtpm_claims,
		.title = "Azure TDX vTPM",
		.noun = "Azure TDX vTPM evidence",
		.runtime_label = "PCR15",
		.opts = PLATFORM_OPT_COLLATERAL | PLATFORM_OPT_TEST_ROOTS,
		.verifiers = PLATFORM_VERIFIER_TDX,
		.genuine = "genuine Azure TDX vTPM evidence (PCK chain to a pinned Intel root, "
			   "vTPM key bound by the HCL report)",
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
		.verify = tdx_genuine,
		.match = tdx_match,
		.title = "TDX",
		.noun = "a TDX quote",
		.runtime_label = "RTMR3",
		.opts = PLATFORM_OPT_COLLATERAL | PLATFORM_OPT_TEST_ROOTS,
		.verifiers = PLATFORM_VERIFIER_TDX,
		.launch_regs = tdx_launch_regs,
		.nlaunch_regs = ARRAY_SIZE(tdx_launch_regs),
		.launch_required = 0xf,
		.launch_covers = "firmware, kernel, initrd or command line",
		.launch_members = tdx_launch_members,
		.launch_inputs = PLATFORM_LAUNCH_FIRMWARE | PLATFORM_LAUNCH_VARS,
		.raw_detect = tdx_raw_detect,
		.from_raw = raw_copy,
		.claims = tdx_claims,
		.genuine = "genuine TDX quote (PCK chain to a pinned Intel root)",
		.shape_exact = tdx_shape_exact,
		.qemu_shape = QEMU_TDX,
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
		.verify = tpm_genuine,
		.match = tpm_match,
		.title = "TPM",
		.noun = "a TPM quote",
		.runtime_label = "PCR15",
		.launch_regs = tpm_launch_regs,
		.nlaunch_regs = ARRAY_SIZE(tpm_launch_regs),
		.launch_required = 0x2ff, /* PCR 0-7 and 9 */
		.launch_covers = "firmware, kernel, initrd or command line (boot PCRs)",
		.launch_regs_member = "pcrs",
		.launch_regs_key_text = "a boot PCR (0-7, 9)",
		.launch_members = tpm_launch_members,
		.measure_bank = "sha256",
		.key_pin = &tpm_key_pin,
		.claims = tpm_claims,
		.genuine = "TPM quote signed by the pinned attestation key",
		.shape_exact = tpm_shape_exact,
		.qemu_shape = QEMU_PLAIN,
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

const struct platform *platform_by_qemu_shape(enum qemu_platform s)
{
	for (size_t i = 0; i < ARRAY_SIZE(platforms); i++)
		if (platforms[i].qemu && platforms[i].qemu_shape == s)
			return &platforms[i];
	return NULL;
}

const struct platform *platform_of_raw(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(platforms); i++)
		if (platforms[i].raw_detect && platforms[i].raw_detect(buf, len))
			return &platforms[i];
	return NULL;
}

bool platform_in_reference(const struct platform *pl, const struct reference *r)
{
	return ((pl->ref_sections & REF_SECTION_SNP) && r->has_snp) ||
	       ((pl->ref_sections & REF_SECTION_TDX) && r->has_tdx) ||
	       ((pl->ref_sections & REF_SECTION_TPM) && r->has_tpm);
}

void platform_reference_add(const struct platform *pl, struct reference *r)
{
	r->has_snp |= (pl->ref_sections & REF_SECTION_SNP) != 0;
	r->has_tdx |= (pl->ref_sections & REF_SECTION_TDX) != 0;
	r->has_tpm |= (pl->ref_sections & REF_SECTION_TPM) != 0;
}

static bool reg_has(const struct platform_reg *g, const struct reference *r)
{
	return *(const bool *)((const char *)r + g->has);
}

uint32_t platform_pinned(const struct platform *pl, const struct reference *r)
{
	uint32_t bits = 0;

	if (!platform_in_reference(pl, r))
		return 0;
	for (size_t i = 0; i < pl->nlaunch_regs; i++)
		bits |= reg_has(&pl->launch_regs[i], r) ? 1u << i : 0;
	return bits;
}

bool platform_key_pinned(const struct platform *pl, const struct reference *r)
{
	return !pl->key_pin || reg_has(pl->key_pin, r);
}

/*
 * The evidence families of the rows taking option opt, once each: a row
 * verified by the SEV-SNP or TDX verifier is of that family ("TDX" for
 * tdx and az-tdx-vtpm), another goes by its title. "TDX", "SEV-SNP or TDX".
 */
static const char *family(const struct platform *pl)
{
	return pl->verifiers & PLATFORM_VERIFIER_SNP   ? "SEV-SNP"
	       : pl->verifiers & PLATFORM_VERIFIER_TDX ? "TDX"
						       : pl->title;
}

static void takers(unsigned opt, char *out, size_t cap)
{
	size_t o = 0, n = 0;

	out[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(platforms) && o < cap; i++) {
		bool seen = false;
		int w;

		if (!(platforms[i].opts & opt))
			continue;
		for (size_t j = 0; j < i; j++)
			seen |= (platforms[j].opts & opt) &&
				!strcmp(family(&platforms[j]), family(&platforms[i]));
		if (seen)
			continue;
		w = snprintf(out + o, cap - o, "%s%s", n++ ? " or " : "", family(&platforms[i]));
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

const char *platform_options_misfit(const struct platform *pl, unsigned given, char *buf,
				    size_t cap)
{
	static const struct {
		unsigned opt;
		const char *name;
	} opts[] = {
		{ PLATFORM_OPT_CERTS, "--certs" },
		{ PLATFORM_OPT_COLLATERAL, "--collateral" },
		{ PLATFORM_OPT_TEST_ROOTS, "--test-roots" },
	};
	char who[64];

	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		if (!(given & opts[i].opt) || (pl->opts & opts[i].opt))
			continue;
		takers(opts[i].opt, who, sizeof(who));
		snprintf(buf, cap, "%s applies to %s evidence; this is %s evidence", opts[i].name,
			 who, pl->name);
		return buf;
	}
	return NULL;
}

int platform_verifiers_new(const struct platform *pl, const char *test_roots,
			   const char *collateral, time_t now, struct platform_verifiers *pv,
			   char *err, size_t errlen)
{
	int r;

	memset(pv, 0, sizeof(*pv));
	if (pl->verifiers & PLATFORM_VERIFIER_SNP) {
		r = snp_verifier_new(test_roots, now, &pv->snp);
		if (r < 0)
			return set_error(err, errlen, r, "%s: %s",
					 test_roots ? test_roots : "built-in roots", strerror(-r));
	}
	if (pl->verifiers & PLATFORM_VERIFIER_TDX)
		return tdx_verifier_new(test_roots, collateral, now, &pv->tdx, err, errlen);
	return 0;
}

void platform_verifiers_free(struct platform_verifiers *pv)
{
	snp_verifier_free(pv->snp);
	tdx_verifier_free(pv->tdx);
	memset(pv, 0, sizeof(*pv));
}

int platform_launch_from_measure(const struct platform *pl, const cJSON *measured, cJSON *launch,
				 cJSON *unpredicted)
{
	const cJSON *src = measured;
	cJSON *dst = launch;

	if (pl->launch_regs_member) {
		src = cJSON_GetObjectItemCaseSensitive(src, pl->launch_regs_member);
		if (pl->measure_bank)
			src = cJSON_GetObjectItemCaseSensitive(src, pl->measure_bank);
		if (!(dst = cJSON_AddObjectToObject(launch, pl->launch_regs_member)))
			return -ENOMEM;
	}
	for (size_t i = 0; i < pl->nlaunch_regs; i++) {
		const char *name = pl->launch_regs[i].name;
		const cJSON *v;
		char key[24];

		if (!(pl->launch_required & (1u << i)))
			continue;
		if (pl->launch_regs_member) {
			snprintf(key, sizeof(key), "%zu", i);
			name = key;
		}
		v = cJSON_GetObjectItemCaseSensitive(src, name);
		if (v && !cJSON_AddItemToObject(dst, name, cJSON_Duplicate(v, 1)))
			return -ENOMEM;
		if (!v && unpredicted &&
		    !cJSON_AddItemToArray(unpredicted, cJSON_CreateString(pl->launch_regs[i].name)))
			return -ENOMEM;
	}
	return 0;
}
