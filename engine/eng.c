/*
 * eng.c: engine start and stop, and the expiry tick. It calls down into the
 * expiry handlers of eng_ops.c (engine/eng_internal.h) and the ledger of
 * eng_seats.c; nothing calls back up into it but through eng.h.
 *
 * Expiry. The STORE_DB_EXPIRY index (due ‖ kind ‖ id ‖ subject; a hold's id is
 * its registration's sequence, a candidate's its roster_no) is the
 * truth about what is due. Every writer txn starts with eng_tick_cb, which
 * walks the index from its start while entries are due, at most
 * CET_EXPIRE_BATCH_MAX per txn, and deletes holds, empty candidates and
 * timed-out orders. Seats freed by a tick, like every seat change a txn
 * decides, reach the counters only after that txn committed (txn_commit_cb
 * applies the ledger's deferred changes), so a counter never shows a seat the
 * disk does not have free, and changes land in commit order.
 */
#include "engine/eng.h"

#include <stdatomic.h>
#include <string.h>

#include "base/cet_base.h"
#include "engine/eng_internal.h"

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
    if ((int64_t)store_rd64(key) > w->now || w->n >= CET_EXPIRE_BATCH_MAX) return CET_DONE;
    memcpy(w->keys[w->n++], key, STORE_EXPIRY_KEY_BYTES);
    return CET_OK;
}

static int tick_cb(store_txn_t *txn, store_t *st, int64_t now_ms, void *ctx)
{
    eng_t *e = ctx;
    tick_walk_t *w = e->tick_walk;
    w->e = e;
    w->now = now_ms / 1000;
    w->n = 0;
    memset(&e->tick_counts, 0, sizeof e->tick_counts);
    int rc = store_scan(txn, st, STORE_DB_EXPIRY, NULL, 0, tick_collect_cb, w);
    if (rc) return rc;
    for (int i = 0; i < w->n; i++) {
        const uint8_t *k = w->keys[i];
        int64_t due = (int64_t)store_rd64(k);
        uint8_t kind = k[8];
        uint64_t id = store_expiry_key_id(k);
        char subject = store_expiry_key_subject(k);
        /* a candidate's id is its roster_no: 32 bits, or the entry is not ours */
        uint32_t no = (uint32_t)id;
        if (kind == STORE_EXPIRE_CANDIDATE && id > UINT32_MAX) return STORE_CORRUPT;
        switch (kind) {
        case STORE_EXPIRE_HOLD:
            rc = eng_expire_hold(e, txn, id, subject, due, w->now);
            break;
        case STORE_EXPIRE_CANDIDATE:
            rc = eng_expire_candidate(e, txn, no, due);
            break;
        case STORE_EXPIRE_ORDER:
            rc = eng_expire_order(e, txn, id, due, w->now);
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

typedef struct sweep_at {
    store_db_t db;
    int64_t now;
} sweep_at_t;

/* Is a session or Idempotency-Key record past its life? */
static bool sweep_dead_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    const sweep_at_t *at = arg;
    (void)key, (void)klen;
    if (at->db == STORE_DB_SESSION && vlen == sizeof(store_session_t)) {
        store_session_t ss;
        memcpy(&ss, val, sizeof ss);
        return ss.expires < at->now;
    }
    if (at->db == STORE_DB_IDEM && vlen >= sizeof(store_idem_t)) {
        store_idem_t h;
        memcpy(&h, val, sizeof h);
        return h.created + CET_IDEM_TTL_S < at->now;
    }
    return false;
}

/*
 * Sweeps expired sessions and Idempotency-Key records, CET_SWEEP_BATCH_MAX
 * entries per tick, resuming where the last tick stopped, so neither
 * database grows without bound and no tick is long.
 */
static int sweep(eng_t *e, store_txn_t *txn, int64_t now)
{
    sweep_at_t at = {e->sweep_idem ? STORE_DB_IDEM : STORE_DB_SESSION, now};
    size_t next_len = 0;
    int rc = store_sweep(txn, e->st, at.db, e->sweep_key, e->sweep_klen, CET_SWEEP_BATCH_MAX,
                         sweep_dead_cb, &at, e->sweep_key, sizeof e->sweep_key, &next_len);
    e->sweep_klen = next_len;
    if (rc == CET_DONE) {
        e->sweep_idem = !e->sweep_idem; /* wrapped: next tick sweeps the other database */
        rc = CET_OK;
    }
    return rc;
}

/* Every txn, tick or not: what it decided about seats reaches the counters now. */
static void txn_commit_cb(void *ctx)
{
    eng_t *e = ctx;
    eng_seats_commit(e->seats);
    atomic_fetch_add(&e->stats.holds_expired, e->tick_counts.holds_expired);
    atomic_fetch_add(&e->stats.candidates_deleted, e->tick_counts.candidates_deleted);
    atomic_fetch_add(&e->stats.orders_expired, e->tick_counts.orders_expired);
    memset(&e->tick_counts, 0, sizeof e->tick_counts);
}

static void txn_abort_cb(void *ctx)
{
    eng_t *e = ctx;
    eng_seats_discard(e->seats);
    memset(&e->tick_counts, 0, sizeof e->tick_counts);
}

static int live_rebuild_cb(store_txn_t *txn, void *arg)
{
    eng_t *e = arg;
    return eng_seats_live_rebuild(e->seats, txn, e->st);
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
    /* the live counts the writer checks are rebuilt from the registrations
     * themselves, so no import or repair made while cetd was down skews them */
    rc = store_write_run(st, live_rebuild_cb, e);
    if (rc) {
        CET_ERROR("engine: cannot write the live counts: %s", store_strerror(rc));
        goto fail;
    }
    store_writer_hooks_t hooks = {tick_cb, txn_commit_cb, txn_abort_cb, e};
    rc = store_writer_start(st, &hooks, &e->writer);
    if (rc) goto fail;
    CET_INFO("engine: %d offers loaded, hold ttl %llds", eng_seats_count(e->seats),
             (long long)e->opt.hold_ttl_s);
    *out = e;
    return 0;
fail:
    eng_seats_free(e->seats);
    cet_free(e->tick_walk);
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
