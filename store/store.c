/*
 * store.c: the LMDB environment, raw access, map growth and iteration.
 * The typed records live in store_records.c, the writer in store_writer.c.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "store/store_internal.h"


static const char *const store_db_names[STORE_DB__COUNT] = {
    [STORE_DB_META] = "meta",
    [STORE_DB_PROVINCE] = "province",
    [STORE_DB_SCHOOL] = "school",
    [STORE_DB_CAMPUS] = "campus",
    [STORE_DB_SUBJECT] = "subject",
    [STORE_DB_OFFER] = "offer",
    [STORE_DB_ANNOUNCE] = "announce",
    [STORE_DB_ROSTER] = "roster",
    [STORE_DB_ROSTER_NO] = "roster_no",
    [STORE_DB_ROSTER_SCHOOL] = "roster_school",
    [STORE_DB_SCORE] = "score",
    [STORE_DB_ACCOUNT] = "account",
    [STORE_DB_ACCOUNT_EMAIL] = "account_email",
    [STORE_DB_CANDIDATE] = "candidate",
    [STORE_DB_REVIEW] = "review",
    [STORE_DB_REG] = "reg",
    [STORE_DB_EXPIRY] = "expiry",
    [STORE_DB_ORDER] = "order",
    [STORE_DB_SESSION] = "session",
    [STORE_DB_STAFF] = "staff",
    [STORE_DB_IDEM] = "idem",
    [STORE_DB_AUDIT] = "audit",
    [STORE_DB_NOTICE] = "notice",
    [STORE_DB_ROOM] = "room",
    [STORE_DB_ARRANGEMENT] = "arrangement",
    [STORE_DB_OUTBOX] = "outbox",
    [STORE_DB_RESET] = "reset",
    [STORE_DB_ACCOUNT_SESSION] = "account_session",
};

_Static_assert(STORE_NOTFOUND == MDB_NOTFOUND, "store.h mirrors LMDB's code");
_Static_assert(STORE_EXISTS == MDB_KEYEXIST, "store.h mirrors LMDB's code");
_Static_assert(STORE_MAP_FULL == MDB_MAP_FULL, "store.h mirrors LMDB's code");
_Static_assert(STORE_PANIC == MDB_PANIC, "store.h mirrors LMDB's code");
_Static_assert(STORE_NOOVERWRITE == MDB_NOOVERWRITE, "store.h mirrors LMDB's flag");
_Static_assert(STORE_NOSPACE == -30503, "base/cet_err.c maps this value to storage_full");

const char *store_strerror(int rc)
{
    switch (rc) {
    case STORE_CORRUPT:
        return "store: a record has the wrong size or schema version";
    case STORE_BADARG:
        return "store: invalid argument";
    case STORE_LOCKED:
        return "store: another process holds the data directory";
    case STORE_NOSPACE:
        return "store: no space left for the data";
    default:
        return mdb_strerror(rc); /* covers LMDB codes and errno */
    }
}

MDB_dbi store_dbi(const store_t *st, store_db_t db)
{
    CET_ASSERT((unsigned)db < STORE_DB__COUNT);
    return st->dbi[db];
}

size_t store_map_bytes(store_t *st)
{
    return atomic_load(&st->map_bytes);
}

static int open_dbis(store_t *st)
{
    MDB_txn *txn;
    unsigned tflags = st->read_only ? MDB_RDONLY : 0;
    unsigned dflags = st->read_only ? 0 : MDB_CREATE;
    int rc = mdb_txn_begin(st->env, NULL, tflags, &txn);
    if (rc) return rc;
    /* meta first: the version says whether the other databases are ours to open
     * (an older directory lacks some, and a writable open must not create them) */
    rc = mdb_dbi_open(txn, store_db_names[STORE_DB_META], dflags, &st->dbi[STORE_DB_META]);
    if (rc) {
        CET_ERROR("store: cannot open database %s: %s", store_db_names[STORE_DB_META],
                  mdb_strerror(rc));
        mdb_txn_abort(txn);
        return rc;
    }
    uint64_t version = 0;
    rc = store_meta_get_u64(txn, st, "schema_version", &version);
    if (rc == STORE_NOTFOUND && !st->read_only) {
        rc = store_meta_put_u64(txn, st, "schema_version", STORE_SCHEMA_VERSION);
        version = STORE_SCHEMA_VERSION;
    }
    if (rc == 0 && version == STORE_SCHEMA_UPGRADES_FROM && !st->read_only) {
        /* store_open upgrades it once the log is replayed, unless asked not to */
        st->upgrade_from = st->no_upgrade ? 0 : version;
    } else if (rc == 0 && version != STORE_SCHEMA_VERSION) {
        CET_ERROR("store: schema version %llu on disk, this build reads %d: %s (docs/storage.md, "
                  "\"Schema versions\")",
                  (unsigned long long)version, STORE_SCHEMA_VERSION,
                  version == STORE_SCHEMA_UPGRADES_FROM
                      ? "a writing open upgrades it in place (start cetd on it once); a "
                        "read-only one does not"
                  : version < STORE_SCHEMA_VERSION
                      ? "a data directory this old is not upgraded in place; make a new one "
                        "from the source files (cetctl import)"
                      : "the directory was written by a newer build");
        rc = STORE_CORRUPT;
    }
    for (int i = 0; rc == 0 && i < STORE_DB__COUNT; i++) {
        if (i == STORE_DB_META) continue;
        rc = mdb_dbi_open(txn, store_db_names[i], dflags, &st->dbi[i]);
        if (rc)
            CET_ERROR("store: cannot open database %s: %s", store_db_names[i], mdb_strerror(rc));
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* ---- the data directory's lock ---- */
static void lock_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, STORE_LOCK_FILE);
}

/*
 * The lock is an exclusive flock on the lock file, held as long as the fd is
 * open (the process's life for cetd), released by the kernel when the
 * process dies. Then we record who we are in it.
 */
int store_dir_lock(const char *dir, const char *owner, int *fd_out)
{
    char path[4200];
    lock_path(dir, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        return e == EWOULDBLOCK ? STORE_LOCKED : e;
    }
    char text[160];
    int n = snprintf(text, sizeof text, "%ld\n%s\n", (long)getpid(), owner ? owner : "cetreg");
    /* over the old text first (its page exists even on a full disk), then cut */
    if (pwrite(fd, text, (size_t)n, 0) != n || ftruncate(fd, n) != 0) {
        /* a full disk may refuse the pid text; the flock alone is the lock */
        CET_WARN("store: cannot write the pid into %s: %s", path, strerror(errno));
    }
    *fd_out = fd;
    return 0;
}

int store_dir_holder(const char *dir, pid_t *pid, char *what, size_t cap)
{
    char path[4200];
    lock_path(dir, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    char text[160];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return n < 0 ? errno : ENODATA;
    text[n] = 0;
    char *end;
    long p = strtol(text, &end, 10);
    if (end == text || *end != '\n' || p <= 0) return ENODATA;
    *pid = (pid_t)p;
    if (what && cap) {
        const char *name = end + 1;
        size_t l = strcspn(name, "\n");
        if (l >= cap) l = cap - 1;
        memcpy(what, name, l);
        what[l] = 0;
    }
    return 0;
}

/*
 * lock.mdb is created with ftruncate (a sparse file): a reader slot on a page
 * never touched would be allocated by a store into the map, which on a full
 * file system is a SIGBUS. Allocating it once makes every later store safe.
 * The fd stays open until store_close: closing any fd of a file drops every
 * fcntl lock the process holds on it, and LMDB's reader-liveness lock on
 * lock.mdb is one (mdb_reader_check in another process would then clear
 * our live reader slots: MDB_BAD_RSLOT).
 */
static int lockfile_prealloc(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat sb;
    int rc = fstat(fd, &sb) == 0 ? posix_fallocate(fd, 0, sb.st_size) : errno;
    if (rc) CET_WARN("store: cannot preallocate %s: %s", path, strerror(rc));
    return fd;
}

/* ---- open and close ---- */
/*
 * The map of an existing environment is what its meta page records (LMDB
 * persists every growth there) and at least what is in use: a restart keeps
 * the size, it never multiplies it. Sizes above CET_MAP_BYTES_MAX (written by
 * an older build that doubled the map at each open) come back to the cap.
 */
static int map_settle(store_t *st)
{
    MDB_envinfo info;
    MDB_stat stat;
    int rc = mdb_env_info(st->env, &info);
    if (rc == 0) rc = mdb_env_stat(st->env, &stat);
    if (rc) return rc;
    size_t used = (info.me_last_pgno + 1) * (size_t)stat.ms_psize;
    size_t map = info.me_mapsize;
    if (map > CET_MAP_BYTES_MAX && used <= CET_MAP_BYTES_MAX && !st->read_only) {
        CET_WARN("store: map of %zu GiB recorded, using the cap of %llu GiB", map >> 30,
                 (unsigned long long)(CET_MAP_BYTES_MAX >> 30));
        rc = mdb_env_set_mapsize(st->env, CET_MAP_BYTES_MAX);
        if (rc) return rc;
        map = CET_MAP_BYTES_MAX;
    }
    atomic_store(&st->map_bytes, map);
    return 0;
}

static void gate_init(store_gate_t *g)
{
    atomic_init(&g->growing, false);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    for (size_t i = 0; i <= CET_READERS_MAX; i++) {
        atomic_init(&g->slot[i].active, 0);
        atomic_init(&g->slot[i].used, i == 0);
    }
}

static void gate_destroy(store_gate_t *g)
{
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
}

/* ---- schema upgrades ---- */
/* Expiry keys collected by a scan (the callback may not write to its txn). */
typedef struct expiry_keys {
    uint8_t (*k)[STORE_EXPIRY_KEY_BYTES];
    size_t n, cap;
} expiry_keys_t;

static void expiry_keys_add(expiry_keys_t *b, const uint8_t *k)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->k = cet_realloc(b->k, b->cap * sizeof *b->k);
    }
    memcpy(b->k[b->n++], k, STORE_EXPIRY_KEY_BYTES);
}

static int v5_hold_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void)val;
    (void)vlen;
    const uint8_t *k = key;
    if (klen == STORE_EXPIRY_KEY_BYTES && k[8] == STORE_EXPIRE_HOLD) expiry_keys_add(arg, k);
    return CET_OK;
}

static int reg_hold_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    store_reg_t r;
    if (klen != 8 || vlen != sizeof r) return STORE_CORRUPT;
    memcpy(&r, val, sizeof r);
    if (!r.expires) return CET_OK; /* paid, locked or without a hold: no entry */
    uint8_t k[STORE_EXPIRY_KEY_BYTES];
    store_expiry_key(k, r.expires, STORE_EXPIRE_HOLD, store_rd64(key), r.subject);
    expiry_keys_add(arg, k);
    return CET_OK;
}

/*
 * 5 -> 6, in one write txn after the log is replayed (so it sees every
 * acknowledged write): every hold entry (due ‖ 1 ‖ roster_no ‖ subject) goes,
 * stale ones included, and each registration with a hold gets its entry under
 * its sequence (due ‖ 1 ‖ seq ‖ subject), as store_reg_put keeps it from now on.
 * Nothing else differs between the two layouts. A crash before the commit
 * leaves schema 5, and the next writing open does it again.
 */
typedef struct upgrade {
    expiry_keys_t old, keep;
} upgrade_t;

static int upgrade_txn(store_txn_t *txn, void *arg)
{
    upgrade_t *u = arg;
    const store_t *st = mdb_env_get_userctx(mdb_txn_env(txn));
    u->old.n = u->keep.n = 0; /* a txn redone after the map grew collects again */
    int rc = store_scan(txn, st, STORE_DB_EXPIRY, NULL, 0, v5_hold_cb, &u->old);
    if (!rc) rc = store_scan(txn, st, STORE_DB_REG, NULL, 0, reg_hold_cb, &u->keep);
    for (size_t i = 0; !rc && i < u->old.n; i++)
        rc = store_del_raw(txn, st, STORE_DB_EXPIRY, u->old.k[i], STORE_EXPIRY_KEY_BYTES);
    for (size_t i = 0; !rc && i < u->keep.n; i++)
        rc = store_put_raw(txn, st, STORE_DB_EXPIRY, u->keep.k[i], STORE_EXPIRY_KEY_BYTES, "", 0,
                           0);
    if (!rc) rc = store_meta_put_u64(txn, st, "schema_version", STORE_SCHEMA_VERSION);
    return rc;
}

static int schema_upgrade(store_t *st)
{
    upgrade_t u = {{0}, {0}};
    int rc = store_write_run(st, upgrade_txn, &u);
    if (rc == 0)
        CET_INFO("store: %s upgraded from schema %llu to %d: %zu hold entries now name their "
                 "registration's sequence (%zu hold entries before)",
                 st->dir, (unsigned long long)st->upgrade_from, STORE_SCHEMA_VERSION, u.keep.n,
                 u.old.n);
    else
        CET_ERROR("store: upgrading %s from schema %llu to %d failed: %s (nothing changed)",
                  st->dir, (unsigned long long)st->upgrade_from, STORE_SCHEMA_VERSION,
                  store_strerror(rc));
    st->upgrade_from = 0;
    cet_free(u.old.k);
    cet_free(u.keep.k);
    return rc;
}

int store_open(const store_options_t *opt, store_t **out)
{
    *out = NULL;
    cet_strerror_set_store(store_strerror);
    if (!opt || !opt->dir || strlen(opt->dir) >= sizeof((store_t *)0)->dir) return STORE_BADARG;
    if (!opt->read_only && mkdir(opt->dir, 0750) != 0 && errno != EEXIST) return errno;

    if (opt->read_only && store_log_unclean(opt->dir)) {
        /* Not closed cleanly (a crash, a power loss): LMDB's newest meta page may
         * point at pages a power loss kept from the disk. Unless a live owner holds
         * the directory (then it is just running), recover it first, as a writing
         * open would. */
        int lfd;
        if (store_dir_lock(opt->dir, "cetreg recovery", &lfd) == 0) {
            close(lfd); /* the writing open takes it again */
            store_options_t w = *opt;
            w.read_only = false;
            w.sync = true;
            w.owner = "cetreg recovery";
            w.no_upgrade = true; /* a reading command changes the schema of nothing */
            store_t *ws = NULL;
            int wr = store_open(&w, &ws);
            if (wr == 0) {
                store_close(ws);
                CET_INFO("store: %s was not closed cleanly: recovered before reading it", opt->dir);
            } else if (wr != STORE_LOCKED) {
                CET_WARN("store: %s was not closed cleanly and cannot be recovered here (%s): "
                         "reading it as it is", opt->dir, store_strerror(wr));
            }
        }
    }
    store_t *st = cet_calloc(1, sizeof *st);
    st->read_only = opt->read_only;
    st->no_upgrade = opt->no_upgrade;
    st->sync = opt->sync && !opt->read_only;
    atomic_init(&st->flush_failed, false);
    st->lock_fd = -1;
    st->lockmdb_fd = -1;
    cet_strlcpy(st->dir, opt->dir, sizeof st->dir);
    pthread_mutex_init(&st->grow_lock, NULL);
    gate_init(&st->gate);
    int rc = 0;
    if (!opt->read_only && (rc = store_dir_lock(opt->dir, opt->owner, &st->lock_fd))) {
        if (rc == STORE_LOCKED) goto fail_quiet;
        goto fail;
    }
    rc = mdb_env_create(&st->env);
    if (rc) goto fail;
    mdb_env_set_maxdbs(st->env, CET_DBS_MAX);
    mdb_env_set_maxreaders(st->env, opt->readers ? opt->readers : CET_READERS_MAX);

    /* Only a new environment takes the configured map; an existing one keeps
     * the size in its meta page (LMDB uses it when none is set before open). */
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", opt->dir);
    struct stat sb;
    bool fresh = stat(path, &sb) != 0 || sb.st_size == 0;
    if (fresh) {
        size_t map = opt->map_bytes ? opt->map_bytes : CET_MAP_INITIAL_BYTES;
        if ((rc = mdb_env_set_mapsize(st->env, map))) goto fail;
    }

    if (!opt->read_only && (rc = store_log_prepare(st))) goto fail;

    unsigned flags = MDB_NOTLS;
    if (opt->read_only) flags |= MDB_RDONLY;
    /* LMDB itself never syncs a commit: with sync, the commit log makes each
     * commit durable and checkpoints make LMDB durable (store_log.c); without
     * (--sync none), the OS writes back when it likes */
    if (!opt->read_only) flags |= MDB_NOSYNC;
    /* No MDB_WRITEMAP (it was on before): with it LMDB ftruncates data.mdb to
     * the map size (a sparse file) and dirties pages by storing into the map,
     * so a full disk is a SIGBUS in the writer. Without it, pages go out with
     * pwrite at commit and a full disk is ENOSPC/EIO from mdb_txn_commit: the
     * batch fails cleanly, nothing is half-written, reads go on. Measured cost
     * in docs/benchmarks.md ("Storage faults"). */
    rc = mdb_env_open(st->env, opt->dir, flags, 0640);
    if (rc) goto fail;
    /* before anything writes: hold the checkpoint's snapshot */
    if (!opt->read_only && (rc = store_log_pin(st))) goto fail;
    if (!opt->read_only) st->lockmdb_fd = lockfile_prealloc(opt->dir);
    if ((rc = map_settle(st))) goto fail;

    int dead = 0;
    rc = mdb_reader_check(st->env, &dead);
    if (rc) goto fail;
    if (dead) CET_WARN("store: cleared %d stale reader slots", dead);

    rc = open_dbis(st);
    if (rc) goto fail;
    mdb_env_set_userctx(st->env, st);
    if (!opt->read_only && (rc = store_log_start(st, opt->replay_txn_bytes))) goto fail;
    st->regidx = store_regidx_new();
    rc = regidx_rebuild(st);
    if (rc) goto fail;
    if (st->upgrade_from && (rc = schema_upgrade(st))) goto fail;
    *out = st;
    return 0;
fail:
    CET_ERROR("store: cannot open %s: %s", opt->dir, store_strerror(rc));
fail_quiet:
    store_log_close(st);
    store_regidx_free(st->regidx);
    if (st->env) mdb_env_close(st->env);
    if (st->lockmdb_fd >= 0) close(st->lockmdb_fd);
    if (st->lock_fd >= 0) close(st->lock_fd);
    pthread_mutex_destroy(&st->grow_lock);
    gate_destroy(&st->gate);
    cet_free(st);
    return rc;
}

void store_close(store_t *st)
{
    if (!st) return;
    store_log_close(st);
    store_regidx_free(st->regidx);
    mdb_env_close(st->env);
    if (st->lockmdb_fd >= 0) close(st->lockmdb_fd); /* after LMDB's own fd: see lockfile_prealloc */
    if (st->lock_fd >= 0) close(st->lock_fd);       /* releases the directory */
    pthread_mutex_destroy(&st->grow_lock);
    gate_destroy(&st->gate);
    cet_free(st);
}

int store_sync(store_t *st)
{
    return store_log_checkpoint(st);
}

/* ---- the map-growth gate (store_internal.h) ---- */
/* Read txns the calling thread holds: store_grow from inside one would wait
 * forever. Only a guard against that deadlock; the slots are the truth. */
static _Thread_local unsigned reads_held;

static void gate_enter(store_gate_t *g, store_gate_slot_t *s)
{
    for (;;) {
        atomic_fetch_add(&s->active, 1); /* seq_cst: then look at growing */
        if (!atomic_load(&g->growing)) break;
        atomic_fetch_sub(&s->active, 1);
        pthread_mutex_lock(&g->lock);
        while (atomic_load(&g->growing)) pthread_cond_wait(&g->cond, &g->lock);
        pthread_mutex_unlock(&g->lock);
    }
    reads_held++;
}

static void gate_leave(store_gate_slot_t *s)
{
    CET_ASSERT(atomic_load_explicit(&s->active, memory_order_relaxed) > 0);
    /* a txn may end on another thread than it began (a core's at shutdown) */
    if (reads_held) reads_held--;
    atomic_fetch_sub_explicit(&s->active, 1, memory_order_release);
}

/*
 * Closes the gate and waits until no read txn is live. Returns 0 (the
 * caller remaps, then gate_open), or CET_AGAIN (gate left open).
 */
static int gate_close(store_gate_t *g)
{
    if (reads_held) return CET_AGAIN; /* our own read txn: waiting would deadlock */
    pthread_mutex_lock(&g->lock);
    atomic_store(&g->growing, true); /* seq_cst: then look at the slots */
    uint64_t deadline = cet_mono_ns() + (uint64_t)CET_MAP_GROW_WAIT_MS * 1000000u;
    for (size_t i = 0; i <= CET_READERS_MAX; i++) {
        while (atomic_load(&g->slot[i].active) != 0) {
            if (cet_mono_ns() > deadline) {
                atomic_store(&g->growing, false);
                pthread_cond_broadcast(&g->cond);
                pthread_mutex_unlock(&g->lock);
                return CET_AGAIN;
            }
            struct timespec ts = {0, 50000}; /* readers are in one request: microseconds */
            nanosleep(&ts, NULL);
        }
    }
    return 0; /* still holding g->lock */
}

static void gate_open(store_gate_t *g)
{
    atomic_store(&g->growing, false);
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* ---- txns ---- */
struct store_read_txn {
    store_t *st;
    MDB_txn *txn;
    store_gate_slot_t *slot;
    bool live;
};

/* Remaps after another process grew the file beyond our map (cetctl beside cetd). */
static int map_adopt(store_t *st)
{
    int rc = gate_close(&st->gate);
    if (rc) return rc;
    rc = mdb_env_set_mapsize(st->env, 0); /* 0: the size the meta page records */
    if (rc == 0) map_settle(st);
    gate_open(&st->gate);
    return rc;
}

int store_read_begin(store_t *st, store_txn_t **txn)
{
    store_gate_slot_t *s = &st->gate.slot[0];
    for (int attempt = 0;; attempt++) {
        gate_enter(&st->gate, s);
        int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
        if (rc == 0) return 0;
        gate_leave(s);
        *txn = NULL;
        if (rc != MDB_MAP_RESIZED || attempt > 0 || (rc = map_adopt(st)) != 0) return rc;
    }
}

int store_read_txn_new(store_t *st, store_read_txn_t **out)
{
    *out = NULL;
    store_read_txn_t *rt = cet_calloc(1, sizeof *rt);
    rt->st = st;
    for (size_t i = 1; i <= CET_READERS_MAX && !rt->slot; i++) {
        bool no = false;
        if (atomic_compare_exchange_strong(&st->gate.slot[i].used, &no, true))
            rt->slot = &st->gate.slot[i];
    }
    if (!rt->slot) rt->slot = &st->gate.slot[0]; /* shared: correct, only slower */
    gate_enter(&st->gate, rt->slot);
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &rt->txn);
    if (rc == 0) mdb_txn_reset(rt->txn);
    gate_leave(rt->slot);
    if (rc) {
        if (rt->slot != &st->gate.slot[0]) atomic_store(&rt->slot->used, false);
        cet_free(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

int store_read_txn_renew(store_read_txn_t *rt, store_txn_t **txn)
{
    if (rt->live) {
        *txn = rt->txn;
        return 0;
    }
    for (int attempt = 0;; attempt++) {
        gate_enter(&rt->st->gate, rt->slot);
        int rc = mdb_txn_renew(rt->txn);
        if (rc == 0) {
            rt->live = true;
            *txn = rt->txn;
            return 0;
        }
        gate_leave(rt->slot);
        *txn = NULL;
        if (rc != MDB_MAP_RESIZED || attempt > 0 || (rc = map_adopt(rt->st)) != 0) return rc;
    }
}

void store_read_txn_reset(store_read_txn_t *rt)
{
    if (!rt || !rt->live) return;
    mdb_txn_reset(rt->txn);
    rt->live = false;
    gate_leave(rt->slot);
}

void store_read_txn_free(store_read_txn_t *rt)
{
    if (!rt) return;
    store_read_txn_reset(rt);
    mdb_txn_abort(rt->txn);
    if (rt->slot != &rt->st->gate.slot[0]) atomic_store(&rt->slot->used, false);
    cet_free(rt);
}

int store_write_begin(store_t *st, store_txn_t **txn)
{
    if (st->read_only) return EACCES;
    if (atomic_load_explicit(&st->flush_failed, memory_order_relaxed)) return STORE_PANIC;
    int rc = mdb_txn_begin(st->env, NULL, 0, txn);
    if (rc == 0) {
        st->wtxn = *txn;
        st->wtxn_people = false;
    }
    return rc;
}

/*
 * The write txn (id) ended: what it did to the registration index becomes
 * visible, and it is the last to have written an account or a candidate if it
 * did, only when it committed; else both are dropped.
 */
static void wtxn_ended(store_t *st, bool committed, uint64_t id)
{
    if (committed) {
        store_regidx_publish(st->regidx);
        if (st->wtxn_people) atomic_store_explicit(&st->people_txnid, id, memory_order_relaxed);
    } else {
        store_regidx_discard(st->regidx);
    }
    st->wtxn_people = false;
    st->wtxn = NULL;
}

/* The store of a txn, and whether the txn is its write txn. */
static store_t *store_of(store_txn_t *txn, bool *is_write)
{
    store_t *st = mdb_env_get_userctx(mdb_txn_env(txn));
    *is_write = st && st->wtxn == txn;
    return st;
}

int store_commit(store_txn_t *txn)
{
    store_commit_info_t info;
    return store_commit_timed(txn, &info);
}

int store_commit_timed(store_txn_t *txn, store_commit_info_t *info)
{
    bool w;
    store_t *st = store_of(txn, &w);
    info->wrote = false;
    info->sync_ns = 0;
    if (w && st->log) {
        uint64_t id = mdb_txn_id(txn);
        int rc = store_log_commit(st, txn, info);
        wtxn_ended(st, rc == 0, id);
        return rc;
    }
    /* a write txn without a log: --sync none, LMDB commits without a flush */
    size_t id = w ? mdb_txn_id(txn) : 0;
    int rc = mdb_txn_commit(txn);
    if (w) {
        bool committed = rc == 0; /* in LMDB: readers see it from here on */
        if (committed) {
            /* a txn that changed nothing writes no meta page */
            MDB_envinfo ei;
            info->wrote = mdb_env_info(st->env, &ei) != 0 || ei.me_last_txnid == id;
        }
        wtxn_ended(st, committed, id);
    } else if (st) {
        gate_leave(&st->gate.slot[0]); /* a store_read_begin txn */
    }
    return rc;
}

void store_abort(store_txn_t *txn)
{
    bool w;
    store_t *st = store_of(txn, &w);
    mdb_txn_abort(txn);
    if (w) {
        store_log_abort(st);
        wtxn_ended(st, false, 0);
    } else if (st) {
        gate_leave(&st->gate.slot[0]); /* a store_read_begin txn */
    }
}

/* Loads the registration index from the `reg` database (at open). */
static int regidx_load_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    store_t *st = arg;
    if (klen != 8 || vlen != sizeof(store_reg_t)) return STORE_CORRUPT;
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    uint64_t seq = store_rd64(key);
    if (r.seq != seq || store_regidx_load(st->regidx, r.roster_no, r.subject, seq) != 0)
        return STORE_CORRUPT;
    if (seq > st->reg_seq_last) st->reg_seq_last = seq;
    return CET_OK;
}

int regidx_rebuild(store_t *st)
{
    store_txn_t *txn;
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
    if (rc) return rc;
    rc = store_scan(txn, st, STORE_DB_REG, NULL, 0, regidx_load_cb, st);
    mdb_txn_abort(txn);
    if (rc) CET_ERROR("store: cannot index the registrations: %s", store_strerror(rc));
    return rc;
}

int store_grow(store_t *st)
{
    pthread_mutex_lock(&st->grow_lock);
    size_t cur = atomic_load(&st->map_bytes);
    size_t next = cur * CET_MAP_GROW_FACTOR;
    int rc = STORE_NOSPACE;
    if (next <= CET_MAP_BYTES_MAX && (rc = gate_close(&st->gate)) == 0) {
        rc = mdb_env_set_mapsize(st->env, next);
        if (rc == 0) atomic_store(&st->map_bytes, next);
        gate_open(&st->gate);
        if (rc == 0) CET_INFO("store: map grown from %zu to %zu MiB", cur >> 20, next >> 20);
    }
    if (rc == CET_AGAIN) CET_WARN("store: map growth postponed: read txns stayed live");
    pthread_mutex_unlock(&st->grow_lock);
    return rc;
}

/* Free bytes of the file system under st (root may use the reserved blocks). */
static int space_free(store_t *st, unsigned long long *free_bytes, unsigned long long *size)
{
    struct statvfs vs;
    if (statvfs(st->dir, &vs) != 0) return errno;
    unsigned long long blocks = geteuid() == 0 ? vs.f_bfree : vs.f_bavail;
    *free_bytes = blocks * vs.f_frsize;
    *size = (unsigned long long)vs.f_blocks * vs.f_frsize;
    return 0;
}

bool store_space_low(store_t *st)
{
    unsigned long long free_bytes = 0, size = 0;
    if (space_free(st, &free_bytes, &size) != 0) return false;
    unsigned long long margin = CET_DISK_FULL_MARGIN_BYTES;
    if (margin > size / 16) margin = size / 16; /* a small file system: 1/16 of it */
    return free_bytes < margin;
}

bool store_rc_is_nospace(store_t *st, int rc)
{
    if (rc == STORE_NOSPACE || rc == ENOSPC || rc == EDQUOT || rc == EFBIG) return true;
    /* LMDB reports a short pwrite (the disk filled up mid-commit) as EIO */
    return rc == EIO && store_space_low(st);
}

int store_write_run(store_t *st, int (*fn)(store_txn_t *txn, void *arg), void *arg)
{
    for (;;) {
        store_txn_t *txn;
        int rc = store_write_begin(st, &txn);
        if (rc) return rc;
        rc = fn(txn, arg);
        if (rc == 0) {
            rc = store_commit(txn);
        } else {
            store_abort(txn);
        }
        if (rc != MDB_MAP_FULL) return rc && store_rc_is_nospace(st, rc) ? STORE_NOSPACE : rc;
        rc = store_grow(st);
        if (rc) return rc;
    }
}

/* ---- raw access ---- */
int store_get_ref(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen, store_val_t *val)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(txn, store_dbi(st, db), &k, &v);
    val->data = rc ? NULL : v.mv_data;
    val->len = rc ? 0 : v.mv_size;
    return rc;
}

int store_get_raw(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen, void *buf, size_t cap, size_t *len)
{
    store_val_t v;
    int rc = store_get_ref(txn, st, db, key, klen, &v);
    if (rc) return rc;
    if (len) *len = v.len;
    memcpy(buf, v.data, v.len < cap ? v.len : cap);
    return 0;
}

/* Every change of the store's write calls: into the commit log, and noted when it
 * is an account or a candidate (store_people_unchanged). */
static void wrote(const store_t *st, store_txn_t *txn, int op, store_db_t db, const void *key,
                  size_t klen, const void *val, size_t vlen)
{
    store_t *w = (store_t *)st;
    if ((db == STORE_DB_ACCOUNT || db == STORE_DB_CANDIDATE) && txn == w->wtxn)
        w->wtxn_people = true;
    store_log_add(w, txn, op, db, key, klen, val, vlen);
}

int store_put_raw(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen, const void *val, size_t vlen, unsigned flags)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_put(txn, store_dbi(st, db), &k, &v, flags);
    if (rc == 0) wrote(st, txn, STORE_LOG_PUT, db, key, klen, val, vlen);
    return rc;
}

int store_del_raw(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(txn, store_dbi(st, db), &k, NULL);
    if (rc == 0) wrote(st, txn, STORE_LOG_DEL, db, key, klen, NULL, 0);
    return rc;
}

uint64_t store_txn_snapshot(store_txn_t *txn)
{
    return (uint64_t)mdb_txn_id(txn);
}

bool store_people_unchanged(store_txn_t *wtxn, const store_t *st, uint64_t snapshot)
{
    if (wtxn != st->wtxn || st->wtxn_people || !snapshot) return false;
    /* written by the writer thread after each commit; read on the same thread */
    return atomic_load_explicit(&((store_t *)st)->people_txnid, memory_order_relaxed) <= snapshot;
}

int store_count(store_txn_t *txn, const store_t *st, store_db_t db, size_t *n)
{
    MDB_stat s;
    int rc = mdb_stat(txn, store_dbi(st, db), &s);
    if (rc == 0) *n = s.ms_entries;
    return rc;
}

int store_scan(store_txn_t *txn, const store_t *st, store_db_t db, const void *prefix,
               size_t plen, store_scan_cb fn, void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(st, db), &cur);
    if (rc) return rc;
    MDB_val k = {plen, (void *)prefix}, v;
    rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)) break;
        int r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
        if (r != CET_OK) {
            mdb_cursor_close(cur);
            return r == CET_DONE ? CET_OK : r;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? CET_OK : rc;
}

int store_update(store_txn_t *txn, const store_t *st, store_db_t db, const void *from,
                 size_t flen, store_update_cb fn, void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(st, db), &cur);
    if (rc) return rc;
    uint8_t buf[STORE_UPDATE_VALUE_BYTES_MAX];
    MDB_val k = {flen, (void *)from}, v;
    rc = mdb_cursor_get(cur, &k, &v, flen ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        if (v.mv_size > sizeof buf) {
            rc = STORE_BADARG;
            break;
        }
        memcpy(buf, v.mv_data, v.mv_size);
        bool changed = false;
        int r = fn(k.mv_data, k.mv_size, buf, v.mv_size, &changed, arg);
        if (changed) {
            MDB_val nv = {v.mv_size, buf};
            if ((rc = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT))) break;
            wrote(st, txn, STORE_LOG_PUT, db, k.mv_data, k.mv_size, buf, v.mv_size);
        }
        if (r != CET_OK) {
            rc = r == CET_DONE ? CET_OK : r;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? CET_OK : rc;
}

int store_sweep(store_txn_t *txn, const store_t *st, store_db_t db, const void *from,
                size_t flen, unsigned max, store_dead_cb dead_cb, void *arg, void *next,
                size_t next_cap, size_t *next_len)
{
    *next_len = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(st, db), &cur);
    if (rc) return rc;
    MDB_val k = {flen, (void *)from}, v;
    rc = mdb_cursor_get(cur, &k, &v, flen ? MDB_SET_RANGE : MDB_FIRST);
    for (unsigned seen = 0; rc == 0 && seen < max; seen++) {
        if (dead_cb(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg)) {
            /* the key first: after the delete the cursor's key may point elsewhere */
            wrote(st, txn, STORE_LOG_DEL, db, k.mv_data, k.mv_size, NULL, 0);
            if ((rc = mdb_cursor_del(cur, 0))) break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after a delete: the next one */
    }
    if (rc == 0 && k.mv_size <= next_cap) {
        memcpy(next, k.mv_data, k.mv_size); /* the first entry not looked at */
        *next_len = k.mv_size;
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
        rc = CET_DONE;
    }
    mdb_cursor_close(cur);
    return rc;
}

/* ---- meta ---- */
int store_meta_get_u64(store_txn_t *txn, const store_t *st, const char *key, uint64_t *out)
{
    uint8_t buf[8];
    size_t len;
    int rc = store_get_raw(txn, st, STORE_DB_META, key, strlen(key), buf, sizeof buf, &len);
    if (rc) return rc;
    if (len != 8) return STORE_CORRUPT;
    *out = store_rd64(buf);
    return 0;
}

int store_meta_put_u64(store_txn_t *txn, const store_t *st, const char *key, uint64_t v)
{
    uint8_t buf[8];
    store_be64(buf, v);
    return store_put_raw(txn, st, STORE_DB_META, key, strlen(key), buf, 8, 0);
}

/* ---- keys ---- */
size_t store_roster_key(uint8_t out[1 + CET_ID_NUMBER_BYTES], uint8_t id_type,
                        const char *id_number)
{
    size_t n = strlen(id_number);
    if (n == 0 || n >= CET_ID_NUMBER_BYTES) return 0;
    out[0] = id_type;
    for (size_t i = 0; i < n; i++) {
        char c = id_number[i];
        out[1 + i] = (uint8_t)((c >= 'a' && c <= 'z') ? c - 32 : c);
    }
    return 1 + n;
}

void store_offer_key(uint8_t out[5], uint32_t campus, char subject)
{
    store_be32(out, campus);
    out[4] = (uint8_t)subject;
}


void store_expiry_key(uint8_t out[STORE_EXPIRY_KEY_BYTES], int64_t due, uint8_t kind,
                      uint64_t id, char subject)
{
    store_be64(out, (uint64_t)(due < 0 ? 0 : due));
    out[8] = kind;
    store_be64(out + 9, id);
    out[17] = (uint8_t)subject;
}
