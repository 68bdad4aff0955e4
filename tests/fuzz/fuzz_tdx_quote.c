/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: TDX quote parsing (with its certification data) and verification. */
#include "measurement/measurement.h"
#include "tests/fuzz/fuzz_common.h"

#include <string.h>

/* boundary values in the length fields (tests/fuzz/len_mutator.h) */
#define LEN_MUTATOR_KIND LEN_TDX
#include "tests/fuzz/len_mutator.h"

static struct tdx_verifier *tv;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	if (tdx_verifier_new(NULL, NULL, 1780272000, &tv, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_tdx_quote: %s\n", err);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_quote q;
	struct verdict v;
	uint8_t *copy;

	/* An exact-size copy, so that any read past the input is caught. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (tdx_verify(tv, copy, size, NULL, NULL, &q, &v) < 0)
		abort();
	if (v.n && v.results[0].ok)
		cJSON_Delete(tdx_quote_claims(&q));
	free(copy);
	return 0;
}
