/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWK, JWE (ECDH-ES+A256KW, A256GCM) and ES256 tokens: RFC vectors, round
 * trips, every field tampered, and interoperation with jwcrypto.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/lib.h"
#include "tests/unit/support/sim.h"

/* RFC 7518 Appendix C: the Concat KDF of ECDH-ES with A128GCM, apu "Alice", apv "Bob". */
static void test_concat_kdf_rfc7518_appendix_c(void **state)
{
	static const uint8_t z[32] = { 158, 86,	 217, 29,  129, 113, 53,  211, 114, 131, 66,
				       131, 191, 132, 38,  156, 251, 49,  110, 163, 218, 128,
				       106, 72,	 246, 218, 167, 121, 140, 254, 144, 196 };
	uint8_t k[16];
	char *b64 = NULL;

	(void)state;
	assert_int_equal(concat_kdf_sha256(z, sizeof(z), "A128GCM", (const uint8_t *)"Alice", 5,
					   (const uint8_t *)"Bob", 3, k, sizeof(k)),
			 0);
	assert_int_equal(base64_encode(k, sizeof(k), BASE64_URL, &b64), 0);
	assert_string_equal(b64, "VqqN6vgjbSBcIijNcacQGg");
	free(b64);
}

static cJSON *parse(const char *s)
{
	cJSON *j = NULL;

	assert_int_equal(json_parse(s, strlen(s), &j), 0);
	return j;
}

static void test_jwk_round_trip_and_refusals(void **state)
{
	EVP_PKEY *k = NULL, *back = NULL;
	cJSON *j = NULL, *bad;
	uint8_t a[64], b[64];
	char err[256];

	(void)state;
	assert_int_equal(p256_generate(&k), 0);
	assert_int_equal(jwk_from_pkey(k, &j), 0);
	assert_string_equal(cJSON_GetObjectItem(j, "alg")->valuestring, "ECDH-ES+A256KW");
	assert_int_equal(jwk_to_pkey(j, &back, err, sizeof(err)), 0);
	assert_int_equal(p256_key_xy(k, a), 0);
	assert_int_equal(p256_key_xy(back, b), 0);
	assert_memory_equal(a, b, 64);
	EVP_PKEY_free(back);

	bad = cJSON_Duplicate(j, 1);
	cJSON_ReplaceItemInObject(bad, "crv", cJSON_CreateString("P-384"));
	assert_int_equal(jwk_to_pkey(bad, &back, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "the key's crv is not P-256");
	cJSON_Delete(bad);
	bad = cJSON_Duplicate(j, 1);
	cJSON_ReplaceItemInObject(bad, "alg", cJSON_CreateString("RSA1_5"));
	assert_int_equal(jwk_to_pkey(bad, &back, err, sizeof(err)), -EBADMSG);
	cJSON_Delete(bad);
	bad = cJSON_Duplicate(j, 1);
	/* y of another point: off the curve */
	cJSON_ReplaceItemInObject(bad, "y",
				  cJSON_CreateString(cJSON_GetObjectItem(j, "x")->valuestring));
	assert_int_equal(jwk_to_pkey(bad, &back, err, sizeof(err)), -EBADMSG);
	cJSON_Delete(bad);
	bad = cJSON_Duplicate(j, 1);
	cJSON_AddStringToObject(bad, "d", "AAAA");
	assert_int_equal(jwk_to_pkey(bad, &back, err, sizeof(err)), -EBADMSG);
	cJSON_Delete(bad);
	cJSON_Delete(j);
	EVP_PKEY_free(k);
}

static void test_jwe_round_trip(void **state)
{
	static const char msg[] = "the volume key, 32 bytes of it..";
	EVP_PKEY *k = NULL;
	cJSON *jwe = NULL;
	uint8_t *pt = NULL;
	size_t n = 0;
	char err[256];

	(void)state;
	assert_int_equal(p256_generate(&k), 0);
	assert_int_equal(jwe_encrypt(k, (const uint8_t *)msg, strlen(msg), &jwe), 0);
	assert_int_equal(jwe_decrypt(k, jwe, &pt, &n, err, sizeof(err)), 0);
	assert_int_equal(n, strlen(msg));
	assert_memory_equal(pt, msg, n);
	secret_free(pt, n);
	cJSON_Delete(jwe);
	/* empty plaintext */
	assert_int_equal(jwe_encrypt(k, NULL, 0, &jwe), 0);
	assert_int_equal(jwe_decrypt(k, jwe, &pt, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	secret_free(pt, n);
	cJSON_Delete(jwe);
	EVP_PKEY_free(k);
}

/* Flips one character of a base64url member (keeping it valid base64url). */
static void flip(cJSON *jwe, const char *member, size_t at)
{
	cJSON *m = cJSON_GetObjectItem(jwe, member);
	char *s = strdup(m->valuestring);

	assert_true(at < strlen(s));
	s[at] = s[at] == 'A' ? 'B' : 'A';
	cJSON_ReplaceItemInObject(jwe, member, cJSON_CreateString(s));
	free(s);
}

static cJSON *header_with(cJSON *jwe, const char *json_header)
{
	char *b64 = NULL;
	cJSON *t = cJSON_Duplicate(jwe, 1);

	assert_int_equal(base64_encode(json_header, strlen(json_header), BASE64_URL, &b64), 0);
	cJSON_ReplaceItemInObject(t, "protected", cJSON_CreateString(b64));
	free(b64);
	return t;
}

static void test_jwe_tampering_refused(void **state)
{
	static const char *const members[] = { "encrypted_key", "iv", "ciphertext", "tag",
					       "protected" };
	EVP_PKEY *k = NULL, *other = NULL;
	cJSON *jwe = NULL, *t;
	uint8_t *pt = NULL;
	size_t n = 0;
	char err[256];

	(void)state;
	assert_int_equal(p256_generate(&k), 0);
	assert_int_equal(p256_generate(&other), 0);
	assert_int_equal(jwe_encrypt(k, (const uint8_t *)"secret", 6, &jwe), 0);
	for (size_t i = 0; i < ARRAY_SIZE(members); i++) {
		t = cJSON_Duplicate(jwe, 1);
		flip(t, members[i], 1);
		assert_int_equal(jwe_decrypt(k, t, &pt, &n, err, sizeof(err)), -EBADMSG);
		assert_non_null(strstr(err, "JWE"));
		cJSON_Delete(t);
	}
	/* another recipient */
	assert_int_equal(jwe_decrypt(other, jwe, &pt, &n, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "JWE encrypted_key does not unwrap with this key");
	/* algorithms not offered */
	t = header_with(jwe, "{\"alg\":\"RSA1_5\",\"enc\":\"A256GCM\"}");
	assert_int_equal(jwe_decrypt(k, t, &pt, &n, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "JWE alg is not ECDH-ES+A256KW");
	cJSON_Delete(t);
	t = header_with(jwe, "{\"alg\":\"dir\",\"enc\":\"A256GCM\"}");
	assert_int_equal(jwe_decrypt(k, t, &pt, &n, err, sizeof(err)), -EBADMSG);
	cJSON_Delete(t);
	t = header_with(jwe, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A128CBC-HS256\"}");
	assert_int_equal(jwe_decrypt(k, t, &pt, &n, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "JWE enc is not A256GCM");
	cJSON_Delete(t);
	t = header_with(jwe, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}");
	assert_int_equal(jwe_decrypt(k, t, &pt, &n, err, sizeof(err)), -EBADMSG);
	cJSON_Delete(t);
	/* truncated members and extra members */
	t = cJSON_Duplicate(jwe, 1);
	cJSON_ReplaceItemInObject(t, "iv", cJSON_CreateString("AAAA"));
	assert_int_equal(jwe_decrypt(k, t, &pt, &n, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "JWE iv is not 12 bytes");
	cJSON_Delete(t);
	t = cJSON_Duplicate(jwe, 1);
	cJSON_AddStringToObject(t, "unprotected", "x");
	assert_int_equal(jwe_decrypt(k, t, &pt, &n, err, sizeof(err)), -EBADMSG);
	cJSON_Delete(t);
	t = cJSON_Duplicate(jwe, 1);
	cJSON_DeleteItemFromObject(t, "tag");
	assert_int_equal(jwe_decrypt(k, t, &pt, &n, err, sizeof(err)), -EBADMSG);
	cJSON_Delete(t);
	cJSON_Delete(jwe);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void test_jwt_sign_verify(void **state)
{
	EVP_PKEY *k = NULL, *other = NULL;
	cJSON *claims = parse("{\"iss\":\"cvm-kbs\",\"exp\":1}"), *back = NULL;
	char *tok = NULL, err[256];

	(void)state;
	assert_int_equal(p256_generate(&k), 0);
	assert_int_equal(p256_generate(&other), 0);
	assert_int_equal(jwt_sign_es256(k, claims, &tok), 0);
	assert_int_equal(jwt_verify_es256(k, tok, &back, err, sizeof(err)), 0);
	assert_string_equal(cJSON_GetObjectItem(back, "iss")->valuestring, "cvm-kbs");
	cJSON_Delete(back);
	assert_int_equal(jwt_verify_es256(other, tok, &back, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "token signature does not verify");
	/* a changed claim */
	tok[strchr(tok, '.') - tok + 3] ^= 1;
	assert_int_equal(jwt_verify_es256(k, tok, &back, err, sizeof(err)), -EBADMSG);
	assert_int_equal(jwt_verify_es256(k, "a.b", &back, err, sizeof(err)), -EBADMSG);
	assert_int_equal(jwt_verify_es256(k, "eyJhbGciOiJub25lIn0.e30.", &back, err, sizeof(err)),
			 -EBADMSG);
	free(tok);
	cJSON_Delete(claims);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static char *run(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	static char buf[8192];
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	assert_int_equal(pclose(f), 0);
	return buf;
}

static void write_json(const char *path, const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	sim_write(path, s, strlen(s));
	free(s);
}

/* jwcrypto encrypts to our key, we decrypt; we encrypt to its key, it decrypts. */
static void test_jwe_interop_jwcrypto(void **state)
{
	char script[512], path[512], path2[512], cmd[2048];
	EVP_PKEY *k = NULL;
	cJSON *jwk = NULL, *jwe = NULL;
	uint8_t *pt = NULL;
	size_t n = 0;
	char err[256], *out;
	uint8_t *text;
	size_t len;

	(void)state;
	sim_path(script, sizeof(script), "CVM_TOP", "tests/data/jose/interop.py");
	assert_int_equal(p256_generate(&k), 0);
	assert_int_equal(jwk_from_pkey(k, &jwk), 0);
	sim_path(path, sizeof(path), "CVM_TEST_TMP", "jose-ours.jwk");
	write_json(path, jwk);
	snprintf(cmd, sizeof(cmd), "%s encrypt %s 'sealed by jwcrypto'", script, path);
	out = run(cmd);
	jwe = parse(out);
	assert_int_equal(jwe_decrypt(k, jwe, &pt, &n, err, sizeof(err)), 0);
	assert_int_equal(n, strlen("sealed by jwcrypto"));
	assert_memory_equal(pt, "sealed by jwcrypto", n);
	secret_free(pt, n);
	cJSON_Delete(jwe);
	cJSON_Delete(jwk);
	EVP_PKEY_free(k);

	sim_path(path, sizeof(path), "CVM_TEST_TMP", "jose-theirs.priv");
	sim_path(path2, sizeof(path2), "CVM_TEST_TMP", "jose-theirs.pub");
	snprintf(cmd, sizeof(cmd), "%s keypair %s %s", script, path, path2);
	run(cmd);
	text = sim_read(path2, &len);
	jwk = parse((char *)text);
	free(text);
	assert_int_equal(jwk_to_pkey(jwk, &k, err, sizeof(err)), 0);
	assert_int_equal(jwe_encrypt(k, (const uint8_t *)"sealed by cvm", 13, &jwe), 0);
	sim_path(path2, sizeof(path2), "CVM_TEST_TMP", "jose-ours.jwe");
	write_json(path2, jwe);
	snprintf(cmd, sizeof(cmd), "%s decrypt %s %s", script, path, path2);
	assert_string_equal(run(cmd), "sealed by cvm");
	cJSON_Delete(jwe);
	cJSON_Delete(jwk);
	EVP_PKEY_free(k);
}

/* Our ES256 tokens verify with jwcrypto. */
static void test_jwt_interop_jwcrypto(void **state)
{
	char script[512], path[512], cmd[4096];
	EVP_PKEY *k = NULL;
	cJSON *jwk = NULL, *claims = parse("{\"iss\":\"cvm-kbs\",\"n\":7}");
	char *tok = NULL;

	(void)state;
	sim_path(script, sizeof(script), "CVM_TOP", "tests/data/jose/interop.py");
	assert_int_equal(p256_generate(&k), 0);
	assert_int_equal(jwk_from_pkey(k, &jwk), 0);
	cJSON_DeleteItemFromObject(jwk, "alg");
	sim_path(path, sizeof(path), "CVM_TEST_TMP", "jose-sign.jwk");
	write_json(path, jwk);
	assert_int_equal(jwt_sign_es256(k, claims, &tok), 0);
	snprintf(cmd, sizeof(cmd), "%s verify-jwt %s %s", script, path, tok);
	assert_string_equal(run(cmd), "{\"iss\":\"cvm-kbs\",\"n\":7}");
	free(tok);
	cJSON_Delete(jwk);
	cJSON_Delete(claims);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concat_kdf_rfc7518_appendix_c),
		cmocka_unit_test(test_jwk_round_trip_and_refusals),
		cmocka_unit_test(test_jwe_round_trip),
		cmocka_unit_test(test_jwe_tampering_refused),
		cmocka_unit_test(test_jwt_sign_verify),
		cmocka_unit_test(test_jwe_interop_jwcrypto),
		cmocka_unit_test(test_jwt_interop_jwcrypto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
