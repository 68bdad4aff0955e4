/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing and reading initramfs archives with libarchive: cpio "newc"
 * (SVR4 without CRC), the format the kernel unpacks (Documentation/
 * driver-api/early-userspace/buffer-format.rst). Everything that could
 * vary between builds is fixed: order (sorted names), inode numbers
 * (assigned in that order), times (one given mtime), owners and modes (as
 * listed), and the compressor's header (no name, no time).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "initrd/initrd.h"
#include "lib/lib.h"

#define MAX_ITEMS 1000000

#define fail(err, errlen, ...) set_error(err, errlen, -EIO, __VA_ARGS__)

static mode_t type_bits(const struct initrd_entry *e)
{
	switch (e->type) {
	case INITRD_DIR:
		return S_IFDIR;
	case INITRD_NOD:
		return e->dev_type == 'b' ? S_IFBLK : S_IFCHR;
	case INITRD_SLINK:
		return S_IFLNK;
	case INITRD_PIPE:
		return S_IFIFO;
	case INITRD_SOCK:
		return S_IFSOCK;
	default:
		return S_IFREG;
	}
}

static int copy_data(struct archive *a, int fd, uint64_t size, const char *src, char *err,
		     size_t errlen)
{
	uint8_t buf[1 << 16];
	uint64_t done = 0;

	while (done < size) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail(err, errlen, "%s: changed while being read", src);
		if ((uint64_t)n > size - done)
			n = (ssize_t)(size - done);
		if (archive_write_data(a, buf, (size_t)n) != n)
			return fail(err, errlen, "writing %s: %s", src, archive_error_string(a));
		done += (uint64_t)n;
	}
	return 0;
}

/* The cpio inode of each entry: hard links share their first name's; the data goes with the last. */
struct inodes {
	int64_t *ino;
	unsigned *nlink;
	bool *last;
};

static int inodes_number(const struct initrd_list *l, struct inodes *in)
{
	size_t n = l->n;

	in->ino = calloc(n ? n : 1, sizeof(*in->ino));
	in->nlink = calloc(n ? n : 1, sizeof(*in->nlink));
	in->last = calloc(n ? n : 1, sizeof(*in->last));
	if (!in->ino || !in->nlink || !in->last)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct initrd_entry *e = &l->entries[i];

		in->ino[i] = (int64_t)i + 1;
		in->nlink[i] = e->type == INITRD_DIR ? 2 : 1;
		in->last[i] = true;
		if (!e->link_group)
			continue;
		in->nlink[i] = 0;
		for (size_t j = 0; j < n; j++)
			if (l->entries[j].link_group == e->link_group) {
				if (in->nlink[i]++ == 0)
					in->ino[i] = (int64_t)j + 1;
				in->last[i] = j <= i;
			}
	}
	return 0;
}

static void inodes_free(struct inodes *in)
{
	free(in->ino);
	free(in->nlink);
	free(in->last);
}

/* A file's data: its size, and an open fd unless the list holds the data itself. */
static int entry_source(const struct initrd_entry *e, int *fd, uint64_t *size, char *err,
			size_t errlen)
{
	struct stat st;

	if (e->data) {
		*size = e->data_len;
		return 0;
	}
	*fd = open(e->source, O_RDONLY | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int r = fail(err, errlen, "line %u: %s: %s", e->line, e->source,
			     *fd < 0 ? strerror(errno) : "not a regular file");

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return r;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Entry i's header, then its data if it carries the data of its inode. */
static int write_entry(struct archive *a, const struct initrd_list *l, size_t i,
		       const struct inodes *in, int64_t mtime, char *err, size_t errlen)
{
	const struct initrd_entry *e = &l->entries[i];
	struct archive_entry *ae = archive_entry_new();
	uint64_t size = 0;
	int fd = -1, r = 0;

	if (!ae)
		return fail(err, errlen, "out of memory");
	if (e->type == INITRD_FILE && in->last[i] &&
	    (r = entry_source(e, &fd, &size, err, errlen)) < 0) {
		archive_entry_free(ae);
		return r;
	}
	/* Names without the leading slash, as gen_init_cpio writes them. */
	archive_entry_set_pathname(ae, e->name + 1);
	archive_entry_set_mode(ae, type_bits(e) | (e->mode & 07777));
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_mtime(ae, mtime, 0);
	archive_entry_set_ino64(ae, in->ino[i]);
	archive_entry_set_nlink(ae, in->nlink[i]);
	archive_entry_set_dev(ae, 0);
	if (e->type == INITRD_NOD) {
		archive_entry_set_rdevmajor(ae, e->major);
		archive_entry_set_rdevminor(ae, e->minor);
	}
	if (e->type == INITRD_SLINK)
		archive_entry_set_symlink(ae, e->source);
	archive_entry_set_size(ae, (la_int64_t)size);
	if (archive_write_header(a, ae) != ARCHIVE_OK)
		r = fail(err, errlen, "line %u: %s: %s", e->line, e->name, archive_error_string(a));
	else if (fd >= 0)
		r = copy_data(a, fd, size, e->source, err, errlen);
	else if (e->data && size && archive_write_data(a, e->data, size) != (la_ssize_t)size)
		r = fail(err, errlen, "%s: %s", e->name, archive_error_string(a));
	if (fd >= 0)
		close(fd);
	archive_entry_free(ae);
	return r;
}

static int write_entries(struct archive *a, const struct initrd_list *l, int64_t mtime, char *err,
			 size_t errlen)
{
	struct inodes in = { 0 };
	int r = 0;

	if (inodes_number(l, &in) < 0)
		r = fail(err, errlen, "out of memory");
	for (size_t i = 0; i < l->n && r == 0; i++)
		r = write_entry(a, l, i, &in, mtime, err, errlen);
	inodes_free(&in);
	return r;
}

int initrd_write(const struct initrd_list *l, const char *path, enum initrd_compression c,
		 int64_t mtime, char *err, size_t errlen)
{
	char *tmp = NULL;
	struct archive *a = NULL;
	int fd = -1, r = 0;

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return fail(err, errlen, "out of memory");
	fd = mkstemp(tmp);
	if (fd < 0) {
		r = fail(err, errlen, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return r;
	}
	fchmod(fd, 0644);
	a = archive_write_new();
	if (!a || archive_write_set_format_cpio_newc(a) != ARCHIVE_OK) {
		r = fail(err, errlen, "libarchive cannot write cpio newc");
		goto out;
	}
	/* Fixed compressors: no file name or time in the gzip header, fixed levels. */
	if (c == INITRD_GZIP &&
	    (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	     archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	     archive_write_set_filter_option(a, "gzip", "compression-level", "9") != ARCHIVE_OK))
		r = fail(err, errlen, "gzip: %s", archive_error_string(a));
	if (c == INITRD_ZSTD &&
	    (archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
	     archive_write_set_filter_option(a, "zstd", "compression-level", "9") != ARCHIVE_OK))
		r = fail(err, errlen, "zstd: %s", archive_error_string(a));
	/* No padding after the last byte: the image is exactly the archive. */
	if (r == 0 && (archive_write_set_bytes_per_block(a, 512) != ARCHIVE_OK ||
		       archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
		       archive_write_open_fd(a, fd) != ARCHIVE_OK))
		r = fail(err, errlen, "%s: %s", tmp, archive_error_string(a));
	if (r == 0)
		r = write_entries(a, l, mtime, err, errlen);
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = fail(err, errlen, "%s: %s", tmp, archive_error_string(a));
	if (r == 0 && fsync(fd) < 0)
		r = fail(err, errlen, "%s: %s", tmp, strerror(errno));
out:
	if (a)
		archive_write_free(a);
	close(fd);
	/* Nothing partial is left behind: the output appears whole or not at all. */
	if (r == 0 && rename(tmp, path) < 0)
		r = fail(err, errlen, "%s: %s", path, strerror(errno));
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

/* ---- reading ---- */

void initrd_items_free(struct initrd_items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->items[i].name);
		free(it->items[i].link);
	}
	free(it->items);
	memset(it, 0, sizeof(*it));
}

static int cmp_item(const void *a, const void *b)
{
	const struct initrd_item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->segment > y->segment) - (x->segment < y->segment);
}

static int read_all(struct archive *a, struct initrd_items *out, uint32_t segment, char *err,
		    size_t errlen)
{
	struct archive_entry *ae;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t cap = out->n;
	int r = 0, st;

	if (!md)
		return fail(err, errlen, "out of memory");
	while ((st = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		struct initrd_item *it;
		const char *name = archive_entry_pathname(ae);
		const char *link = archive_entry_symlink(ae);
		uint8_t buf[1 << 16];
		la_ssize_t n;

		if (!name || !*name || !strcmp(name, ".") || !strcmp(name, "./"))
			continue;
		if (out->n == MAX_ITEMS) {
			r = fail(err, errlen, "more than %d entries", MAX_ITEMS);
			break;
		}
		if (out->n == cap) {
			struct initrd_item *ni =
				realloc(out->items, (cap = cap ? cap * 2 : 64) * sizeof(*ni));
			/* cap starts at n, a power of two or not: grow from there. */

			if (!ni) {
				r = fail(err, errlen, "out of memory");
				break;
			}
			out->items = ni;
		}
		it = &out->items[out->n];
		memset(it, 0, sizeof(*it));
		it->segment = segment;
		if (name[0] == '.' && name[1] == '/')
			name++;
		if (asprintf(&it->name, "%s%s", name[0] == '/' ? "" : "/", name) < 0) {
			r = fail(err, errlen, "out of memory");
			break;
		}
		it->link = link ? strdup(link) : NULL;
		out->n++;
		it->mode = archive_entry_mode(ae);
		it->uid = (uid_t)archive_entry_uid(ae);
		it->gid = (gid_t)archive_entry_gid(ae);
		it->nlink = archive_entry_nlink(ae);
		it->ino = archive_entry_ino64(ae);
		it->rdev_major = archive_entry_rdevmajor(ae);
		it->rdev_minor = archive_entry_rdevminor(ae);
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
			EVP_DigestUpdate(md, buf, (size_t)n);
			it->size += (uint64_t)n;
		}
		EVP_DigestFinal_ex(md, it->sha256, NULL);
		if (n < 0) {
			r = fail(err, errlen, "%s: %s", it->name, archive_error_string(a));
			break;
		}
	}
	if (r == 0 && st != ARCHIVE_EOF)
		r = fail(err, errlen, "%s",
			 archive_error_string(a) ? archive_error_string(a) : "not a cpio archive");
	EVP_MD_CTX_free(md);
	if (r < 0) {
		initrd_items_free(out);
		return r;
	}
	return 0;
}

/*
 * Before libarchive's cpio reader sees the archive, walk its newc headers
 * (Documentation/driver-api/early-userspace/buffer-format.rst) over the
 * decompressed stream: only newc, names up to PATH_MAX, so that no buffer is
 * ever sized by a hostile header.
 */
struct stream {
	struct archive *a;
	uint8_t buf[1 << 16];
	size_t have, pos;
	bool eof;
};

static int stream_get(struct stream *s, uint8_t *out, uint64_t n)
{
	while (n > 0) {
		size_t k;

		if (s->pos == s->have) {
			la_ssize_t r;

			if (s->eof)
				return -EBADMSG;
			r = archive_read_data(s->a, s->buf, sizeof(s->buf));
			if (r < 0)
				return -EIO;
			if (r == 0) {
				s->eof = true;
				return -EBADMSG;
			}
			s->have = (size_t)r;
			s->pos = 0;
		}
		k = s->have - s->pos < n ? s->have - s->pos : (size_t)n;
		if (out) {
			memcpy(out, s->buf + s->pos, k);
			out += k;
		}
		s->pos += k;
		n -= k;
	}
	return 0;
}

static int hex8(const uint8_t *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 8; i++) {
		int d = p[i] >= '0' && p[i] <= '9'   ? p[i] - '0'
			: p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
			: p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10
						     : -1;

		if (d < 0)
			return -EBADMSG;
		*v = *v << 4 | (uint32_t)d;
	}
	return 0;
}

static int prescan(struct archive *raw, char *err, size_t errlen)
{
	struct stream *s = calloc(1, sizeof(*s));
	struct archive_entry *ae;
	uint64_t off = 0, count = 0;
	int r = 0;

	if (!s)
		return fail(err, errlen, "out of memory");
	s->a = raw;
	if (archive_read_next_header(raw, &ae) != ARCHIVE_OK) {
		free(s);
		return fail(err, errlen, "%s",
			    archive_error_string(raw) ? archive_error_string(raw) : "unreadable");
	}
	for (;;) {
		uint8_t h[110], name[4097];
		uint32_t namesize, filesize;

		/* Zero padding may follow the trailer, and another archive may follow that. */
		do {
			r = stream_get(s, h, 4);
			off += 4;
		} while (r == 0 && is_zero(h, 4));
		if (r < 0) {
			r = count ? 0 : fail(err, errlen, "empty archive");
			break;
		}
		if (stream_get(s, h + 4, 106) < 0 ||
		    (memcmp(h, "070701", 6) && memcmp(h, "070702", 6))) {
			r = fail(err, errlen, "offset %llu: not a cpio newc header",
				 (unsigned long long)(off - 4));
			break;
		}
		if (hex8(h + 54, &filesize) < 0 || hex8(h + 94, &namesize) < 0 || namesize < 2 ||
		    namesize > sizeof(name)) {
			r = fail(err, errlen, "offset %llu: bad name or file size",
				 (unsigned long long)(off - 4));
			break;
		}
		/* The name is padded so that header and name end on 4 bytes. */
		if (stream_get(s, name, namesize) < 0 ||
		    stream_get(s, NULL, (4 - (110 + namesize) % 4) % 4) < 0 || name[namesize - 1]) {
			r = fail(err, errlen, "offset %llu: name truncated",
				 (unsigned long long)(off - 4));
			break;
		}
		if (stream_get(s, NULL, filesize + (4 - filesize % 4) % 4) < 0) {
			r = fail(err, errlen, "%s: data truncated", (char *)name);
			break;
		}
		off += 106 + namesize + (4 - (110 + namesize) % 4) % 4 + filesize +
		       (4 - filesize % 4) % 4;
		if (++count > MAX_ITEMS) {
			r = fail(err, errlen, "more than %d entries", MAX_ITEMS);
			break;
		}
	}
	free(s);
	return r;
}

static struct archive *reader(void)
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	archive_read_support_filter_all(a);
	archive_read_support_format_cpio(a);
	return a;
}

static int prescan_open(const char *path, const void *buf, size_t len, char *err, size_t errlen)
{
	struct archive *raw = archive_read_new();
	int r;

	if (!raw)
		return fail(err, errlen, "out of memory");
	archive_read_support_filter_all(raw);
	archive_read_support_format_raw(raw);
	if ((path ? archive_read_open_filename(raw, path, 1 << 16)
		  : archive_read_open_memory(raw, buf, len)) != ARCHIVE_OK)
		r = fail(err, errlen, "%s", archive_error_string(raw));
	else
		r = prescan(raw, err, errlen);
	archive_read_free(raw);
	return r;
}

/* The length of one uncompressed newc archive at p, through its trailer; 0 when malformed. */
static size_t newc_length(const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (len - off >= 110 &&
	       (!memcmp(p + off, "070701", 6) || !memcmp(p + off, "070702", 6))) {
		uint32_t namesize, filesize;
		size_t namepad, datapad;

		if (hex8(p + off + 54, &filesize) < 0 || hex8(p + off + 94, &namesize) < 0 ||
		    namesize < 2 || namesize > 4097)
			return 0;
		namepad = (4 - (110 + namesize) % 4) % 4;
		datapad = (4 - filesize % 4) % 4;
		if (len - off - 110 < (size_t)namesize + namepad ||
		    len - off - 110 - namesize - namepad < (size_t)filesize + datapad)
			return 0;
		if (namesize == 11 && !memcmp(p + off + 110, "TRAILER!!!", 11))
			return off + 110 + namesize + namepad + filesize + datapad;
		off += 110 + namesize + namepad + filesize + datapad;
	}
	return 0;
}

static int read_segment(const void *buf, size_t len, struct initrd_items *out, uint32_t segment,
			char *err, size_t errlen)
{
	struct archive *a;
	int r = prescan_open(NULL, buf, len, err, errlen);

	if (r < 0)
		return r;
	a = reader();
	if (!a)
		return fail(err, errlen, "out of memory");
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK)
		r = fail(err, errlen, "%s", archive_error_string(a));
	else
		r = read_all(a, out, segment, err, errlen);
	archive_read_free(a);
	return r;
}

int initrd_read_memory(const void *buf, size_t len, struct initrd_items *out, char *err,
		       size_t errlen)
{
	const uint8_t *p = buf;
	size_t off = 0, o = 0;
	uint32_t segment = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	while (r == 0 && off < len) {
		size_t seg;

		while (off < len && p[off] == 0)
			off++;
		if (off == len)
			break;
		/* Uncompressed archives end at their trailer; what follows is another one. */
		seg = newc_length(p + off, len - off);
		if (seg == 0 || is_zero(p + off + seg, len - off - seg))
			seg = len - off;
		r = read_segment(p + off, seg, out, segment++, err, errlen);
		off += seg;
		if (segment > 64 && r == 0)
			r = fail(err, errlen, "more than 64 concatenated archives");
	}
	if (r == 0 && out->n == 0 && segment == 0)
		r = fail(err, errlen, "empty image");
	if (r < 0) {
		initrd_items_free(out);
		return r;
	}
	if (out->n > 1)
		qsort(out->items, out->n, sizeof(*out->items), cmp_item);
	/* A name in a later archive replaces the earlier one, as the kernel unpacks them. */
	for (size_t i = 0; i < out->n; i++) {
		if (o && !strcmp(out->items[o - 1].name, out->items[i].name)) {
			free(out->items[o - 1].name);
			free(out->items[o - 1].link);
			out->items[o - 1] = out->items[i];
			continue;
		}
		out->items[o++] = out->items[i];
	}
	out->n = o;
	return 0;
}

int initrd_read(const char *path, struct initrd_items *out, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r = file_read(path, 1u << 30, &buf, &len);

	if (r < 0)
		return fail(err, errlen, "%s", strerror(-r));
	return initrd_read_memory(buf, len, out, err, errlen);
}
