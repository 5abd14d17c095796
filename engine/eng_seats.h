/*
 * eng_seats.h: the in-memory seat counter of every campus-subject offer.
 *
 * One C11 atomic per offer holds the seats left. Core threads take a seat with
 * a CAS loop that never goes below zero before they queue a registration, so a
 * full offer is refused without touching the writer; whoever took a seat gives
 * it back if the writer refuses or fails the registration, and the writer gives
 * seats back when holds expire or registrations are cancelled. At start the
 * counters are rebuilt from LMDB as capacity minus live registrations, which is
 * the invariant `cetctl check` and the tests verify.
 *
 * Thread safety: lookups, take, give and left are lock-free from any thread.
 * eng_seats_add (a new offer) and eng_seats_set_capacity are for one thread at
 * a time (the writer), concurrent with readers.
 */
#ifndef ENG_SEATS_H
#define ENG_SEATS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct eng_seats eng_seats_t;

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
/** Number of offers, and the offer at slot i (for /metrics). */
int eng_seats_count(const eng_seats_t *s);
void eng_seats_offer(const eng_seats_t *s, int slot, uint32_t *campus, char *subject);

#endif
