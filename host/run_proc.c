/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm run: the child processes (QEMU, swtpm), each in a process group of
 * its own that ends with cvm run, and the clock and waits around them.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/run.h"
#include "lib/lib.h"

void nap_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* In the child: its own process group, ended with this process, default signals. */
static __attribute__((noreturn)) void child_exec(char *const argv[], int log, int null, int report,
						 pid_t parent)
{
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	sigset_t none;
	int e;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/*
 * Starts argv (PATH searched) with stdin from /dev/null and stdout and
 * stderr to log, in a process group of its own (a terminal's Ctrl-C comes
 * to us, and the group ends with it), and learns whether exec worked.
 */
int spawn(char *const argv[], const char *log, pid_t *out, char *err, size_t errlen)
{
	int p[2] = { -1, -1 }, lfd, nfd, e = 0, st;
	pid_t parent = getpid(), pid = -1;
	ssize_t n;

	lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lfd < 0)
		return set_error(err, errlen, -errno, "%s: %s", log, strerror(errno));
	nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nfd < 0 || pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		e = errno;
	else if (pid == 0)
		child_exec(argv, lfd, nfd, p[1], parent);
	if (p[1] >= 0)
		close(p[1]);
	if (pid > 0) {
		setpgid(pid, pid);
		while ((n = read(p[0], &e, sizeof(e))) < 0 && errno == EINTR)
			;
		if (n == (ssize_t)sizeof(e))
			waitpid(pid, &st, 0);
		else
			e = 0;
	}
	if (p[0] >= 0)
		close(p[0]);
	if (nfd >= 0)
		close(nfd);
	close(lfd);
	if (e)
		return set_error(err, errlen, -e, "cannot run %s: %s", argv[0], strerror(e));
	*out = pid;
	return 0;
}

/* Waits up to ms for pid to end; true when it has (reaped, or not ours to wait for). */
bool wait_child(pid_t pid, unsigned ms, int *wstatus)
{
	const int64_t end = mono_ms() + ms;

	for (;;) {
		pid_t w = waitpid(pid, wstatus, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			return true;
		if (mono_ms() >= end)
			return false;
		nap_ms(POLL_MS / 2);
	}
}

/*
 * Ends a child started by spawn() and its process group (QEMU's guestfwd
 * socat processes): SIGTERM, SIGKILL after GRACE_MS, then reaps it.
 */
void stop_child(pid_t pid, int *wstatus)
{
	kill(-pid, SIGTERM);
	if (!wait_child(pid, GRACE_MS, wstatus)) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR)
			;
	}
	kill(-pid, SIGKILL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

void rm_tree(const char *path)
{
	nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
