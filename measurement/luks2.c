/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict LUKS2 header validator (LUKS2 On-Disk Format Specification,
 * version 1.1.x: binary header, JSON metadata). A guest checks the header
 * area of a volume the host handed it against an allow-list before any key
 * is asked for, and then uses this very copy (never the disk's again) as a
 * detached header. Each refusal names what it stops: cipher_null volumes,
 * extra keyslots or tokens that a host could add, keyslot areas aimed at
 * the data, header copies that disagree, reencryption or integrity
 * metadata, and memory-hard PBKDFs a host could size against the guest.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "measurement/measurement.h"

#define BIN_HDR 4096

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int fail(char *err, size_t errlen, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, const char *code, const char *fmt, ...)
{
	va_list ap;
	char why[200];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return set_error(err, errlen, -EBADMSG, "%s: %s", code, why);
}

/* The buffer ends before what the header says it spans: -ENODATA, so a reader may read on. */
static int truncated(char *err, size_t errlen, const char *what)
{
	return set_error(err, errlen, -ENODATA, "E_LUKS_TRUNCATED: %s", what);
}

/* A JSON number written as a decimal string, as LUKS2 writes offsets and sizes. */
static int u64_string(const cJSON *o, const char *key, uint64_t *v)
{
	const char *s;
	char *end;

	if (json_get_string(o, key, &s) < 0 || !*s || strlen(s) > 20 || s[0] == '-' ||
	    (s[0] == '0' && s[1]))
		return -EBADMSG;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return *end || errno ? -EBADMSG : 0;
}

/*
 * A JSON number that is an integer in [lo, hi] (hi at most 2^53 - 1, below
 * which doubles are exact): checked before any cast, so that no float value
 * from the header reaches an integer conversion out of range.
 */
static bool int_number(const cJSON *o, const char *key, uint64_t lo, uint64_t hi, uint64_t *v)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);
	double d;

	if (!cJSON_IsNumber(m))
		return false;
	d = m->valuedouble;
	if (!(d >= (double)lo && d <= (double)hi && d <= 9007199254740991.0) || d != floor(d))
		return false;
	*v = (uint64_t)d;
	return true;
}

/* a + b, refused (false) when the sum does not fit in 64 bits */
static bool add_ok(uint64_t a, uint64_t b, uint64_t *sum)
{
	return !__builtin_add_overflow(a, b, sum);
}

/* Exactly one member, named "0". */
static const cJSON *only_zero(const cJSON *o)
{
	if (!cJSON_IsObject(o) || cJSON_GetArraySize(o) != 1 || !o->child ||
	    strcmp(o->child->string, "0"))
		return NULL;
	return o->child;
}

static bool only_members(const cJSON *o, const char *const *names, size_t n)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, o) {
		size_t i;

		for (i = 0; i < n && strcmp(names[i], m->string); i++)
			;
		if (i == n)
			return false;
	}
	return true;
}

static bool str_is(const cJSON *o, const char *key, const char *want)
{
	const char *s;

	return json_get_string(o, key, &s) == 0 && !strcmp(s, want);
}

static bool array_is_zero(const cJSON *o, const char *key)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsArray(a) && cJSON_GetArraySize(a) == 1 && cJSON_IsString(a->child) &&
	       !strcmp(a->child->valuestring, "0");
}

/* One binary header and its JSON area: magic, version, size, offset and checksum. */
static int check_bin(const uint8_t *p, size_t avail, bool primary, uint64_t *hdr_size, char *err,
		     size_t errlen)
{
	static const uint8_t magic1[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
	static const uint8_t magic2[6] = { 'S', 'K', 'U', 'L', 0xba, 0xbe };
	const char *which = primary ? "primary" : "secondary";
	uint8_t sum[32];
	uint64_t size;
	EVP_MD_CTX *c;
	unsigned n = 0;
	int ok;

	if (avail < BIN_HDR)
		return truncated(err, errlen,
				 primary ? "the primary header is cut short"
					 : "the secondary header is cut short");
	if (memcmp(p, primary ? magic1 : magic2, 6))
		return fail(err, errlen, "E_LUKS_MAGIC", "the %s header has no LUKS2 magic", which);
	if (p[6] != 0 || p[7] != 2)
		return fail(err, errlen, "E_LUKS_VERSION", "the %s header is not LUKS2", which);
	size = be64(p + 8);
	/* 16 KiB to 4 MiB, a power of two (the specification's list) */
	if (size < 16384 || size > 4194304 || (size & (size - 1)))
		return fail(err, errlen, "E_LUKS_HDR_SIZE", "%s header size %llu not allowed",
			    which, (unsigned long long)size);
	if (size > avail)
		return truncated(err, errlen,
				 primary ? "the primary header area is cut short"
					 : "the secondary header area is cut short");
	if (be64(p + 256) != (primary ? 0 : size))
		return fail(err, errlen, "E_LUKS_HDR_OFFSET", "the %s header's offset is wrong",
			    which);
	if (strncmp((const char *)p + 72, "sha256", 32))
		return fail(err, errlen, "E_LUKS_CHECKSUM",
			    "the %s header's checksum is not sha256", which);
	c = EVP_MD_CTX_new();
	ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(c, p, 448) == 1 &&
	     EVP_DigestUpdate(c, (const uint8_t[64]){ 0 }, 64) == 1 &&
	     EVP_DigestUpdate(c, p + 512, size - 512) == 1 && EVP_DigestFinal_ex(c, sum, &n) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -ENOMEM;
	if (memcmp(sum, p + 448, 32) || !is_zero(p + 448 + 32, 32))
		return fail(err, errlen, "E_LUKS_CHECKSUM", "the %s header's checksum is wrong",
			    which);
	*hdr_size = size;
	return 0;
}

/* What the checks below learn from the header, in order. */
struct luks_walk {
	const struct luks2_allow *allow;
	uint64_t device_size;
	uint64_t size1;	   /* of one metadata copy: binary header and JSON area */
	uint64_t meta_end; /* end of both metadata copies */
	uint64_t kss;	   /* config.keyslots_size */
	uint64_t area_end; /* end of the keyslots area */
	uint64_t ks_end;   /* end of keyslot 0's area */
	uint64_t seg_off;  /* where the data segment starts */
};

/* Both binary headers valid and the same (salts aside), and the JSON area parsed. */
static int check_copies(const uint8_t *buf, size_t len, struct luks_walk *w, struct luks2_header *h,
			cJSON **j, char *err, size_t errlen)
{
	static const char *const top[] = { "keyslots", "tokens", "segments", "digests", "config" };
	uint64_t size1, size2;
	size_t jlen;
	int r;

	r = check_bin(buf, len, true, &size1, err, errlen);
	if (r < 0)
		return r;
	r = check_bin(buf + size1, len - size1, false, &size2, err, errlen);
	if (r < 0)
		return r;
	/* Both copies the same: sizes, sequence, label, UUID, subsystem, salts aside, and JSON. */
	if (size1 != size2 || memcmp(buf + 8, buf + size1 + 8, 96) ||
	    memcmp(buf + 168, buf + size1 + 168, 88) ||
	    memcmp(buf + BIN_HDR, buf + size1 + BIN_HDR, size1 - BIN_HDR))
		return fail(err, errlen, "E_LUKS_COPIES", "the two header copies disagree");
	w->size1 = h->hdr_size = size1;
	/* the JSON area: text, then only NULs */
	jlen = strnlen((const char *)buf + BIN_HDR, size1 - BIN_HDR);
	if (jlen == size1 - BIN_HDR || !is_zero(buf + BIN_HDR + jlen, size1 - BIN_HDR - jlen) ||
	    json_parse((const char *)buf + BIN_HDR, jlen, j) < 0 || !cJSON_IsObject(*j))
		return fail(err, errlen, "E_LUKS_JSON", "the JSON metadata does not parse");
	if (!only_members(*j, top, ARRAY_SIZE(top)))
		return fail(err, errlen, "E_LUKS_JSON", "unknown top-level metadata");
	return 0;
}

/* No tokens; config: sizes consistent, no flags or requirements (reencryption, ...). */
static int check_config(const cJSON *j, struct luks_walk *w, char *err, size_t errlen)
{
	static const char *const cfg_names[] = { "json_size", "keyslots_size" };
	const cJSON *m, *cfg;
	uint64_t json_size;

	/* a token can point the guest at another key source */
	m = cJSON_GetObjectItemCaseSensitive(j, "tokens");
	if (!cJSON_IsObject(m) || cJSON_GetArraySize(m) != 0)
		return fail(err, errlen, "E_LUKS_TOKENS", "the header carries tokens");
	cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
	if (!cJSON_IsObject(cfg) || !only_members(cfg, cfg_names, ARRAY_SIZE(cfg_names)))
		return fail(err, errlen, "E_LUKS_CONFIG",
			    "config carries flags or requirements (reencryption)");
	if (u64_string(cfg, "json_size", &json_size) < 0 || json_size != w->size1 - BIN_HDR ||
	    u64_string(cfg, "keyslots_size", &w->kss) < 0 || w->kss % 4096)
		return fail(err, errlen, "E_LUKS_CONFIG", "config sizes inconsistent");
	/* both metadata copies, then the keyslots area, all inside the header area allowed */
	w->meta_end = 2 * w->size1; /* size1 <= 4 MiB */
	if (w->kss > w->allow->max_header_area || !add_ok(w->meta_end, w->kss, &w->area_end) ||
	    w->area_end > w->allow->max_header_area)
		return fail(err, errlen, "E_LUKS_CONFIG",
			    "keyslots_size %llu larger than the header area allowed",
			    (unsigned long long)w->kss);
	return 0;
}

/* The keyslot's KDF: PBKDF2-SHA256 within the iterations allowed. */
static int check_kdf(const cJSON *kdf, const struct luks2_allow *allow, char *err, size_t errlen)
{
	static const char *const kdf_names[] = { "type", "hash", "iterations", "salt" };
	uint64_t iters;

	if (!cJSON_IsObject(kdf) || !only_members(kdf, kdf_names, ARRAY_SIZE(kdf_names)))
		return fail(err, errlen, "E_LUKS_KDF", "keyslot has no plain kdf");
	if (!str_is(kdf, "type", "pbkdf2"))
		return fail(err, errlen, "E_LUKS_KDF",
			    "keyslot KDF is not PBKDF2 (a memory-hard KDF is sized by the host)");
	if (!str_is(kdf, "hash", "sha256") ||
	    !int_number(kdf, "iterations", 1000, allow->max_pbkdf2_iter, &iters))
		return fail(err, errlen, "E_LUKS_KDF",
			    "PBKDF2 must be sha256 with 1000 to %llu iterations",
			    (unsigned long long)allow->max_pbkdf2_iter);
	return 0;
}

/* One plain luks2 keyslot, its area inside the keyslots area. */
static int check_keyslot(const cJSON *j, struct luks_walk *w, char *err, size_t errlen)
{
	static const char *const ks_names[] = {
		"type", "key_size", "af", "area", "kdf", "priority"
	};
	static const char *const area_names[] = { "type", "offset", "size", "encryption",
						  "key_size" };
	static const char *const af_names[] = { "type", "hash", "stripes" };
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "keyslots"), *ks, *area, *af;
	uint64_t ks_off, ks_size, n;

	ks = only_zero(m);
	if (!ks)
		return fail(err, errlen, "E_LUKS_KEYSLOTS", "%d keyslots; exactly one is allowed",
			    cJSON_IsObject(m) ? cJSON_GetArraySize(m) : -1);
	area = cJSON_GetObjectItemCaseSensitive(ks, "area");
	af = cJSON_GetObjectItemCaseSensitive(ks, "af");
	if (!only_members(ks, ks_names, ARRAY_SIZE(ks_names)) || !str_is(ks, "type", "luks2") ||
	    !cJSON_IsObject(area) || !only_members(area, area_names, ARRAY_SIZE(area_names)) ||
	    !str_is(area, "type", "raw") || !cJSON_IsObject(af) ||
	    !only_members(af, af_names, ARRAY_SIZE(af_names)) || !str_is(af, "type", "luks1") ||
	    !str_is(af, "hash", "sha256"))
		return fail(err, errlen, "E_LUKS_KEYSLOT",
			    "keyslot 0 is not a plain luks2 keyslot");
	if (!str_is(area, "encryption", "aes-xts-plain64"))
		return fail(err, errlen, "E_LUKS_CIPHER", "keyslot cipher is not aes-xts-plain64");
	if (u64_string(area, "offset", &ks_off) < 0 || u64_string(area, "size", &ks_size) < 0)
		return fail(err, errlen, "E_LUKS_KEYSLOT", "keyslot area malformed");
	/* the area's own key_size is what encrypts the keyslot (cryptsetup reads it) */
	if (!int_number(ks, "key_size", 64, 64, &n) || !int_number(area, "key_size", 64, 64, &n))
		return fail(err, errlen, "E_LUKS_KEYSLOT", "keyslot key is not 512 bits");
	if (!int_number(af, "stripes", 4000, 4000, &n) || ks_size < 64 * 4000)
		return fail(err, errlen, "E_LUKS_KEYSLOT", "keyslot anti-forensic split unusual");
	/* the keyslot area lies in the keyslots area, after both metadata copies */
	if (ks_off < w->meta_end || ks_off % 4096 || ks_size > w->kss ||
	    !add_ok(ks_off, ks_size, &w->ks_end) || w->ks_end > w->area_end)
		return fail(err, errlen, "E_LUKS_KEYSLOT_AREA",
			    "the keyslot area lies outside the keyslots area");
	return check_kdf(cJSON_GetObjectItemCaseSensitive(ks, "kdf"), w->allow, err, errlen);
}

/* The segment's cipher, one of those allowed, into h->cipher. */
static int check_cipher(const cJSON *seg, const struct luks2_allow *allow, struct luks2_header *h,
			char *err, size_t errlen)
{
	const char *s;
	bool ok = false;

	if (json_get_string(seg, "encryption", &s) < 0)
		return fail(err, errlen, "E_LUKS_CIPHER", "segment has no cipher");
	for (size_t i = 0; allow->ciphers[i]; i++)
		ok |= !strcmp(s, allow->ciphers[i]);
	if (!ok)
		return fail(err, errlen, "E_LUKS_CIPHER", "segment cipher %.40s not allowed", s);
	snprintf(h->cipher, sizeof(h->cipher), "%s", s);
	return 0;
}

/* Where the data starts and ends: after every byte of metadata and keyslots, inside the device. */
static int check_segment_extent(const cJSON *seg, struct luks_walk *w, char *err, size_t errlen)
{
	const struct luks2_allow *allow = w->allow;
	uint64_t end;

	if (u64_string(seg, "offset", &w->seg_off) < 0 || w->seg_off % 4096)
		return fail(err, errlen, "E_LUKS_SEGMENT", "segment offset malformed");
	if (w->seg_off < w->area_end || w->seg_off < w->ks_end)
		return fail(err, errlen, "E_LUKS_OVERLAP",
			    "the data segment overlaps the keyslots");
	if (w->seg_off > allow->max_header_area)
		return fail(err, errlen, "E_LUKS_HDR_SIZE", "header area of %llu bytes too large",
			    (unsigned long long)w->seg_off);
	if (!str_is(seg, "size", "dynamic")) {
		uint64_t sz;

		if (u64_string(seg, "size", &sz) < 0 || sz == 0 || sz % allow->sector_size ||
		    !add_ok(w->seg_off, sz, &end) || end > w->device_size)
			return fail(err, errlen, "E_LUKS_SEGMENT",
				    "segment size malformed or past the device");
	}
	if (!add_ok(w->seg_off, allow->sector_size, &end) || w->device_size < end)
		return fail(err, errlen, "E_VOLUME_TRUNCATED", "the volume ends before its data");
	return 0;
}

/* One plain crypt segment of an allowed cipher and sector size. */
static int check_segment(const cJSON *j, struct luks_walk *w, struct luks2_header *h, char *err,
			 size_t errlen)
{
	static const char *const seg_names[] = { "type",     "offset",	   "size",
						 "iv_tweak", "encryption", "sector_size",
						 "integrity" };
	const cJSON *seg = only_zero(cJSON_GetObjectItemCaseSensitive(j, "segments"));
	uint64_t n;
	int r;

	if (!seg)
		return fail(err, errlen, "E_LUKS_SEGMENTS", "exactly one segment is allowed");
	if (!only_members(seg, seg_names, ARRAY_SIZE(seg_names)) || !str_is(seg, "type", "crypt"))
		return fail(err, errlen, "E_LUKS_SEGMENT",
			    "segment 0 is not a plain crypt segment");
	r = check_cipher(seg, w->allow, h, err, errlen);
	if (r < 0)
		return r;
	if (cJSON_GetObjectItemCaseSensitive(seg, "integrity") && !w->allow->integrity)
		return fail(err, errlen, "E_LUKS_INTEGRITY", "segment integrity not asked for");
	if (!int_number(seg, "sector_size", w->allow->sector_size, w->allow->sector_size, &n))
		return fail(err, errlen, "E_LUKS_SECTOR", "segment sector size is not %u",
			    w->allow->sector_size);
	if (!str_is(seg, "iv_tweak", "0"))
		return fail(err, errlen, "E_LUKS_SEGMENT", "segment iv_tweak is not 0");
	return check_segment_extent(seg, w, err, errlen);
}

/* One digest binding keyslot 0 to segment 0. */
static int check_digest(const cJSON *j, char *err, size_t errlen)
{
	const cJSON *dg = only_zero(cJSON_GetObjectItemCaseSensitive(j, "digests"));

	if (!dg || !str_is(dg, "type", "pbkdf2") || !array_is_zero(dg, "keyslots") ||
	    !array_is_zero(dg, "segments"))
		return fail(err, errlen, "E_LUKS_DIGESTS",
			    "exactly one pbkdf2 digest of keyslot 0 and segment 0 is allowed");
	return 0;
}

int luks2_header_validate(const uint8_t *buf, size_t len, uint64_t device_size,
			  const struct luks2_allow *allow, struct luks2_header *h, char *err,
			  size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;
	struct luks_walk w = { .allow = allow, .device_size = device_size };
	int r;

	memset(h, 0, sizeof(*h));
	if (device_size == 0)
		return fail(err, errlen, "E_VOLUME_EMPTY", "the volume has zero length");
	if ((r = check_copies(buf, len, &w, h, &j, err, errlen)) < 0)
		return r;
	if ((r = check_config(j, &w, err, errlen)) < 0 ||
	    (r = check_keyslot(j, &w, err, errlen)) < 0 ||
	    (r = check_segment(j, &w, h, err, errlen)) < 0 ||
	    (r = check_digest(j, err, errlen)) < 0)
		return r;
	/* known from here: a reader of a prefix reads on to it */
	h->data_offset = w.seg_off;
	if (len < w.seg_off)
		return truncated(err, errlen, "header area not read whole");
	h->sector_size = allow->sector_size;
	if (EVP_Digest(buf, w.seg_off, h->sha256, NULL, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	return 0;
}

void luks2_allow_defaults(struct luks2_allow *a)
{
	static const char *const xts[] = { "aes-xts-plain64", NULL };

	memset(a, 0, sizeof(*a));
	a->ciphers = xts;
	a->sector_size = 4096;
	a->max_pbkdf2_iter = 10000000;
	a->max_header_area = 16 * 1024 * 1024 + 32 * 1024;
}
