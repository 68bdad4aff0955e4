/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "measurement/measurement.h"

static const char *const check_names[CHECK__MAX] = {
	[CHECK_NONE] = "none",
	[CHECK_FORMAT] = "format",
	[CHECK_SIG_ALGO] = "signature_algorithm",
	[CHECK_CERTIFICATES] = "certificates",
	[CHECK_ROOT_PINNED] = "root_pinned",
	[CHECK_CHAIN] = "chain",
	[CHECK_VALIDITY] = "validity",
	[CHECK_KEY_TYPE] = "key_type",
	[CHECK_PRODUCT] = "product",
	[CHECK_SIGNATURE] = "signature",
	[CHECK_TCB_MATCH] = "tcb_match",
	[CHECK_CHIP_ID] = "chip_id",
	[CHECK_SIGNING_KEY] = "signing_key",
	[CHECK_POLICY_DEBUG] = "policy_debug",
	[CHECK_POLICY_MA] = "policy_migration_agent",
	[CHECK_POLICY_SMT] = "policy_smt",
	[CHECK_POLICY] = "policy",
	[CHECK_VMPL] = "vmpl",
	[CHECK_MEASUREMENT] = "measurement",
	[CHECK_HOST_DATA] = "host_data",
	[CHECK_ID_DIGESTS] = "id_digests",
	[CHECK_REPORT_DATA] = "report_data",
	[CHECK_MIN_TCB] = "min_tcb",
	[CHECK_CERT_DATA] = "certification_data",
	[CHECK_QE_SIGNATURE] = "qe_report_signature",
	[CHECK_QE_REPORT_DATA] = "qe_report_data",
	[CHECK_TD_DEBUG] = "td_debug",
	[CHECK_COLLATERAL] = "collateral",
	[CHECK_REVOCATION] = "revocation",
	[CHECK_QE_IDENTITY] = "qe_identity",
	[CHECK_TCB_STATUS] = "tcb_status",
	[CHECK_TD_ATTRIBUTES] = "td_attributes",
	[CHECK_XFAM] = "xfam",
	[CHECK_POLICY_SINGLE_SOCKET] = "policy_single_socket",
	[CHECK_POLICY_ABI] = "policy_abi",
	[CHECK_POLICY_FEATURES] = "policy_features",
	[CHECK_PLATFORM_INFO] = "platform_info",
	[CHECK_MRTD] = "mrtd",
	[CHECK_RTMR] = "rtmr",
	[CHECK_MRCONFIGID] = "mrconfigid",
	[CHECK_MROWNER] = "mrowner",
	[CHECK_MROWNERCONFIG] = "mrownerconfig",
	[CHECK_AK] = "attestation_key",
	[CHECK_PCR_DIGEST] = "pcr_digest",
	[CHECK_PCR] = "pcr",
	[CHECK_RUNTIME_LOG] = "runtime_log",
	[CHECK_LUKS_HEADER] = "luks_header",
};

const char *check_name(enum cvm_check c)
{
	if (c < 0 || c >= CHECK__MAX || !check_names[c])
		return "unknown";
	return check_names[c];
}

void verdict_init(struct verdict *v, enum cvm_platform p)
{
	memset(v, 0, sizeof(*v));
	v->platform = p;
}

__attribute__((format(printf, 4, 0))) static void record(struct verdict *v, enum cvm_check c,
							 bool ok, const char *fmt, va_list ap)
{
	struct check_result *res;

	if (!ok && v->failed == CHECK_NONE)
		v->failed = c;
	if (v->n == VERDICT_MAX_CHECKS) {
		/* Keep the first failure visible even when the list is full. */
		if (ok)
			return;
		v->n--;
	}
	res = &v->results[v->n++];
	res->check = c;
	res->ok = ok;
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
}

void verdict_pass(struct verdict *v, enum cvm_check c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(v, c, true, fmt, ap);
	va_end(ap);
}

int verdict_fail(struct verdict *v, enum cvm_check c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(v, c, false, fmt, ap);
	va_end(ap);
	return -1;
}

bool verdict_ok(const struct verdict *v)
{
	return v->failed == CHECK_NONE && v->n > 0;
}

const struct check_result *verdict_first_failure(const struct verdict *v)
{
	for (size_t i = 0; i < v->n; i++)
		if (!v->results[i].ok)
			return &v->results[i];
	return NULL;
}

cJSON *verdict_to_json(const struct verdict *v)
{
	cJSON *o = cJSON_CreateObject(), *checks;

	if (!o)
		return NULL;
	cJSON_AddBoolToObject(o, "verified", verdict_ok(v));
	cJSON_AddStringToObject(o, "platform", platform_name(v->platform));
	checks = cJSON_AddArrayToObject(o, "checks");
	if (!checks) {
		cJSON_Delete(o);
		return NULL;
	}
	for (size_t i = 0; i < v->n; i++) {
		cJSON *c = cJSON_CreateObject();

		if (!c)
			break;
		cJSON_AddStringToObject(c, "name", check_name(v->results[i].check));
		cJSON_AddBoolToObject(c, "ok", v->results[i].ok);
		cJSON_AddStringToObject(c, "detail", v->results[i].detail);
		cJSON_AddItemToArray(checks, c);
	}
	return o;
}

int verdict_compare(struct verdict *v, enum cvm_check c, const char *what, const uint8_t *got,
		    const uint8_t *want, size_t n)
{
	char g[2 * 64 + 1], w[2 * 64 + 1];

	if (n > 64)
		return verdict_fail(v, c, "%s: value too long to compare", what);
	hex_encode(got, n, g);
	if (CRYPTO_memcmp(got, want, n) != 0) {
		hex_encode(want, n, w);
		/* in full: two values that differ in their last byte must not read alike */
		return verdict_fail(v, c, "%s %s differs from the reference %s", what, g, w);
	}
	verdict_pass(v, c, "%s %s", what, g);
	return 0;
}
