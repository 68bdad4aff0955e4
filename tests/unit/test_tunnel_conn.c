/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel end to end on loopback: the agent's terminator
 * (agent/tunnel_serve.c) with a sim TEE's attested certificate, in front of
 * an echo service; the client (host/tunnel_client.c) checks the certificate
 * and the session's fresh evidence before a byte goes through. Then the
 * endpoints a man in the middle would put up, each refused by name, and
 * clients that never finish, which the tunnel outlives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "host/tunnel.h"
#include "lib/lib.h"
#include "measurement/tunnel.h"
#include "tests/unit/support/echo.h"
#include "tests/unit/support/sim.h"

#include "host/refsrc.c"
#include "host/tunnel_client.c"

static uint16_t echo_port;

static int connect_echo(void *arg)
{
	(void)arg;
	return echo_connect(echo_port);
}

/* ---- endpoints: the genuine one, and a man in the middle's ---- */

struct endpoint {
	struct tunnel_server s;
	int lfd;
	uint16_t port;
	volatile sig_atomic_t stop;
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct endpoint *e = arg;

	tunnel_server_run(&e->s, e->lfd, &e->stop);
	return NULL;
}

static void endpoint_start(struct endpoint *e, EVP_PKEY *key, const uint8_t *der, size_t len,
			   struct tee *tee)
{
	char err[256] = "";

	memset(e, 0, sizeof(*e));
	if (tunnel_server_init(&e->s, key, der, len, tee, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	e->s.connect_service = connect_echo;
	e->s.io_timeout_ms = 500;
	e->lfd = echo_listen_any(&e->port);
	assert_int_equal(pthread_create(&e->thread, NULL, serve, e), 0);
}

static void endpoint_stop(struct endpoint *e)
{
	e->stop = 1;
	pthread_join(e->thread, NULL);
	close(e->lfd);
	/* threads of connections still open hold the context: wait for them */
	for (int i = 0; i < 200 && atomic_load(&e->s.live); i++)
		usleep(10000);
	tunnel_server_free(&e->s);
}

static struct tee *tee;
static EVP_PKEY *key;
static uint8_t *der;
static size_t der_len;
static struct endpoint genuine;
static char roots[512];

static int setup(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI"), .sim_platform = "tdx" };
	uint8_t spki[32];
	char err[512] = "";

	(void)state;
	/* as in the guest, where the agent is PID 1 and takes no SIGPIPE of default action */
	signal(SIGPIPE, SIG_IGN);
	echo_port = echo_start();
	if (tee_open("sim", &cfg, &tee, err, sizeof(err)) < 0 ||
	    agent_tunnel_cert(tee, time(NULL) - 60, 3600, &key, &der, &der_len, spki, err,
			      sizeof(err)) < 0)
		fail_msg("%s", err);
	sim_path(roots, sizeof(roots), "CVM_TEST_PKI", "tdx/roots.pem");
	endpoint_start(&genuine, key, der, der_len, tee);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	endpoint_stop(&genuine);
	EVP_PKEY_free(key);
	free(der);
	tee_close(tee);
	return 0;
}

static struct tunnel_client_opts opts_for(uint16_t port)
{
	return (struct tunnel_client_opts){
		.host = "127.0.0.1", .port = port, .test_roots = roots, .timeout_ms = 5000
	};
}

static void expect_echo(struct tunnel_conn *c, const char *msg)
{
	char buf[64] = "";
	size_t w, k = 0, got = 0;

	assert_int_equal(SSL_write_ex(c->ssl, msg, strlen(msg), &w), 1);
	while (got < strlen(msg) && SSL_read_ex(c->ssl, buf + got, sizeof(buf) - 1 - got, &k) == 1)
		got += k;
	assert_string_equal(buf, msg);
}

static void expect_refused(const struct tunnel_client_opts *o, const char *code)
{
	struct tunnel_conn c;
	char err[512] = "";

	assert_true(tunnel_connect(o, &c, err, sizeof(err)) < 0);
	if (strncmp(err, code, strlen(code)) || strchr(err, '\n'))
		fail_msg("got '%s', expected %s", err, code);
	assert_int_equal(c.fd, -1);
}

static void test_genuine(void **state)
{
	struct tunnel_client_opts o = opts_for(genuine.port);
	struct tunnel_conn c;
	char err[512] = "";

	(void)state;
	if (tunnel_connect(&o, &c, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_string_equal(c.tee, "tdx");
	expect_echo(&c, "through the tunnel");
	tunnel_conn_close(&c);
	/* the client's end of input is a half close: the service's answer still comes back */
	assert_int_equal(tunnel_connect(&o, &c, err, sizeof(err)), 0);
	{
		char buf[64] = "";
		size_t w, k, got = 0;

		assert_int_equal(SSL_write_ex(c.ssl, "last words", 10, &w), 1);
		assert_true(SSL_shutdown(c.ssl) >= 0);
		while (got < sizeof(buf) - 1 &&
		       SSL_read_ex(c.ssl, buf + got, sizeof(buf) - 1 - got, &k) == 1)
			got += k;
		assert_string_equal(buf, "last words");
		/* and the endpoint ends the connection after it */
		assert_int_equal(SSL_get_error(c.ssl, 0), SSL_ERROR_ZERO_RETURN);
	}
	tunnel_conn_close(&c);
	/* without the exchange, as a plain TLS client: the service at once */
	o.no_fresh = true;
	assert_int_equal(tunnel_connect(&o, &c, err, sizeof(err)), 0);
	expect_echo(&c, "no exchange");
	tunnel_conn_close(&c);
	assert_true(atomic_load(&genuine.s.fresh) >= 1);
}

/* The endpoint's own certificate, with no evidence. */
static void test_own_certificate(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	unsigned char *d = NULL;
	struct endpoint mitm;
	struct tunnel_client_opts o;
	int n;

	(void)state;
	X509_set_version(x, X509_VERSION_3);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	n = i2d_X509(x, &d);
	endpoint_start(&mitm, k, d, (size_t)n, tee);
	o = opts_for(mitm.port);
	expect_refused(&o, "E_TUNNEL_NO_EVIDENCE");
	endpoint_stop(&mitm);
	OPENSSL_free(d);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* Its own key, the genuine evidence copied into its certificate. */
static void test_copied_evidence(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct tunnel_cert tc;
	struct endpoint mitm;
	struct tunnel_client_opts o;
	uint8_t *d;
	size_t n;
	char err[256] = "";

	(void)state;
	assert_int_equal(tunnel_cert_read(der, der_len, &tc, err, sizeof(err)), 0);
	assert_int_equal(tunnel_cert_make(k, tc.tee, tc.evidence, NULL, 0, time(NULL), 600, &d, &n,
					  err, sizeof(err)),
			 0);
	endpoint_start(&mitm, k, d, n, tee);
	o = opts_for(mitm.port);
	expect_refused(&o, "E_TUNNEL_BINDING");
	endpoint_stop(&mitm);
	free(d);
	tunnel_cert_free(&tc);
	EVP_PKEY_free(k);
}

/*
 * The genuine certificate and its key, leaked, served from outside the
 * TEE: the handshake completes, and the evidence it can give for the
 * session is a recording, the certificate's own.
 */
static cJSON *recorded;

/* A backend outside any TEE: whatever the session, the evidence it was given. */
static int replay_evidence(struct tee *t, const uint8_t rd[64], cJSON **primary, char *err,
			   size_t errlen)
{
	(void)t;
	(void)rd;
	(void)err;
	(void)errlen;
	*primary = cJSON_Duplicate(recorded, 1);
	return *primary ? 0 : -ENOMEM;
}

static void test_replayed_certificate(void **state)
{
	struct tee replayer = { .name = "replay", .kbs_tee = "tdx", .evidence = replay_evidence };
	struct tunnel_cert tc;
	struct endpoint relay;
	struct tunnel_client_opts o;
	char err[256] = "";

	(void)state;
	assert_int_equal(tunnel_cert_read(der, der_len, &tc, err, sizeof(err)), 0);
	recorded = tc.evidence;
	endpoint_start(&relay, key, der, der_len, &replayer);
	o = opts_for(relay.port);
	expect_refused(&o, "E_TUNNEL_STALE");
	/* a client that skips the exchange is fooled: why it is the default */
	o.no_fresh = true;
	{
		struct tunnel_conn c;

		assert_int_equal(tunnel_connect(&o, &c, err, sizeof(err)), 0);
		tunnel_conn_close(&c);
	}
	endpoint_stop(&relay);
	tunnel_cert_free(&tc);
}

/* A genuine certificate whose endpoint answers the exchange with evidence that does not parse. */
static void test_fresh_evidence_unparsable(void **state)
{
	struct tee liar = { .name = "liar", .kbs_tee = "tdx", .evidence = replay_evidence };
	struct tee other = { .name = "liar", .kbs_tee = "snp", .evidence = replay_evidence };
	struct tunnel_cert tc;
	struct endpoint e;
	struct tunnel_client_opts o;
	char err[256] = "";

	(void)state;
	recorded = cJSON_Parse("{\"quote\": \"not base64 at all\", \"cc_eventlog\": 7}");
	endpoint_start(&e, key, der, der_len, &liar);
	o = opts_for(e.port);
	expect_refused(&o, "E_TUNNEL_EVIDENCE");
	endpoint_stop(&e);
	cJSON_Delete(recorded);
	/* fresh evidence of another tee than the certificate's */
	assert_int_equal(tunnel_cert_read(der, der_len, &tc, err, sizeof(err)), 0);
	recorded = tc.evidence;
	endpoint_start(&e, key, der, der_len, &other);
	o = opts_for(e.port);
	expect_refused(&o, "E_TUNNEL_FRESH");
	endpoint_stop(&e);
	tunnel_cert_free(&tc);
}

/* An endpoint that does not speak the exchange. */
static void test_no_exchange(void **state)
{
	struct endpoint plain;
	struct tunnel_client_opts o;

	(void)state;
	endpoint_start(&plain, key, der, der_len, tee);
	SSL_CTX_set_alpn_select_cb(plain.s.ctx, NULL, NULL);
	o = opts_for(plain.port);
	expect_refused(&o, "E_TUNNEL_FRESH");
	endpoint_stop(&plain);
}

/* Evidence of the right image, for another order (its launch binding differs). */
static void test_another_order(void **state)
{
	struct tunnel_client_opts o = opts_for(genuine.port);
	struct order other;

	(void)state;
	memset(&other, 0, sizeof(other));
	snprintf(other.id, sizeof(other.id), "another");
	memset(other.sha256, 0xab, 32);
	memset(other.sha384, 0xab, 48);
	o.order = &other;
	expect_refused(&o, "E_TUNNEL_ORDER");
}

/* Nothing listens, or a TLS 1.2 peer: named refusals too. */
static void test_unreachable(void **state)
{
	struct tunnel_client_opts o = opts_for(1);

	(void)state;
	expect_refused(&o, "E_TUNNEL_CONNECT");
}

/* Clients that connect and never finish a handshake, or send garbage: the tunnel serves on. */
static void test_stalled_clients(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(genuine.port) };
	struct tunnel_client_opts o = opts_for(genuine.port);
	unsigned long refused = atomic_load(&genuine.s.refused);
	struct tunnel_conn c;
	char err[512] = "";
	int idle[8], junk;

	(void)state;
	for (int i = 0; i < 8; i++) {
		idle[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(idle[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	junk = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(junk, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(junk, "GET / HTTP/1.0\r\n\r\n", 18), 18);
	if (tunnel_connect(&o, &c, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	expect_echo(&c, "still serving");
	tunnel_conn_close(&c);
	/* the handshakes time out (500 ms here) and are counted as refused */
	for (int i = 0; i < 300 && atomic_load(&genuine.s.refused) < refused + 9; i++)
		usleep(10000);
	assert_true(atomic_load(&genuine.s.refused) >= refused + 9);
	for (int i = 0; i < 8; i++)
		close(idle[i]);
	close(junk);
}

/*
 * A connection on which nothing moves for the idle time is closed; one that
 * talks is not; one that sends and never reads what comes back is closed
 * once nothing has moved for as long.
 */
static void test_idle_connection(void **state)
{
	struct endpoint e;
	struct tunnel_client_opts o;
	struct tunnel_conn quiet, busy, deaf;
	char buf[16], err[512] = "";
	size_t k;

	(void)state;
	endpoint_start(&e, key, der, der_len, tee);
	e.s.idle_ms = 400;
	o = opts_for(e.port);
	if (tunnel_connect(&o, &quiet, err, sizeof(err)) < 0 ||
	    tunnel_connect(&o, &busy, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	expect_echo(&quiet, "then nothing");
	/* 1.2 s, three idle times: a byte each way every 40 ms on one, none on the other */
	for (int i = 0; i < 30; i++) {
		expect_echo(&busy, "x");
		usleep(40000);
	}
	expect_echo(&busy, "still open");
	/* the quiet one was ended by the endpoint: its close_notify, then nothing */
	tunnel_set_timeout(quiet.fd, 3000);
	assert_int_equal(SSL_read_ex(quiet.ssl, buf, sizeof(buf), &k), 0);
	assert_int_equal(SSL_get_error(quiet.ssl, 0), SSL_ERROR_ZERO_RETURN);
	assert_int_equal(atomic_load(&e.s.idle), 1);
	tunnel_conn_close(&quiet);
	tunnel_conn_close(&busy);
	for (int i = 0; i < 300 && atomic_load(&e.s.live); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&e.s.live), 0);
	/* a client that never reads: writes until its own buffers and the endpoint's are full */
	if (tunnel_connect(&o, &deaf, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	tunnel_set_timeout(deaf.fd, 1000);
	{
		static uint8_t chunk[16384];
		size_t w;
		int i;

		for (i = 0; i < 16384 && SSL_write_ex(deaf.ssl, chunk, sizeof(chunk), &w) == 1; i++)
			;
		assert_true(i < 16384);
	}
	/* the endpoint gave up on it while this end still holds it open */
	for (int i = 0; i < 500 && atomic_load(&e.s.live); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&e.s.live), 0);
	tunnel_conn_close(&deaf);
	endpoint_stop(&e);
	assert_int_equal(atomic_load(&e.s.idle), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genuine),
		cmocka_unit_test(test_own_certificate),
		cmocka_unit_test(test_copied_evidence),
		cmocka_unit_test(test_replayed_certificate),
		cmocka_unit_test(test_fresh_evidence_unparsable),
		cmocka_unit_test(test_no_exchange),
		cmocka_unit_test(test_another_order),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_stalled_clients),
		cmocka_unit_test(test_idle_connection),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
