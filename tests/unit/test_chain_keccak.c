/* SPDX-License-Identifier: Apache-2.0 */
/* chain/keccak.c: Keccak-256 with the original Keccak padding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>

#include "chain/chain.h"
#include "lib/lib.h"

#define RATE 136

/* i*7+3: bytes that differ from their neighbours, so that a misplaced byte shows */
static void pattern(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 3);
}

static void expect_digest(const uint8_t got[KECCAK256_LEN], const char *want_hex)
{
	uint8_t want[KECCAK256_LEN];

	assert_int_equal(hex_decode_exact(want_hex, want, sizeof(want)), 0);
	assert_memory_equal(got, want, sizeof(want));
}

/*
 * The Keccak team's known-answer tests for the SHA-3 submission,
 * KeccakKAT-3.zip (keccak.noekeon.org), ShortMsgKAT_256.txt: the
 * byte-aligned entries Len = 0, 8, 920 (115 bytes, one block) and 1952
 * (244 bytes, two blocks). Each MD was also checked against js-sha3 0.9's
 * keccak256 when these tests were written.
 */
static void test_short_msg_kat_256(void **state)
{
	static const struct {
		const char *msg, *md;
	} kat[] = {
		{ "", "C5D2460186F7233C927E7DB2DCC703C0E500B653CA82273B7BFAD8045D85A470" },
		{ "CC", "EEAD6DBFC7340A56CAEDC044696A168870549A6A7F6F56961E84A54BD9970B8A" },
		{ "B55C10EAE0EC684C16D13463F29291BF26C82E2FA0422A99C71DB4AF14DD9C7F33EDA52FD73D01"
		  "7CC0F2DBE734D831F0D820D06D5F89DACC485739144F8CFD4799223B1AFF9031A105CB6A029BA7"
		  "1E6E5867D85A554991C38DF3C9EF8C1E1E9A7630BE61CAABCA69280C399C1FB7A12D12AEFC",
		  "0347901965D3635005E75A1095695CCA050BC9ED2D440C0372A31B348514A889" },
		{ "2EDC282FFB90B97118DD03AAA03B145F363905E3CBD2D50ECD692B37BF000185C651D3E9726C69"
		  "0D3773EC1E48510E42B17742B0B0377E7DE6B8F55E00A8A4DB4740CEE6DB0830529DD19617501D"
		  "C1E9359AA3BCF147E0A76B3AB70C4984C13E339E6806BB35E683AF8527093670859F3D8A0FC7D4"
		  "93BCBA6BB12B5F65E71E705CA5D6C948D66ED3D730B26DB395B3447737C26FAD089AA0AD0E306C"
		  "B28BF0ACF106F89AF3745F0EC72D534968CCA543CD2CA50C94B1456743254E358C1317C07A07BF"
		  "2B0ECA438A709367FAFC89A57239028FC5FECFD53B8EF958EF10EE0608B7F5CB9923AD97058EC0"
		  "67700CC746C127A61EE3",
		  "DD1D2A92B3F3F3902F064365838E1F5F3468730C343E2974E7A9ECFCD84AA6DB" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(kat); i++) {
		uint8_t msg[256], md[KECCAK256_LEN];
		size_t n;

		assert_int_equal(hex_decode(kat[i].msg, msg, sizeof(msg), &n), 0);
		keccak256(msg, n, md);
		expect_digest(md, kat[i].md);
	}
}

/*
 * Messages of pattern() bytes around one and two blocks: 135 leaves room for
 * the padding's 0x01 and 0x80 in one byte (0x81), 136 needs a block of
 * padding alone, 137 starts a second block. The digests are js-sha3 0.9's
 * keccak256 (and @noble/hashes 1.x's keccak_256, which agrees), computed
 * when these tests were written.
 */
static void test_padding_boundaries(void **state)
{
	static const struct {
		size_t n;
		const char *md;
	} v[] = {
		{ 135, "00ef96af9cf4b24c7f269d922294444a197d0a33638c2e56634c57e892103a8f" },
		{ 136, "742061bcad767ed4c4f5883b1dcb1aad11afdcc140dc469d953759b127b9f9ed" },
		{ 137, "e3371f61e770abf254c34239c3b0099ad90594507415bc81dd0a10b9692bbf2a" },
		{ 271, "4401c4afbe16ff911bdbf2d38e556e5b861f3fdf0f9d4306b1c46f6ae4f73584" },
		{ 272, "ac141fd7b0a0ffcd2e967254d508da3ec616596493c36fa304425647d90e6de5" },
		{ 273, "16192ea86793083e47731cb3c970600f04768414d92bc0540e54ce8607a0fce0" },
		{ 1000, "80cdc8dd52cbb3dbaea8f383209893fa2bb52efbd5aedbb4b26dcfe307fcdc9b" },
	};
	uint8_t msg[1000];

	(void)state;
	pattern(msg, sizeof(msg));
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		uint8_t md[KECCAK256_LEN];

		keccak256(msg, v[i].n, md);
		expect_digest(md, v[i].md);
	}
}

/* Chunks of every alignment, across and onto block boundaries, give the one-shot digest. */
static void test_incremental_equals_one_shot(void **state)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 13, 64, 135, 136, 137, 271, 500, 1000 };
	uint8_t msg[1000], one[KECCAK256_LEN];

	(void)state;
	pattern(msg, sizeof(msg));
	keccak256(msg, sizeof(msg), one);
	expect_digest(one, "80cdc8dd52cbb3dbaea8f383209893fa2bb52efbd5aedbb4b26dcfe307fcdc9b");
	for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
		struct keccak256 k;
		uint8_t md[KECCAK256_LEN];

		keccak256_init(&k);
		for (size_t off = 0; off < sizeof(msg); off += chunks[c]) {
			size_t n = sizeof(msg) - off < chunks[c] ? sizeof(msg) - off : chunks[c];

			keccak256_update(&k, msg + off, n);
			keccak256_update(&k, NULL, 0);
		}
		keccak256_final(&k, md);
		assert_memory_equal(md, one, sizeof(one));
	}
}

/* An odd head then whole blocks: the lane-wise path must not start off a block boundary. */
static void test_odd_head_then_blocks(void **state)
{
	uint8_t msg[1000], one[KECCAK256_LEN], md[KECCAK256_LEN];
	struct keccak256 k;

	(void)state;
	pattern(msg, sizeof(msg));
	keccak256(msg, sizeof(msg), one);
	keccak256_init(&k);
	keccak256_update(&k, msg, 5);
	keccak256_update(&k, msg + 5, 2 * RATE);
	keccak256_update(&k, msg + 5 + 2 * RATE, RATE - 5);
	keccak256_update(&k, msg + 3 * RATE, sizeof(msg) - 3 * RATE);
	keccak256_final(&k, md);
	assert_memory_equal(md, one, sizeof(one));
}

static void test_final_wipes_state(void **state)
{
	static const uint8_t zero[sizeof(struct keccak256)];
	struct keccak256 k;
	uint8_t md[KECCAK256_LEN];

	(void)state;
	keccak256_init(&k);
	keccak256_update(&k, "secret", 6);
	keccak256_final(&k, md);
	assert_memory_equal(&k, zero, sizeof(k));
}

/*
 * FIPS 202's SHA3-256 (OpenSSL) pads with 0x06: the same permutation and
 * rate give another digest. Its value for the 135 bytes is js-sha3 0.9's
 * sha3_256, computed when this test was written.
 */
static void test_differs_from_sha3_256(void **state)
{
	uint8_t msg[135], sha3[KECCAK256_LEN], md[KECCAK256_LEN];
	unsigned len = 0;

	(void)state;
	pattern(msg, sizeof(msg));
	assert_int_equal(EVP_Digest(msg, sizeof(msg), sha3, &len, EVP_sha3_256(), NULL), 1);
	assert_int_equal(len, sizeof(sha3));
	expect_digest(sha3, "d9dcf1f98e49a79b0643a9e68fef48079ff8777c5e7e7f93469ded65f192ac71");
	keccak256(msg, sizeof(msg), md);
	assert_memory_not_equal(md, sha3, sizeof(md));
	assert_int_equal(EVP_Digest("", 0, sha3, &len, EVP_sha3_256(), NULL), 1);
	keccak256("", 0, md);
	assert_memory_not_equal(md, sha3, sizeof(md));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_msg_kat_256),
		cmocka_unit_test(test_padding_boundaries),
		cmocka_unit_test(test_incremental_equals_one_shot),
		cmocka_unit_test(test_odd_head_then_blocks),
		cmocka_unit_test(test_final_wipes_state),
		cmocka_unit_test(test_differs_from_sha3_256),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
