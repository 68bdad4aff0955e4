/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Closures: an ELF file with the shared libraries the dynamic loader would
 * load for it on this host (libelf), and a kernel module with the modules
 * it depends on (libkmod over the kernel's modules.dep).
 *
 * Library search follows ld.so(8): DT_RPATH (when there is no DT_RUNPATH),
 * DT_RUNPATH, the directories of /etc/ld.so.conf, then the default
 * directories. LD_LIBRARY_PATH is ignored: the build must not depend on the
 * builder's environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <libkmod.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "initrd/internal.h"
#include "lib/lib.h"

#define MAX_LIBS 1024
#define MAX_DIRS 64

#define fail(err, errlen, ...) set_error(err, errlen, -EINVAL, __VA_ARGS__)

struct elf_info {
	int class, machine;
	char interp[PATH_MAX];
	char *needed[256];
	size_t nneeded;
	char rpath[PATH_MAX], runpath[PATH_MAX];
	bool dynamic;
};

static void elf_info_free(struct elf_info *i)
{
	for (size_t k = 0; k < i->nneeded; k++)
		free(i->needed[k]);
}

static int elf_read(const char *path, struct elf_info *info, char *err, size_t errlen,
		    unsigned line)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	Elf *e = NULL;
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	size_t nph;

	memset(info, 0, sizeof(*info));
	if (fd < 0)
		return fail(err, errlen, "line %u: %s: %s", line, path, strerror(errno));
	if (elf_version(EV_CURRENT) == EV_NONE || !(e = elf_begin(fd, ELF_C_READ, NULL)) ||
	    elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh)) {
		r = fail(err, errlen, "line %u: %s is not an ELF file", line, path);
		goto out;
	}
	info->class = gelf_getclass(e);
	info->machine = eh.e_machine;
	if (elf_getphdrnum(e, &nph) == 0) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;
			struct stat st;

			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_INTERP)
				continue;
			if (fstat(fd, &st) < 0 || ph.p_filesz == 0 || ph.p_filesz >= PATH_MAX ||
			    ph.p_offset > (uint64_t)st.st_size ||
			    ph.p_filesz > (uint64_t)st.st_size - ph.p_offset ||
			    pread(fd, info->interp, ph.p_filesz, (off_t)ph.p_offset) !=
				    (ssize_t)ph.p_filesz) {
				r = fail(err, errlen, "line %u: %s: bad PT_INTERP", line, path);
				goto out;
			}
			info->interp[ph.p_filesz - 1] = 0;
		}
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		info->dynamic = true;
		for (size_t i = 0; sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			const char *s;

			if (!gelf_getdyn(d, (int)i, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RPATH &&
			    dyn.d_tag != DT_RUNPATH)
				continue;
			s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
			if (!s) {
				r = fail(err, errlen, "line %u: %s: bad dynamic string", line,
					 path);
				goto out;
			}
			if (dyn.d_tag == DT_NEEDED) {
				if (info->nneeded == ARRAY_SIZE(info->needed) ||
				    !(info->needed[info->nneeded] = strdup(s))) {
					r = fail(err, errlen, "line %u: %s: too many DT_NEEDED",
						 line, path);
					goto out;
				}
				info->nneeded++;
			} else {
				snprintf(dyn.d_tag == DT_RPATH ? info->rpath : info->runpath,
					 PATH_MAX, "%s", s);
			}
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	if (r < 0)
		elf_info_free(info);
	return r;
}

/* The library directories of /etc/ld.so.conf and the files it includes. */
static size_t ldso_conf_dirs(const char *conf, char dirs[][PATH_MAX], size_t n, size_t cap,
			     int depth)
{
	FILE *f = fopen(conf, "r");
	char line[PATH_MAX];

	if (!f || depth > 4)
		goto done;
	while (fgets(line, sizeof(line), f) && n < cap) {
		char *s = line, *e;

		s[strcspn(s, "#\n")] = 0;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = 0;
		if (!*s)
			continue;
		if (!strncmp(s, "include", 7) && (s[7] == ' ' || s[7] == '\t')) {
			glob_t g;

			s += 8;
			while (*s == ' ' || *s == '\t')
				s++;
			if (glob(s, 0, NULL, &g) == 0) {
				/* glob sorts its results: the order is the same on every host. */
				for (size_t i = 0; i < g.gl_pathc; i++)
					n = ldso_conf_dirs(g.gl_pathv[i], dirs, n, cap, depth + 1);
				globfree(&g);
			}
			continue;
		}
		if (s[0] == '/')
			snprintf(dirs[n++], PATH_MAX, "%s", s);
	}
done:
	if (f)
		fclose(f);
	return n;
}

struct search {
	char dirs[MAX_DIRS][PATH_MAX];
	size_t n;
};

static void search_add_list(struct search *s, const char *list, const char *origin)
{
	char copy[PATH_MAX], *save = NULL, *tok;

	snprintf(copy, sizeof(copy), "%s", list);
	for (tok = strtok_r(copy, ":", &save); tok && s->n < MAX_DIRS;
	     tok = strtok_r(NULL, ":", &save)) {
		if (!strncmp(tok, "$ORIGIN", 7))
			snprintf(s->dirs[s->n++], PATH_MAX, "%s%s", origin, tok + 7);
		else if (!strncmp(tok, "${ORIGIN}", 9))
			snprintf(s->dirs[s->n++], PATH_MAX, "%s%s", origin, tok + 9);
		else if (tok[0] == '/')
			snprintf(s->dirs[s->n++], PATH_MAX, "%s", tok);
	}
}

static bool compatible(const char *path, const struct elf_info *want)
{
	struct elf_info i;
	bool ok;

	if (elf_read(path, &i, NULL, 0, 0) < 0)
		return false;
	ok = i.class == want->class && i.machine == want->machine;
	elf_info_free(&i);
	return ok;
}

/* Lexically normalises an absolute path: no ".", ".." or empty components. */
static int normalise(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	const char *c = in;

	if (in[0] != '/' || cap < 2)
		return -EINVAL;
	while (*c) {
		const char *next;
		size_t n;

		while (*c == '/')
			c++;
		next = strchr(c, '/');
		n = next ? (size_t)(next - c) : strlen(c);
		if (n == 0)
			break;
		if (n == 1 && c[0] == '.') {
			/* nothing */
		} else if (n == 2 && c[0] == '.' && c[1] == '.') {
			while (o > 0 && out[--o] != '/')
				;
		} else {
			if (o + 1 + n >= cap)
				return -ENAMETOOLONG;
			out[o++] = '/';
			memcpy(out + o, c, n);
			o += n;
		}
		c += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return 0;
}

/*
 * Adds a path of the host as the same path in the image. A symbolic link is
 * kept as a link, and its target (resolved lexically, as the kernel will in
 * the image) added in turn.
 */
static int add_path(struct initrd_list *l, const char *path, unsigned line, char *err,
		    size_t errlen, int depth)
{
	struct initrd_entry e = { .line = line, .implicit = true };
	char target[PATH_MAX], joined[PATH_MAX * 2 + 2], next[PATH_MAX];
	struct stat st;
	ssize_t k;
	int r;

	if (depth > 16)
		return fail(err, errlen, "line %u: %s: symbolic link loop", line, path);
	if (lstat(path, &st) < 0)
		return fail(err, errlen, "line %u: %s: %s", line, path, strerror(errno));
	r = initrd_add_parents(l, path, line);
	if (r < 0)
		return r;
	if (S_ISREG(st.st_mode)) {
		e.type = INITRD_FILE;
		e.mode = st.st_mode & 0111 ? 0755 : 0644;
		return initrd_list_add(l, &e, path, path);
	}
	if (!S_ISLNK(st.st_mode))
		return fail(err, errlen, "line %u: %s is not a file", line, path);
	k = readlink(path, target, sizeof(target) - 1);
	if (k < 0)
		return fail(err, errlen, "line %u: %s: %s", line, path, strerror(errno));
	target[k] = 0;
	e.type = INITRD_SLINK;
	e.mode = 0777;
	r = initrd_list_add(l, &e, path, target);
	if (r < 0)
		return r;
	if (target[0] == '/')
		snprintf(joined, sizeof(joined), "%s", target);
	else
		snprintf(joined, sizeof(joined), "%.*s/%s", (int)(strrchr(path, '/') - path), path,
			 target);
	if (normalise(joined, next, sizeof(next)) < 0)
		return fail(err, errlen, "line %u: %s: link target too long", line, path);
	return add_path(l, next, line, err, errlen, depth + 1);
}

/* The libraries of one lib line, each once: the first is the one asked for. */
struct lib_queue {
	char (*path)[PATH_MAX];
	size_t head, tail;
};

/* Where the libraries cur (the file at path) needs are looked for, in ld.so's order. */
static void lib_search(const struct elf_info *cur, const char *path, struct search *s)
{
	static const char *const defaults[] = { "/lib/x86_64-linux-gnu",
						"/usr/lib/x86_64-linux-gnu",
						"/lib64",
						"/usr/lib64",
						"/lib",
						"/usr/lib" };
	char origin[PATH_MAX];
	const char *slash = strrchr(path, '/');

	snprintf(origin, sizeof(origin), "%.*s", (int)(slash - path), path);
	if (cur->rpath[0] && !cur->runpath[0])
		search_add_list(s, cur->rpath, origin);
	if (cur->runpath[0])
		search_add_list(s, cur->runpath, origin);
	s->n = ldso_conf_dirs("/etc/ld.so.conf", s->dirs, s->n, MAX_DIRS, 0);
	for (size_t i = 0; i < ARRAY_SIZE(defaults) && s->n < MAX_DIRS; i++)
		snprintf(s->dirs[s->n++], PATH_MAX, "%s", defaults[i]);
}

/* The first file named needed in s that is of root's class and machine, into cand. */
static bool lib_find(const char *needed, const struct search *s, const struct elf_info *root,
		     char cand[PATH_MAX])
{
	bool found = false;

	for (size_t d = 0; d < s->n && !found; d++) {
		int w = needed[0] == '/' ? snprintf(cand, PATH_MAX, "%s", needed)
					 : snprintf(cand, PATH_MAX, "%s/%s", s->dirs[d], needed);

		found = w > 0 && w < PATH_MAX && access(cand, R_OK) == 0 && compatible(cand, root);
	}
	return found;
}

/* Every library cur (the queue's head) needs: found, queued and added once. */
static int lib_add_needed(struct initrd_list *l, struct lib_queue *q, const struct elf_info *cur,
			  const struct elf_info *root, unsigned line, char *err, size_t errlen)
{
	const char *path = q->path[q->head];
	struct search s = { .n = 0 };
	int r = 0;

	lib_search(cur, path, &s);
	for (size_t k = 0; r == 0 && k < cur->nneeded; k++) {
		char cand[PATH_MAX];
		bool seen = false;

		if (!lib_find(cur->needed[k], &s, root, cand))
			return fail(err, errlen, "line %u: %s needs %s, not found on this host",
				    line, path, cur->needed[k]);
		for (size_t i = 0; i < q->tail; i++)
			seen |= !strcmp(q->path[i], cand);
		if (seen)
			continue;
		if (q->tail == MAX_LIBS)
			return fail(err, errlen, "line %u: more than %d libraries", line, MAX_LIBS);
		memcpy(q->path[q->tail++], cand, PATH_MAX);
		r = add_path(l, cand, line, err, errlen, 0);
	}
	return r;
}

/* The file itself, under DEST or its own path, and its interpreter. */
static int lib_add_self(struct initrd_list *l, const char *path, const char *dest,
			const struct elf_info *root, unsigned line, char *err, size_t errlen)
{
	struct initrd_entry e = { .type = INITRD_FILE, .mode = 0755, .line = line };
	const char *name = dest ? dest : path;
	int r;

	if (name[0] != '/')
		return fail(err, errlen, "line %u: lib %s needs an absolute DEST", line, path);
	r = initrd_add_parents(l, name, line);
	if (r == 0)
		r = initrd_list_add(l, &e, name, path);
	if (r == 0 && root->interp[0])
		r = add_path(l, root->interp, line, err, errlen, 0);
	return r;
}

int initrd_add_lib(struct initrd_list *l, const char *path, const char *dest, unsigned line,
		   char *err, size_t errlen)
{
	struct lib_queue q = { .path = calloc(MAX_LIBS, PATH_MAX) };
	struct elf_info root;
	int r;

	if (!q.path)
		return -ENOMEM;
	r = elf_read(path, &root, err, errlen, line);
	if (r < 0)
		goto out;
	r = lib_add_self(l, path, dest, &root, line, err, errlen);
	snprintf(q.path[q.tail++], PATH_MAX, "%s", path);
	while (r == 0 && q.head < q.tail) {
		struct elf_info cur;

		if (q.head == 0) {
			cur = root;
		} else {
			r = elf_read(q.path[q.head], &cur, err, errlen, line);
			if (r < 0)
				break;
		}
		r = lib_add_needed(l, &q, &cur, &root, line, err, errlen);
		if (q.head > 0)
			elf_info_free(&cur);
		q.head++;
	}
	elf_info_free(&root);
out:
	free(q.path);
	return r;
}

/* ---- kernel modules ---- */

static int push_str(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

void initrd_modules_free(struct initrd_list *l)
{
	for (size_t i = 0; i < l->nmodules; i++)
		free(l->modules[i]);
	for (size_t i = 0; i < l->nbuiltin; i++)
		free(l->builtin[i]);
	free(l->modules);
	free(l->module_bg);
	free(l->builtin);
	l->modules = l->builtin = NULL;
	l->module_bg = NULL;
	l->nmodules = l->nbuiltin = 0;
}

/*
 * Depth first: dependencies before the module, each once. A module the
 * boot needs is loaded at boot with everything it depends on, even when an
 * earlier line put one of them in the background.
 */
static int add_module_rec(struct initrd_list *l, struct kmod_module *m, bool bg, unsigned line,
			  int depth, char *err, size_t errlen)
{
	struct kmod_list *deps, *it;
	const char *path = kmod_module_get_path(m);
	size_t at = SIZE_MAX;
	bool *nbg;
	int r = 0;

	if (depth > 64)
		return fail(err, errlen, "line %u: module dependencies nest too deep", line);
	if (!path) {
		for (size_t i = 0; i < l->nbuiltin; i++)
			if (!strcmp(l->builtin[i], kmod_module_get_name(m)))
				return 0;
		return push_str(&l->builtin, &l->nbuiltin, kmod_module_get_name(m));
	}
	for (size_t i = 0; i < l->nmodules; i++)
		if (!strcmp(l->modules[i], path))
			at = i;
	if (at != SIZE_MAX && (bg || !l->module_bg[at]))
		return 0;
	if (at != SIZE_MAX)
		l->module_bg[at] = false;
	deps = kmod_module_get_dependencies(m);
	kmod_list_foreach(it, deps)
	{
		struct kmod_module *d = kmod_module_get_module(it);

		if (r == 0)
			r = add_module_rec(l, d, bg, line, depth + 1, err, errlen);
		kmod_module_unref(d);
	}
	kmod_module_unref_list(deps);
	if (r < 0 || at != SIZE_MAX)
		return r;
	r = add_path(l, path, line, err, errlen, 0);
	if (r < 0)
		return r;
	nbg = realloc(l->module_bg, (l->nmodules + 1) * sizeof(*nbg));
	if (!nbg)
		return -ENOMEM;
	l->module_bg = nbg;
	nbg[l->nmodules] = bg;
	return push_str(&l->modules, &l->nmodules, path);
}

int initrd_add_module(struct initrd_list *l, const char *name, bool bg, unsigned line, char *err,
		      size_t errlen)
{
	char dir[PATH_MAX];
	struct kmod_ctx *ctx;
	struct kmod_list *list = NULL, *it;
	int r = 0;

	if (strchr(l->kver, '/') || !strcmp(l->kver, "..") || !strcmp(l->kver, "."))
		return fail(err, errlen, "line %u: bad kernel version %s", line, l->kver);
	snprintf(dir, sizeof(dir), "/lib/modules/%s", l->kver);
	if (access(dir, R_OK) < 0)
		return fail(err, errlen, "line %u: no modules for kernel %s (%s: %s)", line,
			    l->kver, dir, strerror(errno));
	ctx = kmod_new(dir, NULL);
	if (!ctx)
		return fail(err, errlen, "line %u: libkmod cannot read %s", line, dir);
	if (kmod_module_new_from_lookup(ctx, name, &list) < 0 || !list) {
		r = fail(err, errlen, "line %u: module %s not found for kernel %s", line, name,
			 l->kver);
		goto out;
	}
	kmod_list_foreach(it, list)
	{
		struct kmod_module *m = kmod_module_get_module(it);

		if (r == 0)
			r = add_module_rec(l, m, bg, line, 0, err, errlen);
		kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
out:
	kmod_unref(ctx);
	return r;
}

/* One load-order file: the modules of that stage in order, the built-in ones noted at boot's. */
static int order_file(struct initrd_list *l, const char *name, bool bg)
{
	struct initrd_entry e = { .type = INITRD_FILE, .mode = 0644, .implicit = false };
	size_t len = 0, cap, count = 0;
	char *text;
	int r;

	for (size_t i = 0; i < l->nmodules; i++)
		if (l->module_bg[i] == bg)
			len += strlen(l->modules[i]) + 1, count++;
	for (size_t i = 0; !bg && i < l->nbuiltin; i++)
		len += strlen(l->builtin[i]) + 12, count++;
	if (count == 0 && bg)
		return 0;
	cap = len + 1;
	text = malloc(cap);
	if (!text)
		return -ENOMEM;
	text[0] = 0;
	len = 0;
	/* Paths to load in order; built-in modules as comments, for the record. */
	for (size_t i = 0; !bg && i < l->nbuiltin; i++)
		len += (size_t)snprintf(text + len, cap - len, "# builtin %s\n", l->builtin[i]);
	for (size_t i = 0; i < l->nmodules; i++)
		if (l->module_bg[i] == bg)
			len += (size_t)snprintf(text + len, cap - len, "%s\n", l->modules[i]);
	e.data = text;
	e.data_len = len;
	r = initrd_add_parents(l, name, 0);
	if (r == 0)
		r = initrd_list_add(l, &e, name, NULL);
	free(text);
	return r;
}

int initrd_finish_modules(struct initrd_list *l, char *err, size_t errlen)
{
	int r;

	if (l->nmodules == 0 && l->nbuiltin == 0)
		return 0;
	r = order_file(l, INITRD_MODULE_ORDER, false);
	if (r == 0)
		r = order_file(l, INITRD_MODULE_BACKGROUND, true);
	if (r < 0)
		fail(err, errlen, "out of memory");
	return r;
}
