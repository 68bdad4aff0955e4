/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: SEV-SNP report parsing and verification against the real Milan chain. */
#include "measurement/measurement.h"
#include "tests/fuzz/fuzz_common.h"

/* boundary values in the length fields (tests/fuzz/len_mutator.h) */
#define LEN_MUTATOR_KIND LEN_SNP
#include "tests/fuzz/len_mutator.h"

static struct snp_verifier *sv;
static struct snp_certs certs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[512], err[256];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/snp/milan", fuzz_vectors());
	if (snp_certs_load_dir(dir, &certs, err, sizeof(err)) < 0 ||
	    snp_verifier_new(NULL, 1704067200, &sv) < 0) {
		fprintf(stderr, "fuzz_snp_report: %s\n", err);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reference ref;
	struct snp_report r;
	struct verdict v;
	cJSON *claims;

	reference_defaults(&ref);
	ref.snp.allow_debug = true;
	if (snp_verify(sv, data, size, &certs, &ref.snp, NULL, &r, &v) < 0)
		abort();
	/* Anything but the one genuine report must be refused. */
	if (verdict_ok(&v) && (size != SNP_REPORT_SIZE || r.version != 2))
		abort();
	if (v.n && v.results[0].ok) {
		claims = snp_report_claims(&r);
		cJSON_Delete(claims);
	}
	return 0;
}
