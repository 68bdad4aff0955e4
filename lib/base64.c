/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 4648 base64 (§4) and base64url (§5), strict in what they accept. */
#include <errno.h>
#include <string.h>

#include "lib/lib.h"

static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64_encode(const void *in, size_t n, enum base64_alphabet a, char **out)
{
	const char *alpha = a == BASE64_URL ? url_alphabet : std_alphabet;
	const uint8_t *p = in;
	size_t cap, o = 0;
	char *s;

	if (n > SIZE_MAX / 4 * 3 - 3)
		return -E2BIG;
	cap = (n + 2) / 3 * 4 + 1;
	s = malloc(cap);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		s[o++] = alpha[(v >> 18) & 63];
		s[o++] = alpha[(v >> 12) & 63];
		if (left > 1)
			s[o++] = alpha[(v >> 6) & 63];
		else if (a == BASE64_STD)
			s[o++] = '=';
		if (left > 2)
			s[o++] = alpha[v & 63];
		else if (a == BASE64_STD)
			s[o++] = '=';
	}
	s[o] = 0;
	*out = s;
	return 0;
}

static int value_of(char c, enum base64_alphabet a)
{
	const char *alpha = a == BASE64_URL ? url_alphabet : std_alphabet;
	const char *p;

	if (c == 0)
		return -1;
	p = strchr(alpha, c);
	return p ? (int)(p - alpha) : -1;
}

int base64_decode(const char *in, size_t n, enum base64_alphabet a, uint8_t **out, size_t *len)
{
	size_t pad = 0, body, full, rem, o = 0;
	uint8_t *buf;

	if (a == BASE64_STD) {
		if (n % 4)
			return -EINVAL;
		while (pad < 2 && n > pad && in[n - 1 - pad] == '=')
			pad++;
	}
	body = n - pad;
	rem = body % 4;
	if (rem == 1 || (a == BASE64_STD && pad && rem != 4 - pad))
		return -EINVAL;
	full = body / 4;
	buf = malloc(full * 3 + 3);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < body; i += 4) {
		size_t k = body - i < 4 ? body - i : 4;
		uint32_t v = 0;

		for (size_t j = 0; j < 4; j++) {
			int x = j < k ? value_of(in[i + j], a) : 0;

			if (x < 0) {
				free(buf);
				return -EINVAL;
			}
			v = v << 6 | (uint32_t)x;
		}
		/* Bits past the last whole byte must be zero (RFC 4648 §3.5). */
		if ((k == 2 && (v & 0xffff)) || (k == 3 && (v & 0xff))) {
			free(buf);
			return -EINVAL;
		}
		buf[o++] = (uint8_t)(v >> 16);
		if (k > 2)
			buf[o++] = (uint8_t)(v >> 8);
		if (k > 3)
			buf[o++] = (uint8_t)v;
	}
	*out = buf;
	*len = o;
	return 0;
}
