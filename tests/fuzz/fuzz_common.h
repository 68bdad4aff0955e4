/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the libFuzzer targets: where the vectors are, a fixed signing key. */
#ifndef CVM_FUZZ_COMMON_H
#define CVM_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <secp256k1.h>

#include "lib/lib.h"

static inline const char *fuzz_vectors(void)
{
	const char *v = getenv("CVM_VECTORS");

	return v ? v : "tests/vectors";
}

/* A secp256k1 key whose secret is 32 bytes of fill, made once. */
static inline struct result_key *fuzz_fixed_key(uint8_t fill)
{
	static struct result_key k;
	secp256k1_context *c;
	secp256k1_pubkey pk;
	size_t n = 33;

	if (k.sk)
		return &k;
	c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	k.sk = secret_alloc(32);
	if (!c || !k.sk)
		abort();
	memset(k.sk, fill, 32);
	if (!secp256k1_ec_pubkey_create(c, &pk, k.sk) ||
	    !secp256k1_ec_pubkey_serialize(c, k.pub, &n, &pk, SECP256K1_EC_COMPRESSED))
		abort();
	secp256k1_context_destroy(c);
	return &k;
}

#endif
