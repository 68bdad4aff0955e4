/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Evidence whatever its platform: which kind a raw blob is, and the one
 * verification of a TEE backend's evidence that the key broker and the
 * customer's result check share.
 */
#include <errno.h>
#include <string.h>

#include "measurement/platform.h"

/*
 * The rows' raw_detect, in table order: an SNP report is exactly 0x4A0
 * bytes, which no TDX quote is (its header, body and signature data alone
 * are longer); a TDX quote starts with version 4 or 5 and TEE type 0x81.
 */
enum cvm_platform evidence_detect(const uint8_t *buf, size_t len)
{
	const struct platform *pl = platform_of_raw(buf, len);

	return pl ? pl->id : PLATFORM_NONE;
}

int kbs_evidence_verify(const struct kbs_evidence *e, struct snp_verifier *snp,
			struct tdx_verifier *tdx, const struct reference *ref,
			const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
			struct verdict *v)
{
	const struct platform *pl = platform_get(e->platform);
	const struct platform_verifiers pv = { .snp = snp, .tdx = tdx };
	struct reference none;
	int r;

	/* Without reference values: the secure defaults (no debug, no migration agent). */
	if (!ref) {
		reference_defaults(&none);
		ref = &none;
	}
	*reglen = 0;
	if (!pl) {
		verdict_init(v, PLATFORM_NONE);
		return verdict_fail(v, CHECK_FORMAT, "evidence of no known platform");
	}
	r = pl->verify(e, &pv, ref, report_data, reg, reglen, v);
	/* The verifiers record a refusal in the verdict and may return 0 or -1 with it. */
	if (r < 0 && verdict_ok(v))
		return r;
	return verdict_ok(v) ? 0 : -1;
}
