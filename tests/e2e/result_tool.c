/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The end-to-end test's customer and provider, until `cvm result` and
 * `cvm run` take their place:
 *   result_tool keygen KEY.pem              prints the compressed public key
 *   result_tool init-disk DISK --size N --order-id ID
 *   result_tool open DISK|BUNDLE --key KEY.pem -o DIR
 * `open` checks the commit record (disks), the framing and the signature,
 * writes the trailer's raw evidence to DIR.evidence and prints the
 * report_data it must bind (for `cvm verify --report-data`), decrypts into
 * memory and extracts the tar safely; it prints the header and "complete"
 * only when all of that held.
 * Exit 0 done, 1 refused, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "lib/lib.h"
#include "measurement/measurement.h"

static int keygen(const char *path)
{
	struct result_key k;
	char err[256], hex[67];

	if (result_key_generate(&k, err, sizeof(err)) < 0 ||
	    result_key_save(&k, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "result_tool: %s\n", err);
		return 1;
	}
	hex_encode(k.pub, 33, hex);
	printf("%s\n", hex);
	result_key_wipe(&k);
	return 0;
}

static int init_disk(const char *path, long long size, const char *id)
{
	uint8_t b[OUTDISK_BLOCK];
	int fd;

	if (size < 16 * 4096 || outdisk_order_encode(id, b) < 0) {
		fprintf(stderr, "result_tool: bad size or order id\n");
		return 2;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, size) < 0 ||
	    pwrite(fd, b, sizeof(b), OUTDISK_BLOCK) != sizeof(b) || fsync(fd) < 0) {
		fprintf(stderr, "result_tool: %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static int to_buf(void *ctx, const void *p, size_t n)
{
	struct buf *b = ctx;

	if (n > b->cap - b->n)
		return -EFBIG;
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

/* Regular files and directories only, no absolute path, no "..", no links. */
static int extract(const struct buf *b, const char *dir)
{
	struct archive *a = archive_read_new();
	struct archive *w = archive_write_disk_new();
	struct archive_entry *e;
	int r = 0;

	archive_read_support_format_tar(a);
	archive_write_disk_set_options(
		w, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
			   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM);
	/* names stay relative: extraction happens inside DIR */
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || chdir(dir) < 0)
		return -errno;
	if (archive_read_open_memory(a, b->p, b->n) != ARCHIVE_OK)
		r = -EBADMSG;
	while (r == 0 && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		const void *blk;
		size_t sz;
		la_int64_t off;

		if (!name || name[0] == '/' || strstr(name, "..") ||
		    (archive_entry_filetype(e) != AE_IFREG &&
		     archive_entry_filetype(e) != AE_IFDIR) ||
		    archive_entry_hardlink(e) || archive_entry_symlink(e)) {
			r = -EPERM;
			break;
		}
		if (archive_write_header(w, e) != ARCHIVE_OK) {
			r = -EIO;
			break;
		}
		while (archive_read_data_block(a, &blk, &sz, &off) == ARCHIVE_OK)
			if (archive_write_data_block(w, blk, sz, off) != ARCHIVE_OK)
				r = -EIO;
	}
	archive_write_close(w);
	archive_write_free(w);
	archive_read_free(a);
	return r;
}

static int open_bundle(const char *path, const char *keyfile, const char *dir)
{
	struct result_source src = { 0 };
	struct result_info in;
	struct result_key k;
	struct buf b = { 0 };
	char err[512] = "";
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	const cJSON *ev;
	struct kbs_evidence kev;
	enum cvm_platform plat;
	char rdhex[129], evpath[4200];

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "result_tool: %s: %s\n", path, strerror(errno));
		return 2;
	}
	/* a bundle file starts with its magic; anything else is an output disk */
	src = (struct result_source){ fd, 0, (uint64_t)st.st_size };
	{
		uint8_t m[4] = { 0 };

		if ((pread(fd, m, 4, 0) != 4 || memcmp(m, RESULT_MAGIC, 4)) &&
		    outdisk_open(fd, &src, err, sizeof(err)) < 0) {
			fprintf(stderr, "result_tool: %s\n", err);
			return 1;
		}
	}
	if (result_verify(&src, &in, err, sizeof(err)) < 0) {
		fprintf(stderr, "result_tool: %s\n", err);
		return 1;
	}
	/* the raw evidence goes beside DIR, for `cvm verify --report-data` */
	ev = cJSON_GetObjectItemCaseSensitive(in.trailer, "evidence");
	if (kbs_tee_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "tee")),
			  &plat) < 0 ||
	    kbs_evidence_parse(plat, cJSON_GetObjectItemCaseSensitive(ev, "primary"), &kev, err,
			       sizeof(err)) < 0 ||
	    snprintf(evpath, sizeof(evpath), "%s.evidence", dir) >= (int)sizeof(evpath) ||
	    file_write_atomic(evpath, kev.raw, kev.raw_len, err, sizeof(err)) < 0) {
		fprintf(stderr, "result_tool: evidence: %s\n", err);
		return 1;
	}
	kbs_evidence_free(&kev);
	hex_encode(in.report_data, 64, rdhex);
	printf("report_data %s\n", rdhex);
	if (result_key_load(keyfile, &k, err, sizeof(err)) < 0) {
		fprintf(stderr, "result_tool: %s\n", err);
		return 2;
	}
	b.cap = in.plaintext_max;
	b.p = malloc(b.cap ? b.cap : 1);
	r = b.p ? result_decrypt(&src, &in, &k, to_buf, &b, err, sizeof(err)) : -ENOMEM;
	result_key_wipe(&k);
	if (r < 0) {
		fprintf(stderr, "result_tool: %s\n", err);
		return 1;
	}
	if ((r = extract(&b, dir)) < 0) {
		fprintf(stderr, "result_tool: extracting: %s\n", strerror(-r));
		return 1;
	}
	{
		char *h = cJSON_PrintUnformatted(in.header);

		printf("%s\ncomplete\n", h);
		free(h);
	}
	free(b.p);
	result_info_free(&in);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "keygen"))
		return keygen(argv[2]);
	if (argc == 7 && !strcmp(argv[1], "init-disk") && !strcmp(argv[3], "--size") &&
	    !strcmp(argv[5], "--order-id"))
		return init_disk(argv[2], atoll(argv[4]), argv[6]);
	if (argc == 7 && !strcmp(argv[1], "open") && !strcmp(argv[3], "--key") &&
	    !strcmp(argv[5], "-o"))
		return open_bundle(argv[2], argv[4], argv[6]);
	fprintf(stderr, "usage: result_tool keygen KEY.pem | init-disk DISK --size N --order-id ID "
			"| open DISK|BUNDLE --key KEY.pem -o DIR\n");
	return 2;
}
