/* SPDX-License-Identifier: Apache-2.0 */
/* A key broker resource's policy: reference values and runtime-log demands. */
#include <errno.h>
#include <string.h>

#include "measurement/measurement.h"

int kbs_policy_parse(const char *text, size_t len, struct kbs_policy *p, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	_cleanup_free_ char *ref_text = NULL;
	const cJSON *m, *ref;
	char why[256];

	memset(p, 0, sizeof(*p));
	if (json_parse(text, len, &root) < 0 || !cJSON_IsObject(root))
		return set_error(err, errlen, -EINVAL, "not a JSON object");
	cJSON_ArrayForEach(m, root) {
		if (strcmp(m->string, "reference") && strcmp(m->string, "require_runtime_log"))
			return set_error(err, errlen, -EINVAL, "%.32s: unknown member", m->string);
	}
	ref = cJSON_GetObjectItemCaseSensitive(root, "reference");
	if (!ref)
		return set_error(err, errlen, -EINVAL,
				 "no \"reference\": nothing would be checked");
	ref_text = cJSON_PrintUnformatted(ref);
	if (!ref_text)
		return -ENOMEM;
	if (reference_parse(ref_text, strlen(ref_text), &p->ref, why, sizeof(why)) < 0)
		return set_error(err, errlen, -EINVAL, "reference: %s", why);
	if (!p->ref.has_snp && !p->ref.has_tdx && !p->ref.has_tpm)
		return set_error(err, errlen, -EINVAL,
				 "reference: names no platform (snp, tdx or tpm)");
	if (p->ref.has_snp && !p->ref.snp.has_measurement)
		return set_error(err, errlen, -EINVAL, "reference.snp: no measurement");
	if (p->ref.has_tdx && !p->ref.tdx.has_mrtd)
		return set_error(err, errlen, -EINVAL, "reference.tdx: no mrtd");
	if (p->ref.has_tpm && !p->ref.tpm.has_ak_sha256)
		return set_error(err, errlen, -EINVAL,
				 "reference.tpm: no ak_sha256: a TPM quote proves nothing without "
				 "a pinned attestation key");
	if (p->ref.has_luks_header_sha256 && !p->ref.has_tdx && !p->ref.has_tpm)
		return set_error(err, errlen, -EINVAL,
				 "luks_header_sha256 needs a runtime register (tdx or tpm)");
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "require_runtime_log"))) {
		if (!cJSON_IsBool(m))
			return set_error(err, errlen, -EINVAL,
					 "require_runtime_log: not a boolean");
		p->require_runtime_log = cJSON_IsTrue(m);
	}
	p->require_runtime_log |= p->ref.has_luks_header_sha256;
	return 0;
}
