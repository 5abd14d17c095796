/*
 * Unit tests of the store's fault handling (issue 9, items 2 and 6):
 *   - the map grows while other threads hold and renew read txns (the gate):
 *     readers never see a torn map, every value they read is one a commit
 *     left, and nothing crashes (before the gate: SIGSEGV in mdb_get);
 *   - a restart keeps the map size its meta page records (before: doubled);
 *   - one owner per data directory: a second writing open is STORE_LOCKED and
 *     names the holder, a read-only open still reads, the lock goes with
 *     store_close;
 *   - the read path's cost with the gate (printed: ns per renew+get+reset).
 */
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "tests/unit/cet_test.h"

#define MAP_SMALL_BYTES (1u << 20)
#define VALUE_BYTES 2000u
#define KEYS_PER_TXN 64u
#define TXNS 160u /* 160 x 64 x 2000 B = 20 MiB: the 1 MiB map grows 5 times */

static store_t *open_dir(const char *dir, size_t map, bool read_only, int *rc_out)
{
    store_options_t opt = {
        .dir = dir, .sync = false, .read_only = read_only, .map_bytes = map, .owner = "unit"};
    store_t *st = NULL;
    int rc = store_open(&opt, &st);
    if (rc_out) *rc_out = rc;
    return st;
}

/* A value that says which key it belongs to: a reader can tell a torn one. */
static void fill(uint8_t *v, uint32_t key)
{
    for (unsigned i = 0; i < VALUE_BYTES; i += 4) store_be32(v + i, key ^ i);
}

static bool value_ok(const store_val_t *v, uint32_t key)
{
    if (v->len != VALUE_BYTES) return false;
    for (unsigned i = 0; i < VALUE_BYTES; i += 4)
        if (store_rd32((const uint8_t *)v->data + i) != (key ^ i)) return false;
    return true;
}

typedef struct fill_job {
    store_t *st;
    uint32_t first;
} fill_job_t;

static int fill_txn_cb(store_txn_t *txn, void *arg)
{
    static uint8_t v[VALUE_BYTES];
    fill_job_t *j = arg;
    for (uint32_t k = j->first; k < j->first + KEYS_PER_TXN; k++) {
        uint8_t key[4];
        store_be32(key, k);
        fill(v, k);
        int rc = store_put_raw(txn, j->st, STORE_DB_AUDIT, key, 4, v, VALUE_BYTES, 0);
        if (rc) return rc;
    }
    return 0;
}

/* ---- map growth under live readers ---- */
static store_t *grow_st;
static _Atomic int grow_stop;
static _Atomic uint32_t grow_committed; /* keys below this are committed */
static _Atomic long grow_reads, grow_bad;

static void *grow_reader(void *arg)
{
    bool pooled = (intptr_t)arg != 0; /* a core's store_read_txn_t, or short store_read_begin */
    store_read_txn_t *rt = NULL;
    if (pooled) CHECK_EQ(store_read_txn_new(grow_st, &rt), 0);
    uint32_t x = 12345;
    while (!atomic_load(&grow_stop)) {
        uint32_t upto = atomic_load(&grow_committed);
        store_txn_t *txn;
        int rc = pooled ? store_read_txn_renew(rt, &txn) : store_read_begin(grow_st, &txn);
        if (rc) {
            atomic_fetch_add(&grow_bad, 1);
            continue;
        }
        for (int i = 0; i < 32 && upto; i++) {
            x = x * 1103515245u + 12345u;
            uint32_t k = x % upto;
            uint8_t key[4];
            store_be32(key, k);
            store_val_t v;
            if (store_get_ref(txn, grow_st, STORE_DB_AUDIT, key, 4, &v) != 0 || !value_ok(&v, k))
                atomic_fetch_add(&grow_bad, 1);
            atomic_fetch_add(&grow_reads, 1);
        }
        if (pooled)
            store_read_txn_reset(rt);
        else
            store_abort(txn);
    }
    store_read_txn_free(rt);
    return NULL;
}

static void test_grow_with_readers(const char *dir)
{
    int rc;
    grow_st = open_dir(dir, MAP_SMALL_BYTES, false, &rc);
    CHECK_EQ(rc, 0);
    if (!grow_st) return;
    pthread_t th[4];
    for (intptr_t i = 0; i < 4; i++) pthread_create(&th[i], NULL, grow_reader, (void *)(i % 2));
    size_t map0 = store_map_bytes(grow_st);
    for (uint32_t t = 0; t < TXNS; t++) {
        fill_job_t j = {grow_st, t * KEYS_PER_TXN};
        CHECK_EQ(store_write_run(grow_st, fill_txn_cb, &j), 0);
        atomic_store(&grow_committed, (t + 1) * KEYS_PER_TXN);
    }
    usleep(20000);
    atomic_store(&grow_stop, 1);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    size_t map1 = store_map_bytes(grow_st);
    printf("grow: map %zu KiB -> %zu KiB under 4 reading threads, %ld reads, %ld bad\n",
           map0 >> 10, map1 >> 10, atomic_load(&grow_reads), atomic_load(&grow_bad));
    CHECK(map1 >= 16 * map0);
    CHECK(atomic_load(&grow_reads) > 1000);
    CHECK_EQ(atomic_load(&grow_bad), 0);
    store_close(grow_st);
}

/* A thread holding a read txn cannot grow the map (it would wait for itself). */
static void test_grow_own_reader(const char *dir)
{
    int rc;
    store_t *st = open_dir(dir, 0, false, &rc);
    CHECK_EQ(rc, 0);
    if (!st) return;
    size_t map = store_map_bytes(st);
    store_txn_t *txn;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_grow(st), CET_AGAIN);
    store_abort(txn);
    CHECK_EQ(store_map_bytes(st), map);
    CHECK_EQ(store_grow(st), 0);
    CHECK_EQ(store_map_bytes(st), map * 2);
    store_close(st);
}

/* ---- a restart keeps the map ---- */
static void test_restart_keeps_map(const char *dir)
{
    /* dir holds the environment grown by test_grow_with_readers */
    int rc;
    store_t *st = open_dir(dir, MAP_SMALL_BYTES, false, &rc);
    CHECK_EQ(rc, 0);
    if (!st) return;
    size_t grown = store_map_bytes(st);
    CHECK(grown > MAP_SMALL_BYTES);
    store_close(st);
    for (int i = 0; i < 5; i++) {
        st = open_dir(dir, i % 2 ? 0 : MAP_SMALL_BYTES, false, &rc); /* any configured size */
        CHECK_EQ(rc, 0);
        if (!st) return;
        CHECK_EQ(store_map_bytes(st), grown);
        store_close(st);
    }
    st = open_dir(dir, 0, true, &rc); /* read only sees the same */
    CHECK_EQ(rc, 0);
    if (st) CHECK_EQ(store_map_bytes(st), grown);
    store_close(st);
    printf("restart: map stays %zu KiB over 6 opens\n", grown >> 10);
}

/* ---- one owner per data directory ---- */
static void test_lock(const char *dir)
{
    int rc;
    store_t *a = open_dir(dir, 0, false, &rc);
    CHECK_EQ(rc, 0);
    if (!a) return;
    store_t *b = open_dir(dir, 0, false, &rc);
    CHECK_EQ(rc, STORE_LOCKED);
    CHECK(b == NULL);
    pid_t pid = 0;
    char who[32];
    CHECK_EQ(store_dir_holder(dir, &pid, who, sizeof who), 0);
    CHECK_EQ(pid, getpid());
    CHECK(strcmp(who, "unit") == 0);
    /* another process is refused too, and reads still work beside the owner */
    pid_t child = fork();
    if (child == 0) {
        int crc;
        store_t *c = open_dir(dir, 0, false, &crc);
        if (c || crc != STORE_LOCKED) _exit(1);
        c = open_dir(dir, 0, true, &crc);
        if (!c) _exit(2);
        store_txn_t *txn;
        size_t n = 0;
        if (store_read_begin(c, &txn) || store_count(txn, c, STORE_DB_AUDIT, &n) || n == 0) _exit(3);
        store_abort(txn);
        store_close(c);
        _exit(0);
    }
    int status = -1;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    store_close(a);
    b = open_dir(dir, 0, false, &rc); /* released with store_close */
    CHECK_EQ(rc, 0);
    store_close(b);
}

/* ---- what the gate costs a reader ---- */
static void test_read_path_cost(const char *dir)
{
    int rc;
    store_t *st = open_dir(dir, 0, false, &rc);
    if (!st) return;
    store_read_txn_t *rt;
    CHECK_EQ(store_read_txn_new(st, &rt), 0);
    enum { ROUNDS = 1000000 };
    uint8_t key[4];
    store_be32(key, 7);
    uint64_t t0 = cet_mono_ns();
    for (int i = 0; i < ROUNDS; i++) {
        store_txn_t *txn;
        store_val_t v;
        if (store_read_txn_renew(rt, &txn) || store_get_ref(txn, st, STORE_DB_AUDIT, key, 4, &v))
            CHECK(0);
        store_read_txn_reset(rt);
    }
    uint64_t ns = cet_mono_ns() - t0;
    printf("read path: %.0f ns per renew + get + reset (gate included)\n", (double)ns / ROUNDS);
    store_read_txn_free(rt);
    store_close(st);
}

int main(void)
{
    char keep[256];
    cet_strlcpy(keep, cet_test_tmpdir(), sizeof keep);
    test_grow_with_readers(keep);
    test_restart_keeps_map(keep);
    test_lock(keep);
    test_read_path_cost(keep);
    test_grow_own_reader(keep);
    cet_test_rmdir(keep);
    return cet_test_done("test_store_faults");
}
