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
 *    channel is silent too;
 *  - bounds: a header declaring more than its type's limit is refused
 *    before its payload; kvmig incoming's peak memory and open files stay
 *    within the documented bound against everything a source may make it
 *    hold at once.
 */
#include <dirent.h>
#include <netdb.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <zlib.h>
#include <zstd.h>

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

static void src_open(struct source *s, const char *port, uint16_t i)
{
	char err[256];
	int fd = tcp_connect("127.0.0.1", port, 5000, err, sizeof(err));

	TEST_ASSERT(fd >= 0 && !chan_init(&s->ch[i], fd, i, 5000),
		    "channel %u: %s", i, err);
}

/*
 * Channel 0, HELLO for this VM's RAM, @nr channels, the encodings @codecs
 * and @flags, then HELLO_ACK.
 */
static void src_hello_with(struct source *s, const char *port, uint16_t nr,
			   uint32_t codecs, uint32_t flags)
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
	src_open(s, port, 0);
	TEST_ASSERT(!chan_send(&s->ch[0], WIRE_HELLO, b, (uint32_t)wire_hello_size(h),
			       NULL, 0), "sending HELLO");
	TEST_ASSERT(!chan_recv(&s->ch[0], &hdr, err, sizeof(err)) &&
		    hdr.type == WIRE_HELLO_ACK, "HELLO_ACK: %s", err);
	free(b);
	free(h);
}

/* ... every encoding, no verification */
static void src_hello(struct source *s, const char *port, uint16_t nr)
{
	src_hello_with(s, port, nr, WIRE_CODECS_ALL, 0);
}

/* Channel @i: connect and send CHANNEL. */
static void src_channel(struct source *s, const char *port, uint16_t i)
{
	uint8_t p[16] = { 0 };

	src_open(s, port, i);
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
	src_hello(&s, dr.port, 1);
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
	src_hello(&s, dr.port, 1);
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
	src_hello(&s, dr.port, 1);
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
	src_hello(&s, dr.port, 1);
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
	src_hello(&s, dr.port, 1);
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
	src_hello_with(&s, dr.port, 1, no_runs, 0);
	src_zero_run(&s.ch[0], 0, gpa, 4);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, EPROTO, "entry 0: encoding zero-run was not announced in HELLO",
		AT_ONCE_MS, "a zero run a HELLO did not announce");

	dest_start(&dr, PATIENT_MS);
	src_hello_with(&s, dr.port, 1, no_runs, WIRE_HELLO_VERIFY);
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
	src_hello(&s, dr.port, 2);
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
		src_channel(&s, dr.port, 1);
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
	src_hello(&s, dr.port, 4);
	src_channel(&s, dr.port, 1);
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
	src_hello(&s, dr.port, 2);
	src_channel(&s, dr.port, 1);
	src_iter_end(&s.ch[0], 16, 0, 0, s.ch[0].tx_seq);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ETIMEDOUT, "no data from the source for 1000 ms: channel 1 "
		"silent in pass 0 (channel 0 waits at its end)", SILENCE_MS,
		"a channel silent while another waits at the barrier is named");

	/* both silent */
	dest_start(&dr, TIMEOUT_MS);
	src_hello(&s, dr.port, 2);
	src_channel(&s, dr.port, 1);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ETIMEDOUT, "no data from the source for 1000 ms: channels "
		"0-1 silent in pass 0", SILENCE_MS,
		"every channel silent: all named");

	/* channel 1 ends after pass 0, channel 0 carries pass 1 */
	dest_start(&dr, PATIENT_MS);
	src_hello(&s, dr.port, 2);
	src_channel(&s, dr.port, 1);
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
	src_hello(&s, dr.port, 1);
	src_page_part(&s.ch[0], 40);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ETIMEDOUT, "PAGES frame seq 1 on channel 0: payload of 4120 "
		"bytes: 40 arrived, then nothing for 1000 ms", SILENCE_MS,
		"a frame that stalls in its payload is named");

	/* ... also while another channel is silent between frames */
	dest_start(&dr, TIMEOUT_MS);
	src_hello(&s, dr.port, 2);
	src_channel(&s, dr.port, 1);
	src_page_part(&s.ch[1], 24);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ETIMEDOUT, "PAGES frame seq 1 on channel 1: payload of 4120 "
		"bytes: 24 arrived, then nothing for 1000 ms", SILENCE_MS,
		"a stalled frame is named before a channel silent between frames");

	/* a frame cut by a close */
	dest_start(&dr, PATIENT_MS);
	src_hello(&s, dr.port, 1);
	src_page_part(&s.ch[0], 40);
	chan_fini(&s.ch[0]);
	dest_wait(&dr);
	src_close(&s);
	refused(&dr, ECONNRESET, "PAGES frame seq 1 on channel 0: payload of 4120 "
		"bytes: connection closed after 40 (truncated frame)",
		AT_ONCE_MS, "a frame cut in its payload is named");
}

/* ------------------------------------------------------------ bounds */

/* A header alone, declaring @len payload bytes that never come. */
static void src_header(struct chan *c, uint8_t type, uint32_t len)
{
	struct wire_hdr h = {
		.type = type, .len = len, .channel = c->index, .seq = c->tx_seq,
	};
	uint8_t b[WIRE_HDR_SIZE];

	wire_put_hdr(b, &h);
	TEST_ASSERT(write(c->fd, b, sizeof(b)) == (ssize_t)sizeof(b),
		    "sending a header");
}

/* Declared sizes beyond a frame type's limit: refused by the header. */
static void test_declared_sizes(void)
{
	static const struct {
		uint8_t type;
		uint16_t ch;
		uint32_t len;
		const char *msg, *what;
	} c[] = {
		{ WIRE_PAGES, 1, WIRE_MAX_PAYLOAD,
		  "PAGES frame: length 8388608 exceeds the maximum 1052680 of its "
		  "type on channel 1", "PAGES declaring 8 MiB" },
		{ WIRE_VERIFY, 1, WIRE_MAX_PAYLOAD,
		  "VERIFY frame: length 8388608 exceeds the maximum 65536 of its "
		  "type on channel 1", "VERIFY declaring 8 MiB on channel 1" },
		{ WIRE_ITER_END, 0, 1U << 20,
		  "ITER_END frame: length 1048576 exceeds the maximum 65536 of its "
		  "type on channel 0", "ITER_END declaring 1 MiB" },
	};
	struct dest_run dr;
	struct source s;
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		dest_start(&dr, PATIENT_MS);
		src_hello(&s, dr.port, 2);
		src_channel(&s, dr.port, 1);
		src_header(&s.ch[c[i].ch], c[i].type, c[i].len);
		dest_wait(&dr);
		src_close(&s);
		refused(&dr, EBADMSG, c[i].msg, AT_ONCE_MS, c[i].what);
	}
}

/* Entries of @fd's process: its open files. */
static unsigned int open_fds(pid_t pid)
{
	char path[64];
	unsigned int n = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	TEST_ASSERT(d, "%s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* @pid's resident memory now, in bytes. */
static uint64_t resident(pid_t pid)
{
	char path[64], line[128];
	unsigned long long kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	TEST_ASSERT(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib << 10;
}

/*
 * Everything a source may make the destination hold, at once, against
 * kvmig incoming as operators run it: 64 channels, each receiving the
 * largest PAGES frame (a zstd and a zlib entry, then raw pages up to the
 * limit), and on channel 0 the largest DEVICE_STATE and hashes with zero
 * ranges for every page (one range every two pages, the most there can
 * be); meanwhile a flood of connections beyond the 64.  Its peak resident
 * memory (wait4()'s ru_maxrss, guest pages it wrote included) stays below
 * guest RAM plus DEST_MEM_BASE + DEST_MEM_CHANNEL a channel +
 * DEST_MEM_PAGE a guest page (Documentation/migration-stream.rst, "Memory
 * a peer can make the destination hold"), and its open files below its
 * own plus one a channel.
 */
#define DEST_MEM_BASE		(32ULL << 20)
#define DEST_MEM_CHANNEL	(1536ULL << 10)
#define DEST_MEM_PAGE		16ULL
#define FLOOD			200

static void test_memory_bound(void)
{
	const struct kvmig_slot *sl = kvmig_memmap_slot(map, 0);
	uint64_t pages = kvmig_memmap_pages(map), ram = kvmig_memmap_bytes(map);
	uint64_t slot_pages = sl->size / WIRE_PAGE_SIZE, rng = 7, bound, peak, rss0;
	unsigned int fds0, fds, flood_fds[FLOOD], i, k, nflood = 0;
	struct wire_pages_writer w;
	struct wire_verify v = {};
	uint8_t *frame, *vb, page[WIRE_PAGE_SIZE];
	uint8_t zstd[2 * WIRE_PAGE_SIZE], gz[2 * WIRE_PAGE_SIZE];
	struct mig m = { .dst = vm };
	unsigned long glen;
	size_t zlen;
	struct addrinfo *ai, hints = { .ai_socktype = SOCK_STREAM };
	struct rusage ru;
	struct source s;
	char *state;
	int rc;

	frame = malloc(WIRE_MAX_PAGES_PAYLOAD);
	vb = malloc(WIRE_VERIFY_FIXED + 8);
	state = malloc(WIRE_MAX_PAYLOAD);
	TEST_ASSERT(frame && vb && state, "out of memory");
	snprintf(m.inc_log, sizeof(m.inc_log), "%s/incoming-bound.log", vm.dir);
	start_incoming(&m, true);
	fds0 = open_fds(m.inc);
	rss0 = resident(m.inc);

	src_hello_with(&s, m.port, WIRE_MAX_CHANNELS, WIRE_CODECS_ALL,
		       WIRE_HELLO_VERIFY);
	for (i = 1; i < WIRE_MAX_CHANNELS; i++)
		src_channel(&s, m.port, (uint16_t)i);

	/* connections beyond the 64: the listener's backlog, never accepted */
	TEST_ASSERT(!getaddrinfo("127.0.0.1", m.port, &hints, &ai), "getaddrinfo");
	for (i = 0; i < FLOOD; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		TEST_ASSERT(fd >= 0, "socket");
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		flood_fds[nflood++] = fd;
	}
	freeaddrinfo(ai);

	/*
	 * pass 0: the largest PAGES frame on every channel, its first entries
	 * zstd and zlib (each channel's decoders then hold their contexts),
	 * then raw pages up to the limit
	 */
	memset(page, 0, sizeof(page));
	test_fill_random(page, WIRE_PAGE_SIZE / 2, &rng);
	zlen = ZSTD_compress(zstd, sizeof(zstd), page, sizeof(page), 1);
	TEST_ASSERT(!ZSTD_isError(zlen) && zlen < WIRE_PAGE_SIZE, "zstd");
	glen = sizeof(gz);
	TEST_ASSERT(compress2(gz, &glen, page, sizeof(page), 1) == Z_OK &&
		    glen < WIRE_PAGE_SIZE, "zlib");
	for (i = 0; i < WIRE_MAX_CHANNELS; i++) {
		wire_pages_start(&w, frame, WIRE_MAX_PAGES_PAYLOAD);
		for (k = 0; ; k++) {
			struct wire_page pg = {
				.gpa = sl->gpa + ((i * WIRE_MAX_PAGES_ENTRIES + k) %
						  slot_pages) * WIRE_PAGE_SIZE,
				.encoding = k == 0 ? WIRE_ENC_ZSTD :
					    k == 1 ? WIRE_ENC_ZLIB : WIRE_ENC_RAW,
				.len = k == 0 ? (uint32_t)zlen :
				       k == 1 ? (uint32_t)glen : WIRE_PAGE_SIZE,
				.data = k == 0 ? zstd : k == 1 ? gz : page,
			};

			if (k > 1)
				test_fill_random(page, sizeof(page), &rng);
			if (wire_pages_add(&w, &pg))
				break;
		}
		wire_pages_finish(&w, 0);
		TEST_ASSERT(w.len > WIRE_MAX_PAGES_PAYLOAD - WIRE_PAGE_SIZE,
			    "frame of %u bytes", w.len);
		TEST_ASSERT(!chan_send(&s.ch[i], WIRE_PAGES, frame, w.len, NULL, 0),
			    "PAGES on channel %u", i);
		TEST_ASSERT(!chan_send_end(&s.ch[i], WIRE_ITER_END, 0),
			    "ITER_END on channel %u", i);
	}
	fds = open_fds(m.inc);

	/* stop-and-copy: the largest state, a hash or zero range per page */
	memset(state, ' ', WIRE_MAX_PAYLOAD);
	state[0] = '{';
	state[WIRE_MAX_PAYLOAD - 1] = '}';
	TEST_ASSERT(!chan_send(&s.ch[0], WIRE_DEVICE_STATE, state,
			       WIRE_MAX_PAYLOAD, NULL, 0), "DEVICE_STATE");
	for (v.first = 0; v.first < pages; v.first++) {
		v.count = 1;
		v.flags = v.first % 2 ? 0 : WIRE_VERIFY_ZERO;
		k = wire_put_verify(vb, &v);
		if (!v.flags)
			wire_put_verify_hash(vb, 0, ~0ULL);	/* a mismatch */
		TEST_ASSERT(!chan_send(&s.ch[0], WIRE_VERIFY, vb, k, NULL, 0),
			    "VERIFY of page %llu", (unsigned long long)v.first);
	}
	for (i = 0; i < WIRE_MAX_CHANNELS; i++)
		TEST_ASSERT(!chan_send_end(&s.ch[i], WIRE_END, 1), "END on %u", i);

	rc = test_wait_usage(m.inc, TEST_DEADLINE_S, &ru);
	src_close(&s);
	for (i = 0; i < nflood; i++)
		close(flood_fds[i]);
	peak = (uint64_t)ru.ru_maxrss << 10;
	bound = ram + DEST_MEM_BASE + WIRE_MAX_CHANNELS * DEST_MEM_CHANNEL +
		pages * DEST_MEM_PAGE;
	ksft_print_msg("kvmig incoming: %.1f MiB resident when it listened, peak "
		       "%.1f MiB, guest RAM %.1f MiB, bound %.1f MiB; %u open files "
		       "at the start, %u with 64 channels and %u more connections "
		       "waiting\n", rss0 / 1048576.0, peak / 1048576.0,
		       ram / 1048576.0, bound / 1048576.0, fds0, fds, nflood);
	ksft_test_result(rc == 1 && strstr(test_slurp(m.inc_log), "mismatch") &&
			 test_vm_waits_incoming(&vm),
			 "64 channels at their largest frames, the largest state "
			 "and hashes: refused for the mismatches (exit %d)", rc);
	if (rc != 1)
		ksft_print_msg("kvmig incoming said: %s\n", test_slurp(m.inc_log));
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* shadow memory, redzones and ASan's quarantine are not kvmig's */
	ksft_test_result_skip("the destination's peak memory (%.1f MiB): checked "
			      "in the plain build, not under a sanitizer",
			      peak / 1048576.0);
#else
	ksft_test_result(peak <= bound, "the destination's peak memory: %.1f MiB, "
			 "at most guest RAM + %.1f MiB", peak / 1048576.0,
			 (bound - ram) / 1048576.0);
#endif
	ksft_test_result(nflood == FLOOD && fds <= fds0 + WIRE_MAX_CHANNELS,
			 "its open files: %u, at most %u + one a channel, with %u "
			 "connections waiting", fds, fds0, nflood);
	free(state);
	free(vb);
	free(frame);
}

int main(void)
{
	struct kvmig_vmm *vmm;

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(4 + 4 + 6 + 7 + 6 + 3 + 3);
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
	test_declared_sizes();
	test_memory_bound();

	kvmig_memmap_free(map);
	kvmig_vmm_close(vmm);
	/* 3: "incoming migration did not complete; the guest never ran" */
	TEST_ASSERT(test_vm_quit(&vm) == 3, "the guest ran");
	ksft_finished();
}
