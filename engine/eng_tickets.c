/*
 * eng_tickets.c: admission tickets on the writer side: the arrangement of a
 * campus-subject (eng_arrange.h does the seating; this file reads the paid
 * registrations and the rooms in the writer's txn and writes every seat back
 * in that same txn) and the rooms of a campus. Contract in eng.h, "admission
 * tickets"; the design in docs/admission-tickets.md.
 */
#include <stdio.h>
#include <string.h>

#include "base/cet_base.h"
#include "engine/eng_arrange.h"
#include "engine/eng_internal.h"

/*
 * The writer's index of registrations by offer. `reg` is keyed by sequence
 * and has no index by campus-subject (it is kept append-only for the
 * opening's sake, docs/storage.md), so without this every arrangement scans
 * every registration. The index remembers, per campus-subject, the sequence
 * numbers it saw in COMMITTED data (read through a read txn of the writer
 * thread, so nothing of a txn that may still abort gets in) up to
 * `scanned_to`; each arrangement first extends it with what was committed
 * since, then, in the write txn, adds the tail beyond `scanned_to` (this
 * batch's own registrations) and reads each candidate record by key,
 * keeping only those still there with that campus and subject. Sequence
 * numbers only grow while a process runs, so a committed one never names
 * another registration later; a deleted one is just not found.
 * Writer thread only (it lives in eng_t, freed by eng_close).
 */
typedef struct tk_offer_seqs {
    uint64_t key; /* campus << 8 | subject; 0 = empty slot */
    uint64_t *seqs;
    uint32_t n, cap;
} tk_offer_seqs_t;

struct eng_tickets_index {
    tk_offer_seqs_t *slots;
    size_t cap, used; /* cap a power of two, at most half used */
    uint64_t scanned_to;
};

static uint64_t offer_key(uint32_t campus, char subject)
{
    return (uint64_t)campus << 8 | (uint8_t)subject;
}

static tk_offer_seqs_t *index_slot(eng_tickets_index_t *x, uint64_t key, bool add)
{
    if (add && (x->used + 1) * 2 > x->cap) {
        eng_tickets_index_t bigger = {.cap = x->cap ? x->cap * 2 : 1024};
        bigger.slots = cet_calloc(bigger.cap, sizeof *bigger.slots);
        for (size_t i = 0; i < x->cap; i++) {
            if (!x->slots[i].key) continue;
            size_t j = (size_t)(x->slots[i].key * 0x9e3779b97f4a7c15ull) & (bigger.cap - 1);
            while (bigger.slots[j].key)
                j = (j + 1) & (bigger.cap - 1);
            bigger.slots[j] = x->slots[i];
        }
        cet_free(x->slots);
        x->slots = bigger.slots;
        x->cap = bigger.cap;
    }
    if (!x->cap) return NULL;
    for (size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull) & (x->cap - 1);;
         i = (i + 1) & (x->cap - 1)) {
        tk_offer_seqs_t *s = &x->slots[i];
        if (s->key == key) return s;
        if (!s->key) {
            if (!add) return NULL;
            s->key = key;
            x->used++;
            return s;
        }
    }
}

static void seqs_push(tk_offer_seqs_t *s, uint64_t seq)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        uint64_t *m = cet_malloc(s->cap * sizeof *m);
        if (s->n) memcpy(m, s->seqs, s->n * sizeof *m);
        cet_free(s->seqs);
        s->seqs = m;
    }
    s->seqs[s->n++] = seq;
}

void eng_tickets_index_free(eng_tickets_index_t *x)
{
    if (!x) return;
    for (size_t i = 0; i < x->cap; i++)
        cet_free(x->slots[i].seqs);
    cet_free(x->slots);
    cet_free(x);
}

static int index_add_cb(const store_reg_t *r, void *arg)
{
    eng_tickets_index_t *x = arg;
    seqs_push(index_slot(x, offer_key(r->campus, r->subject), true), r->seq);
    if (r->seq > x->scanned_to) x->scanned_to = r->seq;
    return CET_OK;
}

/* Brings the index up to what is committed (a read txn of the calling thread). */
static int index_catch_up(eng_tickets_index_t *x, store_t *st)
{
    store_txn_t *rtxn;
    int rc = store_read_begin(st, &rtxn);
    if (rc) return rc;
    rc = store_regs_from(rtxn, st, x->scanned_to + 1, index_add_cb, x);
    store_abort(rtxn);
    return rc;
}

/* What one paid registration brings to the arrangement. */
typedef struct tk_reg {
    store_reg_t rec;
    char key[CET_ID_NUMBER_BYTES];
    char department[CET_TEXT_BYTES];
    char class_name[CET_SHORT_BYTES];
    uint32_t school;
} tk_reg_t;

typedef struct tk_collect {
    tk_reg_t *regs;
    size_t n, cap;
} tk_collect_t;

static int collect_cb(const store_reg_t *r, void *arg)
{
    tk_collect_t *c = arg;
    if (!(r->flags & STORE_REG_PAID)) return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        tk_reg_t *m = cet_malloc(cap * sizeof *m);
        if (c->n) memcpy(m, c->regs, c->n * sizeof *m);
        cet_free(c->regs);
        c->regs = m;
        c->cap = cap;
    }
    tk_reg_t *t = &c->regs[c->n++];
    memset(t, 0, sizeof *t);
    t->rec = *r;
    return 0;
}

typedef struct tk_tail {
    uint32_t campus;
    char subject;
    tk_collect_t *c;
} tk_tail_t;

static int tail_cb(const store_reg_t *r, void *arg)
{
    tk_tail_t *t = arg;
    return r->campus == t->campus && r->subject == t->subject ? collect_cb(r, t->c) : CET_OK;
}

/*
 * The registrations of one offer, in sequence order: through the index
 * (committed ones, each re-read in txn) and the tail of txn beyond it, or
 * by a scan of everything when there is no index.
 */
static int offer_collect(store_txn_t *txn, store_t *st, eng_tickets_index_t *x, uint32_t campus,
                         char subject, tk_collect_t *c)
{
    if (!x) return store_regs_of_offer(txn, st, campus, subject, collect_cb, c);
    int rc = index_catch_up(x, st);
    if (rc) return rc;
    tk_offer_seqs_t *s = index_slot(x, offer_key(campus, subject), false);
    for (uint32_t i = 0; s && i < s->n; i++) {
        store_reg_t r;
        rc = store_reg_get_by_seq(txn, st, s->seqs[i], &r);
        if (rc == STORE_NOTFOUND) continue; /* expired or cancelled since */
        if (rc) return rc;
        if (r.campus != campus || r.subject != subject || r.seq != s->seqs[i]) continue;
        if ((rc = collect_cb(&r, c))) return rc;
    }
    tk_tail_t t = {campus, subject, c};
    return store_regs_from(txn, st, x->scanned_to + 1, tail_cb, &t);
}

/* The class key and the candidate key of each registration, from the bound snapshot. */
static int classes_read(store_txn_t *txn, const store_t *st, tk_collect_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        tk_reg_t *t = &c->regs[i];
        store_candidate_t cd;
        int rc = store_candidate_get(txn, st, t->rec.roster_no, &cd);
        if (rc == STORE_NOTFOUND) { /* cannot be while a registration exists; seat it anyway */
            snprintf(t->key, sizeof t->key, "#%u", t->rec.roster_no);
            continue;
        }
        if (rc) return rc;
        cet_strlcpy(t->key, cd.snapshot.id_number, sizeof t->key);
        cet_strlcpy(t->department, cd.snapshot.department, sizeof t->department);
        cet_strlcpy(t->class_name, cd.snapshot.class_name, sizeof t->class_name);
        t->school = cd.snapshot.school;
    }
    return 0;
}

/*
 * Oral time slots: registrations in sequence order (the order they were
 * made, a property of the data, so a re-run gives the same slots) fill slot
 * after slot, each of at least CET_ORAL_SLOT_CANDIDATES_MIN candidates and
 * never more than ENG_ARRANGE_SLOTS_MAX slots.
 */
static uint8_t oral_slots(size_t n, size_t *per_slot)
{
    size_t per = (n + ENG_ARRANGE_SLOTS_MAX - 1) / ENG_ARRANGE_SLOTS_MAX;
    if (per < CET_ORAL_SLOT_CANDIDATES_MIN) per = CET_ORAL_SLOT_CANDIDATES_MIN;
    *per_slot = per;
    return (uint8_t)(n ? (n + per - 1) / per : 0);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int arrange_err(eng_arrange_err_t e)
{
    switch (e) {
    case ENG_ARRANGE_OK:
        return 0;
    case ENG_ARRANGE_E_NOT_ENOUGH_SEATS:
    case ENG_ARRANGE_E_TOO_MANY:
        return CET_E_NOT_ENOUGH_SEATS;
    default:
        return CET_E_INVALID_FIELD;
    }
}

/* The rooms other subjects with the same level digit use at this campus. */
static int rooms_taken_read(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                            int digit, uint8_t taken[ENG_ARRANGE_ROOMS_TAKEN_BYTES])
{
    store_arrangement_t arr[64];
    int n = store_arrangements_of(txn, st, campus, arr, (int)(sizeof arr / sizeof arr[0]));
    if (n < 0) return n;
    memset(taken, 0, ENG_ARRANGE_ROOMS_TAKEN_BYTES);
    for (int i = 0; i < n; i++) {
        if (arr[i].subject == subject || arr[i].level_digit != digit) continue;
        for (size_t b = 0; b < ENG_ARRANGE_ROOMS_TAKEN_BYTES; b++)
            taken[b] |= arr[i].rooms_used[b];
    }
    return 0;
}

static int arrange_closed(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                          int64_t now, store_offer_t *o, store_sitting_t *s)
{
    int rc = store_offer_get(txn, st, campus, subject, o);
    if (rc == STORE_NOTFOUND) return CET_E_OFFER_NOT_FOUND;
    if (rc) return rc;
    rc = store_sitting_get(txn, st, s);
    if (rc == STORE_NOTFOUND) return CET_E_OFFER_NOT_FOUND;
    if (rc) return rc;
    /* registering needs both windows open, so either one closing ends it */
    if (now < o->window_closes && now < s->reg_closes) return CET_E_WINDOW_OPEN;
    return 0;
}

/* Seats c->regs and writes each changed seat back; fills *out. */
static int arrange_write(store_txn_t *txn, const store_t *st, const eng_arrange_in_t *in,
                         tk_collect_t *c, const eng_arrange_seat_t *seats,
                         const eng_arrange_summary_t *sum, int64_t now, store_arrangement_t *out)
{
    uint64_t digest = 1469598103934665603ull;
    for (size_t i = 0; i < c->n; i++) {
        store_reg_t *r = &c->regs[i].rec;
        const eng_arrange_seat_t *s = &seats[i];
        CET_ASSERT_INFO(s->reg_id == r->seq, "seat %zu: reg %llu, seq %llu", i,
                        (unsigned long long)s->reg_id, (unsigned long long)r->seq);
        uint8_t rec[12];
        store_be64(rec, r->seq);
        store_be16(rec + 8, s->room);
        rec[10] = s->seat;
        rec[11] = s->slot;
        digest = fnv1a(digest, rec, sizeof rec);
        if ((r->flags & STORE_REG_ARRANGED) && r->room == s->room && r->seat == s->seat &&
            r->slot == s->slot)
            continue; /* a re-run over the same registrations changes nothing */
        r->room = s->room;
        r->seat = s->seat;
        r->slot = s->slot;
        int rc = store_reg_arranged_put(txn, st, r);
        if (rc) return rc;
    }
    store_arrangement_t prev;
    int rc = store_arrangement_get(txn, st, in->campus, (char)out->subject, &prev);
    if (rc && rc != STORE_NOTFOUND) return rc;
    bool same = rc == 0 && prev.digest == digest && prev.seats == sum->seats;
    out->level_digit = (uint8_t)eng_arrange_level_digit(in->level, in->oral);
    out->rooms = sum->rooms;
    out->seats = sum->seats;
    out->digest = digest;
    out->at = same ? prev.at : now;
    memcpy(out->rooms_used, sum->rooms_used, sizeof out->rooms_used);
    return store_arrangement_put(txn, st, out);
}

static int arrange_run(store_txn_t *txn, store_t *st, eng_tickets_index_t *x, uint32_t campus,
                       char subject, int64_t now, store_arrangement_t *out)
{
    store_offer_t o;
    store_sitting_t sit;
    store_subject_t subj;
    int rc = arrange_closed(txn, st, campus, subject, now, &o, &sit);
    if (rc) return rc;
    rc = store_subject_get(txn, st, subject, &subj);
    if (rc) return rc == STORE_NOTFOUND ? CET_E_OFFER_NOT_FOUND : rc;

    tk_collect_t c = {0};
    eng_arrange_reg_t *in_regs = NULL;
    eng_arrange_seat_t *seats = NULL;
    if ((rc = offer_collect(txn, st, x, campus, subject, &c))) goto out;
    if ((rc = classes_read(txn, st, &c))) goto out;

    bool oral = subj.kind == STORE_ORAL;
    size_t per_slot = 0;
    uint8_t slots = oral ? oral_slots(c.n, &per_slot) : 0;
    in_regs = cet_malloc((c.n + 1) * sizeof *in_regs);
    seats = cet_malloc((c.n + 1) * sizeof *seats);
    for (size_t i = 0; i < c.n; i++) {
        const tk_reg_t *t = &c.regs[i];
        in_regs[i] = (eng_arrange_reg_t){.reg_id = t->rec.seq,
                                         .candidate_key = t->key,
                                         .school = t->school,
                                         .department = t->department,
                                         .class_name = t->class_name,
                                         .slot = oral ? (uint8_t)(1 + i / per_slot) : 0};
    }
    store_room_t rooms[CET_ROOMS_PER_CAMPUS_MAX];
    eng_arrange_room_t arooms[CET_ROOMS_PER_CAMPUS_MAX];
    int nr = store_rooms_list(txn, st, campus, rooms, CET_ROOMS_PER_CAMPUS_MAX);
    if (nr < 0) {
        rc = nr;
        goto out;
    }
    for (int i = 0; i < nr; i++)
        arooms[i] = (eng_arrange_room_t){rooms[i].number, rooms[i].seats};
    int digit = eng_arrange_level_digit(subj.level, oral);
    uint8_t taken[ENG_ARRANGE_ROOMS_TAKEN_BYTES];
    if ((rc = rooms_taken_read(txn, st, campus, subject, digit, taken))) goto out;

    eng_arrange_in_t in = {.campus = campus,
                           .sitting = sit.id,
                           .level = subj.level,
                           .oral = oral,
                           .regs = in_regs,
                           .n_regs = c.n,
                           .rooms = nr ? arooms : NULL,
                           .n_rooms = (size_t)nr,
                           .rooms_taken = taken};
    eng_arrange_summary_t sum;
    if ((rc = arrange_err(eng_arrange_run(&in, seats, &sum)))) goto out;
    memset(out, 0, sizeof *out);
    out->campus = campus;
    out->subject = subject;
    out->slots = slots;
    rc = arrange_write(txn, st, &in, &c, seats, &sum, now, out);
out:
    cet_free(seats);
    cet_free(in_regs);
    cet_free(c.regs);
    return rc;
}

int eng_tickets_arrange(store_txn_t *txn, store_t *st, uint32_t campus, char subject, int64_t now,
                        store_arrangement_t *out)
{
    return arrange_run(txn, st, NULL, campus, subject, now, out);
}

void eng_tickets_exam_time(const store_subject_t *subj, uint8_t slot, char *out, size_t cap)
{
    if (subj->kind == STORE_ORAL) {
        int start = CET_ORAL_FIRST_SLOT_MINUTE + (slot ? slot - 1 : 0) * CET_ORAL_SLOT_MINUTES;
        int end = start + CET_ORAL_SLOT_MINUTES;
        snprintf(out, cap, "%02d:%02d-%02d:%02d（第%u场）", start / 60, start % 60, end / 60,
                 end % 60, slot ? slot : 1u);
        return;
    }
    /* the national timetable: level 4 in the morning, level 6 in the afternoon */
    cet_strlcpy(out, subj->level == 6 ? "15:00-17:25" : "09:00-11:20", cap);
}

/* ---- the op ---- */
/* The staff's scope covers the campus's school (a school, a province, or national). */
static int campus_scope(eng_op_t *op, store_txn_t *txn)
{
    const store_t *st = op->eng->st;
    store_campus_t cp;
    int rc = store_campus_get(txn, st, op->in.campus, &cp);
    if (rc) return rc == STORE_NOTFOUND ? CET_E_OFFER_NOT_FOUND : rc;
    if (op->in.scope_school) return cp.school == op->in.scope_school ? 0 : CET_E_FORBIDDEN;
    if (!op->in.scope_province) return 0;
    store_school_t s;
    rc = store_school_get(txn, st, cp.school, &s);
    if (rc) return rc == STORE_NOTFOUND ? CET_E_FORBIDDEN : rc;
    return s.province == op->in.scope_province ? 0 : CET_E_FORBIDDEN;
}

static int apply_arrange(eng_op_t *op, store_txn_t *txn)
{
    store_arrangement_t a;
    eng_t *e = op->eng;
    if (!e->tickets_index) e->tickets_index = cet_calloc(1, sizeof *e->tickets_index);
    int rc = arrange_run(txn, e->st, e->tickets_index, op->in.campus, op->in.subject, op->now, &a);
    if (rc) return rc;
    char detail[160];
    snprintf(detail, sizeof detail, "arrangement of %06u/%c: %u seats in %u rooms", a.campus,
             op->in.subject, a.seats, a.rooms);
    if ((rc = store_audit_append(txn, e->st, op->now, op->staff, "arrange", detail))) return rc;
    op->res.u.tickets.what = ENG_TICKETS_ARRANGE;
    op->res.u.tickets.campus = a.campus;
    op->res.u.tickets.subject = a.subject;
    op->res.u.tickets.rooms = a.rooms;
    op->res.u.tickets.seats = a.seats;
    op->res.u.tickets.slots = a.slots;
    op->res.u.tickets.arranged_at = a.at;
    return 0;
}

static int apply_rooms(eng_op_t *op, store_txn_t *txn)
{
    const eng_tickets_in_t *in = op->in.tickets;
    const store_t *st = op->eng->st;
    uint8_t seen[ENG_ARRANGE_ROOMS_TAKEN_BYTES] = {0};
    for (unsigned i = 0; i < in->n_rooms; i++) {
        uint16_t r = in->rooms[i].number;
        if (r < 1 || r > CET_ROOMS_PER_CAMPUS_MAX || in->rooms[i].seats > CET_ROOM_SEATS_MAX ||
            eng_arrange_room_in(seen, r))
            return CET_E_INVALID_FIELD;
        seen[r / 8] |= (uint8_t)(1u << (r % 8));
    }
    int rc = store_rooms_clear(txn, st, op->in.campus, NULL);
    uint32_t total = 0;
    for (unsigned i = 0; rc == 0 && i < in->n_rooms; i++) {
        rc = store_room_put(txn, st, op->in.campus, in->rooms[i].number, in->rooms[i].seats);
        total += in->rooms[i].seats ? in->rooms[i].seats : CET_ROOM_SEATS_DEFAULT;
    }
    if (rc) return rc;
    char detail[128];
    snprintf(detail, sizeof detail, "rooms of %06u: %u rooms, %u seats", op->in.campus, in->n_rooms,
             total);
    if ((rc = store_audit_append(txn, st, op->now, op->staff, "rooms", detail))) return rc;
    op->res.u.tickets.what = ENG_TICKETS_ROOMS;
    op->res.u.tickets.campus = op->in.campus;
    op->res.u.tickets.rooms = in->n_rooms;
    op->res.u.tickets.seats = total;
    return 0;
}

int eng_tickets_apply(eng_op_t *op, store_txn_t *txn)
{
    int rc = campus_scope(op, txn);
    if (rc) return rc;
    switch (op->in.tickets->what) {
    case ENG_TICKETS_ARRANGE:
        return apply_arrange(op, txn);
    case ENG_TICKETS_ROOMS:
        return apply_rooms(op, txn);
    }
    return CET_E_INTERNAL;
}
