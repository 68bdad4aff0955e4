/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain/rpc.c: the JSON-RPC client. The parser and the readers get good
 * and hostile answers, one rule a test; the transport meets a loopback
 * responder (a thread of this test that answers fixed bytes), a port with
 * nothing listening and one that never answers; with CVM_TEST_ANVIL_URL
 * set (tests/cli/test_chain_rpc.sh), a real node too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chain/chain.h"
#include "chain/rpc.h"
#include "chain/tx.h"
#include "lib/lib.h"

#define H32(b) "0x" b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b
#define H20(b) "0x" b b b b b b b b b b b b b b b b b b b b
#define TXH H32("11")
#define BLKH H32("22")
#define CONTRACT H20("33")
#define TOPIC0 H32("44")
#define TOPIC1 H32("55")

static void fill(uint8_t *p, uint8_t b, size_t n)
{
	memset(p, b, n);
}

/* Whether err is one line of printable ASCII. */
static bool printable(const char *err)
{
	for (; *err; err++)
		if ((unsigned char)*err < 0x20 || (unsigned char)*err >= 0x7f)
			return false;
	return true;
}

/* ---- the envelope ---- */

static int parse(const char *body, cJSON **res, char *err, size_t errlen)
{
	err[0] = 0;
	return eth_rpc_parse_response(body, strlen(body), 1, res, err, errlen);
}

/* body must be refused as not JSON-RPC, with why in the reason. */
static void expect_garbage(const char *body, size_t n, const char *why)
{
	cJSON *res = (cJSON *)1;
	char err[256] = "";

	assert_int_equal(eth_rpc_parse_response(body, n, 1, &res, err, sizeof(err)), -EBADMSG);
	assert_null(res);
	assert_non_null(strstr(err, "rpc: answer is not JSON-RPC 2.0 ("));
	if (!strstr(err, why))
		fail_msg("'%s' lacks '%s'", err, why);
	assert_true(printable(err));
}

static void expect_refused(const char *body, const char *why)
{
	expect_garbage(body, strlen(body), why);
}

static void test_response_result(void **state)
{
	cJSON *res = NULL;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x7a69\"}", &res, err,
			       sizeof(err)),
			 0);
	assert_true(cJSON_IsString(res));
	assert_string_equal(res->valuestring, "0x7a69");
	cJSON_Delete(res);
	/* a null result is a value (a receipt not yet mined), other members are ignored */
	assert_int_equal(parse(" {\"id\":1,\"result\":null,\"jsonrpc\":\"2.0\",\"x\":[1]}\n", &res,
			       err, sizeof(err)),
			 0);
	assert_true(cJSON_IsNull(res));
	cJSON_Delete(res);
}

static void test_response_wrong_id(void **state)
{
	(void)state;
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"0x1\"}", "another request");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":\"0x1\"}", "no numeric id");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":\"0x1\"}", "no numeric id");
	expect_refused("{\"jsonrpc\":\"2.0\",\"result\":\"0x1\"}", "no numeric id");
	expect_refused("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":\"0x1\"}", "another request");
}

static void test_response_no_jsonrpc(void **state)
{
	(void)state;
	expect_refused("{\"id\":1,\"result\":\"0x1\"}", "jsonrpc");
	expect_refused("{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":\"0x1\"}", "jsonrpc");
	expect_refused("{\"jsonrpc\":2.0,\"id\":1,\"result\":\"0x1\"}", "jsonrpc");
}

static void test_response_result_and_error(void **state)
{
	static const char both[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\","
				   "\"error\":{\"code\":1,\"message\":\"m\"}}";
	static const char neither[] = "{\"jsonrpc\":\"2.0\",\"id\":1}";

	(void)state;
	expect_refused(both, "both a result and an error");
	expect_refused(neither, "neither");
}

static void test_response_node_error(void **state)
{
	static const char body[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,"
		"\"message\":\"execution reverted: no\",\"data\":\"0x08c379a0\"}}";
	cJSON *res = (cJSON *)1;
	char err[256];

	(void)state;
	assert_int_equal(parse(body, &res, err, sizeof(err)), -EREMOTEIO);
	assert_null(res);
	assert_string_equal(err, "rpc: node error -32000: execution reverted: no");
}

static void test_response_error_escapes(void **state)
{
	/* ESC [2J clears a terminal; a newline would forge a log line; U+009B is a C1 CSI */
	static const char body[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":3,\"message\":"
		"\"bad\\u001b[2J\\nFAKE LOG\\r\\u0007\\u009b\xc3\xa9\\u007f\"}}";
	cJSON *res = NULL;
	char err[256];

	(void)state;
	assert_int_equal(parse(body, &res, err, sizeof(err)), -EREMOTEIO);
	assert_true(printable(err));
	assert_string_equal(err, "rpc: node error 3: bad?[2J?FAKE LOG???????");
}

static void test_response_error_long_message(void **state)
{
	char body[4096], err[1024];
	cJSON *res = NULL;
	int n;

	(void)state;
	n = snprintf(body, sizeof(body),
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,"
		     "\"message\":\"");
	memset(body + n, 'A', 3000);
	snprintf(body + n + 3000, sizeof(body) - (size_t)n - 3000, "\"}}");
	assert_int_equal(parse(body, &res, err, sizeof(err)), -EREMOTEIO);
	/* "rpc: node error -1: " and 200 bytes of the message, then "..." */
	assert_int_equal(strlen(err),
			 strlen("rpc: node error -1: ") + ETH_RPC_NODE_MESSAGE_MAX + 3);
	assert_non_null(strstr(err, "AAA..."));
}

static void test_response_error_malformed(void **state)
{
	static const char *const bodies[][2] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}", "not an object" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"m\"}}", "integer code" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5,\"message\":\"m\"}}",
		  "integer code" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"1\",\"message\":\"m\"}}",
		  "integer code" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1e300,\"message\":\"m\"}}",
		  "integer code" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}", "without a message" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,\"message\":7}}",
		  "without a message" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++)
		expect_refused(bodies[i][0], bodies[i][1]);
}

static void test_response_garbage(void **state)
{
	static const char *const bodies[][2] = {
		{ "<html>not a node</html>", "not JSON" },
		{ "", "not JSON" },
		{ "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"}]", "a batch" },
		{ "\"0x1\"", "not an object" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"} {}", "bytes after" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\",\"result\":\"0x2\"}",
		  "a duplicate member" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x12\\u0000zz\"}", "\\u0000" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1e999}", "out of range" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\xff\"}", "not UTF-8" },
	};
	static const char nul[] = "{\"jsonrpc\":\"2.0\",\0\"id\":1,\"result\":\"0x1\"}";
	char deep[400];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++)
		expect_refused(bodies[i][0], bodies[i][1]);
	expect_garbage(nul, sizeof(nul) - 1, "a NUL byte");
	/* 100 levels: past the 64 a node's answer may have */
	n += (size_t)snprintf(deep, sizeof(deep), "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":");
	for (int i = 0; i < 100; i++)
		deep[n++] = '[';
	for (int i = 0; i < 100; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	expect_garbage(deep, n, "nested too deep");
}

/* ---- quantities and data ---- */

static int u64_of(const char *json, uint64_t *v, char *err, size_t errlen)
{
	cJSON *j = cJSON_Parse(json);
	int r;

	assert_non_null(j);
	err[0] = 0;
	r = rpc_quantity_u64(j, v, "eth_chainId", err, errlen);
	cJSON_Delete(j);
	return r;
}

static int u256_of(const char *json, uint8_t v[32], char *err, size_t errlen)
{
	cJSON *j = cJSON_Parse(json);
	int r;

	assert_non_null(j);
	err[0] = 0;
	r = rpc_quantity_u256(j, v, "eth_getBalance", err, errlen);
	cJSON_Delete(j);
	return r;
}

/* json must be refused by both quantity readers with code and why. */
static void expect_not_quantity(const char *json, int code, const char *why)
{
	uint64_t v = 7;
	uint8_t w[32] = { 9 };
	char err[256];

	assert_int_equal(u64_of(json, &v, err, sizeof(err)), code);
	assert_int_equal(v, 7);
	if (!strstr(err, why))
		fail_msg("%s: '%s' lacks '%s'", json, err, why);
	if (code == -ERANGE)
		return; /* 17 digits are a uint256 */
	assert_int_equal(u256_of(json, w, err, sizeof(err)), code);
	assert_int_equal(w[0], 9);
	assert_non_null(strstr(err, why));
}

static void test_quantity_good(void **state)
{
	static const uint8_t ten_thousand_ether[32] = {
		[22] = 0x02, 0x1e, 0x19, 0xe0, 0xc9, 0xba, 0xb2, 0x40, 0x00, 0x00,
	};
	uint8_t w[32], max[32];
	uint64_t v;
	char err[256];

	(void)state;
	assert_int_equal(u64_of("\"0x0\"", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(u64_of("\"0x7a69\"", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 31337);
	assert_int_equal(u64_of("\"0xFF\"", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 255);
	assert_int_equal(u64_of("\"0xffffffffffffffff\"", &v, err, sizeof(err)), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(u256_of("\"0x21e19e0c9bab2400000\"", w, err, sizeof(err)), 0);
	assert_memory_equal(w, ten_thousand_ether, 32);
	assert_int_equal(u256_of("\"0x0\"", w, err, sizeof(err)), 0);
	assert_true(is_zero(w, 32));
	assert_int_equal(u256_of("\"0x1ff\"", w, err, sizeof(err)), 0);
	assert_int_equal(w[30], 1);
	assert_int_equal(w[31], 0xff);
	assert_int_equal(
		u256_of("\"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"", w,
			err, sizeof(err)),
		0);
	fill(max, 0xff, 32);
	assert_memory_equal(w, max, 32);
}

static void test_quantity_leading_zero(void **state)
{
	(void)state;
	expect_not_quantity("\"0x07a69\"", -EBADMSG, "not a quantity (a leading zero)");
	expect_not_quantity("\"0x00\"", -EBADMSG, "a leading zero");
}

static void test_quantity_upper_0x(void **state)
{
	(void)state;
	expect_not_quantity("\"0X1\"", -EBADMSG, "upper-case 0X");
}

static void test_quantity_empty(void **state)
{
	(void)state;
	expect_not_quantity("\"0x\"", -EBADMSG, "no digits after 0x");
	expect_not_quantity("\"\"", -EBADMSG, "no 0x");
	expect_not_quantity("\"7a69\"", -EBADMSG, "no 0x");
}

static void test_quantity_too_many_digits(void **state)
{
	uint8_t w[32];
	char err[256];

	(void)state;
	expect_not_quantity("\"0x10000000000000000\"", -ERANGE, "over 64 bits");
	/* 65 digits */
	assert_int_equal(
		u256_of("\"0x10000000000000000000000000000000000000000000000000000000000000000\"",
			w, err, sizeof(err)),
		-ERANGE);
	assert_string_equal(err, "rpc: eth_getBalance: a quantity over 256 bits");
}

static void test_quantity_json_number(void **state)
{
	uint64_t v;
	char err[256];

	(void)state;
	expect_not_quantity("31337", -EBADMSG, "not a quantity (a JSON number, not a string)");
	expect_not_quantity("true", -EBADMSG, "a boolean");
	expect_not_quantity("null", -EBADMSG, "null");
	expect_not_quantity("[\"0x1\"]", -EBADMSG, "an array");
	assert_int_equal(u64_of("31337", &v, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "rpc: eth_chainId: not a quantity (a JSON number, not a string)");
}

static void test_quantity_negative(void **state)
{
	(void)state;
	expect_not_quantity("\"-0x1\"", -EBADMSG, "a sign");
	expect_not_quantity("\"+0x1\"", -EBADMSG, "a sign");
	expect_not_quantity("-1", -EBADMSG, "a JSON number");
}

static void test_quantity_bad_digit(void **state)
{
	(void)state;
	expect_not_quantity("\"0xg\"", -EBADMSG, "no hex digit");
	expect_not_quantity("\"0x1 \"", -EBADMSG, "no hex digit");
	expect_not_quantity("\" 0x1\"", -EBADMSG, "no 0x");
	expect_not_quantity("\"0x1\\u00e9\"", -EBADMSG, "no hex digit");
}

static void test_quantity_missing(void **state)
{
	uint64_t v = 3;
	char err[256];

	(void)state;
	assert_int_equal(
		rpc_quantity_u64(NULL, &v, "eth_getTransactionReceipt: gasUsed", err, sizeof(err)),
		-EBADMSG);
	assert_string_equal(err, "rpc: eth_getTransactionReceipt: gasUsed: missing");
	assert_int_equal(v, 3);
}

/* rpc_data of json with room for cap bytes. */
static int data_of(const char *json, uint8_t *out, size_t cap, size_t *len, char *err,
		   size_t errlen)
{
	cJSON *j = cJSON_Parse(json);
	int r;

	assert_non_null(j);
	err[0] = 0;
	r = rpc_data(j, out, cap, len, "eth_call", err, errlen);
	cJSON_Delete(j);
	return r;
}

static void test_data(void **state)
{
	uint8_t out[8];
	size_t len = 99;
	char err[256];

	(void)state;
	assert_int_equal(data_of("\"0x\"", out, sizeof(out), &len, err, sizeof(err)), 0);
	assert_int_equal(len, 0);
	assert_int_equal(data_of("\"0x01aB\"", out, sizeof(out), &len, err, sizeof(err)), 0);
	assert_int_equal(len, 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 0xab);
	assert_int_equal(
		data_of("\"0x0102030405060708\"", out, sizeof(out), &len, err, sizeof(err)), 0);
	assert_int_equal(len, 8);
}

static void test_data_odd_length(void **state)
{
	uint8_t out[8];
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(data_of("\"0x123\"", out, sizeof(out), &len, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "rpc: eth_call: not data (an odd number of hex digits)");
	assert_int_equal(data_of("\"0x1\"", out, sizeof(out), &len, err, sizeof(err)), -EBADMSG);
}

static void test_data_refusals(void **state)
{
	static const char *const bad[][2] = {
		{ "\"0102\"", "no 0x" },	  { "\"0X0102\"", "no 0x" },
		{ "\"0x01zz\"", "no hex digit" }, { "258", "a JSON number, not a string" },
		{ "null", "null, not a string" }, { "\"0x01 2\"", "no hex digit" },
	};
	uint8_t out[8];
	size_t len;
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(data_of(bad[i][0], out, sizeof(out), &len, err, sizeof(err)),
				 -EBADMSG);
		if (!strstr(err, bad[i][1]))
			fail_msg("%s: '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
	}
}

static void test_data_oversized(void **state)
{
	uint8_t out[8];
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(
		data_of("\"0x010203040506070809\"", out, sizeof(out), &len, err, sizeof(err)),
		-EMSGSIZE);
	assert_string_equal(err, "rpc: eth_call: data of more than 8 bytes");
}

static void test_data_fixed_and_alloc(void **state)
{
	cJSON *a = cJSON_CreateString(CONTRACT), *h = cJSON_CreateString(TXH);
	cJSON *e = cJSON_CreateString("0x"), *long_str;
	uint8_t addr[20], hash[32], want[32], *p = NULL;
	char err[256], *big;
	size_t len;

	(void)state;
	assert_int_equal(rpc_data_fixed(a, addr, 20, "x: address", err, sizeof(err)), 0);
	fill(want, 0x33, 20);
	assert_memory_equal(addr, want, 20);
	assert_int_equal(rpc_data_fixed(h, hash, 32, "x: hash", err, sizeof(err)), 0);
	fill(want, 0x11, 32);
	assert_memory_equal(hash, want, 32);
	/* an address is not a hash, nor a hash an address */
	assert_int_equal(rpc_data_fixed(a, hash, 32, "x: hash", err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "rpc: x: hash: 20 bytes of data, not 32");
	assert_int_equal(rpc_data_fixed(h, addr, 20, "x: address", err, sizeof(err)), -EBADMSG);
	/* no bytes: still a buffer to free */
	assert_int_equal(rpc_data_alloc(e, &p, &len, "x", err, sizeof(err)), 0);
	assert_non_null(p);
	assert_int_equal(len, 0);
	free(p);
	assert_int_equal(rpc_data_alloc(h, &p, &len, "x", err, sizeof(err)), 0);
	assert_int_equal(len, 32);
	free(p);
	/* an extra-long string where a hash goes: refused by its length, not decoded */
	big = malloc(2 * 1024 * 1024 + 3);
	assert_non_null(big);
	memcpy(big, "0x", 2);
	memset(big + 2, 'a', 2 * 1024 * 1024);
	big[2 + 2 * 1024 * 1024] = 0;
	long_str = cJSON_CreateString(big);
	assert_int_equal(rpc_data_fixed(long_str, hash, 32, "x: hash", err, sizeof(err)), -EBADMSG);
	assert_int_equal(rpc_data_alloc(long_str, &p, &len, "x", err, sizeof(err)), 0);
	assert_int_equal(len, 1024 * 1024);
	free(p);
	free(big);
	cJSON_Delete(long_str);
	cJSON_Delete(a);
	cJSON_Delete(h);
	cJSON_Delete(e);
}

/* ---- receipts ---- */

#define LOG_JSON(addr, topics, data, block, index, tx, removed)                             \
	"{\"address\":\"" addr "\",\"topics\":[" topics "],\"data\":\"" data                \
	"\",\"blockNumber\":\"" block "\",\"logIndex\":\"" index "\",\"blockHash\":\"" BLKH \
	"\",\"transactionHash\":\"" tx "\",\"transactionIndex\":\"0x0\",\"removed\":" removed "}"

static const char receipt_json[] =
	"{\"transactionHash\":\"" TXH "\",\"blockHash\":\"" BLKH "\",\"blockNumber\":\"0x10\","
	"\"gasUsed\":\"0x5208\",\"status\":\"0x1\",\"effectiveGasPrice\":\"0x3b9aca00\","
	"\"contractAddress\":null,\"cumulativeGasUsed\":\"0x5208\",\"from\":\"" CONTRACT "\","
	"\"logs\":[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x0102", "0x10", "0x0", TXH,
			      "false") "," LOG_JSON(H20("66"), "", "0x", "0x10", "0x1", TXH,
						    "false") "]}";

static cJSON *receipt_with(const char *key, cJSON *v)
{
	cJSON *o = cJSON_Parse(receipt_json);

	assert_non_null(o);
	if (key && v)
		assert_true(cJSON_ReplaceItemInObjectCaseSensitive(o, key, v));
	else if (key)
		cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	return o;
}

/* The receipt with key replaced (v) or removed (NULL) must be refused with code and why. */
static void expect_receipt_refused(const char *key, cJSON *v, int code, const char *why)
{
	cJSON *o = receipt_with(key, v);
	struct eth_receipt rc;
	uint8_t h[32];
	char err[256] = "";
	bool found = true;

	fill(h, 0x11, 32);
	assert_int_equal(eth_receipt_parse(o, h, &rc, &found, err, sizeof(err)), code);
	assert_false(found);
	assert_null(rc.logs);
	if (!strstr(err, why))
		fail_msg("%s: '%s' lacks '%s'", key, err, why);
	cJSON_Delete(o);
}

static void test_receipt_good(void **state)
{
	cJSON *o = receipt_with(NULL, NULL);
	struct eth_receipt rc;
	uint8_t h[32], want[32] = { 0 };
	char err[256];
	bool found = false;

	(void)state;
	fill(h, 0x11, 32);
	assert_int_equal(eth_receipt_parse(o, h, &rc, &found, err, sizeof(err)), 0);
	assert_true(found);
	assert_memory_equal(rc.tx_hash, h, 32);
	assert_int_equal(rc.block_number, 16);
	assert_int_equal(rc.gas_used, 21000);
	assert_int_equal(rc.status, 1);
	want[28] = 0x3b, want[29] = 0x9a, want[30] = 0xca, want[31] = 0x00;
	assert_memory_equal(rc.effective_gas_price, want, 32);
	assert_false(rc.has_contract);
	assert_int_equal(rc.nlogs, 2);
	assert_int_equal(rc.logs[0].ntopics, 1);
	assert_int_equal(rc.logs[0].data_len, 2);
	assert_int_equal(rc.logs[0].data[1], 2);
	assert_int_equal(rc.logs[1].ntopics, 0);
	assert_int_equal(rc.logs[1].log_index, 1);
	assert_int_equal(rc.logs[1].address[0], 0x66);
	eth_receipt_free(&rc);
	assert_null(rc.logs);
	eth_receipt_free(&rc);
	/* a creation names its contract */
	cJSON_ReplaceItemInObjectCaseSensitive(o, "contractAddress", cJSON_CreateString(CONTRACT));
	assert_int_equal(eth_receipt_parse(o, h, &rc, &found, err, sizeof(err)), 0);
	assert_true(rc.has_contract);
	assert_int_equal(rc.contract_address[19], 0x33);
	eth_receipt_free(&rc);
	cJSON_Delete(o);
}

static void test_receipt_not_mined(void **state)
{
	cJSON *null = cJSON_CreateNull();
	struct eth_receipt rc;
	uint8_t h[32] = { 0 };
	char err[256];
	bool found = true;

	(void)state;
	assert_int_equal(eth_receipt_parse(null, h, &rc, &found, err, sizeof(err)), 0);
	assert_false(found);
	cJSON_Delete(null);
	null = cJSON_CreateString("0x0");
	assert_int_equal(eth_receipt_parse(null, h, &rc, &found, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "rpc: eth_getTransactionReceipt: a string, not a receipt object");
	cJSON_Delete(null);
}

static void test_receipt_of_another_tx(void **state)
{
	(void)state;
	expect_receipt_refused("transactionHash", cJSON_CreateString(H32("12")), -EBADMSG,
			       "the receipt of 0x1212");
}

static void test_receipt_field_types(void **state)
{
	cJSON *o = receipt_with("gasUsed", cJSON_CreateNumber(21000));
	struct eth_receipt rc;
	uint8_t h[32];
	char err[256];
	bool found;

	(void)state;
	fill(h, 0x11, 32);
	assert_int_equal(eth_receipt_parse(o, h, &rc, &found, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "rpc: eth_getTransactionReceipt: gasUsed: not a quantity (a JSON "
				 "number, not a string)");
	cJSON_Delete(o);
	expect_receipt_refused("status", NULL, -EBADMSG, "status: missing");
	expect_receipt_refused("status", cJSON_CreateString("0x2"), -EBADMSG,
			       "neither 0x0 nor 0x1");
	expect_receipt_refused("blockNumber", cJSON_CreateString("-0x10"), -EBADMSG,
			       "blockNumber: not a quantity");
	expect_receipt_refused("blockHash", cJSON_CreateString(H20("22")), -EBADMSG,
			       "blockHash: 20 bytes of data, not 32");
	expect_receipt_refused("effectiveGasPrice",
			       cJSON_CreateString("0x1000000000000000000000000000000000000000000000"
						  "0000000000000000000"),
			       -ERANGE, "effectiveGasPrice: a quantity over 256 bits");
	expect_receipt_refused("contractAddress", cJSON_CreateString("0x33"), -EBADMSG,
			       "contractAddress: 1 bytes of data");
	expect_receipt_refused("logs", NULL, -EBADMSG, "logs: missing");
	expect_receipt_refused("logs", cJSON_CreateObject(), -EBADMSG, "an object, not an array");
}

/* The receipt with its logs replaced by logs_json (an array's text) must be refused with why. */
static void expect_receipt_logs_refused(const char *logs_json, const char *why)
{
	cJSON *logs = cJSON_Parse(logs_json);

	assert_non_null(logs);
	expect_receipt_refused("logs", logs, -EBADMSG, why);
}

static void test_receipt_logs(void **state)
{
	(void)state;
	expect_receipt_logs_refused(
		"[" LOG_JSON(CONTRACT, "", "0x", "0x10", "0x0", H32("12"), "false") "]",
		"log 0: transactionHash: not the receipt's transaction");
	expect_receipt_logs_refused(
		"[" LOG_JSON(CONTRACT, "", "0x", "0x11", "0x0", TXH, "false") "]",
		"log 0: blockHash: not the receipt's block");
	expect_receipt_logs_refused(
		"[" LOG_JSON(CONTRACT, "", "0x", "0x10", "0x0", TXH, "true") "]",
		"log 0: removed: a log of a mined receipt cannot be removed");
	expect_receipt_logs_refused("[" LOG_JSON(CONTRACT, "", "0x", "0x10", "0x0", TXH,
						 "false") "," LOG_JSON(CONTRACT, "", "0x", "0x10",
								       "0x0", TXH, "false") "]",
				    "log 1: logIndex: not after the log before it");
	expect_receipt_logs_refused(
		"[" LOG_JSON(CONTRACT, "", "0x123", "0x10", "0x0", TXH, "false") "]",
		"log 0: data: not data (an odd number of hex digits)");
	expect_receipt_logs_refused("[" LOG_JSON(CONTRACT, "", "0x", "0x10", "0x0", TXH, "0") "]",
				    "log 0: removed: a JSON number, not a boolean");
	expect_receipt_logs_refused("[7]", "log 0: log: a JSON number, not an object");
}

/* ---- logs ---- */

static void filter_init(struct eth_log_filter *f)
{
	*f = (struct eth_log_filter){ .from_block = 0x10, .to_block = 0x20 };
	fill(f->address, 0x33, 20);
	fill(f->topics[0], 0x44, 32);
	f->has_topic[0] = true;
}

static int logs_of(const char *json, const struct eth_log_filter *f, struct eth_log **logs,
		   size_t *n, char *err, size_t errlen)
{
	cJSON *a = cJSON_Parse(json);
	int r;

	assert_non_null(a);
	err[0] = 0;
	r = eth_logs_parse(a, f, logs, n, err, errlen);
	cJSON_Delete(a);
	return r;
}

static void expect_logs_refused(const char *json, const struct eth_log_filter *f, int code,
				const char *why)
{
	struct eth_log *logs = (struct eth_log *)1;
	size_t n = 9;
	char err[512];

	assert_int_equal(logs_of(json, f, &logs, &n, err, sizeof(err)), code);
	assert_null(logs);
	assert_int_equal(n, 0);
	if (!strstr(err, why))
		fail_msg("'%s' lacks '%s'", err, why);
	assert_true(printable(err));
}

static void test_logs_good(void **state)
{
	struct eth_log_filter f;
	struct eth_log *logs = NULL;
	size_t n = 0;
	char err[256];

	(void)state;
	filter_init(&f);
	f.has_topic[2] = true;
	fill(f.topics[2], 0x55, 32);
	assert_int_equal(
		logs_of("[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\",null,\"" TOPIC1 "\"", "0x01", "0x10",
				     "0x3", TXH,
				     "false") "," LOG_JSON(CONTRACT,
							   "\"" TOPIC0 "\",\"" TOPIC0 "\",\"" TOPIC1
							   "\",\"" TOPIC1 "\"",
							   "0x", "0x20", "0x0", TXH, "false") "]",
			&f, &logs, &n, err, sizeof(err)),
		-EBADMSG); /* a topic may be null in a filter, never in a log */
	assert_non_null(strstr(err, "log 0: topics[1]: not data (null, not a string)"));
	assert_int_equal(
		logs_of("[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\",\"" TOPIC0 "\",\"" TOPIC1 "\"",
				     "0x01", "0x10", "0x3", TXH,
				     "false") "," LOG_JSON(CONTRACT,
							   "\"" TOPIC0 "\",\"" TOPIC0 "\",\"" TOPIC1
							   "\",\"" TOPIC1 "\"",
							   "0x", "0x20", "0x0", TXH, "false") "]",
			&f, &logs, &n, err, sizeof(err)),
		0);
	assert_int_equal(n, 2);
	assert_int_equal(logs[0].ntopics, 3);
	assert_int_equal(logs[0].log_index, 3);
	assert_int_equal(logs[0].data_len, 1);
	assert_int_equal(logs[1].ntopics, 4);
	assert_int_equal(logs[1].block_number, 0x20);
	assert_false(logs[1].removed);
	eth_logs_free(logs, n);
	/* none */
	assert_int_equal(logs_of("[]", &f, &logs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	eth_logs_free(logs, n);
}

static void test_logs_other_address(void **state)
{
	struct eth_log_filter f;

	(void)state;
	filter_init(&f);
	expect_logs_refused(
		"[" LOG_JSON(H20("66"), "\"" TOPIC0 "\"", "0x", "0x10", "0x0", TXH, "false") "]",
		&f, -EBADMSG,
		"rpc: eth_getLogs: log 0: address: a log of "
		"0x6666666666666666666666666666666666666666, not of the contract asked "
		"(0x3333333333333333333333333333333333333333)");
}

static void test_logs_topic_mismatch(void **state)
{
	struct eth_log_filter f;

	(void)state;
	filter_init(&f);
	expect_logs_refused(
		"[" LOG_JSON(CONTRACT, "\"" TOPIC1 "\"", "0x", "0x10", "0x0", TXH, "false") "]", &f,
		-EBADMSG, "log 0: topics: topic 0 is not the one asked");
	/* a topic asked that the log does not have */
	expect_logs_refused("[" LOG_JSON(CONTRACT, "", "0x", "0x10", "0x0", TXH, "false") "]", &f,
			    -EBADMSG, "topic 0 is not the one asked");
	f.has_topic[3] = true;
	expect_logs_refused(
		"[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x", "0x10", "0x0", TXH, "false") "]", &f,
		-EBADMSG, "topic 3 is not the one asked");
}

static void test_logs_five_topics(void **state)
{
	struct eth_log_filter f;

	(void)state;
	filter_init(&f);
	expect_logs_refused("[" LOG_JSON(CONTRACT,
					 "\"" TOPIC0 "\",\"" TOPIC0 "\",\"" TOPIC0 "\",\"" TOPIC0
					 "\",\"" TOPIC0 "\"",
					 "0x", "0x10", "0x0", TXH, "false") "]",
			    &f, -EBADMSG, "log 0: topics: more than 4 topics");
}

static void test_logs_removed(void **state)
{
	struct eth_log_filter f;
	struct eth_log *logs = NULL;
	size_t n = 0;
	char err[256];

	(void)state;
	filter_init(&f);
	/* kept and flagged: what to do with it is the caller's (cvm provider watch skips it) */
	assert_int_equal(logs_of("[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x", "0x10", "0x0", TXH,
					      "true") "]",
				 &f, &logs, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 1);
	assert_true(logs[0].removed);
	eth_logs_free(logs, n);
}

static void test_logs_outside_blocks_and_order(void **state)
{
	struct eth_log_filter f;

	(void)state;
	filter_init(&f);
	expect_logs_refused(
		"[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x", "0x21", "0x0", TXH, "false") "]", &f,
		-EBADMSG, "block 33, outside the blocks asked (16 to 32)");
	expect_logs_refused(
		"[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x", "0xf", "0x0", TXH, "false") "]", &f,
		-EBADMSG, "outside the blocks asked");
	/* the same log twice: a replay */
	expect_logs_refused("[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x", "0x11", "0x0", TXH,
					 "false") "," LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x",
							       "0x11", "0x0", TXH, "false") "]",
			    &f, -EBADMSG, "log 1: logIndex: not after the log before it");
	expect_logs_refused("[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x", "0x12", "0x0", TXH,
					 "false") "," LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x",
							       "0x11", "0x5", TXH, "false") "]",
			    &f, -EBADMSG, "not after the log before it");
}

static void test_logs_shapes(void **state)
{
	struct eth_log_filter f;

	(void)state;
	filter_init(&f);
	expect_logs_refused("{}", &f, -EBADMSG, "rpc: eth_getLogs: logs: an object, not an array");
	expect_logs_refused(
		"[" LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x123", "0x10", "0x0", TXH, "false") "]",
		&f, -EBADMSG, "log 0: data: not data (an odd number of hex digits)");
	expect_logs_refused("[{\"address\":\"" CONTRACT "\",\"topics\":[\"" TOPIC0 "\"]}]", &f,
			    -EBADMSG, "log 0: blockNumber: missing");
	expect_logs_refused("[{\"address\":\"" CONTRACT "\",\"topics\":\"" TOPIC0 "\"}]", &f,
			    -EBADMSG, "log 0: topics: not an array");
}

static void test_logs_too_many(void **state)
{
	static const char one[] =
		LOG_JSON(CONTRACT, "\"" TOPIC0 "\"", "0x", "0x10", "0x0", TXH, "false");
	size_t n = ETH_LOGS_MAX + 1, len = 0;
	struct eth_log_filter f;
	char *json = malloc(n * (sizeof(one) + 1) + 2);

	(void)state;
	assert_non_null(json);
	filter_init(&f);
	json[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		memcpy(json + len, one, sizeof(one) - 1);
		len += sizeof(one) - 1;
		json[len++] = i + 1 < n ? ',' : ']';
	}
	json[len] = 0;
	expect_logs_refused(json, &f, -E2BIG, "more than 10000 logs (ask for fewer blocks)");
	free(json);
}

/* ---- blocks and fee history ---- */

static void test_block_hash(void **state)
{
	cJSON *b = cJSON_Parse("{\"number\":\"0x10\",\"hash\":\"" BLKH "\",\"timestamp\":\"0x1\"}");
	cJSON *null = cJSON_CreateNull();
	uint8_t h[32], want[32];
	char err[256];
	bool found = false;

	(void)state;
	assert_int_equal(eth_block_hash_parse(b, 16, h, &found, err, sizeof(err)), 0);
	assert_true(found);
	fill(want, 0x22, 32);
	assert_memory_equal(h, want, 32);
	/* the node answers another block than the one asked */
	assert_int_equal(eth_block_hash_parse(b, 17, h, &found, err, sizeof(err)), -EBADMSG);
	assert_false(found);
	assert_string_equal(err, "rpc: eth_getBlockByNumber: number: block 16, not the one asked "
				 "(17)");
	assert_int_equal(eth_block_hash_parse(null, 17, h, &found, err, sizeof(err)), 0);
	assert_false(found);
	cJSON_ReplaceItemInObjectCaseSensitive(b, "hash", cJSON_CreateNull());
	assert_int_equal(eth_block_hash_parse(b, 16, h, &found, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "rpc: eth_getBlockByNumber: hash: not data (null, not a string)");
	cJSON_Delete(b);
	cJSON_Delete(null);
}

static int fee_history_of(const char *json, unsigned blocks, struct eth_fee_history *h, char *err,
			  size_t errlen)
{
	cJSON *j = cJSON_Parse(json);
	int r;

	assert_non_null(j);
	err[0] = 0;
	r = eth_fee_history_parse(j, blocks, h, err, errlen);
	cJSON_Delete(j);
	return r;
}

static void test_fee_history(void **state)
{
	struct eth_fee_history h;
	char err[256];

	(void)state;
	assert_int_equal(fee_history_of("{\"oldestBlock\":\"0x10\",\"baseFeePerGas\":[\"0x7\","
					"\"0x8\",\"0x9\"],\"gasUsedRatio\":[0.5,0],\"reward\":"
					"[[\"0x1\"],[\"0x2\"]],\"baseFeePerBlobGas\":[\"0x1\"]}",
					4, &h, err, sizeof(err)),
			 0);
	assert_int_equal(h.oldest_block, 16);
	assert_int_equal(h.nblocks, 2);
	assert_int_equal(h.base_fee[2][31], 9);
	assert_int_equal(h.reward[1][31], 2);
	/* a chain of one block knows no history: the next base fee only */
	assert_int_equal(fee_history_of("{\"oldestBlock\":\"0x0\",\"baseFeePerGas\":[\"0x7\"],"
					"\"gasUsedRatio\":[],\"reward\":[]}",
					4, &h, err, sizeof(err)),
			 0);
	assert_int_equal(h.nblocks, 0);
	assert_int_equal(h.base_fee[0][31], 7);
	assert_int_equal(fee_history_of("{\"oldestBlock\":\"0x10\",\"baseFeePerGas\":[\"0x7\"],"
					"\"gasUsedRatio\":[0.5],\"reward\":[[\"0x1\"]]}",
					4, &h, err, sizeof(err)),
			 -EBADMSG);
	assert_string_equal(err, "rpc: eth_feeHistory: not 2 base fees and 1 rewards for 1 blocks");
	assert_int_equal(fee_history_of("{\"oldestBlock\":\"0x10\",\"baseFeePerGas\":[\"0x7\","
					"\"0x8\",\"0x9\"],\"gasUsedRatio\":[0.5,0.5],\"reward\":"
					"[[\"0x1\"],[\"0x2\"]]}",
					1, &h, err, sizeof(err)),
			 -E2BIG);
	assert_int_equal(fee_history_of("{\"oldestBlock\":\"0x10\",\"baseFeePerGas\":[\"0x7\","
					"\"0x8\"],\"gasUsedRatio\":[0.5],\"reward\":[[\"0x1\","
					"\"0x2\"]]}",
					4, &h, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "reward[0]: not an array of one reward"));
	assert_int_equal(
		fee_history_of("{\"oldestBlock\":\"0x10\",\"baseFeePerGas\":[\"0x7\","
			       "\"0x8\"],\"gasUsedRatio\":[\"0.5\"],\"reward\":[[\"0x1\"]]}",
			       4, &h, err, sizeof(err)),
		-EBADMSG);
	assert_int_equal(fee_history_of("{\"oldestBlock\":\"0x10\",\"baseFeePerGas\":[\"0x7\","
					"\"0x08\"],\"gasUsedRatio\":[0.5],\"reward\":[[\"0x1\"]]}",
					4, &h, err, sizeof(err)),
			 -EBADMSG);
	assert_string_equal(err, "rpc: eth_feeHistory: baseFeePerGas[1]: not a quantity (a leading "
				 "zero)");
	assert_int_equal(fee_history_of("{\"oldestBlock\":\"0xffffffffffffffff\",\"baseFeePerGas\":"
					"[\"0x7\",\"0x8\"],\"gasUsedRatio\":[0.5],\"reward\":"
					"[[\"0x1\"]]}",
					4, &h, err, sizeof(err)),
			 -ERANGE);
}

/* ---- the transport: a loopback responder ---- */

#define RESPONDER_MAX 8

/*
 * Answers each request it reads with the next of answers: a JSON body
 * (its "@ID@" made the request's id) in a 200 answer on a kept connection,
 * or, raw, the bytes as they are, then the connection closed.
 */
struct responder {
	int fd, port;
	bool raw;
	const char *answers[RESPONDER_MAX];
	size_t nanswers, served;
	char requests[RESPONDER_MAX][4096]; /* each written once, before its answer is sent */
	pthread_t thread;
};

/* Reads one HTTP request (headers and a Content-Length body): its length, 0 at EOF. */
static size_t read_request(int c, char *buf, size_t cap)
{
	size_t n = 0;
	char *end;
	long body;

	for (;;) {
		ssize_t k;

		buf[n] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (end) {
			char *cl = strcasestr(buf, "content-length:");

			body = cl ? strtol(cl + 15, NULL, 10) : 0;
			if (n >= (size_t)(end + 4 - buf) + (size_t)body)
				return n;
		}
		if (n + 1 >= cap)
			return n;
		k = read(c, buf + n, cap - 1 - n);
		if (k <= 0)
			return 0;
		n += (size_t)k;
	}
}

/* The JSON answer with the request's id in place of "@ID@". */
static void send_json(int c, const char *tmpl, const char *request)
{
	const char *idp = strstr(request, "\"id\":"), *at = strstr(tmpl, "@ID@");
	char body[8192], out[9000];
	unsigned long long id = idp ? strtoull(idp + 5, NULL, 10) : 0;
	int n;

	if (at)
		snprintf(body, sizeof(body), "%.*s%llu%s", (int)(at - tmpl), tmpl, id, at + 4);
	else
		snprintf(body, sizeof(body), "%s", tmpl);
	n = snprintf(out, sizeof(out),
		     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "\r\n%s",
		     strlen(body), body);
	/* no assert here: this is not cmocka's thread; a short write fails the client's side */
	(void)!send(c, out, (size_t)n, MSG_NOSIGNAL);
}

static void *responder_run(void *arg)
{
	struct responder *s = arg;
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	char req[16384];

	while (s->served < s->nanswers && poll(&p, 1, 10000) == 1) {
		int c = accept(s->fd, NULL, NULL);

		if (c < 0)
			break;
		while (s->served < s->nanswers && read_request(c, req, sizeof(req)) > 0) {
			const char *a = s->answers[s->served];

			snprintf(s->requests[s->served++], sizeof(s->requests[0]), "%.4000s", req);
			if (s->raw) {
				/* the client may hang up first (past its cap): no SIGPIPE */
				(void)!send(c, a, strlen(a), MSG_NOSIGNAL);
				break;
			}
			send_json(c, a, req);
		}
		close(c);
	}
	return NULL;
}

/* A socket of 127.0.0.1 on a port of the kernel's choice; listening when asked. */
static int loopback(bool listening, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	if (listening)
		assert_int_equal(listen(fd, 8), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void responder_start(struct responder *s, bool raw, const char *const *answers, size_t n)
{
	assert_true(n <= RESPONDER_MAX);
	*s = (struct responder){ .raw = raw, .nanswers = n };
	for (size_t i = 0; i < n; i++)
		s->answers[i] = answers[i];
	s->fd = loopback(true, &s->port);
	assert_int_equal(pthread_create(&s->thread, NULL, responder_run, s), 0);
}

static void responder_stop(struct responder *s)
{
	assert_int_equal(pthread_join(s->thread, NULL), 0);
	close(s->fd);
}

/* r set up for http://127.0.0.1:port (with path). */
static void rpc_at(struct eth_rpc *r, char *url, size_t cap, int port, const char *path)
{
	char err[256];

	snprintf(url, cap, "http://127.0.0.1:%d%s", port, path);
	assert_int_equal(eth_rpc_init(r, url, err, sizeof(err)), 0);
}

static void test_init_refuses(void **state)
{
	static const char *const bad[] = {
		"ftp://127.0.0.1/", "file:///etc/passwd", "http://", "127.0.0.1:8545", "",
		"http://[::1"
	};
	struct eth_rpc r;
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = 0;
		assert_int_equal(eth_rpc_init(&r, bad[i], err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "rpc: the node's URL"));
		eth_rpc_free(&r);
	}
	assert_int_equal(eth_rpc_init(&r, NULL, err, sizeof(err)), -EINVAL);
	/* what errors show of a URL: no path, no query, no user */
	assert_int_equal(eth_rpc_init(&r, "https://user:pw@node.example:8545/v3/SECRET?k=SECRET",
				      err, sizeof(err)),
			 0);
	assert_string_equal(r.shown, "https://node.example:8545/...");
	assert_int_equal(r.timeout_ms, ETH_RPC_TIMEOUT_MS);
	assert_int_equal(r.max_response, ETH_RPC_MAX_RESPONSE);
	eth_rpc_free(&r);
	eth_rpc_free(&r);
}

static void test_transport_answer(void **state)
{
	static const char *const answers[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"0x7a69\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"0x10\"}",
	};
	struct responder s;
	struct eth_rpc r;
	char url[128], err[256];
	uint64_t v = 0;

	(void)state;
	responder_start(&s, false, answers, ARRAY_SIZE(answers));
	rpc_at(&r, url, sizeof(url), s.port, "/");
	assert_int_equal(eth_chain_id(&r, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 31337);
	assert_non_null(strstr(s.requests[0], "POST / HTTP/1.1\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(s.requests[0],
			       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\","
			       "\"params\":[]}"));
	/* the next request: the next id, on the same connection */
	assert_int_equal(eth_block_number(&r, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 16);
	assert_non_null(strstr(s.requests[1], "\"id\":2,\"method\":\"eth_blockNumber\""));
	eth_rpc_free(&r);
	responder_stop(&s);
}

static void test_transport_refused(void **state)
{
	struct eth_rpc r;
	char url[128], err[256], want[128];
	uint64_t v;
	int port, fd = loopback(false, &port); /* bound, not listening: the port stays ours */

	(void)state;
	rpc_at(&r, url, sizeof(url), port, "/key/SECRET");
	assert_int_equal(eth_chain_id(&r, &v, err, sizeof(err)), -ECONNREFUSED);
	snprintf(want, sizeof(want), "rpc: http://127.0.0.1:%d/...: connection refused", port);
	assert_string_equal(err, want);
	eth_rpc_free(&r);
	close(fd);
}

static void test_transport_timeout(void **state)
{
	struct eth_rpc r;
	char url[128], err[256];
	int64_t t0;
	uint64_t v;
	int port, fd = loopback(true, &port); /* the kernel accepts; nobody answers */

	(void)state;
	rpc_at(&r, url, sizeof(url), port, "");
	r.timeout_ms = 300;
	t0 = mono_ms();
	assert_int_equal(eth_chain_id(&r, &v, err, sizeof(err)), -ETIMEDOUT);
	assert_true(mono_ms() - t0 < 3000);
	assert_string_equal(err, "rpc: eth_chainId: no answer within 300 ms");
	eth_rpc_free(&r);
	close(fd);
}

static void test_transport_oversized(void **state)
{
	static char with_length[6000], streamed[6000];
	const char *a1[] = { with_length }, *a2[] = { streamed };
	struct responder s;
	struct eth_rpc r;
	char url[128], err[256];
	uint64_t v;
	int n;

	(void)state;
	/* a Content-Length over the cap, then one without: the body stops at the cap */
	n = snprintf(with_length, sizeof(with_length),
		     "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
	memset(with_length + n, ' ', 5000);
	n = snprintf(streamed, sizeof(streamed), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
	memset(streamed + n, ' ', 5000);
	for (int i = 0; i < 2; i++) {
		responder_start(&s, true, i ? a2 : a1, 1);
		rpc_at(&r, url, sizeof(url), s.port, "");
		r.max_response = 1000;
		assert_int_equal(eth_chain_id(&r, &v, err, sizeof(err)), -EFBIG);
		assert_string_equal(err, "rpc: eth_chainId: answer larger than 1000 bytes");
		eth_rpc_free(&r);
		responder_stop(&s);
	}
}

/* One raw HTTP answer to eth_chainId must give code and err. */
static void expect_raw_answer(const char *answer, int code, const char *want)
{
	const char *a[] = { answer };
	struct responder s;
	struct eth_rpc r;
	char url[128], err[256];
	uint64_t v;

	responder_start(&s, true, a, 1);
	rpc_at(&r, url, sizeof(url), s.port, "");
	assert_int_equal(eth_chain_id(&r, &v, err, sizeof(err)), code);
	if (!strstr(err, want))
		fail_msg("'%s' lacks '%s'", err, want);
	eth_rpc_free(&r);
	responder_stop(&s);
}

static void test_transport_garbage(void **state)
{
	static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"0x1\"}";
	char a[256];

	(void)state;
	expect_raw_answer("HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\n<html>not a node</html>",
			  -EBADMSG, "rpc: eth_chainId: answer is not JSON-RPC 2.0 (not JSON)");
	expect_raw_answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", -EBADMSG,
			  "rpc: eth_chainId: answer is not JSON-RPC 2.0 (not JSON)");
	expect_raw_answer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", -EPROTO,
			  "rpc: eth_chainId: HTTP 503 from http://127.0.0.1:");
	expect_raw_answer("HTTP/1.1 301 Moved\r\nLocation: http://example.com/\r\n"
			  "Content-Length: 0\r\n\r\n",
			  -EPROTO, "HTTP 301");
	expect_raw_answer("not http at all\r\n\r\n", -EIO, "rpc: eth_chainId: http://127.0.0.1:");
	/* the answer to request 1 says it is 2's */
	snprintf(a, sizeof(a), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body),
		 body);
	expect_raw_answer(a, -EBADMSG, "(the answer to another request)");
}

static void test_transport_node_error(void **state)
{
	static const char *const answers[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"error\":{\"code\":-32601,\"message\":\"no "
		"such\\u001b[31m method\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"0x1\"}",
	};
	struct responder s;
	struct eth_rpc r;
	char url[128], err[256];
	uint8_t w[32];
	uint64_t v;

	(void)state;
	responder_start(&s, false, answers, ARRAY_SIZE(answers));
	rpc_at(&r, url, sizeof(url), s.port, "");
	assert_int_equal(eth_max_priority_fee(&r, w, err, sizeof(err)), -EREMOTEIO);
	assert_string_equal(
		err, "rpc: eth_maxPriorityFeePerGas: node error -32601: no such?[31m method");
	assert_true(r.node_error == -32601);
	assert_int_equal(eth_chain_id(&r, &v, err, sizeof(err)), 0);
	assert_true(r.node_error == 0);
	eth_rpc_free(&r);
	responder_stop(&s);
}

static void test_transport_lying_hash(void **state)
{
	static const char *const answers[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"" TXH "\"}",
	};
	static const uint8_t raw[] = { 0x02, 0xc0 };
	struct responder s;
	struct eth_rpc r;
	char url[128], err[512];
	uint8_t h[32] = { 0 };

	(void)state;
	responder_start(&s, false, answers, ARRAY_SIZE(answers));
	rpc_at(&r, url, sizeof(url), s.port, "");
	assert_int_equal(eth_send_raw_transaction(&r, raw, sizeof(raw), h, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "rpc: eth_sendRawTransaction: the node answers hash 0x1111"));
	assert_true(is_zero(h, 32));
	assert_non_null(strstr(s.requests[0], "\"params\":[\"0x02c0\"]"));
	eth_rpc_free(&r);
	responder_stop(&s);
}

static void test_transport_fee_fallback(void **state)
{
	/* the node has no eth_maxPriorityFeePerGas: the largest median reward of the history */
	static const char *const answers[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"oldestBlock\":\"0x1\","
		"\"baseFeePerGas\":[\"0x64\",\"0x64\",\"0xc8\"],\"gasUsedRatio\":[0.1,0.9],"
		"\"reward\":[[\"0x5\"],[\"0x3\"]]}}",
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"error\":{\"code\":-32601,\"message\":\"no\"}}",
	};
	struct responder s;
	struct eth_rpc r;
	struct eth_fees f;
	char url[128], err[256];

	(void)state;
	responder_start(&s, false, answers, ARRAY_SIZE(answers));
	rpc_at(&r, url, sizeof(url), s.port, "");
	assert_int_equal(eth_suggest_fees(&r, &f, err, sizeof(err)), 0);
	assert_true(is_zero(f.max_priority_fee_per_gas, 31));
	assert_int_equal(f.max_priority_fee_per_gas[31], 5);
	/* 2 * 200 + 5 */
	assert_true(is_zero(f.max_fee_per_gas, 30));
	assert_int_equal(f.max_fee_per_gas[30], 0x01);
	assert_int_equal(f.max_fee_per_gas[31], 0x95);
	eth_rpc_free(&r);
	responder_stop(&s);
}

static void test_transport_requests(void **state)
{
	static const char *const answers[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":[]}",
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"0x5208\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"0x5207\"}",
	};
	struct eth_log_filter f;
	struct eth_log *logs;
	struct responder s;
	struct eth_rpc r;
	uint8_t from[20], to[20], value[32] = { 0 };
	char url[128], err[256];
	uint64_t gas;
	size_t n;

	(void)state;
	responder_start(&s, false, answers, ARRAY_SIZE(answers));
	rpc_at(&r, url, sizeof(url), s.port, "");
	filter_init(&f);
	f.has_topic[2] = true;
	fill(f.topics[2], 0x55, 32);
	assert_int_equal(eth_get_logs(&r, &f, &logs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_non_null(strstr(s.requests[0], "\"params\":[{\"address\":\"" CONTRACT "\","
					      "\"fromBlock\":\"0x10\",\"toBlock\":\"0x20\","
					      "\"topics\":[\"" TOPIC0 "\",null,\"" TOPIC1 "\"]}]"));
	fill(from, 0xaa, 20);
	fill(to, 0xbb, 20);
	value[30] = 1;
	assert_int_equal(eth_estimate_gas(&r, from, to, value, (const uint8_t *)"\x01\x02", 2, &gas,
					  err, sizeof(err)),
			 0);
	assert_int_equal(gas, 21000);
	assert_non_null(strstr(s.requests[1],
			       "\"params\":[{\"from\":\"" H20("aa") "\",\"to\":\"" H20(
				       "bb") "\",\"value\":\"0x100\",\"data\":\"0x0102\"}]"));
	/* less gas than any transaction takes */
	assert_int_equal(eth_estimate_gas(&r, from, NULL, NULL, (const uint8_t *)"\x01", 1, &gas,
					  err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(s.requests[2], "[{\"from\":\"" H20("aa") "\",\"value\":\"0x0\","
									"\"data\":\"0x01\"}]"));
	/* what is the caller's to get right is refused before anything is sent */
	f.from_block = 0x21;
	assert_int_equal(eth_get_logs(&r, &f, &logs, &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(eth_get_balance(&r, from, "newest", value, err, sizeof(err)), -EINVAL);
	assert_int_equal(eth_get_balance(&r, from, "0x01", value, err, sizeof(err)), -EINVAL);
	assert_int_equal(eth_rpc_call(&r, "eth_x\"", cJSON_CreateArray(), &(cJSON *){ NULL }, err,
				      sizeof(err)),
			 -EINVAL);
	assert_int_equal(eth_rpc_call(&r, "eth_x", NULL, &(cJSON *){ NULL }, err, sizeof(err)),
			 -ENOMEM);
	assert_int_equal(eth_rpc_call(&r, "eth_x", cJSON_CreateObject(), &(cJSON *){ NULL }, err,
				      sizeof(err)),
			 -EINVAL);
	eth_rpc_free(&r);
	responder_stop(&s);
}

/* ---- a real node (anvil), when the command-line test gives one ---- */

/* anvil's first development account (its default mnemonic) and its key */
static const char anvil_addr[] = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
static const char anvil_key_hex[] =
	"ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

static bool anvil(struct eth_rpc *r)
{
	const char *url = getenv("CVM_TEST_ANVIL_URL");
	char err[256];

	if (!url || !url[0])
		return false;
	if (eth_rpc_init(r, url, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return true;
}

/* A call that must succeed. */
#define OK(call)                                        \
	do {                                            \
		err[0] = 0;                             \
		if ((call) < 0)                         \
			fail_msg("%s: %s", #call, err); \
	} while (0)

/* A uint256 that fits 64 bits. */
static uint64_t small(const uint8_t v[32])
{
	uint64_t x = 0;

	assert_true(is_zero(v, 24));
	for (int i = 24; i < 32; i++)
		x = x << 8 | v[i];
	return x;
}

static void test_anvil_chain(void **state)
{
	struct eth_fee_history h;
	struct eth_fees f;
	struct eth_rpc r;
	uint8_t w[32], prio[32];
	uint64_t id, n;
	char err[256];
	cJSON *res = NULL;

	(void)state;
	if (!anvil(&r))
		skip();
	OK(eth_chain_id(&r, &id, err, sizeof(err)));
	assert_int_equal(id, 31337);
	OK(eth_block_number(&r, &n, err, sizeof(err)));
	OK(eth_gas_price(&r, w, err, sizeof(err)));
	assert_false(is_zero(w, 32));
	OK(eth_max_priority_fee(&r, prio, err, sizeof(err)));
	assert_false(is_zero(prio, 32));
	OK(eth_fee_history(&r, 4, "latest", 50, &h, err, sizeof(err)));
	assert_true(h.nblocks >= 1 && h.nblocks <= 4);
	assert_int_equal(h.oldest_block + h.nblocks - 1, n);
	OK(eth_suggest_fees(&r, &f, err, sizeof(err)));
	/* fees move only with blocks: none was made in between */
	assert_memory_equal(f.max_priority_fee_per_gas, prio, 32);
	assert_true(small(f.max_fee_per_gas) ==
		    2 * small(h.base_fee[h.nblocks]) + small(f.max_priority_fee_per_gas));
	/* an unknown method: the node's error, and its code */
	assert_int_equal(
		eth_rpc_call(&r, "cvm_noSuchMethod", cJSON_CreateArray(), &res, err, sizeof(err)),
		-EREMOTEIO);
	assert_true(r.node_error == -32601);
	assert_true(printable(err));
	eth_rpc_free(&r);
}

static void test_anvil_balance_and_nonce(void **state)
{
	static const uint8_t ten_thousand_ether[32] = {
		[22] = 0x02, 0x1e, 0x19, 0xe0, 0xc9, 0xba, 0xb2, 0x40, 0x00, 0x00,
	};
	struct eth_rpc r;
	uint8_t addr[20], w[32];
	uint64_t latest, pending;
	char err[256];

	(void)state;
	if (!anvil(&r))
		skip();
	assert_int_equal(eth_address_parse(anvil_addr, addr), 0);
	OK(eth_get_transaction_count(&r, addr, "latest", &latest, err, sizeof(err)));
	OK(eth_get_transaction_count(&r, addr, "pending", &pending, err, sizeof(err)));
	assert_true(pending >= latest);
	OK(eth_get_balance(&r, addr, "latest", w, err, sizeof(err)));
	/* a fresh node: the account has spent nothing yet */
	if (latest == 0)
		assert_memory_equal(w, ten_thousand_ether, 32);
	else
		assert_true(memcmp(w, ten_thousand_ether, 32) < 0);
	OK(eth_get_balance(&r, addr, "0x0", w, err, sizeof(err)));
	assert_memory_equal(w, ten_thousand_ether, 32);
	eth_rpc_free(&r);
}

static void test_anvil_snapshot_revert_mine(void **state)
{
	struct eth_rpc r;
	uint64_t snap, n0, n;
	uint8_t h0[32], h[32];
	char err[256];
	bool found;

	(void)state;
	if (!anvil(&r))
		skip();
	OK(eth_block_number(&r, &n0, err, sizeof(err)));
	OK(eth_get_block_hash(&r, n0, h0, &found, err, sizeof(err)));
	assert_true(found);
	OK(eth_rpc_snapshot(&r, &snap, err, sizeof(err)));
	OK(eth_rpc_mine(&r, err, sizeof(err)));
	OK(eth_rpc_increase_time(&r, 3600, err, sizeof(err)));
	OK(eth_rpc_mine(&r, err, sizeof(err)));
	OK(eth_block_number(&r, &n, err, sizeof(err)));
	assert_int_equal(n, n0 + 2);
	OK(eth_get_block_hash(&r, n0 + 2, h, &found, err, sizeof(err)));
	assert_true(found);
	OK(eth_rpc_revert(&r, snap, err, sizeof(err)));
	OK(eth_block_number(&r, &n, err, sizeof(err)));
	assert_int_equal(n, n0);
	OK(eth_get_block_hash(&r, n0, h, &found, err, sizeof(err)));
	assert_memory_equal(h, h0, 32);
	OK(eth_get_block_hash(&r, n0 + 2, h, &found, err, sizeof(err)));
	assert_false(found);
	/* a snapshot is gone once reverted to */
	assert_int_equal(eth_rpc_revert(&r, snap, err, sizeof(err)), -ENOENT);
	eth_rpc_free(&r);
}

/*
 * Creation code of a contract that logs each call: LOG1 of its calldata
 * with topic 0x44...44. Runtime (44 bytes): CALLDATASIZE PUSH1 0 PUSH1 0
 * CALLDATACOPY PUSH32 topic CALLDATASIZE PUSH1 0 LOG1 STOP; before it, 12
 * bytes that copy it to memory and return it.
 */
static const char logger_hex[] =
	"602c600c600039602c6000f3" /* creation: CODECOPY(0, 12, 44), RETURN(0, 44) */
	"3660006000377f"	   /* runtime: CALLDATACOPY(0, 0, CALLDATASIZE), PUSH32 */
	"4444444444444444444444444444444444444444444444444444444444444444"
	"366000a100"; /* LOG1(0, CALLDATASIZE, topic), STOP */

/* Signs and sends a transaction of anvil's first account; its receipt. */
static void send_tx(struct eth_rpc *r, const uint8_t *to, const uint8_t *data, size_t len,
		    struct eth_receipt *rc)
{
	struct eth_tx tx = { .chain_id = 31337, .gas = 200000, .has_to = to != NULL };
	struct rlp_buf raw = { 0 };
	struct eth_fees f;
	uint8_t sk[32], from[20], h[32], h2[32];
	CLEANUP_ERASE(sk); /* anvil's well-known key, but a key: treated as one */
	char err[256];
	bool found = false;

	assert_int_equal(hex_decode_exact(anvil_key_hex, sk, 32), 0);
	assert_int_equal(eth_address_parse(anvil_addr, from), 0);
	OK(eth_get_transaction_count(r, from, "pending", &tx.nonce, err, sizeof(err)));
	OK(eth_suggest_fees(r, &f, err, sizeof(err)));
	memcpy(tx.max_fee_per_gas, f.max_fee_per_gas, 32);
	memcpy(tx.max_priority_fee_per_gas, f.max_priority_fee_per_gas, 32);
	if (to)
		memcpy(tx.to, to, 20);
	tx.data = data;
	tx.data_len = len;
	OK(eth_estimate_gas(r, from, to, NULL, data, len, &tx.gas, err, sizeof(err)));
	tx.gas += tx.gas / 5;
	OK(eth_tx_sign_1559(&tx, sk, &raw, h, err, sizeof(err)));
	OK(eth_send_raw_transaction(r, raw.p, raw.len, h2, err, sizeof(err)));
	assert_memory_equal(h, h2, 32);
	rlp_buf_free(&raw);
	/* anvil mines each transaction in a block of its own, soon after it answers */
	for (int i = 0; i < 100 && !found; i++) {
		if (i)
			usleep(50000);
		OK(eth_get_transaction_receipt(r, h, rc, &found, err, sizeof(err)));
	}
	assert_true(found);
	assert_int_equal(rc->status, 1);
	assert_memory_equal(rc->tx_hash, h, 32);
}

static void test_anvil_transactions(void **state)
{
	struct eth_log_filter f = { 0 };
	struct eth_receipt deploy, call;
	struct eth_log *logs = NULL;
	struct eth_rpc r;
	uint8_t code[64], arg[3] = { 1, 2, 3 }, *out = NULL, h[32];
	uint64_t conf, n;
	size_t len, outlen, nlogs;
	char err[256];
	bool found = true;

	(void)state;
	if (!anvil(&r))
		skip();
	assert_int_equal(hex_decode(logger_hex, code, sizeof(code), &len), 0);
	assert_int_equal(len, 56);
	send_tx(&r, NULL, code, len, &deploy);
	assert_true(deploy.has_contract);
	assert_int_equal(deploy.nlogs, 0);
	send_tx(&r, deploy.contract_address, arg, sizeof(arg), &call);
	assert_false(call.has_contract);
	assert_int_equal(call.block_number, deploy.block_number + 1);
	assert_int_equal(call.nlogs, 1);
	assert_memory_equal(call.logs[0].address, deploy.contract_address, 20);
	assert_int_equal(call.logs[0].ntopics, 1);
	assert_int_equal(call.logs[0].topics[0][0], 0x44);
	assert_int_equal(call.logs[0].data_len, 3);
	assert_memory_equal(call.logs[0].data, arg, 3);
	assert_false(call.logs[0].removed);
	/* the same log by eth_getLogs */
	memcpy(f.address, deploy.contract_address, 20);
	memset(f.topics[0], 0x44, 32);
	f.has_topic[0] = true;
	f.from_block = deploy.block_number;
	f.to_block = call.block_number;
	OK(eth_get_logs(&r, &f, &logs, &nlogs, err, sizeof(err)));
	assert_int_equal(nlogs, 1);
	assert_memory_equal(logs[0].tx_hash, call.tx_hash, 32);
	assert_memory_equal(logs[0].block_hash, call.block_hash, 32);
	assert_int_equal(logs[0].log_index, call.logs[0].log_index);
	eth_logs_free(logs, nlogs);
	/* a topic nobody logged: no log */
	memset(f.topics[0], 0x45, 32);
	OK(eth_get_logs(&r, &f, &logs, &nlogs, err, sizeof(err)));
	assert_int_equal(nlogs, 0);
	eth_logs_free(logs, nlogs);
	/* the contract returns nothing */
	OK(eth_call(&r, deploy.contract_address, arg, sizeof(arg), "latest", &out, &outlen, err,
		    sizeof(err)));
	assert_int_equal(outlen, 0);
	free(out);
	/* confirmations grow with blocks, and end with a reorganisation */
	OK(eth_confirmations(&r, &call, &conf, err, sizeof(err)));
	assert_int_equal(conf, 1);
	OK(eth_rpc_mine(&r, err, sizeof(err)));
	OK(eth_rpc_mine(&r, err, sizeof(err)));
	OK(eth_confirmations(&r, &call, &conf, err, sizeof(err)));
	assert_int_equal(conf, 3);
	OK(eth_confirmations(&r, &deploy, &conf, err, sizeof(err)));
	assert_int_equal(conf, 4);
	OK(eth_block_number(&r, &n, err, sizeof(err)));
	OK(eth_get_block_hash(&r, call.block_number, h, &found, err, sizeof(err)));
	assert_memory_equal(h, call.block_hash, 32);
	call.block_hash[0] ^= 1; /* as if another block now stood at that height */
	OK(eth_confirmations(&r, &call, &conf, err, sizeof(err)));
	assert_int_equal(conf, 0);
	eth_receipt_free(&deploy);
	eth_receipt_free(&call);
	/* a transaction nobody sent */
	memset(h, 0x99, 32);
	OK(eth_get_transaction_receipt(&r, h, &call, &found, err, sizeof(err)));
	assert_false(found);
	eth_rpc_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response_result),
		cmocka_unit_test(test_response_wrong_id),
		cmocka_unit_test(test_response_no_jsonrpc),
		cmocka_unit_test(test_response_result_and_error),
		cmocka_unit_test(test_response_node_error),
		cmocka_unit_test(test_response_error_escapes),
		cmocka_unit_test(test_response_error_long_message),
		cmocka_unit_test(test_response_error_malformed),
		cmocka_unit_test(test_response_garbage),
		cmocka_unit_test(test_quantity_good),
		cmocka_unit_test(test_quantity_leading_zero),
		cmocka_unit_test(test_quantity_upper_0x),
		cmocka_unit_test(test_quantity_empty),
		cmocka_unit_test(test_quantity_too_many_digits),
		cmocka_unit_test(test_quantity_json_number),
		cmocka_unit_test(test_quantity_negative),
		cmocka_unit_test(test_quantity_bad_digit),
		cmocka_unit_test(test_quantity_missing),
		cmocka_unit_test(test_data),
		cmocka_unit_test(test_data_odd_length),
		cmocka_unit_test(test_data_refusals),
		cmocka_unit_test(test_data_oversized),
		cmocka_unit_test(test_data_fixed_and_alloc),
		cmocka_unit_test(test_receipt_good),
		cmocka_unit_test(test_receipt_not_mined),
		cmocka_unit_test(test_receipt_of_another_tx),
		cmocka_unit_test(test_receipt_field_types),
		cmocka_unit_test(test_receipt_logs),
		cmocka_unit_test(test_logs_good),
		cmocka_unit_test(test_logs_other_address),
		cmocka_unit_test(test_logs_topic_mismatch),
		cmocka_unit_test(test_logs_five_topics),
		cmocka_unit_test(test_logs_removed),
		cmocka_unit_test(test_logs_outside_blocks_and_order),
		cmocka_unit_test(test_logs_shapes),
		cmocka_unit_test(test_logs_too_many),
		cmocka_unit_test(test_block_hash),
		cmocka_unit_test(test_fee_history),
		cmocka_unit_test(test_init_refuses),
		cmocka_unit_test(test_transport_answer),
		cmocka_unit_test(test_transport_refused),
		cmocka_unit_test(test_transport_timeout),
		cmocka_unit_test(test_transport_oversized),
		cmocka_unit_test(test_transport_garbage),
		cmocka_unit_test(test_transport_node_error),
		cmocka_unit_test(test_transport_lying_hash),
		cmocka_unit_test(test_transport_fee_fallback),
		cmocka_unit_test(test_transport_requests),
		cmocka_unit_test(test_anvil_chain),
		cmocka_unit_test(test_anvil_balance_and_nonce),
		cmocka_unit_test(test_anvil_snapshot_revert_mine),
		cmocka_unit_test(test_anvil_transactions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
