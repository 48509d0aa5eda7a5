// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * TLS on the migration channels, with GnuTLS (QEMU's library: the same
 * creds directory and keys.psk format work for both).  One session per
 * channel, handshaken right after connect/accept and before any frame;
 * TLS 1.3 only, so an older version a peer (or a man in the middle) offers
 * is refused, not negotiated down.
 *
 * The session never blocks: its transport is the channel's socket read
 * and written with MSG_DONTWAIT (tls_pull, tls_push), and GNUTLS_E_AGAIN
 * sends us back to chan_wait(), which polls in the channel's idle slices
 * and honours its timeout, for the handshake as for the records.  A read
 * polls only when the session holds no decrypted bytes (chan_tls_pending):
 * a record is decrypted whole, and what the caller did not take yet is no
 * longer in the socket for poll() to see.
 *
 * The transport is ours, not the fd given to GnuTLS, for two reasons: the
 * first bytes the peer sent are kept, so a peer that speaks plaintext is
 * named as such instead of "an unexpected packet"; and sendmsg() carries
 * MSG_NOSIGNAL.  (Kernel TLS needs GnuTLS to own the fd; the kernels this
 * was measured on offer no "tls" ULP, see Documentation/design.rst.)
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "chan.h"
#include "tls.h"

/*
 * TLS 1.3 and nothing older.  AES-128-GCM first: on hosts with AES-NI it
 * is the fastest AEAD GnuTLS has (bench_tls), and an external PSK's
 * binder hash is SHA-256, which rules out AES-256-GCM (SHA-384): with
 * GnuTLS's own order a PSK session fell to ChaCha20-Poly1305, at a
 * quarter of the speed.  PSK mode uses only the key exchanges with
 * (EC)DHE: a stolen key does not decrypt recorded migrations.
 */
#define TLS_PRIORITY_X509	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"
#define TLS_PRIORITY_PSK	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"

#define TLS_MAX_AUTHZ		64

struct tls_creds {
	enum tls_role role;
	bool psk;
	gnutls_certificate_credentials_t x509;
	gnutls_psk_client_credentials_t psk_client;
	gnutls_psk_server_credentials_t psk_server;
	char *psk_user;			/* client: the identity sent */
	char *priority;
	/* server, x509: the client DNs let in (none: any the CA signed) */
	char *authz[TLS_MAX_AUTHZ];
	unsigned int nr_authz;
};

/* A channel's session; the channel's thread(s) own it (one reader, one writer). */
struct tls_conn {
	gnutls_session_t s;
	int fd;
	/* the peer's first bytes, to name a plaintext peer (handshake only) */
	unsigned char first[4];
	unsigned int nr_first;
};

static int path_of(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A line of @f, without its newline and blanks; false at the end. */
static bool next_line(FILE *f, char *buf, size_t len)
{
	while (fgets(buf, (int)len, f)) {
		char *p = buf, *e;

		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' ||
				 e[-1] == '\t'))
			*--e = 0;
		if (!*p || *p == '#')
			continue;
		memmove(buf, p, (size_t)(e - p) + 1);
		return true;
	}
	return false;
}

static int load_authz(struct tls_creds *cr, const char *authz, char *err,
		      size_t errlen)
{
	char line[1024];
	FILE *f;

	if (strchr(authz, '=')) {	/* a DN names attributes: CN=... */
		cr->authz[0] = strdup(authz);
		cr->nr_authz = 1;
		return cr->authz[0] ? 0 : -ENOMEM;
	}
	f = fopen(authz, "re");
	if (!f) {
		int r = -errno;

		snprintf(err, errlen, "--tls-authz %s: %s (neither a file nor a "
			 "distinguished name such as CN=host,O=org)", authz,
			 strerror(errno));
		return r;
	}
	while (next_line(f, line, sizeof(line))) {
		if (cr->nr_authz == TLS_MAX_AUTHZ) {
			snprintf(err, errlen, "--tls-authz %s: more than %u names",
				 authz, TLS_MAX_AUTHZ);
			fclose(f);
			return -E2BIG;
		}
		cr->authz[cr->nr_authz] = strdup(line);
		if (!cr->authz[cr->nr_authz]) {
			fclose(f);
			return -ENOMEM;
		}
		cr->nr_authz++;
	}
	fclose(f);
	if (!cr->nr_authz) {
		snprintf(err, errlen, "--tls-authz %s: no distinguished name in it "
			 "(one a line)", authz);
		return -EINVAL;
	}
	return 0;
}

/* keys.psk: "username:hexkey" lines; a client sends the first one's. */
static int load_psk(struct tls_creds *cr, const char *path, char *err,
		    size_t errlen)
{
	char line[1024], *colon;
	gnutls_datum_t key;
	FILE *f;
	int r;

	if (cr->role == TLS_SERVER) {
		r = gnutls_psk_allocate_server_credentials(&cr->psk_server);
		if (!r)
			r = gnutls_psk_set_server_credentials_file(cr->psk_server, path);
		if (r) {
			snprintf(err, errlen, "%s: %s", path, gnutls_strerror(r));
			return -EINVAL;
		}
		return 0;
	}
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	r = next_line(f, line, sizeof(line)) ? 0 : -EINVAL;
	fclose(f);
	colon = strchr(line, ':');
	if (r || !colon || colon == line || !colon[1]) {
		snprintf(err, errlen, "%s: no 'username:hexkey' line", path);
		return -EINVAL;
	}
	*colon = 0;
	cr->psk_user = strdup(line);
	if (!cr->psk_user)
		return -ENOMEM;
	key.data = (unsigned char *)colon + 1;
	key.size = (unsigned int)strlen(colon + 1);
	r = gnutls_psk_allocate_client_credentials(&cr->psk_client);
	if (!r)
		r = gnutls_psk_set_client_credentials(cr->psk_client, line, &key,
						      GNUTLS_PSK_KEY_HEX);
	explicit_bzero(line, sizeof(line));
	if (r) {
		snprintf(err, errlen, "%s: the key of '%s': %s", path, cr->psk_user,
			 gnutls_strerror(r));
		return -EINVAL;
	}
	return 0;
}

static int load_x509(struct tls_creds *cr, const char *dir, char *err,
		     size_t errlen)
{
	const char *who = cr->role == TLS_SERVER ? "server" : "client";
	char ca[4096], cert[4096], key[4096], name[32];
	int r;

	if (path_of(ca, sizeof(ca), dir, "ca-cert.pem"))
		return -ENAMETOOLONG;
	snprintf(name, sizeof(name), "%s-cert.pem", who);
	if (path_of(cert, sizeof(cert), dir, name))
		return -ENAMETOOLONG;
	snprintf(name, sizeof(name), "%s-key.pem", who);
	if (path_of(key, sizeof(key), dir, name))
		return -ENAMETOOLONG;
	if (access(ca, R_OK)) {
		r = -errno;
		snprintf(err, errlen, "%s: %s (an x509 creds directory holds "
			 "ca-cert.pem, %s-cert.pem and %s-key.pem; a PSK one, "
			 "keys.psk)", ca, strerror(errno), who, who);
		return r;
	}
	r = gnutls_certificate_allocate_credentials(&cr->x509);
	if (r)
		return -ENOMEM;
	r = gnutls_certificate_set_x509_trust_file(cr->x509, ca, GNUTLS_X509_FMT_PEM);
	if (r <= 0) {
		snprintf(err, errlen, "%s: %s", ca, r ? gnutls_strerror(r) :
			 "no certificate in it");
		return -EINVAL;
	}
	/* a client without a certificate of its own: the server refuses it */
	if (cr->role == TLS_CLIENT && access(cert, R_OK) && access(key, R_OK))
		return 0;
	r = gnutls_certificate_set_x509_key_file(cr->x509, cert, key,
						 GNUTLS_X509_FMT_PEM);
	if (r) {
		snprintf(err, errlen, "%s, %s: %s", cert, key,
			 access(cert, R_OK) || access(key, R_OK) ? strerror(errno) :
			 gnutls_strerror(r));
		return -EINVAL;
	}
	return 0;
}

struct tls_creds *tls_creds_new(enum tls_role role, const char *dir,
				const char *authz, char *err, size_t errlen)
{
	struct tls_creds *cr;
	char psk[4096];
	struct stat st;
	int r;

	if (!dir || !*dir) {
		snprintf(err, errlen, "--tls-creds: no directory");
		return err_ptr(-EINVAL);
	}
	r = stat(dir, &st) ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (r) {
		snprintf(err, errlen, "--tls-creds %s: %s", dir, strerror(-r));
		return err_ptr(r);
	}
	if (path_of(psk, sizeof(psk), dir, "keys.psk")) {
		snprintf(err, errlen, "--tls-creds %s: name too long", dir);
		return err_ptr(-ENAMETOOLONG);
	}
	cr = calloc(1, sizeof(*cr));
	if (!cr) {
		snprintf(err, errlen, "out of memory");
		return err_ptr(-ENOMEM);
	}
	cr->role = role;
	snprintf(err, errlen, "out of memory");
	cr->psk = !access(psk, F_OK);
	r = cr->psk ? load_psk(cr, psk, err, errlen) : load_x509(cr, dir, err, errlen);
	if (!r && authz && role == TLS_SERVER) {
		if (cr->psk) {
			snprintf(err, errlen, "--tls-authz names certificates, but "
				 "%s holds keys.psk (PSK mode has none)", dir);
			r = -EINVAL;
		} else {
			r = load_authz(cr, authz, err, errlen);
		}
	}
	if (!r) {
		cr->priority = strdup(cr->psk ? TLS_PRIORITY_PSK : TLS_PRIORITY_X509);
		r = cr->priority ? 0 : -ENOMEM;
	}
	if (r) {
		tls_creds_free(cr);
		return err_ptr(r);
	}
	*err = 0;
	return cr;
}

void tls_creds_free(struct tls_creds *cr)
{
	unsigned int i;

	if (!cr)
		return;
	if (cr->x509)
		gnutls_certificate_free_credentials(cr->x509);
	if (cr->psk_client)
		gnutls_psk_free_client_credentials(cr->psk_client);
	if (cr->psk_server)
		gnutls_psk_free_server_credentials(cr->psk_server);
	for (i = 0; i < cr->nr_authz; i++)
		free(cr->authz[i]);
	free(cr->psk_user);
	free(cr->priority);
	free(cr);
}

bool tls_creds_is_psk(const struct tls_creds *cr)
{
	return cr->psk;
}

int tls_creds_set_priority(struct tls_creds *cr, const char *priority)
{
	char *p = strdup(priority);

	if (!p)
		return -ENOMEM;
	free(cr->priority);
	cr->priority = p;
	return 0;
}

/* ---- the transport: the socket, never blocking ---- */

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct tls_conn *t = p;
	ssize_t n = recv(t->fd, buf, len, MSG_DONTWAIT);

	if (n < 0) {
		gnutls_transport_set_errno(t->s, errno);
		return -1;
	}
	for (ssize_t i = 0; i < n && t->nr_first < sizeof(t->first); i++)
		t->first[t->nr_first++] = ((unsigned char *)buf)[i];
	return n;
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const giovec_t *iov, int cnt)
{
	struct tls_conn *t = p;
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };
	ssize_t n = sendmsg(t->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		gnutls_transport_set_errno(t->s, errno);
	return n;
}

static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct tls_conn *t = p;
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };

	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

/* ---- the handshake ---- */

static bool alert_is_refusal(gnutls_alert_description_t a)
{
	switch (a) {
	case GNUTLS_A_BAD_CERTIFICATE:
	case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
	case GNUTLS_A_CERTIFICATE_REVOKED:
	case GNUTLS_A_CERTIFICATE_EXPIRED:
	case GNUTLS_A_CERTIFICATE_UNKNOWN:
	case GNUTLS_A_UNKNOWN_CA:
	case GNUTLS_A_ACCESS_DENIED:
	case GNUTLS_A_DECRYPT_ERROR:
	case GNUTLS_A_BAD_RECORD_MAC:
	case GNUTLS_A_UNKNOWN_PSK_IDENTITY:
	case GNUTLS_A_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}

/* gnutls' text without its trailing blanks */
static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == ' ')
		s[--n] = 0;
}

/*
 * Why @r ended the handshake, in words; the errno to return, and in
 * *@alert the alert that tells the peer (-1: none, it cannot read one or
 * knows already).
 */
static int describe(struct chan *c, const struct tls_creds *cr,
		    const char *hostname, int r, int *alert, char *err,
		    size_t errlen)
{
	struct tls_conn *t = c->tls;
	const char *peer = cr->role == TLS_SERVER ? "the source" : "the destination";
	const char *psk_hint = !cr->psk ? "" :
		" (do both hosts hold the same key for the same user in keys.psk?)";

	*alert = -1;
	if (t->nr_first >= 4 && !memcmp(t->first, "KVMF", 4)) {
		if (cr->role == TLS_SERVER)
			snprintf(err, errlen, "the source did not start TLS: it "
				 "sent a plaintext kvmig frame (kvmig migrate "
				 "without --tls-creds?)");
		else
			snprintf(err, errlen, "the destination does not speak TLS: "
				 "it answered with a plaintext kvmig frame (kvmig "
				 "incoming without --tls-creds?)");
		return -EPROTO;
	}
	if (t->nr_first && (t->first[0] < 0x14 || t->first[0] > 0x18)) {
		snprintf(err, errlen, "%s did not start TLS: its first bytes are "
			 "not a TLS record", peer);
		return -EPROTO;
	}
	switch (r) {
	case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR: {
		unsigned int status = gnutls_session_get_verify_cert_status(t->s);
		bool name = status & GNUTLS_CERT_UNEXPECTED_OWNER;
		gnutls_datum_t out = { 0 };

		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
							     &out, 0);
		if (out.data)
			trim((char *)out.data);
		snprintf(err, errlen, "%s's certificate is refused: %s%s%s%s", peer,
			 out.data ? (char *)out.data : "not verified",
			 name ? " (expected: '" : "", name ? hostname : "",
			 name ? "', --tls-hostname)" : "");
		gnutls_free(out.data);
		*alert = status & GNUTLS_CERT_EXPIRED ? GNUTLS_A_CERTIFICATE_EXPIRED :
			 status & GNUTLS_CERT_SIGNER_NOT_FOUND ? GNUTLS_A_UNKNOWN_CA :
			 GNUTLS_A_BAD_CERTIFICATE;
		return -EACCES;
	}
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		/* a client sends only a certificate of a CA the server named */
		snprintf(err, errlen, "%s sent no certificate our CA signed (its "
			 "--tls-creds directory lacks %s-cert.pem, or it holds one "
			 "of another CA)", peer,
			 cr->role == TLS_SERVER ? "client" : "server");
		*alert = GNUTLS_A_CERTIFICATE_REQUIRED;
		return -EACCES;
	case GNUTLS_E_FATAL_ALERT_RECEIVED: {
		gnutls_alert_description_t a = gnutls_alert_get(t->s);
		const char *name = gnutls_alert_get_name(a);
		bool version = a == GNUTLS_A_PROTOCOL_VERSION;

		snprintf(err, errlen, "%s refused the TLS handshake: %s%s%s", peer,
			 name ? name : "an alert",
			 version ? " (it requires TLS 1.3)" : "",
			 version ? "" : psk_hint);
		return alert_is_refusal(a) || (cr->psk && !version) ? -EACCES : -EPROTO;
	}
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
	case GNUTLS_E_NO_CIPHER_SUITES:
	case GNUTLS_E_INSUFFICIENT_SECURITY:
		/* both ends' priorities differ only in the versions they allow */
		snprintf(err, errlen, "%s offers no TLS 1.3: an older version is a "
			 "downgrade, refused (%s)", peer, gnutls_strerror(r));
		*alert = GNUTLS_A_PROTOCOL_VERSION;
		return -EPROTO;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		snprintf(err, errlen, "%s closed the connection during the TLS "
			 "handshake%s", peer, psk_hint);
		return -ECONNRESET;
	default:
		snprintf(err, errlen, "TLS handshake with %s: %s%s", peer,
			 gnutls_strerror(r), psk_hint);
		*alert = gnutls_error_to_alert(r, NULL);
		return cr->psk ? -EACCES : -EPROTO;
	}
}

/* x509 servers with --tls-authz: the client certificate's DN must be listed. */
static int check_authz(struct chan *c, const struct tls_creds *cr, char *err,
		       size_t errlen)
{
	struct tls_conn *t = c->tls;
	const gnutls_datum_t *certs;
	gnutls_datum_t dn = { 0 };
	gnutls_x509_crt_t crt;
	unsigned int n, i;
	int r;

	if (cr->role != TLS_SERVER || cr->psk || !cr->nr_authz)
		return 0;
	certs = gnutls_certificate_get_peers(t->s, &n);
	if (!certs || !n) {
		snprintf(err, errlen, "the source sent no certificate, and "
			 "--tls-authz asks for one");
		return -EACCES;
	}
	if (gnutls_x509_crt_init(&crt))
		return -ENOMEM;
	r = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
	if (!r)
		r = gnutls_x509_crt_get_dn3(crt, &dn, 0);
	gnutls_x509_crt_deinit(crt);
	if (r) {
		snprintf(err, errlen, "the source's certificate: %s", gnutls_strerror(r));
		return -EACCES;
	}
	for (i = 0; i < cr->nr_authz; i++)
		if (!strcmp((char *)dn.data, cr->authz[i]))
			break;
	if (i == cr->nr_authz)
		snprintf(err, errlen, "the source's certificate, '%s', is not one "
			 "--tls-authz lets in", (char *)dn.data);
	gnutls_free(dn.data);
	return i == cr->nr_authz ? -EACCES : 0;
}

int chan_tls_start(struct chan *c, const struct tls_creds *cr,
		   const char *hostname, char *err, size_t errlen)
{
	unsigned int flags = (cr->role == TLS_SERVER ? GNUTLS_SERVER : GNUTLS_CLIENT) |
			     GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL;
	struct tls_conn *t = calloc(1, sizeof(*t));
	const char *where;
	int r, alert;

	if (!t || gnutls_init(&t->s, flags)) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fd = c->fd;
	c->tls = t;
	r = gnutls_priority_set_direct(t->s, cr->priority, &where);
	if (r) {
		snprintf(err, errlen, "TLS priority '%s' at '%s': %s", cr->priority,
			 where ? where : "", gnutls_strerror(r));
		r = -EINVAL;
		goto fail;
	}
	if (cr->psk) {
		r = gnutls_credentials_set(t->s, GNUTLS_CRD_PSK,
					   cr->role == TLS_SERVER ?
					   (void *)cr->psk_server : (void *)cr->psk_client);
	} else {
		r = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, cr->x509);
		if (cr->role == TLS_SERVER) {
			gnutls_certificate_server_set_request(t->s, GNUTLS_CERT_REQUIRE);
			gnutls_session_set_verify_cert(t->s, NULL, 0);
		} else {
			/* the name (or address) the certificate must carry */
			gnutls_session_set_verify_cert(t->s, hostname, 0);
			if (hostname && !strchr(hostname, ':') &&
			    strspn(hostname, "0123456789.") != strlen(hostname))
				gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, hostname,
						       strlen(hostname));
		}
	}
	if (r) {
		snprintf(err, errlen, "TLS credentials: %s", gnutls_strerror(r));
		r = -EINVAL;
		goto fail;
	}
	gnutls_transport_set_ptr(t->s, t);
	gnutls_transport_set_pull_function(t->s, tls_pull);
	gnutls_transport_set_vec_push_function(t->s, tls_push);
	gnutls_transport_set_pull_timeout_function(t->s, tls_pull_timeout);
	gnutls_handshake_set_timeout(t->s, 0);	/* ours: chan_wait() */

	for (;;) {
		r = gnutls_handshake(t->s);
		if (!r)
			break;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ||
		    !gnutls_error_is_fatal(r)) {
			int w = chan_wait(c, gnutls_record_get_direction(t->s) ?
					  POLLOUT : POLLIN);

			if (!w)
				continue;
			snprintf(err, errlen, "TLS handshake: %s", w == -ETIMEDOUT ?
				 "timed out waiting for the peer" : strerror(-w));
			r = w;
			goto fail;
		}
		r = describe(c, cr, hostname, r, &alert, err, errlen);
		if (alert >= 0)	/* best effort: it may not block */
			gnutls_alert_send(t->s, GNUTLS_AL_FATAL,
					  (gnutls_alert_description_t)alert);
		goto fail;
	}
	/* a refused DN keeps the session: the refusal goes to the peer in it */
	return check_authz(c, cr, err, errlen);

fail:
	c->plain_peer = chan_tls_plain_peer(c);
	gnutls_deinit(t->s);
	free(t);
	c->tls = NULL;
	if (!c->plain_peer) {
		/* nothing more to say to a TLS peer in plaintext */
		close(c->fd);
		c->fd = -1;
	}
	return r;
}

bool chan_tls_plain_peer(const struct chan *c)
{
	const struct tls_conn *t = c->tls;

	if (!t)
		return c->plain_peer;
	return t->nr_first >= 4 && !memcmp(t->first, "KVMF", 4);
}

void chan_tls_free(struct chan *c)
{
	struct tls_conn *t = c->tls;

	if (!t)
		return;
	gnutls_bye(t->s, GNUTLS_SHUT_WR);	/* best effort: it may not block */
	gnutls_deinit(t->s);
	free(t);
	c->tls = NULL;
}

char *chan_tls_desc(const struct chan *c)
{
	char *d, *copy;

	if (!c->tls)
		return NULL;
	d = gnutls_session_get_desc(c->tls->s);
	copy = d ? strdup(d) : NULL;	/* gnutls_free() is not free() */
	gnutls_free(d);
	return copy;
}

bool chan_tls_pending(const struct chan *c)
{
	const struct tls_conn *t = c->tls;

	return t && gnutls_record_check_pending(t->s);
}

/*
 * A TLS error on an established session: the errno, and for the reader
 * (the thread that owns c->tls_err; a writer may run beside it on channel
 * 0) the words in c->tls_err.
 */
static int io_error(struct chan *c, int r, bool reader)
{
	struct tls_conn *t = c->tls;

	switch (r) {
	case GNUTLS_E_FATAL_ALERT_RECEIVED: {
		gnutls_alert_description_t a = gnutls_alert_get(t->s);

		if (reader)
			snprintf(c->tls_err, sizeof(c->tls_err), "the peer ended "
				 "TLS: %s", gnutls_alert_get_name(a) ?: "an alert");
		return alert_is_refusal(a) ? -EACCES : -ECONNRESET;
	}
	case GNUTLS_E_PREMATURE_TERMINATION:
		return -ECONNRESET;	/* closed without close_notify: as plaintext */
	case GNUTLS_E_PULL_ERROR:
		return -ECONNRESET;
	case GNUTLS_E_PUSH_ERROR:
		return -EPIPE;
	default:
		if (reader)
			snprintf(c->tls_err, sizeof(c->tls_err), "TLS: %s",
				 gnutls_strerror(r));
		return -EPROTO;
	}
}

/*
 * One frame (@iov, @cnt pieces) as one flight of records: corked, so the
 * header and the payload share a record rather than each paying its own.
 */
int chan_tls_write(struct chan *c, struct iovec *iov, int cnt)
{
	struct tls_conn *t = c->tls;
	uint64_t total = 0;
	ssize_t r;
	int i;

	gnutls_record_cork(t->s);
	for (i = 0; i < cnt; i++) {
		if (!iov[i].iov_len)
			continue;
		r = gnutls_record_send(t->s, iov[i].iov_base, iov[i].iov_len);
		if (r < 0) {
			gnutls_record_uncork(t->s, 0);	/* drops nothing sent */
			return io_error(c, (int)r, false);
		}
		total += iov[i].iov_len;
	}
	for (;;) {
		r = gnutls_record_uncork(t->s, 0);
		if (r >= 0)
			break;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			int w = chan_wait(c, POLLOUT);

			if (w)
				return w;
			continue;
		}
		return io_error(c, (int)r, false);
	}
	STAT_ADD(c->bytes_sent, total);
	return 0;
}

/* > 0 bytes, -EAGAIN (nothing yet: poll), or an error; never 0. */
ssize_t chan_tls_read(struct chan *c, void *buf, size_t len)
{
	struct tls_conn *t = c->tls;
	ssize_t n = gnutls_record_recv(t->s, buf, len);

	if (n > 0)
		return n;
	if (!n)
		return -ECONNRESET;	/* close_notify */
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ||
	    !gnutls_error_is_fatal((int)n))
		return -EAGAIN;
	return io_error(c, (int)n, true);
}
