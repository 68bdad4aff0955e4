/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Solidity contract ABI (docs.soliditylang.org, "Contract ABI
 * Specification", § Formal Specification of the Encoding). Each argument
 * has one 32-byte word in the head: its value when static, else the offset
 * of its tail from the start of the encoding. A tail is
 *	bytes, string	a length word, the bytes, zeros to a whole word;
 *	T[]		a count word, then the items encoded as a list of their
 *			own: static items are their words, dynamic items have
 *			offsets counted from the word after the count.
 * Only one level of arrays is taken, so no walk here goes deeper than an
 * argument and its items: nothing recurses on the input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/abi.h"
#include "lib/lib.h"

#define TYPE_NAME_MAX 24 /* "uint256[]" with room */
#define WHY_MAX 160	 /* a reason, before "ABI: argument N (T): " is put in front */
#define NAME_SHOWN 40	 /* at most this much of a bad type name goes into a message */

static bool is_dynamic(const struct abi_type *t)
{
	return t->array || t->kind == ABI_BYTES || t->kind == ABI_STRING;
}

static struct abi_type element_of(const struct abi_type *t)
{
	return (struct abi_type){ .kind = t->kind, .size = t->size };
}

/* The canonical name of t, for messages. */
static void type_name(const struct abi_type *t, char out[TYPE_NAME_MAX])
{
	static const char *const names[] = {
		[ABI_NONE] = "?",	   [ABI_UINT] = "uint",	    [ABI_INT] = "int",
		[ABI_ADDRESS] = "address", [ABI_BOOL] = "bool",	    [ABI_FIXED_BYTES] = "bytes",
		[ABI_BYTES] = "bytes",	   [ABI_STRING] = "string",
	};
	const char *name = t->kind < ARRAY_SIZE(names) ? names[t->kind] : "?";
	const char *sfx = t->array ? "[]" : "";

	if (t->kind == ABI_UINT || t->kind == ABI_INT)
		snprintf(out, TYPE_NAME_MAX, "%s%u%s", name, 8u * t->size, sfx);
	else if (t->kind == ABI_FIXED_BYTES)
		snprintf(out, TYPE_NAME_MAX, "%s%u%s", name, (unsigned)t->size, sfx);
	else
		snprintf(out, TYPE_NAME_MAX, "%s%s", name, sfx);
}

/* ---- type lists ---- */

static bool is_name(const char *s, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(s, name, len) == 0;
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

static bool all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return len > 0;
}

/*
 * The M of uint<M>, int<M> or bytes<M> in s (all digits): 0 when it has a
 * leading zero (not canonical) or is too long to be any width.
 */
static unsigned width_of(const char *s, size_t len)
{
	unsigned v = 0;

	if (len > 3 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

/* The suffix of a type from its first '[': only "[]" is taken. */
static int parse_suffix(const char *s, size_t len, struct abi_type *t, char *why, size_t whylen)
{
	if (len == 2 && s[1] == ']') {
		t->array = true;
		return 0;
	}
	if (memchr(s + 1, '[', len - 1))
		return set_error(why, whylen, -EINVAL, "arrays of arrays are not supported");
	if (s[len - 1] == ']' && all_digits(s + 1, len - 2))
		return set_error(why, whylen, -EINVAL, "fixed-size arrays T[k] are not supported");
	return set_error(why, whylen, -EINVAL, "a malformed array suffix");
}

/* One canonical type name, s[0..len). */
static int parse_type(const char *s, size_t len, struct abi_type *t, char *why, size_t whylen)
{
	const char *bracket = memchr(s, '[', len);
	unsigned m;
	int r;

	*t = (struct abi_type){ 0 };
	if (len == 0)
		return set_error(why, whylen, -EINVAL, "an empty type name");
	if (memchr(s, '(', len) || memchr(s, ')', len))
		return set_error(why, whylen, -EINVAL, "tuples are not supported");
	if (bracket) {
		r = parse_suffix(bracket, len - (size_t)(bracket - s), t, why, whylen);
		if (r < 0)
			return r;
		len = (size_t)(bracket - s);
		if (len == 0)
			return set_error(why, whylen, -EINVAL, "an empty type name");
	}
	if (is_name(s, len, "address")) {
		t->kind = ABI_ADDRESS;
	} else if (is_name(s, len, "bool")) {
		t->kind = ABI_BOOL;
	} else if (is_name(s, len, "string")) {
		t->kind = ABI_STRING;
	} else if (is_name(s, len, "bytes")) {
		t->kind = ABI_BYTES;
	} else if (is_name(s, len, "uint") || is_name(s, len, "int")) {
		/* the selector hashes the canonical name: an alias would give another one */
		return set_error(why, whylen, -EINVAL, "not canonical: the name is %.*s256",
				 (int)len, s);
	} else if (is_name(s, len, "byte")) {
		return set_error(why, whylen, -EINVAL, "not canonical: the name is bytes1");
	} else if ((has_prefix(s, len, "uint") && all_digits(s + 4, len - 4)) ||
		   (has_prefix(s, len, "int") && all_digits(s + 3, len - 3))) {
		size_t skip = s[0] == 'u' ? 4 : 3;

		m = width_of(s + skip, len - skip);
		if (m < 8 || m > 256 || m % 8)
			return set_error(why, whylen, -EINVAL,
					 "the width is 8 to 256, a multiple of 8, no leading zero");
		t->kind = s[0] == 'u' ? ABI_UINT : ABI_INT;
		t->size = (uint8_t)(m / 8);
	} else if (has_prefix(s, len, "bytes") && all_digits(s + 5, len - 5)) {
		m = width_of(s + 5, len - 5);
		if (m < 1 || m > ABI_WORD)
			return set_error(why, whylen, -EINVAL,
					 "bytes<M> has M from 1 to 32, no leading zero");
		t->kind = ABI_FIXED_BYTES;
		t->size = (uint8_t)m;
	} else if (has_prefix(s, len, "fixed") || has_prefix(s, len, "ufixed")) {
		return set_error(why, whylen, -EINVAL, "fixed-point types are not supported");
	} else {
		return set_error(why, whylen, -EINVAL, "an unknown type");
	}
	return 0;
}

/* The list s[0..len): names separated by commas. */
static int parse_list(const char *s, size_t len, struct abi_types *types, char *err, size_t errlen)
{
	char why[WHY_MAX];
	size_t i = 0;
	int r;

	types->n = 0;
	for (size_t k = 0; k < len; k++)
		if (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r')
			return set_error(
				err, errlen, -EINVAL,
				"ABI: white space in a type list (canonical lists have none)");
	if (len == 0)
		return 0;
	for (;;) {
		const char *comma = memchr(s + i, ',', len - i);
		size_t end = comma ? (size_t)(comma - s) : len;

		if (types->n == ABI_MAX_ARGS)
			return set_error(err, errlen, -EINVAL, "ABI: more than %d types in a list",
					 ABI_MAX_ARGS);
		r = parse_type(s + i, end - i, &types->t[types->n], why, sizeof(why));
		if (r < 0)
			return set_error(err, errlen, r, "ABI: type %zu \"%.*s\": %s", types->n + 1,
					 (int)(end - i < NAME_SHOWN ? end - i : NAME_SHOWN), s + i,
					 why);
		types->n++;
		if (!comma)
			return 0;
		i = end + 1;
	}
}

int abi_types_parse(const char *list, struct abi_types *types, char *err, size_t errlen)
{
	if (!list)
		return set_error(err, errlen, -EINVAL, "ABI: no type list");
	return parse_list(list, strlen(list), types, err, errlen);
}

/* "name(types)": an identifier, then a canonical type list in parentheses. */
static int parse_signature(const char *sig, struct abi_types *types, char *err, size_t errlen)
{
	const char *open;
	size_t len;

	if (!sig)
		return set_error(err, errlen, -EINVAL, "ABI: no signature");
	len = strlen(sig);
	open = strchr(sig, '(');
	if (!open || sig[len - 1] != ')')
		return set_error(err, errlen, -EINVAL, "ABI: signature \"%.*s\" is not name(types)",
				 NAME_SHOWN, sig);
	if (open == sig || (sig[0] >= '0' && sig[0] <= '9'))
		return set_error(err, errlen, -EINVAL, "ABI: signature \"%.*s\" has no name",
				 NAME_SHOWN, sig);
	for (const char *c = sig; c < open; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '$'))
			return set_error(err, errlen, -EINVAL,
					 "ABI: signature \"%.*s\": the name is not an identifier",
					 NAME_SHOWN, sig);
	return parse_list(open + 1, len - (size_t)(open - sig) - 2, types, err, errlen);
}

int abi_selector(const char *signature, uint8_t out[ABI_SELECTOR_LEN])
{
	uint8_t h[KECCAK256_LEN];
	struct abi_types t;
	int r = parse_signature(signature, &t, NULL, 0);

	if (r < 0)
		return r;
	keccak256(signature, strlen(signature), h);
	memcpy(out, h, ABI_SELECTOR_LEN);
	return 0;
}

int abi_event_topic(const char *signature, uint8_t out[KECCAK256_LEN])
{
	struct abi_types t;
	int r = parse_signature(signature, &t, NULL, 0);

	if (r < 0)
		return r;
	keccak256(signature, strlen(signature), out);
	return 0;
}

/* ---- words ---- */

void abi_word_uint64(uint64_t v, uint8_t w[ABI_WORD])
{
	memset(w, 0, ABI_WORD - 8);
	for (unsigned i = 0; i < 8; i++)
		w[ABI_WORD - 1 - i] = (uint8_t)(v >> (8 * i));
}

void abi_word_int64(int64_t v, uint8_t w[ABI_WORD])
{
	abi_word_uint64((uint64_t)v, w);
	if (v < 0)
		memset(w, 0xff, ABI_WORD - 8);
}

void abi_word_address(const uint8_t addr[ETH_ADDRESS_LEN], uint8_t w[ABI_WORD])
{
	memset(w, 0, ABI_WORD - ETH_ADDRESS_LEN);
	memcpy(w + ABI_WORD - ETH_ADDRESS_LEN, addr, ETH_ADDRESS_LEN);
}

static uint64_t low64(const uint8_t w[ABI_WORD])
{
	uint64_t x = 0;

	for (unsigned i = ABI_WORD - 8; i < ABI_WORD; i++)
		x = x << 8 | w[i];
	return x;
}

int abi_word_to_uint64(const uint8_t w[ABI_WORD], uint64_t *v)
{
	if (!is_zero(w, ABI_WORD - 8))
		return -ERANGE;
	*v = low64(w);
	return 0;
}

int abi_word_to_int64(const uint8_t w[ABI_WORD], int64_t *v)
{
	/* it fits when the upper 24 bytes are all copies of bit 63 */
	uint8_t ext = w[ABI_WORD - 8] & 0x80 ? 0xff : 0x00;
	uint64_t x;

	for (unsigned i = 0; i < ABI_WORD - 8; i++)
		if (w[i] != ext)
			return -ERANGE;
	x = low64(w);
	/* two's complement by arithmetic: converting a uint64 above INT64_MAX is not portable */
	*v = x >> 63 ? -(int64_t)~x - 1 : (int64_t)x;
	return 0;
}

/* NULL when w is a word the static type t can hold, else why not. */
static const char *word_check(const struct abi_type *t, const uint8_t w[ABI_WORD])
{
	size_t m = t->size;
	uint8_t ext;

	/* a caller's array may carry any type: a width no list gives is not one to read by */
	if ((t->kind == ABI_UINT || t->kind == ABI_INT || t->kind == ABI_FIXED_BYTES) &&
	    (m < 1 || m > ABI_WORD))
		return "a type of no width";
	switch (t->kind) {
	case ABI_UINT:
		return is_zero(w, ABI_WORD - m) ? NULL : "bits set above the type's width";
	case ABI_INT:
		ext = w[ABI_WORD - m] & 0x80 ? 0xff : 0x00;
		for (size_t i = 0; i < ABI_WORD - m; i++)
			if (w[i] != ext)
				return "not sign-extended from the type's width";
		return NULL;
	case ABI_ADDRESS:
		if (!is_zero(w, ABI_WORD - ETH_ADDRESS_LEN))
			return "an address with its upper 12 bytes not zero";
		return NULL;
	case ABI_BOOL:
		if (!is_zero(w, ABI_WORD - 1) || w[ABI_WORD - 1] > 1)
			return "a bool other than 0 or 1";
		return NULL;
	case ABI_FIXED_BYTES:
		return is_zero(w + m, ABI_WORD - m) ? NULL : "bytes set after the type's width";
	default:
		return "not a static type";
	}
}

/*
 * The word w as a size, when it is at most max: one test refuses both a
 * value past the data and one that would not fit a size_t. *v is 0 when
 * it is refused, so that no caller reads it unset.
 */
static bool word_at_most(const uint8_t w[ABI_WORD], size_t max, size_t *v)
{
	uint64_t x = low64(w);

	*v = 0;
	if (!is_zero(w, ABI_WORD - 8) || x > max)
		return false;
	*v = (size_t)x;
	return true;
}

/* ---- decoding ---- */

/*
 * The offset in the head word w, counted from base, of a tail inside
 * base[0..size): a whole word past it must be there for its length or
 * count. size is at least one word (w is inside it).
 */
static int read_offset(size_t size, const uint8_t *w, size_t *off, char *why, size_t whylen)
{
	if (!word_at_most(w, size - ABI_WORD, off))
		return set_error(why, whylen, -EBADMSG,
				 "an offset past the end of the %zu bytes it counts in", size);
	if (*off % ABI_WORD)
		return set_error(why, whylen, -EBADMSG, "an offset of %zu, not a multiple of 32",
				 *off);
	return 0;
}

/* The bytes or string whose head word is w: a length word, the bytes, zero padding. */
static int read_bytes(const uint8_t *base, size_t size, const uint8_t *w, struct abi_value *v,
		      char *why, size_t whylen)
{
	size_t off, len, avail, pad;
	int r = read_offset(size, w, &off, why, whylen);

	if (r < 0)
		return r;
	avail = size - off - ABI_WORD;
	if (!word_at_most(base + off, avail, &len))
		return set_error(why, whylen, -EBADMSG, "a length past the end (%zu bytes remain)",
				 avail);
	pad = (ABI_WORD - len % ABI_WORD) % ABI_WORD;
	/* decoded data is whole words, so the padding is there; a caller's body may not be */
	if (pad > avail - len)
		return set_error(why, whylen, -EBADMSG, "the padding past the end");
	if (!is_zero(base + off + ABI_WORD + len, pad))
		return set_error(why, whylen, -EBADMSG, "padding after %zu bytes not zero", len);
	v->p = base + off + ABI_WORD;
	v->n = len;
	return 0;
}

/* Item i of an array body p[0..size) of count items (count words fit in size). */
static int body_item(const struct abi_type *elem, const uint8_t *p, size_t size, size_t i,
		     struct abi_value *item, char *why, size_t whylen)
{
	const uint8_t *w = p + ABI_WORD * i;
	const char *bad;

	*item = (struct abi_value){ .type = *elem };
	if (is_dynamic(elem))
		return read_bytes(p, size, w, item, why, whylen);
	bad = word_check(elem, w);
	if (bad)
		return set_error(why, whylen, -EBADMSG, "%s", bad);
	memcpy(item->word, w, ABI_WORD);
	return 0;
}

/* A T[] whose head word is w: its count, then every item checked. */
static int read_array(const struct abi_type *t, const uint8_t *data, size_t n, const uint8_t *w,
		      struct abi_value *v, char *why, size_t whylen)
{
	struct abi_type elem = element_of(t);
	struct abi_value item;
	char inner[WHY_MAX];
	size_t off, body, count;
	int r = read_offset(n, w, &off, why, whylen);

	if (r < 0)
		return r;
	body = n - off - ABI_WORD;
	if (!word_at_most(data + off, body / ABI_WORD, &count))
		return set_error(why, whylen, -EBADMSG,
				 "a count of items past the end (%zu bytes remain)", body);
	v->p = data + off + ABI_WORD;
	v->n = body;
	v->count = count;
	for (size_t i = 0; i < count; i++) {
		r = body_item(&elem, v->p, body, i, &item, inner, sizeof(inner));
		if (r < 0)
			return set_error(why, whylen, r, "item %zu: %s", i, inner);
	}
	return 0;
}

int abi_decode(const char *types, const uint8_t *data, size_t n, struct abi_value *out, size_t nout,
	       char *err, size_t errlen)
{
	struct abi_value vals[ABI_MAX_ARGS];
	char why[WHY_MAX], name[TYPE_NAME_MAX];
	struct abi_types t;
	int r = abi_types_parse(types, &t, err, errlen);

	if (r < 0)
		return r;
	if (t.n > nout || (t.n && !out))
		return set_error(err, errlen, -EINVAL, "ABI: %zu types, room for %zu values", t.n,
				 out ? nout : 0);
	if (n && !data)
		return set_error(err, errlen, -EINVAL, "ABI: no data");
	if (n % ABI_WORD)
		return set_error(err, errlen, -EBADMSG,
				 "ABI: %zu bytes, not a whole number of 32-byte words", n);
	if (n / ABI_WORD < t.n)
		return set_error(err, errlen, -EBADMSG,
				 "ABI: %zu bytes, shorter than the head of %zu", n, ABI_WORD * t.n);
	for (size_t i = 0; i < t.n; i++) {
		const struct abi_type *ti = &t.t[i];
		const uint8_t *w = data + ABI_WORD * i;
		struct abi_value *v = &vals[i];
		const char *bad;

		*v = (struct abi_value){ .type = *ti };
		if (ti->array) {
			r = read_array(ti, data, n, w, v, why, sizeof(why));
		} else if (is_dynamic(ti)) {
			r = read_bytes(data, n, w, v, why, sizeof(why));
		} else if ((bad = word_check(ti, w)) != NULL) {
			r = set_error(why, sizeof(why), -EBADMSG, "%s", bad);
		} else {
			memcpy(v->word, w, ABI_WORD);
			r = 0;
		}
		if (r < 0) {
			type_name(ti, name);
			return set_error(err, errlen, r, "ABI: argument %zu (%s): %s", i + 1, name,
					 why);
		}
	}
	if (t.n)
		memcpy(out, vals, t.n * sizeof(vals[0]));
	return 0;
}

/*
 * Item i (below the count) of the array arr of elem items, as
 * abi_array_item, with a bare reason. elem comes from the caller: an
 * array to encode need not carry its type.
 */
static int array_item(const struct abi_type *elem, const struct abi_value *arr, size_t i,
		      struct abi_value *item, char *why, size_t whylen)
{
	if (arr->items) {
		*item = arr->items[i];
		if (item->type.kind == ABI_NONE)
			item->type = *elem;
		return 0;
	}
	if (!arr->p || arr->count > arr->n / ABI_WORD)
		return set_error(why, whylen, -EINVAL, "an array body shorter than its count");
	return body_item(elem, arr->p, arr->n, i, item, why, whylen);
}

int abi_array_item(const struct abi_value *arr, size_t i, struct abi_value *item, char *err,
		   size_t errlen)
{
	struct abi_type elem = element_of(&arr->type);
	struct abi_value v;
	char why[WHY_MAX];
	int r;

	if (!arr->type.array)
		return set_error(err, errlen, -EINVAL, "ABI: not an array");
	if (i >= arr->count)
		return set_error(err, errlen, -EINVAL, "ABI: item %zu of an array of %zu", i,
				 arr->count);
	r = array_item(&elem, arr, i, &v, why, sizeof(why));
	if (r < 0)
		return set_error(err, errlen, r, "ABI: item %zu: %s", i, why);
	*item = v;
	return 0;
}

/* ---- encoding ---- */

static void put_size(struct rlp_buf *b, size_t v)
{
	uint8_t w[ABI_WORD];

	abi_word_uint64(v, w);
	rlp_put_raw(b, w, sizeof(w));
}

/*
 * Writes v into the word at pos, reserved by an earlier write. Once b has
 * failed that write may not have happened, so nothing is written then.
 */
static void set_size_at(struct rlp_buf *b, size_t pos, size_t v)
{
	if (!b->failed)
		abi_word_uint64(v, b->p + pos);
}

/* A zero kind means the list's type; another must be exactly it. */
static int check_type(const struct abi_type *want, const struct abi_value *v, char *why,
		      size_t whylen)
{
	char name[TYPE_NAME_MAX];

	if (v->type.kind == ABI_NONE || (v->type.kind == want->kind && v->type.size == want->size &&
					 v->type.array == want->array))
		return 0;
	type_name(&v->type, name);
	return set_error(why, whylen, -EINVAL, "a value tagged %s", name);
}

static int check_static(const struct abi_type *t, const struct abi_value *v, char *why,
			size_t whylen)
{
	const char *bad;
	int r = check_type(t, v, why, whylen);

	if (r < 0)
		return r;
	bad = word_check(t, v->word);
	if (bad)
		return set_error(why, whylen, -EINVAL, "%s", bad);
	return 0;
}

static int put_bytes_tail(struct rlp_buf *b, const struct abi_type *t, const struct abi_value *v,
			  char *why, size_t whylen)
{
	int r = check_type(t, v, why, whylen);

	if (r < 0)
		return r;
	if (v->n && !v->p)
		return set_error(why, whylen, -EINVAL, "no bytes for a length of %zu", v->n);
	put_size(b, v->n);
	rlp_put_raw(b, v->p, v->n);
	rlp_put_zeros(b, (ABI_WORD - v->n % ABI_WORD) % ABI_WORD);
	return 0;
}

static int put_array_tail(struct rlp_buf *b, const struct abi_type *t, const struct abi_value *v,
			  char *why, size_t whylen)
{
	struct abi_type elem = element_of(t);
	struct abi_value item;
	char inner[WHY_MAX];
	size_t heads;
	int r = check_type(t, v, why, whylen);

	if (r < 0)
		return r;
	if (v->count > SIZE_MAX / ABI_WORD)
		return set_error(why, whylen, -EINVAL, "a count of %zu items", v->count);
	put_size(b, v->count);
	heads = b->len;
	if (is_dynamic(&elem))
		rlp_put_zeros(b, ABI_WORD * v->count);
	for (size_t i = 0; i < v->count && !b->failed; i++) {
		r = array_item(&elem, v, i, &item, inner, sizeof(inner));
		if (r == 0 && is_dynamic(&elem)) {
			set_size_at(b, heads + ABI_WORD * i, b->len - heads);
			r = put_bytes_tail(b, &elem, &item, inner, sizeof(inner));
		} else if (r == 0 && (r = check_static(&elem, &item, inner, sizeof(inner))) == 0) {
			rlp_put_raw(b, item.word, ABI_WORD);
		}
		if (r < 0)
			return set_error(why, whylen, r, "item %zu: %s", i, inner);
	}
	return 0;
}

static int encode(const struct abi_types *t, const struct abi_value *vals, size_t n,
		  struct rlp_buf *out, char *err, size_t errlen)
{
	char why[WHY_MAX], name[TYPE_NAME_MAX];
	size_t base = out->len;
	int r = 0;

	if (n != t->n || (n && !vals))
		return set_error(err, errlen, -EINVAL, "ABI: %zu values for %zu types",
				 vals ? n : 0, t->n);
	rlp_put_zeros(out, ABI_WORD * t->n);
	for (size_t i = 0; i < t->n && !out->failed; i++) {
		const struct abi_type *ti = &t->t[i];
		size_t head = base + ABI_WORD * i;

		if (ti->array) {
			set_size_at(out, head, out->len - base);
			r = put_array_tail(out, ti, &vals[i], why, sizeof(why));
		} else if (is_dynamic(ti)) {
			set_size_at(out, head, out->len - base);
			r = put_bytes_tail(out, ti, &vals[i], why, sizeof(why));
		} else {
			r = check_static(ti, &vals[i], why, sizeof(why));
			if (r == 0 && !out->failed)
				memcpy(out->p + head, vals[i].word, ABI_WORD);
		}
		if (r < 0) {
			out->len = base;
			type_name(ti, name);
			return set_error(err, errlen, r, "ABI: argument %zu (%s): %s", i + 1, name,
					 why);
		}
	}
	if (out->failed)
		return set_error(err, errlen, -ENOMEM, "ABI: out of memory for the encoding");
	return 0;
}

int abi_encode(const char *types, const struct abi_value *vals, size_t n, struct rlp_buf *out,
	       char *err, size_t errlen)
{
	struct abi_types t;
	int r = abi_types_parse(types, &t, err, errlen);

	if (r < 0)
		return r;
	return encode(&t, vals, n, out, err, errlen);
}

int abi_encode_call(const char *signature, const struct abi_value *vals, size_t n,
		    struct rlp_buf *out, char *err, size_t errlen)
{
	uint8_t h[KECCAK256_LEN];
	struct abi_types t;
	size_t base = out->len;
	int r = parse_signature(signature, &t, err, errlen);

	if (r < 0)
		return r;
	keccak256(signature, strlen(signature), h);
	rlp_put_raw(out, h, ABI_SELECTOR_LEN);
	r = encode(&t, vals, n, out, err, errlen);
	if (r < 0)
		out->len = base;
	return r;
}
