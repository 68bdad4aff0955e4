/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to measurement/: the SEV-SNP verifier's checks against reference values. */
#ifndef CVM_SNP_INTERNAL_H
#define CVM_SNP_INTERNAL_H

#include "measurement/measurement.h"

/*
 * The guest policy: the bits ref requires (SINGLE_SOCKET, ABI version,
 * features) and those it allows (debug, migration agent, ...). 0, or -1
 * with the failed check recorded in v.
 */
int snp_check_policy(const struct snp_report *r, const struct snp_reference *ref,
		     struct verdict *v);
/*
 * The pinned fields of ref (measurement, host_data, ID digests, report
 * data), report_data when given (may be NULL), then the minimum TCB. 0, or
 * -1 with the failed check recorded in v.
 */
int snp_check_reference(const struct snp_report *r, const struct snp_reference *ref,
			const uint8_t *report_data, struct verdict *v);

#endif
