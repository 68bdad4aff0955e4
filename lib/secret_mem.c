/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "lib/lib.h"

void *secret_alloc(size_t n)
{
	void *p = NULL;

	/* a page or more: page-aligned, so that it can be written with O_DIRECT */
	if (posix_memalign(&p, n >= 4096 ? 4096 : 64, n ? n : 1) != 0)
		return NULL;
	memset(p, 0, n);
	/* Keeping secrets out of swap is best effort: RLIMIT_MEMLOCK may be small. */
	(void)mlock(p, n);
	return p;
}

void secret_free(void *p, size_t n)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, n);
	(void)munlock(p, n);
	free(p);
}
