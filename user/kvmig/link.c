// SPDX-License-Identifier: GPL-2.0
/*
 * --max-bandwidth auto (link.h), over netlink with libnl:
 *
 *  1. the route to the destination: rtnetlink RTM_GETROUTE with RTA_DST,
 *     what "ip route get ADDR" asks; its RTA_OIF is the interface;
 *  2. that interface: RTM_GETLINK, for its name and IFF_LOOPBACK;
 *  3. its speed: the ethtool generic-netlink family,
 *     ETHTOOL_MSG_LINKMODES_GET, ETHTOOL_A_LINKMODES_SPEED in Mbit/s, what
 *     "ethtool IF" prints as Speed.  Virtual devices without a speed
 *     (dummy, tun, many paravirtual NICs) answer SPEED_UNKNOWN or
 *     EOPNOTSUPP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/ethtool_netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "link.h"

#define SPEED_UNKNOWN_U32	0xffffffffU

/* What one netlink request got back. */
struct answer {
	int err;		/* the kernel's -errno, or 0 */
	uint32_t value;		/* the attribute asked for */
	bool found;
};

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct answer *a = arg;

	(void)nla;
	a->err = e->error;
	return NL_STOP;
}

/* One request on @sk, its answer through @valid; 0 or -errno. */
static int ask(struct nl_sock *sk, struct nl_msg *msg, nl_recvmsg_msg_cb_t valid,
	       struct answer *a)
{
	int r;

	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, valid, a);
	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_error, a);
	r = nl_send_auto(sk, msg);
	if (r < 0)
		return -EIO;
	r = nl_recvmsgs_default(sk);
	if (a->err)
		return a->err;
	return r < 0 ? -EIO : 0;
}

static int on_route(struct nl_msg *msg, void *arg)
{
	struct answer *a = arg;
	struct nlattr *tb[RTA_MAX + 1];

	if (!nlmsg_parse(nlmsg_hdr(msg), sizeof(struct rtmsg), tb, RTA_MAX, NULL) &&
	    tb[RTA_OIF]) {
		a->value = nla_get_u32(tb[RTA_OIF]);
		a->found = true;
	}
	return NL_OK;
}

static int on_linkmodes(struct nl_msg *msg, void *arg)
{
	struct answer *a = arg;
	struct nlattr *tb[ETHTOOL_A_LINKMODES_MAX + 1];

	if (!genlmsg_parse(nlmsg_hdr(msg), 0, tb, ETHTOOL_A_LINKMODES_MAX, NULL) &&
	    tb[ETHTOOL_A_LINKMODES_SPEED]) {
		a->value = nla_get_u32(tb[ETHTOOL_A_LINKMODES_SPEED]);
		a->found = true;
	}
	return NL_OK;
}

/* The interface the kernel would send to @sa through; >0, or -errno. */
static int route_oif(const struct sockaddr *sa)
{
	struct rtmsg rtm = { .rtm_family = (unsigned char)sa->sa_family };
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = NULL;
	struct answer a = { 0 };
	const void *dst;
	int len, r;

	if (sa->sa_family == AF_INET) {
		dst = &((const struct sockaddr_in *)sa)->sin_addr;
		len = 4;
	} else {
		dst = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		len = 16;
	}
	rtm.rtm_dst_len = (unsigned char)(len * 8);
	r = -ENOMEM;
	if (!sk || nl_connect(sk, NETLINK_ROUTE))
		goto out;
	msg = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST);
	if (!msg || nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) ||
	    nla_put(msg, RTA_DST, len, dst))
		goto out;
	r = ask(sk, msg, on_route, &a);
	if (!r)
		r = a.found && a.value ? (int)a.value : -ENOENT;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return r;
}

/* The link speed of @ifindex in Mbit/s, 0 if it reports none. */
static uint32_t link_speed(int ifindex)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct answer a = { 0 };
	struct nl_msg *msg = NULL;
	struct nlattr *hdr;
	int family;

	if (!sk || genl_connect(sk))
		goto out;
	family = genl_ctrl_resolve(sk, ETHTOOL_GENL_NAME);
	if (family < 0)
		goto out;	/* a kernel before 5.6: no ethtool netlink */
	msg = nlmsg_alloc();
	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
				 NLM_F_REQUEST, ETHTOOL_MSG_LINKMODES_GET,
				 ETHTOOL_GENL_VERSION))
		goto out;
	/* ethtool's policy is strict: a nest must say it is one */
	hdr = nla_nest_start(msg, ETHTOOL_A_LINKMODES_HEADER | NLA_F_NESTED);
	if (!hdr || nla_put_u32(msg, ETHTOOL_A_HEADER_DEV_INDEX, (uint32_t)ifindex))
		goto out;
	nla_nest_end(msg, hdr);
	if (ask(sk, msg, on_linkmodes, &a) || !a.found)
		a.value = 0;	/* EOPNOTSUPP: the driver has no speed */
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return a.found && a.value != SPEED_UNKNOWN_U32 ? a.value : 0;
}

int link_auto_bandwidth(const char *host, struct link_choice *c, char *err,
			size_t len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct rtnl_link *link = NULL;
	struct nl_sock *sk = NULL;
	int r, oif;

	memset(c, 0, sizeof(*c));
	r = getaddrinfo(host, NULL, &hints, &ai);
	if (r) {
		snprintf(err, len, "cannot resolve %s: %s", host, gai_strerror(r));
		return -ENOENT;
	}
	/* the address the migration will connect to first */
	getnameinfo(ai->ai_addr, ai->ai_addrlen, c->addr, sizeof(c->addr), NULL, 0,
		    NI_NUMERICHOST);
	oif = route_oif(ai->ai_addr);
	if (oif < 0) {
		snprintf(err, len, "no route to %s: %s", c->addr, strerror(-oif));
		r = oif;
		goto out;
	}
	sk = nl_socket_alloc();
	if (!sk || nl_connect(sk, NETLINK_ROUTE) ||
	    rtnl_link_get_kernel(sk, oif, NULL, &link) < 0 || !link) {
		snprintf(err, len, "the route to %s leaves through interface %d, "
			 "which netlink does not describe", c->addr, oif);
		r = -ENODEV;
		goto out;
	}
	snprintf(c->ifname, sizeof(c->ifname), "%s", rtnl_link_get_name(link));
	c->loopback = rtnl_link_get_flags(link) & IFF_LOOPBACK;
	if (c->loopback) {
		snprintf(c->why, sizeof(c->why), "the route to %s leaves through %s, "
			 "the loopback: no cap", c->addr, c->ifname);
		r = 0;
		goto out;
	}
	c->speed_mbps = link_speed(oif);
	if (!c->speed_mbps) {
		snprintf(c->why, sizeof(c->why), "the route to %s leaves through %s, "
			 "which does not report its speed: no cap (give "
			 "--max-bandwidth RATE to set one)", c->addr, c->ifname);
	} else {
		c->cap = (uint64_t)c->speed_mbps * 1000000 / 8 * LINK_AUTO_SHARE_PCT / 100;
		snprintf(c->why, sizeof(c->why), "the route to %s leaves through %s "
			 "at %u Mbit/s: capped at %.0f Mbit/s (%d%%)", c->addr,
			 c->ifname, c->speed_mbps, (double)c->cap * 8 / 1e6,
			 LINK_AUTO_SHARE_PCT);
	}
	r = 0;
out:
	rtnl_link_put(link);
	nl_socket_free(sk);
	freeaddrinfo(ai);
	return r;
}
