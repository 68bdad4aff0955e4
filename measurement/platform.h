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
	/* As kbs_evidence_verify, with ref never NULL. */
	int (*verify)(const struct kbs_evidence *e, const struct platform_verifiers *pv,
		      const struct reference *ref, const uint8_t *report_data, uint8_t reg[48],
		      size_t *reglen, struct verdict *v);
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

#endif
