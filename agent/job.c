/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job runner: the manifest (agent/job_manifest.c) run as an
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
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "agent/job.h"
#include "lib/lib.h"

#define JOB_MIN_MEMORY (16ull << 20)

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

#define JOB_PATH_MAX 4400

/* The paths of a rootfs job's root, made before the fork (no snprintf after it). */
struct rootfs_paths {
	const char *root;
	char dev_mount[4200];	 /* root/dev */
	const char *out_view;	 /* the output as the job sees it: "/output" */
	char out_mount[4200];	 /* root + out_view: the output bound there */
	char inputs_mount[4200]; /* root/inputs: a small tmpfs holding one directory per input */
	char input_mount[JOB_INPUTS_MAX][4300];
	const char *input_src[JOB_INPUTS_MAX];
	size_t ninputs;
};

/* What the child needs for its namespaces, prepared before the fork (no snprintf after it). */
struct confine {
	const char *output_dir;
	char tmp_opts[64];		   /* tmpfs options of the job's /tmp */
	uint64_t memory;		   /* RLIMIT_AS, when the job has no cgroup */
	int cgroup_procs;		   /* the job's cgroup.procs, or -1 */
	int flags;			   /* of unshare */
	const struct rootfs_paths *rootfs; /* NULL: the job sees the guest's root */
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

/* The guest's devices of job_devices, opened as paths (-1 for one that is missing). */
static void open_devices(int fds[ARRAY_SIZE(job_devices)])
{
	char path[64];

	for (size_t i = 0; i < ARRAY_SIZE(job_devices); i++) {
		/* path from constant parts only: "/dev/" and a name of the table */
		memcpy(path, "/dev/", 5);
		memcpy(path + 5, job_devices[i], strlen(job_devices[i]) + 1);
		fds[i] = open(path, O_PATH | O_CLOEXEC);
	}
}

/*
 * A /dev of job_devices only: a small tmpfs mounted over /dev, each device
 * bind-mounted through a descriptor opened before (open_devices), so that
 * it works in a root that is not the guest's too; /proc is mounted.
 */
/* dir + "/" + name into path (of JOB_PATH_MAX bytes), without snprintf. */
static void path_join(char *path, const char *dir, const char *name)
{
	size_t d = strlen(dir), n = strlen(name);

	if (d + n + 2 > JOB_PATH_MAX)
		d = n = 0; /* cannot happen: the parent checked the root's length */
	memcpy(path, dir, d);
	path[d] = '/';
	memcpy(path + d + 1, name, n + 1);
}

static int private_dev(const char *dev, int fds[ARRAY_SIZE(job_devices)])
{
	static const char *const links[][2] = { { "fd", "/proc/self/fd" },
						{ "stdin", "/proc/self/fd/0" },
						{ "stdout", "/proc/self/fd/1" },
						{ "stderr", "/proc/self/fd/2" } };
	char path[JOB_PATH_MAX];
	int r = 0;

	if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
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
		path_join(path, dev, job_devices[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 || close(fd) < 0 || mount(src, path, NULL, MS_BIND, NULL) < 0)
			r = -1;
	}
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(links); i++) {
		path_join(path, dev, links[i][0]);
		if (symlink(links[i][1], path) < 0)
			r = -1;
	}
	/* nothing more is made there: read-only (writes to the devices still go through) */
	return r == 0 ? mount_attr(dev, AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0) : -1;
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
 * Into the solution's root. First, while the guest's root is still there
 * to bind from: the inputs (a tmpfs on the root's /inputs, one directory
 * per input, each input bound there), the output, and the minimal /dev.
 * Then the root becomes "/": pivot_root with the old root stacked and
 * detached (the pivot_root(".", ".") of pivot_root(2)) where the guest's
 * root is a mount with a parent; from the initramfs, which has none and
 * which pivot_root refuses (EINVAL), the root is moved over "/" and
 * chroot'ed into, as switch_root does: the initramfs stays below it,
 * unreachable by any path, and the job, without privileges, cannot leave a
 * chroot. Last, a fresh /proc that shows only processes of the job's uid.
 */
static int enter_rootfs(const struct rootfs_paths *p, const char *output_dir,
			int dev[ARRAY_SIZE(job_devices)])
{
	if (mount(p->root, p->root, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount("tmpfs", p->inputs_mount, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=64k") < 0)
		return -1;
	for (size_t i = 0; i < p->ninputs; i++)
		if (mkdir(p->input_mount[i], 0755) < 0 ||
		    mount(p->input_src[i], p->input_mount[i], NULL, MS_BIND | MS_REC, NULL) < 0)
			return -1;
	if (mount(output_dir, p->out_mount, NULL, MS_BIND, NULL) < 0 ||
	    private_dev(p->dev_mount, dev) < 0 || chdir(p->root) < 0)
		return -1;
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0)
			return -1;
	} else if (errno != EINVAL || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0) {
		return -1;
	}
	if (chdir("/") < 0)
		return -1;
	return mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     "hidepid=invisible");
}

/*
 * The job's view of the system, made in the child while it is still root:
 * namespaces of its own; every mount read-only and nosuid, except its
 * output directory; a size-limited tmpfs on /tmp (the 1777 /tmp of the
 * guest's root is not the job's); a minimal /dev; lo only, unless the
 * manifest asked for the guest's network. A rootfs job first moves into
 * the solution's root (enter_rootfs, pivot).
 */
static int confine(const struct confine *c)
{
	const char *out = c->output_dir;
	int dev[ARRAY_SIZE(job_devices)], r;

	if (unshare(c->flags) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	open_devices(dev);
	if (c->rootfs) {
		r = enter_rootfs(c->rootfs, c->output_dir, dev);
		out = c->rootfs->out_view;
	} else {
		/* the output directory its own mount, so that it can stay writable */
		r = mount(out, out, NULL, MS_BIND, NULL);
	}
	if (r < 0 || mount_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) < 0 ||
	    mount_attr(out, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY) < 0 ||
	    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, c->tmp_opts) < 0 ||
	    (!c->rootfs && private_dev("/dev", dev) < 0))
		r = -1;
	for (size_t i = 0; i < ARRAY_SIZE(job_devices); i++)
		if (dev[i] >= 0)
			close(dev[i]);
	if (r < 0)
		return -1;
	return (c->flags & CLONE_NEWNET) ? loopback_up() : 0;
}

/* Where the child stopped, reported to the parent with errno. */
enum child_stage {
	STAGE_SETUP,
	STAGE_CWD,
	STAGE_EXEC,
};

/*
 * In the child, between fork and exec: only async-signal-safe calls. fds
 * are /dev/null, stdout and stderr, all above 2. *stage says how far it got.
 */
static int child_setup(const struct job_manifest *m, const struct confine *c, const char *dir,
		       const int fds[3], int *stage)
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
	*stage = STAGE_CWD;
	return chdir(dir);
}

__attribute__((noreturn)) static void child(const struct job_manifest *m, const struct confine *c,
					    const char *path, const char *dir, char *const *envp,
					    const int fds[3], int report)
{
	int e[2] = { STAGE_SETUP, 0 };

	if (child_setup(m, c, dir, fds, &e[0]) == 0) {
		e[0] = STAGE_EXEC;
		execve(path, m->argv, envp);
	}
	e[1] = errno;
	if (write(report, e, sizeof(e)) < 0)
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
	for (size_t i = m->envc; envp[i]; i++)
		free(envp[i]);
	free(envp);
}

/* The manifest's value of name, or NULL. */
static const char *manifest_env(const struct job_manifest *m, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < m->envc; i++)
		if (!strncmp(m->env[i], name, n) && m->env[i][n] == '=')
			return m->env[i] + n + 1;
	return NULL;
}

/*
 * The job's whole environment: the manifest's names, then those the agent
 * sets (CVM_WORKLOAD, CVM_OUTPUT, and HOME and PATH where the manifest of
 * a rootfs job sets none).
 */
static char **job_env(const struct job_manifest *m, const char *root, const char *outdir)
{
	const char *view = m->output_dir[0] ? m->output_dir : outdir;
	char **envp = calloc(m->envc + 5, sizeof(char *));
	size_t n = m->envc, k = n;
	bool ok;

	if (!envp)
		return NULL;
	memcpy(envp, m->env, m->envc * sizeof(char *));
	ok = (envp[k++] = env_var("CVM_WORKLOAD", m->rootfs ? "/" : root)) &&
	     (envp[k++] = env_var("CVM_OUTPUT", view));
	if (ok && !manifest_env(m, "HOME"))
		ok = (envp[k++] = env_var("HOME", view)) != NULL;
	if (ok && !manifest_env(m, "PATH"))
		ok = (envp[k++] = env_var("PATH", m->rootfs ? JOB_ROOTFS_PATH : "/usr/bin:/bin")) !=
		     NULL;
	if (!ok) {
		free_env(m, envp);
		return NULL;
	}
	return envp;
}

static const struct job_hooks *hooks;

void job_set_hooks(const struct job_hooks *h)
{
	hooks = h;
}

/* Waits for the job until deadline_ms or a stop, then kills it and everything of its uid. */
static void wait_job(struct reaper *r, uint64_t deadline_ms, const struct job_manifest *m,
		     struct job_status *st)
{
	for (reap(r); !r->done; reap(r)) {
		bool stop = hooks && hooks->stop && *hooks->stop && !st->stopped;

		if (stop || (!st->timed_out && (uint64_t)mono_ms() >= deadline_ms)) {
			if (stop)
				st->stopped = true;
			else
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

/* Reads the child's failure (stage and errno): e[1] 0 when exec succeeded. */
static void exec_error(int fd, int e[2])
{
	ssize_t n;

	e[0] = e[1] = 0;
	while ((n = read(fd, e, 2 * sizeof(int))) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)(2 * sizeof(int)))
		e[0] = e[1] = 0;
}

/*
 * Starts the job and waits for it; the descriptors are the caller's.
 * Returns an errno or 0, and in *stage where the child stopped.
 */
static int start_and_wait(const struct job_manifest *m, const struct confine *c, const char *path,
			  const char *dir, char *const *envp, const int fds[3], long cap,
			  struct job_status *st, int *stage)
{
	uint64_t deadline = m->deadline_seconds, t0;
	struct reaper r = { 0 };
	int pipefd[2], e, ce[2];

	if (cap > 0 && (uint64_t)cap < deadline)
		deadline = (uint64_t)cap;
	if (m->has_service && m->service.max_seconds && m->service.max_seconds < deadline)
		deadline = m->service.max_seconds;
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
	exec_error(pipefd[0], ce);
	*stage = ce[0];
	e = ce[1];
	if (!e && hooks && hooks->started)
		hooks->started(r.job, hooks->arg);
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

/* Opens path (absolute) inside root, symlinks resolved as if root were "/": O_PATH, or -1. */
/* 0 when fd is a regular file with an execute bit; else an errno. */
static int executable(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return errno;
	return S_ISREG(st.st_mode) && (st.st_mode & 0111) ? 0 : EACCES;
}

/*
 * The program of a rootfs job as the job will exec it: argv[0] if absolute,
 * else the first dir/argv[0] of PATH that is there. 0, ENOENT or EACCES.
 */
static int rootfs_program(const struct job_manifest *m, int rootfd, char *out, size_t cap)
{
	const char *path = manifest_env(m, "PATH");
	int e = ENOENT;

	if (m->argv[0][0] == '/')
		path = "";
	else if (!path)
		path = JOB_ROOTFS_PATH;
	for (const char *p = path;; p += *p == ':') {
		size_t n = strcspn(p, ":");
		int fd;

		if (m->argv[0][0] == '/')
			snprintf(out, cap, "%s", m->argv[0]);
		else if (n == 0 || p[0] != '/' ||
			 snprintf(out, cap, "%.*s/%s", (int)n, p, m->argv[0]) >= (int)cap)
			goto next; /* only absolute PATH entries: there is no cwd to search */
		fd = open_in_root(rootfd, out, O_PATH);
		if (fd >= 0) {
			e = executable(fd);
			close(fd);
			if (e == 0)
				return 0;
		}
	next:
		p += n;
		if (!*p || m->argv[0][0] == '/')
			return e;
	}
}

/*
 * The paths a rootfs job needs, and its root's checks: /proc, /dev, /tmp,
 * /inputs and the output directory are directories of the root itself (not
 * links: the agent mounts on them). Fills *p; E_JOB_START text in why.
 */
static int rootfs_prepare(const struct job_manifest *m, const char *root,
			  const struct job_input *inputs, size_t ninputs, struct rootfs_paths *p,
			  char *why, size_t whylen)
{
	const char *need[] = { "/proc", "/dev", "/tmp", "/inputs", m->output_dir };

	if (ninputs > JOB_INPUTS_MAX)
		return snprintf(why, whylen, "more than %d inputs", JOB_INPUTS_MAX), -E2BIG;
	p->root = root;
	p->out_view = m->output_dir;
	p->ninputs = ninputs;
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		char path[4200];
		struct stat st;

		snprintf(path, sizeof(path), "%s%s", root, need[i]);
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(why, whylen, "the solution's root has no directory %s", need[i]);
			return -ENOTDIR;
		}
	}
	if (strlen(root) > 4000)
		return snprintf(why, whylen, "the solution's root: path too long"), -ENAMETOOLONG;
	snprintf(p->out_mount, sizeof(p->out_mount), "%s%s", root, m->output_dir);
	snprintf(p->dev_mount, sizeof(p->dev_mount), "%s/dev", root);
	snprintf(p->inputs_mount, sizeof(p->inputs_mount), "%s/inputs", root);
	for (size_t i = 0; i < ninputs; i++) {
		if (strchr(inputs[i].leaf, '/') || !inputs[i].leaf[0] || inputs[i].leaf[0] == '.')
			return snprintf(why, whylen, "input name"), -EINVAL;
		snprintf(p->input_mount[i], sizeof(p->input_mount[i]), "%s/%s", p->inputs_mount,
			 inputs[i].leaf);
		p->input_src[i] = inputs[i].path;
	}
	return 0;
}

/* Where the program is, checked before the fork so that a refusal says why. */
static int find_program(const struct job_manifest *m, const char *root, char *path, size_t cap,
			char *why, size_t whylen)
{
	int rootfd, e;

	if (!m->rootfs) {
		struct stat st;

		if (snprintf(path, cap, "%s/%s", root, m->argv[0]) >= (int)cap)
			return snprintf(why, whylen, "argv[0]: path too long"), -ENAMETOOLONG;
		e = stat(path, &st) < 0 ? errno : 0;
	} else {
		rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			return snprintf(why, whylen, "the solution's root: %s", strerror(errno)),
			       -errno;
		e = rootfs_program(m, rootfd, path, cap);
		close(rootfd);
	}
	if (e == ENOENT)
		snprintf(why, whylen, "argv[0]: not found in the solution%s",
			 m->rootfs && m->argv[0][0] != '/' ? " (looked up in PATH)" : "");
	else if (e == EACCES)
		snprintf(why, whylen, "argv[0]: not an executable file");
	else if (e)
		snprintf(why, whylen, "argv[0]: %s", strerror(e));
	return -e;
}

/* Why the child did not become the job: its stage and errno, in words. */
static void start_error(int stage, int e, char *why, size_t whylen)
{
	if (stage < 0)
		snprintf(why, whylen, "the job's logs: %s", strerror(e));
	else if (stage == STAGE_CWD)
		snprintf(why, whylen, "cwd: %s", strerror(e));
	else if (stage != STAGE_EXEC)
		snprintf(why, whylen, "the job's confinement: %s", strerror(e));
	else if (e == ENOENT)
		snprintf(why, whylen,
			 "argv[0]: its interpreter or loader is missing (the #! line "
			 "or the ELF interpreter names a file the solution lacks)");
	else if (e == ENOEXEC)
		snprintf(why, whylen, "argv[0]: not a format the kernel can run");
	else if (e == EACCES)
		snprintf(why, whylen, "argv[0]: not executable by the job's user");
	else
		snprintf(why, whylen, "argv[0]: %s", strerror(e));
}

int job_run(const struct job_manifest *m, const char *workload_root, const char *output_dir,
	    const char *log_dir, long deadline_cap_seconds, struct job_status *st, char *err,
	    size_t errlen)
{
	return job_run_inputs(m, workload_root, output_dir, NULL, 0, log_dir, deadline_cap_seconds,
			      st, err, errlen);
}

int job_run_inputs(const struct job_manifest *m, const char *workload_root, const char *output_dir,
		   const struct job_input *inputs, size_t ninputs, const char *log_dir,
		   long deadline_cap_seconds, struct job_status *st, char *err, size_t errlen)
{
	char path[4096], dir[4096], why[200] = "";
	_cleanup_free_ struct rootfs_paths *rp = NULL;
	struct confine c = {
		.output_dir = output_dir,
		.memory = m->limits.memory_bytes ? m->limits.memory_bytes : job_memory_default(),
		.cgroup_procs = -1,
		.flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
			 (m->network == JOB_NETWORK_GUEST ? 0 : CLONE_NEWNET),
	};
	int fds[3], e = 0, stage = STAGE_SETUP, r;
	char **envp;

	memset(st, 0, sizeof(*st));
	snprintf(c.tmp_opts, sizeof(c.tmp_opts), "mode=1777,size=%llu",
		 (unsigned long long)(m->limits.tmp_bytes ? m->limits.tmp_bytes : JOB_DEFAULT_TMP));
	st->exit_code = -1;
	if (m->rootfs) {
		rp = calloc(1, sizeof(*rp));
		if (!rp)
			return set_error(err, errlen, -ENOMEM, "E_JOB_START: out of memory");
		r = rootfs_prepare(m, workload_root, inputs, ninputs, rp, why, sizeof(why));
		if (r < 0)
			return set_error(err, errlen, r, "E_JOB_START: %s", why);
		c.rootfs = rp;
	}
	r = find_program(m, workload_root, path, sizeof(path), why, sizeof(why));
	if (r < 0)
		return set_error(err, errlen, r, "E_JOB_START: %s", why);
	if (m->rootfs)
		r = snprintf(dir, sizeof(dir), "%s", strcmp(m->cwd, ".") ? m->cwd : "/");
	else
		r = snprintf(dir, sizeof(dir), "%s/%s", workload_root, m->cwd);
	if (r >= (int)sizeof(dir))
		return set_error(err, errlen, -ENAMETOOLONG, "E_JOB_START: cwd: path too long");
	if (chown(output_dir, m->uid, m->gid) < 0 || chmod(output_dir, 0700) < 0)
		return set_error(err, errlen, -errno, "E_JOB_START: output directory: %s",
				 strerror(errno));
	if (getpid() == 1) {
		c.cgroup_procs = job_cgroup(c.memory, err, errlen);
		if (c.cgroup_procs < 0) {
			snprintf(why, sizeof(why), "%s", err);
			return set_error(err, errlen, c.cgroup_procs, "E_JOB_START: %s", why);
		}
	}
	errno = 0;
	fds[0] = high_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
	fds[1] = open_log(log_dir, "stdout");
	fds[2] = open_log(log_dir, "stderr");
	envp = job_env(m, workload_root, output_dir);
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || !envp) {
		e = errno ? errno : ENOMEM;
		stage = -1;
	} else {
		e = start_and_wait(m, &c, path, dir, envp, fds, deadline_cap_seconds, st, &stage);
	}
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (c.cgroup_procs >= 0)
		close(c.cgroup_procs);
	free_env(m, envp);
	if (e) {
		start_error(stage, e, why, sizeof(why));
		return set_error(err, errlen, -e, "E_JOB_START: %s", why);
	}
	return 0;
}
