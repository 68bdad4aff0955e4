/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel against a plain TLS proxy, same loopback, same run: one echo
 * service behind the agent's terminator (agent/tunnel_serve.c, the sim
 * TEE's attested certificate) and behind socat's TLS proxy (OPENSSL-LISTEN,
 * the same kind of key). A client sends small requests one after another
 * over one connection and takes the median round trip: the latency the
 * tunnel adds per request over the plain proxy's. Then the cost of a
 * connection: the tunnel's checked open (handshake, the certificate's
 * evidence verified, fresh evidence made and verified) against a plain TLS
 * handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "agent/agent.h"
#include "host/tunnel.h"
#include "lib/lib.h"
#include "measurement/tunnel.h"
#include "tests/unit/support/echo.h"
#include "tests/bench/bench.h"

#include "host/refsrc.c"
#include "host/tunnel_client.c"

#define ROUNDS 2000
#define CONNS 30

static uint16_t echo_port;

static int connect_echo(void *arg)
{
	(void)arg;
	return echo_connect(echo_port);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median round trip of ROUNDS 64-byte messages over ssl, in microseconds. */
static double round_trips(SSL *ssl)
{
	static double t[ROUNDS];
	char msg[64], back[64];
	size_t w, k;

	memset(msg, 'r', sizeof(msg));
	for (int i = 0; i < ROUNDS; i++) {
		size_t got = 0;
		double t0 = now_s();

		if (SSL_write_ex(ssl, msg, sizeof(msg), &w) != 1)
			exit(1);
		while (got < sizeof(back)) {
			if (SSL_read_ex(ssl, back + got, sizeof(back) - got, &k) != 1)
				exit(1);
			got += k;
		}
		t[i] = (now_s() - t0) * 1e6;
	}
	qsort(t, ROUNDS, sizeof(t[0]), cmp);
	return t[ROUNDS / 2];
}

/* A plain TLS 1.3 client of port, no certificate checked: the proxy's side of the comparison. */
static SSL *plain_connect(uint16_t port, SSL_CTX *ctx, int *fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };
	SSL *ssl;

	for (int i = 0; i < 100; i++) {
		*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(*fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		close(*fd);
		*fd = -1;
		usleep(50000);
	}
	if (*fd < 0)
		return NULL;
	setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, *fd);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(*fd);
		return NULL;
	}
	return ssl;
}

struct srv {
	struct tunnel_server *s;
	int lfd;
	volatile sig_atomic_t *stop;
};

static void *serve(void *p)
{
	struct srv *x = p;

	tunnel_server_run(x->s, x->lfd, x->stop);
	return NULL;
}

int main(void)
{
	struct tee_config cfg = { .sim_pki = NULL, .sim_platform = "tdx" };
	struct tunnel_server s;
	struct tunnel_conn c;
	struct tunnel_client_opts o = { .host = "127.0.0.1", .timeout_ms = 10000 };
	char dir[128], cmd[2048], pkidir[160], roots[256], err[512] = "", listen_arg[400],
							   conn_arg[64];
	volatile sig_atomic_t stop = 0;
	uint16_t tport, sport;
	uint8_t *der, spki[32];
	SSL_CTX *plain;
	EVP_PKEY *key;
	struct tee *tee;
	pthread_t t;
	size_t len;
	pid_t socat;
	double rt_tunnel, rt_plain, t0, open_tunnel, open_plain;
	int lfd, pfd;
	SSL *ssl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/cvm-bench-tunnel.%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir -p %s; scripts/gen-test-pki %s/pki >/dev/null; "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s/tls.key -out %s/tls.pem -days 1 -subj /CN=plain 2>/dev/null; "
		 "cat %s/tls.key %s/tls.pem > %s/socat.pem",
		 dir, dir, dir, dir, dir, dir, dir);
	bench_run("bench tunnel", cmd);
	snprintf(roots, sizeof(roots), "%s/pki/tdx/roots.pem", dir);
	snprintf(pkidir, sizeof(pkidir), "%s/pki", dir);
	cfg.sim_pki = pkidir;
	echo_port = echo_start();

	/* the tunnel: the sim's attested certificate, the terminator in a thread */
	if (tee_open("sim", &cfg, &tee, err, sizeof(err)) < 0 ||
	    agent_tunnel_cert(tee, time(NULL) - 60, 3600, &key, &der, &len, spki, err,
			      sizeof(err)) < 0 ||
	    tunnel_server_init(&s, key, der, len, tee, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench tunnel: %s\n", err);
		return 1;
	}
	s.connect_service = connect_echo;
	lfd = echo_listen_any(&tport);
	{
		struct srv a = { &s, lfd, &stop };

		pthread_create(&t, NULL, serve, &a);
		pthread_detach(t);

		/* the plain proxy: socat's TLS in front of the same service */
		pfd = echo_listen_any(&sport); /* a free port, given to socat */
		close(pfd);
		snprintf(listen_arg, sizeof(listen_arg),
			 "OPENSSL-LISTEN:%u,bind=127.0.0.1,reuseaddr,fork,cert=%s/"
			 "socat.pem,verify=0,"
			 "nodelay",
			 sport, dir);
		snprintf(conn_arg, sizeof(conn_arg), "TCP:127.0.0.1:%u,nodelay", echo_port);
		socat = fork();
		if (socat == 0) {
			execlp("socat", "socat", listen_arg, conn_arg, (char *)NULL);
			_exit(127);
		}
		plain = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_min_proto_version(plain, TLS1_3_VERSION);
		SSL_CTX_set_verify(plain, SSL_VERIFY_NONE, NULL);

		/* per request, over one connection each */
		o.port = tport;
		o.test_roots = roots;
		if (tunnel_connect(&o, &c, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench tunnel: %s\n", err);
			return 1;
		}
		rt_tunnel = round_trips(c.ssl);
		tunnel_conn_close(&c);
		ssl = plain_connect(sport, plain, &pfd);
		if (!ssl) {
			fprintf(stderr, "bench tunnel: socat's TLS proxy does not answer\n");
			return 1;
		}
		rt_plain = round_trips(ssl);
		SSL_free(ssl);
		close(pfd);

		/* per connection: the checked open against a plain handshake and one round trip */
		t0 = now_s();
		for (int i = 0; i < CONNS; i++) {
			if (tunnel_connect(&o, &c, err, sizeof(err)) < 0) {
				fprintf(stderr, "bench tunnel: %s\n", err);
				return 1;
			}
			tunnel_conn_close(&c);
		}
		open_tunnel = (now_s() - t0) * 1e3 / CONNS;
		t0 = now_s();
		for (int i = 0; i < CONNS; i++) {
			if (!(ssl = plain_connect(sport, plain, &pfd)))
				return 1;
			SSL_shutdown(ssl);
			SSL_free(ssl);
			close(pfd);
		}
		open_plain = (now_s() - t0) * 1e3 / CONNS;
		stop = 1;
		kill(socat, SIGTERM);
		waitpid(socat, NULL, 0);
	}
	printf("tunnel  per request  %6.1f us median round trip over one connection; socat's TLS "
	       "proxy %6.1f us: %+5.1f us added (%.2fx)\n",
	       rt_tunnel, rt_plain, rt_tunnel - rt_plain, rt_tunnel / rt_plain);
	printf("tunnel  per connection %6.2f ms (handshake, the certificate's evidence and the "
	       "session's fresh evidence made and verified, sim TDX); a plain TLS 1.3 handshake "
	       "%5.2f ms: %.1fx\n",
	       open_tunnel, open_plain, open_tunnel / open_plain);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	bench_run("bench tunnel", cmd);
	tunnel_server_free(&s);
	EVP_PKEY_free(key);
	free(der);
	tee_close(tee);
	return 0;
}
