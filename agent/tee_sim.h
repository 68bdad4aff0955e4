/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sim backend's builders (test builds only): an SEV-SNP report (ABI
 * 56860 Table 23) and a TDX quote v4 (Intel DCAP, App. A) in the exact byte
 * formats, signed with the test PKI's keys. The backend and the tests'
 * support code build every simulated report and quote through these.
 */
#ifndef CVM_AGENT_TEE_SIM_H
#define CVM_AGENT_TEE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct sim_snp_fields {
	uint32_t version; /* 2 to 5 */
	uint64_t policy;
	uint32_t vmpl;
	uint32_t flags; /* signing_key in bits 2-4 */
	uint64_t reported_tcb;
	uint64_t platform_info;
	uint8_t chip_id[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t report_data[64];
	uint8_t cpuid_fam, cpuid_mod, cpuid_step; /* version >= 3 */
};

/* The report, signed with the VCEK's key (ECDSA P-384, r and s little-endian). */
int sim_snp_sign(const struct sim_snp_fields *p, EVP_PKEY *vcek, uint8_t out[0x4A0]);

struct sim_tdx_fields {
	uint16_t version;      /* 4 */
	uint16_t att_key_type; /* 2 */
	uint8_t tee_tcb_svn[16];
	uint8_t td_attributes[8];
	uint8_t mrtd[48];
	uint8_t mrconfigid[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	uint16_t qe_isv_svn;
	bool break_qe_binding; /* QE report_data not binding the key (tests) */
};

/*
 * A quote signed by the attestation key ak, its QE report by the PCK key,
 * with the PCK chain (PEM) as certification data 5 inside 6. free() it.
 */
uint8_t *sim_tdx_sign(const struct sim_tdx_fields *p, EVP_PKEY *ak, EVP_PKEY *pck,
		      const uint8_t *chain, size_t chain_len, size_t *len);

/*
 * The launch registers the sim reports, as hardware would have measured them
 * (docs/agent.md): a JSON object {"mrtd", "rtmr0", "rtmr1", "rtmr2"} for TDX,
 * each 48 bytes of hex and optional (zeros), or {"measurement"} for SNP,
 * required. Unknown members are refused; errors are one line in err.
 */
struct sim_launch {
	uint8_t mrtd[48];
	uint8_t rtmr[3][48]; /* RTMR0-2; RTMR3 is the runtime register */
	uint8_t measurement[48];
	/* what the host sets at launch for an order (zeros without): TDX MRCONFIGID, SNP HOST_DATA */
	uint8_t mrconfigid[48];
	uint8_t host_data[32];
};

/* Parses that object (TDX's when tdx, else SNP's) into l. */
int sim_launch_parse(const char *text, size_t len, bool tdx, struct sim_launch *l, char *err,
		     size_t errlen);

/* ECDSA over msg, r and s big-endian, n bytes each. */
int sim_sign_raw(EVP_PKEY *k, const EVP_MD *md, const void *msg, size_t len, uint8_t *r, uint8_t *s,
		 size_t n);

/*
 * Azure (az-snp-vtpm, az-tdx-vtpm): the sim's vTPM PCRs, PCR i of 0-9 being
 * SHA-256("cvm-sim-vtpm-pcr" || i || measurement) and the others zero
 * (PCR 15: the runtime log's replay, when there is one); and a TPMS_ATTEST
 * quote of all 24 (SHA-256 bank) with nonce as qualifying data. free() it.
 */
void sim_az_pcrs(const uint8_t measurement[48], uint8_t pcrs[24][32]);
uint8_t *sim_tpm_quote(const uint8_t *nonce, size_t nlen, const uint8_t pcrs[24][32], size_t *len);

#endif
