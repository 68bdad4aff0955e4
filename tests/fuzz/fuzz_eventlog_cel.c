/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: CEL-JSON event logs, parse and replay. */
#include <stdlib.h>

#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	struct evlog log;
	size_t nbanks;
	char err[256];

	if (evlog_parse_cel_json((const char *)data, size, &log, err, sizeof(err)) == 0) {
		if (evlog_replay(&log, banks, &nbanks) < 0)
			abort();
		evlog_free(&log);
	}
	return 0;
}
