// SPDX-License-Identifier: GPL-2.0
/*
 * The short requests to a VMM, one file for the four subcommands that
 * send one request and print its answer, in SHORT_TIMEOUT_MS: kvmig query
 * (query-migrate), kvmig cancel (migrate-cancel), kvmig set
 * (migrate-set-parameters, the live knobs of knob.c) and kvmig vm (any
 * command).  Documentation/kvmig.rst, "kvmig query and kvmig cancel",
 * "kvmig set" and "kvmig vm".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "knob.h"
#include "parse.h"
#include "show.h"

const struct optdoc cmd_vmm_query_opts[] = {
	{ "vm", "SOCK", 'v', "The VMM's control socket, source or destination. Required." },
	{ "json", NULL, 'j', "The statistics as the VMM holds them: JSON, QEMU's names." },
	{ "timeout", "S", 'T', "Wait S seconds for the answer, 1..86400. Default 10." },
	{ 0 }
};

const struct optdoc cmd_vmm_cancel_opts[] = {
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

int cmd_vmm_query(const struct command *cmd, int argc, char **argv)
{
	return cmd_simple(cmd, argc, argv, "query-migrate");
}

int cmd_vmm_cancel(const struct command *cmd, int argc, char **argv)
{
	return cmd_simple(cmd, argc, argv, "migrate-cancel");
}

/*
 * kvmig set: hand new knobs to the running migration through its VMM.
 * Every option but --vm and --timeout is a live knob, found in knob.c's
 * table by its getopt value.
 */
const struct optdoc cmd_vmm_set_opts[] = {
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

int cmd_vmm_set(const struct command *cmd, int argc, char **argv)
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

const struct optdoc cmd_vmm_request_opts[] = {
	{ "vm", "SOCK", 'v', "The VMM's control socket. Required; it comes before COMMAND." },
	{ "timeout", "S", 'T', "Wait S seconds for the answer, 1..86400. Default 10." },
	{ 0 }
};

int cmd_vmm_request(const struct command *cmd, int argc, char **argv)
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
