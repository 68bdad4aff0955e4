// SPDX-License-Identifier: Apache-2.0
/*
 * cvm provider watch: the provider's daemon. It reads the Market contract's
 * OrderPlaced events for its address, block by block once they are deep
 * enough, and for each order: checks the signed document the customer sent
 * against the chain, accepts it, runs it with 'cvm run', and posts the
 * digests of the sealed result and its evidence. Its state directory
 * makes it safe to stop and start again: the last block it finished is
 * kept (with that block's hash, so that a reorganisation is seen), and each
 * order's run keeps its result, so that no order runs twice, even when a
 * reorganisation drops it and the customer places it again (docs/chain.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "host/cvm.h"
#include "host/market.h"
#include "measurement/order.h"

#define WATCH_RANGE 1000  /* blocks per eth_getLogs */
#define WATCH_REWIND 64	  /* blocks scanned again when the chain reorganised */
#define WATCH_WAITING 256 /* orders looked at each round: no document yet, or a retry */
#define WATCH_PATH 4096

struct watch {
	struct chain c;
	const char *orders, *state, *images, *platform, *limits, *qemu, *output_size, *vtpm;
	uint64_t offers[64];
	size_t noffers;
	long poll_ms;
	bool once;
	/* the state file */
	uint64_t next_block, last_block;
	uint8_t last_hash[32];
	bool have_last;
	uint64_t waiting[WATCH_WAITING];
	size_t nwaiting;
	/* retries back off: a failed order is next looked at in round retry_round (memory only) */
	unsigned tries[WATCH_WAITING];
	uint64_t retry_round[WATCH_WAITING], round;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fputs("Usage: cvm provider watch --rpc URL --contract ADDRESS --key KEY\n"
	      "                          --orders DIR --state DIR [options]\n"
	      "       cvm provider accept ID [chain options]\n"
	      "       cvm provider post ID --result BUNDLE [chain options]\n"
	      "\n"
	      "accept and post do by hand what the daemon does: accept an order, and post\n"
	      "the SHA-256 of a sealed result and of its evidence.\n"
	      "\n"
	      "The provider's daemon (docs/chain.md). It follows the Market contract's\n"
	      "OrderPlaced events for the key's address, each once its block is\n"
	      "--confirmations deep (default 2), and for each order:\n"
	      "  - finds the signed order the customer sent, DIR/<order_sha256>.json (an\n"
	      "    order whose document has not come yet is looked for again on each\n"
	      "    round until its deadline);\n"
	      "  - checks it against the chain: its digest, its customer (the paying\n"
	      "    address), its inputs against the input offers, its image against the\n"
	      "    compute offer's manifest, and that the compute offer is the key's;\n"
	      "  - accepts it, runs it with 'cvm run' (work directory STATE/orders/<id>-\n"
	      "    <first 16 hex digits of order_sha256>/run), and posts the SHA-256 of the\n"
	      "    sealed result and of its evidence.\n"
	      "STATE keeps the last block done and its hash: a restart resumes there, and\n"
	      "a block whose hash changed (a reorganisation) is scanned again. A result\n"
	      "kept in an order's work directory is posted, never made again.\n"
	      "\n"
	      "  --orders DIR          where customers' signed orders arrive\n"
	      "  --state DIR           the daemon's state (made if missing)\n"
	      "  --offer ID[,ID...]    only orders of these compute offers (default: any\n"
	      "                        of the key's)\n"
	      "  --from-block N        where a new state starts (default the head)\n"
	      "  --poll-ms N           between rounds (default 2000)\n"
	      "  --once                one round, then exit\n"
	      "  --images DIR, --platform P, --limits FILE, --qemu PATH,\n"
	      "  --output-size BYTES, --test-vtpm-state DIR\n"
	      "                        passed to 'cvm run'\n",
	      f);
	chain_opts_help(f, true, true);
	fputs("\nExit status: 0 stopped (SIGINT, SIGTERM, or --once done), 2 usage or a\n"
	      "state that is not this chain's, 3 the node (at start; later rounds retry).\n",
	      f);
}

/* ---- the state file ---- */

static int state_path(const struct watch *w, const char *name, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/%s", w->state, name) >= cap) {
		log_error("--state: path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

static int quantity_of(const cJSON *j, const char *name, uint64_t *v)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, name);

	if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 9007199254740991.0)
		return -EBADMSG;
	*v = (uint64_t)x->valuedouble;
	return 0;
}

/* Loads STATE/watch.json; 1 when there is none yet. It must be of this chain, contract and key. */
static int state_load(struct watch *w)
{
	char path[WATCH_PATH], addr[43];
	uint8_t *text = NULL;
	size_t len;
	cJSON *j, *x;
	uint64_t chain_id;
	int r;

	if (state_path(w, "watch.json", path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	r = file_read(path, 1 << 20, &text, &len);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return log_error_errno(r, "%s", path);
	j = cJSON_ParseWithLength((const char *)text, len);
	free(text);
	r = -EBADMSG;
	if (!j || quantity_of(j, "chain_id", &chain_id) < 0 ||
	    quantity_of(j, "next_block", &w->next_block) < 0)
		goto bad;
	if (chain_id != w->c.chain_id) {
		log_error("%s: the state of chain %llu, not of the node's %llu", path,
			  (unsigned long long)chain_id, (unsigned long long)w->c.chain_id);
		goto out;
	}
	eth_address_checksum(w->c.contract, addr);
	x = cJSON_GetObjectItemCaseSensitive(j, "contract");
	if (!cJSON_IsString(x) || strcasecmp(x->valuestring, addr)) {
		log_error("%s: the state of another contract", path);
		goto out;
	}
	eth_address_checksum(w->c.from, addr);
	x = cJSON_GetObjectItemCaseSensitive(j, "provider");
	if (!cJSON_IsString(x) || strcasecmp(x->valuestring, addr)) {
		log_error("%s: the state of another provider's key", path);
		goto out;
	}
	x = cJSON_GetObjectItemCaseSensitive(j, "last_hash");
	if (x) {
		if (!cJSON_IsString(x) || strlen(x->valuestring) != 66 ||
		    hex_decode_exact(x->valuestring + 2, w->last_hash, 32) < 0 ||
		    quantity_of(j, "last_block", &w->last_block) < 0)
			goto bad;
		w->have_last = true;
	}
	x = cJSON_GetObjectItemCaseSensitive(j, "waiting");
	if (x) {
		const cJSON *e;

		if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) > WATCH_WAITING)
			goto bad;
		cJSON_ArrayForEach(e, x) {
			if (!cJSON_IsNumber(e) || e->valuedouble < 1 ||
			    e->valuedouble > 9007199254740991.0)
				goto bad;
			w->waiting[w->nwaiting++] = (uint64_t)e->valuedouble;
		}
	}
	r = 0;
	goto out;
bad:
	log_error("%s: not a state file of cvm provider watch", path);
out:
	cJSON_Delete(j);
	return r;
}

static int state_save(const struct watch *w)
{
	char path[WATCH_PATH], addr[43], hex[67] = "0x", err[512];
	cJSON *j = cJSON_CreateObject(), *a;
	char *text;
	int r;

	if (state_path(w, "watch.json", path, sizeof(path)) < 0) {
		cJSON_Delete(j);
		return -ENAMETOOLONG;
	}
	cJSON_AddNumberToObject(j, "chain_id", (double)w->c.chain_id);
	eth_address_checksum(w->c.contract, addr);
	cJSON_AddStringToObject(j, "contract", addr);
	eth_address_checksum(w->c.from, addr);
	cJSON_AddStringToObject(j, "provider", addr);
	cJSON_AddNumberToObject(j, "next_block", (double)w->next_block);
	if (w->have_last) {
		cJSON_AddNumberToObject(j, "last_block", (double)w->last_block);
		hex_encode(w->last_hash, 32, hex + 2);
		cJSON_AddStringToObject(j, "last_hash", hex);
	}
	a = cJSON_AddArrayToObject(j, "waiting");
	for (size_t i = 0; i < w->nwaiting; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)w->waiting[i]));
	text = cJSON_Print(j);
	cJSON_Delete(j);
	if (!text)
		return -ENOMEM;
	r = file_write_atomic(path, text, strlen(text), err, sizeof(err));
	free(text);
	if (r < 0)
		log_error("%s", err);
	return r;
}

/* Keeps id to be looked at each round (its document, or a retry); true when it is new. */
static bool waiting_add(struct watch *w, uint64_t id)
{
	for (size_t i = 0; i < w->nwaiting; i++)
		if (w->waiting[i] == id)
			return false;
	if (w->nwaiting < WATCH_WAITING) {
		w->tries[w->nwaiting] = 0;
		w->retry_round[w->nwaiting] = 0;
		w->waiting[w->nwaiting++] = id;
	} else
		log_error("order %llu: more than %d orders wait for their document; not kept",
			  (unsigned long long)id, WATCH_WAITING);
	return true;
}

static void waiting_drop(struct watch *w, uint64_t id)
{
	for (size_t i = 0; i < w->nwaiting; i++)
		if (w->waiting[i] == id) {
			w->nwaiting--;
			w->waiting[i] = w->waiting[w->nwaiting];
			w->tries[i] = w->tries[w->nwaiting];
			w->retry_round[i] = w->retry_round[w->nwaiting];
			return;
		}
}

/* ---- one order ---- */

static int order_dir(const struct watch *w, uint64_t id, const uint8_t digest[32], const char *sub,
		     char *out, size_t cap)
{
	char hex[65];

	/* 16 hex digits of the digest: swtpm's socket in the run directory must fit sun_path */
	hex_encode(digest, 8, hex);
	if ((size_t)snprintf(out, cap, "%s/orders/%llu-%s%s%s", w->state, (unsigned long long)id,
			     hex, sub ? "/" : "", sub ? sub : "") >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static void note(uint64_t id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(uint64_t id, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: order %llu: ", log_prog(), (unsigned long long)id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * A transaction of an order failed (its reason logged): the order is
 * looked at again in later rounds, each time after twice as many (up to
 * 64), from the chain's state, until it moves on or its deadline passes;
 * the orders after it are not held up.
 */
static int retry_later(struct watch *w, uint64_t id)
{
	if (waiting_add(w, id))
		note(id, "tried again in later rounds");
	for (size_t i = 0; i < w->nwaiting; i++)
		if (w->waiting[i] == id) {
			/* 1, 2, 4 ... rounds later, at most 64 */
			w->retry_round[i] = w->round + (1u << (w->tries[i] < 6 ? w->tries[i] : 6));
			if (w->tries[i] < 6)
				w->tries[i]++;
		}
	return 0;
}

/* Marks an order refused for good: its directory says why, and it is not looked at again. */
static void refuse(const struct watch *w, uint64_t id, const uint8_t digest[32], const char *why)
{
	char path[WATCH_PATH], err[512];

	note(id, "refused: %s", why);
	if (order_dir(w, id, digest, "refused", path, sizeof(path)) == 0)
		file_write_atomic(path, why, strlen(why), err, sizeof(err));
}

/* Checks the customer's document against the chain; 0, 1 (no document yet), or -EKEYREJECTED. */
static int check_document(struct watch *w, uint64_t id, const struct market_order *mo,
			  const struct market_offer *compute, char *path, size_t cap, char *why,
			  size_t whylen)
{
	_cleanup_(order_freep) struct order doc = { 0 };
	char hex[65], mpath[WATCH_PATH], err[512];
	uint8_t *text = NULL, customer[ETH_ADDRESS_LEN], mf[32];
	size_t len;
	int r;

	hex_encode(mo->order_digest, 32, hex);
	if ((size_t)snprintf(path, cap, "%s/%s.json", w->orders, hex) >= cap)
		return set_error(why, whylen, -EKEYREJECTED, "--orders: path too long");
	r = file_read(path, ORDER_TEXT_MAX, &text, &len);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return set_error(why, whylen, -EKEYREJECTED, "%s: %s", path, strerror(-r));
	r = order_parse((const char *)text, len, NULL, &doc, err, sizeof(err));
	free(text);
	if (r < 0)
		return set_error(why, whylen, -EKEYREJECTED, "%s: %s", path, err);
	if (memcmp(doc.sha256, mo->order_digest, 32))
		return set_error(why, whylen, -EKEYREJECTED,
				 "%s: its digest is not the one on the chain", path);
	if (eth_address_from_pubkey(doc.customer_pub, sizeof(doc.customer_pub), customer) < 0 ||
	    memcmp(customer, mo->customer, ETH_ADDRESS_LEN))
		return set_error(why, whylen, -EKEYREJECTED,
				 "the order's customer_pubkey is not the address that paid");
	r = market_order_matches(&w->c, &doc, mo->inputs, mo->ninputs, err, sizeof(err));
	if (r == -EIO)
		return r;
	if (r < 0)
		return set_error(why, whylen, -EKEYREJECTED, "%s", err);
	if ((size_t)snprintf(mpath, sizeof(mpath), "%s/%s/manifest.json",
			     w->images ? w->images : "vm-images", doc.image) >= sizeof(mpath))
		return set_error(why, whylen, -EKEYREJECTED, "--images: path too long");
	if (market_manifest_sha256(mpath, mf, err, sizeof(err)) < 0)
		return set_error(why, whylen, -EKEYREJECTED, "image '%s': %s", doc.image, err);
	if (memcmp(mf, compute->digest, 32))
		return set_error(why, whylen, -EKEYREJECTED,
				 "image '%s' is not the compute offer's manifest", doc.image);
	if ((uint64_t)mo->hours * 3600 < doc.deadline_seconds)
		return set_error(why, whylen, -EKEYREJECTED,
				 "the order may run %llu s, and %u hours were paid for",
				 (unsigned long long)doc.deadline_seconds, mo->hours);
	(void)id;
	return 0;
}

/* Runs 'cvm run' for the order; 0 when a result is kept in the run directory. */
static int run_order(struct watch *w, uint64_t id, const char *doc, const char *rundir,
		     const char *summary)
{
	const char *argv[32];
	size_t n = 0;
	int status, fd;
	pid_t pid;

	argv[n++] = "cvm";
	argv[n++] = "run";
	argv[n++] = doc;
	argv[n++] = "--workdir";
	argv[n++] = rundir;
#define PASS(opt, v)                     \
	do {                             \
		if (v) {                 \
			argv[n++] = opt; \
			argv[n++] = v;   \
		}                        \
	} while (0)
	PASS("--images", w->images);
	PASS("--platform", w->platform);
	PASS("--limits", w->limits);
	PASS("--qemu", w->qemu);
	PASS("--output-size", w->output_size);
	PASS("--test-vtpm-state", w->vtpm);
#undef PASS
	argv[n] = NULL;
	note(id, "running it (cvm run, work directory %s)", rundir);
	fd = open(summary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "%s", summary);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fd);
		return log_error_errno(-errno, "fork");
	}
	if (pid == 0) {
		dup2(fd, STDOUT_FILENO);
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	close(fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return log_error_errno(-errno, "waitpid");
	if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3)) {
		note(id, "cvm run ended without a result (%s %d)",
		     WIFEXITED(status) ? "exit" : "signal",
		     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -ECANCELED;
	}
	return 0;
}

static bool our_offer(const struct watch *w, uint64_t compute)
{
	if (!w->noffers)
		return true;
	for (size_t i = 0; i < w->noffers; i++)
		if (w->offers[i] == compute)
			return true;
	return false;
}

/*
 * Brings one order as far as this provider can: the chain's state is the
 * truth, the order's directory only keeps what must not be done twice.
 * -EIO when the node failed (the round is tried again), else 0.
 */
static int handle_order(struct watch *w, uint64_t id)
{
	struct market_order mo;
	struct market_offer co;
	struct eth_receipt rcpt = { 0 };
	char dir[WATCH_PATH], doc[WATCH_PATH], rundir[WATCH_PATH], bundle[WATCH_PATH];
	char summary[WATCH_PATH], why[512], err[512];
	struct abi_value args[3] = { 0 };
	uint8_t result[32], evidence[32];
	struct stat st;
	int r;

	if (market_order_get(&w->c, id, &mo) < 0)
		return -EIO;
	if (mo.state == 0) {
		note(id, "not on the chain (reorganised away?)");
		waiting_drop(w, id);
		return 0;
	}
	if (mo.state != MARKET_PLACED && mo.state != MARKET_ACCEPTED) {
		waiting_drop(w, id);
		return 0;
	}
	if (market_offer_get(&w->c, mo.compute, &co) < 0)
		return -EIO;
	if (memcmp(co.owner, w->c.from, ETH_ADDRESS_LEN) || !our_offer(w, mo.compute)) {
		waiting_drop(w, id);
		return 0;
	}
	if (order_dir(w, id, mo.order_digest, NULL, dir, sizeof(dir)) < 0 ||
	    order_dir(w, id, mo.order_digest, "refused", why, sizeof(why)) < 0 ||
	    order_dir(w, id, mo.order_digest, "run", rundir, sizeof(rundir)) < 0 ||
	    order_dir(w, id, mo.order_digest, "summary.json", summary, sizeof(summary)) < 0 ||
	    order_dir(w, id, mo.order_digest, "run/result.cvmr", bundle, sizeof(bundle)) < 0) {
		log_error("--state: path too long");
		return 0;
	}
	if (stat(why, &st) == 0) {
		waiting_drop(w, id);
		return 0;
	}
	if ((uint64_t)time(NULL) > mo.deadline) {
		note(id, "its deadline has passed");
		waiting_drop(w, id);
		return 0;
	}
	r = check_document(w, id, &mo, &co, doc, sizeof(doc), why, sizeof(why));
	if (r == -EIO)
		return r;
	if (r == 1) {
		if (waiting_add(w, id))
			note(id, "waiting for its signed order (%s)", doc);
		return 0;
	}
	waiting_drop(w, id);
	if (r < 0) {
		if (mkdir_p(dir, 0700) == 0)
			refuse(w, id, mo.order_digest, why);
		return 0;
	}
	r = mkdir_p(dir, 0700);
	if (r < 0) {
		log_error_errno(r, "%s", dir);
		return 0;
	}
	abi_word_uint64(id, args[0].word);
	if (mo.state == MARKET_PLACED) {
		note(id, "accepting it");
		if (chain_send_call(&w->c, NULL, MARKET_ACCEPT, args, 1, &rcpt) < 0)
			return retry_later(w, id);
		eth_receipt_free(&rcpt);
	}
	if (stat(bundle, &st) == 0) {
		note(id, "its result is kept from an earlier run: posting it, not running again");
	} else if (run_order(w, id, doc, rundir, summary) < 0) {
		refuse(w, id, mo.order_digest, "the run made no result");
		return 0;
	}
	if (market_result_digests(bundle, result, evidence, NULL, err, sizeof(err)) < 0) {
		refuse(w, id, mo.order_digest, err);
		return 0;
	}
	memcpy(args[1].word, result, 32);
	memcpy(args[2].word, evidence, 32);
	note(id, "posting its result");
	if (chain_send_call(&w->c, NULL, MARKET_POST_RESULT, args, 3, &rcpt) < 0)
		return retry_later(w, id);
	eth_receipt_free(&rcpt);
	note(id, "result posted");
	return 0;
}

/* ---- rounds ---- */

/* One round: the waiting orders, then the new deep-enough blocks. -EIO: the node failed. */
static int round_once(struct watch *w)
{
	uint8_t topic[32], hash[32];
	char err[512];
	uint64_t head, safe, to;
	bool found;
	int r;

	w->round++;
	for (size_t i = w->nwaiting; i > 0; i--)
		if (w->retry_round[i - 1] <= w->round && handle_order(w, w->waiting[i - 1]) < 0)
			return -EIO;
	if (eth_block_number(&w->c.rpc, &head, err, sizeof(err)) < 0)
		goto node;
	if (w->have_last) {
		if (w->last_block > head) {
			found = false;
		} else if (eth_get_block_hash(&w->c.rpc, w->last_block, hash, &found, err,
					      sizeof(err)) < 0) {
			goto node;
		}
		if (!found || memcmp(hash, w->last_hash, 32)) {
			uint64_t back =
				w->last_block > WATCH_REWIND ? w->last_block - WATCH_REWIND : 0;

			fprintf(stderr,
				"%s: block %llu is no longer the one done (a reorganisation): "
				"scanning again from block %llu\n",
				log_prog(), (unsigned long long)w->last_block,
				(unsigned long long)back);
			w->next_block = back;
			w->have_last = false;
		}
	}
	if (head + 1 < w->c.confirmations)
		return 0;
	safe = head + 1 - w->c.confirmations;
	if (w->next_block > safe)
		return 0;
	to = safe - w->next_block >= WATCH_RANGE ? w->next_block + WATCH_RANGE - 1 : safe;

	struct eth_log_filter f = { 0 };
	struct eth_log *logs = NULL;
	size_t nlogs = 0;

	memcpy(f.address, w->c.contract, ETH_ADDRESS_LEN);
	abi_event_topic(MARKET_EV_PLACED, topic);
	memcpy(f.topics[0], topic, 32);
	f.has_topic[0] = true;
	abi_word_address(w->c.from, f.topics[2]);
	f.has_topic[2] = true;
	f.from_block = w->next_block;
	/* more logs than one answer may hold: half the blocks, down to one */
	for (;;) {
		f.to_block = to;
		r = eth_get_logs(&w->c.rpc, &f, &logs, &nlogs, err, sizeof(err));
		if (r != -E2BIG || to == w->next_block)
			break;
		to = w->next_block + (to - w->next_block) / 2;
	}
	if (r < 0)
		goto node;
	r = 0;
	for (size_t i = 0; i < nlogs && r == 0 && !stop; i++) {
		uint64_t id;

		if (logs[i].removed || abi_word_to_uint64(logs[i].topics[1], &id) < 0)
			continue;
		r = handle_order(w, id);
	}
	eth_logs_free(logs, nlogs);
	if (r < 0 || stop)
		return r;
	if (eth_get_block_hash(&w->c.rpc, to, hash, &found, err, sizeof(err)) < 0)
		goto node;
	if (!found)
		return 0; /* gone since: the next round sees the reorganisation */
	w->next_block = to + 1;
	w->last_block = to;
	memcpy(w->last_hash, hash, 32);
	w->have_last = true;
	return state_save(w);
node:
	log_error("%s", err);
	return -EIO;
}

static int watch_run(struct watch *w)
{
	char path[WATCH_PATH];
	int r;

	r = mkdir_p(w->state, 0700);
	if (r < 0)
		return log_error_errno(r, "%s", w->state);
	if (state_path(w, "orders", path, sizeof(path)) < 0)
		return -EINVAL;
	r = mkdir_p(path, 0700);
	if (r < 0)
		return log_error_errno(r, "%s", path);
	r = state_load(w);
	if (r < 0)
		return r;
	if (r == 1 && !w->next_block) {
		char err[512];
		uint64_t head;

		if (eth_block_number(&w->c.rpc, &head, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return -EIO;
		}
		w->next_block = head;
	}
	fprintf(stderr, "%s: watching from block %llu\n", log_prog(),
		(unsigned long long)w->next_block);
	long pause = w->poll_ms;

	while (!stop) {
		r = round_once(w);
		if (w->once)
			return r < 0 ? -EIO : 0;
		/* the node failing: wait longer each time, up to a minute, then as before */
		pause = r < 0 ? (pause * 2 > 60000 ? 60000 : pause * 2) : w->poll_ms;
		if (!stop)
			usleep((useconds_t)pause * 1000);
	}
	return 0;
}

/* cvm provider accept | post: one transaction by hand. */
static int by_hand(const char *verb, int argc, char **argv)
{
	static const struct option longopts[] = {
		CHAIN_LONGOPTS,
		{ "result", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool post = !strcmp(verb, "post");
	struct abi_value args[3] = { 0 };
	struct eth_receipt rcpt = { 0 };
	const char *bundle = NULL;
	struct chain_opts co;
	struct chain c;
	char err[512], hex[65];
	uint64_t id;
	int ch, r;

	chain_opts_init(&co);
	optind = 1;
	while ((ch = chain_getopt(argc, argv, "h", longopts, &co)) != -1) {
		if (ch == CHAIN_GETOPT_ERROR)
			return EXIT_USAGE;
		if (ch == 'r' && post) {
			bundle = optarg;
		} else if (ch == 'h') {
			usage(stdout);
			return EXIT_OK;
		} else {
			log_error("see 'cvm provider --help'");
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || parse_chain_id_arg("order id", argv[optind], &id) < 0) {
		log_error("expected one order id; see 'cvm provider --help'");
		return EXIT_USAGE;
	}
	if (post && !bundle) {
		log_error("--result BUNDLE is required");
		return EXIT_USAGE;
	}
	abi_word_uint64(id, args[0].word);
	if (post &&
	    market_result_digests(bundle, args[1].word, args[2].word, NULL, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_REJECTED;
	}
	r = chain_open(&c, &co, CHAIN_OPT_NEED_KEY | CHAIN_OPT_NEED_CONTRACT);
	if (r < 0)
		return r == -EINVAL ? EXIT_USAGE : EXIT_CHAIN;
	r = chain_send_call(&c, NULL, post ? MARKET_POST_RESULT : MARKET_ACCEPT, args, post ? 3 : 1,
			    &rcpt);
	chain_close(&c);
	if (r < 0)
		return r == -EREMOTEIO || r == -EDQUOT ? EXIT_REJECTED
		       : r == -EINVAL		       ? EXIT_USAGE
						       : EXIT_CHAIN;
	hex_encode(rcpt.tx_hash, 32, hex);
	printf("{\"order\":%llu,\"tx\":\"0x%s\",\"block\":%llu}\n", (unsigned long long)id, hex,
	       (unsigned long long)rcpt.block_number);
	eth_receipt_free(&rcpt);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
}

int provider_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CHAIN_LONGOPTS,
		{ "orders", required_argument, NULL, 'O' },
		{ "state", required_argument, NULL, 'S' },
		{ "offer", required_argument, NULL, 'f' },
		{ "from-block", required_argument, NULL, 'b' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "once", no_argument, NULL, '1' },
		{ "images", required_argument, NULL, 'i' },
		{ "platform", required_argument, NULL, 'P' },
		{ "limits", required_argument, NULL, 'l' },
		{ "qemu", required_argument, NULL, 'q' },
		{ "output-size", required_argument, NULL, 'z' },
		{ "test-vtpm-state", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct watch w = { .poll_ms = 2000 };
	struct chain_opts co;
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t v;
	int ch, r;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "accept") || !strcmp(argv[1], "post"))
		return by_hand(argv[1], argc - 1, argv + 1);
	if (strcmp(argv[1], "watch")) {
		log_error("unknown command 'cvm provider %s'; see 'cvm provider --help'", argv[1]);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	chain_opts_init(&co);
	co.confirmations = 2;
	optind = 1;
	while ((ch = chain_getopt(argc, argv, "h", longopts, &co)) != -1) {
		if (ch == CHAIN_GETOPT_ERROR)
			return EXIT_USAGE;
		switch (ch) {
		case 'O':
			w.orders = optarg;
			break;
		case 'S':
			w.state = optarg;
			break;
		case 'f':
			if (parse_ids_arg("--offer", optarg, w.offers, ARRAY_SIZE(w.offers),
					  &w.noffers) < 0)
				return EXIT_USAGE;
			break;
		case 'b':
			if (!strcmp(optarg, "0")) {
				w.next_block = 0;
			} else if (parse_chain_id_arg("--from-block", optarg, &v) < 0) {
				return EXIT_USAGE;
			} else {
				w.next_block = v;
			}
			break;
		case 'p':
			if (parse_chain_id_arg("--poll-ms", optarg, &v) < 0 || v > 600000) {
				log_error("--poll-ms: 1 to 600000");
				return EXIT_USAGE;
			}
			w.poll_ms = (long)v;
			break;
		case '1':
			w.once = true;
			break;
		case 'i':
			w.images = optarg;
			break;
		case 'P':
			w.platform = optarg;
			break;
		case 'l':
			w.limits = optarg;
			break;
		case 'q':
			w.qemu = optarg;
			break;
		case 'z':
			w.output_size = optarg;
			break;
		case 'v':
			w.vtpm = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			log_error("see 'cvm provider --help'");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'; see 'cvm provider --help'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!w.orders || !w.state) {
		log_error("--orders DIR and --state DIR are required");
		return EXIT_USAGE;
	}
	r = chain_open(&w.c, &co, CHAIN_OPT_NEED_KEY | CHAIN_OPT_NEED_CONTRACT);
	if (r < 0)
		return r == -EINVAL ? EXIT_USAGE : EXIT_CHAIN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r = watch_run(&w);
	chain_close(&w.c);
	return r == -EIO ? EXIT_CHAIN : r < 0 ? EXIT_USAGE : EXIT_OK;
}
