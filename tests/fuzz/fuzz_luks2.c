/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the LUKS2 header validator. The first byte chooses how the
 * rest is used: odd, as the JSON metadata of both header copies, which the
 * harness wraps in binary headers with good checksums (so that mutations
 * reach the JSON checks); even, as raw header bytes.
 */
#include <string.h>

#include <openssl/evp.h>

#include "measurement/measurement.h"

#define HDR 16384
#define AREA (1024 * 1024)

static void wrap(uint8_t *area, size_t copy, const uint8_t *json, size_t n)
{
	uint8_t *p = area + copy * HDR;
	unsigned len = 0;

	memset(p, 0, HDR);
	memcpy(p, copy ? "SKUL\xba\xbe" : "LUKS\xba\xbe", 6);
	p[7] = 2;
	p[8 + 5] = HDR >> 16; /* hdr_size 16384, big-endian */
	p[8 + 6] = (HDR >> 8) & 0xff;
	memcpy(p + 72, "sha256", 6);
	if (copy)
		p[256 + 5] = HDR >> 16, p[256 + 6] = (HDR >> 8) & 0xff;
	memcpy(p + 4096, json, n < HDR - 4096 ? n : HDR - 4096);
	EVP_Digest(p, HDR, p + 448, &len, EVP_sha256(), NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t area[AREA];
	struct luks2_allow allow;
	struct luks2_header h;
	char err[256];

	if (size < 1)
		return 0;
	luks2_allow_defaults(&allow);
	memset(area, 0, sizeof(area));
	if (data[0] & 1) {
		wrap(area, 0, data + 1, size - 1);
		wrap(area, 1, data + 1, size - 1);
	} else {
		memcpy(area, data + 1, size - 1 < AREA ? size - 1 : AREA);
	}
	luks2_header_validate(area, AREA, 2 * AREA, &allow, &h, err, sizeof(err));
	return 0;
}
