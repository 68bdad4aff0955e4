/* SPDX-License-Identifier: Apache-2.0 */
/* lib/json_schema.c: each type, its bounds, and the refusals that name the member. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/json_schema.h"
#include "lib/lib.h"

struct deep {
	uint8_t fmc;
};

struct inner {
	uint32_t a;
	bool has_a;
	struct deep deep;
};

struct sample {
	bool flag, has_flag;
	uint8_t u8;
	uint16_t u16;
	uint64_t u64;
	uint64_t wide; /* integer or "0x..." */
	uint8_t hex[4];
	char str[8];
	char text[16]; /* printable */
	const char *ref;
	int color;
	uint64_t bits;
	struct inner inner;
	unsigned custom;
};

static uint64_t bit_of(const char *name)
{
	return !strcmp(name, "one") ? 1 : !strcmp(name, "four") ? 4 : 0;
}

/* "custom": an array whose first element must be "ok". */
static int read_custom(struct json_reader *rd, const cJSON *v, void *field)
{
	const cJSON *first = cJSON_GetArrayItem(v, 0);

	if (!cJSON_IsString(first) || strcmp(first->valuestring, "ok"))
		return json_reader_fail(rd, "[0]", "not \"ok\" (%d)", 7);
	*(unsigned *)field = 1;
	return 0;
}

static int check_sample(struct json_reader *rd, void *base)
{
	const struct sample *s = base;

	return s->u8 == 13 ? json_reader_fail(rd, ".u8", "unlucky") : 0;
}

static const char *const colors[] = { "red", "green", NULL };

static const struct json_member deep_members[] = {
	{ "fmc", .type = JSON_INT, JSON_FIELD(struct deep, fmc), .max = 255 },
};
static const struct json_schema deep_schema = JSON_SCHEMA(deep_members);

static const struct json_member inner_members[] = {
	{ "a", .type = JSON_INT, .flags = JSON_REQUIRED | JSON_HAS, JSON_FIELD(struct inner, a),
	  JSON_HAS_FIELD(struct inner, has_a), .max = 0xffffffffu },
	{ "deep", .type = JSON_OBJECT, JSON_FIELD(struct inner, deep), .object = &deep_schema },
};
static const struct json_schema inner_schema = JSON_SCHEMA(inner_members);

static const struct json_words loud = { .range = "{path} is out of {min}..{max}" };

#define S struct sample
static const struct json_member sample_members[] = {
	{ "flag", .type = JSON_BOOL, .flags = JSON_HAS, JSON_FIELD(S, flag),
	  JSON_HAS_FIELD(S, has_flag) },
	{ "u8", .type = JSON_INT, .flags = JSON_REQUIRED, JSON_FIELD(S, u8), .min = 1, .max = 200 },
	{ "u16", .type = JSON_INT, JSON_FIELD(S, u16), .max = 65535, .words = &loud },
	{ "u64", .type = JSON_INT, JSON_FIELD(S, u64), .max = UINT64_MAX },
	{ "wide", .type = JSON_INT_OR_HEX, JSON_FIELD(S, wide), .max = UINT64_MAX },
	{ "hex", .type = JSON_HEX, JSON_FIELD(S, hex) },
	{ "str", .type = JSON_STRING, JSON_FIELD(S, str), .min = 1 },
	{ "text", .type = JSON_STRING, .flags = JSON_PRINTABLE, JSON_FIELD(S, text) },
	{ "ref", .type = JSON_STRREF, JSON_FIELD(S, ref), .min = 2, .max = 3 },
	{ "color", .type = JSON_ENUM, JSON_FIELD(S, color), .names = colors, .list = "red, green" },
	{ "bits", .type = JSON_BITS, .flags = JSON_NONEMPTY, JSON_FIELD(S, bits), .bit = bit_of,
	  .list = "one, four" },
	{ "inner", .type = JSON_OBJECT, JSON_FIELD(S, inner), .object = &inner_schema },
	{ "custom", .type = JSON_CUSTOM, JSON_FIELD(S, custom), .read = read_custom },
};
#undef S
static const struct json_schema sample_schema = { sample_members, ARRAY_SIZE(sample_members),
						  check_sample };

static const struct json_doc doc = { .code = "E_T: ", .root = "doc", .error = -EBADMSG };

/* Reads text (a JSON object) into *s; the error line into err. */
static int read_text(const char *text, struct sample *s, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *v = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	err[0] = 0;
	assert_int_equal(json_parse(text, strlen(text), &v), 0);
	r = json_schema_read(v, &sample_schema, s, &doc, err, errlen);
	if (r < 0) {
		assert_int_equal(r, -EBADMSG);
		assert_null(strchr(err, '\n'));
		assert_int_equal(strncmp(err, "E_T: ", 5), 0);
	}
	return r;
}

/* {"u8": 1, MEMBER} is refused with an error line containing want. */
static void refused(const char *member, const char *want)
{
	char text[512], err[256];
	struct sample s;

	snprintf(text, sizeof(text), "{\"u8\": 1, %s}", member);
	if (read_text(text, &s, err, sizeof(err)) == 0 || !strstr(err, want))
		fail_msg("%s: got \"%s\", want \"%s\"", text, err, want);
}

static void accepted(const char *member, struct sample *s)
{
	char text[512], err[256];

	snprintf(text, sizeof(text), "{\"u8\": 1, %s}", member);
	if (read_text(text, s, err, sizeof(err)) < 0)
		fail_msg("%s: refused: %s", text, err);
}

static void test_every_type_read_into_its_field(void **state)
{
	static const char text[] =
		"{\"flag\": true, \"u8\": 200, \"u16\": 65535, \"u64\": 9007199254740991, "
		"\"wide\": \"0xffffffffffffffff\", \"hex\": \"00ff10Ab\", \"str\": \"1234567\", "
		"\"text\": \"a b~\", \"ref\": \"xyz\", \"color\": \"green\", "
		"\"bits\": [\"one\", \"four\", \"one\"], "
		"\"inner\": {\"a\": 4294967295, \"deep\": {\"fmc\": 255}}, \"custom\": [\"ok\"]}";
	static const uint8_t hex[] = { 0x00, 0xff, 0x10, 0xab };
	_cleanup_(cJSON_Deletep) cJSON *v = NULL;
	struct sample s = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(json_parse(text, strlen(text), &v), 0);
	assert_int_equal(json_schema_read(v, &sample_schema, &s, &doc, err, sizeof(err)), 0);
	assert_true(s.flag && s.has_flag);
	assert_int_equal(s.u8, 200);
	assert_int_equal(s.u16, 65535);
	assert_true(s.u64 == JSON_INT_MAX);
	assert_true(s.wide == UINT64_MAX);
	assert_memory_equal(s.hex, hex, 4);
	assert_string_equal(s.str, "1234567");
	assert_string_equal(s.text, "a b~");
	assert_string_equal(s.ref, "xyz");
	assert_ptr_equal(s.ref, cJSON_GetObjectItem(v, "ref")->valuestring);
	assert_int_equal(s.color, 1);
	assert_int_equal(s.bits, 5);
	assert_true(s.inner.a == 0xffffffffu && s.inner.has_a);
	assert_int_equal(s.inner.deep.fmc, 255);
	assert_int_equal(s.custom, 1);
}

static void test_absent_optional_members_keep_their_defaults(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *v = NULL;
	struct sample s = { .flag = true, .u16 = 0x5a5a, .str = "dflt", .color = 1, .bits = 8 };
	char err[256];

	(void)state;
	s.inner.a = 77;
	assert_int_equal(json_parse("{\"u8\": 7}", 9, &v), 0);
	assert_int_equal(json_schema_read(v, &sample_schema, &s, &doc, err, sizeof(err)), 0);
	assert_int_equal(s.u8, 7);
	assert_int_equal(s.u16, 0x5a5a);
	assert_true(s.flag && !s.has_flag);
	assert_string_equal(s.str, "dflt");
	assert_int_equal(s.color, 1);
	assert_int_equal(s.bits, 8);
	assert_true(s.inner.a == 77 && !s.inner.has_a);
	assert_null(s.ref);
}

static void test_integers_are_whole_numbers_below_2_53_within_bounds(void **state)
{
	struct sample s;

	(void)state;
	accepted("\"u64\": 9007199254740991", &s);
	assert_true(s.u64 == 9007199254740991ull);
	accepted("\"u64\": 1e15", &s);
	assert_true(s.u64 == 1000000000000000ull);
	accepted("\"u16\": 0", &s);
	/* 2^53 may be the rounding of 2^53 + 1: refused, as everything above */
	refused("\"u64\": 9007199254740992", "E_T: u64: not a whole number");
	refused("\"u64\": 1e300", "u64: not a whole number");
	refused("\"u64\": 1.5", "u64: not a whole number");
	refused("\"u64\": 0.0000001", "u64: not a whole number");
	refused("\"u64\": -1", "u64: not a whole number");
	refused("\"u64\": \"7\"", "u64: not a whole number");
	refused("\"u64\": \"0x7\"", "u64: not a whole number");
	refused("\"u64\": true", "u64: not a whole number");
	refused("\"u64\": null", "u64: not a whole number");
	/* bounds, with the value and the range named; a member's own words */
	refused("\"u16\": 65536", "E_T: u16 is out of 0..65535");
	refused("\"inner\": {\"a\": 4294967296}", "inner.a: 4294967296 not in 0..4294967295");
}

static void test_required_member_missing_is_named(void **state)
{
	char err[256];
	struct sample s;

	(void)state;
	assert_int_equal(read_text("{}", &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "E_T: u8: required");
	refused("\"inner\": {}", "E_T: inner.a: required");
}

static void test_the_first_range_check_runs_before_storing(void **state)
{
	char err[256];
	struct sample s;

	(void)state;
	assert_int_equal(read_text("{\"u8\": 201}", &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "E_T: u8: 201 not in 1..200");
	assert_int_equal(s.u8, 0);
	assert_int_equal(read_text("{\"u8\": 0}", &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "E_T: u8: 0 not in 1..200");
}

static void test_integer_or_hex_string(void **state)
{
	struct sample s;

	(void)state;
	accepted("\"wide\": \"0x10\"", &s);
	assert_int_equal(s.wide, 16);
	accepted("\"wide\": \"0XaB\"", &s);
	assert_int_equal(s.wide, 0xab);
	accepted("\"wide\": 12", &s);
	assert_int_equal(s.wide, 12);
	accepted("\"wide\": \"0x0000000000000001\"", &s);
	assert_int_equal(s.wide, 1);
	refused("\"wide\": \"0x\"", "wide: not a whole number");
	refused("\"wide\": \"0x1g\"", "wide: not a whole number");
	refused("\"wide\": \"0x00000000000000001\"", "wide: not a whole number");
	refused("\"wide\": \"10\"", "wide: not a whole number");
	refused("\"wide\": \"-0x1\"", "wide: not a whole number");
	refused("\"wide\": 9007199254740992", "wide: not a whole number");
}

static void test_hex_is_of_exact_length(void **state)
{
	struct sample s;

	(void)state;
	accepted("\"hex\": \"DEADbeef\"", &s);
	refused("\"hex\": \"deadbe\"", "E_T: hex: not 8 hex digits");
	refused("\"hex\": \"deadbeef00\"", "hex: not 8 hex digits");
	refused("\"hex\": \"deadbeeg\"", "hex: not 8 hex digits");
	refused("\"hex\": \"\"", "hex: not 8 hex digits");
	refused("\"hex\": 12345678", "hex: not 8 hex digits");
}

static void test_strings_are_bounded(void **state)
{
	struct sample s;

	(void)state;
	accepted("\"str\": \"a\"", &s);
	accepted("\"text\": \"\"", &s);
	refused("\"str\": \"\"", "E_T: str: length 0 not in 1..7");
	refused("\"str\": \"12345678\"", "str: length 8 not in 1..7");
	refused("\"str\": 1", "str: not a string");
	refused("\"text\": \"a\\u0001\"", "text: not printable ASCII");
	refused("\"text\": \"caf\\u00e9\"", "text: not printable ASCII");
	refused("\"ref\": \"a\"", "ref: length 1 not in 2..3");
	refused("\"ref\": \"abcd\"", "ref: length 4 not in 2..3");
}

static void test_bools_names_and_bits(void **state)
{
	struct sample s;

	(void)state;
	refused("\"flag\": 1", "E_T: flag: not true or false");
	refused("\"flag\": \"true\"", "flag: not true or false");
	accepted("\"color\": \"red\"", &s);
	assert_int_equal(s.color, 0);
	refused("\"color\": \"blue\"", "color: not one of red, green");
	refused("\"color\": \"Red\"", "color: not one of red, green");
	refused("\"color\": 0", "color: not a string");
	refused("\"bits\": [\"one\", \"two\"]", "bits: not one of one, four");
	refused("\"bits\": []", "bits: not one of one, four");
	refused("\"bits\": \"one\"", "bits: not one of one, four");
	refused("\"bits\": [1]", "bits: not one of one, four");
}

static void test_unknown_member_refused_and_named_with_its_path(void **state)
{
	char err[256];
	struct sample s;

	(void)state;
	assert_int_equal(read_text("{\"u8\": 1, \"u9\": 1}", &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "E_T: doc.u9: unknown member");
	refused("\"inner\": {\"a\": 1, \"b\": 2}", "E_T: inner.b: unknown member");
	refused("\"inner\": {\"a\": 1, \"deep\": {\"fmcc\": 1}}",
		"E_T: inner.deep.fmcc: unknown member");
	/* before anything else is read, even a required member */
	assert_int_equal(read_text("{\"zz\": 1}", &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "E_T: doc.zz: unknown member");
	/* a name that cannot be shown is not */
	refused("\"a\\nb\": 1", "E_T: doc.(unprintable): unknown member");
	refused("\"a\\\"b\": 1", "doc.(unprintable): unknown member");
	refused("\"0123456789012345678901234567890123456789x\": 1",
		"doc.(unprintable): unknown member");
	/* members are matched by their exact name */
	refused("\"U8\": 1", "doc.U8: unknown member");
}

static void test_objects_and_custom_readers(void **state)
{
	char err[256];
	struct sample s;

	(void)state;
	assert_int_equal(read_text("[]", &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "E_T: doc: not an object");
	refused("\"inner\": []", "E_T: inner: not an object");
	refused("\"inner\": {\"a\": 1, \"deep\": 1}", "E_T: inner.deep: not an object");
	refused("\"custom\": [\"no\"]", "E_T: custom[0]: not \"ok\" (7)");
	assert_int_equal(read_text("{\"u8\": 13}", &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "E_T: u8: unlucky");
}

static void test_documents_choose_their_words(void **state)
{
	static const struct json_words words = {
		.unknown = "unknown member \"{name}\" in {in}",
		.missing = "{path} is missing",
		.not_hex = "{path}: {bytes} bytes, {digits} digits {nothing}",
	};
	static const struct json_doc wordy = {
		.code = "E_W: ", .root = "the doc", .error = -EINVAL, .words = &words
	};
	static const struct {
		const char *text, *want;
	} c[] = {
		{ "{\"u8\": 1, \"x\": 1}", "E_W: unknown member \"x\" in the doc" },
		{ "{\"u8\": 1, \"inner\": {\"a\": 1, \"y\": 1}}",
		  "E_W: unknown member \"y\" in inner" },
		{ "{}", "E_W: u8 is missing" },
		{ "{\"u8\": 1, \"hex\": \"\"}", "E_W: hex: 4 bytes, 8 digits {nothing}" },
		{ "{\"u8\": 0}", "E_W: u8: 0 not in 1..200" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		_cleanup_(cJSON_Deletep) cJSON *v = NULL;
		struct sample s = { 0 };
		char err[256] = "";

		assert_int_equal(json_parse(c[i].text, strlen(c[i].text), &v), 0);
		assert_int_equal(json_schema_read(v, &sample_schema, &s, &wordy, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, c[i].want);
	}
}

static void test_a_short_error_buffer_is_cut_not_overrun(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *v = NULL;
	struct sample s = { 0 };
	char err[12];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(json_parse("{\"zzzzzzzzzzzzzz\": 1}", 21, &v), 0);
	assert_int_equal(json_schema_read(v, &sample_schema, &s, &doc, err, 8), -EBADMSG);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(err[8], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_read_into_its_field),
		cmocka_unit_test(test_absent_optional_members_keep_their_defaults),
		cmocka_unit_test(test_integers_are_whole_numbers_below_2_53_within_bounds),
		cmocka_unit_test(test_required_member_missing_is_named),
		cmocka_unit_test(test_the_first_range_check_runs_before_storing),
		cmocka_unit_test(test_integer_or_hex_string),
		cmocka_unit_test(test_hex_is_of_exact_length),
		cmocka_unit_test(test_strings_are_bounded),
		cmocka_unit_test(test_bools_names_and_bits),
		cmocka_unit_test(test_unknown_member_refused_and_named_with_its_path),
		cmocka_unit_test(test_objects_and_custom_readers),
		cmocka_unit_test(test_documents_choose_their_words),
		cmocka_unit_test(test_a_short_error_buffer_is_cut_not_overrun),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
