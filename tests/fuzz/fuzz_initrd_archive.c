/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: reading initramfs archives (what cvm initrd list and diff do). */
#include "initrd/initrd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct initrd_items it;
	char err[512];

	if (initrd_read_memory(data, size, &it, err, sizeof(err)) == 0)
		initrd_items_free(&it);
	return 0;
}
