/*
 * eng_arrange.c: room arrangement of one campus-subject (contract and the
 * order it follows in eng_arrange.h).
 *
 * Two sorts and one pass: sort by the full key to number classes and the
 * candidates inside each; sort again by each candidate's even-spread fraction
 * (2k+1)/(2n) inside its slot; then pour the sequence into the rooms. Every
 * comparison ends in the reg id, which is unique, so the order is total and
 * the result cannot depend on the input order or on qsort's instability.
 */
#include "engine/eng_arrange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cet_base.h"

#define CAMPUS_MIN 100000u
#define CAMPUS_MAX 999999u
#define SITTING_YEAR_MIN 2000u
#define SITTING_YEAR_MAX 2099u

/* One registration while it is arranged. */
typedef struct arr_entry {
    uint32_t idx; /* into in->regs */
    uint32_t cls; /* class ordinal, in class-key order (classes of different slots differ) */
    uint32_t k;   /* its place inside its class, 0.. */
    uint32_t slot;
} arr_entry_t;

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static int cmp_text(const char *a, const char *b)
{
    return strncmp(str_or_empty(a), str_or_empty(b), ENG_ARRANGE_KEY_BYTES_MAX);
}

/* The class key: school, department, class name. */
static int cmp_class(const eng_arrange_reg_t *a, const eng_arrange_reg_t *b)
{
    if (a->school != b->school) return a->school < b->school ? -1 : 1;
    int c = cmp_text(a->department, b->department);
    if (c) return c;
    return cmp_text(a->class_name, b->class_name);
}

/* Sort 1: slot, class, candidate key, reg id. */
static int cmp_full(const void *pa, const void *pb, void *ctx)
{
    const eng_arrange_reg_t *regs = ctx;
    const eng_arrange_reg_t *a = &regs[((const arr_entry_t *)pa)->idx];
    const eng_arrange_reg_t *b = &regs[((const arr_entry_t *)pb)->idx];
    if (a->slot != b->slot) return a->slot < b->slot ? -1 : 1;
    int c = cmp_class(a, b);
    if (c) return c;
    c = cmp_text(a->candidate_key, b->candidate_key);
    if (c) return c;
    if (a->reg_id != b->reg_id) return a->reg_id < b->reg_id ? -1 : 1;
    return 0;
}

/* Sort 2: slot, then the fraction (2k+1)/(2n) of the class, then class order. */
static int cmp_spread(const void *pa, const void *pb, void *ctx)
{
    const uint32_t *cls_n = ctx;
    const arr_entry_t *a = pa, *b = pb;
    if (a->slot != b->slot) return a->slot < b->slot ? -1 : 1;
    /* (2ka+1)/(2na) vs (2kb+1)/(2nb), cross-multiplied: < 2e5 * 1e5, fits 64 bits */
    uint64_t fa = (2ull * a->k + 1) * cls_n[b->cls];
    uint64_t fb = (2ull * b->k + 1) * cls_n[a->cls];
    if (fa != fb) return fa < fb ? -1 : 1;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    return 0; /* same class and same fraction means same k: the same entry */
}

static int cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

bool eng_arrange_room_in(const uint8_t bitmap[ENG_ARRANGE_ROOMS_TAKEN_BYTES], uint16_t r)
{
    CET_ASSERT(r <= ENG_ARRANGE_ROOMS_MAX);
    return (bitmap[r >> 3] >> (r & 7)) & 1u;
}

static void room_mark(uint8_t bitmap[ENG_ARRANGE_ROOMS_TAKEN_BYTES], uint16_t r)
{
    CET_ASSERT(r >= 1 && r <= ENG_ARRANGE_ROOMS_MAX);
    bitmap[r >> 3] |= (uint8_t)(1u << (r & 7));
}

int eng_arrange_level_digit(uint8_t level, bool oral)
{
    if (level == 4) return oral ? 3 : 1;
    if (level == 6) return oral ? 4 : 2;
    return 0;
}

bool eng_arrange_ticket_format(uint32_t campus, uint32_t sitting, int level_digit, uint16_t room,
                               uint8_t seat, char out[CET_TICKET_DIGITS + 1])
{
    uint32_t year = sitting / 10, half = sitting % 10;
    out[0] = 0;
    if (campus < CAMPUS_MIN || campus > CAMPUS_MAX) return false;
    if (year < SITTING_YEAR_MIN || year > SITTING_YEAR_MAX || (half != 1 && half != 2))
        return false;
    if (level_digit < 1 || level_digit > 4) return false;
    if (room < 1 || room > ENG_ARRANGE_ROOMS_MAX || seat < 1 || seat > ENG_ARRANGE_SEATS_MAX)
        return false;
    int n = snprintf(out, CET_TICKET_DIGITS + 1, "%06u%02u%u%d%03u%02u", (unsigned)campus,
                     (unsigned)(year % 100), (unsigned)half, level_digit, (unsigned)room,
                     (unsigned)seat);
    CET_ASSERT(n == CET_TICKET_DIGITS);
    return true;
}

const char *eng_arrange_err_code(eng_arrange_err_t e)
{
    switch (e) {
    case ENG_ARRANGE_OK:
        return "ok";
    case ENG_ARRANGE_E_NOT_ENOUGH_SEATS:
        return "not_enough_seats";
    case ENG_ARRANGE_E_TOO_MANY:
        return "not_enough_seats";
    case ENG_ARRANGE_E_BAD_ROOM:
        return "invalid_field";
    case ENG_ARRANGE_E_BAD_REG:
        return "invalid_field";
    case ENG_ARRANGE_E_BAD_SUBJECT:
        return "invalid_field";
    }
    return "internal";
}

/*
 * The usable rooms in number order: seats[r] for r = 1..999, 0 where there is
 * no room or it is taken. Returns ENG_ARRANGE_E_BAD_ROOM on bad room data.
 */
static eng_arrange_err_t rooms_build(const eng_arrange_in_t *in,
                                     uint8_t seats[ENG_ARRANGE_ROOMS_MAX + 1])
{
    memset(seats, 0, ENG_ARRANGE_ROOMS_MAX + 1);
    if (!in->rooms || in->n_rooms == 0) {
        for (int r = 1; r <= ENG_ARRANGE_ROOMS_MAX; r++)
            seats[r] = ENG_ARRANGE_SEATS_DEFAULT;
    } else {
        if (in->n_rooms > ENG_ARRANGE_ROOMS_MAX) return ENG_ARRANGE_E_BAD_ROOM;
        for (size_t i = 0; i < in->n_rooms; i++) {
            const eng_arrange_room_t *rm = &in->rooms[i];
            if (rm->number < 1 || rm->number > ENG_ARRANGE_ROOMS_MAX) return ENG_ARRANGE_E_BAD_ROOM;
            if (rm->seats > ENG_ARRANGE_SEATS_MAX) return ENG_ARRANGE_E_BAD_ROOM;
            if (seats[rm->number]) return ENG_ARRANGE_E_BAD_ROOM; /* listed twice */
            seats[rm->number] = rm->seats ? rm->seats : ENG_ARRANGE_SEATS_DEFAULT;
        }
    }
    if (in->rooms_taken) {
        for (uint16_t r = 1; r <= ENG_ARRANGE_ROOMS_MAX; r++)
            if (eng_arrange_room_in(in->rooms_taken, r)) seats[r] = 0;
    }
    return ENG_ARRANGE_OK;
}

static eng_arrange_err_t regs_check(const eng_arrange_in_t *in)
{
    for (size_t i = 0; i < in->n_regs; i++) {
        const eng_arrange_reg_t *g = &in->regs[i];
        if (!g->candidate_key) return ENG_ARRANGE_E_BAD_REG;
        if (in->oral ? (g->slot < 1 || g->slot > ENG_ARRANGE_SLOTS_MAX) : g->slot != 0)
            return ENG_ARRANGE_E_BAD_REG;
    }
    /* Reg ids unique: sort a copy. */
    uint64_t *ids = cet_malloc(in->n_regs * sizeof *ids + 1);
    for (size_t i = 0; i < in->n_regs; i++)
        ids[i] = in->regs[i].reg_id;
    qsort(ids, in->n_regs, sizeof *ids, cmp_u64);
    eng_arrange_err_t rc = ENG_ARRANGE_OK;
    for (size_t i = 1; i < in->n_regs; i++)
        if (ids[i] == ids[i - 1]) rc = ENG_ARRANGE_E_BAD_REG;
    cet_free(ids);
    return rc;
}

/* Sort 1, then number the classes and the candidates inside each; cls_n[c] = size. */
static void classes_number(const eng_arrange_in_t *in, arr_entry_t *e, uint32_t *cls_n)
{
    size_t n = in->n_regs;
    qsort_r(e, n, sizeof *e, cmp_full, (void *)in->regs);
    uint32_t cls = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        const eng_arrange_reg_t *g = &in->regs[e[i].idx];
        if (i > 0) {
            const eng_arrange_reg_t *p = &in->regs[e[i - 1].idx];
            if (g->slot != p->slot || cmp_class(g, p) != 0) {
                cls_n[cls] = k;
                cls++;
                k = 0;
            }
        }
        e[i].cls = cls;
        e[i].k = k++;
        e[i].slot = g->slot;
    }
    if (n) cls_n[cls] = k;
}

/*
 * Pours the spread sequence into the rooms; with out == NULL it only checks
 * that everyone fits. Each slot starts in a fresh room.
 */
static eng_arrange_err_t rooms_pour(const eng_arrange_in_t *in, const arr_entry_t *e,
                                    const uint8_t seats[ENG_ARRANGE_ROOMS_MAX + 1],
                                    eng_arrange_seat_t *out, eng_arrange_summary_t *sum)
{
    int digit = eng_arrange_level_digit(in->level, in->oral);
    uint16_t room = 0; /* the room being filled, 0 = none yet */
    uint8_t seat = 0;  /* the last seat given in it */
    for (size_t i = 0; i < in->n_regs; i++) {
        bool new_slot = i > 0 && e[i].slot != e[i - 1].slot;
        if (room == 0 || seat >= seats[room] || new_slot) {
            do {
                room++;
            } while (room <= ENG_ARRANGE_ROOMS_MAX && seats[room] == 0);
            if (room > ENG_ARRANGE_ROOMS_MAX) return ENG_ARRANGE_E_NOT_ENOUGH_SEATS;
            seat = 0;
            if (sum) {
                sum->rooms++;
                room_mark(sum->rooms_used, room);
            }
        }
        seat++;
        CET_ASSERT(seat >= 1 && seat <= seats[room]);
        if (out) {
            eng_arrange_seat_t *o = &out[e[i].idx];
            const eng_arrange_reg_t *g = &in->regs[e[i].idx];
            o->reg_id = g->reg_id;
            o->room = room;
            o->seat = seat;
            o->slot = g->slot;
            bool ok =
                eng_arrange_ticket_format(in->campus, in->sitting, digit, room, seat, o->ticket);
            CET_ASSERT(ok);
        }
    }
    return ENG_ARRANGE_OK;
}

eng_arrange_err_t eng_arrange_run(const eng_arrange_in_t *in, eng_arrange_seat_t *out,
                                  eng_arrange_summary_t *summary)
{
    CET_ASSERT(in != NULL);
    CET_ASSERT(out != NULL || in->n_regs == 0);
    CET_ASSERT(in->regs != NULL || in->n_regs == 0);
    eng_arrange_summary_t sum;
    memset(&sum, 0, sizeof sum);
    if (summary) *summary = sum;

    char probe[CET_TICKET_DIGITS + 1];
    int digit = eng_arrange_level_digit(in->level, in->oral);
    if (digit == 0 || !eng_arrange_ticket_format(in->campus, in->sitting, digit, 1, 1, probe))
        return ENG_ARRANGE_E_BAD_SUBJECT;
    if (in->n_regs > ENG_ARRANGE_REGS_MAX) return ENG_ARRANGE_E_TOO_MANY;
    uint8_t seats[ENG_ARRANGE_ROOMS_MAX + 1];
    eng_arrange_err_t rc = rooms_build(in, seats);
    if (rc) return rc;
    for (int r = 1; r <= ENG_ARRANGE_ROOMS_MAX; r++)
        sum.seats_offered += seats[r];
    rc = regs_check(in);
    if (rc) return rc;

    size_t n = in->n_regs;
    arr_entry_t *e = cet_malloc(n * sizeof *e + 1);
    uint32_t *cls_n = cet_malloc(n * sizeof *cls_n + 1);
    for (size_t i = 0; i < n; i++)
        e[i].idx = (uint32_t)i;
    classes_number(in, e, cls_n);
    qsort_r(e, n, sizeof *e, cmp_spread, cls_n);

    rc = rooms_pour(in, e, seats, NULL, NULL); /* all or nothing: check first */
    if (rc == ENG_ARRANGE_OK) {
        rc = rooms_pour(in, e, seats, out, &sum);
        CET_ASSERT(rc == ENG_ARRANGE_OK);
        sum.seats = (uint32_t)n;
        CET_ASSERT(sum.seats <= sum.seats_offered);
        if (summary) *summary = sum;
    }
    cet_free(cls_n);
    cet_free(e);
    return rc;
}
