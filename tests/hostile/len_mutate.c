/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Length-field mutations of real evidence: `len_mutate KIND IN OUTDIR`
 * writes OUTDIR/FIELD-VARIANT.bin for every length (and type) field of IN
 * it knows, each set to 0, one below, one above, the maximum of its type,
 * and one past the end of the input, and prints the names it wrote. KIND is
 * tdx (a quote, version 4 or 5), snp (an attestation report) or tcg2 (a
 * crypto-agile TCG2 event log, e.g. a CCEL). A verifier must refuse each.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *in;
static size_t in_len;
static const char *outdir;

static uint64_t get(size_t off, int width)
{
	uint64_t v = 0;

	for (int i = width - 1; i >= 0; i--)
		v = v << 8 | in[off + i];
	return v;
}

static void emit(const char *field, const char *variant, size_t off, int width, uint64_t value)
{
	char path[1024];
	uint8_t *b = malloc(in_len);
	FILE *f;

	if (!b)
		exit(2);
	memcpy(b, in, in_len);
	for (int i = 0; i < width; i++)
		b[off + i] = (uint8_t)(value >> (8 * i));
	snprintf(path, sizeof(path), "%s/%s-%s.bin", outdir, field, variant);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, in_len, f) != in_len || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
	free(b);
	printf("%s-%s\n", field, variant);
}

/* A length field: 0, one below, one above, the type's maximum, one past the end. */
static void length(const char *field, size_t off, int width)
{
	uint64_t v, max = width == 8 ? UINT64_MAX : (1ULL << (8 * width)) - 1;
	uint64_t past = in_len - (off + (size_t)width) + 1;

	if (off + (size_t)width > in_len)
		return;
	v = get(off, width);
	if (v != 0)
		emit(field, "zero", off, width, 0);
	if (v > 1)
		emit(field, "minus1", off, width, v - 1);
	if (v < max)
		emit(field, "plus1", off, width, v + 1);
	if (v != max && v + 1 != max)
		emit(field, "max", off, width, max);
	if (past <= max && past != v && past != v + 1)
		emit(field, "past-end", off, width, past);
}

/* A type or version field: each value listed that differs from the input's. */
static void type(const char *field, size_t off, int width, const uint64_t *vals, size_t n)
{
	char variant[32];

	if (off + (size_t)width > in_len)
		return;
	for (size_t i = 0; i < n; i++) {
		if (vals[i] == get(off, width))
			continue;
		snprintf(variant, sizeof(variant), "%llu", (unsigned long long)vals[i]);
		emit(field, variant, off, width, vals[i]);
	}
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
static void tdx(void)
{
	static const uint64_t versions[] = { 0, 3, 6, 0xffff };
	static const uint64_t body_types[] = { 0, 1, 4, 0xffff };
	static const uint64_t cert_types[] = { 0, 5, 7, 0xffff };
	static const uint64_t pem_types[] = { 0, 6, 7, 0xffff };
	size_t off = 48, cert, auth;

	type("version", 0, 2, versions, 4);
	if (get(0, 2) == 5) {
		type("body-type", 48, 2, body_types, 4);
		length("body-size", 50, 4);
		off = 48 + 6 + get(50, 4);
	} else {
		off = 48 + 584;
	}
	length("sig-data-len", off, 4);
	cert = off + 4 + 128;
	type("cert-type", cert, 2, cert_types, 4);
	length("cert-size", cert + 2, 4);
	auth = cert + 6 + 384 + 64;
	length("qe-auth-size", auth, 2);
	if (auth + 2 > in_len)
		return;
	off = auth + 2 + get(auth, 2);
	type("pck-cert-type", off, 2, pem_types, 4);
	length("pck-cert-size", off + 2, 4);
}

/* SEV-SNP ABI spec 56860, Table 23: a fixed layout; version @0, signature algorithm @52. */
static void snp(void)
{
	static const uint64_t versions[] = { 0, 1, 6, 0xffffffff };
	static const uint64_t algos[] = { 0, 2, 0xffffffff };

	type("version", 0, 4, versions, 4);
	type("sig-algo", 52, 4, algos, 3);
}

/*
 * TCG PC Client Platform Firmware Profile 1.05, 10.2.1 (TCG_PCClientPCREvent,
 * the SHA-1 shaped first event), 10.4.5.1 (TCG_EfiSpecIdEvent) and 10.2.2
 * (TCG_PCR_EVENT2): the Spec ID event's size, algorithm count, each digest
 * size and vendorInfoSize; then each of the first events' digest count and
 * event size, and the last event's size.
 */
static void tcg2(void)
{
	char name[64];
	size_t off, nalg, last = 0;
	uint16_t sizes[16][2];

	if (in_len < 64)
		return;
	length("spec-event-size", 28, 4);
	length("spec-alg-count", 56, 4);
	nalg = get(56, 4);
	if (nalg > 16 || 60 + 4 * nalg + 1 > in_len)
		return;
	for (size_t i = 0; i < nalg; i++) {
		snprintf(name, sizeof(name), "spec-digest-size%zu", i);
		length(name, 60 + 4 * i + 2, 2);
		sizes[i][0] = (uint16_t)get(60 + 4 * i, 2);
		sizes[i][1] = (uint16_t)get(60 + 4 * i + 2, 2);
	}
	length("spec-vendor-info-size", 60 + 4 * nalg, 1);
	off = 32 + get(28, 4);
	for (int e = 1; off + 12 <= in_len; e++) {
		size_t n = get(off + 8, 4), p = off + 12, esz;

		if (n == 0 || n > nalg || get(off, 4) == 0xffffffff)
			break;
		for (size_t k = 0; k < n && p + 2 <= in_len; k++) {
			size_t i;

			for (i = 0; i < nalg && sizes[i][0] != get(p, 2); i++)
				;
			if (i == nalg)
				return;
			p += 2 + sizes[i][1];
		}
		if (p + 4 > in_len)
			break;
		esz = get(p, 4);
		if (e <= 3) {
			snprintf(name, sizeof(name), "event%d-digest-count", e);
			length(name, off + 8, 4);
			snprintf(name, sizeof(name), "event%d-size", e);
			length(name, p, 4);
		}
		last = p;
		if (p + 4 + esz > in_len)
			break;
		off = p + 4 + esz;
	}
	if (last)
		length("last-event-size", last, 4);
}

int main(int argc, char **argv)
{
	FILE *f;
	long n;

	if (argc != 4) {
		fprintf(stderr, "usage: len_mutate tdx|snp|tcg2 IN OUTDIR\n");
		return 2;
	}
	outdir = argv[3];
	f = fopen(argv[2], "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
		return perror(argv[2]), 2;
	in_len = (size_t)n;
	in = malloc(in_len);
	if (!in || fread(in, 1, in_len, f) != in_len)
		return perror(argv[2]), 2;
	fclose(f);
	if (!strcmp(argv[1], "tdx"))
		tdx();
	else if (!strcmp(argv[1], "snp"))
		snp();
	else if (!strcmp(argv[1], "tcg2"))
		tcg2();
	else
		return fprintf(stderr, "len_mutate: unknown kind %s\n", argv[1]), 2;
	free(in);
	return 0;
}
