/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/openat2.h>

#include <openssl/crypto.h>

#include "lib/lib.h"

/*
 * A larger buffer for a file that grew while it was read: the old one may
 * hold a secret (a key from the broker's store), so it is wiped, not
 * realloc'd. -EFBIG beyond cap + 1 bytes.
 */
static int read_grow(uint8_t **buf, size_t *size, size_t n, size_t cap)
{
	size_t want = *size * 2 > cap + 1 ? cap + 1 : *size * 2;
	uint8_t *p;

	if (*size >= cap + 1)
		return -EFBIG;
	p = malloc(want);
	if (!p)
		return -ENOMEM;
	memcpy(p, *buf, n);
	OPENSSL_cleanse(*buf, *size);
	free(*buf);
	*buf = p;
	*size = want;
	return 0;
}

static int read_fd(int fd, size_t cap, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t n = 0, size;
	int r = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > cap)
		return -EFBIG;

	/*
	 * Sized by st_size, with room to see the end of the file and for the
	 * NUL. The file may grow while we read (or say 0, as /proc's do): the
	 * buffer then grows, and the cap bounds it.
	 */
	size = (size_t)st.st_size + 4096 > cap + 1 ? cap + 1 : (size_t)st.st_size + 4096;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k;

		if (n == size && (r = read_grow(&buf, &size, n, cap)) < 0)
			goto fail;
		k = read(fd, buf + n, size - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto fail;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	buf[n] = 0; /* n < size <= cap + 1 */
	*out = buf;
	*len = n;
	return 0;
fail:
	OPENSSL_cleanse(buf, size);
	free(buf);
	return r;
}

int file_read_at(const char *dir, const char *name, size_t cap, uint8_t **out, size_t *len)
{
	int dfd = AT_FDCWD, fd, r;

	if (dir) {
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
	}
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	r = fd < 0 ? -errno : 0;
	if (dir)
		close(dfd);
	if (r < 0)
		return r;
	r = read_fd(fd, cap, out, len);
	close(fd);
	return r;
}

int file_read(const char *path, size_t cap, uint8_t **out, size_t *len)
{
	return file_read_at(NULL, path, cap, out, len);
}

static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			int e = -errno;

			*p = '/';
			return e;
		}
		*p = '/';
	}
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);
	int r;

	if (n == 0 || n + 2 > sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n);
	buf[n] = '/';
	buf[n + 1] = 0;
	r = mkdirs(buf);
	if (r == 0 && chmod(path, mode) < 0)
		r = -errno;
	return r;
}

/* write(2) at the file offset when off is negative, pwrite(2) at off otherwise. */
static int write_all(int fd, const void *data, size_t n, int64_t off)
{
	const uint8_t *p = data;

	while (n) {
		ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

int buf_append(uint8_t **buf, size_t *len, const void *data, size_t n, size_t cap)
{
	uint8_t *p;

	if (*len > cap || n > cap - *len)
		return -EFBIG;
	p = realloc(*buf, *len + n + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + *len, data, n);
	*len += n;
	p[*len] = 0;
	*buf = p;
	return 0;
}

int fd_write_all(int fd, const void *data, size_t n)
{
	return write_all(fd, data, n, -1);
}

int fd_pwrite_all(int fd, const void *data, size_t n, uint64_t off)
{
	if (n > INT64_MAX || off > INT64_MAX - n)
		return -EFBIG;
	return write_all(fd, data, n, (int64_t)off);
}

int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	char tmp[4200], dir[4096];
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return set_error(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	r = mkdirs(dir);
	if (r < 0)
		return set_error(err, errlen, r, "%s: cannot make its directory: %s", path,
				 strerror(-r));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return set_error(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	r = fd_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return set_error(err, errlen, r, "%s: %s", path, strerror(-r));
	}
	/* the rename itself made durable */
	{
		char *slash = strrchr(dir, '/');

		if (slash) {
			*slash = 0;
			fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				fsync(fd);
				close(fd);
			}
		}
	}
	return 0;
}

int fd_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -ENOTBLK;
	*size = (uint64_t)st.st_size;
	return 0;
}

int out_write(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	if (strcmp(path, "-"))
		return file_write_atomic(path, data, len, err, errlen);
	if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
		if (err && errlen)
			snprintf(err, errlen, "standard output: %s", strerror(errno ? errno : EIO));
		return -EIO;
	}
	return 0;
}

int open_in_root(int dirfd, const char *path, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };

	while (*path == '/')
		path++;
	return (int)syscall(SYS_openat2, dirfd, *path ? path : ".", &how, sizeof(how));
}
