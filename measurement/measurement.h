/* SPDX-License-Identifier: Apache-2.0 */
/*
 * measurement: evidence formats (SEV-SNP attestation report, TDX quote),
 * their verification against vendor roots, and reference values.
 *
 * Verification never logs: it fills a struct verdict with every check it
 * ran, in order, and stops at the first one that fails. Functions return 0
 * when verification ran (whatever its verdict) and a negative errno only
 * when it could not run at all (no memory).
 */
#ifndef CVM_MEASUREMENT_H
#define CVM_MEASUREMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cJSON.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/lib.h"

/* ---- checks and verdicts ---- */

enum cvm_check {
	CHECK_NONE = 0,
	CHECK_FORMAT,	      /* sizes, versions, reserved fields, lengths */
	CHECK_SIG_ALGO,	      /* the signature algorithm the evidence names */
	CHECK_CERTIFICATES,   /* certificates present and well-formed */
	CHECK_ROOT_PINNED,    /* chain ends in a built-in (or --test-roots) root */
	CHECK_CHAIN,	      /* each certificate signed by the next, names match */
	CHECK_VALIDITY,	      /* certificates valid at the verification time */
	CHECK_KEY_TYPE,	      /* signing key on the expected curve / of the expected size */
	CHECK_PRODUCT,	      /* SNP: product of report, VCEK and root agree */
	CHECK_SIGNATURE,      /* the evidence's own signature */
	CHECK_TCB_MATCH,      /* SNP: VCEK TCB extensions equal reported_tcb */
	CHECK_CHIP_ID,	      /* SNP: VCEK hwID equals chip_id */
	CHECK_SIGNING_KEY,    /* SNP: report says VCEK/VLEK as the certificate is */
	CHECK_POLICY_DEBUG,   /* SNP policy DEBUG refused unless allowed */
	CHECK_POLICY_MA,      /* SNP policy MIGRATE_MA refused unless allowed */
	CHECK_POLICY_SMT,     /* SNP policy SMT refused when the reference forbids it */
	CHECK_POLICY,	      /* SNP: policy equals the reference */
	CHECK_VMPL,	      /* SNP: VMPL as the reference requires (default 0) */
	CHECK_MEASUREMENT,    /* SNP: launch digest */
	CHECK_HOST_DATA,      /* SNP: host_data */
	CHECK_ID_DIGESTS,     /* SNP: family_id, image_id, id_key/author_key digests */
	CHECK_REPORT_DATA,    /* report_data / REPORTDATA equals the expected value */
	CHECK_MIN_TCB,	      /* SNP: reported_tcb at least min_tcb */
	CHECK_CERT_DATA,      /* TDX: certification data shape */
	CHECK_QE_SIGNATURE,   /* TDX: QE report signed by the PCK leaf */
	CHECK_QE_REPORT_DATA, /* TDX: QE report_data binds the attestation key */
	CHECK_TD_DEBUG,	      /* TDX: TD attributes DEBUG refused unless allowed */
	CHECK_COLLATERAL,     /* TDX: collateral present, parsed, signed, in date */
	CHECK_REVOCATION,     /* TDX: no certificate of the chain is revoked */
	CHECK_QE_IDENTITY,    /* TDX: QE matches Intel's QE identity */
	CHECK_TCB_STATUS,     /* TDX: TCB level acceptable */
	CHECK_TD_ATTRIBUTES,  /* TDX: SEPT_VE_DISABLE set; TD attributes as the reference pins */
	CHECK_XFAM,	      /* TDX: XFAM as the reference pins */
	CHECK_POLICY_SINGLE_SOCKET, /* SNP policy SINGLE_SOCKET as the reference requires */
	CHECK_POLICY_ABI,	    /* SNP policy ABI version at least the reference's */
	CHECK_POLICY_FEATURES,	    /* SNP policy feature bits the reference requires */
	CHECK_PLATFORM_INFO,	    /* SNP PLATFORM_INFO flags the reference requires */
	CHECK_MRTD,
	CHECK_RTMR,
	CHECK_MRCONFIGID,
	CHECK_MROWNER,
	CHECK_MROWNERCONFIG,
	CHECK_AK,	   /* TPM: the attestation key is the pinned one */
	CHECK_PCR_DIGEST,  /* TPM: the quoted PCR digest equals the PCR values given */
	CHECK_PCR,	   /* TPM: PCR values against the reference */
	CHECK_RUNTIME_LOG, /* the runtime event log replays to RTMR3 / PCR 15 */
	CHECK_LUKS_HEADER, /* the runtime log measured the expected LUKS header */
	CHECK__MAX,
};

/* The check's name as verdicts print it ("signature"); "unknown" out of range. */
const char *check_name(enum cvm_check c);

enum cvm_platform {
	PLATFORM_NONE = 0,
	PLATFORM_SNP,
	PLATFORM_TDX,
	PLATFORM_TPM,
	PLATFORM_AZ_SNP_VTPM, /* Azure: SEV-SNP behind a paravisor with a vTPM (az_vtpm.c) */
	PLATFORM_AZ_TDX_VTPM, /* Azure: TDX behind a paravisor with a vTPM */
	PLATFORM__COUNT,
};

/* The platform's name from its row (platform.h): "snp", "tdx", "tpm"; "unknown" otherwise. */
const char *platform_name(enum cvm_platform p);

#define VERDICT_MAX_CHECKS 64

struct check_result {
	enum cvm_check check;
	bool ok;
	char detail[400]; /* two SHA-384 digests in full, and words */
};

struct verdict {
	enum cvm_platform platform;
	size_t n;
	struct check_result results[VERDICT_MAX_CHECKS];
	enum cvm_check failed; /* first failed check, CHECK_NONE when all passed */
	bool tcb_status_checked;
	char tcb_status[32]; /* TDX: "UpToDate", ... when checked */
	/* TDX: the QE identity's own level, when checked */
	char qe_tcb_status[32];
};

/* An empty verdict for evidence of platform p: no check recorded yet. */
void verdict_init(struct verdict *v, enum cvm_platform p);
/* Records a passed check. */
void verdict_pass(struct verdict *v, enum cvm_check c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Records a failed check and returns -1, so that callers can `return verdict_fail(...)`. */
int verdict_fail(struct verdict *v, enum cvm_check c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool verdict_ok(const struct verdict *v);
/* The first failed check, NULL when none failed. */
const struct check_result *verdict_first_failure(const struct verdict *v);
/*
 * Compares a claim with its expected value (constant time) and records
 * check c, passed or failed, with both values in hex. Returns -1 on mismatch.
 */
int verdict_compare(struct verdict *v, enum cvm_check c, const char *what, const uint8_t *got,
		    const uint8_t *want, size_t n);
/* {"verified", "platform", "checks": [...]} ; claims are added by the caller. */
cJSON *verdict_to_json(const struct verdict *v);

/* ---- reference values (docs/design.md §6) ---- */

struct snp_tcb {
	uint8_t fmc; /* Turin and later only */
	uint8_t bootloader;
	uint8_t tee;
	uint8_t snp;
	uint8_t microcode;
};

struct snp_reference {
	bool has_measurement, has_host_data, has_policy, has_vmpl, has_min_tcb, has_report_data;
	bool has_family_id, has_image_id, has_id_key_digest, has_author_key_digest;
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint64_t policy;
	uint32_t vmpl;
	struct snp_tcb min_tcb;
	uint8_t report_data[64];
	uint8_t family_id[16], image_id[16];
	uint8_t id_key_digest[48], author_key_digest[48];
	char product[16];	    /* "Milan", "Genoa", "Turin" or "" for any */
	bool allow_debug;	    /* default false */
	bool allow_migration_agent; /* default false */
	bool allow_smt;		    /* default true */
	/*
	 * Without min_tcb the floor of the report's product and silicon line
	 * applies (snp_default_min_tcb); min_tcb replaces it, all zeros for none.
	 */
	bool require_single_socket; /* policy SINGLE_SOCKET; default false */
	bool has_min_abi;	    /* policy ABI_MAJOR.ABI_MINOR at least min_abi */
	uint8_t min_abi_major, min_abi_minor;
	uint64_t require_policy;   /* SNP_POLICY_* feature bits that must be set */
	uint64_t require_platform; /* SNP_PLATFORM_* bits of PLATFORM_INFO that must be set */
};

/* TCB status names of Intel's TCB info, as a bit set of accepted ones. */
enum tdx_tcb_status {
	TCB_UP_TO_DATE = 1u << 0,
	TCB_SW_HARDENING_NEEDED = 1u << 1,
	TCB_CONFIGURATION_NEEDED = 1u << 2,
	TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED = 1u << 3,
	TCB_OUT_OF_DATE = 1u << 4,
	TCB_OUT_OF_DATE_CONFIGURATION_NEEDED = 1u << 5,
	TCB_REVOKED = 1u << 6,
};

/* The enum tdx_tcb_status bit of an Intel TCB status name, 0 when unknown. */
unsigned tdx_tcb_status_from_name(const char *name);

/*
 * TD attribute bits (Intel TDX Module ABI Specification, 348551, "TD
 * Attributes Definition"; the quote's TD_ATTRIBUTES, a 64-bit number stored
 * little-endian).
 */
#define TDX_ATTR_DEBUG (1ull << 0)
#define TDX_ATTR_SEPT_VE_DISABLE (1ull << 28)

struct tdx_reference {
	bool has_mrtd, has_rtmr[4], has_mrconfigid, has_mrowner, has_mrownerconfig, has_report_data;
	uint8_t mrtd[48], rtmr[4][48], mrconfigid[48], mrowner[48], mrownerconfig[48];
	uint8_t report_data[64];
	bool allow_debug;      /* default false */
	unsigned accepted_tcb; /* enum tdx_tcb_status bits; default UpToDate only */
	/* default false: SEPT_VE_DISABLE (bit 28) must be set */
	bool allow_sept_ve;
	/*
	 * Pins, as 64-bit numbers: (value & mask) must equal (pin & mask). A
	 * reference's JSON without a mask gives all ones; code that sets has_*
	 * sets the mask too.
	 */
	bool has_td_attributes, has_xfam;
	uint64_t td_attributes, td_attributes_mask;
	uint64_t xfam, xfam_mask;
};

#define TPM_PCRS 24

struct tpm_reference {
	bool has_pcr[TPM_PCRS]; /* SHA-256 bank */
	uint8_t pcr[TPM_PCRS][32];
	bool has_ak_sha256; /* SHA-256 of the AK's SubjectPublicKeyInfo (DER) */
	uint8_t ak_sha256[32];
};

struct reference {
	bool has_snp, has_tdx, has_tpm, has_luks_header_sha256;
	struct snp_reference snp;
	struct tdx_reference tdx;
	struct tpm_reference tpm;
	uint8_t luks_header_sha256[32];
};

/* Secure defaults: no reference values, debug and migration agent refused. */
void reference_defaults(struct reference *ref);
/*
 * Parses reference values JSON. Unknown members are refused, so that a typo
 * never silently disables a check. On failure *err names the member.
 */
int reference_parse(const char *text, size_t len, struct reference *ref, char *err, size_t errlen);
/* The same, of a tree already parsed (a member of a broker policy). */
int reference_read(const cJSON *v, struct reference *ref, char *err, size_t errlen);

/* ---- SEV-SNP attestation report (SEV-SNP ABI spec 56860, Table 23) ---- */

#define SNP_REPORT_SIZE 0x4A0
#define SNP_REPORT_SIGNED_SIZE 0x2A0

/*
 * Guest policy bits: SEV-SNP ABI spec 56860 revision 1.58, "Guest Policy
 * Structure" (bits 7:0 ABI_MINOR, 15:8 ABI_MAJOR).
 */
#define SNP_POLICY_SMT (1ull << 16)
#define SNP_POLICY_MBO (1ull << 17) /* reserved, must be one */
#define SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SNP_POLICY_DEBUG (1ull << 19)
#define SNP_POLICY_SINGLE_SOCKET (1ull << 20)
#define SNP_POLICY_CXL_ALLOW (1ull << 21)
#define SNP_POLICY_MEM_AES_256_XTS (1ull << 22)
#define SNP_POLICY_RAPL_DIS (1ull << 23)
#define SNP_POLICY_CIPHERTEXT_HIDING_DRAM (1ull << 24)
#define SNP_POLICY_PAGE_SWAP_DISABLE (1ull << 25)
#define SNP_POLICY_RESERVED (~0ull << 26) /* must be zero */

/* PLATFORM_INFO bits: 56860 revision 1.58, ATTESTATION_REPORT, PLATFORM_INFO. */
#define SNP_PLATFORM_SMT_EN (1ull << 0)
#define SNP_PLATFORM_TSME_EN (1ull << 1)
#define SNP_PLATFORM_ECC_EN (1ull << 2)
#define SNP_PLATFORM_RAPL_DIS (1ull << 3)
#define SNP_PLATFORM_CIPHERTEXT_HIDING_DRAM_EN (1ull << 4)
#define SNP_PLATFORM_ALIAS_CHECK_COMPLETE (1ull << 5)
#define SNP_PLATFORM_TIO_EN (1ull << 7)

/*
 * Named bits: the policy features a reference may require (SNP_POLICY_*,
 * bits 20-25) and the PLATFORM_INFO flags. 0 for an unknown name; *name of
 * bit i (in the order of the table, i from 0) is NULL past the end.
 */
uint64_t snp_policy_bit_from_name(const char *name);
uint64_t snp_platform_bit_from_name(const char *name);
const char *snp_policy_bit_name(size_t i, uint64_t *bit);
const char *snp_platform_bit_name(size_t i, uint64_t *bit);

enum snp_product {
	SNP_PRODUCT_UNKNOWN = 0,
	SNP_PRODUCT_MILAN,
	SNP_PRODUCT_GENOA,
	SNP_PRODUCT_TURIN,
};

/* "Milan", "Genoa", "Turin"; "unknown" otherwise. */
const char *snp_product_name(enum snp_product p);

struct snp_report {
	uint32_t version;	       /* 0x000 */
	uint32_t guest_svn;	       /* 0x004 */
	uint64_t policy;	       /* 0x008 */
	uint8_t family_id[16];	       /* 0x010 */
	uint8_t image_id[16];	       /* 0x020 */
	uint32_t vmpl;		       /* 0x030 */
	uint32_t signature_algo;       /* 0x034 */
	uint64_t current_tcb;	       /* 0x038 */
	uint64_t platform_info;	       /* 0x040 */
	uint32_t flags;		       /* 0x048: author_key_en, mask_chip_key, signing_key */
	uint8_t report_data[64];       /* 0x050 */
	uint8_t measurement[48];       /* 0x090 */
	uint8_t host_data[32];	       /* 0x0C0 */
	uint8_t id_key_digest[48];     /* 0x0E0 */
	uint8_t author_key_digest[48]; /* 0x110 */
	uint8_t report_id[32];	       /* 0x140 */
	uint8_t report_id_ma[32];      /* 0x160 */
	uint64_t reported_tcb;	       /* 0x180 */
	uint8_t cpuid_fam_id;	       /* 0x188, version 3 and later */
	uint8_t cpuid_mod_id;	       /* 0x189 */
	uint8_t cpuid_step;	       /* 0x18A */
	uint8_t chip_id[64];	       /* 0x1A0 */
	uint64_t committed_tcb;	       /* 0x1E0 */
	uint8_t current_build, current_minor, current_major;	   /* 0x1E8 */
	uint8_t committed_build, committed_minor, committed_major; /* 0x1EC */
	uint64_t launch_tcb;					   /* 0x1F0 */
	uint64_t launch_mit_vector;				   /* 0x1F8, version 5 */
	uint64_t current_mit_vector;				   /* 0x200, version 5 */
	uint8_t sig_r[72], sig_s[72];				   /* 0x2A0, little-endian */
	enum snp_product product; /* from cpuid (version >= 3), else UNKNOWN */
	const uint8_t *raw;	  /* the parsed bytes, SNP_REPORT_SIZE of them */
};

/* Parses a raw report. Failures are recorded in v as CHECK_FORMAT / CHECK_SIG_ALGO. */
int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *r, struct verdict *v);
/* Decodes a TCB_VERSION for a product (Turin moved the fields and added FMC). */
struct snp_tcb snp_tcb_decode(uint64_t tcb, enum snp_product p);
/*
 * The minimum TCB a careful verifier accepts from the report's product and
 * silicon line (AMD's security bulletins; docs/verify.md). *source names the
 * floor and its bulletin. Returns false when none is known (Turin).
 */
bool snp_default_min_tcb(const struct snp_report *r, struct snp_tcb *min, const char **source);
cJSON *snp_report_claims(const struct snp_report *r);

/* A VCEK or VLEK chain as files or bytes. */
struct snp_certs {
	X509 *ark;  /* optional: the pinned root is built in */
	X509 *ask;  /* ASK or ASVK; optional: built in per product */
	X509 *vcek; /* VCEK or VLEK; required */
};

/* Frees the certificates and zeroes c; harmless on a zeroed c. */
void snp_certs_free(struct snp_certs *c);
/*
 * Loads certificates from DIR: ark, ask or asvk, vcek or vlek, each .pem or
 * .der, or an ask_ark.pem bundle as AMD's KDS serves it. Returns -ENOENT
 * when no VCEK/VLEK is there, -EBADMSG when a file is not a certificate
 * (err names it).
 */
int snp_certs_load_dir(const char *dir, struct snp_certs *c, char *err, size_t errlen);

struct snp_verifier;
/*
 * A verifier holds the pinned roots (built in, plus test roots when a PEM
 * is given) and caches the last chain it verified, so that reports signed
 * by the same VCEK verify at the cost of one ECDSA verify.
 * now == 0 means the current time.
 */
int snp_verifier_new(const char *test_roots_pem, time_t now, struct snp_verifier **out);
void snp_verifier_free(struct snp_verifier *sv);
int snp_verify(struct snp_verifier *sv, const uint8_t *buf, size_t len,
	       const struct snp_certs *certs, const struct snp_reference *ref,
	       const uint8_t *report_data /* 64 bytes or NULL */, struct snp_report *r,
	       struct verdict *v);

#define SNP_PRODUCT_NAME_MAX 32
/*
 * snp_verify in two steps. The genuine one, which needs no reference
 * values: the report parsed into r, the chain, the product, the signature
 * and the chain's claims (TCB, chip ID); v starts afresh; product_name gets
 * the VCEK's productName ("Milan-B0", "" when it has none). The match: r,
 * verified by the first and unchanged since, against ref (NULL: the secure
 * defaults) and report_data, appended to v; 0, or -1 with the failed check.
 */
int snp_verify_genuine(struct snp_verifier *sv, const uint8_t *buf, size_t len,
		       const struct snp_certs *certs, struct snp_report *r,
		       char product_name[SNP_PRODUCT_NAME_MAX], struct verdict *v);
int snp_verify_match(const struct snp_report *r, const char *product_name,
		     const struct snp_reference *ref, const uint8_t *report_data,
		     struct verdict *v);

/* ---- TDX quote (Intel TDX DCAP Quote Generation Library and Quote Verification API, App. A) ---- */

#define TDX_QUOTE_HEADER_SIZE 48
#define TDX_REPORT_BODY_V4_SIZE 584
#define TDX_REPORT_BODY_V5_SIZE 648
#define SGX_REPORT_BODY_SIZE 384

struct tdx_report_body {
	uint8_t tee_tcb_svn[16];
	uint8_t mrseam[48];
	uint8_t mrsignerseam[48];
	uint8_t seam_attributes[8];
	uint8_t td_attributes[8];
	uint8_t xfam[8];
	uint8_t mrtd[48];
	uint8_t mrconfigid[48];
	uint8_t mrowner[48];
	uint8_t mrownerconfig[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	uint8_t tee_tcb_svn2[16]; /* TD report 1.5 (quote v5 body type 3) */
	uint8_t mrservicetd[48];  /* TD report 1.5 */
};

struct sgx_report_body {
	uint8_t cpu_svn[16];
	uint32_t misc_select;
	uint8_t attributes[16];
	uint8_t mr_enclave[32];
	uint8_t mr_signer[32];
	uint16_t isv_prod_id;
	uint16_t isv_svn;
	uint8_t report_data[64];
};

struct tdx_quote {
	uint16_t version;
	uint16_t att_key_type;
	uint32_t tee_type;
	uint16_t qe_svn, pce_svn;
	uint8_t qe_vendor_id[16];
	uint8_t user_data[20];
	uint16_t body_type; /* v5: 2 = TD report 1.0, 3 = TD report 1.5; v4: 2 */
	struct tdx_report_body body;
	struct span signed_region;   /* header and body (v5: with the body descriptor) */
	uint8_t signature[64];	     /* ECDSA P-256, r || s big-endian */
	uint8_t attestation_key[64]; /* P-256 point x || y */
	uint8_t qe_report_raw[SGX_REPORT_BODY_SIZE];
	struct sgx_report_body qe_report;
	uint8_t qe_report_signature[64];
	struct span qe_auth_data;
	struct span pck_chain_pem; /* certification data type 5 */
	size_t trailing;	   /* bytes after the signature data */
	const uint8_t *raw;
	size_t raw_len;
};

/*
 * Takes a quote (v4 or v5) apart into q, which points into buf (kept alive
 * by the caller); checks nothing signed. < 0 with the failed check in v.
 * tdx_quote_claims: the parsed fields as JSON (--json), NULL without memory.
 */
int tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *q, struct verdict *v);
cJSON *tdx_quote_claims(const struct tdx_quote *q);

struct tdx_verifier;
/*
 * collateral_dir: Intel PCS responses (may be NULL: TCB status is then
 * reported as not checked). now == 0 means the current time.
 */
int tdx_verifier_new(const char *test_roots_pem, const char *collateral_dir, time_t now,
		     struct tdx_verifier **out, char *err, size_t errlen);
void tdx_verifier_free(struct tdx_verifier *tv);
int tdx_verify(struct tdx_verifier *tv, const uint8_t *buf, size_t len,
	       const struct tdx_reference *ref, const uint8_t *report_data /* 64 or NULL */,
	       struct tdx_quote *q, struct verdict *v);

/* The TCB level that collateral gives a quote, before a reference accepts it or not. */
struct tdx_tcb {
	bool checked;	   /* false: the verifier has no collateral */
	int rank, qe_rank; /* Intel's status, by its rank in enum tdx_tcb_status */
};

/*
 * tdx_verify in two steps. The genuine one, which needs no reference
 * values: the quote parsed into q (pointing into buf), the PCK chain, the QE
 * report, the signature and, with collateral, its checks and the TCB level
 * into t; v starts afresh. The match: q and t, from the first and unchanged
 * since (and buf still alive), against ref (NULL: the defaults) and
 * report_data, appended to v; 0, or -1 with the failed check.
 */
int tdx_verify_genuine(struct tdx_verifier *tv, const uint8_t *buf, size_t len, struct tdx_quote *q,
		       struct tdx_tcb *t, struct verdict *v);
int tdx_verify_match(const struct tdx_quote *q, const struct tdx_tcb *t,
		     const struct tdx_reference *ref, const uint8_t *report_data,
		     struct verdict *v);
/* The acceptance of t's level by accepted (enum tdx_tcb_status bits), recorded in v. */
int tdx_tcb_accept(const struct tdx_tcb *t, unsigned accepted, struct verdict *v);

/*
 * The FMSPC of the quote's PCK certificate and the CA that issued it
 * ("platform" or "processor", from the PCK CA's name): what a collateral
 * fetch asks for. Nothing is verified: the quote need not even be genuine.
 */
int tdx_quote_pck_platform(const uint8_t *buf, size_t len, uint8_t fmspc[6], const char **ca,
			   char *err, size_t errlen);

/*
 * Checks a collateral directory on its own, as `cvm collateral fetch` does
 * before it installs one: tcbinfo.json (TDX, for fmspc), qe-identity.json
 * (TD_QE), each signed by the certificate of tcb-signing-chain.pem, which the
 * Intel SGX Root CA (or a root of test_roots_pem) signed; pckcrl signed by
 * the PCK CA of pckcrl-issuer-chain.pem under that same root, rootcrl.der by
 * the root; every certificate, document and CRL current at now. Refusals in
 * err start with "E_COLLATERAL_...".
 */
int tdx_collateral_validate(const char *dir, const char *test_roots_pem, const uint8_t fmspc[6],
			    time_t now, char *err, size_t errlen);

/* ---- event logs (TCG PC Client Platform Firmware Profile, §10; TCG CEL) ---- */

/* TPM_ALG_ID values, TCG Algorithm Registry. */
enum {
	TPM_ALG_SHA1 = 0x0004,
	TPM_ALG_SHA256 = 0x000B,
	TPM_ALG_SHA384 = 0x000C,
	TPM_ALG_SHA512 = 0x000D,
};

enum evlog_format {
	EVLOG_TCG2,	/* crypto-agile binary log of a TPM: indexes are PCRs */
	EVLOG_CCEL,	/* the same format from the TDX CCEL table: 0 is MRTD, 1-4 RTMR0-3 */
	EVLOG_CEL_JSON, /* TCG Canonical Event Log, JSON encoding */
};

#define EVLOG_MAX_ALGS 4
#define EVLOG_MAX_EVENTS 65536
#define EVLOG_MAX_INDEX 24

struct evlog_digest {
	uint16_t alg;
	uint8_t len;
	uint8_t d[64];
};

struct evlog_event {
	uint32_t index; /* PCR, or CCEL MR index */
	uint32_t type;	/* EV_* (CEL-JSON: 0 unless the record names one) */
	uint32_t ndigests;
	struct evlog_digest digests[EVLOG_MAX_ALGS];
	struct span data; /* event bytes, inside the buffer given to the parser */
	uint64_t recnum;  /* CEL-JSON record number, else the position */
};

struct evlog {
	enum evlog_format format;
	size_t n;
	struct evlog_event *events;
	size_t nalgs;
	uint16_t algs[EVLOG_MAX_ALGS];
	uint16_t sizes[EVLOG_MAX_ALGS];
	uint8_t startup_locality; /* TPM: from a StartupLocality EV_NO_ACTION event */
	cJSON *json;		  /* CEL-JSON: the parsed document */
};

/* Parses a crypto-agile log. err names the event and field at fault. */
int evlog_parse_tcg2(const uint8_t *buf, size_t len, enum evlog_format f, struct evlog *log,
		     char *err, size_t errlen);
int evlog_parse_cel_json(const char *text, size_t len, struct evlog *log, char *err, size_t errlen);
void evlog_free(struct evlog *log);

struct evlog_bank {
	uint16_t alg;
	size_t len;
	uint8_t reg[EVLOG_MAX_INDEX][64];
	bool touched[EVLOG_MAX_INDEX];
};

/* Replays every event that extends (not EV_NO_ACTION) into one bank per algorithm. */
int evlog_replay(const struct evlog *log, struct evlog_bank banks[EVLOG_MAX_ALGS], size_t *nbanks);
const char *evlog_type_name(uint32_t type);
const char *evlog_alg_name(uint16_t alg);
/* "RTMR0" for CCEL index 1, "PCR7" for a TPM log. */
void evlog_register_name(enum evlog_format f, uint32_t index, char *out, size_t cap);
/* Decoded content of the common UEFI event types, or NULL. */
cJSON *evlog_event_details(const struct evlog_event *e);

/* Predicting launch registers (SEV, TDX, a vTPM's PCRs): measurement/launch.h. */
#include "measurement/launch.h" /* IWYU pragma: export */

/* ---- TPM 2.0 quotes (TPM 2.0 Library Part 2: TPMS_ATTEST, TPMT_SIGNATURE) ---- */

struct tpm_quote {
	uint8_t extra_data[64]; /* qualifyingData: the nonce */
	size_t extra_len;
	uint64_t clock;
	uint32_t reset_count, restart_count;
	uint64_t firmware_version;
	uint32_t pcr_mask; /* selected PCRs of the SHA-256 bank */
	uint8_t pcr_digest[32];
	uint16_t sig_alg, sig_hash; /* TPM_ALG_RSASSA / RSAPSS / ECDSA; TPM_ALG_SHA256 */
};

/*
 * Verifies a TPMS_ATTEST quote and its TPMT_SIGNATURE with the attestation
 * key, that the quoted PCR digest equals SHA-256 over the selected values of
 * pcrs (the SHA-256 bank, 24 values), and when given, the AK pin, PCR
 * reference values and the expected qualifying data: the first 32 bytes of
 * report_data, as Trustee's TPM attester sends it, or all 64 (older ones).
 */
/* Parses a TPMS_ATTEST quote; failures are recorded in v as CHECK_FORMAT. Nothing is verified. */
int tpm_quote_parse(const uint8_t *msg, size_t len, struct tpm_quote *q, struct verdict *v);
int tpm_quote_verify(const uint8_t *msg, size_t msglen, const uint8_t *sig, size_t siglen,
		     EVP_PKEY *ak, const uint8_t pcrs[TPM_PCRS][32],
		     const struct tpm_reference *ref, const uint8_t *report_data /* 64 or NULL */,
		     struct tpm_quote *q, struct verdict *v);
/*
 * tpm_quote_verify in two steps. The genuine one, which needs no reference
 * values: the quote parsed into q, its signature by ak, the PCR digest of
 * pcrs, and the SHA-256 of the AK's SubjectPublicKeyInfo into ak_sha256; v
 * starts afresh. The match: q, pcrs and the AK's digest, from the first and
 * unchanged since, against ref (NULL: none; the AK pin, the PCRs) and
 * report_data, appended to v. 0, or -1 with the failed check.
 */
int tpm_quote_genuine(const uint8_t *msg, size_t msglen, const uint8_t *sig, size_t siglen,
		      EVP_PKEY *ak, const uint8_t pcrs[TPM_PCRS][32], struct tpm_quote *q,
		      uint8_t ak_sha256[32], struct verdict *v);
int tpm_quote_match(const struct tpm_quote *q, const uint8_t ak_sha256[32],
		    const uint8_t pcrs[TPM_PCRS][32], const struct tpm_reference *ref,
		    const uint8_t *report_data, struct verdict *v);
cJSON *tpm_quote_claims(const struct tpm_quote *q, const uint8_t pcrs[TPM_PCRS][32]);

/* ---- evidence in the Trustee KBS protocol's JSON shapes (kbs_evidence.c) ---- */

/* A raw SNP report as the virtee sev crate serializes AttestationReport. */
cJSON *snp_report_to_sev_json(const uint8_t report[SNP_REPORT_SIZE]);
/* The raw report back from that JSON; the signature then says if it is genuine. */
int snp_report_from_sev_json(const cJSON *o, uint8_t report[SNP_REPORT_SIZE], char *err,
			     size_t errlen);
/* SNP cert_chain entries (null: none) into certificates. */
int snp_certs_from_sev_json(const cJSON *chain, struct snp_certs *c, char *err, size_t errlen);
/* A cert_chain of the VCEK (or VLEK), and the ASK (ASVK) and ARK when given. */
cJSON *snp_certs_to_sev_json(const struct snp_certs *c, bool vlek);

/* ---- cvm's runtime event log (runtime_log.c, docs/measurements.md) ---- */

/* One CEL-JSON record measuring value into RTMR3 (TDX, SHA-384) or PCR 15 (SHA-256 only). */
cJSON *runtime_event_json(enum cvm_platform p, uint64_t recnum, const char *name,
			  const uint8_t *value, size_t n);
/* A PCR 15 record: the SHA-256 digest of value and, when sha384, its SHA-384 digest. */
cJSON *runtime_event_pcr15_json(uint64_t recnum, const char *name, const uint8_t *value, size_t n,
				bool sha384);

#define RUNTIME_NAME_MAX 64
#define RUNTIME_VALUE_MAX 256
#define RUNTIME_MAX_EVENTS 4096

/* An event name: 1 to RUNTIME_NAME_MAX of [A-Za-z0-9._:-]. */
bool runtime_event_name_valid(const char *name);

struct runtime_event {
	enum cvm_platform reg; /* PLATFORM_TDX: RTMR3; PLATFORM_TPM: PCR 15 */
	uint64_t recnum;
	char name[RUNTIME_NAME_MAX + 1];
	uint8_t value[RUNTIME_VALUE_MAX];
	size_t len;
	bool sha384; /* PCR 15: the record carries the SHA-384 digest too */
};

struct runtime_log {
	size_t n;
	struct runtime_event *events;
	size_t n_rtmr3, n_pcr15;
	uint8_t rtmr3[48];	  /* the replay of the RTMR3 records */
	uint8_t pcr15_sha256[32]; /* the replay of the PCR 15 records, per bank */
	uint8_t pcr15_sha384[48];
	bool pcr15_has_sha384;
};

/*
 * Parses and replays a runtime log, RTMR3 and PCR 15 records in any mix:
 * every record is cvm's, numbered by its position, extends RTMR3 or PCR 15
 * only, and carries its register's digests, each that of its value.
 * err names the record at fault.
 */
int runtime_log_parse(const char *text, size_t len, struct runtime_log *log, char *err,
		      size_t errlen);
void runtime_log_free(struct runtime_log *log);
/* The register an event extends, as its platform's row names it: "rtmr3", "pcr15". */
const char *runtime_event_register(const struct runtime_event *e);
/* Whether e extends the runtime register of platform p's evidence. */
bool runtime_event_binds(const struct runtime_event *e, enum cvm_platform p);
/* {"recnum", "register", "name", "value": hex}; NULL when out of memory. */
cJSON *runtime_event_to_json(const struct runtime_event *e);
/* The events of p's register, one line each after indent: recnum, name, value in hex. */
void runtime_log_print(FILE *f, const struct runtime_log *log, enum cvm_platform p,
		       const char *indent);
/*
 * Checks a runtime log against the register p's evidence holds (TDX: RTMR3,
 * 48 bytes; TPM: PCR 15 of the SHA-256 bank, 32): the log parses, its
 * records of that register replay to reg, and when luks_sha256 is given,
 * those records measured a "luks-header" and only that one. Records of the
 * other register are checked for form but bind nothing here.
 */
int runtime_log_check(const char *text, size_t len, enum cvm_platform p, const uint8_t *reg,
		      const uint8_t *luks_sha256, struct verdict *v);

/* The parts of one "primary_evidence", taken apart; nothing is checked yet. */
struct kbs_evidence {
	enum cvm_platform platform;
	uint8_t *raw; /* SNP report (0x4A0), TDX quote, or TPMS_ATTEST */
	size_t raw_len;
	struct snp_certs certs; /* SNP: from cert_chain (VCEK required) */
	EVP_PKEY *ak;		/* TPM: ak_public */
	uint8_t *extra;		/* TPM: TPMT_SIGNATURE */
	size_t extra_len;
	uint8_t (*pcrs)[32]; /* TPM: the 24 SHA-256 PCRs */
	char *runtime_log;   /* "runtime_eventlog", or NULL */
	/*
	 * Azure (az_vtpm.c): raw, extra and pcrs hold the vTPM's quote as for
	 * TPM, certs.vcek the VCEK (az-snp-vtpm); ak is not used.
	 */
	uint8_t *hcl; /* the HCL report as sent */
	size_t hcl_len;
	uint8_t *td_quote; /* az-tdx-vtpm: the TD quote */
	size_t td_quote_len;
	unsigned az_version; /* Trustee's evidence version: 1, or 2 (var data has user-data) */
};

#define KBS_PROTOCOL_VERSION "0.4.0"

/* ---- what both ends of the KBS protocol compute (kbs_protocol.c) ---- */

/* A resource path "repo/type/tag": three non-empty parts of [A-Za-z0-9._-], none starting with '.'. */
bool kbs_resource_path_valid(const char *path);
/*
 * report_data of the protocol: the digest (hash "sha384", the default when
 * NULL, "sha256" or "sha512"; -EINVAL otherwise) of the RFC 8785 form of
 * {"additional-evidence": "", "nonce": nonce, "tee-pubkey": jwk}, zero-padded to 64 bytes.
 */
int kbs_report_data(const char *nonce, const cJSON *jwk, const char *hash, uint8_t out[64]);

/* {"version": "0.4.0", "tee", "extra-params"}; *problem names the RFC 7807 type on refusal. */
int kbs_auth_request_parse(const char *body, size_t len, enum cvm_platform *tee,
			   const char **problem, char *err, size_t errlen);
/* {"runtime-data": {nonce, tee-pubkey}, "tee-evidence": {primary_evidence, ...}}; pointers into *root. */
int kbs_attest_request_parse(const char *body, size_t len, cJSON **root, const char **nonce,
			     const cJSON **jwk, const cJSON **primary, char *err, size_t errlen);

/* Whether two JSON values have the same canonical form (RFC 8785); false when either is NULL. */
bool jcs_equal(const cJSON *a, const cJSON *b);
/* "snp", "tdx", "tpm" of the protocol. */
int kbs_tee_parse(const char *name, enum cvm_platform *out);
int kbs_evidence_parse(enum cvm_platform tee, const cJSON *primary, struct kbs_evidence *e,
		       char *err, size_t errlen);
void kbs_evidence_free(struct kbs_evidence *e);
/*
 * Verifies evidence that kbs_evidence_parse took apart, as the key broker
 * does: genuine (SNP: e->certs up to a pinned AMD root; TDX: the quote's PCK
 * chain up to a pinned Intel root; TPM: signed by e->ak, which ref may pin),
 * binding report_data when given, and matching ref (NULL: the secure
 * defaults of reference_defaults). The runtime register the evidence holds
 * comes back in reg, whatever the verdict: TDX RTMR3 (*reglen 48), TPM PCR 15
 * of the SHA-256 bank (32); SNP has none (0). 0 when every check passed, -1
 * when one failed (v names it), another negative errno when none could run.
 */
int kbs_evidence_verify(const struct kbs_evidence *e, struct snp_verifier *snp,
			struct tdx_verifier *tdx, const struct reference *ref,
			const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
			struct verdict *v);

/*
 * kbs_evidence_verify in two steps, so that evidence verified once can be
 * held to several references (a broker's session: every resource's policy,
 * each with one candidate per launch of its image).
 *
 * kbs_evidence_genuine runs every check that needs no reference values:
 * signatures, certificate chains up to a pinned root, collateral (TDX), the
 * bindings inside the evidence (Azure: the vTPM key by the hardware
 * report). 0 with *out holding what the verified bytes claim
 * (kbs_claims_free), -1 when a check failed (v names it, *out NULL), another
 * negative errno when none could run. The claims point into e: e must
 * neither change nor be freed while they live.
 *
 * kbs_claims_match holds those claims to ref (NULL: the secure defaults)
 * and report_data, appending its checks to v (which the caller set:
 * verdict_init, or the genuine step's verdict); the runtime register comes
 * back in reg as from kbs_evidence_verify. 0, -1 (v names the check).
 */
struct kbs_claims;
int kbs_evidence_genuine(const struct kbs_evidence *e, struct snp_verifier *snp,
			 struct tdx_verifier *tdx, struct kbs_claims **out, struct verdict *v);
int kbs_claims_match(const struct kbs_claims *c, const struct reference *ref,
		     const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
		     struct verdict *v);
void kbs_claims_free(struct kbs_claims *c);

/* Image manifests and a key broker resource's policy: measurement/manifest.h. */
#include "measurement/manifest.h" /* IWYU pragma: export */

/* ---- LUKS2 headers a guest may use (luks2.c) ---- */

struct luks2_allow {
	const char *const *ciphers; /* segment ciphers, NULL-terminated */
	bool integrity;		    /* allow a segment with integrity */
	uint32_t sector_size;	    /* the one sector size allowed */
	uint64_t max_pbkdf2_iter;
	uint64_t max_header_area; /* bytes before the data segment */
};

/* aes-xts-plain64, 4096-byte sectors, no integrity, PBKDF2 up to 10^7, 16 MiB header area. */
void luks2_allow_defaults(struct luks2_allow *a);

struct luks2_header {
	uint64_t hdr_size;    /* one metadata copy (binary header and JSON) */
	uint64_t data_offset; /* the header area: [0, data_offset) */
	uint32_t sector_size;
	char cipher[48];
	uint8_t sha256[32]; /* of the header area */
};

/*
 * Validates the header area buf (len bytes read from the start of a volume
 * of device_size bytes) against the allow-list. Refusals read
 * "E_LUKS_<WHAT>: why"; -ENODATA (E_LUKS_TRUNCATED) says that buf ends
 * before what the header spans, so a reader of a prefix may read on: to
 * h->data_offset when the part read says how far (else it is 0). The
 * digest is over [0, data_offset).
 */
int luks2_header_validate(const uint8_t *buf, size_t len, uint64_t device_size,
			  const struct luks2_allow *allow, struct luks2_header *h, char *err,
			  size_t errlen);

/* ---- LUKS2 headers written from given bytes (luks2_format.c) ---- */

struct luks2_layout {
	const char *label;	/* at most 47 bytes */
	uint64_t metadata_size; /* one copy: 16 KiB to 4 MiB, a power of two */
	uint64_t header_size;	/* the header area; the data segment starts here */
	uint32_t sector_size;	/* of the data segment */
};

/* Fills out with n bytes for purpose ("uuid", "kdf salt", ...); 0 or < 0. */
typedef int (*luks2_random_fn)(void *ctx, const char *purpose, uint8_t *out, size_t n);

/*
 * Writes the header area (l->header_size bytes at hdr) of a LUKS2 volume
 * whose volume key is mk (aes-xts-plain64, 512 bits) and whose one keyslot
 * opens with pass: two metadata copies, one PBKDF2-SHA256 keyslot, one
 * digest, one crypt segment at l->header_size. Every byte that is not a key
 * (UUID, salts, anti-forensic stripes) comes from rnd, so that the same
 * keys and rnd give the same bytes. 0, -EINVAL for a layout that does not
 * fit, or -EIO / -ENOMEM (hdr then wiped).
 */
int luks2_format(uint8_t *hdr, const struct luks2_layout *l, const uint8_t mk[64],
		 const uint8_t *pass, size_t pass_len, luks2_random_fn rnd, void *ctx);

/* ---- evidence type detection ---- */

/* Raw evidence bytes: a TDX quote (v4, v5), an SNP report, or PLATFORM_NONE. */
enum cvm_platform evidence_detect(const uint8_t *buf, size_t len);

/* ---- X.509 helpers shared by the SNP and TDX chains ---- */

/* SHA-256 of the DER encoding. */
int x509_fingerprint(X509 *c, uint8_t out[32]);
/* Loads every certificate of a PEM text, in order. */
int x509_load_pem_chain(const void *pem, size_t len, STACK_OF(X509) **out);
/* Loads one certificate, PEM or DER. */
int x509_load_one(const void *buf, size_t len, X509 **out);
/* 0 when t lies within the certificate's validity, -ERANGE otherwise. */
int x509_check_time(X509 *c, time_t t);
/* c's issuer name is issuer's subject and issuer's key verifies c's signature. */
bool x509_signed_by(X509 *c, X509 *issuer);
/* The subject's common name, for messages. */
void x509_cn(X509 *c, char *out, size_t cap);
/* "2024-01-01T00:00:00Z" */
void time_rfc3339(time_t t, char out[32]);

#endif
