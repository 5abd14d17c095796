/*
 * net_mail.h: the mail sender: one thread, off the core loops, that delivers
 * the durable outbox (store.h, "The account lifecycle") over SMTP with
 * libcurl.
 *
 * Delivery is at least once. The sender reads pending mails on its own read
 * txn, sends each one (smtp:// with STARTTLS when the server offers it, or
 * smtps://; one connection reused while it lives), and only after the
 * server's 250 asks the writer to delete it: one request, one commit, for the
 * up to CET_MAIL_BATCH_MAX mails of a pass. A crash between the 250 and that
 * commit sends
 * the mail again after the restart, with the same Message-ID
 * (<cetreg.ID.NONCE@DOMAIN-OF-FROM>), which mail systems use to drop the
 * copy. An SMTP server that is down, or answers 4xx, is retried with a wait
 * that doubles from CET_MAIL_RETRY_MIN_MS to CET_MAIL_RETRY_MAX_MS; the mail
 * stays pending meanwhile, and nobody's HTTP answer waits for it. A mail
 * refused for good (5xx) moves to the failed state and is logged.
 *
 * /metrics: cetd_mail_sent_total, cetd_mail_failed_total, cetd_mail_retries_total.
 */
#ifndef NET_MAIL_H
#define NET_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_writer.h"

typedef struct net_mail net_mail_t;

typedef struct net_mail_options {
    const char *smtp_url;  /* "smtp://HOST:PORT" or "smtps://HOST:PORT" (libcurl's syntax,
                              user:password@ allowed); the caller keeps it alive */
    const char *mail_from; /* the envelope sender and From: address */
    const char *ca_file;   /* PEM CA certificates to verify the server's TLS with (NULL: the
                              system's); the caller keeps it alive */
} net_mail_options_t;

/**
 * Checks the options (the URL's scheme, a plausible from address): 0, or -1
 * with a one-line reason in why[cap].
 */
int net_mail_options_check(const net_mail_options_t *opt, char *why, size_t cap);
/**
 * Starts the sender over st, removing delivered mail through w. Calls
 * curl_global_init (the caller runs it before other threads use libcurl).
 * Returns 0 with *out, or an errno code. The first pass runs at once: what a
 * crash left pending goes first.
 */
int net_mail_start(store_t *st, store_writer_t *w, const net_mail_options_t *opt, net_mail_t **out);
/** Wakes the sender to look at the outbox now (any thread). */
void net_mail_kick(net_mail_t *m);
/**
 * Stops the sender after the mail it is sending (at most one SMTP
 * transaction, CET_MAIL_TIMEOUT_S) and joins it. The writer must still run.
 * NULL is a no-op.
 */
void net_mail_stop(net_mail_t *m);

/**
 * Composes the RFC 5322 message of a stored mail: Date (from m->created, in
 * +08:00), From, To, a UTF-8 Subject as RFC 2047 encoded words, the stable
 * Message-ID, MIME-Version and a text/plain UTF-8 body in base64, CRLF line
 * ends. Pure and thread-safe. Returns the length written into out (a NUL
 * follows), or 0 when it does not fit in cap.
 */
size_t net_mail_compose(const store_mail_t *m, const char *subject, const char *body,
                        const char *from, char *out, size_t cap);

#endif
