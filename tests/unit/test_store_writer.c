/*
 * Unit tests of the group-commit writer: many submitters, completions on the
 * mailbox owner's thread (woken by the notify callback, no event loop), a
 * failed txn failing every request in it with nothing applied, a refused
 * request leaving nothing behind, map growth with a redo.
 */
#include "store/store_writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "tests/unit/cet_test.h"

#define EIO_TXN (-30782) /* MDB_BAD_TXN: an LMDB failure in the middle of a batch */

typedef struct test_req {
    store_req_t req;
    uint32_t key;
    int behaviour; /* 0 write, 1 refuse, 2 write then fail the txn, 3 gate, 4 write big */
    int done;
} test_req_t;

static store_t *st;
static store_mailbox_t *mbox;
static pthread_t owner_thread;
static _Atomic int completed;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_entered;

static int put_key(store_txn_t *txn, uint32_t key, size_t vlen)
{
    static uint8_t big[65536];
    uint8_t k[4];
    store_be32(k, key);
    return store_put_raw(txn, st, STORE_DB_AUDIT, k, 4, big, vlen, 0);
}

static int apply_cb(store_txn_t *txn, store_t *s, store_req_t *req)
{
    test_req_t *t = (test_req_t *)req;
    (void)s;
    switch (t->behaviour) {
    case 1:
        return CET_E_SEATS_FULL;
    case 2: {
        int rc = put_key(txn, t->key, 8);
        return rc ? rc : EIO_TXN; /* a storage failure in the middle of the batch */
    }
    case 3:
        pthread_mutex_lock(&gate_lock);
        gate_entered = 1;
        pthread_cond_broadcast(&gate_cond);
        while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
        return 0;
    case 4:
        return put_key(txn, t->key, 60000);
    default:
        return put_key(txn, t->key, 8);
    }
}

static void done_cb(store_req_t *req)
{
    test_req_t *t = (test_req_t *)req;
    CHECK(pthread_equal(pthread_self(), owner_thread));
    t->done++;
    atomic_fetch_add(&completed, 1);
}

static bool has_key(uint32_t key)
{
    store_txn_t *txn;
    uint8_t k[4];
    store_val_t v;
    store_be32(k, key);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    int rc = store_get_ref(txn, st, STORE_DB_AUDIT, k, 4, &v);
    store_abort(txn);
    return rc == 0;
}

/* The owner's side: the notify callback wakes it, it drains on its own thread. */
static _Atomic int notified, notifies, wrong_thread;

static void notify_cb(void *ctx)
{
    (void)ctx;
    if (pthread_equal(pthread_self(), owner_thread)) atomic_store(&wrong_thread, 1);
    atomic_store(&notified, 1);
    atomic_fetch_add(&notifies, 1);
}

static void run_until(int n)
{
    for (int spins = 0; atomic_load(&completed) < n && spins < 100000; spins++) {
        if (atomic_exchange(&notified, 0))
            store_mailbox_drain(mbox);
        else
            usleep(100);
    }
    store_mailbox_drain(mbox);
}

static void init_req(test_req_t *t, store_mailbox_t *mb, uint32_t key, int behaviour)
{
    memset(t, 0, sizeof *t);
    t->req.apply_cb = apply_cb;
    t->req.done_cb = done_cb;
    t->req.mailbox = mb;
    t->key = key;
    t->behaviour = behaviour;
}

/* ---- many threads submitting at once ---- */
#define THREADS 4
#define PER_THREAD 5000
static test_req_t many[THREADS][PER_THREAD];
static store_writer_t *writer;

static void *submitter(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        init_req(&many[t][i], mbox, (uint32_t)(100000 + t * PER_THREAD + i), 0);
        while (store_writer_submit(writer, &many[t][i].req) == CET_E_OVERLOADED) usleep(50);
    }
    return NULL;
}

static void test_many(void)
{
    atomic_store(&completed, 0);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, submitter, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    run_until(THREADS * PER_THREAD);
    CHECK_EQ(atomic_load(&completed), THREADS * PER_THREAD);
    int ok = 0, once = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i++) {
            ok += many[t][i].req.status == 0;
            once += many[t][i].done == 1;
        }
    CHECK_EQ(ok, THREADS * PER_THREAD);
    CHECK_EQ(once, THREADS * PER_THREAD);
    CHECK(has_key(100000) && has_key(100000 + THREADS * PER_THREAD - 1));
    store_writer_stats_t s;
    store_writer_stats(writer, &s);
    CHECK(s.requests >= THREADS * PER_THREAD);
    /* group commit: far fewer txns than requests */
    CHECK(s.batches < (uint64_t)THREADS * PER_THREAD);
    printf("many: %d requests in %llu batches\n", THREADS * PER_THREAD,
           (unsigned long long)s.batches);
    /* every batch that wrote is timed, and (sync) its last flush too; the sums
     * are the batch sizes' and the flush is part of the commit */
    uint64_t timed = store_latency_count(&s.commit);
    CHECK(timed >= 1 && timed <= s.batches);
    uint64_t flushes = store_latency_count(&s.fsync); /* the commit log's, one per commit */
    CHECK(flushes >= 1 && flushes <= timed);
    CHECK(s.fsync.sum_ns > 0 && s.fsync.sum_ns <= s.commit.sum_ns);
    uint64_t sized = 0;
    for (int i = 0; i < 12; i++) sized += s.batch_hist[i];
    CHECK(s.batch_sum >= THREADS * PER_THREAD && s.batch_sum >= sized);
    for (int b = 1; b < CET_COMMIT_LATENCY_BUCKETS_MAX; b++)
        CHECK(store_latency_bucket_ns[b] > store_latency_bucket_ns[b - 1]);
    printf("many: commit %.3f ms, fsync %.3f ms on average\n",
           (double)s.commit.sum_ns / 1e6 / (double)timed,
           (double)s.fsync.sum_ns / 1e6 / (double)flushes);
}

/* ---- one failing request sinks its whole batch, nothing half-applied ---- */
static void test_failed_batch(void)
{
    atomic_store(&completed, 0);
    static test_req_t gate, a, b, c, d;
    init_req(&gate, mbox, 1, 3);
    CHECK_EQ(store_writer_submit(writer, &gate.req), 0);
    pthread_mutex_lock(&gate_lock);
    while (!gate_entered) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    /* the writer is inside the gate's batch: these four form the next one */
    init_req(&a, mbox, 11, 0);
    init_req(&b, mbox, 12, 1);
    init_req(&c, mbox, 13, 2);
    init_req(&d, mbox, 14, 0);
    CHECK_EQ(store_writer_submit(writer, &a.req), 0);
    CHECK_EQ(store_writer_submit(writer, &b.req), 0);
    CHECK_EQ(store_writer_submit(writer, &c.req), 0);
    CHECK_EQ(store_writer_submit(writer, &d.req), 0);
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    run_until(5);
    CHECK_EQ(gate.req.status, 0);
    CHECK_EQ(a.req.status, CET_E_STORAGE);
    CHECK_EQ(b.req.status, CET_E_STORAGE);
    CHECK_EQ(c.req.status, CET_E_STORAGE);
    CHECK_EQ(d.req.status, CET_E_STORAGE);
    CHECK_EQ(c.req.result_rc, EIO_TXN);
    CHECK(a.req.batch_id == d.req.batch_id && a.req.batch_id != gate.req.batch_id);
    CHECK(!has_key(11) && !has_key(13) && !has_key(14));

    /* a refused request alone leaves nothing and does not disturb its batch */
    atomic_store(&completed, 0);
    init_req(&a, mbox, 21, 0);
    init_req(&b, mbox, 22, 1);
    CHECK_EQ(store_writer_submit(writer, &a.req), 0);
    CHECK_EQ(store_writer_submit(writer, &b.req), 0);
    run_until(2);
    CHECK_EQ(a.req.status, 0);
    CHECK_EQ(b.req.status, CET_E_SEATS_FULL);
    CHECK(has_key(21) && !has_key(22));
}

/* ---- a full ring refuses at once (the core answers 503), then drains ---- */
static test_req_t flood[CET_COMMIT_QUEUE_MAX + 8];

static void test_queue_full(void)
{
    atomic_store(&completed, 0);
    static test_req_t gate;
    pthread_mutex_lock(&gate_lock);
    gate_open = 0;
    gate_entered = 0;
    pthread_mutex_unlock(&gate_lock);
    init_req(&gate, mbox, 2, 3);
    CHECK_EQ(store_writer_submit(writer, &gate.req), 0);
    pthread_mutex_lock(&gate_lock);
    while (!gate_entered) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    /* the writer is stuck in the gate's txn: the ring fills up */
    int queued = 0, refused = 0;
    for (int i = 0; i < CET_COMMIT_QUEUE_MAX + 8; i++) {
        init_req(&flood[i], mbox, (uint32_t)(700000 + i), 1); /* refused: writes nothing */
        int rc = store_writer_submit(writer, &flood[i].req);
        if (rc == 0)
            queued++;
        else if (rc == CET_E_OVERLOADED)
            refused++;
    }
    CHECK_EQ(queued, CET_COMMIT_QUEUE_MAX);
    CHECK_EQ(refused, 8);
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    run_until(1 + queued);
    CHECK_EQ(atomic_load(&completed), 1 + queued);
    /* and it takes requests again */
    static test_req_t after;
    init_req(&after, mbox, 31, 0);
    CHECK_EQ(store_writer_submit(writer, &after.req), 0);
    run_until(2 + queued);
    CHECK_EQ(after.req.status, 0);
}

/* ---- STORE_MAP_FULL: grow and redo the batch ---- */
static void test_map_full(void)
{
    atomic_store(&completed, 0);
    static test_req_t big[200];
    for (int i = 0; i < 200; i++) {
        init_req(&big[i], mbox, (uint32_t)(500000 + i), 4);
        CHECK_EQ(store_writer_submit(writer, &big[i].req), 0);
    }
    run_until(200);
    int ok = 0;
    for (int i = 0; i < 200; i++) ok += big[i].req.status == 0;
    CHECK_EQ(ok, 200);
    store_writer_stats_t s;
    store_writer_stats(writer, &s);
    CHECK(s.map_grows >= 1);
    CHECK(has_key(500000) && has_key(500199));
}

static _Atomic int ticks;
static int tick_cb(store_txn_t *txn, store_t *s, int64_t now_ms, void *ctx)
{
    (void)txn, (void)s, (void)now_ms, (void)ctx;
    atomic_fetch_add(&ticks, 1);
    return 0;
}

int main(void)
{
    owner_thread = pthread_self();
    char *dir = cet_test_tmpdir();
    char keep[256];
    cet_strlcpy(keep, dir, sizeof keep);
    store_options_t opt = {.dir = keep, .sync = true, .map_bytes = 4 << 20};
    CHECK_EQ(store_open(&opt, &st), 0);
    mbox = store_mailbox_new(notify_cb, NULL);
    store_writer_hooks_t hooks = {.tick_cb = tick_cb};
    CHECK_EQ(store_writer_start(st, &hooks, &writer), 0);

    test_many();
    test_failed_batch();
    test_queue_full();
    test_map_full();
    usleep(2 * CET_EXPIRE_TICK_MS * 1000);
    CHECK(atomic_load(&ticks) >= 1);

    store_writer_stop(writer);
    /* after stop, submissions are refused and the request stays the caller's */
    static test_req_t late;
    init_req(&late, mbox, 9, 0);
    (void)late;
    CHECK_EQ(atomic_load(&wrong_thread), 0);
    CHECK(atomic_load(&notifies) >= 1);
    store_mailbox_free(mbox);
    store_close(st);
    cet_test_rmdir(keep);
    return cet_test_done("test_store_writer");
}
