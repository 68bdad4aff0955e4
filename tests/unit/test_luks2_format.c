/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LUKS2 header writer (measurement/luks2_format.c), read back by the
 * real libcryptsetup: it loads the header, finds the volume key behind the
 * keyslot with the passphrase (and not without it), and reports the label,
 * cipher, sector size and data offset written. The guest's own validator
 * accepts it. The same random source gives the same bytes, another gives
 * other salts and another UUID; layouts that cannot hold the header and a
 * failing source are refused, leaving no key material behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/lib.h"
#include "measurement/measurement.h"
#include "tests/unit/support/sim.h"

#define HDR (1024 * 1024)
#define META (16 * 1024)

/* A source for tests: SHA-256(seed || purpose || counter) blocks. */
struct src {
	uint8_t seed;
	unsigned calls;
	bool fail_at_af;
};

static int src_bytes(void *ctx, const char *purpose, uint8_t *out, size_t n)
{
	struct src *s = ctx;
	uint32_t ctr = 0;

	s->calls++;
	if (s->fail_at_af && !strcmp(purpose, "af stripes"))
		return -EIO;
	for (size_t off = 0; off < n; off += 32, ctr++) {
		uint8_t d[32];
		EVP_MD_CTX *c = EVP_MD_CTX_new();

		assert_non_null(c);
		assert_int_equal(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
		EVP_DigestUpdate(c, &s->seed, 1);
		EVP_DigestUpdate(c, purpose, strlen(purpose));
		EVP_DigestUpdate(c, &ctr, sizeof(ctr));
		EVP_DigestFinal_ex(c, d, NULL);
		EVP_MD_CTX_free(c);
		memcpy(out + off, d, n - off < 32 ? n - off : 32);
	}
	return 0;
}

static const struct luks2_layout layout = {
	.label = "unit-label",
	.metadata_size = META,
	.header_size = HDR,
	.sector_size = 4096,
};

static const uint8_t mk[64] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, [63] = 0x5a };
static const uint8_t pass[32] = { 0xc0, 0xff, 0xee, [31] = 1 };

/* The header area and two data sectors in a file; its path in out. */
static void write_volume(const uint8_t *hdr, char *out, size_t cap, const char *name)
{
	int fd;

	sim_path(out, cap, "CVM_TEST_TMP", name);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hdr, HDR), HDR);
	assert_int_equal(ftruncate(fd, HDR + 2 * 4096), 0);
	close(fd);
}

static void test_libcryptsetup_reads_it(void **state)
{
	uint8_t *hdr = malloc(HDR), vk[64];
	struct src s = { .seed = 1 };
	struct crypt_device *cd = NULL;
	size_t vk_len = sizeof(vk);
	char path[600];

	(void)state;
	assert_non_null(hdr);
	assert_int_equal(luks2_format(hdr, &layout, mk, pass, sizeof(pass), src_bytes, &s), 0);
	write_volume(hdr, path, sizeof(path), "luks2-format.img");
	assert_int_equal(crypt_init(&cd, path), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_string_equal(crypt_get_label(cd), "unit-label");
	assert_string_equal(crypt_get_cipher(cd), "aes");
	assert_string_equal(crypt_get_cipher_mode(cd), "xts-plain64");
	assert_int_equal(crypt_get_sector_size(cd), 4096);
	assert_int_equal(crypt_get_data_offset(cd), HDR / 512);
	assert_int_equal(crypt_get_volume_key_size(cd), 64);
	assert_non_null(crypt_get_uuid(cd));
	assert_int_equal(crypt_keyslot_status(cd, 0), CRYPT_SLOT_ACTIVE_LAST);
	/* the keyslot gives back the volume key: AF split, keyslot cipher and digest agree */
	assert_int_equal(crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *)vk, &vk_len,
					      (const char *)pass, sizeof(pass)),
			 0);
	assert_int_equal(vk_len, 64);
	assert_memory_equal(vk, mk, 64);
	vk_len = sizeof(vk);
	assert_true(crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *)vk, &vk_len, "wrong", 5) < 0);
	/* and the digest refuses another key */
	memset(vk, 0x11, sizeof(vk));
	assert_true(crypt_volume_key_verify(cd, (const char *)vk, 64) < 0);
	assert_true(crypt_volume_key_verify(cd, (const char *)mk, 64) >= 0);
	crypt_free(cd);
	unlink(path);
	free(hdr);
}

static void test_guest_validator_accepts_it(void **state)
{
	uint8_t *hdr = malloc(HDR);
	struct src s = { .seed = 2 };
	struct luks2_allow allow;
	struct luks2_header h;
	char err[256];
	uint8_t sum[32];
	unsigned n = 0;

	(void)state;
	assert_non_null(hdr);
	assert_int_equal(luks2_format(hdr, &layout, mk, pass, sizeof(pass), src_bytes, &s), 0);
	luks2_allow_defaults(&allow);
	assert_int_equal(luks2_header_validate(hdr, HDR, HDR + 8192, &allow, &h, err, sizeof(err)),
			 0);
	assert_int_equal(h.data_offset, HDR);
	assert_int_equal(h.hdr_size, META);
	assert_int_equal(h.sector_size, 4096);
	assert_string_equal(h.cipher, "aes-xts-plain64");
	EVP_Digest(hdr, HDR, sum, &n, EVP_sha256(), NULL);
	assert_memory_equal(h.sha256, sum, 32);
	free(hdr);
}

static void test_same_source_same_bytes(void **state)
{
	uint8_t *a = malloc(HDR), *b = malloc(HDR);
	struct src s1 = { .seed = 3 }, s2 = { .seed = 3 }, s3 = { .seed = 4 };

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(luks2_format(a, &layout, mk, pass, sizeof(pass), src_bytes, &s1), 0);
	assert_int_equal(luks2_format(b, &layout, mk, pass, sizeof(pass), src_bytes, &s2), 0);
	assert_memory_equal(a, b, HDR);
	assert_int_equal(luks2_format(b, &layout, mk, pass, sizeof(pass), src_bytes, &s3), 0);
	/* another source: another UUID (168), header salt (104) and keyslot area (32 KiB) */
	assert_memory_not_equal(a + 168, b + 168, 36);
	assert_memory_not_equal(a + 104, b + 104, 64);
	assert_memory_not_equal(a + 2 * META, b + 2 * META, 4096);
	/* the two copies of one header carry different salts */
	assert_memory_not_equal(a + 104, a + META + 104, 64);
	free(a);
	free(b);
}

static void test_refusals(void **state)
{
	uint8_t *hdr = malloc(HDR);
	struct luks2_layout l = layout;
	struct src s = { .seed = 5 };

	(void)state;
	assert_non_null(hdr);
	l.metadata_size = 12288; /* not a power of two */
	assert_int_equal(luks2_format(hdr, &l, mk, pass, sizeof(pass), src_bytes, &s), -EINVAL);
	l = layout;
	l.header_size = 2 * META + 64 * 4000; /* the keyslot does not fit whole sectors */
	assert_int_equal(luks2_format(hdr, &l, mk, pass, sizeof(pass), src_bytes, &s), -EINVAL);
	l = layout;
	l.label = "a label of forty-eight characters, one too many.";
	assert_int_equal(luks2_format(hdr, &l, mk, pass, sizeof(pass), src_bytes, &s), -EINVAL);
	/* a source that fails mid-way: an error, and no stripe of the key left behind */
	s.fail_at_af = true;
	memset(hdr, 0xee, HDR);
	assert_true(luks2_format(hdr, &layout, mk, pass, sizeof(pass), src_bytes, &s) < 0);
	for (size_t i = 0; i < HDR; i++)
		if (hdr[i])
			fail_msg("byte %zu left after a failure", i);
	free(hdr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libcryptsetup_reads_it),
		cmocka_unit_test(test_guest_validator_accepts_it),
		cmocka_unit_test(test_same_source_same_bytes),
		cmocka_unit_test(test_refusals),
	};

	crypt_set_log_callback(NULL, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
