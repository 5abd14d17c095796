/*
 * net_mail.c: the outbox sender (net_mail.h): compose, send over SMTP with
 * libcurl, and delete through the writer after the server's 250.
 */
#include "net/net_mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "net/net.h"

/* ---- composing ---- */
typedef struct out_buf {
    char *p;
    size_t n, cap;
    bool full;
} out_buf_t;

static void put(out_buf_t *o, const char *s, size_t n)
{
    if (o->full || o->n + n + 1 > o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = 0;
}

static void puts_(out_buf_t *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_b64(out_buf_t *o, const uint8_t *in, size_t n)
{
    char b64[200]; /* callers pass at most 57 bytes at a time */
    CET_ASSERT(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) <= sizeof b64);
    sodium_bin2base64(b64, sizeof b64, in, n, sodium_base64_VARIANT_ORIGINAL);
    puts_(o, b64);
}

/* Bytes of the UTF-8 sequence starting with lead byte c (1 for a stray byte). */
static size_t utf8_seq(unsigned char c)
{
    return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/*
 * RFC 2047 encoded words of at most 39 bytes of text each (52 base64
 * characters: a word stays inside the 75 it may have, and "Subject: " with
 * the first word inside 78 a line should have), never splitting a UTF-8
 * character, folded onto continuation lines.
 */
static void put_encoded_words(out_buf_t *o, const char *s)
{
    size_t n = strlen(s), i = 0;
    bool first = true;
    while (i < n || first) {
        size_t take = 0;
        while (i + take < n) {
            size_t l = utf8_seq((unsigned char)s[i + take]);
            if (take + l > 39) break;
            take += l;
        }
        if (!first) puts_(o, "\r\n ");
        puts_(o, "=?UTF-8?B?");
        put_b64(o, (const uint8_t *)s + i, take);
        puts_(o, "?=");
        i += take;
        first = false;
        if (take == 0) break;
    }
}

/* "Tue, 01 Dec 2026 20:40:02 +0800": RFC 5322 date in China Standard Time, no locale. */
static void date_5322(int64_t t, char out[40])
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t local = (time_t)(t + 8 * 3600);
    struct tm tm;
    gmtime_r(&local, &tm);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0800", wd[tm.tm_wday], tm.tm_mday,
             mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

size_t net_mail_compose(const store_mail_t *m, const char *subject, const char *body,
                        const char *from, char *out, size_t cap)
{
    out_buf_t o = {out, 0, cap, cap == 0};
    if (cap) out[0] = 0;
    char date[40], nonce[2 * sizeof m->nonce + 1], line[CET_EMAIL_BYTES + 64];
    date_5322(m->created, date);
    cet_hex(nonce, m->nonce, sizeof m->nonce);
    const char *at = strchr(from, '@');
    const char *domain = at && at[1] ? at + 1 : "cetreg.invalid";

    puts_(&o, "Date: ");
    puts_(&o, date);
    puts_(&o, "\r\nFrom: ");
    put_encoded_words(&o, "CET报名");
    snprintf(line, sizeof line, " <%s>\r\nTo: <%s>\r\nSubject: ", from, m->to);
    puts_(&o, line);
    put_encoded_words(&o, subject);
    snprintf(line, sizeof line, "\r\nMessage-ID: <cetreg.%llu.%s@%s>\r\n",
             (unsigned long long)m->id, nonce, domain);
    puts_(&o, line);
    puts_(&o, "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=UTF-8\r\n"
              "Content-Transfer-Encoding: base64\r\n"
              "Auto-Submitted: auto-generated\r\n\r\n");
    /* base64 lines of 76 characters: 57 bytes each */
    size_t n = strlen(body);
    for (size_t i = 0; i < n; i += 57) {
        put_b64(&o, (const uint8_t *)body + i, n - i < 57 ? n - i : 57);
        puts_(&o, "\r\n");
    }
    return o.full ? 0 : o.n;
}

/* ---- options ---- */
static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || *s == '<' || *s == '>' || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

int net_mail_options_check(const net_mail_options_t *opt, char *why, size_t cap)
{
    if (opt->smtp_url && strncmp(opt->smtp_url, "smtp://", 7) != 0 &&
        strncmp(opt->smtp_url, "smtps://", 8) != 0) {
        snprintf(why, cap, "--smtp-url must start with smtp:// or smtps://, not '%s'",
                 opt->smtp_url);
        return -1;
    }
    if (opt->ca_file && (strlen(opt->ca_file) >= CET_URL_BYTES_MAX || access(opt->ca_file, R_OK))) {
        snprintf(why, cap, "--smtp-ca-file: cannot read '%s'", opt->ca_file);
        return -1;
    }
    if (opt->smtp_url && strlen(opt->smtp_url) >= CET_URL_BYTES_MAX) {
        snprintf(why, cap, "--smtp-url is longer than %d bytes", CET_URL_BYTES_MAX - 1);
        return -1;
    }
    const char *f = opt->mail_from;
    const char *at = f ? strchr(f, '@') : NULL;
    if (!f || !at || at == f || !at[1] || strlen(f) >= CET_EMAIL_BYTES || !header_safe(f)) {
        snprintf(why, cap, "--mail-from wants an address like noreply@cet.example, not '%s'",
                 f ? f : "");
        return -1;
    }
    return 0;
}

/* ---- the sender thread ---- */
typedef struct mail_copy {
    store_mail_t m;
    char subject[CET_MAIL_SUBJECT_BYTES_MAX + 1];
    char body[CET_MAIL_BODY_BYTES_MAX + 1];
} mail_copy_t;

struct net_mail {
    store_t *st;
    store_writer_t *writer;
    char smtp_url[CET_URL_BYTES_MAX];
    char from[CET_EMAIL_BYTES];
    char ca_file[CET_URL_BYTES_MAX]; /* "" = the system's CA certificates */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool kicked; /* under lock */
    _Atomic bool stopping;
    /* sender thread only */
    store_mailbox_t *mailbox; /* the writer's completions of our marks */
    bool notified;            /* under lock: completions wait in the mailbox */
    CURL *curl;
    mail_copy_t batch[CET_MAIL_BATCH_MAX];
    int n_batch;
    char message[CET_MAIL_MESSAGE_BYTES_MAX];
};

static int collect_cb(const store_mail_t *sm, const char *subject, const char *body, void *arg)
{
    net_mail_t *m = arg;
    if (m->n_batch >= CET_MAIL_BATCH_MAX) return CET_DONE;
    mail_copy_t *c = &m->batch[m->n_batch++];
    c->m = *sm;
    cet_strlcpy(c->subject, subject, sizeof c->subject);
    cet_strlcpy(c->body, body, sizeof c->body);
    return 0;
}

/* The pending mails, oldest first, up to a batch. Returns 0 or a storage code. */
static int load_batch(net_mail_t *m)
{
    m->n_batch = 0;
    store_txn_t *txn;
    int rc = store_read_begin(m->st, &txn);
    if (rc) return rc;
    rc = store_mail_scan(txn, m->st, STORE_MAIL_PENDING, 0, collect_cb, m);
    store_abort(txn);
    return rc;
}

typedef struct read_cursor {
    const char *p;
    size_t left;
} read_cursor_t;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    read_cursor_t *c = arg;
    size_t n = size * nitems;
    if (n > c->left) n = c->left;
    memcpy(buf, c->p, n);
    c->p += n;
    c->left -= n;
    return n;
}

typedef enum delivery { DELIVERED, REFUSED, TRY_LATER } delivery_t;

/* libcurl's progress callback: a stopping sender abandons its transfer (the mail stays pending). */
static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load(&((net_mail_t *)arg)->stopping) ? 1 : 0;
}

/* Logs name only the recipient's domain: addresses are personal data. */
static const char *domain_of(const char *addr)
{
    const char *at = strchr(addr, '@');
    return at ? at : "@?";
}

static delivery_t deliver(net_mail_t *m, const mail_copy_t *c, long *smtp_code)
{
    size_t len =
        net_mail_compose(&c->m, c->subject, c->body, m->from, m->message, sizeof m->message);
    *smtp_code = 0;
    if (!len) return REFUSED; /* cannot happen within the limits (cet_limits.h asserts) */
    char from[CET_EMAIL_BYTES + 2], to[CET_EMAIL_BYTES + 2];
    snprintf(from, sizeof from, "<%s>", m->from);
    snprintf(to, sizeof to, "<%s>", c->m.to);
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    read_cursor_t cur = {m->message, len};
    CURL *h = m->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, m->smtp_url);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &cur);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    /* smtp://: STARTTLS whenever the server offers it; smtps:// is TLS from the start */
    curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    if (m->ca_file[0]) curl_easy_setopt(h, CURLOPT_CAINFO, m->ca_file);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)CET_MAIL_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, m);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    CURLcode res = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, smtp_code);
    curl_slist_free_all(rcpt);
    /* libcurl reports CURLE_OK only after the server's 250 to the end of DATA */
    if (res == CURLE_OK) return DELIVERED;
    if (*smtp_code >= 500 && *smtp_code < 600) {
        CET_WARN("mail: %llu to ***%s refused for good: SMTP %ld (%s)", (unsigned long long)c->m.id,
                 domain_of(c->m.to), *smtp_code, curl_easy_strerror(res));
        return REFUSED;
    }
    CET_WARN("mail: %llu to ***%s not sent, will retry: %s (SMTP %ld)", (unsigned long long)c->m.id,
             domain_of(c->m.to), curl_easy_strerror(res), *smtp_code);
    return TRY_LATER;
}

/* ---- marking through the writer, waiting for the commit ---- */
/* The outcomes of one pass, recorded in one writer request (one commit). */
typedef struct mark_req {
    store_req_t req; /* first: the writer sees a store_req_t */
    int n;
    uint64_t ids[CET_MAIL_BATCH_MAX];
    int32_t codes[CET_MAIL_BATCH_MAX]; /* 0: delivered; else the SMTP code that refused it */
    bool done;
} mark_req_t;

static int mark_apply_cb(store_txn_t *txn, store_t *st, store_req_t *req)
{
    mark_req_t *r = (mark_req_t *)req;
    for (int i = 0; i < r->n; i++) {
        int rc = r->codes[i] ? store_mail_failed(txn, st, r->ids[i], r->codes[i])
                             : store_mail_sent(txn, st, r->ids[i]);
        if (rc) return rc;
    }
    return 0;
}

static void mark_done_cb(store_req_t *req)
{
    ((mark_req_t *)req)->done = true;
}

/*
 * Records r's outcomes and waits for the commit: 0 when durable; otherwise
 * the mails stay pending (and go again: at least once).
 */
static int mark(net_mail_t *m, mark_req_t *r)
{
    if (r->n == 0) return 0;
    r->req.apply_cb = mark_apply_cb;
    r->req.done_cb = mark_done_cb;
    r->req.mailbox = m->mailbox;
    r->done = false;
    int rc = store_writer_submit(m->writer, &r->req);
    if (rc) return rc;
    while (!r->done) {
        pthread_mutex_lock(&m->lock);
        while (!m->notified)
            pthread_cond_wait(&m->cond, &m->lock);
        m->notified = false;
        pthread_mutex_unlock(&m->lock);
        store_mailbox_drain(m->mailbox); /* runs mark_done_cb here, on the sender's thread */
    }
    return r->req.status;
}

/* The writer's notify: completions arrived (writer thread; only a short lock). */
static void mailbox_notify_cb(void *ctx)
{
    net_mail_t *m = ctx;
    pthread_mutex_lock(&m->lock);
    m->notified = true;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

/* Sleeps until kicked, stopped, or ms passed. */
static void wait_ms(net_mail_t *m, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&m->lock);
    while (!m->kicked && !atomic_load(&m->stopping))
        if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) == ETIMEDOUT) break;
    m->kicked = false;
    pthread_mutex_unlock(&m->lock);
}

static void *mail_main(void *arg)
{
    net_mail_t *m = arg;
    int64_t backoff_ms = 0;
    mark_req_t *marks = cet_calloc(1, sizeof *marks);
    while (!atomic_load(&m->stopping)) {
        int rc = load_batch(m);
        if (rc) CET_ERROR("mail: cannot read the outbox: %s", cet_strerror(rc));
        bool later = rc != 0;
        memset(marks, 0, sizeof *marks);
        /* deliver in id order until the server fails us; then one commit records them all */
        for (int i = 0; i < m->n_batch && !later && !atomic_load(&m->stopping); i++) {
            const mail_copy_t *c = &m->batch[i];
            long code = 0;
            delivery_t d = deliver(m, c, &code);
            if (d == TRY_LATER) {
                net_metrics_count("mail_retries", 1);
                later = true;
                break;
            }
            marks->ids[marks->n] = c->m.id;
            marks->codes[marks->n++] = d == DELIVERED ? 0 : (int32_t)(code ? code : 554);
            net_metrics_count(d == DELIVERED ? "mail_sent" : "mail_failed", 1);
            if (d == DELIVERED)
                CET_INFO("mail: %llu (kind %u) sent to ***%s", (unsigned long long)c->m.id,
                         c->m.kind, domain_of(c->m.to));
        }
        int mrc = mark(m, marks);
        if (mrc) {
            CET_ERROR("mail: cannot record %d deliveries: %s (they will go again)", marks->n,
                      cet_strerror(mrc));
            later = true;
        }
        if (later) {
            backoff_ms = backoff_ms ? backoff_ms * 2 : CET_MAIL_RETRY_MIN_MS;
            if (backoff_ms > CET_MAIL_RETRY_MAX_MS) backoff_ms = CET_MAIL_RETRY_MAX_MS;
            wait_ms(m, backoff_ms);
            continue;
        }
        backoff_ms = 0;
        if (m->n_batch < CET_MAIL_BATCH_MAX) wait_ms(m, CET_MAIL_POLL_MS);
    }
    cet_free(marks);
    return NULL;
}

int net_mail_start(store_t *st, store_writer_t *w, const net_mail_options_t *opt, net_mail_t **out)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return EIO;
    net_mail_t *m = cet_calloc(1, sizeof *m);
    m->st = st;
    m->writer = w;
    cet_strlcpy(m->smtp_url, opt->smtp_url, sizeof m->smtp_url);
    cet_strlcpy(m->from, opt->mail_from, sizeof m->from);
    if (opt->ca_file) cet_strlcpy(m->ca_file, opt->ca_file, sizeof m->ca_file);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    m->curl = curl_easy_init();
    if (!m->curl) goto fail;
    m->mailbox = store_mailbox_new(mailbox_notify_cb, m);
    /* the thread (and libcurl's resolver threads under it) takes no process signal: SIGTERM
     * and friends are the main thread's (net_server_wait_signal), whenever they arrive */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    int rc = pthread_create(&m->thread, NULL, mail_main, m);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc) goto fail;
    pthread_setname_np(m->thread, "cet-mail");
    *out = m;
    return 0;
fail:
    if (m->mailbox) store_mailbox_free(m->mailbox);
    if (m->curl) curl_easy_cleanup(m->curl);
    cet_free(m);
    return EIO;
}

void net_mail_kick(net_mail_t *m)
{
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    m->kicked = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

void net_mail_stop(net_mail_t *m)
{
    if (!m) return;
    atomic_store(&m->stopping, true);
    net_mail_kick(m);
    pthread_join(m->thread, NULL);
    store_mailbox_free(m->mailbox);
    curl_easy_cleanup(m->curl);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    cet_free(m);
    curl_global_cleanup();
}
