/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent: what runs inside the confidential VM. This part: the TEE backends
 * that produce evidence binding 64 bytes of report_data, and the key-release
 * client that speaks the Trustee KBS protocol (RCAR, version 0.4.0).
 */
#ifndef CVM_AGENT_H
#define CVM_AGENT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "measurement/measurement.h"

/* ---- TEE backends (docs/measurements.md) ---- */

/*
 * The kernel's side of the kernel backends, replaceable so that host tests
 * run them against a fake tree: device ioctls, and the configfs and sysfs
 * operations the kernel acts on. Each returns 0 or a negative errno; a
 * member left NULL is the system call itself.
 */
struct tee_kernel_ops {
	int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
	int (*mkdir)(void *ctx, const char *path);
	int (*rmdir)(void *ctx, const char *path);
	/* one write(2) of data at offset 0, as sysfs and configfs attributes take it */
	int (*write)(void *ctx, const char *path, const void *data, size_t len);
	void *ctx;
};

struct tee_config {
	const char *root; /* prefix of every kernel path; NULL or "" in production */
	const struct tee_kernel_ops *ops; /* NULL: the system calls themselves */
	/*
	 * The TPM for PCR 15 and the tpm backend: a tss2 TCTI
	 * ("swtpm:host=...,port=..."); NULL: <root>/dev/tpmrm0 when it exists and
	 * root is set (the agent sets ""), so that nothing else touches a host's PCR 15.
	 */
	const char *tcti;
	const char *runtime_log; /* a CEL-JSON file to send as runtime_eventlog, or NULL */
	const char *az_imds;	 /* az: the host's metadata service; NULL: http://169.254.169.254 */
	const char *sim_pki;	 /* sim: the test PKI directory (scripts/gen-test-pki) */
	const char *sim_platform;	/* sim: "snp" or "tdx" (default) */
	const char *sim_measurement;	/* sim: hex SNP MEASUREMENT or TDX MRTD to report */
	const char *sim_launch;		/* sim: a launch file instead (sim_launch_parse) */
	const uint8_t *sim_report_data; /* sim: report this instead of the binding (attacks) */
};

/* A TPM's PCR 15, where runtime measurements go whatever the evidence backend (tee_tpm.c). */
struct tee_tpm;

struct tee {
	const char *name; /* the backend: "tsm", "tdx-guest", "sev-guest", "az", "tpm", "sim" */
	const char *
		kbs_tee; /* the protocol's "tee": "snp", "tdx", "az-snp-vtpm", "az-tdx-vtpm", "tpm" */
	/* The protocol's "primary_evidence" binding report_data. */
	int (*evidence)(struct tee *t, const uint8_t report_data[64], cJSON **primary, char *err,
			size_t errlen);
	void (*close)(struct tee *t);
	/* The backend's own runtime register, TDX RTMR3 (SHA-384); NULL when it has none. */
	int (*extend)(struct tee *t, const uint8_t *digest, size_t len, char *err, size_t errlen);
	enum cvm_platform runtime; /* PLATFORM_TDX when extend is RTMR3 */
	struct tee_config cfg;
	void *priv;
	struct tee_tpm *pcr; /* PCR 15's TPM: the tpm backend's own, or found by tee_measure */
	bool pcr_probed;     /* tee_measure looked for a TPM */
	/* kernel backends: the platform's evidence, to which tee.c adds the runtime log */
	int (*platform_evidence)(struct tee *t, const uint8_t report_data[64], cJSON **primary,
				 char *err, size_t errlen);
};

/*
 * Opens a backend by name: "tsm" (configfs-tsm), "tdx-guest", "sev-guest",
 * "az", "tpm", "sim" (test builds), or "auto": the first of tsm, tdx-guest,
 * sev-guest, az and tpm that opens (never sim); err then says what each said.
 */
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
 * Azure confidential VMs (tee_az.c): SEV-SNP or TDX behind a paravisor whose
 * vTPM holds an HCL report; -ENODEV when the TPM has no HCL report of a known type.
 */
int tee_az_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen);
/* The kernel backends (tee_kernel.c). */
int tee_tsm_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen);
int tee_tdx_guest_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen);
int tee_sev_guest_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen);

/* The TPM of cfg for PCR 15; -ENODEV when there is none. PCR 15 needs the SHA-256 bank. */
int tee_tpm_pcr_open(const struct tee_config *cfg, struct tee_tpm **out, char *err, size_t errlen);
/* Whether the TPM has PCR 15 in the SHA-384 bank. */
bool tee_tpm_pcr_sha384(const struct tee_tpm *p);
/* Extends PCR 15 in the SHA-256 bank and, when the TPM has it, the SHA-384 bank. */
int tee_tpm_pcr_extend(struct tee_tpm *p, const uint8_t sha256[32], const uint8_t sha384[48],
		       char *err, size_t errlen);
/* The ESAPI context of an open TPM, for backends that send it their own commands. */
struct ESYS_CONTEXT *tee_tpm_esys(struct tee_tpm *p);
/* All 24 PCRs of the SHA-256 bank, read as a verifier replays them against a quote. */
int tee_tpm_read_pcrs(struct tee_tpm *p, uint8_t pcrs[24][32], char *err, size_t errlen);
/* Releases what tee_tpm_pcr_open opened (the tpm backend's own goes with the backend). */
void tee_tpm_pcr_close(struct tee_tpm *p);

/*
 * Measures value (at most RUNTIME_VALUE_MAX bytes) under name before the
 * agent acts on it: extends the backend's RTMR3 and, when a TPM is present,
 * PCR 15, then appends one CEL-JSON record per register to cfg.runtime_log
 * (rewritten whole, atomically). -ENOTSUP when there is no register at all.
 */
int tee_measure(struct tee *t, const char *name, const uint8_t *value, size_t n, char *err,
		size_t errlen);

/* ---- key release (Trustee KBS protocol, RCAR 0.4.0) ---- */

struct kbs_options {
	const char *url;	    /* https://host:port, no trailing path */
	const char *cacert;	    /* PEM file of the broker's certificate or CA (pinned) */
	const char *ca_pem;	    /* or: PEM text of the broker's CA or certificate (pinned) */
	const uint8_t *spki_sha256; /* or: SHA-256 of the broker's SubjectPublicKeyInfo (pinned) */
	/*
	 * Where to connect instead of the URL's host and port, keeping the URL's
	 * host for SNI and the certificate's name (libcurl CURLOPT_CONNECT_TO
	 * "HOST:PORT:ADDRESS:PORT"), or NULL.
	 */
	const char *connect_to;
	/*
	 * The order bound to the evidence, sent in /attest as Trustee's
	 * "init-data" (docs/kbs.md): its signed form and signature in hex; NULL
	 * for none.
	 */
	const char *init_data_body;
	const char *init_data_signature;
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
 * line in err; a broker's RFC 7807 detail is quoted there. One release on
 * a client of its own: kbs_client_get_resource on a kept client.
 */
int kbs_get_resource(const struct kbs_options *o, struct tee *tee, const char *resource,
		     uint8_t **secret, size_t *n, char *err, size_t errlen);

/*
 * A client kept across key releases from one broker: its connection, the
 * TLS session to resume and the pinned CA, loaded once. Each release on it
 * is still a whole one (a fresh key, /auth for a fresh nonce, fresh
 * evidence, /attest, the resource); only the transport is kept. o must
 * outlive the client. 0, -EINVAL (not https://) or -ENOMEM, with err.
 */
struct kbs_client;
int kbs_client_new(const struct kbs_options *o, struct kbs_client **out, char *err, size_t errlen);
/* As kbs_get_resource, on c; releases on one client go one at a time. */
int kbs_client_get_resource(struct kbs_client *c, struct tee *tee, const char *resource,
			    uint8_t **secret, size_t *n, char *err, size_t errlen);
/* Closes the connection and frees c; NULL is ignored. */
void kbs_client_free(struct kbs_client *c);
/* kbs_client_free(*c): the cleanup of _cleanup_(kbs_client_freep). */
void kbs_client_freep(struct kbs_client **c);

/*
 * What a libcurl handle (a CURL *) of the agent refuses, whatever the
 * environment says: any proxy, any redirect, any protocol but the one
 * named ("https", "http"); no signals.
 */
void agent_curl_confine(void *curl, const char *protocol);

/* kbs_resource_path_valid and kbs_report_data: measurement/measurement.h */

/* ---- the input volumes (volume.c) ---- */

struct volume {
	char device[256];
	uint64_t size;
	struct luks2_header hdr; /* validated; hdr.sha256 is what the agent measures */
	int memfd;		 /* the header area, sealed, the only copy used */
	char header_path[64];
	int64_t read_ms; /* of volume_open, spent reading the disk */
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

/* volume.key's JSON into k (wipe k after use); "E_VOLUME_KEY: why" on refusal. */
int volume_key_parse(const char *text, size_t len, struct volume_key *k, char *err, size_t errlen);
/* dm-crypt, dm-verity and a read-only, nodev, nosuid mount of NAME at mountpoint (guest only). */
int volume_activate(struct volume *v, const struct volume_key *k, const char *name,
		    const char *mountpoint, char *err, size_t errlen);
/* Unmounts mountpoint and removes the mappings volume_activate made for name. */
void volume_deactivate(const char *name, const char *mountpoint);

/* ---- the tunnel of a service order (tunnel.c, docs/tunnel.md) ---- */

/*
 * Makes the tunnel's P-256 key in *key and its certificate (DER, malloc'd)
 * carrying t's evidence, which binds the key (measurement/tunnel.h); valid
 * from not_before for lifetime seconds. spki_sha256: the key's digest, for
 * the agent to measure. 0, or -errno with err.
 */
int agent_tunnel_cert(struct tee *t, int64_t not_before, uint32_t lifetime, EVP_PKEY **key,
		      uint8_t **der, size_t *len, uint8_t spki_sha256[32], char *err,
		      size_t errlen);

/* The terminator: TLS in with the attested certificate, plaintext to the service. */
#define TUNNEL_MAX_CONNS 256
struct tunnel_server {
	SSL_CTX *ctx;
	struct tee *tee; /* the freshness exchange's evidence */
	pthread_mutex_t tee_lock;
	/* opens a connection to the service (in the job's network namespace): an fd, or -errno */
	int (*connect_service)(void *arg);
	void *service_arg;
	/* the customer's stop (docs/tunnel.md): its key, the order, what a valid one sets */
	uint8_t customer_pub[33];
	uint8_t order_sha256[32];
	volatile sig_atomic_t *stop_job;
	int max_conns;	    /* connections at once; more are closed at accept */
	long io_timeout_ms; /* the handshake and the freshness exchange */
	long idle_ms; /* a forwarded connection quiet this long both ways is closed; 0: never */
	atomic_int live;
	atomic_int closed; /* tunnel_server_run returned: the TEE is no longer the terminator's */
	atomic_ulong served, refused, fresh, stops, idle;
};
int tunnel_server_init(struct tunnel_server *s, EVP_PKEY *key, const uint8_t *der, size_t len,
		       struct tee *tee, char *err, size_t errlen);
/*
 * Accepts on listen_fd until *stop: each connection in a thread of its own.
 * When it returns, no connection uses the TEE any more.
 */
int tunnel_server_run(struct tunnel_server *s, int listen_fd, volatile sig_atomic_t *stop);
void tunnel_server_free(struct tunnel_server *s);

#endif
