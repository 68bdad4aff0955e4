/* SPDX-License-Identifier: Apache-2.0 */
/* lib/: hex, base64, bounded cursors and files, JSON input, RFC 3339 time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/lib.h"
#include "tests/unit/support/sim.h"

static void test_hex_round_trip_and_refusals(void **state)
{
	uint8_t in[] = { 0x00, 0x01, 0xab, 0xff }, out[8];
	char s[9];
	size_t n;

	(void)state;
	hex_encode(in, sizeof(in), s);
	assert_string_equal(s, "0001abff");
	assert_int_equal(hex_decode("0001ABff", out, sizeof(out), &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, in, 4);
	assert_int_equal(hex_decode("abc", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(hex_decode("zz", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(hex_decode("0x00", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(hex_decode("001122334455667788", out, sizeof(out), &n), -E2BIG);
	assert_int_equal(hex_decode_exact("0001", out, 4), -EINVAL);
	assert_int_equal(hex_decode_exact("", out, 0), 0);
}

/* RFC 4648 §10 test vectors. */
static void test_base64_rfc4648_vectors(void **state)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const std[] = { "",	       "Zg==",	   "Zm8=",    "Zm9v",
					   "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	static const char *const url[] = {
		"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"
	};

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		char *e;
		uint8_t *d;
		size_t n;

		assert_int_equal(base64_encode(plain[i], strlen(plain[i]), BASE64_STD, &e), 0);
		assert_string_equal(e, std[i]);
		free(e);
		assert_int_equal(base64_encode(plain[i], strlen(plain[i]), BASE64_URL, &e), 0);
		assert_string_equal(e, url[i]);
		free(e);
		assert_int_equal(base64_decode(std[i], strlen(std[i]), BASE64_STD, &d, &n), 0);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(d, plain[i], n);
		free(d);
		assert_int_equal(base64_decode(url[i], strlen(url[i]), BASE64_URL, &d, &n), 0);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(d, plain[i], n);
		free(d);
	}
}

static void test_base64_strict_decoding(void **state)
{
	static const struct {
		const char *in;
		enum base64_alphabet a;
	} bad[] = {
		{ "Zg=", BASE64_STD },	  /* short padding */
		{ "Zg", BASE64_STD },	  /* padding required */
		{ "Zg==", BASE64_URL },	  /* padding refused */
		{ "Zh==", BASE64_STD },	  /* non-canonical trailing bits */
		{ "Zm9=", BASE64_STD },	  /* non-canonical trailing bits */
		{ "Z", BASE64_URL },	  /* one character cannot be */
		{ "Zm9v\n", BASE64_STD }, /* whitespace */
		{ "-_8=", BASE64_STD },	  /* the other alphabet */
		{ "+/8", BASE64_URL },	  /* the other alphabet */
		{ "Z===", BASE64_STD },	  { "=Zg=", BASE64_STD },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *d = NULL;
		size_t n;

		assert_int_equal(base64_decode(bad[i].in, strlen(bad[i].in), bad[i].a, &d, &n),
				 -EINVAL);
		assert_null(d);
	}
}

static void test_span_getters_fail_on_short_input(void **state)
{
	uint8_t b[3] = { 1, 2, 3 };
	struct span s = span_make(b, sizeof(b));
	uint32_t v32;
	uint16_t v16;

	(void)state;
	assert_int_equal(span_u32le(&s, &v32), -EBADMSG);
	assert_int_equal(s.len, 3); /* nothing consumed */
	assert_int_equal(span_u16le(&s, &v16), 0);
	assert_int_equal(v16, 0x0201);
	assert_int_equal(span_skip(&s, 2), -EBADMSG);
	assert_int_equal(span_skip(&s, 1), 0);
	assert_int_equal(s.len, 0);
}

static void test_file_read_caps_input(void **state)
{
	char path[512];
	uint8_t buf[100] = { 0 }, *out;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/lib-file", sim_env("CVM_TEST_TMP"));
	sim_write(path, buf, sizeof(buf));
	assert_int_equal(file_read(path, 100, &out, &len), 0);
	assert_int_equal(len, 100);
	assert_int_equal(out[100], 0); /* NUL past the end */
	free(out);
	assert_int_equal(file_read(path, 99, &out, &len), -EFBIG);
	assert_int_equal(file_read("/nonexistent/x", 99, &out, &len), -ENOENT);
	assert_int_equal(file_read(sim_env("CVM_TEST_TMP"), 99, &out, &len), -EISDIR);
}

static int parse(const char *s)
{
	cJSON *v = NULL;
	int r = json_parse(s, strlen(s), &v);

	cJSON_Delete(v);
	return r;
}

static void test_json_parse_refusals(void **state)
{
	char deep[300];

	(void)state;
	assert_int_equal(parse("{\"a\": [1, 2, {\"b\": null}]} \n"), 0);
	assert_int_equal(parse("{\"a\": 1, \"a\": 2}"), -EBADMSG);
	assert_int_equal(parse("{\"x\": {\"a\": 1, \"b\": 2, \"a\": 3}}"), -EBADMSG);
	assert_int_equal(parse("{} {}"), -EBADMSG);
	assert_int_equal(parse("{\"a\": 1} x"), -EBADMSG);
	assert_int_equal(parse("{\"a\": \"\xc0\xaf\"}"), -EBADMSG);	/* overlong */
	assert_int_equal(parse("{\"a\": \"\xed\xa0\x80\"}"), -EBADMSG); /* surrogate */
	assert_int_equal(parse("{\"a\": \"\\ud800\"}"), -EBADMSG);	/* lone surrogate */
	assert_int_equal(parse(""), -EBADMSG);
	assert_int_equal(json_parse("{}\0{}", 5, &(cJSON *){ NULL }), -EBADMSG);
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = 0;
	assert_int_equal(parse(deep), -EBADMSG);
}

static void test_json_getters(void **state)
{
	const char *s = "{\"n\": 42, \"big\": 9007199254740993, \"neg\": -1, \"frac\": 1.5,"
			" \"hex\": \"0xFFFFFFFFFFFFFFFF\", \"long\": \"0x1FFFFFFFFFFFFFFFF\","
			" \"b\": true, \"h\": \"00ff\", \"str\": \"x\"}";
	cJSON *v;
	uint64_t u;
	bool b;
	uint8_t h[2];
	const char *str;

	(void)state;
	assert_int_equal(json_parse(s, strlen(s), &v), 0);
	assert_int_equal(json_get_u64(v, "n", &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(json_get_u64(v, "big", &u), -EINVAL);
	assert_int_equal(json_get_u64(v, "neg", &u), -EINVAL);
	assert_int_equal(json_get_u64(v, "frac", &u), -EINVAL);
	assert_int_equal(json_get_u64(v, "hex", &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(json_get_u64(v, "long", &u), -EINVAL);
	assert_int_equal(json_get_u64(v, "missing", &u), -ENOENT);
	assert_int_equal(json_get_bool(v, "b", &b), 0);
	assert_true(b);
	assert_int_equal(json_get_bool(v, "n", &b), -EINVAL);
	assert_int_equal(json_get_hex(v, "h", h, 2), 0);
	assert_int_equal(h[1], 0xff);
	assert_int_equal(json_get_hex(v, "h", h, 1), -EINVAL);
	assert_int_equal(json_get_string(v, "str", &str), 0);
	assert_string_equal(str, "x");
	assert_int_equal(json_get_string(v, "n", &str), -EINVAL);
	cJSON_Delete(v);
}

static void test_json_unknown_member(void **state)
{
	static const char *const abc[] = { "a", "b", "c" }, *const ab_null[] = { "a", "b", NULL };
	const char *s = "{\"a\": 1, \"b\": 2, \"c\": 3}";
	cJSON *v, *empty = cJSON_CreateObject();

	(void)state;
	assert_int_equal(json_parse(s, strlen(s), &v), 0);
	assert_null(json_unknown_member(v, abc, 3));
	/* the list's length, or a NULL entry, ends it: "c" is then unknown */
	assert_string_equal(json_unknown_member(v, abc, 2)->string, "c");
	assert_string_equal(json_unknown_member(v, ab_null, SIZE_MAX)->string, "c");
	/* the first unknown member, in document order */
	assert_string_equal(json_unknown_member(v, abc + 2, 1)->string, "a");
	assert_string_equal(json_unknown_member(v, abc, 0)->string, "a");
	assert_null(json_unknown_member(empty, abc, 0));
	cJSON_Delete(v);
	cJSON_Delete(empty);
}

static void test_rfc3339(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(rfc3339_parse("2023-06-18T08:42:58Z", &t), 0);
	assert_int_equal(t, 1687077778);
	assert_int_equal(rfc3339_parse("2023-06-18T10:42:58.123+02:00", &t), 0);
	assert_int_equal(t, 1687077778);
	assert_int_equal(rfc3339_parse("2023-06-18T08:42:58", &t), -EINVAL);
	assert_int_equal(rfc3339_parse("2023-02-31T00:00:00Z", &t), -EINVAL);
	assert_int_equal(rfc3339_parse("2023-13-01T00:00:00Z", &t), -EINVAL);
	assert_int_equal(rfc3339_parse("yesterday", &t), -EINVAL);
	assert_int_equal(rfc3339_parse("2023-06-18T08:42:58Zjunk", &t), -EINVAL);
}

static void test_secret_memory(void **state)
{
	uint8_t *p = secret_alloc(64);

	(void)state;
	assert_non_null(p);
	assert_true(is_zero(p, 64));
	memset(p, 0xaa, 64);
	secret_free(p, 64);
	secret_free(NULL, 0);
}

static void test_buf_append_caps_and_terminates(void **state)
{
	uint8_t *b = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(buf_append(&b, &n, "abc", 3, 8), 0);
	assert_int_equal(buf_append(&b, &n, "defgh", 5, 8), 0);
	assert_int_equal(n, 8);
	assert_string_equal((const char *)b, "abcdefgh");
	/* one byte over the cap: refused, nothing changed */
	assert_int_equal(buf_append(&b, &n, "i", 1, 8), -EFBIG);
	assert_int_equal(n, 8);
	assert_string_equal((const char *)b, "abcdefgh");
	assert_int_equal(buf_append(&b, &n, "", 0, 8), 0);
	free(b);
}

static void test_fd_pwrite_all_writes_at_offset(void **state)
{
	FILE *f = tmpfile();
	char back[8] = { 0 };

	(void)state;
	assert_non_null(f);
	assert_int_equal(fd_write_all(fileno(f), "0123456", 7), 0);
	assert_int_equal(fd_pwrite_all(fileno(f), "ab", 2, 3), 0);
	/* pwrite leaves the file offset where write left it */
	assert_int_equal(lseek(fileno(f), 0, SEEK_CUR), 7);
	assert_int_equal(pread(fileno(f), back, 7, 0), 7);
	assert_string_equal(back, "012ab56");
	assert_int_equal(fd_pwrite_all(fileno(f), "x", 1, UINT64_MAX), -EFBIG);
	fclose(f);
}

static void test_cvm_erase_wipes_exactly_its_span(void **state)
{
	uint8_t buf[48];
	struct cvm_eraser e = { .p = buf + 8, .n = 32 };

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	cvm_erase(&e);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], i >= 8 && i < 40 ? 0 : 0xaa);
}

enum way_out { OUT_EARLY, OUT_LOOP, OUT_GOTO, OUT_END };

/*
 * Fills the caller's buffer under CLEANUP_ERASE and leaves by the way asked:
 * the buffer outlives this scope, so what the cleanup did can be read after.
 * plain: the same without the attribute, so that the check can fail.
 */
static int hold_secret(uint8_t (*secret)[32], enum way_out way)
{
	CLEANUP_ERASE(*secret);
	int r = 0;

	memset(*secret, 0x5c, sizeof(*secret));
	if (way == OUT_EARLY)
		return -EINTR;
	for (int i = 0; i < 4; i++)
		if (way == OUT_LOOP && i == 2)
			return i;
	if (way == OUT_GOTO) {
		r = -EIO;
		goto out;
	}
	(*secret)[0] ^= 1;
out:
	return r;
}

static void hold_plain(uint8_t (*secret)[32])
{
	memset(*secret, 0x5c, sizeof(*secret));
}

struct held_key {
	uint8_t pass[32];
	uint64_t blocks;
	char name[13];
};

static void hold_struct(struct held_key *k)
{
	CLEANUP_ERASE(*k);

	memset(k->pass, 0x11, sizeof(k->pass));
	k->blocks = UINT64_MAX;
	memset(k->name, 'k', sizeof(k->name));
}

static void test_cleanup_erase_wipes_on_every_way_out(void **state)
{
	static const enum way_out ways[] = { OUT_EARLY, OUT_LOOP, OUT_GOTO, OUT_END };
	uint8_t secret[32];
	struct held_key k;

	(void)state;
	hold_plain(&secret);
	assert_false(is_zero(secret, sizeof(secret)));
	for (size_t i = 0; i < ARRAY_SIZE(ways); i++) {
		memset(secret, 0xee, sizeof(secret));
		hold_secret(&secret, ways[i]);
		assert_true(is_zero(secret, sizeof(secret)));
	}
	/* the leaving of an inner block, not of the function */
	memset(secret, 0xee, sizeof(secret));
	{
		uint8_t(*inner)[32] = &secret;
		CLEANUP_ERASE(*inner);

		memset(*inner, 0x5c, sizeof(*inner));
		assert_false(is_zero(secret, sizeof(secret)));
	}
	assert_true(is_zero(secret, sizeof(secret)));
	/* a struct: all of it, padding included */
	memset(&k, 0xee, sizeof(k));
	hold_struct(&k);
	assert_true(is_zero(&k, sizeof(k)));
}

static void test_wiped_buf_free(void **state)
{
	struct wiped_buf b = { .p = malloc(40), .n = 40 };
	char *s = strdup("a secret string");
	cJSON *j = NULL;

	(void)state;
	assert_non_null(b.p);
	memset(b.p, 0x77, b.n);
	wiped_buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.n, 0);
	wiped_buf_free(&b); /* a second call, or an empty buffer: nothing to do */
	{
		_cleanup_(wiped_buf_free) struct wiped_buf empty = { 0 };
		_cleanup_(wipe_freep) char *none = NULL;
		_cleanup_(json_delete_wipedp) cJSON *no_tree = NULL;
	}
	assert_non_null(s);
	wipe_freep(&s);
	assert_int_equal(json_parse("{\"k\": \"00ff\"}", 13, &j), 0);
	json_delete_wipedp(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_round_trip_and_refusals),
		cmocka_unit_test(test_base64_rfc4648_vectors),
		cmocka_unit_test(test_base64_strict_decoding),
		cmocka_unit_test(test_span_getters_fail_on_short_input),
		cmocka_unit_test(test_file_read_caps_input),
		cmocka_unit_test(test_json_parse_refusals),
		cmocka_unit_test(test_json_getters),
		cmocka_unit_test(test_json_unknown_member),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_secret_memory),
		cmocka_unit_test(test_buf_append_caps_and_terminates),
		cmocka_unit_test(test_fd_pwrite_all_writes_at_offset),
		cmocka_unit_test(test_cvm_erase_wipes_exactly_its_span),
		cmocka_unit_test(test_cleanup_erase_wipes_on_every_way_out),
		cmocka_unit_test(test_wiped_buf_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
