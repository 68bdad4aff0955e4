/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PID 1 of a reference boot (tests/e2e/test_image.sh): prints the
 * firmware's TCG2 event log (securityfs binary_bios_measurements) in hex
 * between two marker lines on the console, then powers off. The host keeps
 * it as the reference log of this firmware and machine (cvm image build
 * --firmware-log tpm=LOG).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	static const char log[] = "/sys/kernel/security/tpm0/binary_bios_measurements";
	unsigned char b[4096];
	FILE *o;
	ssize_t n;
	int fd;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL);
	o = fopen("/dev/console", "w");
	if (!o)
		o = stdout;
	fd = open(log, O_RDONLY | O_CLOEXEC);
	fprintf(o, "\nCVM-EVENTLOG-BEGIN\n");
	while (fd >= 0 && (n = read(fd, b, sizeof(b))) > 0)
		for (ssize_t i = 0; i < n; i++)
			fprintf(o, "%02x%s", b[i], (i + 1) % 32 ? "" : "\n");
	fprintf(o, "\nCVM-EVENTLOG-END %s\n", fd >= 0 ? "ok" : "no-log");
	fflush(o);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
