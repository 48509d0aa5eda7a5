// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * A migration channel: one TCP connection carrying wire frames, with its
 * own sequence numbers in each direction.  Reads wait with poll() so a
 * silent peer becomes a timeout, not a hang; every received header is
 * validated (wire_get_hdr) and its channel and sequence checked before the
 * payload is read into a buffer that grows to the frame's length, which
 * wire_get_hdr() bounds by the frame's type (wire_max_len()).  A channel
 * with a TLS session (tls.c) reads and writes through it; the waits, the
 * checks and the counts (frame bytes) stay the same.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "chan.h"
#include "tls.h"

/* A connection's first receive buffer: control frames and small PAGES. */
#define RX_MIN	(64U << 10)

/* Room for a payload of @len bytes (already checked by wire_get_hdr()). */
static int rx_reserve(struct chan *c, uint32_t len)
{
	uint32_t cap = (len + RX_MIN - 1) & ~(RX_MIN - 1);
	uint8_t *rx;

	if (len <= c->rx_cap)
		return 0;
	rx = realloc(c->rx, cap);
	if (!rx)
		return -ENOMEM;
	c->rx = rx;
	c->rx_cap = cap;
	return 0;
}

int chan_init(struct chan *c, int fd, uint16_t index, int timeout_ms)
{
	struct stat st;
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->index = index;
	c->timeout_ms = timeout_ms;
	c->rx_cap = RX_MIN;
	c->rx = malloc(c->rx_cap);
	if (!c->rx)
		return -ENOMEM;
	/* benchmarks send into /dev/null */
	c->not_socket = !fstat(fd, &st) && !S_ISSOCK(st.st_mode);
	if (!c->not_socket)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

void chan_fini(struct chan *c)
{
	chan_tls_free(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c->rx);
	c->rx = NULL;
	c->fd = -1;
}

int chan_wait(struct chan *c, short events)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	uint64_t t0 = kvmig_now_ns();
	int r;

	for (;;) {
		int slice = c->idle ? 100 : c->timeout_ms > 0 ? c->timeout_ms : -1;

		/*
		 * A signal ends the wait with -EINTR rather than restarting
		 * it: the caller (Ctrl-C in kvmig) may want to give up now.
		 */
		r = poll(&p, 1, slice);
		if (r < 0)
			r = -errno;
		else if (r)
			r = 0;
		else if (c->idle && (r = c->idle(c->idle_opaque)))
			;	/* the owner gave up */
		else if (c->timeout_ms > 0 &&
			 kvmig_now_ns() - t0 >= (uint64_t)c->timeout_ms * 1000000)
			r = -ETIMEDOUT;
		else
			continue;
		STAT_ADD(c->wait_ns, kvmig_now_ns() - t0);
		return r;
	}
}

static int write_all(struct chan *c, struct iovec *iov, int cnt)
{
	if (c->tls)
		return chan_tls_write(c, iov, cnt);
	while (cnt) {
		/*
		 * sendmsg, not writev: MSG_NOSIGNAL, no SIGPIPE for our caller;
		 * with an idle callback, never block inside the kernel, so the
		 * waits are counted and the owner can end them
		 */
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
		ssize_t n = c->not_socket ? writev(c->fd, iov, cnt) :
			    sendmsg(c->fd, &msg, MSG_NOSIGNAL |
				    (c->idle ? MSG_DONTWAIT : 0));

		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN) {
			int r = chan_wait(c, POLLOUT);

			if (r)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		STAT_ADD(c->bytes_sent, (uint64_t)n);
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int chan_send(struct chan *c, uint8_t type, const void *p1, uint32_t len1,
	      const void *p2, uint32_t len2)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	struct wire_hdr h = {
		.type = type, .channel = c->index, .len = len1 + len2,
		.seq = c->tx_seq,
	};
	struct iovec iov[3] = {
		{ hdr, sizeof(hdr) }, { (void *)p1, len1 }, { (void *)p2, len2 },
	};
	int r;

	if (len1 > WIRE_MAX_PAYLOAD || len2 > WIRE_MAX_PAYLOAD - len1)
		return -EMSGSIZE;
	wire_put_hdr(hdr, &h);
	r = write_all(c, iov, 3);
	if (!r)
		c->tx_seq++;
	return r;
}

/* Read @len bytes; *@got (if not NULL) counts those read so far. */
static int read_full(struct chan *c, void *buf, size_t len, uint32_t *got)
{
	char *p = buf;

	while (len) {
		ssize_t n;
		/* decrypted bytes wait in the TLS session, not in the socket */
		int r = chan_tls_pending(c) ? 0 : chan_wait(c, POLLIN);

		if (r)
			return r;
		if (c->tls) {
			n = chan_tls_read(c, p, len);
			if (n == -EAGAIN)
				continue;
			if (n < 0)
				return (int)n;
		} else {
			n = read(c->fd, p, len);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return -ECONNRESET;
		}
		STAT_ADD(c->bytes_recv, (uint64_t)n);
		if (got)
			*got += (uint32_t)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_frame(struct chan *c, struct wire_hdr *h, bool any_channel,
		      char *err, size_t errlen)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	int r;

	/* read by the destination's other receivers (dest.c, payload_stalled()) */
	__atomic_store_n(&c->rx_in_payload, false, __ATOMIC_RELAXED);
	r = read_full(c, hdr, sizeof(hdr), NULL);
	if (r) {
		snprintf(err, errlen, "channel %u: %s", c->index,
			 c->tls_err[0] ? c->tls_err :
			 r == -ECONNRESET ? "connection closed by the peer" :
			 r == -ETIMEDOUT ? "timed out waiting for the peer" :
			 strerror(-r));
		return r;
	}
	r = wire_get_hdr(hdr, h, err, errlen);
	if (r && !c->tls && !c->tx_seq && !c->rx_seq &&
	    tls_looks_like_hello(hdr, sizeof(hdr)))
		snprintf(err, errlen, "channel %u: the peer started TLS (a TLS "
			 "ClientHello), and this end has no --tls-creds", c->index);
	if (r)
		return r;
	if (any_channel)
		c->index = h->channel;	/* a new connection names itself */
	if (h->channel != c->index) {
		snprintf(err, errlen, "%s frame seq %llu: channel field %u, but it "
			 "came on channel %u", wire_type_name(h->type),
			 (unsigned long long)h->seq, h->channel, c->index);
		return -EBADMSG;
	}
	if (h->seq != c->rx_seq) {
		snprintf(err, errlen, "%s frame on channel %u: seq %llu, expected %llu",
			 wire_type_name(h->type), c->index,
			 (unsigned long long)h->seq, (unsigned long long)c->rx_seq);
		return -EBADMSG;
	}
	r = rx_reserve(c, h->len);
	if (r) {
		snprintf(err, errlen, "%s frame seq %llu on channel %u: no memory "
			 "for a payload of %u bytes", wire_type_name(h->type),
			 (unsigned long long)h->seq, c->index, h->len);
		return r;
	}
	__atomic_store_n(&c->rx_in_payload, true, __ATOMIC_RELAXED);
	c->rx_got = 0;
	r = read_full(c, c->rx, h->len, &c->rx_got);
	if (r == -ECONNRESET) {
		snprintf(err, errlen, "%s frame seq %llu on channel %u: payload of %u "
			 "bytes: connection closed after %u (truncated frame)",
			 wire_type_name(h->type), (unsigned long long)h->seq,
			 c->index, h->len, c->rx_got);
		return r;
	}
	if (r) {
		snprintf(err, errlen, "%s frame seq %llu on channel %u: payload of %u "
			 "bytes: %u arrived, then %s", wire_type_name(h->type),
			 (unsigned long long)h->seq, c->index, h->len, c->rx_got,
			 c->tls_err[0] ? c->tls_err : strerror(-r));
		return r;
	}
	__atomic_store_n(&c->rx_in_payload, false, __ATOMIC_RELAXED);
	c->rx_seq++;
	return 0;
}

int chan_recv(struct chan *c, struct wire_hdr *h, char *err, size_t errlen)
{
	return recv_frame(c, h, false, err, errlen);
}

int chan_recv_first(struct chan *c, struct wire_hdr *h, char *err,
		    size_t errlen)
{
	return recv_frame(c, h, true, err, errlen);
}

int chan_send_error(struct chan *c, int code, const char *msg)
{
	struct wire_error e = {
		.code = (uint32_t)(code < 0 ? -code : code), .msg = msg,
	};
	uint8_t head[WIRE_ERROR_FIXED];
	size_t len = strlen(msg);

	e.len = (uint32_t)(len > WIRE_MAX_ERROR_MSG ? WIRE_MAX_ERROR_MSG : len);
	return chan_send(c, WIRE_ERROR, head, wire_put_error(head, &e), msg, e.len);
}

/* An ERROR frame's message, escaped (the peer wrote it), into @out. */
int chan_parse_error(const struct wire_hdr *h, const uint8_t *p, char *out,
		     size_t outlen)
{
	struct wire_error e;
	char err[128];

	if (wire_get_error(h, p, &e, err, sizeof(err))) {
		snprintf(out, outlen, "(malformed ERROR frame)");
		return -EBADMSG;
	}
	kvmig_text_escape(out, outlen, e.msg, e.len);
	/* An errno, or 0 (the caller picks one); the rest are not errnos. */
	if (e.code > 4095)
		return -EPROTO;
	return -(int)e.code;
}

int chan_send_end(struct chan *c, uint8_t type, uint32_t iteration)
{
	struct wire_end e = { .iteration = iteration, .frames = c->tx_seq };
	uint8_t p[WIRE_END_SIZE];

	wire_put_end(p, &e);
	return chan_send(c, type, p, sizeof(p), NULL, 0);
}

int tcp_connect(const char *host, const char *port, int timeout_ms,
		char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, r;

	r = getaddrinfo(host, port, &hints, &res);
	if (r) {
		snprintf(err, errlen, "%s:%s: %s", host, port, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	r = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		{
			struct timeval tv = { timeout_ms / 1000,
					      (timeout_ms % 1000) * 1000 };

			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		/* SO_SNDTIMEO ran out: connect(2) says EINPROGRESS then */
		r = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "connecting to %s:%s: %s", host, port,
			 strerror(-r));
	return fd >= 0 ? fd : r;
}

int tcp_listen(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE,
	}, *res, *ai;
	int fd = -1, r, one = 1;

	r = getaddrinfo(host, port, &hints, &res);
	if (r) {
		snprintf(err, errlen, "%s:%s: %s", host ? host : "*", port,
			 gai_strerror(r));
		return -EADDRNOTAVAIL;
	}
	r = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 16))
			break;
		r = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "listening on %s:%s: %s", host ? host : "*",
			 port, strerror(-r));
	return fd >= 0 ? fd : r;
}

/*
 * Accept on @lfd within @timeout_ms.  While waiting, also watch @watch (if
 * >= 0) for @events: if they come first, return -EINPROGRESS and let the
 * caller look at @watch (the destination watches channel 0 while the
 * other channels connect).
 */
int tcp_accept_watch(int lfd, int watch, short events, int timeout_ms,
		     char *err, size_t errlen)
{
	uint64_t deadline = kvmig_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int r, fd;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = lfd, .events = POLLIN }, { .fd = watch, .events = events },
		};
		uint64_t now = kvmig_now_ns();

		r = now >= deadline ? 0 :
		    poll(p, 2, (int)((deadline - now + 999999) / 1000000));
		if (r <= 0) {
			r = r ? -errno : -ETIMEDOUT;
			snprintf(err, errlen, "waiting for the source to connect: %s",
				 strerror(-r));
			return r;
		}
		if (p[0].revents)
			break;
		if (p[1].revents)
			return -EINPROGRESS;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "accept: %s", strerror(errno));
		return r;
	}
	return fd;
}

int tcp_accept(int lfd, int timeout_ms, char *err, size_t errlen)
{
	return tcp_accept_watch(lfd, -1, 0, timeout_ms, err, errlen);	/* poll skips -1 */
}
