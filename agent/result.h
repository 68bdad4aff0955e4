/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The end of an order inside the guest: the order block the host left on
 * the output disk, and the sealed, signed result written back to it with
 * its commit record last (docs/result.md).
 */
#ifndef CVM_AGENT_RESULT_H
#define CVM_AGENT_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lib.h"

/*
 * Reads the order block of the output disk (block 1, hostile input, one
 * block). "E_ORDER: why" on refusal.
 */
int result_order_read(const char *device, char *order_id, size_t cap, char *err, size_t errlen);

/*
 * Tars stage_dir (pax, names sorted bytewise, regular files and
 * directories only, no link followed, owner 0, mtime 0, modes 0644, 0755),
 * seals it to recipient, signs it with signer, adds evidence from ev, and
 * writes the bundle to the output device: block 0 zeroed and flushed
 * first, the bundle from 8 KiB, flushed, then the commit record, flushed.
 * The plaintext never touches a disk. max_plaintext bounds the tar stream.
 * *bytes is the bundle's size. Errors: "E_OUTPUT_OPEN", "E_OUTPUT_FULL",
 * "E_OUTPUT_TOO_LARGE", "E_OUTPUT_TAR", "E_OUTPUT_WRITE", "E_OUTPUT_FLUSH",
 * or the writer's "E_RESULT..." (evidence, keys), each with ": why".
 */
int result_write(const char *device, const char *stage_dir, const uint8_t recipient[33],
		 const struct result_key *signer, const struct result_meta *meta,
		 result_evidence_fn ev, void *ev_ctx, const char *eventlog, uint64_t max_plaintext,
		 uint64_t *bytes, char *err, size_t errlen);

/* ---- the tar inside (tar_write.c): pax restricted, docs/result.md section 4 ---- */

#define TAR_PATH_LIMIT 4096 /* a path and its NUL */

/* Where the tar's bytes go: sink returns 0 or a negative errno. */
struct tar_out {
	int (*sink)(void *ctx, const void *p, size_t n);
	void *ctx;
};

/*
 * The header of one entry (owner 0, mtime 0, perm's low 12 bits): a
 * directory (path ending in '/') or a regular file of size bytes, whose
 * data the caller then writes, followed by tar_pad(size). A pax header
 * precedes it when the path or size does not fit ustar. 0, -ENAMETOOLONG
 * for an empty path or one of TAR_PATH_LIMIT bytes or more, or the sink's
 * error.
 */
int tar_entry(const struct tar_out *o, const char *path, bool dir, unsigned perm, uint64_t size);
/* Zeros after size bytes of data, up to the next 512-byte record. */
int tar_pad(const struct tar_out *o, uint64_t size);
/* The two zero records that end the tar. */
int tar_finish(const struct tar_out *o);

#endif
