/*
 * Room arrangement: everyone seated once, no seat twice, room sizes kept,
 * valid 15-digit numbers whose fields match, the same seats on a shuffled
 * input and on a second run, classes spread apart (measured against the
 * naive class-by-class order), orals by slot, and the refusals.
 */
#include "engine/eng_arrange.h"

#include <stdint.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "base/cet_id.h"
#include "tests/unit/cet_test.h"

#define CAMPUS 991010u
#define SITTING 20262u
#define KEY_BYTES 24
#define CLASS_BYTES 16
#define REGS_MAX 20000

typedef struct fixture {
    eng_arrange_reg_t regs[REGS_MAX];
    char keys[REGS_MAX][KEY_BYTES];
    char depts[REGS_MAX][CLASS_BYTES];
    char classes[REGS_MAX][CLASS_BYTES];
    size_t n;
} fixture_t;

static fixture_t fx, fx2;
static eng_arrange_seat_t out1[REGS_MAX], out2[REGS_MAX];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* n registrations over classes of uneven sizes (a few big, many small). */
static void fixture_make(fixture_t *f, size_t n, int n_classes, bool oral, int n_slots)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    for (size_t i = 0; i < n; i++) {
        int c = (int)(rng() % 3 == 0 ? rng() % 3 : rng() % (uint64_t)n_classes);
        snprintf(f->keys[i], KEY_BYTES, "9901012000%08zu", i * 7919 % 100000000);
        snprintf(f->depts[i], CLASS_BYTES, "院系%d", c % 4);
        snprintf(f->classes[i], CLASS_BYTES, "班%03d", c);
        f->regs[i] = (eng_arrange_reg_t){
            .reg_id = 1000000 + i * 3,
            .candidate_key = f->keys[i],
            .school = 99101 + (uint32_t)(c % 2),
            .department = f->depts[i],
            .class_name = f->classes[i],
            .slot = oral ? (uint8_t)(1 + rng() % (uint64_t)n_slots) : 0,
        };
    }
}

/* A copy of f in a shuffled order, its strings moved with it. */
static void fixture_shuffle(const fixture_t *f, fixture_t *g)
{
    *g = *f;
    for (size_t i = g->n; i > 1; i--) {
        size_t j = (size_t)(rng() % i);
        eng_arrange_reg_t t = g->regs[i - 1];
        g->regs[i - 1] = g->regs[j];
        g->regs[j] = t;
    }
}

static eng_arrange_in_t input(const fixture_t *f, const eng_arrange_room_t *rooms, size_t n_rooms)
{
    return (eng_arrange_in_t){.campus = CAMPUS,
                              .sitting = SITTING,
                              .level = 4,
                              .regs = f->regs,
                              .n_regs = f->n,
                              .rooms = rooms,
                              .n_rooms = n_rooms};
}

static const eng_arrange_seat_t *seat_of(const eng_arrange_seat_t *out, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (out[i].reg_id == id) return &out[i];
    return NULL;
}

static bool same_class(const eng_arrange_reg_t *a, const eng_arrange_reg_t *b)
{
    return a->school == b->school && strcmp(a->department, b->department) == 0 &&
           strcmp(a->class_name, b->class_name) == 0;
}

/* Neighbouring seats (same room, seats s and s+1) holding the same class. */
static int same_class_neighbours(const fixture_t *f, const eng_arrange_seat_t *out)
{
    static int at[ENG_ARRANGE_ROOMS_MAX + 1][ENG_ARRANGE_SEATS_MAX + 2];
    memset(at, -1, sizeof at);
    for (size_t i = 0; i < f->n; i++)
        at[out[i].room][out[i].seat] = (int)i;
    int pairs = 0;
    for (int r = 1; r <= ENG_ARRANGE_ROOMS_MAX; r++)
        for (int s = 1; s < ENG_ARRANGE_SEATS_MAX; s++)
            if (at[r][s] >= 0 && at[r][s + 1] >= 0 &&
                same_class(&f->regs[at[r][s]], &f->regs[at[r][s + 1]]))
                pairs++;
    return pairs;
}

/* The invariants of one result: everyone once, each seat once, sizes, numbers. */
static void check_invariants(const eng_arrange_in_t *in, const eng_arrange_seat_t *out,
                             const eng_arrange_summary_t *sum)
{
    static uint8_t used[ENG_ARRANGE_ROOMS_MAX + 1][ENG_ARRANGE_SEATS_MAX + 1];
    uint8_t size[ENG_ARRANGE_ROOMS_MAX + 1] = {0};
    memset(used, 0, sizeof used);
    if (in->n_rooms == 0)
        for (int r = 1; r <= ENG_ARRANGE_ROOMS_MAX; r++)
            size[r] = ENG_ARRANGE_SEATS_DEFAULT;
    for (size_t i = 0; i < in->n_rooms; i++)
        size[in->rooms[i].number] =
            in->rooms[i].seats ? in->rooms[i].seats : ENG_ARRANGE_SEATS_DEFAULT;
    char want[CET_TICKET_DIGITS + 1];
    int digit = eng_arrange_level_digit(in->level, in->oral);
    int bad_room = 0, twice = 0, bad_ticket = 0, bad_id = 0;
    for (size_t i = 0; i < in->n_regs; i++) {
        const eng_arrange_seat_t *o = &out[i];
        if (o->reg_id != in->regs[i].reg_id) bad_id++;
        if (o->room < 1 || o->room > ENG_ARRANGE_ROOMS_MAX || o->seat < 1 ||
            o->seat > size[o->room]) {
            bad_room++;
            continue;
        }
        if (used[o->room][o->seat]++) twice++;
        eng_arrange_ticket_format(in->campus, in->sitting, digit, o->room, o->seat, want);
        if (strlen(o->ticket) != CET_TICKET_DIGITS || strcmp(o->ticket, want) != 0 ||
            strncmp(o->ticket, "991010", 6) != 0 || strncmp(o->ticket + 6, "262", 3) != 0 ||
            o->ticket[9] != '0' + digit || cet_ticket_check(o->ticket) != CET_E_OK)
            bad_ticket++;
    }
    CHECK_EQ(bad_id, 0);
    CHECK_EQ(bad_room, 0);
    CHECK_EQ(twice, 0);
    CHECK_EQ(bad_ticket, 0);
    CHECK_EQ(sum->seats, in->n_regs);
    uint32_t rooms = 0;
    for (uint16_t r = 1; r <= ENG_ARRANGE_ROOMS_MAX; r++) {
        int seated = 0;
        for (int s = 1; s <= ENG_ARRANGE_SEATS_MAX; s++)
            seated += used[r][s];
        if (seated) rooms++;
        CHECK(seated <= size[r]);
        CHECK_EQ(eng_arrange_room_in(sum->rooms_used, r), seated > 0);
        /* rooms fill from seat 1 without gaps */
        for (int s = 2; s <= ENG_ARRANGE_SEATS_MAX; s++)
            if (used[r][s]) CHECK(used[r][s - 1]);
    }
    CHECK_EQ(rooms, sum->rooms);
}

static void test_ticket_format(void)
{
    char t[CET_TICKET_DIGITS + 1];
    CHECK(eng_arrange_ticket_format(991010, 20262, 1, 7, 23, t));
    CHECK(strcmp(t, "991010262100723") == 0);
    CHECK(eng_arrange_ticket_format(110011, 20271, 2, 999, 99, t));
    CHECK(strcmp(t, "110011271299999") == 0);
    CHECK(!eng_arrange_ticket_format(99101, 20262, 1, 1, 1, t) && t[0] == 0);
    CHECK(!eng_arrange_ticket_format(991010, 20263, 1, 1, 1, t));
    CHECK(!eng_arrange_ticket_format(991010, 20262, 5, 1, 1, t));
    CHECK(!eng_arrange_ticket_format(991010, 20262, 1, 1000, 1, t));
    CHECK(!eng_arrange_ticket_format(991010, 20262, 1, 1, 0, t));
    CHECK(!eng_arrange_ticket_format(991010, 20262, 1, 0, 1, t));
    CHECK_EQ(eng_arrange_level_digit(4, false), 1);
    CHECK_EQ(eng_arrange_level_digit(6, false), 2);
    CHECK_EQ(eng_arrange_level_digit(4, true), 3);
    CHECK_EQ(eng_arrange_level_digit(6, true), 4);
    CHECK_EQ(eng_arrange_level_digit(5, false), 0);
}

/* Rooms with gaps in their numbers, listed out of order, of several sizes. */
static size_t rooms_make(eng_arrange_room_t *rooms, size_t n, int seats_hi)
{
    for (size_t i = 0; i < n; i++)
        rooms[i] = (eng_arrange_room_t){
            .number = (uint16_t)(3 * (n - i) + 1),
            .seats = (uint8_t)(i % 5 == 0 ? 0 : 20 + i % (size_t)(seats_hi - 19))};
    return n;
}

static void test_written(void)
{
    eng_arrange_room_t rooms[300];
    size_t nr = rooms_make(rooms, 300, 40);
    fixture_make(&fx, 8000, 120, false, 0);
    eng_arrange_in_t in = input(&fx, rooms, nr);
    eng_arrange_summary_t s1, s2;
    CHECK_EQ(eng_arrange_run(&in, out1, &s1), ENG_ARRANGE_OK);
    check_invariants(&in, out1, &s1);

    /* run again: byte for byte the same */
    CHECK_EQ(eng_arrange_run(&in, out2, &s2), ENG_ARRANGE_OK);
    CHECK(memcmp(out1, out2, fx.n * sizeof *out1) == 0);
    CHECK(memcmp(&s1, &s2, sizeof s1) == 0);

    /* shuffled registrations and rooms: every registration gets the same seat */
    fixture_shuffle(&fx, &fx2);
    eng_arrange_room_t rooms2[300];
    memcpy(rooms2, rooms, sizeof rooms);
    for (size_t i = nr; i > 1; i--) {
        size_t j = (size_t)(rng() % i);
        eng_arrange_room_t t = rooms2[i - 1];
        rooms2[i - 1] = rooms2[j];
        rooms2[j] = t;
    }
    eng_arrange_in_t in2 = input(&fx2, rooms2, nr);
    CHECK_EQ(eng_arrange_run(&in2, out2, &s2), ENG_ARRANGE_OK);
    check_invariants(&in2, out2, &s2);
    int differ = 0;
    for (size_t i = 0; i < fx2.n; i++) {
        const eng_arrange_seat_t *a = seat_of(out1, fx.n, out2[i].reg_id);
        if (!a || a->room != out2[i].room || a->seat != out2[i].seat ||
            strcmp(a->ticket, out2[i].ticket) != 0)
            differ++;
    }
    CHECK_EQ(differ, 0);
    CHECK_EQ(s1.rooms, s2.rooms);

    /* spreading: against the naive order (class by class into the same rooms) */
    int spread = same_class_neighbours(&fx, out1);
    fixture_t *naive = &fx2;
    *naive = fx;
    for (size_t i = 0; i < naive->n; i++) { /* one class each: everyone in one class */
        naive->regs[i].department = "";
        naive->regs[i].class_name = "";
        naive->regs[i].school = 1;
    }
    /* same sort key order as class-by-class: arrange with a single class, then count
       neighbours by the real classes */
    eng_arrange_in_t inn = input(naive, rooms, nr);
    CHECK_EQ(eng_arrange_run(&inn, out2, &s2), ENG_ARRANGE_OK);
    int naive_pairs = same_class_neighbours(&fx, out2);
    printf("written: %zu regs in %u rooms; same-class neighbours: spread %d, "
           "candidate-key order %d\n",
           fx.n, s1.rooms, spread, naive_pairs);
    /* class-by-class order: nearly every neighbour is a classmate */
    int by_class = 0;
    {
        static eng_arrange_seat_t grouped[REGS_MAX];
        /* seat the classes one after another, in the rooms the run used */
        static size_t order[REGS_MAX];
        for (size_t i = 0; i < fx.n; i++)
            order[i] = i;
        for (size_t i = 1; i < fx.n; i++) { /* insertion sort by class: small n */
            size_t v = order[i], j = i;
            while (j > 0 && strcmp(fx.classes[order[j - 1]], fx.classes[v]) > 0) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = v;
        }
        /* reuse the spread run's (room, seat) slots in their sequence */
        static eng_arrange_seat_t slots[REGS_MAX];
        memcpy(slots, out1, fx.n * sizeof *slots);
        for (size_t i = 1; i < fx.n; i++) {
            eng_arrange_seat_t v = slots[i];
            size_t j = i;
            while (j > 0 && (slots[j - 1].room > v.room ||
                             (slots[j - 1].room == v.room && slots[j - 1].seat > v.seat))) {
                slots[j] = slots[j - 1];
                j--;
            }
            slots[j] = v;
        }
        for (size_t i = 0; i < fx.n; i++)
            grouped[order[i]] = slots[i];
        by_class = same_class_neighbours(&fx, grouped);
    }
    printf("written: class-by-class order %d same-class neighbours\n", by_class);
    CHECK(by_class > (int)fx.n / 2);
    CHECK(spread * 10 < by_class);
    CHECK(spread < naive_pairs);
}

static void test_balanced_classes(void)
{
    /* 12 classes of 25: with no class over half, no two classmates sit side by side */
    memset(&fx, 0, sizeof fx);
    fx.n = 300;
    for (size_t i = 0; i < fx.n; i++) {
        snprintf(fx.keys[i], KEY_BYTES, "K%05zu", (i * 37) % 1000);
        snprintf(fx.depts[i], CLASS_BYTES, "D");
        snprintf(fx.classes[i], CLASS_BYTES, "C%02zu", i % 12);
        fx.regs[i] = (eng_arrange_reg_t){.reg_id = i + 1,
                                         .candidate_key = fx.keys[i],
                                         .school = 99101,
                                         .department = fx.depts[i],
                                         .class_name = fx.classes[i]};
    }
    eng_arrange_in_t in = input(&fx, NULL, 0); /* default rooms of 30 */
    eng_arrange_summary_t s;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_OK);
    check_invariants(&in, out1, &s);
    CHECK_EQ(same_class_neighbours(&fx, out1), 0);
    CHECK_EQ(s.rooms, 10);
    CHECK_EQ(s.seats_offered, ENG_ARRANGE_ROOMS_MAX * ENG_ARRANGE_SEATS_DEFAULT);
    /* every class has 2 or 3 candidates in every room of 30 */
    int spread_ok = 1;
    for (uint16_t r = 1; r <= 10; r++) {
        int per[12] = {0};
        for (size_t i = 0; i < fx.n; i++)
            if (out1[i].room == r) per[i % 12]++;
        for (int c = 0; c < 12; c++)
            if (per[c] < 2 || per[c] > 3) spread_ok = 0;
    }
    CHECK(spread_ok);
}

static void test_oral(void)
{
    eng_arrange_room_t rooms[100];
    size_t nr = rooms_make(rooms, 100, 30);
    fixture_make(&fx, 1500, 40, true, 4);
    eng_arrange_in_t in = input(&fx, rooms, nr);
    in.oral = true;
    eng_arrange_summary_t s;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_OK);
    check_invariants(&in, out1, &s);
    /* a room holds one slot, and slots come in room order */
    uint8_t room_slot[ENG_ARRANGE_ROOMS_MAX + 1] = {0};
    int mixed = 0, backwards = 0;
    for (size_t i = 0; i < fx.n; i++) {
        uint16_t r = out1[i].room;
        CHECK_EQ(out1[i].slot, fx.regs[i].slot);
        if (room_slot[r] && room_slot[r] != out1[i].slot) mixed++;
        room_slot[r] = out1[i].slot;
        CHECK(out1[i].ticket[9] == '3');
    }
    for (size_t i = 0; i < fx.n; i++)
        for (size_t j = 0; j < fx.n; j += 97)
            if (fx.regs[i].slot < fx.regs[j].slot && out1[i].room > out1[j].room) backwards++;
    CHECK_EQ(mixed, 0);
    CHECK_EQ(backwards, 0);
    fixture_shuffle(&fx, &fx2);
    eng_arrange_in_t in2 = input(&fx2, rooms, nr);
    in2.oral = true;
    CHECK_EQ(eng_arrange_run(&in2, out2, &s), ENG_ARRANGE_OK);
    int differ = 0;
    for (size_t i = 0; i < fx2.n; i++) {
        const eng_arrange_seat_t *a = seat_of(out1, fx.n, out2[i].reg_id);
        if (!a || a->room != out2[i].room || a->seat != out2[i].seat) differ++;
    }
    CHECK_EQ(differ, 0);

    /* three slots of 10 in two rooms of 30: every slot needs its own room */
    eng_arrange_room_t two[2] = {{.number = 1, .seats = 30}, {.number = 2, .seats = 30}};
    fixture_make(&fx, 30, 5, true, 1);
    for (size_t i = 0; i < 30; i++)
        fx.regs[i].slot = (uint8_t)(1 + i / 10);
    in = input(&fx, two, 2);
    in.oral = true;
    memset(out1, 0xab, 30 * sizeof *out1);
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_NOT_ENOUGH_SEATS);
    CHECK_EQ(out1[0].reg_id, 0xababababababababull); /* nothing written */
    /* an oral registration without a slot, a written one with one */
    fx.regs[3].slot = 0;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_REG);
    fx.regs[3].slot = ENG_ARRANGE_SLOTS_MAX + 1;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_REG);
    in.oral = false;
    fx.regs[3].slot = 1;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_REG);
}

static void test_refusals(void)
{
    eng_arrange_room_t rooms[3] = {
        {.number = 5, .seats = 10}, {.number = 1, .seats = 0}, {.number = 999, .seats = 99}};
    eng_arrange_summary_t s;
    /* exactly full: 10 + 30 + 99 */
    fixture_make(&fx, 139, 7, false, 0);
    eng_arrange_in_t in = input(&fx, rooms, 3);
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_OK);
    check_invariants(&in, out1, &s);
    CHECK_EQ(s.rooms, 3);
    CHECK_EQ(s.seats_offered, 139);
    /* one more is refused, and nothing is written */
    fixture_make(&fx, 140, 7, false, 0);
    in = input(&fx, rooms, 3);
    memset(out1, 0xab, 140 * sizeof *out1);
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_NOT_ENOUGH_SEATS);
    CHECK_EQ(out1[139].room, 0xabab);
    CHECK(strcmp(eng_arrange_err_code(ENG_ARRANGE_E_NOT_ENOUGH_SEATS), "not_enough_seats") == 0);
    /* rooms another subject of the same level digit uses are skipped */
    fixture_make(&fx, 100, 7, false, 0);
    in = input(&fx, rooms, 3);
    uint8_t taken[ENG_ARRANGE_ROOMS_TAKEN_BYTES] = {0};
    taken[999 >> 3] |= (uint8_t)(1u << (999 & 7));
    in.rooms_taken = taken;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_NOT_ENOUGH_SEATS);
    taken[999 >> 3] = 0;
    taken[1 >> 3] |= 1u << 1;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_OK);
    for (size_t i = 0; i < fx.n; i++)
        CHECK(out1[i].room != 1);
    in.rooms_taken = NULL;
    /* bad rooms */
    eng_arrange_room_t bad[2] = {{.number = 1, .seats = 30}, {.number = 1, .seats = 30}};
    in = input(&fx, bad, 2);
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_ROOM);
    bad[1].number = 0;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_ROOM);
    bad[1].number = 1000;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_ROOM);
    bad[1] = (eng_arrange_room_t){.number = 2, .seats = 100};
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_ROOM);
    /* bad registrations and subjects */
    in = input(&fx, rooms, 3);
    fx.regs[50].reg_id = fx.regs[7].reg_id;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_REG);
    fx.regs[50].reg_id = 1;
    fx.regs[9].candidate_key = NULL;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_REG);
    fx.regs[9].candidate_key = "x";
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_OK);
    in.level = 5;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_SUBJECT);
    in.level = 6;
    in.campus = 99101;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_SUBJECT);
    in.campus = CAMPUS;
    in.sitting = 2026;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_BAD_SUBJECT);
    in.sitting = SITTING;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_OK);
    CHECK(out1[0].ticket[9] == '2');
    in.n_regs = ENG_ARRANGE_REGS_MAX + 1;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_E_TOO_MANY);
    /* nobody to seat */
    in.n_regs = 0;
    CHECK_EQ(eng_arrange_run(&in, out1, &s), ENG_ARRANGE_OK);
    CHECK_EQ(s.rooms, 0);
}

int main(void)
{
    test_ticket_format();
    test_written();
    test_balanced_classes();
    test_oral();
    test_refusals();
    return cet_test_done("test_eng_arrange");
}
