/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a TDX collateral directory as a host or a collateral server
 * hands it over. The input is tcbinfo.json, a NUL byte, qe-identity.json;
 * Intel's real TCB signing chain and CRLs (tests/data/tdx/collateral) sit
 * beside them. Each input is loaded and checked as `cvm collateral fetch`
 * checks a set before installing it (tdx_collateral_validate: the signed
 * member's raw text, JSON, dates, signatures), then used to verify a real
 * quote (tdx_verifier_new, tdx_verify: TCB levels, QE identity).
 */
#include <ftw.h>
#include <unistd.h>

#include "measurement/measurement.h"
#include "tests/fuzz/fuzz_common.h"

static char dir[64];
static uint8_t *quote;
static size_t quote_len;
static const uint8_t fmspc[6] = { 0x50, 0x80, 0x6f, 0x00, 0x00, 0x00 };

static int put(const char *name, const uint8_t *p, size_t n)
{
	char path[128];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")))
		return -1;
	r = fwrite(p, 1, n, f) == n ? 0 : -1;
	return fclose(f) == 0 ? r : -1;
}

static int copy(const char *from_dir, const char *name)
{
	char path[4096];
	uint8_t *p = NULL;
	size_t n = 0;
	int r;

	snprintf(path, sizeof(path), "%s/%s", from_dir, name);
	if (file_read(path, 1 << 20, &p, &n) < 0)
		return -1;
	r = put(name, p, n);
	free(p);
	return r;
}

static int rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	nftw(dir, rm, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char data[4096], path[4096];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/fuzz-collateral.XXXXXX");
	snprintf(data, sizeof(data), "%s/../data/tdx/collateral", fuzz_vectors());
	snprintf(path, sizeof(path), "%s/tdx/spr-prod-quote-v4.bin", fuzz_vectors());
	if (!mkdtemp(dir) || copy(data, "tcb-signing-chain.pem") < 0 || copy(data, "pckcrl") < 0 ||
	    copy(data, "rootcrl.der") < 0 || file_read(path, 1 << 20, &quote, &quote_len) < 0) {
		fprintf(stderr, "fuzz_tdx_collateral: cannot set up %s from %s\n", dir, data);
		abort();
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t tcb_len = nul ? (size_t)(nul - data) : size;
	struct tdx_verifier *tv = NULL;
	struct tdx_quote q;
	struct verdict v;
	char err[256];

	if (put("tcbinfo.json", data, tcb_len) < 0 ||
	    put("qe-identity.json", nul ? nul + 1 : data, nul ? size - tcb_len - 1 : 0) < 0)
		abort();
	/* 2023-06-20: inside the real collateral's validity, as tests/cli/test_verify.sh */
	tdx_collateral_validate(dir, NULL, fmspc, 1687219200, err, sizeof(err));
	if (tdx_verifier_new(NULL, dir, 1687219200, &tv, err, sizeof(err)) == 0) {
		if (tdx_verify(tv, quote, quote_len, NULL, NULL, &q, &v) < 0)
			abort();
		tdx_verifier_free(tv);
	}
	return 0;
}
