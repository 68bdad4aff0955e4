/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's own parts, shared by its files only: host/kbs.c (the
 * server and its handlers), host/kbs_config.c (KBS.json and the store check
 * at start) and host/kbs_session.c (the session and connection pools).
 */
#ifndef CVM_HOST_KBS_SERVE_H
#define CVM_HOST_KBS_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <cJSON.h>
#include <openssl/ssl.h>

#include "measurement/order.h"
#include "measurement/platform.h"

struct bufferevent;
struct event_base;
struct evhttp;

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
	/* what ev's verified bytes claim, from its accepted /attest (kbs_evidence_genuine) */
	struct kbs_claims *claims;
	struct order *order; /* the order sent as init-data, bound to the evidence; or NULL */
};
TAILQ_HEAD(session_list, session);

/* An accepted TLS connection, from the SSL object's birth to its free. */
struct conn {
	TAILQ_ENTRY(conn) age;
	struct kbs *k;
	SSL *ssl;
	time_t start;
	bool listed; /* in k->conns (not yet cut) */
	uint64_t requests;
	char waiting[65]; /* the id of the session its last /auth opened, or "" */
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
	uint64_t connections, resumed; /* TLS connections that carried a request; resumed ones */
};

/* One line on stderr, "cvm kbs: ...", control bytes of hostile values replaced. */
void kbs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- KBS.json (docs/kbs.md, "Configuration"), host/kbs_config.c ---- */

struct kbs_config {
	cJSON *json; /* the strings below point into it */
	const char *listen, *tls_cert, *tls_key, *store, *token_key, *tdx_collateral;
	const char *snp_roots, *tdx_roots; /* test_roots */
	long session_ttl, token_ttl, max_sessions, max_body, max_connections, timeout;
	bool tdx_without_collateral;
};

/*
 * Reads and checks the configuration file; a refusal is logged with the
 * file's name and the member's path. 0 or a negative errno.
 */
int kbs_config_load(const char *path, struct kbs_config *c);
void kbs_config_free(struct kbs_config *c);

/*
 * Checks every resource of the store (each must have a valid policy):
 * the number of resources, or -EINVAL with each bad one logged. tdx_first
 * gets the first resource whose policy admits TDX evidence ("" for none).
 */
int kbs_store_check(const char *store, char *tdx_first, size_t cap);

/* ---- the session and connection pools, host/kbs_session.c ---- */

/* Unlinks and frees a session, wiping what it held (its evidence and key). */
void session_drop(struct kbs *k, struct session *s);
/* Drops every session, waiting or attested, whose time is up. */
void sessions_sweep(struct kbs *k, time_t now);
/* The live session of a 64-hex-digit id, or NULL. */
struct session *session_find(struct kbs *k, const char *hex, time_t now);
/* A new waiting session; the oldest waiting one makes room when the pool is full. */
struct session *session_new(struct kbs *k, const char *peer_addr, time_t now);
/* A waiting session accepted by /attest moves to the attested pool for session_ttl. */
void session_attested(struct kbs *k, struct session *s, const char *peer_addr, time_t now);
/* Frees every session (the server's end). */
void sessions_free(struct kbs *k);

/* The SSL ex_data slot that ties a connection to its SSL object; once per process. */
int conns_init(void);
/* Connections older than connection_ttl are cut, whatever they are doing (slow clients). */
void conns_sweep(struct kbs *k, time_t now);
/* evhttp's bufferevent callback: a TLS connection, the oldest cut when the pool is full. */
struct bufferevent *on_connect(struct event_base *base, void *arg);
/*
 * The connection a request came on, its request counted (and on its first
 * whether TLS resumed a session); NULL when it cannot be told.
 */
struct conn *conn_of(struct kbs *k, struct bufferevent *bev);
/*
 * One waiting session per connection: before an /auth on c opens another,
 * the session c's previous /auth opened, if still waiting for its
 * /attest, is dropped.
 */
void conn_auth(struct kbs *k, struct conn *c, const char *peer_addr, time_t now);

#endif
