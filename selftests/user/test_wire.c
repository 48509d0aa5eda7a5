// SPDX-License-Identifier: GPL-2.0
/*
 * The migration stream's encoders and strict parsers (user/lib/wire.c):
 * round trips, and for each malformation the refusal that names the frame
 * and the field.
 */
#include "harness.h"
#include "../../user/lib/wire.h"
#include "../../user/lib/chan.h"

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

/*
 * Each type's limit on len, on channel 0 and 1: the limit itself passes,
 * one byte more is refused by name (one result for all).
 */
static void type_limits(void)
{
	static const uint32_t want[][2] = {	/* channel 0, channel 1 */
		[WIRE_PAGES] = { WIRE_MAX_PAGES_PAYLOAD, WIRE_MAX_PAGES_PAYLOAD },
		[WIRE_DEVICE_STATE] = { WIRE_MAX_PAYLOAD, WIRE_MAX_CONTROL_PAYLOAD },
		[WIRE_VERIFY] = { WIRE_MAX_PAYLOAD, WIRE_MAX_CONTROL_PAYLOAD },
	};
	struct wire_hdr h = { .seq = 1 }, got;
	uint8_t b[WIRE_HDR_SIZE];
	unsigned int bad = 0;
	char e[256];

	for (h.type = 1; h.type <= WIRE_TYPE_MAX; h.type++) {
		for (h.channel = 0; h.channel < 2; h.channel++) {
			uint32_t max = h.type < sizeof(want) / sizeof(want[0]) &&
				       want[h.type][h.channel] ?
				       want[h.type][h.channel] : WIRE_MAX_CONTROL_PAYLOAD;
			char msg[128];

			/* the protocol's own limit is checked first */
			if (max == WIRE_MAX_PAYLOAD)
				snprintf(msg, sizeof(msg), "%s frame: length %u "
					 "exceeds the maximum %u",
					 wire_type_name(h.type), max + 1, max);
			else
				snprintf(msg, sizeof(msg), "%s frame: length %u "
					 "exceeds the maximum %u of its type on "
					 "channel %u", wire_type_name(h.type),
					 max + 1, max, h.channel);
			h.len = max;
			wire_put_hdr(b, &h);
			if (wire_get_hdr(b, &got, e, sizeof(e)) ||
			    wire_max_len(h.type, h.channel) != max) {
				ksft_print_msg("%s on channel %u: %u bytes refused: %s\n",
					       wire_type_name(h.type), h.channel, max, e);
				bad++;
			}
			h.len = max + 1;
			wire_put_hdr(b, &h);
			e[0] = 0;
			if (wire_get_hdr(b, &got, e, sizeof(e)) != -EBADMSG ||
			    strcmp(e, msg)) {
				ksft_print_msg("%s on channel %u: %u bytes: '%s', want '%s'\n",
					       wire_type_name(h.type), h.channel,
					       max + 1, e, msg);
				bad++;
			}
		}
	}
	ksft_test_result(!bad, "header: every type's length limit on channels 0 "
			 "and 1 (PAGES %u, DEVICE_STATE and VERIFY %u on channel 0, "
			 "others %u)", WIRE_MAX_PAGES_PAYLOAD, WIRE_MAX_PAYLOAD,
			 WIRE_MAX_CONTROL_PAYLOAD);
}

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

/* A received frame's header, for the readers that take one. */
static struct wire_hdr rx_hdr(uint8_t type, uint32_t len, uint16_t channel,
			      uint64_t seq)
{
	return (struct wire_hdr){ .type = type, .len = len, .channel = channel,
				  .seq = seq };
}

static void expect_refusal(int r, int want, const char *msg, const char *what)
{
	ksft_test_result(r == want && strstr(err, msg), "%s: '%s'", what, err);
}

/* Every frame the handshake and the end of a migration carry. */
static void fixed_frames(void)
{
	struct wire_hdr h;
	struct wire_hello_ack ack = { .codecs = WIRE_CODECS_ALL }, ack2;
	struct wire_channel ch = { .session = 0x1234, .index = 2 }, ch2;
	struct wire_end e = { .iteration = 3, .frames = 17 }, e2;
	struct wire_complete c = { .status = 5, .verify_pages = 1000,
				   .mismatches = 7 }, c2;
	struct wire_started st = { .status = 5 }, st2;
	struct wire_error er = { .code = 71, .len = 5, .msg = "nope!" }, er2;
	uint8_t b[64];

	wire_put_hello_ack(b, &ack);
	h = rx_hdr(WIRE_HELLO_ACK, WIRE_HELLO_ACK_SIZE, 0, 0);
	ksft_test_result(!wire_get_hello_ack(&h, b, &ack2, err, sizeof(err)) &&
			 ack2.codecs == WIRE_CODECS_ALL && get_u32(b) == 0,
			 "HELLO_ACK round trip");
	h.len = 7;
	expect_refusal(wire_get_hello_ack(&h, b, &ack2, err, sizeof(err)), -EBADMSG,
		       "HELLO_ACK frame: 7 bytes, expected 8", "HELLO_ACK, short");

	wire_put_channel(b, &ch);
	h = rx_hdr(WIRE_CHANNEL, WIRE_CHANNEL_SIZE, 2, 0);
	ksft_test_result(!wire_get_channel(&h, b, 0x1234, 3, 1, &ch2, err, sizeof(err)) &&
			 ch2.session == 0x1234 && ch2.index == 2, "CHANNEL round trip");
	h.type = WIRE_PAGES;
	expect_refusal(wire_get_channel(&h, b, 0x1234, 3, 1, &ch2, err, sizeof(err)),
		       -EPROTO, "PAGES frame on a new connection: expected CHANNEL",
		       "CHANNEL, another type");
	h = rx_hdr(WIRE_CHANNEL, 15, 2, 0);
	expect_refusal(wire_get_channel(&h, b, 0x1234, 3, 1, &ch2, err, sizeof(err)),
		       -EPROTO, "CHANNEL frame on a new connection: expected CHANNEL",
		       "CHANNEL, 15 bytes");
	h.len = WIRE_CHANNEL_SIZE;
	expect_refusal(wire_get_channel(&h, b, 0x1235, 3, 1, &ch2, err, sizeof(err)),
		       -EPROTO, "session 0x1234 is not this migration's",
		       "CHANNEL, another session");
	expect_refusal(wire_get_channel(&h, b, 0x1234, 2, 1, &ch2, err, sizeof(err)),
		       -EPROTO, "index 2 is not a free channel of 1..1",
		       "CHANNEL, index past nr_channels");
	expect_refusal(wire_get_channel(&h, b, 0x1234, 3, 5, &ch2, err, sizeof(err)),
		       -EPROTO, "index 2 is not a free channel of 1..2",
		       "CHANNEL, index already connected");
	h.channel = 1;
	expect_refusal(wire_get_channel(&h, b, 0x1234, 3, 1, &ch2, err, sizeof(err)),
		       -EPROTO, "index 2 is not a free channel", "CHANNEL, index not "
		       "the header's channel");
	h.channel = 2;
	b[13] = 1;
	expect_refusal(wire_get_channel(&h, b, 0x1234, 3, 1, &ch2, err, sizeof(err)),
		       -EPROTO, "(or reserved bytes set)", "CHANNEL, reserved set");

	/* ITER_END and END: one writer; frames is the frame's own seq */
	wire_put_end(b, &e);
	h = rx_hdr(WIRE_ITER_END, WIRE_END_SIZE, 4, 17);
	ksft_test_result(!wire_get_iter_end(&h, b, 3, &e2, err, sizeof(err)) &&
			 e2.iteration == 3 && e2.frames == 17, "ITER_END round trip");
	h.len = 8;
	expect_refusal(wire_get_iter_end(&h, b, 3, &e2, err, sizeof(err)), -EBADMSG,
		       "ITER_END frame seq 17 on channel 4: 8 bytes, expected 16",
		       "ITER_END, 8 bytes");
	h.len = WIRE_END_SIZE;
	expect_refusal(wire_get_iter_end(&h, b, 2, &e2, err, sizeof(err)), -EPROTO,
		       "iteration 3, the channel is in pass 2", "ITER_END, wrong pass");
	h.seq = 16;
	expect_refusal(wire_get_iter_end(&h, b, 3, &e2, err, sizeof(err)), -EBADMSG,
		       "frames 17, but it is the channel's frame 16",
		       "ITER_END, frames not its seq");
	b[4] = 5;
	expect_refusal(wire_get_iter_end(&h, b, 3, &e2, err, sizeof(err)), -EBADMSG,
		       "reserved field is 0x5, must be 0", "ITER_END, reserved set");
	h = rx_hdr(WIRE_END, WIRE_END_SIZE, 4, 99);
	expect_refusal(wire_get_end(&h, b, 3, &e2, err, sizeof(err)), -EBADMSG,
		       "END frame seq 99 on channel 4: malformed", "END, reserved set");
	wire_put_end(b, &e);
	ksft_test_result(!wire_get_end(&h, b, 3, &e2, err, sizeof(err)) &&
			 e2.iteration == 3 && e2.frames == 17,
			 "END round trip (frames not checked)");
	expect_refusal(wire_get_end(&h, b, 4, &e2, err, sizeof(err)), -EPROTO,
		       "after 3 passes, the channel ended 4", "END, wrong pass count");
	h.len = 17;
	expect_refusal(wire_get_end(&h, b, 3, &e2, err, sizeof(err)), -EBADMSG,
		       "malformed", "END, 17 bytes");

	wire_put_complete(b, &c);
	h = rx_hdr(WIRE_COMPLETE, WIRE_COMPLETE_SIZE, 0, 1);
	ksft_test_result(!wire_get_complete(&h, b, &c2, err, sizeof(err)) &&
			 c2.status == 5 && c2.verify_pages == 1000 && c2.mismatches == 7,
			 "COMPLETE round trip");
	h.len = 16;
	expect_refusal(wire_get_complete(&h, b, &c2, err, sizeof(err)), -EBADMSG,
		       "COMPLETE frame: 16 bytes, expected 24", "COMPLETE, 16 bytes");

	wire_put_go(b);
	h = rx_hdr(WIRE_GO, WIRE_GO_SIZE, 0, 11);
	ksft_test_result(!wire_get_go(&h, b, err, sizeof(err)) && !get_u64(b),
			 "GO round trip");
	h.len = 9;
	expect_refusal(wire_get_go(&h, b, err, sizeof(err)), -EPROTO,
		       "GO frame: expected GO", "GO, 9 bytes");
	h = rx_hdr(WIRE_ERROR, WIRE_GO_SIZE, 0, 11);
	expect_refusal(wire_get_go(&h, b, err, sizeof(err)), -EPROTO,
		       "ERROR frame: expected GO", "GO, an ERROR instead");

	wire_put_started(b, &st);
	h = rx_hdr(WIRE_STARTED, WIRE_STARTED_SIZE, 0, 2);
	ksft_test_result(!wire_get_started(&h, b, &st2, err, sizeof(err)) &&
			 st2.status == 5, "STARTED round trip");
	h.len = 0;
	expect_refusal(wire_get_started(&h, b, &st2, err, sizeof(err)), -EBADMSG,
		       "STARTED frame: 0 bytes, expected 8", "STARTED, empty");

	memcpy(b + wire_put_error(b, &er), er.msg, er.len);
	h = rx_hdr(WIRE_ERROR, WIRE_ERROR_FIXED + 5, 0, 3);
	ksft_test_result(!wire_get_error(&h, b, &er2, err, sizeof(err)) &&
			 er2.code == 71 && er2.len == 5 && !memcmp(er2.msg, "nope!", 5),
			 "ERROR round trip");
	h.len = 12;
	expect_refusal(wire_get_error(&h, b, &er2, err, sizeof(err)), -EBADMSG,
		       "msg_len 5, but 4 bytes follow", "ERROR, message cut");
	h.len = 7;
	expect_refusal(wire_get_error(&h, b, &er2, err, sizeof(err)), -EBADMSG,
		       "fixed part needs 8", "ERROR, 7 bytes");

	/* What a receiver makes of the peer's code: an errno, or -EPROTO. */
	{
		static const uint32_t code[] = { 71, 0, 4096, 0x80000000u, 0xffffffffu };
		static const int want[] = { -71, 0, -EPROTO, -EPROTO, -EPROTO };
		char msg[WIRE_MAX_ERROR_MSG + 1];
		bool all = true;

		for (size_t i = 0; i < sizeof(code) / sizeof(code[0]); i++) {
			struct wire_error e = { .code = code[i], .len = 5, .msg = "nope!" };
			int r;

			memcpy(b + wire_put_error(b, &e), e.msg, e.len);
			h = rx_hdr(WIRE_ERROR, WIRE_ERROR_FIXED + 5, 0, 3);
			r = chan_parse_error(&h, b, msg, sizeof(msg));
			if (r != want[i] || strcmp(msg, "nope!")) {
				ksft_print_msg("code %#x: %d \"%s\", want %d\n",
					       code[i], r, msg, want[i]);
				all = false;
			}
		}
		ksft_test_result(all, "ERROR codes: errnos pass, others are -EPROTO");
	}
}

/* The frames with a body: DEVICE_STATE and VERIFY. */
static void body_frames(void)
{
	static const char json[] = "{\"format\":\"kvmig-vm/1\"}";
	struct wire_device_state ds, ds2;
	struct wire_verify v = { .first = 10, .count = 2 }, v2;
	struct wire_hdr h;
	uint8_t b[64];
	uint32_t n;

	ksft_test_result(!wire_put_device_state(&ds, json, strlen(json)) &&
			 ds.json == json && ds.len == strlen(json) &&
			 wire_put_device_state(&ds2, json, sizeof(json)) == -EINVAL &&
			 wire_put_device_state(&ds2, json, WIRE_MAX_PAYLOAD + 1ULL) ==
			 -E2BIG, "DEVICE_STATE writer: the text as is, no NUL, fits a "
			 "frame");
	h = rx_hdr(WIRE_DEVICE_STATE, ds.len, 0, 5);
	ksft_test_result(!wire_get_device_state(&h, (const uint8_t *)json, &ds2, err,
						sizeof(err)) && ds2.len == ds.len &&
			 ds2.json == json, "DEVICE_STATE reader");
	h.len = sizeof(json);
	expect_refusal(wire_get_device_state(&h, (const uint8_t *)json, &ds2, err,
					     sizeof(err)), -EBADMSG,
		       "DEVICE_STATE frame: NUL byte inside the state",
		       "DEVICE_STATE with a NUL byte");

	n = wire_put_verify(b, &v);
	wire_put_verify_hash(b, 0, 0x1122334455667788ULL);
	wire_put_verify_hash(b, 1, 42);
	h = rx_hdr(WIRE_VERIFY, n, 0, 9);
	ksft_test_result(n == 32 && !wire_get_verify(&h, b, &v2, err, sizeof(err)) &&
			 v2.first == 10 && v2.count == 2 &&
			 wire_verify_hash(&v2, 0) == 0x1122334455667788ULL &&
			 wire_verify_hash(&v2, 1) == 42, "VERIFY round trip");
	h.len = 24;
	expect_refusal(wire_get_verify(&h, b, &v2, err, sizeof(err)), -EBADMSG,
		       "VERIFY frame seq 9: 24 bytes do not match its count",
		       "VERIFY, one hash short");
	h.len = 8;
	expect_refusal(wire_get_verify(&h, b, &v2, err, sizeof(err)), -EBADMSG,
		       "8 bytes do not match", "VERIFY, no fixed part");
	h.len = 32;
	b[12] = 2;
	expect_refusal(wire_get_verify(&h, b, &v2, err, sizeof(err)), -EBADMSG,
		       "(or unknown flags 0x2)", "VERIFY, an unknown flag set");
	/* a zero range: no hashes, so a count with a hash is too long */
	v.flags = WIRE_VERIFY_ZERO;
	v.count = 1000;
	n = wire_put_verify(b, &v);
	h = rx_hdr(WIRE_VERIFY, n, 0, 10);
	ksft_test_result(n == WIRE_VERIFY_FIXED &&
			 !wire_get_verify(&h, b, &v2, err, sizeof(err)) &&
			 v2.first == 10 && v2.count == 1000 &&
			 v2.flags == WIRE_VERIFY_ZERO, "VERIFY zero range round trip");
	h.len = WIRE_VERIFY_FIXED + 8;
	expect_refusal(wire_get_verify(&h, b, &v2, err, sizeof(err)), -EBADMSG,
		       "24 bytes do not match its count", "VERIFY zero range with a hash");
}

/* The PAGES writer builds what make_pages() spells out byte by byte. */
static void pages_writer(void)
{
	static uint8_t want[2 * 4096 + 256], got[2 * 4096 + 256], raw[4096];
	struct wire_pages_writer w;
	size_t n = make_pages(want);
	uint32_t len;
	int r = 0;

	memset(raw, 0x5a, sizeof(raw));
	memset(got, 0xee, sizeof(got));
	wire_pages_start(&w, got, sizeof(got));
	r |= wire_pages_add(&w, &(struct wire_page){ 0x200000, WIRE_ENC_ZERO, 0, NULL, 1 });
	/* the raw page encoded in place, as a worker's codec does */
	memcpy(wire_pages_data(&w), raw, sizeof(raw));
	r |= wire_pages_add(&w, &(struct wire_page){ 0x201000, WIRE_ENC_RAW, 4096,
						     wire_pages_data(&w), 1 });
	r |= wire_pages_add(&w, &(struct wire_page){ 0x202000, WIRE_ENC_ZERO, 0, NULL, 1 });
	len = wire_pages_finish(&w, 5);
	ksft_test_result(!r && len == n && !memcmp(got, want, n),
			 "PAGES writer: the bytes of the grammar (%u of %zu)", len, n);

	wire_pages_start(&w, got, WIRE_PAGES_FIXED + WIRE_PAGE_ENTRY_HDR + 4095);
	ksft_test_result(wire_pages_add(&w, &(struct wire_page){ 0x201000,
					WIRE_ENC_RAW, 4096, raw, 1 }) == -EMSGSIZE &&
			 !wire_pages_add(&w, &(struct wire_page){ 0x200000,
					 WIRE_ENC_ZERO, 0, NULL, 1 }) &&
			 wire_pages_finish(&w, 0) == WIRE_PAGES_FIXED +
			 WIRE_PAGE_ENTRY_HDR, "PAGES writer: an entry that does "
			 "not fit is refused, the frame unchanged");
}

/* A zero run: its u64 written and read by the grammar, its bounds checked. */
static void zero_runs(void)
{
	static uint8_t b[256];
	struct wire_pages_writer w;
	struct wire_pages_iter it;
	struct wire_page pg;
	uint32_t len;
	int r;

	wire_pages_start(&w, b, sizeof(b));
	r = wire_pages_add(&w, &(struct wire_page){ .gpa = 0x400000,
			   .encoding = WIRE_ENC_ZERO_RUN, .len = 8, .pages = 262144 });
	len = wire_pages_finish(&w, 0);
	ksft_test_result(!r && len == WIRE_PAGES_FIXED + 16 + 8 &&
			 !wire_pages_begin(&it, b, len, err, sizeof(err)) &&
			 wire_pages_next(&it, &pg, err, sizeof(err)) == 1 &&
			 pg.gpa == 0x400000 && pg.encoding == WIRE_ENC_ZERO_RUN &&
			 pg.pages == 262144 && !wire_pages_next(&it, &pg, err, sizeof(err)),
			 "PAGES: a zero run of 1 GiB in one 24-byte entry");
	put_u64(b + WIRE_PAGES_FIXED + 16, 0);
	r = wire_pages_begin(&it, b, len, err, sizeof(err)) ?:
	    wire_pages_next(&it, &pg, err, sizeof(err));
	expect_refusal(r, -EBADMSG, "entry 0: a zero run of 0 pages",
		       "PAGES: a zero run of no pages");
	put_u64(b + WIRE_PAGES_FIXED + 16, WIRE_ZERO_RUN_MAX + 1);
	r = wire_pages_begin(&it, b, len, err, sizeof(err)) ?:
	    wire_pages_next(&it, &pg, err, sizeof(err));
	expect_refusal(r, -EBADMSG, "a zero run of 1099511627777 pages",
		       "PAGES: a zero run past the maximum");
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
	ksft_set_plan(1 + 9 + 1 + 9 + 1 + 10 + 2 + 35 + 7 + 3);

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
	type_limits();

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
	pages_writer();
	zero_runs();
	fixed_frames();
	body_frames();
	ksft_finished();
}
