/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every kvmig subcommand uses (cli.c): the state of one run, the
 * options with their help, the messages, the VMM's connection, and the
 * progress and the end of a migration, either end.
 */
#ifndef KVMIG_CLI_H
#define KVMIG_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kvmig/kvmig.h"

struct report;

/* One run of a subcommand: what its callbacks share. */
struct cli {
	struct kvmig_vmm *vmm;
	bool json;
	bool tty;
	bool quiet;
	int last_width;
	uint64_t last_iter;
	uint64_t last_line_ms;	/* total-time of the last plain line */
	json_t *params;		/* from the VMM (kvmig set), not yet applied */
	bool source;		/* a migrate: takes "kvmig set" parameters */
	int ready_fd;		/* incoming --ready-fd, or -1 */
	const char *ready_file;	/* incoming --ready-file, or NULL */
	int vmm_timeout_ms;	/* per VMM request; 0: the library's 60 s */
	struct report *report;	/* migrate --report, or NULL */
};

/* query, cancel, set, vm: a VMM answers these in milliseconds */
#define SHORT_TIMEOUT_MS	10000

/*
 * Every subcommand's options with their help: getopt_long's table and
 * "kvmig COMMAND --help" come from the same array.
 */
struct optdoc {
	const char *name;
	const char *arg;	/* the argument's name, or NULL: a flag */
	int val;		/* what getopt_long returns */
	const char *help;
};

struct command {
	const char *name;
	const char *synopsis;	/* after "kvmig NAME " */
	const char *about;
	const struct optdoc *opts;
	int (*run)(const struct command *cmd, int argc, char **argv);
};

__attribute__((noreturn, format(printf, 1, 2)))
void cli_die(const char *fmt, ...);
const char *cli_safe(const char *str);
/* libkvmig's print callback; @opaque is the struct cli, or NULL */
void cli_print_msg(enum kvmig_log_level l, const char *msg, void *opaque);
/* --vm @path, or exit: 2 without a path, 1 when it cannot be reached */
struct kvmig_vmm *cli_connect_vmm(const char *path, struct cli *c);

void cli_wrap(FILE *f, const char *text, int col, int indent);
/* "kvmig COMMAND --help" */
void cli_help(const struct command *cmd, FILE *f);
int cli_next_opt(const struct command *cmd, int argc, char **argv,
		 const char *shortopts);
void cli_no_more_args(const struct command *cmd, int argc, char **argv);

/* SIGINT, SIGTERM: the migration's next progress callback cancels it */
void cli_on_signal(int sig);
/*
 * A migration's progress and end, either side's: libkvmig's progress
 * callback (non-zero to cancel), and the summary, the VMM told to quit if
 * @quit and let go; the exit status.
 */
int cli_progress(const struct kvmig_migration_stats *st, void *opaque);
int cli_finish(struct cli *c, const struct kvmig_migration_stats *st, int r,
	       bool quit, const char *side, char *host, char *port);

#endif
