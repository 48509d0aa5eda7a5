// SPDX-License-Identifier: GPL-2.0
/*
 * The per-vCPU dirty-rate limit, measured (make bench, tools/lab/bench):
 *
 * 1. With each dirty-log mode, the logged rate of a vCPU that writes one new
 *    page after another without a limit, then at 1/2 .. 1/32 of it: the
 *    achieved rate against the limit (2 s windows after a warm-up).
 * 2. A vCPU that writes 24 pages, does a port IO and writes 4 more pages
 *    (timed by the guest, the "IO service"): the service writes' p50, p99
 *    and max without a limit, limited at 256 KiB/s, and limited IO-aware
 *    with bounds of 1, 2 and 5 ms; each p99 against the unlimited one, and
 *    the long-run rate against the limit.
 *
 * Figures are the emulated lab's: compare within this run only.
 */
#include "dirty_rate_limit.h"

#define OUT(...)	printf("dirty-limit-perf: " __VA_ARGS__)

static void rate_table(void)
{
	static const unsigned int div[] = { 2, 4, 8, 16, 32 };
	struct kvm_dirty_rate_limit l = {};
	enum log_mode mode;
	unsigned int i;
	char line[256];
	double r0, r;
	int n;

	OUT("achieved / limit, logged bytes over 2 s windows after a warm-up\n");
	n = snprintf(line, sizeof(line), "%-10s | %10s", "mode", "unlimited");
	for (i = 0; i < ARRAY_SIZE(div); i++)
		n += snprintf(line + n, sizeof(line) - n, " | %6s%-2u", "1/", div[i]);
	OUT("%s\n", line);
	for (mode = 0; mode < NR_LOG_MODES; mode++) {
		struct tvm t;

		if ((mode == LOG_RING && !kvm_has_cap(KVM_CAP_DIRTY_LOG_RING_ACQ_REL)) ||
		    (mode == LOG_FASTWP && !kvm_has_cap(KVM_CAP_FAST_WRITE_PROTECT)))
			continue;
		tvm_create(&t, mode);
		tvm_start(&t);
		tvm_rate(&t, 300);
		r0 = tvm_rate(&t, 2000);
		n = snprintf(line, sizeof(line), "%-10s | %6.1f MiB/s",
			     log_mode_name[mode], r0 / (1 << 20));
		for (i = 0; i < ARRAY_SIZE(div); i++) {
			l.bytes_per_sec = (uint64_t)(r0 / div[i]) & ~(PAGE - 1);
			TEST_ASSERT(!tvm_set_limit(&t, &l), "set a limit");
			tvm_rate(&t, 300);
			r = tvm_rate(&t, 2000);
			n += snprintf(line + n, sizeof(line) - n, " | %8.3f",
				      r / l.bytes_per_sec);
		}
		OUT("%s\n", line);
		tvm_finish(&t);
	}
}

static void io_table(void)
{
	static const struct {
		const char *name;
		uint64_t rate;
		uint32_t io_us;
	} runs[] = {
		{ "unlimited", 0, 0 },
		{ "limited", 256 * 1024, 0 },
		{ "IO-aware 1 ms", 256 * 1024, 1000 },
		{ "IO-aware 2 ms", 256 * 1024, 2000 },
		{ "IO-aware 5 ms", 256 * 1024, 5000 },
	};
	unsigned long grace = param_read("dirty_rate_limit_io_grace_us");
	struct io_result res, base = {};
	unsigned int i;
	char buf[32];

	param_set("dirty_rate_limit_io_grace_us", "50000");
	OUT("\n");
	OUT("IO service under a 256 KiB/s limit: 24 pages, a port IO, 4 pages "
	    "timed (6 cycles; IO grace 50 ms)\n");
	OUT("%-14s | %8s %8s %8s | %9s | %10s | %9s\n", "run", "p50 ms",
	    "p99 ms", "max ms", "p99/unl.", "rate/limit", "shortened");
	for (i = 0; i < ARRAY_SIZE(runs); i++) {
		struct kvm_dirty_rate_limit l = {
			.bytes_per_sec = runs[i].rate,
			.burst_bytes = runs[i].rate ? 128 * 1024 : 0,
			.io_stall_max_us = runs[i].io_us,
			.flags = runs[i].io_us ? KVM_DIRTY_RATE_LIMIT_IO_AWARE : 0,
		};

		tvm_io_run(&l, 24, 4, runs[i].rate ? 6 : 200, &res);
		if (!i)
			base = res;
		OUT("%-14s | %8.3f %8.3f %8.3f | %8.1fx | %10s | %9lu\n",
		    runs[i].name, res.p50_ms, res.p99_ms, res.max_ms,
		    res.p99_ms / base.p99_ms,
		    runs[i].rate ? (snprintf(buf, sizeof(buf), "%.3f",
					     res.rate / runs[i].rate), buf) : "-",
		    res.shortened);
	}
	snprintf(buf, sizeof(buf), "%lu", grace);
	param_set("dirty_rate_limit_io_grace_us", buf);
}

int main(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = kick_handler };

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_DIRTY_RATE_LIMIT));
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	rate_table();
	io_table();
	return 0;
}
