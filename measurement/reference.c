/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reference values (docs/design.md §6). Every member is known: an unknown one is
 * refused, so that a misspelt "mesurement" never turns a check off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json_schema.h"
#include "measurement/measurement.h"

void reference_defaults(struct reference *ref)
{
	memset(ref, 0, sizeof(*ref));
	ref->snp.allow_smt = true;
	ref->tdx.accepted_tcb = TCB_UP_TO_DATE;
}

/*
 * Integers here may be written as "0x..." strings too (docs/verify.md):
 * the SNP policy is a 64-bit field, beyond what a JSON number carries.
 */
static const struct json_words words = {
	.not_object = "{path}: must be an object",
	.not_bool = "{path}: must be true or false",
	.not_int = "{path}: must be a non-negative integer in range",
	.range = "{path}: must be a non-negative integer in range",
	.not_hex = "{path}: must be a hex string of {bytes} bytes",
	.not_name = "{path}: must be an array of names: {list}",
};

static const struct json_doc doc = {
	.code = "",
	.root = "reference",
	.error = -EINVAL,
	.words = &words,
};

#define HEX(T, f) .type = JSON_HEX, .flags = JSON_HAS, JSON_FIELD(T, f), JSON_HAS_FIELD(T, has_##f)
#define BOOL(T, f) .type = JSON_BOOL, JSON_FIELD(T, f)
#define U8(T, f) .type = JSON_INT_OR_HEX, JSON_FIELD(T, f), .max = 255

/* ---- snp ---- */

static const struct json_member snp_tcb_members[] = {
	{ "fmc", U8(struct snp_tcb, fmc) },
	{ "bootloader", U8(struct snp_tcb, bootloader) },
	{ "tee", U8(struct snp_tcb, tee) },
	{ "snp", U8(struct snp_tcb, snp) },
	{ "microcode", U8(struct snp_tcb, microcode) },
};
static const struct json_schema snp_tcb_schema = JSON_SCHEMA(snp_tcb_members);

/* {"major": 1, "minor": 55}: the guest policy's ABI version at least this. */
static const struct json_member snp_abi_members[] = {
	{ "major", U8(struct snp_reference, min_abi_major) },
	{ "minor", U8(struct snp_reference, min_abi_minor) },
};
static const struct json_schema snp_abi_schema = JSON_SCHEMA(snp_abi_members);

/* "Milan", "Genoa" or "Turin", optionally with a stepping: "Milan-B0". */
static int read_product(struct json_reader *rd, const cJSON *v, void *field)
{
	static const char *const products[] = { "Milan", "Genoa", "Turin" };
	const char *p = cJSON_GetStringValue(v);
	char *out = field;

	for (size_t i = 0; p && i < ARRAY_SIZE(products); i++) {
		size_t l = strlen(products[i]);

		if (strncmp(p, products[i], l) == 0 &&
		    (p[l] == 0 ||
		     (p[l] == '-' && strlen(p) < sizeof(((struct snp_reference *)0)->product)))) {
			memcpy(out, p, strlen(p) + 1);
			return 0;
		}
	}
	return json_reader_fail(rd, "",
				"must be Milan, Genoa or Turin, optionally with a stepping "
				"(Milan-B0)");
}

#define SNP struct snp_reference
static const struct json_member snp_members[] = {
	{ "measurement", HEX(SNP, measurement) },
	{ "host_data", HEX(SNP, host_data) },
	{ "report_data", HEX(SNP, report_data) },
	{ "family_id", HEX(SNP, family_id) },
	{ "image_id", HEX(SNP, image_id) },
	{ "id_key_digest", HEX(SNP, id_key_digest) },
	{ "author_key_digest", HEX(SNP, author_key_digest) },
	{ "policy", .type = JSON_INT_OR_HEX, .flags = JSON_HAS, JSON_FIELD(SNP, policy),
	  JSON_HAS_FIELD(SNP, has_policy), .max = UINT64_MAX },
	{ "vmpl", .type = JSON_INT_OR_HEX, .flags = JSON_HAS, JSON_FIELD(SNP, vmpl),
	  JSON_HAS_FIELD(SNP, has_vmpl), .max = 3 },
	{ "allow_debug", BOOL(SNP, allow_debug) },
	{ "allow_migration_agent", BOOL(SNP, allow_migration_agent) },
	{ "allow_smt", BOOL(SNP, allow_smt) },
	{ "require_single_socket", BOOL(SNP, require_single_socket) },
	{ "min_abi", .type = JSON_OBJECT, .flags = JSON_HAS, .off = 0, .object = &snp_abi_schema,
	  JSON_HAS_FIELD(SNP, has_min_abi) },
	{ "require_policy", .type = JSON_BITS, JSON_FIELD(SNP, require_policy),
	  .bit = snp_policy_bit_from_name,
	  .list = "mem_aes_256_xts, rapl_dis, ciphertext_hiding_dram, page_swap_disable" },
	{ "require_platform", .type = JSON_BITS, JSON_FIELD(SNP, require_platform),
	  .bit = snp_platform_bit_from_name,
	  .list = "smt_en, tsme_en, ecc_en, rapl_dis, ciphertext_hiding_dram_en, "
		  "alias_check_complete, tio_en" },
	{ "min_tcb", .type = JSON_OBJECT, .flags = JSON_HAS, JSON_FIELD(SNP, min_tcb),
	  .object = &snp_tcb_schema, JSON_HAS_FIELD(SNP, has_min_tcb) },
	{ "product", .type = JSON_CUSTOM, JSON_FIELD(SNP, product), .read = read_product },
};
#undef SNP
static const struct json_schema snp_schema = JSON_SCHEMA(snp_members);

/* ---- tdx ---- */

static const struct {
	const char *name;
	unsigned bit;
} tcb_statuses[] = {
	{ "UpToDate", TCB_UP_TO_DATE },
	{ "SWHardeningNeeded", TCB_SW_HARDENING_NEEDED },
	{ "ConfigurationNeeded", TCB_CONFIGURATION_NEEDED },
	{ "ConfigurationAndSWHardeningNeeded", TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED },
	{ "OutOfDate", TCB_OUT_OF_DATE },
	{ "OutOfDateConfigurationNeeded", TCB_OUT_OF_DATE_CONFIGURATION_NEEDED },
	{ "Revoked", TCB_REVOKED },
};

unsigned tdx_tcb_status_from_name(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(tcb_statuses); i++)
		if (strcmp(name, tcb_statuses[i].name) == 0)
			return tcb_statuses[i].bit;
	return 0;
}

static uint64_t tcb_status_bit(const char *name)
{
	return tdx_tcb_status_from_name(name);
}

/*
 * A TD attributes or XFAM pin: "<key>" is the 8 bytes as the quote holds
 * them (little-endian, as the claims print them), "<key>_mask" the bits
 * compared, in the same form (default: all).
 */
static int read_pin(struct json_reader *rd, const cJSON *v, void *field)
{
	uint8_t b[8];

	if (!cJSON_IsString(v) || hex_decode_exact(v->valuestring, b, sizeof(b)) < 0)
		return json_reader_fail(rd, "", "must be a hex string of 8 bytes");
	*(uint64_t *)field = le64(b);
	return 0;
}

#define TDX struct tdx_reference
#define PIN(f) .type = JSON_CUSTOM, JSON_FIELD(TDX, f), .read = read_pin
static const struct json_member tdx_members[] = {
	{ "mrtd", HEX(TDX, mrtd) },
	{ "rtmr0", .type = JSON_HEX, .flags = JSON_HAS, JSON_FIELD(TDX, rtmr[0]),
	  JSON_HAS_FIELD(TDX, has_rtmr[0]) },
	{ "rtmr1", .type = JSON_HEX, .flags = JSON_HAS, JSON_FIELD(TDX, rtmr[1]),
	  JSON_HAS_FIELD(TDX, has_rtmr[1]) },
	{ "rtmr2", .type = JSON_HEX, .flags = JSON_HAS, JSON_FIELD(TDX, rtmr[2]),
	  JSON_HAS_FIELD(TDX, has_rtmr[2]) },
	{ "rtmr3", .type = JSON_HEX, .flags = JSON_HAS, JSON_FIELD(TDX, rtmr[3]),
	  JSON_HAS_FIELD(TDX, has_rtmr[3]) },
	{ "mrconfigid", HEX(TDX, mrconfigid) },
	{ "mrowner", HEX(TDX, mrowner) },
	{ "mrownerconfig", HEX(TDX, mrownerconfig) },
	{ "report_data", HEX(TDX, report_data) },
	{ "allow_debug", BOOL(TDX, allow_debug) },
	{ "allow_sept_ve", BOOL(TDX, allow_sept_ve) },
	{ "td_attributes", PIN(td_attributes), .flags = JSON_HAS,
	  JSON_HAS_FIELD(TDX, has_td_attributes) },
	{ "td_attributes_mask", PIN(td_attributes_mask) },
	{ "xfam", PIN(xfam), .flags = JSON_HAS, JSON_HAS_FIELD(TDX, has_xfam) },
	{ "xfam_mask", PIN(xfam_mask) },
	{ "accepted_tcb_status", .type = JSON_BITS, .flags = JSON_NONEMPTY,
	  JSON_FIELD(TDX, accepted_tcb), .bit = tcb_status_bit,
	  .list = "UpToDate, SWHardeningNeeded, ConfigurationNeeded, "
		  "ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, "
		  "Revoked" },
};
#undef PIN
static const struct json_schema tdx_schema = JSON_SCHEMA(tdx_members);

/* A mask without its value, and pins that would turn a default off, are refused. */
static int read_tdx(struct json_reader *rd, const cJSON *v, void *field)
{
	static const char *const pins[] = { "td_attributes", "xfam" };
	TDX *t = field;
	uint64_t set;
	int r;

	t->td_attributes_mask = t->xfam_mask = UINT64_MAX;
	if ((r = json_reader_object(rd, NULL, v, &tdx_schema, t)) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(pins); i++) {
		char mask[32];

		snprintf(mask, sizeof(mask), "%s_mask", pins[i]);
		if (cJSON_GetObjectItemCaseSensitive(v, mask) &&
		    !cJSON_GetObjectItemCaseSensitive(v, pins[i]))
			return json_reader_fail(rd, i ? ".xfam_mask" : ".td_attributes_mask",
						"needs the value it masks");
	}
	if (!t->has_td_attributes)
		return 0;
	set = t->td_attributes & t->td_attributes_mask;
	/* A pin never turns a default off: that takes the named member. */
	if ((set & TDX_ATTR_DEBUG) && !t->allow_debug)
		return json_reader_fail(rd, ".td_attributes",
					"pins DEBUG (bit 0) set; that needs tdx.allow_debug");
	if ((t->td_attributes_mask & TDX_ATTR_SEPT_VE_DISABLE) &&
	    !(set & TDX_ATTR_SEPT_VE_DISABLE) && !t->allow_sept_ve)
		return json_reader_fail(rd, ".td_attributes",
					"pins SEPT_VE_DISABLE (bit 28) clear; that needs "
					"tdx.allow_sept_ve");
	return 0;
}
#undef TDX

/* ---- tpm: {"pcrs": {"sha256": {"0".."23": hex}}, "ak_sha256": hex} ---- */

static int read_pcr_bank(struct json_reader *rd, const cJSON *v, void *field)
{
	struct tpm_reference *t = field;
	const cJSON *e;

	if (!cJSON_IsObject(v))
		return json_reader_fail(rd, "", "must be an object");
	cJSON_ArrayForEach(e, v) {
		char *end, sub[48];
		long i = strtol(e->string, &end, 10);

		snprintf(sub, sizeof(sub), ".%s", json_shown_name(e->string));
		if (!*e->string || *end || i < 0 || i >= TPM_PCRS ||
		    (e->string[0] == '0' && e->string[1]))
			return json_reader_fail(rd, sub, "not a PCR index 0-23");
		if (!cJSON_IsString(e) || hex_decode_exact(e->valuestring, t->pcr[i], 32) < 0)
			return json_reader_fail(rd, sub, "must be 32 bytes of hex");
		t->has_pcr[i] = true;
	}
	return 0;
}

static const struct json_member tpm_bank_members[] = {
	{ "sha256", .type = JSON_CUSTOM, .read = read_pcr_bank },
};
static const struct json_schema tpm_bank_schema = JSON_SCHEMA(tpm_bank_members);

static const struct json_member tpm_members[] = {
	{ "pcrs", .type = JSON_OBJECT, .object = &tpm_bank_schema },
	{ "ak_sha256", HEX(struct tpm_reference, ak_sha256) },
};
static const struct json_schema tpm_schema = JSON_SCHEMA(tpm_members);

/* ---- the document ---- */

#define REF struct reference
static const struct json_member reference_members[] = {
	{ "snp", .type = JSON_OBJECT, .flags = JSON_HAS, JSON_FIELD(REF, snp),
	  .object = &snp_schema, JSON_HAS_FIELD(REF, has_snp) },
	{ "tdx", .type = JSON_CUSTOM, .flags = JSON_HAS, JSON_FIELD(REF, tdx), .read = read_tdx,
	  JSON_HAS_FIELD(REF, has_tdx) },
	{ "tpm", .type = JSON_OBJECT, .flags = JSON_HAS, JSON_FIELD(REF, tpm),
	  .object = &tpm_schema, JSON_HAS_FIELD(REF, has_tpm) },
	{ "luks_header_sha256", HEX(REF, luks_header_sha256) },
};
#undef REF
static const struct json_schema reference_schema = JSON_SCHEMA(reference_members);

int reference_read(const cJSON *v, struct reference *ref, char *err, size_t errlen)
{
	reference_defaults(ref);
	return json_schema_read(v, &reference_schema, ref, &doc, err, errlen);
}

int reference_parse(const char *text, size_t len, struct reference *ref, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;

	reference_defaults(ref);
	if (json_parse(text, len, &root) < 0)
		return set_error(err, errlen, -EINVAL, "reference: not valid JSON");
	return reference_read(root, ref, err, errlen);
}
