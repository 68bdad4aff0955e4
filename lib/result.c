/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result bundle (.cvmr, docs/result.md): the job's output sealed to the
 * customer's secp256k1 key (ECDH, HKDF-SHA256, AES-256-GCM chunks whose
 * nonces carry their index and a last-chunk flag) and signed by the key the
 * agent measured at boot, with fresh evidence binding both. Streamed both
 * ways: one chunk in memory. Here: the keys, the sealing primitives and the
 * output disk's commit record and order block; the writer is result_seal.c,
 * the reader and the customer's safe extraction of the tar result_open.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>

#include "lib/lib.h"
#include "lib/result_internal.h"

secp256k1_context *cvm_secp256k1(void)
{
	static secp256k1_context *c;
	uint8_t seed[32];
	CLEANUP_ERASE(seed);

	if (c)
		return c;
	c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	/* blinding of the signing and ECDH multiplications (secp256k1.h, context_randomize) */
	if (c && (RAND_bytes(seed, sizeof(seed)) != 1 || !secp256k1_context_randomize(c, seed))) {
		secp256k1_context_destroy(c);
		c = NULL;
	}
	return c;
}

int result_sha256(const void *p, size_t n, uint8_t out[32])
{
	return EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

/* report_data = SHA-512(D || signing public key), docs/result.md "Binding". */
int result_binding(const uint8_t d[32], const uint8_t pub[33], uint8_t rd[64])
{
	uint8_t m[65];

	memcpy(m, d, 32);
	memcpy(m + 32, pub, 33);
	return EVP_Digest(m, sizeof(m), rd, NULL, EVP_sha512(), NULL) == 1 ? 0 : -EIO;
}

/* ---- keys ---- */

static int pub_from_sk(struct result_key *k)
{
	secp256k1_pubkey pk;
	size_t n = 33;

	if (!cvm_secp256k1() || !secp256k1_ec_pubkey_create(cvm_secp256k1(), &pk, k->sk) ||
	    !secp256k1_ec_pubkey_serialize(cvm_secp256k1(), k->pub, &n, &pk,
					   SECP256K1_EC_COMPRESSED))
		return -EINVAL;
	return 0;
}

int result_key_generate(struct result_key *k, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	if (!cvm_secp256k1() || !(k->sk = secret_alloc(32)))
		return set_error(err, errlen, -ENOMEM, "E_RESULT_KEY: out of memory");
	do {
		if (RAND_priv_bytes(k->sk, 32) != 1) {
			result_key_wipe(k);
			return set_error(err, errlen, -EIO, "E_RESULT_KEY: no randomness");
		}
	} while (!secp256k1_ec_seckey_verify(cvm_secp256k1(), k->sk));
	if (pub_from_sk(k) < 0) {
		result_key_wipe(k);
		return set_error(err, errlen, -EIO, "E_RESULT_KEY: no public key");
	}
	return 0;
}

void result_key_wipe(struct result_key *k)
{
	secret_free(k->sk, 32);
	k->sk = NULL;
}

void result_key_pub_hex(const struct result_key *k, char out[67])
{
	hex_encode(k->pub, 33, out);
}

int result_pub_from_hex(const char *hex, uint8_t pub[33])
{
	secp256k1_pubkey pk;

	if (strlen(hex) != 66 || hex_decode_exact(hex, pub, 33) < 0 || !cvm_secp256k1() ||
	    !secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, pub, 33))
		return -EINVAL;
	return 0;
}

/* Encrypted keys are refused rather than prompting on a terminal. */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

static int sk_from_pem(const uint8_t *text, size_t len, uint8_t sk[32])
{
	BIO *b = BIO_new_mem_buf(text, (int)len);
	EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
	BIGNUM *bn = NULL;
	char group[32];
	int r = -EINVAL;

	if (pk &&
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   NULL) == 1 &&
	    !strcmp(group, "secp256k1") &&
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 &&
	    BN_bn2binpad(bn, sk, 32) == 32)
		r = 0;
	ERR_clear_error();
	BN_clear_free(bn);
	EVP_PKEY_free(pk);
	BIO_free(b);
	return r;
}

int result_key_load(const char *path, struct result_key *k, char *err, size_t errlen)
{
	uint8_t *text = NULL;
	size_t len = 0, n;
	int r = file_read(path, 64 * 1024, &text, &len);

	memset(k, 0, sizeof(*k));
	if (r < 0)
		return set_error(err, errlen, r, "E_RESULT_KEY: %s: %s", path, strerror(-r));
	if (!(k->sk = secret_alloc(32))) {
		secret_free(text, len + 1);
		return set_error(err, errlen, -ENOMEM, "E_RESULT_KEY: out of memory");
	}
	for (n = len; n && (text[n - 1] == '\n' || text[n - 1] == '\r'); n--)
		;
	r = -EINVAL;
	if (n == 64) {
		uint8_t c = text[64];

		text[64] = 0;
		r = hex_decode_exact((const char *)text, k->sk, 32);
		text[64] = c;
	}
	if (r < 0)
		r = sk_from_pem(text, len, k->sk);
	secret_free(text, len + 1);
	if (r < 0 || !cvm_secp256k1() || !secp256k1_ec_seckey_verify(cvm_secp256k1(), k->sk) ||
	    pub_from_sk(k) < 0) {
		result_key_wipe(k);
		return set_error(err, errlen, -EINVAL,
				 "E_RESULT_KEY: %s: not a secp256k1 private key (unencrypted PEM "
				 "or 64 hex digits)",
				 path);
	}
	return 0;
}

static EVP_PKEY *pkey_of(const struct result_key *k)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	BIGNUM *bn = BN_secure_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pk = NULL;

	if (bld && pc && bn && BN_bin2bn(k->sk, 32, bn) &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, k->pub, 33) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(pc) == 1)
		EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_KEYPAIR, params);
	OSSL_PARAM_free(params); /* frees the secure-heap copy of the key too */
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pc);
	BN_clear_free(bn);
	return pk;
}

int result_key_save(const struct result_key *k, const char *path, char *err, size_t errlen)
{
	EVP_PKEY *pk = k->sk ? pkey_of(k) : NULL;
	BIO *b = BIO_new(BIO_s_secmem()); /* the PEM text is as secret as the key */
	char *pem = NULL;
	long n = 0;
	int r;

	if (pk && b && PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(b, &pem)) > 0)
		r = file_write_atomic(path, pem, (size_t)n, err, errlen);
	else
		r = set_error(err, errlen, -EIO, "E_RESULT_KEY: %s: cannot encode the key", path);
	EVP_PKEY_free(pk);
	BIO_free(b);
	return r;
}

bool result_input_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RESULT_INPUT_NAME_MAX ||
	    !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

bool result_order_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RESULT_ORDER_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/* ---- sealing ---- */

/* The shared secret is the x coordinate of the ECDH point, as in SEC 1 §3.3.1. */
static int ecdh_x(unsigned char *out, const unsigned char *x, const unsigned char *y, void *data)
{
	(void)y;
	(void)data;
	memcpy(out, x, 32);
	return 1;
}

/*
 * key = HKDF-SHA256 (RFC 5869): IKM the ECDH x coordinate, salt
 * "cvm-result-v1", info ephemeral public key || recipient public key.
 */
int result_derive(const uint8_t *sk, const uint8_t peer[33], const uint8_t eph[33],
		  const uint8_t recipient[33], uint8_t key[32])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	uint8_t x[32], info[66];
	CLEANUP_ERASE(x);
	secp256k1_pubkey pk;
	OSSL_PARAM p[5];
	int ok;

	memcpy(info, eph, 33);
	memcpy(info + 33, recipient, 33);
	ok = kc && cvm_secp256k1() && secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, peer, 33) &&
	     secp256k1_ecdh(cvm_secp256k1(), x, &pk, sk, ecdh_x, NULL);
	if (ok) {
		p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
		p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, x, 32);
		p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, HKDF_SALT,
							 strlen(HKDF_SALT));
		p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info));
		p[4] = OSSL_PARAM_construct_end();
		ok = EVP_KDF_derive(kc, key, 32, p) == 1;
	}
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	return ok ? 0 : -EIO;
}

/* The 96-bit nonce: chunk index big-endian in bytes 0-7, zeros, the last-chunk flag in byte 11. */
static void nonce_of(uint64_t index, bool last, uint8_t n[12])
{
	for (int i = 0; i < 8; i++)
		n[i] = (uint8_t)(index >> (56 - 8 * i));
	n[8] = n[9] = n[10] = 0;
	n[11] = last ? 1 : 0;
}

EVP_CIPHER_CTX *result_gcm_new(bool enc, const uint8_t key[32])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	/* the key schedule is made once per bundle; each chunk sets only its nonce */
	if (c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

/*
 * One AES-256-GCM operation over a whole chunk. Decryption reports success
 * only once the tag has checked; the caller must not use out before that.
 */
int result_gcm(EVP_CIPHER_CTX *c, bool enc, uint64_t index, bool last, const uint8_t aad[32],
	       const uint8_t *in, uint8_t *out, size_t n, uint8_t tag[TAG_LEN])
{
	uint8_t nonce[12];
	int l = 0;

	nonce_of(index, last, nonce);
	return EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc) == 1 &&
			       EVP_CipherUpdate(c, NULL, &l, aad, 32) == 1 &&
			       (n == 0 || EVP_CipherUpdate(c, out, &l, in, (int)n) == 1) &&
			       (enc ||
				EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1) &&
			       EVP_CipherFinal_ex(c, out + (n ? l : 0), &l) == 1 &&
			       (!enc ||
				EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1)
		       ? 0
		       : -EBADMSG;
}

static bool tee_valid(const char *s)
{
	return s && (!strcmp(s, "snp") || !strcmp(s, "tdx") || !strcmp(s, "tpm"));
}

/* {"tee": "snp"|"tdx"|"tpm", "primary": {...}} and nothing else. */
bool result_evidence_shape_ok(const cJSON *ev)
{
	return cJSON_IsObject(ev) && cJSON_GetArraySize(ev) == 2 &&
	       tee_valid(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "tee"))) &&
	       cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(ev, "primary"));
}

/* ---- the output disk ---- */

#define COMMIT_MAGIC "CVMC"
#define ORDER_MAGIC "CVMO"
#define OUTDISK_VERSION 1
#define COMMIT_LEN 88 /* bytes 0-87 of block 0; the rest is zero */

int outdisk_commit_encode(const struct outdisk_commit *c, uint8_t b[OUTDISK_BLOCK])
{
	memset(b, 0, OUTDISK_BLOCK);
	memcpy(b, COMMIT_MAGIC, 4);
	put_le(b + 4, OUTDISK_VERSION, 4);
	put_le(b + 8, c->offset, 8);
	put_le(b + 16, c->length, 8);
	memcpy(b + 24, c->sha256, 32);
	return result_sha256(b, 56, b + 56);
}

int outdisk_commit_parse(const uint8_t b[OUTDISK_BLOCK], struct outdisk_commit *c)
{
	uint8_t d[32];

	if (is_zero(b, OUTDISK_BLOCK))
		return -ENOENT;
	if (result_sha256(b, 56, d) < 0 || memcmp(b, COMMIT_MAGIC, 4) ||
	    le32(b + 4) != OUTDISK_VERSION || CRYPTO_memcmp(d, b + 56, 32) ||
	    !is_zero(b + COMMIT_LEN, OUTDISK_BLOCK - COMMIT_LEN))
		return -EBADMSG;
	c->offset = le64(b + 8);
	c->length = le64(b + 16);
	memcpy(c->sha256, b + 24, 32);
	if (c->offset != OUTDISK_BUNDLE_OFFSET || c->length < PREAMBLE_LEN ||
	    c->length > (1ull << 50))
		return -EBADMSG;
	return 0;
}

int outdisk_order_encode(const char *order_id, uint8_t b[OUTDISK_BLOCK])
{
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	_cleanup_free_ char *text = NULL;
	size_t n = 0;

	if (!result_order_id_valid(order_id))
		return -EINVAL;
	if (!(o = cJSON_CreateObject()) || !cJSON_AddStringToObject(o, "order_id", order_id) ||
	    jcs_serialize(o, &text, &n) < 0 || n > OUTDISK_ORDER_MAX)
		return -ENOMEM;
	memset(b, 0, OUTDISK_BLOCK);
	memcpy(b, ORDER_MAGIC, 4);
	put_le(b + 4, OUTDISK_VERSION, 4);
	put_le(b + 8, n, 4);
	memcpy(b + 12, text, n);
	return 0;
}

int outdisk_order_parse(const uint8_t b[OUTDISK_BLOCK], char *order_id, size_t cap, char *err,
			size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	uint32_t n = le32(b + 8);
	const char *id;

	if (memcmp(b, ORDER_MAGIC, 4) || le32(b + 4) != OUTDISK_VERSION)
		return set_error(err, errlen, -EBADMSG,
				 "E_ORDER: no order block on the output disk");
	if (n == 0 || n > OUTDISK_ORDER_MAX || !is_zero(b + 12 + n, OUTDISK_ORDER_MAX - n) ||
	    json_parse((const char *)b + 12, n, &o) < 0 || !cJSON_IsObject(o) ||
	    cJSON_GetArraySize(o) != 1 || json_get_string(o, "order_id", &id) < 0)
		return set_error(err, errlen, -EBADMSG, "E_ORDER: the order block is malformed");
	if (!result_order_id_valid(id) || strlen(id) >= cap)
		return set_error(err, errlen, -EBADMSG, "E_ORDER: the order id is not valid");
	memcpy(order_id, id, strlen(id) + 1);
	return 0;
}
