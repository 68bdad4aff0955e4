/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A LUKS2 header written from given bytes (LUKS2 On-Disk Format
 * Specification 1.1.x; the anti-forensic split as LUKS1's specification
 * section "AF-Splitter" defines it). libcryptsetup formats well, but draws
 * the UUID, the salts and the split's stripes from the system's random
 * source with no way for a caller to supply them, so two packs of the same
 * content can never agree. Here every one of those bytes comes from the
 * caller's source: the same inputs give the same header, and libcryptsetup
 * (cryptsetup luksDump, open, the guest's unlock) reads what this writes.
 *
 * The shape is the one luks2_header_validate() allows and `cvm pack`
 * always made: two metadata copies, one luks2 keyslot (PBKDF2-SHA256, AF
 * 4000 stripes, aes-xts-plain64 over 512-byte sectors from the area's
 * start), one pbkdf2 digest, one crypt segment, no tokens.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "measurement/measurement.h"

#define BIN_HDR 4096
#define AF_STRIPES 4000
#define KEY_BYTES 64
#define KDF_ITER 1000 /* libcryptsetup's minimum: the passphrase is a 256-bit key */

static void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* AF diffusion: each 32-byte block i becomes SHA-256(be32(i) || block). */
static int af_diffuse(uint8_t *b, size_t n)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int r = c ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i * 32 < n; i++) {
		uint8_t iv[4] = { (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
				  (uint8_t)i };
		uint8_t d[32];
		size_t len = n - i * 32 < 32 ? n - i * 32 : 32;

		if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(c, iv, 4) != 1 || EVP_DigestUpdate(c, b + i * 32, len) != 1 ||
		    EVP_DigestFinal_ex(c, d, NULL) != 1)
			r = -EIO;
		else
			memcpy(b + i * 32, d, len);
	}
	EVP_MD_CTX_free(c);
	return r;
}

/* The split: stripes 0..n-2 are the caller's bytes, the last one makes them add up to mk. */
static int af_split(const uint8_t mk[KEY_BYTES], uint8_t *out, luks2_random_fn rnd, void *ctx)
{
	uint8_t acc[KEY_BYTES] = { 0 };
	CLEANUP_ERASE(acc);
	int r = rnd(ctx, "af stripes", out, (size_t)KEY_BYTES * (AF_STRIPES - 1));

	for (size_t i = 0; r == 0 && i < AF_STRIPES - 1; i++) {
		for (size_t k = 0; k < KEY_BYTES; k++)
			acc[k] ^= out[i * KEY_BYTES + k];
		r = af_diffuse(acc, KEY_BYTES);
	}
	for (size_t k = 0; r == 0 && k < KEY_BYTES; k++)
		out[(size_t)(AF_STRIPES - 1) * KEY_BYTES + k] = acc[k] ^ mk[k];
	return r;
}

/* AES-XTS over 512-byte sectors, IVs counting from 0 (the keyslot's plain64). */
static int xts_sectors(const uint8_t key[KEY_BYTES], uint8_t *buf, size_t n)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int r = c ? 0 : -ENOMEM;

	for (size_t s = 0; r == 0 && s < n; s += 512) {
		uint8_t iv[16] = { 0 };
		int l1 = 0, l2 = 0;

		put_le(iv, s / 512, 8);
		if (EVP_EncryptInit_ex(c, EVP_aes_256_xts(), NULL, key, iv) != 1 ||
		    EVP_EncryptUpdate(c, buf + s, &l1, buf + s, 512) != 1 ||
		    EVP_EncryptFinal_ex(c, buf + s + l1, &l2) != 1)
			r = -EIO;
	}
	EVP_CIPHER_CTX_free(c);
	return r;
}

static int pbkdf2(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
		  uint8_t *out, size_t outlen)
{
	return PKCS5_PBKDF2_HMAC((const char *)pw, (int)pwlen, salt, (int)saltlen, KDF_ITER,
				 EVP_sha256(), (int)outlen, out) == 1
		       ? 0
		       : -EIO;
}

/* The keyslot area: mk split, then encrypted under PBKDF2(pass, kdf_salt). */
static int keyslot_write(uint8_t *area, const uint8_t mk[KEY_BYTES], const uint8_t *pass,
			 size_t pass_len, const uint8_t kdf_salt[32], luks2_random_fn rnd,
			 void *ctx)
{
	uint8_t kek[KEY_BYTES];
	CLEANUP_ERASE(kek);
	int r = af_split(mk, area, rnd, ctx);

	if (r == 0)
		r = pbkdf2(pass, pass_len, kdf_salt, 32, kek, sizeof(kek));
	if (r == 0)
		r = xts_sectors(kek, area, (size_t)KEY_BYTES * AF_STRIPES);
	return r;
}

static void add_u64s(cJSON *o, const char *name, uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	cJSON_AddStringToObject(o, name, s);
}

/* keyslots.0, as libcryptsetup writes it */
static int json_keyslot(cJSON *root, const struct luks2_layout *l, uint64_t area_size,
			const uint8_t kdf_salt[32])
{
	cJSON *ks = cJSON_AddObjectToObject(cJSON_AddObjectToObject(root, "keyslots"), "0");
	cJSON *af, *area, *kdf;

	if (!ks)
		return -ENOMEM;
	cJSON_AddStringToObject(ks, "type", "luks2");
	cJSON_AddNumberToObject(ks, "key_size", KEY_BYTES);
	af = cJSON_AddObjectToObject(ks, "af");
	cJSON_AddStringToObject(af, "type", "luks1");
	cJSON_AddNumberToObject(af, "stripes", AF_STRIPES);
	cJSON_AddStringToObject(af, "hash", "sha256");
	area = cJSON_AddObjectToObject(ks, "area");
	cJSON_AddStringToObject(area, "type", "raw");
	add_u64s(area, "offset", 2 * l->metadata_size);
	add_u64s(area, "size", area_size);
	cJSON_AddStringToObject(area, "encryption", "aes-xts-plain64");
	cJSON_AddNumberToObject(area, "key_size", KEY_BYTES);
	kdf = cJSON_AddObjectToObject(ks, "kdf");
	cJSON_AddStringToObject(kdf, "type", "pbkdf2");
	cJSON_AddStringToObject(kdf, "hash", "sha256");
	cJSON_AddNumberToObject(kdf, "iterations", KDF_ITER);
	return json_add_base64(kdf, "salt", kdf_salt, 32);
}

/* tokens, segments.0, digests.0 and config */
static int json_rest(cJSON *root, const struct luks2_layout *l, const uint8_t dg_salt[32],
		     const uint8_t dg[32])
{
	cJSON *seg, *d, *a, *cfg;

	cJSON_AddObjectToObject(root, "tokens");
	seg = cJSON_AddObjectToObject(cJSON_AddObjectToObject(root, "segments"), "0");
	if (!seg)
		return -ENOMEM;
	cJSON_AddStringToObject(seg, "type", "crypt");
	add_u64s(seg, "offset", l->header_size);
	cJSON_AddStringToObject(seg, "size", "dynamic");
	cJSON_AddStringToObject(seg, "iv_tweak", "0");
	cJSON_AddStringToObject(seg, "encryption", "aes-xts-plain64");
	cJSON_AddNumberToObject(seg, "sector_size", l->sector_size);
	d = cJSON_AddObjectToObject(cJSON_AddObjectToObject(root, "digests"), "0");
	if (!d)
		return -ENOMEM;
	cJSON_AddStringToObject(d, "type", "pbkdf2");
	a = cJSON_AddArrayToObject(d, "keyslots");
	cJSON_AddItemToArray(a, cJSON_CreateString("0"));
	a = cJSON_AddArrayToObject(d, "segments");
	cJSON_AddItemToArray(a, cJSON_CreateString("0"));
	cJSON_AddStringToObject(d, "hash", "sha256");
	cJSON_AddNumberToObject(d, "iterations", KDF_ITER);
	if (json_add_base64(d, "salt", dg_salt, 32) < 0 || json_add_base64(d, "digest", dg, 32) < 0)
		return -ENOMEM;
	cfg = cJSON_AddObjectToObject(root, "config");
	add_u64s(cfg, "json_size", l->metadata_size - BIN_HDR);
	add_u64s(cfg, "keyslots_size", l->header_size - 2 * l->metadata_size);
	return 0;
}

/* The JSON area's text, or NULL. */
static char *json_text(const struct luks2_layout *l, const uint8_t mk[KEY_BYTES],
		       luks2_random_fn rnd, void *ctx, const uint8_t kdf_salt[32],
		       uint64_t area_size)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	uint8_t dg_salt[32], dg[32];

	if (!root || rnd(ctx, "digest salt", dg_salt, sizeof(dg_salt)) < 0 ||
	    pbkdf2(mk, KEY_BYTES, dg_salt, sizeof(dg_salt), dg, sizeof(dg)) < 0 ||
	    json_keyslot(root, l, area_size, kdf_salt) < 0 || json_rest(root, l, dg_salt, dg) < 0)
		return NULL;
	return cJSON_PrintUnformatted(root);
}

/* One binary header over its JSON area, its checksum last. */
static int bin_header(uint8_t *p, const struct luks2_layout *l, bool primary, const char *uuid,
		      luks2_random_fn rnd, void *ctx)
{
	static const uint8_t magic1[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
	static const uint8_t magic2[6] = { 'S', 'K', 'U', 'L', 0xba, 0xbe };
	unsigned n = 0;

	memcpy(p, primary ? magic1 : magic2, 6);
	p[7] = 2;				    /* version */
	be64_put(p + 8, l->metadata_size);	    /* hdr_size */
	be64_put(p + 16, 1);			    /* seqid */
	memcpy(p + 24, l->label, strlen(l->label)); /* label[48] */
	memcpy(p + 72, "sha256", 6);		    /* checksum_alg[32] */
	if (rnd(ctx, primary ? "header salt 1" : "header salt 2", p + 104, 64) < 0)
		return -EIO;
	memcpy(p + 168, uuid, 36); /* uuid[40] */
	be64_put(p + 256, primary ? 0 : l->metadata_size);
	/* csum[64] at 448: SHA-256 of the whole copy with the field zero */
	return EVP_Digest(p, l->metadata_size, p + 448, &n, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

static int uuid_text(char out[37], luks2_random_fn rnd, void *ctx)
{
	uint8_t u[16];

	if (rnd(ctx, "uuid", u, sizeof(u)) < 0)
		return -EIO;
	u[6] = (u[6] & 0x0f) | 0x40; /* RFC 4122 version 4 */
	u[8] = (u[8] & 0x3f) | 0x80; /* and variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
	return 0;
}

int luks2_format(uint8_t *hdr, const struct luks2_layout *l, const uint8_t mk[64],
		 const uint8_t *pass, size_t pass_len, luks2_random_fn rnd, void *ctx)
{
	const uint64_t split = (uint64_t)KEY_BYTES * AF_STRIPES;
	const uint64_t area_size = (split + 4095) / 4096 * 4096;
	_cleanup_free_ char *json = NULL;
	uint8_t kdf_salt[32];
	char uuid[37];
	size_t jlen;
	int r;

	if (l->metadata_size < 16384 || l->metadata_size > 4194304 ||
	    (l->metadata_size & (l->metadata_size - 1)) || strlen(l->label) > 47 ||
	    l->header_size % 4096 || l->header_size < 2 * l->metadata_size + area_size)
		return -EINVAL;
	memset(hdr, 0, l->header_size);
	if (rnd(ctx, "kdf salt", kdf_salt, sizeof(kdf_salt)) < 0 || uuid_text(uuid, rnd, ctx) < 0)
		return -EIO;
	json = json_text(l, mk, rnd, ctx, kdf_salt, area_size);
	jlen = json ? strlen(json) : 0;
	if (!json || jlen >= l->metadata_size - BIN_HDR)
		return -ENOMEM;
	memcpy(hdr + BIN_HDR, json, jlen);
	memcpy(hdr + l->metadata_size + BIN_HDR, json, jlen);
	r = keyslot_write(hdr + 2 * l->metadata_size, mk, pass, pass_len, kdf_salt, rnd, ctx);
	if (r == 0)
		r = bin_header(hdr, l, true, uuid, rnd, ctx);
	if (r == 0)
		r = bin_header(hdr + l->metadata_size, l, false, uuid, rnd, ctx);
	if (r < 0)
		OPENSSL_cleanse(hdr, l->header_size);
	return r;
}
