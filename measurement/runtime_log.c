/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm's runtime event log: CEL-JSON records of what the agent measured into
 * TDX RTMR3 ("rtmr": 3) or TPM PCR 15 ("pcr": 15) before acting on it. Each
 * record names what it measured and carries the measured value:
 *   {"recnum": n, "rtmr": 3, "digests": [{"hashAlg": "sha384", "digest": H(value)}],
 *    "content_type": "cvm", "content": {"name": "luks-header", "value": hex}}
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "measurement/measurement.h"

cJSON *runtime_event_json(enum cvm_platform p, uint64_t recnum, const char *name,
			  const uint8_t *value, size_t n)
{
	const bool tdx = p == PLATFORM_TDX;
	const EVP_MD *md = tdx ? EVP_sha384() : EVP_sha256();
	uint8_t d[48];
	unsigned dlen = 0;
	cJSON *rec = cJSON_CreateObject(), *digests, *dg, *content;

	if (!rec || EVP_Digest(value, n, d, &dlen, md, NULL) != 1)
		goto fail;
	cJSON_AddNumberToObject(rec, "recnum", (double)recnum);
	cJSON_AddNumberToObject(rec, tdx ? "rtmr" : "pcr", tdx ? 3 : 15);
	digests = cJSON_AddArrayToObject(rec, "digests");
	dg = cJSON_CreateObject();
	if (!digests || !dg || !cJSON_AddItemToArray(digests, dg))
		goto fail;
	cJSON_AddStringToObject(dg, "hashAlg", tdx ? "sha384" : "sha256");
	json_add_hex(dg, "digest", d, dlen);
	cJSON_AddStringToObject(rec, "content_type", "cvm");
	content = cJSON_AddObjectToObject(rec, "content");
	if (!content || !cJSON_AddStringToObject(content, "name", name) ||
	    !json_add_hex(content, "value", value, n))
		goto fail;
	return rec;
fail:
	cJSON_Delete(rec);
	return NULL;
}

int runtime_log_check(const char *text, size_t len, enum cvm_platform p, const uint8_t *reg,
		      const uint8_t *luks_sha256, struct verdict *v)
{
	const bool tdx = p == PLATFORM_TDX;
	const uint16_t alg = tdx ? TPM_ALG_SHA384 : TPM_ALG_SHA256;
	const size_t dlen = tdx ? 48 : 32;
	const uint32_t index = tdx ? 4 : 15; /* CCEL index of RTMR3, or PCR 15 */
	struct evlog log;
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	size_t nbanks = 0, i = 0;
	int r;
	const cJSON *rec;
	bool luks_seen = false;
	char err[160];
	uint8_t zero[48] = { 0 };
	const uint8_t *got = zero;

	if (evlog_parse_cel_json(text, len, &log, err, sizeof(err)) < 0)
		return verdict_fail(v, CHECK_RUNTIME_LOG, "runtime event log: %s", err);
	if (tdx != (log.format == EVLOG_CCEL) && log.n) {
		r = verdict_fail(v, CHECK_RUNTIME_LOG,
				 "runtime event log uses %s records on a %s platform",
				 tdx ? "PCR" : "RTMR", platform_name(p));
		evlog_free(&log);
		return r;
	}
	cJSON_ArrayForEach(rec, log.json) {
		const struct evlog_event *e = &log.events[i++];
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(rec, "content");
		const char *name = NULL, *type = NULL;
		uint8_t value[256], d[48];
		size_t n = 0;
		unsigned dl = 0;
		bool bound = false;

		if (e->index != index) {
			r = verdict_fail(v, CHECK_RUNTIME_LOG,
					 "runtime event %zu extends another register", i - 1);
			evlog_free(&log);
			return r;
		}
		if (json_get_string(rec, "content_type", &type) < 0 || strcmp(type, "cvm") ||
		    json_get_string(c, "name", &name) < 0 ||
		    json_get_string(c, "value", &type) < 0 ||
		    hex_decode(type, value, sizeof(value), &n) < 0) {
			r = verdict_fail(v, CHECK_RUNTIME_LOG,
					 "runtime event %zu: content is not cvm's {name, value}",
					 i - 1);
			evlog_free(&log);
			return r;
		}
		EVP_Digest(value, n, d, &dl, tdx ? EVP_sha384() : EVP_sha256(), NULL);
		for (uint32_t j = 0; j < e->ndigests; j++)
			if (e->digests[j].alg == alg)
				bound = !memcmp(e->digests[j].d, d, dlen);
		if (!bound) {
			r = verdict_fail(
				v, CHECK_RUNTIME_LOG,
				"runtime event %zu (%.32s): digest is not that of its value", i - 1,
				name);
			evlog_free(&log);
			return r;
		}
		if (!strcmp(name, "luks-header")) {
			if (luks_sha256 && (n != 32 || memcmp(value, luks_sha256, 32))) {
				r = verdict_fail(v, CHECK_LUKS_HEADER,
						 "the guest measured another LUKS header");
				evlog_free(&log);
				return r;
			}
			luks_seen = true;
		}
	}
	if (evlog_replay(&log, banks, &nbanks) < 0) {
		evlog_free(&log);
		return -ENOMEM;
	}
	for (size_t b = 0; b < nbanks; b++)
		if (banks[b].alg == alg)
			got = banks[b].reg[index];
	evlog_free(&log);
	if (memcmp(got, reg, dlen))
		return verdict_fail(v, CHECK_RUNTIME_LOG, "runtime event log does not replay to %s",
				    tdx ? "RTMR3" : "PCR15");
	verdict_pass(v, CHECK_RUNTIME_LOG, "%zu runtime events replay to %s", i,
		     tdx ? "RTMR3" : "PCR15");
	if (luks_sha256) {
		if (!luks_seen)
			return verdict_fail(v, CHECK_LUKS_HEADER,
					    "the guest measured no LUKS header");
		verdict_pass(v, CHECK_LUKS_HEADER, "the guest measured the expected LUKS header");
	}
	return 0;
}
