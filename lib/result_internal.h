/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside lib/: what the result bundle's writer (result_seal.c), its reader
 * (result_open.c) and its keys and output disk (result.c) share: the
 * format's constants and the sealing primitives. Not a public header.
 */
#ifndef CVM_LIB_RESULT_INTERNAL_H
#define CVM_LIB_RESULT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <openssl/evp.h>

#define PREAMBLE_LEN 12
#define LAST_FLAG 0x80000000u
#define TAG_LEN 16
#define HKDF_SALT "cvm-result-v1"

/* 0, or -EIO. */
int result_sha256(const void *p, size_t n, uint8_t out[32]);
/* report_data = SHA-512(D || signing public key), docs/result.md "Binding": 0, or -EIO. */
int result_binding(const uint8_t d[32], const uint8_t pub[33], uint8_t rd[64]);
/*
 * The chunk key: HKDF-SHA256 of the ECDH of sk and peer, salt HKDF_SALT,
 * info eph || recipient. 0, or -EIO.
 */
int result_derive(const uint8_t *sk, const uint8_t peer[33], const uint8_t eph[33],
		  const uint8_t recipient[33], uint8_t key[32]);
/* An AES-256-GCM context holding the chunk key, to encrypt or to decrypt: NULL without memory. */
EVP_CIPHER_CTX *result_gcm_new(bool enc, const uint8_t key[32]);
/*
 * AES-256-GCM of one chunk with c's key, its nonce from index and last:
 * n bytes from in to out (the same place, or apart), the tag made or
 * checked. 0, or -EBADMSG.
 */
int result_gcm(EVP_CIPHER_CTX *c, bool enc, uint64_t index, bool last, const uint8_t aad[32],
	       const uint8_t *in, uint8_t *out, size_t n, uint8_t tag[TAG_LEN]);
struct result_source;
/* n bytes at off of the source: 0, or -ENODATA when it is shorter, another -errno. */
int result_read_at(const struct result_source *s, uint64_t off, void *buf, size_t n);
/* {"tee": "snp"|"tdx"|"tpm", "primary": {...}} and nothing else. */
bool result_evidence_shape_ok(const cJSON *ev);

/*
 * A ring of chunk buffers (result_ring.c) between the caller's thread and
 * a helper thread that fills slots (reading ahead) or drains them
 * (hashing behind), in order. Until result_ring_parallel, and for good
 * without a second CPU, the helper's step runs inline with one slot.
 * While the thread lives (from result_ring_parallel to result_ring_drain,
 * the end of the filling, or result_ring_free) the caller must not fork.
 * Slots are secret memory, wiped when the ring is freed.
 */
#define RESULT_RING_MAX 16
/* Whether rings go parallel: by the CPUs the process may run on; tests force either way. */
enum result_ring_mode { RING_AUTO, RING_INLINE, RING_THREAD };
extern enum result_ring_mode result_ring_mode;
enum result_ring_role { RING_HELPER_DRAINS, RING_HELPER_FILLS };
struct result_slot {
	uint8_t *p;
	size_t len; /* bytes of p in use */
	int status; /* the filler's word on this slot */
};
/*
 * The helper's side, one slot at a time: a drainer returns 0 or -errno
 * (which stops the ring); a filler returns 1 when the slot it filled is
 * the last, else 0.
 */
typedef int (*result_ring_fn)(void *ctx, struct result_slot *s);
struct result_ring;
/* nslots (2 to RESULT_RING_MAX) of slot_size bytes; one allocated until parallel. 0, or -ENOMEM. */
int result_ring_new(enum result_ring_role role, size_t nslots, size_t slot_size,
		    result_ring_fn step, void *ctx, struct result_ring **out);
/*
 * Starts the helper thread when a second CPU helps; else, or without the
 * memory or the thread, stays inline. Only the first call while no slot is
 * held or pending counts.
 */
void result_ring_parallel(struct result_ring *q);
/* Drains role, the caller fills: the slot to fill (the same until posted); NULL after the helper's error. */
struct result_slot *result_ring_hold(struct result_ring *q);
/* Hands the held slot to the helper (inline: drains it now). 0, or the helper's error. */
int result_ring_post(struct result_ring *q);
/* Waits until the helper drained every posted slot, then ends its thread. 0, or its error. */
int result_ring_drain(struct result_ring *q);
/* Fills role, the caller drains: the next filled slot (the one before is given back); NULL after the last. */
struct result_slot *result_ring_next(struct result_ring *q);
/* Stops the thread, if any, without waiting for its work; wipes and frees the slots. */
void result_ring_free(struct result_ring *q);

#endif
