/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attested TLS certificate of a service order's tunnel (docs/tunnel.md).
 *
 * The agent makes a P-256 key in the guest and a short-lived self-signed
 * certificate for it, which carries the TEE's evidence in a non-critical
 * X.509 extension. The evidence's report_data binds the certificate's key:
 *
 *   report_data = SHA-512("ratls-cert:" || DER SubjectPublicKeyInfo)
 *
 * dstack's RA-TLS binding of a certificate key (its QuoteContentType
 * RaTlsCert, ra-tls/src/attestation.rs), so that on TDX the raw quote,
 * also put under dstack's quote OID, is checked by dstack's verifiers too.
 *
 * Freshness against a replayed certificate: a client's nonce and the TLS
 * session's exporter (RFC 8446 §7.5, SSL_export_keying_material) give
 *
 *   report_data = SHA-512("cvm-tunnel-fresh:" || exporter || nonce)
 *
 * with exporter = 32 bytes of label TUNNEL_EXPORTER_LABEL, context the
 * nonce. Only an endpoint inside that TLS session can make evidence of it.
 */
#ifndef CVM_TUNNEL_H
#define CVM_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/*
 * cvm's arc, a UUID under 2.25 (ITU-T X.667, which needs no registration),
 * and the evidence extension under it: an OCTET STRING holding the UTF-8
 * JSON {"tee": the protocol's tee, "evidence": its primary evidence}.
 */
#define TUNNEL_OID_ARC "2.25.28197913428175295069958585811243785146"
#define TUNNEL_OID_EVIDENCE TUNNEL_OID_ARC ".1"
/* dstack's RA-TLS quote extension: an OCTET STRING holding a raw TDX quote */
#define TUNNEL_OID_DSTACK_QUOTE "1.3.6.1.4.1.62397.1.1"

#define TUNNEL_CERT_TAG "ratls-cert:"
#define TUNNEL_FRESH_TAG "cvm-tunnel-fresh:"
#define TUNNEL_EXPORTER_LABEL "EXPORTER-cvm-tunnel-fresh"
/*
 * The freshness exchange, on a connection whose ALPN is TUNNEL_ALPN: the
 * client sends its nonce (32 bytes), the endpoint answers a 4-byte
 * big-endian length and that many bytes of the evidence document below,
 * binding the fresh report_data; the stream that follows is the service's.
 * A client that offers no ALPN gets the service's stream at once.
 */
#define TUNNEL_ALPN "cvm-tunnel/1"
/* The guest's port of the terminator; cvm run --tunnel forwards a host port to it. */
#define TUNNEL_GUEST_PORT 8443
/*
 * The customer's stop, on a connection whose ALPN is TUNNEL_STOP_ALPN:
 * the client sends a compact secp256k1 ECDSA signature (64 bytes, low S)
 * by the order's customer key over
 *
 *   SHA-256("cvm-tunnel-stop:" || order SHA-256 || exporter)
 *
 * with exporter = 32 bytes of label TUNNEL_STOP_LABEL and no context; the
 * endpoint answers one byte, 1 when the stop is taken, 0 when refused. A
 * stop is good in its own TLS session only.
 */
#define TUNNEL_STOP_ALPN "cvm-stop/1"
#define TUNNEL_STOP_TAG "cvm-tunnel-stop:"
#define TUNNEL_STOP_LABEL "EXPORTER-cvm-tunnel-stop"
#define TUNNEL_NONCE_LEN 32
#define TUNNEL_EXPORTER_LEN 32

/* A certificate of at most this many bytes (DER), its evidence at most this much JSON. */
#define TUNNEL_CERT_MAX (512u * 1024)
#define TUNNEL_EVIDENCE_MAX (448u * 1024)

/* SHA-512(TUNNEL_CERT_TAG || spki): 0, or -EIO. */
int tunnel_cert_report_data(const uint8_t *spki, size_t len, uint8_t out[64]);

/* SHA-512(TUNNEL_FRESH_TAG || exporter || nonce): 0, or -EIO. */
int tunnel_fresh_report_data(const uint8_t exporter[TUNNEL_EXPORTER_LEN],
			     const uint8_t nonce[TUNNEL_NONCE_LEN], uint8_t out[64]);

/*
 * The certificate for the P-256 key pkey (an EVP_PKEY *, its private half
 * signs), carrying tee's primary evidence; on TDX (raw_quote not NULL) the
 * quote under dstack's OID as well. Valid from not_before (Unix seconds)
 * for lifetime seconds. *der is malloc'd. 0, or -errno with err.
 */
int tunnel_cert_make(void *pkey, const char *tee, const cJSON *primary, const uint8_t *raw_quote,
		     size_t raw_quote_len, int64_t not_before, uint32_t lifetime, uint8_t **der,
		     size_t *len, char *err, size_t errlen);

/*
 * The evidence document of the certificate's extension and of the
 * freshness exchange: the UTF-8 JSON {"tee": tee, "evidence": primary}
 * (malloc'd in *text), and its strict reading, which hands over the
 * evidence in *evidence and the tee's name in tee (a known one).
 * E_TUNNEL_EVIDENCE refusals; 0, -EBADMSG or -ENOMEM.
 */
int tunnel_evidence_text(const char *tee, const cJSON *primary, char **text);
int tunnel_evidence_parse(const char *text, size_t n, char tee[32], cJSON **evidence, char *err,
			  size_t errlen);

/* What a certificate says, read by tunnel_cert_read. */
struct tunnel_cert {
	char tee[32];		 /* the protocol's tee ("snp", "tdx", "tpm", ...) */
	cJSON *evidence;	 /* its primary evidence */
	uint8_t report_data[64]; /* what that evidence must bind: the key's */
	uint8_t spki_sha256[32]; /* of the certificate's DER SubjectPublicKeyInfo */
	int64_t not_before, not_after;
	uint8_t *dstack_quote; /* the raw quote under dstack's OID, or NULL */
	size_t dstack_quote_len;
};

/*
 * Reads a certificate (DER, len bytes) as a hostile peer sent it: one
 * X.509 certificate and nothing after it, a P-256 key that signs it, the
 * evidence extension once, of a known tee, within the bounds above, no
 * critical extension other than the standard ones OpenSSL knows. It does
 * not verify the evidence: the caller holds it to report_data
 * (kbs_evidence_parse, kbs_evidence_verify). Refusals are one line,
 * "E_TUNNEL_<WHAT>: why"; 0, -EBADMSG or -ENOMEM.
 */
int tunnel_cert_read(const uint8_t *der, size_t len, struct tunnel_cert *c, char *err,
		     size_t errlen);
void tunnel_cert_free(struct tunnel_cert *c);

/* Both ends: a socket's send and receive timeouts (0: none); n bytes from an SSL * (0, -EIO). */
void tunnel_set_timeout(int fd, long ms);
int tunnel_read_all(void *ssl, void *buf, size_t n);

/* The digest a stop signs: SHA-256(TUNNEL_STOP_TAG || order_sha256 || exporter). 0, -EIO. */
int tunnel_stop_digest(const uint8_t order_sha256[32], const uint8_t exporter[TUNNEL_EXPORTER_LEN],
		       uint8_t out[32]);

#endif
