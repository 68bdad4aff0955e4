/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a key broker resource's policy. A policy that parses leaves no
 * launch register of a platform it accepts unpinned; refusals are one line.
 */
#include <stdlib.h>
#include <string.h>

#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum cvm_platform all[] = { PLATFORM_TDX, PLATFORM_SNP, PLATFORM_TPM };
	struct kbs_policy p;
	char err[256] = "";

	if (kbs_policy_parse((const char *)data, size, &p, err, sizeof(err)) < 0) {
		if (!err[0] || strchr(err, '\n'))
			abort();
		return 0;
	}
	for (size_t i = 0; !p.has_image && i < ARRAY_SIZE(all); i++)
		for (size_t k = 0; k < p.ncands[all[i]]; k++)
			if (reference_complete(&p.cands[all[i]][k], all[i], err, sizeof(err)) < 0)
				abort();
	kbs_policy_free(&p);
	return 0;
}
