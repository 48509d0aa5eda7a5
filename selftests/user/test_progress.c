// SPDX-License-Identifier: GPL-2.0
/*
 * What a person sees of a migration that takes a while (a 40 MiB working
 * set over a 64 Mbit/s link: a first pass of about five seconds):
 *
 *  - during the first pass, query-migrate has the pass's pages and how
 *    many are done (growing), a wire rate, its time left, which comes
 *    true within a factor of three, and an expected downtime that is not
 *    0; kvmig query prints the pass and the knobs in force for a person;
 *  - kvmig migrate's summary: each worker's busy time is the sum of its
 *    parts, and the workers' pages and MiB add up to the migration's;
 *  - kvmig migrate --report FILE.html: a self-contained page (no script,
 *    nothing fetched) that Debian's chromium renders headless; its DOM
 *    shows the run's figures (status, downtime, one row per pass) and a
 *    chart per figure; a screenshot is left next to it for a person;
 *  - --report to a path that cannot be created: refused before anything
 *    happens, and the guest runs on;
 *
 * and every page of both sides is the same afterwards.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static const char *const src_args[] = {
	"--vcpus", "2", "--mem", "64M", "--dirty-ring", "256",
	"--workload", "0:dirty,rate=0,ws=40M,pattern=seq,data=random",
	"--workload", "1:idle", NULL,
};
static const char *const dst_args[] = {
	"--vcpus", "2", "--mem", "64M", "--dirty-ring", "256", NULL,
};

#define LINK		"64Mbit"
#define PAGES		16384	/* 64 MiB */

static char out[1 << 18];

/* "busy A ms = compressing B + waiting for the link C + the rest D ms" */
static bool workers_add_up(const char *log, json_t *st)
{
	double pages = 0, mib = 0;
	const char *p = log;
	unsigned int n = 0;

	while ((p = strstr(p, "  worker "))) {
		double wp, wmib, busy, codec, wait, rest;
		unsigned int i;

		if (sscanf(p, "  worker %u %lf pages, %lf MiB, busy %lf ms = "
			   "compressing %lf + waiting for the link %lf + the rest "
			   "%lf ms", &i, &wp, &wmib, &busy, &codec, &wait,
			   &rest) != 7) {
			ksft_print_msg("not a worker line: %.160s\n", p);
			return false;
		}
		/* each figure is rounded to 0.1 ms */
		if (busy < codec + wait + rest - 0.2 || busy > codec + wait + rest + 0.2) {
			ksft_print_msg("worker %u: busy %.1f != %.1f + %.1f + %.1f\n",
				       i, busy, codec, wait, rest);
			return false;
		}
		pages += wp;
		mib += wmib;
		n++;
		p++;
	}
	if (n != 2 || pages != (double)(json_path_int(st, "ram.normal") +
					json_path_int(st, "ram.duplicate")) ||
	    mib < (double)json_path_int(st, "ram.transferred") / 1048576.0 - 0.1 ||
	    mib > (double)json_path_int(st, "ram.transferred") / 1048576.0 + 0.1) {
		ksft_print_msg("%u workers, %.0f pages, %.1f MiB against %s\n", n,
			       pages, mib, json_text(st));
		return false;
	}
	return true;
}

/* Nothing a browser would fetch or run: the page stands alone. */
static bool self_contained(const char *html)
{
	static const char *const bad[] = {
		"<script", "src=", "href=", "url(", "@import", "<link",
		"<iframe", "<img",
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (strstr(html, bad[i])) {
			ksft_print_msg("the report has '%s'\n", bad[i]);
			return false;
		}
	return true;
}

static unsigned int count(const char *s, const char *what)
{
	unsigned int n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s += strlen(what);
	}
	return n;
}

/* Debian's chromium, headless, on @html: the DOM after parsing, and a PNG. */
static void check_in_browser(const char *html, const char *png, json_t *st)
{
	char url[256], shot[300], want[128];
	const char *dom_argv[] = { "/usr/bin/chromium", "--headless", "--no-sandbox",
				   "--disable-gpu", "--dump-dom", url, NULL };
	const char *png_argv[] = { "/usr/bin/chromium", "--headless", "--no-sandbox",
				   "--disable-gpu", "--hide-scrollbars",
				   "--window-size=1000,2800", shot, url, NULL };
	long long passes = json_path_int(st, "ram.iterations");
	unsigned char sig[8] = { 0 };
	struct stat sb;
	const char *body;
	FILE *f;
	int rc;

	if (access(dom_argv[0], X_OK)) {
		ksft_test_result(false, "the report in a browser: %s is missing "
				 "(make deps installs Debian's chromium)", dom_argv[0]);
		ksft_test_result(false, "a screenshot of the report");
		return;
	}
	snprintf(url, sizeof(url), "file://%s", html);
	snprintf(shot, sizeof(shot), "--screenshot=%s", png);
	rc = test_run(dom_argv, out, sizeof(out));
	/* chromium's own chatter (dbus, GPU) precedes the document */
	body = strstr(out, "<html") ?: "";
	snprintf(want, sizeof(want), "<th>downtime</th><td>%lld ms",
		 (long long)json_path_int(st, "downtime"));
	/* one row per pass; the last, the stop-and-copy, is named "stop" */
	ksft_test_result(rc == 0 && strstr(body, "<span id=\"status\">completed</span>") &&
			 strstr(body, want) && count(body, "<svg") >= 5 &&
			 count(body, "<tr><td>") == (unsigned int)passes &&
			 strstr(body, "<tr><td>stop</td>") &&
			 strstr(body, "</html>"),
			 "chromium renders the report: status, downtime, %lld passes "
			 "in the table, the charts", passes);
	if (rc || !strstr(body, want))
		ksft_print_msg("chromium exit %d, want '%s': %.2000s\n", rc, want, out);

	unlink(png);
	rc = test_run(png_argv, out, sizeof(out));
	f = fopen(png, "rb");
	ksft_test_result(rc == 0 && f && fread(sig, 1, 8, f) == 8 &&
			 !memcmp(sig, "\x89PNG\r\n\x1a\n", 8) && !stat(png, &sb) &&
			 sb.st_size > 20000,
			 "chromium takes a screenshot of it (%s, %lld bytes)", png,
			 f && !stat(png, &sb) ? (long long)sb.st_size : 0LL);
	if (f)
		fclose(f);
}

int main(void)
{
	char to[64], html[160], png[] = "/tmp/kvmig-report-XXXXXX.png";
	const char *argv[] = {
		test_bin("kvmig"), "migrate", "--vm", NULL, "--to", to,
		"--max-bandwidth", LINK, "--codec", "zstd", "--verify",
		"--keep-vm", "--timeout", "30", "--report", html, NULL,
	};
	const char *query[] = { test_bin("kvmig"), "query", "--vm", NULL, NULL };
	const char *bad[] = { test_bin("kvmig"), "migrate", "--vm", NULL, "--to",
			      "tcp:127.0.0.1:1", "--report",
			      "/nonexistent-dir/r.html", NULL };
	int64_t done0 = -1, done1 = -1, eta = -1, expected = -1, mbps = -1;
	bool ended = false;
	int64_t pages = -1, before;
	uint64_t t_eta = 0, t_end = 0, diff, compared;
	bool human = false;
	json_t *st;
	struct mig m;
	pid_t pid;
	int rc, fd;

	test_require_kvm();
	ksft_print_header();
	ksft_set_plan(10);
	argv[0] = strdup(argv[0]);
	query[0] = strdup(query[0]);
	bad[0] = strdup(bad[0]);

	start_vms(&m, src_args, dst_args);
	argv[3] = query[3] = bad[3] = m.src.sock;
	/* vCPU 0 filled its working set: now it dirties 512 KiB/s */
	st = test_vm_raw(&m.src, "{\"execute\": \"set-vcpu-dirty-limit\", "
			 "\"arguments\": {\"cpu-index\": 0, \"bytes-per-sec\": "
			 "524288, \"mechanism\": \"vmm\"}}");
	TEST_ASSERT(json_object_get(st, "return"), "set-vcpu-dirty-limit: %s",
		    json_text(st));
	json_decref(st);

	before = test_pages_written(&m.src);
	rc = test_run(bad, out, sizeof(out));
	ksft_test_result(rc == 2 && strstr(out, "--report: cannot create "
					   "/nonexistent-dir/r.html") &&
			 !strcmp(test_migration_status(&m.src), "none") &&
			 test_vm_progresses(&m.src, before),
			 "--report to a path that cannot be created: refused before "
			 "migrating, the guest runs on");
	if (rc != 2)
		ksft_print_msg("exit %d: %s\n", rc, out);

	start_incoming(&m, true);
	snprintf(to, sizeof(to), "tcp:127.0.0.1:%s", m.port);
	snprintf(html, sizeof(html), "%s/report.html", m.src.dir);
	pid = test_spawn(argv, m.mig_log);

	/*
	 * The first pass: sample once it has run a second (its pace is
	 * known), then until pass.done has grown (or the pass ended, which
	 * handed out all its pages); then wait for it to end.
	 */
	TEST_WAIT(test_migration_int(&m.src, "ram.iterations") == 0 &&
		  test_migration_int(&m.src, "pass.elapsed-time") >= 1000,
		  TEST_DEADLINE_S, "the first pass never ran a second");
	st = test_vm_cmd(&m.src, "query-migrate");
	done0 = json_path_int(st, "pass.done");
	pages = json_path_int(st, "pass.pages");
	eta = json_path_int(st, "pass.time-left");
	expected = json_path_int(st, "expected-downtime");
	mbps = (int64_t)json_number_value(json_object_get(json_object_get(st, "ram"),
							  "mbps"));
	t_eta = test_now_ns();
	json_decref(st);
	if (test_run(query, out, sizeof(out)) == 0 && strstr(out, "this pass: ") &&
	    strstr(out, " of 16384 pages (") && strstr(out, " s left") &&
	    strstr(out, "parameters: downtime limit 300 ms, max bandwidth 64.0 "
		   "Mbit/s, max iterations 30, cpu throttle 20% + 10% up to 99%, "
		   "io-aware on (stall 2000 us)"))
		human = true;
	else
		ksft_print_msg("kvmig query: %s\n", out);
	TEST_WAIT((done1 = test_migration_int(&m.src, "pass.done")) > done0 ||
		  (ended = test_migration_int(&m.src, "ram.iterations") != 0), 60,
		  "pass.done stayed at %lld", (long long)done0);
	TEST_WAIT(test_migration_int(&m.src, "ram.iterations") != 0, 60,
		  "the first pass never ended");
	t_end = test_now_ns();
	ksft_test_result(pages == PAGES && done0 > 0 && done0 < pages &&
			 (done1 > done0 || ended) && mbps > 0 && expected > 0,
			 "first pass: %lld of %lld pages, then %lld; %lld Mbit/s; "
			 "expected downtime %lld ms", (long long)done0,
			 (long long)pages, (long long)done1, (long long)mbps,
			 (long long)expected);
	ksft_test_result(eta > 0 && (double)eta * 1e6 < 3.0 * (double)(t_end - t_eta) &&
			 (double)eta * 1e6 > (double)(t_end - t_eta) / 3.0,
			 "its time left (%lld ms) came true within 3x (%llu ms)",
			 (long long)eta,
			 (unsigned long long)((t_end - t_eta) / 1000000));
	ksft_test_result(human, "kvmig query prints the pass and the knobs in force "
			 "for a person");

	rc = test_wait(pid, 120);
	st = test_vm_cmd(&m.src, "query-migrate");
	ksft_test_result(rc == 0 && !strcmp(json_string_value(json_object_get(st,
				"status")) ?: "", "completed") &&
			 json_path_int(st, "verify.mismatches") == 0,
			 "the migration completed, verified");
	if (rc)
		ksft_print_msg("kvmig migrate exit %d: %s\n", rc, test_slurp(m.mig_log));
	ksft_test_result(workers_add_up(test_slurp(m.mig_log), st),
			 "each worker's busy time is the sum of its parts; the "
			 "workers' pages and MiB are the migration's");
	ksft_test_result(strstr(test_slurp(m.mig_log), "kvmig: the report is in ") &&
			 self_contained(test_slurp(html)),
			 "--report wrote a page that needs nothing else");
	fd = mkstemps(png, 4);
	TEST_ASSERT(fd >= 0, "mkstemps");
	close(fd);
	check_in_browser(html, png, st);
	ksft_print_msg("the report's screenshot: %s\n", png);
	json_decref(st);

	diff = test_compare_ram(&m.src, &m.dst, &compared);
	ksft_test_result(diff == 0 && compared == PAGES,
			 "every page of both sides is the same (%llu of %llu differ)",
			 (unsigned long long)diff, (unsigned long long)compared);
	TEST_ASSERT(test_wait(m.inc, 30) == 0, "kvmig incoming exit status");
	TEST_ASSERT(test_vm_quit(&m.dst) == 0, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
	free((void *)argv[0]);
	free((void *)query[0]);
	free((void *)bad[0]);
	ksft_finished();
}
