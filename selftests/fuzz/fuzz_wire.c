// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target for the migration stream's readers (user/lib/wire.c): one
 * input is one frame, header then payload.  Every reader sees every
 * payload, whatever the header's type, as a hostile peer could send any
 * bytes: it must accept it or refuse it with -EBADMSG or -EPROTO and a
 * message; ASan/UBSan catch anything else.  A frame that the reader of its
 * own type accepts must come out of that type's writer byte for byte (the
 * reserved words some readers leave unchecked aside), so reader and writer
 * speak one grammar.
 *
 * Built two ways (see the Makefile):
 *  - with libFuzzer (make fuzz, clang -fsanitize=fuzzer): explore;
 *  - as a plain program that replays a corpus directory and, for each
 *    file, a fixed set of deterministic mutations (truncations, bit
 *    flips, length-field edits) — this is what make check runs.
 *
 * "test_fuzz_wire --make-corpus DIR" writes the generated seeds of
 * selftests/fuzz/corpus/wire (go, started, iter_end_pass2, ...: see
 * make_corpus()), each frame made by its writer; the other seeds there
 * came with the first version of this target.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../user/lib/wire.h"
#include "fuzz.h"

/* A refusal is -EBADMSG or -EPROTO with a message; nothing else. */
static int checked(int r, const char *err)
{
	if (r && ((r != -EBADMSG && r != -EPROTO) || !err[0]))
		abort();
	return r;
}

/* A writer's bytes must be the payload its reader accepted. */
static void same(const void *a, const void *b, size_t n)
{
	if (memcmp(a, b, n))
		abort();
}

static void fuzz_hello(const struct wire_hdr *h, const uint8_t *p, bool own)
{
	static struct wire_hello hello;
	static uint8_t b[WIRE_HELLO_FIXED + WIRE_MAX_SLOTS * WIRE_HELLO_SLOT];
	char err[512] = "";

	if (checked(wire_get_hello(p, h->len, &hello, err, sizeof(err)), err) || !own)
		return;
	if (wire_hello_size(&hello) != h->len)
		abort();
	wire_put_hello(b, &hello);
	same(b, p, h->len);
}

static void fuzz_pages(const struct wire_hdr *h, const uint8_t *p, bool own)
{
	struct wire_pages_writer w;
	struct wire_pages_iter it;
	struct wire_page pg;
	char err[512] = "";
	uint8_t *b = NULL;
	int r;

	if (checked(wire_pages_begin(&it, p, h->len, err, sizeof(err)), err))
		return;
	if (own) {
		b = malloc(h->len);
		if (!b)
			abort();
		wire_pages_start(&w, b, h->len);
	}
	while ((r = wire_pages_next(&it, &pg, err, sizeof(err))) > 0) {
		/* the data the reader vouched for is inside the payload */
		if (pg.len && (pg.data < p || pg.data + pg.len > p + h->len))
			abort();
		if (b && wire_pages_add(&w, &pg))
			abort();
	}
	if (!checked(r, err) && b) {
		if (wire_pages_finish(&w, it.iteration) != h->len)
			abort();
		same(b, p, h->len);
	}
	free(b);
}

static void fuzz_hello_ack(const struct wire_hdr *h, const uint8_t *p, bool own)
{
	struct wire_hello_ack a;
	uint8_t b[WIRE_HELLO_ACK_SIZE];
	char err[512] = "";

	if (checked(wire_get_hello_ack(h, p, &a, err, sizeof(err)), err) || !own)
		return;
	wire_put_hello_ack(b, &a);
	same(b + 4, p + 4, 4);		/* bytes 0..3: reserved, not checked */
}

/* The first frame of a new connection may be anything: CHANNEL's reader. */
static void fuzz_channel(const struct wire_hdr *h, const uint8_t *p)
{
	struct wire_channel c = { 0 };
	uint8_t b[WIRE_CHANNEL_SIZE];
	char err[512] = "";
	int r;

	r = wire_get_channel(h, p, 0x1234, WIRE_MAX_CHANNELS, 1, &c, err,
			     sizeof(err));
	if (checked(r, err) && c.session != 0x1234 && h->type == WIRE_CHANNEL &&
	    h->len == WIRE_CHANNEL_SIZE) {
		/* another session: as this migration's, to reach the index */
		err[0] = 0;
		r = wire_get_channel(h, p, c.session, WIRE_MAX_CHANNELS, 1, &c,
				     err, sizeof(err));
	}
	if (checked(r, err))
		return;
	wire_put_channel(b, &c);
	same(b, p, sizeof(b));
}

/* ITER_END's and END's readers, on one payload. */
static void fuzz_end(const struct wire_hdr *h, const uint8_t *p)
{
	struct wire_end e = { 0 };
	uint8_t b[WIRE_END_SIZE];
	char err[512] = "";
	int r;

	/* in pass 0, then in the pass it names, to reach the later fields */
	r = wire_get_iter_end(h, p, 0, &e, err, sizeof(err));
	if (r == -EPROTO) {
		err[0] = 0;
		r = wire_get_iter_end(h, p, e.iteration, &e, err, sizeof(err));
	}
	if (!checked(r, err) && h->type == WIRE_ITER_END) {
		wire_put_end(b, &e);
		same(b, p, sizeof(b));
	}
	err[0] = 0;
	r = wire_get_end(h, p, 0, &e, err, sizeof(err));
	if (r == -EPROTO) {
		err[0] = 0;
		r = wire_get_end(h, p, e.iteration, &e, err, sizeof(err));
	}
	if (!checked(r, err) && h->type == WIRE_END) {
		wire_put_end(b, &e);
		same(b, p, sizeof(b));
	}
}

static void fuzz_device_state(const struct wire_hdr *h, const uint8_t *p,
			      bool own)
{
	struct wire_device_state ds, ds2;
	char err[512] = "";

	if (checked(wire_get_device_state(h, p, &ds, err, sizeof(err)), err) ||
	    !own)
		return;
	/* the payload is the text: the writer takes it as it is */
	if (wire_put_device_state(&ds2, ds.json, ds.len) || ds2.len != h->len ||
	    (const uint8_t *)ds2.json != p)
		abort();
}

static void fuzz_verify(const struct wire_hdr *h, const uint8_t *p, bool own)
{
	struct wire_verify v;
	char err[512] = "";
	uint64_t sum = 0;
	uint32_t i, hashes;
	uint8_t *b;

	if (checked(wire_get_verify(h, p, &v, err, sizeof(err)), err))
		return;
	/* a zero range has a count but no hashes */
	hashes = v.flags & WIRE_VERIFY_ZERO ? 0 : v.count;
	if (!own) {
		for (i = 0; i < hashes; i++)	/* every hash inside the payload */
			sum += wire_verify_hash(&v, i);
		(void)sum;
		return;
	}
	b = malloc(h->len);
	if (!b || wire_put_verify(b, &v) != h->len)
		abort();
	for (i = 0; i < hashes; i++)
		wire_put_verify_hash(b, i, wire_verify_hash(&v, i));
	same(b, p, h->len);
	free(b);
}

static void fuzz_complete(const struct wire_hdr *h, const uint8_t *p, bool own)
{
	struct wire_complete c;
	uint8_t b[WIRE_COMPLETE_SIZE];
	char err[512] = "";

	if (checked(wire_get_complete(h, p, &c, err, sizeof(err)), err) || !own)
		return;
	wire_put_complete(b, &c);
	same(b, p, 4);			/* bytes 4..7: reserved, not checked */
	same(b + 8, p + 8, 16);
}

static void fuzz_error(const struct wire_hdr *h, const uint8_t *p, bool own)
{
	uint8_t b[WIRE_ERROR_FIXED + WIRE_MAX_ERROR_MSG];
	struct wire_error e;
	char err[512] = "";

	if (checked(wire_get_error(h, p, &e, err, sizeof(err)), err) || !own)
		return;
	memcpy(b + wire_put_error(b, &e), e.msg, e.len);
	same(b, p, h->len);
}

/* After COMPLETE the destination waits for GO: any frame may come. */
static void fuzz_go(const struct wire_hdr *h, const uint8_t *p)
{
	char err[512] = "";

	checked(wire_get_go(h, p, err, sizeof(err)), err);
}

static void fuzz_started(const struct wire_hdr *h, const uint8_t *p, bool own)
{
	struct wire_started s;
	uint8_t b[WIRE_STARTED_SIZE];
	char err[512] = "";

	if (checked(wire_get_started(h, p, &s, err, sizeof(err)), err) || !own)
		return;
	wire_put_started(b, &s);
	same(b, p, 4);			/* bytes 4..7: reserved, not checked */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_hdr h;
	char err[512];

	if (size < WIRE_HDR_SIZE)
		return 0;
	if (wire_get_hdr(data, &h, err, sizeof(err)))
		return 0;
	if (h.len > size - WIRE_HDR_SIZE)
		return 0;	/* a real reader would wait for more bytes */
	data += WIRE_HDR_SIZE;
	fuzz_hello(&h, data, h.type == WIRE_HELLO);
	fuzz_hello_ack(&h, data, h.type == WIRE_HELLO_ACK);
	fuzz_channel(&h, data);
	fuzz_pages(&h, data, h.type == WIRE_PAGES);
	fuzz_end(&h, data);
	fuzz_device_state(&h, data, h.type == WIRE_DEVICE_STATE);
	fuzz_verify(&h, data, h.type == WIRE_VERIFY);
	fuzz_complete(&h, data, h.type == WIRE_COMPLETE);
	fuzz_error(&h, data, h.type == WIRE_ERROR);
	fuzz_go(&h, data);
	fuzz_started(&h, data, h.type == WIRE_STARTED);
	return 0;
}

#ifndef KVMIG_LIBFUZZER
/* One frame, header and payload, into DIR/NAME. */
static int seed(const char *dir, const char *name, uint8_t type,
		uint16_t channel, uint64_t seq, const void *p, uint32_t len)
{
	struct wire_hdr h = { .type = type, .channel = channel, .len = len,
			      .seq = seq };
	uint8_t hdr[WIRE_HDR_SIZE];
	char path[512];
	FILE *f;

	wire_put_hdr(hdr, &h);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
	    fwrite(p, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "fuzz_wire: writing %s failed\n", path);
		return 1;
	}
	return 0;
}

/*
 * Frames the first seeds lack or do not get past every check: GO and
 * STARTED, an ITER_END whose frames is its seq, PAGES with every encoding
 * (a zero run too), a VERIFY zero range,
 * the largest channel index, HELLO with verification, a full ERROR.
 */
static int make_corpus(const char *dir)
{
	/* zlen 10, nzlen 4, "ABCD" (migration-stream.rst, "XBZRLE") */
	static const uint8_t xb[] = { 0x0a, 0x04, 'A', 'B', 'C', 'D' };
	static uint8_t pages[8 * (WIRE_PAGE_ENTRY_HDR + WIRE_PAGE_SIZE)];
	static uint8_t hb[WIRE_HELLO_FIXED + 3 * WIRE_HELLO_SLOT];
	static struct wire_hello hello;
	uint8_t b[WIRE_ERROR_FIXED + WIRE_MAX_ERROR_MSG], page[WIRE_PAGE_SIZE];
	struct wire_pages_writer w;
	char msg[WIRE_MAX_ERROR_MSG];
	unsigned int i;
	int r = 0;

	wire_put_go(b);
	r |= seed(dir, "go", WIRE_GO, 0, 11, b, WIRE_GO_SIZE);
	wire_put_started(b, &(struct wire_started){ .status = EIO });
	r |= seed(dir, "started_eio", WIRE_STARTED, 0, 2, b, WIRE_STARTED_SIZE);
	wire_put_end(b, &(struct wire_end){ .iteration = 2, .frames = 7 });
	r |= seed(dir, "iter_end_pass2", WIRE_ITER_END, 1, 7, b, WIRE_END_SIZE);
	wire_put_end(b, &(struct wire_end){ .iteration = 3, .frames = 8 });
	r |= seed(dir, "end_after3", WIRE_END, 1, 8, b, WIRE_END_SIZE);
	wire_put_channel(b, &(struct wire_channel){ .session = 0x1234,
						    .index = WIRE_MAX_CHANNELS - 1 });
	r |= seed(dir, "channel_63", WIRE_CHANNEL, WIRE_MAX_CHANNELS - 1, 0, b,
		  WIRE_CHANNEL_SIZE);
	wire_put_hello_ack(b, &(struct wire_hello_ack){ .codecs = WIRE_CODECS_ALL });
	r |= seed(dir, "hello_ack_all", WIRE_HELLO_ACK, 0, 0, b, WIRE_HELLO_ACK_SIZE);
	wire_put_complete(b, &(struct wire_complete){
		.status = EIO, .verify_pages = 16384, .mismatches = 3 });
	r |= seed(dir, "complete_eio", WIRE_COMPLETE, 0, 1, b, WIRE_COMPLETE_SIZE);
	r |= seed(dir, "device_state_empty", WIRE_DEVICE_STATE, 0, 8, "", 0);
	r |= seed(dir, "verify_zero_range", WIRE_VERIFY, 0, 9, b, wire_put_verify(b,
		  &(struct wire_verify){ .first = 512, .count = 1 << 20,
					 .flags = WIRE_VERIFY_ZERO }));
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = "the destination refused "[i % 24];
	memcpy(b + wire_put_error(b, &(struct wire_error){
		.code = EPROTO, .len = sizeof(msg), .msg = msg }), msg, sizeof(msg));
	r |= seed(dir, "error_longest", WIRE_ERROR, 0, 3, b,
		  WIRE_ERROR_FIXED + sizeof(msg));

	hello.page_size = WIRE_PAGE_SIZE;
	hello.nr_slots = 3;
	hello.nr_channels = WIRE_MAX_CHANNELS;
	hello.session = 0x1234;
	hello.codecs = WIRE_CODECS_ALL;
	hello.flags = WIRE_HELLO_VERIFY;
	hello.slots[0] = (struct wire_slot){ 0, 0, 640 << 10 };
	hello.slots[1] = (struct wire_slot){ 1, 1 << 20, 15 << 20 };
	hello.slots[2] = (struct wire_slot){ 4, 1ULL << 32, 1 << 20 };
	hello.ram_bytes = (640 << 10) + (15 << 20) + (1 << 20);
	wire_put_hello(hb, &hello);
	r |= seed(dir, "hello_3slots_verify", WIRE_HELLO, 0, 0, hb,
		  (uint32_t)wire_hello_size(&hello));

	/* the data of compressed entries is not the reader's to check */
	for (i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 2654435761U >> 24);
	wire_pages_start(&w, pages, sizeof(pages));
	r |= wire_pages_add(&w, &(struct wire_page){ 0x100000, WIRE_ENC_ZERO, 0, NULL, 1 });
	r |= wire_pages_add(&w, &(struct wire_page){ 0x101000, WIRE_ENC_RAW,
						     WIRE_PAGE_SIZE, page, 1 });
	r |= wire_pages_add(&w, &(struct wire_page){ 0x102000, WIRE_ENC_ZLIB, 1, page, 1 });
	r |= wire_pages_add(&w, &(struct wire_page){ 0x103000, WIRE_ENC_ZSTD, 40, page, 1 });
	r |= wire_pages_add(&w, &(struct wire_page){ 0x104000, WIRE_ENC_LZ4,
						     WIRE_PAGE_SIZE - 1, page, 1 });
	r |= wire_pages_add(&w, &(struct wire_page){ 0x105000, WIRE_ENC_XBZRLE,
						     0, NULL, 1 });
	r |= wire_pages_add(&w, &(struct wire_page){ 0x106000, WIRE_ENC_XBZRLE,
						     sizeof(xb), xb, 1 });
	r |= wire_pages_add(&w, &(struct wire_page){ 0x200000, WIRE_ENC_ZERO_RUN,
						     8, NULL, 256 });
	r |= seed(dir, "pages_every_encoding", WIRE_PAGES, 2, 5, pages,
		  wire_pages_finish(&w, 1));
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--make-corpus"))
		return make_corpus(argv[2]);
	return fuzz_replay_main(argc, argv, "fuzz_wire", CORPUS_DIR "/wire");
}
#endif
