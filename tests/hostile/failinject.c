/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A failure-injection shim (LD_PRELOAD) for the attack suite: the Nth call
 * of the named I/O functions, counted only on files whose path contains
 * FAILINJECT_PATH, fails as a full disk, a failing disk or an interrupted
 * call would make it fail, or transfers half of what was asked.
 *   FAILINJECT_CALLS  comma-separated: write,pwrite,read,pread,fsync,fdatasync,open,openat
 *                     (pwrite64, pread64, open64, openat64 and the _FORTIFY_SOURCE
 *                     entry points count under their base name)
 *   FAILINJECT_NTH    the first counted call that fails (1-based; default 1)
 *   FAILINJECT_TIMES  how many counted calls fail from there (default 1)
 *   FAILINJECT_ERR    ENOSPC, EIO, EINTR, or SHORT (half the bytes; open cannot be short)
 *   FAILINJECT_PATH   count only calls on a path containing this (default: every path)
 *   FAILINJECT_LOG    a file that gets one line per injected failure
 *   FAILINJECT_TALLY  a file that gets, at exit, how many calls were counted (a dry
 *                     run with FAILINJECT_TIMES=0 finds the last call to fail)
 * Without FAILINJECT_CALLS it changes nothing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static unsigned long counted, nth = 1, times = 1;
static int inject_err; /* 0: SHORT */
static const char *calls, *path_filter, *log_path;
static int ready;

/* before main and before any wrapped call: the path filter is known when a path is matched */
__attribute__((constructor)) static void setup(void)
{
	const char *e;

	if (ready)
		return;
	ready = 1;
	calls = getenv("FAILINJECT_CALLS");
	path_filter = getenv("FAILINJECT_PATH");
	log_path = getenv("FAILINJECT_LOG");
	if ((e = getenv("FAILINJECT_NTH")))
		nth = strtoul(e, NULL, 10);
	if ((e = getenv("FAILINJECT_TIMES")))
		times = strtoul(e, NULL, 10);
	e = getenv("FAILINJECT_ERR");
	inject_err = !e || !strcmp(e, "EIO") ? EIO
		     : !strcmp(e, "ENOSPC")  ? ENOSPC
		     : !strcmp(e, "EINTR")   ? EINTR
		     : !strcmp(e, "SHORT")   ? 0
					     : EIO;
}

static int named(const char *fn)
{
	size_t n = strlen(fn);

	for (const char *p = calls; p && *p;) {
		size_t c = strcspn(p, ",");

		if (c == n && !strncmp(p, fn, n))
			return 1;
		p += c;
		p += *p == ',';
	}
	return 0;
}

static int path_matches(const char *path)
{
	return !path_filter || (path && strstr(path, path_filter));
}

static int fd_matches(int fd)
{
	char link[64], target[4096];
	ssize_t n;

	if (!path_filter)
		return 1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = 0;
	return strstr(target, path_filter) != NULL;
}

/* Whether this call fails: 1 to fail, 0 to pass through. */
static int hit(const char *fn, int match)
{
	int saved = errno;

	setup();
	errno = saved;
	if (!calls || !match || !named(fn))
		return 0;
	counted++;
	if (counted < nth || counted >= nth + times)
		return 0;
	if (log_path) {
		FILE *f = fopen(log_path, "ae");

		if (f) {
			fprintf(f, "%s #%lu %s\n", fn, counted,
				inject_err ? strerrorname_np(inject_err) : "SHORT");
			fclose(f);
		}
		errno = saved;
	}
	return 1;
}

__attribute__((destructor)) static void tally(void)
{
	const char *t = getenv("FAILINJECT_TALLY");
	FILE *f;

	if (t && calls && (f = fopen(t, "we"))) {
		fprintf(f, "%lu\n", counted);
		fclose(f);
	}
}

#define NEXT(name, type) ((type)dlsym(RTLD_NEXT, name))

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef int (*sync_fn)(int);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

static ssize_t do_write(const char *real, int fd, const void *p, size_t n)
{
	if (hit("write", fd_matches(fd))) {
		if (inject_err)
			return errno = inject_err, -1;
		n = n > 1 ? n / 2 : n;
	}
	return NEXT(real, write_fn)(fd, p, n);
}

static ssize_t do_pwrite(const char *real, int fd, const void *p, size_t n, off_t off)
{
	if (hit("pwrite", fd_matches(fd))) {
		if (inject_err)
			return errno = inject_err, -1;
		n = n > 1 ? n / 2 : n;
	}
	return NEXT(real, pwrite_fn)(fd, p, n, off);
}

static ssize_t do_read(const char *real, int fd, void *p, size_t n)
{
	if (hit("read", fd_matches(fd))) {
		if (inject_err)
			return errno = inject_err, -1;
		n = n > 1 ? n / 2 : n;
	}
	return NEXT(real, read_fn)(fd, p, n);
}

static ssize_t do_pread(const char *real, int fd, void *p, size_t n, off_t off)
{
	if (hit("pread", fd_matches(fd))) {
		if (inject_err)
			return errno = inject_err, -1;
		n = n > 1 ? n / 2 : n;
	}
	return NEXT(real, pread_fn)(fd, p, n, off);
}

static int do_sync(const char *name, int fd)
{
	if (hit(name, fd_matches(fd)))
		return errno = inject_err ? inject_err : EIO, -1;
	return NEXT(name, sync_fn)(fd);
}

static int do_open(const char *real, const char *path, int flags, mode_t mode)
{
	if (hit("open", path_matches(path)))
		return errno = inject_err ? inject_err : EIO, -1;
	return NEXT(real, open_fn)(path, flags, mode);
}

static int do_openat(const char *real, int dirfd, const char *path, int flags, mode_t mode)
{
	int match = path_matches(path);

	if (!match && path && path[0] != '/' && fd_matches(dirfd))
		match = 1; /* a name relative to a directory that matches */
	if (hit("openat", match))
		return errno = inject_err ? inject_err : EIO, -1;
	return NEXT(real, openat_fn)(dirfd, path, flags, mode);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

ssize_t write(int fd, const void *p, size_t n)
{
	return do_write("write", fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
	return do_pwrite("pwrite", fd, p, n, off);
}

ssize_t pwrite64(int fd, const void *p, size_t n, off_t off)
{
	return do_pwrite("pwrite64", fd, p, n, off);
}

ssize_t read(int fd, void *p, size_t n)
{
	return do_read("read", fd, p, n);
}

ssize_t __read_chk(int fd, void *p, size_t n, size_t cap)
{
	(void)cap;
	return do_read("read", fd, p, n);
}

ssize_t pread(int fd, void *p, size_t n, off_t off)
{
	return do_pread("pread", fd, p, n, off);
}

ssize_t pread64(int fd, void *p, size_t n, off_t off)
{
	return do_pread("pread64", fd, p, n, off);
}

ssize_t __pread_chk(int fd, void *p, size_t n, off_t off, size_t cap)
{
	(void)cap;
	return do_pread("pread", fd, p, n, off);
}

ssize_t __pread64_chk(int fd, void *p, size_t n, off_t off, size_t cap)
{
	(void)cap;
	return do_pread("pread64", fd, p, n, off);
}

int fsync(int fd)
{
	return do_sync("fsync", fd);
}

int fdatasync(int fd)
{
	return do_sync("fdatasync", fd);
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open("open", path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open("open64", path, flags, mode);
}

int __open_2(const char *path, int flags)
{
	return do_open("open", path, flags, 0);
}

int __open64_2(const char *path, int flags)
{
	return do_open("open64", path, flags, 0);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat("openat64", dirfd, path, flags, mode);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	return do_openat("openat", dirfd, path, flags, 0);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	return do_openat("openat64", dirfd, path, flags, 0);
}
