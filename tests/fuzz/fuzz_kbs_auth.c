/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the broker's /auth request. */
#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cvm_platform tee;
	const char *problem;
	char err[256];

	kbs_auth_request_parse((const char *)data, size, &tee, &problem, err, sizeof(err));
	return 0;
}
