/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The contract between kvmig-vm and the guest code it runs.
 *
 * Included by the freestanding guest (tools/vm/guest/guest.c) and by the VMM,
 * so it uses only fixed-width types and no libc.  Every address below is a
 * guest-physical address; the guest runs with an identity map, so it is also
 * the guest-virtual address.
 *
 * Guest-physical layout (slot 0 always starts at GPA 0):
 *
 *   0x000000  unused (null page)
 *   0x001000  GDT (flat segments, then a TSS descriptor per vCPU)
 *   0x001200  IDT (the 32 exception vectors)
 *   0x001400  TSS, GUEST_TSS_SIZE per vCPU
 *   0x002000  PML4, 0x003000 PDPT, 0x004000.. page directories (2 MiB pages)
 *   0x040000  struct guest_params (one page)
 *   0x050000  struct guest_vcpu  (GUEST_VCPU_SIZE each, up to GUEST_MAX_VCPUS)
 *   0x100000  guest code, data, bss
 *   0x180000  vCPU stacks (GUEST_STACK_SIZE each, growing down)
 *   0x200000  the page ledger, then the data pages (see below)
 *
 * The "data pages" are the guest pages that workloads write.  They are
 * numbered 0..nr_data_pages-1 across the RAM ranges in guest_params.ranges
 * (which may have holes between them); guest_params.ledger holds one
 * generation word per data page.
 *
 * Self-check protocol (the oracle for migrations):
 *   A "dirty" vCPU owns a disjoint window [ws_first, ws_first + ws_pages) of
 *   data pages.  To write page i it does, in this order:
 *     1. vcpu->inflight = i + 1       (0 means "none")
 *     2. ledger[i] = ledger[i] + 1 = g
 *     3. fill the payload, then write the stamp {gpa, g, checksum}
 *     4. vcpu->inflight = 0
 *   So, whenever the vCPUs are stopped, every data page i with ledger[i] != 0
 *   that is not the in-flight page of its vCPU carries a stamp with its own
 *   gpa, generation ledger[i] and a checksum over the page; a page that was
 *   never written (ledger 0) is all zeroes.  A stale page (an old version)
 *   has a lower generation than its ledger; a corrupt page has a bad
 *   checksum.  Both the guest and the host check exactly this.
 */
#ifndef KVMIG_GUEST_ABI_H
#define KVMIG_GUEST_ABI_H

#include <stdint.h>

#define GUEST_PAGE_SIZE		4096ULL
#define GUEST_PAGE_SHIFT	12

#define GUEST_GDT_GPA		0x001000ULL
#define GUEST_GDT_ENTRIES	(5 + 2 * GUEST_MAX_VCPUS)	/* 16-byte TSS descriptors */
#define GUEST_TSS_SEL(id)	(0x28 + (id) * 16)
#define GUEST_IDT_GPA		0x001200ULL
#define GUEST_IDT_VECTORS	32
#define GUEST_TSS_GPA		0x001400ULL
#define GUEST_TSS_SIZE		0x80
/* an exception's handler runs on this much of the bottom of the vCPU's stack */
#define GUEST_EXC_STACK		0x000800ULL
#define GUEST_PML4_GPA		0x002000ULL
#define GUEST_PDPT_GPA		0x003000ULL
#define GUEST_PD_GPA		0x004000ULL	/* GUEST_MAX_PD pages */
#define GUEST_MAX_PD		56		/* identity map up to 56 GiB */
#define GUEST_PARAMS_GPA	0x040000ULL
#define GUEST_VCPU_GPA		0x050000ULL
#define GUEST_VCPU_SIZE		0x008000ULL	/* 32 KiB, holds the zipf table */
#define GUEST_MAX_VCPUS		16
#define GUEST_CODE_GPA		0x100000ULL
#define GUEST_CODE_MAX		0x080000ULL
#define GUEST_STACK_GPA		0x180000ULL
#define GUEST_STACK_SIZE	0x004000ULL
#define GUEST_SYSTEM_SIZE	0x200000ULL	/* the ledger starts here */

/* the descriptor tables and the TSSs share the page after the null page */
_Static_assert(GUEST_GDT_GPA + GUEST_GDT_ENTRIES * 8 <= GUEST_IDT_GPA, "GDT overlaps IDT");
_Static_assert(GUEST_IDT_GPA + GUEST_IDT_VECTORS * 16 <= GUEST_TSS_GPA, "IDT overlaps TSS");
_Static_assert(GUEST_TSS_GPA + GUEST_MAX_VCPUS * GUEST_TSS_SIZE <= GUEST_PML4_GPA,
	       "TSSs overlap the page tables");

#define GUEST_PARAMS_MAGIC	0x4b564d4947505231ULL	/* "KVMIGPR1" */
#define GUEST_MAX_RANGES	8

/* Port IO the guest does; each is an exit to the VMM. */
#define GUEST_PORT_SLEEP	0x10	/* out32: sleep this many µs */
#define GUEST_PORT_IO		0x11	/* out32: last round trip, TSC cycles */
#define GUEST_PORT_EVENT	0x12	/* out32: enum guest_event */
#define GUEST_PORT_PANIC	0x13	/* out32: line of a failed guest assert */
/*
 * out32: an exception's vector, from its handler at CPL 0; %rsp points to
 * the vector, the error code (0 if the CPU pushes none), then the CPU's
 * frame: rip, cs, rflags, rsp, ss.
 */
#define GUEST_PORT_EXCEPTION	0x14

enum guest_event {
	GUEST_EVENT_STARTED = 1,	/* vCPU reached guest_main */
	GUEST_EVENT_CHECKED = 2,	/* a self-check finished */
};

enum guest_workload {
	GUEST_WL_IDLE = 0,
	GUEST_WL_DIRTY = 1,
	GUEST_WL_IO = 2,
	GUEST_WL_FAULT = 3,	/* writes to GUEST_FAULT_ADDR: a #PF to report */
};

/* not mapped by the guest's page tables (PML4 entry 254) */
#define GUEST_FAULT_ADDR	0x00007f0000000000ULL

enum guest_pattern {
	GUEST_PAT_SEQ = 0,
	GUEST_PAT_RANDOM = 1,
	GUEST_PAT_ZIPF = 2,
};

enum guest_data {
	GUEST_DATA_ZERO = 0,	/* payload all zero: compresses to nothing */
	GUEST_DATA_TEXT = 1,	/* words from a small dictionary: ~3x */
	GUEST_DATA_COUNTER = 2,	/* fixed content, one word changes per write */
	GUEST_DATA_RANDOM = 3,	/* xorshift output: incompressible */
};

/* vcpu->cmd, written by the VMM, acknowledged by the guest in cmd_ack. */
enum guest_cmd {
	GUEST_CMD_NONE = 0,
	GUEST_CMD_CHECK = 1,	/* check own working set, result in check_bad */
	/*
	 * Like CHECK, then write nothing more (nap in sleep exits) until the
	 * next command: lets the VMM check a paused VM and pause it again
	 * without the workload moving on in between.
	 */
	GUEST_CMD_CHECK_HOLD = 2,
};

struct guest_range {
	uint64_t gpa;		/* page aligned */
	uint64_t pages;
};

/* One page at GUEST_PARAMS_GPA, written by the VMM before the vCPUs start. */
struct guest_params {
	uint64_t magic;
	uint64_t tsc_khz;		/* TSC frequency the VMM measured */
	uint64_t nr_vcpus;
	uint64_t nr_ranges;
	struct guest_range ranges[GUEST_MAX_RANGES];	/* data pages live here */
	uint64_t nr_data_pages;
	uint64_t ledger_gpa;		/* uint32_t ledger[nr_data_pages] */
	uint64_t seed;
};

#define GUEST_ZIPF_STEPS	4096

/*
 * One per vCPU at GUEST_VCPU_GPA + id * GUEST_VCPU_SIZE.  The first part is
 * set by the VMM before start; the counters are written only by the guest
 * (the VMM reads them, racy by design: 64-bit aligned stores are atomic on
 * x86 and a counter that is one step behind is fine).
 */
struct guest_vcpu {
	/* set by the VMM */
	uint64_t workload;		/* enum guest_workload */
	uint64_t rate;			/* dirty: pages/s, 0 = unpaced; io: unused */
	uint64_t ws_first;		/* dirty: first data page of the window */
	uint64_t ws_pages;		/* dirty: window size in pages */
	uint64_t pattern;		/* enum guest_pattern */
	uint64_t data;			/* enum guest_data */
	uint64_t period_us;		/* io: one round trip every period_us */
	uint64_t seed;
	volatile uint64_t cmd;		/* enum guest_cmd, VMM -> guest */
	volatile uint64_t cmd_seq;	/* bumped by the VMM with each cmd */

	/* written by the guest */
	volatile uint64_t cmd_ack;	/* cmd_seq of the last command done */
	volatile uint64_t check_bad;	/* bad pages found by the last check */
	volatile uint64_t check_pages;	/* pages examined by the last check */
	volatile uint64_t inflight;	/* data page being written + 1, or 0 */
	volatile uint64_t pages_written;
	volatile uint64_t io_round_trips;
	volatile uint64_t loops;	/* main loop iterations (progress) */
	uint64_t reserved[15];

	/* zipf: inverse CDF, rank at each of GUEST_ZIPF_STEPS + 1 quantiles */
	uint32_t zipf_rank[GUEST_ZIPF_STEPS + 1];
};

/* The stamp at the start of every page a dirty vCPU writes. */
struct guest_stamp {
	uint64_t gpa;
	uint64_t gen;
	uint64_t csum;		/* guest_page_csum() of the page */
};

/*
 * Checksum of a stamped page: every 64-bit word but the csum field, mixed
 * with its position so that swapped words are caught.  Shared by the guest
 * and the host verifier, hence static inline and libc-free.
 */
static inline uint64_t guest_page_csum(const void *page)
{
	const uint64_t *w = (const uint64_t *)page;
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	unsigned int i;

	for (i = 0; i < GUEST_PAGE_SIZE / 8; i++) {
		if (i == 2)	/* the csum field itself */
			continue;
		h ^= w[i] + i;
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	return h;
}

/* The checks both sides make: 0 if the page is right, else why it is not. */
enum guest_page_state {
	GUEST_PAGE_OK = 0,
	GUEST_PAGE_NOT_ZERO,	/* ledger says never written, page is not 0 */
	GUEST_PAGE_BAD_GPA,	/* stamp names another page */
	GUEST_PAGE_STALE,	/* stamp generation != ledger generation */
	GUEST_PAGE_BAD_CSUM,	/* content does not match the checksum */
};

static inline enum guest_page_state
guest_page_check(const void *page, uint64_t gpa, uint32_t ledger_gen)
{
	const struct guest_stamp *s = (const struct guest_stamp *)page;
	const uint64_t *w = (const uint64_t *)page;
	unsigned int i;

	if (!ledger_gen) {
		for (i = 0; i < GUEST_PAGE_SIZE / 8; i++)
			if (w[i])
				return GUEST_PAGE_NOT_ZERO;
		return GUEST_PAGE_OK;
	}
	if (s->gpa != gpa)
		return GUEST_PAGE_BAD_GPA;
	if (s->gen != ledger_gen)
		return GUEST_PAGE_STALE;
	if (s->csum != guest_page_csum(page))
		return GUEST_PAGE_BAD_CSUM;
	return GUEST_PAGE_OK;
}

#endif /* KVMIG_GUEST_ABI_H */
