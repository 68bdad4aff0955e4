/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An echo service on loopback, for the tunnel's tests and benchmark: what
 * a connection sends comes back, one thread a connection.
 */
#ifndef CVM_TEST_ECHO_H
#define CVM_TEST_ECHO_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/lib.h"

/* A listening socket on 127.0.0.1, its port in *port; exits when it cannot be made. */
static inline int echo_listen_any(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &n) < 0) {
		perror("echo: listen");
		exit(1);
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static inline void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fd_write_all(fd, buf, (size_t)n) < 0)
			break;
	close(fd);
	return NULL;
}

static inline void *echo_loop(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	pthread_t t;

	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
	return NULL;
}

/* Starts the service; its port. */
static inline uint16_t echo_start(void)
{
	uint16_t port;
	int lfd = echo_listen_any(&port);
	pthread_t t;

	pthread_create(&t, NULL, echo_loop, (void *)(intptr_t)lfd);
	pthread_detach(t);
	return port;
}

/* A connection to the service at port: an fd, or -ECONNREFUSED. */
static inline int echo_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -ECONNREFUSED;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	return fd;
}

#endif
