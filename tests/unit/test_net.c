/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's network setup by rtnetlink, in a network namespace of its
 * own (each test forks, unshares and reports through its exit status), with
 * iproute2 as the oracle for what the kernel now holds. A veth pair stands
 * for virtio_net: it is made while net_configure waits for it.
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
#include <time.h>
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

/* Whether the output of cmd (iproute2, the oracle) contains want. */
static int shell_has_quiet(const char *cmd, const char *want)
{
	char buf[8192] = "";
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(buf, 1, sizeof(buf) - 1, p) : 0;

	if (p)
		pclose(p);
	buf[n] = 0;
	return strstr(buf, want) != NULL;
}

static int shell_has(const char *cmd, const char *want)
{
	if (shell_has_quiet(cmd, want))
		return 1;
	fprintf(stderr, "'%s' lacks '%s'\n", cmd, want);
	return 0;
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

/* Creates the veth pair v0/v1 after delay_ms, as a driver that loads late would. */
static pid_t veth_later(int delay_ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		usleep((useconds_t)delay_ms * 1000);
		_exit(system("ip link add v0 type veth peer name v1") == 0 ? 0 : 1);
	}
	return pid;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int configure_late_interface(void)
{
	char err[256] = "";
	struct timespec t0;
	pid_t maker = veth_later(300);
	int st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (maker < 0 ||
	    net_configure("v0", "192.168.77.2/24", "192.168.77.1", 5000, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (waitpid(maker, &st, 0) != maker || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 2;
	/* it waited for the interface rather than failing at once */
	if (elapsed_ms(&t0) < 300)
		return 3;
	if (!shell_has("ip -4 -o addr show dev v0", "inet 192.168.77.2/24 brd 192.168.77.255") ||
	    !shell_has("ip -o link show dev v0", ",UP") ||
	    !shell_has("ip -o link show dev lo", "UP") ||
	    !shell_has("ip -4 route show default", "default via 192.168.77.1 dev v0 proto static"))
		return 4;
	/* run again with another gateway: the one default route is replaced */
	if (net_configure("v0", "192.168.77.2/24", "192.168.77.254", 100, err, sizeof(err)) < 0) {
		fprintf(stderr, "again: %s\n", err);
		return 5;
	}
	if (!shell_has("ip -4 route show default", "default via 192.168.77.254 dev v0") ||
	    shell_has_quiet("ip -4 route show default", "192.168.77.1 "))
		return 6;
	return 0;
}

static void test_waits_for_a_late_interface_and_configures_it(void **state)
{
	int r = in_netns(configure_late_interface);

	(void)state;
	if (r == 77)
		skip();
	assert_int_equal(r, 0);
}

static int configure_without_gateway(void)
{
	char err[256] = "";

	if (net_configure("lo", "10.1.2.3/8", NULL, 100, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (!shell_has("ip -4 -o addr show dev lo", "inet 10.1.2.3/8") ||
	    shell_has_quiet("ip -4 route show default", "default"))
		return 2;
	return 0;
}

static void test_no_gateway_means_no_default_route(void **state)
{
	int r = in_netns(configure_without_gateway);

	(void)state;
	if (r == 77)
		skip();
	assert_int_equal(r, 0);
}

static int missing_interface_times_out(void)
{
	char err[256] = "";
	struct timespec t0;
	long t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (net_configure("eth7", "10.1.2.3/8", NULL, 400, err, sizeof(err)) != -ENODEV ||
	    strcmp(err, "E_NETWORK: no interface eth7"))
		return 1;
	t = elapsed_ms(&t0);
	return t >= 400 && t < 3000 ? 0 : 2;
}

static void test_an_interface_that_never_appears_fails_at_the_deadline(void **state)
{
	int r = in_netns(missing_interface_times_out);

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
		{ "lo", "10.9.8.7/ 24", NULL, "not A.B.C.D/N" },
		{ "lo", "10.9.8.7/+24", NULL, "not A.B.C.D/N" },
		{ "lo", "010.9.8.7/24", NULL, "not A.B.C.D/N" },
		{ "lo", "10.9.8.7.10.9.8.7.10.9.8.7/24", NULL, "not A.B.C.D/N" },
		{ "lo", "::1/64", NULL, "not A.B.C.D/N" },
		{ "lo", "10.9.8.7/24", "10.9.8", "gateway" },
		{ "eth9", "10.9.8.7/24", NULL, "no interface eth9" },
		{ "", "10.9.8.7/24", NULL, "interface name" },
		{ "a-name-of-sixteen", "10.9.8.7/24", NULL, "interface name" },
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
		cmocka_unit_test(test_waits_for_a_late_interface_and_configures_it),
		cmocka_unit_test(test_no_gateway_means_no_default_route),
		cmocka_unit_test(test_an_interface_that_never_appears_fails_at_the_deadline),
		cmocka_unit_test(test_refuses_bad_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
