/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the length, count and type fields of evidence are: TDX quotes (v4,
 * v5), SEV-SNP reports and crypto-agile TCG2 event logs. Shared by the
 * attack suite's length mutator (tests/hostile/len_mutate.c), which writes
 * one variant per field and value, and the libFuzzer targets' custom
 * mutator (tests/fuzz/len_mutator.h), which sets a random field to a
 * boundary value so that fuzzing reaches each length check on purpose.
 * Header-only: the fuzz targets build without the project's Makefile rules.
 */
#ifndef CVM_TESTS_LEN_FIELDS_H
#define CVM_TESTS_LEN_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum len_kind { LEN_TDX, LEN_SNP, LEN_TCG2 };

/* A length field (types NULL), or a type/version field with values to try. */
struct len_field {
	char name[40];
	size_t off;
	int width; /* bytes, little-endian */
	const uint64_t *types;
	size_t ntypes;
};

#define LEN_FIELDS_MAX 64

struct len_fields {
	const uint8_t *b;
	size_t len;
	size_t n;
	struct len_field f[LEN_FIELDS_MAX];
};

static inline uint64_t len_get(const struct len_fields *lf, size_t off, int width)
{
	uint64_t v = 0;

	for (int i = width - 1; i >= 0; i--)
		v = v << 8 | lf->b[off + i];
	return v;
}

static inline void len_add(struct len_fields *lf, const char *name, size_t off, int width,
			   const uint64_t *types, size_t ntypes)
{
	struct len_field *f;

	if (lf->n == LEN_FIELDS_MAX || off + (size_t)width > lf->len)
		return;
	f = &lf->f[lf->n++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->off = off;
	f->width = width;
	f->types = types;
	f->ntypes = ntypes;
}

/*
 * Intel TDX DCAP Quote Generation Library and Quote Verification Library
 * spec, Appendix A (quote v4: header 48, TD report 584) and the v5 layout
 * (header 48, body descriptor type u16 + size u32, body 584 or 648); then
 * the quote signature data: length u32, ECDSA signature 64, attestation key
 * 64, certification data type u16 and size u32; for type 6 the QE report
 * 384, its signature 64, QE auth data size u16 and data, and the nested
 * certification data type u16 and size u32 (type 5, the PCK chain).
 */
static inline void len_fields_tdx(struct len_fields *lf)
{
	static const uint64_t versions[] = { 0, 3, 6, 0xffff };
	static const uint64_t body_types[] = { 0, 1, 4, 0xffff };
	static const uint64_t cert_types[] = { 0, 5, 7, 0xffff };
	static const uint64_t pem_types[] = { 0, 6, 7, 0xffff };
	size_t off, cert, auth;

	if (lf->len < 2)
		return;
	len_add(lf, "version", 0, 2, versions, 4);
	if (len_get(lf, 0, 2) == 5) {
		if (lf->len < 54)
			return;
		len_add(lf, "body-type", 48, 2, body_types, 4);
		len_add(lf, "body-size", 50, 4, NULL, 0);
		off = 48 + 6 + (size_t)len_get(lf, 50, 4);
	} else {
		off = 48 + 584;
	}
	len_add(lf, "sig-data-len", off, 4, NULL, 0);
	cert = off + 4 + 128;
	len_add(lf, "cert-type", cert, 2, cert_types, 4);
	len_add(lf, "cert-size", cert + 2, 4, NULL, 0);
	auth = cert + 6 + 384 + 64;
	len_add(lf, "qe-auth-size", auth, 2, NULL, 0);
	if (auth + 2 > lf->len)
		return;
	off = auth + 2 + (size_t)len_get(lf, auth, 2);
	len_add(lf, "pck-cert-type", off, 2, pem_types, 4);
	len_add(lf, "pck-cert-size", off + 2, 4, NULL, 0);
}

/* SEV-SNP ABI spec 56860, Table 23: a fixed layout; version @0, signature algorithm @52. */
static inline void len_fields_snp(struct len_fields *lf)
{
	static const uint64_t versions[] = { 0, 1, 6, 0xffffffff };
	static const uint64_t algos[] = { 0, 2, 0xffffffff };

	len_add(lf, "version", 0, 4, versions, 4);
	len_add(lf, "sig-algo", 52, 4, algos, 3);
}

/*
 * TCG PC Client Platform Firmware Profile 1.05, 10.2.1 (TCG_PCClientPCREvent,
 * the SHA-1 shaped first event), 10.4.5.1 (TCG_EfiSpecIdEvent) and 10.2.2
 * (TCG_PCR_EVENT2): the Spec ID event's size, algorithm count, each digest
 * size and vendorInfoSize; then each of the first events' digest count and
 * event size, and the last event's size.
 */
static inline void len_fields_tcg2(struct len_fields *lf)
{
	char name[40];
	size_t off, nalg, last = 0;
	uint16_t sizes[16][2];

	if (lf->len < 64)
		return;
	len_add(lf, "spec-event-size", 28, 4, NULL, 0);
	len_add(lf, "spec-alg-count", 56, 4, NULL, 0);
	nalg = (size_t)len_get(lf, 56, 4);
	if (nalg > 16 || 60 + 4 * nalg + 1 > lf->len)
		return;
	for (size_t i = 0; i < nalg; i++) {
		snprintf(name, sizeof(name), "spec-digest-size%zu", i);
		len_add(lf, name, 60 + 4 * i + 2, 2, NULL, 0);
		sizes[i][0] = (uint16_t)len_get(lf, 60 + 4 * i, 2);
		sizes[i][1] = (uint16_t)len_get(lf, 60 + 4 * i + 2, 2);
	}
	len_add(lf, "spec-vendor-info-size", 60 + 4 * nalg, 1, NULL, 0);
	off = 32 + (size_t)len_get(lf, 28, 4);
	for (int e = 1; off + 12 <= lf->len; e++) {
		size_t n = (size_t)len_get(lf, off + 8, 4), p = off + 12, esz;

		if (n == 0 || n > nalg || len_get(lf, off, 4) == 0xffffffff)
			break;
		for (size_t k = 0; k < n && p + 2 <= lf->len; k++) {
			size_t i;

			for (i = 0; i < nalg && sizes[i][0] != len_get(lf, p, 2); i++)
				;
			if (i == nalg)
				return;
			p += 2 + sizes[i][1];
		}
		if (p + 4 > lf->len)
			break;
		esz = (size_t)len_get(lf, p, 4);
		if (e <= 3) {
			snprintf(name, sizeof(name), "event%d-digest-count", e);
			len_add(lf, name, off + 8, 4, NULL, 0);
			snprintf(name, sizeof(name), "event%d-size", e);
			len_add(lf, name, p, 4, NULL, 0);
		}
		last = p;
		if (esz > lf->len || p + 4 + esz > lf->len)
			break;
		off = p + 4 + esz;
	}
	if (last)
		len_add(lf, "last-event-size", last, 4, NULL, 0);
}

/* Finds the fields of b (len bytes) of the given kind. */
static inline void len_fields_find(struct len_fields *lf, enum len_kind kind, const uint8_t *b,
				   size_t len)
{
	memset(lf, 0, sizeof(*lf));
	lf->b = b;
	lf->len = len;
	if (kind == LEN_TDX)
		len_fields_tdx(lf);
	else if (kind == LEN_SNP)
		len_fields_snp(lf);
	else
		len_fields_tcg2(lf);
}

/* The boundary values of a length field: 0, one below, one above, the maximum, one past the end. */
enum { LEN_VARIANTS = 5 };

static inline const char *len_variant_name(int k)
{
	static const char *const names[LEN_VARIANTS] = { "zero", "minus1", "plus1", "max",
							 "past-end" };
	return names[k];
}

/*
 * Variant k of length field f: 0 when it would not change anything (or
 * duplicate another variant), 1 with *out set otherwise.
 */
static inline int len_variant(const struct len_fields *lf, const struct len_field *f, int k,
			      uint64_t *out)
{
	uint64_t v = len_get(lf, f->off, f->width);
	uint64_t max = f->width == 8 ? UINT64_MAX : (1ULL << (8 * f->width)) - 1;
	uint64_t past = lf->len - (f->off + (size_t)f->width) + 1;

	switch (k) {
	case 0:
		*out = 0;
		return v != 0;
	case 1:
		*out = v - 1;
		return v > 1;
	case 2:
		*out = v + 1;
		return v < max;
	case 3:
		*out = max;
		return v != max && v + 1 != max;
	default:
		*out = past;
		return past <= max && past != v && past != v + 1;
	}
}

static inline void len_put(uint8_t *b, const struct len_field *f, uint64_t value)
{
	for (int i = 0; i < f->width; i++)
		b[f->off + i] = (uint8_t)(value >> (8 * i));
}

#endif
