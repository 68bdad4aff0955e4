/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result bundle (docs/result.md): sealed, signed and opened with the
 * sim TEE's real evidence (a TDX quote from the test PKI) and a replayable
 * runtime log; then attacked byte by byte, chunk by chunk and on the output
 * disk. Also the agent's writer (agent/result.c), the customer's extraction
 * and the key files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <secp256k1.h>

#include "agent/agent.h"
#include "agent/result.h"
#include "lib/lib.h"
#include "lib/result_internal.h"
#include "tests/unit/support/files.h"
#include "tests/unit/support/sim.h"

#define CHUNK 1024u

static char dir[512];
static struct tee *sim;
static struct tdx_verifier *tv;
static struct result_key customer, signer;
static char *eventlog;
static uint8_t manifest[32], luks[32], order_digest[32];
/* the order's inputs as the header names them (their digests filled in at setup) */
static struct result_input inputs[2] = { { .name = "solution" }, { .name = "data" } };

/* ---- fixtures ---- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static int setup(void **state)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI") };
	static char log[600];
	char path[600], err[256];
	size_t len;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/result", sim_env("CVM_TEST_TMP"));
	sh("rm -rf %s && mkdir -p %s", dir, dir);
	snprintf(log, sizeof(log), "%s/runtime-log.json", dir);
	cfg.runtime_log = log;
	memset(manifest, 0x3a, sizeof(manifest));
	memset(luks, 0x1c, sizeof(luks));
	memset(order_digest, 0x0d, sizeof(order_digest));
	memcpy(inputs[0].luks_header_sha256, luks, 32);
	memset(inputs[1].luks_header_sha256, 0x2d, 32);
	if (tee_open("sim", &cfg, &sim, err, sizeof(err)) < 0 ||
	    result_key_generate(&customer, err, sizeof(err)) < 0 ||
	    result_key_generate(&signer, err, sizeof(err)) < 0 ||
	    /* the agent's version and configuration come first, as the agent measures them */
	    tee_measure(sim, "agent-version", (const uint8_t *)"test", 4, err, sizeof(err)) < 0 ||
	    tee_measure(sim, "agent-config", manifest, 32, err, sizeof(err)) < 0 ||
	    tee_measure(sim, "order", order_digest, 32, err, sizeof(err)) < 0 ||
	    tee_measure(sim, "result-key", signer.pub, 33, err, sizeof(err)) < 0 ||
	    tee_measure(sim, "luks-header", luks, 32, err, sizeof(err)) < 0 ||
	    tee_measure(sim, "luks-header", inputs[1].luks_header_sha256, 32, err, sizeof(err)) <
		    0 ||
	    tdx_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/roots.pem"), NULL, 0,
			     &tv, err, sizeof(err)) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	eventlog = (char *)sim_read(log, &len);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tee_close(sim);
	tdx_verifier_free(tv);
	result_key_wipe(&customer);
	result_key_wipe(&signer);
	free(eventlog);
	return 0;
}

/* The agent's evidence: the sim backend's primary evidence, as cvm-agent wraps it. */
static int evidence_sim(void *ctx, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	cJSON *primary = NULL, *e;
	int r;

	(void)ctx;
	if ((r = sim->evidence(sim, rd, &primary, err, errlen)) < 0)
		return r;
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "tee", sim->kbs_tee);
	cJSON_AddItemToObject(e, "primary", primary);
	*out = e;
	return 0;
}

/* Evidence taken with report_data of another bundle. */
static int evidence_other(void *ctx, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	uint8_t other[64];

	memcpy(other, rd, 64);
	other[0] ^= 0x80;
	return evidence_sim(ctx, other, out, err, errlen);
}

static const struct result_meta meta = {
	.order_id = "order-1",
	.order_sha256 = order_digest,
	.job_manifest_sha256 = manifest,
	.inputs = inputs,
	.ninputs = 2,
	.exit_code = 3,
	.signal = 0,
	.timed_out = false,
	.partial = true,
};

/* ---- heap use, sampled while streaming ---- */

#ifdef __SANITIZE_ADDRESS__
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_now(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_now(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}
#endif

static size_t heap_peak;

static void heap_sample(void)
{
	size_t h = heap_now();

	if (h > heap_peak)
		heap_peak = h;
}

/* ---- bundles in memory files ---- */

static int fd_sink(void *ctx, const void *p, size_t n)
{
	int fd = *(int *)ctx;

	heap_sample();
	return write(fd, p, n) == (ssize_t)n ? 0 : -EIO;
}

struct buf {
	uint8_t *p; /* p, n and cap as in struct test_buf */
	size_t n, cap;
	int calls;
};

static int buf_sink(void *ctx, const void *p, size_t n)
{
	struct buf *b = ctx;

	struct test_buf t = { b->p, b->n, b->cap };

	heap_sample();
	b->calls++;
	test_buf_put(&t, p, n);
	b->p = t.p, b->n = t.n, b->cap = t.cap;
	return 0;
}

static void pattern(uint8_t *p, size_t n, size_t at)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((at + i) * 131 + ((at + i) >> 9));
}

/* Seals n bytes of pattern, written in uneven pieces; the bundle's memory file. */
static int seal_with(size_t n, size_t chunk, result_evidence_fn ev)
{
	struct result_writer *w;
	uint8_t piece[3001];
	char err[256];
	int fd = memfd_create("bundle", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(result_writer_new(customer.pub, &signer, &meta, chunk, fd_sink, &fd, &w,
					   err, sizeof(err)),
			 0);
	for (size_t at = 0; at < n;) {
		size_t k = n - at < sizeof(piece) ? n - at : sizeof(piece);

		pattern(piece, k, at);
		assert_int_equal(result_writer_write(w, piece, k, err, sizeof(err)), 0);
		at += k;
		heap_sample();
	}
	if (result_writer_finish(w, eventlog, ev, NULL, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	result_writer_free(w);
	return fd;
}

static int seal(size_t n)
{
	return seal_with(n, CHUNK, evidence_sim);
}

static struct result_source source(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (struct result_source){ .fd = fd, .size = (uint64_t)st.st_size };
}

static uint8_t *slurp(int fd, size_t *n)
{
	struct result_source s = source(fd);
	uint8_t *p = malloc(s.size + 1);

	assert_non_null(p);
	assert_int_equal(pread(fd, p, s.size, 0), (ssize_t)s.size);
	*n = s.size;
	return p;
}

static int memfd_of(const uint8_t *p, size_t n)
{
	int fd = memfd_create("tampered", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	return fd;
}

/* result_verify's verdict on bytes: 0, or the error with its message in err. */
static int verify_bytes(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	int fd = memfd_of(p, n);
	struct result_source s = source(fd);
	struct result_info in;
	int r = result_verify(&s, &in, err, errlen);

	if (r == 0)
		result_info_free(&in);
	close(fd);
	return r;
}

static void expect_refused(const uint8_t *p, size_t n, const char *code)
{
	char err[256] = "";

	assert_int_equal(verify_bytes(p, n, err, sizeof(err)), -EBADMSG);
	if (code && strncmp(err, code, strlen(code)))
		fail_msg("expected %s, got: %s", code, err);
}

/* Where the parts of a bundle are (the layout of docs/result.md). */
struct layout {
	size_t header_end, trailer;
	size_t chunk[64], nchunks;
};

static void layout_of(const uint8_t *b, size_t n, struct layout *l)
{
	size_t off = 12 + le32(b + 8);

	memset(l, 0, sizeof(*l));
	l->header_end = off;
	for (bool last = false; !last;) {
		assert_true(off + 4 <= n && l->nchunks < ARRAY_SIZE(l->chunk));
		l->chunk[l->nchunks++] = off;
		last = le32(b + off) >> 31;
		off += 4 + (le32(b + off) & 0x7fffffff);
	}
	l->trailer = off;
}

/* Signs a changed bundle again with the agent's key: only the key holder could. */
static void resign(uint8_t **b, size_t *n)
{
	secp256k1_context *c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	secp256k1_ecdsa_signature sig;
	_cleanup_(cJSON_Deletep) cJSON *t = NULL;
	_cleanup_free_ char *text = NULL;
	uint8_t d[32], m[65], rd[64], h[32], compact[64];
	struct layout l;
	size_t tl;

	layout_of(*b, *n, &l);
	EVP_Digest(*b, l.trailer, d, NULL, EVP_sha256(), NULL);
	memcpy(m, d, 32);
	memcpy(m + 32, signer.pub, 33);
	EVP_Digest(m, 65, rd, NULL, EVP_sha512(), NULL);
	EVP_Digest(rd, 64, h, NULL, EVP_sha256(), NULL);
	assert_int_equal(secp256k1_ecdsa_sign(c, &sig, h, signer.sk, NULL, NULL), 1);
	secp256k1_ecdsa_signature_serialize_compact(c, compact, &sig);
	secp256k1_context_destroy(c);
	assert_int_equal(json_parse((char *)*b + l.trailer + 4, le32(*b + l.trailer), &t), 0);
	cJSON_DeleteItemFromObject(t, "signature");
	json_add_hex(t, "signature", compact, 64);
	assert_int_equal(jcs_serialize(t, &text, &tl), 0);
	*b = realloc(*b, l.trailer + 4 + tl);
	put_le(*b + l.trailer, tl, 4);
	memcpy(*b + l.trailer + 4, text, tl);
	*n = l.trailer + 4 + tl;
}

/* ---- the customer's whole check: bundle, evidence, runtime log ---- */

static int customer_check(const struct result_info *in)
{
	const cJSON *primary = cJSON_GetObjectItemCaseSensitive(in->evidence, "primary");
	_cleanup_free_ char *log = NULL;
	struct kbs_evidence e;
	struct tdx_quote q;
	struct verdict v;
	char err[256];
	size_t len = 0;
	int ok;

	static const char *const members[] = { "cc_eventlog", "quote", "runtime_eventlog" };
	const cJSON *m;

	/* a member no check reads would go unchecked: there is none */
	cJSON_ArrayForEach(m, primary) {
		bool known = false;

		for (size_t i = 0; i < ARRAY_SIZE(members); i++)
			known |= !strcmp(m->string, members[i]);
		if (!known)
			return -1;
	}
	if (strcmp(in->tee, "tdx") ||
	    kbs_evidence_parse(PLATFORM_TDX, primary, &e, err, sizeof(err)) < 0)
		return -1;
	verdict_init(&v, PLATFORM_TDX);
	ok = tdx_verify(tv, e.raw, e.raw_len, NULL, in->report_data, &q, &v) == 0 &&
	     verdict_ok(&v) && jcs_serialize(in->eventlog, &log, &len) == 0;
	/* the copy the primary evidence may carry must be the same log */
	if (ok && e.runtime_log) {
		_cleanup_(cJSON_Deletep) cJSON *copy = NULL;
		_cleanup_free_ char *ctext = NULL;
		size_t clen;

		ok = json_parse(e.runtime_log, strlen(e.runtime_log), &copy) == 0 &&
		     jcs_serialize(copy, &ctext, &clen) == 0 && clen == len &&
		     !memcmp(ctext, log, len);
	}
	kbs_evidence_free(&e);
	verdict_init(&v, PLATFORM_TDX);
	if (ok && runtime_log_check(log, len, PLATFORM_TDX, q.body.rtmr[3], luks, &v) < 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* The raw quote of a bundle's trailer. */
static uint8_t *quote_of(const uint8_t *b, size_t n, size_t *len)
{
	_cleanup_(cJSON_Deletep) cJSON *t = NULL;
	struct kbs_evidence e;
	struct layout l;
	char err[256];
	uint8_t *q;

	layout_of(b, n, &l);
	assert_int_equal(json_parse((const char *)b + l.trailer + 4, n - l.trailer - 4, &t), 0);
	assert_int_equal(kbs_evidence_parse(PLATFORM_TDX,
					    cJSON_GetObjectItemCaseSensitive(
						    cJSON_GetObjectItemCaseSensitive(t, "evidence"),
						    "primary"),
					    &e, err, sizeof(err)),
			 0);
	q = malloc(e.raw_len);
	memcpy(q, e.raw, e.raw_len);
	*len = e.raw_len;
	kbs_evidence_free(&e);
	return q;
}

/* The certificates of a PEM chain, DER after DER: what a chain check reads of the text. */
static size_t chain_der(const uint8_t *pem, size_t n, uint8_t *out, size_t cap)
{
	BIO *b = BIO_new_mem_buf(pem, (int)n);
	size_t len = 0;
	X509 *x;

	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		unsigned char *p = out + len;
		int k = i2d_X509(x, NULL);

		assert_true(k > 0 && len + (size_t)k <= cap);
		len += (size_t)i2d_X509(x, &p);
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(b);
	return len;
}

/*
 * A flip that every check let through may only have changed the text of the
 * quote's PEM certificate chain around its certificates (whitespace, bytes
 * after the last END line): the chain is certification data that no
 * signature covers as bytes (Intel DCAP quote v4, certification data type
 * 5), and its certificates, all that is verified of it, are the same.
 */
static void assert_only_pem_text_changed(const uint8_t *orig, size_t n, const uint8_t *flipped,
					 size_t at)
{
	static uint8_t da[65536], db[65536];
	size_t la, lb, start, end, na, nb;
	uint8_t *a = quote_of(orig, n, &la), *b = quote_of(flipped, n, &lb);
	struct tdx_quote q;
	struct verdict v;

	verdict_init(&v, PLATFORM_TDX);
	assert_int_equal(la, lb);
	assert_int_equal(tdx_quote_parse(a, la, &q, &v), 0);
	start = (size_t)(q.pck_chain_pem.p - a);
	end = start + q.pck_chain_pem.len;
	for (size_t i = 0; i < la; i++)
		if (a[i] != b[i] && (i < start || i >= end))
			fail_msg("a flip at trailer byte %zu changed quote byte %zu unnoticed", at,
				 i);
	na = chain_der(a + start, end - start, da, sizeof(da));
	nb = chain_der(b + start, end - start, db, sizeof(db));
	if (na == 0 || na != nb || memcmp(da, db, na))
		fail_msg("a flip at trailer byte %zu changed a certificate unnoticed", at);
	free(a);
	free(b);
}

static int customer_check_bytes(const uint8_t *p, size_t n)
{
	int fd = memfd_of(p, n);
	struct result_source s = source(fd);
	struct result_info in;
	char err[256];
	int r = result_verify(&s, &in, err, sizeof(err));

	if (r == 0) {
		r = customer_check(&in);
		result_info_free(&in);
	}
	close(fd);
	return r;
}

/* ---- round trips ---- */

static void open_and_compare(int fd, size_t n)
{
	struct result_source s = source(fd);
	struct result_info in;
	struct buf b = { 0 };
	char err[256];
	uint8_t *want = malloc(n + 1);

	if (result_verify(&s, &in, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(in.chunks, n ? (n + CHUNK - 1) / CHUNK : 1);
	assert_int_equal(in.chunk_size, CHUNK);
	assert_string_equal(in.order_id, "order-1");
	assert_memory_equal(in.signing_pub, signer.pub, 33);
	assert_memory_equal(in.job_manifest_sha256, manifest, 32);
	assert_memory_equal(in.order_sha256, order_digest, 32);
	assert_int_equal(in.ninputs, 2);
	assert_string_equal(in.inputs[0].name, "solution");
	assert_memory_equal(in.inputs[0].luks_header_sha256, luks, 32);
	assert_string_equal(in.inputs[1].name, "data");
	assert_int_equal(in.exit_code, 3);
	assert_true(in.partial);
	assert_false(in.timed_out);
	if (result_decrypt(&s, &in, &customer, buf_sink, &b, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	pattern(want, n, 0);
	assert_int_equal(b.n, n);
	if (n)
		assert_memory_equal(b.p, want, n);
	free(want);
	free(b.p);
	result_info_free(&in);
}

static void test_round_trips_0_1_one_chunk_and_many(void **state)
{
	const size_t sizes[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 37 * CHUNK + 123 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		int fd = seal(sizes[i]);

		open_and_compare(fd, sizes[i]);
		close(fd);
	}
}

/* ---- the writer's bytes against the format, rebuilt with OpenSSL alone ---- */

/* The sink's bytes, and that they all came from the thread that writes. */
struct capture {
	struct buf b;
	pthread_t writer;
	bool elsewhere;
};

static int capture_sink(void *ctx, const void *p, size_t n)
{
	struct capture *c = ctx;

	c->elsewhere |= !pthread_equal(pthread_self(), c->writer);
	return buf_sink(&c->b, p, n);
}

/* n bytes of pattern in pieces of piece bytes, chunks of chunk: the bundle in c. */
static void seal_pieces(size_t n, size_t piece, size_t chunk, struct capture *c, uint8_t sum[32])
{
	uint8_t *p = malloc(piece);
	struct result_writer *w;
	char err[256];

	assert_non_null(p);
	*c = (struct capture){ .writer = pthread_self() };
	assert_int_equal(result_writer_new(customer.pub, &signer, &meta, chunk, capture_sink, c, &w,
					   err, sizeof(err)),
			 0);
	for (size_t at = 0; at < n;) {
		size_t k = n - at < piece ? n - at : piece;

		pattern(p, k, at);
		assert_int_equal(result_writer_write(w, p, k, err, sizeof(err)), 0);
		at += k;
	}
	assert_int_equal(result_writer_sha256(w, sum), -EINVAL);
	if (result_writer_finish(w, eventlog, evidence_sim, NULL, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	/* the digest the agent's commit record takes: every byte the sink was given */
	assert_int_equal(result_writer_sha256(w, sum), 0);
	result_writer_free(w);
	assert_false(c->elsewhere);
	free(p);
}

/* The bundle verifies with digest d and decrypts to n bytes of pattern. */
static void expect_opens_to(const struct capture *c, size_t n, const uint8_t d[32])
{
	int fd = memfd_create("bundle", MFD_CLOEXEC);
	struct result_source s;
	struct result_info in;
	struct buf plain = { 0 };
	uint8_t *want = malloc(n + 1);
	char err[256];

	assert_true(fd >= 0 && want);
	assert_int_equal(write(fd, c->b.p, c->b.n), (ssize_t)c->b.n);
	s = source(fd);
	if (result_verify(&s, &in, err, sizeof(err)) < 0 ||
	    result_decrypt(&s, &in, &customer, buf_sink, &plain, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_memory_equal(in.digest, d, 32);
	pattern(want, n, 0);
	assert_int_equal(plain.n, n);
	if (n)
		assert_memory_equal(plain.p, want, n);
	result_info_free(&in);
	free(plain.p);
	free(want);
	close(fd);
}

/* AES-256-GCM of one chunk as docs/result.md §1 "Chunks" says, with OpenSSL alone. */
static void spec_chunk(const uint8_t key[32], const uint8_t aad[32], uint64_t i, bool last,
		       const uint8_t *plain, size_t k, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t nonce[12] = { 0 };
	int l = 0;

	for (int j = 0; j < 8; j++)
		nonce[j] = (uint8_t)(i >> (56 - 8 * j));
	nonce[11] = last;
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &l, aad, 32), 1);
	assert_true(k == 0 || EVP_EncryptUpdate(c, out, &l, plain, (int)k) == 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, out + k, &l), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + k), 1);
	EVP_CIPHER_CTX_free(c);
}

/*
 * Every byte before the trailer is what the format says for this
 * plaintext; D covers them, and sum (the writer's) every byte.
 */
static void expect_spec_bytes(const struct capture *c, size_t n, size_t chunk,
			      const uint8_t sum[32])
{
	const uint8_t *b = c->b.p;
	uint32_t hl = le32(b + 8);
	size_t off = 12 + hl, at = 0;
	uint8_t key[32], aad[32], eph[33], d[32], all[32];
	uint8_t *plain = malloc(chunk + 1), *want = malloc(chunk + 16);
	char text[70000];
	cJSON *h;
	bool last = false;

	assert_true(plain && want && hl < sizeof(text));
	memcpy(text, b + 12, hl);
	text[hl] = 0;
	assert_non_null(h = cJSON_Parse(text));
	assert_int_equal(json_get_hex(h, "ephemeral_pubkey", eph, 33), 0);
	cJSON_Delete(h);
	assert_int_equal(result_derive(customer.sk, eph, eph, customer.pub, key), 0);
	EVP_Digest(b + 12, hl, aad, NULL, EVP_sha256(), NULL);
	for (uint64_t i = 0; !last; i++) {
		size_t k = n - at < chunk ? n - at : chunk;

		last = at + k == n;
		assert_true(off + 4 + k + 16 <= c->b.n);
		assert_int_equal(le32(b + off), (uint32_t)(k + 16) | (last ? 0x80000000u : 0));
		pattern(plain, k, at);
		spec_chunk(key, aad, i, last, plain, k, want);
		assert_memory_equal(b + off + 4, want, k + 16);
		off += 4 + k + 16;
		at += k;
	}
	assert_int_equal(off + 4 + le32(b + off), c->b.n);
	EVP_Digest(b, c->b.n, all, NULL, EVP_sha256(), NULL);
	assert_memory_equal(all, sum, 32);
	EVP_Digest(b, off, d, NULL, EVP_sha256(), NULL);
	expect_opens_to(c, n, d);
	OPENSSL_cleanse(key, sizeof(key));
	free(plain);
	free(want);
}

/*
 * Whatever the pieces the output comes in (bytes, odd sizes, several
 * chunks at once), and with the hashing on a thread of its own or not,
 * the bundle is byte for byte the format's: the chunks rebuilt here from
 * the plaintext, key and header with OpenSSL alone. The sink is called
 * from the writer's thread only.
 */
static void test_sealed_bytes_are_the_format_s_whatever_the_pieces(void **state)
{
	const size_t sizes[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 40 * CHUNK + 7 };
	const size_t pieces[] = { 1, 1000, CHUNK, 3001, 5 * CHUNK + 3 };
	const enum chunk_ring_mode modes[] = { RING_INLINE, RING_THREAD };
	enum chunk_ring_mode was = chunk_ring_mode;

	(void)state;
	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		chunk_ring_mode = modes[m];
		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
			for (size_t j = 0; j < ARRAY_SIZE(pieces); j++) {
				struct capture c;
				uint8_t sum[32];

				/* byte by byte only where it is quick */
				if (pieces[j] == 1 && sizes[i] > 4 * CHUNK)
					continue;
				seal_pieces(sizes[i], pieces[j], CHUNK, &c, sum);
				expect_spec_bytes(&c, sizes[i], CHUNK, sum);
				free(c.b.p);
			}
	}
	chunk_ring_mode = was;
}

static void test_report_data_binds_bytes_and_signing_key(void **state)
{
	int fd = seal(5000);
	struct result_source s = source(fd);
	struct result_info in;
	struct layout l;
	uint8_t *b, d[32], m[65], rd[64];
	char err[256];
	size_t n;

	(void)state;
	b = slurp(fd, &n);
	layout_of(b, n, &l);
	EVP_Digest(b, l.trailer, d, NULL, EVP_sha256(), NULL);
	memcpy(m, d, 32);
	memcpy(m + 32, signer.pub, 33);
	EVP_Digest(m, 65, rd, NULL, EVP_sha512(), NULL);
	assert_int_equal(result_verify(&s, &in, err, sizeof(err)), 0);
	assert_memory_equal(in.digest, d, 32);
	assert_memory_equal(in.report_data, rd, 64);
	assert_string_equal(in.tee, "tdx");
	assert_int_equal(customer_check(&in), 0);
	result_info_free(&in);
	free(b);
	close(fd);
}

static void test_evidence_bound_to_another_digest_is_caught(void **state)
{
	int fd = seal_with(5000, CHUNK, evidence_other);
	struct result_source s = source(fd);
	struct result_info in;
	char err[256];

	(void)state;
	/* the signature holds: only the evidence check can see it */
	assert_int_equal(result_verify(&s, &in, err, sizeof(err)), 0);
	assert_int_equal(customer_check(&in), -1);
	result_info_free(&in);
	close(fd);
}

/* ---- tampering ---- */

static void test_every_truncation_is_refused(void **state)
{
	int fd = seal(3 * CHUNK + 200);
	size_t n;
	uint8_t *b = slurp(fd, &n);

	(void)state;
	for (size_t cut = 0; cut < n; cut++)
		expect_refused(b, cut, "E_RESULT_");
	free(b);
	close(fd);
}

/* A source changed after result_verify: decryption alone still never reaches the end. */
static void test_decrypt_never_completes_a_cut_bundle(void **state)
{
	int fd = seal(3 * CHUNK + 200);
	struct result_source s = source(fd);
	struct result_info in;
	struct layout l;
	char err[256];
	size_t n;
	uint8_t *b = slurp(fd, &n);

	(void)state;
	layout_of(b, n, &l);
	assert_int_equal(result_verify(&s, &in, err, sizeof(err)), 0);
	for (size_t i = 0; i < l.nchunks; i++) {
		const size_t cuts[] = { l.chunk[i], l.chunk[i] + 2, l.chunk[i] + 4 + 100 };

		for (size_t j = 0; j < ARRAY_SIZE(cuts); j++) {
			struct result_source cut = { .fd = fd, .size = cuts[j] };
			struct buf out = { 0 };

			assert_int_equal(result_decrypt(&cut, &in, &customer, buf_sink, &out, err,
							sizeof(err)),
					 -EBADMSG);
			assert_non_null(strstr(err, "E_RESULT_TRUNCATED"));
			assert_int_equal(out.n, i * CHUNK);
			free(out.p);
		}
	}
	result_info_free(&in);
	free(b);
	close(fd);
}

static void swap_chunks(uint8_t *b, const struct layout *l, size_t i, size_t j)
{
	size_t len = l->chunk[i + 1] - l->chunk[i];
	uint8_t *t = malloc(len);

	assert_int_equal(l->chunk[j + 1] - l->chunk[j], len);
	memcpy(t, b + l->chunk[i], len);
	memcpy(b + l->chunk[i], b + l->chunk[j], len);
	memcpy(b + l->chunk[j], t, len);
	free(t);
}

/* Verify, then decrypt; the chunks delivered before the refusal. */
static int open_bytes(const uint8_t *b, size_t n, size_t *delivered, char *err, size_t errlen)
{
	int fd = memfd_of(b, n);
	struct result_source s = source(fd);
	struct result_info in;
	struct buf out = { 0 };
	int r = result_verify(&s, &in, err, errlen);

	if (r == 0) {
		r = result_decrypt(&s, &in, &customer, buf_sink, &out, err, errlen);
		result_info_free(&in);
	}
	*delivered = out.n;
	free(out.p);
	close(fd);
	return r;
}

static void test_reordered_chunks_are_refused(void **state)
{
	int fd = seal(4 * CHUNK + 10);
	struct layout l;
	size_t n, got;
	uint8_t *b = slurp(fd, &n);
	char err[256];

	(void)state;
	layout_of(b, n, &l);
	swap_chunks(b, &l, 1, 2);
	expect_refused(b, n, "E_RESULT_SIGNATURE");
	/* even signed by the agent's key, the nonces put each chunk in its place */
	resign(&b, &n);
	assert_int_equal(open_bytes(b, n, &got, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "E_RESULT_DECRYPT: chunk 1 "));
	assert_int_equal(got, CHUNK);
	free(b);
	close(fd);
}

static void test_dropped_last_chunk_is_refused(void **state)
{
	int fd = seal(4 * CHUNK + 10);
	struct layout l;
	size_t n, got, tlen;
	uint8_t *b = slurp(fd, &n);
	char err[256];

	(void)state;
	layout_of(b, n, &l);
	/* drop it and move the trailer up */
	tlen = n - l.trailer;
	memmove(b + l.chunk[4], b + l.trailer, tlen);
	n = l.chunk[4] + tlen;
	expect_refused(b, n, "E_RESULT_");
	/* mark the one before as last */
	b[l.chunk[3] + 3] |= 0x80;
	expect_refused(b, n, "E_RESULT_SIGNATURE");
	resign(&b, &n);
	assert_int_equal(open_bytes(b, n, &got, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "E_RESULT_DECRYPT: chunk 3 "));
	assert_int_equal(got, 3 * CHUNK);
	free(b);
	close(fd);
}

static void test_a_flipped_bit_before_the_trailer_is_refused(void **state)
{
	int fd = seal(2 * CHUNK + 77);
	struct layout l;
	size_t n;
	uint8_t *b = slurp(fd, &n);

	(void)state;
	layout_of(b, n, &l);
	for (size_t i = 0; i < l.trailer; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			char err[256] = "";

			b[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(verify_bytes(b, n, err, sizeof(err)), -EBADMSG);
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
	free(b);
	close(fd);
}

/* The trailer is not under the signature: the evidence and log checks catch what it does not. */
static void test_a_flipped_bit_in_the_trailer_is_caught(void **state)
{
	int fd = seal(100);
	struct layout l;
	size_t n, tested = 0;
	uint8_t *b = slurp(fd, &n), *orig;

	(void)state;
	layout_of(b, n, &l);
	assert_int_equal(customer_check_bytes(b, n), 0);
	orig = malloc(n);
	memcpy(orig, b, n);
	for (size_t i = l.trailer; i < n;) {
		b[i] ^= 0x01;
		if (customer_check_bytes(b, n) == 0)
			assert_only_pem_text_changed(orig, n, b, i - l.trailer);
		b[i] ^= 0x01;
		tested++;
		i++;
	}
	assert_int_equal(tested, n - l.trailer);
	free(orig);
	free(b);
	close(fd);
}

static void test_signature_is_checked(void **state)
{
	int fd = seal(10);
	size_t n;
	uint8_t *b = slurp(fd, &n);
	char *sig = memmem(b, n, "\"signature\":\"", 13);

	(void)state;
	assert_non_null(sig);
	sig += 13;
	sig[5] = sig[5] == '0' ? '1' : '0';
	expect_refused(b, n, "E_RESULT_SIGNATURE");
	sig[5] = 'x';
	expect_refused(b, n, "E_RESULT_TRAILER");
	free(b);
	close(fd);
}

static void test_wrong_recipient_key_is_refused(void **state)
{
	int fd = seal(3000);
	struct result_source s = source(fd);
	struct result_info in;
	struct result_key other;
	struct buf out = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(result_key_generate(&other, err, sizeof(err)), 0);
	assert_int_equal(result_verify(&s, &in, err, sizeof(err)), 0);
	assert_int_equal(result_decrypt(&s, &in, &other, buf_sink, &out, err, sizeof(err)),
			 -EACCES);
	assert_non_null(strstr(err, "E_RESULT_RECIPIENT"));
	/* claiming the customer's key id with another secret still opens nothing */
	memcpy(other.pub, customer.pub, 33);
	assert_int_equal(result_decrypt(&s, &in, &other, buf_sink, &out, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "E_RESULT_DECRYPT: chunk 0 "));
	assert_int_equal(out.calls, 0);
	result_key_wipe(&other);
	result_info_free(&in);
	close(fd);
}

/* A header replaced and signed again by the agent's key must still be well formed. */
static void header_refused(const uint8_t *orig, size_t n, const char *header, const char *code)
{
	struct layout l;
	size_t hl = strlen(header), m;
	uint8_t *b;

	layout_of(orig, n, &l);
	m = 12 + hl + (n - l.header_end);
	b = malloc(m);
	memcpy(b, orig, 12);
	put_le(b + 8, hl, 4);
	memcpy(b + 12, header, hl);
	memcpy(b + 12 + hl, orig + l.header_end, n - l.header_end);
	resign(&b, &m);
	expect_refused(b, m, code);
	free(b);
}

static char *header_with(const uint8_t *b, const char *key, cJSON *value)
{
	cJSON *h = NULL;
	char *text;
	size_t n;

	assert_int_equal(json_parse((const char *)b + 12, le32(b + 8), &h), 0);
	if (key && value && cJSON_GetObjectItemCaseSensitive(h, key))
		cJSON_ReplaceItemInObjectCaseSensitive(h, key, value);
	else if (key && value)
		cJSON_AddItemToObject(h, key, value);
	else if (key)
		cJSON_DeleteItemFromObjectCaseSensitive(h, key);
	assert_int_equal(jcs_serialize(h, &text, &n), 0);
	cJSON_Delete(h);
	return text;
}

static void test_malformed_headers_are_refused_even_when_signed(void **state)
{
	int fd = seal(10);
	size_t n;
	uint8_t *b = slurp(fd, &n);
	struct {
		const char *key;
		cJSON *value;
	} cases[] = {
		{ "version", cJSON_CreateNumber(1) },
		{ "version", cJSON_CreateNumber(3) },
		{ "order_sha256", NULL },
		{ "order_sha256", cJSON_CreateString("00") },
		{ "inputs", NULL },
		{ "inputs", cJSON_CreateArray() },
		{ "inputs", cJSON_CreateString("solution") },
		{ "inputs", cJSON_Parse("[{\"name\":\"a\"}]") },
		{ "inputs",
		  cJSON_Parse("[{\"name\":\"A\",\"luks_header_sha256\":\"00112233445566778899"
			      "aabbccddeeff00112233445566778899aabbccddeeff\"}]") },
		{ "inputs",
		  cJSON_Parse("[{\"name\":\"a\",\"luks_header_sha256\":\"00112233445566778899"
			      "aabbccddeeff00112233445566778899aabbccddeeff\",\"x\":1}]") },
		{ "inputs",
		  cJSON_Parse("[{\"name\":\"a\",\"luks_header_sha256\":\"00112233445566778899"
			      "aabbccddeeff00112233445566778899aabbccddeeff\"},{\"name\":\"a\","
			      "\"luks_header_sha256\":\"00112233445566778899aabbccddeeff0011"
			      "2233445566778899aabbccddeeff\"}]") },
		{ "workload_header_sha256", cJSON_CreateString("00") },
		{ "cipher", cJSON_CreateString("AES-128-CBC") },
		{ "chunk_size", cJSON_CreateNumber(RESULT_CHUNK_MAX * 2.0) },
		{ "chunk_size", cJSON_CreateNumber(16) },
		{ "chunk_size", cJSON_CreateString("1024") },
		{ "order_id", cJSON_CreateString("../etc") },
		{ "signing_pubkey", cJSON_CreateString("02ff") },
		{ "ephemeral_pubkey",
		  cJSON_CreateString(
			  "05ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff") },
		{ "job", cJSON_CreateString("done") },
		{ "job_manifest_sha256", NULL },
		{ "recipient_key_id", NULL },
		{ "surprise", cJSON_CreateTrue() },
	};
	char *h;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		h = header_with(b, cases[i].key, cases[i].value);
		header_refused(b, n, h, "E_RESULT_HEADER");
		free(h);
	}
	/* the job outcome, member by member */
	{
		const char *jobs[] = {
			"{\"exit_code\":1.5,\"partial\":false,\"signal\":0,\"timed_out\":false}",
			"{\"exit_code\":0,\"partial\":false,\"signal\":-1,\"timed_out\":false}",
			"{\"exit_code\":0,\"partial\":0,\"signal\":0,\"timed_out\":false}",
			"{\"exit_code\":0,\"extra\":1,\"partial\":false,\"signal\":0,\"timed_out\":"
			"false}",
		};

		for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
			cJSON *j = NULL;

			assert_int_equal(json_parse(jobs[i], strlen(jobs[i]), &j), 0);
			h = header_with(b, "job", j);
			header_refused(b, n, h, "E_RESULT_HEADER");
			free(h);
		}
	}
	/* the same header, not in canonical form */
	h = header_with(b, NULL, NULL);
	{
		size_t hl = strlen(h);
		char *spaced = malloc(hl + 2);

		spaced[0] = ' ';
		memcpy(spaced + 1, h, hl + 1);
		header_refused(b, n, spaced, "E_RESULT_HEADER");
		free(spaced);
	}
	free(h);
	free(b);
	close(fd);
}

static void test_framing_is_strict(void **state)
{
	int fd = seal(2 * CHUNK);
	struct layout l;
	size_t n;
	uint8_t *b = slurp(fd, &n), *longer;

	(void)state;
	layout_of(b, n, &l);
	b[4] = 3;
	expect_refused(b, n, "E_RESULT_FRAMING");
	/* a bundle of before orders had inputs: named as such */
	b[4] = 1;
	expect_refused(b, n, "E_RESULT_VERSION: a version 1 bundle");
	b[4] = 2;
	b[6] = 1;
	expect_refused(b, n, "E_RESULT_FRAMING");
	b[6] = 0;
	/* one byte after the trailer */
	longer = malloc(n + 1);
	memcpy(longer, b, n);
	longer[n] = 0;
	expect_refused(longer, n + 1, "E_RESULT_FRAMING");
	/* a chunk longer than the chunk size */
	put_le(b + l.chunk[0], CHUNK + 17, 4);
	expect_refused(b, n, "E_RESULT_FRAMING");
	/* an empty chunk that is not the last */
	put_le(b + l.chunk[0], 16, 4);
	expect_refused(b, n, "E_RESULT_FRAMING");
	free(longer);
	free(b);
	close(fd);
}

/* ---- streaming ---- */

static int discard_sink(void *ctx, const void *p, size_t n)
{
	size_t *total = ctx;

	(void)p;
	heap_sample();
	*total += n;
	return 0;
}

/* The heap's peak above where it started, over sealing and opening n bytes. */
static size_t heap_growth(size_t n)
{
	struct result_source s;
	struct result_info in;
	size_t total = 0, base = heap_now();
	char err[256];
	int fd;

	heap_peak = base;
	fd = seal(n);
	s = source(fd);
	assert_int_equal(result_verify(&s, &in, err, sizeof(err)), 0);
	assert_int_equal(result_decrypt(&s, &in, &customer, discard_sink, &total, err, sizeof(err)),
			 0);
	assert_int_equal(total, n);
	result_info_free(&in);
	close(fd);
	return heap_peak - base;
}

static void test_memory_does_not_grow_with_the_result(void **state)
{
	size_t small, large;

	(void)state;
	small = heap_growth(64 * CHUNK);
	large = heap_growth(16 * 1024 * CHUNK);
	if (large > small + 16 * 1024)
		fail_msg("heap grew from %zu to %zu bytes for 256 times the data", small, large);
}

/* ---- the writer's own refusals ---- */

static int failing_sink(void *ctx, const void *p, size_t n)
{
	int *left = ctx;

	(void)p;
	(void)n;
	return (*left)-- > 0 ? 0 : -ENOSPC;
}

static void test_writer_stops_after_an_error_or_finish(void **state)
{
	struct result_writer *w;
	struct result_meta bad = meta;
	uint8_t data[4 * CHUNK] = { 0 };
	char err[256];
	int left = 2;

	(void)state;
	assert_int_equal(result_writer_new(customer.pub, &signer, &meta, CHUNK, failing_sink, &left,
					   &w, err, sizeof(err)),
			 0);
	assert_int_equal(result_writer_write(w, data, sizeof(data), err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "E_OUTPUT_WRITE"));
	left = 100;
	assert_int_equal(result_writer_write(w, data, 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(result_writer_finish(w, NULL, evidence_sim, NULL, err, sizeof(err)),
			 -EINVAL);
	result_writer_free(w);
	/* nothing is written for bad input */
	bad.order_id = "a/b";
	assert_int_equal(result_writer_new(customer.pub, &signer, &bad, CHUNK, failing_sink, &left,
					   &w, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(result_writer_new(customer.pub, &signer, &meta, 100, failing_sink, &left,
					   &w, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(left, 100);
}

/* Fails from its call number fail on (counting from 0), and counts every call. */
struct failing {
	int fail, calls;
};

static int sink_failing_at(void *ctx, const void *p, size_t n)
{
	struct failing *f = ctx;

	(void)p;
	(void)n;
	return f->calls++ < f->fail ? 0 : -ENOSPC;
}

/* The whole bundle of n bytes in pieces of 3001, to f: 0, or the first error. */
static int seal_to_failing(size_t n, struct failing *f, char *err, size_t errlen)
{
	uint8_t piece[3001];
	struct result_writer *w;
	int r = result_writer_new(customer.pub, &signer, &meta, CHUNK, sink_failing_at, f, &w, err,
				  errlen);

	for (size_t at = 0; r == 0 && at < n; at += sizeof(piece)) {
		pattern(piece, sizeof(piece), at);
		r = result_writer_write(w, piece, n - at < sizeof(piece) ? n - at : sizeof(piece),
					err, errlen);
	}
	if (r == 0)
		r = result_writer_finish(w, eventlog, evidence_sim, NULL, err, errlen);
	if (r < 0 && w) {
		/* stopped for good, and the sink is not called again */
		int calls = f->calls;
		char again[256];

		assert_int_equal(result_writer_write(w, piece, 1, again, sizeof(again)), -EINVAL);
		assert_int_equal(
			result_writer_finish(w, NULL, evidence_sim, NULL, again, sizeof(again)),
			-EINVAL);
		assert_int_equal(f->calls, calls);
	}
	result_writer_free(w);
	return r;
}

/*
 * A sink that fails at any of its calls (the header, any chunk, the
 * trailer) stops the writer there with the sink's error, hashing on a
 * thread or not.
 */
static void test_a_sink_failing_at_any_call_stops_the_writer(void **state)
{
	const enum chunk_ring_mode modes[] = { RING_INLINE, RING_THREAD };
	enum chunk_ring_mode was = chunk_ring_mode;
	const size_t n = 20 * CHUNK + 5;
	char err[256];

	(void)state;
	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		struct failing all = { .fail = 1 << 30 };

		chunk_ring_mode = modes[m];
		assert_int_equal(seal_to_failing(n, &all, err, sizeof(err)), 0);
		for (int k = 0; k < all.calls; k++) {
			struct failing f = { .fail = k };

			assert_int_equal(seal_to_failing(n, &f, err, sizeof(err)), -ENOSPC);
			assert_non_null(strstr(err, "E_OUTPUT_WRITE"));
			assert_int_equal(f.calls, k + 1);
		}
	}
	chunk_ring_mode = was;
}

/* ---- keys ---- */

static void write_file(const char *name, const void *p, size_t n, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", dir, name);
	sim_write(path, p, n);
}

/* A key made by OpenSSL, and its compressed public key (SEC 1 §2.3.3) from the uncompressed one. */
static EVP_PKEY *openssl_key(const char *curve, uint8_t pub[33])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	uint8_t u[65];
	size_t n = 0;

	assert_non_null(k);
	if (pub) {
		assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, u,
								 sizeof(u), &n),
				 1);
		assert_int_equal(n, 65);
		pub[0] = 0x02 | (u[64] & 1);
		memcpy(pub + 1, u + 1, 32);
	}
	return k;
}

static void pem_of(EVP_PKEY *k, const char *structure, const char *pass, const char *name,
		   char *path, size_t cap)
{
	OSSL_ENCODER_CTX *e =
		OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_KEYPAIR, "PEM", structure, NULL);
	unsigned char *data = NULL;
	size_t n = 0;

	assert_non_null(e);
	if (pass) {
		OSSL_ENCODER_CTX_set_cipher(e, "AES-256-CBC", NULL);
		OSSL_ENCODER_CTX_set_passphrase(e, (const unsigned char *)pass, strlen(pass));
	}
	assert_int_equal(OSSL_ENCODER_to_data(e, &data, &n), 1);
	write_file(name, data, n, path, cap);
	OPENSSL_free(data);
	OSSL_ENCODER_CTX_free(e);
}

static void test_keys_load_from_openssl_pem_and_hex(void **state)
{
	struct result_key k, saved;
	uint8_t pub[33];
	char path[600], err[256], hex[80];
	EVP_PKEY *ok = openssl_key("secp256k1", pub);

	(void)state;
	pem_of(ok, "type-specific", NULL, "sec1.pem", path, sizeof(path));
	assert_int_equal(result_key_load(path, &k, err, sizeof(err)), 0);
	assert_memory_equal(k.pub, pub, 33);
	result_key_wipe(&k);
	pem_of(ok, "PrivateKeyInfo", NULL, "pkcs8.pem", path, sizeof(path));
	assert_int_equal(result_key_load(path, &k, err, sizeof(err)), 0);
	assert_memory_equal(k.pub, pub, 33);
	/* save and load again; the hex form of the same secret */
	snprintf(path, sizeof(path), "%s/saved.pem", dir);
	assert_int_equal(result_key_save(&k, path, err, sizeof(err)), 0);
	assert_int_equal(result_key_load(path, &saved, err, sizeof(err)), 0);
	assert_memory_equal(saved.sk, k.sk, 32);
	hex_encode(k.sk, 32, hex);
	strcat(hex, "\n");
	write_file("key.hex", hex, strlen(hex), path, sizeof(path));
	result_key_wipe(&saved);
	assert_int_equal(result_key_load(path, &saved, err, sizeof(err)), 0);
	assert_memory_equal(saved.pub, pub, 33);
	result_key_pub_hex(&saved, hex);
	assert_int_equal(result_pub_from_hex(hex, pub), 0);
	assert_memory_equal(saved.pub, pub, 33);
	result_key_wipe(&saved);
	result_key_wipe(&k);
	EVP_PKEY_free(ok);
}

static void test_keys_refused(void **state)
{
	EVP_PKEY *p256 = openssl_key("P-256", NULL), *k1 = openssl_key("secp256k1", NULL);
	struct result_key k;
	char path[600], err[256], zero[65];
	uint8_t pub[33];

	(void)state;
	pem_of(p256, "PrivateKeyInfo", NULL, "p256.pem", path, sizeof(path));
	assert_int_equal(result_key_load(path, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "E_RESULT_KEY"));
	assert_null(k.sk);
	/* encrypted: refused without asking for a passphrase */
	pem_of(k1, "EncryptedPrivateKeyInfo", "secret", "enc.pem", path, sizeof(path));
	assert_int_equal(result_key_load(path, &k, err, sizeof(err)), -EINVAL);
	memset(zero, '0', 64);
	zero[64] = 0;
	write_file("zero.hex", zero, 64, path, sizeof(path));
	assert_int_equal(result_key_load(path, &k, err, sizeof(err)), -EINVAL);
	/* a secret never shows in the message */
	assert_null(strstr(err, "0000"));
	write_file("short.hex", zero, 62, path, sizeof(path));
	assert_int_equal(result_key_load(path, &k, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/absent", dir);
	assert_int_equal(result_key_load(path, &k, err, sizeof(err)), -ENOENT);
	assert_int_equal(result_pub_from_hex("04ab", pub), -EINVAL);
	assert_int_equal(
		result_pub_from_hex(
			"020000000000000000000000000000000000000000000000000000000000000000", pub),
		-EINVAL);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(k1);
}

/* ---- the output disk ---- */

static void test_order_block_round_trip_and_hostile_blocks(void **state)
{
	uint8_t b[OUTDISK_BLOCK];
	char id[RESULT_ORDER_ID_MAX + 1], err[256];
	const char *bad[] = {
		"{\"order_id\":\"a b\"}",
		"{\"order_id\":\"\"}",
		"{\"order_id\":7}",
		"{\"order_id\":\"x\",\"more\":1}",
		"{\"order_id\":\"x\"",
		"[\"x\"]",
		"{\"order_id\":\"x\",\"order_id\":\"y\"}",
	};

	(void)state;
	assert_int_equal(outdisk_order_encode("order-7:a_b.c", b), 0);
	assert_int_equal(outdisk_order_parse(b, id, sizeof(id), err, sizeof(err)), 0);
	assert_string_equal(id, "order-7:a_b.c");
	assert_int_equal(outdisk_order_parse(b, id, 5, err, sizeof(err)), -EBADMSG);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(b, 0, sizeof(b));
		memcpy(b, "CVMO", 4);
		put_le(b + 4, 1, 4);
		put_le(b + 8, strlen(bad[i]), 4);
		memcpy(b + 12, bad[i], strlen(bad[i]));
		assert_int_equal(outdisk_order_parse(b, id, sizeof(id), err, sizeof(err)),
				 -EBADMSG);
		assert_non_null(strstr(err, "E_ORDER"));
	}
	/* a length past the block, and bytes after the JSON */
	assert_int_equal(outdisk_order_encode("x", b), 0);
	put_le(b + 8, OUTDISK_BLOCK, 4);
	assert_int_equal(outdisk_order_parse(b, id, sizeof(id), err, sizeof(err)), -EBADMSG);
	assert_int_equal(outdisk_order_encode("x", b), 0);
	b[100] = 'x';
	assert_int_equal(outdisk_order_parse(b, id, sizeof(id), err, sizeof(err)), -EBADMSG);
	memset(b, 0, sizeof(b));
	assert_int_equal(outdisk_order_parse(b, id, sizeof(id), err, sizeof(err)), -EBADMSG);
	assert_int_equal(outdisk_order_encode("no spaces please", b), -EINVAL);
}

static void make_stage(const char *stage, size_t big)
{
	uint8_t *p = malloc(big);

	sh("rm -rf %s && mkdir -p %s/output/sub %s/log && echo hello > %s/output/a.txt && "
	   "printf '#!/bin/sh\\n' > %s/output/run.sh && chmod 0750 %s/output/run.sh && "
	   "ln -s /etc/passwd %s/output/link && mkfifo %s/output/fifo && echo x > %s/log/stdout",
	   stage, stage, stage, stage, stage, stage, stage, stage, stage);
	pattern(p, big, 7);
	{
		char path[700];

		snprintf(path, sizeof(path), "%s/output/sub/big.bin", stage);
		sim_write(path, p, big);
	}
	free(p);
}

static void disk_new(const char *path, size_t size, const char *order)
{
	uint8_t b[OUTDISK_BLOCK];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(outdisk_order_encode(order, b), 0);
	assert_int_equal(pwrite(fd, b, sizeof(b), OUTDISK_BLOCK), (ssize_t)sizeof(b));
	close(fd);
}

static int write_result(const char *disk, const char *stage, uint64_t max, char *err, size_t errlen)
{
	uint64_t bytes = 0;

	return result_write(disk, stage, customer.pub, &signer, &meta, evidence_sim, NULL, eventlog,
			    max, &bytes, err, errlen);
}

static int disk_open_result(const char *disk, struct result_source *s, char *err, size_t errlen)
{
	int fd = open(disk, O_RDONLY | O_CLOEXEC), r;

	assert_true(fd >= 0);
	if ((r = outdisk_open(fd, s, err, errlen)) < 0)
		close(fd);
	return r;
}

/* The tar inside: its bytes, for comparing two runs, and its entries' metadata. */
static void tar_of(const char *disk, struct buf *out)
{
	struct result_source s;
	struct result_info in;
	char err[256];

	if (disk_open_result(disk, &s, err, sizeof(err)) < 0 ||
	    result_verify(&s, &in, err, sizeof(err)) < 0 ||
	    result_decrypt(&s, &in, &customer, buf_sink, out, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	result_info_free(&in);
	close(s.fd);
}

static void test_agent_writes_a_deterministic_tar_the_customer_extracts(void **state)
{
	char stage[600], disk[600], disk2[600], out[600], err[256];
	struct buf t1 = { 0 }, t2 = { 0 };
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	const char *names[] = { "log/",		 "log/stdout",	"output/",	     "output/a.txt",
				"output/run.sh", "output/sub/", "output/sub/big.bin" };
	struct result_source s;
	struct result_info in;
	struct stat st;
	size_t i = 0;

	(void)state;
	snprintf(stage, sizeof(stage), "%s/stage", dir);
	snprintf(disk, sizeof(disk), "%s/out.img", dir);
	snprintf(disk2, sizeof(disk2), "%s/out2.img", dir);
	snprintf(out, sizeof(out), "%s/opened", dir);
	make_stage(stage, 200000);
	disk_new(disk, 1 << 20, "order-1");
	disk_new(disk2, 1 << 20, "order-1");
	if (write_result(disk, stage, 1 << 20, err, sizeof(err)) < 0 ||
	    write_result(disk2, stage, 1 << 20, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	tar_of(disk, &t1);
	tar_of(disk2, &t2);
	assert_int_equal(t1.n, t2.n);
	assert_memory_equal(t1.p, t2.p, t1.n);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, t1.p, t1.n), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		assert_true(i < ARRAY_SIZE(names));
		assert_string_equal(archive_entry_pathname(e), names[i]);
		assert_int_equal(archive_entry_mtime(e), 0);
		assert_int_equal(archive_entry_uid(e), 0);
		assert_int_equal(archive_entry_gid(e), 0);
		assert_int_equal(archive_entry_perm(e),
				 i == 4 || names[i][strlen(names[i]) - 1] == '/' ? 0755 : 0644);
		i++;
	}
	assert_int_equal(i, ARRAY_SIZE(names));
	archive_read_free(a);
	/* the customer's side: streamed extraction */
	sh("rm -rf %s %s.part", out, out);
	assert_int_equal(disk_open_result(disk, &s, err, sizeof(err)), 0);
	assert_int_equal(result_verify(&s, &in, err, sizeof(err)), 0);
	if (result_extract(&s, &in, &customer, out, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	sh("cmp %s/output/sub/big.bin %s/output/sub/big.bin && test -x %s/output/run.sh && "
	   "test ! -e %s/output/link && test ! -e %s/output/fifo && test ! -e %s.part",
	   stage, out, out, out, out, out);
	assert_int_equal(stat(out, &st), 0);
	/* a second extraction does not overwrite */
	assert_int_equal(result_extract(&s, &in, &customer, out, err, sizeof(err)), -EEXIST);
	result_info_free(&in);
	close(s.fd);
	free(t1.p);
	free(t2.p);
}

static void test_commit_record_missing_stale_or_damaged_is_no_result(void **state)
{
	char stage[600], disk[600], err[256];
	uint8_t block0[OUTDISK_BLOCK], b[OUTDISK_BLOCK];
	struct result_source s;
	int fd;

	(void)state;
	snprintf(stage, sizeof(stage), "%s/stage-c", dir);
	snprintf(disk, sizeof(disk), "%s/commit.img", dir);
	make_stage(stage, 5000);
	disk_new(disk, 256 * 1024, "order-1");
	assert_int_equal(disk_open_result(disk, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "E_NO_RESULT: no commit record"));
	assert_int_equal(write_result(disk, stage, 1 << 20, err, sizeof(err)), 0);
	assert_int_equal(disk_open_result(disk, &s, err, sizeof(err)), 0);
	assert_int_equal(s.offset, OUTDISK_BUNDLE_OFFSET);
	close(s.fd);
	fd = open(disk, O_RDWR | O_CLOEXEC);
	assert_int_equal(pread(fd, block0, sizeof(block0), 0), (ssize_t)sizeof(block0));
	/* stale: the record of this bundle over another one */
	sh("echo more >> %s/output/a.txt", stage);
	assert_int_equal(write_result(disk, stage, 1 << 20, err, sizeof(err)), 0);
	assert_int_equal(pwrite(fd, block0, sizeof(block0), 0), (ssize_t)sizeof(block0));
	assert_int_equal(disk_open_result(disk, &s, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "does not match its commit record"));
	/* damaged: one bit of the record, or a length past the disk */
	memcpy(b, block0, sizeof(b));
	b[20] ^= 1;
	assert_int_equal(outdisk_commit_parse(b, &(struct outdisk_commit){ 0 }), -EBADMSG);
	assert_int_equal(pwrite(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	assert_int_equal(disk_open_result(disk, &s, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "E_NO_RESULT: the commit record is damaged"));
	{
		struct outdisk_commit c = { .offset = OUTDISK_BUNDLE_OFFSET, .length = 1 << 20 };

		assert_int_equal(outdisk_commit_encode(&c, b), 0);
		assert_int_equal(pwrite(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
		assert_int_equal(disk_open_result(disk, &s, err, sizeof(err)), -EBADMSG);
		assert_non_null(strstr(err, "points past the disk"));
	}
	/* too small to hold anything */
	assert_int_equal(ftruncate(fd, 6000), 0);
	assert_int_equal(disk_open_result(disk, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "E_NO_RESULT"));
	close(fd);
}

static void test_failed_write_leaves_no_result_not_the_old_one(void **state)
{
	char stage[600], disk[600], small[600], err[256];
	struct result_source s;

	(void)state;
	snprintf(stage, sizeof(stage), "%s/stage-f", dir);
	snprintf(disk, sizeof(disk), "%s/fail.img", dir);
	snprintf(small, sizeof(small), "%s/small.img", dir);
	make_stage(stage, 100000);
	disk_new(disk, 1 << 20, "order-1");
	assert_int_equal(write_result(disk, stage, 1 << 20, err, sizeof(err)), 0);
	/* over the size bound: the earlier bundle's record is gone too */
	assert_int_equal(write_result(disk, stage, 50000, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "E_OUTPUT_TOO_LARGE"));
	assert_int_equal(disk_open_result(disk, &s, err, sizeof(err)), -ENOENT);
	/* a disk too small for the bundle */
	disk_new(small, 64 * 1024, "order-1");
	if (write_result(small, stage, 1 << 20, err, sizeof(err)) != -ENOSPC)
		fail_msg("%s", err);
	assert_non_null(strstr(err, "E_OUTPUT_FULL"));
	assert_int_equal(disk_open_result(small, &s, err, sizeof(err)), -ENOENT);
	/* the order block is still the host's */
	{
		char id[RESULT_ORDER_ID_MAX + 1];

		assert_int_equal(result_order_read(small, id, sizeof(id), err, sizeof(err)), 0);
		assert_string_equal(id, "order-1");
	}
}

/* ---- extraction of hostile tars (as signed by a broken agent) ---- */

struct entry {
	const char *name;
	mode_t type;
	const char *link;
};

static void tar_make(const struct entry *es, size_t n, struct buf *out)
{
	struct archive *a = archive_write_new();
	size_t used = 0;

	out->cap = 1 << 16;
	out->p = calloc(1, out->cap);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_memory(a, out->p, out->cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, es[i].name);
		archive_entry_set_filetype(e, es[i].type);
		archive_entry_set_perm(e, 0644);
		if (es[i].link && es[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, es[i].link);
		else if (es[i].link)
			archive_entry_set_hardlink(e, es[i].link);
		archive_entry_set_size(e, es[i].type == AE_IFREG && !es[i].link ? 3 : 0);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (es[i].type == AE_IFREG && !es[i].link)
			archive_write_data(a, "abc", 3);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	out->n = used;
}

static int extract_tar(const struct buf *tar, const char *name, char *err, size_t errlen)
{
	struct result_writer *w;
	struct result_source s;
	struct result_info in;
	char out[600];
	int fd = memfd_create("b", MFD_CLOEXEC), r;

	assert_int_equal(result_writer_new(customer.pub, &signer, &meta, CHUNK, fd_sink, &fd, &w,
					   err, errlen),
			 0);
	assert_int_equal(result_writer_write(w, tar->p, tar->n, err, errlen), 0);
	assert_int_equal(result_writer_finish(w, NULL, evidence_sim, NULL, err, errlen), 0);
	result_writer_free(w);
	s = source(fd);
	assert_int_equal(result_verify(&s, &in, err, errlen), 0);
	snprintf(out, sizeof(out), "%s/x/%s", dir, name);
	r = result_extract(&s, &in, &customer, out, err, errlen);
	result_info_free(&in);
	close(fd);
	return r;
}

static void test_extraction_refuses_unsafe_entries(void **state)
{
	const struct entry cases[][2] = {
		{ { "../evil", AE_IFREG, NULL } },
		{ { "/tmp/evil", AE_IFREG, NULL } },
		{ { "a/", AE_IFDIR, NULL }, { "a/../../evil", AE_IFREG, NULL } },
		{ { "./a", AE_IFREG, NULL } },
		{ { "a//b", AE_IFREG, NULL } },
		{ { "l", AE_IFLNK, "/etc/passwd" } },
		{ { "f", AE_IFREG, NULL }, { "h", AE_IFREG, "f" } },
		{ { "dev", AE_IFCHR, NULL } },
		{ { "fifo", AE_IFIFO, NULL } },
		{ { "missing/f", AE_IFREG, NULL } },
		{ { "f", AE_IFREG, NULL }, { "f", AE_IFREG, NULL } },
	};
	char err[256], name[32], path[700];
	struct stat st;

	(void)state;
	sh("rm -rf %s/x %s/evil && mkdir -p %s/x", dir, dir, dir);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct buf tar = { 0 };

		tar_make(cases[i], cases[i][1].name ? 2 : 1, &tar);
		snprintf(name, sizeof(name), "case%zu", i);
		if (extract_tar(&tar, name, err, sizeof(err)) == 0)
			fail_msg("case %zu (%s) was extracted", i, cases[i][0].name);
		snprintf(path, sizeof(path), "%s/x/%s", dir, name);
		assert_int_equal(lstat(path, &st), -1);
		free(tar.p);
	}
	snprintf(path, sizeof(path), "%s/evil", dir);
	assert_int_equal(lstat(path, &st), -1);
	/* and a plain one is extracted */
	{
		const struct entry good[] = { { "d/", AE_IFDIR, NULL }, { "d/f", AE_IFREG, NULL } };
		struct buf tar = { 0 };

		tar_make(good, 2, &tar);
		if (extract_tar(&tar, "good", err, sizeof(err)) < 0)
			fail_msg("%s", err);
		sh("test \"$(cat %s/x/good/d/f)\" = abc", dir);
		free(tar.p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips_0_1_one_chunk_and_many),
		cmocka_unit_test(test_sealed_bytes_are_the_format_s_whatever_the_pieces),
		cmocka_unit_test(test_report_data_binds_bytes_and_signing_key),
		cmocka_unit_test(test_evidence_bound_to_another_digest_is_caught),
		cmocka_unit_test(test_every_truncation_is_refused),
		cmocka_unit_test(test_decrypt_never_completes_a_cut_bundle),
		cmocka_unit_test(test_reordered_chunks_are_refused),
		cmocka_unit_test(test_dropped_last_chunk_is_refused),
		cmocka_unit_test(test_a_flipped_bit_before_the_trailer_is_refused),
		cmocka_unit_test(test_a_flipped_bit_in_the_trailer_is_caught),
		cmocka_unit_test(test_signature_is_checked),
		cmocka_unit_test(test_wrong_recipient_key_is_refused),
		cmocka_unit_test(test_malformed_headers_are_refused_even_when_signed),
		cmocka_unit_test(test_framing_is_strict),
		cmocka_unit_test(test_memory_does_not_grow_with_the_result),
		cmocka_unit_test(test_writer_stops_after_an_error_or_finish),
		cmocka_unit_test(test_a_sink_failing_at_any_call_stops_the_writer),
		cmocka_unit_test(test_keys_load_from_openssl_pem_and_hex),
		cmocka_unit_test(test_keys_refused),
		cmocka_unit_test(test_order_block_round_trip_and_hostile_blocks),
		cmocka_unit_test(test_agent_writes_a_deterministic_tar_the_customer_extracts),
		cmocka_unit_test(test_commit_record_missing_stale_or_damaged_is_no_result),
		cmocka_unit_test(test_failed_write_leaves_no_result_not_the_old_one),
		cmocka_unit_test(test_extraction_refuses_unsafe_entries),
	};

	int failed = cmocka_run_group_tests_name("result", tests, setup, teardown);

	/* again, with every writer and reader on two threads from its first chunk */
	chunk_ring_mode = RING_THREAD;
	return failed + cmocka_run_group_tests_name("result, threaded", tests, setup, teardown);
}
