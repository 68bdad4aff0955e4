/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One row per platform (platform.c): everything cvm knows of a kind of
 * evidence, in one place, the way cryptsetup keeps one handler per keyslot
 * type. Verbs, the key broker and the result code look a platform up here
 * and call through its row; none of them compares PLATFORM_* values for
 * platform-specific work.
 *
 * A new platform is a new row (and the file holding its parse and verify
 * functions), its tests, and its reference values' section if it has its
 * own: docs/hacking.md counts the files.
 */
#ifndef CVM_PLATFORM_H
#define CVM_PLATFORM_H

#include "measurement/measurement.h"

/*
 * How cvm run launches a platform's guest in QEMU (host/qemu.c): a row's
 * qemu_shape, named by its qemu.
 */
enum qemu_platform {
	QEMU_PLAIN, /* no TEE: TCG or KVM, for development */
	QEMU_TDX,   /* Intel TDX, upstream QEMU 10.1 or later */
	QEMU_SNP,   /* AMD SEV-SNP, upstream QEMU 9.1 or later */
	QEMU_PLATFORMS,
};

/* The verifiers a row's verify may use; each is created by its caller. */
struct platform_verifiers {
	struct snp_verifier *snp;
	struct tdx_verifier *tdx;
};

/* Which sections of reference values (struct reference) a platform's evidence is checked against. */
enum {
	REF_SECTION_SNP = 1u << 0,
	REF_SECTION_TDX = 1u << 1,
	REF_SECTION_TPM = 1u << 2,
};

struct platform {
	enum cvm_platform id;
	/* cvm's own name: --json "platform", manifests, logs */
	const char *name;
	/* its "tee" in the key broker protocol (Trustee's Tee, as serde names it) */
	const char *kbs_tee;
	/*
	 * The member of a "primary_evidence" object that names this shape
	 * (cvm verify of JSON evidence): rows are tried in table order, so a
	 * shape that also carries another's member comes first.
	 */
	const char *json_member;
	/* the sections of reference values its evidence is checked against */
	unsigned ref_sections;
	/*
	 * The register the agent's runtime event log extends: "rtmr3" (TDX,
	 * 48 bytes), "pcr15" (TPM, SHA-256 bank, 32); NULL, 0 when none.
	 */
	const char *runtime_reg;
	size_t runtime_reg_len;
	/*
	 * The field the host sets at launch and the evidence carries, which
	 * binds the launch to one order: "mrconfigid" (TDX, 48 bytes, SHA-384
	 * of the order), "host_data" (SNP, 32, SHA-256); NULL, 0 when none.
	 */
	const char *launch_binding;
	size_t launch_binding_len;
	/* `cvm run`'s QEMU launch shape ("plain", "tdx", "snp"); NULL: cvm cannot launch it */
	const char *qemu;
	/*
	 * A "primary_evidence" JSON object into e (e->platform already set;
	 * runtime_eventlog already taken). err names the member at fault.
	 */
	int (*parse)(const cJSON *ev, struct kbs_evidence *e, char *err, size_t errlen);
	/*
	 * kbs_evidence_verify in two steps (kbs_evidence_genuine and
	 * kbs_claims_match): the checks that need no reference values, from
	 * a fresh v, filling c; then c against ref (never NULL) and
	 * report_data, appended to v, with the runtime register. Each records
	 * a refusal in v and may return 0 or -1 with it.
	 */
	int (*verify)(const struct kbs_evidence *e, const struct platform_verifiers *pv,
		      struct kbs_claims *c, struct verdict *v);
	int (*match)(const struct kbs_claims *c, const struct reference *ref,
		     const uint8_t *report_data, uint8_t reg[48], size_t *reglen,
		     struct verdict *v);

	/* ---- what the verbs ask of a platform (members from here on may be left 0) ---- */
	/* as a user reads it: "SEV-SNP"; and its evidence: "an SNP report" */
	const char *title;
	const char *noun;
	/* the runtime register as messages and event printers name it: "RTMR3"; NULL when none */
	const char *runtime_label;
	/* PLATFORM_OPT_*: the options of cvm verify and cvm result open that apply to it */
	unsigned opts;
	/* PLATFORM_VERIFIER_*: the verifiers its verify uses (platform_verifiers_new) */
	unsigned verifiers;
	/*
	 * The launch registers, by bit (names in manifests, "unpredicted" and
	 * messages; where a reference holds them); the bits a complete
	 * reference pins; what they measure, for messages.
	 */
	const struct platform_reg *launch_regs;
	size_t nlaunch_regs;
	uint32_t launch_required;
	const char *launch_covers;
	/*
	 * The member of a manifest's launch holding the registers as an object
	 * keyed by register number ("pcrs": {"0": hex}); NULL: each register
	 * is a member by its name.
	 */
	const char *launch_regs_member;
	/* ...and what such a key may name, for messages: "a boot PCR (0-7, 9)" */
	const char *launch_regs_key_text;
	/* The members a manifest's launch may have (NULL-terminated). */
	const char *const *launch_members;
	/* The launch digest depends on the vCPU count and type (SNP's VMSAs), not the memory size. */
	bool launch_by_vcpus;
	/* PLATFORM_LAUNCH_*: the files an image builder names for a launch besides kernel and initrd */
	unsigned launch_inputs;
	/* The bank of launch_regs_member in cvm measure's JSON output ("sha256"); NULL: none. */
	const char *measure_bank;
	/*
	 * The reference's pin of the key that signs the evidence, when no
	 * vendor chain vouches for it (TPM: ak_sha256); NULL when a chain does.
	 */
	const struct platform_reg *key_pin;
	/*
	 * Raw evidence, as a file holds a report or quote: whether buf is this
	 * platform's, and e from it (e->platform set by the caller); NULL when
	 * the platform has JSON evidence only. raw_needs: set when raw
	 * evidence carries no certificate chain, so that --certs must give
	 * one; what it takes, for the message ("--certs DIR with its VCEK").
	 */
	bool (*raw_detect)(const uint8_t *buf, size_t len);
	int (*from_raw)(const uint8_t *buf, size_t len, struct kbs_evidence *e);
	const char *raw_needs;
	/*
	 * Whether a reference pins a whole launch on this platform (err says
	 * what is missing); NULL: reference_complete(r, id).
	 */
	int (*ref_complete)(const struct reference *r, enum cvm_platform p, char *err,
			    size_t errlen);
	/*
	 * The claims of evidence whose form checked (cvm verify --json) and a
	 * one-line summary of it; NULL when it does not parse.
	 */
	cJSON *(*claims)(const struct kbs_evidence *e, char *summary, size_t cap);
	/* The summary of genuine evidence in cvm result open. */
	const char *genuine;
	/*
	 * Whether the primary evidence e was parsed from carries only what
	 * its checks read (cvm result open, docs/result.md).
	 */
	bool (*shape_exact)(const cJSON *ev, const struct kbs_evidence *e);
	/* The QEMU launch shape qemu names (meaningful only when qemu is set). */
	enum qemu_platform qemu_shape;
};

/*
 * What a row's genuine step established of evidence e, for its match step:
 * parsed from the bytes whose signatures verified, pointing into e, which
 * neither changes nor goes while they live.
 */
struct kbs_claims {
	const struct kbs_evidence *e;
	struct snp_report snp; /* snp, az-snp-vtpm: the SEV-SNP report */
	char snp_product[SNP_PRODUCT_NAME_MAX];
	struct tdx_quote tdx; /* tdx, az-tdx-vtpm: the TD quote */
	struct tdx_tcb tcb;
	struct tpm_quote tpm; /* tpm, az-*: the (v)TPM's quote */
	uint8_t ak_sha256[32];
	uint8_t user_data[64]; /* az-*: the var data's user-data, when has_user_data */
	bool has_user_data;
};

/* A value of struct reference: its name, where its has_ flag and bytes are, how long. */
struct platform_reg {
	const char *name;
	size_t has, val, len;
};

enum {
	PLATFORM_OPT_CERTS = 1u << 0,	   /* --certs DIR: the evidence's certificate chain */
	PLATFORM_OPT_COLLATERAL = 1u << 1, /* --collateral DIR: TCB status from the vendor */
	PLATFORM_OPT_TEST_ROOTS = 1u << 2, /* --test-roots PEM: its chain ends in a vendor root */
};

enum {
	PLATFORM_LAUNCH_FIRMWARE = 1u
				   << 0, /* the firmware (OVMF) is measured: build.json names it */
	PLATFORM_LAUNCH_VARS = 1u << 1,	 /* and its variable store, when given */
};

enum {
	PLATFORM_VERIFIER_SNP = 1u << 0,
	PLATFORM_VERIFIER_TDX = 1u << 1,
};

/* The row of p; NULL for PLATFORM_NONE or an unknown value. */
const struct platform *platform_get(enum cvm_platform p);
/* By cvm's name, or by its name in the broker protocol; NULL when none. */
const struct platform *platform_by_name(const char *name);
const struct platform *platform_by_kbs_tee(const char *tee);
/* The row whose json_member ev has, first in table order; NULL when none. */
const struct platform *platform_of_json(const cJSON *ev);
/* The rows in order, for listings: NULL after the last. */
const struct platform *platform_at(size_t i);
/* The row whose QEMU launch shape is s; NULL when none launches so. */
const struct platform *platform_by_qemu_shape(enum qemu_platform s);
/* The row of raw evidence (a report or quote as a file holds it), first in table order; NULL when none. */
const struct platform *platform_of_raw(const uint8_t *buf, size_t len);

/* Whether r has a section of reference values pl's evidence is checked against. */
bool platform_in_reference(const struct platform *pl, const struct reference *r);
/*
 * A manifest launch's registers (launch, docs/image.md) from what cvm
 * measure --output-format json predicted for pl (measured: its member
 * named pl->name); the names of those it could not predict are added to
 * unpredicted when given.
 */
int platform_launch_from_measure(const struct platform *pl, const cJSON *measured, cJSON *launch,
				 cJSON *unpredicted);
/* Marks r as having the sections of reference values pl's evidence is checked against. */
void platform_reference_add(const struct platform *pl, struct reference *r);
/* The launch registers r pins, as bits of pl->launch_regs. */
uint32_t platform_pinned(const struct platform *pl, const struct reference *r);
/* Whether r pins pl's signing key (true when the platform has no key_pin). */
bool platform_key_pinned(const struct platform *pl, const struct reference *r);
/*
 * NULL when the options given fit pl's evidence; else the usage error, as
 * "--collateral applies to TDX evidence; this is snp evidence".
 */
const char *platform_options_misfit(const struct platform *pl, unsigned given, char *buf,
				    size_t cap);
/*
 * The verifiers pl's verify uses, under test_roots (NULL: the built-in
 * roots), collateral (TDX, may be NULL) and now (0: the current time).
 * err names what failed. platform_verifiers_free() after, also on failure.
 */
int platform_verifiers_new(const struct platform *pl, const char *test_roots,
			   const char *collateral, time_t now, struct platform_verifiers *pv,
			   char *err, size_t errlen);
void platform_verifiers_free(struct platform_verifiers *pv);

#endif
