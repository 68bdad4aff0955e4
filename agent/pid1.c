/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What PID 1 owes the guest: file systems, modules in the recorded order,
 * bounded waits for devices and entropy, reaping, and an orderly power-off
 * on every path (if PID 1 exits the kernel panics).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/boot.h"
#include "lib/lib.h"

struct fs {
	const char *source, *target, *type;
	unsigned long flags;
	const char *data;
	bool required;
};

static const struct fs filesystems[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755", true },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=50%", true },
	{ "securityfs", "/sys/kernel/security", "securityfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	  NULL, false },
	{ "configfs", "/sys/kernel/config", "configfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
	  false },
};

int pid1_mount_all(char *err, size_t errlen)
{
	for (size_t i = 0; i < ARRAY_SIZE(filesystems); i++) {
		const struct fs *f = &filesystems[i];

		if (mkdir(f->target, 0755) < 0 && errno != EEXIST && f->required)
			return set_error(err, errlen, -errno, "mkdir %s: %s", f->target,
					 strerror(errno));
		if (mount(f->source, f->target, f->type, f->flags, f->data) < 0 && errno != EBUSY &&
		    f->required)
			return set_error(err, errlen, -errno, "mount %s on %s: %s", f->type,
					 f->target, strerror(errno));
	}
	return 0;
}

int pid1_load_modules(const char *order_file, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL;
	size_t len, failed = 0;
	char *line, *save = NULL;
	int r = file_read(order_file, CVM_CAP_JSON, &text, &len);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return set_error(err, errlen, r, "%s: %s", order_file, strerror(-r));
	for (line = strtok_r((char *)text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int fd;

		/* "# builtin NAME": a module built into the kernel, noted by the initrd builder */
		if (line[0] == '#')
			continue;
		fd = open(line, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)) {
			if (!failed++)
				set_error(err, errlen, -errno, "module %s: %s", line,
					  strerror(errno));
		}
		if (fd >= 0)
			close(fd);
	}
	return (int)failed;
}

static void *modules_thread(void *arg)
{
	struct pid1_modules *m = arg;

	/* the CPU only when the agent does not want it */
	if (sched_setscheduler(0, SCHED_IDLE, &(struct sched_param){ 0 }) < 0)
		setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	m->failed = pid1_load_modules(m->order_file, m->err, sizeof(m->err));
	return NULL;
}

int pid1_load_modules_background(const char *order_file, struct pid1_modules *m)
{
	int r;

	m->running = false;
	m->failed = 0;
	m->err[0] = 0;
	m->order_file = order_file;
	if (access(order_file, F_OK) < 0)
		return errno == ENOENT ? 0 : -errno;
	if ((r = pthread_create(&m->thread, NULL, modules_thread, m)) != 0)
		return -r;
	m->running = true;
	return 1;
}

int pid1_modules_wait(struct pid1_modules *m, char *err, size_t errlen)
{
	if (m->running)
		pthread_join(m->thread, NULL);
	m->running = false;
	if (m->failed && errlen)
		snprintf(err, errlen, "%s", m->err);
	return m->failed;
}

int pid1_wait_path(const char *path, long ms)
{
	const int64_t end = mono_ms() + (ms > 0 ? ms : 0);

	while (access(path, F_OK) < 0) {
		if (mono_ms() >= end)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return 0;
}

int pid1_wait_rng(long ms)
{
	const int64_t end = mono_ms() + (ms > 0 ? ms : 0);
	uint8_t b;

	/* GRND_NONBLOCK fails with EAGAIN until the pool is initialised */
	while (getrandom(&b, 1, GRND_NONBLOCK) != 1) {
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (mono_ms() >= end)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return 0;
}

long pid1_peak_rss_kb(void)
{
	_cleanup_free_ uint8_t *text = NULL;
	size_t len;
	const char *p;

	if (file_read("/proc/self/status", 64 * 1024, &text, &len) < 0)
		return -1;
	p = strstr((const char *)text, "VmHWM:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

void pid1_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * A fatal signal in PID 1 would otherwise kill it, and the kernel panics
 * when init dies ("Attempted to kill init!"), which a host may configure
 * to reboot or to dump. The handler powers off instead; when this process
 * is not PID 1 (tests, the agent started elsewhere) the signal takes its
 * default action again. Only async-signal-safe calls.
 */
static void on_fatal(int sig)
{
	static const char msg[] = "cvm-agent: fatal signal: powering off\n";

	if (getpid() == 1) {
		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
			/* nothing to do about a console that does not take it */
		}
		reboot(RB_POWER_OFF);
		_exit(1);
	}
	/* SA_RESETHAND restored the default: a fault repeats, a raised signal is raised again */
	raise(sig);
}

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP };

int pid1_fatal_signals(void)
{
	/* its own stack, so that a stack overflow reaches the handler too */
	static uint8_t altstack[64 * 1024];
	const stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa = { .sa_handler = on_fatal, .sa_flags = SA_ONSTACK | SA_RESETHAND };

	if (sigaltstack(&ss, NULL) < 0)
		return -errno;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(fatal_signals); i++)
		if (sigaction(fatal_signals[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

int pid1_sysctl_write(const char *path, const char *value, char *err, size_t errlen)
{
	char back[256];
	size_t n = strlen(value);
	ssize_t got;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return set_error(err, errlen, -errno, "E_HARDEN: %s: %s", path, strerror(errno));
	if (fd_write_all(fd, value, n) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    (got = read(fd, back, sizeof(back) - 1)) < 0) {
		int e = errno ? errno : EIO;

		close(fd);
		return set_error(err, errlen, -e, "E_HARDEN: %s: %s", path, strerror(e));
	}
	close(fd);
	back[got] = 0;
	back[strcspn(back, "\n")] = 0;
	/* what the kernel took is checked, not assumed */
	if (strcmp(back, value))
		return set_error(err, errlen, -EIO, "E_HARDEN: %s does not read back as written",
				 path);
	return 0;
}

int pid1_harden_kernel(char *err, size_t errlen)
{
	int r;

	/*
	 * The host can set kernel.core_pattern and fs.suid_dumpable on the
	 * kernel command line (sysctl.kernel.core_pattern=|...): a pipe
	 * pattern runs a helper with the memory of whatever crashed, and a
	 * pipe ignores RLIMIT_CORE. "/dev/null" is a file pattern, so
	 * RLIMIT_CORE 0 applies, and names a device node owned by root with
	 * mode 0666, where the kernel refuses to dump (fs/coredump.c wants a
	 * regular file of mode 0600 owned by the dumper): nothing is written
	 * and no helper runs. suid_dumpable 0: processes that changed
	 * credentials (the job) never dump either.
	 */
	if ((r = pid1_sysctl_write("/proc/sys/kernel/core_pattern", "/dev/null", err, errlen)) <
		    0 ||
	    (r = pid1_sysctl_write("/proc/sys/fs/suid_dumpable", "0", err, errlen)) < 0)
		return r;
	/* Ctrl-Alt-Del from the host's keyboard becomes a SIGINT to PID 1, which ignores it */
	if (reboot(RB_DISABLE_CAD) < 0)
		return set_error(err, errlen, -errno, "E_HARDEN: RB_DISABLE_CAD: %s",
				 strerror(errno));
	return 0;
}

void pid1_power_off(void)
{
	sync();
	/* never power off a machine the agent was merely started on */
	if (getpid() != 1)
		_exit(1);
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
