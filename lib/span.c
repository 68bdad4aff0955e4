/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "lib/lib.h"

int span_take(struct span *s, size_t n, struct span *out)
{
	if (n > s->len)
		return -EBADMSG;
	*out = span_make(s->p, n);
	s->p += n;
	s->len -= n;
	return 0;
}

int span_copy(struct span *s, void *out, size_t n)
{
	struct span t;
	int r = span_take(s, n, &t);

	if (r < 0)
		return r;
	if (n)
		memcpy(out, t.p, n);
	return 0;
}

int span_skip(struct span *s, size_t n)
{
	struct span t;

	return span_take(s, n, &t);
}

int span_u8(struct span *s, uint8_t *v)
{
	return span_copy(s, v, 1);
}

uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int span_u16le(struct span *s, uint16_t *v)
{
	uint8_t b[2];
	int r = span_copy(s, b, sizeof(b));

	if (r == 0)
		*v = le16(b);
	return r;
}

int span_u32le(struct span *s, uint32_t *v)
{
	uint8_t b[4];
	int r = span_copy(s, b, sizeof(b));

	if (r == 0)
		*v = le32(b);
	return r;
}

int span_u64le(struct span *s, uint64_t *v)
{
	uint8_t b[8];
	int r = span_copy(s, b, sizeof(b));

	if (r == 0)
		*v = le64(b);
	return r;
}

bool is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}
