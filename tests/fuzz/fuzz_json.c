/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: JSON input and RFC 8785 output. Whatever json_parse accepts,
 * its canonical form must parse again and canonicalize to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *v = NULL, *w = NULL;
	char *a = NULL, *b = NULL;
	size_t alen, blen;

	if (json_parse((const char *)data, size, &v) < 0)
		return 0;
	if (jcs_serialize(v, &a, &alen) == 0) {
		if (json_parse(a, alen, &w) < 0 || jcs_serialize(w, &b, &blen) < 0 ||
		    alen != blen || memcmp(a, b, alen) != 0)
			abort();
	}
	free(a);
	free(b);
	cJSON_Delete(v);
	cJSON_Delete(w);
	return 0;
}
