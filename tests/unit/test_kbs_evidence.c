/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KBS protocol's evidence shapes against Trustee's own fixtures (a real
 * SEV-SNP report in the sev crate's JSON, a TPM quote), the report_data
 * binding against an independent computation, resource paths and cvm's
 * runtime event log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "measurement/measurement.h"
#include "tests/unit/support/sim.h"

static cJSON *load(const char *rel)
{
	char path[512];
	size_t len;
	uint8_t *text = sim_read(sim_path(path, sizeof(path), "CVM_TOP", rel), &len);
	cJSON *j = NULL;

	assert_int_equal(json_parse((char *)text, len, &j), 0);
	free(text);
	return j;
}

static char *canon(const cJSON *j)
{
	char *s = NULL;
	size_t n;

	assert_int_equal(jcs_serialize(j, &s, &n), 0);
	return s;
}

/* Trustee attestation-service/tests/e2e/evidence.json: a Genoa report and its VCEK. */
static void test_snp_trustee_fixture_round_trip_and_verify(void **state)
{
	cJSON *ev = load("tests/data/kbs/trustee-snp-evidence.json"), *back;
	const cJSON *rep = cJSON_GetObjectItem(ev, "attestation_report");
	struct kbs_evidence e;
	struct snp_verifier *sv = NULL;
	struct snp_report r;
	struct reference ref;
	struct verdict v;
	uint8_t raw[SNP_REPORT_SIZE];
	char err[256], *a, *b;

	(void)state;
	assert_int_equal(snp_report_from_sev_json(rep, raw, err, sizeof(err)), 0);
	back = snp_report_to_sev_json(raw);
	a = canon(rep);
	b = canon(back);
	assert_string_equal(a, b); /* the same JSON, member for member */
	free(a);
	free(b);
	cJSON_Delete(back);

	assert_int_equal(kbs_evidence_parse(PLATFORM_SNP, ev, &e, err, sizeof(err)), 0);
	assert_non_null(e.certs.vcek);
	reference_defaults(&ref);
	assert_int_equal(snp_verifier_new(NULL, 0, &sv), 0);
	snp_verify(sv, e.raw, e.raw_len, &e.certs, &ref.snp, NULL, &r, &v);
	if (!verdict_ok(&v))
		fail_msg("%s", verdict_first_failure(&v)->detail);
	assert_int_equal(r.product, SNP_PRODUCT_GENOA);
	kbs_evidence_free(&e);

	/* one byte of the measurement changed: the signature no longer holds */
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem((cJSON *)rep, "measurement"), 0,
				 cJSON_CreateNumber(0));
	assert_int_equal(kbs_evidence_parse(PLATFORM_SNP, ev, &e, err, sizeof(err)), 0);
	snp_verify(sv, e.raw, e.raw_len, &e.certs, &ref.snp, NULL, &r, &v);
	assert_false(verdict_ok(&v));
	assert_int_equal(verdict_first_failure(&v)->check, CHECK_SIGNATURE);
	kbs_evidence_free(&e);
	snp_verifier_free(sv);
	cJSON_Delete(ev);
}

static void test_snp_json_malformed(void **state)
{
	static const char *const edits[][2] = {
		{ "vmpl", "-1" },	    { "vmpl", "4294967296" }, { "policy", "\"0x30000\"" },
		{ "measurement", "[1,2]" }, { "chip_id", "null" },    { "current_tcb", "{}" },
		{ "report_data", "[256" },
	};
	cJSON *ev = load("tests/data/kbs/trustee-snp-evidence.json");
	uint8_t raw[SNP_REPORT_SIZE];
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(edits); i++) {
		cJSON *t = cJSON_Duplicate(cJSON_GetObjectItem(ev, "attestation_report"), 1);
		cJSON *v = cJSON_Parse(edits[i][1]);

		if (v)
			cJSON_ReplaceItemInObject(t, edits[i][0], v);
		else
			cJSON_DeleteItemFromObject(t, edits[i][0]);
		assert_int_equal(snp_report_from_sev_json(t, raw, err, sizeof(err)), -EBADMSG);
		assert_non_null(strstr(err, edits[i][0]));
		cJSON_Delete(t);
	}
	cJSON_Delete(ev);
}

/* Trustee deps/verifier/test_data/tpm_evidence.json: RSASSA quote, 24 SHA-256 PCRs. */
static void test_tpm_trustee_fixture_verifies(void **state)
{
	cJSON *ev = load("tests/data/kbs/trustee-tpm-evidence.json");
	struct kbs_evidence e;
	struct tpm_quote q;
	struct tpm_reference ref = { 0 };
	struct verdict v;
	char err[256];

	(void)state;
	assert_int_equal(kbs_evidence_parse(PLATFORM_TPM, ev, &e, err, sizeof(err)), 0);
	assert_int_equal(tpm_quote_verify(e.raw, e.raw_len, e.extra, e.extra_len, e.ak,
					  (const uint8_t(*)[32])e.pcrs, NULL, NULL, &q, &v),
			 0);
	assert_true(verdict_ok(&v));
	assert_int_equal(q.sig_alg, 0x0014);
	assert_int_equal(q.extra_len, 64); /* SHA-384 of the runtime data, zero-padded */
	{
		uint8_t rd[64];

		memcpy(rd, q.extra_data, 64);
		assert_int_equal(tpm_quote_verify(e.raw, e.raw_len, e.extra, e.extra_len, e.ak,
						  (const uint8_t(*)[32])e.pcrs, NULL, rd, &q, &v),
				 0);
	}
	/* a pinned AK that is not this one */
	ref.has_ak_sha256 = true;
	assert_int_equal(tpm_quote_verify(e.raw, e.raw_len, e.extra, e.extra_len, e.ak,
					  (const uint8_t(*)[32])e.pcrs, &ref, NULL, &q, &v),
			 -1);
	assert_int_equal(verdict_first_failure(&v)->check, CHECK_AK);
	/* the qualifying data is not ours */
	{
		uint8_t rd[64] = { 1 };

		assert_int_equal(tpm_quote_verify(e.raw, e.raw_len, e.extra, e.extra_len, e.ak,
						  (const uint8_t(*)[32])e.pcrs, NULL, rd, &q, &v),
				 -1);
		assert_int_equal(verdict_first_failure(&v)->check, CHECK_REPORT_DATA);
	}
	/* a PCR value changed after the quote */
	e.pcrs[0][0] ^= 1;
	assert_int_equal(tpm_quote_verify(e.raw, e.raw_len, e.extra, e.extra_len, e.ak,
					  (const uint8_t(*)[32])e.pcrs, NULL, NULL, &q, &v),
			 -1);
	assert_int_equal(verdict_first_failure(&v)->check, CHECK_PCR_DIGEST);
	e.pcrs[0][0] ^= 1;
	/* the quote changed after signing */
	e.raw[e.raw_len - 1] ^= 1;
	assert_int_equal(tpm_quote_verify(e.raw, e.raw_len, e.extra, e.extra_len, e.ak,
					  (const uint8_t(*)[32])e.pcrs, NULL, NULL, &q, &v),
			 -1);
	assert_false(verdict_ok(&v));
	/* truncated */
	assert_int_equal(tpm_quote_verify(e.raw, 20, e.extra, e.extra_len, e.ak,
					  (const uint8_t(*)[32])e.pcrs, NULL, NULL, &q, &v),
			 -1);
	assert_int_equal(verdict_first_failure(&v)->check, CHECK_FORMAT);
	kbs_evidence_free(&e);
	cJSON_Delete(ev);
}

/* SHA-384 of tests/data/kbs/runtime-data.json, computed with Python's hashlib. */
static void test_report_data_binding(void **state)
{
	static const char want384[] = "72267d3569f4993541252e94d68dc8fb46b65adcb3a51517b5a2e7d09ea3"
				      "501bec67beebd62cb3b799c9c8b330532e0b";
	static const char want256[] = "d4afacf0d475db72c65b454e7571c494d16da44f59035a6f5e56a7bdcff9"
				      "cbc0";
	cJSON *rt = load("tests/data/kbs/runtime-data.json");
	const cJSON *jwk = cJSON_GetObjectItem(rt, "tee-pubkey");
	const char *nonce = cJSON_GetObjectItem(rt, "nonce")->valuestring;
	uint8_t rd[64];
	char hex[129];

	(void)state;
	assert_int_equal(kbs_report_data(nonce, jwk, "sha384", rd), 0);
	hex_encode(rd, 48, hex);
	assert_string_equal(hex, want384);
	assert_true(is_zero(rd + 48, 16));
	assert_int_equal(kbs_report_data(nonce, jwk, "sha256", rd), 0);
	hex_encode(rd, 32, hex);
	assert_string_equal(hex, want256);
	assert_true(is_zero(rd + 32, 32));
	assert_int_equal(kbs_report_data(nonce, jwk, "md5", rd), -EINVAL);
	cJSON_Delete(rt);
}

static void test_resource_paths(void **state)
{
	static const char *const good[] = { "default/key/vol", "a/b/c", "repo-1/t_2/tag.v3" };
	static const char *const badp[] = { "",	      "a/b",	 "a/b/c/d", "a//c",   "/a/b/c",
					    "a/b/c/", "../b/c",	 "a/../c",  "a/b/..", "a/./c",
					    "a/b/.c", "a/b/c d", "a/b/%2e", "a\\b/c", "a/b/c\n" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_true(kbs_resource_path_valid(good[i]));
	for (size_t i = 0; i < ARRAY_SIZE(badp); i++)
		if (kbs_resource_path_valid(badp[i]))
			fail_msg("accepted %s", badp[i]);
}

static char *log_of(enum cvm_platform p, const char *const *names, const uint8_t (*values)[32],
		    size_t n, uint8_t reg[48])
{
	cJSON *a = cJSON_CreateArray();
	struct evlog log;
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	size_t nb;
	char *text, err[128];

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, runtime_event_json(p, i, names[i], values[i], 32));
	text = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	assert_int_equal(evlog_parse_cel_json(text, strlen(text), &log, err, sizeof(err)), 0);
	assert_int_equal(evlog_replay(&log, banks, &nb), 0);
	memcpy(reg, banks[0].reg[p == PLATFORM_TDX ? 4 : 15], p == PLATFORM_TDX ? 48 : 32);
	evlog_free(&log);
	return text;
}

static void test_runtime_log(void **state)
{
	/* the agent's own events come first; the log must start with them */
	static const char *const names[] = { "agent-version", "agent-config", "order-id",
					     "luks-header" };
	static const char *const late[] = { "order-id", "agent-version", "agent-config",
					    "luks-header" };
	uint8_t values[4][32], reg[48], other[32];
	struct verdict v;
	char *text;

	(void)state;
	for (int i = 0; i < 4; i++)
		memset(values[i], 0x11 * (i + 1), 32);
	memset(other, 0x55, 32);
	for (int p = 0; p < 2; p++) {
		enum cvm_platform pl = p ? PLATFORM_TDX : PLATFORM_TPM;

		/* something measured before the agent: refused, though it replays */
		text = log_of(pl, late, (const uint8_t(*)[32])values, 4, reg);
		verdict_init(&v, pl);
		assert_int_equal(runtime_log_check(text, strlen(text), pl, reg, NULL, &v), -1);
		assert_int_equal(verdict_first_failure(&v)->check, CHECK_RUNTIME_LOG);
		assert_non_null(strstr(verdict_first_failure(&v)->detail, "start with the agent"));
		free(text);
		/* the agent's version alone: refused */
		text = log_of(pl, names, (const uint8_t(*)[32])values, 1, reg);
		verdict_init(&v, pl);
		assert_int_equal(runtime_log_check(text, strlen(text), pl, reg, NULL, &v), -1);
		free(text);
		text = log_of(pl, names, (const uint8_t(*)[32])values, 4, reg);
		verdict_init(&v, pl);
		assert_int_equal(runtime_log_check(text, strlen(text), pl, reg, values[3], &v), 0);
		verdict_init(&v, pl);
		assert_int_equal(runtime_log_check(text, strlen(text), pl, reg, other, &v), -1);
		assert_int_equal(verdict_first_failure(&v)->check, CHECK_LUKS_HEADER);
		reg[0] ^= 1;
		verdict_init(&v, pl);
		assert_int_equal(runtime_log_check(text, strlen(text), pl, reg, NULL, &v), -1);
		assert_int_equal(verdict_first_failure(&v)->check, CHECK_RUNTIME_LOG);
		/* the log of the other platform */
		verdict_init(&v, pl);
		assert_int_equal(runtime_log_check(text, strlen(text),
						   p ? PLATFORM_TPM : PLATFORM_TDX, reg, NULL, &v),
				 -1);
		free(text);
		/* a log without the LUKS header event */
		text = log_of(pl, names, (const uint8_t(*)[32])values, 3, reg);
		verdict_init(&v, pl);
		assert_int_equal(runtime_log_check(text, strlen(text), pl, reg, values[3], &v), -1);
		assert_int_equal(verdict_first_failure(&v)->check, CHECK_LUKS_HEADER);
		free(text);
	}
	/* a value that is not what the digest measured */
	{
		static const char forged[] =
			"[{\"recnum\":0,\"pcr\":15,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":"
			"\"0000000000000000000000000000000000000000000000000000000000000000\"}],"
			"\"content_type\":\"cvm\",\"content\":{\"name\":\"luks-header\",\"value\":"
			"\"2222222222222222222222222222222222222222222222222222222222222222\"}}]";

		verdict_init(&v, PLATFORM_TPM);
		assert_int_equal(
			runtime_log_check(forged, strlen(forged), PLATFORM_TPM, reg, values[1], &v),
			-1);
		assert_non_null(strstr(verdict_first_failure(&v)->detail, "not that of its value"));
	}
}

/* Refused, the detail naming want. */
static void log_refused(enum cvm_platform p, const char *text, const uint8_t *reg, const char *want)
{
	struct verdict v;

	verdict_init(&v, p);
	assert_int_equal(runtime_log_check(text, strlen(text), p, reg, NULL, &v), -1);
	assert_int_equal(verdict_first_failure(&v)->check, CHECK_RUNTIME_LOG);
	if (!strstr(verdict_first_failure(&v)->detail, want))
		fail_msg("\"%s\" does not name \"%s\"", verdict_first_failure(&v)->detail, want);
}

static void test_runtime_log_starts_with_the_agent(void **state)
{
	static const char *const no_config[] = { "agent-version", "order-id", "luks-header" };
	static const char *const swapped[] = { "agent-config", "agent-version", "order-id" };
	static const char *const twice[] = { "agent-version", "agent-version", "agent-config" };
	uint8_t values[3][32], reg[48];
	char *text;

	(void)state;
	for (int i = 0; i < 3; i++)
		memset(values[i], 0x21 * (i + 1), 32);
	for (int p = 0; p < 2; p++) {
		enum cvm_platform pl = p ? PLATFORM_TDX : PLATFORM_TPM;

		/* each replays to the register, and each is refused */
		text = log_of(pl, no_config, (const uint8_t(*)[32])values, 3, reg);
		log_refused(pl, text, reg, "event 1 is \"order-id\", not \"agent-config\"");
		free(text);
		text = log_of(pl, swapped, (const uint8_t(*)[32])values, 3, reg);
		log_refused(pl, text, reg, "event 0 is \"agent-config\", not \"agent-version\"");
		free(text);
		text = log_of(pl, twice, (const uint8_t(*)[32])values, 3, reg);
		log_refused(pl, text, reg, "event 1 is \"agent-version\", not \"agent-config\"");
		free(text);
		/* no record of the register at all */
		memset(reg, 0, sizeof(reg));
		log_refused(pl, "[]", reg, "must start with agent-version and agent-config");
	}
	/*
	 * Only the records of the evidence's register count: a PCR 15 record
	 * first does not stop a TDX log that starts with the agent, and the
	 * same log read for PCR 15 starts with that record and is refused.
	 */
	{
		static const char *const names[] = { "order-id", "agent-version", "agent-config" };
		cJSON *a = cJSON_CreateArray();
		struct runtime_log log;
		struct verdict v;
		char err[160];

		for (int i = 0; i < 3; i++)
			cJSON_AddItemToArray(a, runtime_event_json(i ? PLATFORM_TDX : PLATFORM_TPM,
								   (uint64_t)i, names[i], values[i],
								   32));
		text = cJSON_PrintUnformatted(a);
		cJSON_Delete(a);
		assert_int_equal(runtime_log_parse(text, strlen(text), &log, err, sizeof(err)), 0);
		assert_int_equal(log.n_rtmr3, 2);
		assert_int_equal(log.n_pcr15, 1);
		verdict_init(&v, PLATFORM_TDX);
		assert_int_equal(
			runtime_log_check(text, strlen(text), PLATFORM_TDX, log.rtmr3, NULL, &v),
			0);
		log_refused(PLATFORM_TPM, text, log.pcr15_sha256,
			    "PCR15 event 0 is \"order-id\", not \"agent-version\"");
		runtime_log_free(&log);
		free(text);
	}
}

/* The private key whose scalar is 1: the recipient of the golden JWEs. */
static EVP_PKEY *scalar_one_key(void)
{
	static const char pem[] =
		"-----BEGIN PRIVATE KEY-----\n"
		"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAAAAAAAAAAAAAAAA\n"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAGhRANCAARrF9Hy4SxCR/i85uVjpEDydwN9gS3r\n"
		"M6D0oTlF2JjClk/jQuL+Gn+bjufrSnwPnhYrzjNXazFezsu2QGg3v1H1\n"
		"-----END PRIVATE KEY-----\n";
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(k);
	return k;
}

/* tests/data/kbs/golden: the protocol's messages, written from Trustee's docs and code. */
static void test_golden_messages(void **state)
{
	static const char *const jwes[] = { "tests/data/kbs/golden/resource-response-trustee.json",
					    "tests/data/kbs/golden/resource-response.json" };
	char path[512], err[256];
	uint8_t *text, *pt = NULL;
	size_t len, n = 0;
	enum cvm_platform tee;
	const char *problem, *nonce;
	const cJSON *jwk, *primary;
	cJSON *root = NULL;
	struct kbs_evidence e;
	EVP_PKEY *k;

	(void)state;
	text = sim_read(
		sim_path(path, sizeof(path), "CVM_TOP", "tests/data/kbs/golden/auth-request.json"),
		&len);
	assert_int_equal(
		kbs_auth_request_parse((char *)text, len, &tee, &problem, err, sizeof(err)), 0);
	assert_int_equal(tee, PLATFORM_TDX);
	free(text);

	/* a real TDX quote (tests/vectors) in Trustee's TdxEvidence */
	text = sim_read(sim_path(path, sizeof(path), "CVM_TOP",
				 "tests/data/kbs/golden/attest-request-tdx.json"),
			&len);
	assert_int_equal(kbs_attest_request_parse((char *)text, len, &root, &nonce, &jwk, &primary,
						  err, sizeof(err)),
			 0);
	assert_string_equal(nonce, "dGhlIHNlc3Npb24gbm9uY2UsIDMyIGJ5dGVzIGxvbmc=");
	assert_int_equal(jwk_to_pkey(jwk, &k, err, sizeof(err)), 0);
	EVP_PKEY_free(k);
	assert_int_equal(kbs_evidence_parse(PLATFORM_TDX, primary, &e, err, sizeof(err)), 0);
	{
		struct tdx_verifier *tv = NULL;
		/* the golden quote's TD lacks SEPT_VE_DISABLE: accepted only by name */
		struct tdx_reference ref = { .accepted_tcb = TCB_UP_TO_DATE,
					     .allow_sept_ve = true };
		struct tdx_quote q;
		struct verdict v;

		assert_int_equal(tdx_verifier_new(NULL, NULL, 0, &tv, err, sizeof(err)), 0);
		tdx_verify(tv, e.raw, e.raw_len, &ref, NULL, &q, &v);
		if (!verdict_ok(&v))
			fail_msg("%s", verdict_first_failure(&v)->detail);
		tdx_verifier_free(tv);
	}
	kbs_evidence_free(&e);
	/* the same evidence offered as SNP or TPM is not taken */
	assert_int_equal(kbs_evidence_parse(PLATFORM_SNP, primary, &e, err, sizeof(err)), -EBADMSG);
	assert_int_equal(kbs_evidence_parse(PLATFORM_TPM, primary, &e, err, sizeof(err)), -EBADMSG);
	cJSON_Delete(root);
	free(text);

	/* resource answers: Trustee's shape (epk protected) and jwcrypto's (epk unprotected) */
	k = scalar_one_key();
	for (size_t i = 0; i < ARRAY_SIZE(jwes); i++) {
		cJSON *j = load(jwes[i]);

		assert_int_equal(jwe_decrypt(k, j, &pt, &n, err, sizeof(err)), 0);
		assert_int_equal(n, strlen("golden resource"));
		assert_memory_equal(pt, "golden resource", n);
		secret_free(pt, n);
		cJSON_Delete(j);
	}
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snp_trustee_fixture_round_trip_and_verify),
		cmocka_unit_test(test_snp_json_malformed),
		cmocka_unit_test(test_tpm_trustee_fixture_verifies),
		cmocka_unit_test(test_report_data_binding),
		cmocka_unit_test(test_resource_paths),
		cmocka_unit_test(test_runtime_log),
		cmocka_unit_test(test_runtime_log_starts_with_the_agent),
		cmocka_unit_test(test_golden_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
