/*
 * Unit tests of store/store_account.c: the outbox (queue, scan, sent,
 * failed), reset records and their sweep, and the index of an account's
 * sessions that ends them all (paired with store_session_put/_del).
 */
#include "store/store.h"

#include <sodium.h>

#include "base/cet_base.h"
#include "base/cet_token.h"
#include "tests/unit/cet_test.h"

static store_t *open_store(const char *dir)
{
    store_options_t opt = {.dir = dir, .sync = false, .map_bytes = 64u << 20};
    store_t *st = NULL;
    CHECK_EQ(store_open(&opt, &st), 0);
    if (!st) exit(2);
    return st;
}

typedef struct seen {
    int n;
    uint64_t ids[8];
    char subject[64], body[64], to[CET_EMAIL_BYTES];
} seen_t;

static int seen_cb(const store_mail_t *m, const char *subject, const char *body, void *arg)
{
    seen_t *s = arg;
    if (s->n < 8) s->ids[s->n] = m->id;
    s->n++;
    cet_strlcpy(s->subject, subject, sizeof s->subject);
    cet_strlcpy(s->body, body, sizeof s->body);
    cet_strlcpy(s->to, m->to, sizeof s->to);
    return 0;
}

static void test_outbox(store_t *st)
{
    store_txn_t *txn;
    uint64_t a = 0, b = 0;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_mail_queue(txn, st, 1000, STORE_MAIL_RESET, "a@x.cn", "主题", "正文 1", &a), 0);
    CHECK_EQ(store_mail_queue(txn, st, 1001, STORE_MAIL_EMAIL_CHANGED, "b@x.cn", "s", "body 2", &b),
             0);
    CHECK_EQ(a, 1);
    CHECK_EQ(b, 2);
    /* too long a body, an empty recipient: refused, nothing written */
    char big[CET_MAIL_BODY_BYTES_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ(store_mail_queue(txn, st, 1, STORE_MAIL_RESET, "a@x.cn", "s", big, NULL),
             STORE_BADARG);
    CHECK_EQ(store_mail_queue(txn, st, 1, STORE_MAIL_RESET, "", "s", "b", NULL), STORE_BADARG);
    CHECK_EQ(store_commit(txn), 0);

    seen_t s = {0};
    size_t n = 0;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_mail_scan(txn, st, STORE_MAIL_PENDING, 0, seen_cb, &s), 0);
    CHECK_EQ(s.n, 2);
    CHECK_EQ(s.ids[0], 1);
    CHECK_EQ(s.ids[1], 2);
    CHECK(strcmp(s.to, "b@x.cn") == 0 && strcmp(s.body, "body 2") == 0);
    memset(&s, 0, sizeof s);
    CHECK_EQ(store_mail_scan(txn, st, STORE_MAIL_PENDING, 1, seen_cb, &s), 0); /* after id 1 */
    CHECK_EQ(s.n, 1);
    CHECK_EQ(s.ids[0], 2);
    store_abort(txn);

    /* delivered: gone; refused: moved to failed with its code, kept */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_mail_sent(txn, st, 1), 0);
    CHECK_EQ(store_mail_sent(txn, st, 1), 0); /* twice is fine (at least once) */
    CHECK_EQ(store_mail_failed(txn, st, 2, 550), 0);
    CHECK_EQ(store_mail_failed(txn, st, 7, 550), 0); /* absent: nothing */
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_mail_count(txn, st, STORE_MAIL_PENDING, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(store_mail_count(txn, st, STORE_MAIL_FAILED, &n), 0);
    CHECK_EQ(n, 1);
    memset(&s, 0, sizeof s);
    CHECK_EQ(store_mail_scan(txn, st, STORE_MAIL_FAILED, 0, seen_cb, &s), 0);
    CHECK(s.n == 1 && s.ids[0] == 2 && strcmp(s.subject, "s") == 0);
    store_abort(txn);
}

static void test_reset(store_t *st)
{
    store_txn_t *txn;
    uint8_t live[32], dead[32], probe[32];
    char text[CET_TOKEN_CHARS + 1];
    cet_token_new(text, live);
    cet_token_new(text, dead);
    int64_t now = 100000;
    store_reset_t r = {.created = now, .expires = now + CET_RESET_TTL_S};
    r.account[0] = 1;
    store_reset_t old = {.created = 1, .expires = 2};
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_reset_put(txn, st, live, &r), 0);
    CHECK_EQ(store_reset_put(txn, st, dead, &old), 0);
    /* a sweep from anywhere looks at up to 8 records: both here, the dead one goes */
    memset(probe, 0, sizeof probe);
    CHECK_EQ(store_reset_sweep(txn, st, probe, now), 0);
    store_reset_t got;
    CHECK_EQ(store_reset_get(txn, st, live, &got), 0);
    CHECK_EQ(got.expires, now + CET_RESET_TTL_S);
    CHECK_EQ(store_reset_get(txn, st, dead, &got), STORE_NOTFOUND);
    /* from past the last key it wraps to the first */
    memset(probe, 0xff, sizeof probe);
    CHECK_EQ(store_reset_sweep(txn, st, probe, now + CET_RESET_TTL_S + 1), 0);
    CHECK_EQ(store_reset_get(txn, st, live, &got), STORE_NOTFOUND);
    /* a password reset or change ends every link of the account made before it */
    bool sup = true;
    CHECK_EQ(store_reset_superseded(txn, st, &r, &sup), 0);
    CHECK(!sup);
    CHECK_EQ(store_reset_supersede(txn, st, r.account, now + 5), 0);
    CHECK_EQ(store_reset_superseded(txn, st, &r, &sup), 0);
    CHECK(sup);
    store_reset_t newer = r;
    newer.created = now + 6;
    CHECK_EQ(store_reset_superseded(txn, st, &newer, &sup), 0);
    CHECK(!sup);
    store_reset_t someone = r;
    someone.account[0] = 2;
    CHECK_EQ(store_reset_superseded(txn, st, &someone, &sup), 0);
    CHECK(!sup);
    CHECK_EQ(store_commit(txn), 0);
}

static void session_new(store_txn_t *txn, store_t *st, const uint8_t account[16], int64_t expires,
                        uint8_t key[32])
{
    char text[CET_TOKEN_CHARS + 1];
    cet_token_new(text, key);
    store_session_t s = {.kind = STORE_SESSION_CANDIDATE, .expires = expires};
    memcpy(s.account, account, 16);
    CHECK_EQ(store_session_put(txn, st, key, &s), 0);
}

static int index_entries(store_t *st)
{
    store_txn_t *txn;
    size_t n = 0;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_count(txn, st, STORE_DB_ACCOUNT_SESSION, &n), 0);
    store_abort(txn);
    return (int)n;
}

static void test_sessions(store_t *st)
{
    uint8_t acct[16] = {7}, other[16] = {8}, keys[5][32], theirs[32];
    int64_t later = cet_now_s() + 3600;
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    for (int i = 0; i < 4; i++)
        session_new(txn, st, acct, later, keys[i]);
    session_new(txn, st, other, later, theirs);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(index_entries(st), 5);

    /* logout removes its index entry with the session */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_session_del(txn, st, keys[3]), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(index_entries(st), 4);

    /* a session the expiry sweep deleted (raw delete) leaves an entry that the next login prunes */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_del_raw(txn, st, STORE_DB_SESSION, keys[2], 32), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(index_entries(st), 4);
    CHECK_EQ(store_write_begin(st, &txn), 0);
    session_new(txn, st, acct, later, keys[4]);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(index_entries(st), 4); /* +1 new, -1 pruned */

    /* ending all but keys[0]: keys[1] and keys[4] go, the other account's stays */
    int ended = -1;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_account_sessions_end(txn, st, acct, keys[0], &ended), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(ended, 2);
    store_session_t s;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_session_get(txn, st, keys[0], &s), 0);
    CHECK_EQ(store_session_get(txn, st, keys[1], &s), STORE_NOTFOUND);
    CHECK_EQ(store_session_get(txn, st, keys[4], &s), STORE_NOTFOUND);
    CHECK_EQ(store_session_get(txn, st, theirs, &s), 0);
    store_abort(txn);
    /* ending all */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_account_sessions_end(txn, st, acct, NULL, &ended), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(ended, 1);
    CHECK_EQ(index_entries(st), 1);

    /* more sessions than one pass holds: every one ends */
    CHECK_EQ(store_write_begin(st, &txn), 0);
    for (int i = 0; i < 3 * CET_ACCOUNT_SESSIONS_BATCH_MAX + 5; i++) {
        uint8_t k[32];
        session_new(txn, st, acct, later, k);
    }
    CHECK_EQ(store_account_sessions_end(txn, st, acct, NULL, &ended), 0);
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(ended, 3 * CET_ACCOUNT_SESSIONS_BATCH_MAX + 5);
    CHECK_EQ(index_entries(st), 1);
}

int main(void)
{
    if (sodium_init() < 0) return 2;
    char *dir = cet_test_tmpdir();
    store_t *st = open_store(dir);
    test_outbox(st);
    test_reset(st);
    test_sessions(st);
    store_close(st);
    cet_test_rmdir(dir);
    return cet_test_done("test_store_account");
}
