/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reference values (docs/design.md §6). Every member is known: an unknown one is
 * refused, so that a misspelt "mesurement" never turns a check off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measurement/measurement.h"

void reference_defaults(struct reference *ref)
{
	memset(ref, 0, sizeof(*ref));
	ref->snp.allow_smt = true;
	ref->tdx.accepted_tcb = TCB_UP_TO_DATE;
}

static int fail(char *err, size_t errlen, const char *path, const char *why)
{
	return set_error(err, errlen, -EINVAL, "%s: %s", path, why);
}

static bool known(const char *key, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, names[i]) == 0)
			return true;
	return false;
}

static int check_members(const cJSON *o, const char *path, const char *const *names, size_t n,
			 char *err, size_t errlen)
{
	const cJSON *m;
	char p[96];

	if (!cJSON_IsObject(o))
		return fail(err, errlen, path, "must be an object");
	cJSON_ArrayForEach(m, o) {
		if (!known(m->string, names, n)) {
			snprintf(p, sizeof(p), "%s.%s", path, m->string);
			return fail(err, errlen, p, "unknown member");
		}
	}
	return 0;
}

/* Optional hex member of exactly n bytes. */
static int opt_hex(const cJSON *o, const char *key, const char *path, uint8_t *out, size_t n,
		   bool *has, char *err, size_t errlen)
{
	char p[96];
	int r = json_get_hex(o, key, out, n);

	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		char why[64];

		snprintf(p, sizeof(p), "%s.%s", path, key);
		snprintf(why, sizeof(why), "must be a hex string of %zu bytes", n);
		return fail(err, errlen, p, why);
	}
	*has = true;
	return 0;
}

static int opt_bool(const cJSON *o, const char *key, const char *path, bool *out, char *err,
		    size_t errlen)
{
	char p[96];
	int r = json_get_bool(o, key, out);

	if (r == -ENOENT || r == 0)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	return fail(err, errlen, p, "must be true or false");
}

static int opt_u64(const cJSON *o, const char *key, const char *path, uint64_t max, uint64_t *out,
		   bool *has, char *err, size_t errlen)
{
	char p[96];
	int r = json_get_u64(o, key, out);

	if (r == -ENOENT)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (r < 0 || *out > max)
		return fail(err, errlen, p, "must be a non-negative integer in range");
	if (has)
		*has = true;
	return 0;
}

static int parse_min_tcb(const cJSON *o, struct snp_tcb *t, char *err, size_t errlen)
{
	static const char *const names[] = { "fmc", "bootloader", "tee", "snp", "microcode" };
	uint8_t *fields[] = { &t->fmc, &t->bootloader, &t->tee, &t->snp, &t->microcode };
	int r = check_members(o, "snp.min_tcb", names, ARRAY_SIZE(names), err, errlen);

	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(names); i++) {
		uint64_t x = 0;

		r = opt_u64(o, names[i], "snp.min_tcb", 255, &x, NULL, err, errlen);
		*fields[i] = (uint8_t)x;
	}
	return r;
}

/* {"major": 1, "minor": 55}: the guest policy's ABI version at least this. */
static int parse_min_abi(const cJSON *o, struct snp_reference *s, char *err, size_t errlen)
{
	static const char *const names[] = { "major", "minor" };
	uint64_t major = 0, minor = 0;
	int r = check_members(o, "snp.min_abi", names, ARRAY_SIZE(names), err, errlen);

	if (r == 0)
		r = opt_u64(o, "major", "snp.min_abi", 255, &major, NULL, err, errlen);
	if (r == 0)
		r = opt_u64(o, "minor", "snp.min_abi", 255, &minor, NULL, err, errlen);
	s->min_abi_major = (uint8_t)major;
	s->min_abi_minor = (uint8_t)minor;
	s->has_min_abi = r == 0;
	return r;
}

/* ["name", ...] of bits that must be set; an unknown name is an error. */
static int parse_bit_names(const cJSON *o, const char *path, uint64_t (*bit)(const char *),
			   const char *known, uint64_t *out, char *err, size_t errlen)
{
	const cJSON *e;
	char why[192];

	snprintf(why, sizeof(why), "must be an array of names: %s", known);
	if (!cJSON_IsArray(o))
		return fail(err, errlen, path, why);
	cJSON_ArrayForEach(e, o) {
		uint64_t b = bit(cJSON_GetStringValue(e));

		if (!b)
			return fail(err, errlen, path, why);
		*out |= b;
	}
	return 0;
}

static int parse_snp(const cJSON *o, struct snp_reference *s, char *err, size_t errlen)
{
	static const char *const names[] = {
		"measurement",
		"host_data",
		"policy",
		"vmpl",
		"min_tcb",
		"report_data",
		"family_id",
		"image_id",
		"id_key_digest",
		"author_key_digest",
		"product",
		"allow_debug",
		"allow_migration_agent",
		"allow_smt",
		"require_single_socket",
		"min_abi",
		"require_policy",
		"require_platform",
	};
	const cJSON *m;
	uint64_t x;
	int r;

	r = check_members(o, "snp", names, ARRAY_SIZE(names), err, errlen);
	if (r == 0)
		r = opt_hex(o, "measurement", "snp", s->measurement, 48, &s->has_measurement, err,
			    errlen);
	if (r == 0)
		r = opt_hex(o, "host_data", "snp", s->host_data, 32, &s->has_host_data, err,
			    errlen);
	if (r == 0)
		r = opt_hex(o, "report_data", "snp", s->report_data, 64, &s->has_report_data, err,
			    errlen);
	if (r == 0)
		r = opt_hex(o, "family_id", "snp", s->family_id, 16, &s->has_family_id, err,
			    errlen);
	if (r == 0)
		r = opt_hex(o, "image_id", "snp", s->image_id, 16, &s->has_image_id, err, errlen);
	if (r == 0)
		r = opt_hex(o, "id_key_digest", "snp", s->id_key_digest, 48, &s->has_id_key_digest,
			    err, errlen);
	if (r == 0)
		r = opt_hex(o, "author_key_digest", "snp", s->author_key_digest, 48,
			    &s->has_author_key_digest, err, errlen);
	if (r == 0)
		r = opt_u64(o, "policy", "snp", UINT64_MAX, &s->policy, &s->has_policy, err,
			    errlen);
	if (r == 0) {
		x = 0;
		r = opt_u64(o, "vmpl", "snp", 3, &x, &s->has_vmpl, err, errlen);
		s->vmpl = (uint32_t)x;
	}
	if (r == 0)
		r = opt_bool(o, "allow_debug", "snp", &s->allow_debug, err, errlen);
	if (r == 0)
		r = opt_bool(o, "allow_migration_agent", "snp", &s->allow_migration_agent, err,
			     errlen);
	if (r == 0)
		r = opt_bool(o, "allow_smt", "snp", &s->allow_smt, err, errlen);
	if (r == 0)
		r = opt_bool(o, "require_single_socket", "snp", &s->require_single_socket, err,
			     errlen);
	if (r == 0 && (m = cJSON_GetObjectItemCaseSensitive(o, "min_abi")))
		r = parse_min_abi(m, s, err, errlen);
	if (r == 0 && (m = cJSON_GetObjectItemCaseSensitive(o, "require_policy")))
		r = parse_bit_names(m, "snp.require_policy", snp_policy_bit_from_name,
				    "mem_aes_256_xts, rapl_dis, ciphertext_hiding_dram, "
				    "page_swap_disable",
				    &s->require_policy, err, errlen);
	if (r == 0 && (m = cJSON_GetObjectItemCaseSensitive(o, "require_platform")))
		r = parse_bit_names(m, "snp.require_platform", snp_platform_bit_from_name,
				    "smt_en, tsme_en, ecc_en, rapl_dis, ciphertext_hiding_dram_en, "
				    "alias_check_complete, tio_en",
				    &s->require_platform, err, errlen);
	if (r == 0 && (m = cJSON_GetObjectItemCaseSensitive(o, "min_tcb"))) {
		r = parse_min_tcb(m, &s->min_tcb, err, errlen);
		s->has_min_tcb = r == 0;
	}
	if (r == 0 && (m = cJSON_GetObjectItemCaseSensitive(o, "product"))) {
		static const char *const products[] = { "Milan", "Genoa", "Turin" };
		const char *p = cJSON_GetStringValue(m);
		bool ok = false;

		for (size_t i = 0; p && i < ARRAY_SIZE(products); i++) {
			size_t l = strlen(products[i]);

			ok |= strncmp(p, products[i], l) == 0 &&
			      (p[l] == 0 || (p[l] == '-' && strlen(p) < sizeof(s->product)));
		}
		if (!ok)
			return fail(err, errlen, "snp.product",
				    "must be Milan, Genoa or Turin, optionally with a stepping "
				    "(Milan-B0)");
		snprintf(s->product, sizeof(s->product), "%s", p);
	}
	return r;
}

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

/*
 * A TD attributes or XFAM pin: "<key>" is the 8 bytes as the quote holds
 * them (little-endian, as the claims print them), "<key>_mask" the bits
 * compared, in the same form (default: all).
 */
static int opt_pin(const cJSON *o, const char *key, uint64_t *value, uint64_t *mask, bool *has,
		   char *err, size_t errlen)
{
	char mkey[32], p[64];
	uint8_t b[8];
	bool has_mask = false;
	int r;

	snprintf(mkey, sizeof(mkey), "%s_mask", key);
	r = opt_hex(o, key, "tdx", b, 8, has, err, errlen);
	if (r < 0)
		return r;
	if (*has)
		*value = le64(b);
	*mask = UINT64_MAX;
	r = opt_hex(o, mkey, "tdx", b, 8, &has_mask, err, errlen);
	if (r < 0)
		return r;
	if (has_mask && !*has) {
		snprintf(p, sizeof(p), "tdx.%s", mkey);
		return fail(err, errlen, p, "needs the value it masks");
	}
	if (has_mask)
		*mask = le64(b);
	return 0;
}

static int parse_tdx(const cJSON *o, struct tdx_reference *t, char *err, size_t errlen)
{
	static const char *const names[] = {
		"mrtd",
		"rtmr0",
		"rtmr1",
		"rtmr2",
		"rtmr3",
		"mrconfigid",
		"mrowner",
		"mrownerconfig",
		"report_data",
		"allow_debug",
		"accepted_tcb_status",
		"allow_sept_ve",
		"td_attributes",
		"td_attributes_mask",
		"xfam",
		"xfam_mask",
	};
	const cJSON *m, *e;
	int r;

	r = check_members(o, "tdx", names, ARRAY_SIZE(names), err, errlen);
	if (r == 0)
		r = opt_hex(o, "mrtd", "tdx", t->mrtd, 48, &t->has_mrtd, err, errlen);
	for (int i = 0; r == 0 && i < 4; i++) {
		char key[16];

		snprintf(key, sizeof(key), "rtmr%d", i);
		r = opt_hex(o, key, "tdx", t->rtmr[i], 48, &t->has_rtmr[i], err, errlen);
	}
	if (r == 0)
		r = opt_hex(o, "mrconfigid", "tdx", t->mrconfigid, 48, &t->has_mrconfigid, err,
			    errlen);
	if (r == 0)
		r = opt_hex(o, "mrowner", "tdx", t->mrowner, 48, &t->has_mrowner, err, errlen);
	if (r == 0)
		r = opt_hex(o, "mrownerconfig", "tdx", t->mrownerconfig, 48, &t->has_mrownerconfig,
			    err, errlen);
	if (r == 0)
		r = opt_hex(o, "report_data", "tdx", t->report_data, 64, &t->has_report_data, err,
			    errlen);
	if (r == 0)
		r = opt_bool(o, "allow_debug", "tdx", &t->allow_debug, err, errlen);
	if (r == 0)
		r = opt_bool(o, "allow_sept_ve", "tdx", &t->allow_sept_ve, err, errlen);
	if (r == 0)
		r = opt_pin(o, "td_attributes", &t->td_attributes, &t->td_attributes_mask,
			    &t->has_td_attributes, err, errlen);
	if (r == 0)
		r = opt_pin(o, "xfam", &t->xfam, &t->xfam_mask, &t->has_xfam, err, errlen);
	if (r == 0 && t->has_td_attributes) {
		uint64_t set = t->td_attributes & t->td_attributes_mask;

		/* A pin never turns a default off: that takes the named member. */
		if ((set & TDX_ATTR_DEBUG) && !t->allow_debug)
			return fail(err, errlen, "tdx.td_attributes",
				    "pins DEBUG (bit 0) set; that needs tdx.allow_debug");
		if ((t->td_attributes_mask & TDX_ATTR_SEPT_VE_DISABLE) &&
		    !(set & TDX_ATTR_SEPT_VE_DISABLE) && !t->allow_sept_ve)
			return fail(err, errlen, "tdx.td_attributes",
				    "pins SEPT_VE_DISABLE (bit 28) clear; that needs "
				    "tdx.allow_sept_ve");
	}
	if (r == 0 && (m = cJSON_GetObjectItemCaseSensitive(o, "accepted_tcb_status"))) {
		if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0)
			return fail(err, errlen, "tdx.accepted_tcb_status",
				    "must be a non-empty array of TCB status names");
		t->accepted_tcb = 0;
		cJSON_ArrayForEach(e, m) {
			unsigned bit = tdx_tcb_status_from_name(cJSON_GetStringValue(e));

			if (!bit)
				return fail(
					err, errlen, "tdx.accepted_tcb_status",
					"unknown TCB status (UpToDate, SWHardeningNeeded, "
					"ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, "
					"OutOfDate, OutOfDateConfigurationNeeded, Revoked)");
			t->accepted_tcb |= bit;
		}
	}
	return r;
}

/* {"pcrs": {"sha256": {"0".."23": hex}}, "ak_sha256": hex} */
static int parse_tpm(const cJSON *o, struct tpm_reference *t, char *err, size_t errlen)
{
	static const char *const names[] = { "pcrs", "ak_sha256" };
	static const char *const banks[] = { "sha256" };
	const cJSON *pcrs, *bank, *e;
	int r = check_members(o, "tpm", names, ARRAY_SIZE(names), err, errlen);

	if (r == 0)
		r = opt_hex(o, "ak_sha256", "tpm", t->ak_sha256, 32, &t->has_ak_sha256, err,
			    errlen);
	if (r < 0 || !(pcrs = cJSON_GetObjectItemCaseSensitive(o, "pcrs")))
		return r;
	r = check_members(pcrs, "tpm.pcrs", banks, ARRAY_SIZE(banks), err, errlen);
	if (r < 0 || !(bank = cJSON_GetObjectItemCaseSensitive(pcrs, "sha256")))
		return r;
	if (!cJSON_IsObject(bank))
		return fail(err, errlen, "tpm.pcrs.sha256", "must be an object");
	cJSON_ArrayForEach(e, bank) {
		char *end;
		long i = strtol(e->string, &end, 10);
		char p[64];

		snprintf(p, sizeof(p), "tpm.pcrs.sha256.%.16s", e->string);
		if (!*e->string || *end || i < 0 || i >= TPM_PCRS ||
		    (e->string[0] == '0' && e->string[1]))
			return fail(err, errlen, p, "not a PCR index 0-23");
		if (!cJSON_IsString(e) || hex_decode_exact(e->valuestring, t->pcr[i], 32) < 0)
			return fail(err, errlen, p, "must be 32 bytes of hex");
		t->has_pcr[i] = true;
	}
	return 0;
}

int reference_parse(const char *text, size_t len, struct reference *ref, char *err, size_t errlen)
{
	static const char *const names[] = { "snp", "tdx", "tpm", "luks_header_sha256" };
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	const cJSON *m;
	int r;

	reference_defaults(ref);
	if (json_parse(text, len, &root) < 0)
		return fail(err, errlen, "reference", "not valid JSON");
	r = check_members(root, "reference", names, ARRAY_SIZE(names), err, errlen);
	if (r < 0)
		return r;
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "snp"))) {
		r = parse_snp(m, &ref->snp, err, errlen);
		if (r < 0)
			return r;
		ref->has_snp = true;
	}
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "tdx"))) {
		r = parse_tdx(m, &ref->tdx, err, errlen);
		if (r < 0)
			return r;
		ref->has_tdx = true;
	}
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "tpm"))) {
		r = parse_tpm(m, &ref->tpm, err, errlen);
		if (r < 0)
			return r;
		ref->has_tpm = true;
	}
	return opt_hex(root, "luks_header_sha256", "reference", ref->luks_header_sha256, 32,
		       &ref->has_luks_header_sha256, err, errlen);
}
