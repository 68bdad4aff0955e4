/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Evidence whatever its platform: which kind a raw blob is, and the one
 * verification of a TEE backend's evidence that the key broker and the
 * customer's result check share.
 */
#include <errno.h>
#include <string.h>

#include "measurement/measurement.h"

/*
 * A TDX quote starts with version 4 or 5, attestation key type 2 and TEE
 * type 0x81; an SNP report is exactly 0x4A0 bytes with version 2 to 5. The
 * two cannot be confused: a quote is never 0x4A0 bytes long with a TEE
 * type where an SNP report has its policy.
 */
enum cvm_platform evidence_detect(const uint8_t *buf, size_t len)
{
	if (len >= TDX_QUOTE_HEADER_SIZE && (le16(buf) == 4 || le16(buf) == 5) &&
	    le32(buf + 4) == 0x81)
		return PLATFORM_TDX;
	if (len == SNP_REPORT_SIZE)
		return PLATFORM_SNP;
	return PLATFORM_NONE;
}

/* A TDX quote's RTMR3 comes back whatever the verdict, for the caller's messages. */
static int verify_tdx(const struct kbs_evidence *e, struct tdx_verifier *tv,
		      const struct tdx_reference *ref, const uint8_t *report_data, uint8_t reg[48],
		      struct verdict *v)
{
	struct tdx_quote q = { 0 };
	int r = tdx_verify(tv, e->raw, e->raw_len, ref, report_data, &q, v);

	memcpy(reg, q.body.rtmr[3], 48);
	return r;
}

int kbs_evidence_verify(const struct kbs_evidence *e, struct snp_verifier *snp,
			struct tdx_verifier *tdx, const struct reference *ref,
			const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
			struct verdict *v)
{
	struct reference none;
	struct snp_report rep;
	struct tpm_quote q;
	int r;

	/* Without reference values: the secure defaults (no debug, no migration agent). */
	if (!ref) {
		reference_defaults(&none);
		ref = &none;
	}
	*reglen = 0;
	switch (e->platform) {
	case PLATFORM_SNP:
		r = snp_verify(snp, e->raw, e->raw_len, &e->certs, &ref->snp, report_data, &rep, v);
		break;
	case PLATFORM_TDX:
		r = verify_tdx(e, tdx, &ref->tdx, report_data, reg, v);
		*reglen = 48;
		break;
	case PLATFORM_TPM:
		r = tpm_quote_verify(e->raw, e->raw_len, e->extra, e->extra_len, e->ak,
				     (const uint8_t(*)[32])e->pcrs, &ref->tpm, report_data, &q, v);
		memcpy(reg, e->pcrs[15], 32);
		*reglen = 32;
		break;
	default:
		verdict_init(v, PLATFORM_NONE);
		return verdict_fail(v, CHECK_FORMAT, "evidence of no known platform");
	}
	/* The verifiers record a refusal in the verdict and may return 0 or -1 with it. */
	if (r < 0 && verdict_ok(v))
		return r;
	return verdict_ok(v) ? 0 : -1;
}
