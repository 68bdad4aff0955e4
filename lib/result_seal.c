/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result bundle's writer (docs/result.md): the header, the sealed
 * chunks as the job's output streams in, and the signed trailer with the
 * evidence binding them.
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

enum { W_OPEN, W_DONE, W_FAILED };

/*
 * A sealed chunk waits in a ring slot as it goes out: frame, ciphertext,
 * tag, one run of bytes. The ring's helper (a second core, once the
 * output passes RING_AFTER bytes) hashes the slots into D behind the
 * caller's thread, which seals the next chunks and hands each to the sink
 * itself, in order. Slots for about RING_BYTES, 2 to CHUNK_RING_MAX.
 */
#define FRAME_LEN 4
#define RING_BYTES (1u << 20)
#define RING_AFTER (1u << 20)

struct result_writer {
	EVP_CIPHER_CTX *gcm; /* holds the chunk key */
	uint8_t aad[32];     /* SHA-256 of the header */
	uint8_t signing_pub[33];
	uint8_t bundle_sha256[32]; /* every byte given to the sink, once finished */
	const uint8_t *signing_sk;
	struct chunk_ring *ring;
	size_t chunk, fill; /* plaintext bytes in the held slot, after its frame */
	uint64_t index;
	EVP_MD_CTX *d; /* D: every byte before the trailer; then the trailer too */
	result_sink_fn sink;
	void *sink_ctx;
	int state;
};

static int emit(struct result_writer *w, const void *p, size_t n, char *err, size_t errlen)
{
	int r;

	if (EVP_DigestUpdate(w->d, p, n) != 1)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	if ((r = w->sink(w->sink_ctx, p, n)) < 0)
		return set_error(err, errlen, r, "E_OUTPUT_WRITE: %s", strerror(-r));
	return 0;
}

/* The ring's helper: a sealed slot into D. */
static int hash_slot(void *ctx, struct chunk_slot *s)
{
	struct result_writer *w = ctx;

	return EVP_DigestUpdate(w->d, s->p, s->len) == 1 ? 0 : -EIO;
}

static cJSON *header_json(const uint8_t recipient[33], const uint8_t eph[33], size_t chunk,
			  const uint8_t signing[33], const struct result_meta *m)
{
	cJSON *h = cJSON_CreateObject(), *job, *inputs;
	uint8_t rid[32];

	if (!h || result_sha256(recipient, 33, rid) < 0 ||
	    !cJSON_AddNumberToObject(h, "version", RESULT_VERSION) ||
	    !cJSON_AddStringToObject(h, "cipher", RESULT_CIPHER) ||
	    !json_add_hex(h, "recipient_key_id", rid, 32) ||
	    !json_add_hex(h, "ephemeral_pubkey", eph, 33) ||
	    !cJSON_AddNumberToObject(h, "chunk_size", (double)chunk) ||
	    !json_add_hex(h, "signing_pubkey", signing, 33) ||
	    !cJSON_AddStringToObject(h, "order_id", m->order_id) ||
	    !json_add_hex(h, "order_sha256", m->order_sha256, 32) ||
	    !(inputs = cJSON_AddArrayToObject(h, "inputs")) ||
	    !json_add_hex(h, "job_manifest_sha256", m->job_manifest_sha256, 32) ||
	    !(job = cJSON_AddObjectToObject(h, "job")) ||
	    !cJSON_AddNumberToObject(job, "exit_code", m->exit_code) ||
	    !cJSON_AddNumberToObject(job, "signal", m->signal) ||
	    !cJSON_AddBoolToObject(job, "timed_out", m->timed_out) ||
	    !cJSON_AddBoolToObject(job, "partial", m->partial)) {
		cJSON_Delete(h);
		return NULL;
	}
	for (size_t i = 0; i < m->ninputs; i++) {
		cJSON *e = cJSON_CreateObject();

		if (!e || !cJSON_AddItemToArray(inputs, e) ||
		    !cJSON_AddStringToObject(e, "name", m->inputs[i].name) ||
		    !json_add_hex(e, "luks_header_sha256", m->inputs[i].luks_header_sha256, 32)) {
			cJSON_Delete(h);
			return NULL;
		}
	}
	return h;
}

static bool meta_valid(const struct result_meta *m)
{
	if (!m->inputs || m->ninputs < 1 || m->ninputs > RESULT_INPUTS_MAX)
		return false;
	for (size_t i = 0; i < m->ninputs; i++)
		if (!result_input_name_valid(m->inputs[i].name))
			return false;
	return m->order_id && result_order_id_valid(m->order_id) && m->order_sha256 &&
	       m->job_manifest_sha256 && m->exit_code >= -1 && m->exit_code <= 255 &&
	       m->signal >= 0 && m->signal <= 64;
}

/* A fresh ephemeral key: the chunk key, and the public half for the header. */
static int writer_key(struct result_writer *w, const uint8_t recipient[33], uint8_t eph_pub[33],
		      char *err, size_t errlen)
{
	struct result_key eph;
	uint8_t key[32];
	CLEANUP_ERASE(key);
	int r = result_key_generate(&eph, err, errlen);

	if (r < 0)
		return r;
	memcpy(eph_pub, eph.pub, 33);
	r = result_derive(eph.sk, recipient, eph.pub, recipient, key);
	result_key_wipe(&eph);
	if (r < 0)
		return set_error(err, errlen, r, "E_RESULT: key agreement failed");
	if (!(w->gcm = result_gcm_new(true, key)))
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	return 0;
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
	if (result_sha256(text, n, w->aad) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	if ((r = emit(w, pre, sizeof(pre), err, errlen)) < 0)
		return r;
	return emit(w, text, n, err, errlen);
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
	if (chunk_ring_new(RING_HELPER_DRAINS, RING_BYTES / chunk_size,
			   FRAME_LEN + chunk_size + TAG_LEN, hash_slot, w, &w->ring) < 0 ||
	    !(w->d = EVP_MD_CTX_new()) || EVP_DigestInit_ex(w->d, EVP_sha256(), NULL) != 1)
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

/* The ring (its thread, its slots) and the chunk key are let go once the writer stops. */
static void writer_release(struct result_writer *w)
{
	chunk_ring_free(w->ring);
	w->ring = NULL;
	EVP_CIPHER_CTX_free(w->gcm);
	w->gcm = NULL;
}

static int writer_failed(struct result_writer *w, int r)
{
	w->state = W_FAILED;
	writer_release(w);
	return r;
}

/*
 * The chunk in the held slot, its n bytes of plaintext at in (the slot
 * itself, or the caller's buffer): frame (length of ciphertext and tag,
 * bit 31 the last-chunk flag), ciphertext, tag; hashed (behind, on the
 * helper) and given to the sink here, in order.
 */
static int seal_chunk(struct result_writer *w, const uint8_t *in, size_t n, bool last, char *err,
		      size_t errlen)
{
	struct chunk_slot *s = chunk_ring_hold(w->ring);
	uint8_t *c;
	int r;

	if (!s)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	c = s->p + FRAME_LEN;
	put_le(s->p, (uint32_t)(n + TAG_LEN) | (last ? LAST_FLAG : 0), 4);
	if (result_gcm(w->gcm, true, w->index, last, w->aad, in ? in : c, c, n, c + n) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT: encryption failed");
	s->len = FRAME_LEN + n + TAG_LEN;
	/* the helper only reads the slot, as the sink does: both at once */
	if (chunk_ring_post(w->ring) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	if ((r = w->sink(w->sink_ctx, s->p, s->len)) < 0)
		return set_error(err, errlen, r, "E_OUTPUT_WRITE: %s", strerror(-r));
	w->index++;
	w->fill = 0;
	if (w->index >= RING_AFTER / w->chunk || chunk_ring_mode == RING_THREAD)
		chunk_ring_parallel(w->ring);
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
		struct chunk_slot *s;
		size_t take;

		/* a full chunk is sealed only once more data shows that it is not the last */
		if (w->fill == w->chunk &&
		    (r = seal_chunk(w, NULL, w->chunk, false, err, errlen)) < 0)
			return writer_failed(w, r);
		/* a whole chunk of the caller's, with more after it: sealed from where it is */
		if (w->fill == 0 && n > w->chunk) {
			if ((r = seal_chunk(w, b, w->chunk, false, err, errlen)) < 0)
				return writer_failed(w, r);
			b += w->chunk;
			n -= w->chunk;
			continue;
		}
		if (!(s = chunk_ring_hold(w->ring)))
			return writer_failed(
				w, set_error(err, errlen, -EIO, "E_RESULT: digest failed"));
		take = w->chunk - w->fill < n ? w->chunk - w->fill : n;
		memcpy(s->p + FRAME_LEN + w->fill, b, take);
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

	if (result_sha256(rd, 64, h) < 0 ||
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
	if (!result_evidence_shape_ok(evidence)) {
		cJSON_Delete(evidence);
		return set_error(err, errlen, -EINVAL,
				 "E_RESULT_EVIDENCE: not {\"tee\": snp|tdx|tpm, \"primary\": {}}");
	}
	cJSON_AddItemToObject(t, "evidence", evidence);
	if (sign(w, rd, sig) < 0 || !json_add_hex(t, "signature", sig, 64))
		return set_error(err, errlen, -EIO, "E_RESULT: cannot sign");
	return 0;
}

/* D: every byte so far, once the helper has hashed them all; w->d goes on for the trailer. */
static int writer_digest(struct result_writer *w, uint8_t d[32], char *err, size_t errlen)
{
	EVP_MD_CTX *c;
	int ok;

	if (chunk_ring_drain(w->ring) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	c = EVP_MD_CTX_new();
	ok = c && EVP_MD_CTX_copy_ex(c, w->d) == 1 && EVP_DigestFinal_ex(c, d, NULL) == 1;
	EVP_MD_CTX_free(c);
	return ok ? 0 : set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
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
	if ((r = seal_chunk(w, NULL, w->fill, true, err, errlen)) < 0 ||
	    (r = writer_digest(w, d, err, errlen)) < 0)
		return r;
	/* no thread is left while the evidence is taken */
	writer_release(w);
	if (!t || result_binding(d, w->signing_pub, rd) < 0)
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	if ((r = trailer_json(w, rd, eventlog, ev, ev_ctx, t, err, errlen)) < 0)
		return r;
	if (jcs_serialize(t, &text, &n) < 0 || n > RESULT_TRAILER_MAX)
		return set_error(err, errlen, -EFBIG, "E_RESULT: the trailer is over %u bytes",
				 RESULT_TRAILER_MAX);
	put_le(len, n, 4);
	/* the trailer is outside D, but inside the digest of all the sink was given */
	if ((r = emit(w, len, 4, err, errlen)) < 0 || (r = emit(w, text, n, err, errlen)) < 0)
		return r;
	if (EVP_DigestFinal_ex(w->d, w->bundle_sha256, NULL) != 1)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	return 0;
}

int result_writer_finish(struct result_writer *w, const char *eventlog, result_evidence_fn ev,
			 void *ev_ctx, char *err, size_t errlen)
{
	int r = writer_usable(w, err, errlen);

	if (r == 0)
		r = writer_finish(w, eventlog, ev, ev_ctx, err, errlen);
	if (r < 0)
		return writer_failed(w, r);
	w->state = W_DONE;
	return 0;
}

int result_writer_sha256(const struct result_writer *w, uint8_t out[32])
{
	if (w->state != W_DONE)
		return -EINVAL;
	memcpy(out, w->bundle_sha256, 32);
	return 0;
}

void result_writer_free(struct result_writer *w)
{
	if (!w)
		return;
	writer_release(w);
	EVP_MD_CTX_free(w->d);
	free(w);
}
