/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Linux kernel's initramfs list format (usr/gen_init_cpio.c):
 *   file <name> <location> <mode> <uid> <gid> [<hard links>...]
 *   dir <name> <mode> <uid> <gid>
 *   nod <name> <mode> <uid> <gid> <dev_type> <maj> <min>
 *   slink <name> <target> <mode> <uid> <gid>
 *   pipe <name> <mode> <uid> <gid>
 *   sock <name> <mode> <uid> <gid>
 * and one extension: tree <src> <dest>, a directory copied recursively.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "initrd/initrd.h"
#include "initrd/internal.h"
#include "lib/lib.h"

#define MAX_ENTRIES 1000000
#define MAX_TOKENS 64
#define MAX_DEPTH 64

#define fail(err, errlen, ...) set_error(err, errlen, -EINVAL, __VA_ARGS__)

static void entry_free(struct initrd_entry *e)
{
	free(e->name);
	free(e->source);
	free(e->data);
}

void initrd_list_free(struct initrd_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_free(&l->entries[i]);
	free(l->entries);
	initrd_modules_free(l);
	free(l->kver);
	memset(l, 0, sizeof(*l));
}

int initrd_list_add(struct initrd_list *l, const struct initrd_entry *e, const char *name,
		    const char *source)
{
	struct initrd_entry *ne;

	if (l->n == MAX_ENTRIES)
		return -E2BIG;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;

		ne = realloc(l->entries, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		l->entries = ne;
		l->cap = cap;
	}
	ne = &l->entries[l->n];
	*ne = *e;
	ne->name = strdup(name);
	ne->source = source ? strdup(source) : NULL;
	ne->data = NULL;
	if (e->data) {
		ne->data = malloc(e->data_len ? e->data_len : 1);
		if (ne->data)
			memcpy(ne->data, e->data, e->data_len);
	}
	if (!ne->name || (source && !ne->source) || (e->data && !ne->data)) {
		entry_free(ne);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

int initrd_add_parents(struct initrd_list *l, const char *name, unsigned line)
{
	struct initrd_entry d = {
		.type = INITRD_DIR, .mode = 0755, .line = line, .implicit = true
	};
	char path[PATH_MAX];
	int r = 0;

	snprintf(path, sizeof(path), "%s", name);
	for (char *c = strchr(path + 1, '/'); c && r == 0; c = strchr(c + 1, '/')) {
		*c = 0;
		r = initrd_list_add(l, &d, path, NULL);
		*c = '/';
	}
	return r;
}

/* "/a/b": absolute, no empty, "." or ".." components, no trailing slash. */
static bool name_ok(const char *s)
{
	const char *c = s;

	if (s[0] != '/' || s[1] == 0 || strlen(s) >= PATH_MAX)
		return false;
	while (*c == '/') {
		const char *next = strchr(c + 1, '/');
		size_t n = next ? (size_t)(next - c - 1) : strlen(c + 1);

		if (n == 0 || (n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
			return false;
		if (!next)
			return true;
		c = next;
	}
	return false;
}

static int parse_ulong(const char *s, int base, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int owner(char **tok, unsigned line, struct initrd_entry *e, char *err, size_t errlen)
{
	unsigned long mode, uid, gid;

	if (parse_ulong(tok[0], 8, 07777, &mode) < 0)
		return fail(err, errlen, "line %u: mode '%s' is not octal 0-7777", line, tok[0]);
	if (parse_ulong(tok[1], 10, 0xfffffffe, &uid) < 0 ||
	    parse_ulong(tok[2], 10, 0xfffffffe, &gid) < 0)
		return fail(err, errlen, "line %u: uid and gid must be numbers", line);
	e->mode = (mode_t)mode;
	e->uid = (uid_t)uid;
	e->gid = (gid_t)gid;
	return 0;
}

static char *resolve(const char *base_dir, const char *path)
{
	char *out;

	if (path[0] == '/' || !base_dir)
		return strdup(path);
	if (asprintf(&out, "%s/%s", base_dir, path) < 0)
		return NULL;
	return out;
}

static bool has_dotdot(const char *p)
{
	const char *c = p;

	while ((c = strstr(c, "..")) != NULL) {
		if ((c == p || c[-1] == '/') && (c[2] == 0 || c[2] == '/'))
			return true;
		c += 2;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A tree is copied with normalised metadata, so that the builder's umask and
 * user do not show: root-owned, directories 0755, files 0755 when any execute
 * bit is set and 0644 otherwise, symbolic links stored as links.
 */
static int add_tree(struct initrd_list *l, const char *src, const char *dest, unsigned line,
		    int depth, char *err, size_t errlen);

/* The names in directory src, sorted: directory order is whatever the file system keeps. */
static int tree_names(const char *src, char ***out, size_t *count)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(src);
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(*nn));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r == 0 && n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	*out = names;
	*count = n;
	return r;
}

/* One name of a tree: s on the build host, t in the image; directories recursively. */
static int tree_entry(struct initrd_list *l, const char *s, const char *t, unsigned line, int depth,
		      char *err, size_t errlen)
{
	struct initrd_entry e = { .line = line };
	struct stat st;
	int r;

	if (lstat(s, &st) < 0)
		return fail(err, errlen, "line %u: %s: %s", line, s, strerror(errno));
	if (!name_ok(t))
		return fail(err, errlen, "line %u: %s: not a usable name in the image", line, t);
	if (S_ISDIR(st.st_mode)) {
		e.type = INITRD_DIR;
		e.mode = 0755;
		r = initrd_list_add(l, &e, t, NULL);
		return r == 0 ? add_tree(l, s, t, line, depth + 1, err, errlen) : r;
	}
	if (S_ISREG(st.st_mode)) {
		e.type = INITRD_FILE;
		e.mode = st.st_mode & 0111 ? 0755 : 0644;
		return initrd_list_add(l, &e, t, s);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t k = readlink(s, target, sizeof(target) - 1);

		if (k < 0)
			return fail(err, errlen, "line %u: %s: %s", line, s, strerror(errno));
		target[k] = 0;
		e.type = INITRD_SLINK;
		e.mode = 0777;
		return initrd_list_add(l, &e, t, target);
	}
	return fail(err, errlen,
		    "line %u: %s: devices, pipes and sockets are listed, "
		    "not copied from a tree",
		    line, s);
}

static int add_tree(struct initrd_list *l, const char *src, const char *dest, unsigned line,
		    int depth, char *err, size_t errlen)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	if (depth > MAX_DEPTH)
		return fail(err, errlen, "line %u: %s nests deeper than %d", line, src, MAX_DEPTH);
	r = tree_names(src, &names, &n);
	if (r < 0 && r != -ENOMEM)
		return fail(err, errlen, "line %u: %s: %s", line, src, strerror(-r));
	for (size_t i = 0; r == 0 && i < n; i++) {
		char *s = NULL, *t = NULL;

		if (asprintf(&s, "%s/%s", src, names[i]) < 0 ||
		    asprintf(&t, "%s%s%s", dest, strcmp(dest, "/") ? "/" : "", names[i]) < 0) {
			free(s);
			r = -ENOMEM;
			break;
		}
		r = tree_entry(l, s, t, line, depth, err, errlen);
		free(s);
		free(t);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r == -ENOMEM ? fail(err, errlen, "line %u: out of memory", line) : r;
}

static const char *absolute(const char *name, char *buf, size_t cap)
{
	if (name[0] == '/')
		return name;
	snprintf(buf, cap, "/%s", name);
	return buf;
}

/* tree SRC DEST: a directory of the build host, its own directory included. */
static int parse_tree(char **tok, int nt, unsigned line, const char *base_dir,
		      struct initrd_list *l, char *err, size_t errlen)
{
	_cleanup_free_ char *src = NULL;
	struct stat st;

	if (nt != 3)
		return fail(err, errlen, "line %u: tree takes SRC DEST", line);
	if (has_dotdot(tok[1]))
		return fail(err, errlen, "line %u: tree source %s escapes with ..", line, tok[1]);
	if (strcmp(tok[2], "/") && !name_ok(tok[2]))
		return fail(err, errlen, "line %u: %s is not an absolute, normal path", line,
			    tok[2]);
	src = resolve(base_dir, tok[1]);
	if (!src)
		return -ENOMEM;
	if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
		return fail(err, errlen, "line %u: %s: %s", line, src,
			    errno == ELOOP ? "symbolic link loop" : "not a directory");
	/* The tree's own directory is part of it (root excepted, which always is). */
	if (strcmp(tok[2], "/")) {
		struct initrd_entry d = { .type = INITRD_DIR, .mode = 0755, .line = line };
		int r = initrd_list_add(l, &d, tok[2], NULL);

		if (r < 0)
			return r;
	}
	return add_tree(l, src, tok[2], line, 0, err, errlen);
}

/* lib PATH [DEST]: a shared object and what it needs. */
static int parse_lib(char **tok, int nt, unsigned line, const char *base_dir, struct initrd_list *l,
		     char *err, size_t errlen)
{
	_cleanup_free_ char *src = NULL;

	if (nt != 2 && nt != 3)
		return fail(err, errlen, "line %u: lib takes PATH [DEST]", line);
	if (nt == 3 && !name_ok(tok[2]))
		return fail(err, errlen, "line %u: %s is not an absolute, normal path", line,
			    tok[2]);
	src = resolve(base_dir, tok[1]);
	if (!src)
		return -ENOMEM;
	return initrd_add_lib(l, src, nt == 3 ? tok[2] : NULL, line, err, errlen);
}

/* file NAME SRC MODE UID GID [HARDLINK...]: a file and its hard links. */
static int parse_file(char **tok, int nt, int want, const char *base_dir, struct initrd_list *l,
		      struct initrd_entry *e, uint32_t *groups, char *err, size_t errlen)
{
	const unsigned line = e->line;
	_cleanup_free_ char *src = NULL;
	int r = owner(tok + 3, line, e, err, errlen);

	if (r < 0)
		return r;
	src = resolve(base_dir, tok[2]);
	if (!src)
		return -ENOMEM;
	if (access(src, R_OK) < 0)
		return fail(err, errlen, "line %u: %s: %s", line, src, strerror(errno));
	if (nt > want)
		e->link_group = ++*groups;
	r = initrd_list_add(l, e, tok[1], src);
	for (int i = want; r == 0 && i < nt; i++) {
		char hl[PATH_MAX];

		tok[i] = (char *)absolute(tok[i], hl, sizeof(hl));
		if (!name_ok(tok[i]))
			return fail(err, errlen,
				    "line %u: hard link %s is not an absolute, "
				    "normal path",
				    line, tok[i]);
		r = initrd_list_add(l, e, tok[i], src);
	}
	return r;
}

/* nod NAME MODE UID GID b|c MAJ MIN: a device node. */
static int parse_nod(char **tok, struct initrd_list *l, struct initrd_entry *e, char *err,
		     size_t errlen)
{
	unsigned long maj, min;
	int r = owner(tok + 2, e->line, e, err, errlen);

	if (r < 0)
		return r;
	if (strcmp(tok[5], "b") && strcmp(tok[5], "c"))
		return fail(err, errlen, "line %u: device type must be b or c", e->line);
	if (parse_ulong(tok[6], 10, 4095, &maj) < 0 || parse_ulong(tok[7], 10, 1048575, &min) < 0)
		return fail(err, errlen, "line %u: bad device numbers", e->line);
	e->dev_type = tok[5][0];
	e->major = (unsigned)maj;
	e->minor = (unsigned)min;
	return initrd_list_add(l, e, tok[1], NULL);
}

/* compress none|gzip|zstd: how the image is compressed (the kernel unpacks each). */
static int parse_compress(char **tok, int nt, unsigned line, struct initrd_list *l, char *err,
			  size_t errlen)
{
	static const char *const names[] = {
		[INITRD_GZIP] = "gzip", [INITRD_NONE] = "none", [INITRD_ZSTD] = "zstd"
	};

	if (nt != 2)
		return fail(err, errlen, "line %u: compress takes none, gzip or zstd", line);
	if (l->compress_set)
		return fail(err, errlen, "line %u: a second compress line", line);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(tok[1], names[i])) {
			l->compress = (enum initrd_compression)i;
			l->compress_set = true;
			return 0;
		}
	return fail(err, errlen, "line %u: compress takes none, gzip or zstd, not '%s'", line,
		    tok[1]);
}

/* The entry types of gen_init_cpio's format, and how many fields each takes (its keyword too). */
static const struct {
	const char *kw;
	enum initrd_type type;
	int want;
} entry_kinds[] = {
	{ "file", INITRD_FILE, 6 },   { "dir", INITRD_DIR, 5 },	  { "nod", INITRD_NOD, 8 },
	{ "slink", INITRD_SLINK, 6 }, { "pipe", INITRD_PIPE, 5 }, { "sock", INITRD_SOCK, 5 },
};

static int parse_line(char **tok, int nt, unsigned line, const char *base_dir,
		      struct initrd_list *l, uint32_t *groups, char *err, size_t errlen)
{
	struct initrd_entry e = { .line = line };
	char name1[PATH_MAX];
	const char *kw = tok[0];
	int r, want = 0;

	if (!strcmp(kw, "tree"))
		return parse_tree(tok, nt, line, base_dir, l, err, errlen);
	if (!strcmp(kw, "lib"))
		return parse_lib(tok, nt, line, base_dir, l, err, errlen);
	if (!strcmp(kw, "compress"))
		return parse_compress(tok, nt, line, l, err, errlen);
	if (!strcmp(kw, "module")) {
		if (nt != 2 && (nt != 3 || strcmp(tok[2], "background")))
			return fail(err, errlen, "line %u: module takes NAME [background]", line);
		if (!l->kver)
			return fail(err, errlen, "line %u: module lines need --kver", line);
		return initrd_add_module(l, tok[1], nt == 3, line, err, errlen);
	}
	for (size_t i = 0; !want && i < ARRAY_SIZE(entry_kinds); i++)
		if (!strcmp(kw, entry_kinds[i].kw))
			e.type = entry_kinds[i].type, want = entry_kinds[i].want;
	if (!want)
		return fail(err, errlen,
			    "line %u: unknown type '%s' (file, dir, nod, slink, pipe, "
			    "sock, tree, lib, module, compress)",
			    line, kw);
	if (nt < want || (nt > want && e.type != INITRD_FILE))
		return fail(err, errlen, "line %u: %s takes %d fields, not %d", line, kw, want - 1,
			    nt - 1);
	/* gen_init_cpio takes names with or without the leading slash. */
	tok[1] = (char *)absolute(tok[1], name1, sizeof(name1));
	if (!name_ok(tok[1]))
		return fail(err, errlen, "line %u: name %s is not a normal path", line, tok[1]);
	switch (e.type) {
	case INITRD_FILE:
		return parse_file(tok, nt, want, base_dir, l, &e, groups, err, errlen);
	case INITRD_SLINK:
		r = owner(tok + 3, line, &e, err, errlen);
		return r < 0 ? r : initrd_list_add(l, &e, tok[1], tok[2]);
	case INITRD_NOD:
		return parse_nod(tok, l, &e, err, errlen);
	default:
		r = owner(tok + 2, line, &e, err, errlen);
		return r < 0 ? r : initrd_list_add(l, &e, tok[1], NULL);
	}
}

int initrd_list_parse(const char *text, size_t len, const char *base_dir, const char *kver,
		      struct initrd_list *l, char *err, size_t errlen)
{
	char *copy = malloc(len + 1), *line, *save = NULL;
	uint32_t groups = 0;
	unsigned lineno = 0;
	int r = 0;

	memset(l, 0, sizeof(*l));
	if (!copy)
		return -ENOMEM;
	if (kver && !(l->kver = strdup(kver))) {
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = 0;
	if (memchr(text, 0, len)) {
		free(copy);
		return fail(err, errlen, "the list contains a NUL byte");
	}
	/* strsep keeps empty lines, so that line numbers stay right. */
	save = copy;
	while (r == 0 && (line = strsep(&save, "\n")) != NULL) {
		char *tok[MAX_TOKENS], *t, *p = line;
		int nt = 0;

		lineno++;
		while ((t = strsep(&p, " \t\r")) != NULL) {
			if (!*t)
				continue;
			if (nt == 0 && t[0] == '#')
				break;
			if (nt == MAX_TOKENS) {
				r = fail(err, errlen, "line %u: too many fields", lineno);
				break;
			}
			tok[nt++] = t;
		}
		if (r == 0 && nt > 0)
			r = parse_line(tok, nt, lineno, base_dir, l, &groups, err, errlen);
	}
	free(copy);
	if (r == 0)
		r = initrd_finish_modules(l, err, errlen);
	if (r == -ENOMEM)
		fail(err, errlen, "out of memory");
	if (r < 0)
		initrd_list_free(l);
	return r;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct initrd_entry *)a)->name,
		      ((const struct initrd_entry *)b)->name);
}

static bool same_entry(const struct initrd_entry *a, const struct initrd_entry *b)
{
	return a->type == b->type && a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
	       !a->link_group && !b->link_group && !a->data && !b->data &&
	       (a->source == b->source ||
		(a->source && b->source && !strcmp(a->source, b->source)));
}

int initrd_list_finish(struct initrd_list *l, char *err, size_t errlen)
{
	size_t o = 0;

	if (l->n > 1)
		qsort(l->entries, l->n, sizeof(*l->entries), cmp_entry);
	/*
	 * Closures add what they need; a directory or file they share with
	 * another line (or closure) merges when both are the same entry. An
	 * implicit directory yields to a listed one.
	 */
	for (size_t i = 0; i < l->n; i++) {
		struct initrd_entry *prev = o ? &l->entries[o - 1] : NULL, *e = &l->entries[i];

		if (prev && !strcmp(prev->name, e->name) && (prev->implicit || e->implicit) &&
		    (same_entry(prev, e) || (prev->type == INITRD_DIR && e->type == INITRD_DIR))) {
			if (prev->implicit && !e->implicit) {
				entry_free(prev);
				*prev = *e;
			} else {
				entry_free(e);
			}
			continue;
		}
		l->entries[o++] = *e;
	}
	l->n = o;
	for (size_t i = 0; i < l->n; i++) {
		const struct initrd_entry *e = &l->entries[i];
		char parent[PATH_MAX];
		const char *slash = strrchr(e->name, '/');
		struct initrd_entry key = { .name = parent };
		const struct initrd_entry *p;

		if (i > 0 && !strcmp(e->name, l->entries[i - 1].name))
			return fail(err, errlen, "line %u: %s is listed twice (also line %u)",
				    e->line, e->name, l->entries[i - 1].line);
		if (slash == e->name)
			continue;
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - e->name), e->name);
		p = bsearch(&key, l->entries, l->n, sizeof(*l->entries), cmp_entry);
		if (!p || p->type != INITRD_DIR)
			return fail(err, errlen, "line %u: %s: its directory %s is not listed",
				    e->line, e->name, parent);
	}
	return 0;
}
