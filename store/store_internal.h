/* store_internal.h: the store's private state, shared by the store/ files only. */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "store/store.h"
#include "store/store_regidx.h"

/*
 * The map-growth gate: mdb_env_set_mapsize may only run while no txn of the
 * process is active. Each store_read_txn_t owns one slot (a counter on its
 * own cache line); short read txns (store_read_begin) share slot 0. A reader
 * raises its slot, then looks at `growing`; the grower sets `growing`, then
 * waits for every slot to fall to zero (both sides seq_cst: Dekker). Readers
 * that meet `growing` step back and sleep on `cond` until the map is remapped.
 */
typedef struct store_gate_slot {
    _Atomic unsigned active; /* read txns live on this slot */
    _Atomic bool used;       /* slot handed out (slot 0 always) */
    /* padding, not _Alignas: store_t comes from the allocator, which does not
     * promise 64-byte alignment (large blocks are page-aligned in practice) */
    char pad_[64 - sizeof(_Atomic unsigned) - sizeof(_Atomic bool)];
} store_gate_slot_t;
_Static_assert(sizeof(store_gate_slot_t) == 64, "one gate slot per cache line");

typedef struct store_gate {
    _Atomic bool growing;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    store_gate_slot_t slot[CET_READERS_MAX + 1];
} store_gate_t;

typedef struct store_log store_log_t;

struct store {
    MDB_env *env;
    MDB_dbi dbi[STORE_DB__COUNT];
    _Atomic size_t map_bytes;
    bool read_only;
    bool sync;              /* opened with sync (not MDB_NOSYNC) */
    _Atomic bool flush_failed; /* the commit log or a checkpoint failed: no write txn begins again */
    pthread_mutex_t grow_lock;
    store_gate_t gate;
    int lock_fd;            /* the flocked STORE_LOCK_FILE, -1 when read only */
    int lockmdb_fd;         /* lock.mdb, kept open: see lockfile_prealloc in store.c */
    char dir[4096];
    store_regidx_t *regidx; /* candidate -> registration keys (store_regidx.h) */
    uint64_t reg_seq_last;  /* the last registration sequence number given */
    _Atomic(MDB_txn *) wtxn; /* the write txn in progress, if any (read by any thread) */
    store_log_t *log;       /* the commit log (store_log.c); NULL when read only or --sync none */
    uint64_t upgrade_from;  /* the older schema version store_open upgrades (0: none) */
    bool no_upgrade;        /* store_options_t.no_upgrade */
    /* store_people_unchanged: whether the write txn in progress wrote an account or a
     * candidate, and the id of the last committed txn that did (0: none since open) */
    bool wtxn_people;
    _Atomic uint64_t people_txnid;
};

/** The dbi of a named database. */
MDB_dbi store_dbi(const store_t *st, store_db_t db);
/** Rebuilds regidx from the `reg` database (store_open). */
int regidx_rebuild(store_t *st);
/**
 * Takes dir's lock (an exclusive flock on dir/STORE_LOCK_FILE, created 0640)
 * and writes "pid\nowner\n" into it. 0 and *fd (close it to release),
 * STORE_LOCKED when another process holds it, or errno.
 */
int store_dir_lock(const char *dir, const char *owner, int *fd);


/* ---- the commit log (store_log.c) ---- */
#define STORE_LOG_PUT 1
#define STORE_LOG_DEL 2
/**
 * Before mdb_env_open of a writing open: makes st->log (store_log_close frees
 * it from here on) and, when `checkpoint` exists and the meta pages on disk
 * are not the ones it saved, writes the saved ones back. 0, STORE_CORRUPT (a
 * damaged checkpoint), STORE_LOCKED (another process has the environment
 * open), or errno.
 */
int store_log_prepare(store_t *st);
/**
 * Right after mdb_env_open, before anything writes: when there is a
 * checkpoint, a read txn on its snapshot. Recovery goes back to that snapshot
 * until a new checkpoint is durable, so neither the replay nor later commits
 * may reuse its pages; the new checkpoint (or store_log_close) ends it.
 */
int store_log_pin(store_t *st);
/** After the databases are open: replays the log, checkpoints, starts the checkpoint thread. */
int store_log_start(store_t *st, size_t replay_txn_bytes);
/** Waits for a checkpoint in flight, takes a last one, closes the log (store_close). */
void store_log_close(store_t *st);
/** Records a put (val) or delete (val NULL, vlen 0) that succeeded in txn, when it is st's write txn. */
void store_log_add(store_t *st, MDB_txn *txn, int op, store_db_t db, const void *key,
                   size_t klen, const void *val, size_t vlen);
/** Commits st's write txn through the log (the record is durable before LMDB commits). */
int store_log_commit(store_t *st, MDB_txn *txn, store_commit_info_t *info);
/** The write txn was aborted: its entries are dropped. */
void store_log_abort(store_t *st);
/** Removes dir's checkpoint (first, durably) and log files: its data.mdb is being replaced. */
int store_log_forget(const char *dir);
/** fsync of the directory dir (its new or renamed entries last): 0 or errno. */
int store_fsync_dir(const char *dir);
/** dir has a checkpoint whose meta pages are not data.mdb's (not closed cleanly, or in use). */
bool store_log_unclean(const char *dir);
/** A checkpoint now (store_sync with a log). */
int store_log_checkpoint(store_t *st);

#endif
