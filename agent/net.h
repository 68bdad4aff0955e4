/* SPDX-License-Identifier: Apache-2.0 */
/* The guest's network, only when agent.json configures one: by rtnetlink, no tools. */
#ifndef CVM_AGENT_NET_H
#define CVM_AGENT_NET_H

#include <stddef.h>

/*
 * Waits up to wait_ms for ifname to appear, brings up "lo" and ifname,
 * gives ifname the IPv4 address cidr ("10.0.2.15/24") and, when gateway is
 * not NULL, a default route through it. Every request is acknowledged or
 * the call fails with a one-line error (E_NETWORK: ...).
 */
int net_configure(const char *ifname, const char *cidr, const char *gateway, long wait_ms,
		  char *err, size_t errlen);

#endif
