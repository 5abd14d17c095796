/*
 * net_api_tickets.c: admission tickets over HTTP (api.md "Admission tickets"
 * and the staff calls; docs/admission-tickets.md):
 *
 *   GET  /api/v1/admission-tickets/{subject}        the candidate's own ticket (PDF)
 *   POST /api/v1/admin/arrangements {campus, subject} arrange (ENG_OP_TICKETS)
 *   GET|PUT /api/v1/admin/campuses/{campus}/rooms    the exam rooms of a campus
 *   GET  /api/v1/admin/admission-tickets?campus=&subject=[&room=]  print-all (PDF)
 *
 * Rendering runs on the worker pool (net_pool), never on a core loop. A
 * ticket's PDF is a pure function of its net_ticket_t, so what was rendered
 * is kept, keyed by a hash of that input (plus TK_RENDER_VERSION), in two
 * tiers: a bounded in-memory cache (a hit is served on the core, the reply
 * referring to the refcounted entry: no pool hop, no copy) and one file per
 * ticket under DATA_DIR/tickets/ (a memory miss reads it instead of
 * rendering: on the core when the page cache holds it, RWF_NOWAIT, else on
 * the pool; it survives restarts and holds every ticket, about 46 KB each). The same hash is the
 * ETag, so a revalidation (If-None-Match) is answered 304 without the bytes. Once a campus-subject
 * is arranged, its tickets are rendered ahead into those files ("rendering ahead", below).
 */
#include "net/net_api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "engine/eng_arrange.h"
#include "net/net_ticket_pdf.h"

#define TK_RENDER_VERSION 1u /* bump when the page layout changes: kept PDFs become stale */

/* ---- the cache of rendered tickets ---- */
typedef struct tk_entry {
    struct tk_entry *next, *lru_prev, *lru_next;
    uint8_t key[16];
    _Atomic int refs; /* the cache's own (while linked) + readers' */
    size_t len;
    uint8_t *pdf;
} tk_entry_t;

typedef struct tk_shard {
    pthread_mutex_t mu;
    tk_entry_t *buckets[CET_TICKET_CACHE_BUCKETS];
    tk_entry_t *lru_head, *lru_tail; /* head: most recently used */
    size_t bytes;
} tk_shard_t;

static tk_shard_t *tk_shards;
static pthread_once_t tk_once = PTHREAD_ONCE_INIT;

static void tk_init(void)
{
    tk_shards = cet_calloc(CET_TICKET_CACHE_SHARDS, sizeof *tk_shards);
    for (int i = 0; i < CET_TICKET_CACHE_SHARDS; i++)
        pthread_mutex_init(&tk_shards[i].mu, NULL);
}

static tk_shard_t *tk_shard_of(const uint8_t key[16], unsigned *bucket)
{
    pthread_once(&tk_once, tk_init);
    uint32_t h;
    memcpy(&h, key, sizeof h);
    *bucket = (h >> 8) % CET_TICKET_CACHE_BUCKETS;
    return &tk_shards[h % CET_TICKET_CACHE_SHARDS];
}

static void tk_unref(tk_entry_t *e)
{
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        cet_free(e->pdf);
        cet_free(e);
    }
}

static void lru_unlink(tk_shard_t *s, tk_entry_t *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        s->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        s->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_front(tk_shard_t *s, tk_entry_t *e)
{
    e->lru_next = s->lru_head;
    e->lru_prev = NULL;
    if (s->lru_head) s->lru_head->lru_prev = e;
    s->lru_head = e;
    if (!s->lru_tail) s->lru_tail = e;
}

static tk_entry_t **bucket_find(tk_shard_t *s, unsigned b, const uint8_t key[16])
{
    tk_entry_t **p = &s->buckets[b];
    while (*p && memcmp((*p)->key, key, 16) != 0)
        p = &(*p)->next;
    return p;
}

/* A kept PDF (the caller tk_unrefs it), or NULL. Any thread. */
static tk_entry_t *tk_get(const uint8_t key[16])
{
    unsigned b;
    tk_shard_t *s = tk_shard_of(key, &b);
    pthread_mutex_lock(&s->mu);
    tk_entry_t *e = *bucket_find(s, b, key);
    if (e) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        lru_unlink(s, e);
        lru_front(s, e);
    }
    pthread_mutex_unlock(&s->mu);
    net_metrics_count(e ? "ticket_cache_hits" : "ticket_cache_misses", 1);
    return e;
}

/* Keeps pdf (taking it) under key, evicting the least recently used beyond the shard's bytes. */
static tk_entry_t *tk_put(const uint8_t key[16], uint8_t *pdf, size_t len)
{
    tk_entry_t *e = cet_calloc(1, sizeof *e);
    memcpy(e->key, key, 16);
    e->pdf = pdf;
    e->len = len;
    atomic_store(&e->refs, 2); /* the cache's and the caller's */
    const size_t cap = CET_TICKET_CACHE_BYTES_MAX / CET_TICKET_CACHE_SHARDS;
    unsigned b;
    tk_shard_t *s = tk_shard_of(key, &b);
    if (len > cap) {
        atomic_store(&e->refs, 1);
        return e; /* too large to keep: served once */
    }
    tk_entry_t *evicted = NULL;
    pthread_mutex_lock(&s->mu);
    tk_entry_t **p = bucket_find(s, b, key);
    if (*p) { /* rendered twice at once: keep the first */
        tk_entry_t *old = *p;
        atomic_fetch_add_explicit(&old->refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&s->mu);
        atomic_store(&e->refs, 1);
        tk_unref(e);
        return old;
    }
    *p = e;
    lru_front(s, e);
    s->bytes += len;
    while (s->bytes > cap && s->lru_tail && s->lru_tail != e) {
        tk_entry_t *v = s->lru_tail;
        lru_unlink(s, v);
        unsigned vb;
        tk_shard_of(v->key, &vb);
        tk_entry_t **q = bucket_find(s, vb, v->key);
        CET_ASSERT_INFO(*q == v, "ticket cache: an LRU entry is missing from its bucket %u", vb);
        *q = v->next;
        s->bytes -= v->len;
        v->next = evicted;
        evicted = v;
    }
    pthread_mutex_unlock(&s->mu);
    while (evicted) {
        tk_entry_t *n = evicted->next;
        tk_unref(evicted);
        evicted = n;
    }
    return e;
}

/* ---- the ticket's data ---- */
static const char *const id_type_zh[] = {
    "证件",       "居民身份证", "台湾居民往来大陆通行证", "港澳居民来往内地通行证", "护照",
    "香港身份证", "澳门身份证",
};

static void date_zh(int64_t t, char *out, size_t cap)
{
    time_t local = (time_t)(t + 8 * 3600); /* the exam's own time zone, +08:00 */
    struct tm tm;
    gmtime_r(&local, &tm);
    snprintf(out, cap, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* "(code)name" into out[cap], cutting a long name at a UTF-8 character boundary. */
static void place_text(char *out, size_t cap, const char *code, const char *name)
{
    size_t n = (size_t)snprintf(out, cap, "(%s)", code);
    if (n >= cap) return;
    size_t room = cap - 1 - n, len = strlen(name);
    if (len > room) {
        len = room;
        while (len > 0 && ((unsigned char)name[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out + n, name, len);
    out[n + len] = 0;
}

bool net_api_ticket_seat(const store_sitting_t *sit, const store_subject_t *subj,
                         const store_offer_t *o, const store_reg_t *r, net_api_seat_t *out)
{
    bool oral = subj->kind == STORE_ORAL;
    int digit = eng_arrange_level_digit(subj->level, oral);
    if (!(r->flags & STORE_REG_ARRANGED) ||
        !eng_arrange_ticket_format(r->campus, sit->id, digit, r->room, r->seat, out->number))
        return false;
    out->day = o && o->exam_date ? o->exam_date
               : oral            ? (subj->level == 6 ? sit->oral_date_6 : sit->oral_date_4)
                                 : sit->written_date;
    eng_tickets_exam_time(subj, r->slot, out->time, sizeof out->time);
    return true;
}

/*
 * Everything one ticket shows, read in txn. Returns 0, a cet_err_t (the
 * registration is not arranged, or its places vanished) or a storage code.
 */
static int ticket_build(store_txn_t *txn, const store_t *st, const store_sitting_t *sit,
                        const store_candidate_t *c, const store_reg_t *r, net_ticket_t *t)
{
    store_subject_t subj;
    store_campus_t cp;
    store_school_t sc;
    store_offer_t o;
    int rc = store_subject_get(txn, st, r->subject, &subj);
    if (!rc) rc = store_campus_get(txn, st, r->campus, &cp);
    if (rc) return rc == STORE_NOTFOUND ? CET_E_OFFER_NOT_FOUND : rc;
    rc = store_school_get(txn, st, c->snapshot.school, &sc);
    if (rc == STORE_NOTFOUND)
        memset(&sc, 0, sizeof sc);
    else if (rc)
        return rc;
    rc = store_offer_get(txn, st, r->campus, r->subject, &o);
    if (rc == STORE_NOTFOUND)
        memset(&o, 0, sizeof o);
    else if (rc)
        return rc;
    bool oral = subj.kind == STORE_ORAL;
    net_api_seat_t seat;
    memset(t, 0, sizeof *t); /* the cache key hashes the whole struct */
    if (!net_api_ticket_seat(sit, &subj, &o, r, &seat)) return CET_E_NOT_ARRANGED;
    cet_strlcpy(t->ticket, seat.number, sizeof t->ticket);
    cet_strlcpy(t->sitting_name, sit->name, sizeof t->sitting_name);
    cet_strlcpy(t->name, c->snapshot.name, sizeof t->name);
    unsigned it = c->snapshot.id_type <= STORE_ID__MAX ? c->snapshot.id_type : 0;
    cet_strlcpy(t->id_type, id_type_zh[it], sizeof t->id_type);
    eng_mask_id(c->snapshot.id_number, t->id_masked, sizeof t->id_masked);
    char code[12];
    snprintf(code, sizeof code, "%05u", c->snapshot.school);
    place_text(t->school, sizeof t->school, code, sc.name);
    cet_strlcpy(t->subject, subj.name, sizeof t->subject);
    date_zh(seat.day, t->exam_date, sizeof t->exam_date);
    cet_strlcpy(t->exam_time, seat.time, sizeof t->exam_time);
    snprintf(code, sizeof code, "%06u", cp.code);
    place_text(t->campus, sizeof t->campus, code, cp.name);
    t->room = r->room;
    t->seat = r->seat;
    t->oral = oral;
    return 0;
}

/* The cache key and the ETag of one ticket. */
static void ticket_key(const net_ticket_t *t, uint8_t key[16], char etag[64])
{
    XXH3_state_t hs;
    XXH3_INITSTATE(&hs);
    XXH3_128bits_reset(&hs);
    uint32_t v = TK_RENDER_VERSION;
    XXH3_128bits_update(&hs, &v, sizeof v);
    XXH3_128bits_update(&hs, t, sizeof *t);
    XXH128_hash_t h = XXH3_128bits_digest(&hs);
    XXH128_canonicalFromHash((XXH128_canonical_t *)key, h);
    char hex[33];
    cet_hex(hex, key, 8);
    snprintf(etag, 64, "\"%s-%s\"", t->ticket, hex);
}

/* Replies a PDF without copying it (the call is released): pdf stays valid until done_cb. */
static void reply_pdf(net_call_t *call, const char *etag, const char *filename, const uint8_t *pdf,
                      size_t len, net_body_done_cb done_cb, void *done_arg)
{
    char disp[128];
    snprintf(disp, sizeof disp, "inline; filename=\"%s\"", filename);
    net_req_add_header(call->req, "Content-Disposition", disp);
    net_req_add_header(call->req, "Cache-Control", "private, no-cache");
    if (etag) net_req_add_header(call->req, "ETag", etag);
    net_call_reply_ref(call, 200, "application/pdf", pdf, len, done_cb, done_arg);
}

/* net_body_done_cb of a kept ticket: the reply's reference to its entry ends. */
static void tk_entry_sent_cb(const void *body, size_t len, void *arg)
{
    (void)body;
    (void)len;
    tk_unref(arg);
}

/* net_body_done_cb of a print-all PDF: nobody else holds it. */
static void tk_pdf_sent_cb(const void *body, size_t len, void *arg)
{
    (void)body;
    (void)len;
    cet_free(arg);
}

/* Replies a kept ticket; the call's reference to e passes to the reply. */
static void reply_entry(net_call_t *call, const char *etag, const char *ticket, tk_entry_t *e)
{
    char fn[64];
    snprintf(fn, sizeof fn, "cet-ticket-%s.pdf", ticket);
    reply_pdf(call, etag, fn, e->pdf, e->len, tk_entry_sent_cb, e);
}

/* A refusal (cet_err_t) or a storage code, replied; the call is released. */
static void reply_rc(net_call_t *call, int rc, const char *field)
{
    if (cet_err_is_code(rc))
        net_call_reply_error(call, (cet_err_t)rc, field);
    else
        net_call_reply_store_error(call, rc);
}

/* ---- GET /api/v1/admission-tickets/{subject} ---- */
typedef struct tk_job {
    net_work_t w;
    net_call_t *call;
    store_t *st;
    bool from_file; /* out: read from DATA_DIR/tickets, not rendered */
    net_ticket_t t;
    uint8_t key[16];
    char etag[64];
    uint8_t *pdf;
    size_t len;
    net_ticket_err_t err;
} tk_job_t;

/* DATA_DIR/tickets/<key in hex>.pdf into out[cap]; with dir_only, DATA_DIR/tickets. */
static bool tk_file_path(store_t *st, const uint8_t key[16], bool dir_only, char *out, size_t cap)
{
    const char *data = store_dir(st);
    if (!data || !data[0]) return false;
    char hex[33];
    cet_hex(hex, key, 16);
    int n = dir_only ? snprintf(out, cap, "%s/tickets", data)
                     : snprintf(out, cap, "%s/tickets/%s.pdf", data, hex);
    return n > 0 && (size_t)n < cap;
}

/* A kept file: *pdf (cet_malloc) and *len, or false. Pool thread. */
static bool tk_file_read(store_t *st, const uint8_t key[16], uint8_t **pdf, size_t *len)
{
    char path[4200];
    if (!tk_file_path(st, key, false, path, sizeof path)) return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat sb;
    bool ok =
        fstat(fd, &sb) == 0 && sb.st_size > 5 && (uint64_t)sb.st_size <= NET_TICKET_PDF_BYTES_MAX;
    uint8_t *buf = ok ? cet_malloc((size_t)sb.st_size) : NULL;
    size_t got = 0;
    while (ok && got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            ok = false;
        else
            got += (size_t)r;
    }
    close(fd);
    if (ok && memcmp(buf, "%PDF-", 5) == 0) {
        *pdf = buf;
        *len = got;
        return true;
    }
    cet_free(buf);
    return false;
}

/*
 * A kept file read on the core, only if the page cache holds all of it:
 * preadv2 with RWF_NOWAIT never waits for the disk (EAGAIN, or a short read,
 * instead). *pdf (cet_malloc) and *len, or false: then the pool reads it
 * (or renders it, when there is no file). Core thread.
 */
static bool tk_file_read_cached(store_t *st, const uint8_t key[16], uint8_t **pdf, size_t *len)
{
    char path[4200];
    if (!tk_file_path(st, key, false, path, sizeof path)) return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat sb;
    bool ok = fstat(fd, &sb) == 0 && sb.st_size > 5 &&
              (uint64_t)sb.st_size <= CET_TICKET_CORE_READ_BYTES_MAX;
    uint8_t *buf = ok ? cet_malloc((size_t)sb.st_size) : NULL;
    if (ok) {
        struct iovec iov = {buf, (size_t)sb.st_size};
        ssize_t r = preadv2(fd, &iov, 1, 0, RWF_NOWAIT);
        ok = r == sb.st_size && memcmp(buf, "%PDF-", 5) == 0;
    }
    close(fd);
    if (ok) {
        *pdf = buf;
        *len = (size_t)sb.st_size;
        return true;
    }
    cet_free(buf);
    return false;
}

/* Keeps a rendered ticket as a file (a temporary name, then rename: never half a file). */
static void tk_file_write(store_t *st, const uint8_t key[16], const uint8_t *pdf, size_t len)
{
    char dir[4200], path[4200], tmp[4300];
    if (!tk_file_path(st, key, true, dir, sizeof dir) ||
        !tk_file_path(st, key, false, path, sizeof path))
        return;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        CET_WARN("tickets: cannot keep rendered tickets in %s: %s", dir, strerror(errno));
        return;
    }
    snprintf(tmp, sizeof tmp, "%s.%lx.tmp", path, (unsigned long)pthread_self());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return;
    size_t put = 0;
    while (put < len) {
        ssize_t r = write(fd, pdf + put, len - put);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        put += (size_t)r;
    }
    bool ok = close(fd) == 0 && put == len;
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
}

static void tk_render_cb(net_work_t *w)
{
    tk_job_t *j = w->arg;
    if (tk_file_read(j->st, j->key, &j->pdf, &j->len)) {
        net_metrics_count("ticket_file_reads_waited", 1);
        j->from_file = true;
        j->err = NET_TICKET_OK;
        return;
    }
    j->err = net_ticket_pdf_render(&j->t, 1, &j->pdf, &j->len);
    if (j->err == NET_TICKET_OK) tk_file_write(j->st, j->key, j->pdf, j->len);
}

static void tk_render_done_cb(net_work_t *w)
{
    tk_job_t *j = w->arg;
    if (j->err != NET_TICKET_OK) {
        CET_ERROR("tickets: rendering %s failed: %s", j->t.ticket, net_ticket_err_name(j->err));
        net_call_reply_error(j->call, CET_E_INTERNAL, NULL);
    } else {
        net_metrics_count(j->from_file ? "ticket_file_reads" : "ticket_renders", 1);
        reply_entry(j->call, j->etag, j->t.ticket, tk_put(j->key, j->pdf, j->len));
    }
    cet_free(j);
}

/* The candidate's own registration of subject, checked in the contract's order. */
static int own_ticket(store_txn_t *txn, net_api_t *api, const api_auth_t *a, const char *subject,
                      net_ticket_t *t)
{
    if (!net_api_subject_code_ok(subject)) return CET_E_REGISTRATION_NOT_FOUND;
    if (!a->acct.roster_no) return CET_E_NOT_BOUND;
    store_candidate_t c;
    int rc = store_candidate_get(txn, api->st, a->acct.roster_no, &c);
    if (rc == STORE_NOTFOUND || (rc == 0 && memcmp(c.account, a->account, 16) != 0))
        return CET_E_NOT_BOUND;
    if (rc) return rc;
    store_reg_t r;
    rc = store_reg_get(txn, api->st, a->acct.roster_no, subject[0], &r);
    if (rc == STORE_NOTFOUND) return CET_E_REGISTRATION_NOT_FOUND;
    if (rc) return rc;
    if (!(r.flags & STORE_REG_PAID)) return CET_E_NOT_PAID;
    store_sitting_t sit;
    rc = store_sitting_get(txn, api->st, &sit);
    if (rc == STORE_NOTFOUND) return CET_E_PRINT_NOT_OPEN;
    if (rc) return rc;
    if (eng_phase(&sit, cet_now_s()) != ENG_PHASE_PRINT) return CET_E_PRINT_NOT_OPEN;
    return ticket_build(txn, api->st, &sit, &c, &r, t);
}

void net_api_ticket_get(net_call_t *call, const char *subject)
{
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    if (!net_api_auth(call, txn, STORE_SESSION_CANDIDATE)) return;
    tk_job_t *j = cet_malloc(sizeof *j);
    int rc = own_ticket(txn, call->api, &call->auth, subject, &j->t);
    net_call_read_done(call);
    if (rc) {
        cet_free(j);
        reply_rc(call, rc, NULL);
        return;
    }
    ticket_key(&j->t, j->key, j->etag);
    const char *inm = net_req_header(call->req, "If-None-Match");
    if (inm && strstr(inm, j->etag)) {
        net_req_add_header(call->req, "ETag", j->etag);
        net_call_reply_raw(call, 304, "application/pdf", NULL, 0);
        cet_free(j);
        return;
    }
    tk_entry_t *e = tk_get(j->key);
    if (e) { /* kept: served here on the core, no pool hop, no copy */
        reply_entry(call, j->etag, j->t.ticket, e);
        cet_free(j);
        return;
    }
    uint8_t *pdf;
    size_t len;
    if (tk_file_read_cached(call->api->st, j->key, &pdf, &len)) { /* kept, in the page cache */
        net_metrics_count("ticket_file_reads", 1);
        reply_entry(call, j->etag, j->t.ticket, tk_put(j->key, pdf, len));
        cet_free(j);
        return;
    }
    j->call = call;
    j->st = call->api->st;
    j->from_file = false;
    j->pdf = NULL;
    j->w = (net_work_t){.work_cb = tk_render_cb, .done_cb = tk_render_done_cb, .arg = j};
    cet_err_t e2 = net_pool_submit(net_req_core(call->req), &j->w);
    if (e2) { /* the queue is full: 503 with Retry-After */
        cet_free(j);
        net_call_reply_error(call, e2, NULL);
    }
}

/* ---- staff: scope ---- */
/* The staff's scope covers campus: 0, or a cet_err_t / storage code. Support staff: never. */
static int staff_campus_scope(store_txn_t *txn, net_api_t *api, const store_staff_t *s,
                              uint32_t campus)
{
    store_campus_t cp;
    int rc = store_campus_get(txn, api->st, campus, &cp);
    if (rc) return rc == STORE_NOTFOUND ? CET_E_OFFER_NOT_FOUND : rc;
    if (s->role == STORE_STAFF_SCHOOL) return cp.school == s->scope ? 0 : CET_E_FORBIDDEN;
    if (s->role != STORE_STAFF_PROVINCE) return CET_E_FORBIDDEN;
    store_school_t sc;
    rc = store_school_get(txn, api->st, cp.school, &sc);
    if (rc) return rc == STORE_NOTFOUND ? CET_E_FORBIDDEN : rc;
    return sc.province == s->scope ? 0 : CET_E_FORBIDDEN;
}

/* Authenticates a staff session on the core's read txn (the call's rtxn). False when replied. */
static bool tk_staff_auth(net_call_t *call)
{
    store_txn_t *txn = net_api_read_txn(call);
    return txn && net_api_auth(call, txn, STORE_SESSION_STAFF);
}

/* ---- staff writes: arrange, rooms (ENG_OP_TICKETS) ---- */
/*
 * After tk_staff_auth: checks the staff's scope over campus and prepares the
 * call's ENG_OP_TICKETS op for what (its input in call->tickets, released
 * with the call; Idempotency-Key set). NULL when it replied.
 */
static eng_op_t *tk_staff_op(net_call_t *call, uint32_t campus, eng_tickets_what_t what)
{
    const api_auth_t *a = &call->auth;
    int rc = staff_campus_scope(call->rtxn, call->api, &a->staff, campus);
    if (rc) {
        reply_rc(call, rc, "campus");
        return NULL;
    }
    eng_op_t *op = net_call_op(call, ENG_OP_TICKETS);
    cet_strlcpy(op->staff, a->staff.user, sizeof op->staff);
    if (a->staff.role == STORE_STAFF_SCHOOL)
        op->in.scope_school = a->staff.scope;
    else
        op->in.scope_province = (uint16_t)a->staff.scope;
    op->in.campus = campus;
    uint8_t scope[16];
    net_api_email_scope(a->staff.user, scope);
    scope[0] ^= 0x80; /* staff keys never meet candidates' (as net_api_staff.c) */
    if (!net_call_idem(call, scope)) return NULL;
    call->tickets = cet_calloc(1, sizeof *call->tickets);
    call->tickets->what = what;
    op->in.tickets = call->tickets;
    return op;
}

void net_api_arrangement_create(net_call_t *call)
{
    static const char *const allowed[] = {"campus", "subject", NULL};
    if (!tk_staff_auth(call)) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    uint32_t campus = 0;
    const char *subject = NULL, *field = "campus";
    cet_err_t e = net_api_json_campus(j, "campus", &campus);
    if (!e) {
        field = "subject";
        e = net_json_str(j, "subject", true, &subject);
        if (!e && !net_api_subject_code_ok(subject)) e = CET_E_INVALID_FIELD;
    }
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    eng_op_t *op = tk_staff_op(call, campus, ENG_TICKETS_ARRANGE);
    if (!op) return;
    op->in.subject = subject[0];
    net_call_submit(call);
}

static void tk_prerender_queue(net_core_t *core, store_t *st, uint32_t campus, char subject);

json_t *net_api_render_tickets(net_call_t *call, const eng_op_t *op)
{
    /* a campus-subject just arranged: render its tickets ahead of the print date */
    if (op->res.u.tickets.what == ENG_TICKETS_ARRANGE && !op->replayed)
        tk_prerender_queue(net_req_core(call->req), call->api->st, op->res.u.tickets.campus,
                           op->res.u.tickets.subject);
    uint32_t campus = op->res.u.tickets.campus, rooms = op->res.u.tickets.rooms,
             seats = op->res.u.tickets.seats;
    if (op->res.u.tickets.what == ENG_TICKETS_ROOMS)
        return json_pack("{s:o,s:I,s:I}", "campus", net_api_code6(campus), "rooms",
                         (json_int_t)rooms, "seats", (json_int_t)seats);
    return json_pack("{s:o,s:s#,s:I,s:I,s:I,s:o}", "campus", net_api_code6(campus), "subject",
                     &op->res.u.tickets.subject, (size_t)1, "rooms", (json_int_t)rooms, "seats",
                     (json_int_t)seats, "slots", (json_int_t)op->res.u.tickets.slots, "arranged_at",
                     net_api_time_json(op->res.u.tickets.arranged_at));
}

/* "991010/rooms" -> campus; false when the path is anything else. */
static bool rooms_path(const char *rest, uint32_t *campus)
{
    if (strlen(rest) != 12 || strcmp(rest + 6, "/rooms") != 0 || strspn(rest, "0123456789") != 6)
        return false;
    *campus = (uint32_t)atoi(rest);
    return *campus >= 100000;
}

/*
 * The body: {"rooms": [...]} or the bare list [...]. The bare list is decoded
 * as {"rooms": <body>} by the same strict decoder (UTF-8, depth, duplicate
 * keys), which takes objects only. The result is call->body; NULL when replied.
 */
static json_t *rooms_body(net_call_t *call)
{
    static const char *const allowed[] = {"rooms", NULL};
    size_t len;
    const char *body = net_req_body(call->req, &len);
    size_t at = 0;
    while (at < len &&
           (body[at] == ' ' || body[at] == '\t' || body[at] == '\r' || body[at] == '\n'))
        at++;
    if (at == len || body[at] != '[') return net_call_body(call, allowed);
    const char *ct = net_req_header(call->req, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        net_call_reply_error(call, CET_E_UNSUPPORTED_MEDIA_TYPE, NULL);
        return NULL;
    }
    static const char head[] = "{\"rooms\":", tail[] = "}";
    char *w = cet_malloc(len + sizeof head + sizeof tail);
    memcpy(w, head, sizeof head - 1);
    memcpy(w + sizeof head - 1, body, len);
    memcpy(w + sizeof head - 1 + len, tail, sizeof tail);
    const char *field = NULL;
    cet_err_t e =
        net_json_decode(w, sizeof head - 1 + len + sizeof tail - 1, allowed, &call->body, &field);
    cet_free(w);
    if (e) {
        net_call_reply_error(call, e, field ? field : "rooms");
        return NULL;
    }
    return call->body;
}

static void rooms_put(net_call_t *call, uint32_t campus)
{
    json_t *j = rooms_body(call);
    if (!j) return;
    eng_op_t *op = tk_staff_op(call, campus, ENG_TICKETS_ROOMS);
    if (!op) return;
    eng_tickets_in_t *in = call->tickets;
    json_t *rooms = json_object_get(j, "rooms");
    cet_err_t e = CET_E_OK;
    if (!rooms)
        e = CET_E_MISSING_FIELD;
    else if (!json_is_array(rooms))
        e = CET_E_WRONG_TYPE;
    else if (json_array_size(rooms) > CET_ROOMS_BODY_MAX)
        e = CET_E_INVALID_FIELD;
    size_t i;
    json_t *it;
    json_array_foreach(e ? NULL : rooms, i, it)
    {
        json_t *rn = json_object_get(it, "room"), *sn = json_object_get(it, "seats");
        if (!json_is_object(it) || json_object_size(it) > (size_t)(sn ? 2 : 1))
            e = CET_E_INVALID_FIELD;
        else if (!json_is_integer(rn) || (sn && !json_is_null(sn) && !json_is_integer(sn)))
            e = CET_E_WRONG_TYPE;
        if (e) break;
        json_int_t r = json_integer_value(rn), s = json_is_integer(sn) ? json_integer_value(sn) : 0;
        if (r < 1 || r > CET_ROOMS_PER_CAMPUS_MAX || s < 0 || s > CET_ROOM_SEATS_MAX ||
            (json_is_integer(sn) && s == 0)) {
            e = CET_E_INVALID_FIELD;
            break;
        }
        in->rooms[in->n_rooms++] = (eng_tickets_room_t){(uint16_t)r, (uint8_t)s};
    }
    if (e) {
        net_call_reply_error(call, e, "rooms");
        return;
    }
    net_call_submit(call);
}

static void rooms_get(net_call_t *call, uint32_t campus)
{
    store_txn_t *txn = call->rtxn;
    net_api_t *api = call->api;
    int rc = staff_campus_scope(txn, api, &call->auth.staff, campus);
    if (rc) {
        reply_rc(call, rc, "campus");
        return;
    }
    store_room_t rooms[CET_ROOMS_PER_CAMPUS_MAX];
    int n = store_rooms_list(txn, api->st, campus, rooms, CET_ROOMS_PER_CAMPUS_MAX);
    if (n < 0) {
        net_call_reply_store_error(call, n);
        return;
    }
    store_arrangement_t arrs[64];
    int na = store_arrangements_of(txn, api->st, campus, arrs, 64);
    if (na < 0) {
        net_call_reply_store_error(call, na);
        return;
    }
    json_t *arr = json_array();
    uint32_t seats = 0;
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, json_pack("{s:I,s:I}", "room", (json_int_t)rooms[i].number,
                                             "seats", (json_int_t)rooms[i].seats));
        seats += rooms[i].seats;
    }
    json_t *done = json_array();
    for (int i = 0; i < na; i++) {
        char s[2] = {arrs[i].subject, 0};
        json_array_append_new(done, json_pack("{s:s,s:I,s:I,s:I,s:o}", "subject", s, "rooms",
                                              (json_int_t)arrs[i].rooms, "seats",
                                              (json_int_t)arrs[i].seats, "slots",
                                              (json_int_t)arrs[i].slots, "arranged_at",
                                              net_api_time_json(arrs[i].at)));
    }
    net_call_reply_json(
        call, 200,
        json_pack("{s:o,s:o,s:b,s:I,s:I,s:o}", "campus", net_api_code6(campus), "rooms", arr,
                  "default", n == 0, "default_seats", (json_int_t)CET_ROOM_SEATS_DEFAULT, "seats",
                  (json_int_t)(n ? seats : CET_ROOMS_PER_CAMPUS_MAX * CET_ROOM_SEATS_DEFAULT),
                  "arrangements", done));
}

void net_api_campus_rooms(net_call_t *call, const char *rest)
{
    uint32_t campus;
    if (!rooms_path(rest, &campus)) {
        net_call_reply_error(call, CET_E_NOT_FOUND, NULL);
        return;
    }
    if (!tk_staff_auth(call)) return;
    if (net_req_method(call->req) == NET_PUT)
        rooms_put(call, campus);
    else
        rooms_get(call, campus);
}

/* ---- GET /api/v1/admin/admission-tickets?campus=C&subject=S[&room=R] ---- */
typedef struct tk_bulk {
    net_work_t w;
    net_call_t *call;
    store_t *st;
    uint32_t campus;
    char subject;
    uint16_t room; /* 0 = every room */
    size_t max;    /* tickets at most: more is CET_E_BAD_QUERY */
    /* out */
    int rc; /* 0, a cet_err_t or a storage code */
    uint8_t *pdf;
    size_t len;
    /* scratch of the pool thread */
    store_txn_t *txn;
    store_sitting_t sit;
    net_ticket_t *t;
    size_t n, cap;
} tk_bulk_t;

static int bulk_visit_cb(const store_reg_t *r, void *arg)
{
    tk_bulk_t *b = arg;
    if (!(r->flags & STORE_REG_PAID) || !(r->flags & STORE_REG_ARRANGED)) return CET_OK;
    if (b->room && r->room != b->room) return CET_OK;
    if (b->n >= b->max) return CET_E_BAD_QUERY; /* print-all: ask for one room at a time */
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        net_ticket_t *m = cet_malloc(cap * sizeof *m);
        if (b->n) memcpy(m, b->t, b->n * sizeof *m);
        cet_free(b->t);
        b->t = m;
        b->cap = cap;
    }
    store_candidate_t c;
    int rc = store_candidate_get(b->txn, b->st, r->roster_no, &c);
    if (rc == STORE_NOTFOUND) return CET_OK;
    if (rc) return rc;
    rc = ticket_build(b->txn, b->st, &b->sit, &c, r, &b->t[b->n]);
    if (rc == CET_E_NOT_ARRANGED) return CET_OK;
    if (rc) return rc;
    b->n++;
    return CET_OK;
}

static int by_room_seat(const void *x, const void *y)
{
    const net_ticket_t *a = x, *b = y;
    if (a->room != b->room) return a->room < b->room ? -1 : 1;
    return (a->seat > b->seat) - (a->seat < b->seat);
}

/*
 * The tickets of b's campus-subject (and room) into b->t[0..n): paid and
 * arranged registrations only, at most b->max. Pool thread, in its own read
 * txn, ended before return. 0, CET_E_NOT_ARRANGED when there is none,
 * CET_E_BAD_QUERY beyond b->max, or a storage code.
 */
static int bulk_collect(tk_bulk_t *b)
{
    int rc = store_read_begin(b->st, &b->txn);
    if (rc == 0) {
        rc = store_sitting_get(b->txn, b->st, &b->sit);
        if (rc == 0)
            rc = store_regs_of_offer(b->txn, b->st, b->campus, b->subject, bulk_visit_cb, b);
        store_abort(b->txn);
        b->txn = NULL;
    }
    if (rc == 0 && b->n == 0) rc = CET_E_NOT_ARRANGED;
    return rc;
}

static void tk_bulk_cb(net_work_t *w)
{
    tk_bulk_t *b = w->arg;
    int rc = bulk_collect(b);
    if (rc == 0) {
        qsort(b->t, b->n, sizeof *b->t, by_room_seat);
        net_ticket_err_t e = net_ticket_pdf_render(b->t, b->n, &b->pdf, &b->len);
        if (e) {
            CET_ERROR("tickets: print-all of %06u/%c failed: %s", b->campus, b->subject,
                      net_ticket_err_name(e));
            rc = CET_E_INTERNAL;
        }
    }
    b->rc = rc;
    cet_free(b->t);
    b->t = NULL;
}

static void tk_bulk_done_cb(net_work_t *w)
{
    tk_bulk_t *b = w->arg;
    if (b->rc) {
        reply_rc(b->call, b->rc, b->rc == CET_E_BAD_QUERY ? "room" : NULL);
    } else {
        char fn[64];
        if (b->room)
            snprintf(fn, sizeof fn, "cet-tickets-%06u-%c-%03u.pdf", b->campus, b->subject, b->room);
        else
            snprintf(fn, sizeof fn, "cet-tickets-%06u-%c.pdf", b->campus, b->subject);
        reply_pdf(b->call, NULL, fn, b->pdf, b->len, tk_pdf_sent_cb, b->pdf);
        b->pdf = NULL;
    }
    cet_free(b->pdf);
    cet_free(b);
}

void net_api_tickets_print_all(net_call_t *call)
{
    net_req_t *req = call->req;
    const char *cs = net_req_query(req, "campus"), *ss = net_req_query(req, "subject"),
               *rs = net_req_query(req, "room");
    const char *field = NULL;
    if (!cs || strlen(cs) != 6 || strspn(cs, "0123456789") != 6 || atoi(cs) < 100000)
        field = "campus";
    else if (!net_api_subject_code_ok(ss))
        field = "subject";
    else if (rs && (strspn(rs, "0123456789") != strlen(rs) || strlen(rs) > 3 || atoi(rs) < 1))
        field = "room";
    if (field) {
        net_call_reply_error(call, CET_E_BAD_QUERY, field);
        return;
    }
    if (!tk_staff_auth(call)) return;
    uint32_t campus = (uint32_t)atoi(cs);
    int rc = staff_campus_scope(call->rtxn, call->api, &call->auth.staff, campus);
    if (rc == 0) {
        store_offer_t o;
        rc = store_offer_get(call->rtxn, call->api->st, campus, ss[0], &o);
        if (rc == STORE_NOTFOUND) rc = CET_E_OFFER_NOT_FOUND;
    }
    net_call_read_done(call);
    if (rc) {
        reply_rc(call, rc, "campus");
        return;
    }
    tk_bulk_t *b = cet_calloc(1, sizeof *b);
    b->call = call;
    b->st = call->api->st;
    b->campus = campus;
    b->subject = ss[0];
    b->room = rs ? (uint16_t)atoi(rs) : 0;
    b->max = CET_TICKET_BULK_PAGES_MAX;
    b->w = (net_work_t){.work_cb = tk_bulk_cb, .done_cb = tk_bulk_done_cb, .arg = b};
    cet_err_t e = net_pool_submit(net_req_core(req), &b->w);
    if (e) {
        cet_free(b);
        net_call_reply_error(call, e, NULL);
    }
}

/* ---- rendering ahead: every ticket of a campus-subject once it is arranged ----
 *
 * An arrangement that succeeds (net_api_render_tickets) queues its
 * campus-subject here; one chain of pool jobs works through the queue: the
 * first job of a campus-subject reads its tickets (bulk_collect: paid and
 * arranged only, the very net_ticket_t a candidate's download builds, so the
 * same key), each later one renders CET_TICKET_PRERENDER_BATCH of those not
 * yet kept as files and writes them to DATA_DIR/tickets; its done_cb (on the
 * core) submits the next. One job at a time, each tens of milliseconds: a
 * candidate's render, a file read or a password hash behind it in the pool's
 * FIFO waits at most one batch. Nothing is put in the memory cache (that is
 * for what candidates fetch). The print-day spike then reads files and memory.
 * A campus-subject arranged again is queued again (new seats are new keys;
 * kept files are skipped by a stat). cetd stopped: at the next start every
 * arranged campus-subject is queued again (net_api_started_cb). What is lost
 * (the queue full, the pool full) only costs renders on demand.
 */
typedef struct tk_pre_item {
    uint32_t campus;
    char subject;
} tk_pre_item_t;

typedef struct tk_pre {
    pthread_mutex_t mu; /* guards queue, n_queue, running */
    tk_pre_item_t queue[CET_TICKET_PRERENDER_QUEUE_MAX];
    unsigned n_queue;
    bool running; /* a chain of jobs is under way (only it touches what follows) */
    net_work_t w;
    tk_bulk_t b;     /* the campus-subject being rendered: b.t[0..b.n) */
    size_t next;     /* b.t[next..n) not yet looked at */
    bool collected;  /* b.t is read */
    unsigned done_n; /* out of the last job: tickets rendered */
} tk_pre_t;

/* Static, so a chain cut short by a stop is still reachable (no leak reported). */
static tk_pre_t tk_pre = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void tk_pre_work_cb(net_work_t *w);
static void tk_pre_done_cb(net_work_t *w);

/* Starts the job for the head of the queue; the caller holds mu and running is false. */
static void tk_pre_start_locked(net_core_t *core, store_t *st)
{
    while (tk_pre.n_queue) {
        tk_pre_item_t it = tk_pre.queue[0];
        memmove(tk_pre.queue, tk_pre.queue + 1, --tk_pre.n_queue * sizeof tk_pre.queue[0]);
        cet_free(tk_pre.b.t);
        tk_pre.b = (tk_bulk_t){.st = st,
                               .campus = it.campus,
                               .subject = it.subject,
                               .max = NET_TICKET_PDF_TICKETS_MAX};
        tk_pre.next = 0;
        tk_pre.collected = false;
        tk_pre.w =
            (net_work_t){.work_cb = tk_pre_work_cb, .done_cb = tk_pre_done_cb, .arg = &tk_pre};
        if (net_pool_submit(core, &tk_pre.w) == CET_E_OK) {
            tk_pre.running = true;
            return;
        }
        CET_WARN("tickets: the pool is full: %06u/%c is rendered on demand", it.campus, it.subject);
    }
}

static void tk_prerender_queue(net_core_t *core, store_t *st, uint32_t campus, char subject)
{
    pthread_mutex_lock(&tk_pre.mu);
    bool queued = false;
    for (unsigned i = 0; i < tk_pre.n_queue && !queued; i++)
        queued = tk_pre.queue[i].campus == campus && tk_pre.queue[i].subject == subject;
    if (!queued && tk_pre.n_queue < CET_TICKET_PRERENDER_QUEUE_MAX)
        tk_pre.queue[tk_pre.n_queue++] = (tk_pre_item_t){campus, subject};
    else if (!queued)
        CET_WARN("tickets: %u campus-subjects wait to be rendered: %06u/%c is rendered on demand",
                 tk_pre.n_queue, campus, subject);
    if (!tk_pre.running) tk_pre_start_locked(core, st);
    pthread_mutex_unlock(&tk_pre.mu);
}

/* Pool thread: reads the tickets, or renders the next batch of those not kept. */
static void tk_pre_work_cb(net_work_t *w)
{
    tk_pre_t *p = w->arg;
    p->done_n = 0;
    if (!p->collected) {
        int rc = bulk_collect(&p->b);
        if (rc && rc != CET_E_NOT_ARRANGED)
            CET_WARN("tickets: rendering %06u/%c ahead: %s", p->b.campus, p->b.subject,
                     cet_strerror(rc));
        if (rc) p->b.n = 0;
        p->collected = true;
        return;
    }
    while (p->next < p->b.n && p->done_n < CET_TICKET_PRERENDER_BATCH) {
        const net_ticket_t *t = &p->b.t[p->next++];
        uint8_t key[16];
        char etag[64], path[4200];
        ticket_key(t, key, etag);
        struct stat sb;
        if (!tk_file_path(p->b.st, key, false, path, sizeof path) || stat(path, &sb) == 0)
            continue; /* kept already (or no data directory to keep it in) */
        uint8_t *pdf = NULL;
        size_t len = 0;
        net_ticket_err_t e = net_ticket_pdf_render(t, 1, &pdf, &len);
        if (e == NET_TICKET_OK) {
            tk_file_write(p->b.st, key, pdf, len);
            p->done_n++;
        } else {
            CET_ERROR("tickets: rendering %s ahead failed: %s", t->ticket, net_ticket_err_name(e));
        }
        cet_free(pdf);
    }
}

/* Core thread: counts, then the next batch, the next campus-subject, or the end. */
static void tk_pre_done_cb(net_work_t *w)
{
    tk_pre_t *p = w->arg;
    if (p->done_n) net_metrics_count("ticket_prerenders", p->done_n);
    if (p->next < p->b.n && net_pool_submit(w->core, w) == CET_E_OK) return;
    if (p->next < p->b.n)
        CET_WARN("tickets: the pool is full: the rest of %06u/%c is rendered on demand",
                 p->b.campus, p->b.subject);
    pthread_mutex_lock(&p->mu);
    p->running = false;
    cet_free(p->b.t);
    p->b.t = NULL;
    p->b.n = p->b.cap = 0;
    tk_pre_start_locked(w->core, p->b.st);
    pthread_mutex_unlock(&p->mu);
}

/* ---- resuming at start: the queue above lives in memory only ---- */
typedef struct tk_resume {
    net_core_t *core;
    store_t *st;
    unsigned queued, dropped;
} tk_resume_t;

static int tk_resume_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    tk_resume_t *r = arg;
    store_arrangement_t a;
    (void)key;
    if (klen != 5 || vlen != sizeof a) return STORE_CORRUPT;
    memcpy(&a, val, sizeof a);
    if (!a.seats) return CET_OK;
    if (r->queued >= CET_TICKET_PRERENDER_QUEUE_MAX) {
        r->dropped++;
        return CET_OK;
    }
    tk_prerender_queue(r->core, r->st, a.campus, a.subject);
    r->queued++;
    return CET_OK;
}

/*
 * At start (core 0): every arranged campus-subject is queued for rendering
 * ahead again, until the day after the last exam day, so a
 * restart between the arrangement and the print date (a reboot, an upgrade)
 * does not leave the print-day spike to render on demand. Tickets kept as
 * files already are skipped by a stat, so a restart costs one read of each
 * campus-subject's registrations and one stat per ticket, on the pool.
 */
static void tickets_resume(net_core_t *core, store_t *st)
{
    store_txn_t *txn;
    if (store_read_begin(st, &txn) != 0) return;
    store_sitting_t sit;
    int64_t now = cet_now_s();
    int rc = store_sitting_get(txn, st, &sit);
    int64_t last = 0;
    if (rc == 0) {
        last = sit.written_date;
        if (sit.oral_date_4 > last) last = sit.oral_date_4;
        if (sit.oral_date_6 > last) last = sit.oral_date_6;
    }
    tk_resume_t r = {core, st, 0, 0};
    if (rc == 0 && now < last + 86400) /* arranged ones exist only after their window */
        rc = store_scan(txn, st, STORE_DB_ARRANGEMENT, NULL, 0, tk_resume_cb, &r);
    store_abort(txn);
    if (rc && rc != STORE_NOTFOUND)
        CET_WARN("tickets: resuming the rendering ahead: %s", cet_strerror(rc));
    if (r.queued)
        CET_INFO("tickets: %u arranged campus-subjects queued for rendering ahead (kept files "
                 "are skipped)", r.queued);
    if (r.dropped)
        CET_WARN("tickets: %u more arranged campus-subjects than the queue holds: rendered on "
                 "demand", r.dropped);
}

void net_api_started_cb(net_core_t *core, void *app)
{
    net_api_t *api = app;
    tickets_resume(core, api->st);
}
