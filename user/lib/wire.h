/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The migration stream, version 1 (Documentation/migration-stream.rst).
 *
 * Every frame: a 24-byte header, then @len bytes of payload.  All integers
 * little-endian, written and read with the put/get helpers below, never by
 * casting a struct over the buffer.  Reserved fields are zero on send and
 * checked to be zero on receive.
 *
 *   0  u32 magic "KVMF"        12 u16 channel
 *   4  u8  version (1)         14 u16 reserved
 *   5  u8  type                16 u64 seq (per channel, from 0, +1 a frame)
 *   6  u16 flags (0)
 *   8  u32 len (<= WIRE_MAX_PAYLOAD)
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

/* How a page travels (PAGES entries). */
enum wire_encoding {
	WIRE_ENC_ZERO = 0,	/* all-zero page, no data */
	WIRE_ENC_RAW = 1,	/* the page as is */
	WIRE_ENC_ZLIB = 2,	/* a zlib stream (RFC 1950) of the page */
	WIRE_ENC_ZSTD = 3,	/* one zstd frame, content size 4096 */
	WIRE_ENC_LZ4 = 4,	/* one lz4 block */
	WIRE_ENC_XBZRLE = 5,	/* the difference to the destination's page */
	WIRE_ENC_NR,
};

/* HELLO flags */
#define WIRE_HELLO_VERIFY	(1U << 0)	/* VERIFY frames will follow */
#define WIRE_HELLO_FLAGS	WIRE_HELLO_VERIFY

/* Codec bits in HELLO / HELLO_ACK: bit n = encoding n is understood. */
#define WIRE_CODECS_V1		((1U << WIRE_ENC_ZERO) | (1U << WIRE_ENC_RAW))
/* Every encoding this implementation decodes. */
#define WIRE_CODECS_ALL		((1U << WIRE_ENC_NR) - 1)
/* Compressed entries: 1..WIRE_PAGE_SIZE - 1 bytes (else it goes raw);
 * XBZRLE entries 0..WIRE_PAGE_SIZE - 1 (0: the page did not change). */
#define WIRE_ENC_IS_CODEC(e)	((e) >= WIRE_ENC_ZLIB && (e) <= WIRE_ENC_LZ4)

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

#endif /* KVMIG_WIRE_H */
