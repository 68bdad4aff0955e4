/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job runner with real processes on this host (as root, like PID 1 in
 * the guest): uid and groups dropped, a clean environment, limits, output
 * captured, the deadline enforced on the job and on processes that escaped
 * its session, no zombie left; and cvm-job.json refused in every hostile
 * shape. The job programs are /bin/sh and coreutils reached through the
 * workload root, as a customer's binaries would be.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/job.h"
#include "lib/lib.h"

#define UID 61234
#define RECIPIENT "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"

static char root[64], out[128], logs[128];

static int setup(void **state)
{
	char path[256];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/cvm-job-XXXXXX");
	if (!mkdtemp(root) || chmod(root, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bin", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bin/sh", root);
	if (symlink("/bin/sh", path) < 0)
		return -1;
	snprintf(out, sizeof(out), "%s/out", root);
	snprintf(logs, sizeof(logs), "%s/log", root);
	setenv("CVM_TEST_SECRET", "must-not-leak", 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh output and log directory, as the agent makes them. */
static void fresh(void)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s && mkdir -m 0700 %s %s", out, logs, out, logs);
	assert_int_equal(system(cmd), 0);
}

static void manifest(struct job_manifest *m, const char *script, const char *extra)
{
	char json[4096], err[256] = "";
	cJSON *s = cJSON_CreateString(script);
	char *quoted = cJSON_PrintUnformatted(s);

	snprintf(json, sizeof(json),
		 "{\"argv\": [\"bin/sh\", \"-c\", %s], \"user\": {\"uid\": %d, \"gid\": %d}, "
		 "\"result_recipient\": \"%s\"%s}",
		 quoted, UID, UID, RECIPIENT, extra ? extra : "");
	free(quoted);
	cJSON_Delete(s);
	if (job_manifest_parse(json, strlen(json), m, err, sizeof(err)) < 0)
		fail_msg("manifest: %s", err);
}

static struct job_status run(const char *script, const char *extra, long cap)
{
	struct job_manifest m;
	struct job_status st;
	char err[256] = "";

	fresh();
	manifest(&m, script, extra);
	if (job_run(&m, root, out, logs, cap, &st, err, sizeof(err)) < 0)
		fail_msg("job_run: %s", err);
	job_manifest_free(&m);
	return st;
}

static char *slurp(const char *dir, const char *name)
{
	char path[256];
	uint8_t *t = NULL;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (file_read(path, 1 << 20, &t, &n) < 0)
		return NULL;
	return (char *)t;
}

/* Processes of the job's uid still alive, by /proc. */
static int uid_processes(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300];
		struct stat st;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s", e->d_name);
		/* a zombie counts too: it is a child nobody reaped */
		if (stat(path, &st) == 0 && st.st_uid == UID)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static void test_exit_code_and_output(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL, *e = NULL;

	(void)state;
	st = run("echo out; echo err >&2; exit 7", NULL, 0);
	assert_int_equal(st.exit_code, 7);
	assert_int_equal(st.signal, 0);
	assert_false(st.timed_out);
	o = slurp(logs, "stdout");
	e = slurp(logs, "stderr");
	assert_string_equal(o, "out\n");
	assert_string_equal(e, "err\n");
}

static void test_signal_is_recorded(void **state)
{
	struct job_status st;

	(void)state;
	st = run("kill -TERM $$", NULL, 0);
	assert_int_equal(st.exit_code, -1);
	assert_int_equal(st.signal, SIGTERM);
}

static void test_runs_unprivileged_with_a_clean_environment(void **state)
{
	struct job_status st;
	_cleanup_free_ char *ids = NULL, *env = NULL;
	char want[64];

	(void)state;
	st = run("id -u > $CVM_OUTPUT/ids; id -g >> $CVM_OUTPUT/ids; id -G >> $CVM_OUTPUT/ids; "
		 "env > $CVM_OUTPUT/env; touch $CVM_OUTPUT/f; pwd >> $CVM_OUTPUT/env",
		 ", \"env\": {\"FOO\": \"bar baz\"}", 0);
	assert_int_equal(st.exit_code, 0);
	ids = slurp(out, "ids");
	snprintf(want, sizeof(want), "%d\n%d\n%d\n", UID, UID, UID);
	assert_string_equal(ids, want);
	env = slurp(out, "env");
	assert_non_null(strstr(env, "FOO=bar baz\n"));
	assert_non_null(strstr(env, "CVM_OUTPUT="));
	assert_non_null(strstr(env, "CVM_WORKLOAD="));
	assert_null(strstr(env, "CVM_TEST_SECRET"));
	/* the working directory is the workload root by default */
	assert_non_null(strstr(env, root));
}

static void test_limits_are_applied(void **state)
{
	struct job_status st;
	_cleanup_free_ char *lim = NULL;

	(void)state;
	st = run("cat /proc/self/limits > $CVM_OUTPUT/limits",
		 ", \"limits\": {\"cpu_seconds\": 17, \"memory_bytes\": 268435456, "
		 "\"file_size_bytes\": 1048576, \"processes\": 33}",
		 0);
	assert_int_equal(st.exit_code, 0);
	lim = slurp(out, "limits");
	assert_non_null(lim);
	assert_non_null(strstr(lim, "Max cpu time              17                   17"));
	assert_non_null(strstr(lim, "Max file size             1048576              1048576"));
	assert_non_null(strstr(lim, "Max processes             33                   33"));
	assert_non_null(strstr(lim, "Max address space         268435456            268435456"));
	assert_non_null(strstr(lim, "Max core file size        0                    0"));
}

static void test_file_size_limit_stops_the_writer(void **state)
{
	struct job_status st;
	struct stat s;
	char path[256];

	(void)state;
	st = run("head -c 100000 /dev/zero > $CVM_OUTPUT/big",
		 ", \"limits\": {\"file_size_bytes\": 4096}", 0);
	assert_int_not_equal(st.exit_code, 0);
	snprintf(path, sizeof(path), "%s/big", out);
	assert_int_equal(stat(path, &s), 0);
	assert_true(s.st_size <= 4096);
}

static void test_deadline_kills_the_job(void **state)
{
	struct job_status st;

	(void)state;
	st = run("echo started; sleep 30", ", \"deadline_seconds\": 1", 0);
	assert_true(st.timed_out);
	assert_int_equal(st.signal, SIGKILL);
	assert_true(st.runtime_ms >= 1000 && st.runtime_ms < 10000);
	assert_int_equal(uid_processes(), 0);
}

static void test_agent_cap_shortens_the_deadline(void **state)
{
	struct job_status st;

	(void)state;
	st = run("sleep 30", ", \"deadline_seconds\": 3600", 1);
	assert_true(st.timed_out);
	assert_true(st.runtime_ms < 10000);
}

static void test_escapees_die_at_the_deadline(void **state)
{
	struct job_status st;

	(void)state;
	st = run("setsid sleep 60 & (setsid sleep 60 &); sleep 30", ", \"deadline_seconds\": 1", 0);
	assert_true(st.timed_out);
	assert_int_equal(uid_processes(), 0);
}

static void test_escapees_die_when_the_job_exits(void **state)
{
	struct job_status st;

	(void)state;
	st = run("(setsid sleep 60 &); exit 0", NULL, 0);
	assert_int_equal(st.exit_code, 0);
	assert_false(st.timed_out);
	assert_int_equal(uid_processes(), 0);
	/* and no zombie is left to this process */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_a_missing_program_is_an_error(void **state)
{
	struct job_manifest m;
	struct job_status st;
	char err[256] = "", json[512];

	(void)state;
	fresh();
	snprintf(json, sizeof(json),
		 "{\"argv\": [\"bin/none\"], \"user\": {\"uid\": %d, \"gid\": %d}, "
		 "\"result_recipient\": \"%s\"}",
		 UID, UID, RECIPIENT);
	assert_int_equal(job_manifest_parse(json, strlen(json), &m, err, sizeof(err)), 0);
	assert_int_equal(job_run(&m, root, out, logs, 0, &st, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "E_JOB_START"));
	job_manifest_free(&m);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

static void test_manifest_refusals(void **state)
{
	static const struct {
		const char *json, *why;
	} cases[] = {
		{ "[]", "not an object" },
		{ "{\"argv\": []}", "argv" },
		{ "{\"argv\": [\"/bin/sh\"]}", "argv[0]" },
		{ "{\"argv\": [\"../bin/sh\"]}", "argv[0]" },
		{ "{\"argv\": [\"a/../../b\"]}", "argv[0]" },
		{ "{\"argv\": [\"a//b\"]}", "argv[0]" },
		{ "{\"argv\": [1]}", "argv" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 0, \"gid\": 1}}", "user.uid" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 0}}", "user.gid" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 65534, \"gid\": 1}}", "user.uid" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1, \"caps\": 1}}", "user" },
		{ "{\"argv\": [\"a\"]}", "user: required" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}}", "result_recipient" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"result_recipient\": "
		  "\"04" RECIPIENT "\"}",
		  "result_recipient" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"result_recipient\": "
		  "\"02ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}",
		  "not a point" },
		{ "{\"argv\": [\"a\"], \"env\": {\"LD_PRELOAD\": \"x\"}}", "env" },
		{ "{\"argv\": [\"a\"], \"env\": {\"CVM_OUTPUT\": \"x\"}}", "env" },
		{ "{\"argv\": [\"a\"], \"env\": {\"A B\": \"x\"}}", "env" },
		{ "{\"argv\": [\"a\"], \"env\": {\"A\": 1}}", "env" },
		{ "{\"argv\": [\"a\"], \"cwd\": \"/\"}", "cwd" },
		{ "{\"argv\": [\"a\"], \"cwd\": \"..\"}", "cwd" },
		{ "{\"argv\": [\"a\"], \"output_dir\": \"out\"}", "output_dir" },
		{ "{\"argv\": [\"a\"], \"output_dir\": \"/a/b\"}", "output_dir" },
		{ "{\"argv\": [\"a\"], \"output_dir\": \"/..\"}", "output_dir" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"processes\": 0}}",
		  "processes" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"swap\": 1}}",
		  "limits: unknown member" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"deadline_seconds\": "
		  "0}",
		  "deadline_seconds" },
		{ "{\"argv\": [\"a\"], \"shell\": true}", "unknown member" },
		{ "{\"argv\": [\"a\"], \"argv\": [\"b\"]}", "not valid JSON" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct job_manifest m;
		char err[256] = "";

		assert_int_not_equal(job_manifest_parse(cases[i].json, strlen(cases[i].json), &m,
							err, sizeof(err)),
				     0);
		if (!strstr(err, cases[i].why) || strncmp(err, "E_MANIFEST: ", 12))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].why);
		/* the error names the member, never the customer's value */
		assert_null(strstr(err, "LD_PRELOAD"));
	}
}

static void test_manifest_defaults(void **state)
{
	struct job_manifest m;

	(void)state;
	manifest(&m, "true", ", \"cwd\": \"bin\", \"output_dir\": \"/output\"");
	assert_int_equal(m.argc, 3);
	assert_string_equal(m.cwd, "bin");
	assert_string_equal(m.output_dir, "/output");
	assert_int_equal(m.deadline_seconds, 3600);
	assert_int_equal(m.limits.processes, 256);
	assert_int_equal(m.recipient[0], 2);
	assert_null(m.argv[3]);
	job_manifest_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_refusals),
		cmocka_unit_test(test_manifest_defaults),
		cmocka_unit_test(test_exit_code_and_output),
		cmocka_unit_test(test_signal_is_recorded),
		cmocka_unit_test(test_runs_unprivileged_with_a_clean_environment),
		cmocka_unit_test(test_limits_are_applied),
		cmocka_unit_test(test_file_size_limit_stops_the_writer),
		cmocka_unit_test(test_deadline_kills_the_job),
		cmocka_unit_test(test_agent_cap_shortens_the_deadline),
		cmocka_unit_test(test_escapees_die_at_the_deadline),
		cmocka_unit_test(test_escapees_die_when_the_job_exits),
		cmocka_unit_test(test_a_missing_program_is_an_error),
	};

	if (geteuid() != 0) {
		printf("test_job: skipped, the runner drops privileges and needs root\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
