/*
 * eng_internal.h: the engine's private state and the calls between its files,
 * which go one way only:
 *
 *   eng.c (start, stop, the expiry tick)
 *     -> eng_ops.c (every write; the expiry handlers below)
 *          -> eng_tickets.c (ENG_OP_TICKETS: rooms, arrangement)  -> eng_arrange.c (pure seating)
 *          -> eng_rules.c (phase, qualification, names: pure)  -> eng_seats.c (the ledger)
 *
 * eng_ops.c never calls into eng.c, eng_tickets.c into neither (eng.c only frees its
 * index), and eng_rules.c, eng_seats.c and eng_arrange.c into none of them.
 */
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
    struct {
        uint64_t holds_expired, candidates_deleted, orders_expired;
    } tick_counts;
    struct eng_tickets_index *tickets_index; /* registrations by offer (eng_tickets.c), writer's */
    /* where the sweep of expired sessions and idempotency records resumes */
    bool sweep_idem;
    uint8_t sweep_key[64];
    size_t sweep_klen;
};

/* Expiry handlers (eng_ops.c), called by eng.c's tick inside the writer's txn. */
/* seq: the registration's sequence (the hold entry's id); subject: the entry's */
int eng_expire_hold(eng_t *e, store_txn_t *txn, uint64_t seq, char subject, int64_t due,
                    int64_t now);
int eng_expire_candidate(eng_t *e, store_txn_t *txn, uint32_t roster_no, int64_t due);
int eng_expire_order(eng_t *e, store_txn_t *txn, uint64_t order_id, int64_t due, int64_t now);
/**
 * Removes a registration inside the writer's txn: the record, its hold, one
 * off the offer's live count, and its seat given back after the commit.
 */
int eng_reg_remove(eng_t *e, store_txn_t *txn, const store_reg_t *reg);

/* A store lookup's rc as an apply's: absent is the refusal notfound; 0 and
 * storage codes pass through (base/cet_err.h). */
static inline int eng_lookup_rc(int rc, cet_err_t notfound)
{
    return rc == STORE_NOTFOUND ? (int)notfound : rc;
}
/**
 * Whether a staff op's scope covers school_code (writer thread, inside the txn):
 * 0, or CET_E_FORBIDDEN for another school, a school outside the province, or
 * support staff (account matters only); a storage code on a failed read.
 */
int eng_staff_scope_ok(eng_op_t *op, store_txn_t *txn, uint32_t school_code);

/* The admission tickets' writer side (eng_tickets.c; ENG_OP_TICKETS is dispatched by eng_ops.c). */
typedef struct eng_tickets_index eng_tickets_index_t;
/** Frees the arrangement's index of registrations by offer (eng_close). */
void eng_tickets_index_free(eng_tickets_index_t *x);
/*
 * The account lifecycle (eng_account.c): the applies of ENG_OP_RESET_REQUEST,
 * _RESET_CONFIRM, _PASSWORD_CHANGE and _STAFF_REBIND, and the notice mail of
 * an email change. Writer thread, inside the batch's txn; same contract as
 * every apply (0, a cet_err_t with its answer set, or a storage code).
 */
int eng_account_apply(eng_op_t *op, store_txn_t *txn);
/** Queues the notice to old_email that the account's email is now new_email. */
int eng_account_mail_email_changed(eng_t *e, store_txn_t *txn, const char *old_email,
                                   const char *new_email, int64_t now);

#endif
