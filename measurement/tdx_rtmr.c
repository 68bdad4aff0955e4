/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX RTMR1 and RTMR2 of a direct boot: which event of a CCEL stands for
 * the kernel QEMU passes OVMF (EV_EFI_BOOT_SERVICES_APPLICATION in RTMR1),
 * its LoadOptions and its initrd (EV_EVENT_TAG "LOADED_IMAGE::LoadOptions"
 * and "Linux initrd" in RTMR2). The digests themselves are those of any
 * direct boot through OVMF (boot_digest.c), in SHA-384.
 */
#include "measurement/measurement.h"

#define EV_SEPARATOR 0x4
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003
#define EV_EFI_ACTION 0x80000007

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

enum tdx_event_source tdx_event_source_of(const struct evlog_event *e)
{
	if (e->index == 2 && e->type == EV_EFI_BOOT_SERVICES_APPLICATION)
		return TDX_SRC_KERNEL;
	if (e->index == 3 && boot_tagged_event_is(e, "LOADED_IMAGE::LoadOptions"))
		return TDX_SRC_CMDLINE;
	if (e->index == 3 && boot_tagged_event_is(e, "Linux initrd"))
		return TDX_SRC_INITRD;
	if (e->type == EV_EFI_ACTION || e->type == EV_SEPARATOR)
		return TDX_SRC_COMPUTED;
	return TDX_SRC_LOG;
}
