/*
 * store_writer.c: the group-commit writer thread.
 *
 * Submitters push onto a bounded lock-free ring (Vyukov's MPMC ring, used
 * here with one consumer). The writer drains up to CET_COMMIT_BATCH_MAX,
 * applies them in one write txn, commits, then pushes each request onto its
 * mailbox and notifies the owners of mailboxes that were empty. It sleeps on
 * a condition variable only when the ring is empty, with the Dekker-style
 * handshake in writer_sleep()/store_writer_submit().
 */
#include "store/store_writer.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "base/cet_base.h"
#include "base/cet_err.h"

_Static_assert((CET_COMMIT_QUEUE_MAX & (CET_COMMIT_QUEUE_MAX - 1)) == 0,
               "CET_COMMIT_QUEUE_MAX must be a power of two");

/* A Treiber stack: the writer pushes (CAS), the owner takes it whole (exchange). */
struct store_mailbox {
    _Atomic(store_req_t *) head; /* newest first; reversed at drain */
    store_notify_cb notify_cb;
    void *ctx;
};

/* A latency histogram the writer thread alone adds to (store_writer_stats reads it). */
typedef struct latency_hist {
    _Atomic uint64_t bucket[CET_COMMIT_LATENCY_BUCKETS_MAX + 1];
    _Atomic uint64_t sum_ns;
} latency_hist_t;

/* 50 µs (a commit without fsync) to 5 s (a disk in trouble). */
const uint64_t store_latency_bucket_ns[CET_COMMIT_LATENCY_BUCKETS_MAX] = {
    50000,    100000,   250000,    500000,    1000000,   2500000,    5000000,
    10000000, 25000000, 50000000, 100000000, 250000000, 1000000000, 5000000000};

typedef struct ring_slot {
    _Atomic size_t seq;
    store_req_t *req;
} ring_slot_t;

struct store_writer {
    store_t *st;
    store_writer_hooks_t hooks;
    pthread_t thread;
    ring_slot_t *ring;
    _Atomic size_t head; /* next enqueue position */
    size_t tail;         /* next dequeue position (writer only) */
    _Atomic int sleeping;
    _Atomic int stopping;
    _Atomic int kicked;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int64_t next_tick_ms;
    uint64_t batch_seq;
    store_mailbox_t **wake; /* [CET_COMMIT_BATCH_MAX]: mailboxes to notify after a batch */
    bool full;              /* the disk was full at the last batch (logged once) */
    uint64_t full_since_ms;
    /* stats */
    _Atomic uint64_t n_batches, n_requests, n_failed, n_grows, n_full;
    _Atomic bool full_now;
    _Atomic uint64_t hist[12];
    _Atomic uint64_t batch_sum;
    latency_hist_t commit_lat, fsync_lat;
};

/* ---- mailboxes ---- */
store_mailbox_t *store_mailbox_new(store_notify_cb notify_cb, void *ctx)
{
    CET_ASSERT(notify_cb != NULL);
    store_mailbox_t *mb = cet_calloc(1, sizeof *mb);
    atomic_init(&mb->head, NULL);
    mb->notify_cb = notify_cb;
    mb->ctx = ctx;
    return mb;
}

void store_mailbox_free(store_mailbox_t *mb)
{
    if (!mb) return; /* completions never drained stay their submitters' (shutdown) */
    cet_free(mb);
}

unsigned store_mailbox_drain(store_mailbox_t *mb)
{
    store_req_t *list = atomic_exchange_explicit(&mb->head, NULL, memory_order_acquire);
    /* reverse to completion order */
    store_req_t *fifo = NULL;
    while (list) {
        store_req_t *next = list->next_;
        list->next_ = fifo;
        fifo = list;
        list = next;
    }
    unsigned n = 0;
    while (fifo) {
        store_req_t *next = fifo->next_;
        fifo->done_cb(fifo);
        fifo = next;
        n++;
    }
    return n;
}

/* Pushes req; true when the mailbox was empty (its owner must be notified). */
static bool mailbox_push(store_mailbox_t *mb, store_req_t *req)
{
    store_req_t *head = atomic_load_explicit(&mb->head, memory_order_relaxed);
    do {
        req->next_ = head;
    } while (!atomic_compare_exchange_weak_explicit(&mb->head, &head, req, memory_order_release,
                                                    memory_order_relaxed));
    return head == NULL;
}

/* ---- the ring ---- */
static bool ring_pop(store_writer_t *w, store_req_t **out)
{
    ring_slot_t *slot = &w->ring[w->tail & (CET_COMMIT_QUEUE_MAX - 1)];
    size_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
    if (seq != w->tail + 1) return false;
    *out = slot->req;
    atomic_store_explicit(&slot->seq, w->tail + CET_COMMIT_QUEUE_MAX, memory_order_release);
    w->tail++;
    return true;
}

static bool ring_empty(store_writer_t *w)
{
    ring_slot_t *slot = &w->ring[w->tail & (CET_COMMIT_QUEUE_MAX - 1)];
    return atomic_load_explicit(&slot->seq, memory_order_acquire) != w->tail + 1;
}

int store_writer_submit(store_writer_t *w, store_req_t *req)
{
    if (atomic_load(&w->stopping)) return CET_E_DRAINING;
    size_t pos = atomic_load_explicit(&w->head, memory_order_relaxed);
    for (;;) {
        ring_slot_t *slot = &w->ring[pos & (CET_COMMIT_QUEUE_MAX - 1)];
        size_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&w->head, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                slot->req = req;
                atomic_store_explicit(&slot->seq, pos + 1, memory_order_release);
                break;
            }
        } else if (dif < 0) {
            return CET_E_OVERLOADED;
        } else {
            pos = atomic_load_explicit(&w->head, memory_order_relaxed);
        }
    }
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&w->sleeping)) {
        pthread_mutex_lock(&w->lock);
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    return 0;
}

void store_writer_kick(store_writer_t *w)
{
    atomic_store(&w->kicked, 1);
    pthread_mutex_lock(&w->lock);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void writer_sleep(store_writer_t *w, int64_t until_ms)
{
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->sleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (ring_empty(w) && !atomic_load(&w->stopping) && !atomic_load(&w->kicked)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ms = until_ms - cet_now_ms();
        if (wait_ms < 1) wait_ms = 1;
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    atomic_store(&w->sleeping, 0);
    pthread_mutex_unlock(&w->lock);
}

/* ---- batches ---- */
static void count_batch(store_writer_t *w, int n)
{
    int b = 0;
    while (b < 11 && n >= (1 << b)) b++;
    atomic_fetch_add_explicit(&w->hist[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->batch_sum, (uint64_t)n, memory_order_relaxed);
}

static void latency_add(latency_hist_t *h, uint64_t ns)
{
    int b = 0;
    while (b < CET_COMMIT_LATENCY_BUCKETS_MAX && ns > store_latency_bucket_ns[b]) b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

static void latency_load(latency_hist_t *h, store_latency_hist_t *out)
{
    for (int b = 0; b <= CET_COMMIT_LATENCY_BUCKETS_MAX; b++)
        out->bucket[b] = atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
    out->sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}

/* Commits txn; a commit that wrote is timed into the commit and fsync histograms. */
static int commit_timed(store_writer_t *w, store_txn_t *txn)
{
    store_commit_info_t info;
    uint64_t t0 = cet_mono_ns();
    int rc = store_commit_timed(txn, &info);
    uint64_t commit_ns = cet_mono_ns() - t0;
    if (rc == 0 && info.wrote) {
        latency_add(&w->commit_lat, commit_ns);
        if (info.sync_ns) latency_add(&w->fsync_lat, info.sync_ns);
    }
    return rc;
}

/*
 * One txn: the tick (if due) and reqs[0..n). Returns 0 when committed, else
 * the LMDB code that sank it (everything in it is then undone).
 */
static int run_txn(store_writer_t *w, store_req_t **reqs, int n, bool tick)
{
    store_txn_t *txn;
    int rc = store_write_begin(w->st, &txn);
    if (rc) return rc;
    if (tick && w->hooks.tick_cb) {
        rc = w->hooks.tick_cb(txn, w->st, cet_now_ms(), w->hooks.ctx);
        if (rc) goto abort;
    }
    for (int i = 0; i < n; i++) {
        int r = reqs[i]->apply_cb(txn, w->st, reqs[i]);
        if (cet_rc_class(r) == CET_FAILED) {
            rc = r;
            goto abort;
        }
        reqs[i]->status = r;
    }
    return commit_timed(w, txn);
abort:
    store_abort(txn);
    return rc;
}

/* The full-disk state changes: logged once each way, not per batch or request. */
static void full_note(store_writer_t *w, bool full, int rc)
{
    if (full == w->full) return;
    w->full = full;
    atomic_store(&w->full_now, full);
    if (full) {
        w->full_since_ms = cet_now_ms();
        CET_ERROR("store: no space left for the data (%s): writes that do not fit are answered "
                  "503 storage_full, reads go on; every batch is tried until space returns",
                  store_strerror(rc));
    } else {
        CET_INFO("store: space is back after %lld ms: writes commit again",
                 (long long)(cet_now_ms() - w->full_since_ms));
    }
}

static void run_batch(store_writer_t *w, store_req_t **reqs, int n, bool tick)
{
    int rc;
    for (;;) {
        rc = run_txn(w, reqs, n, tick);
        if (rc != STORE_MAP_FULL) break;
        atomic_fetch_add(&w->n_grows, 1);
        if (w->hooks.abort_cb) w->hooks.abort_cb(w->hooks.ctx);
        int grc = store_grow(w->st);
        if (grc) {
            rc = grc;
            break;
        }
    }
    w->batch_seq++;
    if (rc == 0) {
        atomic_fetch_add_explicit(&w->n_batches, 1, memory_order_relaxed);
        if (n) count_batch(w, n);
        if (w->hooks.commit_cb) w->hooks.commit_cb(w->hooks.ctx);
        /* hysteresis: near the edge small batches fit and big ones do not; the
         * state ends (and is logged) only when there is room again */
        if (w->full && !store_space_low(w->st)) full_note(w, false, 0);
    } else {
        bool nospace = store_rc_is_nospace(w->st, rc);
        atomic_fetch_add_explicit(&w->n_failed, 1, memory_order_relaxed);
        if (nospace) {
            atomic_fetch_add_explicit(&w->n_full, 1, memory_order_relaxed);
            full_note(w, true, rc);
            rc = STORE_NOSPACE;
        } else {
            CET_ERROR("writer: batch %llu of %d requests failed: %s",
                      (unsigned long long)w->batch_seq, n, store_strerror(rc));
        }
        if (w->hooks.abort_cb) w->hooks.abort_cb(w->hooks.ctx);
        for (int i = 0; i < n; i++) {
            reqs[i]->status = CET_E_STORAGE;
            reqs[i]->result_rc = rc;
        }
    }
    atomic_fetch_add_explicit(&w->n_requests, (uint64_t)n, memory_order_relaxed);
    /* every request first, then one wake per mailbox that was empty */
    int nwake = 0;
    for (int i = 0; i < n; i++) {
        reqs[i]->batch_id = w->batch_seq;
        store_mailbox_t *mb = reqs[i]->mailbox;
        if (mailbox_push(mb, reqs[i])) w->wake[nwake++] = mb;
    }
    for (int i = 0; i < nwake; i++) w->wake[i]->notify_cb(w->wake[i]->ctx);
}

static void *writer_main(void *arg)
{
    store_writer_t *w = arg;
    store_req_t **reqs = cet_calloc(CET_COMMIT_BATCH_MAX, sizeof *reqs);
    w->next_tick_ms = cet_now_ms();
    for (;;) {
        int n = 0;
        while (n < CET_COMMIT_BATCH_MAX && ring_pop(w, &reqs[n])) n++;
        int64_t now = cet_now_ms();
        bool tick = now >= w->next_tick_ms || atomic_exchange(&w->kicked, 0);
        if (n == 0 && !tick) {
            if (atomic_load(&w->stopping)) break;
            writer_sleep(w, w->next_tick_ms);
            continue;
        }
        if (tick) w->next_tick_ms = now + CET_EXPIRE_TICK_MS;
        run_batch(w, reqs, n, tick);
    }
    cet_free(reqs);
    return NULL;
}

int store_writer_start(store_t *st, const store_writer_hooks_t *hooks, store_writer_t **out)
{
    store_writer_t *w = cet_calloc(1, sizeof *w);
    w->st = st;
    if (hooks) w->hooks = *hooks;
    w->ring = cet_calloc(CET_COMMIT_QUEUE_MAX, sizeof *w->ring);
    w->wake = cet_calloc(CET_COMMIT_BATCH_MAX, sizeof *w->wake);
    for (size_t i = 0; i < CET_COMMIT_QUEUE_MAX; i++) atomic_init(&w->ring[i].seq, i);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc) {
        cet_free(w->ring);
        cet_free(w->wake);
        cet_free(w);
        return rc;
    }
    pthread_setname_np(w->thread, "cet-writer");
    *out = w;
    return 0;
}

void store_writer_stop(store_writer_t *w)
{
    if (!w) return;
    atomic_store(&w->stopping, 1);
    store_writer_kick(w);
    pthread_join(w->thread, NULL);
    /* a submit racing with stop may have slipped in after the last drain */
    store_req_t *r;
    store_req_t *late[64];
    _Static_assert(64 <= CET_COMMIT_BATCH_MAX, "a late batch fits the wake list");
    int n = 0;
    while (ring_pop(w, &r)) {
        late[n++] = r;
        if (n == 64) {
            run_batch(w, late, n, false);
            n = 0;
        }
    }
    if (n) run_batch(w, late, n, false);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    cet_free(w->ring);
    cet_free(w->wake);
    cet_free(w);
}

void store_writer_stats(store_writer_t *w, store_writer_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->batches = atomic_load(&w->n_batches);
    out->requests = atomic_load(&w->n_requests);
    out->failed_batches = atomic_load(&w->n_failed);
    out->map_grows = atomic_load(&w->n_grows);
    out->full_batches = atomic_load(&w->n_full);
    out->full = atomic_load(&w->full_now);
    for (int i = 0; i < 12; i++) out->batch_hist[i] = atomic_load(&w->hist[i]);
    out->batch_sum = atomic_load(&w->batch_sum);
    latency_load(&w->commit_lat, &out->commit);
    latency_load(&w->fsync_lat, &out->fsync);
    size_t head = atomic_load(&w->head);
    out->queue_depth = head >= w->tail ? head - w->tail : 0;
}
