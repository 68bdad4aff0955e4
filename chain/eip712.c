/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EIP-712 typed structured data:
 *	digest     = keccak256(0x19 0x01 || domainSeparator || hashStruct(message))
 *	hashStruct = keccak256(typeHash || encodeData(s))
 *	typeHash   = keccak256(encodeType): "Name(type1 name1,...)" and then
 *		     each struct type it refers to, at any depth, sorted by name
 * and in encodeData each field is 32 bytes: an atomic value padded, the
 * keccak256 of a string's or bytes' contents, hashStruct of a struct, and
 * for an array the keccak256 of its elements' encodings in a row
 * (eth_signTypedData_v4; ethers 6 does the same).
 *
 * The JSON is what a wallet is asked to sign, so it is read as hostile:
 * every type is checked before any value, types may not refer to
 * themselves at any depth, values nest at most EIP712_MAX_DEPTH deep and
 * at most EIP712_MAX_VALUES are encoded for one hash. Recursion follows
 * the value's nesting and so is bounded by the depth.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/eip712.h"
#include "lib/lib.h"

#define EIP712_DOMAIN "EIP712Domain"
#define SAFE_INTEGER_MAX 9007199254740991.0 /* 2^53 - 1 */
/* an array's length as a type writes it: 9 digits keep the parse in range */
#define ARRAY_DIGITS_MAX 9

enum base_kind { B_UINT, B_INT, B_ADDRESS, B_BOOL, B_BYTES_N, B_BYTES, B_STRING, B_STRUCT };

/* What a field's type is once its array brackets are taken off. */
struct base {
	enum base_kind kind;
	unsigned n;  /* bits of uintN and intN, bytes of bytesN */
	size_t type; /* a struct's index */
};

struct field {
	const char *owner; /* the struct's name, for messages */
	const char *name;
	const char *type; /* as written, brackets and all: encodeType's text */
	size_t type_len;
	struct base base;
};

struct stype {
	const char *name;
	struct field f[EIP712_MAX_FIELDS];
	size_t nf;
	uint64_t deps; /* the struct types it refers to, at any depth: bit i for type i */
	uint8_t state; /* the cycle search: 0 not seen, 1 on the path, 2 done */
	bool hashed;
	uint8_t type_hash[KECCAK256_LEN];
};

_Static_assert(EIP712_MAX_TYPES <= 64, "a type's deps are a 64-bit set");

struct e712 {
	struct stype t[EIP712_MAX_TYPES];
	size_t nt;
	size_t by_name[EIP712_MAX_TYPES]; /* encodeType's order */
	size_t work;
	char *err;
	size_t errlen;
};

/* Refuses the input: "EIP-712: " and the reason. */
static int fail(struct e712 *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct e712 *c, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return set_error(c->err, c->errlen, -EBADMSG, "EIP-712: %s", what);
}

/* Refuses a value of field f: "Owner.field: why". */
static int bad_value(struct e712 *c, const struct field *f, const char *why)
{
	return set_error(c->err, c->errlen, -EBADMSG, "EIP-712: %.48s.%.48s: %s", f->owner, f->name,
			 why);
}

/*
 * Names of types and fields: a Solidity identifier. encodeType writes them
 * with ' ', ',' and brackets around them, so any of those inside a name
 * could make two different types read as one text.
 */
static bool identifier(const char *s, size_t n)
{
	if (n == 0 || n > EIP712_MAX_NAME || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '$'))
			return false;
	}
	return true;
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);

	return n >= k && memcmp(s, p, k) == 0;
}

/* n decimal digits without a leading zero, as a number up to max: false otherwise. */
static bool small_number(const char *s, size_t n, unsigned max, unsigned *v)
{
	unsigned x = 0;

	if (n == 0 || n > ARRAY_DIGITS_MAX || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	if (x > max)
		return false;
	*v = x;
	return true;
}

/* Whether s (n bytes) is digits only, or nothing. */
static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * The atomic and dynamic types by name: 1 with *b set, 0 when s is no such
 * name (a struct's, perhaps), -1 when it is uint, int or bytes and digits
 * that name no type (uint7, bytes33, int08). uint and int alone are
 * refused too: ethers renames them uint256 and int256 in the type's hash
 * and eth-sig-util does not.
 */
static int atomic_type(const char *s, size_t n, struct base *b)
{
	static const struct {
		const char *name;
		enum base_kind kind;
	} fixed[] = {
		{ "address", B_ADDRESS },
		{ "bool", B_BOOL },
		{ "string", B_STRING },
		{ "bytes", B_BYTES },
	};
	unsigned v;
	size_t k;

	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		if (strlen(fixed[i].name) == n && memcmp(s, fixed[i].name, n) == 0) {
			*b = (struct base){ .kind = fixed[i].kind };
			return 1;
		}
	}
	k = has_prefix(s, n, "uint") ? 4 : has_prefix(s, n, "int") ? 3 : 0;
	if (k && all_digits(s + k, n - k)) {
		if (!small_number(s + k, n - k, 256, &v) || v == 0 || v % 8)
			return -1;
		*b = (struct base){ .kind = s[0] == 'u' ? B_UINT : B_INT, .n = v };
		return 1;
	}
	if (has_prefix(s, n, "bytes") && all_digits(s + 5, n - 5)) {
		if (!small_number(s + 5, n - 5, 32, &v) || v == 0)
			return -1;
		*b = (struct base){ .kind = B_BYTES_N, .n = v };
		return 1;
	}
	return 0;
}

static bool find_struct(const struct e712 *c, const char *s, size_t n, size_t *idx)
{
	for (size_t i = 0; i < c->nt; i++) {
		if (strlen(c->t[i].name) == n && memcmp(c->t[i].name, s, n) == 0) {
			*idx = i;
			return true;
		}
	}
	return false;
}

/*
 * A field's type: a base name, then up to EIP712_MAX_DEPTH array suffixes,
 * "[]" or "[k]" with 1 <= k and no leading zero.
 */
static int parse_field_type(struct e712 *c, struct field *f)
{
	const char *s = f->type;
	size_t n = f->type_len, blen = 0, dims = 0;
	int r;

	while (blen < n && s[blen] != '[')
		blen++;
	for (size_t i = blen; i < n;) {
		size_t j = i + 1;
		unsigned k;

		while (j < n && s[j] != ']')
			j++;
		if (s[i] != '[' || j == n ||
		    (j > i + 1 && !small_number(s + i + 1, j - i - 1, 1000000000, &k)) ||
		    (j > i + 1 && k == 0))
			return fail(c, "type \"%.64s\": bad array brackets", s);
		if (++dims > EIP712_MAX_DEPTH)
			return fail(c, "type \"%.64s\": too many array dimensions", s);
		i = j + 1;
	}
	if (!identifier(s, blen))
		return fail(c, "type \"%.64s\": not a type name", s);
	r = atomic_type(s, blen, &f->base);
	if (r < 0)
		return fail(c, "type \"%.64s\": no such atomic type", s);
	if (r == 1)
		return 0;
	if (!find_struct(c, s, blen, &f->base.type))
		return fail(c, "type \"%.64s\": unknown (not defined in types)", s);
	f->base.kind = B_STRUCT;
	return 0;
}

/* One struct type's field list: [{"name": ..., "type": ...}, ...]. */
static int load_fields(struct e712 *c, struct stype *t, const cJSON *fields)
{
	static const char *const members[] = { "name", "type" };
	const cJSON *o;
	int r;

	if (!cJSON_IsArray(fields))
		return fail(c, "types.%.64s: not an array of fields", t->name);
	cJSON_ArrayForEach(o, fields) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
		struct field *f;

		if (t->nf == EIP712_MAX_FIELDS)
			return fail(c, "types.%.64s: more than 64 fields", t->name);
		if (!cJSON_IsObject(o) || !cJSON_IsString(name) || !cJSON_IsString(type) ||
		    json_unknown_member(o, members, ARRAY_SIZE(members)))
			return fail(c, "types.%.64s: a field not {\"name\", \"type\"}", t->name);
		if (!identifier(name->valuestring, strlen(name->valuestring)))
			return fail(c, "types.%.64s: field name \"%.64s\" not an identifier",
				    t->name, name->valuestring);
		for (size_t i = 0; i < t->nf; i++)
			if (strcmp(t->f[i].name, name->valuestring) == 0)
				return fail(c, "types.%.64s: field \"%.64s\" twice", t->name,
					    name->valuestring);
		f = &t->f[t->nf++];
		*f = (struct field){ .owner = t->name,
				     .name = name->valuestring,
				     .type = type->valuestring,
				     .type_len = strlen(type->valuestring) };
		r = parse_field_type(c, f);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Depth-first over struct references: a type met again on its own path is a cycle. */
static int walk_deps(struct e712 *c, size_t i)
{
	struct stype *t = &c->t[i];
	int r;

	if (t->state == 2)
		return 0;
	if (t->state == 1)
		return fail(c, "type %.64s refers to itself (cyclic types are refused)", t->name);
	t->state = 1;
	for (size_t k = 0; k < t->nf; k++) {
		size_t s = t->f[k].base.type;

		if (t->f[k].base.kind != B_STRUCT)
			continue;
		r = walk_deps(c, s);
		if (r < 0)
			return r;
		t->deps |= ((uint64_t)1 << s) | c->t[s].deps;
	}
	t->state = 2;
	return 0;
}

/* Checks every type of the "types" object, and orders them for encodeType. */
static int load_types(struct e712 *c, const cJSON *types)
{
	const cJSON *m;
	size_t i;
	int r;

	if (!cJSON_IsObject(types))
		return fail(c, "types is not an object");
	cJSON_ArrayForEach(m, types) {
		struct base b;

		if (c->nt == EIP712_MAX_TYPES)
			return fail(c, "more than 64 types");
		if (!identifier(m->string, strlen(m->string)))
			return fail(c, "type name \"%.64s\" not an identifier", m->string);
		/* a struct named like an atomic type would read as the one or the other */
		if (atomic_type(m->string, strlen(m->string), &b) != 0)
			return fail(c, "type name \"%.64s\" is an atomic type's", m->string);
		c->t[c->nt++].name = m->string;
	}
	/* names first: fields refer to types defined later in the object too */
	i = 0;
	cJSON_ArrayForEach(m, types) {
		r = load_fields(c, &c->t[i++], m);
		if (r < 0)
			return r;
	}
	for (i = 0; i < c->nt; i++) {
		r = walk_deps(c, i);
		if (r < 0)
			return r;
	}
	/* by name, bytewise: identifiers are ASCII, so as JavaScript's sort() orders them */
	for (i = 0; i < c->nt; i++) {
		size_t k = i;

		while (k > 0 && strcmp(c->t[c->by_name[k - 1]].name, c->t[i].name) > 0) {
			c->by_name[k] = c->by_name[k - 1];
			k--;
		}
		c->by_name[k] = i;
	}
	return 0;
}

/* "Name(type1 name1,type2 name2)" into the hash. */
static void put_type(struct keccak256 *k, const struct stype *t)
{
	keccak256_update(k, t->name, strlen(t->name));
	keccak256_update(k, "(", 1);
	for (size_t i = 0; i < t->nf; i++) {
		if (i)
			keccak256_update(k, ",", 1);
		keccak256_update(k, t->f[i].type, t->f[i].type_len);
		keccak256_update(k, " ", 1);
		keccak256_update(k, t->f[i].name, strlen(t->f[i].name));
	}
	keccak256_update(k, ")", 1);
}

/* typeHash, made once per type and call. */
static const uint8_t *type_hash(struct e712 *c, size_t i)
{
	struct stype *t = &c->t[i];
	struct keccak256 k;

	if (t->hashed)
		return t->type_hash;
	keccak256_init(&k);
	put_type(&k, t);
	for (size_t j = 0; j < c->nt; j++)
		if ((t->deps >> c->by_name[j]) & 1)
			put_type(&k, &c->t[c->by_name[j]]);
	keccak256_final(&k, t->type_hash);
	t->hashed = true;
	return t->type_hash;
}

/* ---- values ---- */

static int nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * An integer: a JSON number (integral, at most 2^53 - 1 in magnitude: past
 * that a double may already be another number than the one written, as
 * ethers also refuses), or a string of decimal digits (no leading zero) or
 * of "0x" and hex digits, either with a leading '-'. The magnitude goes
 * into mag (big-endian); NULL, or the reason it is refused.
 */
static const char *read_int(const cJSON *v, bool *neg, uint8_t mag[32])
{
	const char *s;
	size_t n;

	memset(mag, 0, 32);
	*neg = false;
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		uint64_t m;

		if (d != floor(d) || fabs(d) > SAFE_INTEGER_MAX)
			return "a JSON number that is no integer below 2^53 (write it as a string)";
		*neg = d < 0;
		m = (uint64_t)fabs(d);
		for (unsigned i = 0; i < 8; i++)
			mag[31 - i] = (uint8_t)(m >> (8 * i));
		return NULL;
	}
	if (!cJSON_IsString(v))
		return "neither a number nor a string of one";
	s = v->valuestring;
	if (*s == '-') {
		*neg = true;
		s++;
	}
	if (s[0] == '0' && s[1] == 'x') {
		s += 2;
		if (!*s)
			return "\"0x\" and no digits";
		for (; *s; s++) {
			int x = nibble(*s);

			if (x < 0)
				return "not a hex number";
			if (mag[0] >> 4)
				return "a number past 2^256";
			for (unsigned i = 0; i < 31; i++)
				mag[i] = (uint8_t)(mag[i] << 4 | mag[i + 1] >> 4);
			mag[31] = (uint8_t)(mag[31] << 4 | x);
		}
	} else {
		n = strlen(s);
		if (n == 0 || (s[0] == '0' && n > 1))
			return "not a decimal number (digits, no leading zero)";
		for (; *s; s++) {
			unsigned carry;

			if (*s < '0' || *s > '9')
				return "not a decimal number (digits, no leading zero)";
			carry = (unsigned)(*s - '0');
			for (int i = 31; i >= 0; i--) {
				unsigned x = mag[i] * 10u + carry;

				mag[i] = (uint8_t)x;
				carry = x >> 8;
			}
			if (carry)
				return "a number past 2^256";
		}
	}
	/* "-0" is 0 */
	if (is_zero(mag, 32))
		*neg = false;
	return NULL;
}

/* Whether mag < 2^k (k <= 256). */
static bool below_pow2(const uint8_t mag[32], unsigned k)
{
	for (unsigned j = 0; j < 32; j++) {
		unsigned low = (31 - j) * 8; /* the weight of byte j's lowest bit */

		if (low >= k && mag[j])
			return false;
		if (low < k && k < low + 8 && mag[j] >> (k - low))
			return false;
	}
	return true;
}

/* Whether mag == 2^k (k < 256). */
static bool is_pow2(const uint8_t mag[32], unsigned k)
{
	for (unsigned j = 0; j < 32; j++) {
		uint8_t want = 31 - j == k / 8 ? (uint8_t)(1u << (k % 8)) : 0;

		if (mag[j] != want)
			return false;
	}
	return true;
}

/* uintN and intN: in range, then 32 bytes big-endian, negatives in two's complement. */
static int encode_int(struct e712 *c, const struct field *f, const cJSON *v, uint8_t out[32])
{
	bool neg, sgn = f->base.kind == B_INT;
	unsigned bits = f->base.n;
	const char *why = read_int(v, &neg, out);
	char msg[64];

	if (why)
		return bad_value(c, f, why);
	if (neg && !sgn)
		return bad_value(c, f, "a negative number for an unsigned type");
	/* uintN: below 2^N; intN: -2^(N-1) to 2^(N-1) - 1 */
	if (!below_pow2(out, sgn ? bits - 1 : bits) && !(neg && is_pow2(out, bits - 1))) {
		snprintf(msg, sizeof(msg), "out of range for %s%u", sgn ? "int" : "uint", bits);
		return bad_value(c, f, msg);
	}
	if (neg) {
		unsigned carry = 1;

		for (int i = 31; i >= 0; i--) {
			unsigned x = (uint8_t)~out[i] + carry;

			out[i] = (uint8_t)x;
			carry = x >> 8;
		}
	}
	return 0;
}

/*
 * "0x" and an even number of hex digits: fed to k when given, else exactly
 * want bytes into out.
 */
static const char *read_bytes(const cJSON *v, struct keccak256 *k, uint8_t *out, size_t want)
{
	uint8_t chunk[64];
	const char *s;
	size_t n, got = 0, in = 0;

	if (!cJSON_IsString(v))
		return "not a string of \"0x\" and hex digits";
	s = v->valuestring;
	n = strlen(s);
	if (n < 2 || s[0] != '0' || s[1] != 'x' || n % 2)
		return "not \"0x\" and an even number of hex digits";
	if (!k && (n - 2) / 2 != want)
		return "not as many bytes as its type has";
	for (size_t i = 2; i < n; i += 2) {
		int hi = nibble(s[i]), lo = nibble(s[i + 1]);

		if (hi < 0 || lo < 0)
			return "not \"0x\" and an even number of hex digits";
		chunk[in++] = (uint8_t)(hi << 4 | lo);
		if (in == sizeof(chunk) || i + 2 == n) {
			if (k)
				keccak256_update(k, chunk, in);
			else
				memcpy(out + got, chunk, in);
			got += in;
			in = 0;
		}
	}
	return NULL;
}

static int hash_struct(struct e712 *c, size_t ti, const cJSON *v, unsigned depth,
		       uint8_t out[KECCAK256_LEN]);

/* The atomic and dynamic types' 32 bytes. */
static int encode_base(struct e712 *c, const struct field *f, const cJSON *v,
		       uint8_t out[KECCAK256_LEN])
{
	struct keccak256 k;
	const char *why;

	memset(out, 0, KECCAK256_LEN);
	switch (f->base.kind) {
	case B_UINT:
	case B_INT:
		return encode_int(c, f, v, out);
	case B_ADDRESS:
		/* "0x" and 40 hex digits; mixed case must be the EIP-55 checksum */
		if (!cJSON_IsString(v) ||
		    eth_address_parse(v->valuestring, out + KECCAK256_LEN - ETH_ADDRESS_LEN) < 0)
			return bad_value(c, f, "not an address (\"0x\", 40 hex digits, EIP-55)");
		return 0;
	case B_BOOL:
		/* true and false only: ethers would take any JavaScript truthiness */
		if (!cJSON_IsBool(v))
			return bad_value(c, f, "not true or false");
		out[KECCAK256_LEN - 1] = cJSON_IsTrue(v) ? 1 : 0;
		return 0;
	case B_BYTES_N:
		why = read_bytes(v, NULL, out, f->base.n);
		return why ? bad_value(c, f, why) : 0;
	case B_BYTES:
		keccak256_init(&k);
		why = read_bytes(v, &k, NULL, 0);
		keccak256_final(&k, out);
		return why ? bad_value(c, f, why) : 0;
	case B_STRING:
		if (!cJSON_IsString(v))
			return bad_value(c, f, "not a string");
		keccak256(v->valuestring, strlen(v->valuestring), out);
		return 0;
	case B_STRUCT:
		break;
	}
	return -EINVAL;
}

/*
 * The 32 bytes of field f's value v, its type the first len bytes of
 * f->type: with brackets last, an array of the type before them.
 */
static int encode_field(struct e712 *c, const struct field *f, size_t len, const cJSON *v,
			unsigned depth, uint8_t out[KECCAK256_LEN])
{
	uint8_t e[KECCAK256_LEN];
	struct keccak256 k;
	const cJSON *el;
	size_t lb, count = 0;
	unsigned want = 0;
	bool fixed;
	int r;

	if (depth > EIP712_MAX_DEPTH)
		return bad_value(c, f, "nested more than 16 deep");
	if (++c->work > EIP712_MAX_VALUES)
		return bad_value(c, f, "more than 65536 values in all");
	if (f->type[len - 1] != ']') {
		if (f->base.kind == B_STRUCT)
			return hash_struct(c, f->base.type, v, depth, out);
		return encode_base(c, f, v, out);
	}
	lb = len - 1;
	while (f->type[lb] != '[')
		lb--;
	fixed = lb + 2 < len;
	if (fixed && !small_number(f->type + lb + 1, len - lb - 2, 1000000000, &want))
		return bad_value(c, f, "bad array brackets"); /* checked with the types already */
	if (!cJSON_IsArray(v))
		return bad_value(c, f, "not an array");
	keccak256_init(&k);
	cJSON_ArrayForEach(el, v) {
		count++;
		if (fixed && count > want)
			break;
		r = encode_field(c, f, lb, el, depth + 1, e);
		if (r < 0) {
			keccak256_final(&k, e);
			return r;
		}
		keccak256_update(&k, e, sizeof(e));
	}
	keccak256_final(&k, out);
	if (fixed && count != want)
		return bad_value(c, f, "not as many elements as its type has");
	return 0;
}

/*
 * hashStruct of v as struct type ti. v must have exactly the type's
 * fields. A missing one has no value to sign. An extra one wallets ignore
 * (it is hashed nowhere) but may well show: cvm checks what it is shown,
 * so what is shown must be what is signed.
 */
static int hash_struct(struct e712 *c, size_t ti, const cJSON *v, unsigned depth,
		       uint8_t out[KECCAK256_LEN])
{
	const struct stype *t = &c->t[ti];
	uint8_t e[KECCAK256_LEN];
	struct keccak256 k;
	const cJSON *m;
	size_t members = 0;
	int r;

	if (depth > EIP712_MAX_DEPTH)
		return fail(c, "a %.64s nested more than 16 deep", t->name);
	if (!cJSON_IsObject(v))
		return fail(c, "a %.64s value that is not an object", t->name);
	for (size_t i = 0; i < t->nf; i++)
		if (!cJSON_GetObjectItemCaseSensitive(v, t->f[i].name))
			return fail(c, "a %.64s without its field %.64s", t->name, t->f[i].name);
	/* every field there and no more members than fields: no duplicates (json_parse), no extras */
	cJSON_ArrayForEach(m, v) {
		bool known = false;

		for (size_t i = 0; i < t->nf && !known; i++)
			known = strcmp(m->string, t->f[i].name) == 0;
		if (!known)
			return fail(c, "a %.64s with a member \"%.64s\" its type has not", t->name,
				    m->string);
		if (++members > t->nf)
			return fail(c, "a %.64s with a member twice", t->name);
	}
	keccak256_init(&k);
	keccak256_update(&k, type_hash(c, ti), KECCAK256_LEN);
	for (size_t i = 0; i < t->nf; i++) {
		const struct field *f = &t->f[i];

		r = encode_field(c, f, f->type_len, cJSON_GetObjectItemCaseSensitive(v, f->name),
				 depth + 1, e);
		if (r < 0) {
			keccak256_final(&k, e);
			return r;
		}
		keccak256_update(&k, e, sizeof(e));
	}
	keccak256_final(&k, out);
	return 0;
}

static struct e712 *e712_new(const cJSON *types, char *err, size_t errlen, int *r)
{
	struct e712 *c = calloc(1, sizeof(*c));

	if (!c) {
		*r = set_error(err, errlen, -ENOMEM, "EIP-712: out of memory");
		return NULL;
	}
	c->err = err;
	c->errlen = errlen;
	*r = load_types(c, types);
	if (*r < 0) {
		free(c);
		return NULL;
	}
	return c;
}

int eip712_hash_struct(const cJSON *types, const char *type_name, const cJSON *value,
		       uint8_t out[KECCAK256_LEN], char *err, size_t errlen)
{
	struct e712 *c;
	size_t ti;
	int r;

	if (!type_name || !out)
		return set_error(err, errlen, -EINVAL, "EIP-712: no type to hash");
	c = e712_new(types, err, errlen, &r);
	if (!c)
		return r;
	if (!find_struct(c, type_name, strlen(type_name), &ti))
		r = fail(c, "no type %.64s in types", type_name);
	else
		r = hash_struct(c, ti, value, 0, out);
	free(c);
	return r;
}

/*
 * What the tree cJSON makes cannot show, read off the text: a number
 * written with a fraction or an exponent ("1.0000000000000000001" reads
 * as 1, "1e2" as 100) or a leading zero, and "\u0000" in a string (cJSON's
 * copy ends there). Either way the hash would be of other than what was
 * written, so both are refused. The text is valid JSON already.
 */
static int check_text(const char *s, size_t n, char *err, size_t errlen)
{
	bool in_string = false;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (in_string) {
			if (ch == '"') {
				in_string = false;
			} else if (ch == '\\') {
				if (n - i > 5 && s[i + 1] == 'u' &&
				    memcmp(s + i + 2, "0000", 4) == 0)
					return set_error(err, errlen, -EBADMSG,
							 "EIP-712: a string with \\u0000 in it");
				i++; /* the escaped character, a quote or a backslash perhaps */
			}
			continue;
		}
		if (ch == '"') {
			in_string = true;
		} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t j = ch == '-' ? i + 1 : i;

			if (j + 1 < n && s[j] == '0' && s[j + 1] >= '0' && s[j + 1] <= '9')
				return set_error(err, errlen, -EBADMSG,
						 "EIP-712: a number with a leading zero");
			while (j < n && s[j] >= '0' && s[j] <= '9')
				j++;
			if (j < n && (s[j] == '.' || s[j] == 'e' || s[j] == 'E'))
				return set_error(err, errlen, -EBADMSG,
						 "EIP-712: a number with a fraction or an exponent "
						 "(write it as a string)");
			i = j - 1;
		}
	}
	return 0;
}

/*
 * The domain's type: the EIP's five fields or some of them, in the EIP's
 * order, with its types. ethers builds EIP712Domain from the domain's keys
 * in just this way; another type (salt a string, a field of its own) would
 * hash one way in one wallet and another way in the next.
 */
static int check_domain_type(struct e712 *c, size_t di)
{
	static const struct {
		const char *name, *type;
	} eip[] = {
		{ "name", "string" },	  { "version", "string" },
		{ "chainId", "uint256" }, { "verifyingContract", "address" },
		{ "salt", "bytes32" },
	};
	const struct stype *t = &c->t[di];
	size_t next = 0;

	for (size_t i = 0; i < t->nf; i++) {
		size_t k = next;

		while (k < ARRAY_SIZE(eip) && strcmp(eip[k].name, t->f[i].name) != 0)
			k++;
		if (k == ARRAY_SIZE(eip))
			return fail(
				c,
				"EIP712Domain: field %.64s not one of the EIP's, or out of order",
				t->f[i].name);
		if (strcmp(eip[k].type, t->f[i].type) != 0)
			return fail(c, "EIP712Domain: field %.64s not of type %s", t->f[i].name,
				    eip[k].type);
		next = k + 1;
	}
	return 0;
}

int eip712_digest(const char *json, size_t n, uint8_t digest[KECCAK256_LEN], char *err,
		  size_t errlen)
{
	static const char *const members[] = { "types", "primaryType", "domain", "message" };
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	uint8_t pre[2 + 2 * KECCAK256_LEN] = { 0x19, 0x01 };
	const cJSON *types, *primary, *m;
	struct e712 *c;
	size_t di, pi;
	int r;

	if (!json || !digest)
		return set_error(err, errlen, -EINVAL, "EIP-712: no typed data");
	r = json_parse(json, n, &root);
	if (r == -EFBIG)
		return set_error(err, errlen, -EBADMSG, "EIP-712: typed data over %u bytes",
				 CVM_CAP_JSON);
	if (r < 0 || !cJSON_IsObject(root))
		return set_error(
			err, errlen, -EBADMSG,
			"EIP-712: typed data is not one JSON object (UTF-8, no duplicate keys)");
	r = check_text(json, n, err, errlen);
	if (r < 0)
		return r;
	m = json_unknown_member(root, members, ARRAY_SIZE(members));
	if (m)
		return set_error(err, errlen, -EBADMSG, "EIP-712: unknown member \"%.64s\"",
				 m->string);
	types = cJSON_GetObjectItemCaseSensitive(root, "types");
	primary = cJSON_GetObjectItemCaseSensitive(root, "primaryType");
	if (!types || !cJSON_IsString(primary) ||
	    !cJSON_GetObjectItemCaseSensitive(root, "domain") ||
	    !cJSON_GetObjectItemCaseSensitive(root, "message"))
		return set_error(err, errlen, -EBADMSG,
				 "EIP-712: types, primaryType, domain and message wanted");
	c = e712_new(types, err, errlen, &r);
	if (!c)
		return r;
	if (!find_struct(c, EIP712_DOMAIN, strlen(EIP712_DOMAIN), &di))
		r = fail(c, "types has no EIP712Domain");
	else if (!find_struct(c, primary->valuestring, strlen(primary->valuestring), &pi))
		r = fail(c, "primaryType %.64s not in types", primary->valuestring);
	else if (pi == di)
		/* eth-sig-util would sign the domain alone; nothing cvm signs is that */
		r = fail(c, "primaryType is EIP712Domain");
	else if ((r = check_domain_type(c, di)) == 0 &&
		 (r = hash_struct(c, di, cJSON_GetObjectItemCaseSensitive(root, "domain"), 0,
				  pre + 2)) == 0) {
		c->work = 0; /* the bound is per hash */
		r = hash_struct(c, pi, cJSON_GetObjectItemCaseSensitive(root, "message"), 0,
				pre + 2 + KECCAK256_LEN);
	}
	free(c);
	if (r < 0)
		return r;
	keccak256(pre, sizeof(pre), digest);
	return 0;
}
