/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the sim TEE's launch file (agent/tee_sim.c), which a test
 * guest reads from the host's fw_cfg. The first byte picks the platform
 * (even: TDX, odd: SNP); the rest is the file.
 */
#include "agent/tee_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_launch l;
	char err[256];

	if (size < 1)
		return 0;
	sim_launch_parse((const char *)data + 1, size - 1, !(data[0] & 1), &l, err, sizeof(err));
	return 0;
}
