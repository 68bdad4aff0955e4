/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX RTMR1 and RTMR2 of a direct boot: what OVMF extends for the kernel
 * QEMU passes it, its command line and its initrd. The model follows QEMU
 * (hw/i386/x86-common.c, x86_load_linux: the setup-header patch) and OVMF
 * (QemuKernelLoaderFsDxe and the TCG2 measurement of the loaded image:
 * EV_EFI_BOOT_SERVICES_APPLICATION in RTMR1, EV_EVENT_TAG events
 * "LOADED_IMAGE::LoadOptions" and "Linux initrd" in RTMR2), as dstack-mr
 * describes and checked against hardware; here it is checked against the
 * specification and the event layout of a real CCEL only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "measurement/measurement.h"

#define fail(err, errlen, ...) set_error(err, errlen, -EINVAL, __VA_ARGS__)

#define EV_SEPARATOR 0x4
#define EV_EVENT_TAG 0x6
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003
#define EV_EFI_ACTION 0x80000007

/* QEMU places the initrd below this much low memory when the guest has at least as much. */
#define HIGH_MEM_THRESHOLD 0xB0000000ull

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

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
		put32(k + 0x224, cmdline_addr - real_addr - 0x200);
	}
	if (protocol >= 0x202) {
		put32(k + 0x228, cmdline_addr);
	} else {
		put16(k + 0x20, 0xa33f);
		put16(k + 0x22, (uint16_t)(cmdline_addr - real_addr));
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
		put32(k + 0x218, (initrd_max - initrd_size) & ~4095u);
		put32(k + 0x21c, initrd_size);
	}
	return 0;
}

int tdx_kernel_digest(const uint8_t *kernel, size_t len, uint32_t initrd_size, uint64_t memory,
		      uint32_t acpi_data_size, uint8_t out[48], char *err, size_t errlen)
{
	static const uint8_t zeros[8];
	EVP_MD_CTX *c;
	uint8_t *k;
	int r;

	if (len > (1u << 30))
		return fail(err, errlen, "kernel image larger than 1 GiB");
	k = malloc(len ? len : 1);
	c = EVP_MD_CTX_new();
	if (!k || !c || EVP_DigestInit_ex(c, EVP_sha384(), NULL) != 1) {
		free(k);
		EVP_MD_CTX_free(c);
		return -ENOMEM;
	}
	memcpy(k, kernel, len);
	r = patch_kernel(k, len, initrd_size, memory, acpi_data_size, err, errlen);
	if (r == 0)
		r = pe_authenticode_update(c, k, len, err, errlen);
	/* OVMF's copy of the image is rounded up to 8 bytes with zeros, which it hashes too. */
	if (r == 0 && len % 8)
		EVP_DigestUpdate(c, zeros, 8 - len % 8);
	if (r == 0 && EVP_DigestFinal_ex(c, out, NULL) != 1)
		r = -ENOMEM;
	free(k);
	EVP_MD_CTX_free(c);
	return r;
}

int tdx_cmdline_digest(const char *cmdline, uint8_t out[48])
{
	size_t n = strlen(cmdline), o = 0;
	uint8_t *u = malloc(4 * n + 2);
	const uint8_t *s = (const uint8_t *)cmdline;

	if (!u)
		return -ENOMEM;
	if (!utf8_valid(s, n)) {
		free(u);
		return -EINVAL;
	}
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = s[i] < 0x80 ? 1 : s[i] < 0xe0 ? 2 : s[i] < 0xf0 ? 3 : 4;

		cp = k == 1 ? s[i] : (uint32_t)(s[i] & (0x7f >> k));
		for (size_t j = 1; j < k; j++)
			cp = cp << 6 | (s[i + j] & 0x3f);
		i += k;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put16(u + o, (uint16_t)(0xd800 | (cp >> 10)));
			put16(u + o + 2, (uint16_t)(0xdc00 | (cp & 0x3ff)));
			o += 4;
		} else {
			put16(u + o, (uint16_t)cp);
			o += 2;
		}
	}
	put16(u + o, 0); /* the terminator is measured too */
	o += 2;
	SHA384(u, o, out);
	free(u);
	return 0;
}

const char *tdx_event_source_name(enum tdx_event_source s)
{
	switch (s) {
	case TDX_SRC_COMPUTED:
		return "computed";
	case TDX_SRC_KERNEL:
		return "--kernel";
	case TDX_SRC_CMDLINE:
		return "--append";
	case TDX_SRC_INITRD:
		return "--initrd";
	default:
		return "event log";
	}
}

/* TCG_PCClientTaggedEvent: taggedEventID, taggedEventDataSize, data. */
static bool tagged(const struct evlog_event *e, const char *text)
{
	size_t n = strlen(text) + 1;

	return e->data.len >= 8 && le32(e->data.p + 4) == n && e->data.len - 8 >= n &&
	       memcmp(e->data.p + 8, text, n) == 0;
}

enum tdx_event_source tdx_event_source_of(const struct evlog_event *e)
{
	if (e->index == 2 && e->type == EV_EFI_BOOT_SERVICES_APPLICATION)
		return TDX_SRC_KERNEL;
	if (e->index == 3 && e->type == EV_EVENT_TAG && tagged(e, "LOADED_IMAGE::LoadOptions"))
		return TDX_SRC_CMDLINE;
	if (e->index == 3 && e->type == EV_EVENT_TAG && tagged(e, "Linux initrd"))
		return TDX_SRC_INITRD;
	if (e->type == EV_EFI_ACTION || e->type == EV_SEPARATOR)
		return TDX_SRC_COMPUTED;
	return TDX_SRC_LOG;
}
