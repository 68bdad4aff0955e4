/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain/tx.c: signed transactions (EIP-1559, EIP-155) and signed messages
 * (EIP-191, signatures over digests, recovery).
 *
 * With CVM_CHAIN_ETHERS_VECTORS naming a file, test_ethers_vectors_file
 * also checks each vector in it, one a line, fields split by one space,
 * hex without "0x", "-" for no address or empty bytes, integers decimal:
 *	tx1559 SK CHAIN NONCE MAXPRIO MAXFEE GAS TO VALUE DATA FROM RAW
 *	legacy SK CHAIN NONCE GASPRICE GAS TO VALUE DATA FROM RAW
 *	typed SK JSON_BASE64 DIGEST SIG
 *	personal SK MSG DIGEST SIG
 * (SK the private key, FROM its address, RAW the signed transaction,
 * JSON_BASE64 eth_signTypedData_v4's JSON in padded standard base64, MSG
 * the bytes personal_sign signs, SIG r || s || v with v 27 or 28; '#'
 * starts a comment line). tests/chain/ethers-vectors.mjs writes such
 * files with ethers 6; tests/cli/test_chain_ethers.sh runs it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <secp256k1.h>

#include "chain/chain.h"
#include "chain/eip712.h"
#include "chain/tx.h"
#include "lib/lib.h"

/* EIP-155's example key; keccak256("cow"), EIP-712's example key; and 1, whose public key is G */
#define K_46 "4646464646464646464646464646464646464646464646464646464646464646"
#define K_COW "c85ef7d79691fe79573b1a7064c19c1a9819ebdbd1faaab1a8ec92344438aaf4"
#define K_ONE "0000000000000000000000000000000000000000000000000000000000000001"
/* their addresses (K_ONE's: test_chain_address.c; the others: ethers 6.13 computeAddress) */
#define A_46 "9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f"
#define A_COW "cd2a3d9f938e13cd947ec05abc7fe734df8dd826"
#define A_ONE "7e5f4552091a69125d5dfcb7b8c2659029395bdf"

/* the secp256k1 group order n (SEC 2, 2.4.1) */
static const uint8_t order_n[32] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
	0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
};

/* hex into out (at most cap bytes): the byte count */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n;

	assert_int_equal(hex_decode(hex, out, cap, &n), 0);
	return n;
}

/* 1 to 64 hex digits as a uint256 */
static void u256(const char *hex, uint8_t out[32])
{
	char pad[65];
	size_t n = strlen(hex);

	assert_true(n >= 1 && n <= 64);
	memset(pad, '0', 64 - n);
	memcpy(pad + 64 - n, hex, n + 1);
	assert_int_equal(hex_decode_exact(pad, out, 32), 0);
}

static void key(const char *hex, uint8_t sk[32])
{
	assert_int_equal(hex_decode_exact(hex, sk, 32), 0);
}

static void address_of(const uint8_t sk[32], uint8_t addr[ETH_ADDRESS_LEN])
{
	secp256k1_pubkey pk;
	uint8_t pub[65];
	size_t n = sizeof(pub);

	assert_true(secp256k1_ec_pubkey_create(cvm_secp256k1(), &pk, sk));
	assert_true(secp256k1_ec_pubkey_serialize(cvm_secp256k1(), pub, &n, &pk,
						  SECP256K1_EC_UNCOMPRESSED));
	assert_int_equal(eth_address_from_pubkey(pub, n, addr), 0);
}

/* n - s, for the other S of a signature */
static void negate_mod_n(const uint8_t s[32], uint8_t out[32])
{
	int borrow = 0;

	for (int i = 31; i >= 0; i--) {
		int d = order_n[i] - s[i] - borrow;

		borrow = d < 0;
		out[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

static void expect_same_tx(const struct eth_tx *a, const struct eth_tx *b, bool typed)
{
	assert_int_equal(a->chain_id, b->chain_id);
	assert_int_equal(a->nonce, b->nonce);
	assert_int_equal(a->gas, b->gas);
	if (typed) {
		assert_memory_equal(a->max_priority_fee_per_gas, b->max_priority_fee_per_gas, 32);
		assert_memory_equal(a->max_fee_per_gas, b->max_fee_per_gas, 32);
	} else {
		assert_memory_equal(a->gas_price, b->gas_price, 32);
	}
	assert_int_equal(a->has_to, b->has_to);
	if (a->has_to)
		assert_memory_equal(a->to, b->to, ETH_ADDRESS_LEN);
	assert_memory_equal(a->value, b->value, 32);
	assert_int_equal(a->data_len, b->data_len);
	if (a->data_len)
		assert_memory_equal(a->data, b->data, a->data_len);
}

/*
 * Signs tx with sk, and checks raw (hex), the transaction hash, the
 * decoding of raw back to tx and its sender; every proper prefix of raw,
 * each in a buffer of its own length, is refused.
 */
static void check_tx(const struct eth_tx *tx, bool typed, const char *sk_hex, const char *raw_hex,
		     const char *hash_hex, const char *from_hex)
{
	uint8_t sk[32], want[4096], h[32], from[ETH_ADDRESS_LEN], want_from[ETH_ADDRESS_LEN];
	struct rlp_buf raw = { 0 };
	struct eth_tx back;
	char err[160] = "";
	size_t n;

	key(sk_hex, sk);
	n = unhex(raw_hex, want, sizeof(want));
	assert_int_equal(hex_decode_exact(from_hex, want_from, sizeof(want_from)), 0);
	if (typed)
		assert_int_equal(eth_tx_sign_1559(tx, sk, &raw, h, err, sizeof(err)), 0);
	else
		assert_int_equal(eth_tx_sign_legacy(tx, sk, &raw, h, err, sizeof(err)), 0);
	assert_int_equal(raw.len, n);
	assert_memory_equal(raw.p, want, n);
	if (hash_hex) {
		uint8_t hw[32];

		assert_int_equal(hex_decode_exact(hash_hex, hw, 32), 0);
		assert_memory_equal(h, hw, 32);
	}
	rlp_buf_free(&raw);

	memset(&back, 0xee, sizeof(back));
	assert_int_equal(eth_tx_decode(want, n, &back, from, err, sizeof(err)), 0);
	expect_same_tx(&back, tx, typed);
	assert_memory_equal(from, want_from, sizeof(from));
	if (back.data_len)
		assert_true(back.data >= want && back.data + back.data_len <= want + n);

	for (size_t k = 0; k < n; k++) {
		uint8_t *t = malloc(k ? k : 1);

		assert_non_null(t);
		memcpy(t, want, k);
		err[0] = '\0';
		assert_int_equal(eth_tx_decode(t, k, &back, from, err, sizeof(err)), -EBADMSG);
		assert_true(err[0] != '\0');
		free(t);
	}
}

/*
 * EIP-155's own example: key 0x4646...46, nonce 9, gasPrice 20 gwei, gas
 * 21000, to 0x3535...35, value 1 ether, chain 1. The EIP gives the signing
 * hash and the signed transaction; the transaction hash and the sender are
 * ethers 6.13's.
 */
static void test_eip155_example(void **state)
{
	static const char raw_hex[] = "f86c098504a817c800825208943535353535353535353535353535353535"
				      "353535880de0b6b3a7640000"
				      "8025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e15906"
				      "20aa636276a067cbe9d8997f"
				      "761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";
	struct eth_tx tx = { .chain_id = 1, .nonce = 9, .gas = 21000, .has_to = true };
	uint8_t raw[110], h[32], sig[ETH_SIG_LEN], from[ETH_ADDRESS_LEN], want[ETH_ADDRESS_LEN];
	char err[128];

	(void)state;
	u256("4a817c800", tx.gas_price);
	u256("de0b6b3a7640000", tx.value);
	memset(tx.to, 0x35, sizeof(tx.to));
	check_tx(&tx, false, K_46, raw_hex,
		 "33469b22e9f636356c4160a87eb19df52b7412e8eac32a4a55ffe88ea8350788", A_46);

	/* the signature (v 37: recid 0 on chain 1) is over the EIP's signing hash */
	assert_int_equal(unhex(raw_hex, raw, sizeof(raw)), sizeof(raw));
	assert_int_equal(raw[43], 0x25);
	memcpy(sig, raw + 45, 32);
	memcpy(sig + 32, raw + 78, 32);
	sig[64] = 27;
	assert_int_equal(
		hex_decode_exact("daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53",
				 h, 32),
		0);
	assert_int_equal(eth_recover(h, sig, from, err, sizeof(err)), 0);
	assert_int_equal(hex_decode_exact(A_46, want, sizeof(want)), 0);
	assert_memory_equal(from, want, sizeof(from));
}

/* An ERC-20 transfer(0x7099...79c8, 1000e18): the data of the contract calls below. */
static const char transfer_hex[] =
	"a9059cbb00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8"
	"00000000000000000000000000000000000000000000003635c9adc5dea00000";
/* Some contract's init code: the data of the creation below. */
static const char init_hex[] = "6080604052348015600f57600080fd5b50603f80601d6000396000f3fe608060"
			       "4052600080fdfea164736f6c6343000818000a";
static const char call_raw_hex[] =
	"02f8b001808459682f008506fc23ac0082ea6094353535353535353535353535353535353535353580b844"
	"a9059cbb00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c800000000000000"
	"000000000000000000000000000000003635c9adc5dea00000c001a0d58277da48f03af203163678e7cd01"
	"69bb92d2f0dfe5b1061c2347c9619fbf06a04c810c169f3d2c497abcb696dd4857f077a328a1825f01fadc"
	"eb0e745cff0043";

/* The contract call: chain 1, nonce 0, tip 1.5 gwei, cap 30 gwei, gas 60000, to 0x3535...35. */
static void call_tx(struct eth_tx *tx, uint8_t *data)
{
	*tx = (struct eth_tx){ .chain_id = 1, .nonce = 0, .gas = 60000, .has_to = true };
	u256("59682f00", tx->max_priority_fee_per_gas);
	u256("6fc23ac00", tx->max_fee_per_gas);
	memset(tx->to, 0x35, sizeof(tx->to));
	tx->data_len = unhex(transfer_hex, data, 68);
	tx->data = data;
}

/*
 * Type-2 transactions signed by ethers 6.13 (Transaction.from, then
 * SigningKey.sign of its unsignedHash): a contract call, a contract
 * creation, every field at its largest, and a plain transfer on 31337.
 */
static void test_1559_vectors_from_ethers(void **state)
{
	static const char create_raw_hex[] = "02f888827a6907808477359400832dc6c08080b36080604052348"
					     "015600f57600080fd5b50603f80601d"
					     "6000396000f3fe6080604052600080fdfea164736f6c634300081"
					     "8000ac080a097b89256977ea6a18854"
					     "f74ef919d42d533e310961e5d67a05e2f226246af9d5a022c1d68"
					     "ee1b2df412c409fc02495a09101e661"
					     "1eb7ec369384e797755fe7482c";
	static const char large_raw_hex[] =
		"02f8cf01871fffffffffffffa0ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		"ffff"
		"ffffa0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff88ffffffffff"
		"ffff"
		"ff943535353535353535353535353535353535353535a0ffffffffffffffffffffffffffffffffffff"
		"ffff"
		"ffffffffffffffffffffffff80c001a057c0d4edf730b8b796d5a67de5bb4e042a32c856bab51a189d"
		"d2"
		"6c688d997f78a040a07c0851e8d4c973da037bb4880fc58a8e2e8df673fac8af884b6d34b3d120";
	static const char value_raw_hex[] =
		"02f872827a690101843b9aca008252089470997970c51812dc3a010c7d01b50e0d17dc79c88a029d39"
		"4a"
		"5d630544000080c001a04c81df7451eac10e3c06de5d017d7685023ca20af465e91a9ed9a5d7546bc8"
		"94"
		"a04a82b6367126128d56ab7fd8217d7a5fea8634f3f28d4064d342e91322382d52";
	uint8_t data[128];
	struct eth_tx tx;

	(void)state;
	call_tx(&tx, data);
	check_tx(&tx, true, K_46, call_raw_hex,
		 "4b3ce6adba4e6a12d1a04785836f79feec630a90a8133bcef1e11d85991b0c04", A_46);

	/* creation: no to; chain 31337, nonce 7, no tip, cap 2 gwei, gas 3000000 */
	tx = (struct eth_tx){ .chain_id = 31337, .nonce = 7, .gas = 3000000 };
	u256("77359400", tx.max_fee_per_gas);
	tx.data_len = unhex(init_hex, data, sizeof(data));
	tx.data = data;
	check_tx(&tx, true, K_COW, create_raw_hex,
		 "66a5df9e2de77a7bd5aff98434c749a1157c42f6a7a190195bb58172de341ae8", A_COW);

	/* nonce 2^53 - 1 (ethers' largest), fees and value 2^256 - 1, gas 2^64 - 1, no data */
	tx = (struct eth_tx){
		.chain_id = 1, .nonce = 9007199254740991, .gas = UINT64_MAX, .has_to = true
	};
	memset(tx.max_priority_fee_per_gas, 0xff, 32);
	memset(tx.max_fee_per_gas, 0xff, 32);
	memset(tx.value, 0xff, 32);
	memset(tx.to, 0x35, sizeof(tx.to));
	check_tx(&tx, true, K_46, large_raw_hex,
		 "aab2b16d3c605d5711793cebc4c5930583b2843e4faf85a525ea43c940b42c19", A_46);

	/* 12345 ether to 0x7099...79c8 on 31337: tip 1 wei, cap 1 gwei, gas 21000 */
	tx = (struct eth_tx){ .chain_id = 31337, .nonce = 1, .gas = 21000, .has_to = true };
	u256("1", tx.max_priority_fee_per_gas);
	u256("3b9aca00", tx.max_fee_per_gas);
	u256("29d394a5d6305440000", tx.value);
	assert_int_equal(
		hex_decode_exact("70997970c51812dc3a010c7d01b50e0d17dc79c8", tx.to, sizeof(tx.to)),
		0);
	check_tx(&tx, true, K_ONE, value_raw_hex,
		 "27203e035bb6528ce7a6f2136e2ff025d2c05bcaa86a8cc13081a6359bc556f2", A_ONE);
}

/* A legacy contract call on 31337 (v 0xf4f6 = 31337 * 2 + 36), signed by ethers 6.13. */
static void test_legacy_vector_from_ethers(void **state)
{
	static const char raw_hex[] = "f8ab03843b9aca00830186a0945fbdb2315678afecb367f032d93f642f64"
				      "180aa380b844a9059cbb0000"
				      "0000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8"
				      "000000000000000000000000"
				      "00000000000000000000003635c9adc5dea0000082f4f6a04a0287538725"
				      "c87e4077d21ec3670dbffe81"
				      "658c31fe83b6f603d67d3856040fa06d1a520159cef8b1a6d658015feb9e"
				      "632dd7eca875248df6ceb038"
				      "7a184fa161";
	struct eth_tx tx = { .chain_id = 31337, .nonce = 3, .gas = 100000, .has_to = true };
	uint8_t data[68];

	(void)state;
	u256("3b9aca00", tx.gas_price);
	assert_int_equal(
		hex_decode_exact("5fbdb2315678afecb367f032d93f642f64180aa3", tx.to, sizeof(tx.to)),
		0);
	tx.data_len = unhex(transfer_hex, data, sizeof(data));
	tx.data = data;
	check_tx(&tx, false, K_ONE, raw_hex,
		 "503a01565ce42df34b306d6e2c58efa99f822fd403cb8b38a77f8b8eabb1e39d", A_ONE);
}

/* What to break in the contract call as mk_call writes it. */
enum mutation {
	M_NONE,
	M_NONCE_PADDED,	 /* nonce 0 as 00, not the empty string */
	M_GAS_PADDED,	 /* gas with a leading zero byte */
	M_FEE_PADDED,	 /* maxFeePerGas with a leading zero byte */
	M_VALUE_33,	 /* a value of 33 bytes */
	M_TO_19,	 /* a to of 19 bytes */
	M_TO_LIST,	 /* to as a list */
	M_DATA_LIST,	 /* data as a list */
	M_ACCESS_LIST,	 /* one entry in the access list */
	M_ACCESS_STRING, /* the access list as a string */
	M_YPARITY_2,	 /* yParity 2 */
	M_YPARITY_PADDED,
	M_R_PADDED,	/* r with a leading zero byte */
	M_S_ZERO,	/* s = 0 */
	M_S_N,		/* s = n, past the order */
	M_HIGH_S,	/* s' = n - s and the other parity: valid, but EIP-2's refused twin */
	M_CHAIN_0,	/* chain id 0 */
	M_TIP_OVER_CAP, /* maxPriorityFeePerGas above maxFeePerGas */
	M_FIELD_MORE,	/* 13 fields */
	M_FIELD_LESS,	/* 11 fields */
	M_TRAILING,	/* a byte after the list */
	M_NOT_LIST,	/* 0x02 and a string */
	M_NONCE_9BYTES, /* a nonce of 9 bytes */
};

/*
 * The contract call of test_1559_vectors_from_ethers written here
 * independently of tx.c, with its signature, or with one thing broken.
 */
static void mk_call(struct rlp_buf *b, enum mutation m)
{
	static const uint8_t r[32] = { 0xd5, 0x82, 0x77, 0xda, 0x48, 0xf0, 0x3a, 0xf2,
				       0x03, 0x16, 0x36, 0x78, 0xe7, 0xcd, 0x01, 0x69,
				       0xbb, 0x92, 0xd2, 0xf0, 0xdf, 0xe5, 0xb1, 0x06,
				       0x1c, 0x23, 0x47, 0xc9, 0x61, 0x9f, 0xbf, 0x06 };
	static const uint8_t s[32] = { 0x4c, 0x81, 0x0c, 0x16, 0x9f, 0x3d, 0x2c, 0x49,
				       0x7a, 0xbc, 0xb6, 0x96, 0xdd, 0x48, 0x57, 0xf0,
				       0x77, 0xa3, 0x28, 0xa1, 0x82, 0x5f, 0x01, 0xfa,
				       0xdc, 0xeb, 0x0e, 0x74, 0x5c, 0xff, 0x00, 0x43 };
	uint8_t data[68], to[21], big[33] = { 0 }, s2[32];
	size_t l, al;

	unhex(transfer_hex, data, sizeof(data));
	memset(to, 0x35, sizeof(to));
	rlp_put_bytes(b, "\x02", 1);
	l = rlp_list_begin(b);
	if (m == M_NOT_LIST) {
		rlp_put_bytes(b, "\x01\x02", 2);
		return;
	}
	rlp_put_uint(b, m == M_CHAIN_0 ? 0 : 1);
	if (m == M_NONCE_PADDED)
		rlp_put_bytes(b, "\x00", 1);
	else if (m == M_NONCE_9BYTES)
		rlp_put_bytes(b, "\x01\x00\x00\x00\x00\x00\x00\x00\x00", 9);
	else
		rlp_put_uint(b, 0);
	rlp_put_uint(b, m == M_TIP_OVER_CAP ? 0x6fc23ac01 : 0x59682f00);
	if (m == M_FEE_PADDED)
		rlp_put_bytes(b, "\x00\x06\xfc\x23\xac\x00", 6);
	else
		rlp_put_uint(b, 0x6fc23ac00);
	if (m == M_GAS_PADDED)
		rlp_put_bytes(b, "\x00\xea\x60", 3);
	else
		rlp_put_uint(b, 60000);
	if (m == M_TO_LIST) {
		rlp_list_end(b, rlp_list_begin(b));
	} else {
		rlp_put_bytes(b, to, m == M_TO_19 ? 19 : 20);
	}
	if (m == M_VALUE_33) {
		big[0] = 1;
		rlp_put_bytes(b, big, 33);
	} else {
		rlp_put_uint(b, 0);
	}
	if (m == M_DATA_LIST) {
		size_t dl = rlp_list_begin(b);

		rlp_put_bytes(b, data, sizeof(data));
		rlp_list_end(b, dl);
	} else {
		rlp_put_bytes(b, data, sizeof(data));
	}
	if (m == M_ACCESS_STRING) {
		rlp_put_bytes(b, "", 0);
	} else {
		al = rlp_list_begin(b);
		if (m == M_ACCESS_LIST) { /* [[address, []]] */
			size_t e = rlp_list_begin(b);

			rlp_put_bytes(b, to, 20);
			rlp_list_end(b, rlp_list_begin(b));
			rlp_list_end(b, e);
		}
		rlp_list_end(b, al);
	}
	if (m == M_FIELD_LESS) {
		rlp_put_uint(b, 1);
		rlp_put_bytes(b, r, 32);
		rlp_list_end(b, l);
		return;
	}
	if (m == M_YPARITY_PADDED)
		rlp_put_bytes(b, "\x00\x01", 2);
	else
		rlp_put_uint(b, m == M_YPARITY_2 ? 2 : m == M_HIGH_S ? 0 : 1);
	if (m == M_R_PADDED) {
		big[0] = 0;
		memcpy(big + 1, r, 32);
		rlp_put_bytes(b, big, 33);
	} else {
		rlp_put_bytes(b, r, 32);
	}
	if (m == M_S_ZERO) {
		rlp_put_uint(b, 0);
	} else if (m == M_S_N) {
		rlp_put_bytes(b, order_n, 32);
	} else if (m == M_HIGH_S) {
		negate_mod_n(s, s2);
		rlp_put_bytes(b, s2, 32);
	} else {
		rlp_put_bytes(b, s, 32);
	}
	if (m == M_FIELD_MORE)
		rlp_put_uint(b, 0);
	rlp_list_end(b, l);
	if (m == M_TRAILING)
		rlp_put_bytes(b, "\x00", 1);
}

static void test_decode_refuses_what_is_not_canonical(void **state)
{
	static const struct {
		enum mutation m;
		const char *why; /* a word of the reason */
	} cases[] = {
		{ M_NONCE_PADDED, "nonce" },
		{ M_NONCE_9BYTES, "nonce" },
		{ M_GAS_PADDED, "gas" },
		{ M_FEE_PADDED, "maxFeePerGas" },
		{ M_VALUE_33, "value" },
		{ M_TO_19, "to" },
		{ M_TO_LIST, "to" },
		{ M_DATA_LIST, "data" },
		{ M_ACCESS_LIST, "accessList" },
		{ M_ACCESS_STRING, "accessList" },
		{ M_YPARITY_2, "yParity" },
		{ M_YPARITY_PADDED, "yParity" },
		{ M_R_PADDED, "r:" },
		{ M_S_ZERO, "is 0" },
		{ M_S_N, "order" },
		{ M_HIGH_S, "EIP-2" },
		{ M_CHAIN_0, "chainId" },
		{ M_TIP_OVER_CAP, "maxPriorityFeePerGas" },
		{ M_FIELD_MORE, "fields" },
		{ M_FIELD_LESS, "fields" },
		{ M_TRAILING, "after" },
		{ M_NOT_LIST, "list" },
	};
	uint8_t want[256], from[ETH_ADDRESS_LEN] = { 0 };
	struct rlp_buf b = { 0 };
	struct eth_tx tx;
	char err[160];
	size_t n;

	(void)state;
	/* the writer here gives the vector itself when nothing is broken */
	n = unhex(call_raw_hex, want, sizeof(want));
	mk_call(&b, M_NONE);
	assert_int_equal(rlp_buf_done(&b), 0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.p, want, n);
	assert_int_equal(eth_tx_decode(b.p, b.len, &tx, from, err, sizeof(err)), 0);
	rlp_buf_free(&b);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		mk_call(&b, cases[i].m);
		assert_int_equal(rlp_buf_done(&b), 0);
		memset(from, 0xee, sizeof(from));
		err[0] = '\0';
		assert_int_equal(eth_tx_decode(b.p, b.len, &tx, from, err, sizeof(err)), -EBADMSG);
		if (!strstr(err, cases[i].why))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].why);
		assert_null(strchr(err, '\n'));
		assert_int_equal(from[0], 0xee);
		rlp_buf_free(&b);
	}
}

/* Other types, strings, legacy without EIP-155, and legacy of the wrong shape. */
static void test_decode_refuses_other_kinds(void **state)
{
	static const char *const bad[] = {
		"",	"01c0", /* EIP-2930 */
		"03c0",		/* EIP-4844 */
		"04c0",		/* EIP-7702 */
		"7fc0", "80",	/* an RLP string */
		"8180", "02",	/* the type byte alone */
		"0280",		/* a type-2 string */
		"c0",		/* an empty legacy list */
		"02c0",		/* an empty type-2 list */
	};
	uint8_t in[64], sk[32], rs[ETH_SIG_LEN], h[32], from[ETH_ADDRESS_LEN];
	struct rlp_buf b = { 0 };
	struct eth_tx tx;
	char err[160];
	size_t n, m;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		n = unhex(bad[i], in, sizeof(in));
		err[0] = '\0';
		assert_int_equal(eth_tx_decode(n ? in : NULL, n, &tx, from, err, sizeof(err)),
				 -EBADMSG);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(unhex("01c0", in, sizeof(in)), 2);
	eth_tx_decode(in, 2, &tx, from, err, sizeof(err));
	assert_non_null(strstr(err, "type 0x01"));

	/*
	 * A legacy transaction signed before EIP-155 (v 27 or 28, over the six
	 * fields alone), well formed and validly signed: refused, as it could
	 * be replayed on every chain.
	 */
	key(K_46, sk);
	m = rlp_list_begin(&b);
	rlp_put_uint(&b, 9);
	rlp_put_uint(&b, 20000000000);
	rlp_put_uint(&b, 21000);
	memset(in, 0x35, 20);
	rlp_put_bytes(&b, in, 20);
	rlp_put_uint(&b, 1000000000000000000);
	rlp_put_bytes(&b, NULL, 0);
	rlp_list_end(&b, m);
	assert_int_equal(rlp_buf_done(&b), 0);
	keccak256(b.p, b.len, h);
	rlp_buf_free(&b);
	assert_int_equal(eth_sign_digest(sk, h, rs, err, sizeof(err)), 0);
	m = rlp_list_begin(&b);
	rlp_put_uint(&b, 9);
	rlp_put_uint(&b, 20000000000);
	rlp_put_uint(&b, 21000);
	rlp_put_bytes(&b, in, 20);
	rlp_put_uint(&b, 1000000000000000000);
	rlp_put_bytes(&b, NULL, 0);
	rlp_put_uint(&b, rs[64]);
	rlp_put_bytes(&b, rs, 32);
	rlp_put_bytes(&b, rs + 32, 32);
	rlp_list_end(&b, m);
	assert_int_equal(rlp_buf_done(&b), 0);
	err[0] = '\0';
	assert_int_equal(eth_tx_decode(b.p, b.len, &tx, from, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "EIP-155"));
	rlp_buf_free(&b);
}

/* The same key and transaction give the same bytes (RFC 6979), and what is signed decodes back. */
static void test_sign_is_deterministic_and_round_trips(void **state)
{
	uint8_t sk[32], data[128], h1[32], h2[32], from[ETH_ADDRESS_LEN], want[ETH_ADDRESS_LEN];
	struct rlp_buf a = { 0 }, b = { 0 };
	struct eth_tx tx, back;
	char err[160];

	(void)state;
	key(K_COW, sk);
	address_of(sk, want);
	call_tx(&tx, data);
	for (uint64_t chain = 1; chain < 1u << 20; chain = chain * 7 + 1) {
		tx.chain_id = chain;
		tx.nonce = chain * 3;
		assert_int_equal(eth_tx_sign_1559(&tx, sk, &a, h1, err, sizeof(err)), 0);
		assert_int_equal(eth_tx_sign_1559(&tx, sk, &b, h2, err, sizeof(err)), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.p, b.p, a.len);
		assert_memory_equal(h1, h2, 32);
		assert_int_equal(eth_tx_decode(a.p, a.len, &back, from, err, sizeof(err)), 0);
		expect_same_tx(&back, &tx, true);
		assert_memory_equal(from, want, sizeof(from));
		rlp_buf_free(&a);
		rlp_buf_free(&b);

		assert_int_equal(eth_tx_sign_legacy(&tx, sk, &a, h1, err, sizeof(err)), 0);
		assert_int_equal(eth_tx_decode(a.p, a.len, &back, from, err, sizeof(err)), 0);
		expect_same_tx(&back, &tx, false);
		assert_memory_equal(from, want, sizeof(from));
		rlp_buf_free(&a);
	}
	/* the largest chain id EIP-155's v holds: both parities fit 64 bits */
	tx.chain_id = (UINT64_MAX - 36) / 2;
	for (uint64_t nonce = 0; nonce < 8; nonce++) {
		tx.nonce = nonce;
		assert_int_equal(eth_tx_sign_legacy(&tx, sk, &a, h1, err, sizeof(err)), 0);
		assert_int_equal(eth_tx_decode(a.p, a.len, &back, from, err, sizeof(err)), 0);
		assert_int_equal(back.chain_id, tx.chain_id);
		assert_memory_equal(from, want, sizeof(from));
		rlp_buf_free(&a);
	}
}

static void test_sign_refusals(void **state)
{
	uint8_t sk[32], bad[32], data[128], h[32], sig[ETH_SIG_LEN];
	struct rlp_buf raw = { 0 };
	struct eth_tx tx;
	char err[160];

	(void)state;
	key(K_46, sk);
	call_tx(&tx, data);

	tx.chain_id = 0;
	assert_int_equal(eth_tx_sign_1559(&tx, sk, &raw, h, err, sizeof(err)), -EINVAL);
	assert_int_equal(eth_tx_sign_legacy(&tx, sk, &raw, h, err, sizeof(err)), -EINVAL);
	tx.chain_id = (UINT64_MAX - 36) / 2 + 1;
	assert_int_equal(eth_tx_sign_legacy(&tx, sk, &raw, h, err, sizeof(err)), -EINVAL);
	assert_int_equal(eth_tx_sign_1559(&tx, sk, &raw, h, err, sizeof(err)), 0);
	rlp_buf_free(&raw);
	tx.chain_id = 1;

	/* a tip above the cap */
	u256("6fc23ac01", tx.max_priority_fee_per_gas);
	err[0] = '\0';
	assert_int_equal(eth_tx_sign_1559(&tx, sk, &raw, h, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "maxPriorityFeePerGas"));
	u256("59682f00", tx.max_priority_fee_per_gas);

	/* data_len without data */
	tx.data = NULL;
	assert_int_equal(eth_tx_sign_1559(&tx, sk, &raw, h, err, sizeof(err)), -EINVAL);
	tx.data = data;

	/* keys that are no scalar: 0, n, past n */
	memset(bad, 0, sizeof(bad));
	assert_int_equal(eth_tx_sign_1559(&tx, bad, &raw, h, err, sizeof(err)), -EINVAL);
	assert_int_equal(eth_sign_digest(bad, h, sig, err, sizeof(err)), -EINVAL);
	memcpy(bad, order_n, 32);
	assert_int_equal(eth_tx_sign_legacy(&tx, bad, &raw, h, err, sizeof(err)), -EINVAL);
	assert_int_equal(eth_sign_digest(bad, h, sig, err, sizeof(err)), -EINVAL);
	memset(bad, 0xff, sizeof(bad));
	assert_int_equal(eth_sign_digest(bad, h, sig, err, sizeof(err)), -EINVAL);
	assert_null(raw.p);
}

/*
 * EIP-712's example: the Mail digest signed with keccak256("cow") gives
 * the EIP's v, r and s, and recovers to its 0xCD2a...D826. Then the other
 * forms of v, and what EIP-2 and the curve refuse.
 */
static void test_sign_digest_eip712_example(void **state)
{
	static const char want_hex[] =
		"4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
		"07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"
		"1c";
	uint8_t sk[32], d[32], sig[ETH_SIG_LEN], want[ETH_SIG_LEN], alt[ETH_SIG_LEN];
	uint8_t addr[ETH_ADDRESS_LEN], cow[ETH_ADDRESS_LEN];
	char err[160];

	(void)state;
	keccak256("cow", 3, sk);
	assert_int_equal(hex_decode_exact(K_COW, d, 32), 0);
	assert_memory_equal(sk, d, 32);
	assert_int_equal(eth_address_parse("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826", cow), 0);
	assert_int_equal(
		hex_decode_exact("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2",
				 d, 32),
		0);
	assert_int_equal(hex_decode_exact(want_hex, want, sizeof(want)), 0);
	assert_int_equal(eth_sign_digest(sk, d, sig, err, sizeof(err)), 0);
	assert_memory_equal(sig, want, sizeof(sig));
	assert_int_equal(sig[64], 28);
	assert_int_equal(eth_recover(d, sig, addr, err, sizeof(err)), 0);
	assert_memory_equal(addr, cow, sizeof(addr));

	/* v as the bare recovery id */
	memcpy(alt, sig, sizeof(alt));
	alt[64] = 1;
	memset(addr, 0, sizeof(addr));
	assert_int_equal(eth_recover(d, alt, addr, err, sizeof(err)), 0);
	assert_memory_equal(addr, cow, sizeof(addr));
	/* the other parity recovers another key */
	alt[64] = 27;
	assert_int_equal(eth_recover(d, alt, addr, err, sizeof(err)), 0);
	assert_memory_not_equal(addr, cow, sizeof(addr));
	/* v outside {0, 1, 27, 28} */
	for (unsigned v = 2; v < 256; v++) {
		if (v == 27 || v == 28)
			continue;
		alt[64] = (uint8_t)v;
		assert_int_equal(eth_recover(d, alt, addr, err, sizeof(err)), -EBADMSG);
	}
	/* n - s with the other parity: the same key recovers, EIP-2 refuses it */
	memcpy(alt, sig, sizeof(alt));
	negate_mod_n(sig + 32, alt + 32);
	alt[64] = 27;
	err[0] = '\0';
	assert_int_equal(eth_recover(d, alt, addr, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "EIP-2"));
	/* r or s 0, or at n */
	memcpy(alt, sig, sizeof(alt));
	memset(alt, 0, 32);
	assert_int_equal(eth_recover(d, alt, addr, err, sizeof(err)), -EBADMSG);
	memcpy(alt, sig, sizeof(alt));
	memset(alt + 32, 0, 32);
	assert_int_equal(eth_recover(d, alt, addr, err, sizeof(err)), -EBADMSG);
	memcpy(alt, sig, sizeof(alt));
	memcpy(alt, order_n, 32);
	assert_int_equal(eth_recover(d, alt, addr, err, sizeof(err)), -EBADMSG);
	memcpy(alt, sig, sizeof(alt));
	memcpy(alt + 32, order_n, 32);
	assert_int_equal(eth_recover(d, alt, addr, err, sizeof(err)), -EBADMSG);
	/* r = x of no point on the curve (x = 5: 5^3 + 7 has no square root mod p) */
	memcpy(alt, sig, sizeof(alt));
	memset(alt, 0, 32);
	alt[31] = 5;
	assert_int_equal(eth_recover(d, alt, addr, err, sizeof(err)), -EBADMSG);
}

/*
 * EIP-191 personal_sign: "hello world" and the empty message. The digests
 * and the signatures (Wallet.signMessageSync, keys 0x46...46 and 1) are
 * ethers 6.13's; each digest is also made here from EIP-191's definition.
 */
static void test_eip191_personal_sign(void **state)
{
	static const struct {
		const char *sk, *msg, *digest, *sig, *addr;
	} v[] = {
		{ K_46, "hello world",
		  "d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68",
		  "78dc245805f4363bd546a771502385e03c40995b13fbab75de9258c6515db8d9"
		  "2e831df32c6898bc590d0fb69945a72f6e31f1a70a325bf047ff5d557b1542ff1b",
		  A_46 },
		{ K_ONE, "", "5f35dce98ba4fba25530a026ed80b2cecdaa31091ba4958b99b52ea1d068adad",
		  "0ac02a3eb3039b7a3ebb6a35f1e0dd31a4ed51781205a2c193354752a25edad5"
		  "0593868baf38c519b78bdc61a23c3f55e058c29f8b83d79ae48cc47d931afaed1b",
		  A_ONE },
	};
	uint8_t sk[32], d[32], want[32], sig[ETH_SIG_LEN], wsig[ETH_SIG_LEN];
	uint8_t addr[ETH_ADDRESS_LEN], waddr[ETH_ADDRESS_LEN];
	char err[160], m[128];
	int n;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		key(v[i].sk, sk);
		eip191_digest(v[i].msg, strlen(v[i].msg), d);
		assert_int_equal(hex_decode_exact(v[i].digest, want, 32), 0);
		assert_memory_equal(d, want, 32);
		/* 0x19, "Ethereum Signed Message:\n", the length in decimal, the message */
		n = snprintf(m, sizeof(m), "%cEthereum Signed Message:\n%zu%s", 0x19,
			     strlen(v[i].msg), v[i].msg);
		keccak256(m, (size_t)n, want);
		assert_memory_equal(d, want, 32);
		assert_int_equal(eth_sign_digest(sk, d, sig, err, sizeof(err)), 0);
		assert_int_equal(hex_decode_exact(v[i].sig, wsig, sizeof(wsig)), 0);
		assert_memory_equal(sig, wsig, sizeof(sig));
		assert_int_equal(eth_recover(d, sig, addr, err, sizeof(err)), 0);
		assert_int_equal(hex_decode_exact(v[i].addr, waddr, sizeof(waddr)), 0);
		assert_memory_equal(addr, waddr, sizeof(addr));
	}
	/* a length of two digits, and bytes that are no text */
	eip191_digest("\0\1\2\3\4\5\6\7\10\11", 10, d);
	memcpy(m,
	       "\x19"
	       "Ethereum Signed Message:\n10"
	       "\0\1\2\3\4\5\6\7\10\11",
	       38);
	keccak256(m, 38, want);
	assert_memory_equal(d, want, 32);
}

/* ---- the ethers cross-check file ---- */

/* The split fields of one line; each points into the line. */
#define VEC_FIELDS 12

static size_t split(char *line, char **f)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		assert_true(n < VEC_FIELDS);
		f[n++] = t;
	}
	return n;
}

static uint64_t dec(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	assert_true(errno == 0 && *s && !*end);
	return v;
}

/* An optional hex field ("-" for none): a heap copy of its bytes or NULL, its size in *n. */
static uint8_t *opt_hex(const char *s, size_t *n)
{
	uint8_t *p;

	*n = 0;
	if (strcmp(s, "-") == 0)
		return NULL;
	p = malloc(strlen(s) / 2 + 1);
	assert_non_null(p);
	assert_int_equal(hex_decode(s, p, strlen(s) / 2 + 1, n), 0);
	return p;
}

static void vector_tx(char **f, size_t nf, bool typed)
{
	struct eth_tx tx = { 0 };
	uint8_t *data, *raw, h[32];
	size_t i = 4, n;
	char *to, *from, hash[65];

	assert_int_equal(nf, typed ? 12 : 11);
	tx.chain_id = dec(f[2]);
	tx.nonce = dec(f[3]);
	if (typed) {
		u256(f[i++], tx.max_priority_fee_per_gas);
		u256(f[i++], tx.max_fee_per_gas);
	} else {
		u256(f[i++], tx.gas_price);
	}
	tx.gas = dec(f[i++]);
	to = f[i++];
	if (strcmp(to, "-") != 0) {
		tx.has_to = true;
		assert_int_equal(strlen(to), 40);
		assert_int_equal(hex_decode_exact(to, tx.to, sizeof(tx.to)), 0);
	}
	u256(f[i++], tx.value);
	data = opt_hex(f[i++], &tx.data_len);
	tx.data = data;
	from = f[i++];
	raw = opt_hex(f[i], &n);
	assert_non_null(raw);
	/* the transaction hash is keccak256 of the bytes sent, whoever made them */
	keccak256(raw, n, h);
	hex_encode(h, 32, hash);
	check_tx(&tx, typed, f[1], f[i], hash, from);
	free(raw);
	free(data);
}

static void vector_signed_digest(const char *sk_hex, const uint8_t d[32], const char *want_hex,
				 const char *sig_hex)
{
	uint8_t sk[32], want[32], sig[ETH_SIG_LEN], wsig[ETH_SIG_LEN];
	uint8_t addr[ETH_ADDRESS_LEN], waddr[ETH_ADDRESS_LEN];
	char err[160];

	key(sk_hex, sk);
	assert_int_equal(hex_decode_exact(want_hex, want, 32), 0);
	assert_memory_equal(d, want, 32);
	assert_int_equal(eth_sign_digest(sk, d, sig, err, sizeof(err)), 0);
	assert_int_equal(hex_decode_exact(sig_hex, wsig, sizeof(wsig)), 0);
	assert_memory_equal(sig, wsig, sizeof(sig));
	address_of(sk, waddr);
	assert_int_equal(eth_recover(d, sig, addr, err, sizeof(err)), 0);
	assert_memory_equal(addr, waddr, sizeof(addr));
}

static void test_ethers_vectors_file(void **state)
{
	const char *path = getenv("CVM_CHAIN_ETHERS_VECTORS");
	size_t counts[4] = { 0 }, cap = 0, lineno = 0;
	char *line = NULL, *f[VEC_FIELDS];
	FILE *fp;

	(void)state;
	if (!path || !*path)
		skip();
	fp = fopen(path, "r");
	if (!fp)
		fail_msg("%s: cannot open", path);
	while (getline(&line, &cap, fp) > 0) {
		size_t nf, len = strcspn(line, "\r\n");
		uint8_t d[32];
		char err[256] = "";

		lineno++;
		line[len] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		nf = split(line, f);
		assert_true(nf >= 2);
		if (strcmp(f[0], "tx1559") == 0) {
			vector_tx(f, nf, true);
			counts[0]++;
		} else if (strcmp(f[0], "legacy") == 0) {
			vector_tx(f, nf, false);
			counts[1]++;
		} else if (strcmp(f[0], "typed") == 0) {
			uint8_t *json = NULL;
			size_t jn;

			assert_int_equal(nf, 5);
			assert_int_equal(base64_decode(f[2], strlen(f[2]), BASE64_STD, &json, &jn),
					 0);
			if (eip712_digest((const char *)json, jn, d, err, sizeof(err)) != 0)
				fail_msg("%s:%zu: %s", path, lineno, err);
			vector_signed_digest(f[1], d, f[3], f[4]);
			free(json);
			counts[2]++;
		} else if (strcmp(f[0], "personal") == 0) {
			uint8_t *msg;
			size_t mn;

			assert_int_equal(nf, 5);
			msg = opt_hex(f[2], &mn);
			eip191_digest(msg, mn, d);
			vector_signed_digest(f[1], d, f[3], f[4]);
			free(msg);
			counts[3]++;
		} else {
			fail_msg("%s:%zu: unknown vector kind \"%s\"", path, lineno, f[0]);
		}
	}
	free(line);
	fclose(fp);
	assert_true(counts[0] + counts[1] + counts[2] + counts[3] > 0);
	print_message("ethers vectors: %zu tx1559, %zu legacy, %zu typed, %zu personal\n",
		      counts[0], counts[1], counts[2], counts[3]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eip155_example),
		cmocka_unit_test(test_1559_vectors_from_ethers),
		cmocka_unit_test(test_legacy_vector_from_ethers),
		cmocka_unit_test(test_decode_refuses_what_is_not_canonical),
		cmocka_unit_test(test_decode_refuses_other_kinds),
		cmocka_unit_test(test_sign_is_deterministic_and_round_trips),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_sign_digest_eip712_example),
		cmocka_unit_test(test_eip191_personal_sign),
		cmocka_unit_test(test_ethers_vectors_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
