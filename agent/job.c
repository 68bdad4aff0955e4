/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job: cvm-job.json parsed strictly (its bytes come from the customer's
 * authenticated volume, but a parser trusts nothing), then run as an
 * unprivileged user with limits and a deadline. No shell anywhere.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <secp256k1.h>

#include "agent/job.h"
#include "lib/lib.h"

#define JOB_DEFAULT_DEADLINE 3600
#define JOB_DEFAULT_FSIZE (1ull << 30)
#define JOB_DEFAULT_NPROC 256

static int bad(char *err, size_t errlen, const char *member, const char *why)
{
	return set_error(err, errlen, -EINVAL, "E_MANIFEST: %s: %s", member, why);
}

/* A path below the workload root: relative, normal, no "..", printable. */
static bool relpath_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= JOB_MAX_STR || s[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	for (const char *p = s; *p;) {
		size_t c = strcspn(p, "/");

		if (c == 0 || (c == 2 && !strncmp(p, "..", 2)))
			return false;
		p += c;
		p += *p == '/';
	}
	return true;
}

static bool env_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Names the agent sets itself; the manifest may not replace them. */
static bool env_reserved(const char *s)
{
	return !strncmp(s, "CVM_", 4) || !strcmp(s, "HOME") || !strcmp(s, "PATH") ||
	       !strncmp(s, "LD_", 3);
}

static int only(const cJSON *o, const char *where, const char *const *names, char *err,
		size_t errlen)
{
	const cJSON *m;

	if (!cJSON_IsObject(o))
		return bad(err, errlen, where, "not an object");
	cJSON_ArrayForEach(m, o) {
		bool known = false;

		for (size_t i = 0; names[i] && !known; i++)
			known = !strcmp(m->string, names[i]);
		if (!known)
			return bad(err, errlen, where, "unknown member");
	}
	return 0;
}

static int parse_argv(const cJSON *a, struct job_manifest *m, char *err, size_t errlen)
{
	const cJSON *s;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > JOB_MAX_ARGS)
		return bad(err, errlen, "argv", "an array of 1 to 64 strings");
	cJSON_ArrayForEach(s, a) {
		if (!cJSON_IsString(s) || strlen(s->valuestring) >= JOB_MAX_STR)
			return bad(err, errlen, "argv", "an array of strings of under 1024 bytes");
		if (!(m->argv[m->argc++] = strdup(s->valuestring)))
			return -ENOMEM;
	}
	if (!relpath_valid(m->argv[0]))
		return bad(err, errlen, "argv[0]", "not a relative path inside the workload");
	return 0;
}

static int parse_env(const cJSON *e, struct job_manifest *m, char *err, size_t errlen)
{
	const cJSON *v;

	if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) > JOB_MAX_ENV)
		return bad(err, errlen, "env", "an object of at most 64 strings");
	cJSON_ArrayForEach(v, e) {
		char *kv;

		if (!env_name_valid(v->string) || env_reserved(v->string))
			return bad(err, errlen, "env", "a name that is invalid or reserved");
		if (!cJSON_IsString(v) || strlen(v->valuestring) >= JOB_MAX_STR)
			return bad(err, errlen, "env", "values are strings of under 1024 bytes");
		if (asprintf(&kv, "%s=%s", v->string, v->valuestring) < 0)
			return -ENOMEM;
		m->env[m->envc++] = kv;
	}
	return 0;
}

static int num(const cJSON *o, const char *key, uint64_t min, uint64_t max, uint64_t *out,
	       char *err, size_t errlen)
{
	int r = json_get_u64(o, key, out);

	if (r == -ENOENT)
		return 0;
	if (r < 0 || *out < min || *out > max)
		return bad(err, errlen, key, "not an integer in range");
	return 0;
}

static int parse_limits(const cJSON *l, struct job_limits *lim, char *err, size_t errlen)
{
	static const char *const names[] = { "cpu_seconds", "memory_bytes", "file_size_bytes",
					     "processes",   "output_bytes", NULL };
	int r;

	if ((r = only(l, "limits", names, err, errlen)) < 0 ||
	    (r = num(l, "cpu_seconds", 1, 30 * 24 * 3600, &lim->cpu_seconds, err, errlen)) < 0 ||
	    (r = num(l, "memory_bytes", 1 << 20, 1ull << 46, &lim->memory_bytes, err, errlen)) <
		    0 ||
	    (r = num(l, "file_size_bytes", 1, 1ull << 46, &lim->file_size_bytes, err, errlen)) <
		    0 ||
	    (r = num(l, "processes", 1, 65536, &lim->processes, err, errlen)) < 0)
		return r;
	return num(l, "output_bytes", 4096, 1ull << 46, &lim->output_bytes, err, errlen);
}

static int parse_user(const cJSON *u, struct job_manifest *m, char *err, size_t errlen)
{
	static const char *const names[] = { "uid", "gid", NULL };
	uint64_t uid = 0, gid = 0;
	int r;

	if ((r = only(u, "user", names, err, errlen)) < 0)
		return r;
	/* root, and the overflow id 65534 that stands for "unmapped", are refused */
	if (json_get_u64(u, "uid", &uid) < 0 || uid < 1 || uid > 65533)
		return bad(err, errlen, "user.uid", "an integer from 1 to 65533");
	if (json_get_u64(u, "gid", &gid) < 0 || gid < 1 || gid > 65533)
		return bad(err, errlen, "user.gid", "an integer from 1 to 65533");
	m->uid = (uid_t)uid;
	m->gid = (gid_t)gid;
	return 0;
}

static int parse_recipient(const cJSON *root, struct job_manifest *m, char *err, size_t errlen)
{
	secp256k1_context *ctx;
	secp256k1_pubkey pk;
	int ok;

	if (json_get_hex(root, "result_recipient", m->recipient, 33) < 0 ||
	    (m->recipient[0] != 2 && m->recipient[0] != 3))
		return bad(err, errlen, "result_recipient",
			   "not a compressed secp256k1 public key (33 bytes of hex)");
	ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	ok = ctx && secp256k1_ec_pubkey_parse(ctx, &pk, m->recipient, 33);
	secp256k1_context_destroy(ctx);
	return ok ? 0 : bad(err, errlen, "result_recipient", "not a point on secp256k1");
}

static int parse_root(const cJSON *root, struct job_manifest *m, char *err, size_t errlen)
{
	static const char *const names[] = { "argv",	   "env",
					     "cwd",	   "user",
					     "limits",	   "deadline_seconds",
					     "output_dir", "result_recipient",
					     NULL };
	const cJSON *v;
	const char *s;
	int r;

	if ((r = only(root, "cvm-job.json", names, err, errlen)) < 0 ||
	    (r = parse_argv(cJSON_GetObjectItemCaseSensitive(root, "argv"), m, err, errlen)) < 0)
		return r;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "env")) &&
	    (r = parse_env(v, m, err, errlen)) < 0)
		return r;
	snprintf(m->cwd, sizeof(m->cwd), ".");
	if ((r = json_get_string(root, "cwd", &s)) == 0) {
		if (strcmp(s, ".") && !relpath_valid(s))
			return bad(err, errlen, "cwd", "not a relative path inside the workload");
		snprintf(m->cwd, sizeof(m->cwd), "%s", s);
	} else if (r != -ENOENT) {
		return bad(err, errlen, "cwd", "not a string");
	}
	if ((r = json_get_string(root, "output_dir", &s)) == 0) {
		/* one directory under /, for the job's view of its output */
		if (s[0] != '/' || !relpath_valid(s + 1) || strchr(s + 1, '/') ||
		    strlen(s) >= sizeof(m->output_dir))
			return bad(err, errlen, "output_dir", "not /NAME");
		snprintf(m->output_dir, sizeof(m->output_dir), "%s", s);
	} else if (r != -ENOENT) {
		return bad(err, errlen, "output_dir", "not a string");
	}
	if (!(v = cJSON_GetObjectItemCaseSensitive(root, "user")))
		return bad(err, errlen, "user", "required");
	if ((r = parse_user(v, m, err, errlen)) < 0)
		return r;
	m->limits.file_size_bytes = JOB_DEFAULT_FSIZE;
	m->limits.processes = JOB_DEFAULT_NPROC;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "limits")) &&
	    (r = parse_limits(v, &m->limits, err, errlen)) < 0)
		return r;
	m->deadline_seconds = JOB_DEFAULT_DEADLINE;
	if ((r = num(root, "deadline_seconds", 1, 30 * 24 * 3600, &m->deadline_seconds, err,
		     errlen)) < 0)
		return r;
	return parse_recipient(root, m, err, errlen);
}

int job_manifest_parse(const char *text, size_t len, struct job_manifest *m, char *err,
		       size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	if (json_parse(text, len, &root) < 0)
		return bad(err, errlen, "cvm-job.json", "not valid JSON");
	r = parse_root(root, m, err, errlen);
	if (r < 0)
		job_manifest_free(m);
	return r;
}

void job_manifest_free(struct job_manifest *m)
{
	for (size_t i = 0; i < m->argc; i++)
		free(m->argv[i]);
	for (size_t i = 0; i < m->envc; i++)
		free(m->env[i]);
	memset(m, 0, sizeof(*m));
}

/* ---- the runner ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void limit(int what, uint64_t v)
{
	struct rlimit rl = { (rlim_t)v, (rlim_t)v };

	if (v)
		setrlimit(what, &rl);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
__attribute__((noreturn)) static void child(const struct job_manifest *m, const char *path,
					    const char *dir, char *const *envp, int out, int errfd,
					    int report)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), e;

	if (setsid() < 0 || null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(errfd, 2) < 0 || chdir(dir) < 0)
		goto fail;
	limit(RLIMIT_CPU, m->limits.cpu_seconds);
	limit(RLIMIT_AS, m->limits.memory_bytes);
	limit(RLIMIT_FSIZE, m->limits.file_size_bytes);
	limit(RLIMIT_NPROC, m->limits.processes);
	setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
	if (setgroups(0, NULL) < 0 || setgid(m->gid) < 0 || setuid(m->uid) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail;
	umask(077);
	signal(SIGPIPE, SIG_DFL);
	execve(path, m->argv, envp);
fail:
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* Kills every process of uid: a helper that becomes uid signals all it may (kill -1). */
static void kill_uid(uid_t uid, gid_t gid)
{
	for (int pass = 0; pass < 2; pass++) {
		pid_t k = fork();

		if (k == 0) {
			if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
				_exit(1);
			kill(-1, SIGKILL);
			_exit(0);
		}
		if (k > 0)
			waitpid(k, NULL, 0);
	}
}

static int open_log(const char *dir, const char *name, const struct job_manifest *m)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && fchown(fd, m->uid, m->gid) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static char **job_env(const struct job_manifest *m, const char *root, const char *outdir)
{
	char **envp = calloc(m->envc + 5, sizeof(char *));
	size_t n = 0;

	if (!envp)
		return NULL;
	for (size_t i = 0; i < m->envc; i++)
		envp[n++] = m->env[i];
	if (asprintf(&envp[n++], "CVM_WORKLOAD=%s", root) < 0 ||
	    asprintf(&envp[n++], "CVM_OUTPUT=%s", m->output_dir[0] ? m->output_dir : outdir) < 0 ||
	    asprintf(&envp[n++], "HOME=%s", outdir) < 0 ||
	    asprintf(&envp[n++], "PATH=/usr/bin:/bin") < 0)
		envp[n - 1] = NULL;
	return envp;
}

static void free_env(const struct job_manifest *m, char **envp)
{
	for (size_t i = m->envc; envp && envp[i]; i++)
		free(envp[i]);
	free(envp);
}

/* Waits for pid until deadline_ms, reaping every other child on the way. */
static void wait_job(pid_t pid, uint64_t deadline_ms, const struct job_manifest *m,
		     struct job_status *st)
{
	bool killed = false;

	for (;;) {
		int status;
		pid_t w = waitpid(-1, &status, WNOHANG);

		if (w == pid) {
			st->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			st->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
			return;
		}
		if (w > 0)
			continue;
		if (w < 0 && errno == ECHILD)
			return;
		if (!killed && now_ms() >= deadline_ms) {
			st->timed_out = killed = true;
			kill(-pid, SIGKILL);
			kill_uid(m->uid, m->gid);
		}
		usleep(10000);
	}
}

int job_run(const struct job_manifest *m, const char *workload_root, const char *output_dir,
	    const char *log_dir, long deadline_cap_seconds, struct job_status *st, char *err,
	    size_t errlen)
{
	char path[4096], dir[4096];
	int out, errfd, pipefd[2], e = 0;
	uint64_t deadline = m->deadline_seconds, t0;
	char **envp;
	pid_t pid;
	ssize_t n;

	memset(st, 0, sizeof(*st));
	st->exit_code = -1;
	if (deadline_cap_seconds > 0 && (uint64_t)deadline_cap_seconds < deadline)
		deadline = (uint64_t)deadline_cap_seconds;
	if (snprintf(path, sizeof(path), "%s/%s", workload_root, m->argv[0]) >= (int)sizeof(path) ||
	    snprintf(dir, sizeof(dir), "%s/%s", workload_root, m->cwd) >= (int)sizeof(dir))
		return set_error(err, errlen, -ENAMETOOLONG, "E_JOB_START: path too long");
	if (chown(output_dir, m->uid, m->gid) < 0 || chmod(output_dir, 0700) < 0)
		return set_error(err, errlen, -errno, "E_JOB_START: output directory: %s",
				 strerror(errno));
	out = open_log(log_dir, "stdout", m);
	errfd = open_log(log_dir, "stderr", m);
	envp = job_env(m, workload_root, output_dir);
	if (out < 0 || errfd < 0 || !envp || pipe2(pipefd, O_CLOEXEC) < 0) {
		e = errno ? errno : ENOMEM;
		goto out;
	}
	/* orphans of the job come back to this process, as they would to PID 1 */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	t0 = now_ms();
	pid = fork();
	if (pid == 0)
		child(m, path, dir, envp, out, errfd, pipefd[1]);
	close(pipefd[1]);
	if (pid < 0) {
		e = errno;
		close(pipefd[0]);
		goto out;
	}
	n = read(pipefd[0], &e, sizeof(e));
	close(pipefd[0]);
	if (n != (ssize_t)sizeof(e))
		e = 0; /* exec succeeded: the pipe closed */
	wait_job(pid, t0 + deadline * 1000, m, st);
	/* nothing of the job outlives it: escapees of its session too */
	kill_uid(m->uid, m->gid);
	st->runtime_ms = now_ms() - t0;
	/* reap what the kill left, for a bounded time (a task in D state may linger) */
	for (uint64_t end = now_ms() + 2000; now_ms() < end;) {
		pid_t w = waitpid(-1, NULL, WNOHANG);

		if (w < 0)
			break;
		if (w == 0)
			usleep(5000);
	}
out:
	if (out >= 0)
		close(out);
	if (errfd >= 0)
		close(errfd);
	free_env(m, envp);
	if (e)
		return set_error(err, errlen, -e, "E_JOB_START: %s", strerror(e));
	return 0;
}
