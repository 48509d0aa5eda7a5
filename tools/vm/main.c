// SPDX-License-Identifier: GPL-2.0
/*
 * kvmig-vm: command line, start-up, and the end-of-run report.
 * Documentation/vm.rst describes the options.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vm.h"

noreturn void die(const char *fmt, ...)
{
	va_list ap;

	fputs("kvmig-vm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void usage(FILE *f)
{
	fputs(
"usage: kvmig-vm [options]\n"
"  -c, --vcpus N           number of vCPUs (1..16, default 1)\n"
"  -m, --mem SIZE          RAM in memslot 0 (default 64M; K/M/G suffixes)\n"
"      --slot SIZE[,gap=G] add a memslot of SIZE after a hole of G (repeatable)\n"
"  -w, --workload [CPUS:]SPEC\n"
"                          what vCPUs CPUS (e.g. 0, 1-3, all) run; SPEC is\n"
"                            idle\n"
"                            dirty[,rate=R][,ws=SIZE][,pattern=seq|random|zipf:S]\n"
"                                 [,data=zero|text|counter|random]\n"
"                                 R in bytes/s (4M) or pages/s (1000p), 0 = max\n"
"                            io[,period=US]\n"
"                            fault (a page fault at once: tests the report)\n"
"  -s, --control PATH      serve the JSON control protocol on unix socket PATH\n"
"      --ready-fd N        once the control socket serves requests, write its\n"
"                          PATH and a newline to file descriptor N, close N\n"
"      --ready-file FILE   ... and/or write that line to FILE (atomically)\n"
"      --control-group G   let group G use the control socket too (mode 0660;\n"
"                          by default 0600: this uid and root only)\n"
"  -d, --duration SEC      run SEC seconds, then stop (default: until quit)\n"
"      --paused            start with the vCPUs paused (cont starts them)\n"
"      --incoming          wait for an incoming migration: start paused, and\n"
"                          exit 3 if quit before the guest ever ran\n"
"      --dirty-ring N      give each vCPU a KVM dirty ring of N entries, so a\n"
"                          peer can use the ring dirty-log backend\n"
"      --verify-after      at the end, run the guest and host page checks;\n"
"                          exit 1 if any page is bad\n"
"      --json              print the final report as JSON\n"
"      --seed N            seed for the workloads' generators (default 1)\n"
"  -h, --help              this text\n", f);
}

static uint64_t parse_size_arg(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		die("%s: '%s' is not a size", opt, s);
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end)
		die("%s: '%s' is not a size", opt, s);
	if (v > (~0ULL >> shift))
		die("%s: '%s' is too large", opt, s);
	return v << shift;
}

/* "all", "3", "1-3" -> [*lo, *hi] */
static void parse_cpus(const char *s, size_t len, unsigned int nr,
		       unsigned int *lo, unsigned int *hi)
{
	char buf[32];
	char *dash, *end;

	if (len >= sizeof(buf))
		die("--workload: bad vCPU list '%.*s'", (int)len, s);
	memcpy(buf, s, len);
	buf[len] = 0;
	if (!strcmp(buf, "all")) {
		*lo = 0;
		*hi = nr - 1;
		return;
	}
	dash = strchr(buf, '-');
	*lo = (unsigned int)strtoul(buf, &end, 10);
	if (end == buf || (dash ? end != dash : *end != 0))
		die("--workload: bad vCPU list '%s'", buf);
	*hi = *lo;
	if (dash) {
		*hi = (unsigned int)strtoul(dash + 1, &end, 10);
		if (end == dash + 1 || *end)
			die("--workload: bad vCPU list '%s'", buf);
	}
	if (*lo > *hi || *hi >= nr)
		die("--workload: vCPUs '%s' out of range (the VM has %u)", buf,
		    nr);
}

static void print_report(struct vm *vm, bool json, const char *end_reason,
			 const struct verify_result *vr, bool checked,
			 uint64_t guest_pages, uint64_t guest_bad)
{
	json_t *st = control_stats_json(vm);
	json_t *cpus = json_object_get(st, "vcpus");
	double secs = (double)json_integer_value(json_object_get(st, "uptime-ms")) / 1000.0;
	size_t i;
	json_t *c;

	if (checked) {
		json_object_set_new(st, "verify", json_pack("{sI sI sI sI}",
			"host-pages", (json_int_t)vr->pages,
			"host-bad", (json_int_t)vr->bad,
			"guest-pages", (json_int_t)guest_pages,
			"guest-bad", (json_int_t)guest_bad));
	}
	json_object_set_new(st, "end", json_string(end_reason));
	if (json) {
		json_dumpf(st, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(st);
		return;
	}
	printf("kvmig-vm: ran %.1f s, %u vCPUs, %llu MiB RAM in %u slot(s), ended by %s\n",
	       secs, vm->nr_cpus, (unsigned long long)(vm->ram_bytes >> 20),
	       vm->nr_slots, end_reason);
	printf("%-5s %-6s %12s %10s %9s %10s %10s %10s\n", "vcpu", "work",
	       "pages", "MiB/s", "io-trips", "io-p50-us", "io-p99-us",
	       "io-max-us");
	json_array_foreach(cpus, i, c) {
		json_t *h = json_object_get(c, "io-latency-ns");
		uint64_t pages = (uint64_t)json_integer_value(
			json_object_get(c, "pages-written"));

		printf("%-5zu %-6s %12llu %10.1f %9lld %10.1f %10.1f %10.1f\n", i,
		       json_string_value(json_object_get(c, "workload")),
		       (unsigned long long)pages,
		       secs > 0 ? (double)pages * 4096.0 / secs / 1048576.0 : 0.0,
		       json_integer_value(json_object_get(c, "io-round-trips")),
		       (double)json_integer_value(json_object_get(h, "p50")) / 1000.0,
		       (double)json_integer_value(json_object_get(h, "p99")) / 1000.0,
		       (double)json_integer_value(json_object_get(h, "max")) / 1000.0);
	}
	if (checked) {
		printf("self-check: guest checked %llu pages, %llu bad; host checked "
		       "%llu pages, %llu bad", (unsigned long long)guest_pages,
		       (unsigned long long)guest_bad,
		       (unsigned long long)vr->pages, (unsigned long long)vr->bad);
		if (vr->bad)
			printf(" (first: gpa 0x%llx, %s)",
			       (unsigned long long)vr->first_bad_gpa,
			       verify_state_name(vr->first_bad_state));
		printf("\n");
	}
	json_decref(st);
}

/* --ready-fd N: N must be open now, not when the VM is ready */
static int parse_ready_fd(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > INT_MAX)
		die("--ready-fd: '%s' is not a file descriptor number", s);
	if (fcntl((int)v, F_GETFD) < 0)
		die("--ready-fd %ld: %s", v, strerror(errno));
	return (int)v;
}

/*
 * Readiness (Documentation/vm.rst, "Readiness"): the line "PATH\n" once the
 * control socket serves requests.  To @fd, which is closed afterwards (EOF
 * tells a reader nothing more comes; stdout and stderr stay open), and to
 * @file under a temporary name renamed into place, so that a reader who
 * sees the file sees the whole line.  Returns 0 or -errno, said on stderr.
 */
static int announce_ready(const char *control_path, int fd, const char *file)
{
	size_t len = strlen(control_path) + 1;
	char *line = malloc(len + 1), *tmp = NULL;
	int r = 0, tfd;

	if (!line)
		return -ENOMEM;
	snprintf(line, len + 1, "%s\n", control_path);
	errno = 0;
	if (fd >= 0) {
		if (write(fd, line, len) != (ssize_t)len) {
			r = errno ? -errno : -EIO;
			fprintf(stderr, "kvmig-vm: --ready-fd %d: %s\n", fd,
				strerror(-r));
		}
		if (fd > 2)
			close(fd);
	}
	if (!r && file) {
		if (asprintf(&tmp, "%s.tmp", file) < 0) {
			tmp = NULL;
			r = -ENOMEM;
			goto out;
		}
		errno = 0;
		tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (tfd < 0 || write(tfd, line, len) != (ssize_t)len ||
		    close(tfd) || rename(tmp, file)) {
			r = errno ? -errno : -EIO;
			fprintf(stderr, "kvmig-vm: --ready-file %s: %s\n", file,
				strerror(-r));
			unlink(tmp);
		}
	}
out:
	free(tmp);
	free(line);
	return r;
}

/* The one way out: vCPUs joined, dirty logging off, socket gone. */
static void teardown(struct vm *vm, const char *control_path,
		     const char *ready_file)
{
	cpu_stop_all(vm);
	control_dirty_release(vm);
	if (control_path)
		unlink(control_path);
	/* the VM is no longer ready: a stale file must not say it is */
	if (ready_file)
		unlink(ready_file);
	json_decref(vm->migration);
	json_decref(vm->migration_params);
	vm_destroy(vm);
}

enum {
	OPT_SLOT = 256,
	OPT_PAUSED,
	OPT_VERIFY_AFTER,
	OPT_JSON,
	OPT_SEED,
	OPT_DIRTY_RING,
	OPT_INCOMING,
	OPT_READY_FD,
	OPT_READY_FILE,
	OPT_CONTROL_GROUP,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vcpus", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "slot", required_argument, NULL, OPT_SLOT },
		{ "workload", required_argument, NULL, 'w' },
		{ "control", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "paused", no_argument, NULL, OPT_PAUSED },
		{ "verify-after", no_argument, NULL, OPT_VERIFY_AFTER },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "dirty-ring", required_argument, NULL, OPT_DIRTY_RING },
		{ "incoming", no_argument, NULL, OPT_INCOMING },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "ready-file", required_argument, NULL, OPT_READY_FILE },
		{ "control-group", required_argument, NULL, OPT_CONTROL_GROUP },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vm_config cfg = { .nr_cpus = 1, .nr_slots = 1,
				 .slot_size = { 64ULL << 20 }, .seed = 1 };
	struct workload_spec specs[GUEST_MAX_VCPUS] = { 0 };
	const char *workloads[64];
	unsigned int nr_workloads = 0, i;
	const char *control_path = NULL, *ready_file = NULL, *end_reason;
	gid_t control_gid = (gid_t)-1;
	double duration = 0;
	bool paused = false, verify_after = false, json = false, incoming = false;
	struct verify_result vr = { 0 };
	uint64_t guest_pages = 0, guest_bad = 0;
	enum control_end end;
	struct vm vm;
	char err[256];
	sigset_t sigs;
	int opt, listen_fd = -1, sig_fd, ready_fd = -1, ret = 0;
	bool never_ran;

	while ((opt = getopt_long(argc, argv, "c:m:w:s:d:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (end == optarg || *end || !v || v > GUEST_MAX_VCPUS)
				die("--vcpus: must be 1..%d, not '%s'",
				    GUEST_MAX_VCPUS, optarg);
			cfg.nr_cpus = (unsigned int)v;
			break;
		}
		case 'm':
			cfg.slot_size[0] = parse_size_arg("--mem", optarg);
			break;
		case OPT_SLOT: {
			char copy[64], *comma;

			if (strlen(optarg) >= sizeof(copy))
				die("--slot: '%s' is too long", optarg);
			strcpy(copy, optarg);
			if (cfg.nr_slots == VM_MAX_SLOTS)
				die("--slot: at most %d memslots", VM_MAX_SLOTS);
			comma = strchr(copy, ',');
			if (comma) {
				*comma = 0;
				if (strncmp(comma + 1, "gap=", 4))
					die("--slot: expected SIZE[,gap=SIZE], "
					    "not '%s'", optarg);
				cfg.slot_gap[cfg.nr_slots] =
					parse_size_arg("--slot gap", comma + 5);
			}
			cfg.slot_size[cfg.nr_slots++] =
				parse_size_arg("--slot", copy);
			break;
		}
		case 'w':
			if (nr_workloads == sizeof(workloads) / sizeof(workloads[0]))
				die("--workload: too many");
			workloads[nr_workloads++] = optarg;
			break;
		case 's':
			control_path = optarg;
			break;
		case 'd': {
			char *end;

			duration = strtod(optarg, &end);
			if (end == optarg || *end || !(duration > 0))
				die("--duration: '%s' is not a positive number "
				    "of seconds", optarg);
			break;
		}
		case OPT_PAUSED:
			paused = true;
			break;
		case OPT_INCOMING:
			paused = incoming = true;
			break;
		case OPT_READY_FD:
			ready_fd = parse_ready_fd(optarg);
			break;
		case OPT_READY_FILE:
			ready_file = optarg;
			break;
		case OPT_CONTROL_GROUP: {
			struct group *g = getgrnam(optarg);

			if (!g)
				die("--control-group: no group '%s'", optarg);
			control_gid = g->gr_gid;
			break;
		}
		case OPT_VERIFY_AFTER:
			verify_after = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_SEED: {
			char *end;

			errno = 0;
			cfg.seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || *optarg == '-')
				die("--seed: '%s' is not a number", optarg);
			break;
		}
		case OPT_DIRTY_RING: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 0);

			if (end == optarg || *end || !v || v > UINT32_MAX)
				die("--dirty-ring: '%s' is not a number of entries",
				    optarg);
			cfg.ring_entries = (uint32_t)v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (!control_path && !duration)
		die("nothing would ever stop this VM: give --duration or --control");
	if ((ready_fd >= 0 || ready_file) && !control_path)
		die("--ready-fd and --ready-file announce the control socket: "
		    "give --control");
	/* a file left by an earlier run must not announce this one */
	if (ready_file && unlink(ready_file) && errno != ENOENT)
		die("--ready-file %s: %s", ready_file, strerror(errno));

	/* the workloads need nr_cpus, so they are parsed after the options */
	{
		for (i = 0; i < nr_workloads; i++) {
			const char *w = workloads[i], *colon = strchr(w, ':');
			const char *comma = strchr(w, ',');
			struct workload_spec spec;
			unsigned int lo = 0, hi = cfg.nr_cpus - 1, j;

			/* "1-3:dirty,..." — a ':' before any ',' ends the list */
			if (colon && (!comma || colon < comma)) {
				parse_cpus(w, (size_t)(colon - w), cfg.nr_cpus,
					   &lo, &hi);
				w = colon + 1;
			}
			if (workload_parse(w, &spec, err, sizeof(err)))
				die("--workload %s: %s", workloads[i], err);
			for (j = lo; j <= hi; j++)
				specs[j] = spec;
		}
		/* vm_create() clears *vm, so hand the specs over afterwards */
		if (vm_create(&vm, &cfg)) {
			vm_destroy(&vm);
			return 2;
		}
		vm.specs = specs;
	}
	vm.control_gid = control_gid;

	/* SIGINT/SIGTERM are read from a signalfd by the control loop */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGUSR1);
	sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0)
		die("signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	if (control_path) {
		listen_fd = control_listen(control_path, control_gid);
		if (listen_fd < 0) {
			vm_destroy(&vm);
			return 2;
		}
	}
	/* the vCPU threads wait at the gate until their guest blocks are set */
	vm.want_pause = true;
	if (cpu_start_all(&vm))
		goto err_stop;
	if (workload_setup(&vm, err, sizeof(err))) {
		fprintf(stderr, "kvmig-vm: %s\n", err);
		goto err_stop;
	}
	vm.incoming = incoming;
	/* the guest blocks are ready: only now may the vCPUs leave the gate */
	if (!paused)
		cpu_resume_all(&vm);
	/* control_run() serves the socket from here on: say so */
	if ((ready_fd >= 0 || ready_file) &&
	    announce_ready(control_path, ready_fd, ready_file))
		goto err_stop;

	end = control_run(&vm, listen_fd, sig_fd, duration ?
			  now_ns() + (uint64_t)(duration * 1e9) : 0);
	end_reason = (const char *[]){ "quit", "signal", "duration",
				       "failure" }[end];
	pthread_mutex_lock(&vm.lock);
	never_ran = !vm.ever_ran;
	pthread_mutex_unlock(&vm.lock);
	if (incoming && never_ran &&
	    !(json_is_string(json_object_get(vm.migration, "status")) &&
	      !strcmp(json_string_value(json_object_get(vm.migration, "status")),
		      "completed"))) {
		/* the migration never completed: this guest must not run */
		fprintf(stderr, "kvmig-vm: incoming migration did not complete; "
			"the guest never ran (ended by %s%s%s)\n", end_reason,
			vm.failure ? ": " : "", vm.failure ? vm.failure : "");
		teardown(&vm, control_path, ready_file);
		return 3;
	}
	if (end == CONTROL_END_FAILURE) {
		if (vm.failure)
			fprintf(stderr, "kvmig-vm: %s\n", vm.failure);
		ret = 1;
		verify_after = false;	/* nothing was checked: say nothing */
	} else if (verify_after) {
		/* the guest checks itself while running; the host after a stop */
		if (cpu_guest_check(&vm, vm_is_paused(&vm), &guest_pages,
				    &guest_bad)) {
			fprintf(stderr, "kvmig-vm: the guest did not answer the "
				"self-check%s%s\n", vm.failure ? ": " : "",
				vm.failure ? vm.failure : "");
			ret = 1;
		}
		cpu_pause_all(&vm);
		verify_pages(&vm, &vr);
		if (vr.bad || guest_bad)
			ret = 1;
	} else {
		cpu_pause_all(&vm);
	}
	print_report(&vm, json, end_reason, &vr, verify_after, guest_pages,
		     guest_bad);
	teardown(&vm, control_path, ready_file);
	return ret;

err_stop:
	teardown(&vm, control_path, ready_file);
	return 2;
}
