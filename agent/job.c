/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job: cvm-job.json parsed strictly (its bytes come from the customer's
 * authenticated volume, but a parser trusts nothing), then run as an
 * unprivileged user with limits and a deadline. No shell anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>
#include <secp256k1.h>

#include "agent/job.h"
#include "lib/lib.h"

#define JOB_DEFAULT_DEADLINE 3600
#define JOB_DEFAULT_FSIZE (1ull << 30)
#define JOB_DEFAULT_NPROC 256
#define JOB_DEFAULT_TMP (64ull << 20)
#define JOB_MIN_MEMORY (16ull << 20)
#define JOB_MAX_SECONDS (30ull * 24 * 3600)
#define JOB_MAX_BYTES (1ull << 46)
#define ENV_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

static int bad(char *err, size_t errlen, const char *member, const char *why)
{
	return set_error(err, errlen, -EINVAL, "E_MANIFEST: %s: %s", member, why);
}

/* A path below the workload root: relative, no empty or ".." component, no control character. */
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

/* [A-Za-z_][A-Za-z0-9_]*, in ASCII whatever the locale */
static bool env_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || strspn(s, ENV_NAME_CHARS) != n || (s[0] >= '0' && s[0] <= '9'))
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
	if (!cJSON_IsObject(o))
		return bad(err, errlen, where, "not an object");
	return json_unknown_member(o, names, SIZE_MAX) ? bad(err, errlen, where, "unknown member")
						       : 0;
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

/* An optional JSON integer (not a string) in [min, max]; *out keeps its default when absent. */
static int num(const cJSON *o, const char *key, const char *name, uint64_t min, uint64_t max,
	       uint64_t *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	uint64_t x;

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || json_get_u64(o, key, &x) < 0 || x < min || x > max)
		return set_error(err, errlen, -EINVAL,
				 "E_MANIFEST: %s: not an integer from %llu to %llu", name,
				 (unsigned long long)min, (unsigned long long)max);
	*out = x;
	return 0;
}

static int num_required(const cJSON *o, const char *key, const char *name, uint64_t min,
			uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	if (!cJSON_GetObjectItemCaseSensitive(o, key))
		return bad(err, errlen, name, "required");
	return num(o, key, name, min, max, out, err, errlen);
}

static int parse_limits(const cJSON *l, struct job_limits *lim, char *err, size_t errlen)
{
	static const char *const names[] = { "cpu_seconds", "memory_bytes", "file_size_bytes",
					     "processes",   "output_bytes", "tmp_bytes",
					     NULL };
	int r;

	if ((r = only(l, "limits", names, err, errlen)) < 0 ||
	    (r = num(l, "cpu_seconds", "limits.cpu_seconds", 1, JOB_MAX_SECONDS, &lim->cpu_seconds,
		     err, errlen)) < 0 ||
	    (r = num(l, "memory_bytes", "limits.memory_bytes", 16ull << 20, JOB_MAX_BYTES,
		     &lim->memory_bytes, err, errlen)) < 0 ||
	    (r = num(l, "file_size_bytes", "limits.file_size_bytes", 1, JOB_MAX_BYTES,
		     &lim->file_size_bytes, err, errlen)) < 0 ||
	    (r = num(l, "processes", "limits.processes", 1, 65536, &lim->processes, err, errlen)) <
		    0 ||
	    (r = num(l, "tmp_bytes", "limits.tmp_bytes", 4096, JOB_MAX_BYTES, &lim->tmp_bytes, err,
		     errlen)) < 0)
		return r;
	return num(l, "output_bytes", "limits.output_bytes", 4096, JOB_MAX_BYTES,
		   &lim->output_bytes, err, errlen);
}

static int parse_user(const cJSON *u, struct job_manifest *m, char *err, size_t errlen)
{
	static const char *const names[] = { "uid", "gid", NULL };
	uint64_t uid = 0, gid = 0;
	int r;

	/* root, and the overflow id 65534 that stands for "unmapped", are refused */
	if ((r = only(u, "user", names, err, errlen)) < 0 ||
	    (r = num_required(u, "uid", "user.uid", 1, 65533, &uid, err, errlen)) < 0 ||
	    (r = num_required(u, "gid", "user.gid", 1, 65533, &gid, err, errlen)) < 0)
		return r;
	m->uid = (uid_t)uid;
	m->gid = (gid_t)gid;
	return 0;
}

static int parse_recipient(const cJSON *root, struct job_manifest *m, char *err, size_t errlen)
{
	secp256k1_pubkey pk;

	if (!cJSON_GetObjectItemCaseSensitive(root, "result_recipient"))
		return bad(err, errlen, "result_recipient", "required");
	if (json_get_hex(root, "result_recipient", m->recipient, 33) < 0 ||
	    (m->recipient[0] != 2 && m->recipient[0] != 3))
		return bad(err, errlen, "result_recipient",
			   "not a compressed secp256k1 public key (33 bytes of hex)");
	if (!cvm_secp256k1() || !secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, m->recipient, 33))
		return bad(err, errlen, "result_recipient", "not a point on secp256k1");
	return 0;
}

static int parse_paths(const cJSON *root, struct job_manifest *m, char *err, size_t errlen)
{
	const char *s;
	int r;

	snprintf(m->cwd, sizeof(m->cwd), ".");
	if ((r = json_get_string(root, "cwd", &s)) == 0) {
		if (strcmp(s, ".") && !relpath_valid(s))
			return bad(err, errlen, "cwd", "not a relative path inside the workload");
		snprintf(m->cwd, sizeof(m->cwd), "%s", s);
	} else if (r != -ENOENT) {
		return bad(err, errlen, "cwd", "not a string");
	}
	if ((r = json_get_string(root, "output_dir", &s)) == 0) {
		/* one new name directly under /, where the agent links the output area */
		if (s[0] != '/' || !relpath_valid(s + 1) || strchr(s + 1, '/') ||
		    !strcmp(s, "/.") || strlen(s) >= sizeof(m->output_dir))
			return bad(err, errlen, "output_dir", "not /NAME");
		snprintf(m->output_dir, sizeof(m->output_dir), "%s", s);
	} else if (r != -ENOENT) {
		return bad(err, errlen, "output_dir", "not a string");
	}
	return 0;
}

/* "network": "none" (the default) or "guest": asked for by name, nothing else. */
static int parse_network(const cJSON *root, struct job_manifest *m, char *err, size_t errlen)
{
	const char *s;
	int r = json_get_string(root, "network", &s);

	m->network = JOB_NETWORK_NONE;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return bad(err, errlen, "network", "not a string");
	if (!strcmp(s, "guest"))
		m->network = JOB_NETWORK_GUEST;
	else if (strcmp(s, "none"))
		return bad(err, errlen, "network", "\"none\" or \"guest\"");
	return 0;
}

static int parse_root(const cJSON *root, struct job_manifest *m, char *err, size_t errlen)
{
	static const char *const names[] = { "argv",	   "env",
					     "cwd",	   "user",
					     "limits",	   "deadline_seconds",
					     "output_dir", "result_recipient",
					     "network",	   NULL };
	const cJSON *v;
	int r;

	if ((r = only(root, "cvm-job.json", names, err, errlen)) < 0 ||
	    (r = parse_argv(cJSON_GetObjectItemCaseSensitive(root, "argv"), m, err, errlen)) < 0)
		return r;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "env")) &&
	    (r = parse_env(v, m, err, errlen)) < 0)
		return r;
	if ((r = parse_paths(root, m, err, errlen)) < 0)
		return r;
	if (!(v = cJSON_GetObjectItemCaseSensitive(root, "user")))
		return bad(err, errlen, "user", "required");
	if ((r = parse_user(v, m, err, errlen)) < 0)
		return r;
	m->limits.file_size_bytes = JOB_DEFAULT_FSIZE;
	m->limits.processes = JOB_DEFAULT_NPROC;
	m->limits.tmp_bytes = JOB_DEFAULT_TMP;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "limits")) &&
	    (r = parse_limits(v, &m->limits, err, errlen)) < 0)
		return r;
	m->deadline_seconds = JOB_DEFAULT_DEADLINE;
	if ((r = num(root, "deadline_seconds", "deadline_seconds", 1, JOB_MAX_SECONDS,
		     &m->deadline_seconds, err, errlen)) < 0 ||
	    (r = parse_network(root, m, err, errlen)) < 0)
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
	if (r == -ENOMEM)
		set_error(err, errlen, r, "E_MANIFEST: out of memory");
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

#define KILL_ROUNDS 100
#define POLL_US 10000

/* The job's pid and, once reaped, how it ended. */
struct reaper {
	pid_t job;
	bool done;
	int status;
};

/* Reaps every child that has ended, not only the job: the caller is PID 1. */
static void reap(struct reaper *r)
{
	int status;
	pid_t w;

	while ((w = waitpid(-1, &status, WNOHANG)) > 0)
		if (w == r->job) {
			r->done = true;
			r->status = status;
		}
	if (w < 0 && errno == ECHILD && !r->done) {
		/* nothing left to wait for: the job was reaped elsewhere */
		r->done = true;
		r->status = -1;
	}
}

/*
 * Kills every process of the job's uid, also those that left its session
 * and process group: a helper that has become the uid sends kill(-1,
 * SIGKILL), which reaches every process it may signal but itself (kill(2)).
 * A forking job can race one pass, so the rounds go on, reaping in between,
 * until a helper finds nothing left (ESRCH), for a bounded number of rounds.
 */
static void kill_uid(const struct job_manifest *m, struct reaper *r)
{
	for (int round = 0; round < KILL_ROUNDS; round++) {
		int status = 0;
		pid_t k = fork();

		if (k == 0) {
			if (setgroups(0, NULL) < 0 || setgid(m->gid) < 0 || setuid(m->uid) < 0)
				_exit(2);
			_exit(kill(-1, SIGKILL) == 0 ? 0 : 1);
		}
		if (k < 0)
			return;
		while (waitpid(k, &status, 0) < 0 && errno == EINTR)
			;
		reap(r);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return;
		usleep(2000);
	}
}

static int limit(int what, uint64_t v)
{
	struct rlimit rl = { (rlim_t)v, (rlim_t)v };

	return v ? setrlimit(what, &rl) : 0;
}

/* The job starts with default signal dispositions and an empty mask, whatever PID 1 uses. */
static int reset_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP */
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

uint64_t job_memory_default(void)
{
	struct sysinfo si;
	uint64_t half;

	if (sysinfo(&si) < 0)
		return JOB_MIN_MEMORY;
	half = (uint64_t)si.totalram * si.mem_unit / 2;
	return half > JOB_MIN_MEMORY ? half : JOB_MIN_MEMORY;
}

/* What the child needs for its namespaces, prepared before the fork (no snprintf after it). */
struct confine {
	const char *output_dir;
	char tmp_opts[64]; /* tmpfs options of the job's /tmp */
	uint64_t memory;   /* RLIMIT_AS, when the job has no cgroup */
	int cgroup_procs;  /* the job's cgroup.procs, or -1 */
	int flags;	   /* of unshare */
};

/*
 * The job's memory, all its processes together, in a cgroup v2 group of its
 * own (the kernel's Documentation/admin-guide/cgroup-v2.rst): memory.max
 * (resident memory, page cache and the tmpfs pages of its /tmp), no swap,
 * and the whole group killed on an out-of-memory (memory.oom.group). Only
 * the agent as PID 1 of the guest makes it; elsewhere (tests on a host)
 * the job gets RLIMIT_AS instead.
 */
#define JOB_CGROUP_ROOT "/sys/fs/cgroup"
#define JOB_CGROUP JOB_CGROUP_ROOT "/cvm-job"

static int high_fd(int fd);

static int put_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;
	size_t n = strlen(value);

	if (fd < 0)
		return -1;
	if (write(fd, value, n) != (ssize_t)n)
		r = -1;
	if (close(fd) < 0)
		r = -1;
	return r;
}

/* The job's cgroup, limited to memory bytes: its cgroup.procs open for writing, or -1. */
static int job_cgroup(uint64_t memory, char *err, size_t errlen)
{
	struct statfs sf;
	char v[32];
	int fd;

	if (statfs(JOB_CGROUP_ROOT, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) {
		if ((mkdir(JOB_CGROUP_ROOT, 0755) < 0 && errno != EEXIST) ||
		    mount("cgroup2", JOB_CGROUP_ROOT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0)
			return set_error(err, errlen, -errno, "cgroup2 on %s: %s", JOB_CGROUP_ROOT,
					 strerror(errno));
	}
	snprintf(v, sizeof(v), "%llu", (unsigned long long)memory);
	if (put_file(JOB_CGROUP_ROOT "/cgroup.subtree_control", "+memory") < 0 ||
	    (mkdir(JOB_CGROUP, 0755) < 0 && errno != EEXIST) ||
	    put_file(JOB_CGROUP "/memory.max", v) < 0 ||
	    put_file(JOB_CGROUP "/memory.oom.group", "1") < 0)
		return set_error(err, errlen, -errno, "the job's cgroup: %s", strerror(errno));
	/* no swap in the guest as shipped; where there is, the job gets none of it */
	if (put_file(JOB_CGROUP "/memory.swap.max", "0") < 0 && errno != ENOENT)
		return set_error(err, errlen, -errno, "memory.swap.max: %s", strerror(errno));
	fd = high_fd(open(JOB_CGROUP "/cgroup.procs", O_WRONLY | O_CLOEXEC));
	if (fd < 0)
		return set_error(err, errlen, -errno, "cgroup.procs: %s", strerror(errno));
	return fd;
}

/* The devices a program may expect; nothing else of /dev (disks, the TPM, the console) is seen. */
static const char *const job_devices[] = { "null", "zero", "full", "random", "urandom", "tty" };

static int mount_attr(const char *path, unsigned int at, uint64_t set, uint64_t clr)
{
	struct mount_attr a = { .attr_set = set, .attr_clr = clr };

	return mount_setattr(AT_FDCWD, path, at, &a, sizeof(a));
}

/*
 * A /dev of job_devices only: a small tmpfs mounted over /dev, each device
 * bind-mounted from the old /dev through a descriptor opened before.
 */
static int private_dev(void)
{
	int fds[ARRAY_SIZE(job_devices)], r = 0;
	char path[64];

	for (size_t i = 0; i < ARRAY_SIZE(job_devices); i++) {
		/* path from constant parts only: "/dev/" and a name of the table */
		memcpy(path, "/dev/", 5);
		memcpy(path + 5, job_devices[i], strlen(job_devices[i]) + 1);
		fds[i] = open(path, O_PATH | O_CLOEXEC);
	}
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		r = -1;
	for (size_t i = 0; i < ARRAY_SIZE(job_devices); i++) {
		char src[32] = "/proc/self/fd/", num[12];
		size_t n = 0;
		int fd;

		if (r < 0 || fds[i] < 0)
			continue;
		/* the descriptor's number in decimal, without snprintf */
		for (int v = fds[i]; n == 0 || v; v /= 10)
			num[n++] = (char)('0' + v % 10);
		for (size_t j = 0; j < n; j++)
			src[14 + j] = num[n - 1 - j];
		src[14 + n] = 0;
		memcpy(path, "/dev/", 5);
		memcpy(path + 5, job_devices[i], strlen(job_devices[i]) + 1);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 || close(fd) < 0 || mount(src, path, NULL, MS_BIND, NULL) < 0)
			r = -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(job_devices); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r == 0 && (symlink("/proc/self/fd", "/dev/fd") < 0 ||
		       symlink("/proc/self/fd/0", "/dev/stdin") < 0 ||
		       symlink("/proc/self/fd/1", "/dev/stdout") < 0 ||
		       symlink("/proc/self/fd/2", "/dev/stderr") < 0))
		r = -1;
	/* nothing more is made there: read-only (writes to the devices still go through) */
	return r == 0 ? mount_attr("/dev", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0) : -1;
}

/* lo up in the job's own network namespace (SIOCSIFFLAGS, netdevice(7)). */
static int loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -1;
	memcpy(ifr.ifr_name, "lo", 3);
	r = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (r == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return r;
}

/*
 * The job's view of the system, made in the child while it is still root:
 * namespaces of its own; every mount read-only and nosuid, except its
 * output directory; a size-limited tmpfs on /tmp (the 1777 /tmp of the
 * guest's root is not the job's); a minimal /dev; lo only, unless the
 * manifest asked for the guest's network.
 */
static int confine(const struct confine *c)
{
	if (unshare(c->flags) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	/* the output directory its own mount, so that it can stay writable */
	if (mount(c->output_dir, c->output_dir, NULL, MS_BIND, NULL) < 0 ||
	    mount_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) < 0 ||
	    mount_attr(c->output_dir, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY) <
		    0)
		return -1;
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, c->tmp_opts) < 0 ||
	    private_dev() < 0)
		return -1;
	return (c->flags & CLONE_NEWNET) ? loopback_up() : 0;
}

/*
 * In the child, between fork and exec: only async-signal-safe calls. fds
 * are /dev/null, stdout and stderr, all above 2.
 */
static int child_setup(const struct job_manifest *m, const struct confine *c, const char *dir,
		       const int fds[3])
{
	/* into the job's cgroup first, so that all it makes is counted there */
	if (c->cgroup_procs >= 0 && write(c->cgroup_procs, "0", 1) != 1)
		return -1;
	if (reset_signals() < 0 || setsid() < 0 || confine(c) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			return -1;
	/* none of PID 1's descriptors reach the job; the report pipe closes at exec */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return -1;
	if (limit(RLIMIT_CPU, m->limits.cpu_seconds) < 0 ||
	    (c->cgroup_procs < 0 && limit(RLIMIT_AS, c->memory) < 0) ||
	    limit(RLIMIT_FSIZE, m->limits.file_size_bytes) < 0 ||
	    limit(RLIMIT_NPROC, m->limits.processes) < 0 ||
	    setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 }) < 0)
		return -1;
	if (setgroups(0, NULL) < 0 || setgid(m->gid) < 0 || setuid(m->uid) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	umask(077);
	/* after the drop: the job's working directory must be one the job may enter */
	return chdir(dir);
}

__attribute__((noreturn)) static void child(const struct job_manifest *m, const struct confine *c,
					    const char *path, const char *dir, char *const *envp,
					    const int fds[3], int report)
{
	int e;

	if (child_setup(m, c, dir, fds) == 0)
		execve(path, m->argv, envp);
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* A descriptor above 2, so that the child's dup2 onto 0, 1 and 2 clobbers none of them. */
static int high_fd(int fd)
{
	int h;

	if (fd < 0 || fd > 2)
		return fd;
	h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return h;
}

static int open_log(const char *dir, const char *name)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return high_fd(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
}

static char *env_var(const char *name, const char *value)
{
	char *kv;

	return asprintf(&kv, "%s=%s", name, value) < 0 ? NULL : kv;
}

static void free_env(const struct job_manifest *m, char **envp)
{
	if (!envp)
		return;
	for (size_t i = m->envc; i < m->envc + 4; i++)
		free(envp[i]);
	free(envp);
}

/* The job's whole environment: the manifest's names, then the four the agent sets. */
static char **job_env(const struct job_manifest *m, const char *root, const char *outdir)
{
	const char *view = m->output_dir[0] ? m->output_dir : outdir;
	char **envp = calloc(m->envc + 5, sizeof(char *));
	size_t n = m->envc;

	if (!envp)
		return NULL;
	memcpy(envp, m->env, m->envc * sizeof(char *));
	envp[n] = env_var("CVM_WORKLOAD", root);
	envp[n + 1] = env_var("CVM_OUTPUT", view);
	envp[n + 2] = env_var("HOME", view);
	envp[n + 3] = env_var("PATH", "/usr/bin:/bin");
	for (size_t i = n; i < n + 4; i++)
		if (!envp[i]) {
			free_env(m, envp);
			return NULL;
		}
	return envp;
}

/* Waits for the job until deadline_ms, then kills it and everything of its uid. */
static void wait_job(struct reaper *r, uint64_t deadline_ms, const struct job_manifest *m,
		     struct job_status *st)
{
	for (reap(r); !r->done; reap(r)) {
		if (!st->timed_out && (uint64_t)mono_ms() >= deadline_ms) {
			st->timed_out = true;
			kill(-r->job, SIGKILL);
			kill_uid(m, r);
			continue;
		}
		usleep(POLL_US);
	}
	if (r->status != -1 && WIFEXITED(r->status))
		st->exit_code = WEXITSTATUS(r->status);
	if (r->status != -1 && WIFSIGNALED(r->status))
		st->signal = WTERMSIG(r->status);
}

/* Reads the child's exec failure: 0 when the pipe closed because exec succeeded. */
static int exec_error(int fd)
{
	int e = 0;
	ssize_t n;

	while ((n = read(fd, &e, sizeof(e))) < 0 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(e) ? e : 0;
}

/* Starts the job and waits for it; the descriptors are the caller's. Returns an errno or 0. */
static int start_and_wait(const struct job_manifest *m, const struct confine *c, const char *path,
			  const char *dir, char *const *envp, const int fds[3], long cap,
			  struct job_status *st)
{
	uint64_t deadline = m->deadline_seconds, t0;
	struct reaper r = { 0 };
	int pipefd[2], e;

	if (cap > 0 && (uint64_t)cap < deadline)
		deadline = (uint64_t)cap;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return errno;
	pipefd[0] = high_fd(pipefd[0]);
	pipefd[1] = high_fd(pipefd[1]);
	if (pipefd[0] < 0 || pipefd[1] < 0) {
		e = errno;
		goto out;
	}
	/* orphans of the job come back to this process, as they would to PID 1 */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	t0 = mono_ms();
	r.job = fork();
	if (r.job == 0)
		child(m, c, path, dir, envp, fds, pipefd[1]);
	if (r.job < 0) {
		e = errno;
		goto out;
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	e = exec_error(pipefd[0]);
	wait_job(&r, t0 + deadline * 1000, m, st);
	/* nothing of the job outlives it: processes that escaped its session neither */
	kill_uid(m, &r);
	st->runtime_ms = mono_ms() - t0;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return e;
}

int job_run(const struct job_manifest *m, const char *workload_root, const char *output_dir,
	    const char *log_dir, long deadline_cap_seconds, struct job_status *st, char *err,
	    size_t errlen)
{
	char path[4096], dir[4096];
	struct confine c = {
		.output_dir = output_dir,
		.memory = m->limits.memory_bytes ? m->limits.memory_bytes : job_memory_default(),
		.cgroup_procs = -1,
		.flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
			 (m->network == JOB_NETWORK_GUEST ? 0 : CLONE_NEWNET),
	};
	int fds[3], e = 0;
	char **envp;

	memset(st, 0, sizeof(*st));
	snprintf(c.tmp_opts, sizeof(c.tmp_opts), "mode=1777,size=%llu",
		 (unsigned long long)(m->limits.tmp_bytes ? m->limits.tmp_bytes : JOB_DEFAULT_TMP));
	st->exit_code = -1;
	if (snprintf(path, sizeof(path), "%s/%s", workload_root, m->argv[0]) >= (int)sizeof(path) ||
	    snprintf(dir, sizeof(dir), "%s/%s", workload_root, m->cwd) >= (int)sizeof(dir))
		return set_error(err, errlen, -ENAMETOOLONG, "E_JOB_START: path too long");
	if (chown(output_dir, m->uid, m->gid) < 0 || chmod(output_dir, 0700) < 0)
		return set_error(err, errlen, -errno, "E_JOB_START: output directory: %s",
				 strerror(errno));
	if (getpid() == 1) {
		c.cgroup_procs = job_cgroup(c.memory, err, errlen);
		if (c.cgroup_procs < 0) {
			char why[256];

			snprintf(why, sizeof(why), "%s", err);
			return set_error(err, errlen, c.cgroup_procs, "E_JOB_START: %s", why);
		}
	}
	errno = 0;
	fds[0] = high_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
	fds[1] = open_log(log_dir, "stdout");
	fds[2] = open_log(log_dir, "stderr");
	envp = job_env(m, workload_root, output_dir);
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || !envp)
		e = errno ? errno : ENOMEM;
	else
		e = start_and_wait(m, &c, path, dir, envp, fds, deadline_cap_seconds, st);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (c.cgroup_procs >= 0)
		close(c.cgroup_procs);
	free_env(m, envp);
	if (e)
		return set_error(err, errlen, -e, "E_JOB_START: %s", strerror(e));
	return 0;
}
