/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result's tar, written here rather than by libarchive: the agent
 * archives only directories and regular files with fixed owners and
 * times, and libarchive's pax writer pulls in, through its format table,
 * every writer it has (ISO 9660, XAR with libxml2 and ICU, 7-Zip, ZIP with
 * its ciphers) and their libraries into the measured image.
 *
 * The format is POSIX.1-2001 pax, restricted (what libarchive's
 * pax_restricted writes): a ustar header per entry (POSIX.1-1988 ustar:
 * name[100], mode[8], uid[8], gid[8], size[12], mtime[12], chksum[8],
 * typeflag, linkname[100], magic "ustar\0", version "00", uname[32],
 * gname[32], devmajor[8], devminor[8], prefix[155]), preceded by a pax
 * extended header ('x') only when the path does not fit name and prefix or
 * the size does not fit 11 octal digits; two zero records end it; no
 * blocking beyond the 512-byte records. For entries that need no extended
 * header the bytes are libarchive's, field for field (test_tar_write).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/result.h"

#define REC 512
#define SIZE_MAX_USTAR ((uint64_t)1 << 33) /* 11 octal digits */

/* v in width - 1 octal digits, zero-padded; the byte after stays as the template has it. */
static void octal(uint8_t *f, size_t digits, uint64_t v)
{
	for (size_t i = digits; i-- > 0; v >>= 3)
		f[i] = (uint8_t)('0' + (v & 7));
}

/* A ustar header (libarchive's template: numeric fields end " \0" or " ", zero devices). */
static void ustar(uint8_t h[REC], const char *prefix, size_t plen, const char *name, char type,
		  unsigned perm, uint64_t size)
{
	unsigned sum = 0;

	memset(h, 0, REC);
	memcpy(h, name, strnlen(name, 100));
	memcpy(h + 100, "000000 ", 7); /* mode */
	octal(h + 100, 6, perm & 07777);
	memcpy(h + 108, "000000 ", 7); /* uid 0 */
	memcpy(h + 116, "000000 ", 7); /* gid 0 */
	memcpy(h + 124, "00000000000 ", 12);
	octal(h + 124, 11, size);
	memcpy(h + 136, "00000000000 ", 12); /* mtime 0 */
	memset(h + 148, ' ', 8);	     /* the checksum counts as spaces */
	h[156] = (uint8_t)type;
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	memcpy(h + 329, "000000 ", 7); /* devmajor */
	memcpy(h + 337, "000000 ", 7); /* devminor */
	memcpy(h + 345, prefix, plen);
	for (size_t i = 0; i < REC; i++)
		sum += h[i];
	octal(h + 148, 6, sum);
	h[154] = 0;
	h[155] = ' ';
}

/* path split at a '/' into prefix (<= 155) and name (<= 100), as ustar allows; false if not. */
static bool ustar_split(const char *path, size_t len, size_t *plen)
{
	const char *s;

	*plen = 0;
	if (len <= 100)
		return true;
	s = strchr(path + len - 101, '/');
	if (s == path)
		s = strchr(s + 1, '/');
	if (!s || !s[1] || s - path > 155)
		return false;
	*plen = (size_t)(s - path);
	return true;
}

static int put(const struct tar_out *o, const void *p, size_t n)
{
	return o->sink(o->ctx, p, n);
}

/* One pax record "LEN key=value\n", LEN counting itself. */
static size_t pax_record(char *out, size_t cap, const char *key, const char *value)
{
	size_t body = strlen(key) + strlen(value) + 3, len = body + 1;

	while ((size_t)snprintf(NULL, 0, "%zu", len) + body != len)
		len++;
	return (size_t)snprintf(out, cap, "%zu %s=%s\n", len, key, value) < cap ? len : 0;
}

/* The 'x' header and its records for a path or size ustar cannot hold. */
static int pax_header(const struct tar_out *o, const char *path, bool long_path, uint64_t size)
{
	char body[TAR_PATH_LIMIT + 128], num[24], name[101];
	const char *base = strrchr(path, '/');
	uint8_t h[REC];
	size_t n = 0, k;
	int r;

	if (long_path) {
		k = pax_record(body, sizeof(body), "path", path);
		if (!k)
			return -ENAMETOOLONG;
		n += k;
	}
	if (size >= SIZE_MAX_USTAR) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
		k = pax_record(body + n, sizeof(body) - n, "size", num);
		if (!k)
			return -ENAMETOOLONG;
		n += k;
	}
	/* the header's own name: PaxHeader/ and the last name, as libarchive names it */
	base = base && base[1] ? base + 1 : path;
	snprintf(name, sizeof(name), "PaxHeader/%.90s", base);
	ustar(h, "", 0, name, 'x', 0644, n);
	if ((r = put(o, h, REC)) < 0 || (r = put(o, body, n)) < 0)
		return r;
	return tar_pad(o, n);
}

int tar_entry(const struct tar_out *o, const char *path, bool dir, unsigned perm, uint64_t size)
{
	size_t len = strlen(path), plen;
	bool fits = ustar_split(path, len, &plen);
	uint8_t h[REC];
	int r;

	if (len == 0 || len >= TAR_PATH_LIMIT)
		return -ENAMETOOLONG;
	if (!fits || size >= SIZE_MAX_USTAR) {
		r = pax_header(o, path, !fits, size);
		if (r < 0)
			return r;
	}
	/* a path that does not fit: the ustar name is its last 100 bytes, readers take the pax path */
	ustar(h, fits ? path : "", fits ? plen : 0,
	      fits ? path + (plen ? plen + 1 : 0) : path + len - (len > 100 ? 100 : len),
	      dir ? '5' : '0', perm, size < SIZE_MAX_USTAR ? size : 0);
	return put(o, h, REC);
}

int tar_pad(const struct tar_out *o, uint64_t size)
{
	static const uint8_t zero[REC];

	return size % REC ? put(o, zero, REC - size % REC) : 0;
}

int tar_finish(const struct tar_out *o)
{
	static const uint8_t zero[2 * REC];

	return put(o, zero, sizeof(zero));
}
