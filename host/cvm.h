/* SPDX-License-Identifier: Apache-2.0 */
/* host: the cvm command-line front end, one file per verb. */
#ifndef CVM_HOST_H
#define CVM_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/lib.h"
#include "measurement/platform.h"

/* Exit codes shared by every verb. */
enum {
	EXIT_OK = 0,
	EXIT_REJECTED = 1, /* input read, and refused */
	EXIT_USAGE = 2,	   /* bad arguments or unreadable file */
};

/* The verbs (host/cvm.c dispatches argv[1]): each returns its exit code. */
int verify_main(int argc, char **argv);
int measure_main(int argc, char **argv);
int initrd_main(int argc, char **argv);
int kbs_main(int argc, char **argv);
int kbs_client_main(int argc, char **argv);
int pack_main(int argc, char **argv);
int keygen_main(int argc, char **argv);
int result_main(int argc, char **argv);
int image_main(int argc, char **argv);
int collateral_main(int argc, char **argv);

/*
 * Verbs that hold keys (kbs, kbs-client, result, pack, keygen, order) call
 * this first: no core dump of this process, ever (harden_no_dump). 0, or
 * logs why and returns EXIT_USAGE.
 */
int host_no_dump(void);

/* A command of a verb: cvm VERB NAME ... runs main(argc, argv) from NAME on. */
struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv);
};
/*
 * cvm VERB with commands: no command prints help to stderr (exit 2),
 * --help or -h to stdout (exit 0); a command runs from its name on;
 * anything else is one line naming the commands (exit 2).
 */
int subcommand_run(int argc, char **argv, const char *verb, const struct subcommand *cmds, size_t n,
		   void (*help)(FILE *f));

/* ---- orders (order.c, docs/order.md) ---- */

/* ---- --reference: reference values or a signed image manifest (refsrc.c) ---- */

struct refsrc {
	struct reference ref; /* the values, or a manifest's pins (--pins) */
	struct manifest m;
	bool is_manifest;
	char label[200];
};

/*
 * Loads --reference PATH. A manifest needs builder_hex (its signature, in
 * sig_path or PATH with .sig for .json, must be that key's); pins_path
 * adds the values it leaves unpredicted (and ak_sha256, luks_header_sha256,
 * acceptance rules). -ENOENT unreadable, -EINVAL usage, -EBADMSG and
 * -EKEYREJECTED refused; err says why.
 */
int refsrc_load(const char *path, const char *builder_hex, const char *sig_path,
		const char *pins_path, struct refsrc *rs, char *err, size_t errlen);
/* The references to try for evidence of platform p (one per launch of a manifest). */
int refsrc_candidates(const struct refsrc *rs, enum cvm_platform p, struct reference **out,
		      size_t *n, char *err, size_t errlen);
void refsrc_free(struct refsrc *rs);

#define ORDER_URL_MAX 2048
#define ORDER_RESOURCE_MAX 255
#define ORDER_IMAGE_MAX 64

/* What a provider accepts; the format's own bounds are ORDER_LIMITS_MAX. */
struct order_limits {
	uint64_t max_vcpus, max_memory_mib, max_deadline_seconds, max_workload_bytes;
};

#define ORDER_MAX_VCPUS 256
#define ORDER_MAX_MEMORY_MIB (4u * 1024 * 1024)
#define ORDER_MAX_DEADLINE_SECONDS (30u * 24 * 3600)
#define ORDER_MAX_WORKLOAD_BYTES (1ull << 40)
#define ORDER_LIMITS_MAX                                                            \
	((struct order_limits){ .max_vcpus = ORDER_MAX_VCPUS,                       \
				.max_memory_mib = ORDER_MAX_MEMORY_MIB,             \
				.max_deadline_seconds = ORDER_MAX_DEADLINE_SECONDS, \
				.max_workload_bytes = ORDER_MAX_WORKLOAD_BYTES })

/* A signed order as parsed and verified: every field checked, the signature too. */
struct order {
	char id[RESULT_ORDER_ID_MAX + 1];
	char workload_url[ORDER_URL_MAX + 1];
	uint8_t workload_sha256[32];
	uint64_t workload_size;
	char broker_url[ORDER_URL_MAX + 1];
	char broker_resource[ORDER_RESOURCE_MAX + 1];
	char image[ORDER_IMAGE_MAX + 1];
	uint64_t vcpus, memory_mib, deadline_seconds;
	char upload_url[ORDER_URL_MAX + 1];
	uint8_t customer_pub[33]; /* compressed secp256k1: signs the order, receives the result */
	uint8_t signature[64];	  /* compact r || s, low S */
	uint8_t sha256[32]; /* of the signed form: what the signature covers (SNP HOST_DATA) */
	uint8_t sha384[48]; /* of the signed form (TDX MRCONFIGID) */
};

/*
 * Parses and verifies an order: one JSON object with exactly the members of
 * docs/order.md, each of its type and range; then the signature by
 * customer_pubkey over SHA-256 of the RFC 8785 form without "signature";
 * then the provider's limits. Refusals are one line in err:
 * "E_ORDER: ..." (-EBADMSG), "E_ORDER_SIGNATURE: ..." (-EKEYREJECTED),
 * "E_ORDER_LIMIT: ..." (-ERANGE).
 */
int order_parse(const char *text, size_t len, const struct order_limits *lim, struct order *o,
		char *err, size_t errlen);
/*
 * Signs an order with k: "customer_pubkey" is added when absent and must
 * name k when present; a "signature" already there is replaced. The result
 * (*out, to free()) is the signed order in RFC 8785 form, checked by
 * order_parse against the format's bounds.
 */
int order_sign(const char *text, size_t len, const struct result_key *k, char **out, char *err,
	       size_t errlen);
/* {"max_vcpus", "max_memory_mib", "max_deadline_seconds", "max_workload_bytes"}, each optional. */
int order_limits_parse(const char *text, size_t len, struct order_limits *lim, char *err,
		       size_t errlen);
/*
 * The host and port of a URL that order_parse accepted (a DNS name or an
 * IPv4 address; the scheme's port when none is given).
 */
int order_url_host_port(const char *url, char *host, size_t cap, uint16_t *port);

/* cvm order sign|check: the exit code. */
int order_main(int argc, char **argv);

/* ---- images and QEMU launch arguments (qemu.c, docs/order.md) ---- */

#define IMAGE_PATH_MAX 1024
#define IMAGE_CMDLINE_MAX 2048

/* How an image boots on one platform ("platforms" of image.json). */
struct image_platform {
	bool supported;
	bool kvm;		       /* plain: KVM instead of TCG; tdx and snp: always */
	bool vtpm;		       /* a swtpm vTPM on tpm-tis */
	char cpu[32];		       /* the -cpu model (part of the SNP launch digest) */
	char firmware[IMAGE_PATH_MAX]; /* -bios: OVMF for TDX or SEV-SNP; "" for QEMU's own */
	uint32_t qgs_port;	       /* tdx: the host's Quote Generation Service, vsock port */
	/* plain: the sim TEE's launch registers, handed to the guest by fw_cfg; "" for none */
	char sim_launch[IMAGE_PATH_MAX];
};

/* An image description (vm-images/NAME/image.json), its paths made absolute or kept as given. */
struct image {
	char name[ORDER_IMAGE_MAX + 1];
	char kernel[IMAGE_PATH_MAX], initrd[IMAGE_PATH_MAX];
	char cmdline[IMAGE_CMDLINE_MAX + 1];
	char broker_address[16]; /* where the guest's agent.json expects the broker; "" for none */
	uint16_t broker_port;
	struct image_platform platform[QEMU_PLATFORMS];
};

/* Parses image.json text; relative paths are taken from dir. "E_IMAGE: why" on refusal. */
int image_parse(const char *text, size_t len, const char *dir, struct image *img, char *err,
		size_t errlen);
/* Reads and parses path; relative paths in it are taken from its directory. */
int image_load(const char *path, struct image *img, char *err, size_t errlen);

/* "plain", "tdx", "snp" and back; parse: -EINVAL for another name. */
int qemu_platform_parse(const char *name, enum qemu_platform *p);
const char *qemu_platform_name(enum qemu_platform p);

/* What a launch needs from the host: its own files. */
struct qemu_paths {
	const char *qemu;	  /* the binary; NULL for qemu-system-x86_64 */
	const char *workload;	  /* the workload volume, attached read-only (the guest's vda) */
	const char *output;	  /* the output disk (vdb) */
	const char *status;	  /* the file the status port writes to */
	const char *swtpm_socket; /* swtpm's control socket, when the platform wants a vTPM */
};

/*
 * The QEMU command line for an order on a platform, as an argv for execv
 * (NULL-terminated, to qemu_args_free). A pure function of its inputs:
 * the launch measurement an image's reference values hold depends on it.
 * -EINVAL with "E_LAUNCH: why" when the image does not support the platform
 * or a path it needs is missing.
 */
int qemu_args(const struct image *img, const struct order *o, enum qemu_platform p,
	      const struct qemu_paths *paths, char ***argv, char *err, size_t errlen);
void qemu_args_free(char **argv);

/* cvm run: the exit code (docs/order.md: 0 uploaded, 1 no result, 2 refused, 3 kept). */
int run_main(int argc, char **argv);

#endif
