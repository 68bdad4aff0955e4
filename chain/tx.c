/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed transactions and messages:
 *	EIP-1559	type 2 under EIP-2718's envelope, the type byte then
 *			the RLP list; yParity is the recovery id;
 *	EIP-155		legacy transactions signed over [..., chainId, 0, 0],
 *			v = recid + chainId * 2 + 35;
 *	EIP-2		S in the lower half of the group order, one signature
 *			per message;
 *	EIP-191		personal_sign's "\x19Ethereum Signed Message:\n" digest.
 * Signing is libsecp256k1's recoverable ECDSA with its default nonce,
 * RFC 6979's HMAC-SHA256 derivation, which always gives a low S.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "chain/tx.h"
#include "lib/lib.h"

#define TX_TYPE_1559 0x02
#define TX_FIELDS_1559 12
#define TX_FIELDS_LEGACY 9
#define EIP155_V_BASE 35
/* the largest chain id whose v (chain_id * 2 + 36 at most) fits in 64 bits */
#define EIP155_CHAIN_MAX ((UINT64_MAX - EIP155_V_BASE - 1) / 2)
#define RLP_LIST 0xc0

enum tx_kind { TX_LEGACY, TX_1559 };

/* A transaction's signature as it is written: v is yParity for type 2, EIP-155's v for legacy. */
struct tx_sig {
	uint64_t v;
	uint8_t r[32], s[32];
};

static const char *kind_name(enum tx_kind kind)
{
	return kind == TX_1559 ? "EIP-1559 transaction" : "legacy transaction";
}

/*
 * The transaction as signed (sig NULL: EIP-155's [..., chainId, 0, 0] for
 * legacy, the list without the signature for type 2) or as sent. The type
 * byte goes in as a one-byte RLP string: a byte below 0x80 is its own
 * encoding.
 */
static void put_tx(struct rlp_buf *b, const struct eth_tx *tx, enum tx_kind kind,
		   const struct tx_sig *sig)
{
	static const uint8_t type = TX_TYPE_1559;
	size_t m;

	if (kind == TX_1559)
		rlp_put_bytes(b, &type, 1);
	m = rlp_list_begin(b);
	if (kind == TX_1559) {
		rlp_put_uint(b, tx->chain_id);
		rlp_put_uint(b, tx->nonce);
		rlp_put_uint_be(b, tx->max_priority_fee_per_gas, 32);
		rlp_put_uint_be(b, tx->max_fee_per_gas, 32);
	} else {
		rlp_put_uint(b, tx->nonce);
		rlp_put_uint_be(b, tx->gas_price, 32);
	}
	rlp_put_uint(b, tx->gas);
	rlp_put_bytes(b, tx->to, tx->has_to ? ETH_ADDRESS_LEN : 0);
	rlp_put_uint_be(b, tx->value, 32);
	rlp_put_bytes(b, tx->data, tx->data_len);
	if (kind == TX_1559)
		rlp_list_end(b, rlp_list_begin(b)); /* the access list, always empty */
	if (sig) {
		rlp_put_uint(b, sig->v);
		rlp_put_uint_be(b, sig->r, 32);
		rlp_put_uint_be(b, sig->s, 32);
	} else if (kind == TX_LEGACY) {
		rlp_put_uint(b, tx->chain_id);
		rlp_put_uint(b, 0);
		rlp_put_uint(b, 0);
	}
	rlp_list_end(b, m);
}

/* The hash a transaction's signature is over. */
static int signing_hash(const struct eth_tx *tx, enum tx_kind kind, uint8_t h[KECCAK256_LEN],
			char *err, size_t errlen)
{
	struct rlp_buf b = { 0 };

	put_tx(&b, tx, kind, NULL);
	if (rlp_buf_done(&b) < 0)
		return set_error(err, errlen, -ENOMEM, "%s: out of memory", kind_name(kind));
	keccak256(b.p, b.len, h);
	rlp_buf_free(&b);
	return 0;
}

/*
 * Signs h: r || s into rs, the recovery id into *recid (0 or 1). The key
 * is used where it lies, and nothing derived from it is held here: the
 * nonce is made and used inside libsecp256k1.
 */
static int sign_hash(const uint8_t *sk, const uint8_t h[KECCAK256_LEN], uint8_t rs[64], int *recid,
		     char *err, size_t errlen)
{
	secp256k1_context *ctx = cvm_secp256k1();
	secp256k1_ecdsa_recoverable_signature sig;
	secp256k1_pubkey pk, back;

	if (!ctx)
		return set_error(err, errlen, -ENOMEM, "no secp256k1 context");
	if (!sk || !secp256k1_ec_seckey_verify(ctx, sk))
		return set_error(err, errlen, -EINVAL,
				 "the private key is no secp256k1 key (0, or not below the order)");
	if (!secp256k1_ecdsa_sign_recoverable(ctx, &sig, h, sk, NULL, NULL) ||
	    !secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, rs, recid, &sig))
		return set_error(err, errlen, -EIO, "secp256k1 signing failed");
	/*
	 * A signature is checked before it leaves: one made wrong (a fault
	 * while signing) would be refused by the chain, and a faulty
	 * deterministic signature can give the key away.
	 */
	if (!secp256k1_ec_pubkey_create(ctx, &pk, sk) ||
	    !secp256k1_ecdsa_recover(ctx, &back, &sig, h) ||
	    secp256k1_ec_pubkey_cmp(ctx, &pk, &back) != 0)
		return set_error(err, errlen, -EIO, "the signature made does not recover its key");
	/* recid 2 and 3 (r reduced mod n): no v of Ethereum's says them; once in 2^127 */
	if (*recid > 1)
		return set_error(err, errlen, -ERANGE, "recovery id %d: no Ethereum v for it",
				 *recid);
	return 0;
}

/* The address whose key made r || s over h with recovery id recid (0 or 1); S must be low. */
static int recover_hash(const uint8_t h[KECCAK256_LEN], const uint8_t rs[64], int recid,
			uint8_t addr[ETH_ADDRESS_LEN], char *err, size_t errlen)
{
	secp256k1_context *ctx = cvm_secp256k1();
	secp256k1_ecdsa_recoverable_signature sig;
	secp256k1_ecdsa_signature plain;
	secp256k1_pubkey pk;
	uint8_t xy[65];
	size_t len = sizeof(xy);

	if (!ctx)
		return set_error(err, errlen, -ENOMEM, "no secp256k1 context");
	if (is_zero(rs, 32) || is_zero(rs + 32, 32))
		return set_error(err, errlen, -EBADMSG, "signature: r or s is 0");
	if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &sig, rs, recid))
		return set_error(err, errlen, -EBADMSG, "signature: r or s is not below the order");
	/* normalize says whether S was high: EIP-2 leaves one valid signature per message */
	if (!secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &sig) ||
	    secp256k1_ecdsa_signature_normalize(ctx, NULL, &plain))
		return set_error(err, errlen, -EBADMSG, "signature: S is high (EIP-2)");
	if (!secp256k1_ecdsa_recover(ctx, &pk, &sig, h) ||
	    !secp256k1_ec_pubkey_serialize(ctx, xy, &len, &pk, SECP256K1_EC_UNCOMPRESSED) ||
	    eth_address_from_pubkey(xy, len, addr) < 0)
		return set_error(err, errlen, -EBADMSG,
				 "signature: no public key recovers from it");
	return 0;
}

static int sign_tx(const struct eth_tx *tx, enum tx_kind kind, const uint8_t *sk,
		   struct rlp_buf *raw, uint8_t txhash[KECCAK256_LEN], char *err, size_t errlen)
{
	struct rlp_buf b = { 0 };
	uint8_t h[KECCAK256_LEN], rs[64];
	struct tx_sig sig;
	int recid, r;

	if (!tx || !raw || !txhash || (tx->data_len && !tx->data))
		return set_error(err, errlen, -EINVAL, "%s: no transaction", kind_name(kind));
	/* chain id 0 names no chain: a signature for it is anyone's to replay anywhere it is taken */
	if (tx->chain_id == 0)
		return set_error(err, errlen, -EINVAL, "%s: chain id 0", kind_name(kind));
	/* EIP-1559: a tip above the cap is no transaction any node takes */
	if (kind == TX_1559 && memcmp(tx->max_priority_fee_per_gas, tx->max_fee_per_gas, 32) > 0)
		return set_error(err, errlen, -EINVAL,
				 "EIP-1559 transaction: maxPriorityFeePerGas above maxFeePerGas");
	if (kind == TX_LEGACY && tx->chain_id > EIP155_CHAIN_MAX)
		return set_error(err, errlen, -EINVAL,
				 "legacy transaction: chain id %llu does not fit EIP-155's v",
				 (unsigned long long)tx->chain_id);
	r = signing_hash(tx, kind, h, err, errlen);
	if (r < 0)
		return r;
	r = sign_hash(sk, h, rs, &recid, err, errlen);
	if (r < 0)
		return r;
	sig.v = kind == TX_1559 ? (uint64_t)recid : tx->chain_id * 2 + EIP155_V_BASE + recid;
	memcpy(sig.r, rs, 32);
	memcpy(sig.s, rs + 32, 32);
	put_tx(&b, tx, kind, &sig);
	if (rlp_buf_done(&b) < 0)
		return set_error(err, errlen, -ENOMEM, "%s: out of memory", kind_name(kind));
	keccak256(b.p, b.len, txhash);
	*raw = b;
	return 0;
}

int eth_tx_sign_1559(const struct eth_tx *tx, const uint8_t sk[32], struct rlp_buf *raw,
		     uint8_t txhash[KECCAK256_LEN], char *err, size_t errlen)
{
	return sign_tx(tx, TX_1559, sk, raw, txhash, err, errlen);
}

int eth_tx_sign_legacy(const struct eth_tx *tx, const uint8_t sk[32], struct rlp_buf *raw,
		       uint8_t txhash[KECCAK256_LEN], char *err, size_t errlen)
{
	return sign_tx(tx, TX_LEGACY, sk, raw, txhash, err, errlen);
}

/* ---- decoding ---- */

/* The decoder's reason for a field, with the field named. */
static int field_error(const char *what, const char *field, const char *why, char *err,
		       size_t errlen)
{
	return set_error(err, errlen, -EBADMSG, "%s: %s: %s", what, field, why);
}

static int get_u64(const struct rlp_item *it, uint64_t *v, const char *what, const char *field,
		   char *err, size_t errlen)
{
	char why[128];

	if (rlp_item_uint(it, v, why, sizeof(why)) < 0)
		return field_error(what, field, why, err, errlen);
	return 0;
}

/* A uint256: at most 32 bytes, no leading zero (0 is the empty string), right-aligned in out. */
static int get_u256(const struct rlp_item *it, uint8_t out[32], const char *what, const char *field,
		    char *err, size_t errlen)
{
	if (it->list)
		return field_error(what, field, "a list where an integer is wanted", err, errlen);
	if (it->len > 32)
		return field_error(what, field, "an integer of more than 32 bytes", err, errlen);
	if (it->len && it->p[0] == 0)
		return field_error(what, field, "an integer with a leading zero byte", err, errlen);
	memset(out, 0, 32);
	if (it->len)
		memcpy(out + 32 - it->len, it->p, it->len);
	return 0;
}

/* The fields of the list, exactly want of them, into it[]. */
static int get_fields(struct rlp_item list, struct rlp_item *it, size_t want, const char *what,
		      char *err, size_t errlen)
{
	struct rlp_item extra;
	char why[128];
	size_t k;
	int r;

	for (k = 0; k < want; k++) {
		r = rlp_list_next(&list, &it[k], why, sizeof(why));
		if (r < 0)
			return set_error(err, errlen, -EBADMSG, "%s: %s", what, why);
		if (r == 0)
			break;
	}
	if (k == want) {
		r = rlp_list_next(&list, &extra, why, sizeof(why));
		if (r < 0)
			return set_error(err, errlen, -EBADMSG, "%s: %s", what, why);
		if (r == 1)
			return set_error(err, errlen, -EBADMSG, "%s: more than %zu fields", what,
					 want);
	}
	if (k != want)
		return set_error(err, errlen, -EBADMSG, "%s: %zu fields, %zu wanted", what, k,
				 want);
	return 0;
}

/* nonce .. data, at it[0]: the fields both kinds share (type 2's chain id and fees before). */
static int get_common(const struct rlp_item *it, enum tx_kind kind, struct eth_tx *t, char *err,
		      size_t errlen)
{
	const char *what = kind_name(kind);
	int r;

	if (kind == TX_1559) {
		if ((r = get_u64(&it[0], &t->chain_id, what, "chainId", err, errlen)) < 0 ||
		    (r = get_u64(&it[1], &t->nonce, what, "nonce", err, errlen)) < 0 ||
		    (r = get_u256(&it[2], t->max_priority_fee_per_gas, what, "maxPriorityFeePerGas",
				  err, errlen)) < 0 ||
		    (r = get_u256(&it[3], t->max_fee_per_gas, what, "maxFeePerGas", err, errlen)) <
			    0)
			return r;
		/* as the signer refuses it (EIP-1559: no node takes a tip above the cap) */
		if (memcmp(t->max_priority_fee_per_gas, t->max_fee_per_gas, 32) > 0)
			return field_error(what, "maxPriorityFeePerGas", "above maxFeePerGas", err,
					   errlen);
		it += 4;
	} else {
		if ((r = get_u64(&it[0], &t->nonce, what, "nonce", err, errlen)) < 0 ||
		    (r = get_u256(&it[1], t->gas_price, what, "gasPrice", err, errlen)) < 0)
			return r;
		it += 2;
	}
	if ((r = get_u64(&it[0], &t->gas, what, "gas", err, errlen)) < 0)
		return r;
	if (it[1].list || (it[1].len != 0 && it[1].len != ETH_ADDRESS_LEN))
		return field_error(what, "to", "neither 20 bytes nor empty", err, errlen);
	t->has_to = it[1].len != 0;
	if (t->has_to)
		memcpy(t->to, it[1].p, ETH_ADDRESS_LEN);
	if ((r = get_u256(&it[2], t->value, what, "value", err, errlen)) < 0)
		return r;
	if (it[3].list)
		return field_error(what, "data", "a list where bytes are wanted", err, errlen);
	t->data = it[3].len ? it[3].p : NULL;
	t->data_len = it[3].len;
	return 0;
}

int eth_tx_decode(const uint8_t *raw, size_t n, struct eth_tx *tx, uint8_t from[ETH_ADDRESS_LEN],
		  char *err, size_t errlen)
{
	struct rlp_item list, it[TX_FIELDS_1559];
	struct rlp_buf again = { 0 };
	struct eth_tx t = { 0 };
	struct tx_sig sig = { 0 };
	uint8_t h[KECCAK256_LEN], rs[64], addr[ETH_ADDRESS_LEN];
	enum tx_kind kind;
	const char *what;
	const uint8_t *body = raw;
	size_t len = n, sigat;
	char why[128];
	bool same;
	int recid, r;

	if (!tx || !from)
		return set_error(err, errlen, -EINVAL, "transaction: nowhere to decode it");
	if (!raw || n == 0)
		return set_error(err, errlen, -EBADMSG, "transaction: empty");
	if (raw[0] == TX_TYPE_1559) {
		kind = TX_1559;
		body++;
		len--;
	} else if (raw[0] >= RLP_LIST) {
		kind = TX_LEGACY;
	} else if (raw[0] < 0x80) {
		/* EIP-2718: a first byte below 0x80 is the type; 1 (EIP-2930), 3 (blobs) and the rest */
		return set_error(err, errlen, -EBADMSG,
				 "transaction type 0x%02x: only 2 (EIP-1559) and legacy are read",
				 raw[0]);
	} else {
		return set_error(err, errlen, -EBADMSG, "transaction: an RLP string, not a list");
	}
	what = kind_name(kind);
	if (rlp_decode_all(body, len, &list, why, sizeof(why)) < 0)
		return set_error(err, errlen, -EBADMSG, "%s: %s", what, why);
	if (!list.list)
		return set_error(err, errlen, -EBADMSG, "%s: an RLP string, not a list", what);
	r = get_fields(list, it, kind == TX_1559 ? TX_FIELDS_1559 : TX_FIELDS_LEGACY, what, err,
		       errlen);
	if (r < 0)
		return r;
	r = get_common(it, kind, &t, err, errlen);
	if (r < 0)
		return r;
	if (kind == TX_1559) {
		if (!it[8].list)
			return field_error(what, "accessList", "not a list", err, errlen);
		/* cvm writes none; one here would be a transaction cvm did not make */
		if (it[8].len)
			return field_error(what, "accessList", "not empty (cvm reads none)", err,
					   errlen);
		sigat = 9;
		if ((r = get_u64(&it[sigat], &sig.v, what, "yParity", err, errlen)) < 0)
			return r;
		if (sig.v > 1)
			return field_error(what, "yParity", "neither 0 nor 1", err, errlen);
		recid = (int)sig.v;
	} else {
		sigat = 6;
		if ((r = get_u64(&it[sigat], &sig.v, what, "v", err, errlen)) < 0)
			return r;
		if (sig.v < EIP155_V_BASE)
			return field_error(what, "v",
					   "no chain id in it (EIP-155's replay protection wanted)",
					   err, errlen);
		t.chain_id = (sig.v - EIP155_V_BASE) / 2;
		recid = (int)((sig.v - EIP155_V_BASE) & 1);
		/* what eth_tx_sign_legacy would refuse to sign: both of the chain's v must fit */
		if (t.chain_id > EIP155_CHAIN_MAX)
			return field_error(what, "v", "a chain id past EIP-155's range", err,
					   errlen);
	}
	if (t.chain_id == 0)
		return field_error(what, "chainId", "0", err, errlen);
	if ((r = get_u256(&it[sigat + 1], sig.r, what, "r", err, errlen)) < 0 ||
	    (r = get_u256(&it[sigat + 2], sig.s, what, "s", err, errlen)) < 0)
		return r;

	/*
	 * Written again from the fields it must give back the bytes read:
	 * the decoder is canonical, so this only guards this file's own
	 * reading and writing against drifting apart.
	 */
	put_tx(&again, &t, kind, &sig);
	if (rlp_buf_done(&again) < 0)
		return set_error(err, errlen, -ENOMEM, "%s: out of memory", what);
	same = again.len == n && memcmp(again.p, raw, n) == 0;
	rlp_buf_free(&again);
	if (!same)
		return set_error(err, errlen, -EBADMSG, "%s: not written as cvm would", what);

	r = signing_hash(&t, kind, h, err, errlen);
	if (r < 0)
		return r;
	memcpy(rs, sig.r, 32);
	memcpy(rs + 32, sig.s, 32);
	r = recover_hash(h, rs, recid, addr, why, sizeof(why));
	if (r < 0)
		return set_error(err, errlen, r, "%s: %s", what, why);
	*tx = t;
	memcpy(from, addr, ETH_ADDRESS_LEN);
	return 0;
}

/* ---- messages ---- */

int eth_sign_digest(const uint8_t sk[32], const uint8_t digest[KECCAK256_LEN],
		    uint8_t sig[ETH_SIG_LEN], char *err, size_t errlen)
{
	uint8_t rs[64];
	int recid, r;

	if (!digest || !sig)
		return set_error(err, errlen, -EINVAL, "no digest to sign");
	r = sign_hash(sk, digest, rs, &recid, err, errlen);
	if (r < 0)
		return r;
	memcpy(sig, rs, 64);
	sig[64] = (uint8_t)(27 + recid);
	return 0;
}

int eth_recover(const uint8_t digest[KECCAK256_LEN], const uint8_t sig[ETH_SIG_LEN],
		uint8_t addr[ETH_ADDRESS_LEN], char *err, size_t errlen)
{
	unsigned v;

	if (!digest || !sig || !addr)
		return set_error(err, errlen, -EINVAL, "no signature to recover");
	/* 27 and 28 as eth_sign writes them; 0 and 1, the bare recovery id, as some signers do */
	v = sig[64];
	if (v >= 27)
		v -= 27;
	if (v > 1)
		return set_error(err, errlen, -EBADMSG,
				 "signature: v is %u (27 or 28, or 0 or 1, wanted)", sig[64]);
	return recover_hash(digest, sig, (int)v, addr, err, errlen);
}

void eip191_digest(const void *msg, size_t n, uint8_t out[KECCAK256_LEN])
{
	static const char prefix[] = "\x19"
				     "Ethereum Signed Message:\n";
	struct keccak256 k;
	char len[24];
	int l = snprintf(len, sizeof(len), "%zu", n);

	keccak256_init(&k);
	keccak256_update(&k, prefix, sizeof(prefix) - 1);
	keccak256_update(&k, len, (size_t)l);
	keccak256_update(&k, msg, n);
	keccak256_final(&k, out);
}
