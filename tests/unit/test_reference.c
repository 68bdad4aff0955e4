/* SPDX-License-Identifier: Apache-2.0 */
/* Reference values JSON (docs/design.md §6): what it accepts and what it refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "measurement/measurement.h"

static int parse(const char *s, struct reference *ref, char *err, size_t errlen)
{
	return reference_parse(s, strlen(s), ref, err, errlen);
}

#define HEX32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void test_defaults_are_secure(void **state)
{
	struct reference ref;

	(void)state;
	assert_int_equal(parse("{}", &ref, NULL, 0), 0);
	assert_false(ref.snp.allow_debug);
	assert_false(ref.snp.allow_migration_agent);
	assert_true(ref.snp.allow_smt);
	assert_false(ref.tdx.allow_debug);
	assert_int_equal(ref.tdx.accepted_tcb, TCB_UP_TO_DATE);
	assert_false(ref.has_snp || ref.has_tdx);
}

static void test_full_document(void **state)
{
	const char *doc =
		"{\"snp\": {\"measurement\": \"" /* 48 bytes */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f\", \"policy\": \"0x30000\", \"vmpl\": 1,"
		" \"min_tcb\": {\"bootloader\": 3, \"tee\": 0, \"snp\": 8, \"microcode\": 115},"
		" \"require_single_socket\": true, \"min_abi\": {\"major\": 1, \"minor\": 55},"
		" \"require_policy\": [\"ciphertext_hiding_dram\", \"page_swap_disable\"],"
		" \"require_platform\": [\"alias_check_complete\"],"
		" \"product\": \"Genoa-B1\", \"allow_debug\": true, \"allow_smt\": false},"
		" \"tdx\": {\"rtmr3\": \"" /* 48 bytes */
		"ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f\", \"accepted_tcb_status\": [\"UpToDate\","
		" \"SWHardeningNeeded\"]},"
		" \"tpm\": {}, \"luks_header_sha256\": \""
		"00000000000000000000000000000000000000000000000000000000000000aa\"}";
	struct reference ref;
	char err[128];

	(void)state;
	assert_int_equal(parse(doc, &ref, err, sizeof(err)), 0);
	assert_true(ref.has_snp && ref.snp.has_measurement && ref.snp.has_policy);
	assert_int_equal(ref.snp.measurement[47], 0x2f);
	assert_int_equal(ref.snp.policy, 0x30000);
	assert_int_equal(ref.snp.vmpl, 1);
	assert_int_equal(ref.snp.min_tcb.microcode, 115);
	assert_string_equal(ref.snp.product, "Genoa-B1");
	assert_true(ref.snp.allow_debug);
	assert_false(ref.snp.allow_smt);
	assert_true(ref.snp.require_single_socket);
	assert_true(ref.snp.has_min_abi);
	assert_int_equal(ref.snp.min_abi_major, 1);
	assert_int_equal(ref.snp.min_abi_minor, 55);
	assert_int_equal(ref.snp.require_policy,
			 SNP_POLICY_CIPHERTEXT_HIDING_DRAM | SNP_POLICY_PAGE_SWAP_DISABLE);
	assert_int_equal(ref.snp.require_platform, SNP_PLATFORM_ALIAS_CHECK_COMPLETE);
	assert_true(ref.has_tdx && ref.tdx.has_rtmr[3] && !ref.tdx.has_rtmr[0]);
	assert_int_equal(ref.tdx.rtmr[3][0], 0xff);
	assert_int_equal(ref.tdx.accepted_tcb, TCB_UP_TO_DATE | TCB_SW_HARDENING_NEEDED);
	assert_true(ref.has_luks_header_sha256);
	assert_int_equal(ref.luks_header_sha256[31], 0xaa);
}

static void test_tpm_section(void **state)
{
	const char *doc = "{\"tpm\": {\"ak_sha256\": \"" HEX32 "\", \"pcrs\": {\"sha256\": "
			  "{\"0\": \"" HEX32 "\", \"23\": \"" HEX32 "\"}}}}";
	struct reference ref;
	char err[160];

	(void)state;
	assert_int_equal(parse(doc, &ref, err, sizeof(err)), 0);
	assert_true(ref.has_tpm && ref.tpm.has_ak_sha256);
	assert_true(ref.tpm.has_pcr[0] && ref.tpm.has_pcr[23] && !ref.tpm.has_pcr[7]);
	assert_int_equal(ref.tpm.pcr[23][31], 0x1f);
}

static void test_refusals_name_the_member(void **state)
{
	static const struct {
		const char *doc;
		const char *err;
	} cases[] = {
		{ "{\"snpp\": {}}", "reference.snpp: unknown member" },
		{ "{\"snp\": {\"mesurement\": \"00\"}}", "snp.mesurement: unknown member" },
		{ "{\"snp\": {\"min_tcb\": {\"ucode\": 1}}}", "snp.min_tcb.ucode: unknown member" },
		{ "{\"snp\": {\"measurement\": \"00\"}}", "snp.measurement: must be a hex string" },
		{ "{\"snp\": {\"host_data\": 5}}", "snp.host_data: must be a hex string" },
		{ "{\"snp\": {\"vmpl\": 4}}", "snp.vmpl: must be" },
		{ "{\"snp\": {\"policy\": -1}}", "snp.policy: must be" },
		{ "{\"snp\": {\"allow_debug\": \"yes\"}}",
		  "snp.allow_debug: must be true or false" },
		{ "{\"snp\": {\"product\": \"Rome\"}}", "snp.product: must be" },
		{ "{\"snp\": {\"min_tcb\": {\"snp\": 256}}}", "snp.min_tcb.snp: must be" },
		{ "{\"snp\": []}", "snp: must be an object" },
		{ "{\"snp\": {\"require_policy\": [\"cxl_allow\"]}}",
		  "snp.require_policy: must be" },
		{ "{\"snp\": {\"require_policy\": \"rapl_dis\"}}", "snp.require_policy: must be" },
		{ "{\"snp\": {\"require_platform\": [\"smt\"]}}", "snp.require_platform: must be" },
		{ "{\"snp\": {\"min_abi\": {\"major\": 256}}}", "snp.min_abi.major: must be" },
		{ "{\"snp\": {\"min_abi\": {\"patch\": 1}}}", "snp.min_abi.patch: unknown member" },
		{ "{\"snp\": {\"require_single_socket\": 1}}",
		  "snp.require_single_socket: must be true or false" },
		{ "{\"tdx\": {\"rtmr4\": \"00\"}}", "tdx.rtmr4: unknown member" },
		{ "{\"tdx\": {\"accepted_tcb_status\": [\"Fine\"]}}", "tdx.accepted_tcb_status" },
		{ "{\"tdx\": {\"accepted_tcb_status\": []}}", "tdx.accepted_tcb_status" },
		{ "{\"tpm\": {\"pcr\": {}}}", "tpm.pcr: unknown member" },
		{ "{\"tpm\": {\"pcrs\": {\"sha1\": {}}}}", "tpm.pcrs.sha1: unknown member" },
		{ "{\"tpm\": {\"pcrs\": {\"sha256\": {\"24\": \"00\"}}}}",
		  "tpm.pcrs.sha256.24: not a PCR index" },
		{ "{\"tpm\": {\"pcrs\": {\"sha256\": {\"07\": \"00\"}}}}",
		  "tpm.pcrs.sha256.07: not a PCR index" },
		{ "{\"tpm\": {\"pcrs\": {\"sha256\": {\"7\": \"00\"}}}}",
		  "tpm.pcrs.sha256.7: must be 32 bytes" },
		{ "{\"tpm\": {\"ak_sha256\": \"00\"}}", "tpm.ak_sha256" },
		{ "{\"snp\": {}, \"snp\": {}}", "reference: not valid JSON" },
		{ "[]", "reference: must be an object" },
		{ "{", "reference: not valid JSON" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reference ref;
		char err[160] = "";

		assert_int_not_equal(parse(cases[i].doc, &ref, err, sizeof(err)), 0);
		if (!strstr(err, cases[i].err))
			fail_msg("%s: error '%s' lacks '%s'", cases[i].doc, err, cases[i].err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_secure),
		cmocka_unit_test(test_full_document),
		cmocka_unit_test(test_tpm_section),
		cmocka_unit_test(test_refusals_name_the_member),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
