/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a tunnel's certificate as a peer sends it (measurement/tunnel.c).
 * A certificate that reads carries evidence of a known tee and the key's
 * report_data; a refusal is one line with its code, and nothing is kept.
 * What reads is then taken apart as the client does next.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"
#include "measurement/measurement.h"
#include "measurement/platform.h"
#include "measurement/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tunnel_cert c;
	struct kbs_evidence e;
	const struct platform *pl;
	char err[512] = "";

	if (tunnel_cert_read(data, size, &c, err, sizeof(err)) < 0) {
		if (c.evidence || c.dstack_quote || strncmp(err, "E_TUNNEL_", 9) ||
		    strchr(err, '\n'))
			abort();
		return 0;
	}
	pl = platform_by_kbs_tee(c.tee);
	if (!pl || !c.evidence)
		abort();
	if (kbs_evidence_parse(pl->id, c.evidence, &e, err, sizeof(err)) == 0)
		kbs_evidence_free(&e);
	tunnel_cert_free(&c);
	return 0;
}
