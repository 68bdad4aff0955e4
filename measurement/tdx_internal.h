/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to measurement/: what the TDX verifier and its collateral share. */
#ifndef CVM_TDX_INTERNAL_H
#define CVM_TDX_INTERNAL_H

#include "measurement/measurement.h"

/*
 * Intel SGX PCK certificate extensions (OID 1.2.840.113741.1.13.1), Intel
 * "SGX PCK Certificate and Certificate Revocation List Profile", §3.5.
 */
struct pck_info {
	uint8_t fmspc[6];
	uint8_t pce_id[2];
	uint8_t comp_svn[16];
	uint16_t pce_svn;
	uint8_t cpu_svn[16];
};

/* The PCK leaf's SGX extensions into out: -ENOENT without them, -EBADMSG when malformed. */
int pck_info_parse(X509 *leaf, struct pck_info *out);

/* The Intel SGX Root CA (by its pinned SHA-256), or one of test_roots (may be NULL). */
bool tdx_root_trusted(X509 *root, STACK_OF(X509) *test_roots);

struct tdx_collateral;

/*
 * Reads dir's TCB info, QE identity, TCB signing chain and CRLs (checked
 * later, by tdx_collateral_check); tdx_collateral_free releases them.
 */
int tdx_collateral_load(const char *dir, struct tdx_collateral **out, char *err, size_t errlen);
void tdx_collateral_free(struct tdx_collateral *c);
/*
 * Checks collateral signatures and dates, revocation of the PCK chain, the
 * QE identity and the quote's TCB level: records CHECK_COLLATERAL,
 * CHECK_REVOCATION and CHECK_QE_IDENTITY in v, the status in t. 0, or -1
 * with the failed check (CHECK_TCB_STATUS when no level matches).
 */
int tdx_collateral_status(struct tdx_collateral *c, STACK_OF(X509) *chain, X509 *pinned_root,
			  const struct pck_info *pck, const struct tdx_quote *q, time_t now,
			  struct tdx_tcb *t, struct verdict *v);

#endif
