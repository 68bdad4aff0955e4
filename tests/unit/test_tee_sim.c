/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sim TEE backend's launch registers (agent/tee_sim.c): the launch file
 * a host hands over, parsed strictly, and the quote or report the sim then
 * signs, verified as the key broker verifies it (test PKI roots) against a
 * reference pinning every launch register.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "measurement/measurement.h"
#include "tests/unit/support/sim.h"

/* 48 bytes of hex: byte i is first + i. */
static const char *reg_hex(uint8_t first)
{
	static char out[4][97];
	static int k;
	uint8_t b[48];

	k = (k + 1) % 4;
	for (int i = 0; i < 48; i++)
		b[i] = (uint8_t)(first + i);
	hex_encode(b, 48, out[k]);
	return out[k];
}

static void reg_fill(uint8_t out[48], uint8_t first)
{
	for (int i = 0; i < 48; i++)
		out[i] = (uint8_t)(first + i);
}

static const char *tdx_launch_text(void)
{
	static char text[512];

	snprintf(text, sizeof(text),
		 "{\"mrtd\": \"%s\", \"rtmr0\": \"%s\", \"rtmr1\": \"%s\", \"rtmr2\": \"%s\"}",
		 reg_hex(0x10), reg_hex(0x40), reg_hex(0x70), reg_hex(0xa0));
	return text;
}

/* Writes text to $CVM_TEST_TMP/tee-sim/name; the path in a static buffer per name. */
static const char *write_file(const char *name, const char *text)
{
	static char paths[4][600];
	static int k;
	char cmd[700];

	k = (k + 1) % 4;
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/tee-sim", sim_env("CVM_TEST_TMP"));
	assert_int_equal(system(cmd), 0);
	snprintf(paths[k], sizeof(paths[k]), "%s/tee-sim/%s", sim_env("CVM_TEST_TMP"), name);
	sim_write(paths[k], text, strlen(text));
	return paths[k];
}

/* ---- the launch file ---- */

static void test_launch_tdx(void **state)
{
	const char *text = tdx_launch_text();
	struct sim_launch l;
	uint8_t want[48];
	char err[256] = "";

	(void)state;
	assert_int_equal(sim_launch_parse(text, strlen(text), true, &l, err, sizeof(err)), 0);
	reg_fill(want, 0x10);
	assert_memory_equal(l.mrtd, want, 48);
	reg_fill(want, 0x40);
	assert_memory_equal(l.rtmr[0], want, 48);
	reg_fill(want, 0x70);
	assert_memory_equal(l.rtmr[1], want, 48);
	reg_fill(want, 0xa0);
	assert_memory_equal(l.rtmr[2], want, 48);
	assert_true(is_zero(l.measurement, 48));

	/* a register left out is zeros */
	/* upper case hex is hex */
	text = "{\"rtmr1\": \"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
	       "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\"}";
	assert_int_equal(sim_launch_parse(text, strlen(text), true, &l, err, sizeof(err)), 0);
	assert_true(is_zero(l.mrtd, 48));
	assert_true(is_zero(l.rtmr[0], 48));
	memset(want, 0xff, 48);
	assert_memory_equal(l.rtmr[1], want, 48);
	assert_true(is_zero(l.rtmr[2], 48));
	assert_int_equal(sim_launch_parse("{}", 2, true, &l, err, sizeof(err)), 0);
	assert_true(is_zero(&l, sizeof(l)));
}

static void test_launch_snp(void **state)
{
	char text[256], err[256] = "";
	struct sim_launch l;
	uint8_t want[48];

	(void)state;
	snprintf(text, sizeof(text), " {\"measurement\": \"%s\"}\n", reg_hex(0xc0));
	assert_int_equal(sim_launch_parse(text, strlen(text), false, &l, err, sizeof(err)), 0);
	reg_fill(want, 0xc0);
	assert_memory_equal(l.measurement, want, 48);
	assert_true(is_zero(l.mrtd, 48));
	/* SNP has one launch register: it must be there */
	assert_int_equal(sim_launch_parse("{}", 2, false, &l, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "measurement: missing");
}

static void test_launch_refuses_unknown_members(void **state)
{
	static const struct {
		bool tdx;
		const char *member, *want;
	} c[] = {
		{ true, "rtmr3",
		  "rtmr3: unknown member (tdx takes mrtd, rtmr0, rtmr1, rtmr2, mrconfigid)" },
		{ true, "measurement", "measurement: unknown member (tdx takes" },
		{ true, "MRTD", "MRTD: unknown member" },
		{ false, "mrtd", "mrtd: unknown member (snp takes measurement, host_data)" },
		{ false, "family_id", "family_id: unknown member" },
		{ true, "host_data", "host_data: unknown member (tdx takes" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		char text[512], err[256] = "";
		struct sim_launch l;
		int r;

		snprintf(text, sizeof(text), "{\"%s\": \"%s\", \"%s\": \"%s\"}",
			 c[i].tdx ? "mrtd" : "measurement", reg_hex(1), c[i].member, reg_hex(2));
		r = sim_launch_parse(text, strlen(text), c[i].tdx, &l, err, sizeof(err));
		if (r != -EINVAL || strncmp(err, c[i].want, strlen(c[i].want)) || strchr(err, '\n'))
			fail_msg("%s: got %d \"%s\", want \"%s\"", text, r, err, c[i].want);
		assert_true(is_zero(&l, sizeof(l)));
	}
}

static void test_launch_refuses_bad_values(void **state)
{
	char short_hex[96], long_hex[100], odd[98], bad_digit[97], prefixed[99];
	const struct {
		bool tdx;
		const char *member;
	} c[] = {
		{ true, "rtmr0" },
		{ true, "rtmr2" },
		{ false, "measurement" },
	};
	const char *values[] = { short_hex, long_hex, odd, bad_digit, prefixed, "" };

	(void)state;
	memset(short_hex, '0', 94);
	short_hex[94] = 0;
	memset(long_hex, '0', 98);
	long_hex[98] = 0;
	memset(odd, 'a', 97);
	odd[97] = 0;
	snprintf(bad_digit, sizeof(bad_digit), "%s", reg_hex(0));
	bad_digit[50] = 'g';
	snprintf(prefixed, sizeof(prefixed), "0x%.94s", reg_hex(0));
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(values); j++) {
			char text[512], err[256] = "", want[64];
			struct sim_launch l;
			int r;

			snprintf(text, sizeof(text), "{\"%s\": \"%s\"}", c[i].member, values[j]);
			snprintf(want, sizeof(want), "%s: must be 48 bytes of hex", c[i].member);
			r = sim_launch_parse(text, strlen(text), c[i].tdx, &l, err, sizeof(err));
			if (r != -EINVAL || strcmp(err, want))
				fail_msg("%s: got %d \"%s\", want \"%s\"", text, r, err, want);
		}
	}
}

static void test_launch_refuses_what_is_not_one_object(void **state)
{
	static const char *const texts[] = {
		"",
		"[]",
		"\"mrtd\"",
		"{\"mrtd\": 1}",
		"{\"mrtd\": null}",
		"{\"rtmr0\": [\"00\"]}",
		"{} {}",
		"{\"rtmr0\": \"00\", \"rtmr0\": \"00\"}",
	};
	const char *const want[] = {
		"not a JSON object",
		"not a JSON object",
		"not a JSON object",
		"mrtd: must be 48 bytes of hex",
		"mrtd: must be 48 bytes of hex",
		"rtmr0: must be 48 bytes of hex",
		"not a JSON object",
		"not a JSON object",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		char err[256] = "";
		struct sim_launch l;
		int r = sim_launch_parse(texts[i], strlen(texts[i]), true, &l, err, sizeof(err));

		if (r != -EINVAL || strcmp(err, want[i]))
			fail_msg("%s: got %d \"%s\", want \"%s\"", texts[i], r, err, want[i]);
	}
}

/* ---- the backend ---- */

static void test_sim_refuses_measurement_and_launch(void **state)
{
	struct tee_config cfg = {
		.sim_pki = sim_env("CVM_TEST_PKI"),
		.sim_measurement = reg_hex(0),
		.sim_launch = write_file("both.json", tdx_launch_text()),
	};
	struct tee *t = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "sim: a measurement or a launch file, not both");
	assert_null(t);
}

static void test_sim_refuses_bad_launch_files(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI") };
	struct tee *t = NULL;
	char err[512] = "", want[700];

	(void)state;
	cfg.sim_launch = write_file("bad.json", "{\"rtmr3\": \"00\"}");
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "sim: launch %s: rtmr3: unknown member", cfg.sim_launch);
	if (strncmp(err, want, strlen(want)))
		fail_msg("got \"%s\", want \"%s\"", err, want);
	/* a TDX launch is not an SNP one */
	cfg.sim_launch = write_file("tdx.json", tdx_launch_text());
	cfg.sim_platform = "snp";
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "sim: launch %s: mrtd: unknown member", cfg.sim_launch);
	if (strncmp(err, want, strlen(want)))
		fail_msg("got \"%s\", want \"%s\"", err, want);
	cfg.sim_platform = NULL;
	snprintf(want, sizeof(want), "%s/tee-sim/none.json", sim_env("CVM_TEST_TMP"));
	cfg.sim_launch = want;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "none.json: No such file or directory"));
	assert_null(t);
}

/* The evidence of t binding rd, taken apart as the broker takes it. */
static void evidence_of(struct tee *t, enum cvm_platform p, const uint8_t rd[64],
			struct kbs_evidence *e)
{
	cJSON *ev = NULL;
	char err[256] = "";

	if (t->evidence(t, rd, &ev, err, sizeof(err)) < 0)
		fail_msg("evidence: %s", err);
	assert_int_equal(kbs_evidence_parse(p, ev, e, err, sizeof(err)), 0);
	cJSON_Delete(ev);
}

static void test_sim_tdx_quote_carries_the_launch(void **state)
{
	struct tee_config cfg = {
		.sim_pki = sim_env("CVM_TEST_PKI"),
		.sim_launch = write_file("launch.json", tdx_launch_text()),
	};
	struct tdx_verifier *tv = NULL;
	struct tee *t = NULL;
	struct kbs_evidence e;
	struct reference ref;
	struct tdx_quote q;
	struct verdict v;
	uint8_t rd[64], reg[48], want[48];
	size_t reglen = 0;
	char err[512] = "", path[512];

	(void)state;
	memset(rd, 0x5e, sizeof(rd));
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	evidence_of(t, PLATFORM_TDX, rd, &e);
	tee_close(t);

	verdict_init(&v, PLATFORM_TDX);
	assert_int_equal(tdx_quote_parse(e.raw, e.raw_len, &q, &v), 0);
	reg_fill(want, 0x10);
	assert_memory_equal(q.body.mrtd, want, 48);
	reg_fill(want, 0x40);
	assert_memory_equal(q.body.rtmr[0], want, 48);
	reg_fill(want, 0x70);
	assert_memory_equal(q.body.rtmr[1], want, 48);
	reg_fill(want, 0xa0);
	assert_memory_equal(q.body.rtmr[2], want, 48);
	/* RTMR3 stays the runtime register: nothing measured, nothing in it */
	assert_true(is_zero(q.body.rtmr[3], 48));

	/* genuine, and it meets a reference pinning every launch register */
	sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/roots.pem");
	assert_int_equal(tdx_verifier_new(path, NULL, 0, &tv, err, sizeof(err)), 0);
	reference_defaults(&ref);
	ref.has_tdx = true;
	ref.tdx.has_mrtd = true;
	reg_fill(ref.tdx.mrtd, 0x10);
	for (int i = 0; i < 3; i++) {
		ref.tdx.has_rtmr[i] = true;
		reg_fill(ref.tdx.rtmr[i], (uint8_t)(0x40 + 0x30 * i));
	}
	assert_int_equal(reference_complete(&ref, PLATFORM_TDX, err, sizeof(err)), 0);
	if (kbs_evidence_verify(&e, NULL, tv, &ref, rd, reg, &reglen, &v) != 0)
		fail_msg("%s", verdict_first_failure(&v)->detail);
	assert_int_equal(reglen, 48);
	/* and not one that pins another RTMR1 */
	ref.tdx.rtmr[1][47] ^= 1;
	assert_int_equal(kbs_evidence_verify(&e, NULL, tv, &ref, rd, reg, &reglen, &v), -1);
	assert_int_equal(v.failed, CHECK_RTMR);
	tdx_verifier_free(tv);
	kbs_evidence_free(&e);
}

static void test_sim_snp_report_carries_the_launch(void **state)
{
	char text[256], err[512] = "", path[512];
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI"), .sim_platform = "snp" };
	struct snp_verifier *sv = NULL;
	struct tee *t = NULL;
	struct kbs_evidence e;
	struct reference ref;
	struct verdict v;
	uint8_t rd[64], reg[48];
	size_t reglen = 0;

	(void)state;
	snprintf(text, sizeof(text), "{\"measurement\": \"%s\"}", reg_hex(0xc0));
	cfg.sim_launch = write_file("snp.json", text);
	memset(rd, 0x3c, sizeof(rd));
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	evidence_of(t, PLATFORM_SNP, rd, &e);
	tee_close(t);
	sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/roots.pem");
	assert_int_equal(snp_verifier_new(path, 0, &sv), 0);
	reference_defaults(&ref);
	ref.has_snp = true;
	ref.snp.has_measurement = true;
	reg_fill(ref.snp.measurement, 0xc0);
	if (kbs_evidence_verify(&e, sv, NULL, &ref, rd, reg, &reglen, &v) != 0)
		fail_msg("%s", verdict_first_failure(&v)->detail);
	ref.snp.measurement[0] ^= 1;
	assert_int_equal(kbs_evidence_verify(&e, sv, NULL, &ref, rd, reg, &reglen, &v), -1);
	assert_int_equal(v.failed, CHECK_MEASUREMENT);
	snp_verifier_free(sv);
	kbs_evidence_free(&e);
}

/* Without a launch file the sim reports what it always did: its MRTD, zero RTMR0-2. */
static void test_sim_without_launch_reports_zero_rtmrs(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI") };
	struct tee *t = NULL;
	struct kbs_evidence e;
	struct tdx_quote q;
	struct verdict v;
	uint8_t rd[64] = { 0 }, want[48];
	char err[512] = "";

	(void)state;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	evidence_of(t, PLATFORM_TDX, rd, &e);
	tee_close(t);
	verdict_init(&v, PLATFORM_TDX);
	assert_int_equal(tdx_quote_parse(e.raw, e.raw_len, &q, &v), 0);
	reg_fill(want, 0);
	assert_memory_equal(q.body.mrtd, want, 48);
	for (int i = 0; i < 4; i++)
		assert_true(is_zero(q.body.rtmr[i], 48));
	kbs_evidence_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_launch_tdx),
		cmocka_unit_test(test_launch_snp),
		cmocka_unit_test(test_launch_refuses_unknown_members),
		cmocka_unit_test(test_launch_refuses_bad_values),
		cmocka_unit_test(test_launch_refuses_what_is_not_one_object),
		cmocka_unit_test(test_sim_refuses_measurement_and_launch),
		cmocka_unit_test(test_sim_refuses_bad_launch_files),
		cmocka_unit_test(test_sim_tdx_quote_carries_the_launch),
		cmocka_unit_test(test_sim_snp_report_carries_the_launch),
		cmocka_unit_test(test_sim_without_launch_reports_zero_rtmrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
