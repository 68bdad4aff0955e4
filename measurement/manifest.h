/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image manifests (manifest.c, docs/image.md) and a key broker resource's
 * policy (kbs_policy.c, docs/kbs.md).
 * Part of measurement/measurement.h, which includes it where its sections
 * stood; including either one gives both.
 */
#ifndef CVM_MEASUREMENT_MANIFEST_H
#define CVM_MEASUREMENT_MANIFEST_H

#include "measurement/measurement.h"

/* ---- image manifests (manifest.c, docs/image.md) ---- */

#define MANIFEST_FORMAT 1
#define MANIFEST_LAUNCHES_MAX 64

/*
 * The launch registers that pin an image, as bits: TDX mrtd, rtmr0, rtmr1,
 * rtmr2 (bits 0-3); SNP measurement (bit 0); TPM PCR i (bit i; PCR 0-7 and
 * 9 are required: firmware, kernel, initrd and command line).
 */
uint32_t launch_registers_required(enum cvm_platform p);
/* The launch registers a reference pins. */
uint32_t reference_pinned(const struct reference *r, enum cvm_platform p);
/* "rtmr1, rtmr2" for bits. */
void launch_registers_text(enum cvm_platform p, uint32_t bits, char *out, size_t cap);
/*
 * -EINVAL, with what is missing in err, when r leaves a launch register of
 * p unpinned (or, for tpm, the attestation key): such a reference would
 * accept an image nobody approved.
 */
int reference_complete(const struct reference *r, enum cvm_platform p, char *err, size_t errlen);

struct manifest_platform {
	bool present;
	uint32_t unpredicted; /* launch registers the manifest leaves to the policy */
	size_t n;
	struct reference *launches; /* one per launch offered: this platform's registers only */
	char (*labels)[64];	    /* "1024 MiB", "2 vCPU EPYC-v4" */
};

struct manifest {
	char name[65], version[65];
	uint8_t sha256[32]; /* SHA-256 of its RFC 8785 form: what is signed, and its name */
	struct manifest_platform p[PLATFORM_TPM + 1]; /* by enum cvm_platform */
};

/* Strict parse; errors read "E_MANIFEST: why". */
int manifest_parse(const char *text, size_t len, struct manifest *m, char *err, size_t errlen);
void manifest_free(struct manifest *m);
/* Whether JSON text is an object with a "manifest" member (a manifest, not reference values). */
bool manifest_text_is_manifest(const char *text, size_t len);
/* The detached signature {"builder", "signature"} (secp256k1, compact, low S) over m.sha256. */
int manifest_sign(const char *text, size_t len, const struct result_key *k, char **sig_json,
		  char *err, size_t errlen);
/*
 * Checks a detached signature over m. builder (33 bytes) NULL: any signer,
 * returned in signer (may be NULL). "E_MANIFEST_SIGNATURE: why" on refusal.
 */
int manifest_check_signature(const struct manifest *m, const char *sig, size_t siglen,
			     const uint8_t *builder, uint8_t signer[33], char *err, size_t errlen);
/*
 * One complete reference per launch of platform p: pins (acceptance rules,
 * hand-pinned registers the manifest leaves unpredicted, AK, LUKS header)
 * with the launch's registers. Refused when pins repeat a predicted
 * register, or when a candidate is not complete (err names what).
 */
int manifest_candidates(const struct manifest *m, enum cvm_platform p, const struct reference *pins,
			struct reference **out, size_t *n, char *err, size_t errlen);
/*
 * kbs_claims_match against each candidate: 0 as soon as one passes; else v
 * holds the verdict of the candidate that got furthest (so its failure
 * names the register that differs). Each candidate's checks follow those v
 * held on entry (the genuine ones, or none). n 0: no reference (secure
 * defaults).
 */
int kbs_claims_match_any(const struct kbs_claims *c, const struct reference *cands, size_t n,
			 const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
			 struct verdict *v);
/* kbs_evidence_genuine once, then kbs_claims_match_any; v gets both steps' checks. */
int kbs_evidence_verify_any(const struct kbs_evidence *e, struct snp_verifier *snp,
			    struct tdx_verifier *tdx, const struct reference *cands, size_t n,
			    const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
			    struct verdict *v);

/* ---- a key broker resource's policy (kbs_policy.c) ---- */

/*
 * A resource's policy, <store>/policies/<repo>/<type>/<tag>.json:
 * {"image": {"manifest_sha256"} | {"builder", "name"}, "platforms": [...],
 *  "reference": {reference values, docs/design.md §6}, "require_runtime_log": bool}
 */
struct kbs_policy {
	struct reference ref; /* without an image: complete; with one: the pins */
	bool require_runtime_log;
	bool has_image, image_by_digest;
	uint8_t image_sha256[32];
	uint8_t image_builder[33];
	char image_name[65];
	unsigned platforms; /* 1u << enum cvm_platform; 0: every platform of the image */
	/* after kbs_policy_resolve: the complete references, per platform */
	struct reference *cands[PLATFORM__COUNT];
	size_t ncands[PLATFORM__COUNT];
	char image_label[160]; /* "default 1 (sha256 ab12...)" */
	/* "order": the session must carry a bound order meeting these (docs/kbs.md) */
	bool has_order;
	uint8_t (*customers)[33]; /* order.customer_pubkey: one of these keys (heap) */
	size_t ncustomers;
	uint8_t (*solutions)[32]; /* order.solution_luks_header_sha256: one of these (heap) */
	size_t nsolutions;
};

struct order;
/*
 * The policy's demands on the order a session carries (NULL: none), for
 * resource (which an input of the order must name). 0, or -EKEYREJECTED
 * with err naming the rule.
 */
int kbs_policy_check_order(const struct kbs_policy *p, const struct order *o, const char *resource,
			   char *err, size_t errlen);

/*
 * Strict: unknown members refused; without "image", the reference must pin
 * every launch register of each platform it names (reference_complete);
 * tpm needs ak_sha256; luks needs tdx or tpm. kbs_policy_free() after.
 */
int kbs_policy_parse(const char *text, size_t len, struct kbs_policy *p, char *err, size_t errlen);
/*
 * Finds the image the policy names among the signed manifests of
 * images_dir (<sha256>.json with <sha256>.sig), checks their signatures,
 * and makes the complete references of every platform the policy accepts.
 * Refused (err names why) when no manifest matches, a signature fails, or
 * a platform would be left incomplete.
 */
int kbs_policy_resolve(struct kbs_policy *p, const char *images_dir, char *err, size_t errlen);
void kbs_policy_free(struct kbs_policy *p);

#endif
