/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Orders, version 2 (docs/order.md): the format, its signature and the
 * provider's limits, read as hostile input by the host, the agent and each
 * key broker alike. Strict members, types and ranges (lib/json_schema.c),
 * then the signature (compact ECDSA on secp256k1, low S, over SHA-256 of
 * the RFC 8785 form without "signature"), then the limits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <secp256k1.h>

#include "lib/json_schema.h"
#include "lib/lib.h"
#include "measurement/measurement.h"
#include "measurement/order.h"

#define E_ORDER "E_ORDER: "
#define E_VERSION "E_ORDER_VERSION: "
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

static int check_url(struct json_reader *rd, const char *sub, const char *url)
{
	const char *h;
	size_t n;
	uint16_t port;
	bool https;

	if (url_split(url, &https, &h, &n, &port) < 0)
		return json_reader_fail(rd, sub,
					"not an http:// or https:// URL with a host name or IPv4 "
					"address, no user name, no fragment");
	return 0;
}

/* ---- names ---- */

/* [first][rest]* of at most max bytes: first from a-z0-9, rest from a-z0-9 and extra. */
static bool name_valid(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/* An image name is a directory name of the provider's: [a-z0-9][a-z0-9._-]*. */
static bool image_name_valid(const char *s)
{
	return name_valid(s, ORDER_IMAGE_MAX, "._-");
}

/* An input's name, and the last component of its mount: [a-z0-9][a-z0-9_-]*, at most 32. */
static bool input_name_valid(const char *s)
{
	return name_valid(s, ORDER_INPUT_NAME_MAX, "_-");
}

/* ---- an input: its volume, its broker, its mount ---- */

#define VSTR(f) \
	.type = JSON_STRING, .flags = JSON_REQUIRED, JSON_FIELD(struct order_input, f), .min = 1

static int check_volume(struct json_reader *rd, void *base)
{
	return check_url(rd, ".url", ((struct order_input *)base)->url);
}

static const struct json_member volume_members[] = {
	{ "url", VSTR(url) },
	{ "sha256", .type = JSON_HEX, .flags = JSON_REQUIRED,
	  JSON_FIELD(struct order_input, sha256) },
	{ "size", .type = JSON_INT, .flags = JSON_REQUIRED, JSON_FIELD(struct order_input, size),
	  .min = 1, .max = ORDER_MAX_WORKLOAD_BYTES },
	{ "luks_header_sha256", .type = JSON_HEX, .flags = JSON_REQUIRED,
	  JSON_FIELD(struct order_input, luks_header_sha256) },
};

static const struct json_schema volume_schema = { volume_members, ARRAY_SIZE(volume_members),
						  check_volume };

/* "ca": PEM text of at least one X.509 certificate, kept on the heap. */
static int read_ca(struct json_reader *rd, const cJSON *v, void *field)
{
	const char *s;
	BIO *b;
	X509 *x;
	int r = json_reader_string(rd, v, 1, ORDER_CA_MAX, &s);

	if (r < 0)
		return r;
	b = BIO_new_mem_buf(s, (int)strlen(s));
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	X509_free(x);
	BIO_free(b);
	if (!x)
		return json_reader_fail(rd, "", "not a PEM certificate");
	if (!(*(char **)field = strdup(s)))
		return -ENOMEM;
	return 0;
}

static int check_broker(struct json_reader *rd, void *base)
{
	struct order_broker *b = base;
	const char *h;
	size_t n;
	bool https;

	if (url_split(b->url, &https, &h, &n, &b->port) < 0 || !https ||
	    h[n + (h[n] == ':' ? strcspn(h + n, "/?#") : 0)] != 0)
		return json_reader_fail(rd, ".url",
					"not https://HOST[:PORT] (a host name or IPv4 address, no "
					"path)");
	memcpy(b->host, h, n);
	b->host[n] = 0;
	if (!kbs_resource_path_valid(b->resource))
		return json_reader_fail(
			rd, ".resource",
			"not REPO/TYPE/TAG of [A-Za-z0-9._-], none starting with a dot");
	if (!!b->ca == b->has_spki)
		return json_reader_fail(rd, "", "give exactly one of ca and spki_sha256");
	return 0;
}

#define BSTR(f) \
	.type = JSON_STRING, .flags = JSON_REQUIRED, JSON_FIELD(struct order_broker, f), .min = 1

static const struct json_member broker_members[] = {
	{ "url", BSTR(url) },
	{ "resource", BSTR(resource) },
	{ "ca", .type = JSON_CUSTOM, JSON_FIELD(struct order_broker, ca), .read = read_ca },
	{ "spki_sha256", .type = JSON_HEX, .flags = JSON_HAS,
	  JSON_FIELD(struct order_broker, spki_sha256),
	  JSON_HAS_FIELD(struct order_broker, has_spki) },
};

static const struct json_schema broker_schema = { broker_members, ARRAY_SIZE(broker_members),
						  check_broker };

static int check_input(struct json_reader *rd, void *base)
{
	struct order_input *in = base;
	const char *leaf = in->mount + strlen("/inputs/");

	if (!input_name_valid(in->name))
		return json_reader_fail(rd, ".name", "not 1 to %d of [a-z0-9_-], starting a-z0-9",
					ORDER_INPUT_NAME_MAX);
	if (!in->mount[0])
		snprintf(in->mount, sizeof(in->mount), "/inputs/%s", in->name);
	else if (strncmp(in->mount, "/inputs/", 8) || !input_name_valid(leaf))
		return json_reader_fail(rd, ".mount", "not /inputs/NAME (NAME of [a-z0-9_-])");
	return 0;
}

static const char *const role_names[] = { "solution", "data", NULL };

static const struct json_member input_members[] = {
	{ "name", .type = JSON_STRING, .flags = JSON_REQUIRED, JSON_FIELD(struct order_input, name),
	  .min = 1 },
	{ "role", .type = JSON_ENUM, .flags = JSON_REQUIRED, JSON_FIELD(struct order_input, role),
	  .names = role_names, .list = "solution, data" },
	{ "volume", .type = JSON_OBJECT, .flags = JSON_REQUIRED, .off = 0,
	  .object = &volume_schema },
	{ "broker", .type = JSON_OBJECT, .flags = JSON_REQUIRED,
	  JSON_FIELD(struct order_input, broker), .object = &broker_schema },
	{ "mount", .type = JSON_STRING, JSON_FIELD(struct order_input, mount), .min = 1 },
};

static const struct json_schema input_schema = { input_members, ARRAY_SIZE(input_members),
						 check_input };

/* inputs[]: 1 to ORDER_INPUTS_MAX objects, each by input_schema. */
static int read_inputs(struct json_reader *rd, const cJSON *v, void *field)
{
	struct order *o = (struct order *)((char *)field - offsetof(struct order, inputs));
	const cJSON *e;
	char sub[16];
	int r;

	if (!cJSON_IsArray(v))
		return json_reader_fail(rd, "", "not an array");
	if (cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > ORDER_INPUTS_MAX)
		return json_reader_fail(rd, "", "%d inputs, not 1 to %d", cJSON_GetArraySize(v),
					ORDER_INPUTS_MAX);
	cJSON_ArrayForEach(e, v) {
		snprintf(sub, sizeof(sub), "[%zu]", o->ninputs);
		if ((r = json_reader_object(rd, sub, e, &input_schema, &o->inputs[o->ninputs])) < 0)
			return r;
		o->ninputs++;
	}
	return 0;
}

/* ---- the order ---- */

#define STR(f) .type = JSON_STRING, .flags = JSON_REQUIRED, JSON_FIELD(struct order, f), .min = 1
#define INT(f, lo, hi) \
	.type = JSON_INT, .flags = JSON_REQUIRED, JSON_FIELD(struct order, f), .min = lo, .max = hi

static int check_result(struct json_reader *rd, void *base)
{
	return check_url(rd, ".upload_url", ((struct order *)base)->upload_url);
}

static const struct json_member result_members[] = {
	{ "upload_url", STR(upload_url) },
};

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

/* One solution; unique names and mounts; each distinct broker HOST:PORT numbered. */
static int check_inputs(struct json_reader *rd, struct order *o)
{
	size_t solutions = 0;
	char sub[40];

	for (size_t i = 0; i < o->ninputs; i++) {
		struct order_input *in = &o->inputs[i];
		size_t k;

		snprintf(sub, sizeof(sub), ".inputs[%zu]", i);
		if (in->role == ORDER_ROLE_SOLUTION && solutions++ == 0)
			o->solution = i;
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(o->inputs[j].name, in->name))
				return json_reader_fail(rd, sub,
							"name \"%s\" is taken by inputs[%zu]",
							in->name, j);
			if (!strcmp(o->inputs[j].mount, in->mount))
				return json_reader_fail(rd, sub, "mount %s is taken by inputs[%zu]",
							in->mount, j);
		}
		for (k = 0; k < i; k++)
			if (!strcmp(o->inputs[k].broker.host, in->broker.host) &&
			    o->inputs[k].broker.port == in->broker.port)
				break;
		if (k < i) {
			in->broker.forward = o->inputs[k].broker.forward;
		} else if (o->nbrokers == ORDER_BROKERS_MAX) {
			return json_reader_fail(rd, sub, "more than %d brokers", ORDER_BROKERS_MAX);
		} else {
			in->broker.forward = o->nbrokers++;
		}
	}
	if (solutions != 1)
		return json_reader_fail(rd, ".inputs", "%zu inputs of role solution, not 1",
					solutions);
	return 0;
}

static int check_order(struct json_reader *rd, void *base)
{
	struct order *o = base;

	if (!result_order_id_valid(o->id))
		return json_reader_fail(rd, ".id", "not 1 to %d of [A-Za-z0-9._:-]",
					RESULT_ORDER_ID_MAX);
	if (!image_name_valid(o->image))
		return json_reader_fail(rd, ".image", "not [a-z0-9][a-z0-9._-]*");
	return check_inputs(rd, o);
}

/* "version": the number 2 (check_version named any other number already). */
static int read_version(struct json_reader *rd, const cJSON *v, void *field)
{
	(void)field;
	if (!cJSON_IsNumber(v) || v->valuedouble != ORDER_VERSION)
		return json_reader_fail(rd, "", "not %d", ORDER_VERSION);
	return 0;
}

/* "signature" is read by check_signature(), after the shape. */
static int read_nothing(struct json_reader *rd, const cJSON *v, void *field)
{
	(void)rd, (void)v, (void)field;
	return 0;
}

static const struct json_member order_members[] = {
	{ "version", .type = JSON_CUSTOM, .flags = JSON_REQUIRED, .read = read_version },
	{ "id", STR(id) },
	{ "image", STR(image) },
	{ "vcpus", INT(vcpus, 1, ORDER_MAX_VCPUS) },
	{ "memory_mib", INT(memory_mib, 64, ORDER_MAX_MEMORY_MIB) },
	{ "deadline_seconds", INT(deadline_seconds, 1, ORDER_MAX_DEADLINE_SECONDS) },
	{ "inputs", .type = JSON_CUSTOM, .flags = JSON_REQUIRED, JSON_FIELD(struct order, inputs),
	  .read = read_inputs },
	{ "result", .type = JSON_OBJECT, .flags = JSON_REQUIRED, .object = &result_schema },
	{ "customer_pubkey", .type = JSON_CUSTOM, .flags = JSON_REQUIRED,
	  JSON_FIELD(struct order, customer_pub), .read = read_pubkey },
	{ "signature", .type = JSON_CUSTOM, .read = read_nothing },
};

static const struct json_schema order_schema = { order_members, ARRAY_SIZE(order_members),
						 check_order };

/* The version, before the shape: the version 1 form is named as such. */
static int check_version(const cJSON *root, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");

	if (!v && (cJSON_GetObjectItemCaseSensitive(root, "workload") ||
		   cJSON_GetObjectItemCaseSensitive(root, "broker")))
		return set_error(err, errlen, -EBADMSG,
				 E_VERSION "a version 1 order (workload, broker); version %d names "
					   "its inputs[] (docs/order.md)",
				 ORDER_VERSION);
	if (cJSON_IsNumber(v) && v->valuedouble != ORDER_VERSION)
		return set_error(err, errlen, -EBADMSG,
				 E_VERSION "version %.0f; this cvm reads version %d orders",
				 v->valuedouble >= 0 && v->valuedouble < 1e6 ? v->valuedouble
									     : -1.0,
				 ORDER_VERSION);
	return 0;
}

static int parse_shape(const cJSON *root, struct order *o, char *err, size_t errlen)
{
	int r;

	if (!cJSON_IsObject(root))
		return set_error(err, errlen, -EBADMSG, E_ORDER "not a JSON object");
	if ((r = check_version(root, err, errlen)) < 0)
		return r;
	return json_schema_read(root, &order_schema, o, &order_doc, err, errlen);
}

/* The RFC 8785 form of root without its "signature" member, into o, with its digests. */
static int signed_form(const cJSON *root, struct order *o, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *copy = cJSON_Duplicate(root, true);

	if (!copy)
		return set_error(err, errlen, -ENOMEM, E_ORDER "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "signature");
	if (jcs_serialize(copy, &o->signed_form, &o->signed_len) < 0)
		return set_error(err, errlen, -EBADMSG, E_ORDER "no RFC 8785 form");
	if (EVP_Digest(o->signed_form, o->signed_len, o->sha256, NULL, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(o->signed_form, o->signed_len, o->sha384, NULL, EVP_sha384(), NULL) != 1)
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
	uint64_t total = 0;

	for (size_t i = 0; i < o->ninputs; i++)
		total += o->inputs[i].size; /* at most 16 x 2^40: no overflow */
	const struct {
		const char *name;
		uint64_t value, max;
	} f[] = {
		{ "vcpus", o->vcpus, lim->max_vcpus },
		{ "memory_mib", o->memory_mib, lim->max_memory_mib },
		{ "deadline_seconds", o->deadline_seconds, lim->max_deadline_seconds },
		{ "the inputs' volumes", total, lim->max_workload_bytes },
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
	if (len > ORDER_TEXT_MAX)
		return set_error(err, errlen, -EBADMSG, E_ORDER "larger than %u bytes",
				 ORDER_TEXT_MAX);
	if ((r = parse_text(text, len, &root, err, errlen)) < 0 ||
	    (r = parse_shape(root, o, err, errlen)) < 0 ||
	    (r = signed_form(root, o, err, errlen)) < 0 ||
	    (r = check_signature(root, o, err, errlen)) < 0 ||
	    (r = check_limits(o, lim ? lim : &max, err, errlen)) < 0) {
		order_free(o);
		return r;
	}
	return 0;
}

void order_free(struct order *o)
{
	for (size_t i = 0; i < ORDER_INPUTS_MAX; i++)
		free(o->inputs[i].broker.ca);
	free(o->signed_form);
	memset(o, 0, sizeof(*o));
}

void order_freep(struct order *o)
{
	order_free(o);
}

const struct order_input *order_input_by_resource(const struct order *o, const char *resource)
{
	for (size_t i = 0; i < o->ninputs; i++)
		if (!strcmp(o->inputs[i].broker.resource, resource))
			return &o->inputs[i];
	return NULL;
}

const struct order_broker *order_broker_at(const struct order *o, unsigned k)
{
	for (size_t i = 0; i < o->ninputs; i++)
		if (o->inputs[i].broker.forward == k)
			return &o->inputs[i].broker;
	return NULL;
}

/* SHA-256 of the RFC 8785 form of root (which has no "signature"). */
static int jcs_sha256(const cJSON *root, uint8_t digest[32], char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (jcs_serialize(root, &text, &len) < 0)
		return set_error(err, errlen, -EBADMSG, E_ORDER "no RFC 8785 form");
	if (EVP_Digest(text, len, digest, NULL, EVP_sha256(), NULL) != 1)
		return set_error(err, errlen, -EIO, E_ORDER "digest failed");
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
	struct order o = { 0 };
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
	    (r = jcs_sha256(root, digest, err, errlen)) < 0)
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
	r = order_parse(signed_text, n, NULL, &o, err, errlen);
	order_free(&o);
	if (r < 0)
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

int order_from_init_data(const cJSON *request, struct order *o, char *err, size_t errlen)
{
	static const char *const names[] = { "format", "body", "signature" };
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(request, "init-data");
	_cleanup_(cJSON_Deletep) cJSON *order = NULL;
	_cleanup_free_ char *text = NULL;
	const char *format, *body, *sig;
	size_t len;

	memset(o, 0, sizeof(*o));
	if (!id)
		return -ENOENT;
	if (!cJSON_IsObject(id) || json_unknown_member(id, names, ARRAY_SIZE(names)) ||
	    json_get_string(id, "format", &format) < 0 || strcmp(format, "json") ||
	    json_get_string(id, "body", &body) < 0 || json_get_string(id, "signature", &sig) < 0 ||
	    strlen(body) > ORDER_TEXT_MAX || strlen(sig) != 128)
		return set_error(err, errlen, -EINVAL,
				 "init-data must be {\"format\": \"json\", \"body\": the order's "
				 "signed form, \"signature\": 128 hex digits}");
	if (json_parse(body, strlen(body), &order) < 0 || !cJSON_IsObject(order) ||
	    cJSON_GetObjectItemCaseSensitive(order, "signature") ||
	    !cJSON_AddStringToObject(order, "signature", sig) ||
	    jcs_serialize(order, &text, &len) < 0)
		return set_error(err, errlen, -EINVAL,
				 "init-data.body is not an order's signed form");
	return order_parse(text, len, NULL, o, err, errlen);
}
