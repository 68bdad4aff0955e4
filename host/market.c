// SPDX-License-Identifier: Apache-2.0
/*
 * The chain verbs' common ground: options, the node and the key, signed
 * transactions waited for, reads of the Market contract (host/market.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "chain/tx.h"
#include "host/cvm.h"
#include "host/market.h"
#include "measurement/manifest.h"

void chain_opts_init(struct chain_opts *o)
{
	*o = (struct chain_opts){ .confirmations = 1, .timeout_ms = 10000, .wait_ms = 120000 };
	/* 1000 gwei: far above what a chain asks in the normal course, far below ruin */
	u256_from_dec("1000000000000", o->max_fee);
}

static int parse_long(const char *what, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		log_error("%s: '%s' is not a number from %ld to %ld", what, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int parse_chain_id_arg(const char *what, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0 || v > INT64_MAX)
		goto bad;
	*out = v;
	return 0;
bad:
	log_error("%s: '%s' is not a number from 1 to %lld", what, s, (long long)INT64_MAX);
	return -EINVAL;
}

int chain_opt(struct chain_opts *o, int c, const char *arg)
{
	long v;

	switch (c) {
	case 0x1001:
		o->rpc = arg;
		return 1;
	case 0x1002:
		o->contract = arg;
		return 1;
	case 0x1003:
		o->key = arg;
		return 1;
	case 0x1004:
		if (parse_long("--confirmations", arg, 1, 64, &v) < 0)
			return -EINVAL;
		o->confirmations = (unsigned)v;
		return 1;
	case 0x1005:
		if (parse_long("--rpc-timeout-ms", arg, 100, 600000, &v) < 0)
			return -EINVAL;
		o->timeout_ms = v;
		return 1;
	case 0x1006:
		if (parse_long("--wait-ms", arg, 100, 86400000, &v) < 0)
			return -EINVAL;
		o->wait_ms = v;
		return 1;
	case 0x1007:
		return parse_chain_id_arg("--chain-id", arg, &o->chain_id) < 0 ? -EINVAL : 1;
	case 0x1008:
		if (u256_from_dec(arg, o->max_fee) < 0) {
			log_error("--max-fee-per-gas: '%s' is not a whole number of wei", arg);
			return -EINVAL;
		}
		return 1;
	}
	return 0;
}

int chain_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
		 struct chain_opts *co)
{
	int ch, r;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ch == '?' || ch == ':') {
			log_error("unknown or incomplete option '%s'; see --help",
				  argv[optind - 1]);
			return CHAIN_GETOPT_ERROR;
		}
		r = chain_opt(co, ch, optarg);
		if (r < 0)
			return CHAIN_GETOPT_ERROR;
		if (r == 0)
			return ch;
	}
	return -1;
}

int parse_ids_arg(const char *what, const char *s, uint64_t *ids, size_t cap, size_t *n)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		if (*n >= cap) {
			log_error("%s: at most %zu ids", what, cap);
			r = -EINVAL;
		} else {
			r = parse_chain_id_arg(what, tok, &ids[(*n)++]);
		}
	}
	free(copy);
	return r;
}

void chain_opts_help(FILE *f, bool key, bool contract)
{
	fputs("  --rpc URL             the chain's JSON-RPC endpoint (http or https)\n", f);
	if (contract)
		fputs("  --contract ADDRESS    the Market contract (cvm chain deploy printed it)\n",
		      f);
	if (key)
		fputs("  --key FILE            the secp256k1 key that signs (cvm keygen); never\n"
		      "                        in argv or the environment\n",
		      f);
	fputs("  --chain-id N          refuse a node of another chain\n"
	      "  --confirmations N     blocks on top of a transaction's before it counts\n"
	      "                        (default 1: the block that holds it)\n"
	      "  --rpc-timeout-ms N    each call to the node (default 10000)\n"
	      "  --wait-ms N           for a transaction to be mined and confirmed (default\n"
	      "                        120000)\n"
	      "  --max-fee-per-gas WEI refuse to send when the node's fees ask more (default\n"
	      "                        1000000000000, 1000 gwei)\n",
	      f);
}

int chain_open(struct chain *c, const struct chain_opts *o, unsigned need)
{
	char err[512];
	int r;

	*c = (struct chain){ .confirmations = o->confirmations, .wait_ms = o->wait_ms };
	memcpy(c->max_fee, o->max_fee, 32);
	if (!o->rpc) {
		log_error("--rpc URL is required");
		return -EINVAL;
	}
	if ((need & CHAIN_OPT_NEED_CONTRACT) && !o->contract) {
		log_error("--contract ADDRESS is required");
		return -EINVAL;
	}
	if ((need & CHAIN_OPT_NEED_KEY) && !o->key) {
		log_error("--key FILE is required");
		return -EINVAL;
	}
	if (o->contract) {
		if (eth_address_parse(o->contract, c->contract) < 0) {
			log_error("--contract: '%s' is not an address (0x and 40 hex digits, "
				  "EIP-55 checksum if mixed case)",
				  o->contract);
			return -EINVAL;
		}
		c->have_contract = true;
	}
	if (o->key) {
		if (result_key_load(o->key, &c->key, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return -EINVAL;
		}
		if (eth_address_from_pubkey(c->key.pub, sizeof(c->key.pub), c->from) < 0) {
			log_error("%s: not a secp256k1 key", o->key);
			result_key_wipe(&c->key);
			return -EINVAL;
		}
		c->have_key = true;
	}
	r = eth_rpc_init(&c->rpc, o->rpc, err, sizeof(err));
	if (r < 0) {
		log_error("--rpc: %s", err);
		r = -EINVAL;
		goto fail;
	}
	c->rpc.timeout_ms = o->timeout_ms;
	r = eth_chain_id(&c->rpc, &c->chain_id, err, sizeof(err));
	if (r < 0) { /* whatever the node did: it is the node's failure */
		log_error("%s", err);
		r = -EIO;
		goto fail;
	}
	if (o->chain_id && o->chain_id != c->chain_id) {
		log_error("the node at %s is chain %llu, not %llu", o->rpc,
			  (unsigned long long)c->chain_id, (unsigned long long)o->chain_id);
		r = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	chain_close(c);
	return r;
}

void chain_close(struct chain *c)
{
	eth_rpc_free(&c->rpc);
	if (c->have_key)
		result_key_wipe(&c->key);
	c->have_key = false;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits for the receipt of h, then for it to be c->confirmations deep. */
static int wait_receipt(struct chain *c, const uint8_t h[32], struct eth_receipt *rcpt)
{
	long deadline = now_ms() + c->wait_ms;
	char err[512], hex[65];
	bool found = false;
	uint64_t conf = 0;
	int r;

	hex_encode(h, 32, hex);
	for (;;) {
		if (!found) {
			r = eth_get_transaction_receipt(&c->rpc, h, rcpt, &found, err, sizeof(err));
			if (r < 0) {
				log_error("%s", err);
				return r;
			}
		}
		if (found) {
			r = eth_confirmations(&c->rpc, rcpt, &conf, err, sizeof(err));
			if (r < 0) {
				log_error("%s", err);
				return r;
			}
			if (conf == 0) { /* reorganised away: look for it again */
				eth_receipt_free(rcpt);
				found = false;
			} else if (conf >= c->confirmations) {
				break;
			}
		}
		if (now_ms() > deadline) {
			log_error("transaction 0x%s: %s within %ld ms", hex,
				  found ? "not confirmed" : "not mined", c->wait_ms);
			if (found)
				eth_receipt_free(rcpt);
			return -ETIMEDOUT;
		}
		sleep_ms(200);
	}
	if (rcpt->status != 1) {
		log_error("transaction 0x%s failed (status 0) in block %llu", hex,
			  (unsigned long long)rcpt->block_number);
		eth_receipt_free(rcpt);
		return -ECANCELED;
	}
	return 0;
}

int chain_send(struct chain *c, bool create, const uint8_t value[32], const uint8_t *data, size_t n,
	       struct eth_receipt *rcpt)
{
	struct eth_tx tx = { 0 };
	struct eth_fees fees;
	struct rlp_buf raw = { 0 };
	uint8_t h[32], zero[32] = { 0 };
	char err[512];
	int r;

	if (!c->have_key || (!create && !c->have_contract))
		return -EINVAL;
	tx.chain_id = c->chain_id;
	tx.has_to = !create;
	if (!create)
		memcpy(tx.to, c->contract, ETH_ADDRESS_LEN);
	memcpy(tx.value, value ? value : zero, 32);
	tx.data = data;
	tx.data_len = n;
	r = eth_get_transaction_count(&c->rpc, c->from, "pending", &tx.nonce, err, sizeof(err));
	if (r >= 0)
		r = eth_suggest_fees(&c->rpc, &fees, err, sizeof(err));
	if (r >= 0)
		r = eth_estimate_gas(&c->rpc, c->from, create ? NULL : c->contract, tx.value, data,
				     n, &tx.gas, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	if (memcmp(fees.max_fee_per_gas, c->max_fee, 32) > 0) {
		char want[80], cap[80];

		u256_to_dec(fees.max_fee_per_gas, want, sizeof(want));
		u256_to_dec(c->max_fee, cap, sizeof(cap));
		log_error("the node's fees ask up to %s wei per gas, over --max-fee-per-gas %s",
			  want, cap);
		return -EDQUOT; /* not -ERANGE: that is a node's quantity too large */
	}
	/* a margin over the estimate: the state may move between estimate and inclusion */
	tx.gas += tx.gas / 5;
	memcpy(tx.max_fee_per_gas, fees.max_fee_per_gas, 32);
	memcpy(tx.max_priority_fee_per_gas, fees.max_priority_fee_per_gas, 32);
	r = eth_tx_sign_1559(&tx, c->key.sk, &raw, h, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	r = eth_send_raw_transaction(&c->rpc, raw.p, raw.len, h, err, sizeof(err));
	rlp_buf_free(&raw);
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	return wait_receipt(c, h, rcpt);
}

static int encode_call(const char *sig, const struct abi_value *args, size_t nargs,
		       struct rlp_buf *out)
{
	char err[256];

	if (abi_encode_call(sig, args, nargs, out, err, sizeof(err)) < 0 || rlp_buf_done(out) < 0) {
		log_error("%s: %s", sig, err);
		rlp_buf_free(out);
		return -EINVAL;
	}
	return 0;
}

int chain_send_call(struct chain *c, const uint8_t value[32], const char *sig,
		    const struct abi_value *args, size_t nargs, struct eth_receipt *rcpt)
{
	struct rlp_buf data = { 0 };
	int r = encode_call(sig, args, nargs, &data);

	if (r < 0)
		return r;
	r = chain_send(c, false, value, data.p, data.len, rcpt);
	rlp_buf_free(&data);
	return r;
}

int chain_call(struct chain *c, const char *sig, const struct abi_value *args, size_t nargs,
	       const char *types, uint8_t **ret, struct abi_value *out, size_t nout)
{
	struct rlp_buf data = { 0 };
	char err[512];
	size_t len = 0;
	int r = encode_call(sig, args, nargs, &data);

	*ret = NULL;
	if (r < 0)
		return r;
	r = eth_call(&c->rpc, c->contract, data.p, data.len, "latest", ret, &len, err, sizeof(err));
	rlp_buf_free(&data);
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	if (len == 0) {
		log_error("%s: the contract at the given address returned nothing (is it the "
			  "Market contract?)",
			  sig);
		free(*ret);
		*ret = NULL;
		return -EBADMSG;
	}
	r = abi_decode(types, *ret, len, out, nout, err, sizeof(err));
	if (r < 0) {
		log_error("%s: the contract's answer: %s", sig, err);
		free(*ret);
		*ret = NULL;
	}
	return r;
}

/* ---- uint256 ---- */

int u256_from_dec(const char *s, uint8_t out[32])
{
	BIGNUM *bn = NULL;
	int r = -EINVAL;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 78)
		return -EINVAL;
	if (BN_dec2bn(&bn, s) == (int)strlen(s) && BN_num_bits(bn) <= 256 &&
	    BN_bn2binpad(bn, out, 32) == 32)
		r = 0;
	BN_free(bn);
	return r;
}

void u256_to_dec(const uint8_t v[32], char *out, size_t cap)
{
	BIGNUM *bn = BN_bin2bn(v, 32, NULL);
	char *s = bn ? BN_bn2dec(bn) : NULL;

	snprintf(out, cap, "%s", s ? s : "?");
	OPENSSL_free(s);
	BN_free(bn);
}

/* ---- reads of the contract ---- */

const char *market_state_name(unsigned state)
{
	static const char *const names[] = { "none",	 "placed", "accepted",
					     "resulted", "paid",   "refunded" };

	return state < ARRAY_SIZE(names) ? names[state] : "unknown";
}

const char *market_kind_name(unsigned kind)
{
	static const char *const names[] = { "compute", "solution", "data" };

	return kind < ARRAY_SIZE(names) ? names[kind] : "unknown";
}

static void id_arg(struct abi_value *v, uint64_t id)
{
	*v = (struct abi_value){ 0 };
	abi_word_uint64(id, v->word);
}

/* A word that must fit in bits (the contract's uint8/uint32/uint64 fields). */
static int word_small(const struct abi_value *v, uint64_t *out)
{
	return abi_word_to_uint64(v->word, out);
}

static int ids_of(const struct abi_value *arr, uint64_t *ids, size_t cap, size_t *n,
		  const char *what)
{
	char err[256];

	if (arr->count > cap) {
		log_error("the contract's %s: %zu ids, at most %zu", what, arr->count, cap);
		return -EBADMSG;
	}
	for (size_t i = 0; i < arr->count; i++) {
		struct abi_value item;

		if (abi_array_item(arr, i, &item, err, sizeof(err)) < 0 ||
		    abi_word_to_uint64(item.word, &ids[i]) < 0) {
			log_error("the contract's %s: id %zu out of range", what, i);
			return -EBADMSG;
		}
	}
	*n = arr->count;
	return 0;
}

int market_offer_get(struct chain *c, uint64_t id, struct market_offer *o)
{
	struct abi_value arg, v[8];
	uint8_t *ret = NULL;
	uint64_t x;
	int r;

	*o = (struct market_offer){ 0 };
	id_arg(&arg, id);
	r = chain_call(c, MARKET_GET_OFFER, &arg, 1, MARKET_GET_OFFER_OUT, &ret, v, 8);
	if (r < 0)
		return r;
	memcpy(o->owner, v[0].word + 12, ETH_ADDRESS_LEN);
	word_small(&v[1], &x);
	o->kind = (unsigned)x;
	word_small(&v[2], &x);
	o->platforms = (unsigned)x;
	o->active = v[3].word[31] == 1;
	memcpy(o->digest, v[4].word, 32);
	memcpy(o->price, v[5].word, 32);
	if (v[6].n >= sizeof(o->broker)) {
		log_error("offer %llu: its broker URL is longer than %zu bytes",
			  (unsigned long long)id, sizeof(o->broker) - 1);
		r = -EBADMSG;
	} else {
		memcpy(o->broker, v[6].p, v[6].n);
		o->broker[v[6].n] = 0;
		r = ids_of(&v[7], o->allowed, ARRAY_SIZE(o->allowed), &o->nallowed,
			   "allowed solutions");
	}
	free(ret);
	return r;
}

int market_order_get(struct chain *c, uint64_t id, struct market_order *o)
{
	struct abi_value arg, v[11];
	uint8_t *ret = NULL;
	uint64_t x;
	int r;

	*o = (struct market_order){ 0 };
	id_arg(&arg, id);
	r = chain_call(c, MARKET_GET_ORDER, &arg, 1, MARKET_GET_ORDER_OUT, &ret, v, 11);
	if (r < 0)
		return r;
	memcpy(o->customer, v[0].word + 12, ETH_ADDRESS_LEN);
	word_small(&v[1], &x);
	o->state = (unsigned)x;
	word_small(&v[2], &x);
	o->hours = (uint32_t)x;
	word_small(&v[3], &o->deadline);
	word_small(&v[4], &o->result_at);
	memcpy(o->order_digest, v[5].word, 32);
	memcpy(o->result_digest, v[6].word, 32);
	memcpy(o->evidence_digest, v[7].word, 32);
	if (abi_word_to_uint64(v[8].word, &o->compute) < 0) {
		log_error("order %llu: its compute offer id is out of range",
			  (unsigned long long)id);
		r = -EBADMSG;
	} else {
		r = ids_of(&v[9], o->inputs, ARRAY_SIZE(o->inputs), &o->ninputs, "inputs");
	}
	memcpy(o->escrow, v[10].word, 32);
	free(ret);
	return r;
}

/* ---- the result's digests ---- */

int market_result_digests(const char *bundle, uint8_t result[32], uint8_t evidence[32],
			  uint8_t order_sha256[32], char *err, size_t errlen)
{
	struct result_info info = { 0 };
	struct result_source src = { .fd = -1 };
	struct stat st;
	char *text = NULL;
	size_t len;
	int r;

	src.fd = open(bundle, O_RDONLY | O_CLOEXEC);
	if (src.fd < 0 || fstat(src.fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", bundle, strerror(errno));
		goto out;
	}
	src.size = (uint64_t)st.st_size;
	r = result_verify(&src, &info, err, errlen);
	if (r < 0)
		goto out;
	r = file_digest(bundle, "SHA256", result, 32, &len);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", bundle, strerror(-r));
		goto out;
	}
	r = jcs_serialize(info.evidence, &text, &len);
	if (r < 0) {
		snprintf(err, errlen, "%s: the evidence has no canonical form", bundle);
		goto out;
	}
	if (!EVP_Digest(text, len, evidence, NULL, EVP_sha256(), NULL))
		r = -ENOMEM;
	if (order_sha256)
		memcpy(order_sha256, info.order_sha256, 32);
out:
	free(text);
	result_info_free(&info);
	if (src.fd >= 0)
		close(src.fd);
	return r;
}

int market_manifest_sha256(const char *path, uint8_t out[32], char *err, size_t errlen)
{
	struct manifest mf = { 0 };
	uint8_t *text = NULL;
	size_t len;
	int r;

	r = file_read(path, 1 << 20, &text, &len);
	if (r < 0)
		return set_error(err, errlen, r, "%s: %s", path, strerror(-r));
	r = manifest_parse((const char *)text, len, &mf, err, errlen);
	free(text);
	if (r == 0)
		memcpy(out, mf.sha256, 32);
	manifest_free(&mf);
	return r;
}

int market_check_result(const struct chain_opts *co, uint64_t id, const char *bundle, char *err,
			size_t errlen)
{
	struct market_order mo;
	struct chain c;
	uint8_t result[32], evidence[32], osha[32];
	int r;

	r = market_result_digests(bundle, result, evidence, osha, err, errlen);
	if (r < 0)
		return r == -ENOENT || r == -EACCES ? -EINVAL : -EKEYREJECTED;
	/* the node's failures are logged where they happen: err stays empty */
	r = chain_open(&c, co, CHAIN_OPT_NEED_CONTRACT);
	if (r < 0) {
		*err = 0;
		return r == -EINVAL ? -EINVAL : -EIO;
	}
	r = market_order_get(&c, id, &mo);
	chain_close(&c);
	if (r < 0) {
		*err = 0;
		return -EIO;
	}
	if (mo.state == 0)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_RESULT_CHAIN: order %llu is not "
				 "on the chain",
				 (unsigned long long)id);
	if (mo.state != MARKET_RESULTED && mo.state != MARKET_PAID)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_RESULT_CHAIN: order %llu is %s: no result was posted",
				 (unsigned long long)id, market_state_name(mo.state));
	if (memcmp(mo.order_digest, osha, 32))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_RESULT_CHAIN: the bundle is for another order than the "
				 "chain's order %llu",
				 (unsigned long long)id);
	if (memcmp(mo.result_digest, result, 32))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_RESULT_CHAIN: the bundle's SHA-256 is not the result posted "
				 "for order %llu",
				 (unsigned long long)id);
	if (memcmp(mo.evidence_digest, evidence, 32))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_RESULT_CHAIN: the bundle's evidence is not the evidence "
				 "posted for order %llu",
				 (unsigned long long)id);
	return 0;
}
