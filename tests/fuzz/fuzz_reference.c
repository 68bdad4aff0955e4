/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: reference values JSON. */
#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reference ref;
	char err[256];

	reference_parse((const char *)data, size, &ref, err, sizeof(err));
	return 0;
}
