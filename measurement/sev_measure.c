/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV, SEV-ES and SEV-SNP launch digests, computed as the AMD firmware does
 * (SEV-SNP ABI spec 56860, §8.17 SNP_LAUNCH_UPDATE and Table 67 PAGE_INFO)
 * for a guest that QEMU (or EC2, or GCE) launches with OVMF, and as
 * virtee/sev-snp-measure predicts them, flag for flag.
 *
 * OVMF layout: edk2 OvmfPkg/ResetVector (the GUIDed table that ends 32
 * bytes before the end of the image, and the SEV metadata it points to);
 * kernel hashes table: QEMU target/i386/sev.c (SevHashTable).
 * VMSA layout: AMD64 APM Volume 2, Appendix B, Table B-4.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "measurement/measurement.h"

#define PAGE 4096u
#define FOUR_GB 0x100000000ull

static const char footer_guid[] = "96b582de-1fb2-45f7-baea-a366c55a082d";
static const char hash_table_rv_guid[] = "7255371f-3a3b-4b04-927b-1da6efa8d454";
static const char sev_es_reset_guid[] = "00f771de-1a7e-4fcb-890e-68c77e2fb44e";
static const char sev_metadata_guid[] = "dc886566-984a-4798-a75e-5585a7bf67cc";
static const char svsm_info_guid[] = "a789a612-0597-4c4b-a49f-cbb1fe9d1ddd";
/* QEMU SevHashTable GUIDs */
static const char ht_header_guid[] = "9438d606-4f22-4cc9-b479-a793d411fd21";
static const char ht_kernel_guid[] = "4de79437-abd2-427f-b835-d5b172d2045b";
static const char ht_initrd_guid[] = "44baf731-3a2f-4bd7-9af1-41e29169781d";
static const char ht_cmdline_guid[] = "97d02dd8-bd20-4c94-aa78-e7714d36ab2a";

#define fail(err, errlen, ...) set_error(err, errlen, -EBADMSG, __VA_ARGS__)

/* A GUID's text form to its in-memory (little-endian fields) bytes. */
static void guid_bytes(const char *text, uint8_t out[16])
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t raw[16];
	size_t n = 0;

	for (const char *c = text; *c && n < 16; c++) {
		char pair[3] = { c[0], c[1], 0 };

		if (*c == '-')
			continue;
		raw[n++] = (uint8_t)strtoul(pair, NULL, 16);
		c++;
	}
	for (int i = 0; i < 16; i++)
		out[i] = raw[order[i]];
}

int ovmf_table_entry(const struct ovmf *o, const char *guid, struct span *out)
{
	uint8_t g[16];

	guid_bytes(guid, g);
	for (size_t i = 0; i < o->ntable; i++)
		if (memcmp(o->table[i].guid, g, 16) == 0) {
			*out = o->table[i].data;
			return 0;
		}
	return -ENOENT;
}

/* An entry of OVMF's footer table is its data, then a u16 size (data included) and a GUID. */
#define OVMF_ENTRY_HDR (2 + 16)

/* The footer table's entries, walked down from the footer at offset footer. */
static int footer_entries(const uint8_t *data, size_t footer, struct ovmf *o, char *err,
			  size_t errlen)
{
	const size_t hdr = OVMF_ENTRY_HDR;
	size_t table_len, end;

	if (le16(data + footer) < hdr || le16(data + footer) - hdr > footer)
		return fail(err, errlen, "footer table size %u does not fit the image",
			    le16(data + footer));
	table_len = le16(data + footer) - hdr;
	end = footer;
	while (end > footer - table_len) {
		size_t avail = end - (footer - table_len), size;

		if (avail < hdr)
			return fail(err, errlen, "footer table entry truncated");
		size = le16(data + end - hdr);
		if (size < hdr || size > avail)
			return fail(err, errlen, "footer table entry size %zu does not fit", size);
		if (o->ntable == OVMF_MAX_TABLE)
			return fail(err, errlen, "more than %d footer table entries",
				    OVMF_MAX_TABLE);
		memcpy(o->table[o->ntable].guid, data + end - 16, 16);
		o->table[o->ntable++].data = span_make(data + end - size, size - hdr);
		end -= size;
	}
	return 0;
}

/* The n sections at d: page-aligned, no guest page claimed twice, a bounded total. */
static int sev_sections(const uint8_t *d, uint32_t n, struct ovmf *o, char *err, size_t errlen)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < n; i++, d += 12) {
		struct ovmf_section *s = &o->sections[i];

		s->gpa = le32(d);
		s->size = le32(d + 4);
		s->type = le32(d + 8);
		if (s->size % PAGE || s->gpa % PAGE)
			return fail(err, errlen, "SEV metadata section %u is not page-aligned", i);
		for (uint32_t j = 0; j < i; j++) {
			const struct ovmf_section *t = &o->sections[j];

			if ((uint64_t)s->gpa < (uint64_t)t->gpa + t->size &&
			    (uint64_t)t->gpa < (uint64_t)s->gpa + s->size)
				return fail(err, errlen, "SEV metadata sections %u and %u overlap",
					    j, i);
		}
	}
	/* Each page costs a hash; no firmware asks for more than a few MiB. */
	for (uint32_t i = 0; i < n; i++)
		total += o->sections[i].size;
	if (total > (1ull << 30))
		return fail(err, errlen,
			    "SEV metadata sections cover %llu MiB, more than any "
			    "firmware",
			    (unsigned long long)(total >> 20));
	o->nsections = n;
	return 0;
}

/* The SEV metadata ("ASEV") the footer table's entry points at, counted from the image's end. */
static int sev_metadata_parse(const uint8_t *data, size_t len, struct span meta, struct ovmf *o,
			      char *err, size_t errlen)
{
	uint32_t off, size, version, n;
	size_t start;

	if (meta.len < 4)
		return fail(err, errlen, "SEV metadata entry too short");
	off = le32(meta.p);
	if (off < 16 || off > len)
		return fail(err, errlen, "SEV metadata offset %u lies outside the image", off);
	start = len - off;
	if (memcmp(data + start, "ASEV", 4) != 0)
		return fail(err, errlen, "SEV metadata signature is not ASEV");
	size = le32(data + start + 4);
	version = le32(data + start + 8);
	n = le32(data + start + 12);
	if (version != 1)
		return fail(err, errlen, "SEV metadata version %u (1 expected)", version);
	if (size < 16 || size > off || n > OVMF_MAX_SECTIONS || (size - 16) / 12 < n)
		return fail(err, errlen, "SEV metadata of %u sections does not fit its size %u", n,
			    size);
	return sev_sections(data + start + 16, n, o, err, errlen);
}

int ovmf_parse(const uint8_t *data, size_t len, struct ovmf *o, char *err, size_t errlen)
{
	const size_t hdr = OVMF_ENTRY_HDR;
	uint8_t want[16];
	size_t footer;
	struct span meta;
	int r;

	memset(o, 0, sizeof(*o));
	o->data = data;
	o->len = len;
	if (len == 0 || len % PAGE || len > FOUR_GB)
		return fail(err, errlen, "image size %zu is not a positive multiple of 4 KiB", len);
	o->gpa = FOUR_GB - len;
	if (len < 32 + hdr)
		return 0;
	footer = len - 32 - hdr;
	guid_bytes(footer_guid, want);
	if (memcmp(data + footer + 2, want, 16) != 0)
		return 0; /* no table: an image without SEV support */
	r = footer_entries(data, footer, o, err, errlen);
	if (r < 0)
		return r;
	if (ovmf_table_entry(o, sev_metadata_guid, &meta) == 0)
		return sev_metadata_parse(data, len, meta, o, err, errlen);
	return 0;
}

/* ---- the launch digest chain (56860 Table 67, PAGE_INFO) ---- */

enum page_type {
	PAGE_NORMAL = 1,
	PAGE_VMSA = 2,
	PAGE_ZERO = 3,
	PAGE_UNMEASURED = 4,
	PAGE_SECRETS = 5,
	PAGE_CPUID = 6,
};

/* The VMSA is recorded at GPA -1, page-aligned, with bits above 51 cleared. */
#define VMSA_GPA 0xFFFFFFFFF000ull

static void page_info(uint8_t ld[48], enum page_type type, uint64_t gpa, const uint8_t *contents)
{
	uint8_t pi[0x70] = { 0 };

	memcpy(pi, ld, 48);
	if (contents)
		memcpy(pi + 48, contents, 48);
	pi[96] = 0x70; /* length */
	pi[98] = (uint8_t)type;
	for (int i = 0; i < 8; i++)
		pi[104 + i] = (uint8_t)(gpa >> (8 * i));
	SHA384(pi, sizeof(pi), ld);
}

static void normal_pages(uint8_t ld[48], uint64_t gpa, const uint8_t *data, size_t len)
{
	uint8_t h[48];

	for (size_t off = 0; off < len; off += PAGE) {
		SHA384(data + off, PAGE, h);
		page_info(ld, PAGE_NORMAL, gpa + off, h);
	}
}

static void empty_pages(uint8_t ld[48], enum page_type type, uint64_t gpa, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE)
		page_info(ld, type, gpa + off, NULL);
}

/* QEMU's SevHashTable: header GUID, length, then cmdline, initrd, kernel entries. */
#define HT_ENTRY (16 + 2 + 32)
#define HT_SIZE (16 + 2 + 3 * HT_ENTRY)
#define HT_PADDED ((HT_SIZE + 15) & ~15)

static void hash_table(const struct sev_measure_params *p, uint8_t out[HT_PADDED])
{
	const char *guids[3] = { ht_cmdline_guid, ht_initrd_guid, ht_kernel_guid };
	const uint8_t *hashes[3] = { p->cmdline_sha256, p->initrd_sha256, p->kernel_sha256 };

	memset(out, 0, HT_PADDED);
	guid_bytes(ht_header_guid, out);
	out[16] = HT_SIZE & 0xff;
	out[17] = HT_SIZE >> 8;
	for (int i = 0; i < 3; i++) {
		uint8_t *e = out + 18 + i * HT_ENTRY;

		guid_bytes(guids[i], e);
		e[16] = HT_ENTRY;
		memcpy(e + 18, hashes[i], 32);
	}
}

/* ---- VMSA (APM Vol. 2, Table B-4) ---- */

static void put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void seg(uint8_t *p, uint16_t selector, uint16_t attrib, uint32_t limit, uint64_t base)
{
	put(p, selector, 2);
	put(p + 2, attrib, 2);
	put(p + 4, limit, 4);
	put(p + 8, base, 8);
}

/*
 * The initial register state of a vCPU as KVM sets it up: the reset state
 * of an x86 CPU (real mode at eip), with the quirks of each VMM.
 */
static void vmsa_page(uint8_t page[PAGE], uint32_t eip, uint64_t sev_features, uint32_t vcpu_sig,
		      enum vmm_type vmm)
{
	uint16_t cs = 0x9b, ss = 0x93, tr = 0x8b, fcw = 0x37f;
	uint32_t mxcsr = 0x1f80;
	uint64_t rdx = vcpu_sig, g_pat = 0x7040600070406ull; /* APM Vol 2, §A.3 */

	if (vmm == VMM_EC2) {
		cs = eip == 0xfffffff0 ? 0x9a : 0x9b;
		ss = 0x92;
		tr = 0x83;
		rdx = 0x600;
		mxcsr = 0;
		fcw = 0;
	} else if (vmm == VMM_GCE) {
		g_pat = 0x00070106; /* GCE's hypervisor sets its own PAT */
		rdx = 0x600;
		mxcsr = 0;
		fcw = 0;
	}
	memset(page, 0, PAGE);
	seg(page + 0x000, 0, 0x93, 0xffff, 0);			 /* es */
	seg(page + 0x010, 0xf000, cs, 0xffff, eip & 0xffff0000); /* cs */
	seg(page + 0x020, 0, ss, 0xffff, 0);			 /* ss */
	seg(page + 0x030, 0, 0x93, 0xffff, 0);			 /* ds */
	seg(page + 0x040, 0, 0x93, 0xffff, 0);			 /* fs */
	seg(page + 0x050, 0, 0x93, 0xffff, 0);			 /* gs */
	seg(page + 0x060, 0, 0, 0xffff, 0);			 /* gdtr */
	seg(page + 0x070, 0, 0x82, 0xffff, 0);			 /* ldtr */
	seg(page + 0x080, 0, 0, 0xffff, 0);			 /* idtr */
	seg(page + 0x090, 0, tr, 0xffff, 0);			 /* tr */
	put(page + 0x0d0, 0x1000, 8);				 /* efer: SVME, as KVM sets it */
	put(page + 0x148, 0x40, 8);				 /* cr4: MCE */
	put(page + 0x158, 0x10, 8);				 /* cr0: ET */
	put(page + 0x160, 0x400, 8);				 /* dr7 */
	put(page + 0x168, 0xffff0ff0, 8);			 /* dr6 */
	put(page + 0x170, 0x2, 8);				 /* rflags */
	put(page + 0x178, eip & 0xffff, 8);			 /* rip */
	put(page + 0x268, g_pat, 8);				 /* g_pat */
	put(page + 0x310, rdx, 8);				 /* rdx */
	put(page + 0x3b0, sev_features, 8);			 /* sev_features */
	put(page + 0x3e8, 0x1, 8);				 /* xcr0 */
	put(page + 0x408, mxcsr, 4);				 /* mxcsr */
	put(page + 0x410, fcw, 2);				 /* x87 fcw */
}

/*
 * The vCPUs of an SVSM start in 32-bit protected mode at the SVSM's entry
 * point, all alike, with SEV features 1 (SNP active). x87 FCW stays 0, as
 * sev-snp-measure leaves it for this layout.
 */
static void svsm_vmsa_page(uint8_t page[PAGE], uint32_t eip, uint32_t vcpu_sig)
{
	memset(page, 0, PAGE);
	seg(page + 0x000, 16, 0xc93, 0xffffffff, 0); /* es */
	seg(page + 0x010, 8, 0xc9b, 0xffffffff, 0);  /* cs */
	seg(page + 0x020, 16, 0xc93, 0xffffffff, 0); /* ss */
	seg(page + 0x030, 16, 0xc93, 0xffffffff, 0); /* ds */
	seg(page + 0x040, 16, 0xc93, 0xffffffff, 0); /* fs */
	seg(page + 0x050, 0, 0x93, 0xffff, 0);	     /* gs */
	seg(page + 0x060, 0, 0, 0xffff, 0);	     /* gdtr */
	seg(page + 0x070, 0, 0x82, 0xffff, 0);	     /* ldtr */
	seg(page + 0x080, 0, 0, 0xffff, 0);	     /* idtr */
	seg(page + 0x090, 0, 0x8b, 0xffff, 0);	     /* tr */
	put(page + 0x0d0, 0x1000, 8);		     /* efer */
	put(page + 0x148, 0x40, 8);		     /* cr4 */
	put(page + 0x158, 0x11, 8);		     /* cr0: PE, ET */
	put(page + 0x160, 0x400, 8);		     /* dr7 */
	put(page + 0x168, 0xffff0ff0, 8);	     /* dr6 */
	put(page + 0x170, 0x2, 8);		     /* rflags */
	put(page + 0x178, eip, 8);		     /* rip */
	put(page + 0x268, 0x7040600070406ull, 8);    /* g_pat */
	put(page + 0x310, vcpu_sig, 8);		     /* rdx */
	put(page + 0x3b0, 0x1, 8);		     /* sev_features */
	put(page + 0x3e8, 0x1, 8);		     /* xcr0 */
	put(page + 0x408, 0x1f80, 4);		     /* mxcsr */
}

uint32_t sev_cpu_sig(unsigned family, unsigned model, unsigned stepping)
{
	unsigned fam_low = family > 0xf ? 0xf : family;
	unsigned fam_high = family > 0xf ? (family - 0xf) & 0xff : 0;

	return (uint32_t)(fam_high << 20 | ((model >> 4) & 0xf) << 16 | fam_low << 8 |
			  (model & 0xf) << 4 | (stepping & 0xf));
}

uint32_t sev_cpu_sig_by_name(const char *name)
{
	/* QEMU's AMD EPYC CPU models (target/i386/cpu.c) and their family/model/stepping. */
	static const struct {
		const char *name;
		unsigned f, m, s;
	} models[] = {
		{ "EPYC", 23, 1, 2 },		{ "EPYC-v1", 23, 1, 2 },
		{ "EPYC-v2", 23, 1, 2 },	{ "EPYC-IBPB", 23, 1, 2 },
		{ "EPYC-v3", 23, 1, 2 },	{ "EPYC-v4", 23, 1, 2 },
		{ "EPYC-Rome", 23, 49, 0 },	{ "EPYC-Rome-v1", 23, 49, 0 },
		{ "EPYC-Rome-v2", 23, 49, 0 },	{ "EPYC-Rome-v3", 23, 49, 0 },
		{ "EPYC-Milan", 25, 1, 1 },	{ "EPYC-Milan-v1", 25, 1, 1 },
		{ "EPYC-Milan-v2", 25, 1, 1 },	{ "EPYC-Genoa", 25, 17, 0 },
		{ "EPYC-Genoa-v1", 25, 17, 0 }, { "EPYC-Turin", 26, 0, 0 },
	};

	for (size_t i = 0; name && i < ARRAY_SIZE(models); i++)
		if (strcmp(name, models[i].name) == 0)
			return sev_cpu_sig(models[i].f, models[i].m, models[i].s);
	return 0;
}

static int reset_eip(const struct ovmf *o, uint32_t *eip, char *err, size_t errlen)
{
	struct span e;

	if (ovmf_table_entry(o, sev_es_reset_guid, &e) < 0 || e.len < 4)
		return fail(err, errlen,
			    "OVMF has no SEV-ES reset block (not an SEV-ES/SNP build)");
	*eip = le32(e.p);
	return 0;
}

static bool has_section(const struct ovmf *o, uint32_t type)
{
	for (size_t i = 0; i < o->nsections; i++)
		if (o->sections[i].type == type)
			return true;
	return false;
}

static int snp_metadata(const struct sev_measure_params *p, const struct ovmf *o, uint8_t ld[48],
			char *err, size_t errlen);

static int svsm_digest(const struct sev_measure_params *p, uint8_t ld[48], char *err, size_t errlen)
{
	struct sev_measure_params q = *p;
	uint8_t page[PAGE], h[48];
	struct span info;
	int r;

	if (!p->svsm || ovmf_table_entry(p->svsm, svsm_info_guid, &info) < 0 || info.len < 4)
		return fail(err, errlen, "SVSM image has no SVSM information entry");
	normal_pages(ld, p->ovmf->gpa, p->ovmf->data, p->ovmf->len);
	normal_pages(ld, p->svsm->gpa, p->svsm->data, p->svsm->len);
	q.has_kernel = false;
	q.vmm = VMM_QEMU;
	r = snp_metadata(&q, p->svsm, ld, err, errlen);
	if (r < 0)
		return r;
	svsm_vmsa_page(page, (uint32_t)(le32(info.p) + p->svsm->gpa), p->vcpu_sig);
	SHA384(page, PAGE, h);
	for (unsigned i = 0; i < p->vcpus; i++) {
		if (p->vmsa_cb && p->vmsa_cb(i, page, p->vmsa_ctx) < 0)
			return fail(err, errlen, "cannot write the VMSA of vCPU %u", i);
		page_info(ld, PAGE_VMSA, VMSA_GPA, h);
	}
	return 0;
}

static int snp_metadata(const struct sev_measure_params *p, const struct ovmf *o, uint8_t ld[48],
			char *err, size_t errlen)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < o->nsections; i++) {
			const struct ovmf_section *s = &o->sections[i];

			/* EC2 measures the CPUID page after every other section. */
			if ((pass == 1) != (p->vmm == VMM_EC2 && s->type == OVMF_SECTION_CPUID))
				continue;
			switch (s->type) {
			case OVMF_SECTION_SNP_SEC_MEM:
				empty_pages(ld, p->vmm == VMM_GCE ? PAGE_UNMEASURED : PAGE_ZERO,
					    s->gpa, s->size);
				break;
			case OVMF_SECTION_SNP_SECRETS:
				page_info(ld, PAGE_SECRETS, s->gpa, NULL);
				break;
			case OVMF_SECTION_CPUID:
				page_info(ld, PAGE_CPUID, s->gpa, NULL);
				break;
			case OVMF_SECTION_SVSM_CAA:
				empty_pages(ld, PAGE_ZERO, s->gpa, s->size);
				break;
			case OVMF_SECTION_SNP_KERNEL_HASHES:
				if (p->has_kernel) {
					struct span rv;
					uint8_t page[PAGE] = { 0 }, ht[HT_PADDED];
					uint32_t off;

					if (ovmf_table_entry(o, hash_table_rv_guid, &rv) < 0 ||
					    rv.len < 4)
						return fail(err, errlen,
							    "OVMF has no SEV hash table entry");
					off = le32(rv.p) & (PAGE - 1);
					if (s->size != PAGE || off + HT_PADDED > PAGE)
						return fail(err, errlen,
							    "kernel hashes section does not hold "
							    "the table");
					hash_table(p, ht);
					memcpy(page + off, ht, HT_PADDED);
					normal_pages(ld, s->gpa, page, PAGE);
				} else {
					empty_pages(ld, PAGE_ZERO, s->gpa, s->size);
				}
				break;
			default:
				return fail(err, errlen, "unknown OVMF metadata section type 0x%x",
					    s->type);
			}
		}
	}

	return 0;
}

static int snp_digest(const struct sev_measure_params *p, uint8_t ld[48], char *err, size_t errlen)
{
	const struct ovmf *o = p->ovmf;
	uint8_t vmsa[2][PAGE];
	uint32_t ap_eip = 0;
	int r;

	if (p->has_kernel && !has_section(o, OVMF_SECTION_SNP_KERNEL_HASHES))
		return fail(
			err, errlen,
			"kernel specified but the OVMF metadata has no SNP_KERNEL_HASHES section");
	r = reset_eip(o, &ap_eip, err, errlen);
	if (r < 0)
		return r;
	if (p->has_ovmf_hash)
		memcpy(ld, p->ovmf_hash, 48);
	else
		normal_pages(ld, o->gpa, o->data, o->len);

	r = snp_metadata(p, o, ld, err, errlen);
	if (r < 0)
		return r;

	vmsa_page(vmsa[0], 0xfffffff0, p->guest_features, p->vcpu_sig, p->vmm);
	vmsa_page(vmsa[1], ap_eip, p->guest_features, p->vcpu_sig, p->vmm);
	for (unsigned i = 0; i < p->vcpus; i++) {
		uint8_t h[48];

		if (p->vmsa_cb && p->vmsa_cb(i, vmsa[i ? 1 : 0], p->vmsa_ctx) < 0)
			return fail(err, errlen, "cannot write the VMSA of vCPU %u", i);
		SHA384(vmsa[i ? 1 : 0], PAGE, h);
		page_info(ld, PAGE_VMSA, VMSA_GPA, h);
	}
	return 0;
}

/* SEV and SEV-ES: SHA-256 over the image, the hashes table and (SEV-ES) the VMSAs. */
static int sev_digest(const struct sev_measure_params *p, uint8_t out[32], char *err, size_t errlen)
{
	const struct ovmf *o = p->ovmf;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t vmsa[2][PAGE];
	uint32_t ap_eip = 0;
	int r = 0;

	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return -ENOMEM;
	}
	EVP_DigestUpdate(c, o->data, o->len);
	if (p->has_kernel) {
		struct span rv;
		uint8_t ht[HT_PADDED];

		if (ovmf_table_entry(o, hash_table_rv_guid, &rv) < 0 || rv.len < 4 || !le32(rv.p)) {
			r = fail(err, errlen,
				 "kernel specified but OVMF does not support kernel hashes");
			goto out;
		}
		hash_table(p, ht);
		EVP_DigestUpdate(c, ht, HT_PADDED);
	}
	if (p->mode == SEV_MODE_SEV_ES) {
		r = reset_eip(o, &ap_eip, err, errlen);
		if (r < 0)
			goto out;
		vmsa_page(vmsa[0], 0xfffffff0, 0, p->vcpu_sig, p->vmm);
		vmsa_page(vmsa[1], ap_eip, 0, p->vcpu_sig, p->vmm);
		for (unsigned i = 0; i < p->vcpus && r == 0; i++) {
			if (p->vmsa_cb && p->vmsa_cb(i, vmsa[i ? 1 : 0], p->vmsa_ctx) < 0)
				r = fail(err, errlen, "cannot write the VMSA of vCPU %u", i);
			EVP_DigestUpdate(c, vmsa[i ? 1 : 0], PAGE);
		}
		if (r < 0)
			goto out;
	}
	EVP_DigestFinal_ex(c, out, NULL);
out:
	EVP_MD_CTX_free(c);
	return r;
}

int sev_launch_digest(const struct sev_measure_params *p, uint8_t out[48], size_t *outlen,
		      char *err, size_t errlen)
{
	uint8_t ld[48] = { 0 };
	int r;

	switch (p->mode) {
	case SEV_MODE_SNP_OVMF_HASH:
		normal_pages(ld, p->ovmf->gpa, p->ovmf->data, p->ovmf->len);
		memcpy(out, ld, 48);
		*outlen = 48;
		return 0;
	case SEV_MODE_SNP:
	case SEV_MODE_SNP_SVSM:
		r = p->mode == SEV_MODE_SNP ? snp_digest(p, ld, err, errlen)
					    : svsm_digest(p, ld, err, errlen);
		if (r == 0) {
			memcpy(out, ld, 48);
			*outlen = 48;
		}
		return r;
	default:
		*outlen = 32;
		return sev_digest(p, out, err, errlen);
	}
}
