/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What both ends of the Trustee KBS protocol (RCAR, version 0.4.0) compute
 * alike: the report_data that binds the client's key and the broker's
 * nonce, and which resource paths are names at all. The agent's client,
 * the broker and the order checks all use these.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/lib.h"
#include "measurement/measurement.h"

bool kbs_resource_path_valid(const char *path)
{
	int parts = 0;
	size_t len = 0;

	if (!path || !*path || strlen(path) > 255)
		return false;
	for (const char *p = path;; p++) {
		if (*p == '/' || *p == 0) {
			if (len == 0)
				return false;
			/* "." and ".." are refused; names starting with a dot too */
			if (p[-(long)len] == '.')
				return false;
			parts++;
			len = 0;
			if (*p == 0)
				break;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
		len++;
	}
	return parts == 3;
}

int kbs_report_data(const char *nonce, const cJSON *jwk, const char *hash, uint8_t out[64])
{
	_cleanup_(cJSON_Deletep) cJSON *rt = cJSON_CreateObject();
	_cleanup_free_ char *canon = NULL;
	const EVP_MD *md = !hash || !strcmp(hash, "sha384") ? EVP_sha384()
			   : !strcmp(hash, "sha256")	    ? EVP_sha256()
			   : !strcmp(hash, "sha512")	    ? EVP_sha512()
							    : NULL;
	size_t len;
	unsigned dlen = 0;

	memset(out, 0, 64);
	if (!md)
		return -EINVAL;
	if (!rt || !cJSON_AddStringToObject(rt, "additional-evidence", "") ||
	    !cJSON_AddStringToObject(rt, "nonce", nonce) ||
	    !cJSON_AddItemToObject(rt, "tee-pubkey", cJSON_Duplicate(jwk, 1)))
		return -ENOMEM;
	if (jcs_serialize(rt, &canon, &len) < 0)
		return -EINVAL;
	return EVP_Digest(canon, len, out, &dlen, md, NULL) == 1 ? 0 : -EIO;
}
