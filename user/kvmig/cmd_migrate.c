// SPDX-License-Identifier: GPL-2.0
/*
 * kvmig migrate: the source's end of a migration (Documentation/kvmig.rst,
 * "kvmig migrate").  Its options, and the glue that hands what "kvmig
 * set" left with the VMM to the running migration (on_tune()).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "knob.h"
#include "link.h"
#include "parse.h"
#include "report.h"

/* Apply what "kvmig set" asked for; the library refuses invalid values. */
static void on_tune(struct kvmig_tunables *t, void *opaque)
{
	struct cli *c = opaque;

	if (!c->params)
		return;
	knob_apply(t, c->params);
	json_decref(c->params);
	c->params = NULL;
}

/*
 * The options that set a live knob too (--workers, --codec, --level,
 * --max-bandwidth, --downtime-limit, --throttle-*, --io-stall) have kvmig
 * set's getopt values: live_knob() finds their rule by them.
 */
const struct optdoc cmd_migrate_opts[] = {
	{ "vm", "SOCK", 'v', "The source VMM's control socket (kvmig-vm --control). Required." },
	{ "to", "tcp:HOST:PORT", 't', "Where kvmig incoming listens. Required." },
	{ "channels", "N", 'c', "TCP connections, 1..64. Default 2, or --workers if larger." },
	{ "workers", "N", 'w', "How many channels' workers get pages, 1..--channels. Default: all." },
	{ "codec", "CODEC", 'C', "How pages with data travel: none (raw, the default), zlib, zstd, lz4, or auto (per page, by what the link and the CPUs allow)." },
	{ "level", "N", 'L', "The codec's level: zlib 1..9, zstd 1..19, auto 1..4 (its highest effort); none and lz4 take none." },
	{ "xbzrle", NULL, 'X', "Send a page sent before as its difference (XBZRLE) when that is small." },
	{ "xbzrle-cache-size", "SIZE", 'S', "Memory for the pages sent, all workers together; at least 64K, default 64M. Implies --xbzrle." },
	{ "xbzrle-threshold", "SIZE", 'H', "A difference of this many bytes or more goes through the codec instead, 1..4096 (default). Implies --xbzrle." },
	{ "max-bandwidth", "RATE", 'b', "Cap on the wire rate, all channels together; 0: none (the default); auto: 75% of the speed of the interface that routes to the destination (none on the loopback or when the interface reports no speed)." },
	{ "downtime-limit", "MS", 'd', "The downtime to aim for, 1..3600000 ms. Default 300." },
	{ "max-iterations", "N", 'i', "Passes with the guest running after which the switchover is forced, 1..100000. Default 30." },
	{ "no-force", NULL, 'F', "Fail rather than force a switchover over the downtime limit; the guest runs on." },
	{ "converge", "POLICY", 'G', "How to slow a guest that dirties faster than the link: auto (the default: dirty-limit if the VMM offers it, else auto-converge), dirty-limit, auto-converge or none." },
	{ "throttle-initial", "PCT", 'I', "auto-converge: the first CPU throttle, 1..99. Default 20." },
	{ "throttle-increment", "PCT", 'N', "auto-converge: added per pass without progress, 1..99. Default 10." },
	{ "throttle-max", "PCT", 'M', "auto-converge: the cap, 1..99. Default 99." },
	{ "no-io-aware", NULL, 'A', "dirty-limit: treat vCPUs that serve IO like the others." },
	{ "io-stall", "US", 'O', "dirty-limit: the longest stall of an IO-serving vCPU, 1..1000000 us. Default 2000." },
	{ "dirty-log", "BACKEND", 'l', "How the VMM tracks dirty pages: auto (the default), bitmap, clear, ring or fastwp." },
	{ "verify", NULL, 'V', "Hash every page on both sides at the switchover; fail if any differ." },
	{ "keep-vm", NULL, 'k', "After success, leave the source VMM (guest paused) instead of telling it to quit." },
	{ "json", NULL, 'j', "The final statistics as JSON on stdout; no progress line." },
	{ "quiet", NULL, 'q', "No progress line, no informational messages." },
	{ "report", "FILE", 'R', "Write the migration's timeline as an HTML page to FILE (self-contained: inline SVG charts per pass, the parameters, a table of the figures), also after a failure." },
	{ "timeout", "S", 'T', "Give up when the destination is silent for S seconds, 1..86400. Default 30." },
	{ "tls-creds", "DIR", 'K', "TLS 1.3 on every channel, with the credentials in DIR: ca-cert.pem, client-cert.pem, client-key.pem (x509), or keys.psk (PSK, username:hexkey lines). The destination must use TLS too." },
	{ "tls-hostname", "NAME", 'n', "The name (or address) the destination's certificate must carry. Default: the HOST of --to." },
	{ 0 }
};

/* A migrate option that is a live knob too: checked by the knob's rule. */
static uint64_t live_knob(int opt)
{
	return knob_parse(knob_of_opt(opt), optarg);
}

int cmd_migrate(const struct command *cmd, int argc, char **argv)
{
	struct cli c = { .tty = isatty(2) };
	struct kvmig_migrate_opts mo = {
		.sz = sizeof(mo), .progress = cli_progress, .progress_opaque = &c,
		.print = cli_print_msg, .print_opaque = &c,
		.tune = on_tune, .tune_opaque = &c,
	};
	struct kvmig_migration_stats st = { .sz = sizeof(st) };
	const char *vm = NULL, *to = NULL, *report = NULL;
	char *host, *port, err[256];
	bool keep = false, auto_bw = false;
	int opt, r;
	uint64_t v;

	c.source = true;
	while ((opt = cli_next_opt(cmd, argc, argv, "")) != -1) {
		switch (opt) {
		case 'v': vm = optarg; break;
		case 't': to = optarg; break;
		case 'c':
			mo.channels = (unsigned int)parse_range("--channels", optarg,
								1, 64, "");
			break;
		case 'b':
			auto_bw = !strcmp(optarg, "auto");
			if (!auto_bw)
				mo.max_bandwidth = live_knob(opt);
			break;
		case 'd':
			mo.downtime_limit_ms = (uint32_t)live_knob(opt);
			break;
		case 'i':
			mo.max_iterations = (uint32_t)parse_range("--max-iterations",
								  optarg, 1, 100000, "");
			break;
		case 'l':
			if (kvmig_dirty_backend_parse(optarg, &mo.dirty_backend) ||
			    mo.dirty_backend == KVMIG_DIRTY_REMOTE)
				cli_die("--dirty-log: auto, bitmap, clear, ring or fastwp, "
					"not '%s'", optarg);
			break;
		case 'V': mo.verify = true; break;
		case 'F': mo.no_force = true; break;
		case 'k': keep = true; break;
		case 'R':
			if (!*optarg)
				cli_die("--report: an empty path");
			report = optarg;
			break;
		case 'j': c.json = true; break;
		case 'q': c.quiet = true; break;
		case 'T': mo.timeout_ms = parse_timeout(optarg); break;
		case 'K': mo.tls_creds = optarg; break;
		case 'n': mo.tls_hostname = optarg; break;
		case 'C': mo.codec = (enum kvmig_codec)live_knob(opt); break;
		case 'L': mo.level = (int)live_knob(opt); break;
		case 'w': mo.workers = (unsigned int)live_knob(opt); break;
		case 'X': mo.xbzrle = true; break;
		case 'S':
			mo.xbzrle_cache_size = parse_num("--xbzrle-cache-size", optarg);
			if (mo.xbzrle_cache_size < (64 << 10))
				cli_die("--xbzrle-cache-size: at least 64K, not %s", optarg);
			mo.xbzrle = true;
			break;
		case 'H':
			v = parse_num("--xbzrle-threshold", optarg);
			if (!v || v > 4096)
				cli_die("--xbzrle-threshold: 1..4096 bytes, not %s", optarg);
			mo.xbzrle_threshold = (uint32_t)v;
			mo.xbzrle = true;
			break;
		case 'G':
			if (kvmig_converge_parse(optarg, &mo.converge))
				cli_die("--converge: auto, none, auto-converge or "
					"dirty-limit, not '%s'", optarg);
			break;
		case 'I': mo.throttle_initial = (uint32_t)live_knob(opt); break;
		case 'N': mo.throttle_increment = (uint32_t)live_knob(opt); break;
		case 'M': mo.throttle_max = (uint32_t)live_knob(opt); break;
		case 'A': mo.no_io_aware = true; break;
		case 'O': mo.io_stall_us = (uint32_t)live_knob(opt); break;
		default:
			return 2;	/* cli_next_opt() handled the others */
		}
	}
	if (!to)
		cli_die("migrate: --to tcp:HOST:PORT is required");
	if (mo.tls_hostname && !mo.tls_creds)
		cli_die("--tls-hostname: only with --tls-creds");
	if (mo.throttle_initial && mo.throttle_max &&
	    mo.throttle_initial > mo.throttle_max)
		cli_die("--throttle-initial %u%% is above --throttle-max %u%%",
			mo.throttle_initial, mo.throttle_max);
	if (mo.workers && !mo.channels)
		mo.channels = mo.workers < 2 ? 2 : mo.workers;
	if (mo.workers > (mo.channels ? mo.channels : 2))
		cli_die("--workers %u: at most --channels (%u)", mo.workers,
			mo.channels ? mo.channels : 2);
	cli_no_more_args(cmd, argc, argv);
	knob_check_level(mo.codec, (uint64_t)mo.level);
	parse_tcp("--to", to, false, &host, &port);
	if (auto_bw) {
		struct link_choice lc;

		if (link_auto_bandwidth(host, &lc, err, sizeof(err))) {
			fprintf(stderr, "kvmig: --max-bandwidth auto: %s\n", err);
			return 1;
		}
		mo.max_bandwidth = lc.cap;
		if (!c.quiet)
			fprintf(stderr, "kvmig: --max-bandwidth auto: %s\n", lc.why);
	}
	c.vmm = cli_connect_vmm(vm, &c);
	if (report && !(c.report = report_open(report, err, sizeof(err))))
		cli_die("--report: %s", err);
	r = kvmig_migrate(c.vmm, host, port, &mo, &st);
	json_decref(c.params);
	if (c.report && report_close(c.report, &st, &mo, vm, to, err, sizeof(err)))
		fprintf(stderr, "kvmig: --report: %s\n", err);
	else if (c.report && !c.quiet && !c.json)
		fprintf(stderr, "kvmig: the report is in %s\n", report);
	/* the destination runs the guest now: this VMM may go */
	return cli_finish(&c, &st, r, !r && !keep, "source", host, port);
}
