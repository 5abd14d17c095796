/*
 * store_regidx.h (internal to store/): the in-memory index from a candidate
 * (roster_no) to its registrations' keys in the `reg` database.
 *
 * Why: registrations are keyed by a commit sequence so that every new one
 * lands on the tail page of the B-tree (one random page per registration was
 * what bounded durable writes per second). Looking them up by candidate then
 * needs this index, rebuilt from the `reg` database at every open, like the
 * seat counters.
 *
 * Concurrency. One slot per roster_no: a seqlock version and CET_CANDIDATE_REGS_MAX
 * packed entries ((seq << 8) | subject, 0 = empty), all C11 atomics. Readers
 * on any thread never block. Changes of a write txn go to an overlay that
 * only the writing thread sees; they are published to the slots after the
 * txn committed (store_commit) and dropped when it aborts, so the index never
 * shows what LMDB does not have.
 */
#ifndef STORE_REGIDX_H
#define STORE_REGIDX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cet_limits.h"

typedef struct store_regidx store_regidx_t;

/** One candidate's registrations: entries (seq << 8 | subject), unordered, 0 = free. */
typedef struct store_regidx_row {
    uint64_t e[CET_CANDIDATE_REGS_MAX];
} store_regidx_row_t;

store_regidx_t *store_regidx_new(void);
void store_regidx_free(store_regidx_t *ix);

/**
 * Reads the row of roster_no as the writing thread sees it inside its txn
 * (overlay first) when writer is true, else as committed (any thread).
 */
void store_regidx_read(store_regidx_t *ix, uint32_t roster_no, bool writer,
                       store_regidx_row_t *out);
/**
 * Changes a row inside the current write txn (writing thread only): sets the
 * entry of subject to seq, or removes it when seq is 0. Returns 0, or -1 when
 * the candidate already holds CET_CANDIDATE_REGS_MAX registrations.
 */
int store_regidx_set(store_regidx_t *ix, uint32_t roster_no, char subject, uint64_t seq);
/** Publishes the overlay (after a commit) or drops it (after an abort). */
void store_regidx_publish(store_regidx_t *ix);
void store_regidx_discard(store_regidx_t *ix);
/** Loads one committed entry directly (rebuild at open; no txn). */
int store_regidx_load(store_regidx_t *ix, uint32_t roster_no, char subject, uint64_t seq);

static inline uint64_t store_regidx_seq(uint64_t e)
{
    return e >> 8;
}
static inline char store_regidx_subject(uint64_t e)
{
    return (char)(e & 0xff);
}

#endif
