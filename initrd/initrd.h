/* SPDX-License-Identifier: Apache-2.0 */
/*
 * initrd: bit-for-bit reproducible initramfs images from the Linux kernel's
 * usr/gen_init_cpio list format, written as cpio newc with libarchive.
 */
#ifndef CVM_INITRD_H
#define CVM_INITRD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum initrd_type {
	INITRD_FILE,
	INITRD_DIR,
	INITRD_NOD,
	INITRD_SLINK,
	INITRD_PIPE,
	INITRD_SOCK,
};

struct initrd_entry {
	char *name;   /* absolute path in the image, normalised: "/bin/sh" */
	char *source; /* file: where the content comes from; slink: the target */
	enum initrd_type type;
	mode_t mode; /* permission bits (07777) */
	uid_t uid;
	gid_t gid;
	char dev_type; /* nod: 'b' or 'c' */
	unsigned major, minor;
	unsigned line;	     /* where it was listed */
	uint32_t link_group; /* file: entries sharing content through hard links, else 0 */
	bool implicit;	     /* added by a lib or module closure: equal duplicates merge */
	char *data;	     /* file: generated content instead of a source */
	size_t data_len;
};

enum initrd_compression {
	INITRD_GZIP, /* the default */
	INITRD_NONE,
	INITRD_ZSTD,
};

struct initrd_list {
	struct initrd_entry *entries;
	size_t n, cap;
	char *kver;	 /* for module lines */
	char **modules;	 /* module files in load order, paths in the image */
	bool *module_bg; /* each: loaded in the background, after the agent's first line */
	size_t nmodules;
	char **builtin; /* modules found built into the kernel */
	size_t nbuiltin;
	enum initrd_compression compress; /* a "compress" line's, else gzip */
	bool compress_set;
};

/* Where the agent finds the modules to load, in order, one path a line. */
#define INITRD_MODULE_ORDER "/etc/cvm/modules"
/* The modules it loads in the background, once it has said its first line. */
#define INITRD_MODULE_BACKGROUND "/etc/cvm/modules.background"

/* Frees every entry and zeroes l. */
void initrd_list_free(struct initrd_list *l);
/*
 * Parses list text. Relative sources are resolved against base_dir, so
 * that the result does not depend on the working directory. Lines of
 * "tree SRC DEST" are expanded (sorted, no escaping with ..), "lib PATH
 * [DEST]" adds an ELF file and its shared-library closure, "module NAME"
 * a kernel module of kver and its dependencies, "compress none|gzip|zstd"
 * the image's compression (once). On error *err names the line.
 */
int initrd_list_parse(const char *text, size_t len, const char *base_dir, const char *kver,
		      struct initrd_list *l, char *err, size_t errlen);
/* Sorts by name and refuses duplicates and entries whose parent is not a listed directory. */
int initrd_list_finish(struct initrd_list *l, char *err, size_t errlen);

/* Writes the archive to path (through a temporary file renamed at the end). */
int initrd_write(const struct initrd_list *l, const char *path, enum initrd_compression c,
		 int64_t mtime, char *err, size_t errlen);

/* One entry of an archive as read back. */
struct initrd_item {
	char *name;
	char *link;  /* symlink target */
	mode_t mode; /* type and permissions */
	uid_t uid;
	gid_t gid;
	uint64_t size;
	unsigned rdev_major, rdev_minor;
	uint8_t sha256[32];
	uint32_t nlink;
	int64_t ino;
	uint32_t segment; /* which of concatenated archives it came from */
};

struct initrd_items {
	struct initrd_item *items;
	size_t n;
};

/*
 * Reads an image as the kernel does: uncompressed newc archives, possibly
 * concatenated (early microcode first), then one archive in any compression
 * libarchive knows. Sorted by name; a name in a later archive replaces it.
 */
int initrd_read(const char *path, struct initrd_items *out, char *err, size_t errlen);
int initrd_read_memory(const void *buf, size_t len, struct initrd_items *out, char *err,
		       size_t errlen);
void initrd_items_free(struct initrd_items *it);

#endif
