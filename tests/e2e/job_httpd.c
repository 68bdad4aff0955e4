/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel test's service job (tests/e2e/test_tunnel.sh), run by
 * cvm-agent in the guest from the solution volume: a small HTTP/1.1 server
 * on 127.0.0.1:PORT of the job's own network namespace, serving the files
 * of DIR (GET only, keep-alive, many connections in one poll loop), and a
 * line per request in $CVM_OUTPUT/access.log, which the sealed result
 * carries. It serves until the agent ends it.
 * usage: job_httpd PORT DIR
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONNS 256
#define REQ_MAX 8192

struct conn {
	int fd;
	size_t len;
	char req[REQ_MAX];
};

static struct conn conns[MAX_CONNS];
static struct pollfd pfd[MAX_CONNS + 1];
static const char *root;
static int logfd = -1;
static unsigned long served;

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

/* One request in c->req (up to its blank line, at end): 0 keep the connection, -1 close it. */
static int answer(struct conn *c, size_t end)
{
	char method[8], path[1024], ver[16], file[2048], head[256], line[1200];
	static char body[1 << 20];
	const char *status = "200 OK";
	ssize_t n = 0;
	int fd, keep;

	c->req[end - 1] = 0;
	if (sscanf(c->req, "%7s %1023s %15s", method, path, ver) != 3)
		return -1;
	keep = !strcmp(ver, "HTTP/1.1") && !strstr(c->req, "Connection: close");
	if (strcmp(method, "GET") || path[0] != '/' || strstr(path, ".."))
		status = "400 Bad Request";
	snprintf(file, sizeof(file), "%s%s", root, strcmp(path, "/") ? path : "/index.html");
	if (!strncmp(status, "200", 3) && (fd = open(file, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, body, sizeof(body));
		close(fd);
		if (n < 0)
			n = 0;
	} else if (!strncmp(status, "200", 3)) {
		status = "404 Not Found";
	}
	if (strncmp(status, "200", 3))
		n = 0;
	snprintf(head, sizeof(head),
		 "HTTP/1.1 %s\r\nContent-Length: %zd\r\nContent-Type: text/plain\r\n%s\r\n", status,
		 n, keep ? "" : "Connection: close\r\n");
	if (write_all(c->fd, head, strlen(head)) < 0 || write_all(c->fd, body, (size_t)n) < 0)
		return -1;
	served++;
	if (logfd >= 0) {
		snprintf(line, sizeof(line), "%lu %s %.3s\n", served, path, status);
		write_all(logfd, line, strlen(line));
	}
	memmove(c->req, c->req + end, c->len - end);
	c->len -= end;
	c->req[c->len] = 0;
	return keep ? 0 : -1;
}

static void drop(size_t i)
{
	close(conns[i].fd);
	conns[i].fd = -1;
	pfd[i + 1].fd = -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char *out = getenv("CVM_OUTPUT");
	char path[4096], *end;
	unsigned long port;
	int lfd;

	if (argc != 3)
		return 2;
	errno = 0;
	port = strtoul(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || port < 1 || port > 65535) {
		fprintf(stderr, "job_httpd: PORT: 1 to 65535\n");
		return 2;
	}
	root = argv[2];
	if (out) {
		snprintf(path, sizeof(path), "%s/access.log", out);
		logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	}
	a.sin_port = htons((uint16_t)port);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 128) < 0) {
		perror("job_httpd: listen");
		return 1;
	}
	printf("job_httpd: serving %s on 127.0.0.1:%s\n", root, argv[1]);
	fflush(stdout);
	for (size_t i = 0; i < MAX_CONNS; i++) {
		conns[i].fd = -1;
		pfd[i + 1].fd = -1;
		pfd[i + 1].events = POLLIN;
	}
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	for (;;) {
		if (poll(pfd, MAX_CONNS + 1, -1) < 0 && errno != EINTR)
			return 1;
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			size_t i = 0;

			while (fd >= 0 && i < MAX_CONNS && conns[i].fd >= 0)
				i++;
			if (fd >= 0 && i == MAX_CONNS)
				close(fd);
			else if (fd >= 0) {
				conns[i].fd = fd;
				conns[i].len = 0;
				pfd[i + 1].fd = fd;
			}
		}
		for (size_t i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &conns[i];
			char *e;
			ssize_t n;

			if (c->fd < 0 || !(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(c->fd, c->req + c->len, REQ_MAX - 1 - c->len);
			if (n <= 0) {
				drop(i);
				continue;
			}
			c->len += (size_t)n;
			c->req[c->len] = 0;
			while (c->fd >= 0 && (e = strstr(c->req, "\r\n\r\n")))
				if (answer(c, (size_t)(e + 4 - c->req)) < 0)
					drop(i);
			if (c->fd >= 0 && c->len >= REQ_MAX - 1)
				drop(i);
		}
	}
}
