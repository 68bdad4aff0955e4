/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the broker's /attest request, as far as it goes before any
 * signature: the request, the tee-pubkey JWK, the primary evidence of each
 * TEE, a runtime event log it carries, and the order of its init-data.
 */
#include "measurement/measurement.h"
#include "measurement/order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum cvm_platform tees[] = { PLATFORM_SNP, PLATFORM_TDX, PLATFORM_TPM };
	cJSON *root = NULL;
	const cJSON *jwk, *primary;
	const char *nonce;
	EVP_PKEY *key = NULL;
	char err[256];

	if (kbs_attest_request_parse((const char *)data, size, &root, &nonce, &jwk, &primary, err,
				     sizeof(err)) < 0)
		return 0;
	if (jwk_to_pkey(jwk, &key, err, sizeof(err)) == 0)
		EVP_PKEY_free(key);
	{
		struct order o;

		order_from_init_data(root, &o, err, sizeof(err));
		order_free(&o);
	}
	for (size_t i = 0; i < sizeof(tees) / sizeof(tees[0]); i++) {
		struct kbs_evidence e;

		if (kbs_evidence_parse(tees[i], primary, &e, err, sizeof(err)) < 0)
			continue;
		if (e.runtime_log) {
			uint8_t reg[48] = { 0 };
			struct verdict v;

			verdict_init(&v, tees[i]);
			runtime_log_check(e.runtime_log, strlen(e.runtime_log),
					  tees[i] == PLATFORM_TDX ? PLATFORM_TDX : PLATFORM_TPM,
					  reg, reg, &v);
		}
		kbs_evidence_free(&e);
	}
	cJSON_Delete(root);
	return 0;
}
