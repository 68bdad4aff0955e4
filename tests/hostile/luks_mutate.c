/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS2 header mutations with good checksums: `luks_mutate IN OUT NAME`
 * copies the volume IN to OUT with the named change made to the JSON
 * metadata (or binary header) of both copies, and both SHA-256 checksums
 * recomputed (LUKS2 On-Disk Format 1.1, 2.1: over hdr_size bytes with the
 * 64-byte csum field zeroed), so the change reaches past the checksum.
 * `luks_mutate list` names the mutations; `luks_mutate check IMG` runs the
 * guest's header check (luks2_header_validate with the default allow-list,
 * over the bytes the agent reads) and exits 1 on a refusal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "measurement/measurement.h"

#define AREA (16 * 1024 * 1024 + 32 * 1024)

static uint8_t *img;
static size_t img_len;

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void set(cJSON *o, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key))
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
	else
		cJSON_AddItemToObject(o, key, v);
}

static cJSON *path(cJSON *j, const char *a, const char *b, const char *c)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(j, a);

	if (b)
		o = cJSON_GetObjectItemCaseSensitive(o, b);
	if (c)
		o = cJSON_GetObjectItemCaseSensitive(o, c);
	return o;
}

/* One mutation of the parsed JSON; json_copy 1 changes the secondary copy only. */
struct mutation {
	const char *name;
	const char *why;
};

static const struct mutation mutations[] = {
	{ "keyslots-size-huge", "keyslots_size 2^64 - 32768, the keyslot area on the data" },
	{ "keyslots-size-past-area", "keyslots_size larger than the header area allowed" },
	{ "keyslot-on-data", "the keyslot area overlapping the data segment" },
	{ "keyslot-on-header", "the keyslot area overlapping the binary headers" },
	{ "keyslot-size-wrap", "the keyslot area's end wrapping past 2^64" },
	{ "iterations-huge", "PBKDF2 iterations 1e300" },
	{ "iterations-negative", "PBKDF2 iterations -1000" },
	{ "iterations-fractional", "PBKDF2 iterations 1000.5" },
	{ "iterations-string", "PBKDF2 iterations as a string" },
	{ "area-key-size", "the keyslot area's key_size 32" },
	{ "segment-unaligned", "the segment offset not a multiple of 4096" },
	{ "segment-size-wrap", "the segment size wrapping past 2^64" },
	{ "segment-past-file", "the data offset beyond the end of the file" },
	{ "segment-on-keyslots", "the data segment starting inside the keyslots area" },
	{ "json-size-wrong", "config.json_size not hdr_size - 4096" },
	{ "hdr-size-wrong", "the binary header's hdr_size 32768 with json_size unchanged" },
	{ "copies-disagree", "the secondary header's JSON differs" },
	{ "second-offset-wrong", "the secondary header's hdr_offset 0" },
	{ "sector-size-fractional", "the segment sector_size 4096.5" },
	{ "stripes-huge", "AF stripes 1e20" },
};

static void mutate(const char *name, cJSON *j, int copy, uint64_t *hdr_size)
{
	cJSON *area = path(j, "keyslots", "0", "area"), *kdf = path(j, "keyslots", "0", "kdf");
	cJSON *seg = path(j, "segments", "0", NULL), *cfg = path(j, "config", NULL, NULL);
	char n[32];

	if (!strcmp(name, "keyslots-size-huge")) {
		set(cfg, "keyslots_size", cJSON_CreateString("18446744073709518848"));
		set(area, "offset", cJSON_CreateString("1048576"));
		set(area, "size", cJSON_CreateString("18446744073708503040"));
	} else if (!strcmp(name, "keyslots-size-past-area")) {
		set(cfg, "keyslots_size", cJSON_CreateString("1073741824"));
	} else if (!strcmp(name, "keyslot-on-data")) {
		set(area, "offset", cJSON_CreateString("1048576"));
	} else if (!strcmp(name, "keyslot-on-header")) {
		set(area, "offset", cJSON_CreateString("16384"));
	} else if (!strcmp(name, "keyslot-size-wrap")) {
		set(area, "size", cJSON_CreateString("18446744073709518848"));
	} else if (!strcmp(name, "iterations-huge")) {
		set(kdf, "iterations", cJSON_CreateNumber(1e300));
	} else if (!strcmp(name, "iterations-negative")) {
		set(kdf, "iterations", cJSON_CreateNumber(-1000));
	} else if (!strcmp(name, "iterations-fractional")) {
		set(kdf, "iterations", cJSON_CreateNumber(1000.5));
	} else if (!strcmp(name, "iterations-string")) {
		set(kdf, "iterations", cJSON_CreateString("1000"));
	} else if (!strcmp(name, "area-key-size")) {
		set(area, "key_size", cJSON_CreateNumber(32));
	} else if (!strcmp(name, "segment-unaligned")) {
		set(seg, "offset", cJSON_CreateString("1049088"));
	} else if (!strcmp(name, "segment-size-wrap")) {
		set(seg, "size", cJSON_CreateString("18446744073708507136"));
	} else if (!strcmp(name, "segment-past-file")) {
		snprintf(n, sizeof(n), "%zu", (img_len + 4096) / 4096 * 4096);
		set(seg, "offset", cJSON_CreateString(n));
	} else if (!strcmp(name, "segment-on-keyslots")) {
		set(seg, "offset", cJSON_CreateString("262144"));
	} else if (!strcmp(name, "json-size-wrong")) {
		set(cfg, "json_size", cJSON_CreateString("28672"));
	} else if (!strcmp(name, "hdr-size-wrong")) {
		*hdr_size = 32768;
	} else if (!strcmp(name, "copies-disagree")) {
		if (copy == 1)
			set(area, "priority", cJSON_CreateNumber(2));
	} else if (!strcmp(name, "sector-size-fractional")) {
		set(seg, "sector_size", cJSON_CreateNumber(4096.5));
	} else if (!strcmp(name, "stripes-huge")) {
		set(path(j, "keyslots", "0", "af"), "stripes", cJSON_CreateNumber(1e20));
	}
}

/* Rewrites copy c (at offset off) with its JSON mutated and its checksum recomputed. */
static int rewrite(const char *name, size_t off, int c)
{
	uint8_t *p = img + off;
	uint64_t size = be64(p + 8), new_size;
	cJSON *j = cJSON_ParseWithLength((const char *)p + 4096, size - 4096);
	char *t;

	if (!j)
		return -EBADMSG;
	new_size = size;
	mutate(name, j, c, &new_size);
	t = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!t || strlen(t) >= size - 4096)
		return free(t), -ENOSPC;
	memset(p + 4096, 0, size - 4096);
	memcpy(p + 4096, t, strlen(t));
	free(t);
	put_be64(p + 8, new_size);
	if (!strcmp(name, "second-offset-wrong") && c == 1)
		put_be64(p + 256, 0);
	if (off + new_size > img_len)
		new_size = size;
	memset(p + 448, 0, 64);
	return EVP_Digest(p, new_size, p + 448, NULL, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
}

static int check(void)
{
	struct luks2_allow allow;
	struct luks2_header h;
	char err[256];

	luks2_allow_defaults(&allow);
	if (luks2_header_validate(img, img_len < AREA ? img_len : AREA, img_len, &allow, &h, err,
				  sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("valid: data offset %llu\n", (unsigned long long)h.data_offset);
	return 0;
}

static int load(const char *file)
{
	FILE *f = fopen(file, "rb");
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		return -errno;
	img_len = (size_t)n;
	img = malloc(img_len ? img_len : 1);
	if (!img || fread(img, 1, img_len, f) != img_len) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t size;
	size_t i;
	FILE *f;

	if (argc == 2 && !strcmp(argv[1], "list")) {
		for (i = 0; i < ARRAY_SIZE(mutations); i++)
			printf("%s\t%s\n", mutations[i].name, mutations[i].why);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "check"))
		return load(argv[2]) < 0 ? (perror(argv[2]), 2) : check();
	if (argc != 4) {
		fprintf(stderr, "usage: luks_mutate list | check IMG | IN OUT NAME\n");
		return 2;
	}
	for (i = 0; i < ARRAY_SIZE(mutations) && strcmp(mutations[i].name, argv[3]); i++)
		;
	if (i == ARRAY_SIZE(mutations))
		return fprintf(stderr, "luks_mutate: no mutation %s\n", argv[3]), 2;
	if (load(argv[1]) < 0 || img_len < 4096 || (size = be64(img + 8)) > img_len / 2 ||
	    size < 16384)
		return fprintf(stderr, "luks_mutate: %s: not a LUKS2 volume\n", argv[1]), 2;
	if (rewrite(argv[3], 0, 0) < 0 || rewrite(argv[3], size, 1) < 0)
		return fprintf(stderr, "luks_mutate: %s: cannot rewrite\n", argv[3]), 2;
	f = fopen(argv[2], "wb");
	if (!f || fwrite(img, 1, img_len, f) != img_len || fclose(f) != 0)
		return perror(argv[2]), 2;
	return 0;
}
