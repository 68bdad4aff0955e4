/* SPDX-License-Identifier: Apache-2.0 */
/* The key broker: its store of resources and policies, and the server. */
#ifndef CVM_HOST_KBS_H
#define CVM_HOST_KBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "measurement/measurement.h"

/* <store>/resources/<path> and <store>/policies/<path>.json */
int kbs_store_path(const char *store, const char *kind, const char *resource, char *out,
		   size_t cap);

/* cvm kbs serve: runs the broker of config_path until SIGINT or SIGTERM; the exit code. */
int kbs_serve(const char *config_path);

#endif
