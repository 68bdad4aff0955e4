/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A dm-verity hash tree (format 1, SHA-256, 4096-byte data and hash blocks,
 * no superblock), as the kernel's dm-verity reads it and veritysetup
 * writes it, built on every CPU: the level over the data, which is all but
 * 1/127 of the work, is hashed by one thread per slice of the data.
 * libcryptsetup's own builder hashes on one thread at about half of
 * OpenSSL's speed (2 s a GiB against 0.3 s here on two cores); the unit
 * test checks this tree against it byte for byte.
 *
 * The layout (the kernel's drivers/md/dm-verity-target.c, verity_ctr):
 * level i (0 hashes the data) holds ceil(data_blocks / 128^(i+1)) blocks,
 * the top level first; each hash is SHA-256(salt || block), 128 to a hash
 * block, the rest of a level's last block zero. The root hash is the hash
 * of the top level's only block; with one data block there is no level
 * and the root is that block's hash.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "host/cvm.h"
#include "lib/lib.h"

#define VT_BLOCK 4096
#define VT_PER_BLOCK (VT_BLOCK / 32)
#define VT_CHUNK 256 /* data blocks read and hashed at a time: 1 MiB */
#define VT_MAX_LEVELS 10
#define VT_MAX_THREADS 8

struct vt_level {
	uint64_t blocks, start; /* in hash blocks from the hash file's start */
};

struct vt_slice {
	int data_fd, hash_fd;
	const uint8_t *salt;
	size_t salt_len;
	uint64_t first, count, out; /* data blocks; the hash file offset of the first's hash */
	int err;
};

/* The levels of a tree over data_blocks blocks; their number. */
static int vt_levels(uint64_t data_blocks, struct vt_level lv[VT_MAX_LEVELS])
{
	uint64_t start = 0, n = data_blocks;
	int levels = 0;

	while (n > 1) {
		n = (n + VT_PER_BLOCK - 1) / VT_PER_BLOCK;
		if (levels == VT_MAX_LEVELS)
			return -EFBIG;
		lv[levels++].blocks = n;
	}
	for (int i = levels - 1; i >= 0; i--) {
		lv[i].start = start;
		start += lv[i].blocks;
	}
	return levels;
}

uint64_t verity_tree_size(uint64_t data_blocks)
{
	struct vt_level lv[VT_MAX_LEVELS];
	int levels = vt_levels(data_blocks, lv);
	uint64_t n = 0;

	for (int i = 0; i < levels; i++)
		n += lv[i].blocks;
	return n * VT_BLOCK;
}

/* Hashes n blocks of in (each SHA-256(salt || block)) into out. */
static int vt_hash(EVP_MD_CTX *m, const uint8_t *salt, size_t salt_len, const uint8_t *in, size_t n,
		   uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		if (EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(m, salt, salt_len) != 1 ||
		    EVP_DigestUpdate(m, in + i * VT_BLOCK, VT_BLOCK) != 1 ||
		    EVP_DigestFinal_ex(m, out + i * 32, NULL) != 1)
			return -EIO;
	return 0;
}

/* Reads exactly n bytes at off; a file that ends early is -EIO. */
static int vt_read(int fd, uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t got = pread(fd, p, n, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		p += got, n -= (size_t)got, off += (uint64_t)got;
	}
	return 0;
}

/* Hashes the n blocks at block `at` of fd into out. */
static int vt_hash_at(EVP_MD_CTX *m, const uint8_t *salt, size_t salt_len, int fd, uint64_t at,
		      size_t n, uint8_t *in, uint8_t *out)
{
	int r = vt_read(fd, in, n * VT_BLOCK, at * VT_BLOCK);

	return r < 0 ? r : vt_hash(m, salt, salt_len, in, n, out);
}

/* One slice of the data: its blocks' hashes, written in place in the bottom level. */
static void *vt_slice_run(void *arg)
{
	struct vt_slice *s = arg;
	uint8_t *in = secret_alloc((size_t)VT_CHUNK * VT_BLOCK), out[VT_CHUNK * 32];
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint64_t done = 0;

	s->err = in && m ? 0 : -ENOMEM;
	while (s->err == 0 && done < s->count) {
		size_t n = s->count - done < VT_CHUNK ? (size_t)(s->count - done) : VT_CHUNK;

		s->err = vt_hash_at(m, s->salt, s->salt_len, s->data_fd, s->first + done, n, in,
				    out);
		if (s->err == 0)
			s->err = fd_pwrite_all(s->hash_fd, out, n * 32, s->out + done * 32);
		done += n;
	}
	EVP_MD_CTX_free(m);
	secret_free(in, (size_t)VT_CHUNK * VT_BLOCK); /* the workload's plaintext */
	return NULL;
}

static unsigned vt_threads(uint64_t data_blocks)
{
	cpu_set_t set;
	long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
							      : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > VT_MAX_THREADS)
		n = VT_MAX_THREADS;
	/* a slice is at least 64 MiB: below that a thread costs more than it saves */
	while (n > 1 && data_blocks / (uint64_t)n < 16384)
		n--;
	return (unsigned)n;
}

/* The bottom level: the data's blocks hashed in slices, one a thread, each whole hash blocks. */
static int vt_bottom(int data_fd, uint64_t data_blocks, const uint8_t *salt, size_t salt_len,
		     int hash_fd, uint64_t out)
{
	struct vt_slice s[VT_MAX_THREADS];
	pthread_t th[VT_MAX_THREADS];
	unsigned n = vt_threads(data_blocks), started = 1;
	uint64_t per = (data_blocks / n + VT_PER_BLOCK - 1) / VT_PER_BLOCK * VT_PER_BLOCK, at = 0;
	int r = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t count = i + 1 == n ? data_blocks - at : per;

		s[i] = (struct vt_slice){ data_fd, hash_fd, salt,	   salt_len,
					  at,	   count,   out + at * 32, 0 };
		at += count;
	}
	for (unsigned i = 1; i < n; i++) {
		if (pthread_create(&th[i], NULL, vt_slice_run, &s[i]) != 0)
			break;
		started++;
	}
	/* a slice whose thread did not start is hashed here */
	for (unsigned i = 0; i < n; i++)
		if (i == 0 || i >= started)
			vt_slice_run(&s[i]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < n && r == 0; i++)
		r = s[i].err;
	return r;
}

struct verity_tree {
	struct vt_level lv[VT_MAX_LEVELS];
	int levels, hash_fd;
	uint64_t data_blocks, added;
	uint8_t salt[64], leaf[32]; /* leaf: the only block's hash, with no level */
	size_t salt_len;
	EVP_MD_CTX *m;
	uint8_t *in, out[VT_CHUNK * 32];
};

void verity_tree_free(struct verity_tree *t)
{
	if (!t)
		return;
	EVP_MD_CTX_free(t->m);
	secret_free(t->in, (size_t)VT_CHUNK * VT_BLOCK);
	free(t);
}

int verity_tree_new(uint64_t data_blocks, const uint8_t *salt, size_t salt_len, int hash_fd,
		    struct verity_tree **out)
{
	struct verity_tree *t = calloc(1, sizeof(*t));
	int r = 0;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->levels = vt_levels(data_blocks, t->lv);
	t->data_blocks = data_blocks;
	t->hash_fd = hash_fd;
	t->salt_len = salt_len;
	t->m = EVP_MD_CTX_new();
	t->in = secret_alloc((size_t)VT_CHUNK * VT_BLOCK);
	if (data_blocks == 0 || t->levels < 0 || salt_len > sizeof(t->salt))
		r = -EINVAL;
	else if (!t->m || !t->in)
		r = -ENOMEM;
	else if (ftruncate(hash_fd, 0) < 0 ||
		 ftruncate(hash_fd, (off_t)verity_tree_size(data_blocks)) < 0)
		r = -errno;
	if (r < 0) {
		verity_tree_free(t);
		return r;
	}
	memcpy(t->salt, salt, salt_len);
	*out = t;
	return 0;
}

int verity_tree_add(struct verity_tree *t, const uint8_t *blocks, size_t n)
{
	if (n > t->data_blocks - t->added)
		return -EINVAL;
	for (size_t k = 0; k < n; k += VT_CHUNK) {
		size_t m = n - k < VT_CHUNK ? n - k : VT_CHUNK;
		int r = vt_hash(t->m, t->salt, t->salt_len, blocks + k * VT_BLOCK, m, t->out);

		if (r == 0 && t->levels == 0) /* one data block: its hash is the root */
			memcpy(t->leaf, t->out, 32);
		else if (r == 0)
			r = fd_pwrite_all(t->hash_fd, t->out, m * 32,
					  t->lv[0].start * VT_BLOCK + (t->added + k) * 32);
		if (r < 0)
			return r;
	}
	t->added += n;
	return 0;
}

int verity_tree_end(struct verity_tree *t, uint8_t root[32])
{
	const struct vt_level *lv = t->lv;
	int r = t->added == t->data_blocks ? 0 : -EINVAL;

	if (r == 0 && t->levels == 0)
		memcpy(root, t->leaf, 32);
	/* each level above from the one below, read back from the file */
	for (int i = 1; r == 0 && i < t->levels; i++) {
		for (uint64_t b = 0; r == 0 && b < lv[i - 1].blocks; b += VT_CHUNK) {
			uint64_t left = lv[i - 1].blocks - b;
			size_t n = left < VT_CHUNK ? (size_t)left : VT_CHUNK;

			r = vt_hash_at(t->m, t->salt, t->salt_len, t->hash_fd, lv[i - 1].start + b,
				       n, t->in, t->out);
			if (r == 0)
				r = fd_pwrite_all(t->hash_fd, t->out, n * 32,
						  lv[i].start * VT_BLOCK + b * 32);
		}
	}
	if (r == 0 && t->levels > 0)
		r = vt_hash_at(t->m, t->salt, t->salt_len, t->hash_fd, lv[t->levels - 1].start, 1,
			       t->in, root);
	return r;
}

int verity_tree_build(int data_fd, uint64_t data_blocks, const uint8_t *salt, size_t salt_len,
		      int hash_fd, uint8_t root[32])
{
	struct verity_tree *t = NULL;
	int r = verity_tree_new(data_blocks, salt, salt_len, hash_fd, &t);

	if (r == 0 && t->levels == 0) {
		r = vt_read(data_fd, t->in, VT_BLOCK, 0);
		if (r == 0)
			r = verity_tree_add(t, t->in, 1);
	} else if (r == 0) {
		r = vt_bottom(data_fd, data_blocks, salt, salt_len, hash_fd,
			      t->lv[0].start * VT_BLOCK);
		t->added = data_blocks;
	}
	if (r == 0)
		r = verity_tree_end(t, root);
	verity_tree_free(t);
	return r;
}
