// SPDX-License-Identifier: GPL-2.0
/*
 * The migration stream's encoders and strict parsers (user/lib/wire.c):
 * round trips, and for each malformation the refusal that names the frame
 * and the field.
 */
#include "harness.h"
#include "../../user/lib/wire.h"

static char err[512];

static void hdr_case(const char *what, void (*edit)(uint8_t *), int want,
		     const char *msg)
{
	struct wire_hdr h = { .type = WIRE_PAGES, .len = 100, .channel = 2,
			      .seq = 9 }, got;
	uint8_t b[WIRE_HDR_SIZE];
	int r;

	wire_put_hdr(b, &h);
	edit(b);
	err[0] = 0;
	r = wire_get_hdr(b, &got, err, sizeof(err));
	ksft_test_result(r == want && strstr(err, msg), "header, %s: '%s'", what, err);
}

static void e_magic(uint8_t *b) { b[0] ^= 1; }
static void e_version(uint8_t *b) { b[4] = 2; }
static void e_type0(uint8_t *b) { b[5] = 0; }
static void e_type99(uint8_t *b) { b[5] = 99; }
static void e_flags(uint8_t *b) { b[6] = 1; }
static void e_len(uint8_t *b) { put_u32(b + 8, WIRE_MAX_PAYLOAD + 1); }
static void e_channel(uint8_t *b) { put_u16(b + 12, WIRE_MAX_CHANNELS); }
static void e_reserved(uint8_t *b) { b[15] = 1; }

static size_t make_hello(uint8_t *buf, struct wire_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->page_size = 4096;
	h->nr_slots = 2;
	h->nr_channels = 3;
	h->session = 0xabcdef;
	h->codecs = WIRE_CODECS_V1;
	h->flags = WIRE_HELLO_VERIFY;
	h->slots[0] = (struct wire_slot){ 0, 0, 16 << 20 };
	h->slots[1] = (struct wire_slot){ 1, 80 << 20, 32 << 20 };
	h->ram_bytes = 48 << 20;
	wire_put_hello(buf, h);
	return wire_hello_size(h);
}

static void hello_case(const char *what, size_t off, uint64_t val, int width,
		       int dlen, int want, const char *msg)
{
	static struct wire_hello h, got;
	uint8_t b[256];
	size_t n = make_hello(b, &h);
	int r;

	if (width == 2)
		put_u16(b + off, (uint16_t)val);
	else if (width == 4)
		put_u32(b + off, (uint32_t)val);
	else if (width == 8)
		put_u64(b + off, val);
	err[0] = 0;
	r = wire_get_hello(b, (uint32_t)((int)n + dlen), &got, err, sizeof(err));
	ksft_test_result(r == want && strstr(err, msg), "HELLO, %s: '%s'", what, err);
}

/* PAGES payload: zero page, raw page, zero page */
static size_t make_pages(uint8_t *b)
{
	size_t o = WIRE_PAGES_FIXED;

	put_u32(b, 3);
	put_u32(b + 4, 5);
	put_u64(b + o, 0x200000); b[o + 8] = WIRE_ENC_ZERO; b[o + 9] = 0;
	put_u16(b + o + 10, 0); put_u32(b + o + 12, 0);
	o += WIRE_PAGE_ENTRY_HDR;
	put_u64(b + o, 0x201000); b[o + 8] = WIRE_ENC_RAW; b[o + 9] = 0;
	put_u16(b + o + 10, 0); put_u32(b + o + 12, 4096);
	memset(b + o + WIRE_PAGE_ENTRY_HDR, 0x5a, 4096);
	o += WIRE_PAGE_ENTRY_HDR + 4096;
	put_u64(b + o, 0x202000); b[o + 8] = WIRE_ENC_ZERO; b[o + 9] = 0;
	put_u16(b + o + 10, 0); put_u32(b + o + 12, 0);
	return o + WIRE_PAGE_ENTRY_HDR;
}

/* Parse all entries; returns the first error or 0 with *n entries. */
static int walk(const uint8_t *b, size_t len, unsigned int *n)
{
	struct wire_pages_iter it;
	struct wire_page pg;
	int r;

	*n = 0;
	err[0] = 0;
	r = wire_pages_begin(&it, b, (uint32_t)len, err, sizeof(err));
	if (r)
		return r;
	while ((r = wire_pages_next(&it, &pg, err, sizeof(err))) > 0)
		(*n)++;
	return r;
}

static void pages_case(const char *what, size_t off, uint64_t val, int width,
		       int dlen, const char *msg)
{
	static uint8_t b[2 * 4096 + 256];
	size_t n = make_pages(b);
	unsigned int cnt;
	int r;

	if (width == 1)
		b[off] = (uint8_t)val;
	else if (width == 2)
		put_u16(b + off, (uint16_t)val);
	else if (width == 4)
		put_u32(b + off, (uint32_t)val);
	else if (width == 8)
		put_u64(b + off, val);
	memset(b + n, 0, 64);
	r = walk(b, (size_t)((long)n + dlen), &cnt);
	ksft_test_result(r < 0 && strstr(err, msg), "PAGES, %s: '%s'", what, err);
}

int main(void)
{
	struct wire_hdr h = { .type = WIRE_VERIFY, .len = 4242, .channel = 7,
			      .seq = 0x1122334455667788ULL }, got;
	static struct wire_hello hl, hl2;
	uint8_t b[WIRE_HDR_SIZE], hb[256];
	static uint8_t pb[2 * 4096 + 256];
	unsigned int n;
	size_t len;
	const size_t E1 = WIRE_PAGES_FIXED, E2 = E1 + 16;	/* entry offsets */

	ksft_print_header();
	ksft_set_plan(1 + 8 + 1 + 9 + 1 + 10);

	wire_put_hdr(b, &h);
	ksft_test_result(!memcmp(b, "KVMF", 4) && !wire_get_hdr(b, &got, err, sizeof(err)) &&
			 got.type == h.type && got.len == h.len && got.channel == 7 &&
			 got.seq == h.seq && get_u64(b + 16) == h.seq && b[16] == 0x88,
			 "header round trip, little-endian on the wire");
	hdr_case("bad magic", e_magic, -EBADMSG, "is not KVMF");
	hdr_case("version 2", e_version, -EPROTO, "version 2");
	hdr_case("type 0", e_type0, -EBADMSG, "unknown frame type 0");
	hdr_case("type 99", e_type99, -EBADMSG, "unknown frame type 99");
	hdr_case("flags set", e_flags, -EBADMSG, "PAGES frame: flags 0x1");
	hdr_case("length over the maximum", e_len, -EBADMSG, "exceeds the maximum");
	hdr_case("channel 64", e_channel, -EBADMSG, "channel 64");
	hdr_case("reserved set", e_reserved, -EBADMSG, "reserved header field");

	len = make_hello(hb, &hl);
	ksft_test_result(!wire_get_hello(hb, (uint32_t)len, &hl2, err, sizeof(err)) &&
			 hl2.nr_slots == 2 && hl2.slots[1].gpa == 80 << 20 &&
			 hl2.slots[1].size == 32 << 20 && hl2.session == 0xabcdef &&
			 hl2.flags == WIRE_HELLO_VERIFY, "HELLO round trip");
	hello_case("truncated fixed part", 0, 0, 0, -(int)len + 10, -EBADMSG, "fixed part needs 32");
	hello_case("page size 8192", 0, 8192, 4, 0, -EPROTO, "page_size 8192");
	hello_case("no slots", 4, 0, 2, 0, -EBADMSG, "nr_slots 0");
	hello_case("65 channels", 6, 65, 2, 0, -EBADMSG, "nr_channels 65");
	hello_case("unknown flag", 20, 0x80, 4, 0, -EPROTO, "unknown flags 0x80");
	hello_case("one slot too few bytes", 0, 0, 0, -24, -EBADMSG, "2 slots need 80");
	hello_case("slot reserved set", 32 + 4, 1, 4, 0, -EBADMSG, "slot 0: reserved");
	hello_case("unaligned slot", 32 + 24 + 8, (80 << 20) + 1, 8, 0, -EBADMSG,
		   "not a page-aligned range");
	hello_case("ram_bytes wrong", 24, 1 << 20, 8, 0, -EBADMSG, "slots add up to");

	len = make_pages(pb);
	ksft_test_result(!walk(pb, len, &n) && n == 3, "PAGES: 3 entries parse (%u, %s)", n, err);
	pages_case("count beyond the bytes", 0, 1000, 4, 0, "cannot fit");
	pages_case("one entry more than sent", 0, 4, 4, 0, "header truncated");
	pages_case("trailing garbage", 0, 0, 0, 8, "trailing garbage");
	pages_case("reserved byte set", E1 + 9, 1, 1, 0, "entry 0: reserved");
	pages_case("unaligned gpa", E1, 0x200001, 8, 0, "not page aligned");
	pages_case("unknown encoding", E1 + 8, 9, 1, 0, "unknown encoding 9");
	pages_case("zero page with data", E1 + 12, 16, 4, 0, "wrong for encoding zero");
	pages_case("raw page of 4095 bytes", E2 + 12, 4095, 4, 0, "wrong for encoding raw");
	pages_case("length past the frame", E2 + 12, 1 << 20, 4, 0, "overruns the frame");
	pages_case("truncated raw data", 0, 0, 0, -(int)(16 + 100), "overruns the frame");
	ksft_finished();
}
