// SPDX-License-Identifier: GPL-2.0
/*
 * The guest side of kvmig-vm: freestanding 64-bit code running at CPL 3
 * (see cpu_setup_regs() for why), no libc, no interrupts, no floating point.  Every vCPU enters guest_main() with its id
 * in %rdi and its stack in %rsp (set by the VMM), reads what to do from its
 * struct guest_vcpu, and loops forever.  It talks to the VMM only through
 * port IO (see guest_abi.h) and through the counters in its own block.
 */
#include "../guest_abi.h"

#define GUEST_ASSERT(c)						\
	do {							\
		if (!(c))					\
			outl(GUEST_PORT_PANIC, __LINE__);	\
	} while (0)

static inline void outl(uint16_t port, uint32_t val)
{
	__asm__ volatile("outl %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

/*
 * Exceptions.  The workloads take none, but a bug (ours, the VMM's or the
 * hypervisor's) would otherwise be a triple fault that tells nothing.  Each
 * vector's stub, 16 bytes apart, pushes a zero where the CPU pushes no
 * error code, then its vector, and reports through GUEST_PORT_EXCEPTION;
 * the VMM reads the frame and stops the VM.  The stubs run at CPL 0, on
 * the bottom of the vCPU's stack (its TSS's rsp0), and never return.
 */
#define STR(x)		#x
#define XSTR(x)		STR(x)
#define STUB(n)		".balign 16\n\tpushq $0\n\tpushq $" #n "\n\tjmp guest_exc_common\n"
#define STUB_ERR(n)	".balign 16\n\tpushq $" #n "\n\tjmp guest_exc_common\n"
__asm__(".pushsection .text\n"
	".balign 16\n"
	"guest_exc_stubs:\n"
	STUB(0)
	STUB(1)
	STUB(2)
	STUB(3)
	STUB(4)
	STUB(5)
	STUB(6)
	STUB(7)
	STUB_ERR(8)
	STUB(9)
	STUB_ERR(10)
	STUB_ERR(11)
	STUB_ERR(12)
	STUB_ERR(13)
	STUB_ERR(14)
	STUB(15)
	STUB(16)
	STUB_ERR(17)
	STUB(18)
	STUB(19)
	STUB(20)
	STUB_ERR(21)
	STUB(22)
	STUB(23)
	STUB(24)
	STUB(25)
	STUB(26)
	STUB(27)
	STUB(28)
	STUB_ERR(29)
	STUB_ERR(30)
	STUB(31)
	"guest_exc_common:\n"
	"\tmovl (%rsp), %eax\n"
	"\toutl %eax, $" XSTR(GUEST_PORT_EXCEPTION) "\n"
	"1:\tjmp 1b\n"
	".popsection\n");
extern const char guest_exc_stubs[];

/* 64-bit interrupt gates (type 0xe, DPL 0) to the stubs, kernel CS 0x08 */
static void idt_init(void)
{
	uint64_t *idt = (uint64_t *)GUEST_IDT_GPA;
	unsigned int v;

	for (v = 0; v < GUEST_IDT_VECTORS; v++) {
		uint64_t a = (uint64_t)guest_exc_stubs + v * 16;

		idt[2 * v] = (a & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) |
			     ((a >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = a >> 32;
	}
}

static struct guest_params *const params =
	(struct guest_params *)GUEST_PARAMS_GPA;

static inline struct guest_vcpu *vcpu_block(uint64_t id)
{
	return (struct guest_vcpu *)(GUEST_VCPU_GPA + id * GUEST_VCPU_SIZE);
}

static inline uint32_t *ledger(void)
{
	return (uint32_t *)params->ledger_gpa;
}

/* Data page number -> guest-physical address, across the RAM ranges. */
static uint64_t data_page_gpa(uint64_t n)
{
	uint64_t i;

	for (i = 0; i < params->nr_ranges; i++) {
		if (n < params->ranges[i].pages)
			return params->ranges[i].gpa + n * GUEST_PAGE_SIZE;
		n -= params->ranges[i].pages;
	}
	GUEST_ASSERT(0);
	return 0;
}

static inline uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Dictionary for text-like pages: compressible, but not trivially so. */
static const char *const words[] = {
	"the ", "migration ", "of ", "a ", "virtual ", "machine ", "moves ",
	"memory ", "pages ", "over ", "network ", "while ", "guest ", "keeps ",
	"running ", "and ", "writing ", "dirty ", "log ", "tracks ", "which ",
	"were ", "written ", "since ", "last ", "sync. ", "Kernel ", "bitmap ",
	"ring ", "protect ", "fast ", "converge ",
};

static void fill_text(uint8_t *p, uint64_t len, uint64_t *rng)
{
	uint64_t off = 0;

	while (off < len) {
		const char *w = words[xorshift64(rng) %
				      (sizeof(words) / sizeof(words[0]))];

		while (*w && off < len)
			p[off++] = (uint8_t)*w++;
	}
}

/*
 * Write data page @n with generation @gen.  The stamp goes in last, and the
 * checksum covers the whole page (guest_page_csum skips the csum field).
 */
static void write_page(struct guest_vcpu *v, uint64_t n, uint32_t gen)
{
	uint64_t gpa = data_page_gpa(n);
	uint64_t *w = (uint64_t *)gpa;
	struct guest_stamp *s = (struct guest_stamp *)gpa;
	uint64_t rng = (v->seed ^ (n * 0x9e3779b97f4a7c15ULL)) + gen;
	uint64_t i;

	if (!rng)
		rng = 1;

	switch (v->data) {
	case GUEST_DATA_ZERO:
		for (i = 3; i < GUEST_PAGE_SIZE / 8; i++)
			w[i] = 0;
		break;
	case GUEST_DATA_TEXT:
		fill_text((uint8_t *)&w[3], GUEST_PAGE_SIZE - 24, &rng);
		break;
	case GUEST_DATA_COUNTER:
		/*
		 * The page keeps a fixed body derived from its number and
		 * only one word, chosen by the generation, changes: the
		 * delta between two versions is a few bytes (XBZRLE's case).
		 */
		if (gen == 1) {
			for (i = 3; i < GUEST_PAGE_SIZE / 8; i++)
				w[i] = n * 0x100000001ULL + i;
		}
		w[3 + gen % (GUEST_PAGE_SIZE / 8 - 3)] = gen;
		break;
	case GUEST_DATA_RANDOM:
	default:
		for (i = 3; i < GUEST_PAGE_SIZE / 8; i++)
			w[i] = xorshift64(&rng);
		break;
	}
	s->gpa = gpa;
	s->gen = gen;
	s->csum = guest_page_csum((void *)gpa);
}

static uint64_t next_page(struct guest_vcpu *v, uint64_t *cursor,
			  uint64_t *rng)
{
	uint64_t r, q, lo, hi;

	switch (v->pattern) {
	case GUEST_PAT_SEQ:
		r = *cursor;
		*cursor = (r + 1) % v->ws_pages;
		return r;
	case GUEST_PAT_ZIPF:
		/*
		 * Piecewise-uniform inverse CDF: pick a quantile step, then a
		 * rank inside it.  Rank 0 is the hottest page; ranks are
		 * scattered over the window by a multiplicative hash so hot
		 * pages are not neighbours.
		 */
		q = xorshift64(rng) % GUEST_ZIPF_STEPS;
		lo = v->zipf_rank[q];
		hi = v->zipf_rank[q + 1];
		r = hi > lo ? lo + xorshift64(rng) % (hi - lo) : lo;
		return (r * 0x9e3779b1ULL) % v->ws_pages;
	case GUEST_PAT_RANDOM:
	default:
		return xorshift64(rng) % v->ws_pages;
	}
}

/* Check every page of this vCPU's window, as the host verifier does. */
static void self_check(struct guest_vcpu *v)
{
	uint64_t i, bad = 0;

	for (i = 0; i < v->ws_pages; i++) {
		uint64_t n = v->ws_first + i;

		if (guest_page_check((void *)data_page_gpa(n),
				     data_page_gpa(n), ledger()[n]))
			bad++;
	}
	v->check_pages = v->ws_pages;
	v->check_bad = bad;
}

static void handle_cmd(struct guest_vcpu *v)
{
	uint64_t seq = v->cmd_seq;
	uint64_t cmd = v->cmd;

	barrier();
	if (v->cmd_ack == seq)
		return;
	if (cmd == GUEST_CMD_CHECK || cmd == GUEST_CMD_CHECK_HOLD) {
		if (v->workload == GUEST_WL_DIRTY) {
			self_check(v);
		} else {
			v->check_pages = 0;
			v->check_bad = 0;
		}
	}
	barrier();
	v->cmd_ack = seq;
	outl(GUEST_PORT_EVENT, GUEST_EVENT_CHECKED);
	if (cmd != GUEST_CMD_CHECK_HOLD)
		return;
	/* hold: touch no memory until the VMM posts the next command */
	while (v->cmd_seq == seq)
		outl(GUEST_PORT_SLEEP, 1000);
	handle_cmd(v);
}

/*
 * Pace to v->rate pages/s from the TSC: when ahead of schedule by more than
 * a millisecond, ask the VMM to sleep instead of spinning (the host has few
 * cores).  A backlog larger than one second is forgiven, so a guest that was
 * stopped does not burst afterwards.
 */
static void pace(struct guest_vcpu *v, uint64_t *t0, uint64_t *done)
{
	uint64_t khz = params->tsc_khz;
	uint64_t now, due, ahead_us;

	if (!v->rate || !khz)
		return;
	now = rdtsc();
	/* elapsed µs times pages/µs; 64 bits last for days at any rate */
	due = (now - *t0) * 1000 / khz * v->rate / 1000000;
	if (due > *done + v->rate) {		/* more than 1 s behind */
		*t0 = now - *done * 1000000 / v->rate * khz / 1000;
		return;
	}
	if (*done <= due)
		return;
	ahead_us = (*done - due) * 1000000 / v->rate;
	if (ahead_us >= 1000)
		outl(GUEST_PORT_SLEEP, (uint32_t)(ahead_us > 100000 ?
						  100000 : ahead_us));
}

static void dirty_loop(struct guest_vcpu *v)
{
	uint64_t rng = v->seed ? v->seed : 88172645463325252ULL;
	uint64_t cursor = 0, done = 0, t0 = rdtsc();

	GUEST_ASSERT(v->ws_pages);
	for (;;) {
		uint64_t n;
		uint32_t gen;

		/* after the nap, right before a write: a command posted
		 * while we were paused is taken before anything changes */
		pace(v, &t0, &done);
		handle_cmd(v);
		n = v->ws_first + next_page(v, &cursor, &rng);
		gen = ledger()[n] + 1;
		if (!gen)	/* never wrap to "never written" */
			gen = 1;
		v->inflight = n + 1;
		barrier();
		ledger()[n] = gen;
		write_page(v, n, gen);
		barrier();
		v->inflight = 0;
		v->pages_written++;
		v->loops++;
		done++;
	}
}

static void io_loop(struct guest_vcpu *v)
{
	uint64_t hz = params->tsc_khz * 1000;
	uint64_t period = v->period_us * hz / 1000000;
	uint64_t last = 0, next = rdtsc();

	for (;;) {
		uint64_t t0, t1;

		handle_cmd(v);
		for (;;) {
			uint64_t now = rdtsc(), left_us;

			if (now >= next)
				break;
			left_us = (next - now) * 1000000 / hz;
			if (left_us >= 1000)
				outl(GUEST_PORT_SLEEP, (uint32_t)left_us);
			else
				cpu_relax();
		}
		t0 = rdtsc();
		outl(GUEST_PORT_IO, (uint32_t)(last > 0xffffffffULL ?
					       0xffffffffULL : last));
		t1 = rdtsc();
		last = t1 - t0;
		v->io_round_trips++;
		v->loops++;
		/*
		 * Behind by more than a second (the VM was stopped): restart
		 * the clock rather than burst.  Less (the host was busy and
		 * woke us late): catch up, so that the period holds on
		 * average, as pace() keeps rate= for dirty.
		 */
		next += period;
		if (next + hz < t1)
			next = t1 + period;
	}
}

/* CPL 3 cannot hlt: nap 10 ms at a time through the VMM instead. */
static void idle_loop(struct guest_vcpu *v)
{
	for (;;) {
		handle_cmd(v);
		v->loops++;
		outl(GUEST_PORT_SLEEP, 10000);
	}
}

void guest_main(uint64_t id) __attribute__((noreturn, section(".text.entry")));
void guest_main(uint64_t id)
{
	struct guest_vcpu *v = vcpu_block(id);

	idt_init();	/* every vCPU writes the same gates */
	GUEST_ASSERT(params->magic == GUEST_PARAMS_MAGIC);
	outl(GUEST_PORT_EVENT, GUEST_EVENT_STARTED);
	switch (v->workload) {
	case GUEST_WL_DIRTY:
		dirty_loop(v);
		break;
	case GUEST_WL_IO:
		io_loop(v);
		break;
	case GUEST_WL_FAULT:
		*(volatile uint64_t *)GUEST_FAULT_ADDR = 1;
		break;
	default:
		idle_loop(v);
		break;
	}
	for (;;)
		outl(GUEST_PORT_SLEEP, 1000000);
}
