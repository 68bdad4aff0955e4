/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: eth_address_parse. Whatever it takes, written with
 * eth_address_checksum, must parse to the same bytes; mixed case it takes
 * must be that checksum, and one case must read as the same bytes in the
 * other case.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "lib/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t a[ETH_ADDRESS_LEN], b[ETH_ADDRESS_LEN];
	char s[64], sum[43];
	bool lower = false, upper = false;

	/* a C string: the parser never sees past a NUL */
	if (size >= sizeof(s) || memchr(data, 0, size))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (eth_address_parse(s, a) < 0)
		return 0;
	if (size != 42)
		abort();
	eth_address_checksum(a, sum);
	if (eth_address_parse(sum, b) < 0 || memcmp(a, b, sizeof(a)) != 0)
		abort();
	for (size_t i = 2; i < 42; i++) {
		lower |= islower((unsigned char)s[i]) != 0;
		upper |= isupper((unsigned char)s[i]) != 0;
	}
	if (lower && upper && strcmp(s, sum) != 0)
		abort();
	for (size_t i = 2; i < 42; i++)
		s[i] = (char)(lower ? toupper((unsigned char)s[i]) : tolower((unsigned char)s[i]));
	if (eth_address_parse(s, b) < 0 || memcmp(a, b, sizeof(a)) != 0)
		abort();
	return 0;
}
