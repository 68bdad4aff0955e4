/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP for the provider's controller (host/fetch.c): the order's workload
 * download and the sealed result's upload, over libcurl, http:// and
 * https:// only. Everything a server sends is hostile: sizes are capped by
 * the order, the workload is checked against the order's SHA-256. No proxy
 * is used (the environment's http_proxy, https_proxy, all_proxy are not
 * read).
 */
#ifndef CVM_HOST_FETCH_H
#define CVM_HOST_FETCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Set (by a signal handler) to stop a transfer or a wait between attempts. */
extern volatile sig_atomic_t fetch_stop;
/* The CA certificates to trust for https (PEM file); NULL: the system's. */
extern const char *fetch_cainfo;

/* A URL as it may be shown: without its query, which may hold a credential. */
#define FETCH_URL_SHOWN_MAX 2064
void fetch_url_shown(const char *url, char *out, size_t cap);

struct fetch_report {
	bool cached;	     /* path already held the order's bytes */
	uint64_t resumed_at; /* bytes of an earlier .part file the server continued from */
	unsigned attempts;
};

/*
 * Makes path hold the order's workload: size bytes whose SHA-256 is sha256.
 * A path that already does is kept. Otherwise the bytes go into
 * "<path>.part", continued with a Range request from where an earlier
 * attempt stopped (a server answering 200 starts it over), up to attempts
 * times with a doubling backoff from backoff_ms; more than size bytes is
 * refused at once. Redirects are followed only within the URL's origin
 * (scheme, host and port), at most 3 times; a Location elsewhere, or from
 * https to http, is refused before it is followed. The digest is checked over the whole file, then it is
 * renamed to path. progress: a line on stderr, redrawn (for a terminal).
 * Errors in err: "E_WORKLOAD_FETCH: ...", "E_WORKLOAD_SIZE: ...",
 * "E_WORKLOAD_DIGEST: ..." (the .part file is removed), -EINTR on
 * fetch_stop (the .part file is kept, to be continued).
 */
int fetch_workload(const char *url, const char *path, uint64_t size, const uint8_t sha256[32],
		   unsigned attempts, unsigned backoff_ms, bool progress, struct fetch_report *rep,
		   char *err, size_t errlen);

struct upload_report {
	unsigned attempts;
	long http_status; /* of the last attempt; 0 when no answer came */
	bool ok;
};

/*
 * PUTs the file at path to url, up to attempts times with a doubling
 * backoff from backoff_ms, until a 2xx answer. A 4xx answer other than
 * 408 and 429 is final. Redirects are not followed. "E_UPLOAD: ..." in err;
 * -EINTR on fetch_stop.
 */
int upload_file(const char *url, const char *path, unsigned attempts, unsigned backoff_ms,
		struct upload_report *rep, char *err, size_t errlen);

#endif
