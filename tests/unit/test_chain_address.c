/* SPDX-License-Identifier: Apache-2.0 */
/* chain/address.c: addresses of secp256k1 keys and their EIP-55 checksums. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "chain/chain.h"
#include "lib/lib.h"

/* EIP-55, "Test Cases": all caps, all lower, then mixed ("normal") */
static const char *const eip55_caps[] = {
	"0x52908400098527886E0F7030069857D2E4169EE7",
	"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
};
static const char *const eip55_lower[] = {
	"0xde709f2102306220921060314715629080e2fb77",
	"0x27b1fdb04752bbc536007a920d24acb045561c26",
};
static const char *const eip55_mixed[] = {
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
};

/*
 * Secret keys 1 and 2: their public keys are the generator G (SEC 2
 * 2.4.1) and 2G; the addresses were checked with @noble/secp256k1 1.x and
 * @noble/hashes 1.x keccak_256 when these tests were written.
 */
static const struct {
	const char *compressed, *uncompressed, *address;
} known_keys[] = {
	{ "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
	  "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
	  "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
	  "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf" },
	{ "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
	  "04c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5"
	  "1ae168fea63dc339a3c58419466ceaeef7f632653266d0e1236431a950cfe52a",
	  "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF" },
};

/* s with its hex digits in one case ('l' or 'u'); out holds 43 bytes */
static void recase(const char *s, char *out, char c)
{
	for (size_t i = 0; i < 43; i++)
		out[i] = i < 2 ? s[i] : (char)(c == 'l' ? tolower(s[i]) : toupper(s[i]));
}

static void test_checksum_matches_eip55_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(eip55_mixed); i++) {
		uint8_t a[ETH_ADDRESS_LEN];
		char lower[43], sum[43];

		recase(eip55_mixed[i], lower, 'l');
		assert_int_equal(hex_decode_exact(lower + 2, a, sizeof(a)), 0);
		eth_address_checksum(a, sum);
		assert_string_equal(sum, eip55_mixed[i]);
	}
	/* a checksum may be all one case: EIP-55's all-caps and all-lower examples */
	for (size_t i = 0; i < ARRAY_SIZE(eip55_caps); i++) {
		uint8_t a[ETH_ADDRESS_LEN];
		char sum[43];

		assert_int_equal(hex_decode_exact(eip55_caps[i] + 2, a, sizeof(a)), 0);
		eth_address_checksum(a, sum);
		assert_string_equal(sum, eip55_caps[i]);
		assert_int_equal(hex_decode_exact(eip55_lower[i] + 2, a, sizeof(a)), 0);
		eth_address_checksum(a, sum);
		assert_string_equal(sum, eip55_lower[i]);
	}
}

static void test_parse_accepts_eip55_examples_and_one_case(void **state)
{
	const char *const *lists[] = { eip55_caps, eip55_lower, eip55_mixed };
	const size_t counts[] = { ARRAY_SIZE(eip55_caps), ARRAY_SIZE(eip55_lower),
				  ARRAY_SIZE(eip55_mixed) };

	(void)state;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		for (size_t i = 0; i < counts[l]; i++) {
			uint8_t a[ETH_ADDRESS_LEN], b[ETH_ADDRESS_LEN], want[ETH_ADDRESS_LEN];
			char lower[43], upper[43];

			recase(lists[l][i], lower, 'l');
			recase(lists[l][i], upper, 'u');
			assert_int_equal(hex_decode_exact(lower + 2, want, sizeof(want)), 0);
			assert_int_equal(eth_address_parse(lists[l][i], a), 0);
			assert_memory_equal(a, want, sizeof(a));
			/* one case throughout carries no checksum and is taken as is */
			memset(b, 0, sizeof(b));
			assert_int_equal(eth_address_parse(lower, b), 0);
			assert_memory_equal(b, want, sizeof(b));
			memset(b, 0, sizeof(b));
			assert_int_equal(eth_address_parse(upper, b), 0);
			assert_memory_equal(b, want, sizeof(b));
		}
	}
}

/* Any one letter of a checksummed address in the other case: a typo the checksum catches. */
static void test_parse_refuses_each_flipped_letter(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(eip55_mixed); i++) {
		size_t flipped = 0;

		for (size_t j = 2; j < 42; j++) {
			uint8_t a[ETH_ADDRESS_LEN] = { 0xee };
			char s[43];

			if (!isalpha((unsigned char)eip55_mixed[i][j]))
				continue;
			memcpy(s, eip55_mixed[i], sizeof(s));
			s[j] = (char)(islower((unsigned char)s[j]) ? toupper(s[j]) : tolower(s[j]));
			/* every example keeps letters of both cases after one flip */
			assert_int_equal(eth_address_parse(s, a), -EINVAL);
			assert_int_equal(a[0], 0xee);
			flipped++;
		}
		assert_true(flipped > 0);
	}
}

static void test_parse_refuses_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"0x",
		"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",	/* no 0x */
		"005aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",	/* 42 digits, no 0x */
		"0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",	/* 0X */
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",	/* 39 digits */
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd",	/* 41 digits */
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00", /* 42 digits */
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",	/* not hex */
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea d",	/* a space */
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae\n",	/* a newline */
		" 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",	/* leading space */
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed ",	/* trailing space */
		"0x+aaeb6053f3e94c9b9a09f33669435e7ef1beaed",	/* a sign */
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",	/* mixed, not the checksum */
	};
	uint8_t a[ETH_ADDRESS_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(a, 0xee, sizeof(a));
		assert_int_equal(eth_address_parse(bad[i], a), -EINVAL);
		assert_int_equal(a[0], 0xee);
	}
	assert_int_equal(eth_address_parse(NULL, a), -EINVAL);
}

static void test_address_of_known_keys(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(known_keys); i++) {
		uint8_t c[33], u[65], a[ETH_ADDRESS_LEN], b[ETH_ADDRESS_LEN];
		uint8_t want[ETH_ADDRESS_LEN];
		char sum[43];

		assert_int_equal(hex_decode_exact(known_keys[i].compressed, c, sizeof(c)), 0);
		assert_int_equal(hex_decode_exact(known_keys[i].uncompressed, u, sizeof(u)), 0);
		assert_int_equal(eth_address_parse(known_keys[i].address, want), 0);
		assert_int_equal(eth_address_from_pubkey(c, sizeof(c), a), 0);
		assert_int_equal(eth_address_from_pubkey(u, sizeof(u), b), 0);
		assert_memory_equal(a, want, sizeof(a));
		assert_memory_equal(b, want, sizeof(b));
		eth_address_checksum(a, sum);
		assert_string_equal(sum, known_keys[i].address);
	}
}

static void test_refuses_bad_public_keys(void **state)
{
	uint8_t c[33], u[65], k[65], a[ETH_ADDRESS_LEN];
	static const size_t lengths[] = { 0, 1, 32, 34, 64, 66 };

	(void)state;
	assert_int_equal(hex_decode_exact(known_keys[0].compressed, c, sizeof(c)), 0);
	assert_int_equal(hex_decode_exact(known_keys[0].uncompressed, u, sizeof(u)), 0);
	memset(a, 0xee, sizeof(a));
	for (size_t i = 0; i < ARRAY_SIZE(lengths); i++)
		assert_int_equal(eth_address_from_pubkey(u, lengths[i], a), -EINVAL);
	assert_int_equal(eth_address_from_pubkey(NULL, 33, a), -EINVAL);
	/* the prefix must match the length */
	memcpy(k, c, sizeof(c));
	k[0] = 0x04;
	assert_int_equal(eth_address_from_pubkey(k, 33, a), -EINVAL);
	memcpy(k, u, sizeof(u));
	k[0] = 0x02;
	assert_int_equal(eth_address_from_pubkey(k, 65, a), -EINVAL);
	k[0] = 0x00;
	assert_int_equal(eth_address_from_pubkey(k, 65, a), -EINVAL);
	/* SEC 1's hybrid form (06/07 || X || Y) is no form of an Ethereum key */
	k[0] = 0x06; /* G's Y is even */
	assert_int_equal(eth_address_from_pubkey(k, 65, a), -EINVAL);
	/* G with its Y changed is not on the curve */
	k[0] = 0x04;
	k[64] ^= 1;
	assert_int_equal(eth_address_from_pubkey(k, 65, a), -EINVAL);
	/* x = 5: 5^3 + 7 = 132 has no square root mod p */
	memset(k, 0, 33);
	k[0] = 0x02;
	k[32] = 5;
	assert_int_equal(eth_address_from_pubkey(k, 33, a), -EINVAL);
	/* x >= p */
	memset(k + 1, 0xff, 32);
	assert_int_equal(eth_address_from_pubkey(k, 33, a), -EINVAL);
	assert_int_equal(a[0], 0xee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_matches_eip55_examples),
		cmocka_unit_test(test_parse_accepts_eip55_examples_and_one_case),
		cmocka_unit_test(test_parse_refuses_each_flipped_letter),
		cmocka_unit_test(test_parse_refuses_malformed),
		cmocka_unit_test(test_address_of_known_keys),
		cmocka_unit_test(test_refuses_bad_public_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
