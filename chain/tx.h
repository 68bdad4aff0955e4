/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain/tx: signed Ethereum transactions (EIP-1559 type 2, and legacy
 * transactions with EIP-155's replay protection) and signed messages
 * (EIP-191 personal_sign digests, signatures over any 32-byte digest and
 * the recovery of their signer), with libsecp256k1. docs/chain.md.
 *
 * A uint256 is 32 bytes, big-endian. A private key is the caller's 32
 * bytes, in secret memory: nothing here copies it.
 *
 * Functions return 0 on success or a negative errno-style code, with a
 * one-line reason in err.
 */
#ifndef CVM_CHAIN_TX_H
#define CVM_CHAIN_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain/chain.h"

#define ETH_SIG_LEN 65 /* r || s || v */

/*
 * The fields of a transaction; its access list is always empty. A type-2
 * transaction uses the two fee caps and ignores gas_price; a legacy one
 * the reverse. No to (has_to false) creates a contract from data.
 */
struct eth_tx {
	uint64_t chain_id, nonce, gas;
	uint8_t max_priority_fee_per_gas[32], max_fee_per_gas[32];
	uint8_t gas_price[32]; /* legacy only */
	bool has_to;
	uint8_t to[ETH_ADDRESS_LEN];
	uint8_t value[32];
	const uint8_t *data; /* may be NULL when data_len is 0 */
	size_t data_len;
};

/*
 * Signs tx as an EIP-1559 transaction: raw gets 0x02 || rlp([chainId,
 * nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data, [],
 * yParity, r, s]), what eth_sendRawTransaction takes (rlp_buf_free it);
 * txhash = keccak256(raw). -EINVAL for a chain id of 0, a tip above the
 * fee cap, or a key that is no secp256k1 scalar; -ENOMEM.
 */
int eth_tx_sign_1559(const struct eth_tx *tx, const uint8_t sk[32], struct rlp_buf *raw,
		     uint8_t txhash[KECCAK256_LEN], char *err, size_t errlen);
/*
 * The same for a legacy transaction with EIP-155's v = recid + chain_id *
 * 2 + 35 (a chain id past (2^64 - 37) / 2, whose v would not fit, -EINVAL).
 */
int eth_tx_sign_legacy(const struct eth_tx *tx, const uint8_t sk[32], struct rlp_buf *raw,
		       uint8_t txhash[KECCAK256_LEN], char *err, size_t errlen);
/*
 * Decodes a signed transaction, type 2 or legacy with EIP-155 (raw[0] says
 * which: 0x02, or a list prefix), with the strict RLP decoder, and
 * recovers its sender into from. tx->data points into raw; the fields of
 * the other type are zero. Refused with -EBADMSG: other types, legacy
 * signatures without a chain id, a non-empty access list, a non-canonical
 * integer, a high S (EIP-2), a chain id of 0, a tip above the fee cap,
 * anything after the list.
 */
int eth_tx_decode(const uint8_t *raw, size_t n, struct eth_tx *tx, uint8_t from[ETH_ADDRESS_LEN],
		  char *err, size_t errlen);

/*
 * Signs a 32-byte digest: sig = r || s || v with v = 27 + recid, the
 * nonce RFC 6979's (deterministic: the same key and digest give the same
 * signature), S in the lower half of the order.
 */
int eth_sign_digest(const uint8_t sk[32], const uint8_t digest[KECCAK256_LEN],
		    uint8_t sig[ETH_SIG_LEN], char *err, size_t errlen);
/*
 * The address that signed digest: v may be 27 or 28, or 0 or 1. A high S
 * (EIP-2), r or s of 0 or past the order, or no key: -EBADMSG.
 */
int eth_recover(const uint8_t digest[KECCAK256_LEN], const uint8_t sig[ETH_SIG_LEN],
		uint8_t addr[ETH_ADDRESS_LEN], char *err, size_t errlen);
/*
 * EIP-191 version 0x45, personal_sign's digest: Keccak-256 of
 * "\x19Ethereum Signed Message:\n", n in decimal, then the n bytes of msg.
 */
void eip191_digest(const void *msg, size_t n, uint8_t out[KECCAK256_LEN]);

#endif
