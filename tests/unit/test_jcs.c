/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8785 JSON Canonicalization Scheme, against the RFC's own examples. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "lib/lib.h"

static char *canon(const char *json)
{
	cJSON *v = NULL;
	char *out = NULL;
	size_t len;

	assert_int_equal(json_parse(json, strlen(json), &v), 0);
	assert_int_equal(jcs_serialize(v, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	cJSON_Delete(v);
	return out;
}

/* RFC 8785 §3.2.2, the example of the whole transformation. */
static void test_rfc8785_section_3_2_2_example(void **state)
{
	const char *in =
		"{\n"
		"  \"numbers\": [333333333.33333329, 1E30, 4.50,\n"
		"                2e-3, 0.000000000000000000000000001],\n"
		"  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
		"  \"literals\": [null, true, false]\n"
		"}";
	const char *want =
		"{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,"
		"1e+30,4.5,0.002,1e-27],\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\"
		"\\\"/\"}";
	char *out = canon(in);

	(void)state;
	assert_string_equal(out, want);
	free(out);
}

/* RFC 8785 §3.2.3: members sorted by UTF-16 code units. */
static void test_rfc8785_section_3_2_3_sorting(void **state)
{
	const char *in = "{\"\\u20ac\": \"Euro Sign\", \"\\r\": \"Carriage Return\","
			 " \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\", \"1\": \"One\","
			 " \"\\ud83d\\ude00\": \"Emoji: Grinning Face\", \"\\u0080\": \"Control\","
			 " \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"}";
	const char *want =
		"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
		"\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
		"\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
		"\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}";
	char *out = canon(in);

	(void)state;
	assert_string_equal(out, want);
	free(out);
}

static double from_bits(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

/* RFC 8785 Appendix B: IEEE 754 values and their canonical text. */
static void test_rfc8785_appendix_b_numbers(void **state)
{
	static const struct {
		uint64_t bits;
		const char *want;
	} cases[] = {
		{ 0x0000000000000000, "0" },
		{ 0x8000000000000000, "0" },
		{ 0x0000000000000001, "5e-324" },
		{ 0x8000000000000001, "-5e-324" },
		{ 0x7fefffffffffffff, "1.7976931348623157e+308" },
		{ 0xffefffffffffffff, "-1.7976931348623157e+308" },
		{ 0x4340000000000000, "9007199254740992" },
		{ 0xc340000000000000, "-9007199254740992" },
		{ 0x4430000000000000, "295147905179352830000" },
		{ 0x44b52d02c7e14af5, "9.999999999999997e+22" },
		{ 0x44b52d02c7e14af6, "1e+23" },
		{ 0x44b52d02c7e14af7, "1.0000000000000001e+23" },
		{ 0x444b1ae4d6e2ef4e, "999999999999999700000" },
		{ 0x444b1ae4d6e2ef4f, "999999999999999900000" },
		{ 0x444b1ae4d6e2ef50, "1e+21" },
		{ 0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7" },
		{ 0x3eb0c6f7a0b5ed8d, "0.000001" },
		{ 0x41b3de4355555553, "333333333.3333332" },
		{ 0x41b3de4355555554, "333333333.33333325" },
		{ 0x41b3de4355555555, "333333333.3333333" },
		{ 0x41b3de4355555556, "333333333.3333334" },
		{ 0x41b3de4355555557, "333333333.33333343" },
		{ 0xbecbf647612f3696, "-0.0000033333333333333333" },
		{ 0x43143ff3c1cb0959, "1424953923781206.2" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *n = cJSON_CreateNumber(from_bits(cases[i].bits));
		char *out;
		size_t len;

		assert_int_equal(jcs_serialize(n, &out, &len), 0);
		assert_string_equal(out, cases[i].want);
		free(out);
		cJSON_Delete(n);
	}
}

static void test_refuses_nan_infinity_and_raw(void **state)
{
	cJSON *v;
	char *out;
	size_t len;

	(void)state;
	v = cJSON_CreateNumber(NAN);
	assert_int_equal(jcs_serialize(v, &out, &len), -EINVAL);
	cJSON_Delete(v);
	v = cJSON_CreateNumber(INFINITY);
	assert_int_equal(jcs_serialize(v, &out, &len), -EINVAL);
	cJSON_Delete(v);
	v = cJSON_CreateRaw("{}");
	assert_int_equal(jcs_serialize(v, &out, &len), -EINVAL);
	cJSON_Delete(v);
	v = cJSON_CreateString("\xff");
	assert_int_equal(jcs_serialize(v, &out, &len), -EINVAL);
	cJSON_Delete(v);
}

static void test_canonical_form_is_a_fixed_point(void **state)
{
	char *once = canon("{\"b\": [1.0, -0, 1e2, \"\\u001f\"], \"a\": {\"z\": {}, \"y\": []}}");
	char *twice = canon(once);

	(void)state;
	assert_string_equal(once, "{\"a\":{\"y\":[],\"z\":{}},\"b\":[1,0,100,\"\\u001f\"]}");
	assert_string_equal(once, twice);
	free(once);
	free(twice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8785_section_3_2_2_example),
		cmocka_unit_test(test_rfc8785_section_3_2_3_sorting),
		cmocka_unit_test(test_rfc8785_appendix_b_numbers),
		cmocka_unit_test(test_refuses_nan_infinity_and_raw),
		cmocka_unit_test(test_canonical_form_is_a_fixed_point),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
