/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a file of an image as cvm initrd tcb reads it
 * (host/initrd_tcb.c): the ELF facts (PT_INTERP, DT_NEEDED and DT_SONAME,
 * .modinfo, .cvm-static) of any bytes, then the reasons computed over two
 * entries that hold them. Every string it keeps must be NUL-terminated
 * inside its field.
 */
#include <stdlib.h>
#include <string.h>

#include "host/initrd_tcb.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct initrd_item items[2] = { { .name = "/lib/x.so", .mode = S_IFREG | 0644 },
					{ .name = "/lib/modules/k/y.ko", .mode = S_IFREG | 0644 } };
	struct tcb_ent t[2] = { { .it = &items[0] }, { .it = &items[1] } };
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	if (elf_version(EV_CURRENT) == EV_NONE)
		abort();
	memcpy(copy, data, size);
	elf_facts(&t[0], copy, size);
	memcpy(copy, data, size);
	elf_facts(&t[1], copy, size);
	for (size_t i = 0; i < 2; i++) {
		reason(t, 2, &t[i]);
		if (strnlen(t[i].why, sizeof(t[i].why)) == sizeof(t[i].why) ||
		    strnlen(t[i].soname, sizeof(t[i].soname)) == sizeof(t[i].soname) ||
		    strnlen(t[i].moddeps, sizeof(t[i].moddeps)) == sizeof(t[i].moddeps) ||
		    t[i].nneeded > TCB_MAX_NEEDED)
			abort();
	}
	free(copy);
	return 0;
}
