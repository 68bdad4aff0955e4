/* SPDX-License-Identifier: Apache-2.0 */
/* The guest's network, only when agent.json configures one: by rtnetlink, no tools. */
#ifndef CVM_AGENT_NET_H
#define CVM_AGENT_NET_H

#include <stddef.h>

/*
 * Waits up to wait_ms (CLOCK_MONOTONIC) for ifname to appear, brings up
 * "lo" and ifname, gives ifname the IPv4 address cidr ("10.0.2.15/24"; an
 * address already there is kept) and, when gateway is not NULL, the default
 * route of the main table through it (replacing any other). Every request
 * is acknowledged by the kernel or the call fails with a one-line error
 * "E_NETWORK: ..." and -errno (-ENODEV when ifname never appeared).
 */
int net_configure(const char *ifname, const char *cidr, const char *gateway, long wait_ms,
		  char *err, size_t errlen);

#endif
