/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel's TLS terminator (docs/tunnel.md): accepts TLS with the
 * attested certificate, answers the freshness exchange with evidence bound
 * to the session, then forwards plaintext to the service. One thread a
 * connection, a bounded number of them: a client that never completes its
 * handshake holds one thread until its timeout, not the tunnel.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <secp256k1.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "measurement/tunnel.h"

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char ours[] = "\x0c" TUNNEL_ALPN "\x0a" TUNNEL_STOP_ALPN;

	(void)ssl;
	(void)arg;
	/* the client's list must be well formed; a client without ours gets the service at once */
	if (SSL_select_next_proto((unsigned char **)out, outlen, ours, sizeof(ours) - 1, in,
				  inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

static bool alpn_is(const unsigned char *p, unsigned n, const char *name)
{
	return n == strlen(name) && !memcmp(p, name, n);
}

/*
 * The customer's stop: a signature by the order's customer key over this
 * session's stop digest. Taken: *stop_job set, 1 answered; else 0.
 */
static int answer_stop(struct tunnel_server *s, SSL *ssl)
{
	uint8_t sig[64], ekm[TUNNEL_EXPORTER_LEN], digest[32], yes = 0;
	secp256k1_ecdsa_signature es;
	secp256k1_pubkey pk;
	size_t w;

	if (tunnel_read_all(ssl, sig, sizeof(sig)) < 0)
		return -EIO;
	if (s->stop_job &&
	    SSL_export_keying_material(ssl, ekm, sizeof(ekm), TUNNEL_STOP_LABEL,
				       strlen(TUNNEL_STOP_LABEL), NULL, 0, 0) == 1 &&
	    tunnel_stop_digest(s->order_sha256, ekm, digest) == 0 && cvm_secp256k1() &&
	    secp256k1_ecdsa_signature_parse_compact(cvm_secp256k1(), &es, sig) &&
	    !secp256k1_ecdsa_signature_normalize(cvm_secp256k1(), NULL, &es) &&
	    secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, s->customer_pub, 33) &&
	    secp256k1_ecdsa_verify(cvm_secp256k1(), &es, digest, &pk)) {
		*s->stop_job = 1;
		atomic_fetch_add(&s->stops, 1);
		yes = 1;
	}
	return SSL_write_ex(ssl, &yes, 1, &w) == 1 && yes ? 1 : -EACCES;
}

int tunnel_server_init(struct tunnel_server *s, EVP_PKEY *key, const uint8_t *der, size_t len,
		       struct tee *tee, char *err, size_t errlen)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	memset(s, 0, sizeof(*s));
	s->tee = tee;
	s->max_conns = TUNNEL_MAX_CONNS;
	s->io_timeout_ms = 10000;
	s->ctx = x ? SSL_CTX_new(TLS_server_method()) : NULL;
	if (!s->ctx || SSL_CTX_set_min_proto_version(s->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_use_certificate(s->ctx, x) != 1 || SSL_CTX_use_PrivateKey(s->ctx, key) != 1 ||
	    SSL_CTX_check_private_key(s->ctx) != 1) {
		X509_free(x);
		SSL_CTX_free(s->ctx);
		s->ctx = NULL;
		return set_error(err, errlen, -EINVAL,
				 "E_TUNNEL: the key and certificate do not make a TLS server");
	}
	X509_free(x);
	/* the key is the guest's alone: no session tickets to carry state outside */
	SSL_CTX_set_options(s->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(s->ctx, 0);
	SSL_CTX_set_alpn_select_cb(s->ctx, alpn_select, NULL);
	pthread_mutex_init(&s->tee_lock, NULL);
	return 0;
}

void tunnel_server_free(struct tunnel_server *s)
{
	if (s->ctx) {
		SSL_CTX_free(s->ctx);
		pthread_mutex_destroy(&s->tee_lock);
	}
	s->ctx = NULL;
}

/* The freshness exchange: the client's nonce in, evidence of this session out. */
static int answer_fresh(struct tunnel_server *s, SSL *ssl)
{
	uint8_t nonce[TUNNEL_NONCE_LEN], ekm[TUNNEL_EXPORTER_LEN], rd[64], len[4];
	cJSON *primary = NULL;
	char *text = NULL, err[256];
	size_t n, w;
	int r;

	if (tunnel_read_all(ssl, nonce, sizeof(nonce)) < 0)
		return -EIO;
	if (SSL_export_keying_material(ssl, ekm, sizeof(ekm), TUNNEL_EXPORTER_LABEL,
				       strlen(TUNNEL_EXPORTER_LABEL), nonce, sizeof(nonce),
				       1) != 1 ||
	    tunnel_fresh_report_data(ekm, nonce, rd) < 0)
		return -EIO;
	/* the backends are not made for two callers at once; once closed, the agent's again */
	pthread_mutex_lock(&s->tee_lock);
	r = atomic_load(&s->closed) ? -ECANCELED
				    : s->tee->evidence(s->tee, rd, &primary, err, sizeof(err));
	pthread_mutex_unlock(&s->tee_lock);
	if (r == 0)
		r = tunnel_evidence_text(s->tee->kbs_tee, primary, &text);
	cJSON_Delete(primary);
	if (r < 0)
		return r;
	n = strlen(text);
	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	r = SSL_write_ex(ssl, len, 4, &w) == 1 && SSL_write_ex(ssl, text, n, &w) == 1 ? 0 : -EIO;
	free(text);
	atomic_fetch_add(&s->fresh, 1);
	return r;
}

/*
 * Bytes both ways: plaintext stays between the TLS session and the
 * service. The client's close_notify is a half close, passed on to the
 * service (its answer still goes back); the service's end ends the
 * connection.
 */
static void pump(struct tunnel_server *s, SSL *ssl, int tls_fd, int svc)
{
	const int idle = s->idle_ms <= 0 ? -1 : s->idle_ms > INT_MAX ? INT_MAX : (int)s->idle_ms;
	uint8_t buf[16384];
	struct pollfd p[2] = { { .fd = tls_fd, .events = POLLIN },
			       { .fd = svc, .events = POLLIN } };

	for (;;) {
		size_t k, w;
		ssize_t n;

		if (!(p[0].fd >= 0 && SSL_pending(ssl))) {
			int r = poll(p, 2, idle);

			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) /* quiet both ways for the service's idle time */
				atomic_fetch_add(&s->idle, 1);
			if (r <= 0)
				return;
		}
		if (p[0].fd >= 0 &&
		    (SSL_pending(ssl) || (p[0].revents & (POLLIN | POLLHUP | POLLERR)))) {
			if (SSL_read_ex(ssl, buf, sizeof(buf), &k) == 1) {
				if (fd_write_all(svc, buf, k) < 0)
					return;
			} else if (SSL_get_error(ssl, 0) == SSL_ERROR_ZERO_RETURN) {
				shutdown(svc, SHUT_WR);
				p[0].fd = -1;
			} else {
				return;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(svc, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || SSL_write_ex(ssl, buf, (size_t)n, &w) != 1)
				return;
		}
		p[0].revents = p[1].revents = 0;
	}
}

struct conn {
	struct tunnel_server *s;
	int fd;
};

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct tunnel_server *s = c->s;
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;
	SSL *ssl = SSL_new(s->ctx);
	int svc = -1, ok = 0;

	tunnel_set_timeout(c->fd, s->io_timeout_ms);
	if (ssl && SSL_set_fd(ssl, c->fd) == 1 && SSL_accept(ssl) == 1) {
		SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
		if (alpn_is(alpn, alpn_len, TUNNEL_STOP_ALPN))
			answer_stop(s, ssl); /* a stop's connection goes no further */
		else
			ok = !alpn_len || answer_fresh(s, ssl) == 0;
	}
	if (ok && (svc = s->connect_service(s->service_arg)) >= 0) {
		/*
		 * The service's stream ends with the order, or after the idle
		 * time with no byte either way: in poll, or in a write that a
		 * peer does not read (a client that sends and never reads, a
		 * service that does not take what comes).
		 */
		tunnel_set_timeout(c->fd, s->idle_ms);
		tunnel_set_timeout(svc, s->idle_ms);
		atomic_fetch_add(&s->served, 1);
		pump(s, ssl, c->fd, svc);
		SSL_shutdown(ssl);
	} else {
		atomic_fetch_add(&s->refused, 1);
	}
	if (svc >= 0)
		close(svc);
	SSL_free(ssl);
	close(c->fd);
	atomic_fetch_sub(&s->live, 1);
	free(c);
	return NULL;
}

int tunnel_server_run(struct tunnel_server *s, int listen_fd, volatile sig_atomic_t *stop)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	while (!*stop) {
		struct pollfd p = { .fd = listen_fd, .events = POLLIN };
		struct conn *c;
		pthread_t t;
		int fd;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (atomic_load(&s->live) >= s->max_conns || !(c = malloc(sizeof(*c)))) {
			atomic_fetch_add(&s->refused, 1);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		c->s = s;
		c->fd = fd;
		atomic_fetch_add(&s->live, 1);
		if (pthread_create(&t, &attr, conn_thread, c) != 0) {
			atomic_fetch_sub(&s->live, 1);
			atomic_fetch_add(&s->refused, 1);
			close(fd);
			free(c);
		}
	}
	pthread_attr_destroy(&attr);
	/*
	 * No connection uses the TEE after this returns: one making evidence
	 * now is waited for, later ones are refused. Those still open are
	 * forwarded until their service ends.
	 */
	pthread_mutex_lock(&s->tee_lock);
	atomic_store(&s->closed, 1);
	pthread_mutex_unlock(&s->tee_lock);
	return 0;
}
