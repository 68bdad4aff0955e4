/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Evidence whatever its platform: which kind a raw blob is, and the one
 * verification of a TEE backend's evidence that the key broker and the
 * customer's result check share, in two steps: the checks that need no
 * reference values once (kbs_evidence_genuine), then its verified claims
 * against each reference (kbs_claims_match).
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

int kbs_evidence_genuine(const struct kbs_evidence *e, struct snp_verifier *snp,
			 struct tdx_verifier *tdx, struct kbs_claims **out, struct verdict *v)
{
	const struct platform *pl = platform_get(e->platform);
	const struct platform_verifiers pv = { .snp = snp, .tdx = tdx };
	struct kbs_claims *c;
	int r;

	*out = NULL;
	if (!pl) {
		verdict_init(v, PLATFORM_NONE);
		return verdict_fail(v, CHECK_FORMAT, "evidence of no known platform");
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->e = e;
	r = pl->verify(e, &pv, c, v);
	/* The verifiers record a refusal in the verdict and may return 0 or -1 with it. */
	if (r < 0 && verdict_ok(v)) {
		free(c);
		return r;
	}
	if (!verdict_ok(v)) {
		free(c);
		return -1;
	}
	v->platform = e->platform;
	*out = c;
	return 0;
}

int kbs_claims_match(const struct kbs_claims *c, const struct reference *ref,
		     const uint8_t *report_data, uint8_t reg[48], size_t *reglen, struct verdict *v)
{
	const struct platform *pl = platform_get(c->e->platform);
	struct reference none;
	int r;

	/* Without reference values: the secure defaults (no debug, no migration agent). */
	if (!ref) {
		reference_defaults(&none);
		ref = &none;
	}
	*reglen = 0;
	r = pl->match(c, ref, report_data, reg, reglen, v);
	if (r < 0 && verdict_ok(v))
		return r;
	return verdict_ok(v) ? 0 : -1;
}

void kbs_claims_free(struct kbs_claims *c)
{
	free(c);
}

int kbs_claims_match_any(const struct kbs_claims *c, const struct reference *cands, size_t n,
			 const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
			 struct verdict *v)
{
	struct verdict *best = NULL, *cur;
	size_t best_passed = 0;
	int r = -1;

	if (!n)
		return kbs_claims_match(c, NULL, report_data, reg, reglen, v);
	cur = malloc(sizeof(*cur));
	best = malloc(sizeof(*best));
	if (!cur || !best) {
		free(cur);
		free(best);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t passed = 0;

		*cur = *v;
		r = kbs_claims_match(c, &cands[i], report_data, reg, reglen, cur);
		if (r == 0) {
			*v = *cur;
			break;
		}
		if (r != -1) /* nothing could run: the same for every candidate */
			break;
		for (size_t k = 0; k < cur->n; k++)
			passed += cur->results[k].ok;
		if (i == 0 || passed > best_passed) {
			*best = *cur;
			best_passed = passed;
		}
	}
	if (r == -1)
		*v = *best;
	else if (r < 0)
		*v = *cur;
	free(cur);
	free(best);
	return r;
}

int kbs_evidence_verify_any(const struct kbs_evidence *e, struct snp_verifier *snp,
			    struct tdx_verifier *tdx, const struct reference *cands, size_t n,
			    const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
			    struct verdict *v)
{
	struct kbs_claims *c = NULL;
	int r;

	*reglen = 0;
	r = kbs_evidence_genuine(e, snp, tdx, &c, v);
	if (r == 0)
		r = kbs_claims_match_any(c, cands, n, report_data, reg, reglen, v);
	kbs_claims_free(c);
	return r;
}

int kbs_evidence_verify(const struct kbs_evidence *e, struct snp_verifier *snp,
			struct tdx_verifier *tdx, const struct reference *ref,
			const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
			struct verdict *v)
{
	return kbs_evidence_verify_any(e, snp, tdx, ref, ref ? 1 : 0, report_data, reg, reglen, v);
}
