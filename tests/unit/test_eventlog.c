/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event logs: the real CCEL of a Google Cloud TDX VM against its quote's
 * RTMRs, OVMF's CCEL against Trustee's parse of it (tests/vectors/README.md),
 * TPM logs with a startup locality, CEL-JSON, and hostile logs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "measurement/measurement.h"
#include "tests/unit/support/sim.h"

static uint8_t *vector(const char *rel, size_t *len)
{
	char path[512];

	return sim_read(sim_path(path, sizeof(path), "CVM_VECTORS", rel), len);
}

static void test_gcp_ccel_replays_to_the_quote_rtmrs(void **state)
{
	size_t len, qlen, nbanks;
	uint8_t *buf = vector("tdx/gcp-cos-ccel/ccel-data.bin", &len);
	uint8_t *qbuf = vector("tdx/gcp-cos-ccel/quote.bin", &qlen);
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	struct tdx_quote q;
	struct verdict v;
	struct evlog log;
	char err[256];

	(void)state;
	assert_int_equal(evlog_parse_tcg2(buf, len, EVLOG_CCEL, &log, err, sizeof(err)), 0);
	assert_int_equal(log.n, 43);
	assert_int_equal(log.nalgs, 1);
	assert_int_equal(log.algs[0], TPM_ALG_SHA384);
	assert_int_equal(evlog_replay(&log, banks, &nbanks), 0);
	verdict_init(&v, PLATFORM_TDX);
	assert_int_equal(tdx_quote_parse(qbuf, qlen, &q, &v), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(banks[0].touched[i + 1]);
		assert_memory_equal(banks[0].reg[i + 1], q.body.rtmr[i], 48);
	}
	assert_false(banks[0].touched[4]);
	assert_true(is_zero(q.body.rtmr[3], 48));
	/* One flipped digest bit changes the replay. */
	log.events[5].digests[0].d[0] ^= 1;
	assert_int_equal(evlog_replay(&log, banks, &nbanks), 0);
	assert_memory_not_equal(banks[0].reg[1], q.body.rtmr[0], 48);
	evlog_free(&log);
	free(buf);
	free(qbuf);
}

static void test_ovmf_ccel_matches_trustee_parse(void **state)
{
	size_t len, jlen;
	uint8_t *buf = vector("eventlog/ccel-ovmf.bin", &len);
	uint8_t *json = vector("eventlog/ccel-ovmf.expected.json", &jlen);
	const cJSON *events, *e;
	cJSON *doc;
	struct evlog log;
	char err[256];
	size_t i = 0;

	(void)state;
	assert_int_equal(evlog_parse_tcg2(buf, len, EVLOG_CCEL, &log, err, sizeof(err)), 0);
	assert_int_equal(json_parse((char *)json, jlen, &doc), 0);
	events = cJSON_GetObjectItemCaseSensitive(doc, "uefi_event_logs");
	assert_int_equal(log.n, (size_t)cJSON_GetArraySize(events));
	cJSON_ArrayForEach(e, events) {
		const struct evlog_event *ev = &log.events[i++];
		const cJSON *d =
			cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "digests"), 0);
		const char *type, *alg, *digest, *event;
		uint64_t index;
		uint8_t want[48], *data;
		size_t dlen;

		assert_int_equal(json_get_u64(e, "index", &index), 0);
		assert_int_equal(ev->index, index);
		assert_int_equal(json_get_string(e, "type_name", &type), 0);
		assert_string_equal(evlog_type_name(ev->type), type);
		assert_int_equal(json_get_string(d, "alg", &alg), 0);
		assert_string_equal(alg, "SHA-384");
		assert_int_equal(ev->ndigests, 1);
		assert_int_equal(ev->digests[0].alg, TPM_ALG_SHA384);
		assert_int_equal(json_get_string(d, "digest", &digest), 0);
		assert_int_equal(hex_decode_exact(digest, want, 48), 0);
		assert_memory_equal(ev->digests[0].d, want, 48);
		assert_int_equal(json_get_string(e, "event", &event), 0);
		assert_int_equal(base64_decode(event, strlen(event), BASE64_STD, &data, &dlen), 0);
		assert_int_equal(dlen, ev->data.len);
		assert_memory_equal(data, ev->data.p, dlen);
		free(data);
	}
	cJSON_Delete(doc);
	evlog_free(&log);
	free(buf);
	free(json);
}

static void test_truncated_logs_never_read_past_the_end(void **state)
{
	size_t len;
	uint8_t *orig = vector("eventlog/ccel-ovmf.bin", &len);

	(void)state;
	for (size_t n = 0; n <= 2120; n++) {
		uint8_t *buf = malloc(n ? n : 1);
		struct evlog log;
		char err[256];

		memcpy(buf, orig, n);
		if (evlog_parse_tcg2(buf, n, EVLOG_CCEL, &log, err, sizeof(err)) == 0) {
			assert_true(log.n <= 20);
			evlog_free(&log);
		}
		free(buf);
	}
	free(orig);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void test_lying_fields_rejected(void **state)
{
	size_t len;
	uint8_t *orig = vector("eventlog/ccel-ovmf.bin", &len), *buf = malloc(len);
	/* Event 1 starts after the 0x4d-byte header event: index, type, count, alg. */
	size_t ev1 = 32 + 0x21;
	struct evlog log;
	char err[256];

	(void)state;
	memcpy(buf, orig, len);
	put32(buf + ev1 + 8 + 4 + 2 + 48, 0x7fffffff); /* event size */
	assert_int_equal(evlog_parse_tcg2(buf, len, EVLOG_CCEL, &log, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "event 1: event size"));
	memcpy(buf, orig, len);
	put32(buf + ev1 + 8, 2); /* digest count */
	assert_int_equal(evlog_parse_tcg2(buf, len, EVLOG_CCEL, &log, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "event 1: 2 digests"));
	memcpy(buf, orig, len);
	buf[ev1 + 12] = 0x0b; /* sha256, not declared */
	assert_int_equal(evlog_parse_tcg2(buf, len, EVLOG_CCEL, &log, err, sizeof(err)), -EBADMSG);
	memcpy(buf, orig, len);
	put32(buf + ev1, 99); /* register index */
	assert_int_equal(evlog_parse_tcg2(buf, len, EVLOG_CCEL, &log, err, sizeof(err)), -EBADMSG);
	memcpy(buf, orig, len);
	buf[0x3c] = 0x99; /* unknown algorithm in the Spec ID event */
	assert_int_equal(evlog_parse_tcg2(buf, len, EVLOG_CCEL, &log, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "unknown digest algorithm"));
	memcpy(buf, orig, len);
	buf[0x20] = 'X'; /* not a Spec ID event */
	assert_int_equal(evlog_parse_tcg2(buf, len, EVLOG_CCEL, &log, err, sizeof(err)), -EBADMSG);
	free(orig);
	free(buf);
}

/* A TPM log: Spec ID (SHA-256), StartupLocality 3, one event in PCR 0. */
static void test_tpm_log_with_startup_locality(void **state)
{
	uint8_t log_bytes[512] = { 0 }, *p = log_bytes, expect[32], start[32] = { 0 }, d[32];
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	struct evlog log;
	size_t nbanks;
	char err[256];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	(void)state;
	put32(p + 4, 3); /* EV_NO_ACTION */
	put32(p + 28, 33);
	memcpy(p + 32, "Spec ID Event03", 16);
	p[32 + 20] = 0; /* spec version etc. */
	put32(p + 32 + 24, 1);
	p[32 + 28] = 0x0b;
	p[32 + 30] = 32;
	p += 32 + 33;
	/* TCG_PCR_EVENT2 StartupLocality */
	put32(p + 4, 3);
	put32(p + 8, 1);
	p[12] = 0x0b;
	put32(p + 14 + 32, 17);
	memcpy(p + 18 + 32, "StartupLocality", 16);
	p[18 + 32 + 16] = 3;
	p += 18 + 32 + 17;
	/* one event, PCR 0, EV_S_CRTM_VERSION */
	memset(d, 0x11, sizeof(d));
	put32(p + 4, 8);
	put32(p + 8, 1);
	p[12] = 0x0b;
	memcpy(p + 14, d, 32);
	put32(p + 14 + 32, 0);
	p += 18 + 32;

	assert_int_equal(evlog_parse_tcg2(log_bytes, (size_t)(p - log_bytes), EVLOG_TCG2, &log, err,
					  sizeof(err)),
			 0);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.startup_locality, 3);
	assert_int_equal(evlog_replay(&log, banks, &nbanks), 0);
	start[31] = 3;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, start, 32);
	EVP_DigestUpdate(ctx, d, 32);
	EVP_DigestFinal_ex(ctx, expect, NULL);
	EVP_MD_CTX_free(ctx);
	assert_memory_equal(banks[0].reg[0], expect, 32);
	evlog_free(&log);
}

static void test_cel_json_records(void **state)
{
	char text[512], hex[97], err[256];
	uint8_t d[48], expect[48], zero[48] = { 0 };
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	struct evlog log;
	size_t nbanks;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	(void)state;
	memset(d, 0x22, sizeof(d));
	hex_encode(d, 48, hex);
	snprintf(text, sizeof(text),
		 "[{\"recnum\": 0, \"rtmr\": 3, \"digests\": [{\"hashAlg\": \"sha384\","
		 " \"digest\": \"%s\"}], \"content_type\": \"cel\", \"content\": {}}]",
		 hex);
	assert_int_equal(evlog_parse_cel_json(text, strlen(text), &log, err, sizeof(err)), 0);
	assert_int_equal(log.format, EVLOG_CCEL);
	assert_int_equal(log.events[0].index, 4);
	assert_int_equal(evlog_replay(&log, banks, &nbanks), 0);
	EVP_DigestInit_ex(ctx, EVP_sha384(), NULL);
	EVP_DigestUpdate(ctx, zero, 48);
	EVP_DigestUpdate(ctx, d, 48);
	EVP_DigestFinal_ex(ctx, expect, NULL);
	EVP_MD_CTX_free(ctx);
	assert_memory_equal(banks[0].reg[4], expect, 48);
	evlog_free(&log);

	static const char *const bad[] = {
		"{}",
		"[{\"pcr\": 99, \"digests\": [{\"hashAlg\": \"sha256\", \"digest\": \"00\"}]}]",
		"[{\"pcr\": 1, \"digests\": [{\"hashAlg\": \"md5\", \"digest\": \"00\"}]}]",
		"[{\"pcr\": 1, \"digests\": [{\"hashAlg\": \"sha1\", \"digest\": \"00\"}]}]",
		"[{\"pcr\": 1, \"digests\": []}]",
		"[{\"digests\": [{\"hashAlg\": \"sha1\", \"digest\": \"00\"}]}]",
		"[{\"rtmr\": 4, \"digests\": []}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
			evlog_parse_cel_json(bad[i], strlen(bad[i]), &log, err, sizeof(err)),
			-EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcp_ccel_replays_to_the_quote_rtmrs),
		cmocka_unit_test(test_ovmf_ccel_matches_trustee_parse),
		cmocka_unit_test(test_truncated_logs_never_read_past_the_end),
		cmocka_unit_test(test_lying_fields_rejected),
		cmocka_unit_test(test_tpm_log_with_startup_locality),
		cmocka_unit_test(test_cel_json_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
