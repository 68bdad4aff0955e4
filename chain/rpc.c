/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Ethereum JSON-RPC client (chain/rpc.h). JSON-RPC 2.0 (jsonrpc.org/
 * specification) over HTTP POST; the methods and their encodings as
 * ethereum.org's "JSON-RPC API" and the execution-apis specification give
 * them. The node is hostile: an answer is capped while it arrives, parsed
 * strictly, and each value is read against what was asked (a receipt must
 * be of the transaction asked, a log of the contract and topics asked, a
 * transaction hash that of the bytes sent).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/bn.h>

#include "chain/chain.h"
#include "chain/rpc.h"
#include "lib/lib.h"

#define RPC_JSON_DEPTH 64
/* Ids, codes and seconds are JSON numbers, doubles on many nodes: exact up to 2^53. */
#define JSON_EXACT_MAX ((UINT64_C(1) << 53) - 1)
#define RPC_METHOD_MAX 64
#define RPC_WHAT_MAX 160
#define GAS_MIN 21000u
#define GAS_MAX (UINT64_C(1) << 53)
#define SUGGEST_BLOCKS 5
#define SUGGEST_PERCENTILE 50.0

/* ---- errors ---- */

/* "rpc: WHAT: WHY" into err; code returned. */
__attribute__((format(printf, 5, 6))) static int refuse(char *err, size_t errlen, int code,
							const char *what, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return set_error(err, errlen, code, "rpc: %s: %s", what, why);
}

/*
 * A node's text as it may reach a log: printable ASCII only (a '?' for each
 * other byte: no terminal escape, no newline, no lookalike), cut at max
 * bytes with "..." after.
 */
static void shown_text(const char *s, size_t max, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	for (; s[i] && i < max && o + 1 < cap; i++)
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i] && o + 4 <= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsNumber(v))
		return "a JSON number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "a string";
}

/* ---- strict JSON ---- */

/*
 * Whether the text holds the escape \u0000: cJSON would end the string
 * there, and "0x12\u0000zz" would read as "0x12". Every backslash of
 * valid JSON starts an escape inside a string, so a scan of the raw text
 * suffices.
 */
static bool has_nul_escape(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && n - i >= 6 && !memcmp(s + i + 2, "0000", 4))
			return true;
		i++; /* the escaped character is not the start of another escape */
	}
	return false;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/*
 * Whether an object has two members of one name (which would read as the
 * first here and as the last elsewhere). Names are sorted, so that a
 * hostile object of many members costs n log n, not n^2.
 */
static int has_duplicate(const cJSON *o, bool *dup)
{
	_cleanup_free_ const cJSON **v = NULL;
	const cJSON *m;
	size_t n = 0, i = 0;

	*dup = false;
	cJSON_ArrayForEach(m, o)
		n++;
	if (n < 2)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	cJSON_ArrayForEach(m, o)
		v[i++] = m;
	qsort(v, n, sizeof(*v), name_cmp);
	for (i = 1; i < n && !*dup; i++)
		*dup = !strcmp(v[i - 1]->string, v[i]->string);
	return 0;
}

static int tree_check(const cJSON *v, int depth, const char **why)
{
	const cJSON *m;
	bool dup;
	int r;

	if (depth > RPC_JSON_DEPTH) {
		*why = "nested too deep";
		return -EBADMSG;
	}
	if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {
		*why = "a number out of range";
		return -EBADMSG;
	}
	if (cJSON_IsObject(v)) {
		if ((r = has_duplicate(v, &dup)) < 0)
			return r;
		if (dup) {
			*why = "a duplicate member";
			return -EBADMSG;
		}
	}
	cJSON_ArrayForEach(m, v)
		if ((r = tree_check(m, depth + 1, why)) < 0)
			return r;
	return 0;
}

/* One JSON value and nothing after it but whitespace: the checks of json_parse, without its cap. */
static int json_strict(const char *body, size_t n, cJSON **out, const char **why)
{
	_cleanup_free_ char *copy = NULL;
	const char *end = NULL;
	cJSON *v;
	int r;

	*why = "not JSON";
	if (!n)
		return -EBADMSG;
	if (memchr(body, 0, n)) {
		*why = "a NUL byte";
		return -EBADMSG;
	}
	if (!utf8_valid((const uint8_t *)body, n)) {
		*why = "not UTF-8";
		return -EBADMSG;
	}
	if (has_nul_escape(body, n)) {
		*why = "a \\u0000 escape";
		return -EBADMSG;
	}
	copy = malloc(n + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, body, n);
	copy[n] = 0;
	v = cJSON_ParseWithOpts(copy, &end, false);
	if (!v)
		return -EBADMSG;
	end += strspn(end, " \t\r\n");
	if (*end) {
		*why = "bytes after the JSON value";
		cJSON_Delete(v);
		return -EBADMSG;
	}
	if ((r = tree_check(v, 0, why)) < 0) {
		cJSON_Delete(v);
		return r;
	}
	*out = v;
	return 0;
}

/* ---- the answer's envelope ---- */

/*
 * eth_rpc_parse_response, with the method named in errors (NULL: none) and
 * the node's error code in *code (0 unless -EREMOTEIO).
 */
static int parse_answer(const char *body, size_t n, uint64_t id, const char *method, cJSON **result,
			int64_t *code, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *v = NULL;
	const cJSON *jid, *res, *e, *ecode, *emsg;
	const char *why = NULL, *s;
	char pre[RPC_METHOD_MAX + 16], msg[ETH_RPC_NODE_MESSAGE_MAX + 4];
	int r;

	*result = NULL;
	*code = 0;
	snprintf(pre, sizeof(pre), "rpc: %s%s", method ? method : "", method ? ": " : "");
	r = json_strict(body, n, &v, &why);
	if (r == -ENOMEM)
		return set_error(err, errlen, r, "%sout of memory", pre);
	if (r < 0)
		goto bad;
	why = cJSON_IsArray(v) ? "a batch, not one answer" : "not an object";
	if (!cJSON_IsObject(v))
		goto bad;
	why = "no \"jsonrpc\": \"2.0\"";
	if (json_get_string(v, "jsonrpc", &s) < 0 || strcmp(s, "2.0"))
		goto bad;
	jid = cJSON_GetObjectItemCaseSensitive(v, "id");
	why = "no numeric id";
	if (!cJSON_IsNumber(jid))
		goto bad;
	why = "the answer to another request";
	if (jid->valuedouble != (double)id)
		goto bad;
	res = cJSON_GetObjectItemCaseSensitive(v, "result");
	e = cJSON_GetObjectItemCaseSensitive(v, "error");
	why = res ? "both a result and an error" : "neither a result nor an error";
	if (!res == !e)
		goto bad;
	if (res) {
		*result = cJSON_DetachItemViaPointer(v, (cJSON *)res);
		return 0;
	}
	ecode = cJSON_GetObjectItemCaseSensitive(e, "code");
	emsg = cJSON_GetObjectItemCaseSensitive(e, "message");
	why = "an error that is not an object";
	if (!cJSON_IsObject(e))
		goto bad;
	why = "an error without an integer code";
	if (!cJSON_IsNumber(ecode) || ecode->valuedouble != floor(ecode->valuedouble) ||
	    fabs(ecode->valuedouble) > (double)JSON_EXACT_MAX)
		goto bad;
	why = "an error without a message";
	if (!cJSON_IsString(emsg))
		goto bad;
	*code = (int64_t)ecode->valuedouble;
	shown_text(emsg->valuestring, ETH_RPC_NODE_MESSAGE_MAX, msg, sizeof(msg));
	return set_error(err, errlen, -EREMOTEIO, "%snode error %" PRId64 ": %s", pre, *code, msg);
bad:
	return set_error(err, errlen, -EBADMSG, "%sanswer is not JSON-RPC 2.0 (%s)", pre, why);
}

int eth_rpc_parse_response(const char *body, size_t n, uint64_t id, cJSON **result, char *err,
			   size_t errlen)
{
	int64_t code;

	return parse_answer(body, n, id, NULL, result, &code, err, errlen);
}

/* ---- the transport ---- */

/* What the errors show of a URL: scheme, host and port; "/..." for a path (it may hold a key). */
static int url_shown(const char *url, char *out, size_t cap)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0]) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		curl_url_get(u, CURLUPART_PATH, &path, 0);
		snprintf(out, cap, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
			 path && strcmp(path, "/") ? "/..." : "");
		r = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return r;
}

int eth_rpc_init(struct eth_rpc *r, const char *url, char *err, size_t errlen)
{
	struct curl_slist *h;
	CURL *c;

	*r = (struct eth_rpc){
		.url = url,
		.timeout_ms = ETH_RPC_TIMEOUT_MS,
		.max_response = ETH_RPC_MAX_RESPONSE,
		.next_id = 1,
	};
	if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)))
		return set_error(err, errlen, -EINVAL,
				 "rpc: the node's URL must start with http:// or https://");
	if (url_shown(url, r->shown, sizeof(r->shown)) < 0)
		return set_error(err, errlen, -EINVAL,
				 "rpc: the node's URL is not a URL with a host");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c = curl_easy_init()))
		return set_error(err, errlen, -ENOMEM, "rpc: libcurl cannot start");
	r->curl = c;
	/* no "Expect: 100-continue": a node that never answers it costs a second a call */
	h = curl_slist_append(NULL, "Content-Type: application/json");
	if (h)
		r->headers = h;
	if (!h || !(h = curl_slist_append(h, "Accept: application/json")) ||
	    !(h = curl_slist_append(h, "Expect:")) ||
	    curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    /* a proxy of the environment would see and steer every call */
	    curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "cvm") != CURLE_OK) {
		eth_rpc_free(r);
		return set_error(err, errlen, -ENOMEM, "rpc: libcurl cannot be set up");
	}
	return 0;
}

void eth_rpc_free(struct eth_rpc *r)
{
	if (r->curl)
		curl_easy_cleanup(r->curl);
	curl_slist_free_all(r->headers);
	r->curl = NULL;
	r->headers = NULL;
}

/* The body of an answer as it arrives, within its cap. */
struct body {
	uint8_t *p;
	size_t len, cap;
	bool over, nomem;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	int r = buf_append(&b->p, &b->len, p, size * n, b->cap);

	if (r == -EFBIG)
		b->over = true; /* 0 taken: libcurl stops the transfer */
	else if (r < 0)
		b->nomem = true;
	return r < 0 ? 0 : size * n;
}

static bool method_ok(const char *m)
{
	size_t n = m ? strlen(m) : 0;

	if (!n || n > RPC_METHOD_MAX)
		return false;
	for (; *m; m++)
		if (!(*m == '_' || (*m >= '0' && *m <= '9') || (*m >= 'a' && *m <= 'z') ||
		      (*m >= 'A' && *m <= 'Z')))
			return false;
	return true;
}

/* The request's text: the caller's params, consumed. */
static char *request_text(const char *method, uint64_t id, cJSON *params)
{
	_cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject();

	if (!req || !cJSON_AddStringToObject(req, "jsonrpc", "2.0") ||
	    !cJSON_AddNumberToObject(req, "id", (double)id) ||
	    !cJSON_AddStringToObject(req, "method", method) ||
	    !cJSON_AddItemToObject(req, "params", params)) {
		if (!cJSON_GetObjectItemCaseSensitive(req, "params"))
			cJSON_Delete(params);
		return NULL;
	}
	return cJSON_PrintUnformatted(req);
}

/* What a transfer that did not end in an answer's body comes to. */
static int transport_error(struct eth_rpc *r, const char *method, CURLcode rc, const char *errbuf,
			   long timeout, char *err, size_t errlen)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	long oserr = 0;

	if (rc == CURLE_OPERATION_TIMEDOUT)
		return set_error(err, errlen, -ETIMEDOUT, "rpc: %s: no answer within %ld ms",
				 method, timeout);
	if (rc == CURLE_COULDNT_CONNECT) {
		curl_easy_getinfo(r->curl, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == ECONNREFUSED)
			return set_error(err, errlen, -ECONNREFUSED, "rpc: %s: connection refused",
					 r->shown);
		return set_error(err, errlen, -EIO, "rpc: %s: cannot connect (%s)", r->shown,
				 oserr ? strerror((int)oserr) : why);
	}
	if (rc == CURLE_COULDNT_RESOLVE_HOST)
		return set_error(err, errlen, -EIO, "rpc: %s: no such host (%s)", r->shown, why);
	return set_error(err, errlen, -EIO, "rpc: %s: %s: %s", method, r->shown, why);
}

int eth_rpc_call(struct eth_rpc *r, const char *method, cJSON *params, cJSON **result, char *err,
		 size_t errlen)
{
	_cleanup_free_ char *req = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	long timeout = r->timeout_ms > 0 ? r->timeout_ms : ETH_RPC_TIMEOUT_MS;
	struct body b = { .cap = r->max_response ? r->max_response : ETH_RPC_MAX_RESPONSE };
	uint64_t id;
	long code = 0;
	CURLcode rc;
	int ret;

	*result = NULL;
	r->node_error = 0;
	if (!method_ok(method)) {
		cJSON_Delete(params);
		return set_error(err, errlen, -EINVAL, "rpc: a method name of 1 to %d [A-Za-z0-9_]",
				 RPC_METHOD_MAX);
	}
	if (!params)
		return set_error(err, errlen, -ENOMEM, "rpc: %s: out of memory", method);
	if (!cJSON_IsArray(params)) {
		cJSON_Delete(params);
		return set_error(err, errlen, -EINVAL, "rpc: %s: params must be an array", method);
	}
	if (!r->curl) {
		cJSON_Delete(params);
		return set_error(err, errlen, -EINVAL, "rpc: %s: the node is not set up", method);
	}
	id = r->next_id && r->next_id <= JSON_EXACT_MAX ? r->next_id : 1;
	r->next_id = id + 1;
	req = request_text(method, id, params);
	if (!req)
		return set_error(err, errlen, -ENOMEM, "rpc: %s: out of memory", method);
	/* set for each call: the struct may have moved, and its limits changed, since init */
	if (curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, req) != CURLE_OK ||
	    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req)) !=
		    CURLE_OK ||
	    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
	    curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout) != CURLE_OK ||
	    /* a Content-Length over the cap ends the transfer before its body */
	    curl_easy_setopt(r->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b.cap) != CURLE_OK ||
	    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
	    curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK)
		return set_error(err, errlen, -ENOMEM, "rpc: %s: libcurl cannot be set up", method);
	rc = curl_easy_perform(r->curl);
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
	/* nothing of this call's stack stays with the handle */
	curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, NULL);
	if (b.nomem)
		ret = set_error(err, errlen, -ENOMEM, "rpc: %s: out of memory", method);
	else if (b.over || rc == CURLE_FILESIZE_EXCEEDED)
		ret = set_error(err, errlen, -EFBIG, "rpc: %s: answer larger than %zu bytes",
				method, b.cap);
	else if (rc != CURLE_OK)
		ret = transport_error(r, method, rc, errbuf, timeout, err, errlen);
	else if (code != 200)
		ret = set_error(err, errlen, -EPROTO, "rpc: %s: HTTP %ld from %s", method, code,
				r->shown);
	else
		ret = parse_answer((const char *)b.p, b.len, id, method, result, &r->node_error,
				   err, errlen);
	free(b.p);
	return ret;
}

/* ---- readers ---- */

/* The digits of a quantity of at most max of them: *digits, *n; or the reason it is none. */
static int quantity_digits(const cJSON *v, size_t max, unsigned bits, const char **digits,
			   size_t *n, const char *what, char *err, size_t errlen)
{
	const char *s;
	size_t i;

	if (!v)
		return refuse(err, errlen, -EBADMSG, what, "missing");
	if (!cJSON_IsString(v))
		return refuse(err, errlen, -EBADMSG, what, "not a quantity (%s, not a string)",
			      type_name(v));
	s = v->valuestring;
	if (s[0] == '-' || s[0] == '+')
		return refuse(err, errlen, -EBADMSG, what, "not a quantity (a sign)");
	if (s[0] == '0' && s[1] == 'X')
		return refuse(err, errlen, -EBADMSG, what, "not a quantity (upper-case 0X)");
	if (s[0] != '0' || s[1] != 'x')
		return refuse(err, errlen, -EBADMSG, what, "not a quantity (no 0x)");
	s += 2;
	if (!s[0])
		return refuse(err, errlen, -EBADMSG, what, "not a quantity (no digits after 0x)");
	if (s[0] == '0' && s[1])
		return refuse(err, errlen, -EBADMSG, what, "not a quantity (a leading zero)");
	for (i = 0; s[i]; i++)
		if (hex_nibble(s[i]) < 0)
			return refuse(err, errlen, -EBADMSG, what,
				      "not a quantity (a character that is no hex digit)");
	if (i > max)
		return refuse(err, errlen, -ERANGE, what, "a quantity over %u bits", bits);
	*digits = s;
	*n = i;
	return 0;
}

int rpc_quantity_u64(const cJSON *v, uint64_t *out, const char *what, char *err, size_t errlen)
{
	const char *s;
	uint64_t x = 0;
	size_t n;
	int r = quantity_digits(v, 16, 64, &s, &n, what, err, errlen);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		x = x << 4 | (uint64_t)hex_nibble(s[i]);
	*out = x;
	return 0;
}

int rpc_quantity_u256(const cJSON *v, uint8_t out[32], const char *what, char *err, size_t errlen)
{
	const char *s;
	size_t n;
	int r = quantity_digits(v, 64, 256, &s, &n, what, err, errlen);

	if (r < 0)
		return r;
	memset(out, 0, 32);
	/* from the last digit, the low nibble of the last byte, leftwards */
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)hex_nibble(s[n - 1 - i]);

		out[31 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
	}
	return 0;
}

/* The hex digits of DATA (after its 0x), an even count of them; not checked as digits yet. */
static int data_hex(const cJSON *v, const char **hex, size_t *nbytes, const char *what, char *err,
		    size_t errlen)
{
	const char *s;
	size_t n;

	if (!v)
		return refuse(err, errlen, -EBADMSG, what, "missing");
	if (!cJSON_IsString(v))
		return refuse(err, errlen, -EBADMSG, what, "not data (%s, not a string)",
			      type_name(v));
	s = v->valuestring;
	if (s[0] != '0' || s[1] != 'x')
		return refuse(err, errlen, -EBADMSG, what, "not data (no 0x)");
	n = strlen(s + 2);
	if (n % 2)
		return refuse(err, errlen, -EBADMSG, what,
			      "not data (an odd number of hex digits)");
	*hex = s + 2;
	*nbytes = n / 2;
	return 0;
}

static int data_decode(const char *hex, uint8_t *out, size_t cap, size_t *len, const char *what,
		       char *err, size_t errlen)
{
	int r = hex_decode(hex, out, cap, len);

	if (r == -E2BIG)
		return refuse(err, errlen, -EMSGSIZE, what, "data of more than %zu bytes", cap);
	if (r < 0)
		return refuse(err, errlen, -EBADMSG, what,
			      "not data (a character that is no hex digit)");
	return 0;
}

int rpc_data(const cJSON *v, uint8_t *out, size_t cap, size_t *len, const char *what, char *err,
	     size_t errlen)
{
	const char *hex;
	size_t n;
	int r = data_hex(v, &hex, &n, what, err, errlen);

	return r < 0 ? r : data_decode(hex, out, cap, len, what, err, errlen);
}

int rpc_data_fixed(const cJSON *v, uint8_t *out, size_t n, const char *what, char *err,
		   size_t errlen)
{
	const char *hex;
	size_t have, len;
	int r = data_hex(v, &hex, &have, what, err, errlen);

	if (r < 0)
		return r;
	if (have != n)
		return refuse(err, errlen, -EBADMSG, what, "%zu bytes of data, not %zu", have, n);
	return data_decode(hex, out, n, &len, what, err, errlen);
}

int rpc_data_alloc(const cJSON *v, uint8_t **out, size_t *len, const char *what, char *err,
		   size_t errlen)
{
	const char *hex;
	uint8_t *p;
	size_t n;
	int r = data_hex(v, &hex, &n, what, err, errlen);

	if (r < 0)
		return r;
	p = malloc(n ? n : 1);
	if (!p)
		return refuse(err, errlen, -ENOMEM, what, "out of memory");
	r = data_decode(hex, p, n, len, what, err, errlen);
	if (r < 0) {
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

/* ---- answers ---- */

/* Names the fields of one answer in errors: "METHOD: ITEM: FIELD". */
struct where {
	const char *method;
	char item[32]; /* "log 3", or empty */
	char what[RPC_WHAT_MAX];
};

static const char *at(struct where *w, const char *field)
{
	snprintf(w->what, sizeof(w->what), "%s: %s%s%s", w->method, w->item, w->item[0] ? ": " : "",
		 field);
	return w->what;
}

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static char *hex0x(const uint8_t *p, size_t n, char *out)
{
	out[0] = '0';
	out[1] = 'x';
	hex_encode(p, n, out + 2);
	return out;
}

/* The members of an array, counted up to max + 1 (so that a hostile array is not walked whole). */
static size_t count_upto(const cJSON *a, size_t max)
{
	const cJSON *m;
	size_t n = 0;

	cJSON_ArrayForEach(m, a)
		if (++n > max)
			break;
	return n;
}

/* One log object, as both eth_getLogs and a receipt carry it. */
static int log_parse(const cJSON *o, struct eth_log *l, struct where *w, char *err, size_t errlen)
{
	const cJSON *topics, *t, *removed;
	char field[24];
	int r;

	if (!cJSON_IsObject(o))
		return refuse(err, errlen, -EBADMSG, at(w, "log"), "%s, not an object",
			      type_name(o));
	topics = get(o, "topics");
	if (!cJSON_IsArray(topics))
		return refuse(err, errlen, -EBADMSG, at(w, "topics"), "%s",
			      topics ? "not an array" : "missing");
	if (count_upto(topics, ETH_LOG_TOPICS_MAX) > ETH_LOG_TOPICS_MAX)
		return refuse(err, errlen, -EBADMSG, at(w, "topics"), "more than %d topics",
			      ETH_LOG_TOPICS_MAX);
	cJSON_ArrayForEach(t, topics) {
		snprintf(field, sizeof(field), "topics[%zu]", l->ntopics);
		r = rpc_data_fixed(t, l->topics[l->ntopics], 32, at(w, field), err, errlen);
		if (r < 0)
			return r;
		l->ntopics++;
	}
	removed = get(o, "removed");
	if (removed && !cJSON_IsBool(removed))
		return refuse(err, errlen, -EBADMSG, at(w, "removed"), "%s, not a boolean",
			      type_name(removed));
	l->removed = cJSON_IsTrue(removed);
	if ((r = rpc_data_fixed(get(o, "address"), l->address, ETH_ADDRESS_LEN, at(w, "address"),
				err, errlen)) < 0 ||
	    (r = rpc_quantity_u64(get(o, "blockNumber"), &l->block_number, at(w, "blockNumber"),
				  err, errlen)) < 0 ||
	    (r = rpc_quantity_u64(get(o, "logIndex"), &l->log_index, at(w, "logIndex"), err,
				  errlen)) < 0 ||
	    (r = rpc_data_fixed(get(o, "blockHash"), l->block_hash, 32, at(w, "blockHash"), err,
				errlen)) < 0 ||
	    (r = rpc_data_fixed(get(o, "transactionHash"), l->tx_hash, 32, at(w, "transactionHash"),
				err, errlen)) < 0 ||
	    (r = rpc_data_alloc(get(o, "data"), &l->data, &l->data_len, at(w, "data"), err,
				errlen)) < 0)
		return r;
	return 0;
}

/* Whether log b comes after log a in a chain's order: block, then index in it. */
static bool log_after(const struct eth_log *a, const struct eth_log *b)
{
	return b->block_number > a->block_number ||
	       (b->block_number == a->block_number && b->log_index > a->log_index);
}

/* An array of logs: *logs of *n, or -errno with nothing left allocated. */
static int logs_parse(const cJSON *a, struct where *w, struct eth_log **logs, size_t *n, char *err,
		      size_t errlen)
{
	struct eth_log *v;
	const cJSON *o;
	size_t count, i = 0;
	int r = 0;

	*logs = NULL;
	*n = 0;
	if (!a)
		return refuse(err, errlen, -EBADMSG, at(w, "logs"), "missing");
	if (!cJSON_IsArray(a))
		return refuse(err, errlen, -EBADMSG, at(w, "logs"), "%s, not an array",
			      type_name(a));
	count = count_upto(a, ETH_LOGS_MAX);
	if (count > ETH_LOGS_MAX)
		return refuse(err, errlen, -E2BIG, at(w, "logs"),
			      "more than %d logs (ask for fewer blocks)", ETH_LOGS_MAX);
	if (!count)
		return 0;
	v = calloc(count, sizeof(*v));
	if (!v)
		return refuse(err, errlen, -ENOMEM, at(w, "logs"), "out of memory");
	cJSON_ArrayForEach(o, a) {
		snprintf(w->item, sizeof(w->item), "log %zu", i);
		r = log_parse(o, &v[i], w, err, errlen);
		if (r == 0 && i && !log_after(&v[i - 1], &v[i]))
			r = refuse(err, errlen, -EBADMSG, at(w, "logIndex"),
				   "not after the log before it (a log twice, or out of order)");
		if (r < 0)
			break;
		i++;
	}
	w->item[0] = 0;
	if (r < 0) {
		eth_logs_free(v, count);
		return r;
	}
	*logs = v;
	*n = count;
	return 0;
}

void eth_logs_free(struct eth_log *logs, size_t n)
{
	for (size_t i = 0; logs && i < n; i++)
		free(logs[i].data);
	free(logs);
}

void eth_receipt_free(struct eth_receipt *rc)
{
	eth_logs_free(rc->logs, rc->nlogs);
	*rc = (struct eth_receipt){ 0 };
}

/* The receipt's own fields and logs; the logs are checked by the caller. */
static int receipt_fields(const cJSON *o, const uint8_t txhash[32], struct eth_receipt *rc,
			  struct where *w, char *err, size_t errlen)
{
	const cJSON *ca = get(o, "contractAddress");
	char got[67], want[67];
	int r;

	if ((r = rpc_data_fixed(get(o, "transactionHash"), rc->tx_hash, 32,
				at(w, "transactionHash"), err, errlen)) < 0)
		return r;
	if (memcmp(rc->tx_hash, txhash, 32))
		return refuse(err, errlen, -EBADMSG, at(w, "transactionHash"),
			      "the receipt of %s, not of the transaction asked (%s)",
			      hex0x(rc->tx_hash, 32, got), hex0x(txhash, 32, want));
	if ((r = rpc_data_fixed(get(o, "blockHash"), rc->block_hash, 32, at(w, "blockHash"), err,
				errlen)) < 0 ||
	    (r = rpc_quantity_u64(get(o, "blockNumber"), &rc->block_number, at(w, "blockNumber"),
				  err, errlen)) < 0 ||
	    (r = rpc_quantity_u64(get(o, "gasUsed"), &rc->gas_used, at(w, "gasUsed"), err,
				  errlen)) < 0 ||
	    (r = rpc_quantity_u64(get(o, "status"), &rc->status, at(w, "status"), err, errlen)) <
		    0 ||
	    (r = rpc_quantity_u256(get(o, "effectiveGasPrice"), rc->effective_gas_price,
				   at(w, "effectiveGasPrice"), err, errlen)) < 0)
		return r;
	if (rc->status > 1)
		return refuse(err, errlen, -EBADMSG, at(w, "status"), "neither 0x0 nor 0x1");
	if (ca && !cJSON_IsNull(ca)) {
		r = rpc_data_fixed(ca, rc->contract_address, ETH_ADDRESS_LEN,
				   at(w, "contractAddress"), err, errlen);
		if (r < 0)
			return r;
		rc->has_contract = true;
	}
	return logs_parse(get(o, "logs"), w, &rc->logs, &rc->nlogs, err, errlen);
}

/* Every log of a receipt is of its transaction, in its block, and not removed. */
static int receipt_logs_check(const struct eth_receipt *rc, struct where *w, char *err,
			      size_t errlen)
{
	for (size_t i = 0; i < rc->nlogs; i++) {
		const struct eth_log *l = &rc->logs[i];

		snprintf(w->item, sizeof(w->item), "log %zu", i);
		if (memcmp(l->tx_hash, rc->tx_hash, 32))
			return refuse(err, errlen, -EBADMSG, at(w, "transactionHash"),
				      "not the receipt's transaction");
		if (memcmp(l->block_hash, rc->block_hash, 32) ||
		    l->block_number != rc->block_number)
			return refuse(err, errlen, -EBADMSG, at(w, "blockHash"),
				      "not the receipt's block");
		if (l->removed)
			return refuse(err, errlen, -EBADMSG, at(w, "removed"),
				      "a log of a mined receipt cannot be removed");
	}
	w->item[0] = 0;
	return 0;
}

static int receipt_parse(const cJSON *res, const uint8_t txhash[32], struct eth_receipt *rc,
			 bool *found, const char *method, char *err, size_t errlen)
{
	struct where w = { .method = method };
	int r;

	*rc = (struct eth_receipt){ 0 };
	*found = false;
	if (cJSON_IsNull(res))
		return 0;
	if (!cJSON_IsObject(res))
		return refuse(err, errlen, -EBADMSG, method, "%s, not a receipt object",
			      res ? type_name(res) : "nothing");
	r = receipt_fields(res, txhash, rc, &w, err, errlen);
	if (r == 0)
		r = receipt_logs_check(rc, &w, err, errlen);
	if (r < 0) {
		eth_receipt_free(rc);
		return r;
	}
	*found = true;
	return 0;
}

int eth_receipt_parse(const cJSON *result, const uint8_t txhash[KECCAK256_LEN],
		      struct eth_receipt *rc, bool *found, char *err, size_t errlen)
{
	return receipt_parse(result, txhash, rc, found, "eth_getTransactionReceipt", err, errlen);
}

/* Each log is of the filter's contract, with its topics, in its blocks. */
static int logs_match(const struct eth_log *logs, size_t n, const struct eth_log_filter *f,
		      struct where *w, char *err, size_t errlen)
{
	char got[43], want[43];

	for (size_t i = 0; i < n; i++) {
		const struct eth_log *l = &logs[i];

		snprintf(w->item, sizeof(w->item), "log %zu", i);
		if (memcmp(l->address, f->address, ETH_ADDRESS_LEN))
			return refuse(err, errlen, -EBADMSG, at(w, "address"),
				      "a log of %s, not of the contract asked (%s)",
				      hex0x(l->address, ETH_ADDRESS_LEN, got),
				      hex0x(f->address, ETH_ADDRESS_LEN, want));
		for (size_t t = 0; t < ETH_LOG_TOPICS_MAX; t++)
			if (f->has_topic[t] &&
			    (l->ntopics <= t || memcmp(l->topics[t], f->topics[t], 32)))
				return refuse(err, errlen, -EBADMSG, at(w, "topics"),
					      "topic %zu is not the one asked", t);
		if (l->block_number < f->from_block || l->block_number > f->to_block)
			return refuse(err, errlen, -EBADMSG, at(w, "blockNumber"),
				      "block %" PRIu64 ", outside the blocks asked (%" PRIu64
				      " to %" PRIu64 ")",
				      l->block_number, f->from_block, f->to_block);
	}
	w->item[0] = 0;
	return 0;
}

int eth_logs_parse(const cJSON *result, const struct eth_log_filter *f, struct eth_log **logs,
		   size_t *n, char *err, size_t errlen)
{
	struct where w = { .method = "eth_getLogs" };
	int r = logs_parse(result, &w, logs, n, err, errlen);

	if (r == 0 && (r = logs_match(*logs, *n, f, &w, err, errlen)) < 0) {
		eth_logs_free(*logs, *n);
		*logs = NULL;
		*n = 0;
	}
	return r;
}

int eth_block_hash_parse(const cJSON *result, uint64_t number, uint8_t hash[32], bool *found,
			 char *err, size_t errlen)
{
	struct where w = { .method = "eth_getBlockByNumber" };
	uint8_t h[32];
	uint64_t got;
	int r;

	*found = false;
	if (cJSON_IsNull(result))
		return 0;
	if (!cJSON_IsObject(result))
		return refuse(err, errlen, -EBADMSG, w.method, "%s, not a block object",
			      result ? type_name(result) : "nothing");
	if ((r = rpc_quantity_u64(get(result, "number"), &got, at(&w, "number"), err, errlen)) <
		    0 ||
	    (r = rpc_data_fixed(get(result, "hash"), h, 32, at(&w, "hash"), err, errlen)) < 0)
		return r;
	if (got != number)
		return refuse(err, errlen, -EBADMSG, at(&w, "number"),
			      "block %" PRIu64 ", not the one asked (%" PRIu64 ")", got, number);
	memcpy(hash, h, 32);
	*found = true;
	return 0;
}

int eth_fee_history_parse(const cJSON *result, unsigned blocks, struct eth_fee_history *h,
			  char *err, size_t errlen)
{
	struct where w = { .method = "eth_feeHistory" };
	const cJSON *base, *ratio, *reward, *m;
	char field[48];
	size_t k, i;
	int r;

	*h = (struct eth_fee_history){ 0 };
	if (blocks > ETH_FEE_HISTORY_MAX)
		blocks = ETH_FEE_HISTORY_MAX;
	if (!cJSON_IsObject(result))
		return refuse(err, errlen, -EBADMSG, w.method, "%s, not an object",
			      result ? type_name(result) : "nothing");
	base = get(result, "baseFeePerGas");
	ratio = get(result, "gasUsedRatio");
	reward = get(result, "reward");
	if ((r = rpc_quantity_u64(get(result, "oldestBlock"), &h->oldest_block,
				  at(&w, "oldestBlock"), err, errlen)) < 0)
		return r;
	if (!cJSON_IsArray(ratio) || !cJSON_IsArray(base) || !cJSON_IsArray(reward))
		return refuse(err, errlen, -EBADMSG, w.method,
			      "baseFeePerGas, gasUsedRatio and reward must be arrays");
	k = count_upto(ratio, blocks);
	if (k > blocks)
		return refuse(err, errlen, -E2BIG, at(&w, "gasUsedRatio"),
			      "more blocks than the %u asked", blocks);
	if (count_upto(base, k + 1) != k + 1 || count_upto(reward, k) != k)
		return refuse(err, errlen, -EBADMSG, w.method,
			      "not %zu base fees and %zu rewards for %zu blocks", k + 1, k, k);
	if (h->oldest_block > UINT64_MAX - k)
		return refuse(err, errlen, -ERANGE, at(&w, "oldestBlock"), "past 2^64 blocks");
	cJSON_ArrayForEach(m, ratio)
		if (!cJSON_IsNumber(m) || m->valuedouble < 0)
			return refuse(err, errlen, -EBADMSG, at(&w, "gasUsedRatio"),
				      "not a ratio of 0 or more");
	i = 0;
	cJSON_ArrayForEach(m, base) {
		snprintf(field, sizeof(field), "baseFeePerGas[%zu]", i);
		if ((r = rpc_quantity_u256(m, h->base_fee[i], at(&w, field), err, errlen)) < 0)
			return r;
		i++;
	}
	i = 0;
	cJSON_ArrayForEach(m, reward) {
		snprintf(field, sizeof(field), "reward[%zu]", i);
		if (!cJSON_IsArray(m) || count_upto(m, 1) != 1)
			return refuse(err, errlen, -EBADMSG, at(&w, field),
				      "not an array of one reward (one percentile asked)");
		if ((r = rpc_quantity_u256(m->child, h->reward[i], at(&w, field), err, errlen)) < 0)
			return r;
		i++;
	}
	h->nblocks = k;
	return 0;
}

/* ---- requests ---- */

/* Appends item to the array a; false (item freed) when either is missing. */
static bool push(cJSON *a, cJSON *item)
{
	if (!a || !item || !cJSON_AddItemToArray(a, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

/* Adds item to the object o as key; false (item freed) when either is missing. */
static bool put(cJSON *o, const char *key, cJSON *item)
{
	if (!o || !item || !cJSON_AddItemToObject(o, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

/* DATA: "0x" and the hex of n bytes. */
static cJSON *data_item(const uint8_t *p, size_t n)
{
	_cleanup_free_ char *s = NULL;

	if (n > (SIZE_MAX - 3) / 2 || !(s = malloc(2 * n + 3)))
		return NULL;
	return cJSON_CreateString(hex0x(p, n, s));
}

static cJSON *quantity_item(uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "0x%" PRIx64, v);
	return cJSON_CreateString(s);
}

/* A uint256 as a quantity: its hex without leading zeros, "0x0" for zero. */
static cJSON *quantity256_item(const uint8_t v[32])
{
	char hex[65], s[67];
	size_t i = 0;

	hex_encode(v, 32, hex);
	while (i < 63 && hex[i] == '0')
		i++;
	snprintf(s, sizeof(s), "0x%s", hex + i);
	return cJSON_CreateString(s);
}

/* [v]: the percentiles of eth_feeHistory. */
static cJSON *number_array(double v)
{
	cJSON *a = cJSON_CreateArray();

	if (push(a, cJSON_CreateNumber(v)))
		return a;
	cJSON_Delete(a);
	return NULL;
}

/* Takes params (array) or NULL: the array, or NULL when a push failed (then freed). */
static cJSON *params_done(cJSON *p, bool ok)
{
	if (ok)
		return p;
	cJSON_Delete(p);
	return NULL;
}

static bool block_tag_ok(const char *t)
{
	static const char *const names[] = { "latest", "pending", "earliest", "safe", "finalized" };
	size_t n;

	if (!t)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(t, names[i]))
			return true;
	if (strncmp(t, "0x", 2) || !(n = strlen(t + 2)) || n > 16 || (t[2] == '0' && n > 1))
		return false;
	for (t += 2; *t; t++)
		if (hex_nibble(*t) < 0)
			return false;
	return true;
}

static int bad_tag(const char *method, char *err, size_t errlen)
{
	return set_error(err, errlen, -EINVAL,
			 "rpc: %s: a block is latest, pending, earliest, safe, finalized or 0x...",
			 method);
}

/* ---- the methods ---- */

/* A call whose result is a 64-bit quantity. */
static int call_u64(struct eth_rpc *r, const char *method, cJSON *params, uint64_t *out, char *err,
		    size_t errlen)
{
	cJSON *res = NULL;
	int ret = eth_rpc_call(r, method, params, &res, err, errlen);

	if (ret == 0)
		ret = rpc_quantity_u64(res, out, method, err, errlen);
	cJSON_Delete(res);
	return ret;
}

static int call_u256(struct eth_rpc *r, const char *method, cJSON *params, uint8_t out[32],
		     char *err, size_t errlen)
{
	cJSON *res = NULL;
	int ret = eth_rpc_call(r, method, params, &res, err, errlen);

	if (ret == 0)
		ret = rpc_quantity_u256(res, out, method, err, errlen);
	cJSON_Delete(res);
	return ret;
}

int eth_chain_id(struct eth_rpc *r, uint64_t *id, char *err, size_t errlen)
{
	return call_u64(r, "eth_chainId", cJSON_CreateArray(), id, err, errlen);
}

int eth_block_number(struct eth_rpc *r, uint64_t *number, char *err, size_t errlen)
{
	return call_u64(r, "eth_blockNumber", cJSON_CreateArray(), number, err, errlen);
}

/* [address, block]: the params of eth_getTransactionCount and eth_getBalance. */
static cJSON *address_at(const uint8_t addr[ETH_ADDRESS_LEN], const char *block)
{
	cJSON *p = cJSON_CreateArray();

	return params_done(p, push(p, data_item(addr, ETH_ADDRESS_LEN)) &&
				      push(p, cJSON_CreateString(block)));
}

int eth_get_transaction_count(struct eth_rpc *r, const uint8_t addr[ETH_ADDRESS_LEN],
			      const char *block, uint64_t *nonce, char *err, size_t errlen)
{
	if (!block_tag_ok(block))
		return bad_tag("eth_getTransactionCount", err, errlen);
	return call_u64(r, "eth_getTransactionCount", address_at(addr, block), nonce, err, errlen);
}

int eth_get_balance(struct eth_rpc *r, const uint8_t addr[ETH_ADDRESS_LEN], const char *block,
		    uint8_t wei[32], char *err, size_t errlen)
{
	if (!block_tag_ok(block))
		return bad_tag("eth_getBalance", err, errlen);
	return call_u256(r, "eth_getBalance", address_at(addr, block), wei, err, errlen);
}

int eth_gas_price(struct eth_rpc *r, uint8_t wei[32], char *err, size_t errlen)
{
	return call_u256(r, "eth_gasPrice", cJSON_CreateArray(), wei, err, errlen);
}

int eth_max_priority_fee(struct eth_rpc *r, uint8_t wei[32], char *err, size_t errlen)
{
	return call_u256(r, "eth_maxPriorityFeePerGas", cJSON_CreateArray(), wei, err, errlen);
}

int eth_fee_history(struct eth_rpc *r, unsigned blocks, const char *newest, double percentile,
		    struct eth_fee_history *h, char *err, size_t errlen)
{
	cJSON *p, *res = NULL;
	int ret;

	if (blocks < 1 || blocks > ETH_FEE_HISTORY_MAX)
		return set_error(err, errlen, -EINVAL, "rpc: eth_feeHistory: 1 to %d blocks",
				 ETH_FEE_HISTORY_MAX);
	if (!(percentile >= 0 && percentile <= 100))
		return set_error(err, errlen, -EINVAL,
				 "rpc: eth_feeHistory: a percentile of 0 to 100");
	if (!block_tag_ok(newest))
		return bad_tag("eth_feeHistory", err, errlen);
	p = cJSON_CreateArray();
	p = params_done(p, push(p, quantity_item(blocks)) && push(p, cJSON_CreateString(newest)) &&
				   push(p, number_array(percentile)));
	ret = eth_rpc_call(r, "eth_feeHistory", p, &res, err, errlen);
	if (ret == 0)
		ret = eth_fee_history_parse(res, blocks, h, err, errlen);
	cJSON_Delete(res);
	return ret;
}

/* max = 2 * base + priority, with OpenSSL's BIGNUM: -ERANGE past 256 bits. */
static int fee_cap(const uint8_t base[32], const uint8_t prio[32], uint8_t out[32])
{
	BIGNUM *b = BN_bin2bn(base, 32, NULL), *p = BN_bin2bn(prio, 32, NULL);
	int r = -ENOMEM;

	if (b && p && BN_lshift1(b, b) && BN_add(b, b, p))
		r = BN_num_bytes(b) <= 32 && BN_bn2binpad(b, out, 32) == 32 ? 0 : -ERANGE;
	BN_free(b);
	BN_free(p);
	return r;
}

int eth_suggest_fees(struct eth_rpc *r, struct eth_fees *f, char *err, size_t errlen)
{
	struct eth_fee_history h;
	uint8_t prio[32];
	int ret;

	ret = eth_fee_history(r, SUGGEST_BLOCKS, "latest", SUGGEST_PERCENTILE, &h, err, errlen);
	if (ret < 0)
		return ret;
	ret = eth_max_priority_fee(r, prio, err, errlen);
	/* a node without the method: what the last blocks' transactions tipped */
	if (ret == -EREMOTEIO && h.nblocks) {
		memcpy(prio, h.reward[0], 32);
		for (size_t i = 1; i < h.nblocks; i++)
			if (memcmp(h.reward[i], prio, 32) > 0)
				memcpy(prio, h.reward[i], 32);
		ret = 0;
	}
	if (ret < 0)
		return ret;
	ret = fee_cap(h.base_fee[h.nblocks], prio, f->max_fee_per_gas);
	if (ret < 0)
		return set_error(err, errlen, ret, "rpc: eth_feeHistory: %s",
				 ret == -ERANGE ? "a fee cap past 2^256" : "out of memory");
	memcpy(f->max_priority_fee_per_gas, prio, 32);
	return 0;
}

/* The transaction object of eth_estimateGas and eth_call. */
static cJSON *tx_object(const uint8_t *from, const uint8_t *to, const uint8_t *value,
			const uint8_t *data, size_t len)
{
	cJSON *o = cJSON_CreateObject();

	if ((from && !put(o, "from", data_item(from, ETH_ADDRESS_LEN))) ||
	    (to && !put(o, "to", data_item(to, ETH_ADDRESS_LEN))) ||
	    (value && !put(o, "value", quantity256_item(value))) ||
	    !put(o, "data", data_item(data, len))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int eth_estimate_gas(struct eth_rpc *r, const uint8_t from[ETH_ADDRESS_LEN],
		     const uint8_t to[ETH_ADDRESS_LEN], const uint8_t value[32],
		     const uint8_t *data, size_t len, uint64_t *gas, char *err, size_t errlen)
{
	static const uint8_t zero[32];
	cJSON *p;
	uint64_t g;
	int ret;

	if (!to && !len)
		return set_error(err, errlen, -EINVAL,
				 "rpc: eth_estimateGas: a contract creation without code");
	p = cJSON_CreateArray();
	p = params_done(p, push(p, tx_object(from, to, value ? value : zero, data, len)));
	ret = call_u64(r, "eth_estimateGas", p, &g, err, errlen);
	if (ret < 0)
		return ret;
	if (g < GAS_MIN || g > GAS_MAX)
		return set_error(err, errlen, -EBADMSG,
				 "rpc: eth_estimateGas: %" PRIu64 " gas, not %u to 2^53", g,
				 GAS_MIN);
	*gas = g;
	return 0;
}

int eth_call(struct eth_rpc *r, const uint8_t to[ETH_ADDRESS_LEN], const uint8_t *data, size_t len,
	     const char *block, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	cJSON *p, *res = NULL;
	int ret;

	*out = NULL;
	*outlen = 0;
	if (!block_tag_ok(block))
		return bad_tag("eth_call", err, errlen);
	p = cJSON_CreateArray();
	p = params_done(p, push(p, tx_object(NULL, to, NULL, data, len)) &&
				   push(p, cJSON_CreateString(block)));
	ret = eth_rpc_call(r, "eth_call", p, &res, err, errlen);
	if (ret == 0)
		ret = rpc_data_alloc(res, out, outlen, "eth_call", err, errlen);
	cJSON_Delete(res);
	return ret;
}

int eth_send_raw_transaction(struct eth_rpc *r, const uint8_t *raw, size_t len,
			     uint8_t txhash[KECCAK256_LEN], char *err, size_t errlen)
{
	uint8_t want[32], got[32];
	char a[67], b[67];
	cJSON *p = cJSON_CreateArray(), *res = NULL;
	int ret;

	if (!len)
		return set_error(err, errlen, -EINVAL, "rpc: eth_sendRawTransaction: no bytes");
	keccak256(raw, len, want);
	p = params_done(p, push(p, data_item(raw, len)));
	ret = eth_rpc_call(r, "eth_sendRawTransaction", p, &res, err, errlen);
	if (ret == 0)
		ret = rpc_data_fixed(res, got, 32, "eth_sendRawTransaction", err, errlen);
	cJSON_Delete(res);
	if (ret < 0)
		return ret;
	if (memcmp(got, want, 32))
		return set_error(err, errlen, -EBADMSG,
				 "rpc: eth_sendRawTransaction: the node answers hash %s for the "
				 "transaction whose hash is %s",
				 hex0x(got, 32, a), hex0x(want, 32, b));
	memcpy(txhash, want, 32);
	return 0;
}

int eth_get_transaction_receipt(struct eth_rpc *r, const uint8_t txhash[KECCAK256_LEN],
				struct eth_receipt *rc, bool *found, char *err, size_t errlen)
{
	cJSON *p = cJSON_CreateArray(), *res = NULL;
	int ret;

	*rc = (struct eth_receipt){ 0 };
	*found = false;
	p = params_done(p, push(p, data_item(txhash, 32)));
	ret = eth_rpc_call(r, "eth_getTransactionReceipt", p, &res, err, errlen);
	if (ret == 0)
		ret = eth_receipt_parse(res, txhash, rc, found, err, errlen);
	cJSON_Delete(res);
	return ret;
}

int eth_get_block_hash(struct eth_rpc *r, uint64_t number, uint8_t hash[32], bool *found, char *err,
		       size_t errlen)
{
	cJSON *p = cJSON_CreateArray(), *res = NULL;
	int ret;

	*found = false;
	p = params_done(p, push(p, quantity_item(number)) && push(p, cJSON_CreateFalse()));
	ret = eth_rpc_call(r, "eth_getBlockByNumber", p, &res, err, errlen);
	if (ret == 0)
		ret = eth_block_hash_parse(res, number, hash, found, err, errlen);
	cJSON_Delete(res);
	return ret;
}

/* The filter object: the topics asked, null for the others before the last one asked. */
static cJSON *filter_object(const struct eth_log_filter *f)
{
	cJSON *o = cJSON_CreateObject(), *t = cJSON_CreateArray();
	size_t last = 0;
	bool ok = true;

	for (size_t i = 0; i < ETH_LOG_TOPICS_MAX; i++)
		if (f->has_topic[i])
			last = i + 1;
	for (size_t i = 0; i < last && ok; i++)
		ok = push(t, f->has_topic[i] ? data_item(f->topics[i], 32) : cJSON_CreateNull());
	if (!ok) {
		cJSON_Delete(t);
		t = NULL;
	}
	if (!put(o, "address", data_item(f->address, ETH_ADDRESS_LEN)) ||
	    !put(o, "fromBlock", quantity_item(f->from_block)) ||
	    !put(o, "toBlock", quantity_item(f->to_block)) || !put(o, "topics", t)) {
		if (!get(o, "topics"))
			cJSON_Delete(t);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int eth_get_logs(struct eth_rpc *r, const struct eth_log_filter *f, struct eth_log **logs,
		 size_t *n, char *err, size_t errlen)
{
	cJSON *p, *res = NULL;
	int ret;

	*logs = NULL;
	*n = 0;
	if (f->from_block > f->to_block)
		return set_error(err, errlen, -EINVAL,
				 "rpc: eth_getLogs: from block %" PRIu64
				 " is after to block %" PRIu64,
				 f->from_block, f->to_block);
	p = cJSON_CreateArray();
	p = params_done(p, push(p, filter_object(f)));
	ret = eth_rpc_call(r, "eth_getLogs", p, &res, err, errlen);
	if (ret == 0)
		ret = eth_logs_parse(res, f, logs, n, err, errlen);
	cJSON_Delete(res);
	return ret;
}

int eth_confirmations(struct eth_rpc *r, const struct eth_receipt *rc, uint64_t *confirmations,
		      char *err, size_t errlen)
{
	uint8_t hash[32];
	uint64_t head;
	bool found;
	int ret;

	*confirmations = 0;
	ret = eth_block_number(r, &head, err, errlen);
	if (ret < 0 || head < rc->block_number)
		return ret;
	ret = eth_get_block_hash(r, rc->block_number, hash, &found, err, errlen);
	if (ret < 0 || !found || memcmp(hash, rc->block_hash, 32))
		return ret; /* another block at that height now: the transaction is not in it */
	*confirmations = head - rc->block_number + 1;
	return 0;
}

int eth_rpc_snapshot(struct eth_rpc *r, uint64_t *id, char *err, size_t errlen)
{
	return call_u64(r, "evm_snapshot", cJSON_CreateArray(), id, err, errlen);
}

int eth_rpc_revert(struct eth_rpc *r, uint64_t id, char *err, size_t errlen)
{
	cJSON *p = cJSON_CreateArray(), *res = NULL;
	int ret;

	p = params_done(p, push(p, quantity_item(id)));
	ret = eth_rpc_call(r, "evm_revert", p, &res, err, errlen);
	if (ret == 0 && !cJSON_IsBool(res))
		ret = refuse(err, errlen, -EBADMSG, "evm_revert", "%s, not a boolean",
			     type_name(res));
	if (ret == 0 && !cJSON_IsTrue(res))
		ret = set_error(err, errlen, -ENOENT,
				"rpc: evm_revert: the node has no snapshot "
				"0x%" PRIx64,
				id);
	cJSON_Delete(res);
	return ret;
}

int eth_rpc_mine(struct eth_rpc *r, char *err, size_t errlen)
{
	cJSON *res = NULL;
	int ret = eth_rpc_call(r, "evm_mine", cJSON_CreateArray(), &res, err, errlen);

	cJSON_Delete(res);
	return ret;
}

int eth_rpc_increase_time(struct eth_rpc *r, uint64_t seconds, char *err, size_t errlen)
{
	cJSON *p, *res = NULL;
	int ret;

	if (seconds > JSON_EXACT_MAX)
		return set_error(err, errlen, -EINVAL,
				 "rpc: evm_increaseTime: at most 2^53 seconds");
	p = cJSON_CreateArray();
	p = params_done(p, push(p, cJSON_CreateNumber((double)seconds)));
	ret = eth_rpc_call(r, "evm_increaseTime", p, &res, err, errlen);
	cJSON_Delete(res);
	return ret;
}
