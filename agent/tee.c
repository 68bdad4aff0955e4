/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/lib.h"

int tee_open(const char *name, const struct tee_config *cfg, struct tee **out, char *err,
	     size_t errlen)
{
	char why[256] = "";

	if (!name || !strcmp(name, "auto")) {
		/* Hardware first; the sim backend is never chosen automatically. */
		if (tee_tpm_open(cfg, out, why, sizeof(why)) == 0)
			return 0;
		return set_error(err, errlen, -ENODEV, "no TEE found (tpm: %s)", why);
	}
	if (!strcmp(name, "tpm"))
		return tee_tpm_open(cfg, out, err, errlen);
	if (!strcmp(name, "sim")) {
		if (!tee_sim_open)
			return set_error(err, errlen, -ENOTSUP,
					 "the sim backend is not in this build (test builds only)");
		return tee_sim_open(cfg, out, err, errlen);
	}
	return set_error(err, errlen, -EINVAL, "unknown TEE backend %.32s (sim, tpm, auto)", name);
}

void tee_close(struct tee *t)
{
	if (t)
		t->close(t);
}

int tee_add_runtime_log(const struct tee *t, cJSON *primary, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL;
	size_t len;
	int r;

	if (!t->cfg.runtime_log)
		return 0;
	r = file_read(t->cfg.runtime_log, CVM_CAP_JSON, &text, &len);
	if (r < 0)
		return set_error(err, errlen, r, "runtime log %s: %s", t->cfg.runtime_log,
				 strerror(-r));
	if (!utf8_valid(text, len) || strlen((char *)text) != len)
		return set_error(err, errlen, -EBADMSG, "runtime log %s: not text",
				 t->cfg.runtime_log);
	return cJSON_AddStringToObject(primary, "runtime_eventlog", (char *)text) ? 0 : -ENOMEM;
}

int tee_measure(struct tee *t, const char *name, const uint8_t *value, size_t n, char *err,
		size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *log = NULL;
	_cleanup_free_ uint8_t *text = NULL;
	_cleanup_free_ char *out = NULL;
	cJSON *rec;
	const cJSON *d;
	uint8_t digest[48];
	size_t len = 0;
	int r;

	if (!t->extend || !t->cfg.runtime_log)
		return set_error(err, errlen, -ENOTSUP,
				 "E_MEASURE: %s has no runtime register or no runtime log",
				 t->name);
	r = file_read(t->cfg.runtime_log, CVM_CAP_JSON, &text, &len);
	if (r == -ENOENT)
		log = cJSON_CreateArray();
	else if (r < 0 || json_parse((char *)text, len, &log) < 0 || !cJSON_IsArray(log))
		return set_error(err, errlen, -EBADMSG, "E_MEASURE: runtime log %s unreadable",
				 t->cfg.runtime_log);
	rec = runtime_event_json(t->runtime, (uint64_t)cJSON_GetArraySize(log), name, value, n);
	if (!log || !rec || !cJSON_AddItemToArray(log, rec))
		return -ENOMEM;
	d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rec, "digests"), 0);
	len = t->runtime == PLATFORM_TDX ? 48 : 32;
	if (hex_decode_exact(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "digest")),
			     digest, len) < 0)
		return -EINVAL;
	/* register first: a log entry without its extend would never replay */
	r = t->extend(t, digest, len, err, errlen);
	if (r < 0)
		return r;
	out = cJSON_PrintUnformatted(log);
	if (!out)
		return -ENOMEM;
	r = file_write_atomic(t->cfg.runtime_log, out, strlen(out), err, errlen);
	if (r < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err ? err : "");
		return set_error(err, errlen, r, "E_MEASURE: %s", why);
	}
	return 0;
}
