/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the initramfs list parser (sources resolve under a directory that does not exist). */
#include "initrd/initrd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct initrd_list l;
	char err[512];

	if (initrd_list_parse((const char *)data, size, "/nonexistent-cvm-fuzz", NULL, &l, err,
			      sizeof(err)) == 0) {
		initrd_list_finish(&l, err, sizeof(err));
		initrd_list_free(&l);
	}
	return 0;
}
