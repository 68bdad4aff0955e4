/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keccak-256 as Ethereum uses it: the sponge over Keccak-f[1600] with rate
 * 1088 bits (136 bytes), capacity 512, and the padding of the Keccak
 * submission to SHA-3 (pad10*1 with no domain bits: 0x01 ... 0x80), not
 * FIPS 202's SHA3-256 (0x06 ... 0x80). The permutation follows FIPS 202
 * section 3 ("The Keccak Reference", version 3.0, section 1.2): state lane
 * (x, y) is a[x + 5 * y], its bit z is bit z of the 64-bit word, and bytes
 * map to lanes little-endian (FIPS 202, 3.1.2).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "chain/chain.h"
#include "lib/lib.h"

#define KECCAK_ROUNDS 24
#define KECCAK256_RATE 136

/* iota's round constants RC[i], FIPS 202 Algorithm 6 (Keccak Reference, Table 1.1) */
static const uint64_t keccak_rc[KECCAK_ROUNDS] = {
	0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000,
	0x000000000000808b, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
	0x000000000000008a, 0x0000000000000088, 0x0000000080008009, 0x000000008000000a,
	0x000000008000808b, 0x800000000000008b, 0x8000000000008089, 0x8000000000008003,
	0x8000000000008002, 0x8000000000000080, 0x000000000000800a, 0x800000008000000a,
	0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
};

/* rho's rotation offsets of lane x + 5 * y, FIPS 202 Table 2 (mod 64) */
static const unsigned keccak_rho[25] = {
	0,  1,	62, 28, 27, /* y = 0 */
	36, 44, 6,  55, 20, /* y = 1 */
	3,  10, 43, 25, 39, /* y = 2 */
	41, 45, 15, 21, 8,  /* y = 3 */
	18, 2,	61, 56, 14, /* y = 4 */
};

static uint64_t rotl64(uint64_t v, unsigned n)
{
	return n ? v << n | v >> (64 - n) : v;
}

/* One round Rnd(A, ir) = iota(chi(pi(rho(theta(A)))), ir), FIPS 202 3.3. */
static void keccak_round(uint64_t a[25], uint64_t rc)
{
	uint64_t c[5], b[25];

	/* theta: each bit gets the parities of two neighbouring columns */
	for (unsigned x = 0; x < 5; x++)
		c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
	for (unsigned x = 0; x < 5; x++) {
		uint64_t d = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);

		for (unsigned y = 0; y < 5; y++)
			a[x + 5 * y] ^= d;
	}
	/* rho and pi: lane (x, y) is rotated and moves to (y, 2x + 3y) */
	for (unsigned x = 0; x < 5; x++)
		for (unsigned y = 0; y < 5; y++)
			b[y + 5 * ((2 * x + 3 * y) % 5)] =
				rotl64(a[x + 5 * y], keccak_rho[x + 5 * y]);
	/* chi: the one non-linear step, along each row */
	for (unsigned y = 0; y < 5; y++)
		for (unsigned x = 0; x < 5; x++)
			a[x + 5 * y] =
				b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
	/* iota */
	a[0] ^= rc;
}

static void keccak_f1600(uint64_t a[25])
{
	for (unsigned i = 0; i < KECCAK_ROUNDS; i++)
		keccak_round(a, keccak_rc[i]);
}

/* XORs byte v into byte i of the state (bytes are little-endian within a lane). */
static void keccak_xor_byte(struct keccak256 *k, size_t i, uint8_t v)
{
	k->a[i / 8] ^= (uint64_t)v << (8 * (i % 8));
}

void keccak256_init(struct keccak256 *k)
{
	memset(k, 0, sizeof(*k));
}

void keccak256_update(struct keccak256 *k, const void *p, size_t n)
{
	const uint8_t *in = p;

	/* whole blocks from a block boundary: lane by lane */
	while (k->n == 0 && n >= KECCAK256_RATE) {
		for (unsigned i = 0; i < KECCAK256_RATE / 8; i++)
			k->a[i] ^= le64(in + 8 * i);
		keccak_f1600(k->a);
		in += KECCAK256_RATE;
		n -= KECCAK256_RATE;
	}
	for (; n; in++, n--) {
		keccak_xor_byte(k, k->n++, *in);
		if (k->n == KECCAK256_RATE) {
			keccak_f1600(k->a);
			k->n = 0;
		}
	}
}

void keccak256_final(struct keccak256 *k, uint8_t out[KECCAK256_LEN])
{
	/* pad10*1 with no suffix bits: 0x01 after the message, 0x80 in the block's last byte */
	keccak_xor_byte(k, k->n, 0x01);
	keccak_xor_byte(k, KECCAK256_RATE - 1, 0x80);
	keccak_f1600(k->a);
	for (unsigned i = 0; i < KECCAK256_LEN / 8; i++)
		put_le(out + 8 * i, k->a[i], 8);
	OPENSSL_cleanse(k, sizeof(*k));
}

void keccak256(const void *p, size_t n, uint8_t out[KECCAK256_LEN])
{
	struct keccak256 k;

	keccak256_init(&k);
	keccak256_update(&k, p, n);
	keccak256_final(&k, out);
}
