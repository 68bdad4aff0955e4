/* SPDX-License-Identifier: Apache-2.0 */
/* cvm result open | inspect, shared by its checks (result_cmd.c) and its output (result_print.c). */
#ifndef CVM_HOST_RESULT_CMD_H
#define CVM_HOST_RESULT_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "host/cvm.h"
#include "lib/lib.h"
#include "measurement/platform.h"

enum stage {
	ST_FRAMING,
	ST_EVIDENCE,
	ST_BINDING,
	ST_RUNTIME_LOG,
	ST_EVENTS,
	ST_REFERENCE,
	ST_DECRYPT,
	ST__MAX,
};

/* Each stage's name and the error code its refusals carry (framing and decrypt: lib's own). */
struct stage_info {
	const char *name, *code;
};
extern const struct stage_info result_stages[];

enum stage_state { STAGE_NOT_RUN, STAGE_OK, STAGE_SKIPPED, STAGE_FAILED };

struct opts {
	const char *input, *key, *reference, *test_roots, *certs, *collateral, *out, *order;
	const char *builder, *signature, *pins;
	const char *rpc, *contract; /* --rpc: the chain's posted result must be this bundle's */
	uint64_t chain_order;
	bool json, open, accept_unpinned;
	struct result_limits lim;
};

struct file_entry {
	char *path;
	uint64_t size;
	bool dir;
};

struct run {
	struct opts o;
	struct reference ref;
	struct refsrc rsrc;
	struct result_key key;
	struct result_source src;
	bool disk;
	struct result_info in;
	bool have_info;
	struct order order; /* --order, parsed and its signature checked */
	bool have_order;
	enum cvm_platform tee;
	const struct platform *pl; /* the row of tee */
	struct kbs_evidence ev;
	struct platform_verifiers pv;
	struct verdict v;    /* the evidence: genuine and binding */
	struct verdict vref; /* the evidence against --reference */
	bool have_v, have_vref;
	uint8_t reg[48];
	size_t reglen;
	struct runtime_log log;
	bool have_log;
	enum stage_state state[ST__MAX];
	char detail[ST__MAX][320];
	char error[600]; /* "E_...: why" of the first refusal */
	int usage;	 /* a usage problem found on the way (EXIT_USAGE) */
	struct file_entry *files;
	size_t nfiles;
};

/* The checks' outcome, stage by stage, and the files, on stdout: as text, or as JSON (--json). */
void result_print_text(const struct run *r, bool ok);
void result_print_json(const struct run *r, bool ok);

#endif
