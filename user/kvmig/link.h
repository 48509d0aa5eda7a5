/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmig migrate --max-bandwidth auto: a bandwidth cap from the speed of
 * the interface the kernel routes the destination through, read over
 * netlink (Documentation/kvmig.rst, "--max-bandwidth auto").
 */
#ifndef KVMIG_LINK_H
#define KVMIG_LINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* The share of the link's speed that auto gives the migration. */
#define LINK_AUTO_SHARE_PCT	75

struct link_choice {
	char ifname[IF_NAMESIZE];	/* the route's output interface */
	char addr[64];			/* the destination's address */
	bool loopback;
	uint32_t speed_mbps;		/* 0: not reported */
	uint64_t cap;			/* bytes/s chosen, 0 = no cap */
	char why[300];			/* what was chosen and why, a sentence */
};

/*
 * The cap for a migration to @host (a name or an address): 0 and @c
 * filled, or -errno with @err saying why no route could be looked up.
 */
int link_auto_bandwidth(const char *host, struct link_choice *c, char *err,
			size_t len);

#endif
