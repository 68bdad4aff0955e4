/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: TDVF metadata through the footer table, then MRTD over it. */
#include <stdlib.h>
#include <string.h>

#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdvf t;
	uint8_t *copy, mrtd[48];
	size_t len;
	char err[256];

	if (size > 64 * 4096)
		return 0;
	len = size ? (size + 4095) & ~(size_t)4095 : 4096;
	copy = calloc(1, len);
	if (!copy)
		return 0;
	memcpy(copy + len - size, data, size);
	if (tdvf_parse(copy, len, &t, err, sizeof(err)) == 0)
		tdx_mrtd(&t, false, mrtd);
	free(copy);
	return 0;
}
