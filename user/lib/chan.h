/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* Migration channels over TCP (channel.c); internal to libkvmig. */
#ifndef KVMIG_CHAN_H
#define KVMIG_CHAN_H

#include "wire.h"

struct chan {
	int fd;
	uint16_t index;
	int timeout_ms;
	uint64_t tx_seq;	/* next frame we send */
	uint64_t rx_seq;	/* next frame we expect */
	uint64_t bytes_sent;	/* wire bytes, headers included */
	uint64_t bytes_recv;
	uint8_t *rx;		/* last received payload, WIRE_MAX_PAYLOAD */
};

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

int tcp_connect(const char *host, const char *port, int timeout_ms,
		char *err, size_t errlen);
int tcp_listen(const char *host, const char *port, char *err, size_t errlen);
int tcp_accept(int lfd, int timeout_ms, char *err, size_t errlen);
int tcp_accept_watch(int lfd, int watch, int timeout_ms, char *err,
		     size_t errlen);

#endif /* KVMIG_CHAN_H */
