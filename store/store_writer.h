/*
 * store_writer.h: the one writer thread and its group commit.
 *
 * Any thread submits requests; the writer drains up to CET_COMMIT_BATCH_MAX of
 * them, applies each one inside a single LMDB write txn, commits (fsync when
 * the store was opened with sync), and only then hands every request back to
 * the mailbox it names. A mailbox belongs to one owner thread (a core's event
 * loop) and knows nothing of how that thread sleeps: the writer pushes onto
 * the mailbox's lock-free list and calls its notify_cb when the list was
 * empty, at most once per mailbox per batch; the owner (net/: event_active
 * on the core's notify event, the only thread-safe way into a libevent loop)
 * then calls store_mailbox_drain on its own thread, which runs each done_cb
 * there in submission order. store/ has no event-loop dependency.
 *
 * Atomicity. apply_cb must check every rule before it writes anything, so a
 * refused request (apply_cb returns a cet_err_t) leaves nothing behind but
 * what it records about itself as its last step (its idempotency record, an
 * audit line), and the batch goes on. If any LMDB call fails during a batch (apply_cb returns
 * a storage code, an LMDB code or errno, or the commit fails), the whole txn is aborted and
 * every request in it completes with status CET_E_STORAGE and result_rc set:
 * nothing of the batch is applied. A full disk is such a failure with
 * result_rc STORE_NOSPACE (store_req_err gives CET_E_STORAGE_FULL for the
 * answer); it is logged once when it starts and once when a commit succeeds
 * with room on the disk again (store_space_low false), and the writer simply
 * tries each next batch, so it recovers by itself when space returns. STORE_MAP_FULL is not a failure: the
 * writer grows the map and redoes the batch from the start, so apply_cb must
 * be a pure function of (txn contents, request) and keep its outputs in the
 * request only (they are rewritten on the redo).
 *
 * Ticks. The writer also wakes every CET_EXPIRE_TICK_MS and, inside its
 * ordinary txns, calls tick_cb (holds expiry lives there). commit_cb runs
 * after every txn that is durable, abort_cb after every one that was aborted
 * (also before a redo after MDB_MAP_FULL): what a txn decided beyond LMDB
 * (the engine's seat counters) is applied there, in commit order.
 */
#ifndef STORE_WRITER_H
#define STORE_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/cet_err.h"
#include "store/store.h"

typedef struct store_writer store_writer_t;
typedef struct store_req store_req_t;
typedef struct store_mailbox store_mailbox_t;

/**
 * Runs on the writer thread inside the batch's write txn. Returns 0 (applied),
 * a cet_err_t (refused; must not have written), or an LMDB code or errno
 * code (storage failure: the whole batch is aborted).
 */
typedef int (*store_apply_cb)(store_txn_t *txn, store_t *st, store_req_t *req);
/** Runs on the mailbox owner's thread (store_mailbox_drain) once the request's fate is durable. */
typedef void (*store_done_cb)(store_req_t *req);

struct store_req {
    store_apply_cb apply_cb;
    store_done_cb done_cb;
    store_mailbox_t *mailbox;  /* where done_cb runs */
    void *arg;                 /* the submitter's */
    int status;                /* out: 0 or cet_err_t, set before done_cb */
    int result_rc;             /* out: why, when status is CET_E_STORAGE (the batch failed):
                                  STORE_NOSPACE for a full disk, else an LMDB code or errno */
    uint64_t batch_id;         /* out: commit batch that carried it */
    store_req_t *next_;        /* internal: mailbox list */
};

/**
 * The code to answer a completed request with: CET_E_STORAGE_FULL when its
 * batch failed for lack of space, else its status (0, a refusal, or
 * CET_E_STORAGE). Its batch failed (nothing of it applied) exactly when
 * status == CET_E_STORAGE.
 */
static inline cet_err_t store_req_err(const store_req_t *req)
{
    if (req->status == CET_E_STORAGE && req->result_rc == STORE_NOSPACE)
        return CET_E_STORAGE_FULL;
    return (cet_err_t)req->status;
}

/**
 * Wakes a mailbox's owner thread. Called on the writer thread, never the
 * owner's, when completions arrived on an empty mailbox. It must not block and
 * must not touch the requests: only make the owner call store_mailbox_drain
 * (net/: event_active on the core's event).
 */
typedef void (*store_notify_cb)(void *ctx);

/**
 * A completion mailbox for one owner thread; notify_cb(ctx) wakes it.
 * The owner frees it (store_mailbox_free) after the writer stopped; requests
 * delivered but never drained are dropped (not run, not freed).
 */
store_mailbox_t *store_mailbox_new(store_notify_cb notify_cb, void *ctx);
void store_mailbox_free(store_mailbox_t *mb);
/**
 * On the owner's thread: runs done_cb of every request delivered so far, in
 * the order the writer completed them (submission order per batch), and
 * returns how many. A done_cb may submit again. Lock-free.
 */
unsigned store_mailbox_drain(store_mailbox_t *mb);

typedef struct store_writer_hooks {
    /* Called once per txn before the requests (may write: expiry). Returns
     * 0 or an LMDB code or errno. May be NULL. */
    int (*tick_cb)(store_txn_t *txn, store_t *st, int64_t now_ms, void *ctx);
    /* After every txn committed / was aborted (writer thread), tick or not. */
    void (*commit_cb)(void *ctx);
    void (*abort_cb)(void *ctx);
    void *ctx;
} store_writer_hooks_t;

/*
 * Upper bounds, in nanoseconds, of the buckets of the commit and fsync
 * latency histograms (ascending); one more bucket holds the rest (+Inf).
 */
extern const uint64_t store_latency_bucket_ns[CET_COMMIT_LATENCY_BUCKETS_MAX];

/* A latency histogram: per-bucket counts (not cumulative) and their sum. */
typedef struct store_latency_hist {
    uint64_t bucket[CET_COMMIT_LATENCY_BUCKETS_MAX + 1]; /* [i]: <= bound i and > bound i-1 */
    uint64_t sum_ns;
} store_latency_hist_t;

/** The number of observations in h (the sum of its buckets). */
static inline uint64_t store_latency_count(const store_latency_hist_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i <= CET_COMMIT_LATENCY_BUCKETS_MAX; i++) n += h->bucket[i];
    return n;
}

typedef struct store_writer_stats {
    uint64_t batches;          /* committed txns */
    uint64_t requests;         /* requests completed */
    uint64_t failed_batches;   /* aborted txns */
    uint64_t map_grows;
    uint64_t full_batches;     /* aborted for lack of space (part of failed_batches) */
    bool full;                 /* the last batch found the disk full */
    uint64_t batch_hist[12];   /* sizes of committed non-empty batches: bucket i holds
                                  sizes < 2^i (last: rest) */
    uint64_t batch_sum;        /* requests in the batches of batch_hist (its sum) */
    uint64_t queue_depth;      /* now */
    /* Every committed txn that wrote (a tick that expired nothing does not):
     * store_commit_timed, from the start of the commit to durable (with
     * sync: the log record written and flushed, then LMDB's commit). */
    store_latency_hist_t commit;
    /* The commit log's fdatasync of each of those (store_commit_info_t.sync_ns);
     * empty when the store has no sync. */
    store_latency_hist_t fsync;
} store_writer_stats_t;

/** Starts the writer thread over st. hooks may be NULL. */
int store_writer_start(store_t *st, const store_writer_hooks_t *hooks, store_writer_t **out);
/**
 * Queues req (lock-free, bounded). Returns 0, or CET_E_OVERLOADED when the
 * queue holds CET_COMMIT_QUEUE_MAX requests, or CET_E_DRAINING after stop:
 * then done_cb will not be called and req is the caller's again.
 */
int store_writer_submit(store_writer_t *w, store_req_t *req);
/** Wakes the writer to run its tick now (tests, SIGTERM). */
void store_writer_kick(store_writer_t *w);
/**
 * Stops accepting, commits everything queued, delivers it, and joins the
 * thread. Mailboxes must stay alive until their loops ran the completions.
 */
void store_writer_stop(store_writer_t *w);
/**
 * A snapshot of the writer's counters, from any thread (relaxed atomic
 * loads, no lock: each counter is exact, two counters may be one batch apart).
 */
void store_writer_stats(store_writer_t *w, store_writer_stats_t *out);

#endif
