/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the benchmarks: a monotonic clock and a shell step that must succeed. */
#ifndef CVM_BENCH_H
#define CVM_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void bench_run(const char *what, const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "%s: failed: %s\n", what, cmd);
		exit(1);
	}
}

#endif
