/* Unit tests of store/: records, secondary indexes, expiry index, map growth, backups. */
#include "store/store.h"
#include "store/store_regidx.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "tests/unit/cet_test.h"

static store_t *open_store(const char *dir, size_t map)
{
    store_options_t opt = {.dir = dir, .sync = false, .map_bytes = map};
    store_t *st = NULL;
    int rc = store_open(&opt, &st);
    CHECK_EQ(rc, 0);
    if (!st) exit(2);
    return st;
}

static int count_db(store_t *st, store_db_t db)
{
    store_txn_t *txn;
    size_t n = 0;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_count(txn, st, db, &n), 0);
    store_abort(txn);
    return (int)n;
}

static void test_roster(store_t *st)
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_roster_t r = {.school = 99101, .campus = 991010, .id_type = STORE_ID_MAINLAND};
    cet_strlcpy(r.id_number, "11010519491231002x", sizeof r.id_number);
    cet_strlcpy(r.name, "张三", sizeof r.name);
    CHECK_EQ(store_roster_put(txn, st, &r), 0);
    CHECK_EQ(r.roster_no, 1);
    store_roster_t r2 = r;
    cet_strlcpy(r2.id_number, "110105200001010011", sizeof r2.id_number);
    CHECK_EQ(store_roster_put(txn, st, &r2), 0);
    CHECK_EQ(r2.roster_no, 2);
    /* replacing keeps the number and moves the school index */
    r.school = 10013;
    r.roster_no = 0;
    CHECK_EQ(store_roster_put(txn, st, &r), 0);
    CHECK_EQ(r.roster_no, 1);
    CHECK_EQ(store_commit(txn), 0);

    CHECK_EQ(store_read_begin(st, &txn), 0);
    store_roster_t got;
    /* lookup is case-insensitive on the id number (X check character) */
    CHECK_EQ(store_roster_get(txn, st, STORE_ID_MAINLAND, "11010519491231002X", &got), 0);
    CHECK_EQ(got.school, 10013);
    CHECK_EQ(store_roster_get_by_no(txn, st, 2, &got), 0);
    CHECK(strcmp(got.id_number, "110105200001010011") == 0);
    CHECK_EQ(store_roster_get(txn, st, STORE_ID_PASSPORT, "11010519491231002X", &got),
             STORE_NOTFOUND);
    uint8_t p[4];
    store_be32(p, 99101);
    size_t n = 0;
    CHECK_EQ(store_count(txn, st, STORE_DB_ROSTER_SCHOOL, &n), 0);
    CHECK_EQ(n, 2);
    store_abort(txn);
}

static void test_account(store_t *st)
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_account_t a = {.id = {1, 2, 3}};
    cet_strlcpy(a.email, "Li.Lei@Example.com", sizeof a.email);
    CHECK_EQ(store_account_put(txn, st, &a, false), 0);
    store_account_t b = {.id = {9}};
    cet_strlcpy(b.email, "li.lei@example.COM", sizeof b.email);
    CHECK_EQ(store_account_put(txn, st, &b, false), STORE_EXISTS); /* email is unique */
    CHECK_EQ(store_commit(txn), 0);

    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_account_t got;
    CHECK_EQ(store_account_by_email(txn, st, "LI.LEI@example.com", &got), 0);
    CHECK(memcmp(got.id, a.id, 16) == 0);
    cet_strlcpy(a.email, "new@example.com", sizeof a.email);
    CHECK_EQ(store_account_put(txn, st, &a, true), 0);
    CHECK_EQ(store_account_by_email(txn, st, "li.lei@example.com", &got), STORE_NOTFOUND);
    CHECK_EQ(store_account_by_email(txn, st, "NEW@example.com", &got), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(count_db(st, STORE_DB_ACCOUNT_EMAIL), 1);
}

static int expiry_rows;
static int64_t expiry_first_due;
static int expiry_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void)val;
    (void)vlen;
    (void)arg;
    CHECK_EQ(klen, STORE_EXPIRY_KEY_BYTES);
    if (expiry_rows++ == 0) expiry_first_due = (int64_t)store_rd64(key);
    return 0;
}

static void test_regs_and_expiry(store_t *st)
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_reg_t r = {.roster_no = 7, .campus = 991010, .subject = '1', .fee = 3000,
                     .created = 1000, .expires = 5000};
    CHECK_EQ(store_reg_put(txn, st, &r, 0), 0);
    CHECK(r.seq != 0); /* stored: it has its key */
    store_reg_t r2 = r;
    r2.subject = 'F';
    r2.expires = 3000;
    /* a copy with another subject is not an update of the first */
    CHECK_EQ(store_reg_put(txn, st, &r2, 0), STORE_BADARG);
    r2.seq = 0;
    CHECK_EQ(store_reg_put(txn, st, &r2, 0), 0);
    CHECK(r2.seq > r.seq); /* new registrations append */
    store_reg_t again = r;
    again.seq = 0;
    CHECK_EQ(store_reg_put(txn, st, &again, 0), STORE_EXISTS); /* one per subject */
    store_reg_t other = r;
    other.roster_no = 8;
    other.seq = 0;
    CHECK_EQ(store_reg_put(txn, st, &other, 0), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(count_db(st, STORE_DB_EXPIRY), 3);

    CHECK_EQ(store_read_begin(st, &txn), 0);
    expiry_rows = 0;
    CHECK_EQ(store_scan(txn, st, STORE_DB_EXPIRY, NULL, 0, expiry_cb, NULL), 0);
    CHECK_EQ(expiry_rows, 3);
    CHECK_EQ(expiry_first_due, 3000); /* big-endian keys sort by due time */
    store_reg_t list[4];
    CHECK_EQ(store_reg_list(txn, st, 7, list, 4), 2);
    CHECK_EQ(list[0].subject, '1');
    CHECK_EQ(list[1].subject, 'F');
    store_abort(txn);

    /* paying clears the hold entry; deleting removes the record and its entry */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    int64_t old = r.expires;
    r.flags |= STORE_REG_PAID;
    r.expires = 0;
    CHECK_EQ(store_reg_put(txn, st, &r, old), 0);
    CHECK_EQ(store_reg_del(txn, st, &r2), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(count_db(st, STORE_DB_EXPIRY), 1);
    CHECK_EQ(count_db(st, STORE_DB_REG), 2);
}

/* The registration index follows commits only: an aborted txn leaves no trace,
 * a reader sees nothing of a txn in progress, and a reopen rebuilds it. */
static void test_reg_index_txns(store_t *st)
{
    store_txn_t *w, *rd;
    store_reg_t got;
    CHECK_EQ(store_write_begin(st, &w), 0);
    store_reg_t r = {.roster_no = 50, .campus = 991010, .subject = '3', .expires = 0};
    CHECK_EQ(store_reg_put(w, st, &r, 0), 0);
    CHECK_EQ(store_reg_get(w, st, 50, '3', &got), 0); /* the writer sees its own */
    CHECK_EQ(store_read_begin(st, &rd), 0);
    CHECK_EQ(store_reg_get(rd, st, 50, '3', &got), STORE_NOTFOUND); /* a reader does not */
    store_abort(rd);
    store_abort(w);
    CHECK_EQ(store_write_begin(st, &w), 0);
    CHECK_EQ(store_reg_get(w, st, 50, '3', &got), STORE_NOTFOUND); /* aborted: gone */
    r.seq = 0;
    CHECK_EQ(store_reg_put(w, st, &r, 0), 0);
    CHECK_EQ(store_commit(w), 0);
    CHECK_EQ(store_read_begin(st, &rd), 0);
    CHECK_EQ(store_reg_get(rd, st, 50, '3', &got), 0);
    CHECK_EQ(got.seq, r.seq);
    store_abort(rd);
    CHECK_EQ(store_write_begin(st, &w), 0);
    CHECK_EQ(store_reg_del(w, st, &got), 0);
    CHECK_EQ(store_commit(w), 0);
    CHECK_EQ(store_read_begin(st, &rd), 0);
    CHECK_EQ(store_reg_get(rd, st, 50, '3', &got), STORE_NOTFOUND);
    store_abort(rd);

    /* a candidate's index slot holds CET_CANDIDATE_REGS_MAX registrations; the 8th is refused
     * (the engine refuses it earlier with too_many_registrations: docs/rules.md#R18) */
    CHECK_EQ(store_write_begin(st, &w), 0);
    for (int i = 0; i < 8; i++) {
        store_reg_t x = {.roster_no = 51, .campus = 991010, .subject = (char)('A' + i)};
        CHECK_EQ(store_reg_put(w, st, &x, 0), i < 7 ? 0 : STORE_BADARG);
    }
    store_abort(w);

    /* one txn over more candidates than the index's overlay first holds (it
     * grows and rehashes in the middle): aborted, none of them is there, and
     * the next commit publishes its own candidate only; committed, all are */
    enum { MANY = 5000 };
    for (int pass = 0; pass < 2; pass++) {
        CHECK_EQ(store_write_begin(st, &w), 0);
        for (uint32_t no = 1000; no < 1000 + MANY; no++) {
            store_reg_t x = {.roster_no = no, .campus = 991010, .subject = '1'};
            CHECK_EQ(store_reg_put(w, st, &x, 0), 0);
        }
        CHECK_EQ(store_reg_get(w, st, 1000 + MANY - 1, '1', &got), 0);
        if (pass == 0) {
            store_abort(w);
            CHECK_EQ(store_write_begin(st, &w), 0);
            store_reg_t x = {.roster_no = 60, .campus = 991010, .subject = '1'};
            CHECK_EQ(store_reg_put(w, st, &x, 0), 0);
        }
        CHECK_EQ(store_commit(w), 0);
        CHECK_EQ(store_read_begin(st, &rd), 0);
        int found = 0;
        for (uint32_t no = 1000; no < 1000 + MANY; no++)
            found += store_reg_get(rd, st, no, '1', &got) == 0 && got.roster_no == no;
        CHECK_EQ(found, pass == 0 ? 0 : MANY);
        CHECK_EQ(store_reg_get(rd, st, 60, '1', &got), 0);
        store_abort(rd);
    }
}

/* Readers on other threads while the writer adds and removes registrations:
 * every list they read is one a commit left (1 or 2 of the candidate's own). */
static store_t *race_st;
static _Atomic int race_stop;
static _Atomic long race_reads, race_bad;

static void *race_reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&race_stop)) {
        store_txn_t *txn;
        if (store_read_begin(race_st, &txn)) continue;
        for (uint32_t no = 100; no < 164; no++) {
            store_reg_t list[8];
            int n = store_reg_list(txn, race_st, no, list, 8);
            bool ok = n >= 1 && n <= 2;
            for (int i = 0; ok && i < n; i++)
                ok = list[i].roster_no == no && (list[i].subject == '1' || list[i].subject == 'F');
            if (!ok) atomic_fetch_add(&race_bad, 1);
            atomic_fetch_add(&race_reads, 1);
        }
        store_abort(txn);
    }
    return NULL;
}

static void test_reg_index_race(store_t *st)
{
    race_st = st;
    store_txn_t *w;
    CHECK_EQ(store_write_begin(st, &w), 0);
    for (uint32_t no = 100; no < 164; no++) {
        store_reg_t r = {.roster_no = no, .campus = 991010, .subject = '1'};
        CHECK_EQ(store_reg_put(w, st, &r, 0), 0);
    }
    CHECK_EQ(store_commit(w), 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, race_reader, NULL);
    for (int round = 0; round < 400; round++) {
        CHECK_EQ(store_write_begin(st, &w), 0);
        for (uint32_t no = 100; no < 164; no++) {
            store_reg_t r;
            if (round % 2 == 0) {
                memset(&r, 0, sizeof r);
                r.roster_no = no;
                r.campus = 991010;
                r.subject = 'F';
                CHECK_EQ(store_reg_put(w, st, &r, 0), 0);
            } else {
                CHECK_EQ(store_reg_get(w, st, no, 'F', &r), 0);
                CHECK_EQ(store_reg_del(w, st, &r), 0);
            }
        }
        CHECK_EQ(store_commit(w), 0);
        if (round % 7 == 3) {
            /* an aborted txn leaves nothing behind: drop every registration, abort */
            CHECK_EQ(store_write_begin(st, &w), 0);
            for (uint32_t no = 100; no < 164; no++) {
                store_reg_t list[8];
                int n = store_reg_list(w, st, no, list, 8);
                for (int i = 0; i < n; i++) CHECK_EQ(store_reg_del(w, st, &list[i]), 0);
            }
            store_abort(w);
        }
    }
    atomic_store(&race_stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(atomic_load(&race_reads) > 0);
    CHECK_EQ(atomic_load(&race_bad), 0);
    printf("reg index race: %ld candidate reads, %ld bad\n", atomic_load(&race_reads),
           atomic_load(&race_bad));
}

static void test_candidate_expiry(store_t *st)
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_candidate_t c = {.account = {5}, .bound_at = 100, .empty_due = 86500};
    int before = 0;
    size_t n;
    store_count(txn, st, STORE_DB_EXPIRY, &n);
    before = (int)n;
    CHECK_EQ(store_candidate_put(txn, st, 42, &c), 0);
    store_count(txn, st, STORE_DB_EXPIRY, &n);
    CHECK_EQ((int)n, before + 1);
    c.empty_due = 0; /* got a registration */
    CHECK_EQ(store_candidate_put(txn, st, 42, &c), 0);
    store_count(txn, st, STORE_DB_EXPIRY, &n);
    CHECK_EQ((int)n, before);
    c.empty_due = 99;
    CHECK_EQ(store_candidate_put(txn, st, 42, &c), 0);
    CHECK_EQ(store_candidate_del(txn, st, 42), 0);
    store_count(txn, st, STORE_DB_EXPIRY, &n);
    CHECK_EQ((int)n, before);
    CHECK_EQ(store_candidate_get(txn, st, 42, &c), STORE_NOTFOUND);
    store_abort(txn);
}

static void test_orders_audit(store_t *st)
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    uint64_t id1, id2;
    CHECK_EQ(store_order_next_id(txn, st, &id1), 0);
    CHECK_EQ(store_order_next_id(txn, st, &id2), 0);
    CHECK_EQ(id2, id1 + 1);
    store_order_t o = {.id = id1, .state = STORE_ORDER_PENDING, .expires = 777, .amount = 3000};
    size_t n0, n1;
    store_count(txn, st, STORE_DB_EXPIRY, &n0);
    CHECK_EQ(store_order_put(txn, st, &o, 0), 0);
    store_count(txn, st, STORE_DB_EXPIRY, &n1);
    CHECK_EQ(n1, n0 + 1);
    o.state = STORE_ORDER_PAID;
    CHECK_EQ(store_order_put(txn, st, &o, 777), 0);
    store_count(txn, st, STORE_DB_EXPIRY, &n1);
    CHECK_EQ(n1, n0);
    CHECK_EQ(store_audit_append(txn, st, 1, "teacher", "lock", "locked 1 registration"), 0);
    CHECK_EQ(store_audit_append(txn, st, 2, "teacher", "unlock", "x"), 0);
    store_count(txn, st, STORE_DB_AUDIT, &n1);
    CHECK_EQ(n1, 2);
    CHECK_EQ(store_commit(txn), 0);
}

/* Writes ~64 MiB into a 1 MiB map: store_write_run must grow it. */
typedef struct fill_arg {
    int from, to;
} fill_arg_t;

static store_t *grow_st;
static int fill_many_cb(store_txn_t *txn, void *arg)
{
    fill_arg_t *f = arg;
    for (int i = f->from; i < f->to; i++) {
        store_score_t s = {.score = 500, .year = 2024, .level = 4};
        snprintf(s.ticket, sizeof s.ticket, "%015d", i);
        int rc = store_score_put(txn, grow_st, &s);
        if (rc) return rc;
    }
    return 0;
}

static void test_grow(void)
{
    char *dir = cet_test_tmpdir();
    grow_st = open_store(dir, 1 << 20);
    fill_arg_t f = {0, 200000};
    CHECK_EQ(store_write_run(grow_st, fill_many_cb, &f), 0);
    CHECK_EQ(count_db(grow_st, STORE_DB_SCORE), 200000);
    store_close(grow_st);
    /* reopening a file larger than the default map works too */
    grow_st = open_store(dir, 1 << 20);
    CHECK_EQ(count_db(grow_st, STORE_DB_SCORE), 200000);
    store_close(grow_st);
    cet_test_rmdir(dir);
}

/* Every hold entry of a store, as (due, id, subject) in key order. */
typedef struct hold_rows {
    int n;
    int64_t due[512];
    uint64_t id[512];
    char subject[512];
} hold_rows_t;

static int hold_rows_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void)val;
    (void)vlen;
    hold_rows_t *h = arg;
    const uint8_t *k = key;
    CHECK_EQ(klen, STORE_EXPIRY_KEY_BYTES);
    if (k[8] != STORE_EXPIRE_HOLD || h->n == 512) return CET_OK;
    h->due[h->n] = (int64_t)store_rd64(k);
    h->id[h->n] = store_expiry_key_id(k);
    h->subject[h->n++] = store_expiry_key_subject(k);
    return CET_OK;
}

static void hold_rows(store_t *st, hold_rows_t *h)
{
    store_txn_t *txn;
    memset(h, 0, sizeof *h);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_scan(txn, st, STORE_DB_EXPIRY, NULL, 0, hold_rows_cb, h), 0);
    store_abort(txn);
}

static uint64_t schema_of(store_t *st)
{
    store_txn_t *txn;
    uint64_t v = 0;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_meta_get_u64(txn, st, "schema_version", &v), 0);
    store_abort(txn);
    return v;
}

/*
 * Schema 6: a hold's entry names its registration's sequence, so holds made in
 * one second (one due) follow each other in the order they were made, whatever
 * the candidates' roster numbers: a batch's holds are neighbours at the tail of
 * the index instead of one page each. A schema 5 directory (entries by roster_no,
 * a stale one among them) is refused read-only and upgraded by a writing open:
 * every registration with a hold has exactly its schema 6 entry afterwards.
 */
static void test_hold_layout_and_upgrade(void)
{
    char *dir = cet_test_tmpdir();
    char keep[256];
    cet_strlcpy(keep, dir, sizeof keep);
    store_t *st = open_store(keep, 0);
    store_txn_t *txn;
    enum { N = 200 };
    store_reg_t regs[N];
    uint64_t x = 88172645463325252ull; /* xorshift: roster numbers in no order */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        regs[i] = (store_reg_t){.roster_no = 1000 + (uint32_t)(x % 900000) * 7 + (uint32_t)i % 7,
                                .campus = 991010, .subject = '1', .fee = 3000,
                                .created = 100, .expires = i < N - 20 ? 90000 : 0};
        CHECK_EQ(store_reg_put(txn, st, &regs[i], 0), 0);
    }
    CHECK_EQ(store_commit(txn), 0);
    hold_rows_t h;
    hold_rows(st, &h);
    CHECK_EQ(h.n, N - 20); /* the 20 without expires (as if paid) have none */
    for (int i = 0; i < h.n; i++) {
        CHECK_EQ(h.id[i], regs[i].seq); /* in the order they were made */
        CHECK_EQ(h.due[i], 90000);
    }
    CHECK_EQ(schema_of(st), STORE_SCHEMA_VERSION);

    /* the same registrations as schema 5 kept them, with one stale entry */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    uint8_t k[STORE_EXPIRY_KEY_BYTES];
    for (int i = 0; i < N - 20; i++) {
        store_expiry_key(k, 90000, STORE_EXPIRE_HOLD, regs[i].seq, '1');
        CHECK_EQ(store_del_raw(txn, st, STORE_DB_EXPIRY, k, sizeof k), 0);
        store_expiry_key(k, 90000, STORE_EXPIRE_HOLD, regs[i].roster_no, '1');
        CHECK_EQ(store_put_raw(txn, st, STORE_DB_EXPIRY, k, sizeof k, "", 0, 0), 0);
    }
    store_expiry_key(k, 500, STORE_EXPIRE_HOLD, 424242, '2'); /* no such registration */
    CHECK_EQ(store_put_raw(txn, st, STORE_DB_EXPIRY, k, sizeof k, "", 0, 0), 0);
    store_expiry_key(k, 700, STORE_EXPIRE_CANDIDATE, 31337, 0); /* other kinds stay */
    CHECK_EQ(store_put_raw(txn, st, STORE_DB_EXPIRY, k, sizeof k, "", 0, 0), 0);
    CHECK_EQ(store_meta_put_u64(txn, st, "schema_version", STORE_SCHEMA_UPGRADES_FROM), 0);
    CHECK_EQ(store_commit(txn), 0);
    store_close(st);

    store_options_t ro = {.dir = keep, .read_only = true};
    st = NULL;
    CHECK_EQ(store_open(&ro, &st), STORE_CORRUPT); /* read-only: not upgraded, refused */
    CHECK(st == NULL);
    /* a writing open asked not to (a read-only command's recovery) leaves it at 5 */
    store_options_t keep5 = {.dir = keep, .sync = true, .no_upgrade = true};
    CHECK_EQ(store_open(&keep5, &st), 0);
    if (st) {
        CHECK_EQ(schema_of(st), STORE_SCHEMA_UPGRADES_FROM);
        store_close(st);
    }
    /* a backup of schema 5 restores, upgraded, so it reads as this build's */
    char bk[300], rs[300];
    snprintf(bk, sizeof bk, "%s.bk", keep);
    snprintf(rs, sizeof rs, "%s.rs", keep);
    CHECK_EQ(store_backup(keep, bk, NULL), 0);
    CHECK_EQ(store_restore(bk, rs, false, NULL), 0);
    store_options_t ro_rs = {.dir = rs, .read_only = true};
    st = NULL;
    CHECK_EQ(store_open(&ro_rs, &st), 0);
    if (st) {
        CHECK_EQ(schema_of(st), STORE_SCHEMA_VERSION);
        hold_rows(st, &h);
        CHECK_EQ(h.n, N - 20);
        for (int i = 0; i < h.n; i++) CHECK_EQ(h.id[i], regs[i].seq);
        store_close(st);
    }
    cet_test_rmdir(bk);
    cet_test_rmdir(rs);
    st = open_store(keep, 0); /* writing: upgraded */
    CHECK_EQ(schema_of(st), STORE_SCHEMA_VERSION);
    hold_rows(st, &h);
    CHECK_EQ(h.n, N - 20);
    for (int i = 0; i < h.n; i++) {
        CHECK_EQ(h.id[i], regs[i].seq);
        CHECK_EQ(h.due[i], 90000);
        CHECK_EQ(h.subject[i], '1');
    }
    CHECK_EQ(count_db(st, STORE_DB_EXPIRY), N - 20 + 1); /* and the candidate's entry */
    /* what the upgrade wrote is what store_reg_put keeps: paying removes the entry */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_reg_t paid = regs[3];
    paid.flags |= STORE_REG_PAID;
    paid.expires = 0;
    CHECK_EQ(store_reg_put(txn, st, &paid, regs[3].expires), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(count_db(st, STORE_DB_EXPIRY), N - 20);
    store_close(st);
    st = open_store(keep, 0); /* a second open has nothing to upgrade */
    CHECK_EQ(count_db(st, STORE_DB_EXPIRY), N - 20);
    store_close(st);
    st = NULL;
    CHECK_EQ(store_open(&ro, &st), 0);
    store_close(st);
    cet_test_rmdir(keep);
}

/*
 * store_people_unchanged: true for a snapshot after the last committed txn that
 * wrote an account or a candidate, false for one before it, false once the
 * write txn itself wrote one, and never moved by txns writing other databases
 * or by an aborted one.
 */
static void test_people_unchanged(store_t *st)
{
    store_txn_t *r0, *w;
    CHECK_EQ(store_read_begin(st, &r0), 0);
    uint64_t s0 = store_txn_snapshot(r0);
    store_abort(r0);
    CHECK_EQ(store_write_begin(st, &w), 0);
    CHECK(store_people_unchanged(w, st, s0)); /* nothing since s0 */
    store_account_t a = {.id = {0x77, 1}};
    cet_strlcpy(a.email, "people@example.com", sizeof a.email);
    CHECK_EQ(store_account_put(w, st, &a, false), 0);
    CHECK(!store_people_unchanged(w, st, s0)); /* this txn wrote one */
    store_abort(w);
    CHECK_EQ(store_write_begin(st, &w), 0);
    CHECK(store_people_unchanged(w, st, s0)); /* the aborted one counts for nothing */
    CHECK_EQ(store_account_put(w, st, &a, false), 0);
    CHECK_EQ(store_commit(w), 0);
    CHECK_EQ(store_write_begin(st, &w), 0);
    CHECK(!store_people_unchanged(w, st, s0)); /* committed after s0 */
    store_abort(w);
    store_txn_t *r1;
    CHECK_EQ(store_read_begin(st, &r1), 0);
    uint64_t s1 = store_txn_snapshot(r1);
    store_abort(r1);
    CHECK(s1 > s0);
    CHECK_EQ(store_write_begin(st, &w), 0);
    store_reg_t g = {.roster_no = 424242, .campus = 991010, .subject = '1', .expires = 9000};
    CHECK_EQ(store_reg_put(w, st, &g, 0), 0); /* another database */
    CHECK(store_people_unchanged(w, st, s1));
    CHECK_EQ(store_commit(w), 0);
    CHECK_EQ(store_write_begin(st, &w), 0);
    CHECK(store_people_unchanged(w, st, s1));
    CHECK(!store_people_unchanged(w, st, s0));
    store_candidate_t c;
    memset(&c, 0, sizeof c);
    CHECK_EQ(store_candidate_put(w, st, 424242, &c), 0);
    CHECK(!store_people_unchanged(w, st, s1));
    CHECK_EQ(store_commit(w), 0);
    CHECK_EQ(store_write_begin(st, &w), 0);
    CHECK(!store_people_unchanged(w, st, s1)); /* a candidate counts as an account does */
    store_abort(w);
    store_txn_t *r2;
    CHECK_EQ(store_read_begin(st, &r2), 0);
    CHECK(!store_people_unchanged(r2, st, store_txn_snapshot(r2))); /* not the write txn */
    store_abort(r2);
}

/*
 * The 5 -> 6 upgrade of a directory whose map is full: the upgrade's txn needs
 * fresh pages (the old index's stay pinned until its commit), so it must grow
 * the map and run again, as every other write does, instead of failing every
 * start with MDB_MAP_FULL.
 */
static void test_upgrade_on_a_full_map(void)
{
    char *dir = cet_test_tmpdir();
    char keep[256];
    cet_strlcpy(keep, dir, sizeof keep);
    store_t *st = open_store(keep, 4u << 20);
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_meta_put_u64(txn, st, "schema_version", STORE_SCHEMA_UPGRADES_FROM), 0);
    CHECK_EQ(store_commit(txn), 0);
    /* schema 5 holds (by roster_no) in txns of 500 until the map is full */
    int held = 0, rc = 0;
    for (uint32_t base = 1; rc == 0 && base < 2000000; base += 500) {
        CHECK_EQ(store_write_begin(st, &txn), 0);
        for (uint32_t no = base; rc == 0 && no < base + 500; no++) {
            store_reg_t r = {.roster_no = no, .campus = 991010, .subject = '1', .expires = 90000};
            uint8_t k[STORE_EXPIRY_KEY_BYTES];
            if ((rc = store_reg_put(txn, st, &r, 0))) break;
            store_expiry_key(k, 90000, STORE_EXPIRE_HOLD, r.seq, '1');
            if ((rc = store_del_raw(txn, st, STORE_DB_EXPIRY, k, sizeof k))) break;
            store_expiry_key(k, 90000, STORE_EXPIRE_HOLD, no, '1');
            rc = store_put_raw(txn, st, STORE_DB_EXPIRY, k, sizeof k, "", 0, 0);
        }
        if (rc == 0) rc = store_commit(txn);
        else
            store_abort(txn);
        if (rc == 0) held += 500;
    }
    CHECK_EQ(rc, STORE_MAP_FULL);
    CHECK(held > 5000);
    store_close(st);
    st = open_store(keep, 0); /* upgraded on a grown map */
    CHECK_EQ(schema_of(st), STORE_SCHEMA_VERSION);
    CHECK_EQ(count_db(st, STORE_DB_EXPIRY), held);
    CHECK(store_map_bytes(st) > (4u << 20));
    store_close(st);
    cet_test_rmdir(keep);
}

static void test_schema_version(void)
{
    char *dir = cet_test_tmpdir();
    char keep[256];
    cet_strlcpy(keep, dir, sizeof keep);
    store_t *st = open_store(keep, 0);
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_meta_put_u64(txn, st, "schema_version", 999), 0);
    CHECK_EQ(store_commit(txn), 0);
    store_close(st);
    store_options_t opt = {.dir = keep};
    st = NULL;
    CHECK_EQ(store_open(&opt, &st), STORE_CORRUPT);
    CHECK(st == NULL);
    cet_test_rmdir(keep);
}

/* store_update rewrites in place; store_sweep deletes in bounded, resumable steps;
 * store_scan's callback convention (CET_OK on, CET_DONE stop, any code returned). */
static bool odd_dead_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void)klen, (void)val, (void)vlen, (void)arg;
    return store_rd32(key) % 2 == 1;
}

static int bump_cb(const void *key, size_t klen, void *val, size_t vlen, bool *changed, void *arg)
{
    (void)klen, (void)arg;
    if (vlen != 4) return STORE_CORRUPT;
    store_be32(val, store_rd32(val) + 1000);
    *changed = true;
    return store_rd32(key) == 15 ? CET_DONE : CET_OK;
}

static int stop_at_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void)klen, (void)val, (void)vlen;
    int *seen = arg;
    (*seen)++;
    if (store_rd32(key) == 5) return CET_DONE;
    return CET_OK;
}

static int fail_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void)key, (void)klen, (void)val, (void)vlen, (void)arg;
    return CET_E_SEATS_FULL;
}

static void test_walks(store_t *st)
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    for (uint32_t i = 0; i < 40; i++) {
        uint8_t k[4], v[4];
        store_be32(k, i);
        store_be32(v, i);
        CHECK_EQ(store_put_raw(txn, st, STORE_DB_NOTICE, k, 4, v, 4, 0), 0);
    }
    int seen = 0;
    CHECK_EQ(store_scan(txn, st, STORE_DB_NOTICE, NULL, 0, stop_at_cb, &seen), CET_OK);
    CHECK_EQ(seen, 6);
    CHECK_EQ(store_scan(txn, st, STORE_DB_NOTICE, NULL, 0, fail_cb, NULL), CET_E_SEATS_FULL);
    /* update 10..15 in place, stop there */
    uint8_t from[4];
    store_be32(from, 10);
    CHECK_EQ(store_update(txn, st, STORE_DB_NOTICE, from, 4, bump_cb, NULL), CET_OK);
    uint8_t k[4], v[4];
    size_t len;
    for (uint32_t i = 8; i < 18; i++) {
        store_be32(k, i);
        CHECK_EQ(store_get_raw(txn, st, STORE_DB_NOTICE, k, 4, v, 4, &len), 0);
        CHECK_EQ(store_rd32(v), (i >= 10 && i <= 15) ? i + 1000 : i);
    }
    /* sweep 16 at a time: odd keys go, the resume key walks on, the end says CET_DONE */
    uint8_t next[8];
    size_t nlen = 0, flen = 0;
    int rounds = 0, rc;
    do {
        rc = store_sweep(txn, st, STORE_DB_NOTICE, next, flen, 16, odd_dead_cb, NULL, next,
                         sizeof next, &nlen);
        flen = nlen;
        rounds++;
    } while (rc == CET_OK && rounds < 10);
    CHECK_EQ(rc, CET_DONE);
    CHECK_EQ(rounds, 3);
    CHECK_EQ(nlen, 0);
    size_t n = 0;
    CHECK_EQ(store_count(txn, st, STORE_DB_NOTICE, &n), 0);
    CHECK_EQ(n, 20);
    store_abort(txn);
}

/* store_commit_timed: a txn that changed nothing is no write and no flush. */
static void test_commit_timed(void)
{
    char *dir = cet_test_tmpdir();
    char keep[256];
    cet_strlcpy(keep, dir, sizeof keep);
    store_options_t opt = {.dir = keep, .sync = true, .map_bytes = 4 << 20};
    store_t *st = NULL;
    CHECK_EQ(store_open(&opt, &st), 0);
    store_txn_t *txn;
    store_commit_info_t info;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_commit_timed(txn, &info), 0);
    CHECK(!info.wrote && info.sync_ns == 0);
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_meta_put_u64(txn, st, "x", 1), 0);
    CHECK_EQ(store_commit_timed(txn, &info), 0);
    CHECK(info.wrote && info.sync_ns > 0);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_commit_timed(txn, &info), 0);
    CHECK(!info.wrote);
    store_close(st);
    cet_test_rmdir(keep);
}

static int file_mode(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    return stat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

/* store_backup beside a writing owner, and store_restore's refusals and result. */
static void test_backup_restore(void)
{
    char *tmp = cet_test_tmpdir();
    char root[256], data[300], out[300], again[300], bad[300];
    cet_strlcpy(root, tmp, sizeof root);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(out, sizeof out, "%s/backup", root);
    snprintf(again, sizeof again, "%s/restored", root);
    snprintf(bad, sizeof bad, "%s/bad", root);
    store_t *st = open_store(data, 4 << 20); /* the owner: holds data's lock */
    grow_st = st; /* fill_many_cb's store */
    fill_arg_t f = {0, 5000};
    CHECK_EQ(store_write_run(st, fill_many_cb, &f), 0);
    mode_t old_umask = umask(0); /* the backup's mode is the data's, not the umask's */
    store_copy_info_t info;
    CHECK_EQ(store_backup(data, out, &info), 0);
    umask(old_umask);
    CHECK(info.bytes > 0 && info.source_bytes > 0);
    CHECK_EQ(file_mode(out, "data.mdb"), file_mode(data, "data.mdb"));
    CHECK_EQ(file_mode(out, "data.mdb"), 0640);
    CHECK_EQ(file_mode(out, "lock.mdb"), -1);
    /* written after the backup: not in it */
    fill_arg_t g = {5000, 5100};
    CHECK_EQ(store_write_run(st, fill_many_cb, &g), 0);
    CHECK_EQ(store_backup(data, out, NULL), ENOTEMPTY);
    CHECK_EQ(store_backup(out, again, NULL), 0); /* a backup of a backup is fine */
    cet_test_rmdir(again);
    CHECK_EQ(store_backup(bad, again, NULL), ENOENT);
    CHECK_EQ(file_mode(root, "restored"), -1); /* nothing left behind */
    /* the owner holds data: a restore onto it is refused, even with force */
    CHECK_EQ(store_restore(out, data, true, NULL), STORE_LOCKED);
    CHECK_EQ(store_restore(out, data, false, NULL), ENOTEMPTY);
    store_close(st);
    /* not a backup: refused before dir is touched */
    CHECK_EQ(mkdir(bad, 0750), 0);
    char junk[320];
    snprintf(junk, sizeof junk, "%s/data.mdb", bad);
    int fd = open(junk, O_WRONLY | O_CREAT, 0640);
    CHECK(fd >= 0 && write(fd, "not lmdb", 8) == 8);
    close(fd);
    CHECK(store_restore(bad, again, false, NULL) != 0);
    CHECK_EQ(file_mode(root, "restored"), -1);
    /* into a new directory, and with force over the data it came from */
    CHECK_EQ(store_restore(out, again, false, &info), 0);
    CHECK_EQ(file_mode(again, "data.mdb"), 0640);
    CHECK_EQ(store_restore(out, data, true, NULL), 0);
    CHECK_EQ(file_mode(data, "lock.mdb"), -1); /* the replaced data's reader table is gone */
    for (int k = 0; k < 2; k++) {
        st = open_store(k ? data : again, 0);
        CHECK_EQ(count_db(st, STORE_DB_SCORE), 5000);
        store_close(st);
    }
    cet_test_rmdir(root);
}

/* The audit log is a hash chain (store_admin.c): entries link, a change or a removal
 * is found, and the hash is the documented netstring SHA-256 (recomputed here). */
static int count_cb(const store_audit_entry_t *e, void *arg)
{
    (void)e;
    (*(int *)arg)++;
    return CET_OK;
}

static void test_audit_chain(store_t *st)
{
    store_txn_t *txn;
    uint64_t n = 0, bad = 0, base = 0;
    char why[256];
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_audit_verify(txn, st, &base, &bad, why, sizeof why), 0);
    store_abort(txn);
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_audit_log(txn, st, 1764547200, "teacher10013", "offer_set",
                             "school:10013 offer:100130/1", "capacity 10->20"),
             0);
    CHECK_EQ(store_audit_log(txn, st, 1764547201, "prov11", "announce_post",
                             "province:11 announcement:1", "考区通知"),
             0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_audit_verify(txn, st, &n, &bad, why, sizeof why), 0);
    CHECK_EQ(n, base + 2);
    int seen = 0;
    CHECK_EQ(store_audit_scan(txn, st, base, 0, count_cb, &seen), 0);
    CHECK_EQ(seen, 2);
    seen = 0;
    CHECK_EQ(store_audit_scan(txn, st, 0, 1, count_cb, &seen), 0);
    CHECK_EQ(seen, 1);
    /* the last entry decodes to what was logged, and links to the one before */
    uint8_t k[8], buf[1024];
    size_t len = 0;
    store_be64(k, n);
    CHECK_EQ(store_get_raw(txn, st, STORE_DB_AUDIT, k, 8, buf, sizeof buf, &len), 0);
    store_audit_entry_t e, prev;
    CHECK_EQ(store_audit_decode(k, 8, buf, len, &e), 0);
    CHECK(!strcmp(e.target, "province:11 announcement:1") && !strcmp(e.detail, "考区通知"));
    uint8_t h[32];
    store_audit_hash(&e, h);
    CHECK(!memcmp(h, e.hash, 32));
    store_be64(k, n - 1);
    CHECK_EQ(store_get_raw(txn, st, STORE_DB_AUDIT, k, 8, buf, sizeof buf, &len), 0);
    CHECK_EQ(store_audit_decode(k, 8, buf, len, &prev), 0);
    CHECK(!memcmp(e.prev_hash, prev.hash, 32));
    store_abort(txn);
    /* one byte of the detail changed: found at that entry */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_be64(k, n - 1);
    CHECK_EQ(store_get_raw(txn, st, STORE_DB_AUDIT, k, 8, buf, sizeof buf, &len), 0);
    buf[sizeof(store_audit_t)] ^= 1;
    CHECK_EQ(store_put_raw(txn, st, STORE_DB_AUDIT, k, 8, buf, len, 0), 0);
    CHECK_EQ(store_audit_verify(txn, st, &n, &bad, why, sizeof why), CET_REFUSED);
    CHECK_EQ(bad, base + 1);
    buf[sizeof(store_audit_t)] ^= 1; /* back */
    CHECK_EQ(store_put_raw(txn, st, STORE_DB_AUDIT, k, 8, buf, len, 0), 0);
    CHECK_EQ(store_audit_verify(txn, st, &n, &bad, why, sizeof why), 0);
    /* the last entry removed: the head no longer matches */
    store_be64(k, n);
    CHECK_EQ(store_del_raw(txn, st, STORE_DB_AUDIT, k, 8), 0);
    CHECK_EQ(store_audit_verify(txn, st, &n, &bad, why, sizeof why), CET_REFUSED);
    store_abort(txn);
}

int main(void)
{
    char *dir = cet_test_tmpdir();
    char keep[256];
    cet_strlcpy(keep, dir, sizeof keep);
    store_t *st = open_store(keep, 0);
    test_roster(st);
    test_account(st);
    test_regs_and_expiry(st);
    test_reg_index_txns(st);
    test_reg_index_race(st);
    test_candidate_expiry(st);
    test_orders_audit(st);
    test_audit_chain(st);
    test_walks(st);
    test_people_unchanged(st);
    store_close(st);
    st = open_store(keep, 0); /* the index is rebuilt from the `reg` database */
    store_txn_t *txn;
    store_reg_t got, list[4];
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_reg_get(txn, st, 7, '1', &got), 0);
    CHECK_EQ(got.flags & STORE_REG_PAID, STORE_REG_PAID);
    CHECK_EQ(store_reg_list(txn, st, 8, list, 4), 1);
    CHECK_EQ(store_reg_get(txn, st, 7, 'F', &got), STORE_NOTFOUND);
    store_abort(txn);
    store_close(st);
    cet_test_rmdir(keep);
    test_grow();
    test_schema_version();
    test_hold_layout_and_upgrade();
    test_upgrade_on_a_full_map();
    test_commit_timed();
    test_backup_restore();
    return cet_test_done("test_store");
}
