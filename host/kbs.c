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

#include "host/cvm.h"
#include "host/kbs.h"
#include "host/kbs_serve.h"
#include "lib/lib.h"
#include "measurement/platform.h"

#define ERR_PREFIX "https://github.com/confidential-containers/kbs/errors/"

void kbs_log(const char *fmt, ...)
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

/* ---- answers ---- */

static void reply_json(struct evhttp_request *req, int code, const char *reason, cJSON *body)
{
	struct evbuffer *b = evbuffer_new();
	/* the body may carry a sealed key: its text is wiped, not only freed */
	_cleanup_(wipe_freep) char *text = cJSON_PrintUnformatted(body);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (b && text)
		evbuffer_add(b, text, strlen(text));
	evhttp_send_reply(req, code, reason, b);
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

static void handle_auth(struct kbs *k, struct conn *c, struct evhttp_request *req)
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

	body = read_body(k, req, &len);
	r = kbs_auth_request_parse(body, body ? len : 0, &platform, &type, why, sizeof(why));
	if (r < 0) {
		kbs_log("%s auth: refused: %s", peer(req), why);
		return reply_error(req, 400, type, why);
	}
	/*
	 * One waiting session per connection: a flood of /auth pays a TLS
	 * handshake for each session it keeps waiting, as when every /auth
	 * closed its connection, while a client that attests keeps its
	 * connection for the next key release.
	 */
	if (c)
		conn_auth(k, c, peer(req), now);
	else
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	if (RAND_bytes(raw, sizeof(raw)) != 1 ||
	    base64_encode(raw, sizeof(raw), BASE64_STD, &nonce) < 0 ||
	    !(s = session_new(k, peer(req), now)))
		return reply_error(req, 500, "InternalError", "out of memory");
	if (c)
		memcpy(c->waiting, s->hex, sizeof(c->waiting));
	snprintf(s->nonce, sizeof(s->nonce), "%s", nonce);
	s->tee = platform;
	resp = cJSON_CreateObject();
	cJSON_AddStringToObject(resp, "nonce", nonce);
	cJSON_AddStringToObject(resp, "extra-params", "");
	snprintf(cookie, sizeof(cookie),
		 "kbs-session-id=%s; Path=/kbs; Max-Age=%ld; Secure; HttpOnly", s->hex,
		 k->session_ttl);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
	kbs_log("%s auth: session %.8s for %s", peer(req), s->hex, platform_name(platform));
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
 * The runtime log against the runtime register of the session's verified
 * evidence, and the policy's demands on it (pol NULL: none).
 */
static int runtime_check(const struct session *s, const struct kbs_policy *pol, const uint8_t *reg,
			 struct verdict *v)
{
	const struct platform *pl = platform_get(s->tee);

	if (!pl->runtime_reg) {
		if (s->ev.runtime_log || (pol && pol->require_runtime_log))
			return verdict_fail(v, CHECK_RUNTIME_LOG,
					    "%s has no runtime register to bind a runtime log",
					    pl->title);
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

/*
 * /attest: the session's evidence genuine (signatures, chains, collateral:
 * once per session, its verified claims kept in s->claims), bound to
 * report_data, within the secure defaults, and its runtime log.
 */
static int attest_evidence(struct kbs *k, struct session *s, struct verdict *v)
{
	uint8_t reg[48];
	size_t reglen;

	if (kbs_evidence_genuine(&s->ev, k->snp, k->tdx, &s->claims, v) < 0 ||
	    kbs_claims_match(s->claims, NULL, s->report_data, reg, &reglen, v) < 0)
		return -1;
	return runtime_check(s, NULL, reg, v);
}

/*
 * /resource: the claims verified at /attest held to one of the policy's
 * complete references for the evidence's platform (one per launch of the
 * image it names), bound to report_data again, and the policy's
 * runtime-log demands.
 */
static int policy_evidence(struct session *s, const struct kbs_policy *pol, struct verdict *v)
{
	const struct reference *cands = pol->cands[s->tee];
	size_t n = pol->ncands[s->tee];
	uint8_t reg[48];
	size_t reglen;

	if (!n) {
		verdict_init(v, PLATFORM_NONE);
		return verdict_fail(v, CHECK_FORMAT, "the policy accepts no %s evidence (%s)",
				    platform_name(s->tee), pol->image_label);
	}
	verdict_init(v, s->tee);
	if (!s->claims)
		return verdict_fail(v, CHECK_FORMAT, "the session's evidence was not verified");
	if (kbs_claims_match_any(s->claims, cands, n, s->report_data, reg, &reglen, v) < 0)
		return -1;
	return runtime_check(s, pol, reg, v);
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
 * The order a request carries as Trustee's "init-data" (docs/kbs.md):
 * {"format": "json", "body": <its signed form>, "signature": <hex>}. It is
 * rebuilt, parsed and its signature checked like any order, and it must be
 * the one the evidence was launched for (order_evidence_check). Kept in the
 * session for the policies of the resources asked for.
 */
static int attest_order(struct session *s, const cJSON *root, int *code, const char **type,
			char *why, size_t cap)
{
	int r;

	if (!(s->order = calloc(1, sizeof(*s->order)))) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	r = order_from_init_data(root, s->order, why, cap);
	if (r == -ENOENT) {
		free(s->order);
		s->order = NULL;
		return 0;
	}
	if (r == -EINVAL)
		return -1;
	*code = 401;
	*type = "AttestationFailed";
	if (r < 0 || order_evidence_check(&s->ev, s->order, why, cap) < 0)
		return -1;
	return 0;
}

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
	if (attest_evidence(k, s, &v) < 0) {
		*code = 401;
		*type = "AttestationFailed";
		failure_text(&v, why, cap);
		return -1;
	}
	return attest_order(s, *j, code, type, why, cap);
}

static void handle_attest(struct kbs *k, struct evhttp_request *req)
{
	_cleanup_free_ char *token = NULL;
	_cleanup_(cJSON_Deletep) cJSON *j = NULL, *claims = NULL, *resp = NULL;
	struct session *s = cookie_session(k, req);
	const cJSON *jwk = NULL;
	const char *type;
	char why[512];
	int code;
	time_t now = time(NULL);

	if (!s) {
		kbs_log("%s attest: refused: no live session cookie", peer(req));
		return reply_error(req, 401, "UnAuthenticatedCookie",
				   "no live kbs-session-id: start with /auth");
	}
	if (s->used) {
		kbs_log("%s attest %.8s: refused: nonce already used", peer(req), s->hex);
		return reply_error(req, 401, "NonceReused",
				   "this session's nonce was already used; start again with /auth");
	}
	if (attest_check(k, req, s, &j, &jwk, &code, &type, why, sizeof(why)) < 0) {
		/* the nonce is spent: the session goes, with all it parsed */
		kbs_log("%s attest %.8s: refused: %s", peer(req), s->hex, why);
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
	kbs_log("%s attest %.8s: accepted %s evidence", peer(req), s->hex, platform_name(s->tee));
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
	_cleanup_(wiped_buf_free) struct wiped_buf data = { 0 };
	struct kbs_policy pol;
	struct session *s;
	struct verdict v;
	char file[2048], images[1200], why[320] = "no session cookie or bearer token";
	size_t plen = 0;
	int r;

	s = cookie_session(k, req);
	if (!s)
		s = token_session(k, req, why, sizeof(why));
	if (!s || !s->used) {
		kbs_log("%s resource %s: refused: %s", peer(req), path,
			s ? "session not attested" : why);
		return reply_error(req, 401, "UnAuthenticatedCookie",
				   s ? "the session has not attested" : why);
	}
	if (!kbs_resource_path_valid(path)) {
		kbs_log("%s resource: refused: invalid path", peer(req));
		return reply_error(req, 400, "InvalidRequest",
				   "resource path must be repo/type/tag of [A-Za-z0-9._-]");
	}
	if (kbs_store_path(k->store, "policies", path, file, sizeof(file)) < 0 ||
	    file_read(file, CVM_CAP_JSON, &ptext, &plen) < 0) {
		kbs_log("%s resource %s: refused: no such resource", peer(req), path);
		return reply_error(req, 404, "ResourceNotFound", "no such resource");
	}
	snprintf(images, sizeof(images), "%s/images", k->store);
	if (kbs_policy_parse((char *)ptext, plen, &pol, why, sizeof(why)) < 0 ||
	    kbs_policy_resolve(&pol, images, why, sizeof(why)) < 0) {
		kbs_log("%s resource %s: refused: its policy is invalid: %s", peer(req), path, why);
		return reply_error(req, 401, "PolicyDeny", "the resource's policy is invalid");
	}
	/* A policy set after start-up is held to the start-up rule too. */
	if (platform_get(s->tee) && (platform_get(s->tee)->opts & PLATFORM_OPT_COLLATERAL) &&
	    pol.ncands[s->tee] && k->tdx_unchecked) {
		kbs_policy_free(&pol);
		kbs_log("%s resource %s %.8s: denied: E_TDX_COLLATERAL: no tdx_collateral",
			peer(req), path, s->id);
		return reply_error(req, 401, "PolicyDeny",
				   "E_TDX_COLLATERAL: the broker has no TDX collateral");
	}
	r = policy_evidence(s, &pol, &v);
	if (r < 0)
		failure_text(&v, why, sizeof(why));
	else
		r = kbs_policy_check_order(&pol, s->order, path, why, sizeof(why));
	kbs_policy_free(&pol);
	if (r < 0) {
		kbs_log("%s resource %s %.8s: denied: %s", peer(req), path, s->hex, why);
		return reply_error(req, 401, "PolicyDeny", why);
	}
	if (kbs_store_path(k->store, "resources", path, file, sizeof(file)) < 0 ||
	    (r = file_read(file, CVM_CAP_JSON, &data.p, &data.n)) < 0) {
		kbs_log("%s resource %s: refused: policy without resource", peer(req), path);
		return reply_error(req, 404, "ResourceNotFound", "no such resource");
	}
	r = jwe_encrypt(s->key, data.p, data.n, &jwe);
	if (r < 0)
		return reply_error(req, 500, "InternalError", "cannot encrypt the resource");
	kbs_log("%s resource %s %.8s: released (%zu bytes, sealed to the session key)", peer(req),
		path, s->hex, data.n);
	reply_json(req, 200, "OK", jwe);
}

/* ---- dispatch ---- */

static void on_request(struct evhttp_request *req, void *arg)
{
	struct kbs *k = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	static const char res[] = "/kbs/v0/resource/";

	struct evhttp_connection *ec = evhttp_request_get_connection(req);
	struct bufferevent *bev = ec ? evhttp_connection_get_bufferevent(ec) : NULL;
	struct conn *c = conn_of(k, bev);

	k->served++;
	/* Answers go out in one piece: no Nagle delay against the peer's delayed ACK. */
	if (c && c->requests == 1)
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
			   sizeof(int));
	/*
	 * A connection kept alive for timeout seconds closes after this answer,
	 * well before connection_ttl would cut it in the middle of another.
	 */
	if (!c || time(NULL) - c->start >= k->timeout)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	if (!uri)
		return reply_error(req, 400, "InvalidRequest", "no URI");
	if (strchr(uri, '?') || strchr(uri, '%') || strchr(uri, '#')) {
		kbs_log("%s refused: query strings and escapes are not accepted", peer(req));
		return reply_error(req, 400, "InvalidRequest",
				   "query strings and %-escapes are not accepted");
	}
	if (cmd == EVHTTP_REQ_POST && !strcmp(uri, "/kbs/v0/auth"))
		return handle_auth(k, c, req);
	if (cmd == EVHTTP_REQ_POST && !strcmp(uri, "/kbs/v0/attest"))
		return handle_attest(k, req);
	if (cmd == EVHTTP_REQ_GET && !strncmp(uri, res, strlen(res)))
		return handle_resource(k, req, uri + strlen(res));
	kbs_log("%s refused: no such endpoint", peer(req));
	reply_error(req, 404, "NotFound", "no such endpoint");
}

/* ---- start-up ---- */

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

/* The configuration's values in the server, and the limits that follow from them. */
static int kbs_configure(struct kbs *k, const struct kbs_config *c, const char *config)
{
	char *colon;

	k->session_ttl = c->session_ttl;
	k->token_ttl = c->token_ttl;
	k->timeout = c->timeout;
	k->max_sessions = (size_t)c->max_sessions;
	k->max_body = (size_t)c->max_body;
	k->max_connections = (size_t)c->max_connections;
	snprintf(k->store, sizeof(k->store), "%s", c->store);
	snprintf(k->listen_addr, sizeof(k->listen_addr), "%s", c->listen);
	colon = strrchr(k->listen_addr, ':');
	if (!colon || parse_port(colon + 1, &k->port) < 0) {
		log_error("%s: listen must be ADDRESS:PORT, PORT 1 to 65535", config);
		return -EINVAL;
	}
	*colon = 0;
	kbs_limits(k);
	return raise_nofile(k->max_connections, config);
}

/*
 * Every resource needs a valid policy. Without collateral a TDX quote's TCB
 * status, QE identity and PCK revocation go unchecked: released to such
 * evidence only when the configuration says so by name.
 */
static int kbs_check_store(struct kbs *k, const struct kbs_config *c, const char *config)
{
	char tdx_first[256];
	int nres = kbs_store_check(c->store, tdx_first, sizeof(tdx_first));

	if (nres < 0) {
		log_error("%s: the store %s has resources without a valid policy; not starting",
			  config, c->store);
		return nres;
	}
	if (tdx_first[0] && !c->tdx_collateral && !c->tdx_without_collateral) {
		log_error(
			"%s: E_TDX_COLLATERAL: the policy of resource %s admits TDX evidence, and "
			"no tdx_collateral is configured (cvm collateral fetch); set it, or "
			"\"tdx_without_collateral\": true to accept TDX without TCB status, QE "
			"identity and revocation; not starting",
			config, tdx_first);
		return -EINVAL;
	}
	k->tdx_unchecked = !c->tdx_collateral && !c->tdx_without_collateral;
	return nres;
}

/* The token key, the evidence verifiers, the TLS context and the session table. */
static int kbs_keys(struct kbs *k, const struct kbs_config *c, const char *config)
{
	char err[256];

	if (load_token_key(c->token_key, &k->token_key, config) < 0)
		return -EINVAL;
	if (snp_verifier_new(c->snp_roots, 0, &k->snp) < 0) {
		log_error("%s: test_roots.snp %s: not readable certificates", config, c->snp_roots);
		return -EINVAL;
	}
	if (tdx_verifier_new(c->tdx_roots, c->tdx_collateral, 0, &k->tdx, err, sizeof(err)) < 0) {
		log_error("%s: %s", config, err);
		return -EINVAL;
	}
	k->buckets = calloc(k->nbuckets, sizeof(*k->buckets));
	k->ssl = SSL_CTX_new(TLS_server_method());
	if (conns_init() < 0 || !k->buckets || !k->ssl)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(k->ssl, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(k->ssl, c->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(k->ssl, c->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(k->ssl) != 1) {
		log_error("%s: tls_cert %s and tls_key %s do not load as a matching pair", config,
			  c->tls_cert, c->tls_key);
		return -EINVAL;
	}
	return 0;
}

static int kbs_listen(struct kbs *k, const char *config)
{
	k->base = event_base_new();
	k->http = k->base ? evhttp_new(k->base) : NULL;
	if (!k->http)
		return -ENOMEM;
	evhttp_set_bevcb(k->http, on_connect, k);
	evhttp_set_gencb(k->http, on_request, k);
	evhttp_set_allowed_methods(k->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_max_body_size(k->http, (ev_ssize_t)k->max_body);
	evhttp_set_max_headers_size(k->http, 16 * 1024);
	evhttp_set_timeout(k->http, (int)k->timeout);
	if (evhttp_bind_socket(k->http, k->listen_addr, (ev_uint16_t)k->port) < 0) {
		log_error("%s: cannot listen on %s:%d", config, k->listen_addr, k->port);
		return -EADDRINUSE;
	}
	return 0;
}

static void kbs_announce(const struct kbs *k, const struct kbs_config *c, int nres)
{
	if (c->snp_roots || c->tdx_roots)
		kbs_log("warning: test roots configured: evidence signed by a test PKI is "
			"accepted");
	if (!c->tdx_collateral && c->tdx_without_collateral)
		kbs_log("warning: tdx_without_collateral: TDX evidence is accepted without its TCB "
			"status, QE identity and revocation checked");
	kbs_log("listening on https://%s:%d, %d resource(s), session ttl %lds", k->listen_addr,
		k->port, nres, k->session_ttl);
	kbs_log("limits: %zu sessions waiting %lds for /attest, %zu attested, %zu connections of "
		"at most %lds, bodies of %zu bytes",
		k->max_sessions, k->attest_ttl, k->max_attested, k->max_connections,
		k->connection_ttl, k->max_body);
}

/* Serves until SIGINT or SIGTERM. */
static int kbs_loop(struct kbs *k)
{
	struct event *sigint, *sigterm, *sweep;
	int r = -ENOMEM;

	signal(SIGPIPE, SIG_IGN);
	sigint = evsignal_new(k->base, SIGINT, on_signal, k->base);
	sigterm = evsignal_new(k->base, SIGTERM, on_signal, k->base);
	sweep = event_new(k->base, -1, EV_PERSIST, on_sweep, k);
	if (sigint && sigterm && sweep) {
		event_add(sigint, NULL);
		event_add(sigterm, NULL);
		event_add(sweep, &(struct timeval){ 1, 0 });
		event_base_dispatch(k->base);
		if (stop_signal)
			kbs_log("stopping on signal %d after %llu requests on %llu connections "
				"(%llu "
				"resumed a TLS session; %llu sessions evicted, %llu connections "
				"cut)",
				(int)stop_signal, (unsigned long long)k->served,
				(unsigned long long)k->connections, (unsigned long long)k->resumed,
				(unsigned long long)k->evicted, (unsigned long long)k->cut);
		else
			kbs_log("stopping after %llu requests", (unsigned long long)k->served);
		r = 0;
	}
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (sweep)
		event_free(sweep);
	return r;
}

static void kbs_free(struct kbs *k)
{
	if (k->http)
		evhttp_free(k->http);
	if (k->base)
		event_base_free(k->base);
	SSL_CTX_free(k->ssl);
	sessions_free(k);
	free(k->buckets);
	snp_verifier_free(k->snp);
	tdx_verifier_free(k->tdx);
	EVP_PKEY_free(k->token_key);
}

int kbs_serve(const char *config)
{
	struct kbs_config c;
	struct kbs k = { 0 };
	int nres, r;

	TAILQ_INIT(&k.waiting);
	TAILQ_INIT(&k.attested);
	TAILQ_INIT(&k.conns);
	if (kbs_config_load(config, &c) < 0)
		return EXIT_USAGE;
	if ((r = kbs_configure(&k, &c, config)) == 0 &&
	    (r = nres = kbs_check_store(&k, &c, config)) >= 0 &&
	    (r = kbs_keys(&k, &c, config)) == 0 && (r = kbs_listen(&k, config)) == 0) {
		kbs_announce(&k, &c, nres);
		r = kbs_loop(&k);
	}
	if (r < 0)
		ERR_clear_error();
	kbs_free(&k);
	kbs_config_free(&c);
	return r < 0 ? EXIT_USAGE : EXIT_OK;
}
