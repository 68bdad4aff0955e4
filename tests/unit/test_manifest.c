/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image manifests (measurement/manifest.c) and the key broker's policies
 * (measurement/kbs_policy.c): the strict parser, the builder's signature,
 * candidates made of a manifest's launches and a policy's pins, policies
 * that would leave a launch register open, images found in the broker's
 * store, and evidence of the test PKI against every launch of an image.
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
#include <unistd.h>

#include <openssl/sha.h>

#include "lib/lib.h"
#include "measurement/measurement.h"
#include "tests/unit/support/sim.h"

/* The registers of the test image: byte b repeated, per register and launch. */
#define MRTD 0x10
#define RTMR0 0x20 /* unpredicted: pinned by hand */
#define RTMR1(launch) (0x31 + (launch))
#define RTMR2 0x40
#define SNP_MEAS(launch) (0x51 + (launch))
#define PCR(i) (0x60 + (i))
#define AK 0x7a

static struct result_key builder, other_builder;

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (result_key_generate(&builder, err, sizeof(err)) < 0 ||
	    result_key_generate(&other_builder, err, sizeof(err)) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	result_key_wipe(&builder);
	result_key_wipe(&other_builder);
	return 0;
}

static void add_hex(cJSON *o, const char *name, uint8_t byte, size_t n)
{
	uint8_t v[64];

	memset(v, byte, n);
	assert_non_null(json_add_hex(o, name, v, n));
}

static cJSON *file_entry(const char *path, uint8_t byte)
{
	cJSON *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "path", path);
	add_hex(f, "sha256", byte, 32);
	return f;
}

static cJSON *tdx_launch(int i)
{
	cJSON *l = cJSON_CreateObject();

	cJSON_AddNumberToObject(l, "memory_mib", 1024 << i);
	add_hex(l, "mrtd", MRTD, 48);
	add_hex(l, "rtmr1", RTMR1(i), 48);
	add_hex(l, "rtmr2", RTMR2, 48);
	return l;
}

static cJSON *snp_launch(int i)
{
	cJSON *l = cJSON_CreateObject();

	cJSON_AddNumberToObject(l, "vcpus", i + 1);
	cJSON_AddStringToObject(l, "vcpu_type", "EPYC-v4");
	add_hex(l, "measurement", SNP_MEAS(i), 48);
	return l;
}

static cJSON *unpredicted(const char *const *names, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
	return a;
}

/*
 * The shape cvm image build writes: TDX with two launches (RTMR1 depends on
 * the memory) and RTMR0 unpredicted, SNP with two (the vCPU count), TPM
 * with one predicting PCR 4 and 9.
 */
static cJSON *manifest_json(const char *name, const char *version)
{
	static const char *const tpm_un[] = {
		"pcr0", "pcr1", "pcr2", "pcr3", "pcr5", "pcr6", "pcr7"
	};
	static const char *const tdx_un[] = { "rtmr0" };
	cJSON *m = cJSON_CreateObject(), *files, *plats, *p, *a, *l, *pcrs;

	cJSON_AddNumberToObject(m, "manifest", 1);
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "version", version);
	cJSON_AddStringToObject(m, "cmdline", "console=ttyS0 panic=-1 quiet");
	files = cJSON_AddObjectToObject(m, "files");
	cJSON_AddItemToObject(files, "kernel", file_entry("vmlinuz", 0x01));
	cJSON_AddItemToObject(files, "initrd", file_entry("initrd.img", 0x02));
	cJSON_AddItemToObject(files, "image.json", file_entry("image.json", 0x03));
	plats = cJSON_AddObjectToObject(m, "platforms");

	p = cJSON_AddObjectToObject(plats, "tdx");
	a = cJSON_AddArrayToObject(p, "launches");
	cJSON_AddItemToArray(a, tdx_launch(0));
	cJSON_AddItemToArray(a, tdx_launch(1));
	cJSON_AddItemToObject(p, "unpredicted", unpredicted(tdx_un, ARRAY_SIZE(tdx_un)));

	p = cJSON_AddObjectToObject(plats, "snp");
	a = cJSON_AddArrayToObject(p, "launches");
	cJSON_AddItemToArray(a, snp_launch(0));
	cJSON_AddItemToArray(a, snp_launch(1));

	p = cJSON_AddObjectToObject(plats, "tpm");
	a = cJSON_AddArrayToObject(p, "launches");
	l = cJSON_CreateObject();
	cJSON_AddNumberToObject(l, "memory_mib", 1024);
	pcrs = cJSON_AddObjectToObject(l, "pcrs");
	add_hex(pcrs, "4", PCR(4), 32);
	add_hex(pcrs, "9", PCR(9), 32);
	cJSON_AddItemToArray(a, l);
	cJSON_AddItemToObject(p, "unpredicted", unpredicted(tpm_un, ARRAY_SIZE(tpm_un)));
	return m;
}

/* cJSON's own printing, not the canonical form: the parser must not care. */
static char *text_of(cJSON *m)
{
	char *s = cJSON_Print(m);

	assert_non_null(s);
	cJSON_Delete(m);
	return s;
}

static cJSON *at(cJSON *o, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(o))
			o = cJSON_GetArrayItem(o, atoi(k));
		else
			o = cJSON_GetObjectItemCaseSensitive(o, k);
		assert_non_null(o);
	}
	return o;
}

static void parse_ok(const char *text, struct manifest *m)
{
	char err[256] = "";

	if (manifest_parse(text, strlen(text), m, err, sizeof(err)) < 0)
		fail_msg("manifest refused: %s", err);
}

/* Refused, "E_MANIFEST: ..." naming want. */
static void refused(const char *text, const char *want)
{
	struct manifest m;
	char err[256] = "";

	assert_int_equal(manifest_parse(text, strlen(text), &m, err, sizeof(err)), -EBADMSG);
	if (strncmp(err, "E_MANIFEST: ", 12) || !strstr(err, want))
		fail_msg("refusal \"%s\" does not name \"%s\"", err, want);
}

static void refused_json(cJSON *m, const char *want)
{
	char *s = text_of(m);

	refused(s, want);
	free(s);
}

/* Valid JSON but for a repeated name (cJSON keeps both), so refused for that alone. */
static void refused_duplicate(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	assert_non_null(j);
	cJSON_Delete(j);
	refused(text, "duplicate member name");
}

static void expect_err(int r, int want, const char *err, const char *needle)
{
	assert_int_equal(r, want);
	if (!strstr(err, needle))
		fail_msg("\"%s\" does not name \"%s\"", err, needle);
}

/* ---- parsing ---- */

static void test_parse_accepts_the_builders_shape(void **state)
{
	cJSON *j = manifest_json("default", "1");
	static const char ref[] = "{\"tdx\": {\"mrtd\": \"00\"}}";
	char *canon = NULL, *text;
	uint8_t want[32], mrtd[48], rtmr1[48];
	size_t clen;
	struct manifest m;

	(void)state;
	assert_int_equal(jcs_serialize(j, &canon, &clen), 0);
	SHA256((const uint8_t *)canon, clen, want);
	free(canon);
	text = text_of(j);
	parse_ok(text, &m);
	assert_string_equal(m.name, "default");
	assert_string_equal(m.version, "1");
	/* named by the SHA-256 of the canonical form, whatever the spacing given */
	assert_memory_equal(m.sha256, want, 32);
	assert_true(manifest_text_is_manifest(text, strlen(text)));

	assert_true(m.p[PLATFORM_TDX].present);
	assert_int_equal(m.p[PLATFORM_TDX].n, 2);
	assert_int_equal(m.p[PLATFORM_TDX].unpredicted, 0x2); /* rtmr0 */
	memset(mrtd, MRTD, 48);
	memset(rtmr1, RTMR1(1), 48);
	assert_true(m.p[PLATFORM_TDX].launches[1].has_tdx);
	assert_memory_equal(m.p[PLATFORM_TDX].launches[1].tdx.mrtd, mrtd, 48);
	assert_memory_equal(m.p[PLATFORM_TDX].launches[1].tdx.rtmr[1], rtmr1, 48);
	assert_false(m.p[PLATFORM_TDX].launches[1].tdx.has_rtmr[0]);
	assert_string_equal(m.p[PLATFORM_TDX].labels[1], "2048 MiB");

	assert_int_equal(m.p[PLATFORM_SNP].n, 2);
	assert_int_equal(m.p[PLATFORM_SNP].unpredicted, 0);
	assert_string_equal(m.p[PLATFORM_SNP].labels[0], "1 vCPU EPYC-v4");

	assert_int_equal(m.p[PLATFORM_TPM].n, 1);
	assert_int_equal(m.p[PLATFORM_TPM].unpredicted, 0xef); /* PCR 0-3, 5-7 */
	assert_true(m.p[PLATFORM_TPM].launches[0].tpm.has_pcr[4]);
	assert_true(m.p[PLATFORM_TPM].launches[0].tpm.has_pcr[9]);
	assert_false(m.p[PLATFORM_TPM].launches[0].tpm.has_pcr[0]);
	manifest_free(&m);
	free(text);

	/* reference values are not a manifest */
	assert_false(manifest_text_is_manifest(ref, strlen(ref)));
}

static void test_parse_refuses_unknown_members_at_each_level(void **state)
{
	static const struct {
		const char *where; /* "" the top level */
		const char *want;
	} cases[] = {
		{ "", "manifest.extra: unknown member" },
		{ "files.kernel", "files entry.extra: unknown member" },
		{ "platforms.tdx", "platforms.tdx.extra: unknown member" },
		{ "platforms.tdx.launches.1", "tdx launch.extra: unknown member" },
		{ "platforms.snp.launches.0", "snp launch.extra: unknown member" },
		{ "platforms.tpm.launches.0", "tpm launch.extra: unknown member" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cJSON *j = manifest_json("default", "1");
		cJSON *o = cases[i].where[0] ? at(j, cases[i].where) : j;

		cJSON_AddStringToObject(o, "extra", "x");
		refused_json(j, cases[i].want);
	}
	/* a platform nobody knows */
	{
		cJSON *j = manifest_json("default", "1");

		cJSON_AddItemToObject(at(j, "platforms"), "sev",
				      cJSON_Duplicate(at(j, "platforms.snp"), 1));
		refused_json(j, "platforms.sev: not a platform");
	}
	/* a PCR that is not a boot PCR */
	{
		cJSON *j = manifest_json("default", "1");

		add_hex(at(j, "platforms.tpm.launches.0.pcrs"), "8", 0x08, 32);
		refused_json(j, "pcrs.8: not a boot PCR");
	}
}

static void test_parse_refuses_duplicate_names(void **state)
{
	cJSON *j = manifest_json("default", "1");
	char *text = cJSON_PrintUnformatted(j),
	     *tdx = cJSON_PrintUnformatted(at(j, "platforms.tdx"));
	char *dup, *after;
	size_t cap = strlen(text) + strlen(tdx) + 64;

	(void)state;
	cJSON_Delete(j);
	dup = malloc(cap);
	assert_non_null(dup);
	/* "tdx" twice under "platforms": another copy of it first */
	after = strstr(text, "\"platforms\":{");
	assert_non_null(after);
	after += strlen("\"platforms\":{");
	snprintf(dup, cap, "%.*s\"tdx\":%s,%s", (int)(after - text), text, tdx, after);
	refused_duplicate(dup);
	/* the same name at the top level */
	snprintf(dup, cap, "{\"name\":\"other\",%s", text + 1);
	refused_duplicate(dup);
	/* and in a launch */
	after = strstr(text, "\"mrtd\":");
	assert_non_null(after);
	snprintf(dup, cap, "%.*s\"rtmr2\":\"%096d\",%s", (int)(after - text), text, 0, after);
	refused_duplicate(dup);
	free(dup);
	free(tdx);
	free(text);
}

static void test_parse_refuses_a_register_predicted_and_unpredicted(void **state)
{
	cJSON *j = manifest_json("default", "1");

	(void)state;
	add_hex(at(j, "platforms.tdx.launches.0"), "rtmr0", RTMR0, 48);
	refused_json(j, "tdx: rtmr0 is both predicted and unpredicted");

	j = manifest_json("default", "1");
	add_hex(at(j, "platforms.tpm.launches.0.pcrs"), "0", PCR(0), 32);
	refused_json(j, "tpm: pcr0 is both predicted and unpredicted");

	/* named twice in unpredicted, or something that is not a launch register */
	j = manifest_json("default", "1");
	cJSON_AddItemToArray(at(j, "platforms.tdx.unpredicted"), cJSON_CreateString("rtmr0"));
	refused_json(j, "rtmr0 named twice");
	j = manifest_json("default", "1");
	cJSON_AddItemToArray(at(j, "platforms.tdx.unpredicted"), cJSON_CreateString("rtmr3"));
	refused_json(j, "platforms.tdx.unpredicted: not a launch register");
}

static void test_parse_refuses_a_launch_lacking_a_register(void **state)
{
	static const struct {
		const char *launch, *reg, *want;
	} cases[] = {
		{ "platforms.tdx.launches.1", "mrtd", "tdx launch: no mrtd" },
		{ "platforms.tdx.launches.0", "rtmr1", "tdx launch: no rtmr1" },
		{ "platforms.tdx.launches.1", "rtmr2", "tdx launch: no rtmr2" },
		{ "platforms.snp.launches.1", "measurement", "snp launch: no measurement" },
		{ "platforms.tpm.launches.0.pcrs", "9", "tpm launch: no pcr9" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cJSON *j = manifest_json("default", "1");

		cJSON_DeleteItemFromObjectCaseSensitive(at(j, cases[i].launch), cases[i].reg);
		refused_json(j, cases[i].want);
	}
	/* rtmr0 unpredicted no more, and predicted by no launch */
	{
		cJSON *j = manifest_json("default", "1");

		cJSON_DeleteItemFromObjectCaseSensitive(at(j, "platforms.tdx"), "unpredicted");
		refused_json(j, "tdx launch: no rtmr0");
	}
}

static void test_parse_refuses_bad_hex_and_format(void **state)
{
	static const struct {
		const char *obj, *member, *value, *want;
	} cases[] = {
		{ "platforms.tdx.launches.0", "mrtd", "zz", "tdx launch mrtd: must be 48 bytes" },
		{ "platforms.tdx.launches.0", "rtmr1", "0011",
		  "tdx launch rtmr1: must be 48 bytes" },
		{ "platforms.snp.launches.0", "measurement", "xyz",
		  "snp launch measurement: must be 48 bytes" },
		{ "platforms.tpm.launches.0.pcrs", "4", "4g",
		  "tpm launch pcrs.4: must be 32 bytes" },
		{ "files.kernel", "sha256", "00", "files.kernel.sha256: must be 32 bytes" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cJSON *j = manifest_json("default", "1");

		cJSON_ReplaceItemInObjectCaseSensitive(at(j, cases[i].obj), cases[i].member,
						       cJSON_CreateString(cases[i].value));
		refused_json(j, cases[i].want);
	}
	/* 47 bytes, 47 and a half, and 96 digits that are not hex: not 48 bytes */
	for (size_t i = 0; i < 3; i++) {
		static const struct {
			char c;
			size_t n;
		} bad[] = { { 'a', 94 }, { 'a', 95 }, { 'g', 96 } };
		cJSON *j = manifest_json("default", "1");
		char hex[97];

		memset(hex, bad[i].c, bad[i].n);
		hex[bad[i].n] = 0;
		cJSON_ReplaceItemInObjectCaseSensitive(at(j, "platforms.tdx.launches.1"), "rtmr2",
						       cJSON_CreateString(hex));
		refused_json(j, "tdx launch rtmr2: must be 48 bytes");
	}
	/* the format number: 1 only, and a number */
	{
		static const char *const bad[] = { "2", "0", "\"1\"", "1.5", "null" };

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			cJSON *j = manifest_json("default", "1");

			cJSON_ReplaceItemInObjectCaseSensitive(j, "manifest", cJSON_Parse(bad[i]));
			refused_json(j, "manifest: must be 1");
		}
	}
	{
		cJSON *j = manifest_json("default", "1");

		cJSON_DeleteItemFromObjectCaseSensitive(j, "manifest");
		refused_json(j, "manifest: must be 1");
	}
	/* a name that is not one; two launches of the same shape */
	{
		cJSON *j = manifest_json("../etc", "1");

		refused_json(j, "name: 1 to 64");
		j = manifest_json("default", "1");
		cJSON_ReplaceItemInObjectCaseSensitive(at(j, "platforms.tdx.launches.1"),
						       "memory_mib", cJSON_CreateNumber(1024));
		refused_json(j, "two launches of 1024 MiB");
	}
	refused("[1]", "not a JSON object");
}

/* ---- signatures ---- */

static char *sign(const char *text, const struct result_key *k)
{
	char err[256] = "", *sig = NULL;

	if (manifest_sign(text, strlen(text), k, &sig, err, sizeof(err)) < 0)
		fail_msg("manifest_sign: %s", err);
	return sig;
}

static void test_signature_good_other_builder_changed_garbage(void **state)
{
	char *text = text_of(manifest_json("default", "1"));
	char *sig = sign(text, &builder), *again, *changed;
	struct manifest m, m2;
	uint8_t signer[33];
	char err[256], pubhex[67];

	(void)state;
	parse_ok(text, &m);
	assert_int_equal(manifest_check_signature(&m, sig, strlen(sig), builder.pub, signer, err,
						  sizeof(err)),
			 0);
	assert_memory_equal(signer, builder.pub, 33);
	/* without a builder to expect: the signer comes back */
	memset(signer, 0, sizeof(signer));
	assert_int_equal(
		manifest_check_signature(&m, sig, strlen(sig), NULL, signer, err, sizeof(err)), 0);
	assert_memory_equal(signer, builder.pub, 33);
	result_key_pub_hex(&builder, pubhex);
	assert_non_null(strstr(sig, pubhex));
	/* RFC 6979: the same manifest and key give the same bytes */
	again = sign(text, &builder);
	assert_string_equal(sig, again);
	free(again);

	/* another builder's key expected */
	expect_err(manifest_check_signature(&m, sig, strlen(sig), other_builder.pub, NULL, err,
					    sizeof(err)),
		   -EKEYREJECTED, err, "E_MANIFEST_SIGNATURE: signed by another key");
	/* another builder signed it: refused when the builder is expected */
	again = sign(text, &other_builder);
	expect_err(manifest_check_signature(&m, again, strlen(again), builder.pub, NULL, err,
					    sizeof(err)),
		   -EKEYREJECTED, err, "another key");
	/* ... and when the signature file claims the builder's key for it */
	{
		char opub[67], *p;

		result_key_pub_hex(&other_builder, opub);
		p = strstr(again, opub);
		assert_non_null(p);
		memcpy(p, pubhex, 66);
		expect_err(manifest_check_signature(&m, again, strlen(again), builder.pub, NULL,
						    err, sizeof(err)),
			   -EKEYREJECTED, err, "does not verify");
	}
	free(again);

	/* a changed manifest: one launch value, or the version */
	{
		cJSON *j = manifest_json("default", "1");

		cJSON_DeleteItemFromObjectCaseSensitive(at(j, "platforms.tdx.launches.0"), "rtmr2");
		add_hex(at(j, "platforms.tdx.launches.0"), "rtmr2", RTMR2 ^ 1, 48);
		changed = text_of(j);
	}
	parse_ok(changed, &m2);
	expect_err(manifest_check_signature(&m2, sig, strlen(sig), builder.pub, NULL, err,
					    sizeof(err)),
		   -EKEYREJECTED, err, "does not verify over this manifest");
	manifest_free(&m2);
	free(changed);
	changed = text_of(manifest_json("default", "2"));
	parse_ok(changed, &m2);
	expect_err(manifest_check_signature(&m2, sig, strlen(sig), NULL, NULL, err, sizeof(err)),
		   -EKEYREJECTED, err, "does not verify");
	manifest_free(&m2);
	free(changed);

	/* garbage signature files */
	{
		char buf[512];
		static const char *const garbage[] = {
			"",
			"not json",
			"[]",
			"{}",
			"{\"builder\": \"02zz\", \"signature\": \"00\"}",
		};

		for (size_t i = 0; i < ARRAY_SIZE(garbage); i++)
			expect_err(manifest_check_signature(&m, garbage[i], strlen(garbage[i]),
							    builder.pub, NULL, err, sizeof(err)),
				   -EBADMSG, err, "E_MANIFEST_SIGNATURE: ");
		/* a short signature */
		snprintf(buf, sizeof(buf), "{\"builder\": \"%s\", \"signature\": \"%.126s\"}",
			 pubhex, strstr(sig, "\"signature\":\"") + 13);
		expect_err(manifest_check_signature(&m, buf, strlen(buf), builder.pub, NULL, err,
						    sizeof(err)),
			   -EBADMSG, err, "signature: must be 64 bytes");
		/* an unknown member */
		snprintf(buf, sizeof(buf), "%.*s,\"note\":\"x\"}", (int)strlen(sig) - 1, sig);
		expect_err(manifest_check_signature(&m, buf, strlen(buf), builder.pub, NULL, err,
						    sizeof(err)),
			   -EBADMSG, err, "unknown member");
	}
	/* a public key alone signs nothing */
	{
		struct result_key pub = { .sk = NULL };
		char *none = NULL;

		memcpy(pub.pub, builder.pub, 33);
		assert_int_equal(manifest_sign(text, strlen(text), &pub, &none, err, sizeof(err)),
				 -EINVAL);
		assert_null(none);
	}
	manifest_free(&m);
	free(sig);
	free(text);
}

/* ---- candidates ---- */

static void pin_rtmr0(struct reference *pins)
{
	pins->has_tdx = true;
	pins->tdx.has_rtmr[0] = true;
	memset(pins->tdx.rtmr[0], RTMR0, 48);
}

static void test_candidates_merge_pins(void **state)
{
	char *text = text_of(manifest_json("default", "1"));
	struct manifest m;
	struct reference pins, *c;
	uint8_t want[48];
	size_t n;
	char err[256];

	(void)state;
	parse_ok(text, &m);
	reference_defaults(&pins);
	pin_rtmr0(&pins);
	pins.has_luks_header_sha256 = true;
	memset(pins.luks_header_sha256, 0x1c, 32);
	pins.tdx.accepted_tcb |= TCB_SW_HARDENING_NEEDED;
	assert_int_equal(manifest_candidates(&m, PLATFORM_TDX, &pins, &c, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(reference_complete(&c[i], PLATFORM_TDX, err, sizeof(err)), 0);
		memset(want, RTMR0, 48);
		assert_memory_equal(c[i].tdx.rtmr[0], want, 48);
		memset(want, MRTD, 48);
		assert_memory_equal(c[i].tdx.mrtd, want, 48);
		memset(want, RTMR1(i), 48);
		assert_memory_equal(c[i].tdx.rtmr[1], want, 48);
		memset(want, RTMR2, 48);
		assert_memory_equal(c[i].tdx.rtmr[2], want, 48);
		assert_false(c[i].tdx.has_rtmr[3]);
		assert_true(c[i].has_luks_header_sha256);
		assert_int_equal(c[i].tdx.accepted_tcb, TCB_UP_TO_DATE | TCB_SW_HARDENING_NEEDED);
	}
	free(c);

	/* SNP: the manifest predicts everything; no pins needed */
	reference_defaults(&pins);
	assert_int_equal(manifest_candidates(&m, PLATFORM_SNP, &pins, &c, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	memset(want, SNP_MEAS(1), 48);
	assert_memory_equal(c[1].snp.measurement, want, 48);
	free(c);

	/* TPM: the firmware PCRs and the AK by hand */
	reference_defaults(&pins);
	pins.has_tpm = pins.tpm.has_ak_sha256 = true;
	memset(pins.tpm.ak_sha256, AK, 32);
	for (int i = 0; i < 8; i++)
		if (i != 4) {
			pins.tpm.has_pcr[i] = true;
			memset(pins.tpm.pcr[i], PCR(i), 32);
		}
	assert_int_equal(manifest_candidates(&m, PLATFORM_TPM, &pins, &c, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_true(c[0].tpm.has_pcr[4] && c[0].tpm.has_pcr[9] && c[0].tpm.has_pcr[0]);
	memset(want, PCR(9), 32);
	assert_memory_equal(c[0].tpm.pcr[9], want, 32);
	free(c);
	manifest_free(&m);
	free(text);
}

static void test_candidates_refuse_pins_of_predicted_registers(void **state)
{
	char *text = text_of(manifest_json("default", "1"));
	struct manifest m;
	struct reference pins, *c = NULL;
	size_t n = 7;
	char err[256];

	(void)state;
	parse_ok(text, &m);
	reference_defaults(&pins);
	pin_rtmr0(&pins);
	pins.tdx.has_mrtd = true;
	expect_err(manifest_candidates(&m, PLATFORM_TDX, &pins, &c, &n, err, sizeof(err)), -EINVAL,
		   err, "tdx: mrtd pinned by hand, but image default predicts it");
	assert_null(c);
	assert_int_equal(n, 0);
	pins.tdx.has_mrtd = false;
	pins.tdx.has_rtmr[2] = true;
	expect_err(manifest_candidates(&m, PLATFORM_TDX, &pins, &c, &n, err, sizeof(err)), -EINVAL,
		   err, "rtmr2 pinned by hand");

	reference_defaults(&pins);
	pins.has_snp = pins.snp.has_measurement = true;
	expect_err(manifest_candidates(&m, PLATFORM_SNP, &pins, &c, &n, err, sizeof(err)), -EINVAL,
		   err, "snp: measurement pinned by hand");
	manifest_free(&m);
	free(text);
}

static void test_candidates_refuse_unpinned_unpredicted_registers(void **state)
{
	char *text = text_of(manifest_json("default", "1"));
	struct manifest m;
	struct reference pins, *c = NULL;
	size_t n;
	char err[256];

	(void)state;
	parse_ok(text, &m);
	reference_defaults(&pins);
	expect_err(manifest_candidates(&m, PLATFORM_TDX, &pins, &c, &n, err, sizeof(err)), -EINVAL,
		   err, "tdx: rtmr0 not pinned");
	assert_non_null(strstr(err, "pin it by hand"));
	assert_null(c);

	/* TPM: PCR 3 left open; then everything but the AK */
	pins.has_tpm = pins.tpm.has_ak_sha256 = true;
	for (int i = 0; i < 8; i++)
		pins.tpm.has_pcr[i] = i != 4 && i != 3;
	expect_err(manifest_candidates(&m, PLATFORM_TPM, &pins, &c, &n, err, sizeof(err)), -EINVAL,
		   err, "tpm: pcr3 not pinned");
	pins.tpm.has_pcr[3] = true;
	pins.tpm.has_ak_sha256 = false;
	expect_err(manifest_candidates(&m, PLATFORM_TPM, &pins, &c, &n, err, sizeof(err)), -EINVAL,
		   err, "ak_sha256 not pinned");
	manifest_free(&m);
	free(text);

	/* a platform the image is not offered on */
	{
		cJSON *j = manifest_json("default", "1");

		cJSON_DeleteItemFromObjectCaseSensitive(at(j, "platforms"), "snp");
		text = text_of(j);
		parse_ok(text, &m);
		reference_defaults(&pins);
		expect_err(manifest_candidates(&m, PLATFORM_SNP, &pins, &c, &n, err, sizeof(err)),
			   -ENOENT, err, "not offered on snp");
		manifest_free(&m);
		free(text);
	}
}

/* ---- policies ---- */

static char h48[97], h32[65];

static void hex_fill(void)
{
	memset(h48, 'a', 96);
	memset(h32, 'c', 64);
}

static int policy(const char *text, struct kbs_policy *p, char *err, size_t errlen)
{
	return kbs_policy_parse(text, strlen(text), p, err, errlen);
}

/* The policy of fmt is refused, naming want. */
static void policy_refused(const char *want, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void policy_refused(const char *want, const char *fmt, ...)
{
	struct kbs_policy p;
	char text[1024], err[256] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	expect_err(policy(text, &p, err, sizeof(err)), -EINVAL, err, want);
	kbs_policy_free(&p);
}

static void test_policy_refuses_the_mrtd_only_shape(void **state)
{
	struct kbs_policy p;
	char text[1024], err[256] = "";

	(void)state;
	hex_fill();
	/* MRTD covers the TDX firmware alone: any kernel, initrd and command line would pass */
	snprintf(text, sizeof(text),
		 "{\"reference\": {\"tdx\": {\"mrtd\": \"%s\"}, \"luks_header_sha256\": \"%s\"}}",
		 h48, h32);
	expect_err(policy(text, &p, err, sizeof(err)), -EINVAL, err,
		   "tdx: rtmr0, rtmr1, rtmr2 not pinned");
	assert_null(strstr(err, "mrtd,"));
	kbs_policy_free(&p);
	/* two of three RTMRs are not enough either */
	snprintf(text, sizeof(text),
		 "{\"reference\": {\"tdx\": {\"mrtd\": \"%s\", \"rtmr0\": \"%s\", \"rtmr2\": "
		 "\"%s\"}}}",
		 h48, h48, h48);
	expect_err(policy(text, &p, err, sizeof(err)), -EINVAL, err, "tdx: rtmr1 not pinned");
	kbs_policy_free(&p);
	/* SNP without the measurement */
	snprintf(text, sizeof(text), "{\"reference\": {\"snp\": {\"policy\": 196608}}}");
	expect_err(policy(text, &p, err, sizeof(err)), -EINVAL, err, "snp: measurement not pinned");
	kbs_policy_free(&p);
}

static void test_policy_accepts_a_complete_bare_reference(void **state)
{
	struct kbs_policy p;
	char text[1024], err[256] = "";

	(void)state;
	hex_fill();
	snprintf(text, sizeof(text),
		 "{\"reference\": {\"tdx\": {\"mrtd\": \"%s\", \"rtmr0\": \"%s\", \"rtmr1\": "
		 "\"%s\", \"rtmr2\": \"%s\"}, \"luks_header_sha256\": \"%s\"}}",
		 h48, h48, h48, h48, h32);
	if (policy(text, &p, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_false(p.has_image);
	assert_true(p.require_runtime_log); /* a LUKS header is only seen in the runtime log */
	assert_int_equal(p.ncands[PLATFORM_TDX], 1);
	assert_int_equal(p.ncands[PLATFORM_SNP], 0);
	assert_int_equal(reference_complete(p.cands[PLATFORM_TDX], PLATFORM_TDX, err, sizeof(err)),
			 0);
	/* resolving a policy without an image changes nothing */
	assert_int_equal(kbs_policy_resolve(&p, "/nonexistent", err, sizeof(err)), 0);
	assert_int_equal(p.ncands[PLATFORM_TDX], 1);
	kbs_policy_free(&p);

	snprintf(text, sizeof(text), "{\"reference\": {\"snp\": {\"measurement\": \"%s\"}}}", h48);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	assert_int_equal(p.ncands[PLATFORM_SNP], 1);
	kbs_policy_free(&p);

	/* platforms names one without reference values */
	snprintf(text, sizeof(text),
		 "{\"platforms\": [\"snp\", \"tdx\"], \"reference\": {\"snp\": {\"measurement\": "
		 "\"%s\"}}}",
		 h48);
	expect_err(policy(text, &p, err, sizeof(err)), -EINVAL, err,
		   "platforms: tdx has no reference values");
	kbs_policy_free(&p);
}

static void test_policy_tpm_needs_the_ak(void **state)
{
	struct kbs_policy p;
	char pcrs[1024], text[1400], err[256] = "";
	size_t o = 0;

	(void)state;
	hex_fill();
	for (int i = 0; i <= 9; i++)
		if (i != 8)
			o += (size_t)snprintf(pcrs + o, sizeof(pcrs) - o, "%s\"%d\": \"%s\"",
					      o ? ", " : "", i, h32);
	snprintf(text, sizeof(text), "{\"reference\": {\"tpm\": {\"pcrs\": {\"sha256\": {%s}}}}}",
		 pcrs);
	expect_err(policy(text, &p, err, sizeof(err)), -EINVAL, err, "tpm: ak_sha256 not pinned");
	kbs_policy_free(&p);
	snprintf(text, sizeof(text),
		 "{\"reference\": {\"tpm\": {\"pcrs\": {\"sha256\": {%s}}, \"ak_sha256\": "
		 "\"%s\"}}}",
		 pcrs, h32);
	if (policy(text, &p, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(p.ncands[PLATFORM_TPM], 1);
	kbs_policy_free(&p);
	/* without PCR 9 (the command line) */
	snprintf(text, sizeof(text),
		 "{\"reference\": {\"tpm\": {\"pcrs\": {\"sha256\": {\"0\": \"%s\", \"1\": \"%s\", "
		 "\"2\": \"%s\", \"3\": \"%s\", \"4\": \"%s\", \"5\": \"%s\", \"6\": \"%s\", "
		 "\"7\": \"%s\"}}, \"ak_sha256\": \"%s\"}}}",
		 h32, h32, h32, h32, h32, h32, h32, h32, h32);
	expect_err(policy(text, &p, err, sizeof(err)), -EINVAL, err, "tpm: pcr9 not pinned");
	kbs_policy_free(&p);
	/* an image's pins for tpm need the AK too */
	snprintf(text, sizeof(text),
		 "{\"image\": {\"manifest_sha256\": \"%s\"}, \"reference\": {\"tpm\": {\"pcrs\": "
		 "{\"sha256\": {\"0\": \"%s\"}}}}}",
		 h32, h32);
	expect_err(policy(text, &p, err, sizeof(err)), -EINVAL, err, "reference.tpm: no ak_sha256");
	kbs_policy_free(&p);
}

static void test_policy_image_forms(void **state)
{
	struct kbs_policy p;
	char text[1024], err[256] = "", pub[67];
	uint8_t want[32];

	(void)state;
	hex_fill();
	result_key_pub_hex(&builder, pub);
	/* by digest, nothing else: the manifest must predict everything */
	snprintf(text, sizeof(text), "{\"image\": {\"manifest_sha256\": \"%s\"}}", h32);
	if (policy(text, &p, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(p.has_image && p.image_by_digest);
	memset(want, 0xcc, 32);
	assert_memory_equal(p.image_sha256, want, 32);
	assert_int_equal(p.ncands[PLATFORM_TDX], 0); /* until resolved */
	kbs_policy_free(&p);
	/* by builder and name, with pins and platforms */
	snprintf(text, sizeof(text),
		 "{\"image\": {\"builder\": \"%s\", \"name\": \"default\"}, \"platforms\": "
		 "[\"tdx\"], \"reference\": {\"tdx\": {\"rtmr0\": \"%s\"}}, "
		 "\"require_runtime_log\": true}",
		 pub, h48);
	if (policy(text, &p, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(p.has_image);
	assert_false(p.image_by_digest);
	assert_memory_equal(p.image_builder, builder.pub, 33);
	assert_string_equal(p.image_name, "default");
	assert_int_equal(p.platforms, 1u << PLATFORM_TDX);
	assert_true(p.require_runtime_log);
	kbs_policy_free(&p);

	/* refusals */
	policy_refused("either manifest_sha256, or builder and name",
		       "{\"image\": {\"manifest_sha256\": \"%s\", \"name\": \"default\"}}", h32);
	policy_refused("image.manifest_sha256: must be 32 bytes",
		       "{\"image\": {\"manifest_sha256\": \"%.62s\"}}", h32);
	policy_refused("image.builder: must be the builder's",
		       "{\"image\": {\"builder\": \"%.64s\", \"name\": \"default\"}}", pub);
	policy_refused("image.name:", "{\"image\": {\"builder\": \"%s\"}}", pub);
	policy_refused("image.version: unknown member",
		       "{\"image\": {\"manifest_sha256\": \"%s\", \"version\": \"1\"}}", h32);
	policy_refused("platforms: tdx named twice",
		       "{\"image\": {\"manifest_sha256\": \"%s\"}, \"platforms\": [\"tdx\", "
		       "\"tdx\"]}",
		       h32);
	policy_refused("platforms: must be a non-empty array",
		       "{\"image\": {\"manifest_sha256\": \"%s\"}, \"platforms\": [\"sev\"]}", h32);
	policy_refused("require_runtime_log: not a boolean",
		       "{\"image\": {\"manifest_sha256\": \"%s\"}, \"require_runtime_log\": 1}",
		       h32);
	policy_refused("image: must be an object", "{\"image\": \"%s\"}", h32);
	policy_refused("images: unknown member", "{\"images\": \"%s\"}", h32);
	policy_refused("no \"image\" and no \"reference\"", "%s", "{\"platforms\": [\"tdx\"]}");
	/* a LUKS header on SNP alone: SNP has no runtime register to see it in */
	policy_refused("luks_header_sha256 needs a runtime register",
		       "{\"image\": {\"manifest_sha256\": \"%s\"}, \"platforms\": [\"snp\"], "
		       "\"reference\": {\"luks_header_sha256\": \"%s\"}}",
		       h32, h32);
}

/* ---- the broker's image store ---- */

static const char *images_dir(const char *name)
{
	static char dir[512];
	char cmd[1200];

	snprintf(dir, sizeof(dir), "%s/manifest-%s", sim_env("CVM_TEST_TMP"), name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	assert_int_equal(system(cmd), 0);
	return dir;
}

/* As cvm kbs add-image stores it: <sha256>.json and <sha256>.sig. */
static void add_image(const char *dir, cJSON *j, const struct result_key *k, uint8_t sha[32])
{
	char *text = text_of(j), *sig = sign(text, k), hex[65], path[700];
	struct manifest m;

	parse_ok(text, &m);
	if (sha)
		memcpy(sha, m.sha256, 32);
	hex_encode(m.sha256, 32, hex);
	snprintf(path, sizeof(path), "%s/%s.json", dir, hex);
	sim_write(path, text, strlen(text));
	snprintf(path, sizeof(path), "%s/%s.sig", dir, hex);
	sim_write(path, sig, strlen(sig));
	manifest_free(&m);
	free(text);
	free(sig);
}

/* The test image without TPM: what a policy of TDX pins resolves completely. */
static cJSON *tdx_snp_image(const char *name, const char *version, uint8_t mrtd)
{
	cJSON *j = manifest_json(name, version);

	cJSON_DeleteItemFromObjectCaseSensitive(at(j, "platforms"), "tpm");
	for (int i = 0; i < 2; i++) {
		cJSON *l = at(j, i ? "platforms.tdx.launches.1" : "platforms.tdx.launches.0");

		cJSON_DeleteItemFromObjectCaseSensitive(l, "mrtd");
		add_hex(l, "mrtd", mrtd, 48);
	}
	return j;
}

static void test_resolve_by_digest_and_by_builder_and_name(void **state)
{
	const char *dir = images_dir("resolve");
	struct kbs_policy p;
	uint8_t sha[32], other_sha[32], want[48];
	char text[1024], err[512] = "", hex[65], pub[67];

	(void)state;
	hex_fill();
	add_image(dir, tdx_snp_image("default", "1", MRTD), &builder, sha);
	add_image(dir, tdx_snp_image("other", "1", MRTD ^ 1), &builder, other_sha);
	result_key_pub_hex(&builder, pub);

	/* by digest: both platforms of the image, RTMR0 by hand */
	hex_encode(sha, 32, hex);
	snprintf(text, sizeof(text),
		 "{\"image\": {\"manifest_sha256\": \"%s\"}, \"reference\": {\"tdx\": {\"rtmr0\": "
		 "\"%s\"}}}",
		 hex, h48);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	if (kbs_policy_resolve(&p, dir, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(p.ncands[PLATFORM_TDX], 2);
	assert_int_equal(p.ncands[PLATFORM_SNP], 2);
	assert_int_equal(p.ncands[PLATFORM_TPM], 0);
	memset(want, MRTD, 48);
	assert_memory_equal(p.cands[PLATFORM_TDX][1].tdx.mrtd, want, 48);
	assert_non_null(strstr(p.image_label, "default 1"));
	kbs_policy_free(&p);

	/* the same without RTMR0: the broker cannot leave it open */
	snprintf(text, sizeof(text), "{\"image\": {\"manifest_sha256\": \"%s\"}}", hex);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	expect_err(kbs_policy_resolve(&p, dir, err, sizeof(err)), -EINVAL, err,
		   "tdx: rtmr0 not pinned");
	assert_int_equal(p.ncands[PLATFORM_TDX], 0);
	kbs_policy_free(&p);
	/* ... unless the policy accepts SNP only */
	snprintf(text, sizeof(text),
		 "{\"image\": {\"manifest_sha256\": \"%s\"}, \"platforms\": [\"snp\"]}", hex);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	assert_int_equal(kbs_policy_resolve(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(p.ncands[PLATFORM_TDX], 0);
	assert_int_equal(p.ncands[PLATFORM_SNP], 2);
	kbs_policy_free(&p);

	/* by builder and name: the other image of that builder is not taken */
	snprintf(text, sizeof(text),
		 "{\"image\": {\"builder\": \"%s\", \"name\": \"default\"}, \"platforms\": "
		 "[\"tdx\"], \"reference\": {\"tdx\": {\"rtmr0\": \"%s\"}}}",
		 pub, h48);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	if (kbs_policy_resolve(&p, dir, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(p.ncands[PLATFORM_TDX], 2);
	assert_int_equal(p.ncands[PLATFORM_SNP], 0);
	for (size_t i = 0; i < 2; i++)
		assert_memory_equal(p.cands[PLATFORM_TDX][i].tdx.mrtd, want, 48);
	kbs_policy_free(&p);

	/* a new version by the same builder: every launch of both is accepted */
	add_image(dir, tdx_snp_image("default", "2", MRTD ^ 2), &builder, NULL);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	assert_int_equal(kbs_policy_resolve(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(p.ncands[PLATFORM_TDX], 4);
	kbs_policy_free(&p);
}

static void test_resolve_ignores_another_builders_image_of_that_name(void **state)
{
	const char *dir = images_dir("other-builder");
	struct kbs_policy p;
	uint8_t want[48];
	char text[1024], err[512] = "", pub[67];

	(void)state;
	hex_fill();
	result_key_pub_hex(&builder, pub);
	snprintf(text, sizeof(text),
		 "{\"image\": {\"builder\": \"%s\", \"name\": \"default\"}, \"platforms\": "
		 "[\"tdx\"], \"reference\": {\"tdx\": {\"rtmr0\": \"%s\"}}}",
		 pub, h48);

	/* only the other builder's "default": not found */
	add_image(dir, tdx_snp_image("default", "1", MRTD ^ 4), &other_builder, NULL);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	expect_err(kbs_policy_resolve(&p, dir, err, sizeof(err)), -ENOENT, err,
		   "no manifest named default signed by that builder");
	assert_non_null(strstr(err, "'cvm kbs add-image'"));
	assert_int_equal(p.ncands[PLATFORM_TDX], 0);
	kbs_policy_free(&p);

	/* both: the builder's alone */
	add_image(dir, tdx_snp_image("default", "1", MRTD), &builder, NULL);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	if (kbs_policy_resolve(&p, dir, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(p.ncands[PLATFORM_TDX], 2);
	memset(want, MRTD, 48);
	for (size_t i = 0; i < 2; i++)
		assert_memory_equal(p.cands[PLATFORM_TDX][i].tdx.mrtd, want, 48);
	kbs_policy_free(&p);
}

static void test_resolve_refuses_missing_and_tampered_images(void **state)
{
	const char *dir = images_dir("missing");
	struct kbs_policy p;
	uint8_t sha[32];
	char text[1024], err[512] = "", hex[65], path[700];

	(void)state;
	hex_fill();
	/* an empty store, a store that does not exist */
	snprintf(text, sizeof(text), "{\"image\": {\"manifest_sha256\": \"%s\"}}", h32);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	expect_err(kbs_policy_resolve(&p, dir, err, sizeof(err)), -ENOENT, err,
		   "(add it with 'cvm kbs add-image')");
	assert_non_null(strstr(err, h32));
	expect_err(kbs_policy_resolve(&p, "/nonexistent/images", err, sizeof(err)), -ENOENT, err,
		   "'cvm kbs add-image'");
	kbs_policy_free(&p);

	/* a manifest whose signature is another manifest's */
	add_image(dir, tdx_snp_image("default", "1", MRTD), &builder, sha);
	hex_encode(sha, 32, hex);
	{
		char *t2 = text_of(tdx_snp_image("default", "9", MRTD)), *s2 = sign(t2, &builder);

		snprintf(path, sizeof(path), "%s/%s.sig", dir, hex);
		sim_write(path, s2, strlen(s2));
		free(t2);
		free(s2);
	}
	snprintf(text, sizeof(text),
		 "{\"image\": {\"manifest_sha256\": \"%s\"}, \"platforms\": [\"snp\"]}", hex);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	expect_err(kbs_policy_resolve(&p, dir, err, sizeof(err)), -EKEYREJECTED, err,
		   "does not verify");
	kbs_policy_free(&p);
	/* no signature at all */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(policy(text, &p, err, sizeof(err)), 0);
	expect_err(kbs_policy_resolve(&p, dir, err, sizeof(err)), -ENOENT, err, "no signature");
	kbs_policy_free(&p);
}

/* ---- evidence against every launch of an image ---- */

static struct tdx_verifier *tdx_testroots;
static struct snp_verifier *snp_testroots;
static struct snp_certs test_vcek;

static int setup_verifiers(void **state)
{
	char path[512], err[256];

	(void)state;
	if (tdx_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/roots.pem"), NULL, 0,
			     &tdx_testroots, err, sizeof(err)) < 0 ||
	    snp_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/roots.pem"), 0,
			     &snp_testroots) < 0 ||
	    snp_certs_load_dir(sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/certs-vcek"),
			       &test_vcek, err, sizeof(err)) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown_verifiers(void **state)
{
	(void)state;
	tdx_verifier_free(tdx_testroots);
	snp_verifier_free(snp_testroots);
	snp_certs_free(&test_vcek);
	return 0;
}

static struct reference *image_candidates(enum cvm_platform pl, size_t *n)
{
	char *text = text_of(manifest_json("default", "1"));
	struct manifest m;
	struct reference pins, *c;
	char err[256];

	parse_ok(text, &m);
	reference_defaults(&pins);
	if (pl == PLATFORM_TDX)
		pin_rtmr0(&pins);
	if (manifest_candidates(&m, pl, &pins, &c, n, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(*n, 2);
	manifest_free(&m);
	free(text);
	return c;
}

/* The failed check of evidence against the candidates; CHECK_NONE when one passed. */
static enum cvm_check verify_any(const struct kbs_evidence *e, const struct reference *c, size_t n,
				 char *detail, size_t cap)
{
	struct verdict v;
	uint8_t reg[48];
	size_t reglen;
	int r = kbs_evidence_verify_any(e, snp_testroots, tdx_testroots, c, n, NULL, reg, &reglen,
					&v);

	if (r == 0) {
		assert_true(verdict_ok(&v));
		return CHECK_NONE;
	}
	assert_int_equal(r, -1);
	snprintf(detail, cap, "%s", verdict_first_failure(&v)->detail);
	return verdict_first_failure(&v)->check;
}

static enum cvm_check tdx_quote_against(const struct sim_tdx_fields *f, const struct reference *c,
					size_t n, char *detail, size_t cap)
{
	struct kbs_evidence e = { .platform = PLATFORM_TDX };
	enum cvm_check r;

	e.raw = sim_tdx_quote(f, NULL, &e.raw_len);
	r = verify_any(&e, c, n, detail, cap);
	free(e.raw);
	return r;
}

static void test_tdx_quote_against_every_launch(void **state)
{
	static const struct {
		const char *name;
		enum cvm_check check;
	} regs[] = {
		{ "MRTD", CHECK_MRTD },
		{ "RTMR0", CHECK_RTMR },
		{ "RTMR1", CHECK_RTMR },
		{ "RTMR2", CHECK_RTMR },
	};
	struct sim_tdx_fields f;
	struct reference *c;
	size_t n;
	char detail[400] = "";

	(void)state;
	c = image_candidates(PLATFORM_TDX, &n);
	sim_tdx_defaults(&f);
	memset(f.mrtd, MRTD, 48);
	memset(f.rtmr[0], RTMR0, 48);
	memset(f.rtmr[1], RTMR1(1), 48); /* the second launch: 2048 MiB */
	memset(f.rtmr[2], RTMR2, 48);
	assert_int_equal(tdx_quote_against(&f, c, n, detail, sizeof(detail)), CHECK_NONE);
	/* the first launch alone does not take it */
	assert_int_equal(tdx_quote_against(&f, c, 1, detail, sizeof(detail)), CHECK_RTMR);
	assert_non_null(strstr(detail, "RTMR1"));

	/*
	 * A quote of either launch with one bit changed: refused, naming that
	 * register, also when another launch differs in an earlier one.
	 */
	for (int launch = 0; launch < 2; launch++) {
		memset(f.rtmr[1], RTMR1(launch), 48);
		assert_int_equal(tdx_quote_against(&f, c, n, detail, sizeof(detail)), CHECK_NONE);
		for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
			uint8_t *reg = i == 0 ? f.mrtd : f.rtmr[i - 1];

			for (size_t at_byte = 0; at_byte < 48; at_byte += 47) {
				uint8_t bit = at_byte ? 0x80 : 0x01;

				reg[at_byte] ^= bit;
				detail[0] = 0;
				assert_int_equal(
					tdx_quote_against(&f, c, n, detail, sizeof(detail)),
					regs[i].check);
				if (!strstr(detail, regs[i].name))
					fail_msg("launch %d, %s changed: \"%s\" does not name it",
						 launch, regs[i].name, detail);
				reg[at_byte] ^= bit;
			}
		}
	}
	/* RTMR3 is the runtime register: no launch pins it */
	f.rtmr[3][0] ^= 1;
	assert_int_equal(tdx_quote_against(&f, c, n, detail, sizeof(detail)), CHECK_NONE);
	free(c);
}

static enum cvm_check snp_report_against(const struct sim_snp_fields *f, const struct reference *c,
					 size_t n, char *detail, size_t cap)
{
	struct kbs_evidence e = { .platform = PLATFORM_SNP, .certs = test_vcek };
	uint8_t raw[SNP_REPORT_SIZE];
	char path[512];

	sim_snp_report(f, sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/vcek.key"), raw);
	e.raw = raw;
	e.raw_len = sizeof(raw);
	return verify_any(&e, c, n, detail, cap);
}

static void test_snp_report_against_every_launch(void **state)
{
	struct sim_snp_fields f;
	struct reference *c;
	size_t n;
	char detail[400] = "";

	(void)state;
	c = image_candidates(PLATFORM_SNP, &n);
	sim_snp_defaults(&f);
	memset(f.measurement, SNP_MEAS(1), 48); /* the second launch: 2 vCPUs */
	assert_int_equal(snp_report_against(&f, c, n, detail, sizeof(detail)), CHECK_NONE);
	assert_int_equal(snp_report_against(&f, c, 1, detail, sizeof(detail)), CHECK_MEASUREMENT);
	for (size_t byte = 0; byte < 48; byte += 47) {
		f.measurement[byte] ^= 0x01;
		detail[0] = 0;
		assert_int_equal(snp_report_against(&f, c, n, detail, sizeof(detail)),
				 CHECK_MEASUREMENT);
		assert_non_null(strstr(detail, "measurement"));
		f.measurement[byte] ^= 0x01;
	}
	free(c);
}

/*
 * The broker's way: the genuine checks once, then the claims against each
 * candidate from an empty verdict. The same decision and the same failure
 * as verifying in full against the candidates.
 */
static void claims_against(const struct kbs_evidence *e, const struct reference *c, size_t n,
			   enum cvm_check want)
{
	struct verdict *full = malloc(sizeof(*full)), *v = malloc(sizeof(*v));
	struct kbs_claims *claims = NULL;
	uint8_t reg[48];
	size_t reglen;
	int r;

	assert_non_null(full);
	assert_non_null(v);
	r = kbs_evidence_verify_any(e, snp_testroots, tdx_testroots, c, n, NULL, reg, &reglen,
				    full);
	assert_int_equal(kbs_evidence_genuine(e, snp_testroots, tdx_testroots, &claims, v), 0);
	assert_non_null(claims);
	verdict_init(v, e->platform);
	assert_int_equal(kbs_claims_match_any(claims, c, n, NULL, reg, &reglen, v), r);
	if (want == CHECK_NONE) {
		assert_int_equal(r, 0);
	} else {
		assert_int_equal(r, -1);
		assert_int_equal(verdict_first_failure(v)->check, want);
		assert_string_equal(verdict_first_failure(v)->detail,
				    verdict_first_failure(full)->detail);
	}
	kbs_claims_free(claims);
	free(full);
	free(v);
}

static void test_claims_verified_once_match_each_candidate(void **state)
{
	struct sim_tdx_fields f;
	struct kbs_evidence e = { .platform = PLATFORM_TDX };
	struct kbs_claims *claims = NULL;
	struct reference *c;
	struct verdict *v = malloc(sizeof(*v));
	size_t n;

	(void)state;
	assert_non_null(v);
	c = image_candidates(PLATFORM_TDX, &n);
	sim_tdx_defaults(&f);
	memset(f.mrtd, MRTD, 48);
	memset(f.rtmr[0], RTMR0, 48);
	memset(f.rtmr[1], RTMR1(1), 48); /* the second launch */
	memset(f.rtmr[2], RTMR2, 48);
	e.raw = sim_tdx_quote(&f, NULL, &e.raw_len);
	/* the first candidate fails, the second passes; the first alone names RTMR1 */
	claims_against(&e, c, n, CHECK_NONE);
	claims_against(&e, c, 1, CHECK_RTMR);
	claims_against(&e, c + 1, 1, CHECK_NONE);
	/* another MRTD: refused by every candidate, with the message of a full verify */
	c[0].tdx.mrtd[0] ^= 1;
	c[1].tdx.mrtd[0] ^= 1;
	claims_against(&e, c, n, CHECK_MRTD);
	/* evidence that is not genuine (MRTD changed after signing) gives no claims */
	e.raw[TDX_QUOTE_HEADER_SIZE + 136] ^= 1;
	assert_int_equal(kbs_evidence_genuine(&e, snp_testroots, tdx_testroots, &claims, v), -1);
	assert_null(claims);
	assert_false(verdict_ok(v));
	free(e.raw);
	free(c);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_the_builders_shape),
		cmocka_unit_test(test_parse_refuses_unknown_members_at_each_level),
		cmocka_unit_test(test_parse_refuses_duplicate_names),
		cmocka_unit_test(test_parse_refuses_a_register_predicted_and_unpredicted),
		cmocka_unit_test(test_parse_refuses_a_launch_lacking_a_register),
		cmocka_unit_test(test_parse_refuses_bad_hex_and_format),
		cmocka_unit_test(test_signature_good_other_builder_changed_garbage),
		cmocka_unit_test(test_candidates_merge_pins),
		cmocka_unit_test(test_candidates_refuse_pins_of_predicted_registers),
		cmocka_unit_test(test_candidates_refuse_unpinned_unpredicted_registers),
		cmocka_unit_test(test_policy_refuses_the_mrtd_only_shape),
		cmocka_unit_test(test_policy_accepts_a_complete_bare_reference),
		cmocka_unit_test(test_policy_tpm_needs_the_ak),
		cmocka_unit_test(test_policy_image_forms),
		cmocka_unit_test(test_resolve_by_digest_and_by_builder_and_name),
		cmocka_unit_test(test_resolve_ignores_another_builders_image_of_that_name),
		cmocka_unit_test(test_resolve_refuses_missing_and_tampered_images),
		cmocka_unit_test_setup_teardown(test_tdx_quote_against_every_launch,
						setup_verifiers, teardown_verifiers),
		cmocka_unit_test_setup_teardown(test_snp_report_against_every_launch,
						setup_verifiers, teardown_verifiers),
		cmocka_unit_test_setup_teardown(test_claims_verified_once_match_each_candidate,
						setup_verifiers, teardown_verifiers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
