/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"
#include "tests/unit/support/files.h"

char *test_read_text(const char *dir, const char *rel)
{
	char path[4200];
	uint8_t *t = NULL;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (file_read(path, 1 << 20, &t, &n) < 0)
		return NULL;
	return (char *)t;
}

int test_fresh_dirs(const char *a, const char *b)
{
	char cmd[9000];

	/* the tests' own directories under /var/tmp, made by mkdtemp: no quoting needed */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' && mkdir -m 0700 '%s' '%s'", a, b, a, b);
	return system(cmd) == 0 ? 0 : -1;
}

void test_buf_put(struct test_buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}
