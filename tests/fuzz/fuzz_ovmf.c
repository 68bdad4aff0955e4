/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: OVMF footer table and SEV metadata, then an SNP digest over them. */
#include <stdlib.h>
#include <string.h>

#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sev_measure_params p = { .mode = SEV_MODE_SNP,
					.vcpus = 2,
					.vcpu_sig = 0x800f12,
					.guest_features = 1,
					.has_kernel = true };
	struct ovmf o;
	uint8_t *copy, out[48];
	size_t len, outlen;
	char err[256];

	/* Whole pages only: round the input up, so that the tail is where the table is. */
	if (size > 64 * 4096)
		return 0;
	len = (size + 4095) & ~(size_t)4095;
	if (len == 0)
		len = 4096;
	copy = calloc(1, len);
	if (!copy)
		return 0;
	memcpy(copy + len - size, data, size);
	if (ovmf_parse(copy, len, &o, err, sizeof(err)) == 0) {
		p.ovmf = &o;
		sev_launch_digest(&p, out, &outlen, err, sizeof(err));
		p.mode = SEV_MODE_SEV_ES;
		sev_launch_digest(&p, out, &outlen, err, sizeof(err));
	}
	free(copy);
	return 0;
}
