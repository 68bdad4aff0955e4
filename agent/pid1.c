/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What PID 1 owes the guest: file systems, modules in the recorded order,
 * bounded waits for devices and entropy, reaping, and an orderly power-off
 * on every path (if PID 1 exits the kernel panics).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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

uint64_t pid1_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int pid1_wait_path(const char *path, long ms)
{
	const uint64_t end = pid1_now_ms() + (uint64_t)(ms > 0 ? ms : 0);

	while (access(path, F_OK) < 0) {
		if (pid1_now_ms() >= end)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return 0;
}

int pid1_wait_rng(long ms)
{
	const uint64_t end = pid1_now_ms() + (uint64_t)(ms > 0 ? ms : 0);
	uint8_t b;

	/* GRND_NONBLOCK fails with EAGAIN until the pool is initialised */
	while (getrandom(&b, 1, GRND_NONBLOCK) != 1) {
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (pid1_now_ms() >= end)
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
