/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result bundle (.cvmr, docs/result.md): the job's output sealed to the
 * customer's secp256k1 key (ECDH, HKDF-SHA256, AES-256-GCM chunks whose
 * nonces carry their index and a last-chunk flag) and signed by the key the
 * agent measured at boot, with fresh evidence binding both. Streamed both
 * ways: one chunk in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>

#include "lib/lib.h"

#define LAST_FLAG 0x80000000u
#define TAG_LEN 16
#define HKDF_SALT "cvm-result-v1"

static secp256k1_context *ctx(void)
{
	static secp256k1_context *c;

	if (!c) {
		uint8_t seed[32];

		c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
		/* blinding against side channels; a context without it still works */
		if (c && RAND_bytes(seed, sizeof(seed)) == 1 &&
		    !secp256k1_context_randomize(c, seed))
			c = NULL;
		OPENSSL_cleanse(seed, sizeof(seed));
	}
	return c;
}

/* ---- keys ---- */

static int pub_from_sk(struct result_key *k)
{
	secp256k1_pubkey pk;
	size_t n = 33;

	if (!ctx() || !secp256k1_ec_pubkey_create(ctx(), &pk, k->sk) ||
	    !secp256k1_ec_pubkey_serialize(ctx(), k->pub, &n, &pk, SECP256K1_EC_COMPRESSED))
		return -EINVAL;
	return 0;
}

int result_key_generate(struct result_key *k, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	if (!(k->sk = secret_alloc(32)))
		return -ENOMEM;
	do {
		if (RAND_priv_bytes(k->sk, 32) != 1) {
			result_key_wipe(k);
			return set_error(err, errlen, -EIO, "E_RESULT_KEY: no randomness");
		}
	} while (!secp256k1_ec_seckey_verify(ctx(), k->sk));
	return pub_from_sk(k);
}

void result_key_wipe(struct result_key *k)
{
	if (k->sk)
		secret_free(k->sk, 32);
	k->sk = NULL;
}

int result_key_load(const char *path, struct result_key *k, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL;
	EVP_PKEY *pk = NULL;
	BIO *b = NULL;
	BIGNUM *bn = NULL;
	char name[32];
	size_t len;
	int r = file_read(path, 64 * 1024, &text, &len);

	memset(k, 0, sizeof(*k));
	if (r < 0)
		return set_error(err, errlen, r, "%s: %s", path, strerror(-r));
	if (!(k->sk = secret_alloc(32)))
		return -ENOMEM;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = 0;
	if (len == 64 && hex_decode_exact((char *)text, k->sk, 32) == 0) {
		r = 0;
	} else if ((b = BIO_new_mem_buf(text, (int)len)) &&
		   (pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) &&
		   EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name,
						  sizeof(name), NULL) == 1 &&
		   !strcmp(name, "secp256k1") &&
		   EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 &&
		   BN_bn2binpad(bn, k->sk, 32) == 32) {
		r = 0;
	} else {
		r = -EINVAL;
	}
	BN_clear_free(bn);
	EVP_PKEY_free(pk);
	BIO_free(b);
	OPENSSL_cleanse(text, len);
	if (r < 0 || !secp256k1_ec_seckey_verify(ctx(), k->sk) || pub_from_sk(k) < 0) {
		result_key_wipe(k);
		return set_error(err, errlen, -EINVAL,
				 "%s: not a secp256k1 private key (PEM or 64 hex digits)", path);
	}
	return 0;
}

int result_key_save(const struct result_key *k, const char *path, char *err, size_t errlen)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	BIGNUM *bn = BN_secure_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *pem;
	long n;
	int r = -EIO;

	if (bld && pc && bn && b && BN_bin2bn(k->sk, 32, bn) &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, k->pub, 33) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(pc) == 1 &&
	    EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_KEYPAIR, params) == 1 &&
	    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(b, &pem)) > 0)
		r = file_write_atomic(path, pem, (size_t)n, err, errlen);
	else
		set_error(err, errlen, r, "%s: cannot encode the key", path);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(pk);
	BN_clear_free(bn);
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
		      strchr("._:-", c)))
			return false;
	}
	return true;
}

/* ---- sealing ---- */

static int ecdh_x(unsigned char *out, const unsigned char *x, const unsigned char *y, void *data)
{
	(void)y;
	(void)data;
	memcpy(out, x, 32);
	return 1;
}

/*
 * key = HKDF-SHA256(ikm = x of ECDH(sk, peer), salt = "cvm-result-v1",
 * info = ephemeral public key || recipient public key), both compressed.
 */
static int derive(const uint8_t *sk, const uint8_t peer[33], const uint8_t eph[33],
		  const uint8_t recipient[33], uint8_t key[32])
{
	secp256k1_pubkey pk;
	uint8_t x[32], info[66];
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[5];
	int ok;

	memcpy(info, eph, 33);
	memcpy(info + 33, recipient, 33);
	ok = kc && ctx() && secp256k1_ec_pubkey_parse(ctx(), &pk, peer, 33) &&
	     secp256k1_ecdh(ctx(), x, &pk, sk, ecdh_x, NULL);
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

static void nonce_of(uint64_t index, bool last, uint8_t n[12])
{
	for (int i = 0; i < 8; i++)
		n[i] = (uint8_t)(index >> (56 - 8 * i));
	n[8] = n[9] = n[10] = 0;
	n[11] = last ? 1 : 0;
}

/* One AES-256-GCM operation over a whole chunk; decrypt checks the tag before returning. */
static int gcm(bool enc, const uint8_t key[32], uint64_t index, bool last, const uint8_t aad[32],
	       const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[TAG_LEN])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int l = 0, ok;

	nonce_of(index, last, nonce);
	ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
	     EVP_CipherUpdate(c, NULL, &l, aad, 32) == 1 &&
	     (n == 0 || EVP_CipherUpdate(c, out, &l, in, (int)n) == 1) &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1) &&
	     EVP_CipherFinal_ex(c, out + (n ? l : 0), &l) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EBADMSG;
}

/* ---- the writer ---- */

struct result_writer {
	uint8_t key[32];
	uint8_t aad[32]; /* SHA-256 of the header text */
	uint8_t *buf;	 /* one chunk of plaintext, then its ciphertext */
	size_t chunk, fill;
	uint64_t index;
	EVP_MD_CTX *d; /* D: every byte before the trailer */
	result_sink_fn sink;
	void *sink_ctx;
	struct result_key signer;
	uint8_t signing_pub[33];
	const uint8_t *signing_sk;
};

static int emit(struct result_writer *w, const void *p, size_t n, bool hashed)
{
	if (hashed && EVP_DigestUpdate(w->d, p, n) != 1)
		return -EIO;
	return w->sink(w->sink_ctx, p, n);
}

static cJSON *header_json(const uint8_t recipient[33], const uint8_t eph[33], size_t chunk,
			  const uint8_t signing[33], const struct result_meta *m)
{
	cJSON *h = cJSON_CreateObject(), *job;
	uint8_t rid[32];

	EVP_Digest(recipient, 33, rid, NULL, EVP_sha256(), NULL);
	if (!h || !cJSON_AddNumberToObject(h, "version", RESULT_VERSION) ||
	    !cJSON_AddStringToObject(h, "cipher", "secp256k1-ECDH+HKDF-SHA256+A256GCM") ||
	    !json_add_hex(h, "recipient", rid, 32) ||
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

int result_writer_new(const uint8_t recipient[33], const struct result_key *signer,
		      const struct result_meta *meta, size_t chunk_size, result_sink_fn sink,
		      void *sink_ctx, struct result_writer **out, char *err, size_t errlen)
{
	struct result_writer *w = calloc(1, sizeof(*w));
	struct result_key eph = { 0 };
	_cleanup_(cJSON_Deletep) cJSON *h = NULL;
	_cleanup_free_ char *text = NULL;
	size_t tlen = 0;
	uint8_t pre[12] = RESULT_MAGIC;
	secp256k1_pubkey pk;
	int r;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	if (!chunk_size)
		chunk_size = RESULT_CHUNK_DEFAULT;
	if (chunk_size > RESULT_CHUNK_MAX || !result_order_id_valid(meta->order_id) ||
	    !signer->sk || !secp256k1_ec_pubkey_parse(ctx(), &pk, recipient, 33)) {
		free(w);
		return set_error(err, errlen, -EINVAL,
				 "E_RESULT: bad recipient key, order id or chunk size");
	}
	w->chunk = chunk_size;
	w->sink = sink;
	w->sink_ctx = sink_ctx;
	w->signing_sk = signer->sk;
	memcpy(w->signing_pub, signer->pub, 33);
	w->buf = secret_alloc(chunk_size + TAG_LEN);
	w->d = EVP_MD_CTX_new();
	r = result_key_generate(&eph, err, errlen);
	if (r == 0 && (!w->buf || !w->d || EVP_DigestInit_ex(w->d, EVP_sha256(), NULL) != 1 ||
		       derive(eph.sk, recipient, eph.pub, recipient, w->key) < 0))
		r = set_error(err, errlen, -EIO, "E_RESULT: key agreement failed");
	result_key_wipe(&eph);
	if (r == 0 && (!(h = header_json(recipient, eph.pub, chunk_size, signer->pub, meta)) ||
		       jcs_serialize(h, &text, &tlen) < 0 || tlen > RESULT_HEADER_MAX))
		r = -ENOMEM;
	if (r == 0) {
		pre[4] = RESULT_VERSION;
		put_le(pre + 8, tlen, 4);
		EVP_Digest(text, tlen, w->aad, NULL, EVP_sha256(), NULL);
		if ((r = emit(w, pre, sizeof(pre), true)) < 0 ||
		    (r = emit(w, text, tlen, true)) < 0)
			set_error(err, errlen, r, "E_OUTPUT_WRITE: %s", strerror(-r));
	}
	if (r < 0) {
		result_writer_free(w);
		return r;
	}
	*out = w;
	return 0;
}

static int seal_chunk(struct result_writer *w, bool last, char *err, size_t errlen)
{
	uint8_t len[4], tag[TAG_LEN];
	int r;

	put_le(len, (uint32_t)(w->fill + TAG_LEN) | (last ? LAST_FLAG : 0), 4);
	if (gcm(true, w->key, w->index, last, w->aad, w->buf, w->fill, w->buf, tag) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT: encryption failed");
	memcpy(w->buf + w->fill, tag, TAG_LEN);
	if ((r = emit(w, len, 4, true)) < 0 || (r = emit(w, w->buf, w->fill + TAG_LEN, true)) < 0)
		return set_error(err, errlen, r, "E_OUTPUT_WRITE: %s", strerror(-r));
	w->index++;
	w->fill = 0;
	return 0;
}

int result_writer_write(struct result_writer *w, const void *p, size_t n, char *err, size_t errlen)
{
	const uint8_t *b = p;

	while (n) {
		size_t take = w->chunk - w->fill;
		int r;

		if (take > n)
			take = n;
		memcpy(w->buf + w->fill, b, take);
		w->fill += take;
		b += take;
		n -= take;
		/* a full chunk is sealed only once more data shows it is not the last */
		if (w->fill == w->chunk && n && (r = seal_chunk(w, false, err, errlen)) < 0)
			return r;
	}
	return 0;
}

static int sign(const struct result_writer *w, const uint8_t rd[64], uint8_t sig[64])
{
	secp256k1_ecdsa_signature s;
	uint8_t h[32];

	EVP_Digest(rd, 64, h, NULL, EVP_sha256(), NULL);
	/* libsecp256k1 signs with RFC 6979 nonces and always produces low-S */
	if (!secp256k1_ecdsa_sign(ctx(), &s, h, w->signing_sk, NULL, NULL) ||
	    !secp256k1_ecdsa_signature_serialize_compact(ctx(), sig, &s))
		return -EIO;
	return 0;
}

int result_writer_finish(struct result_writer *w, const char *eventlog, result_evidence_fn ev,
			 void *ev_ctx, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *t = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	cJSON *log = NULL, *evidence = NULL;
	uint8_t d[32], rd[64], sig[64], len[4];
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	size_t tlen = 0;
	int r;

	/* full chunk still buffered, or the remainder (maybe empty): the last one */
	if ((r = seal_chunk(w, true, err, errlen)) < 0)
		goto out;
	r = -EIO;
	if (!m || EVP_DigestFinal_ex(w->d, d, NULL) != 1 ||
	    EVP_DigestInit_ex(m, EVP_sha512(), NULL) != 1 || EVP_DigestUpdate(m, d, 32) != 1 ||
	    EVP_DigestUpdate(m, w->signing_pub, 33) != 1 || EVP_DigestFinal_ex(m, rd, NULL) != 1)
		goto out;
	if (json_parse(eventlog ? eventlog : "[]", eventlog ? strlen(eventlog) : 2, &log) < 0 ||
	    !cJSON_IsArray(log)) {
		cJSON_Delete(log);
		r = set_error(err, errlen, -EINVAL,
			      "E_RESULT: the runtime log is not a JSON array");
		goto out;
	}
	cJSON_AddItemToObject(t, "eventlog", log);
	if ((r = ev(ev_ctx, rd, &evidence, err, errlen)) < 0)
		goto out;
	cJSON_AddItemToObject(t, "evidence", evidence);
	if (sign(w, rd, sig) < 0 || !json_add_hex(t, "signature", sig, 64) ||
	    jcs_serialize(t, &text, &tlen) < 0 || tlen > RESULT_TRAILER_MAX) {
		r = set_error(err, errlen, -EIO, "E_RESULT: cannot sign or encode the trailer");
		goto out;
	}
	put_le(len, tlen, 4);
	if ((r = emit(w, len, 4, false)) < 0 || (r = emit(w, text, tlen, false)) < 0)
		set_error(err, errlen, r, "E_OUTPUT_WRITE: %s", strerror(-r));
out:
	EVP_MD_CTX_free(m);
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

static int header_hex(const cJSON *h, const char *k, uint8_t *out, size_t n, char *err,
		      size_t errlen)
{
	if (json_get_hex(h, k, out, n) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: %s missing or malformed",
				 k);
	return 0;
}

static int parse_header(struct result_info *in, char *err, size_t errlen)
{
	static const char *const names[] = { "version",
					     "cipher",
					     "recipient",
					     "ephemeral_pubkey",
					     "chunk_size",
					     "signing_pubkey",
					     "order_id",
					     "job_manifest_sha256",
					     "workload_header_sha256",
					     "job" };
	const cJSON *h = in->header, *job, *m;
	uint64_t v = 0, cs = 0, sig = 0;
	const char *s;
	int r;

	cJSON_ArrayForEach(m, h) {
		bool known = false;

		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			known |= !strcmp(m->string, names[i]);
		if (!known)
			return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: unknown member");
	}
	if (json_get_u64(h, "version", &v) < 0 || v != RESULT_VERSION ||
	    json_get_string(h, "cipher", &s) < 0 || strcmp(s, "secp256k1-ECDH+HKDF-SHA256+A256GCM"))
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: version or cipher");
	if ((r = header_hex(h, "recipient", in->recipient_id, 32, err, errlen)) < 0 ||
	    (r = header_hex(h, "ephemeral_pubkey", in->ephemeral, 33, err, errlen)) < 0 ||
	    (r = header_hex(h, "signing_pubkey", in->signing_pub, 33, err, errlen)) < 0 ||
	    (r = header_hex(h, "job_manifest_sha256", in->job_manifest_sha256, 32, err, errlen)) <
		    0 ||
	    (r = header_hex(h, "workload_header_sha256", in->workload_header_sha256, 32, err,
			    errlen)) < 0)
		return r;
	if (json_get_u64(h, "chunk_size", &cs) < 0 || cs == 0 || cs > RESULT_CHUNK_MAX)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: chunk_size");
	in->chunk_size = (uint32_t)cs;
	if (json_get_string(h, "order_id", &s) < 0 || !result_order_id_valid(s))
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: order_id");
	snprintf(in->order_id, sizeof(in->order_id), "%s", s);
	job = cJSON_GetObjectItemCaseSensitive(h, "job");
	m = cJSON_GetObjectItemCaseSensitive(job, "exit_code");
	if (!cJSON_IsObject(job) || cJSON_GetArraySize(job) != 4 || !cJSON_IsNumber(m) ||
	    m->valuedouble < -1 || m->valuedouble > 255 || json_get_u64(job, "signal", &sig) < 0 ||
	    sig > 64 || json_get_bool(job, "timed_out", &in->timed_out) < 0 ||
	    json_get_bool(job, "partial", &in->partial) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: job");
	in->exit_code = (int)m->valuedouble;
	in->signal = (int)sig;
	return 0;
}

/* Walks the chunks' lengths, hashing every byte: D, the count, and where the trailer starts. */
static int walk_chunks(const struct result_source *src, uint64_t off, struct result_info *in,
		       EVP_MD_CTX *d, uint64_t *trailer, char *err, size_t errlen)
{
	uint8_t buf[65536];

	for (;;) {
		uint8_t lb[4];
		uint32_t l;
		bool last;

		if (read_at(src, off, lb, 4) < 0)
			return set_error(err, errlen, -EBADMSG,
					 "E_RESULT_TRUNCATED: chunk %llu missing",
					 (unsigned long long)in->chunks);
		l = le32(lb) & ~LAST_FLAG;
		last = le32(lb) & LAST_FLAG;
		if (l < TAG_LEN || l - TAG_LEN > in->chunk_size || (!last && l - TAG_LEN == 0))
			return set_error(err, errlen, -EBADMSG,
					 "E_RESULT_FRAMING: chunk %llu has a bad length",
					 (unsigned long long)in->chunks);
		EVP_DigestUpdate(d, lb, 4);
		off += 4;
		for (uint32_t done = 0; done < l;) {
			size_t take = l - done > sizeof(buf) ? sizeof(buf) : l - done;

			if (read_at(src, off, buf, take) < 0)
				return set_error(err, errlen, -EBADMSG,
						 "E_RESULT_TRUNCATED: chunk %llu is cut",
						 (unsigned long long)in->chunks);
			EVP_DigestUpdate(d, buf, take);
			off += take;
			done += (uint32_t)take;
		}
		in->chunks++;
		in->plaintext_max += l - TAG_LEN;
		if (last)
			break;
	}
	*trailer = off;
	return 0;
}

static int check_signature(struct result_info *in, char *err, size_t errlen)
{
	secp256k1_ecdsa_signature s;
	secp256k1_pubkey pk;
	uint8_t sig[64], h[32];

	if (json_get_hex(in->trailer, "signature", sig, 64) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_TRAILER: signature malformed");
	EVP_Digest(in->report_data, 64, h, NULL, EVP_sha256(), NULL);
	/* verify refuses high-S signatures: one bundle, one valid signature */
	if (!secp256k1_ec_pubkey_parse(ctx(), &pk, in->signing_pub, 33) ||
	    !secp256k1_ecdsa_signature_parse_compact(ctx(), &s, sig) ||
	    !secp256k1_ecdsa_verify(ctx(), &s, h, &pk))
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_SIGNATURE: the signature does not verify");
	return 0;
}

static int parse_trailer(const struct result_source *src, uint64_t off, struct result_info *in,
			 char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	const cJSON *m;
	uint8_t lb[4];
	uint32_t l;

	if (read_at(src, off, lb, 4) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_TRUNCATED: no trailer");
	l = le32(lb);
	if (l == 0 || l > RESULT_TRAILER_MAX || src->size - off - 4 != l)
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_TRUNCATED: the trailer's length is not the rest");
	if (!(text = malloc(l + 1)))
		return -ENOMEM;
	if (read_at(src, off + 4, text, l) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_TRUNCATED: trailer cut");
	text[l] = 0;
	if (json_parse(text, l, &in->trailer) < 0 || !cJSON_IsObject(in->trailer) ||
	    cJSON_GetArraySize(in->trailer) != 3 ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(in->trailer, "eventlog")) ||
	    !cJSON_IsObject(m = cJSON_GetObjectItemCaseSensitive(in->trailer, "evidence")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "tee")) ||
	    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "primary")))
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_TRAILER: not {eventlog, evidence, signature}");
	return 0;
}

int result_verify(const struct result_source *src, struct result_info *in, char *err, size_t errlen)
{
	EVP_MD_CTX *d = EVP_MD_CTX_new(), *m = EVP_MD_CTX_new();
	uint8_t pre[12];
	uint32_t hl;
	uint64_t trailer = 0;
	int r = -EBADMSG;

	memset(in, 0, sizeof(*in));
	if (!d || !m || EVP_DigestInit_ex(d, EVP_sha256(), NULL) != 1) {
		r = -ENOMEM;
		goto out;
	}
	if (read_at(src, 0, pre, sizeof(pre)) < 0 || memcmp(pre, RESULT_MAGIC, 4) ||
	    pre[4] != RESULT_VERSION || !is_zero(pre + 5, 3)) {
		r = set_error(err, errlen, -EBADMSG, "E_RESULT_FRAMING: not a cvm result bundle");
		goto out;
	}
	hl = le32(pre + 8);
	if (hl == 0 || hl > RESULT_HEADER_MAX || !(in->header_text = malloc(hl + 1)) ||
	    read_at(src, sizeof(pre), in->header_text, hl) < 0) {
		r = set_error(err, errlen, -EBADMSG, "E_RESULT_FRAMING: header length");
		goto out;
	}
	in->header_text[hl] = 0;
	in->header_len = hl;
	if (json_parse(in->header_text, hl, &in->header) < 0 || !cJSON_IsObject(in->header)) {
		r = set_error(err, errlen, -EBADMSG, "E_RESULT_HEADER: not a JSON object");
		goto out;
	}
	EVP_DigestUpdate(d, pre, sizeof(pre));
	EVP_DigestUpdate(d, in->header_text, hl);
	if ((r = parse_header(in, err, errlen)) < 0 ||
	    (r = walk_chunks(src, sizeof(pre) + hl, in, d, &trailer, err, errlen)) < 0 ||
	    (r = parse_trailer(src, trailer, in, err, errlen)) < 0)
		goto out;
	EVP_DigestFinal_ex(d, in->digest, NULL);
	EVP_DigestInit_ex(m, EVP_sha512(), NULL);
	EVP_DigestUpdate(m, in->digest, 32);
	EVP_DigestUpdate(m, in->signing_pub, 33);
	EVP_DigestFinal_ex(m, in->report_data, NULL);
	r = check_signature(in, err, errlen);
out:
	EVP_MD_CTX_free(d);
	EVP_MD_CTX_free(m);
	if (r < 0)
		result_info_free(in);
	return r;
}

int result_decrypt(const struct result_source *src, const struct result_info *in,
		   const struct result_key *recipient, result_sink_fn sink, void *ctx_, char *err,
		   size_t errlen)
{
	uint8_t key[32], rid[32], aad[32];
	uint8_t *buf = secret_alloc(in->chunk_size + TAG_LEN);
	uint64_t off = 12 + (uint64_t)in->header_len;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	EVP_Digest(recipient->pub, 33, rid, NULL, EVP_sha256(), NULL);
	EVP_Digest(in->header_text, in->header_len, aad, NULL, EVP_sha256(), NULL);
	if (!recipient->sk || CRYPTO_memcmp(rid, in->recipient_id, 32)) {
		r = set_error(err, errlen, -EACCES,
			      "E_RESULT_RECIPIENT: the bundle is sealed to another key");
		goto out;
	}
	if (derive(recipient->sk, in->ephemeral, in->ephemeral, recipient->pub, key) < 0) {
		r = set_error(err, errlen, -EIO, "E_RESULT_DECRYPT: key agreement failed");
		goto out;
	}
	for (uint64_t i = 0; i < in->chunks; i++) {
		uint8_t lb[4];
		uint32_t l;
		bool last;

		if (read_at(src, off, lb, 4) < 0 || (l = le32(lb) & ~LAST_FLAG) < TAG_LEN ||
		    l - TAG_LEN > in->chunk_size || read_at(src, off + 4, buf, l) < 0) {
			r = set_error(err, errlen, -EBADMSG,
				      "E_RESULT_TRUNCATED: chunk %llu changed since verification",
				      (unsigned long long)i);
			goto out;
		}
		last = le32(lb) & LAST_FLAG;
		if (last != (i + 1 == in->chunks) ||
		    gcm(false, key, i, last, aad, buf, l - TAG_LEN, buf, buf + l - TAG_LEN) < 0) {
			r = set_error(err, errlen, -EBADMSG,
				      "E_RESULT_DECRYPT: chunk %llu does not authenticate",
				      (unsigned long long)i);
			goto out;
		}
		if (l > TAG_LEN && (r = sink(ctx_, buf, l - TAG_LEN)) < 0) {
			set_error(err, errlen, r, "E_RESULT_OUTPUT: %s", strerror(-r));
			goto out;
		}
		off += 4 + l;
	}
out:
	OPENSSL_cleanse(key, sizeof(key));
	secret_free(buf, in->chunk_size + TAG_LEN);
	return r;
}

void result_info_free(struct result_info *in)
{
	cJSON_Delete(in->header);
	cJSON_Delete(in->trailer);
	free(in->header_text);
	in->header = in->trailer = NULL;
	in->header_text = NULL;
}

/* ---- the output disk ---- */

#define COMMIT_MAGIC "CVMC"
#define ORDER_MAGIC "CVMO"

void outdisk_commit_encode(const struct outdisk_commit *c, uint8_t b[OUTDISK_BLOCK])
{
	memset(b, 0, OUTDISK_BLOCK);
	memcpy(b, COMMIT_MAGIC, 4);
	put_le(b + 4, 1, 4);
	put_le(b + 8, c->offset, 8);
	put_le(b + 16, c->length, 8);
	memcpy(b + 24, c->sha256, 32);
	EVP_Digest(b, 56, b + 56, NULL, EVP_sha256(), NULL);
}

int outdisk_commit_parse(const uint8_t b[OUTDISK_BLOCK], struct outdisk_commit *c)
{
	uint8_t d[32];
	struct span s = { b + 8, 16 };

	if (is_zero(b, OUTDISK_BLOCK))
		return -ENOENT;
	EVP_Digest(b, 56, d, NULL, EVP_sha256(), NULL);
	if (memcmp(b, COMMIT_MAGIC, 4) || le32(b + 4) != 1 || CRYPTO_memcmp(d, b + 56, 32) ||
	    !is_zero(b + 88, OUTDISK_BLOCK - 88))
		return -EBADMSG;
	span_u64le(&s, &c->offset);
	span_u64le(&s, &c->length);
	memcpy(c->sha256, b + 24, 32);
	if (c->offset < OUTDISK_BUNDLE_OFFSET || c->length == 0 || c->length > (1ull << 50))
		return -EBADMSG;
	return 0;
}

int outdisk_order_encode(const char *order_id, uint8_t b[OUTDISK_BLOCK])
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	size_t n = 0;

	if (!result_order_id_valid(order_id))
		return -EINVAL;
	if (!o || !cJSON_AddStringToObject(o, "order_id", order_id) ||
	    jcs_serialize(o, &text, &n) < 0 || n > OUTDISK_BLOCK - 12)
		return -ENOMEM;
	memset(b, 0, OUTDISK_BLOCK);
	memcpy(b, ORDER_MAGIC, 4);
	put_le(b + 4, 1, 4);
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

	if (memcmp(b, ORDER_MAGIC, 4) || le32(b + 4) != 1)
		return set_error(err, errlen, -EBADMSG,
				 "E_ORDER: no order block on the output disk");
	if (n == 0 || n > OUTDISK_BLOCK - 12 || !is_zero(b + 12 + n, OUTDISK_BLOCK - 12 - n) ||
	    json_parse((const char *)b + 12, n, &o) < 0 || !cJSON_IsObject(o) ||
	    cJSON_GetArraySize(o) != 1 || json_get_string(o, "order_id", &id) < 0)
		return set_error(err, errlen, -EBADMSG, "E_ORDER: the order block is malformed");
	if (!result_order_id_valid(id) || strlen(id) >= cap)
		return set_error(err, errlen, -EBADMSG, "E_ORDER: the order id is not valid");
	memcpy(order_id, id, strlen(id) + 1);
	return 0;
}

int outdisk_open(int fd, struct result_source *src, char *err, size_t errlen)
{
	uint8_t b[OUTDISK_BLOCK], buf[65536], d[32];
	struct outdisk_commit c;
	struct result_source disk = { fd, 0, 0 };
	off_t end = lseek(fd, 0, SEEK_END);
	EVP_MD_CTX *m;
	int r;

	if (end < 0)
		return set_error(err, errlen, -errno, "E_NO_RESULT: %s", strerror(errno));
	disk.size = (uint64_t)end;
	if (read_at(&disk, 0, b, sizeof(b)) < 0)
		return set_error(err, errlen, -ENOENT, "E_NO_RESULT: the disk is too small");
	r = outdisk_commit_parse(b, &c);
	if (r == -ENOENT)
		return set_error(err, errlen, r, "E_NO_RESULT: no commit record");
	if (r < 0)
		return set_error(err, errlen, r, "E_NO_RESULT: the commit record is damaged");
	if (c.offset > disk.size || c.length > disk.size - c.offset)
		return set_error(err, errlen, -EBADMSG,
				 "E_NO_RESULT: the commit record points past the disk");
	if (!(m = EVP_MD_CTX_new()) || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(m);
		return -ENOMEM;
	}
	for (uint64_t off = 0; off < c.length;) {
		size_t take = c.length - off > sizeof(buf) ? sizeof(buf) : c.length - off;

		if ((r = read_at(&disk, c.offset + off, buf, take)) < 0)
			break;
		EVP_DigestUpdate(m, buf, take);
		off += take;
	}
	EVP_DigestFinal_ex(m, d, NULL);
	EVP_MD_CTX_free(m);
	if (r < 0 || CRYPTO_memcmp(d, c.sha256, 32))
		return set_error(err, errlen, -EBADMSG,
				 "E_NO_RESULT: the bundle does not match its commit record");
	src->fd = fd;
	src->offset = c.offset;
	src->size = c.length;
	return 0;
}
