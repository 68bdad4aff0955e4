/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's side of the Market contract (contracts/Market.sol): a node
 * (JSON-RPC), the contract's address and the caller's key, and what the
 * verbs ask of them: reads by eth_call, and transactions signed here and
 * waited for to a number of confirmations. docs/chain.md.
 */
#ifndef CVM_HOST_MARKET_H
#define CVM_HOST_MARKET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "chain/abi.h"
#include "chain/chain.h"
#include "chain/market.h"
#include "chain/rpc.h"
#include "lib/lib.h"

/* Exit codes of the chain verbs, besides EXIT_OK, EXIT_REJECTED and EXIT_USAGE. */
enum {
	EXIT_CHAIN = 3, /* the node: down, slow, garbage, or a transaction that failed */
};

/* The options every chain verb takes. */
struct chain_opts {
	const char *rpc, *contract, *key;
	unsigned confirmations; /* a transaction counts once this deep (default 1) */
	long timeout_ms;	/* each RPC call (default 10000) */
	long wait_ms;		/* for a receipt and its confirmations (default 120000) */
	uint64_t chain_id;	/* the chain the caller means; 0: whatever the node is */
	uint8_t max_fee[32];	/* wei per gas a transaction may cost at most */
};

#define CHAIN_OPT_NEED_KEY 1u
#define CHAIN_OPT_NEED_CONTRACT 2u

/* getopt_long entries of chain_opts, and the parser of one of them (1: taken, 0: not ours). */
#define CHAIN_LONGOPTS                                                 \
	{ "rpc", required_argument, NULL, 0x1001 },                    \
		{ "contract", required_argument, NULL, 0x1002 },       \
		{ "key", required_argument, NULL, 0x1003 },            \
		{ "confirmations", required_argument, NULL, 0x1004 },  \
		{ "rpc-timeout-ms", required_argument, NULL, 0x1005 }, \
		{ "wait-ms", required_argument, NULL, 0x1006 },        \
		{ "chain-id", required_argument, NULL, 0x1007 },       \
	{                                                              \
		"max-fee-per-gas", required_argument, NULL, 0x1008     \
	}
int chain_opt(struct chain_opts *o, int c, const char *arg);
void chain_opts_init(struct chain_opts *o);
/*
 * getopt_long that takes the shared options into co: the next option of
 * the caller's, -1 at the end, CHAIN_GETOPT_ERROR after a bad shared one or
 * an unknown one (logged, one line). optind must be set first, as for getopt_long.
 */
#define CHAIN_GETOPT_ERROR (-2)
struct option;
int chain_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
		 struct chain_opts *co);
/* The help lines of the shared options. */
void chain_opts_help(FILE *f, bool key, bool contract);

struct chain {
	struct eth_rpc rpc;
	uint64_t chain_id;
	uint8_t contract[ETH_ADDRESS_LEN];
	bool have_contract;
	struct result_key key;
	uint8_t from[ETH_ADDRESS_LEN];
	bool have_key;
	unsigned confirmations;
	long wait_ms;
	uint8_t max_fee[32];
};

/*
 * Loads the key, reaches the node and checks its chain id; logs a one-line
 * error itself: -EINVAL (usage, a key or address that does not load) or
 * -EIO (the node: down, slow, garbage).
 */
int chain_open(struct chain *c, const struct chain_opts *o, unsigned need);
void chain_close(struct chain *c);

/*
 * Signs and sends a transaction from the key to the contract (create:
 * a new contract with data as its creation code), then waits until its
 * receipt is c->confirmations deep. A transaction the node would revert
 * (gas estimation) is refused before it is sent, with the node's reason
 * (-EREMOTEIO), and so is one whose fees the node puts over the cap
 * (-EDQUOT). -errno with a logged one-line error.
 */
int chain_send(struct chain *c, bool create, const uint8_t value[32], const uint8_t *data, size_t n,
	       struct eth_receipt *rcpt);
/* The same for a call of the contract's function sig with args. */
int chain_send_call(struct chain *c, const uint8_t value[32], const char *sig,
		    const struct abi_value *args, size_t nargs, struct eth_receipt *rcpt);
/* eth_call of the contract's function sig; *out (free it) holds what decodes as types. */
int chain_call(struct chain *c, const char *sig, const struct abi_value *args, size_t nargs,
	       const char *types, uint8_t **ret, struct abi_value *out, size_t nout);

struct market_offer {
	uint8_t owner[ETH_ADDRESS_LEN];
	unsigned kind, platforms;
	bool active;
	uint8_t digest[32];
	uint8_t price[32];
	char broker[513];
	uint64_t allowed[64];
	size_t nallowed;
};

struct market_order {
	uint8_t customer[ETH_ADDRESS_LEN];
	unsigned state;
	uint32_t hours;
	uint64_t deadline, result_at;
	uint8_t order_digest[32], result_digest[32], evidence_digest[32];
	uint64_t compute;
	uint64_t inputs[MARKET_MAX_INPUTS];
	size_t ninputs;
	uint8_t escrow[32];
};

/* An offer or order as the contract has it now (state 0, owner zero: none). */
int market_offer_get(struct chain *c, uint64_t id, struct market_offer *o);
int market_order_get(struct chain *c, uint64_t id, struct market_order *o);
const char *market_state_name(unsigned state);
const char *market_kind_name(unsigned kind);

/* uint256 as decimal text, in and out (OpenSSL BIGNUM). */
int u256_from_dec(const char *s, uint8_t out[32]);
void u256_to_dec(const uint8_t v[32], char *out, size_t cap);

/* An id on the command line: 1 to 2^63. */
int parse_chain_id_arg(const char *what, const char *s, uint64_t *out);
/* "ID[,ID...]" appended to ids (*n of cap used): each as above, at most cap in all. */
int parse_ids_arg(const char *what, const char *s, uint64_t *ids, size_t cap, size_t *n);

/* The verbs cvm chain, cvm offer (host/market_cli.c) and cvm provider (host/provider.c). */
int chain_main(int argc, char **argv);
/* cvm offer register | show | approve */
int offer_main(int argc, char **argv);
/* cvm provider watch | accept | post */
int provider_main(int argc, char **argv);
/* cvm order place | confirm | refund | settle | status (host/market_order.c). */
int market_order_main(int argc, char **argv);

/* The SHA-256 of a bundle and of its evidence's RFC 8785 form, as the provider posts them. */
/* The SHA-256 of an image manifest's RFC 8785 form (its name, what a compute offer carries). */
int market_manifest_sha256(const char *path, uint8_t out[32], char *err, size_t errlen);
/*
 * The offers an order names on the chain against its signed document: one
 * input of the document per input offer, with that offer's LUKS2 header
 * digest and the same role. -EKEYREJECTED (or -EIO: the node) with a reason.
 */
struct order;
int market_order_matches(struct chain *c, const struct order *doc, const uint64_t *inputs,
			 size_t ninputs, char *err, size_t errlen);
int market_result_digests(const char *bundle, uint8_t result[32], uint8_t evidence[32],
			  uint8_t order_sha256[32], char *err, size_t errlen);
/*
 * What cvm result open --rpc checks before it trusts a bundle: the chain's
 * order id holds a posted result whose digests are the bundle's, for the
 * order the bundle's header names. -EKEYREJECTED ("E_RESULT_CHAIN: ..."),
 * -EIO (the node), -EINVAL (usage), with the reason in err; err is empty
 * when the reason was logged already (the node's failures).
 */
int market_check_result(const struct chain_opts *co, uint64_t id, const char *bundle, char *err,
			size_t errlen);

#endif
