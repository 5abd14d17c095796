/*
 * Seat counters: several threads hammer one counter, taking and giving back;
 * the seats taken never exceed capacity and none are lost. Rebuild from LMDB
 * gives capacity minus live registrations.
 */
#include "engine/eng_seats.h"

#include <pthread.h>
#include <stdatomic.h>

#include "base/cet_base.h"
#include "tests/unit/cet_test.h"

#define THREADS 8
#define CAPACITY 1000
#define ROUNDS 200000

static eng_seats_t *seats;
static int slot;
static _Atomic int held;     /* seats the threads hold right now */
static _Atomic int max_held; /* the most ever held at once */
static _Atomic long taken_total;

static void *hammer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    int mine = 0;
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 3 != 0 || mine == 0) {
            if (eng_seats_take(seats, slot)) {
                int h = atomic_fetch_add(&held, 1) + 1;
                int m = atomic_load(&max_held);
                while (h > m && !atomic_compare_exchange_weak(&max_held, &m, h)) {
                }
                mine++;
                atomic_fetch_add(&taken_total, 1);
            }
        } else {
            atomic_fetch_sub(&held, 1);
            eng_seats_give(seats, slot);
            mine--;
        }
    }
    return (void *)(intptr_t)mine;
}

static void test_hammer(void)
{
    seats = eng_seats_new();
    slot = eng_seats_add(seats, 991010, '1', CAPACITY, 0);
    CHECK(slot >= 0);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, hammer, (void *)(uintptr_t)(t + 1));
    long still = 0;
    for (int t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(th[t], &r);
        still += (intptr_t)r;
    }
    CHECK(atomic_load(&max_held) <= CAPACITY);
    CHECK_EQ(still, atomic_load(&held));
    CHECK_EQ(eng_seats_left(seats, slot), CAPACITY - still);
    CHECK(atomic_load(&taken_total) > CAPACITY); /* it really was contended */
    printf("hammer: %ld takes, max held %d of %d, %ld held at end\n", atomic_load(&taken_total),
           atomic_load(&max_held), CAPACITY, still);

    /* drain to zero: the next take fails, a give makes one available */
    while (eng_seats_take(seats, slot)) {
    }
    CHECK_EQ(eng_seats_left(seats, slot), 0);
    CHECK(!eng_seats_take(seats, slot));
    eng_seats_give(seats, slot);
    CHECK(eng_seats_take(seats, slot));
    /* a give never pushes above capacity */
    for (int i = 0; i < CAPACITY + 10; i++) eng_seats_give(seats, slot);
    CHECK_EQ(eng_seats_left(seats, slot), CAPACITY);
    /* capacity changes move the seats left by the difference */
    eng_seats_set_capacity(seats, slot, CAPACITY - 100);
    CHECK_EQ(eng_seats_left(seats, slot), CAPACITY - 100);
    CHECK_EQ(eng_seats_slot(seats, 991010, '2'), -1);
    eng_seats_free(seats);
}

static void test_load(void)
{
    char *dir = cet_test_tmpdir();
    char keep[256];
    cet_strlcpy(keep, dir, sizeof keep);
    store_options_t opt = {.dir = keep};
    store_t *st;
    CHECK_EQ(store_open(&opt, &st), 0);
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_offer_t o1 = {.campus = 100130, .subject = '1', .capacity = 10, .fee = 3000};
    store_offer_t o2 = {.campus = 100130, .subject = 'F', .capacity = 2, .fee = 5000};
    CHECK_EQ(store_offer_put(txn, st, &o1), 0);
    CHECK_EQ(store_offer_put(txn, st, &o2), 0);
    for (uint32_t i = 1; i <= 3; i++) {
        store_reg_t r = {.roster_no = i, .campus = 100130, .subject = '1'};
        CHECK_EQ(store_reg_put(txn, st, &r, 0), 0);
        r.subject = 'F';
        r.seq = 0; /* a new registration, not an update of the first */
        CHECK_EQ(store_reg_put(txn, st, &r, 0), 0); /* 3 on a capacity of 2: over */
    }
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    eng_seats_t *s = eng_seats_new();
    CHECK_EQ(eng_seats_load(s, txn, st), 0);
    store_abort(txn);
    CHECK_EQ(eng_seats_count(s), 2);
    CHECK_EQ(eng_seats_left(s, eng_seats_slot(s, 100130, '1')), 7);
    CHECK_EQ(eng_seats_left(s, eng_seats_slot(s, 100130, 'F')), 0);
    eng_seats_free(s);
    store_close(st);
    cet_test_rmdir(keep);
}

int main(void)
{
    test_hammer();
    test_load();
    return cet_test_done("test_eng_seats");
}
