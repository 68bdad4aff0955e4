/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's pools (host/kbs_serve.h): waiting sessions and attested
 * ones, each oldest first, found by id through a hash of its first bytes;
 * and TLS connections, oldest first.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "host/kbs_serve.h"
#include "lib/lib.h"

static struct session **bucket_of(struct kbs *k, const uint8_t id[32])
{
	uint32_t h = (uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16 |
		     (uint32_t)id[3] << 24;

	return &k->buckets[h & (k->nbuckets - 1)];
}

/* Unlinks and frees a session, with what it held. */
void session_drop(struct kbs *k, struct session *s)
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
	kbs_claims_free(s->claims);
	kbs_evidence_free(&s->ev);
	if (s->order)
		order_free(s->order);
	free(s->order);
	s->order = NULL;
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	k->freed = true;
}

void sessions_sweep(struct kbs *k, time_t now)
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
struct session *session_find(struct kbs *k, const char *hex, time_t now)
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
struct session *session_new(struct kbs *k, const char *peer_addr, time_t now)
{
	struct session *s, **b;

	if (k->nwaiting >= k->max_sessions) {
		s = TAILQ_FIRST(&k->waiting);
		kbs_log("%s auth: session %.8s evicted unattested (max_sessions %zu waiting)",
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
void session_attested(struct kbs *k, struct session *s, const char *peer_addr, time_t now)
{
	if (k->nattested >= k->max_attested) {
		struct session *old = TAILQ_FIRST(&k->attested);

		kbs_log("%s attest: session %.8s evicted (max_attested %zu)", peer_addr, old->hex,
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

void sessions_free(struct kbs *k)
{
	if (!k->buckets)
		return;
	while (!TAILQ_EMPTY(&k->waiting))
		session_drop(k, TAILQ_FIRST(&k->waiting));
	while (!TAILQ_EMPTY(&k->attested))
		session_drop(k, TAILQ_FIRST(&k->attested));
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
void conns_sweep(struct kbs *k, time_t now)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&k->conns)) && c->start + k->connection_ttl <= now) {
		kbs_log("connection cut after %lds (connection_ttl)", (long)(now - c->start));
		conn_cut(k, c);
	}
}

struct bufferevent *on_connect(struct event_base *base, void *arg)
{
	struct kbs *k = arg;
	struct bufferevent *bev;
	struct conn *c;
	SSL *ssl;

	if (k->nconns >= k->max_connections) {
		kbs_log("connection cut to make room (max_connections %zu)", k->max_connections);
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

struct conn *conn_of(struct kbs *k, struct bufferevent *bev)
{
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct conn *c = ssl ? SSL_get_ex_data(ssl, conn_index) : NULL;

	if (c && c->requests++ == 0) {
		k->connections++;
		k->resumed += SSL_session_reused(ssl) == 1;
	}
	return c;
}

void conn_auth(struct kbs *k, struct conn *c, const char *peer_addr, time_t now)
{
	struct session *old = c->waiting[0] ? session_find(k, c->waiting, now) : NULL;

	if (old && !old->used) {
		kbs_log("%s auth: session %.8s dropped unattested (a new /auth on its connection)",
			peer_addr, old->hex);
		session_drop(k, old);
	}
	c->waiting[0] = 0;
}

int conns_init(void)
{
	if (conn_index < 0)
		conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
	return conn_index < 0 ? -ENOMEM : 0;
}
