/*
 * Between checkpoints the checkpoint thread starts the writeback of data.mdb's
 * dirty pages every CET_WRITEBACK_MS (store_log.c, "writeback"), so the log's
 * O_DSYNC writes never queue behind a second's worth of page writes. Checked
 * on the page cache itself with cachestat(2) (Linux 6.5): after one commit of
 * about 2 MB, data.mdb's dirty pages go to none within a second while no
 * checkpoint runs; the kernel alone would keep them dirty for its 30 s expiry.
 * Exits 77 (ctest: skipped, not passed) on a kernel without cachestat or a
 * file system that keeps no dirty pages (tmpfs).
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "tests/unit/cet_test.h"

/* cachestat(2): include/uapi/linux/mman.h of Linux 6.5; the same number on every arch */
#define CACHESTAT_NR 451
struct cachestat_range {
    uint64_t off, len;
};
struct cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/* data.mdb's dirty pages, or -errno */
static long dirty_pages(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct cachestat_range r = {0, 0}; /* 0 length: to the end of the file */
    struct cachestat cs;
    long rc = syscall(CACHESTAT_NR, fd, &r, &cs, 0);
    int e = errno;
    close(fd);
    return rc == 0 ? (long)cs.nr_dirty : -e;
}

static uint64_t checkpoints(store_t *st)
{
    store_log_stats_t s;
    store_log_stats(st, &s);
    return s.checkpoints;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void)
{
    char *tmp = cet_test_tmpdir();
    char dir[256];
    cet_strlcpy(dir, tmp, sizeof dir);
    store_options_t opt = {.dir = dir, .sync = true};
    store_t *st = NULL;
    CHECK_EQ(store_open(&opt, &st), 0);
    if (!st) return 2;
    long d = dirty_pages(dir);
    if (d == -ENOSYS || d == -EPERM) { /* EPERM: a seccomp filter that does not know it */
        printf("test_store_writeback: skipped: cachestat(2) (Linux 6.5) is not available here\n");
        store_close(st);
        cet_test_rmdir(dir);
        return 77;
    }
    CHECK(d >= 0);
    static char val[512];
    bool seen_dirty = false, clean = false;
    /* a try whose commit happened to be due for a checkpoint says nothing: again */
    for (int attempt = 0; attempt < 5 && !clean; attempt++) {
        uint64_t c0 = checkpoints(st);
        store_txn_t *txn;
        CHECK_EQ(store_write_begin(st, &txn), 0);
        for (int i = 0; i < 4000; i++) {
            char key[32];
            int n = snprintf(key, sizeof key, "wb%d-%05d", attempt, i);
            memset(val, 'a' + i % 26, sizeof val);
            CHECK_EQ(store_put_raw(txn, st, STORE_DB_META, key, (size_t)n, val, sizeof val, 0), 0);
        }
        CHECK_EQ(store_commit(txn), 0);
        d = dirty_pages(dir);
        if (d <= 0) continue; /* written back already (or no dirty pages at all here) */
        seen_dirty = true;
        for (int t = 0; t < 100 && d > 0; t++) { /* up to a second */
            sleep_ms(10);
            d = dirty_pages(dir);
        }
        if (checkpoints(st) != c0) continue;
        CHECK_EQ(d, 0);
        clean = d == 0;
        if (!clean) break;
    }
    if (!seen_dirty) {
        printf("test_store_writeback: skipped: the file system under %s keeps no dirty pages\n", dir);
        store_close(st);
        cet_test_rmdir(dir);
        return 77;
    }
    CHECK(clean);
    store_close(st);
    cet_test_rmdir(dir);
    return cet_test_done("test_store_writeback");
}
