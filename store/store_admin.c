/*
 * store_admin.c: what the school's side keeps beyond the records of
 * store_records.c: the audit log as a hash chain, and the announcements
 * staff post (several per school or province, each with an id).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "store/store_internal.h"

/* ---- the audit chain ---- */
static void netstring(crypto_hash_sha256_state *h, const char *s, size_t n)
{
    char len[24];
    int l = snprintf(len, sizeof len, "%zu:", n);
    crypto_hash_sha256_update(h, (const unsigned char *)len, (unsigned long long)l);
    crypto_hash_sha256_update(h, (const unsigned char *)s, n);
    crypto_hash_sha256_update(h, (const unsigned char *)",", 1);
}

void store_audit_hash(const store_audit_entry_t *e, uint8_t out[32])
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    char seq[24], at[26], prev[65];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)e->seq);
    cet_time_format(e->at, at);
    cet_hex(prev, e->prev_hash, 32);
    netstring(&h, seq, strlen(seq));
    netstring(&h, at, strlen(at));
    netstring(&h, e->actor, strlen(e->actor));
    netstring(&h, e->action, strlen(e->action));
    netstring(&h, e->target, strlen(e->target));
    netstring(&h, e->detail, strlen(e->detail));
    netstring(&h, prev, 64);
    crypto_hash_sha256_final(&h, out);
}

int store_audit_decode(const void *key, size_t klen, const void *val, size_t vlen,
                       store_audit_entry_t *out)
{
    store_audit_t h;
    store_audit_chain_t c;
    if (klen != 8 || vlen < sizeof h) return STORE_CORRUPT;
    memcpy(&h, val, sizeof h);
    if (h.text_len > CET_AUDIT_TEXT_BYTES_MAX || vlen != sizeof h + h.text_len + sizeof c)
        return STORE_CORRUPT;
    memcpy(&c, (const uint8_t *)val + sizeof h + h.text_len, sizeof c);
    memset(out, 0, sizeof *out);
    out->seq = store_rd64(key);
    out->at = h.at;
    cet_strlcpy(out->actor, h.actor, sizeof out->actor);
    cet_strlcpy(out->action, h.action, sizeof out->action);
    memcpy(out->detail, (const uint8_t *)val + sizeof h, h.text_len);
    out->detail[h.text_len] = 0;
    cet_strlcpy(out->target, c.target, sizeof out->target);
    memcpy(out->prev_hash, c.prev_hash, 32);
    memcpy(out->hash, c.hash, 32);
    return 0;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

int store_audit_log(store_txn_t *txn, const store_t *st, int64_t at, const char *actor,
                    const char *action, const char *target, const char *detail)
{
    uint64_t seq = 0;
    int rc = store_meta_get_u64(txn, st, "audit_seq", &seq);
    if (rc && rc != STORE_NOTFOUND) return rc;
    store_audit_entry_t e;
    memset(&e, 0, sizeof e);
    size_t hl = 0;
    rc = store_get_raw(txn, st, STORE_DB_META, "audit_head", 10, e.prev_hash, 32, &hl);
    if (rc == STORE_NOTFOUND)
        memset(e.prev_hash, 0, 32);
    else if (rc)
        return rc;
    else if (hl != 32)
        return STORE_CORRUPT;
    e.seq = ++seq;
    e.at = at;
    cet_strlcpy(e.actor, actor, sizeof e.actor);
    cet_strlcpy(e.action, action, sizeof e.action);
    memcpy(e.target, target, utf8_cut(target, sizeof e.target - 1));
    size_t tl = utf8_cut(detail, CET_AUDIT_TEXT_BYTES_MAX);
    memcpy(e.detail, detail, tl);
    store_audit_hash(&e, e.hash);

    uint8_t buf[sizeof(store_audit_t) + CET_AUDIT_TEXT_BYTES_MAX + sizeof(store_audit_chain_t)];
    store_audit_t h;
    memset(&h, 0, sizeof h);
    h.at = at;
    memcpy(h.actor, e.actor, sizeof h.actor);
    memcpy(h.action, e.action, sizeof h.action);
    h.text_len = (uint32_t)tl;
    store_audit_chain_t c;
    memset(&c, 0, sizeof c);
    memcpy(c.target, e.target, sizeof c.target);
    memcpy(c.prev_hash, e.prev_hash, 32);
    memcpy(c.hash, e.hash, 32);
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, e.detail, tl);
    memcpy(buf + sizeof h + tl, &c, sizeof c);
    uint8_t k[8];
    store_be64(k, seq);
    if ((rc = store_meta_put_u64(txn, st, "audit_seq", seq))) return rc;
    if ((rc = store_put_raw(txn, st, STORE_DB_META, "audit_head", 10, e.hash, 32, 0))) return rc;
    return store_put_raw(txn, st, STORE_DB_AUDIT, k, 8, buf, sizeof h + tl + sizeof c,
                         MDB_NOOVERWRITE);
}

int store_audit_scan(store_txn_t *txn, const store_t *st, uint64_t after, uint64_t max,
                     int (*fn)(const store_audit_entry_t *e, void *arg), void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, st->dbi[STORE_DB_AUDIT], &cur);
    if (rc) return rc;
    uint8_t kb[8];
    store_be64(kb, after + 1);
    MDB_val k = {8, kb}, v;
    uint64_t n = 0;
    store_audit_entry_t e;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && (!max || n < max)) {
        rc = store_audit_decode(k.mv_data, k.mv_size, v.mv_data, v.mv_size, &e);
        if (rc) break;
        int r = fn(&e, arg);
        n++;
        if (r == CET_DONE) break;
        if (r != CET_OK) {
            rc = r;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

typedef struct verify {
    uint64_t next;
    uint8_t prev[32];
    uint64_t bad;
    char *why;
    size_t cap;
} verify_t;

static int verify_cb(const store_audit_entry_t *e, void *arg)
{
    verify_t *v = arg;
    uint8_t h[32];
    store_audit_hash(e, h);
    const char *why = NULL;
    if (e->seq != v->next)
        why = "an entry is missing before it (sequence gap)";
    else if (memcmp(e->prev_hash, v->prev, 32) != 0)
        why = "its prev_hash is not the hash of the entry before";
    else if (memcmp(e->hash, h, 32) != 0)
        why = "its hash does not match its contents (changed)";
    if (why) {
        v->bad = e->seq;
        snprintf(v->why, v->cap, "audit entry %llu: %s", (unsigned long long)e->seq, why);
        return CET_REFUSED;
    }
    memcpy(v->prev, e->hash, 32);
    v->next++;
    return 0;
}

int store_audit_verify(store_txn_t *txn, const store_t *st, uint64_t *entries, uint64_t *bad_seq,
                       char *why, size_t cap)
{
    verify_t v = {.next = 1, .why = why, .cap = cap};
    memset(v.prev, 0, 32);
    if (cap) why[0] = 0;
    int rc = store_audit_scan(txn, st, 0, 0, verify_cb, &v);
    if (rc == CET_REFUSED) {
        *bad_seq = v.bad;
        return CET_REFUSED;
    }
    if (rc == STORE_CORRUPT) {
        *bad_seq = v.next;
        snprintf(why, cap, "audit entry %llu: not a chained audit record",
                 (unsigned long long)v.next);
        return CET_REFUSED;
    }
    if (rc) return rc;
    uint64_t seq = 0;
    rc = store_meta_get_u64(txn, st, "audit_seq", &seq);
    if (rc && rc != STORE_NOTFOUND) return rc;
    uint8_t head[32];
    size_t hl = 0;
    rc = store_get_raw(txn, st, STORE_DB_META, "audit_head", 10, head, 32, &hl);
    if (rc && rc != STORE_NOTFOUND) return rc;
    if (v.next - 1 != seq || (seq && (rc || hl != 32 || memcmp(head, v.prev, 32) != 0))) {
        *bad_seq = v.next;
        snprintf(why, cap,
                 "audit log: %llu entries found, the head says %llu (entries removed at the end)",
                 (unsigned long long)(v.next - 1), (unsigned long long)seq);
        return CET_REFUSED;
    }
    *entries = seq;
    return 0;
}

/* ---- announcements ---- */
static void announce_key(uint8_t k[9], uint8_t scope, uint32_t code, uint32_t id)
{
    k[0] = scope;
    store_be32(k + 1, code);
    store_be32(k + 5, id);
}

int store_announcement_add(store_txn_t *txn, const store_t *st, store_announcement_t *a,
                           const char *title, const char *body)
{
    size_t tl = strlen(title), bl = strlen(body);
    if (tl > STORE_ANNOUNCE_TITLE_BYTES_MAX || bl > CET_ANNOUNCE_BYTES_MAX) return STORE_BADARG;
    uint64_t id = 0;
    int rc = store_meta_get_u64(txn, st, "announce_id", &id);
    if (rc && rc != STORE_NOTFOUND) return rc;
    if ((rc = store_meta_put_u64(txn, st, "announce_id", ++id))) return rc;
    a->id = (uint32_t)id;
    a->title_len = (uint16_t)tl;
    a->body_len = (uint16_t)bl;
    size_t n = sizeof *a + tl + bl;
    uint8_t *buf = cet_malloc(n);
    memcpy(buf, a, sizeof *a);
    memcpy(buf + sizeof *a, title, tl);
    memcpy(buf + sizeof *a + tl, body, bl);
    uint8_t k[9];
    announce_key(k, a->scope, a->code, a->id);
    rc = store_put_raw(txn, st, STORE_DB_ANNOUNCE, k, 9, buf, n, MDB_NOOVERWRITE);
    cet_free(buf);
    return rc;
}

typedef struct ann_scan {
    uint32_t id;
    int (*fn)(const store_announcement_t *a, const char *title, const char *body, void *arg);
    void *arg;
    store_announcement_t *out;
    char *title, *body;
    size_t tcap, bcap;
    bool found;
} ann_scan_t;

static void copy_text(char *dst, size_t cap, const char *src, size_t n)
{
    if (!dst || !cap) return;
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static int ann_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    ann_scan_t *s = arg;
    (void)key;
    store_announcement_t a;
    if (klen != 9 || vlen < sizeof a) return 0; /* the 5-byte candidate text */
    memcpy(&a, val, sizeof a);
    if (vlen != sizeof a + a.title_len + a.body_len) return STORE_CORRUPT;
    const char *t = (const char *)val + sizeof a;
    if (s->fn) {
        char title[STORE_ANNOUNCE_TITLE_BYTES_MAX + 1];
        char *body = cet_malloc((size_t)a.body_len + 1);
        copy_text(title, sizeof title, t, a.title_len);
        copy_text(body, (size_t)a.body_len + 1, t + a.title_len, a.body_len);
        int r = s->fn(&a, title, body, s->arg);
        cet_free(body);
        return r;
    }
    if (a.id != s->id) return 0;
    *s->out = a;
    copy_text(s->title, s->tcap, t, a.title_len);
    copy_text(s->body, s->bcap, t + a.title_len, a.body_len);
    s->found = true;
    return CET_DONE;
}

int store_announcement_get(store_txn_t *txn, const store_t *st, uint32_t id,
                           store_announcement_t *out, char *title, size_t tcap, char *body,
                           size_t bcap)
{
    ann_scan_t s = {.id = id, .out = out, .title = title, .body = body, .tcap = tcap, .bcap = bcap};
    int rc = store_scan(txn, st, STORE_DB_ANNOUNCE, NULL, 0, ann_cb, &s);
    if (rc) return rc;
    return s.found ? 0 : STORE_NOTFOUND;
}

int store_announcement_del(store_txn_t *txn, const store_t *st, const store_announcement_t *a)
{
    uint8_t k[9];
    announce_key(k, a->scope, a->code, a->id);
    return store_del_raw(txn, st, STORE_DB_ANNOUNCE, k, 9);
}

int store_announcement_scan(store_txn_t *txn, const store_t *st, uint8_t scope, uint32_t code,
                            int (*fn)(const store_announcement_t *a, const char *title,
                                      const char *body, void *arg),
                            void *arg)
{
    ann_scan_t s = {.fn = fn, .arg = arg};
    uint8_t k[5];
    k[0] = scope;
    store_be32(k + 1, code);
    return store_scan(txn, st, STORE_DB_ANNOUNCE, k, scope ? 5 : 0, ann_cb, &s);
}
