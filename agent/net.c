/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Static IPv4 configuration by rtnetlink (Linux include/uapi/linux/rtnetlink.h,
 * if_addr.h): RTM_NEWLINK to bring a link up, RTM_NEWADDR, RTM_NEWROUTE,
 * each with NLM_F_ACK and its acknowledgement checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "agent/net.h"
#include "lib/lib.h"

struct req {
	struct nlmsghdr h;
	union {
		struct ifinfomsg link;
		struct ifaddrmsg addr;
		struct rtmsg route;
	};
	uint8_t attrs[256];
};

static void add_attr(struct req *r, unsigned short type, const void *data, size_t n)
{
	struct rtattr *a = (struct rtattr *)((uint8_t *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	/* the callers add at most three 4-byte attributes: far below the room in attrs */
	if (NLMSG_ALIGN(r->h.nlmsg_len) + RTA_SPACE(n) > sizeof(*r))
		abort();
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(n);
	memcpy(RTA_DATA(a), data, n);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/*
 * The acknowledgement of request seq in one datagram of n bytes: 1 and
 * *error set (also for a malformed datagram), or 0 when it holds none.
 */
static int find_ack(const uint8_t *buf, size_t n, uint32_t seq, int *error)
{
	size_t off = 0;

	while (n - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *h = (const void *)(buf + off);
		const struct nlmsgerr *e = NLMSG_DATA(h);

		*error = -EBADMSG;
		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > n - off)
			return 1;
		if (h->nlmsg_seq == seq && h->nlmsg_type == NLMSG_ERROR) {
			if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)))
				*error = e->error > 0 ? -EBADMSG : e->error;
			return 1;
		}
		if (NLMSG_ALIGN(h->nlmsg_len) >= n - off)
			break;
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	return 0;
}

/* Sends one request and reads its acknowledgement: 0, or the kernel's -errno. */
static int talk(int fd, struct req *r, uint32_t seq)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint8_t buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));

	r->h.nlmsg_seq = seq;
	r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t n =
			recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);
		int error;

		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0 || (size_t)n > sizeof(buf))
			return -EBADMSG;
		/* only the kernel (port 0) answers; anything else is not ours to read */
		if (fl != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
			continue;
		if (find_ack(buf, (size_t)n, seq, &error))
			return error;
	}
}

static int link_up(int fd, unsigned idx, uint32_t seq)
{
	struct req r = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
				.nlmsg_type = RTM_NEWLINK } };

	r.link.ifi_family = AF_UNSPEC;
	r.link.ifi_index = (int)idx;
	r.link.ifi_flags = IFF_UP;
	r.link.ifi_change = IFF_UP;
	return talk(fd, &r, seq);
}

static int add_address(int fd, unsigned idx, struct in_addr a, unsigned prefix, uint32_t seq)
{
	struct req r = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
				.nlmsg_type = RTM_NEWADDR,
				.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL } };
	struct in_addr bcast = a;

	r.addr.ifa_family = AF_INET;
	r.addr.ifa_prefixlen = (unsigned char)prefix;
	r.addr.ifa_scope = RT_SCOPE_UNIVERSE;
	r.addr.ifa_index = idx;
	if (prefix < 31)
		bcast.s_addr |= htonl(prefix ? 0xffffffffu >> prefix : 0xffffffffu);
	add_attr(&r, IFA_LOCAL, &a, sizeof(a));
	add_attr(&r, IFA_ADDRESS, &a, sizeof(a));
	if (prefix < 31)
		add_attr(&r, IFA_BROADCAST, &bcast, sizeof(bcast));
	return talk(fd, &r, seq);
}

static int add_default_route(int fd, unsigned idx, struct in_addr gw, uint32_t seq)
{
	struct req r = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)),
				.nlmsg_type = RTM_NEWROUTE,
				/* the one default route is ours, whatever was there */
				.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE } };
	uint32_t oif = idx;

	r.route.rtm_family = AF_INET;
	r.route.rtm_table = RT_TABLE_MAIN;
	r.route.rtm_protocol = RTPROT_STATIC;
	r.route.rtm_scope = RT_SCOPE_UNIVERSE;
	r.route.rtm_type = RTN_UNICAST;
	add_attr(&r, RTA_GATEWAY, &gw, sizeof(gw));
	add_attr(&r, RTA_OIF, &oif, sizeof(oif));
	return talk(fd, &r, seq);
}

static int parse_cidr(const char *cidr, struct in_addr *a, unsigned *prefix)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(cidr, '/');
	char *end;
	long p;

	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = 0;
	if (slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	errno = 0;
	p = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, ip, a) != 1 || errno || *end || end == slash + 1 || p < 1 || p > 32)
		return -EINVAL;
	*prefix = (unsigned)p;
	return 0;
}

static unsigned wait_index(const char *ifname, long wait_ms)
{
	const int64_t end = mono_ms() + wait_ms;
	unsigned idx;

	while (!(idx = if_nametoindex(ifname))) {
		if (mono_ms() >= end)
			return 0;
		usleep(20000);
	}
	return idx;
}

int net_configure(const char *ifname, const char *cidr, const char *gateway, long wait_ms,
		  char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = 5 };
	struct in_addr a, gw;
	unsigned prefix, idx, lo;
	int fd, r;

	if (parse_cidr(cidr, &a, &prefix) < 0)
		return set_error(err, errlen, -EINVAL, "E_NETWORK: address %.40s: not A.B.C.D/N",
				 cidr);
	if (gateway && inet_pton(AF_INET, gateway, &gw) != 1)
		return set_error(err, errlen, -EINVAL, "E_NETWORK: gateway %.40s: not A.B.C.D",
				 gateway);
	if (!ifname[0] || strlen(ifname) >= IFNAMSIZ)
		return set_error(err, errlen, -EINVAL, "E_NETWORK: interface name %.40s: invalid",
				 ifname);
	if (!(idx = wait_index(ifname, wait_ms)))
		return set_error(err, errlen, -ENODEV, "E_NETWORK: no interface %.16s", ifname);
	lo = if_nametoindex("lo");
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return set_error(err, errlen, -errno, "E_NETWORK: netlink: %s", strerror(errno));
	/* a kernel that never answers must not hang PID 1 */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = set_error(err, errlen, -errno, "E_NETWORK: netlink: %s", strerror(errno));
	} else if (lo && (r = link_up(fd, lo, 1)) < 0) {
		set_error(err, errlen, r, "E_NETWORK: lo up: %s", strerror(-r));
	} else if ((r = link_up(fd, idx, 2)) < 0) {
		set_error(err, errlen, r, "E_NETWORK: %.15s up: %s", ifname, strerror(-r));
	} else if ((r = add_address(fd, idx, a, prefix, 3)) < 0 && r != -EEXIST) {
		set_error(err, errlen, r, "E_NETWORK: %.15s address: %s", ifname, strerror(-r));
	} else if (gateway && (r = add_default_route(fd, idx, gw, 4)) < 0) {
		set_error(err, errlen, r, "E_NETWORK: default route via %s: %s", gateway,
			  strerror(-r));
	} else {
		r = 0;
	}
	close(fd);
	return r;
}
