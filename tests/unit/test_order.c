/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Orders (host/order.c, docs/order.md): a signature made here directly with
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

/* host/ is not in the test library: the unit under test is compiled in. */
#include "host/order.c"

#define WL_SHA "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

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
	char pub[67], text[2048];
	cJSON *v = NULL;

	result_key_pub_hex(k, pub);
	snprintf(text, sizeof(text),
		 "{\"id\": \"order-1\",\n"
		 " \"workload\": {\"url\": \"https://files.example.com/w/workload.img\",\n"
		 "              \"sha256\": \"" WL_SHA "\", \"size\": 33554432},\n"
		 " \"broker\": {\"url\": \"https://broker.example.com:8443\",\n"
		 "            \"resource\": \"default/workload/key\"},\n"
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
	struct order o;

	(void)state;
	result_key_pub_hex(&customer, pub);
	/* RFC 8785 by hand: members sorted, no whitespace */
	snprintf(canon, sizeof(canon),
		 "{\"broker\":{\"resource\":\"default/workload/key\",\"url\":\"https://"
		 "broker.example.com:8443\"},\"customer_pubkey\":\"%s\",\"deadline_seconds\":600,"
		 "\"id\":\"order-1\",\"image\":\"default\",\"memory_mib\":1024,\"result\":{"
		 "\"upload_url\":\"https://files.example.com/r/order-1.cvmr\"},\"vcpus\":2,"
		 "\"workload\":{\"sha256\":\"" WL_SHA "\",\"size\":33554432,\"url\":\"https://"
		 "files.example.com/w/workload.img\"}}",
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
		 "  \"customer_pubkey\": \"%s\",\n"
		 "  \"result\": {\"upload_url\": \"https://files.example.com/r/order-1.cvmr\"},\n"
		 "  \"broker\": {\"url\": \"https://broker.example.com:8443\", \"resource\": "
		 "\"default/workload/key\"},\n"
		 "  \"workload\": {\"size\": 33554432, \"url\": "
		 "\"https://files.example.com/w/workload.img\", \"sha256\": \"" WL_SHA "\"}\n}\n",
		 sighex, pub);
	assert_int_equal(order_parse(order, strlen(order), NULL, &o, err, sizeof(err)), 0);
	assert_memory_equal(o.sha256, d256, 32);
	assert_memory_equal(o.sha384, d384, 48);
	assert_memory_equal(o.signature, compact, 64);
	assert_string_equal(o.id, "order-1");
	assert_string_equal(o.workload_url, "https://files.example.com/w/workload.img");
	assert_int_equal(o.workload_size, 33554432);
	assert_int_equal(o.workload_sha256[0], 0x00);
	assert_int_equal(o.workload_sha256[31], 0xff);
	assert_string_equal(o.broker_url, "https://broker.example.com:8443");
	assert_string_equal(o.broker_resource, "default/workload/key");
	assert_string_equal(o.image, "default");
	assert_int_equal(o.vcpus, 2);
	assert_int_equal(o.memory_mib, 1024);
	assert_int_equal(o.deadline_seconds, 600);
	assert_string_equal(o.upload_url, "https://files.example.com/r/order-1.cvmr");
	assert_memory_equal(o.customer_pub, customer.pub, 33);
}

static void test_sign_is_deterministic_and_canonical(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
	_cleanup_free_ char *in = text_of(root), *a = NULL, *b = NULL, *canon = NULL;
	_cleanup_(cJSON_Deletep) cJSON *back = NULL;
	struct order o;
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
	struct order o;
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
	struct order o;
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

static void apply(cJSON *root, const struct change *c)
{
	char first[64];
	const char *dot = strchr(c->path, '.');
	cJSON *obj = root;
	const char *key = c->path;

	if (dot) {
		snprintf(first, sizeof(first), "%.*s", (int)(dot - c->path), c->path);
		obj = cJSON_GetObjectItemCaseSensitive(root, first);
		assert_non_null(obj);
		key = dot + 1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	if (c->value) {
		cJSON *v = cJSON_Parse(c->value);

		assert_non_null(v);
		cJSON_AddItemToObject(obj, key, v);
	}
}

static void refuse_each(const struct change *c, size_t n, int code)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
		struct order o;
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
		{ "workload.mirror", "\"x\"", "unknown member \"mirror\" in workload" },
		{ "broker.cacert", "\"x\"", "unknown member \"cacert\" in broker" },
		{ "result.method", "\"PUT\"", "unknown member \"method\" in result" },
		{ "bad\nname", "1", "unknown member \"(unprintable)\"" },
		{ "id", NULL, "id is missing" },
		{ "workload", NULL, "workload is missing" },
		{ "workload.url", NULL, "workload.url is missing" },
		{ "workload.sha256", NULL, "workload.sha256 is missing" },
		{ "workload.size", NULL, "workload.size is missing" },
		{ "broker", NULL, "broker is missing" },
		{ "broker.url", NULL, "broker.url is missing" },
		{ "broker.resource", NULL, "broker.resource is missing" },
		{ "image", NULL, "image is missing" },
		{ "vcpus", NULL, "vcpus is missing" },
		{ "memory_mib", NULL, "memory_mib is missing" },
		{ "deadline_seconds", NULL, "deadline_seconds is missing" },
		{ "result", NULL, "result is missing" },
		{ "result.upload_url", NULL, "result.upload_url is missing" },
		{ "customer_pubkey", NULL, "customer_pubkey is missing" },
		{ "id", "7", "id is not a string" },
		{ "workload", "[]", "workload is not an object" },
		{ "broker", "\"https://b\"", "broker is not an object" },
		{ "result", "null", "result is not an object" },
		{ "image", "[\"default\"]", "image is not a string" },
		{ "vcpus", "\"2\"", "vcpus is not a whole number" },
		{ "vcpus", "true", "vcpus is not a whole number" },
		{ "vcpus", "null", "vcpus is not a whole number" },
		{ "memory_mib", "1024.5", "memory_mib is not a whole number" },
		{ "deadline_seconds", "-1", "deadline_seconds is not a whole number" },
		{ "workload.size", "1e300", "workload.size is not a whole number" },
		{ "workload.size", "1e16", "workload.size is not a whole number" },
		{ "workload.sha256", "1", "workload.sha256 is not 64 hex digits" },
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
		{ "workload.sha256", "\"" WL_SHA "00\"", "workload.sha256 is not 64 hex digits" },
		{ "workload.sha256",
		  "\"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"",
		  "workload.sha256 is not 64 hex digits" },
		{ "workload.size", "0", "workload.size: 0 not in 1..1099511627776" },
		{ "workload.size", "1099511627777", "workload.size: 1099511627777 not in" },
		{ "broker.resource", "\"default/key\"", "broker.resource: not REPO/TYPE/TAG" },
		{ "broker.resource", "\"a/b/c/d\"", "broker.resource: not REPO/TYPE/TAG" },
		{ "broker.resource", "\"a/../c\"", "broker.resource: not REPO/TYPE/TAG" },
		{ "broker.resource", "\".a/b/c\"", "broker.resource: not REPO/TYPE/TAG" },
		{ "broker.resource", "\"a//c\"", "broker.resource: not REPO/TYPE/TAG" },
		{ "broker.resource", "\"a/b/c/\"", "broker.resource: not REPO/TYPE/TAG" },
		{ "broker.resource", "\"a/b c/d\"", "broker.resource: not REPO/TYPE/TAG" },
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
	const char *const where[] = { "workload.url", "broker.url", "result.upload_url" };

	(void)state;
	for (size_t w = 0; w < ARRAY_SIZE(where); w++) {
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			char want[64];
			struct change c = { where[w], bad[i], want };

			snprintf(want, sizeof(want), "%s: not an http:// or https:// URL",
				 where[w]);
			refuse_each(&c, 1, -EBADMSG);
		}
	}
}

static void test_refuses_a_broker_without_tls(void **state)
{
	static const struct change c[] = {
		{ "broker.url", "\"http://broker.example.com:8443\"", "broker.url: https:// only" },
	};

	(void)state;
	refuse_each(c, ARRAY_SIZE(c), -EBADMSG);
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
		struct order o;
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
	struct order o;
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
		{ "workload.url", "\"https://files.example.com/w/other.img\"", "" },
		{ "result.upload_url", "\"https://attacker.example.com/r\"", "" },
		{ "id", "\"order-2\"", "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		_cleanup_(cJSON_Deletep) cJSON *root = base_order(&customer);
		struct order o;
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
	struct order o;
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
	struct order o;
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
	struct order o;
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
	const struct order_limits exact = { 2, 1024, 600, 33554432 };
	const struct {
		struct order_limits lim;
		const char *want;
	} c[] = {
		{ { 1, 1024, 600, 33554432 }, "E_ORDER_LIMIT: vcpus 2 is over the provider's 1" },
		{ { 2, 1023, 600, 33554432 }, "E_ORDER_LIMIT: memory_mib 1024 is over" },
		{ { 2, 1024, 599, 33554432 }, "E_ORDER_LIMIT: deadline_seconds 600 is over" },
		{ { 2, 1024, 600, 33554431 }, "E_ORDER_LIMIT: workload.size 33554432 is over" },
	};
	struct order o;
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
		cmocka_unit_test(test_sign_is_deterministic_and_canonical),
		cmocka_unit_test(test_sign_adds_the_missing_customer_pubkey),
		cmocka_unit_test(test_sign_refuses_an_order_naming_another_key),
		cmocka_unit_test(test_sign_replaces_an_old_signature),
		cmocka_unit_test(test_sign_refuses_what_is_not_an_order),
		cmocka_unit_test(test_refuses_unknown_missing_and_mistyped_members),
		cmocka_unit_test(test_refuses_values_out_of_the_format),
		cmocka_unit_test(test_refuses_urls_other_than_plain_http_and_https),
		cmocka_unit_test(test_refuses_a_broker_without_tls),
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
