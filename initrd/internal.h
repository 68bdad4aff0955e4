/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to initrd/: what the list parser and the closures share. */
#ifndef CVM_INITRD_INTERNAL_H
#define CVM_INITRD_INTERNAL_H

#include "initrd/initrd.h"

/* Appends a copy of e as name (source: where it came from): -E2BIG past the cap, -ENOMEM. */
int initrd_list_add(struct initrd_list *l, const struct initrd_entry *e, const char *name,
		    const char *source);
/* Adds name's missing ancestors as implicit 0755 root-owned directories. */
int initrd_add_parents(struct initrd_list *l, const char *name, unsigned line);
int initrd_add_lib(struct initrd_list *l, const char *path, const char *dest, unsigned line,
		   char *err, size_t errlen);
/* name and what it depends on; bg: loaded in the background (what the boot needs is not) */
int initrd_add_module(struct initrd_list *l, const char *name, bool bg, unsigned line, char *err,
		      size_t errlen);
/* The load-order files, once every line is read. */
int initrd_finish_modules(struct initrd_list *l, char *err, size_t errlen);
void initrd_modules_free(struct initrd_list *l);

#endif
