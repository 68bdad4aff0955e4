/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runtime measurements: the agent measures a volume's header digest and an
 * order id into PCR 15 of a real TPM (swtpm, made here with the PCR banks
 * each test needs, started and stopped by PID) and into the sim's RTMR3,
 * into both when both are there; the evidence taken afterwards replays, as
 * a broker checks it, and the TPM's SHA-384 bank holds the log's replay.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "tests/unit/support/sim.h"

static char dir[512], tcti[128], pidfile[800];
static int instance;

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* A fresh swtpm with PCRs allocated in banks ("sha256,sha384"), or libtpms' own (NULL). */
static void start_tpm(const char *banks)
{
	char cmd[4096], state[700];
	int port;

	instance++;
	snprintf(state, sizeof(state), "%s/tpm%d", dir, instance);
	snprintf(pidfile, sizeof(pidfile), "%s/swtpm.pid", state);
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", state, state);
	sh(cmd);
	if (banks) {
		snprintf(cmd, sizeof(cmd),
			 "swtpm_setup --tpm2 --tpmstate %s --pcr-banks %s --overwrite "
			 "--config /dev/null >%s/setup.log 2>&1",
			 state, banks, state);
		sh(cmd);
	}
	port = sim_swtpm_tcp(state, pidfile);
	snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", port);
}

static int stop_tpm(void **state)
{
	size_t len;
	uint8_t *pid = sim_read(pidfile, &len);

	(void)state;
	kill(atoi((char *)pid), SIGTERM);
	free(pid);
	return 0;
}

static int setup(void **state)
{
	char cmd[1200];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/runtime", sim_env("CVM_TEST_TMP"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
	sh(cmd);
	return 0;
}

static int start_both_banks(void **state)
{
	(void)state;
	start_tpm("sha256,sha384");
	return 0;
}

static int start_sha256_only(void **state)
{
	(void)state;
	start_tpm("sha256");
	return 0;
}

static int start_sha384_only(void **state)
{
	(void)state;
	start_tpm("sha384");
	return 0;
}

static char *log_path(const char *name)
{
	static char path[700];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	return path;
}

/* PCR 15 of the SHA-384 bank, read from the TPM itself. */
static void tpm_pcr15_sha384(uint8_t out[48])
{
	TSS2_TCTI_CONTEXT *tc = NULL;
	ESYS_CONTEXT *esys = NULL;
	TPML_PCR_SELECTION sel = { .count = 1 };
	TPML_PCR_SELECTION *got = NULL;
	TPML_DIGEST *values = NULL;
	uint32_t counter;

	sel.pcrSelections[0].hash = TPM2_ALG_SHA384;
	sel.pcrSelections[0].sizeofSelect = 3;
	sel.pcrSelections[0].pcrSelect[1] = 0x80;
	assert_int_equal(Tss2_TctiLdr_Initialize(tcti, &tc), TSS2_RC_SUCCESS);
	assert_int_equal(Esys_Initialize(&esys, tc, NULL), TSS2_RC_SUCCESS);
	assert_int_equal(Esys_PCR_Read(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
				       &counter, &got, &values),
			 TSS2_RC_SUCCESS);
	assert_int_equal(values->count, 1);
	assert_int_equal(values->digests[0].size, 48);
	memcpy(out, values->digests[0].buffer, 48);
	Esys_Free(got);
	Esys_Free(values);
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tc);
}

static void measure_two(struct tee *t, uint8_t luks[32])
{
	uint8_t order[16];
	char err[256] = "";

	memset(order, 0x0d, sizeof(order));
	memset(luks, 0x1c, 32);
	/* as the agent does: its version and configuration first */
	if (tee_measure(t, "agent-version", (const uint8_t *)"test", 4, err, sizeof(err)) < 0 ||
	    tee_measure(t, "agent-config", order, 8, err, sizeof(err)) < 0 ||
	    tee_measure(t, "order-id", order, sizeof(order), err, sizeof(err)) < 0 ||
	    tee_measure(t, "luks-header", luks, 32, err, sizeof(err)) < 0)
		fail_msg("tee_measure: %s", err);
}

/* The register p's evidence holds: the quote's RTMR3, or the TPM quote's PCR 15. */
static void register_of(struct tee *t, enum cvm_platform p, uint8_t reg[48], char **sent)
{
	uint8_t rd[64] = { 0 };
	cJSON *ev = NULL;
	struct kbs_evidence e;
	char err[256] = "";

	if (t->evidence(t, rd, &ev, err, sizeof(err)) < 0)
		fail_msg("evidence: %s", err);
	assert_int_equal(kbs_evidence_parse(p, ev, &e, err, sizeof(err)), 0);
	if (p == PLATFORM_TDX) {
		struct tdx_quote q;
		struct verdict v;

		verdict_init(&v, PLATFORM_TDX);
		assert_int_equal(tdx_quote_parse(e.raw, e.raw_len, &q, &v), 0);
		memcpy(reg, q.body.rtmr[3], 48);
	} else {
		memcpy(reg, e.pcrs[15], 32);
	}
	*sent = e.runtime_log;
	e.runtime_log = NULL;
	kbs_evidence_free(&e);
	cJSON_Delete(ev);
}

/* The log replays to reg as a broker checks it, and names the LUKS header measured. */
static void log_checks(const char *path, enum cvm_platform p, const uint8_t *reg, uint8_t luks[32])
{
	struct verdict v;
	size_t len;
	uint8_t *log = sim_read(path, &len);

	verdict_init(&v, p);
	if (runtime_log_check((char *)log, len, p, reg, luks, &v) < 0)
		fail_msg("%s", verdict_first_failure(&v)->detail);
	/* another LUKS header than the one measured */
	luks[0] ^= 1;
	verdict_init(&v, p);
	assert_int_equal(runtime_log_check((char *)log, len, p, reg, luks, &v), -1);
	assert_int_equal(verdict_first_failure(&v)->check, CHECK_LUKS_HEADER);
	luks[0] ^= 1;
	free(log);
}

static void parse_log(const char *path, struct runtime_log *rl)
{
	size_t len;
	uint8_t *log = sim_read(path, &len);
	char err[160];

	if (runtime_log_parse((char *)log, len, rl, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	free(log);
}

static void test_tpm_backend_measures_pcr15_in_both_banks(void **state)
{
	struct tee_config cfg = { .tcti = tcti };
	struct tee *t = NULL;
	struct runtime_log rl;
	uint8_t luks[32], reg[48], pcr384[48];
	char err[256], *path = log_path("tpm.json"), *sent = NULL;
	size_t len;
	uint8_t *log;

	(void)state;
	cfg.runtime_log = path;
	assert_int_equal(tee_open("tpm", &cfg, &t, err, sizeof(err)), 0);
	measure_two(t, luks);
	register_of(t, PLATFORM_TPM, reg, &sent);
	log = sim_read(path, &len);
	assert_non_null(sent);
	assert_string_equal(sent, (char *)log);
	log_checks(path, PLATFORM_TPM, reg, luks);
	parse_log(path, &rl);
	assert_int_equal(rl.n, 4);
	assert_int_equal(rl.n_pcr15, 4);
	assert_true(rl.pcr15_has_sha384);
	tpm_pcr15_sha384(pcr384);
	assert_memory_equal(rl.pcr15_sha384, pcr384, 48);
	runtime_log_free(&rl);
	free(log);
	free(sent);
	tee_close(t);
}

static void test_sim_tdx_with_tpm_measures_rtmr3_and_pcr15(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI"), .tcti = tcti };
	struct tee *t = NULL, *tpm = NULL;
	struct runtime_log rl;
	uint8_t luks[32], rtmr3[48], pcr15[48], pcr384[48];
	char err[256], *path = log_path("tdx-tpm.json"), *sent = NULL;

	(void)state;
	cfg.runtime_log = path;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	measure_two(t, luks);
	parse_log(path, &rl);
	/* one record per register and event, in the order of the extends */
	assert_int_equal(rl.n, 8);
	assert_int_equal(rl.events[0].reg, PLATFORM_TDX);
	assert_int_equal(rl.events[1].reg, PLATFORM_TPM);
	assert_string_equal(rl.events[7].name, "luks-header");
	assert_true(rl.pcr15_has_sha384);
	tpm_pcr15_sha384(pcr384);
	assert_memory_equal(rl.pcr15_sha384, pcr384, 48);
	runtime_log_free(&rl);

	/* the sim's RTMR3 replays its share of the log */
	register_of(t, PLATFORM_TDX, rtmr3, &sent);
	assert_non_null(sent);
	free(sent);
	log_checks(path, PLATFORM_TDX, rtmr3, luks);
	/* and a quote of the same TPM binds the PCR 15 records */
	cfg.runtime_log = NULL;
	assert_int_equal(tee_open("tpm", &cfg, &tpm, err, sizeof(err)), 0);
	register_of(tpm, PLATFORM_TPM, pcr15, &sent);
	assert_null(sent);
	log_checks(path, PLATFORM_TPM, pcr15, luks);
	tee_close(tpm);
	tee_close(t);
}

static void test_sha256_only_tpm_gets_sha256_records(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI"), .tcti = tcti };
	struct tee *t = NULL, *tpm = NULL;
	struct runtime_log rl;
	uint8_t luks[32], pcr15[48];
	char err[256], *path = log_path("sha256-only.json"), *sent = NULL;

	(void)state;
	cfg.runtime_log = path;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	measure_two(t, luks);
	parse_log(path, &rl);
	assert_int_equal(rl.n_pcr15, 4);
	assert_false(rl.pcr15_has_sha384);
	assert_false(rl.events[1].sha384);
	runtime_log_free(&rl);
	cfg.runtime_log = NULL;
	assert_int_equal(tee_open("tpm", &cfg, &tpm, err, sizeof(err)), 0);
	register_of(tpm, PLATFORM_TPM, pcr15, &sent);
	log_checks(path, PLATFORM_TPM, pcr15, luks);
	tee_close(tpm);
	tee_close(t);
}

static void test_tpm_without_sha256_bank_is_refused(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI"), .tcti = tcti };
	struct tee *t = NULL;
	char err[256] = "", *path = log_path("sha384-only.json");

	(void)state;
	cfg.runtime_log = path;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	assert_true(tee_measure(t, "order-id", (const uint8_t *)"x", 1, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "E_MEASURE: tpm: PCR 15 is not in a SHA-256 bank"));
	assert_int_equal(access(path, F_OK), -1);
	tee_close(t);
}

static void test_snp_sim_with_tpm_measures_pcr15(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI"),
				  .sim_platform = "snp",
				  .tcti = tcti };
	struct tee *t = NULL, *tpm = NULL;
	struct runtime_log rl;
	uint8_t luks[32], pcr15[48];
	char err[256], *path = log_path("snp-tpm.json"), *sent = NULL;

	(void)state;
	cfg.runtime_log = path;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	measure_two(t, luks);
	parse_log(path, &rl);
	assert_int_equal(rl.n, 4);
	assert_int_equal(rl.n_rtmr3, 0);
	runtime_log_free(&rl);
	cfg.runtime_log = NULL;
	assert_int_equal(tee_open("tpm", &cfg, &tpm, err, sizeof(err)), 0);
	register_of(tpm, PLATFORM_TPM, pcr15, &sent);
	log_checks(path, PLATFORM_TPM, pcr15, luks);
	tee_close(tpm);
	tee_close(t);
}

static void test_sim_rtmr3(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI") };
	struct tee *t = NULL;
	uint8_t luks[32], rtmr3[48];
	char err[256], *path = log_path("tdx.json"), *sent = NULL;

	(void)state;
	cfg.runtime_log = path;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	measure_two(t, luks);
	register_of(t, PLATFORM_TDX, rtmr3, &sent);
	free(sent);
	log_checks(path, PLATFORM_TDX, rtmr3, luks);
	tee_close(t);
}

static void test_snp_has_no_runtime_register(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI"), .sim_platform = "snp" };
	struct tee *t = NULL;
	char err[256];

	(void)state;
	cfg.runtime_log = log_path("snp.json");
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	assert_int_equal(tee_measure(t, "order-id", (const uint8_t *)"x", 1, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "E_MEASURE"));
	tee_close(t);
}

/* ---- the log as hostile input ---- */

static char *record_text(cJSON *rec)
{
	char *s = cJSON_PrintUnformatted(rec);

	cJSON_Delete(rec);
	return s;
}

/* The text with each @256 and @384 replaced by a digest of one byte 0x01. */
static void fill(char *out, size_t cap, const char *in, const char *d256, const char *d384)
{
	size_t n = 0;

	while (*in) {
		const char *d = !strncmp(in, "@256", 4)	  ? d256
				: !strncmp(in, "@384", 4) ? d384
							  : NULL;

		assert_true(n + (d ? strlen(d) : 1) < cap);
		if (d) {
			memcpy(out + n, d, strlen(d));
			n += strlen(d);
			in += 4;
		} else {
			out[n++] = *in++;
		}
	}
	out[n] = 0;
}

static void refused(const char *text, const char *why)
{
	struct runtime_log rl;
	char err[160] = "";

	assert_true(runtime_log_parse(text, strlen(text), &rl, err, sizeof(err)) < 0);
	if (!strstr(err, why))
		fail_msg("expected '%s' in: %s (log %s)", why, err, text);
}

static void test_runtime_log_refuses_hostile_records(void **state)
{
	static const char d384[] =
		"\"" /* SHA-384 of one byte 0x01 */
		"8d2ce87d86f55fcfab770a047b090da23270fa206832dfea7e0c946fff451f81"
		"9add242374be551b0d6318ed6c7d41d8\"";
	static const char d256[] =
		"\"4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a\"";
	char buf[2048];
	const struct {
		const char *fmt, *why;
	} bad[] = {
		{ "{}", "not a CEL-JSON array" },
		{ "[1]", "record 0: not an object" },
		{ "[{\"recnum\":1,\"rtmr\":3}]", "\"recnum\" is not its position" },
		{ "[{\"recnum\":0,\"rtmr\":2}]", "an RTMR other than RTMR3" },
		{ "[{\"recnum\":0,\"pcr\":14}]", "a PCR other than PCR 15" },
		{ "[{\"recnum\":0,\"pcr\":15,\"rtmr\":3}]", "one of \"rtmr\" and \"pcr\"" },
		{ "[{\"recnum\":0,\"rtmr\":3,\"digests\":[],\"content_type\":\"ima\"}]",
		  "content is not cvm's" },
		{ "[{\"recnum\":0,\"rtmr\":3,\"content_type\":\"cvm\",\"content\":{\"name\":"
		  "\"a b\",\"value\":\"01\"}}]",
		  "name is not" },
		{ "[{\"recnum\":0,\"rtmr\":3,\"content_type\":\"cvm\",\"content\":{\"name\":"
		  "\"x\",\"value\":\"0\"}}]",
		  "value is not hex" },
		{ "[{\"recnum\":0,\"rtmr\":3,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":@256}]"
		  ","
		  "\"content_type\":\"cvm\",\"content\":{\"name\":\"x\",\"value\":\"01\"}}]",
		  "digests are not those of its register" },
		{ "[{\"recnum\":0,\"pcr\":15,\"digests\":[{\"hashAlg\":\"sha384\",\"digest\":@384}]"
		  ","
		  "\"content_type\":\"cvm\",\"content\":{\"name\":\"x\",\"value\":\"01\"}}]",
		  "needs its SHA-256 digest" },
		{ "[{\"recnum\":0,\"rtmr\":3,\"digests\":[{\"hashAlg\":\"sha384\",\"digest\":@384},"
		  "{\"hashAlg\":\"sha384\",\"digest\":@384}],\"content_type\":\"cvm\",\"content\":{"
		  "\"name\":\"x\",\"value\":\"01\"}}]",
		  "digests are not those of its register" },
		{ "[{\"recnum\":0,\"rtmr\":3,\"digests\":[{\"hashAlg\":\"sha384\",\"digest\":@384}]"
		  ","
		  "\"content_type\":\"cvm\",\"content\":{\"name\":\"x\",\"value\":\"02\"}}]",
		  "digest is not that of its value" },
	};
	char *a, *b;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		fill(buf, sizeof(buf), bad[i].fmt, d256, d384);
		refused(buf, bad[i].why);
	}
	/* PCR 15 records that disagree on the banks the TPM has */
	a = record_text(runtime_event_pcr15_json(0, "x", (const uint8_t *)"\1", 1, true));
	b = record_text(runtime_event_pcr15_json(1, "y", (const uint8_t *)"\1", 1, false));
	snprintf(buf, sizeof(buf), "[%s,%s]", a, b);
	refused(buf, "record 1: PCR 15 records disagree on the SHA-384 bank");
	free(a);
	free(b);
}

/*
 * In a log of both registers only the records of the one the evidence holds
 * bind anything: a LUKS header named in PCR 15 records alone is no
 * measurement for a TDX quote.
 */
static void test_runtime_log_counts_only_the_evidence_register(void **state)
{
	static const uint8_t luks[32] = { 0x1c }, other[32] = { 0x2d };
	cJSON *log = cJSON_CreateArray();
	struct runtime_log rl;
	struct verdict v;
	char *text, err[160];

	(void)state;
	cJSON_AddItemToArray(log, runtime_event_json(PLATFORM_TDX, 0, "agent-version", other, 4));
	cJSON_AddItemToArray(log, runtime_event_pcr15_json(1, "agent-version", other, 4, true));
	cJSON_AddItemToArray(log, runtime_event_json(PLATFORM_TDX, 2, "agent-config", other, 32));
	cJSON_AddItemToArray(log, runtime_event_pcr15_json(3, "agent-config", other, 32, true));
	cJSON_AddItemToArray(log, runtime_event_json(PLATFORM_TDX, 4, "luks-header", other, 32));
	cJSON_AddItemToArray(log, runtime_event_pcr15_json(5, "luks-header", luks, 32, true));
	text = cJSON_PrintUnformatted(log);
	cJSON_Delete(log);
	assert_int_equal(runtime_log_parse(text, strlen(text), &rl, err, sizeof(err)), 0);
	verdict_init(&v, PLATFORM_TDX);
	assert_int_equal(runtime_log_check(text, strlen(text), PLATFORM_TDX, rl.rtmr3, luks, &v),
			 -1);
	assert_int_equal(verdict_first_failure(&v)->check, CHECK_LUKS_HEADER);
	verdict_init(&v, PLATFORM_TPM);
	assert_int_equal(
		runtime_log_check(text, strlen(text), PLATFORM_TPM, rl.pcr15_sha256, luks, &v), 0);
	/* and a TDX quote's RTMR3 is not PCR 15's replay */
	verdict_init(&v, PLATFORM_TDX);
	assert_int_equal(
		runtime_log_check(text, strlen(text), PLATFORM_TDX, rl.pcr15_sha384, NULL, &v), -1);
	verdict_init(&v, PLATFORM_SNP);
	assert_int_equal(runtime_log_check(text, strlen(text), PLATFORM_SNP, rl.rtmr3, NULL, &v),
			 -1);
	runtime_log_free(&rl);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tpm_backend_measures_pcr15_in_both_banks,
						start_both_banks, stop_tpm),
		cmocka_unit_test_setup_teardown(test_sim_tdx_with_tpm_measures_rtmr3_and_pcr15,
						start_both_banks, stop_tpm),
		cmocka_unit_test_setup_teardown(test_sha256_only_tpm_gets_sha256_records,
						start_sha256_only, stop_tpm),
		cmocka_unit_test_setup_teardown(test_tpm_without_sha256_bank_is_refused,
						start_sha384_only, stop_tpm),
		cmocka_unit_test_setup_teardown(test_snp_sim_with_tpm_measures_pcr15,
						start_both_banks, stop_tpm),
		cmocka_unit_test(test_sim_rtmr3),
		cmocka_unit_test(test_snp_has_no_runtime_register),
		cmocka_unit_test(test_runtime_log_refuses_hostile_records),
		cmocka_unit_test(test_runtime_log_counts_only_the_evidence_register),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
