/* SPDX-License-Identifier: Apache-2.0 */
/* JSON input over cJSON, with the checks cJSON leaves to its callers. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "lib/lib.h"

#define JSON_MAX_DEPTH 64

/* RFC 3629 §4: well-formed UTF-8, no overlongs, no surrogates, nothing past U+10FFFF. */
bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static bool tree_ok(const cJSON *v, int depth)
{
	const cJSON *a, *b;

	if (depth > JSON_MAX_DEPTH)
		return false;
	if (cJSON_IsString(v) &&
	    !utf8_valid((const uint8_t *)v->valuestring, strlen(v->valuestring)))
		return false;
	if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
		return false;
	for (a = v->child; a; a = a->next) {
		if (cJSON_IsObject(v)) {
			if (!utf8_valid((const uint8_t *)a->string, strlen(a->string)))
				return false;
			for (b = v->child; b != a; b = b->next)
				if (strcmp(a->string, b->string) == 0)
					return false;
		}
		if (!tree_ok(a, depth + 1))
			return false;
	}
	return true;
}

int json_parse(const char *text, size_t len, cJSON **out)
{
	/* the text may be a secret (a released key): its copy is wiped, not only freed */
	_cleanup_(wipe_freep) char *copy = NULL;
	const char *end = NULL;
	cJSON *v;

	if (len > CVM_CAP_JSON)
		return -EFBIG;
	/* A NUL inside the text would end cJSON's view of it early. */
	if (memchr(text, 0, len) || !utf8_valid((const uint8_t *)text, len))
		return -EBADMSG;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = 0;
	v = cJSON_ParseWithOpts(copy, &end, false);
	if (!v)
		return -EBADMSG;
	while (end && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (!end || *end || !tree_ok(v, 0)) {
		json_delete_wiped(v);
		return -EBADMSG;
	}
	*out = v;
	return 0;
}

const cJSON *json_unknown_member(const cJSON *o, const char *const *names, size_t n)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, o) {
		size_t i = 0;

		while (i < n && names[i] && strcmp(m->string, names[i]))
			i++;
		if (i == n || !names[i])
			return m;
	}
	return NULL;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* The member key of obj when it is of the type is() tests: -ENOENT when absent, -EINVAL when not. */
static int typed_member(const cJSON *obj, const char *key, cJSON_bool (*is)(const cJSON *),
			const cJSON **m)
{
	*m = member(obj, key);
	if (!*m)
		return -ENOENT;
	return is(*m) ? 0 : -EINVAL;
}

int json_get_string(const cJSON *obj, const char *key, const char **out)
{
	const cJSON *m;
	int r = typed_member(obj, key, cJSON_IsString, &m);

	if (r == 0)
		*out = m->valuestring;
	return r;
}

int json_get_bool(const cJSON *obj, const char *key, bool *out)
{
	const cJSON *m;
	int r = typed_member(obj, key, cJSON_IsBool, &m);

	if (r == 0)
		*out = cJSON_IsTrue(m);
	return r;
}

int json_get_u64(const cJSON *obj, const char *key, uint64_t *out)
{
	const cJSON *m = member(obj, key);

	if (!m)
		return -ENOENT;
	if (cJSON_IsNumber(m)) {
		double d = m->valuedouble;

		/*
		 * Doubles hold integers exactly below 2^53; a larger number may
		 * have been rounded already, so it is refused: write "0x..." instead.
		 */
		if (!(d >= 0 && d <= 9007199254740991.0) || d != floor(d))
			return -EINVAL;
		*out = (uint64_t)d;
		return 0;
	}
	if (cJSON_IsString(m)) {
		const char *s = m->valuestring;
		size_t n = strlen(s);
		uint64_t v = 0;

		if (n < 3 || n > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
			return -EINVAL;
		for (size_t i = 2; i < n; i++) {
			char c = s[i];
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10
						       : -1;

			if (d < 0)
				return -EINVAL;
			v = v << 4 | (uint64_t)d;
		}
		*out = v;
		return 0;
	}
	return -EINVAL;
}

int json_get_hex(const cJSON *obj, const char *key, uint8_t *out, size_t n)
{
	const char *s;
	int r = json_get_string(obj, key, &s);

	if (r < 0)
		return r;
	return hex_decode_exact(s, out, n) < 0 ? -EINVAL : 0;
}

cJSON *json_add_hex(cJSON *obj, const char *key, const void *p, size_t n)
{
	/* the bytes may be a key (cvm pack's volume.key): the hex copy is wiped too */
	_cleanup_(wipe_freep) char *s = hex_encode_alloc(p, n);

	return s ? cJSON_AddStringToObject(obj, key, s) : NULL;
}

int json_add_base64(cJSON *obj, const char *key, const void *p, size_t n)
{
	_cleanup_free_ char *s = NULL;

	if (base64_encode(p, n, BASE64_STD, &s) < 0 || !cJSON_AddStringToObject(obj, key, s))
		return -ENOMEM;
	return 0;
}

cJSON *json_add_hex_array(cJSON *obj, const char *key, const void *p, size_t count, size_t each)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, key);

	for (size_t i = 0; arr && i < count; i++) {
		_cleanup_free_ char *s = hex_encode_alloc((const uint8_t *)p + i * each, each);

		if (!s || !cJSON_AddItemToArray(arr, cJSON_CreateString(s)))
			return NULL;
	}
	return arr;
}
