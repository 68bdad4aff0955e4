/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: what a tunnel's peer sends (measurement/tunnel.c). A first
 * byte 'J' makes the rest the evidence document of the freshness exchange;
 * anything else is a certificate (DER, the whole input). What reads carries
 * evidence of a known tee, and the certificate the key's report_data; a
 * refusal is one line with its code, and nothing is kept. What reads is
 * then taken apart as the client does next.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"
#include "measurement/measurement.h"
#include "measurement/platform.h"
#include "measurement/tunnel.h"

static void take_apart(const char *tee, const cJSON *evidence)
{
	const struct platform *pl = platform_by_kbs_tee(tee);
	struct kbs_evidence e;
	char err[512];

	if (!pl || !evidence)
		abort();
	if (kbs_evidence_parse(pl->id, evidence, &e, err, sizeof(err)) == 0)
		kbs_evidence_free(&e);
}

static void refused(const char *err)
{
	if (strncmp(err, "E_TUNNEL_", 9) || strchr(err, '\n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tunnel_cert c;
	cJSON *ev = NULL;
	char err[512] = "", tee[32];

	if (size && data[0] == 'J') {
		if (tunnel_evidence_parse((const char *)data + 1, size - 1, tee, &ev, err,
					  sizeof(err)) < 0) {
			if (ev)
				abort();
			refused(err);
			return 0;
		}
		take_apart(tee, ev);
		cJSON_Delete(ev);
		return 0;
	}
	if (tunnel_cert_read(data, size, &c, err, sizeof(err)) < 0) {
		if (c.evidence || c.dstack_quote)
			abort();
		refused(err);
		return 0;
	}
	take_apart(c.tee, c.evidence);
	tunnel_cert_free(&c);
	return 0;
}
