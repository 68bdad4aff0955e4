/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm initrd tcb IMG: the trusted base of an image, file by file: its size,
 * the Debian package and version it is a copy of (from this machine's dpkg
 * database, and only when the bytes are the installed file's), and why it
 * is there: which file of the image links it (DT_NEEDED, the ELF
 * interpreter) or which module depends on it (.modinfo), what the agent
 * carries statically (its .cvm-static section, written at link time), or
 * that nothing links it (loaded at run time, or listed by hand).
 */
#include <dirent.h>
#include <errno.h>
#include <gelf.h>
#include <getopt.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "host/cvm.h"
#include "initrd/initrd.h"
#include "lib/lib.h"

#define TCB_MAX_FILE (256u << 20)
#define TCB_MAX_NEEDED 64

struct tcb_ent {
	const struct initrd_item *it;
	bool elf, module;
	char soname[128], interp[128], modname[64], moddeps[512], statics[1024];
	char needed[TCB_MAX_NEEDED][128];
	size_t nneeded;
	char pkg[128], ver[128];
	bool pkg_match;
	char why[1024];
};

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* .modinfo: NUL-separated key=value; the module's name and what it depends on. */
static void modinfo(struct tcb_ent *t, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i += strnlen(p + i, n - i) + 1) {
		if (!strncmp(p + i, "name=", 5))
			snprintf(t->modname, sizeof(t->modname), "%.*s",
				 (int)strnlen(p + i + 5, n - i - 5), p + i + 5);
		else if (!strncmp(p + i, "depends=", 8))
			snprintf(t->moddeps, sizeof(t->moddeps), "%.*s",
				 (int)strnlen(p + i + 8, n - i - 8), p + i + 8);
	}
}

/* What an ELF file says of its links: SONAME, NEEDED, interpreter, .modinfo, .cvm-static. */
static void elf_facts(struct tcb_ent *t, uint8_t *buf, size_t n)
{
	Elf *e = elf_memory((char *)buf, n);
	Elf_Scn *s = NULL;
	size_t shstr = 0, nph = 0;
	GElf_Shdr sh;

	if (!e || elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstr) < 0) {
		elf_end(e);
		return;
	}
	t->elf = true;
	for (size_t i = 0; elf_getphdrnum(e, &nph) == 0 && i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_INTERP && ph.p_offset < n &&
		    ph.p_filesz <= n - ph.p_offset)
			snprintf(t->interp, sizeof(t->interp), "%.*s",
				 (int)strnlen((char *)buf + ph.p_offset, ph.p_filesz),
				 (char *)buf + ph.p_offset);
	}
	while ((s = elf_nextscn(e, s)) && gelf_getshdr(s, &sh)) {
		const char *name = elf_strptr(e, shstr, sh.sh_name);
		Elf_Data *d = elf_getdata(s, NULL);

		if (!name || !d || !d->d_buf)
			continue;
		if (!strcmp(name, ".modinfo")) {
			t->module = true;
			modinfo(t, d->d_buf, d->d_size);
		} else if (!strcmp(name, ".cvm-static")) {
			snprintf(t->statics, sizeof(t->statics), "%.*s",
				 (int)strnlen(d->d_buf, d->d_size), (char *)d->d_buf);
		} else if (sh.sh_type == SHT_DYNAMIC) {
			for (size_t k = 0; k < d->d_size / sizeof(GElf_Dyn); k++) {
				GElf_Dyn dyn;
				const char *v;

				if (!gelf_getdyn(d, (int)k, &dyn))
					break;
				v = (dyn.d_tag == DT_NEEDED || dyn.d_tag == DT_SONAME)
					    ? elf_strptr(e, sh.sh_link, dyn.d_un.d_val)
					    : NULL;
				if (v && dyn.d_tag == DT_SONAME)
					copy(t->soname, sizeof(t->soname), v);
				else if (v && t->nneeded < TCB_MAX_NEEDED)
					copy(t->needed[t->nneeded++], sizeof(t->needed[0]), v);
			}
		}
	}
	elf_end(e);
}

static struct tcb_ent *find(struct tcb_ent *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].it->name, name))
			return &t[i];
	return NULL;
}

/* The image's regular files read again, each analysed in memory (initrd_read checked the archive). */
static int read_contents(const char *path, struct tcb_ent *t, size_t n, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int r = 0;

	archive_read_support_filter_all(a);
	archive_read_support_format_cpio(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s", archive_error_string(a));
		archive_read_free(a);
		return -EIO;
	}
	while (r == 0 && archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		char name[4200];
		struct tcb_ent *x;
		uint8_t *buf;
		la_int64_t size = archive_entry_size(ae);

		snprintf(name, sizeof(name), "/%s", archive_entry_pathname(ae));
		x = find(t, n, name);
		if (!x || archive_entry_filetype(ae) != AE_IFREG || size <= 0 ||
		    (uint64_t)size > TCB_MAX_FILE)
			continue;
		buf = malloc((size_t)size);
		if (!buf || archive_read_data(a, buf, (size_t)size) != size)
			r = -EIO, snprintf(err, errlen, "%.200s: cannot be read", name);
		else
			elf_facts(x, buf, (size_t)size);
		free(buf);
	}
	archive_read_free(a);
	return r;
}

/* SHA-256 of a host file, for the comparison with the image's copy. */
static bool same_as_host(const char *host, const uint8_t sha[32])
{
	uint8_t d[32];
	size_t n;

	return file_digest(host, "SHA256", d, sizeof(d), &n) == 0 && !memcmp(d, sha, 32);
}

/* dpkg's status: the version of package (NAME or NAME:ARCH) into ver. */
static void dpkg_version(const char *pkg, char *ver, size_t cap)
{
	_cleanup_free_ uint8_t *text = NULL;
	char name[128], *p, *end;
	size_t len;

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(pkg, ":"), pkg);
	if (file_read("/var/lib/dpkg/status", 64u << 20, &text, &len) < 0)
		return;
	for (p = (char *)text; p && (p = strstr(p, "Package: ")); p = end) {
		end = strstr(p + 9, "\n\n");
		if (strncmp(p + 9, name, strlen(name)) || p[9 + strlen(name)] != '\n')
			continue;
		for (char *v = strstr(p, "\nVersion: "); v && (!end || v < end);) {
			snprintf(ver, cap, "%.*s", (int)strcspn(v + 10, "\n"), v + 10);
			return;
		}
	}
}

/* The package whose file list names host path P (/var/lib/dpkg/info/PKG.list). */
static bool dpkg_owner(const char *host, char *pkg, size_t cap)
{
	DIR *d = opendir("/var/lib/dpkg/info");
	struct dirent *de;
	bool found = false;

	while (d && !found && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char path[600], line[4200];
		FILE *f;

		if (l < 6 || strcmp(de->d_name + l - 5, ".list"))
			continue;
		snprintf(path, sizeof(path), "/var/lib/dpkg/info/%s", de->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		while (!found && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			if (!strcmp(line, host)) {
				snprintf(pkg, cap, "%.*s", (int)(l - 5), de->d_name);
				found = true;
			}
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

/* Where the image's copy came from: /NAME or /usr/NAME of a Debian package, same bytes. */
static void package_of(struct tcb_ent *t)
{
	const char *pre[] = { "", "/usr" };

	for (size_t i = 0; i < ARRAY_SIZE(pre); i++) {
		char host[4200];

		snprintf(host, sizeof(host), "%s%s", pre[i], t->it->name);
		if (access(host, F_OK) == 0 && dpkg_owner(host, t->pkg, sizeof(t->pkg))) {
			dpkg_version(t->pkg, t->ver, sizeof(t->ver));
			t->pkg_match = same_as_host(host, t->it->sha256);
			return;
		}
	}
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void add_reason(char *why, size_t cap, const char *sep, const char *what)
{
	size_t l = strlen(why);

	snprintf(why + l, cap - l, "%s%s", l ? sep : "", what);
}

/* Why a file is in the image: who links it, who depends on it, or what it is. */
static void reason(struct tcb_ent *t, size_t n, struct tcb_ent *x)
{
	char who[200];

	if (!strcmp(x->it->name, "/init"))
		snprintf(x->why, sizeof(x->why), "the agent, PID 1 (this tree)%s%.900s",
			 *x->statics ? "; static: " : "", x->statics);
	else if (!strcmp(x->it->name, "/etc/cvm/agent.json"))
		copy(x->why, sizeof(x->why), "the agent's configuration");
	else if (!strcmp(x->it->name, INITRD_MODULE_ORDER))
		copy(x->why, sizeof(x->why), "the modules the agent loads, in order");
	else if (!strcmp(x->it->name, INITRD_MODULE_BACKGROUND))
		copy(x->why, sizeof(x->why),
		     "the modules the agent loads beside its work, after its first line");
	if (*x->why || !x->elf)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *b = base(x->it->name);

		if (*t[i].interp && !strcmp(base(t[i].interp), b)) {
			snprintf(who, sizeof(who), "interpreter of %s", t[i].it->name);
			add_reason(x->why, sizeof(x->why), ", ", who);
		}
		for (size_t k = 0; k < t[i].nneeded; k++)
			if (!strcmp(t[i].needed[k], *x->soname ? x->soname : b)) {
				snprintf(who, sizeof(who), "needed by %s", base(t[i].it->name));
				add_reason(x->why, sizeof(x->why), ", ", who);
			}
		if (x->module && t[i].module && *x->modname) {
			char deps[520];

			snprintf(deps, sizeof(deps), ",%s,", t[i].moddeps);
			snprintf(who, sizeof(who), ",%s,", x->modname);
			if (strstr(deps, who)) {
				snprintf(who, sizeof(who), "dependency of %s", t[i].modname);
				add_reason(x->why, sizeof(x->why), ", ", who);
			}
		}
	}
	if (!*x->why)
		copy(x->why, sizeof(x->why),
		     x->module ? "listed (module NAME in the recipe)"
			       : "linked by no file here: loaded at run time (dlopen) or listed");
}

static void print_text(const struct tcb_ent *t, size_t n, const char *img)
{
	uint64_t total = 0;
	size_t libs = 0, mods = 0;

	for (size_t i = 0; i < n; i++) {
		char pv[300];

		snprintf(pv, sizeof(pv), "%s%s%s%s", *t[i].pkg ? t[i].pkg : "-",
			 *t[i].ver ? "=" : "", t[i].ver,
			 *t[i].pkg && !t[i].pkg_match ? " (NOT the installed bytes)" : "");
		printf("%9llu  %-58s  %-44s  %s\n", (unsigned long long)t[i].it->size,
		       t[i].it->name, pv, t[i].why);
		total += t[i].it->size;
		libs += t[i].elf && !t[i].module && strcmp(t[i].it->name, "/init");
		mods += t[i].module;
	}
	printf("%zu files, %llu bytes unpacked, %zu shared objects, %zu modules (%s)\n", n,
	       (unsigned long long)total, libs, mods, img);
}

static cJSON *tcb_json(const struct tcb_ent *t, size_t n)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *files = cJSON_AddArrayToObject(root, "files");

	for (size_t i = 0; files && i < n; i++) {
		cJSON *f = cJSON_CreateObject();

		cJSON_AddItemToArray(files, f);
		cJSON_AddStringToObject(f, "path", t[i].it->name);
		cJSON_AddNumberToObject(f, "size", (double)t[i].it->size);
		json_add_hex(f, "sha256", t[i].it->sha256, 32);
		cJSON_AddStringToObject(f, "package", t[i].pkg);
		cJSON_AddStringToObject(f, "version", t[i].ver);
		cJSON_AddBoolToObject(f, "installed_bytes", t[i].pkg_match);
		cJSON_AddStringToObject(f, "why", t[i].why);
	}
	return root;
}

/* The image read and every regular file analysed: *t (free it) of *n entries over *it. */
static int tcb_collect(const char *img, struct initrd_items *it, struct tcb_ent **t, size_t *n,
		       char *err, size_t errlen)
{
	int r;

	*t = NULL;
	*n = 0;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return snprintf(err, errlen, "libelf: %s", elf_errmsg(-1)), -EIO;
	if ((r = initrd_read(img, it, err, errlen)) < 0)
		return r;
	*t = calloc(it->n ? it->n : 1, sizeof(**t));
	if (!*t)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	for (size_t i = 0; i < it->n; i++)
		if (S_ISREG(it->items[i].mode))
			(*t)[(*n)++].it = &it->items[i];
	if ((r = read_contents(img, *t, *n, err, errlen)) < 0)
		return r;
	for (size_t i = 0; i < *n; i++) {
		package_of(&(*t)[i]);
		reason(*t, *n, &(*t)[i]);
	}
	return 0;
}

int initrd_tcb_text(const char *img, char **text, char *err, size_t errlen)
{
	struct initrd_items it = { 0 };
	_cleanup_free_ struct tcb_ent *t = NULL;
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;
	size_t n;
	int r = tcb_collect(img, &it, &t, &n, err, errlen);

	*text = NULL;
	if (r == 0 && (!(j = tcb_json(t, n)) || !(*text = cJSON_Print(j))))
		r = -ENOMEM, snprintf(err, errlen, "out of memory");
	initrd_items_free(&it);
	return r;
}

int initrd_tcb_main(int argc, char **argv)
{
	static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	struct initrd_items it = { 0 };
	_cleanup_free_ struct tcb_ent *t = NULL;
	_cleanup_free_ char *text = NULL;
	bool json = false;
	size_t n = 0;
	char err[512];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else {
			fputs("Usage: cvm initrd tcb IMG [--json]\n\n"
			      "The image's trusted base, one regular file a line: its size, the "
			      "Debian\n"
			      "package and version it is a copy of (this machine's dpkg database; "
			      "\"NOT\n"
			      "the installed bytes\" when they differ), and why it is there: "
			      "needed by\n"
			      "(DT_NEEDED), interpreter of, dependency of (modules), the agent's "
			      "static\n"
			      "parts, or linked by no file (loaded at run time). --json: one "
			      "object,\n"
			      "what cvm image build writes to OUT/tcb.json and names in the "
			      "manifest.\n",
			      c == 'h' ? stdout : stderr);
			return c == 'h' ? EXIT_OK : EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		log_error("needs IMG; see 'cvm initrd tcb --help'");
		return EXIT_USAGE;
	}
	r = json ? initrd_tcb_text(argv[optind], &text, err, sizeof(err))
		 : tcb_collect(argv[optind], &it, &t, &n, err, sizeof(err));
	if (r < 0) {
		log_error("%s: %s", argv[optind], err);
		initrd_items_free(&it);
		return EXIT_USAGE;
	}
	if (json)
		printf("%s\n", text);
	else
		print_text(t, n, argv[optind]);
	initrd_items_free(&it);
	return EXIT_OK;
}
