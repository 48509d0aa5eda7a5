// SPDX-License-Identifier: GPL-2.0
/*
 * The network test bed (netbed.h): namespaces, a veth pair, htb and a
 * cls_bpf loss program, all over netlink (libnl-route; the filter's
 * message is built by hand, libnl 3.7 has no cls_bpf).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <linux/if.h>	/* IF_OPER_UP (after net/if.h) */
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/class.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>

#include "harness.h"
#include "netbed.h"

static const char *const if_name[2] = { "kvmig0", "kvmig1" };
static const char *const if_addr[2] = { NETBED_SRC_ADDR "/24", NETBED_DST_ADDR "/24" };

#define NL_ASSERT(expr, what)							\
	do {									\
		int __e = (expr);						\
										\
		TEST_ASSERT(__e >= 0, "netbed: %s: %s", what,			\
			    nl_geterror(__e));					\
	} while (0)

void netbed_enter(struct netbed *nb, enum netbed_side side)
{
	TEST_ASSERT(!setns(nb->ns[side], CLONE_NEWNET), "setns into the %s "
		    "namespace", side == NETBED_SRC ? "source" : "destination");
}

static int ns_open(void)
{
	return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

static int ifindex_of(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l;
	int i;

	NL_ASSERT(rtnl_link_get_kernel(sk, 0, name, &l), name);
	i = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return i;
}

static void link_set(struct nl_sock *sk, int ifindex, bool up)
{
	struct rtnl_link *old = rtnl_link_alloc(), *chg = rtnl_link_alloc();

	TEST_ASSERT(old && chg, "netbed: rtnl_link_alloc");
	rtnl_link_set_ifindex(old, ifindex);
	if (up)
		rtnl_link_set_flags(chg, IFF_UP);
	else
		rtnl_link_unset_flags(chg, IFF_UP);
	NL_ASSERT(rtnl_link_change(sk, old, chg, 0), up ? "link up" : "link down");
	rtnl_link_put(old);
	rtnl_link_put(chg);
}

static bool oper_up(struct netbed *nb, int side)
{
	struct rtnl_link *l;
	bool up;

	NL_ASSERT(rtnl_link_get_kernel(nb->nl[side], nb->ifindex[side], NULL, &l),
		  if_name[side]);
	up = rtnl_link_get_operstate(l) == IF_OPER_UP;
	rtnl_link_put(l);
	return up;
}

static void addr_add(struct nl_sock *sk, int ifindex, const char *text)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local;

	TEST_ASSERT(a, "netbed: rtnl_addr_alloc");
	NL_ASSERT(nl_addr_parse(text, AF_INET, &local), text);
	rtnl_addr_set_ifindex(a, ifindex);
	NL_ASSERT(rtnl_addr_set_local(a, local), text);
	NL_ASSERT(rtnl_addr_add(sk, a, 0), text);
	nl_addr_put(local);
	rtnl_addr_put(a);
}

/*
 * @side's neighbour entry for the other end, permanent: no ARP, so that a
 * cut is only the link's (an ARP resolution that failed while the link
 * was down would refuse the next connect with EHOSTUNREACH for a while),
 * and the loss filter drops only IP packets' worth of the stream.
 */
static void neigh_add(struct netbed *nb, int side)
{
	int other = !side;
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	struct rtnl_link *l;
	struct nl_addr *dst;

	TEST_ASSERT(n, "rtnl_neigh_alloc");
	NL_ASSERT(rtnl_link_get_kernel(nb->nl[other], nb->ifindex[other], NULL, &l),
		  if_name[other]);
	NL_ASSERT(nl_addr_parse(other ? NETBED_DST_ADDR : NETBED_SRC_ADDR, AF_INET,
				&dst), "neighbour address");
	rtnl_neigh_set_ifindex(n, nb->ifindex[side]);
	NL_ASSERT(rtnl_neigh_set_dst(n, dst), "neighbour address");
	rtnl_neigh_set_lladdr(n, rtnl_link_get_addr(l));
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	NL_ASSERT(rtnl_neigh_add(nb->nl[side], n, NLM_F_CREATE | NLM_F_REPLACE),
		  "adding a permanent neighbour");
	nl_addr_put(dst);
	rtnl_link_put(l);
	rtnl_neigh_put(n);
}

int netbed_setup(struct netbed *nb, char *why, size_t len)
{
	struct rtnl_link *veth, *peer;
	int side;

	memset(nb, 0, sizeof(*nb));
	nb->prog[0] = nb->prog[1] = -1;
	nb->ns_orig = ns_open();
	TEST_ASSERT(nb->ns_orig >= 0, "open /proc/thread-self/ns/net");
	for (side = NETBED_DST; side >= NETBED_SRC; side--) {
		if (unshare(CLONE_NEWNET)) {
			int e = errno;

			snprintf(why, len, "unshare(CLONE_NEWNET): %s", strerror(e));
			if (side == NETBED_SRC)
				setns(nb->ns_orig, CLONE_NEWNET);
			close(nb->ns_orig);
			if (side == NETBED_SRC)
				close(nb->ns[NETBED_DST]);
			return -e;
		}
		nb->ns[side] = ns_open();
		TEST_ASSERT(nb->ns[side] >= 0, "open a new namespace");
		/* a netlink socket belongs to the namespace it was made in */
		nb->nl[side] = nl_socket_alloc();
		TEST_ASSERT(nb->nl[side], "nl_socket_alloc");
		NL_ASSERT(nl_connect(nb->nl[side], NETLINK_ROUTE), "nl_connect");
		link_set(nb->nl[side], ifindex_of(nb->nl[side], "lo"), true);
	}
	/* now in src: the pair is made here, its peer moved to dst */
	veth = rtnl_link_veth_alloc();
	TEST_ASSERT(veth, "rtnl_link_veth_alloc");
	peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(veth, if_name[NETBED_SRC]);
	rtnl_link_set_name(peer, if_name[NETBED_DST]);
	rtnl_link_set_ns_fd(peer, nb->ns[NETBED_DST]);
	NL_ASSERT(rtnl_link_add(nb->nl[NETBED_SRC], veth, NLM_F_CREATE | NLM_F_EXCL),
		  "adding the veth pair");
	rtnl_link_put(peer);
	rtnl_link_veth_release(veth);
	for (side = NETBED_SRC; side <= NETBED_DST; side++) {
		nb->ifindex[side] = ifindex_of(nb->nl[side], if_name[side]);
		addr_add(nb->nl[side], nb->ifindex[side], if_addr[side]);
		link_set(nb->nl[side], nb->ifindex[side], true);
	}
	TEST_WAIT(oper_up(nb, NETBED_SRC) && oper_up(nb, NETBED_DST),
		  TEST_DEADLINE_S, "the veth pair never came up");
	neigh_add(nb, NETBED_SRC);
	neigh_add(nb, NETBED_DST);
	return 0;
}

void netbed_link(struct netbed *nb, bool up)
{
	link_set(nb->nl[NETBED_DST], nb->ifindex[NETBED_DST], up);
	/*
	 * The carrier's return reaches the qdiscs through the kernel's
	 * linkwatch work, which may run a while later: until then both ends
	 * drop what they are given.  Up means operationally up.
	 */
	if (up)
		TEST_WAIT(oper_up(nb, NETBED_SRC) && oper_up(nb, NETBED_DST),
			  TEST_DEADLINE_S, "the veth pair never came back up");
}

/*
 * The loss program: drop @permyriad in 10000 packets at random.
 *
 *	r0 = bpf_get_prandom_u32() % 10000
 *	if r0 >= permyriad: return TC_ACT_OK
 *	return TC_ACT_SHOT
 */
static int loss_prog_load(unsigned int permyriad)
{
	struct bpf_insn insn[] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_prandom_u32 },
		{ .code = BPF_ALU64 | BPF_MOD | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = 10000 },
		{ .code = BPF_JMP | BPF_JGE | BPF_K, .dst_reg = BPF_REG_0, .off = 2,
		  .imm = (int32_t)permyriad },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = TC_ACT_SHOT },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = TC_ACT_OK },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static char log[4096];
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
	a.insns = (uintptr_t)insn;
	a.insn_cnt = sizeof(insn) / sizeof(insn[0]);
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	TEST_ASSERT(fd >= 0, "netbed: loading the loss program: %s; verifier: %s",
		    strerror(errno), log);
	return fd;
}

/* cls_bpf, direct action, on the htb root 1: of @ifindex */
static void loss_filter_add(struct nl_sock *sk, int ifindex, int prog)
{
	struct tcmsg t = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_handle = 1,
		.tcm_parent = TC_H_MAKE(1U << 16, 0),
		/* priority 1, every protocol */
		.tcm_info = TC_H_MAKE(1U << 16, htons(ETH_P_ALL)),
	};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWTFILTER,
						NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *opt;

	TEST_ASSERT(msg, "nlmsg_alloc_simple");
	NL_ASSERT(nlmsg_append(msg, &t, sizeof(t), NLMSG_ALIGNTO), "tcmsg");
	NL_ASSERT(nla_put_string(msg, TCA_KIND, "bpf"), "TCA_KIND");
	opt = nla_nest_start(msg, TCA_OPTIONS);
	TEST_ASSERT(opt, "TCA_OPTIONS");
	NL_ASSERT(nla_put_u32(msg, TCA_BPF_FD, (uint32_t)prog), "TCA_BPF_FD");
	NL_ASSERT(nla_put_string(msg, TCA_BPF_NAME, "kvmig_loss"), "TCA_BPF_NAME");
	NL_ASSERT(nla_put_u32(msg, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT),
		  "TCA_BPF_FLAGS");
	nla_nest_end(msg, opt);
	NL_ASSERT(nl_send_sync(sk, msg), "adding the cls_bpf loss filter");
}

/*
 * htb root 1: whose default class 1:10 carries everything at @rate (or
 * 10 GB/s: "no limit", the filter needs a classful root anyway).
 */
static void shape_side(struct netbed *nb, int side, uint64_t rate,
		       unsigned int loss)
{
	struct nl_sock *sk = nb->nl[side];
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	struct rtnl_class *c;
	int r;

	TEST_ASSERT(q, "rtnl_qdisc_alloc");
	rtnl_tc_set_ifindex(TC_CAST(q), nb->ifindex[side]);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	r = rtnl_qdisc_delete(sk, q);	/* none there yet: fine */
	TEST_ASSERT(r >= 0 || r == -NLE_OBJ_NOTFOUND || r == -NLE_INVAL,
		    "netbed: removing the root qdisc: %s", nl_geterror(r));
	if (nb->prog[side] >= 0)
		close(nb->prog[side]);
	nb->prog[side] = -1;
	if (!rate && !loss) {
		rtnl_qdisc_put(q);
		return;
	}
	rtnl_tc_set_handle(TC_CAST(q), TC_H_MAKE(1U << 16, 0));
	NL_ASSERT(rtnl_tc_set_kind(TC_CAST(q), "htb"), "htb");
	NL_ASSERT(rtnl_htb_set_defcls(q, 0x10), "htb default class");
	NL_ASSERT(rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL), "adding htb");
	rtnl_qdisc_put(q);

	c = rtnl_class_alloc();
	TEST_ASSERT(c, "rtnl_class_alloc");
	rtnl_tc_set_ifindex(TC_CAST(c), nb->ifindex[side]);
	rtnl_tc_set_parent(TC_CAST(c), TC_H_MAKE(1U << 16, 0));
	rtnl_tc_set_handle(TC_CAST(c), TC_H_MAKE(1U << 16, 0x10));
	NL_ASSERT(rtnl_tc_set_kind(TC_CAST(c), "htb"), "htb class");
	NL_ASSERT(rtnl_htb_set_rate64(c, rate ? rate : 10000000000ULL), "rate");
	NL_ASSERT(rtnl_htb_set_ceil64(c, rate ? rate : 10000000000ULL), "ceil");
	NL_ASSERT(rtnl_class_add(sk, c, NLM_F_CREATE | NLM_F_EXCL), "adding 1:10");
	rtnl_class_put(c);

	if (loss) {
		nb->prog[side] = loss_prog_load(loss);
		loss_filter_add(sk, nb->ifindex[side], nb->prog[side]);
	}
}

void netbed_shape(struct netbed *nb, uint64_t rate, unsigned int loss_permyriad)
{
	TEST_ASSERT(loss_permyriad <= 10000, "loss %u / 10000", loss_permyriad);
	shape_side(nb, NETBED_SRC, rate, loss_permyriad);
	shape_side(nb, NETBED_DST, rate, loss_permyriad);
}

unsigned int netbed_udp_through(struct netbed *nb, unsigned int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	unsigned int i, got = 0;
	char buf[64] = "kvmig netbed";
	int tx, rx;

	netbed_enter(nb, NETBED_DST);
	rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	netbed_enter(nb, NETBED_SRC);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(rx >= 0 && tx >= 0, "UDP sockets");
	inet_pton(AF_INET, NETBED_DST_ADDR, &a.sin_addr);
	TEST_ASSERT(!bind(rx, (struct sockaddr *)&a, sizeof(a)) &&
		    !getsockname(rx, (struct sockaddr *)&a, &alen), "bind");
	/* in rounds of 50, each drained before the next: no queue overflows */
	for (i = 0; i < n; i += 50) {
		unsigned int k;
		struct pollfd p = { .fd = rx, .events = POLLIN };

		for (k = i; k < n && k < i + 50; k++)
			TEST_ASSERT(sendto(tx, buf, sizeof(buf), 0, (struct sockaddr *)&a,
					   sizeof(a)) == sizeof(buf), "sendto");
		while (poll(&p, 1, 20) == 1)
			got += recv(rx, buf, sizeof(buf), 0) == sizeof(buf);
	}
	close(tx);
	close(rx);
	return got;
}

void netbed_teardown(struct netbed *nb)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int side;

	TEST_ASSERT(l, "rtnl_link_alloc");
	rtnl_link_set_ifindex(l, nb->ifindex[NETBED_SRC]);
	NL_ASSERT(rtnl_link_delete(nb->nl[NETBED_SRC], l), "deleting the veth pair");
	rtnl_link_put(l);
	for (side = NETBED_SRC; side <= NETBED_DST; side++) {
		if (nb->prog[side] >= 0)
			close(nb->prog[side]);
		nl_socket_free(nb->nl[side]);
		close(nb->ns[side]);
	}
	TEST_ASSERT(!setns(nb->ns_orig, CLONE_NEWNET), "setns back");
	close(nb->ns_orig);
}
