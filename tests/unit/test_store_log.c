/*
 * Unit tests of store/store_log.c: every write path of the store is in the
 * commit log. A child process opens the store with sync, writes through each
 * path (put, delete, store_update's cursor put, store_sweep's cursor delete,
 * a roster record's NOOVERWRITE put, a bulk txn over CET_LOG_TXN_BYTES_MAX,
 * forced checkpoints between them) and dies with _exit (no close: what
 * kill -9 leaves). The parent then opens the directory as it is, and a copy
 * of it with every page past the checkpoint's last page cut off (what a power
 * loss may leave), and reads back exactly what the child committed.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "tests/unit/cet_test.h"

#define KEYS 3000
#define BULK_KEYS 40000 /* 40000 x 500 bytes: over CET_LOG_TXN_BYTES_MAX */
#define BULK_VALUE 500
#define LATE_KEYS 2000

static store_t *open_sync_replay(const char *dir, size_t replay_txn_bytes)
{
    store_options_t opt = {.dir = dir, .sync = true, .map_bytes = 64u << 20, .owner = "unit",
                           .replay_txn_bytes = replay_txn_bytes};
    store_t *st = NULL;
    int rc = store_open(&opt, &st);
    if (rc) {
        fprintf(stderr, "store_open %s: %s\n", dir, store_strerror(rc));
        exit(2);
    }
    return st;
}

static store_t *open_sync(const char *dir)
{
    return open_sync_replay(dir, 0);
}

static void key_of(uint8_t k[8], uint64_t i)
{
    for (int b = 0; b < 8; b++) k[b] = (uint8_t)(i >> (56 - 8 * b));
}

static int put(store_t *st, store_txn_t *txn, store_db_t db, uint64_t i, uint64_t v)
{
    uint8_t k[8];
    key_of(k, i);
    return store_put_raw(txn, st, db, k, 8, &v, sizeof v, 0);
}

/* every value + 1000000, written back through store_update's cursor */
static int bump_all(const void *key, size_t klen, void *val, size_t vlen, bool *changed, void *arg)
{
    (void)key, (void)klen, (void)arg;
    uint64_t v;
    memcpy(&v, val, sizeof v);
    v += 1000000;
    memcpy(val, &v, sizeof v);
    *changed = vlen == sizeof v;
    return CET_OK;
}

/* odd keys are dead */
static bool odd_dead(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void)val, (void)vlen, (void)arg;
    return klen == 8 && (((const uint8_t *)key)[7] & 1);
}

/* The child: everything it does is committed (durable) before it dies. */
static void child(const char *dir)
{
    store_t *st = open_sync(dir);
    store_txn_t *txn;
    /* 1. puts into SCORE (a plain database of ours), in 30 txns */
    for (int t = 0; t < 30; t++) {
        if (store_write_begin(st, &txn)) _exit(3);
        for (int i = t * (KEYS / 30); i < (t + 1) * (KEYS / 30); i++)
            if (put(st, txn, STORE_DB_SCORE, (uint64_t)i, (uint64_t)i)) _exit(4);
        if (store_commit(txn)) _exit(5);
        if (t == 10 && store_sync(st)) _exit(6); /* a checkpoint in the middle */
    }
    /* 2. store_update: every value + 1000000 (cursor puts) */
    if (store_write_begin(st, &txn)) _exit(7);
    if (store_update(txn, st, STORE_DB_SCORE, NULL, 0, bump_all, NULL)) _exit(8);
    if (store_commit(txn)) _exit(9);
    if (store_sync(st)) _exit(10);
    /* 3. store_sweep: odd keys deleted (cursor deletes), in sweeps of 500 */
    uint8_t from[8];
    size_t flen = 0;
    for (;;) {
        if (store_write_begin(st, &txn)) _exit(11);
        uint8_t next[8];
        size_t nlen = 0;
        int rc = store_sweep(txn, st, STORE_DB_SCORE, from, flen, 500, odd_dead, NULL, next,
                             sizeof next, &nlen);
        if (rc != CET_OK && rc != CET_DONE) _exit(12);
        if (store_commit(txn)) _exit(13);
        if (rc == CET_DONE) break;
        memcpy(from, next, nlen);
        flen = nlen;
    }
    /* 4. plain deletes: keys 0..99 */
    if (store_write_begin(st, &txn)) _exit(14);
    for (uint64_t i = 0; i < 100; i += 2) {
        uint8_t k[8];
        key_of(k, i);
        if (store_del_raw(txn, st, STORE_DB_SCORE, k, 8)) _exit(15);
    }
    if (store_commit(txn)) _exit(16);
    /* 5. a roster record (store_roster_put: MDB_NOOVERWRITE put) */
    if (store_write_begin(st, &txn)) _exit(17);
    store_roster_t r = {.school = 99101, .campus = 991010, .id_type = STORE_ID_MAINLAND};
    cet_strlcpy(r.id_number, "11010519491231002x", sizeof r.id_number);
    cet_strlcpy(r.name, "log test", sizeof r.name);
    if (store_roster_put(txn, st, &r)) _exit(18);
    if (store_commit(txn)) _exit(19);
    /* 6. a bulk txn too big for one record, into AUDIT's key space of ours */
    if (store_write_begin(st, &txn)) _exit(20);
    static uint8_t big[BULK_VALUE];
    for (uint64_t i = 0; i < BULK_KEYS; i++) {
        uint8_t k[8];
        key_of(k, 1000000 + i);
        memset(big, (int)(i & 0xff), sizeof big);
        if (store_put_raw(txn, st, STORE_DB_NOTICE, k, 8, big, sizeof big, 0)) _exit(21);
    }
    if (store_commit(txn)) _exit(22);
    /* 7. more commits after it, in the log only, on new pages (the map grows) */
    for (int t = 0; t < 5; t++) {
        if (store_write_begin(st, &txn)) _exit(23);
        for (uint64_t j = 0; j < LATE_KEYS; j++)
            if (put(st, txn, STORE_DB_SCORE, 900000 + (uint64_t)t * 10000 + j, 7)) _exit(24);
        if (store_commit(txn)) _exit(25);
    }
    store_log_stats_t ls;
    store_log_stats(st, &ls);
    if (ls.records < 30 || ls.checkpoints < 3) _exit(26);
    _exit(0); /* no store_close: no last checkpoint */
}

static void expect_content(const char *dir, const char *what)
{
    store_t *st = open_sync(dir);
    store_txn_t *txn;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    int present = 0, wrong = 0;
    for (uint64_t i = 0; i < KEYS; i++) {
        uint8_t k[8];
        key_of(k, i);
        uint64_t v = 0;
        size_t len = 0;
        int rc = store_get_raw(txn, st, STORE_DB_SCORE, k, 8, &v, sizeof v, &len);
        bool want = !(i & 1) && i >= 100;
        if (rc == 0) present++;
        if ((rc == 0) != want || (rc == 0 && v != i + 1000000)) wrong++;
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(present, KEYS / 2 - 50);
    int late = 0;
    for (uint64_t t = 0; t < 5; t++)
        for (uint64_t j = 0; j < LATE_KEYS; j++) {
            uint8_t k[8];
            key_of(k, 900000 + t * 10000 + j);
            uint64_t v = 0;
            late += store_get_raw(txn, st, STORE_DB_SCORE, k, 8, &v, sizeof v, NULL) == 0 && v == 7;
        }
    CHECK_EQ(late, 5 * LATE_KEYS);
    size_t n = 0;
    CHECK_EQ(store_count(txn, st, STORE_DB_NOTICE, &n), 0);
    CHECK_EQ(n, BULK_KEYS);
    uint8_t k[8], big[BULK_VALUE];
    key_of(k, 1000000 + 12345);
    size_t len = 0;
    CHECK_EQ(store_get_raw(txn, st, STORE_DB_NOTICE, k, 8, big, sizeof big, &len), 0);
    CHECK(len == BULK_VALUE && big[0] == (12345 & 0xff) && big[BULK_VALUE - 1] == (12345 & 0xff));
    store_roster_t r;
    CHECK_EQ(store_roster_get(txn, st, STORE_ID_MAINLAND, "11010519491231002x", &r), 0);
    CHECK(strcmp(r.name, "log test") == 0);
    store_abort(txn);
    store_log_stats_t ls;
    store_log_stats(st, &ls);
    printf("%s: %llu log records applied again\n", what, (unsigned long long)ls.replayed);
    CHECK(ls.replayed >= 5); /* at least the commits after the bulk txn's checkpoint */
    store_close(st);
}

static uint64_t rd64le(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Cuts data.mdb after the last page of the checkpoint's snapshot. */
static void cut_after_checkpoint(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    uint8_t buf[48 + 2 * 65536];
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint32_t psize;
    memcpy(&psize, buf + 12, 4);
    CHECK(got >= 48 + 2 * (size_t)psize);
    uint64_t last = 0, best = 0;
    for (int i = 0; i < 2; i++) {
        const uint8_t *m = buf + 48 + (size_t)i * psize;
        uint64_t last_pg = rd64le(m + 136), txnid = rd64le(m + 144);
        if (txnid >= best) best = txnid, last = last_pg;
    }
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat sb;
    CHECK_EQ(stat(path, &sb), 0);
    off_t cut = (off_t)((last + 1) * psize);
    CHECK(cut < sb.st_size); /* pages were written after the checkpoint */
    CHECK_EQ(truncate(path, cut), 0);
}

/* A child writes n commits of 20 keys from base, then dies without closing. */
static void write_and_die(const char *dir, uint64_t base, int n)
{
    pid_t pid = fork();
    if (pid == 0) {
        store_t *st = open_sync(dir);
        for (int t = 0; t < n; t++) {
            store_txn_t *txn;
            if (store_write_begin(st, &txn)) _exit(3);
            for (uint64_t j = 0; j < 20; j++)
                if (put(st, txn, STORE_DB_SCORE, base + (uint64_t)t * 20 + j, base + (uint64_t)t))
                    _exit(4);
            if (store_commit(txn)) _exit(5);
        }
        _exit(0);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int count_from(store_t *st, uint64_t base, int n)
{
    store_txn_t *txn;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    int ok = 0;
    for (int t = 0; t < n; t++)
        for (uint64_t j = 0; j < 20; j++) {
            uint8_t k[8];
            key_of(k, base + (uint64_t)t * 20 + j);
            uint64_t v = 0;
            ok += store_get_raw(txn, st, STORE_DB_SCORE, k, 8, &v, sizeof v, NULL) == 0 &&
                  v == base + (uint64_t)t;
        }
    store_abort(txn);
    return ok;
}

/*
 * A recovery that dies after replaying (in many small txns) and before its
 * new checkpoint: the next recovery goes back to the same checkpoint, so the
 * replay must not have reused that snapshot's pages.
 */
static void test_death_after_replay(const char *dir)
{
    write_and_die(dir, 5000000, 400);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("CET_TEST_EXIT_AFTER_REPLAY", "1", 1);
        open_sync_replay(dir, 16u << 10); /* _exits inside, after the replay */
        _exit(7);                        /* the hook did not fire */
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    store_t *st = open_sync(dir);
    CHECK_EQ(count_from(st, 5000000, 400), 400 * 20);
    store_close(st);
}

/* Log files without a checkpoint (a crash inside a restore) are never replayed. */
static void test_stale_log_ignored(const char *with_log, const char *other)
{
    write_and_die(with_log, 7000000, 50); /* wal-*.log hold records 1..50 */
    store_close(open_sync(other));        /* another store, closed cleanly */
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -f '%s/checkpoint' && cp '%s'/wal-*.log '%s'/", other, with_log,
             other);
    CHECK_EQ(system(cmd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        open_sync(other); /* no checkpoint: a fresh log; then it dies */
        _exit(0);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    store_t *st = open_sync(other);
    store_log_stats_t ls;
    store_log_stats(st, &ls);
    CHECK_EQ(ls.replayed, 0);
    CHECK_EQ(count_from(st, 7000000, 50), 0);
    store_close(st);
}

int main(void)
{
    char *dir = cet_test_tmpdir();
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    pid_t pid = fork();
    if (pid == 0) child(a);
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "child exit status %d\n", WEXITSTATUS(status));
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", a, b);
    CHECK_EQ(system(cmd), 0);
    cut_after_checkpoint(b);
    expect_content(a, "as left by the crash");
    expect_content(b, "pages past the checkpoint cut");
    /* reopened after a clean close: nothing to replay */
    store_t *st = open_sync(b);
    store_log_stats_t ls;
    store_log_stats(st, &ls);
    CHECK_EQ(ls.replayed, 0);
    store_close(st);
    char c[300], d[300], e[300];
    snprintf(c, sizeof c, "%s/c", dir);
    snprintf(d, sizeof d, "%s/d", dir);
    snprintf(e, sizeof e, "%s/e", dir);
    test_death_after_replay(c);
    test_stale_log_ignored(d, e);
    cet_test_rmdir(dir);
    return cet_test_done("test_store_log");
}
