/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/kbs.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

int kbs_store_path(const char *store, const char *kind, const char *resource, char *out, size_t cap)
{
	int n;

	if (!kbs_resource_path_valid(resource))
		return -EINVAL;
	n = snprintf(out, cap, "%s/%s/%s%s", store, kind, resource,
		     strcmp(kind, "policies") ? "" : ".json");
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}
