/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PE/COFF Authenticode digest. Layout: Microsoft PE Format specification
 * (MS-DOS stub e_lfanew at 0x3C; "PE\0\0"; COFF header of 20 bytes; the
 * optional header, magic 0x10B (PE32) or 0x20B (PE32+), CheckSum at offset
 * 64, data directories at 96 (PE32) or 112 (PE32+), the certificate table
 * being entry 4). Hashing: "Windows Authenticode Portable Executable
 * Signature Format", "Calculating the PE Image Hash".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "measurement/measurement.h"

#define fail(err, errlen, ...) set_error(err, errlen, -EBADMSG, __VA_ARGS__)

#define MAX_SECTIONS 96

struct pe_section {
	uint32_t raw_size, raw_ptr;
};

static int cmp_section(const void *a, const void *b)
{
	const struct pe_section *x = a, *y = b;

	return (x->raw_ptr > y->raw_ptr) - (x->raw_ptr < y->raw_ptr);
}

int pe_authenticode_update(EVP_MD_CTX *c, const uint8_t *img, size_t len, char *err, size_t errlen)
{
	struct pe_section sec[MAX_SECTIONS];
	size_t pe, opt, checksum, certdir = 0, hdr_size, hashed, cert_off = 0, cert_size = 0;
	uint16_t nsec, opt_size, magic;
	uint32_t ndirs;
	if (len < 0x40 || img[0] != 'M' || img[1] != 'Z')
		return fail(err, errlen, "not a PE image (no MZ header)");
	pe = le32(img + 0x3c);
	if (pe > len || len - pe < 24 || memcmp(img + pe, "PE\0\0", 4) != 0)
		return fail(err, errlen, "not a PE image (no PE signature at 0x%zx)", pe);
	nsec = le16(img + pe + 6);
	opt_size = le16(img + pe + 20);
	opt = pe + 24;
	if (nsec > MAX_SECTIONS || opt_size < 68 || len - opt < opt_size)
		return fail(err, errlen, "PE headers do not fit the file");
	magic = le16(img + opt);
	if (magic != 0x10b && magic != 0x20b)
		return fail(err, errlen, "optional header magic 0x%x is neither PE32 nor PE32+",
			    magic);
	checksum = opt + 64;
	hdr_size = le32(img + opt + 60);
	{
		size_t dirs = opt + (magic == 0x20b ? 112 : 96);

		if (dirs + 4 > opt + opt_size)
			return fail(err, errlen,
				    "optional header too short for its data directories");
		ndirs = le32(img + dirs - 4);
		/* Entry 4, the certificate table: a file offset and a size. */
		if (ndirs > 4 && dirs + 5 * 8 <= opt + opt_size) {
			certdir = dirs + 4 * 8;
			cert_off = le32(img + certdir);
			cert_size = le32(img + certdir + 4);
		}
	}
	if (hdr_size > len || hdr_size < opt + opt_size + (size_t)nsec * 40 ||
	    (cert_size && (cert_off > len || cert_size > len - cert_off)))
		return fail(err, errlen, "SizeOfHeaders or the certificate table does not fit");
	for (uint16_t i = 0; i < nsec; i++) {
		const uint8_t *s = img + opt + opt_size + 40 * i;

		sec[i].raw_size = le32(s + 16);
		sec[i].raw_ptr = le32(s + 20);
		if (sec[i].raw_size &&
		    (sec[i].raw_ptr > len || sec[i].raw_size > len - sec[i].raw_ptr))
			return fail(err, errlen, "section %u lies outside the file", i);
	}
	if (nsec > 1)
		qsort(sec, nsec, sizeof(*sec), cmp_section);

	/* Headers, skipping CheckSum and the certificate-table entry. */
	if (certdir) {
		EVP_DigestUpdate(c, img, checksum);
		EVP_DigestUpdate(c, img + checksum + 4, certdir - checksum - 4);
		EVP_DigestUpdate(c, img + certdir + 8, hdr_size - certdir - 8);
	} else {
		EVP_DigestUpdate(c, img, checksum);
		EVP_DigestUpdate(c, img + checksum + 4, hdr_size - checksum - 4);
	}
	hashed = hdr_size;
	for (uint16_t i = 0; i < nsec; i++) {
		if (!sec[i].raw_size)
			continue;
		EVP_DigestUpdate(c, img + sec[i].raw_ptr, sec[i].raw_size);
		hashed += sec[i].raw_size;
	}
	/* Data after the last section, except the certificate table. */
	if (len > hashed + cert_size)
		EVP_DigestUpdate(c, img + hashed, len - hashed - cert_size);
	return 0;
}

int pe_authenticode(const uint8_t *img, size_t len, const char *md_name, uint8_t *out,
		    size_t *outlen, char *err, size_t errlen)
{
	EVP_MD *md = EVP_MD_fetch(NULL, md_name, NULL);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;
	int r;

	if (!md || !c || EVP_DigestInit_ex(c, md, NULL) != 1)
		r = -ENOMEM;
	else
		r = pe_authenticode_update(c, img, len, err, errlen);
	if (r == 0 && EVP_DigestFinal_ex(c, out, &n) != 1)
		r = -ENOMEM;
	*outlen = n;
	EVP_MD_CTX_free(c);
	EVP_MD_free(md);
	return r;
}
