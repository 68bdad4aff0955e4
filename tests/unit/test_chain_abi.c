/* SPDX-License-Identifier: Apache-2.0 */
/* chain/abi.c: the Solidity contract ABI, its selectors and topics, and the strict decoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/abi.h"
#include "lib/lib.h"

/* Words for the crafted buffers below, by value. */
#define W_0 "0000000000000000000000000000000000000000000000000000000000000000"
#define W_1 "0000000000000000000000000000000000000000000000000000000000000001"
#define W_2 "0000000000000000000000000000000000000000000000000000000000000002"
#define W_3 "0000000000000000000000000000000000000000000000000000000000000003"
#define W_4 "0000000000000000000000000000000000000000000000000000000000000004"
#define W_7 "0000000000000000000000000000000000000000000000000000000000000007"
#define W_20 "0000000000000000000000000000000000000000000000000000000000000020"
#define W_21 "0000000000000000000000000000000000000000000000000000000000000021"
#define W_40 "0000000000000000000000000000000000000000000000000000000000000040"
#define W_A0 "00000000000000000000000000000000000000000000000000000000000000a0"
#define W_FF "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
/* 2^64 + 0x20: read as its low 64 bits, the offset 0x20 */
#define W_2P64_20 "0000000000000000000000000000000000000000000000010000000000000020"
#define DAVE "6461766500000000000000000000000000000000000000000000000000000000"
#define ADDR_A1 "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
#define ADDR_A2 "fb6916095ca1df60bb79ce92ce3ea74c37c5d359"

/*
 * The Solidity documentation, "Contract ABI Specification": § Examples,
 * baz(69, true) and sam("dave", true, [1, 2, 3]); § Use of Dynamic Types,
 * f(0x123, [0x456, 0x789], "1234567890", "Hello, world!"). The arguments'
 * words as the specification prints them, after the selector (ethers 6
 * AbiCoder gives the same). bar(bytes3[2]), the other example, is a
 * fixed-size array, which this layer does not take.
 */
static const char baz_hex[] = "0000000000000000000000000000000000000000000000000000000000000045"
			      "0000000000000000000000000000000000000000000000000000000000000001";
static const char sam_hex[] = "0000000000000000000000000000000000000000000000000000000000000060"
			      "0000000000000000000000000000000000000000000000000000000000000001"
			      "00000000000000000000000000000000000000000000000000000000000000a0"
			      "0000000000000000000000000000000000000000000000000000000000000004"
			      "6461766500000000000000000000000000000000000000000000000000000000"
			      "0000000000000000000000000000000000000000000000000000000000000003"
			      "0000000000000000000000000000000000000000000000000000000000000001"
			      "0000000000000000000000000000000000000000000000000000000000000002"
			      "0000000000000000000000000000000000000000000000000000000000000003";
static const char f_hex[] = "0000000000000000000000000000000000000000000000000000000000000123"
			    "0000000000000000000000000000000000000000000000000000000000000080"
			    "3132333435363738393000000000000000000000000000000000000000000000"
			    "00000000000000000000000000000000000000000000000000000000000000e0"
			    "0000000000000000000000000000000000000000000000000000000000000002"
			    "0000000000000000000000000000000000000000000000000000000000000456"
			    "0000000000000000000000000000000000000000000000000000000000000789"
			    "000000000000000000000000000000000000000000000000000000000000000d"
			    "48656c6c6f2c20776f726c642100000000000000000000000000000000000000";

/*
 * Cross-checked with ethers 6 AbiCoder (ethers 6.17.0,
 * AbiCoder.defaultAbiCoder().encode(types, values)); each also decoded by
 * ethers. The addresses are EIP-55's examples; patterned bytes are
 * (i * 7 + k) & 0xff for i from 0.
 */
/* (string[]) ["one", "two", "three"]: the string[] of the specification's g(uint256[][],string[]) */
static const char strings_hex[] =
	"0000000000000000000000000000000000000000000000000000000000000020"
	"0000000000000000000000000000000000000000000000000000000000000003"
	"0000000000000000000000000000000000000000000000000000000000000060"
	"00000000000000000000000000000000000000000000000000000000000000a0"
	"00000000000000000000000000000000000000000000000000000000000000e0"
	"0000000000000000000000000000000000000000000000000000000000000003"
	"6f6e650000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000003"
	"74776f0000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000005"
	"7468726565000000000000000000000000000000000000000000000000000000";
/* (address[]) [0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed, 0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359] */
static const char addresses_hex[] =
	"0000000000000000000000000000000000000000000000000000000000000020"
	"0000000000000000000000000000000000000000000000000000000000000002"
	"0000000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
	"000000000000000000000000fb6916095ca1df60bb79ce92ce3ea74c37c5d359";
/* (int8,int8,int64,int256,int256,uint256) -1, -128, -(2^53 + 1), -2^255, 2^255 - 1, 2^256 - 1 */
static const char ints_hex[] = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
			       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80"
			       "ffffffffffffffffffffffffffffffffffffffffffffffffffdfffffffffffff"
			       "8000000000000000000000000000000000000000000000000000000000000000"
			       "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
			       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
/* (bytes) of 31, 32 and 33 patterned bytes, k = 3 */
static const char bytes31_hex[] =
	"0000000000000000000000000000000000000000000000000000000000000020"
	"000000000000000000000000000000000000000000000000000000000000001f"
	"030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced500";
static const char bytes32_hex[] =
	"0000000000000000000000000000000000000000000000000000000000000020"
	"0000000000000000000000000000000000000000000000000000000000000020"
	"030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dc";
static const char bytes33_hex[] =
	"0000000000000000000000000000000000000000000000000000000000000020"
	"0000000000000000000000000000000000000000000000000000000000000021"
	"030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dc"
	"e300000000000000000000000000000000000000000000000000000000000000";
/* (uint256[],string[],bytes,string,address[]) all empty */
static const char empty_hex[] = "00000000000000000000000000000000000000000000000000000000000000a0"
				"00000000000000000000000000000000000000000000000000000000000000c0"
				"00000000000000000000000000000000000000000000000000000000000000e0"
				"0000000000000000000000000000000000000000000000000000000000000100"
				"0000000000000000000000000000000000000000000000000000000000000120"
				"0000000000000000000000000000000000000000000000000000000000000000"
				"0000000000000000000000000000000000000000000000000000000000000000"
				"0000000000000000000000000000000000000000000000000000000000000000"
				"0000000000000000000000000000000000000000000000000000000000000000"
				"0000000000000000000000000000000000000000000000000000000000000000";
/*
 * (uint8,int64,bytes4,address,bool,bytes32,string,bytes1[],int16[],bytes[])
 * 255, -2, 0xdeadbeef, 0x5aAe..., false, 32 bytes with k = 1, "héllo",
 * [0x01, 0xff], [-300, 300], ["", 33 bytes with k = 5, 0x00]
 */
static const char mixed_hex[] = "00000000000000000000000000000000000000000000000000000000000000ff"
				"fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe"
				"deadbeef00000000000000000000000000000000000000000000000000000000"
				"0000000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
				"0000000000000000000000000000000000000000000000000000000000000000"
				"01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da"
				"0000000000000000000000000000000000000000000000000000000000000140"
				"0000000000000000000000000000000000000000000000000000000000000180"
				"00000000000000000000000000000000000000000000000000000000000001e0"
				"0000000000000000000000000000000000000000000000000000000000000240"
				"0000000000000000000000000000000000000000000000000000000000000006"
				"68c3a96c6c6f0000000000000000000000000000000000000000000000000000"
				"0000000000000000000000000000000000000000000000000000000000000002"
				"0100000000000000000000000000000000000000000000000000000000000000"
				"ff00000000000000000000000000000000000000000000000000000000000000"
				"0000000000000000000000000000000000000000000000000000000000000002"
				"fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed4"
				"000000000000000000000000000000000000000000000000000000000000012c"
				"0000000000000000000000000000000000000000000000000000000000000003"
				"0000000000000000000000000000000000000000000000000000000000000060"
				"0000000000000000000000000000000000000000000000000000000000000080"
				"00000000000000000000000000000000000000000000000000000000000000e0"
				"0000000000000000000000000000000000000000000000000000000000000000"
				"0000000000000000000000000000000000000000000000000000000000000021"
				"050c131a21282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7de"
				"e500000000000000000000000000000000000000000000000000000000000000"
				"0000000000000000000000000000000000000000000000000000000000000001"
				"0000000000000000000000000000000000000000000000000000000000000000";

/* hex in a buffer of exactly its length, so that ASan sees any read past it; free it */
static uint8_t *from_hex(const char *hex, size_t *n)
{
	size_t len = strlen(hex) / 2;
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	assert_int_equal(hex_decode(hex, p, len, n), 0);
	assert_int_equal(*n, len);
	return p;
}

static void pattern(uint8_t *p, size_t n, unsigned k)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + k);
}

static struct abi_value uint_v(uint64_t v)
{
	struct abi_value a = { 0 };

	abi_word_uint64(v, a.word);
	return a;
}

static struct abi_value int_v(int64_t v)
{
	struct abi_value a = { 0 };

	abi_word_int64(v, a.word);
	return a;
}

static struct abi_value word_v(const char *hex)
{
	struct abi_value a = { 0 };

	assert_int_equal(hex_decode_exact(hex, a.word, ABI_WORD), 0);
	return a;
}

static struct abi_value addr_v(const char *hex)
{
	struct abi_value a = { 0 };
	uint8_t addr[ETH_ADDRESS_LEN];

	assert_int_equal(hex_decode_exact(hex, addr, sizeof(addr)), 0);
	abi_word_address(addr, a.word);
	return a;
}

/* bytes<M>: left-aligned */
static struct abi_value left_v(const void *p, size_t n)
{
	struct abi_value a = { 0 };

	memcpy(a.word, p, n);
	return a;
}

static struct abi_value bytes_v(const void *p, size_t n)
{
	return (struct abi_value){ .p = p, .n = n };
}

static struct abi_value str_v(const char *s)
{
	return bytes_v(s, strlen(s));
}

static struct abi_value array_v(const struct abi_value *items, size_t count)
{
	return (struct abi_value){ .items = items, .count = count };
}

/* a and b, of type t and in any form, hold the same value. */
static void expect_same(const struct abi_type *t, const struct abi_value *a,
			const struct abi_value *b)
{
	struct abi_type elem = { .kind = t->kind, .size = t->size };
	struct abi_value x = *a, y = *b, xi, yi;
	char err[256];

	if (!t->array && (t->kind == ABI_BYTES || t->kind == ABI_STRING)) {
		assert_int_equal(a->n, b->n);
		if (a->n)
			assert_memory_equal(a->p, b->p, a->n);
		return;
	}
	if (!t->array) {
		assert_memory_equal(a->word, b->word, ABI_WORD);
		return;
	}
	assert_int_equal(a->count, b->count);
	x.type = y.type = *t;
	for (size_t i = 0; i < a->count; i++) {
		assert_int_equal(abi_array_item(&x, i, &xi, err, sizeof(err)), 0);
		assert_int_equal(abi_array_item(&y, i, &yi, err, sizeof(err)), 0);
		expect_same(&elem, &xi, &yi); /* one level: items are not arrays */
	}
}

/* Encodes vals as types and checks the bytes against hex. */
static void expect_encoding(const char *types, const struct abi_value *vals, size_t n,
			    const char *hex)
{
	struct rlp_buf b = { 0 };
	char err[256] = "";
	size_t len;
	uint8_t *want = from_hex(hex, &len);

	if (abi_encode(types, vals, n, &b, err, sizeof(err)) != 0)
		fail_msg("abi_encode(%s): %s", types, err);
	assert_int_equal(rlp_buf_done(&b), 0);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.p, want, len);
	rlp_buf_free(&b);
	free(want);
}

/*
 * Decodes hex as types, checks the values and their types against want,
 * then that the decoded values (arrays in their encoded form) encode back
 * to the same bytes.
 */
static void expect_round_trip(const char *types, const struct abi_value *want, size_t n,
			      const char *hex)
{
	struct abi_value got[ABI_MAX_ARGS];
	struct rlp_buf b = { 0 };
	struct abi_types t;
	char err[256] = "";
	size_t len;
	uint8_t *data = from_hex(hex, &len);

	assert_int_equal(abi_types_parse(types, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, n);
	if (abi_decode(types, data, len, got, ARRAY_SIZE(got), err, sizeof(err)) != 0)
		fail_msg("abi_decode(%s): %s", types, err);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(got[i].type.kind, t.t[i].kind);
		assert_int_equal(got[i].type.size, t.t[i].size);
		assert_int_equal(got[i].type.array, t.t[i].array);
		expect_same(&t.t[i], &got[i], &want[i]);
	}
	assert_int_equal(abi_encode(types, got, n, &b, err, sizeof(err)), 0);
	assert_int_equal(rlp_buf_done(&b), 0);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.p, data, len);
	rlp_buf_free(&b);
	free(data);
}

/* abi_encode_call gives the selector then the arguments' hex. */
static void expect_call(const char *sig, const struct abi_value *vals, size_t n,
			const char *selector, const char *args)
{
	char hex[4096];

	assert_true((size_t)snprintf(hex, sizeof(hex), "%s%s", selector, args) < sizeof(hex));
	{
		struct rlp_buf b = { 0 };
		char err[256] = "";
		size_t len;
		uint8_t *want = from_hex(hex, &len);

		if (abi_encode_call(sig, vals, n, &b, err, sizeof(err)) != 0)
			fail_msg("abi_encode_call(%s): %s", sig, err);
		assert_int_equal(rlp_buf_done(&b), 0);
		assert_int_equal(b.len, len);
		assert_memory_equal(b.p, want, len);
		rlp_buf_free(&b);
		free(want);
	}
}

static void expect_selector(const char *sig, const char *hex)
{
	uint8_t got[ABI_SELECTOR_LEN], want[ABI_SELECTOR_LEN];

	assert_int_equal(hex_decode_exact(hex, want, sizeof(want)), 0);
	assert_int_equal(abi_selector(sig, got), 0);
	assert_memory_equal(got, want, sizeof(want));
}

/*
 * transfer(address,uint256) and the Transfer event as ERC-20 (EIP-20) has
 * them; baz, sam and f as the specification's examples print them; f()
 * and withdraw() from ethers 6 (ethers.id), withdraw() and
 * getOffer(uint256) also in the dispatcher of solc's contracts/Market.sol.
 */
static void test_selectors_and_topics(void **state)
{
	uint8_t topic[KECCAK256_LEN], want[KECCAK256_LEN];

	(void)state;
	expect_selector("transfer(address,uint256)", "a9059cbb");
	expect_selector("baz(uint32,bool)", "cdcd77c0");
	expect_selector("sam(bytes,bool,uint256[])", "a5643bf2");
	expect_selector("f(uint256,uint32[],bytes10,bytes)", "8be65246");
	expect_selector("f()", "26121ff0");
	expect_selector("withdraw()", "3ccfd60b");
	expect_selector("getOffer(uint256)", "4579268a");
	assert_int_equal(abi_event_topic("Transfer(address,address,uint256)", topic), 0);
	assert_int_equal(
		hex_decode_exact("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
				 want, sizeof(want)),
		0);
	assert_memory_equal(topic, want, sizeof(want));
}

static void test_refuses_bad_signatures(void **state)
{
	static const char *const bad[] = {
		"transfer(address, uint256)", /* a space changes the hash */
		"transfer(address,uint)",     /* an alias: the selector is of uint256 */
		"(uint256)",
		"transfer",
		"transfer(address,uint256",
		"transfer)address,uint256(",
		"1f()",
		"f-g()",
		"f()()",
		"",
		/* the specification's other examples: types this layer does not take */
		"bar(bytes3[2])",
		"g(uint256[][],string[])",
		"f((uint256,bool))",
	};
	uint8_t sel[ABI_SELECTOR_LEN], topic[KECCAK256_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(abi_selector(bad[i], sel), -EINVAL);
		assert_int_equal(abi_event_topic(bad[i], topic), -EINVAL);
	}
	assert_int_equal(abi_selector(NULL, sel), -EINVAL);
	assert_int_equal(abi_event_topic("Transfer(address,address,uint)", topic), -EINVAL);
}

static void test_spec_baz(void **state)
{
	struct abi_value v[] = { uint_v(69), uint_v(1) };

	(void)state;
	expect_call("baz(uint32,bool)", v, ARRAY_SIZE(v), "cdcd77c0", baz_hex);
	expect_encoding("uint32,bool", v, ARRAY_SIZE(v), baz_hex);
	expect_round_trip("uint32,bool", v, ARRAY_SIZE(v), baz_hex);
}

static void test_spec_sam(void **state)
{
	struct abi_value data[] = { uint_v(1), uint_v(2), uint_v(3) };
	struct abi_value v[] = { str_v("dave"), uint_v(1), array_v(data, ARRAY_SIZE(data)) };

	(void)state;
	expect_call("sam(bytes,bool,uint256[])", v, ARRAY_SIZE(v), "a5643bf2", sam_hex);
	expect_round_trip("bytes,bool,uint256[]", v, ARRAY_SIZE(v), sam_hex);
}

static void test_spec_f(void **state)
{
	struct abi_value arr[] = { uint_v(0x456), uint_v(0x789) };
	struct abi_value v[] = { uint_v(0x123), array_v(arr, ARRAY_SIZE(arr)),
				 left_v("1234567890", 10), str_v("Hello, world!") };

	(void)state;
	expect_call("f(uint256,uint32[],bytes10,bytes)", v, ARRAY_SIZE(v), "8be65246", f_hex);
	expect_round_trip("uint256,uint32[],bytes10,bytes", v, ARRAY_SIZE(v), f_hex);
}

/* g(uint256[][],string[]) has an array of arrays: its string[] alone, and each item read. */
static void test_string_array(void **state)
{
	static const char *const want[] = { "one", "two", "three" };
	struct abi_value items[] = { str_v("one"), str_v("two"), str_v("three") };
	struct abi_value v[] = { array_v(items, ARRAY_SIZE(items)) }, out[1], it;
	char err[256];
	size_t len;
	uint8_t *data;

	(void)state;
	expect_encoding("string[]", v, 1, strings_hex);
	expect_round_trip("string[]", v, 1, strings_hex);

	data = from_hex(strings_hex, &len);
	assert_int_equal(abi_decode("string[]", data, len, out, 1, err, sizeof(err)), 0);
	assert_int_equal(out[0].count, 3);
	assert_null(out[0].items);
	assert_ptr_equal(out[0].p, data + 2 * ABI_WORD); /* past the offset and the count */
	assert_int_equal(out[0].n, len - 2 * ABI_WORD);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(abi_array_item(&out[0], i, &it, err, sizeof(err)), 0);
		assert_int_equal(it.type.kind, ABI_STRING);
		assert_false(it.type.array);
		assert_int_equal(it.n, strlen(want[i]));
		assert_memory_equal(it.p, want[i], it.n);
		assert_true(it.p >= data && it.p + it.n <= data + len);
	}
	free(data);
}

/* The vectors from ethers 6 above: encoded byte-exact, decoded to the same values. */
static void test_ethers_vectors(void **state)
{
	uint8_t a1[ETH_ADDRESS_LEN], a2[ETH_ADDRESS_LEN], words[2][ABI_WORD];
	uint8_t b31[31], b32[32], b33[33], k1[32], k5[33];

	(void)state;
	/* address[] in both forms: items, and the words of its encoded body */
	assert_int_equal(hex_decode_exact(ADDR_A1, a1, sizeof(a1)), 0);
	assert_int_equal(hex_decode_exact(ADDR_A2, a2, sizeof(a2)), 0);
	abi_word_address(a1, words[0]);
	abi_word_address(a2, words[1]);
	{
		struct abi_value items[] = { addr_v(ADDR_A1), addr_v(ADDR_A2) };
		struct abi_value v[] = { array_v(items, 2) };
		struct abi_value body[] = { { .p = words[0], .n = sizeof(words), .count = 2 } };

		expect_encoding("address[]", v, 1, addresses_hex);
		expect_encoding("address[]", body, 1, addresses_hex);
		expect_round_trip("address[]", v, 1, addresses_hex);
	}
	{
		struct abi_value v[] = {
			int_v(-1),
			int_v(-128),
			int_v(-9007199254740993),
			word_v("8000000000000000000000000000000000000000000000000000000000000000"),
			word_v("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
			word_v(W_FF),
		};

		expect_encoding("int8,int8,int64,int256,int256,uint256", v, ARRAY_SIZE(v),
				ints_hex);
		expect_round_trip("int8,int8,int64,int256,int256,uint256", v, ARRAY_SIZE(v),
				  ints_hex);
	}
	pattern(b31, sizeof(b31), 3);
	pattern(b32, sizeof(b32), 3);
	pattern(b33, sizeof(b33), 3);
	{
		struct abi_value v31 = bytes_v(b31, 31), v32 = bytes_v(b32, 32);
		struct abi_value v33 = bytes_v(b33, 33);

		expect_encoding("bytes", &v31, 1, bytes31_hex);
		expect_round_trip("bytes", &v31, 1, bytes31_hex);
		expect_encoding("bytes", &v32, 1, bytes32_hex);
		expect_round_trip("bytes", &v32, 1, bytes32_hex);
		expect_encoding("bytes", &v33, 1, bytes33_hex);
		expect_round_trip("bytes", &v33, 1, bytes33_hex);
	}
	{
		/* items NULL and count 0: an empty array needs no body */
		struct abi_value v[] = { array_v(NULL, 0), array_v(NULL, 0), bytes_v(NULL, 0),
					 str_v(""), array_v(NULL, 0) };

		expect_encoding("uint256[],string[],bytes,string,address[]", v, ARRAY_SIZE(v),
				empty_hex);
		expect_round_trip("uint256[],string[],bytes,string,address[]", v, ARRAY_SIZE(v),
				  empty_hex);
	}
	pattern(k1, sizeof(k1), 1);
	pattern(k5, sizeof(k5), 5);
	{
		static const char types[] =
			"uint8,int64,bytes4,address,bool,bytes32,string,bytes1[],int16[],bytes[]";
		struct abi_value b1[] = { left_v("\x01", 1), left_v("\xff", 1) };
		struct abi_value i16[] = { int_v(-300), int_v(300) };
		struct abi_value bs[] = { bytes_v("", 0), bytes_v(k5, sizeof(k5)),
					  bytes_v("\0", 1) };
		struct abi_value v[] = {
			uint_v(255),
			int_v(-2),
			left_v("\xde\xad\xbe\xef", 4),
			addr_v(ADDR_A1),
			uint_v(0),
			left_v(k1, sizeof(k1)),
			str_v("h\xc3\xa9"
			      "llo"),
			array_v(b1, ARRAY_SIZE(b1)),
			array_v(i16, ARRAY_SIZE(i16)),
			array_v(bs, ARRAY_SIZE(bs)),
		};

		expect_encoding(types, v, ARRAY_SIZE(v), mixed_hex);
		expect_round_trip(types, v, ARRAY_SIZE(v), mixed_hex);
	}
}

static void test_word_helpers(void **state)
{
	static const struct {
		int64_t v;
		const char *hex;
	} ints[] = {
		{ 0, W_0 },
		{ 1, W_1 },
		{ -1, W_FF },
		{ -2, "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe" },
		{ INT64_MAX, "0000000000000000000000000000000000000000000000007fffffffffffffff" },
		{ INT64_MIN, "ffffffffffffffffffffffffffffffffffffffffffffffff8000000000000000" },
	};
	static const char *const too_big[] = {
		"0000000000000000000000000000000000000000000000010000000000000000",
		"8000000000000000000000000000000000000000000000000000000000000000",
		W_FF,
	};
	/* not an int64: 2^63, then below -2^63, then -2^255 */
	static const char *const not_int64[] = {
		"0000000000000000000000000000000000000000000000008000000000000000",
		"ffffffffffffffffffffffffffffffffffffffffffffffff7fffffffffffffff",
		"8000000000000000000000000000000000000000000000000000000000000000",
	};
	uint8_t w[ABI_WORD], want[ABI_WORD], addr[ETH_ADDRESS_LEN];
	uint64_t u = 7;
	int64_t s = 7;

	(void)state;
	abi_word_uint64(0x0123456789abcdefu, w);
	assert_int_equal(
		hex_decode_exact("0000000000000000000000000000000000000000000000000123456789abcdef",
				 want, sizeof(want)),
		0);
	assert_memory_equal(w, want, sizeof(w));
	assert_int_equal(abi_word_to_uint64(w, &u), 0);
	assert_int_equal(u, 0x0123456789abcdefu);
	abi_word_uint64(UINT64_MAX, w);
	assert_int_equal(abi_word_to_uint64(w, &u), 0);
	assert_int_equal(u, UINT64_MAX);
	for (size_t i = 0; i < ARRAY_SIZE(too_big); i++) {
		assert_int_equal(hex_decode_exact(too_big[i], w, sizeof(w)), 0);
		u = 7;
		assert_int_equal(abi_word_to_uint64(w, &u), -ERANGE);
		assert_int_equal(u, 7);
	}

	for (size_t i = 0; i < ARRAY_SIZE(ints); i++) {
		assert_int_equal(hex_decode_exact(ints[i].hex, want, sizeof(want)), 0);
		abi_word_int64(ints[i].v, w);
		assert_memory_equal(w, want, sizeof(w));
		assert_int_equal(abi_word_to_int64(w, &s), 0);
		assert_true(s == ints[i].v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(not_int64); i++) {
		assert_int_equal(hex_decode_exact(not_int64[i], w, sizeof(w)), 0);
		s = 7;
		assert_int_equal(abi_word_to_int64(w, &s), -ERANGE);
		assert_true(s == 7);
	}

	assert_int_equal(hex_decode_exact(ADDR_A1, addr, sizeof(addr)), 0);
	abi_word_address(addr, w);
	assert_int_equal(hex_decode_exact("000000000000000000000000" ADDR_A1, want, sizeof(want)),
			 0);
	assert_memory_equal(w, want, sizeof(w));
}

/* The brief's own list, and every width at its bounds. */
static void test_parses_type_lists(void **state)
{
	static const struct abi_type want[] = {
		{ ABI_UINT, 32, false },  { ABI_ADDRESS, 0, false },
		{ ABI_BYTES, 0, false },  { ABI_STRING, 0, false },
		{ ABI_UINT, 32, true },	  { ABI_FIXED_BYTES, 32, false },
		{ ABI_BOOL, 0, false },	  { ABI_UINT, 1, false },
		{ ABI_INT, 8, false },	  { ABI_FIXED_BYTES, 4, false },
		{ ABI_ADDRESS, 0, true }, { ABI_STRING, 0, true },
	};
	static const struct {
		const char *name;
		struct abi_type t;
	} bounds[] = {
		{ "uint8", { ABI_UINT, 1, false } },
		{ "uint256", { ABI_UINT, 32, false } },
		{ "int8", { ABI_INT, 1, false } },
		{ "int256", { ABI_INT, 32, false } },
		{ "int136[]", { ABI_INT, 17, true } },
		{ "bytes1", { ABI_FIXED_BYTES, 1, false } },
		{ "bytes32[]", { ABI_FIXED_BYTES, 32, true } },
		{ "bytes[]", { ABI_BYTES, 0, true } },
		{ "bool[]", { ABI_BOOL, 0, true } },
	};
	struct abi_types t;
	char err[256];

	(void)state;
	assert_int_equal(abi_types_parse("uint256,address,bytes,string,uint256[],bytes32,bool,"
					 "uint8,int64,bytes4,address[],string[]",
					 &t, err, sizeof(err)),
			 0);
	assert_int_equal(t.n, ARRAY_SIZE(want));
	for (size_t i = 0; i < t.n; i++) {
		assert_int_equal(t.t[i].kind, want[i].kind);
		assert_int_equal(t.t[i].size, want[i].size);
		assert_int_equal(t.t[i].array, want[i].array);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bounds); i++) {
		assert_int_equal(abi_types_parse(bounds[i].name, &t, err, sizeof(err)), 0);
		assert_int_equal(t.n, 1);
		assert_int_equal(t.t[0].kind, bounds[i].t.kind);
		assert_int_equal(t.t[0].size, bounds[i].t.size);
		assert_int_equal(t.t[0].array, bounds[i].t.array);
	}
	assert_int_equal(abi_types_parse("", &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(abi_types_parse("bool,bool,bool,bool,bool,bool,bool,bool,"
					 "bool,bool,bool,bool,bool,bool,bool,bool",
					 &t, err, sizeof(err)),
			 0);
	assert_int_equal(t.n, ABI_MAX_ARGS);
}

static void test_refuses_bad_type_lists(void **state)
{
	static const struct {
		const char *list, *why;
	} bad[] = {
		{ "uint", "uint256" },
		{ "int", "int256" },
		{ "byte", "bytes1" },
		{ "uint7", "width" },
		{ "uint0", "width" },
		{ "uint264", "width" },
		{ "uint08", "width" },
		{ "uint2560", "width" },
		{ "int9", "width" },
		{ "bytes0", "M from 1 to 32" },
		{ "bytes33", "M from 1 to 32" },
		{ "bytes01", "M from 1 to 32" },
		{ "bytes3[2]", "fixed-size arrays" },
		{ "uint256[][]", "arrays of arrays" },
		{ "uint256[2][]", "arrays of arrays" },
		{ "(uint256,bool)", "tuples" },
		{ "fixed128x18", "fixed-point" },
		{ "ufixed", "fixed-point" },
		{ "function", "unknown type" },
		{ "Uint256", "unknown type" },
		{ "uint256]", "unknown type" },
		{ "string[", "malformed" },
		{ "string[x]", "malformed" },
		{ "uint256 ", "white space" },
		{ "uint256, bool", "white space" },
		{ ",", "empty type" },
		{ "uint256,", "empty type" },
		{ ",uint256", "empty type" },
		{ "[]", "empty type" },
		{ "bool,bool,bool,bool,bool,bool,bool,bool,bool,bool,bool,bool,bool,bool,bool,bool,"
		  "bool",
		  "more than 16" },
	};
	struct abi_types t;
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(abi_types_parse(bad[i].list, &t, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].list, err,
				 bad[i].why);
	}
	assert_int_equal(abi_types_parse(NULL, &t, err, sizeof(err)), -EINVAL);
}

/* Decodes hex as types; on a refusal err is one line and out is untouched. */
static int decode_hex(const char *types, const char *hex, char *err, size_t errlen)
{
	struct abi_value out[ABI_MAX_ARGS], before[ABI_MAX_ARGS];
	size_t n;
	uint8_t *data = from_hex(hex, &n);
	int r;

	memset(out, 0xa5, sizeof(out));
	memcpy(before, out, sizeof(out));
	err[0] = '\0';
	r = abi_decode(types, data, n, out, ARRAY_SIZE(out), err, errlen);
	free(data);
	if (r < 0) {
		assert_true(err[0] != '\0');
		assert_null(strchr(err, '\n'));
		assert_memory_equal(out, before, sizeof(out));
	}
	return r;
}

/* hex is refused for the reason why; its repaired form good (when given) is taken. */
static void expect_refused(const char *types, const char *hex, const char *why, const char *good)
{
	char err[256];

	assert_int_equal(decode_hex(types, hex, err, sizeof(err)), -EBADMSG);
	if (!strstr(err, why))
		fail_msg("%s: \"%s\" does not say \"%s\"", types, err, why);
	if (good && decode_hex(types, good, err, sizeof(err)) != 0)
		fail_msg("%s: the repaired form: %s", types, err);
}

static void test_refuses_partial_words(void **state)
{
	char longer[sizeof(baz_hex) + 2], shorter[sizeof(baz_hex)];

	(void)state;
	snprintf(longer, sizeof(longer), "%s00", baz_hex);
	memcpy(shorter, baz_hex, sizeof(baz_hex) - 3); /* one byte short */
	shorter[sizeof(baz_hex) - 3] = '\0';
	expect_refused("uint32,bool", longer, "not a whole number of 32-byte words", baz_hex);
	expect_refused("uint32,bool", shorter, "not a whole number of 32-byte words", NULL);
	expect_refused("bytes", W_20 W_0 "00", "not a whole number", W_20 W_0);
}

static void test_refuses_data_shorter_than_head(void **state)
{
	(void)state;
	expect_refused("uint32,bool", W_0, "shorter than the head", W_0 W_0);
	expect_refused("bytes", "", "shorter than the head", W_20 W_0);
	expect_refused("uint256[],string", W_40, "shorter than the head", W_40 W_40 W_0);
}

static void test_refuses_offset_not_multiple_of_32(void **state)
{
	(void)state;
	expect_refused("bytes", W_21 W_0 W_0, "not a multiple of 32", W_20 W_0 W_0);
	expect_refused("uint256[]", W_21 W_0 W_0, "not a multiple of 32", W_20 W_0 W_0);
	/* an item's, counted from the word after the count */
	expect_refused("string[]", W_20 W_1 W_21 W_0 W_0, "item 0: an offset of 33",
		       W_20 W_1 W_20 W_0 W_0);
}

static void test_refuses_offset_past_end(void **state)
{
	(void)state;
	expect_refused("bytes", W_40 W_0, "offset past the end", W_20 W_0);
	expect_refused("string,string", W_40 W_A0 W_0 W_0 W_0, "argument 2 (string): an offset",
		       W_40 W_40 W_0 W_0 W_0);
	expect_refused("string[]", W_20 W_1 W_40 W_0, "item 0: an offset past the end",
		       W_20 W_1 W_20 W_0);
}

/* Offsets that would pass as their low 64 bits, or wrap when 32 is added. */
static void test_refuses_offset_overflowing_size(void **state)
{
	(void)state;
	expect_refused("bytes", W_2P64_20 W_0, "offset past the end", W_20 W_0);
	expect_refused("uint256[]", W_2P64_20 W_0, "offset past the end", W_20 W_0);
	expect_refused("bytes",
		       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0" W_0,
		       "offset past the end", W_20 W_0);
	expect_refused("string[]", W_20 W_1 W_2P64_20 W_0, "item 0: an offset past the end",
		       W_20 W_1 W_20 W_0);
}

static void test_refuses_length_past_end(void **state)
{
	(void)state;
	expect_refused("bytes", W_20 W_21 W_FF, "length past the end", W_20 W_20 W_FF);
	expect_refused("string", W_20 W_1, "length past the end", W_20 W_0);
	expect_refused("string[]", W_20 W_1 W_20 W_21 DAVE, "item 0: a length past the end",
		       W_20 W_1 W_20 W_4 DAVE);
}

/* Lengths that would pass as their low 64 bits, or overflow when the padding is added. */
static void test_refuses_length_overflowing_size(void **state)
{
	(void)state;
	expect_refused("bytes",
		       W_20 "0000000000000000000000000000000000000000000000010000000000000004" DAVE,
		       "length past the end", W_20 W_4 DAVE);
	expect_refused("bytes",
		       W_20 "000000000000000000000000000000000000000000000000ffffffffffffffff" DAVE,
		       "length past the end", W_20 W_4 DAVE);
	expect_refused("bytes", W_20 W_FF DAVE, "length past the end", W_20 W_4 DAVE);
}

static void test_refuses_count_past_end(void **state)
{
	(void)state;
	expect_refused("uint256[]", W_20 W_3 W_1 W_2, "count of items past the end",
		       W_20 W_2 W_1 W_2);
	expect_refused("string[]", W_20 W_2 W_40, "count of items past the end", W_20 W_1 W_20 W_0);
}

/* Counts whose 32 bytes an item would wrap size_t, or that pass as their low 64 bits. */
static void test_refuses_count_overflowing_size(void **state)
{
	(void)state;
	/* 2^59: times 32 is 2^64, 0 in 64 bits */
	expect_refused("uint256[]",
		       W_20 "0000000000000000000000000000000000000000000000000800000000000000",
		       "count of items past the end", W_20 W_0);
	expect_refused("uint256[]",
		       W_20 "0000000000000000000000000000000000000000000000010000000000000001" W_7,
		       "count of items past the end", W_20 W_1 W_7);
	expect_refused("string[]", W_20 W_FF, "count of items past the end", W_20 W_0);
}

static void test_refuses_nonzero_padding(void **state)
{
	(void)state;
	expect_refused("bytes",
		       W_20 W_4 "6461766500000000000000000000000000000000000000000000000000000001",
		       "padding after 4 bytes not zero", W_20 W_4 DAVE);
	expect_refused("string",
		       W_20 W_4 "6461766580000000000000000000000000000000000000000000000000000000",
		       "padding after 4 bytes not zero", W_20 W_4 DAVE);
	expect_refused("bytes",
		       W_20 "000000000000000000000000000000000000000000000000000000000000001f" W_FF,
		       "padding after 31 bytes not zero", W_20 W_20 W_FF);
	expect_refused("string[]",
		       W_20 W_1 W_20 W_4
		       "64617665000000000000000000000000000000000000000000000000000000ff",
		       "item 0: padding", W_20 W_1 W_20 W_4 DAVE);
}

static void test_refuses_bool_not_0_or_1(void **state)
{
	(void)state;
	expect_refused("bool", W_2, "a bool other than 0 or 1", W_1);
	expect_refused("bool", "0000000000000000000000000000000000000000000000000000000000000101",
		       "a bool other than 0 or 1", W_1);
	expect_refused("bool", "0100000000000000000000000000000000000000000000000000000000000000",
		       "a bool other than 0 or 1", W_0);
	expect_refused("bool", W_FF, "a bool", W_0);
	expect_refused("bool[]", W_20 W_2 W_1 W_2, "item 1: a bool", W_20 W_2 W_1 W_0);
}

static void test_refuses_address_upper_bytes(void **state)
{
	(void)state;
	expect_refused("address", "000000000000000000000001" ADDR_A1,
		       "an address with its upper 12 bytes not zero",
		       "000000000000000000000000" ADDR_A1);
	expect_refused("address", "010000000000000000000000" ADDR_A1, "upper 12 bytes",
		       "000000000000000000000000" ADDR_A1);
	expect_refused("address[]", W_20 W_1 "ff0000000000000000000000" ADDR_A2,
		       "item 0: an address", W_20 W_1 "000000000000000000000000" ADDR_A2);
}

static void test_refuses_uint_above_width(void **state)
{
	(void)state;
	expect_refused("uint8", "0000000000000000000000000000000000000000000000000000000000000100",
		       "bits set above the type's width",
		       "00000000000000000000000000000000000000000000000000000000000000ff");
	expect_refused("uint32", "0000000000000000000000000000000000000000000000000000000100000000",
		       "above the type's width",
		       "00000000000000000000000000000000000000000000000000000000ffffffff");
	expect_refused("uint248", W_FF, "above the type's width",
		       "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	expect_refused("uint8[]",
		       W_20 W_2 W_1
		       "0000000000000000000000000000000000000000000000000000000000000100",
		       "item 1: bits set", W_20 W_2 W_1 W_2);
	/* uint256 has no bits above: every word is one */
	assert_int_equal(decode_hex("uint256", W_FF, (char[64]){ 0 }, 64), 0);
}

static void test_refuses_int_not_sign_extended(void **state)
{
	(void)state;
	/* 128 is not an int8; nor is a negative word whose low byte is positive */
	expect_refused("int8", "0000000000000000000000000000000000000000000000000000000000000080",
		       "not sign-extended",
		       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80");
	expect_refused("int8", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		       "not sign-extended",
		       "000000000000000000000000000000000000000000000000000000000000007f");
	expect_refused("int64", "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		       "not sign-extended", W_FF);
	expect_refused("int16[]",
		       W_20 W_1 "00000000000000000000000000000000000000000000000000000000ffff8000",
		       "item 0: not sign-extended",
		       W_20 W_1 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff8000");
	assert_int_equal(
		decode_hex("int256",
			   "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			   (char[64]){ 0 }, 64),
		0);
}

static void test_refuses_fixed_bytes_trailing(void **state)
{
	(void)state;
	expect_refused("bytes4", "deadbeef01000000000000000000000000000000000000000000000000000000",
		       "bytes set after the type's width",
		       "deadbeef00000000000000000000000000000000000000000000000000000000");
	expect_refused("bytes1", W_1, "bytes set after", W_0);
	expect_refused("bytes31", W_FF, "bytes set after",
		       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00");
	expect_refused("bytes1[]",
		       W_20 W_1 "01ff000000000000000000000000000000000000000000000000000000000000",
		       "item 0: bytes set after",
		       W_20 W_1 "0100000000000000000000000000000000000000000000000000000000000000");
	assert_int_equal(decode_hex("bytes32", W_FF, (char[64]){ 0 }, 64), 0);
}

/* Not the data's fault: a bad type list, too little room, no data. */
static void test_decode_refuses_bad_calls(void **state)
{
	struct abi_value out[2];
	uint8_t data[64] = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(abi_decode("uint", data, sizeof(data), out, 2, err, sizeof(err)), -EINVAL);
	assert_int_equal(abi_decode("bool,bool", data, sizeof(data), out, 1, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(abi_decode("bool", data, sizeof(data), NULL, 1, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(abi_decode("bool", NULL, 32, out, 1, err, sizeof(err)), -EINVAL);
	/* nothing to decode, and room to spare: fine; words after the head are not refused */
	assert_int_equal(abi_decode("", NULL, 0, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(abi_decode("", data, sizeof(data), out, 2, err, sizeof(err)), 0);
	assert_int_equal(abi_decode("bool", data, sizeof(data), out, 2, err, sizeof(err)), 0);
}

/*
 * Solidity places tails in order after the head; the specification does
 * not require it. Tails out of order, a gap, two offsets to one tail and
 * an offset into the head all decode; encoding again gives the usual
 * layout, which decodes to the same values.
 */
static void test_accepts_other_tail_layouts(void **state)
{
	static const char layout[] =
		/* head: string at 0xa0, uint256[] at 0x40 */
		"00000000000000000000000000000000000000000000000000000000000000a0" W_40
			/* the array first: [7] */
			W_1 W_7
		/* a gap no value uses */
		"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
		/* the string "abc" */
		W_3 "6162630000000000000000000000000000000000000000000000000000000000";
	static const char canonical[] =
		W_40 "0000000000000000000000000000000000000000000000000000000000000080" W_3
		     "6162630000000000000000000000000000000000000000000000000000000000" W_1 W_7;
	struct abi_value seven[] = { uint_v(7) };
	struct abi_value v[] = { str_v("abc"), array_v(seven, 1) };
	struct abi_value out[2];
	char err[256];

	(void)state;
	assert_int_equal(decode_hex("string,uint256[]", layout, err, sizeof(err)), 0);
	expect_encoding("string,uint256[]", v, 2, canonical);
	expect_round_trip("string,uint256[]", v, 2, canonical);
	{
		size_t n;
		uint8_t *data = from_hex(layout, &n);
		struct rlp_buf b = { 0 };

		assert_int_equal(abi_decode("string,uint256[]", data, n, out, 2, err, sizeof(err)),
				 0);
		expect_same(&(struct abi_type){ ABI_STRING, 0, false }, &out[0], &v[0]);
		expect_same(&(struct abi_type){ ABI_UINT, 32, true }, &out[1], &v[1]);
		assert_int_equal(abi_encode("string,uint256[]", out, 2, &b, err, sizeof(err)), 0);
		assert_int_equal(rlp_buf_done(&b), 0);
		free(data);
		data = from_hex(canonical, &n);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.p, data, n);
		rlp_buf_free(&b);
		free(data);
	}
	/* two strings sharing one tail; items of a string[] sharing one too */
	assert_int_equal(
		decode_hex("string,string",
			   W_40 W_40 W_3
			   "6162630000000000000000000000000000000000000000000000000000000000",
			   err, sizeof(err)),
		0);
	assert_int_equal(decode_hex("string[]", W_20 W_2 W_40 W_40 W_0, err, sizeof(err)), 0);
	/* bytes at offset 0: its length word is the head word itself, 0 */
	assert_int_equal(decode_hex("bytes", W_0, err, sizeof(err)), 0);
}

/* Every proper prefix of every valid encoding above is refused. */
static void test_refuses_every_truncation(void **state)
{
	static const struct {
		const char *types, *hex;
	} vec[] = {
		{ "uint32,bool", baz_hex },
		{ "bytes,bool,uint256[]", sam_hex },
		{ "uint256,uint32[],bytes10,bytes", f_hex },
		{ "string[]", strings_hex },
		{ "address[]", addresses_hex },
		{ "int8,int8,int64,int256,int256,uint256", ints_hex },
		{ "bytes", bytes31_hex },
		{ "bytes", bytes32_hex },
		{ "bytes", bytes33_hex },
		{ "uint256[],string[],bytes,string,address[]", empty_hex },
		{ "uint8,int64,bytes4,address,bool,bytes32,string,bytes1[],int16[],bytes[]",
		  mixed_hex },
	};
	struct abi_value out[ABI_MAX_ARGS];
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vec); i++) {
		size_t n;
		uint8_t *data = from_hex(vec[i].hex, &n);

		assert_int_equal(
			abi_decode(vec[i].types, data, n, out, ARRAY_SIZE(out), err, sizeof(err)),
			0);
		for (size_t k = 0; k < n; k++) {
			uint8_t *t = malloc(k ? k : 1);

			assert_non_null(t);
			memcpy(t, data, k);
			if (abi_decode(vec[i].types, t, k, out, ARRAY_SIZE(out), err,
				       sizeof(err)) != -EBADMSG)
				fail_msg("%s cut to %zu bytes was taken", vec[i].types, k);
			free(t);
		}
		free(data);
	}
}

static void test_array_item(void **state)
{
	static const char body_hex[] = W_20 W_21 W_FF "ff"; /* 97 bytes: not whole words */
	struct abi_value items[] = { uint_v(5), uint_v(6) }, it;
	struct abi_value arr = { .type = { ABI_UINT, 32, true }, .items = items, .count = 2 };
	struct abi_value scalar = { .type = { ABI_UINT, 32, false } };
	uint8_t words[2][ABI_WORD] = { { 0 } };
	uint8_t *body;
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(abi_array_item(&arr, 1, &it, err, sizeof(err)), 0);
	assert_int_equal(it.type.kind, ABI_UINT); /* the item's type is filled in */
	assert_int_equal(it.type.size, 32);
	assert_false(it.type.array);
	assert_int_equal(it.word[ABI_WORD - 1], 6);
	assert_int_equal(abi_array_item(&arr, 2, &it, err, sizeof(err)), -EINVAL);
	assert_int_equal(abi_array_item(&scalar, 0, &it, err, sizeof(err)), -EINVAL);
	/* an untagged array is not one to read: only the list knows */
	arr.type = (struct abi_type){ 0 };
	assert_int_equal(abi_array_item(&arr, 0, &it, err, sizeof(err)), -EINVAL);

	/* a caller's body: shorter than its count, or with a word its type cannot hold */
	arr = (struct abi_value){
		.type = { ABI_UINT, 1, true }, .p = words[0], .n = 32, .count = 2
	};
	assert_int_equal(abi_array_item(&arr, 0, &it, err, sizeof(err)), -EINVAL);
	arr.n = sizeof(words);
	words[1][30] = 1;
	assert_int_equal(abi_array_item(&arr, 0, &it, err, sizeof(err)), 0);
	assert_int_equal(abi_array_item(&arr, 1, &it, err, sizeof(err)), -EBADMSG);
	arr.p = NULL;
	assert_int_equal(abi_array_item(&arr, 0, &it, err, sizeof(err)), -EINVAL);
	/* a type no list gives: no width to read the word by */
	arr.p = words[0];
	arr.type = (struct abi_type){ ABI_INT, 0, true };
	assert_int_equal(abi_array_item(&arr, 0, &it, err, sizeof(err)), -EBADMSG);
	arr.type = (struct abi_type){ ABI_FIXED_BYTES, 33, true };
	assert_int_equal(abi_array_item(&arr, 0, &it, err, sizeof(err)), -EBADMSG);
	arr.type = (struct abi_type){ 99, 0, true };
	assert_int_equal(abi_array_item(&arr, 0, &it, err, sizeof(err)), -EBADMSG);

	/* a string whose padding would run past a body that is not whole words */
	body = from_hex(body_hex, &n);
	arr = (struct abi_value){ .type = { ABI_STRING, 0, true }, .p = body, .n = n, .count = 1 };
	assert_int_equal(abi_array_item(&arr, 0, &it, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "padding past the end"));
	arr.n = n - 1; /* the 33 bytes of the string no longer fit */
	assert_int_equal(abi_array_item(&arr, 0, &it, err, sizeof(err)), -EBADMSG);
	free(body);
}

/* out (holding "keep") is as it was after a refused encoding. */
static void expect_encode_refused(const char *types, const struct abi_value *vals, size_t n,
				  int code, const char *why)
{
	struct rlp_buf b = { 0 };
	char err[256] = "";

	rlp_put_bytes(&b, "keep", 4);
	assert_int_equal(abi_encode(types, vals, n, &b, err, sizeof(err)), code);
	if (!strstr(err, why))
		fail_msg("%s: \"%s\" does not say \"%s\"", types, err, why);
	assert_false(b.failed);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.p, "\x84keep", 5);
	rlp_buf_free(&b);
}

static void test_encode_refuses_bad_values(void **state)
{
	struct abi_value big = uint_v(0x100), two = uint_v(2), v128 = uint_v(128);
	struct abi_value addr = addr_v(ADDR_A1), b4 = left_v("\xde\xad\xbe\xef\x01", 5);
	struct abi_value tagged = uint_v(1), nobytes = { .n = 3 };
	struct abi_value items[] = { uint_v(1), big };
	struct abi_value strs[] = { str_v("a"), uint_v(1) };
	struct abi_value pair[] = { str_v("a"), uint_v(1) };
	struct abi_value arr = array_v(items, 2), sarr = array_v(strs, 2);
	uint8_t words[2][ABI_WORD] = { { 0 } };
	struct abi_value body = { .p = words[0], .n = sizeof(words), .count = 2 };
	struct abi_value short_body = { .p = words[0], .n = sizeof(words), .count = 3 };
	struct abi_value huge = { .p = words[0], .n = sizeof(words), .count = SIZE_MAX / 16 };

	(void)state;
	addr.word[11] = 1;
	strs[1].type = (struct abi_type){ ABI_UINT, 32, false };
	expect_encode_refused("uint256,bool", pair, 1, -EINVAL, "1 values for 2 types");
	expect_encode_refused("uint256", pair, 2, -EINVAL, "2 values for 1 types");
	expect_encode_refused("uint8", &big, 1, -EINVAL, "bits set above");
	expect_encode_refused("bool", &two, 1, -EINVAL, "a bool other than 0 or 1");
	expect_encode_refused("address", &addr, 1, -EINVAL, "upper 12 bytes");
	expect_encode_refused("int8", &v128, 1, -EINVAL, "not sign-extended");
	expect_encode_refused("bytes4", &b4, 1, -EINVAL, "bytes set after");
	expect_encode_refused("bytes", &nobytes, 1, -EINVAL, "no bytes for a length of 3");
	/* after a good value, so that its tail is written and must be taken back */
	expect_encode_refused("string,uint8[]", (struct abi_value[]){ str_v("a"), arr }, 2, -EINVAL,
			      "argument 2 (uint8[]): item 1: bits set above");
	expect_encode_refused("string[]", &sarr, 1, -EINVAL, "item 1: a value tagged uint256");
	tagged.type = (struct abi_type){ ABI_UINT, 32, false };
	expect_encode_refused("bool", &tagged, 1, -EINVAL, "a value tagged uint256");
	tagged.type.array = true;
	expect_encode_refused("uint256", &tagged, 1, -EINVAL, "a value tagged uint256[]");
	/* a body its type cannot hold does not decode; one shorter than its count is the caller's */
	words[1][30] = 1;
	expect_encode_refused("uint8[]", &body, 1, -EBADMSG, "item 1: bits set above");
	expect_encode_refused("uint256[]", &short_body, 1, -EINVAL, "shorter than its count");
	expect_encode_refused("uint256[]", &huge, 1, -EINVAL, "a count of");
	expect_encode_refused("uint", &big, 1, -EINVAL, "uint256");

	/* tags that agree are taken */
	tagged.type.array = false;
	tagged.type.kind = ABI_BOOL;
	tagged.type.size = 0;
	expect_encoding("bool", &tagged, 1, W_1);
}

static void test_encode_call_refusals_leave_out_alone(void **state)
{
	struct abi_value two = uint_v(2);
	struct rlp_buf b = { 0 };
	char err[256];

	(void)state;
	rlp_put_bytes(&b, "keep", 4);
	assert_int_equal(abi_encode_call("f(bool)", &two, 1, &b, err, sizeof(err)), -EINVAL);
	assert_int_equal(b.len, 5);
	assert_int_equal(abi_encode_call("f(bool", &two, 1, &b, err, sizeof(err)), -EINVAL);
	assert_int_equal(b.len, 5);
	assert_int_equal(abi_encode_call("f(uint)", &two, 1, &b, err, sizeof(err)), -EINVAL);
	assert_int_equal(b.len, 5);
	/* what it appends has its offsets counted from after the selector */
	assert_int_equal(abi_encode_call("f()", NULL, 0, &b, err, sizeof(err)), 0);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.p + 5, "\x26\x12\x1f\xf0", 4);
	assert_int_equal(abi_encode("", NULL, 0, &b, err, sizeof(err)), 0);
	assert_int_equal(b.len, 9);
	rlp_buf_free(&b);
}

static void test_encoder_out_of_memory(void **state)
{
	static const uint8_t some[8];
	struct abi_value huge = bytes_v(some, SIZE_MAX / 2);
	struct abi_value one = uint_v(1);
	struct rlp_buf b = { 0 };
	char err[256];

	(void)state;
	/* a length no buffer can hold: refused before any copy, and sticky */
	assert_int_equal(abi_encode("bool,bytes", (struct abi_value[]){ one, huge }, 2, &b, err,
				    sizeof(err)),
			 -ENOMEM);
	assert_true(b.failed);
	assert_int_equal(abi_encode("bool", &one, 1, &b, err, sizeof(err)), -ENOMEM);
	assert_int_equal(abi_encode_call("f(bool)", &one, 1, &b, err, sizeof(err)), -ENOMEM);
	assert_int_equal(rlp_buf_done(&b), -ENOMEM);
	assert_null(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selectors_and_topics),
		cmocka_unit_test(test_refuses_bad_signatures),
		cmocka_unit_test(test_spec_baz),
		cmocka_unit_test(test_spec_sam),
		cmocka_unit_test(test_spec_f),
		cmocka_unit_test(test_string_array),
		cmocka_unit_test(test_ethers_vectors),
		cmocka_unit_test(test_word_helpers),
		cmocka_unit_test(test_parses_type_lists),
		cmocka_unit_test(test_refuses_bad_type_lists),
		cmocka_unit_test(test_refuses_partial_words),
		cmocka_unit_test(test_refuses_data_shorter_than_head),
		cmocka_unit_test(test_refuses_offset_not_multiple_of_32),
		cmocka_unit_test(test_refuses_offset_past_end),
		cmocka_unit_test(test_refuses_offset_overflowing_size),
		cmocka_unit_test(test_refuses_length_past_end),
		cmocka_unit_test(test_refuses_length_overflowing_size),
		cmocka_unit_test(test_refuses_count_past_end),
		cmocka_unit_test(test_refuses_count_overflowing_size),
		cmocka_unit_test(test_refuses_nonzero_padding),
		cmocka_unit_test(test_refuses_bool_not_0_or_1),
		cmocka_unit_test(test_refuses_address_upper_bytes),
		cmocka_unit_test(test_refuses_uint_above_width),
		cmocka_unit_test(test_refuses_int_not_sign_extended),
		cmocka_unit_test(test_refuses_fixed_bytes_trailing),
		cmocka_unit_test(test_decode_refuses_bad_calls),
		cmocka_unit_test(test_accepts_other_tail_layouts),
		cmocka_unit_test(test_refuses_every_truncation),
		cmocka_unit_test(test_array_item),
		cmocka_unit_test(test_encode_refuses_bad_values),
		cmocka_unit_test(test_encode_call_refusals_leave_out_alone),
		cmocka_unit_test(test_encoder_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
