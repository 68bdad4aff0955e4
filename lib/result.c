/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result bundle (.cvmr, docs/result.md): the job's output sealed to the
 * customer's secp256k1 key (ECDH, HKDF-SHA256, AES-256-GCM chunks whose
 * nonces carry their index and a last-chunk flag) and signed by the key the
 * agent measured at boot, with fresh evidence binding both. Streamed both
 * ways: one chunk in memory. Also the output disk's commit record and
 * order block, and the customer's safe extraction of the tar inside.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
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

#define PREAMBLE_LEN 12
#define LAST_FLAG 0x80000000u
#define TAG_LEN 16
#define HKDF_SALT "cvm-result-v1"

secp256k1_context *cvm_secp256k1(void)
{
	static secp256k1_context *c;
	uint8_t seed[32];

	if (c)
		return c;
	c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	/* blinding of the signing and ECDH multiplications (secp256k1.h, context_randomize) */
	if (c && (RAND_bytes(seed, sizeof(seed)) != 1 || !secp256k1_context_randomize(c, seed))) {
		secp256k1_context_destroy(c);
		c = NULL;
	}
	OPENSSL_cleanse(seed, sizeof(seed));
	return c;
}

static int sha256(const void *p, size_t n, uint8_t out[32])
{
	return EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

/* report_data = SHA-512(D || signing public key), docs/result.md "Binding". */
static int binding(const uint8_t d[32], const uint8_t pub[33], uint8_t rd[64])
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
static int derive(const uint8_t *sk, const uint8_t peer[33], const uint8_t eph[33],
		  const uint8_t recipient[33], uint8_t key[32])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	uint8_t x[32], info[66];
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
	OPENSSL_cleanse(x, sizeof(x));
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

/*
 * One AES-256-GCM operation over a whole chunk, in place. Decryption
 * reports success only once the tag has checked; the caller must not use
 * buf before that.
 */
static int gcm(bool enc, const uint8_t key[32], uint64_t index, bool last, const uint8_t aad[32],
	       uint8_t *buf, size_t n, uint8_t tag[TAG_LEN])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int l = 0, ok;

	nonce_of(index, last, nonce);
	ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
	     EVP_CipherUpdate(c, NULL, &l, aad, 32) == 1 &&
	     (n == 0 || EVP_CipherUpdate(c, buf, &l, buf, (int)n) == 1) &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1) &&
	     EVP_CipherFinal_ex(c, buf + (n ? l : 0), &l) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EBADMSG;
}

static bool tee_valid(const char *s)
{
	return s && (!strcmp(s, "snp") || !strcmp(s, "tdx") || !strcmp(s, "tpm"));
}

/* {"tee": "snp"|"tdx"|"tpm", "primary": {...}} and nothing else. */
static bool evidence_shape_ok(const cJSON *ev)
{
	return cJSON_IsObject(ev) && cJSON_GetArraySize(ev) == 2 &&
	       tee_valid(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "tee"))) &&
	       cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(ev, "primary"));
}

/* ---- the writer ---- */

enum { W_OPEN, W_DONE, W_FAILED };

struct result_writer {
	uint8_t key[32];
	uint8_t aad[32]; /* SHA-256 of the header */
	uint8_t signing_pub[33];
	const uint8_t *signing_sk;
	uint8_t *buf; /* one chunk of plaintext, sealed in place */
	size_t chunk, fill;
	uint64_t index;
	EVP_MD_CTX *d; /* D: every byte before the trailer */
	result_sink_fn sink;
	void *sink_ctx;
	int state;
};

static int emit(struct result_writer *w, const void *p, size_t n, bool hashed, char *err,
		size_t errlen)
{
	int r;

	if (hashed && EVP_DigestUpdate(w->d, p, n) != 1)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	if ((r = w->sink(w->sink_ctx, p, n)) < 0)
		return set_error(err, errlen, r, "E_OUTPUT_WRITE: %s", strerror(-r));
	return 0;
}

static cJSON *header_json(const uint8_t recipient[33], const uint8_t eph[33], size_t chunk,
			  const uint8_t signing[33], const struct result_meta *m)
{
	cJSON *h = cJSON_CreateObject(), *job;
	uint8_t rid[32];

	if (!h || sha256(recipient, 33, rid) < 0 ||
	    !cJSON_AddNumberToObject(h, "version", RESULT_VERSION) ||
	    !cJSON_AddStringToObject(h, "cipher", RESULT_CIPHER) ||
	    !json_add_hex(h, "recipient_key_id", rid, 32) ||
	    !json_add_hex(h, "ephemeral_pubkey", eph, 33) ||
	    !cJSON_AddNumberToObject(h, "chunk_size", (double)chunk) ||
	    !json_add_hex(h, "signing_pubkey", signing, 33) ||
	    !cJSON_AddStringToObject(h, "order_id", m->order_id) ||
	    !json_add_hex(h, "job_manifest_sha256", m->job_manifest_sha256, 32) ||
	    !json_add_hex(h, "workload_header_sha256", m->workload_header_sha256, 32) ||
	    !(job = cJSON_AddObjectToObject(h, "job")) ||
	    !cJSON_AddNumberToObject(job, "exit_code", m->exit_code) ||
	    !cJSON_AddNumberToObject(job, "signal", m->signal) ||
	    !cJSON_AddBoolToObject(job, "timed_out", m->timed_out) ||
	    !cJSON_AddBoolToObject(job, "partial", m->partial)) {
		cJSON_Delete(h);
		return NULL;
	}
	return h;
}

static bool meta_valid(const struct result_meta *m)
{
	return m->order_id && result_order_id_valid(m->order_id) && m->job_manifest_sha256 &&
	       m->workload_header_sha256 && m->exit_code >= -1 && m->exit_code <= 255 &&
	       m->signal >= 0 && m->signal <= 64;
}

/* A fresh ephemeral key: the chunk key, and the public half for the header. */
static int writer_key(struct result_writer *w, const uint8_t recipient[33], uint8_t eph_pub[33],
		      char *err, size_t errlen)
{
	struct result_key eph;
	int r = result_key_generate(&eph, err, errlen);

	if (r < 0)
		return r;
	memcpy(eph_pub, eph.pub, 33);
	r = derive(eph.sk, recipient, eph.pub, recipient, w->key);
	result_key_wipe(&eph);
	return r < 0 ? set_error(err, errlen, r, "E_RESULT: key agreement failed") : 0;
}

/* The preamble (docs/result.md): magic, version, three zero bytes, header length. */
static int writer_header(struct result_writer *w, const cJSON *h, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	uint8_t pre[PREAMBLE_LEN] = RESULT_MAGIC;
	size_t n = 0;
	int r;

	if (jcs_serialize(h, &text, &n) < 0 || n > RESULT_HEADER_MAX)
		return set_error(err, errlen, -ENOMEM, "E_RESULT: cannot encode the header");
	pre[4] = RESULT_VERSION;
	put_le(pre + 8, n, 4);
	if (sha256(text, n, w->aad) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	if ((r = emit(w, pre, sizeof(pre), true, err, errlen)) < 0)
		return r;
	return emit(w, text, n, true, err, errlen);
}

int result_writer_new(const uint8_t recipient[33], const struct result_key *signer,
		      const struct result_meta *meta, size_t chunk_size, result_sink_fn sink,
		      void *sink_ctx, struct result_writer **out, char *err, size_t errlen)
{
	struct result_writer *w;
	_cleanup_(cJSON_Deletep) cJSON *h = NULL;
	secp256k1_pubkey pk;
	uint8_t eph_pub[33];
	int r;

	*out = NULL;
	if (!chunk_size)
		chunk_size = RESULT_CHUNK_DEFAULT;
	if (chunk_size < RESULT_CHUNK_MIN || chunk_size > RESULT_CHUNK_MAX)
		return set_error(err, errlen, -EINVAL, "E_RESULT: chunk size out of range");
	if (!meta_valid(meta))
		return set_error(err, errlen, -EINVAL, "E_RESULT: bad order id or job outcome");
	if (!signer->sk || !cvm_secp256k1() ||
	    !secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, recipient, 33))
		return set_error(err, errlen, -EINVAL, "E_RESULT: bad recipient or signing key");
	if (!(w = calloc(1, sizeof(*w))))
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	w->chunk = chunk_size;
	w->sink = sink;
	w->sink_ctx = sink_ctx;
	w->signing_sk = signer->sk;
	memcpy(w->signing_pub, signer->pub, 33);
	if (!(w->buf = secret_alloc(chunk_size + TAG_LEN)) || !(w->d = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(w->d, EVP_sha256(), NULL) != 1)
		r = set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	else if ((r = writer_key(w, recipient, eph_pub, err, errlen)) == 0 &&
		 !(h = header_json(recipient, eph_pub, chunk_size, signer->pub, meta)))
		r = set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	if (r == 0)
		r = writer_header(w, h, err, errlen);
	if (r < 0) {
		result_writer_free(w);
		return r;
	}
	*out = w;
	return 0;
}

/* Frame: length of ciphertext and tag, with bit 31 the last-chunk flag; then both. */
static int seal_chunk(struct result_writer *w, bool last, char *err, size_t errlen)
{
	uint8_t len[4];
	int r;

	put_le(len, (uint32_t)(w->fill + TAG_LEN) | (last ? LAST_FLAG : 0), 4);
	if (gcm(true, w->key, w->index, last, w->aad, w->buf, w->fill, w->buf + w->fill) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT: encryption failed");
	if ((r = emit(w, len, 4, true, err, errlen)) < 0 ||
	    (r = emit(w, w->buf, w->fill + TAG_LEN, true, err, errlen)) < 0)
		return r;
	w->index++;
	w->fill = 0;
	return 0;
}

static int writer_usable(struct result_writer *w, char *err, size_t errlen)
{
	if (w->state == W_OPEN)
		return 0;
	return set_error(err, errlen, -EINVAL, "E_RESULT: the writer is %s",
			 w->state == W_DONE ? "finished" : "stopped by an earlier error");
}

int result_writer_write(struct result_writer *w, const void *p, size_t n, char *err, size_t errlen)
{
	const uint8_t *b = p;
	int r;

	if ((r = writer_usable(w, err, errlen)) < 0)
		return r;
	while (n) {
		size_t take;

		/* a full chunk is sealed only once more data shows that it is not the last */
		if (w->fill == w->chunk && (r = seal_chunk(w, false, err, errlen)) < 0) {
			w->state = W_FAILED;
			return r;
		}
		take = w->chunk - w->fill < n ? w->chunk - w->fill : n;
		memcpy(w->buf + w->fill, b, take);
		w->fill += take;
		b += take;
		n -= take;
	}
	return 0;
}

/* Compact r || s over SHA-256(report_data); libsecp256k1 signs with RFC 6979 nonces, low-S. */
static int sign(const struct result_writer *w, const uint8_t rd[64], uint8_t sig[64])
{
	secp256k1_ecdsa_signature s;
	uint8_t h[32];

	if (sha256(rd, 64, h) < 0 ||
	    !secp256k1_ecdsa_sign(cvm_secp256k1(), &s, h, w->signing_sk, NULL, NULL) ||
	    !secp256k1_ecdsa_signature_serialize_compact(cvm_secp256k1(), sig, &s))
		return -EIO;
	return 0;
}

/* {"eventlog", "evidence", "signature"}: the trailer, before it is encoded. */
static int trailer_json(struct result_writer *w, const uint8_t rd[64], const char *eventlog,
			result_evidence_fn ev, void *ev_ctx, cJSON *t, char *err, size_t errlen)
{
	cJSON *log = NULL, *evidence = NULL;
	uint8_t sig[64];
	int r;

	if (json_parse(eventlog ? eventlog : "[]", eventlog ? strlen(eventlog) : 2, &log) < 0 ||
	    !cJSON_IsArray(log)) {
		cJSON_Delete(log);
		return set_error(err, errlen, -EINVAL,
				 "E_RESULT: the runtime log is not a JSON array");
	}
	cJSON_AddItemToObject(t, "eventlog", log);
	if ((r = ev(ev_ctx, rd, &evidence, err, errlen)) < 0)
		return r;
	if (!evidence_shape_ok(evidence)) {
		cJSON_Delete(evidence);
		return set_error(err, errlen, -EINVAL,
				 "E_RESULT_EVIDENCE: not {\"tee\": snp|tdx|tpm, \"primary\": {}}");
	}
	cJSON_AddItemToObject(t, "evidence", evidence);
	if (sign(w, rd, sig) < 0 || !json_add_hex(t, "signature", sig, 64))
		return set_error(err, errlen, -EIO, "E_RESULT: cannot sign");
	return 0;
}

static int writer_finish(struct result_writer *w, const char *eventlog, result_evidence_fn ev,
			 void *ev_ctx, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *t = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	uint8_t d[32], rd[64], len[4];
	size_t n = 0;
	int r;

	/* the buffered rest, maybe empty or a whole chunk, is the last chunk */
	if ((r = seal_chunk(w, true, err, errlen)) < 0)
		return r;
	if (!t || EVP_DigestFinal_ex(w->d, d, NULL) != 1 || binding(d, w->signing_pub, rd) < 0)
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	if ((r = trailer_json(w, rd, eventlog, ev, ev_ctx, t, err, errlen)) < 0)
		return r;
	if (jcs_serialize(t, &text, &n) < 0 || n > RESULT_TRAILER_MAX)
		return set_error(err, errlen, -EFBIG, "E_RESULT: the trailer is over %u bytes",
				 RESULT_TRAILER_MAX);
	put_le(len, n, 4);
	if ((r = emit(w, len, 4, false, err, errlen)) < 0)
		return r;
	return emit(w, text, n, false, err, errlen);
}

int result_writer_finish(struct result_writer *w, const char *eventlog, result_evidence_fn ev,
			 void *ev_ctx, char *err, size_t errlen)
{
	int r = writer_usable(w, err, errlen);

	if (r == 0)
		r = writer_finish(w, eventlog, ev, ev_ctx, err, errlen);
	w->state = r < 0 ? W_FAILED : W_DONE;
	OPENSSL_cleanse(w->key, sizeof(w->key));
	return r;
}

void result_writer_free(struct result_writer *w)
{
	if (!w)
		return;
	OPENSSL_cleanse(w->key, sizeof(w->key));
	secret_free(w->buf, w->chunk + TAG_LEN);
	EVP_MD_CTX_free(w->d);
	free(w);
}

/* ---- the reader ---- */

static int read_at(const struct result_source *s, uint64_t off, void *buf, size_t n)
{
	uint8_t *p = buf;

	if (off > s->size || n > s->size - off)
		return -ENODATA;
	while (n) {
		ssize_t k = pread(s->fd, p, n, (off_t)(s->offset + off));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -ENODATA;
		p += k;
		off += (uint64_t)k;
		n -= (size_t)k;
	}
	return 0;
}

/* The text is the RFC 8785 form of what it parses to: one encoding per value. */
static bool canonical(const cJSON *v, const char *text, size_t len)
{
	_cleanup_free_ char *c = NULL;
	size_t n = 0;

	return jcs_serialize(v, &c, &n) == 0 && n == len && !memcmp(c, text, len);
}

/* An integer JSON number in [min, max]: no strings, no fractions. */
static int json_int(const cJSON *o, const char *k, int64_t min, int64_t max, int64_t *out)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(m) || m->valuedouble < (double)min || m->valuedouble > (double)max ||
	    m->valuedouble != (double)(int64_t)m->valuedouble)
		return -EBADMSG;
	*out = (int64_t)m->valuedouble;
	return 0;
}

static int parse_job(struct result_info *in, char *err, size_t errlen)
{
	static const char *const names[] = { "exit_code", "signal", "timed_out", "partial" };
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(in->header, "job");
	int64_t code, sig;

	if (!cJSON_IsObject(job) || json_unknown_member(job, names, ARRAY_SIZE(names)) ||
	    json_int(job, "exit_code", -1, 255, &code) < 0 ||
	    json_int(job, "signal", 0, 64, &sig) < 0 ||
	    json_get_bool(job, "timed_out", &in->timed_out) < 0 ||
	    json_get_bool(job, "partial", &in->partial) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: job outcome malformed");
	in->exit_code = (int)code;
	in->signal = (int)sig;
	return 0;
}

static int parse_hexes(struct result_info *in, char *err, size_t errlen)
{
	const struct {
		const char *name;
		uint8_t *out;
		size_t n;
	} f[] = {
		{ "recipient_key_id", in->recipient_key_id, 32 },
		{ "ephemeral_pubkey", in->ephemeral, 33 },
		{ "signing_pubkey", in->signing_pub, 33 },
		{ "job_manifest_sha256", in->job_manifest_sha256, 32 },
		{ "workload_header_sha256", in->workload_header_sha256, 32 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (json_get_hex(in->header, f[i].name, f[i].out, f[i].n) < 0)
			return set_error(err, errlen, -EBADMSG,
					 "E_RESULT_HEADER: %s missing or malformed", f[i].name);
	return 0;
}

static int parse_header(struct result_info *in, char *err, size_t errlen)
{
	static const char *const names[] = {
		"version",
		"cipher",
		"recipient_key_id",
		"ephemeral_pubkey",
		"chunk_size",
		"signing_pubkey",
		"order_id",
		"job_manifest_sha256",
		"workload_header_sha256",
		"job",
	};
	const cJSON *h = in->header;
	secp256k1_pubkey pk;
	const char *s;
	int64_t v, cs;
	int r;

	if (json_unknown_member(h, names, ARRAY_SIZE(names)))
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: unknown member");
	if (json_int(h, "version", 0, 255, &v) < 0 || v != RESULT_VERSION ||
	    json_get_string(h, "cipher", &s) < 0 || strcmp(s, RESULT_CIPHER))
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: version or cipher");
	if ((r = parse_hexes(in, err, errlen)) < 0)
		return r;
	if (!cvm_secp256k1() ||
	    !secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, in->ephemeral, 33) ||
	    !secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, in->signing_pub, 33))
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_HEADER: a key is not on the curve");
	if (json_int(h, "chunk_size", RESULT_CHUNK_MIN, RESULT_CHUNK_MAX, &cs) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: chunk_size");
	in->chunk_size = (uint32_t)cs;
	if (json_get_string(h, "order_id", &s) < 0 || !result_order_id_valid(s))
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: order_id");
	snprintf(in->order_id, sizeof(in->order_id), "%s", s);
	return parse_job(in, err, errlen);
}

/* The preamble and header: their bytes start D. */
static int read_header(const struct result_source *src, struct result_info *in, EVP_MD_CTX *d,
		       char *err, size_t errlen)
{
	uint8_t pre[PREAMBLE_LEN];
	uint32_t hl;

	if (read_at(src, 0, pre, sizeof(pre)) < 0 || memcmp(pre, RESULT_MAGIC, 4))
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_FRAMING: not a cvm result bundle");
	if (pre[4] != RESULT_VERSION || !is_zero(pre + 5, 3))
		return set_error(err, errlen, -EBADMSG, "E_RESULT_FRAMING: unknown version %u",
				 pre[4]);
	hl = le32(pre + 8);
	if (hl == 0 || hl > RESULT_HEADER_MAX)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_FRAMING: header length %u", hl);
	if (!(in->header_text = malloc(hl + 1)))
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	if (read_at(src, sizeof(pre), in->header_text, hl) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_TRUNCATED: the header is cut");
	in->header_text[hl] = 0;
	in->header_len = hl;
	if (json_parse(in->header_text, hl, &in->header) < 0 || !cJSON_IsObject(in->header) ||
	    !canonical(in->header, in->header_text, hl))
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_HEADER: not a canonical JSON object");
	if (EVP_DigestUpdate(d, pre, sizeof(pre)) != 1 ||
	    EVP_DigestUpdate(d, in->header_text, hl) != 1)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	return parse_header(in, err, errlen);
}

/* A chunk frame: length of ciphertext and tag (at least the tag, at most a chunk), last flag. */
static int chunk_frame(const struct result_source *src, uint64_t off, uint32_t chunk_size,
		       uint8_t word[4], uint32_t *len, bool *last)
{
	uint32_t l;

	if (read_at(src, off, word, 4) < 0)
		return -ENODATA;
	l = le32(word) & ~LAST_FLAG;
	*last = le32(word) & LAST_FLAG;
	if (l < TAG_LEN || l - TAG_LEN > chunk_size || (!*last && l - TAG_LEN == 0))
		return -EBADMSG;
	*len = l;
	return 0;
}

/* Hashes every chunk into D: their count, and where the trailer starts. */
static int walk_chunks(const struct result_source *src, uint64_t off, struct result_info *in,
		       EVP_MD_CTX *d, uint64_t *trailer, char *err, size_t errlen)
{
	unsigned long long i;
	uint8_t buf[16384];
	bool last = false;

	for (i = 0; !last; i++) {
		uint8_t word[4];
		uint32_t l;
		int r = chunk_frame(src, off, in->chunk_size, word, &l, &last);

		if (r == -ENODATA)
			return set_error(err, errlen, -EBADMSG,
					 "E_RESULT_TRUNCATED: chunk %llu is missing", i);
		if (r < 0)
			return set_error(err, errlen, r,
					 "E_RESULT_FRAMING: chunk %llu has a bad length", i);
		EVP_DigestUpdate(d, word, 4);
		off += 4;
		for (uint32_t done = 0; done < l;) {
			size_t take = l - done > sizeof(buf) ? sizeof(buf) : l - done;

			if (read_at(src, off, buf, take) < 0)
				return set_error(err, errlen, -EBADMSG,
						 "E_RESULT_TRUNCATED: chunk %llu is cut", i);
			EVP_DigestUpdate(d, buf, take);
			off += take;
			done += (uint32_t)take;
		}
		in->plaintext_max += l - TAG_LEN;
	}
	in->chunks = i;
	*trailer = off;
	return 0;
}

static int parse_trailer(const struct result_source *src, uint64_t off, struct result_info *in,
			 char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	uint8_t lb[4];
	uint32_t l;

	if (read_at(src, off, lb, 4) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_TRUNCATED: no trailer");
	l = le32(lb);
	if (l == 0 || l > RESULT_TRAILER_MAX)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_FRAMING: trailer length %u", l);
	if (src->size - off - 4 != l)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_%s: the trailer is %s",
				 src->size - off - 4 < l ? "TRUNCATED" : "FRAMING",
				 src->size - off - 4 < l ? "cut" : "followed by more bytes");
	if (!(text = malloc(l + 1)))
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	if (read_at(src, off + 4, text, l) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_TRUNCATED: the trailer is cut");
	text[l] = 0;
	if (json_parse(text, l, &in->trailer) < 0 || !cJSON_IsObject(in->trailer) ||
	    cJSON_GetArraySize(in->trailer) != 3 || !canonical(in->trailer, text, l) ||
	    !cJSON_IsArray(in->eventlog =
				   cJSON_GetObjectItemCaseSensitive(in->trailer, "eventlog")) ||
	    !evidence_shape_ok(in->evidence =
				       cJSON_GetObjectItemCaseSensitive(in->trailer, "evidence")))
		return set_error(
			err, errlen, -EBADMSG,
			"E_RESULT_TRAILER: not a canonical {eventlog, evidence, signature}");
	snprintf(in->tee, sizeof(in->tee), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in->evidence, "tee")));
	return 0;
}

static int check_signature(const struct result_info *in, char *err, size_t errlen)
{
	secp256k1_ecdsa_signature s;
	secp256k1_pubkey pk;
	uint8_t sig[64], h[32];

	if (json_get_hex(in->trailer, "signature", sig, 64) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_TRAILER: signature malformed");
	/* verify refuses high-S signatures: one bundle, one valid signature */
	if (sha256(in->report_data, 64, h) < 0 ||
	    !secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, in->signing_pub, 33) ||
	    !secp256k1_ecdsa_signature_parse_compact(cvm_secp256k1(), &s, sig) ||
	    !secp256k1_ecdsa_verify(cvm_secp256k1(), &s, h, &pk))
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_SIGNATURE: the signature does not verify");
	return 0;
}

int result_verify(const struct result_source *src, struct result_info *in, char *err, size_t errlen)
{
	EVP_MD_CTX *d = EVP_MD_CTX_new();
	uint64_t trailer = 0;
	int r;

	memset(in, 0, sizeof(*in));
	if (!d || EVP_DigestInit_ex(d, EVP_sha256(), NULL) != 1)
		r = set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	else if ((r = read_header(src, in, d, err, errlen)) == 0 &&
		 (r = walk_chunks(src, PREAMBLE_LEN + (uint64_t)in->header_len, in, d, &trailer,
				  err, errlen)) == 0 &&
		 (r = parse_trailer(src, trailer, in, err, errlen)) == 0) {
		if (EVP_DigestFinal_ex(d, in->digest, NULL) != 1 ||
		    binding(in->digest, in->signing_pub, in->report_data) < 0)
			r = set_error(err, errlen, -EIO, "E_RESULT: digest failed");
		else
			r = check_signature(in, err, errlen);
	}
	EVP_MD_CTX_free(d);
	if (r < 0)
		result_info_free(in);
	return r;
}

void result_info_free(struct result_info *in)
{
	cJSON_Delete(in->header);
	cJSON_Delete(in->trailer);
	free(in->header_text);
	in->header = in->trailer = NULL;
	in->eventlog = in->evidence = NULL;
	in->header_text = NULL;
}

/* ---- decryption ---- */

struct result_reader {
	struct result_source src;
	uint8_t key[32], aad[32];
	uint8_t *buf; /* one chunk: ciphertext and tag, then plaintext */
	uint32_t chunk_size;
	uint64_t off, index, chunks;
	bool end;
	int failed;
};

int result_reader_new(const struct result_source *src, const struct result_info *in,
		      const struct result_key *recipient, struct result_reader **out, char *err,
		      size_t errlen)
{
	struct result_reader *r;
	uint8_t rid[32];

	*out = NULL;
	if (sha256(recipient->pub, 33, rid) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	if (!recipient->sk || CRYPTO_memcmp(rid, in->recipient_key_id, 32))
		return set_error(err, errlen, -EACCES,
				 "E_RESULT_RECIPIENT: the bundle is sealed to another key");
	if (!(r = calloc(1, sizeof(*r))) || !(r->buf = secret_alloc(in->chunk_size + TAG_LEN))) {
		free(r);
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	}
	r->src = *src;
	r->chunk_size = in->chunk_size;
	r->chunks = in->chunks;
	r->off = PREAMBLE_LEN + (uint64_t)in->header_len;
	if (sha256(in->header_text, in->header_len, r->aad) < 0 ||
	    derive(recipient->sk, in->ephemeral, in->ephemeral, recipient->pub, r->key) < 0) {
		result_reader_free(r);
		return set_error(err, errlen, -EIO, "E_RESULT_DECRYPT: key agreement failed");
	}
	*out = r;
	return 0;
}

static int reader_chunk(struct result_reader *r, size_t *n, bool *last, char *err, size_t errlen)
{
	unsigned long long i = r->index;
	uint8_t word[4];
	uint32_t l;

	if (chunk_frame(&r->src, r->off, r->chunk_size, word, &l, last) < 0 ||
	    read_at(&r->src, r->off + 4, r->buf, l) < 0)
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_TRUNCATED: chunk %llu is missing or cut", i);
	/* the frame's flag and the nonce's must both say last exactly at the end */
	if (*last != (r->index + 1 == r->chunks) ||
	    gcm(false, r->key, r->index, *last, r->aad, r->buf, l - TAG_LEN, r->buf + l - TAG_LEN) <
		    0) {
		OPENSSL_cleanse(r->buf, l);
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_DECRYPT: chunk %llu does not authenticate", i);
	}
	r->off += 4 + (uint64_t)l;
	*n = l - TAG_LEN;
	return 0;
}

int result_reader_next(struct result_reader *r, const uint8_t **p, size_t *n, bool *end, char *err,
		       size_t errlen)
{
	bool last = false;
	int ret;

	*p = r->buf;
	*n = 0;
	*end = r->end;
	if (r->failed)
		return set_error(err, errlen, r->failed, "E_RESULT_DECRYPT: stopped at chunk %llu",
				 (unsigned long long)r->index);
	if (r->end)
		return 0;
	if (r->index >= r->chunks) {
		r->failed = -EBADMSG;
		return set_error(err, errlen, -EBADMSG, "E_RESULT_TRUNCATED: no last chunk");
	}
	if ((ret = reader_chunk(r, n, &last, err, errlen)) < 0) {
		r->failed = ret;
		return ret;
	}
	r->index++;
	r->end = *end = last;
	return 0;
}

void result_reader_free(struct result_reader *r)
{
	if (!r)
		return;
	OPENSSL_cleanse(r->key, sizeof(r->key));
	secret_free(r->buf, r->chunk_size + TAG_LEN);
	free(r);
}

int result_decrypt(const struct result_source *src, const struct result_info *in,
		   const struct result_key *recipient, result_sink_fn sink, void *ctx, char *err,
		   size_t errlen)
{
	struct result_reader *r;
	bool end = false;
	int ret = result_reader_new(src, in, recipient, &r, err, errlen);

	while (ret == 0 && !end) {
		const uint8_t *p;
		size_t n;

		if ((ret = result_reader_next(r, &p, &n, &end, err, errlen)) == 0 && n &&
		    (ret = sink(ctx, p, n)) < 0)
			set_error(err, errlen, ret, "E_RESULT_OUTPUT: %s", strerror(-ret));
	}
	result_reader_free(r);
	return ret;
}

/* ---- extraction ---- */

struct extract {
	struct result_reader *r;
	int root; /* "<dir>.part" */
	char *err;
	size_t errlen;
	int failed; /* the reader's error, which libarchive can only see as -1 */
	struct result_limits lim;
	uint64_t written, entries;
};

static la_ssize_t extract_read(struct archive *a, void *ctx, const void **buf)
{
	struct extract *x = ctx;
	const uint8_t *p;
	size_t n = 0;
	bool end = false;

	(void)a;
	do {
		if ((x->failed = result_reader_next(x->r, &p, &n, &end, x->err, x->errlen)) < 0)
			return -1;
	} while (n == 0 && !end);
	*buf = p;
	return (la_ssize_t)n;
}

/* Relative, no empty, "." or ".." component; dir entries may end in one "/". */
static bool name_safe(const char *name)
{
	size_t n = strlen(name);
	const char *c = name;

	if (n && name[n - 1] == '/')
		n--;
	if (n == 0 || n >= 4096 || name[0] == '/')
		return false;
	while (c < name + n) {
		size_t k = strcspn(c, "/");

		if (c + k > name + n)
			k = (size_t)(name + n - c);
		if (k == 0 || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += k + 1;
	}
	return true;
}

/* Opens the directory that holds path's last component, following no links. */
static int open_parent(int root, const char *path, char *leaf, size_t cap)
{
	char buf[4096];
	char *save = NULL, *c;
	int fd = dup(root);

	snprintf(buf, sizeof(buf), "%s", path);
	if (buf[0] && buf[strlen(buf) - 1] == '/')
		buf[strlen(buf) - 1] = 0;
	c = strtok_r(buf, "/", &save);
	while (fd >= 0 && c) {
		char *next = strtok_r(NULL, "/", &save);
		int sub;

		if (!next) {
			snprintf(leaf, cap, "%s", c);
			return fd;
		}
		sub = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = sub;
		c = next;
	}
	if (fd >= 0)
		close(fd);
	return -ENOENT;
}

/*
 * Writes the entry's data, at most size bytes (what its header declares):
 * -EBADMSG when the tar's data fails (libarchive says why), -EFBIG when
 * there is more than declared, another -errno for the disk.
 */
static int extract_file(struct archive *a, int dirfd, const char *leaf, mode_t mode, uint64_t size)
{
	uint8_t buf[16384];
	la_ssize_t n = 0;
	uint64_t done = 0;
	int r = 0,
	    fd = openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return -errno;
	while (r == 0 && (n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		if ((uint64_t)n > size - done)
			r = -EFBIG;
		else
			r = fd_write_all(fd, buf, (size_t)n);
		done += (uint64_t)n;
	}
	if (r == 0 && n < 0)
		r = -EBADMSG;
	OPENSSL_cleanse(buf, sizeof(buf));
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/*
 * What an entry may be (docs/result-cli.md): a regular file or directory
 * with a relative name, not sparse, within the limits. Names come from the
 * host and are not repeated in the one-line refusal.
 */
static int entry_check(struct extract *x, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);
	mode_t type = archive_entry_filetype(e);
	uint64_t n = ++x->entries;
	int64_t size = archive_entry_size(e);

	if (n > x->lim.max_entries)
		return set_error(x->err, x->errlen, -EFBIG,
				 "E_RESULT_TOO_MANY: more than %llu entries (--max-entries)",
				 (unsigned long long)x->lim.max_entries);
	if (!name || !*name)
		return set_error(x->err, x->errlen, -EPERM,
				 "E_RESULT_UNSAFE: entry %llu has no name", (unsigned long long)n);
	if (name[0] == '/')
		return set_error(x->err, x->errlen, -EPERM,
				 "E_RESULT_UNSAFE: entry %llu has an absolute path",
				 (unsigned long long)n);
	if (!name_safe(name))
		return set_error(x->err, x->errlen, -EPERM,
				 "E_RESULT_UNSAFE: entry %llu has an empty, '.' or '..' component",
				 (unsigned long long)n);
	if (archive_entry_hardlink(e))
		return set_error(x->err, x->errlen, -EPERM,
				 "E_RESULT_UNSAFE: entry %llu is a hard link",
				 (unsigned long long)n);
	if (type == AE_IFLNK || archive_entry_symlink(e))
		return set_error(x->err, x->errlen, -EPERM,
				 "E_RESULT_UNSAFE: entry %llu is a symbolic link",
				 (unsigned long long)n);
	if (type != AE_IFREG && type != AE_IFDIR)
		return set_error(x->err, x->errlen, -EPERM,
				 "E_RESULT_UNSAFE: entry %llu is a device, FIFO or socket, not a "
				 "file or directory",
				 (unsigned long long)n);
	if (archive_entry_sparse_count(e) > 0)
		return set_error(x->err, x->errlen, -EPERM,
				 "E_RESULT_SPARSE: entry %llu is a sparse file",
				 (unsigned long long)n);
	if (type == AE_IFREG && (!archive_entry_size_is_set(e) || size < 0))
		return set_error(x->err, x->errlen, -EBADMSG,
				 "E_RESULT_TAR: entry %llu declares no size",
				 (unsigned long long)n);
	if (type == AE_IFREG && (uint64_t)size > x->lim.max_size - x->written)
		return set_error(x->err, x->errlen, -EFBIG,
				 "E_RESULT_TOO_LARGE: entry %llu declares %lld bytes, beyond "
				 "--max-size %llu (%llu already extracted)",
				 (unsigned long long)n, (long long)size,
				 (unsigned long long)x->lim.max_size,
				 (unsigned long long)x->written);
	return 0;
}

static int extract_entry(struct extract *x, struct archive *a, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);
	mode_t type = archive_entry_filetype(e);
	uint64_t size = (uint64_t)archive_entry_size(e);
	char leaf[4096];
	int dirfd, r;

	if ((r = entry_check(x, e)) < 0)
		return r;
	if ((dirfd = open_parent(x->root, name, leaf, sizeof(leaf))) < 0)
		return set_error(x->err, x->errlen, -EPERM,
				 "E_RESULT_UNSAFE: an entry's directory is not in the result");
	if (type == AE_IFDIR) {
		r = mkdirat(dirfd, leaf, 0755) < 0 ? -errno : 0;
	} else {
		r = extract_file(a, dirfd, leaf, archive_entry_perm(e) & 0111 ? 0755 : 0644, size);
		x->written += size;
	}
	close(dirfd);
	if (r == 0 || x->failed)
		return x->failed;
	if (r == -EBADMSG)
		return set_error(x->err, x->errlen, r, "E_RESULT_TAR: %s", archive_error_string(a));
	if (r == -EFBIG)
		return set_error(x->err, x->errlen, r,
				 "E_RESULT_TAR: an entry holds more than its header declares");
	return set_error(x->err, x->errlen, r, "E_RESULT_OUTPUT: %s: %s", leaf, strerror(-r));
}

static int extract_all(struct extract *x)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	const uint8_t *p;
	size_t n;
	bool end = false;
	int r = 0, st;

	if (!a || archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open(a, x, NULL, extract_read, NULL) != ARCHIVE_OK)
		r = x->failed ? x->failed
			      : set_error(x->err, x->errlen, -EBADMSG,
					  "E_RESULT_TAR: not a tar archive");
	while (r == 0 && (st = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (st != ARCHIVE_OK)
			r = x->failed ? x->failed
				      : set_error(x->err, x->errlen, -EBADMSG, "E_RESULT_TAR: %s",
						  archive_error_string(a));
		else
			r = extract_entry(x, a, e);
	}
	archive_read_free(a);
	/* whatever follows the tar's end must still authenticate, to the last chunk */
	while (r == 0 && !end)
		r = result_reader_next(x->r, &p, &n, &end, x->err, x->errlen);
	return r;
}

int result_extract(const struct result_source *src, const struct result_info *in,
		   const struct result_key *recipient, const char *dir, char *err, size_t errlen)
{
	const struct result_limits lim = { RESULT_MAX_SIZE, RESULT_MAX_ENTRIES };

	return result_extract_limited(src, in, recipient, dir, &lim, err, errlen);
}

int result_extract_limited(const struct result_source *src, const struct result_info *in,
			   const struct result_key *recipient, const char *dir,
			   const struct result_limits *lim, char *err, size_t errlen)
{
	struct extract x = { .root = -1, .err = err, .errlen = errlen, .lim = *lim };
	char part[4096];
	struct stat st;
	int r;

	if (snprintf(part, sizeof(part), "%s.part", dir) >= (int)sizeof(part))
		return set_error(err, errlen, -ENAMETOOLONG, "E_RESULT_OUTPUT: %s: name too long",
				 dir);
	if (lstat(dir, &st) == 0 || errno != ENOENT)
		return set_error(err, errlen, -EEXIST, "E_RESULT_OUTPUT: %s already exists", dir);
	if (mkdir(part, 0700) < 0)
		return set_error(err, errlen, -errno, "E_RESULT_OUTPUT: %s: %s", part,
				 strerror(errno));
	if ((x.root = open(part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return set_error(err, errlen, -errno, "E_RESULT_OUTPUT: %s: %s", part,
				 strerror(errno));
	if ((r = result_reader_new(src, in, recipient, &x.r, err, errlen)) == 0)
		r = extract_all(&x);
	result_reader_free(x.r);
	close(x.root);
	if (r == 0 && rename(part, dir) < 0)
		r = set_error(err, errlen, -errno, "E_RESULT_OUTPUT: %s: %s", dir, strerror(errno));
	return r;
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
	return sha256(b, 56, b + 56);
}

int outdisk_commit_parse(const uint8_t b[OUTDISK_BLOCK], struct outdisk_commit *c)
{
	uint8_t d[32];

	if (is_zero(b, OUTDISK_BLOCK))
		return -ENOENT;
	if (sha256(b, 56, d) < 0 || memcmp(b, COMMIT_MAGIC, 4) || le32(b + 4) != OUTDISK_VERSION ||
	    CRYPTO_memcmp(d, b + 56, 32) || !is_zero(b + COMMIT_LEN, OUTDISK_BLOCK - COMMIT_LEN))
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

static int digest_region(const struct result_source *disk, uint64_t off, uint64_t len,
			 uint8_t out[32])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t buf[65536];
	int r = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;

	for (uint64_t done = 0; r == 0 && done < len;) {
		size_t take = len - done > sizeof(buf) ? sizeof(buf) : (size_t)(len - done);

		if ((r = read_at(disk, off + done, buf, take)) == 0 &&
		    EVP_DigestUpdate(m, buf, take) != 1)
			r = -EIO;
		done += take;
	}
	if (r == 0 && EVP_DigestFinal_ex(m, out, NULL) != 1)
		r = -EIO;
	EVP_MD_CTX_free(m);
	return r;
}

int outdisk_open(int fd, struct result_source *src, char *err, size_t errlen)
{
	struct result_source disk = { .fd = fd };
	struct outdisk_commit c;
	uint8_t b[OUTDISK_BLOCK], d[32];
	off_t end = lseek(fd, 0, SEEK_END);
	int r;

	if (end < 0)
		return set_error(err, errlen, -errno, "E_NO_RESULT: %s", strerror(errno));
	disk.size = (uint64_t)end;
	if (disk.size < OUTDISK_BUNDLE_OFFSET || read_at(&disk, 0, b, sizeof(b)) < 0)
		return set_error(err, errlen, -ENOENT, "E_NO_RESULT: the disk is too small");
	r = outdisk_commit_parse(b, &c);
	if (r == -ENOENT)
		return set_error(err, errlen, r, "E_NO_RESULT: no commit record");
	if (r < 0)
		return set_error(err, errlen, r, "E_NO_RESULT: the commit record is damaged");
	if (c.length > disk.size - c.offset)
		return set_error(err, errlen, -EBADMSG,
				 "E_NO_RESULT: the commit record points past the disk");
	if ((r = digest_region(&disk, c.offset, c.length, d)) < 0)
		return set_error(err, errlen, r, "E_NO_RESULT: reading the bundle: %s",
				 strerror(-r));
	if (CRYPTO_memcmp(d, c.sha256, 32))
		return set_error(err, errlen, -EBADMSG,
				 "E_NO_RESULT: the bundle does not match its commit record");
	*src = (struct result_source){ .fd = fd, .offset = c.offset, .size = c.length };
	return 0;
}
