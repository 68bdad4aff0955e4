/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm kbs serve: a key broker speaking Trustee's KBS protocol (RCAR 0.4.0)
 * over HTTPS, on libevent's evhttp with OpenSSL bufferevents.
 *
 *   POST /kbs/v0/auth      -> {"nonce", "extra-params": ""}, Set-Cookie kbs-session-id
 *   POST /kbs/v0/attest    -> verifies evidence and its binding -> {"token": JWT}
 *   GET  /kbs/v0/resource/<repo>/<type>/<tag> -> the resource's policy, then a JWE
 *
 * One thread, one event loop: each request is handled to the end before
 * the next. Every decision is logged on stderr with its reason, never with
 * a secret.
 *
 * Under flood (docs/kbs.md, "Limits"): a session waiting for its /attest
 * holds no evidence and lives attest_ttl; a refused /attest frees its
 * session at once; when a pool (waiting, attested, connections) is full,
 * its oldest member makes room, so that a flood shortens the window of a
 * genuine guest instead of shutting it out.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <ftw.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "agent/agent.h"
#include "host/cvm.h"
#include "host/kbs.h"
#include "lib/lib.h"

#define ERR_PREFIX "https://github.com/confidential-containers/kbs/errors/"

/*
 * A session waiting for its /attest holds its id and nonce only; evidence
 * and key come with an accepted /attest. A refused /attest frees the
 * session, so that only an attested session ever holds evidence.
 */
struct session {
	TAILQ_ENTRY(session) age; /* in k->waiting or k->attested, oldest first */
	struct session *next;	  /* in its hash bucket */
	uint8_t id[32];
	char hex[65]; /* the id as the cookie carries it */
	char nonce[64];
	time_t expires;
	bool used; /* an /attest was accepted: the nonce is spent */
	enum cvm_platform tee;
	EVP_PKEY *key; /* tee-pubkey */
	uint8_t report_data[64];
	struct kbs_evidence ev;
};
TAILQ_HEAD(session_list, session);

/* An accepted TLS connection, from the SSL object's birth to its free. */
struct conn {
	TAILQ_ENTRY(conn) age;
	struct kbs *k;
	SSL *ssl;
	time_t start;
	bool listed; /* in k->conns (not yet cut) */
};
TAILQ_HEAD(conn_list, conn);

struct kbs {
	/* configuration */
	char listen_addr[64];
	int port;
	char store[1024];
	long session_ttl, token_ttl, timeout, attest_ttl, connection_ttl;
	size_t max_sessions, max_attested, max_body, max_connections;
	/* state */
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *ssl;
	EVP_PKEY *token_key;
	struct snp_verifier *snp;
	struct tdx_verifier *tdx;
	bool tdx_unchecked; /* no collateral, and no tdx_without_collateral */
	struct session_list waiting, attested;
	size_t nwaiting, nattested;
	struct session **buckets; /* by the id's first bytes; ids are random */
	size_t nbuckets;	  /* a power of two */
	struct conn_list conns;
	size_t nconns;
	bool freed; /* memory to give back at the next sweep */
	uint64_t served, evicted, cut;
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one line: a hostile value never starts a second */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
	fprintf(stderr, "cvm kbs: %s\n", line);
	fflush(stderr);
}

/* ---- sessions ---- */

static struct session **bucket_of(struct kbs *k, const uint8_t id[32])
{
	uint32_t h = (uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16 |
		     (uint32_t)id[3] << 24;

	return &k->buckets[h & (k->nbuckets - 1)];
}

/* Unlinks and frees a session, with what it held. */
static void session_drop(struct kbs *k, struct session *s)
{
	struct session **p = bucket_of(k, s->id);

	while (*p != s)
		p = &(*p)->next;
	*p = s->next;
	if (s->used) {
		TAILQ_REMOVE(&k->attested, s, age);
		k->nattested--;
	} else {
		TAILQ_REMOVE(&k->waiting, s, age);
		k->nwaiting--;
	}
	EVP_PKEY_free(s->key);
	kbs_evidence_free(&s->ev);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	k->freed = true;
}

static void sessions_sweep(struct kbs *k, time_t now)
{
	struct session_list *lists[] = { &k->waiting, &k->attested };

	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		struct session *s = TAILQ_FIRST(lists[i]), *next;

		for (; s; s = next) {
			next = TAILQ_NEXT(s, age);
			if (s->expires <= now)
				session_drop(k, s);
		}
	}
}

/*
 * The live session of a 64-hex-digit id, or NULL. The id is compared in
 * constant time; the bucket's index (its first 32 bits) is not secret
 * enough to matter: the other 224 bits still have to be guessed.
 */
static struct session *session_find(struct kbs *k, const char *hex, time_t now)
{
	uint8_t id[32];

	if (strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64 ||
	    hex_decode_exact(hex, id, sizeof(id)) < 0)
		return NULL;
	for (struct session *s = *bucket_of(k, id); s; s = s->next)
		if (!CRYPTO_memcmp(s->id, id, sizeof(id)))
			return s->expires > now ? s : NULL;
	return NULL;
}

/* A new waiting session; the oldest waiting one makes room when the pool is full. */
static struct session *session_new(struct kbs *k, const char *peer_addr, time_t now)
{
	struct session *s, **b;

	if (k->nwaiting >= k->max_sessions) {
		s = TAILQ_FIRST(&k->waiting);
		logf_("%s auth: session %.8s evicted unattested (max_sessions %zu waiting)",
		      peer_addr, s->hex, k->max_sessions);
		k->evicted++;
		session_drop(k, s);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (RAND_bytes(s->id, sizeof(s->id)) != 1) {
		free(s);
		return NULL;
	}
	hex_encode(s->id, sizeof(s->id), s->hex);
	s->expires = now + k->attest_ttl;
	b = bucket_of(k, s->id);
	s->next = *b;
	*b = s;
	TAILQ_INSERT_TAIL(&k->waiting, s, age);
	k->nwaiting++;
	return s;
}

/* A waiting session accepted by /attest moves to the attested pool for session_ttl. */
static void session_attested(struct kbs *k, struct session *s, const char *peer_addr, time_t now)
{
	if (k->nattested >= k->max_attested) {
		struct session *old = TAILQ_FIRST(&k->attested);

		logf_("%s attest: session %.8s evicted (max_attested %zu)", peer_addr, old->hex,
		      k->max_attested);
		k->evicted++;
		session_drop(k, old);
	}
	TAILQ_REMOVE(&k->waiting, s, age);
	k->nwaiting--;
	s->used = true;
	s->expires = now + k->session_ttl;
	TAILQ_INSERT_TAIL(&k->attested, s, age);
	k->nattested++;
}

/* ---- answers ---- */

static void reply_json(struct evhttp_request *req, int code, const char *reason, cJSON *body)
{
	struct evbuffer *b = evbuffer_new();
	char *text = cJSON_PrintUnformatted(body);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (b && text)
		evbuffer_add(b, text, strlen(text));
	evhttp_send_reply(req, code, reason, b);
	if (text) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	if (b)
		evbuffer_free(b);
}

/* RFC 7807 problem details, with the error names of Trustee's KBS. */
static void reply_error(struct evhttp_request *req, int code, const char *type, const char *detail)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	char t[128];

	snprintf(t, sizeof(t), ERR_PREFIX "%s", type);
	if (o) {
		cJSON_AddStringToObject(o, "type", t);
		cJSON_AddStringToObject(o, "detail", detail);
	}
	reply_json(req, code,
		   code == 400	 ? "Bad Request"
		   : code == 401 ? "Unauthorized"
		   : code == 404 ? "Not Found"
		   : code == 413 ? "Payload Too Large"
		   : code == 503 ? "Service Unavailable"
				 : "Error",
		   o);
}

static const char *peer(struct evhttp_request *req)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	const char *addr = NULL;
	ev_uint16_t port;

	if (c)
		evhttp_connection_get_peer(c, (char **)&addr, &port);
	return addr ? addr : "?";
}

/* The request body as a NUL-terminated string, or NULL when too big or empty. */
static char *read_body(struct kbs *k, struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char *p;

	if (n == 0 || n > k->max_body)
		return NULL;
	p = malloc(n + 1);
	if (!p)
		return NULL;
	evbuffer_copyout(in, p, n);
	p[n] = 0;
	*len = n;
	return p;
}

/* ---- /auth ---- */

static void handle_auth(struct kbs *k, struct evhttp_request *req)
{
	_cleanup_free_ char *body = NULL, *nonce = NULL;
	_cleanup_(cJSON_Deletep) cJSON *resp = NULL;
	const char *type;
	char why[160];
	int r;
	enum cvm_platform platform;
	struct session *s;
	uint8_t raw[32];
	char cookie[160];
	size_t len = 0;
	time_t now = time(NULL);

	/*
	 * One session per connection: a flood of /auth pays a TLS handshake for
	 * each session it opens; a client keeps its cookie across connections.
	 */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	body = read_body(k, req, &len);
	r = kbs_auth_request_parse(body, body ? len : 0, &platform, &type, why, sizeof(why));
	if (r < 0) {
		logf_("%s auth: refused: %s", peer(req), why);
		return reply_error(req, 400, type, why);
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1 ||
	    base64_encode(raw, sizeof(raw), BASE64_STD, &nonce) < 0 ||
	    !(s = session_new(k, peer(req), now)))
		return reply_error(req, 500, "InternalError", "out of memory");
	snprintf(s->nonce, sizeof(s->nonce), "%s", nonce);
	s->tee = platform;
	resp = cJSON_CreateObject();
	cJSON_AddStringToObject(resp, "nonce", nonce);
	cJSON_AddStringToObject(resp, "extra-params", "");
	snprintf(cookie, sizeof(cookie),
		 "kbs-session-id=%s; Path=/kbs; Max-Age=%ld; Secure; HttpOnly", s->hex,
		 k->session_ttl);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
	logf_("%s auth: session %.8s for %s", peer(req), s->hex, platform_name(platform));
	reply_json(req, 200, "OK", resp);
}

/* The session of the kbs-session-id cookie, or NULL. */
static struct session *cookie_session(struct kbs *k, struct evhttp_request *req)
{
	const char *c = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	const char *p;
	char id[65];

	if (!c || !(p = strstr(c, "kbs-session-id=")))
		return NULL;
	p += strlen("kbs-session-id=");
	if (strspn(p, "0123456789abcdef") != 64 || strspn(p + 64, "0123456789abcdef"))
		return NULL;
	memcpy(id, p, 64);
	id[64] = 0;
	return session_find(k, id, time(NULL));
}

/* ---- evidence ---- */

/*
 * Verifies the session's evidence: genuine, bound to report_data, and when a
 * policy is given, one of its complete references for the evidence's
 * platform (one per launch of the image it names) and its runtime-log
 * demands.
 */
static int evaluate(struct kbs *k, struct session *s, const struct kbs_policy *pol,
		    struct verdict *v)
{
	const struct reference *cands = pol ? pol->cands[s->tee] : NULL;
	size_t n = pol ? pol->ncands[s->tee] : 0;
	uint8_t reg[48];
	size_t reglen;

	if (pol && !n) {
		verdict_init(v, PLATFORM_NONE);
		return verdict_fail(v, CHECK_FORMAT, "the policy accepts no %s evidence (%s)",
				    platform_name(s->tee), pol->image_label);
	}
	if (kbs_evidence_verify_any(&s->ev, k->snp, k->tdx, cands, n, s->report_data, reg, &reglen,
				    v) < 0)
		return -1;
	if (s->tee == PLATFORM_SNP) {
		if (s->ev.runtime_log || (pol && pol->require_runtime_log))
			return verdict_fail(
				v, CHECK_RUNTIME_LOG,
				"SEV-SNP has no runtime register to bind a runtime log");
		return 0;
	}
	if (pol && pol->require_runtime_log && !s->ev.runtime_log)
		return verdict_fail(v, CHECK_RUNTIME_LOG,
				    "the policy requires a runtime event log");
	if (s->ev.runtime_log)
		return runtime_log_check(
			s->ev.runtime_log, strlen(s->ev.runtime_log), s->tee, reg,
			pol && pol->ref.has_luks_header_sha256 ? pol->ref.luks_header_sha256 : NULL,
			v);
	return 0;
}

static void failure_text(const struct verdict *v, char *out, size_t cap)
{
	const struct check_result *f = verdict_first_failure(v);

	if (f)
		snprintf(out, cap, "%s: %s", check_name(f->check), f->detail);
	else
		snprintf(out, cap, "evidence refused");
}

/* ---- /attest ---- */

/*
 * Checks an /attest request against its session: 0 with the evidence and
 * key in the session and the JWK in *jwk, or -1 with the HTTP status, the
 * problem type and why.
 */
static int attest_check(struct kbs *k, struct evhttp_request *req, struct session *s, cJSON **j,
			const cJSON **jwk, int *code, const char **type, char *why, size_t cap)
{
	_cleanup_free_ char *body = NULL;
	const cJSON *primary;
	const char *nonce;
	struct verdict v;
	size_t len = 0;

	*code = 400;
	*type = "InvalidRequest";
	body = read_body(k, req, &len);
	if (kbs_attest_request_parse(body, body ? len : 0, j, &nonce, jwk, &primary, why, cap) < 0)
		return -1;
	if (strlen(nonce) != strlen(s->nonce) || CRYPTO_memcmp(nonce, s->nonce, strlen(s->nonce))) {
		*code = 401;
		*type = "AttestationFailed";
		snprintf(why, cap, "runtime-data.nonce is not this session's nonce");
		return -1;
	}
	if (jwk_to_pkey(*jwk, &s->key, why, cap) < 0)
		return -1;
	if (kbs_report_data(nonce, *jwk, "sha384", s->report_data) < 0) {
		snprintf(why, cap, "runtime-data cannot be canonicalized (RFC 8785)");
		return -1;
	}
	if (kbs_evidence_parse(s->tee, primary, &s->ev, why, cap) < 0)
		return -1;
	if (evaluate(k, s, NULL, &v) < 0) {
		*code = 401;
		*type = "AttestationFailed";
		failure_text(&v, why, cap);
		return -1;
	}
	return 0;
}

static void handle_attest(struct kbs *k, struct evhttp_request *req)
{
	_cleanup_free_ char *token = NULL;
	_cleanup_(cJSON_Deletep) cJSON *j = NULL, *claims = NULL, *resp = NULL;
	struct session *s = cookie_session(k, req);
	const cJSON *jwk = NULL;
	const char *type;
	char why[320];
	int code;
	time_t now = time(NULL);

	if (!s) {
		logf_("%s attest: refused: no live session cookie", peer(req));
		return reply_error(req, 401, "UnAuthenticatedCookie",
				   "no live kbs-session-id: start with /auth");
	}
	if (s->used) {
		logf_("%s attest %.8s: refused: nonce already used", peer(req), s->hex);
		return reply_error(req, 401, "NonceReused",
				   "this session's nonce was already used; start again with /auth");
	}
	if (attest_check(k, req, s, &j, &jwk, &code, &type, why, sizeof(why)) < 0) {
		/* the nonce is spent: the session goes, with all it parsed */
		logf_("%s attest %.8s: refused: %s", peer(req), s->hex, why);
		session_drop(k, s);
		return reply_error(req, code, type, why);
	}
	session_attested(k, s, peer(req), now);
	claims = cJSON_CreateObject();
	cJSON_AddStringToObject(claims, "iss", "cvm-kbs");
	cJSON_AddNumberToObject(claims, "iat", (double)now);
	cJSON_AddNumberToObject(claims, "exp", (double)(now + k->token_ttl));
	cJSON_AddStringToObject(claims, "sid", s->hex);
	cJSON_AddStringToObject(claims, "tee", platform_name(s->tee));
	cJSON_AddItemToObject(claims, "tee-pubkey", cJSON_Duplicate(jwk, 1));
	if (jwt_sign_es256(k->token_key, claims, &token) < 0)
		return reply_error(req, 500, "InternalError", "cannot sign the token");
	resp = cJSON_CreateObject();
	cJSON_AddStringToObject(resp, "token", token);
	logf_("%s attest %.8s: accepted %s evidence", peer(req), s->hex, platform_name(s->tee));
	reply_json(req, 200, "OK", resp);
}

/* ---- /resource ---- */

/* The session of a bearer token this broker issued, while the session lives. */
static struct session *token_session(struct kbs *k, struct evhttp_request *req, char *why,
				     size_t cap)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	_cleanup_(cJSON_Deletep) cJSON *claims = NULL;
	const char *sid;
	uint64_t exp;
	struct session *s;

	if (!h || strncmp(h, "Bearer ", 7))
		return NULL;
	if (jwt_verify_es256(k->token_key, h + 7, &claims, why, cap) < 0)
		return NULL;
	if (json_get_u64(claims, "exp", &exp) < 0 || (time_t)exp <= time(NULL)) {
		snprintf(why, cap, "token expired");
		return NULL;
	}
	if (json_get_string(claims, "sid", &sid) < 0 || !(s = session_find(k, sid, time(NULL)))) {
		snprintf(why, cap, "token's session has expired");
		return NULL;
	}
	return s;
}

static void handle_resource(struct kbs *k, struct evhttp_request *req, const char *path)
{
	_cleanup_(cJSON_Deletep) cJSON *jwe = NULL;
	_cleanup_free_ uint8_t *ptext = NULL;
	_cleanup_free_ uint8_t *data = NULL;
	struct kbs_policy pol;
	struct session *s;
	struct verdict v;
	char file[2048], images[1200], why[320] = "no session cookie or bearer token";
	size_t len = 0, plen = 0;
	int r;

	s = cookie_session(k, req);
	if (!s)
		s = token_session(k, req, why, sizeof(why));
	if (!s || !s->used) {
		logf_("%s resource %s: refused: %s", peer(req), path,
		      s ? "session not attested" : why);
		return reply_error(req, 401, "UnAuthenticatedCookie",
				   s ? "the session has not attested" : why);
	}
	if (!kbs_resource_path_valid(path)) {
		logf_("%s resource: refused: invalid path", peer(req));
		return reply_error(req, 400, "InvalidRequest",
				   "resource path must be repo/type/tag of [A-Za-z0-9._-]");
	}
	if (kbs_store_path(k->store, "policies", path, file, sizeof(file)) < 0 ||
	    file_read(file, CVM_CAP_JSON, &ptext, &plen) < 0) {
		logf_("%s resource %s: refused: no such resource", peer(req), path);
		return reply_error(req, 404, "ResourceNotFound", "no such resource");
	}
	snprintf(images, sizeof(images), "%s/images", k->store);
	if (kbs_policy_parse((char *)ptext, plen, &pol, why, sizeof(why)) < 0 ||
	    kbs_policy_resolve(&pol, images, why, sizeof(why)) < 0) {
		logf_("%s resource %s: refused: its policy is invalid: %s", peer(req), path, why);
		return reply_error(req, 401, "PolicyDeny", "the resource's policy is invalid");
	}
	/* A policy set after start-up is held to the start-up rule too. */
	if ((s->tee == PLATFORM_TDX || s->tee == PLATFORM_AZ_TDX_VTPM) && pol.ncands[s->tee] &&
	    k->tdx_unchecked) {
		kbs_policy_free(&pol);
		logf_("%s resource %s %.8s: denied: E_TDX_COLLATERAL: no tdx_collateral", peer(req),
		      path, s->id);
		return reply_error(req, 401, "PolicyDeny",
				   "E_TDX_COLLATERAL: the broker has no TDX collateral");
	}
	r = evaluate(k, s, &pol, &v);
	kbs_policy_free(&pol);
	if (r < 0) {
		failure_text(&v, why, sizeof(why));
		logf_("%s resource %s %.8s: denied: %s", peer(req), path, s->hex, why);
		return reply_error(req, 401, "PolicyDeny", why);
	}
	if (kbs_store_path(k->store, "resources", path, file, sizeof(file)) < 0 ||
	    (r = file_read(file, CVM_CAP_JSON, &data, &len)) < 0) {
		logf_("%s resource %s: refused: policy without resource", peer(req), path);
		return reply_error(req, 404, "ResourceNotFound", "no such resource");
	}
	r = jwe_encrypt(s->key, data, len, &jwe);
	OPENSSL_cleanse(data, len);
	if (r < 0)
		return reply_error(req, 500, "InternalError", "cannot encrypt the resource");
	logf_("%s resource %s %.8s: released (%zu bytes, sealed to the session key)", peer(req),
	      path, s->hex, len);
	reply_json(req, 200, "OK", jwe);
}

/* ---- dispatch ---- */

static void on_request(struct evhttp_request *req, void *arg)
{
	struct kbs *k = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	static const char res[] = "/kbs/v0/resource/";

	k->served++;
	{
		/* Answers go out in one piece: no Nagle delay against the peer's delayed ACK. */
		struct evhttp_connection *c = evhttp_request_get_connection(req);
		struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
		evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

		if (fd >= 0)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	}
	if (!uri)
		return reply_error(req, 400, "InvalidRequest", "no URI");
	if (strchr(uri, '?') || strchr(uri, '%') || strchr(uri, '#')) {
		logf_("%s refused: query strings and escapes are not accepted", peer(req));
		return reply_error(req, 400, "InvalidRequest",
				   "query strings and %-escapes are not accepted");
	}
	if (cmd == EVHTTP_REQ_POST && !strcmp(uri, "/kbs/v0/auth"))
		return handle_auth(k, req);
	if (cmd == EVHTTP_REQ_POST && !strcmp(uri, "/kbs/v0/attest"))
		return handle_attest(k, req);
	if (cmd == EVHTTP_REQ_GET && !strncmp(uri, res, strlen(res)))
		return handle_resource(k, req, uri + strlen(res));
	logf_("%s refused: no such endpoint", peer(req));
	reply_error(req, 404, "NotFound", "no such endpoint");
}

/* ---- connections ---- */

static int conn_index = -1; /* the SSL ex_data slot of a connection's struct conn */

/*
 * Ends a connection from outside evhttp: shutting its socket down makes
 * evhttp see the end of the stream and free the connection as usual.
 */
static void conn_cut(struct kbs *k, struct conn *c)
{
	int fd = SSL_get_fd(c->ssl);

	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	TAILQ_REMOVE(&k->conns, c, age);
	k->nconns--;
	c->listed = false;
	k->cut++;
}

/* Called by OpenSSL when the connection's SSL object is freed, with its socket. */
static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct conn *c = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (!c)
		return;
	if (c->listed) {
		TAILQ_REMOVE(&c->k->conns, c, age);
		c->k->nconns--;
	}
	free(c);
}

/* Connections older than connection_ttl are cut, whatever they are doing (slow clients). */
static void conns_sweep(struct kbs *k, time_t now)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&k->conns)) && c->start + k->connection_ttl <= now) {
		logf_("connection cut after %lds (connection_ttl)", (long)(now - c->start));
		conn_cut(k, c);
	}
}

static struct bufferevent *on_connect(struct event_base *base, void *arg)
{
	struct kbs *k = arg;
	struct bufferevent *bev;
	struct conn *c;
	SSL *ssl;

	if (k->nconns >= k->max_connections) {
		logf_("connection cut to make room (max_connections %zu)", k->max_connections);
		conn_cut(k, TAILQ_FIRST(&k->conns));
	}
	c = calloc(1, sizeof(*c));
	ssl = c ? SSL_new(k->ssl) : NULL;
	if (!ssl || !SSL_set_ex_data(ssl, conn_index, c)) {
		free(c);
		SSL_free(ssl);
		return NULL;
	}
	c->k = k;
	c->ssl = ssl;
	c->start = time(NULL);
	c->listed = true;
	TAILQ_INSERT_TAIL(&k->conns, c, age);
	k->nconns++;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		SSL_free(ssl); /* and c with it */
	return bev;
}

/* ---- configuration ---- */

static int cfg_string(const cJSON *c, const char *key, bool required, const char **out,
		      const char *config)
{
	int r = json_get_string(c, key, out);

	if (r == -ENOENT && !required) {
		*out = NULL;
		return 0;
	}
	if (r < 0)
		log_error("%s: \"%s\" %s", config, key,
			  r == -ENOENT ? "is required" : "must be a string");
	return r;
}

static int cfg_number(const cJSON *c, const char *key, long def, long min, long max, long *out,
		      const char *config)
{
	uint64_t v;
	int r = json_get_u64(c, key, &v);

	if (r == -ENOENT) {
		*out = def;
		return 0;
	}
	if (r < 0 || (long)v < min || (long)v > max) {
		log_error("%s: \"%s\" must be a number from %ld to %ld", config, key, min, max);
		return -EINVAL;
	}
	*out = (long)v;
	return 0;
}

static int load_token_key(const char *path, EVP_PKEY **out, const char *config)
{
	FILE *f;
	uint8_t xy[64];

	if (!path)
		return p256_generate(out); /* tokens then last as long as this process */
	f = fopen(path, "re");
	if (!f)
		return log_error_errno(-errno, "%s: token_key %s", config, path);
	*out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (!*out || p256_key_xy(*out, xy) < 0) {
		log_error("%s: token_key %s is not a P-256 private key (PEM)", config, path);
		return -EINVAL;
	}
	return 0;
}

/* Every resource must have a valid policy; the broker refuses to start otherwise. */
static const char *walk_store;
static char walk_images[1200];
static int walk_bad, walk_n;
static char walk_tdx[256]; /* the first resource whose policy admits TDX evidence */

static int check_resource(const char *file, const struct stat *st, int type, struct FTW *ftw)
{
	char path[2048], why[256];
	const char *rel;
	_cleanup_free_ uint8_t *text = NULL;
	struct kbs_policy pol;
	size_t len, base = strlen(walk_store) + strlen("/resources/");

	(void)st;
	(void)ftw;
	if (type != FTW_F || strstr(file, ".tmp."))
		return 0;
	rel = strlen(file) > base ? file + base : file;
	walk_n++;
	if (!kbs_resource_path_valid(rel)) {
		log_error("resource %s: not a repo/type/tag path", rel);
		walk_bad++;
		return 0;
	}
	kbs_store_path(walk_store, "policies", rel, path, sizeof(path));
	if (file_read(path, CVM_CAP_JSON, &text, &len) < 0) {
		log_error("resource %s: no policy (%s); set one with 'cvm kbs set-policy'", rel,
			  path);
		walk_bad++;
	} else if (kbs_policy_parse((char *)text, len, &pol, why, sizeof(why)) < 0 ||
		   kbs_policy_resolve(&pol, walk_images, why, sizeof(why)) < 0) {
		log_error("resource %s: policy %s: %s", rel, path, why);
		walk_bad++;
	} else {
		if ((pol.ncands[PLATFORM_TDX] || pol.ncands[PLATFORM_AZ_TDX_VTPM]) && !walk_tdx[0])
			snprintf(walk_tdx, sizeof(walk_tdx), "%s", rel);
		kbs_policy_free(&pol);
	}
	return 0;
}

static int check_store(const char *store)
{
	char dir[1200];

	snprintf(dir, sizeof(dir), "%s/resources", store);
	walk_store = store;
	snprintf(walk_images, sizeof(walk_images), "%s/images", store);
	walk_bad = walk_n = 0;
	walk_tdx[0] = 0;
	if (nftw(dir, check_resource, 16, FTW_PHYS) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "%s", dir);
	return walk_bad ? -EINVAL : walk_n;
}

static volatile sig_atomic_t stop_signal;

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	stop_signal = (int)fd; /* libevent passes the signal number */
	event_base_loopbreak(arg);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct kbs *k = arg;
	time_t now = time(NULL);

	(void)fd;
	(void)what;
	sessions_sweep(k, now);
	conns_sweep(k, now);
	/* Give freed memory back, so that the broker's size follows its load. */
	if (k->freed)
		malloc_trim(0);
	k->freed = false;
}

/* A decimal port, 1 to 65535, digits only. */
static int parse_port(const char *s, int *out)
{
	size_t n = strspn(s, "0123456789");
	long v;

	if (n == 0 || n > 5 || s[n])
		return -EINVAL;
	v = strtol(s, NULL, 10);
	if (v < 1 || v > 65535)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* Enough descriptors for max_connections and the broker's own files. */
static int raise_nofile(size_t max_connections, const char *config)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return log_error_errno(-errno, "getrlimit");
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		log_error("%s: max_connections %zu needs %llu file descriptors; the limit is %llu",
			  config, max_connections, (unsigned long long)want,
			  (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return log_error_errno(-errno, "setrlimit");
	return 0;
}

/*
 * The limits that follow from the configuration (docs/kbs.md, "Limits"):
 * a genuine guest sends its /attest within a second of its /auth, so a
 * waiting session needs no more than a minute; an attested one holds its
 * evidence (at most max_body) for session_ttl, so there are fewer of them.
 */
static void kbs_limits(struct kbs *k)
{
	k->attest_ttl = k->session_ttl < 60 ? k->session_ttl : 60;
	k->max_attested = k->max_sessions / 40 > 16 ? k->max_sessions / 40 : 16;
	k->connection_ttl = 3 * k->timeout;
	for (k->nbuckets = 1; k->nbuckets < k->max_sessions + k->max_attested; k->nbuckets <<= 1)
		;
}

int kbs_serve(const char *config)
{
	_cleanup_free_ uint8_t *text = NULL;
	_cleanup_(cJSON_Deletep) cJSON *c = NULL;
	struct kbs k = { 0 };
	const char *listen, *cert, *key, *store, *tkey, *snp_roots = NULL, *tdx_roots = NULL,
							*collateral = NULL;
	const cJSON *roots;
	long max_sessions, max_body, max_conns;
	char err[256], *colon;
	struct event *sigint = NULL, *sigterm = NULL, *sweep = NULL;
	int r, nres, rc = EXIT_USAGE;
	bool without_collateral = false;

	TAILQ_INIT(&k.waiting);
	TAILQ_INIT(&k.attested);
	TAILQ_INIT(&k.conns);
	r = file_read(config, CVM_CAP_JSON, &text, &(size_t){ 0 });
	if (r < 0) {
		log_error_errno(r, "%s", config);
		return EXIT_USAGE;
	}
	if (json_parse((char *)text, strlen((char *)text), &c) < 0 || !cJSON_IsObject(c)) {
		log_error("%s: not a JSON object", config);
		return EXIT_USAGE;
	}
	{
		static const char *const known[] = { "listen",	       "tls_cert",
						     "tls_key",	       "store",
						     "token_key",      "session_ttl",
						     "token_ttl",      "max_sessions",
						     "max_body",       "max_connections",
						     "timeout",	       "test_roots",
						     "tdx_collateral", "tdx_without_collateral" };
		const cJSON *m;

		cJSON_ArrayForEach(m, c) {
			size_t i;

			for (i = 0; i < ARRAY_SIZE(known) && strcmp(known[i], m->string); i++)
				;
			if (i == ARRAY_SIZE(known)) {
				log_error("%s: \"%.32s\": unknown member", config, m->string);
				return EXIT_USAGE;
			}
		}
	}
	if (cfg_string(c, "listen", true, &listen, config) < 0 ||
	    cfg_string(c, "tls_cert", true, &cert, config) < 0 ||
	    cfg_string(c, "tls_key", true, &key, config) < 0 ||
	    cfg_string(c, "store", true, &store, config) < 0 ||
	    cfg_string(c, "token_key", false, &tkey, config) < 0 ||
	    cfg_string(c, "tdx_collateral", false, &collateral, config) < 0 ||
	    cfg_number(c, "session_ttl", 300, 1, 86400, &k.session_ttl, config) < 0 ||
	    cfg_number(c, "token_ttl", 300, 1, 86400, &k.token_ttl, config) < 0 ||
	    cfg_number(c, "max_sessions", 10000, 1, 1000000, &max_sessions, config) < 0 ||
	    cfg_number(c, "max_body", 256 * 1024, 1024, 16 * 1024 * 1024, &max_body, config) < 0 ||
	    cfg_number(c, "max_connections", 512, 8, 65536, &max_conns, config) < 0 ||
	    cfg_number(c, "timeout", 10, 1, 600, &k.timeout, config) < 0)
		return EXIT_USAGE;
	if ((roots = cJSON_GetObjectItemCaseSensitive(c, "test_roots"))) {
		if (cfg_string(roots, "snp", false, &snp_roots, config) < 0 ||
		    cfg_string(roots, "tdx", false, &tdx_roots, config) < 0)
			return EXIT_USAGE;
	}
	k.max_sessions = (size_t)max_sessions;
	k.max_body = (size_t)max_body;
	k.max_connections = (size_t)max_conns;
	snprintf(k.store, sizeof(k.store), "%s", store);
	snprintf(k.listen_addr, sizeof(k.listen_addr), "%s", listen);
	colon = strrchr(k.listen_addr, ':');
	if (!colon || parse_port(colon + 1, &k.port) < 0) {
		log_error("%s: listen must be ADDRESS:PORT, PORT 1 to 65535", config);
		return EXIT_USAGE;
	}
	*colon = 0;
	kbs_limits(&k);
	if (raise_nofile(k.max_connections, config) < 0)
		return EXIT_USAGE;
	nres = check_store(store);
	if (nres < 0) {
		log_error("%s: the store %s has resources without a valid policy; not starting",
			  config, store);
		return EXIT_USAGE;
	}
	/*
	 * Without collateral a TDX quote's TCB status, QE identity and PCK
	 * revocation go unchecked: released to such evidence only when the
	 * configuration says so by name.
	 */
	if (json_get_bool(c, "tdx_without_collateral", &without_collateral) == -EINVAL) {
		log_error("%s: \"tdx_without_collateral\" must be true or false", config);
		return EXIT_USAGE;
	}
	if (walk_tdx[0] && !collateral && !without_collateral) {
		log_error(
			"%s: E_TDX_COLLATERAL: the policy of resource %s admits TDX evidence, and "
			"no tdx_collateral is configured (cvm collateral fetch); set it, or "
			"\"tdx_without_collateral\": true to accept TDX without TCB status, QE "
			"identity and revocation; not starting",
			config, walk_tdx);
		return EXIT_USAGE;
	}
	if (load_token_key(tkey, &k.token_key, config) < 0)
		return EXIT_USAGE;
	if (snp_verifier_new(snp_roots, 0, &k.snp) < 0) {
		log_error("%s: test_roots.snp %s: not readable certificates", config, snp_roots);
		goto out;
	}
	if (tdx_verifier_new(tdx_roots, collateral, 0, &k.tdx, err, sizeof(err)) < 0) {
		log_error("%s: %s", config, err);
		goto out;
	}
	if (conn_index < 0)
		conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
	k.buckets = calloc(k.nbuckets, sizeof(*k.buckets));
	k.ssl = SSL_CTX_new(TLS_server_method());
	if (conn_index < 0 || !k.buckets || !k.ssl)
		goto out;
	SSL_CTX_set_min_proto_version(k.ssl, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(k.ssl, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(k.ssl, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(k.ssl) != 1) {
		log_error("%s: tls_cert %s and tls_key %s do not load as a matching pair", config,
			  cert, key);
		goto out;
	}
	k.base = event_base_new();
	k.http = k.base ? evhttp_new(k.base) : NULL;
	if (!k.http)
		goto out;
	evhttp_set_bevcb(k.http, on_connect, &k);
	evhttp_set_gencb(k.http, on_request, &k);
	evhttp_set_allowed_methods(k.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_max_body_size(k.http, (ev_ssize_t)k.max_body);
	evhttp_set_max_headers_size(k.http, 16 * 1024);
	evhttp_set_timeout(k.http, (int)k.timeout);
	if (evhttp_bind_socket(k.http, k.listen_addr, (ev_uint16_t)k.port) < 0) {
		log_error("%s: cannot listen on %s:%d", config, k.listen_addr, k.port);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	sigint = evsignal_new(k.base, SIGINT, on_signal, k.base);
	sigterm = evsignal_new(k.base, SIGTERM, on_signal, k.base);
	sweep = event_new(k.base, -1, EV_PERSIST, on_sweep, &k);
	if (!sigint || !sigterm || !sweep)
		goto out;
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	event_add(sweep, &(struct timeval){ 1, 0 });
	if (snp_roots || tdx_roots)
		logf_("warning: test roots configured: evidence signed by a test PKI is accepted");
	k.tdx_unchecked = !collateral && !without_collateral;
	if (!collateral && without_collateral)
		logf_("warning: tdx_without_collateral: TDX evidence is accepted without its TCB "
		      "status, QE identity and revocation checked");
	logf_("listening on https://%s:%d, %d resource(s), session ttl %lds", k.listen_addr, k.port,
	      nres, k.session_ttl);
	logf_("limits: %zu sessions waiting %lds for /attest, %zu attested, %zu connections of "
	      "at most %lds, bodies of %zu bytes",
	      k.max_sessions, k.attest_ttl, k.max_attested, k.max_connections, k.connection_ttl,
	      k.max_body);
	event_base_dispatch(k.base);
	if (stop_signal)
		logf_("stopping on signal %d after %llu requests (%llu sessions evicted, %llu "
		      "connections cut)",
		      (int)stop_signal, (unsigned long long)k.served, (unsigned long long)k.evicted,
		      (unsigned long long)k.cut);
	else
		logf_("stopping after %llu requests", (unsigned long long)k.served);
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK)
		ERR_clear_error();
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (sweep)
		event_free(sweep);
	if (k.http)
		evhttp_free(k.http);
	if (k.base)
		event_base_free(k.base);
	SSL_CTX_free(k.ssl);
	if (k.buckets) {
		while (!TAILQ_EMPTY(&k.waiting))
			session_drop(&k, TAILQ_FIRST(&k.waiting));
		while (!TAILQ_EMPTY(&k.attested))
			session_drop(&k, TAILQ_FIRST(&k.attested));
	}
	free(k.buckets);
	snp_verifier_free(k.snp);
	tdx_verifier_free(k.tdx);
	EVP_PKEY_free(k.token_key);
	return rc;
}
