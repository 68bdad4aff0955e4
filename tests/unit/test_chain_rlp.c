/* SPDX-License-Identifier: Apache-2.0 */
/* chain/rlp.c: Recursive Length Prefix encoding and its strict decoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "lib/lib.h"

static const char lorem[] = "Lorem ipsum dolor sit amet, consectetur adipisicing elit"; /* 56 */

/* Checks that b holds the bytes of prefix (hex) then tail, and frees b. */
static void expect_enc(struct rlp_buf *b, const char *prefix, const void *tail, size_t tail_len)
{
	uint8_t want[2048];
	size_t n;

	assert_int_equal(hex_decode(prefix, want, sizeof(want), &n), 0);
	assert_true(n + tail_len <= sizeof(want));
	if (tail_len)
		memcpy(want + n, tail, tail_len);
	assert_int_equal(rlp_buf_done(b), 0);
	assert_int_equal(b->len, n + tail_len);
	assert_memory_equal(b->p, want, b->len);
	rlp_buf_free(b);
}

static void expect_hex(struct rlp_buf *b, const char *hex)
{
	expect_enc(b, hex, NULL, 0);
}

static void put_str(struct rlp_buf *b, const char *s)
{
	rlp_put_bytes(b, s, strlen(s));
}

/*
 * The examples of ethereum.org, "Recursive-Length Prefix (RLP)
 * serialization" (§ Examples), each checked against @ethereumjs/rlp 5.
 */
static void test_encodes_spec_examples(void **state)
{
	struct rlp_buf b = { 0 };
	size_t m, m1, m2;

	(void)state;
	put_str(&b, "dog");
	expect_hex(&b, "83646f67");

	m = rlp_list_begin(&b);
	put_str(&b, "cat");
	put_str(&b, "dog");
	rlp_list_end(&b, m);
	expect_hex(&b, "c88363617483646f67");

	put_str(&b, "");
	expect_hex(&b, "80");

	m = rlp_list_begin(&b);
	rlp_list_end(&b, m);
	expect_hex(&b, "c0");

	rlp_put_uint(&b, 0);
	expect_hex(&b, "80");

	rlp_put_bytes(&b, "\x00", 1);
	expect_hex(&b, "00");

	rlp_put_bytes(&b, "\x0f", 1);
	expect_hex(&b, "0f");

	rlp_put_bytes(&b, "\x04\x00", 2);
	expect_hex(&b, "820400");

	rlp_put_uint(&b, 15);
	expect_hex(&b, "0f");

	rlp_put_uint(&b, 1024);
	expect_hex(&b, "820400");

	/* the set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ] */
	m = rlp_list_begin(&b);
	rlp_list_end(&b, rlp_list_begin(&b));
	m1 = rlp_list_begin(&b);
	rlp_list_end(&b, rlp_list_begin(&b));
	rlp_list_end(&b, m1);
	m1 = rlp_list_begin(&b);
	rlp_list_end(&b, rlp_list_begin(&b));
	m2 = rlp_list_begin(&b);
	rlp_list_end(&b, rlp_list_begin(&b));
	rlp_list_end(&b, m2);
	rlp_list_end(&b, m1);
	rlp_list_end(&b, m);
	expect_hex(&b, "c7c0c1c0c3c0c1c0");

	put_str(&b, lorem);
	expect_enc(&b, "b838", lorem, 56);
}

/* Boundaries of the short and long forms; expected bytes from @ethereumjs/rlp 5.1. */
static void test_encodes_length_boundaries(void **state)
{
	struct rlp_buf b = { 0 };
	uint8_t big[1024], zero32[32] = { 0 };
	size_t m, m1;

	(void)state;
	rlp_put_bytes(&b, lorem, 55);
	expect_enc(&b, "b7", lorem, 55);
	rlp_put_bytes(&b, lorem, 56);
	expect_enc(&b, "b838", lorem, 56);

	m = rlp_list_begin(&b); /* payload 55: b6 and 54 bytes */
	rlp_put_bytes(&b, lorem, 54);
	rlp_list_end(&b, m);
	expect_enc(&b, "f7b6", lorem, 54);
	m = rlp_list_begin(&b); /* payload 56: b7 and 55 bytes */
	rlp_put_bytes(&b, lorem, 55);
	rlp_list_end(&b, m);
	expect_enc(&b, "f838b7", lorem, 55);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	rlp_put_bytes(&b, big, sizeof(big));
	expect_enc(&b, "b90400", big, sizeof(big));
	m = rlp_list_begin(&b);
	rlp_put_bytes(&b, big, sizeof(big));
	rlp_list_end(&b, m);
	expect_enc(&b, "f90403b90400", big, sizeof(big));

	/* [[lorem], "dog", [[]]]: long lists nested, the outer one's prefix grows too */
	m = rlp_list_begin(&b);
	m1 = rlp_list_begin(&b);
	put_str(&b, lorem);
	rlp_list_end(&b, m1);
	put_str(&b, "dog");
	m1 = rlp_list_begin(&b);
	rlp_list_end(&b, rlp_list_begin(&b));
	rlp_list_end(&b, m1);
	rlp_list_end(&b, m);
	assert_int_equal(rlp_buf_done(&b), 0);
	assert_int_equal(b.len, 68);
	assert_memory_equal(b.p, "\xf8\x42\xf8\x3a\xb8\x38", 6);
	assert_memory_equal(b.p + 6, lorem, 56);
	assert_memory_equal(b.p + 62,
			    "\x83"
			    "dog"
			    "\xc1\xc0",
			    6);
	rlp_buf_free(&b);

	rlp_put_uint(&b, 0x80);
	expect_hex(&b, "8180");
	rlp_put_uint(&b, 0xffffff);
	expect_hex(&b, "83ffffff");
	rlp_put_uint(&b, 0x0100000000);
	expect_hex(&b, "850100000000");
	rlp_put_uint(&b, UINT64_MAX);
	expect_hex(&b, "88ffffffffffffffff");

	rlp_put_uint_be(&b, zero32, sizeof(zero32));
	expect_hex(&b, "80");
	zero32[30] = 0x04;
	rlp_put_uint_be(&b, zero32, sizeof(zero32));
	expect_hex(&b, "820400");
	zero32[30] = 0;
	zero32[31] = 0x7f;
	rlp_put_uint_be(&b, zero32, sizeof(zero32));
	expect_hex(&b, "7f");
}

static void test_encoder_failure_is_sticky(void **state)
{
	struct rlp_buf b = { 0 };
	char c = 'x';
	size_t len;

	(void)state;
	put_str(&b, "dog");
	/* a length no buffer can hold: reserve refuses before any copy */
	rlp_put_bytes(&b, &c, SIZE_MAX - 4);
	assert_true(b.failed);
	len = b.len;
	put_str(&b, "cat");
	rlp_put_uint(&b, 1024);
	rlp_list_end(&b, rlp_list_begin(&b));
	assert_int_equal(b.len, len);
	assert_int_equal(rlp_buf_done(&b), -ENOMEM);
	assert_null(b.p);
	assert_int_equal(b.len, 0);

	/* a mark past the end is a caller's error, reported the same way */
	put_str(&b, "dog");
	rlp_list_end(&b, 10);
	assert_int_equal(rlp_buf_done(&b), -ENOMEM);
	assert_null(b.p);
}

/* Every encoding above, as hex; long payloads are added by vector(). */
static const char *const valid_hex[] = {
	"83646f67",	"c88363617483646f67",
	"80",		"c0",
	"00",		"0f",
	"820400",	"c7c0c1c0c3c0c1c0",
	"8180",		"83ffffff",
	"850100000000", "88ffffffffffffffff",
	"7f",		"c1c0",
	"c2c180",
};

/* The valid vector i: the hex table, then the long ones built from lorem and a 1024-byte run. */
static size_t vector(size_t i, uint8_t *out, size_t cap)
{
	static const struct {
		const char *prefix;
		size_t tail;
	} longer[] = {
		{ "b838", 56 },		{ "b7", 55 },	    { "f7b6", 54 },
		{ "f838b7", 55 },	{ "b90400", 1024 }, { "f90403b90400", 1024 },
		{ "f842f83ab838", 56 },
	};
	size_t n;

	if (i < ARRAY_SIZE(valid_hex)) {
		assert_int_equal(hex_decode(valid_hex[i], out, cap, &n), 0);
		return n;
	}
	i -= ARRAY_SIZE(valid_hex);
	if (i >= ARRAY_SIZE(longer))
		return 0;
	assert_int_equal(hex_decode(longer[i].prefix, out, cap, &n), 0);
	for (size_t k = 0; k < longer[i].tail; k++)
		out[n + k] = longer[i].tail == 1024 ? (uint8_t)k : (uint8_t)lorem[k];
	n += longer[i].tail;
	if (i == 6) { /* [[lorem], "dog", [[]]] */
		memcpy(out + n,
		       "\x83"
		       "dog"
		       "\xc1\xc0",
		       6);
		n += 6;
	}
	return n;
}

/* Test inputs are known and shallow: recursion is fine here. */
static void reencode(struct rlp_buf *b, const struct rlp_item *it)
{
	struct rlp_item cur = *it, sub;
	char err[128];
	size_t m;
	int r;

	if (!it->list) {
		rlp_put_bytes(b, it->p, it->len);
		return;
	}
	m = rlp_list_begin(b);
	while ((r = rlp_list_next(&cur, &sub, err, sizeof(err))) == 1)
		reencode(b, &sub);
	assert_int_equal(r, 0);
	rlp_list_end(b, m);
}

static void test_decodes_and_reencodes_every_vector(void **state)
{
	uint8_t in[2048];
	size_t n;

	(void)state;
	for (size_t i = 0; (n = vector(i, in, sizeof(in))) != 0; i++) {
		struct rlp_buf b = { 0 };
		struct rlp_item it;
		char err[128] = "";
		size_t used;

		assert_int_equal(rlp_decode(in, n, &it, &used, err, sizeof(err)), 0);
		assert_int_equal(used, n);
		assert_int_equal(rlp_decode_all(in, n, &it, err, sizeof(err)), 0);
		reencode(&b, &it);
		assert_int_equal(rlp_buf_done(&b), 0);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.p, in, n);
		rlp_buf_free(&b);
	}
}

static void test_decodes_items_and_integers(void **state)
{
	static const uint8_t catdog[] = { 0xc8, 0x83, 'c', 'a', 't', 0x83, 'd', 'o', 'g' };
	static const struct {
		const char *hex;
		uint64_t v;
	} ints[] = {
		{ "80", 0 },
		{ "0f", 15 },
		{ "820400", 1024 },
		{ "8180", 0x80 },
		{ "83ffffff", 0xffffff },
		{ "88ffffffffffffffff", UINT64_MAX },
	};
	struct rlp_item list, it;
	char err[128];
	uint8_t in[16];
	uint64_t v;
	size_t n;

	(void)state;
	assert_int_equal(rlp_decode_all(catdog, sizeof(catdog), &list, err, sizeof(err)), 0);
	assert_true(list.list);
	assert_int_equal(list.len, 8);
	assert_int_equal(rlp_list_next(&list, &it, err, sizeof(err)), 1);
	assert_false(it.list);
	assert_int_equal(it.len, 3);
	assert_memory_equal(it.p, "cat", 3);
	assert_int_equal(rlp_list_next(&list, &it, err, sizeof(err)), 1);
	assert_memory_equal(it.p, "dog", 3);
	assert_int_equal(rlp_list_next(&list, &it, err, sizeof(err)), 0);
	assert_int_equal(rlp_list_next(&list, &it, err, sizeof(err)), 0);
	assert_int_equal(list.len, 0);

	for (size_t i = 0; i < ARRAY_SIZE(ints); i++) {
		assert_int_equal(hex_decode(ints[i].hex, in, sizeof(in), &n), 0);
		assert_int_equal(rlp_decode_all(in, n, &it, err, sizeof(err)), 0);
		assert_int_equal(rlp_item_uint(&it, &v, err, sizeof(err)), 0);
		assert_int_equal(v, ints[i].v);
	}
}

static int decode_hex(const char *hex, bool all, char *err, size_t errlen)
{
	uint8_t buf[256];
	struct rlp_item it;
	size_t n, used;
	uint8_t *in;
	int r;

	assert_int_equal(hex_decode(hex, buf, sizeof(buf), &n), 0);
	in = malloc(n ? n : 1); /* exactly n bytes, so ASan sees any read past them */
	assert_non_null(in);
	memcpy(in, buf, n);
	r = all ? rlp_decode_all(in, n, &it, err, errlen)
		: rlp_decode(in, n, &it, &used, err, errlen);
	free(in);
	return r;
}

static void test_refuses_non_canonical_forms(void **state)
{
	/* b8 37 and f8 37: the long form for 55 bytes, the short form's last length */
	char l55[2 * 57 + 1], f55[2 * 57 + 1], z56[2 * 59 + 1], zl56[2 * 59 + 1];
	const char *bad[] = {
		/* empty input */
		"",
		/* a byte below 0x80 wrapped in a prefix */
		"8105",
		"8100",
		"817f",
		/* the long form for 1 byte and for 55 */
		"b80161",
		"f801c0",
		l55,
		f55,
		/* a long-form length with a leading zero byte (a zero length too) */
		z56,
		zl56,
		"b800",
		"f800",
		/* 2^64-1 bytes declared, none there; as large with one byte; a list */
		"bfffffffffffffffff",
		"bf7fffffffffffffff00",
		"ffffffffffffffffff",
		/* a length past the end */
		"b9ffff00",
		/* the length's own bytes cut */
		"bfff",
		"b9",
		"b904",
		/* a payload cut */
		"83646f",
		"c9836361748364",
	};
	char err[128];

	(void)state;
	memset(l55, '6', sizeof(l55) - 1);
	memcpy(l55, "b837", 4);
	l55[sizeof(l55) - 1] = '\0';
	memcpy(f55, l55, sizeof(l55));
	memcpy(f55, "f837", 4);
	memset(z56, '6', sizeof(z56) - 1);
	memcpy(z56, "b90038", 6);
	z56[sizeof(z56) - 1] = '\0';
	memcpy(zl56, z56, sizeof(z56));
	memcpy(zl56, "f90038", 6);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(decode_hex(bad[i], false, err, sizeof(err)), -EBADMSG);
		assert_true(err[0] != '\0');
		assert_null(strchr(err, '\n'));
		assert_int_equal(decode_hex(bad[i], true, err, sizeof(err)), -EBADMSG);
	}
	/* the same payloads in the right form are taken */
	memcpy(l55 + 2, "b7", 2);
	assert_int_equal(decode_hex(l55 + 2, true, err, sizeof(err)), 0);
	memcpy(z56 + 2, "b838", 4);
	assert_int_equal(decode_hex(z56 + 2, true, err, sizeof(err)), 0);
}

static void test_decode_all_refuses_trailing_bytes(void **state)
{
	char err[128];

	(void)state;
	assert_int_equal(decode_hex("c0ff", false, err, sizeof(err)), 0);
	assert_int_equal(decode_hex("c0ff", true, err, sizeof(err)), -EBADMSG);
	assert_int_equal(decode_hex("8000", true, err, sizeof(err)), -EBADMSG);
	assert_int_equal(decode_hex("83646f6700", true, err, sizeof(err)), -EBADMSG);
}

/* Every proper prefix of a valid item is refused, each copied to a buffer of its own length. */
static void test_refuses_every_truncation(void **state)
{
	uint8_t in[2048];
	size_t n;

	(void)state;
	for (size_t i = 0; (n = vector(i, in, sizeof(in))) != 0; i++) {
		for (size_t k = 0; k < n; k++) {
			uint8_t *t = malloc(k ? k : 1);
			struct rlp_item it;
			char err[128];
			size_t used;

			assert_non_null(t);
			memcpy(t, in, k);
			assert_int_equal(rlp_decode(t, k, &it, &used, err, sizeof(err)), -EBADMSG);
			assert_int_equal(rlp_decode_all(t, k, &it, err, sizeof(err)), -EBADMSG);
			free(t);
		}
	}
}

static void test_list_items_stay_inside_their_list(void **state)
{
	/* c1 82 61 62: the list's payload is 82 alone; its item may not run past it */
	static const uint8_t overrun[] = { 0xc1, 0x82, 0x61, 0x62 };
	static const uint8_t wrapped[] = { 0xc3, 0x61, 0x81, 0x05 };
	struct rlp_item list, it, saved;
	char err[128];
	size_t used;

	(void)state;
	assert_int_equal(rlp_decode(overrun, sizeof(overrun), &list, &used, err, sizeof(err)), 0);
	assert_int_equal(used, 2);
	assert_int_equal(rlp_list_next(&list, &it, err, sizeof(err)), -EBADMSG);

	assert_int_equal(rlp_decode_all(wrapped, sizeof(wrapped), &list, err, sizeof(err)), 0);
	assert_int_equal(rlp_list_next(&list, &it, err, sizeof(err)), 1);
	saved = list;
	assert_int_equal(rlp_list_next(&list, &it, err, sizeof(err)), -EBADMSG);
	assert_ptr_equal(list.p, saved.p); /* the cursor does not move on a bad item */
	assert_int_equal(list.len, saved.len);

	/* a string is not a list to walk */
	assert_int_equal(rlp_decode_all((const uint8_t *)"\x83"
							 "dog",
					4, &it, err, sizeof(err)),
			 0);
	assert_int_equal(rlp_list_next(&it, &saved, err, sizeof(err)), -EBADMSG);
}

static void test_item_uint_refusals(void **state)
{
	static const char *const bad[] = {
		"c0",			/* a list */
		"c180",			/* a list */
		"820001",		/* a leading zero */
		"00",			/* 0 is the empty string, not 00 */
		"89010000000000000000", /* 9 bytes */
	};
	struct rlp_item it;
	char err[128];
	uint8_t in[16];
	uint64_t v = 7;
	size_t n;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(hex_decode(bad[i], in, sizeof(in), &n), 0);
		assert_int_equal(rlp_decode_all(in, n, &it, err, sizeof(err)), 0);
		err[0] = '\0';
		assert_int_equal(rlp_item_uint(&it, &v, err, sizeof(err)), -EBADMSG);
		assert_true(err[0] != '\0');
		assert_int_equal(v, 7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encodes_spec_examples),
		cmocka_unit_test(test_encodes_length_boundaries),
		cmocka_unit_test(test_encoder_failure_is_sticky),
		cmocka_unit_test(test_decodes_and_reencodes_every_vector),
		cmocka_unit_test(test_decodes_items_and_integers),
		cmocka_unit_test(test_refuses_non_canonical_forms),
		cmocka_unit_test(test_decode_all_refuses_trailing_bytes),
		cmocka_unit_test(test_refuses_every_truncation),
		cmocka_unit_test(test_list_items_stay_inside_their_list),
		cmocka_unit_test(test_item_uint_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
