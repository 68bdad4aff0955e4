/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client of a service order's tunnel (docs/tunnel.md): TLS to the
 * endpoint, its attested certificate checked, then evidence bound to this
 * very session; only then is the connection handed over for the service's
 * bytes.
 */
#ifndef CVM_HOST_TUNNEL_H
#define CVM_HOST_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "host/cvm.h"
#include "measurement/measurement.h"
#include "measurement/order.h"

struct tunnel_client_opts {
	const char *host; /* an address or name */
	uint16_t port;
	const struct refsrc *rsrc; /* the image's values or manifest; NULL: none compared */
	const struct order *order; /* the order the endpoint must run; NULL: any */
	const char *test_roots;	   /* a test PKI's roots (test builds' evidence) */
	const char *collateral;	   /* TDX collateral directory, or NULL */
	bool no_fresh;		   /* skip the freshness exchange (a replay then passes) */
	long timeout_ms;	   /* connect, handshake and the exchange; 0: 10 s */
};

struct tunnel_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char tee[32];
	uint8_t spki_sha256[32]; /* the endpoint's key */
};

/*
 * Connects and checks, in this order: the certificate's reading
 * (tunnel_cert_read's E_TUNNEL_ codes), its evidence genuine
 * (E_TUNNEL_EVIDENCE), binding the certificate's key (E_TUNNEL_BINDING),
 * the reference's values (E_TUNNEL_REFERENCE), the order
 * (E_TUNNEL_ORDER); then the same for the fresh evidence, whose binding of
 * this session fails as E_TUNNEL_STALE. 0 with c ready for
 * SSL_read/SSL_write; else -errno with one line in err, c closed.
 */
int tunnel_connect(const struct tunnel_client_opts *o, struct tunnel_conn *c, char *err,
		   size_t errlen);
void tunnel_conn_close(struct tunnel_conn *c);

/*
 * The customer's stop (docs/tunnel.md): the endpoint's certificate checked
 * as above, then this session's stop signed with k, the order's customer
 * key (o->order required). 0 taken; -EACCES refused (E_TUNNEL_STOP); else
 * as tunnel_connect.
 */
struct result_key;
int tunnel_stop(const struct tunnel_client_opts *o, const struct result_key *k, char *err,
		size_t errlen);

#endif
