/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to measurement/: the built-in AMD certificate chains. */
#ifndef CVM_SNP_ROOTS_H
#define CVM_SNP_ROOTS_H

#include "measurement/measurement.h"

#define SNP_ROOTS_N 3

struct snp_root {
	enum snp_product product;
	const char *ark_pem;
	const char *ask_pem;
	const char *asvk_pem;
	const char *ark_sha256; /* hex of SHA-256(DER(ARK)) */
};

extern const struct snp_root snp_roots[SNP_ROOTS_N];

#endif
