/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX quote parsing and verification: real quotes from Sapphire Rapids and
 * Google Cloud (google/go-tdx-guest testing/testdata, see
 * tests/vectors/README.md), quotes signed by the test PKI, collateral, and
 * hostile input.
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

/* 2026-06-01: inside the validity of the three real PCK certificates. */
#define NOW 1780272000
/* 2023-06-20: inside the validity of the sample collateral. */
#define COLLATERAL_NOW 1687219200

static struct tdx_verifier *pinned, *testroots;

static int setup(void **state)
{
	char path[512], err[256];

	(void)state;
	if (tdx_verifier_new(NULL, NULL, NOW, &pinned, err, sizeof(err)) < 0 ||
	    tdx_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/roots.pem"), NULL, 0,
			     &testroots, err, sizeof(err)) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tdx_verifier_free(pinned);
	tdx_verifier_free(testroots);
	return 0;
}

static uint8_t *vector(const char *rel, size_t *len)
{
	char path[512];

	return sim_read(sim_path(path, sizeof(path), "CVM_VECTORS", rel), len);
}

static enum cvm_check verify_with(struct tdx_verifier *tv, const uint8_t *buf, size_t len,
				  const struct tdx_reference *ref, const uint8_t *rd)
{
	struct tdx_quote q;
	struct verdict v;

	assert_int_equal(tdx_verify(tv, buf, len, ref, rd, &q, &v), 0);
	if (v.failed == CHECK_NONE)
		assert_true(verdict_ok(&v));
	return v.failed;
}

/* ---- real quotes ---- */

static void test_real_quotes_are_genuine(void **state)
{
	static const char *const names[] = { "tdx/spr-prod-quote-v4.bin", "tdx/quote-v5.bin",
					     "tdx/gcp-cos-ccel/quote.bin" };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct tdx_quote q;
		struct verdict v;
		size_t len;
		uint8_t *buf = vector(names[i], &len);

		struct tdx_reference ref = { .accepted_tcb = TCB_UP_TO_DATE };

		assert_int_equal(tdx_verify(pinned, buf, len, NULL, NULL, &q, &v), 0);
		/*
		 * The Sapphire Rapids quote's TD attributes are 0x40000000 (PKS):
		 * without SEPT_VE_DISABLE, refused unless the reference says so.
		 */
		if (i == 0) {
			assert_int_equal(v.failed, CHECK_TD_ATTRIBUTES);
			ref.allow_sept_ve = true;
			assert_int_equal(tdx_verify(pinned, buf, len, &ref, NULL, &q, &v), 0);
		}
		assert_true(verdict_ok(&v));
		assert_false(v.tcb_status_checked);
		assert_int_equal(q.version, i == 1 ? 5 : 4);
		free(buf);
	}
}

static void test_v5_body_is_td_report_15(void **state)
{
	struct tdx_quote q;
	struct verdict v;
	size_t len;
	uint8_t *buf = vector("tdx/quote-v5.bin", &len);

	(void)state;
	verdict_init(&v, PLATFORM_TDX);
	assert_int_equal(tdx_quote_parse(buf, len, &q, &v), 0);
	assert_int_equal(q.body_type, 3);
	assert_int_equal(q.signed_region.len, 48 + 6 + 648);
	assert_int_equal(q.trailing, 0);
	free(buf);
}

static void test_gcp_quote_binds_its_nonce(void **state)
{
	size_t len, nlen;
	uint8_t *buf = vector("tdx/gcp-cos-ccel/quote.bin", &len);
	uint8_t *nonce = vector("tdx/gcp-cos-ccel/nonce.bin", &nlen);
	struct tdx_reference ref = { .accepted_tcb = TCB_UP_TO_DATE };

	(void)state;
	assert_int_equal(nlen, 64);
	assert_int_equal(verify_with(pinned, buf, len, &ref, nonce), CHECK_NONE);
	nonce[10] ^= 1;
	assert_int_equal(verify_with(pinned, buf, len, &ref, nonce), CHECK_REPORT_DATA);
	free(buf);
	free(nonce);
}

static void test_any_bit_flip_in_signed_region_rejected(void **state)
{
	size_t len;
	uint8_t *orig = vector("tdx/spr-prod-quote-v4.bin", &len), *buf = malloc(len);

	(void)state;
	for (size_t i = 0; i < 48 + 584; i++) {
		enum cvm_check c;

		memcpy(buf, orig, len);
		buf[i] ^= (uint8_t)(1u << (i % 8));
		c = verify_with(pinned, buf, len, NULL, NULL);
		/* Header fields that the parser checks fail earlier; all others in the signature. */
		if (i < 8)
			assert_int_not_equal(c, CHECK_NONE);
		else
			assert_int_equal(c, CHECK_SIGNATURE);
	}
	free(orig);
	free(buf);
}

static void test_signature_data_tampering_rejected(void **state)
{
	size_t len;
	uint8_t *orig = vector("tdx/spr-prod-quote-v4.bin", &len), *buf = malloc(len);
	size_t sig = 48 + 584 + 4, ak = sig + 64, qe = ak + 64 + 6;

	(void)state;
	for (size_t i = 0; i < 64; i++) {
		memcpy(buf, orig, len);
		buf[sig + i] ^= 0x80;
		assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_SIGNATURE);
	}
	for (size_t i = 0; i < 64; i++) {
		enum cvm_check c;

		memcpy(buf, orig, len);
		buf[ak + i] ^= 1;
		c = verify_with(pinned, buf, len, NULL, NULL);
		assert_true(c == CHECK_KEY_TYPE || c == CHECK_QE_REPORT_DATA);
	}
	for (size_t i = 0; i < 384 + 64; i++) {
		memcpy(buf, orig, len);
		buf[qe + i] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_QE_SIGNATURE);
	}
	/* The QE auth data is bound through the QE report_data. */
	memcpy(buf, orig, len);
	buf[qe + 384 + 64 + 2] ^= 1;
	assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_QE_REPORT_DATA);
	free(orig);
	free(buf);
}

static void test_truncation_at_every_length_rejected(void **state)
{
	size_t len;
	uint8_t *orig = vector("tdx/quote-v5.bin", &len);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		/* A fresh allocation of exactly n bytes, so ASan sees any over-read. */
		uint8_t *buf = malloc(n ? n : 1);

		memcpy(buf, orig, n);
		assert_int_not_equal(verify_with(pinned, buf, n, NULL, NULL), CHECK_NONE);
		free(buf);
	}
	free(orig);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void test_lying_length_fields_rejected(void **state)
{
	size_t len;
	uint8_t *orig = vector("tdx/spr-prod-quote-v4.bin", &len), *buf = malloc(len);
	size_t siglen = 48 + 584, cert = siglen + 4 + 128, auth = cert + 6 + 384 + 64;
	size_t pem = auth + 2 + 32;
	static const uint32_t lies[] = { 0, 1, 1000, 0x7fffffff, 0xffffffff };

	(void)state;
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		memcpy(buf, orig, len);
		put32(buf + siglen, lies[i]);
		assert_int_not_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_NONE);
		memcpy(buf, orig, len);
		put32(buf + cert + 2, lies[i]);
		assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_CERT_DATA);
		memcpy(buf, orig, len);
		put32(buf + pem + 2, lies[i]);
		assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_CERT_DATA);
		memcpy(buf, orig, len);
		buf[auth] = (uint8_t)lies[i];
		buf[auth + 1] = (uint8_t)(lies[i] >> 8);
		assert_int_not_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_NONE);
	}
	/* Certification data types other than 6, inner types other than 5. */
	memcpy(buf, orig, len);
	buf[cert] = 5;
	assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_CERT_DATA);
	memcpy(buf, orig, len);
	buf[pem] = 6;
	assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_CERT_DATA);
	free(orig);
	free(buf);
}

static void test_wrong_version_key_type_tee_type(void **state)
{
	size_t len;
	uint8_t *orig = vector("tdx/spr-prod-quote-v4.bin", &len), *buf = malloc(len);

	(void)state;
	memcpy(buf, orig, len);
	buf[0] = 3;
	assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_FORMAT);
	memcpy(buf, orig, len);
	buf[2] = 3; /* ECDSA-384 */
	assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_SIG_ALGO);
	memcpy(buf, orig, len);
	buf[4] = 0; /* SGX */
	assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_FORMAT);
	memcpy(buf, orig, len);
	buf[0] = 5; /* a v4 body read as v5: the body descriptor does not fit */
	assert_int_equal(verify_with(pinned, buf, len, NULL, NULL), CHECK_FORMAT);
	free(orig);
	free(buf);
}

/* ---- the test PKI ---- */

static void test_test_pki_quote_verifies_only_with_test_roots(void **state)
{
	struct sim_tdx_fields p;
	size_t len;
	uint8_t *q;

	(void)state;
	sim_tdx_defaults(&p);
	q = sim_tdx_quote(&p, NULL, &len);
	assert_int_equal(verify_with(testroots, q, len, NULL, NULL), CHECK_NONE);
	assert_int_equal(verify_with(pinned, q, len, NULL, NULL), CHECK_ROOT_PINNED);
	free(q);
	p.break_qe_binding = true;
	q = sim_tdx_quote(&p, NULL, &len);
	assert_int_equal(verify_with(testroots, q, len, NULL, NULL), CHECK_QE_REPORT_DATA);
	free(q);
}

static void test_chain_out_of_order_rejected(void **state)
{
	char path[512], chain[600];
	uint8_t *pck, *ca, *root;
	size_t a, b, c;
	struct sim_tdx_fields p;
	FILE *f;
	size_t len;
	uint8_t *q;

	(void)state;
	pck = sim_read(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/pck.pem"), &a);
	ca = sim_read(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/pckca.pem"), &b);
	root = sim_read(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/root.pem"), &c);
	snprintf(chain, sizeof(chain), "%s/tdx-chain-swapped.pem", sim_env("CVM_TEST_TMP"));
	f = fopen(chain, "w");
	assert_non_null(f);
	fwrite(pck, 1, a, f);
	fwrite(root, 1, c, f);
	fwrite(ca, 1, b, f);
	fclose(f);
	sim_tdx_defaults(&p);
	q = sim_tdx_quote(&p, chain, &len);
	assert_int_equal(verify_with(testroots, q, len, NULL, NULL), CHECK_ROOT_PINNED);
	free(q);

	/* Two certificates only. */
	f = fopen(chain, "w");
	fwrite(pck, 1, a, f);
	fwrite(root, 1, c, f);
	fclose(f);
	q = sim_tdx_quote(&p, chain, &len);
	assert_int_equal(verify_with(testroots, q, len, NULL, NULL), CHECK_CERTIFICATES);
	free(q);
	free(pck);
	free(ca);
	free(root);
}

static void test_pck_on_wrong_curve_rejected(void **state)
{
	char path[512];
	struct sim_tdx_fields p;
	size_t len;
	uint8_t *q;

	(void)state;
	sim_tdx_defaults(&p);
	q = sim_tdx_quote(&p, sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/pck384-chain.pem"),
			  &len);
	assert_int_equal(verify_with(testroots, q, len, NULL, NULL), CHECK_KEY_TYPE);
	free(q);
}

static void test_debug_td_refused_unless_allowed(void **state)
{
	struct tdx_reference ref = { .accepted_tcb = TCB_UP_TO_DATE };
	struct sim_tdx_fields p;
	size_t len;
	uint8_t *q;

	(void)state;
	sim_tdx_defaults(&p);
	p.td_attributes[0] |= 1;
	q = sim_tdx_quote(&p, NULL, &len);
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_TD_DEBUG);
	ref.allow_debug = true;
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_NONE);
	free(q);
}

static void test_reference_measurements(void **state)
{
	struct tdx_reference ref = { .accepted_tcb = TCB_UP_TO_DATE };
	struct sim_tdx_fields p;
	size_t len;
	uint8_t *q;

	(void)state;
	sim_tdx_defaults(&p);
	p.rtmr[2][0] = 0xaa;
	q = sim_tdx_quote(&p, NULL, &len);
	ref.has_mrtd = true;
	memcpy(ref.mrtd, p.mrtd, 48);
	ref.has_rtmr[2] = true;
	memcpy(ref.rtmr[2], p.rtmr[2], 48);
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_NONE);
	ref.mrtd[0] ^= 1;
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_MRTD);
	ref.mrtd[0] ^= 1;
	ref.rtmr[2][47] ^= 1;
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_RTMR);
	ref.rtmr[2][47] ^= 1;
	ref.has_mrconfigid = true;
	ref.mrconfigid[0] = 1;
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_MRCONFIGID);
	free(q);
}

/* ---- TD attributes and XFAM ---- */

static void test_sept_ve_disable_required_by_default(void **state)
{
	struct tdx_reference ref = { .accepted_tcb = TCB_UP_TO_DATE };
	struct sim_tdx_fields p;
	size_t len;
	uint8_t *q;

	(void)state;
	sim_tdx_defaults(&p);
	p.td_attributes[3] &= (uint8_t)~0x10; /* bit 28 */
	q = sim_tdx_quote(&p, NULL, &len);
	assert_int_equal(verify_with(testroots, q, len, NULL, NULL), CHECK_TD_ATTRIBUTES);
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_TD_ATTRIBUTES);
	ref.allow_sept_ve = true;
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_NONE);
	/* allow_debug says nothing about SEPT_VE_DISABLE, nor the reverse */
	ref.allow_sept_ve = false;
	ref.allow_debug = true;
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_TD_ATTRIBUTES);
	free(q);
	p.td_attributes[0] |= 1;
	q = sim_tdx_quote(&p, NULL, &len);
	ref.allow_debug = false;
	ref.allow_sept_ve = true;
	assert_int_equal(verify_with(testroots, q, len, &ref, NULL), CHECK_TD_DEBUG);
	free(q);
}

/* The real v5 quote: TD attributes 00 00 00 10 00.., XFAM e7 02 06 00.. (quote bytes). */
static void test_td_attributes_and_xfam_pins(void **state)
{
	struct tdx_reference ref = { .accepted_tcb = TCB_UP_TO_DATE };
	struct tdx_quote q;
	struct verdict v;
	size_t len;
	uint8_t *buf = vector("tdx/quote-v5.bin", &len);

	(void)state;
	ref.has_td_attributes = ref.has_xfam = true;
	ref.td_attributes = 0x10000000;
	ref.td_attributes_mask = UINT64_MAX;
	ref.xfam = 0x602e7;
	ref.xfam_mask = UINT64_MAX;
	assert_int_equal(verify_with(pinned, buf, len, &ref, NULL), CHECK_NONE);
	ref.td_attributes |= 1ull << 30; /* PKS pinned on, the TD runs without */
	assert_int_equal(verify_with(pinned, buf, len, &ref, NULL), CHECK_TD_ATTRIBUTES);
	ref.td_attributes_mask = ~(1ull << 30); /* ...unless the mask leaves it out */
	assert_int_equal(verify_with(pinned, buf, len, &ref, NULL), CHECK_NONE);
	ref.xfam = 0x61ae7; /* the Sapphire Rapids quote's XFAM (AMX on) */
	assert_int_equal(verify_with(pinned, buf, len, &ref, NULL), CHECK_XFAM);
	ref.xfam_mask = 0xff;
	assert_int_equal(verify_with(pinned, buf, len, &ref, NULL), CHECK_NONE);

	/* both are reported as checks, pinned or not */
	memset(&ref, 0, sizeof(ref));
	ref.accepted_tcb = TCB_UP_TO_DATE;
	assert_int_equal(tdx_verify(pinned, buf, len, &ref, NULL, &q, &v), 0);
	{
		bool attrs = false, xfam = false;

		for (size_t i = 0; i < v.n; i++) {
			attrs |= v.results[i].check == CHECK_TD_ATTRIBUTES && v.results[i].ok &&
				 strstr(v.results[i].detail, "0000001000000000");
			xfam |= v.results[i].check == CHECK_XFAM && v.results[i].ok &&
				strstr(v.results[i].detail, "e702060000000000");
		}
		assert_true(attrs && xfam);
	}
	free(buf);
}

static void test_reference_attribute_members(void **state)
{
	static const struct {
		const char *json, *err; /* err NULL: accepted */
	} cases[] = {
		{ "{\"tdx\": {\"td_attributes\": \"0000001000000000\"}}", NULL },
		{ "{\"tdx\": {\"td_attributes\": \"0000001000000000\", \"td_attributes_mask\": "
		  "\"ffffffff00000000\", \"xfam\": \"e702060000000000\"}}",
		  NULL },
		{ "{\"tdx\": {\"td_attributes\": \"00\"}}", "tdx.td_attributes: must be a hex" },
		{ "{\"tdx\": {\"xfam_mask\": \"ffffffffffffffff\"}}",
		  "tdx.xfam_mask: needs the value it masks" },
		{ "{\"tdx\": {\"td_attributes\": \"0000000000000000\"}}",
		  "tdx.td_attributes: pins SEPT_VE_DISABLE (bit 28) clear" },
		{ "{\"tdx\": {\"td_attributes\": \"0000000000000000\", \"allow_sept_ve\": true}}",
		  NULL },
		{ "{\"tdx\": {\"td_attributes\": \"0000000000000000\", \"td_attributes_mask\": "
		  "\"ffffffefffffffff\"}}",
		  NULL },
		{ "{\"tdx\": {\"td_attributes\": \"0100001000000000\"}}",
		  "tdx.td_attributes: pins DEBUG (bit 0) set" },
		{ "{\"tdx\": {\"allow_sept_ve\": 1}}", "tdx.allow_sept_ve: must be true or false" },
		{ "{\"tdx\": {\"sept_ve_disable\": false}}",
		  "tdx.sept_ve_disable: unknown member" },
	};
	struct reference ref;
	char err[200];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = reference_parse(cases[i].json, strlen(cases[i].json), &ref, err,
					sizeof(err));

		if (!cases[i].err) {
			if (r != 0)
				fail_msg("%s: %s", cases[i].json, err);
		} else {
			assert_int_not_equal(r, 0);
			if (!strstr(err, cases[i].err))
				fail_msg("%s: got '%s', want '%s'", cases[i].json, err,
					 cases[i].err);
		}
	}
	reference_parse(cases[1].json, strlen(cases[1].json), &ref, err, sizeof(err));
	assert_true(ref.tdx.has_td_attributes && ref.tdx.has_xfam);
	assert_true(ref.tdx.td_attributes == 0x10000000);
	assert_true(ref.tdx.td_attributes_mask == 0xffffffffull);
	assert_true(ref.tdx.xfam == 0x602e7 && ref.tdx.xfam_mask == UINT64_MAX);
	assert_false(ref.tdx.allow_sept_ve);
	/* the defaults: SEPT_VE_DISABLE required, UpToDate only */
	reference_defaults(&ref);
	assert_false(ref.tdx.allow_sept_ve);
	assert_int_equal(ref.tdx.accepted_tcb, TCB_UP_TO_DATE);
}

/* ---- collateral ---- */

static const char *collateral_dir(const char *name)
{
	static char dir[512];

	snprintf(dir, sizeof(dir), "%s/%s", sim_env("CVM_TEST_TMP"), name);
	mkdir(dir, 0700);
	return dir;
}

static enum cvm_check verify_collateral(const struct sim_collateral *c,
					const struct sim_tdx_fields *p, unsigned accepted,
					char *status, size_t cap)
{
	struct tdx_reference ref = { .accepted_tcb = accepted };
	struct tdx_verifier *tv;
	struct tdx_quote q;
	struct verdict v;
	char path[512], err[256];
	const char *dir = collateral_dir("tdx-collateral");
	size_t len;
	uint8_t *buf;

	sim_collateral_write(c, dir);
	if (tdx_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/roots.pem"), dir, 0,
			     &tv, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	buf = sim_tdx_quote(p, NULL, &len);
	assert_int_equal(tdx_verify(tv, buf, len, &ref, NULL, &q, &v), 0);
	if (status)
		snprintf(status, cap, "%s", v.tcb_status_checked ? v.tcb_status : "");
	free(buf);
	tdx_verifier_free(tv);
	return v.failed;
}

static void test_collateral_tcb_status(void **state)
{
	struct sim_collateral c;
	struct sim_tdx_fields p;
	char status[32];

	(void)state;
	sim_collateral_defaults(&c);
	sim_tdx_defaults(&p);
	assert_int_equal(verify_collateral(&c, &p, TCB_UP_TO_DATE, status, sizeof(status)),
			 CHECK_NONE);
	assert_string_equal(status, "UpToDate");

	/* A TDX module SVN below the UpToDate level: OutOfDate, refused by default. */
	p.tee_tcb_svn[2] = 4;
	assert_int_equal(verify_collateral(&c, &p, TCB_UP_TO_DATE, status, sizeof(status)),
			 CHECK_TCB_STATUS);
	assert_string_equal(status, "OutOfDate");
	assert_int_equal(verify_collateral(&c, &p, TCB_UP_TO_DATE | TCB_OUT_OF_DATE, NULL, 0),
			 CHECK_NONE);
	/* Below every level. */
	p.tee_tcb_svn[2] = 1;
	assert_int_equal(verify_collateral(&c, &p, 0x7f, NULL, 0), CHECK_TCB_STATUS);

	/* An old QE makes the platform out of date. */
	sim_tdx_defaults(&p);
	c.qe_isvsvn = 8;
	assert_int_equal(verify_collateral(&c, &p, TCB_UP_TO_DATE, status, sizeof(status)),
			 CHECK_TCB_STATUS);
	assert_string_equal(status, "OutOfDate");
	assert_int_equal(verify_collateral(&c, &p, TCB_UP_TO_DATE | TCB_OUT_OF_DATE, NULL, 0),
			 CHECK_NONE);
	/* A revoked QE makes it Revoked: accepting OutOfDate does not let it through. */
	c.qe_low_status = "Revoked";
	assert_int_equal(
		verify_collateral(&c, &p, TCB_UP_TO_DATE | TCB_OUT_OF_DATE, status, sizeof(status)),
		CHECK_TCB_STATUS);
	assert_string_equal(status, "Revoked");
	/* A QE status Enclave Identity v2 does not give a QE still counts. */
	c.qe_low_status = "SWHardeningNeeded";
	assert_int_equal(verify_collateral(&c, &p, TCB_UP_TO_DATE, status, sizeof(status)),
			 CHECK_TCB_STATUS);
	assert_string_equal(status, "SWHardeningNeeded");
}

/* The QE's identity against Intel's: a QE of another signer is refused by name. */
static void test_qe_identity_mismatch(void **state)
{
	struct sim_collateral c;
	struct sim_tdx_fields p;
	struct tdx_verifier *tv;
	struct tdx_quote q;
	struct verdict v;
	char path[1024], err[256];
	const char *dir = collateral_dir("tdx-collateral-qe");
	size_t len, qlen;
	uint8_t *doc, *buf;
	EVP_PKEY *key;
	char *at, *body, *end;
	uint8_t r[32], sv[32];
	char sig[129], *out;

	(void)state;
	sim_collateral_defaults(&c);
	sim_tdx_defaults(&p);
	sim_collateral_write(&c, dir);
	/* Intel's QE identity names another MRSIGNER: re-signed by the TCB signing key. */
	snprintf(path, sizeof(path), "%s/qe-identity.json", dir);
	doc = sim_read(path, &len);
	at = strstr((char *)doc, "\"mrsigner\":\"0");
	assert_non_null(at);
	at[12] = '1';
	body = strchr((char *)doc, ':') + 1;
	end = strstr(body, ",\"signature\"");
	assert_non_null(end);
	key = sim_load_key(sim_path(err, sizeof(err), "CVM_TEST_PKI", "tdx/tcbsign.key"));
	sim_sign(key, EVP_sha256(), body, (size_t)(end - body), r, sv, 32);
	EVP_PKEY_free(key);
	hex_encode(r, 32, sig);
	hex_encode(sv, 32, sig + 64);
	out = malloc(len + 200);
	assert_non_null(out);
	snprintf(out, len + 200, "%.*s,\"signature\":\"%s\"}", (int)(end - (char *)doc),
		 (char *)doc, sig);
	sim_write(path, out, strlen(out));
	free(out);
	free(doc);
	assert_int_equal(
		tdx_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/roots.pem"), dir,
				 0, &tv, err, sizeof(err)),
		0);
	buf = sim_tdx_quote(&p, NULL, &qlen);
	assert_int_equal(tdx_verify(tv, buf, qlen, NULL, NULL, &q, &v), 0);
	assert_int_equal(v.failed, CHECK_QE_IDENTITY);
	free(buf);
	tdx_verifier_free(tv);
}

static void test_collateral_for_other_platform_or_out_of_date(void **state)
{
	struct sim_collateral c;
	struct sim_tdx_fields p;

	(void)state;
	sim_tdx_defaults(&p);
	sim_collateral_defaults(&c);
	c.fmspc = "50806f000000";
	assert_int_equal(verify_collateral(&c, &p, TCB_UP_TO_DATE, NULL, 0), CHECK_COLLATERAL);
	sim_collateral_defaults(&c);
	sim_rfc3339(-3600, c.next); /* expired an hour ago */
	assert_int_equal(verify_collateral(&c, &p, TCB_UP_TO_DATE, NULL, 0), CHECK_COLLATERAL);
	sim_rfc3339(3600, c.issue); /* not yet issued */
	sim_rfc3339(86400, c.next);
	assert_int_equal(verify_collateral(&c, &p, TCB_UP_TO_DATE, NULL, 0), CHECK_COLLATERAL);
}

static void test_collateral_tampering_rejected(void **state)
{
	struct sim_collateral c;
	struct sim_tdx_fields p;
	struct tdx_verifier *tv;
	struct tdx_quote q;
	struct verdict v;
	char path[1024], err[256];
	const char *dir = collateral_dir("tdx-collateral-tampered");
	size_t len, qlen;
	uint8_t *doc, *buf;
	char *at;

	(void)state;
	sim_collateral_defaults(&c);
	sim_tdx_defaults(&p);
	sim_collateral_write(&c, dir);
	snprintf(path, sizeof(path), "%s/tcbinfo.json", dir);
	doc = sim_read(path, &len);
	at = strstr((char *)doc, "OutOfDate");
	assert_non_null(at);
	memcpy(at, "UpToDate\"", 9); /* the lower level now claims UpToDate */
	memmove(at + 8, at + 9, len - (size_t)(at + 9 - (char *)doc) + 1);
	sim_write(path, doc, strlen((char *)doc));
	free(doc);
	assert_int_equal(
		tdx_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/roots.pem"), dir,
				 0, &tv, err, sizeof(err)),
		0);
	buf = sim_tdx_quote(&p, NULL, &qlen);
	assert_int_equal(tdx_verify(tv, buf, qlen, NULL, NULL, &q, &v), 0);
	assert_int_equal(v.failed, CHECK_COLLATERAL);
	free(buf);
	tdx_verifier_free(tv);
}

static void test_real_collateral_signatures_and_no_matching_level(void **state)
{
	struct tdx_verifier *tv;
	struct tdx_quote q;
	struct verdict v;
	char dir[512], err[256];
	size_t len;
	uint8_t *buf = vector("tdx/spr-prod-quote-v4.bin", &len);
	struct tdx_reference ref = { .accepted_tcb = TCB_UP_TO_DATE, .allow_sept_ve = true };

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tests/data/tdx/collateral", sim_env("CVM_TOP"));
	assert_int_equal(tdx_verifier_new(NULL, dir, COLLATERAL_NOW, &tv, err, sizeof(err)), 0);
	assert_int_equal(tdx_verify(tv, buf, len, &ref, NULL, &q, &v), 0);
	/*
	 * Intel's signatures over the sample TCB info and QE identity verify, the
	 * CRLs are current and do not list the chain, the QE is UpToDate; the
	 * quote's TEE_TCB_SVN (03 00 04) is below both TCB levels (03 00 05).
	 */
	assert_int_equal(v.failed, CHECK_TCB_STATUS);
	for (size_t i = 0; i < v.n; i++)
		if (v.results[i].check == CHECK_COLLATERAL ||
		    v.results[i].check == CHECK_REVOCATION ||
		    v.results[i].check == CHECK_QE_IDENTITY)
			assert_true(v.results[i].ok);
	free(buf);
	tdx_verifier_free(tv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_quotes_are_genuine),
		cmocka_unit_test(test_v5_body_is_td_report_15),
		cmocka_unit_test(test_gcp_quote_binds_its_nonce),
		cmocka_unit_test(test_any_bit_flip_in_signed_region_rejected),
		cmocka_unit_test(test_signature_data_tampering_rejected),
		cmocka_unit_test(test_truncation_at_every_length_rejected),
		cmocka_unit_test(test_lying_length_fields_rejected),
		cmocka_unit_test(test_wrong_version_key_type_tee_type),
		cmocka_unit_test(test_test_pki_quote_verifies_only_with_test_roots),
		cmocka_unit_test(test_chain_out_of_order_rejected),
		cmocka_unit_test(test_pck_on_wrong_curve_rejected),
		cmocka_unit_test(test_debug_td_refused_unless_allowed),
		cmocka_unit_test(test_reference_measurements),
		cmocka_unit_test(test_sept_ve_disable_required_by_default),
		cmocka_unit_test(test_td_attributes_and_xfam_pins),
		cmocka_unit_test(test_reference_attribute_members),
		cmocka_unit_test(test_qe_identity_mismatch),
		cmocka_unit_test(test_collateral_tcb_status),
		cmocka_unit_test(test_collateral_for_other_platform_or_out_of_date),
		cmocka_unit_test(test_collateral_tampering_rejected),
		cmocka_unit_test(test_real_collateral_signatures_and_no_matching_level),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
