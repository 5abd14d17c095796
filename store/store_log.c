/*
 * store_log.c: the commit log in front of LMDB (redo only), and checkpoints.
 *
 * With --sync full, LMDB runs with MDB_NOSYNC and durability comes from here:
 *
 *   commit     every put and delete of the write txn is appended to a buffer
 *              (store.c's write calls); at commit the buffer becomes one record
 *              (seq, length, XXH3), written to the log with one pwrite and one
 *              fdatasync, and only then is the LMDB txn committed (no sync).
 *              Nothing is answered before (the writer completes a batch after
 *              store_commit returns), and no reader sees a txn before its record
 *              is durable.
 *   checkpoint every CET_CHECKPOINT_MS (or CET_LOG_CHECKPOINT_BYTES of log),
 *              right after a commit S: a read txn is begun on S (the "pin": LMDB
 *              never reuses a page that a live reader's snapshot can reach), the
 *              two meta pages are copied, and the log moves to the next
 *              generation. The checkpoint thread then fdatasyncs data.mdb, writes
 *              the copy and S's log position to `checkpoint` (write, fsync, rename,
 *              fsync the directory), and only then ends the previous pin.
 *   writeback  between checkpoints the same thread starts the writeback of
 *              data.mdb's dirty pages every CET_WRITEBACK_MS (sync_file_range,
 *              SYNC_FILE_RANGE_WRITE: no wait, no flush), so a checkpoint's
 *              fdatasync finds little left, and the log's O_DSYNC writes queue
 *              behind 50 ms of page writes at most instead of a second's burst.
 *              Only when pages reach the disk changes: what the pins keep, and
 *              so what a power loss can leave, does not.
 *   recovery   (any writing open that finds `checkpoint`): if the meta pages on
 *              disk differ from the copy, the copy is written back first, so LMDB
 *              opens on snapshot S, whose pages are all on disk and none of them
 *              reused since (the pin); then every record after S is applied again
 *              in order (puts and deletes: the same keys and values as the
 *              original txns), and a checkpoint is taken.
 *
 * The argument for a power loss is in docs/storage.md ("The commit log").
 * Two files alternate: generation g is appended to wal-(g&1).log from offset 0
 * over whatever an older generation left there; a record counts only when its
 * checksum holds and its seq is the next one, so a stale or torn tail ends the
 * log. One checkpoint is in flight at a time, so generation g+2 (the same file
 * as g) begins only once a checkpoint covers all of g.
 *
 * Threads: store_log_add/store_log_commit run on the thread of the write txn
 * (cetd's writer, or cetctl); the checkpoint thread only syncs data.mdb, writes
 * `checkpoint` and ends pins. log->lock guards the hand-over.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "store/store_internal.h"

#define LOG_REC_MAGIC 0x57544543u /* "CETW" little-endian */
#define LOG_OP_PUT STORE_LOG_PUT
#define LOG_OP_DEL STORE_LOG_DEL
#define CKPT_MAGIC "CETCKPT1"
#define CKPT_FILE "checkpoint"
#define CKPT_VERSION 1
#define META_PAGES 2
#define LOG_BLOCK 4096 /* O_DIRECT writes: whole blocks at block offsets */

typedef struct rec_hdr {
    uint32_t magic;
    uint32_t len; /* payload bytes after the header */
    uint64_t seq;
    uint64_t hash; /* XXH3 of the payload, seeded with seq */
} rec_hdr_t;
_Static_assert(sizeof(rec_hdr_t) == 24, "record header layout");

typedef struct ent_hdr {
    uint8_t op, db;
    uint16_t klen;
    uint32_t vlen;
} ent_hdr_t;
_Static_assert(sizeof(ent_hdr_t) == 8, "entry header layout");

typedef struct ckpt_hdr {
    char magic[8];
    uint32_t version;
    uint32_t psize;
    uint64_t gen;   /* where the records after the snapshot begin: generation */
    uint64_t off;   /* and offset in its file */
    uint64_t seq;   /* the last record the snapshot contains */
    uint64_t txnid; /* the snapshot's LMDB txn id */
} ckpt_hdr_t;

/* A checkpoint on its way: the pinned snapshot and what `checkpoint` will say. */
typedef struct ckpt_job {
    MDB_txn *pin;
    ckpt_hdr_t hdr;
    uint8_t *metas; /* META_PAGES * psize */
} ckpt_job_t;

struct store_log {
    store_t *st;
    int fd[2];
    int rfd[2]; /* the same files for reading at open (an O_DIRECT fd reads whole blocks only) */
    unsigned psize;
    uint64_t gen, off, seq;
    uint64_t gen_bytes;
    int64_t ckpt_due_ms;
    /* the txn being built: header room first, then entries */
    uint8_t *buf;
    size_t len, cap;
    bool overflow; /* over CET_LOG_TXN_BYTES_MAX: committed with a checkpoint instead */
    /* block-aligned writes (the files are opened O_DIRECT when the file system lets) */
    uint8_t *wbuf;            /* LOG_BLOCK-aligned: the tail block's head, the record, zeros */
    size_t wcap;
    uint8_t tail[LOG_BLOCK];  /* the bytes of the block at off before off */
    /* checkpoints */
    pthread_t thread;
    bool thread_live;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool busy, stop;
    _Atomic bool failing; /* the last checkpoint failed (any thread's: ckpt_outcome) */
    uint64_t durable_gen; /* the generation the durable `checkpoint` names */
    ckpt_job_t job;
    MDB_txn *pin; /* the durable checkpoint's snapshot */
    size_t replay_txn_bytes;
    /* what store_log_prepare found, for store_log_pin and store_log_start */
    bool have;       /* a checkpoint: ckpt is it */
    bool restored;   /* its meta pages were written back */
    ckpt_hdr_t ckpt;
    _Atomic uint64_t n_ckpt, n_records, n_replayed, ckpt_ns_last;
    uint64_t wb_records; /* n_records at the last writeback (checkpoint thread only) */
    /* health (ckpt_outcome; store_log_stats): failures since open, and in
     * monotonic ms when a checkpoint last became durable, when they began to
     * fail and when the checkpoint thread last said so */
    _Atomic uint64_t n_ckpt_failed;
    _Atomic int64_t ckpt_ok_ms, failing_since_ms, failing_warned_ms;
};

/* ---- small file helpers ---- */
int store_log_forget(const char *dir);
static void path_of(const store_t *st, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", st->dir, name);
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* 0, ENODATA when the file ends first, or errno. */
static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (r == 0) return ENODATA;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int store_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = fsync(fd) ? errno : 0;
    close(fd);
    return rc;
}

static uint64_t ckpt_hash(const ckpt_hdr_t *h, const uint8_t *metas)
{
    return XXH3_64bits_withSeed(metas, (size_t)META_PAGES * h->psize, XXH3_64bits(h, sizeof *h));
}

/* ---- the checkpoint file ---- */
/* 0 with *h and *metas (cet_malloc'd), ENOENT when there is none, STORE_CORRUPT, or errno. */
static int ckpt_read_dir(const char *dir, ckpt_hdr_t *h, uint8_t **metas)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, CKPT_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = pread_all(fd, h, sizeof *h, 0);
    *metas = NULL;
    if (rc == 0 && (memcmp(h->magic, CKPT_MAGIC, 8) != 0 || h->version != CKPT_VERSION ||
                    h->psize < 512 || h->psize > 65536))
        rc = STORE_CORRUPT;
    uint64_t want = 0;
    if (rc == 0) {
        *metas = cet_malloc((size_t)META_PAGES * h->psize);
        rc = pread_all(fd, *metas, (size_t)META_PAGES * h->psize, sizeof *h);
        if (rc == 0)
            rc = pread_all(fd, &want, sizeof want, sizeof *h + (size_t)META_PAGES * h->psize);
        if (rc == ENODATA || (rc == 0 && want != ckpt_hash(h, *metas))) rc = STORE_CORRUPT;
    }
    if (rc == ENODATA) rc = STORE_CORRUPT;
    close(fd);
    if (rc) {
        cet_free(*metas);
        *metas = NULL;
    }
    return rc;
}

/* Writes `checkpoint` so that a crash leaves the old one or the new one whole. */
static int ckpt_write(const store_t *st, const ckpt_hdr_t *h, const uint8_t *metas)
{
    char path[4200], tmp[4210];
    path_of(st, CKPT_FILE, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return errno;
    size_t mlen = (size_t)META_PAGES * h->psize;
    uint64_t hash = ckpt_hash(h, metas);
    int rc = pwrite_all(fd, h, sizeof *h, 0);
    if (!rc) rc = pwrite_all(fd, metas, mlen, sizeof *h);
    if (!rc) rc = pwrite_all(fd, &hash, sizeof hash, sizeof *h + mlen);
    if (!rc && fsync(fd)) rc = errno;
    close(fd);
    if (!rc && rename(tmp, path)) rc = errno;
    if (!rc) rc = store_fsync_dir(st->dir);
    if (rc) unlink(tmp);
    return rc;
}

/* ---- pins: the snapshot a checkpoint makes durable ---- */
/* Begins a read txn on the latest commit and copies the meta pages. */
static int pin_take(store_log_t *log, ckpt_job_t *job)
{
    store_t *st = log->st;
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &job->pin);
    if (rc) return rc;
    int fd;
    if ((rc = mdb_env_get_fd(st->env, &fd))) goto fail;
    job->metas = cet_malloc((size_t)META_PAGES * log->psize);
    if ((rc = pread_all(fd, job->metas, (size_t)META_PAGES * log->psize, 0))) goto fail;
    memset(&job->hdr, 0, sizeof job->hdr);
    memcpy(job->hdr.magic, CKPT_MAGIC, 8);
    job->hdr.version = CKPT_VERSION;
    job->hdr.psize = log->psize;
    job->hdr.seq = log->seq;
    job->hdr.txnid = mdb_txn_id(job->pin);
    return 0;
fail:
    if (rc == ENODATA) rc = STORE_CORRUPT;
    mdb_txn_abort(job->pin);
    job->pin = NULL;
    cet_free(job->metas);
    job->metas = NULL;
    return rc;
}

static void job_drop(ckpt_job_t *job)
{
    if (job->pin) mdb_txn_abort(job->pin);
    cet_free(job->metas);
    memset(job, 0, sizeof *job);
}

static int64_t mono_ms(void)
{
    return (int64_t)(cet_mono_ns() / 1000000);
}

/*
 * A checkpoint's outcome, on whichever thread tried (rc 0: durable): the one
 * place that counts failures and keeps `failing`, which the retry interval,
 * the checkpoint thread's log lines and store_log_stats read.
 */
static void ckpt_outcome(store_log_t *log, int rc)
{
    int64_t now = mono_ms();
    if (!rc) {
        atomic_store(&log->ckpt_ok_ms, now);
        atomic_store(&log->failing, false);
        return;
    }
    atomic_fetch_add(&log->n_ckpt_failed, 1);
    if (!atomic_exchange(&log->failing, true)) {
        atomic_store(&log->failing_since_ms, now);
        atomic_store(&log->failing_warned_ms, now);
    }
}

/* Makes job's snapshot durable and names it in `checkpoint`; then it is the pin. */
static int ckpt_finish(store_log_t *log, ckpt_job_t *job)
{
    uint64_t t0 = cet_mono_ns();
    int rc = mdb_env_sync(log->st->env, 1);
    if (!rc) rc = ckpt_write(log->st, &job->hdr, job->metas);
    ckpt_outcome(log, rc);
    if (rc) {
        job_drop(job);
        return rc;
    }
    cet_free(job->metas);
    job->metas = NULL;
    if (log->pin) mdb_txn_abort(log->pin);
    log->pin = job->pin;
    job->pin = NULL;
    pthread_mutex_lock(&log->lock);
    log->durable_gen = job->hdr.gen;
    pthread_mutex_unlock(&log->lock);
    atomic_store(&log->ckpt_ns_last, cet_mono_ns() - t0);
    atomic_fetch_add(&log->n_ckpt, 1);
    return 0;
}

/*
 * Waits for a job or stop, or CET_WRITEBACK_MS. Called and returns with the
 * lock held. True when the time ran out with nothing to do.
 */
static bool ckpt_wait(store_log_t *log)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the cond's clock (store_log_prepare) */
    ts.tv_nsec += (long)CET_WRITEBACK_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
    }
    while (!log->stop && !(log->busy && log->job.pin))
        if (pthread_cond_timedwait(&log->cond, &log->lock, &ts) == ETIMEDOUT)
            return !log->stop && !(log->busy && log->job.pin);
    return false;
}

/* Starts the writeback of data.mdb's dirty pages (see the top of this file), when
 * anything committed since the last time. Checkpoint thread only. */
static void writeback_start(store_log_t *log)
{
    uint64_t records = atomic_load(&log->n_records);
    if (records == log->wb_records) return; /* an idle store: nothing new to write */
    log->wb_records = records;
    int fd;
    if (mdb_env_get_fd(log->st->env, &fd) != 0) return;
    /* an error here is the next fdatasync's to report, with the checkpoint's handling */
    (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

static void *ckpt_main(void *arg)
{
    store_log_t *log = arg;
    pthread_mutex_lock(&log->lock);
    for (;;) {
        if (ckpt_wait(log)) {
            pthread_mutex_unlock(&log->lock);
            writeback_start(log);
            pthread_mutex_lock(&log->lock);
            continue;
        }
        if (log->busy && log->job.pin) {
            ckpt_job_t job = log->job;
            memset(&log->job, 0, sizeof log->job);
            pthread_mutex_unlock(&log->lock);
            bool was_failing = atomic_load(&log->failing);
            int rc = ckpt_finish(log, &job);
            pthread_mutex_lock(&log->lock);
            int64_t now = mono_ms(); /* durations: not the wall clock */
            int64_t since = atomic_load(&log->failing_since_ms);
            if (rc && !was_failing) {
                /* the previous checkpoint and the log still cover everything:
                 * the next one tries again (logged once until one succeeds) */
                CET_ERROR("store: checkpoint failed: %s (the log keeps every commit since "
                          "the last one; trying again every %d ms)", store_strerror(rc),
                          CET_CHECKPOINT_RETRY_MS);
            } else if (rc && now - atomic_load(&log->failing_warned_ms) >= CET_CHECKPOINT_WARN_MS) {
                /* while they fail, data.mdb only grows (the pin keeps every freed
                 * page) and a restart replays all the log: said again, not per try */
                CET_WARN("store: checkpoints have failed for %lld s (last: %s); data.mdb "
                         "grows and the log replays at a restart until one succeeds",
                         (long long)((now - since) / 1000), store_strerror(rc));
                atomic_store(&log->failing_warned_ms, now);
            } else if (!rc && was_failing) {
                CET_INFO("store: checkpoints succeed again after %lld ms",
                         (long long)(now - since));
            }
            log->busy = false;
            pthread_cond_broadcast(&log->cond);
            continue;
        }
        if (log->stop) break;
    }
    pthread_mutex_unlock(&log->lock);
    return NULL;
}

static void ckpt_wait_idle(store_log_t *log)
{
    pthread_mutex_lock(&log->lock);
    while (log->busy) pthread_cond_wait(&log->cond, &log->lock);
    pthread_mutex_unlock(&log->lock);
}

/*
 * Where the records after the pinned snapshot go, named in job: the next
 * generation from offset 0 when the durable checkpoint already names the
 * current one (so the next generation's file, the one before the current,
 * is no longer needed), else on in the current generation. Call with no
 * checkpoint in flight.
 */
static void job_place(store_log_t *log, ckpt_job_t *job)
{
    pthread_mutex_lock(&log->lock);
    bool rotate = log->durable_gen == log->gen;
    pthread_mutex_unlock(&log->lock);
    if (rotate) {
        log->gen++;
        log->off = 0; /* a block boundary: no tail */
    }
    job->hdr.gen = log->gen;
    job->hdr.off = log->off;
    log->gen_bytes = 0;
    /* after a failure (a full disk) sooner: until one succeeds, nothing freed is reused */
    log->ckpt_due_ms =
        cet_now_ms() + (atomic_load(&log->failing) ? CET_CHECKPOINT_RETRY_MS : CET_CHECKPOINT_MS);
}

/* A checkpoint now, on the calling thread (no write txn open). */
static int ckpt_now(store_log_t *log)
{
    ckpt_wait_idle(log);
    ckpt_job_t job;
    memset(&job, 0, sizeof job);
    int rc = pin_take(log, &job);
    if (rc) {
        ckpt_outcome(log, rc);
        return rc;
    }
    job_place(log, &job);
    return ckpt_finish(log, &job);
}

/* After a commit: hands a checkpoint to the thread when one is due and none is running. */
static void ckpt_maybe(store_log_t *log)
{
    if (cet_now_ms() < log->ckpt_due_ms && log->gen_bytes < CET_LOG_CHECKPOINT_BYTES) return;
    pthread_mutex_lock(&log->lock);
    bool idle = !log->busy && log->thread_live;
    pthread_mutex_unlock(&log->lock);
    if (!idle) return;
    ckpt_job_t job;
    memset(&job, 0, sizeof job);
    int rc = pin_take(log, &job);
    if (rc) {
        ckpt_outcome(log, rc);
        CET_ERROR("store: cannot begin a checkpoint: %s", store_strerror(rc));
        log->ckpt_due_ms = cet_now_ms() + CET_CHECKPOINT_MS;
        return;
    }
    job_place(log, &job);
    pthread_mutex_lock(&log->lock);
    log->job = job;
    log->busy = true;
    pthread_cond_broadcast(&log->cond);
    pthread_mutex_unlock(&log->lock);
}

/* ---- the txn's record ---- */
void store_log_add(store_t *st, MDB_txn *txn, int op, store_db_t db, const void *key,
                   size_t klen, const void *val, size_t vlen)
{
    store_log_t *log = st->log;
    if (!log || txn != st->wtxn || log->overflow) return;
    CET_ASSERT_INFO(klen <= 0xffff && vlen <= 0xffffffffu, "log entry: key %zu, value %zu bytes",
                    klen, vlen);
    size_t need = sizeof(ent_hdr_t) + klen + vlen;
    if (log->len + need > CET_LOG_TXN_BYTES_MAX) {
        log->overflow = true; /* a bulk txn: made durable by a checkpoint at its commit */
        return;
    }
    if (log->len + need > log->cap) {
        size_t cap = log->cap * 2;
        while (cap < log->len + need) cap *= 2;
        log->buf = cet_realloc(log->buf, cap);
        log->cap = cap;
    }
    ent_hdr_t e = {(uint8_t)op, (uint8_t)db, (uint16_t)klen, (uint32_t)vlen};
    uint8_t *p = log->buf + log->len;
    memcpy(p, &e, sizeof e);
    memcpy(p + sizeof e, key, klen);
    if (vlen) memcpy(p + sizeof e + klen, val, vlen);
    log->len += need;
}

static void txn_reset(store_log_t *log)
{
    log->len = sizeof(rec_hdr_t);
    log->overflow = false;
    if (log->cap > 4 * CET_LOG_BUF_BYTES) { /* a big txn's buffer is not kept */
        log->buf = cet_realloc(log->buf, CET_LOG_BUF_BYTES);
        log->cap = CET_LOG_BUF_BYTES;
    }
}

void store_log_abort(store_t *st)
{
    if (st->log) txn_reset(st->log);
}

/*
 * Writes rec[0..len) at log->off as whole blocks: the tail block's bytes
 * before off (kept in log->tail), the record, zeros to the block's end. The
 * zeros end the log right after the record (rec_read), and a torn write can
 * only tear this record: the bytes before it are written unchanged.
 */
static int log_write(store_log_t *log, int fd, const uint8_t *rec, size_t len)
{
    size_t pre = (size_t)(log->off % LOG_BLOCK);
    size_t total = (pre + len + LOG_BLOCK - 1) / LOG_BLOCK * LOG_BLOCK;
    if (total == 0) total = LOG_BLOCK; /* an undo at a block boundary: one block of zeros */
    if (total > log->wcap) {
        free(log->wbuf);
        size_t cap = total * 2;
        if (posix_memalign((void **)&log->wbuf, LOG_BLOCK, cap) != 0) {
            log->wbuf = NULL;
            log->wcap = 0;
            return ENOMEM;
        }
        log->wcap = cap;
    }
    memcpy(log->wbuf, log->tail, pre);
    if (len) memcpy(log->wbuf + pre, rec, len);
    memset(log->wbuf + pre + len, 0, total - pre - len);
    return pwrite_all(fd, log->wbuf, total, log->off - pre);
}

/* After a record of len bytes went out at log->off: off moves on, the tail follows. */
static void log_advance(store_log_t *log, size_t len)
{
    size_t pre = (size_t)(log->off % LOG_BLOCK);
    uint64_t end = log->off + len;
    size_t tail = (size_t)(end % LOG_BLOCK);
    memcpy(log->tail, log->wbuf + (end - tail - (log->off - pre)), tail);
    log->off = end;
}

/* Loads the tail block's bytes before off from the file (after replay). */
static int tail_load(store_log_t *log)
{
    size_t pre = (size_t)(log->off % LOG_BLOCK);
    if (!pre) return 0;
    int rc = pread_all(log->rfd[log->gen & 1], log->tail, pre, log->off - pre);
    return rc == ENODATA ? STORE_CORRUPT : rc;
}

/* Undoes the record at log->off (its txn did not commit): zeros from off on end the log there. */
static int rec_unwrite(store_log_t *log, int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) return errno;
    if ((uint64_t)sb.st_size <= log->off - log->off % LOG_BLOCK) return 0; /* nothing there */
    int rc = log_write(log, fd, NULL, 0);
    if (!rc && fdatasync(fd)) rc = errno;
    return rc;
}

/*
 * A record written (wholly, partly or not at all) whose txn did not commit:
 * it must not come back at replay. When it cannot be undone, this process
 * writes no more (STORE_PANIC), as LMDB does after a failed meta write.
 */
static void rec_undo(store_log_t *log, int fd)
{
    txn_reset(log);
    int rc = rec_unwrite(log, fd);
    if (rc) {
        atomic_store(&log->st->flush_failed, true);
        CET_ERROR("store: a commit log record of a txn that did not commit cannot be undone "
                  "(%s): this process writes no more; restart it", store_strerror(rc));
    }
}

int store_log_commit(store_t *st, MDB_txn *txn, store_commit_info_t *info)
{
    store_log_t *log = st->log;
    size_t id = mdb_txn_id(txn);
    if (log->overflow) {
        int rc = mdb_txn_commit(txn);
        txn_reset(log);
        if (rc) return rc;
        info->wrote = true;
        rc = ckpt_now(log);
        if (rc) {
            atomic_store(&st->flush_failed, true);
            CET_ERROR("store: the checkpoint after a bulk commit failed (%s): this process "
                      "writes no more; restart it", store_strerror(rc));
        }
        return rc;
    }
    if (log->len == sizeof(rec_hdr_t)) {
        /* nothing logged: a txn that changed nothing commits without I/O */
        int rc = mdb_txn_commit(txn);
        txn_reset(log);
        if (rc) return rc;
        MDB_envinfo ei;
        if (mdb_env_info(st->env, &ei) == 0 && ei.me_last_txnid == id) {
            /* it changed pages nobody logged (a write path outside store_log_add):
             * durable the slow way, never lost */
            CET_WARN("store: txn %zu wrote without a log record: checkpointing it", id);
            info->wrote = true;
            rc = ckpt_now(log);
            if (rc) atomic_store(&st->flush_failed, true);
        } else if (atomic_load(&log->failing)) {
            ckpt_maybe(log); /* an idle writer's ticks retry a failed checkpoint too */
        }
        return rc;
    }
    rec_hdr_t h = {LOG_REC_MAGIC, (uint32_t)(log->len - sizeof h), log->seq + 1, 0};
    h.hash = XXH3_64bits_withSeed(log->buf + sizeof h, h.len, h.seq);
    memcpy(log->buf, &h, sizeof h);
    int fd = log->fd[log->gen & 1];
    uint64_t t0 = cet_mono_ns();
    int rc = log_write(log, fd, log->buf, log->len); /* O_DSYNC: durable when it returns */
    if (st->sync) info->sync_ns = cet_mono_ns() - t0;
    if (rc) {
        /* not durable, not committed: the batch fails */
        mdb_txn_abort(txn);
        rec_undo(log, fd);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    if (rc) {
        rec_undo(log, fd);
        return rc;
    }
    info->wrote = true;
    log->seq = h.seq;
    log_advance(log, log->len);
    log->gen_bytes += log->len;
    atomic_fetch_add_explicit(&log->n_records, 1, memory_order_relaxed);
    txn_reset(log);
    ckpt_maybe(log);
    return 0;
}

/* ---- recovery ---- */
/* Another process has the LMDB environment open (its lock on lock.mdb)? */
static bool env_in_use(const store_t *st)
{
    char path[4200];
    path_of(st, "lock.mdb", path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    bool used = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd); /* this process holds no lock on it yet: closing drops nothing */
    return used;
}

int store_log_prepare(store_t *st)
{
    store_log_t *log = cet_calloc(1, sizeof *log);
    log->st = st;
    log->fd[0] = log->fd[1] = log->rfd[0] = log->rfd[1] = -1;
    pthread_mutex_init(&log->lock, NULL);
    pthread_condattr_t ca; /* ckpt_wait's timeout: a step of the wall clock does not move it */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&log->cond, &ca);
    pthread_condattr_destroy(&ca);
    st->log = log; /* from here store_log_close frees it, whatever follows */
    uint8_t *metas = NULL;
    int rc = ckpt_read_dir(st->dir, &log->ckpt, &metas);
    if (rc == ENOENT) return 0;
    if (rc) {
        CET_ERROR("store: %s/%s is damaged (%s): the last durable state cannot be found; "
                  "restore the directory from a backup (docs/operations.md)",
                  st->dir, CKPT_FILE, store_strerror(rc));
        return rc;
    }
    log->have = true;
    const ckpt_hdr_t *h = &log->ckpt;
    char path[4200];
    path_of(st, "data.mdb", path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        rc = errno;
        CET_ERROR("store: %s names a checkpoint but %s cannot be opened: %s", CKPT_FILE, path,
                  strerror(rc));
        cet_free(metas);
        return rc;
    }
    size_t mlen = (size_t)META_PAGES * h->psize;
    uint8_t *disk = cet_malloc(mlen);
    rc = pread_all(fd, disk, mlen, 0);
    if (rc == 0 && memcmp(disk, metas, mlen) != 0) {
        if (env_in_use(st)) {
            CET_ERROR("store: %s needs recovery, but another process has it open (a reading "
                      "cetctl?): stop it first", st->dir);
            rc = STORE_LOCKED;
        } else {
            /* the snapshot of the checkpoint: every page it reaches is on disk
             * and none was reused since (the pin); later meta pages may point at
             * pages that never reached the disk */
            rc = pwrite_all(fd, metas, mlen, 0);
            if (!rc && fdatasync(fd)) rc = errno;
            if (!rc) {
                log->restored = true;
                CET_INFO("store: recovery: back to the checkpoint at txn %llu (log seq %llu), "
                         "then the log", (unsigned long long)h->txnid,
                         (unsigned long long)h->seq);
            }
        }
    }
    if (rc == ENODATA) rc = STORE_CORRUPT;
    close(fd);
    cet_free(disk);
    cet_free(metas);
    return rc;
}

int store_log_pin(store_t *st)
{
    store_log_t *log = st->log;
    if (!log->have) return 0;
    return mdb_txn_begin(st->env, NULL, MDB_RDONLY, &log->pin);
}

/*
 * Opens both log files, each zero-filled to CET_LOG_PREALLOC_BYTES when
 * shorter: appending then overwrites blocks the file already has (one
 * fdatasync flushes only data, measured 146 µs against 248 µs for a growing
 * file here), and a full disk still takes that much log (the writer answers
 * storage_full only past it). A zeroed header ends the log (rec_read).
 */
static int log_open_files(store_log_t *log, bool fresh)
{
    _Alignas(LOG_BLOCK) static const uint8_t zeros[64 << 10];
    for (int i = 0; i < 2; i++) {
        char name[32], path[4200];
        snprintf(name, sizeof name, "wal-%d.log", i);
        path_of(log->st, name, path, sizeof path);
        /* O_DSYNC with sync: each record's pwrite returns once it is on disk (one
         * call instead of pwrite + fdatasync; 332-427 against 424-696 µs for 16 KiB
         * here, measured in one run each), and O_DIRECT where the file system takes
         * it (124-126 against 176-180 µs, and no page-cache writeback on the
         * writer's CPU): writes are whole blocks (log_write) */
        int flags = O_RDWR | O_CREAT | O_CLOEXEC | (log->st->sync ? O_DSYNC : 0);
        log->fd[i] = open(path, flags | O_DIRECT, 0640);
        if (log->fd[i] < 0 && errno == EINVAL) log->fd[i] = open(path, flags, 0640);
        if (log->fd[i] < 0) return errno;
        log->rfd[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (log->rfd[i] < 0) return errno;
        /* no checkpoint: nothing in the files is ours (a crash between the removal
         * of a checkpoint and of its log, cetctl restore): emptied before the first
         * checkpoint names them, so no stale record can ever be replayed */
        if (fresh && (ftruncate(log->fd[i], 0) != 0 || fdatasync(log->fd[i]) != 0)) return errno;
        struct stat sb;
        if (fstat(log->fd[i], &sb) != 0) return errno;
        int rc = 0;
        /* from the first whole block past the end: nothing written is zeroed */
        uint64_t from = ((uint64_t)sb.st_size + LOG_BLOCK - 1) / LOG_BLOCK * LOG_BLOCK;
        for (uint64_t at = from; rc == 0 && at < CET_LOG_PREALLOC_BYTES; at += sizeof zeros)
            rc = pwrite_all(log->fd[i], zeros, sizeof zeros, at);
        if (!rc && (uint64_t)sb.st_size < CET_LOG_PREALLOC_BYTES && fdatasync(log->fd[i]))
            rc = errno;
        if (rc) CET_WARN("store: %s not preallocated: %s", path, strerror(rc));
    }
    return store_fsync_dir(log->st->dir);
}

/* Applies one record's entries in txn. */
static int rec_apply(store_t *st, MDB_txn *txn, const uint8_t *p, size_t len)
{
    size_t at = 0;
    while (at < len) {
        ent_hdr_t e;
        if (len - at < sizeof e) return STORE_CORRUPT;
        memcpy(&e, p + at, sizeof e);
        at += sizeof e;
        if (e.db >= STORE_DB__COUNT || len - at < (size_t)e.klen + e.vlen) return STORE_CORRUPT;
        MDB_val k = {e.klen, (void *)(p + at)}, v = {e.vlen, (void *)(p + at + e.klen)};
        at += (size_t)e.klen + e.vlen;
        int rc;
        if (e.op == LOG_OP_PUT) {
            rc = mdb_put(txn, st->dbi[e.db], &k, &v, 0);
        } else if (e.op == LOG_OP_DEL) {
            rc = mdb_del(txn, st->dbi[e.db], &k, NULL);
        } else {
            return STORE_CORRUPT;
        }
        if (rc) return rc;
    }
    return 0;
}

/*
 * Reads the record at *off of fd: 0 with *hdr and the payload in *buf (grown
 * as needed), or CET_DONE at the end of the log (short, torn, stale).
 */
static int rec_read(int fd, uint64_t off, uint64_t want_seq, rec_hdr_t *hdr, uint8_t **buf,
                    size_t *cap)
{
    int rc = pread_all(fd, hdr, sizeof *hdr, off);
    if (rc == ENODATA) return CET_DONE;
    if (rc) return rc;
    if (hdr->magic != LOG_REC_MAGIC || hdr->seq != want_seq || hdr->len > CET_LOG_TXN_BYTES_MAX)
        return CET_DONE;
    if (hdr->len > *cap) {
        *buf = cet_realloc(*buf, hdr->len);
        *cap = hdr->len;
    }
    rc = pread_all(fd, *buf, hdr->len, off + sizeof *hdr);
    if (rc == ENODATA) return CET_DONE;
    if (rc) return rc;
    if (XXH3_64bits_withSeed(*buf, hdr->len, hdr->seq) != hdr->hash) return CET_DONE;
    return 0;
}

/*
 * Applies the records after the checkpoint h, from (h->gen, h->off) on into
 * the next generation, in txns of about CET_LOG_REPLAY_TXN_BYTES; a txn that
 * fills the map is undone, the map grown and the txn applied again.
 */
static int replay(store_log_t *log, const ckpt_hdr_t *h, uint64_t *applied)
{
    store_t *st = log->st;
    uint8_t *buf = NULL;
    size_t cap = 0;
    *applied = 0;
    uint64_t gen = h->gen, off = h->off, want = h->seq + 1;
    /* the position at the start of the open txn */
    uint64_t t_gen = gen, t_off = off, t_want = want, t_applied = 0;
    MDB_txn *txn = NULL;
    size_t in_txn = 0;
    int rc = 0, grows = 0;
    while (gen <= h->gen + 1) {
        rec_hdr_t rh;
        rc = rec_read(log->rfd[gen & 1], off, want, &rh, &buf, &cap);
        if (rc == CET_DONE) {
            rc = 0;
            if (gen == h->gen + 1) break;
            gen++; /* the log may go on in the next generation, from its start */
            off = 0;
            continue;
        }
        if (rc) break;
        if (!txn && (rc = mdb_txn_begin(st->env, NULL, 0, &txn))) break;
        rc = rec_apply(st, txn, buf, rh.len);
        if (rc == MDB_MAP_FULL && grows++ < 8) {
            mdb_txn_abort(txn);
            txn = NULL;
            in_txn = 0;
            if ((rc = store_grow(st))) break;
            gen = t_gen, off = t_off, want = t_want, *applied = t_applied;
            continue;
        }
        if (rc) {
            CET_ERROR("store: recovery: log record %llu does not apply: %s",
                      (unsigned long long)rh.seq, store_strerror(rc));
            break;
        }
        in_txn += rh.len;
        off += sizeof rh + rh.len;
        want++;
        (*applied)++;
        if (in_txn >= log->replay_txn_bytes) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
            in_txn = 0;
            if (rc) break;
            t_gen = gen, t_off = off, t_want = want, t_applied = *applied;
        }
    }
    if (txn) {
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }
    }
    cet_free(buf);
    if (rc == 0) {
        /* appending goes on where the log ended */
        log->seq = want - 1;
        log->gen = gen;
        log->off = off;
    }
    return rc;
}

int store_log_start(store_t *st, size_t replay_txn_bytes)
{
    store_log_t *log = st->log;
    log->replay_txn_bytes = replay_txn_bytes ? replay_txn_bytes : CET_LOG_REPLAY_TXN_BYTES;
    atomic_store(&log->ckpt_ok_ms, mono_ms());
    MDB_stat ms;
    int rc = mdb_env_stat(st->env, &ms);
    if (rc) goto fail;
    log->psize = ms.ms_psize;
    log->cap = CET_LOG_BUF_BYTES;
    log->buf = cet_malloc(log->cap);
    log->len = sizeof(rec_hdr_t);
    const ckpt_hdr_t *h = &log->ckpt;
    if ((rc = log_open_files(log, !log->have))) goto fail;
    if (log->have) {
        uint64_t applied = 0;
        log->durable_gen = h->gen;
        if ((rc = replay(log, h, &applied)) || (rc = tail_load(log))) goto fail;
        /* tests only (unit.store_log): die between replay and the new checkpoint */
        if (getenv("CET_TEST_EXIT_AFTER_REPLAY")) _exit(0);
        atomic_store(&log->n_replayed, applied);
        if (applied || log->restored)
            CET_INFO("store: recovery: %llu log records applied again after txn %llu",
                     (unsigned long long)applied, (unsigned long long)h->txnid);
    }
    /* a checkpoint of what is there now: the log starts empty */
    rc = ckpt_now(log);
    if (rc && st->sync && store_rc_is_nospace(st, rc)) {
        /* a full disk: the old checkpoint and the log still cover everything
         * (appending goes on after the last record), the checkpoint thread tries
         * again; reads are served, writes answer storage_full until there is room */
        CET_WARN("store: no space for a checkpoint at open (%s): going on with the log",
                 store_strerror(rc));
        log->ckpt_due_ms = cet_now_ms() + CET_CHECKPOINT_RETRY_MS; /* failing: ckpt_outcome */
        rc = 0;
    }
    if (rc) goto fail;
    if (!st->sync) {
        /* --sync none keeps no log: a later open must not go back to this checkpoint */
        store_log_close(st);
        if ((rc = store_log_forget(st->dir))) goto fail_closed;
        return 0;
    }
    if ((rc = pthread_create(&log->thread, NULL, ckpt_main, log))) goto fail;
    pthread_setname_np(log->thread, "cet-ckpt");
    log->thread_live = true;
    return 0;
fail:
    store_log_close(st);
fail_closed:
    CET_ERROR("store: the commit log of %s cannot be used: %s", st->dir, store_strerror(rc));
    return rc;
}

void store_log_close(store_t *st)
{
    store_log_t *log = st->log;
    if (!log) return;
    if (log->thread_live) {
        pthread_mutex_lock(&log->lock);
        while (log->busy) pthread_cond_wait(&log->cond, &log->lock);
        log->stop = true;
        pthread_cond_broadcast(&log->cond);
        pthread_mutex_unlock(&log->lock);
        pthread_join(log->thread, NULL);
        log->thread_live = false;
        /* a last checkpoint: the next open replays nothing */
        if (!atomic_load(&st->flush_failed)) {
            int rc = ckpt_now(log);
            if (rc) CET_ERROR("store: the last checkpoint failed: %s (the log replays at the "
                              "next open)", store_strerror(rc));
        }
    }
    job_drop(&log->job);
    if (log->pin) mdb_txn_abort(log->pin);
    for (int i = 0; i < 2; i++) {
        if (log->fd[i] >= 0) close(log->fd[i]);
        if (log->rfd[i] >= 0) close(log->rfd[i]);
    }
    pthread_mutex_destroy(&log->lock);
    pthread_cond_destroy(&log->cond);
    cet_free(log->buf);
    free(log->wbuf); /* posix_memalign's */
    cet_free(log);
    st->log = NULL;
}

int store_log_forget(const char *dir)
{
    const char *names[] = {CKPT_FILE, "wal-0.log", "wal-1.log", CKPT_FILE ".tmp"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (unlink(path) != 0 && errno != ENOENT) return errno;
        if (i == 0) { /* the checkpoint first: it must never be applied to other data */
            int rc = store_fsync_dir(dir);
            if (rc) return rc;
        }
    }
    return 0;
}

bool store_log_unclean(const char *dir)
{
    ckpt_hdr_t h;
    uint8_t *metas = NULL;
    if (ckpt_read_dir(dir, &h, &metas) != 0) return false; /* none, or damaged: the writing open says */
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    bool differ = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        size_t mlen = (size_t)META_PAGES * h.psize;
        uint8_t *disk = cet_malloc(mlen);
        differ = pread_all(fd, disk, mlen, 0) == 0 && memcmp(disk, metas, mlen) != 0;
        cet_free(disk);
        close(fd);
    }
    cet_free(metas);
    return differ;
}

int store_log_checkpoint(store_t *st)
{
    return st->log ? ckpt_now(st->log) : mdb_env_sync(st->env, 1);
}

void store_log_stats(store_t *st, store_log_stats_t *out)
{
    memset(out, 0, sizeof *out);
    store_log_t *log = st->log;
    if (!log) return;
    out->checkpoints = atomic_load(&log->n_ckpt);
    out->records = atomic_load(&log->n_records);
    out->replayed = atomic_load(&log->n_replayed);
    out->checkpoint_ns_last = atomic_load(&log->ckpt_ns_last);
    out->checkpoint_failures = atomic_load(&log->n_ckpt_failed);
    out->checkpoint_failing = atomic_load(&log->failing);
    int64_t age = mono_ms() - atomic_load(&log->ckpt_ok_ms);
    out->checkpoint_age_ms = age > 0 ? (uint64_t)age : 0;
}
