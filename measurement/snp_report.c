/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP ATTESTATION_REPORT, SEV Secure Nested Paging Firmware ABI
 * Specification (AMD 56860), Table 23 "ATTESTATION_REPORT Structure".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "measurement/measurement.h"

_Static_assert(SNP_REPORT_SIZE == 0x4A0, "SNP report size (56860 Table 23)");

/* 56860 Table 140 "Signature Algorithm Encodings": 1 = ECDSA P-384 with SHA-384. */
#define SNP_SIG_ALGO_ECDSA_P384_SHA384 1
/* The r and s components are 72 bytes each, little-endian; P-384 fills 48. */
#define SNP_SIG_COMPONENT 72
#define P384_BYTES 48

const char *snp_product_name(enum snp_product p)
{
	switch (p) {
	case SNP_PRODUCT_MILAN:
		return "Milan";
	case SNP_PRODUCT_GENOA:
		return "Genoa";
	case SNP_PRODUCT_TURIN:
		return "Turin";
	default:
		return "unknown";
	}
}

/*
 * Product from the CPUID family and model the report carries (version 3
 * and later). AMD KDS specification, "Determining the Product Name":
 * family 19h model 0xh Milan, 1xh and Axh Genoa; family 1Ah Turin.
 */
static enum snp_product product_from_cpuid(uint8_t fam, uint8_t mod)
{
	if (fam == 0x19 && mod <= 0x0f)
		return SNP_PRODUCT_MILAN;
	if (fam == 0x19 && ((mod >= 0x10 && mod <= 0x1f) || (mod >= 0xa0 && mod <= 0xaf)))
		return SNP_PRODUCT_GENOA;
	if (fam == 0x1a && mod <= 0x1f)
		return SNP_PRODUCT_TURIN;
	return SNP_PRODUCT_UNKNOWN;
}

/*
 * TCB_VERSION (56860 Table 3): Milan and Genoa put the boot loader SPL in
 * byte 0, TEE in 1, SNP in 6 and microcode in 7. Turin (Table 4) puts FMC
 * in byte 0, boot loader in 1, TEE in 2, SNP in 3 and microcode in 7.
 */
struct snp_tcb snp_tcb_decode(uint64_t tcb, enum snp_product p)
{
	struct snp_tcb t = { 0 };
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(tcb >> (8 * i));
	if (p == SNP_PRODUCT_TURIN) {
		t.fmc = b[0];
		t.bootloader = b[1];
		t.tee = b[2];
		t.snp = b[3];
	} else {
		t.bootloader = b[0];
		t.tee = b[1];
		t.snp = b[6];
	}
	t.microcode = b[7];
	return t;
}

/*
 * Default minimum TCBs, a careful verifier's floor: the SPLs that fix
 * AMD-SB-3019 (CVE-2024-56161, 3 February 2025: the microcode signature flaw
 * that lets a host load its own microcode under an SNP guest), the newest AMD
 * bulletin whose fixed SPLs could be confirmed for each product.
 * - Milan: boot loader 4, TEE 0, SNP 24, microcode 219, as Google Cloud's
 *   bulletin GCP-2025-007 quotes AMD-SB-3019's minimum.
 * - Genoa: SNP 23 (0x17), AMD-SB-3019 as microsoft/CCF issue 6812 quotes it.
 * - The microcode SPL is the low byte of the fixed microcode patch level, and
 *   each silicon line has its own patch sequence (linux-firmware amd-ucode):
 *   Milan 0x0A0011DB -> 219, Milan-X (stepping 2) 0x0A001244 -> 68, Genoa
 *   0x0A101154 -> 84, Genoa-X (stepping 2) 0x0A10124F -> 79, Bergamo and
 *   Siena (models A0h-AFh) 0x0AA00219 -> 25.
 * The real reports of tests/data/snp/milan (firmware 1.55.29),
 * tests/data/snp/genoa (1.55.40) and tests/data/kbs (Bergamo/Siena) carry
 * exactly these values.
 * A report before version 3 has no CPUID: the product's strictest line then
 * applies (such firmware is older than the SNP floors anyway). Turin has no
 * row: no bulletin with Turin SPLs was found; a reference gives min_tcb.
 */
static const struct {
	enum snp_product product;
	uint8_t model_lo, model_hi, stepping; /* stepping 0xff: any */
	const char *source;
	struct snp_tcb min;
} tcb_floors[] = {
	{ SNP_PRODUCT_MILAN, 0x00, 0x0f, 2, "AMD-SB-3019 Milan-X", { 0, 4, 0, 24, 68 } },
	{ SNP_PRODUCT_MILAN, 0x00, 0xff, 0xff, "AMD-SB-3019 Milan", { 0, 4, 0, 24, 219 } },
	{ SNP_PRODUCT_GENOA, 0xa0, 0xaf, 0xff, "AMD-SB-3019 Bergamo/Siena", { 0, 0, 0, 23, 25 } },
	{ SNP_PRODUCT_GENOA, 0x10, 0x1f, 2, "AMD-SB-3019 Genoa-X", { 0, 0, 0, 23, 79 } },
	{ SNP_PRODUCT_GENOA, 0x00, 0xff, 0xff, "AMD-SB-3019 Genoa", { 0, 0, 0, 23, 84 } },
};

bool snp_default_min_tcb(const struct snp_report *r, struct snp_tcb *min, const char **source)
{
	for (size_t i = 0; i < ARRAY_SIZE(tcb_floors); i++) {
		bool any = tcb_floors[i].model_lo == 0 && tcb_floors[i].model_hi == 0xff &&
			   tcb_floors[i].stepping == 0xff;

		if (tcb_floors[i].product != r->product)
			continue;
		if (r->version < 3 && !any)
			continue;
		if (r->version >= 3 &&
		    (r->cpuid_mod_id < tcb_floors[i].model_lo ||
		     r->cpuid_mod_id > tcb_floors[i].model_hi ||
		     (tcb_floors[i].stepping != 0xff && r->cpuid_step != tcb_floors[i].stepping)))
			continue;
		*min = tcb_floors[i].min;
		*source = tcb_floors[i].source;
		return true;
	}
	return false;
}

/* Names as --json prints them and references require them. */
static const struct snp_bit {
	uint64_t bit;
	const char *name;
} policy_bits[] = {
	{ SNP_POLICY_SINGLE_SOCKET, "single_socket" },
	{ SNP_POLICY_CXL_ALLOW, "cxl_allow" },
	{ SNP_POLICY_MEM_AES_256_XTS, "mem_aes_256_xts" },
	{ SNP_POLICY_RAPL_DIS, "rapl_dis" },
	{ SNP_POLICY_CIPHERTEXT_HIDING_DRAM, "ciphertext_hiding_dram" },
	{ SNP_POLICY_PAGE_SWAP_DISABLE, "page_swap_disable" },
},
  platform_bits[] = {
	  { SNP_PLATFORM_SMT_EN, "smt_en" },
	  { SNP_PLATFORM_TSME_EN, "tsme_en" },
	  { SNP_PLATFORM_ECC_EN, "ecc_en" },
	  { SNP_PLATFORM_RAPL_DIS, "rapl_dis" },
	  { SNP_PLATFORM_CIPHERTEXT_HIDING_DRAM_EN, "ciphertext_hiding_dram_en" },
	  { SNP_PLATFORM_ALIAS_CHECK_COMPLETE, "alias_check_complete" },
	  { SNP_PLATFORM_TIO_EN, "tio_en" },
  };

static uint64_t bit_from_name(const struct snp_bit *t, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(name, t[i].name) == 0)
			return t[i].bit;
	return 0;
}

uint64_t snp_policy_bit_from_name(const char *name)
{
	/* CXL_ALLOW allows rather than requires: not a feature to require. */
	uint64_t b = bit_from_name(policy_bits, ARRAY_SIZE(policy_bits), name);

	return b == SNP_POLICY_CXL_ALLOW ? 0 : b;
}

uint64_t snp_platform_bit_from_name(const char *name)
{
	return bit_from_name(platform_bits, ARRAY_SIZE(platform_bits), name);
}

const char *snp_policy_bit_name(size_t i, uint64_t *bit)
{
	if (i >= ARRAY_SIZE(policy_bits))
		return NULL;
	*bit = policy_bits[i].bit;
	return policy_bits[i].name;
}

const char *snp_platform_bit_name(size_t i, uint64_t *bit)
{
	if (i >= ARRAY_SIZE(platform_bits))
		return NULL;
	*bit = platform_bits[i].bit;
	return platform_bits[i].name;
}

static bool reserved_zero(const uint8_t *buf, size_t from, size_t to)
{
	return is_zero(buf + from, to - from);
}

/* The fields of a 0x4A0-byte report, by the layout of 56860 Table 23. */
static void report_fields(const uint8_t *buf, struct snp_report *r)
{
	struct span s = span_make(buf, SNP_REPORT_SIZE);

	span_u32le(&s, &r->version);
	span_u32le(&s, &r->guest_svn);
	span_u64le(&s, &r->policy);
	span_copy(&s, r->family_id, 16);
	span_copy(&s, r->image_id, 16);
	span_u32le(&s, &r->vmpl);
	span_u32le(&s, &r->signature_algo);
	span_u64le(&s, &r->current_tcb);
	span_u64le(&s, &r->platform_info);
	span_u32le(&s, &r->flags);
	span_skip(&s, 4);
	span_copy(&s, r->report_data, 64);
	span_copy(&s, r->measurement, 48);
	span_copy(&s, r->host_data, 32);
	span_copy(&s, r->id_key_digest, 48);
	span_copy(&s, r->author_key_digest, 48);
	span_copy(&s, r->report_id, 32);
	span_copy(&s, r->report_id_ma, 32);
	span_u64le(&s, &r->reported_tcb);
	span_u8(&s, &r->cpuid_fam_id);
	span_u8(&s, &r->cpuid_mod_id);
	span_u8(&s, &r->cpuid_step);
	span_skip(&s, 0x1A0 - 0x18B);
	span_copy(&s, r->chip_id, 64);
	span_u64le(&s, &r->committed_tcb);
	span_u8(&s, &r->current_build);
	span_u8(&s, &r->current_minor);
	span_u8(&s, &r->current_major);
	span_skip(&s, 1);
	span_u8(&s, &r->committed_build);
	span_u8(&s, &r->committed_minor);
	span_u8(&s, &r->committed_major);
	span_skip(&s, 1);
	span_u64le(&s, &r->launch_tcb);
	span_u64le(&s, &r->launch_mit_vector);
	span_u64le(&s, &r->current_mit_vector);
	span_skip(&s, SNP_REPORT_SIGNED_SIZE - 0x208);
	/* The length was checked above: every getter had its bytes. */
	span_copy(&s, r->sig_r, SNP_SIG_COMPONENT);
	span_copy(&s, r->sig_s, SNP_SIG_COMPONENT);
}

/* What the layout leaves no room for: versions, reserved bytes, VMPL, policy, signature padding. */
static int report_form(const uint8_t *buf, struct snp_report *r, struct verdict *v)
{
	if (r->version < 2 || r->version > 5)
		return verdict_fail(v, CHECK_FORMAT, "report version %u is not supported (2 to 5)",
				    r->version);
	if (r->version < 3) {
		/* Before version 3 these bytes were reserved. */
		r->cpuid_fam_id = r->cpuid_mod_id = r->cpuid_step = 0;
		if (!reserved_zero(buf, 0x188, 0x18B))
			return verdict_fail(v, CHECK_FORMAT, "reserved bytes 0x188-0x18A not zero");
	} else {
		r->product = product_from_cpuid(r->cpuid_fam_id, r->cpuid_mod_id);
	}
	if (r->version < 5) {
		r->launch_mit_vector = r->current_mit_vector = 0;
		if (!reserved_zero(buf, 0x1F8, 0x208))
			return verdict_fail(v, CHECK_FORMAT, "reserved bytes 0x1F8-0x207 not zero");
	}
	if (!reserved_zero(buf, 0x04C, 0x050) || !reserved_zero(buf, 0x18B, 0x1A0) ||
	    !reserved_zero(buf, 0x1EB, 0x1EC) || !reserved_zero(buf, 0x1EF, 0x1F0) ||
	    !reserved_zero(buf, 0x208, SNP_REPORT_SIGNED_SIZE))
		return verdict_fail(v, CHECK_FORMAT,
				    "reserved bytes in the signed region not zero");
	if (r->vmpl > 3)
		return verdict_fail(v, CHECK_FORMAT, "VMPL %u out of range 0-3", r->vmpl);
	/* Firmware launches no guest whose policy has bit 17 clear or a reserved bit set. */
	if (!(r->policy & SNP_POLICY_MBO) || (r->policy & SNP_POLICY_RESERVED))
		return verdict_fail(
			v, CHECK_FORMAT,
			"policy 0x%llx: reserved bit 17 clear or reserved bits 63:26 set",
			(unsigned long long)r->policy);
	/*
	 * Outside the signed region nothing may vary: the unused high bytes of r
	 * and s and the reserved tail must be zero, or the same signature would
	 * have many encodings.
	 */
	if (!is_zero(r->sig_r + P384_BYTES, SNP_SIG_COMPONENT - P384_BYTES) ||
	    !is_zero(r->sig_s + P384_BYTES, SNP_SIG_COMPONENT - P384_BYTES) ||
	    !reserved_zero(buf, SNP_REPORT_SIGNED_SIZE + 2 * SNP_SIG_COMPONENT, SNP_REPORT_SIZE))
		return verdict_fail(v, CHECK_FORMAT,
				    "non-zero bytes in the signature's unused area");
	return 0;
}

int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *r, struct verdict *v)
{
	memset(r, 0, sizeof(*r));
	if (len != SNP_REPORT_SIZE)
		return verdict_fail(v, CHECK_FORMAT, "report is %zu bytes, expected %u", len,
				    SNP_REPORT_SIZE);
	r->raw = buf;
	report_fields(buf, r);
	if (report_form(buf, r, v) < 0)
		return -1;
	verdict_pass(v, CHECK_FORMAT, "SNP attestation report version %u", r->version);

	if (r->signature_algo != SNP_SIG_ALGO_ECDSA_P384_SHA384)
		return verdict_fail(v, CHECK_SIG_ALGO,
				    "signature algorithm %u is not ECDSA P-384 with SHA-384 (1)",
				    r->signature_algo);
	verdict_pass(v, CHECK_SIG_ALGO, "ECDSA P-384 with SHA-384");
	return 0;
}

static void add_u64_hex(cJSON *o, const char *key, uint64_t x)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)x);
	cJSON_AddStringToObject(o, key, buf);
}

static void add_tcb(cJSON *o, const char *key, uint64_t raw, enum snp_product p)
{
	struct snp_tcb t = snp_tcb_decode(raw, p);
	cJSON *j = cJSON_AddObjectToObject(o, key);

	if (!j)
		return;
	add_u64_hex(j, "raw", raw);
	if (p == SNP_PRODUCT_TURIN)
		cJSON_AddNumberToObject(j, "fmc", t.fmc);
	cJSON_AddNumberToObject(j, "bootloader", t.bootloader);
	cJSON_AddNumberToObject(j, "tee", t.tee);
	cJSON_AddNumberToObject(j, "snp", t.snp);
	cJSON_AddNumberToObject(j, "microcode", t.microcode);
}

static void add_version(cJSON *o, const char *key, uint8_t major, uint8_t minor, uint8_t build)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u.%u.%u", major, minor, build);
	cJSON_AddStringToObject(o, key, buf);
}

/* Policy bits (SNP_POLICY_*), as the reference names them. */
static void add_policy(cJSON *o, uint64_t pol)
{
	cJSON *j = cJSON_AddObjectToObject(o, "policy_bits");

	if (!j)
		return;
	cJSON_AddNumberToObject(j, "abi_minor", (double)(pol & 0xff));
	cJSON_AddNumberToObject(j, "abi_major", (double)((pol >> 8) & 0xff));
	cJSON_AddBoolToObject(j, "smt", pol & SNP_POLICY_SMT);
	cJSON_AddBoolToObject(j, "migrate_ma", pol & SNP_POLICY_MIGRATE_MA);
	cJSON_AddBoolToObject(j, "debug", pol & SNP_POLICY_DEBUG);
	for (size_t i = 0; i < ARRAY_SIZE(policy_bits); i++)
		cJSON_AddBoolToObject(j, policy_bits[i].name, pol & policy_bits[i].bit);
}

/* PLATFORM_INFO flags; bits this table does not name are kept in "other". */
static void add_platform_info(cJSON *o, uint64_t info)
{
	cJSON *j = cJSON_AddObjectToObject(o, "platform_info_bits");
	uint64_t known = 0;

	if (!j)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(platform_bits); i++) {
		cJSON_AddBoolToObject(j, platform_bits[i].name, info & platform_bits[i].bit);
		known |= platform_bits[i].bit;
	}
	add_u64_hex(j, "other", info & ~known);
}

cJSON *snp_report_claims(const struct snp_report *r)
{
	cJSON *o = cJSON_CreateObject();
	enum snp_product p = r->product;
	const char *signing[] = { "vcek", "vlek" };
	unsigned sk = (r->flags >> 2) & 7;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "version", r->version);
	cJSON_AddNumberToObject(o, "guest_svn", r->guest_svn);
	add_u64_hex(o, "policy", r->policy);
	add_policy(o, r->policy);
	json_add_hex(o, "family_id", r->family_id, 16);
	json_add_hex(o, "image_id", r->image_id, 16);
	cJSON_AddNumberToObject(o, "vmpl", r->vmpl);
	cJSON_AddNumberToObject(o, "signature_algo", r->signature_algo);
	add_tcb(o, "current_tcb", r->current_tcb, p);
	add_u64_hex(o, "platform_info", r->platform_info);
	add_platform_info(o, r->platform_info);
	cJSON_AddBoolToObject(o, "author_key_en", r->flags & 1);
	cJSON_AddBoolToObject(o, "mask_chip_id", r->flags & 2);
	cJSON_AddStringToObject(o, "signing_key",
				sk < 2	  ? signing[sk]
				: sk == 7 ? "none"
					  : "reserved");
	json_add_hex(o, "report_data", r->report_data, 64);
	json_add_hex(o, "measurement", r->measurement, 48);
	json_add_hex(o, "host_data", r->host_data, 32);
	json_add_hex(o, "id_key_digest", r->id_key_digest, 48);
	json_add_hex(o, "author_key_digest", r->author_key_digest, 48);
	json_add_hex(o, "report_id", r->report_id, 32);
	json_add_hex(o, "report_id_ma", r->report_id_ma, 32);
	add_tcb(o, "reported_tcb", r->reported_tcb, p);
	if (r->version >= 3) {
		cJSON_AddNumberToObject(o, "cpuid_fam_id", r->cpuid_fam_id);
		cJSON_AddNumberToObject(o, "cpuid_mod_id", r->cpuid_mod_id);
		cJSON_AddNumberToObject(o, "cpuid_step", r->cpuid_step);
	}
	cJSON_AddStringToObject(o, "product", snp_product_name(p));
	json_add_hex(o, "chip_id", r->chip_id, 64);
	add_tcb(o, "committed_tcb", r->committed_tcb, p);
	add_version(o, "current_version", r->current_major, r->current_minor, r->current_build);
	add_version(o, "committed_version", r->committed_major, r->committed_minor,
		    r->committed_build);
	add_tcb(o, "launch_tcb", r->launch_tcb, p);
	if (r->version >= 5) {
		add_u64_hex(o, "launch_mit_vector", r->launch_mit_vector);
		add_u64_hex(o, "current_mit_vector", r->current_mit_vector);
	}
	json_add_hex(o, "signature_r", r->sig_r, P384_BYTES);
	json_add_hex(o, "signature_s", r->sig_s, P384_BYTES);
	return o;
}
