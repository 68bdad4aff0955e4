/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result's tar writer (agent/tar_write.c) against libarchive: for
 * entries that ustar holds (names up to 100 bytes, names split into prefix
 * and name, files and directories of any mode, sizes below 8 GiB) the
 * bytes equal libarchive's pax_restricted writer's, record for record;
 * paths that need a pax header and sizes of 8 GiB and more are read back
 * by libarchive's reader as written; a path too long or empty is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/result.h"
#include "tests/unit/support/files.h"

static int sink(void *ctx, const void *p, size_t n)
{
	test_buf_put(ctx, p, n);
	return 0;
}

static la_ssize_t la_sink(struct archive *a, void *ctx, const void *p, size_t n)
{
	(void)a;
	test_buf_put(ctx, p, n);
	return (la_ssize_t)n;
}

struct ent {
	const char *path;
	bool dir;
	unsigned perm;
	size_t size;
};

static void ours(const struct ent *e, size_t n, struct test_buf *out)
{
	const struct tar_out o = { .sink = sink, .ctx = out };
	uint8_t *data = calloc(1, 70000);

	assert_non_null(data);
	for (size_t i = 0; i < n; i++) {
		memset(data, 'a' + (int)i, e[i].size);
		assert_int_equal(tar_entry(&o, e[i].path, e[i].dir, e[i].perm, e[i].size), 0);
		if (e[i].size)
			sink(out, data, e[i].size);
		assert_int_equal(tar_pad(&o, e[i].size), 0);
	}
	assert_int_equal(tar_finish(&o), 0);
	free(data);
}

/* What agent/result.c wrote with libarchive: pax_restricted, unblocked, owner 0, mtime 0. */
static void theirs(const struct ent *e, size_t n, struct test_buf *out)
{
	struct archive *a = archive_write_new();
	uint8_t *data = calloc(1, 70000);

	assert_non_null(data);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(a, 0), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open2(a, out, NULL, la_sink, NULL, NULL), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *x = archive_entry_new();

		memset(data, 'a' + (int)i, e[i].size);
		archive_entry_set_pathname(x, e[i].path);
		archive_entry_set_uid(x, 0);
		archive_entry_set_gid(x, 0);
		archive_entry_set_mtime(x, 0, 0);
		archive_entry_set_filetype(x, e[i].dir ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(x, e[i].perm);
		if (!e[i].dir)
			archive_entry_set_size(x, (la_int64_t)e[i].size);
		assert_int_equal(archive_write_header(a, x), ARCHIVE_OK);
		if (e[i].size)
			assert_int_equal(archive_write_data(a, data, e[i].size),
					 (la_ssize_t)e[i].size);
		archive_entry_free(x);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	free(data);
}

static void test_same_bytes_as_libarchive(void **state)
{
	char name100[101], split[220];
	struct test_buf a = { 0 }, b = { 0 };

	(void)state;
	memset(name100, 'n', 100);
	name100[100] = 0;
	/* 150 bytes of directory, '/', 60 bytes of name: prefix and name */
	memset(split, 'd', 150);
	split[150] = '/';
	memset(split + 151, 'f', 60);
	split[211] = 0;
	const struct ent e[] = {
		{ "output/", true, 0755, 0 },
		{ "output/a.txt", false, 0644, 11 },
		{ "output/empty", false, 0644, 0 },
		{ "output/run.sh", false, 0755, 512 },
		{ "output/big.bin", false, 0644, 65537 },
		{ name100, false, 0600, 1 },
		{ split, false, 0644, 700 },
		{ "log/", true, 0755, 0 },
		{ "log/job.log", false, 04755 & 0777, 3 },
	};

	ours(e, ARRAY_SIZE(e), &a);
	theirs(e, ARRAY_SIZE(e), &b);
	assert_int_equal(a.n, b.n);
	for (size_t off = 0; off < a.n; off += 512)
		if (memcmp(a.p + off, b.p + off, 512))
			fail_msg("record %zu differs from libarchive's", off / 512);
	free(a.p);
	free(b.p);
}

static la_ssize_t la_source(struct archive *a, void *ctx, const void **p)
{
	struct test_buf *b = ctx;
	la_ssize_t n = (la_ssize_t)b->n;

	(void)a;
	*p = b->p;
	b->n = 0;
	return n;
}

/* libarchive's reader on our bytes: the first entry's path and size. */
static void read_back(struct test_buf *t, const char *path, int64_t size)
{
	struct archive *a = archive_read_new();
	struct archive_entry *x;
	struct test_buf src = *t;

	assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
	assert_int_equal(archive_read_open(a, &src, NULL, la_source, NULL), ARCHIVE_OK);
	assert_int_equal(archive_read_next_header(a, &x), ARCHIVE_OK);
	assert_string_equal(archive_entry_pathname(x), path);
	assert_int_equal(archive_entry_size(x), size);
	archive_read_free(a);
}

static void test_pax_paths_and_sizes(void **state)
{
	char path[TAR_PATH_LIMIT + 8];
	struct test_buf a = { 0 };

	(void)state;
	/* a name of 120 bytes with no '/': no ustar split, a pax path */
	memset(path, 'x', 120);
	path[120] = 0;
	ours(&(struct ent){ path, false, 0644, 5 }, 1, &a);
	read_back(&a, path, 5);
	assert_memory_equal(a.p + 156, "x", 1); /* the first record is the 'x' header */
	a.n = 0;
	/* a path of 4000 bytes over 40 levels */
	for (int i = 0; i < 40; i++)
		memcpy(path + i * 100,
		       "dddddddddddddddddddddddddddddddddddddddddddddddddd"
		       "ddddddddddddddddddddddddddddddddddddddddddddddddd/",
		       100);
	memcpy(path + 4000, "end", 4);
	ours(&(struct ent){ path, false, 0644, 3 }, 1, &a);
	read_back(&a, path, 3);
	a.n = 0;
	/* 8 GiB: the header only (no data follows), a pax size */
	{
		const struct tar_out o = { .sink = sink, .ctx = &a };

		assert_int_equal(tar_entry(&o, "huge.bin", false, 0644, (uint64_t)1 << 33), 0);
		read_back(&a, "huge.bin", (int64_t)1 << 33);
	}
	free(a.p);
}

static void test_refusals(void **state)
{
	char path[TAR_PATH_LIMIT + 1];
	struct test_buf a = { 0 };
	const struct tar_out o = { .sink = sink, .ctx = &a };

	(void)state;
	memset(path, 'p', TAR_PATH_LIMIT);
	path[TAR_PATH_LIMIT] = 0;
	assert_int_equal(tar_entry(&o, path, false, 0644, 1), -ENAMETOOLONG);
	assert_int_equal(tar_entry(&o, "", false, 0644, 1), -ENAMETOOLONG);
	assert_int_equal(a.n, 0);
	free(a.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes_as_libarchive),
		cmocka_unit_test(test_pax_paths_and_sizes),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
