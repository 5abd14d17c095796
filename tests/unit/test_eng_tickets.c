/*
 * test_eng_tickets.c: the store's admission-ticket records (store_tickets.c)
 * and the arrangement of a campus-subject in one write txn (eng_tickets.c):
 * rooms, arrangements, older schemas refused, every paid registration seated
 * once within room sizes, same-level subjects in disjoint rooms, a re-run
 * that changes nothing, the refusals.
 */
#include "engine/eng.h"
#include "engine/eng_arrange.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "tests/unit/cet_test.h"

#define CAMPUS 991010u
#define NOW 1000000000

static store_t *open_store(const char *dir)
{
    store_options_t opt = {.dir = dir, .sync = false, .map_bytes = 64u << 20};
    store_t *st = NULL;
    CHECK_EQ(store_open(&opt, &st), 0);
    if (!st) exit(2);
    return st;
}

static void put_subject(store_txn_t *txn, store_t *st, char code, uint8_t kind, uint8_t level)
{
    store_subject_t s;
    memset(&s, 0, sizeof s);
    s.code = code;
    s.kind = kind;
    s.level = level;
    snprintf(s.name, sizeof s.name, "subject %c", code);
    CHECK_EQ(store_subject_put(txn, st, &s), 0);
    store_offer_t o;
    memset(&o, 0, sizeof o);
    o.campus = CAMPUS;
    o.subject = code;
    o.capacity = 1000;
    o.window_opens = NOW - 100;
    o.window_closes = NOW;
    CHECK_EQ(store_offer_put(txn, st, &o), 0);
}

/* n candidates (roster 1..n) with a registration of subject, paid unless i % 7 == 3. */
static void put_regs(store_txn_t *txn, store_t *st, uint32_t first, uint32_t n, char subject)
{
    for (uint32_t no = first; no < first + n; no++) {
        store_candidate_t c;
        memset(&c, 0, sizeof c);
        c.snapshot.roster_no = no;
        c.snapshot.school = CAMPUS / 10;
        c.snapshot.campus = CAMPUS;
        snprintf(c.snapshot.id_number, sizeof c.snapshot.id_number, "ID%08u", no);
        snprintf(c.snapshot.department, sizeof c.snapshot.department, "D%u", no % 3);
        snprintf(c.snapshot.class_name, sizeof c.snapshot.class_name, "C%u", no % 5);
        if (store_candidate_get(txn, st, no, &(store_candidate_t){0}) == STORE_NOTFOUND)
            CHECK_EQ(store_candidate_put(txn, st, no, &c), 0);
        store_reg_t r;
        memset(&r, 0, sizeof r);
        r.roster_no = no;
        r.campus = CAMPUS;
        r.subject = subject;
        r.flags = no % 7 == 3 ? 0 : STORE_REG_PAID;
        r.expires = no % 7 == 3 ? NOW + 86400 : 0;
        CHECK_EQ(store_reg_put(txn, st, &r, 0), 0);
    }
}

typedef struct seen {
    uint32_t n, unpaid_arranged;
    uint8_t used[1000][100];
    uint32_t per_room[1000];
    uint64_t seq_room_seat[256];
} seen_t;

static int seen_cb(const store_reg_t *r, void *arg)
{
    seen_t *s = arg;
    if (!(r->flags & STORE_REG_PAID)) {
        if (r->flags & STORE_REG_ARRANGED) s->unpaid_arranged++;
        return 0;
    }
    CHECK(r->flags & STORE_REG_ARRANGED);
    CHECK(r->room >= 1 && r->room <= 999 && r->seat >= 1 && r->seat <= 99);
    CHECK_EQ(s->used[r->room][r->seat], 0); /* no seat twice */
    s->used[r->room][r->seat] = 1;
    s->per_room[r->room]++;
    if (s->n < 256) s->seq_room_seat[s->n] = r->seq << 24 | (uint64_t)r->room << 8 | r->seat;
    s->n++;
    return 0;
}

static void test_records(store_t *st)
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_room_put(txn, st, CAMPUS, 0, 30), STORE_BADARG);
    CHECK_EQ(store_room_put(txn, st, CAMPUS, 1000, 30), STORE_BADARG);
    CHECK_EQ(store_room_put(txn, st, CAMPUS, 1, 100), STORE_BADARG);
    CHECK_EQ(store_room_put(txn, st, CAMPUS, 3, 0), 0);
    CHECK_EQ(store_room_put(txn, st, CAMPUS, 1, 5), 0);
    CHECK_EQ(store_room_put(txn, st, CAMPUS + 1, 1, 5), 0);
    store_room_t rooms[8];
    CHECK_EQ(store_rooms_list(txn, st, CAMPUS, rooms, 8), 2);
    CHECK_EQ(rooms[0].number, 1);
    CHECK_EQ(rooms[0].seats, 5);
    CHECK_EQ(rooms[1].number, 3);
    CHECK_EQ(rooms[1].seats, CET_ROOM_SEATS_DEFAULT);
    size_t gone = 0;
    CHECK_EQ(store_rooms_clear(txn, st, CAMPUS, &gone), 0);
    CHECK_EQ(gone, 2);
    CHECK_EQ(store_rooms_list(txn, st, CAMPUS, rooms, 8), 0);
    CHECK_EQ(store_rooms_list(txn, st, CAMPUS + 1, rooms, 8), 1);
    /* an unpaid registration is never written back as arranged */
    store_reg_t r;
    memset(&r, 0, sizeof r);
    r.roster_no = 900;
    r.campus = CAMPUS + 1;
    r.subject = '1';
    r.expires = NOW + 10;
    CHECK_EQ(store_reg_put(txn, st, &r, 0), 0);
    CHECK_EQ(store_reg_arranged_put(txn, st, &r), STORE_BADARG);
    store_commit(txn);
}

static void test_arrange(store_t *st)
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_sitting_t s;
    memset(&s, 0, sizeof s);
    s.id = 20262;
    s.reg_opens = NOW - 100;
    s.reg_closes = NOW;
    CHECK_EQ(store_sitting_put(txn, st, &s), 0);
    store_campus_t cp = {.code = CAMPUS, .school = CAMPUS / 10};
    CHECK_EQ(store_campus_put(txn, st, &cp), 0);
    put_subject(txn, st, '1', STORE_WRITTEN, 4);
    put_subject(txn, st, '3', STORE_WRITTEN, 4);
    put_subject(txn, st, 'F', STORE_ORAL, 4);
    put_regs(txn, st, 1, 100, '1');
    put_regs(txn, st, 101, 20, '3');
    put_regs(txn, st, 1, 70, 'F');
    /* rooms 1..4 of 10 seats: not enough for the 86 paid English-4 */
    for (uint16_t r = 1; r <= 4; r++)
        CHECK_EQ(store_room_put(txn, st, CAMPUS, r, 10), 0);
    CHECK_EQ(store_commit(txn), 0);

    store_arrangement_t a, b;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(eng_tickets_arrange(txn, st, CAMPUS, '1', NOW - 1, &a), CET_E_WINDOW_OPEN);
    CHECK_EQ(eng_tickets_arrange(txn, st, CAMPUS, '2', NOW, &a), CET_E_OFFER_NOT_FOUND);
    CHECK_EQ(eng_tickets_arrange(txn, st, CAMPUS, '1', NOW, &a), CET_E_NOT_ENOUGH_SEATS);
    for (uint16_t r = 5; r <= 12; r++)
        CHECK_EQ(store_room_put(txn, st, CAMPUS, r, 12), 0);
    CHECK_EQ(eng_tickets_arrange(txn, st, CAMPUS, '1', NOW, &a), 0);
    CHECK_EQ(store_commit(txn), 0);
    uint32_t paid1 = 100 - 14; /* 3, 10, 17, ... 94 are unpaid */
    CHECK_EQ(a.seats, paid1);
    CHECK_EQ(a.level_digit, 1);

    seen_t *s1 = cet_calloc(1, sizeof *s1), *s2 = cet_calloc(1, sizeof *s2);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_regs_of_offer(txn, st, CAMPUS, '1', seen_cb, s1), 0);
    store_abort(txn);
    CHECK_EQ(s1->n, paid1);
    CHECK_EQ(s1->unpaid_arranged, 0);
    for (int r = 1; r <= 4; r++)
        CHECK(s1->per_room[r] <= 10);
    for (int r = 5; r <= 12; r++)
        CHECK(s1->per_room[r] <= 12);
    for (int r = 13; r < 1000; r++)
        CHECK_EQ(s1->per_room[r], 0);

    /* again: the same seats, the same record (arranged_at kept) */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(eng_tickets_arrange(txn, st, CAMPUS, '1', NOW + 500, &b), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(memcmp(&a, &b, sizeof a), 0);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_regs_of_offer(txn, st, CAMPUS, '1', seen_cb, s2), 0);
    store_abort(txn);
    CHECK_EQ(memcmp(s1->seq_room_seat, s2->seq_room_seat, sizeof s1->seq_room_seat), 0);

    /* Japanese-4 (same level digit): none of English-4's rooms */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(eng_tickets_arrange(txn, st, CAMPUS, '3', NOW, &b), 0);
    CHECK_EQ(store_commit(txn), 0);
    for (uint16_t r = 1; r <= 999; r++)
        CHECK(!(eng_arrange_room_in(a.rooms_used, r) && eng_arrange_room_in(b.rooms_used, r)));
    /* the oral subject: its own digit, one slot of at most CET_ORAL_SLOT_CANDIDATES_MIN * 2 */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(eng_tickets_arrange(txn, st, CAMPUS, 'F', NOW, &b), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(b.level_digit, 3);
    CHECK_EQ(b.seats, 70 - 10);
    CHECK_EQ(b.slots, 2);
    store_arrangement_t all[8];
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_arrangements_of(txn, st, CAMPUS, all, 8), 3);
    CHECK_EQ(store_arrangement_get(txn, st, CAMPUS, '3', &b), 0);
    CHECK_EQ(b.seats, 20 - 3);
    store_abort(txn);
    char t[32];
    store_subject_t oral = {.code = 'F', .kind = STORE_ORAL, .level = 4};
    eng_tickets_exam_time(&oral, 2, t, sizeof t);
    CHECK(strncmp(t, "08:45-09:00", 11) == 0);
    cet_free(s1);
    cet_free(s2);
}

/*
 * A directory of another schema version (2, either line's 3, 4 without the tickets, or a newer one)
 * is refused by every open, writable or not, and stays as it was: only 5 is
 * upgraded in place (test_store; docs/storage.md, "Schema versions").
 */
static void test_other_versions_refused(void)
{
    static const uint64_t versions[] = {2, 3, 4, STORE_SCHEMA_VERSION + 1};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        char *dir = cet_test_tmpdir();
        char keep[256];
        cet_strlcpy(keep, dir, sizeof keep);
        store_t *st = open_store(keep);
        store_txn_t *txn;
        CHECK_EQ(store_write_begin(st, &txn), 0);
        CHECK_EQ(store_meta_put_u64(txn, st, "schema_version", versions[i]), 0);
        CHECK_EQ(store_commit(txn), 0);
        store_close(st);
        for (int pass = 0; pass < 2; pass++) { /* a refused writable open changed nothing */
            store_options_t rw = {.dir = keep, .sync = false};
            st = NULL;
            CHECK_EQ(store_open(&rw, &st), STORE_CORRUPT);
            CHECK(st == NULL);
            store_options_t ro = {.dir = keep, .read_only = true};
            CHECK_EQ(store_open(&ro, &st), STORE_CORRUPT);
            CHECK(st == NULL);
        }
        cet_test_rmdir(keep);
    }
}

int main(void)
{
    char *dir = cet_test_tmpdir();
    char keep[256];
    cet_strlcpy(keep, dir, sizeof keep);
    store_t *st = open_store(keep);
    test_records(st);
    test_arrange(st);
    store_close(st);
    cet_test_rmdir(keep);
    test_other_versions_refused();
    return cet_test_done("test_eng_tickets");
}
