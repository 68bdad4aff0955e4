/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the client's JWE parser (a broker's /resource answer) and the
 * broker's bearer-token parser, with fixed keys.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "lib/lib.h"

static EVP_PKEY *fixed_key(void)
{
	static EVP_PKEY *k;
	/* P-256 private scalar 1: a fixed key, so that crashes reproduce. */
	static const uint8_t d[32] = { [31] = 1 };
	static const uint8_t g[65] = {
		0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5,
		0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4,
		0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a,
		0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33,
		0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
	};

	if (!k) {
		OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
		BIGNUM *bn = BN_bin2bn(d, 32, NULL);
		OSSL_PARAM *p;
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

		OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
		OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, bn);
		OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, g, sizeof(g));
		p = OSSL_PARAM_BLD_to_param(b);
		EVP_PKEY_fromdata_init(c);
		EVP_PKEY_fromdata(c, &k, EVP_PKEY_KEYPAIR, p);
		OSSL_PARAM_free(p);
		OSSL_PARAM_BLD_free(b);
		BN_free(bn);
		EVP_PKEY_CTX_free(c);
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *j = NULL, *claims = NULL;
	uint8_t *pt = NULL;
	size_t n = 0;
	char err[256], *tok;

	if (json_parse((const char *)data, size, &j) == 0) {
		if (jwe_decrypt(fixed_key(), j, &pt, &n, err, sizeof(err)) == 0)
			secret_free(pt, n);
		cJSON_Delete(j);
	}
	tok = strndup((const char *)data, size);
	if (tok && jwt_verify_es256(fixed_key(), tok, &claims, err, sizeof(err)) == 0)
		cJSON_Delete(claims);
	free(tok);
	return 0;
}
