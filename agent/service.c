/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A service job's tunnel in the guest (docs/tunnel.md): the attested key
 * and certificate, the terminator listening on the guest's network, and
 * its way to the job's port inside the job's own network namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/agent.h"
#include "agent/job.h"
#include "agent/service.h"
#include "lib/lib.h"

static struct agent_service *current; /* the job hook's */

static void job_started(pid_t pid, void *arg)
{
	struct agent_service *a = arg;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	atomic_store(&a->job_ns, open(path, O_RDONLY | O_CLOEXEC));
}

/*
 * A socket made in the job's namespace (a socket stays in the namespace it
 * was made in), the thread back in the agent's before anything else; then
 * connected to the job's port on its loopback. The service may still be
 * starting: refused connections are tried again for a few seconds.
 */
static int connect_job(void *arg)
{
	struct agent_service *a = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons(a->job_port) };
	int fd = -1, e = ENOTCONN, ns;

	/* a connection may come before the job's program runs: it waits as for a listener */
	for (int i = 0; i < 100; i++) {
		if ((ns = atomic_load(&a->job_ns)) < 0) {
			if (a->stop_server)
				break;
			usleep(50000);
			continue;
		}
		if (setns(ns, CLONE_NEWNET) < 0)
			return -errno;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		e = errno;
		if (setns(a->own_ns, CLONE_NEWNET) < 0) {
			/* a thread left in the job's namespace must not go on */
			if (fd >= 0)
				close(fd);
			return -EPERM;
		}
		if (fd < 0)
			return -e;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		e = errno;
		close(fd);
		if (e != ECONNREFUSED)
			break;
		usleep(50000);
	}
	return -e;
}

int agent_service_cert(struct agent_service *a, struct tee *t, uint32_t lifetime, char *err,
		       size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->lfd = a->own_ns = -1;
	atomic_store(&a->job_ns, -1);
	if (agent_tunnel_cert(t, (int64_t)time(NULL) - 60, lifetime + 60, &a->key, &a->der,
			      &a->der_len, a->key_sha256, err, errlen) < 0)
		return -EIO;
	if (EVP_Digest(a->der, a->der_len, a->cert_sha256, NULL, EVP_sha256(), NULL) != 1)
		return set_error(err, errlen, -EIO, "E_TUNNEL: cannot hash the certificate");
	return 0;
}

static void *serve(void *arg)
{
	struct agent_service *a = arg;

	tunnel_server_run(&a->srv, a->lfd, &a->stop_server);
	return NULL;
}

int agent_service_listen(struct agent_service *a, struct tee *t, uint16_t listen_port,
			 const struct job_service *js, const uint8_t customer_pub[33],
			 const uint8_t order_sha256[32], char *err, size_t errlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_ANY),
				  .sin_port = htons(listen_port) };

	a->job_port = (uint16_t)js->port;
	a->own_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (a->own_ns < 0)
		return set_error(err, errlen, -errno, "E_TUNNEL: own network namespace: %s",
				 strerror(errno));
	if (tunnel_server_init(&a->srv, a->key, a->der, a->der_len, t, err, errlen) < 0)
		return -EINVAL;
	a->srv.connect_service = connect_job;
	a->srv.service_arg = a;
	a->srv.stop_job = &a->stop_job;
	a->srv.idle_ms =
		(long)(js->idle_seconds ? js->idle_seconds : JOB_SERVICE_IDLE_DEFAULT) * 1000;
	memcpy(a->srv.customer_pub, customer_pub, 33);
	memcpy(a->srv.order_sha256, order_sha256, 32);
	a->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->lfd < 0 ||
	    setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) < 0 ||
	    bind(a->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(a->lfd, 128) < 0)
		return set_error(err, errlen, -errno, "E_TUNNEL: listen on port %u: %s",
				 listen_port, strerror(errno));
	a->hooks = (struct job_hooks){ .started = job_started, .arg = a, .stop = &a->stop_job };
	job_set_hooks(&a->hooks);
	current = a;
	if (pthread_create(&a->thread, NULL, serve, a) != 0)
		return set_error(err, errlen, -EAGAIN, "E_TUNNEL: cannot start the terminator");
	a->running = true;
	return 0;
}

void agent_service_stop(struct agent_service *a)
{
	if (a->running) {
		a->stop_server = 1;
		pthread_join(a->thread, NULL);
		a->running = false;
		/* the job is gone: its connections end; their threads hold the context until then */
		for (int i = 0; i < 500 && atomic_load(&a->srv.live); i++)
			usleep(10000);
	}
	if (current == a) {
		job_set_hooks(NULL);
		current = NULL;
	}
	if (a->lfd >= 0)
		close(a->lfd);
	if (!atomic_load(&a->srv.live))
		tunnel_server_free(&a->srv);
	/* taken from the connections first: one still trying sees none and gives up */
	{
		int ns = atomic_exchange(&a->job_ns, -1);

		if (ns >= 0)
			close(ns);
	}
	if (a->own_ns >= 0)
		close(a->own_ns);
	EVP_PKEY_free(a->key);
	free(a->der);
	a->key = NULL;
	a->der = NULL;
	a->lfd = a->own_ns = -1;
}
