/*
 * store_tickets.c: the admission-ticket records: exam rooms per campus, the
 * last arrangement of each campus-subject, and the arrangement fields of a
 * registration (store.h, "admission tickets"; docs/storage.md).
 */
#include <stddef.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "store/store_internal.h"

_Static_assert(sizeof(store_room_t) == 8, "a room is 8 bytes");
_Static_assert(sizeof(store_arrangement_t) % 8 == 0, "arrangement: packed, 8-aligned");
_Static_assert(sizeof(store_reg_t) == 64, "the slot byte kept the registration's size");

static void room_key(uint8_t k[6], uint32_t campus, uint16_t number)
{
    store_be32(k, campus);
    store_be16(k + 4, number);
}

int store_room_put(store_txn_t *txn, const store_t *st, uint32_t campus, uint16_t number,
                   uint8_t seats)
{
    if (number < 1 || number > CET_ROOMS_PER_CAMPUS_MAX || seats > CET_ROOM_SEATS_MAX)
        return STORE_BADARG;
    store_room_t r;
    memset(&r, 0, sizeof r);
    r.campus = campus;
    r.number = number;
    r.seats = seats ? seats : CET_ROOM_SEATS_DEFAULT;
    uint8_t k[6];
    room_key(k, campus, number);
    return store_put_raw(txn, st, STORE_DB_ROOM, k, sizeof k, &r, sizeof r, 0);
}

typedef struct rooms_walk {
    store_room_t *out;
    int cap, n;
} rooms_walk_t;

static int rooms_list_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    rooms_walk_t *w = arg;
    (void)key;
    if (klen != 6 || vlen != sizeof(store_room_t)) return STORE_CORRUPT;
    if (w->n >= w->cap) return CET_DONE;
    memcpy(&w->out[w->n++], val, sizeof(store_room_t));
    return CET_OK;
}

int store_rooms_list(store_txn_t *txn, const store_t *st, uint32_t campus, store_room_t *out,
                     int cap)
{
    uint8_t prefix[4];
    store_be32(prefix, campus);
    rooms_walk_t w = {out, cap, 0};
    int rc = store_scan(txn, st, STORE_DB_ROOM, prefix, sizeof prefix, rooms_list_cb, &w);
    return rc ? rc : w.n;
}

int store_rooms_clear(store_txn_t *txn, const store_t *st, uint32_t campus, size_t *n)
{
    store_room_t rooms[CET_ROOMS_PER_CAMPUS_MAX];
    int k = store_rooms_list(txn, st, campus, rooms, CET_ROOMS_PER_CAMPUS_MAX);
    if (k < 0) return k;
    for (int i = 0; i < k; i++) {
        uint8_t key[6];
        room_key(key, campus, rooms[i].number);
        int rc = store_del_raw(txn, st, STORE_DB_ROOM, key, sizeof key);
        if (rc) return rc;
    }
    if (n) *n = (size_t)k;
    return 0;
}

int store_arrangement_get(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                          store_arrangement_t *out)
{
    uint8_t k[5];
    store_offer_key(k, campus, subject);
    store_val_t v;
    int rc = store_get_ref(txn, st, STORE_DB_ARRANGEMENT, k, sizeof k, &v);
    if (rc) return rc;
    if (v.len != sizeof *out) return STORE_CORRUPT;
    memcpy(out, v.data, sizeof *out);
    return 0;
}

int store_arrangement_put(store_txn_t *txn, const store_t *st, const store_arrangement_t *a)
{
    uint8_t k[5];
    store_offer_key(k, a->campus, a->subject);
    return store_put_raw(txn, st, STORE_DB_ARRANGEMENT, k, sizeof k, a, sizeof *a, 0);
}

typedef struct arr_walk {
    store_arrangement_t *out;
    int cap, n;
} arr_walk_t;

static int arrangements_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    arr_walk_t *w = arg;
    (void)key;
    if (klen != 5 || vlen != sizeof(store_arrangement_t)) return STORE_CORRUPT;
    if (w->n >= w->cap) return CET_DONE;
    memcpy(&w->out[w->n++], val, sizeof(store_arrangement_t));
    return CET_OK;
}

int store_arrangements_of(store_txn_t *txn, const store_t *st, uint32_t campus,
                          store_arrangement_t *out, int cap)
{
    uint8_t prefix[4];
    store_be32(prefix, campus);
    arr_walk_t w = {out, cap, 0};
    int rc = store_scan(txn, st, STORE_DB_ARRANGEMENT, prefix, sizeof prefix, arrangements_cb, &w);
    return rc ? rc : w.n;
}

/*
 * Walks `reg` from key from_seq on; with an offer filter (campus != 0) only
 * that offer's records are copied out (the fields compared are read in
 * place, at their offsetof in store_reg_t).
 */
static int regs_walk(store_txn_t *txn, const store_t *st, uint64_t from_seq, uint32_t campus,
                     char subject, store_reg_visit_cb fn, void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(st, STORE_DB_REG), &cur);
    if (rc) return rc;
    const size_t at_campus = offsetof(store_reg_t, campus),
                 at_subject = offsetof(store_reg_t, subject);
    uint8_t kb[8];
    store_be64(kb, from_seq);
    MDB_val k = {sizeof kb, kb}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, from_seq ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size != sizeof(store_reg_t)) {
            rc = STORE_CORRUPT;
            break;
        }
        const uint8_t *p = v.mv_data;
        if (campus) {
            uint32_t c;
            memcpy(&c, p + at_campus, sizeof c);
            if (c != campus || (char)p[at_subject] != subject) continue;
        }
        store_reg_t r;
        memcpy(&r, p, sizeof r);
        int f = fn(&r, arg);
        if (f != CET_OK) {
            rc = f == CET_DONE ? CET_OK : f;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? CET_OK : rc;
}

int store_regs_of_offer(store_txn_t *txn, const store_t *st, uint32_t campus, char subject,
                        store_reg_visit_cb fn, void *arg)
{
    if (!campus) return STORE_BADARG;
    return regs_walk(txn, st, 0, campus, subject, fn, arg);
}

int store_regs_from(store_txn_t *txn, const store_t *st, uint64_t from_seq, store_reg_visit_cb fn,
                    void *arg)
{
    return regs_walk(txn, st, from_seq, 0, 0, fn, arg);
}

int store_reg_get_by_seq(store_txn_t *txn, const store_t *st, uint64_t seq, store_reg_t *out)
{
    uint8_t k[8];
    store_be64(k, seq);
    store_val_t v;
    int rc = store_get_ref(txn, st, STORE_DB_REG, k, sizeof k, &v);
    if (rc) return rc;
    if (v.len != sizeof *out) return STORE_CORRUPT;
    memcpy(out, v.data, sizeof *out);
    return 0;
}

int store_reg_arranged_put(store_txn_t *txn, const store_t *st, const store_reg_t *r)
{
    if (txn != st->wtxn || !r->seq || !(r->flags & STORE_REG_PAID) || r->expires != 0)
        return STORE_BADARG;
    store_reg_t w = *r;
    w.flags |= STORE_REG_ARRANGED;
    uint8_t k[8];
    store_be64(k, w.seq);
    return store_put_raw(txn, st, STORE_DB_REG, k, sizeof k, &w, sizeof w, 0);
}

const char *store_dir(const store_t *st)
{
    return st->dir;
}
