/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Predicting launch registers from what a launch is made of: SEV-SNP launch
 * digests, TDX MRTD and RTMRs, a vTPM's boot PCRs, PE/COFF Authenticode.
 * Part of measurement/measurement.h, which includes it where its sections
 * stood; including either one gives both.
 */
#ifndef CVM_MEASUREMENT_LAUNCH_H
#define CVM_MEASUREMENT_LAUNCH_H

#include "measurement/measurement.h"

/* ---- SEV, SEV-ES and SEV-SNP launch digests (as virtee/sev-snp-measure computes them) ---- */

enum sev_mode {
	SEV_MODE_SEV,
	SEV_MODE_SEV_ES,
	SEV_MODE_SNP,
	SEV_MODE_SNP_OVMF_HASH, /* the OVMF pages alone, a seed for later digests */
	SEV_MODE_SNP_SVSM,	/* OVMF and an SVSM below it (Coconut SVSM's IGVM-less layout) */
};

enum vmm_type {
	VMM_QEMU,
	VMM_EC2,
	VMM_GCE,
};

#define OVMF_MAX_TABLE 32
#define OVMF_MAX_SECTIONS 32

/* OVMF metadata section types (edk2 OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm). */
enum ovmf_section_type {
	OVMF_SECTION_SNP_SEC_MEM = 1,
	OVMF_SECTION_SNP_SECRETS = 2,
	OVMF_SECTION_CPUID = 3,
	OVMF_SECTION_SVSM_CAA = 4,
	OVMF_SECTION_SNP_KERNEL_HASHES = 0x10,
};

struct ovmf_section {
	uint32_t gpa, size, type;
};

struct ovmf {
	const uint8_t *data;
	size_t len;
	uint64_t gpa; /* the image ends at 4 GiB */
	size_t ntable;
	struct {
		uint8_t guid[16];
		struct span data;
	} table[OVMF_MAX_TABLE];
	size_t nsections;
	struct ovmf_section sections[OVMF_MAX_SECTIONS];
};

/*
 * Parses the GUIDed footer table and the SEV metadata of an OVMF image.
 * Offsets, sizes and counts that do not fit the file are errors.
 */
int ovmf_parse(const uint8_t *data, size_t len, struct ovmf *o, char *err, size_t errlen);
/* The data of a footer table entry, given the GUID as text; -ENOENT when absent. */
int ovmf_table_entry(const struct ovmf *o, const char *guid, struct span *out);

struct sev_measure_params {
	enum sev_mode mode;
	enum vmm_type vmm;
	unsigned vcpus;
	uint32_t vcpu_sig;
	uint64_t guest_features;
	const struct ovmf *ovmf;
	bool has_ovmf_hash;
	uint8_t ovmf_hash[48];
	bool has_kernel; /* kernel, initrd and command line hashes (SHA-256) */
	uint8_t kernel_sha256[32], initrd_sha256[32], cmdline_sha256[32];
	const struct ovmf *svsm; /* SEV_MODE_SNP_SVSM: parsed with its gpa set by the caller */
	/* Called with each vCPU's VMSA page as it is measured (sev-snp-measure --dump-vmsa). */
	int (*vmsa_cb)(unsigned vcpu, const uint8_t page[4096], void *ctx);
	void *vmsa_ctx;
};

/* The launch digest: SHA-384 (48 bytes) for SNP, SHA-256 (32) for SEV and SEV-ES. */
int sev_launch_digest(const struct sev_measure_params *p, uint8_t out[48], size_t *outlen,
		      char *err, size_t errlen);
/* CPUID Fn0000_0001_EAX for a family, model and stepping (AMD pub. 25481). */
uint32_t sev_cpu_sig(unsigned family, unsigned model, unsigned stepping);
/* The signature of a QEMU CPU model name ("EPYC-v4"); 0 when unknown. */
uint32_t sev_cpu_sig_by_name(const char *name);

/* ---- TDX MRTD from TDVF metadata (Intel TDX Virtual Firmware Design Guide, §11) ---- */

#define TDVF_MAX_SECTIONS 32

enum tdvf_section_type {
	TDVF_SECTION_BFV = 0,
	TDVF_SECTION_CFV = 1,
	TDVF_SECTION_TD_HOB = 2,
	TDVF_SECTION_TEMP_MEM = 3,
	TDVF_SECTION_PERM_MEM = 4,
	TDVF_SECTION_PAYLOAD = 5,
	TDVF_SECTION_PAYLOAD_PARAM = 6,
	TDVF_SECTION_TD_INFO = 7,
	TDVF_SECTION_TD_PARAMS = 8,
};

#define TDVF_ATTR_MR_EXTEND 0x1
#define TDVF_ATTR_PAGE_AUG 0x2

struct tdvf_section {
	uint32_t data_offset, raw_size;
	uint64_t gpa, mem_size;
	uint32_t type, attributes;
};

struct tdvf {
	const uint8_t *data;
	size_t len;
	size_t n;
	struct tdvf_section sections[TDVF_MAX_SECTIONS];
};

/* Finds the TDX metadata through the footer table; every section must fit the image. */
int tdvf_parse(const uint8_t *data, size_t len, struct tdvf *t, char *err, size_t errlen);
/*
 * MRTD as the TDX module builds it while the VMM adds the image: per page,
 * TDH.MEM.PAGE.ADD, then (MR.EXTEND sections) TDH.MR.EXTEND of each 256-byte
 * chunk. two_pass: all pages of a section first, then all extends (older KVM).
 */
int tdx_mrtd(const struct tdvf *t, bool two_pass, uint8_t out[48]);

/* ---- PE/COFF Authenticode digest (how firmware measures an EFI image) ---- */

/*
 * The Authenticode digest of a PE/COFF image (Microsoft "Windows Authenticode
 * Portable Executable Signature Format", "Calculating the PE Image Hash"):
 * headers without CheckSum and the certificate-table entry, sections in file
 * order, then trailing data except the certificate table. md is an OpenSSL
 * digest name ("SHA256", "SHA384"). err names what does not parse.
 */
int pe_authenticode(const uint8_t *img, size_t len, const char *md, uint8_t *out, size_t *outlen,
		    char *err, size_t errlen);
/* The same, feeding an initialised digest context (for callers that hash more after it). */
int pe_authenticode_update(EVP_MD_CTX *c, const uint8_t *img, size_t len, char *err, size_t errlen);

/* ---- A direct boot through OVMF (QEMU -kernel, -initrd, -append on q35) ---- */

/* QEMU's ACPI data size on current machine types, below which it places the initrd. */
#define QEMU_ACPI_DATA_SIZE 0x28000

/*
 * The kernel as QEMU hands it to OVMF: x86 boot protocol setup-header fields
 * patched for the loader, command line and initrd placement (QEMU 7.2
 * hw/i386/x86.c, later x86-common.c, x86_load_linux), which depends on the initrd's size (0: no
 * initrd), the guest memory size and QEMU's ACPI data size. Then its
 * Authenticode digest in md, over the image padded to 8 bytes as OVMF loads
 * it: what OVMF extends for it (EV_EFI_BOOT_SERVICES_APPLICATION; PCR 4,
 * RTMR1). out holds EVP_MD_get_size(md) bytes. -EINVAL with err for a kernel
 * or initrd that does not fit.
 */
int boot_kernel_digest(const EVP_MD *md, const uint8_t *kernel, size_t len, uint32_t initrd_size,
		       uint64_t memory, uint32_t acpi_data_size, uint8_t *out, char *err,
		       size_t errlen);
/*
 * The kernel's LoadOptions as OVMF builds them (X86QemuLoadImageLib): the
 * command line, then " initrd=initrd" when there is an initrd, each byte
 * widened to a UTF-16LE code unit, with a NUL terminator. Their digest in md
 * is what the EFI stub measures (EV_EVENT_TAG "LOADED_IMAGE::LoadOptions";
 * PCR 9, RTMR2). Returns 1 with the digest in out, 0 when there are no
 * LoadOptions and so no event (an empty command line and no initrd), or
 * -ENOMEM.
 */
int boot_load_options_digest(const EVP_MD *md, const char *cmdline, bool initrd, uint8_t *out);
/* Whether e is an EV_EVENT_TAG (TCG_PCClientTaggedEvent) whose data is the string text. */
bool boot_tagged_event_is(const struct evlog_event *e, const char *text);

/* ---- vTPM PCRs of a direct boot through OVMF (SHA-256 bank) ---- */

/* What OVMF and the kernel's EFI stub extend for a direct boot's inputs. */
struct tpm_boot_digests {
	uint8_t kernel[32];	  /* PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION */
	bool has_load_options;	  /* false: empty command line and no initrd, no event */
	uint8_t load_options[32]; /* PCR 9 EV_EVENT_TAG "LOADED_IMAGE::LoadOptions" */
	bool has_initrd;
	uint8_t initrd[32]; /* PCR 9 EV_EVENT_TAG "Linux initrd": the file's SHA-256 */
};

/*
 * The digests of a boot of kernel with initrd (NULL: none) and the command
 * line append (NULL: empty) in memory_bytes of guest memory. -EINVAL with err
 * for a kernel that is no PE image with an x86 setup header, an empty initrd,
 * or one that does not fit the memory.
 */
int tpm_boot_digests_compute(const uint8_t *kernel, size_t klen, const uint8_t *initrd, size_t ilen,
			     const char *append, uint64_t memory_bytes, struct tpm_boot_digests *d,
			     char *err, size_t errlen);
/*
 * PCR 4 and PCR 9 from zero: PCR 4 the kernel, the EV_EFI_ACTION "Calling
 * EFI Application from Boot Option" and the separator; PCR 9 the
 * LoadOptions and the initrd. The other PCRs are firmware and machine
 * configuration (tpm_boot_predict_with_log). Errors as above.
 */
int tpm_boot_predict(const uint8_t *kernel, size_t klen, const uint8_t *initrd, size_t ilen,
		     const char *append, uint64_t memory_bytes, uint8_t pcr4[32], uint8_t pcr9[32],
		     char *err, size_t errlen);
/*
 * PCR 0-9 of the boot: a reference TCG2 log of a direct boot under the same
 * firmware and machine (memory, vCPUs, devices) replayed into the SHA-256
 * bank, with its kernel event's digest replaced and PCR 9 the stub's events
 * for these inputs. predicted[i] is set for every PCR whose value this gives
 * (0-9). Negative with err for a log that does not parse, -EINVAL for one
 * without a SHA-256 bank or not of a direct boot (not one EFI application in
 * PCR 4, PCR 9 events other than the stub's), and the errors above.
 */
int tpm_boot_predict_with_log(const uint8_t *log, size_t loglen, const uint8_t *kernel, size_t klen,
			      const uint8_t *initrd, size_t ilen, const char *append,
			      uint64_t memory_bytes, uint8_t pcrs[10][32], bool predicted[10],
			      char *err, size_t errlen);
/* The same from a parsed log and computed (or logged) digests. */
int tpm_boot_replay(const struct evlog *log, const struct tpm_boot_digests *d, uint8_t pcrs[10][32],
		    bool predicted[10], char *err, size_t errlen);

/* ---- TDX RTMR prediction for a direct boot through OVMF ---- */

enum tdx_event_source {
	TDX_SRC_LOG,	  /* taken from the reference event log */
	TDX_SRC_COMPUTED, /* the event's own data, hashed (actions, separators) */
	TDX_SRC_KERNEL,
	TDX_SRC_CMDLINE,
	TDX_SRC_INITRD,
};

/* Where a predicted event came from, as cvm measure prints it ("--kernel"). */
const char *tdx_event_source_name(enum tdx_event_source s);
/* Which input an event of a CCEL stands for, in the events OVMF emits for a direct boot. */
enum tdx_event_source tdx_event_source_of(const struct evlog_event *e);

#endif
