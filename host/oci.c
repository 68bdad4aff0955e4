/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container image as a solution's root filesystem (cvm pack --oci): an
 * OCI image layout (github.com/opencontainers/image-spec, image-layout.md)
 * or the tarball of `docker save` / `podman save` (either layout inside).
 * The layers are applied in order, whiteouts as image-spec's layer.md says
 * (".wh.NAME" removes NAME of the layers below, ".wh..wh..opq" empties its
 * directory of them), and the config's Entrypoint, Cmd, Env, WorkingDir and
 * User become the job manifest (docs/job.md, "rootfs": true).
 *
 * The image is the customer's own, on the customer's machine, but it is
 * read as if it were not: every blob's digest is checked, every path stays
 * inside the root (libarchive's secure extraction; whiteouts resolved in
 * the root with openat2), device nodes are not made.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/job.h"
#include "host/oci.h"
#include "lib/lib.h"

#define OCI_JSON_MAX (4u << 20) /* index, manifest and config files */
#define OCI_LAYERS_MAX 256
#define OCI_OPAQUE ".wh..wh..opq"
#define OCI_WH ".wh."
/* the directories the agent mounts on in a rootfs job's root (agent/job.c) */
static const char *const rootfs_dirs[] = { "proc", "dev", "tmp", "inputs", "output" };

#define OCI_FILES_MAX (OCI_LAYERS_MAX + 8)

/* What one unpack needs: where the image is, where the root goes, how it went. */
struct oci {
	const char *image;	  /* the layout directory (a tarball is extracted first) */
	int imagefd;		  /* that directory: every file of the image is opened inside it */
	int rootfd;		  /* the root being built */
	int files[OCI_FILES_MAX]; /* the image's files opened, closed at the end */
	size_t nfiles;
	char *err;
	size_t errlen;
	unsigned devices_skipped;
};

static int oci_fail(struct oci *o, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int oci_fail(struct oci *o, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->err, o->errlen, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * A file of the image, opened inside its directory as if that were "/" (a
 * link in an extracted tarball cannot lead out of it), kept open until the
 * end; path is then "/proc/self/fd/N", for readers that take a path. 0, or
 * -errno.
 */
static int image_file(struct oci *o, const char *rel, char *path, size_t cap)
{
	int fd;

	if (o->nfiles == OCI_FILES_MAX)
		return -EMFILE;
	fd = open_in_root(o->imagefd, rel, O_RDONLY);
	if (fd < 0)
		return -errno;
	o->files[o->nfiles++] = fd;
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return 0;
}

/* A path of the image's own files: relative, no "..", no empty component. */
static bool rel_safe(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 2 && !strncmp(c, "..", 2)))
			return false;
		c += n;
		c += *c == '/';
	}
	return true;
}

/* ---- blobs and JSON ---- */

/* "sha256:<64 hex>" into hex (65 bytes). */
static int digest_hex(const cJSON *d, char hex[65])
{
	uint8_t b[32];

	if (!cJSON_IsString(d) || strncmp(d->valuestring, "sha256:", 7) ||
	    hex_decode_exact(d->valuestring + 7, b, 32) < 0)
		return -1;
	hex_encode(b, 32, hex);
	return 0;
}

/* The path of a blob of the layout, its content checked against its digest. */
static int blob_path(struct oci *o, const cJSON *digest, const char *what, char *path, size_t cap)
{
	uint8_t got[32];
	char hex[65], ghex[65];
	size_t n;

	if (digest_hex(digest, hex) < 0)
		return oci_fail(o, -EINVAL, "%s: digest is not sha256:<64 hex digits>", what);
	snprintf(path, cap, "blobs/sha256/%s", hex);
	if (image_file(o, path, path, cap) < 0 ||
	    file_digest(path, "SHA256", got, sizeof(got), &n) < 0)
		return oci_fail(o, -ENOENT, "%s: blob sha256:%.12s… missing from the image", what,
				hex);
	hex_encode(got, 32, ghex);
	if (strcmp(hex, ghex))
		return oci_fail(o, -EBADMSG, "%s: blob sha256:%s has the digest %s", what, hex,
				ghex);
	return 0;
}

static int read_json(struct oci *o, const char *path, const char *what, cJSON **out)
{
	_cleanup_free_ uint8_t *t = NULL;
	size_t n;

	if (file_read(path, OCI_JSON_MAX, &t, &n) < 0)
		return oci_fail(o, -ENOENT, "%s: missing or larger than 4 MiB", what);
	/* an object, or (docker's manifest.json) an array: the caller checks which */
	if (json_parse((const char *)t, n, out) < 0)
		return oci_fail(o, -EINVAL, "%s: not valid JSON", what);
	return 0;
}

static int read_blob_json(struct oci *o, const cJSON *digest, const char *what, cJSON **out)
{
	char path[4200];
	int r = blob_path(o, digest, what, path, sizeof(path));

	return r < 0 ? r : read_json(o, path, what, out);
}

/* ---- which image: index.json down to one manifest ---- */

static bool is_index(const char *media)
{
	return media &&
	       (!strcmp(media, "application/vnd.oci.image.index.v1+json") ||
		!strcmp(media, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

/* platform linux/amd64 or none; attestation manifests (unknown/unknown) never */
static int platform_rank(const cJSON *m)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "platform");
	const char *os = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "os"));
	const char *arch =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "architecture"));

	if (!p)
		return 1;
	if (os && arch && !strcmp(os, "linux") && !strcmp(arch, "amd64"))
		return 2;
	return 0;
}

/* The one image manifest an index names, descending into a nested index. */
static int pick_manifest(struct oci *o, const cJSON *index, int depth, cJSON **manifest)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(index, "manifests"), *m, *best = NULL;
	int rank = 0, ties = 0;

	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
		return oci_fail(o, -EINVAL, "index.json: no manifests");
	cJSON_ArrayForEach(m, list) {
		int k = platform_rank(m);

		if (k > rank) {
			rank = k;
			best = m;
			ties = 0;
		} else if (k == rank && k > 0) {
			ties++;
		}
	}
	if (!best)
		return oci_fail(o, -EINVAL, "index.json: no image for linux/amd64");
	if (ties)
		return oci_fail(o, -EINVAL,
				"index.json: %d images for linux/amd64; save one image only",
				ties + 1);
	if (is_index(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(best, "mediaType")))) {
		_cleanup_(cJSON_Deletep) cJSON *sub = NULL;
		int r;

		if (depth > 1)
			return oci_fail(o, -EINVAL, "index.json: indexes nested too deep");
		r = read_blob_json(o, cJSON_GetObjectItemCaseSensitive(best, "digest"), "index",
				   &sub);
		return r < 0 ? r : pick_manifest(o, sub, depth + 1, manifest);
	}
	return read_blob_json(o, cJSON_GetObjectItemCaseSensitive(best, "digest"), "manifest",
			      manifest);
}

/* The layers' and config's paths, in order: an OCI layout. */
static int oci_layout(struct oci *o, char ***layers, size_t *n, char *config, size_t cap)
{
	_cleanup_(cJSON_Deletep) cJSON *index = NULL, *man = NULL;
	char path[4200];
	const cJSON *l;
	int r;

	if (image_file(o, "index.json", path, sizeof(path)) < 0)
		return oci_fail(o, -ENOENT, "index.json: missing");
	r = read_json(o, path, "index.json", &index);
	if (r < 0 || (r = pick_manifest(o, index, 0, &man)) < 0)
		return r;
	r = blob_path(o,
		      cJSON_GetObjectItemCaseSensitive(
			      cJSON_GetObjectItemCaseSensitive(man, "config"), "digest"),
		      "config", config, cap);
	if (r < 0)
		return r;
	l = cJSON_GetObjectItemCaseSensitive(man, "layers");
	if (!cJSON_IsArray(l) || cJSON_GetArraySize(l) > OCI_LAYERS_MAX)
		return oci_fail(o, -EINVAL, "manifest: layers: not an array of at most %d",
				OCI_LAYERS_MAX);
	*layers = calloc((size_t)cJSON_GetArraySize(l) + 1, sizeof(char *));
	if (!*layers)
		return -ENOMEM;
	for (const cJSON *e = l->child; e; e = e->next) {
		char what[32];

		snprintf(what, sizeof(what), "layer %zu", *n + 1);
		r = blob_path(o, cJSON_GetObjectItemCaseSensitive(e, "digest"), what, path,
			      sizeof(path));
		if (r < 0)
			return r;
		if (!((*layers)[(*n)++] = strdup(path)))
			return -ENOMEM;
	}
	return 0;
}

/* The same from the manifest.json of `docker save` (paths in the archive, not digests). */
static int docker_layout(struct oci *o, char ***layers, size_t *n, char *config, size_t cap)
{
	_cleanup_(cJSON_Deletep) cJSON *man = NULL;
	char path[4200];
	const cJSON *img, *l, *c;
	int r;

	if (image_file(o, "manifest.json", path, sizeof(path)) < 0)
		return oci_fail(o, -ENOENT,
				"neither index.json (an OCI layout) nor manifest.json "
				"(docker save)");
	r = read_json(o, path, "manifest.json", &man);
	if (r < 0)
		return r;
	if (!cJSON_IsArray(man) || cJSON_GetArraySize(man) != 1)
		return oci_fail(o, -EINVAL,
				"manifest.json: not exactly one image; save one image only");
	img = man->child;
	c = cJSON_GetObjectItemCaseSensitive(img, "Config");
	l = cJSON_GetObjectItemCaseSensitive(img, "Layers");
	if (!cJSON_IsString(c) || !rel_safe(c->valuestring))
		return oci_fail(o, -EINVAL, "manifest.json: Config: not a path inside the archive");
	if (!cJSON_IsArray(l) || cJSON_GetArraySize(l) > OCI_LAYERS_MAX)
		return oci_fail(o, -EINVAL, "manifest.json: Layers: not an array of at most %d",
				OCI_LAYERS_MAX);
	if (image_file(o, c->valuestring, config, cap) < 0)
		return oci_fail(o, -ENOENT, "manifest.json: Config: missing from the archive");
	*layers = calloc((size_t)cJSON_GetArraySize(l) + 1, sizeof(char *));
	if (!*layers)
		return -ENOMEM;
	for (const cJSON *e = l->child; e; e = e->next) {
		if (!cJSON_IsString(e) || !rel_safe(e->valuestring))
			return oci_fail(o, -EINVAL,
					"manifest.json: Layers[%zu]: not a path inside the archive",
					*n);
		if (image_file(o, e->valuestring, path, sizeof(path)) < 0)
			return oci_fail(o, -ENOENT,
					"manifest.json: Layers[%zu]: missing from the archive", *n);
		if (!((*layers)[(*n)++] = strdup(path)))
			return -ENOMEM;
	}
	return 0;
}

/* ---- layers ---- */

/* Removes name under dirfd and, for a directory, all below it; symlinks are not followed. */
static int remove_at(int dfd, const char *name)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int fd, r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (r == 0 && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = remove_at(dirfd(d), e->d_name);
	closedir(d);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		r = -errno;
	return r;
}

/* Empties dir of everything the layers below put there (the opaque whiteout). */
static int empty_dir(int fd)
{
	DIR *d = fdopendir(dup(fd));
	struct dirent *e;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = remove_at(fd, e->d_name);
	closedir(d);
	return r;
}

/* An entry's path, normalized: no leading "./" or "/"; "" for the root itself. */
static const char *entry_path(const char *p)
{
	for (;;) {
		if (p[0] == '.' && p[1] == '/')
			p += 2;
		else if (p[0] == '/')
			p++;
		else if (p[0] == '.' && !p[1])
			p++;
		else
			return p;
	}
}

/* A whiteout: its directory (relative) and the name it removes ("" for opaque). */
static bool whiteout(const char *path, char *dir, size_t cap, const char **name)
{
	const char *base = strrchr(path, '/');
	size_t dlen;

	base = base ? base + 1 : path;
	if (strncmp(base, OCI_WH, strlen(OCI_WH)))
		return false;
	dlen = (size_t)(base - path);
	snprintf(dir, cap, "%.*s", (int)(dlen ? dlen - 1 : 0), path);
	*name = strcmp(base, OCI_OPAQUE) ? base + strlen(OCI_WH) : "";
	return true;
}

static struct archive *open_layer(const char *path)
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Pass 1 of a layer: its whiteouts, applied to the layers below it. */
static int layer_whiteouts(struct oci *o, const char *path, size_t k)
{
	struct archive *a = open_layer(path);
	struct archive_entry *e;
	int r = 0, ar;

	if (!a)
		return oci_fail(o, -EINVAL, "layer %zu: not a tar archive", k);
	while (r == 0 && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *p =
			entry_path(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		char dir[4096];
		const char *name;
		int fd;

		if (!whiteout(p, dir, sizeof(dir), &name))
			continue;
		if (!rel_safe(p) || (*name && (!strcmp(name, ".") || !strcmp(name, ".."))))
			r = oci_fail(o, -EINVAL, "layer %zu: a whiteout outside the root", k);
		else if ((fd = open_in_root(o->rootfd, dir, O_RDONLY | O_DIRECTORY)) < 0)
			continue; /* its directory is not there: nothing to remove */
		else {
			r = *name ? remove_at(fd, name) : empty_dir(fd);
			close(fd);
			if (r < 0)
				r = oci_fail(o, r, "layer %zu: whiteout: %s", k, strerror(-r));
		}
	}
	if (r == 0 && ar != ARCHIVE_EOF)
		r = oci_fail(o, -EINVAL, "layer %zu: %s", k, archive_error_string(a));
	archive_read_free(a);
	return r;
}

/* Pass 2 of a layer: its files, extracted into the root; devices and whiteouts not. */
static int layer_files(struct oci *o, const char *path, size_t k)
{
	const int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
			  ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
			  ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
	struct archive *a = open_layer(path), *w = archive_write_disk_new();
	struct archive_entry *e;
	int r = 0, ar;

	if (!a || !w) {
		archive_read_free(a);
		archive_write_free(w);
		return oci_fail(o, -EINVAL, "layer %zu: not a tar archive", k);
	}
	archive_write_disk_set_options(w, flags);
	archive_write_disk_set_standard_lookup(w);
	while (r == 0 && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *p =
			entry_path(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		const char *hl = archive_entry_hardlink(e);
		char dir[4096];
		const char *name;
		mode_t t = archive_entry_filetype(e);

		if (!*p || whiteout(p, dir, sizeof(dir), &name))
			continue;
		if (t == AE_IFCHR || t == AE_IFBLK) {
			o->devices_skipped++;
			continue;
		}
		if (!rel_safe(p) || (hl && !rel_safe(entry_path(hl)))) {
			r = oci_fail(o, -EINVAL, "layer %zu: a path outside the root", k);
			break;
		}
		archive_entry_copy_pathname(e, p);
		if (hl)
			archive_entry_copy_hardlink(e, entry_path(hl));
		if (archive_write_header(w, e) < ARCHIVE_WARN) {
			r = oci_fail(o, -EIO, "layer %zu: %s", k, archive_error_string(w));
			break;
		}
		for (;;) {
			const void *buf;
			size_t size;
			la_int64_t off;
			int dr = archive_read_data_block(a, &buf, &size, &off);

			if (dr == ARCHIVE_EOF)
				break;
			if (dr < ARCHIVE_OK ||
			    archive_write_data_block(w, buf, size, off) < ARCHIVE_OK) {
				r = oci_fail(o, -EIO, "layer %zu: %s", k,
					     dr < ARCHIVE_OK ? archive_error_string(a)
							     : archive_error_string(w));
				break;
			}
		}
		if (r == 0 && archive_write_finish_entry(w) < ARCHIVE_WARN)
			r = oci_fail(o, -EIO, "layer %zu: %s", k, archive_error_string(w));
	}
	if (r == 0 && ar != ARCHIVE_EOF)
		r = oci_fail(o, -EINVAL, "layer %zu: %s", k, archive_error_string(a));
	if (archive_write_close(w) != ARCHIVE_OK && r == 0)
		r = oci_fail(o, -EIO, "layer %zu: %s", k, archive_error_string(w));
	archive_write_free(w);
	archive_read_free(a);
	return r;
}

/* Applies one layer: whiteouts first (they act on the layers below), then files, in the root. */
static int apply_layer(struct oci *o, const char *path, size_t k)
{
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), r;

	if (cwd < 0)
		return oci_fail(o, -errno, "cannot open the working directory");
	r = layer_whiteouts(o, path, k);
	/* libarchive extracts relative to the working directory: the root's */
	if (r == 0 && fchdir(o->rootfd) < 0)
		r = oci_fail(o, -errno, "root: %s", strerror(errno));
	if (r == 0)
		r = layer_files(o, path, k);
	if (fchdir(cwd) < 0 && r == 0)
		r = oci_fail(o, -errno, "cannot return to the working directory");
	close(cwd);
	return r;
}

/* ---- the config: the job manifest ---- */

/* uid (and gid) of a user name in the root's /etc/passwd (or group name in /etc/group). */
static long lookup_id(int rootfd, const char *file, const char *name, long *gid)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	long id = -1;
	int fd = open_in_root(rootfd, file, O_RDONLY);
	FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (id < 0 && getline(&line, &cap, f) > 0) {
		char *fields[4] = { 0 }, *s = line;

		for (int i = 0; i < 4 && s; i++) {
			fields[i] = s;
			s = strchr(s, ':');
			if (s)
				*s++ = 0;
		}
		if (fields[3] && !strcmp(fields[0], name)) {
			id = strtol(fields[2], NULL, 10);
			if (gid)
				*gid = strtol(fields[3], NULL, 10);
		}
	}
	fclose(f);
	return id;
}

/* A number or a name of the root's passwd/group; -1 when neither. */
static long user_part(int rootfd, const char *s, bool group, long *gid)
{
	char *end;
	long v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (!errno && !*end && v >= 0)
		return v;
	return lookup_id(rootfd, group ? "etc/group" : "etc/passwd", s, group ? NULL : gid);
}

/* User: "uid", "uid:gid", "name", "name:group": the override, else the image's. */
static int job_user(struct oci *o, const char *user, const char *override, long *uid, long *gid)
{
	char u[256], *colon;
	long g = -1;

	snprintf(u, sizeof(u), "%s", override && *override ? override : user ? user : "");
	colon = strchr(u, ':');
	if (colon)
		*colon++ = 0;
	*uid = *u ? user_part(o->rootfd, u, false, &g) : 0;
	if (*uid < 0)
		return oci_fail(o, -EINVAL, "User: %.64s: not a number nor a user of /etc/passwd",
				u);
	if (colon && (g = user_part(o->rootfd, colon, true, NULL)) < 0)
		return oci_fail(o, -EINVAL,
				"User: group %.64s: not a number nor a group of /etc/group", colon);
	*gid = g >= 0 ? g : *uid;
	return 0;
}

/* The manifest of a rootfs job from the image config (its "config" object). */
static int config_manifest(struct oci *o, const char *config_path, const char *user, cJSON **out)
{
	_cleanup_(cJSON_Deletep) cJSON *cfg = NULL;
	const cJSON *c, *v;
	cJSON *m, *argv, *env;
	long uid = 0, gid = 0;
	int r = read_json(o, config_path, "config", &cfg);

	if (r < 0)
		return r;
	c = cJSON_GetObjectItemCaseSensitive(cfg, "config");
	m = cJSON_CreateObject();
	argv = cJSON_AddArrayToObject(m, "argv");
	env = cJSON_AddObjectToObject(m, "env");
	if (!m || !argv || !env)
		return cJSON_Delete(m), -ENOMEM;
	cJSON_AddTrueToObject(m, "rootfs");
	for (const char *k = "Entrypoint"; k; k = strcmp(k, "Cmd") ? "Cmd" : NULL) {
		v = cJSON_GetObjectItemCaseSensitive(c, k);
		if (v && !cJSON_IsNull(v) && !cJSON_IsArray(v))
			return cJSON_Delete(m), oci_fail(o, -EINVAL, "config: %s: not an array", k);
		for (const cJSON *a = v ? v->child : NULL; a; a = a->next) {
			if (!cJSON_IsString(a))
				return cJSON_Delete(m),
				       oci_fail(o, -EINVAL, "config: %s: not an array of strings",
						k);
			cJSON_AddItemToArray(argv, cJSON_CreateString(a->valuestring));
		}
	}
	if (cJSON_GetArraySize(argv) == 0)
		return cJSON_Delete(m),
		       oci_fail(o, -EINVAL, "config: neither Entrypoint nor Cmd: nothing to run");
	v = cJSON_GetObjectItemCaseSensitive(c, "Env");
	for (const cJSON *a = cJSON_IsArray(v) ? v->child : NULL; a; a = a->next) {
		const char *eq = cJSON_IsString(a) ? strchr(a->valuestring, '=') : NULL;
		char name[160];

		if (!eq || eq == a->valuestring || (size_t)(eq - a->valuestring) >= sizeof(name))
			return cJSON_Delete(m), oci_fail(o, -EINVAL, "config: Env: not NAME=value");
		snprintf(name, sizeof(name), "%.*s", (int)(eq - a->valuestring), a->valuestring);
		cJSON_DeleteItemFromObjectCaseSensitive(env, name); /* the last one wins */
		cJSON_AddStringToObject(env, name, eq + 1);
	}
	v = cJSON_GetObjectItemCaseSensitive(c, "WorkingDir");
	cJSON_AddStringToObject(m, "cwd",
				cJSON_IsString(v) && *v->valuestring ? v->valuestring : ".");
	v = cJSON_GetObjectItemCaseSensitive(c, "User");
	r = job_user(o, cJSON_GetStringValue(v), user, &uid, &gid);
	if (r < 0)
		return cJSON_Delete(m), r;
	if (uid == 0 || gid == 0) {
		/* the agent runs no job as root: an image made to run as root gets a user */
		fprintf(stderr, "cvm pack: the image runs as root; its job runs as 1000:1000 "
				"(--user to choose)\n");
		uid = uid ? uid : 1000;
		gid = gid ? gid : 1000;
	}
	v = cJSON_AddObjectToObject(m, "user");
	cJSON_AddNumberToObject((cJSON *)v, "uid", (double)uid);
	cJSON_AddNumberToObject((cJSON *)v, "gid", (double)gid);
	cJSON_AddStringToObject(m, "output_dir", "/output");
	*out = m;
	return 0;
}

/* ---- the whole ---- */

/* The directories the agent mounts on, made where the image has none. */
static int make_mount_points(struct oci *o)
{
	for (size_t i = 0; i < ARRAY_SIZE(rootfs_dirs); i++) {
		struct stat st;

		if (fstatat(o->rootfd, rootfs_dirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISDIR(st.st_mode))
				return oci_fail(o, -ENOTDIR,
						"the image's /%s is not a directory (the agent "
						"mounts there)",
						rootfs_dirs[i]);
			continue;
		}
		if (mkdirat(o->rootfd, rootfs_dirs[i], 0755) < 0)
			return oci_fail(o, -errno, "/%s: %s", rootfs_dirs[i], strerror(errno));
	}
	return 0;
}

static void free_layers(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

int oci_unpack(const char *layout, const char *root, const char *user, cJSON **manifest,
	       unsigned *devices_skipped, char *err, size_t errlen)
{
	/* absolute: the layers are read from within the root (libarchive extracts to cwd) */
	_cleanup_free_ char *abs = realpath(layout, NULL);
	struct oci o = { .image = abs, .err = err, .errlen = errlen };
	char config[4200];
	char **layers = NULL;
	size_t n = 0;
	int r;

	*manifest = NULL;
	if (!abs)
		return oci_fail(&o, -errno, "%s: %s", layout, strerror(errno));
	o.imagefd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o.imagefd < 0)
		return oci_fail(&o, -errno, "%s: %s", layout, strerror(errno));
	o.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o.rootfd < 0) {
		close(o.imagefd);
		return oci_fail(&o, -errno, "%s: %s", root, strerror(errno));
	}
	r = open_in_root(o.imagefd, "index.json", O_PATH);
	if (r >= 0)
		close(r);
	if (r >= 0)
		r = oci_layout(&o, &layers, &n, config, sizeof(config));
	else
		r = docker_layout(&o, &layers, &n, config, sizeof(config));
	for (size_t i = 0; r == 0 && i < n; i++)
		r = apply_layer(&o, layers[i], i + 1);
	if (r == 0)
		r = make_mount_points(&o);
	if (r == 0)
		r = config_manifest(&o, config, user, manifest);
	if (r == -ENOMEM)
		oci_fail(&o, r, "out of memory");
	free_layers(layers);
	for (size_t i = 0; i < o.nfiles; i++)
		close(o.files[i]);
	close(o.imagefd);
	close(o.rootfd);
	*devices_skipped = o.devices_skipped;
	return r;
}

/* A tarball (docker save, podman save, or a tarred layout) extracted into dir. */
int oci_extract_tarball(const char *tarball, const char *dir, char *err, size_t errlen)
{
	_cleanup_free_ char *abs = realpath(tarball, NULL);
	struct oci o = { .image = abs, .err = err, .errlen = errlen };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), cwd, r;

	if (!abs) {
		if (fd >= 0)
			close(fd);
		return oci_fail(&o, -errno, "%s: %s", tarball, strerror(errno));
	}
	if (fd < 0)
		return oci_fail(&o, -errno, "%s: %s", dir, strerror(errno));
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || fchdir(fd) < 0) {
		r = oci_fail(&o, -errno, "%s: %s", dir, strerror(errno));
	} else {
		o.rootfd = fd;
		r = layer_files(&o, abs, 0);
		if (r < 0)
			snprintf(err, errlen,
				 "%s: not a docker save / podman save / OCI layout tarball",
				 tarball);
		if (fchdir(cwd) < 0 && r == 0)
			r = oci_fail(&o, -errno, "cannot return to the working directory");
	}
	if (cwd >= 0)
		close(cwd);
	close(fd);
	return r;
}
