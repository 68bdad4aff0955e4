/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure's vTPM evidence (measurement/az_vtpm.c) against the real vectors of
 * tests/vectors/azure (Trustee's test data, see its README): accepted under
 * the vendors' pinned roots, then each byte-level change a host could make
 * refused by the check that owns it; the completeness rule of an Azure
 * reference, and a policy's platforms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/lib.h"
#include "measurement/az_vtpm.h"
#include "tests/unit/support/sim.h"

#define NOW 1780272000 /* 2026-06-01T00:00:00Z: inside the VCEK's and PCK chain's validity */

static const uint8_t challenge[64] = "challenge"; /* the vectors' nonce, zero-padded */

struct fixture {
	struct snp_verifier *snp;
	struct tdx_verifier *tdx;
	struct kbs_evidence e;
	struct verdict v;
	struct reference ref;
};

static cJSON *load(const char *rel)
{
	char path[512];
	size_t len;
	uint8_t *text = sim_read(sim_path(path, sizeof(path), "CVM_VECTORS", rel), &len);
	cJSON *j = NULL;

	assert_int_equal(json_parse((char *)text, len, &j), 0);
	free(text);
	return j;
}

static void parse(struct fixture *f, enum cvm_platform p, const char *rel)
{
	cJSON *j = load(rel);
	char err[200];

	kbs_evidence_free(&f->e);
	if (kbs_evidence_parse(p, j, &f->e, err, sizeof(err)) < 0)
		fail_msg("%s: %s", rel, err);
	cJSON_Delete(j);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[200];

	assert_non_null(f);
	assert_int_equal(snp_verifier_new(NULL, NOW, &f->snp), 0);
	assert_int_equal(tdx_verifier_new(NULL, NULL, NOW, &f->tdx, err, sizeof(err)), 0);
	reference_defaults(&f->ref);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kbs_evidence_free(&f->e);
	snp_verifier_free(f->snp);
	tdx_verifier_free(f->tdx);
	free(f);
	return 0;
}

static int run(struct fixture *f, const uint8_t *rd)
{
	uint8_t reg[48];
	size_t reglen;

	return kbs_evidence_verify(&f->e, f->snp, f->tdx, &f->ref, rd, reg, &reglen, &f->v);
}

static void expect_ok(struct fixture *f, const uint8_t *rd)
{
	if (run(f, rd) != 0)
		fail_msg("%s: %s", check_name(f->v.failed), verdict_first_failure(&f->v)->detail);
}

/* The first failure must be check c, its detail containing what. */
static void expect_refused(struct fixture *f, const uint8_t *rd, enum cvm_check c, const char *what)
{
	const struct check_result *r;

	assert_int_equal(run(f, rd), -1);
	r = verdict_first_failure(&f->v);
	assert_non_null(r);
	if (r->check != c || !strstr(r->detail, what))
		fail_msg("want %s '%s', got %s: %s", check_name(c), what, check_name(r->check),
			 r->detail);
}

static void test_real_vectors_verify(void **state)
{
	struct fixture *f = *state;
	uint8_t rd2[64] = { 0 };

	parse(f, PLATFORM_AZ_SNP_VTPM, "azure/snp-evidence-v1.json");
	expect_ok(f, challenge);
	assert_int_equal(f->v.platform, PLATFORM_AZ_SNP_VTPM);
	expect_ok(f, NULL);

	parse(f, PLATFORM_AZ_SNP_VTPM, "azure/snp-evidence-v2.json");
	assert_int_equal(f->e.az_version, 2);
	assert_int_equal(hex_decode_exact("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16"
					  "168cd6ae9aa398f647caa2338748cd0fd9f5f819ef",
					  rd2, 48),
			 0);
	expect_ok(f, rd2);

	parse(f, PLATFORM_AZ_TDX_VTPM, "azure/tdx-evidence-v1.json");
	expect_ok(f, challenge);
	assert_false(f->v.tcb_status_checked);
}

static void test_hardware_report_mutations(void **state)
{
	struct fixture *f = *state;

	/* SEV-SNP ABI Table 23 inside the HCL report (at 32): the signature covers it all */
	parse(f, PLATFORM_AZ_SNP_VTPM, "azure/snp-evidence-v1.json");
	f->e.hcl[32 + 0x2a0] ^= 1;
	expect_refused(f, challenge, CHECK_SIGNATURE, "report signature");
	f->e.hcl[32 + 0x2a0] ^= 1;
	f->e.hcl[32 + 0x90] ^= 1; /* measurement */
	expect_refused(f, challenge, CHECK_SIGNATURE, "report signature");
	f->e.hcl[32 + 0x90] ^= 1;

	/* TD quote: its signature and its report_data (48 + 520) */
	parse(f, PLATFORM_AZ_TDX_VTPM, "azure/tdx-evidence-v1.json");
	f->e.td_quote[640] ^= 1;
	expect_refused(f, challenge, CHECK_SIGNATURE, "attestation key");
	f->e.td_quote[640] ^= 1;
	f->e.td_quote[48 + 520] ^= 1;
	expect_refused(f, challenge, CHECK_SIGNATURE, "attestation key");
}

static void test_var_data_binding(void **state)
{
	struct fixture *f = *state;
	uint8_t *p;

	/* any byte of the var data: its SHA-256 is no longer the report's report_data */
	parse(f, PLATFORM_AZ_SNP_VTPM, "azure/snp-evidence-v1.json");
	p = (uint8_t *)strstr((char *)f->e.hcl + AZ_HCL_VAR_OFF, "vmUniqueId");
	assert_non_null(p);
	p[0] = 'V';
	expect_refused(f, challenge, CHECK_REPORT_DATA, "does not bind the HCL var data");

	/* the AK swapped for another key in the var data: the same */
	parse(f, PLATFORM_AZ_TDX_VTPM, "azure/tdx-evidence-v1.json");
	p = (uint8_t *)strstr((char *)f->e.hcl + AZ_HCL_VAR_OFF, "\"n\":\"");
	assert_non_null(p);
	p[6] ^= 1;
	expect_refused(f, challenge, CHECK_REPORT_DATA, "does not bind the HCL var data");
}

static void test_quote_mutations(void **state)
{
	struct fixture *f = *state;
	struct kbs_evidence other = { 0 };
	cJSON *j = load("azure/snp-evidence-v2.json");
	char err[200];
	uint8_t *t;
	size_t n;

	parse(f, PLATFORM_AZ_SNP_VTPM, "azure/snp-evidence-v1.json");
	f->e.extra[6 + 10] ^= 1; /* the RSA signature */
	expect_refused(f, challenge, CHECK_SIGNATURE, "quote signature");
	f->e.extra[6 + 10] ^= 1;
	f->e.raw[f->e.raw_len - 1] ^= 1; /* the quoted PCR digest */
	expect_refused(f, challenge, CHECK_SIGNATURE, "quote signature");
	f->e.raw[f->e.raw_len - 1] ^= 1;
	f->e.pcrs[4][0] ^= 1;
	expect_refused(f, challenge, CHECK_PCR_DIGEST, "do not hash to the quoted digest");
	f->e.pcrs[4][0] ^= 1;
	/* the broker's nonce: another one, or one byte longer */
	{
		uint8_t other_nonce[64] = "challengf", longer[64] = "challenge!";

		expect_refused(f, other_nonce, CHECK_REPORT_DATA, "qualifying data");
		expect_refused(f, longer, CHECK_REPORT_DATA, "qualifying data");
	}

	/* another machine's quote (signed by its AK) with this HCL report */
	assert_int_equal(kbs_evidence_parse(PLATFORM_AZ_SNP_VTPM, j, &other, err, sizeof(err)), 0);
	t = f->e.raw, n = f->e.raw_len;
	f->e.raw = other.raw, f->e.raw_len = other.raw_len;
	other.raw = t, other.raw_len = n;
	t = f->e.extra, n = f->e.extra_len;
	f->e.extra = other.extra, f->e.extra_len = other.extra_len;
	other.extra = t, other.extra_len = n;
	expect_refused(f, challenge, CHECK_SIGNATURE, "quote signature");
	kbs_evidence_free(&other);
	cJSON_Delete(j);
}

static void test_hcl_layout_mutations(void **state)
{
	struct fixture *f = *state;
	size_t len;

	parse(f, PLATFORM_AZ_SNP_VTPM, "azure/snp-evidence-v1.json");
	len = f->e.hcl_len;
	f->e.hcl_len = 2000;
	expect_refused(f, challenge, CHECK_FORMAT, "truncated");
	f->e.hcl_len = 100;
	expect_refused(f, challenge, CHECK_FORMAT, "shorter than");
	f->e.hcl_len = len;
	put_le(f->e.hcl + AZ_HCL_IGVM_OFF + 8, AZ_HCL_TYPE_TDX, 4);
	expect_refused(f, challenge, CHECK_FORMAT, "HCL report type 4");
	put_le(f->e.hcl + AZ_HCL_IGVM_OFF + 8, AZ_HCL_TYPE_SNP, 4);
	f->e.hcl[1] = 'X';
	expect_refused(f, challenge, CHECK_FORMAT, "HCLA");
	f->e.hcl[1] = 'C';
	put_le(f->e.hcl + 8, le32(f->e.hcl + 8) + 1, 4);
	expect_refused(f, challenge, CHECK_FORMAT, "sizes disagree");
	put_le(f->e.hcl + 8, le32(f->e.hcl + 8) - 1, 4);
	put_le(f->e.hcl + AZ_HCL_IGVM_OFF + 12, 2, 4);
	expect_refused(f, challenge, CHECK_FORMAT, "hash type");
	put_le(f->e.hcl + AZ_HCL_IGVM_OFF + 12, AZ_HCL_HASH_SHA256, 4);
	f->e.hcl[len - 1] = 1;
	expect_refused(f, challenge, CHECK_FORMAT, "not zero");
	f->e.hcl[len - 1] = 0;
	expect_ok(f, challenge);

	/* a TDX HCL report under the SNP shape, and the TD report's padding */
	parse(f, PLATFORM_AZ_TDX_VTPM, "azure/tdx-evidence-v1.json");
	f->e.platform = PLATFORM_AZ_SNP_VTPM;
	expect_refused(f, challenge, CHECK_FORMAT,
		       "HCL report type 4, this evidence shape needs 2");
	f->e.platform = PLATFORM_AZ_TDX_VTPM;
	f->e.hcl[32 + AZ_HCL_TD_REPORT_SIZE + 5] = 1;
	expect_refused(f, challenge, CHECK_FORMAT, "padding after the TD report");
}

/* A real HCL report from another source under this evidence's other parts. */
static void swap_hcl(struct fixture *f, const char *rel)
{
	char path[512];
	size_t len;

	free(f->e.hcl);
	f->e.hcl = sim_read(sim_path(path, sizeof(path), "CVM_VECTORS", rel), &len);
	f->e.hcl_len = len;
}

static void test_other_sources_hcl_reports(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *ak = NULL;
	uint8_t user[64];
	bool has_user;
	char why[160];

	/* azure-cvm-tooling's SNP report (2048 bytes, 583 of var data) under Trustee's VCEK */
	parse(f, PLATFORM_AZ_SNP_VTPM, "azure/snp-evidence-v1.json");
	swap_hcl(f, "azure/kinvolk-hcl-report-snp.bin");
	expect_refused(f, challenge, CHECK_SIGNATURE, "report signature");
	assert_true(f->v.results[0].ok);
	assert_non_null(strstr(f->v.results[0].detail, "583 bytes of var data"));
	assert_int_equal(az_var_data_parse(f->e.hcl + AZ_HCL_VAR_OFF, 583, &ak, user, &has_user,
					   why, sizeof(why)),
			 0);
	assert_int_equal(EVP_PKEY_get_bits(ak), 2048);
	EVP_PKEY_free(ak);

	/* its TD report with another VM's genuine TD quote: the quote binds other var data */
	parse(f, PLATFORM_AZ_TDX_VTPM, "azure/tdx-evidence-v1.json");
	swap_hcl(f, "azure/kinvolk-hcl-report-tdx.bin");
	expect_refused(f, challenge, CHECK_REPORT_DATA, "does not bind the HCL var data");
	assert_non_null(strstr(f->v.results[0].detail, "1202 bytes of var data"));
}

static void test_reference_values(void **state)
{
	struct fixture *f = *state;
	char err[200];
	const char *pins = "{\"snp\": {\"measurement\": \"6a063be9dd79f6371c842e480f8dc3b5c72596"
			   "1344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e\"}, "
			   "\"tpm\": {\"pcrs\": {\"sha256\": {\"0\": \"e15c44796beabf46abcec7c57e5"
			   "90942041e47497e4ec27571c8b7664f48dced\"}}}}";

	parse(f, PLATFORM_AZ_SNP_VTPM, "azure/snp-evidence-v1.json");
	assert_int_equal(reference_parse(pins, strlen(pins), &f->ref, err, sizeof(err)), 0);
	expect_ok(f, challenge);
	f->ref.tpm.pcr[0][31] ^= 1;
	expect_refused(f, challenge, CHECK_PCR, "PCR0");
	f->ref.tpm.pcr[0][31] ^= 1;
	f->ref.snp.measurement[0] ^= 1;
	expect_refused(f, challenge, CHECK_MEASUREMENT, "measurement");
	/* a pinned AK is checked too, though not required */
	f->ref.snp.measurement[0] ^= 1;
	f->ref.tpm.has_ak_sha256 = true;
	expect_refused(f, challenge, CHECK_AK, "not the pinned one");
	reference_defaults(&f->ref);
}

static void test_parse_refusals(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "{\"vcek\": \"\"}", "version missing" },
		{ "{\"version\": 3, \"vcek\": \"\"}", "version must be 1 or 2" },
		{ "{\"version\": 1, \"tpm_quote\": {\"message\": \"ff\", \"signature\": \"00\", "
		  "\"pcrs\": []}}",
		  "not 24 values" },
		{ "{\"version\": 1, \"tpm_quote\": {\"message\": \"zz\", \"signature\": \"00\"}}",
		  "hex message and signature" },
	};
	struct kbs_evidence e;
	char err[200];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cJSON *j = cJSON_Parse(cases[i].json);

		assert_int_equal(kbs_evidence_parse(PLATFORM_AZ_SNP_VTPM, j, &e, err, sizeof(err)),
				 -EBADMSG);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: %s", i, err);
		cJSON_Delete(j);
	}
}

static void test_rows_and_policy(void **state)
{
	struct kbs_policy p;
	struct reference r;
	char err[300], text[1200], pcrs[900] = "";
	size_t o = 0;
	const char *m48 = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3"
			  "c4c5c6c7c8c9cacbcccdcecf";

	(void)state;
	assert_int_equal(platform_by_kbs_tee("az-snp-vtpm")->id, PLATFORM_AZ_SNP_VTPM);
	assert_int_equal(platform_by_kbs_tee("az-tdx-vtpm")->id, PLATFORM_AZ_TDX_VTPM);
	assert_string_equal(platform_name(PLATFORM_AZ_TDX_VTPM), "az-tdx-vtpm");
	{
		cJSON *j = load("azure/tdx-evidence-v1.json");

		/* it carries "tpm_quote" too: the table finds the Azure row first */
		assert_int_equal(platform_of_json(j)->id, PLATFORM_AZ_TDX_VTPM);
		cJSON_Delete(j);
	}
	for (int i = 0; i <= 9; i++)
		if (i != 8)
			o += (size_t)snprintf(pcrs + o, sizeof(pcrs) - o, "%s\"%d\": \"%064d\"",
					      o ? ", " : "", i, 0);

	reference_defaults(&r);
	r.has_snp = true;
	assert_int_equal(az_reference_complete(&r, PLATFORM_AZ_SNP_VTPM, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "snp.measurement"));
	assert_non_null(strstr(err, "pcr9"));

	snprintf(text, sizeof(text),
		 "{\"platforms\": [\"az-snp-vtpm\"], \"reference\": {\"snp\": {\"measurement\": "
		 "\"%s\"}, \"tpm\": {\"pcrs\": {\"sha256\": {%s}}}}}",
		 m48, pcrs);
	assert_int_equal(kbs_policy_parse(text, strlen(text), &p, err, sizeof(err)), 0);
	assert_int_equal(p.ncands[PLATFORM_AZ_SNP_VTPM], 1);
	assert_int_equal(p.ncands[PLATFORM_SNP], 0); /* not named: plain SNP is not accepted */
	assert_int_equal(p.ncands[PLATFORM_TPM], 0);
	kbs_policy_free(&p);

	/* without "platforms": the plain platforms as before, never Azure's */
	snprintf(text, sizeof(text), "{\"reference\": {\"snp\": {\"measurement\": \"%s\"}}}", m48);
	assert_int_equal(kbs_policy_parse(text, strlen(text), &p, err, sizeof(err)), 0);
	assert_int_equal(p.ncands[PLATFORM_SNP], 1);
	assert_int_equal(p.ncands[PLATFORM_AZ_SNP_VTPM], 0);
	kbs_policy_free(&p);

	snprintf(text, sizeof(text),
		 "{\"platforms\": [\"az-tdx-vtpm\"], \"reference\": {\"tpm\": {\"pcrs\": "
		 "{\"sha256\": {%s}}}}}",
		 pcrs);
	assert_int_equal(kbs_policy_parse(text, strlen(text), &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "az-tdx-vtpm has no reference values"));

	snprintf(text, sizeof(text),
		 "{\"image\": {\"manifest_sha256\": \"%064d\"}, \"platforms\": [\"az-snp-vtpm\"]}",
		 0);
	assert_int_equal(kbs_policy_parse(text, strlen(text), &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "an image's manifest predicts no Azure SEV-SNP vTPM launch"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_real_vectors_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardware_report_mutations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_var_data_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quote_mutations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hcl_layout_mutations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_sources_hcl_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reference_values, setup, teardown),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_rows_and_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
