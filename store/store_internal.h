/* store_internal.h: the store's private state, shared by the store/ files. */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/store.h"
#include "store/store_regidx.h"

struct store {
    MDB_env *env;
    MDB_dbi dbi[STORE_DB__COUNT];
    size_t map_bytes;
    bool read_only;
    pthread_mutex_t grow_lock;
    store_regidx_t *regidx; /* candidate -> registration keys (store_regidx.h) */
    uint64_t reg_seq_last;  /* the last registration sequence number given */
    _Atomic(MDB_txn *) wtxn; /* the write txn in progress, if any (read by any thread) */
};

/** Rebuilds regidx from the `reg` database (store_open). */
int regidx_rebuild(store_t *st);

#endif
