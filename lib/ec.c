/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "lib/lib.h"

int ecdsa_verify_raw(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t msglen,
		     const uint8_t *r, const uint8_t *s, size_t n)
{
	unsigned char der[2 * 80 + 16], *p = der;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(r, (int)n, NULL), *bs = BN_bin2bn(s, (int)n, NULL);
	EVP_MD_CTX *ctx = NULL;
	int derlen, ok = 0;

	if (n > 72 || !sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
		ECDSA_SIG_free(sig);
		BN_free(br);
		BN_free(bs);
		return -ENOMEM;
	}
	derlen = i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	ctx = EVP_MD_CTX_new();
	if (derlen > 0 && ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1)
		ok = EVP_DigestVerify(ctx, der, (size_t)derlen, msg, msglen) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -EBADMSG;
}

int p256_key_from_xy(const uint8_t xy[64], EVP_PKEY **out)
{
	uint8_t point[65];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;
	int r = -EBADMSG;

	point[0] = 0x04;
	memcpy(point + 1, xy, 64);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
	params[1] =
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx)
		return -ENOMEM;
	/* fromdata checks that the point lies on the curve. */
	if (EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1) {
		*out = key;
		r = 0;
	}
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int p256_key_xy(EVP_PKEY *k, uint8_t xy[64])
{
	uint8_t pt[65];
	size_t n = 0;
	char group[16];

	if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   NULL) != 1 ||
	    (strcmp(group, "prime256v1") && strcmp(group, "P-256")) ||
	    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &n) != 1 ||
	    n != 65 || pt[0] != 0x04) {
		ERR_clear_error();
		return -EINVAL;
	}
	memcpy(xy, pt + 1, 64);
	return 0;
}

/*
 * One key generation context for the process, made at the first key: the
 * group and the provider's key manager are looked up once, not per key (a
 * broker makes one ephemeral key per released resource). Each key is new
 * randomness; the context holds no key. cvm is single-threaded.
 */
int p256_generate(EVP_PKEY **out)
{
	static EVP_PKEY_CTX *ctx;
	EVP_PKEY *k = NULL;

	if (!ctx) {
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 ||
		    EVP_PKEY_CTX_set_group_name(ctx, "P-256") != 1) {
			EVP_PKEY_CTX_free(ctx);
			ctx = NULL;
			ERR_clear_error();
			return -ENOMEM;
		}
	}
	if (EVP_PKEY_keygen(ctx, &k) != 1) {
		ERR_clear_error();
		return -ENOMEM;
	}
	*out = k;
	return 0;
}
