/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The workload volume inside the guest: the LUKS2 header area is read once
 * into memory, checked against the allow-list, measured, and that copy (a
 * memfd, never the disk again) is what libcryptsetup unlocks with, as a
 * detached header. What was checked is what is used: no check-then-open race.
 */
#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>
#include <sys/ioctl.h>

#include "agent/agent.h"
#include "lib/lib.h"

static void cs_log(int level, const char *msg, void *usrptr)
{
	(void)level;
	(void)msg;
	(void)usrptr; /* libcryptsetup's chatter stays out of the host's sight */
}

static int device_size(int fd, uint64_t *size)
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

int volume_open(const char *device, const struct luks2_allow *allow, struct volume *v, char *err,
		size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t want, got = 0;
	char path[64];
	int fd, r;

	memset(v, 0, sizeof(*v));
	v->memfd = -1;
	fd = open(device, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_error(err, errlen, -errno, "E_VOLUME_OPEN: %s: %s", device,
				 strerror(errno));
	r = device_size(fd, &v->size);
	if (r < 0) {
		close(fd);
		return set_error(err, errlen, r, "E_VOLUME_OPEN: %s: %s", device, strerror(-r));
	}
	/* One read of everything a header may span, bounded; the disk is not read again. */
	want = v->size < allow->max_header_area ? (size_t)v->size : (size_t)allow->max_header_area;
	buf = malloc(want ? want : 1);
	while (buf && got < want) {
		ssize_t n = pread(fd, buf + got, want - got, (off_t)got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	r = luks2_header_validate(buf, got, v->size, allow, &v->hdr, err, errlen);
	if (r < 0)
		return r;
	v->memfd = memfd_create("cvm-luks-header", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (v->memfd < 0 ||
	    write(v->memfd, buf, v->hdr.data_offset) != (ssize_t)v->hdr.data_offset ||
	    fcntl(v->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) <
		    0) {
		r = -errno;
		volume_close(v);
		return set_error(err, errlen, r, "E_VOLUME_OPEN: cannot keep the header in memory");
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", v->memfd);
	snprintf(v->header_path, sizeof(v->header_path), "%s", path);
	snprintf(v->device, sizeof(v->device), "%s", device);
	return 0;
}

/*
 * Unlocks with the in-memory header: name NULL only checks the key (no
 * device-mapper needed); otherwise dm-crypt is activated as name.
 */
int volume_unlock(struct volume *v, const char *name, const uint8_t *pass, size_t n, char *err,
		  size_t errlen)
{
	struct crypt_device *cd = NULL;
	int r;

	crypt_set_log_callback(NULL, cs_log, NULL);
	r = crypt_init_data_device(&cd, v->header_path, v->device);
	if (r == 0)
		r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r < 0) {
		crypt_free(cd);
		return set_error(err, errlen, -EBADMSG,
				 "E_VOLUME_LOAD: libcryptsetup refused the header");
	}
	r = crypt_activate_by_passphrase(cd, name, 0, (const char *)pass, n,
					 name ? CRYPT_ACTIVATE_READONLY : 0);
	crypt_free(cd);
	if (r == -EPERM)
		return set_error(err, errlen, -EACCES,
				 "E_KEY: the released key does not open the volume");
	if (r < 0)
		return set_error(err, errlen, r, "E_VOLUME_ACTIVATE: %s", strerror(-r));
	return 0;
}

void volume_close(struct volume *v)
{
	if (v->memfd >= 0)
		close(v->memfd);
	v->memfd = -1;
}
