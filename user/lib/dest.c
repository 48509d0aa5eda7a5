// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The migration destination.  One thread serves every channel with poll():
 *
 *   listen ─► HELLO (checked against this VM's RAM) ─► HELLO_ACK
 *          ─► CHANNEL 1..n-1 ─► frames ... END on every channel
 *          ─► compare page hashes (verify) ─► set-device-state ─► COMPLETE
 *          ─► start the VM
 *
 * Passes are barriers: once a channel delivers ITER_END(k) it is not read
 * again until every channel has delivered ITER_END(k), so a page of pass
 * k+1 can never be overwritten by the same page of pass k arriving late on
 * another channel.  Anything unexpected refuses the migration: an ERROR
 * frame naming the frame and field goes back to the source, the VM is not
 * started, and the caller (kvmig incoming) makes the VMM quit non-zero.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal.h"
#include "chan.h"

struct dchan {
	struct chan c;
	uint32_t iteration;	/* pass whose pages this channel carries */
	bool at_barrier;	/* sent ITER_END(iteration - 1), waiting */
	bool ended;		/* sent END */
};

struct dest {
	struct kvmig_vmm *vmm;
	struct kvmig_memmap *map;
	struct kvmig_incoming_opts o;
	struct kvmig_migration_stats *st;
	struct kvmig_log log;
	struct dchan *ch;
	unsigned int nr_ch;
	uint64_t session;
	bool verify;
	uint64_t pages;
	uint64_t *hashes;	/* from VERIFY frames */
	uint64_t hashes_got;
	char *device_state;
	uint64_t t_start;
	uint64_t t_progress;
};

static int refuse(struct dest *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct dest *d, int err, const char *fmt, ...)
{
	va_list ap;

	if (!d->st->error[0]) {
		va_start(ap, fmt);
		vsnprintf(d->st->error, sizeof(d->st->error), fmt, ap);
		va_end(ap);
		pr_err(&d->log, "incoming migration refused: %s", d->st->error);
	}
	return err;
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
	if ((h->codecs & WIRE_CODECS_V1) != WIRE_CODECS_V1)
		return refuse(d, -EPROTO, "HELLO frame: codecs 0x%x lack zero and raw "
			      "pages", h->codecs);
	return 0;
}

static int accept_channels(struct dest *d, int lfd)
{
	struct wire_hello *h = calloc(1, sizeof(*h));
	struct wire_hdr hdr;
	char err[512];
	uint8_t ack[8];
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
		r = refuse(d, fd, "%s", err);
		goto out;
	}
	r = chan_init(&d->ch[0].c, fd, 0, d->o.timeout_ms);
	if (r) {
		close(fd);
		goto out;
	}
	d->nr_ch = 1;
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
	put_u32(ack, 0);
	put_u32(ack + 4, WIRE_CODECS_V1);
	r = chan_send(&d->ch[0].c, WIRE_HELLO_ACK, ack, sizeof(ack), NULL, 0);
	if (r) {
		r = refuse(d, r, "sending HELLO_ACK: %s", strerror(-r));
		goto out;
	}

	/* the other channels, in any order, each naming its index */
	while (d->nr_ch < h->nr_channels) {
		struct chan tmp;
		uint16_t idx = 0;

		/* channel 0 closing or refusing ends the wait at once */
		fd = tcp_accept_watch(lfd, d->ch[0].c.fd, d->o.timeout_ms, err,
				      sizeof(err));
		if (fd < 0) {
			r = refuse(d, fd, "%s", err);
			goto out;
		}
		r = chan_init(&tmp, fd, 0, d->o.timeout_ms);
		if (r) {
			close(fd);
			goto out;
		}
		/* its index is not known yet: the frame names it */
		r = chan_recv_first(&tmp, &hdr, err, sizeof(err));
		if (!r && hdr.type == WIRE_CHANNEL && hdr.len == 16) {
			idx = get_u16(tmp.rx + 8);
			if (get_u64(tmp.rx) != d->session)
				r = refuse(d, -EPROTO, "CHANNEL frame: session 0x%llx "
					   "is not this migration's",
					   (unsigned long long)get_u64(tmp.rx));
			else if (!idx || idx >= h->nr_channels || d->ch[idx].c.fd >= 0 ||
				 idx != hdr.channel || get_u16(tmp.rx + 10) ||
				 get_u32(tmp.rx + 12))
				r = refuse(d, -EPROTO, "CHANNEL frame: index %u is not a "
					   "free channel of 1..%u (or reserved "
					   "bytes set)", idx, h->nr_channels - 1);
		} else if (!r) {
			r = refuse(d, -EPROTO, "%s frame on a new connection: "
				   "expected CHANNEL", wire_type_name(hdr.type));
		} else {
			r = refuse(d, r, "%s", err);
		}
		if (r) {
			chan_fini(&tmp);
			goto out;
		}
		d->ch[idx].c = tmp;
		d->nr_ch++;
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

static void zero_add(struct zero_run *z, uint8_t *hva)
{
	if (z->len && z->start + z->len == hva) {
		z->len += WIRE_PAGE_SIZE;
		return;
	}
	zero_flush(z);
	z->start = hva;
	z->len = WIRE_PAGE_SIZE;
}

static int apply_pages(struct dest *d, struct dchan *dc, const struct wire_hdr *h)
{
	struct zero_run z = { 0 };
	struct wire_pages_iter it;
	struct wire_page pg;
	char err[256];
	int r;

	r = wire_pages_begin(&it, dc->c.rx, h->len, err, sizeof(err));
	if (r)
		return refuse(d, r, "channel %u seq %llu: %s", dc->c.index,
			      (unsigned long long)h->seq, err);
	if (it.iteration != dc->iteration)
		return refuse(d, -EPROTO, "PAGES frame seq %llu on channel %u: "
			      "iteration %u, the channel is in pass %u",
			      (unsigned long long)h->seq, dc->c.index,
			      it.iteration, dc->iteration);
	while ((r = wire_pages_next(&it, &pg, err, sizeof(err))) > 0) {
		uint8_t *hva = kvmig_memmap_gpa_to_hva(d->map, pg.gpa, WIRE_PAGE_SIZE);

		if (!hva)
			return refuse(d, -EFAULT, "PAGES frame seq %llu on channel %u: "
				      "entry %u: gpa 0x%llx is not guest RAM",
				      (unsigned long long)h->seq, dc->c.index,
				      it.index - 1, (unsigned long long)pg.gpa);
		if (pg.encoding == WIRE_ENC_ZERO) {
			zero_add(&z, hva);
			d->st->ram.duplicate++;
		} else {
			zero_flush(&z);
			memcpy(hva, pg.data, WIRE_PAGE_SIZE);
			d->st->ram.normal++;
			d->st->ram.normal_bytes += WIRE_PAGE_SIZE;
		}
	}
	zero_flush(&z);
	if (r)
		return refuse(d, r, "channel %u seq %llu: %s", dc->c.index,
			      (unsigned long long)h->seq, err);
	return 0;
}

static int take_hashes(struct dest *d, const struct wire_hdr *h, const uint8_t *p)
{
	uint64_t first;
	uint32_t n, i;

	if (!d->verify)
		return refuse(d, -EPROTO, "VERIFY frame seq %llu: HELLO did not "
			      "announce verification", (unsigned long long)h->seq);
	if (h->len < 16 || (n = get_u32(p + 8), h->len != 16 + (uint64_t)n * 8) ||
	    get_u32(p + 12))
		return refuse(d, -EBADMSG, "VERIFY frame seq %llu: %u bytes do not "
			      "match its count (or reserved bytes set)",
			      (unsigned long long)h->seq, h->len);
	first = get_u64(p);
	if (first != d->hashes_got || first > d->pages || n > d->pages - first)
		return refuse(d, -EBADMSG, "VERIFY frame seq %llu: pages [%llu, +%u) "
			      "out of order or past the %llu guest pages",
			      (unsigned long long)h->seq, (unsigned long long)first,
			      n, (unsigned long long)d->pages);
	for (i = 0; i < n; i++)
		d->hashes[first + i] = get_u64(p + 16 + i * 8);
	d->hashes_got += n;
	return 0;
}

/* Handle one received frame; returns 0 or a refusal. */
static int handle(struct dest *d, struct dchan *dc, const struct wire_hdr *h)
{
	const uint8_t *p = dc->c.rx;
	char msg[WIRE_MAX_ERROR_MSG + 1];
	int r;

	switch (h->type) {
	case WIRE_PAGES:
		return apply_pages(d, dc, h);
	case WIRE_ITER_END:
		if (h->len != 16 || get_u32(p) != dc->iteration || get_u32(p + 4))
			return refuse(d, -EBADMSG, "ITER_END frame seq %llu on channel "
				      "%u: malformed or for pass %u, the channel is "
				      "in pass %u", (unsigned long long)h->seq,
				      dc->c.index, h->len >= 4 ? get_u32(p) : 0,
				      dc->iteration);
		dc->iteration++;
		dc->at_barrier = true;
		return 0;
	case WIRE_DEVICE_STATE:
		if (dc->c.index || d->device_state)
			return refuse(d, -EPROTO, "DEVICE_STATE frame seq %llu on "
				      "channel %u: only one, on channel 0",
				      (unsigned long long)h->seq, dc->c.index);
		d->device_state = malloc(h->len + 1);
		if (!d->device_state)
			return refuse(d, -ENOMEM, "out of memory");
		memcpy(d->device_state, p, h->len);
		d->device_state[h->len] = 0;
		if (strlen(d->device_state) != h->len)
			return refuse(d, -EBADMSG, "DEVICE_STATE frame: NUL byte "
				      "inside the state");
		return 0;
	case WIRE_VERIFY:
		if (dc->c.index)
			return refuse(d, -EPROTO, "VERIFY frame on channel %u: only "
				      "on channel 0", dc->c.index);
		return take_hashes(d, h, p);
	case WIRE_END:
		if (h->len != 16 || get_u32(p + 4))
			return refuse(d, -EBADMSG, "END frame seq %llu on channel %u: "
				      "malformed", (unsigned long long)h->seq,
				      dc->c.index);
		dc->ended = true;
		return 0;
	case WIRE_ERROR:
		r = chan_parse_error(h, p, msg, sizeof(msg));
		return refuse(d, r ? r : -EPROTO, "the source gave up: %s", msg);
	default:
		return refuse(d, -EPROTO, "%s frame seq %llu on channel %u: not "
			      "expected here", wire_type_name(h->type),
			      (unsigned long long)h->seq, dc->c.index);
	}
}

/* Wire bytes received on every channel (slots of unused ones count 0). */
static uint64_t bytes_received(const struct dest *d)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; d->ch && i < WIRE_MAX_CHANNELS; i++)
		n += d->ch[i].c.bytes_recv;
	return n;
}

static int progress(struct dest *d)
{
	uint64_t now = kvmig_now_ns();

	d->st->ram.transferred = bytes_received(d);
	d->st->total_time_ms = (now - d->t_start) / 1000000;
	if (!d->o.progress || now - d->t_progress < 100000000ULL)
		return 0;
	d->t_progress = now;
	return d->o.progress(d->st, d->o.progress_opaque) ?
	       refuse(d, -ECANCELED, "cancelled") : 0;
}

/* Serve the channels until every one has sent END. */
static int receive(struct dest *d)
{
	struct pollfd pfd[WIRE_MAX_CHANNELS];
	unsigned int idx[WIRE_MAX_CHANNELS];
	char err[512];

	for (;;) {
		unsigned int i, n = 0, ended = 0, waiting = 0;
		int r;

		for (i = 0; i < d->nr_ch; i++) {
			ended += d->ch[i].ended;
			waiting += d->ch[i].at_barrier;
		}
		if (ended == d->nr_ch)
			return 0;
		/* everyone reached the end of the pass: open the barrier */
		if (waiting && waiting + ended == d->nr_ch) {
			for (i = 0; i < d->nr_ch; i++)
				d->ch[i].at_barrier = false;
			d->st->ram.iterations++;
			continue;
		}
		for (i = 0; i < d->nr_ch; i++) {
			if (d->ch[i].ended || d->ch[i].at_barrier)
				continue;
			pfd[n] = (struct pollfd){ .fd = d->ch[i].c.fd, .events = POLLIN };
			idx[n++] = i;
		}
		r = poll(pfd, n, d->o.timeout_ms);
		if (r < 0 && errno == EINTR)
			return refuse(d, -EINTR, "interrupted");
		if (r <= 0)
			return refuse(d, r ? -errno : -ETIMEDOUT, "no data from the "
				      "source for %d ms", d->o.timeout_ms);
		for (i = 0; i < n; i++) {
			struct dchan *dc = &d->ch[idx[i]];
			struct wire_hdr h;

			if (!pfd[i].revents)
				continue;
			r = chan_recv(&dc->c, &h, err, sizeof(err));
			if (r)
				return refuse(d, r, "%s", err);
			r = handle(d, dc, &h);
			if (r)
				return r;
		}
		r = progress(d);
		if (r)
			return r;
	}
}

static int finish(struct dest *d)
{
	uint8_t done[24] = { 0 };
	uint64_t i, bad = 0;
	int r;
	struct kvmig_hole_cache hc = KVMIG_HOLE_CACHE_INIT;
	static const uint8_t zero[WIRE_PAGE_SIZE];
	uint64_t zero_hash = XXH3_64bits(zero, sizeof(zero));

	if (d->verify) {
		if (d->hashes_got != d->pages)
			return refuse(d, -EPROTO, "VERIFY frames covered %llu of %llu "
				      "pages", (unsigned long long)d->hashes_got,
				      (unsigned long long)d->pages);
		for (i = 0; i < d->pages; i++)
			bad += kvmig_page_hash(d->map, i, &hc, zero_hash) !=
			       d->hashes[i];
		d->st->verify.done = true;
		d->st->verify.pages = d->pages;
		d->st->verify.mismatches = bad;
	}
	if (!d->device_state)
		return refuse(d, -EPROTO, "END before DEVICE_STATE: the source sent "
			      "no device state");
	put_u64(done + 8, d->st->verify.pages);
	put_u64(done + 16, bad);
	if (bad) {
		put_u32(done, EIO);
		chan_send(&d->ch[0].c, WIRE_COMPLETE, done, sizeof(done), NULL, 0);
		return refuse(d, -EIO, "%llu of %llu pages differ from the source's",
			      (unsigned long long)bad, (unsigned long long)d->pages);
	}
	/* the device state is the VMM's get-device-state answer, as is */
	r = kvmig_vmm_request(d->vmm, "set-device-state", d->device_state, NULL,
			      NULL, 0, NULL);
	if (r) {
		put_u32(done, EPROTO);
		chan_send(&d->ch[0].c, WIRE_COMPLETE, done, sizeof(done), NULL, 0);
		return refuse(d, r, "the VMM refused the device state: %s",
			      kvmig_vmm_last_error(d->vmm));
	}
	r = chan_send(&d->ch[0].c, WIRE_COMPLETE, done, sizeof(done), NULL, 0);
	if (r)
		return refuse(d, r, "sending COMPLETE: %s", strerror(-r));
	/* ready: the guest starts here only on the source's GO */
	{
		struct wire_hdr h;
		char err[512];
		uint8_t started[8] = { 0 };

		r = chan_recv(&d->ch[0].c, &h, err, sizeof(err));
		if (!r && (h.type != WIRE_GO || h.len != 8))
			r = -EPROTO, snprintf(err, sizeof(err), "%s frame: expected GO",
					      wire_type_name(h.type));
		if (r)
			return refuse(d, r, "waiting for GO: %s", err);
		if (!d->o.no_start &&
		    kvmig_vmm_request(d->vmm, "cont", NULL, NULL, NULL, 0, NULL)) {
			put_u32(started, EIO);
			chan_send(&d->ch[0].c, WIRE_STARTED, started, 8, NULL, 0);
			return refuse(d, -EIO, "starting the VM: %s",
				      kvmig_vmm_last_error(d->vmm));
		}
		/* if STARTED is lost the source keeps its copy paused: safe */
		chan_send(&d->ch[0].c, WIRE_STARTED, started, 8, NULL, 0);
	}
	return 0;
}

KVMIG_EXPORT int kvmig_incoming(struct kvmig_vmm *vmm, const char *host,
				const char *port,
				const struct kvmig_incoming_opts *opts,
				struct kvmig_migration_stats *stats)
{
	struct dest d = { 0 };
	char err[512];
	unsigned int i;
	int lfd = -1, r;

	memset(stats, 0, sizeof(*stats));
	snprintf(stats->status, sizeof(stats->status), "setup");
	d.vmm = vmm;
	d.st = stats;
	d.log.fn = OPTS_GET(opts, print, NULL);
	d.log.opaque = OPTS_GET(opts, print_opaque, NULL);
	d.o.no_start = OPTS_GET(opts, no_start, false);
	d.o.timeout_ms = OPTS_GET(opts, timeout_ms, 0) ?: 30000;
	d.o.progress = OPTS_GET(opts, progress, NULL);
	d.o.progress_opaque = OPTS_GET(opts, progress_opaque, NULL);
	d.t_start = d.t_progress = kvmig_now_ns();
	if (!vmm || !port)
		return refuse(&d, -EINVAL, "bad arguments");

	d.map = kvmig_vmm_map_memory(vmm);
	if (!d.map) {
		r = refuse(&d, -errno, "mapping the guest RAM from the VMM: %s",
			   kvmig_vmm_last_error(vmm));
		goto out;
	}
	d.pages = kvmig_memmap_pages(d.map);
	stats->ram.total = kvmig_memmap_bytes(d.map);
	d.hashes = calloc(d.pages, sizeof(uint64_t));
	if (!d.hashes) {
		r = refuse(&d, -ENOMEM, "out of memory");
		goto out;
	}
	lfd = tcp_listen(host, port, err, sizeof(err));
	if (lfd < 0) {
		r = refuse(&d, lfd, "%s", err);
		goto out;
	}
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
	stats->total_time_ms = (kvmig_now_ns() - d.t_start) / 1000000;
	snprintf(stats->status, sizeof(stats->status), "%s",
		 r ? (r == -ECANCELED ? "cancelled" : "failed") : "completed");
	if (d.o.progress)
		d.o.progress(stats, d.o.progress_opaque);
	free(d.ch);
	free(d.hashes);
	free(d.device_state);
	kvmig_memmap_free(d.map);
	return r;
}
