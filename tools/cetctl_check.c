/*
 * cetctl_check.c: `cetctl check --data DIR` verifies every on-disk invariant,
 * and `cetctl debug-corrupt` breaks one on purpose (for the tests of check).
 *
 * check reads one snapshot (one read txn, so it can run beside a live cetd)
 * and walks each database once, looking the other side of each relation up
 * by key. The running cetd keeps its seat counters in memory as capacity
 * minus live registrations; on disk that is "live <= capacity" per offer,
 * which is what is checked here. Each violation kind prints its first
 * CTL_CHECK_SHOWN_MAX cases, then a summary; exit 0 only when nothing is wrong.
 */
#include <stdarg.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "base/cet_token.h"
#include "engine/eng_arrange.h"
#include "tools/cetctl.h"


#define CHECK_KINDS(X)                                                                       \
    X(RECORD, "record", "a record has the wrong size or a key that does not match it")       \
    X(PLACES, "places", "an offer, campus or school points at something missing")           \
    X(CAPACITY, "capacity", "more live registrations than seats")                           \
    X(ONE_PER_LEVEL, "one_per_level", "two written subjects of one level")                  \
    X(ORAL_WRITTEN, "oral_without_written", "an oral subject without its written subject")  \
    X(REG_REFS, "registration_refs", "a registration without candidate, offer or subject")  \
    X(HOLD_MISSING, "hold_missing", "an unpaid unlocked registration without its hold entry") \
    X(HOLD_ORPHAN, "hold_orphan", "a hold entry that matches no unpaid unlocked registration") \
    X(EXPIRY_OTHER, "expiry_other", "a candidate or order expiry entry that does not match") \
    X(ORDER_MISSING, "order_missing", "a registration names an order that does not exist")  \
    X(BINDING, "binding", "account and candidate do not point at each other")               \
    X(ROSTER_INDEX, "roster_index", "roster_no or roster_school index out of step")         \
    X(EMAIL_INDEX, "email_index", "account_email index out of step with accounts")          \
    X(AUDIT_CHAIN, "audit_chain", "the audit hash chain is broken: an entry changed, removed or reordered") \
    X(SEATS, "seats", "an arranged registration unpaid, off its campus's rooms, over a room's size, or on a seat given twice")

enum {
#define CHECK_ENUM(name, code, text) CK_##name,
    CHECK_KINDS(CHECK_ENUM)
#undef CHECK_ENUM
        CK__COUNT
};

static const struct {
    const char *code, *text;
} check_kinds[] = {
#define CHECK_NAME(name, code, text) {code, text},
    CHECK_KINDS(CHECK_NAME)
#undef CHECK_NAME
};

typedef struct offer_count {
    store_offer_t offer;
    uint32_t live;
} offer_count_t;

typedef struct check {
    store_t *st;
    store_txn_t *txn;
    uint64_t count[CK__COUNT];
    store_subject_t subjects[256];
    offer_count_t *offers;
    size_t n_offers, cap_offers;
    uint8_t *roster_seen;  /* per roster_no: 1 = a roster record has it */
    uint32_t roster_max;
    /* registrations of the candidate being walked (REG keys group by roster_no) */
    uint32_t cur_no;
    store_reg_t cur[256];
    int cur_n;
    uint64_t rows;
    ctl_progress_t prog;
    /* arranged seats: campus << 32 | level digit << 24 | room << 8 | seat, sorted at the end */
    uint64_t *seats;
    size_t n_seats, cap_seats;
    /* the rooms of each campus met, read once: open addressing on the campus code */
    struct campus_rooms *rooms;
    size_t cap_rooms, n_rooms;
} check_t;

typedef struct campus_rooms {
    uint32_t campus; /* 0 = empty slot */
    bool any;        /* the campus has rooms (else 001..999 of CET_ROOM_SEATS_DEFAULT) */
    uint8_t seats[CET_ROOMS_PER_CAMPUS_MAX + 1];
} campus_rooms_t;

__attribute__((format(printf, 3, 4))) static void violation(check_t *c, int kind,
                                                            const char *fmt, ...)
{
    if (++c->count[kind] > CTL_CHECK_SHOWN_MAX) return;
    if (c->prog.tty) fputs("\r\033[K", stdout);
    printf("%s: ", check_kinds[kind].code);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void tick(check_t *c)
{
    ctl_progress_tick(&c->prog, ++c->rows);
}

/* ---- places and offers ---- */
static int offer_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    if (klen != 5 || vlen != sizeof(store_offer_t)) {
        violation(c, CK_RECORD, "offer entry of %zu bytes", vlen);
        return 0;
    }
    store_offer_t o;
    memcpy(&o, val, sizeof o);
    if (store_rd32(key) != o.campus || ((const uint8_t *)key)[4] != (uint8_t)o.subject)
        violation(c, CK_RECORD, "offer key %u/%c holds offer %u/%c", store_rd32(key),
                  ((const char *)key)[4], o.campus, o.subject);
    store_campus_t cp;
    if (store_campus_get(c->txn, c->st, o.campus, &cp))
        violation(c, CK_PLACES, "offer %u/%c: campus %u does not exist", o.campus, o.subject,
                  o.campus);
    if (!c->subjects[(uint8_t)o.subject].kind)
        violation(c, CK_PLACES, "offer %u/%c: subject %c is not in the subject table", o.campus,
                  o.subject, o.subject);
    if (c->n_offers == c->cap_offers) {
        c->cap_offers = c->cap_offers ? c->cap_offers * 2 : 1024;
        c->offers = cet_realloc(c->offers, c->cap_offers * sizeof *c->offers);
    }
    c->offers[c->n_offers].offer = o;
    c->offers[c->n_offers++].live = 0;
    return 0;
}

static offer_count_t *offer_find(check_t *c, uint32_t campus, char subject)
{
    size_t lo = 0, hi = c->n_offers; /* in key order: campus, subject */
    uint64_t k = (uint64_t)campus << 8 | (uint8_t)subject;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint64_t m = (uint64_t)c->offers[mid].offer.campus << 8 | (uint8_t)c->offers[mid].offer.subject;
        if (m == k) return &c->offers[mid];
        if (m < k) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int campus_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    if (vlen != sizeof(store_campus_t)) {
        violation(c, CK_RECORD, "campus entry of %zu bytes", vlen);
        return 0;
    }
    store_campus_t cp;
    store_school_t s;
    store_province_t p;
    memcpy(&cp, val, sizeof cp);
    if (klen != 4 || store_rd32(key) != cp.code)
        violation(c, CK_RECORD, "campus key does not match campus %u", cp.code);
    if (cp.code / 10 != cp.school)
        violation(c, CK_PLACES, "campus %u is not a campus of school %u", cp.code, cp.school);
    if (store_school_get(c->txn, c->st, cp.school, &s))
        violation(c, CK_PLACES, "campus %u: school %u does not exist", cp.code, cp.school);
    else if (store_province_get(c->txn, c->st, s.province, &p))
        violation(c, CK_PLACES, "school %u: province %u does not exist", s.code, s.province);
    return 0;
}

/* ---- roster and its two indexes ---- */
static int roster_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    tick(c);
    if (vlen != sizeof(store_roster_t)) {
        violation(c, CK_RECORD, "roster entry of %zu bytes", vlen);
        return 0;
    }
    store_roster_t r;
    memcpy(&r, val, sizeof r);
    uint8_t k[1 + CET_ID_NUMBER_BYTES];
    r.id_number[CET_ID_NUMBER_BYTES - 1] = 0;
    size_t kl = store_roster_key(k, r.id_type, r.id_number);
    if (kl != klen || memcmp(k, key, kl) != 0)
        violation(c, CK_RECORD, "roster key does not match record %u (%s)", r.roster_no,
                  r.id_number);
    if (r.roster_no == 0 || r.roster_no >= CTL_CHECK_ROSTER_NO_MAX) {
        violation(c, CK_ROSTER_INDEX, "roster record %s has roster_no %u", r.id_number,
                  r.roster_no);
        return 0;
    }
    if (r.roster_no > c->roster_max) {
        uint32_t n = c->roster_max ? c->roster_max : 1024;
        while (n < r.roster_no) n *= 2;
        c->roster_seen = cet_realloc(c->roster_seen, (size_t)n + 1);
        memset(c->roster_seen + c->roster_max + 1, 0, n - c->roster_max);
        c->roster_max = n;
    }
    if (c->roster_seen[r.roster_no])
        violation(c, CK_ROSTER_INDEX, "roster_no %u is held by two roster records", r.roster_no);
    c->roster_seen[r.roster_no] = 1;
    uint8_t nk[4];
    store_be32(nk, r.roster_no);
    store_val_t v;
    if (store_get_ref(c->txn, c->st, STORE_DB_ROSTER_NO, nk, 4, &v) != 0)
        violation(c, CK_ROSTER_INDEX, "roster_no %u (%s) is missing from the roster_no index",
                  r.roster_no, r.id_number);
    else if (v.len != klen || memcmp(v.data, key, klen) != 0)
        violation(c, CK_ROSTER_INDEX, "roster_no index entry %u points at another record",
                  r.roster_no);
    uint8_t sk[8];
    store_be32(sk, r.school);
    store_be32(sk + 4, r.roster_no);
    if (store_get_ref(c->txn, c->st, STORE_DB_ROSTER_SCHOOL, sk, 8, &v) != 0)
        violation(c, CK_ROSTER_INDEX, "roster_no %u is missing from the school %u index",
                  r.roster_no, r.school);
    return 0;
}

static int roster_no_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    tick(c);
    if (klen != 4) {
        violation(c, CK_RECORD, "roster_no key of %zu bytes", klen);
        return 0;
    }
    uint32_t no = store_rd32(key);
    if (no > c->roster_max || !c->roster_seen[no])
        violation(c, CK_ROSTER_INDEX, "roster_no index entry %u has no roster record", no);
    (void)val, (void)vlen;
    return 0;
}

static int roster_school_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    tick(c);
    if (klen != 8) {
        violation(c, CK_RECORD, "roster_school key of %zu bytes", klen);
        return 0;
    }
    uint32_t school = store_rd32(key), no = store_rd32((const uint8_t *)key + 4);
    store_roster_t r;
    if (store_roster_get_by_no(c->txn, c->st, no, &r) != 0)
        violation(c, CK_ROSTER_INDEX, "school index entry %u/%u has no roster record", school, no);
    else if (r.school != school)
        violation(c, CK_ROSTER_INDEX, "school index entry %u/%u: the record is of school %u",
                  school, no, r.school);
    (void)val, (void)vlen;
    return 0;
}

/* ---- accounts, the email index and candidates ---- */
static int account_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    tick(c);
    if (klen != 16 || vlen != sizeof(store_account_t)) {
        violation(c, CK_RECORD, "account entry of %zu bytes", vlen);
        return 0;
    }
    store_account_t a;
    memcpy(&a, val, sizeof a);
    char hex[33];
    ctl_account_hex(key, hex);
    if (memcmp(a.id, key, 16) != 0) violation(c, CK_RECORD, "account key %s holds another id", hex);
    char ek[CET_EMAIL_BYTES];
    a.email[CET_EMAIL_BYTES - 1] = 0;
    cet_email_normalize(a.email, ek, sizeof ek);
    store_val_t v;
    if (!ek[0] || store_get_ref(c->txn, c->st, STORE_DB_ACCOUNT_EMAIL, ek, strlen(ek), &v) != 0)
        violation(c, CK_EMAIL_INDEX, "account %s: email %s is not in the index", hex, a.email);
    else if (v.len != 16 || memcmp(v.data, key, 16) != 0)
        violation(c, CK_EMAIL_INDEX, "account %s: email %s points at another account", hex,
                  a.email);
    if (a.roster_no) {
        store_candidate_t cd;
        if (store_candidate_get(c->txn, c->st, a.roster_no, &cd) != 0)
            violation(c, CK_BINDING, "account %s is bound to roster_no %u, which has no candidate",
                      hex, a.roster_no);
        else if (memcmp(cd.account, a.id, 16) != 0)
            violation(c, CK_BINDING, "account %s is bound to roster_no %u, whose candidate names "
                                     "another account", hex, a.roster_no);
    }
    return 0;
}

static int email_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    tick(c);
    char ek[CET_EMAIL_BYTES];
    size_t n = klen < sizeof ek - 1 ? klen : sizeof ek - 1;
    memcpy(ek, key, n);
    ek[n] = 0;
    store_account_t a;
    if (vlen != 16 || store_account_get(c->txn, c->st, val, &a) != 0) {
        violation(c, CK_EMAIL_INDEX, "email %s points at no account", ek);
        return 0;
    }
    char lower[CET_EMAIL_BYTES];
    a.email[CET_EMAIL_BYTES - 1] = 0;
    cet_email_normalize(a.email, lower, sizeof lower);
    if (strcmp(lower, ek) != 0)
        violation(c, CK_EMAIL_INDEX, "email %s points at an account whose email is %s", ek, a.email);
    return 0;
}

static bool expiry_exists(check_t *c, int64_t due, uint8_t kind, uint64_t id, char subject)
{
    uint8_t k[STORE_EXPIRY_KEY_BYTES];
    store_expiry_key(k, due, kind, id, subject);
    store_val_t v;
    return store_get_ref(c->txn, c->st, STORE_DB_EXPIRY, k, sizeof k, &v) == 0;
}

static void candidate_regs_done(check_t *c)
{
    if (!c->cur_n) return;
    uint32_t no = c->cur_no;
    /* one written subject per level */
    for (int i = 0; i < c->cur_n; i++) {
        const store_subject_t *a = &c->subjects[(uint8_t)c->cur[i].subject];
        if (a->kind != STORE_WRITTEN) continue;
        for (int j = i + 1; j < c->cur_n; j++) {
            const store_subject_t *b = &c->subjects[(uint8_t)c->cur[j].subject];
            if (b->kind == STORE_WRITTEN && b->level == a->level)
                violation(c, CK_ONE_PER_LEVEL, "roster_no %u has written %c and %c (level %u)",
                          no, a->code, b->code, a->level);
        }
    }
    /* every oral with its written */
    for (int i = 0; i < c->cur_n; i++) {
        const store_subject_t *o = &c->subjects[(uint8_t)c->cur[i].subject];
        if (o->kind != STORE_ORAL) continue;
        bool found = false;
        for (int j = 0; j < c->cur_n; j++) found |= c->cur[j].subject == o->written;
        if (!found)
            violation(c, CK_ORAL_WRITTEN, "roster_no %u has oral %c without written %c", no,
                      o->code, o->written ? o->written : '?');
    }
    c->cur_n = 0;
}

static int candidate_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    tick(c);
    if (klen != 4 || vlen != sizeof(store_candidate_t)) {
        violation(c, CK_RECORD, "candidate entry of %zu bytes", vlen);
        return 0;
    }
    uint32_t no = store_rd32(key);
    store_candidate_t cd;
    memcpy(&cd, val, sizeof cd);
    char hex[33];
    ctl_account_hex(cd.account, hex);
    if (cd.snapshot.roster_no != no)
        violation(c, CK_RECORD, "candidate %u holds the snapshot of roster_no %u", no,
                  cd.snapshot.roster_no);
    if (no > c->roster_max || !c->roster_seen[no])
        violation(c, CK_BINDING, "candidate %u has no roster record", no);
    store_account_t a;
    if (store_account_get(c->txn, c->st, cd.account, &a) != 0)
        violation(c, CK_BINDING, "candidate %u names account %s, which does not exist", no, hex);
    else if (a.roster_no != no)
        violation(c, CK_BINDING, "candidate %u names account %s, which is bound to roster_no %u",
                  no, hex, a.roster_no);
    if (cd.empty_due && !expiry_exists(c, cd.empty_due, STORE_EXPIRE_CANDIDATE, no, 0))
        violation(c, CK_EXPIRY_OTHER, "candidate %u: empty_due has no expiry entry", no);
    /* the candidate's registrations together: one per level, orals with written */
    int n = store_reg_list(c->txn, c->st, no, c->cur, (int)(sizeof c->cur / sizeof c->cur[0]));
    if (n < 0) return n;
    c->cur_no = no;
    c->cur_n = n;
    candidate_regs_done(c);
    return 0;
}

/* ---- registrations ---- */
static void seat_check(check_t *c, const store_reg_t *r);

static campus_rooms_t *rooms_slot(campus_rooms_t *t, size_t cap, uint32_t campus)
{
    size_t i = (campus * 2654435761u) & (cap - 1);
    while (t[i].campus && t[i].campus != campus) i = (i + 1) & (cap - 1);
    return &t[i];
}

/* The seats of each room of campus (0 = no such room), read from `room` once. */
static const campus_rooms_t *campus_rooms(check_t *c, uint32_t campus)
{
    if ((c->n_rooms + 1) * 2 > c->cap_rooms) {
        size_t cap = c->cap_rooms ? c->cap_rooms * 2 : 64;
        campus_rooms_t *t = cet_calloc(cap, sizeof *t);
        for (size_t i = 0; i < c->cap_rooms; i++)
            if (c->rooms[i].campus) *rooms_slot(t, cap, c->rooms[i].campus) = c->rooms[i];
        cet_free(c->rooms);
        c->rooms = t;
        c->cap_rooms = cap;
    }
    campus_rooms_t *s = rooms_slot(c->rooms, c->cap_rooms, campus);
    if (s->campus) return s;
    s->campus = campus;
    c->n_rooms++;
    store_room_t rooms[CET_ROOMS_PER_CAMPUS_MAX];
    int n = store_rooms_list(c->txn, c->st, campus, rooms, CET_ROOMS_PER_CAMPUS_MAX);
    s->any = n > 0;
    for (int i = 0; i < n; i++)
        if (rooms[i].number <= CET_ROOMS_PER_CAMPUS_MAX) s->seats[rooms[i].number] = rooms[i].seats;
    if (!s->any)
        for (int r = 1; r <= CET_ROOMS_PER_CAMPUS_MAX; r++) s->seats[r] = CET_ROOM_SEATS_DEFAULT;
    return s;
}

static int reg_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    tick(c);
    if (klen != 8 || vlen != sizeof(store_reg_t)) {
        violation(c, CK_RECORD, "registration entry of %zu bytes", vlen);
        return 0;
    }
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    uint32_t no = r.roster_no;
    uint64_t seq = store_rd64(key);
    store_reg_t by_index;
    if (r.seq != seq)
        violation(c, CK_RECORD, "registration %llu holds sequence %llu", (unsigned long long)seq,
                  (unsigned long long)r.seq);
    else if (store_reg_get(c->txn, c->st, no, r.subject, &by_index) != 0 || by_index.seq != seq)
        violation(c, CK_RECORD, "registration %llu (%u/%c) is not the one its candidate's index "
                  "names", (unsigned long long)seq, no, r.subject);
    if (!c->subjects[(uint8_t)r.subject].kind)
        violation(c, CK_REG_REFS, "roster_no %u: subject %c is not in the subject table", no,
                  r.subject);
    store_candidate_t cd;
    if (store_candidate_get(c->txn, c->st, no, &cd) != 0)
        violation(c, CK_REG_REFS, "roster_no %u/%c: no bound candidate", no, r.subject);
    offer_count_t *o = offer_find(c, r.campus, r.subject);
    if (!o)
        violation(c, CK_REG_REFS, "roster_no %u/%c: campus %u does not offer it", no, r.subject,
                  r.campus);
    else
        o->live++;
    bool held = !(r.flags & (STORE_REG_PAID | STORE_REG_LOCKED));
    if (held && r.expires && !expiry_exists(c, r.expires, STORE_EXPIRE_HOLD, seq, r.subject))
        violation(c, CK_HOLD_MISSING, "roster_no %u/%c: unpaid, expires %lld, no hold entry", no,
                  r.subject, (long long)r.expires);
    if (!held && r.expires)
        violation(c, CK_HOLD_ORPHAN, "roster_no %u/%c is %s but still has expires %lld", no,
                  r.subject, ctl_reg_state(r.flags), (long long)r.expires);
    seat_check(c, &r);
    if (r.order_id) {
        store_order_t ord;
        if (store_order_get(c->txn, c->st, r.order_id, &ord) != 0)
            violation(c, CK_ORDER_MISSING, "roster_no %u/%c names order %llu", no, r.subject,
                      (unsigned long long)r.order_id);
    }
    return 0;
}

/* An arranged registration: paid, in one of its campus's rooms, within the room's size. */
static void seat_check(check_t *c, const store_reg_t *r)
{
    if (!(r->flags & STORE_REG_ARRANGED)) return;
    const store_subject_t *sj = &c->subjects[(uint8_t)r->subject];
    int digit = eng_arrange_level_digit(sj->level, sj->kind == STORE_ORAL);
    if (!(r->flags & STORE_REG_PAID))
        violation(c, CK_SEATS, "roster_no %u/%c is arranged but not paid", r->roster_no, r->subject);
    const campus_rooms_t *cr = campus_rooms(c, r->campus);
    unsigned size = r->room <= CET_ROOMS_PER_CAMPUS_MAX ? cr->seats[r->room] : 0;
    if (r->room < 1 || r->room > CET_ROOMS_PER_CAMPUS_MAX || r->seat < 1 || r->seat > size)
        violation(c, CK_SEATS, "roster_no %u/%c: room %u seat %u is not a seat of campus %06u "
                  "(rooms changed since the arrangement? arrange it again)", r->roster_no,
                  r->subject, r->room, r->seat, r->campus);
    if (c->n_seats == c->cap_seats) {
        c->cap_seats = c->cap_seats ? c->cap_seats * 2 : 4096;
        c->seats = cet_realloc(c->seats, c->cap_seats * sizeof *c->seats);
    }
    c->seats[c->n_seats++] = (uint64_t)r->campus << 32 | (uint64_t)digit << 24 |
                             (uint64_t)r->room << 8 | r->seat;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Two registrations with one ticket number: same campus, level digit, room and seat. */
static void seats_twice(check_t *c)
{
    if (c->n_seats < 2) return; /* qsort(NULL, 0) is undefined */
    qsort(c->seats, c->n_seats, sizeof *c->seats, u64_cmp);
    for (size_t i = 1; i < c->n_seats; i++)
        if (c->seats[i] == c->seats[i - 1])
            violation(c, CK_SEATS, "campus %06u level digit %u room %03u seat %02u is given twice",
                      (unsigned)(c->seats[i] >> 32), (unsigned)(c->seats[i] >> 24 & 0xff),
                      (unsigned)(c->seats[i] >> 8 & 0xffff), (unsigned)(c->seats[i] & 0xff));
}

static int expiry_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    tick(c);
    if (klen != STORE_EXPIRY_KEY_BYTES) {
        violation(c, CK_RECORD, "expiry key of %zu bytes", klen);
        return 0;
    }
    const uint8_t *k = key;
    int64_t due = (int64_t)store_rd64(k);
    uint8_t kind = k[8];
    uint64_t id = store_expiry_key_id(k);
    uint32_t no = (uint32_t)id; /* a candidate's roster_no */
    char subject = store_expiry_key_subject(k);
    if (kind == STORE_EXPIRE_CANDIDATE && id > UINT32_MAX) {
        violation(c, CK_RECORD, "expiry entry of kind %u names id %llu", kind,
                  (unsigned long long)id);
    } else if (kind == STORE_EXPIRE_HOLD) {
        /* a hold names its registration by sequence */
        unsigned long long seq = (unsigned long long)id;
        store_reg_t r;
        if (store_reg_get_seq(c->txn, c->st, id, &r) != 0)
            violation(c, CK_HOLD_ORPHAN, "hold %lld for registration %llu/%c: no such registration",
                      (long long)due, seq, subject);
        else if (r.subject != subject)
            violation(c, CK_HOLD_ORPHAN, "hold %lld for registration %llu/%c: it is %u/%c",
                      (long long)due, seq, subject, r.roster_no, r.subject);
        else if (r.expires != due)
            violation(c, CK_HOLD_ORPHAN, "hold %lld for %u/%c: the registration expires %lld",
                      (long long)due, r.roster_no, subject, (long long)r.expires);
        else if (r.flags & (STORE_REG_PAID | STORE_REG_LOCKED))
            violation(c, CK_HOLD_ORPHAN, "hold %lld for %u/%c: the registration is %s",
                      (long long)due, r.roster_no, subject, ctl_reg_state(r.flags));
    } else if (kind == STORE_EXPIRE_CANDIDATE) {
        store_candidate_t cd;
        if (store_candidate_get(c->txn, c->st, no, &cd) != 0)
            violation(c, CK_EXPIRY_OTHER, "candidate expiry %lld for %u: no such candidate",
                      (long long)due, no);
        else if (cd.empty_due != due)
            violation(c, CK_EXPIRY_OTHER, "candidate expiry %lld for %u: empty_due is %lld",
                      (long long)due, no, (long long)cd.empty_due);
    } else if (kind == STORE_EXPIRE_ORDER) {
        store_order_t o;
        if (store_order_get(c->txn, c->st, id, &o) != 0)
            violation(c, CK_EXPIRY_OTHER, "order expiry %lld for order %llu: no such order",
                      (long long)due, (unsigned long long)id);
        else if (o.state != STORE_ORDER_PENDING || o.expires != due)
            violation(c, CK_EXPIRY_OTHER,
                      "order expiry %lld for order %llu: state %u expires %lld", (long long)due,
                      (unsigned long long)id, o.state, (long long)o.expires);
    } else {
        violation(c, CK_RECORD, "expiry entry of unknown kind %u", kind);
    }
    (void)val, (void)vlen;
    return 0;
}

static int order_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    if (klen != 8 || vlen != sizeof(store_order_t)) {
        violation(c, CK_RECORD, "order entry of %zu bytes", vlen);
        return 0;
    }
    store_order_t o;
    memcpy(&o, val, sizeof o);
    if (o.state == STORE_ORDER_PENDING &&
        !expiry_exists(c, o.expires, STORE_EXPIRE_ORDER, o.id, 0))
        violation(c, CK_EXPIRY_OTHER, "pending order %llu has no expiry entry",
                  (unsigned long long)o.id);
    (void)key;
    return 0;
}

typedef struct scan_step {
    store_db_t db;
    store_scan_cb fn;
} scan_step_t;

int ctl_cmd_check(int argc, char **argv)
{
    const char *data = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos || !data) {
        fprintf(stderr, "usage: cetctl check --data DIR\n");
        return CTL_EXIT_USAGE;
    }
    check_t *c = cet_calloc(1, sizeof *c);
    int ret = CTL_EXIT_USAGE, rc;
    if (ctl_store_open(data, true, &c->st) != 0) goto out;
    if ((rc = store_read_begin(c->st, &c->txn))) goto fail;
    if ((rc = ctl_subjects_load(c->txn, c->st, c->subjects))) goto fail;
    for (int s = 0; s < 256; s++) {
        const store_subject_t *sj = &c->subjects[s];
        if (sj->kind == STORE_ORAL && !c->subjects[(uint8_t)sj->written].kind)
            violation(c, CK_PLACES, "oral subject %c names written subject %c, which is missing",
                      sj->code, sj->written ? sj->written : '?');
    }
    ctl_progress_start(&c->prog, "check");
    static const scan_step_t steps[] = {
        {STORE_DB_OFFER, offer_cb},       {STORE_DB_CAMPUS, campus_cb},
        {STORE_DB_ROSTER, roster_cb},     {STORE_DB_ROSTER_NO, roster_no_cb},
        {STORE_DB_ROSTER_SCHOOL, roster_school_cb}, {STORE_DB_ACCOUNT, account_cb},
        {STORE_DB_ACCOUNT_EMAIL, email_cb}, {STORE_DB_CANDIDATE, candidate_cb},
        {STORE_DB_REG, reg_cb},           {STORE_DB_EXPIRY, expiry_cb},
        {STORE_DB_ORDER, order_cb},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if ((rc = store_scan(c->txn, c->st, steps[i].db, NULL, 0, steps[i].fn, c))) goto fail;
    }
    uint64_t audit_entries = 0, audit_bad = 0;
    char audit_why[256];
    rc = store_audit_verify(c->txn, c->st, &audit_entries, &audit_bad, audit_why, sizeof audit_why);
    if (rc == CET_REFUSED) violation(c, CK_AUDIT_CHAIN, "%s", audit_why);
    else if (rc) goto fail;
    seats_twice(c);
    for (size_t i = 0; i < c->n_offers; i++) {
        const offer_count_t *o = &c->offers[i];
        if (o->live > o->offer.capacity)
            violation(c, CK_CAPACITY, "offer %u/%c: %u live registrations, capacity %u",
                      o->offer.campus, o->offer.subject, o->live, o->offer.capacity);
    }
    if (c->prog.tty) fputs("\r\033[K", stderr);
    uint64_t total = 0;
    for (int k = 0; k < CK__COUNT; k++) {
        total += c->count[k];
        if (c->count[k] > CTL_CHECK_SHOWN_MAX)
            printf("%s: ... %llu more\n", check_kinds[k].code,
                   (unsigned long long)(c->count[k] - CTL_CHECK_SHOWN_MAX));
    }
    printf("check: %llu entries read, %zu offers, %llu audit entries chained\n",
           (unsigned long long)c->rows, c->n_offers, (unsigned long long)audit_entries);
    for (int k = 0; k < CK__COUNT; k++)
        printf("  %-22s %8llu  %s\n", check_kinds[k].code, (unsigned long long)c->count[k],
               check_kinds[k].text);
    printf("check: %s (%llu violations)\n", total ? "FAILED" : "ok", (unsigned long long)total);
    ret = total ? CTL_EXIT_BAD_DATA : CTL_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "cetctl check: %s\n", store_strerror(rc));
out:
    if (c->txn) store_abort(c->txn);
    if (c->st) store_close(c->st);
    cet_free(c->offers);
    cet_free(c->roster_seen);
    cet_free(c->seats);
    cet_free(c->rooms);
    cet_free(c);
    return ret;
}

/* ---- audit verify: the hash chain alone ---- */
int ctl_cmd_audit(int argc, char **argv)
{
    const char *data = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos != 1 ||
        strcmp(pos[0], "verify") != 0 || !data) {
        fprintf(stderr, "usage: cetctl audit verify --data DIR\n");
        return CTL_EXIT_USAGE;
    }
    store_t *st = NULL;
    store_txn_t *txn = NULL;
    if (ctl_store_open(data, true, &st) != 0) return CTL_EXIT_USAGE;
    int ret = CTL_EXIT_USAGE, rc = store_read_begin(st, &txn);
    uint64_t n = 0, bad = 0;
    char why[256];
    if (!rc) rc = store_audit_verify(txn, st, &n, &bad, why, sizeof why);
    if (rc == 0) {
        printf("audit: %llu entries, the chain verifies\n", (unsigned long long)n);
        ret = CTL_EXIT_OK;
    } else if (rc == CET_REFUSED) {
        printf("audit: FAILED: %s\n", why);
        ret = CTL_EXIT_BAD_DATA;
    } else {
        fprintf(stderr, "cetctl audit: %s\n", store_strerror(rc));
    }
    if (txn) store_abort(txn);
    store_close(st);
    return ret;
}

/* ---- debug-corrupt: real invalid data, written through the store API ---- */
typedef struct corrupt {
    store_t *st;
    const char *what;
    int64_t now;
    char done[256];
} corrupt_t;

typedef struct bound_list {
    uint32_t no[4096];
    store_candidate_t first;
    uint32_t n, campus;
} bound_list_t;

/* Bound candidates without registrations at the campus of the first one found. */
static int bound_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    bound_list_t *b = arg;
    if (klen != 4 || vlen != sizeof(store_candidate_t)) return 0;
    store_candidate_t cd; /* LMDB values carry no alignment: copy out */
    memcpy(&cd, val, sizeof cd);
    if (!b->n) {
        b->campus = cd.snapshot.campus;
        b->first = cd;
    }
    if (cd.snapshot.campus == b->campus && b->n < sizeof b->no / sizeof b->no[0])
        b->no[b->n++] = store_rd32(key);
    return 0;
}

static int put_reg(store_txn_t *txn, corrupt_t *k, uint32_t no, uint32_t campus, char subject)
{
    store_reg_t r;
    memset(&r, 0, sizeof r);
    r.roster_no = no;
    r.campus = campus;
    r.subject = subject;
    r.method = STORE_BY_CANDIDATE;
    r.fee = 3000;
    r.created = k->now;
    r.expires = k->now + CET_HOLD_TTL_DEFAULT_S;
    int rc = store_reg_put(txn, k->st, &r, 0);
    if (rc) return rc;
    /* a candidate with registrations is no longer due for deletion */
    store_candidate_t cd;
    if ((rc = store_candidate_get(txn, k->st, no, &cd))) return rc;
    cd.empty_due = 0;
    return store_candidate_put(txn, k->st, no, &cd);
}

/* The first two arranged registrations of one campus-subject. */
typedef struct seat_twice {
    store_reg_t r[2];
    int n;
} seat_twice_t;

static int arranged_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    seat_twice_t *s = arg;
    (void)key, (void)klen;
    if (vlen != sizeof(store_reg_t)) return 0;
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    if (!(r.flags & STORE_REG_ARRANGED)) return 0;
    if (s->n == 1 && (r.campus != s->r[0].campus || r.subject != s->r[0].subject)) return 0;
    s->r[s->n++] = r;
    return s->n == 2 ? CET_DONE : CET_OK;
}

static int corrupt_txn_cb(store_txn_t *txn, void *arg)
{
    corrupt_t *k = arg;
    bound_list_t *b = cet_calloc(1, sizeof *b);
    int rc = store_scan(txn, k->st, STORE_DB_CANDIDATE, NULL, 0, bound_cb, b);
    uint32_t no = b->n ? b->no[0] : 0;
    if (rc) goto out;
    if (!strcmp(k->what, "orphan-hold")) {
        uint8_t key[STORE_EXPIRY_KEY_BYTES];
        /* a sequence no registration has (they count up from 1) */
        store_expiry_key(key, k->now + 3600, STORE_EXPIRE_HOLD, UINT64_MAX - 15, '1');
        rc = store_put_raw(txn, k->st, STORE_DB_EXPIRY, key, sizeof key, "", 0, 0);
        snprintf(k->done, sizeof k->done, "a hold entry for a registration that does not exist");
    } else if (!strcmp(k->what, "roster-index")) {
        uint8_t nk[4];
        store_be32(nk, 1);
        rc = store_del_raw(txn, k->st, STORE_DB_ROSTER_NO, nk, 4);
        snprintf(k->done, sizeof k->done, "deleted the roster_no index entry of roster_no 1");
    } else if (!strcmp(k->what, "audit-tamper") || !strcmp(k->what, "audit-remove")) {
        /* entry 1 changed in place (its hash no longer matches), or entry 1 removed */
        uint8_t ak[8];
        store_be64(ak, 1);
        uint8_t buf[sizeof(store_audit_t) + CET_AUDIT_TEXT_BYTES_MAX + sizeof(store_audit_chain_t)];
        size_t len = 0;
        rc = store_get_raw(txn, k->st, STORE_DB_AUDIT, ak, 8, buf, sizeof buf, &len);
        if (!rc && !strcmp(k->what, "audit-remove")) {
            rc = store_del_raw(txn, k->st, STORE_DB_AUDIT, ak, 8);
            snprintf(k->done, sizeof k->done, "removed audit entry 1");
        } else if (!rc) {
            store_audit_t h;
            memcpy(&h, buf, sizeof h);
            if (h.text_len) buf[sizeof h] ^= 0x01; /* one bit of the detail */
            else buf[offsetof(store_audit_t, actor)] ^= 0x01;
            rc = store_put_raw(txn, k->st, STORE_DB_AUDIT, ak, 8, buf, len, 0);
            snprintf(k->done, sizeof k->done, "changed one bit of audit entry 1");
        }
    } else if (!strcmp(k->what, "seat-twice")) {
        seat_twice_t s = {0};
        if ((rc = store_scan(txn, k->st, STORE_DB_REG, NULL, 0, arranged_cb, &s))) goto out;
        if (s.n < 2) {
            fprintf(stderr, "cetctl debug-corrupt: seat-twice needs two arranged registrations "
                            "of one campus-subject\n");
            rc = STORE_BADARG;
            goto out;
        }
        s.r[1].room = s.r[0].room;
        s.r[1].seat = s.r[0].seat;
        rc = store_reg_arranged_put(txn, k->st, &s.r[1]);
        snprintf(k->done, sizeof k->done, "roster_no %u/%c now sits on room %u seat %u too",
                 s.r[1].roster_no, s.r[1].subject, s.r[0].room, s.r[0].seat);
    } else if (!b->n) {
        fprintf(stderr, "cetctl debug-corrupt: %s needs bound candidates (run bench-prep)\n",
                k->what);
        rc = STORE_BADARG;
    } else if (!strcmp(k->what, "overbook")) {
        /* registrations for more candidates than the offer has seats: capacity+1 of them, or
         * as many as there are with the capacity lowered below that */
        store_offer_t o;
        if ((rc = store_offer_get(txn, k->st, b->campus, '1', &o))) goto out;
        uint32_t want = o.capacity + 1 < b->n ? o.capacity + 1 : b->n;
        for (uint32_t i = 0; i < want && !rc; i++) {
            store_reg_t old;
            if (store_reg_get(txn, k->st, b->no[i], '1', &old) == 0) continue;
            rc = put_reg(txn, k, b->no[i], b->campus, '1');
        }
        if (!rc && want <= o.capacity) {
            o.capacity = want - 1;
            rc = store_offer_put(txn, k->st, &o);
        }
        snprintf(k->done, sizeof k->done, "%u registrations for %u/1, capacity %u", want,
                 b->campus, o.capacity);
    } else if (!strcmp(k->what, "one-per-level")) {
        rc = put_reg(txn, k, no, b->campus, '1');
        if (!rc) rc = put_reg(txn, k, no, b->campus, '3');
        snprintf(k->done, sizeof k->done, "roster_no %u registered for written 1 and 3", no);
    } else if (!strcmp(k->what, "oral-alone")) {
        store_reg_t old;
        if (store_reg_get(txn, k->st, no, '1', &old) == 0) rc = store_reg_del(txn, k->st, &old);
        if (!rc) rc = put_reg(txn, k, no, b->campus, 'F');
        snprintf(k->done, sizeof k->done, "roster_no %u registered for oral F without 1", no);
    } else if (!strcmp(k->what, "missing-hold")) {
        rc = put_reg(txn, k, no, b->campus, '1');
        store_reg_t r;
        if (!rc) rc = store_reg_get(txn, k->st, no, '1', &r);
        uint8_t key[STORE_EXPIRY_KEY_BYTES];
        if (!rc) store_expiry_key(key, r.expires, STORE_EXPIRE_HOLD, r.seq, '1');
        if (!rc) rc = store_del_raw(txn, k->st, STORE_DB_EXPIRY, key, sizeof key);
        snprintf(k->done, sizeof k->done, "roster_no %u/1 unpaid without its hold entry", no);
    } else if (!strcmp(k->what, "unbind")) {
        store_account_t a;
        if ((rc = store_account_get(txn, k->st, b->first.account, &a))) goto out;
        a.roster_no = 0;
        rc = store_account_put(txn, k->st, &a, true);
        snprintf(k->done, sizeof k->done, "account of roster_no %u no longer points back", no);
    } else if (!strcmp(k->what, "email-index")) {
        store_account_t a;
        if ((rc = store_account_get(txn, k->st, b->first.account, &a))) goto out;
        char ek[CET_EMAIL_BYTES];
        cet_email_normalize(a.email, ek, sizeof ek);
        rc = store_del_raw(txn, k->st, STORE_DB_ACCOUNT_EMAIL, ek, strlen(ek));
        snprintf(k->done, sizeof k->done, "deleted the email index entry of %s", a.email);
    } else {
        fprintf(stderr, "cetctl debug-corrupt: unknown --what %s\n", k->what);
        rc = STORE_BADARG;
    }
out:
    cet_free(b);
    return rc;
}

int ctl_cmd_debug_corrupt(int argc, char **argv)
{
    const char *data = NULL, *what = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL}, {"--what", &what, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos || !data ||
        !what) {
        fprintf(stderr, "usage: cetctl debug-corrupt --data DIR --what overbook|one-per-level|"
                        "oral-alone|orphan-hold|missing-hold|unbind|roster-index|email-index|"
                        "audit-tamper|audit-remove|seat-twice\n");
        return CTL_EXIT_USAGE;
    }
    corrupt_t k = {.what = what, .now = cet_now_s()};
    if (ctl_store_open(data, false, &k.st) != 0) return CTL_EXIT_USAGE;
    int rc = store_write_run(k.st, corrupt_txn_cb, &k);
    store_close(k.st);
    if (rc) {
        if (rc != STORE_BADARG) fprintf(stderr, "cetctl debug-corrupt: %s\n", store_strerror(rc));
        return CTL_EXIT_USAGE;
    }
    fprintf(stderr, "debug-corrupt %s: %s\n", what, k.done);
    return CTL_EXIT_OK;
}
