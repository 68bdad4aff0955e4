/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A job whose solution is its whole root filesystem (rootfs, docs/job.md):
 * real processes on this host, as root like PID 1 in the guest, pivoted
 * into a root made here (a static probe, the directories cvm pack --oci
 * makes), with a data input. The job sees its root and nothing of the
 * host's; its inputs read-only, its output and /tmp writable; a /proc of
 * its own processes; and a program that cannot start says why.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/job.h"
#include "lib/lib.h"
#include "tests/unit/support/files.h"

/* The probe, linked statically: the root holds no loader and no libc. */
static const char probe_src[] =
	"#include <dirent.h>\n"
	"#include <errno.h>\n"
	"#include <fcntl.h>\n"
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"#include <unistd.h>\n"
	"extern char **environ;\n"
	"int main(int argc, char **argv) {\n"
	"  if (argc == 3 && !strcmp(argv[1], \"ls\")) {\n"
	"    DIR *d = opendir(argv[2]); struct dirent *e;\n"
	"    if (!d) { printf(\"%s\\n\", strerror(errno)); return 1; }\n"
	"    while ((e = readdir(d)))\n"
	"      if (e->d_name[0] != '.') printf(\"%s\\n\", e->d_name);\n"
	"    return 0;\n"
	"  }\n"
	"  if (argc == 3 && !strcmp(argv[1], \"cat\")) {\n"
	"    char b[256]; int fd = open(argv[2], O_RDONLY); ssize_t n;\n"
	"    if (fd < 0) { printf(\"%s\\n\", strerror(errno)); return 0; }\n"
	"    while ((n = read(fd, b, sizeof(b))) > 0) fwrite(b, 1, (size_t)n, stdout);\n"
	"    return 0;\n"
	"  }\n"
	"  if (argc == 3 && !strcmp(argv[1], \"write\")) {\n"
	"    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);\n"
	"    printf(\"%s %s\\n\", argv[2], fd < 0 ? strerror(errno) : \"written\");\n"
	"    return 0;\n"
	"  }\n"
	"  if (argc == 2 && !strcmp(argv[1], \"env\")) {\n"
	"    for (char **e = environ; *e; e++) puts(*e);\n"
	"    char cwd[256]; printf(\"cwd=%s\\n\", getcwd(cwd, sizeof(cwd)) ? cwd : \"?\");\n"
	"    return 0;\n"
	"  }\n"
	"  return 2;\n"
	"}\n";

static int uid;
static char root[64], out[128], logs[128], data[128];

static void mk(const char *rel, mode_t mode)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (mkdir(path, mode) < 0)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

static void put(const char *rel, const char *text, mode_t mode)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(file_write_atomic(path, text, strlen(text), NULL, 0), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(root, sizeof(root), "/var/tmp/cvm-rootfs-XXXXXX");
	if (!mkdtemp(root) || chmod(root, 0755) < 0)
		return -1;
	mk("rootfs", 0755);
	snprintf(root + strlen(root), sizeof(root) - strlen(root), "/rootfs");
	for (const char *const *d = (const char *const[]){ "bin", "proc", "dev", "tmp", "inputs",
							   "output", "app", NULL };
	     *d; d++)
		mk(*d, 0755);
	put("probe.c", probe_src, 0644);
	snprintf(cmd, sizeof(cmd), "cc -static -O1 -o %s/bin/probe %s/probe.c", root, root);
	if (system(cmd) != 0)
		return -1;
	put("bin/script", "#!/bin/no-such-shell\necho hi\n", 0755);
	put("bin/data-file", "not a program\n", 0644);
	put("bin/garbage",
	    "\x7f"
	    "ELF-not-really",
	    0755);
	snprintf(out, sizeof(out), "%.*s/out", (int)(strlen(root) - 7), root);
	snprintf(logs, sizeof(logs), "%.*s/log", (int)(strlen(root) - 7), root);
	snprintf(data, sizeof(data), "%.*s/data", (int)(strlen(root) - 7), root);
	if (mkdir(data, 0755) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "echo the data owners bytes > %s/in.txt", data);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %.*s", (int)(strlen(root) - 7), root);
	return system(cmd) == 0 ? 0 : -1;
}

static void fresh(void)
{
	assert_int_equal(test_fresh_dirs(out, logs), 0);
}

static void manifest(struct job_manifest *m, const char *argv, const char *extra)
{
	char json[4096], err[256] = "";

	snprintf(json, sizeof(json),
		 "{\"rootfs\": true, \"argv\": %s, \"user\": {\"uid\": %d, \"gid\": %d}%s}", argv,
		 uid, uid, extra ? extra : "");
	if (job_manifest_parse(json, strlen(json), m, err, sizeof(err)) < 0)
		fail_msg("manifest: %s", err);
}

/* Runs argv in the root with the data input; returns job_run's value, err filled. */
static int run(const char *argv, const char *extra, struct job_status *st, char *err, size_t n)
{
	const struct job_input in[] = { { "data", data } };
	struct job_manifest m;
	int r;

	fresh();
	manifest(&m, argv, extra);
	r = job_run_inputs(&m, root, out, in, 1, logs, 0, st, err, n);
	job_manifest_free(&m);
	return r;
}

/* Runs and returns the job's stdout, sorted so that directory order does not matter. */
static char *run_out(const char *argv)
{
	struct job_status st;
	char err[256] = "", cmd[512];

	if (run(argv, NULL, &st, err, sizeof(err)) < 0)
		fail_msg("job_run: %s", err);
	assert_int_equal(st.exit_code, 0);
	snprintf(cmd, sizeof(cmd), "LC_ALL=C sort -o %s/stdout %s/stdout", logs, logs);
	assert_int_equal(system(cmd), 0);
	return test_read_text(logs, "stdout");
}

static void test_the_job_sees_its_root_and_nothing_of_the_hosts(void **state)
{
	_cleanup_free_ char *top = NULL, *dev = NULL, *inputs = NULL, *in = NULL;

	(void)state;
	top = run_out("[\"/bin/probe\", \"ls\", \"/\"]");
	assert_string_equal(top, "app\nbin\ndev\ninputs\noutput\nprobe.c\nproc\ntmp\n");
	dev = run_out("[\"/bin/probe\", \"ls\", \"/dev\"]");
	assert_string_equal(dev,
			    "fd\nfull\nnull\nrandom\nstderr\nstdin\nstdout\ntty\nurandom\nzero\n");
	inputs = run_out("[\"/bin/probe\", \"ls\", \"/inputs\"]");
	assert_string_equal(inputs, "data\n");
	in = run_out("[\"/bin/probe\", \"cat\", \"/inputs/data/in.txt\"]");
	assert_string_equal(in, "the data owners bytes\n");
}

/* hidepid=invisible: PID 1 of this host (root's) is not in the job's /proc. */
static void test_proc_shows_only_the_jobs_processes(void **state)
{
	_cleanup_free_ char *p = NULL, *one = NULL;

	(void)state;
	p = run_out("[\"/bin/probe\", \"ls\", \"/proc\"]");
	assert_null(strstr(p, "\n1\n"));
	assert_non_null(strstr(p, "self\n"));
	one = run_out("[\"/bin/probe\", \"cat\", \"/proc/1/cmdline\"]");
	assert_string_equal(one, "No such file or directory\n");
}

static void test_only_output_and_tmp_are_writable(void **state)
{
	_cleanup_free_ char *o = NULL, *b = NULL, *i = NULL, *t = NULL;
	char path[256];

	(void)state;
	o = run_out("[\"/bin/probe\", \"write\", \"/output/r.txt\"]");
	assert_string_equal(o, "/output/r.txt written\n");
	snprintf(path, sizeof(path), "%s/r.txt", out);
	assert_int_equal(access(path, F_OK), 0);
	b = run_out("[\"/bin/probe\", \"write\", \"/bin/x\"]");
	assert_string_equal(b, "/bin/x Read-only file system\n");
	i = run_out("[\"/bin/probe\", \"write\", \"/inputs/data/x\"]");
	assert_string_equal(i, "/inputs/data/x Read-only file system\n");
	t = run_out("[\"/bin/probe\", \"write\", \"/tmp/x\"]");
	assert_string_equal(t, "/tmp/x written\n");
	snprintf(path, sizeof(path), "%s/x", data);
	assert_int_equal(access(path, F_OK), -1);
}

/* A bare name is looked up in PATH; the agent's names; the image's cwd. */
static void test_path_lookup_environment_and_cwd(void **state)
{
	struct job_status st;
	char err[256] = "";
	_cleanup_free_ char *o = NULL, *o2 = NULL;

	(void)state;
	assert_int_equal(run("[\"probe\", \"env\"]", ", \"cwd\": \"/app\"", &st, err, sizeof(err)),
			 0);
	o = test_read_text(logs, "stdout");
	assert_non_null(o);
	assert_non_null(strstr(o, "PATH=" JOB_ROOTFS_PATH "\n"));
	assert_non_null(strstr(o, "CVM_WORKLOAD=/\n"));
	assert_non_null(strstr(o, "CVM_OUTPUT=/output\n"));
	assert_non_null(strstr(o, "HOME=/output\n"));
	assert_non_null(strstr(o, "cwd=/app\n"));
	/* the image's own PATH and HOME are the job's */
	assert_int_equal(run("[\"probe\", \"env\"]",
			     ", \"env\": {\"PATH\": \"/bin\", \"HOME\": \"/app\", \"LANG\": \"C\"}",
			     &st, err, sizeof(err)),
			 0);
	o2 = test_read_text(logs, "stdout");
	assert_non_null(strstr(o2, "PATH=/bin\n"));
	assert_null(strstr(o2, "PATH=" JOB_ROOTFS_PATH));
	assert_non_null(strstr(o2, "HOME=/app\n"));
	assert_non_null(strstr(o2, "cwd=/\n"));
}

/* E_JOB_START says why, without the job's output. */
static void test_a_program_that_cannot_start_says_why(void **state)
{
	static const struct {
		const char *argv, *extra, *why;
		int r;
	} cases[] = {
		{ "[\"/bin/none\"]", NULL, "argv[0]: not found in the solution", -ENOENT },
		{ "[\"none\"]", NULL, "not found in the solution (looked up in PATH)", -ENOENT },
		{ "[\"probe\"]", ", \"env\": {\"PATH\": \"/app\"}", "not found", -ENOENT },
		{ "[\"/bin/data-file\"]", NULL, "argv[0]: not an executable file", -EACCES },
		{ "[\"/bin\"]", NULL, "argv[0]: not an executable file", -EACCES },
		{ "[\"/bin/script\"]", NULL, "its interpreter or loader is missing", -ENOENT },
		{ "[\"/bin/garbage\"]", NULL, "not a format the kernel can run", -ENOEXEC },
		{ "[\"/bin/probe\"]", ", \"cwd\": \"/nowhere\"", "cwd: No such file", -ENOENT },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct job_status st;
		char err[256] = "";
		int r = run(cases[i].argv, cases[i].extra, &st, err, sizeof(err));

		if (r != cases[i].r || strncmp(err, "E_JOB_START: ", 13) ||
		    !strstr(err, cases[i].why))
			fail_msg("case %zu: %d '%s', wanted %d '%s'", i, r, err, cases[i].r,
				 cases[i].why);
	}
}

/* The root must hold the mount points; a link there would lead the mounts out of it. */
static void test_a_root_without_its_directories_is_refused(void **state)
{
	struct job_status st;
	char err[256] = "", path[256], moved[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/inputs", root);
	snprintf(moved, sizeof(moved), "%s/inputs.away", root);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(symlink("/etc", path), 0);
	assert_int_equal(run("[\"/bin/probe\"]", NULL, &st, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, "E_JOB_START: the solution's root has no directory /inputs"));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rename(moved, path), 0);
}

/* The manifest's rules for rootfs: absolute paths and bare names, the image's PATH. */
static void test_rootfs_manifest_rules(void **state)
{
	static const struct {
		const char *json, *why; /* why NULL: accepted */
	} cases[] = {
		{ "\"rootfs\": true, \"argv\": [\"/usr/bin/python3\"], \"cwd\": \"/app\"", NULL },
		{ "\"rootfs\": true, \"argv\": [\"python3\"], \"env\": {\"PATH\": \"/usr/bin\", "
		  "\"LD_LIBRARY_PATH\": \"/opt\", \"HOME\": \"/app\"}",
		  NULL },
		{ "\"rootfs\": true, \"argv\": [\"bin/python3\"]",
		  "argv[0]: not an absolute path" },
		{ "\"rootfs\": true, \"argv\": [\"/usr/../bin/sh\"]", "argv[0]: " },
		{ "\"rootfs\": true, \"argv\": [\"/\"]", "argv[0]: " },
		{ "\"rootfs\": true, \"argv\": [\"sh\"], \"cwd\": \"app\"", "cwd: " },
		{ "\"rootfs\": true, \"argv\": [\"sh\"], \"env\": {\"CVM_X\": \"1\"}", "env: " },
		{ "\"rootfs\": false, \"argv\": [\"/bin/sh\"]", "argv[0]: not a relative path" },
		{ "\"argv\": [\"sh\"], \"env\": {\"PATH\": \"/bin\"}", "env: " },
		{ "\"argv\": [\"sh\"], \"cwd\": \"/app\"", "cwd: " },
		{ "\"rootfs\": 1, \"argv\": [\"sh\"]", "rootfs: " },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char json[1024], err[256] = "";
		struct job_manifest m;
		int r;

		snprintf(json, sizeof(json), "{%s, \"user\": {\"uid\": 1, \"gid\": 1}}",
			 cases[i].json);
		r = job_manifest_parse(json, strlen(json), &m, err, sizeof(err));
		if (cases[i].why ? (r != -EINVAL || !strstr(err, cases[i].why)) : r != 0)
			fail_msg("case %zu: %d '%s'", i, r, err);
		if (!cases[i].why)
			assert_string_equal(m.output_dir, "/output");
		job_manifest_free(&m);
	}
}

int main(void)
{
	const struct CMUnitTest parse[] = {
		cmocka_unit_test(test_rootfs_manifest_rules),
	};
	const struct CMUnitTest runner[] = {
		cmocka_unit_test(test_the_job_sees_its_root_and_nothing_of_the_hosts),
		cmocka_unit_test(test_proc_shows_only_the_jobs_processes),
		cmocka_unit_test(test_only_output_and_tmp_are_writable),
		cmocka_unit_test(test_path_lookup_environment_and_cwd),
		cmocka_unit_test(test_a_program_that_cannot_start_says_why),
		cmocka_unit_test(test_a_root_without_its_directories_is_refused),
	};
	int failed;

	uid = 20000 + (int)((getpid() + 7) % 40000);
	failed = cmocka_run_group_tests_name("rootfs manifest", parse, NULL, NULL);
	if (geteuid() != 0) {
		printf("test_job_rootfs: runner tests skipped: they need root\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("rootfs runner", runner, setup, teardown);
}
