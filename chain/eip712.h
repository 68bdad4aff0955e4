/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain/eip712: EIP-712 typed structured data, hashed from the JSON that
 * wallets sign (eth_signTypedData_v4): {"types": {..., "EIP712Domain":
 * [...]}, "primaryType": "...", "domain": {...}, "message": {...}}. Arrays
 * and structs as v4 (and ethers 6) hash them. docs/chain.md.
 *
 * The input is untrusted: nesting, sizes and work are bounded, cyclic and
 * unknown types are refused, and a message must hold exactly the fields
 * of its type, no fewer and no more.
 *
 * Functions return 0 on success or a negative errno-style code (-EBADMSG
 * for input refused), with a one-line reason in err.
 */
#ifndef CVM_CHAIN_EIP712_H
#define CVM_CHAIN_EIP712_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "chain/chain.h"

#define EIP712_MAX_DEPTH 16	/* structs and arrays nested in a value */
#define EIP712_MAX_TYPES 64	/* struct types of one "types" object */
#define EIP712_MAX_FIELDS 64	/* fields of one struct type */
#define EIP712_MAX_NAME 128	/* bytes of a type's or a field's name */
#define EIP712_MAX_VALUES 65536 /* values encoded for one hash: the bound on work */

/*
 * The digest a wallet signs for typed data given as JSON text:
 * keccak256(0x19 0x01 || hashStruct(EIP712Domain, domain) ||
 * hashStruct(primaryType, message)). EIP712Domain may hold only the EIP's
 * five fields (name, version, chainId, verifyingContract, salt) with their
 * types and in that order, as ethers builds it.
 */
int eip712_digest(const char *json, size_t n, uint8_t digest[KECCAK256_LEN], char *err,
		  size_t errlen);
/*
 * hashStruct(type_name, value) = keccak256(typeHash || encodeData) under
 * types (the "types" object, every type in it checked). Numbers in value
 * are taken when integral and below 2^53 in magnitude, else as strings.
 */
int eip712_hash_struct(const cJSON *types, const char *type_name, const cJSON *value,
		       uint8_t out[KECCAK256_LEN], char *err, size_t errlen);

#endif
