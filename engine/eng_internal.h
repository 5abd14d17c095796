/* eng_internal.h: the engine's private state, shared by eng.c and eng_ops.c. */
#ifndef ENG_INTERNAL_H
#define ENG_INTERNAL_H

#include <stdatomic.h>

#include "engine/eng.h"

#define ENG_SUBJECT_ENGLISH4 '1'
#define ENG_SUBJECT_ENGLISH6 '2'

typedef struct eng_atomic_stats {
    _Atomic uint64_t holds_expired, candidates_deleted, orders_expired, notices, notices_refund;
    _Atomic uint64_t registrations, cancellations, payments;
} eng_atomic_stats_t;

struct eng {
    store_t *st;
    eng_options_t opt;
    eng_seats_t *seats;
    store_writer_t *writer;
    eng_atomic_stats_t stats;
    /* writer-thread state of the current tick */
    void *tick_walk;
    int *tick_released;
    int tick_n_released;
    struct {
        uint64_t holds_expired, candidates_deleted, orders_expired;
    } tick_counts;
    struct eng_tickets_index *tickets_index; /* registrations by offer (eng_tickets.c), writer's */
    /* where the sweep of expired sessions and idempotency records resumes */
    bool sweep_idem;
    uint8_t sweep_key[64];
    size_t sweep_klen;
};

/* Expiry handlers (eng_ops.c), run by the tick inside the writer's txn. */
int eng_expire_hold(eng_t *e, store_txn_t *txn, uint32_t roster_no, char subject, int64_t due,
                    int64_t now);
int eng_expire_candidate(eng_t *e, store_txn_t *txn, uint32_t roster_no, int64_t due);
int eng_expire_order(eng_t *e, store_txn_t *txn, uint32_t order_id, int64_t due, int64_t now);
typedef struct eng_tickets_index eng_tickets_index_t;
/** Frees the arrangement's index (eng_close). */
void eng_tickets_index_free(eng_tickets_index_t *x);
/** Queues a seat to give back when the tick's txn commits. */
void eng_tick_release(eng_t *e, uint32_t campus, char subject);

#endif
