/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recursive Length Prefix: Ethereum Yellow Paper, appendix B; ethereum.org,
 * "Recursive-Length Prefix (RLP) serialization". A prefix byte of
 *	0x00..0x7f	is a one-byte string, itself;
 *	0x80..0xb7	a string of 0..55 bytes (0x80 + length);
 *	0xb8..0xbf	a longer string: 1..8 big-endian length bytes follow;
 *	0xc0..0xf7	a list of 0..55 payload bytes;
 *	0xf8..0xff	a longer list, as for strings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "lib/lib.h"

#define RLP_STRING 0x80
#define RLP_LIST 0xc0
#define RLP_SHORT_MAX 55 /* the longest payload of the short form */

/* Makes room for n more bytes; false (and failed set) when there is none. */
static bool rlp_reserve(struct rlp_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->failed)
		return false;
	if (n <= b->cap - b->len)
		return true;
	if (n > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	cap = b->cap ? b->cap : 64;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

/* The number of big-endian bytes of v without leading zeros (0 for 0). */
static unsigned be_len(uint64_t v)
{
	unsigned n = 0;

	for (; v; v >>= 8)
		n++;
	return n;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* The prefix of a payload of len bytes with the given base (0x80, 0xc0): its size in hdr. */
static unsigned rlp_prefix(uint8_t hdr[9], uint8_t base, size_t len)
{
	unsigned ll;

	if (len <= RLP_SHORT_MAX) {
		hdr[0] = (uint8_t)(base + len);
		return 1;
	}
	ll = be_len(len);
	hdr[0] = (uint8_t)(base + RLP_SHORT_MAX + ll);
	put_be(hdr + 1, len, ll);
	return 1 + ll;
}

static void rlp_write(struct rlp_buf *b, const void *p, size_t n)
{
	if (!n || !rlp_reserve(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void rlp_put_raw(struct rlp_buf *b, const void *p, size_t n)
{
	rlp_write(b, p, n);
}

void rlp_put_zeros(struct rlp_buf *b, size_t n)
{
	if (!n || !rlp_reserve(b, n))
		return;
	memset(b->p + b->len, 0, n);
	b->len += n;
}

void rlp_put_bytes(struct rlp_buf *b, const void *p, size_t n)
{
	const uint8_t *s = p;
	uint8_t hdr[9];

	if (n == 1 && s[0] < RLP_STRING) {
		rlp_write(b, s, 1);
		return;
	}
	rlp_write(b, hdr, rlp_prefix(hdr, RLP_STRING, n));
	rlp_write(b, p, n);
}

void rlp_put_uint(struct rlp_buf *b, uint64_t v)
{
	uint8_t be[8];
	unsigned n = be_len(v);

	put_be(be, v, n);
	rlp_put_bytes(b, be, n);
}

void rlp_put_uint_be(struct rlp_buf *b, const uint8_t *p, size_t n)
{
	while (n && !p[0]) {
		p++;
		n--;
	}
	rlp_put_bytes(b, p, n);
}

size_t rlp_list_begin(struct rlp_buf *b)
{
	return b->len;
}

void rlp_list_end(struct rlp_buf *b, size_t mark)
{
	uint8_t hdr[9];
	unsigned h;
	size_t len;

	if (b->failed)
		return;
	if (mark > b->len) {
		b->failed = true;
		return;
	}
	len = b->len - mark;
	h = rlp_prefix(hdr, RLP_LIST, len);
	if (!rlp_reserve(b, h))
		return;
	memmove(b->p + mark + h, b->p + mark, len);
	memcpy(b->p + mark, hdr, h);
	b->len += h;
}

int rlp_buf_done(struct rlp_buf *b)
{
	if (!b->failed)
		return 0;
	rlp_buf_free(b);
	return -ENOMEM;
}

void rlp_buf_free(struct rlp_buf *b)
{
	free(b->p);
	*b = (struct rlp_buf){ 0 };
}

/* The long form's length: ll big-endian bytes at p (ll <= n checked by the caller). */
static int rlp_long_len(const uint8_t *p, unsigned ll, size_t *len, char *err, size_t errlen)
{
	size_t v = 0;

	if (ll > sizeof(size_t))
		return set_error(err, errlen, -EBADMSG, "RLP: a length of %u bytes", ll);
	if (p[0] == 0)
		return set_error(err, errlen, -EBADMSG, "RLP: a length with a leading zero byte");
	for (unsigned i = 0; i < ll; i++)
		v = v << 8 | p[i];
	if (v <= RLP_SHORT_MAX)
		return set_error(err, errlen, -EBADMSG,
				 "RLP: the long form for a payload of %zu bytes", v);
	*len = v;
	return 0;
}

int rlp_decode(const uint8_t *in, size_t n, struct rlp_item *item, size_t *used, char *err,
	       size_t errlen)
{
	uint8_t b, base;
	size_t len = 0, hdr = 1;
	int r;

	if (n == 0)
		return set_error(err, errlen, -EBADMSG, "RLP: no item (empty input)");
	b = in[0];
	if (b < RLP_STRING) {
		*item = (struct rlp_item){ .p = in, .len = 1, .list = false };
		*used = 1;
		return 0;
	}
	base = b >= RLP_LIST ? RLP_LIST : RLP_STRING;
	if (b - base <= RLP_SHORT_MAX) {
		len = b - base;
	} else {
		unsigned ll = b - base - RLP_SHORT_MAX;

		if (ll > n - 1)
			return set_error(err, errlen, -EBADMSG, "RLP: the length past the end");
		r = rlp_long_len(in + 1, ll, &len, err, errlen);
		if (r < 0)
			return r;
		hdr += ll;
	}
	if (len > n - hdr)
		return set_error(err, errlen, -EBADMSG,
				 "RLP: a payload of %zu bytes where %zu remain", len, n - hdr);
	if (base == RLP_STRING && len == 1 && in[1] < RLP_STRING)
		return set_error(err, errlen, -EBADMSG, "RLP: the byte 0x%02x wrapped in a prefix",
				 in[1]);
	*item = (struct rlp_item){ .p = in + hdr, .len = len, .list = base == RLP_LIST };
	*used = hdr + len;
	return 0;
}

int rlp_decode_all(const uint8_t *in, size_t n, struct rlp_item *item, char *err, size_t errlen)
{
	size_t used;
	int r = rlp_decode(in, n, item, &used, err, errlen);

	if (r < 0)
		return r;
	if (used != n)
		return set_error(err, errlen, -EBADMSG, "RLP: %zu bytes after the item", n - used);
	return 0;
}

int rlp_list_next(struct rlp_item *cursor, struct rlp_item *item, char *err, size_t errlen)
{
	size_t used;
	int r;

	if (!cursor->list)
		return set_error(err, errlen, -EBADMSG, "RLP: a string where a list is wanted");
	if (cursor->len == 0)
		return 0;
	r = rlp_decode(cursor->p, cursor->len, item, &used, err, errlen);
	if (r < 0)
		return r;
	cursor->p += used;
	cursor->len -= used;
	return 1;
}

int rlp_item_uint(const struct rlp_item *item, uint64_t *v, char *err, size_t errlen)
{
	uint64_t x = 0;

	if (item->list)
		return set_error(err, errlen, -EBADMSG, "RLP: a list where an integer is wanted");
	if (item->len > sizeof(x))
		return set_error(err, errlen, -EBADMSG, "RLP: an integer of %zu bytes (at most 8)",
				 item->len);
	if (item->len && item->p[0] == 0)
		return set_error(err, errlen, -EBADMSG, "RLP: an integer with a leading zero byte");
	for (size_t i = 0; i < item->len; i++)
		x = x << 8 | item->p[i];
	*v = x;
	return 0;
}
