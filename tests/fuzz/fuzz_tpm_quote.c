/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: a TPMS_ATTEST quote and its TPMT_SIGNATURE (split at a length prefix). */
#include "measurement/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *ak;
	static uint8_t pcrs[TPM_PCRS][32];
	struct tpm_quote q;
	struct verdict v;
	size_t split;

	if (!ak)
		p256_generate(&ak);
	if (size < 2)
		return 0;
	split = (size_t)(data[0] << 8 | data[1]);
	data += 2;
	size -= 2;
	if (split > size)
		split = size;
	tpm_quote_verify(data, split, data + split, size - split, ak, (const uint8_t(*)[32])pcrs,
			 NULL, pcrs[0], &q, &v);
	return 0;
}
