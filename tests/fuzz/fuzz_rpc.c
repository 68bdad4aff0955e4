/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a node's answer. The bytes go through eth_rpc_parse_response
 * as the answer to request 1; whatever result it gives is read by every
 * reader: as a receipt of a fixed transaction, as logs against a fixed
 * filter, as a block, as a fee history, and (itself and each of its
 * members) as quantities and data. A refusal must be one line of printable
 * ASCII with a code of the contract; what is accepted must be what was
 * asked, and a quantity must be the one text that encodes its value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chain/chain.h"
#include "chain/rpc.h"
#include "lib/lib.h"

#define MEMBERS_MAX 64 /* members of the result read one by one */

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* A refusal: a reason in err, one line of printable ASCII, and a code a node can cause. */
static void check_refusal(int r, const char *err)
{
	if (r == 0)
		return;
	if (r != -EBADMSG && r != -ERANGE && r != -EMSGSIZE && r != -E2BIG && r != -ENOMEM)
		abort();
	if (strncmp(err, "rpc: ", 5) || !printable(err))
		abort();
}

/* A quantity read must print back as its text (digits in either case). */
static void quantities(const cJSON *v)
{
	char err[256] = "", hex[65], s[80];
	uint8_t w[32];
	uint64_t x;
	size_t i = 0;
	int r;

	r = rpc_quantity_u64(v, &x, "fuzz: u64", err, sizeof(err));
	check_refusal(r, err);
	if (r == 0) {
		snprintf(s, sizeof(s), "0x%llx", (unsigned long long)x);
		if (strcasecmp(s, v->valuestring) || strncmp(v->valuestring, "0x", 2))
			abort();
	}
	err[0] = 0;
	r = rpc_quantity_u256(v, w, "fuzz: u256", err, sizeof(err));
	check_refusal(r, err);
	if (r == 0) {
		hex_encode(w, 32, hex);
		while (i < 63 && hex[i] == '0')
			i++;
		snprintf(s, sizeof(s), "0x%s", hex + i);
		if (strcasecmp(s, v->valuestring) || strncmp(v->valuestring, "0x", 2))
			abort();
	}
}

static void data(const cJSON *v)
{
	char err[256] = "";
	uint8_t buf[64], *p = NULL;
	size_t len = 0, alen = 0;
	int r, ra;

	r = rpc_data(v, buf, sizeof(buf), &len, "fuzz: data", err, sizeof(err));
	check_refusal(r, err);
	if (r == 0 && len > sizeof(buf))
		abort();
	err[0] = 0;
	ra = rpc_data_alloc(v, &p, &alen, "fuzz: data", err, sizeof(err));
	check_refusal(ra, err);
	/* the bounded reader refuses only what is longer than its room */
	if (ra == 0 && (!p || 2 * alen + 2 != strlen(v->valuestring) ||
			(r == 0 && (alen != len || memcmp(p, buf, len))) ||
			(r < 0 && (r != -EMSGSIZE || alen <= sizeof(buf)))))
		abort();
	free(p);
	err[0] = 0;
	check_refusal(rpc_data_fixed(v, buf, 20, "fuzz: address", err, sizeof(err)), err);
	err[0] = 0;
	check_refusal(rpc_data_fixed(v, buf, 32, "fuzz: hash", err, sizeof(err)), err);
}

static void receipt(const cJSON *res)
{
	struct eth_receipt rc;
	uint8_t h[32];
	char err[512] = "";
	bool found;
	int r;

	memset(h, 0x11, 32);
	r = eth_receipt_parse(res, h, &rc, &found, err, sizeof(err));
	check_refusal(r, err);
	if (r < 0 && (found || rc.logs || rc.nlogs))
		abort();
	if (r == 0 && found) {
		if (memcmp(rc.tx_hash, h, 32) || rc.status > 1 || rc.nlogs > ETH_LOGS_MAX)
			abort();
		for (size_t i = 0; i < rc.nlogs; i++)
			if (memcmp(rc.logs[i].tx_hash, h, 32) || rc.logs[i].removed ||
			    rc.logs[i].ntopics > ETH_LOG_TOPICS_MAX ||
			    rc.logs[i].block_number != rc.block_number ||
			    (i && rc.logs[i].log_index <= rc.logs[i - 1].log_index))
				abort();
	}
	eth_receipt_free(&rc);
}

static void logs(const cJSON *res)
{
	struct eth_log_filter f = { .from_block = 1, .to_block = 0xffff };
	struct eth_log *l = NULL;
	char err[512] = "";
	size_t n = 0;
	int r;

	memset(f.address, 0x33, sizeof(f.address));
	memset(f.topics[0], 0x44, 32);
	f.has_topic[0] = true;
	memset(f.topics[2], 0x55, 32);
	f.has_topic[2] = true;
	r = eth_logs_parse(res, &f, &l, &n, err, sizeof(err));
	check_refusal(r, err);
	if (r < 0 && (l || n))
		abort();
	if (n > ETH_LOGS_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (memcmp(l[i].address, f.address, 20) || l[i].ntopics < 3 ||
		    l[i].ntopics > ETH_LOG_TOPICS_MAX || memcmp(l[i].topics[0], f.topics[0], 32) ||
		    memcmp(l[i].topics[2], f.topics[2], 32) || l[i].block_number < f.from_block ||
		    l[i].block_number > f.to_block || (l[i].data_len && !l[i].data))
			abort();
	eth_logs_free(l, n);
}

static void block_and_fees(const cJSON *res)
{
	struct eth_fee_history h;
	uint8_t hash[32];
	char err[512] = "";
	bool found;
	int r;

	r = eth_block_hash_parse(res, 16, hash, &found, err, sizeof(err));
	check_refusal(r, err);
	if (r < 0 && found)
		abort();
	err[0] = 0;
	r = eth_fee_history_parse(res, 4, &h, err, sizeof(err));
	check_refusal(r, err);
	if (r == 0 && h.nblocks > 4)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	cJSON *res = (cJSON *)1;
	const cJSON *m;
	char err[512] = "";
	size_t i = 0;
	int r;

	r = eth_rpc_parse_response((const char *)in, size, 1, &res, err, sizeof(err));
	if (r < 0) {
		if (res || !printable(err))
			abort();
		if (r == -EREMOTEIO ? strncmp(err, "rpc: node error ", 16)
				    : r != -EBADMSG && r != -ENOMEM)
			abort();
		if (r == -EREMOTEIO && strlen(err) > 16 + 20 + 2 + ETH_RPC_NODE_MESSAGE_MAX + 3)
			abort();
		return 0;
	}
	if (!res)
		abort();
	quantities(res);
	data(res);
	receipt(res);
	logs(res);
	block_and_fees(res);
	cJSON_ArrayForEach(m, res) {
		if (i++ == MEMBERS_MAX)
			break;
		quantities(m);
		data(m);
	}
	cJSON_Delete(res);
	return 0;
}
