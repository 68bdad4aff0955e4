/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: eth_tx_decode. Whatever it refuses, it says why in one line.
 * Whatever it takes is signed again, as the same type, with a fixed key:
 * that must decode to the same fields with the key's address as sender,
 * and when the input was that key's own signature (the seeds are), the
 * bytes must come back exactly (RFC 6979 nonces, one encoding per value).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "chain/tx.h"
#include "lib/lib.h"
#include "tests/fuzz/fuzz_common.h"

static bool same_tx(const struct eth_tx *a, const struct eth_tx *b)
{
	return a->chain_id == b->chain_id && a->nonce == b->nonce && a->gas == b->gas &&
	       !memcmp(a->max_priority_fee_per_gas, b->max_priority_fee_per_gas, 32) &&
	       !memcmp(a->max_fee_per_gas, b->max_fee_per_gas, 32) &&
	       !memcmp(a->gas_price, b->gas_price, 32) && a->has_to == b->has_to &&
	       (!a->has_to || !memcmp(a->to, b->to, ETH_ADDRESS_LEN)) &&
	       !memcmp(a->value, b->value, 32) && a->data_len == b->data_len &&
	       (!a->data_len || !memcmp(a->data, b->data, a->data_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t from[ETH_ADDRESS_LEN], again[ETH_ADDRESS_LEN], mine[ETH_ADDRESS_LEN], h[32];
	struct result_key *k = fuzz_fixed_key(0x46);
	struct rlp_buf raw = { 0 };
	struct eth_tx tx, back;
	char err[256] = "";
	bool typed;
	int r;

	r = eth_tx_decode(data, size, &tx, from, err, sizeof(err));
	if (r < 0) {
		if (r != -EBADMSG || !err[0] || strchr(err, '\n'))
			abort();
		return 0;
	}
	if (size == 0 || (data[0] != 0x02 && data[0] < 0xc0) || tx.chain_id == 0)
		abort();
	if (tx.data_len && (tx.data < data || tx.data + tx.data_len > data + size))
		abort();
	typed = data[0] == 0x02;
	r = typed ? eth_tx_sign_1559(&tx, k->sk, &raw, h, err, sizeof(err))
		  : eth_tx_sign_legacy(&tx, k->sk, &raw, h, err, sizeof(err));
	if (r < 0)
		abort();
	if (eth_tx_decode(raw.p, raw.len, &back, again, err, sizeof(err)) < 0 ||
	    !same_tx(&tx, &back) || eth_address_from_pubkey(k->pub, 33, mine) < 0 ||
	    memcmp(again, mine, sizeof(mine)) != 0)
		abort();
	if (memcmp(from, mine, sizeof(mine)) == 0 &&
	    (raw.len != size || memcmp(raw.p, data, size) != 0))
		abort();
	rlp_buf_free(&raw);
	return 0;
}
