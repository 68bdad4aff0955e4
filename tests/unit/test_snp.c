/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP report parsing and verification: the real Milan report first
 * (google/go-sev-guest verify/testdata, see tests/vectors/README.md), then
 * reports signed by the test PKI, then hostile input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "measurement/measurement.h"
#include "tests/unit/support/sim.h"

/* 2024-01-01T00:00:00Z: inside the real VCEK's validity (2022-09-24 to 2029-09-24). */
#define NOW 1704067200

static uint8_t *milan;
static size_t milan_len;
static struct snp_certs milan_certs;
/* pinned: the real roots at NOW; testroots: also the test PKI, at the current time. */
static struct snp_verifier *pinned, *testroots;
static struct snp_certs test_vcek, test_vlek;

static void load_dir(const char *env, const char *rel, struct snp_certs *c)
{
	char path[512], err[256];

	sim_path(path, sizeof(path), env, rel);
	if (snp_certs_load_dir(path, c, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static int setup(void **state)
{
	char path[512];

	(void)state;
	milan = sim_read(sim_path(path, sizeof(path), "CVM_VECTORS", "snp/milan/report.bin"),
			 &milan_len);
	load_dir("CVM_VECTORS", "snp/milan", &milan_certs);
	load_dir("CVM_TEST_PKI", "snp/certs-vcek", &test_vcek);
	load_dir("CVM_TEST_PKI", "snp/certs-vlek", &test_vlek);
	if (snp_verifier_new(NULL, NOW, &pinned) < 0 ||
	    snp_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/roots.pem"), 0,
			     &testroots) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(milan);
	snp_certs_free(&milan_certs);
	snp_certs_free(&test_vcek);
	snp_certs_free(&test_vlek);
	snp_verifier_free(pinned);
	snp_verifier_free(testroots);
	return 0;
}

static struct snp_reference ref_defaults(void)
{
	struct reference r;

	reference_defaults(&r);
	return r.snp;
}

/*
 * The real Milan report dates from 2022 (firmware 1.49, TCB boot loader 2,
 * TEE 0, SNP 5, microcode 68): far below AMD-SB-3019's floor, so the tests of
 * its chain and signature give its own TCB as min_tcb.
 */
static struct snp_reference ref_milan_2022(void)
{
	struct snp_reference ref = ref_defaults();

	ref.allow_debug = true;
	ref.has_min_tcb = true;
	ref.min_tcb = (struct snp_tcb){ .bootloader = 2, .tee = 0, .snp = 5, .microcode = 68 };
	return ref;
}

static enum cvm_check verify_with(struct snp_verifier *sv, const uint8_t *buf, size_t len,
				  const struct snp_certs *certs, const struct snp_reference *ref,
				  const uint8_t *rd)
{
	struct snp_report r;
	struct verdict v;

	assert_int_equal(snp_verify(sv, buf, len, certs, ref, rd, &r, &v), 0);
	if (v.failed == CHECK_NONE)
		assert_true(verdict_ok(&v));
	return v.failed;
}

static enum cvm_check verify_milan(const uint8_t *buf, const struct snp_reference *ref)
{
	return verify_with(pinned, buf, SNP_REPORT_SIZE, &milan_certs, ref, NULL);
}

/* ---- the real report ---- */

static void test_real_report_refused_for_debug_policy(void **state)
{
	struct snp_reference ref = ref_defaults();

	(void)state;
	assert_int_equal(verify_milan(milan, &ref), CHECK_POLICY_DEBUG);
	assert_int_equal(verify_milan(milan, NULL), CHECK_POLICY_DEBUG);
}

static void test_real_report_genuine_when_debug_allowed(void **state)
{
	struct snp_reference ref = ref_milan_2022();
	struct snp_report r;
	struct verdict v;
	uint8_t rd[64] = { 1, 2, 3, 4, 5 };

	(void)state;
	assert_int_equal(snp_verify(pinned, milan, milan_len, &milan_certs, &ref, rd, &r, &v), 0);
	assert_true(verdict_ok(&v));
	assert_int_equal(r.version, 2);
	assert_int_equal(r.policy, 0xb0000);
	assert_int_equal(r.product, SNP_PRODUCT_MILAN);
	assert_int_equal(r.reported_tcb, 0x4405000000000002ull);
}

static void test_real_report_with_only_the_vcek(void **state)
{
	struct snp_reference ref = ref_milan_2022();
	struct snp_certs only = { .vcek = milan_certs.vcek };
	char dir[512], path[600];
	uint8_t *der;
	size_t len;

	(void)state;
	assert_int_equal(verify_milan(milan, &ref), CHECK_NONE);
	assert_int_equal(verify_with(pinned, milan, milan_len, &only, &ref, NULL), CHECK_NONE);

	/* The same through a directory holding vcek.der alone: built-in ASK and ARK. */
	snprintf(dir, sizeof(dir), "%s/snp-only-vcek", sim_env("CVM_TEST_TMP"));
	mkdir(dir, 0700);
	der = sim_read(sim_path(path, sizeof(path), "CVM_VECTORS", "snp/milan/vcek.der"), &len);
	snprintf(path, sizeof(path), "%s/vcek.der", dir);
	sim_write(path, der, len);
	free(der);
	{
		struct snp_certs c;
		char err[256];

		assert_int_equal(snp_certs_load_dir(dir, &c, err, sizeof(err)), 0);
		assert_null(c.ask);
		assert_int_equal(verify_with(pinned, milan, milan_len, &c, &ref, NULL), CHECK_NONE);
		snp_certs_free(&c);
	}
}

static void test_product_and_stepping(void **state)
{
	static const struct {
		const char *product;
		enum cvm_check want;
	} cases[] = {
		{ "Milan", CHECK_NONE },       { "Milan-B0", CHECK_NONE },
		{ "Milan-B1", CHECK_PRODUCT }, { "Genoa", CHECK_PRODUCT },
		{ "Turin", CHECK_PRODUCT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct snp_reference ref = ref_milan_2022();

		snprintf(ref.product, sizeof(ref.product), "%s", cases[i].product);
		assert_int_equal(verify_milan(milan, &ref), cases[i].want);
	}
}

static void test_report_data_compared(void **state)
{
	struct snp_reference ref = ref_milan_2022();
	uint8_t rd[64] = { 1, 2, 3, 4, 5 };

	(void)state;
	assert_int_equal(verify_with(pinned, milan, milan_len, &milan_certs, &ref, rd), CHECK_NONE);
	rd[63] = 1;
	assert_int_equal(verify_with(pinned, milan, milan_len, &milan_certs, &ref, rd),
			 CHECK_REPORT_DATA);
	ref.has_report_data = true;
	memset(ref.report_data, 0, 64);
	assert_int_equal(verify_milan(milan, &ref), CHECK_REPORT_DATA);
}

static void test_any_bit_flip_in_signed_region_rejected(void **state)
{
	struct snp_reference ref = ref_defaults();
	uint8_t buf[SNP_REPORT_SIZE];

	(void)state;
	ref.allow_debug = true;
	for (size_t i = 0; i < SNP_REPORT_SIGNED_SIZE; i++) {
		memcpy(buf, milan, sizeof(buf));
		buf[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(verify_milan(buf, &ref), CHECK_NONE);
	}
	/* Every bit of the measurement, one at a time. */
	for (size_t bit = 0; bit < 48 * 8; bit++) {
		memcpy(buf, milan, sizeof(buf));
		buf[0x90 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(verify_milan(buf, &ref), CHECK_SIGNATURE);
	}
}

static void test_bit_flips_outside_signed_region_rejected(void **state)
{
	struct snp_reference ref = ref_defaults();
	uint8_t buf[SNP_REPORT_SIZE];

	(void)state;
	ref.allow_debug = true;
	for (size_t i = SNP_REPORT_SIGNED_SIZE; i < SNP_REPORT_SIZE; i++) {
		enum cvm_check c;

		memcpy(buf, milan, sizeof(buf));
		buf[i] ^= (uint8_t)(1u << (i % 8));
		c = verify_milan(buf, &ref);
		assert_true(c == CHECK_SIGNATURE || c == CHECK_FORMAT);
	}
}

static void test_truncated_oversized_and_zero_rejected(void **state)
{
	uint8_t big[SNP_REPORT_SIZE + 1], zero[SNP_REPORT_SIZE] = { 0 };

	(void)state;
	for (size_t n = 0; n < SNP_REPORT_SIZE; n++)
		assert_int_equal(verify_milan(milan, NULL) == CHECK_POLICY_DEBUG &&
					 verify_with(pinned, milan, n, &milan_certs, NULL, NULL) ==
						 CHECK_FORMAT,
				 1);
	memcpy(big, milan, SNP_REPORT_SIZE);
	big[SNP_REPORT_SIZE] = 0;
	assert_int_equal(verify_with(pinned, big, sizeof(big), &milan_certs, NULL, NULL),
			 CHECK_FORMAT);
	assert_int_equal(verify_milan(zero, NULL), CHECK_FORMAT);
}

static void test_wrong_version_algorithm_vmpl(void **state)
{
	uint8_t buf[SNP_REPORT_SIZE];

	(void)state;
	memcpy(buf, milan, sizeof(buf));
	buf[0] = 1;
	assert_int_equal(verify_milan(buf, NULL), CHECK_FORMAT);
	buf[0] = 6;
	assert_int_equal(verify_milan(buf, NULL), CHECK_FORMAT);
	memcpy(buf, milan, sizeof(buf));
	buf[0x34] = 2;
	assert_int_equal(verify_milan(buf, NULL), CHECK_SIG_ALGO);
	memcpy(buf, milan, sizeof(buf));
	buf[0x30] = 4;
	assert_int_equal(verify_milan(buf, NULL), CHECK_FORMAT);
}

static X509 *builtin_genoa_ask(void)
{
	char path[512];
	uint8_t *pem;
	size_t len;
	STACK_OF(X509) *sk = NULL;
	X509 *ask;

	pem = sim_read(sim_path(path, sizeof(path), "CVM_VECTORS", "snp/roots/ask_ark_genoa.pem"),
		       &len);
	assert_int_equal(x509_load_pem_chain(pem, len, &sk), 0);
	free(pem);
	ask = X509_dup(sk_X509_value(sk, 0));
	sk_X509_pop_free(sk, X509_free);
	return ask;
}

static void test_chain_out_of_order_or_foreign_rejected(void **state)
{
	struct snp_reference ref = ref_defaults();
	struct snp_certs swapped = { .ark = milan_certs.ask,
				     .ask = milan_certs.ark,
				     .vcek = milan_certs.vcek };
	struct snp_certs genoa = { .ask = builtin_genoa_ask(), .vcek = milan_certs.vcek };
	struct snp_certs leaf_is_ask = { .vcek = milan_certs.ask };

	(void)state;
	ref.allow_debug = true;
	assert_int_equal(verify_with(pinned, milan, milan_len, &swapped, &ref, NULL),
			 CHECK_ROOT_PINNED);
	assert_int_equal(verify_with(pinned, milan, milan_len, &genoa, &ref, NULL), CHECK_CHAIN);
	assert_int_equal(verify_with(pinned, milan, milan_len, &leaf_is_ask, &ref, NULL),
			 CHECK_CERTIFICATES);
	assert_int_equal(verify_with(pinned, milan, milan_len, NULL, &ref, NULL),
			 CHECK_CERTIFICATES);
	X509_free(genoa.ask);
}

static void test_validity_at_verification_time(void **state)
{
	struct snp_reference ref = ref_defaults();
	struct snp_verifier *early, *late;

	(void)state;
	ref.allow_debug = true;
	assert_int_equal(snp_verifier_new(NULL, 1600000000 /* 2020 */, &early), 0);
	assert_int_equal(snp_verifier_new(NULL, 2000000000 /* 2033 */, &late), 0);
	assert_int_equal(verify_with(early, milan, milan_len, &milan_certs, &ref, NULL),
			 CHECK_VALIDITY);
	assert_int_equal(verify_with(late, milan, milan_len, &milan_certs, &ref, NULL),
			 CHECK_VALIDITY);
	snp_verifier_free(early);
	snp_verifier_free(late);
}

/* ---- the test PKI ---- */

static enum cvm_check verify_sim(const struct sim_snp_fields *p, const char *key,
				 const struct snp_certs *certs, const struct snp_reference *ref)
{
	uint8_t buf[SNP_REPORT_SIZE];
	char path[512];

	sim_snp_report(p, sim_path(path, sizeof(path), "CVM_TEST_PKI", key), buf);
	return verify_with(testroots, buf, sizeof(buf), certs, ref, NULL);
}

static void test_test_pki_report_verifies_only_with_test_roots(void **state)
{
	struct sim_snp_fields p;
	uint8_t buf[SNP_REPORT_SIZE];
	char path[512];

	(void)state;
	sim_snp_defaults(&p);
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_NONE);
	sim_snp_report(&p, sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/vcek.key"), buf);
	assert_int_equal(verify_with(pinned, buf, sizeof(buf), &test_vcek, NULL, NULL),
			 CHECK_ROOT_PINNED);
	/* Without the ARK the test chain finds no root at all. */
	{
		struct snp_certs no_ark = { .ask = test_vcek.ask, .vcek = test_vcek.vcek };

		assert_int_equal(verify_with(pinned, buf, sizeof(buf), &no_ark, NULL, NULL),
				 CHECK_ROOT_PINNED);
	}
}

static void test_vcek_on_wrong_curve_rejected(void **state)
{
	struct snp_certs p256;
	struct sim_snp_fields p;

	(void)state;
	load_dir("CVM_TEST_PKI", "snp/certs-p256", &p256);
	sim_snp_defaults(&p);
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &p256, NULL), CHECK_KEY_TYPE);
	snp_certs_free(&p256);
}

static void test_vlek_chain_and_signing_key_field(void **state)
{
	struct sim_snp_fields p;

	(void)state;
	sim_snp_defaults(&p);
	p.flags = 1u << 2; /* SIGNING_KEY = VLEK */
	memset(p.chip_id, 0, 64);
	assert_int_equal(verify_sim(&p, "snp/vlek.key", &test_vlek, NULL), CHECK_NONE);
	p.flags = 0;
	assert_int_equal(verify_sim(&p, "snp/vlek.key", &test_vlek, NULL), CHECK_SIGNING_KEY);
	/* Back to the VCEK: the cache must not keep the VLEK chain. */
	sim_snp_defaults(&p);
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_NONE);
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vlek, NULL), CHECK_SIGNING_KEY);
	/* A report that names the VLEK but was signed by the VCEK. */
	p.flags = 1u << 2;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vlek, NULL), CHECK_SIGNATURE);
}

static void test_report_claims_against_vcek(void **state)
{
	struct sim_snp_fields p;

	(void)state;
	sim_snp_defaults(&p);
	p.reported_tcb += 1; /* boot loader SPL 5, VCEK says 4 */
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_TCB_MATCH);
	sim_snp_defaults(&p);
	p.chip_id[5] ^= 1;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_CHIP_ID);
	sim_snp_defaults(&p);
	memset(p.chip_id, 0, 64);
	p.flags = 2; /* MASK_CHIP_ID */
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_NONE);
	sim_snp_defaults(&p);
	p.version = 3;
	p.cpuid_fam = 0x19;
	p.cpuid_mod = 0x11; /* Genoa */
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_PRODUCT);
	p.cpuid_mod = 0x01; /* Milan */
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_NONE);
}

static void test_policy_and_vmpl(void **state)
{
	struct snp_reference ref = ref_defaults();
	struct sim_snp_fields p;

	(void)state;
	sim_snp_defaults(&p);
	p.policy |= 1ull << 18;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_POLICY_MA);
	ref.allow_migration_agent = true;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);

	ref = ref_defaults();
	sim_snp_defaults(&p);
	ref.allow_smt = false;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_POLICY_SMT);
	p.policy &= ~(1ull << 16);
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);

	ref = ref_defaults();
	ref.has_policy = true;
	ref.policy = 0x30000;
	sim_snp_defaults(&p);
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);
	ref.policy = 0x20000;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_POLICY);

	ref = ref_defaults();
	p.vmpl = 1;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_VMPL);
	ref.has_vmpl = true;
	ref.vmpl = 1;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);
}

static void test_reference_values(void **state)
{
	struct snp_reference ref = ref_defaults();
	struct sim_snp_fields p;

	(void)state;
	sim_snp_defaults(&p);
	ref.has_measurement = true;
	memcpy(ref.measurement, p.measurement, 48);
	ref.has_host_data = true;
	ref.has_min_tcb = true;
	ref.min_tcb = (struct snp_tcb){ .bootloader = 4, .tee = 1, .snp = 24, .microcode = 219 };
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);
	ref.measurement[47] ^= 1;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_MEASUREMENT);
	ref.measurement[47] ^= 1;
	ref.host_data[0] = 1;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_HOST_DATA);
	ref.host_data[0] = 0;
	ref.min_tcb.snp = 25;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_MIN_TCB);
	ref.min_tcb.snp = 24;
	ref.has_image_id = true;
	ref.image_id[0] = 9;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_ID_DIGESTS);
}

static void test_tcb_decode_per_product(void **state)
{
	struct snp_tcb m = snp_tcb_decode(0x4405000000000102ull, SNP_PRODUCT_MILAN);
	struct snp_tcb t = snp_tcb_decode(0x4400000005040302ull, SNP_PRODUCT_TURIN);

	(void)state;
	assert_int_equal(m.bootloader, 2);
	assert_int_equal(m.tee, 1);
	assert_int_equal(m.snp, 5);
	assert_int_equal(m.microcode, 0x44);
	assert_int_equal(t.fmc, 2);
	assert_int_equal(t.bootloader, 3);
	assert_int_equal(t.tee, 4);
	assert_int_equal(t.snp, 5);
	assert_int_equal(t.microcode, 0x44);
}

/* ---- the default floors and the newer policy checks ---- */

/* 2026-06-01T00:00:00Z: inside the validity of tests/data/snp's certificates. */
#define NOW_2026 1780272000

static enum cvm_check verify_data(const char *product, const char *certs_rel,
				  const struct snp_reference *ref, struct snp_report *out)
{
	struct snp_verifier *sv;
	struct snp_certs certs;
	struct snp_report r;
	struct verdict v;
	char path[512], rel[64];
	uint8_t *buf;
	size_t len;

	snprintf(rel, sizeof(rel), "tests/data/snp/%s/report.bin", product);
	buf = sim_read(sim_path(path, sizeof(path), "CVM_TOP", rel), &len);
	load_dir("CVM_TOP", certs_rel, &certs);
	assert_int_equal(snp_verifier_new(NULL, NOW_2026, &sv), 0);
	assert_int_equal(snp_verify(sv, buf, len, &certs, ref, NULL, &r, &v), 0);
	if (out)
		*out = r;
	snp_verifier_free(sv);
	snp_certs_free(&certs);
	free(buf);
	return v.failed;
}

static void test_real_2022_report_below_the_default_floor(void **state)
{
	struct snp_reference ref = ref_defaults();

	(void)state;
	ref.allow_debug = true;
	assert_int_equal(verify_milan(milan, &ref), CHECK_MIN_TCB);
	ref = ref_milan_2022();
	assert_int_equal(verify_milan(milan, &ref), CHECK_NONE);
	ref.min_tcb.microcode = 69;
	assert_int_equal(verify_milan(milan, &ref), CHECK_MIN_TCB);
}

/* Milan 1.55.29 and Genoa 1.55.40 carry exactly AMD-SB-3019's SPLs: one more refuses. */
static void test_real_reports_at_the_default_floor(void **state)
{
	static const char *const products[] = { "milan", "genoa" };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char certs[64];
		struct snp_report r;
		struct snp_tcb min, t;
		const char *source;
		struct snp_reference ref = ref_defaults();

		snprintf(certs, sizeof(certs), "tests/data/snp/%s", products[i]);
		assert_int_equal(verify_data(products[i], certs, NULL, &r), CHECK_NONE);
		assert_int_equal(verify_data(products[i], certs, &ref, &r), CHECK_NONE);
		assert_true(snp_default_min_tcb(&r, &min, &source));
		t = snp_tcb_decode(r.reported_tcb, r.product);
		assert_int_equal(t.snp, min.snp);
		assert_int_equal(t.microcode, min.microcode);
		ref.has_min_tcb = true;
		ref.min_tcb = t;
		assert_int_equal(verify_data(products[i], certs, &ref, NULL), CHECK_NONE);
		ref.min_tcb.snp++;
		assert_int_equal(verify_data(products[i], certs, &ref, NULL), CHECK_MIN_TCB);
		ref.min_tcb = t;
		ref.min_tcb.microcode++;
		assert_int_equal(verify_data(products[i], certs, &ref, NULL), CHECK_MIN_TCB);
		ref.min_tcb = t;
		ref.min_tcb.bootloader++;
		assert_int_equal(verify_data(products[i], certs, &ref, NULL), CHECK_MIN_TCB);
	}
}

static void test_default_floor_per_silicon_line(void **state)
{
	static const struct {
		enum snp_product product;
		uint32_t version;
		uint8_t mod, step;
		bool known;
		uint8_t snp, microcode;
	} cases[] = {
		{ SNP_PRODUCT_MILAN, 2, 0, 0, true, 24, 219 },	  /* no CPUID: strictest */
		{ SNP_PRODUCT_MILAN, 3, 0x01, 1, true, 24, 219 }, /* Milan B1 */
		{ SNP_PRODUCT_MILAN, 3, 0x01, 2, true, 24, 68 },  /* Milan-X */
		{ SNP_PRODUCT_GENOA, 3, 0x11, 1, true, 23, 84 },  /* Genoa B1 */
		{ SNP_PRODUCT_GENOA, 3, 0x11, 2, true, 23, 79 },  /* Genoa-X */
		{ SNP_PRODUCT_GENOA, 3, 0xa0, 2, true, 23, 25 },  /* Bergamo/Siena */
		{ SNP_PRODUCT_GENOA, 2, 0, 0, true, 23, 84 },	  /* no CPUID */
		{ SNP_PRODUCT_TURIN, 5, 0x02, 1, false, 0, 0 },	  /* none published */
		{ SNP_PRODUCT_UNKNOWN, 3, 0x02, 1, false, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct snp_report r = { .product = cases[i].product,
					.version = cases[i].version,
					.cpuid_mod_id = cases[i].mod,
					.cpuid_step = cases[i].step };
		struct snp_tcb min = { 0 };
		const char *source = NULL;

		assert_int_equal(snp_default_min_tcb(&r, &min, &source), cases[i].known);
		if (!cases[i].known)
			continue;
		assert_non_null(strstr(source, "AMD-SB-3019"));
		assert_int_equal(min.snp, cases[i].snp);
		assert_int_equal(min.microcode, cases[i].microcode);
	}
}

/* Turin: the real report and VCEK (8 raw bytes of hwID) verify; fmc counts. */
static void test_real_turin_report(void **state)
{
	struct snp_reference ref = ref_defaults();
	struct snp_report r;
	struct snp_tcb t;

	(void)state;
	assert_int_equal(verify_data("turin", "tests/data/snp/turin", &ref, &r), CHECK_NONE);
	assert_int_equal(r.product, SNP_PRODUCT_TURIN);
	assert_int_equal(r.version, 5);
	t = snp_tcb_decode(r.reported_tcb, r.product);
	assert_int_equal(t.fmc, 1);
	assert_int_equal(t.bootloader, 1);
	assert_int_equal(t.tee, 1);
	assert_int_equal(t.snp, 4);
	assert_int_equal(t.microcode, 81);
	ref.has_min_tcb = true;
	ref.min_tcb = t;
	assert_int_equal(verify_data("turin", "tests/data/snp/turin", &ref, NULL), CHECK_NONE);
	ref.min_tcb.fmc = 2;
	assert_int_equal(verify_data("turin", "tests/data/snp/turin", &ref, NULL), CHECK_MIN_TCB);
	/* Another real Turin VCEK (virtee/sev): its chain holds, the signature does not. */
	assert_int_equal(verify_data("turin", "tests/data/snp/turin/virtee", NULL, NULL),
			 CHECK_SIGNATURE);
}

static void sim_turin(struct sim_snp_fields *p)
{
	char path[512];
	size_t len;
	uint8_t *hex;

	sim_snp_defaults(p);
	p->version = 5;
	p->cpuid_fam = 0x1a;
	p->cpuid_mod = 0x02;
	p->cpuid_step = 0x01;
	/* Turin TCB_VERSION (56860 Table 4): fmc 1, bl 1, tee 1, snp 4, ucode 81. */
	p->reported_tcb = 1ull | 1ull << 8 | 1ull << 16 | 4ull << 24 | 81ull << 56;
	memset(p->chip_id, 0, 64);
	hex = sim_read(sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/turin_hwid.hex"), &len);
	while (len && hex[len - 1] == '\n')
		hex[--len] = 0;
	assert_int_equal(hex_decode_exact((char *)hex, p->chip_id, 8), 0);
	free(hex);
}

static void test_turin_hwid_is_chip_ids_first_8_bytes(void **state)
{
	struct snp_certs turin;
	struct sim_snp_fields p;

	(void)state;
	load_dir("CVM_TEST_PKI", "snp/certs-turin", &turin);
	sim_turin(&p);
	assert_int_equal(verify_sim(&p, "snp/vcek-turin.key", &turin, NULL), CHECK_NONE);
	p.chip_id[7] ^= 1; /* another chip */
	assert_int_equal(verify_sim(&p, "snp/vcek-turin.key", &turin, NULL), CHECK_CHIP_ID);
	sim_turin(&p);
	p.chip_id[8] = 1; /* bytes past the 8 must be zero */
	assert_int_equal(verify_sim(&p, "snp/vcek-turin.key", &turin, NULL), CHECK_CHIP_ID);
	sim_turin(&p);
	p.reported_tcb += 1; /* fmc 2, the VCEK says 1 */
	assert_int_equal(verify_sim(&p, "snp/vcek-turin.key", &turin, NULL), CHECK_TCB_MATCH);
	sim_turin(&p);
	p.cpuid_fam = 0x19; /* a Milan report under a Turin VCEK */
	p.cpuid_mod = 0x01;
	assert_int_equal(verify_sim(&p, "snp/vcek-turin.key", &turin, NULL), CHECK_PRODUCT);
	/* The 64-byte hwID of a Milan VCEK is not a Turin one, and the reverse. */
	sim_snp_defaults(&p);
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_NONE);
	snp_certs_free(&turin);
}

static void test_reserved_policy_bits_refused(void **state)
{
	static const uint64_t bad[] = { 0x10000, 0x30000 | 1ull << 26, 0x30000 | 1ull << 63 };
	struct sim_snp_fields p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sim_snp_defaults(&p);
		p.policy = bad[i];
		assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_FORMAT);
	}
	sim_snp_defaults(&p);
	p.policy = 0x30000 | SNP_POLICY_PAGE_SWAP_DISABLE | SNP_POLICY_CXL_ALLOW;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, NULL), CHECK_NONE);
}

static void test_single_socket_abi_and_features(void **state)
{
	static const uint64_t features[] = { SNP_POLICY_MEM_AES_256_XTS, SNP_POLICY_RAPL_DIS,
					     SNP_POLICY_CIPHERTEXT_HIDING_DRAM,
					     SNP_POLICY_PAGE_SWAP_DISABLE };
	struct snp_reference ref = ref_defaults();
	struct sim_snp_fields p;

	(void)state;
	sim_snp_defaults(&p);
	ref.require_single_socket = true;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref),
			 CHECK_POLICY_SINGLE_SOCKET);
	p.policy |= SNP_POLICY_SINGLE_SOCKET;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);

	ref = ref_defaults();
	ref.has_min_abi = true;
	ref.min_abi_major = 1;
	ref.min_abi_minor = 55;
	sim_snp_defaults(&p); /* ABI 0.0 */
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_POLICY_ABI);
	p.policy |= 1ull << 8 | 54;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_POLICY_ABI);
	p.policy = 0x30000 | 1ull << 8 | 55;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);
	p.policy = 0x30000 | 2ull << 8 | 0;
	assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);

	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		ref = ref_defaults();
		ref.require_policy = features[i];
		sim_snp_defaults(&p);
		/* every other feature set, not the required one */
		for (size_t k = 0; k < sizeof(features) / sizeof(features[0]); k++)
			if (k != i)
				p.policy |= features[k];
		assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref),
				 CHECK_POLICY_FEATURES);
		p.policy |= features[i];
		assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);
	}
}

static void test_platform_info_required(void **state)
{
	struct snp_reference ref = ref_defaults();
	struct sim_snp_fields p;
	uint64_t bit;
	const char *name;

	(void)state;
	for (size_t i = 0; (name = snp_platform_bit_name(i, &bit)); i++) {
		assert_int_equal(snp_platform_bit_from_name(name), bit);
		ref.require_platform = bit;
		sim_snp_defaults(&p);
		p.platform_info = ~bit & 0xff;
		assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref),
				 CHECK_PLATFORM_INFO);
		p.platform_info = bit;
		assert_int_equal(verify_sim(&p, "snp/vcek.key", &test_vcek, &ref), CHECK_NONE);
	}
	assert_int_equal(snp_platform_bit_from_name("alias_check"), 0);
	assert_int_equal(snp_policy_bit_from_name("cxl_allow"), 0);
	assert_int_equal(snp_policy_bit_from_name("page_swap_disable"),
			 SNP_POLICY_PAGE_SWAP_DISABLE);
}

static void test_claims_name_policy_and_platform_bits(void **state)
{
	struct snp_report r;
	cJSON *c, *pb, *pi;

	(void)state;
	assert_int_equal(verify_data("genoa", "tests/data/snp/genoa", NULL, &r), CHECK_NONE);
	c = snp_report_claims(&r);
	pb = cJSON_GetObjectItem(c, "policy_bits");
	pi = cJSON_GetObjectItem(c, "platform_info_bits");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(pb, "page_swap_disable")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(pb, "ciphertext_hiding_dram")));
	assert_int_equal(cJSON_GetObjectItem(pb, "abi_minor")->valueint, 31);
	/* PLATFORM_INFO 0x27: SMT, TSME, ECC, alias check complete */
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(pi, "smt_en")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(pi, "tsme_en")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(pi, "ecc_en")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(pi, "alias_check_complete")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(pi, "rapl_dis")));
	assert_string_equal(cJSON_GetObjectItem(pi, "other")->valuestring, "0x0000000000000000");
	cJSON_Delete(c);
}

static void test_detects_evidence_type(void **state)
{
	uint8_t tdx[64] = { 4, 0, 2, 0, 0x81 };

	(void)state;
	assert_int_equal(evidence_detect(milan, milan_len), PLATFORM_SNP);
	assert_int_equal(evidence_detect(tdx, sizeof(tdx)), PLATFORM_TDX);
	assert_int_equal(evidence_detect(milan, 100), PLATFORM_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_report_refused_for_debug_policy),
		cmocka_unit_test(test_real_report_genuine_when_debug_allowed),
		cmocka_unit_test(test_real_report_with_only_the_vcek),
		cmocka_unit_test(test_product_and_stepping),
		cmocka_unit_test(test_report_data_compared),
		cmocka_unit_test(test_any_bit_flip_in_signed_region_rejected),
		cmocka_unit_test(test_bit_flips_outside_signed_region_rejected),
		cmocka_unit_test(test_truncated_oversized_and_zero_rejected),
		cmocka_unit_test(test_wrong_version_algorithm_vmpl),
		cmocka_unit_test(test_chain_out_of_order_or_foreign_rejected),
		cmocka_unit_test(test_validity_at_verification_time),
		cmocka_unit_test(test_test_pki_report_verifies_only_with_test_roots),
		cmocka_unit_test(test_vcek_on_wrong_curve_rejected),
		cmocka_unit_test(test_vlek_chain_and_signing_key_field),
		cmocka_unit_test(test_report_claims_against_vcek),
		cmocka_unit_test(test_policy_and_vmpl),
		cmocka_unit_test(test_reference_values),
		cmocka_unit_test(test_tcb_decode_per_product),
		cmocka_unit_test(test_real_2022_report_below_the_default_floor),
		cmocka_unit_test(test_real_reports_at_the_default_floor),
		cmocka_unit_test(test_default_floor_per_silicon_line),
		cmocka_unit_test(test_real_turin_report),
		cmocka_unit_test(test_turin_hwid_is_chip_ids_first_8_bytes),
		cmocka_unit_test(test_reserved_policy_bits_refused),
		cmocka_unit_test(test_single_socket_abi_and_features),
		cmocka_unit_test(test_platform_info_required),
		cmocka_unit_test(test_claims_name_policy_and_platform_bits),
		cmocka_unit_test(test_detects_evidence_type),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
