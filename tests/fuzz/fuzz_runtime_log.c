/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: cvm's runtime event log, parsed, replayed and checked against either register. */
#include <errno.h>
#include <stdlib.h>

#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t luks[32] = { 0x1c };
	struct runtime_log log;
	struct verdict v;
	char err[256];

	if (runtime_log_parse((const char *)data, size, &log, err, sizeof(err)) == 0) {
		if (log.n != log.n_rtmr3 + log.n_pcr15 || log.n > RUNTIME_MAX_EVENTS)
			abort();
		/* a log that parses replays to its own registers */
		verdict_init(&v, PLATFORM_TDX);
		if (runtime_log_check((const char *)data, size, PLATFORM_TDX, log.rtmr3, NULL,
				      &v) != 0)
			abort();
		verdict_init(&v, PLATFORM_TPM);
		if (runtime_log_check((const char *)data, size, PLATFORM_TPM, log.pcr15_sha256,
				      luks, &v) == -ENOMEM)
			abort();
		runtime_log_free(&log);
	} else if (log.events || log.n) {
		abort(); /* a refused log leaves nothing behind */
	}
	return 0;
}
