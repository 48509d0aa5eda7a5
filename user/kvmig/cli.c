// SPDX-License-Identifier: GPL-2.0
/*
 * What every kvmig subcommand uses (cli.h): its messages, its options'
 * getopt table and --help text, and its connection to the VMM.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"
#include "show.h"

/* "kvmig: " and the message on stderr, exit 2: a bad command line. */
void cli_die(const char *fmt, ...)
{
	va_list ap;

	fputs("kvmig: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/*
 * A string a VMM holds (its replies, the statistics a helper published
 * there), escaped for the terminal: whoever wrote it must not be able to
 * forge lines or send escape sequences to ours.  Four buffers, used in turn.
 */
const char *cli_safe(const char *str)
{
	static char buf[4][1024];
	static unsigned int k;
	char *b = buf[k++ % 4];

	if (!str)
		return NULL;
	kvmig_text_escape(b, sizeof(buf[0]), str, strlen(str));
	return b;
}

void cli_print_msg(enum kvmig_log_level l, const char *msg, void *opaque)
{
	struct cli *c = opaque;

	if (l > KVMIG_LOG_WARN && !(c && !c->quiet && l == KVMIG_LOG_INFO))
		return;
	if (c && c->tty && c->last_width)
		fputc('\n', stderr), c->last_width = 0;
	fprintf(stderr, "kvmig: %s%s\n", l == KVMIG_LOG_ERROR ? "error: " :
		l == KVMIG_LOG_WARN ? "warning: " : "", msg);
}

/* @text from column @col to 79, continuation lines indented to @indent */
void cli_wrap(FILE *f, const char *text, int col, int indent)
{
	while (*text) {
		int len = (int)strcspn(text, " ");

		if (col > indent && col + 1 + len > 79) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", len, text);
		col += len;
		text += len;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

void cli_help(const struct command *cmd, FILE *f)
{
	const struct optdoc *o;

	fprintf(f, "usage: kvmig %s %s\n\n", cmd->name, cmd->synopsis);
	cli_wrap(f, cmd->about, 0, 0);
	fputs("\nOptions:\n", f);
	for (o = cmd->opts; o->name; o++) {
		int col = fprintf(f, "  --%s%s%s", o->name, o->arg ? " " : "",
				  o->arg ? o->arg : "");

		if (col < 28)
			col += fprintf(f, "%*s", 28 - col, "");
		else
			col = fprintf(f, "\n%28s", "") - 1;
		cli_wrap(f, o->help, col, 28);
	}
	fprintf(f, "  --help%*s", 28 - 8, "");
	cli_wrap(f, "This text.", 28, 28);
	fputs("\nSizes take K/M/G suffixes (binary); rates are bytes/s with K/M/G, or\n"
	      "Kbit/Mbit/Gbit (decimal bits per second).  The manual: kvmig(1),\n"
	      "Documentation/kvmig.rst.\n", f);
}

/*
 * getopt_long() over @cmd's options and --help (which prints the help and
 * exits 0); an unknown option or a missing argument exits 2.
 */
int cli_next_opt(const struct command *cmd, int argc, char **argv,
		 const char *shortopts)
{
	struct option lo[64];
	unsigned int n = 0;
	const struct optdoc *o;
	int opt;

	for (o = cmd->opts; o->name && n < 62; o++)
		lo[n++] = (struct option){ o->name, o->arg ? required_argument :
					   no_argument, NULL, o->val };
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n] = (struct option){ 0 };
	opt = getopt_long(argc, argv, shortopts, lo, NULL);
	if (opt == 'h') {
		cli_help(cmd, stdout);
		exit(0);
	}
	if (opt == '?' || opt == ':') {
		/* getopt_long() said what was wrong */
		fprintf(stderr, "kvmig %s: see 'kvmig %s --help'\n", cmd->name,
			cmd->name);
		exit(2);
	}
	return opt;
}

/* No words after the options (but for kvmig vm's COMMAND). */
void cli_no_more_args(const struct command *cmd, int argc, char **argv)
{
	if (optind < argc)
		cli_die("%s: unexpected argument '%s' (see 'kvmig %s --help')",
			cmd->name, argv[optind], cmd->name);
}

struct kvmig_vmm *cli_connect_vmm(const char *path, struct cli *c)
{
	struct kvmig_vmm_opts o = {
		.sz = sizeof(o), .print = cli_print_msg, .print_opaque = c,
		.timeout_ms = c->vmm_timeout_ms,
	};
	struct kvmig_vmm *v;

	if (!path)
		cli_die("--vm SOCK is required");
	if (!*path)
		cli_die("--vm: an empty path");
	v = kvmig_vmm_connect(path, &o);
	if (!v) {
		/* kvmig_vmm_connect() printed why it could not connect */
		if (errno == ENAMETOOLONG || errno == ENOMEM)
			fprintf(stderr, "kvmig: --vm %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return v;
}

/* SIGINT, SIGTERM: the progress callback cancels the migration. */
static volatile sig_atomic_t interrupted;

void cli_on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Publish the statistics to the VMM; returns non-zero to cancel. */
int cli_progress(const struct kvmig_migration_stats *st, void *opaque)
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

/* Report, tell the VMM to quit if @quit, let go of everything. */
int cli_finish(struct cli *c, const struct kvmig_migration_stats *st,
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
