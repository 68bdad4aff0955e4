/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key-release client: Trustee's KBS protocol (RCAR, version 0.4.0)
 * over libcurl, HTTPS only, the broker pinned by a CA (a file or the
 * order's PEM) or by the SHA-256 of its public key.
 *   POST /kbs/v0/auth      {"version", "tee", "extra-params"}  -> nonce, cookie
 *   POST /kbs/v0/attest    {"runtime-data", "tee-evidence"[, "init-data"]} -> token
 *   GET  /kbs/v0/resource/<repo>/<type>/<tag>                  -> flattened JWE
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

/* ---- HTTP ---- */

struct body {
	char *p;
	size_t len, cap, max;
	bool too_big;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct body *b = ctx;
	size_t n = size * nmemb;

	if (b->len + n > b->max) {
		b->too_big = true;
		return 0; /* curl aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p;

		if (cap > b->max + 1)
			cap = b->max + 1;
		/* not realloc: the old buffer may hold a token, and is wiped before it goes */
		p = secret_alloc(cap);
		if (!p)
			return 0;
		if (b->p) {
			memcpy(p, b->p, b->len);
			secret_free(b->p, b->cap);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return n;
}

/* A body that held a secret (a token): wiped, then freed. */
static void body_wipe(struct body *b)
{
	secret_free(b->p, b->cap);
	b->p = NULL;
}

/* Request headers, one of which may carry the bearer token: wiped, then freed. */
static void headers_free(struct curl_slist **hdrs)
{
	for (struct curl_slist *h = *hdrs; h; h = h->next)
		OPENSSL_cleanse(h->data, strlen(h->data));
	curl_slist_free_all(*hdrs);
}

/*
 * What stays from one key release to the next: the libcurl handle, and in
 * it the open connection, the TLS session to resume and the loaded CA.
 */
struct kbs_client {
	const struct kbs_options *o;
	CURL *curl;
	struct curl_slist *connect_to;
	char url_base[512];
};

/* One key release: its own nonce, evidence, key and token. */
struct session {
	struct kbs_client *c;
	char *token;
};

static void session_end(struct session *s)
{
	wipe_freep(&s->token);
}

/* The broker's RFC 7807 "detail" (or the whole short body) for messages. */
static void problem_detail(const struct body *b, char *out, size_t cap)
{
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;
	const char *detail = NULL, *type = NULL;

	snprintf(out, cap, "no detail");
	if (!b->p || json_parse(b->p, b->len, &j) < 0)
		return;
	json_get_string(j, "detail", &detail);
	json_get_string(j, "type", &type);
	if (type && strrchr(type, '/'))
		type = strrchr(type, '/') + 1;
	if (detail && utf8_valid((const uint8_t *)detail, strlen(detail)))
		snprintf(out, cap, "%.40s: %.200s", type ? type : "error", detail);
	/* one line of ours, whatever the broker sent */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/*
 * One request with bounded retries: network failures and 5xx answers are
 * retried with doubling backoff; a 4xx answer is final.
 */
static int request(struct session *s, const char *method, const char *path, const char *json,
		   struct body *b, long *status, char *err, size_t errlen)
{
	char auth[8192];
	CLEANUP_ERASE(auth);
	_cleanup_(headers_free) struct curl_slist *hdrs = NULL;
	const struct kbs_options *o = s->c->o;
	CURL *curl = s->c->curl;
	char url[1024], detail[256];
	long backoff = o->backoff_ms > 0 ? o->backoff_ms : 200;
	unsigned tries = o->retries;
	CURLcode rc = CURLE_OK;

	snprintf(url, sizeof(url), "%s%s", s->c->url_base, path);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (s->token && strlen(s->token) < sizeof(auth) - 32) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	(void)method;
	for (unsigned attempt = 0;; attempt++) {
		body_wipe(b);
		*b = (struct body){ .max = o->max_response ? o->max_response : 1u << 20 };
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, b);
		if (json) {
			curl_easy_setopt(curl, CURLOPT_POST, 1L);
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
		} else {
			curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
		}
		rc = curl_easy_perform(curl);
		*status = 0;
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
		if (rc == CURLE_OK && *status < 500)
			break;
		if (b->too_big || attempt >= tries || rc == CURLE_PEER_FAILED_VERIFICATION ||
		    rc == CURLE_SSL_CACERT_BADFILE)
			break;
		{
			struct timespec ts = { backoff / 1000, (backoff % 1000) * 1000000L };

			nanosleep(&ts, NULL);
			backoff *= 2;
		}
	}
	/* the handle outlives this request: it keeps no pointer to what is freed here */
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
	if (b->too_big)
		return set_error(err, errlen, -EFBIG, "%s %s: answer larger than %zu bytes", method,
				 path, b->max);
	if (rc != CURLE_OK)
		return set_error(err, errlen, -EIO, "%s %s: %s", method, path,
				 curl_easy_strerror(rc));
	if (*status != 200) {
		problem_detail(b, detail, sizeof(detail));
		return set_error(err, errlen, *status == 401 || *status == 403 ? -EACCES : -EPROTO,
				 "%s %s: HTTP %ld: %s", method, path, *status, detail);
	}
	return 0;
}

static int auth(struct session *s, struct tee *tee, char **nonce, char *hash, size_t hashcap,
		char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject(), *resp = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_(body_wipe) struct body b = { 0 };
	const cJSON *extra;
	const char *n = NULL, *sel = NULL;
	_cleanup_free_ uint8_t *raw = NULL;
	size_t rawlen = 0;
	long status;
	int r;

	if (!req || !cJSON_AddStringToObject(req, "version", KBS_PROTOCOL_VERSION) ||
	    !cJSON_AddStringToObject(req, "tee", tee->kbs_tee) ||
	    !cJSON_AddObjectToObject(req, "extra-params") || !(text = cJSON_PrintUnformatted(req)))
		return -ENOMEM;
	r = request(s, "POST", "/kbs/v0/auth", text, &b, &status, err, errlen);
	if (r == 0 && (json_parse(b.p, b.len, &resp) < 0 || json_get_string(resp, "nonce", &n) < 0))
		r = set_error(err, errlen, -EPROTO, "auth: the challenge has no nonce");
	if (r == 0 && (base64_decode(n, strlen(n), BASE64_STD, &raw, &rawlen) < 0 || rawlen < 16 ||
		       rawlen > 64))
		r = set_error(err, errlen, -EPROTO,
			      "auth: the nonce is not 16 to 64 bytes of standard base64");
	extra = resp ? cJSON_GetObjectItemCaseSensitive(resp, "extra-params") : NULL;
	if (r == 0 && extra && cJSON_IsObject(extra) &&
	    json_get_string(extra, "selected-hash-algorithm", &sel) == 0) {
		if (strcasecmp(sel, "sha256") && strcasecmp(sel, "sha384") &&
		    strcasecmp(sel, "sha512"))
			r = set_error(err, errlen, -EPROTO, "auth: unknown hash algorithm %.16s",
				      sel);
		else
			snprintf(hash, hashcap, "%s", sel);
	}
	if (r == 0 && !(*nonce = strdup(n)))
		r = -ENOMEM;
	return r;
}

static int attest(struct session *s, struct tee *tee, const char *nonce, const char *hash,
		  EVP_PKEY *key, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject();
	/* the answer holds the token that fetches the key: wiped with its text */
	_cleanup_(json_delete_wipedp) cJSON *resp = NULL;
	_cleanup_free_ char *text = NULL;
	cJSON *jwk = NULL, *rt, *ev, *primary = NULL;
	uint8_t rd[64];
	_cleanup_(body_wipe) struct body b = { 0 };
	const char *token;
	long status;
	int r;

	if (!req || jwk_from_pkey(key, &jwk) < 0)
		return -ENOMEM;
	r = kbs_report_data(nonce, jwk, hash, rd);
	if (r < 0) {
		cJSON_Delete(jwk);
		return set_error(err, errlen, r, "report_data: cannot compute");
	}
	if (tee->cfg.sim_report_data && !strcmp(tee->name, "sim"))
		memcpy(rd, tee->cfg.sim_report_data, 64);
	r = tee->evidence(tee, rd, &primary, err, errlen);
	if (r < 0) {
		cJSON_Delete(jwk);
		return r;
	}
	rt = cJSON_AddObjectToObject(req, "runtime-data");
	ev = cJSON_AddObjectToObject(req, "tee-evidence");
	if (!rt || !ev || !cJSON_AddStringToObject(rt, "nonce", nonce) ||
	    !cJSON_AddItemToObject(rt, "tee-pubkey", jwk)) {
		cJSON_Delete(jwk);
		cJSON_Delete(primary);
		return -ENOMEM;
	}
	if (!cJSON_AddItemToObject(ev, "primary_evidence", primary)) {
		cJSON_Delete(primary);
		return -ENOMEM;
	}
	if (!cJSON_AddStringToObject(ev, "additional_evidence", ""))
		return -ENOMEM;
	if (s->c->o->init_data_body) {
		cJSON *id = cJSON_AddObjectToObject(req, "init-data");

		if (!id || !cJSON_AddStringToObject(id, "format", "json") ||
		    !cJSON_AddStringToObject(id, "body", s->c->o->init_data_body) ||
		    !cJSON_AddStringToObject(id, "signature", s->c->o->init_data_signature))
			return -ENOMEM;
	}
	if (!(text = cJSON_PrintUnformatted(req)))
		return -ENOMEM;
	r = request(s, "POST", "/kbs/v0/attest", text, &b, &status, err, errlen);
	/* the broker no longer knows the session (dropped under flood, or expired) */
	if (r == -EACCES && status == 401 && strstr(err, "HTTP 401: UnAuthenticatedCookie:"))
		r = -ESTALE;
	if (r == 0 &&
	    (json_parse(b.p, b.len, &resp) < 0 || json_get_string(resp, "token", &token) < 0))
		r = set_error(err, errlen, -EPROTO, "attest: the answer has no token");
	if (r == 0 && !(s->token = strdup(token)))
		r = -ENOMEM;
	return r;
}

static int fetch(struct session *s, const char *resource, EVP_PKEY *key, uint8_t **secret,
		 size_t *n, char *err, size_t errlen)
{
	/* the broker's answer: the JWE of the key, wiped with its text like the rest */
	_cleanup_(json_delete_wipedp) cJSON *jwe = NULL;
	char path[512], why[256];
	_cleanup_(body_wipe) struct body b = { 0 };
	long status;
	int r;

	snprintf(path, sizeof(path), "/kbs/v0/resource/%s", resource);
	r = request(s, "GET", path, NULL, &b, &status, err, errlen);
	if (r == 0 && json_parse(b.p, b.len, &jwe) < 0)
		r = set_error(err, errlen, -EPROTO, "resource: the answer is not JSON");
	if (r == 0 && jwe_decrypt(key, jwe, secret, n, why, sizeof(why)) < 0)
		r = set_error(err, errlen, -EPROTO, "resource: %s", why);
	return r;
}

void agent_curl_confine(CURL *curl, const char *protocol)
{
	/*
	 * No proxy, whatever the environment says: the kernel command line
	 * (the host's) becomes PID 1's environment, and libcurl reads
	 * https_proxy, ALL_PROXY and NO_PROXY from it. main() clears the
	 * environment first; these options make the handle itself refuse.
	 */
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protocol);
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
}

/* The libcurl handle of a client: HTTPS only, no proxy, no redirect, the broker pinned. */
static int client_curl(struct kbs_client *c, char *err, size_t errlen)
{
	const struct kbs_options *o = c->o;
	CURL *curl = c->curl;

	agent_curl_confine(curl, "https");
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (o->cacert) {
		/* Pinned: the given CA file only, never the system store. */
		curl_easy_setopt(curl, CURLOPT_CAINFO, o->cacert);
		curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
	} else if (o->ca_pem) {
		/* Pinned: the order's CA only */
		struct curl_blob blob = { .data = (void *)o->ca_pem,
					  .len = strlen(o->ca_pem),
					  .flags = CURL_BLOB_COPY };

		curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
		curl_easy_setopt(curl, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
	} else if (o->spki_sha256) {
		/*
		 * Pinned by the key: libcurl compares the peer's SubjectPublicKeyInfo
		 * with the pin whatever the chain, which then need not verify; it
		 * does so on every connection, a resumed TLS session's too.
		 */
		_cleanup_free_ char *b64 = NULL;
		char pin[80];

		if (base64_encode(o->spki_sha256, 32, BASE64_STD, &b64) < 0)
			return set_error(err, errlen, -ENOMEM, "out of memory");
		snprintf(pin, sizeof(pin), "sha256//%s", b64);
		curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, pin);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->connect_to) {
		c->connect_to = curl_slist_append(NULL, o->connect_to);
		if (!c->connect_to)
			return set_error(err, errlen, -ENOMEM, "out of memory");
		curl_easy_setopt(curl, CURLOPT_CONNECT_TO, c->connect_to);
	}
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
			 o->total_timeout_ms > 0 ? o->total_timeout_ms : 30000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_COOKIEFILE, ""); /* cookies kept in memory */
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "cvm-kbs-client/" KBS_PROTOCOL_VERSION);
	return 0;
}

int kbs_client_new(const struct kbs_options *o, struct kbs_client **out, char *err, size_t errlen)
{
	struct kbs_client *c;
	int r;

	*out = NULL;
	if (strncmp(o->url, "https://", 8) || strlen(o->url) >= sizeof(c->url_base))
		return set_error(err, errlen, -EINVAL, "the broker URL must be https://");
	c = calloc(1, sizeof(*c));
	if (!c)
		return set_error(err, errlen, -ENOMEM, "out of memory");
	c->o = o;
	snprintf(c->url_base, sizeof(c->url_base), "%s", o->url);
	while (strlen(c->url_base) > 8 && c->url_base[strlen(c->url_base) - 1] == '/')
		c->url_base[strlen(c->url_base) - 1] = 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->curl = curl_easy_init())) {
		kbs_client_free(c);
		return set_error(err, errlen, -ENOMEM, "cannot start libcurl");
	}
	r = client_curl(c, err, errlen);
	if (r < 0) {
		kbs_client_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void kbs_client_free(struct kbs_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->connect_to);
	free(c);
}

void kbs_client_freep(struct kbs_client **c)
{
	kbs_client_free(*c);
}

int kbs_client_get_resource(struct kbs_client *c, struct tee *tee, const char *resource,
			    uint8_t **secret, size_t *n, char *err, size_t errlen)
{
	_cleanup_(session_end) struct session s = { .c = c };
	_cleanup_free_ char *nonce = NULL;
	char hash[16] = "sha384";
	EVP_PKEY *key = NULL;
	int r;

	if (!kbs_resource_path_valid(resource))
		return set_error(err, errlen, -EINVAL,
				 "resource path must be repo/type/tag of [A-Za-z0-9._-], no dot "
				 "first: %.64s",
				 resource);
	/* nothing of an earlier release goes with this one: its cookie neither */
	curl_easy_setopt(c->curl, CURLOPT_COOKIELIST, "ALL");
	r = p256_generate(&key);
	/*
	 * A session the broker dropped before our /attest (a flood of /auth
	 * evicts the oldest waiting sessions, docs/kbs.md "Under flood") is
	 * started again from /auth, with fresh evidence over a fresh nonce.
	 */
	for (unsigned again = 0; r == 0; again++) {
		free(nonce);
		nonce = NULL;
		r = auth(&s, tee, &nonce, hash, sizeof(hash), err, errlen);
		if (r == 0)
			r = attest(&s, tee, nonce, hash, key, err, errlen);
		if (r != -ESTALE || again >= c->o->retries)
			break;
		r = 0;
	}
	if (r == -ESTALE)
		r = -EACCES;
	if (r == 0)
		r = fetch(&s, resource, key, secret, n, err, errlen);
	EVP_PKEY_free(key);
	return r;
}

int kbs_get_resource(const struct kbs_options *o, struct tee *tee, const char *resource,
		     uint8_t **secret, size_t *n, char *err, size_t errlen)
{
	_cleanup_(kbs_client_freep) struct kbs_client *c = NULL;
	int r = kbs_client_new(o, &c, err, errlen);

	if (r < 0)
		return r;
	return kbs_client_get_resource(c, tee, resource, secret, n, err, errlen);
}
