/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the schema reader (lib/json_schema.c) over a table of every
 * type, nested objects and a custom reader. Whatever the input, a refusal
 * is one line of printable bytes that starts with the document's code, and
 * an accepted document leaves every field within its bounds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json_schema.h"
#include "lib/lib.h"

struct inner {
	uint8_t fmc;
	bool has_fmc;
	char name[4];
};

struct doc {
	bool flag;
	uint8_t small;
	uint32_t mid;
	uint64_t big, wide;
	uint8_t hex[3];
	char str[6];
	const char *ref;
	int pick;
	uint64_t bits;
	struct inner inner;
	size_t items;
};

static uint64_t bit_of(const char *name)
{
	return !strcmp(name, "a") ? 1 : !strcmp(name, "b") ? 2 : 0;
}

static int read_items(struct json_reader *rd, const cJSON *v, void *field)
{
	const cJSON *e;
	size_t n = 0;

	if (!cJSON_IsArray(v))
		return json_reader_fail(rd, "", "not an array");
	cJSON_ArrayForEach(e, v) {
		const char *s;
		int r = json_reader_string(rd, e, 1, 2, &s);

		if (r < 0)
			return r;
		n++;
	}
	*(size_t *)field = n;
	return 0;
}

static int check_doc(struct json_reader *rd, void *base)
{
	const struct doc *d = base;

	return d->small == 7 && d->flag ? json_reader_fail(rd, ".small", "7 and flag") : 0;
}

static const char *const picks[] = { "x", "y", "z", NULL };

static const struct json_member inner_members[] = {
	{ "fmc", .type = JSON_INT_OR_HEX, .flags = JSON_HAS, JSON_FIELD(struct inner, fmc),
	  JSON_HAS_FIELD(struct inner, has_fmc), .min = 1, .max = 255 },
	{ "name", .type = JSON_STRING, .flags = JSON_REQUIRED | JSON_PRINTABLE,
	  JSON_FIELD(struct inner, name), .min = 1 },
};
static const struct json_schema inner_schema = JSON_SCHEMA(inner_members);

static const struct json_member doc_members[] = {
	{ "flag", .type = JSON_BOOL, JSON_FIELD(struct doc, flag) },
	{ "small", .type = JSON_INT, .flags = JSON_REQUIRED, JSON_FIELD(struct doc, small),
	  .min = 2, .max = 9 },
	{ "mid", .type = JSON_INT, JSON_FIELD(struct doc, mid), .max = 0xffffffffu },
	{ "big", .type = JSON_INT, JSON_FIELD(struct doc, big), .max = UINT64_MAX },
	{ "wide", .type = JSON_INT_OR_HEX, JSON_FIELD(struct doc, wide), .min = 3,
	  .max = UINT64_MAX - 3 },
	{ "hex", .type = JSON_HEX, JSON_FIELD(struct doc, hex) },
	{ "str", .type = JSON_STRING, JSON_FIELD(struct doc, str) },
	{ "ref", .type = JSON_STRREF, JSON_FIELD(struct doc, ref), .min = 1, .max = 9 },
	{ "pick", .type = JSON_ENUM, JSON_FIELD(struct doc, pick), .names = picks,
	  .list = "x, y, z" },
	{ "bits", .type = JSON_BITS, .flags = JSON_NONEMPTY, JSON_FIELD(struct doc, bits),
	  .bit = bit_of, .list = "a, b" },
	{ "inner", .type = JSON_OBJECT, JSON_FIELD(struct doc, inner), .object = &inner_schema },
	{ "items", .type = JSON_CUSTOM, JSON_FIELD(struct doc, items), .read = read_items },
};
static const struct json_schema doc_schema = { doc_members, ARRAY_SIZE(doc_members), check_doc };

static const struct json_words words = { .unknown = "unknown member \"{name}\" in {in}" };

static void check_error(const char *err, const char *code)
{
	if (strncmp(err, code, strlen(code)))
		abort();
	for (const char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20)
			abort();
}

static void check_fields(const struct doc *d)
{
	if (d->small < 2 || d->small > 9 ||
	    (d->wide && (d->wide < 3 || d->wide > UINT64_MAX - 3)) || d->big > JSON_INT_MAX ||
	    d->pick < 0 || d->pick > 2 || (d->bits & ~3ull) || strlen(d->str) >= sizeof(d->str) ||
	    strlen(d->inner.name) >= sizeof(d->inner.name) ||
	    (d->ref && (strlen(d->ref) < 1 || strlen(d->ref) > 9)) ||
	    (d->inner.has_fmc && d->inner.fmc < 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct json_doc plain = { .code = "E_F: ", .root = "doc", .error = -EBADMSG };
	static const struct json_doc wordy = {
		.code = "E_W: ", .root = "", .error = -EINVAL, .words = &words
	};
	cJSON *v = NULL;
	struct doc d;
	char err[256];
	int r;

	if (json_parse((const char *)data, size, &v) < 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		const struct json_doc *doc = i ? &wordy : &plain;

		memset(&d, 0, sizeof(d));
		err[0] = 0;
		r = json_schema_read(v, &doc_schema, &d, doc, err, sizeof(err));
		if (r == 0)
			check_fields(&d);
		else if (r == doc->error)
			check_error(err, doc->code);
		else
			abort();
	}
	cJSON_Delete(v);
	return 0;
}
