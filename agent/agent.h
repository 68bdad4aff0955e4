/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent: what runs inside the confidential VM. This part: the TEE backends
 * that produce evidence binding 64 bytes of report_data, and the key-release
 * client that speaks the Trustee KBS protocol (RCAR, version 0.4.0).
 */
#ifndef CVM_AGENT_H
#define CVM_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "measurement/measurement.h"

/* ---- TEE backends ---- */

struct tee_config {
	const char *tcti;	  /* tpm: a tss2 TCTI ("swtpm:host=...,port=..."); default device */
	const char *runtime_log;  /* a CEL-JSON file to send as runtime_eventlog, or NULL */
	const char *sim_pki;	  /* sim: the test PKI directory (scripts/gen-test-pki) */
	const char *sim_platform; /* sim: "snp" or "tdx" (default) */
	const char *sim_measurement;	/* sim: hex SNP MEASUREMENT or TDX MRTD to report */
	const uint8_t *sim_report_data; /* sim: report this instead of the binding (attacks) */
};

struct tee {
	const char *name;    /* the backend: "sim", "tpm" */
	const char *kbs_tee; /* the protocol's "tee": "snp", "tdx", "tpm" */
	/* The protocol's "primary_evidence" binding report_data. */
	int (*evidence)(struct tee *t, const uint8_t report_data[64], cJSON **primary, char *err,
			size_t errlen);
	void (*close)(struct tee *t);
	/*
	 * Extends the runtime register (TDX RTMR3: SHA-384; TPM PCR 15: SHA-256)
	 * with digest; NULL when the platform has none (SEV-SNP).
	 */
	int (*extend)(struct tee *t, const uint8_t *digest, size_t len, char *err, size_t errlen);
	enum cvm_platform runtime; /* PLATFORM_TDX or PLATFORM_TPM: the register's kind */
	struct tee_config cfg;
	void *priv;
};

/* Opens a backend by name ("sim", "tpm", or "auto": the first that works). */
int tee_open(const char *name, const struct tee_config *cfg, struct tee **out, char *err,
	     size_t errlen);
void tee_close(struct tee *t);
/* Adds "runtime_eventlog" (the text of cfg.runtime_log) to primary evidence, when set. */
int tee_add_runtime_log(const struct tee *t, cJSON *primary, char *err, size_t errlen);

/* Backends; the sim backend is linked into test builds only (tee_sim.c). */
int tee_sim_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen)
	__attribute__((weak));
int tee_tpm_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen);
/* tpm: SHA-256 of the AK's SubjectPublicKeyInfo, the value a policy pins as ak_sha256. */
int tee_tpm_ak_sha256(struct tee *tee, uint8_t out[32]);

/*
 * Measures value under name before the agent acts on it: extends the
 * runtime register and appends the CEL-JSON record to cfg.runtime_log
 * (rewritten whole, atomically). -ENOTSUP on a platform without one.
 */
int tee_measure(struct tee *t, const char *name, const uint8_t *value, size_t n, char *err,
		size_t errlen);

/* ---- key release (Trustee KBS protocol, RCAR 0.4.0) ---- */

struct kbs_options {
	const char *url;	 /* https://host:port, no trailing path */
	const char *cacert;	 /* PEM file of the broker's certificate or CA (pinned) */
	long connect_timeout_ms; /* default 5000 */
	long total_timeout_ms;	 /* per request; default 30000 */
	unsigned retries;	 /* attempts after the first, on network errors; default 3 */
	long backoff_ms;	 /* first backoff, doubled each retry; default 200 */
	size_t max_response;	 /* cap on any response body; default 1 MiB */
};

/*
 * Runs the handshake (auth, attest) with evidence from tee binding a fresh
 * P-256 key, then fetches repo/type/tag. The plaintext resource is in
 * secret memory: release it with secret_free(*secret, *n). Errors are one
 * line in err; a broker's RFC 7807 detail is quoted there.
 */
int kbs_get_resource(const struct kbs_options *o, struct tee *tee, const char *resource,
		     uint8_t **secret, size_t *n, char *err, size_t errlen);

/* Validates a resource path "repo/type/tag": three non-empty parts of [A-Za-z0-9._-], no "..". */
bool kbs_resource_path_valid(const char *path);

/*
 * report_data of the protocol: SHA-384 of the RFC 8785 form of
 * {"additional-evidence": "", "nonce": nonce, "tee-pubkey": jwk}, zero-padded to 64 bytes.
 */
int kbs_report_data(const char *nonce, const cJSON *jwk, const char *hash, uint8_t out[64]);

/* ---- the workload volume (volume.c) ---- */

struct volume {
	char device[256];
	uint64_t size;
	struct luks2_header hdr; /* validated; hdr.sha256 is what the agent measures */
	int memfd;		 /* the header area, sealed, the only copy used */
	char header_path[64];
};

/* Reads the header area once, validates it (E_LUKS_*), keeps it in a sealed memfd. */
int volume_open(const char *device, const struct luks2_allow *allow, struct volume *v, char *err,
		size_t errlen);
/* Unlocks with the in-memory header; name NULL checks the key without device-mapper. */
int volume_unlock(struct volume *v, const char *name, const uint8_t *pass, size_t n, char *err,
		  size_t errlen);
void volume_close(struct volume *v);

/* What `cvm pack` wrote into volume.key, as the broker releases it. */
struct volume_key {
	uint8_t pass[32]; /* the keyslot's passphrase: wipe after use */
	uint8_t header_sha256[32];
	uint8_t root_hash[32], salt[32];
	uint64_t data_blocks, hash_offset;
};

int volume_key_parse(const char *text, size_t len, struct volume_key *k, char *err, size_t errlen);
/* dm-crypt, dm-verity and a read-only, nodev, nosuid mount of NAME at mountpoint (guest only). */
int volume_activate(struct volume *v, const struct volume_key *k, const char *name,
		    const char *mountpoint, char *err, size_t errlen);

#endif
