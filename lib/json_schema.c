/* SPDX-License-Identifier: Apache-2.0 */
/* The strict JSON schema reader (lib/json_schema.h): one rule set for every input file. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/json_schema.h"
#include "lib/lib.h"

#define PATH_MAX_LEN 160

struct json_reader {
	const struct json_doc *doc;
	const struct json_member *m; /* the member being read, for its own words */
	char path[PATH_MAX_LEN];
	char *err;
	size_t errlen;
};

/* What a template's placeholders stand for in one error line. */
struct json_facts {
	const char *path, *name, *in, *list;
	uint64_t min, max, value, len, bytes;
};

static const struct json_words default_words = {
	.not_object = "{path}: not an object",
	.unknown = "{path}: unknown member",
	.missing = "{path}: required",
	.not_bool = "{path}: not true or false",
	.not_int = "{path}: not a whole number",
	.range = "{path}: {value} not in {min}..{max}",
	.not_hex = "{path}: not {digits} hex digits",
	.not_string = "{path}: not a string",
	.length = "{path}: length {len} not in {min}..{max}",
	.printable = "{path}: not printable ASCII",
	.not_name = "{path}: not one of {list}",
};

const char *json_shown_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 40)
		return "(unprintable)";
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"')
			return "(unprintable)";
	return s;
}

const char *json_reader_path(const struct json_reader *rd)
{
	return rd->path;
}

const struct json_doc *json_reader_doc(const struct json_reader *rd)
{
	return rd->doc;
}

/* The path as errors show it: the root's name for the root itself. */
static const char *where(const struct json_reader *rd)
{
	return rd->path[0] ? rd->path : rd->doc->root;
}

/* Appends ".name" (or "name" at the root); the previous length, to restore. */
static size_t push(struct json_reader *rd, const char *name)
{
	size_t n = strlen(rd->path);

	/* "a.b", and "a[0]" for an array's element */
	snprintf(rd->path + n, sizeof(rd->path) - n, "%s%s", n && name[0] != '[' ? "." : "", name);
	return n;
}

static void pop(struct json_reader *rd, size_t n)
{
	rd->path[n] = 0;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* One placeholder's text; false when key is not one. */
static bool fact(const struct json_facts *f, const char *key, size_t n, char *out, size_t cap)
{
	static const struct {
		const char *key;
		bool number; /* a uint64_t, else a string */
		size_t off;
	} keys[] = {
		{ "path", false, offsetof(struct json_facts, path) },
		{ "name", false, offsetof(struct json_facts, name) },
		{ "in", false, offsetof(struct json_facts, in) },
		{ "list", false, offsetof(struct json_facts, list) },
		{ "min", true, offsetof(struct json_facts, min) },
		{ "max", true, offsetof(struct json_facts, max) },
		{ "value", true, offsetof(struct json_facts, value) },
		{ "len", true, offsetof(struct json_facts, len) },
		{ "bytes", true, offsetof(struct json_facts, bytes) },
	};
	const char *base = (const char *)f;

	if (n == 6 && !strncmp(key, "digits", 6)) {
		snprintf(out, cap, "%" PRIu64, 2 * f->bytes);
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strlen(keys[i].key) != n || strncmp(keys[i].key, key, n))
			continue;
		if (keys[i].number)
			snprintf(out, cap, "%" PRIu64, *(const uint64_t *)(base + keys[i].off));
		else
			snprintf(out, cap, "%s",
				 str_or_empty(*(const char *const *)(base + keys[i].off)));
		return true;
	}
	return false;
}

/* Expands a template into rd->err after the document's code prefix. */
static int refuse(struct json_reader *rd, const char *tmpl, const struct json_facts *f)
{
	char line[512];
	size_t n = 0;

	n = (size_t)snprintf(line, sizeof(line), "%s", rd->doc->code ? rd->doc->code : "");
	for (const char *t = tmpl; *t && n < sizeof(line) - 1;) {
		const char *close = *t == '{' ? strchr(t, '}') : NULL;
		char text[PATH_MAX_LEN + 64];

		if (close && fact(f, t + 1, (size_t)(close - t - 1), text, sizeof(text))) {
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s", text);
			t = close + 1;
		} else {
			line[n++] = *t++;
			line[n] = 0;
		}
	}
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	line[n] = 0;
	return set_error(rd->err, rd->errlen, rd->doc->error, "%s", line);
}

/* A template: the member's own, else the document's, else the default. */
static const char *word(const struct json_reader *rd, size_t which)
{
	const struct json_words *w[] = { rd->m ? rd->m->words : NULL, rd->doc->words,
					 &default_words };

	for (size_t i = 0; i < ARRAY_SIZE(w); i++) {
		const char *t = w[i] ? *(const char *const *)((const char *)w[i] + which) : NULL;

		if (t)
			return t;
	}
	return "{path}: refused";
}

#define WORD(rd, x) word(rd, offsetof(struct json_words, x))

/* A refusal about the member at the current path. */
static int refuse_here(struct json_reader *rd, const char *tmpl, struct json_facts f)
{
	f.path = where(rd);
	return refuse(rd, tmpl, &f);
}

int json_reader_fail(struct json_reader *rd, const char *sub, const char *fmt, ...)
{
	char why[256];
	const char *base = where(rd);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!rd->path[0] && sub && *sub)
		base = "";
	if (!base[0] && sub && *sub == '.')
		sub++;
	return set_error(rd->err, rd->errlen, rd->doc->error, "%s%s%s: %s",
			 rd->doc->code ? rd->doc->code : "", base, sub ? sub : "", why);
}

/* ---- the types ---- */

static void store_uint(void *field, size_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	if (size == 1)
		memcpy(field, &u8, 1);
	else if (size == 2)
		memcpy(field, &u16, 2);
	else if (size == 4)
		memcpy(field, &u32, 4);
	else
		memcpy(field, &v, 8);
}

/* json_get_u64() holds the rule: a whole number below 2^53, or "0x" and 1 to 16 hex digits. */
static int read_int(struct json_reader *rd, const struct json_member *m, const cJSON *obj,
		    const cJSON *v, void *field)
{
	uint64_t x;

	if ((m->type == JSON_INT && !cJSON_IsNumber(v)) || json_get_u64(obj, m->name, &x) < 0)
		return refuse_here(rd, WORD(rd, not_int),
				   (struct json_facts){ .min = m->min, .max = m->max });
	if (x < m->min || x > m->max)
		return refuse_here(rd, WORD(rd, range),
				   (struct json_facts){ .min = m->min, .max = m->max, .value = x });
	store_uint(field, m->size, x);
	return 0;
}

static int read_string(struct json_reader *rd, const struct json_member *m, const cJSON *v,
		       void *field)
{
	uint64_t max = m->type == JSON_STRING ? m->size - 1 : m->max;
	size_t n;

	if (!cJSON_IsString(v))
		return refuse_here(rd, WORD(rd, not_string), (struct json_facts){ 0 });
	n = strlen(v->valuestring);
	if (n < m->min || n > max)
		return refuse_here(rd, WORD(rd, length),
				   (struct json_facts){ .min = m->min, .max = max, .len = n });
	if (m->flags & JSON_PRINTABLE)
		for (size_t i = 0; i < n; i++)
			if (v->valuestring[i] < 0x20 || v->valuestring[i] > 0x7e)
				return refuse_here(rd, WORD(rd, printable),
						   (struct json_facts){ 0 });
	if (m->type == JSON_STRING)
		memcpy(field, v->valuestring, n + 1);
	else
		*(const char **)field = v->valuestring;
	return 0;
}

int json_reader_string(struct json_reader *rd, const cJSON *v, size_t min, size_t max,
		       const char **out)
{
	const struct json_member m = { .type = JSON_STRREF, .min = min, .max = max };

	return read_string(rd, &m, v, out);
}

static int read_names(struct json_reader *rd, const struct json_member *m, const cJSON *v,
		      void *field)
{
	const struct json_facts f = { .list = m->list };
	const cJSON *e;
	uint64_t bits = 0;

	if (m->type == JSON_ENUM) {
		if (!cJSON_IsString(v))
			return refuse_here(rd, WORD(rd, not_string), (struct json_facts){ 0 });
		for (size_t i = 0; m->names[i]; i++) {
			if (!strcmp(v->valuestring, m->names[i])) {
				store_uint(field, m->size, i);
				return 0;
			}
		}
		return refuse_here(rd, WORD(rd, not_name), f);
	}
	if (!cJSON_IsArray(v) || ((m->flags & JSON_NONEMPTY) && !v->child))
		return refuse_here(rd, WORD(rd, not_name), f);
	cJSON_ArrayForEach(e, v) {
		uint64_t b = cJSON_IsString(e) ? m->bit(e->valuestring) : 0;

		if (!b)
			return refuse_here(rd, WORD(rd, not_name), f);
		bits |= b;
	}
	store_uint(field, m->size, bits);
	return 0;
}

static int read_object(struct json_reader *rd, const struct json_schema *s, const cJSON *v,
		       void *base);

static int read_member(struct json_reader *rd, const struct json_member *m, const cJSON *obj,
		       const cJSON *v, void *base)
{
	void *field = (char *)base + m->off;
	int r = 0;

	switch (m->type) {
	case JSON_BOOL:
		if (!cJSON_IsBool(v))
			return refuse_here(rd, WORD(rd, not_bool), (struct json_facts){ 0 });
		*(bool *)field = cJSON_IsTrue(v);
		break;
	case JSON_INT:
	case JSON_INT_OR_HEX:
		r = read_int(rd, m, obj, v, field);
		break;
	case JSON_HEX:
		if (!cJSON_IsString(v) || hex_decode_exact(v->valuestring, field, m->size) < 0)
			return refuse_here(rd, WORD(rd, not_hex),
					   (struct json_facts){ .bytes = m->size });
		break;
	case JSON_STRING:
	case JSON_STRREF:
		r = read_string(rd, m, v, field);
		break;
	case JSON_ENUM:
	case JSON_BITS:
		r = read_names(rd, m, v, field);
		break;
	case JSON_OBJECT:
		r = read_object(rd, m->object, v, field);
		break;
	case JSON_CUSTOM:
		r = m->read(rd, v, field);
		break;
	}
	if (r == 0 && (m->flags & JSON_HAS))
		*(bool *)((char *)base + m->has) = true;
	return r;
}

static const struct json_member *find(const struct json_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->m[i].name, name))
			return &s->m[i];
	return NULL;
}

static int read_object(struct json_reader *rd, const struct json_schema *s, const cJSON *v,
		       void *base)
{
	const cJSON *e;
	int r;

	if (!cJSON_IsObject(v))
		return refuse_here(rd, WORD(rd, not_object), (struct json_facts){ 0 });
	cJSON_ArrayForEach(e, v) {
		if (!find(s, e->string)) {
			char path[PATH_MAX_LEN + 48];
			const char *name = json_shown_name(e->string);

			/* a document whose root has no name has its members' names as paths */
			snprintf(path, sizeof(path), "%s%s%s", where(rd), where(rd)[0] ? "." : "",
				 name);
			return refuse(rd, WORD(rd, unknown),
				      &(struct json_facts){
					      .path = path, .name = name, .in = where(rd) });
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct json_member *m = &s->m[i];
		size_t n = push(rd, m->name);

		rd->m = m;
		if ((e = cJSON_GetObjectItemCaseSensitive(v, m->name)))
			r = read_member(rd, m, v, e, base);
		else if (m->flags & JSON_REQUIRED)
			r = refuse_here(rd, WORD(rd, missing), (struct json_facts){ 0 });
		else
			r = 0;
		pop(rd, n);
		rd->m = NULL;
		if (r < 0)
			return r;
	}
	return s->check ? s->check(rd, base) : 0;
}

int json_reader_object(struct json_reader *rd, const char *name, const cJSON *v,
		       const struct json_schema *s, void *base)
{
	size_t n = name ? push(rd, name) : strlen(rd->path);
	int r = read_object(rd, s, v, base);

	pop(rd, n);
	return r;
}

int json_schema_read(const cJSON *v, const struct json_schema *s, void *base,
		     const struct json_doc *doc, char *err, size_t errlen)
{
	struct json_reader rd = { .doc = doc, .err = err, .errlen = errlen };

	return read_object(&rd, s, v, base);
}
