/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel's attested certificate (measurement/tunnel.c, agent/tunnel.c):
 * made in a sim TEE, read back as a client reads a peer's, its evidence
 * verified as the key broker verifies (test PKI roots) against the key's
 * report_data; and the certificates a man in the middle would present,
 * each refused with its own code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "measurement/measurement.h"
#include "measurement/platform.h"
#include "measurement/tunnel.h"
#include "tests/unit/support/sim.h"

struct made {
	EVP_PKEY *key;
	uint8_t *der;
	size_t len;
	uint8_t spki_sha256[32];
};

static void make(const char *platform, struct made *m)
{
	struct tee_config cfg = { .sim_pki = sim_env("CVM_TEST_PKI"), .sim_platform = platform };
	struct tee *t = NULL;
	char err[512] = "";

	assert_int_equal(tee_open("sim", &cfg, &t, err, sizeof(err)), 0);
	if (agent_tunnel_cert(t, time(NULL) - 60, 3600, &m->key, &m->der, &m->len, m->spki_sha256,
			      err, sizeof(err)) < 0)
		fail_msg("agent_tunnel_cert: %s", err);
	tee_close(t);
}

static void made_free(struct made *m)
{
	EVP_PKEY_free(m->key);
	free(m->der);
}

/* The evidence of c verified against report_data rd: 0, or the check that failed. */
static int verify(const struct tunnel_cert *c, const uint8_t rd[64])
{
	const struct platform *pl = platform_by_kbs_tee(c->tee);
	struct snp_verifier *sv = NULL;
	struct tdx_verifier *tv = NULL;
	struct kbs_evidence e;
	struct verdict v;
	uint8_t reg[48];
	size_t reglen = 0;
	char err[512] = "", path[512];
	int r;

	assert_non_null(pl);
	assert_int_equal(kbs_evidence_parse(pl->id, c->evidence, &e, err, sizeof(err)), 0);
	if (pl->id == PLATFORM_TDX) {
		sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/roots.pem");
		assert_int_equal(tdx_verifier_new(path, NULL, 0, &tv, err, sizeof(err)), 0);
	} else {
		sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/roots.pem");
		assert_int_equal(snp_verifier_new(path, 0, &sv), 0);
	}
	verdict_init(&v, pl->id);
	r = kbs_evidence_verify(&e, sv, tv, NULL, rd, reg, &reglen, &v);
	if (r != 0)
		r = (int)v.failed;
	if (c->dstack_quote) {
		/* dstack's quote extension: the same quote */
		assert_int_equal(c->dstack_quote_len, e.raw_len);
		assert_memory_equal(c->dstack_quote, e.raw, e.raw_len);
	}
	tdx_verifier_free(tv);
	snp_verifier_free(sv);
	kbs_evidence_free(&e);
	return r;
}

/* SHA-512("ratls-cert:" || DER SPKI), computed here apart from tunnel.c */
static void dstack_report_data(EVP_PKEY *k, uint8_t out[64])
{
	unsigned char *spki = NULL;
	int n = i2d_PUBKEY(k, &spki);
	uint8_t *buf = malloc((size_t)n + 11);

	assert_true(n > 0);
	assert_non_null(buf);
	memcpy(buf, "ratls-cert:", 11);
	memcpy(buf + 11, spki, (size_t)n);
	assert_int_equal(EVP_Digest(buf, (size_t)n + 11, out, NULL, EVP_sha512(), NULL), 1);
	free(buf);
	OPENSSL_free(spki);
}

static void genuine(const char *platform)
{
	struct tunnel_cert c;
	struct made m;
	uint8_t want[64];
	char err[256] = "";

	make(platform, &m);
	{
		char path[600];

		/* kept for a look (openssl x509 -inform DER -text) and as a fuzzing seed */
		snprintf(path, sizeof(path), "%s/tunnel-%s.der", sim_env("CVM_TEST_TMP"), platform);
		sim_write(path, m.der, m.len);
	}
	if (tunnel_cert_read(m.der, m.len, &c, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	dstack_report_data(m.key, want);
	assert_memory_equal(c.report_data, want, 64);
	assert_memory_equal(c.spki_sha256, m.spki_sha256, 32);
	assert_int_equal(c.not_after - c.not_before, 3600);
	/* the raw TDX quote under dstack's OID too; none for SNP */
	assert_true(!strcmp(platform, "tdx") == (c.dstack_quote != NULL));
	assert_int_equal(verify(&c, c.report_data), 0);
	/* evidence bound to the key, not to any other report_data */
	want[0] ^= 1;
	assert_int_equal(verify(&c, want), CHECK_REPORT_DATA);
	tunnel_cert_free(&c);
	made_free(&m);
}

static void test_genuine_tdx(void **state)
{
	(void)state;
	genuine("tdx");
}

static void test_genuine_snp(void **state)
{
	(void)state;
	genuine("snp");
}

/* A freshness binding over the session's exporter and the client's nonce. */
static void test_fresh_report_data(void **state)
{
	uint8_t ekm[32], nonce[32], got[64], want[64], buf[17 + 64];

	(void)state;
	for (int i = 0; i < 32; i++)
		ekm[i] = (uint8_t)i, nonce[i] = (uint8_t)(0x80 + i);
	assert_int_equal(tunnel_fresh_report_data(ekm, nonce, got), 0);
	memcpy(buf, "cvm-tunnel-fresh:", 17);
	memcpy(buf + 17, ekm, 32);
	memcpy(buf + 49, nonce, 32);
	assert_int_equal(EVP_Digest(buf, sizeof(buf), want, NULL, EVP_sha512(), NULL), 1);
	assert_memory_equal(got, want, 64);
	nonce[31] ^= 1;
	assert_int_equal(tunnel_fresh_report_data(ekm, nonce, got), 0);
	assert_memory_not_equal(got, want, 64);
}

/*
 * A self-signed certificate of key k with one extension oid whose extnValue
 * is value (n bytes, as given), critical or not; oid NULL: none. DER, malloc'd.
 */
static uint8_t *cert_with(EVP_PKEY *k, const char *oid, const void *value, size_t n, int critical,
			  size_t *len)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL;
	uint8_t *out;
	int dlen;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mitm", -1, -1,
				   0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	if (oid) {
		ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *ext;

		ASN1_OCTET_STRING_set(os, value, (int)n);
		ext = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, os);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
		ASN1_OCTET_STRING_free(os);
		ASN1_OBJECT_free(obj);
	}
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	dlen = i2d_X509(x, &der);
	assert_true(dlen > 0);
	out = malloc((size_t)dlen);
	memcpy(out, der, (size_t)dlen);
	*len = (size_t)dlen;
	OPENSSL_free(der);
	X509_NAME_free(name);
	X509_free(x);
	return out;
}

/* value wrapped as the extension wants it: a DER OCTET STRING of the bytes */
static uint8_t *wrapped(const void *p, size_t n, size_t *len)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	unsigned char *der = NULL;
	uint8_t *out;
	int dlen;

	ASN1_OCTET_STRING_set(os, p, (int)n);
	dlen = i2d_ASN1_OCTET_STRING(os, &der);
	out = malloc((size_t)dlen);
	memcpy(out, der, (size_t)dlen);
	*len = (size_t)dlen;
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(os);
	return out;
}

static void expect_refused(const uint8_t *der, size_t len, const char *code)
{
	struct tunnel_cert c;
	char err[256] = "";

	assert_int_equal(tunnel_cert_read(der, len, &c, err, sizeof(err)), -EBADMSG);
	if (strncmp(err, code, strlen(code)) || !strchr(err, ':') || strchr(err, '\n'))
		fail_msg("got '%s', expected %s", err, code);
	assert_null(c.evidence);
}

static void expect_ext_refused(EVP_PKEY *k, const char *oid, const void *v, size_t n, int critical,
			       const char *code)
{
	size_t len;
	uint8_t *der = cert_with(k, oid, v, n, critical, &len);

	expect_refused(der, len, code);
	free(der);
}

static void test_refusals(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *k384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	static uint8_t big[TUNNEL_EVIDENCE_MAX + 1];
	struct tunnel_cert c;
	struct made m;
	uint8_t *der, *w, *two;
	size_t len, wl;
	char err[256] = "";

	(void)state;
	assert_non_null(k);
	/* a plain certificate: no evidence */
	expect_ext_refused(k, NULL, NULL, 0, 0, "E_TUNNEL_NO_EVIDENCE");
	/* the evidence extension not an OCTET STRING, or with bytes after it */
	expect_ext_refused(k, TUNNEL_OID_EVIDENCE, "\x05\x00", 2, 0, "E_TUNNEL_EXTENSION");
	expect_ext_refused(k, TUNNEL_OID_EVIDENCE, "\x04\x01{}", 4, 0, "E_TUNNEL_EXTENSION");
	/* JSON that does not parse, of the wrong shape, or of an unknown tee */
	w = wrapped("{\"tee\":", 7, &wl);
	expect_ext_refused(k, TUNNEL_OID_EVIDENCE, w, wl, 0, "E_TUNNEL_EVIDENCE");
	free(w);
	w = wrapped("{\"tee\":\"snp\",\"evidence\":{},\"x\":1}", 33, &wl);
	expect_ext_refused(k, TUNNEL_OID_EVIDENCE, w, wl, 0, "E_TUNNEL_EVIDENCE");
	free(w);
	w = wrapped("{\"tee\":\"sgx\",\"evidence\":{}}", 27, &wl);
	expect_ext_refused(k, TUNNEL_OID_EVIDENCE, w, wl, 0, "E_TUNNEL_EVIDENCE");
	free(w);
	/* oversized */
	memset(big, ' ', sizeof(big));
	w = wrapped(big, sizeof(big), &wl);
	expect_ext_refused(k, TUNNEL_OID_EVIDENCE, w, wl, 0, "E_TUNNEL_EXTENSION");
	free(w);
	/* a critical extension of no known kind */
	expect_ext_refused(k, "1.2.3.4", "\x04\x00", 2, 1, "E_TUNNEL_EXTENSION");
	/* a P-384 key */
	der = cert_with(k384, NULL, NULL, 0, 0, &len);
	expect_refused(der, len, "E_TUNNEL_KEY");
	free(der);

	/* from a genuine one: cut, trailing bytes, signature broken, oversized */
	make("tdx", &m);
	expect_refused(m.der, m.len - 1, "E_TUNNEL_CERT");
	expect_refused(m.der, 0, "E_TUNNEL_CERT");
	two = malloc(m.len + 1);
	memcpy(two, m.der, m.len);
	two[m.len] = 0;
	expect_refused(two, m.len + 1, "E_TUNNEL_CERT");
	two[m.len - 5] ^= 0x01; /* inside the signature's s */
	expect_refused(two, m.len, "E_TUNNEL_SIGNATURE");
	free(two);
	expect_refused(m.der, TUNNEL_CERT_MAX + 1, "E_TUNNEL_CERT");

	/*
	 * A man in the middle's own key, with the genuine evidence copied into
	 * its certificate: it reads, and the evidence binds another key.
	 */
	assert_int_equal(tunnel_cert_read(m.der, m.len, &c, err, sizeof(err)), 0);
	{
		struct tunnel_cert c2;
		uint8_t *mitm;
		size_t ml;

		assert_int_equal(tunnel_cert_make(k, c.tee, c.evidence, NULL, 0, time(NULL), 60,
						  &mitm, &ml, err, sizeof(err)),
				 0);
		assert_int_equal(tunnel_cert_read(mitm, ml, &c2, err, sizeof(err)), 0);
		assert_memory_not_equal(c2.report_data, c.report_data, 64);
		assert_int_equal(verify(&c2, c2.report_data), CHECK_REPORT_DATA);
		tunnel_cert_free(&c2);
		free(mitm);
	}
	/* the evidence extension twice */
	{
		X509 *x = NULL;
		const unsigned char *p = m.der;
		unsigned char *out = NULL;
		int idx, n;

		ASN1_OBJECT *obj = OBJ_txt2obj(TUNNEL_OID_EVIDENCE, 1);

		x = d2i_X509(NULL, &p, (long)m.len);
		idx = X509_get_ext_by_OBJ(x, obj, -1);
		ASN1_OBJECT_free(obj);
		assert_true(idx >= 0);
		assert_int_equal(X509_add_ext(x, X509_get_ext(x, idx), -1), 1);
		assert_true(X509_sign(x, m.key, EVP_sha256()) > 0);
		n = i2d_X509(x, &out);
		expect_refused(out, (size_t)n, "E_TUNNEL_EXTENSION");
		OPENSSL_free(out);
		X509_free(x);
	}
	tunnel_cert_free(&c);
	made_free(&m);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k384);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genuine_tdx),
		cmocka_unit_test(test_genuine_snp),
		cmocka_unit_test(test_fresh_report_data),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
