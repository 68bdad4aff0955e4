/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The order disk (docs/order.md): the small read-only disk on which the
 * provider's host hands the guest the order's text, as the customer signed
 * it. The host writes it; the agent reads it as hostile input: magic,
 * version, a length within the caps and the disk, nothing sized by the disk
 * before those checks. The text itself is the order parser's to judge.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lib.h"
#include "measurement/order.h"

#define E_DISK "E_ORDER_DISK: "
#define HEAD 12u
#define BLOCK 4096u
#define ORDER_DISK_MIN (64u * 1024)

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int order_disk_write(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *disk = NULL;
	size_t size;

	if (len == 0 || len > ORDER_TEXT_MAX)
		return set_error(err, errlen, -EINVAL, E_DISK "an order of %zu bytes (1 to %u)",
				 len, ORDER_TEXT_MAX);
	size = (HEAD + len + BLOCK - 1) / BLOCK * BLOCK;
	/*
	 * at least 64 KiB: the guest kernel's partition scan reads the first
	 * blocks of every disk, and reads past a smaller disk's end fail one
	 * by one (30 ms of a TCG boot)
	 */
	if (size < ORDER_DISK_MIN)
		size = ORDER_DISK_MIN;
	if (!(disk = calloc(1, size)))
		return set_error(err, errlen, -ENOMEM, E_DISK "out of memory");
	memcpy(disk, ORDER_DISK_MAGIC, 4);
	put_le32(disk + 4, ORDER_DISK_VERSION);
	put_le32(disk + 8, (uint32_t)len);
	memcpy(disk + HEAD, text, len);
	return file_write_atomic(path, disk, size, err, errlen);
}

/* Reads exactly n bytes at off (short reads and EINTR continued); -EIO at the end. */
static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = pread(fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		done += (size_t)k;
	}
	return 0;
}

static int disk_read(int fd, const char *path, char **text, size_t *len, char *err, size_t errlen);

int order_disk_read(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	*text = NULL;
	*len = 0;
	if (fd < 0)
		return set_error(err, errlen, -errno, E_DISK "%s: %s", path, strerror(errno));
	r = disk_read(fd, path, text, len, err, errlen);
	close(fd);
	return r;
}

static int disk_read(int fd, const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	uint8_t head[HEAD];
	uint64_t size = 0;
	uint32_t n;
	char *t;
	int r;

	if ((r = fd_size(fd, &size)) < 0)
		return set_error(err, errlen, r, E_DISK "%s: not a disk: %s", path, strerror(-r));
	if (size < HEAD || (r = read_at(fd, head, HEAD, 0)) < 0)
		return set_error(err, errlen, -EBADMSG, E_DISK "%s: too small or unreadable", path);
	if (memcmp(head, ORDER_DISK_MAGIC, 4))
		return set_error(err, errlen, -EBADMSG, E_DISK "no order disk (magic)");
	if (get_le32(head + 4) != ORDER_DISK_VERSION)
		return set_error(err, errlen, -EBADMSG, E_DISK "version %u, not %u",
				 get_le32(head + 4), ORDER_DISK_VERSION);
	n = get_le32(head + 8);
	if (n == 0 || n > ORDER_TEXT_MAX || n > size - HEAD)
		return set_error(err, errlen, -EBADMSG,
				 E_DISK "an order of %u bytes (1 to %u, within the disk)", n,
				 ORDER_TEXT_MAX);
	if (!(t = malloc((size_t)n + 1)))
		return set_error(err, errlen, -ENOMEM, E_DISK "out of memory");
	if ((r = read_at(fd, t, n, HEAD)) < 0) {
		free(t);
		return set_error(err, errlen, -EIO, E_DISK "%s: unreadable", path);
	}
	t[n] = 0;
	*text = t;
	*len = n;
	return 0;
}
