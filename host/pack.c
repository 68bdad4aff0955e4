/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm pack: a workload directory into one volume the host may hold but not
 * read or change: an ext4 image of the directory (deterministic: fixed UUID
 * and hash seed, times clamped to --source-date-epoch), a dm-verity hash
 * tree after it, both encrypted in a LUKS2 volume (aes-xts-plain64, 512-bit
 * key, 4096-byte sectors, one PBKDF2 keyslot at minimum cost, no tokens).
 * No root, no device-mapper: libcryptsetup writes the LUKS2 header and the
 * verity tree, and the data segment is encrypted here with AES-XTS, IVs
 * counting 512-byte sectors from the segment start (plain64), as dm-crypt
 * reads it.
 *
 * Layout of workload.img: [LUKS2 header, 1 MiB][encrypted: ext4 | verity tree]
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "host/cvm.h"
#include "host/kbs.h"
#include "lib/lib.h"

#define PACK_HEADER_SIZE (1024 * 1024) /* LUKS2 metadata (2 x 16 KiB) and keyslots */
#define PACK_METADATA_SIZE (16 * 1024)
#define PACK_MAX_BYTES (1ULL << 50) /* a workload tree larger than 1 PiB is refused */
#define PACK_BLOCK 4096
/* Fixed, so that the same directory gives the same filesystem (RFC 4122 v4 layout). */
#define PACK_FS_UUID "6cf6c0a4-5d2e-4b8e-9a51-3b1f0c1d2e3f"

static void usage(FILE *f)
{
	fputs("Usage: cvm pack DIR -o WORKLOAD.img --key-out VOLUME.key [options]\n"
	      "\n"
	      "Packs DIR into a read-only ext4 image with a dm-verity hash tree, both\n"
	      "encrypted in LUKS2 (aes-xts-plain64, 512-bit key, 4096-byte sectors, one\n"
	      "PBKDF2 keyslot, no tokens). VOLUME.key (JSON, mode 0600) holds the volume\n"
	      "key, the verity root hash and salt, the LUKS header's SHA-256 and the sizes:\n"
	      "what the customer gives the key broker. The header's SHA-256 is printed.\n"
	      "\n"
	      "  -o, --output FILE           the volume\n"
	      "  --key-out FILE              the key file\n"
	      "  --label NAME                the LUKS2 and ext4 label (default cvm-workload)\n"
	      "  --source-date-epoch SECS    file and filesystem times (default\n"
	      "                              $SOURCE_DATE_EPOCH, else 0)\n"
	      "\n"
	      "Exit status: 0 packed, 2 usage or I/O error (nothing left behind).\n",
	      f);
}

/* Runs argv with extra environment entries; 0 when it exits 0. quiet: its stderr too is dropped. */
static int run(char *const argv[], char *const env[], bool quiet)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		for (size_t i = 0; env && env[i]; i++)
			putenv(env[i]);
		if (!freopen("/dev/null", "w", stdout) ||
		    (quiet && !freopen("/dev/null", "w", stderr)))
			_exit(127);
		execvp(argv[0], argv);
		/* mke2fs and debugfs live in sbin, which a user's PATH may lack */
		for (const char *const *d = (const char *const[]){ "/usr/sbin/", "/sbin/", NULL };
		     *d; d++) {
			char path[256];

			snprintf(path, sizeof(path), "%s%s", *d, argv[0]);
			execv(path, argv);
		}
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static uint64_t walk_bytes, walk_inodes;
static struct timespec walk_time[2];

static int size_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	/* checked, and bounded so that the image size computed from them cannot wrap */
	if (__builtin_add_overflow(
		    walk_bytes, ((uint64_t)st->st_size + PACK_BLOCK - 1) / PACK_BLOCK * PACK_BLOCK,
		    &walk_bytes) ||
	    ++walk_inodes > PACK_MAX_BYTES / 512 || walk_bytes > PACK_MAX_BYTES) {
		errno = EFBIG;
		return -1;
	}
	return 0;
}

static FILE *walk_cmds;
static size_t walk_root;
static long long walk_epoch;

/*
 * Atime and mtime are set here; ctime cannot be, so debugfs sets it in the
 * image afterwards (one command per entry, in a file it reads).
 */
static int clamp_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + walk_root;

	(void)st;
	(void)type;
	(void)ftw;
	if (strpbrk(rel, "\"\\\n")) {
		log_error("%s: names with quotes, backslashes or newlines are not supported", rel);
		errno = EINVAL;
		return -1;
	}
	fprintf(walk_cmds, "sif \"%s\" ctime %lld\nsif \"%s\" ctime_extra 0\n", *rel ? rel : "/",
		walk_epoch, *rel ? rel : "/");
	return utimensat(AT_FDCWD, path, walk_time, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
}

/* ext4 of DIR, without a journal (it is mounted read-only), deterministic. */
static int make_fs(const char *dir, const char *stage, const char *img, const char *label,
		   long long epoch, uint64_t *bytes)
{
	char size[32], inodes[32], fake[64], opts[160], cmds[4300];
	char *cp[] = { "cp", "-a", "--", (char *)dir, (char *)stage, NULL };
	char *mk[] = { "mke2fs",
		       "-q",
		       "-F",
		       "-t",
		       "ext4",
		       "-b",
		       "4096",
		       "-m",
		       "0",
		       "-O",
		       "^has_journal,^resize_inode",
		       "-U",
		       PACK_FS_UUID,
		       "-E",
		       opts,
		       "-N",
		       inodes,
		       "-L",
		       (char *)label,
		       "-d",
		       (char *)stage,
		       (char *)img,
		       size,
		       NULL };
	char *env[] = { fake, NULL };
	char *dbg[] = { "debugfs", "-w", "-f", cmds, (char *)img, NULL };
	uint64_t blocks;
	int r;

	walk_bytes = walk_inodes = 0;
	if (nftw(dir, size_one, 32, FTW_PHYS) < 0)
		return log_error_errno(-errno, "%s", dir);
	r = run(cp, NULL, false);
	if (r < 0)
		return log_error("cannot copy %s", dir), r;
	walk_time[0] = walk_time[1] = (struct timespec){ .tv_sec = epoch };
	walk_root = strlen(stage);
	walk_epoch = epoch;
	snprintf(cmds, sizeof(cmds), "%s.debugfs", stage);
	walk_cmds = fopen(cmds, "we");
	if (!walk_cmds)
		return log_error_errno(-errno, "%s", cmds);
	r = nftw(stage, clamp_one, 32, FTW_PHYS | FTW_DEPTH);
	if (fclose(walk_cmds) != 0 || r != 0)
		return log_error("%s: cannot set times", dir), -EIO;
	/* data, inode tables (256 bytes each) and ext4's own metadata, with room to spare */
	blocks = (walk_bytes + walk_inodes * 512) / PACK_BLOCK * 5 / 4 + 2048;
	snprintf(size, sizeof(size), "%llu", (unsigned long long)blocks);
	snprintf(inodes, sizeof(inodes), "%llu", (unsigned long long)(walk_inodes + 64));
	snprintf(fake, sizeof(fake), "E2FSPROGS_FAKE_TIME=%lld", epoch);
	snprintf(opts, sizeof(opts), "hash_seed=%s,root_owner=0:0,lazy_itable_init=0,nodiscard",
		 PACK_FS_UUID);
	r = run(mk, env, false);
	if (r < 0)
		return log_error("mke2fs failed on %s", dir), r;
	r = run(dbg, NULL, true);
	if (r < 0)
		return log_error("debugfs failed on the image of %s", dir), r;
	*bytes = blocks * PACK_BLOCK;
	return 0;
}

/* Encrypts len bytes of in (from payload offset 0) into out at its data offset. */
static int xts_encrypt_file(const char *in, const char *out, uint64_t len, const uint8_t key[64])
{
	_cleanup_free_ uint8_t *buf = malloc(1 << 20), *ct = malloc(1 << 20);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int fi = open(in, O_RDONLY | O_CLOEXEC), fo = open(out, O_WRONLY | O_CLOEXEC);
	uint64_t off = 0;
	int r = 0;

	if (!buf || !ct || !c || fi < 0 || fo < 0)
		r = -EIO;
	while (r == 0 && off < len) {
		size_t n = len - off < (1 << 20) ? (size_t)(len - off) : (1 << 20);
		ssize_t got = pread(fi, buf, n, (off_t)off);

		if (got != (ssize_t)n) {
			r = -EIO;
			break;
		}
		for (size_t s = 0; s < n && r == 0; s += PACK_BLOCK) {
			uint8_t iv[16] = { 0 };
			int l1 = 0, l2 = 0;

			put_le(iv, (off + s) / 512, 8); /* plain64: 512-byte sector number */
			if (EVP_EncryptInit_ex(c, EVP_aes_256_xts(), NULL, key, iv) != 1 ||
			    EVP_EncryptUpdate(c, ct + s, &l1, buf + s, PACK_BLOCK) != 1 ||
			    EVP_EncryptFinal_ex(c, ct + s + l1, &l2) != 1)
				r = -EIO;
		}
		if (r == 0 && pwrite(fo, ct, n, (off_t)(PACK_HEADER_SIZE + off)) != (ssize_t)n)
			r = -EIO;
		off += n;
	}
	if (r == 0 && fsync(fo) < 0)
		r = -errno;
	if (buf)
		OPENSSL_cleanse(buf, 1 << 20);
	EVP_CIPHER_CTX_free(c);
	if (fi >= 0)
		close(fi);
	if (fo >= 0)
		close(fo);
	return r;
}

/* libcryptsetup's errors become ours; its notes (a small keyslots area, as chosen) do not. */
static void cs_log(int level, const char *msg, void *usrptr)
{
	(void)usrptr;
	if (level == CRYPT_LOG_ERROR)
		log_error("libcryptsetup: %.*s", (int)strcspn(msg, "\n"), msg);
}

int pack_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "key-out", required_argument, NULL, 'k' },
		{ "label", required_argument, NULL, 'l' },
		{ "source-date-epoch", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *out = NULL, *keyout = NULL, *label = "cvm-workload", *dir;
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	long long epoch = 0;
	char tmp[4096], stage[4200], fs[4200], hash[4200], part[4200], err[256];
	uint8_t mk[64], pass[32], salt[32], root[64], hdr_digest[32];
	size_t root_len = sizeof(root);
	uint64_t fs_bytes = 0, hash_bytes, payload;
	struct crypt_device *cd = NULL;
	struct stat st;
	int c, r, rc = EXIT_USAGE;

	crypt_set_log_callback(NULL, cs_log, NULL);
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'k':
			keyout = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'e':
			sde = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			log_error("see 'cvm pack --help'");
			return EXIT_USAGE;
		}
	}
	if (sde) {
		char *end;

		errno = 0;
		epoch = strtoll(sde, &end, 10);
		if (errno || *end || !*sde || *sde == '-' || epoch > 0xffffffffll) {
			log_error("source date epoch '%.32s': seconds since 1970 (0 to 2^32-1)",
				  sde);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || !out || !keyout) {
		log_error("needs DIR, -o WORKLOAD.img and --key-out VOLUME.key; see 'cvm pack "
			  "--help'");
		return EXIT_USAGE;
	}
	dir = argv[optind];
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("%s: not a directory", dir);
		return EXIT_USAGE;
	}
	if (strlen(label) > 16 || !*label) {
		log_error("--label: 1 to 16 characters (the ext4 label's limit)");
		return EXIT_USAGE;
	}
	snprintf(tmp, sizeof(tmp), "%s.pack.XXXXXX", out);
	if (!mkdtemp(tmp)) {
		log_error_errno(-errno, "%s", tmp);
		return EXIT_USAGE;
	}
	snprintf(stage, sizeof(stage), "%s/stage", tmp);
	snprintf(fs, sizeof(fs), "%s/fs.img", tmp);
	snprintf(hash, sizeof(hash), "%s/verity.img", tmp);
	snprintf(part, sizeof(part), "%s/workload.img", tmp);
	if (make_fs(dir, stage, fs, label, epoch, &fs_bytes) < 0)
		goto out;

	/* dm-verity over the filesystem; the salt follows from the content, so the tree does too */
	{
		struct crypt_params_verity vp = {
			.hash_name = "sha256",
			.data_device = fs,
			.salt = (const char *)salt,
			.salt_size = sizeof(salt),
			.hash_type = 1,
			.data_block_size = PACK_BLOCK,
			.hash_block_size = PACK_BLOCK,
			.data_size = fs_bytes / PACK_BLOCK,
			.flags = CRYPT_VERITY_NO_HEADER | CRYPT_VERITY_CREATE_HASH,
		};
		size_t n;

		if (file_digest(fs, "SHA256", salt, sizeof(salt), &n) < 0)
			goto io;
		/* the tree: at most 1/127 of the data per level, 4 levels are plenty */
		hash_bytes = (fs_bytes / PACK_BLOCK / 128 + 8) * PACK_BLOCK * 2;
		if (truncate(hash, 0) < 0 && errno != ENOENT)
			goto io;
		r = open(hash, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (r < 0 || ftruncate(r, (off_t)hash_bytes) < 0)
			goto io;
		close(r);
		if (crypt_init_data_device(&cd, hash, fs) < 0 ||
		    crypt_format(cd, CRYPT_VERITY, NULL, NULL, NULL, NULL, 0, &vp) < 0 ||
		    crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *)root, &root_len, NULL, 0) <
			    0 ||
		    root_len != 32) {
			log_error("dm-verity format failed");
			goto out;
		}
		crypt_free(cd);
		cd = NULL;
	}
	payload = fs_bytes + hash_bytes;

	/* LUKS2 header and keyslot on the volume file */
	r = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (r < 0 || ftruncate(r, (off_t)(PACK_HEADER_SIZE + payload)) < 0)
		goto io;
	close(r);
	if (RAND_bytes(mk, sizeof(mk)) != 1 || RAND_bytes(pass, sizeof(pass)) != 1)
		goto io;
	{
		struct crypt_pbkdf_type pbkdf = {
			.type = CRYPT_KDF_PBKDF2,
			.hash = "sha256",
			.iterations =
				1000, /* libcryptsetup's minimum: the passphrase is a 256-bit key */
			.flags = CRYPT_PBKDF_NO_BENCHMARK,
		};
		struct crypt_params_luks2 lp = {
			.pbkdf = &pbkdf,
			.sector_size = PACK_BLOCK,
			.label = label,
		};

		if (crypt_init(&cd, part) < 0 ||
		    crypt_set_metadata_size(cd, PACK_METADATA_SIZE,
					    PACK_HEADER_SIZE - 2 * PACK_METADATA_SIZE) < 0 ||
		    crypt_set_data_offset(cd, PACK_HEADER_SIZE / 512) < 0 ||
		    crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL, (const char *)mk,
				 sizeof(mk), &lp) < 0 ||
		    crypt_set_pbkdf_type(cd, &pbkdf) < 0 ||
		    crypt_keyslot_add_by_volume_key(cd, 0, (const char *)mk, sizeof(mk),
						    (const char *)pass, sizeof(pass)) != 0) {
			log_error("LUKS2 format failed");
			goto out;
		}
		crypt_free(cd);
		cd = NULL;
	}
	/* the payload: filesystem then tree, encrypted as dm-crypt will read it */
	{
		char both[4300];
		int fd_out, fd_in;
		_cleanup_free_ uint8_t *b = malloc(1 << 20);
		uint64_t off = 0;

		snprintf(both, sizeof(both), "%s/payload.img", tmp);
		fd_out = open(both, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd_out < 0 || !b)
			goto io;
		for (int i = 0; i < 2; i++) {
			uint64_t want = i ? hash_bytes : fs_bytes, done = 0;

			fd_in = open(i ? hash : fs, O_RDONLY | O_CLOEXEC);
			while (fd_in >= 0 && done < want) {
				ssize_t n = read(fd_in, b, 1 << 20);

				if (n <= 0)
					break;
				if ((uint64_t)n > want - done)
					n = (ssize_t)(want - done);
				if (pwrite(fd_out, b, (size_t)n, (off_t)off) != n)
					break;
				off += (uint64_t)n;
				done += (uint64_t)n;
			}
			if (fd_in >= 0)
				close(fd_in);
			if (done < want && ftruncate(fd_out, (off_t)(off + want - done)) == 0)
				off += want - done; /* a short tree file: zeros, as written */
		}
		close(fd_out);
		if (off != payload || xts_encrypt_file(both, part, payload, mk) < 0)
			goto io;
		unlink(both);
	}
	OPENSSL_cleanse(mk, sizeof(mk));
	/* the header area's digest: what the guest measures and the policy may require */
	{
		_cleanup_free_ uint8_t *h = malloc(PACK_HEADER_SIZE);
		int fd = open(part, O_RDONLY | O_CLOEXEC);
		unsigned n = 0;

		if (!h || fd < 0 || pread(fd, h, PACK_HEADER_SIZE, 0) != PACK_HEADER_SIZE ||
		    EVP_Digest(h, PACK_HEADER_SIZE, hdr_digest, &n, EVP_sha256(), NULL) != 1) {
			if (fd >= 0)
				close(fd);
			goto io;
		}
		close(fd);
	}
	/* volume.key, then the volume in place */
	{
		_cleanup_(cJSON_Deletep) cJSON *k = cJSON_CreateObject();
		cJSON *v;
		char *text;

		cJSON_AddNumberToObject(k, "version", 1);
		json_add_hex(k, "volume_key", pass, sizeof(pass));
		json_add_hex(k, "luks_header_sha256", hdr_digest, 32);
		cJSON_AddNumberToObject(k, "header_size", PACK_HEADER_SIZE);
		cJSON_AddNumberToObject(k, "payload_size", (double)payload);
		cJSON_AddStringToObject(k, "label", label);
		v = cJSON_AddObjectToObject(k, "verity");
		json_add_hex(v, "root_hash", root, 32);
		json_add_hex(v, "salt", salt, sizeof(salt));
		cJSON_AddStringToObject(v, "hash_algorithm", "sha256");
		cJSON_AddNumberToObject(v, "data_block_size", PACK_BLOCK);
		cJSON_AddNumberToObject(v, "hash_block_size", PACK_BLOCK);
		cJSON_AddNumberToObject(v, "data_blocks", (double)(fs_bytes / PACK_BLOCK));
		cJSON_AddNumberToObject(v, "hash_offset", (double)fs_bytes);
		text = cJSON_Print(k);
		r = text ? file_write_atomic(keyout, text, strlen(text), err, sizeof(err))
			 : -ENOMEM;
		if (text) {
			OPENSSL_cleanse(text, strlen(text));
			free(text);
		}
		OPENSSL_cleanse(pass, sizeof(pass));
		if (r < 0) {
			log_error("%s", err);
			goto out;
		}
	}
	if (rename(part, out) < 0) {
		log_error_errno(-errno, "%s", out);
		goto out;
	}
	{
		char hex[65];

		hex_encode(hdr_digest, 32, hex);
		printf("luks_header_sha256 %s\n", hex);
	}
	rc = EXIT_OK;
	goto out;
io:
	log_error("%s: %s", tmp, strerror(errno ? errno : EIO));
out:
	OPENSSL_cleanse(mk, sizeof(mk));
	OPENSSL_cleanse(pass, sizeof(pass));
	crypt_free(cd);
	{
		char *rm[] = { "rm", "-rf", "--", tmp, NULL };

		run(rm, NULL, false);
	}
	return rc;
}
