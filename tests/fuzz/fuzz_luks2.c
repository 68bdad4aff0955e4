/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the LUKS2 header validator. The first byte chooses how the
 * rest is used: odd, as the JSON metadata of both header copies, which the
 * harness wraps in binary headers with good checksums (so that mutations
 * reach the JSON checks); even, as raw header bytes, whose checksums the
 * custom mutator below recomputes after each mutation (so that changes to
 * the binary headers and their JSON reach past the checksum too).
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

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * The SHA-256 checksum of the header copy at p (LUKS2 On-Disk Format 1.1,
 * 2.1: over hdr_size bytes with the 64-byte csum field at 448 zeroed), when
 * its hdr_size is one the format allows and the copy lies within len bytes.
 */
static void recompute(uint8_t *p, size_t len)
{
	uint64_t hdr;
	unsigned n = 0;

	if (len < 512)
		return;
	hdr = be64(p + 8);
	if (hdr < HDR || hdr > 4u * 1024 * 1024 || (hdr & (hdr - 1)) || hdr > len)
		return;
	memset(p + 448, 0, 64);
	EVP_Digest(p, hdr, p + 448, &n, EVP_sha256(), NULL);
}

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	uint64_t hdr;

	(void)seed;
	size = LLVMFuzzerMutate(data, size, max_size);
	if (size < 1 + 512 || (data[0] & 1))
		return size;
	/* raw mode: both copies, the secondary at hdr_size of the primary */
	hdr = be64(data + 1 + 8);
	recompute(data + 1, size - 1);
	if (hdr >= HDR && hdr < size - 1)
		recompute(data + 1 + hdr, size - 1 - hdr);
	return size;
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
