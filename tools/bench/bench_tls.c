// SPDX-License-Identifier: GPL-2.0
/*
 * bench_tls: what TLS costs a migration channel.  Frames of 32 pages
 * (128 KiB of random bytes, a PAGES frame's size) go through chan_send()
 * and chan_recv() over loopback TCP, one sender and one receiver thread
 * per channel, in one process: plaintext, TLS x509 and TLS PSK (both TLS
 * 1.3, the cipher GnuTLS picks, printed), on 1 and 2 channels.
 *
 * Interleaved rounds in ABBA order (plain, x509, psk, then psk, x509,
 * plain, ...), so that a machine that speeds up or slows down favours
 * none.  Per mode: throughput in GiB/s of frame payload, the process's
 * CPU seconds per GiB (sender and receiver together: on a real migration
 * they are on two hosts), the handshake's milliseconds per channel
 * (connect to both ends ready, the slowest channel); medians of the
 * rounds.  Ratio: TLS over plaintext throughput, the median of the
 * rounds' ratios with their min..max.
 *
 * Kernel TLS: probed (setsockopt TCP_ULP "tls" on a loopback socket) and
 * reported; it is not measured where the kernel lacks it.
 *
 * Then, with /dev/kvm, whole migrations (e2e()): plaintext against TLS
 * x509, 5 rounds, about 40 s.
 * -m MiB per run (default 512, split between the channels), -r rounds (5).
 */
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../selftests/user/harness.h"
#include "../../user/lib/internal.h"
#include "../../user/lib/chan.h"
#include "../../user/lib/tls.h"
#include "../../user/lib/wire.h"

#define FRAME		(32 * 4096)
#define MAX_ROUNDS	99
#define MAX_CH		2

enum mode { PLAIN, X509, PSK, NR_MODES };

static const char *const mode_name[NR_MODES] = { "plain", "tls-x509", "tls-psk" };

struct end {
	struct chan c;
	const struct tls_creds *cr;
	uint64_t frames;
	uint64_t hs_ns;			/* the handshake (client) */
	pthread_barrier_t *go;
	char *desc;
};

static uint8_t *payload;


static uint64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *sender(void *arg)
{
	struct end *e = arg;
	char err[512];
	uint64_t t0 = test_now_ns(), i;

	if (e->cr)
		TEST_ASSERT(!chan_tls_start(&e->c, e->cr, "localhost", err, sizeof(err)),
			    "client handshake: %s", err);
	e->hs_ns = test_now_ns() - t0;
	e->desc = chan_tls_desc(&e->c);
	pthread_barrier_wait(e->go);
	for (i = 0; i < e->frames; i++)
		TEST_ASSERT(!chan_send(&e->c, WIRE_PAGES, payload, FRAME, NULL, 0),
			    "chan_send");
	return NULL;
}

static void *receiver(void *arg)
{
	struct end *e = arg;
	struct wire_hdr h;
	char err[512];
	uint64_t i;

	if (e->cr)
		TEST_ASSERT(!chan_tls_start(&e->c, e->cr, NULL, err, sizeof(err)),
			    "server handshake: %s", err);
	pthread_barrier_wait(e->go);
	for (i = 0; i < e->frames; i++)
		TEST_ASSERT(!chan_recv(&e->c, &h, err, sizeof(err)) && h.len == FRAME,
			    "chan_recv: %s", err);
	return NULL;
}

struct run {
	double gibs, cpu_s_gib, hs_ms;
};

static char *cipher_desc[NR_MODES];

static struct run run_once(int lfd, const char *port, enum mode m,
			   struct tls_creds *const cli[], struct tls_creds *const srv[],
			   unsigned int nch, uint64_t bytes)
{
	struct end tx[MAX_CH] = { 0 }, rx[MAX_CH] = { 0 };
	pthread_t tt[MAX_CH], rt[MAX_CH];
	pthread_barrier_t go;
	uint64_t t0, c0, hs = 0;
	char err[256];
	unsigned int i;
	struct run r;

	pthread_barrier_init(&go, NULL, 2 * nch + 1);
	for (i = 0; i < nch; i++) {
		int cfd = tcp_connect("127.0.0.1", port, 10000, err, sizeof(err));
		int sfd = tcp_accept(lfd, 10000, err, sizeof(err));

		TEST_ASSERT(cfd >= 0 && sfd >= 0, "loopback connection: %s", err);
		TEST_ASSERT(!chan_init(&tx[i].c, cfd, (uint16_t)i, 30000) &&
			    !chan_init(&rx[i].c, sfd, (uint16_t)i, 30000), "chan_init");
		tx[i].cr = cli[m];
		rx[i].cr = srv[m];
		tx[i].frames = rx[i].frames = bytes / nch / FRAME;
		tx[i].go = rx[i].go = &go;
		TEST_ASSERT(!pthread_create(&rt[i], NULL, receiver, &rx[i]) &&
			    !pthread_create(&tt[i], NULL, sender, &tx[i]), "threads");
	}
	pthread_barrier_wait(&go);
	t0 = test_now_ns();
	c0 = process_cpu_ns();
	for (i = 0; i < nch; i++) {
		pthread_join(tt[i], NULL);
		pthread_join(rt[i], NULL);
	}
	r.gibs = (double)(tx[0].frames * nch * FRAME) / (1 << 30) /
		 ((double)(test_now_ns() - t0) / 1e9);
	r.cpu_s_gib = (double)(process_cpu_ns() - c0) / 1e9 /
		      ((double)(tx[0].frames * nch * FRAME) / (1 << 30));
	for (i = 0; i < nch; i++) {
		hs = tx[i].hs_ns > hs ? tx[i].hs_ns : hs;
		if (tx[i].desc && !cipher_desc[m])
			cipher_desc[m] = tx[i].desc;
		else
			free(tx[i].desc);
		chan_fini(&tx[i].c);
		chan_fini(&rx[i].c);
	}
	r.hs_ms = (double)hs / 1e6;
	pthread_barrier_destroy(&go);
	return r;
}

/*
 * End to end: kvmig migrate and kvmig incoming between two kvmig-vm, a
 * guest with 160 MiB of random pages it keeps rewriting in order, no
 * bandwidth cap, verified; plaintext or TLS x509 (PSK has the same
 * cipher).  Total time, downtime, and the rate of frame bytes over the
 * total time.
 */
#define E2E_MODES	2
#define E2E_ROUNDS	5

static void e2e(json_t *out)
{
	static const char *const vm[] = {
		"--vcpus", "2", "--mem", "256M", "--workload",
		"0:dirty,rate=20000p,ws=160M,pattern=seq,data=random",
		"--workload", "1:idle", NULL,
	};
	double t[E2E_MODES][3][E2E_ROUNDS], ratio[E2E_ROUNDS];
	char srv[128], cli[128];
	const char *const inc[] = { "--tls-creds", srv, NULL };
	const char *const mig[] = { "--tls-creds", cli, NULL };
	unsigned int k, i;

	snprintf(srv, sizeof(srv), "%s", test_tls_path("srv"));
	snprintf(cli, sizeof(cli), "%s", test_tls_path("cli"));
	for (k = 0; k < E2E_ROUNDS; k++)
		for (i = 0; i < E2E_MODES; i++) {
			unsigned int m = k % 2 ? E2E_MODES - 1 - i : i;
			json_t *st;

			test_incoming_extra = m ? inc : NULL;
			st = migrate_bench(m ? "e2e tls-x509" : "e2e plain", vm, vm,
					   m ? mig : NULL, NULL);
			t[m][0][k] = (double)json_path_int(st, "total-time");
			t[m][1][k] = (double)json_path_int(st, "downtime");
			t[m][2][k] = (double)json_path_int(st, "ram.transferred") /
				     1048576.0 / (t[m][0][k] / 1000.0);
			json_decref(st);
		}
	test_incoming_extra = NULL;
	for (k = 0; k < E2E_ROUNDS; k++)
		ratio[k] = t[1][0][k] / t[0][0][k];
	printf("\nend to end: a 256 MiB guest rewriting 160 MiB of random pages, "
	       "no bandwidth cap, --verify, medians of %u rounds (ABBA)\n",
	       E2E_ROUNDS);
	printf("%-9s %10s %10s %12s   %s\n", "mode", "total ms", "downtime",
	       "MiB/s", "total time / plain (min..max)");
	for (i = 0; i < E2E_MODES; i++) {
		struct test_spread tt = test_spread(t[i][0], E2E_ROUNDS);
		struct test_spread dt = test_spread(t[i][1], E2E_ROUNDS);
		struct test_spread rt = test_spread(t[i][2], E2E_ROUNDS);
		struct test_spread r = i ? test_spread(ratio, E2E_ROUNDS) :
				       (struct test_spread){ 1, 1, 1 };

		printf("%-9s %10.0f %10.0f %12.0f   %s%.2f (%.2f..%.2f)\n",
		       i ? "tls-x509" : "plain", tt.med, dt.med, rt.med,
		       i ? "" : "baseline ", r.med, r.min, r.max);
		json_array_append_new(out, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:f}",
				"table", "e2e", "mode", i ? "tls-x509" : "plain",
				"total_ms", tt.med, "downtime_ms", dt.med,
				"mib_s", rt.med, "total_time_ratio", r.med,
				"total_time_ratio_min", r.min,
				"total_time_ratio_max", r.max));
	}
}

/* Kernel TLS: whether the "tls" ULP can be set on a TCP socket here. */
static int ktls_probe(int lfd, const char *port)
{
	char err[256];
	int cfd = tcp_connect("127.0.0.1", port, 10000, err, sizeof(err));
	int sfd = tcp_accept(lfd, 10000, err, sizeof(err));
	int r;

	TEST_ASSERT(cfd >= 0 && sfd >= 0, "loopback connection: %s", err);
	r = setsockopt(cfd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) ? -errno : 0;
	close(cfd);
	close(sfd);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "mib", required_argument, NULL, 'm' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 }
	};
	static const struct test_cert dst = { "kvmig-dst", "localhost", 0, false };
	static const struct test_cert src = { "kvmig-src", NULL, 0, false };
	static double v[MAX_CH + 1][NR_MODES][4][MAX_ROUNDS];
	struct tls_creds *cli[NR_MODES] = { 0 }, *srv[NR_MODES] = { 0 };
	unsigned int mib = 512, rounds = 5, nch, k, i;
	const char *json_path = NULL;
	json_t *out = json_array();
	char err[512], port[16];
	const char *path;
	struct sockaddr_in6 a;
	socklen_t alen = sizeof(a);
	uint64_t seed = 0x746c73;
	int opt, lfd, ktls;

	/* an option it does not know is ignored (scripts/bench-compare.sh) */
	while ((opt = getopt_long(argc, argv, "j:m:r:", opts, NULL)) != -1) {
		if (opt == 'j')
			json_path = optarg;
		else if (opt == 'm')
			mib = (unsigned int)atoi(optarg);
		else if (opt == 'r')
			rounds = (unsigned int)atoi(optarg);
	}
	TEST_ASSERT(mib >= 1 && rounds >= 1 && rounds <= MAX_ROUNDS,
		    "-m MiB (at least 1), -r rounds (1..%d)", MAX_ROUNDS);
	if (!test_have_tls()) {
		printf("bench_tls: libkvmig built without TLS (TLS=0), nothing "
		       "to measure\n");
		return 0;
	}
	payload = malloc(FRAME);
	TEST_ASSERT(payload, "malloc");
	test_fill_random(payload, FRAME, &seed);

	path = test_tls_path("srv");
	test_tls_dir(path, true, 0, &dst);
	srv[X509] = tls_creds_new(TLS_SERVER, path, NULL, err, sizeof(err));
	path = test_tls_path("cli");
	test_tls_dir(path, false, 0, &src);
	cli[X509] = tls_creds_new(TLS_CLIENT, path, NULL, err, sizeof(err));
	path = test_tls_path("psk");
	test_tls_psk_dir(path, "kvmig", "00112233445566778899aabbccddeeff");
	srv[PSK] = tls_creds_new(TLS_SERVER, path, NULL, err, sizeof(err));
	cli[PSK] = tls_creds_new(TLS_CLIENT, path, NULL, err, sizeof(err));
	TEST_ASSERT(srv[X509] && cli[X509] && srv[PSK] && cli[PSK], "creds: %s", err);

	lfd = tcp_listen("127.0.0.1", "0", err, sizeof(err));
	TEST_ASSERT(lfd >= 0 && !getsockname(lfd, (struct sockaddr *)&a, &alen),
		    "listen: %s", err);
	snprintf(port, sizeof(port), "%u",
		 ntohs(((struct sockaddr_in *)&a)->sin_port));
	ktls = ktls_probe(lfd, port);

	for (nch = 1; nch <= MAX_CH; nch++)
		for (k = 0; k < rounds; k++)
			for (i = 0; i < NR_MODES; i++) {
				enum mode m = k % 2 ? NR_MODES - 1 - i : i;
				struct run r = run_once(lfd, port, m, cli, srv, nch,
							(uint64_t)mib << 20);

				v[nch][m][0][k] = r.gibs;
				v[nch][m][1][k] = r.cpu_s_gib;
				v[nch][m][2][k] = r.hs_ms;
			}

	printf("bench_tls: frames of 128 KiB over loopback TCP, %u MiB a run, "
	       "medians of %u interleaved rounds (ABBA)\n", mib, rounds);
	for (i = X509; i < NR_MODES; i++)
		printf("%s: %s\n", mode_name[i], cipher_desc[i] ?: "?");
	printf("kernel TLS: %s\n\n", ktls ? "not offered by this kernel (TCP_ULP "
	       "\"tls\" refused), not measured" : "offered, not used (see "
	       "Documentation/design.rst, \"TLS\")");
	printf("%-9s %3s %8s %10s %9s   %s\n", "mode", "ch", "GiB/s", "CPU s/GiB",
	       "hs ms", "throughput / plain (min..max)");
	/* per round, against that round's plaintext run (before any sort) */
	for (nch = 1; nch <= MAX_CH; nch++)
		for (i = 0; i < NR_MODES; i++)
			for (k = 0; k < rounds; k++)
				v[nch][i][3][k] = v[nch][i][0][k] / v[nch][PLAIN][0][k];
	for (nch = 1; nch <= MAX_CH; nch++) {
		for (i = 0; i < NR_MODES; i++) {
			struct test_spread g = test_spread(v[nch][i][0], rounds);
			struct test_spread c = test_spread(v[nch][i][1], rounds);
			struct test_spread h = test_spread(v[nch][i][2], rounds);
			struct test_spread ratio = test_spread(v[nch][i][3], rounds);
			json_t *row;

			printf("%-9s %3u %8.2f %10.3f %9.2f   %s%.2f (%.2f..%.2f)\n",
			       mode_name[i], nch, g.med, c.med, h.med,
			       i == PLAIN ? "baseline " : "", ratio.med, ratio.min,
			       ratio.max);
			row = json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f}",
					"mode", mode_name[i], "channels", (int)nch,
					"gib_s", g.med, "cpu_s_gib", c.med,
					"handshake_ms", h.med, "throughput_ratio", ratio.med,
					"throughput_ratio_min", ratio.min,
					"throughput_ratio_max", ratio.max);
			json_array_append_new(out, row);
		}
	}
	json_array_append_new(out, json_pack("{s:b}", "ktls_offered", !ktls));
	fflush(stdout);
	if (access("/dev/kvm", R_OK | W_OK))
		printf("\nend to end: skipped, no /dev/kvm\n");
	else
		e2e(out);
	if (json_path)
		json_dump_file(out, json_path, JSON_INDENT(2));
	json_decref(out);
	close(lfd);
	for (i = 0; i < NR_MODES; i++) {
		tls_creds_free(cli[i]);
		tls_creds_free(srv[i]);
		free(cipher_desc[i]);
	}
	free(payload);
	return 0;	/* the keys go at exit (test_tls_path()) */
}
