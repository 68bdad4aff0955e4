/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the strict ABI decoder. The first byte picks a type list, the
 * rest is the data. Whatever abi_decode takes points inside the data, every
 * item of every array reads with abi_array_item, and encoded again it
 * decodes to equal values. Tails may sit anywhere in what a node sends, so
 * the encoding need not be the input's bytes; but it is Solidity's layout,
 * which encodes to itself. The last choice feeds the rest to the type list
 * parser and, when it takes it, to abi_selector.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/abi.h"
#include "lib/lib.h"

static const char *const lists[] = {
	"uint256,address,bytes,string,uint256[],bytes32,bool,uint8,int64,bytes4,address[],string[]",
	"string[]",
	"bytes,bool,uint256[]",
	"uint256,uint32[],bytes10,bytes",
	"int8,int16[],bytes1[],bool[],bytes[]",
	"address,uint8,uint8,bool,bytes32,uint256,string,uint256[]", /* the Market's getOffer */
	"bytes",
	"",
};

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	return n == 0 || (p && p >= data && n <= size && (size_t)(p - data) <= size - n);
}

/* A static value or a bytes, string: equal words or equal bytes. */
static bool same_elementary(const struct abi_value *a, const struct abi_value *b)
{
	if (a->type.kind == ABI_BYTES || a->type.kind == ABI_STRING)
		return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
	return memcmp(a->word, b->word, ABI_WORD) == 0;
}

/* Every item of a decoded array reads, inside the data. */
static void walk(const struct abi_value *v, const uint8_t *data, size_t size)
{
	struct abi_value it;
	char err[256];

	if (!v->type.array) {
		if (!inside(v->p, v->n, data, size))
			abort();
		return;
	}
	if (v->items || !inside(v->p, v->n, data, size) || v->count > v->n / ABI_WORD)
		abort();
	for (size_t i = 0; i < v->count; i++) {
		if (abi_array_item(v, i, &it, err, sizeof(err)) != 0)
			abort();
		if (it.type.array || it.type.kind != v->type.kind ||
		    !inside(it.p, it.n, data, size))
			abort();
	}
}

static bool same(const struct abi_value *a, const struct abi_value *b)
{
	struct abi_value x, y;

	if (a->type.kind != b->type.kind || a->type.size != b->type.size ||
	    a->type.array != b->type.array)
		return false;
	if (!a->type.array)
		return same_elementary(a, b);
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++) {
		if (abi_array_item(a, i, &x, NULL, 0) != 0 ||
		    abi_array_item(b, i, &y, NULL, 0) != 0)
			abort();
		if (!same_elementary(&x, &y))
			return false;
	}
	return true;
}

/* The list parser: whatever it takes is a signature abi_selector takes too. */
static void parse_list(const uint8_t *data, size_t size)
{
	char list[256], sig[270], err[256] = "";
	uint8_t sel[ABI_SELECTOR_LEN];
	struct abi_types t;
	int r;

	if (size >= sizeof(list) || memchr(data, 0, size))
		return;
	memcpy(list, data, size);
	list[size] = '\0';
	r = abi_types_parse(list, &t, err, sizeof(err));
	if (r < 0) {
		if (r != -EINVAL || !err[0] || strchr(err, '\n'))
			abort();
		return;
	}
	if (t.n > ABI_MAX_ARGS)
		abort();
	snprintf(sig, sizeof(sig), "f(%s)", list);
	if (abi_selector(sig, sel) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abi_value a[ABI_MAX_ARGS], b[ABI_MAX_ARGS];
	struct rlp_buf e1 = { 0 }, e2 = { 0 };
	const char *types;
	struct abi_types t;
	char err[256] = "";
	size_t pick;
	int r;

	if (size == 0)
		return 0;
	pick = data[0] % (ARRAY_SIZE(lists) + 1);
	data++;
	size--;
	if (pick == ARRAY_SIZE(lists)) {
		parse_list(data, size);
		return 0;
	}
	types = lists[pick];
	if (abi_types_parse(types, &t, NULL, 0) != 0)
		abort();
	r = abi_decode(types, data, size, a, ARRAY_SIZE(a), err, sizeof(err));
	if (r < 0) {
		if (r != -EBADMSG || !err[0] || strchr(err, '\n'))
			abort();
		return 0;
	}
	for (size_t i = 0; i < t.n; i++)
		walk(&a[i], data, size);

	/* encoded again (arrays in their decoded form), decoded again: the same values */
	if (abi_encode(types, a, t.n, &e1, err, sizeof(err)) != 0 || rlp_buf_done(&e1) != 0)
		abort();
	if (abi_decode(types, e1.p, e1.len, b, ARRAY_SIZE(b), err, sizeof(err)) != 0)
		abort();
	for (size_t i = 0; i < t.n; i++)
		if (!same(&a[i], &b[i]))
			abort();
	/* Solidity's layout encodes to itself */
	if (abi_encode(types, b, t.n, &e2, err, sizeof(err)) != 0 || rlp_buf_done(&e2) != 0)
		abort();
	if (e1.len != e2.len || (e1.len && memcmp(e1.p, e2.p, e1.len) != 0))
		abort();
	rlp_buf_free(&e1);
	rlp_buf_free(&e2);
	return 0;
}
