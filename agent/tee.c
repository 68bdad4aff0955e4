/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Choosing a TEE backend, and the runtime measurements (docs/design.md §5,
 * docs/measurements.md): each event extends the backend's RTMR3 and, when
 * a TPM is present, PCR 15, then gets one CEL-JSON record per register.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "lib/lib.h"

typedef int (*open_fn)(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen);

/* The kernel backends give the platform's evidence; the runtime log is added here. */
static int evidence_with_log(struct tee *t, const uint8_t rd[64], cJSON **out, char *err,
			     size_t errlen)
{
	int r = t->platform_evidence(t, rd, out, err, errlen);

	/* SEV-SNP has no runtime register to bind the log: a broker refuses one there. */
	if (r < 0 || t->runtime != PLATFORM_TDX)
		return r;
	r = tee_add_runtime_log(t, *out, err, errlen);
	if (r < 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return r;
}

static int open_kernel(open_fn fn, const struct tee_config *cfg, struct tee **out, char *err,
		       size_t errlen)
{
	int r = fn(cfg, out, err, errlen);

	if (r == 0) {
		(*out)->platform_evidence = (*out)->evidence;
		(*out)->evidence = evidence_with_log;
	}
	return r;
}

/* Hardware first, in docs/design.md §5.2's order; the sim backend is never chosen automatically. */
static int open_auto(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		open_fn fn;
		bool kernel;
	} probes[] = {
		{ "tsm", tee_tsm_open, true },
		{ "tdx-guest", tee_tdx_guest_open, true },
		{ "sev-guest", tee_sev_guest_open, true },
		{ "az", tee_az_open, false },
		{ "tpm", tee_tpm_open, false },
	};
	char why[ARRAY_SIZE(probes)][160];

	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		int r = probes[i].kernel
				? open_kernel(probes[i].fn, cfg, out, why[i], sizeof(why[i]))
				: probes[i].fn(cfg, out, why[i], sizeof(why[i]));

		if (r == 0)
			return 0;
		if (r == -ENOMEM)
			return r;
	}
	return set_error(err, errlen, -ENODEV, "no TEE found (%s; %s; %s; %s; %s)", why[0], why[1],
			 why[2], why[3], why[4]);
}

int tee_open(const char *name, const struct tee_config *cfg, struct tee **out, char *err,
	     size_t errlen)
{
	if (!name || !strcmp(name, "auto"))
		return open_auto(cfg, out, err, errlen);
	if (!strcmp(name, "tsm"))
		return open_kernel(tee_tsm_open, cfg, out, err, errlen);
	if (!strcmp(name, "tdx-guest"))
		return open_kernel(tee_tdx_guest_open, cfg, out, err, errlen);
	if (!strcmp(name, "sev-guest"))
		return open_kernel(tee_sev_guest_open, cfg, out, err, errlen);
	if (!strcmp(name, "az"))
		return tee_az_open(cfg, out, err, errlen);
	if (!strcmp(name, "tpm"))
		return tee_tpm_open(cfg, out, err, errlen);
	if (!strcmp(name, "sim")) {
		if (!tee_sim_open)
			return set_error(err, errlen, -ENOTSUP,
					 "the sim backend is not in this build (test builds only)");
		return tee_sim_open(cfg, out, err, errlen);
	}
	return set_error(
		err, errlen, -EINVAL,
		"unknown TEE backend %.32s (tsm, tdx-guest, sev-guest, az, tpm, sim, auto)", name);
}

void tee_close(struct tee *t)
{
	if (!t)
		return;
	if (t->pcr)
		tee_tpm_pcr_close(t->pcr);
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

/* ---- runtime measurements ---- */

/* The TPM, looked for once: absent is no error, present but unusable is. */
static int find_tpm(struct tee *t, char *err, size_t errlen)
{
	int r;

	if (t->pcr_probed)
		return 0;
	r = tee_tpm_pcr_open(&t->cfg, &t->pcr, err, errlen);
	if (r == -ENODEV)
		r = 0;
	t->pcr_probed = r == 0;
	return r;
}

static int digest_of(const cJSON *rec, const char *alg, uint8_t *out, size_t n)
{
	const cJSON *d;

	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(rec, "digests")) {
		const char *a = NULL;

		if (json_get_string(d, "hashAlg", &a) == 0 && !strcmp(a, alg))
			return json_get_hex(d, "digest", out, n);
	}
	return -ENOENT;
}

/* Extends the registers with the digests of the records just made, before any is logged. */
static int extend_all(struct tee *t, const cJSON *rtmr_rec, const cJSON *pcr_rec, char *err,
		      size_t errlen)
{
	uint8_t d384[48], d256[32];
	int r;

	if (rtmr_rec) {
		if (digest_of(rtmr_rec, "sha384", d384, 48) < 0)
			return set_error(err, errlen, -EINVAL, "E_MEASURE: record without digest");
		r = t->extend(t, d384, 48, err, errlen);
		if (r < 0)
			return r;
	}
	if (pcr_rec) {
		bool sha384 = tee_tpm_pcr_sha384(t->pcr);

		if (digest_of(pcr_rec, "sha256", d256, 32) < 0 ||
		    (sha384 && digest_of(pcr_rec, "sha384", d384, 48) < 0))
			return set_error(err, errlen, -EINVAL, "E_MEASURE: record without digest");
		r = tee_tpm_pcr_extend(t->pcr, d256, sha384 ? d384 : NULL, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_log(const char *path, cJSON **log)
{
	_cleanup_free_ uint8_t *text = NULL;
	size_t len = 0;
	int r = file_read(path, CVM_CAP_JSON, &text, &len);

	if (r == -ENOENT) {
		*log = cJSON_CreateArray();
		return *log ? 0 : -ENOMEM;
	}
	if (r < 0 || json_parse((char *)text, len, log) < 0)
		return -EBADMSG;
	if (!cJSON_IsArray(*log) || cJSON_GetArraySize(*log) >= RUNTIME_MAX_EVENTS - 1) {
		cJSON_Delete(*log);
		*log = NULL;
		return -EBADMSG;
	}
	return 0;
}

int tee_measure(struct tee *t, const char *name, const uint8_t *value, size_t n, char *err,
		size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *log = NULL;
	_cleanup_free_ char *out = NULL;
	cJSON *rtmr_rec = NULL, *pcr_rec = NULL;
	char why[256] = "";
	int r;

	if (!runtime_event_name_valid(name) || n > RUNTIME_VALUE_MAX)
		return set_error(err, errlen, -EINVAL, "E_MEASURE: bad event name or value size");
	if (!t->cfg.runtime_log)
		return set_error(err, errlen, -ENOTSUP, "E_MEASURE: %s: no runtime log", t->name);
	r = find_tpm(t, why, sizeof(why));
	if (r < 0)
		return set_error(err, errlen, r, "E_MEASURE: %s", why);
	if (!t->extend && !t->pcr)
		return set_error(err, errlen, -ENOTSUP,
				 "E_MEASURE: %s has no runtime register and there is no TPM",
				 t->name);
	r = load_log(t->cfg.runtime_log, &log);
	if (r < 0)
		return set_error(err, errlen, r, "E_MEASURE: runtime log %s unreadable",
				 t->cfg.runtime_log);
	if (t->extend &&
	    (!(rtmr_rec = runtime_event_json(PLATFORM_TDX, (uint64_t)cJSON_GetArraySize(log), name,
					     value, n)) ||
	     !cJSON_AddItemToArray(log, rtmr_rec)))
		return -ENOMEM;
	if (t->pcr &&
	    (!(pcr_rec = runtime_event_pcr15_json((uint64_t)cJSON_GetArraySize(log), name, value, n,
						  tee_tpm_pcr_sha384(t->pcr))) ||
	     !cJSON_AddItemToArray(log, pcr_rec)))
		return -ENOMEM;
	/* registers first: a log record without its extend would never replay */
	r = extend_all(t, rtmr_rec, pcr_rec, why, sizeof(why));
	if (r < 0)
		return set_error(err, errlen, r, "%s", why);
	out = cJSON_PrintUnformatted(log);
	if (!out)
		return -ENOMEM;
	r = file_write_atomic(t->cfg.runtime_log, out, strlen(out), why, sizeof(why));
	if (r < 0)
		return set_error(err, errlen, r, "E_MEASURE: %s", why);
	return 0;
}
