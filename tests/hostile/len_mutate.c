/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Length-field mutations of real evidence: `len_mutate KIND IN OUTDIR`
 * writes OUTDIR/FIELD-VARIANT.bin for every length (and type) field of IN
 * it knows (tests/fuzz/len_fields.h), each length set to 0, one below, one
 * above, the maximum of its type, and one past the end of the input, each
 * type to the other values listed, and prints the names it wrote. KIND is
 * tdx (a quote, version 4 or 5), snp (an attestation report) or tcg2 (a
 * crypto-agile TCG2 event log, e.g. a CCEL). A verifier must refuse each.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/len_fields.h"

static uint8_t *in;
static size_t in_len;
static const char *outdir;

static void emit(const struct len_field *f, const char *variant, uint64_t value)
{
	char path[1024];
	uint8_t *b = malloc(in_len);
	FILE *out;

	if (!b)
		exit(2);
	memcpy(b, in, in_len);
	len_put(b, f, value);
	snprintf(path, sizeof(path), "%s/%s-%s.bin", outdir, f->name, variant);
	out = fopen(path, "wb");
	if (!out || fwrite(b, 1, in_len, out) != in_len || fclose(out) != 0) {
		perror(path);
		exit(2);
	}
	free(b);
	printf("%s-%s\n", f->name, variant);
}

int main(int argc, char **argv)
{
	static struct len_fields lf;
	enum len_kind kind;
	FILE *f;
	long n;

	if (argc != 4) {
		fprintf(stderr, "usage: len_mutate tdx|snp|tcg2 IN OUTDIR\n");
		return 2;
	}
	if (!strcmp(argv[1], "tdx"))
		kind = LEN_TDX;
	else if (!strcmp(argv[1], "snp"))
		kind = LEN_SNP;
	else if (!strcmp(argv[1], "tcg2"))
		kind = LEN_TCG2;
	else
		return fprintf(stderr, "len_mutate: unknown kind %s\n", argv[1]), 2;
	outdir = argv[3];
	f = fopen(argv[2], "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
		return perror(argv[2]), 2;
	in_len = (size_t)n;
	in = malloc(in_len);
	if (!in || fread(in, 1, in_len, f) != in_len)
		return perror(argv[2]), 2;
	fclose(f);
	len_fields_find(&lf, kind, in, in_len);
	for (size_t i = 0; i < lf.n; i++) {
		const struct len_field *fl = &lf.f[i];
		uint64_t v;

		if (fl->types) {
			for (size_t k = 0; k < fl->ntypes; k++) {
				char name[32];

				if (fl->types[k] == len_get(&lf, fl->off, fl->width))
					continue;
				snprintf(name, sizeof(name), "%llu",
					 (unsigned long long)fl->types[k]);
				emit(fl, name, fl->types[k]);
			}
			continue;
		}
		for (int k = 0; k < LEN_VARIANTS; k++)
			if (len_variant(&lf, fl, k, &v))
				emit(fl, len_variant_name(k), v);
	}
	free(in);
	return 0;
}
