/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm connect and cvm fetch: a client of a service order's tunnel
 * (host/tunnel.h, docs/tunnel.md). Every TLS connection to the endpoint is
 * checked, certificate and then session, before a byte of the caller's
 * goes through it; connect forwards a local port (or stdin and stdout),
 * fetch makes one HTTP request with libcurl through such a forward.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "host/cvm.h"
#include "host/tunnel.h"
#include "lib/lib.h"

enum {
	OPT_REFERENCE = 256,
	OPT_BUILDER,
	OPT_SIGNATURE,
	OPT_PINS,
	OPT_UNPINNED,
	OPT_ORDER,
	OPT_TEST_ROOTS,
	OPT_COLLATERAL,
	OPT_NO_FRESH,
	OPT_LISTEN,
	OPT_STOP,
	OPT_KEY,
	OPT_TIMEOUT,
	OPT_OUTPUT,
};

struct copts {
	const char *reference, *builder, *signature, *pins, *order, *listen, *key, *output;
	bool unpinned, stop, fetch;
	struct tunnel_client_opts t;
	struct refsrc rsrc;
	struct order ord;
	char host[256], path[1024];
	uint16_t port;
};

static void usage(FILE *f, bool fetch)
{
	if (fetch)
		fputs("Usage: cvm fetch https://HOST:PORT[/PATH] --reference FILE [options]\n"
		      "\n"
		      "One HTTP GET to a service order's tunnel (docs/tunnel.md), the endpoint\n"
		      "checked first as 'cvm connect' checks it; the body goes to stdout (or -o).\n"
		      "\n",
		      f);
	else
		fputs("Usage: cvm connect HOST:PORT --reference FILE [options]\n"
		      "       cvm connect HOST:PORT --stop --order ORDER.json --key KEY [options]\n"
		      "\n"
		      "Opens a service order's tunnel (docs/tunnel.md). The endpoint's TLS\n"
		      "certificate must carry TEE evidence that is genuine, binds the\n"
		      "certificate's key, matches the reference and, with --order, was launched\n"
		      "for that order; then, in the same TLS session, fresh evidence must bind\n"
		      "that session (a replayed or relayed certificate fails here). Only then\n"
		      "does a byte go through. Each connection is checked so.\n"
		      "Without --listen, stdin and stdout are the stream.\n"
		      "\n",
		      f);
	fputs("  --reference FILE     the image the endpoint must run: its builder's signed\n"
	      "                       manifest or reference values (as for 'cvm result')\n"
	      "  --builder PUBKEY, --signature SIG, --pins FILE\n"
	      "                       with a manifest, as for 'cvm result'\n"
	      "  --accept-unpinned-image\n"
	      "                       no --reference: any genuine TEE (NOT compared)\n"
	      "  --order FILE         the signed order the endpoint must run\n"
	      "  --test-roots PEM     also trust these roots (test PKI only)\n"
	      "  --collateral DIR     TDX: Intel PCS collateral (TCB status)\n"
	      "  --no-fresh           skip the session's fresh evidence: a replayed\n"
	      "                       certificate then passes (do not)\n"
	      "  --timeout-ms N       connect, handshake and checks (default 10000)\n",
	      f);
	if (fetch)
		fputs("  -o FILE              write the body to FILE\n"
		      "\n"
		      "Exit status: 0 an HTTP 2xx answer; 1 the endpoint refused by a check\n"
		      "(E_TUNNEL_...), or an HTTP status other than 2xx; 2 usage; 3 the endpoint\n"
		      "unreachable or the transfer failed.\n",
		      f);
	else
		fputs("  --listen [ADDR:]PORT forward this local address (ADDR default\n"
		      "                       127.0.0.1; PORT 0 picks one, printed on stdout)\n"
		      "  --stop               the customer's signed stop: the service ends now\n"
		      "                       (with --order and --key)\n"
		      "  --key FILE           the order's customer key (cvm keygen)\n"
		      "\n"
		      "Exit status: 0 forwarded until the stream or the signal ended, or the stop\n"
		      "taken; 1 the endpoint refused by a check (E_TUNNEL_...) or the stop "
		      "refused;\n"
		      "2 usage; 3 the endpoint unreachable.\n",
		      f);
}

/* HOST:PORT, or https://HOST:PORT[/PATH]: a name or IPv4 address, digits. */
static int parse_target(const char *s, struct copts *o)
{
	const char *p = s, *colon, *slash;
	uint64_t port = 0;
	size_t n;

	if (!strncmp(p, "https://", 8))
		p += 8;
	slash = strchr(p, '/');
	snprintf(o->path, sizeof(o->path), "%s", slash ? slash : "/");
	n = slash ? (size_t)(slash - p) : strlen(p);
	colon = memchr(p, ':', n);
	if (!colon || colon == p || (size_t)(colon - p) >= sizeof(o->host))
		return -EINVAL;
	memcpy(o->host, p, (size_t)(colon - p));
	o->host[colon - p] = 0;
	if (strspn(o->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
	    strlen(o->host))
		return -EINVAL;
	for (const char *d = colon + 1; d < p + n; d++) {
		if (*d < '0' || *d > '9' || port > 65535)
			return -EINVAL;
		port = port * 10 + (uint64_t)(*d - '0');
	}
	if (port < 1 || port > 65535 || strpbrk(o->path, " \t\r\n"))
		return -EINVAL;
	o->port = (uint16_t)port;
	return 0;
}

/* [A.B.C.D:]PORT, the address 127.0.0.1 when none is given. */
static int listen_spec(const char *spec, struct sockaddr_in *a)
{
	const char *colon = strrchr(spec, ':');
	char addr[16] = "127.0.0.1", *end;
	long p;

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	if (colon) {
		if ((size_t)(colon - spec) >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, spec, (size_t)(colon - spec));
		addr[colon - spec] = 0;
	}
	errno = 0;
	p = strtol(colon ? colon + 1 : spec, &end, 10);
	if (errno || *end || end == (colon ? colon + 1 : spec) || p < 0 || p > 65535 ||
	    inet_pton(AF_INET, addr, &a->sin_addr) != 1)
		return -EINVAL;
	a->sin_port = htons((uint16_t)p);
	return 0;
}

static int parse(int argc, char **argv, struct copts *o)
{
	static const struct option longopts[] = {
		{ "reference", required_argument, NULL, OPT_REFERENCE },
		{ "builder", required_argument, NULL, OPT_BUILDER },
		{ "signature", required_argument, NULL, OPT_SIGNATURE },
		{ "pins", required_argument, NULL, OPT_PINS },
		{ "accept-unpinned-image", no_argument, NULL, OPT_UNPINNED },
		{ "order", required_argument, NULL, OPT_ORDER },
		{ "test-roots", required_argument, NULL, OPT_TEST_ROOTS },
		{ "collateral", required_argument, NULL, OPT_COLLATERAL },
		{ "no-fresh", no_argument, NULL, OPT_NO_FRESH },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "stop", no_argument, NULL, OPT_STOP },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	long v;
	int c;

	optind = 1;
	opterr = 0; /* one line of our own for an unknown option */
	while ((c = getopt_long(argc, argv, o->fetch ? "ho:" : "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REFERENCE:
			o->reference = optarg;
			break;
		case OPT_BUILDER:
			o->builder = optarg;
			break;
		case OPT_SIGNATURE:
			o->signature = optarg;
			break;
		case OPT_PINS:
			o->pins = optarg;
			break;
		case OPT_UNPINNED:
			o->unpinned = true;
			break;
		case OPT_ORDER:
			o->order = optarg;
			break;
		case OPT_TEST_ROOTS:
			o->t.test_roots = optarg;
			break;
		case OPT_COLLATERAL:
			o->t.collateral = optarg;
			break;
		case OPT_NO_FRESH:
			o->t.no_fresh = true;
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_STOP:
			o->stop = true;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_TIMEOUT:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v > 600000)
				return log_error("--timeout-ms: 1 to 600000"), -EINVAL;
			o->t.timeout_ms = v;
			break;
		case 'h':
			usage(stdout, o->fetch);
			return 1;
		default:
			return log_error("unknown option (cvm %s --help)",
					 o->fetch ? "fetch" : "connect"),
			       -EINVAL;
		}
	}
	if (optind != argc - 1 || parse_target(argv[optind], o) < 0)
		return log_error("one target: %s",
				 o->fetch ? "https://HOST:PORT[/PATH]" : "HOST:PORT"),
		       -EINVAL;
	if (o->fetch && (o->listen || o->stop || o->key))
		return log_error("--listen, --stop and --key are cvm connect's"), -EINVAL;
	if (o->listen && listen_spec(o->listen, &(struct sockaddr_in){ 0 }) < 0)
		return log_error("--listen %s: [A.B.C.D:]PORT", o->listen), -EINVAL;
	if (o->stop && (!o->order || !o->key || o->listen))
		return log_error("--stop needs --order and --key, and no --listen"), -EINVAL;
	if (!o->stop && !o->reference && !o->unpinned)
		return log_error("--reference FILE, or --accept-unpinned-image"), -EINVAL;
	if (o->reference && o->unpinned)
		return log_error("--reference or --accept-unpinned-image, not both"), -EINVAL;
	if (!o->reference && (o->builder || o->signature || o->pins))
		return log_error("--builder, --signature and --pins go with --reference MANIFEST"),
		       -EINVAL;
	return 0;
}

/* ---- the forward: each local connection, its own checked tunnel connection ---- */

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/*
 * Bytes both ways. The caller's end of input is a half close: the
 * endpoint is told (close_notify) and its answer is still read to its end.
 */
static void pump(SSL *ssl, int tls_fd, int in, int out)
{
	uint8_t buf[16384];
	struct pollfd p[2] = { { .fd = tls_fd, .events = POLLIN }, { .fd = in, .events = POLLIN } };

	while (!stopping) {
		size_t k, w;
		ssize_t n;

		if (!SSL_pending(ssl) && poll(p, 2, 500) <= 0)
			continue;
		if (SSL_pending(ssl) || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (SSL_read_ex(ssl, buf, sizeof(buf), &k) != 1 ||
			    fd_write_all(out, buf, k) < 0)
				return;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(in, buf, sizeof(buf));
			if (n < 0)
				return;
			if (n == 0) {
				SSL_shutdown(ssl);
				p[1].fd = -1;
			} else if (SSL_write_ex(ssl, buf, (size_t)n, &w) != 1) {
				return;
			}
		}
		p[0].revents = p[1].revents = 0;
	}
}

struct fwd {
	struct copts *o;
	int fd;
};

static void *forward_one(void *arg)
{
	struct fwd *f = arg;
	struct tunnel_conn c;
	char err[640];

	if (tunnel_connect(&f->o->t, &c, err, sizeof(err)) < 0) {
		log_error("%s", err);
	} else {
		pump(c.ssl, c.fd, f->fd, f->fd);
		tunnel_conn_close(&c);
	}
	close(f->fd);
	free(f);
	return NULL;
}

static int listen_on(const char *spec, uint16_t *port)
{
	struct sockaddr_in a;
	socklen_t n = sizeof(a);
	int fd;

	if (listen_spec(spec, &a) < 0)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &n) < 0) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static void accept_loop(struct copts *o, int lfd)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!stopping) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		struct fwd *f;
		pthread_t t;
		int fd;

		if (poll(&p, 1, 200) <= 0 || (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if (!(f = malloc(sizeof(*f)))) {
			close(fd);
			continue;
		}
		f->o = o;
		f->fd = fd;
		if (pthread_create(&t, &attr, forward_one, f) != 0) {
			close(fd);
			free(f);
		}
	}
	pthread_attr_destroy(&attr);
}

/* An endpoint's refusal is 1; not reaching it, 3. */
static int exit_of(const char *err)
{
	return !strncmp(err, "E_TUNNEL_CONNECT", 16) || !strncmp(err, "E_TUNNEL_HANDSHAKE", 18)
		       ? 3
		       : EXIT_REJECTED;
}

static int load(struct copts *o)
{
	_cleanup_free_ uint8_t *text = NULL;
	char err[512];
	size_t len;
	int r;

	o->t.host = o->host;
	o->t.port = o->port;
	if (o->reference) {
		r = refsrc_load(o->reference, o->builder, o->signature, o->pins, &o->rsrc, err,
				sizeof(err));
		if (r < 0)
			return log_error("--reference %s: %s", o->reference, err),
			       r == -ENOENT || r == -EINVAL ? EXIT_USAGE : EXIT_REJECTED;
		o->t.rsrc = &o->rsrc;
	}
	if (o->order) {
		if ((r = file_read(o->order, ORDER_TEXT_MAX, &text, &len)) < 0)
			return log_error("%s: %s", o->order, strerror(-r)), EXIT_USAGE;
		if (order_parse((const char *)text, len, NULL, &o->ord, err, sizeof(err)) < 0)
			return log_error("%s: %s", o->order, err), EXIT_USAGE;
		o->t.order = &o->ord;
	}
	return 0;
}

static int connect_run(struct copts *o)
{
	struct tunnel_conn c;
	char err[640];
	uint16_t port;
	int lfd;

	if (o->stop) {
		struct result_key k = { 0 };
		int r;

		if (result_key_load(o->key, &k, err, sizeof(err)) < 0)
			return log_error("--key %s: %s", o->key, err), EXIT_USAGE;
		r = tunnel_stop(&o->t, &k, err, sizeof(err));
		result_key_wipe(&k);
		if (r < 0)
			return log_error("%s", err), exit_of(err);
		fprintf(stderr, "%s: %s:%u: the service stops\n", log_prog(), o->host, o->port);
		return EXIT_OK;
	}
	/* the endpoint checked once before anything listens or reads stdin */
	if (tunnel_connect(&o->t, &c, err, sizeof(err)) < 0)
		return log_error("%s", err), exit_of(err);
	fprintf(stderr, "%s: %s:%u: attested %s endpoint, fresh in this session%s\n", log_prog(),
		o->host, o->port, c.tee, o->order ? ", running the order" : "");
	if (!o->listen) {
		pump(c.ssl, c.fd, STDIN_FILENO, STDOUT_FILENO);
		tunnel_conn_close(&c);
		return EXIT_OK;
	}
	tunnel_conn_close(&c);
	if ((lfd = listen_on(o->listen, &port)) < 0)
		return log_error("--listen %s: %s", o->listen, strerror(-lfd)), EXIT_USAGE;
	printf("127.0.0.1:%u\n", port);
	fflush(stdout);
	accept_loop(o, lfd);
	close(lfd);
	return EXIT_OK;
}

/* ---- fetch ---- */

struct fetch_ctx {
	struct copts *o;
	int lfd;
};

static void *fetch_forward(void *arg)
{
	struct fetch_ctx *f = arg;

	accept_loop(f->o, f->lfd);
	return NULL;
}

static size_t to_file(char *p, size_t size, size_t n, void *arg)
{
	return fwrite(p, size, n, arg) * size;
}

static int fetch_run(struct copts *o)
{
	struct fetch_ctx f = { .o = o };
	struct tunnel_conn c;
	char err[640], url[1200], host[300], curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	FILE *out = stdout;
	pthread_t t;
	uint16_t port;
	long status = 0;
	CURL *curl;
	CURLcode cr;

	if (tunnel_connect(&o->t, &c, err, sizeof(err)) < 0)
		return log_error("%s", err), exit_of(err);
	tunnel_conn_close(&c);
	if ((f.lfd = listen_on("127.0.0.1:0", &port)) < 0)
		return log_error("a local port: %s", strerror(-f.lfd)), 3;
	if (o->output && !(out = fopen(o->output, "wb")))
		return log_error("-o %s: %s", o->output, strerror(errno)), EXIT_USAGE;
	pthread_create(&t, NULL, fetch_forward, &f);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, o->path);
	snprintf(host, sizeof(host), "Host: %s:%u", o->host, o->port);
	hdr = curl_slist_append(NULL, host);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	curl = curl_easy_init();
	cr = curl ? CURLE_OK : CURLE_FAILED_INIT;
	if (curl) {
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, to_file);
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
		curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
		curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
				 o->t.timeout_ms ? o->t.timeout_ms * 3 : 30000L);
		curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
		cr = curl_easy_perform(curl);
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(curl);
	}
	curl_slist_free_all(hdr);
	stopping = 1;
	pthread_join(t, NULL);
	close(f.lfd);
	if (out != stdout && fclose(out) != 0)
		cr = CURLE_WRITE_ERROR;
	if (cr != CURLE_OK)
		return log_error("E_TUNNEL_FETCH: %s",
				 curl_err[0] ? curl_err : curl_easy_strerror(cr)),
		       3;
	if (status < 200 || status > 299)
		return log_error("E_TUNNEL_FETCH: HTTP %ld", status), EXIT_REJECTED;
	return EXIT_OK;
}

static int common_main(int argc, char **argv, bool fetch)
{
	struct copts o = { .fetch = fetch };
	struct sigaction sa = { .sa_handler = on_signal };
	int r = parse(argc, argv, &o);

	if (r)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = load(&o);
	if (r == 0)
		r = fetch ? fetch_run(&o) : connect_run(&o);
	if (o.reference)
		refsrc_free(&o.rsrc);
	if (o.order)
		order_free(&o.ord);
	return r;
}

int connect_main(int argc, char **argv)
{
	return common_main(argc, argv, false);
}

int fetch_main(int argc, char **argv)
{
	return common_main(argc, argv, true);
}
