/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The order in the evidence (docs/order.md §4): whether evidence was
 * launched for an order. Where the platform has a launch-binding field the
 * host sets at launch and the hardware reports (TDX MRCONFIGID, SNP
 * HOST_DATA), it must hold the order's digest; elsewhere (a TPM, Azure's
 * vTPM platforms) the agent's runtime log must have measured the order's
 * digest as its first event after its own two, which a genuine quote binds
 * through PCR 15. The agent, each key broker and `cvm result open --order`
 * all ask this one function.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "measurement/measurement.h"
#include "measurement/order.h"
#include "measurement/platform.h"

#define E_BIND "E_ORDER_BINDING: "

int evidence_launch_binding(const struct kbs_evidence *e, uint8_t out[48], size_t *len)
{
	const struct platform *pl = platform_get(e->platform);
	struct verdict v;

	if (!pl || !pl->launch_binding || !e->raw)
		return -ENOTSUP;
	verdict_init(&v, e->platform);
	if (e->platform == PLATFORM_TDX) {
		struct tdx_quote q;

		if (tdx_quote_parse(e->raw, e->raw_len, &q, &v) < 0)
			return -EBADMSG;
		memcpy(out, q.body.mrconfigid, 48);
		*len = 48;
		return 0;
	}
	if (e->platform == PLATFORM_SNP) {
		struct snp_report r;

		if (snp_report_parse(e->raw, e->raw_len, &r, &v) < 0)
			return -EBADMSG;
		memcpy(out, r.host_data, 32);
		*len = 32;
		return 0;
	}
	return -ENOTSUP;
}

/* The records of the evidence's runtime register: agent-version, agent-config, order. */
static int check_runtime_event(const struct kbs_evidence *e, const struct order *o, char *err,
			       size_t errlen)
{
	static const char *const first[] = { "agent-version", "agent-config", "order" };
	struct runtime_log log = { 0 };
	size_t k = 0;
	int r = 0;

	if (!e->runtime_log)
		return set_error(err, errlen, -EKEYREJECTED,
				 E_BIND "no runtime log: the order's event cannot be checked");
	if (runtime_log_parse(e->runtime_log, strlen(e->runtime_log), &log, err, errlen) < 0)
		return -EKEYREJECTED;
	for (size_t i = 0; i < log.n && k < 3; i++) {
		const struct runtime_event *ev = &log.events[i];

		if (!runtime_event_binds(ev, e->platform))
			continue;
		if (strcmp(ev->name, first[k])) {
			r = set_error(err, errlen, -EKEYREJECTED,
				      E_BIND "the runtime log's record %zu is \"%s\", not \"%s\"",
				      k, ev->name, first[k]);
			break;
		}
		if (k == 2 && (ev->len != 32 || CRYPTO_memcmp(ev->value, o->sha256, 32)))
			r = set_error(err, errlen, -EKEYREJECTED,
				      E_BIND "the runtime log measured another order");
		k++;
	}
	if (r == 0 && k < 3)
		r = set_error(err, errlen, -EKEYREJECTED,
			      E_BIND "the runtime log has no order event after the agent's own");
	runtime_log_free(&log);
	return r;
}

int order_evidence_check(const struct kbs_evidence *e, const struct order *o, char *err,
			 size_t errlen)
{
	const struct platform *pl = platform_get(e->platform);
	uint8_t b[48];
	size_t n = 0;
	int r = evidence_launch_binding(e, b, &n);

	if (r == -ENOTSUP) {
		if (!pl || !pl->runtime_reg)
			return set_error(err, errlen, -EKEYREJECTED,
					 E_BIND "%s evidence has no place for the order",
					 pl ? pl->name : "this");
		return check_runtime_event(e, o, err, errlen);
	}
	if (r < 0)
		return set_error(err, errlen, -EKEYREJECTED, E_BIND "the evidence does not parse");
	if (CRYPTO_memcmp(b, n == 48 ? o->sha384 : o->sha256, n))
		return set_error(err, errlen, -EKEYREJECTED,
				 E_BIND "%s is not the order's %s: launched for another order",
				 pl->launch_binding, n == 48 ? "SHA-384" : "SHA-256");
	return 0;
}
