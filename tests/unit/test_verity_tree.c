/* SPDX-License-Identifier: Apache-2.0 */
/*
 * host/verity_tree.c against libcryptsetup's own dm-verity format (hash
 * type 1, SHA-256, 4096-byte blocks, no superblock): the same tree, byte
 * for byte, and the same root hash, at sizes around each level's edge and
 * at one large enough to be hashed on two threads; built in one pass and
 * block by block. The kernel reads the same tree in the guest tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/verity_tree.c"
#include "tests/unit/support/sim.h"

static char dir[4096], data[4200], ref[4200], ours[4200];

static void paths(void)
{
	snprintf(dir, sizeof(dir), "%s/verity-tree", sim_env("CVM_TEST_TMP"));
	mkdir(dir, 0700);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(ref, sizeof(ref), "%s/ref", dir);
	snprintf(ours, sizeof(ours), "%s/ours", dir);
}

/* blocks blocks, each different (its number and a pattern), into data */
static void data_write(uint64_t blocks)
{
	static uint8_t b[4096];
	int fd = open(data, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	for (uint64_t i = 0; i < blocks; i++) {
		for (size_t k = 0; k < sizeof(b); k++)
			b[k] = (uint8_t)(i * 7 + k * 13 + (k >> 8));
		memcpy(b, &i, sizeof(i));
		assert_int_equal(write(fd, b, sizeof(b)), sizeof(b));
	}
	close(fd);
}

static uint8_t *file_all(const char *path, size_t *n)
{
	uint8_t *p = NULL;

	assert_int_equal(file_read(path, 1u << 30, &p, n), 0);
	return p;
}

/* libcryptsetup's tree into ref and its root */
static void reference(uint64_t blocks, const uint8_t salt[32], uint8_t root[32])
{
	struct crypt_params_verity vp = {
		.hash_name = "sha256",
		.data_device = data,
		.salt = (const char *)salt,
		.salt_size = 32,
		.hash_type = 1,
		.data_block_size = 4096,
		.hash_block_size = 4096,
		.data_size = blocks,
		.flags = CRYPT_VERITY_NO_HEADER | CRYPT_VERITY_CREATE_HASH,
	};
	struct crypt_device *cd = NULL;
	size_t len = 32;
	int fd = open(ref, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	/* room for the tree: libcryptsetup writes into the device as it is */
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)verity_tree_size(blocks)), 0);
	close(fd);
	assert_true(crypt_init_data_device(&cd, ref, data) >= 0);
	assert_true(crypt_format(cd, CRYPT_VERITY, NULL, NULL, NULL, NULL, 0, &vp) >= 0);
	assert_true(crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *)root, &len, NULL, 0) >= 0);
	assert_int_equal(len, 32);
	crypt_free(cd);
}

static void same_tree(uint64_t blocks)
{
	uint8_t salt[32], root_ref[32], root[32], root2[32];
	_cleanup_free_ uint8_t *a = NULL, *b = NULL, *c = NULL;
	size_t na, nb, nc;
	int dfd, hfd;

	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)(blocks + i);
	data_write(blocks);
	reference(blocks, salt, root_ref);

	/* in one pass, on every CPU */
	dfd = open(data, O_RDONLY);
	hfd = open(ours, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(dfd >= 0 && hfd >= 0);
	assert_int_equal(verity_tree_build(dfd, blocks, salt, sizeof(salt), hfd, root), 0);
	close(hfd);
	a = file_all(ref, &na);
	b = file_all(ours, &nb);
	assert_int_equal(nb, verity_tree_size(blocks));
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	assert_memory_equal(root, root_ref, 32);

	/* block by block, in uneven runs, as pack feeds it */
	{
		struct verity_tree *t = NULL;
		static uint8_t buf[300 * 4096];
		uint64_t at = 0;

		hfd = open(ours, O_RDWR | O_CREAT | O_TRUNC, 0600);
		assert_int_equal(verity_tree_new(blocks, salt, sizeof(salt), hfd, &t), 0);
		for (size_t run = 1; at < blocks; run = run * 3 % 300 + 1) {
			size_t n = blocks - at < run ? (size_t)(blocks - at) : run;

			assert_int_equal(pread(dfd, buf, n * 4096, (off_t)(at * 4096)),
					 (ssize_t)(n * 4096));
			assert_int_equal(verity_tree_add(t, buf, n), 0);
			at += n;
		}
		assert_int_equal(verity_tree_add(t, buf, 1), -EINVAL); /* one block too many */
		assert_int_equal(verity_tree_end(t, root2), 0);
		verity_tree_free(t);
		close(hfd);
		c = file_all(ours, &nc);
		assert_int_equal(nc, na);
		assert_memory_equal(a, c, na);
		assert_memory_equal(root2, root_ref, 32);
	}
	close(dfd);
}

static void test_levels_edges(void **state)
{
	(void)state;
	paths();
	/* one block: no level, the root is its hash */
	for (uint64_t n = 1; n <= 3; n++)
		same_tree(n);
	same_tree(127);
	same_tree(128);
	same_tree(129);
	same_tree(128 * 128);
	same_tree(128 * 128 + 1);
}

/* two slices of at least 64 MiB: hashed on two threads where there are two CPUs */
static void test_two_threads(void **state)
{
	(void)state;
	paths();
	same_tree(2 * 16384 + 300);
}

static void test_refusals(void **state)
{
	uint8_t salt[32] = { 1 }, root[32];
	struct verity_tree *t = NULL;
	int dfd, hfd;

	(void)state;
	paths();
	data_write(200);
	dfd = open(data, O_RDONLY);
	hfd = open(ours, O_RDWR | O_CREAT | O_TRUNC, 0600);
	/* data shorter than it is said to be */
	assert_int_equal(verity_tree_build(dfd, 201, salt, sizeof(salt), hfd, root), -EIO);
	assert_int_equal(verity_tree_build(dfd, 0, salt, sizeof(salt), hfd, root), -EINVAL);
	/* the end before every block came */
	assert_int_equal(verity_tree_new(200, salt, sizeof(salt), hfd, &t), 0);
	assert_int_equal(verity_tree_end(t, root), -EINVAL);
	verity_tree_free(t);
	/* a hash file that cannot be written */
	close(hfd);
	hfd = open(ours, O_RDONLY);
	assert_true(verity_tree_build(dfd, 200, salt, sizeof(salt), hfd, root) < 0);
	close(hfd);
	close(dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels_edges),
		cmocka_unit_test(test_two_threads),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
