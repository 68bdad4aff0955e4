/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PID 1 of the volume end-to-end test, in a QEMU guest: loads the modules
 * of /etc/cvm/modules, then opens /dev/vda (a `cvm pack` volume) with the
 * volume.key on /dev/vdb through the agent's unlock path (validation,
 * in-memory header, dm-crypt, dm-verity, read-only mount), prints the
 * SHA-256 of /mnt/data/blob, then does the same with /dev/vdc (the same
 * volume with one filesystem block changed under dm-crypt, so verity must
 * fail the read). Results are lines "E2E <name> <value>" on the console.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/agent.h"
#include "lib/lib.h"

static void load_modules(void)
{
	char line[512];
	FILE *f = fopen("/etc/cvm/modules", "re");

	while (f && fgets(line, sizeof(line), f)) {
		int fd;

		line[strcspn(line, "\n")] = 0;
		fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))
			printf("E2E module-failed %s %s\n", line, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (f)
		fclose(f);
}

static void try_volume(const char *label, const char *dev, const char *keydev, const char *name)
{
	struct luks2_allow allow;
	struct volume v;
	struct volume_key k;
	char err[256], mnt[64], path[96], text[4096] = { 0 };
	int fd = open(keydev, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
	uint8_t buf[65536], d[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned dl = 0;
	ssize_t got;

	if (fd >= 0)
		close(fd);
	if (n <= 0 || volume_key_parse(text, strnlen(text, (size_t)n), &k, err, sizeof(err)) < 0) {
		printf("E2E %s key-unreadable %s\n", label, err);
		return;
	}
	luks2_allow_defaults(&allow);
	if (volume_open(dev, &allow, &v, err, sizeof(err)) < 0) {
		printf("E2E %s refused %s\n", label, err);
		return;
	}
	snprintf(mnt, sizeof(mnt), "/mnt/%s", name);
	mkdir(mnt, 0755);
	if (volume_activate(&v, &k, name, mnt, err, sizeof(err)) < 0) {
		printf("E2E %s activate-failed %s\n", label, err);
		volume_close(&v);
		return;
	}
	volume_close(&v);
	OPENSSL_cleanse(&k, sizeof(k));
	snprintf(path, sizeof(path), "%s/data/blob", mnt);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	while (fd >= 0 && (got = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(c, buf, (size_t)got);
	if (fd < 0 || got < 0) {
		printf("E2E %s read-error %s\n", label, strerror(errno));
	} else {
		char hex[65];

		EVP_DigestFinal_ex(c, d, &dl);
		hex_encode(d, 32, hex);
		printf("E2E %s sha256 %s\n", label, hex);
	}
	EVP_MD_CTX_free(c);
	if (fd >= 0)
		close(fd);
	{
		FILE *m = fopen("/proc/mounts", "re");
		char line[256];

		while (m && fgets(line, sizeof(line), m))
			if (strstr(line, mnt))
				printf("E2E %s mount %s", label, line);
		if (m)
			fclose(m);
	}
}

int main(void)
{
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("E2E start\n");
	load_modules();
	for (int i = 0; i < 50 && access("/dev/vdc", F_OK) < 0; i++)
		usleep(100000);
	try_volume("good", "/dev/vda", "/dev/vdb", "work");
	try_volume("tampered", "/dev/vdc", "/dev/vdb", "bad");
	printf("E2E done\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
