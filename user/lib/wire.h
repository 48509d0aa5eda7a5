/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The migration stream, version 1 (Documentation/migration-stream.rst).
 *
 * Every frame: a 24-byte header, then @len bytes of payload.  All integers
 * little-endian, written and read with the put/get helpers below, never by
 * casting a struct over the buffer.  Reserved fields are zero on send and
 * checked to be zero on receive (where the stream format says so).
 *
 *   0  u32 magic "KVMF"        12 u16 channel
 *   4  u8  version (1)         14 u16 reserved
 *   5  u8  type                16 u64 seq (per channel, from 0, +1 a frame)
 *   6  u16 flags (0)
 *   8  u32 len (<= WIRE_MAX_PAYLOAD)
 *
 * The whole grammar is here: every frame has a typed writer (struct in,
 * bytes out) and a typed reader (bytes in, struct out, after every check
 * the stream format makes), and no other file reads or writes a payload
 * byte.  A reader takes the payload with its header (or its
 * length), returns 0 or a negative errno with @err naming the frame and
 * the field, and checks in the order of the payload's fields
 * (Documentation/migration-stream.rst lists the messages).  Some readers
 * also take what the receiver expects (the pass a channel is in, the
 * session): the stream format orders those checks among the field checks.
 */
#ifndef KVMIG_WIRE_H
#define KVMIG_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WIRE_MAGIC		0x464d564bU	/* "KVMF" as bytes on the wire */
#define WIRE_VERSION		1
#define WIRE_HDR_SIZE		24
#define WIRE_MAX_PAYLOAD	(8U << 20)
#define WIRE_MAX_SLOTS		512
#define WIRE_MAX_CHANNELS	64
#define WIRE_PAGE_SIZE		4096U
#define WIRE_PAGE_ENTRY_HDR	16
#define WIRE_MAX_ERROR_MSG	1024
/*
 * Each frame type's own limit on len, checked with the header before a
 * payload byte is read: a receiver's buffer grows to the largest frame it
 * took, so these bound its memory (Documentation/migration-stream.rst,
 * "Limits").  PAGES: 256 raw pages; DEVICE_STATE and VERIFY, channel 0
 * only: WIRE_MAX_PAYLOAD; every other type: WIRE_MAX_CONTROL_PAYLOAD.
 */
#define WIRE_MAX_PAGES_ENTRIES	256
#define WIRE_MAX_PAGES_PAYLOAD	(8U + WIRE_MAX_PAGES_ENTRIES * \
				 (WIRE_PAGE_ENTRY_HDR + WIRE_PAGE_SIZE))
#define WIRE_MAX_CONTROL_PAYLOAD	(64U << 10)

enum wire_type {
	WIRE_HELLO = 1,		/* src -> dst, channel 0, first frame */
	WIRE_HELLO_ACK = 2,	/* dst -> src, channel 0 */
	WIRE_CHANNEL = 3,	/* src -> dst, first frame of channels 1.. */
	WIRE_PAGES = 4,		/* src -> dst */
	WIRE_ITER_END = 5,	/* src -> dst, every channel, end of a pass */
	WIRE_DEVICE_STATE = 6,	/* src -> dst, channel 0 */
	WIRE_VERIFY = 7,	/* src -> dst, channel 0: page hashes */
	WIRE_END = 8,		/* src -> dst, every channel: nothing follows */
	WIRE_COMPLETE = 9,	/* dst -> src, channel 0: all applied */
	WIRE_ERROR = 10,	/* either way: refusal, with a message */
	WIRE_GO = 11,		/* src -> dst, channel 0: start the guest */
	WIRE_STARTED = 12,	/* dst -> src, channel 0: it runs (or why not) */
	WIRE_TYPE_MAX = WIRE_STARTED,
};

/*
 * How a page travels (PAGES entries); each has its row in codec.c.  An
 * entry's length: zero none, raw a page, XBZRLE below a page (0: the page
 * did not change), a zero run 8 bytes (u64 pages, 1..WIRE_ZERO_RUN_MAX),
 * any compressor 1 byte up to below a page.
 */
enum wire_encoding {
	WIRE_ENC_ZERO = 0,	/* all-zero page, no data */
	WIRE_ENC_RAW = 1,	/* the page as is */
	WIRE_ENC_ZLIB = 2,	/* a zlib stream (RFC 1950) of the page */
	WIRE_ENC_ZSTD = 3,	/* one zstd frame, content size 4096 */
	WIRE_ENC_LZ4 = 4,	/* one lz4 block */
	WIRE_ENC_XBZRLE = 5,	/* the difference to the destination's page */
	WIRE_ENC_ZERO_RUN = 6,	/* pages zero from gpa on, within one slot */
	WIRE_ENC_NR,
};
#define WIRE_ZERO_RUN_MAX	(1ULL << 40)	/* pages: 4 PiB */

/* HELLO flags */
#define WIRE_HELLO_VERIFY	(1U << 0)	/* VERIFY frames will follow */
#define WIRE_HELLO_FLAGS	WIRE_HELLO_VERIFY

/* Codec bits in HELLO / HELLO_ACK: bit n = encoding n is understood. */
#define WIRE_CODECS_V1		((1U << WIRE_ENC_ZERO) | (1U << WIRE_ENC_RAW))
/* Every encoding this implementation decodes. */
#define WIRE_CODECS_ALL		((1U << WIRE_ENC_NR) - 1)

struct wire_hdr {
	uint8_t type;
	uint16_t flags;
	uint16_t channel;
	uint32_t len;
	uint64_t seq;
};

struct wire_slot {
	uint32_t id;
	uint64_t gpa;
	uint64_t size;
};

/*
 * HELLO payload: u32 page_size, u16 nr_slots, u16 nr_channels, u64 session,
 * u32 codecs, u32 flags, u64 ram_bytes, then nr_slots x {u32 id, u32 0,
 * u64 gpa, u64 size}.
 */
#define WIRE_HELLO_FIXED	32
#define WIRE_HELLO_SLOT		24
struct wire_hello {
	uint32_t page_size;
	uint16_t nr_slots;
	uint16_t nr_channels;
	uint64_t session;
	uint32_t codecs;
	uint32_t flags;
	uint64_t ram_bytes;
	struct wire_slot slots[WIRE_MAX_SLOTS];
};

/* PAGES payload: u32 count, u32 iteration, then count entries of
 * {u64 gpa, u8 encoding, u8 0, u16 0, u32 len, len bytes}. */
#define WIRE_PAGES_FIXED	8
struct wire_page {
	uint64_t gpa;
	uint8_t encoding;
	uint32_t len;
	const uint8_t *data;	/* points into the payload */
	uint64_t pages;		/* a zero run's: its u64 (else 1) */
};

/* ---- byte order ---- */
static inline void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	put_u16(p, (uint16_t)v);
	put_u16(p + 2, (uint16_t)(v >> 16));
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)get_u16(p) | ((uint32_t)get_u16(p + 2) << 16);
}

static inline uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}

const char *wire_type_name(unsigned int type);
const char *wire_encoding_name(unsigned int enc);

/* Fill a header; @buf has WIRE_HDR_SIZE bytes. */
void wire_put_hdr(uint8_t *buf, const struct wire_hdr *h);
/*
 * Parse and validate a header.  Returns 0 or -EBADMSG / -EPROTO with @err
 * naming the field ("frame header: magic 0x... is not KVMF").
 */
int wire_get_hdr(const uint8_t *buf, struct wire_hdr *h, char *err,
		 size_t errlen);
/* The most payload bytes a frame of @type may carry on @channel. */
uint32_t wire_max_len(uint8_t type, uint16_t channel);

/* HELLO: encode into @buf (size from wire_hello_size), parse with checks. */
size_t wire_hello_size(const struct wire_hello *h);
void wire_put_hello(uint8_t *buf, const struct wire_hello *h);
int wire_get_hello(const uint8_t *p, uint32_t len, struct wire_hello *h,
		   char *err, size_t errlen);

/*
 * PAGES: iterate the entries of a payload.  wire_pages_begin() checks the
 * fixed part; wire_pages_next() returns 1 with the next entry in @pg, 0 at
 * the end (only when exactly all bytes and all @count entries are used), or
 * a negative errno with @err naming the entry and field.
 */
struct wire_pages_iter {
	const uint8_t *p;
	uint32_t len;
	uint32_t off;
	uint32_t count;
	uint32_t index;
	uint32_t iteration;
};
int wire_pages_begin(struct wire_pages_iter *it, const uint8_t *p, uint32_t len,
		     char *err, size_t errlen);
int wire_pages_next(struct wire_pages_iter *it, struct wire_page *pg,
		    char *err, size_t errlen);

/*
 * PAGES writer: the entries are built in place in @buf, so a codec can
 * encode straight into the next entry's data (wire_pages_data()).
 * wire_pages_add() writes an entry's header after its data (copying
 * @pg->data first unless it is already in place); -EMSGSIZE if the entry
 * does not fit in @cap (at most WIRE_MAX_PAYLOAD) bytes.
 * wire_pages_finish() writes the fixed part and returns the payload size.
 */
struct wire_pages_writer {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;
	uint32_t count;
};
void wire_pages_start(struct wire_pages_writer *w, uint8_t *buf, uint32_t cap);
static inline uint8_t *wire_pages_data(const struct wire_pages_writer *w)
{
	return w->buf + w->len + WIRE_PAGE_ENTRY_HDR;
}
int wire_pages_add(struct wire_pages_writer *w, const struct wire_page *pg);
uint32_t wire_pages_finish(struct wire_pages_writer *w, uint32_t iteration);

/*
 * HELLO_ACK payload: u32 reserved (sent 0, not checked), u32 codecs.
 * The reader checks the length (-EBADMSG).
 */
#define WIRE_HELLO_ACK_SIZE	8
struct wire_hello_ack {
	uint32_t codecs;	/* bit n: the destination decodes encoding n */
};
void wire_put_hello_ack(uint8_t *b, const struct wire_hello_ack *a);
int wire_get_hello_ack(const struct wire_hdr *h, const uint8_t *p,
		       struct wire_hello_ack *a, char *err, size_t errlen);

/*
 * CHANNEL payload: u64 session, u16 index, u16 0, u32 0.
 * The reader is for the first frame of a new connection and refuses, all
 * -EPROTO: another frame type or length; a session other than @session;
 * an index that is not the header's channel, not in 1..@nr_channels - 1,
 * or set in @connected (bit i: channel i is already connected); non-zero
 * reserved bytes.
 */
#define WIRE_CHANNEL_SIZE	16
struct wire_channel {
	uint64_t session;
	uint16_t index;
};
void wire_put_channel(uint8_t *b, const struct wire_channel *c);
int wire_get_channel(const struct wire_hdr *h, const uint8_t *p,
		     uint64_t session, uint16_t nr_channels, uint64_t connected,
		     struct wire_channel *c, char *err, size_t errlen);

/*
 * ITER_END and END payload: u32 iteration, u32 0, u64 frames (the frames
 * sent on the channel before this one: the frame's own seq).  One writer
 * for both; each has its reader:
 *  - ITER_END: length 16 (-EBADMSG), iteration == @pass, the channel's
 *    current pass (-EPROTO), reserved 0 (-EBADMSG), frames == seq
 *    (-EBADMSG);
 *  - END: length 16 and reserved 0 (-EBADMSG, "malformed"), iteration ==
 *    @passes, the ITER_ENDs the channel carried (-EPROTO); frames is not
 *    checked.
 */
#define WIRE_END_SIZE		16
struct wire_end {
	uint32_t iteration;
	uint64_t frames;
};
void wire_put_end(uint8_t *b, const struct wire_end *e);
int wire_get_iter_end(const struct wire_hdr *h, const uint8_t *p, uint32_t pass,
		      struct wire_end *e, char *err, size_t errlen);
int wire_get_end(const struct wire_hdr *h, const uint8_t *p, uint32_t passes,
		 struct wire_end *e, char *err, size_t errlen);

/*
 * DEVICE_STATE payload: the source VMM's get-device-state answer, JSON
 * text as is: no NUL byte, at most WIRE_MAX_PAYLOAD bytes.  The payload
 * is the text itself, so the writer copies nothing: it checks @len bytes
 * at @json (-E2BIG: larger than a frame, -EINVAL: a NUL byte) and points
 * @ds at them, to be sent as the frame's payload.  The reader refuses a
 * NUL byte (-EBADMSG) and points @ds into the payload.
 */
struct wire_device_state {
	const char *json;
	uint32_t len;
};
int wire_put_device_state(struct wire_device_state *ds, const char *json,
			  size_t len);
int wire_get_device_state(const struct wire_hdr *h, const uint8_t *p,
			  struct wire_device_state *ds, char *err,
			  size_t errlen);

/*
 * VERIFY payload: u64 first, u32 count, u32 flags, then count x u64 hash
 * (XXH3-64 of pages first..first + count - 1); with WIRE_VERIFY_ZERO no
 * hashes follow: the count pages are zero on the source (a destination
 * that decodes zero runs takes it).  The writer writes the fixed part and
 * returns the payload size; wire_put_verify_hash() writes hash @i after
 * it.  The reader checks that the length matches the count and flags, and
 * that no other flag is set (-EBADMSG); where the hashes belong is the
 * caller's to check.  wire_verify_hash() reads hash @i < count.
 */
#define WIRE_VERIFY_FIXED	16
#define WIRE_VERIFY_MAX_HASHES	((WIRE_MAX_PAYLOAD - WIRE_VERIFY_FIXED) / 8)
#define WIRE_VERIFY_ZERO	(1U << 0)
struct wire_verify {
	uint64_t first;
	uint32_t count;
	uint32_t flags;
	const uint8_t *hashes;	/* reader: points into the payload */
};
uint32_t wire_put_verify(uint8_t *b, const struct wire_verify *v);
void wire_put_verify_hash(uint8_t *b, uint32_t i, uint64_t hash);
int wire_get_verify(const struct wire_hdr *h, const uint8_t *p,
		    struct wire_verify *v, char *err, size_t errlen);
uint64_t wire_verify_hash(const struct wire_verify *v, uint32_t i);

/*
 * COMPLETE payload: u32 status (0 or a positive errno), u32 reserved
 * (sent 0, not checked), u64 verify_pages, u64 mismatches.  The reader
 * checks the length (-EBADMSG).
 */
#define WIRE_COMPLETE_SIZE	24
struct wire_complete {
	uint32_t status;
	uint64_t verify_pages;
	uint64_t mismatches;
};
void wire_put_complete(uint8_t *b, const struct wire_complete *c);
int wire_get_complete(const struct wire_hdr *h, const uint8_t *p,
		      struct wire_complete *c, char *err, size_t errlen);

/*
 * ERROR payload: u32 code (a positive errno), u32 msg_len, then msg_len
 * bytes of message (at most WIRE_MAX_ERROR_MSG).  The writer writes the
 * fixed part and returns its size; the caller keeps @e->len within
 * WIRE_MAX_ERROR_MSG and sends the message after it.  The reader
 * refuses lengths that do not add up (-EBADMSG) and points @e->msg into
 * the payload (not NUL-terminated: the peer wrote it, escape it to print).
 */
#define WIRE_ERROR_FIXED	8
struct wire_error {
	uint32_t code;
	uint32_t len;
	const char *msg;
};
uint32_t wire_put_error(uint8_t *b, const struct wire_error *e);
int wire_get_error(const struct wire_hdr *h, const uint8_t *p,
		   struct wire_error *e, char *err, size_t errlen);

/*
 * GO payload: u64 reserved (sent 0, not checked).  The reader is for the
 * frame the destination waits for after COMPLETE: another type or length
 * is -EPROTO ("expected GO").
 */
#define WIRE_GO_SIZE		8
void wire_put_go(uint8_t *b);
int wire_get_go(const struct wire_hdr *h, const uint8_t *p, char *err,
		size_t errlen);

/*
 * STARTED payload: u32 status (0 or a positive errno), u32 reserved (sent
 * 0, not checked).  The reader checks the length (-EBADMSG).
 */
#define WIRE_STARTED_SIZE	8
struct wire_started {
	uint32_t status;
};
void wire_put_started(uint8_t *b, const struct wire_started *s);
int wire_get_started(const struct wire_hdr *h, const uint8_t *p,
		     struct wire_started *s, char *err, size_t errlen);

#endif /* KVMIG_WIRE_H */
