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
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>
#include <sys/ioctl.h>

#include <openssl/crypto.h>

#include "agent/agent.h"
#include "lib/lib.h"

static void cs_log(int level, const char *msg, void *usrptr)
{
	(void)level;
	(void)msg;
	(void)usrptr; /* libcryptsetup's chatter stays out of the host's sight */
}

/* Reads [*got, want) of fd into buf: 0 at the end of the device too, or -errno. */
static int read_upto(int fd, uint8_t *buf, size_t want, size_t *got)
{
	while (*got < want) {
		ssize_t n = pread(fd, buf + *got, want - *got, (off_t)*got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/*
 * What is read first: both metadata copies of cvm pack's header, which say
 * how far the header area goes (docs/volume.md); the keyslots are read next.
 */
#define VOLUME_FIRST_READ (32 * 1024)

int volume_open(const char *device, const struct luks2_allow *allow, struct volume *v, char *err,
		size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t want, first, got = 0;
	char path[64];
	int fd, r, rd;

	memset(v, 0, sizeof(*v));
	v->memfd = -1;
	fd = open(device, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_error(err, errlen, -errno, "E_VOLUME_OPEN: %s: %s", device,
				 strerror(errno));
	r = fd_size(fd, &v->size);
	if (r < 0) {
		close(fd);
		return set_error(err, errlen, r, "E_VOLUME_OPEN: %s: %s", device, strerror(-r));
	}
	/*
	 * Everything a header may span, bounded, in at most two reads: its two
	 * metadata copies, then the rest of the area they describe (all that
	 * may be, when they do not fit the first read); the disk is not read
	 * again after.
	 */
	want = v->size < allow->max_header_area ? (size_t)v->size : (size_t)allow->max_header_area;
	first = want < VOLUME_FIRST_READ ? want : VOLUME_FIRST_READ;
	buf = malloc(want ? want : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	v->read_ms = mono_ms();
	rd = read_upto(fd, buf, first, &got);
	v->read_ms = mono_ms() - v->read_ms;
	r = rd < 0 ? rd : luks2_header_validate(buf, got, v->size, allow, &v->hdr, err, errlen);
	if (r == -ENODATA && got == first && first < want) {
		const uint64_t need = v->hdr.data_offset;
		int64_t t = mono_ms();

		rd = read_upto(fd, buf, need > got && need <= want ? (size_t)need : want, &got);
		v->read_ms += mono_ms() - t;
		r = rd < 0 ? rd
			   : luks2_header_validate(buf, got, v->size, allow, &v->hdr, err, errlen);
	}
	close(fd);
	/* a read error is the disk's, not a short header's: named as such */
	if (rd < 0)
		return set_error(err, errlen, rd, "E_VOLUME_OPEN: %s: read: %s", device,
				 strerror(-rd));
	if (r < 0)
		return r;
	v->memfd = memfd_create("cvm-luks-header", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (v->memfd < 0 || fd_write_all(v->memfd, buf, v->hdr.data_offset) < 0 ||
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

int volume_key_parse(const char *text, size_t len, struct volume_key *k, char *err, size_t errlen)
{
	/* parsed here first: *k gets a key only once all of it is valid */
	struct volume_key key = { 0 };
	CLEANUP_ERASE(key);
	/* the tree holds the key's hex: wiped before it is freed */
	_cleanup_(json_delete_wipedp) cJSON *j = NULL;
	const cJSON *v;
	uint64_t ver = 0, dbs = 0, hbs = 0, bytes;
	const char *alg;

	memset(k, 0, sizeof(*k));
	if (json_parse(text, len, &j) < 0 || !cJSON_IsObject(j))
		return set_error(err, errlen, -EBADMSG, "E_VOLUME_KEY: not a JSON object");
	v = cJSON_GetObjectItemCaseSensitive(j, "verity");
	if (json_get_u64(j, "version", &ver) < 0 || ver != 1 ||
	    json_get_hex(j, "volume_key", key.pass, sizeof(key.pass)) < 0 ||
	    json_get_hex(j, "luks_header_sha256", key.header_sha256, 32) < 0 ||
	    !cJSON_IsObject(v) || json_get_hex(v, "root_hash", key.root_hash, 32) < 0 ||
	    json_get_hex(v, "salt", key.salt, 32) < 0 ||
	    json_get_string(v, "hash_algorithm", &alg) < 0 || strcmp(alg, "sha256") ||
	    json_get_u64(v, "data_block_size", &dbs) < 0 || dbs != 4096 ||
	    json_get_u64(v, "hash_block_size", &hbs) < 0 || hbs != 4096 ||
	    json_get_u64(v, "data_blocks", &key.data_blocks) < 0 || key.data_blocks == 0 ||
	    json_get_u64(v, "hash_offset", &key.hash_offset) < 0 ||
	    __builtin_mul_overflow(key.data_blocks, 4096, &bytes) || key.hash_offset != bytes)
		return set_error(err, errlen, -EBADMSG,
				 "E_VOLUME_KEY: not a volume key of version 1 (cvm pack)");
	*k = key;
	return 0;
}

/*
 * In the guest: dm-crypt from the in-memory header (read-only), dm-verity
 * over it with the released root hash, then the filesystem mounted
 * read-only, nodev, nosuid. The key's header digest must be the one
 * measured: a key released for another volume is not tried.
 */
int volume_activate(struct volume *v, const struct volume_key *k, const char *name,
		    const char *mountpoint, char *err, size_t errlen)
{
	char crypt_name[64], crypt_dev[96], verity_dev[96];
	struct crypt_params_verity vp = {
		.hash_name = "sha256",
		.salt = (const char *)k->salt,
		.salt_size = sizeof(k->salt),
		.hash_type = 1,
		.data_block_size = 4096,
		.hash_block_size = 4096,
		.data_size = k->data_blocks,
		.hash_area_offset = k->hash_offset,
		.flags = CRYPT_VERITY_NO_HEADER,
	};
	struct crypt_device *cd = NULL;
	int r;

	if (memcmp(k->header_sha256, v->hdr.sha256, 32))
		return set_error(err, errlen, -EACCES,
				 "E_KEY: the released key is for another volume header");
	snprintf(crypt_name, sizeof(crypt_name), "%s-crypt", name);
	snprintf(crypt_dev, sizeof(crypt_dev), "/dev/mapper/%s", crypt_name);
	snprintf(verity_dev, sizeof(verity_dev), "/dev/mapper/%s", name);
	r = volume_unlock(v, crypt_name, k->pass, sizeof(k->pass), err, errlen);
	if (r < 0)
		return r;
	crypt_set_log_callback(NULL, cs_log, NULL);
	/* the tree follows the filesystem on the same (decrypted) device */
	vp.data_device = crypt_dev;
	r = crypt_init(&cd, crypt_dev);
	if (r == 0)
		r = crypt_format(cd, CRYPT_VERITY, NULL, NULL, NULL, NULL, 0, &vp);
	if (r == 0)
		r = crypt_activate_by_volume_key(cd, name, (const char *)k->root_hash, 32,
						 CRYPT_ACTIVATE_READONLY);
	crypt_free(cd);
	if (r < 0)
		return set_error(err, errlen, r, "E_VERITY: %s", strerror(-r));
	if (mount(verity_dev, mountpoint, "ext4", MS_RDONLY | MS_NODEV | MS_NOSUID, "") < 0)
		return set_error(err, errlen, -errno, "E_MOUNT: %s", strerror(errno));
	return 0;
}

/*
 * Undoes volume_activate: the mount, then dm-verity, then dm-crypt, whose
 * key the kernel wipes as it removes the mapping. Each step that fails is
 * left; the caller powers off next in any case.
 */
void volume_deactivate(const char *name, const char *mountpoint)
{
	char crypt_name[64];

	umount2(mountpoint, MNT_DETACH);
	crypt_deactivate(NULL, name);
	snprintf(crypt_name, sizeof(crypt_name), "%s-crypt", name);
	crypt_deactivate(NULL, crypt_name);
}
