/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A libFuzzer custom mutator for evidence with length fields: one time in
 * three it sets a field that tests/fuzz/len_fields.h knows (of the input as
 * it now is) to one of its boundary values (0, one below, one above, the
 * maximum, one past the end) or to another type value; otherwise it leaves
 * the input to libFuzzer's own mutations. Include it once, after defining
 * LEN_MUTATOR_KIND (LEN_TDX, LEN_SNP or LEN_TCG2).
 */
#ifndef CVM_TESTS_LEN_MUTATOR_H
#define CVM_TESTS_LEN_MUTATOR_H

#include "tests/fuzz/len_fields.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	static struct len_fields lf;
	const struct len_field *f;
	uint64_t v;

	if (seed % 3 != 0)
		return LLVMFuzzerMutate(data, size, max_size);
	len_fields_find(&lf, LEN_MUTATOR_KIND, data, size);
	if (lf.n == 0)
		return LLVMFuzzerMutate(data, size, max_size);
	f = &lf.f[(seed / 3) % lf.n];
	if (f->types) {
		len_put(data, f, f->types[(seed / 7) % f->ntypes]);
		return size;
	}
	for (int k = 0; k < LEN_VARIANTS; k++)
		if (len_variant(&lf, f, (int)((seed / 7 + (unsigned)k) % LEN_VARIANTS), &v)) {
			len_put(data, f, v);
			return size;
		}
	return LLVMFuzzerMutate(data, size, max_size);
}

#endif
