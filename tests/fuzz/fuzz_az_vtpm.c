/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: Azure's vTPM evidence (measurement/az_vtpm.c). The first byte
 * picks what the rest is: 0 az-snp-vtpm JSON, 1 az-tdx-vtpm JSON, 2 the
 * var data alone, 3 an HCL report in place of the real az-snp-vtpm
 * vector's (tests/vectors/azure), all verified under the pinned roots.
 */
#include "measurement/az_vtpm.h"
#include "tests/fuzz/fuzz_common.h"

static struct snp_verifier *snp;
static struct tdx_verifier *tdx;
static struct kbs_evidence real;

static void init(void)
{
	char path[1024], err[200];
	uint8_t *text = NULL;
	cJSON *j = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/azure/snp-evidence-v1.json", fuzz_vectors());
	if (snp_verifier_new(NULL, 1780272000, &snp) < 0 ||
	    tdx_verifier_new(NULL, NULL, 1780272000, &tdx, err, sizeof(err)) < 0 ||
	    file_read(path, CVM_CAP_JSON, &text, &len) < 0 ||
	    json_parse((char *)text, len, &j) < 0 ||
	    kbs_evidence_parse(PLATFORM_AZ_SNP_VTPM, j, &real, err, sizeof(err)) < 0)
		abort();
	cJSON_Delete(j);
	free(text);
}

static void verify(const struct kbs_evidence *e)
{
	static const uint8_t rd[64] = "challenge";
	uint8_t reg[48];
	size_t reglen;
	struct verdict v;

	kbs_evidence_verify(e, snp, tdx, NULL, rd, reg, &reglen, &v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kbs_evidence e;
	char err[200];

	if (!snp)
		init();
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
	case 1: {
		cJSON *j = NULL;

		if (json_parse((const char *)data + 1, size - 1, &j) == 0 &&
		    kbs_evidence_parse(data[0] & 1 ? PLATFORM_AZ_TDX_VTPM : PLATFORM_AZ_SNP_VTPM, j,
				       &e, err, sizeof(err)) == 0) {
			cJSON_Delete(az_vtpm_claims(&e, err, sizeof(err)));
			verify(&e);
			kbs_evidence_free(&e);
		}
		cJSON_Delete(j);
		break;
	}
	case 2: {
		EVP_PKEY *ak = NULL;
		uint8_t user[64];
		bool has_user;

		if (az_var_data_parse(data + 1, size - 1, &ak, user, &has_user, err, sizeof(err)) ==
		    0)
			EVP_PKEY_free(ak);
		break;
	}
	default: {
		struct kbs_evidence h = real;

		h.hcl = (uint8_t *)data + 1;
		h.hcl_len = size - 1;
		cJSON_Delete(az_vtpm_claims(&h, err, sizeof(err)));
		verify(&h);
		break;
	}
	}
	return 0;
}
