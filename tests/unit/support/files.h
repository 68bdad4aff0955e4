/* SPDX-License-Identifier: Apache-2.0 */
/* Test support: files the tests make and read back. */
#ifndef CVM_TEST_FILES_H
#define CVM_TEST_FILES_H

/* dir/rel as a NUL-terminated string (at most 1 MiB; free it), or NULL. */
char *test_read_text(const char *dir, const char *rel);
/* a and b removed if there, then made empty, mode 0700: 0, or -1. */
int test_fresh_dirs(const char *a, const char *b);

#include <stddef.h>
#include <stdint.h>

/* A growing buffer of bytes (free p). */
struct test_buf {
	uint8_t *p;
	size_t n, cap;
};
/* Appends n bytes; aborts when memory runs out. */
void test_buf_put(struct test_buf *b, const void *p, size_t n);

#endif
