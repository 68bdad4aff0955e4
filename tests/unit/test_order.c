/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Orders (measurement/order.c, docs/order.md): a signature made here directly with
 * libsecp256k1 over a hand-written RFC 8785 text verifies; then every
 * refusal, each on an order that is otherwise valid and freshly signed, so
 * that the check under test is the one that fires.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <secp256k1.h>

#include "lib/lib.h"
#include "measurement/measurement.h"
#include "measurement/order.h"

#define WL_SHA "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HDR_SHA "11112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define PIN_SHA "22222233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
/* a broker's self-signed certificate, made for these tests (JSON-escaped PEM) */
#define BROKER_CA                                                             \
	"-----BEGIN CERTIFICATE-----\\n"                                      \
	"MIIBgDCCASegAwIBAgIUGJhPEc4SasDn3cYUfqhVH9oHRN4wCgYIKoZIzj0EAwIw\\n" \
	"FjEUMBIGA1UEAwwLdGVzdC1icm9rZXIwHhcNMjYxMjAzMTcwMjE5WhcNMzYxMTMw\\n" \
	"MTcwMjE5WjAWMRQwEgYDVQQDDAt0ZXN0LWJyb2tlcjBZMBMGByqGSM49AgEGCCqG\\n" \
	"SM49AwEHA0IABK0seudkuSdPws2aQZXP6gN1joXajaDRa9vYs+KR1bmgfoVnNdKI\\n" \
	"mOjaozSDoV4FHvWAH5iQoBi+mdFlmPQYY4CjUzBRMB0GA1UdDgQWBBTrybLl61xF\\n" \
	"C97QYOkfWlCN7jh5/DAfBgNVHSMEGDAWgBTrybLl61xFC97QYOkfWlCN7jh5/DAP\\n" \
	"BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIEoCDB8Dg3ItZW9JS6FL\\n" \
	"6SU9QjuRaDB1zS0qwqnwhWXwAiBxrLchNajMh44EyvvsqMgN6eDuruWAe0MaKKf9\\n" \
	"TdmB/g==\\n"                                                         \
	"-----END CERTIFICATE-----\\n"

static struct result_key customer, other;

/* A fixed key: 32 bytes of b. */
static void fixed_key(uint8_t b, struct result_key *k)
{
	secp256k1_pubkey pk;
	size_t n = 33;

	k->sk = secret_alloc(32);
	assert_non_null(k->sk);
	memset(k->sk, b, 32);
	assert_true(secp256k1_ec_pubkey_create(cvm_secp256k1(), &pk, k->sk));
	assert_true(secp256k1_ec_pubkey_serialize(cvm_secp256k1(), k->pub, &n, &pk,
						  SECP256K1_EC_COMPRESSED));
}

static int setup(void **state)
{
	(void)state;
	fixed_key(0x11, &customer);
	fixed_key(0x22, &other);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	result_key_wipe(&customer);
	result_key_wipe(&other);
	return 0;
}

/* The valid order of these tests, without signature, as a cJSON tree. */
static cJSON *base_order(const struct result_key *k)
{
	char pub[67], text[4096];
	cJSON *v = NULL;

	result_key_pub_hex(k, pub);
	snprintf(text, sizeof(text),
		 "{\"version\": 2, \"id\": \"order-1\",\n"
		 " \"inputs\": [\n"
		 "  {\"name\": \"solution\", \"role\": \"solution\",\n"
		 "   \"volume\": {\"url\": \"https://files.example.com/w/workload.img\",\n"
		 "              \"sha256\": \"" WL_SHA "\", \"size\": 33554432,\n"
		 "              \"luks_header_sha256\": \"" HDR_SHA "\"},\n"
		 "   \"broker\": {\"url\": \"https://broker.example.com:8443\",\n"
		 "              \"resource\": \"default/workload/key\",\n"
		 "              \"spki_sha256\": \"" PIN_SHA "\"}},\n"
		 "  {\"name\": \"data\", \"role\": \"data\", \"mount\": \"/inputs/ledger\",\n"
		 "   \"volume\": {\"url\": \"http://10.0.2.2/d.img\",\n"
		 "              \"sha256\": \"" HDR_SHA "\", \"size\": 4096,\n"
		 "              \"luks_header_sha256\": \"" WL_SHA "\"},\n"
		 "   \"broker\": {\"url\": \"https://10.1.2.3\",\n"
		 "              \"resource\": \"data/volume/key\",\n"
		 "              \"ca\": \"" BROKER_CA "\"}}],\n"
		 " \"image\": \"default\", \"vcpus\": 2, \"memory_mib\": 1024,\n"
		 " \"deadline_seconds\": 600,\n"
		 " \"result\": {\"upload_url\": \"https://files.example.com/r/order-1.cvmr\"},\n"
		 " \"customer_pubkey\": \"%s\"}",
		 pub);
	assert_int_equal(json_parse(text, strlen(text), &v), 0);
	return v;
}

/* Signs root as the format says, with libsecp256k1 directly (not order_sign). */
static void sign_tree(cJSON *root, const struct result_key *k)
{
	_cleanup_free_ char *text = NULL;
	secp256k1_ecdsa_signature sig;
	uint8_t d[32], compact[64];
	size_t n;

	cJSON_DeleteItemFromObjectCaseSensitive(root, "signature");
	assert_int_equal(jcs_serialize(root, &text, &n), 0);
	assert_int_equal(EVP_Digest(text, n, d, NULL, EVP_sha256(), NULL), 1);
	assert_true(secp256k1_ecdsa_sign(cvm_secp256k1(), &sig, d, k->sk, NULL, NULL));
	assert_true(secp256k1_ecdsa_signature_serialize_compact(cvm_secp256k1(), compact, &sig));
	assert_non_null(json_add_hex(root, "signature", compact, 64));
}

static char *text_of(const cJSON *root)
{
	char *s = cJSON_PrintUnformatted(root);

	assert_non_null(s);
	return s;
}

static int parse_tree(const cJSON *root, const struct order_limits *lim, struct order *o, char *err,
		      size_t errlen)
{
	_cleanup_free_ char *s = text_of(root);

	order_free(o);
	return order_parse(s, strlen(s), lim, o, err, errlen);
}

static void assert_refused(int r, int code, const char *err, const char *want)
{
	assert_int_equal(r, code);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_null(strchr(err, '\n'));
}

/* ---- what a valid order gives ---- */

static void test_verifies_a_signature_over_the_rfc8785_form(void **state)
{
	char pub[67], canon[2048], order[2560], sighex[129], err[256];
	uint8_t d256[32], d384[48], compact[64];
	secp256k1_ecdsa_signature sig;
	_cleanup_(order_freep) struct order o = { 0 };

	(void)state;
	result_key_pub_hex(&customer, pub);
	/* RFC 8785 by hand: members sorted, no whitespace */
	snprintf(canon, sizeof(canon),
		 "{\"customer_pubkey\":\"%s\",\"deadline_seconds\":600,\"id\":\"order-1\","
		 "\"image\":\"default\",\"inputs\":[{\"broker\":{\"resource\":\"default/workload/"
		 "key\",\"spki_sha256\":\"" PIN_SHA
		 "\",\"url\":\"https://broker.example.com:8443\"},"
		 "\"name\":\"solution\",\"role\":\"solution\",\"volume\":{\"luks_header_sha256\":"
		 "\"" HDR_SHA "\",\"sha256\":\"" WL_SHA "\",\"size\":33554432,\"url\":\"https://"
		 "files.example.com/w/workload.img\"}}],\"memory_mib\":1024,\"result\":{"
		 "\"upload_url\":\"https://files.example.com/r/order-1.cvmr\"},\"vcpus\":2,"
		 "\"version\":2}",
		 pub);
	assert_int_equal(EVP_Digest(canon, strlen(canon), d256, NULL, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_Digest(canon, strlen(canon), d384, NULL, EVP_sha384(), NULL), 1);
	assert_true(secp256k1_ecdsa_sign(cvm_secp256k1(), &sig, d256, customer.sk, NULL, NULL));
	assert_true(secp256k1_ecdsa_signature_serialize_compact(cvm_secp256k1(), compact, &sig));
	hex_encode(compact, 64, sighex);
	/* the order as a customer might write it: another member order, whitespace */
	snprintf(order, sizeof(order),
		 "{\n  \"signature\": \"%s\",\n  \"id\": \"order-1\", \"image\": \"default\",\n"
		 "  \"vcpus\": 2, \"memory_mib\": 1024, \"deadline_seconds\": 600,\n"
		 "  \"customer_pubkey\": \"%s\", \"version\": 2,\n"
		 "  \"result\": {\"upload_url\": \"https://files.example.com/r/order-1.cvmr\"},\n"
		 "  \"inputs\": [{\"role\": \"solution\", \"name\": \"solution\",\n"
		 "    \"broker\": {\"url\": \"https://broker.example.com:8443\", \"resource\": "
		 "\"default/workload/key\", \"spki_sha256\": \"" PIN_SHA "\"},\n"
		 "    \"volume\": {\"size\": 33554432, \"url\": "
		 "\"https://files.example.com/w/workload.img\", \"sha256\": \"" WL_SHA "\",\n"
		 "      \"luks_header_sha256\": \"" HDR_SHA "\"}}]\n}\n",
		 sighex, pub);
	assert_int_equal(order_parse(order, strlen(order), NULL, &o, err, sizeof(err)), 0);
	assert_memory_equal(o.sha256, d256, 32);
	assert_memory_equal(o.sha384, d384, 48);
	assert_memory_equal(o.signature, compact, 64);
	assert_string_equal(o.signed_form, canon);
	assert_int_equal(o.signed_len, strlen(canon));
	assert_string_equal(o.id, "order-1");
	assert_int_equal(o.ninputs, 1);
	assert_int_equal(o.solution, 0);
	assert_string_equal(o.inputs[0].name, "solution");
	assert_int_equal(o.inputs[0].role, ORDER_ROLE_SOLUTION);
	assert_string_equal(o.inputs[0].url, "https://files.example.com/w/workload.img");
	assert_int_equal(o.inputs[0].size, 33554432);
	assert_int_equal(o.inputs[0].sha256[0], 0x00);
	assert_int_equal(o.inputs[0].sha256[31], 0xff);
	assert_int_equal(o.inputs[0].luks_header_sha256[0], 0x11);
	assert_string_equal(o.inputs[0].mount, "/inputs/solution");
	assert_string_equal(o.inputs[0].broker.url, "https://broker.example.com:8443");
	assert_string_equal(o.inputs[0].broker.host, "broker.example.com");
	assert_int_equal(o.inputs[0].broker.port, 8443);
	assert_string_equal(o.inputs[0].broker.resource, "default/workload/key");
	assert_true(o.inputs[0].broker.has_spki);
	assert_null(o.inputs[0].broker.ca);
	assert_int_equal(o.inputs[0].broker.spki_sha256[0], 0x22);
	assert_int_equal(o.nbrokers, 1);
	assert_string_equal(o.image, "default");
	assert_int_equal(o.vcpus, 2);
	assert_int_equal(o.memory_mib, 1024);
	assert_int_equal(o.deadline_seconds, 600);
	assert_string_equal(o.upload_url, "https://files.example.com/r/order-1.cvmr");
	assert_memory_equal(o.customer_pub, customer.pub, 33);
}

/* Two inputs: the data input's CA, mount and broker as the base order gives them. */
static void test_reads_every_input(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	_cleanup_free_ char *text = NULL;
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];

	(void)state;
	sign_tree(root, &customer);
	text = text_of(root);
	assert_int_equal(order_parse(text, strlen(text), NULL, &o, err, sizeof(err)), 0);
	assert_int_equal(o.ninputs, 2);
	assert_int_equal(o.solution, 0);
	assert_int_equal(o.inputs[1].role, ORDER_ROLE_DATA);
	assert_string_equal(o.inputs[1].mount, "/inputs/ledger");
	assert_non_null(o.inputs[1].broker.ca);
	assert_non_null(strstr(o.inputs[1].broker.ca, "BEGIN CERTIFICATE"));
	assert_false(o.inputs[1].broker.has_spki);
	assert_string_equal(o.inputs[1].broker.host, "10.1.2.3");
	assert_int_equal(o.inputs[1].broker.port, 443);
	assert_int_equal(o.nbrokers, 2);
	assert_int_equal(o.inputs[0].broker.forward, 0);
	assert_int_equal(o.inputs[1].broker.forward, 1);
	assert_ptr_equal(order_broker_at(&o, 1), &o.inputs[1].broker);
	assert_null(order_broker_at(&o, 2));
	assert_ptr_equal(order_input_by_resource(&o, "data/volume/key"), &o.inputs[1]);
	assert_null(order_input_by_resource(&o, "data/volume/other"));
}

static void test_sign_is_deterministic_and_canonical(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	_cleanup_free_ char *in = text_of(root), *a = NULL, *b = NULL, *canon = NULL;
	_cleanup_(cJSON_Deletep) cJSON *back = NULL;
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(order_sign(in, strlen(in), &customer, &a, err, sizeof(err)), 0);
	assert_int_equal(order_sign(in, strlen(in), &customer, &b, err, sizeof(err)), 0);
	assert_string_equal(a, b);
	assert_int_equal(json_parse(a, strlen(a), &back), 0);
	assert_int_equal(jcs_serialize(back, &canon, &n), 0);
	assert_string_equal(a, canon);
	assert_int_equal(order_parse(a, strlen(a), NULL, &o, err, sizeof(err)), 0);
	assert_memory_equal(o.customer_pub, customer.pub, 33);
}

static void test_sign_adds_the_missing_customer_pubkey(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	_cleanup_free_ char *in = NULL, *out = NULL;
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];

	(void)state;
	cJSON_DeleteItemFromObjectCaseSensitive(root, "customer_pubkey");
	in = text_of(root);
	assert_int_equal(order_sign(in, strlen(in), &other, &out, err, sizeof(err)), 0);
	assert_int_equal(order_parse(out, strlen(out), NULL, &o, err, sizeof(err)), 0);
	assert_memory_equal(o.customer_pub, other.pub, 33);
}

static void test_sign_refuses_an_order_naming_another_key(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	_cleanup_free_ char *in = text_of(root), *out = NULL;
	char err[256];

	(void)state;
	assert_refused(order_sign(in, strlen(in), &other, &out, err, sizeof(err)), -EKEYREJECTED,
		       err, "names another key");
	assert_null(out);
}

static void test_sign_replaces_an_old_signature(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	_cleanup_free_ char *in = NULL, *out = NULL;
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];

	(void)state;
	cJSON_AddStringToObject(root, "signature", "00");
	in = text_of(root);
	assert_int_equal(order_sign(in, strlen(in), &customer, &out, err, sizeof(err)), 0);
	assert_int_equal(order_parse(out, strlen(out), NULL, &o, err, sizeof(err)), 0);
}

static void test_sign_refuses_what_is_not_an_order(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	_cleanup_free_ char *in = NULL, *out = NULL;
	char err[256];

	(void)state;
	cJSON_ReplaceItemInObjectCaseSensitive(root, "vcpus", cJSON_CreateNumber(0));
	in = text_of(root);
	assert_refused(order_sign(in, strlen(in), &customer, &out, err, sizeof(err)), -EBADMSG, err,
		       "vcpus: 0 not in 1..256");
	assert_null(out);
	assert_refused(order_sign("[1]", 3, &customer, &out, err, sizeof(err)), -EBADMSG, err,
		       "not a JSON object");
}

/* ---- refusals: one change to a valid order, signed again ---- */

struct change {
	const char *path;  /* "member" or "object.member" */
	const char *value; /* JSON text, or NULL to remove the member */
	const char *want;  /* in the error */
};

/* Walks "a.b.0.c" (a number indexes an array) to the object holding the last part. */
static void apply(cJSON *root, const struct change *c)
{
	char path[128], *save = NULL, *part, *next;
	cJSON *obj = root;

	snprintf(path, sizeof(path), "%s", c->path);
	part = strtok_r(path, ".", &save);
	while ((next = strtok_r(NULL, ".", &save))) {
		obj = cJSON_IsArray(obj) ? cJSON_GetArrayItem(obj, atoi(part))
					 : cJSON_GetObjectItemCaseSensitive(obj, part);
		assert_non_null(obj);
		part = next;
	}
	if (cJSON_IsArray(obj)) {
		cJSON_DeleteItemFromArray(obj, atoi(part));
		assert_null(c->value);
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, part);
	if (c->value) {
		cJSON *v = cJSON_Parse(c->value);

		assert_non_null(v);
		cJSON_AddItemToObject(obj, part, v);
	}
}

static void refuse_each(const struct change *c, size_t n, int code)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
		_cleanup_(order_freep) struct order o = { 0 };
		char err[256] = "";
		int r;

		apply(root, &c[i]);
		sign_tree(root, &customer);
		r = parse_tree(root, NULL, &o, err, sizeof(err));
		if (r != code || !strstr(err, c[i].want))
			fail_msg("%s = %s: got %d \"%s\", want %d \"%s\"", c[i].path,
				 c[i].value ? c[i].value : "(removed)", r, err, code, c[i].want);
		assert_null(strchr(err, '\n'));
		assert_true(is_zero(&o, sizeof(o)));
	}
}

static void test_refuses_unknown_missing_and_mistyped_members(void **state)
{
	static const struct change c[] = {
		{ "priority", "1", "unknown member \"priority\" in the order" },
		{ "inputs.0.volume.mirror", "\"x\"",
		  "unknown member \"mirror\" in inputs[0].volume" },
		{ "inputs.1.broker.cacert", "\"x\"",
		  "unknown member \"cacert\" in inputs[1].broker" },
		{ "inputs.0.offset", "0", "unknown member \"offset\" in inputs[0]" },
		{ "result.method", "\"PUT\"", "unknown member \"method\" in result" },
		{ "bad\nname", "1", "unknown member \"(unprintable)\"" },
		{ "id", NULL, "id is missing" },
		{ "inputs", NULL, "inputs is missing" },
		{ "inputs.0.volume.url", NULL, "inputs[0].volume.url is missing" },
		{ "inputs.0.volume.sha256", NULL, "inputs[0].volume.sha256 is missing" },
		{ "inputs.1.volume.size", NULL, "inputs[1].volume.size is missing" },
		{ "inputs.0.broker", NULL, "inputs[0].broker is missing" },
		{ "inputs.0.broker.url", NULL, "inputs[0].broker.url is missing" },
		{ "inputs.1.broker.resource", NULL, "inputs[1].broker.resource is missing" },
		{ "image", NULL, "image is missing" },
		{ "vcpus", NULL, "vcpus is missing" },
		{ "memory_mib", NULL, "memory_mib is missing" },
		{ "deadline_seconds", NULL, "deadline_seconds is missing" },
		{ "result", NULL, "result is missing" },
		{ "result.upload_url", NULL, "result.upload_url is missing" },
		{ "customer_pubkey", NULL, "customer_pubkey is missing" },
		{ "id", "7", "id is not a string" },
		{ "inputs.0.volume", "[]", "inputs[0].volume is not an object" },
		{ "inputs.0.broker", "\"https://b\"", "inputs[0].broker is not an object" },
		{ "result", "null", "result is not an object" },
		{ "image", "[\"default\"]", "image is not a string" },
		{ "vcpus", "\"2\"", "vcpus is not a whole number" },
		{ "vcpus", "true", "vcpus is not a whole number" },
		{ "vcpus", "null", "vcpus is not a whole number" },
		{ "memory_mib", "1024.5", "memory_mib is not a whole number" },
		{ "deadline_seconds", "-1", "deadline_seconds is not a whole number" },
		{ "inputs.0.volume.size", "1e300", "inputs[0].volume.size is not a whole number" },
		{ "inputs.0.volume.size", "1e16", "inputs[0].volume.size is not a whole number" },
		{ "inputs.0.volume.sha256", "1", "inputs[0].volume.sha256 is not 64 hex digits" },
		{ "customer_pubkey", "2", "customer_pubkey is not a string" },
	};

	(void)state;
	refuse_each(c, ARRAY_SIZE(c), -EBADMSG);
}

static void test_refuses_values_out_of_the_format(void **state)
{
	static const struct change c[] = {
		{ "id", "\"\"", "id: length 0" },
		{ "id", "\"order 1\"", "id: not 1 to 128" },
		{ "id", "\"order/1\"", "id: not 1 to 128" },
		{ "id", "\"ordér\"", "id: not 1 to 128" },
		{ "inputs.0.volume.sha256", "\"" WL_SHA "00\"",
		  "inputs[0].volume.sha256 is not 64 hex digits" },
		{ "inputs.0.volume.luks_header_sha256",
		  "\"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"",
		  "inputs[0].volume.luks_header_sha256 is not 64 hex digits" },
		{ "inputs.0.volume.size", "0", "inputs[0].volume.size: 0 not in 1..1099511627776" },
		{ "inputs.0.volume.size", "1099511627777",
		  "inputs[0].volume.size: 1099511627777 not in" },
		{ "inputs.0.broker.resource", "\"default/key\"",
		  "inputs[0].broker.resource: not REPO/TYPE/TAG" },
		{ "inputs.0.broker.resource", "\"a/b/c/d\"",
		  "inputs[0].broker.resource: not REPO/TYPE/TAG" },
		{ "inputs.0.broker.resource", "\"a/../c\"",
		  "inputs[0].broker.resource: not REPO/TYPE/TAG" },
		{ "inputs.0.broker.resource", "\".a/b/c\"",
		  "inputs[0].broker.resource: not REPO/TYPE/TAG" },
		{ "inputs.0.broker.resource", "\"a//c\"",
		  "inputs[0].broker.resource: not REPO/TYPE/TAG" },
		{ "inputs.0.broker.resource", "\"a/b/c/\"",
		  "inputs[0].broker.resource: not REPO/TYPE/TAG" },
		{ "inputs.0.broker.resource", "\"a/b c/d\"",
		  "inputs[0].broker.resource: not REPO/TYPE/TAG" },
		{ "image", "\"Default\"", "image: not [a-z0-9]" },
		{ "image", "\"../default\"", "image: not [a-z0-9]" },
		{ "image", "\"def/ault\"", "image: not [a-z0-9]" },
		{ "image", "\"\"", "image: length 0" },
		{ "image", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
		  "image: length 65" },
		{ "vcpus", "0", "vcpus: 0 not in 1..256" },
		{ "vcpus", "257", "vcpus: 257 not in 1..256" },
		{ "memory_mib", "63", "memory_mib: 63 not in 64..4194304" },
		{ "memory_mib", "4194305", "memory_mib: 4194305 not in" },
		{ "deadline_seconds", "0", "deadline_seconds: 0 not in 1..2592000" },
		{ "deadline_seconds", "2592001", "deadline_seconds: 2592001 not in" },
		{ "customer_pubkey",
		  "\"04ed21474b1d7f3376e6727f4679e0b4c0705ab180215d743f25e43528c57824f8\"",
		  "customer_pubkey: not a compressed secp256k1 point" },
		{ "customer_pubkey",
		  "\"020000000000000000000000000000000000000000000000000000000000000005\"",
		  "customer_pubkey: not a compressed secp256k1 point" },
		{ "customer_pubkey", "\"02ed21\"", "customer_pubkey: not a compressed" },
	};

	(void)state;
	refuse_each(c, ARRAY_SIZE(c), -EBADMSG);
}

static void test_refuses_urls_other_than_plain_http_and_https(void **state)
{
	static const char *const bad[] = {
		"\"ftp://files.example.com/w\"",
		"\"file:///etc/passwd\"",
		"\"HTTPS://files.example.com/w\"",
		"\"https:/files.example.com/w\"",
		"\"https://\"",
		"\"https:///w\"",
		"\"https://user:pw@files.example.com/w\"",
		"\"https://user@files.example.com/w\"",
		"\"https://files.example.com/w#part\"",
		"\"https://files.example.com/a b\"",
		"\"https://files.example.com/a\\nb\"",
		"\"https://files.example.com/a\\\\b\"",
		"\"https://files.example.com/%zz\"",
		"\"https://files.example.com/%4\"",
		"\"https://files.example.com:0/w\"",
		"\"https://files.example.com:65536/w\"",
		"\"https://files.example.com:/w\"",
		"\"https://files.example.com:443443/w\"",
		"\"https://files.example.com:8a/w\"",
		"\"https://[::1]:8443/w\"",
		"\"https://-files.example.com/w\"",
		"\"https://files-.example.com/w\"",
		"\"https://files..example.com/w\"",
		"\"https://files.example.com./w\"",
		"\"https://files_x.example.com/w\"",
		"\"https://files.example.com;touch /tmp/x/w\"",
		"\"https://files.example.com,x/w\"",
	};
	const char *const where[] = { "inputs.0.volume.url", "inputs.1.volume.url",
				      "result.upload_url" };

	(void)state;
	for (size_t w = 0; w < ARRAY_SIZE(where); w++) {
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			char want[64];
			struct change c = { where[w], bad[i], want };

			snprintf(want, sizeof(want), "%s: not an http:// or https:// URL",
				 w == 0	  ? "inputs[0].volume.url"
				 : w == 1 ? "inputs[1].volume.url"
					  : "result.upload_url");
			refuse_each(&c, 1, -EBADMSG);
		}
	}
}

static void test_refuses_a_broker_without_tls_or_with_a_path(void **state)
{
	static const struct change c[] = {
		{ "inputs.1.broker.url", "\"http://broker.example.com:8443\"",
		  "inputs[1].broker.url: not https://HOST[:PORT]" },
		{ "inputs.1.broker.url", "\"https://broker.example.com:8443/kbs\"",
		  "inputs[1].broker.url: not https://HOST[:PORT]" },
		{ "inputs.1.broker.url", "\"https://broker.example.com/\"",
		  "inputs[1].broker.url: not https://HOST[:PORT]" },
		{ "inputs.1.broker.url", "\"https://broker.example.com?x\"",
		  "inputs[1].broker.url: not https://HOST[:PORT]" },
		{ "inputs.0.broker.url", "\"https://user@b.example.com\"",
		  "inputs[0].broker.url: not https://HOST[:PORT]" },
	};

	(void)state;
	refuse_each(c, ARRAY_SIZE(c), -EBADMSG);
}

/* The bad inputs: each one line naming the member. */
static void test_refuses_inputs_no_customer_should_sign(void **state)
{
	static const struct change c[] = {
		{ "inputs.1.name", "\"solution\"", "inputs[1]: name \"solution\" is taken" },
		{ "inputs.1.role", "\"solution\"", "inputs: 2 inputs of role solution, not 1" },
		{ "inputs.0.role", "\"data\"", "inputs: 0 inputs of role solution, not 1" },
		{ "inputs.0.role", "\"code\"", "inputs[0].role" },
		{ "inputs.0.mount", "\"/etc\"", "inputs[0].mount: not /inputs/NAME" },
		{ "inputs.0.mount", "\"/inputs/../etc\"", "inputs[0].mount: not /inputs/NAME" },
		{ "inputs.0.mount", "\"/inputs/a/b\"", "inputs[0].mount: not /inputs/NAME" },
		{ "inputs.0.mount", "\"/inputs/\"", "inputs[0].mount: not /inputs/NAME" },
		{ "inputs.0.mount", "\"/inputs/ledger\"",
		  "inputs[1]: mount /inputs/ledger is taken" },
		{ "inputs.0.mount", "\"/inputs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
		  "inputs[0].mount: length" },
		{ "inputs.0.name", "\"Solution\"", "inputs[0].name: not 1 to 32" },
		{ "inputs.0.name", "\"../x\"", "inputs[0].name: not 1 to 32" },
		{ "inputs.0.name", "\"\"", "inputs[0].name: length 0" },
		{ "inputs.0.broker.ca", "\"" BROKER_CA "\"",
		  "inputs[0].broker: give exactly one of ca and spki_sha256" },
		{ "inputs.1.broker.ca", NULL,
		  "inputs[1].broker: give exactly one of ca and spki_sha256" },
		{ "inputs.1.broker.ca",
		  "\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END "
		  "CERTIFICATE-----\\n\"",
		  "inputs[1].broker.ca: not a PEM certificate" },
		{ "inputs.0.broker.spki_sha256", "\"00\"",
		  "inputs[0].broker.spki_sha256 is not 64" },
		{ "inputs", "[]", "inputs: 0 inputs, not 1 to 16" },
		{ "inputs", "{}", "inputs: not an array" },
		{ "inputs.1", NULL, "" }, /* one input left: valid, checked below */
	};

	(void)state;
	refuse_each(c, ARRAY_SIZE(c) - 1, -EBADMSG);
}

static void test_refuses_over_sixteen_inputs(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	_cleanup_(order_freep) struct order o = { 0 };
	cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
	char err[256];

	(void)state;
	for (int i = 0; i < 14; i++) {
		cJSON *d = cJSON_Duplicate(cJSON_GetArrayItem(inputs, 1), true);
		char name[16], mount[32];

		snprintf(name, sizeof(name), "d%d", i);
		snprintf(mount, sizeof(mount), "/inputs/d%d", i);
		cJSON_ReplaceItemInObjectCaseSensitive(d, "name", cJSON_CreateString(name));
		cJSON_ReplaceItemInObjectCaseSensitive(d, "mount", cJSON_CreateString(mount));
		cJSON_AddItemToArray(inputs, d);
	}
	sign_tree(root, &customer);
	if (parse_tree(root, NULL, &o, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(o.ninputs, 16);
	assert_int_equal(o.nbrokers, 2); /* the data inputs share one broker */
	cJSON_AddItemToArray(inputs, cJSON_Duplicate(cJSON_GetArrayItem(inputs, 1), true));
	sign_tree(root, &customer);
	assert_refused(parse_tree(root, NULL, &o, err, sizeof(err)), -EBADMSG, err,
		       "E_ORDER: inputs: 17 inputs, not 1 to 16");
}

static void test_refuses_the_version_1_form_by_name(void **state)
{
	static const char *v1 = "{\"id\": \"order-1\", \"workload\": {}, \"broker\": {}}";
	static const char *v3 = "{\"version\": 3, \"id\": \"order-1\"}";
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];

	(void)state;
	assert_refused(order_parse(v1, strlen(v1), NULL, &o, err, sizeof(err)), -EBADMSG, err,
		       "E_ORDER_VERSION: a version 1 order (workload, broker)");
	assert_refused(order_parse(v3, strlen(v3), NULL, &o, err, sizeof(err)), -EBADMSG, err,
		       "E_ORDER_VERSION: version 3");
	{
		static const struct change c[] = {
			{ "version", NULL, "version is missing" },
			{ "version", "\"2\"", "version: not 2" },
			{ "version", "2.5", "E_ORDER_VERSION" },
		};

		refuse_each(c, ARRAY_SIZE(c), -EBADMSG);
	}
}

static void test_accepts_the_url_forms_it_documents(void **state)
{
	static const char *const good[] = {
		"\"http://10.0.2.2:8080/w.img\"",
		"\"https://files.example.com\"",
		"\"https://files.example.com:443\"",
		"\"https://files.example.com/a/b?X-Amz-Signature=ab%2Fc&x=y~z\"",
		"\"https://f.example.com/!$&'()*+,;=:@-._~\"",
		"\"https://localhost:65535/\"",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
		struct change c = { "result.upload_url", good[i], "" };
		_cleanup_(order_freep) struct order o = { 0 };
		char err[256];

		apply(root, &c);
		sign_tree(root, &customer);
		if (parse_tree(root, NULL, &o, err, sizeof(err)) != 0)
			fail_msg("%s: %s", good[i], err);
	}
}

static void test_url_host_and_port(void **state)
{
	char host[64];
	uint16_t port;

	(void)state;
	assert_int_equal(
		order_url_host_port("https://b.example.com:8443/kbs", host, sizeof(host), &port),
		0);
	assert_string_equal(host, "b.example.com");
	assert_int_equal(port, 8443);
	assert_int_equal(order_url_host_port("https://127.0.0.1", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 443);
	assert_int_equal(order_url_host_port("http://h?x=1", host, sizeof(host), &port), 0);
	assert_string_equal(host, "h");
	assert_int_equal(port, 80);
	assert_int_equal(order_url_host_port("https://b.example.com", host, 5, &port), -E2BIG);
	assert_int_equal(order_url_host_port("https://a@b", host, sizeof(host), &port), -EINVAL);
}

/* ---- the signature ---- */

static void signature_case(const char *sig, const char *want)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	struct change c = { "signature", sig, want };
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];

	sign_tree(root, &customer);
	apply(root, &c);
	assert_refused(parse_tree(root, NULL, &o, err, sizeof(err)), -EKEYREJECTED, err, want);
}

static void test_refuses_an_unsigned_or_malformed_signature(void **state)
{
	char zeros[131], high_r[131];

	(void)state;
	signature_case(NULL, "E_ORDER_SIGNATURE: the order is not signed");
	signature_case("64", "E_ORDER_SIGNATURE: not 128 hex digits");
	signature_case("\"abcd\"", "E_ORDER_SIGNATURE: not 128 hex digits");
	snprintf(zeros, sizeof(zeros), "\"%0128d\"", 0);
	signature_case(zeros, "does not verify");
	zeros[1] = 'x';
	signature_case(zeros, "not 128 hex digits");
	/* r = the group order n: out of range */
	snprintf(high_r, sizeof(high_r),
		 "\"fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141%064d\"", 1);
	signature_case(high_r, "r or s out of range");
}

/* s -> n - s: the other valid signature of the same message, which the format refuses. */
static void test_refuses_the_high_s_form(void **state)
{
	static const uint8_t n[32] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
		0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
	};
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	uint8_t sig[64];
	char hex[131];
	int borrow = 0;

	(void)state;
	sign_tree(root, &customer);
	assert_int_equal(json_get_hex(root, "signature", sig, 64), 0);
	for (int i = 31; i >= 0; i--) {
		int d = n[i] - sig[32 + i] - borrow;

		borrow = d < 0;
		sig[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
	hex[0] = '"';
	hex_encode(sig, 64, hex + 1);
	strcpy(hex + 129, "\"");
	signature_case(hex, "E_ORDER_SIGNATURE: high S");
}

static void test_refuses_any_change_after_signing(void **state)
{
	static const struct change c[] = {
		{ "vcpus", "3", "" },
		{ "inputs.0.volume.url", "\"https://files.example.com/w/other.img\"", "" },
		{ "inputs.1.volume.luks_header_sha256", "\"" HDR_SHA "\"", "" },
		{ "inputs.1.broker.url", "\"https://evil.example.com\"", "" },
		{ "inputs.0.broker.spki_sha256", "\"" WL_SHA "\"", "" },
		{ "inputs.1.mount", "\"/inputs/other\"", "" },
		{ "result.upload_url", "\"https://attacker.example.com/r\"", "" },
		{ "id", "\"order-2\"", "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
		_cleanup_(order_freep) struct order o = { 0 };
		char err[256];

		sign_tree(root, &customer);
		apply(root, &c[i]);
		assert_refused(parse_tree(root, NULL, &o, err, sizeof(err)), -EKEYREJECTED, err,
			       "E_ORDER_SIGNATURE: does not verify with customer_pubkey");
	}
}

static void test_refuses_an_order_signed_by_another_key(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];

	(void)state;
	sign_tree(root, &other);
	assert_refused(parse_tree(root, NULL, &o, err, sizeof(err)), -EKEYREJECTED, err,
		       "does not verify with customer_pubkey");
}

/* ---- the text ---- */

static void test_refuses_text_that_is_not_one_json_object(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"\"order\"",
		"{} {}",
		"{\"id\": \"a\", \"id\": \"b\"}",
		"{\"id\": \"\xc3\"}",
	};
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_refused(order_parse(bad[i], strlen(bad[i]), NULL, &o, err, sizeof(err)),
			       -EBADMSG, err, "E_ORDER: not");
	assert_refused(order_parse("{}\0{}", 5, NULL, &o, err, sizeof(err)), -EBADMSG, err,
		       "E_ORDER: not JSON");
}

static void test_refuses_an_order_over_a_mebibyte(void **state)
{
	size_t n = CVM_CAP_JSON + 1;
	_cleanup_free_ char *big = malloc(n);
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	assert_refused(order_parse(big, n, NULL, &o, err, sizeof(err)), -EBADMSG, err,
		       "larger than");
}

/* ---- the provider's limits ---- */

static void test_refuses_an_order_over_the_providers_limits(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	const struct order_limits exact = { 2, 1024, 600, 33554432 + 4096 };
	const struct {
		struct order_limits lim;
		const char *want;
	} c[] = {
		{ { 1, 1024, 600, 1u << 30 }, "E_ORDER_LIMIT: vcpus 2 is over the provider's 1" },
		{ { 2, 1023, 600, 1u << 30 }, "E_ORDER_LIMIT: memory_mib 1024 is over" },
		{ { 2, 1024, 599, 1u << 30 }, "E_ORDER_LIMIT: deadline_seconds 600 is over" },
		{ { 2, 1024, 600, 33554432 + 4095 },
		  "E_ORDER_LIMIT: the inputs' volumes 33558528 is over" },
	};
	_cleanup_(order_freep) struct order o = { 0 };
	char err[256];

	(void)state;
	sign_tree(root, &customer);
	assert_int_equal(parse_tree(root, &exact, &o, err, sizeof(err)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		assert_refused(parse_tree(root, &c[i].lim, &o, err, sizeof(err)), -ERANGE, err,
			       c[i].want);
}

static void test_reads_limits_and_refuses_bad_ones(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[]", "E_LIMITS: not a JSON object" },
		{ "{\"max_cpus\": 4}", "E_LIMITS: unknown member \"max_cpus\"" },
		{ "{\"max_vcpus\": 0}", "E_LIMITS: max_vcpus: 0 not in 1..256" },
		{ "{\"max_vcpus\": 257}", "E_LIMITS: max_vcpus: 257 not in" },
		{ "{\"max_memory_mib\": \"8\"}", "E_LIMITS: max_memory_mib is not a whole number" },
		{ "{\"max_workload_bytes\": 1099511627777}", "E_LIMITS: max_workload_bytes" },
	};
	const char *good = "{\"max_vcpus\": 4, \"max_deadline_seconds\": 3600}";
	const struct order_limits max = ORDER_LIMITS_MAX;
	struct order_limits l;
	char err[256];

	(void)state;
	assert_int_equal(order_limits_parse(good, strlen(good), &l, err, sizeof(err)), 0);
	assert_int_equal(l.max_vcpus, 4);
	assert_int_equal(l.max_deadline_seconds, 3600);
	assert_int_equal(l.max_memory_mib, max.max_memory_mib);
	assert_int_equal(l.max_workload_bytes, max.max_workload_bytes);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_refused(
			order_limits_parse(bad[i].text, strlen(bad[i].text), &l, err, sizeof(err)),
			-EBADMSG, err, bad[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifies_a_signature_over_the_rfc8785_form),
		cmocka_unit_test(test_reads_every_input),
		cmocka_unit_test(test_sign_is_deterministic_and_canonical),
		cmocka_unit_test(test_sign_adds_the_missing_customer_pubkey),
		cmocka_unit_test(test_sign_refuses_an_order_naming_another_key),
		cmocka_unit_test(test_sign_replaces_an_old_signature),
		cmocka_unit_test(test_sign_refuses_what_is_not_an_order),
		cmocka_unit_test(test_refuses_unknown_missing_and_mistyped_members),
		cmocka_unit_test(test_refuses_values_out_of_the_format),
		cmocka_unit_test(test_refuses_urls_other_than_plain_http_and_https),
		cmocka_unit_test(test_refuses_a_broker_without_tls_or_with_a_path),
		cmocka_unit_test(test_refuses_inputs_no_customer_should_sign),
		cmocka_unit_test(test_refuses_over_sixteen_inputs),
		cmocka_unit_test(test_refuses_the_version_1_form_by_name),
		cmocka_unit_test(test_accepts_the_url_forms_it_documents),
		cmocka_unit_test(test_url_host_and_port),
		cmocka_unit_test(test_refuses_an_unsigned_or_malformed_signature),
		cmocka_unit_test(test_refuses_the_high_s_form),
		cmocka_unit_test(test_refuses_any_change_after_signing),
		cmocka_unit_test(test_refuses_an_order_signed_by_another_key),
		cmocka_unit_test(test_refuses_text_that_is_not_one_json_object),
		cmocka_unit_test(test_refuses_an_order_over_a_mebibyte),
		cmocka_unit_test(test_refuses_an_order_over_the_providers_limits),
		cmocka_unit_test(test_reads_limits_and_refuses_bad_ones),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
