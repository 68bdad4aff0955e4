/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Orders (docs/order.md): what a customer asks a provider to run, signed
 * with the customer's secp256k1 key. The provider's host reads an order as
 * hostile input: strict members, types and ranges, then the signature
 * (compact ECDSA, low S, over SHA-256 of the RFC 8785 form without
 * "signature"), then the provider's own limits. And `cvm order sign|check`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <secp256k1.h>

#include "host/cvm.h"
#include "lib/json_schema.h"
#include "lib/lib.h"

#define E_ORDER "E_ORDER: "
#define E_SIG "E_ORDER_SIGNATURE: "
#define E_LIMIT "E_ORDER_LIMIT: "

static const struct json_words order_words = {
	.not_object = "{path} is not an object",
	.unknown = "unknown member \"{name}\" in {in}",
	.missing = "{path} is missing",
	.not_int = "{path} is not a whole number",
	.not_hex = "{path} is not {digits} hex digits",
	.not_string = "{path} is not a string",
};

static const struct json_doc order_doc = {
	.code = E_ORDER,
	.root = "the order",
	.error = -EBADMSG,
	.words = &order_words,
};

/* ---- URLs ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hexdigit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A DNS name or dotted IPv4 address: labels of [A-Za-z0-9-], not starting or ending with '-'. */
static bool host_valid(const char *h, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? h[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63 || h[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(c) || (c == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

/*
 * Path and query (RFC 3986 §3.3, §3.4): unreserved, sub-delims, ':', '@',
 * '/', '?' and percent-encodings. No fragment, no space, no control byte.
 */
static bool rest_valid(const char *s)
{
	for (; *s; s++) {
		if (*s == '%') {
			if (!is_hexdigit(s[1]) || !is_hexdigit(s[2]))
				return false;
			s += 2;
		} else if (!is_alnum(*s) && !strchr("-._~!$&'()*+,;=:@/?", *s)) {
			return false;
		}
	}
	return true;
}

/* Splits scheme://host[:port][/...]; -EINVAL unless every part is valid. */
static int url_split(const char *url, bool *https, const char **host, size_t *hostlen,
		     uint16_t *port)
{
	const char *a, *end, *colon;
	unsigned long p;

	if (!strncmp(url, "https://", 8))
		*https = true, a = url + 8;
	else if (!strncmp(url, "http://", 7))
		*https = false, a = url + 7;
	else
		return -EINVAL;
	end = a + strcspn(a, "/?#");
	colon = memchr(a, ':', (size_t)(end - a));
	*host = a;
	*hostlen = (size_t)((colon ? colon : end) - a);
	if (!host_valid(a, *hostlen) || !rest_valid(end))
		return -EINVAL;
	*port = *https ? 443 : 80;
	if (colon) {
		if (end - colon < 2 || end - colon > 6)
			return -EINVAL;
		p = 0;
		for (const char *c = colon + 1; c < end; c++) {
			if (*c < '0' || *c > '9')
				return -EINVAL;
			p = p * 10 + (unsigned long)(*c - '0');
		}
		if (p == 0 || p > 65535)
			return -EINVAL;
		*port = (uint16_t)p;
	}
	return 0;
}

int order_url_host_port(const char *url, char *host, size_t cap, uint16_t *port)
{
	const char *h;
	size_t n;
	bool https;

	if (url_split(url, &https, &h, &n, port) < 0)
		return -EINVAL;
	if (n >= cap)
		return -E2BIG;
	memcpy(host, h, n);
	host[n] = 0;
	return 0;
}

static int check_url(struct json_reader *rd, const char *sub, const char *url, bool https_only)
{
	const char *h;
	size_t n;
	uint16_t port;
	bool https;

	if (url_split(url, &https, &h, &n, &port) < 0)
		return json_reader_fail(rd, sub,
					"not an http:// or https:// URL with a host name or IPv4 "
					"address, no user name, no fragment");
	if (https_only && !https)
		return json_reader_fail(rd, sub, "https:// only");
	return 0;
}

/* ---- names ---- */

/* An image name is a directory name of the provider's: [a-z0-9][a-z0-9._-]*. */
static bool image_name_valid(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

/* ---- the parts of an order ---- */

#define STR(f) .type = JSON_STRING, .flags = JSON_REQUIRED, JSON_FIELD(struct order, f), .min = 1
#define INT(f, lo, hi) \
	.type = JSON_INT, .flags = JSON_REQUIRED, JSON_FIELD(struct order, f), .min = lo, .max = hi

static int check_workload(struct json_reader *rd, void *base)
{
	return check_url(rd, ".url", ((struct order *)base)->workload_url, false);
}

static const struct json_member workload_members[] = {
	{ "url", STR(workload_url) },
	{ "sha256", .type = JSON_HEX, .flags = JSON_REQUIRED,
	  JSON_FIELD(struct order, workload_sha256) },
	{ "size", INT(workload_size, 1, ORDER_MAX_WORKLOAD_BYTES) },
};

static int check_broker(struct json_reader *rd, void *base)
{
	const struct order *o = base;
	int r = check_url(rd, ".url", o->broker_url, true);

	if (r == 0 && !kbs_resource_path_valid(o->broker_resource))
		r = json_reader_fail(
			rd, ".resource",
			"not REPO/TYPE/TAG of [A-Za-z0-9._-], none starting with a dot");
	return r;
}

static const struct json_member broker_members[] = {
	{ "url", STR(broker_url) },
	{ "resource", STR(broker_resource) },
};

static int check_result(struct json_reader *rd, void *base)
{
	return check_url(rd, ".upload_url", ((struct order *)base)->upload_url, false);
}

static const struct json_member result_members[] = {
	{ "upload_url", STR(upload_url) },
};

static const struct json_schema workload_schema = { workload_members, ARRAY_SIZE(workload_members),
						    check_workload };
static const struct json_schema broker_schema = { broker_members, ARRAY_SIZE(broker_members),
						  check_broker };
static const struct json_schema result_schema = { result_members, ARRAY_SIZE(result_members),
						  check_result };

static int read_pubkey(struct json_reader *rd, const cJSON *v, void *field)
{
	const char *s;
	int r = json_reader_string(rd, v, 1, 66, &s);

	if (r < 0)
		return r;
	if (result_pub_from_hex(s, field) < 0)
		return json_reader_fail(rd, "", "not a compressed secp256k1 point (66 hex digits)");
	return 0;
}

static int check_order(struct json_reader *rd, void *base)
{
	const struct order *o = base;

	if (!result_order_id_valid(o->id))
		return json_reader_fail(rd, ".id", "not 1 to %d of [A-Za-z0-9._:-]",
					RESULT_ORDER_ID_MAX);
	if (!image_name_valid(o->image))
		return json_reader_fail(rd, ".image", "not [a-z0-9][a-z0-9._-]*");
	return 0;
}

/* "signature" is read by check_signature(), after the shape. */
static int read_nothing(struct json_reader *rd, const cJSON *v, void *field)
{
	(void)rd, (void)v, (void)field;
	return 0;
}

static const struct json_member order_members[] = {
	{ "id", STR(id) },
	{ "workload", .type = JSON_OBJECT, .flags = JSON_REQUIRED, .object = &workload_schema },
	{ "broker", .type = JSON_OBJECT, .flags = JSON_REQUIRED, .object = &broker_schema },
	{ "image", STR(image) },
	{ "vcpus", INT(vcpus, 1, ORDER_MAX_VCPUS) },
	{ "memory_mib", INT(memory_mib, 64, ORDER_MAX_MEMORY_MIB) },
	{ "deadline_seconds", INT(deadline_seconds, 1, ORDER_MAX_DEADLINE_SECONDS) },
	{ "result", .type = JSON_OBJECT, .flags = JSON_REQUIRED, .object = &result_schema },
	{ "customer_pubkey", .type = JSON_CUSTOM, .flags = JSON_REQUIRED,
	  JSON_FIELD(struct order, customer_pub), .read = read_pubkey },
	{ "signature", .type = JSON_CUSTOM, .read = read_nothing },
};

static const struct json_schema order_schema = { order_members, ARRAY_SIZE(order_members),
						 check_order };

static int parse_shape(const cJSON *root, struct order *o, char *err, size_t errlen)
{
	if (!cJSON_IsObject(root))
		return set_error(err, errlen, -EBADMSG, E_ORDER "not a JSON object");
	return json_schema_read(root, &order_schema, o, &order_doc, err, errlen);
}

/* SHA-256 and SHA-384 of the RFC 8785 form of root without its "signature" member. */
static int signed_digests(const cJSON *root, uint8_t sha256[32], uint8_t sha384[48], char *err,
			  size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *copy = cJSON_Duplicate(root, true);
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (!copy)
		return set_error(err, errlen, -ENOMEM, E_ORDER "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "signature");
	if (jcs_serialize(copy, &text, &len) < 0)
		return set_error(err, errlen, -EBADMSG, E_ORDER "no RFC 8785 form");
	if (EVP_Digest(text, len, sha256, NULL, EVP_sha256(), NULL) != 1 ||
	    (sha384 && EVP_Digest(text, len, sha384, NULL, EVP_sha384(), NULL) != 1))
		return set_error(err, errlen, -EIO, E_ORDER "digest failed");
	return 0;
}

static int check_signature(const cJSON *root, struct order *o, char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "signature");
	secp256k1_ecdsa_signature sig;
	secp256k1_pubkey pk;

	if (!m)
		return set_error(err, errlen, -EKEYREJECTED, E_SIG "the order is not signed");
	if (!cJSON_IsString(m) || strlen(m->valuestring) != 128 ||
	    hex_decode_exact(m->valuestring, o->signature, 64) < 0)
		return set_error(err, errlen, -EKEYREJECTED,
				 E_SIG "not 128 hex digits (compact r || s)");
	if (!cvm_secp256k1() ||
	    !secp256k1_ecdsa_signature_parse_compact(cvm_secp256k1(), &sig, o->signature))
		return set_error(err, errlen, -EKEYREJECTED, E_SIG "r or s out of range");
	/* normalize returns 1 when s was high: the other of the two valid forms */
	if (secp256k1_ecdsa_signature_normalize(cvm_secp256k1(), NULL, &sig))
		return set_error(err, errlen, -EKEYREJECTED, E_SIG "high S (not the low-S form)");
	if (!secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, o->customer_pub, 33) ||
	    !secp256k1_ecdsa_verify(cvm_secp256k1(), &sig, o->sha256, &pk))
		return set_error(err, errlen, -EKEYREJECTED,
				 E_SIG "does not verify with customer_pubkey");
	return 0;
}

static int check_limits(const struct order *o, const struct order_limits *lim, char *err,
			size_t errlen)
{
	const struct {
		const char *name;
		uint64_t value, max;
	} f[] = {
		{ "vcpus", o->vcpus, lim->max_vcpus },
		{ "memory_mib", o->memory_mib, lim->max_memory_mib },
		{ "deadline_seconds", o->deadline_seconds, lim->max_deadline_seconds },
		{ "workload.size", o->workload_size, lim->max_workload_bytes },
	};

	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (f[i].value > f[i].max)
			return set_error(err, errlen, -ERANGE,
					 E_LIMIT "%s %llu is over the provider's %llu", f[i].name,
					 (unsigned long long)f[i].value,
					 (unsigned long long)f[i].max);
	return 0;
}

static int parse_text(const char *text, size_t len, cJSON **root, char *err, size_t errlen)
{
	int r = json_parse(text, len, root);

	if (r == -EFBIG)
		return set_error(err, errlen, -EBADMSG, E_ORDER "larger than %u bytes",
				 CVM_CAP_JSON);
	if (r < 0)
		return set_error(err, errlen, -EBADMSG,
				 E_ORDER "not JSON (one UTF-8 value, no duplicate member)");
	return 0;
}

int order_parse(const char *text, size_t len, const struct order_limits *lim, struct order *o,
		char *err, size_t errlen)
{
	const struct order_limits max = ORDER_LIMITS_MAX;
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	int r;

	memset(o, 0, sizeof(*o));
	if ((r = parse_text(text, len, &root, err, errlen)) < 0 ||
	    (r = parse_shape(root, o, err, errlen)) < 0 ||
	    (r = signed_digests(root, o->sha256, o->sha384, err, errlen)) < 0 ||
	    (r = check_signature(root, o, err, errlen)) < 0 ||
	    (r = check_limits(o, lim ? lim : &max, err, errlen)) < 0) {
		memset(o, 0, sizeof(*o));
		return r;
	}
	return 0;
}

/* customer_pubkey: added when absent, and it must name k. */
static int sign_pubkey(cJSON *root, const struct result_key *k, char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "customer_pubkey");
	uint8_t pub[33];
	char hex[67];

	result_key_pub_hex(k, hex);
	if (!m)
		return cJSON_AddStringToObject(root, "customer_pubkey", hex)
			       ? 0
			       : set_error(err, errlen, -ENOMEM, E_ORDER "out of memory");
	if (!cJSON_IsString(m) || result_pub_from_hex(m->valuestring, pub) < 0)
		return set_error(err, errlen, -EBADMSG,
				 E_ORDER
				 "customer_pubkey: not a compressed secp256k1 point (66 hex "
				 "digits)");
	if (memcmp(pub, k->pub, 33))
		return set_error(err, errlen, -EKEYREJECTED,
				 E_SIG "customer_pubkey names another key than the signing key");
	return 0;
}

int order_sign(const char *text, size_t len, const struct result_key *k, char **out, char *err,
	       size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	_cleanup_free_ char *signed_text = NULL;
	secp256k1_ecdsa_signature sig;
	uint8_t digest[32], compact[64];
	struct order o;
	size_t n;
	int r;

	if (!k->sk)
		return set_error(err, errlen, -EINVAL, E_SIG "no private key");
	if ((r = parse_text(text, len, &root, err, errlen)) < 0)
		return r;
	if (!cJSON_IsObject(root))
		return set_error(err, errlen, -EBADMSG, E_ORDER "not a JSON object");
	cJSON_DeleteItemFromObjectCaseSensitive(root, "signature");
	if ((r = sign_pubkey(root, k, err, errlen)) < 0 ||
	    (r = signed_digests(root, digest, NULL, err, errlen)) < 0)
		return r;
	/* RFC 6979 nonces: the same order and key give the same signature, low S */
	if (!cvm_secp256k1() ||
	    !secp256k1_ecdsa_sign(cvm_secp256k1(), &sig, digest, k->sk, NULL, NULL) ||
	    !secp256k1_ecdsa_signature_serialize_compact(cvm_secp256k1(), compact, &sig))
		return set_error(err, errlen, -EIO, E_SIG "signing failed");
	if (!json_add_hex(root, "signature", compact, sizeof(compact)) ||
	    jcs_serialize(root, &signed_text, &n) < 0)
		return set_error(err, errlen, -ENOMEM, E_ORDER "out of memory");
	/* what was signed must be an order: the same checks a provider makes */
	if ((r = order_parse(signed_text, n, NULL, &o, err, errlen)) < 0)
		return r;
	*out = signed_text;
	signed_text = NULL;
	return 0;
}

#define LIMIT(f, hi) .type = JSON_INT, JSON_FIELD(struct order_limits, f), .min = 1, .max = hi

static const struct json_member limits_members[] = {
	{ "max_vcpus", LIMIT(max_vcpus, ORDER_MAX_VCPUS) },
	{ "max_memory_mib", LIMIT(max_memory_mib, ORDER_MAX_MEMORY_MIB) },
	{ "max_deadline_seconds", LIMIT(max_deadline_seconds, ORDER_MAX_DEADLINE_SECONDS) },
	{ "max_workload_bytes", LIMIT(max_workload_bytes, ORDER_MAX_WORKLOAD_BYTES) },
};

static const struct json_schema limits_schema = JSON_SCHEMA(limits_members);

int order_limits_parse(const char *text, size_t len, struct order_limits *lim, char *err,
		       size_t errlen)
{
	static const struct json_doc doc = {
		.code = "E_LIMITS: ",
		.root = "the limits",
		.error = -EBADMSG,
		.words = &order_words,
	};
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;

	*lim = ORDER_LIMITS_MAX;
	if (json_parse(text, len, &root) < 0 || !cJSON_IsObject(root))
		return set_error(err, errlen, -EBADMSG, "E_LIMITS: not a JSON object");
	return json_schema_read(root, &limits_schema, lim, &doc, err, errlen);
}

/* ---- cvm order ---- */

static void usage(FILE *f)
{
	fputs("Usage: cvm order sign ORDER.json --key CUSTOMER.key -o SIGNED.json\n"
	      "       cvm order check SIGNED.json [--limits LIMITS.json]\n"
	      "\n"
	      "An order names the workload (URL, SHA-256, size), the key broker (URL and\n"
	      "resource), the image, vCPUs, memory, deadline, where the result goes and\n"
	      "the customer's secp256k1 public key; the customer signs it (compact\n"
	      "ECDSA, low S, over SHA-256 of its RFC 8785 form without \"signature\").\n"
	      "See docs/order.md.\n"
	      "\n"
	      "sign: adds customer_pubkey when absent (it must name the key when\n"
	      "present), replaces any signature, writes the signed order (RFC 8785).\n"
	      "  --key FILE        the customer's secp256k1 private key (PEM or 64 hex)\n"
	      "  -o, --output FILE the signed order\n"
	      "\n"
	      "check: verifies the order and its signature, then the provider's limits,\n"
	      "and prints the order id and the SHA-256 and SHA-384 of its signed form\n"
	      "(what the launch puts in SEV-SNP HOST_DATA and TDX MRCONFIGID).\n"
	      "  --limits FILE     {\"max_vcpus\", \"max_memory_mib\", \"max_deadline_seconds\",\n"
	      "                    \"max_workload_bytes\"}, each optional (default: the\n"
	      "                    format's bounds)\n"
	      "\n"
	      "Exit status: 0 signed or valid, 1 refused (one line: E_ORDER...), 2 usage\n"
	      "or file error.\n",
	      f);
}

static int read_json_file(const char *path, uint8_t **data, size_t *len)
{
	int r = file_read(path, CVM_CAP_JSON, data, len);

	if (r < 0)
		log_error_errno(r, "%s", path);
	return r;
}

static int sign_cmd(const char *in, const char *keyfile, const char *outfile)
{
	_cleanup_free_ uint8_t *data = NULL;
	_cleanup_free_ char *signed_text = NULL;
	struct result_key k = { 0 };
	char err[320];
	size_t len;
	int r;

	if (read_json_file(in, &data, &len) < 0)
		return EXIT_USAGE;
	if (result_key_load(keyfile, &k, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	r = order_sign((const char *)data, len, &k, &signed_text, err, sizeof(err));
	result_key_wipe(&k);
	if (r < 0) {
		log_error("%s: %s", in, err);
		return EXIT_REJECTED;
	}
	len = strlen(signed_text);
	signed_text[len] = '\n'; /* over the NUL: a text file, the length says where it ends */
	if (file_write_atomic(outfile, signed_text, len + 1, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int check_cmd(const char *in, const char *limits_file)
{
	struct order_limits lim = ORDER_LIMITS_MAX;
	_cleanup_free_ uint8_t *data = NULL;
	struct order o;
	char err[320], h256[65], h384[97];
	size_t len;

	if (limits_file) {
		_cleanup_free_ uint8_t *l = NULL;
		size_t ln;

		if (read_json_file(limits_file, &l, &ln) < 0)
			return EXIT_USAGE;
		if (order_limits_parse((const char *)l, ln, &lim, err, sizeof(err)) < 0) {
			log_error("%s: %s", limits_file, err);
			return EXIT_USAGE;
		}
	}
	if (read_json_file(in, &data, &len) < 0)
		return EXIT_USAGE;
	if (order_parse((const char *)data, len, &lim, &o, err, sizeof(err)) < 0) {
		log_error("%s: %s", in, err);
		return EXIT_REJECTED;
	}
	/* the signed form's digests: what SNP HOST_DATA and TDX MRCONFIGID carry at launch */
	hex_encode(o.sha256, sizeof(o.sha256), h256);
	hex_encode(o.sha384, sizeof(o.sha384), h384);
	printf("order %s\nsha256 %s\nsha384 %s\n", o.id, h256, h384);
	return EXIT_OK;
}

int order_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "limits", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *key = NULL, *out = NULL, *limits = NULL, *verb;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	verb = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "o:h", longopts, NULL)) != -1) {
		if (c == 'k')
			key = optarg;
		else if (c == 'o')
			out = optarg;
		else if (c == 'l')
			limits = optarg;
		else if (c == 'h') {
			usage(stdout);
			return EXIT_OK;
		} else {
			log_error("see 'cvm order --help'");
			return EXIT_USAGE;
		}
	}
	if (!strcmp(verb, "sign") && key && out && !limits && argc - 1 - optind == 1)
		return sign_cmd(argv[1 + optind], key, out);
	if (!strcmp(verb, "check") && !key && !out && argc - 1 - optind == 1)
		return check_cmd(argv[1 + optind], limits);
	if (strcmp(verb, "sign") && strcmp(verb, "check"))
		log_error("'%s' is not an order command (sign, check)", json_shown_name(verb));
	else
		log_error("wrong arguments for %s; see 'cvm order --help'", verb);
	return EXIT_USAGE;
}
