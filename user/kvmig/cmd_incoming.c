// SPDX-License-Identifier: GPL-2.0
/*
 * kvmig incoming: the destination's end of a migration
 * (Documentation/kvmig.rst, "kvmig incoming"), and its readiness: the
 * address it listens on, announced once it does.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "parse.h"

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

const struct optdoc cmd_incoming_opts[] = {
	{ "vm", "SOCK", 'v', "The destination VMM's control socket; it must wait for a migration (kvmig-vm --incoming). Required." },
	{ "listen", "tcp:[ADDR]:PORT", 'l', "Where to listen. Required. No ADDR: any address; PORT 0: a free one, announced." },
	{ "no-start", NULL, 'n', "After success, leave the VM paused; start it later with cont." },
	{ "quit-on-failure", NULL, 'Q', "After a failure, tell the VMM to quit if its guest never ran. Without it the VMM waits on for the next kvmig incoming." },
	{ "json", NULL, 'j', "The final statistics as JSON on stdout; no progress line." },
	{ "quiet", NULL, 'q', "No progress line, no informational messages." },
	{ "timeout", "S", 'T', "Give up when the source is silent (or has not come) for S seconds, 1..86400. Default 30." },
	{ "ready-fd", "N", 'R', "Once listening, write the address (tcp:HOST:PORT) to the open fd N as one line, and close it." },
	{ "ready-file", "FILE", 'F', "Once listening, write the address to FILE (renamed into place); removed when no longer listening." },
	{ "tls-creds", "DIR", 'K', "TLS 1.3 on every channel, with the credentials in DIR: ca-cert.pem, server-cert.pem, server-key.pem (x509; the source must present a certificate the CA signed), or keys.psk (PSK). A source without TLS is refused." },
	{ "tls-authz", "DN|FILE", 'Z', "x509: let in only a source whose certificate's distinguished name is DN (as CN=src,O=org), or one of those in FILE, one a line." },
	{ 0 }
};

int cmd_incoming(const struct command *cmd, int argc, char **argv)
{
	struct cli c = { .tty = isatty(2), .ready_fd = -1 };
	bool quit_on_failure = false;
	struct kvmig_incoming_opts io = {
		.sz = sizeof(io), .progress = cli_progress, .progress_opaque = &c,
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
		case 'K': io.tls_creds = optarg; break;
		case 'Z': io.tls_authz = optarg; break;
		default:
			return 2;	/* cli_next_opt() handled the others */
		}
	}
	if (!listen)
		cli_die("incoming: --listen tcp:[ADDR]:PORT is required");
	if (io.tls_authz && !io.tls_creds)
		cli_die("--tls-authz: only with --tls-creds");
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
	return cli_finish(&c, &st, r, r && quit_on_failure && vmm_waits(&c),
			  "destination", host, port);
}
