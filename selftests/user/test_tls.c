// SPDX-License-Identifier: GPL-2.0
/*
 * TLS on a migration channel, in one process (no KVM): two threads, a
 * client (the source's end) and a server (the destination's), over a
 * socketpair, through channel.c and tls.c as the migration uses them.
 * Credentials are made at start-up (harness.c: two throwaway CAs).
 *
 *  - x509 and PSK: the handshake completes, frames pass both ways, many
 *    small ones too (each one's payload waits decrypted in the session
 *    after its header was read: a read that polled then would time out);
 *  - refused, each with the message the operator sees: a wrong CA, a
 *    wrong name, an expired certificate, a client certificate of another
 *    CA, a client DN --tls-authz does not list, a wrong PSK, a client
 *    that offers only TLS 1.2 (a downgrade), a plaintext client (it gets
 *    the refusal as an ERROR frame), a plaintext server;
 *  - a silent peer ends the handshake by the channel's timeout, and the
 *    idle callback can end it too.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "../../user/lib/chan.h"
#include "../../user/lib/tls.h"

#define BIG	(1u << 20)	/* a PAGES payload (the receiver reads, not parses, it) */
#define SMALL	100		/* small frames after it */

static uint8_t *big;

struct end {
	/* set by the case */
	bool server;
	const char *dir;		/* NULL: plaintext */
	const char *authz;
	const char *hostname;
	const char *priority;
	bool silent;			/* connect, then say nothing */
	int timeout_ms;
	int (*idle)(void *opaque);
	/* results */
	int fd;
	int r;				/* the handshake's */
	int data;			/* the exchange's: 0, or the error */
	char err[512];			/* why the handshake failed */
	char peer_msg[512];		/* an ERROR frame the peer sent */
	bool got_error_frame;
	uint64_t sent, recvd;
};

static int idle_calls;

static int idle_cancel(void *opaque)
{
	(void)opaque;
	return ++idle_calls >= 3 ? -ECANCELED : 0;
}

/* Receive one frame; an ERROR frame's text goes to e->peer_msg. */
static int recv_one(struct end *e, struct chan *c, struct wire_hdr *h)
{
	int r = chan_recv(c, h, e->err, sizeof(e->err));

	if (!r && h->type == WIRE_ERROR) {
		e->got_error_frame = true;
		chan_parse_error(h, c->rx, e->peer_msg, sizeof(e->peer_msg));
		return -EPROTO;
	}
	return r;
}

/* After a handshake both ends passed: a big frame, small ones, a reply. */
static int exchange(struct end *e, struct chan *c)
{
	struct wire_hdr h;
	uint32_t i;
	int r;

	if (!e->server) {
		/* as HELLO and its answer: a refusal comes as the answer */
		r = chan_send(c, WIRE_CHANNEL, "hello", 5, NULL, 0);
		/* a socketpair's closed end is EPIPE at once: read the why */
		r = recv_one(e, c, &h) ?: r;
		if (!r)
			r = chan_send(c, WIRE_PAGES, big, BIG, NULL, 0);
		for (i = 0; !r && i < SMALL; i++)
			r = chan_send(c, WIRE_CHANNEL, &i, sizeof(i), NULL, 0);
		if (!r)
			r = recv_one(e, c, &h);
		if (!r && (h.len != 4 || memcmp(c->rx, "done", 4)))
			r = -EBADMSG;
		return r;
	}
	r = recv_one(e, c, &h);
	if (!r)
		r = chan_send(c, WIRE_CHANNEL, "ack", 3, NULL, 0);
	if (!r)
		r = recv_one(e, c, &h);
	if (!r && (h.len != BIG || memcmp(c->rx, big, BIG)))
		r = -EBADMSG;
	for (i = 0; !r && i < SMALL; i++) {
		r = recv_one(e, c, &h);
		if (!r && (h.len != sizeof(i) || memcmp(c->rx, &i, sizeof(i))))
			r = -EBADMSG;
	}
	if (!r)
		r = chan_send(c, WIRE_CHANNEL, "done", 4, NULL, 0);
	return r;
}

static void *end_main(void *arg)
{
	struct end *e = arg;
	struct tls_creds *cr = NULL;
	struct wire_hdr h;
	struct chan c;

	TEST_ASSERT(!chan_init(&c, e->fd, 0, e->timeout_ms ?: 10000), "chan_init");
	c.idle = e->idle;
	if (e->silent) {
		/* hold the connection, say nothing: until the peer closes */
		char b;

		e->r = (int)read(c.fd, &b, 1);
		chan_fini(&c);
		return NULL;
	}
	if (e->dir) {
		cr = tls_creds_new(e->server ? TLS_SERVER : TLS_CLIENT, e->dir,
				   e->authz, e->err, sizeof(e->err));
		TEST_ASSERT(cr, "creds %s: %s", e->dir, e->err);
		if (e->priority)
			TEST_ASSERT(!tls_creds_set_priority(cr, e->priority), "priority");
		e->r = chan_tls_start(&c, cr, e->hostname, e->err, sizeof(e->err));
		if (!e->r) {
			e->data = exchange(e, &c);
		} else if (e->server && c.fd >= 0) {
			/* as the destination does: the refusal, to a peer that reads it */
			chan_send_error(&c, e->r, e->err);
		} else if (!e->server && c.fd >= 0 && c.tls) {
			e->data = recv_one(e, &c, &h);
		}
	} else if (e->server) {
		/* a plaintext destination: the first frame, refused as dest.c does */
		e->r = chan_recv_first(&c, &h, e->err, sizeof(e->err));
		if (e->r)
			chan_send_error(&c, e->r, e->err);
	} else {
		/* a plaintext source: HELLO's place, then the answer */
		e->r = chan_send(&c, WIRE_CHANNEL, "plaintext", 9, NULL, 0);
		if (!e->r)
			e->r = recv_one(e, &c, &h);
	}
	e->sent = c.bytes_sent;
	e->recvd = c.bytes_recv;
	chan_fini(&c);
	tls_creds_free(cr);
	return NULL;
}

static void run_pair(struct end *cli, struct end *srv)
{
	pthread_t tc, ts;
	int sv[2];

	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair");
	cli->server = false;
	srv->server = true;
	cli->fd = sv[0];
	srv->fd = sv[1];
	TEST_ASSERT(!pthread_create(&tc, NULL, end_main, cli) &&
		    !pthread_create(&ts, NULL, end_main, srv), "threads");
	pthread_join(tc, NULL);
	pthread_join(ts, NULL);
	ksft_print_msg("client: %d/%d %s%s%s | server: %d %s\n", cli->r, cli->data, cli->err,
		       cli->got_error_frame ? " / ERROR frame: " : "",
		       cli->got_error_frame ? cli->peer_msg : "", srv->r, srv->err);
}



static void test_ok(const char *name, const char *cdir, const char *sdir,
		    const char *hostname, const char *authz)
{
	struct end cli = { .dir = test_tls_path(cdir), .hostname = hostname,
			   .timeout_ms = 2000 };
	struct end srv = { .dir = test_tls_path(sdir), .authz = authz,
			   .timeout_ms = 2000 };

	run_pair(&cli, &srv);
	ksft_test_result(!cli.r && !srv.r && !cli.data && !srv.data &&
			 srv.recvd == cli.sent && cli.recvd == srv.sent &&
			 cli.sent == (WIRE_HDR_SIZE + 5) + (WIRE_HDR_SIZE + BIG) +
				     SMALL * (WIRE_HDR_SIZE + 4),
			 "%s: handshake, a 1 MiB frame and %u small ones pass "
			 "(counted as frame bytes: %llu)", name, SMALL,
			 (unsigned long long)cli.sent);
}

/* A handshake refused: @cwhy in the client's words, @swhy in the server's. */
static void test_refused(const char *name, struct end *cli, struct end *srv,
			 const char *cwhy, const char *swhy)
{
	const char *cmsg;

	run_pair(cli, srv);
	cmsg = cli->got_error_frame ? cli->peer_msg : cli->err;
	ksft_test_result((cli->r || cli->data) && srv->r &&
			 (!cwhy || strstr(cmsg, cwhy)) && (!swhy || strstr(srv->err, swhy)),
			 "%s: refused ('%s' / '%s')", name, cwhy ?: "", swhy ?: "");
}

int main(void)
{
	static const struct test_cert dst = { "kvmig-dst", "localhost", 0, false };
	static const struct test_cert src = { "kvmig-src", NULL, 0, false };
	static const struct test_cert dst_old = { "kvmig-dst", "localhost", 0, true };
	static const struct test_cert src_ca1 = { "kvmig-src", NULL, 1, false };
	uint64_t seed = 0x7175696574;
	char authz[160];
	FILE *f;

	ksft_print_header();
	if (!test_have_tls())
		ksft_exit_skip("libkvmig built without TLS (TLS=0: a static link)");
	ksft_set_plan(19);
	big = malloc(BIG);
	TEST_ASSERT(big, "malloc");
	test_fill_random(big, BIG, &seed);

	test_tls_dir(test_tls_path("srv"), true, 0, &dst);
	test_tls_dir(test_tls_path("cli"), false, 0, &src);
	/* trusts the other CA */
	test_tls_dir(test_tls_path("cli-ca1"), false, 1, &src);
	test_tls_dir(test_tls_path("srv-expired"), true, 0, &dst_old);
	/* signed by the other CA */
	test_tls_dir(test_tls_path("cli-foreign"), false, 0, &src_ca1);
	test_tls_psk_dir(test_tls_path("psk"), "kvmig", "0123456789abcdef0123456789abcdef");
	test_tls_psk_dir(test_tls_path("psk-other"), "kvmig",
			 "fedcba9876543210fedcba9876543210");
	/* kept: test_tls_path()'s own buffers are reused */
	snprintf(authz, sizeof(authz), "%s", test_tls_path("authz"));
	f = fopen(authz, "w");
	TEST_ASSERT(f && fprintf(f, "# who may migrate here\nCN=other,O=kvmig\n"
				 "CN=kvmig-src,O=kvmig\n") > 0 && !fclose(f), "authz");

	test_ok("x509, name", "cli", "srv", "localhost", NULL);
	test_ok("x509, address", "cli", "srv", "127.0.0.1", NULL);
	test_ok("x509, --tls-authz DN", "cli", "srv", "localhost", "CN=kvmig-src,O=kvmig");
	test_ok("x509, --tls-authz FILE", "cli", "srv", "localhost", authz);
	test_ok("PSK", "psk", "psk", NULL, NULL);

	{
		struct end c = { .dir = test_tls_path("cli-ca1"), .hostname = "localhost" };
		struct end s = { .dir = test_tls_path("srv") };

		test_refused("wrong CA", &c, &s, "the destination's certificate "
			     "is refused: The certificate is NOT trusted. The "
			     "certificate issuer is unknown", "the source refused "
			     "the TLS handshake: CA is unknown");
	}
	{
		struct end c = { .dir = test_tls_path("cli"), .hostname = "kvmig.invalid" };
		struct end s = { .dir = test_tls_path("srv") };

		test_refused("wrong name", &c, &s, "The name in the certificate does "
			     "not match the expected. (expected: 'kvmig.invalid', "
			     "--tls-hostname)", "the source refused the TLS handshake: "
			     "Certificate is bad");
	}
	{
		struct end c = { .dir = test_tls_path("cli"), .hostname = "localhost" };
		struct end s = { .dir = test_tls_path("srv-expired") };

		test_refused("expired certificate", &c, &s, "The certificate chain "
			     "uses expired certificate", "the source refused the TLS "
			     "handshake: Certificate is expired");
	}
	{
		struct end c = { .dir = test_tls_path("cli-foreign"), .hostname = "localhost" };
		struct end s = { .dir = test_tls_path("srv") };

		test_refused("client certificate of another CA", &c, &s,
			     "the peer ended TLS: Certificate is required",
			     "the source sent no certificate our CA signed");
	}
	{
		struct end c = { .dir = test_tls_path("cli"), .hostname = "localhost" };
		struct end s = { .dir = test_tls_path("srv"), .authz = "CN=other,O=kvmig" };

		test_refused("client DN not in --tls-authz", &c, &s,
			     "the source's certificate, 'CN=kvmig-src,O=kvmig', is "
			     "not one --tls-authz lets in",
			     "'CN=kvmig-src,O=kvmig', is not one --tls-authz lets in");
	}
	{
		struct end c = { .dir = test_tls_path("psk-other") };
		struct end s = { .dir = test_tls_path("psk") };

		test_refused("wrong PSK", &c, &s, "keys.psk", "keys.psk");
	}
	{
		struct end c = { .dir = test_tls_path("cli"), .hostname = "localhost",
				 .priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2" };
		struct end s = { .dir = test_tls_path("srv") };

		test_refused("downgrade to TLS 1.2", &c, &s, "requires TLS 1.3",
			     "the source offers no TLS 1.3: an older version is a "
			     "downgrade, refused");
	}
	{
		struct end c = { .dir = test_tls_path("psk"),
				 .priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2:+ECDHE-PSK:+PSK" };
		struct end s = { .dir = test_tls_path("psk") };

		test_refused("PSK downgrade to TLS 1.2", &c, &s, "requires TLS 1.3",
			     "offers no TLS 1.3");
	}
	{
		struct end c = { 0 };
		struct end s = { .dir = test_tls_path("srv") };

		test_refused("plaintext source, TLS destination", &c, &s,
			     "the source did not start TLS: it sent a plaintext "
			     "kvmig frame", "the source did not start TLS");
	}
	{
		struct end c = { .dir = test_tls_path("cli"), .hostname = "localhost" };
		struct end s = { 0 };

		test_refused("TLS source, plaintext destination", &c, &s,
			     "the destination does not speak TLS: it answered with "
			     "a plaintext kvmig frame", "the peer started TLS (a TLS "
			     "ClientHello), and this end has no --tls-creds");
	}
	{
		struct end c = { .silent = true };
		struct end s = { .dir = test_tls_path("srv"), .timeout_ms = 300 };
		uint64_t t0 = test_now_ns();

		run_pair(&c, &s);
		ksft_test_result(s.r == -ETIMEDOUT && strstr(s.err, "TLS handshake: "
				 "timed out waiting for the peer") &&
				 test_now_ns() - t0 < 5000000000ULL,
				 "a silent source: the handshake ends by the timeout");
	}
	{
		struct end c = { .silent = true };
		struct end s = { .dir = test_tls_path("srv"), .idle = idle_cancel };

		run_pair(&c, &s);
		ksft_test_result(s.r == -ECANCELED && idle_calls == 3,
				 "a silent source: the idle callback ends the handshake");
	}
	{
		char err[256];
		struct tls_creds *cr = tls_creds_new(TLS_SERVER, test_tls_path("nowhere"),
						     NULL, err, sizeof(err));

		ksft_test_result(!cr && errno == ENOENT && strstr(err, "nowhere: No such file"),
				 "a creds directory that is not there: '%s'", err);
		cr = tls_creds_new(TLS_SERVER, test_tls_path("cli"), NULL, err, sizeof(err));
		ksft_test_result(!cr && strstr(err, "server-cert.pem"),
				 "a client's directory given to a server: '%s'", err);
	}
	free(big);
	ksft_finished();
}
