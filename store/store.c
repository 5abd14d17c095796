/*
 * store.c: the LMDB environment, raw access, map growth and iteration.
 * The typed records live in store_records.c, the writer in store_writer.c.
 */
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
};

const char *store_strerror(int rc)
{
    switch (rc) {
    case STORE_CORRUPT:
        return "store: a record has the wrong size or schema version";
    case STORE_BADARG:
        return "store: invalid argument";
    default:
        return mdb_strerror(rc); /* covers LMDB codes and errno */
    }
}

MDB_env *store_env(store_t *st)
{
    return st->env;
}

MDB_dbi store_dbi(const store_t *st, store_db_t db)
{
    CET_ASSERT((unsigned)db < STORE_DB__COUNT);
    return st->dbi[db];
}

static int open_dbis(store_t *st)
{
    MDB_txn *txn;
    unsigned tflags = st->read_only ? MDB_RDONLY : 0;
    int rc = mdb_txn_begin(st->env, NULL, tflags, &txn);
    if (rc) return rc;
    for (int i = 0; i < STORE_DB__COUNT; i++) {
        rc = mdb_dbi_open(txn, store_db_names[i], st->read_only ? 0 : MDB_CREATE, &st->dbi[i]);
        if (rc) {
            CET_ERROR("store: cannot open database %s: %s%s", store_db_names[i], mdb_strerror(rc),
                      rc == MDB_NOTFOUND && st->read_only
                          ? " (an older schema: open the directory writable once to upgrade it)"
                          : "");
            mdb_txn_abort(txn);
            return rc;
        }
    }
    uint64_t version = 0;
    rc = store_meta_get_u64(txn, st, "schema_version", &version);
    if (rc == STORE_NOTFOUND && !st->read_only) {
        rc = store_meta_put_u64(txn, st, "schema_version", STORE_SCHEMA_VERSION);
        version = STORE_SCHEMA_VERSION;
    }
    if (rc == 0 && !st->read_only) rc = store_tickets_migrate(txn, st, &version);
    if (rc == 0 && version != STORE_SCHEMA_VERSION) {
        CET_ERROR("store: schema version %llu on disk, this build reads %d%s",
                  (unsigned long long)version, STORE_SCHEMA_VERSION,
                  version == 2 ? " (a schema-2 directory is upgraded by opening it writable once: "
                                 "start cetd or run any cetctl import on it)"
                               : " (docs/storage.md, \"Schema versions\")");
        rc = STORE_CORRUPT;
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

int store_open(const store_options_t *opt, store_t **out)
{
    *out = NULL;
    cet_strerror_set_store(store_strerror);
    if (!opt || !opt->dir) return STORE_BADARG;
    if (!opt->read_only && mkdir(opt->dir, 0750) != 0 && errno != EEXIST) return errno;

    store_t *st = cet_calloc(1, sizeof *st);
    st->read_only = opt->read_only;
    pthread_mutex_init(&st->grow_lock, NULL);
    int rc = mdb_env_create(&st->env);
    if (rc) goto fail;
    mdb_env_set_maxdbs(st->env, CET_DBS_MAX);
    mdb_env_set_maxreaders(st->env, opt->readers ? opt->readers : CET_READERS_MAX);

    /* The map is at least as large as the file already is. */
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", opt->dir);
    struct stat sb;
    size_t map = opt->map_bytes ? opt->map_bytes : CET_MAP_INITIAL_BYTES;
    if (stat(path, &sb) == 0 && (size_t)sb.st_size > map) map = (size_t)sb.st_size * 2;
    rc = mdb_env_set_mapsize(st->env, map);
    if (rc) goto fail;
    st->map_bytes = map;

    unsigned flags = MDB_NOTLS;
    if (opt->read_only) flags |= MDB_RDONLY;
    /* sync off: MDB_NOSYNC, the OS writes back when it likes (--sync none) */
    if (!opt->sync) flags |= MDB_NOSYNC;
    /* MDB_WRITEMAP: LMDB writes dirty pages in place and msyncs them at commit
     * instead of malloc+pwrite; measured 2x the durable registrations per
     * second on these machines (docs/benchmarks.md). Our code still never
     * writes through a pointer into the map: values are copied out. */
    if (!opt->read_only) flags |= MDB_WRITEMAP;
    rc = mdb_env_open(st->env, opt->dir, flags, 0640);
    if (rc) goto fail;

    int dead = 0;
    rc = mdb_reader_check(st->env, &dead);
    if (rc) goto fail;
    if (dead) CET_WARN("store: cleared %d stale reader slots", dead);

    rc = open_dbis(st);
    if (rc) goto fail;
    mdb_env_set_userctx(st->env, st);
    st->regidx = store_regidx_new();
    rc = regidx_rebuild(st);
    if (rc) goto fail;
    *out = st;
    return 0;
fail:
    CET_ERROR("store: cannot open %s: %s", opt->dir, store_strerror(rc));
    store_regidx_free(st->regidx);
    if (st->env) mdb_env_close(st->env);
    pthread_mutex_destroy(&st->grow_lock);
    cet_free(st);
    return rc;
}

void store_close(store_t *st)
{
    if (!st) return;
    store_regidx_free(st->regidx);
    mdb_env_close(st->env);
    pthread_mutex_destroy(&st->grow_lock);
    cet_free(st);
}

int store_read_begin(store_t *st, store_txn_t **txn)
{
    return mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
}

int store_write_begin(store_t *st, store_txn_t **txn)
{
    if (st->read_only) return EACCES;
    int rc = mdb_txn_begin(st->env, NULL, 0, txn);
    if (rc == 0) st->wtxn = *txn;
    return rc;
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
    bool w;
    store_t *st = store_of(txn, &w);
    int rc = mdb_txn_commit(txn);
    if (w) {
        /* what the txn did to the registration index becomes visible only now */
        if (rc == 0)
            store_regidx_publish(st->regidx);
        else
            store_regidx_discard(st->regidx);
        st->wtxn = NULL;
    }
    return rc;
}

void store_abort(store_txn_t *txn)
{
    bool w;
    store_t *st = store_of(txn, &w);
    mdb_txn_abort(txn);
    if (w) {
        store_regidx_discard(st->regidx);
        st->wtxn = NULL;
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
    return 0;
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
    size_t next = st->map_bytes * CET_MAP_GROW_FACTOR;
    int rc = ENOSPC;
    if (next <= CET_MAP_BYTES_MAX) {
        rc = mdb_env_set_mapsize(st->env, next);
        if (rc == 0) {
            CET_INFO("store: map grown from %zu to %zu MiB", st->map_bytes >> 20, next >> 20);
            st->map_bytes = next;
        }
    }
    pthread_mutex_unlock(&st->grow_lock);
    return rc;
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
        if (rc != MDB_MAP_FULL) return rc;
        rc = store_grow(st);
        if (rc) return rc;
    }
}

/* ---- raw access ---- */
int store_get_ref(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen, MDB_val *val)
{
    MDB_val k = {klen, (void *)key};
    return mdb_get(txn, store_dbi(st, db), &k, val);
}

int store_get_raw(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen, void *buf, size_t cap, size_t *len)
{
    MDB_val v;
    int rc = store_get_ref(txn, st, db, key, klen, &v);
    if (rc) return rc;
    if (len) *len = v.mv_size;
    memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
    return 0;
}

int store_put_raw(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen, const void *val, size_t vlen, unsigned flags)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    return mdb_put(txn, store_dbi(st, db), &k, &v, flags);
}

int store_del_raw(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                  size_t klen)
{
    MDB_val k = {klen, (void *)key};
    return mdb_del(txn, store_dbi(st, db), &k, NULL);
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
        if (r > 0) break;
        if (r < 0) {
            mdb_cursor_close(cur);
            return r;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
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
                      uint32_t roster_no, char subject)
{
    store_be64(out, (uint64_t)(due < 0 ? 0 : due));
    out[8] = kind;
    store_be32(out + 9, roster_no);
    out[13] = (uint8_t)subject;
}
