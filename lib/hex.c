/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "lib/lib.h"

static const char digits[] = "0123456789abcdef";

void hex_encode(const void *in, size_t n, char *out)
{
	const uint8_t *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

char *hex_encode_alloc(const void *in, size_t n)
{
	char *s;

	if (n > (SIZE_MAX - 1) / 2)
		return NULL;
	s = malloc(2 * n + 1);
	if (s)
		hex_encode(in, n, s);
	return s;
}

int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, uint8_t *out, size_t cap, size_t *len)
{
	size_t l = strlen(in);

	if (l % 2)
		return -EINVAL;
	if (l / 2 > cap)
		return -E2BIG;
	for (size_t i = 0; i < l / 2; i++) {
		int hi = hex_nibble(in[2 * i]), lo = hex_nibble(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = l / 2;
	return 0;
}

int hex_decode_exact(const char *in, uint8_t *out, size_t n)
{
	size_t len;

	if (strlen(in) != 2 * n)
		return -EINVAL;
	return hex_decode(in, out, n, &len);
}
