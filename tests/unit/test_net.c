/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's network setup by rtnetlink, in a network namespace of its
 * own (each test forks, unshares and reports through its exit status), with
 * iproute2 as the oracle for what the kernel now holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/net.h"
#include "lib/lib.h"

/* Runs fn in a child in a fresh network namespace: its exit status, or 77 when not permitted. */
static int in_netns(int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(77);
		_exit(fn());
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int shell_has(const char *cmd, const char *want)
{
	char buf[8192] = "";
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(buf, 1, sizeof(buf) - 1, p) : 0;

	if (p)
		pclose(p);
	buf[n] = 0;
	if (!strstr(buf, want)) {
		fprintf(stderr, "'%s' lacks '%s':\n%s\n", cmd, want, buf);
		return 0;
	}
	return 1;
}

static int configure_lo(void)
{
	char err[256] = "";

	if (net_configure("lo", "10.9.8.7/24", "10.9.8.1", 100, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (!shell_has("ip -4 -o addr show dev lo", "inet 10.9.8.7/24") ||
	    !shell_has("ip -o link show dev lo", "UP") ||
	    !shell_has("ip -4 route show default", "default via 10.9.8.1 dev lo"))
		return 2;
	/* a second run finds everything in place and succeeds */
	if (net_configure("lo", "10.9.8.7/24", "10.9.8.1", 100, err, sizeof(err)) < 0) {
		fprintf(stderr, "again: %s\n", err);
		return 3;
	}
	return 0;
}

static void test_configures_address_link_and_route(void **state)
{
	int r = in_netns(configure_lo);

	(void)state;
	if (r == 77)
		skip();
	assert_int_equal(r, 0);
}

static int refusals(void)
{
	static const struct {
		const char *ifname, *cidr, *gw, *why;
	} cases[] = {
		{ "lo", "10.9.8.7", NULL, "not A.B.C.D/N" },
		{ "lo", "10.9.8.7/33", NULL, "not A.B.C.D/N" },
		{ "lo", "10.9.8.7/0", NULL, "not A.B.C.D/N" },
		{ "lo", "10.9.8/24", NULL, "not A.B.C.D/N" },
		{ "lo", "10.9.8.7/24x", NULL, "not A.B.C.D/N" },
		{ "lo", "10.9.8.7/24", "10.9.8", "gateway" },
		{ "eth9", "10.9.8.7/24", NULL, "no interface eth9" },
		/* a gateway outside every configured subnet: the kernel refuses the route */
		{ "lo", "10.9.8.7/24", "192.0.2.1", "default route via 192.0.2.1" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char err[256] = "";

		if (net_configure(cases[i].ifname, cases[i].cidr, cases[i].gw, 50, err,
				  sizeof(err)) == 0 ||
		    !strstr(err, cases[i].why) || strncmp(err, "E_NETWORK: ", 11)) {
			fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err, cases[i].why);
			return 1;
		}
	}
	return 0;
}

static void test_refuses_bad_settings(void **state)
{
	int r = in_netns(refusals);

	(void)state;
	if (r == 77)
		skip();
	assert_int_equal(r, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configures_address_link_and_route),
		cmocka_unit_test(test_refuses_bad_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
