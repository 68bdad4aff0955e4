/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain/rpc: an Ethereum JSON-RPC client over libcurl (HTTP and HTTPS
 * POST), for a node that is not trusted: every answer is read as hostile
 * input. The transport (eth_rpc_call) is apart from the parsing
 * (eth_rpc_parse_response, the readers and the *_parse functions), which
 * needs no network and is fuzzed. docs/chain.md.
 *
 * Numbers as the node encodes them (ethereum.org, "JSON-RPC API", hex
 * value encoding): a QUANTITY is "0x" and hex digits without leading
 * zeros ("0x0" for zero); DATA is "0x" and two hex digits per byte. A
 * uint256 is 32 bytes, big-endian; an address 20 bytes.
 *
 * Functions return 0 on success or a negative errno-style code, with a
 * one-line reason in err that names the method and the field
 * ("rpc: eth_getTransactionReceipt: gasUsed: not a quantity (...)"):
 *	-EINVAL		a bad argument of the caller (never the node's fault)
 *	-ETIMEDOUT	no whole answer within timeout_ms
 *	-ECONNREFUSED	nothing listens at the URL
 *	-EIO		another transport failure (DNS, TLS, a reset)
 *	-EPROTO		an HTTP status other than 200
 *	-EFBIG		an answer over max_response bytes
 *	-EBADMSG	an answer that is not JSON-RPC 2.0, or not what was asked
 *			(a wrong type, a missing field, a hash or a log that lies)
 *	-ERANGE		a quantity too large for its type
 *	-EMSGSIZE	data longer than its room
 *	-E2BIG		more items (logs, blocks) than the caps below
 *	-EREMOTEIO	an error object from the node (a revert, an unknown method)
 *	-ENOMEM
 * A struct eth_rpc is used by one thread at a time.
 */
#ifndef CVM_CHAIN_RPC_H
#define CVM_CHAIN_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "chain/chain.h"

#define ETH_RPC_TIMEOUT_MS 10000L
#define ETH_RPC_MAX_RESPONSE (4u * 1024 * 1024)
#define ETH_RPC_URL_SHOWN_MAX 300
#define ETH_RPC_NODE_MESSAGE_MAX 200 /* bytes of a node's error message kept */
#define ETH_LOGS_MAX 10000	     /* logs of one eth_getLogs answer or one receipt */
#define ETH_LOG_TOPICS_MAX 4	     /* LOG0 to LOG4 */
#define ETH_FEE_HISTORY_MAX 16	     /* blocks of one eth_feeHistory */

/* ---- the transport ---- */

/*
 * One node. timeout_ms and max_response may be changed between calls (0
 * or less means the default). url is the caller's string: it must outlive
 * the struct. node_error holds the JSON-RPC error code of the last call
 * that ended in -EREMOTEIO (0 after any other).
 */
struct eth_rpc {
	const char *url;
	long timeout_ms;     /* each call, connection and answer (default ETH_RPC_TIMEOUT_MS) */
	size_t max_response; /* bytes of one answer's body (default ETH_RPC_MAX_RESPONSE) */
	uint64_t next_id;    /* of the next request, from 1 */
	CURL *curl;	     /* reused: one connection while the node keeps it open */
	struct curl_slist *headers;
	int64_t node_error;
	/* The URL as errors show it: scheme, host and port (a path may hold an API key). */
	char shown[ETH_RPC_URL_SHOWN_MAX];
};

/*
 * Checks url (http:// or https:// and a host) and makes the handle: no
 * proxy of the environment, no redirects followed, no signals.
 */
int eth_rpc_init(struct eth_rpc *r, const char *url, char *err, size_t errlen);
/* Closes the connection; r may be all zero or freed already. */
void eth_rpc_free(struct eth_rpc *r);

/*
 * POSTs {"jsonrpc":"2.0","id":N,"method":method,"params":params} and reads
 * the answer, at most max_response bytes (the transfer is stopped past
 * them). params is an array, consumed whatever the outcome; NULL (an
 * allocation that failed) gives -ENOMEM. *result is the answer's "result"
 * (cJSON_Delete it; a JSON null is a cJSON null, not NULL).
 */
int eth_rpc_call(struct eth_rpc *r, const char *method, cJSON *params, cJSON **result, char *err,
		 size_t errlen);

/*
 * Reads n bytes of a node's answer to the request of this id: a JSON
 * object (strict: one value, UTF-8, no duplicate member, no "\u0000", at
 * most 64 levels deep) with "jsonrpc": "2.0", the same "id" as a number,
 * and exactly one of "result" and "error". An error object ({"code":
 * integer, "message": string}) gives -EREMOTEIO and "rpc: node error CODE:
 * MESSAGE", the message cut at ETH_RPC_NODE_MESSAGE_MAX bytes and every
 * byte outside printable ASCII made '?'; anything else not so formed,
 * -EBADMSG and "rpc: answer is not JSON-RPC 2.0 (why)". Other members are
 * ignored.
 */
int eth_rpc_parse_response(const char *body, size_t n, uint64_t id, cJSON **result, char *err,
			   size_t errlen);

/* ---- readers of a node's values ---- */

/*
 * what names the value in errors ("eth_getBlockByNumber: hash"); v may be
 * NULL (a missing member: -EBADMSG "missing"). A quantity is a string,
 * "0x" (lower case) and 1 to 16 (u64) or 64 (u256) hex digits without a
 * leading zero; a JSON number, a sign, "0x", "0X1", "0x01" are -EBADMSG;
 * more digits, -ERANGE.
 */
int rpc_quantity_u64(const cJSON *v, uint64_t *out, const char *what, char *err, size_t errlen);
int rpc_quantity_u256(const cJSON *v, uint8_t out[32], const char *what, char *err, size_t errlen);
/*
 * DATA: a string, "0x" and an even number of hex digits (either case).
 * rpc_data: at most cap bytes into out (-EMSGSIZE past them), *len the
 * count; rpc_data_fixed: exactly n bytes (20 an address, 32 a hash), else
 * -EBADMSG; rpc_data_alloc: any length, into *out (free it; never NULL on
 * success, even for no bytes).
 */
int rpc_data(const cJSON *v, uint8_t *out, size_t cap, size_t *len, const char *what, char *err,
	     size_t errlen);
int rpc_data_fixed(const cJSON *v, uint8_t *out, size_t n, const char *what, char *err,
		   size_t errlen);
int rpc_data_alloc(const cJSON *v, uint8_t **out, size_t *len, const char *what, char *err,
		   size_t errlen);

/* ---- what the methods return ---- */

/* One log (an event). data is the log's own (eth_logs_free, eth_receipt_free). */
struct eth_log {
	uint8_t address[ETH_ADDRESS_LEN];
	uint8_t topics[ETH_LOG_TOPICS_MAX][32];
	size_t ntopics;
	uint8_t *data;
	size_t data_len;
	uint64_t block_number, log_index;
	uint8_t block_hash[32], tx_hash[32];
	bool removed; /* the node says a reorganisation dropped it */
};

/* Frees the data of n logs and the array. */
void eth_logs_free(struct eth_log *logs, size_t n);

/* A mined transaction's receipt; logs are its events, in order. */
struct eth_receipt {
	uint8_t tx_hash[32], block_hash[32];
	uint64_t block_number, gas_used, status; /* status: 1 success, 0 reverted */
	uint8_t effective_gas_price[32];
	bool has_contract; /* a contract creation: contract_address is the new contract */
	uint8_t contract_address[ETH_ADDRESS_LEN];
	struct eth_log *logs;
	size_t nlogs;
};

/* Frees the logs and zeroes rc; rc may be zeroed or freed already. */
void eth_receipt_free(struct eth_receipt *rc);

/*
 * eth_getLogs of one contract from from_block to to_block (inclusive),
 * with topics[i] required where has_topic[i] (the others match anything).
 */
struct eth_log_filter {
	uint8_t address[ETH_ADDRESS_LEN];
	uint8_t topics[ETH_LOG_TOPICS_MAX][32];
	bool has_topic[ETH_LOG_TOPICS_MAX];
	uint64_t from_block, to_block;
};

/*
 * eth_feeHistory of nblocks blocks up to the newest asked: base_fee[i] and
 * reward[i] (at the asked percentile) of block oldest_block + i, and
 * base_fee[nblocks], the base fee of the block after the newest.
 */
struct eth_fee_history {
	uint64_t oldest_block;
	size_t nblocks;
	uint8_t base_fee[ETH_FEE_HISTORY_MAX + 1][32];
	uint8_t reward[ETH_FEE_HISTORY_MAX][32];
};

/* Fee caps of an EIP-1559 transaction (wei per gas). */
struct eth_fees {
	uint8_t max_priority_fee_per_gas[32], max_fee_per_gas[32];
};

/* ---- the methods ---- */

/*
 * A block tag is "latest", "pending", "earliest", "safe", "finalized" or a
 * quantity; anything else is -EINVAL.
 */
int eth_chain_id(struct eth_rpc *r, uint64_t *id, char *err, size_t errlen);
int eth_block_number(struct eth_rpc *r, uint64_t *number, char *err, size_t errlen);
int eth_get_transaction_count(struct eth_rpc *r, const uint8_t addr[ETH_ADDRESS_LEN],
			      const char *block, uint64_t *nonce, char *err, size_t errlen);
int eth_get_balance(struct eth_rpc *r, const uint8_t addr[ETH_ADDRESS_LEN], const char *block,
		    uint8_t wei[32], char *err, size_t errlen);
int eth_gas_price(struct eth_rpc *r, uint8_t wei[32], char *err, size_t errlen);
/* eth_maxPriorityFeePerGas */
int eth_max_priority_fee(struct eth_rpc *r, uint8_t wei[32], char *err, size_t errlen);
/* blocks: 1 to ETH_FEE_HISTORY_MAX; percentile 0 to 100. The node may know fewer blocks. */
int eth_fee_history(struct eth_rpc *r, unsigned blocks, const char *newest, double percentile,
		    struct eth_fee_history *h, char *err, size_t errlen);
/*
 * Fees for a transaction now: the priority fee from eth_maxPriorityFeePerGas
 * (when the node has no such method, the largest median reward of the last
 * blocks), the fee cap twice the next block's base fee plus the priority
 * fee (room for six full blocks of base fee growth). -ERANGE past 2^256.
 */
int eth_suggest_fees(struct eth_rpc *r, struct eth_fees *f, char *err, size_t errlen);
/*
 * eth_estimateGas of a transaction from from to to (NULL: a contract
 * creation with data as its code) with value (NULL: 0) wei. The gas is
 * 21000 (any transaction's least) to 2^53, else -EBADMSG.
 */
int eth_estimate_gas(struct eth_rpc *r, const uint8_t from[ETH_ADDRESS_LEN],
		     const uint8_t to[ETH_ADDRESS_LEN], const uint8_t value[32],
		     const uint8_t *data, size_t len, uint64_t *gas, char *err, size_t errlen);
/* eth_call of to with data at block; *out (free it) holds *outlen bytes of its return data. */
int eth_call(struct eth_rpc *r, const uint8_t to[ETH_ADDRESS_LEN], const uint8_t *data, size_t len,
	     const char *block, uint8_t **out, size_t *outlen, char *err, size_t errlen);
/*
 * Sends a signed transaction. txhash is keccak256(raw); the hash the node
 * answers must be the same (-EBADMSG otherwise: the node lies about what
 * it took).
 */
int eth_send_raw_transaction(struct eth_rpc *r, const uint8_t *raw, size_t len,
			     uint8_t txhash[KECCAK256_LEN], char *err, size_t errlen);
/*
 * The receipt of txhash; *found false (rc zeroed) while it is not mined.
 * The receipt must be that transaction's, each log of it too, in its block.
 */
int eth_get_transaction_receipt(struct eth_rpc *r, const uint8_t txhash[KECCAK256_LEN],
				struct eth_receipt *rc, bool *found, char *err, size_t errlen);
/* The hash of block number (eth_getBlockByNumber); *found false when the node has none. */
int eth_get_block_hash(struct eth_rpc *r, uint64_t number, uint8_t hash[32], bool *found, char *err,
		       size_t errlen);
/*
 * eth_getLogs of f (from_block <= to_block). Every log must come from
 * f->address, carry the topics asked, lie in the blocks asked and follow
 * the one before it (block, then log index, increasing): a log that does
 * not is refused (-EBADMSG), never dropped. At most ETH_LOGS_MAX logs
 * (-E2BIG: ask for fewer blocks). *logs (eth_logs_free) may be NULL when
 * *n is 0. Logs the node flags removed are kept, with removed set.
 */
int eth_get_logs(struct eth_rpc *r, const struct eth_log_filter *f, struct eth_log **logs,
		 size_t *n, char *err, size_t errlen);
/*
 * How deep rc's block is: head - block + 1, or 0 when the node's block at
 * that height is not rc's any more (the transaction was reorganised away)
 * or the head is below it.
 */
int eth_confirmations(struct eth_rpc *r, const struct eth_receipt *rc, uint64_t *confirmations,
		      char *err, size_t errlen);

/* ---- test nodes (anvil, Hardhat) ---- */

/* evm_snapshot: the id of the chain's state now. */
int eth_rpc_snapshot(struct eth_rpc *r, uint64_t *id, char *err, size_t errlen);
/* evm_revert to snapshot id, which the node then forgets: -ENOENT when it answers false. */
int eth_rpc_revert(struct eth_rpc *r, uint64_t id, char *err, size_t errlen);
/* evm_mine: one block now. */
int eth_rpc_mine(struct eth_rpc *r, char *err, size_t errlen);
/* evm_increaseTime: the next blocks' timestamps move seconds (at most 2^53) ahead. */
int eth_rpc_increase_time(struct eth_rpc *r, uint64_t seconds, char *err, size_t errlen);

/* ---- answers parsed: the second half of the methods above, apart for tests and fuzzing ---- */

/*
 * result as eth_getTransactionReceipt's answer for txhash (a JSON null:
 * *found false). rc is whole on success, zeroed on failure.
 */
int eth_receipt_parse(const cJSON *result, const uint8_t txhash[KECCAK256_LEN],
		      struct eth_receipt *rc, bool *found, char *err, size_t errlen);
/* result as eth_getLogs's answer to f, with eth_get_logs's checks. */
int eth_logs_parse(const cJSON *result, const struct eth_log_filter *f, struct eth_log **logs,
		   size_t *n, char *err, size_t errlen);
/* result as eth_getBlockByNumber's answer for block number (its "number" must be that). */
int eth_block_hash_parse(const cJSON *result, uint64_t number, uint8_t hash[32], bool *found,
			 char *err, size_t errlen);
/* result as eth_feeHistory's answer for at most blocks blocks and one percentile. */
int eth_fee_history_parse(const cJSON *result, unsigned blocks, struct eth_fee_history *h,
			  char *err, size_t errlen);

#endif
