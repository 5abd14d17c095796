/*
 * store_account.c: the records of the account lifecycle: the mail outbox,
 * password-reset tokens, and the index of each account's sessions
 * (store.h, "The account lifecycle"; docs/storage.md).
 */
#include <sodium.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "store/store_internal.h"

/* ---- the outbox ---- */
#define OUTBOX_KEY_BYTES 9 /* u8 state ‖ u64 id */

/* The meta counter of the mails in state, kept with every change (so /metrics reads one key). */
static const char *count_key(uint8_t state)
{
    return state == STORE_MAIL_PENDING ? "mail_pending" : "mail_failed";
}

static int count_add(store_txn_t *txn, const store_t *st, uint8_t state, int64_t d)
{
    uint64_t n = 0;
    int rc = store_meta_get_u64(txn, st, count_key(state), &n);
    if (rc && rc != STORE_NOTFOUND) return rc;
    n = (d < 0 && n < (uint64_t)-d) ? 0 : (uint64_t)((int64_t)n + d);
    return store_meta_put_u64(txn, st, count_key(state), n);
}

static void outbox_key(uint8_t k[OUTBOX_KEY_BYTES], uint8_t state, uint64_t id)
{
    k[0] = state;
    store_be64(k + 1, id);
}

int store_mail_queue(store_txn_t *txn, const store_t *st, int64_t now, uint8_t kind, const char *to,
                     const char *subject, const char *body, uint64_t *id_out)
{
    size_t tl = strlen(to), sl = strlen(subject), bl = strlen(body);
    if (tl == 0 || tl >= CET_EMAIL_BYTES || sl > CET_MAIL_SUBJECT_BYTES_MAX ||
        bl > CET_MAIL_BODY_BYTES_MAX)
        return STORE_BADARG;
    uint64_t last = 0;
    int rc = store_meta_get_u64(txn, st, "mail_seq", &last);
    if (rc && rc != STORE_NOTFOUND) return rc;
    if ((rc = store_meta_put_u64(txn, st, "mail_seq", last + 1))) return rc;

    uint8_t buf[sizeof(store_mail_t) + CET_MAIL_SUBJECT_BYTES_MAX + CET_MAIL_BODY_BYTES_MAX];
    store_mail_t m;
    memset(&m, 0, sizeof m);
    m.id = last + 1;
    m.created = now;
    randombytes_buf(m.nonce, sizeof m.nonce);
    m.kind = kind;
    m.state = STORE_MAIL_PENDING;
    m.subject_len = (uint16_t)sl;
    m.body_len = (uint16_t)bl;
    cet_strlcpy(m.to, to, sizeof m.to);
    memcpy(buf, &m, sizeof m);
    memcpy(buf + sizeof m, subject, sl);
    memcpy(buf + sizeof m + sl, body, bl);
    uint8_t k[OUTBOX_KEY_BYTES];
    outbox_key(k, STORE_MAIL_PENDING, m.id);
    rc = store_put_raw(txn, st, STORE_DB_OUTBOX, k, sizeof k, buf, sizeof m + sl + bl,
                       MDB_NOOVERWRITE);
    if (rc == 0) rc = count_add(txn, st, STORE_MAIL_PENDING, 1);
    if (rc == 0 && id_out) *id_out = m.id;
    return rc;
}

/* Checks a stored mail's shape; STORE_CORRUPT when the value cannot be one. */
static int mail_decode(const void *val, size_t vlen, store_mail_t *m)
{
    if (vlen < sizeof *m) return STORE_CORRUPT;
    memcpy(m, val, sizeof *m);
    if (sizeof *m + m->subject_len + m->body_len != vlen ||
        m->subject_len > CET_MAIL_SUBJECT_BYTES_MAX || m->body_len > CET_MAIL_BODY_BYTES_MAX)
        return STORE_CORRUPT;
    return 0;
}

typedef struct mail_walk {
    store_mail_cb fn;
    void *arg;
    char subject[CET_MAIL_SUBJECT_BYTES_MAX + 1];
    char body[CET_MAIL_BODY_BYTES_MAX + 1];
} mail_walk_t;

static int mail_scan_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    mail_walk_t *w = arg;
    (void)key;
    if (klen != OUTBOX_KEY_BYTES) return STORE_CORRUPT;
    store_mail_t m;
    int rc = mail_decode(val, vlen, &m);
    if (rc) return rc;
    memcpy(w->subject, (const uint8_t *)val + sizeof m, m.subject_len);
    w->subject[m.subject_len] = 0;
    memcpy(w->body, (const uint8_t *)val + sizeof m + m.subject_len, m.body_len);
    w->body[m.body_len] = 0;
    return w->fn(&m, w->subject, w->body, w->arg);
}

int store_mail_scan(store_txn_t *txn, const store_t *st, uint8_t state, uint64_t after_id,
                    store_mail_cb fn, void *arg)
{
    /* the walk starts at the first key of state above after_id and stops at the next state */
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(st, STORE_DB_OUTBOX), &cur);
    if (rc) return rc;
    mail_walk_t walk, *w = &walk; /* 4 KiB on the caller's stack: no allocation per scan */
    w->fn = fn;
    w->arg = arg;
    uint8_t k[OUTBOX_KEY_BYTES];
    outbox_key(k, state, after_id + 1);
    MDB_val key = {sizeof k, k}, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        if (key.mv_size < 1 || ((const uint8_t *)key.mv_data)[0] != state) break;
        int r = mail_scan_cb(key.mv_data, key.mv_size, val.mv_data, val.mv_size, w);
        if (r) {
            rc = r == CET_DONE ? 0 : r;
            goto out;
        }
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) rc = 0;
out:
    mdb_cursor_close(cur);
    return rc;
}

int store_mail_sent(store_txn_t *txn, const store_t *st, uint64_t id)
{
    uint8_t k[OUTBOX_KEY_BYTES];
    outbox_key(k, STORE_MAIL_PENDING, id);
    int rc = store_del_raw(txn, st, STORE_DB_OUTBOX, k, sizeof k);
    if (rc == STORE_NOTFOUND) return 0; /* sent twice (at least once): counted once */
    return rc ? rc : count_add(txn, st, STORE_MAIL_PENDING, -1);
}

int store_mail_failed(store_txn_t *txn, const store_t *st, uint64_t id, int32_t smtp_code)
{
    uint8_t k[OUTBOX_KEY_BYTES];
    outbox_key(k, STORE_MAIL_PENDING, id);
    store_val_t v;
    int rc = store_get_ref(txn, st, STORE_DB_OUTBOX, k, sizeof k, &v);
    if (rc) return rc == STORE_NOTFOUND ? 0 : rc;
    store_mail_t m;
    if ((rc = mail_decode(v.data, v.len, &m))) return rc;
    size_t n = v.len;
    uint8_t buf[sizeof(store_mail_t) + CET_MAIL_SUBJECT_BYTES_MAX + CET_MAIL_BODY_BYTES_MAX];
    memcpy(buf, v.data, n); /* the map value dies with the delete below (mail_decode bounds n) */
    m.state = STORE_MAIL_FAILED;
    m.attempts++;
    m.last_code = smtp_code;
    memcpy(buf, &m, sizeof m);
    rc = store_del_raw(txn, st, STORE_DB_OUTBOX, k, sizeof k);
    if (rc == 0) {
        outbox_key(k, STORE_MAIL_FAILED, id);
        rc = store_put_raw(txn, st, STORE_DB_OUTBOX, k, sizeof k, buf, n, 0);
    }
    if (rc == 0) rc = count_add(txn, st, STORE_MAIL_PENDING, -1);
    if (rc == 0) rc = count_add(txn, st, STORE_MAIL_FAILED, 1);
    return rc;
}

int store_mail_count(store_txn_t *txn, const store_t *st, uint8_t state, size_t *n)
{
    uint64_t v = 0;
    int rc = store_meta_get_u64(txn, st, count_key(state), &v);
    *n = (size_t)v;
    return rc == STORE_NOTFOUND ? 0 : rc;
}

/* ---- password-reset tokens ---- */
int store_reset_get(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32],
                    store_reset_t *out)
{
    store_val_t v;
    int rc = store_get_ref(txn, st, STORE_DB_RESET, token_hash, 32, &v);
    if (rc) return rc;
    if (v.len != sizeof *out) return STORE_CORRUPT;
    memcpy(out, v.data, sizeof *out);
    return 0;
}

int store_reset_put(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32],
                    const store_reset_t *r)
{
    return store_put_raw(txn, st, STORE_DB_RESET, token_hash, 32, r, sizeof *r, 0);
}

int store_reset_supersede(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                          int64_t now)
{
    store_reset_t m;
    memset(&m, 0, sizeof m);
    memcpy(m.account, account, STORE_ACCOUNT_ID_BYTES);
    m.created = now;
    m.expires = now + CET_RESET_TTL_S;
    return store_put_raw(txn, st, STORE_DB_RESET, account, STORE_ACCOUNT_ID_BYTES, &m, sizeof m, 0);
}

int store_reset_superseded(store_txn_t *txn, const store_t *st, const store_reset_t *r, bool *out)
{
    store_reset_t m;
    *out = false;
    int rc = store_get_raw(txn, st, STORE_DB_RESET, r->account, STORE_ACCOUNT_ID_BYTES, &m,
                           sizeof m, NULL);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    *out = r->created <= m.created; /* the same second counts as before: never one too many */
    return 0;
}

int store_reset_sweep(store_txn_t *txn, const store_t *st, const uint8_t near[32], int64_t now)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(st, STORE_DB_RESET), &cur);
    if (rc) return rc;
    MDB_val k = {32, (void *)near}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); /* wrap */
    for (int seen = 0; rc == 0 && seen < CET_RESET_SWEEP_MAX; seen++) {
        store_reset_t r;
        bool dead = v.mv_size != sizeof r; /* a record of another shape is no token */
        if (!dead) {
            memcpy(&r, v.mv_data, sizeof r);
            dead = r.expires < now;
        }
        if (dead) {
            store_log_add((store_t *)st, txn, STORE_LOG_DEL, STORE_DB_RESET, k.mv_data, k.mv_size,
                          NULL, 0);
            if ((rc = mdb_cursor_del(cur, 0))) break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after a delete: the next one */
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- the sessions of an account ---- */
#define ACCOUNT_SESSION_KEY_BYTES (STORE_ACCOUNT_ID_BYTES + 32)

static void account_session_key(uint8_t k[ACCOUNT_SESSION_KEY_BYTES], const uint8_t account[16],
                                const uint8_t token_hash[32])
{
    memcpy(k, account, STORE_ACCOUNT_ID_BYTES);
    memcpy(k + STORE_ACCOUNT_ID_BYTES, token_hash, 32);
}

typedef struct session_walk {
    uint8_t keys[CET_ACCOUNT_SESSIONS_BATCH_MAX][32];
    int n;
} session_walk_t;

static int session_collect_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    session_walk_t *w = arg;
    (void)val, (void)vlen;
    if (klen != ACCOUNT_SESSION_KEY_BYTES) return STORE_CORRUPT;
    if (w->n >= CET_ACCOUNT_SESSIONS_BATCH_MAX) return CET_DONE;
    memcpy(w->keys[w->n++], (const uint8_t *)key + STORE_ACCOUNT_ID_BYTES, 32);
    return 0;
}

/*
 * One pass over the account's index: ends (end) or only prunes the dead
 * (!end) sessions other than keep. *live gets the live ones ended, *more
 * whether the pass was full (another may find more).
 */
static int sessions_pass(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                         const uint8_t *keep, bool end, int64_t now, int *live, bool *more)
{
    session_walk_t walk, *w = &walk; /* 2 KiB on the writer's stack */
    w->n = 0;
    int rc = store_scan(txn, st, STORE_DB_ACCOUNT_SESSION, account, STORE_ACCOUNT_ID_BYTES,
                        session_collect_cb, w);
    *more = w->n == CET_ACCOUNT_SESSIONS_BATCH_MAX;
    for (int i = 0; rc == 0 && i < w->n; i++) {
        if (keep && memcmp(w->keys[i], keep, 32) == 0) continue;
        store_session_t s;
        int g = store_get_raw(txn, st, STORE_DB_SESSION, w->keys[i], 32, &s, sizeof s, NULL);
        bool alive = g == 0 && s.expires > now && memcmp(s.account, account, 16) == 0;
        if (g && g != STORE_NOTFOUND) {
            rc = g;
            break;
        }
        if (alive && !end) continue;
        if (alive) {
            if ((rc = store_del_raw(txn, st, STORE_DB_SESSION, w->keys[i], 32))) break;
            (*live)++;
        }
        uint8_t k[ACCOUNT_SESSION_KEY_BYTES];
        account_session_key(k, account, w->keys[i]);
        rc = store_del_raw(txn, st, STORE_DB_ACCOUNT_SESSION, k, sizeof k);
    }
    return rc;
}

int store_account_session_link(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                               const uint8_t token_hash[32])
{
    int live = 0;
    bool more = false;
    /* one pass of pruning: the index of an account stays near its live sessions */
    int rc = sessions_pass(txn, st, account, token_hash, false, cet_now_s(), &live, &more);
    if (rc) return rc;
    uint8_t k[ACCOUNT_SESSION_KEY_BYTES];
    account_session_key(k, account, token_hash);
    return store_put_raw(txn, st, STORE_DB_ACCOUNT_SESSION, k, sizeof k, "", 0, 0);
}

int store_account_session_unlink(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                                 const uint8_t token_hash[32])
{
    uint8_t k[ACCOUNT_SESSION_KEY_BYTES];
    account_session_key(k, account, token_hash);
    int rc = store_del_raw(txn, st, STORE_DB_ACCOUNT_SESSION, k, sizeof k);
    return rc == STORE_NOTFOUND ? 0 : rc;
}

int store_account_sessions_end(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                               const uint8_t *keep, int *ended)
{
    int live = 0, rc = 0;
    bool more = true;
    int64_t now = cet_now_s();
    for (int pass = 0; rc == 0 && more && pass < CET_ACCOUNT_SESSIONS_PASSES_MAX; pass++) {
        /* each pass deletes all it saw but keep, so the next one starts further on */
        rc = sessions_pass(txn, st, account, keep, true, now, &live, &more);
    }
    if (ended) *ended = live;
    return rc;
}
