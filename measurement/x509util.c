/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "measurement/measurement.h"

int x509_fingerprint(X509 *c, uint8_t out[32])
{
	unsigned int n = 32;

	return X509_digest(c, EVP_sha256(), out, &n) == 1 && n == 32 ? 0 : -EINVAL;
}

int x509_load_pem_chain(const void *pem, size_t len, STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk;
	BIO *bio;
	X509 *c;

	if (len > INT32_MAX)
		return -EFBIG;
	bio = BIO_new_mem_buf(pem, (int)len);
	sk = sk_X509_new_null();
	if (!bio || !sk) {
		BIO_free(bio);
		sk_X509_free(sk);
		return -ENOMEM;
	}
	while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		if (!sk_X509_push(sk, c)) {
			X509_free(c);
			break;
		}
	ERR_clear_error();
	BIO_free(bio);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return -EBADMSG;
	}
	*out = sk;
	return 0;
}

int x509_load_one(const void *buf, size_t len, X509 **out)
{
	const unsigned char *p = buf;
	X509 *c = NULL;

	if (len > INT32_MAX)
		return -EFBIG;
	if (len >= 11 && memcmp(buf, "-----BEGIN ", 11) == 0) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);

		if (!bio)
			return -ENOMEM;
		c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		c = d2i_X509(NULL, &p, (long)len);
		/* Trailing bytes after the DER certificate are refused. */
		if (c && p != (const unsigned char *)buf + len) {
			X509_free(c);
			c = NULL;
		}
	}
	ERR_clear_error();
	if (!c)
		return -EBADMSG;
	*out = c;
	return 0;
}

int x509_check_time(X509 *c, time_t t)
{
	if (X509_cmp_time(X509_get0_notBefore(c), &t) >= 0)
		return -ERANGE;
	if (X509_cmp_time(X509_get0_notAfter(c), &t) <= 0)
		return -ERANGE;
	return 0;
}

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

bool x509_signed_by(X509 *c, X509 *issuer)
{
	EVP_PKEY *k = X509_get0_pubkey(issuer);
	bool ok;

	if (!k || X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(issuer)) != 0)
		return false;
	ok = X509_verify(c, k) == 1;
	ERR_clear_error();
	return ok;
}

void x509_cn(X509 *c, char *out, size_t cap)
{
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, out, (int)cap) < 0)
		snprintf(out, cap, "(no CN)");
}

void time_rfc3339(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
