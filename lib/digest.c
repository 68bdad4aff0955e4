/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "lib/lib.h"

int file_digest(const char *path, const char *md_name, uint8_t *out, size_t cap, size_t *len)
{
	EVP_MD *md = EVP_MD_fetch(NULL, md_name, NULL);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	FILE *f = NULL;
	uint8_t buf[1 << 16];
	unsigned int n_out = 0;
	size_t n;
	int r = 0;

	if (!md || !c || EVP_MD_get_size(md) < 0 || (size_t)EVP_MD_get_size(md) > cap ||
	    EVP_DigestInit_ex(c, md, NULL) != 1)
		r = -EINVAL;
	else if (!(f = fopen(path, "rb")))
		r = -errno;
	while (r == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (EVP_DigestUpdate(c, buf, n) != 1)
			r = -ENOMEM;
	if (r == 0 && ferror(f))
		r = -EIO;
	if (r == 0 && EVP_DigestFinal_ex(c, out, &n_out) != 1)
		r = -ENOMEM;
	if (r == 0 && len)
		*len = n_out;
	if (f)
		fclose(f);
	EVP_MD_CTX_free(c);
	EVP_MD_free(md);
	return r;
}
