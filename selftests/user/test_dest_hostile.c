// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile or broken source, played by hand over real sockets against
 * kvmig_incoming() and a kvmig-vm --incoming: each refusal names what was
 * wrong (Documentation/migration-stream.rst, "Validation on the
 * destination"), comes with the documented errno, and leaves the
 * destination VMM waiting for a migration, its guest never run.
 *
 *  - ITER_END: a wrong length, iteration, reserved field or frames count,
 *    each refused by its own name;
 *  - XBZRLE in pass 0 is refused before it writes a byte (the page is
 *    unchanged); in pass 1 the same entry is applied;
 *  - while channels 1..n-1 connect, channel 0 closing, carrying an ERROR,
 *    a broken header or a frame with no place in a pass ends the wait at
 *    once, naming the channels still missing; pages there (a source that
 *    started its pass) do not, but a close after them still does;
 *  - channels that never connect are named as missing;
 *  - when nothing comes for the timeout, the silent channels are named
 *    (not one that waits at the barrier), a channel that ended before a
 *    pass is named at once, and a frame that stalls or is cut in its
 *    payload is named (type, seq, channel, bytes), even when another
 *    channel is silent too.
 */
#include <netdb.h>
#include <pthread.h>
#include <unistd.h>

#include <kvmig/kvmig.h>

#include "harness.h"
#include "../../user/lib/chan.h"

/*
 * The destination's idle timeout: TIMEOUT_MS where the case is about what
 * a silence is called, PATIENT_MS where the refusal must come at once.
 * "At once" is asserted as under half of PATIENT_MS, which a loaded
 * machine (ASan, TSan, make check-stress) still meets, and a destination
 * that waited for its timeout instead never does.  A silence must be named
 * within 10 timeouts: late, but not never.
 */
#define TIMEOUT_MS	1000
#define PATIENT_MS	20000
#define AT_ONCE_MS	(PATIENT_MS / 2)
#define SILENCE_MS	(10 * TIMEOUT_MS)

static const char *const vm_args[] = {
	"--vcpus", "1", "--mem", "32M", "--incoming", NULL,
};

static struct test_vm vm;
static struct kvmig_memmap *map;	/* the destination's RAM, as the test sees it */

/* kvmig_incoming() on its own thread, as kvmig incoming runs it */
struct dest_run {
	pthread_t thread;
	struct kvmig_vmm *vmm;
	uint32_t timeout_ms;	/* kvmig_incoming's timeout_ms */
	int ready[2];		/* a byte once it listens */
	char port[NI_MAXSERV];
	uint64_t t0;
	uint64_t ms;		/* how long kvmig_incoming() took */
	int r;
	struct kvmig_migration_stats st;
};

static int on_listening(const char *host, const char *port, void *opaque)
{
	struct dest_run *dr = opaque;

	(void)host;
	snprintf(dr->port, sizeof(dr->port), "%s", port);
	return write(dr->ready[1], "", 1) == 1 ? 0 : -EIO;
}

static void *dest_main(void *arg)
{
	struct dest_run *dr = arg;
	struct kvmig_incoming_opts o = {
		.sz = sizeof(o), .timeout_ms = dr->timeout_ms, .no_start = true,
		.listening = on_listening, .listening_opaque = dr,
	};

	dr->st.sz = sizeof(dr->st);
	dr->t0 = test_now_ns();
	dr->r = kvmig_incoming(dr->vmm, "127.0.0.1", "0", &o, &dr->st);
	dr->ms = (test_now_ns() - dr->t0) / 1000000;
	return NULL;
}

static void dest_start(struct dest_run *dr, uint32_t timeout_ms)
{
	char c;

	memset(dr, 0, sizeof(*dr));
	dr->timeout_ms = timeout_ms;
	dr->vmm = kvmig_vmm_connect(vm.sock, NULL);
	TEST_ASSERT(dr->vmm, "connecting to the VMM");
	TEST_ASSERT(!pipe(dr->ready), "pipe");
	TEST_ASSERT(!pthread_create(&dr->thread, NULL, dest_main, dr), "thread");
	TEST_ASSERT(read(dr->ready[0], &c, 1) == 1, "kvmig_incoming never listened");
}

static void dest_wait(struct dest_run *dr)
{
	pthread_join(dr->thread, NULL);
	close(dr->ready[0]);
	close(dr->ready[1]);
	kvmig_vmm_close(dr->vmm);
}

/* the hand-played source: channels, each with its own sequence numbers */
struct source {
	struct chan ch[WIRE_MAX_CHANNELS];
	uint16_t nr;
	uint64_t session;
};

static void src_open(struct source *s, const struct dest_run *dr, uint16_t i)
{
	char err[256];
	int fd = tcp_connect("127.0.0.1", dr->port, 5000, err, sizeof(err));

	TEST_ASSERT(fd >= 0 && !chan_init(&s->ch[i], fd, i, 5000),
		    "channel %u: %s", i, err);
}

/*
 * Channel 0, HELLO for this VM's RAM, @nr channels, the encodings @codecs
 * and @flags, then HELLO_ACK.
 */
static void src_hello_with(struct source *s, const struct dest_run *dr,
			   uint16_t nr, uint32_t codecs, uint32_t flags)
{
	struct wire_hello *h = calloc(1, sizeof(*h));
	uint8_t *b = calloc(1, WIRE_HELLO_FIXED + WIRE_MAX_SLOTS * WIRE_HELLO_SLOT);
	struct wire_hdr hdr;
	char err[256];
	unsigned int i;

	TEST_ASSERT(h && b, "out of memory");
	memset(s, 0, sizeof(*s));
	for (i = 0; i < WIRE_MAX_CHANNELS; i++)
		s->ch[i].fd = -1;
	s->nr = nr;
	s->session = test_now_ns();
	h->page_size = WIRE_PAGE_SIZE;
	h->nr_slots = (uint16_t)kvmig_memmap_nr_slots(map);
	h->nr_channels = nr;
	h->session = s->session;
	h->codecs = codecs;
	h->flags = flags;
	for (i = 0; i < h->nr_slots; i++) {
		const struct kvmig_slot *sl = kvmig_memmap_slot(map, i);

		h->slots[i] = (struct wire_slot){ sl->id, sl->gpa, sl->size };
		h->ram_bytes += sl->size;
	}
	wire_put_hello(b, h);
	src_open(s, dr, 0);
	TEST_ASSERT(!chan_send(&s->ch[0], WIRE_HELLO, b, (uint32_t)wire_hello_size(h),
			       NULL, 0), "sending HELLO");
	TEST_ASSERT(!chan_recv(&s->ch[0], &hdr, err, sizeof(err)) &&
		    hdr.type == WIRE_HELLO_ACK, "HELLO_ACK: %s", err);
	free(b);
	free(h);
}

/* ... every encoding, no verification */
static void src_hello(struct source *s, const struct dest_run *dr, uint16_t nr)
{
	src_hello_with(s, dr, nr, WIRE_CODECS_ALL, 0);
}

/* Channel @i: connect and send CHANNEL. */
static void src_channel(struct source *s, const struct dest_run *dr, uint16_t i)
{
	uint8_t p[16] = { 0 };

	src_open(s, dr, i);
	put_u64(p, s->session);
	put_u16(p + 8, i);
	TEST_ASSERT(!chan_send(&s->ch[i], WIRE_CHANNEL, p, sizeof(p), NULL, 0),
		    "sending CHANNEL %u", i);
}

static void src_close(struct source *s)
{
	unsigned int i;

	for (i = 0; i < WIRE_MAX_CHANNELS; i++)
		if (s->ch[i].rx)
			chan_fini(&s->ch[i]);
}

/* ITER_END as a source sends it, or broken in one field */
static void src_iter_end(struct chan *c, uint32_t len, uint32_t iteration,
			 uint32_t reserved, uint64_t frames)
{
	uint8_t p[24] = { 0 };

	put_u32(p, iteration);
	put_u32(p + 4, reserved);
	put_u64(p + 8, frames);
	TEST_ASSERT(!chan_send(c, WIRE_ITER_END, p, len, NULL, 0), "sending ITER_END");
}

/* One PAGES frame of one entry. */
static void src_page(struct chan *c, uint32_t iteration, uint64_t gpa, uint8_t enc,
		     const void *data, uint32_t len)
{
	uint8_t *p = calloc(1, WIRE_PAGES_FIXED + WIRE_PAGE_ENTRY_HDR + len);

	TEST_ASSERT(p, "out of memory");
	put_u32(p, 1);
	put_u32(p + 4, iteration);
	put_u64(p + 8, gpa);
	p[16] = enc;
	put_u32(p + 20, len);
	memcpy(p + 24, data, len);
	TEST_ASSERT(!chan_send(c, WIRE_PAGES, p, WIRE_PAGES_FIXED +
			       WIRE_PAGE_ENTRY_HDR + len, NULL, 0), "sending PAGES");
	free(p);
}

static void src_error(struct chan *c, const char *msg)
{
	TEST_ASSERT(!chan_send_error(c, EPROTO, msg), "sending ERROR");
}

/*
 * The destination refused with @err and a message containing @msg,
 * within @max_ms, and its VMM still waits for a migration.
 */
static bool refused(struct dest_run *dr, int err, const char *msg,
		    uint64_t max_ms, const char *what)
{
	bool ok = dr->r == -err && strstr(dr->st.error, msg) && dr->ms <= max_ms &&
		  test_vm_waits_incoming(&vm);

	ksft_test_result(ok, "%s: refused (%s) in %llu ms: '%s'", what,
			 strerror(err), (unsigned long long)dr->ms, dr->st.error);
	if (!ok)
		ksft_print_msg("got %d (%s) after %llu ms (at most %llu): '%s'; "
			       "expected '%s'; the VMM is '%s'\n", dr->r,
			       strerror(-dr->r), (unsigned long long)dr->ms,
			       (unsigned long long)max_ms, dr->st.error, msg,
			       test_vm_status(&vm));
	return ok;
}

/* one channel, then ITER_END broken in one field */
static void test_iter_end(uint32_t len, uint32_t iteration, uint32_t reserved,
			  uint64_t frames, int err, const char *msg, const char *what)
{
	struct dest_run dr;
	struct source s;

	dest_start(&dr, PATIENT_MS);
	src_hello(&s, &dr, 1);
	src_iter_end(&s.ch[0], len, iteration, reserved, frames);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, err, msg, AT_ONCE_MS, what);
}

static void test_iter_end_fields(void)
{
	/* HELLO was seq 0: this ITER_END is channel 0's frame 1 */
	test_iter_end(8, 0, 0, 1, EBADMSG, "ITER_END frame seq 1 on channel 0: "
		      "8 bytes, expected 16", "ITER_END of 8 bytes");
	test_iter_end(16, 1, 0, 1, EPROTO, "ITER_END frame seq 1 on channel 0: "
		      "iteration 1, the channel is in pass 0",
		      "ITER_END for the wrong pass");
	test_iter_end(16, 0, 5, 1, EBADMSG, "ITER_END frame seq 1 on channel 0: "
		      "reserved field is 0x5, must be 0",
		      "ITER_END with its reserved field set");
	test_iter_end(16, 0, 0, 7, EBADMSG, "ITER_END frame seq 1 on channel 0: "
		      "frames 7, but it is the channel's frame 1",
		      "ITER_END with a wrong frames count");
}

/* zlen 10, nzlen 4, "ABCD" (Documentation/migration-stream.rst, "XBZRLE") */
static const uint8_t xb[] = { 0x0a, 0x04, 'A', 'B', 'C', 'D' };

static void test_xbzrle_pass0(void)
{
	const struct kvmig_slot *sl = kvmig_memmap_slot(map, 0);
	uint64_t gpa = sl->gpa + 16 * WIRE_PAGE_SIZE;
	uint8_t *hva = kvmig_memmap_gpa_to_hva(map, gpa, WIRE_PAGE_SIZE);
	uint8_t before[WIRE_PAGE_SIZE], page[WIRE_PAGE_SIZE];
	struct dest_run dr;
	struct source s;
	uint64_t rng = 42;
	bool ok;

	TEST_ASSERT(hva, "gpa 0x%llx", (unsigned long long)gpa);
	memcpy(before, hva, sizeof(before));
	dest_start(&dr, PATIENT_MS);
	src_hello(&s, &dr, 1);
	src_page(&s.ch[0], 0, gpa, WIRE_ENC_XBZRLE, xb, sizeof(xb));
	dest_wait(&dr);
	src_close(&s);
	ok = refused(&dr, EPROTO, "PAGES frame seq 1 on channel 0: entry 0 (gpa ",
		     AT_ONCE_MS, "XBZRLE in pass 0") &&
	     strstr(dr.st.error, "): xbzrle in pass 0, which carries every page whole");
	ksft_test_result(ok && !memcmp(before, hva, sizeof(before)),
			 "XBZRLE in pass 0: named as such, the page untouched");

	/* the same entry in pass 1, on the page pass 0 sent: applied */
	test_fill_random(page, sizeof(page), &rng);
	dest_start(&dr, PATIENT_MS);
	src_hello(&s, &dr, 1);
	src_page(&s.ch[0], 0, gpa, WIRE_ENC_RAW, page, sizeof(page));
	src_iter_end(&s.ch[0], 16, 0, 0, s.ch[0].tx_seq);
	src_page(&s.ch[0], 1, gpa, WIRE_ENC_XBZRLE, xb, sizeof(xb));
	src_error(&s.ch[0], "enough");
	dest_wait(&dr);
	src_close(&s);
	memcpy(page + 10, "ABCD", 4);
	refused(&dr, EPROTO, "the source gave up: enough", AT_ONCE_MS,
		"XBZRLE in pass 1 goes through to the source's ERROR");
	ksft_test_result(!memcmp(page, hva, sizeof(page)),
			 "XBZRLE in pass 1: applied to the page pass 0 sent");
}

/* a PAGES frame of one zero run of @pages pages from @gpa */
static void src_zero_run(struct chan *c, uint32_t iteration, uint64_t gpa,
			 uint64_t pages)
{
	uint8_t n[8];

	put_u64(n, pages);
	src_page(c, iteration, gpa, WIRE_ENC_ZERO_RUN, n, sizeof(n));
}

/*
 * Zero runs: one that leaves its slot is refused before a byte is zeroed;
 * one inside is applied; neither a zero run nor a VERIFY zero range is
 * taken from a source whose HELLO did not announce zero runs.
 */
static void test_zero_runs(void)
{
	const struct kvmig_slot *sl = kvmig_memmap_slot(map, 0);
	uint64_t last = sl->gpa + sl->size - WIRE_PAGE_SIZE;
	uint64_t gpa = sl->gpa + 32 * WIRE_PAGE_SIZE;
	uint8_t *hva = kvmig_memmap_gpa_to_hva(map, gpa, WIRE_PAGE_SIZE);
	uint8_t *lhva = kvmig_memmap_gpa_to_hva(map, last, WIRE_PAGE_SIZE);
	static const uint8_t zero[WIRE_PAGE_SIZE];
	uint8_t page[WIRE_PAGE_SIZE], p[WIRE_VERIFY_FIXED];
	const uint32_t no_runs = WIRE_CODECS_ALL & ~(1U << WIRE_ENC_ZERO_RUN);
	struct dest_run dr;
	struct source s;
	uint64_t rng = 7;

	TEST_ASSERT(hva && lhva, "gpa 0x%llx", (unsigned long long)gpa);
	/* the last page holds data: a run from it past the slot must not zero it */
	test_fill_random(page, sizeof(page), &rng);
	dest_start(&dr, PATIENT_MS);
	src_hello(&s, &dr, 1);
	src_page(&s.ch[0], 0, last, WIRE_ENC_RAW, page, sizeof(page));
	src_zero_run(&s.ch[0], 0, last, 2);
	dest_wait(&dr);
	src_close(&s);
	ksft_test_result(refused(&dr, EFAULT, "entry 0: a zero run of 2 pages from "
				 "gpa ", AT_ONCE_MS, "a zero run past its slot") &&
			 !memcmp(lhva, page, sizeof(page)),
			 "a zero run past its slot: its first page kept");

	/* pass 0 puts data there, pass 1's run zeroes it and its neighbours */
	dest_start(&dr, PATIENT_MS);
	src_hello(&s, &dr, 1);
	src_page(&s.ch[0], 0, gpa, WIRE_ENC_RAW, page, sizeof(page));
	src_iter_end(&s.ch[0], 16, 0, 0, s.ch[0].tx_seq);
	src_zero_run(&s.ch[0], 1, gpa - 4 * WIRE_PAGE_SIZE, 9);
	src_error(&s.ch[0], "enough");
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, EPROTO, "the source gave up: enough", AT_ONCE_MS,
		"a zero run goes through to the source's ERROR");
	ksft_test_result(!memcmp(hva, zero, sizeof(zero)),
			 "a zero run: the page pass 0 sent is zero");

	dest_start(&dr, PATIENT_MS);
	src_hello_with(&s, &dr, 1, no_runs, 0);
	src_zero_run(&s.ch[0], 0, gpa, 4);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, EPROTO, "entry 0: encoding zero-run was not announced in HELLO",
		AT_ONCE_MS, "a zero run a HELLO did not announce");

	dest_start(&dr, PATIENT_MS);
	src_hello_with(&s, &dr, 1, no_runs, WIRE_HELLO_VERIFY);
	wire_put_verify(p, &(struct wire_verify){ .first = 0, .count = 16,
						  .flags = WIRE_VERIFY_ZERO });
	TEST_ASSERT(!chan_send(&s.ch[0], WIRE_VERIFY, p, sizeof(p), NULL, 0),
		    "sending VERIFY");
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, EPROTO, "a zero range, but HELLO did not announce zero runs",
		AT_ONCE_MS, "a VERIFY zero range a HELLO did not announce");
}

/* two channels; channel 0 does @what before channel 1 connects */
enum ch0_act { CH0_ERROR, CH0_HELLO, CH0_TEXT, CH0_CLOSE, CH0_PAGES_CLOSE,
	       CH0_PAGES };

static void test_channel0(enum ch0_act act, int err, const char *msg,
			  const char *what)
{
	static const char text[] = "GET / HTTP/1.1\r\nHost: kvmig\r\n";
	static const uint8_t zero[1];
	struct dest_run dr;
	struct source s;

	dest_start(&dr, PATIENT_MS);
	src_hello(&s, &dr, 2);
	switch (act) {
	case CH0_ERROR:
		src_error(&s.ch[0], "no channel 1 today");
		break;
	case CH0_HELLO:
		TEST_ASSERT(!chan_send(&s.ch[0], WIRE_HELLO, NULL, 0, NULL, 0), "HELLO");
		break;
	case CH0_TEXT:
		TEST_ASSERT(write(s.ch[0].fd, text, sizeof(text) - 1) ==
			    sizeof(text) - 1, "text");
		break;
	case CH0_CLOSE:
		chan_fini(&s.ch[0]);
		break;
	case CH0_PAGES_CLOSE:
		src_page(&s.ch[0], 0, kvmig_memmap_slot(map, 0)->gpa, WIRE_ENC_ZERO, zero, 0);
		/*
		 * Most likely the destination takes the pages before the
		 * close: the path under test.  Not a wait: the refusal is the
		 * same in either order.
		 */
		msleep(100);
		chan_fini(&s.ch[0]);
		break;
	case CH0_PAGES:
		/* a source whose connects returned before they were accepted */
		src_page(&s.ch[0], 0, kvmig_memmap_slot(map, 0)->gpa, WIRE_ENC_ZERO, zero, 0);
		msleep(100);	/* the same: ordering for coverage, not a wait */
		src_channel(&s, &dr, 1);
		src_error(&s.ch[0], "enough");
		break;
	}
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, err, msg, AT_ONCE_MS, what);
}

static void test_handshake(void)
{
	struct dest_run dr;
	struct source s;

	test_channel0(CH0_ERROR, EPROTO, "the source gave up while channel 1 was "
		      "still to connect: no channel 1 today",
		      "an ERROR on channel 0 while channel 1 connects");
	test_channel0(CH0_HELLO, EPROTO, "HELLO frame seq 1 on channel 0: not "
		      "expected while channel 1 was still to connect",
		      "a second HELLO on channel 0 while channel 1 connects");
	test_channel0(CH0_TEXT, EBADMSG, "channel 0, while channel 1 was still to "
		      "connect: frame header: magic 0x20544547 is not KVMF",
		      "text on channel 0 while channel 1 connects");
	test_channel0(CH0_CLOSE, ECONNRESET, "channel 0 closed by the source while "
		      "channel 1 was still to connect",
		      "channel 0 closed while channel 1 connects");
	test_channel0(CH0_PAGES_CLOSE, ECONNRESET, "channel 0 closed by the source "
		      "while channel 1 was still to connect",
		      "channel 0 closed after pages while channel 1 connects");
	test_channel0(CH0_PAGES, EPROTO, "the source gave up: enough",
		      "pages on channel 0 before channel 1 connects are no refusal");

	/* four channels, only channel 1 comes */
	dest_start(&dr, TIMEOUT_MS);
	src_hello(&s, &dr, 4);
	src_channel(&s, &dr, 1);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ETIMEDOUT, "waiting for the source's channels: channels 2-3 "
		"missing (2 of 4 connected): Connection timed out",
		SILENCE_MS, "channels that never connect are named");
}

/* A PAGES frame of one raw page, cut after @part payload bytes. */
static void src_page_part(struct chan *c, uint32_t part)
{
	uint8_t b[WIRE_HDR_SIZE + 64] = { 0 };
	struct wire_hdr h = {
		.type = WIRE_PAGES, .channel = c->index, .seq = c->tx_seq++,
		.len = WIRE_PAGES_FIXED + WIRE_PAGE_ENTRY_HDR + WIRE_PAGE_SIZE,
	};
	uint8_t *p = b + WIRE_HDR_SIZE;

	wire_put_hdr(b, &h);
	put_u32(p, 1);
	put_u64(p + 8, kvmig_memmap_slot(map, 0)->gpa);
	p[16] = WIRE_ENC_RAW;
	put_u32(p + 20, WIRE_PAGE_SIZE);
	TEST_ASSERT(part <= sizeof(b) - WIRE_HDR_SIZE &&
		    write(c->fd, b, WIRE_HDR_SIZE + part) == WIRE_HDR_SIZE + part,
		    "a cut PAGES frame");
}

static void test_silence(void)
{
	struct dest_run dr;
	struct source s;

	/* channel 0 ends pass 0 and waits for channel 1, which is silent */
	dest_start(&dr, TIMEOUT_MS);
	src_hello(&s, &dr, 2);
	src_channel(&s, &dr, 1);
	src_iter_end(&s.ch[0], 16, 0, 0, s.ch[0].tx_seq);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ETIMEDOUT, "no data from the source for 1000 ms: channel 1 "
		"silent in pass 0 (channel 0 waits at its end)", SILENCE_MS,
		"a channel silent while another waits at the barrier is named");

	/* both silent */
	dest_start(&dr, TIMEOUT_MS);
	src_hello(&s, &dr, 2);
	src_channel(&s, &dr, 1);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ETIMEDOUT, "no data from the source for 1000 ms: channels "
		"0-1 silent in pass 0", SILENCE_MS,
		"every channel silent: all named");

	/* channel 1 ends after pass 0, channel 0 carries pass 1 */
	dest_start(&dr, PATIENT_MS);
	src_hello(&s, &dr, 2);
	src_channel(&s, &dr, 1);
	src_iter_end(&s.ch[1], 16, 0, 0, s.ch[1].tx_seq);
	{
		uint8_t p[16] = { 0 };

		put_u32(p, 1);
		put_u64(p + 8, s.ch[1].tx_seq);
		TEST_ASSERT(!chan_send(&s.ch[1], WIRE_END, p, 16, NULL, 0), "END");
	}
	src_iter_end(&s.ch[0], 16, 0, 0, s.ch[0].tx_seq);
	src_iter_end(&s.ch[0], 16, 1, 0, s.ch[0].tx_seq);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, EPROTO, "channel 1 ended after 1 pass, but channel 0 carried "
		"pass 1", AT_ONCE_MS, "a channel that ended before a pass is "
		"named at once");

	/* a frame that stalls in its payload */
	dest_start(&dr, TIMEOUT_MS);
	src_hello(&s, &dr, 1);
	src_page_part(&s.ch[0], 40);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ETIMEDOUT, "PAGES frame seq 1 on channel 0: payload of 4120 "
		"bytes: 40 arrived, then nothing for 1000 ms", SILENCE_MS,
		"a frame that stalls in its payload is named");

	/* ... also while another channel is silent between frames */
	dest_start(&dr, TIMEOUT_MS);
	src_hello(&s, &dr, 2);
	src_channel(&s, &dr, 1);
	src_page_part(&s.ch[1], 24);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ETIMEDOUT, "PAGES frame seq 1 on channel 1: payload of 4120 "
		"bytes: 24 arrived, then nothing for 1000 ms", SILENCE_MS,
		"a stalled frame is named before a channel silent between frames");

	/* a frame cut by a close */
	dest_start(&dr, PATIENT_MS);
	src_hello(&s, &dr, 1);
	src_page_part(&s.ch[0], 40);
	chan_fini(&s.ch[0]);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ECONNRESET, "PAGES frame seq 1 on channel 0: payload of 4120 "
		"bytes: connection closed after 40 (truncated frame)",
		AT_ONCE_MS, "a frame cut in its payload is named");
}

int main(void)
{
	struct kvmig_vmm *vmm;

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(4 + 4 + 6 + 7 + 6);
	test_vm_start(&vm, vm_args);
	vmm = kvmig_vmm_connect(vm.sock, NULL);
	TEST_ASSERT(vmm, "connecting to the VMM");
	map = kvmig_vmm_map_memory(vmm);
	TEST_ASSERT(map, "mapping the guest RAM: %s", kvmig_vmm_last_error(vmm));

	test_iter_end_fields();
	test_xbzrle_pass0();
	test_zero_runs();
	test_handshake();
	test_silence();

	kvmig_memmap_free(map);
	kvmig_vmm_close(vmm);
	/* 3: "incoming migration did not complete; the guest never ran" */
	TEST_ASSERT(test_vm_quit(&vm) == 3, "the guest ran");
	ksft_finished();
}
