/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attack suite's job (tests/hostile/a_guest.sh), run by cvm-agent in
 * the guest: reports what a job can see and do into $CVM_OUTPUT/report.txt,
 * one "KEY VALUE" line each: its environment's names, the network
 * interfaces of its namespace and whether it can reach the broker's
 * address, which places it can write, what /dev holds, its memory limit,
 * the kernel's core-dump settings and what it can read of PID 1; and what
 * a container's job must not reach: the entries of its "/", the agent's
 * configuration, a way out of its chroot.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

extern char **environ;

static void first_line(FILE *out, const char *key, const char *path)
{
	char buf[256] = "";
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(out, "%s %s\n", key, strerrorname_np(errno));
		return;
	}
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	fprintf(out, "%s %s\n", key, buf);
}

static void can_write(FILE *out, const char *dir)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/cvm-probe", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	fprintf(out, "write %s %s\n", dir, fd >= 0 ? "ok" : strerrorname_np(errno));
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

/* "KEY name name ...": the entries of dir but . and .., sorted. */
static void list_dir(FILE *out, const char *key, const char *dir)
{
	char *names[64];
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	fprintf(out, "%s", key);
	while (d && (e = readdir(d)) && n < 64)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	if (d)
		closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) > 0) {
				char *t = names[i];

				names[i] = names[j];
				names[j] = t;
			}
	for (int i = 0; i < n; i++) {
		fprintf(out, " %s", names[i]);
		free(names[i]);
	}
	fprintf(out, "\n");
}

int main(void)
{
	const char *outdir = getenv("CVM_OUTPUT");
	char path[512], line[512];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(8443) };
	struct rlimit rl;
	struct statfs sf;
	FILE *out, *f;
	int s;

	if (!outdir)
		return 2;
	snprintf(path, sizeof(path), "%s/report.txt", outdir);
	if (!(out = fopen(path, "we")))
		return 3;
	fprintf(out, "env");
	for (char **v = environ; *v; v++)
		fprintf(out, " %.*s", (int)strcspn(*v, "="), *v);
	fprintf(out, "\n");
	fprintf(out, "ifaces");
	if ((f = fopen("/proc/self/net/dev", "re"))) {
		for (int i = 0; fgets(line, sizeof(line), f); i++)
			if (i >= 2)
				fprintf(out, " %.*s", (int)strcspn(line + strspn(line, " "), ":"),
					line + strspn(line, " "));
		fclose(f);
	}
	fprintf(out, "\n");
	inet_pton(AF_INET, "10.0.2.100", &sa.sin_addr);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fprintf(out, "connect-broker %s\n",
		s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0
			? "connected"
			: strerrorname_np(errno));
	can_write(out, "/");
	can_write(out, "/etc");
	can_write(out, "/run");
	can_write(out, "/dev");
	can_write(out, "/tmp");
	can_write(out, outdir);
	if (statfs("/tmp", &sf) == 0)
		fprintf(out, "tmp-bytes %llu\n",
			(unsigned long long)sf.f_blocks * (unsigned long long)sf.f_bsize);
	list_dir(out, "dev", "/dev");
	list_dir(out, "root", "/");
	s = open("/etc/cvm/agent.json", O_RDONLY | O_CLOEXEC);
	fprintf(out, "open-agent-config %s\n", s >= 0 ? "ok" : strerrorname_np(errno));
	/* the classic way out of a chroot needs CAP_SYS_CHROOT, which the job has not */
	mkdir("/tmp/cvm-probe-jail", 0700);
	fprintf(out, "chroot %s\n",
		chroot("/tmp/cvm-probe-jail") == 0 ? "ok" : strerrorname_np(errno));
	s = open("/dev/vda", O_RDONLY | O_CLOEXEC);
	fprintf(out, "open-vda %s\n", s >= 0 ? "ok" : strerrorname_np(errno));
	/* the job's cgroup ("0::/cvm-job"), its memory.max, and whether the job can raise it */
	if ((f = fopen("/proc/self/cgroup", "re")) && fgets(line, sizeof(line), f)) {
		char cgpath[600];

		line[strcspn(line, "\n")] = 0;
		fprintf(out, "cgroup %s\n", strncmp(line, "0::", 3) ? line : line + 3);
		if (!strncmp(line, "0::", 3)) {
			snprintf(cgpath, sizeof(cgpath), "/sys/fs/cgroup%s/memory.max", line + 3);
			first_line(out, "memory-max", cgpath);
			s = open(cgpath, O_WRONLY | O_CLOEXEC);
			fprintf(out, "write-memory-max %s\n",
				s >= 0 ? "ok" : strerrorname_np(errno));
		}
	}
	if (f)
		fclose(f);
	getrlimit(RLIMIT_AS, &rl);
	if (rl.rlim_cur == RLIM_INFINITY)
		fprintf(out, "rlimit-as unlimited\n");
	else
		fprintf(out, "rlimit-as %llu\n", (unsigned long long)rl.rlim_cur);
	first_line(out, "core-pattern", "/proc/sys/kernel/core_pattern");
	first_line(out, "suid-dumpable", "/proc/sys/fs/suid_dumpable");
	first_line(out, "pid1-environ", "/proc/1/environ");
	if ((f = fopen("/proc/1/limits", "re"))) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "Max core file size", 18)) {
				char soft[32] = "", hard[32] = "";

				sscanf(line + 18, "%31s %31s", soft, hard);
				fprintf(out, "pid1-core %s/%s\n", soft, hard);
			}
		fclose(f);
	}
	return fclose(out) ? 4 : 0;
}
