/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Orders, version 2 (docs/order.md): what a customer asks a provider to
 * run, signed with the customer's secp256k1 key. One format for the three
 * readers of an order: the provider's host (`cvm run`, `cvm order`), the
 * agent in the guest (which checks the signature and the launch binding
 * before it uses any field) and each input's key broker (which gets the
 * order in the attestation request and checks it against the evidence).
 * Every reader takes it as hostile input.
 */
#ifndef CVM_ORDER_H
#define CVM_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "lib/lib.h"

struct kbs_evidence;

#define ORDER_VERSION 2
#define ORDER_TEXT_MAX (1u << 20) /* the order's text, bytes */
#define ORDER_URL_MAX 2048
#define ORDER_RESOURCE_MAX 255
#define ORDER_IMAGE_MAX 64
#define ORDER_INPUTS_MAX 16	/* inputs of one order */
#define ORDER_BROKERS_MAX 16	/* distinct broker hosts:ports of one order */
#define ORDER_INPUT_NAME_MAX 32 /* [a-z0-9][a-z0-9_-]* */
#define ORDER_MOUNT_MAX (sizeof("/inputs/") - 1 + ORDER_INPUT_NAME_MAX)
#define ORDER_CA_MAX 16384 /* a broker's pinned CA, PEM text */

/* What a provider accepts; the format's own bounds are ORDER_LIMITS_MAX. */
struct order_limits {
	uint64_t max_vcpus, max_memory_mib, max_deadline_seconds, max_workload_bytes;
};

#define ORDER_MAX_VCPUS 256
#define ORDER_MAX_MEMORY_MIB (4u * 1024 * 1024)
#define ORDER_MAX_DEADLINE_SECONDS (30u * 24 * 3600)
#define ORDER_MAX_WORKLOAD_BYTES (1ull << 40) /* one input's volume, and all of them together */
#define ORDER_LIMITS_MAX                                                            \
	((struct order_limits){ .max_vcpus = ORDER_MAX_VCPUS,                       \
				.max_memory_mib = ORDER_MAX_MEMORY_MIB,             \
				.max_deadline_seconds = ORDER_MAX_DEADLINE_SECONDS, \
				.max_workload_bytes = ORDER_MAX_WORKLOAD_BYTES })

enum order_role { ORDER_ROLE_SOLUTION, ORDER_ROLE_DATA };

/* A broker as an order names it: where, which resource, and the TLS trust to reach it with. */
struct order_broker {
	char url[ORDER_URL_MAX + 1]; /* https://HOST[:PORT], no path */
	char host[256];		     /* the URL's host (DNS name or dotted IPv4) */
	uint16_t port;		     /* the URL's port (443 when none is given) */
	char resource[ORDER_RESOURCE_MAX + 1];
	char *ca;      /* "ca": PEM of the broker's CA or certificate (heap), or NULL */
	bool has_spki; /* "spki_sha256" given */
	uint8_t spki_sha256
		[32]; /* SHA-256 of the broker certificate's SubjectPublicKeyInfo (DER) */
	/*
	 * The order's k-th distinct HOST:PORT (0-based, in the order of
	 * inputs[]): the guest reaches it at the image's forward base + k
	 * (docs/order.md), through the host.
	 */
	unsigned forward;
};

struct order_input {
	char name[ORDER_INPUT_NAME_MAX + 1];
	enum order_role role;
	char url[ORDER_URL_MAX + 1]; /* volume.url */
	uint8_t sha256[32];	     /* volume.sha256 */
	uint64_t size;		     /* volume.size */
	uint8_t luks_header_sha256[32];
	struct order_broker broker;
	char mount[ORDER_MOUNT_MAX + 1]; /* /inputs/NAME unless the order says another /inputs/X */
};

/* A signed order as parsed and verified: every field checked, the signature too. */
struct order {
	char id[RESULT_ORDER_ID_MAX + 1];
	char image[ORDER_IMAGE_MAX + 1];
	uint64_t vcpus, memory_mib, deadline_seconds;
	struct order_input inputs[ORDER_INPUTS_MAX];
	size_t ninputs;
	size_t solution;   /* the index of the one input of role solution */
	unsigned nbrokers; /* distinct HOST:PORT among the inputs' brokers */
	char upload_url[ORDER_URL_MAX + 1];
	uint8_t customer_pub[33]; /* compressed secp256k1: signs the order, receives the result */
	uint8_t signature[64];	  /* compact r || s, low S */
	uint8_t sha256[32]; /* of the signed form: what the signature covers (SNP HOST_DATA) */
	uint8_t sha384[48]; /* of the signed form (TDX MRCONFIGID) */
	char *signed_form;  /* the RFC 8785 form without "signature" (heap, NUL-terminated) */
	size_t signed_len;
};

/*
 * Parses and verifies an order: one JSON object (at most ORDER_TEXT_MAX
 * bytes) with exactly the members of docs/order.md, each of its type and
 * range; then the signature by customer_pubkey over SHA-256 of the RFC 8785
 * form without "signature"; then the provider's limits (NULL: the format's
 * bounds). Refusals are one line in err: "E_ORDER: ..." (-EBADMSG),
 * "E_ORDER_VERSION: ..." (-EBADMSG: an order of another version, the
 * version-1 form named as such), "E_ORDER_SIGNATURE: ..." (-EKEYREJECTED),
 * "E_ORDER_LIMIT: ..." (-ERANGE). Release with order_free (also after a
 * refusal).
 */
int order_parse(const char *text, size_t len, const struct order_limits *lim, struct order *o,
		char *err, size_t errlen);
void order_free(struct order *o);
/* Cleanup attribute for a struct order on the stack. */
void order_freep(struct order *o);

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
/* The input of o that names resource at a broker, or NULL. */
const struct order_input *order_input_by_resource(const struct order *o, const char *resource);
/* The k-th distinct broker of o (k < o->nbrokers): the first input's broker with that forward. */
const struct order_broker *order_broker_at(const struct order *o, unsigned k);

/*
 * The order an /attest request carries as Trustee's "init-data" (docs/kbs.md):
 * {"format": "json", "body": <its signed form>, "signature": <128 hex>},
 * rebuilt, parsed and its signature checked into o (order_free after).
 * -ENOENT without init-data; -EINVAL with err for a malformed one;
 * order_parse's codes for an order it refuses.
 */
int order_from_init_data(const cJSON *request, struct order *o, char *err, size_t errlen);

/* ---- the order disk (order_disk.c, docs/order.md) ---- */

/*
 * A small read-only disk the host gives the guest, holding the order's
 * text as the customer signed it:
 *   0  4  magic "CVMO"
 *   4  4  version 2 (little-endian)
 *   8  4  length of the text, 1 to ORDER_TEXT_MAX (little-endian)
 *   12 .. the text; then zeros to a multiple of 4096 bytes
 */
#define ORDER_DISK_MAGIC "CVMO"
#define ORDER_DISK_VERSION 2

/* Writes the order disk at path (created or truncated, mode 0644, fsync'd). */
int order_disk_write(const char *path, const char *text, size_t len, char *err, size_t errlen);
/*
 * Reads an order disk (a device or a file) as hostile input: the text
 * (*text, to free(), NUL-terminated; its length in *len) is not parsed.
 * "E_ORDER_DISK: why" on refusal.
 */
int order_disk_read(const char *path, char **text, size_t *len, char *err, size_t errlen);

/* ---- the order in the evidence (order_bind.c, docs/order.md §4) ---- */

/*
 * The launch-binding field of evidence whose form checked (TDX MRCONFIGID,
 * 48 bytes; SNP HOST_DATA, 32) into out, its length in *len; -ENOTSUP when
 * the platform has none (TPM, Azure's vTPM platforms).
 */
int evidence_launch_binding(const struct kbs_evidence *e, uint8_t out[48], size_t *len);
/*
 * Whether evidence e (genuine: the caller has verified it) was launched
 * for order o: the launch-binding field equals the order's digest (SHA-384
 * on TDX, SHA-256 on SNP), or, on a platform without one, the runtime log
 * (e->runtime_log) has the "order" event (value: the order's SHA-256) as
 * its first record after the agent's own ("agent-version", "agent-config").
 * -EKEYREJECTED with "E_ORDER_BINDING: why" otherwise.
 */
int order_evidence_check(const struct kbs_evidence *e, const struct order *o, char *err,
			 size_t errlen);

#endif
