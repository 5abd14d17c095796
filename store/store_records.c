/*
 * store_records.c: typed access to each record and the secondary indexes that
 * follow it. Every index is changed in the same txn as its record.
 */
#include <ctype.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "store/store_internal.h"

/* A fixed-size record: copy out, refusing a value of the wrong size. */
static int get_fixed(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                     size_t klen, void *out, size_t size)
{
    store_val_t v;
    int rc = store_get_ref(txn, st, db, key, klen, &v);
    if (rc) return rc;
    if (v.len != size) return STORE_CORRUPT;
    memcpy(out, v.data, size);
    return 0;
}

static int put_fixed(store_txn_t *txn, const store_t *st, store_db_t db, const void *key,
                     size_t klen, const void *rec, size_t size)
{
    return store_put_raw(txn, st, db, key, klen, rec, size, 0);
}

/* ---- sitting and places ---- */
int store_sitting_get(store_txn_t *txn, const store_t *st, store_sitting_t *out)
{
    return get_fixed(txn, st, STORE_DB_META, "sitting", 7, out, sizeof *out);
}

int store_sitting_put(store_txn_t *txn, const store_t *st, const store_sitting_t *s)
{
    return put_fixed(txn, st, STORE_DB_META, "sitting", 7, s, sizeof *s);
}

int store_province_get(store_txn_t *txn, const store_t *st, uint16_t code, store_province_t *out)
{
    uint8_t k[2];
    store_be16(k, code);
    return get_fixed(txn, st, STORE_DB_PROVINCE, k, 2, out, sizeof *out);
}

int store_province_put(store_txn_t *txn, const store_t *st, const store_province_t *p)
{
    uint8_t k[2];
    store_be16(k, p->code);
    return put_fixed(txn, st, STORE_DB_PROVINCE, k, 2, p, sizeof *p);
}

int store_school_get(store_txn_t *txn, const store_t *st, uint32_t code, store_school_t *out)
{
    uint8_t k[4];
    store_be32(k, code);
    return get_fixed(txn, st, STORE_DB_SCHOOL, k, 4, out, sizeof *out);
}

int store_school_put(store_txn_t *txn, const store_t *st, const store_school_t *s)
{
    uint8_t k[4];
    store_be32(k, s->code);
    return put_fixed(txn, st, STORE_DB_SCHOOL, k, 4, s, sizeof *s);
}

int store_campus_get(store_txn_t *txn, const store_t *st, uint32_t code, store_campus_t *out)
{
    uint8_t k[4];
    store_be32(k, code);
    return get_fixed(txn, st, STORE_DB_CAMPUS, k, 4, out, sizeof *out);
}

int store_campus_put(store_txn_t *txn, const store_t *st, const store_campus_t *c)
{
    uint8_t k[4];
    store_be32(k, c->code);
    return put_fixed(txn, st, STORE_DB_CAMPUS, k, 4, c, sizeof *c);
}

int store_subject_get(store_txn_t *txn, const store_t *st, char code, store_subject_t *out)
{
    uint8_t k = (uint8_t)code;
    return get_fixed(txn, st, STORE_DB_SUBJECT, &k, 1, out, sizeof *out);
}

int store_subject_put(store_txn_t *txn, const store_t *st, const store_subject_t *s)
{
    uint8_t k = (uint8_t)s->code;
    return put_fixed(txn, st, STORE_DB_SUBJECT, &k, 1, s, sizeof *s);
}

int store_offer_get(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                    store_offer_t *out)
{
    uint8_t k[5];
    store_offer_key(k, campus, subject);
    return get_fixed(txn, st, STORE_DB_OFFER, k, 5, out, sizeof *out);
}

int store_offer_put(store_txn_t *txn, const store_t *st, const store_offer_t *o)
{
    uint8_t k[5];
    store_offer_key(k, o->campus, o->subject);
    return put_fixed(txn, st, STORE_DB_OFFER, k, 5, o, sizeof *o);
}

int store_announce_get(store_txn_t *txn, const store_t *st, uint8_t scope, uint32_t code,
                       char *out, size_t cap)
{
    uint8_t k[5];
    k[0] = scope;
    store_be32(k + 1, code);
    store_val_t v;
    int rc = store_get_ref(txn, st, STORE_DB_ANNOUNCE, k, 5, &v);
    if (rc) return rc;
    if (!cap) return STORE_BADARG;
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    memcpy(out, v.data, n);
    out[n] = 0;
    return 0;
}

int store_announce_put(store_txn_t *txn, const store_t *st, uint8_t scope, uint32_t code,
                       const char *text)
{
    uint8_t k[5];
    k[0] = scope;
    store_be32(k + 1, code);
    size_t n = strlen(text);
    if (n > CET_ANNOUNCE_BYTES_MAX) return STORE_BADARG;
    return store_put_raw(txn, st, STORE_DB_ANNOUNCE, k, 5, text, n, 0);
}

/* ---- roster ---- */
int store_roster_get(store_txn_t *txn, const store_t *st, uint8_t id_type, const char *id_number,
                     store_roster_t *out)
{
    uint8_t k[1 + CET_ID_NUMBER_BYTES];
    size_t kl = store_roster_key(k, id_type, id_number);
    if (!kl) return STORE_NOTFOUND;
    return get_fixed(txn, st, STORE_DB_ROSTER, k, kl, out, sizeof *out);
}

int store_roster_get_by_no(store_txn_t *txn, const store_t *st, uint32_t roster_no,
                           store_roster_t *out)
{
    uint8_t nk[4];
    store_be32(nk, roster_no);
    store_val_t rk;
    int rc = store_get_ref(txn, st, STORE_DB_ROSTER_NO, nk, 4, &rk);
    if (rc) return rc;
    return get_fixed(txn, st, STORE_DB_ROSTER, rk.data, rk.len, out, sizeof *out);
}

static void roster_school_key(uint8_t k[8], uint32_t school, uint32_t roster_no)
{
    store_be32(k, school);
    store_be32(k + 4, roster_no);
}

int store_roster_put(store_txn_t *txn, const store_t *st, store_roster_t *r)
{
    uint8_t k[1 + CET_ID_NUMBER_BYTES];
    size_t kl = store_roster_key(k, r->id_type, r->id_number);
    if (!kl) return STORE_BADARG;
    uint64_t last = 0;
    int rc = store_meta_get_u64(txn, st, "roster_no_last", &last);
    if (rc && rc != STORE_NOTFOUND) return rc;
    /* Try it as a new record first: MDB_NOOVERWRITE hands back the existing
     * value when there is one, so an import of new rows (the usual case) does
     * one B-tree descent for the record instead of a get and a put. */
    r->roster_no = (uint32_t)(last + 1);
    MDB_val key = {kl, k}, val = {sizeof *r, r};
    rc = mdb_put(txn, store_dbi(st, STORE_DB_ROSTER), &key, &val, MDB_NOOVERWRITE);
    uint8_t sk[8];
    if (rc == 0) {
        store_log_add((store_t *)st, txn, STORE_LOG_PUT, STORE_DB_ROSTER, k, kl, r, sizeof *r);
        if ((rc = store_meta_put_u64(txn, st, "roster_no_last", last + 1))) return rc;
        uint8_t nk[4];
        store_be32(nk, r->roster_no);
        rc = store_put_raw(txn, st, STORE_DB_ROSTER_NO, nk, 4, k, kl, MDB_NOOVERWRITE);
        if (rc) return rc;
        roster_school_key(sk, r->school, r->roster_no);
        return store_put_raw(txn, st, STORE_DB_ROSTER_SCHOOL, sk, 8, "", 0, 0);
    }
    if (rc != MDB_KEYEXIST) return rc;
    /* a replacement keeps its number; a school change moves the school index */
    if (val.mv_size != sizeof(store_roster_t)) return STORE_CORRUPT;
    store_roster_t old;
    memcpy(&old, val.mv_data, sizeof old);
    r->roster_no = old.roster_no;
    if (old.school != r->school) {
        roster_school_key(sk, old.school, old.roster_no);
        rc = store_del_raw(txn, st, STORE_DB_ROSTER_SCHOOL, sk, 8);
        if (rc && rc != STORE_NOTFOUND) return rc;
        roster_school_key(sk, r->school, r->roster_no);
        if ((rc = store_put_raw(txn, st, STORE_DB_ROSTER_SCHOOL, sk, 8, "", 0, 0))) return rc;
    }
    return put_fixed(txn, st, STORE_DB_ROSTER, k, kl, r, sizeof *r);
}

/* ---- scores ---- */
int store_score_get(store_txn_t *txn, const store_t *st, const char *ticket, store_score_t *out)
{
    if (strlen(ticket) != CET_TICKET_DIGITS) return STORE_NOTFOUND;
    return get_fixed(txn, st, STORE_DB_SCORE, ticket, CET_TICKET_DIGITS, out, sizeof *out);
}

int store_score_put(store_txn_t *txn, const store_t *st, const store_score_t *s)
{
    if (strlen(s->ticket) != CET_TICKET_DIGITS) return STORE_BADARG;
    return put_fixed(txn, st, STORE_DB_SCORE, s->ticket, CET_TICKET_DIGITS, s, sizeof *s);
}

/* ---- accounts ---- */
static size_t email_key(char out[CET_EMAIL_BYTES], const char *email)
{
    return cet_email_normalize(email, out, CET_EMAIL_BYTES);
}

int store_account_get(store_txn_t *txn, const store_t *st, const uint8_t id[16],
                      store_account_t *out)
{
    return get_fixed(txn, st, STORE_DB_ACCOUNT, id, 16, out, sizeof *out);
}

int store_account_by_email(store_txn_t *txn, const store_t *st, const char *email,
                           store_account_t *out)
{
    char ek[CET_EMAIL_BYTES];
    size_t n = email_key(ek, email);
    if (!n) return STORE_NOTFOUND;
    store_val_t id;
    int rc = store_get_ref(txn, st, STORE_DB_ACCOUNT_EMAIL, ek, n, &id);
    if (rc) return rc;
    if (id.len != 16) return STORE_CORRUPT;
    uint8_t idc[16];
    memcpy(idc, id.data, 16);
    return store_account_get(txn, st, idc, out);
}

int store_account_put(store_txn_t *txn, const store_t *st, const store_account_t *a, bool replace)
{
    char ek[CET_EMAIL_BYTES];
    size_t n = email_key(ek, a->email);
    if (!n) return STORE_BADARG;
    int rc;
    if (replace) {
        store_account_t old;
        rc = store_account_get(txn, st, a->id, &old);
        if (rc) return rc;
        char ok[CET_EMAIL_BYTES];
        size_t on = email_key(ok, old.email);
        if (on != n || memcmp(ok, ek, n) != 0) {
            rc = store_put_raw(txn, st, STORE_DB_ACCOUNT_EMAIL, ek, n, a->id, 16,
                               MDB_NOOVERWRITE);
            if (rc) return rc;
            rc = store_del_raw(txn, st, STORE_DB_ACCOUNT_EMAIL, ok, on);
            if (rc && rc != STORE_NOTFOUND) return rc;
        }
        return put_fixed(txn, st, STORE_DB_ACCOUNT, a->id, 16, a, sizeof *a);
    }
    rc = store_put_raw(txn, st, STORE_DB_ACCOUNT_EMAIL, ek, n, a->id, 16, MDB_NOOVERWRITE);
    if (rc) return rc;
    return store_put_raw(txn, st, STORE_DB_ACCOUNT, a->id, 16, a, sizeof *a, MDB_NOOVERWRITE);
}

/* ---- expiry index ---- */
static int expiry_set(store_txn_t *txn, const store_t *st, uint8_t kind, uint64_t id,
                      char subject, int64_t old_due, int64_t new_due)
{
    uint8_t k[STORE_EXPIRY_KEY_BYTES];
    int rc;
    if (old_due == new_due) return 0;
    if (old_due) {
        store_expiry_key(k, old_due, kind, id, subject);
        rc = store_del_raw(txn, st, STORE_DB_EXPIRY, k, sizeof k);
        if (rc && rc != STORE_NOTFOUND) return rc;
    }
    if (new_due) {
        store_expiry_key(k, new_due, kind, id, subject);
        rc = store_put_raw(txn, st, STORE_DB_EXPIRY, k, sizeof k, "", 0, 0);
        if (rc) return rc;
    }
    return 0;
}

/* ---- candidates ---- */
int store_candidate_get(store_txn_t *txn, const store_t *st, uint32_t roster_no,
                        store_candidate_t *out)
{
    uint8_t k[4];
    store_be32(k, roster_no);
    return get_fixed(txn, st, STORE_DB_CANDIDATE, k, 4, out, sizeof *out);
}

int store_candidate_put(store_txn_t *txn, const store_t *st, uint32_t roster_no,
                        const store_candidate_t *c)
{
    uint8_t k[4];
    store_be32(k, roster_no);
    store_candidate_t old;
    int rc = get_fixed(txn, st, STORE_DB_CANDIDATE, k, 4, &old, sizeof old);
    int64_t old_due = rc == 0 ? old.empty_due : 0;
    if (rc && rc != STORE_NOTFOUND) return rc;
    rc = expiry_set(txn, st, STORE_EXPIRE_CANDIDATE, roster_no, 0, old_due, c->empty_due);
    if (rc) return rc;
    return put_fixed(txn, st, STORE_DB_CANDIDATE, k, 4, c, sizeof *c);
}

int store_candidate_del(store_txn_t *txn, const store_t *st, uint32_t roster_no)
{
    uint8_t k[4];
    store_be32(k, roster_no);
    store_candidate_t old;
    int rc = get_fixed(txn, st, STORE_DB_CANDIDATE, k, 4, &old, sizeof old);
    if (rc) return rc;
    rc = expiry_set(txn, st, STORE_EXPIRE_CANDIDATE, roster_no, 0, old.empty_due, 0);
    if (rc) return rc;
    return store_del_raw(txn, st, STORE_DB_CANDIDATE, k, 4);
}

/* ---- CET6 reviews ---- */
int store_review_get(store_txn_t *txn, const store_t *st, const uint8_t account[16],
                     store_review_t *out)
{
    return get_fixed(txn, st, STORE_DB_REVIEW, account, 16, out, sizeof *out);
}

int store_review_put(store_txn_t *txn, const store_t *st, const store_review_t *r)
{
    return put_fixed(txn, st, STORE_DB_REVIEW, r->account, 16, r, sizeof *r);
}

int store_review_del(store_txn_t *txn, const store_t *st, const uint8_t account[16])
{
    return store_del_raw(txn, st, STORE_DB_REVIEW, account, 16);
}

/* ---- registrations ---- */
static int reg_seq_of(store_txn_t *txn, const store_t *st, uint32_t roster_no, char subject,
                      uint64_t *seq)
{
    store_regidx_row_t row;
    store_regidx_read(st->regidx, roster_no, txn == st->wtxn, &row);
    for (int i = 0; i < CET_CANDIDATE_REGS_MAX; i++)
        if (row.e[i] && store_regidx_subject(row.e[i]) == subject) {
            *seq = store_regidx_seq(row.e[i]);
            return 0;
        }
    return STORE_NOTFOUND;
}

int store_reg_get_seq(store_txn_t *txn, const store_t *st, uint64_t seq, store_reg_t *out)
{
    uint8_t k[8];
    store_be64(k, seq);
    return get_fixed(txn, st, STORE_DB_REG, k, 8, out, sizeof *out);
}

int store_reg_get(store_txn_t *txn, const store_t *st, uint32_t roster_no, char subject,
                  store_reg_t *out)
{
    uint64_t seq;
    int rc = reg_seq_of(txn, st, roster_no, subject, &seq);
    if (rc) return rc;
    /* NOTFOUND here: committed after this read txn began */
    rc = store_reg_get_seq(txn, st, seq, out);
    if (rc == 0 && (out->roster_no != roster_no || out->subject != subject)) return STORE_CORRUPT;
    return rc;
}

int store_reg_put(store_txn_t *txn, const store_t *st, store_reg_t *r, int64_t old_expires)
{
    if (txn != st->wtxn) return STORE_BADARG;
    store_t *w = (store_t *)st; /* the sequence counter belongs to the write txn */
    uint64_t seq;
    if (r->seq) {
        /* an update: the record must be the one the index knows (not a copy
         * of another registration with its subject or candidate changed) */
        if (reg_seq_of(txn, st, r->roster_no, r->subject, &seq) != 0 || seq != r->seq)
            return STORE_BADARG;
    } else {
        if (reg_seq_of(txn, st, r->roster_no, r->subject, &seq) == 0) return STORE_EXISTS;
        r->seq = ++w->reg_seq_last;
        if (store_regidx_set(st->regidx, r->roster_no, r->subject, r->seq) != 0) {
            r->seq = 0;
            return STORE_BADARG;
        }
    }
    /* keyed by sequence: one batch's holds are neighbours at the index's tail */
    int rc = expiry_set(txn, st, STORE_EXPIRE_HOLD, r->seq, r->subject, old_expires, r->expires);
    if (rc) return rc;
    uint8_t k[8];
    store_be64(k, r->seq);
    return put_fixed(txn, st, STORE_DB_REG, k, 8, r, sizeof *r);
}

int store_reg_del(store_txn_t *txn, const store_t *st, const store_reg_t *r)
{
    if (txn != st->wtxn) return STORE_BADARG;
    uint64_t seq = r->seq;
    if (!seq) {
        int rc = reg_seq_of(txn, st, r->roster_no, r->subject, &seq);
        if (rc) return rc;
    }
    int rc = expiry_set(txn, st, STORE_EXPIRE_HOLD, seq, r->subject, r->expires, 0);
    if (rc) return rc;
    uint8_t k[8];
    store_be64(k, seq);
    if ((rc = store_del_raw(txn, st, STORE_DB_REG, k, 8))) return rc;
    store_regidx_set(st->regidx, r->roster_no, r->subject, 0);
    return 0;
}

int store_reg_list(store_txn_t *txn, const store_t *st, uint32_t roster_no, store_reg_t *out,
                   int cap)
{
    store_regidx_row_t row;
    store_regidx_read(st->regidx, roster_no, txn == st->wtxn, &row);
    int n = 0;
    for (int i = 0; i < CET_CANDIDATE_REGS_MAX && n < cap; i++) {
        if (!row.e[i]) continue;
        int rc = store_reg_get_seq(txn, st, store_regidx_seq(row.e[i]), &out[n]);
        if (rc == STORE_NOTFOUND) continue; /* committed after this read txn began */
        if (rc) return rc;
        /* in subject order */
        store_reg_t cur = out[n];
        int j = n++;
        while (j > 0 && out[j - 1].subject > cur.subject) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = cur;
    }
    return n;
}

/* ---- orders ---- */
int store_order_get(store_txn_t *txn, const store_t *st, uint64_t id, store_order_t *out)
{
    uint8_t k[8];
    store_be64(k, id);
    return get_fixed(txn, st, STORE_DB_ORDER, k, 8, out, sizeof *out);
}

int store_order_put(store_txn_t *txn, const store_t *st, const store_order_t *o,
                    int64_t old_expires)
{
    uint8_t k[8];
    store_be64(k, o->id);
    int64_t due = o->state == STORE_ORDER_PENDING ? o->expires : 0;
    /* the order timeout entry carries the whole 64-bit order id */
    int rc = expiry_set(txn, st, STORE_EXPIRE_ORDER, o->id, 0, old_expires, due);
    if (rc) return rc;
    return put_fixed(txn, st, STORE_DB_ORDER, k, 8, o, sizeof *o);
}

int store_order_next_id(store_txn_t *txn, const store_t *st, uint64_t *id)
{
    uint64_t last = 0;
    int rc = store_meta_get_u64(txn, st, "order_id_last", &last);
    if (rc && rc != STORE_NOTFOUND) return rc;
    *id = last + 1;
    return store_meta_put_u64(txn, st, "order_id_last", last + 1);
}

/* ---- sessions, staff, audit ---- */
int store_session_get(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32],
                      store_session_t *out)
{
    return get_fixed(txn, st, STORE_DB_SESSION, token_hash, 32, out, sizeof *out);
}

int store_session_put(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32],
                      const store_session_t *s)
{
    int rc = put_fixed(txn, st, STORE_DB_SESSION, token_hash, 32, s, sizeof *s);
    /* the account's index of sessions follows (store_account.c) */
    if (rc == 0 && s->kind == STORE_SESSION_CANDIDATE)
        rc = store_account_session_link(txn, st, s->account, token_hash);
    return rc;
}

int store_session_del(store_txn_t *txn, const store_t *st, const uint8_t token_hash[32])
{
    store_session_t s;
    int rc = get_fixed(txn, st, STORE_DB_SESSION, token_hash, 32, &s, sizeof s);
    if (rc == 0 && s.kind == STORE_SESSION_CANDIDATE)
        rc = store_account_session_unlink(txn, st, s.account, token_hash);
    if (rc && rc != STORE_NOTFOUND && rc != STORE_CORRUPT) return rc;
    return store_del_raw(txn, st, STORE_DB_SESSION, token_hash, 32);
}

int store_staff_get(store_txn_t *txn, const store_t *st, const char *user, store_staff_t *out)
{
    size_t n = strlen(user);
    if (!n || n >= CET_SHORT_BYTES) return STORE_NOTFOUND;
    return get_fixed(txn, st, STORE_DB_STAFF, user, n, out, sizeof *out);
}

int store_staff_put(store_txn_t *txn, const store_t *st, const store_staff_t *s)
{
    size_t n = strlen(s->user);
    if (!n || n >= CET_SHORT_BYTES) return STORE_BADARG;
    return put_fixed(txn, st, STORE_DB_STAFF, s->user, n, s, sizeof *s);
}

int store_audit_append(store_txn_t *txn, const store_t *st, int64_t at, const char *actor,
                       const char *action, const char *text)
{
    return store_audit_log(txn, st, at, actor, action, "", text); /* chained: store_admin.c */
}
