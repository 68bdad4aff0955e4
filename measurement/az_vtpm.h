/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure confidential VMs: SEV-SNP or TDX behind a paravisor (OpenHCL) that
 * runs a vTPM. The paravisor writes an HCL report: its hardware report
 * (an SNP report, or a TD report whose TD quote comes beside it) binds
 * SHA-256 of a JSON "var data" that carries the vTPM's attestation key
 * (HCLAkPub); that key signs a TPM quote of the vTPM's PCRs, whose
 * qualifying data is the broker's report_data. The evidence shapes are
 * Trustee's az-snp-vtpm and az-tdx-vtpm (docs/kbs.md); the platform rows
 * are in platform.c, the code in az_vtpm.c, its tests in
 * tests/unit/test_az_vtpm.c and tests/cli/test_verify_azure.sh.
 */
#ifndef CVM_AZ_VTPM_H
#define CVM_AZ_VTPM_H

#include "measurement/platform.h"

/*
 * The HCL report (kinvolk/azure-cvm-tooling, az-cvm-vtpm/src/hcl/mod.rs,
 * AttestationReport): a 32-byte header, the hardware report in 1184 bytes
 * (an SNP report, or a 1024-byte TD report padded with zeros), then
 * IGVM_REQUEST_DATA (five u32: data_size, version, report_type,
 * report_data_hash_type, variable_data_size) and the var data.
 */
#define AZ_HCL_HEADER_SIZE 32
#define AZ_HCL_HW_SIZE 1184
#define AZ_HCL_TD_REPORT_SIZE 1024
#define AZ_HCL_IGVM_OFF (AZ_HCL_HEADER_SIZE + AZ_HCL_HW_SIZE)
#define AZ_HCL_VAR_OFF (AZ_HCL_IGVM_OFF + 20)
#define AZ_HCL_SIGNATURE 0x414c4348u /* "HCLA" */
#define AZ_HCL_TYPE_SNP 2
#define AZ_HCL_TYPE_TDX 4
#define AZ_HCL_HASH_SHA256 1
/* The vTPM NV index that holds the report is 2600 bytes; what follows the var data is zero. */
#define AZ_HCL_MAX 8192
#define AZ_VAR_DATA_MAX (AZ_HCL_MAX - AZ_HCL_VAR_OFF)

/* The rows' parse and verify functions. */
int az_snp_parse(const cJSON *ev, struct kbs_evidence *e, char *err, size_t errlen);
int az_tdx_parse(const cJSON *ev, struct kbs_evidence *e, char *err, size_t errlen);
int az_vtpm_genuine(const struct kbs_evidence *e, const struct platform_verifiers *pv,
		    struct kbs_claims *c, struct verdict *v);
int az_vtpm_match(const struct kbs_claims *c, const struct reference *ref,
		  const uint8_t *report_data, uint8_t reg[48], size_t *reglen, struct verdict *v);
/*
 * Claims: {"hcl": {"version", "var_data_sha256"}, "snp": the report's
 * claims | "tdx": the TD quote's, "tpm": {"pcrs": {"0".."23": hex}}}; what
 * reference values pin; a one-line summary in summary. NULL when the HCL
 * report cannot be taken apart.
 */
cJSON *az_vtpm_claims(const struct kbs_evidence *e, char *summary, size_t cap);
/*
 * A reference pins an Azure launch when it pins the paravisor (snp.measurement,
 * or tdx.mrtd) and the vTPM's boot PCRs (PCR 0-7 and 9); the AK needs no pin,
 * the hardware report binds it. -EINVAL with what is missing in err.
 */
int az_reference_complete(const struct reference *r, enum cvm_platform p, char *err, size_t errlen);

/*
 * The var data (JSON, after the hardware report has bound it): the AK, the
 * RSA JWK whose kid is "HCLAkPub", into *ak (EVP_PKEY_free), and
 * "user-data" (64 bytes of hex) when present. -EBADMSG, why in why.
 */
int az_var_data_parse(const uint8_t *var, size_t len, EVP_PKEY **ak, uint8_t user[64],
		      bool *has_user, char *why, size_t cap);

/*
 * An HCL report of type AZ_HCL_TYPE_SNP or _TDX around hw (at most
 * AZ_HCL_HW_SIZE bytes, zero-padded) and var data, var_len bytes: what a
 * paravisor writes, for the simulated backend and tests. *out to free().
 */
int az_hcl_build(uint32_t type, const uint8_t *hw, size_t hwlen, const uint8_t *var, size_t var_len,
		 uint8_t **out, size_t *len);

#endif
