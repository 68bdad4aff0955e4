/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: a key broker resource's policy. */
#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kbs_policy p;
	char err[256];

	kbs_policy_parse((const char *)data, size, &p, err, sizeof(err));
	return 0;
}
