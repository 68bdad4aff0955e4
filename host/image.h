/* SPDX-License-Identifier: Apache-2.0 */
/* cvm image build's recipe: an image directory's build.json (host/image_recipe.c, docs/image.md). */
#ifndef CVM_HOST_IMAGE_H
#define CVM_HOST_IMAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "measurement/platform.h"

#define MAX_FILES 32
#define MAX_LAUNCHES 16

/* the platforms a manifest holds */
#define MAX_PLATFORMS ARRAY_SIZE(((struct manifest *)0)->p)

struct plat_recipe {
	bool present;
	char firmware[PATH_MAX], vars[PATH_MAX], vcpu_type[33], log[PATH_MAX];
	uint64_t values[MAX_LAUNCHES]; /* memory_mib (tdx, tpm) or vcpus (snp) */
	size_t n;
};

struct recipe {
	char version[65];
	char kernel[PATH_MAX]; /* "{kver}" replaced */
	char list[256];
	char files[MAX_FILES][65]; /* the files per deployment the list needs */
	size_t nfiles;
	struct plat_recipe p[MAX_PLATFORMS]; /* by enum cvm_platform */
};

/* The row of a platform build.json may name (one with launch registers); NULL for another name. */
const struct platform *recipe_row(const char *name);
/*
 * DIR/build.json with "{kver}" of its kernel path replaced by kver; logs
 * one line naming what is wrong and returns -EINVAL.
 */
int recipe_load(const char *dir, const char *kver, struct recipe *rc);
/* The newest kernel version of /boot (vmlinuz-VERSION), or -ENOENT. */
int newest_kver(char *out, size_t cap);
/*
 * --firmware / --firmware-log PLATFORM=PATH (what names the option) over
 * the recipe's; -EINVAL, logged, for a platform build.json does not offer.
 */
int recipe_override(const char *arg, const char *what, struct recipe *rc, bool log);

#endif
