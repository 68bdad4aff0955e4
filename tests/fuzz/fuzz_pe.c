/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: PE/COFF headers and the Authenticode digest over them. */
#include <stdlib.h>
#include <string.h>

#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[64], *copy = malloc(size ? size : 1);
	size_t n;
	char err[256];

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	pe_authenticode(copy, size, "SHA384", out, &n, err, sizeof(err));
	free(copy);
	return 0;
}
