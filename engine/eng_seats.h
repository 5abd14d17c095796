/*
 * eng_seats.h: the seat ledger: the in-memory seat counter of every
 * campus-subject offer, and the live count per offer in LMDB that is its truth.
 *
 * The truth is on disk: every write txn that adds or removes a registration
 * moves the offer's live count (eng_seats_live_*) in the same txn, and a
 * registration is written only while live < capacity there; a capacity below
 * live is refused. The counter is the fast path in front of it: one C11
 * atomic per offer holds the seats left, and the engine takes a seat with a
 * CAS loop that never goes below zero before it queues a registration, so a
 * full offer is refused without touching the writer.
 *
 * Who moves the counter:
 * - eng_submit takes a seat for a new registration (core thread);
 * - everything a committed txn decided reaches the counter after the commit,
 *   in commit order, on the writer thread: the seat of a refused registration
 *   comes back, cancelled and expired registrations give theirs back, a new
 *   capacity moves the seats left by the difference. The writer records them
 *   with eng_seats_defer_* while it applies and eng_seats_commit applies them
 *   after the fsync (eng_seats_discard drops them when the txn is aborted);
 * - a registration that never reached a committed txn (the batch failed, the
 *   queue was full) gives its seat back from its completion.
 * At start the counters and the live counts are rebuilt from the
 * registrations as capacity minus live, the invariant `cetctl check` verifies.
 *
 * Thread safety: lookups, take, give and left are lock-free from any thread.
 * eng_seats_add, eng_seats_set_capacity and everything eng_seats_defer_*,
 * _commit and _discard touch are for one thread at a time (the writer),
 * concurrent with readers.
 */
#ifndef ENG_SEATS_H
#define ENG_SEATS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct eng_seats eng_seats_t;

/* LMDB meta key of an offer's live count: "live" ‖ campus (u32 BE) ‖ subject. */
#define ENG_SEATS_LIVE_KEY_BYTES 9

/** An empty table for up to CET_OFFERS_MAX offers. */
eng_seats_t *eng_seats_new(void);
void eng_seats_free(eng_seats_t *s);
/**
 * Rebuilds every counter from txn: capacity of each offer minus the number of
 * registrations on it. Returns 0 or a store error. An offer over capacity (a
 * capacity lowered below what is taken) keeps the deficit inside, so seats
 * given back pay it off before any can be taken again; it reads as 0 left.
 */
int eng_seats_load(eng_seats_t *s, store_txn_t *txn, const store_t *st);
/** Slot of an offer, or -1 if unknown. */
int eng_seats_slot(const eng_seats_t *s, uint32_t campus, char subject);
/** Adds an offer (or updates its capacity); returns its slot or -1 when the table is full. */
int eng_seats_add(eng_seats_t *s, uint32_t campus, char subject, uint32_t capacity,
                  uint32_t taken);
/** Changes an offer's capacity; the seats left move by the difference (a deficit is kept). */
void eng_seats_set_capacity(eng_seats_t *s, int slot, uint32_t capacity);
/** Takes one seat: true if one was left (and is now taken). */
bool eng_seats_take(eng_seats_t *s, int slot);
/** Gives one seat back (never above capacity). */
void eng_seats_give(eng_seats_t *s, int slot);
/** Seats left now, and the offer's capacity. */
uint32_t eng_seats_left(const eng_seats_t *s, int slot);
uint32_t eng_seats_capacity(const eng_seats_t *s, int slot);
/** Seats taken (capacity minus left; above capacity when a counter is in deficit). */
int64_t eng_seats_taken(const eng_seats_t *s, int slot);

/* ---- after-commit changes (writer thread only) ---- */
/** After the commit: one seat of slot comes back (a refused or removed registration). */
void eng_seats_defer_give(eng_seats_t *s, int slot);
/** After the commit: slot's capacity becomes capacity (seats left move by the difference). */
void eng_seats_defer_capacity(eng_seats_t *s, int slot, uint32_t capacity);
/** Applies the deferred changes in the order they were made (the txn committed). */
void eng_seats_commit(eng_seats_t *s);
/** Drops them (the txn was aborted: nothing of it happened). */
void eng_seats_discard(eng_seats_t *s);

/* ---- the live count in LMDB (writer txn, or any txn to read) ---- */
/** Live registrations of an offer as txn sees them (0 when none were ever counted). */
int eng_seats_live_get(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                       uint32_t *live);
/** Sets it (in the txn that adds or removes the registration). */
int eng_seats_live_put(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                       uint32_t live);
/**
 * Writes every offer's live count from the counters just loaded (start, before
 * the writer runs, in txn), asserting live <= capacity for each.
 */
int eng_seats_live_rebuild(const eng_seats_t *s, store_txn_t *txn, const store_t *st);

/** Number of offers, and the offer at slot i (for /metrics). */
int eng_seats_count(const eng_seats_t *s);
void eng_seats_offer(const eng_seats_t *s, int slot, uint32_t *campus, char *subject);

#endif
