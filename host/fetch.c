/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider's transfers (host/fetch.h): the workload download, resumable
 * with RFC 9110 §14 range requests and capped at the order's size, and the
 * result upload by HTTP PUT, both with retries and a doubling backoff.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "host/fetch.h"
#include "lib/lib.h"

#define E_FETCH "E_WORKLOAD_FETCH: "
#define E_SIZE "E_WORKLOAD_SIZE: "
#define E_DIGEST "E_WORKLOAD_DIGEST: "
#define E_UPLOAD "E_UPLOAD: "
#define BACKOFF_MAX_MS 30000u
#define MAX_REDIRECTS 3

volatile sig_atomic_t fetch_stop;
const char *fetch_cainfo;

void fetch_url_shown(const char *url, char *out, size_t cap)
{
	size_t n = strcspn(url, "?#");

	snprintf(out, cap, "%.*s%s", (int)n, url, url[n] ? "?..." : "");
}

/* Sleeps ms, waking for fetch_stop; false when stopped. */
/*
 * An HTTP error that the same request will meet again (RFC 9110): every
 * 4xx but 408 Request Timeout, 425 Too Early and 429 Too Many Requests, and
 * 501 Not Implemented and 505 HTTP Version Not Supported. Not retried.
 */
static bool http_permanent(long code)
{
	if (code >= 400 && code < 500)
		return code != 408 && code != 425 && code != 429;
	return code == 501 || code == 505;
}

static bool nap(unsigned ms)
{
	while (ms && !fetch_stop) {
		unsigned s = ms > 100 ? 100 : ms;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)s * 1000000 };

		nanosleep(&ts, NULL);
		ms -= s;
	}
	return !fetch_stop;
}

static unsigned next_backoff(unsigned ms)
{
	return ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : ms * 2;
}

static int stop_check(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		      curl_off_t ulnow);

static void easy_freep(CURL **c)
{
	if (*c)
		curl_easy_cleanup(*c);
}

/*
 * One transfer's handle: http and https only, no signals, no proxy (the
 * environment's http_proxy and friends are not asked: a proxy would see
 * and steer the transfer), a stalled transfer (under 1 byte/s for a
 * minute) ends as an error, fetch_stop ends it at once (stop_check, with
 * progress as its context).
 */
static CURL *easy_new(const char *url, char *errbuf, void *progress)
{
	CURL *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c = curl_easy_init()))
		return NULL;
	errbuf[0] = 0;
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    (fetch_cainfo && curl_easy_setopt(c, CURLOPT_CAINFO, fetch_cainfo) != CURLE_OK) ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "cvm-run") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_check) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_XFERINFODATA, progress) != CURLE_OK) {
		curl_easy_cleanup(c);
		return NULL;
	}
	return c;
}

/* What went wrong in one attempt: libcurl's words when it has some. */
static const char *curl_why(CURLcode rc, const char *errbuf)
{
	return errbuf[0] ? errbuf : curl_easy_strerror(rc);
}

/* ---- the workload ---- */

struct dl {
	CURL *c;
	int fd;
	uint64_t have, size, asked; /* bytes in the .part file, the order's, this attempt's start */
	int64_t range_start, range_total; /* Content-Range of the answer; -1 when absent or '*' */
	bool started, final, progress, drawn;
	int64_t drawn_at;
	int code;
	char why[256];
	const char *url; /* the order's: the origin redirects must keep */
};

/* Decimal digits, at most 18 of them (no sign, no space): -1 otherwise. */
static int64_t digits(const char **p)
{
	int64_t v = 0;
	int n = 0;

	while (**p >= '0' && **p <= '9' && n < 18)
		v = v * 10 + (*(*p)++ - '0'), n++;
	return n && !(**p >= '0' && **p <= '9') ? v : -1;
}

/* RFC 9110 §14.4: "Content-Range: bytes FIRST-LAST/COMPLETE" (COMPLETE may be '*'). */
static void content_range(struct dl *d, const char *v)
{
	int64_t first, last;

	d->range_start = d->range_total = -1;
	if (strncmp(v, "bytes ", 6))
		return;
	v += 6;
	if ((first = digits(&v)) < 0 || *v++ != '-' || (last = digits(&v)) < first || *v++ != '/')
		return;
	d->range_start = first;
	if (*v != '*')
		d->range_total = digits(&v);
}

static int dl_refuse(struct dl *d, bool final, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void curlu_freep(CURLU **u)
{
	if (*u)
		curl_url_cleanup(*u);
}

/* Scheme, host and port of an absolute URL, or of ref resolved against base. */
static int origin(const char *base, const char *ref, char *out, size_t cap)
{
	_cleanup_(curlu_freep) CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int r = -EINVAL;

	if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    (!ref || curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK) &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		for (char *h = host; *h; h++)
			*h = (char)tolower((unsigned char)*h);
		r = snprintf(out, cap, "%s://%s:%s", scheme, host, port) < (int)cap ? 0 : -EINVAL;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return r;
}

/*
 * A redirect is followed only within the order URL's origin (same scheme,
 * host and port: no other host, no https to http), at most MAX_REDIRECTS
 * times; a Location elsewhere ends the transfer before it is followed.
 */
static int dl_location(struct dl *d, const char *loc)
{
	char *cur = NULL, want[512], got[512];
	long code = 0;

	curl_easy_getinfo(d->c, CURLINFO_RESPONSE_CODE, &code);
	if (code < 300 || code > 399)
		return 0;
	curl_easy_getinfo(d->c, CURLINFO_EFFECTIVE_URL, &cur);
	if (origin(d->url, NULL, want, sizeof(want)) < 0 ||
	    origin(cur ? cur : d->url, loc, got, sizeof(got)) < 0)
		return dl_refuse(d, true, E_FETCH "a redirect to a malformed Location");
	if (!strncmp(want, "https:", 6) && !strncmp(got, "http:", 5))
		return dl_refuse(d, true, E_FETCH "a redirect from https to http (refused)");
	if (strcmp(want, got))
		return dl_refuse(d, true,
				 E_FETCH "a redirect to another origin than %s (refused: only "
					 "the same scheme, host and port)",
				 want);
	return 0;
}

static size_t dl_header(char *p, size_t size, size_t n, void *ctx)
{
	struct dl *d = ctx;
	char line[2048];
	size_t len = size * n;

	if (len < sizeof(line) && len > 9 && !strncasecmp(p, "location:", 9)) {
		memcpy(line, p, len);
		line[len] = 0;
		line[strcspn(line, "\r\n")] = 0;
		if (dl_location(d, line + 9 + strspn(line + 9, " \t")) < 0)
			return 0;
	} else if (len >= sizeof(line) && !strncasecmp(p, "location:", 9)) {
		dl_refuse(d, true, E_FETCH "a redirect with a Location of %zu bytes", len);
		return 0;
	}

	/* each answer (a redirect's too) starts with its status line */
	if (len >= 5 && !strncmp(p, "HTTP/", 5))
		d->range_start = d->range_total = -1;
	if (len < sizeof(line) && len > 14 && !strncasecmp(p, "content-range:", 14)) {
		memcpy(line, p, len);
		line[len] = 0;
		line[strcspn(line, "\r\n")] = 0;
		content_range(d, line + 14 + strspn(line + 14, " \t"));
	}
	return len;
}

static int dl_refuse(struct dl *d, bool final, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	d->final = final;
	return -1;
}

/* The first bytes of an answer: does it continue the .part file, or start it over? */
static int dl_begin(struct dl *d)
{
	curl_off_t len = -1;
	long code = 0;

	curl_easy_getinfo(d->c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(d->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	d->started = true;
	if (code == 206) {
		if (d->range_total >= 0 && (uint64_t)d->range_total != d->size)
			return dl_refuse(d, true,
					 E_SIZE "the server's file is %lld bytes, the order "
						"says %llu",
					 (long long)d->range_total, (unsigned long long)d->size);
		if (d->range_start != (int64_t)d->asked)
			return dl_refuse(d, false, E_FETCH "a partial answer not from byte %llu",
					 (unsigned long long)d->asked);
		return 0;
	}
	/* the whole file: whatever the .part file held goes */
	if (d->have && ftruncate(d->fd, 0) < 0)
		return dl_refuse(d, true, E_FETCH "%s", strerror(errno));
	d->have = 0;
	if (len >= 0 && (uint64_t)len != d->size)
		return dl_refuse(d, true,
				 E_SIZE "the server's file is %lld bytes, the order says %llu",
				 (long long)len, (unsigned long long)d->size);
	return 0;
}

static size_t dl_write(char *p, size_t size, size_t n, void *ctx)
{
	struct dl *d = ctx;
	size_t len = size * n;
	int r;

	if (!d->started && dl_begin(d) < 0)
		return 0;
	if (len > d->size - d->have) {
		dl_refuse(d, true, E_SIZE "the server sends more than the order's %llu bytes",
			  (unsigned long long)d->size);
		return 0;
	}
	if ((r = fd_pwrite_all(d->fd, p, len, d->have)) < 0) {
		dl_refuse(d, true, E_FETCH "writing the .part file: %s", strerror(-r));
		return 0;
	}
	d->have += len;
	return len;
}

static int stop_check(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		      curl_off_t ulnow)
{
	struct dl *d = ctx;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (fetch_stop)
		return 1;
	if (d && d->progress && mono_ms() - d->drawn_at >= 250) {
		fprintf(stderr, "\r%s: workload: %.1f of %.1f MiB ", log_prog(),
			(double)d->have / 1048576, (double)d->size / 1048576);
		d->drawn = true;
		d->drawn_at = mono_ms();
	}
	return 0;
}

/* One GET from d->have on; 0 when the .part file is whole, 1 to try again, <0 final. */
static int dl_attempt(const char *url, struct dl *d, char *err, size_t errlen)
{
	_cleanup_(easy_freep) CURL *c = NULL;
	char errbuf[CURL_ERROR_SIZE], range[32], shown[FETCH_URL_SHOWN_MAX];
	long code = 0;
	CURLcode rc;

	fetch_url_shown(url, shown, sizeof(shown));
	if (!(c = easy_new(url, errbuf, d)))
		return set_error(err, errlen, -ENOMEM, E_FETCH "libcurl cannot start");
	d->c = c;
	d->url = url;
	d->asked = d->have;
	d->started = d->final = false;
	d->why[0] = 0;
	d->range_start = d->range_total = -1;
	snprintf(range, sizeof(range), "%llu-", (unsigned long long)d->asked);
	if (curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
			     strncmp(url, "https:", 6) ? "http" : "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_RANGE, d->asked ? range : NULL) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, dl_header) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, d) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dl_write) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, d) != CURLE_OK)
		return set_error(err, errlen, -ENOMEM, E_FETCH "libcurl cannot be set up");
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	d->code = (int)code;
	if (d->why[0])
		return d->final ? set_error(err, errlen, -EBADMSG, "%s", d->why)
				: (set_error(err, errlen, -EAGAIN, "%s", d->why), 1);
	if (rc == CURLE_ABORTED_BY_CALLBACK && fetch_stop)
		return set_error(err, errlen, -EINTR, E_FETCH "%s: interrupted", shown);
	if (rc == CURLE_OK && d->have == d->size)
		return 0;
	if (rc == CURLE_OK)
		return set_error(err, errlen, -EAGAIN,
				 E_FETCH "%s: the server sent %llu of %llu bytes", shown,
				 (unsigned long long)d->have, (unsigned long long)d->size),
		       1;
	if (rc == CURLE_HTTP_RETURNED_ERROR && code == 416 && ftruncate(d->fd, 0) == 0) {
		/* the .part file is not a prefix of what the server has: start over */
		d->have = 0;
		return set_error(err, errlen, -EAGAIN, E_FETCH "%s: HTTP 416", shown), 1;
	}
	if (rc == CURLE_HTTP_RETURNED_ERROR && http_permanent(code))
		return set_error(err, errlen, -ENOENT, E_FETCH "%s: HTTP %ld", shown, code);
	if (rc == CURLE_HTTP_RETURNED_ERROR)
		return set_error(err, errlen, -EAGAIN, E_FETCH "%s: HTTP %ld", shown, code), 1;
	if (rc == CURLE_TOO_MANY_REDIRECTS)
		return set_error(err, errlen, -ELOOP, E_FETCH "%s: more than %d redirects", shown,
				 MAX_REDIRECTS);
	return set_error(err, errlen, -EAGAIN, E_FETCH "%s: %s", shown, curl_why(rc, errbuf)), 1;
}

/* Does path hold the order's bytes already? */
static bool already_there(const char *path, uint64_t size, const uint8_t sha256[32])
{
	uint8_t d[32];
	struct stat st;
	size_t n;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
	       file_digest(path, "SHA256", d, sizeof(d), &n) == 0 && n == 32 &&
	       !memcmp(d, sha256, 32);
}

static int check_digest(const char *part, const uint8_t sha256[32], char *err, size_t errlen)
{
	uint8_t d[32];
	char got[65], want[65];
	size_t n;
	int r = file_digest(part, "SHA256", d, sizeof(d), &n);

	if (r < 0)
		return set_error(err, errlen, r, E_FETCH "%s: %s", part, strerror(-r));
	if (!memcmp(d, sha256, 32))
		return 0;
	unlink(part);
	hex_encode(d, 32, got);
	hex_encode(sha256, 32, want);
	return set_error(err, errlen, -EBADMSG, E_DIGEST "SHA-256 %s is not the order's %s", got,
			 want);
}

/* The .part file of an earlier attempt: continued, unless it cannot be a prefix of the workload. */
static int open_part(const char *part, uint64_t size, const uint8_t sha256[32], struct dl *d,
		     char *err, size_t errlen)
{
	struct stat st;

	d->fd = open(part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (d->fd < 0 || fstat(d->fd, &st) < 0)
		return set_error(err, errlen, -errno, E_FETCH "%s: %s", part, strerror(errno));
	d->have = (uint64_t)st.st_size;
	if (d->have > size || (d->have == size && !already_there(part, size, sha256))) {
		if (ftruncate(d->fd, 0) < 0)
			return set_error(err, errlen, -errno, E_FETCH "%s: %s", part,
					 strerror(errno));
		d->have = 0;
	}
	return 0;
}

static int dl_loop(const char *url, struct dl *d, unsigned attempts, unsigned backoff_ms,
		   struct fetch_report *rep, char *err, size_t errlen)
{
	int r = 1;

	for (unsigned i = 0; i < attempts && r == 1; i++) {
		if (i && !nap(backoff_ms))
			return set_error(err, errlen, -EINTR, E_FETCH "interrupted");
		if (i)
			backoff_ms = next_backoff(backoff_ms);
		if (i == 0 && d->have)
			rep->resumed_at = d->have;
		rep->attempts++;
		r = d->have == d->size ? 0 : dl_attempt(url, d, err, errlen);
	}
	if (d->drawn)
		fputc('\n', stderr);
	if (r == 1)
		return -EAGAIN; /* err holds the last attempt's reason */
	return r;
}

int fetch_workload(const char *url, const char *path, uint64_t size, const uint8_t sha256[32],
		   unsigned attempts, unsigned backoff_ms, bool progress, struct fetch_report *rep,
		   char *err, size_t errlen)
{
	_cleanup_free_ char *part = NULL;
	struct dl d = { .fd = -1, .size = size, .progress = progress };
	int r;

	*rep = (struct fetch_report){ 0 };
	if (already_there(path, size, sha256)) {
		rep->cached = true;
		return 0;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return set_error(err, errlen, -errno, E_FETCH "%s: %s", path, strerror(errno));
	if (asprintf(&part, "%s.part", path) < 0)
		return set_error(err, errlen, -ENOMEM, E_FETCH "out of memory");
	if ((r = open_part(part, size, sha256, &d, err, errlen)) == 0)
		r = dl_loop(url, &d, attempts ? attempts : 1, backoff_ms, rep, err, errlen);
	if (r == 0 && fsync(d.fd) < 0)
		r = set_error(err, errlen, -errno, E_FETCH "%s: %s", part, strerror(errno));
	if (d.fd >= 0)
		close(d.fd);
	if (r == -EBADMSG && !strncmp(err, E_SIZE, strlen(E_SIZE)))
		unlink(part); /* what the server has is not the order's: nothing to continue */
	if (r < 0)
		return r;
	if ((r = check_digest(part, sha256, err, errlen)) < 0)
		return r;
	if (rename(part, path) < 0)
		return set_error(err, errlen, -errno, E_FETCH "%s: %s", path, strerror(errno));
	return 0;
}

/* ---- the result ---- */

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p, (void)ctx;
	return size * n;
}

static void slist_freep(struct curl_slist **l)
{
	curl_slist_free_all(*l);
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* One PUT: 0 stored, 1 to try again, <0 final. */
static int put_attempt(const char *url, const char *path, struct upload_report *rep, char *err,
		       size_t errlen)
{
	_cleanup_(easy_freep) CURL *c = NULL;
	_cleanup_(slist_freep) struct curl_slist *h = NULL;
	_cleanup_(fclosep) FILE *f = fopen(path, "rbe");
	char errbuf[CURL_ERROR_SIZE], shown[FETCH_URL_SHOWN_MAX];
	struct stat st;
	long code = 0;
	CURLcode rc;

	fetch_url_shown(url, shown, sizeof(shown));
	if (!f || fstat(fileno(f), &st) < 0)
		return set_error(err, errlen, -errno, E_UPLOAD "%s: %s", path, strerror(errno));
	/* no "Expect: 100-continue": a server that never answers it costs a second a try */
	h = curl_slist_append(NULL, "Expect:");
	if (!h || !(h = curl_slist_append(h, "Content-Type: application/octet-stream")) ||
	    !(c = easy_new(url, errbuf, NULL)) ||
	    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_READDATA, f) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK)
		return set_error(err, errlen, -ENOMEM, E_UPLOAD "libcurl cannot be set up");
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	rep->http_status = code;
	if (rc == CURLE_ABORTED_BY_CALLBACK && fetch_stop)
		return set_error(err, errlen, -EINTR, E_UPLOAD "%s: interrupted", shown);
	if (rc != CURLE_OK)
		return set_error(err, errlen, -EAGAIN, E_UPLOAD "%s: %s", shown,
				 curl_why(rc, errbuf)),
		       1;
	if (code >= 200 && code < 300)
		return 0;
	if (code >= 400 && !http_permanent(code))
		return set_error(err, errlen, -EAGAIN, E_UPLOAD "%s: HTTP %ld", shown, code), 1;
	return set_error(err, errlen, -EPROTO, E_UPLOAD "%s: HTTP %ld%s", shown, code,
			 code >= 300 && code < 400 ? " (redirects are not followed)" : "");
}

int upload_file(const char *url, const char *path, unsigned attempts, unsigned backoff_ms,
		struct upload_report *rep, char *err, size_t errlen)
{
	int r = 1;

	*rep = (struct upload_report){ 0 };
	for (unsigned i = 0; i < (attempts ? attempts : 1) && r == 1; i++) {
		if (i && !nap(backoff_ms))
			return set_error(err, errlen, -EINTR, E_UPLOAD "interrupted");
		if (i)
			backoff_ms = next_backoff(backoff_ms);
		rep->attempts++;
		r = put_attempt(url, path, rep, err, errlen);
	}
	rep->ok = r == 0;
	return r == 1 ? -EAGAIN : r;
}
