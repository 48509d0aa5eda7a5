// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Encoding and strict parsing of the migration stream (wire.h): a writer
 * and a reader for every frame, and no payload byte is read or written
 * anywhere else.  The readers check every length against the protocol
 * maximum and the bytes left before anything is used, every reserved
 * field the stream format checks for zero, and name the frame and field
 * in their error message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "wire.h"

static const char *const type_names[] = {
	[WIRE_HELLO] = "HELLO",
	[WIRE_HELLO_ACK] = "HELLO_ACK",
	[WIRE_CHANNEL] = "CHANNEL",
	[WIRE_PAGES] = "PAGES",
	[WIRE_ITER_END] = "ITER_END",
	[WIRE_DEVICE_STATE] = "DEVICE_STATE",
	[WIRE_VERIFY] = "VERIFY",
	[WIRE_END] = "END",
	[WIRE_COMPLETE] = "COMPLETE",
	[WIRE_ERROR] = "ERROR",
	[WIRE_GO] = "GO",
	[WIRE_STARTED] = "STARTED",
};

const char *wire_type_name(unsigned int type)
{
	if (type && type <= WIRE_TYPE_MAX)
		return type_names[type];
	return "unknown";
}

void wire_put_hdr(uint8_t *buf, const struct wire_hdr *h)
{
	put_u32(buf, WIRE_MAGIC);
	buf[4] = WIRE_VERSION;
	buf[5] = h->type;
	put_u16(buf + 6, h->flags);
	put_u32(buf + 8, h->len);
	put_u16(buf + 12, h->channel);
	put_u16(buf + 14, 0);
	put_u64(buf + 16, h->seq);
}

int wire_get_hdr(const uint8_t *buf, struct wire_hdr *h, char *err,
		 size_t errlen)
{
	uint32_t magic = get_u32(buf);

	if (magic != WIRE_MAGIC) {
		char text[9];
		unsigned int i;

		/* a peer that speaks a text protocol (HTTP, SSH) says so */
		for (i = 0; i < 8 && buf[i] >= 0x20 && buf[i] < 0x7f; i++)
			text[i] = (char)buf[i];
		text[i] = 0;
		if (i == 8)
			snprintf(err, errlen, "frame header: magic 0x%08x is not KVMF "
				 "(not a kvmig stream: the peer sent text, '%s...')",
				 magic, text);
		else
			snprintf(err, errlen, "frame header: magic 0x%08x is not KVMF "
				 "(not a kvmig stream)", magic);
		return -EBADMSG;
	}
	if (buf[4] != WIRE_VERSION) {
		snprintf(err, errlen, "frame header: version %u, this kvmig speaks "
			 "version %u", buf[4], WIRE_VERSION);
		return -EPROTO;
	}
	h->type = buf[5];
	h->flags = get_u16(buf + 6);
	h->len = get_u32(buf + 8);
	h->channel = get_u16(buf + 12);
	h->seq = get_u64(buf + 16);
	if (!h->type || h->type > WIRE_TYPE_MAX) {
		snprintf(err, errlen, "frame header: unknown frame type %u", h->type);
		return -EBADMSG;
	}
	if (h->flags) {
		snprintf(err, errlen, "%s frame: flags 0x%x, none are defined",
			 wire_type_name(h->type), h->flags);
		return -EBADMSG;
	}
	if (get_u16(buf + 14)) {
		snprintf(err, errlen, "%s frame: reserved header field is 0x%x, "
			 "must be 0", wire_type_name(h->type), get_u16(buf + 14));
		return -EBADMSG;
	}
	if (h->len > WIRE_MAX_PAYLOAD) {
		snprintf(err, errlen, "%s frame: length %u exceeds the maximum %u",
			 wire_type_name(h->type), h->len, WIRE_MAX_PAYLOAD);
		return -EBADMSG;
	}
	if (h->channel >= WIRE_MAX_CHANNELS) {
		snprintf(err, errlen, "%s frame: channel %u, at most %u channels",
			 wire_type_name(h->type), h->channel, WIRE_MAX_CHANNELS);
		return -EBADMSG;
	}
	if (h->len > wire_max_len(h->type, h->channel)) {
		snprintf(err, errlen, "%s frame: length %u exceeds the maximum %u "
			 "of its type on channel %u", wire_type_name(h->type),
			 h->len, wire_max_len(h->type, h->channel), h->channel);
		return -EBADMSG;
	}
	return 0;
}

uint32_t wire_max_len(uint8_t type, uint16_t channel)
{
	switch (type) {
	case WIRE_PAGES:
		return WIRE_MAX_PAGES_PAYLOAD;
	case WIRE_DEVICE_STATE:
	case WIRE_VERIFY:
		/* channel 0's alone: elsewhere refused by type, if short */
		return channel ? WIRE_MAX_CONTROL_PAYLOAD : WIRE_MAX_PAYLOAD;
	default:
		return WIRE_MAX_CONTROL_PAYLOAD;
	}
}

size_t wire_hello_size(const struct wire_hello *h)
{
	return WIRE_HELLO_FIXED + (size_t)h->nr_slots * WIRE_HELLO_SLOT;
}

void wire_put_hello(uint8_t *b, const struct wire_hello *h)
{
	unsigned int i;

	put_u32(b, h->page_size);
	put_u16(b + 4, h->nr_slots);
	put_u16(b + 6, h->nr_channels);
	put_u64(b + 8, h->session);
	put_u32(b + 16, h->codecs);
	put_u32(b + 20, h->flags);
	put_u64(b + 24, h->ram_bytes);
	for (i = 0; i < h->nr_slots; i++) {
		uint8_t *s = b + WIRE_HELLO_FIXED + i * WIRE_HELLO_SLOT;

		put_u32(s, h->slots[i].id);
		put_u32(s + 4, 0);
		put_u64(s + 8, h->slots[i].gpa);
		put_u64(s + 16, h->slots[i].size);
	}
}

int wire_get_hello(const uint8_t *p, uint32_t len, struct wire_hello *h,
		   char *err, size_t errlen)
{
	uint64_t total = 0;
	unsigned int i;

	if (len < WIRE_HELLO_FIXED) {
		snprintf(err, errlen, "HELLO frame: %u bytes, the fixed part needs %u",
			 len, WIRE_HELLO_FIXED);
		return -EBADMSG;
	}
	h->page_size = get_u32(p);
	h->nr_slots = get_u16(p + 4);
	h->nr_channels = get_u16(p + 6);
	h->session = get_u64(p + 8);
	h->codecs = get_u32(p + 16);
	h->flags = get_u32(p + 20);
	h->ram_bytes = get_u64(p + 24);
	if (h->page_size != WIRE_PAGE_SIZE) {
		snprintf(err, errlen, "HELLO frame: page_size %u, only %u is supported",
			 h->page_size, WIRE_PAGE_SIZE);
		return -EPROTO;
	}
	if (!h->nr_slots || h->nr_slots > WIRE_MAX_SLOTS) {
		snprintf(err, errlen, "HELLO frame: nr_slots %u, must be 1..%u",
			 h->nr_slots, WIRE_MAX_SLOTS);
		return -EBADMSG;
	}
	if (!h->nr_channels || h->nr_channels > WIRE_MAX_CHANNELS) {
		snprintf(err, errlen, "HELLO frame: nr_channels %u, must be 1..%u",
			 h->nr_channels, WIRE_MAX_CHANNELS);
		return -EBADMSG;
	}
	if (h->flags & ~WIRE_HELLO_FLAGS) {
		snprintf(err, errlen, "HELLO frame: unknown flags 0x%x",
			 h->flags & ~WIRE_HELLO_FLAGS);
		return -EPROTO;
	}
	if (len != wire_hello_size(h)) {
		snprintf(err, errlen, "HELLO frame: %u bytes, %u slots need %zu",
			 len, h->nr_slots, wire_hello_size(h));
		return -EBADMSG;
	}
	for (i = 0; i < h->nr_slots; i++) {
		const uint8_t *s = p + WIRE_HELLO_FIXED + i * WIRE_HELLO_SLOT;
		struct wire_slot *sl = &h->slots[i];

		sl->id = get_u32(s);
		sl->gpa = get_u64(s + 8);
		sl->size = get_u64(s + 16);
		if (get_u32(s + 4)) {
			snprintf(err, errlen, "HELLO frame: slot %u: reserved field "
				 "is not 0", i);
			return -EBADMSG;
		}
		if (!sl->size || sl->size % WIRE_PAGE_SIZE || sl->gpa % WIRE_PAGE_SIZE ||
		    sl->gpa + sl->size < sl->gpa) {
			snprintf(err, errlen, "HELLO frame: slot %u (id %u): gpa 0x%llx "
				 "size 0x%llx is not a page-aligned range", i, sl->id,
				 (unsigned long long)sl->gpa,
				 (unsigned long long)sl->size);
			return -EBADMSG;
		}
		total += sl->size;
	}
	if (total != h->ram_bytes) {
		snprintf(err, errlen, "HELLO frame: ram_bytes %llu, the slots add up "
			 "to %llu", (unsigned long long)h->ram_bytes,
			 (unsigned long long)total);
		return -EBADMSG;
	}
	return 0;
}

int wire_pages_begin(struct wire_pages_iter *it, const uint8_t *p, uint32_t len,
		     char *err, size_t errlen)
{
	if (len < WIRE_PAGES_FIXED) {
		snprintf(err, errlen, "PAGES frame: %u bytes, the fixed part needs %u",
			 len, WIRE_PAGES_FIXED);
		return -EBADMSG;
	}
	it->p = p;
	it->len = len;
	it->off = WIRE_PAGES_FIXED;
	it->count = get_u32(p);
	it->iteration = get_u32(p + 4);
	it->index = 0;
	/* every entry takes at least its header: bound count before use */
	if (it->count > (len - WIRE_PAGES_FIXED) / WIRE_PAGE_ENTRY_HDR) {
		snprintf(err, errlen, "PAGES frame: count %u entries cannot fit in "
			 "%u bytes", it->count, len);
		return -EBADMSG;
	}
	return 0;
}

const char *wire_encoding_name(unsigned int enc)
{
	const struct codec_ops *o = codec_by_wire(enc);

	return o ? o->name : "unknown";
}

/*
 * The lengths an entry of encoding @enc may have: a zero page none, a raw
 * one a page, XBZRLE less than a page (0: the page did not change), a
 * compressed page 1 byte up to less than a page, whichever compressor.
 */
static bool entry_len_ok(unsigned int enc, uint32_t len)
{
	switch (enc) {
	case WIRE_ENC_ZERO:
		return !len;
	case WIRE_ENC_RAW:
		return len == WIRE_PAGE_SIZE;
	case WIRE_ENC_XBZRLE:
		return len < WIRE_PAGE_SIZE;
	case WIRE_ENC_ZERO_RUN:
		return len == 8;
	default:
		return len && len < WIRE_PAGE_SIZE;
	}
}

int wire_pages_next(struct wire_pages_iter *it, struct wire_page *pg,
		    char *err, size_t errlen)
{
	const uint8_t *e;

	if (it->index == it->count) {
		if (it->off != it->len) {
			snprintf(err, errlen, "PAGES frame: %u bytes of trailing "
				 "garbage after %u entries", it->len - it->off,
				 it->count);
			return -EBADMSG;
		}
		return 0;
	}
	if (it->len - it->off < WIRE_PAGE_ENTRY_HDR) {
		snprintf(err, errlen, "PAGES frame: entry %u: header truncated "
			 "(%u bytes left)", it->index, it->len - it->off);
		return -EBADMSG;
	}
	e = it->p + it->off;
	pg->gpa = get_u64(e);
	pg->encoding = e[8];
	pg->len = get_u32(e + 12);
	if (e[9] || get_u16(e + 10)) {
		snprintf(err, errlen, "PAGES frame: entry %u: reserved field is "
			 "not 0", it->index);
		return -EBADMSG;
	}
	if (pg->gpa % WIRE_PAGE_SIZE) {
		snprintf(err, errlen, "PAGES frame: entry %u: gpa 0x%llx is not page "
			 "aligned", it->index, (unsigned long long)pg->gpa);
		return -EBADMSG;
	}
	if (pg->encoding >= WIRE_ENC_NR) {
		snprintf(err, errlen, "PAGES frame: entry %u: unknown encoding %u",
			 it->index, pg->encoding);
		return -EPROTO;
	}
	if (pg->len > it->len - it->off - WIRE_PAGE_ENTRY_HDR) {
		snprintf(err, errlen, "PAGES frame: entry %u: len %u overruns the "
			 "frame (%u bytes left)", it->index, pg->len,
			 it->len - it->off - WIRE_PAGE_ENTRY_HDR);
		return -EBADMSG;
	}
	if (!entry_len_ok(pg->encoding, pg->len)) {
		snprintf(err, errlen, "PAGES frame: entry %u: len %u is wrong for "
			 "encoding %s", it->index, pg->len,
			 wire_encoding_name(pg->encoding));
		return -EBADMSG;
	}
	pg->data = e + WIRE_PAGE_ENTRY_HDR;
	pg->pages = 1;
	if (pg->encoding == WIRE_ENC_ZERO_RUN) {
		pg->pages = get_u64(pg->data);
		if (!pg->pages || pg->pages > WIRE_ZERO_RUN_MAX) {
			snprintf(err, errlen, "PAGES frame: entry %u: a zero run "
				 "of %llu pages (1..%llu)", it->index,
				 (unsigned long long)pg->pages, WIRE_ZERO_RUN_MAX);
			return -EBADMSG;
		}
	}
	it->off += WIRE_PAGE_ENTRY_HDR + pg->len;
	it->index++;
	return 1;
}

void wire_pages_start(struct wire_pages_writer *w, uint8_t *buf, uint32_t cap)
{
	w->buf = buf;
	w->cap = cap < WIRE_MAX_PAGES_PAYLOAD ? cap : WIRE_MAX_PAGES_PAYLOAD;
	w->len = WIRE_PAGES_FIXED;
	w->count = 0;
}

int wire_pages_add(struct wire_pages_writer *w, const struct wire_page *pg)
{
	uint8_t *e = w->buf + w->len;

	if (w->cap - w->len < WIRE_PAGE_ENTRY_HDR ||
	    pg->len > w->cap - w->len - WIRE_PAGE_ENTRY_HDR)
		return -EMSGSIZE;
	/* a codec encodes straight into the entry: then there is no copy */
	if (pg->encoding == WIRE_ENC_ZERO_RUN && pg->len == 8)
		put_u64(e + WIRE_PAGE_ENTRY_HDR, pg->pages);
	else if (pg->len && pg->data != e + WIRE_PAGE_ENTRY_HDR)
		memmove(e + WIRE_PAGE_ENTRY_HDR, pg->data, pg->len);
	put_u64(e, pg->gpa);
	e[8] = pg->encoding;
	e[9] = 0;
	put_u16(e + 10, 0);
	put_u32(e + 12, pg->len);
	w->len += WIRE_PAGE_ENTRY_HDR + pg->len;
	w->count++;
	return 0;
}

uint32_t wire_pages_finish(struct wire_pages_writer *w, uint32_t iteration)
{
	put_u32(w->buf, w->count);
	put_u32(w->buf + 4, iteration);
	return w->len;
}

/* A frame whose payload has exactly @size bytes. */
static int fixed_len(const struct wire_hdr *h, uint32_t size, char *err,
		     size_t errlen)
{
	if (h->len == size)
		return 0;
	snprintf(err, errlen, "%s frame: %u bytes, expected %u",
		 wire_type_name(h->type), h->len, size);
	return -EBADMSG;
}

void wire_put_hello_ack(uint8_t *b, const struct wire_hello_ack *a)
{
	put_u32(b, 0);
	put_u32(b + 4, a->codecs);
}

int wire_get_hello_ack(const struct wire_hdr *h, const uint8_t *p,
		       struct wire_hello_ack *a, char *err, size_t errlen)
{
	int r = fixed_len(h, WIRE_HELLO_ACK_SIZE, err, errlen);

	if (r)
		return r;
	/* the reserved word is not checked: older sources never did */
	a->codecs = get_u32(p + 4);
	return 0;
}

void wire_put_channel(uint8_t *b, const struct wire_channel *c)
{
	put_u64(b, c->session);
	put_u16(b + 8, c->index);
	put_u16(b + 10, 0);
	put_u32(b + 12, 0);
}

int wire_get_channel(const struct wire_hdr *h, const uint8_t *p,
		     uint64_t session, uint16_t nr_channels, uint64_t connected,
		     struct wire_channel *c, char *err, size_t errlen)
{
	if (h->type != WIRE_CHANNEL || h->len != WIRE_CHANNEL_SIZE) {
		snprintf(err, errlen, "%s frame on a new connection: expected "
			 "CHANNEL", wire_type_name(h->type));
		return -EPROTO;
	}
	c->session = get_u64(p);
	c->index = get_u16(p + 8);
	if (c->session != session) {
		snprintf(err, errlen, "CHANNEL frame: session 0x%llx is not this "
			 "migration's", (unsigned long long)c->session);
		return -EPROTO;
	}
	if (!c->index || c->index >= nr_channels ||
	    c->index >= WIRE_MAX_CHANNELS || (connected >> c->index & 1) ||
	    c->index != h->channel || get_u16(p + 10) || get_u32(p + 12)) {
		snprintf(err, errlen, "CHANNEL frame: index %u is not a free channel "
			 "of 1..%u (or reserved bytes set)", c->index,
			 (unsigned int)nr_channels - 1);
		return -EPROTO;
	}
	return 0;
}

void wire_put_end(uint8_t *b, const struct wire_end *e)
{
	put_u32(b, e->iteration);
	put_u32(b + 4, 0);
	put_u64(b + 8, e->frames);
}

int wire_get_iter_end(const struct wire_hdr *h, const uint8_t *p, uint32_t pass,
		      struct wire_end *e, char *err, size_t errlen)
{
	unsigned long long seq = (unsigned long long)h->seq;

	if (h->len != WIRE_END_SIZE) {
		snprintf(err, errlen, "ITER_END frame seq %llu on channel %u: %u "
			 "bytes, expected %u", seq, h->channel, h->len, WIRE_END_SIZE);
		return -EBADMSG;
	}
	e->iteration = get_u32(p);
	e->frames = get_u64(p + 8);
	if (e->iteration != pass) {
		snprintf(err, errlen, "ITER_END frame seq %llu on channel %u: "
			 "iteration %u, the channel is in pass %u", seq, h->channel,
			 e->iteration, pass);
		return -EPROTO;
	}
	if (get_u32(p + 4)) {
		snprintf(err, errlen, "ITER_END frame seq %llu on channel %u: "
			 "reserved field is 0x%x, must be 0", seq, h->channel,
			 get_u32(p + 4));
		return -EBADMSG;
	}
	if (e->frames != h->seq) {
		snprintf(err, errlen, "ITER_END frame seq %llu on channel %u: frames "
			 "%llu, but it is the channel's frame %llu", seq, h->channel,
			 (unsigned long long)e->frames, seq);
		return -EBADMSG;
	}
	return 0;
}

int wire_get_end(const struct wire_hdr *h, const uint8_t *p, uint32_t passes,
		 struct wire_end *e, char *err, size_t errlen)
{
	unsigned long long seq = (unsigned long long)h->seq;

	if (h->len != WIRE_END_SIZE || get_u32(p + 4)) {
		snprintf(err, errlen, "END frame seq %llu on channel %u: malformed",
			 seq, h->channel);
		return -EBADMSG;
	}
	e->iteration = get_u32(p);
	e->frames = get_u64(p + 8);	/* not checked */
	if (e->iteration != passes) {
		snprintf(err, errlen, "END frame seq %llu on channel %u: after %u "
			 "passes, the channel ended %u", seq, h->channel,
			 e->iteration, passes);
		return -EPROTO;
	}
	return 0;
}

int wire_put_device_state(struct wire_device_state *ds, const char *json,
			  size_t len)
{
	if (len > WIRE_MAX_PAYLOAD)
		return -E2BIG;
	if (memchr(json, 0, len))
		return -EINVAL;
	ds->json = json;
	ds->len = (uint32_t)len;
	return 0;
}

int wire_get_device_state(const struct wire_hdr *h, const uint8_t *p,
			  struct wire_device_state *ds, char *err,
			  size_t errlen)
{
	if (memchr(p, 0, h->len)) {
		snprintf(err, errlen, "DEVICE_STATE frame: NUL byte inside the "
			 "state");
		return -EBADMSG;
	}
	ds->json = (const char *)p;
	ds->len = h->len;
	return 0;
}

uint32_t wire_put_verify(uint8_t *b, const struct wire_verify *v)
{
	put_u64(b, v->first);
	put_u32(b + 8, v->count);
	put_u32(b + 12, v->flags);
	return WIRE_VERIFY_FIXED +
	       (v->flags & WIRE_VERIFY_ZERO ? 0 : v->count * 8);
}

void wire_put_verify_hash(uint8_t *b, uint32_t i, uint64_t hash)
{
	put_u64(b + WIRE_VERIFY_FIXED + (size_t)i * 8, hash);
}

int wire_get_verify(const struct wire_hdr *h, const uint8_t *p,
		    struct wire_verify *v, char *err, size_t errlen)
{
	uint32_t flags = 0;
	uint64_t hashes = 0;

	if (h->len >= WIRE_VERIFY_FIXED) {
		flags = get_u32(p + 12);
		hashes = flags & WIRE_VERIFY_ZERO ? 0 : get_u32(p + 8);
	}
	if (h->len < WIRE_VERIFY_FIXED ||
	    h->len != WIRE_VERIFY_FIXED + hashes * 8 ||
	    (flags & ~WIRE_VERIFY_ZERO)) {
		snprintf(err, errlen, "VERIFY frame seq %llu: %u bytes do not match "
			 "its count (or unknown flags 0x%x)",
			 (unsigned long long)h->seq, h->len,
			 flags & ~WIRE_VERIFY_ZERO);
		return -EBADMSG;
	}
	v->first = get_u64(p);
	v->count = get_u32(p + 8);
	v->flags = flags;
	v->hashes = p + WIRE_VERIFY_FIXED;
	return 0;
}

uint64_t wire_verify_hash(const struct wire_verify *v, uint32_t i)
{
	return get_u64(v->hashes + (size_t)i * 8);
}

void wire_put_complete(uint8_t *b, const struct wire_complete *c)
{
	put_u32(b, c->status);
	put_u32(b + 4, 0);
	put_u64(b + 8, c->verify_pages);
	put_u64(b + 16, c->mismatches);
}

int wire_get_complete(const struct wire_hdr *h, const uint8_t *p,
		      struct wire_complete *c, char *err, size_t errlen)
{
	int r = fixed_len(h, WIRE_COMPLETE_SIZE, err, errlen);

	if (r)
		return r;
	c->status = get_u32(p);		/* the reserved word is not checked */
	c->verify_pages = get_u64(p + 8);
	c->mismatches = get_u64(p + 16);
	return 0;
}

uint32_t wire_put_error(uint8_t *b, const struct wire_error *e)
{
	put_u32(b, e->code);
	put_u32(b + 4, e->len);
	return WIRE_ERROR_FIXED;
}

int wire_get_error(const struct wire_hdr *h, const uint8_t *p,
		   struct wire_error *e, char *err, size_t errlen)
{
	if (h->len < WIRE_ERROR_FIXED) {
		snprintf(err, errlen, "ERROR frame: %u bytes, the fixed part needs %u",
			 h->len, WIRE_ERROR_FIXED);
		return -EBADMSG;
	}
	e->code = get_u32(p);
	e->len = get_u32(p + 4);
	if (e->len != h->len - WIRE_ERROR_FIXED || e->len > WIRE_MAX_ERROR_MSG) {
		snprintf(err, errlen, "ERROR frame: msg_len %u, but %u bytes follow "
			 "(at most %u)", e->len, h->len - WIRE_ERROR_FIXED,
			 WIRE_MAX_ERROR_MSG);
		return -EBADMSG;
	}
	e->msg = (const char *)p + WIRE_ERROR_FIXED;
	return 0;
}

void wire_put_go(uint8_t *b)
{
	put_u64(b, 0);
}

int wire_get_go(const struct wire_hdr *h, const uint8_t *p, char *err,
		size_t errlen)
{
	(void)p;	/* reserved, not checked */
	if (h->type != WIRE_GO || h->len != WIRE_GO_SIZE) {
		snprintf(err, errlen, "%s frame: expected GO", wire_type_name(h->type));
		return -EPROTO;
	}
	return 0;
}

void wire_put_started(uint8_t *b, const struct wire_started *s)
{
	put_u32(b, s->status);
	put_u32(b + 4, 0);
}

int wire_get_started(const struct wire_hdr *h, const uint8_t *p,
		     struct wire_started *s, char *err, size_t errlen)
{
	int r = fixed_len(h, WIRE_STARTED_SIZE, err, errlen);

	if (r)
		return r;
	s->status = get_u32(p);		/* the reserved word is not checked */
	return 0;
}
