/* SPDX-License-Identifier: Apache-2.0 */
/* cvm initrd: build, list and compare reproducible initramfs images. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "host/cvm.h"
#include "initrd/initrd.h"
#include "lib/lib.h"

static void help(FILE *f)
{
	fputs("Usage: cvm initrd build LIST -o OUT [--compress none|gzip|zstd] [--kver VER]\n"
	      "                        [--source-date-epoch N] [--measure] [--json]\n"
	      "       cvm initrd list IMG\n"
	      "       cvm initrd diff A B\n"
	      "       cvm initrd tcb IMG [--json]\n"
	      "\n"
	      "build   writes the entries of LIST (the kernel's gen_init_cpio format: file,\n"
	      "        dir, nod, slink, pipe, sock; and tree SRC DEST, lib PATH [DEST] for an\n"
	      "        ELF file with its shared libraries, module NAME for a module of\n"
	      "        --kver with its dependencies, compress none|gzip|zstd for its\n"
	      "        compression, which --compress overrides; default gzip) as a cpio newc\n"
	      "        archive,\n"
	      "        the same bytes on any machine: entries sorted by path, inode numbers\n"
	      "        in that order, every mtime from --source-date-epoch (or\n"
	      "        SOURCE_DATE_EPOCH, default 0), owners and modes as listed, fixed\n"
	      "        compression. Relative sources are relative to LIST's directory.\n"
	      "        Prints the image's SHA-256; --measure adds SHA-384 and the digests\n"
	      "        verifiers expect for it (SNP hashes table, TDX RTMR2); --json prints\n"
	      "        path, sha256, sha384 and source_date_epoch as one JSON object.\n"
	      "list    prints the entries of an image in list format (any compression)\n"
	      "tcb     prints each file of an image with its size, its Debian package and\n"
	      "        version, and why it is there (what links or loads it)\n"
	      "diff    names the entries that differ between two images\n"
	      "\n"
	      "Exit status: 0 done (diff: the same), 1 diff: they differ,\n"
	      "2 usage error, unreadable or malformed input (nothing is written)\n",
	      f);
}

struct build_opts {
	const char *list, *out, *kver;
	enum initrd_compression comp;
	bool comp_set; /* --compress given: it wins over the list's */
	int64_t mtime;
	bool measure, json;
};

/* 0 to go on, 1 after --help, -1 after a usage error (logged). */
static int build_parse_opts(int argc, char **argv, struct build_opts *o)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "compress", required_argument, NULL, 'c' },
		{ "source-date-epoch", required_argument, NULL, 's' },
		{ "kver", required_argument, NULL, 'k' },
		{ "measure", no_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	int c;

	*o = (struct build_opts){ .comp = INITRD_GZIP };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 'c':
			if (!strcmp(optarg, "none"))
				o->comp = INITRD_NONE, o->comp_set = true;
			else if (!strcmp(optarg, "gzip"))
				o->comp = INITRD_GZIP, o->comp_set = true;
			else if (!strcmp(optarg, "zstd"))
				o->comp = INITRD_ZSTD, o->comp_set = true;
			else {
				log_error("--compress must be none, gzip or zstd");
				return -1;
			}
			break;
		case 's':
			sde = optarg;
			break;
		case 'k':
			o->kver = optarg;
			break;
		case 'm':
			o->measure = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			help(stdout);
			return 1;
		default:
			log_error("unknown or incomplete option '%s'; see 'cvm initrd --help'",
				  argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc - 1 || !o->out) {
		log_error("initrd build needs%s%s; see 'cvm initrd --help'",
			  optind == argc - 1 ? "" : " one LIST", o->out ? "" : " -o OUT");
		return -1;
	}
	if (!strcmp(o->out, "-")) {
		log_error("-o -: the initrd goes to a file (it is read back for its digests)");
		return -1;
	}
	o->list = argv[optind];
	if (sde) {
		char *end;

		errno = 0;
		o->mtime = strtoll(sde, &end, 10);
		if (errno || *end || !*sde || o->mtime < 0 || o->mtime > 0xffffffffll) {
			log_error("source date epoch '%s' is not seconds since 1970 (0 to 2^32-1)",
				  sde);
			return -1;
		}
	}
	return 0;
}

/* The list parsed (its paths relative to its own directory), finished and written. */
static int build_write(const struct build_opts *o)
{
	_cleanup_free_ uint8_t *text = NULL;
	_cleanup_free_ char *dir = NULL;
	struct initrd_list l;
	char err[512];
	size_t len;
	int r;

	r = file_read(o->list, 16u << 20, &text, &len);
	if (r < 0) {
		log_error_errno(r, "%s", o->list);
		return EXIT_USAGE;
	}
	dir = strdup(o->list);
	if (!dir) {
		log_error("out of memory");
		return EXIT_USAGE;
	}
	r = initrd_list_parse((const char *)text, len, dirname(dir), o->kver, &l, err, sizeof(err));
	if (r == 0) {
		for (size_t i = 0; i < l.nbuiltin; i++)
			printf("note: %s is built into kernel %s: nothing to add\n", l.builtin[i],
			       o->kver);
		r = initrd_list_finish(&l, err, sizeof(err));
		if (r == 0)
			r = initrd_write(&l, o->out, o->comp_set ? o->comp : l.compress, o->mtime,
					 err, sizeof(err));
		initrd_list_free(&l);
	}
	if (r < 0) {
		log_error("%s: %s", o->list, err);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* The image's digests: SHA-256 always, SHA-384 too with --measure. */
static int build_print(const struct build_opts *o)
{
	char hex[97];
	uint8_t d[48];

	if (file_digest(o->out, "SHA256", d, sizeof(d), NULL) < 0) {
		log_error("%s: cannot read back", o->out);
		return EXIT_USAGE;
	}
	hex_encode(d, 32, hex);
	if (o->json) {
		_cleanup_(cJSON_Deletep) cJSON *j = cJSON_CreateObject();
		_cleanup_free_ char *text = NULL;

		cJSON_AddStringToObject(j, "path", o->out);
		cJSON_AddStringToObject(j, "sha256", hex);
		cJSON_AddNumberToObject(j, "source_date_epoch", (double)o->mtime);
		if (file_digest(o->out, "SHA384", d, sizeof(d), NULL) == 0) {
			hex_encode(d, 48, hex);
			cJSON_AddStringToObject(j, "sha384", hex);
		}
		text = cJSON_Print(j);
		if (text)
			printf("%s\n", text);
		return EXIT_OK;
	}
	printf("sha256 %s  %s\n", hex, o->out);
	/* every file's time: another epoch (SOURCE_DATE_EPOCH too) is another initrd */
	printf("source_date_epoch %lld\n", (long long)o->mtime);
	if (o->measure && file_digest(o->out, "SHA384", d, sizeof(d), NULL) == 0) {
		hex_encode(d, 48, hex);
		printf("sha384 %s  %s\n", hex, o->out);
		printf("# SNP: the initrd entry of the SEV hashes table is its SHA-256 (above)\n");
		printf("# TDX: OVMF extends RTMR2 with its SHA-384 (above) when it loads it\n");
	}
	return EXIT_OK;
}

static int build_main(int argc, char **argv)
{
	struct build_opts o;
	int r = build_parse_opts(argc, argv, &o);

	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	r = build_write(&o);
	return r == EXIT_OK ? build_print(&o) : r;
}

static const char *kind(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "slink";
	case S_IFBLK:
	case S_IFCHR:
		return "nod";
	case S_IFIFO:
		return "pipe";
	case S_IFSOCK:
		return "sock";
	default:
		return "file";
	}
}

static int list_main(int argc, char **argv)
{
	struct initrd_items it;
	char err[512];

	if (argc != 2) {
		log_error("usage: cvm initrd list IMG");
		return EXIT_USAGE;
	}
	if (initrd_read(argv[1], &it, err, sizeof(err)) < 0) {
		log_error("%s: %s", argv[1], err);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < it.n; i++) {
		const struct initrd_item *e = &it.items[i];
		unsigned perm = e->mode & 07777;

		switch (e->mode & S_IFMT) {
		case S_IFDIR:
		case S_IFIFO:
		case S_IFSOCK:
			printf("%s %s %04o %u %u\n", kind(e->mode), e->name, perm, e->uid, e->gid);
			break;
		case S_IFLNK:
			printf("slink %s %s %04o %u %u\n", e->name, e->link ? e->link : "", perm,
			       e->uid, e->gid);
			break;
		case S_IFBLK:
		case S_IFCHR:
			printf("nod %s %04o %u %u %c %u %u\n", e->name, perm, e->uid, e->gid,
			       S_ISBLK(e->mode) ? 'b' : 'c', e->rdev_major, e->rdev_minor);
			break;
		default: {
			/*
			 * The source is the path inside the image, relative: the list
			 * builds from an unpacked copy. Hard links are one line, at
			 * their first name, with the data from the name that holds it.
			 */
			const struct initrd_item *data = e;
			bool first = true;

			for (size_t k = 0; e->nlink > 1 && k < it.n; k++) {
				if (it.items[k].ino != e->ino ||
				    it.items[k].segment != e->segment || !S_ISREG(it.items[k].mode))
					continue;
				if (k < i)
					first = false;
				if (it.items[k].size > data->size)
					data = &it.items[k];
			}
			if (!first)
				break;
			printf("file %s %s %04o %u %u", e->name, data->name + 1, perm, e->uid,
			       e->gid);
			for (size_t k = i + 1; e->nlink > 1 && k < it.n; k++)
				if (it.items[k].ino == e->ino &&
				    it.items[k].segment == e->segment && S_ISREG(it.items[k].mode))
					printf(" %s", it.items[k].name);
			printf("\n");
		}
		}
	}
	initrd_items_free(&it);
	return EXIT_OK;
}

static int diff_main(int argc, char **argv)
{
	struct initrd_items a, b;
	char err[512];
	size_t i = 0, j = 0, ndiff = 0;

	if (argc != 3) {
		log_error("usage: cvm initrd diff A B");
		return EXIT_USAGE;
	}
	if (initrd_read(argv[1], &a, err, sizeof(err)) < 0) {
		log_error("%s: %s", argv[1], err);
		return EXIT_USAGE;
	}
	if (initrd_read(argv[2], &b, err, sizeof(err)) < 0) {
		initrd_items_free(&a);
		log_error("%s: %s", argv[2], err);
		return EXIT_USAGE;
	}
	while (i < a.n || j < b.n) {
		int c = i == a.n ? 1 : j == b.n ? -1 : strcmp(a.items[i].name, b.items[j].name);
		const struct initrd_item *x = &a.items[i], *y = &b.items[j];

		if (c < 0) {
			printf("only in %s: %s\n", argv[1], x->name);
			i++, ndiff++;
			continue;
		}
		if (c > 0) {
			printf("only in %s: %s\n", argv[2], y->name);
			j++, ndiff++;
			continue;
		}
		if ((x->mode & S_IFMT) != (y->mode & S_IFMT))
			printf("%s: type %s, %s\n", x->name, kind(x->mode), kind(y->mode)), ndiff++;
		else if ((x->mode & 07777) != (y->mode & 07777))
			printf("%s: mode %04o, %04o\n", x->name, x->mode & 07777, y->mode & 07777),
				ndiff++;
		else if (x->uid != y->uid || x->gid != y->gid)
			printf("%s: owner %u:%u, %u:%u\n", x->name, x->uid, x->gid, y->uid, y->gid),
				ndiff++;
		else if ((x->link || y->link) && (!x->link || !y->link || strcmp(x->link, y->link)))
			printf("%s: link target %s, %s\n", x->name, x->link ? x->link : "",
			       y->link ? y->link : ""),
				ndiff++;
		else if (x->rdev_major != y->rdev_major || x->rdev_minor != y->rdev_minor)
			printf("%s: device numbers differ\n", x->name), ndiff++;
		else if (x->size != y->size || memcmp(x->sha256, y->sha256, 32))
			printf("%s: content differs (%llu and %llu bytes)\n", x->name,
			       (unsigned long long)x->size, (unsigned long long)y->size),
				ndiff++;
		i++, j++;
	}
	initrd_items_free(&a);
	initrd_items_free(&b);
	if (ndiff) {
		fflush(stdout);
		log_error("%zu entries differ", ndiff);
		return EXIT_REJECTED;
	}
	printf("%s and %s hold the same entries\n", argv[1], argv[2]);
	return EXIT_OK;
}

int initrd_main(int argc, char **argv)
{
	static const struct subcommand cmds[] = { { "build", build_main },
						  { "list", list_main },
						  { "tcb", initrd_tcb_main },
						  { "diff", diff_main } };

	return subcommand_run(argc, argv, "initrd", cmds, ARRAY_SIZE(cmds), help);
}
