// SPDX-License-Identifier: GPL-2.0
/*
 * kvmig: the migration helper.
 *
 *   kvmig migrate  --vm SOCK --to tcp:HOST:PORT [options]
 *   kvmig incoming --vm SOCK --listen tcp:[ADDR]:PORT [options]
 *   kvmig query    --vm SOCK
 *   kvmig cancel   --vm SOCK
 *   kvmig set      --vm SOCK [--workers N] [--codec C] ...
 *   kvmig vm       --vm SOCK COMMAND [ARGUMENTS-JSON]
 *
 * It talks to the VMM over its control socket (Documentation/
 * control-protocol.rst) and runs libkvmig's source or destination.  While a
 * migration runs, it publishes the statistics to the VMM (migrate-set-status)
 * so that "kvmig query" and "kvmig cancel", from any shell, reach it.
 * Documentation/kvmig.rst is the manual.
 *
 * One concern a file, whose name prefixes its functions:
 *   kvmig.c     main(), the usage text, the subcommands
 *   cli.c       what every subcommand uses: die, the options' getopt table
 *               and --help, the messages, the VMM's connection (cli.h)
 *   parse.c     the command line's numbers and addresses
 *   knob.c      the live knobs (kvmig set): option, JSON key, kind, range,
 *               field, and the one rule of each kind
 *   show.c      the statistics for a person: progress line, summary, query
 *   link.c      migrate --max-bandwidth auto: the link's speed, over netlink
 *   report.c    migrate --report FILE: the migration's timeline as HTML
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvmig/kvmig.h"
#include "cli.h"
#include "knob.h"
#include "link.h"
#include "parse.h"
#include "report.h"
#include "show.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Publish the statistics to the VMM; returns non-zero to cancel. */
static int on_progress(const struct kvmig_migration_stats *st, void *opaque)
{
	struct cli *c = opaque;
	char *text = kvmig_migration_stats_json(st), *args = NULL, *reply = NULL;
	int cancel = 0;

	show_progress(c, st);
	report_progress(c->report, st);
	if (text && asprintf(&args, "{\"status\": %s}", text) > 0 &&
	    !kvmig_vmm_request(c->vmm, "migrate-set-status", args, &reply, NULL,
			       0, NULL)) {
		json_t *r = json_loads(reply, 0, NULL);

		cancel = json_is_true(json_object_get(r, "cancel"));
		if (c->source && json_is_object(json_object_get(r, "parameters"))) {
			if (!c->params)
				c->params = json_object();
			json_object_update(c->params, json_object_get(r, "parameters"));
		}
		json_decref(r);
	}
	free(text);
	free(args);
	free(reply);
	return cancel || interrupted;
}

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

/* Whether the VMM still waits for an incoming migration (never ran). */
static bool vmm_waits(struct cli *c)
{
	char *reply = NULL;
	json_t *o;
	bool waits;

	if (kvmig_vmm_request(c->vmm, "query-status", NULL, &reply, NULL, 0, NULL))
		return false;
	o = json_loads(reply, 0, NULL);
	waits = !strcmp(json_string_value(json_object_get(o, "status")) ?: "",
			"inmigrate");
	json_decref(o);
	free(reply);
	return waits;
}

/* Report, tell the VMM to quit if @quit, let go of everything. */
static int finish(struct cli *c, const struct kvmig_migration_stats *st,
		  int r, bool quit, const char *side, char *host, char *port)
{
	show_final(c, st);
	if (quit && kvmig_vmm_request(c->vmm, "quit", NULL, NULL, NULL, 0, NULL))
		fprintf(stderr, "kvmig: telling the %s VMM to quit: %s\n", side,
			kvmig_vmm_last_error(c->vmm));
	kvmig_vmm_close(c->vmm);
	free(host);
	free(port);
	return r ? 1 : 0;
}

static const struct optdoc migrate_opts[] = {
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
	{ 0 }
};

/*
 * A migrate option that is a live knob too: kvmig set's option of the
 * same name, with the same getopt value, and the knob's rule (knob.c).
 */
static uint64_t live_knob(int opt)
{
	return knob_parse(knob_of_opt(opt), optarg);
}

static int cmd_migrate(const struct command *cmd, int argc, char **argv)
{
	struct cli c = { .tty = isatty(2) };
	struct kvmig_migrate_opts mo = {
		.sz = sizeof(mo), .progress = on_progress, .progress_opaque = &c,
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
	return finish(&c, &st, r, !r && !keep, "source", host, port);
}

/* --ready-fd N: N must be open now, not once we listen */
static int parse_ready_fd(const char *s)
{
	int fd = (int)parse_range("--ready-fd", s, 0, INT_MAX, "");

	if (fcntl(fd, F_GETFD) < 0)
		cli_die("--ready-fd %d: %s", fd, strerror(errno));
	return fd;
}

/*
 * Readiness (Documentation/kvmig.rst, "Readiness"): the line
 * "tcp:HOST:PORT\n" that --to takes, once the socket listens.  To the
 * ready fd, then closed (a pipe's reader sees the line, or EOF if we died
 * first; stdout and stderr stay open), and to the ready file under a
 * temporary name renamed into place, so that it is never seen half written.
 */
static int on_listening(const char *host, const char *port, void *opaque)
{
	struct cli *c = opaque;
	bool v6 = strchr(host, ':');
	char line[128], *tmp = NULL;
	int len, r = 0, fd;

	len = snprintf(line, sizeof(line), "tcp:%s%s%s:%s\n", v6 ? "[" : "",
		       host, v6 ? "]" : "", port);
	if (len < 0 || len >= (int)sizeof(line))
		return -ENAMETOOLONG;
	if (!c->quiet)
		fprintf(stderr, "kvmig: listening on %.*s\n", len - 1, line);
	errno = 0;
	if (c->ready_fd >= 0) {
		if (write(c->ready_fd, line, (size_t)len) != len)
			r = errno ? -errno : -EIO;
		if (c->ready_fd > 2)
			close(c->ready_fd);
		c->ready_fd = -1;
		if (r) {
			fprintf(stderr, "kvmig: --ready-fd: %s\n", strerror(-r));
			return r;
		}
	}
	if (c->ready_file) {
		if (asprintf(&tmp, "%s.tmp", c->ready_file) < 0)
			return -ENOMEM;
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, line, (size_t)len) != len || close(fd) ||
		    rename(tmp, c->ready_file)) {
			r = errno ? -errno : -EIO;
			fprintf(stderr, "kvmig: --ready-file %s: %s\n",
				c->ready_file, strerror(-r));
			unlink(tmp);
		}
		free(tmp);
	}
	return r;
}

static const struct optdoc incoming_opts[] = {
	{ "vm", "SOCK", 'v', "The destination VMM's control socket; it must wait for a migration (kvmig-vm --incoming). Required." },
	{ "listen", "tcp:[ADDR]:PORT", 'l', "Where to listen. Required. No ADDR: any address; PORT 0: a free one, announced." },
	{ "no-start", NULL, 'n', "After success, leave the VM paused; start it later with cont." },
	{ "quit-on-failure", NULL, 'Q', "After a failure, tell the VMM to quit if its guest never ran. Without it the VMM waits on for the next kvmig incoming." },
	{ "json", NULL, 'j', "The final statistics as JSON on stdout; no progress line." },
	{ "quiet", NULL, 'q', "No progress line, no informational messages." },
	{ "timeout", "S", 'T', "Give up when the source is silent (or has not come) for S seconds, 1..86400. Default 30." },
	{ "ready-fd", "N", 'R', "Once listening, write the address (tcp:HOST:PORT) to the open fd N as one line, and close it." },
	{ "ready-file", "FILE", 'F', "Once listening, write the address to FILE (renamed into place); removed when no longer listening." },
	{ 0 }
};

static int cmd_incoming(const struct command *cmd, int argc, char **argv)
{
	struct cli c = { .tty = isatty(2), .ready_fd = -1 };
	bool quit_on_failure = false;
	struct kvmig_incoming_opts io = {
		.sz = sizeof(io), .progress = on_progress, .progress_opaque = &c,
		.print = cli_print_msg, .print_opaque = &c,
		.listening = on_listening, .listening_opaque = &c,
	};
	struct kvmig_migration_stats st = { .sz = sizeof(st) };
	const char *vm = NULL, *listen = NULL;
	char *host, *port;
	int opt, r;

	while ((opt = cli_next_opt(cmd, argc, argv, "")) != -1) {
		switch (opt) {
		case 'v': vm = optarg; break;
		case 'l': listen = optarg; break;
		case 'n': io.no_start = true; break;
		case 'j': c.json = true; break;
		case 'q': c.quiet = true; break;
		case 'T': io.timeout_ms = parse_timeout(optarg); break;
		case 'R': c.ready_fd = parse_ready_fd(optarg); break;
		case 'F': c.ready_file = optarg; break;
		case 'Q': quit_on_failure = true; break;
		default:
			return 2;	/* cli_next_opt() handled the others */
		}
	}
	if (!listen)
		cli_die("incoming: --listen tcp:[ADDR]:PORT is required");
	cli_no_more_args(cmd, argc, argv);
	parse_tcp("--listen", listen, true, &host, &port);
	/* a file left by an earlier run must not announce this one */
	if (c.ready_file && unlink(c.ready_file) && errno != ENOENT)
		cli_die("--ready-file %s: %s", c.ready_file, strerror(errno));
	c.vmm = cli_connect_vmm(vm, &c);
	r = kvmig_incoming(c.vmm, host[0] ? host : NULL, port, &io, &st);
	/* no longer listening: a stale file must not say we are */
	if (c.ready_file)
		unlink(c.ready_file);
	/*
	 * A failed migration leaves the VMM waiting for the next one (which
	 * overwrites every page); with --quit-on-failure it quits (exit 3: its
	 * guest never ran), if it still waits: a guest that runs is never
	 * stopped here.
	 */
	return finish(&c, &st, r, r && quit_on_failure && vmm_waits(&c),
		      "destination", host, port);
}

/* the VMM's "help" answer, one command a line with its arguments */
static void print_vmm_help(json_t *list)
{
	json_t *e, *a;
	size_t i, k;

	printf("The VMM's control commands (Documentation/control-protocol.rst):\n");
	json_array_foreach(list, i, e) {
		printf("  %s", cli_safe(json_string_value(json_object_get(e, "name"))) ?: "?");
		json_array_foreach(json_object_get(e, "arguments"), k, a)
			printf("%s%s", k ? ", " : "  ", cli_safe(json_string_value(a)) ?: "?");
		putchar('\n');
	}
}

static const struct optdoc vm_opts[] = {
	{ "vm", "SOCK", 'v', "The VMM's control socket. Required; it comes before COMMAND." },
	{ "timeout", "S", 'T', "Wait S seconds for the answer, 1..86400. Default 10." },
	{ 0 }
};

static int cmd_vm(const struct command *cmd, int argc, char **argv)
{
	struct cli c = { .vmm_timeout_ms = SHORT_TIMEOUT_MS };
	const char *vm = NULL;
	char *reply = NULL;
	int opt, r;
	json_t *o;

	while ((opt = cli_next_opt(cmd, argc, argv, "+")) != -1) {
		switch (opt) {
		case 'v': vm = optarg; break;
		case 'T': c.vmm_timeout_ms = parse_timeout(optarg); break;
		default:
			return 2;	/* cli_next_opt() handled the others */
		}
	}
	if (optind >= argc || argc - optind > 2)
		cli_die("vm: give COMMAND and optionally its arguments as a JSON object");
	c.vmm = cli_connect_vmm(vm, &c);
	r = kvmig_vmm_request(c.vmm, argv[optind], argc - optind == 2 ?
			      argv[optind + 1] : NULL, &reply, NULL, 0, NULL);
	if (r) {
		fprintf(stderr, "kvmig: %s\n", kvmig_vmm_last_error(c.vmm));
	} else if (!strcmp(argv[optind], "help") &&
		   (o = json_loads(reply, 0, NULL)) && json_is_array(o)) {
		print_vmm_help(o);
		json_decref(o);
	} else {
		o = json_loads(reply, JSON_DECODE_ANY, NULL);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
		fputc('\n', stdout);
		json_decref(o);
	}
	free(reply);
	kvmig_vmm_close(c.vmm);
	return r ? 1 : 0;
}

static const struct optdoc query_opts[] = {
	{ "vm", "SOCK", 'v', "The VMM's control socket, source or destination. Required." },
	{ "json", NULL, 'j', "The statistics as the VMM holds them: JSON, QEMU's names." },
	{ "timeout", "S", 'T', "Wait S seconds for the answer, 1..86400. Default 10." },
	{ 0 }
};

static const struct optdoc simple_opts[] = {
	{ "vm", "SOCK", 'v', "The VMM's control socket, source or destination. Required." },
	{ "timeout", "S", 'T', "Wait S seconds for the answer, 1..86400. Default 10." },
	{ 0 }
};

static int cmd_simple(const struct command *cmd, int argc, char **argv,
		      const char *what)
{
	struct cli c = { .vmm_timeout_ms = SHORT_TIMEOUT_MS };
	const char *vm = NULL;
	char *reply = NULL;
	int opt, r;

	while ((opt = cli_next_opt(cmd, argc, argv, "")) != -1) {
		switch (opt) {
		case 'v': vm = optarg; break;
		case 'j': c.json = true; break;
		case 'T': c.vmm_timeout_ms = parse_timeout(optarg); break;
		default:
			return 2;	/* cli_next_opt() handled the others */
		}
	}
	if (optind < argc)
		cli_die("%s: unexpected argument '%s'", cmd->name, argv[optind]);
	c.vmm = cli_connect_vmm(vm, &c);
	r = kvmig_vmm_request(c.vmm, what, NULL, &reply, NULL, 0, NULL);
	if (r) {
		fprintf(stderr, "kvmig: %s\n", kvmig_vmm_last_error(c.vmm));
	} else if (!strcmp(what, "query-migrate")) {
		json_t *o = json_loads(reply, 0, NULL);

		if (c.json) {
			json_dumpf(o, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
		} else {
			show_query(o);
		}
		json_decref(o);
	}
	free(reply);
	kvmig_vmm_close(c.vmm);
	return r ? 1 : 0;
}

/* kvmig set: hand new knobs to the running migration through its VMM. */
static const struct optdoc set_opts[] = {
	{ "vm", "SOCK", 'v', "The source VMM's control socket. Required." },
	{ "workers", "N", 'w', "Workers that get pages, 1..--channels of the migration." },
	{ "codec", "CODEC", 'C', "none, zlib, zstd, lz4 or auto." },
	{ "level", "N", 'L', "The codec's level, 0..19 (0: its default)." },
	{ "max-bandwidth", "RATE", 'b', "Cap on the wire rate; 0: none." },
	{ "downtime-limit", "MS", 'd', "The downtime to aim for, 1..3600000 ms." },
	{ "throttle-initial", "PCT", 'I', "auto-converge: the first CPU throttle, 1..99." },
	{ "throttle-increment", "PCT", 'N', "auto-converge: added per pass without progress, 1..99." },
	{ "throttle-max", "PCT", 'M', "auto-converge: the cap, 1..99; a throttle above it comes down at once." },
	{ "io-aware", "on|off", 'A', "dirty-limit: spare the vCPUs that serve IO (on) or not (off)." },
	{ "io-stall", "US", 'O', "dirty-limit: the longest stall of an IO-serving vCPU, 1..1000000 us." },
	{ "timeout", "S", 'T', "Wait S seconds for the VMM's answer, 1..86400. Default 10." },
	{ 0 }
};

static int cmd_set(const struct command *cmd, int argc, char **argv)
{
	struct cli c = { .vmm_timeout_ms = SHORT_TIMEOUT_MS };
	json_t *args = json_object();
	const struct knob *k;
	const char *vm = NULL;
	uint64_t v, level = 0;
	int opt, r, codec = -1;
	char *text;

	while ((opt = cli_next_opt(cmd, argc, argv, "")) != -1) {
		switch (opt) {
		case 'v': vm = optarg; break;
		case 'T': c.vmm_timeout_ms = parse_timeout(optarg); break;
		default:
			k = knob_of_opt(opt);
			if (!k)
				return 2;	/* cli_next_opt() handled the others */
			v = knob_parse(k, optarg);
			if (k->kind == KNOB_CODEC)
				codec = (int)v;
			if (k->kind == KNOB_LEVEL)
				level = v;
			json_object_set_new(args, k->key, knob_json(k, v));
		}
	}
	cli_no_more_args(cmd, argc, argv);
	if (!json_object_size(args))
		cli_die("set: nothing to set (see 'kvmig set --help')");
	/* a level with the codec it is for: as kvmig migrate checks it */
	if (codec >= 0)
		knob_check_level((enum kvmig_codec)codec, level);
	c.vmm = cli_connect_vmm(vm, &c);
	text = json_dumps(args, JSON_COMPACT);
	r = kvmig_vmm_request(c.vmm, "migrate-set-parameters", text, NULL, NULL,
			      0, NULL);
	if (r)
		fprintf(stderr, "kvmig: %s\n", kvmig_vmm_last_error(c.vmm));
	free(text);
	json_decref(args);
	kvmig_vmm_close(c.vmm);
	return r ? 1 : 0;
}

static int cmd_query(const struct command *cmd, int argc, char **argv)
{
	return cmd_simple(cmd, argc, argv, "query-migrate");
}

static int cmd_cancel(const struct command *cmd, int argc, char **argv)
{
	return cmd_simple(cmd, argc, argv, "migrate-cancel");
}

static const struct command commands[] = {
	{ "migrate", "--vm SOCK --to tcp:HOST:PORT [OPTIONS]",
	  "Migrate the guest of the VMM at SOCK, live, to the kvmig incoming at "
	  "HOST:PORT. On success the source guest stays paused and its VMM is "
	  "told to quit (unless --keep-vm); on failure the guest runs on at the "
	  "source. Exit 0: completed; 1: failed or cancelled; 2: bad options.",
	  migrate_opts, cmd_migrate },
	{ "incoming", "--vm SOCK --listen tcp:[ADDR]:PORT [OPTIONS]",
	  "Receive one migration into the VMM at SOCK, which must wait for one "
	  "(kvmig-vm --incoming), and start its guest. A failed migration leaves "
	  "that VMM waiting for the next one. Exit 0: completed; 1: failed; 2: bad "
	  "options.", incoming_opts, cmd_incoming },
	{ "query", "--vm SOCK [--json] [--timeout S]",
	  "Print the statistics of the migration that the VMM at SOCK takes or "
	  "took part in: for a person, or with --json as JSON.", query_opts,
	  cmd_query },
	{ "cancel", "--vm SOCK [--timeout S]",
	  "Cancel the migration running through the VMM at SOCK; its guest runs on "
	  "at the source.", simple_opts, cmd_cancel },
	{ "set", "--vm SOCK [--workers N] [--codec C] [--level N] "
	  "[--max-bandwidth RATE] [--downtime-limit MS] [--timeout S]",
	  "Change the knobs of the migration running through the source VMM at "
	  "SOCK, without stopping it.", set_opts, cmd_set },
	{ "vm", "--vm SOCK [--timeout S] COMMAND [ARGUMENTS-JSON]",
	  "Send one control-protocol command to the VMM at SOCK and print its "
	  "answer as JSON ('kvmig vm --vm SOCK help' lists the commands).",
	  vm_opts, cmd_vm },
	{ 0 }
};

static void usage(FILE *f)
{
	const struct command *cmd;

	fputs("usage: kvmig COMMAND [OPTIONS]\n\n", f);
	for (cmd = commands; cmd->name; cmd++) {
		int col = fprintf(f, "  kvmig %-8s ", cmd->name);

		cli_wrap(f, cmd->synopsis, col, col);
	}
	fputs("  kvmig --version\n\n"
	      "'kvmig COMMAND --help' describes each option of COMMAND; the manual\n"
	      "is kvmig(1) (Documentation/kvmig.rst).\n", f);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const struct command *cmd;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		for (cmd = commands; argc > 2 && cmd->name; cmd++)
			if (!strcmp(cmd->name, argv[2])) {
				cli_help(cmd, stdout);
				return 0;
			}
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kvmig %s\n", kvmig_version());
		return 0;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (cmd = commands; cmd->name; cmd++) {
		char prog[32];

		if (strcmp(cmd->name, argv[1]))
			continue;
		/* getopt_long()'s messages begin with "kvmig COMMAND: " */
		snprintf(prog, sizeof(prog), "kvmig %s", cmd->name);
		argv[1] = prog;
		return cmd->run(cmd, argc - 1, argv + 1);
	}
	fprintf(stderr, "kvmig: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
