// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The migration destination.  The caller's thread accepts the channels,
 * then one receiver thread per channel reads, decodes and applies its
 * frames while the caller's thread reports progress; at the end the
 * caller's thread checks, installs the device state and starts the VM:
 *
 *   listen ─► HELLO (checked against this VM's RAM) ─► HELLO_ACK
 *          ─► CHANNEL 1..n-1 ─► frames ... END on every channel
 *          ─► compare page hashes (verify) ─► set-device-state ─► COMPLETE
 *          ─► GO from the source ─► start the VM ─► STARTED
 *
 * Passes are barriers: once a channel delivers ITER_END(k) its receiver
 * does not read again until every channel has delivered ITER_END(k) (a
 * count of arrivals, futex-waited), so a page of pass k+1 can never be
 * overwritten by the same page of pass k arriving late on another channel.
 * Anything unexpected refuses the migration: an ERROR frame naming the
 * frame and field goes back to the source and the VM is not started; its
 * VMM still waits for an incoming migration, and the next one overwrites
 * every page.  Only a VMM waiting for one (query-status "inmigrate") is
 * accepted at all: a running guest is never written to.
 *
 * Ownership: receiver i alone uses channel i, its codec context, bounce
 * page and statistics (counters written with STAT_ADD, read by the
 * caller's thread with STAT_GET); receiver 0 alone fills the hashes and
 * the device state.  The caller's thread touches those only after joining
 * the receivers.  The first receiver to fail writes its message in its own
 * buffer, then claims d->failed with a CAS; the others see it within
 * 100 ms and stop.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "opts.h"
#include "memmap.h"
#include "vmm_client.h"
#include "stats.h"
#include "chan.h"
#include "tls.h"
#include "codec.h"
#include "futex.h"

/* Counters a receiver writes and the caller's thread reads. */
struct rstats {
	uint64_t busy_ns, cpu_ns;
};

struct dchan {
	struct chan c;
	struct dest *d;
	pthread_t thread;
	bool started;
	/*
	 * the receiver's own; iteration and ended are written atomically,
	 * so another receiver can say who it waits for
	 */
	uint32_t iteration;	/* pass whose pages this channel carries */
	bool ended;		/* sent END */
	struct page_dec dec;	/* dec.st is read with STAT_GET */
	int err;
	char msg[WIRE_MAX_ERROR_MSG];
	struct rstats st;
};

struct dest {
	struct kvmig_vmm *vmm;
	struct kvmig_memmap *map;
	struct kvmig_incoming_opts o;
	struct kvmig_migration_stats *st;
	struct kvmig_log log;
	struct dchan *ch;
	unsigned int nr_ch;
	struct tls_creds *tls;	/* NULL: plaintext channels */
	uint64_t session;
	uint32_t src_codecs;	/* encodings HELLO announced */
	bool verify;
	uint64_t pages;
	uint64_t *hashes;	/* from VERIFY frames (calloc: a page of it
				 * is only touched if hashes land there) */
	uint64_t zero_hash;	/* a zero page's */
	struct zero_range {	/* VERIFY zero ranges, in page order */
		uint64_t first, count;
	} *zero_ranges;
	size_t nr_zero_ranges, cap_zero_ranges;
	uint64_t hashes_got;
	char *device_state;
	uint64_t t_start;
	uint64_t t_progress;

	/* shared between the receivers and the caller's thread (atomics) */
	int failed;		/* 0; channel + 1; -1: the caller's thread */
	uint32_t arrivals;	/* ITER_ENDs received, all channels */
	uint32_t passes;	/* passes every channel has finished */
	uint32_t running;	/* receivers still running */
	uint64_t last_rx;	/* ns: the last frame on any channel */
};

/*
 * A receiver failed: keep its reason, then claim the failure; returns
 * @err.  The caller's thread turns it into the refusal after the join.
 */
static int rx_fail(struct dchan *dc, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int rx_fail(struct dchan *dc, int err, const char *fmt, ...)
{
	int none = 0;
	va_list ap;

	if (__atomic_load_n(&dc->d->failed, __ATOMIC_ACQUIRE))
		return err;
	va_start(ap, fmt);
	vsnprintf(dc->msg, sizeof(dc->msg), fmt, ap);
	va_end(ap);
	dc->err = err;
	__atomic_compare_exchange_n(&dc->d->failed, &none, (int)dc->c.index + 1,
				    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	return err;
}

static int report(struct dest *d, int err, const char *what, const char *fmt,
		  va_list ap)
{
	if (!d->st->error[0]) {
		vsnprintf(d->st->error, sizeof(d->st->error), fmt, ap);
		pr_err(&d->log, "%s: %s", what, d->st->error);
	}
	return err;
}

/* The migration's stream (or its source) was refused. */
static int refuse(struct dest *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct dest *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = report(d, err, "incoming migration refused", fmt, ap);
	va_end(ap);
	return err;
}

/* Nothing was received: this side could not get ready to receive. */
static int unready(struct dest *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int unready(struct dest *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = report(d, err, "cannot receive a migration", fmt, ap);
	va_end(ap);
	return err;
}

/*
 * Only a VMM that waits for an incoming migration may receive one: its
 * guest never ran, so nothing is lost if the migration fails.  Writing
 * pages into a running guest, or later stopping its VMM, would destroy it.
 */
static int check_vmm_waits(struct dest *d)
{
	char status[32];
	int r;

	r = kvmig_vmm_status(d->vmm, status, sizeof(status));
	if (r)
		return unready(d, r, "%s", kvmig_vmm_last_error(d->vmm));
	if (strcmp(status, "inmigrate"))
		return unready(d, -EBUSY, "the VMM at %s is not waiting for an "
			       "incoming migration (its status is '%s'; a "
			       "destination VMM starts with --incoming): its guest "
			       "is left as it was", kvmig_vmm_path(d->vmm), status);
	return 0;
}

/* The source's RAM layout must be exactly ours. */
static int check_hello(struct dest *d, const struct wire_hello *h)
{
	unsigned int i, n = kvmig_memmap_nr_slots(d->map);

	if (h->nr_slots != n)
		return refuse(d, -EPROTO, "HELLO frame: nr_slots %u, this VM has %u "
			      "memory slots", h->nr_slots, n);
	for (i = 0; i < n; i++) {
		const struct kvmig_slot *s = kvmig_memmap_slot(d->map, i);
		const struct wire_slot *w = &h->slots[i];

		if (w->id != s->id || w->gpa != s->gpa || w->size != s->size)
			return refuse(d, -EPROTO, "HELLO frame: slot %u: id %u gpa 0x%llx "
				      "size %llu, this VM has id %u gpa 0x%llx size %llu",
				      i, w->id, (unsigned long long)w->gpa,
				      (unsigned long long)w->size, s->id,
				      (unsigned long long)s->gpa,
				      (unsigned long long)s->size);
	}
	d->src_codecs = h->codecs & WIRE_CODECS_ALL;
	if ((h->codecs & WIRE_CODECS_V1) != WIRE_CODECS_V1)
		return refuse(d, -EPROTO, "HELLO frame: codecs 0x%x lack zero and raw "
			      "pages", h->codecs);
	return 0;
}

/* The channels in @mask as "1, 3-5"; returns how many there are. */
static unsigned int fmt_channels(char *buf, size_t len, uint64_t mask)
{
	unsigned int i = 0, j, n = 0;
	size_t off = 0;

	buf[0] = 0;
	while (i < WIRE_MAX_CHANNELS && off < len) {
		if (!(mask >> i & 1)) {
			i++;
			continue;
		}
		for (j = i + 1; j < WIRE_MAX_CHANNELS && mask >> j & 1; j++)
			;
		off += (size_t)snprintf(buf + off, len - off, j - i > 1 ?
					"%s%u-%u" : "%s%u", off ? ", " : "", i, j - 1);
		n += j - i;
		i = j;
	}
	return n;
}

/*
 * Channels 1..@nr-1 not connected yet, as "channel 2" or "channels 2-3";
 * returns how many.
 */
static unsigned int missing_channels(const struct dest *d, unsigned int nr,
				     char *buf, size_t len)
{
	uint64_t mask = 0;
	unsigned int i, n;
	char list[256];

	for (i = 1; i < nr; i++)
		if (d->ch[i].c.fd < 0)
			mask |= 1ULL << i;
	n = fmt_channels(list, sizeof(list), mask);
	snprintf(buf, len, "channel%s %s", n > 1 ? "s" : "", list);
	return n;
}

/* The channels connected so far, bit i for channel i. */
static uint64_t connected_channels(const struct dest *d)
{
	uint64_t mask = 0;
	unsigned int i;

	for (i = 0; i < WIRE_MAX_CHANNELS; i++)
		if (d->ch[i].c.fd >= 0)
			mask |= 1ULL << i;
	return mask;
}

/*
 * Channel 0 stirred while channels 1..@nr-1 connect.  The source starts
 * its first pass once its connect()s return, which can be before this
 * side has accepted them (they wait in the listen backlog), so the frames
 * of a pass may come on channel 0 now and are no reason to give up: they
 * wait in its socket until the receivers run, and from then on only a
 * close of channel 0 is watched (POLLRDHUP).  A close, an ERROR, a broken
 * header or a frame that has no place in a pass ends the wait at once.
 */
static int watch_channel0(struct dest *d, unsigned int nr, short *events)
{
	char who[300], err[512], msg[WIRE_MAX_ERROR_MSG + 1];
	struct chan *c = &d->ch[0].c;
	uint8_t b[WIRE_HDR_SIZE];
	struct wire_hdr h;
	const char *was;
	ssize_t n = 0;
	int r;

	was = missing_channels(d, nr, who, sizeof(who)) > 1 ? "were" : "was";
	if (c->tls && !(*events & POLLRDHUP)) {
		/* ciphertext: no header to peek at; only a close is watched */
		*events = POLLRDHUP;
		return 0;
	}
	if (c->tls) {
		/* the source closed: an ERROR frame may say why */
		r = chan_recv(c, &h, err, sizeof(err));
		if (!r && h.type == WIRE_ERROR) {
			r = chan_parse_error(&h, c->rx, msg, sizeof(msg));
			return refuse(d, r ? r : -EPROTO, "the source gave up while "
				      "%s %s still to connect: %s", who, was, msg);
		}
		return refuse(d, -ECONNRESET, "channel 0 closed by the source while "
			      "%s %s still to connect", who, was);
	}
	if (!(*events & POLLRDHUP))
		n = recv(c->fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0)
		return refuse(d, -ECONNRESET, "channel 0: %s while %s %s still "
			      "to connect", strerror(errno), who, was);
	if (!n)
		return refuse(d, -ECONNRESET, "channel 0 closed by the source while "
			      "%s %s still to connect", who, was);
	if (n < WIRE_HDR_SIZE) {
		*events = POLLRDHUP;	/* part of a header: the receiver reads it */
		return 0;
	}
	r = wire_get_hdr(b, &h, err, sizeof(err));
	if (r)
		return refuse(d, r, "channel 0, while %s %s still to connect: "
			      "%s", who, was, err);
	switch (h.type) {
	case WIRE_PAGES:
	case WIRE_ITER_END:
	case WIRE_DEVICE_STATE:
	case WIRE_VERIFY:
	case WIRE_END:
		*events = POLLRDHUP;
		return 0;
	case WIRE_ERROR:
		r = chan_recv(c, &h, err, sizeof(err));
		if (r)
			return refuse(d, r, "%s", err);
		r = chan_parse_error(&h, c->rx, msg, sizeof(msg));
		return refuse(d, r ? r : -EPROTO, "the source gave up while %s %s "
			      "still to connect: %s", who, was, msg);
	default:
		return refuse(d, -EPROTO, "%s frame seq %llu on channel 0: not "
			      "expected while %s %s still to connect",
			      wire_type_name(h.type), (unsigned long long)h.seq,
			      who, was);
	}
}

static int accept_channels(struct dest *d, int lfd)
{
	uint64_t deadline;
	short watch = POLLIN;
	struct wire_hello *h = calloc(1, sizeof(*h));
	struct wire_hello_ack ack = { .codecs = WIRE_CODECS_ALL };
	uint8_t ackb[WIRE_HELLO_ACK_SIZE];
	struct wire_hdr hdr;
	char err[512];
	unsigned int i;
	int fd, r;

	if (!h)
		return refuse(d, -ENOMEM, "out of memory");
	d->ch = calloc(WIRE_MAX_CHANNELS, sizeof(*d->ch));
	if (!d->ch) {
		free(h);
		return refuse(d, -ENOMEM, "out of memory");
	}
	for (i = 0; i < WIRE_MAX_CHANNELS; i++)
		d->ch[i].c.fd = -1;

	fd = tcp_accept(lfd, d->o.timeout_ms, err, sizeof(err));
	if (fd < 0) {
		r = unready(d, fd, "%s", err);	/* no source came */
		goto out;
	}
	r = chan_init(&d->ch[0].c, fd, 0, d->o.timeout_ms);
	if (r) {
		close(fd);
		goto out;
	}
	d->nr_ch = 1;
	if (d->tls) {
		r = chan_tls_start(&d->ch[0].c, d->tls, NULL, err, sizeof(err));
		if (r) {
			r = refuse(d, r, "channel 0: %s", err);
			goto out;
		}
		{
			char *desc = chan_tls_desc(&d->ch[0].c);

			pr_info(&d->log, "TLS %s, %s", desc ? desc : "",
				tls_creds_is_psk(d->tls) ? "pre-shared key" :
				"certificates checked");
			free(desc);
		}
	}
	r = chan_recv(&d->ch[0].c, &hdr, err, sizeof(err));
	if (!r && hdr.type != WIRE_HELLO) {
		snprintf(err, sizeof(err), "%s frame: the stream must start with HELLO",
			 wire_type_name(hdr.type));
		r = -EPROTO;
	}
	if (!r)
		r = wire_get_hello(d->ch[0].c.rx, hdr.len, h, err, sizeof(err));
	if (r) {
		r = refuse(d, r, "%s", err);
		goto out;
	}
	r = check_hello(d, h);
	if (r)
		goto out;
	d->session = h->session;
	d->verify = h->flags & WIRE_HELLO_VERIFY;
	d->st->channels = h->nr_channels;
	wire_put_hello_ack(ackb, &ack);		/* all we decode */
	r = chan_send(&d->ch[0].c, WIRE_HELLO_ACK, ackb, sizeof(ackb), NULL, 0);
	if (r) {
		r = refuse(d, r, "sending HELLO_ACK: %s", strerror(-r));
		goto out;
	}

	/* the other channels, in any order, each naming its index */
	deadline = kvmig_now_ns() + (uint64_t)d->o.timeout_ms * 1000000;
	while (d->nr_ch < h->nr_channels) {
		uint64_t now = kvmig_now_ns();
		int left = now < deadline ?
			   (int)((deadline - now + 999999) / 1000000) : 0;
		struct wire_channel ch;
		struct chan tmp;

		/*
		 * What waits decrypted in channel 0's session, poll cannot
		 * see; once only a close is watched, it waits for the receivers.
		 */
		fd = chan_tls_pending(&d->ch[0].c) && !(watch & POLLRDHUP) ?
		     -EINPROGRESS : tcp_accept_watch(lfd, d->ch[0].c.fd, watch,
						     left, err, sizeof(err));
		if (fd == -EINPROGRESS) {
			r = watch_channel0(d, h->nr_channels, &watch);
			if (r)
				goto out;
			continue;
		}
		if (fd < 0) {
			char who[300];

			missing_channels(d, h->nr_channels, who, sizeof(who));
			r = refuse(d, fd, "waiting for the source's channels: %s "
				   "missing (%u of %u connected): %s", who,
				   d->nr_ch, h->nr_channels, strerror(-fd));
			goto out;
		}
		r = chan_init(&tmp, fd, 0, d->o.timeout_ms);
		if (r) {
			close(fd);
			goto out;
		}
		if (d->tls) {
			r = chan_tls_start(&tmp, d->tls, NULL, err, sizeof(err));
			if (r) {
				r = refuse(d, r, "a channel of the source: %s", err);
				chan_fini(&tmp);
				goto out;
			}
		}
		/* its index is not known yet: the frame names it */
		r = chan_recv_first(&tmp, &hdr, err, sizeof(err));
		if (!r)
			r = wire_get_channel(&hdr, tmp.rx, d->session, h->nr_channels,
					     connected_channels(d), &ch, err,
					     sizeof(err));
		if (r) {
			r = refuse(d, r, "%s", err);
			chan_fini(&tmp);
			goto out;
		}
		d->ch[ch.index].c = tmp;
		d->nr_ch++;
		/* each connection may take up to the timeout */
		deadline = kvmig_now_ns() + (uint64_t)d->o.timeout_ms * 1000000;
	}
	r = 0;
out:
	free(h);
	return r;
}

/*
 * Zero pages are punched out of the memfd (MADV_REMOVE) rather than
 * written: no memory is allocated for them, and a page that is already a
 * hole costs nothing.  Consecutive ones go in one call.
 */
struct zero_run {
	uint8_t *start;
	size_t len;
};

static void zero_flush(struct zero_run *z)
{
	if (z->len && madvise(z->start, z->len, MADV_REMOVE))
		memset(z->start, 0, z->len);	/* not shmem: write zeroes */
	z->len = 0;
}

/* @len bytes from @hva on are zero: add them to the run, or start one. */
static void zero_add(struct zero_run *z, uint8_t *hva, size_t len)
{
	if (z->len && z->start + z->len == hva) {
		z->len += len;
		return;
	}
	zero_flush(z);
	z->start = hva;
	z->len = len;
}

static int apply_pages(struct dest *d, struct dchan *dc, const struct wire_hdr *h)
{
	unsigned long long seq = (unsigned long long)h->seq;
	struct zero_run z = { 0 };
	struct wire_pages_iter it;
	struct wire_page pg;
	char err[256];
	int r;

	r = wire_pages_begin(&it, dc->c.rx, h->len, err, sizeof(err));
	if (r)
		return rx_fail(dc, r, "channel %u seq %llu: %s", dc->c.index, seq, err);
	if (it.iteration != dc->iteration)
		return rx_fail(dc, -EPROTO, "PAGES frame seq %llu on channel %u: "
			       "iteration %u, the channel is in pass %u", seq,
			       dc->c.index, it.iteration, dc->iteration);
	while ((r = wire_pages_next(&it, &pg, err, sizeof(err))) > 0) {
		uint8_t *hva = kvmig_memmap_gpa_to_hva(d->map, pg.gpa, WIRE_PAGE_SIZE);

		if (!hva)
			return rx_fail(dc, -EFAULT, "PAGES frame seq %llu on channel "
				       "%u: entry %u: gpa 0x%llx is not guest RAM",
				       seq, dc->c.index, it.index - 1,
				       (unsigned long long)pg.gpa);
		if (!(d->src_codecs & (1U << pg.encoding)))
			return rx_fail(dc, -EPROTO, "PAGES frame seq %llu on channel "
				       "%u: entry %u: encoding %s was not announced "
				       "in HELLO", seq, dc->c.index, it.index - 1,
				       wire_encoding_name(pg.encoding));
		/*
		 * Pass 0 replaces the VMM's own image: there is no page the
		 * source could know to encode a difference against.
		 */
		if (pg.encoding == WIRE_ENC_XBZRLE && !it.iteration)
			return rx_fail(dc, -EPROTO, "PAGES frame seq %llu on channel "
				       "%u: entry %u (gpa 0x%llx): xbzrle in pass 0, "
				       "which carries every page whole", seq,
				       dc->c.index, it.index - 1,
				       (unsigned long long)pg.gpa);
		/* zero pages: runs punched at once rather than page_apply()'s
		 * memset per page */
		if (pg.encoding == WIRE_ENC_ZERO_RUN) {
			hva = kvmig_memmap_gpa_to_hva(d->map, pg.gpa,
						      pg.pages * WIRE_PAGE_SIZE);
			if (!hva)
				return rx_fail(dc, -EFAULT, "PAGES frame seq %llu on "
					       "channel %u: entry %u: a zero run of "
					       "%llu pages from gpa 0x%llx leaves its "
					       "slot of guest RAM", seq, dc->c.index,
					       it.index - 1,
					       (unsigned long long)pg.pages,
					       (unsigned long long)pg.gpa);
		}
		if (pg.encoding == WIRE_ENC_ZERO ||
		    pg.encoding == WIRE_ENC_ZERO_RUN) {
			zero_add(&z, hva, pg.pages * WIRE_PAGE_SIZE);
			STAT_ADD(dc->dec.st.zero, pg.pages);
			continue;
		}
		zero_flush(&z);
		r = page_apply(&dc->dec, &pg, hva, err, sizeof(err));
		if (r)
			return rx_fail(dc, r, "PAGES frame seq %llu on channel "
				       "%u: entry %u (gpa 0x%llx): %s", seq,
				       dc->c.index, it.index - 1,
				       (unsigned long long)pg.gpa, err);
	}
	zero_flush(&z);
	if (r)
		return rx_fail(dc, r, "channel %u seq %llu: %s", dc->c.index, seq, err);
	return 0;
}

/* Pages [@first, +@count) hash as zero pages on the source. */
static int add_zero_range(struct dest *d, uint64_t first, uint64_t count)
{
	struct zero_range *zr = d->zero_ranges;
	struct zero_range *last = d->nr_zero_ranges ?
				  &zr[d->nr_zero_ranges - 1] : NULL;

	/* one that follows the last extends it: at most one range per two
	 * pages, whatever a source sends */
	if (last && last->first + last->count == first) {
		last->count += count;
		return 0;
	}
	if (d->nr_zero_ranges == d->cap_zero_ranges) {
		size_t cap = d->cap_zero_ranges ? 2 * d->cap_zero_ranges : 64;

		zr = reallocarray(zr, cap, sizeof(*zr));
		if (!zr)
			return -ENOMEM;
		d->zero_ranges = zr;
		d->cap_zero_ranges = cap;
	}
	zr[d->nr_zero_ranges++] = (struct zero_range){ first, count };
	return 0;
}

static int take_hashes(struct dest *d, struct dchan *dc, const struct wire_hdr *h)
{
	struct wire_verify v;
	char err[256];
	uint32_t i;
	int r;

	if (!d->verify)
		return rx_fail(dc, -EPROTO, "VERIFY frame seq %llu: HELLO did not "
			       "announce verification", (unsigned long long)h->seq);
	r = wire_get_verify(h, dc->c.rx, &v, err, sizeof(err));
	if (r)
		return rx_fail(dc, r, "%s", err);
	if (v.first != d->hashes_got || v.first > d->pages ||
	    v.count > d->pages - v.first)
		return rx_fail(dc, -EBADMSG, "VERIFY frame seq %llu: pages [%llu, "
			       "+%u) out of order or past the %llu guest pages",
			       (unsigned long long)h->seq,
			       (unsigned long long)v.first, v.count,
			       (unsigned long long)d->pages);
	if (v.flags & WIRE_VERIFY_ZERO) {
		if (!(d->src_codecs & (1U << WIRE_ENC_ZERO_RUN)))
			return rx_fail(dc, -EPROTO, "VERIFY frame seq %llu: a zero "
				       "range, but HELLO did not announce zero "
				       "runs", (unsigned long long)h->seq);
		if (v.count && add_zero_range(d, v.first, v.count))
			return rx_fail(dc, -ENOMEM, "VERIFY frame seq %llu: out "
				       "of memory", (unsigned long long)h->seq);
	} else {
		for (i = 0; i < v.count; i++)
			d->hashes[v.first + i] = wire_verify_hash(&v, i);
	}
	d->hashes_got += v.count;
	return 0;
}

static bool failed(const struct dest *d)
{
	return __atomic_load_n(&d->failed, __ATOMIC_ACQUIRE);
}

static bool quiet_for(const struct dest *d)
{
	uint64_t last = __atomic_load_n(&d->last_rx, __ATOMIC_RELAXED);

	return kvmig_now_ns() - last >= (uint64_t)d->o.timeout_ms * 1000000;
}

/*
 * When nothing came for the timeout, which receiver says so: one that
 * waits in the middle of a payload names its frame; the others (waiting
 * for a header, or at the barrier) name the silent channels, but only if
 * no channel is in a payload: that one knows more, and reports on its own
 * next check.  Precedence by state, not by who checks first.
 */
static bool payload_stalled(const struct dest *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_ch; i++)
		if (__atomic_load_n(&d->ch[i].c.rx_in_payload, __ATOMIC_RELAXED))
			return true;
	return false;
}

/*
 * Whom the destination waits for: the channels that have not ended and
 * are in the lowest pass ("channels 1, 3 silent in pass 2"); the others
 * wait at that pass's end ("(channel 0 waits at its end)").
 */
static void silent_channels(struct dest *d, char *buf, size_t len)
{
	uint64_t silent = 0, parked = 0;
	uint32_t low = UINT32_MAX;
	char a[256], b[256];
	unsigned int i, n, m;

	for (i = 0; i < d->nr_ch; i++)
		if (!__atomic_load_n(&d->ch[i].ended, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&d->ch[i].iteration, __ATOMIC_ACQUIRE) < low)
			low = __atomic_load_n(&d->ch[i].iteration, __ATOMIC_ACQUIRE);
	for (i = 0; i < d->nr_ch; i++) {
		if (__atomic_load_n(&d->ch[i].ended, __ATOMIC_ACQUIRE))
			continue;
		if (__atomic_load_n(&d->ch[i].iteration, __ATOMIC_ACQUIRE) == low)
			silent |= 1ULL << i;
		else
			parked |= 1ULL << i;
	}
	n = fmt_channels(a, sizeof(a), silent);
	m = fmt_channels(b, sizeof(b), parked);
	if (!m)
		snprintf(buf, len, "channel%s %s silent in pass %u", n > 1 ? "s" : "",
			 a, low);
	else
		snprintf(buf, len, "channel%s %s silent in pass %u (channel%s %s "
			 "wait%s at its end)", n > 1 ? "s" : "", a, low,
			 m > 1 ? "s" : "", b, m > 1 ? "" : "s");
}

/*
 * ITER_END(k) arrived on @dc: wait until it has on every channel.  The
 * last to arrive counts the pass and wakes the others.
 */
static int barrier(struct dest *d, struct dchan *dc)
{
	uint32_t target = d->nr_ch * dc->iteration;
	uint32_t n = __atomic_add_fetch(&d->arrivals, 1, __ATOMIC_SEQ_CST);
	char who[600];
	unsigned int i;

	if (n == target) {
		__atomic_store_n(&d->passes, dc->iteration, __ATOMIC_RELAXED);
		futex_wake_all(&d->arrivals);
		return 0;
	}
	while (n < target) {
		if (failed(d))
			return -ECANCELED;
		/* a channel that ended before this pass will never reach it */
		for (i = 0; i < d->nr_ch; i++) {
			uint32_t done = __atomic_load_n(&d->ch[i].iteration,
							__ATOMIC_ACQUIRE);

			if (__atomic_load_n(&d->ch[i].ended, __ATOMIC_ACQUIRE) &&
			    done < dc->iteration)
				return rx_fail(dc, -EPROTO, "channel %u ended after "
					       "%u pass%s, but channel %u carried "
					       "pass %u", i, done, done == 1 ? "" : "es",
					       dc->c.index, dc->iteration - 1);
		}
		if (quiet_for(d) && !payload_stalled(d)) {
			silent_channels(d, who, sizeof(who));
			return rx_fail(dc, -ETIMEDOUT, "no data from the source for "
				       "%d ms: %s", d->o.timeout_ms, who);
		}
		futex_wait(&d->arrivals, n, 100);
		n = __atomic_load_n(&d->arrivals, __ATOMIC_SEQ_CST);
	}
	return 0;
}

/* Handle one received frame; returns 0 or a refusal. */
static int handle(struct dest *d, struct dchan *dc, const struct wire_hdr *h)
{
	const uint8_t *p = dc->c.rx;
	char msg[WIRE_MAX_ERROR_MSG + 1];
	struct wire_device_state ds;
	struct wire_end e;
	int r;

	switch (h->type) {
	case WIRE_PAGES:
		return apply_pages(d, dc, h);
	case WIRE_ITER_END:
		/* each field checked and named on its own, in payload order */
		r = wire_get_iter_end(h, p, dc->iteration, &e, msg, sizeof(msg));
		if (r)
			return rx_fail(dc, r, "%s", msg);
		__atomic_store_n(&dc->iteration, dc->iteration + 1, __ATOMIC_RELEASE);
		return barrier(d, dc);
	case WIRE_DEVICE_STATE:
		if (dc->c.index || d->device_state)
			return rx_fail(dc, -EPROTO, "DEVICE_STATE frame seq %llu on "
				       "channel %u: only one, on channel 0",
				       (unsigned long long)h->seq, dc->c.index);
		r = wire_get_device_state(h, p, &ds, msg, sizeof(msg));
		if (r)
			return rx_fail(dc, r, "%s", msg);
		d->device_state = malloc(ds.len + 1);
		if (!d->device_state)
			return rx_fail(dc, -ENOMEM, "out of memory");
		memcpy(d->device_state, ds.json, ds.len);
		d->device_state[ds.len] = 0;
		return 0;
	case WIRE_VERIFY:
		if (dc->c.index)
			return rx_fail(dc, -EPROTO, "VERIFY frame on channel %u: only "
				       "on channel 0", dc->c.index);
		return take_hashes(d, dc, h);
	case WIRE_END:
		r = wire_get_end(h, p, dc->iteration, &e, msg, sizeof(msg));
		if (r)
			return rx_fail(dc, r, "%s", msg);
		__atomic_store_n(&dc->ended, true, __ATOMIC_RELEASE);
		return 0;
	case WIRE_ERROR:
		r = chan_parse_error(h, p, msg, sizeof(msg));
		return rx_fail(dc, r ? r : -EPROTO, "the source gave up: %s", msg);
	default:
		return rx_fail(dc, -EPROTO, "%s frame seq %llu on channel %u: not "
			       "expected here", wire_type_name(h->type),
			       (unsigned long long)h->seq, dc->c.index);
	}
}

/*
 * A receiver's channel was silent for 100 ms: stop if another failed or
 * if no channel at all has brought anything for timeout_ms.  (A channel
 * may rightly be silent for a long pass while the others carry it.)
 */
static int rx_idle(void *opaque)
{
	struct dchan *dc = opaque;
	struct dest *d = dc->d;

	if (failed(d))
		return -ECANCELED;
	if (!quiet_for(d))
		return 0;
	if (!__atomic_load_n(&dc->c.rx_in_payload, __ATOMIC_RELAXED) &&
	    payload_stalled(d))
		return 0;	/* the stalled frame's receiver reports */
	return -ETIMEDOUT;
}

static void *receiver(void *arg)
{
	struct dchan *dc = arg;
	struct dest *d = dc->d;
	char err[512];
	int r = 0;

	while (!dc->ended && !r) {
		struct wire_hdr h;
		uint64_t t;

		r = chan_recv(&dc->c, &h, err, sizeof(err));
		if (r) {
			char who[600];

			if (r == -ETIMEDOUT &&
			    __atomic_load_n(&dc->c.rx_in_payload, __ATOMIC_RELAXED)) {
				rx_fail(dc, r, "%s frame seq %llu on channel %u: "
					"payload of %u bytes: %u arrived, then "
					"nothing for %d ms", wire_type_name(h.type),
					(unsigned long long)h.seq, dc->c.index,
					h.len, dc->c.rx_got, d->o.timeout_ms);
			} else if (r == -ETIMEDOUT) {
				silent_channels(d, who, sizeof(who));
				rx_fail(dc, r, "no data from the source for %d ms: "
					"%s", d->o.timeout_ms, who);
			} else if (r != -ECANCELED)
				rx_fail(dc, r, "%s", err);
			break;
		}
		t = kvmig_now_ns();
		__atomic_store_n(&d->last_rx, t, __ATOMIC_RELAXED);
		r = handle(d, dc, &h);
		STAT_ADD(dc->st.busy_ns, kvmig_now_ns() - t);
		{
			struct timespec ts;

			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
			__atomic_store_n(&dc->st.cpu_ns, (uint64_t)ts.tv_sec *
					 1000000000ULL + (uint64_t)ts.tv_nsec,
					 __ATOMIC_RELAXED);
		}
	}
	__atomic_sub_fetch(&d->running, 1, __ATOMIC_SEQ_CST);
	futex_wake_all(&d->running);
	return NULL;
}

/* Wire bytes received on every channel (slots of unused ones count 0). */
static uint64_t bytes_received(const struct dest *d)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; d->ch && i < WIRE_MAX_CHANNELS; i++)
		n += STAT_GET(d->ch[i].c.bytes_recv);
	return n;
}

static void collect_stats(struct dest *d)
{
	struct kvmig_migration_stats *st = d->st;
	uint64_t elapsed = kvmig_now_ns() - d->t_start;
	unsigned int i;

	st->ram.transferred = bytes_received(d);
	st->total_time_ms = elapsed / 1000000;
	st->ram.iterations = __atomic_load_n(&d->passes, __ATOMIC_RELAXED);
	st->pipeline.workers = d->nr_ch;
	page_stats_begin(st);
	for (i = 0; d->ch && i < d->nr_ch; i++) {
		const struct page_counters *pc = &d->ch[i].dec.st;
		const struct rstats *r = &d->ch[i].st;
		struct kvmig_worker_stats *ws = &st->pipeline.worker[i];

		ws->pages = STAT_GET(pc->zero) + STAT_GET(pc->normal);
		ws->wire_bytes = STAT_GET(d->ch[i].c.bytes_recv);
		ws->busy_ns = STAT_GET(r->busy_ns);
		ws->wait_ns = STAT_GET(d->ch[i].c.wait_ns);
		ws->cpu_ns = STAT_GET(r->cpu_ns);
		ws->cpu_util = elapsed ? (double)ws->cpu_ns / (double)elapsed : 0;
		page_stats_add(st, pc, i);
	}
	page_stats_end(st);
}

static int progress(struct dest *d)
{
	uint64_t now = kvmig_now_ns();

	if (now - d->t_progress < 100000000ULL)
		return 0;
	d->t_progress = now;
	collect_stats(d);
	return d->o.progress && d->o.progress(d->st, d->o.progress_opaque) ?
	       -ECANCELED : 0;
}

/* Run a receiver per channel until every one has sent END (or failed). */
static int receive(struct dest *d)
{
	sigset_t all, old;
	unsigned int i;
	int r = 0, f;

	d->last_rx = kvmig_now_ns();
	for (i = 0; i < d->nr_ch; i++) {
		struct dchan *dc = &d->ch[i];

		dc->d = d;
		codec_ctx_init(&dc->dec.ctx);
		dc->c.timeout_ms = 0;	/* rx_idle decides */
		dc->c.idle = rx_idle;
		dc->c.idle_opaque = dc;
	}
	/* signals stay with the caller's thread (Ctrl-C = cancel) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < d->nr_ch && !r; i++) {
		__atomic_add_fetch(&d->running, 1, __ATOMIC_SEQ_CST);
		r = -pthread_create(&d->ch[i].thread, NULL, receiver, &d->ch[i]);
		if (r)
			__atomic_sub_fetch(&d->running, 1, __ATOMIC_SEQ_CST);
		else
			d->ch[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		int none = 0;

		__atomic_compare_exchange_n(&d->failed, &none, -1, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	for (;;) {
		uint32_t n = __atomic_load_n(&d->running, __ATOMIC_SEQ_CST);
		int none = 0;

		if (!n)
			break;
		futex_wait(&d->running, n, 100);
		if (!failed(d) && progress(d)) {
			r = -ECANCELED;
			__atomic_compare_exchange_n(&d->failed, &none, -1, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		}
	}
	for (i = 0; i < d->nr_ch; i++) {
		struct dchan *dc = &d->ch[i];

		if (dc->started)
			pthread_join(dc->thread, NULL);
		dc->started = false;
		codec_ctx_fini(&dc->dec.ctx);
		dc->c.idle = NULL;
		dc->c.timeout_ms = d->o.timeout_ms;
	}
	collect_stats(d);
	f = __atomic_load_n(&d->failed, __ATOMIC_ACQUIRE);
	if (f > 0)
		return refuse(d, d->ch[f - 1].err, "%s", d->ch[f - 1].msg);
	if (f < 0)
		return refuse(d, r ? r : -ENOMEM, "%s", r == -ECANCELED ? "cancelled" :
			      "starting the receivers: out of resources");
	return 0;
}

/* COMPLETE with @status (0: ready for GO, or a positive errno). */
static int send_complete(struct dest *d, uint32_t status, uint64_t mismatches)
{
	struct wire_complete c = {
		.status = status, .verify_pages = d->st->verify.pages,
		.mismatches = mismatches,
	};
	uint8_t b[WIRE_COMPLETE_SIZE];

	wire_put_complete(b, &c);
	return chan_send(&d->ch[0].c, WIRE_COMPLETE, b, sizeof(b), NULL, 0);
}

/* STARTED with @status (0: the guest runs, or a positive errno). */
static void send_started(struct dest *d, uint32_t status)
{
	struct wire_started st = { .status = status };
	uint8_t b[WIRE_STARTED_SIZE];

	wire_put_started(b, &st);
	chan_send(&d->ch[0].c, WIRE_STARTED, b, sizeof(b), NULL, 0);
}

/* The pages of @zr that are not zero here; holes of the memfd are. */
static uint64_t zero_range_bad(const struct dest *d, const struct zero_range *zr,
			       struct kvmig_hole_cache *hc)
{
	uint64_t i, n, bad = 0, end = zr->first + zr->count;

	for (i = zr->first; i < end; i += n) {
		n = kvmig_memmap_hole_run(d->map, i, end - i, hc);
		if (!n) {
			n = 1;
			bad += kvmig_page_hash(d->map, i, hc, d->zero_hash) !=
			       d->zero_hash;
		}
	}
	return bad;
}

static int finish(struct dest *d)
{
	uint64_t i, bad = 0;
	size_t z;
	int r;
	struct kvmig_hole_cache hc = KVMIG_HOLE_CACHE_INIT;

	if (d->verify) {
		if (d->hashes_got != d->pages)
			return refuse(d, -EPROTO, "VERIFY frames covered %llu of %llu "
				      "pages", (unsigned long long)d->hashes_got,
				      (unsigned long long)d->pages);
		for (i = 0, z = 0; i < d->pages; i++) {
			const struct zero_range *zr = z < d->nr_zero_ranges ?
						      &d->zero_ranges[z] : NULL;

			if (zr && i == zr->first) {
				bad += zero_range_bad(d, zr, &hc);
				i += zr->count - 1;
				z++;
				continue;
			}
			bad += kvmig_page_hash(d->map, i, &hc, d->zero_hash) !=
			       d->hashes[i];
		}
		d->st->verify.done = true;
		d->st->verify.pages = d->pages;
		d->st->verify.mismatches = bad;
	}
	if (!d->device_state)
		return refuse(d, -EPROTO, "END before DEVICE_STATE: the source sent "
			      "no device state");
	if (bad) {
		send_complete(d, EIO, bad);
		return refuse(d, -EIO, "%llu of %llu pages differ from the source's",
			      (unsigned long long)bad, (unsigned long long)d->pages);
	}
	/* the device state is the VMM's get-device-state answer, as is */
	r = kvmig_vmm_request(d->vmm, "set-device-state", d->device_state, NULL,
			      NULL, 0, NULL);
	if (r) {
		send_complete(d, EPROTO, bad);
		return refuse(d, r, "the VMM refused the device state: %s",
			      kvmig_vmm_last_error(d->vmm));
	}
	r = send_complete(d, 0, bad);
	if (r)
		return refuse(d, r, "sending COMPLETE: %s", strerror(-r));
	/* ready: the guest starts here only on the source's GO */
	{
		struct wire_hdr h;
		char err[512];

		r = chan_recv(&d->ch[0].c, &h, err, sizeof(err));
		if (!r && h.type == WIRE_ERROR) {
			char msg[WIRE_MAX_ERROR_MSG + 1];

			r = chan_parse_error(&h, d->ch[0].c.rx, msg, sizeof(msg));
			return refuse(d, r ? r : -ECANCELED, "the source gave up "
				      "before GO: %s", msg);
		}
		if (!r)
			r = wire_get_go(&h, d->ch[0].c.rx, err, sizeof(err));
		if (r)
			return refuse(d, r, "waiting for GO: %s", err);
		if (!d->o.no_start &&
		    kvmig_vmm_request(d->vmm, "cont", NULL, NULL, NULL, 0, NULL)) {
			send_started(d, EIO);
			return refuse(d, -EIO, "starting the VM: %s",
				      kvmig_vmm_last_error(d->vmm));
		}
		/* if STARTED is lost the source keeps its copy paused: safe */
		send_started(d, 0);
	}
	return 0;
}

/* Tell @fn where @lfd really listens (port 0: the kernel chose). */
static int announce_listening(struct dest *d, int lfd, kvmig_listening_fn fn,
			      void *opaque)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int r;

	if (!fn)
		return 0;
	if (getsockname(lfd, (struct sockaddr *)&a, &len))
		return unready(d, -errno, "the listening socket's address: %s",
			       strerror(errno));
	r = getnameinfo((struct sockaddr *)&a, len, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	if (r)
		return unready(d, -EADDRNOTAVAIL, "the listening socket's "
			       "address: %s", gai_strerror(r));
	r = fn(host, port, opaque);
	if (r)
		return unready(d, r < 0 ? r : -EINVAL, "announcing %s port %s: %s",
			       host, port, strerror(r < 0 ? -r : EINVAL));
	return 0;
}

static int incoming(struct kvmig_vmm *vmm, const char *host,
				const char *port,
				const struct kvmig_incoming_opts *opts,
				struct kvmig_migration_stats *stats)
{
	struct dest d = { 0 };
	char err[512];
	unsigned int i;
	int lfd = -1, r;

	d.vmm = vmm;
	d.st = stats;
	d.log.fn = OPTS_GET(opts, print, NULL);
	d.log.opaque = OPTS_GET(opts, print_opaque, NULL);
	{
		char why[200];

		if (OPTS_CHECK(opts, why, sizeof(why)))
			return unready(&d, -EINVAL, "%s", why);
	}
	d.o.no_start = OPTS_GET(opts, no_start, false);
	d.o.timeout_ms = OPTS_GET(opts, timeout_ms, 0) ?: 30000;
	d.o.progress = OPTS_GET(opts, progress, NULL);
	d.o.progress_opaque = OPTS_GET(opts, progress_opaque, NULL);
	d.t_start = d.t_progress = kvmig_now_ns();
	if (!vmm || !port)
		return unready(&d, -EINVAL, "bad arguments");
	r = check_vmm_waits(&d);
	if (r)
		goto out;

	d.map = kvmig_vmm_map_memory(vmm);
	if (!d.map) {
		r = unready(&d, -errno, "mapping the guest RAM from the VMM: %s",
			    kvmig_vmm_last_error(vmm));
		goto out;
	}
	d.pages = kvmig_memmap_pages(d.map);
	stats->ram.total = kvmig_memmap_bytes(d.map);
	d.hashes = calloc(d.pages, sizeof(uint64_t));
	d.zero_hash = kvmig_zero_page_hash();
	if (!d.hashes) {
		r = unready(&d, -ENOMEM, "out of memory");
		goto out;
	}
	if (OPTS_GET(opts, tls_creds, NULL)) {
		d.tls = tls_creds_new(TLS_SERVER, opts->tls_creds,
				      OPTS_GET(opts, tls_authz, NULL), err, sizeof(err));
		if (!d.tls) {
			r = unready(&d, -errno, "%s", err);
			goto out;
		}
	} else if (OPTS_GET(opts, tls_authz, NULL)) {
		r = unready(&d, -EINVAL, "--tls-authz without --tls-creds");
		goto out;
	}
	lfd = tcp_listen(host, port, err, sizeof(err));
	if (lfd < 0) {
		r = unready(&d, lfd, "%s", err);
		goto out;
	}
	r = announce_listening(&d, lfd, OPTS_GET(opts, listening, NULL),
			       OPTS_GET(opts, listening_opaque, NULL));
	if (r)
		goto out;
	r = accept_channels(&d, lfd);
	if (r)
		goto out;
	snprintf(stats->status, sizeof(stats->status), "active");
	stats->setup_time_ms = (kvmig_now_ns() - d.t_start) / 1000000;
	r = receive(&d);
	if (!r)
		r = finish(&d);
out:
	if (r && d.ch && d.ch[0].c.fd >= 0 && r != -ECONNRESET)
		chan_send_error(&d.ch[0].c, r, stats->error);	/* best effort */
	stats->ram.transferred = bytes_received(&d);
	for (i = 0; d.ch && i < WIRE_MAX_CHANNELS; i++)
		if (d.ch[i].c.rx)
			chan_fini(&d.ch[i].c);
	if (lfd >= 0)
		close(lfd);
	tls_creds_free(d.tls);
	stats->total_time_ms = (kvmig_now_ns() - d.t_start) / 1000000;
	snprintf(stats->status, sizeof(stats->status), "%s",
		 r ? (r == -ECANCELED ? "cancelled" : "failed") : "completed");
	if (d.o.progress)
		d.o.progress(stats, d.o.progress_opaque);
	free(d.ch);
	free(d.hashes);
	free(d.zero_ranges);
	free(d.device_state);
	kvmig_memmap_free(d.map);
	return r;
}

KVMIG_EXPORT int kvmig_incoming(struct kvmig_vmm *vmm, const char *host, const char *port,
		  const struct kvmig_incoming_opts *opts,
		  struct kvmig_migration_stats *stats)
{
	struct kvmig_migration_stats *full = kvmig_stats_begin(stats);
	int r;

	if (!full)
		return -errno;
	r = incoming(vmm, host, port, opts, full);
	kvmig_stats_end(stats, full);
	return r;
}
