/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The workload download of cvm run (host/fetch.c), on its own, for the
 * tests that make a hostile file server answer it:
 *   fetch_tool URL OUT SIZE SHA256_HEX [CA.pem [ATTEMPTS]]
 * One attempt unless ATTEMPTS says (10 ms between them); CA.pem is
 * trusted for https instead of the system's store ("-" for none).
 *   fetch_tool --upload URL FILE [ATTEMPTS]
 * The result upload of cvm run (HTTP PUT), on its own.
 * Prints the refusal's one line on stderr. Exit 0 fetched, 1 refused, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* host/ is not in a library: the code under test, compiled in */
#include "host/fetch.c"

int main(int argc, char **argv)
{
	struct fetch_report rep;
	uint8_t sha[32];
	char err[512], *end;
	unsigned long long size;

	unsigned attempts = 1;

	if (argc >= 4 && argc <= 5 && !strcmp(argv[1], "--upload")) {
		struct upload_report up;

		if (argc == 5)
			attempts = (unsigned)strtoul(argv[4], NULL, 10);
		if (upload_file(argv[2], argv[3], attempts, 10, &up, err, sizeof(err)) < 0) {
			fprintf(stderr, "fetch_tool: %s\n", err);
			return 1;
		}
		printf("HTTP %ld\n", up.http_status);
		return 0;
	}
	if (argc < 5 || argc > 7 || hex_decode_exact(argv[4], sha, sizeof(sha)) < 0) {
		fputs("usage: fetch_tool URL OUT SIZE SHA256_HEX [CA.pem [ATTEMPTS]]\n", stderr);
		return 2;
	}
	size = strtoull(argv[3], &end, 10);
	if (*end || !*argv[3] || argv[3][0] == '-') {
		fputs("fetch_tool: SIZE is a number of bytes\n", stderr);
		return 2;
	}
	if (argc >= 6 && strcmp(argv[5], "-"))
		fetch_cainfo = argv[5];
	if (argc == 7)
		attempts = (unsigned)strtoul(argv[6], NULL, 10);
	if (fetch_workload(argv[1], argv[2], size, sha, attempts, 10, false, &rep, err,
			   sizeof(err)) < 0) {
		fprintf(stderr, "fetch_tool: %s\n", err);
		return 1;
	}
	return 0;
}
