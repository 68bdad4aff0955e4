/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the libFuzzer targets: where the vectors are. */
#ifndef CVM_FUZZ_COMMON_H
#define CVM_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

static inline const char *fuzz_vectors(void)
{
	const char *v = getenv("CVM_VECTORS");

	return v ? v : "tests/vectors";
}

#endif
