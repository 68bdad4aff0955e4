/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ethereum addresses: the last 20 bytes of Keccak-256 over a secp256k1
 * public key's 64-byte X || Y (Ethereum Yellow Paper, Appendix F),
 * written with EIP-55's mixed-case checksum.
 */
#include <errno.h>
#include <string.h>

#include <secp256k1.h>

#include "chain/chain.h"
#include "lib/lib.h"

#define ETH_ADDRESS_HEX (2 * ETH_ADDRESS_LEN)

int eth_address_from_pubkey(const uint8_t *pub, size_t n, uint8_t addr[ETH_ADDRESS_LEN])
{
	secp256k1_context *ctx = cvm_secp256k1();
	secp256k1_pubkey pk;
	uint8_t xy[65], h[KECCAK256_LEN];
	size_t len = sizeof(xy);

	/* SEC 1 2.3.3: 02/03 || X, or 04 || X || Y; libsecp256k1 would also take hybrid 06/07 */
	if (!pub || !(n == 33 || (n == 65 && pub[0] == 0x04)))
		return -EINVAL;
	if (!ctx)
		return -ENOMEM;
	if (!secp256k1_ec_pubkey_parse(ctx, &pk, pub, n) ||
	    !secp256k1_ec_pubkey_serialize(ctx, xy, &len, &pk, SECP256K1_EC_UNCOMPRESSED))
		return -EINVAL;
	keccak256(xy + 1, 64, h);
	memcpy(addr, h + KECCAK256_LEN - ETH_ADDRESS_LEN, ETH_ADDRESS_LEN);
	return 0;
}

/*
 * EIP-55: hash the lower-case hex (ASCII, no "0x"); a letter at position i
 * is upper case when nibble i of the hash, high nibble first, is 8 or more.
 */
void eth_address_checksum(const uint8_t addr[ETH_ADDRESS_LEN], char out[43])
{
	uint8_t h[KECCAK256_LEN];
	char *hex = out + 2;

	out[0] = '0';
	out[1] = 'x';
	hex_encode(addr, ETH_ADDRESS_LEN, hex);
	keccak256(hex, ETH_ADDRESS_HEX, h);
	for (unsigned i = 0; i < ETH_ADDRESS_HEX; i++) {
		unsigned nib = i % 2 ? h[i / 2] & 0x0f : h[i / 2] >> 4;

		if (hex[i] >= 'a' && hex[i] <= 'f' && nib >= 8)
			hex[i] = (char)(hex[i] - 'a' + 'A');
	}
}

int eth_address_parse(const char *s, uint8_t addr[ETH_ADDRESS_LEN])
{
	bool lower = false, upper = false;
	uint8_t a[ETH_ADDRESS_LEN];
	char want[43];

	if (!s || strnlen(s, sizeof(want)) != 2 + ETH_ADDRESS_HEX || s[0] != '0' || s[1] != 'x')
		return -EINVAL;
	for (const char *c = s + 2; *c; c++) {
		lower |= *c >= 'a' && *c <= 'f';
		upper |= *c >= 'A' && *c <= 'F';
	}
	if (hex_decode_exact(s + 2, a, ETH_ADDRESS_LEN) < 0)
		return -EINVAL;
	if (lower && upper) {
		eth_address_checksum(a, want);
		if (memcmp(s, want, sizeof(want)) != 0)
			return -EINVAL;
	}
	memcpy(addr, a, ETH_ADDRESS_LEN);
	return 0;
}
