/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: cvm-job.json, read from the customer's volume. An accepted
 * manifest must hold what job_run() relies on: argv[0] and cwd without
 * "..", relative unless rootfs (then absolute or, for argv[0], a bare
 * name; and an output_dir), a non-root uid and gid, NULL-terminated argv
 * and env, a job /tmp of a size (tmpfs takes 0 for none), a network it
 * named.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/job.h"

/* Whether a path names a place outside the workload: absolute (unless allowed), or with "..". */
static int escapes_root(const char *p, int absolute_ok)
{
	if (p[0] == '/' && !absolute_ok)
		return 1;
	for (const char *c = p; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL)
		if (!strncmp(c, "..", 2) && (c[2] == '/' || c[2] == 0))
			return 1;
	return 0;
}

static void check(const struct job_manifest *m)
{
	if (m->argc < 1 || m->argc > JOB_MAX_ARGS || m->argv[m->argc] || m->envc > JOB_MAX_ENV ||
	    m->env[m->envc] || escapes_root(m->argv[0], m->rootfs) ||
	    escapes_root(m->cwd, m->rootfs) || (m->rootfs && m->output_dir[0] != '/') ||
	    m->uid == 0 || m->gid == 0 || m->deadline_seconds == 0 || m->limits.tmp_bytes < 4096 ||
	    (m->network != JOB_NETWORK_NONE && m->network != JOB_NETWORK_GUEST))
		abort();
	for (size_t i = 0; i < m->envc; i++)
		if (!strchr(m->env[i], '='))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job_manifest m;
	char err[256];

	if (job_manifest_parse((const char *)data, size, &m, err, sizeof(err)) == 0) {
		check(&m);
		job_manifest_free(&m);
	}
	return 0;
}
