/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: image manifests (measurement/manifest.c), as a broker, a
 * verifier or a customer reads them. The input is parsed; when it parses it
 * is signed with a fixed key and the signature checked (and refused for
 * another builder), and each platform's candidates are made with and
 * without pins: a candidate is always complete. The input is also read as
 * a detached signature. Refusals are one line.
 */
#include <stdlib.h>
#include <string.h>

#include "measurement/measurement.h"
#include "tests/fuzz/fuzz_common.h"

static struct result_key *key(void)
{
	return fuzz_fixed_key(0x22);
}

static void one_line(const char *err)
{
	if (!err[0] || strchr(err, '\n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum cvm_platform all[] = { PLATFORM_TDX, PLATFORM_SNP, PLATFORM_TPM };
	const char *text = (const char *)data;
	struct manifest m;
	struct reference pins, *c;
	uint8_t other[33];
	char err[512] = "", *sig = NULL;
	size_t n;

	if (manifest_parse(text, size, &m, err, sizeof(err)) < 0) {
		one_line(err);
	} else {
		if (manifest_sign(text, size, key(), &sig, err, sizeof(err)) < 0 ||
		    manifest_check_signature(&m, sig, strlen(sig), key()->pub, NULL, err,
					     sizeof(err)) < 0)
			abort();
		memcpy(other, key()->pub, 33);
		other[32] ^= 1;
		if (manifest_check_signature(&m, sig, strlen(sig), other, NULL, err, sizeof(err)) ==
		    0)
			abort();
		free(sig);
		reference_defaults(&pins);
		pins.has_tdx = pins.has_tpm = true;
		pins.tdx.has_rtmr[0] = true;
		pins.tpm.has_ak_sha256 = true;
		for (int i = 0; i < 10; i++)
			pins.tpm.has_pcr[i] = i != 4 && i != 9 && i != 8;
		for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
			if (manifest_candidates(&m, all[i], &pins, &c, &n, err, sizeof(err)) < 0) {
				one_line(err);
				continue;
			}
			for (size_t k = 0; k < n; k++)
				if (reference_complete(&c[k], all[i], err, sizeof(err)) < 0)
					abort();
			free(c);
		}
		manifest_free(&m);
	}
	reference_defaults(&pins);
	memset(&m, 0, sizeof(m));
	if (manifest_check_signature(&m, text, size, NULL, NULL, err, sizeof(err)) < 0)
		one_line(err);
	return 0;
}
