/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verification speed against the cryptography it cannot avoid, measured in
 * the same run so that machine noise cancels:
 *   SNP: reports verified per second with the chain cached, against a plain
 *        OpenSSL ECDSA P-384 verify of the same bytes (goal >= 90%);
 *   TDX: quotes verified per second with the PCK chain cached, against the
 *        two ECDSA P-256 verifies every quote needs (goal >= 80%).
 * Rounds of the two loops alternate; each figure is the best round.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>
#include <openssl/pem.h>

#include "lib/lib.h"
#include "tests/bench/bench.h"
#include "measurement/measurement.h"

#define ROUNDS 5
#define ROUND_SECONDS 0.4

typedef int (*bench_fn)(void *ctx);

/* Operations per second of fn over one round. */
static double round_rate(bench_fn fn, void *ctx)
{
	double t0 = now_s(), t;
	long n = 0;

	do {
		for (int i = 0; i < 16; i++) {
			if (fn(ctx) != 0) {
				fprintf(stderr, "bench: operation failed\n");
				exit(1);
			}
		}
		n += 16;
		t = now_s();
	} while (t - t0 < ROUND_SECONDS);
	return (double)n / (t - t0);
}

static void compare(const char *what, bench_fn ours, void *octx, const char *ref_name, bench_fn ref,
		    void *rctx, double goal)
{
	double best_ours = 0, best_ref = 0;

	for (int i = 0; i < ROUNDS; i++) {
		double a = round_rate(ours, octx), b = round_rate(ref, rctx);

		best_ours = a > best_ours ? a : best_ours;
		best_ref = b > best_ref ? b : best_ref;
	}
	printf("%-4s cvm verify %9.0f/s   %-28s %9.0f/s   ratio %5.1f%% (goal >= %.0f%%)\n", what,
	       best_ours, ref_name, best_ref, 100.0 * best_ours / best_ref, goal);
}

static const char *vectors(void)
{
	const char *v = getenv("CVM_VECTORS");

	return v ? v : "tests/vectors";
}

static uint8_t *load(const char *rel, size_t *len)
{
	char path[512];
	uint8_t *buf;

	snprintf(path, sizeof(path), "%s/%s", vectors(), rel);
	if (file_read(path, CVM_CAP_COLLATERAL, &buf, len) < 0) {
		fprintf(stderr, "bench: cannot read %s\n", path);
		exit(2);
	}
	return buf;
}

/* Same DER signature for every iteration, as the verifier builds it. */
struct ecdsa_job {
	EVP_PKEY *key;
	const EVP_MD *md;
	const uint8_t *msg;
	size_t msglen;
	unsigned char der[160];
	size_t derlen;
};

static void ecdsa_job_init(struct ecdsa_job *j, EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg,
			   size_t msglen, const uint8_t *r, const uint8_t *s, size_t n)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	unsigned char *p = j->der;

	ECDSA_SIG_set0(sig, BN_bin2bn(r, (int)n, NULL), BN_bin2bn(s, (int)n, NULL));
	j->derlen = (size_t)i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	j->key = key;
	j->md = md;
	j->msg = msg;
	j->msglen = msglen;
}

static int ecdsa_job_run(struct ecdsa_job *j)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, j->md, NULL, j->key) == 1 &&
		 EVP_DigestVerify(ctx, j->der, j->derlen, j->msg, j->msglen) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* ---- SNP ---- */

struct snp_ctx {
	struct snp_verifier *sv;
	struct snp_certs certs;
	struct snp_reference ref;
	uint8_t *report;
	size_t len;
	struct ecdsa_job p384;
};

static int snp_ours(void *p)
{
	struct snp_ctx *c = p;
	struct snp_report r;
	struct verdict v;

	if (snp_verify(c->sv, c->report, c->len, &c->certs, &c->ref, NULL, &r, &v) < 0)
		return -1;
	return verdict_ok(&v) ? 0 : -1;
}

static int snp_ref(void *p)
{
	return ecdsa_job_run(&((struct snp_ctx *)p)->p384);
}

static void bench_snp(void)
{
	struct snp_ctx c = { 0 };
	struct reference ref;
	char dir[512], err[256];
	uint8_t rbe[48], sbe[48];

	reference_defaults(&ref);
	c.ref = ref.snp;
	c.ref.allow_debug = true; /* the real report's policy has DEBUG */
	/* and its TCB is older than today's Milan floor: no floor, all zeros (docs/verify.md) */
	c.ref.has_min_tcb = true;
	memset(&c.ref.min_tcb, 0, sizeof(c.ref.min_tcb));
	c.report = load("snp/milan/report.bin", &c.len);
	snprintf(dir, sizeof(dir), "%s/snp/milan", vectors());
	if (snp_certs_load_dir(dir, &c.certs, err, sizeof(err)) < 0 ||
	    snp_verifier_new(NULL, 1700000000, &c.sv) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		exit(2);
	}
	for (int i = 0; i < 48; i++) {
		rbe[i] = c.report[0x2A0 + 47 - i];
		sbe[i] = c.report[0x2E8 + 47 - i];
	}
	ecdsa_job_init(&c.p384, X509_get0_pubkey(c.certs.vcek), EVP_sha384(), c.report,
		       SNP_REPORT_SIGNED_SIZE, rbe, sbe, 48);
	if (snp_ours(&c) != 0 || snp_ref(&c) != 0) {
		fprintf(stderr, "bench: the SNP vector does not verify\n");
		exit(1);
	}
	compare("SNP", snp_ours, &c, "OpenSSL P-384 verify", snp_ref, &c, 90);
	snp_verifier_free(c.sv);
	snp_certs_free(&c.certs);
	free(c.report);
}

/* ---- TDX ---- */

struct tdx_ctx {
	struct tdx_verifier *tv;
	struct tdx_reference ref;
	uint8_t *quote;
	size_t len;
	struct ecdsa_job quote_sig, qe_sig;
};

static int tdx_ours(void *p)
{
	struct tdx_ctx *c = p;
	struct tdx_quote q;
	struct verdict v;

	if (tdx_verify(c->tv, c->quote, c->len, &c->ref, NULL, &q, &v) < 0)
		return -1;
	return verdict_ok(&v) ? 0 : -1;
}

static int tdx_ref(void *p)
{
	struct tdx_ctx *c = p;

	return ecdsa_job_run(&c->quote_sig) | ecdsa_job_run(&c->qe_sig);
}

static void bench_tdx(void)
{
	struct tdx_ctx c = { 0 };
	struct reference ref;
	struct tdx_quote q;
	struct verdict v;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *ak = NULL;
	char err[256];

	reference_defaults(&ref);
	c.ref = ref.tdx;
	c.ref.allow_sept_ve =
		true; /* the real quote's TD lacks SEPT_VE_DISABLE (docs/tdx-verify.md) */
	c.quote = load("tdx/spr-prod-quote-v4.bin", &c.len);
	verdict_init(&v, PLATFORM_TDX);
	if (tdx_quote_parse(c.quote, c.len, &q, &v) < 0 ||
	    x509_load_pem_chain(q.pck_chain_pem.p, q.pck_chain_pem.len, &chain) < 0 ||
	    p256_key_from_xy(q.attestation_key, &ak) < 0 ||
	    tdx_verifier_new(NULL, NULL, 1700000000, &c.tv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: cannot set up the TDX quote\n");
		exit(2);
	}
	ecdsa_job_init(&c.quote_sig, ak, EVP_sha256(), q.signed_region.p, q.signed_region.len,
		       q.signature, q.signature + 32, 32);
	ecdsa_job_init(&c.qe_sig, X509_get0_pubkey(sk_X509_value(chain, 0)), EVP_sha256(),
		       q.qe_report_raw, SGX_REPORT_BODY_SIZE, q.qe_report_signature,
		       q.qe_report_signature + 32, 32);
	if (tdx_ours(&c) != 0 || tdx_ref(&c) != 0) {
		fprintf(stderr, "bench: the TDX vector does not verify\n");
		exit(1);
	}
	compare("TDX", tdx_ours, &c, "2 x OpenSSL P-256 verify", tdx_ref, &c, 80);
	tdx_verifier_free(c.tv);
	EVP_PKEY_free(ak);
	sk_X509_pop_free(chain, X509_free);
	free(c.quote);
}

int main(void)
{
	bench_snp();
	bench_tdx();
	return 0;
}
