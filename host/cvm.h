/* SPDX-License-Identifier: Apache-2.0 */
/* host: the cvm command-line front end, one file per verb. */
#ifndef CVM_HOST_H
#define CVM_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/lib.h"
#include "measurement/order.h"
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
/* cvm initrd tcb IMG: each file of an image, its package and why it is there (initrd_tcb.c). */
int initrd_tcb_main(int argc, char **argv);
/* The same as JSON text (free it): what cvm image build writes to OUT/tcb.json. */
int initrd_tcb_text(const char *img, char **text, char *err, size_t errlen);
int kbs_main(int argc, char **argv);
int kbs_client_main(int argc, char **argv);
/* cvm order new / add-input (host/order_new.c): argv[0] is the verb. */
int order_new_main(int argc, char **argv);
int order_add_input_main(int argc, char **argv);
int pack_main(int argc, char **argv);
/*
 * dm-verity's hash tree (format 1, SHA-256, 4096-byte blocks, no
 * superblock) over data_blocks blocks of data_fd into hash_fd (truncated to
 * verity_tree_size), hashed on every CPU; root gets the root hash. 0 or -errno.
 */
int verity_tree_build(int data_fd, uint64_t data_blocks, const uint8_t *salt, size_t salt_len,
		      int hash_fd, uint8_t root[32]);
uint64_t verity_tree_size(uint64_t data_blocks);
/*
 * The same tree built as the data goes by, on the caller's thread:
 * verity_tree_add the blocks in order (n of them, 4096 bytes each), then
 * verity_tree_end for the levels above and the root.
 */
struct verity_tree;
int verity_tree_new(uint64_t data_blocks, const uint8_t *salt, size_t salt_len, int hash_fd,
		    struct verity_tree **out);
int verity_tree_add(struct verity_tree *t, const uint8_t *blocks, size_t n);
int verity_tree_end(struct verity_tree *t, uint8_t root[32]);
void verity_tree_free(struct verity_tree *t);
int keygen_main(int argc, char **argv);
/* cvm connect, cvm fetch (connect_cmd.c, docs/tunnel.md) */
int connect_main(int argc, char **argv);
int fetch_main(int argc, char **argv);
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

/* Orders themselves (format, signature, order disk, binding): measurement/order.h. */

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
	/*
	 * broker_forward.address: the guest reaches the order's k-th broker at
	 * this IPv4 address + k (agent.json's network.broker_base); "" for none.
	 */
	char broker_address[16];
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
	const char *qemu;	/* the binary; NULL for qemu-system-x86_64 */
	const char *order_disk; /* the order disk, attached read-only (the guest's vda) */
	const char *output;	/* the output disk (vdb) */
	const char *inputs[ORDER_INPUTS_MAX]; /* the order's inputs, read-only (vdc, vdd, ...) */
	const char *status;		      /* the file the status port writes to */
	const char *swtpm_socket; /* swtpm's control socket, when the platform wants a vTPM */
	const char *sim_launch; /* plain: the launch file for this order, instead of the image's */
	const char *tunnel; /* "ADDR:PORT" of the host forwarded to the guest's TLS terminator */
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
