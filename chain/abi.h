/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain/abi: the Solidity contract ABI (docs.soliditylang.org, "Contract
 * ABI Specification"): function selectors, event topics, the head/tail
 * encoding of a call's arguments, and a strict decoder for what a node
 * sends back. Elementary types and one-level dynamic arrays of them only:
 * uint<M>, int<M>, address, bool, bytes<M>, bytes, string and T[]. No
 * tuples, no fixed-size T[k], no arrays of arrays. docs/chain.md.
 *
 * Functions return 0 on success or a negative errno-style code: -EINVAL
 * for a bad type list or a value that does not fit its type, -EBADMSG for
 * data that does not decode; err gets a one-line reason.
 */
#ifndef CVM_CHAIN_ABI_H
#define CVM_CHAIN_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain/chain.h"

#define ABI_WORD 32	/* every head, length and static value is one 32-byte word */
#define ABI_MAX_ARGS 16 /* types in one list */
#define ABI_SELECTOR_LEN 4

enum abi_kind {
	ABI_NONE = 0, /* in a value to encode: take the type from the list */
	ABI_UINT,
	ABI_INT,
	ABI_ADDRESS,
	ABI_BOOL,
	ABI_FIXED_BYTES, /* bytes<M> */
	ABI_BYTES,
	ABI_STRING,
};

/* One type of a list; for T[], kind and size are T's. */
struct abi_type {
	uint8_t kind; /* enum abi_kind */
	uint8_t size; /* bytes: M/8 of uint<M> and int<M>, M of bytes<M>; 0 for the others */
	bool array;
};

struct abi_types {
	struct abi_type t[ABI_MAX_ARGS];
	size_t n;
};

/*
 * Parses a list of canonical type names separated by commas, no spaces:
 * "uint256,address,string[]". "" is the empty list. Aliases (uint, int,
 * byte), tuples, T[k], T[][] and the fixed-point types are refused.
 */
int abi_types_parse(const char *list, struct abi_types *types, char *err, size_t errlen);

/*
 * A value. Static types (all but bytes, string and T[]) are their word:
 * uint right-aligned, int sign-extended two's complement, address
 * right-aligned, bool 0 or 1, bytes<M> left-aligned, the rest zero.
 * bytes and string are p and n. A T[] holds count items in one of two
 * forms:
 *	items, count values of T, when items is not NULL;
 *	else its encoded body as abi_decode gives it: p points just past the
 *	count word, n bytes from there (the rest of the data), read with
 *	abi_array_item. For static T the first count*32 of them are the words.
 * abi_decode fills in type; to abi_encode a zero type means the list's
 * type, any other must equal it.
 */
struct abi_value {
	struct abi_type type;
	uint8_t word[ABI_WORD];
	const uint8_t *p;
	size_t n;
	size_t count;
	const struct abi_value *items;
};

/*
 * The 4-byte selector of a function, the first bytes of the Keccak-256 of
 * its signature, "transfer(address,uint256)"; and the topic of an event,
 * the whole hash, "Transfer(address,address,uint256)". -EINVAL when the
 * signature is not a name and a canonical list of the types above.
 */
int abi_selector(const char *signature, uint8_t out[ABI_SELECTOR_LEN]);
int abi_event_topic(const char *signature, uint8_t out[KECCAK256_LEN]);

/*
 * Appends the encoding of n values of the types in the list to out, heads
 * then tails, offsets counted from where this encoding starts. -EBADMSG
 * when an array given in its encoded form does not decode. On an error
 * out is as it was, but for -ENOMEM (an allocation failed: out->failed is
 * set, for rlp_buf_done to report and free).
 */
int abi_encode(const char *types, const struct abi_value *vals, size_t n, struct rlp_buf *out,
	       char *err, size_t errlen);
/* The selector of signature, then the encoding of vals as its argument types. */
int abi_encode_call(const char *signature, const struct abi_value *vals, size_t n,
		    struct rlp_buf *out, char *err, size_t errlen);

/*
 * Decodes data as the values of the types in the list into out (nout of
 * room, at least one per type; untouched on an error). The values point
 * into data. Strict: the data is a whole number of words, at least the
 * head; every offset is a multiple of 32 inside the data; lengths and
 * counts fit the data after them; padding after bytes and string is zero;
 * every static word is one its type can hold (uint<M> and address zero
 * above their width, int<M> sign-extended, bool 0 or 1, bytes<M> zero
 * after M). Every item of every array is checked here, not when read.
 * Tails may be anywhere in the data, and bytes no value uses are not
 * refused: Solidity places tails in order, but other encoders need not.
 */
int abi_decode(const char *types, const uint8_t *data, size_t n, struct abi_value *out, size_t nout,
	       char *err, size_t errlen);
/*
 * Item i of an array value, in either form, decoded from its body when it
 * is encoded (with the checks above). arr's type says what it holds
 * (abi_decode sets it). -EINVAL when arr is not an array or i is not below
 * its count.
 */
int abi_array_item(const struct abi_value *arr, size_t i, struct abi_value *item, char *err,
		   size_t errlen);

/* Words: v as a uint, v as an int sign-extended, an address right-aligned. */
void abi_word_uint64(uint64_t v, uint8_t w[ABI_WORD]);
void abi_word_int64(int64_t v, uint8_t w[ABI_WORD]);
void abi_word_address(const uint8_t addr[ETH_ADDRESS_LEN], uint8_t w[ABI_WORD]);
/* A word as a uint64 or, read as an int256, an int64: -ERANGE when it does not fit. */
int abi_word_to_uint64(const uint8_t w[ABI_WORD], uint64_t *v);
int abi_word_to_int64(const uint8_t w[ABI_WORD], int64_t *v);

#endif
