/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing the result: a deterministic tar of the staging directory
 * (libarchive), streamed through the sealing writer straight onto the
 * output disk, whose commit record is written and flushed last. A crash at
 * any point leaves either no commit record or the previous state of block 0
 * zeroed: never something that looks complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "agent/result.h"

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

struct disk {
	int fd;
	uint64_t pos, size; /* bytes of bundle written; room for the bundle */
	EVP_MD_CTX *sha;
};

static int disk_sink(void *ctx, const void *p, size_t n)
{
	struct disk *d = ctx;
	const uint8_t *b = p;

	if (n > d->size - d->pos)
		return -ENOSPC;
	if (EVP_DigestUpdate(d->sha, p, n) != 1)
		return -EIO;
	while (n) {
		ssize_t w = pwrite(d->fd, b, n, (off_t)(OUTDISK_BUNDLE_OFFSET + d->pos));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		b += w;
		n -= (size_t)w;
		d->pos += (uint64_t)w;
	}
	return 0;
}

struct tar {
	struct result_writer *w;
	uint64_t total, max;
	char *err;
	size_t errlen;
	int failed; /* the first error, for archive callbacks that can only say -1 */
};

static la_ssize_t tar_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct tar *t = ctx;
	int r;

	(void)a;
	if (n > t->max - t->total) {
		t->failed = set_error(t->err, t->errlen, -EFBIG,
				      "E_OUTPUT_TOO_LARGE: the output exceeds %llu bytes",
				      (unsigned long long)t->max);
		return -1;
	}
	if ((r = result_writer_write(t->w, buf, n, t->err, t->errlen)) < 0) {
		t->failed = r;
		return -1;
	}
	t->total += n;
	return (la_ssize_t)n;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int add_file(struct archive *a, struct archive_entry *e, int fd, const struct stat *st)
{
	uint8_t buf[65536];
	ssize_t n;

	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, st->st_mode & 0111 ? 0755 : 0644);
	archive_entry_set_size(e, st->st_size);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		return -EIO;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(a, buf, (size_t)n) != n)
			return -EIO;
	OPENSSL_cleanse(buf, sizeof(buf));
	return n < 0 ? -errno : 0;
}

/* Adds dirfd's entries under prefix, sorted, recursively; no link is followed. */
static int add_dir(struct archive *a, int dirfd, const char *prefix, int depth)
{
	struct dirent **names = NULL;
	int n, r = 0;
	DIR *d;

	if (depth > 64)
		return -ELOOP;
	if (!(d = fdopendir(dirfd))) {
		r = -errno;
		close(dirfd);
		return r;
	}
	n = scandirat(dirfd, ".", &names, NULL, by_name);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char path[4096];
		struct stat st;
		struct archive_entry *e;
		int fd;

		if (r < 0 || !strcmp(name, ".") || !strcmp(name, "..") ||
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) ||
		    snprintf(path, sizeof(path), "%s%s", prefix, name) >= (int)sizeof(path) - 1)
			continue; /* links, devices, fifos and sockets are not part of a result */
		fd = openat(dirfd, name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				    (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
		if (fd < 0 || !(e = archive_entry_new())) {
			r = fd < 0 ? -errno : -ENOMEM;
			if (fd >= 0)
				close(fd);
			continue;
		}
		archive_entry_set_pathname(e, path);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_mtime(e, 0, 0);
		if (S_ISDIR(st.st_mode)) {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			strcat(path, "/");
			r = archive_write_header(a, e) == ARCHIVE_OK
				    ? add_dir(a, fd, path, depth + 1)
				    : -EIO;
		} else {
			r = add_file(a, e, fd, &st);
			close(fd);
		}
		archive_entry_free(e);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return n < 0 ? -errno : r;
}

static int tar_stage(struct tar *t, const char *stage_dir)
{
	struct archive *a = archive_write_new();
	int fd = open(stage_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = -ENOMEM;

	if (!a || fd < 0) {
		r = fd < 0 ? -errno : r;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 512) != ARCHIVE_OK ||
	    archive_write_open2(a, t, NULL, tar_write, NULL, NULL) != ARCHIVE_OK) {
		close(fd);
		r = -EIO;
		goto out;
	}
	r = add_dir(a, fd, "", 0);
	if (archive_write_close(a) != ARCHIVE_OK && r == 0)
		r = -EIO;
out:
	archive_write_free(a);
	if (t->failed)
		return t->failed;
	if (r < 0)
		return set_error(t->err, t->errlen, r, "E_OUTPUT_TAR: %s", strerror(-r));
	return 0;
}

static int flush(int fd, char *err, size_t errlen)
{
	if (fdatasync(fd) < 0)
		return set_error(err, errlen, -errno, "E_OUTPUT_FLUSH: %s", strerror(errno));
	return 0;
}

int result_write(const char *device, const char *stage_dir, const uint8_t recipient[33],
		 const struct result_key *signer, const struct result_meta *meta,
		 result_evidence_fn ev, void *ev_ctx, const char *eventlog, uint64_t max_plaintext,
		 uint64_t *bytes, char *err, size_t errlen)
{
	struct disk d = { .sha = EVP_MD_CTX_new() };
	struct tar t = { .max = max_plaintext, .err = err, .errlen = errlen };
	struct outdisk_commit c = { .offset = OUTDISK_BUNDLE_OFFSET };
	uint8_t block[OUTDISK_BLOCK] = { 0 };
	off_t end;
	int r;

	d.fd = open(device, O_RDWR | O_CLOEXEC);
	if (d.fd < 0 || !d.sha || EVP_DigestInit_ex(d.sha, EVP_sha256(), NULL) != 1) {
		r = set_error(err, errlen, d.fd < 0 ? -errno : -ENOMEM, "E_OUTPUT_OPEN: %s: %s",
			      device, strerror(errno));
		goto out;
	}
	end = lseek(d.fd, 0, SEEK_END);
	if (end < (off_t)(OUTDISK_BUNDLE_OFFSET + OUTDISK_BLOCK)) {
		r = set_error(err, errlen, -ENOSPC, "E_OUTPUT_FULL: %s is too small", device);
		goto out;
	}
	d.size = (uint64_t)end - OUTDISK_BUNDLE_OFFSET;
	/* no commit record while the bundle is being written */
	if (pwrite(d.fd, block, sizeof(block), 0) != (ssize_t)sizeof(block)) {
		r = set_error(err, errlen, -EIO, "E_OUTPUT_WRITE: %s", strerror(errno));
		goto out;
	}
	if ((r = flush(d.fd, err, errlen)) < 0 ||
	    (r = result_writer_new(recipient, signer, meta, 0, disk_sink, &d, &t.w, err, errlen)) <
		    0 ||
	    (r = tar_stage(&t, stage_dir)) < 0 ||
	    (r = result_writer_finish(t.w, eventlog, ev, ev_ctx, err, errlen)) < 0)
		goto out;
	if (r == 0 && d.pos == 0)
		r = set_error(err, errlen, -EIO, "E_OUTPUT_WRITE: nothing written");
	if (r < 0 || (r = flush(d.fd, err, errlen)) < 0)
		goto out;
	c.length = d.pos;
	EVP_DigestFinal_ex(d.sha, c.sha256, NULL);
	outdisk_commit_encode(&c, block);
	if (pwrite(d.fd, block, sizeof(block), 0) != (ssize_t)sizeof(block)) {
		r = set_error(err, errlen, -EIO, "E_OUTPUT_WRITE: commit record: %s",
			      strerror(errno));
		goto out;
	}
	r = flush(d.fd, err, errlen);
	*bytes = d.pos;
out:
	if (r == -ENOSPC && err && !strstr(err, "E_OUTPUT_FULL"))
		set_error(err, errlen, r, "E_OUTPUT_FULL: the output disk is full");
	result_writer_free(t.w);
	EVP_MD_CTX_free(d.sha);
	if (d.fd >= 0)
		close(d.fd);
	return r;
}
