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
