/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the result bundle reader and the output disk's parsers. The
 * first byte chooses what the rest is:
 *   0: a bundle, verified and, when that holds, decrypted with the test
 *      key below (the seed bundles are sealed to it)
 *   1: block 0, a commit record
 *   2: block 1, an order block
 *   3: a whole output disk, opened (commit record, bundle digest), then
 *      verified as a bundle
 * The key is a test key and nothing else: SHA-256("cvm fuzz_result test key").
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <secp256k1.h>

#include "lib/lib.h"

static const char test_sk[] = "5f59ce915ea8ed92775dbd546b3101f5e294bb2e39bddd7b59c5d059633150ed";

static const struct result_key *key(void)
{
	static struct result_key k;
	static uint8_t sk[32];

	if (!k.sk) {
		secp256k1_context *c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
		secp256k1_pubkey pk;
		size_t n = 33;

		if (hex_decode_exact(test_sk, sk, 32) < 0 ||
		    !secp256k1_ec_pubkey_create(c, &pk, sk) ||
		    !secp256k1_ec_pubkey_serialize(c, k.pub, &n, &pk, SECP256K1_EC_COMPRESSED))
			abort();
		secp256k1_context_destroy(c);
		k.sk = sk;
	}
	return &k;
}

static int discard(void *ctx, const void *p, size_t n)
{
	(void)p;
	*(size_t *)ctx += n;
	return 0;
}

static void bundle(const struct result_source *src)
{
	struct result_info in;
	char err[256];
	size_t total = 0;

	if (result_verify(src, &in, err, sizeof(err)) < 0)
		return;
	if (result_decrypt(src, &in, key(), discard, &total, err, sizeof(err)) == 0 &&
	    total > in.plaintext_max)
		abort();
	result_info_free(&in);
}

static void disk(int fd)
{
	struct result_source src;
	char err[256];

	if (outdisk_open(fd, &src, err, sizeof(err)) == 0)
		bundle(&src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t block[OUTDISK_BLOCK] = { 0 };
	char id[RESULT_ORDER_ID_MAX + 1], err[256];
	struct outdisk_commit c;
	int fd;

	if (size < 1)
		return 0;
	memcpy(block, data + 1, size - 1 < sizeof(block) ? size - 1 : sizeof(block));
	switch (data[0] & 3) {
	case 1:
		outdisk_commit_parse(block, &c);
		return 0;
	case 2:
		if (outdisk_order_parse(block, id, sizeof(id), err, sizeof(err)) == 0 &&
		    !result_order_id_valid(id))
			abort();
		return 0;
	}
	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	if ((data[0] & 3) == 0)
		bundle(&(struct result_source){ .fd = fd, .size = size - 1 });
	else
		disk(fd);
	close(fd);
	return 0;
}
