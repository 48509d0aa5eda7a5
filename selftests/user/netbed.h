/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A network test bed: two network namespaces, "src" and "dst", joined by a
 * veth pair (kvmig0 10.99.0.1/24 in src, kvmig1 10.99.0.2/24 in dst), set
 * up over netlink with libnl, so that a migration crosses a real kernel
 * link.  Faults come from outside the programs under test: the link cut
 * (kvmig1 set down, so kvmig0 loses its carrier), a rate (an htb class on
 * each end) and random loss (a cls_bpf program in direct-action mode on
 * the htb root, which drops a given fraction of the packets).  This
 * kernel has no netem: there is no delay; a stall is the link cut for a
 * while (Documentation/design.rst, "Link faults").
 *
 * The namespaces live as long as this process holds their descriptors
 * and its children (test_spawn() and friends kill them when it dies)
 * run in them: whatever way the test ends, the kernel removes both, and
 * the veth pair and its qdiscs with them.  netbed_teardown() does it
 * early.
 */
#ifndef KVMIG_NETBED_H
#define KVMIG_NETBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETBED_SRC_ADDR	"10.99.0.1"
#define NETBED_DST_ADDR	"10.99.0.2"

struct nl_sock;

struct netbed {
	int ns_orig;			/* the namespace the test started in */
	int ns[2];			/* 0: src, 1: dst */
	struct nl_sock *nl[2];		/* a route socket inside each */
	int ifindex[2];			/* kvmig0 in src, kvmig1 in dst */
	int prog[2];			/* the loss program on each end, or -1 */
};

enum netbed_side { NETBED_SRC, NETBED_DST };

/*
 * Make both namespaces, the veth pair, its addresses, and bring it up;
 * the calling thread is left in src.  Returns 0, or -errno with a reason
 * in @why: -EPERM (or another error of unshare()) means this machine
 * does not allow namespaces here, which the caller reports as a skip.
 * Call it before any thread starts.
 */
int netbed_setup(struct netbed *nb, char *why, size_t len);
/* Move the calling thread into @side's namespace (what it forks runs there). */
void netbed_enter(struct netbed *nb, enum netbed_side side);
/* Set kvmig1 up or down: down cuts the link (kvmig0 loses its carrier). */
void netbed_link(struct netbed *nb, bool up);
/*
 * Shape both ends: at most @rate bytes/s each way (0: no limit) and a
 * drop of @loss_permyriad / 10000 of the packets each way (0: none).
 * Replaces what was set before; (0, 0) removes the qdiscs.
 */
void netbed_shape(struct netbed *nb, uint64_t rate, unsigned int loss_permyriad);
/*
 * Send @n UDP datagrams from src to dst and count those that arrive:
 * what the link really lets through under netbed_shape()'s settings.
 */
unsigned int netbed_udp_through(struct netbed *nb, unsigned int n);
/* Remove the veth pair, close both namespaces; back to the first one. */
void netbed_teardown(struct netbed *nb);

#endif /* KVMIG_NETBED_H */
