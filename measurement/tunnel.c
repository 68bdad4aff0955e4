/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel's attested certificate (tunnel.h, docs/tunnel.md): its
 * report_data bindings, the agent's making of it, and a client's reading
 * of one a hostile peer sent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/lib.h"
#include "measurement/platform.h"
#include "measurement/tunnel.h"

#define E_CERT "E_TUNNEL_CERT: "

static int sha512_tagged(const char *tag, const uint8_t *a, size_t alen, const uint8_t *b,
			 size_t blen, uint8_t out[64])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned n = 0;
	int ok = c && EVP_DigestInit_ex(c, EVP_sha512(), NULL) == 1 &&
		 EVP_DigestUpdate(c, tag, strlen(tag)) == 1 && EVP_DigestUpdate(c, a, alen) == 1 &&
		 (!blen || EVP_DigestUpdate(c, b, blen) == 1) &&
		 EVP_DigestFinal_ex(c, out, &n) == 1 && n == 64;

	EVP_MD_CTX_free(c);
	return ok ? 0 : -EIO;
}

int tunnel_cert_report_data(const uint8_t *spki, size_t len, uint8_t out[64])
{
	return sha512_tagged(TUNNEL_CERT_TAG, spki, len, NULL, 0, out);
}

int tunnel_fresh_report_data(const uint8_t exporter[TUNNEL_EXPORTER_LEN],
			     const uint8_t nonce[TUNNEL_NONCE_LEN], uint8_t out[64])
{
	return sha512_tagged(TUNNEL_FRESH_TAG, exporter, TUNNEL_EXPORTER_LEN, nonce,
			     TUNNEL_NONCE_LEN, out);
}

int tunnel_stop_digest(const uint8_t order_sha256[32], const uint8_t exporter[TUNNEL_EXPORTER_LEN],
		       uint8_t out[32])
{
	uint8_t buf[sizeof(TUNNEL_STOP_TAG) - 1 + 32 + TUNNEL_EXPORTER_LEN];

	memcpy(buf, TUNNEL_STOP_TAG, sizeof(TUNNEL_STOP_TAG) - 1);
	memcpy(buf + sizeof(TUNNEL_STOP_TAG) - 1, order_sha256, 32);
	memcpy(buf + sizeof(TUNNEL_STOP_TAG) - 1 + 32, exporter, TUNNEL_EXPORTER_LEN);
	return EVP_Digest(buf, sizeof(buf), out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

/* A non-critical extension oid whose extnValue is the DER OCTET STRING of p. */
static int add_octets_ext(X509 *x, const char *oid, const void *p, size_t n)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *value = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int dlen = -1, ok;

	ok = obj && inner && value && n <= INT32_MAX &&
	     ASN1_OCTET_STRING_set(inner, p, (int)n) == 1 &&
	     (dlen = i2d_ASN1_OCTET_STRING(inner, &der)) > 0 &&
	     ASN1_OCTET_STRING_set(value, der, dlen) == 1 &&
	     (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, value)) != NULL &&
	     X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(inner);
	ASN1_OCTET_STRING_free(value);
	ASN1_OBJECT_free(obj);
	return ok ? 0 : -ENOMEM;
}

static int set_serial(X509 *x)
{
	uint8_t b[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[0] &= 0x7f; /* positive, and at most 20 bytes (RFC 5280 §4.1.2.2) */
	b[0] |= 0x40;
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

static int set_names(X509 *x)
{
	X509_NAME *n = X509_NAME_new();
	int ok = n &&
		 X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					    (const unsigned char *)"cvm tunnel", -1, -1, 0) == 1 &&
		 X509_set_subject_name(x, n) == 1 && X509_set_issuer_name(x, n) == 1;

	X509_NAME_free(n);
	return ok ? 0 : -ENOMEM;
}

/* An end entity: basicConstraints CA:FALSE (critical), keyUsage digitalSignature. */
static int add_usage(X509 *x)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	int ok = bc && ku && ASN1_BIT_STRING_set_bit(ku, 0, 1) == 1 &&
		 X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) == 1 &&
		 X509_add1_ext_i2d(x, NID_key_usage, ku, 1, X509V3_ADD_DEFAULT) == 1;

	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	return ok ? 0 : -ENOMEM;
}

int tunnel_evidence_text(const char *tee, const cJSON *primary, char **text)
{
	cJSON *o = cJSON_CreateObject();
	int ok = o && cJSON_AddStringToObject(o, "tee", tee) &&
		 cJSON_AddItemReferenceToObject(o, "evidence", (cJSON *)primary);

	*text = ok ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o); /* the reference item only: primary stays the caller's */
	return *text ? 0 : -ENOMEM;
}

int tunnel_cert_make(void *pkey, const char *tee, const cJSON *primary, const uint8_t *raw_quote,
		     size_t raw_quote_len, int64_t not_before, uint32_t lifetime, uint8_t **der,
		     size_t *len, char *err, size_t errlen)
{
	X509 *x = X509_new();
	char *text = NULL;
	unsigned char *out = NULL;
	int r = x ? 0 : -ENOMEM, n;

	*der = NULL;
	*len = 0;
	if (!r && (X509_set_version(x, X509_VERSION_3) != 1 || !X509_set_pubkey(x, pkey)))
		r = -ENOMEM;
	if (!r &&
	    (!X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &(time_t){ not_before }) ||
	     !X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)lifetime, &(time_t){ not_before })))
		r = -EINVAL;
	if (!r)
		r = set_serial(x);
	if (!r)
		r = set_names(x);
	if (!r)
		r = add_usage(x);
	if (!r)
		r = tunnel_evidence_text(tee, primary, &text);
	if (!r && strlen(text) > TUNNEL_EVIDENCE_MAX)
		r = set_error(err, errlen, -EFBIG, E_CERT "evidence of %zu bytes, more than %u",
			      strlen(text), TUNNEL_EVIDENCE_MAX);
	if (!r)
		r = add_octets_ext(x, TUNNEL_OID_EVIDENCE, text, strlen(text));
	if (!r && raw_quote)
		r = add_octets_ext(x, TUNNEL_OID_DSTACK_QUOTE, raw_quote, raw_quote_len);
	if (!r && X509_sign(x, pkey, EVP_sha256()) <= 0)
		r = -EIO;
	if (!r && (n = i2d_X509(x, &out)) > 0) {
		*der = malloc((size_t)n);
		if (*der) {
			memcpy(*der, out, (size_t)n);
			*len = (size_t)n;
		} else {
			r = -ENOMEM;
		}
	} else if (!r) {
		r = -ENOMEM;
	}
	if (r < 0 && err && !err[0])
		set_error(err, errlen, r, E_CERT "cannot make the certificate: %s", strerror(-r));
	OPENSSL_free(out);
	free(text);
	X509_free(x);
	return r;
}

/* ---- reading one a peer sent ---- */

/* The bytes of an extension's DER OCTET STRING value, nothing after it. */
static int ext_octets(X509_EXTENSION *ext, size_t max, uint8_t **out, size_t *len)
{
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
	const unsigned char *p = ASN1_STRING_get0_data(v), *q = p;
	long n = ASN1_STRING_length(v);
	ASN1_OCTET_STRING *inner;
	int r = 0;

	inner = n > 0 ? d2i_ASN1_OCTET_STRING(NULL, &q, n) : NULL;
	if (!inner || q != p + n)
		r = -EBADMSG;
	else if ((size_t)ASN1_STRING_length(inner) > max)
		r = -EFBIG;
	else if (!(*out = malloc((size_t)ASN1_STRING_length(inner) + 1)))
		r = -ENOMEM;
	if (!r) {
		*len = (size_t)ASN1_STRING_length(inner);
		memcpy(*out, ASN1_STRING_get0_data(inner), *len);
		(*out)[*len] = 0;
	}
	ASN1_OCTET_STRING_free(inner);
	return r;
}

int tunnel_evidence_parse(const char *text, size_t n, char tee_out[32], cJSON **evidence, char *err,
			  size_t errlen)
{
	const cJSON *tee, *ev;
	cJSON *j = NULL;

	*evidence = NULL;
	if (n > TUNNEL_EVIDENCE_MAX)
		return set_error(err, errlen, -EBADMSG,
				 "E_TUNNEL_EVIDENCE: evidence of %zu bytes, more than %u", n,
				 TUNNEL_EVIDENCE_MAX);
	if (json_parse(text, n, &j) < 0 || !cJSON_IsObject(j) || cJSON_GetArraySize(j) != 2 ||
	    !cJSON_IsString(tee = cJSON_GetObjectItemCaseSensitive(j, "tee")) ||
	    !cJSON_IsObject(ev = cJSON_GetObjectItemCaseSensitive(j, "evidence"))) {
		cJSON_Delete(j);
		return set_error(err, errlen, -EBADMSG,
				 "E_TUNNEL_EVIDENCE: the evidence is not the JSON object "
				 "{\"tee\", \"evidence\"}");
	}
	if (!platform_by_kbs_tee(tee->valuestring) || strlen(tee->valuestring) >= 32) {
		cJSON_Delete(j);
		return set_error(err, errlen, -EBADMSG,
				 "E_TUNNEL_EVIDENCE: evidence of no known tee");
	}
	snprintf(tee_out, 32, "%s", tee->valuestring);
	*evidence = cJSON_DetachItemFromObjectCaseSensitive(j, "evidence");
	cJSON_Delete(j);
	return *evidence ? 0 : -ENOMEM;
}

static int read_evidence(X509_EXTENSION *ext, struct tunnel_cert *c, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL;
	size_t n = 0;
	int r = ext_octets(ext, TUNNEL_EVIDENCE_MAX, &text, &n);

	if (r == -EFBIG)
		return set_error(
			err, errlen, -EBADMSG,
			"E_TUNNEL_EXTENSION: the evidence extension holds more than %u bytes",
			TUNNEL_EVIDENCE_MAX);
	if (r < 0)
		return set_error(err, errlen, r == -ENOMEM ? r : -EBADMSG,
				 "E_TUNNEL_EXTENSION: the evidence extension is not one DER "
				 "OCTET STRING");
	return tunnel_evidence_parse((const char *)text, n, c->tee, &c->evidence, err, errlen);
}

static int read_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EBADMSG;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int read_key(X509 *x, struct tunnel_cert *c, char *err, size_t errlen)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	unsigned char *spki = NULL;
	char group[32] = "";
	int n, r;

	if (!k || !EVP_PKEY_is_a(k, "EC") ||
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   NULL) != 1 ||
	    strcmp(group, "prime256v1"))
		return set_error(err, errlen, -EBADMSG, "E_TUNNEL_KEY: the key is not P-256");
	if (X509_verify(x, k) != 1)
		return set_error(
			err, errlen, -EBADMSG,
			"E_TUNNEL_SIGNATURE: the certificate is not signed by its own key");
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	if (n <= 0)
		return -ENOMEM;
	r = tunnel_cert_report_data(spki, (size_t)n, c->report_data);
	if (!r && EVP_Digest(spki, (size_t)n, c->spki_sha256, NULL, EVP_sha256(), NULL) != 1)
		r = -EIO;
	OPENSSL_free(spki);
	return r;
}

static int read_extensions(X509 *x, struct tunnel_cert *c, char *err, size_t errlen)
{
	bool seen_evidence = false, seen_quote = false;

	for (int i = 0; i < X509_get_ext_count(x); i++) {
		X509_EXTENSION *ext = X509_get_ext(x, i);
		char oid[128] = "";
		int r;

		if (OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1) <= 0)
			oid[0] = 0;
		if (!strcmp(oid, TUNNEL_OID_EVIDENCE)) {
			if (seen_evidence)
				return set_error(
					err, errlen, -EBADMSG,
					"E_TUNNEL_EXTENSION: the evidence extension twice");
			seen_evidence = true;
			if ((r = read_evidence(ext, c, err, errlen)) < 0)
				return r;
		} else if (!strcmp(oid, TUNNEL_OID_DSTACK_QUOTE)) {
			if (seen_quote)
				return set_error(
					err, errlen, -EBADMSG,
					"E_TUNNEL_EXTENSION: dstack's quote extension twice");
			seen_quote = true;
			if ((r = ext_octets(ext, TUNNEL_EVIDENCE_MAX, &c->dstack_quote,
					    &c->dstack_quote_len)) < 0)
				return set_error(err, errlen, r == -ENOMEM ? r : -EBADMSG,
						 "E_TUNNEL_EXTENSION: dstack's quote extension is "
						 "not one DER OCTET STRING of at most %u bytes",
						 TUNNEL_EVIDENCE_MAX);
		} else if (X509_EXTENSION_get_critical(ext) && !X509_supported_extension(ext)) {
			return set_error(
				err, errlen, -EBADMSG,
				"E_TUNNEL_EXTENSION: a critical extension this client does "
				"not know (%.64s)",
				oid[0] ? oid : "?");
		}
	}
	if (!seen_evidence)
		return set_error(err, errlen, -EBADMSG,
				 "E_TUNNEL_NO_EVIDENCE: the certificate carries no evidence");
	return 0;
}

int tunnel_cert_read(const uint8_t *der, size_t len, struct tunnel_cert *c, char *err,
		     size_t errlen)
{
	const unsigned char *p = der;
	X509 *x;
	int r;

	memset(c, 0, sizeof(*c));
	if (len > TUNNEL_CERT_MAX)
		return set_error(err, errlen, -EBADMSG,
				 E_CERT "a certificate of %zu bytes, more than %u", len,
				 TUNNEL_CERT_MAX);
	x = len ? d2i_X509(NULL, &p, (long)len) : NULL;
	if (!x)
		return set_error(err, errlen, -EBADMSG, E_CERT "not a DER X.509 certificate");
	if (p != der + len) {
		X509_free(x);
		return set_error(err, errlen, -EBADMSG, E_CERT "bytes after the certificate");
	}
	if (read_time(X509_get0_notBefore(x), &c->not_before) < 0 ||
	    read_time(X509_get0_notAfter(x), &c->not_after) < 0)
		r = set_error(err, errlen, -EBADMSG, E_CERT "its validity cannot be read");
	else if ((r = read_key(x, c, err, errlen)) == 0)
		r = read_extensions(x, c, err, errlen);
	X509_free(x);
	if (r < 0)
		tunnel_cert_free(c);
	return r;
}

void tunnel_cert_free(struct tunnel_cert *c)
{
	cJSON_Delete(c->evidence);
	free(c->dstack_quote);
	memset(c, 0, sizeof(*c));
}

/* ---- both ends of the exchange ---- */

void tunnel_set_timeout(int fd, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int tunnel_read_all(void *ssl, void *buf, size_t n)
{
	size_t got = 0, k;

	while (got < n) {
		if (SSL_read_ex(ssl, (uint8_t *)buf + got, n - got, &k) != 1)
			return -EIO;
		got += k;
	}
	return 0;
}
