/*
 * store_regidx.c: the candidate -> registrations index (see store_regidx.h).
 */
#include "store/store_regidx.h"

#include <string.h>

#include "base/cet_base.h"

typedef struct regidx_slot {
    _Atomic uint32_t ver; /* odd while the writer changes the slot */
    uint32_t pad_;
    _Atomic uint64_t e[CET_CANDIDATE_REGS_MAX];
} regidx_slot_t;

_Static_assert(sizeof(regidx_slot_t) == 64, "one cache line per candidate");

/* The overlay of the write txn in progress: open addressing on roster_no. */
typedef struct overlay_entry {
    uint32_t roster_no; /* 0 = free (roster numbers start at 1) */
    store_regidx_row_t row;
} overlay_entry_t;

struct store_regidx {
    _Atomic(regidx_slot_t *) chunks[CET_REGIDX_CHUNKS_MAX];
    overlay_entry_t *ov;
    size_t ov_cap, ov_n; /* ov_cap a power of two */
    /* the positions in ov of its ov_n entries, in the order they were made:
     * publish and discard touch those, not the whole table (256 KiB) */
    uint32_t *ov_used;
};

store_regidx_t *store_regidx_new(void)
{
    store_regidx_t *ix = cet_calloc(1, sizeof *ix);
    ix->ov_cap = 4096;
    ix->ov = cet_calloc(ix->ov_cap, sizeof *ix->ov);
    ix->ov_used = cet_calloc(ix->ov_cap / 2, sizeof *ix->ov_used);
    return ix;
}

void store_regidx_free(store_regidx_t *ix)
{
    if (!ix) return;
    for (size_t i = 0; i < CET_REGIDX_CHUNKS_MAX; i++) cet_free(atomic_load(&ix->chunks[i]));
    cet_free(ix->ov);
    cet_free(ix->ov_used);
    cet_free(ix);
}

static regidx_slot_t *slot_of(store_regidx_t *ix, uint32_t no, bool create)
{
    size_t c = no / CET_REGIDX_CHUNK_SLOTS;
    if (c >= CET_REGIDX_CHUNKS_MAX) return NULL;
    regidx_slot_t *chunk = atomic_load_explicit(&ix->chunks[c], memory_order_acquire);
    if (!chunk && create) {
        /* only the writing thread creates chunks: no race between creators */
        chunk = cet_calloc(CET_REGIDX_CHUNK_SLOTS, sizeof *chunk);
        atomic_store_explicit(&ix->chunks[c], chunk, memory_order_release);
    }
    return chunk ? &chunk[no % CET_REGIDX_CHUNK_SLOTS] : NULL;
}

static void slot_read(regidx_slot_t *s, store_regidx_row_t *out)
{
    for (;;) {
        uint32_t v1 = atomic_load_explicit(&s->ver, memory_order_acquire);
        if (v1 & 1) continue; /* the writer is in the middle of it: a few ns */
        for (int i = 0; i < CET_CANDIDATE_REGS_MAX; i++)
            out->e[i] = atomic_load_explicit(&s->e[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->ver, memory_order_relaxed) == v1) return;
    }
}

static void slot_write(regidx_slot_t *s, const store_regidx_row_t *row)
{
    uint32_t v = atomic_load_explicit(&s->ver, memory_order_relaxed);
    atomic_store_explicit(&s->ver, v + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (int i = 0; i < CET_CANDIDATE_REGS_MAX; i++)
        atomic_store_explicit(&s->e[i], row->e[i], memory_order_relaxed);
    atomic_store_explicit(&s->ver, v + 2, memory_order_release);
}

static overlay_entry_t *ov_find(store_regidx_t *ix, uint32_t no, bool insert)
{
    size_t mask = ix->ov_cap - 1;
    for (size_t i = (no * 2654435761u) & mask;; i = (i + 1) & mask) {
        overlay_entry_t *o = &ix->ov[i];
        if (o->roster_no == no) return o;
        if (o->roster_no == 0) {
            if (!insert) return NULL;
            if (2 * (ix->ov_n + 1) > ix->ov_cap) {
                /* keep it at most half full: double and rehash (in the order
                 * the entries were made, so publish keeps that order) */
                overlay_entry_t *old = ix->ov;
                uint32_t *old_used = ix->ov_used;
                size_t n = ix->ov_n;
                ix->ov_cap *= 2;
                ix->ov = cet_calloc(ix->ov_cap, sizeof *ix->ov);
                ix->ov_used = cet_calloc(ix->ov_cap / 2, sizeof *ix->ov_used);
                ix->ov_n = 0;
                for (size_t k = 0; k < n; k++) {
                    const overlay_entry_t *e = &old[old_used[k]];
                    ov_find(ix, e->roster_no, true)->row = e->row;
                }
                cet_free(old);
                cet_free(old_used);
                return ov_find(ix, no, true);
            }
            o->roster_no = no;
            ix->ov_used[ix->ov_n++] = (uint32_t)i;
            regidx_slot_t *s = slot_of(ix, no, false);
            if (s)
                slot_read(s, &o->row);
            else
                memset(&o->row, 0, sizeof o->row);
            return o;
        }
    }
}

void store_regidx_read(store_regidx_t *ix, uint32_t no, bool writer, store_regidx_row_t *out)
{
    if (writer && ix->ov_n) {
        overlay_entry_t *o = ov_find(ix, no, false);
        if (o) {
            *out = o->row;
            return;
        }
    }
    regidx_slot_t *s = slot_of(ix, no, false);
    if (s)
        slot_read(s, out);
    else
        memset(out, 0, sizeof *out);
}

static int row_set(store_regidx_row_t *row, char subject, uint64_t seq)
{
    int free_at = -1;
    for (int i = 0; i < CET_CANDIDATE_REGS_MAX; i++) {
        if (row->e[i] && store_regidx_subject(row->e[i]) == subject) {
            row->e[i] = seq ? (seq << 8 | (uint8_t)subject) : 0;
            return 0;
        }
        if (!row->e[i] && free_at < 0) free_at = i;
    }
    if (!seq) return 0;
    if (free_at < 0) return -1;
    row->e[free_at] = seq << 8 | (uint8_t)subject;
    return 0;
}

int store_regidx_set(store_regidx_t *ix, uint32_t no, char subject, uint64_t seq)
{
    overlay_entry_t *o = ov_find(ix, no, true);
    return row_set(&o->row, subject, seq);
}

void store_regidx_publish(store_regidx_t *ix)
{
    for (size_t k = 0; k < ix->ov_n; k++) {
        overlay_entry_t *o = &ix->ov[ix->ov_used[k]];
        regidx_slot_t *s = slot_of(ix, o->roster_no, true);
        if (s) slot_write(s, &o->row);
        o->roster_no = 0;
    }
    ix->ov_n = 0;
}

void store_regidx_discard(store_regidx_t *ix)
{
    for (size_t k = 0; k < ix->ov_n; k++) ix->ov[ix->ov_used[k]].roster_no = 0;
    ix->ov_n = 0;
}

int store_regidx_load(store_regidx_t *ix, uint32_t no, char subject, uint64_t seq)
{
    regidx_slot_t *s = slot_of(ix, no, true);
    if (!s) return -1;
    store_regidx_row_t row;
    slot_read(s, &row);
    if (row_set(&row, subject, seq) != 0) return -1;
    slot_write(s, &row);
    return 0;
}
