/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the strict RLP decoder. Whatever rlp_decode takes, walked to
 * the bottom (iteratively, with a bounded stack) and encoded again, must
 * give back exactly the bytes it took: canonical decoding means one
 * encoding per value. Integers read with rlp_item_uint re-encode the same.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "lib/lib.h"

#define FUZZ_RLP_DEPTH 64

struct level {
	struct rlp_item cursor;
	size_t mark;
};

/* A string item: encoded again, and as an integer when it reads as one. */
static void put_string(struct rlp_buf *b, const struct rlp_item *it)
{
	struct rlp_buf u = { 0 };
	struct rlp_buf s = { 0 };
	uint64_t v;

	rlp_put_bytes(b, it->p, it->len);
	if (rlp_item_uint(it, &v, NULL, 0) < 0)
		return;
	rlp_put_uint(&u, v);
	rlp_put_bytes(&s, it->p, it->len);
	if (rlp_buf_done(&u) < 0 || rlp_buf_done(&s) < 0)
		abort();
	if (u.len != s.len || memcmp(u.p, s.p, u.len) != 0)
		abort();
	rlp_buf_free(&u);
	rlp_buf_free(&s);
}

/* 1 when the whole tree decoded and was encoded into b, 0 when it was refused or too deep. */
static int reencode(const struct rlp_item *root, struct rlp_buf *b)
{
	struct level stack[FUZZ_RLP_DEPTH];
	struct rlp_item it;
	size_t depth = 0;
	char err[128];
	int r;

	if (!root->list) {
		put_string(b, root);
		return 1;
	}
	stack[depth++] = (struct level){ .cursor = *root, .mark = rlp_list_begin(b) };
	while (depth) {
		struct level *top = &stack[depth - 1];

		r = rlp_list_next(&top->cursor, &it, err, sizeof(err));
		if (r < 0) {
			if (!err[0] || strchr(err, '\n'))
				abort();
			return 0;
		}
		if (r == 0) {
			rlp_list_end(b, top->mark);
			depth--;
		} else if (!it.list) {
			put_string(b, &it);
		} else if (depth == FUZZ_RLP_DEPTH) {
			return 0;
		} else {
			stack[depth++] = (struct level){ .cursor = it, .mark = rlp_list_begin(b) };
		}
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rlp_buf b = { 0 };
	struct rlp_item item, all;
	char err[128] = "";
	size_t used;
	int r;

	r = rlp_decode(data, size, &item, &used, err, sizeof(err));
	if (rlp_decode_all(data, size, &all, NULL, 0) != (r == 0 && used == size ? 0 : -EBADMSG))
		abort();
	if (r < 0) {
		if (r != -EBADMSG || !err[0] || strchr(err, '\n'))
			abort();
		return 0;
	}
	if (used > size || item.p < data || item.p + item.len > data + used)
		abort();
	if (reencode(&item, &b) &&
	    (rlp_buf_done(&b) < 0 || b.len != used || memcmp(b.p, data, used) != 0))
		abort();
	rlp_buf_free(&b);
	return 0;
}
