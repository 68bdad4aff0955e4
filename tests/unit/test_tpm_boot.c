/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Direct boot through OVMF: the LoadOptions and kernel digests, and the vTPM
 * PCRs predicted from them, against four real boots of Debian 12's OVMF
 * under QEMU with swtpm (tests/data/measure/ovmf-vtpm: the TCG2 logs and the
 * PCRs the guest read from the TPM), then a synthetic kernel for the
 * composition, and hostile logs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "lib/lib.h"
#include "measurement/measurement.h"
#include "tests/unit/support/sim.h"

#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003
#define EV_EFI_ACTION 0x80000007

/* The initrds of the runs (tests/data/README.md): SHA-256 of the files. */
#define INITRD_AB "8e7abed92ab046c8d69674403302042da8bcbd7eec7ffeb00a913ca53473f840"
#define INITRD_CD "af65076f344020bf1976f20360adb16f05110af3e8b19fe31169861f8408b976"

/* The four boots: the log, the -append text, the initrd's digest. */
static const struct run {
	const char *name, *append, *initrd;
} runs[] = {
	{ "a", "console=ttyS0 panic=-1 quiet", INITRD_AB },
	{ "b", "console=ttyS0 panic=-1 quiet rdinit=/init", INITRD_AB },
	{ "c", "console=ttyS0 panic=-1 quiet x=\xc3\xa9", INITRD_CD },
	{ "d", "console=ttyS0 panic=-1 quiet rdinit=/init", INITRD_CD },
};

static uint8_t *top_file(const char *rel, size_t *len)
{
	char path[512];

	return sim_read(sim_path(path, sizeof(path), "CVM_TOP", rel), len);
}

static uint8_t *data(const char *name, const char *ext, size_t *len)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "tests/data/measure/ovmf-vtpm/%s.%s", name, ext);
	return top_file(rel, len);
}

static void parse_run(const char *name, struct evlog *log, uint8_t **buf)
{
	char err[256];
	size_t len;

	*buf = data(name, "log", &len);
	assert_non_null(*buf);
	assert_int_equal(evlog_parse_tcg2(*buf, len, EVLOG_TCG2, log, err, sizeof(err)), 0);
}

/* PCR 0-9 as the guest read them from /sys/class/tpm/tpm0/pcr-sha256. */
static void real_pcrs(const char *name, uint8_t pcrs[10][32])
{
	size_t len;
	char *text = (char *)data(name, "pcrs", &len), *line, *save = NULL;
	int n = 0;

	assert_non_null(text);
	text = realloc(text, len + 1);
	text[len] = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		assert_true(n < 10);
		assert_int_equal(hex_decode_exact(strchr(line, ' ') + 1, pcrs[n], 32), 0);
	}
	assert_int_equal(n, 10);
	free(text);
}

static const struct evlog_digest *bank(const struct evlog_event *e, uint16_t alg)
{
	for (uint32_t j = 0; j < e->ndigests; j++)
		if (e->digests[j].alg == alg)
			return &e->digests[j];
	fail();
	return NULL;
}

static const struct evlog_event *find(const struct evlog *log, uint32_t index, uint32_t type,
				      const char *tag)
{
	for (size_t i = 0; i < log->n; i++) {
		const struct evlog_event *e = &log->events[i];

		if (e->index == index && e->type == type && (!tag || boot_tagged_event_is(e, tag)))
			return e;
	}
	fail();
	return NULL;
}

static void extend(uint8_t pcr[32], const uint8_t *digest)
{
	uint8_t buf[64];

	memcpy(buf, pcr, 32);
	memcpy(buf + 32, digest, 32);
	SHA256(buf, sizeof(buf), pcr);
}

/*
 * The stub's LoadOptions event of every run, in its SHA-256 and SHA-384
 * banks: the -append text with " initrd=initrd", each byte one UTF-16 unit
 * (run c's "é" is two). Without the suffix (the old TDX model) it differs.
 */
static void test_load_options_match_the_logged_events(void **state)
{
	(void)state;
	for (size_t r = 0; r < ARRAY_SIZE(runs); r++) {
		const struct evlog_event *e;
		uint8_t *buf, d256[32], d384[48];
		struct evlog log;

		parse_run(runs[r].name, &log, &buf);
		e = find(&log, 9, 0x6, "LOADED_IMAGE::LoadOptions");
		assert_int_equal(boot_load_options_digest(EVP_sha256(), runs[r].append, true, d256),
				 1);
		assert_int_equal(boot_load_options_digest(EVP_sha384(), runs[r].append, true, d384),
				 1);
		assert_memory_equal(d256, bank(e, TPM_ALG_SHA256)->d, 32);
		assert_memory_equal(d384, bank(e, TPM_ALG_SHA384)->d, 48);
		assert_int_equal(
			boot_load_options_digest(EVP_sha384(), runs[r].append, false, d384), 1);
		assert_memory_not_equal(d384, bank(e, TPM_ALG_SHA384)->d, 48);
		evlog_free(&log);
		free(buf);
	}
}

static void test_load_options_absent_without_cmdline_or_initrd(void **state)
{
	static const char suffix[] = " initrd=initrd";
	uint8_t utf16[2 * sizeof(suffix)] = { 0 }, want[32], d[32];

	(void)state;
	assert_int_equal(boot_load_options_digest(EVP_sha256(), "", false, d), 0);
	for (size_t i = 0; i < strlen(suffix); i++)
		utf16[2 * i] = (uint8_t)suffix[i];
	SHA256(utf16, sizeof(utf16), want);
	assert_int_equal(boot_load_options_digest(EVP_sha256(), "", true, d), 1);
	assert_memory_equal(d, want, 32);
}

static void digests_of_run(const struct evlog *log, const struct run *run,
			   struct tpm_boot_digests *d)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->kernel,
	       bank(find(log, 4, EV_EFI_BOOT_SERVICES_APPLICATION, NULL), TPM_ALG_SHA256)->d, 32);
	assert_int_equal(boot_load_options_digest(EVP_sha256(), run->append, true, d->load_options),
			 1);
	d->has_load_options = true;
	assert_int_equal(hex_decode_exact(run->initrd, d->initrd, 32), 0);
	d->has_initrd = true;
}

/* Each log with its own inputs gives the PCRs its guest read from the TPM. */
static void test_replay_gives_the_real_pcrs(void **state)
{
	(void)state;
	for (size_t r = 0; r < ARRAY_SIZE(runs); r++) {
		uint8_t *buf, pcrs[10][32], want[10][32];
		struct tpm_boot_digests d;
		bool predicted[10] = { false };
		struct evlog log;
		char err[256];

		parse_run(runs[r].name, &log, &buf);
		digests_of_run(&log, &runs[r], &d);
		real_pcrs(runs[r].name, want);
		assert_int_equal(tpm_boot_replay(&log, &d, pcrs, predicted, err, sizeof(err)), 0);
		for (int i = 0; i < 10; i++)
			assert_true(predicted[i]);
		assert_memory_equal(pcrs, want, sizeof(want));
		evlog_free(&log);
		free(buf);
	}
}

/*
 * A reference boot predicts another boot of other inputs on the same
 * machine (a for c: 1 GiB, 1 vCPU, default NIC; b for d: 2 GiB, 2 vCPUs, no
 * NIC), and not one on another machine (a for d: PCR 0 and PCR 2 differ).
 */
static void test_reference_log_predicts_another_boot(void **state)
{
	static const struct {
		int ref, run;
		bool same_machine;
	} cases[] = { { 0, 2, true }, { 1, 3, true }, { 0, 3, false } };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t *rbuf, *buf, pcrs[10][32], want[10][32];
		struct evlog ref, own;
		struct tpm_boot_digests d;
		bool predicted[10];
		char err[256];

		parse_run(runs[cases[i].ref].name, &ref, &rbuf);
		parse_run(runs[cases[i].run].name, &own, &buf);
		digests_of_run(&own, &runs[cases[i].run], &d);
		real_pcrs(runs[cases[i].run].name, want);
		assert_int_equal(tpm_boot_replay(&ref, &d, pcrs, predicted, err, sizeof(err)), 0);
		if (cases[i].same_machine) {
			assert_memory_equal(pcrs, want, sizeof(want));
		} else {
			assert_memory_not_equal(pcrs[0], want[0], 32);
			assert_memory_not_equal(pcrs[2], want[2], 32);
			assert_memory_equal(pcrs[4], want[4], 32);
			assert_memory_equal(pcrs[9], want[9], 32);
		}
		evlog_free(&ref);
		evlog_free(&own);
		free(rbuf);
		free(buf);
	}
}

/*
 * A PE image with an x86 setup header (boot protocol 2.15, LOADED_HIGH):
 * MZ, PE32+ headers of 0x1000 bytes without sections, then data.
 */
static uint8_t *synthetic_kernel(size_t *len)
{
	uint8_t *k = calloc(1, 0x2000);

	assert_non_null(k);
	for (size_t i = 0x1000; i < 0x2000; i++)
		k[i] = (uint8_t)(i * 7);
	k[0] = 'M';
	k[1] = 'Z';
	put_le(k + 0x3c, 0x80, 4);
	memcpy(k + 0x80, "PE\0\0", 4);
	put_le(k + 0x84, 0x8664, 2);
	put_le(k + 0x80 + 20, 240, 2); /* SizeOfOptionalHeader */
	put_le(k + 0x98, 0x20b, 2);
	put_le(k + 0x98 + 60, 0x1000, 4); /* SizeOfHeaders */
	put_le(k + 0x98 + 108, 16, 4);	  /* NumberOfRvaAndSizes */
	memcpy(k + 0x202, "HdrS", 4);
	put_le(k + 0x206, 0x20f, 2);
	k[0x211] = 0x01;
	put_le(k + 0x22c, 0x7fffffff, 4); /* initrd_addr_max */
	*len = 0x2000;
	return k;
}

/*
 * PCR 4 and PCR 9 from zero: the kernel as QEMU patches it (the fields set
 * here by hand: loader 0xb0, heap, command line at 0x20000, the initrd at
 * the last page below 1 GiB - 0x28000 that holds it), then the action and
 * the separator as the real logs carry them; PCR 9 the LoadOptions and the
 * initrd.
 */
static void test_predict_composition(void **state)
{
	static const char action[] =
		"3d6772b4f84ed47595d72a2c4c5ffd15f5bb72c7507fe26f2aaee2c69d5633ba";
	static const char separator[] =
		"df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119";
	static const char options[] = "c\0o\0n\0s\0o\0l\0e\0=\0t\0t\0y\0S\0000\0 \0i\0n\0i\0t\0r\0"
				      "d\0=\0i\0n\0i\0t\0r\0d\0\0";
	size_t klen, ilen, dlen;
	uint8_t *kernel = synthetic_kernel(&klen), *patched = malloc(klen);
	uint8_t *initrd = top_file("tests/data/measure/initrd.bin", &ilen);
	uint8_t pcr4[32], pcr9[32], want4[32] = { 0 }, want9[32] = { 0 }, d[64], u[28];
	char err[256];

	(void)state;
	assert_non_null(initrd);
	assert_int_equal(ilen, 33333);
	memcpy(patched, kernel, klen);
	patched[0x210] = 0xb0;
	patched[0x211] = 0x81;
	put_le(patched + 0x224, 0xfe00, 4);
	put_le(patched + 0x228, 0x20000, 4);
	put_le(patched + 0x218, (0x3ffd7fff - 33333) & ~0xfff, 4);
	put_le(patched + 0x21c, 33333, 4);
	assert_int_equal(pe_authenticode(patched, klen, "SHA256", d, &dlen, err, sizeof(err)), 0);
	extend(want4, d);
	assert_int_equal(hex_decode_exact(action, d, 32), 0);
	extend(want4, d);
	assert_int_equal(hex_decode_exact(separator, d, 32), 0);
	extend(want4, d);
	SHA256((const uint8_t *)options, sizeof(options), d); /* its last NUL ends the UTF-16 NUL */
	extend(want9, d);
	SHA256(initrd, ilen, d);
	extend(want9, d);

	assert_int_equal(tpm_boot_predict(kernel, klen, initrd, ilen, "console=ttyS0", 1ull << 30,
					  pcr4, pcr9, err, sizeof(err)),
			 0);
	assert_memory_equal(pcr4, want4, 32);
	assert_memory_equal(pcr9, want9, 32);

	/* More memory moves the initrd, so the kernel's digest. */
	assert_int_equal(tpm_boot_predict(kernel, klen, initrd, ilen, "console=ttyS0", 2ull << 30,
					  pcr4, pcr9, err, sizeof(err)),
			 0);
	assert_memory_not_equal(pcr4, want4, 32);
	assert_memory_equal(pcr9, want9, 32);

	/* No initrd: the header keeps no initrd, the LoadOptions no suffix, no initrd event. */
	memset(patched + 0x218, 0, 8);
	assert_int_equal(pe_authenticode(patched, klen, "SHA256", d, &dlen, err, sizeof(err)), 0);
	memset(want4, 0, 32);
	extend(want4, d);
	assert_int_equal(hex_decode_exact(action, d, 32), 0);
	extend(want4, d);
	assert_int_equal(hex_decode_exact(separator, d, 32), 0);
	extend(want4, d);
	memset(want9, 0, 32);
	memset(u, 0, sizeof(u));
	memcpy(u, options, 26); /* "console=ttyS0" in UTF-16, then the NUL */
	SHA256(u, sizeof(u), d);
	extend(want9, d);
	assert_int_equal(tpm_boot_predict(kernel, klen, NULL, 0, "console=ttyS0", 1ull << 30, pcr4,
					  pcr9, err, sizeof(err)),
			 0);
	assert_memory_equal(pcr4, want4, 32);
	assert_memory_equal(pcr9, want9, 32);

	/* Neither a command line nor an initrd: PCR 9 is never extended. */
	assert_int_equal(tpm_boot_predict(kernel, klen, NULL, 0, NULL, 1ull << 30, pcr4, pcr9, err,
					  sizeof(err)),
			 0);
	assert_memory_equal(pcr9, (uint8_t[32]){ 0 }, 32);
	free(kernel);
	free(patched);
	free(initrd);
}

static void test_refusals(void **state)
{
	size_t klen, len;
	uint8_t *kernel = synthetic_kernel(&klen), *buf, pcr4[32], pcr9[32], pcrs[10][32];
	uint8_t *ccel;
	struct tpm_boot_digests d = { .has_load_options = true };
	bool predicted[10];
	struct evlog log;
	char err[256], path[512];

	(void)state;
	/* An empty initrd; a kernel that is no PE image; one too short for a setup header. */
	assert_int_equal(tpm_boot_predict(kernel, klen, kernel, 0, "x", 1ull << 30, pcr4, pcr9, err,
					  sizeof(err)),
			 -EINVAL);
	assert_true(tpm_boot_predict(kernel + 1, klen - 1, NULL, 0, "x", 1ull << 30, pcr4, pcr9,
				     err, sizeof(err)) < 0);
	assert_int_equal(tpm_boot_predict(kernel, 0x800, NULL, 0, "x", 1ull << 30, pcr4, pcr9, err,
					  sizeof(err)),
			 -EINVAL);
	/* An initrd that does not fit below the guest memory. */
	assert_int_equal(tpm_boot_predict(kernel, klen, kernel, klen, "x", 0x20000, pcr4, pcr9, err,
					  sizeof(err)),
			 -EINVAL);

	/* A CCEL has no SHA-256 bank. */
	ccel = sim_read(sim_path(path, sizeof(path), "CVM_VECTORS", "eventlog/ccel-ovmf.bin"),
			&len);
	assert_int_equal(tpm_boot_predict_with_log(ccel, len, kernel, klen, NULL, 0, "x",
						   1ull << 30, pcrs, predicted, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "SHA-256"));
	free(ccel);

	/* Two EFI applications in PCR 4: the reference is not of a direct boot. */
	parse_run("a", &log, &buf);
	for (size_t i = 0; i < log.n; i++)
		if (log.events[i].index == 4 && log.events[i].type == EV_EFI_ACTION)
			log.events[i].type = EV_EFI_BOOT_SERVICES_APPLICATION;
	assert_int_equal(tpm_boot_replay(&log, &d, pcrs, predicted, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "PCR 4"));
	evlog_free(&log);
	free(buf);

	/* PCR 9 with an event the EFI stub does not make. */
	parse_run("a", &log, &buf);
	for (size_t i = 0; i < log.n; i++)
		if (log.events[i].index == 7)
			log.events[i].index = 9;
	assert_int_equal(tpm_boot_replay(&log, &d, pcrs, predicted, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "PCR 9"));
	evlog_free(&log);
	free(buf);
	free(kernel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_options_match_the_logged_events),
		cmocka_unit_test(test_load_options_absent_without_cmdline_or_initrd),
		cmocka_unit_test(test_replay_gives_the_real_pcrs),
		cmocka_unit_test(test_reference_log_predicts_another_boot),
		cmocka_unit_test(test_predict_composition),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
