/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vTPM PCRs of a direct boot through OVMF: PCR 4 and PCR 9 (SHA-256 bank)
 * from the kernel, initrd and command line; PCR 0-9 from a reference TCG2
 * log of the same firmware and machine with the kernel, LoadOptions and
 * initrd events replaced. The events and their order are those of real
 * boots of Debian 12's OVMF under QEMU q35 with swtpm
 * (tests/data/measure/ovmf-vtpm, docs/measurements.md).
 */
#include <errno.h>
#include <string.h>

#include <openssl/sha.h>

#include "measurement/measurement.h"

#define fail(err, errlen, ...) set_error(err, errlen, -EINVAL, __VA_ARGS__)

#define EV_NO_ACTION 0x3
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003

static void extend(uint8_t pcr[32], const uint8_t digest[32])
{
	uint8_t buf[64];

	memcpy(buf, pcr, 32);
	memcpy(buf + 32, digest, 32);
	SHA256(buf, sizeof(buf), pcr);
}

int tpm_boot_digests_compute(const uint8_t *kernel, size_t klen, const uint8_t *initrd, size_t ilen,
			     const char *append, uint64_t memory_bytes, struct tpm_boot_digests *d,
			     char *err, size_t errlen)
{
	int r;

	memset(d, 0, sizeof(*d));
	if (initrd && ilen == 0)
		return fail(err, errlen, "the initrd is empty: OVMF would pass the kernel none");
	if (initrd && ilen > UINT32_MAX)
		return fail(err, errlen, "the initrd is larger than 4 GiB");
	r = boot_kernel_digest(EVP_sha256(), kernel, klen, initrd ? (uint32_t)ilen : 0,
			       memory_bytes, QEMU_ACPI_DATA_SIZE, d->kernel, err, errlen);
	if (r < 0)
		return r;
	r = boot_load_options_digest(EVP_sha256(), append ? append : "", initrd != NULL,
				     d->load_options);
	if (r < 0)
		return set_error(err, errlen, r, "out of memory");
	d->has_load_options = r > 0;
	if (initrd) {
		SHA256(initrd, ilen, d->initrd);
		d->has_initrd = true;
	}
	return 0;
}

/* The kernel's EFI stub: LoadOptions, then the initrd it loaded through LoadFile2. */
static void stub_pcr9(const struct tpm_boot_digests *d, uint8_t pcr[32])
{
	memset(pcr, 0, 32);
	if (d->has_load_options)
		extend(pcr, d->load_options);
	if (d->has_initrd)
		extend(pcr, d->initrd);
}

int tpm_boot_predict(const uint8_t *kernel, size_t klen, const uint8_t *initrd, size_t ilen,
		     const char *append, uint64_t memory_bytes, uint8_t pcr4[32], uint8_t pcr9[32],
		     char *err, size_t errlen)
{
	static const char calling[] = "Calling EFI Application from Boot Option";
	static const uint8_t separator[4];
	struct tpm_boot_digests d;
	uint8_t digest[32];
	int r;

	r = tpm_boot_digests_compute(kernel, klen, initrd, ilen, append, memory_bytes, &d, err,
				     errlen);
	if (r < 0)
		return r;
	/* OVMF: the image at LoadImage, then at ReadyToBoot the action and the separator. */
	memset(pcr4, 0, 32);
	extend(pcr4, d.kernel);
	SHA256((const uint8_t *)calling, strlen(calling), digest);
	extend(pcr4, digest);
	SHA256(separator, sizeof(separator), digest);
	extend(pcr4, digest);
	stub_pcr9(&d, pcr9);
	return 0;
}

static const struct evlog_digest *sha256_of(const struct evlog_event *e)
{
	for (uint32_t j = 0; j < e->ndigests; j++)
		if (e->digests[j].alg == TPM_ALG_SHA256 && e->digests[j].len == 32)
			return &e->digests[j];
	return NULL;
}

int tpm_boot_replay(const struct evlog *log, const struct tpm_boot_digests *d, uint8_t pcrs[10][32],
		    bool predicted[10], char *err, size_t errlen)
{
	size_t kernels = 0;
	bool sha256 = false;

	for (size_t b = 0; b < log->nalgs; b++)
		sha256 |= log->algs[b] == TPM_ALG_SHA256;
	if (log->format != EVLOG_TCG2 || !sha256)
		return fail(err, errlen, "not a TPM event log with a SHA-256 bank");
	memset(pcrs, 0, 10 * 32);
	/* PCR 0 starts at the startup locality in its last byte (PFP §10.4.5.3). */
	pcrs[0][31] = log->startup_locality;
	for (size_t i = 0; i < log->n; i++) {
		const struct evlog_event *e = &log->events[i];
		const struct evlog_digest *digest;

		if (e->type == EV_NO_ACTION || e->index > 9)
			continue;
		digest = sha256_of(e);
		if (!digest)
			return fail(err, errlen, "event %llu: no SHA-256 digest",
				    (unsigned long long)e->recnum);
		if (e->index == 4 && e->type == EV_EFI_BOOT_SERVICES_APPLICATION) {
			kernels++;
			extend(pcrs[4], d->kernel);
		} else if (e->index == 9) {
			if (!boot_tagged_event_is(e, "LOADED_IMAGE::LoadOptions") &&
			    !boot_tagged_event_is(e, "Linux initrd"))
				return fail(err, errlen,
					    "event %llu: %s in PCR 9, which the EFI stub of a "
					    "direct boot does not measure: no reference for one",
					    (unsigned long long)e->recnum,
					    evlog_type_name(e->type));
		} else {
			extend(pcrs[e->index], digest->d);
		}
	}
	if (kernels != 1)
		return fail(err, errlen,
			    "the log has %zu EFI applications in PCR 4, a direct boot one (the "
			    "kernel)",
			    kernels);
	/* The stub's events follow the inputs: the reference may have had no initrd. */
	stub_pcr9(d, pcrs[9]);
	for (int i = 0; i < 10; i++)
		predicted[i] = true;
	return 0;
}

int tpm_boot_predict_with_log(const uint8_t *logbuf, size_t loglen, const uint8_t *kernel,
			      size_t klen, const uint8_t *initrd, size_t ilen, const char *append,
			      uint64_t memory_bytes, uint8_t pcrs[10][32], bool predicted[10],
			      char *err, size_t errlen)
{
	struct tpm_boot_digests d;
	struct evlog log;
	int r;

	r = tpm_boot_digests_compute(kernel, klen, initrd, ilen, append, memory_bytes, &d, err,
				     errlen);
	if (r < 0)
		return r;
	r = evlog_parse_tcg2(logbuf, loglen, EVLOG_TCG2, &log, err, errlen);
	if (r < 0)
		return r;
	r = tpm_boot_replay(&log, &d, pcrs, predicted, err, errlen);
	evlog_free(&log);
	return r;
}
