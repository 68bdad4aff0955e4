/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
