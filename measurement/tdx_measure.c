/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MRTD from TDVF: Intel "TDX Virtual Firmware Design Guide", §11 (TDVF
 * metadata: the "TDVF" descriptor and its sections), and the Intel TDX
 * module ABI for what TDH.MEM.PAGE.ADD and TDH.MR.EXTEND add to MRTD: a
 * 128-byte buffer naming the operation ("MEM.PAGE.ADD" or "MR.EXTEND" at
 * offset 0) and the GPA (offset 16), and for MR.EXTEND the 256 bytes of
 * the chunk after it. MRTD is the SHA-384 of the whole sequence.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "measurement/measurement.h"

#define PAGE 4096u
#define CHUNK 256u
#define MAX_ADDED (1ull << 30)

static const char tdx_metadata_guid[] = "e47a6535-984a-4798-865e-4685a7bf8ec2";

#define fail(err, errlen, ...) set_error(err, errlen, -EBADMSG, __VA_ARGS__)

int tdvf_parse(const uint8_t *data, size_t len, struct tdvf *t, char *err, size_t errlen)
{
	struct ovmf o;
	struct span e, d;
	uint32_t off, n, version;
	int r;

	memset(t, 0, sizeof(*t));
	t->data = data;
	t->len = len;
	r = ovmf_parse(data, len, &o, err, errlen);
	if (r < 0)
		return r;
	if (ovmf_table_entry(&o, tdx_metadata_guid, &e) < 0 || e.len < 4)
		return fail(err, errlen, "no TDX metadata in the footer table (not a TDVF image)");
	off = le32(e.p + e.len - 4);
	if (off < 16 || off > len)
		return fail(err, errlen, "TDX metadata offset %u lies outside the image", off);
	d = span_make(data + len - off, off);
	if (memcmp(d.p, "TDVF", 4) != 0)
		return fail(err, errlen, "TDX metadata signature is not TDVF");
	version = le32(d.p + 8);
	n = le32(d.p + 12);
	if (version != 1)
		return fail(err, errlen, "TDX metadata version %u (1 expected)", version);
	if (n > TDVF_MAX_SECTIONS || (d.len - 16) / 32 < n)
		return fail(err, errlen, "TDX metadata of %u sections does not fit the image", n);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = d.p + 16 + 32 * i;
		struct tdvf_section *s = &t->sections[i];

		s->data_offset = le32(p);
		s->raw_size = le32(p + 4);
		s->gpa = le64(p + 8);
		s->mem_size = le64(p + 16);
		s->type = le32(p + 24);
		s->attributes = le32(p + 28);
		if (s->gpa % PAGE || s->mem_size % PAGE || s->mem_size < s->raw_size ||
		    s->mem_size > (1ull << 40))
			return fail(err, errlen,
				    "TDX metadata section %u: address or size not page-aligned, or "
				    "smaller than its data",
				    i);
		/* Data the VMM copies, or extends into MRTD, must lie inside the image. */
		if ((uint64_t)s->data_offset + s->raw_size > len ||
		    ((s->attributes & TDVF_ATTR_MR_EXTEND) &&
		     (uint64_t)s->data_offset + s->mem_size > len))
			return fail(err, errlen,
				    "TDX metadata section %u (type %u) runs past the end of the "
				    "%zu-byte image (offset 0x%x, size 0x%llx)",
				    i, s->type, len, s->data_offset,
				    (unsigned long long)s->mem_size);
		/* Two sections may not claim the same guest page. */
		for (uint32_t j = 0; j < i; j++) {
			const struct tdvf_section *o2 = &t->sections[j];

			if (s->gpa < o2->gpa + o2->mem_size && o2->gpa < s->gpa + s->mem_size)
				return fail(err, errlen, "TDX metadata sections %u and %u overlap",
					    j, i);
		}
	}
	/*
	 * Every added page costs a hash: a firmware adds a few MiB (its volumes,
	 * TD HOB, temporary memory), so more than 1 GiB is hostile metadata.
	 */
	{
		uint64_t added = 0;

		for (uint32_t i = 0; i < n; i++)
			if (!(t->sections[i].attributes & TDVF_ATTR_PAGE_AUG))
				added += t->sections[i].mem_size;
		if (added > MAX_ADDED)
			return fail(err, errlen,
				    "TDX metadata adds %llu MiB of pages, more than any firmware",
				    (unsigned long long)(added >> 20));
	}
	t->n = n;
	return 0;
}

static int page_add(EVP_MD_CTX *c, uint64_t gpa)
{
	uint8_t buf[128] = "MEM.PAGE.ADD";

	for (int i = 0; i < 8; i++)
		buf[16 + i] = (uint8_t)(gpa >> (8 * i));
	return EVP_DigestUpdate(c, buf, sizeof(buf)) == 1 ? 0 : -ENOMEM;
}

static int mr_extend(EVP_MD_CTX *c, uint64_t gpa, const uint8_t *chunk)
{
	uint8_t buf[128] = "MR.EXTEND";

	for (int i = 0; i < 8; i++)
		buf[16 + i] = (uint8_t)(gpa >> (8 * i));
	if (EVP_DigestUpdate(c, buf, sizeof(buf)) != 1 || EVP_DigestUpdate(c, chunk, CHUNK) != 1)
		return -ENOMEM;
	return 0;
}

static int extend_page(EVP_MD_CTX *c, const struct tdvf *t, const struct tdvf_section *s,
		       uint64_t page)
{
	int r = 0;

	if (!(s->attributes & TDVF_ATTR_MR_EXTEND))
		return 0;
	for (uint64_t off = 0; off < PAGE && r == 0; off += CHUNK)
		r = mr_extend(c, s->gpa + page * PAGE + off,
			      t->data + s->data_offset + page * PAGE + off);
	return r;
}

int tdx_mrtd(const struct tdvf *t, bool two_pass, uint8_t out[48])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int r = 0;

	if (!c || EVP_DigestInit_ex(c, EVP_sha384(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n && r == 0; i++) {
		const struct tdvf_section *s = &t->sections[i];
		uint64_t pages = s->mem_size / PAGE;
		/* PAGE.AUG sections are accepted by the guest later, not added. */
		bool add = !(s->attributes & TDVF_ATTR_PAGE_AUG);

		for (uint64_t p = 0; p < pages && r == 0; p++) {
			if (add)
				r = page_add(c, s->gpa + p * PAGE);
			if (r == 0 && !two_pass)
				r = extend_page(c, t, s, p);
		}
		for (uint64_t p = 0; two_pass && p < pages && r == 0; p++)
			r = extend_page(c, t, s, p);
	}
	if (r == 0 && EVP_DigestFinal_ex(c, out, NULL) != 1)
		r = -ENOMEM;
	EVP_MD_CTX_free(c);
	return r;
}
