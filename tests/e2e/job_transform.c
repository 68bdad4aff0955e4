/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The end-to-end test's job, run by cvm-agent inside the guest from the
 * workload volume: for each input file, writes NAME.sha256 (its SHA-256 in
 * hex) and NAME.upper (the bytes with ASCII letters upper-cased) into
 * $CVM_OUTPUT, and a line per file on stdout. With --hang first, it then
 * sleeps until killed (the deadline test).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

static int transform(const char *in, const char *outdir)
{
	char path[4096], hex[65];
	const char *base = strrchr(in, '/') ? strrchr(in, '/') + 1 : in;
	unsigned char buf[65536], d[32];
	unsigned dl = 0;
	size_t n, total = 0;
	FILE *f = fopen(in, "rb"), *up, *dg;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	snprintf(path, sizeof(path), "%s/%s.upper", outdir, base);
	up = fopen(path, "wb");
	if (!f || !up || !c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		perror(in);
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		EVP_DigestUpdate(c, buf, n);
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)toupper(buf[i]);
		if (fwrite(buf, 1, n, up) != n)
			return 1;
		total += n;
	}
	EVP_DigestFinal_ex(c, d, &dl);
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < dl; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	snprintf(path, sizeof(path), "%s/%s.sha256", outdir, base);
	dg = fopen(path, "wb");
	if (!dg || fprintf(dg, "%s\n", hex) < 0 || fclose(dg) || fclose(up) || ferror(f))
		return 1;
	fclose(f);
	printf("%s: %zu bytes, sha256 %s\n", in, total, hex);
	return 0;
}

int main(int argc, char **argv)
{
	const char *out = getenv("CVM_OUTPUT");
	int i = 1, r = 0;
	bool hang = argc > 1 && !strcmp(argv[1], "--hang");

	if (!out) {
		fprintf(stderr, "CVM_OUTPUT is not set\n");
		return 2;
	}
	for (i += hang; i < argc; i++)
		r |= transform(argv[i], out);
	fflush(stdout);
	fprintf(stderr, "done, status %d\n", r);
	if (hang)
		for (;;)
			pause();
	return r;
}
