/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "host/kbs.h"
#include "lib/lib.h"

int kbs_store_path(const char *store, const char *kind, const char *resource, char *out, size_t cap)
{
	int n;

	if (!kbs_resource_path_valid(resource))
		return -EINVAL;
	n = snprintf(out, cap, "%s/%s/%s%s", store, kind, resource,
		     strcmp(kind, "policies") ? "" : ".json");
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			int e = -errno;

			*p = '/';
			return e;
		}
		*p = '/';
	}
	return 0;
}

int kbs_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	char tmp[4200], dir[4096];
	int fd, r = 0;
	const uint8_t *p = data;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return set_error(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	r = mkdirs(dir);
	if (r < 0)
		return set_error(err, errlen, r, "%s: cannot make its directory: %s", path,
				 strerror(-r));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return set_error(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	while (len && r == 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			r = -errno;
		else {
			p += w;
			len -= (size_t)w;
		}
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return set_error(err, errlen, r, "%s: %s", path, strerror(-r));
	}
	/* the rename itself made durable */
	{
		char *slash = strrchr(dir, '/');

		if (slash) {
			*slash = 0;
			fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				fsync(fd);
				close(fd);
			}
		}
	}
	return 0;
}
