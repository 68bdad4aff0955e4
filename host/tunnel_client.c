/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's side of a tunnel (host/tunnel.h, docs/tunnel.md). The
 * endpoint's certificate is not checked against any CA: its evidence is
 * what is trusted, and nothing is sent before that evidence and then
 * evidence of this session are verified.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <secp256k1.h>

#include "host/tunnel.h"
#include "lib/lib.h"
#include "measurement/platform.h"
#include "measurement/tunnel.h"

static int tcp_connect(const char *host, uint16_t port, long ms, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *a;
	char service[8];
	int fd = -1, r;

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &res);
	if (r != 0)
		return set_error(err, errlen, -EHOSTUNREACH, "E_TUNNEL_CONNECT: %s: %s", host,
				 gai_strerror(r));
	for (a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		tunnel_set_timeout(fd, ms);
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		r = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return set_error(err, errlen, r < 0 ? r : -ECONNREFUSED,
				 "E_TUNNEL_CONNECT: %s port %u: %s", host, port,
				 strerror(r < 0 ? -r : ECONNREFUSED));
	return fd;
}

/*
 * Evidence e of tee held to report_data, the reference and the order;
 * binding_code names a report_data that differs. 0, or -EKEYREJECTED with err.
 */
static int appraise(const struct tunnel_client_opts *o, const char *tee, const cJSON *evidence,
		    const uint8_t rd[64], const char *what, const char *binding_code, char *err,
		    size_t errlen)
{
	const struct platform *pl = platform_by_kbs_tee(tee);
	struct platform_verifiers pv = { 0 };
	struct kbs_evidence e = { 0 };
	struct verdict v;
	uint8_t reg[48];
	size_t reglen = 0;
	char why[320];
	int r;

	if (!pl)
		return set_error(err, errlen, -EKEYREJECTED, "E_TUNNEL_EVIDENCE: no known tee");
	if (kbs_evidence_parse(pl->id, evidence, &e, why, sizeof(why)) < 0)
		return set_error(err, errlen, -EKEYREJECTED, "E_TUNNEL_EVIDENCE: %s: %s", what,
				 why);
	r = platform_verifiers_new(pl, o->test_roots, o->collateral, 0, &pv, why, sizeof(why));
	if (r < 0) {
		r = set_error(err, errlen, r, "E_TUNNEL_VERIFIER: %s", why);
		goto out;
	}
	verdict_init(&v, pl->id);
	if (kbs_evidence_verify(&e, pv.snp, pv.tdx, NULL, NULL, reg, &reglen, &v) != 0) {
		r = set_error(err, errlen, -EKEYREJECTED, "E_TUNNEL_EVIDENCE: %s: %s", what,
			      verdict_ok(&v) ? "not verified" : verdict_first_failure(&v)->detail);
		goto out;
	}
	verdict_init(&v, pl->id);
	if (kbs_evidence_verify(&e, pv.snp, pv.tdx, NULL, rd, reg, &reglen, &v) != 0) {
		r = set_error(err, errlen, -EKEYREJECTED, "%s: %s", binding_code, what);
		goto out;
	}
	if (o->rsrc) {
		struct reference *cands = NULL;
		size_t n = 0;

		verdict_init(&v, pl->id);
		r = refsrc_candidates(o->rsrc, pl->id, &cands, &n, why, sizeof(why));
		if (r == 0 && !o->rsrc->is_manifest && !platform_in_reference(pl, &o->rsrc->ref))
			r = set_error(why, sizeof(why), -EKEYREJECTED,
				      "the reference has no values for %s", pl->name);
		if (r == 0 && kbs_evidence_verify_any(&e, pv.snp, pv.tdx, cands, n, rd, reg,
						      &reglen, &v) != 0)
			r = set_error(why, sizeof(why), -EKEYREJECTED, "%s",
				      verdict_ok(&v) ? "not verified"
						     : verdict_first_failure(&v)->detail);
		free(cands);
		if (r < 0) {
			r = set_error(err, errlen, -EKEYREJECTED,
				      "E_TUNNEL_REFERENCE: %s: not the reference's image: %s", what,
				      why);
			goto out;
		}
	}
	if (o->order && order_evidence_check(&e, o->order, why, sizeof(why)) < 0) {
		r = set_error(err, errlen, -EKEYREJECTED, "E_TUNNEL_ORDER: %s: %s", what, why);
		goto out;
	}
	r = 0;
out:
	platform_verifiers_free(&pv);
	kbs_evidence_free(&e);
	return r;
}

static int check_certificate(const struct tunnel_client_opts *o, struct tunnel_conn *c, char *err,
			     size_t errlen)
{
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	unsigned char *der = NULL;
	struct tunnel_cert tc;
	int n = peer ? i2d_X509(peer, &der) : -1, r;

	if (n <= 0)
		return set_error(err, errlen, -EPROTO, "E_TUNNEL_CERT: the endpoint sent none");
	r = tunnel_cert_read(der, (size_t)n, &tc, err, errlen);
	OPENSSL_free(der);
	if (r < 0)
		return r;
	r = appraise(o, tc.tee, tc.evidence, tc.report_data, "the certificate's evidence",
		     "E_TUNNEL_BINDING: the evidence binds another key than the certificate's", err,
		     errlen);
	snprintf(c->tee, sizeof(c->tee), "%s", tc.tee);
	memcpy(c->spki_sha256, tc.spki_sha256, 32);
	tunnel_cert_free(&tc);
	return r;
}

/* The freshness exchange: a nonce out, evidence of this session in. */
static int check_fresh(const struct tunnel_client_opts *o, struct tunnel_conn *c, char *err,
		       size_t errlen)
{
	uint8_t nonce[TUNNEL_NONCE_LEN], ekm[TUNNEL_EXPORTER_LEN], rd[64], len[4];
	const unsigned char *alpn = NULL;
	_cleanup_free_ char *text = NULL;
	cJSON *evidence = NULL;
	char tee[32];
	unsigned alpn_len = 0;
	size_t n, w;
	int r;

	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn_len != strlen(TUNNEL_ALPN) || memcmp(alpn, TUNNEL_ALPN, alpn_len))
		return set_error(err, errlen, -EPROTO,
				 "E_TUNNEL_FRESH: the endpoint does not answer the freshness "
				 "exchange (" TUNNEL_ALPN ")");
	if (RAND_bytes(nonce, sizeof(nonce)) != 1 ||
	    SSL_export_keying_material(c->ssl, ekm, sizeof(ekm), TUNNEL_EXPORTER_LABEL,
				       strlen(TUNNEL_EXPORTER_LABEL), nonce, sizeof(nonce),
				       1) != 1 ||
	    tunnel_fresh_report_data(ekm, nonce, rd) < 0)
		return set_error(err, errlen, -EIO, "E_TUNNEL_FRESH: cannot make a nonce");
	if (SSL_write_ex(c->ssl, nonce, sizeof(nonce), &w) != 1 ||
	    tunnel_read_all(c->ssl, len, sizeof(len)) < 0)
		return set_error(err, errlen, -EPROTO,
				 "E_TUNNEL_FRESH: the endpoint ended the exchange");
	n = (size_t)len[0] << 24 | (size_t)len[1] << 16 | (size_t)len[2] << 8 | len[3];
	if (n == 0 || n > TUNNEL_EVIDENCE_MAX)
		return set_error(err, errlen, -EPROTO,
				 "E_TUNNEL_FRESH: fresh evidence of %zu bytes (1 to %u)", n,
				 TUNNEL_EVIDENCE_MAX);
	if (!(text = malloc(n)))
		return -ENOMEM;
	if (tunnel_read_all(c->ssl, text, n) < 0)
		return set_error(err, errlen, -EPROTO,
				 "E_TUNNEL_FRESH: the endpoint ended the exchange");
	if ((r = tunnel_evidence_parse(text, n, tee, &evidence, err, errlen)) < 0)
		return r;
	if (strcmp(tee, c->tee))
		r = set_error(err, errlen, -EKEYREJECTED,
			      "E_TUNNEL_FRESH: fresh evidence of %s, the certificate's of %s", tee,
			      c->tee);
	else
		r = appraise(o, tee, evidence, rd, "the fresh evidence",
			     "E_TUNNEL_STALE: the fresh evidence does not bind this TLS session "
			     "(a replayed or relayed certificate)",
			     err, errlen);
	cJSON_Delete(evidence);
	return r;
}

/* TCP, TLS 1.3 offering alpn (a wire-format list, or NULL), and the certificate checked. */
static int open_checked(const struct tunnel_client_opts *o, const unsigned char *alpn,
			size_t alpn_len, struct tunnel_conn *c, char *err, size_t errlen)
{
	const long ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	int r;

	memset(c, 0, sizeof(*c));
	r = tcp_connect(o->host, o->port, ms, err, errlen);
	c->fd = r < 0 ? -1 : r;
	if (r < 0)
		return r;
	c->ctx = SSL_CTX_new(TLS_client_method());
	/*
	 * The context's settings before SSL_new, which copies them; a
	 * certificate message up to the reader's own bound (OpenSSL's default
	 * is 100 KiB, less than evidence with its event logs may take), which
	 * tunnel_cert_read then enforces by name.
	 */
	if (c->ctx) {
		SSL_CTX_set_max_cert_list(c->ctx, TUNNEL_CERT_MAX + 16384);
		c->ssl = SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION) == 1
				 ? SSL_new(c->ctx)
				 : NULL;
	}
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    (alpn && SSL_set_alpn_protos(c->ssl, alpn, (unsigned)alpn_len) != 0)) {
		tunnel_conn_close(c);
		return set_error(err, errlen, -ENOMEM, "E_TUNNEL: cannot make a TLS client");
	}
	/* no CA: the evidence in the certificate is what is checked, right after */
	SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	if (SSL_connect(c->ssl) != 1) {
		tunnel_conn_close(c);
		return set_error(err, errlen, -EPROTO,
				 "E_TUNNEL_HANDSHAKE: no TLS 1.3 handshake with %s port %u",
				 o->host, o->port);
	}
	r = check_certificate(o, c, err, errlen);
	if (r < 0)
		tunnel_conn_close(c);
	return r;
}

int tunnel_connect(const struct tunnel_client_opts *o, struct tunnel_conn *c, char *err,
		   size_t errlen)
{
	static const unsigned char alpn[] = "\x0c" TUNNEL_ALPN;
	int r = open_checked(o, o->no_fresh ? NULL : alpn, sizeof(alpn) - 1, c, err, errlen);

	if (r == 0 && !o->no_fresh)
		r = check_fresh(o, c, err, errlen);
	if (r < 0) {
		tunnel_conn_close(c);
		return r;
	}
	tunnel_set_timeout(c->fd, 0);
	return 0;
}

int tunnel_stop(const struct tunnel_client_opts *o, const struct result_key *k, char *err,
		size_t errlen)
{
	static const unsigned char alpn[] = "\x0a" TUNNEL_STOP_ALPN;
	uint8_t ekm[TUNNEL_EXPORTER_LEN], digest[32], compact[64], yes = 0;
	const unsigned char *sel = NULL;
	secp256k1_ecdsa_signature sig;
	struct tunnel_conn c;
	unsigned sel_len = 0;
	size_t w;
	int r;

	if (!o->order || !k->sk)
		return set_error(err, errlen, -EINVAL,
				 "E_TUNNEL_STOP: a stop needs the order and its customer's key");
	if ((r = open_checked(o, alpn, sizeof(alpn) - 1, &c, err, errlen)) < 0)
		return r;
	SSL_get0_alpn_selected(c.ssl, &sel, &sel_len);
	if (sel_len != strlen(TUNNEL_STOP_ALPN) || memcmp(sel, TUNNEL_STOP_ALPN, sel_len))
		r = set_error(err, errlen, -EPROTO,
			      "E_TUNNEL_STOP: the endpoint does not take stops (" TUNNEL_STOP_ALPN
			      ")");
	else if (SSL_export_keying_material(c.ssl, ekm, sizeof(ekm), TUNNEL_STOP_LABEL,
					    strlen(TUNNEL_STOP_LABEL), NULL, 0, 0) != 1 ||
		 tunnel_stop_digest(o->order->sha256, ekm, digest) < 0 || !cvm_secp256k1() ||
		 !secp256k1_ecdsa_sign(cvm_secp256k1(), &sig, digest, k->sk, NULL, NULL) ||
		 !secp256k1_ecdsa_signature_serialize_compact(cvm_secp256k1(), compact, &sig))
		r = set_error(err, errlen, -EIO, "E_TUNNEL_STOP: cannot sign the stop");
	else if (SSL_write_ex(c.ssl, compact, sizeof(compact), &w) != 1 ||
		 tunnel_read_all(c.ssl, &yes, 1) < 0)
		r = set_error(err, errlen, -EPROTO,
			      "E_TUNNEL_STOP: the endpoint ended the exchange");
	else if (yes != 1)
		r = set_error(err, errlen, -EACCES,
			      "E_TUNNEL_STOP: the endpoint refused the stop (not this order's "
			      "customer key)");
	tunnel_conn_close(&c);
	return r;
}

void tunnel_conn_close(struct tunnel_conn *c)
{
	if (c->ssl)
		SSL_shutdown(c->ssl);
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}
