/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the HCL report the az backend reads from the vTPM's NV index
 * 0x01400001 (agent/tee_az.c): its header and bounds, then the runtime
 * data JSON's user-data against a report_data the input's first byte fills.
 * The parsed runtime data must lie inside the input.
 */
#include <stdlib.h>

/* the parser is static: the unit under test is compiled in */
#include "agent/tee_az.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t rd[64] = { 0 };
	struct hcl h;
	char err[256];

	if (size < 1)
		return 0;
	memset(rd, data[0], 48);
	if (hcl_parse(data + 1, size - 1, &h, err, sizeof(err)) < 0)
		return 0;
	if (h.var.p < data + 1 || h.var.len > size - 1 ||
	    (size_t)(h.var.p - (data + 1)) > size - 1 - h.var.len)
		abort();
	hcl_carries(&h, rd);
	return 0;
}
