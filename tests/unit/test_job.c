/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job runner with real processes on this host (as root, like PID 1 in
 * the guest): uid and groups dropped, a clean environment and process
 * state, limits, output captured, the deadline enforced on the job and on
 * processes that escaped its session, no zombie left; and cvm-job.json
 * refused in every hostile shape. The job programs are /bin/sh and a probe
 * compiled here, reached through the workload root as a customer's
 * binaries would be.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/job.h"
#include "lib/lib.h"
#include "tests/unit/support/files.h"

#define RECIPIENT "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"

/* The probe: one program per aspect of the job's process that a shell cannot show. */
static const char probe_src[] =
	"#include <fcntl.h>\n"
	"#include <signal.h>\n"
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <sys/prctl.h>\n"
	"#include <sys/stat.h>\n"
	"#include <unistd.h>\n"
	"extern char **environ;\n"
	"static int state(void) {\n"
	"  sigset_t blk; struct sigaction sa; int nblk = 0, nign = 0, fds = 0;\n"
	"  mode_t um = umask(0);\n"
	"  sigprocmask(SIG_BLOCK, NULL, &blk);\n"
	"  for (int s = 1; s < NSIG; s++) {\n"
	"    nblk += sigismember(&blk, s) == 1;\n"
	"    nign += sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;\n"
	"  }\n"
	"  for (int fd = 0; fd < 1024; fd++) fds += fcntl(fd, F_GETFD) >= 0;\n"
	"  printf(\"uid=%d/%d gid=%d/%d groups=%d nnp=%d umask=%03o blocked=%d ignored=%d \"\n"
	"         \"fds=%d leader=%d\\n\", (int)getuid(), (int)geteuid(), (int)getgid(),\n"
	"         (int)getegid(), getgroups(0, NULL), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),\n"
	"         (unsigned)um, nblk, nign, fds, getsid(0) == getpid());\n"
	"  return 0;\n"
	"}\n"
	"int main(int argc, char **argv) {\n"
	"  if (argc == 2 && !strcmp(argv[1], \"state\")) return state();\n"
	"  if (argc == 2 && !strcmp(argv[1], \"env\")) {\n"
	"    for (char **e = environ; *e; e++) puts(*e);\n"
	"    return 0;\n"
	"  }\n"
	"  if (argc == 3 && !strcmp(argv[1], \"alloc\")) {\n"
	"    size_t n = strtoull(argv[2], NULL, 0); char *p = malloc(n);\n"
	"    if (!p) return 3;\n"
	"    memset(p, 1, n); return p[n / 2] == 1 ? 0 : 5;\n"
	"  }\n"
	"  if (argc == 3 && !strcmp(argv[1], \"fork\")) {\n"
	"    for (int i = 0; i < atoi(argv[2]); i++) {\n"
	"      pid_t p = fork();\n"
	"      if (p == 0) { sleep(60); _exit(0); }\n"
	"      if (p < 0) return 4;\n"
	"    }\n"
	"    return 0;\n"
	"  }\n"
	"  return 2;\n"
	"}\n";

/* A uid of this run only: kill_uid() reaches every process of the uid on the host. */
static int uid;
static char root[64], out[128], logs[128];

static int setup(void **state)
{
	char path[256], cmd[512];

	(void)state;
	/* not under /tmp: the job gets a tmpfs of its own there */
	snprintf(root, sizeof(root), "/var/tmp/cvm-job-XXXXXX");
	if (!mkdtemp(root) || chmod(root, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bin", root);
	if (mkdir(path, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bin/sh", root);
	if (symlink("/bin/sh", path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/probe.c", root);
	if (file_write_atomic(path, probe_src, strlen(probe_src), NULL, 0) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "cc -O1 -o %s/bin/probe %s", root, path);
	if (system(cmd) != 0 || chmod(root, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/closed", root);
	if (mkdir(path, 0700) < 0)
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
	assert_int_equal(test_fresh_dirs(out, logs), 0);
}

/* A manifest for argv (a JSON array) with extra members appended. */
static void manifest_argv(struct job_manifest *m, const char *argv, const char *extra)
{
	char json[4096], err[256] = "";

	snprintf(json, sizeof(json),
		 "{\"argv\": %s, \"user\": {\"uid\": %d, \"gid\": %d}, "
		 "\"result_recipient\": \"%s\"%s}",
		 argv, uid, uid, RECIPIENT, extra ? extra : "");
	if (job_manifest_parse(json, strlen(json), m, err, sizeof(err)) < 0)
		fail_msg("manifest: %s", err);
}

static struct job_status run_argv(const char *argv, const char *extra, long cap)
{
	struct job_manifest m;
	struct job_status st;
	char err[256] = "";

	fresh();
	manifest_argv(&m, argv, extra);
	if (job_run(&m, root, out, logs, cap, &st, err, sizeof(err)) < 0)
		fail_msg("job_run: %s", err);
	job_manifest_free(&m);
	return st;
}

/* Runs a /bin/sh script as the job. */
static struct job_status run(const char *script, const char *extra, long cap)
{
	cJSON *a = cJSON_CreateArray();
	char *argv;
	struct job_status st;

	cJSON_AddItemToArray(a, cJSON_CreateString("bin/sh"));
	cJSON_AddItemToArray(a, cJSON_CreateString("-c"));
	cJSON_AddItemToArray(a, cJSON_CreateString(script));
	argv = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	assert_non_null(argv);
	st = run_argv(argv, extra, cap);
	free(argv);
	return st;
}

/* Processes of the job's uid still alive, zombies included, by /proc. */
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
		if (stat(path, &st) == 0 && st.st_uid == (uid_t)uid)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* Nothing of the job is left: no process of its uid, no child unreaped. */
static void assert_nothing_left(void)
{
	assert_int_equal(uid_processes(), 0);
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_exit_code_and_output_are_captured(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL, *e = NULL;

	(void)state;
	st = run("echo out; echo err >&2; exit 7", NULL, 0);
	assert_int_equal(st.exit_code, 7);
	assert_int_equal(st.signal, 0);
	assert_false(st.timed_out);
	assert_true(st.runtime_ms < 10000);
	o = test_read_text(logs, "stdout");
	e = test_read_text(logs, "stderr");
	assert_string_equal(o, "out\n");
	assert_string_equal(e, "err\n");
	assert_nothing_left();
}

static void test_signal_is_recorded(void **state)
{
	struct job_status st;

	(void)state;
	st = run("kill -TERM $$", NULL, 0);
	assert_int_equal(st.exit_code, -1);
	assert_int_equal(st.signal, SIGTERM);
	assert_false(st.timed_out);
}

static void test_runs_unprivileged_in_its_own_session(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL;
	char want[256];
	int keep = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: the runner must close it */
	sigset_t term, old;

	(void)state;
	assert_true(keep >= 0);
	/* a mask and an ignored signal of the caller must not reach the job */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &term, &old), 0);
	signal(SIGUSR1, SIG_IGN);
	st = run_argv("[\"bin/probe\", \"state\"]", NULL, 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
	close(keep);
	assert_int_equal(st.exit_code, 0);
	o = test_read_text(logs, "stdout");
	snprintf(want, sizeof(want),
		 "uid=%d/%d gid=%d/%d groups=0 nnp=1 umask=077 blocked=0 ignored=0 fds=3 "
		 "leader=1\n",
		 uid, uid, uid, uid);
	assert_string_equal(o, want);
}

static void test_environment_is_exactly_the_manifests_and_the_agents(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL;
	char want[1024];

	(void)state;
	st = run_argv("[\"bin/probe\", \"env\"]",
		      ", \"env\": {\"FOO\": \"bar baz\", \"_x1\": \"\"}", 0);
	assert_int_equal(st.exit_code, 0);
	o = test_read_text(logs, "stdout");
	snprintf(want, sizeof(want),
		 "FOO=bar baz\n_x1=\nCVM_WORKLOAD=%s\nCVM_OUTPUT=%s\nHOME=%s\nPATH=/usr/bin:/bin\n",
		 root, out, out);
	assert_string_equal(o, want);
	assert_null(strstr(o, "CVM_TEST_SECRET"));
}

static void test_output_dir_names_the_jobs_view_of_its_output(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL;

	(void)state;
	st = run_argv("[\"bin/probe\", \"env\"]", ", \"output_dir\": \"/output\"", 0);
	assert_int_equal(st.exit_code, 0);
	o = test_read_text(logs, "stdout");
	assert_non_null(strstr(o, "\nCVM_OUTPUT=/output\nHOME=/output\n"));
}

static void test_output_dir_is_the_jobs_and_cwd_is_honoured(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL, *f = NULL;
	char want[256];
	struct stat s;

	(void)state;
	st = run("pwd; echo data > \"$CVM_OUTPUT/f\"", ", \"cwd\": \"bin\"", 0);
	assert_int_equal(st.exit_code, 0);
	o = test_read_text(logs, "stdout");
	snprintf(want, sizeof(want), "%s/bin\n", root);
	assert_string_equal(o, want);
	f = test_read_text(out, "f");
	assert_string_equal(f, "data\n");
	assert_int_equal(stat(out, &s), 0);
	assert_int_equal(s.st_uid, uid);
	assert_int_equal(s.st_mode & 0777, 0700);
	/* umask 077: what the job writes is its own only */
	snprintf(want, sizeof(want), "%s/f", out);
	assert_int_equal(stat(want, &s), 0);
	assert_int_equal(s.st_mode & 0777, 0600);
}

static void test_a_cwd_the_job_may_not_enter_is_an_error(void **state)
{
	struct job_manifest m;
	struct job_status st;
	char err[256] = "";

	(void)state;
	fresh();
	manifest_argv(&m, "[\"bin/probe\", \"env\"]", ", \"cwd\": \"closed\"");
	assert_int_equal(job_run(&m, root, out, logs, 0, &st, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "E_JOB_START: "));
	job_manifest_free(&m);
	assert_nothing_left();
}

static void test_a_missing_program_is_an_error(void **state)
{
	struct job_manifest m;
	struct job_status st;
	char err[256] = "";

	(void)state;
	fresh();
	manifest_argv(&m, "[\"bin/none\"]", NULL);
	assert_int_equal(job_run(&m, root, out, logs, 0, &st, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "E_JOB_START: "));
	job_manifest_free(&m);
	assert_nothing_left();
}

static void test_limits_are_applied(void **state)
{
	struct job_status st;
	_cleanup_free_ char *lim = NULL;

	(void)state;
	st = run("cat /proc/self/limits",
		 ", \"limits\": {\"cpu_seconds\": 17, \"memory_bytes\": 268435456, "
		 "\"file_size_bytes\": 1048576, \"processes\": 33}",
		 0);
	assert_int_equal(st.exit_code, 0);
	lim = test_read_text(logs, "stdout");
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
	st = run("exec head -c 100000 /dev/zero > \"$CVM_OUTPUT/big\"",
		 ", \"limits\": {\"file_size_bytes\": 4096}", 0);
	assert_int_equal(st.signal, SIGXFSZ);
	snprintf(path, sizeof(path), "%s/big", out);
	assert_int_equal(stat(path, &s), 0);
	assert_int_equal(s.st_size, 4096);
}

static void test_file_size_limit_bounds_the_captured_output(void **state)
{
	struct job_status st;
	struct stat s;
	char path[256];

	(void)state;
	st = run("exec head -c 100000 /dev/zero", ", \"limits\": {\"file_size_bytes\": 8192}", 0);
	assert_int_equal(st.signal, SIGXFSZ);
	snprintf(path, sizeof(path), "%s/stdout", logs);
	assert_int_equal(stat(path, &s), 0);
	assert_int_equal(s.st_size, 8192);
}

static void test_memory_limit_stops_an_allocation(void **state)
{
	struct job_status st;

	(void)state;
	st = run_argv("[\"bin/probe\", \"alloc\", \"67108864\"]", NULL, 0);
	assert_int_equal(st.exit_code, 0);
	st = run_argv("[\"bin/probe\", \"alloc\", \"67108864\"]",
		      ", \"limits\": {\"memory_bytes\": 33554432}", 0);
	assert_int_equal(st.exit_code, 3);
}

static void test_process_limit_stops_forks(void **state)
{
	struct job_status st;

	(void)state;
	st = run_argv("[\"bin/probe\", \"fork\", \"20\"]", ", \"limits\": {\"processes\": 64}", 0);
	assert_int_equal(st.exit_code, 0);
	/* the twenty children outlived the job: they die with it */
	assert_nothing_left();
	st = run_argv("[\"bin/probe\", \"fork\", \"20\"]", ", \"limits\": {\"processes\": 5}", 0);
	assert_int_equal(st.exit_code, 4);
	assert_nothing_left();
}

static void test_deadline_kills_the_job(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL;

	(void)state;
	st = run("echo started; sleep 30", ", \"deadline_seconds\": 1", 0);
	assert_true(st.timed_out);
	assert_int_equal(st.signal, SIGKILL);
	assert_int_equal(st.exit_code, -1);
	assert_true(st.runtime_ms >= 1000 && st.runtime_ms < 10000);
	o = test_read_text(logs, "stdout");
	assert_string_equal(o, "started\n");
	assert_nothing_left();
}

static void test_agent_cap_shortens_the_deadline(void **state)
{
	struct job_status st;

	(void)state;
	st = run("sleep 30", ", \"deadline_seconds\": 3600", 1);
	assert_true(st.timed_out);
	assert_true(st.runtime_ms >= 1000 && st.runtime_ms < 10000);
	/* a cap above the manifest's deadline does not lengthen it */
	st = run("sleep 30", ", \"deadline_seconds\": 1", 3600);
	assert_true(st.timed_out);
	assert_true(st.runtime_ms >= 1000 && st.runtime_ms < 10000);
	assert_nothing_left();
}

static void test_escapees_die_at_the_deadline(void **state)
{
	struct job_status st;

	(void)state;
	/* one child in a session of its own, one double-forked and reparented */
	st = run("setsid sleep 60 & (setsid sleep 60 &); sleep 30", ", \"deadline_seconds\": 1", 0);
	assert_true(st.timed_out);
	assert_nothing_left();
}

static void test_escapees_die_when_the_job_exits(void **state)
{
	struct job_status st;

	(void)state;
	st = run("(setsid sleep 60 &); exit 0", NULL, 0);
	assert_int_equal(st.exit_code, 0);
	assert_false(st.timed_out);
	assert_true(st.runtime_ms < 10000);
	assert_nothing_left();
}

/* The namespace inode of this process, as a job compares its own: "net:[4026531840]". */
static void own_ns(const char *ns, char *link, size_t cap)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	n = readlink(path, link, cap - 1);
	assert_true(n > 0);
	link[n] = 0;
}

static void test_the_job_sees_a_minimal_dev(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL;

	(void)state;
	st = run("ls /dev | tr '\\n' ' '; echo x > /dev/null && head -c 4 /dev/urandom | wc -c",
		 NULL, 0);
	assert_int_equal(st.exit_code, 0);
	o = test_read_text(logs, "stdout");
	assert_string_equal(o, "fd full null random stderr stdin stdout tty urandom zero 4\n");
}

static void test_nothing_but_the_output_and_tmp_is_writable(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL;

	(void)state;
	/* /var/tmp is 1777 on this host, like /tmp in the guest's root: read-only for the job */
	st = run("touch /var/tmp/cvm-job-escape 2>/dev/null && echo var-tmp-written; "
		 "touch \"$CVM_OUTPUT/kept\" && echo output-ok; "
		 "touch /tmp/t && echo tmp-ok; "
		 "head -c 200000 /dev/zero > /tmp/big 2>/dev/null || echo tmp-full; "
		 "grep -c ' /tmp ' /proc/self/mounts",
		 ", \"limits\": {\"tmp_bytes\": 65536}", 0);
	assert_int_equal(st.exit_code, 0);
	o = test_read_text(logs, "stdout");
	assert_string_equal(o, "output-ok\ntmp-ok\ntmp-full\n1\n");
	assert_int_equal(access("/var/tmp/cvm-job-escape", F_OK), -1);
	/* the job's /tmp was its own: nothing of it is on this host's /tmp */
	assert_int_equal(access("/tmp/big", F_OK), -1);
}

static void test_the_job_has_its_own_network_unless_it_asks(void **state)
{
	struct job_status st;
	_cleanup_free_ char *o = NULL, *o2 = NULL;
	char mine[64], want[80];

	(void)state;
	own_ns("net", mine, sizeof(mine));
	/* ::1 on lo shows that lo is up (an IPv6 kernel gives it the address then) */
	st = run("readlink /proc/self/ns/net; tail -n +3 /proc/self/net/dev | cut -d: -f1 | tr -d "
		 "' '; "
		 "grep -c ' lo$' /proc/self/net/if_inet6",
		 NULL, 0);
	assert_int_equal(st.exit_code, 0);
	o = test_read_text(logs, "stdout");
	snprintf(want, sizeof(want), "%s\n", mine);
	/* another namespace, and only lo in it, up */
	assert_null(strstr(o, want));
	assert_non_null(strstr(o, "\nlo\n1\n"));
	assert_int_equal(strlen(strstr(o, "\nlo\n1\n")), 6);
	st = run("readlink /proc/self/ns/net", ", \"network\": \"guest\"", 0);
	assert_int_equal(st.exit_code, 0);
	o2 = test_read_text(logs, "stdout");
	assert_string_equal(o2, want);
}

static void test_a_default_memory_limit_applies(void **state)
{
	struct job_status st;
	_cleanup_free_ char *lim = NULL;
	char want[128];

	(void)state;
	assert_true(job_memory_default() >= 16ull << 20);
	st = run("cat /proc/self/limits", NULL, 0);
	assert_int_equal(st.exit_code, 0);
	lim = test_read_text(logs, "stdout");
	snprintf(want, sizeof(want), "Max address space         %-20llu %-20llu",
		 (unsigned long long)job_memory_default(),
		 (unsigned long long)job_memory_default());
	assert_non_null(strstr(lim, want));
}

/* result_recipient is optional: results go to the order's customer key (docs/job.md). */
static void test_manifest_without_recipient(void **state)
{
	static const char *text = "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}}";
	struct job_manifest m;
	char err[256];

	(void)state;
	assert_int_equal(job_manifest_parse(text, strlen(text), &m, err, sizeof(err)), 0);
	assert_false(m.has_recipient);
	job_manifest_free(&m);
}

/* A service: its port in the job's own namespace, at most how long it serves, its idle time. */
static void test_manifest_service(void **state)
{
	static const char *text = "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, "
				  "\"service\": {\"port\": 8080, \"max_seconds\": 600}}";
	struct job_manifest m;
	char err[256];

	(void)state;
	assert_int_equal(job_manifest_parse(text, strlen(text), &m, err, sizeof(err)), 0);
	assert_true(m.has_service);
	assert_int_equal(m.service.port, 8080);
	assert_int_equal(m.service.max_seconds, 600);
	assert_int_equal(m.service.idle_seconds, 0); /* the agent's default */
	assert_int_equal(m.network, JOB_NETWORK_NONE);
	job_manifest_free(&m);
	{
		static const char *idle = "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, "
					  "\"service\": {\"port\": 80, \"idle_seconds\": 30}}";

		assert_int_equal(job_manifest_parse(idle, strlen(idle), &m, err, sizeof(err)), 0);
		assert_int_equal(m.service.idle_seconds, 30);
		assert_int_equal(m.service.max_seconds, 0);
		job_manifest_free(&m);
	}
}

static void test_manifest_refusals(void **state)
{
	static const struct {
		const char *json, *why;
	} cases[] = {
		{ "", "not valid JSON" },
		{ "{\"argv\": [\"a\"]", "not valid JSON" },
		{ "{\"argv\": [\"a\"]} x", "not valid JSON" },
		{ "{\"argv\": [\"a\"], \"argv\": [\"b\"]}", "not valid JSON" },
		{ "[]", "cvm-job.json: not an object" },
		{ "{\"argv\": [\"a\"], \"shell\": true}", "cvm-job.json: unknown member" },
		{ "{}", "argv: " },
		{ "{\"argv\": []}", "argv: " },
		{ "{\"argv\": \"a\"}", "argv: " },
		{ "{\"argv\": [1]}", "argv: " },
		{ "{\"argv\": [\"a\", null]}", "argv: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"/bin/sh\"]}", "argv[0]" },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"\"]}", "argv[0]" },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"..\"]}", "argv[0]" },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"../bin/sh\"]}", "argv[0]" },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a/../../b\"]}", "argv[0]" },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a/..\"]}", "argv[0]" },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a//b\"]}", "argv[0]" },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\\nb\"]}", "argv[0]" },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": []}", "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": "
		  "{\"LD_PRELOAD\": \"x\"}}",
		  "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": "
		  "{\"CVM_OUTPUT\": \"x\"}}",
		  "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": {\"PATH\": "
		  "\"x\"}}",
		  "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": {\"HOME\": "
		  "\"x\"}}",
		  "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": {\"A B\": "
		  "\"x\"}}",
		  "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": {\"A=B\": "
		  "\"x\"}}",
		  "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": {\"1A\": "
		  "\"x\"}}",
		  "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": {\"\": \"x\"}}",
		  "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"env\": {\"A\": 1}}",
		  "env: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"cwd\": 1}", "cwd: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"cwd\": \"/\"}",
		  "cwd: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"cwd\": \"..\"}",
		  "cwd: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"cwd\": \"x/../..\"}",
		  "cwd: " },
		{ "{\"user\": {\"uid\": 1, \"gid\": 1}, \"argv\": [\"a\"], \"cwd\": \"\"}",
		  "cwd: " },
		{ "{\"argv\": [\"a\"], \"output_dir\": 1}", "output_dir: " },
		{ "{\"argv\": [\"a\"], \"output_dir\": \"out\"}", "output_dir: " },
		{ "{\"argv\": [\"a\"], \"output_dir\": \"/\"}", "output_dir: " },
		{ "{\"argv\": [\"a\"], \"output_dir\": \"/a/b\"}", "output_dir: " },
		{ "{\"argv\": [\"a\"], \"output_dir\": \"/..\"}", "output_dir: " },
		{ "{\"argv\": [\"a\"], \"output_dir\": \"/.\"}", "output_dir: " },
		{ "{\"argv\": [\"a\"], \"output_dir\": \"/"
		  "0123456789012345678901234567890123456789012345678901234567890123\"}",
		  "output_dir: " },
		{ "{\"argv\": [\"a\"]}", "user: required" },
		{ "{\"argv\": [\"a\"], \"user\": 1000}", "user: not an object" },
		{ "{\"argv\": [\"a\"], \"user\": {\"gid\": 1}}", "user.uid: required" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1}}", "user.gid: required" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 0, \"gid\": 1}}", "user.uid: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 0}}", "user.gid: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": -1, \"gid\": 1}}", "user.uid: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1.5, \"gid\": 1}}", "user.uid: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": \"0x10\", \"gid\": 1}}", "user.uid: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 65534, \"gid\": 1}}", "user.uid: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 4294967296, \"gid\": 1}}",
		  "user.uid: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1, \"caps\": 1}}",
		  "user: unknown member" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": []}",
		  "limits: not an object" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"swap\": 1}}",
		  "limits: unknown member" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"processes\": 0}}",
		  "limits.processes: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"processes\": 65537}}",
		  "limits.processes: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"cpu_seconds\": 0}}",
		  "limits.cpu_seconds: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"memory_bytes\": 4096}}",
		  "limits.memory_bytes: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"memory_bytes\": 1e30}}",
		  "limits.memory_bytes: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"file_size_bytes\": \"big\"}}",
		  "limits.file_size_bytes: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"output_bytes\": 1}}",
		  "limits.output_bytes: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"tmp_bytes\": 4095}}",
		  "limits.tmp_bytes: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"limits\": "
		  "{\"tmp_bytes\": 0}}",
		  "limits.tmp_bytes: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"network\": "
		  "\"host\"}",
		  "network: \"none\" or \"guest\"" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"network\": "
		  "\"Guest\"}",
		  "network: \"none\" or \"guest\"" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"network\": "
		  "true}",
		  "network: not a string" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"network\": "
		  "\"\"}",
		  "network: \"none\" or \"guest\"" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"deadline_seconds\": "
		  "0}",
		  "deadline_seconds: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"deadline_seconds\": "
		  "2592001}",
		  "deadline_seconds: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"deadline_seconds\": "
		  "true}",
		  "deadline_seconds: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"result_recipient\": "
		  "5}",
		  "result_recipient: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"result_recipient\": "
		  "\"04" RECIPIENT "\"}",
		  "result_recipient: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"result_recipient\": "
		  "\"0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\"}",
		  "result_recipient: not a compressed" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"result_recipient\": "
		  "\"0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f817\"}",
		  "result_recipient: not a compressed" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"result_recipient\": "
		  "\"02ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}",
		  "result_recipient: not a point" },
		/* a service: its port and its time, and never on the guest's network */
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"service\": "
		  "{\"port\": 0}}",
		  "service.port: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"service\": "
		  "{\"port\": 65536}}",
		  "service.port: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"service\": {}}",
		  "service.port: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"service\": "
		  "{\"port\": 80, \"max_seconds\": 0}}",
		  "service.max_seconds: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"service\": "
		  "{\"port\": 80, \"idle_seconds\": 0}}",
		  "service.idle_seconds: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"service\": "
		  "{\"port\": 80, \"idle_seconds\": 2592001}}",
		  "service.idle_seconds: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"service\": "
		  "{\"port\": 80, \"tls\": true}}",
		  "service: unknown member" },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"service\": 80}",
		  "service: " },
		{ "{\"argv\": [\"a\"], \"user\": {\"uid\": 1, \"gid\": 1}, \"network\": "
		  "\"guest\", \"service\": {\"port\": 80}}",
		  "service: needs \"network\": \"none\"" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct job_manifest m;
		char err[256] = "";

		if (job_manifest_parse(cases[i].json, strlen(cases[i].json), &m, err,
				       sizeof(err)) != -EINVAL)
			fail_msg("case %zu: accepted or not -EINVAL ('%s')", i, err);
		if (!strstr(err, cases[i].why) || strncmp(err, "E_MANIFEST: ", 12))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].why);
		/* the error names the member, never the customer's value */
		assert_null(strstr(err, "LD_PRELOAD"));
		assert_null(strstr(err, "/bin/sh"));
		/* a refused manifest holds nothing, and freeing it again is harmless */
		assert_int_equal(m.argc + m.envc, 0);
		job_manifest_free(&m);
	}
}

/* Counts and lengths past the bounds, built rather than written out. */
static void test_manifest_bounds(void **state)
{
	_cleanup_free_ char *json = malloc(256 * 1024);
	char long_str[JOB_MAX_STR + 1], err[256];
	struct job_manifest m;
	size_t n;

	(void)state;
	assert_non_null(json);
	memset(long_str, 'a', JOB_MAX_STR);
	long_str[JOB_MAX_STR] = 0;
	/* 65 arguments */
	n = (size_t)sprintf(json, "{\"argv\": [\"a\"");
	for (int i = 0; i < JOB_MAX_ARGS; i++)
		n += (size_t)sprintf(json + n, ", \"x\"");
	sprintf(json + n, "]}");
	assert_int_equal(job_manifest_parse(json, strlen(json), &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "argv: "));
	/* an argument of 1024 bytes */
	sprintf(json, "{\"argv\": [\"a\", \"%s\"]}", long_str);
	assert_int_equal(job_manifest_parse(json, strlen(json), &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "argv: "));
	/* 65 variables */
	n = (size_t)sprintf(json, "{\"argv\": [\"a\"], \"env\": {\"V0\": \"\"");
	for (int i = 1; i <= JOB_MAX_ENV; i++)
		n += (size_t)sprintf(json + n, ", \"V%d\": \"\"", i);
	sprintf(json + n, "}}");
	assert_int_equal(job_manifest_parse(json, strlen(json), &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "env: "));
	/* a value of 1024 bytes, and a name of 129 */
	sprintf(json, "{\"argv\": [\"a\"], \"env\": {\"V\": \"%s\"}}", long_str);
	assert_int_equal(job_manifest_parse(json, strlen(json), &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "env: "));
	sprintf(json, "{\"argv\": [\"a\"], \"env\": {\"%.129s\": \"\"}}", long_str);
	assert_int_equal(job_manifest_parse(json, strlen(json), &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "env: "));
	/* a working directory of 1024 bytes */
	sprintf(json, "{\"argv\": [\"a\"], \"cwd\": \"%s\"}", long_str);
	assert_int_equal(job_manifest_parse(json, strlen(json), &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cwd: "));
	/* and the largest accepted: 64 arguments of 1023 bytes */
	long_str[JOB_MAX_STR - 1] = 0;
	n = (size_t)sprintf(json, "{\"argv\": [\"a\"");
	for (int i = 1; i < JOB_MAX_ARGS; i++)
		n += (size_t)sprintf(json + n, ", \"%s\"", long_str);
	sprintf(json + n, "], \"user\": {\"uid\": 1, \"gid\": 1}, \"result_recipient\": \"%s\"}",
		RECIPIENT);
	assert_int_equal(job_manifest_parse(json, strlen(json), &m, err, sizeof(err)), 0);
	assert_int_equal(m.argc, JOB_MAX_ARGS);
	assert_null(m.argv[JOB_MAX_ARGS]);
	job_manifest_free(&m);
}

static void test_manifest_defaults(void **state)
{
	struct job_manifest m;

	(void)state;
	manifest_argv(&m, "[\"bin/x\"]", NULL);
	assert_int_equal(m.argc, 1);
	assert_string_equal(m.argv[0], "bin/x");
	assert_null(m.argv[1]);
	assert_int_equal(m.envc, 0);
	assert_null(m.env[0]);
	assert_string_equal(m.cwd, ".");
	assert_string_equal(m.output_dir, "");
	assert_int_equal(m.deadline_seconds, 3600);
	assert_int_equal(m.limits.cpu_seconds, 0);
	assert_int_equal(m.limits.memory_bytes, 0);
	assert_int_equal(m.limits.file_size_bytes, 1ull << 30);
	assert_int_equal(m.limits.processes, 256);
	assert_int_equal(m.limits.output_bytes, 0);
	assert_int_equal(m.limits.tmp_bytes, 64ull << 20);
	assert_int_equal(m.network, JOB_NETWORK_NONE);
	job_manifest_free(&m);
	manifest_argv(&m, "[\"bin/x\"]", ", \"network\": \"none\"");
	assert_int_equal(m.network, JOB_NETWORK_NONE);
	job_manifest_free(&m);
	manifest_argv(&m, "[\"bin/x\"]",
		      ", \"network\": \"guest\", \"limits\": {\"tmp_bytes\": 4096}");
	assert_int_equal(m.network, JOB_NETWORK_GUEST);
	assert_int_equal(m.limits.tmp_bytes, 4096);
	job_manifest_free(&m);
}

static void test_manifest_full(void **state)
{
	static const char json[] =
		"{\"argv\": [\"bin/transform\", \"data/in.txt\"], \"env\": {\"K\": \"V\"},\n"
		" \"cwd\": \"data\", \"user\": {\"uid\": 1000, \"gid\": 1001},\n"
		" \"limits\": {\"cpu_seconds\": 60, \"memory_bytes\": 1073741824,\n"
		"  \"file_size_bytes\": 1048576, \"processes\": 8, \"output_bytes\": 65536},\n"
		" \"deadline_seconds\": 120, \"output_dir\": \"/output\",\n"
		" \"result_recipient\": \"" RECIPIENT "\"}\n";
	struct job_manifest m;
	char err[256] = "";

	(void)state;
	assert_int_equal(job_manifest_parse(json, strlen(json), &m, err, sizeof(err)), 0);
	assert_int_equal(m.argc, 2);
	assert_string_equal(m.argv[1], "data/in.txt");
	assert_int_equal(m.envc, 1);
	assert_string_equal(m.env[0], "K=V");
	assert_string_equal(m.cwd, "data");
	assert_int_equal(m.uid, 1000);
	assert_int_equal(m.gid, 1001);
	assert_int_equal(m.limits.cpu_seconds, 60);
	assert_int_equal(m.limits.memory_bytes, 1073741824);
	assert_int_equal(m.limits.file_size_bytes, 1048576);
	assert_int_equal(m.limits.processes, 8);
	assert_int_equal(m.limits.output_bytes, 65536);
	assert_int_equal(m.deadline_seconds, 120);
	assert_string_equal(m.output_dir, "/output");
	assert_int_equal(m.recipient[0], 0x02);
	assert_int_equal(m.recipient[32], 0x98);
	job_manifest_free(&m);
	/* the same text, one byte short, is refused: len is honoured */
	assert_int_equal(job_manifest_parse(json, strlen(json) - 3, &m, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest parse[] = {
		cmocka_unit_test(test_manifest_without_recipient),
		cmocka_unit_test(test_manifest_service),
		cmocka_unit_test(test_manifest_refusals),
		cmocka_unit_test(test_manifest_bounds),
		cmocka_unit_test(test_manifest_defaults),
		cmocka_unit_test(test_manifest_full),
	};
	const struct CMUnitTest runner[] = {
		cmocka_unit_test(test_exit_code_and_output_are_captured),
		cmocka_unit_test(test_signal_is_recorded),
		cmocka_unit_test(test_runs_unprivileged_in_its_own_session),
		cmocka_unit_test(test_environment_is_exactly_the_manifests_and_the_agents),
		cmocka_unit_test(test_output_dir_names_the_jobs_view_of_its_output),
		cmocka_unit_test(test_output_dir_is_the_jobs_and_cwd_is_honoured),
		cmocka_unit_test(test_a_cwd_the_job_may_not_enter_is_an_error),
		cmocka_unit_test(test_a_missing_program_is_an_error),
		cmocka_unit_test(test_limits_are_applied),
		cmocka_unit_test(test_file_size_limit_stops_the_writer),
		cmocka_unit_test(test_file_size_limit_bounds_the_captured_output),
		cmocka_unit_test(test_memory_limit_stops_an_allocation),
		cmocka_unit_test(test_process_limit_stops_forks),
		cmocka_unit_test(test_deadline_kills_the_job),
		cmocka_unit_test(test_agent_cap_shortens_the_deadline),
		cmocka_unit_test(test_escapees_die_at_the_deadline),
		cmocka_unit_test(test_escapees_die_when_the_job_exits),
		cmocka_unit_test(test_the_job_sees_a_minimal_dev),
		cmocka_unit_test(test_nothing_but_the_output_and_tmp_is_writable),
		cmocka_unit_test(test_the_job_has_its_own_network_unless_it_asks),
		cmocka_unit_test(test_a_default_memory_limit_applies),
	};
	int failed;

	uid = 20000 + (int)(getpid() % 40000);
	failed = cmocka_run_group_tests_name("manifest", parse, NULL, NULL);

	if (geteuid() != 0) {
		printf("test_job: runner tests skipped: the runner drops privileges and needs "
		       "root\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("runner", runner, setup, teardown);
}
