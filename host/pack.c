/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm pack: a workload directory into one volume the host may hold but not
 * read or change: an ext4 image of the directory (deterministic: fixed UUID
 * and hash seed, times clamped to --source-date-epoch), a dm-verity hash
 * tree after it, both encrypted in a LUKS2 volume (aes-xts-plain64, 512-bit
 * key, 4096-byte sectors, one PBKDF2 keyslot at minimum cost, no tokens).
 * No root, no device-mapper: host/verity_tree.c writes the verity tree,
 * measurement/luks2_format.c the LUKS2 header (from bytes derived here, so
 * that a --seed makes the whole volume reproducible), and the data segment
 * is encrypted here with AES-XTS, IVs counting 512-byte sectors from the
 * segment start (plain64), as dm-crypt reads it.
 *
 * Layout of workload.img: [LUKS2 header, 284 KiB][encrypted: ext4 | verity tree]
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "agent/job.h"
#include "host/cvm.h"
#include "host/kbs.h"
#include "host/oci.h"
#include "lib/lib.h"

#define PACK_METADATA_SIZE (16 * 1024)
/* one keyslot: a 512-bit key in 4000 anti-forensic stripes (256000 bytes), in 4 KiB pages */
#define PACK_KEYSLOTS_SIZE (63 * 4096)
/* LUKS2 metadata (2 x 16 KiB) and the keyslot: 284 KiB, all the agent hashes of a header */
#define PACK_HEADER_SIZE (2 * PACK_METADATA_SIZE + PACK_KEYSLOTS_SIZE)
#define PACK_MAX_BYTES (1ULL << 50) /* a workload tree larger than 1 PiB is refused */
#define PACK_BLOCK 4096
#define PACK_CHUNK (1 << 20) /* what is read, encrypted and written at a time */
/* Fixed, so that the same directory gives the same filesystem (RFC 4122 v4 layout). */
#define PACK_FS_UUID "6cf6c0a4-5d2e-4b8e-9a51-3b1f0c1d2e3f"

static void usage(FILE *f)
{
	fputs("Usage: cvm pack DIR -o WORKLOAD.img --key-out VOLUME.key [options]\n"
	      "       cvm pack --oci IMAGE -o SOLUTION.img --key-out VOLUME.key [options]\n"
	      "\n"
	      "Packs DIR into a read-only ext4 image with a dm-verity hash tree, both\n"
	      "encrypted in LUKS2 (aes-xts-plain64, 512-bit key, 4096-byte sectors, one\n"
	      "PBKDF2 keyslot, no tokens). VOLUME.key (JSON, mode 0600) holds the volume\n"
	      "key, the verity root hash and salt, the LUKS header's SHA-256 and the sizes:\n"
	      "what the owner gives the key broker. A DIR with a cvm-job.json (a solution)\n"
	      "has it checked first (docs/job.md); a refusal names the member.\n"
	      "\n"
	      "With --oci, IMAGE is a container image: an OCI image layout directory, or\n"
	      "the tarball of docker save or podman save. Its layers become the job's\n"
	      "root filesystem and its config (Entrypoint, Cmd, Env, WorkingDir, User)\n"
	      "the job's cvm-job.json, unless the image holds one (docs/job.md, rootfs).\n"
	      "\n"
	      "Printed: the volume's sha256 and size and its LUKS header's sha256 (what an\n"
	      "order names, docs/order.md), and the verity root hash of its filesystem\n"
	      "(the same files and --source-date-epoch give the same one; with the same\n"
	      "--seed too, the same volume and header digest).\n"
	      "\n"
	      "  -o, --output FILE           the volume\n"
	      "  --key-out FILE              the key file (refused if it exists, as with keygen)\n"
	      "  --oci IMAGE                 pack a container image instead of DIR\n"
	      "  --user UID[:GID]            with --oci: the job's user instead of the image's\n"
	      "                              (names of the image's /etc/passwd too; an image\n"
	      "                              that runs as root runs as 1000:1000)\n"
	      "  --seed FILE                 reproducible: the volume key, passphrase, salts and\n"
	      "                              UUID follow from FILE (32 to 4096 secret bytes,\n"
	      "                              mode 0600) and the content, so the same content\n"
	      "                              and seed give the same volume and header digest;\n"
	      "                              FILE yields the key: keep it as secret as the key\n"
	      "                              (default: a fresh seed, a new volume every pack)\n"
	      "  --label NAME                the LUKS2 and ext4 label (default cvm-workload)\n"
	      "  --source-date-epoch SECS    file and filesystem times (default\n"
	      "                              $SOURCE_DATE_EPOCH, else 0)\n"
	      "  --scratch DIR               where the filesystem image and tree are made, in a\n"
	      "                              directory of their own removed at the end (default:\n"
	      "                              /dev/shm when it is a tmpfs with room for them\n"
	      "                              within half the memory available, else beside the\n"
	      "                              output)\n"
	      "  --json                      print one JSON object instead of lines\n"
	      "\n"
	      "Exit status: 0 packed, 2 usage, I/O error or a refused manifest or image\n"
	      "(nothing left behind). SIGINT, SIGTERM or SIGHUP: what was made is removed,\n"
	      "then cvm pack ends by that signal.\n",
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
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) /* a signal to pack: the child ends its step, then pack stops */
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/*
 * SIGINT, SIGTERM or SIGHUP: noted here, then pack stops at its next step
 * (or megabyte of the volume), removes what it made, and ends by the same
 * signal. The work files hold the workload in plaintext.
 */
static volatile sig_atomic_t pack_signal;

static void pack_on_signal(int sig)
{
	pack_signal = sig;
}

static void pack_signals(void)
{
	struct sigaction sa = { .sa_handler = pack_on_signal }; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	for (const int *sig = (const int[]){ SIGINT, SIGTERM, SIGHUP, 0 }; *sig; sig++)
		sigaction(*sig, &sa, NULL);
}

/* Stopped by a signal: says so once, and is true. */
static bool pack_stopped(void)
{
	static bool said;

	if (!pack_signal)
		return false;
	if (!said)
		log_error("stopped by %s: what was made is removed", strsignal(pack_signal));
	said = true;
	return true;
}

static uint64_t walk_bytes, walk_inodes;

/*
 * The bytes of path's extended attributes (names, values, entry headers),
 * which mke2fs -d copies: past the room inside a 256-byte inode they take
 * a block of their own.
 */
static uint64_t xattr_bytes(const char *path)
{
	char names[65536];
	ssize_t n = llistxattr(path, names, sizeof(names));
	uint64_t total = 0;

	if (n < 0 && errno == ERANGE) /* more names than ext4 holds: mke2fs will say */
		return 0;
	for (ssize_t at = 0; n > 0 && at < n; at += (ssize_t)strlen(names + at) + 1) {
		ssize_t v = lgetxattr(path, names + at, NULL, 0);

		total += strlen(names + at) + 16 + (v > 0 ? (uint64_t)v : 0);
	}
	return total > 96 ? total : 0;
}

static int size_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	uint64_t bytes = ((uint64_t)st->st_size + PACK_BLOCK - 1) / PACK_BLOCK * PACK_BLOCK;

	(void)type;
	(void)ftw;
	bytes += (xattr_bytes(path) + PACK_BLOCK - 1) / PACK_BLOCK * PACK_BLOCK;
	/* checked, and bounded so that the image size computed from them cannot wrap */
	if (__builtin_add_overflow(walk_bytes, bytes, &walk_bytes) ||
	    ++walk_inodes > PACK_MAX_BYTES / 512 || walk_bytes > PACK_MAX_BYTES) {
		errno = EFBIG;
		return -1;
	}
	return 0;
}

static FILE *walk_cmds;
static size_t walk_root;
static long long walk_epoch;

/* debugfs commands: each of the entry's times is the epoch, to the nanosecond. */
static void entry_times(const char *rel)
{
	static const char *const times[] = { "atime", "mtime", "ctime", "crtime" };

	for (size_t i = 0; i < ARRAY_SIZE(times); i++)
		fprintf(walk_cmds, "sif \"%s\" %s %lld\nsif \"%s\" %s_extra 0\n", rel, times[i],
			walk_epoch, rel, times[i]);
}

/*
 * The image's times are set by debugfs after mke2fs made it from DIR (one
 * command per time of each entry, in a file it reads): DIR itself is only read.
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
	entry_times(*rel ? rel : "/");
	return 0;
}

/* CRC-32C (Castagnoli, reflected, no final inversion): ext4's metadata checksum. */
static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return crc;
}

/* One superblock copy at off: its times the epoch, its checksum redone. */
static int sb_stamp_one(int fd, off_t off, long long epoch)
{
	/* ext4 superblock (the kernel's fs/ext4/ext4.h): each time and its _hi byte */
	static const unsigned at[][2] = { { 0x30, 0x274 }, { 0x40, 0x277 }, { 0x108, 0x276 } };
	uint8_t sb[1024];

	if (pread(fd, sb, sizeof(sb), off) != (ssize_t)sizeof(sb))
		return -EIO;
	if (sb[0x38] != 0x53 || sb[0x39] != 0xef)
		return 0; /* no copy here */
	for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
		put_le(sb + at[i][0], (uint64_t)epoch & 0xffffffffu, 4);
		sb[at[i][1]] = (uint8_t)((uint64_t)epoch >> 32);
	}
	put_le(sb + 0x3fc, crc32c(~0u, sb, 0x3fc), 4); /* s_checksum */
	return pwrite(fd, sb, sizeof(sb), off) == (ssize_t)sizeof(sb) ? 0 : -EIO;
}

/* group g holds a superblock copy (sparse_super: 0, 1 and powers of 3, 5 and 7) */
static bool sb_group(uint64_t g)
{
	for (uint64_t b = 3; b <= 7; b += 2) {
		uint64_t p = b;

		while (p < g)
			p *= b;
		if (p == g)
			return true;
	}
	return g <= 1;
}

/*
 * Every superblock copy's write, check and creation times are the epoch:
 * mke2fs stamps the backups and debugfs the primary with the time they run
 * at, and E2FSPROGS_FAKE_TIME cannot say 0 (0 there means "now").
 */
static int sb_stamp(const char *img, long long epoch, uint64_t blocks)
{
	uint8_t sb[1024];
	uint64_t per_group;
	int fd = open(img, O_RDWR | O_CLOEXEC), r = -EIO;

	if (fd >= 0 && pread(fd, sb, sizeof(sb), 1024) == (ssize_t)sizeof(sb)) {
		per_group = sb[0x20] | (uint64_t)sb[0x21] << 8 | (uint64_t)sb[0x22] << 16 |
			    (uint64_t)sb[0x23] << 24; /* s_blocks_per_group */
		r = per_group ? sb_stamp_one(fd, 1024, epoch) : -EIO;
		for (uint64_t g = 1; r == 0 && g * per_group < blocks; g++)
			if (sb_group(g))
				r = sb_stamp_one(fd, (off_t)(g * per_group * PACK_BLOCK), epoch);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

/* ext4 of DIR, without a journal (it is mounted read-only), deterministic. */
static int make_fs(const char *dir, const char *img, const char *label, long long epoch,
		   uint64_t *bytes)
{
	char size[32], inodes[32], fake[64], opts[160], cmds[4300], top[4200];
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
		       (char *)dir,
		       (char *)img,
		       size,
		       NULL };
	char *env[] = { fake, NULL };
	char *dbg[] = { "debugfs", "-w", "-f", cmds, (char *)img, NULL };
	uint64_t blocks;
	int r;

	/* DIR/ names the same entries as DIR */
	snprintf(top, sizeof(top), "%s", dir);
	for (walk_root = strlen(top); walk_root > 1 && top[walk_root - 1] == '/';)
		top[--walk_root] = 0;
	walk_epoch = epoch;
	snprintf(cmds, sizeof(cmds), "%s.debugfs", img);
	walk_cmds = fopen(cmds, "we");
	if (!walk_cmds)
		return log_error_errno(-errno, "%s", cmds);
	r = nftw(top, clamp_one, 32, FTW_PHYS | FTW_DEPTH);
	/*
	 * What mke2fs stamps with the time it runs at, which E2FSPROGS_FAKE_TIME
	 * cannot make 0 (0 there means "now"): the root, lost+found and the bad
	 * blocks inode (the superblocks: sb_stamp).
	 */
	for (const char *const *e = (const char *const[]){ "/lost+found", "<1>", NULL }; *e; e++)
		entry_times(*e);
	if (fclose(walk_cmds) != 0 || r != 0)
		return log_error("%s: cannot set times", dir), -EIO;
	snprintf(inodes, sizeof(inodes), "%llu", (unsigned long long)(walk_inodes + 64));
	snprintf(fake, sizeof(fake), "E2FSPROGS_FAKE_TIME=%lld", epoch);
	snprintf(opts, sizeof(opts), "hash_seed=%s,root_owner=0:0,lazy_itable_init=0,nodiscard",
		 PACK_FS_UUID);
	/*
	 * Every block of the image is encrypted, hashed and written, free or
	 * not: first a tight size (the files' blocks, 512 bytes an entry for its
	 * inode and name, 1/64 for extent and group metadata, 4 MiB for ext4's
	 * own), then, if the files did not fit, the roomy one. Both follow from
	 * the tree alone, so that the image stays reproducible.
	 */
	for (int attempt = 0;; attempt++) {
		uint64_t b = (walk_bytes + walk_inodes * 512) / PACK_BLOCK;

		blocks = attempt == 0 ? b + b / 64 + 1024 : b * 5 / 4 + 2048;
		snprintf(size, sizeof(size), "%llu", (unsigned long long)blocks);
		r = run(mk, env, attempt == 0);
		if (r == 0)
			break;
		if (attempt == 1 || pack_signal)
			return pack_signal ? r : (log_error("mke2fs failed on %s", dir), r);
	}
	r = run(dbg, NULL, true);
	if (r < 0)
		return log_error("debugfs failed on the image of %s", dir), r;
	if (sb_stamp(img, epoch, blocks) < 0)
		return log_error("%s: cannot set the superblock's time", img), -EIO;
	*bytes = blocks * PACK_BLOCK;
	return 0;
}

struct pack_opts {
	const char *out, *keyout, *label, *dir, *oci, *user, *seed, *scratch;
	struct wiped_buf seed_bytes; /* --seed's content, read before any work */
	long long epoch;
	bool json;
};

/* --seed FILE: 32 to 4096 bytes of a regular file that only its owner reads. */
static int seed_read(const char *path, struct wiped_buf *b)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t got = -1;

	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("--seed %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 32 || st.st_size > 4096 || (st.st_mode & 077)) {
		log_error("--seed %s: %s", path,
			  !S_ISREG(st.st_mode) ? "not a regular file"
			  : st.st_mode & 077
				  ? "readable by others (chmod 600: it yields the volume key)"
				  : "must hold 32 to 4096 bytes");
		close(fd);
		return -1;
	}
	b->n = (size_t)st.st_size;
	b->p = malloc(b->n);
	if (b->p)
		got = read(fd, b->p, b->n);
	close(fd);
	if (got != (ssize_t)b->n) {
		log_error("--seed %s: cannot be read whole", path);
		return -1;
	}
	return 0;
}

/* 0 to go on, 1 after --help, -1 after a usage error (logged). */
static int parse_opts(int argc, char **argv, struct pack_opts *o)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "key-out", required_argument, NULL, 'k' },
		{ "label", required_argument, NULL, 'l' },
		{ "source-date-epoch", required_argument, NULL, 'e' },
		{ "oci", required_argument, NULL, 'O' },
		{ "user", required_argument, NULL, 'u' },
		{ "seed", required_argument, NULL, 's' },
		{ "scratch", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	struct stat st;
	int c;

	*o = (struct pack_opts){ .label = "cvm-workload" };
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 'k':
			o->keyout = optarg;
			break;
		case 'l':
			o->label = optarg;
			break;
		case 'e':
			sde = optarg;
			break;
		case 'O':
			o->oci = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 's':
			o->seed = optarg;
			break;
		case 'S':
			o->scratch = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			log_error("see 'cvm pack --help'");
			return -1;
		}
	}
	if (sde) {
		char *end;

		errno = 0;
		o->epoch = strtoll(sde, &end, 10);
		if (errno || *end || !*sde || *sde == '-' || o->epoch > 0xffffffffll) {
			log_error("source date epoch '%.32s': seconds since 1970 (0 to 2^32-1)",
				  sde);
			return -1;
		}
	}
	if (argc - optind != (o->oci ? 0 : 1) || !o->out || !o->keyout) {
		log_error("needs %s%s%s; see 'cvm pack --help'",
			  argc - optind > (o->oci ? 0 : 1)   ? "one DIR or --oci IMAGE, not both, "
			  : argc - optind < (o->oci ? 0 : 1) ? "DIR (or --oci IMAGE), "
							     : "",
			  o->out ? "" : "-o WORKLOAD.img ",
			  o->keyout ? "" : "--key-out VOLUME.key");
		return -1;
	}
	if (!strcmp(o->out, "-") || !strcmp(o->keyout, "-")) {
		log_error("-o - and --key-out -: a volume and its key go to files (the volume is "
			  "written in place after its header; a key is never shown)");
		return -1;
	}
	if (o->user && !o->oci) {
		log_error("--user goes with --oci (a DIR's cvm-job.json names its user)");
		return -1;
	}
	if (access(o->keyout, F_OK) == 0) {
		log_error("%s already exists; a key is never overwritten", o->keyout);
		return -1;
	}
	if (o->scratch && (stat(o->scratch, &st) < 0 || !S_ISDIR(st.st_mode))) {
		log_error("--scratch %s: not a directory", o->scratch);
		return -1;
	}
	if (o->seed && seed_read(o->seed, &o->seed_bytes) < 0)
		return -1;
	if (o->oci) {
		if (stat(o->oci, &st) < 0) {
			log_error("%s: %s", o->oci, strerror(errno));
			return -1;
		}
		return 0;
	}
	o->dir = argv[optind];
	if (stat(o->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("%s: not a directory", o->dir);
		return -1;
	}
	if (strlen(o->label) > 16 || !*o->label) {
		log_error("--label: 1 to 16 characters (the ext4 label's limit)");
		return -1;
	}
	return 0;
}

/* One pack: its work directory (removed at the end), its files and what they came to. */
struct pack_job {
	const struct pack_opts *o;
	char tmp[4096], scratch[4096], fs[4200], hash[4200], part[4200];
	uint8_t salt[32], root[64], hdr_digest[32];
	uint8_t vol_digest[32]; /* of the volume, as written */
	uint8_t prk[32];	/* the volume's secret (pack_derive), wiped at the end */
	uint64_t fs_bytes, hash_bytes, payload;
};

/* A file operation failed: says so with errno, and returns -1. */
static int pack_io(const struct pack_job *j)
{
	log_error("%s: %s", j->tmp, strerror(errno ? errno : EIO));
	return -1;
}

/*
 * dm-verity over the filesystem. Its salt is SHA-256("cvm pack v1 verity
 * salt" || label || NUL || filesystem size as le64): fixed for a label and
 * size, so that the tree, like the filesystem, follows from the content
 * alone, without a pass over the image before the tree's own.
 */
static int pack_salt(struct pack_job *j)
{
	static const char tag[] = "cvm pack v1 verity salt";
	uint8_t size[8];
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok;

	put_le(size, j->fs_bytes, 8);
	ok = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(m, tag, sizeof(tag) - 1) == 1 &&
	     EVP_DigestUpdate(m, j->o->label, strlen(j->o->label) + 1) == 1 &&
	     EVP_DigestUpdate(m, size, sizeof(size)) == 1 &&
	     EVP_DigestFinal_ex(m, j->salt, NULL) == 1;
	EVP_MD_CTX_free(m);
	if (!ok)
		return pack_io(j);
	j->hash_bytes = verity_tree_size(j->fs_bytes / PACK_BLOCK);
	j->payload = j->fs_bytes + j->hash_bytes;
	return 0;
}

/*
 * The tree in a pass of its own, on every CPU: with --seed, whose keys
 * follow from the root hash, before anything is encrypted. Without, the
 * tree is built as the filesystem is encrypted (pack_payload).
 */
static int pack_verity(struct pack_job *j)
{
	int fs = open(j->fs, O_RDONLY | O_CLOEXEC);
	int hash = fs < 0 ? -1 : open(j->hash, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int r = hash < 0 ? -errno
			 : verity_tree_build(fs, j->fs_bytes / PACK_BLOCK, j->salt, sizeof(j->salt),
					     hash, j->root);

	if (fs >= 0)
		close(fs);
	if (hash >= 0)
		close(hash);
	if (r < 0)
		return log_error_errno(r, "dm-verity tree of %s", j->fs), -1;
	return 0;
}

/* n bytes for purpose, from the volume's secret: SHAKE256(prk || purpose || 0). */
static int pack_stream(void *ctx, const char *purpose, uint8_t *out, size_t n)
{
	const struct pack_job *j = ctx;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_shake256(), NULL) == 1 &&
		 EVP_DigestUpdate(c, j->prk, sizeof(j->prk)) == 1 &&
		 EVP_DigestUpdate(c, purpose, strlen(purpose) + 1) == 1 &&
		 EVP_DigestFinalXOF(c, out, n) == 1;

	EVP_MD_CTX_free(c);
	return ok ? 0 : -EIO;
}

/*
 * The volume's secret. With --seed: HMAC-SHA256 keyed by the seed over what
 * the volume holds (the verity root hash, the label, the sizes), so that
 * the same seed and content give the same volume, and another content other
 * keys. Without: 32 fresh random bytes. Every key and salt of the volume
 * follows from it.
 */
static int pack_derive(struct pack_job *j)
{
	uint8_t seed[4096], msg[128];
	size_t seed_len, m = 0, label_len = strlen(j->o->label);
	unsigned out = 0;
	CLEANUP_ERASE(seed);

	if (!j->o->seed_bytes.p) /* fresh keys: nothing to follow from */
		return RAND_bytes(j->prk, sizeof(j->prk)) == 1 ? 0 : pack_io(j);
	memcpy(seed, j->o->seed_bytes.p, j->o->seed_bytes.n);
	seed_len = j->o->seed_bytes.n;
	memcpy(msg + m, "cvm pack v1", 12), m += 12;
	memcpy(msg + m, j->root, 32), m += 32;
	memcpy(msg + m, j->o->label, label_len + 1), m += label_len + 1; /* label <= 16 */
	put_le(msg + m, j->fs_bytes, 8), m += 8;
	put_le(msg + m, j->payload, 8), m += 8;
	if (!HMAC(EVP_sha256(), seed, (int)seed_len, msg, m, j->prk, &out) || out != 32)
		return pack_io(j);
	return 0;
}

/* The volume file with its LUKS2 header hdr: volume key mk and one keyslot for pass. */
static int pack_luks(struct pack_job *j, uint8_t *hdr, uint8_t mk[64], uint8_t pass[32])
{
	const struct luks2_layout l = {
		.label = j->o->label,
		.metadata_size = PACK_METADATA_SIZE,
		.header_size = PACK_HEADER_SIZE,
		.sector_size = PACK_BLOCK,
	};
	unsigned n = 0;
	int fd, r;

	if (pack_derive(j) < 0 || pack_stream(j, "volume key", mk, 64) < 0 ||
	    pack_stream(j, "keyslot passphrase", pass, 32) < 0)
		return -1;
	if (luks2_format(hdr, &l, mk, pass, 32, pack_stream, j) < 0) {
		log_error("LUKS2 header: cannot be written");
		return -1;
	}
	if (EVP_Digest(hdr, PACK_HEADER_SIZE, j->hdr_digest, &n, EVP_sha256(), NULL) != 1)
		return pack_io(j);
	fd = open(j->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r = fd >= 0 && pwrite(fd, hdr, PACK_HEADER_SIZE, 0) == PACK_HEADER_SIZE &&
	    ftruncate(fd, (off_t)(PACK_HEADER_SIZE + j->payload)) == 0;
	if (fd >= 0)
		close(fd);
	return r ? 0 : pack_io(j);
}

/*
 * The payload's writer: this thread reads and encrypts a chunk at a time
 * into a ring's slot; the ring's helper (on the second CPU, else inline)
 * writes each slot in order after the header, hashes it for the volume's
 * digest and hands it to the disk at once (sync_file_range) while the next
 * chunks are encrypted.
 */
struct pack_writer {
	EVP_CIPHER_CTX *c;
	EVP_MD_CTX *d; /* the volume's digest: the header, then each chunk as written */
	uint8_t *plain;
	struct chunk_ring *q;
	struct verity_tree *tree; /* built from the filesystem's plaintext as it goes by */
	int fd;
	bool direct;	       /* fd is O_DIRECT: each slot goes from its buffer to the disk */
	uint64_t off, written; /* in the payload: encrypted, and written */
};

static int payload_write(void *ctx, struct chunk_slot *s)
{
	struct pack_writer *w = ctx;
	uint64_t at = PACK_HEADER_SIZE + w->written;
	int r = fd_pwrite_all(w->fd, s->p, s->len, at);

	/* a filesystem that opens with O_DIRECT but refuses its writes: through the page cache */
	if (r == -EINVAL && w->direct) {
		w->direct = false;
		r = fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) & ~O_DIRECT) < 0
			    ? -errno
			    : fd_pwrite_all(w->fd, s->p, s->len, at);
	}
	if (r < 0)
		return r;
	if (EVP_DigestUpdate(w->d, s->p, s->len) != 1)
		return -EIO;
	if (!w->direct)
		sync_file_range(w->fd, (off_t)at, (off_t)s->len, SYNC_FILE_RANGE_WRITE);
	w->written += s->len;
	return 0;
}

/*
 * The volume for the payload: with O_DIRECT where its filesystem takes it
 * (three times the page cache's speed to the disk here, and no copy), else
 * through the page cache.
 */
static int payload_open(struct pack_writer *w, const char *path)
{
	w->fd = open(path, O_WRONLY | O_CLOEXEC | O_DIRECT);
	w->direct = w->fd >= 0;
	if (w->fd < 0 && errno == EINVAL)
		w->fd = open(path, O_WRONLY | O_CLOEXEC);
	return w->fd < 0 ? -errno : 0;
}

/* Encrypts want bytes of path (zeros past its end) at the writer's offset, as dm-crypt reads them. */
static int payload_add(struct pack_writer *w, const char *path, uint64_t want)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t done = 0;
	int r = fd < 0 ? -errno : 0;

	while (r == 0 && done < want) {
		size_t n = want - done < PACK_CHUNK ? (size_t)(want - done) : PACK_CHUNK;
		struct chunk_slot *s;

		if (pack_signal) {
			r = -EINTR;
			break;
		}
		s = chunk_ring_hold(w->q);
		ssize_t got = s ? pread(fd, w->plain, n, (off_t)done) : 0;

		if (!s || got < 0) {
			r = s ? -errno : chunk_ring_drain(w->q);
			break;
		}
		memset(w->plain + got, 0, n - (size_t)got); /* a short tree file: zeros */
		if (w->tree)
			r = verity_tree_add(w->tree, w->plain, n / PACK_BLOCK);
		for (size_t k = 0; k < n && r == 0; k += PACK_BLOCK) {
			uint8_t iv[16] = { 0 };
			int l1 = 0, l2 = 0;

			put_le(iv, (w->off + k) / 512, 8); /* plain64: 512-byte sector number */
			if (EVP_EncryptInit_ex(w->c, NULL, NULL, NULL, iv) != 1 ||
			    EVP_EncryptUpdate(w->c, s->p + k, &l1, w->plain + k, PACK_BLOCK) != 1 ||
			    EVP_EncryptFinal_ex(w->c, s->p + k + l1, &l2) != 1)
				r = -EIO;
		}
		s->len = n;
		if (r == 0)
			r = chunk_ring_post(w->q);
		w->off += n;
		done += n;
	}
	if (fd >= 0)
		close(fd);
	return r;
}

/*
 * The payload (filesystem then tree) encrypted straight into the volume
 * after its header, hashed as it is written, then made durable. Without
 * --seed the tree is built from the filesystem's plaintext in the same
 * pass, before it is itself encrypted.
 */
static int pack_payload(struct pack_job *j, const uint8_t mk[64], const uint8_t *hdr)
{
	_cleanup_(wiped_buf_free) struct wiped_buf plain = { malloc(PACK_CHUNK), PACK_CHUNK };
	struct pack_writer w = { .c = EVP_CIPHER_CTX_new(),
				 .d = EVP_MD_CTX_new(),
				 .plain = plain.p };
	int hash = -1;
	int r = payload_open(&w, j->part) == 0 && w.c && w.d && plain.p &&
				EVP_EncryptInit_ex(w.c, EVP_aes_256_xts(), NULL, mk, NULL) == 1 &&
				EVP_DigestInit_ex(w.d, EVP_sha256(), NULL) == 1 &&
				EVP_DigestUpdate(w.d, hdr, PACK_HEADER_SIZE) == 1
			? chunk_ring_new(RING_HELPER_DRAINS, 8, PACK_CHUNK, payload_write, &w, &w.q)
			: -EIO;

	if (r == 0 && !j->o->seed_bytes.p) {
		hash = open(j->hash, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		r = hash < 0 ? -errno
			     : verity_tree_new(j->fs_bytes / PACK_BLOCK, j->salt, sizeof(j->salt),
					       hash, &w.tree);
	}
	if (r == 0) {
		chunk_ring_parallel(w.q);
		r = payload_add(&w, j->fs, j->fs_bytes);
	}
	if (r == 0 && w.tree)
		r = verity_tree_end(w.tree, j->root);
	w.tree = (verity_tree_free(w.tree), NULL);
	if (r == 0)
		r = payload_add(&w, j->hash, j->hash_bytes);
	/* the thread ends here whatever happened, before anything else of the job */
	if (w.q && chunk_ring_drain(w.q) < 0 && r == 0)
		r = -EIO;
	chunk_ring_free(w.q);
	if (r == 0 &&
	    (w.written != j->payload || EVP_DigestFinal_ex(w.d, j->vol_digest, NULL) != 1))
		r = -EIO;
	if (r == 0 && fsync(w.fd) < 0)
		r = -errno;
	EVP_CIPHER_CTX_free(w.c);
	EVP_MD_CTX_free(w.d);
	if (w.fd >= 0)
		close(w.fd);
	if (hash >= 0)
		close(hash);
	if (r < 0 && pack_signal)
		return -1; /* said by pack_stopped */
	if (r < 0) {
		errno = -r;
		return pack_io(j);
	}
	return 0;
}

/* The LUKS2 volume; its volume key lives only as long as this call. */
static int pack_volume(struct pack_job *j, uint8_t pass[32])
{
	_cleanup_free_ uint8_t *hdr = malloc(PACK_HEADER_SIZE);
	uint8_t mk[64];
	CLEANUP_ERASE(mk);

	if (!hdr)
		return pack_io(j);
	if (pack_luks(j, hdr, mk, pass) < 0)
		return -1;
	return pack_payload(j, mk, hdr);
}

/* volume.key: the keyslot's passphrase and what the broker's policy pins. */
static int pack_key_write(const struct pack_job *j, const uint8_t pass[32])
{
	_cleanup_(json_delete_wipedp) cJSON *k = cJSON_CreateObject();
	_cleanup_(wipe_freep) char *text = NULL;
	cJSON *v;
	size_t n;
	int r, fd;

	cJSON_AddNumberToObject(k, "version", 1);
	json_add_hex(k, "volume_key", pass, 32);
	json_add_hex(k, "luks_header_sha256", j->hdr_digest, 32);
	cJSON_AddNumberToObject(k, "header_size", PACK_HEADER_SIZE);
	cJSON_AddNumberToObject(k, "payload_size", (double)j->payload);
	cJSON_AddStringToObject(k, "label", j->o->label);
	v = cJSON_AddObjectToObject(k, "verity");
	json_add_hex(v, "root_hash", j->root, 32);
	json_add_hex(v, "salt", j->salt, sizeof(j->salt));
	cJSON_AddStringToObject(v, "hash_algorithm", "sha256");
	cJSON_AddNumberToObject(v, "data_block_size", PACK_BLOCK);
	cJSON_AddNumberToObject(v, "hash_block_size", PACK_BLOCK);
	cJSON_AddNumberToObject(v, "data_blocks", (double)(j->fs_bytes / PACK_BLOCK));
	cJSON_AddNumberToObject(v, "hash_offset", (double)j->fs_bytes);
	text = cJSON_Print(k);
	if (!text)
		return log_error("out of memory"), -1;
	/* claimed with O_EXCL: a key that appeared meanwhile is not overwritten either */
	fd = open(j->o->keyout, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("%s: %s", j->o->keyout,
			  errno == EEXIST ? "already exists; a key is never overwritten"
					  : strerror(errno));
		return -1;
	}
	n = strlen(text);
	r = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0 ? 0 : -1;
	if (close(fd) < 0 || r < 0) {
		log_error("%s: cannot be written", j->o->keyout);
		unlink(j->o->keyout);
		return -1;
	}
	return 0;
}

/* The volume, its header's digest and volume.key; the passphrase lives only as long as this call. */
static int pack_sealed(struct pack_job *j)
{
	uint8_t pass[32];
	CLEANUP_ERASE(pass);

	if (pack_volume(j, pass) < 0)
		return -1;
	return pack_key_write(j, pass);
}

/* A solution's cvm-job.json, read as the agent will: a refusal names the member. */
static int check_manifest(const char *dir)
{
	_cleanup_free_ uint8_t *text = NULL;
	struct job_manifest m;
	char path[4300], err[256];
	size_t len;

	snprintf(path, sizeof(path), "%s/cvm-job.json", dir);
	if (access(path, F_OK) < 0)
		return 0; /* a data volume: no job of its own */
	if (file_read(path, 256 * 1024, &text, &len) < 0) {
		log_error("%s: unreadable or larger than 256 KiB (the agent's limit)", path);
		return -1;
	}
	if (job_manifest_parse((const char *)text, len, &m, err, sizeof(err)) < 0) {
		log_error("%s: %s", path, err);
		return -1;
	}
	job_manifest_free(&m);
	return 0;
}

/* The container image as a directory tree with its cvm-job.json, under j->tmp. */
static int pack_oci(struct pack_job *j, char *root, size_t cap)
{
	_cleanup_(cJSON_Deletep) cJSON *man = NULL;
	_cleanup_free_ char *text = NULL;
	char layout[4200], path[4300], err[512];
	struct stat st;
	unsigned skipped = 0;

	snprintf(layout, sizeof(layout), "%s", j->o->oci);
	if (stat(j->o->oci, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(layout, sizeof(layout), "%s/image", j->tmp);
		if (mkdir(layout, 0700) < 0 ||
		    oci_extract_tarball(j->o->oci, layout, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return -1;
		}
	}
	snprintf(root, cap, "%s/root", j->tmp);
	if (mkdir(root, 0755) < 0)
		return pack_io(j);
	if (oci_unpack(layout, root, j->o->user, &man, &skipped, err, sizeof(err)) < 0) {
		log_error("%s: %s", j->o->oci, err);
		return -1;
	}
	if (skipped)
		fprintf(stderr,
			"cvm pack: %u device node(s) of the image not packed (the job's "
			"/dev is the agent's)\n",
			skipped);
	snprintf(path, sizeof(path), "%s/cvm-job.json", root);
	if (access(path, F_OK) == 0)
		return 0; /* the image's own manifest wins, checked as any */
	text = cJSON_Print(man);
	if (!text || file_write_atomic(path, text, strlen(text), err, sizeof(err)) < 0 ||
	    chmod(path, 0644) < 0) {
		log_error("%s: cannot be written", path);
		return -1;
	}
	return 0;
}

/* What an order names of the volume, and what a rebuild compares: lines, or --json. */
static int pack_print(const struct pack_job *j)
{
	char hex[65], hdr[65], root[65];
	struct stat st;

	if (stat(j->o->out, &st) < 0)
		return log_error_errno(-errno, "%s", j->o->out), -1;
	hex_encode(j->vol_digest, 32, hex);
	hex_encode(j->hdr_digest, 32, hdr);
	hex_encode(j->root, 32, root);
	if (j->o->json)
		printf("{\"sha256\": \"%s\", \"size\": %lld, \"luks_header_sha256\": \"%s\", "
		       "\"verity_root_hash\": \"%s\", \"source_date_epoch\": %lld}\n",
		       hex, (long long)st.st_size, hdr, root, j->o->epoch);
	else
		printf("sha256 %s\nsize %lld\nluks_header_sha256 %s\nverity_root_hash %s\n"
		       "source_date_epoch %lld\n",
		       hex, (long long)st.st_size, hdr, root, j->o->epoch);
	return 0;
}

/* Bytes free for an unprivileged writer of path's filesystem, or 0. */
static uint64_t fs_free(const char *path)
{
	struct statvfs v;

	return statvfs(path, &v) == 0 ? (uint64_t)v.f_bavail * v.f_frsize : 0;
}

/* MemAvailable of /proc/meminfo in bytes, or 0. */
static uint64_t mem_available(void)
{
	char line[128];
	unsigned long long kib = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kib * 1024;
}

/*
 * Where the filesystem image and the tree are made (each pack
 * its own directory there, removed at the end): --scratch, else a tmpfs
 * /dev/shm with room for twice the files within half the memory
 * available (its writes never wait on a disk, its files never outlive a
 * reboot), else the output's work directory.
 */
static int pack_scratch(struct pack_job *j)
{
	const char *base = j->o->scratch;
	uint64_t need = walk_bytes * 2 + walk_inodes * 1024 + (64u << 20);
	struct statfs sf;

	if (!base && statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
	    need <= fs_free("/dev/shm") && need <= mem_available() / 2)
		base = "/dev/shm";
	if (!base) {
		snprintf(j->scratch, sizeof(j->scratch), "%s", j->tmp);
		return 0;
	}
	snprintf(j->scratch, sizeof(j->scratch), "%s/cvm-pack.XXXXXX", base);
	if (!mkdtemp(j->scratch)) {
		log_error_errno(-errno, "%s", j->scratch);
		j->scratch[0] = 0;
		return -1;
	}
	return 0;
}

static int pack_run(struct pack_opts *o)
{
	struct pack_job j = { .o = o };
	char *rm[] = { "rm", "-rf", "--", j.tmp, NULL };
	char *rm_scratch[] = { "rm", "-rf", "--", j.scratch, NULL };
	char root[4200];
	int rc = EXIT_USAGE;

	snprintf(j.tmp, sizeof(j.tmp), "%s.pack.XXXXXX", o->out);
	if (!mkdtemp(j.tmp)) {
		log_error_errno(-errno, "%s", j.tmp);
		return EXIT_USAGE;
	}
	snprintf(j.part, sizeof(j.part), "%s/workload.img", j.tmp);
	if (o->oci && pack_oci(&j, root, sizeof(root)) == 0)
		o->dir = root;
	walk_bytes = walk_inodes = 0;
	if (o->dir && nftw(o->dir, size_one, 32, FTW_PHYS) < 0) {
		log_error_errno(-errno, "%s", o->dir);
		o->dir = NULL;
	}
	if (o->dir && pack_scratch(&j) < 0)
		o->dir = NULL;
	snprintf(j.fs, sizeof(j.fs), "%s/fs.img", j.scratch);
	snprintf(j.hash, sizeof(j.hash), "%s/verity.img", j.scratch);
	if (o->dir && !pack_stopped() && check_manifest(o->dir) == 0 &&
	    make_fs(o->dir, j.fs, o->label, o->epoch, &j.fs_bytes) == 0 && !pack_stopped() &&
	    pack_salt(&j) == 0 && (!o->seed_bytes.p || pack_verity(&j) == 0) && !pack_stopped() &&
	    pack_sealed(&j) == 0) {
		if (pack_stopped()) {
			unlink(o->keyout);
		} else if (rename(j.part, o->out) < 0) {
			log_error_errno(-errno, "%s", o->out);
			unlink(o->keyout);
		} else if (pack_print(&j) == 0) {
			rc = EXIT_OK;
		}
	}
	if (j.scratch[0] && strcmp(j.scratch, j.tmp))
		run(rm_scratch, NULL, false);
	run(rm, NULL, false);
	OPENSSL_cleanse(j.prk, sizeof(j.prk));
	return rc;
}

int pack_main(int argc, char **argv)
{
	struct pack_opts o;
	int r;

	r = parse_opts(argc, argv, &o);
	if (r == 0) {
		pack_signals();
		r = pack_run(&o);
	} else {
		r = r > 0 ? EXIT_OK : EXIT_USAGE;
	}
	wiped_buf_free(&o.seed_bytes);
	if (pack_signal) { /* ended by the signal, as the caller expects */
		pack_stopped();
		signal(pack_signal, SIG_DFL);
		raise(pack_signal);
	}
	return r;
}
