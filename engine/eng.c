/*
 * eng.c: engine start and stop, the expiry tick, and small read-side helpers.
 *
 * Expiry. The STORE_DB_EXPIRY index (due ‖ kind ‖ roster_no ‖ subject) is the
 * truth about what is due. Every writer txn starts with eng_tick_cb, which
 * walks the index from its start while entries are due, at most
 * CET_EXPIRE_BATCH_MAX per txn, and deletes holds, empty candidates and
 * timed-out orders. Seats freed by a tick are given back only after that txn
 * committed (tick_commit_cb), so a counter never shows a seat the disk does
 * not have free.
 */
#include "engine/eng.h"

#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "base/cet_base.h"
#include "engine/eng_internal.h"

const char *eng_phase_name(eng_phase_t p)
{
    static const char *names[] = {"none", "before_lookup", "lookup", "open", "closed", "print"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "none";
}

eng_phase_t eng_phase(const store_sitting_t *s, int64_t now)
{
    if (!s->id) return ENG_PHASE_NONE;
    if (now < s->lookup_opens) return ENG_PHASE_BEFORE;
    if (now < s->reg_opens) return ENG_PHASE_LOOKUP;
    if (now < s->reg_closes) return ENG_PHASE_OPEN;
    if (s->print_opens && now >= s->print_opens) return ENG_PHASE_PRINT;
    return ENG_PHASE_CLOSED;
}

const char *eng_review_state_name(uint8_t state)
{
    switch (state) {
    case STORE_REVIEW_AUTO_APPROVED:
        return "auto_approved";
    case STORE_REVIEW_PENDING:
        return "pending";
    case STORE_REVIEW_APPROVED:
        return "approved";
    case STORE_REVIEW_REJECTED:
        return "rejected";
    }
    return NULL;
}

const char *eng_order_state_name(uint8_t state)
{
    switch (state) {
    case STORE_ORDER_PENDING:
        return "pending";
    case STORE_ORDER_PAID:
        return "paid";
    case STORE_ORDER_EXPIRED:
        return "expired";
    case STORE_ORDER_REFUND:
        return "refund";
    }
    return "unknown";
}

const char *eng_seat_colour(uint32_t left, uint32_t capacity)
{
    if (left == 0) return "none";
    return (uint64_t)left * 2 >= capacity ? "green" : "yellow";
}

bool eng_qualified(const store_roster_t *r, char subject)
{
    for (int i = 0; i < r->n_subjects && i < CET_SUBJECTS_MAX; i++)
        if (r->subjects[i] == subject) return true;
    return false;
}

bool eng_review_offered(store_txn_t *txn, const store_t *st, const store_roster_t *r)
{
    if (r->flags & STORE_ROSTER_CET6_BARRED) return false;
    if (eng_qualified(r, ENG_SUBJECT_ENGLISH6)) return false;
    store_offer_t o;
    return store_offer_get(txn, st, r->campus, ENG_SUBJECT_ENGLISH6, &o) == 0;
}

/* Length of the UTF-8 character starting at s. */
static size_t utf8_len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    return 4;
}

void eng_mask_name(const char *in, char *out, size_t cap)
{
    /* keep the first character (the surname) and the last; stars between */
    size_t n = strlen(in), chars = 0;
    for (size_t i = 0; i < n; i += utf8_len(in + i)) chars++;
    size_t o = 0, idx = 0;
    for (size_t i = 0; i < n && o + 5 < cap; idx++) {
        size_t l = utf8_len(in + i);
        if (idx == 0 || (idx == chars - 1 && chars > 2)) {
            memcpy(out + o, in + i, l);
            o += l;
        } else {
            out[o++] = '*';
        }
        i += l;
    }
    out[o] = 0;
}

void eng_mask_id(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) out[i] = (i < 4 || i + 4 >= n) ? in[i] : '*';
    out[n] = 0;
}

void eng_mask_email(const char *in, char *out, size_t cap)
{
    const char *at = strchr(in, '@');
    size_t local = at ? (size_t)(at - in) : strlen(in);
    size_t keep = local < 2 ? local : 2;
    snprintf(out, cap, "%.*s***%s", (int)keep, in, at ? at : "");
}

bool eng_notice_signature_ok(const eng_t *e, const char *body, size_t len, const char *sig_hex)
{
    if (!sig_hex || !e->opt.payment_secret_len) return false;
    uint8_t want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    if (strlen(sig_hex) != 2 * sizeof got || cet_unhex(got, sig_hex, sizeof got) != 0) return false;
    crypto_auth_hmacsha256_state stt;
    crypto_auth_hmacsha256_init(&stt, e->opt.payment_secret, e->opt.payment_secret_len);
    crypto_auth_hmacsha256_update(&stt, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&stt, want);
    return sodium_memcmp(want, got, sizeof want) == 0;
}

/* ---- the expiry tick (writer thread) ---- */
static int sweep(eng_t *e, store_txn_t *txn, int64_t now);

typedef struct tick_walk {
    eng_t *e;
    int64_t now;
    uint8_t keys[CET_EXPIRE_BATCH_MAX][STORE_EXPIRY_KEY_BYTES];
    int n;
} tick_walk_t;

static int tick_collect_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    tick_walk_t *w = arg;
    (void)val;
    (void)vlen;
    if (klen != STORE_EXPIRY_KEY_BYTES) return STORE_CORRUPT;
    if ((int64_t)store_rd64(key) > w->now || w->n >= CET_EXPIRE_BATCH_MAX) return 1;
    memcpy(w->keys[w->n++], key, STORE_EXPIRY_KEY_BYTES);
    return 0;
}

static int tick_cb(store_txn_t *txn, store_t *st, int64_t now_ms, void *ctx)
{
    eng_t *e = ctx;
    tick_walk_t *w = e->tick_walk;
    w->e = e;
    w->now = now_ms / 1000;
    w->n = 0;
    e->tick_n_released = 0;
    memset(&e->tick_counts, 0, sizeof e->tick_counts);
    int rc = store_scan(txn, st, STORE_DB_EXPIRY, NULL, 0, tick_collect_cb, w);
    if (rc) return rc;
    for (int i = 0; i < w->n; i++) {
        const uint8_t *k = w->keys[i];
        int64_t due = (int64_t)store_rd64(k);
        uint8_t kind = k[8];
        uint32_t no = store_rd32(k + 9);
        char subject = (char)k[13];
        switch (kind) {
        case STORE_EXPIRE_HOLD:
            rc = eng_expire_hold(e, txn, no, subject, due, w->now);
            break;
        case STORE_EXPIRE_CANDIDATE:
            rc = eng_expire_candidate(e, txn, no, due);
            break;
        case STORE_EXPIRE_ORDER:
            rc = eng_expire_order(e, txn, no, due, w->now);
            break;
        default:
            rc = 0;
        }
        if (rc) return rc;
        /* the handler removed or moved the entry; a stale one goes here */
        rc = store_del_raw(txn, st, STORE_DB_EXPIRY, k, STORE_EXPIRY_KEY_BYTES);
        if (rc && rc != STORE_NOTFOUND) return rc;
    }
    return sweep(e, txn, w->now);
}

/*
 * Sweeps expired sessions and Idempotency-Key records, CET_SWEEP_BATCH_MAX
 * entries per tick, resuming where the last tick stopped, so neither
 * database grows without bound and no tick is long.
 */
static int sweep(eng_t *e, store_txn_t *txn, int64_t now)
{
    store_db_t db = e->sweep_idem ? STORE_DB_IDEM : STORE_DB_SESSION;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(e->st, db), &cur);
    if (rc) return rc;
    MDB_val k = {e->sweep_klen, e->sweep_key}, v;
    rc = mdb_cursor_get(cur, &k, &v, e->sweep_klen ? MDB_SET_RANGE : MDB_FIRST);
    int seen = 0;
    while (rc == 0 && seen++ < CET_SWEEP_BATCH_MAX) {
        bool dead = false;
        if (db == STORE_DB_SESSION && v.mv_size == sizeof(store_session_t)) {
            store_session_t ss;
            memcpy(&ss, v.mv_data, sizeof ss);
            dead = ss.expires < now;
        } else if (db == STORE_DB_IDEM && v.mv_size >= sizeof(store_idem_t)) {
            store_idem_t h;
            memcpy(&h, v.mv_data, sizeof h);
            dead = h.created + CET_IDEM_TTL_S < now;
        }
        if (dead && (rc = mdb_cursor_del(cur, 0))) break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after a delete: the next one */
    }
    if (rc == 0 && k.mv_size <= sizeof e->sweep_key) {
        memcpy(e->sweep_key, k.mv_data, k.mv_size);
        e->sweep_klen = k.mv_size;
        rc = 0;
    } else if (rc == MDB_NOTFOUND) {
        e->sweep_klen = 0; /* wrapped: next tick sweeps the other database */
        e->sweep_idem = !e->sweep_idem;
        rc = 0;
    }
    mdb_cursor_close(cur);
    return rc;
}

static void tick_commit_cb(void *ctx)
{
    eng_t *e = ctx;
    for (int i = 0; i < e->tick_n_released; i++) eng_seats_give(e->seats, e->tick_released[i]);
    atomic_fetch_add(&e->stats.holds_expired, e->tick_counts.holds_expired);
    atomic_fetch_add(&e->stats.candidates_deleted, e->tick_counts.candidates_deleted);
    atomic_fetch_add(&e->stats.orders_expired, e->tick_counts.orders_expired);
    e->tick_n_released = 0;
}

static void tick_abort_cb(void *ctx)
{
    eng_t *e = ctx;
    e->tick_n_released = 0;
}

void eng_tick_release(eng_t *e, uint32_t campus, char subject)
{
    int slot = eng_seats_slot(e->seats, campus, subject);
    if (slot >= 0 && e->tick_n_released < CET_TICK_RELEASE_MAX)
        e->tick_released[e->tick_n_released++] = slot;
}

/* ---- lifecycle ---- */
int eng_open(store_t *st, const eng_options_t *opt, eng_t **out)
{
    eng_t *e = cet_calloc(1, sizeof *e);
    e->st = st;
    e->opt = *opt;
    if (e->opt.hold_ttl_s <= 0) e->opt.hold_ttl_s = CET_HOLD_TTL_DEFAULT_S;
    if (e->opt.order_ttl_s <= 0) e->opt.order_ttl_s = CET_ORDER_TTL_S;
    e->seats = eng_seats_new();
    e->tick_walk = cet_calloc(1, sizeof(tick_walk_t));
    e->tick_released = cet_calloc(CET_TICK_RELEASE_MAX, sizeof(int));
    store_txn_t *txn;
    int rc = store_read_begin(st, &txn);
    if (rc == 0) {
        rc = eng_seats_load(e->seats, txn, st);
        store_abort(txn);
    }
    if (rc) {
        CET_ERROR("engine: cannot load seat counters: %s", store_strerror(rc));
        goto fail;
    }
    store_writer_hooks_t hooks = {tick_cb, tick_commit_cb, tick_abort_cb, e};
    rc = store_writer_start(st, &hooks, &e->writer);
    if (rc) goto fail;
    CET_INFO("engine: %d offers loaded, hold ttl %llds", eng_seats_count(e->seats),
             (long long)e->opt.hold_ttl_s);
    *out = e;
    return 0;
fail:
    eng_seats_free(e->seats);
    cet_free(e->tick_walk);
    cet_free(e->tick_released);
    cet_free(e);
    return rc;
}

void eng_close(eng_t *e)
{
    if (!e) return;
    store_writer_stop(e->writer);
    eng_seats_free(e->seats);
    eng_tickets_index_free(e->tickets_index);
    cet_free(e->tick_walk);
    cet_free(e->tick_released);
    cet_free(e);
}

store_t *eng_store(eng_t *e)
{
    return e->st;
}

store_writer_t *eng_writer(eng_t *e)
{
    return e->writer;
}

eng_seats_t *eng_seats(eng_t *e)
{
    return e->seats;
}

const eng_options_t *eng_options(const eng_t *e)
{
    return &e->opt;
}

void eng_stats_get(eng_t *e, eng_stats_t *out)
{
    out->holds_expired = atomic_load(&e->stats.holds_expired);
    out->candidates_deleted = atomic_load(&e->stats.candidates_deleted);
    out->orders_expired = atomic_load(&e->stats.orders_expired);
    out->notices = atomic_load(&e->stats.notices);
    out->notices_refund = atomic_load(&e->stats.notices_refund);
    out->registrations = atomic_load(&e->stats.registrations);
    out->cancellations = atomic_load(&e->stats.cancellations);
    out->payments = atomic_load(&e->stats.payments);
}
