/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib: the shared core of cvm. Errors and logging, bounded cursors over
 * untrusted bytes, hex and base64, bounded file reads, JSON helpers over
 * cJSON, RFC 8785 canonical JSON and secret memory.
 *
 * Functions return 0 on success or a negative errno-style code.
 */
#ifndef CVM_LIB_H
#define CVM_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include <cJSON.h>
#include <openssl/types.h>

/* ---- cleanup helpers ---- */

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _unused_ __attribute__((unused))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Frees *(void **)p: the cleanup of _cleanup_free_. */
static inline void freep(void *p)
{
	free(*(void **)p);
}

#define CVM_CONCAT_(a, b) a##b
#define CVM_CONCAT(a, b) CVM_CONCAT_(a, b)

/*
 * Stack secrets are wiped when they leave scope, whatever the path out:
 *
 *	uint8_t key[32];
 *	CLEANUP_ERASE(key);
 *
 * declares a hidden variable whose cleanup OPENSSL_cleanse()s all of key
 * (sizeof(key): an array or a struct, never a pointer). Declare it right
 * after the secret, before anything can jump out.
 */
struct cvm_eraser {
	void *p;
	size_t n;
};
void cvm_erase(struct cvm_eraser *e);
#define CLEANUP_ERASE(var)                                          \
	_cleanup_(cvm_erase) _unused_ struct cvm_eraser CVM_CONCAT( \
		cvm_eraser_, __LINE__) = { .p = &(var), .n = sizeof(var) }

/*
 * A heap secret of known size: the buffer is wiped and freed on scope exit.
 *	_cleanup_(wiped_buf_free) struct wiped_buf b = { 0 };
 */
struct wiped_buf {
	uint8_t *p;
	size_t n;
};
void wiped_buf_free(struct wiped_buf *b);

/* Deletes *p: _cleanup_(cJSON_Deletep) for a tree that held no secret. */
static inline void cJSON_Deletep(cJSON **p)
{
	cJSON_Delete(*p);
}

/* ---- errors and logging ---- */

/*
 * Every message is one line on stderr: "<prog>: <what>: <why>". The program
 * name is set once by the front end ("cvm verify").
 */
void log_set_prog(const char *prog);
const char *log_prog(void);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * For functions that explain a refusal to their caller instead of logging:
 * formats the reason into err (when given) and returns code.
 */
int set_error(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Logs "<fmt>: strerror(-err)" and returns err, which must be negative. */
int log_error_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- bounded cursor over untrusted bytes ---- */

struct span {
	const uint8_t *p;
	size_t len;
};

/* A cursor over len bytes at p (not copied). */
static inline struct span span_make(const void *p, size_t len)
{
	return (struct span){ .p = p, .len = len };
}

/* Each getter fails with -EBADMSG, consuming nothing, when fewer bytes remain. */
int span_take(struct span *s, size_t n, struct span *out);
int span_copy(struct span *s, void *out, size_t n);
int span_skip(struct span *s, size_t n);
int span_u8(struct span *s, uint8_t *v);
int span_u16le(struct span *s, uint16_t *v);
int span_u32le(struct span *s, uint32_t *v);
int span_u64le(struct span *s, uint64_t *v);

/* Little-endian loads from p, which must hold the 2, 4 or 8 bytes. */
uint16_t le16(const uint8_t *p);
uint32_t le32(const uint8_t *p);
uint64_t le64(const uint8_t *p);
/* Writes the n low bytes of v little-endian (n <= 8). */
void put_le(uint8_t *p, uint64_t v, unsigned n);
bool is_zero(const void *p, size_t n);

/* ---- hex, base64, base64url ---- */

/* Writes 2*n lower-case digits and a NUL into out. */
void hex_encode(const void *in, size_t n, char *out);
/* Allocating variant; returns NULL on allocation failure. */
char *hex_encode_alloc(const void *in, size_t n);
/*
 * Decodes exactly strlen(in)/2 bytes (upper or lower case, no prefix, no
 * spaces). -EINVAL on a bad digit or odd length, -E2BIG when out is too small.
 */
int hex_decode(const char *in, uint8_t *out, size_t cap, size_t *len);
/* The value of one hex digit (either case), or -1. */
int hex_nibble(char c);
/* Decodes a string that must hold exactly n bytes. */
int hex_decode_exact(const char *in, uint8_t *out, size_t n);

enum base64_alphabet {
	BASE64_STD, /* RFC 4648 §4, padded */
	BASE64_URL, /* RFC 4648 §5, unpadded (as JOSE uses it) */
};

/* NUL-terminated result in *out, to free(). */
int base64_encode(const void *in, size_t n, enum base64_alphabet a, char **out);
/*
 * Strict decoding: no whitespace, no characters of the other alphabet,
 * canonical trailing bits. BASE64_STD requires padding; BASE64_URL
 * refuses it. The result is in *out (free()), its size in *len.
 */
int base64_decode(const char *in, size_t n, enum base64_alphabet a, uint8_t **out, size_t *len);

/* ---- bounded file reads ---- */

/* Caps for inputs, so that no allocation is sized by an untrusted length. */
#define CVM_CAP_EVIDENCE (64u * 1024)
#define CVM_CAP_CERT (64u * 1024)
#define CVM_CAP_JSON (1024u * 1024)
#define CVM_CAP_COLLATERAL (1024u * 1024)

/*
 * Reads a whole regular file of at most cap bytes. The buffer gets one
 * extra NUL byte past *len so that text can be used as a C string.
 * -ENOENT, -EISDIR, -EFBIG (over the cap) or another -errno.
 */
int file_read(const char *path, size_t cap, uint8_t **out, size_t *len);
/* The size of an open regular file or block device: 0, -ENOTBLK for anything else, or -errno. */
int fd_size(int fd, uint64_t *size);
/*
 * Opens path under the directory dirfd as if dirfd were "/" (openat2's
 * RESOLVE_IN_ROOT, no magic links): a leading "/", "..", or an absolute
 * link in that tree cannot lead out of it. flags as open(2)'s, O_CLOEXEC
 * added. The descriptor, or -1 with errno.
 */
int open_in_root(int dirfd, const char *path, int flags);
/* Same, for path relative to dir. */
int file_read_at(const char *dir, const char *name, size_t cap, uint8_t **out, size_t *len);
/* Writes all n bytes to fd, again after EINTR and short writes: 0 or -errno (-EIO for 0). */
int fd_write_all(int fd, const void *data, size_t n);
/* The same with pwrite(2), from offset off on (the file offset is not moved). */
int fd_pwrite_all(int fd, const void *data, size_t n, uint64_t off);
/*
 * Appends n bytes to the heap buffer *buf of *len bytes (a transfer's body),
 * keeping it NUL-terminated: -EFBIG when it would pass cap bytes, -ENOMEM;
 * *buf and *len are unchanged then. Free *buf when done.
 */
int buf_append(uint8_t **buf, size_t *len, const void *data, size_t n, size_t cap);
/*
 * Writes data to path atomically: a temporary file beside it (mode 0600),
 * fsync, rename, fsync of the directory; missing parent directories are
 * made (0700). err gets "<path>: <why>".
 */
/* Makes path and its missing parents (parents 0700, path itself mode): 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);
/* As file_write_atomic, but path "-" is standard output (what "-o -" means in every verb). */
int out_write(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* ---- JSON over cJSON ---- */

/* Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code points past U+10FFFF. */
bool utf8_valid(const uint8_t *s, size_t n);

/*
 * Parses len bytes of JSON text: one value, nothing after it but
 * whitespace, valid UTF-8, no duplicate keys in any object.
 * -EBADMSG on any violation.
 */
int json_parse(const char *text, size_t len, cJSON **out);
/* Typed getters: -ENOENT when absent, -EINVAL when of the wrong type or range. */
int json_get_string(const cJSON *obj, const char *key, const char **out);
int json_get_bool(const cJSON *obj, const char *key, bool *out);
/* An integer number below 2^53, or a string "0x..." of up to 16 hex digits. */
int json_get_u64(const cJSON *obj, const char *key, uint64_t *out);
/* A hex string of exactly n bytes. */
int json_get_hex(const cJSON *obj, const char *key, uint8_t *out, size_t n);
/*
 * The first member of object o whose name is not one of names[0..n) (a NULL
 * entry also ends the list), or NULL when every member is named.
 */
const cJSON *json_unknown_member(const cJSON *o, const char *const *names, size_t n);
/* Adds a hex string member; returns NULL on allocation failure. */
cJSON *json_add_hex(cJSON *obj, const char *key, const void *p, size_t n);
/* Adds a base64 (standard alphabet, padded) string member; 0 or -ENOMEM. */
int json_add_base64(cJSON *obj, const char *key, const void *p, size_t n);
/* Adds key: an array of count hex strings, of each bytes apiece (PCR banks); NULL on failure. */
cJSON *json_add_hex_array(cJSON *obj, const char *key, const void *p, size_t count, size_t each);

/* ---- RFC 8785 JSON Canonicalization Scheme ---- */

/*
 * Serializes v in canonical form: members sorted by their UTF-16 code
 * units, numbers as ECMAScript prints them, minimal string escapes.
 * -EINVAL for NaN, infinities or invalid UTF-8. *out is NUL-terminated.
 */
int jcs_serialize(const cJSON *v, char **out, size_t *len);

/* ---- digests ---- */

/* The digest (OpenSSL name: "SHA256", "SHA384") of a whole file, streamed. */
int file_digest(const char *path, const char *md, uint8_t *out, size_t cap, size_t *len);

/* ---- time ---- */

/* Parses an RFC 3339 date-time ("2023-06-18T08:42:58Z") into seconds since the epoch. */
int rfc3339_parse(const char *s, int64_t *out);
/* Milliseconds of CLOCK_MONOTONIC: for deadlines and durations, never a date. */
int64_t mono_ms(void);

/* ---- elliptic curves (OpenSSL EVP) ---- */

/* ECDSA verify of a raw r || s (big-endian, n bytes each) signature over msg. */
int ecdsa_verify_raw(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t msglen,
		     const uint8_t *r, const uint8_t *s, size_t n);
/* An EVP_PKEY for an uncompressed P-256 point given as x || y; -EBADMSG when off the curve. */
int p256_key_from_xy(const uint8_t xy[64], EVP_PKEY **out);
/* The public point of a P-256 key as x || y. */
int p256_key_xy(EVP_PKEY *k, uint8_t xy[64]);
/* A fresh P-256 key pair. */
int p256_generate(EVP_PKEY **out);

/* ---- JOSE: JWK (EC P-256), JWE ECDH-ES+A256KW with A256GCM, JWS ES256 ---- */

#define JWE_ALG "ECDH-ES+A256KW"
#define JWE_ENC "A256GCM"

/* {"kty":"EC","crv":"P-256","alg":"ECDH-ES+A256KW","x":...,"y":...} of k's public part. */
int jwk_from_pkey(EVP_PKEY *k, cJSON **out);
/*
 * The public key of a JWK: kty EC, crv P-256, x and y of 32 bytes each
 * (base64url), on the curve; "alg", when present, must be ECDH-ES+A256KW.
 * A private member ("d") is refused: a JWK from outside is public only.
 */
int jwk_to_pkey(const cJSON *jwk, EVP_PKEY **out, char *err, size_t errlen);
/* RFC 7518 §4.6.2 Concat KDF with SHA-256; apu and apv may be empty. */
int concat_kdf_sha256(const uint8_t *z, size_t zlen, const char *alg, const uint8_t *apu,
		      size_t apulen, const uint8_t *apv, size_t apvlen, uint8_t *out,
		      size_t outlen);
/* A flattened JWE {protected, encrypted_key, iv, ciphertext, tag} of pt for recipient. */
int jwe_encrypt(EVP_PKEY *recipient, const uint8_t *pt, size_t n, cJSON **out);
/*
 * Opens a flattened JWE with priv. Only alg ECDH-ES+A256KW and enc A256GCM
 * are accepted; "zip", "crit", JWE-level "aad" and unprotected headers are
 * refused. The plaintext is in secret memory: release it with
 * secret_free(*pt, *n). -EBADMSG with a reason in err on any fault.
 */
int jwe_decrypt(EVP_PKEY *priv, const cJSON *jwe, uint8_t **pt, size_t *n, char *err,
		size_t errlen);
/* A compact JWS (a JWT) over claims, alg ES256, with P-256 key k. */
int jwt_sign_es256(EVP_PKEY *k, const cJSON *claims, char **out);
/* Checks a compact JWS from jwt_sign_es256 and returns its claims. */
int jwt_verify_es256(EVP_PKEY *k, const char *token, cJSON **claims, char *err, size_t errlen);

/* ---- secret memory ---- */

/*
 * No core dump of this process, ever: PR_SET_DUMPABLE 0 and RLIMIT_CORE 0
 * (soft and hard). "E_HARDEN: why" on failure.
 */
int harden_no_dump(char *err, size_t errlen);
/* Wipes every string of a JSON tree (values and member names), then deletes it. */
void json_delete_wiped(cJSON *v);
static inline void json_delete_wipedp(cJSON **p)
{
	json_delete_wiped(*p);
}
/* Wipes a NUL-terminated string up to its NUL, then frees it (a cleanup function). */
void wipe_freep(char **p);

/* Locked (where allowed), zeroed memory, page-aligned from a page up, wiped with OPENSSL_cleanse on free. */
void *secret_alloc(size_t n);
void secret_free(void *p, size_t n);

/* ---- a ring of chunk buffers between two threads (chunk_ring.c) ---- */

/*
 * A ring of chunk buffers between the caller's thread and
 * a helper thread that fills slots (reading ahead) or drains them
 * (hashing behind), in order. Until chunk_ring_parallel, and for good
 * without a second CPU, the helper's step runs inline with one slot.
 * While the thread lives (from chunk_ring_parallel to chunk_ring_drain,
 * the end of the filling, or chunk_ring_free) the caller must not fork.
 * Slots are secret memory, wiped when the ring is freed.
 */
#define CHUNK_RING_MAX 16
/* Whether rings go parallel: by the CPUs the process may run on; tests force either way. */
enum chunk_ring_mode { RING_AUTO, RING_INLINE, RING_THREAD };
extern enum chunk_ring_mode chunk_ring_mode;
enum chunk_ring_role { RING_HELPER_DRAINS, RING_HELPER_FILLS };
struct chunk_slot {
	uint8_t *p;
	size_t len; /* bytes of p in use */
	int status; /* the filler's word on this slot */
};
/*
 * The helper's side, one slot at a time: a drainer returns 0 or -errno
 * (which stops the ring); a filler returns 1 when the slot it filled is
 * the last, else 0.
 */
typedef int (*chunk_ring_fn)(void *ctx, struct chunk_slot *s);
struct chunk_ring;
/* nslots (2 to CHUNK_RING_MAX) of slot_size bytes; one allocated until parallel. 0, or -ENOMEM. */
int chunk_ring_new(enum chunk_ring_role role, size_t nslots, size_t slot_size, chunk_ring_fn step,
		   void *ctx, struct chunk_ring **out);
/*
 * Starts the helper thread when a second CPU helps; else, or without the
 * memory or the thread, stays inline. Only the first call while no slot is
 * held or pending counts.
 */
void chunk_ring_parallel(struct chunk_ring *q);
/* Drains role, the caller fills: the slot to fill (the same until posted); NULL after the helper's error. */
struct chunk_slot *chunk_ring_hold(struct chunk_ring *q);
/* Hands the held slot to the helper (inline: drains it now). 0, or the helper's error. */
int chunk_ring_post(struct chunk_ring *q);
/* Waits until the helper drained every posted slot, then ends its thread. 0, or its error. */
int chunk_ring_drain(struct chunk_ring *q);
/* Fills role, the caller drains: the next filled slot (the one before is given back); NULL after the last. */
struct chunk_slot *chunk_ring_next(struct chunk_ring *q);
/* Stops the thread, if any, without waiting for its work; wipes and frees the slots. */
void chunk_ring_free(struct chunk_ring *q);

/* ---- result bundle (.cvmr, docs/result.md) ---- */

#define RESULT_MAGIC "CVMR"
#define RESULT_VERSION 2
#define RESULT_INPUTS_MAX 16 /* inputs of one order (ORDER_INPUTS_MAX) */
#define RESULT_INPUT_NAME_MAX 32
#define RESULT_CIPHER "secp256k1-ECDH+HKDF-SHA256+A256GCM"
#define RESULT_CHUNK_DEFAULT (64u * 1024)
#define RESULT_CHUNK_MIN 1024u
#define RESULT_CHUNK_MAX (1024u * 1024)
#define RESULT_HEADER_MAX (64u * 1024)
#define RESULT_TRAILER_MAX (4u * 1024 * 1024)
#define RESULT_ORDER_ID_MAX 128

/* A secp256k1 key: the secret in secret memory, the public key compressed (SEC 1 §2.3.3). */
struct result_key {
	uint8_t *sk; /* 32 bytes, or NULL for a public key only */
	uint8_t pub[33];
};

/* The process's one libsecp256k1 context, randomised for blinding; NULL if it cannot be made. */
struct secp256k1_context_struct;
struct secp256k1_context_struct *cvm_secp256k1(void);

/* A fresh secp256k1 key pair, its secret in secret memory; result_key_wipe(k) releases it. */
int result_key_generate(struct result_key *k, char *err, size_t errlen);
/*
 * Loads a secp256k1 private key from a file: PEM (SEC 1 "EC PRIVATE KEY" or
 * unencrypted PKCS#8) or 64 hex digits. Encrypted PEM is refused.
 */
int result_key_load(const char *path, struct result_key *k, char *err, size_t errlen);
/* Writes k as an unencrypted PKCS#8 PEM file, mode 0600. */
int result_key_save(const struct result_key *k, const char *path, char *err, size_t errlen);
void result_key_wipe(struct result_key *k);
/* The compressed public key as 66 lower-case hex digits and a NUL. */
void result_key_pub_hex(const struct result_key *k, char out[67]);
/* A compressed public key from 66 hex digits; -EINVAL unless it is a point on the curve. */
int result_pub_from_hex(const char *hex, uint8_t pub[33]);
/* Order ids: 1 to 128 of [A-Za-z0-9._:-]. */
bool result_order_id_valid(const char *s);
/* Input names: 1 to 32 of [a-z0-9_-], starting with [a-z0-9] (as orders name them). */
bool result_input_name_valid(const char *s);

/* One input of the order as the result header names it: its name and the LUKS2 header measured. */
struct result_input {
	char name[RESULT_INPUT_NAME_MAX + 1];
	uint8_t luks_header_sha256[32];
};

/* What the header says besides the keys (the writer's input). */
struct result_meta {
	const char *order_id;
	const uint8_t *order_sha256;	    /* 32 bytes: SHA-256 of the order's signed form */
	const uint8_t *job_manifest_sha256; /* 32 bytes */
	const struct result_input *inputs;  /* in the order's order, 1 to RESULT_INPUTS_MAX */
	size_t ninputs;
	int exit_code; /* -1 to 255 */
	int signal;    /* 0 to 64 */
	bool timed_out, partial;
};

/* Where bundle bytes (writer) or plaintext (reader) go, in order. */
typedef int (*result_sink_fn)(void *ctx, const void *p, size_t n);
/*
 * Fresh evidence binding report_data: {"tee": "snp"|"tdx"|"tpm",
 * "primary": <the primary evidence as the TEE backend gives it>}.
 */
typedef int (*result_evidence_fn)(void *ctx, const uint8_t report_data[64], cJSON **evidence,
				  char *err, size_t errlen);

/*
 * The streaming writer: a bounded ring of chunks in memory (about 1 MiB,
 * whatever the output's size). The header goes to sink at once; chunks as
 * they fill; the trailer at finish. sink is called from the caller's
 * thread only, in order. After any error the writer refuses to go on.
 * chunk_size 0 means the default. Past its first MiB, on a machine with a
 * second CPU, the writer hashes on a thread of its own until finish, an
 * error or free: the caller must not fork in between.
 */
struct result_writer;
int result_writer_new(const uint8_t recipient[33], const struct result_key *signer,
		      const struct result_meta *meta, size_t chunk_size, result_sink_fn sink,
		      void *sink_ctx, struct result_writer **out, char *err, size_t errlen);
int result_writer_write(struct result_writer *w, const void *p, size_t n, char *err, size_t errlen);
/*
 * Seals the last chunk, asks ev for evidence binding SHA-512(D || signing
 * key) and writes the trailer: eventlog (a JSON array's text; NULL for
 * none), evidence, signature.
 */
int result_writer_finish(struct result_writer *w, const char *eventlog, result_evidence_fn ev,
			 void *ev_ctx, char *err, size_t errlen);
/* SHA-256 of every byte the sink was given, once finish succeeded: 0, or -EINVAL before. */
int result_writer_sha256(const struct result_writer *w, uint8_t out[32]);
void result_writer_free(struct result_writer *w);

/* Random access to a bundle: a file, or the bundle's region of the output disk. */
struct result_source {
	int fd;
	uint64_t offset, size;
};

struct result_info {
	cJSON *header;	/* the header as parsed */
	cJSON *trailer; /* {"eventlog", "evidence", "signature"} */
	const cJSON *eventlog;
	const cJSON *evidence; /* {"tee", "primary"}: verifying it is the caller's job */
	char tee[4];	       /* "snp", "tdx" or "tpm" */
	char *header_text;
	uint32_t header_len;
	uint8_t recipient_key_id[32], ephemeral[33], signing_pub[33];
	uint8_t job_manifest_sha256[32], order_sha256[32];
	struct result_input inputs[RESULT_INPUTS_MAX];
	size_t ninputs;
	char order_id[RESULT_ORDER_ID_MAX + 1];
	uint32_t chunk_size;
	uint64_t chunks, plaintext_max; /* chunk count, and an upper bound of the plaintext */
	int exit_code, signal;
	bool timed_out, partial;
	uint8_t digest[32];	 /* D: SHA-256 of every byte before the trailer */
	uint8_t report_data[64]; /* SHA-512(D || signing_pub): what the evidence must bind */
};

/*
 * Checks a bundle without a key: framing (magic, version, header, every
 * chunk's length, a last chunk, the trailer, nothing after it), the
 * canonical header and trailer, and the signature over D. The evidence is
 * not verified here: the caller verifies info->evidence and that it binds
 * info->report_data. Errors are "E_RESULT_...: why".
 */
int result_verify(const struct result_source *src, struct result_info *info, char *err,
		  size_t errlen);
void result_info_free(struct result_info *info);

/*
 * Pull-style decryption of a bundle that result_verify accepted. Each call
 * gives the next chunk's plaintext, only after its tag has checked (*p
 * holds *n bytes until the next call); *end turns true with the last
 * chunk, and stays true (with *n == 0) on later calls. A chunk that does
 * not authenticate, or is missing, is an error, and so is every call after.
 * Memory is bounded (about 1 MiB of chunks). A bundle over 1 MiB is read
 * ahead on a thread of the reader's own when there is a second CPU, from
 * new to free: the caller must not fork in between.
 */
struct result_reader;
int result_reader_new(const struct result_source *src, const struct result_info *info,
		      const struct result_key *recipient, struct result_reader **out, char *err,
		      size_t errlen);
int result_reader_next(struct result_reader *r, const uint8_t **p, size_t *n, bool *end, char *err,
		       size_t errlen);
void result_reader_free(struct result_reader *r);
/* Decrypts every chunk to sink; 0 only when the last chunk has been reached. */
int result_decrypt(const struct result_source *src, const struct result_info *info,
		   const struct result_key *recipient, result_sink_fn sink, void *ctx, char *err,
		   size_t errlen);
/*
 * Decrypts and extracts the result's tar into dir, which must not exist:
 * regular files and directories only, relative names without "." or ".."
 * components, no links, no overwriting. Entries go into "<dir>.part",
 * renamed to dir only when the last chunk has been reached; on failure
 * "<dir>.part" stays behind and dir does not exist.
 */
int result_extract(const struct result_source *src, const struct result_info *info,
		   const struct result_key *recipient, const char *dir, char *err, size_t errlen);
/*
 * The same within limits: at most max_size bytes of file data, as the
 * entries' headers declare them (an entry beyond the rest is refused
 * before it is written, E_RESULT_TOO_LARGE), at most max_entries entries
 * (E_RESULT_TOO_MANY); sparse entries are refused (E_RESULT_SPARSE).
 * result_extract applies the defaults below.
 */
#define RESULT_MAX_SIZE (4ull << 30)
#define RESULT_MAX_ENTRIES 100000u
struct result_limits {
	uint64_t max_size, max_entries;
};
int result_extract_limited(const struct result_source *src, const struct result_info *info,
			   const struct result_key *recipient, const char *dir,
			   const struct result_limits *lim, char *err, size_t errlen);

/* ---- the output disk: commit record (block 0), order block (block 1), bundle (8 KiB on) ---- */

#define OUTDISK_BLOCK 4096u
#define OUTDISK_BUNDLE_OFFSET 8192u
#define OUTDISK_ORDER_MAX (OUTDISK_BLOCK - 12)

struct outdisk_commit {
	uint64_t offset, length;
	uint8_t sha256[32];
};

/* Encodes a commit record into one 4 KiB block. */
int outdisk_commit_encode(const struct outdisk_commit *c, uint8_t block[OUTDISK_BLOCK]);
/* -ENOENT: no commit record (a zero block); -EBADMSG: anything else that is not one. */
int outdisk_commit_parse(const uint8_t block[OUTDISK_BLOCK], struct outdisk_commit *c);
/* The order block the host writes before boot: {"order_id": ...}. */
int outdisk_order_encode(const char *order_id, uint8_t block[OUTDISK_BLOCK]);
/* Parses the order block as hostile input; "E_ORDER: why" on refusal. */
int outdisk_order_parse(const uint8_t block[OUTDISK_BLOCK], char *order_id, size_t cap, char *err,
			size_t errlen);
/*
 * Reads a disk's commit record and checks that the bundle it names is
 * whole (SHA-256): src then spans the bundle. "E_NO_RESULT: why" otherwise.
 */
int outdisk_open(int fd, struct result_source *src, char *err, size_t errlen);

#endif
