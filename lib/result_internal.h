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

#endif
