/* SPDX-License-Identifier: Apache-2.0 */
#include "measurement/measurement.h"

/*
 * A TDX quote starts with version 4 or 5, attestation key type 2 and TEE
 * type 0x81; an SNP report is exactly 0x4A0 bytes with version 2 to 5. The
 * two cannot be confused: a quote is never 0x4A0 bytes long with a TEE
 * type where an SNP report has its policy.
 */
enum cvm_platform evidence_detect(const uint8_t *buf, size_t len)
{
	if (len >= TDX_QUOTE_HEADER_SIZE && (le16(buf) == 4 || le16(buf) == 5) &&
	    le32(buf + 4) == 0x81)
		return PLATFORM_TDX;
	if (len == SNP_REPORT_SIZE)
		return PLATFORM_SNP;
	return PLATFORM_NONE;
}
