/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result bundle's reader (docs/result.md): its framing, header,
 * trailer and signature checked without a key (result_verify), its chunks
 * decrypted one at a time, and the customer's safe extraction of the tar
 * inside (docs/result-cli.md).
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
#include "lib/result_internal.h"

int result_read_at(const struct result_source *s, uint64_t off, void *buf, size_t n)
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
		{ "order_sha256", in->order_sha256, 32 },
		{ "job_manifest_sha256", in->job_manifest_sha256, 32 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (json_get_hex(in->header, f[i].name, f[i].out, f[i].n) < 0)
			return set_error(err, errlen, -EBADMSG,
					 "E_RESULT_HEADER: %s missing or malformed", f[i].name);
	return 0;
}

/* "inputs": 1 to 16 objects of exactly {"name", "luks_header_sha256"}, names unique. */
static int parse_inputs(struct result_info *in, char *err, size_t errlen)
{
	static const char *const names[] = { "name", "luks_header_sha256" };
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(in->header, "inputs"), *e;
	const char *s;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 ||
	    cJSON_GetArraySize(a) > RESULT_INPUTS_MAX)
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_HEADER: inputs: not an array of 1 to %d",
				 RESULT_INPUTS_MAX);
	cJSON_ArrayForEach(e, a) {
		struct result_input *ri = &in->inputs[in->ninputs];

		if (!cJSON_IsObject(e) || json_unknown_member(e, names, ARRAY_SIZE(names)) ||
		    cJSON_GetArraySize(e) != 2 || json_get_string(e, "name", &s) < 0 ||
		    !result_input_name_valid(s) ||
		    json_get_hex(e, "luks_header_sha256", ri->luks_header_sha256, 32) < 0)
			return set_error(err, errlen, -EBADMSG,
					 "E_RESULT_HEADER: inputs[%zu] malformed", in->ninputs);
		snprintf(ri->name, sizeof(ri->name), "%s", s);
		for (size_t j = 0; j < in->ninputs; j++)
			if (!strcmp(in->inputs[j].name, ri->name))
				return set_error(err, errlen, -EBADMSG,
						 "E_RESULT_HEADER: inputs[%zu]: name taken",
						 in->ninputs);
		in->ninputs++;
	}
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
		"order_sha256",
		"inputs",
		"job_manifest_sha256",
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
	if ((r = parse_hexes(in, err, errlen)) < 0 || (r = parse_inputs(in, err, errlen)) < 0)
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

	if (result_read_at(src, 0, pre, sizeof(pre)) < 0 || memcmp(pre, RESULT_MAGIC, 4))
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_FRAMING: not a cvm result bundle");
	if (pre[4] == 1 && is_zero(pre + 5, 3))
		return set_error(
			err, errlen, -EBADMSG,
			"E_RESULT_VERSION: a version 1 bundle (one workload, before orders "
			"had inputs); this cvm reads version %d",
			RESULT_VERSION);
	if (pre[4] != RESULT_VERSION || !is_zero(pre + 5, 3))
		return set_error(err, errlen, -EBADMSG, "E_RESULT_FRAMING: unknown version %u",
				 pre[4]);
	hl = le32(pre + 8);
	if (hl == 0 || hl > RESULT_HEADER_MAX)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_FRAMING: header length %u", hl);
	if (!(in->header_text = malloc(hl + 1)))
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	if (result_read_at(src, sizeof(pre), in->header_text, hl) < 0)
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

	if (result_read_at(src, off, word, 4) < 0)
		return -ENODATA;
	l = le32(word) & ~LAST_FLAG;
	*last = le32(word) & LAST_FLAG;
	if (l < TAG_LEN || l - TAG_LEN > chunk_size || (!*last && l - TAG_LEN == 0))
		return -EBADMSG;
	*len = l;
	return 0;
}

/* ---- chunks, read ahead ---- */

/*
 * Chunk after chunk into ring slots, each its frame word, ciphertext and
 * tag: on the ring's helper thread once the bundle passes RING_AFTER bytes
 * on a machine with a second CPU, inline before. Reading is all the helper
 * does; what the caller does with a slot (hash, decrypt) stays on its own
 * thread. Slots for about RING_BYTES, 2 to CHUNK_RING_MAX.
 */
#define RING_BYTES (1u << 20)
#define RING_AFTER (1u << 20)

enum { FEED_OK, FEED_MISSING, FEED_BAD_LENGTH, FEED_CUT };

struct feed {
	struct result_source src;
	uint64_t off, left; /* the next frame; how many chunks may still come */
	uint32_t chunk_size;
};

static int feed_chunk(void *ctx, struct chunk_slot *s)
{
	struct feed *f = ctx;
	uint32_t l = 0;
	bool last = false;
	int r = chunk_frame(&f->src, f->off, f->chunk_size, s->p, &l, &last);

	s->len = 0;
	if (r < 0)
		s->status = r == -ENODATA ? FEED_MISSING : FEED_BAD_LENGTH;
	else if (result_read_at(&f->src, f->off + 4, s->p + 4, l) < 0)
		s->status = FEED_CUT;
	else
		s->status = FEED_OK, s->len = 4 + (size_t)l, f->off += 4 + (uint64_t)l;
	return s->status != FEED_OK || last || f->left-- <= 1;
}

/* The chunks from off, at most max of them. 0, or -ENOMEM. */
static int feed_start(struct feed *f, const struct result_source *src, uint64_t off,
		      uint32_t chunk_size, uint64_t max, struct chunk_ring **q)
{
	*f = (struct feed){ .src = *src, .off = off, .left = max, .chunk_size = chunk_size };
	if (chunk_ring_new(RING_HELPER_FILLS, RING_BYTES / chunk_size, 4 + chunk_size + TAG_LEN,
			   feed_chunk, f, q) < 0)
		return -ENOMEM;
	if ((src->size > off && src->size - off >= RING_AFTER) || chunk_ring_mode == RING_THREAD)
		chunk_ring_parallel(*q);
	return 0;
}

/* Hashes every chunk into D: their count, and where the trailer starts. */
static int walk_chunks(const struct result_source *src, uint64_t off, struct result_info *in,
		       EVP_MD_CTX *d, uint64_t *trailer, char *err, size_t errlen)
{
	unsigned long long i = 0;
	struct chunk_ring *q;
	struct chunk_slot *s;
	struct feed f;
	int r = feed_start(&f, src, off, in->chunk_size, UINT64_MAX, &q);

	if (r < 0)
		return set_error(err, errlen, r, "E_RESULT: out of memory");
	while (r == 0 && (s = chunk_ring_next(q))) {
		if (s->status == FEED_MISSING)
			r = set_error(err, errlen, -EBADMSG,
				      "E_RESULT_TRUNCATED: chunk %llu is missing", i);
		else if (s->status == FEED_BAD_LENGTH)
			r = set_error(err, errlen, -EBADMSG,
				      "E_RESULT_FRAMING: chunk %llu has a bad length", i);
		else if (s->status == FEED_CUT)
			r = set_error(err, errlen, -EBADMSG,
				      "E_RESULT_TRUNCATED: chunk %llu is cut", i);
		else if (EVP_DigestUpdate(d, s->p, s->len) != 1)
			r = set_error(err, errlen, -EIO, "E_RESULT: digest failed");
		else
			in->plaintext_max += s->len - 4 - TAG_LEN, off += s->len, i++;
	}
	chunk_ring_free(q);
	in->chunks = i;
	*trailer = off;
	return r;
}

static int parse_trailer(const struct result_source *src, uint64_t off, struct result_info *in,
			 char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	uint8_t lb[4];
	uint32_t l;

	if (result_read_at(src, off, lb, 4) < 0)
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
	if (result_read_at(src, off + 4, text, l) < 0)
		return set_error(err, errlen, -EBADMSG, "E_RESULT_TRUNCATED: the trailer is cut");
	text[l] = 0;
	if (json_parse(text, l, &in->trailer) < 0 || !cJSON_IsObject(in->trailer) ||
	    cJSON_GetArraySize(in->trailer) != 3 || !canonical(in->trailer, text, l) ||
	    !cJSON_IsArray(in->eventlog =
				   cJSON_GetObjectItemCaseSensitive(in->trailer, "eventlog")) ||
	    !result_evidence_shape_ok(
		    in->evidence = cJSON_GetObjectItemCaseSensitive(in->trailer, "evidence")))
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
	if (result_sha256(in->report_data, 64, h) < 0 ||
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
		    result_binding(in->digest, in->signing_pub, in->report_data) < 0)
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
	struct feed feed;
	struct chunk_ring *ring;
	EVP_CIPHER_CTX *gcm; /* holds the chunk key */
	uint8_t aad[32];
	uint64_t index, chunks;
	bool end;
	int failed;
};

int result_reader_new(const struct result_source *src, const struct result_info *in,
		      const struct result_key *recipient, struct result_reader **out, char *err,
		      size_t errlen)
{
	struct result_reader *r;
	uint8_t rid[32], key[32];
	CLEANUP_ERASE(key);

	*out = NULL;
	if (result_sha256(recipient->pub, 33, rid) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT: digest failed");
	if (!recipient->sk || CRYPTO_memcmp(rid, in->recipient_key_id, 32))
		return set_error(err, errlen, -EACCES,
				 "E_RESULT_RECIPIENT: the bundle is sealed to another key");
	if (!(r = calloc(1, sizeof(*r))))
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	r->chunks = in->chunks;
	if (result_sha256(in->header_text, in->header_len, r->aad) < 0 ||
	    result_derive(recipient->sk, in->ephemeral, in->ephemeral, recipient->pub, key) < 0 ||
	    !(r->gcm = result_gcm_new(false, key))) {
		result_reader_free(r);
		return set_error(err, errlen, -EIO, "E_RESULT_DECRYPT: key agreement failed");
	}
	if (feed_start(&r->feed, src, PREAMBLE_LEN + (uint64_t)in->header_len, in->chunk_size,
		       in->chunks, &r->ring) < 0) {
		result_reader_free(r);
		return set_error(err, errlen, -ENOMEM, "E_RESULT: out of memory");
	}
	*out = r;
	return 0;
}

/* The next chunk, decrypted in its slot: handed on only once its tag has checked. */
static int reader_chunk(struct result_reader *r, const uint8_t **p, size_t *n, bool *last,
			char *err, size_t errlen)
{
	unsigned long long i = r->index;
	struct chunk_slot *s = chunk_ring_next(r->ring);
	uint8_t *c;
	size_t l;

	if (!s || s->status != FEED_OK)
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_TRUNCATED: chunk %llu is missing or cut", i);
	*last = le32(s->p) & LAST_FLAG;
	c = s->p + 4;
	l = s->len - 4 - TAG_LEN;
	/* the frame's flag and the nonce's must both say last exactly at the end */
	if (*last != (r->index + 1 == r->chunks) ||
	    result_gcm(r->gcm, false, r->index, *last, r->aad, c, c, l, c + l) < 0) {
		OPENSSL_cleanse(s->p, s->len);
		return set_error(err, errlen, -EBADMSG,
				 "E_RESULT_DECRYPT: chunk %llu does not authenticate", i);
	}
	*p = c;
	*n = l;
	return 0;
}

int result_reader_next(struct result_reader *r, const uint8_t **p, size_t *n, bool *end, char *err,
		       size_t errlen)
{
	static const uint8_t none[1];
	bool last = false;
	int ret;

	*p = none;
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
	if ((ret = reader_chunk(r, p, n, &last, err, errlen)) < 0) {
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
	chunk_ring_free(r->ring);
	EVP_CIPHER_CTX_free(r->gcm);
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
	CLEANUP_ERASE(buf);
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

/* ---- the output disk: its commit record and the bundle it names ---- */

static int digest_region(const struct result_source *disk, uint64_t off, uint64_t len,
			 uint8_t out[32])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t buf[65536];
	int r = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;

	for (uint64_t done = 0; r == 0 && done < len;) {
		size_t take = len - done > sizeof(buf) ? sizeof(buf) : (size_t)(len - done);

		if ((r = result_read_at(disk, off + done, buf, take)) == 0 &&
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
	if (disk.size < OUTDISK_BUNDLE_OFFSET || result_read_at(&disk, 0, b, sizeof(b)) < 0)
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
