/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* Migration channels over TCP (channel.c); internal to libkvmig. */
#ifndef KVMIG_CHAN_H
#define KVMIG_CHAN_H

#include <stdbool.h>

#include "wire.h"

struct chan {
	int fd;
	uint16_t index;
	int timeout_ms;
	bool not_socket;	/* a file or pipe: writev, not sendmsg */
	uint64_t tx_seq;	/* next frame we send */
	uint64_t rx_seq;	/* next frame we expect */
	/* wire bytes, headers included: written by the channel's thread,
	 * read by others with STAT_GET */
	uint64_t bytes_sent;
	uint64_t bytes_recv;
	uint64_t wait_ns;	/* time spent waiting for the socket */
	/*
	 * If set, a read or write waits in 100 ms slices and calls idle()
	 * after each silent one; a non-zero return ends the wait with that
	 * error.  Either way, silence for timeout_ms (if > 0) is -ETIMEDOUT.
	 */
	int (*idle)(void *opaque);
	void *idle_opaque;
	/*
	 * The last received payload, in a buffer of rx_cap bytes that grows
	 * to the largest frame received (wire_max_len() bounds it), so a
	 * connection costs what its frames need, not WIRE_MAX_PAYLOAD.
	 */
	uint8_t *rx;
	uint32_t rx_cap;
	/*
	 * The frame being received, for a message that names one that
	 * stalls: rx_in_payload is set once its header has passed the
	 * checks and cleared when its payload is whole; rx_got counts the
	 * payload bytes read so far.  rx_got is the receiving thread's
	 * own (the idle callback runs on it); rx_in_payload is also read by
	 * the destination's other receivers (dest.c, payload_stalled()), so
	 * it is stored and loaded atomically.
	 */
	bool rx_in_payload;
	uint32_t rx_got;
	/*
	 * TLS (tls.c): the session, NULL while the channel is plaintext;
	 * whether a handshake that failed met a peer speaking plaintext kvmig
	 * (it reads an ERROR frame in plaintext); a TLS failure the receiving
	 * thread met on the established session, in words, for the message
	 * that names it (written and read by that thread only).
	 */
	struct tls_conn *tls;
	bool plain_peer;
	char tls_err[128];
};

/*
 * Wait until the socket is ready for @events (POLLIN, POLLOUT), in the
 * channel's idle slices: 0, the idle callback's error or -ETIMEDOUT.
 */
int chan_wait(struct chan *c, short events);
int chan_init(struct chan *c, int fd, uint16_t index, int timeout_ms);
void chan_fini(struct chan *c);
/* One frame whose payload is @p1 then @p2 (either may be empty). */
int chan_send(struct chan *c, uint8_t type, const void *p1, uint32_t len1,
	      const void *p2, uint32_t len2);
/* Receive one frame into c->rx; checks header, channel and sequence. */
int chan_recv(struct chan *c, struct wire_hdr *h, char *err, size_t errlen);
/* The first frame of a new connection: takes its channel from the header. */
int chan_recv_first(struct chan *c, struct wire_hdr *h, char *err,
		    size_t errlen);
int chan_send_error(struct chan *c, int code, const char *msg);
int chan_parse_error(const struct wire_hdr *h, const uint8_t *p, char *out,
		     size_t outlen);
/*
 * ITER_END or END (@type) closing pass @iteration (END: after @iteration
 * passes); its frames field is the channel's count of frames sent so far.
 */
int chan_send_end(struct chan *c, uint8_t type, uint32_t iteration);

int tcp_connect(const char *host, const char *port, int timeout_ms,
		char *err, size_t errlen);
int tcp_listen(const char *host, const char *port, char *err, size_t errlen);
int tcp_accept(int lfd, int timeout_ms, char *err, size_t errlen);
int tcp_accept_watch(int lfd, int watch, short events, int timeout_ms,
		     char *err, size_t errlen);

#endif /* KVMIG_CHAN_H */
