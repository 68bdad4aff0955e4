/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: eip712_digest over typed-data JSON. Whatever it refuses, it
 * says why in one line. Whatever it takes must give the same digest
 * again, the same digest made from the parts with eip712_hash_struct, and
 * the same digest once its numbers are decimal strings and cJSON has
 * printed the tree back: the digest is of the values, not of how the text
 * writes them. (Numbers become strings first: cJSON 1.7 prints 2^53 - 1
 * as 9.00719925474099e+15.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "chain/eip712.h"
#include "lib/lib.h"

/* 0x19 0x01, the domain's hashStruct and the message's, hashed */
static void from_parts(const char *json, size_t n, uint8_t out[KECCAK256_LEN])
{
	uint8_t pre[2 + 2 * KECCAK256_LEN] = { 0x19, 0x01 };
	const cJSON *types, *primary;
	cJSON *root = NULL;

	if (json_parse(json, n, &root) < 0)
		abort();
	types = cJSON_GetObjectItemCaseSensitive(root, "types");
	primary = cJSON_GetObjectItemCaseSensitive(root, "primaryType");
	if (!cJSON_IsString(primary) ||
	    eip712_hash_struct(types, "EIP712Domain",
			       cJSON_GetObjectItemCaseSensitive(root, "domain"), pre + 2, NULL,
			       0) < 0 ||
	    eip712_hash_struct(types, primary->valuestring,
			       cJSON_GetObjectItemCaseSensitive(root, "message"),
			       pre + 2 + KECCAK256_LEN, NULL, 0) < 0)
		abort();
	keccak256(pre, sizeof(pre), out);
	cJSON_Delete(root);
}

/* Every number of the tree (json_parse bounds its depth) as a string of its decimal digits. */
static void numbers_to_strings(cJSON *v)
{
	char dec[32];

	for (cJSON *c = v->child; c; c = c->next) {
		if (!cJSON_IsNumber(c)) {
			numbers_to_strings(c);
			continue;
		}
		/* made a string in place, its member name kept (cJSON_Delete frees the copy) */
		snprintf(dec, sizeof(dec), "%.0f", c->valuedouble);
		c->valuestring = strdup(dec);
		if (!c->valuestring)
			abort();
		c->type = cJSON_String;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t d[KECCAK256_LEN], e[KECCAK256_LEN];
	const char *json = (const char *)data;
	cJSON *root = NULL;
	char err[256] = "";
	char *printed;
	int r;

	r = eip712_digest(json, size, d, err, sizeof(err));
	if (r < 0) {
		if (r != -EBADMSG || !err[0] || strchr(err, '\n'))
			abort();
		return 0;
	}
	if (eip712_digest(json, size, e, NULL, 0) < 0 || memcmp(d, e, sizeof(d)) != 0)
		abort();
	from_parts(json, size, e);
	if (memcmp(d, e, sizeof(d)) != 0)
		abort();
	if (json_parse(json, size, &root) < 0)
		abort();
	numbers_to_strings(root);
	printed = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!printed)
		return 0;
	if (eip712_digest(printed, strlen(printed), e, err, sizeof(err)) < 0 ||
	    memcmp(d, e, sizeof(d)) != 0)
		abort();
	free(printed);
	return 0;
}
