/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A service job's tunnel in the guest (agent/service.c, docs/tunnel.md):
 * made before the job starts, stopped after it ends.
 */
#ifndef CVM_AGENT_SERVICE_H
#define CVM_AGENT_SERVICE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/job.h"
#include "measurement/tunnel.h"

struct agent_service {
	struct tunnel_server srv;
	EVP_PKEY *key; /* the tunnel's, in the agent's memory only */
	uint8_t *der;  /* its certificate */
	size_t der_len;
	uint8_t key_sha256[32], cert_sha256[32]; /* what the agent measures */
	int lfd, own_ns;
	atomic_int job_ns; /* the job's network namespace, once its program runs; else -1 */
	uint16_t job_port;
	pthread_t thread;
	bool running;
	volatile sig_atomic_t stop_server;
	volatile sig_atomic_t stop_job; /* a customer's verified stop */
	struct job_hooks hooks;
};

/* The key and certificate, valid for lifetime seconds (and a minute either side). */
int agent_service_cert(struct agent_service *a, struct tee *t, uint32_t lifetime, char *err,
		       size_t errlen);
/*
 * Listens on listen_port of the guest's network and serves in a thread;
 * sets the job hooks that find the job's namespace and let a stop end it.
 * The stop's signature is checked against customer_pub (33 bytes) over the
 * order's digest (tunnel.h).
 */
int agent_service_listen(struct agent_service *a, struct tee *t, uint16_t listen_port,
			 const struct job_service *js, const uint8_t customer_pub[33],
			 const uint8_t order_sha256[32], char *err, size_t errlen);
void agent_service_stop(struct agent_service *a);

#endif
