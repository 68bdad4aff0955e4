/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm collateral fetch: keeps a TDX collateral directory (docs/tdx-verify.md)
 * fresh from a server speaking Intel's PCS API v4 (Intel's PCS, or a PCCS):
 *
 *   GET /tdx/certification/v4/tcb?fmspc=F       tcbinfo.json, TCB-Info-Issuer-Chain
 *   GET /tdx/certification/v4/qe/identity       qe-identity.json, Enclave-Identity-Issuer-Chain
 *   GET /sgx/certification/v4/pckcrl?ca=C&encoding=der   pckcrl, SGX-PCK-CRL-Issuer-Chain
 *   GET /sgx/certification/v4/rootcacrl         rootcrl.der
 *
 * Everything the server sends is hostile: sizes are capped, redirects to
 * another host refused, and the whole set is verified (signatures up to the
 * Intel SGX Root CA, dates) in a staging directory before any file of the
 * old set is replaced, each by a rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "host/cvm.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

/* A response header holding a URL-encoded PEM chain: a few KiB in practice. */
#define HEADER_CAP (64u * 1024)

static void help(FILE *f)
{
	fputs("Usage: cvm collateral fetch --url URL (--fmspc HEX | --quote FILE) -o DIR "
	      "[options]\n"
	      "\n"
	      "Fetches the collateral of TDX quote verification from a server speaking Intel's\n"
	      "PCS API v4 (https://api.trustedservices.intel.com, or a PCCS): TCB info for an\n"
	      "FMSPC, the TD QE identity, the PCK CA's CRL and the root CA's CRL, with their\n"
	      "issuer chains. It verifies them (signatures up to the Intel SGX Root CA, dates)\n"
	      "and only then replaces the files of DIR, each by a rename; on any failure DIR\n"
	      "keeps what it had. DIR is what 'cvm verify --collateral' and the key broker's\n"
	      "tdx_collateral read (docs/tdx-verify.md).\n"
	      "\n"
	      "Options:\n"
	      "  --url URL            the server's base URL (https:// only)\n"
	      "  --fmspc HEX          the platform's FMSPC (6 bytes of hex)\n"
	      "  --quote FILE         take the FMSPC and the PCK CA from a quote's PCK "
	      "certificate\n"
	      "  --ca processor|platform  the PCK CA whose CRL to fetch (default: platform, or "
	      "the\n"
	      "                       quote's)\n"
	      "  -o, --output DIR     the collateral directory (made when missing)\n"
	      "  --root-crl-url URL   where the root CA's CRL is (default: URL/sgx/certification/\n"
	      "                       v4/rootcacrl)\n"
	      "  --cacert PEM         trust these CAs for the server's TLS certificate (default:\n"
	      "                       the system's)\n"
	      "  --proxy URL          use this proxy (none otherwise; the environment's proxy\n"
	      "                       variables are ignored)\n"
	      "  --timeout SECONDS    for each request (default 30)\n"
	      "  --test-roots PEM     also trust these roots (test PKI only; never in production)\n"
	      "  --now RFC3339        time for validity (default: the current time)\n"
	      "  -h, --help           this text\n"
	      "\n"
	      "Exit status:\n"
	      "  0  DIR holds the fetched, verified collateral\n"
	      "  1  refused: a fetch failed or what came does not verify (one line on stderr\n"
	      "     names the code: E_COLLATERAL_FETCH, _SIZE, _REDIRECT, _FORMAT, _CHAIN,\n"
	      "     _ROOT, _SIGNATURE, _STALE, _REVOKED, _CONTENT); DIR is unchanged\n"
	      "  2  usage error or unreadable file\n",
	      f);
}

struct opts {
	const char *url, *fmspc_hex, *quote, *ca, *out, *root_crl_url, *cacert, *proxy;
	const char *test_roots, *now;
	long timeout;
};

struct doc {
	const char *name;   /* the file in DIR */
	const char *header; /* the issuer-chain response header, or NULL */
	const char *header_v3;
	char url[2400];
	uint8_t *body;
	size_t len;
	char *chain; /* URL-decoded PEM of the header */
};

/* One transfer's state: the body and one header, both capped. */
struct xfer {
	struct doc *d;
	bool too_big;
	char *header;
	size_t header_len;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t add = size * n;
	int r = buf_append(&x->d->body, &x->d->len, p, add, CVM_CAP_COLLATERAL);

	if (r == -EFBIG)
		x->too_big = true;
	return r < 0 ? 0 : add;
}

/* "Name: value\r\n" of the header d->header (or its v3 name). */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, klen;
	const char *names[] = { x->d->header, x->d->header_v3 };

	for (size_t i = 0; i < 2; i++) {
		if (!names[i])
			continue;
		klen = strlen(names[i]);
		if (len > klen + 1 && strncasecmp(p, names[i], klen) == 0 && p[klen] == ':') {
			const char *v = p + klen + 1;
			size_t vlen = len - klen - 1;

			while (vlen && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			while (vlen &&
			       (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
				vlen--;
			if (vlen > HEADER_CAP || x->header) {
				x->too_big = true;
				return 0;
			}
			x->header = strndup(v, vlen);
			x->header_len = vlen;
			return x->header ? len : 0;
		}
	}
	return len;
}

/* Scheme, host and port of a URL, to tell whether a redirect leaves the server. */
static int url_origin(const char *url, char *out, size_t cap)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int r = -EINVAL;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		snprintf(out, cap, "%s://%s:%s", scheme, host, port);
		r = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

static CURL *easy_new(const struct opts *o, char *errbuf)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	errbuf[0] = 0;
	/* No proxy from the environment: only the one the command line names. */
	if (curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROXY, o->proxy ? o->proxy : "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROXY, o->proxy ? "" : "*") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    (o->cacert && curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert) != CURLE_OK) ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->timeout) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CVM_CAP_COLLATERAL) !=
		    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "cvm-collateral") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK) {
		curl_easy_cleanup(c);
		return NULL;
	}
	return c;
}

/* One GET, following at most three redirects within the same origin. */
/*
 * What one answer means: 0 the document, 1 a redirect to the same server
 * (now in url), else a negative errno with err saying why.
 */
static int fetch_outcome(const struct doc *d, CURLcode rc, long code, const char *loc,
			 const char *errbuf, const char *origin, char *url, size_t urlcap,
			 bool too_big, char *err, size_t errlen)
{
	char there[600];

	if (too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_SIZE: %s: the answer is larger than %u bytes",
				 d->url, CVM_CAP_COLLATERAL);
	if (rc == CURLE_PARTIAL_FILE)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_FETCH: %s: truncated answer (%s)", d->url,
				 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	if (rc != CURLE_OK)
		return set_error(err, errlen, -EKEYREJECTED, "E_COLLATERAL_FETCH: %s: %s", d->url,
				 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	if (loc && (url_origin(loc, there, sizeof(there)) < 0 || strcmp(there, origin) != 0))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_REDIRECT: %s: HTTP %ld to another server (%s) "
				 "refused",
				 d->url, code,
				 url_origin(loc, there, sizeof(there)) < 0 ? "not a URL" : there);
	if (loc && strlen(loc) < urlcap) {
		snprintf(url, urlcap, "%s", loc);
		return 1;
	}
	if (code != 200)
		return set_error(err, errlen, -EKEYREJECTED, "E_COLLATERAL_FETCH: %s: HTTP %ld",
				 d->url, code);
	return 0;
}

/* The issuer chain of the answer's header (URL-encoded PEM) into d->chain. */
static int doc_chain(struct doc *d, const struct xfer *x, char *err, size_t errlen)
{
	int n = 0, r = 0;
	char *pem;

	if (d->header && !x->header)
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_FORMAT: %s: no %s header with the issuer chain",
				 d->url, d->header);
	if (!x->header)
		return 0;
	pem = curl_easy_unescape(NULL, x->header, (int)x->header_len, &n);
	if (!pem || n <= 0 || memchr(pem, 0, (size_t)n))
		r = set_error(err, errlen, -EKEYREJECTED,
			      "E_COLLATERAL_FORMAT: %s: the %s header does not decode", d->url,
			      d->header);
	else
		d->chain = strndup(pem, (size_t)n);
	curl_free(pem);
	if (r == 0 && !d->chain)
		r = -ENOMEM;
	return r;
}

static int fetch_doc(const struct opts *o, struct doc *d, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE], url[2400], origin[600];
	struct xfer x = { .d = d };
	int r = -EKEYREJECTED;

	snprintf(url, sizeof(url), "%s", d->url);
	if (url_origin(url, origin, sizeof(origin)) < 0)
		return set_error(err, errlen, -EINVAL, "%s: not a URL", url);
	for (int hop = 0; hop < 4; hop++) {
		CURL *c = easy_new(o, errbuf);
		long code = 0;
		CURLcode rc;
		char *loc = NULL;

		if (!c)
			return -ENOMEM;
		free(d->body);
		d->body = NULL;
		d->len = 0;
		free(x.header);
		x.header = NULL;
		x.too_big = false;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (rc == CURLE_OK && code >= 300 && code < 400)
			curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
		r = fetch_outcome(d, rc, code, loc, errbuf, origin, url, sizeof(url), x.too_big,
				  err, errlen);
		curl_easy_cleanup(c);
		if (r != 1)
			break;
		r = set_error(err, errlen, -EKEYREJECTED,
			      "E_COLLATERAL_REDIRECT: %s: more than 3 redirects", d->url);
	}
	if (r == 0)
		r = doc_chain(d, &x, err, errlen);
	free(x.header);
	return r;
}

/* The root CA's CRL as DER: served as DER, PEM, or (PCCS API v3) hex of the DER. */
static int root_crl_der(struct doc *d, char *err, size_t errlen)
{
	size_t n = d->len, out;
	uint8_t *der;

	while (n && (d->body[n - 1] == '\n' || d->body[n - 1] == '\r'))
		n--;
	if (n == 0 || n % 2 || strspn((char *)d->body, "0123456789abcdefABCDEF") < n)
		return 0;
	d->body[n] = 0;
	der = malloc(n / 2);
	if (!der)
		return -ENOMEM;
	if (hex_decode((char *)d->body, der, n / 2, &out) < 0) {
		free(der);
		return set_error(err, errlen, -EKEYREJECTED, "E_COLLATERAL_FORMAT: %s: bad hex",
				 d->url);
	}
	free(d->body);
	d->body = der;
	d->len = out;
	return 0;
}

/* ---- the directory ---- */

static void unlink_at(const char *dir, const char *name)
{
	char path[4200];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path))
		unlink(path);
}

static void staging_remove(const char *staging, struct doc *docs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		unlink_at(staging, docs[i].name);
	unlink_at(staging, "tcb-signing-chain.pem");
	unlink_at(staging, "pckcrl-issuer-chain.pem");
	rmdir(staging);
}

static int stage(const char *staging, const char *name, const void *p, size_t len, char *err,
		 size_t errlen)
{
	char path[4200];

	if (snprintf(path, sizeof(path), "%s/%s", staging, name) >= (int)sizeof(path))
		return set_error(err, errlen, -EINVAL, "%s: path too long", staging);
	return file_write_atomic(path, p, len, err, errlen);
}

/* The PCK CRL's issuer is the CA asked for: "Intel SGX PCK Platform CA" or "... Processor CA". */
static int crl_of_ca(const char *chain_pem, const char *ca, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	char cn[80] = "";

	if (x509_load_pem_chain(chain_pem, strlen(chain_pem), &chain) == 0)
		x509_cn(sk_X509_value(chain, 0), cn, sizeof(cn));
	sk_X509_pop_free(chain, X509_free);
	if (!strcasestr(cn, strcmp(ca, "platform") == 0 ? "Platform CA" : "Processor CA"))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_COLLATERAL_CONTENT: the PCK CRL comes from '%s', not the %s CA "
				 "asked for",
				 cn, ca);
	return 0;
}

/* Every file into staging, then checked as a set, then each renamed into out. */
static int install(const struct opts *o, struct doc *docs, size_t n, const uint8_t fmspc[6],
		   time_t now, char *err, size_t errlen)
{
	static const char *const names[] = {
		"tcbinfo.json", "qe-identity.json",	 "pckcrl",
		"rootcrl.der",	"tcb-signing-chain.pem", "pckcrl-issuer-chain.pem"
	};
	char staging[4096], from[4200], to[4200];
	int r = 0, fd;

	if (mkdir(o->out, 0755) < 0 && errno != EEXIST)
		return set_error(err, errlen, -EINVAL, "%s: %s", o->out, strerror(errno));
	if (snprintf(staging, sizeof(staging), "%s/.fetch.XXXXXX", o->out) >= (int)sizeof(staging))
		return set_error(err, errlen, -EINVAL, "%s: path too long", o->out);
	if (!mkdtemp(staging))
		return set_error(err, errlen, -EINVAL, "%s: %s", o->out, strerror(errno));
	for (size_t i = 0; r == 0 && i < n; i++)
		r = stage(staging, docs[i].name, docs[i].body, docs[i].len, err, errlen);
	/* The TCB info's chain and the QE identity's are the same TCB signing chain. */
	if (r == 0 && strcmp(docs[0].chain, docs[1].chain) != 0)
		r = set_error(err, errlen, -EKEYREJECTED,
			      "E_COLLATERAL_CHAIN: the TCB info and the QE identity come with "
			      "different issuer chains");
	if (r == 0)
		r = stage(staging, "tcb-signing-chain.pem", docs[0].chain, strlen(docs[0].chain),
			  err, errlen);
	if (r == 0)
		r = stage(staging, "pckcrl-issuer-chain.pem", docs[2].chain, strlen(docs[2].chain),
			  err, errlen);
	if (r == 0)
		r = crl_of_ca(docs[2].chain, o->ca ? o->ca : "platform", err, errlen);
	if (r == 0)
		r = tdx_collateral_validate(staging, o->test_roots, fmspc, now, err, errlen);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(names); i++) {
		if (snprintf(from, sizeof(from), "%s/%s", staging, names[i]) >= (int)sizeof(from) ||
		    snprintf(to, sizeof(to), "%s/%s", o->out, names[i]) >= (int)sizeof(to))
			r = set_error(err, errlen, -EINVAL, "%s: path too long", o->out);
		else if (rename(from, to) < 0)
			r = set_error(err, errlen, -EINVAL, "%s: %s", to, strerror(errno));
	}
	staging_remove(staging, docs, n);
	fd = open(o->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return r;
}

/* ---- the verb ---- */

/* --timeout: seconds from 1 to 3600. */
static int parse_timeout(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || *end || end == s || *out < 1 || *out > 3600) {
		log_error("--timeout: a number of seconds from 1 to 3600");
		return -EINVAL;
	}
	return 0;
}

/* The options together (extra: arguments besides them): what is required, URLs, --ca. */
static int opts_check(const struct opts *o, bool extra)
{
	if (extra || !o->url || !o->out || !o->fmspc_hex == !o->quote) {
		log_error("expected --url URL, -o DIR and one of --fmspc HEX or --quote FILE; see "
			  "'cvm collateral --help'");
		return -EINVAL;
	}
	if (strncmp(o->url, "https://", 8) != 0 ||
	    (o->root_crl_url && strncmp(o->root_crl_url, "https://", 8) != 0)) {
		log_error("--url and --root-crl-url must be https:// URLs");
		return -EINVAL;
	}
	if (strlen(o->url) > 2000 || (o->root_crl_url && strlen(o->root_crl_url) > 2300)) {
		log_error("--url: longer than 2000 characters");
		return -EINVAL;
	}
	if (o->ca && strcmp(o->ca, "processor") != 0 && strcmp(o->ca, "platform") != 0) {
		log_error("--ca: processor or platform");
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum {
		OPT_URL = 256,
		OPT_FMSPC,
		OPT_QUOTE,
		OPT_CA,
		OPT_ROOTCRL,
		OPT_CACERT,
		OPT_PROXY,
		OPT_TIMEOUT,
		OPT_TROOTS,
		OPT_NOW
	};
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, OPT_URL },
		{ "fmspc", required_argument, NULL, OPT_FMSPC },
		{ "quote", required_argument, NULL, OPT_QUOTE },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "output", required_argument, NULL, 'o' },
		{ "root-crl-url", required_argument, NULL, OPT_ROOTCRL },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "proxy", required_argument, NULL, OPT_PROXY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "test-roots", required_argument, NULL, OPT_TROOTS },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout = 30;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_FMSPC:
			o->fmspc_hex = optarg;
			break;
		case OPT_QUOTE:
			o->quote = optarg;
			break;
		case OPT_CA:
			o->ca = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case OPT_ROOTCRL:
			o->root_crl_url = optarg;
			break;
		case OPT_CACERT:
			o->cacert = optarg;
			break;
		case OPT_PROXY:
			o->proxy = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, &o->timeout) < 0)
				return -EINVAL;
			break;
		case OPT_TROOTS:
			o->test_roots = optarg;
			break;
		case OPT_NOW:
			o->now = optarg;
			break;
		case 'h':
			help(stdout);
			exit(EXIT_OK);
		default:
			log_error("unknown or incomplete option '%s'; see 'cvm collateral --help'",
				  argv[optind - 1]);
			return -EINVAL;
		}
	}
	return opts_check(o, optind != argc);
}

/* FMSPC and CA from the options, or from the quote. */
static int platform_of(struct opts *o, uint8_t fmspc[6])
{
	_cleanup_free_ uint8_t *q = NULL;
	const char *ca = NULL;
	char err[200];
	size_t len;
	int r;

	if (o->fmspc_hex) {
		if (hex_decode_exact(o->fmspc_hex, fmspc, 6) < 0) {
			log_error("--fmspc: 6 bytes of hex (12 digits)");
			return -EINVAL;
		}
		return 0;
	}
	r = file_read(o->quote, CVM_CAP_JSON, &q, &len);
	if (r < 0) {
		log_error_errno(r, "%s", o->quote);
		return -EINVAL;
	}
	if (tdx_quote_pck_platform(q, len, fmspc, &ca, err, sizeof(err)) < 0) {
		log_error("%s: %s", o->quote, err);
		return -EINVAL;
	}
	if (!o->ca)
		o->ca = ca;
	return 0;
}

static int collateral_fetch(int argc, char **argv)
{
	struct doc docs[4] = {
		{ .name = "tcbinfo.json",
		  .header = "TCB-Info-Issuer-Chain",
		  .header_v3 = "SGX-TCB-Info-Issuer-Chain" },
		{ .name = "qe-identity.json",
		  .header = "Enclave-Identity-Issuer-Chain",
		  .header_v3 = "SGX-Enclave-Identity-Issuer-Chain" },
		{ .name = "pckcrl", .header = "SGX-PCK-CRL-Issuer-Chain" },
		{ .name = "rootcrl.der" },
	};
	struct opts o;
	uint8_t fmspc[6];
	char fmspc_hex[13], err[512], base[2048];
	int64_t now = 0;
	int r = 0;
	size_t blen;

	if (parse_args(argc, argv, &o) < 0 || platform_of(&o, fmspc) < 0)
		return EXIT_USAGE;
	if (o.now && rfc3339_parse(o.now, &now) < 0) {
		log_error("--now '%s': not an RFC 3339 date-time (2024-01-31T12:00:00Z)", o.now);
		return EXIT_USAGE;
	}
	if (!o.now)
		now = (int64_t)time(NULL);
	hex_encode(fmspc, 6, fmspc_hex);
	snprintf(base, sizeof(base), "%s", o.url);
	blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		base[--blen] = 0;
	snprintf(docs[0].url, sizeof(docs[0].url), "%s/tdx/certification/v4/tcb?fmspc=%s", base,
		 fmspc_hex);
	snprintf(docs[1].url, sizeof(docs[1].url), "%s/tdx/certification/v4/qe/identity", base);
	snprintf(docs[2].url, sizeof(docs[2].url),
		 "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", base,
		 o.ca ? o.ca : "platform");
	if (o.root_crl_url)
		snprintf(docs[3].url, sizeof(docs[3].url), "%s", o.root_crl_url);
	else
		snprintf(docs[3].url, sizeof(docs[3].url), "%s/sgx/certification/v4/rootcacrl",
			 base);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		return EXIT_USAGE;
	}
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(docs); i++)
		r = fetch_doc(&o, &docs[i], err, sizeof(err));
	if (r == 0)
		r = root_crl_der(&docs[3], err, sizeof(err));
	if (r == 0)
		r = install(&o, docs, ARRAY_SIZE(docs), fmspc, (time_t)now, err, sizeof(err));
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		free(docs[i].body);
		free(docs[i].chain);
	}
	curl_global_cleanup();
	if (r == -ENOMEM)
		snprintf(err, sizeof(err), "out of memory");
	if (r < 0) {
		log_error("%s (%s kept as it was)", err, o.out);
		return r == -EKEYREJECTED ? EXIT_REJECTED : EXIT_USAGE;
	}
	printf("%s: TCB info for FMSPC %s, QE identity, PCK %s CA CRL and root CA CRL, verified "
	       "and installed\n",
	       o.out, fmspc_hex, o.ca ? o.ca : "platform");
	return EXIT_OK;
}

int collateral_main(int argc, char **argv)
{
	static const struct subcommand cmds[] = { { "fetch", collateral_fetch } };

	return subcommand_run(argc, argv, "collateral", cmds, ARRAY_SIZE(cmds), help);
}
