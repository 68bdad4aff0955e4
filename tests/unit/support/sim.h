/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test support: evidence in the exact hardware byte formats, signed by the
 * test PKI that scripts/gen-test-pki makes (SNP: RSA-4096 PSS ARK/ASK,
 * P-384 VCEK; TDX: P-256 root, PCK CA, PCK, TCB signing, attestation key).
 */
#ifndef CVM_TEST_SIM_H
#define CVM_TEST_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "agent/tee_sim.h"

/* An environment variable the test runner sets; the test fails without it. */
const char *sim_env(const char *name);
/* "$CVM_TEST_PKI/<rel>" and friends, in a static buffer per call site. */
char *sim_path(char *buf, size_t cap, const char *env, const char *rel);
EVP_PKEY *sim_load_key(const char *path);
/* ECDSA over msg; r and s big-endian, n bytes each. */
void sim_sign(EVP_PKEY *key, const EVP_MD *md, const void *msg, size_t len, uint8_t *r, uint8_t *s,
	      size_t n);
void sim_write(const char *path, const void *buf, size_t len);
uint8_t *sim_read(const char *path, size_t *len);
/* A swtpm daemon on the state directory, its PID in pidfile, listening on
 * 127.0.0.1 (tests/cli/swtpm_tcp.sh draws the ports); its TPM port. */
int sim_swtpm_tcp(const char *state, const char *pidfile);

/* ---- SEV-SNP ---- */

/* Default parameters matching the test VCEK (TCB and chip id). */
void sim_snp_defaults(struct sim_snp_fields *p);
/* Builds the report and signs it with the key at key_path ("vcek.key" of the PKI). */
void sim_snp_report(const struct sim_snp_fields *p, const char *key_path, uint8_t out[0x4A0]);

/* ---- TDX ---- */

void sim_tdx_defaults(struct sim_tdx_fields *p);
/* A v4 quote signed by the PKI's attestation key, its QE report by the PCK. */
uint8_t *sim_tdx_quote(const struct sim_tdx_fields *p, const char *chain_pem, size_t *len);

struct sim_collateral {
	const char *fmspc;  /* hex; default the test PCK's */
	char issue[32];	    /* RFC 3339; default a day ago */
	char next[32];	    /* RFC 3339; default in 30 days */
	uint8_t tdx_svn2;   /* tdxtcbcomponents[2] of the UpToDate level */
	uint16_t qe_isvsvn; /* QE identity UpToDate level */
	/* QE identity level below it; default "OutOfDate" */
	const char *qe_low_status;
};

void sim_collateral_defaults(struct sim_collateral *c);
/* RFC 3339 for now + offset seconds. */
void sim_rfc3339(long offset, char out[32]);
/* Writes tcbinfo.json, qe-identity.json, tcb-signing-chain.pem into dir. */
void sim_collateral_write(const struct sim_collateral *c, const char *dir);

#endif
