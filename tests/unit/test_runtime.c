/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runtime measurements: the agent measures a volume's header digest and an
 * order id into PCR 15 of a real TPM (swtpm, started here) and into the sim's
 * RTMR3; the evidence taken afterwards replays, as a broker checks it.
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

#include "agent/agent.h"
#include "lib/lib.h"
#include "tests/unit/support/sim.h"

static char dir[512], tcti[128], pidfile[600];

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static int setup(void **state)
{
	char cmd[4096];
	int port = 24000 + (int)(getpid() % 4000) * 2;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/runtime", sim_env("CVM_TEST_TMP"));
	snprintf(pidfile, sizeof(pidfile), "%s/swtpm.pid", dir);
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s && mkdir -p %s/state && swtpm socket --tpm2 --tpmstate dir=%s/state "
		 "--flags startup-clear --server type=tcp,port=%d,bindaddr=127.0.0.1 --ctrl "
		 "type=tcp,port=%d,bindaddr=127.0.0.1 --daemon --pid file=%s && sleep 0.3",
		 dir, dir, dir, port, port + 1, pidfile);
	sh(cmd);
	snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", port);
	return 0;
}

static int teardown(void **state)
{
	size_t len;
	uint8_t *pid = sim_read(pidfile, &len);

	(void)state;
	kill(atoi((char *)pid), SIGTERM);
	free(pid);
	return 0;
}

static void measure_and_check(struct tee *t, enum cvm_platform p)
{
	uint8_t order[16], luks[32], rd[64] = { 0 };
	cJSON *ev = NULL;
	struct kbs_evidence e;
	struct verdict v;
	const uint8_t *reg;
	uint8_t rtmr3[48];
	char err[256];
	size_t len;
	uint8_t *log;

	memset(order, 0x0d, sizeof(order));
	memset(luks, 0x1c, sizeof(luks));
	assert_int_equal(tee_measure(t, "order-id", order, sizeof(order), err, sizeof(err)), 0);
	assert_int_equal(tee_measure(t, "luks-header", luks, sizeof(luks), err, sizeof(err)), 0);
	assert_int_equal(t->evidence(t, rd, &ev, err, sizeof(err)), 0);
	assert_int_equal(kbs_evidence_parse(p == PLATFORM_TDX ? PLATFORM_TDX : PLATFORM_TPM, ev, &e,
					    err, sizeof(err)),
			 0);
	if (p == PLATFORM_TDX) {
		struct tdx_quote q;

		verdict_init(&v, PLATFORM_TDX);
		assert_int_equal(tdx_quote_parse(e.raw, e.raw_len, &q, &v), 0);
		memcpy(rtmr3, q.body.rtmr[3], 48);
		reg = rtmr3;
	} else {
		reg = e.pcrs[15];
	}
	log = sim_read(t->cfg.runtime_log, &len);
	assert_non_null(e.runtime_log);
	assert_string_equal(e.runtime_log, (char *)log);
	verdict_init(&v, p);
	assert_int_equal(runtime_log_check((char *)log, len, p, reg, luks, &v), 0);
	/* another LUKS header than the one measured */
	luks[0] ^= 1;
	verdict_init(&v, p);
	assert_int_equal(runtime_log_check((char *)log, len, p, reg, luks, &v), -1);
	free(log);
	kbs_evidence_free(&e);
	cJSON_Delete(ev);
}

static void test_tpm_pcr15(void **state)
{
	struct tee_config cfg = { .tcti = tcti };
	struct tee *t = NULL;
	char log[600], err[256];

	(void)state;
	snprintf(log, sizeof(log), "%s/tpm-runtime.json", dir);
	cfg.runtime_log = log;
	assert_int_equal(tee_open("tpm", &cfg, &t, err, sizeof(err)), 0);
	measure_and_check(t, PLATFORM_TPM);
	tee_close(t);
}

static void test_sim_rtmr3(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI") };
	struct tee *t = NULL;
	char log[600], err[256];

	(void)state;
	snprintf(log, sizeof(log), "%s/tdx-runtime.json", dir);
	cfg.runtime_log = log;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	measure_and_check(t, PLATFORM_TDX);
	tee_close(t);
}

static void test_snp_has_no_runtime_register(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI"), .sim_platform = "snp" };
	struct tee *t = NULL;
	char log[600], err[256];

	(void)state;
	snprintf(log, sizeof(log), "%s/snp-runtime.json", dir);
	cfg.runtime_log = log;
	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	assert_int_equal(tee_measure(t, "order-id", (const uint8_t *)"x", 1, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "E_MEASURE"));
	tee_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tpm_pcr15),
		cmocka_unit_test(test_sim_rtmr3),
		cmocka_unit_test(test_snp_has_no_runtime_register),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
