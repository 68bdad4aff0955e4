/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Status lines to the host: one JSON object per line on the virtio-serial
 * port (DESIGN §6; the format is lib/status_line.h), found by its name in sysfs since there is no udev, or
 * on the console. Everything written here is readable by the host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "agent/boot.h"
#include "lib/lib.h"
#include "lib/status_line.h"

static int status_fd = -1;
static int console_fd = -1;

/* /sys/class/virtio-ports/vportNpM/name holds the port's name; the node is /dev/vportNpM. */
static int open_port(const char *root, const char *name)
{
	char path[512], got[80];
	struct dirent *e;
	int fd = -1;
	DIR *d;

	snprintf(path, sizeof(path), "%s/sys/class/virtio-ports", root);
	d = opendir(path);
	while (d && fd < 0 && (e = readdir(d))) {
		ssize_t n;
		int nf;

		if (strncmp(e->d_name, "vport", 5))
			continue;
		snprintf(path, sizeof(path), "%s/sys/class/virtio-ports/%s/name", root, e->d_name);
		nf = open(path, O_RDONLY | O_CLOEXEC);
		n = nf >= 0 ? read(nf, got, sizeof(got) - 1) : -1;
		if (nf >= 0)
			close(nf);
		if (n <= 0)
			continue;
		got[n] = 0;
		got[strcspn(got, "\n")] = 0;
		if (strcmp(got, name))
			continue;
		snprintf(path, sizeof(path), "%s/dev/%s", root, e->d_name);
		fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	}
	if (d)
		closedir(d);
	return fd;
}

bool status_open(const char *sysroot, const char *name)
{
	char path[512];
	const char *root = sysroot ? sysroot : "";

	status_close();
	snprintf(path, sizeof(path), "%s/dev/console", root);
	console_fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (!strcmp(name, "console"))
		return true;
	status_fd = open_port(root, name);
	return status_fd >= 0;
}

/* A line that cannot be written has nowhere else to go. */
static void put_line(int fd, const char *prefix, const char *text)
{
	if (fd >= 0 && fd_write_all(fd, prefix, strlen(prefix)) == 0 &&
	    fd_write_all(fd, text, strlen(text)) == 0)
		fd_write_all(fd, (const char[]){ STATUS_LINE_END }, 1);
}

static uint64_t (*own_clock)(void);

void status_own_clock(uint64_t (*own)(void))
{
	own_clock = own;
}

void status_emit(const char *phase, bool ok, const char *code, const char *detail, cJSON *extra)
{
	const int64_t t = mono_ms();
	_cleanup_free_ char *text = NULL;

	if (own_clock && (extra || (extra = cJSON_CreateObject())) &&
	    !cJSON_HasObjectItem(extra, "agent_ms"))
		cJSON_AddNumberToObject(extra, "agent_ms", (double)own_clock());
	text = status_line_format(t, phase, ok, code, detail, extra);

	if (!text)
		return;
	put_line(status_fd, "", text);
	put_line(console_fd, "cvm-agent: ", text);
}

void status_close(void)
{
	if (status_fd >= 0)
		close(status_fd);
	if (console_fd >= 0)
		close(console_fd);
	status_fd = console_fd = -1;
}
