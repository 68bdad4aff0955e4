/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 8785 JSON Canonicalization Scheme. Members are sorted by the UTF-16
 * code units of their names (§3.2.3), strings carry the fewest escapes
 * (§3.2.2.2) and numbers print as ECMAScript's Number.prototype.toString
 * (§3.2.2.3, ECMA-262 Number::toString).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/lib.h"

struct out {
	char *buf;
	size_t len, cap;
	int err;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->err)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		char *b;

		while (cap < o->len + n + 1)
			cap *= 2;
		b = realloc(o->buf, cap);
		if (!b) {
			o->err = -ENOMEM;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = 0;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/*
 * ECMA-262 Number::toString for a finite double: the shortest decimal that
 * reads back to the same value, placed by its exponent.
 */
static int format_number(double d, char *buf, size_t cap)
{
	char digits[32], tmp[40];
	int k = 0, n, e;

	if (!isfinite(d))
		return -EINVAL;
	if (d == 0) {
		snprintf(buf, cap, "0");
		return 0;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	/* tmp is [-]D[.DDD]e[+-]XX */
	{
		const char *s = tmp;
		char *ep;

		if (*s == '-')
			s++;
		for (; *s && *s != 'e'; s++)
			if (*s != '.')
				digits[k++] = *s;
		e = (int)strtol(s + 1, &ep, 10);
	}
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = 0;
	n = e + 1; /* the value is 0.digits x 10^n */

	{
		char *b = buf;
		size_t left = cap;
		int w;

#define EMIT(...)                                   \
	do {                                        \
		w = snprintf(b, left, __VA_ARGS__); \
		if (w < 0 || (size_t)w >= left)     \
			return -E2BIG;              \
		b += w;                             \
		left -= (size_t)w;                  \
	} while (0)

		if (d < 0)
			EMIT("-");
		if (k <= n && n <= 21) {
			EMIT("%s%.*s", digits, n - k, "000000000000000000000");
		} else if (0 < n && n <= 21) {
			EMIT("%.*s.%s", n, digits, digits + n);
		} else if (-6 < n && n <= 0) {
			EMIT("0.%.*s%s", -n, "000000", digits);
		} else {
			if (k == 1)
				EMIT("%c", digits[0]);
			else
				EMIT("%c.%s", digits[0], digits + 1);
			EMIT("e%c%d", n - 1 >= 0 ? '+' : '-', n - 1 >= 0 ? n - 1 : 1 - n);
		}
#undef EMIT
	}
	return 0;
}

/* RFC 8785 §3.2.2.2: the two-character escapes; other controls become \u00xx. */
static const char *const short_escape[0x60] = {
	['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
	['\n'] = "\\n", ['\r'] = "\\r",	 ['\t'] = "\\t",
};

static void put_string(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (!utf8_valid((const uint8_t *)s, n)) {
		o->err = o->err ? o->err : -EINVAL;
		return;
	}
	put(o, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];

		if (*p < ARRAY_SIZE(short_escape) && short_escape[*p]) {
			puts_(o, short_escape[*p]);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			puts_(o, esc);
		} else {
			put(o, (const char *)p, 1);
		}
	}
	put(o, "\"", 1);
}

/* Next UTF-16 code unit of a valid UTF-8 string; *pending holds a low surrogate. */
static uint32_t next_unit(const unsigned char **p, uint32_t *pending)
{
	const unsigned char *s = *p;
	uint32_t cp;

	if (*pending) {
		cp = *pending;
		*pending = 0;
		return cp;
	}
	if (s[0] < 0x80) {
		cp = s[0];
		*p += 1;
	} else if (s[0] < 0xe0) {
		cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		*p += 2;
	} else if (s[0] < 0xf0) {
		cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		*p += 3;
	} else {
		cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
		     (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		*p += 4;
		cp -= 0x10000;
		*pending = 0xdc00 | (cp & 0x3ff);
		return 0xd800 | (cp >> 10);
	}
	return cp;
}

static int utf16_cmp(const char *a, const char *b)
{
	const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
	uint32_t qa = 0, qb = 0;

	for (;;) {
		bool ea = !*pa && !qa, eb = !*pb && !qb;
		uint32_t ua, ub;

		if (ea || eb)
			return ea && eb ? 0 : ea ? -1 : 1;
		ua = next_unit(&pa, &qa);
		ub = next_unit(&pb, &qb);
		if (ua != ub)
			return ua < ub ? -1 : 1;
	}
}

static int member_cmp(const void *x, const void *y)
{
	const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;

	return utf16_cmp(a->string, b->string);
}

static void put_value(struct out *o, const cJSON *v, int depth)
{
	char num[40];

	if (o->err)
		return;
	if (depth > 64) {
		o->err = -EINVAL;
		return;
	}
	if (cJSON_IsNull(v)) {
		puts_(o, "null");
	} else if (cJSON_IsTrue(v)) {
		puts_(o, "true");
	} else if (cJSON_IsFalse(v)) {
		puts_(o, "false");
	} else if (cJSON_IsNumber(v)) {
		if (format_number(v->valuedouble, num, sizeof(num)) < 0)
			o->err = -EINVAL;
		else
			puts_(o, num);
	} else if (cJSON_IsString(v)) {
		put_string(o, v->valuestring);
	} else if (cJSON_IsArray(v)) {
		put(o, "[", 1);
		for (const cJSON *c = v->child; c; c = c->next) {
			if (c != v->child)
				put(o, ",", 1);
			put_value(o, c, depth + 1);
		}
		put(o, "]", 1);
	} else if (cJSON_IsObject(v)) {
		size_t n = 0, i = 0;
		const cJSON **m;

		for (const cJSON *c = v->child; c; c = c->next)
			n++;
		m = calloc(n ? n : 1, sizeof(*m));
		if (!m) {
			o->err = -ENOMEM;
			return;
		}
		for (const cJSON *c = v->child; c; c = c->next) {
			if (!c->string ||
			    !utf8_valid((const uint8_t *)c->string, strlen(c->string)))
				o->err = -EINVAL;
			m[i++] = c;
		}
		if (!o->err)
			qsort(m, n, sizeof(*m), member_cmp);
		put(o, "{", 1);
		for (i = 0; i < n && !o->err; i++) {
			if (i)
				put(o, ",", 1);
			put_string(o, m[i]->string);
			put(o, ":", 1);
			put_value(o, m[i], depth + 1);
		}
		put(o, "}", 1);
		free(m);
	} else {
		o->err = -EINVAL; /* cJSON_Raw and invalid items have no canonical form */
	}
}

int jcs_serialize(const cJSON *v, char **out, size_t *len)
{
	struct out o = { 0 };

	put_value(&o, v, 0);
	if (!o.err && !o.buf)
		o.err = -EINVAL;
	if (o.err) {
		free(o.buf);
		return o.err;
	}
	*out = o.buf;
	*len = o.len;
	return 0;
}
