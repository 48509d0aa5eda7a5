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
 *   kvmig.c         main(), the usage text, the table of subcommands
 *   cmd_migrate.c   kvmig migrate, and on_tune(): kvmig set's values
 *                   into the running migration
 *   cmd_incoming.c  kvmig incoming, and its readiness (--ready-fd/-file)
 *   cmd_vmm.c       the short requests to a VMM: kvmig query, cancel,
 *                   set and vm
 *   cli.c           what every subcommand uses: die, the options' getopt
 *                   table and --help, the messages, the VMM's connection,
 *                   the progress callback and the end of a migration
 *   parse.c         the command line's numbers and addresses
 *   knob.c          the live knobs (kvmig set): option, JSON key, kind,
 *                   range, field, and the one rule of each kind
 *   show.c          the statistics for a person: progress line, summary,
 *                   kvmig query's text
 *   link.c          migrate --max-bandwidth auto: the link's speed, over
 *                   netlink
 *   report.c        migrate --report FILE: the migration's timeline as HTML
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "kvmig/kvmig.h"
#include "cli.h"
#include "cmd.h"

/*
 * The subcommands.  Adding one takes a row here and one new file,
 * cmd_NAME.c, with its options (cmd_NAME_opts[]) and cmd_NAME(), declared
 * in cmd.h.  The four that send a VMM one short request share cmd_vmm.c.
 */
static const struct command commands[] = {
	{ "migrate", "--vm SOCK --to tcp:HOST:PORT [OPTIONS]",
	  "Migrate the guest of the VMM at SOCK, live, to the kvmig incoming at "
	  "HOST:PORT. On success the source guest stays paused and its VMM is "
	  "told to quit (unless --keep-vm); on failure the guest runs on at the "
	  "source. Exit 0: completed; 1: failed or cancelled; 2: bad options.",
	  cmd_migrate_opts, cmd_migrate },
	{ "incoming", "--vm SOCK --listen tcp:[ADDR]:PORT [OPTIONS]",
	  "Receive one migration into the VMM at SOCK, which must wait for one "
	  "(kvmig-vm --incoming), and start its guest. A failed migration leaves "
	  "that VMM waiting for the next one. Exit 0: completed; 1: failed; 2: bad "
	  "options.",
	  cmd_incoming_opts, cmd_incoming },
	{ "query", "--vm SOCK [--json] [--timeout S]",
	  "Print the statistics of the migration that the VMM at SOCK takes or "
	  "took part in: for a person, or with --json as JSON.",
	  cmd_vmm_query_opts, cmd_vmm_query },
	{ "cancel", "--vm SOCK [--timeout S]",
	  "Cancel the migration running through the VMM at SOCK; its guest runs on "
	  "at the source.",
	  cmd_vmm_cancel_opts, cmd_vmm_cancel },
	{ "set", "--vm SOCK [--workers N] [--codec C] [--level N] "
	  "[--max-bandwidth RATE] [--downtime-limit MS] [--timeout S]",
	  "Change the knobs of the migration running through the source VMM at "
	  "SOCK, without stopping it.",
	  cmd_vmm_set_opts, cmd_vmm_set },
	{ "vm", "--vm SOCK [--timeout S] COMMAND [ARGUMENTS-JSON]",
	  "Send one control-protocol command to the VMM at SOCK and print its "
	  "answer as JSON ('kvmig vm --vm SOCK help' lists the commands).",
	  cmd_vmm_request_opts, cmd_vmm_request },
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
	struct sigaction sa = { .sa_handler = cli_on_signal };
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
