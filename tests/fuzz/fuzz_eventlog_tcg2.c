/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: TCG2 crypto-agile event logs (CCEL, TPM), parse and replay. */
#include <stdlib.h>
#include <string.h>

#include "measurement/measurement.h"

/* boundary values in the length fields (tests/fuzz/len_mutator.h) */
#define LEN_MUTATOR_KIND LEN_TCG2
#include "tests/fuzz/len_mutator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	struct evlog log;
	size_t nbanks;
	char err[256];
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (evlog_parse_tcg2(copy, size, EVLOG_TCG2, &log, err, sizeof(err)) == 0) {
		if (evlog_replay(&log, banks, &nbanks) < 0)
			abort();
		for (size_t i = 0; i < log.n; i++)
			cJSON_Delete(evlog_event_details(&log.events[i]));
		evlog_free(&log);
	}
	free(copy);
	return 0;
}
