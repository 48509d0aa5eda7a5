/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * TLS on the migration channels (tls.c, GnuTLS); internal to libkvmig.
 * Documentation/migration-stream.rst, "TLS", has the rules.  Built
 * without it (TLS=0, no KVMIG_TLS), the stubs below refuse TLS and the
 * channels never get a session, so callers need no #ifdef.
 */
#ifndef KVMIG_TLS_H
#define KVMIG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct chan;

/* The source connects: the client; the destination accepts: the server. */
enum tls_role {
	TLS_CLIENT,
	TLS_SERVER,
};

/*
 * What every channel of one migration shares: the credentials read from
 * the creds directory once (x509, or PSK when it holds keys.psk), the
 * distinguished names a server lets in, the priority string.  Read-only
 * once made: the channels' threads only read it.
 */
struct tls_creds;

/* Whether @b (@n bytes) starts like a TLS record: handshake (22), 3.x. */
static inline bool tls_looks_like_hello(const unsigned char *b, size_t n)
{
	return n >= 2 && b[0] == 0x16 && b[1] == 0x03;
}

#ifdef KVMIG_TLS

/*
 * Read @dir's files for @role (x509: ca-cert.pem, and server-cert.pem +
 * server-key.pem or client-cert.pem + client-key.pem; PSK: keys.psk).
 * @authz (servers, may be NULL: any client the CA signed) is one
 * distinguished name (it holds '=') or a file of them, one a line.
 * Return: the credentials, or NULL with errno and @err in words.
 */
struct tls_creds *tls_creds_new(enum tls_role role, const char *dir,
				const char *authz, char *err, size_t errlen);
void tls_creds_free(struct tls_creds *cr);
bool tls_creds_is_psk(const struct tls_creds *cr);
/*
 * Replace the GnuTLS priority string (tests: a client that offers only
 * TLS 1.2, a downgrade the other end must refuse).  0 or -ENOMEM.
 */
int tls_creds_set_priority(struct tls_creds *cr, const char *priority);

/*
 * Run the TLS handshake on @c, a fresh connection, before any frame;
 * a client checks the server's certificate against @hostname.  It waits
 * as reads do (the channel's timeout and idle callback).  On success the
 * channel's frames travel inside the session.  On failure, 0 > return
 * (-EPROTO: the peer spoke plaintext, no TLS 1.3, a protocol error;
 * -EACCES: a certificate, a name, a DN or a key refused; -ECONNRESET,
 * -ETIMEDOUT, ...) with @err saying why.  A peer that spoke plaintext
 * kvmig (chan_tls_plain_peer()) keeps the connection, now plaintext, so
 * that an ERROR frame can tell it why; a source --tls-authz refuses keeps
 * it inside TLS, for the same reason; any other failure closes it (fd -1).
 */
int chan_tls_start(struct chan *c, const struct tls_creds *cr,
		   const char *hostname, char *err, size_t errlen);
bool chan_tls_plain_peer(const struct chan *c);
void chan_tls_free(struct chan *c);
/* "(TLS1.3)-(ECDHE-SECP256R1)-...-(AES-256-GCM)" (malloc'd), or NULL */
char *chan_tls_desc(const struct chan *c);
/* Decrypted bytes wait in the session: a read must not poll first. */
bool chan_tls_pending(const struct chan *c);
/* channel.c's write_all() and read_full() for a TLS channel */
int chan_tls_write(struct chan *c, struct iovec *iov, int cnt);
ssize_t chan_tls_read(struct chan *c, void *buf, size_t len);

#else /* !KVMIG_TLS: built without GnuTLS (TLS=0, a static link) */

#include <errno.h>
#include <stdio.h>

static inline struct tls_creds *tls_creds_new(enum tls_role role,
					      const char *dir, const char *authz,
					      char *err, size_t errlen)
{
	(void)role, (void)dir, (void)authz;
	snprintf(err, errlen, "--tls-creds: this libkvmig was built without "
		 "TLS (TLS=0)");
	errno = EOPNOTSUPP;
	return NULL;
}
static inline void tls_creds_free(struct tls_creds *cr) { (void)cr; }
static inline bool tls_creds_is_psk(const struct tls_creds *cr)
{
	(void)cr;
	return false;
}
static inline int tls_creds_set_priority(struct tls_creds *cr,
					 const char *priority)
{
	(void)cr, (void)priority;
	return -EOPNOTSUPP;
}
static inline int chan_tls_start(struct chan *c, const struct tls_creds *cr,
				 const char *hostname, char *err, size_t errlen)
{
	(void)c, (void)cr, (void)hostname;
	snprintf(err, errlen, "built without TLS");
	return -EOPNOTSUPP;
}
static inline bool chan_tls_plain_peer(const struct chan *c)
{
	(void)c;
	return false;
}
static inline void chan_tls_free(struct chan *c) { (void)c; }
static inline char *chan_tls_desc(const struct chan *c)
{
	(void)c;
	return NULL;
}
static inline bool chan_tls_pending(const struct chan *c)
{
	(void)c;
	return false;
}
static inline int chan_tls_write(struct chan *c, struct iovec *iov, int cnt)
{
	(void)c, (void)iov, (void)cnt;
	return -EOPNOTSUPP;
}
static inline ssize_t chan_tls_read(struct chan *c, void *buf, size_t len)
{
	(void)c, (void)buf, (void)len;
	return -EOPNOTSUPP;
}

#endif /* KVMIG_TLS */

#endif /* KVMIG_TLS_H */
