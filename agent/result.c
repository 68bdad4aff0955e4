/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing the result: a deterministic tar of the staging directory
 * (tar_write.c), streamed through the sealing writer straight onto the
 * output disk, whose commit record is written and flushed last
 * (docs/result.md, "Output disk"). Block 0 is zeroed and flushed before
 * the first bundle byte, so a crash at any point leaves either a zero
 * block 0 or a commit record of a whole bundle: never something that looks
 * complete and is not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/result.h"

#define TAR_DEPTH_MAX 64

int result_order_read(const char *device, char *order_id, size_t cap, char *err, size_t errlen)
{
	uint8_t b[OUTDISK_BLOCK];
	int fd = open(device, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? pread(fd, b, sizeof(b), OUTDISK_BLOCK) : -1;

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(b))
		return set_error(err, errlen, -EIO, "E_ORDER: cannot read the order block of %s",
				 device);
	return outdisk_order_parse(b, order_id, cap, err, errlen);
}

/* ---- the disk ---- */

struct disk {
	int fd;
	uint64_t pos, room; /* bundle bytes written; room for them from OUTDISK_BUNDLE_OFFSET */
};

static int disk_sink(void *ctx, const void *p, size_t n)
{
	struct disk *d = ctx;
	int r;

	if (n > d->room - d->pos)
		return -ENOSPC;
	if ((r = fd_pwrite_all(d->fd, p, n, OUTDISK_BUNDLE_OFFSET + d->pos)) < 0)
		return r;
	d->pos += n;
	return 0;
}

static int flush(int fd, char *err, size_t errlen)
{
	int r;

	/* an interrupted flush is asked again: the data are not known to be on the disk */
	while ((r = fdatasync(fd)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return set_error(err, errlen, -errno, "E_OUTPUT_FLUSH: %s", strerror(errno));
	return 0;
}

static int write_block0(struct disk *d, const uint8_t block[OUTDISK_BLOCK], char *err,
			size_t errlen)
{
	int r = fd_pwrite_all(d->fd, block, OUTDISK_BLOCK, 0);

	if (r < 0)
		return set_error(err, errlen, r, "E_OUTPUT_WRITE: block 0: %s", strerror(-r));
	return flush(d->fd, err, errlen);
}

/* ---- the tar ---- */

struct tar {
	struct tar_out o;
	struct result_writer *w;
	uint64_t total, max;
	char *err;
	size_t errlen;
	int failed; /* the first error: the one reported */
};

static int tar_fail(struct tar *t, int r, const char *what)
{
	if (!t->failed)
		t->failed =
			set_error(t->err, t->errlen, r, "E_OUTPUT_TAR: %s: %s", what, strerror(-r));
	return t->failed;
}

/* The tar's bytes, bounded, into the sealing writer. */
static int tar_sink(void *ctx, const void *buf, size_t n)
{
	struct tar *t = ctx;
	int r;

	if (t->failed)
		return t->failed;
	if (n > t->max - t->total)
		return t->failed = set_error(t->err, t->errlen, -EFBIG,
					     "E_OUTPUT_TOO_LARGE: the output exceeds %llu bytes",
					     (unsigned long long)t->max);
	if ((r = result_writer_write(t->w, buf, n, t->err, t->errlen)) < 0)
		return t->failed = r;
	t->total += n;
	return 0;
}

/* An entry's header: owner, time and modes fixed, so that the tar is reproducible. */
static int entry_header(struct tar *t, const char *path, const struct stat *st)
{
	bool dir = S_ISDIR(st->st_mode);
	int r = tar_entry(&t->o, path, dir, dir || st->st_mode & 0111 ? 0755 : 0644,
			  dir ? 0 : (uint64_t)st->st_size);

	return r < 0 ? tar_fail(t, r, dir ? "writing a directory" : "writing an entry header") : 0;
}

static int add_file(struct tar *t, int fd, const char *path, const struct stat *st)
{
	uint8_t buf[65536];
	CLEANUP_ERASE(buf);
	uint64_t done = 0;
	ssize_t n = 0;
	int r = entry_header(t, path, st);

	while (r == 0 && ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))) {
		if (n < 0)
			continue;
		if ((uint64_t)n > (uint64_t)st->st_size - done)
			break; /* grew: reported below, nothing past the header's size written */
		if (tar_sink(t, buf, (size_t)n) < 0)
			r = tar_fail(t, -EIO, "writing a file");
		done += (uint64_t)n;
	}
	if (r == 0 && n < 0)
		r = tar_fail(t, -errno, "reading a file");
	if (r == 0 && (n > 0 || done != (uint64_t)st->st_size))
		r = tar_fail(t, -ESTALE, "a file changed while it was archived");
	if (r == 0 && tar_pad(&t->o, done) < 0)
		r = tar_fail(t, -EIO, "writing a file");
	return r;
}

static int add_dir(struct tar *t, int dirfd, const char *prefix, int depth);

/* A directory's entry, then its contents; fd is closed either way. */
static int add_subdir(struct tar *t, int fd, const char *path, const struct stat *st, int depth)
{
	int r = entry_header(t, path, st);

	if (r < 0) {
		close(fd);
		return r;
	}
	return add_dir(t, fd, path, depth + 1);
}

/* One name of a directory: a regular file or a directory is archived; anything else is left out. */
static int add_name(struct tar *t, int dirfd, const char *prefix, const char *name, int depth)
{
	char path[TAR_PATH_LIMIT];
	struct stat st;
	bool dir;
	int fd, r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return tar_fail(t, -errno, "stat");
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 0; /* links, devices, fifos and sockets are not part of a result */
	dir = S_ISDIR(st.st_mode);
	if (snprintf(path, sizeof(path), "%s%s%s", prefix, name, dir ? "/" : "") >=
	    (int)sizeof(path))
		return tar_fail(t, -ENAMETOOLONG, "a path");
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	if (fd < 0)
		return tar_fail(t, -errno, "open");
	/* the type seen by fstat of the open file is the one archived */
	if (fstat(fd, &st) < 0)
		r = tar_fail(t, -errno, "stat");
	else if (dir && S_ISDIR(st.st_mode))
		return add_subdir(t, fd, path, &st, depth);
	else if (dir || !S_ISREG(st.st_mode))
		r = tar_fail(t, -ESTALE, "a file changed type");
	else
		r = add_file(t, fd, path, &st);
	close(fd);
	return r;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Adds the entries of dirfd (which it closes) under prefix, sorted by name, depth first. */
static int add_dir(struct tar *t, int dirfd, const char *prefix, int depth)
{
	struct dirent **names = NULL;
	int n = -1, r = 0;

	if (depth > TAR_DEPTH_MAX)
		r = tar_fail(t, -ELOOP, "directories nest too deep");
	else if ((n = scandirat(dirfd, ".", &names, NULL, by_name)) < 0)
		r = tar_fail(t, -errno, "reading a directory");
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (r == 0 && strcmp(name, ".") && strcmp(name, ".."))
			r = add_name(t, dirfd, prefix, name, depth);
		free(names[i]);
	}
	free(names);
	close(dirfd);
	return r;
}

/* pax (restricted: ustar headers unless a name or size needs more), unblocked. */
static int tar_stage(struct tar *t, const char *stage_dir)
{
	int fd = open(stage_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (fd < 0)
		return set_error(t->err, t->errlen, -errno, "E_OUTPUT_TAR: %s: %s", stage_dir,
				 strerror(errno));
	t->o = (struct tar_out){ .sink = tar_sink, .ctx = t };
	r = add_dir(t, fd, "", 0);
	if (r == 0 && tar_finish(&t->o) < 0)
		r = tar_fail(t, -EIO, "ending the archive");
	return t->failed ? t->failed : r;
}

/* ---- the order of writes ---- */

static int disk_open(const char *device, struct disk *d, char *err, size_t errlen)
{
	off_t end;

	if ((d->fd = open(device, O_RDWR | O_CLOEXEC)) < 0)
		return set_error(err, errlen, -errno, "E_OUTPUT_OPEN: %s: %s", device,
				 strerror(errno));
	end = lseek(d->fd, 0, SEEK_END);
	if (end < (off_t)(OUTDISK_BUNDLE_OFFSET + OUTDISK_BLOCK))
		return set_error(err, errlen, -ENOSPC, "E_OUTPUT_FULL: %s is too small", device);
	d->room = (uint64_t)end - OUTDISK_BUNDLE_OFFSET;
	return 0;
}

/* The record names the bytes written: the writer's digest of all it gave disk_sink. */
static int commit(struct disk *d, const struct result_writer *w, char *err, size_t errlen)
{
	struct outdisk_commit c = { .offset = OUTDISK_BUNDLE_OFFSET, .length = d->pos };
	uint8_t block[OUTDISK_BLOCK];
	int r;

	if ((r = flush(d->fd, err, errlen)) < 0)
		return r;
	if (result_writer_sha256(w, c.sha256) < 0 || outdisk_commit_encode(&c, block) < 0)
		return set_error(err, errlen, -EIO, "E_OUTPUT_WRITE: commit record");
	return write_block0(d, block, err, errlen);
}

int result_write(const char *device, const char *stage_dir, const uint8_t recipient[33],
		 const struct result_key *signer, const struct result_meta *meta,
		 result_evidence_fn ev, void *ev_ctx, const char *eventlog, uint64_t max_plaintext,
		 uint64_t *bytes, char *err, size_t errlen)
{
	static const uint8_t zero[OUTDISK_BLOCK];
	struct disk d = { .fd = -1 };
	struct tar t = { .max = max_plaintext, .err = err, .errlen = errlen };
	int r;

	*bytes = 0;
	/* no commit record while the bundle is being written */
	if ((r = disk_open(device, &d, err, errlen)) == 0 &&
	    (r = write_block0(&d, zero, err, errlen)) == 0 &&
	    (r = result_writer_new(recipient, signer, meta, 0, disk_sink, &d, &t.w, err, errlen)) ==
		    0 &&
	    (r = tar_stage(&t, stage_dir)) == 0 &&
	    (r = result_writer_finish(t.w, eventlog, ev, ev_ctx, err, errlen)) == 0 &&
	    (r = commit(&d, t.w, err, errlen)) == 0)
		*bytes = d.pos;
	if (r == -ENOSPC && err && strncmp(err, "E_OUTPUT_FULL", 13))
		set_error(err, errlen, r, "E_OUTPUT_FULL: the output disk is full");
	result_writer_free(t.w);
	if (d.fd >= 0)
		close(d.fd);
	return r;
}
