// SPDX-License-Identifier: Apache-2.0
/*
 * cvm chain (address, deploy, balance, withdraw), cvm offer (register,
 * show, approve) and cvm order place | confirm | refund | settle | status:
 * the Market contract from the command line (docs/chain.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "host/cvm.h"
#include "chain/eip712.h"
#include "chain/tx.h"
#include "host/market.h"
#include "measurement/order.h"

/* ---- output: one JSON object on stdout ---- */

static void add_hex(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
	char hex[2 * 64 + 3] = "0x";

	hex_encode(p, n, hex + 2);
	cJSON_AddStringToObject(o, name, hex);
}

static void add_address(cJSON *o, const char *name, const uint8_t a[ETH_ADDRESS_LEN])
{
	char s[43];

	eth_address_checksum(a, s);
	cJSON_AddStringToObject(o, name, s);
}

static void add_u256(cJSON *o, const char *name, const uint8_t v[32])
{
	char s[80];

	u256_to_dec(v, s, sizeof(s));
	cJSON_AddStringToObject(o, name, s);
}

/* What a sent transaction cost: the tests check balances to the wei with it. */
static void add_receipt(cJSON *o, const struct eth_receipt *r)
{
	uint8_t gas[32];

	add_hex(o, "tx", r->tx_hash, 32);
	cJSON_AddNumberToObject(o, "block", (double)r->block_number);
	abi_word_uint64(r->gas_used, gas);
	add_u256(o, "gas_used", gas);
	add_u256(o, "effective_gas_price", r->effective_gas_price);
}

static int print_json(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	int rc = EXIT_OK;

	if (!s || printf("%s\n", s) < 0 || fflush(stdout) != 0) {
		log_error_errno(-EIO, "standard output");
		rc = EXIT_USAGE;
	}
	free(s);
	cJSON_Delete(o);
	return rc;
}

/* -EREMOTEIO: the node refused (a revert); -EDQUOT: over --max-fee-per-gas */
static int exit_of(int r)
{
	return r == -EINVAL			 ? EXIT_USAGE
	       : r == -EREMOTEIO || r == -EDQUOT ? EXIT_REJECTED
						 : EXIT_CHAIN;
}

/* ---- argument readers ---- */

static int parse_u256_arg(const char *what, const char *s, uint8_t out[32])
{
	if (u256_from_dec(s, out) < 0) {
		log_error("%s: '%s' is not a whole number of wei below 2^256", what, s);
		return -EINVAL;
	}
	return 0;
}

static int parse_digest_arg(const char *what, const char *s, uint8_t out[32])
{
	if (!strncmp(s, "0x", 2))
		s += 2;
	if (strlen(s) != 64 || hex_decode_exact(s, out, 32) < 0) {
		log_error("%s: expected 64 hex digits", what);
		return -EINVAL;
	}
	return 0;
}

/* A file's one JSON member that is a 64-hex-digit digest (cvm pack --json, image manifest). */
static int digest_from_file(const char *path, const char *member, uint8_t out[32])
{
	uint8_t *text = NULL;
	size_t len;
	cJSON *j, *v;
	int r = -EINVAL;

	if (file_read(path, 1 << 20, &text, &len) < 0) {
		log_error("%s: cannot read it", path);
		return -EINVAL;
	}
	j = cJSON_ParseWithLength((const char *)text, len);
	v = cJSON_GetObjectItemCaseSensitive(j, member);
	if (!cJSON_IsString(v) || strlen(v->valuestring) != 64 ||
	    hex_decode_exact(v->valuestring, out, 32) < 0)
		log_error("%s: no \"%s\" of 64 hex digits", path, member);
	else
		r = 0;
	cJSON_Delete(j);
	free(text);
	return r;
}

static void ids_value(struct abi_value *arr, struct abi_value *items, const uint64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		items[i] = (struct abi_value){ 0 };
		abi_word_uint64(ids[i], items[i].word);
	}
	*arr = (struct abi_value){ .count = n, .items = items };
}

/* The id of the event sig the receipt's log of the contract carries as its first topic. */
static int event_id(const struct chain *c, const struct eth_receipt *r, const char *sig,
		    uint64_t *id)
{
	uint8_t topic[32];

	abi_event_topic(sig, topic);
	for (size_t i = 0; i < r->nlogs; i++) {
		const struct eth_log *l = &r->logs[i];

		if (memcmp(l->address, c->contract, ETH_ADDRESS_LEN) || l->ntopics < 2 ||
		    memcmp(l->topics[0], topic, 32))
			continue;
		if (abi_word_to_uint64(l->topics[1], id) == 0)
			return 0;
	}
	log_error("the receipt has no %s event of the contract", sig);
	return -EBADMSG;
}

/* ---- cvm chain ---- */

static void chain_usage(FILE *f)
{
	fputs("Usage: cvm chain address --key KEY\n"
	      "       cvm chain deploy --rpc URL --key KEY [--challenge-window SECONDS]\n"
	      "       cvm chain balance --rpc URL (--address ADDRESS | --key KEY)\n"
	      "                         [--contract ADDRESS]\n"
	      "       cvm chain withdraw --rpc URL --contract ADDRESS --key KEY\n"
	      "\n"
	      "The Market contract on an EVM chain (docs/chain.md). Keys are the ones\n"
	      "'cvm keygen' makes; a key's account is its Ethereum address.\n"
	      "\n"
	      "address: the key's address, EIP-55 checksummed. deploy: deploys the Market\n"
	      "contract (built from contracts/Market.sol) with a challenge window (default\n"
	      "86400 s) and prints its address. balance: an account's balance in wei, and\n"
	      "with --contract what the market owes it. withdraw: takes what the market\n"
	      "owes the key's account.\n"
	      "\n",
	      f);
	chain_opts_help(f, true, true);
	fputs("\nEach command prints one JSON object. A transaction's object has its hash,\n"
	      "block, gas used and effective gas price.\n"
	      "Exit status: 0 done, 1 refused by the contract, 2 usage, 3 the node (down,\n"
	      "slow, garbage, a transaction not mined in time).\n",
	      f);
}

static int chain_verb(const char *verb, int argc, char **argv)
{
	static const struct option longopts[] = {
		CHAIN_LONGOPTS,
		{ "challenge-window", required_argument, NULL, 'w' },
		{ "address", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct chain_opts co;
	struct chain c;
	struct eth_receipt rcpt = { 0 };
	const char *address = NULL;
	uint64_t window = 86400;
	cJSON *out = NULL;
	int ch, r;

	chain_opts_init(&co);
	optind = 1;
	while ((ch = chain_getopt(argc, argv, "h", longopts, &co)) != -1) {
		if (ch == CHAIN_GETOPT_ERROR)
			return EXIT_USAGE;
		if (ch == 'w') {
			char *end;

			errno = 0;
			window = strtoull(optarg, &end, 10);
			if (errno || *end || *optarg < '0' || *optarg > '9' ||
			    window > 365ull * 86400) {
				log_error("--challenge-window: '%s' is not 0 to 31536000 seconds",
					  optarg);
				return EXIT_USAGE;
			}
		} else if (ch == 'a') {
			address = optarg;
		} else if (ch == 'h') {
			chain_usage(stdout);
			return EXIT_OK;
		} else {
			log_error("see 'cvm chain --help'");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'; see 'cvm chain --help'", argv[optind]);
		return EXIT_USAGE;
	}

	if (!strcmp(verb, "address")) {
		struct result_key k = { 0 };
		uint8_t a[ETH_ADDRESS_LEN];
		char err[256], s[43];

		if (!co.key) {
			log_error("--key FILE is required");
			return EXIT_USAGE;
		}
		if (result_key_load(co.key, &k, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
		r = eth_address_from_pubkey(k.pub, sizeof(k.pub), a);
		result_key_wipe(&k);
		if (r < 0)
			return EXIT_USAGE;
		eth_address_checksum(a, s);
		printf("%s\n", s);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
	}

	if (!strcmp(verb, "deploy")) {
		size_t hexlen = strlen(market_bytecode_hex), n = hexlen / 2;
		struct rlp_buf code = { 0 };
		struct abi_value arg = { 0 };
		uint8_t *bin = malloc(n);
		char err[256];

		if (!bin || hex_decode_exact(market_bytecode_hex, bin, n) < 0) {
			free(bin);
			log_error("the built-in contract code is not hex");
			return EXIT_USAGE;
		}
		abi_word_uint64(window, arg.word);
		rlp_put_raw(&code, bin, n);
		free(bin);
		if (abi_encode(MARKET_CONSTRUCTOR, &arg, 1, &code, err, sizeof(err)) < 0 ||
		    rlp_buf_done(&code) < 0) {
			log_error("constructor: %s", err);
			rlp_buf_free(&code);
			return EXIT_USAGE;
		}
		r = chain_open(&c, &co, CHAIN_OPT_NEED_KEY);
		if (r == 0)
			r = chain_send(&c, true, NULL, code.p, code.len, &rcpt);
		rlp_buf_free(&code);
		if (r < 0) {
			chain_close(&c);
			return exit_of(r);
		}
		if (!rcpt.has_contract) {
			log_error("the receipt names no contract address");
			eth_receipt_free(&rcpt);
			chain_close(&c);
			return EXIT_CHAIN;
		}
		out = cJSON_CreateObject();
		add_address(out, "contract", rcpt.contract_address);
		cJSON_AddNumberToObject(out, "chain_id", (double)c.chain_id);
		cJSON_AddNumberToObject(out, "challenge_window", (double)window);
		add_receipt(out, &rcpt);
		eth_receipt_free(&rcpt);
		chain_close(&c);
		return print_json(out);
	}

	if (!strcmp(verb, "balance")) {
		uint8_t who[ETH_ADDRESS_LEN], bal[32];
		char err[512];

		if (!address && !co.key) {
			log_error("--address ADDRESS or --key FILE is required");
			return EXIT_USAGE;
		}
		if (address && eth_address_parse(address, who) < 0) {
			log_error("--address: '%s' is not an address", address);
			return EXIT_USAGE;
		}
		r = chain_open(&c, &co, 0);
		if (r < 0)
			return exit_of(r);
		if (!address)
			memcpy(who, c.from, ETH_ADDRESS_LEN);
		out = cJSON_CreateObject();
		add_address(out, "address", who);
		r = eth_get_balance(&c.rpc, who, "latest", bal, err, sizeof(err));
		if (r < 0)
			log_error("%s", err);
		else
			add_u256(out, "balance_wei", bal);
		if (r == 0 && c.have_contract) {
			struct abi_value arg = { 0 }, v;
			uint8_t *ret;

			abi_word_address(who, arg.word);
			r = chain_call(&c, MARKET_OWED, &arg, 1, "uint256", &ret, &v, 1);
			if (r == 0)
				add_u256(out, "owed_wei", v.word);
			free(ret);
		}
		chain_close(&c);
		if (r < 0) {
			cJSON_Delete(out);
			return exit_of(r);
		}
		return print_json(out);
	}

	if (!strcmp(verb, "withdraw")) {
		struct abi_value arg = { 0 }, v;
		uint8_t *ret;

		r = chain_open(&c, &co, CHAIN_OPT_NEED_KEY | CHAIN_OPT_NEED_CONTRACT);
		if (r < 0)
			return exit_of(r);
		abi_word_address(c.from, arg.word);
		r = chain_call(&c, MARKET_OWED, &arg, 1, "uint256", &ret, &v, 1);
		if (r == 0) {
			out = cJSON_CreateObject();
			add_u256(out, "withdrawn_wei", v.word);
			free(ret);
			r = chain_send_call(&c, NULL, MARKET_WITHDRAW, NULL, 0, &rcpt);
			if (r == 0) {
				add_receipt(out, &rcpt);
				eth_receipt_free(&rcpt);
			} else {
				cJSON_Delete(out);
			}
		}
		chain_close(&c);
		return r < 0 ? exit_of(r) : print_json(out);
	}
	log_error("unknown command 'cvm chain %s'; see 'cvm chain --help'", verb);
	return EXIT_USAGE;
}

int chain_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		chain_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	return chain_verb(argv[1], argc - 1, argv + 1);
}

/* ---- cvm offer ---- */

static void offer_usage(FILE *f)
{
	fputs("Usage: cvm offer register --kind compute --manifest MANIFEST.json\n"
	      "                          --platforms P[,P...] --price-per-hour WEI [chain "
	      "options]\n"
	      "       cvm offer register --kind solution|data --pack PACK.json --broker URL\n"
	      "                          --price WEI [--allow ID[,ID...]] [chain options]\n"
	      "       cvm offer show ID [chain options]\n"
	      "       cvm offer approve ID --manifest MANIFEST.json [--revoke] [chain options]\n"
	      "\n"
	      "Offers on the Market contract (docs/chain.md). A compute provider offers the\n"
	      "image it runs: the SHA-256 of its manifest (cvm image build), the platforms\n"
	      "(plain, snp, tdx) and a price per hour. A solution or data owner offers a\n"
	      "volume: its LUKS2 header's digest (from what 'cvm pack --json' printed, saved\n"
	      "as PACK.json), its key broker's URL and a price per order; a data offer may\n"
	      "name the solution offers it allows (--allow; none: any). register prints the\n"
	      "new offer's id. approve records on the chain that the input offer's owner\n"
	      "approves an image manifest (--revoke: no longer).\n"
	      "  --manifest-sha256 HEX and --header-sha256 HEX give a digest directly.\n"
	      "\n",
	      f);
	chain_opts_help(f, true, true);
	fputs("\nExit status: 0 done, 1 refused by the contract, 2 usage, 3 the node.\n", f);
}

static int platforms_arg(const char *s, unsigned *out)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int r = 0;

	*out = 0;
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "plain"))
			*out |= MARKET_PLAIN;
		else if (!strcmp(tok, "snp"))
			*out |= MARKET_SNP;
		else if (!strcmp(tok, "tdx"))
			*out |= MARKET_TDX;
		else {
			log_error("--platforms: unknown platform '%s' (plain, snp, tdx)", tok);
			r = -EINVAL;
			break;
		}
	}
	free(copy);
	if (r == 0 && *out == 0) {
		log_error("--platforms: none given");
		r = -EINVAL;
	}
	return r;
}

static cJSON *offer_json(uint64_t id, const struct market_offer *o)
{
	cJSON *j = cJSON_CreateObject(), *a;

	cJSON_AddNumberToObject(j, "offer", (double)id);
	add_address(j, "owner", o->owner);
	cJSON_AddStringToObject(j, "kind", market_kind_name(o->kind));
	if (o->kind == MARKET_COMPUTE) {
		a = cJSON_AddArrayToObject(j, "platforms");
		if (o->platforms & MARKET_PLAIN)
			cJSON_AddItemToArray(a, cJSON_CreateString("plain"));
		if (o->platforms & MARKET_SNP)
			cJSON_AddItemToArray(a, cJSON_CreateString("snp"));
		if (o->platforms & MARKET_TDX)
			cJSON_AddItemToArray(a, cJSON_CreateString("tdx"));
		add_hex(j, "manifest_sha256", o->digest, 32);
		add_u256(j, "price_per_hour_wei", o->price);
	} else {
		add_hex(j, "luks_header_sha256", o->digest, 32);
		cJSON_AddStringToObject(j, "broker", o->broker);
		add_u256(j, "price_wei", o->price);
		a = cJSON_AddArrayToObject(j, "allowed_solutions");
		for (size_t i = 0; i < o->nallowed; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber((double)o->allowed[i]));
	}
	cJSON_AddBoolToObject(j, "active", o->active);
	return j;
}

int offer_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CHAIN_LONGOPTS,
		{ "kind", required_argument, NULL, 'K' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "manifest-sha256", required_argument, NULL, 'M' },
		{ "pack", required_argument, NULL, 'p' },
		{ "header-sha256", required_argument, NULL, 'H' },
		{ "platforms", required_argument, NULL, 'P' },
		{ "price-per-hour", required_argument, NULL, 'r' },
		{ "price", required_argument, NULL, 'R' },
		{ "broker", required_argument, NULL, 'b' },
		{ "allow", required_argument, NULL, 'A' },
		{ "revoke", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct chain_opts co;
	struct chain c;
	struct eth_receipt rcpt = { 0 };
	const char *verb, *kind = NULL, *broker = "";
	uint8_t digest[32], price[32] = { 0 };
	bool have_digest = false, have_price = false, revoke = false;
	unsigned platforms = 0;
	uint64_t allowed[64], id = 0;
	size_t nallowed = 0;
	unsigned k = 0;
	char err[512];
	cJSON *out;
	int ch, r;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		offer_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	verb = argv[1];
	argc--;
	argv++;
	chain_opts_init(&co);
	optind = 1;
	while ((ch = chain_getopt(argc, argv, "h", longopts, &co)) != -1) {
		if (ch == CHAIN_GETOPT_ERROR)
			return EXIT_USAGE;
		switch (ch) {
		case 'K':
			kind = optarg;
			break;
		case 'm':
			if (market_manifest_sha256(optarg, digest, err, sizeof(err)) < 0) {
				log_error("--manifest: %s", err);
				return EXIT_USAGE;
			}
			have_digest = true;
			break;
		case 'M':
		case 'H':
			if (parse_digest_arg(ch == 'M' ? "--manifest-sha256" : "--header-sha256",
					     optarg, digest) < 0)
				return EXIT_USAGE;
			have_digest = true;
			break;
		case 'p':
			if (digest_from_file(optarg, "luks_header_sha256", digest) < 0)
				return EXIT_USAGE;
			have_digest = true;
			break;
		case 'P':
			if (platforms_arg(optarg, &platforms) < 0)
				return EXIT_USAGE;
			break;
		case 'r':
		case 'R':
			if (parse_u256_arg(ch == 'r' ? "--price-per-hour" : "--price", optarg,
					   price) < 0)
				return EXIT_USAGE;
			have_price = true;
			break;
		case 'b':
			broker = optarg;
			break;
		case 'A':
			if (parse_ids_arg("--allow", optarg, allowed, ARRAY_SIZE(allowed),
					  &nallowed) < 0)
				return EXIT_USAGE;
			break;
		case 'x':
			revoke = true;
			break;
		case 'h':
			offer_usage(stdout);
			return EXIT_OK;
		default:
			log_error("see 'cvm offer --help'");
			return EXIT_USAGE;
		}
	}

	if (!strcmp(verb, "show") || !strcmp(verb, "approve")) {
		struct market_offer o;

		if (optind + 1 != argc) {
			log_error("expected one offer id; see 'cvm offer --help'");
			return EXIT_USAGE;
		}
		if (parse_chain_id_arg("offer id", argv[optind], &id) < 0)
			return EXIT_USAGE;
		if (!strcmp(verb, "approve") && !have_digest) {
			log_error("--manifest MANIFEST.json or --manifest-sha256 HEX is required");
			return EXIT_USAGE;
		}
		r = chain_open(&c, &co,
			       CHAIN_OPT_NEED_CONTRACT |
				       (!strcmp(verb, "approve") ? CHAIN_OPT_NEED_KEY : 0));
		if (r < 0)
			return exit_of(r);
		r = market_offer_get(&c, id, &o);
		if (r == 0 && !o.active && !memcmp(o.owner, (uint8_t[20]){ 0 }, 20)) {
			log_error("offer %llu: no such offer", (unsigned long long)id);
			r = -ENOENT;
		}
		if (r < 0) {
			chain_close(&c);
			return r == -ENOENT ? EXIT_REJECTED : exit_of(r);
		}
		if (!strcmp(verb, "show")) {
			chain_close(&c);
			return print_json(offer_json(id, &o));
		}
		{
			struct abi_value args[3] = { 0 };

			abi_word_uint64(id, args[0].word);
			memcpy(args[1].word, digest, 32);
			args[2].word[31] = revoke ? 0 : 1;
			r = chain_send_call(&c, NULL, MARKET_SET_APPROVAL, args, 3, &rcpt);
		}
		chain_close(&c);
		if (r < 0)
			return exit_of(r);
		out = cJSON_CreateObject();
		cJSON_AddNumberToObject(out, "offer", (double)id);
		add_hex(out, "manifest_sha256", digest, 32);
		cJSON_AddBoolToObject(out, "approved", !revoke);
		add_receipt(out, &rcpt);
		eth_receipt_free(&rcpt);
		return print_json(out);
	}

	if (strcmp(verb, "register")) {
		log_error("unknown command 'cvm offer %s'; see 'cvm offer --help'", verb);
		return EXIT_USAGE;
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'; see 'cvm offer --help'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!kind ||
	    (strcmp(kind, "compute") && strcmp(kind, "solution") && strcmp(kind, "data"))) {
		log_error("--kind compute|solution|data is required");
		return EXIT_USAGE;
	}
	k = !strcmp(kind, "compute")	? MARKET_COMPUTE
	    : !strcmp(kind, "solution") ? MARKET_SOLUTION
					: MARKET_DATA;
	if (!have_digest || !have_price) {
		log_error(k == MARKET_COMPUTE
				  ? "a compute offer needs --manifest and --price-per-hour"
				  : "a %s offer needs --pack (or --header-sha256) and --price",
			  kind);
		return EXIT_USAGE;
	}
	if (k == MARKET_COMPUTE && (!platforms || *broker || nallowed)) {
		log_error("a compute offer needs --platforms, and has no --broker or --allow");
		return EXIT_USAGE;
	}
	if (k != MARKET_COMPUTE && (platforms || !*broker)) {
		log_error("a %s offer needs --broker URL, and has no --platforms", kind);
		return EXIT_USAGE;
	}
	if (k == MARKET_SOLUTION && nallowed) {
		log_error("--allow is for data offers: the solutions a data offer allows");
		return EXIT_USAGE;
	}
	if (strncmp(broker, "https://", 8) && *broker) {
		log_error("--broker: '%s' is not an https URL", broker);
		return EXIT_USAGE;
	}
	r = chain_open(&c, &co, CHAIN_OPT_NEED_KEY | CHAIN_OPT_NEED_CONTRACT);
	if (r < 0)
		return exit_of(r);
	{
		struct abi_value args[6] = { 0 }, items[64];

		abi_word_uint64(k, args[0].word);
		memcpy(args[1].word, digest, 32);
		abi_word_uint64(platforms, args[2].word);
		memcpy(args[3].word, price, 32);
		args[4].p = (const uint8_t *)broker;
		args[4].n = strlen(broker);
		ids_value(&args[5], items, allowed, nallowed);
		r = chain_send_call(&c, NULL, MARKET_REGISTER, args, 6, &rcpt);
	}
	if (r == 0)
		r = event_id(&c, &rcpt, MARKET_EV_OFFER, &id);
	chain_close(&c);
	if (r < 0) {
		if (rcpt.tx_hash[0] || rcpt.nlogs)
			eth_receipt_free(&rcpt);
		return exit_of(r);
	}
	out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "offer", (double)id);
	cJSON_AddStringToObject(out, "kind", kind);
	add_hex(out, k == MARKET_COMPUTE ? "manifest_sha256" : "luks_header_sha256", digest, 32);
	add_receipt(out, &rcpt);
	eth_receipt_free(&rcpt);
	return print_json(out);
}

/* ---- cvm order place | confirm | refund | settle | status ---- */

static void order_chain_usage(FILE *f)
{
	fputs("Usage: cvm order place SIGNED.json --compute ID --input ID [--input ID...]\n"
	      "                       [--hours N] [--expires-in SECONDS] [chain options]\n"
	      "       cvm order confirm|refund|settle|status ID [chain options]\n"
	      "       cvm order typed-data SIGNED.json --compute ID --input ID [--input ID...]\n"
	      "                       [--hours N] --chain-id N --contract ADDRESS -o TYPED.json\n"
	      "       cvm order check-typed TYPED.json --signature HEX [--order SIGNED.json]\n"
	      "                       [--signer ADDRESS]\n"
	      "\n"
	      "An order on the Market contract (docs/chain.md). place: the customer, whose\n"
	      "key signed the order (its customer_pubkey is --key's), puts the order's\n"
	      "digest (SHA-256 of its signed form) on the chain with the offers it uses and\n"
	      "pays their price into escrow: the compute offer's price per hour times\n"
	      "--hours (default 1), plus each input's price. Each input offer must carry\n"
	      "the LUKS2 header digest of one of the order's inputs, of the same role. The\n"
	      "provider has until --expires-in (default the order's deadline plus 3600 s)\n"
	      "to post a result. confirm: the customer accepts the posted result; the\n"
	      "escrow is owed to the offers' owners. settle: the same by anyone once the\n"
	      "challenge window after the result has passed. refund: the customer takes\n"
	      "the escrow back when the deadline passed without a result. status: the\n"
	      "order as the contract has it.\n"
	      "\n"
	      "typed-data: the order as EIP-712 typed data (CvmOrder: the order's id, its\n"
	      "digest, the offers and the hours, in the domain of the contract on chain\n"
	      "--chain-id), for a wallet to sign (eth_signTypedData_v4); no node is asked.\n"
	      "check-typed: the address that signed typed data (65 bytes r || s || v, in\n"
	      "hex); with --order, the typed data must be that order's; with --signer,\n"
	      "the signer must be that address.\n"
	      "\n",
	      f);
	chain_opts_help(f, true, true);
	fputs("\nExit status: 0 done, 1 refused (by the contract, or the order does not\n"
	      "match its offers), 2 usage, 3 the node.\n",
	      f);
}

static cJSON *order_json(uint64_t id, const struct market_order *o)
{
	cJSON *j = cJSON_CreateObject(), *a;

	cJSON_AddNumberToObject(j, "order", (double)id);
	cJSON_AddStringToObject(j, "state", market_state_name(o->state));
	add_address(j, "customer", o->customer);
	add_hex(j, "order_sha256", o->order_digest, 32);
	cJSON_AddNumberToObject(j, "compute", (double)o->compute);
	a = cJSON_AddArrayToObject(j, "inputs");
	for (size_t i = 0; i < o->ninputs; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)o->inputs[i]));
	cJSON_AddNumberToObject(j, "hours", o->hours);
	cJSON_AddNumberToObject(j, "deadline", (double)o->deadline);
	add_u256(j, "escrow_wei", o->escrow);
	if (o->state >= MARKET_RESULTED && o->state != MARKET_REFUNDED) {
		add_hex(j, "result_sha256", o->result_digest, 32);
		add_hex(j, "evidence_sha256", o->evidence_digest, 32);
		cJSON_AddNumberToObject(j, "result_at", (double)o->result_at);
	}
	return j;
}

/* Both the customer (before paying) and the provider (before running) check it. */
int market_order_matches(struct chain *c, const struct order *doc, const uint64_t *inputs,
			 size_t ninputs, char *err, size_t errlen)
{
	bool used[ORDER_INPUTS_MAX] = { false };

	if (ninputs != doc->ninputs) {
		snprintf(err, errlen, "the order has %zu inputs, the chain names %zu offers",
			 doc->ninputs, ninputs);
		return -EKEYREJECTED;
	}
	for (size_t i = 0; i < ninputs; i++) {
		struct market_offer o;
		size_t j;

		if (market_offer_get(c, inputs[i], &o) < 0) {
			snprintf(err, errlen, "offer %llu: cannot read it",
				 (unsigned long long)inputs[i]);
			return -EIO;
		}
		for (j = 0; j < doc->ninputs; j++)
			if (!used[j] && !memcmp(doc->inputs[j].luks_header_sha256, o.digest, 32) &&
			    (j == doc->solution) == (o.kind == MARKET_SOLUTION) &&
			    o.kind != MARKET_COMPUTE)
				break;
		if (j == doc->ninputs) {
			snprintf(err, errlen,
				 "offer %llu (%s): no input of the order has its LUKS2 header "
				 "digest and role",
				 (unsigned long long)inputs[i], market_kind_name(o.kind));
			return -EKEYREJECTED;
		}
		used[j] = true;
	}
	return 0;
}

static int order_place(struct chain_opts *co, const char *path, uint64_t compute,
		       const uint64_t *inputs, size_t ninputs, uint32_t hours, uint64_t expires)
{
	_cleanup_(order_freep) struct order doc = { 0 };
	struct abi_value args[5] = { 0 }, items[MARKET_MAX_INPUTS], qargs[3] = { 0 }, q;
	struct eth_receipt rcpt = { 0 };
	struct chain c;
	uint8_t *text = NULL, *ret = NULL;
	uint64_t id = 0, deadline;
	char err[512];
	size_t len;
	cJSON *out;
	int r;

	if (file_read(path, ORDER_TEXT_MAX, &text, &len) < 0) {
		log_error("%s: cannot read it", path);
		return EXIT_USAGE;
	}
	r = order_parse((const char *)text, len, NULL, &doc, err, sizeof(err));
	free(text);
	if (r < 0) {
		log_error("%s: %s", path, err);
		return EXIT_REJECTED;
	}
	r = chain_open(&c, co, CHAIN_OPT_NEED_KEY | CHAIN_OPT_NEED_CONTRACT);
	if (r < 0)
		return exit_of(r);
	if (memcmp(c.key.pub, doc.customer_pub, sizeof(doc.customer_pub))) {
		log_error("%s: its customer_pubkey is not --key's: the customer who signed the "
			  "order pays for it",
			  path);
		chain_close(&c);
		return EXIT_REJECTED;
	}
	r = market_order_matches(&c, &doc, inputs, ninputs, err, sizeof(err));
	if (r < 0) {
		log_error("%s: %s", path, err);
		chain_close(&c);
		return r == -EIO ? EXIT_CHAIN : EXIT_REJECTED;
	}
	if ((uint64_t)hours * 3600 < doc.deadline_seconds) {
		log_error("%s: the order may run %llu s; --hours %u buys %llu s of compute", path,
			  (unsigned long long)doc.deadline_seconds, hours,
			  (unsigned long long)hours * 3600);
		chain_close(&c);
		return EXIT_REJECTED;
	}
	if (!expires)
		expires = doc.deadline_seconds + 3600;
	deadline = (uint64_t)time(NULL) + expires;
	abi_word_uint64(compute, qargs[0].word);
	ids_value(&qargs[1], items, inputs, ninputs);
	abi_word_uint64(hours, qargs[2].word);
	r = chain_call(&c, MARKET_QUOTE, qargs, 3, "uint256", &ret, &q, 1);
	if (r == 0) {
		memcpy(args[0].word, doc.sha256, 32);
		args[1] = qargs[0];
		args[2] = qargs[1];
		args[3] = qargs[2];
		abi_word_uint64(deadline, args[4].word);
		r = chain_send_call(&c, q.word, MARKET_PLACE, args, 5, &rcpt);
		if (r == 0)
			r = event_id(&c, &rcpt, MARKET_EV_PLACED, &id);
	}
	chain_close(&c);
	if (r < 0) {
		free(ret);
		return exit_of(r);
	}
	out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "order", (double)id);
	add_hex(out, "order_sha256", doc.sha256, 32);
	add_u256(out, "escrow_wei", q.word);
	cJSON_AddNumberToObject(out, "deadline", (double)deadline);
	add_receipt(out, &rcpt);
	free(ret);
	eth_receipt_free(&rcpt);
	return print_json(out);
}

/* ---- EIP-712: the order as typed data a wallet signs ---- */

static int load_order_doc(const char *path, struct order *doc)
{
	uint8_t *text = NULL;
	char err[512];
	size_t len;
	int r;

	if (file_read(path, ORDER_TEXT_MAX, &text, &len) < 0) {
		log_error("%s: cannot read it", path);
		return -EINVAL;
	}
	r = order_parse((const char *)text, len, NULL, doc, err, sizeof(err));
	free(text);
	if (r < 0) {
		log_error("%s: %s", path, err);
		return -EKEYREJECTED;
	}
	return 0;
}

static cJSON *typed_field(const char *name, const char *type)
{
	cJSON *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "name", name);
	cJSON_AddStringToObject(f, "type", type);
	return f;
}

/* The order's typed data (docs/chain.md): what typed-data writes and check-typed expects. */
static cJSON *order_typed(const struct order *doc, uint64_t chain_id, const uint8_t contract[20],
			  uint64_t compute, const uint64_t *inputs, size_t ninputs, uint32_t hours)
{
	cJSON *t = cJSON_CreateObject(), *types = cJSON_AddObjectToObject(t, "types"), *a, *d, *m;
	char num[24];

	a = cJSON_AddArrayToObject(types, "EIP712Domain");
	cJSON_AddItemToArray(a, typed_field("name", "string"));
	cJSON_AddItemToArray(a, typed_field("version", "string"));
	cJSON_AddItemToArray(a, typed_field("chainId", "uint256"));
	cJSON_AddItemToArray(a, typed_field("verifyingContract", "address"));
	a = cJSON_AddArrayToObject(types, "CvmOrder");
	cJSON_AddItemToArray(a, typed_field("id", "string"));
	cJSON_AddItemToArray(a, typed_field("orderSha256", "bytes32"));
	cJSON_AddItemToArray(a, typed_field("compute", "uint256"));
	cJSON_AddItemToArray(a, typed_field("inputs", "uint256[]"));
	cJSON_AddItemToArray(a, typed_field("hours", "uint32"));
	cJSON_AddStringToObject(t, "primaryType", "CvmOrder");
	d = cJSON_AddObjectToObject(t, "domain");
	cJSON_AddStringToObject(d, "name", "cvm");
	cJSON_AddStringToObject(d, "version", "1");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)chain_id);
	cJSON_AddStringToObject(d, "chainId", num);
	add_address(d, "verifyingContract", contract);
	m = cJSON_AddObjectToObject(t, "message");
	cJSON_AddStringToObject(m, "id", doc->id);
	add_hex(m, "orderSha256", doc->sha256, 32);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)compute);
	cJSON_AddStringToObject(m, "compute", num);
	a = cJSON_AddArrayToObject(m, "inputs");
	for (size_t i = 0; i < ninputs; i++) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)inputs[i]);
		cJSON_AddItemToArray(a, cJSON_CreateString(num));
	}
	cJSON_AddNumberToObject(m, "hours", hours);
	return t;
}

static int order_typed_data(const struct chain_opts *co, const char *path, uint64_t compute,
			    const uint64_t *inputs, size_t ninputs, uint32_t hours,
			    const char *output)
{
	_cleanup_(order_freep) struct order doc = { 0 };
	uint8_t contract[ETH_ADDRESS_LEN], digest[32];
	char err[512], *text;
	cJSON *t;
	int r;

	if (eth_address_parse(co->contract, contract) < 0) {
		log_error("--contract: '%s' is not an address", co->contract);
		return EXIT_USAGE;
	}
	r = load_order_doc(path, &doc);
	if (r < 0)
		return r == -EINVAL ? EXIT_USAGE : EXIT_REJECTED;
	t = order_typed(&doc, co->chain_id, contract, compute, inputs, ninputs, hours);
	text = t ? cJSON_Print(t) : NULL;
	cJSON_Delete(t);
	if (!text || eip712_digest(text, strlen(text), digest, err, sizeof(err)) < 0) {
		log_error("the typed data: %s", text ? err : "out of memory");
		free(text);
		return EXIT_USAGE;
	}
	r = file_write_atomic(output, text, strlen(text), err, sizeof(err));
	free(text);
	if (r < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "typed_data", output);
	add_hex(t, "digest", digest, 32);
	return print_json(t);
}

static int order_check_typed(const char *path, const char *sighex, const char *order,
			     const char *signer)
{
	uint8_t *text = NULL, digest[32], sig[ETH_SIG_LEN], who[ETH_ADDRESS_LEN], want[20];
	char err[512];
	size_t len;
	cJSON *t, *out;
	int r;

	if (!strncmp(sighex, "0x", 2))
		sighex += 2;
	if (strlen(sighex) != 2 * ETH_SIG_LEN || hex_decode_exact(sighex, sig, ETH_SIG_LEN) < 0) {
		log_error("--signature: expected 65 bytes (r || s || v) in hex");
		return EXIT_USAGE;
	}
	if (signer && eth_address_parse(signer, want) < 0) {
		log_error("--signer: '%s' is not an address", signer);
		return EXIT_USAGE;
	}
	if (file_read(path, 1 << 20, &text, &len) < 0) {
		log_error("%s: cannot read it", path);
		return EXIT_USAGE;
	}
	r = eip712_digest((const char *)text, len, digest, err, sizeof(err));
	if (r == 0)
		r = eth_recover(digest, sig, who, err, sizeof(err));
	if (r < 0) {
		log_error("%s: %s", path, err);
		free(text);
		return EXIT_REJECTED;
	}
	t = cJSON_ParseWithLength((const char *)text, len);
	free(text);
	if (order) {
		_cleanup_(order_freep) struct order doc = { 0 };
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(t, "message");
		const cJSON *pt = cJSON_GetObjectItemCaseSensitive(t, "primaryType");
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(m, "orderSha256");
		char hex[67] = "0x";

		r = load_order_doc(order, &doc);
		if (r < 0) {
			cJSON_Delete(t);
			return r == -EINVAL ? EXIT_USAGE : EXIT_REJECTED;
		}
		hex_encode(doc.sha256, 32, hex + 2);
		if (!cJSON_IsString(pt) || strcmp(pt->valuestring, "CvmOrder") ||
		    !cJSON_IsString(h) || strcasecmp(h->valuestring, hex)) {
			log_error("%s: not the typed data of the order %s", path, order);
			cJSON_Delete(t);
			return EXIT_REJECTED;
		}
	}
	cJSON_Delete(t);
	if (signer && memcmp(who, want, ETH_ADDRESS_LEN)) {
		char s1[43];

		eth_address_checksum(who, s1);
		log_error("%s: signed by %s, not by %s", path, s1, signer);
		return EXIT_REJECTED;
	}
	out = cJSON_CreateObject();
	add_address(out, "signer", who);
	add_hex(out, "digest", digest, 32);
	return print_json(out);
}

int market_order_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CHAIN_LONGOPTS,
		{ "compute", required_argument, NULL, 'c' },
		{ "input", required_argument, NULL, 'i' },
		{ "hours", required_argument, NULL, 'H' },
		{ "expires-in", required_argument, NULL, 'e' },
		{ "output", required_argument, NULL, 'o' },
		{ "signature", required_argument, NULL, 's' },
		{ "order", required_argument, NULL, 'O' },
		{ "signer", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *verb = argv[0], *output = NULL, *signature = NULL, *order = NULL;
	const char *signer = NULL;
	struct chain_opts co;
	uint64_t compute = 0, inputs[MARKET_MAX_INPUTS], hours = 1, expires = 0, id;
	size_t ninputs = 0;
	struct eth_receipt rcpt = { 0 };
	struct market_order o;
	struct chain c;
	const char *fn;
	cJSON *out;
	int ch, r;

	chain_opts_init(&co);
	optind = 1;
	while ((ch = chain_getopt(argc, argv, "ho:", longopts, &co)) != -1) {
		if (ch == CHAIN_GETOPT_ERROR)
			return EXIT_USAGE;
		if (ch == 'o') {
			output = optarg;
		} else if (ch == 's') {
			signature = optarg;
		} else if (ch == 'O') {
			order = optarg;
		} else if (ch == 'S') {
			signer = optarg;
		} else if (ch == 'c') {
			if (parse_chain_id_arg("--compute", optarg, &compute) < 0)
				return EXIT_USAGE;
		} else if (ch == 'i') {
			if (parse_ids_arg("--input", optarg, inputs, ARRAY_SIZE(inputs), &ninputs) <
			    0)
				return EXIT_USAGE;
		} else if (ch == 'H' || ch == 'e') {
			if (parse_chain_id_arg(ch == 'H' ? "--hours" : "--expires-in", optarg,
					       ch == 'H' ? &hours : &expires) < 0)
				return EXIT_USAGE;
			if (ch == 'H' && hours > UINT32_MAX) {
				log_error("--hours: at most %u", UINT32_MAX);
				return EXIT_USAGE;
			}
			if (ch == 'e' && expires > 10ull * 365 * 86400) {
				log_error("--expires-in: at most ten years");
				return EXIT_USAGE;
			}
		} else if (ch == 'h') {
			order_chain_usage(stdout);
			return EXIT_OK;
		} else {
			log_error("see 'cvm order --help'");
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		log_error("expected %s; see 'cvm order --help'",
			  !strcmp(verb, "place") || !strcmp(verb, "typed-data")
				  ? "one signed order file"
			  : !strcmp(verb, "check-typed") ? "one typed data file"
							 : "one order id");
		return EXIT_USAGE;
	}
	if (!strcmp(verb, "typed-data")) {
		if (!compute || !ninputs || !co.chain_id || !co.contract || !output) {
			log_error("--compute, --input, --chain-id, --contract and -o are required");
			return EXIT_USAGE;
		}
		return order_typed_data(&co, argv[optind], compute, inputs, ninputs,
					(uint32_t)hours, output);
	}
	if (!strcmp(verb, "check-typed")) {
		if (!signature) {
			log_error("--signature HEX is required");
			return EXIT_USAGE;
		}
		return order_check_typed(argv[optind], signature, order, signer);
	}
	if (!strcmp(verb, "place")) {
		if (!compute || !ninputs) {
			log_error("--compute ID and at least one --input ID are required");
			return EXIT_USAGE;
		}
		return order_place(&co, argv[optind], compute, inputs, ninputs, (uint32_t)hours,
				   expires);
	}
	if (parse_chain_id_arg("order id", argv[optind], &id) < 0)
		return EXIT_USAGE;
	fn = !strcmp(verb, "confirm")  ? MARKET_CONFIRM
	     : !strcmp(verb, "refund") ? MARKET_REFUND
	     : !strcmp(verb, "settle") ? MARKET_SETTLE
				       : NULL;
	if (!fn && strcmp(verb, "status")) {
		log_error("unknown command 'cvm order %s'; see 'cvm order --help'", verb);
		return EXIT_USAGE;
	}
	r = chain_open(&c, &co, CHAIN_OPT_NEED_CONTRACT | (fn ? CHAIN_OPT_NEED_KEY : 0));
	if (r < 0)
		return exit_of(r);
	if (fn) {
		struct abi_value arg = { 0 };

		abi_word_uint64(id, arg.word);
		r = chain_send_call(&c, NULL, fn, &arg, 1, &rcpt);
		if (r < 0) {
			chain_close(&c);
			return exit_of(r);
		}
	}
	r = market_order_get(&c, id, &o);
	chain_close(&c);
	if (r < 0) {
		eth_receipt_free(&rcpt);
		return exit_of(r);
	}
	if (o.state == 0) {
		log_error("order %llu: no such order", (unsigned long long)id);
		return EXIT_REJECTED;
	}
	out = order_json(id, &o);
	if (fn)
		add_receipt(out, &rcpt);
	eth_receipt_free(&rcpt);
	return print_json(out);
}
