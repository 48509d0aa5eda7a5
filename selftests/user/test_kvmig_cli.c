// SPDX-License-Identifier: GPL-2.0
/*
 * kvmig's command line explains itself and refuses bad input by name,
 * before it contacts a VMM or the network (exit 2):
 *
 *  - kvmig --help lists every command, kvmig COMMAND --help (and kvmig help
 *    COMMAND) describes each of its options, kvmig --version;
 *  - ports outside 1..65535 (0 only where kvmig listens), a --to without a
 *    host, words after the options, an empty --vm, a --level that the
 *    --codec does not take, an unknown option: one message naming the
 *    option;
 *  - a live knob is refused by the same rule in kvmig set as in kvmig
 *    migrate (knob.c): a --level above every codec's, a --level with the
 *    --codec of the same kvmig set that does not take it, a
 *    --max-bandwidth above 2^63 - 1 (a JSON integer's end);
 *  - a socket that does not exist: exit 1, said once, no usage text.
 *
 * No VMM runs here, and no /dev/kvm is needed.
 */
#include "harness.h"

struct cli_case {
	const char *args[12];
	int rc;
	const char *msg;
};

static const struct cli_case cases[] = {
	{ { "--version" }, 0, "kvmig 0." },
	{ { "--help" }, 0, "kvmig incoming --vm SOCK --listen" },
	{ { "help", "set" }, 0, "  --downtime-limit MS " },
	{ { "migrate", "--help" }, 0, "--io-stall US" },
	{ { "migrate", "--help" }, 0, "--converge POLICY" },
	{ { "incoming", "--help" }, 0, "--quit-on-failure" },
	{ { "query", "--help" }, 0, "  --timeout S " },
	{ { "cancel", "--help" }, 0, "Cancel the migration" },
	{ { "vm", "--help" }, 0, "lists the commands" },
	{ { "frobnicate" }, 2, "unknown command 'frobnicate'" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:0" }, 2, "--to: port 0 is not 1..65535" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:70000" }, 2, "--to: port 70000 is not 1..65535" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:http" }, 2, "--to: 'http' is not a number" },
	{ { "migrate", "--vm", "s", "--to", "tcp::4444" }, 2, "--to: 'tcp::4444' names no host" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:1", "now" }, 2,
	  "migrate: unexpected argument 'now'" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:1", "--codec", "lz4", "--level", "3" }, 2,
	  "--level 3: --codec lz4 takes no level" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:1", "--level", "3" }, 2,
	  "--level 3: --codec none takes no level" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:1", "--codec", "zlib", "--level", "12" }, 2,
	  "--level: 1..9 for --codec zlib, not 12" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:1", "--codec", "auto", "--level", "5" }, 2,
	  "--level: 1..4 for --codec auto, not 5" },
	{ { "migrate", "--speed", "9" }, 2, "kvmig migrate: unrecognized option '--speed'" },
	{ { "incoming", "--vm", "s", "--listen", "tcp::65536" }, 2,
	  "--listen: port 65536 is not 0..65535" },
	{ { "incoming", "--vm", "s", "--listen", "tcp::0", "extra" }, 2,
	  "incoming: unexpected argument 'extra'" },
	{ { "query", "--vm", "" }, 2, "--vm: an empty path" },
	{ { "query", "--vm", "s", "twice" }, 2, "query: unexpected argument 'twice'" },
	{ { "set", "--vm", "s" }, 2, "set: nothing to set" },
	{ { "set", "--vm", "s", "--io-aware", "maybe" }, 2,
	  "--io-aware: on or off, not 'maybe'" },
	{ { "set", "--vm", "s", "--throttle-max", "100" }, 2,
	  "--throttle-max: 1..99 %, not 100" },
	{ { "set", "--vm", "s", "--level", "20" }, 2,
	  "--level: 0..19 (0: the codec's default), not 20" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:1", "--level", "20" }, 2,
	  "--level: 0..19 (0: the codec's default), not 20" },
	{ { "set", "--vm", "s", "--codec", "zlib", "--level", "12" }, 2,
	  "--level: 1..9 for --codec zlib, not 12" },
	{ { "set", "--vm", "s", "--level", "3", "--codec", "lz4" }, 2,
	  "--level 3: --codec lz4 takes no level" },
	{ { "set", "--vm", "s", "--max-bandwidth", "9223372036854775808" }, 2,
	  "--max-bandwidth: 0..9223372036854775807, not 9223372036854775808" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:1", "--max-bandwidth",
	    "9223372036854775808" }, 2,
	  "--max-bandwidth: 0..9223372036854775807, not 9223372036854775808" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:1", "--report", "" }, 2,
	  "--report: an empty path" },
	{ { "migrate", "--vm", "s", "--to", "tcp:h:1", "--tls-hostname", "h" }, 2,
	  "--tls-hostname: only with --tls-creds" },
	{ { "incoming", "--vm", "s", "--listen", "tcp::0", "--tls-authz", "CN=a" }, 2,
	  "--tls-authz: only with --tls-creds" },
	{ { "migrate", "--help" }, 0, "--tls-creds DIR" },
	{ { "incoming", "--help" }, 0, "--tls-authz DN|FILE" },
	{ { "query", "--vm", "/nonexistent/kvmig.sock" }, 1,
	  "cannot connect to the VMM at /nonexistent/kvmig.sock: No such file or directory" },
};

static unsigned int count(const char *hay, const char *needle)
{
	unsigned int n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

int main(void)
{
	char out[16384], same[16384];
	unsigned int i, k;
	int rc;

	ksft_print_header();
	ksft_set_plan(sizeof(cases) / sizeof(cases[0]) + 3);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[14] = { test_bin("kvmig") };
		char what[160] = "";

		for (k = 0; cases[i].args[k]; k++) {
			argv[k + 1] = cases[i].args[k];
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
				 " %s", cases[i].args[k]);
		}
		rc = test_run(argv, out, sizeof(out));
		/* one message, said once; a refusal is not a usage dump */
		ksft_test_result(rc == cases[i].rc && count(out, cases[i].msg) == 1 &&
				 (rc == 0 || !strstr(out, "Options:")),
				 "kvmig%s: exit %d, '%s'", what, cases[i].rc,
				 cases[i].msg);
		if (rc != cases[i].rc || count(out, cases[i].msg) != 1)
			ksft_print_msg("exit %d: %s\n", rc, out);
	}

	/* every command's --help is kvmig help COMMAND, and names --help */
	{
		static const char *const cmds[] = { "migrate", "incoming", "query",
						    "cancel", "set", "vm" };
		bool ok = true;

		for (i = 0; i < 6; i++) {
			const char *a[] = { test_bin("kvmig"), cmds[i], "--help", NULL };
			const char *b[] = { test_bin("kvmig"), "help", cmds[i], NULL };

			ok &= test_run(a, out, sizeof(out)) == 0;
			ok &= test_run(b, same, sizeof(same)) == 0;
			ok &= !strcmp(out, same) && strstr(out, "  --help") &&
			      strstr(out, "  --vm SOCK");
		}
		ksft_test_result(ok, "kvmig COMMAND --help == kvmig help COMMAND, "
				 "for all six commands");
	}
	/* every option of the synopsis is described in --help */
	{
		static const char *const opts[] = {
			"--channels N", "--workers N", "--codec CODEC", "--level N",
			"--xbzrle ", "--xbzrle-cache-size SIZE", "--xbzrle-threshold SIZE",
			"--max-bandwidth RATE", "--downtime-limit MS",
			"--max-iterations N", "--no-force", "--converge POLICY",
			"--throttle-initial PCT", "--throttle-increment PCT",
			"--throttle-max PCT", "--no-io-aware", "--io-stall US",
			"--dirty-log BACKEND", "--verify", "--keep-vm", "--json",
			"--quiet", "--timeout S",
		};
		const char *a[] = { test_bin("kvmig"), "migrate", "--help", NULL };
		unsigned int missing = 0;

		TEST_ASSERT(test_run(a, out, sizeof(out)) == 0, "migrate --help");
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if (!strstr(out, opts[i])) {
				ksft_print_msg("migrate --help lacks '%s'\n", opts[i]);
				missing++;
			}
		ksft_test_result(!missing, "kvmig migrate --help describes all %zu "
				 "options", sizeof(opts) / sizeof(opts[0]));
	}
	{
		const char *a[] = { test_bin("kvmig"), NULL };

		rc = test_run(a, out, sizeof(out));
		ksft_test_result(rc == 2 && strstr(out, "usage: kvmig COMMAND"),
				 "kvmig without a command: the usage, exit 2");
	}
	ksft_finished();
}
