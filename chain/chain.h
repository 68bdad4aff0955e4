/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain: what cvm needs of an EVM chain's encodings. Keccak-256 (the
 * original Keccak padding, not FIPS 202 SHA3-256: OpenSSL 3.0 has no
 * KECCAK-256), Recursive Length Prefix encoding with a strict decoder for
 * what a node sends, and Ethereum addresses from secp256k1 keys with their
 * EIP-55 checksums. docs/chain.md.
 *
 * Functions return 0 on success or a negative errno-style code.
 */
#ifndef CVM_CHAIN_H
#define CVM_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Keccak-256 (keccak.c) ---- */

#define KECCAK256_LEN 32

struct keccak256 {
	uint64_t a[25]; /* the state, lanes little-endian */
	size_t n;	/* bytes absorbed into the current block */
};

/* Streaming: init, update with any pieces (p may be NULL when n is 0), then final. */
void keccak256_init(struct keccak256 *k);
void keccak256_update(struct keccak256 *k, const void *p, size_t n);
/* Pads (0x01 ... 0x80), squeezes 32 bytes and wipes k. */
void keccak256_final(struct keccak256 *k, uint8_t out[KECCAK256_LEN]);
void keccak256(const void *p, size_t n, uint8_t out[KECCAK256_LEN]);

/* ---- Recursive Length Prefix (rlp.c) ---- */

/*
 * A growing output buffer. Writers never fail on their own: an allocation
 * failure or a list too long sets failed, and rlp_buf_done reports it.
 */
struct rlp_buf {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

/* Bytes as they are, with no prefix (the buffer also carries other encodings: ABI, 0x02 || ...). */
void rlp_put_raw(struct rlp_buf *b, const void *p, size_t n);
/* n zero bytes (the padding of other encodings). */
void rlp_put_zeros(struct rlp_buf *b, size_t n);
/* A byte string: one byte below 0x80 as itself, else a length prefix and the bytes. */
void rlp_put_bytes(struct rlp_buf *b, const void *p, size_t n);
/* An unsigned integer: big-endian without leading zeros, 0 as the empty string. */
void rlp_put_uint(struct rlp_buf *b, uint64_t v);
/* A big-endian unsigned integer of n bytes (a uint256): leading zeros dropped. */
void rlp_put_uint_be(struct rlp_buf *b, const uint8_t *p, size_t n);
/* Starts a list: the mark to give rlp_list_end once its items are written. */
size_t rlp_list_begin(struct rlp_buf *b);
void rlp_list_end(struct rlp_buf *b, size_t mark);
/* 0, or -ENOMEM when a write failed (the buffer is then freed). */
int rlp_buf_done(struct rlp_buf *b);
void rlp_buf_free(struct rlp_buf *b);

/* One decoded item: its payload (the bytes of a string, the encoded items of a list). */
struct rlp_item {
	const uint8_t *p;
	size_t len;
	bool list;
};

/*
 * Decodes the one item at the start of in, which must be canonical: a
 * single byte below 0x80 not wrapped in a prefix, the short form for
 * payloads under 56 bytes, a long-form length without leading zeros, and
 * no length past the input. *used: the bytes it took. -EBADMSG with a
 * reason in err otherwise.
 */
int rlp_decode(const uint8_t *in, size_t n, struct rlp_item *item, size_t *used, char *err,
	       size_t errlen);
/* Decodes in as exactly one item, with nothing after it. */
int rlp_decode_all(const uint8_t *in, size_t n, struct rlp_item *item, char *err, size_t errlen);
/*
 * The next item of a list: *cursor starts as the list's payload and
 * shrinks; 1 with an item, 0 at the end, -EBADMSG on a bad item.
 */
int rlp_list_next(struct rlp_item *cursor, struct rlp_item *item, char *err, size_t errlen);
/* A string item as an unsigned integer of at most 8 bytes, canonical (no leading zero). */
int rlp_item_uint(const struct rlp_item *item, uint64_t *v, char *err, size_t errlen);

/* ---- addresses (address.c) ---- */

#define ETH_ADDRESS_LEN 20

/* The address of a secp256k1 public key (33 compressed or 65 uncompressed bytes). */
int eth_address_from_pubkey(const uint8_t *pub, size_t n, uint8_t addr[ETH_ADDRESS_LEN]);
/* "0x" and the EIP-55 mixed-case hex of addr: 43 bytes with the NUL. */
void eth_address_checksum(const uint8_t addr[ETH_ADDRESS_LEN], char out[43]);
/*
 * Parses "0x" and 40 hex digits. All lower or all upper case is taken as
 * is; mixed case must be the EIP-55 checksum (-EINVAL otherwise).
 */
int eth_address_parse(const char *s, uint8_t addr[ETH_ADDRESS_LEN]);

#endif
