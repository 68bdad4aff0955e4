/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: cvm-agent's configuration. The input is split at the first
 * NUL: agent.json before it, the kernel command line (host-controlled)
 * after it.
 */
#include <string.h>

#include "agent/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t jlen = nul ? (size_t)(nul - data) : size;
	char cmdline[4096] = "";
	struct agent_config c;
	char err[256];

	if (nul) {
		size_t n = size - jlen - 1;

		if (n >= sizeof(cmdline))
			n = sizeof(cmdline) - 1;
		memcpy(cmdline, nul + 1, n);
		cmdline[n] = 0;
	}
	agent_config_parse((const char *)data, jlen, cmdline, &c, err, sizeof(err));
	return 0;
}
