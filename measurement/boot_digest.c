/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A direct boot through OVMF (QEMU -kernel, -initrd, -append): the kernel as
 * QEMU hands it to OVMF and the LoadOptions OVMF gives it, and the digests
 * that OVMF and the kernel's EFI stub measure of them, in any bank. Sources:
 * QEMU hw/i386/x86.c (7.2; x86-common.c later), x86_load_linux, for the
 * setup-header patch; OVMF X86QemuLoadImageLib, QemuLoadKernelImage, for the
 * LoadOptions; Linux drivers/firmware/efi/libstub (6.1) for the tagged
 * events. Checked against the TCG2 logs of real vTPM boots
 * (tests/data/measure/ovmf-vtpm).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "measurement/measurement.h"

#define fail(err, errlen, ...) set_error(err, errlen, -EINVAL, __VA_ARGS__)

#define EV_EVENT_TAG 0x6

/* QEMU places the initrd below this much low memory when the guest has at least as much. */
#define HIGH_MEM_THRESHOLD 0xB0000000ull

/* Linux x86 boot protocol (Documentation/arch/x86/boot.rst) offsets. */
static int patch_kernel(uint8_t *k, size_t len, uint32_t initrd_size, uint64_t memory,
			uint32_t acpi, char *err, size_t errlen)
{
	uint16_t protocol;
	uint32_t real_addr, cmdline_addr;

	if (len < 0x1000)
		return fail(err, errlen, "kernel image too short for an x86 setup header");
	protocol = le16(k + 0x206);
	if (protocol < 0x200 || !(k[0x211] & 0x01)) {
		real_addr = 0x90000;
		cmdline_addr = 0x9a000;
	} else {
		real_addr = 0x10000;
		cmdline_addr = 0x20000;
	}
	if (protocol >= 0x200)
		k[0x210] = 0xb0; /* type_of_loader: QEMU */
	if (protocol >= 0x201) {
		k[0x211] |= 0x80; /* CAN_USE_HEAP */
		put_le(k + 0x224, cmdline_addr - real_addr - 0x200, 4);
	}
	if (protocol >= 0x202) {
		put_le(k + 0x228, cmdline_addr, 4);
	} else {
		put_le(k + 0x20, 0xa33f, 2);
		put_le(k + 0x22, cmdline_addr - real_addr, 2);
	}
	if (initrd_size) {
		uint32_t initrd_max, below_4g;
		uint64_t lowmem = memory < HIGH_MEM_THRESHOLD ? HIGH_MEM_THRESHOLD : 0x80000000ull;

		if (protocol < 0x200)
			return fail(err, errlen, "kernel boot protocol too old for an initrd");
		if (protocol >= 0x20c && (le16(k + 0x236) & 0x40))
			initrd_max = UINT32_MAX; /* XLF_CAN_BE_LOADED_ABOVE_4G */
		else if (protocol >= 0x203 && le32(k + 0x22c))
			initrd_max = le32(k + 0x22c);
		else
			initrd_max = 0x37ffffff;
		below_4g = (uint32_t)(memory >= lowmem ? lowmem : memory);
		if (acpi >= below_4g)
			return fail(err, errlen, "ACPI data do not fit the guest memory");
		if (initrd_max >= below_4g - acpi)
			initrd_max = below_4g - acpi - 1;
		if (initrd_size >= initrd_max)
			return fail(err, errlen, "initrd too large for the guest memory");
		put_le(k + 0x218, (initrd_max - initrd_size) & ~4095u, 4);
		put_le(k + 0x21c, initrd_size, 4);
	}
	return 0;
}

static void md_ctx_freep(EVP_MD_CTX **c)
{
	EVP_MD_CTX_free(*c);
}

int boot_kernel_digest(const EVP_MD *md, const uint8_t *kernel, size_t len, uint32_t initrd_size,
		       uint64_t memory, uint32_t acpi_data_size, uint8_t *out, char *err,
		       size_t errlen)
{
	static const uint8_t zeros[8];
	_cleanup_free_ uint8_t *k = NULL;
	_cleanup_(md_ctx_freep) EVP_MD_CTX *c = NULL;
	int r;

	if (len > (1u << 30))
		return fail(err, errlen, "kernel image larger than 1 GiB");
	k = malloc(len ? len : 1);
	c = EVP_MD_CTX_new();
	if (!k || !c || EVP_DigestInit_ex(c, md, NULL) != 1)
		return -ENOMEM;
	memcpy(k, kernel, len);
	r = patch_kernel(k, len, initrd_size, memory, acpi_data_size, err, errlen);
	if (r < 0)
		return r;
	r = pe_authenticode_update(c, k, len, err, errlen);
	if (r < 0)
		return r;
	/* OVMF's copy of the image is rounded up to 8 bytes with zeros, which it hashes too. */
	if (len % 8 && EVP_DigestUpdate(c, zeros, 8 - len % 8) != 1)
		return -ENOMEM;
	return EVP_DigestFinal_ex(c, out, NULL) == 1 ? 0 : -ENOMEM;
}

int boot_load_options_digest(const EVP_MD *md, const char *cmdline, bool initrd, uint8_t *out)
{
	static const char suffix[] = " initrd=initrd";
	size_t n = strlen(cmdline), total = n + (initrd ? strlen(suffix) : 0), o = 0;
	_cleanup_free_ uint8_t *u = NULL;

	if (total == 0)
		return 0; /* OVMF passes no LoadOptions, and the stub measures none */
	u = malloc(2 * total + 2);
	if (!u)
		return -ENOMEM;
	/*
	 * UnicodeSPrintAsciiFormat("%a%a"): every byte becomes one UTF-16 code
	 * unit, so a UTF-8 command line is measured byte by byte, not decoded.
	 */
	for (size_t i = 0; i < n; i++, o += 2)
		put_le(u + o, (uint8_t)cmdline[i], 2);
	for (size_t i = 0; initrd && suffix[i]; i++, o += 2)
		put_le(u + o, (uint8_t)suffix[i], 2);
	put_le(u + o, 0, 2); /* the terminator is measured too */
	o += 2;
	if (EVP_Digest(u, o, out, NULL, md, NULL) != 1)
		return -ENOMEM;
	return 1;
}

/* TCG_PCClientTaggedEvent: taggedEventID, taggedEventDataSize, data. */
bool boot_tagged_event_is(const struct evlog_event *e, const char *text)
{
	size_t n = strlen(text) + 1;

	return e->type == EV_EVENT_TAG && e->data.len >= 8 && le32(e->data.p + 4) == n &&
	       e->data.len - 8 >= n && memcmp(e->data.p + 8, text, n) == 0;
}
