/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JOSE as the KBS protocol uses it: EC P-256 JWKs (RFC 7517/7518 §6.2),
 * flattened JWE with ECDH-ES+A256KW and A256GCM (RFC 7516, RFC 7518 §4.6
 * and §5.3), and ES256 compact JWS for tokens (RFC 7515, RFC 7518 §3.4).
 */
#include <errno.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/lib.h"

static int add_b64url(cJSON *o, const char *key, const void *p, size_t n)
{
	_cleanup_free_ char *s = NULL;

	if (base64_encode(p, n, BASE64_URL, &s) < 0 || !cJSON_AddStringToObject(o, key, s))
		return -ENOMEM;
	return 0;
}

/* A base64url member of exactly n bytes (n == 0: any length up to cap, in *out). */
static int get_b64url(const cJSON *o, const char *key, uint8_t **out, size_t *len, size_t want,
		      size_t cap)
{
	const char *s;
	uint8_t *b = NULL;
	size_t n = 0;

	if (json_get_string(o, key, &s) < 0)
		return -EBADMSG;
	if (strlen(s) > cap / 3 * 4 + 4 || base64_decode(s, strlen(s), BASE64_URL, &b, &n) < 0)
		return -EBADMSG;
	if ((want && n != want) || n > cap) {
		free(b);
		return -EBADMSG;
	}
	*out = b;
	*len = n;
	return 0;
}

int jwk_from_pkey(EVP_PKEY *k, cJSON **out)
{
	uint8_t xy[64];
	cJSON *j;

	if (p256_key_xy(k, xy) < 0)
		return -EINVAL;
	j = cJSON_CreateObject();
	if (!j || !cJSON_AddStringToObject(j, "kty", "EC") ||
	    !cJSON_AddStringToObject(j, "crv", "P-256") ||
	    !cJSON_AddStringToObject(j, "alg", JWE_ALG) || add_b64url(j, "x", xy, 32) < 0 ||
	    add_b64url(j, "y", xy + 32, 32) < 0) {
		cJSON_Delete(j);
		return -ENOMEM;
	}
	*out = j;
	return 0;
}

int jwk_to_pkey(const cJSON *jwk, EVP_PKEY **out, char *err, size_t errlen)
{
	const char *s;
	_cleanup_free_ uint8_t *x = NULL, *y = NULL;
	uint8_t xy[64];
	size_t n;

	if (!cJSON_IsObject(jwk))
		return set_error(err, errlen, -EBADMSG, "the key is not a JSON object");
	if (json_get_string(jwk, "kty", &s) < 0 || strcmp(s, "EC"))
		return set_error(err, errlen, -EBADMSG, "the key's kty is not EC");
	if (json_get_string(jwk, "crv", &s) < 0 || strcmp(s, "P-256"))
		return set_error(err, errlen, -EBADMSG, "the key's crv is not P-256");
	if (cJSON_GetObjectItemCaseSensitive(jwk, "alg") &&
	    (json_get_string(jwk, "alg", &s) < 0 || strcmp(s, JWE_ALG)))
		return set_error(err, errlen, -EBADMSG, "the key's alg is not " JWE_ALG);
	if (cJSON_GetObjectItemCaseSensitive(jwk, "d"))
		return set_error(err, errlen, -EBADMSG, "the key carries a private part");
	if (get_b64url(jwk, "x", &x, &n, 32, 32) < 0 || get_b64url(jwk, "y", &y, &n, 32, 32) < 0)
		return set_error(err, errlen, -EBADMSG,
				 "the key's x and y are not 32 bytes of base64url each");
	memcpy(xy, x, 32);
	memcpy(xy + 32, y, 32);
	if (p256_key_from_xy(xy, out) < 0)
		return set_error(err, errlen, -EBADMSG, "the key's point is not on P-256");
	return 0;
}

int concat_kdf_sha256(const uint8_t *z, size_t zlen, const char *alg, const uint8_t *apu,
		      size_t apulen, const uint8_t *apv, size_t apvlen, uint8_t *out, size_t outlen)
{
	uint8_t d[32];
	CLEANUP_ERASE(d);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t be[4];
	size_t done = 0;
	uint32_t counter = 1;
	int r = 0;

#define BE32(v)                                                                                   \
	(be[0] = (uint8_t)((v) >> 24), be[1] = (uint8_t)((v) >> 16), be[2] = (uint8_t)((v) >> 8), \
	 be[3] = (uint8_t)(v), be)
	if (!c)
		return -ENOMEM;
	while (done < outlen && r == 0) {
		size_t take = outlen - done < 32 ? outlen - done : 32;

		if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(c, BE32(counter), 4) != 1 ||
		    EVP_DigestUpdate(c, z, zlen) != 1 ||
		    EVP_DigestUpdate(c, BE32(strlen(alg)), 4) != 1 ||
		    EVP_DigestUpdate(c, alg, strlen(alg)) != 1 ||
		    EVP_DigestUpdate(c, BE32(apulen), 4) != 1 ||
		    EVP_DigestUpdate(c, apu, apulen) != 1 ||
		    EVP_DigestUpdate(c, BE32(apvlen), 4) != 1 ||
		    EVP_DigestUpdate(c, apv, apvlen) != 1 ||
		    EVP_DigestUpdate(c, BE32(outlen * 8), 4) != 1 ||
		    EVP_DigestFinal_ex(c, d, NULL) != 1) {
			r = -EIO;
			break;
		}
		memcpy(out + done, d, take);
		done += take;
		counter++;
	}
#undef BE32
	EVP_MD_CTX_free(c);
	return r;
}

/*
 * ECDH between priv and peer, then the Concat KDF for ECDH-ES+A256KW: the
 * key-wrapping key. The peer's point is checked to be on the curve and not
 * at infinity (the quick check); OpenSSL's full check adds n*Q = O, one
 * more scalar multiplication, which P-256 (cofactor 1) makes redundant.
 */
static int derive_kek(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t kek[32])
{
	uint8_t z[32];
	CLEANUP_ERASE(z);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
	size_t zlen = sizeof(z);
	int r = -EIO;

	if (c && pc && EVP_PKEY_is_a(peer, "EC") && EVP_PKEY_public_check_quick(pc) == 1 &&
	    EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer_ex(c, peer, 0) == 1 &&
	    EVP_PKEY_derive(c, z, &zlen) == 1 && zlen == 32)
		r = concat_kdf_sha256(z, zlen, JWE_ALG, NULL, 0, NULL, 0, kek, 32);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_CTX_free(c);
	ERR_clear_error();
	return r;
}

/* RFC 3394 AES key wrap (wrap = 1) or unwrap of 32 key bytes (40 wrapped). */
static int aes_kw(const uint8_t kek[32], int wrap, const uint8_t *in, size_t inlen, uint8_t *out,
		  size_t *outlen)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, r = -EBADMSG;

	if (!c)
		return -ENOMEM;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(c, EVP_aes_256_wrap(), NULL, kek, NULL, wrap) == 1 &&
	    EVP_CipherUpdate(c, out, &n1, in, (int)inlen) == 1 &&
	    EVP_CipherFinal_ex(c, out + n1, &n2) == 1) {
		*outlen = (size_t)(n1 + n2);
		r = 0;
	}
	EVP_CIPHER_CTX_free(c);
	ERR_clear_error();
	return r;
}

static int aes_gcm(const uint8_t key[32], int enc, const uint8_t iv[12], const char *aad,
		   const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0, fin = 0, ok;

	if (!c)
		return -ENOMEM;
	if (n > INT32_MAX)
		return -EFBIG;
	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	     EVP_CipherInit_ex(c, NULL, NULL, key, iv, enc) == 1 &&
	     EVP_CipherUpdate(c, NULL, &len, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
	     (n == 0 || EVP_CipherUpdate(c, out, &len, in, (int)n) == 1) &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1) &&
	     EVP_CipherFinal_ex(c, out + (n ? len : 0), &fin) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	ERR_clear_error();
	return ok ? 0 : -EBADMSG;
}

int jwe_encrypt(EVP_PKEY *recipient, const uint8_t *pt, size_t n, cJSON **out)
{
	uint8_t kek[32], cek[32];
	CLEANUP_ERASE(kek);
	CLEANUP_ERASE(cek);
	_cleanup_(wiped_buf_free) struct wiped_buf ct = { .p = malloc(n ? n : 1), .n = n };
	EVP_PKEY *eph = NULL;
	cJSON *hdr = NULL, *epk = NULL, *jwe = NULL;
	_cleanup_free_ char *hdr_text = NULL, *protected = NULL;
	uint8_t wrapped[40], iv[12], tag[16];
	size_t wlen = 0;
	int r = -ENOMEM;

	if (p256_generate(&eph) < 0)
		return -ENOMEM;
	if (!ct.p || RAND_bytes(cek, sizeof(cek)) != 1 || RAND_bytes(iv, sizeof(iv)) != 1)
		goto out;
	r = derive_kek(eph, recipient, kek);
	if (r < 0)
		goto out;
	r = aes_kw(kek, 1, cek, sizeof(cek), wrapped, &wlen);
	if (r < 0 || wlen != sizeof(wrapped))
		goto out;
	r = -ENOMEM;
	hdr = cJSON_CreateObject();
	if (!hdr || jwk_from_pkey(eph, &epk) < 0)
		goto out;
	cJSON_DeleteItemFromObjectCaseSensitive(epk, "alg");
	if (!cJSON_AddStringToObject(hdr, "alg", JWE_ALG) ||
	    !cJSON_AddStringToObject(hdr, "enc", JWE_ENC) ||
	    !cJSON_AddItemToObject(hdr, "epk", epk)) {
		cJSON_Delete(epk);
		goto out;
	}
	hdr_text = cJSON_PrintUnformatted(hdr);
	if (!hdr_text || base64_encode(hdr_text, strlen(hdr_text), BASE64_URL, &protected) < 0)
		goto out;
	r = aes_gcm(cek, 1, iv, protected, pt, n, ct.p, tag);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	jwe = cJSON_CreateObject();
	if (!jwe || !cJSON_AddStringToObject(jwe, "protected", protected) ||
	    add_b64url(jwe, "encrypted_key", wrapped, sizeof(wrapped)) < 0 ||
	    add_b64url(jwe, "iv", iv, sizeof(iv)) < 0 ||
	    add_b64url(jwe, "ciphertext", ct.p, n) < 0 ||
	    add_b64url(jwe, "tag", tag, sizeof(tag)) < 0)
		goto out;
	*out = jwe;
	jwe = NULL;
	r = 0;
out:
	cJSON_Delete(jwe);
	cJSON_Delete(hdr);
	EVP_PKEY_free(eph);
	return r;
}

/* The JWE's protected header: alg, enc and epk as offered, nothing that changes the meaning. */
static int jwe_header(const char *protected, const cJSON *unprotected, EVP_PKEY **epk, char *err,
		      size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL;
	_cleanup_(cJSON_Deletep) cJSON *h = NULL;
	const cJSON *m;
	const char *s;
	size_t n;

	if (strlen(protected) > 4096 ||
	    base64_decode(protected, strlen(protected), BASE64_URL, &text, &n) < 0 ||
	    json_parse((const char *)text, n, &h) < 0 || !cJSON_IsObject(h))
		return set_error(err, errlen, -EBADMSG,
				 "JWE protected header is not base64url of a JSON object");
	if (json_get_string(h, "alg", &s) < 0 || strcmp(s, JWE_ALG))
		return set_error(err, errlen, -EBADMSG, "JWE alg is not " JWE_ALG);
	if (json_get_string(h, "enc", &s) < 0 || strcmp(s, JWE_ENC))
		return set_error(err, errlen, -EBADMSG, "JWE enc is not " JWE_ENC);
	cJSON_ArrayForEach(m, h) {
		if (strcmp(m->string, "alg") && strcmp(m->string, "enc") &&
		    strcmp(m->string, "epk") && strcmp(m->string, "kid") &&
		    strcmp(m->string, "typ") && strcmp(m->string, "cty"))
			return set_error(err, errlen, -EBADMSG,
					 "JWE protected header has an unsupported member \"%.32s\"",
					 m->string);
	}
	m = cJSON_GetObjectItemCaseSensitive(h, "epk");
	if (unprotected) {
		/* The epk may travel unprotected (as jwcrypto sends it): a changed epk fails the unwrap. */
		const cJSON *u;

		cJSON_ArrayForEach(u, unprotected) {
			if (strcmp(u->string, "epk") && strcmp(u->string, "kid"))
				return set_error(
					err, errlen, -EBADMSG,
					"JWE unprotected header has a member other than epk");
		}
		if (m && cJSON_GetObjectItemCaseSensitive(unprotected, "epk"))
			return set_error(err, errlen, -EBADMSG, "JWE has two epk");
		if (!m)
			m = cJSON_GetObjectItemCaseSensitive(unprotected, "epk");
	}
	if (!m)
		return set_error(err, errlen, -EBADMSG, "JWE has no epk");
	if (jwk_to_pkey(m, epk, err, errlen) < 0) {
		if (err && errlen > 5) {
			char tmp[256];

			snprintf(tmp, sizeof(tmp), "JWE epk: %s", err);
			snprintf(err, errlen, "%s", tmp);
		}
		return -EBADMSG;
	}
	return 0;
}

int jwe_decrypt(EVP_PKEY *priv, const cJSON *jwe, uint8_t **pt, size_t *n, char *err, size_t errlen)
{
	static const char *const members[] = { "protected", "encrypted_key", "iv", "ciphertext",
					       "tag",	    "header",	     "aad" };
	uint8_t kek[32], cek[48];
	CLEANUP_ERASE(kek);
	CLEANUP_ERASE(cek);
	_cleanup_free_ uint8_t *wrapped = NULL, *iv = NULL, *ct = NULL, *tag = NULL;
	EVP_PKEY *epk = NULL;
	const cJSON *m;
	const char *protected;
	uint8_t *plain = NULL;
	size_t wlen, ivlen, ctlen, taglen, ceklen = 0;
	int r;

	if (!cJSON_IsObject(jwe))
		return set_error(err, errlen, -EBADMSG, "JWE is not a JSON object");
	/* "aad" only as null */
	if ((m = json_unknown_member(jwe, members, ARRAY_SIZE(members))) ||
	    ((m = cJSON_GetObjectItemCaseSensitive(jwe, "aad")) && !cJSON_IsNull(m)))
		return set_error(err, errlen, -EBADMSG, "JWE has an unsupported member \"%.32s\"",
				 m->string);
	if (json_get_string(jwe, "protected", &protected) < 0)
		return set_error(err, errlen, -EBADMSG, "JWE has no protected header");
	if (get_b64url(jwe, "encrypted_key", &wrapped, &wlen, 40, 40) < 0)
		return set_error(err, errlen, -EBADMSG, "JWE encrypted_key is not 40 bytes");
	if (get_b64url(jwe, "iv", &iv, &ivlen, 12, 12) < 0)
		return set_error(err, errlen, -EBADMSG, "JWE iv is not 12 bytes");
	if (get_b64url(jwe, "tag", &tag, &taglen, 16, 16) < 0)
		return set_error(err, errlen, -EBADMSG, "JWE tag is not 16 bytes");
	if (get_b64url(jwe, "ciphertext", &ct, &ctlen, 0, CVM_CAP_JSON) < 0)
		return set_error(err, errlen, -EBADMSG, "JWE ciphertext is not base64url");
	m = cJSON_GetObjectItemCaseSensitive(jwe, "header");
	if (m && !cJSON_IsObject(m))
		return set_error(err, errlen, -EBADMSG, "JWE header is not an object");
	r = jwe_header(protected, m, &epk, err, errlen);
	if (r < 0)
		return r;
	r = derive_kek(priv, epk, kek);
	EVP_PKEY_free(epk);
	if (r < 0)
		return set_error(err, errlen, -EBADMSG, "JWE key agreement failed");
	r = aes_kw(kek, 0, wrapped, wlen, cek, &ceklen);
	if (r < 0 || ceklen != 32)
		return set_error(err, errlen, -EBADMSG,
				 "JWE encrypted_key does not unwrap with this key");
	plain = secret_alloc(ctlen);
	if (!plain)
		return -ENOMEM;
	r = aes_gcm(cek, 0, iv, protected, ct, ctlen, plain, tag);
	if (r < 0) {
		secret_free(plain, ctlen);
		return set_error(
			err, errlen, -EBADMSG,
			"JWE does not authenticate (ciphertext, tag, iv or header altered)");
	}
	*pt = plain;
	*n = ctlen;
	return 0;
}

static const char jwt_header[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";

int jwt_sign_es256(EVP_PKEY *k, const cJSON *claims, char **out)
{
	_cleanup_free_ char *h = NULL, *body = NULL, *c = NULL, *signing = NULL, *sig64 = NULL;
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *sig = NULL;
	uint8_t der[80], rs[64];
	const uint8_t *p = der;
	size_t derlen = sizeof(der);
	int r = -ENOMEM;

	body = cJSON_PrintUnformatted(claims);
	if (!body || base64_encode(jwt_header, strlen(jwt_header), BASE64_URL, &h) < 0 ||
	    base64_encode(body, strlen(body), BASE64_URL, &c) < 0 ||
	    asprintf(&signing, "%s.%s", h, c) < 0) {
		signing = NULL;
		return -ENOMEM;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(ctx, der, &derlen, (const uint8_t *)signing, strlen(signing)) != 1)
		goto out;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) != 32 ||
	    base64_encode(rs, 64, BASE64_URL, &sig64) < 0 ||
	    asprintf(out, "%s.%s", signing, sig64) < 0)
		goto out;
	r = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int jwt_verify_es256(EVP_PKEY *k, const char *token, cJSON **claims, char *err, size_t errlen)
{
	const char *d1, *d2;
	_cleanup_free_ uint8_t *h = NULL, *c = NULL, *sig = NULL;
	size_t hn, cn, sn, len = strlen(token);
	cJSON *j = NULL;

	if (len > 64 * 1024)
		return set_error(err, errlen, -EBADMSG, "token too long");
	d1 = strchr(token, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return set_error(err, errlen, -EBADMSG, "token is not a compact JWS");
	if (base64_decode(token, (size_t)(d1 - token), BASE64_URL, &h, &hn) < 0 ||
	    hn != strlen(jwt_header) || memcmp(h, jwt_header, hn))
		return set_error(err, errlen, -EBADMSG, "token header is not this broker's ES256");
	if (base64_decode(d2 + 1, strlen(d2 + 1), BASE64_URL, &sig, &sn) < 0 || sn != 64 ||
	    ecdsa_verify_raw(k, EVP_sha256(), (const uint8_t *)token, (size_t)(d2 - token), sig,
			     sig + 32, 32) < 0)
		return set_error(err, errlen, -EBADMSG, "token signature does not verify");
	if (base64_decode(d1 + 1, (size_t)(d2 - d1 - 1), BASE64_URL, &c, &cn) < 0 ||
	    json_parse((const char *)c, cn, &j) < 0 || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return set_error(err, errlen, -EBADMSG, "token claims are not a JSON object");
	}
	*claims = j;
	return 0;
}
