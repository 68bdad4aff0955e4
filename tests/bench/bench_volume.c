/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workload volumes, measured in the same run:
 *  - unlock (header read, validation, key check from the in-memory copy)
 *    of a `cvm pack` volume, against the key check of the same volume with
 *    a keyslot made by cryptsetup's defaults (argon2id, benchmarked), with
 *    the memory each needs (goal: at least 50x faster);
 *  - `cvm pack` of 1 GiB of files (16 of 64 MiB), with fresh keys (the best
 *    of 3) and with --seed, against, in the same run: AES-256-XTS alone
 *    over as many bytes (the encryption it cannot avoid), writing as many
 *    bytes durably beside the output (`dd oflag=direct conv=fsync`, and
 *    through the page cache: the disk write it cannot avoid) and `mke2fs
 *    -d` alone of the same files into a tmpfs (the filesystem writer it
 *    calls, which must finish before the first byte is encrypted).
 */
#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "tests/bench/bench.h"

static void quiet(int level, const char *msg, void *u)
{
	(void)level;
	(void)msg;
	(void)u;
}

/* One `cvm pack` of dir/wl with the extra options, after a sync, in seconds. */
static double pack_timed(const char *cvm, const char *dir, const char *extra)
{
	char cmd[1024];
	double t0;

	snprintf(cmd, sizeof(cmd), "rm -f %s/p2.img %s/p2.key && sync", dir, dir);
	bench_run("bench volume", cmd);
	snprintf(cmd, sizeof(cmd), "%s pack %s/wl -o %s/p2.img --key-out %s/p2.key %s > /dev/null",
		 cvm, dir, dir, dir, extra);
	t0 = now_s();
	bench_run("bench volume", cmd);
	return now_s() - t0;
}

/* Peak RSS (KiB) of a child that checks the key of img with libcryptsetup, and its time. */
static double key_check_child(const char *img, const uint8_t *pass, size_t n, long *rss_kib)
{
	double t0 = now_s();
	pid_t pid = fork();
	struct rusage ru;
	int st;

	if (pid == 0) {
		struct crypt_device *cd = NULL;

		crypt_set_log_callback(NULL, quiet, NULL);
		if (crypt_init(&cd, img) < 0 || crypt_load(cd, CRYPT_LUKS2, NULL) < 0 ||
		    crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT, (const char *)pass, n,
						 0) < 0)
			_exit(1);
		_exit(0);
	}
	if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "bench volume: key check of %s failed\n", img);
		exit(1);
	}
	*rss_kib = ru.ru_maxrss;
	return now_s() - t0;
}

int main(void)
{
	const char *cvm = getenv("CVM") ? getenv("CVM") : "build/cvm";
	char dir[128], cmd[8192], img[256], img2[256], keyf[256];
	uint8_t pass[32];
	struct luks2_allow allow;
	struct volume v;
	char err[256];
	double t0, ours, theirs, pack_s, seed_s, xts_s, disk_s, cache_s, mkfs_s;
	long rss_ours, rss_theirs;
	int rounds = 20;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(dir, sizeof(dir), "/tmp/cvm-bench-volume.%d", (int)getpid());
	snprintf(img, sizeof(img), "%s/w.img", dir);
	snprintf(img2, sizeof(img2), "%s/argon.img", dir);
	snprintf(keyf, sizeof(keyf), "%s/w.key", dir);
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir -p %s/wl; for i in $(seq 1 16); do head -c 67108864 /dev/urandom "
		 "> %s/wl/f$i; done; %s pack %s/wl -o %s --key-out %s > /dev/null",
		 dir, dir, cvm, dir, img, keyf);
	t0 = now_s();
	bench_run("bench volume", cmd);
	{
		_cleanup_free_ uint8_t *t = NULL;
		cJSON *j = NULL;
		size_t len;

		if (file_read(keyf, CVM_CAP_JSON, &t, &len) < 0 ||
		    json_parse((char *)t, len, &j) < 0 ||
		    json_get_hex(j, "volume_key", pass, 32) < 0)
			return 1;
		cJSON_Delete(j);
	}
	/* pack again, timed alone (the first run made the files): the best of 3, the disk is noisy */
	pack_s = 1e9;
	for (int i = 0; i < 3; i++) {
		double t = pack_timed(cvm, dir, "");

		pack_s = t < pack_s ? t : pack_s;
	}
	snprintf(cmd, sizeof(cmd), "set -e; umask 077; head -c 32 /dev/urandom > %s/seed", dir);
	bench_run("bench volume", cmd);
	snprintf(cmd, sizeof(cmd), "--seed %s/seed", dir);
	seed_s = pack_timed(cvm, dir, cmd);
	/* the durable write: through the page cache, and straight from memory (O_DIRECT) */
	snprintf(cmd, sizeof(cmd),
		 "dd if=/dev/zero of=%s/dd.img bs=1M count=1040 conv=fsync 2>/dev/null && rm -f "
		 "%s/dd.img && sync",
		 dir, dir);
	t0 = now_s();
	bench_run("bench volume", cmd);
	cache_s = now_s() - t0;
	snprintf(
		cmd, sizeof(cmd),
		"dd if=/dev/zero of=%s/dd.img bs=1M count=1040 oflag=direct conv=fsync 2>/dev/null "
		"&& rm -f %s/dd.img",
		dir, dir);
	t0 = now_s();
	bench_run("bench volume", cmd);
	disk_s = now_s() - t0;
	snprintf(cmd, sizeof(cmd),
		 "d=$(mktemp -d /dev/shm/cvm-bench.XXXXXX) && PATH=$PATH:/usr/sbin:/sbin mke2fs -q "
		 "-t ext4 -b 4096 -O ^has_journal,^resize_inode -d %s/wl $d/fs.img 1100M "
		 ">/dev/null && rm -rf $d",
		 dir);
	t0 = now_s();
	bench_run("bench volume", cmd);
	mkfs_s = now_s() - t0;
	{
		static uint8_t buf[1 << 20], out[1 << 20];
		uint8_t key[64] = { 1 }, iv[16] = { 0 };
		EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
		int l;

		t0 = now_s();
		for (int m = 0; m < 1024 + 8; m++) /* 1 GiB of files and the tree */
			for (size_t s = 0; s < sizeof(buf); s += 4096) {
				EVP_EncryptInit_ex(c, EVP_aes_256_xts(), NULL, key, iv);
				EVP_EncryptUpdate(c, out + s, &l, buf + s, 4096);
			}
		xts_s = now_s() - t0;
		EVP_CIPHER_CTX_free(c);
	}
	printf("pack  1 GiB: cvm pack %.2f s (%.0f MiB/s, best of 3), with --seed %.2f s (%.0f "
	       "MiB/s: "
	       "the tree in a pass of its own); alone: AES-256-XTS %.2f s (%.0f MiB/s), the "
	       "durable "
	       "write %.2f s with O_DIRECT (%.0f MiB/s; through the page cache %.2f s), mke2fs -d "
	       "into a tmpfs %.2f s (%.0f MiB/s); pack at %.0f%% of the speed of mke2fs then the "
	       "durable write, one after the other\n",
	       pack_s, 1024 / pack_s, seed_s, 1024 / seed_s, xts_s, 1032 / xts_s, disk_s,
	       1040 / disk_s, cache_s, mkfs_s, 1024 / mkfs_s, 100 * (mkfs_s + disk_s) / pack_s);

	/* unlock: ours, from the in-memory header */
	luks2_allow_defaults(&allow);
	t0 = now_s();
	for (int i = 0; i < rounds; i++) {
		if (volume_open(img, &allow, &v, err, sizeof(err)) < 0 ||
		    volume_unlock(&v, NULL, pass, 32, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench volume: %s\n", err);
			return 1;
		}
		volume_close(&v);
	}
	ours = (now_s() - t0) / rounds;
	key_check_child(img, pass, 32, &rss_ours);
	/* the same volume, its keyslot converted to cryptsetup's defaults (argon2id, benchmarked) */
	{
		char hex[65];

		hex_encode(pass, 32, hex);
		snprintf(cmd, sizeof(cmd),
			 "set -e; cp %s %s; /usr/bin/python3 -c \"import sys; "
			 "sys.stdout.buffer.write(bytes.fromhex('%s'))\" > %s/pass; "
			 "cryptsetup luksConvertKey --batch-mode --pbkdf argon2id --key-file "
			 "%s/pass "
			 "%s",
			 img, img2, hex, dir, dir, img2);
	}
	bench_run("bench volume", cmd);
	theirs = key_check_child(img2, pass, 32, &rss_theirs);
	printf("unlock: cvm (PBKDF2 1000, in-memory header) %.2f ms, peak RSS %ld KiB; "
	       "cryptsetup defaults (argon2id) %.0f ms, peak RSS %ld KiB: %.0fx faster "
	       "(goal >= 50x)\n",
	       ours * 1000, rss_ours, theirs * 1000, rss_theirs, theirs / ours);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	bench_run("bench volume", cmd);
	return 0;
}
