#include "engine/eng_seats.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <xxhash.h>

#include "base/cet_base.h"
#include "base/cet_limits.h"

_Static_assert((CET_SEAT_INDEX_SLOTS & (CET_SEAT_INDEX_SLOTS - 1)) == 0, "index must be a power of two");

typedef struct seat_counter {
    uint32_t campus;
    char subject;
    _Atomic uint32_t capacity;
    _Atomic int64_t left; /* signed so a give racing a capacity cut cannot wrap */
} seat_counter_t;

/* A change a txn decided, applied after its commit: a give (capacity 0 unused) or a capacity. */
typedef struct seat_change {
    int32_t slot;
    bool is_capacity;
    uint32_t capacity;
} seat_change_t;

struct eng_seats {
    seat_counter_t *counters;
    _Atomic int n;
    _Atomic int32_t *index; /* slot + 1, 0 = empty */
    seat_change_t *pending; /* writer thread: CET_SEAT_CHANGES_MAX */
    int n_pending;
};

static uint64_t offer_hash(uint32_t campus, char subject)
{
    uint8_t k[5];
    store_offer_key(k, campus, subject);
    return XXH3_64bits(k, sizeof k);
}

eng_seats_t *eng_seats_new(void)
{
    eng_seats_t *s = cet_calloc(1, sizeof *s);
    s->counters = cet_calloc(CET_OFFERS_MAX, sizeof *s->counters);
    s->index = cet_calloc(CET_SEAT_INDEX_SLOTS, sizeof *s->index);
    s->pending = cet_calloc(CET_SEAT_CHANGES_MAX, sizeof *s->pending);
    return s;
}

void eng_seats_free(eng_seats_t *s)
{
    if (!s) return;
    cet_free(s->counters);
    cet_free((void *)s->index);
    cet_free(s->pending);
    cet_free(s);
}

int eng_seats_slot(const eng_seats_t *s, uint32_t campus, char subject)
{
    uint64_t h = offer_hash(campus, subject);
    for (uint32_t i = 0; i < CET_SEAT_INDEX_SLOTS; i++) {
        int32_t v = atomic_load_explicit(&s->index[(h + i) & (CET_SEAT_INDEX_SLOTS - 1)],
                                         memory_order_acquire);
        if (v == 0) return -1;
        const seat_counter_t *c = &s->counters[v - 1];
        if (c->campus == campus && c->subject == subject) return v - 1;
    }
    return -1;
}

int eng_seats_add(eng_seats_t *s, uint32_t campus, char subject, uint32_t capacity,
                  uint32_t taken)
{
    int slot = eng_seats_slot(s, campus, subject);
    if (slot >= 0) {
        eng_seats_set_capacity(s, slot, capacity);
        return slot;
    }
    int n = atomic_load(&s->n);
    if (n >= CET_OFFERS_MAX) return -1;
    seat_counter_t *c = &s->counters[n];
    c->campus = campus;
    c->subject = subject;
    atomic_store(&c->capacity, capacity);
    atomic_store(&c->left, taken >= capacity ? 0 : (int64_t)(capacity - taken));
    atomic_store(&s->n, n + 1);
    uint64_t h = offer_hash(campus, subject);
    for (uint32_t i = 0;; i++) {
        _Atomic int32_t *p = &s->index[(h + i) & (CET_SEAT_INDEX_SLOTS - 1)];
        if (atomic_load_explicit(p, memory_order_relaxed) == 0) {
            atomic_store_explicit(p, n + 1, memory_order_release);
            return n;
        }
    }
}

void eng_seats_set_capacity(eng_seats_t *s, int slot, uint32_t capacity)
{
    seat_counter_t *c = &s->counters[slot];
    uint32_t old = atomic_exchange(&c->capacity, capacity);
    int64_t delta = (int64_t)capacity - (int64_t)old;
    int64_t left = atomic_load(&c->left);
    int64_t next;
    do {
        next = left + delta; /* below 0 after a cut: holds over capacity must go first */
    } while (!atomic_compare_exchange_weak(&c->left, &left, next));
}

static void check_slot(const eng_seats_t *s, int slot, const char *what)
{
    CET_ASSERT_INFO(slot >= 0 && slot < atomic_load(&s->n), "%s: slot %d of %d offers", what, slot,
                    atomic_load(&s->n));
}

bool eng_seats_take(eng_seats_t *s, int slot)
{
    check_slot(s, slot, "seat take");
    seat_counter_t *c = &s->counters[slot];
    int64_t left = atomic_load_explicit(&c->left, memory_order_relaxed);
    while (left > 0) {
        if (atomic_compare_exchange_weak_explicit(&c->left, &left, left - 1,
                                                  memory_order_acq_rel, memory_order_relaxed))
            return true;
    }
    return false;
}

void eng_seats_give(eng_seats_t *s, int slot)
{
    check_slot(s, slot, "seat give back");
    seat_counter_t *c = &s->counters[slot];
    int64_t left = atomic_load_explicit(&c->left, memory_order_relaxed);
    for (;;) {
        int64_t cap = (int64_t)atomic_load_explicit(&c->capacity, memory_order_relaxed);
        if (left >= cap) return; /* capacity was cut meanwhile: the seat is gone */
        if (atomic_compare_exchange_weak_explicit(&c->left, &left, left + 1,
                                                  memory_order_acq_rel, memory_order_relaxed))
            return;
    }
}

uint32_t eng_seats_left(const eng_seats_t *s, int slot)
{
    int64_t v = atomic_load_explicit(&s->counters[slot].left, memory_order_relaxed);
    return v < 0 ? 0 : (uint32_t)v;
}

uint32_t eng_seats_capacity(const eng_seats_t *s, int slot)
{
    return atomic_load_explicit(&s->counters[slot].capacity, memory_order_relaxed);
}

int64_t eng_seats_taken(const eng_seats_t *s, int slot)
{
    const seat_counter_t *c = &s->counters[slot];
    return (int64_t)atomic_load(&c->capacity) - atomic_load(&c->left);
}

/* ---- after-commit changes ---- */
static void defer(eng_seats_t *s, int slot, bool is_capacity, uint32_t capacity)
{
    check_slot(s, slot, "seat change");
    CET_ASSERT_INFO(s->n_pending < CET_SEAT_CHANGES_MAX, "%d seat changes pending in one txn",
                    s->n_pending);
    s->pending[s->n_pending++] = (seat_change_t){slot, is_capacity, capacity};
}

void eng_seats_defer_give(eng_seats_t *s, int slot)
{
    defer(s, slot, false, 0);
}

void eng_seats_defer_capacity(eng_seats_t *s, int slot, uint32_t capacity)
{
    defer(s, slot, true, capacity);
}

void eng_seats_commit(eng_seats_t *s)
{
    for (int i = 0; i < s->n_pending; i++) {
        const seat_change_t *ch = &s->pending[i];
        if (ch->is_capacity) {
            eng_seats_set_capacity(s, ch->slot, ch->capacity);
            continue;
        }
        /* a seat given back was taken: never more back than the offer has */
        CET_ASSERT_INFO(eng_seats_taken(s, ch->slot) > 0,
                        "seat give back: offer %06u/%c has capacity %u, %lld left",
                        s->counters[ch->slot].campus, s->counters[ch->slot].subject,
                        eng_seats_capacity(s, ch->slot),
                        (long long)atomic_load(&s->counters[ch->slot].left));
        eng_seats_give(s, ch->slot);
    }
    s->n_pending = 0;
}

void eng_seats_discard(eng_seats_t *s)
{
    s->n_pending = 0;
}

/* ---- the live count in LMDB ---- */
static void live_key(uint8_t k[ENG_SEATS_LIVE_KEY_BYTES], uint32_t campus, char subject)
{
    memcpy(k, "live", 4);
    store_offer_key(k + 4, campus, subject);
}

int eng_seats_live_get(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                       uint32_t *live)
{
    uint8_t k[ENG_SEATS_LIVE_KEY_BYTES], v[4];
    live_key(k, campus, subject);
    size_t len = 0;
    int rc = store_get_raw(txn, st, STORE_DB_META, k, sizeof k, v, sizeof v, &len);
    if (rc == STORE_NOTFOUND) {
        *live = 0;
        return 0;
    }
    if (rc) return rc;
    if (len != sizeof v) return STORE_CORRUPT;
    *live = store_rd32(v);
    return 0;
}

int eng_seats_live_put(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                       uint32_t live)
{
    uint8_t k[ENG_SEATS_LIVE_KEY_BYTES], v[4];
    live_key(k, campus, subject);
    store_be32(v, live);
    return store_put_raw(txn, st, STORE_DB_META, k, sizeof k, v, sizeof v, 0);
}

int eng_seats_live_rebuild(const eng_seats_t *s, store_txn_t *txn, const store_t *st)
{
    int n = eng_seats_count(s);
    for (int i = 0; i < n; i++) {
        const seat_counter_t *c = &s->counters[i];
        int64_t live = eng_seats_taken(s, i);
        CET_ASSERT_INFO(live >= 0 && live <= (int64_t)eng_seats_capacity(s, i),
                        "load: offer %06u/%c has %lld live registrations, capacity %u",
                        c->campus, c->subject, (long long)live, eng_seats_capacity(s, i));
        int rc = eng_seats_live_put(txn, st, c->campus, c->subject, (uint32_t)live);
        if (rc) return rc;
    }
    return 0;
}

int eng_seats_count(const eng_seats_t *s)
{
    return atomic_load(&s->n);
}

void eng_seats_offer(const eng_seats_t *s, int slot, uint32_t *campus, char *subject)
{
    *campus = s->counters[slot].campus;
    *subject = s->counters[slot].subject;
}

/* ---- rebuild from LMDB ---- */
typedef struct load_ctx {
    eng_seats_t *s;
    const store_t *st;
    store_txn_t *txn;
    uint32_t *taken; /* per slot */
} load_ctx_t;

static int load_offer_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    load_ctx_t *l = arg;
    (void)key;
    (void)klen;
    if (vlen != sizeof(store_offer_t)) return STORE_CORRUPT;
    store_offer_t o;
    memcpy(&o, val, sizeof o);
    return eng_seats_add(l->s, o.campus, o.subject, o.capacity, 0) < 0 ? STORE_BADARG : 0;
}

static int load_reg_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    load_ctx_t *l = arg;
    (void)key;
    (void)klen;
    if (vlen != sizeof(store_reg_t)) return STORE_CORRUPT;
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    int slot = eng_seats_slot(l->s, r.campus, r.subject);
    if (slot >= 0) l->taken[slot]++;
    return 0;
}

int eng_seats_load(eng_seats_t *s, store_txn_t *txn, const store_t *st)
{
    load_ctx_t l = {s, st, txn, NULL};
    int rc = store_scan(txn, st, STORE_DB_OFFER, NULL, 0, load_offer_cb, &l);
    if (rc) return rc;
    int n = eng_seats_count(s);
    l.taken = cet_calloc((size_t)n + 1, sizeof *l.taken);
    rc = store_scan(txn, st, STORE_DB_REG, NULL, 0, load_reg_cb, &l);
    if (rc == 0) {
        for (int i = 0; i < n; i++) {
            uint32_t cap = eng_seats_capacity(s, i);
            /* negative when a capacity was cut below what is taken: the next
             * seats given back only pay off that deficit */
            atomic_store(&s->counters[i].left, (int64_t)cap - (int64_t)l.taken[i]);
        }
    }
    cet_free(l.taken);
    return rc;
}
