/* SPDX-License-Identifier: Apache-2.0 */
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "lib/lib.h"

void *secret_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	/* Keeping secrets out of swap is best effort: RLIMIT_MEMLOCK may be small. */
	if (p)
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
