/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a process holding keys does against a malicious host: no core dump
 * (harden_no_dump), JSON copies of secrets wiped before they are freed
 * (json_delete_wiped, json_parse's own copy), and, as PID 1, a fatal
 * signal that ends in power-off rather than in the death of init. PID 1 is
 * real here: a child made init of a PID namespace of its own, where
 * reboot(RB_POWER_OFF) ends it with SIGINT (reboot(2)).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/boot.h"
#include "lib/lib.h"

/* 32 bytes of a volume key in hex: what must not be in any block freed */
#define KEY_HEX "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"

static int leaked;

/* cJSON's free: counts the blocks that still hold the key's hex when they go */
static void free_checked(void *p)
{
	if (p && memmem(p, malloc_usable_size(p), KEY_HEX, 16))
		leaked++;
	free(p);
}

static void test_json_trees_of_secrets_are_wiped(void **state)
{
	static const char text[] = "{\"version\": 1, \"volume_key\": \"" KEY_HEX "\", "
				   "\"nested\": {\"k\": [\"" KEY_HEX "\"]}}";
	cJSON_Hooks hooks = { .malloc_fn = malloc, .free_fn = free_checked };
	cJSON *j = NULL;

	(void)state;
	cJSON_InitHooks(&hooks);
	/* the check can fail: a plain delete leaves the hex in freed memory */
	leaked = 0;
	assert_int_equal(json_parse(text, strlen(text), &j), 0);
	cJSON_Delete(j);
	assert_true(leaked >= 2);
	leaked = 0;
	assert_int_equal(json_parse(text, strlen(text), &j), 0);
	json_delete_wiped(j);
	assert_int_equal(leaked, 0);
	cJSON_InitHooks(NULL);
}

/* In a child: harden_no_dump, then what the kernel reports and whether a crash dumps. */
static void test_no_dump(void **state)
{
	int status;
	pid_t p;

	(void)state;
	p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		struct rlimit rl;
		char err[128];

		if (harden_no_dump(err, sizeof(err)) < 0 || prctl(PR_GET_DUMPABLE) != 0 ||
		    getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
			_exit(3);
		/* the hard limit is 0: it cannot be raised again without privilege to spare */
		rl.rlim_cur = rl.rlim_max = 1 << 20;
		if (setrlimit(RLIMIT_CORE, &rl) == 0 && geteuid() != 0)
			_exit(4);
		signal(SIGQUIT, SIG_DFL);
		raise(SIGQUIT); /* a signal whose default action is a core dump */
		_exit(5);
	}
	assert_int_equal(waitpid(p, &status, 0), p);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGQUIT);
	assert_false(WCOREDUMP(status));
}

enum fault { FAULT_SEGV, FAULT_BUS, FAULT_ILL, FAULT_ABRT, FAULT_FPE, FAULT_SYS, FAULT_STACK };

static volatile int stop_depth = -1; /* never reached: the stack ends first */

static int recurse(int depth)
{
	volatile char pad[4096];

	pad[0] = (char)depth;
	if (depth == stop_depth)
		return 0;
	return recurse(depth + 1) + pad[0];
}

/* Real faults where UBSan would not stop them first; raised signals otherwise. */
static void crash(enum fault f)
{
	switch (f) {
	case FAULT_SEGV: {
		volatile char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		*p = 1;
		break;
	}
	case FAULT_BUS: {
		char path[] = "/tmp/cvm-harden-XXXXXX";
		int fd = mkstemp(path);
		volatile char *p;

		unlink(path);
		/* a page past the end of an empty file: SIGBUS (mmap(2)) */
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED)
			(void)*p;
		break;
	}
	case FAULT_ILL:
		__builtin_trap();
	case FAULT_ABRT:
		abort();
	case FAULT_FPE:
		raise(SIGFPE);
		break;
	case FAULT_SYS:
		raise(SIGSYS);
		break;
	case FAULT_STACK:
		recurse(0);
		break;
	}
	_exit(9);
}

/*
 * Runs crash(f) in a process with the fatal-signal handlers: as PID 1 of
 * a new PID namespace when as_init, else as an ordinary child. Returns the
 * wait status of that process.
 */
static int crash_status(enum fault f, bool as_init)
{
	int status = 0;
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0) {
		pid_t q;

		if (as_init && unshare(CLONE_NEWPID) < 0)
			_exit(100);
		q = fork();
		if (q == 0) {
			if (pid1_fatal_signals() < 0)
				_exit(101);
			crash(f);
		}
		if (q < 0 || waitpid(q, &status, 0) != q)
			_exit(102);
		/* hand the status up: 1 + signal, or 64 + exit code */
		_exit(WIFSIGNALED(status) ? WTERMSIG(status) : 64 + (WEXITSTATUS(status) & 63));
	}
	assert_int_equal(waitpid(p, &status, 0), p);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_fatal_signals_power_off_pid1(void **state)
{
	static const enum fault faults[] = { FAULT_SEGV, FAULT_BUS, FAULT_ILL,	FAULT_ABRT,
					     FAULT_FPE,	 FAULT_SYS, FAULT_STACK };

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	/* init of a PID namespace that calls reboot(RB_POWER_OFF) dies of SIGINT */
	for (size_t i = 0; i < ARRAY_SIZE(faults); i++) {
		int got = crash_status(faults[i], true);

		if (got != SIGINT)
			fail_msg("fault %zu as PID 1: ended with %d, not SIGINT (power-off)", i,
				 got);
	}
}

static void test_fatal_signals_elsewhere_keep_their_default(void **state)
{
	(void)state;
	assert_int_equal(crash_status(FAULT_SEGV, false), SIGSEGV);
	assert_int_equal(crash_status(FAULT_ABRT, false), SIGABRT);
	assert_int_equal(crash_status(FAULT_FPE, false), SIGFPE);
}

static void test_sysctl_write_reads_back(void **state)
{
	char path[] = "/tmp/cvm-sysctl-XXXXXX", err[256] = "";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(pid1_sysctl_write(path, "/dev/null", err, sizeof(err)), 0);
	unlink(path);
	assert_true(pid1_sysctl_write(path, "0", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "E_HARDEN: "));
	/* a file that does not keep what was written (like a sysctl that refuses it) */
	assert_true(pid1_sysctl_write("/dev/null", "0", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "E_HARDEN: /dev/null"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_trees_of_secrets_are_wiped),
		cmocka_unit_test(test_no_dump),
		cmocka_unit_test(test_fatal_signals_power_off_pid1),
		cmocka_unit_test(test_fatal_signals_elsewhere_keep_their_default),
		cmocka_unit_test(test_sysctl_write_reads_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
