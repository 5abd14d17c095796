/*
 * The engine's rules without HTTP: ops go through the real writer thread and
 * its group commit on a temporary LMDB environment, and their domain results
 * (eng_result_t) are checked: registration allowed and refused (window,
 * qualification, one per level, oral needs its written subject, seats full,
 * the txn as the truth of capacity, capacity below live), cancellation,
 * payment, a late notice that is a refund, idempotent replay, 64-bit order ids,
 * a login's password-hash upgrade (compare-and-set), and a restart rebuilding
 * the live counts and the seat counters.
 */
#include "engine/eng.h"

#include <string.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "base/cet_token.h"
#include "tests/unit/cet_test.h"

#define CAMPUS_A 100130u /* school 10013: oral elsewhere allowed */
#define CAMPUS_B 100131u /* school 10013 too */

static store_t *st;
static eng_t *eng;
static store_mailbox_t *mb;
static int done;
static int64_t t0;

/* ---- data ---- */
static void put_offer(store_txn_t *txn, uint32_t campus, char subject, uint32_t cap, uint32_t fee,
                      int64_t closes)
{
    store_offer_t o = {.campus = campus,
                       .subject = subject,
                       .capacity = cap,
                       .fee = fee,
                       .window_opens = t0 - 3600,
                       .window_closes = closes,
                       .exam_date = t0 + 30 * 86400};
    CHECK_EQ(store_offer_put(txn, st, &o), 0);
}

static void put_subject(store_txn_t *txn, char code, uint8_t kind, uint8_t level, char written)
{
    store_subject_t s = {.code = code, .kind = kind, .level = level, .written = written};
    cet_strlcpy(s.name, "subject", sizeof s.name);
    CHECK_EQ(store_subject_put(txn, st, &s), 0);
}

static void setup_data(void)
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_sitting_t s = {.id = 20262,
                         .lookup_opens = t0 - 7200,
                         .reg_opens = t0 - 3600,
                         .reg_closes = t0 + 86400,
                         .written_date = t0 + 30 * 86400};
    CHECK_EQ(store_sitting_put(txn, st, &s), 0);
    store_province_t p = {.code = 11};
    CHECK_EQ(store_province_put(txn, st, &p), 0);
    store_school_t sc = {.code = 10013, .province = 11, .flags = STORE_SCHOOL_ORAL_ELSEWHERE};
    CHECK_EQ(store_school_put(txn, st, &sc), 0);
    store_campus_t ca = {.code = CAMPUS_A, .school = 10013},
                   cb = {.code = CAMPUS_B, .school = 10013};
    CHECK_EQ(store_campus_put(txn, st, &ca), 0);
    CHECK_EQ(store_campus_put(txn, st, &cb), 0);
    put_subject(txn, '1', STORE_WRITTEN, 4, 0);
    put_subject(txn, '3', STORE_WRITTEN, 4, 0);
    put_subject(txn, '2', STORE_WRITTEN, 6, 0);
    put_subject(txn, 'F', STORE_ORAL, 4, '1');
    put_offer(txn, CAMPUS_A, '1', 2, 3000, t0 + 86400);
    put_offer(txn, CAMPUS_A, '3', 5, 3500, t0 + 86400);
    put_offer(txn, CAMPUS_A, '2', 5, 3000, t0 - 60); /* its window closed a minute ago */
    put_offer(txn, CAMPUS_A, 'F', 5, 5000, t0 + 86400);
    put_offer(txn, CAMPUS_B, 'F', 5, 9000, t0 + 86400);
    CHECK_EQ(store_commit(txn), 0);
}

/* A roster record and an agreed account; returns the account id in id. */
static void person(int n, const char *subjects, uint8_t id[16])
{
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_roster_t r;
    memset(&r, 0, sizeof r);
    r.school = 10013;
    r.campus = CAMPUS_A;
    r.id_type = STORE_ID_PASSPORT;
    snprintf(r.id_number, sizeof r.id_number, "E%08d", n);
    snprintf(r.name, sizeof r.name, "Person %d", n);
    r.n_subjects = (uint8_t)strlen(subjects);
    memcpy(r.subjects, subjects, r.n_subjects);
    CHECK_EQ(store_roster_put(txn, st, &r), 0);
    store_account_t a;
    memset(&a, 0, sizeof a);
    memset(a.id, 0, 16);
    a.id[0] = (uint8_t)(n >> 8);
    a.id[1] = (uint8_t)n;
    a.id[15] = 0x5a;
    snprintf(a.email, sizeof a.email, "p%d@rules.test", n);
    cet_strlcpy(a.pwhash, "x", sizeof a.pwhash);
    a.created = t0;
    a.agreed_at = t0;
    CHECK_EQ(store_account_put(txn, st, &a, false), 0);
    CHECK_EQ(store_commit(txn), 0);
    memcpy(id, a.id, 16);
}

/* ---- running ops through the writer ---- */
static void notify_cb(void *ctx)
{
    (void)ctx; /* wait_done polls the mailbox: nothing to wake */
}

static void done_cb(store_req_t *req)
{
    (void)req;
    done = 1;
}

static void wait_done(void)
{
    /* the mailbox's owner is this thread: drain until the op came back */
    for (int spins = 0; !done && spins < 200000; spins++) {
        store_mailbox_drain(mb);
        if (!done) usleep(50);
    }
    CHECK(done);
}

static void op_new(eng_op_t *op, eng_op_kind_t kind, const uint8_t account[16])
{
    eng_op_init(op, eng, kind, mb, done_cb);
    if (account) memcpy(op->account, account, 16);
}

/* Submits with a read txn (the core's fast paths) and waits for the result. */
static cet_err_t run(eng_op_t *op)
{
    done = 0;
    store_txn_t *rtxn;
    CHECK_EQ(store_read_begin(st, &rtxn), 0);
    bool queued = eng_submit(op, rtxn);
    store_abort(rtxn);
    if (queued) wait_done();
    return op->res.err;
}

static cet_err_t reg(const uint8_t account[16], char subject, uint32_t campus, eng_op_t *op)
{
    op_new(op, ENG_OP_REG_CREATE, account);
    op->in.subject = subject;
    op->in.campus = campus;
    return run(op);
}

static cet_err_t reg1(const uint8_t account[16], char subject, uint32_t campus)
{
    eng_op_t op;
    return reg(account, subject, campus, &op);
}

static cet_err_t bind_roster(const uint8_t account[16], int n)
{
    eng_op_t op;
    op_new(&op, ENG_OP_BIND, account);
    op.in.id_type = STORE_ID_PASSPORT;
    snprintf(op.in.id_number, sizeof op.in.id_number, "E%08d", n);
    snprintf(op.in.name, sizeof op.in.name, "Person %d", n);
    return run(&op);
}

static cet_err_t capacity(char subject, uint32_t campus, uint32_t cap)
{
    eng_op_t op;
    op_new(&op, ENG_OP_STAFF_CAPACITY, NULL);
    cet_strlcpy(op.staff, "prov11", sizeof op.staff);
    op.in.scope_province = 11; /* the support desk (no scope) may not: account matters only */
    op.in.subject = subject;
    op.in.campus = campus;
    op.in.capacity = cap;
    return run(&op);
}

static cet_err_t cancel(const uint8_t account[16], char subject, eng_op_t *op)
{
    op_new(op, ENG_OP_REG_CANCEL, account);
    op->in.subject = subject;
    return run(op);
}

static cet_err_t order(const uint8_t account[16], const char *subjects, eng_op_t *op)
{
    op_new(op, ENG_OP_PAY_CREATE, account);
    cet_strlcpy(op->in.subjects, subjects, sizeof op->in.subjects);
    cet_strlcpy(op->in.channel, "alipay", sizeof op->in.channel);
    return run(op);
}

static cet_err_t notice(uint64_t order_id, uint32_t amount, const char *gtxn, eng_op_t *op)
{
    op_new(op, ENG_OP_PAY_NOTICE, NULL);
    op->in.order_id = order_id;
    op->in.amount = amount;
    cet_strlcpy(op->in.gateway_txn, gtxn, sizeof op->in.gateway_txn);
    op->in.paid_at = cet_now_s();
    return run(op);
}

static uint32_t left(uint32_t campus, char subject)
{
    eng_seats_t *s = eng_seats(eng);
    return eng_seats_left(s, eng_seats_slot(s, campus, subject));
}

static uint32_t live(uint32_t campus, char subject)
{
    store_txn_t *txn;
    uint32_t n = 0;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(eng_seats_live_get(txn, st, campus, subject, &n), 0);
    store_abort(txn);
    return n;
}

static store_reg_t reg_of(uint32_t roster_no, char subject)
{
    store_txn_t *txn;
    store_reg_t r;
    memset(&r, 0, sizeof r);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    store_reg_get(txn, st, roster_no, subject, &r);
    store_abort(txn);
    return r;
}

static uint32_t roster_no_of(const uint8_t account[16])
{
    store_txn_t *txn;
    store_account_t a;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_account_get(txn, st, account, &a), 0);
    store_abort(txn);
    return a.roster_no;
}

static uint8_t order_state(uint64_t id)
{
    store_txn_t *txn;
    store_order_t o;
    memset(&o, 0, sizeof o);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_order_get(txn, st, id, &o), 0);
    store_abort(txn);
    return o.state;
}

/* Waits until the writer's tick expired order id (the tick runs every CET_EXPIRE_TICK_MS). */
static void wait_order_expired(uint64_t id)
{
    for (int i = 0; i < 100 && order_state(id) != STORE_ORDER_EXPIRED; i++) {
        store_writer_kick(eng_writer(eng));
        usleep(50000);
    }
    CHECK_EQ(order_state(id), STORE_ORDER_EXPIRED);
}

/* ---- the rules ---- */
static uint8_t p1[16], p2[16], p3[16], p4[16], p5[16], p6[16], p7[16], p8[16];

static void test_registration_rules(void)
{
    CHECK_EQ(reg1(p1, '1', CAMPUS_A), CET_E_NOT_BOUND);
    CHECK_EQ(bind_roster(p1, 1), CET_E_OK);
    CHECK_EQ(bind_roster(p1, 1), CET_E_ALREADY_BOUND);
    CHECK_EQ(bind_roster(p2, 1), CET_E_CANDIDATE_TAKEN);
    CHECK_EQ(bind_roster(p2, 2), CET_E_OK);
    CHECK_EQ(bind_roster(p3, 3), CET_E_OK);
    CHECK_EQ(bind_roster(p4, 4), CET_E_OK);
    CHECK_EQ(reg1(p1, 'F', CAMPUS_A), CET_E_ORAL_NEEDS_WRITTEN);
    CHECK_EQ(reg1(p1, '2', CAMPUS_A), CET_E_WINDOW_CLOSED); /* the offer's window */
    CHECK_EQ(reg1(p4, '3', CAMPUS_A), CET_E_NOT_QUALIFIED); /* p4 has only '1' */
    CHECK_EQ(reg1(p1, '1', CAMPUS_B), CET_E_OFFER_NOT_FOUND);
    eng_op_t op;
    CHECK_EQ(reg(p1, '1', CAMPUS_A, &op), CET_E_OK);
    CHECK_EQ(op.res.u.reg.fee, 3000);
    CHECK_EQ(op.res.u.reg.campus, CAMPUS_A);
    CHECK(op.res.u.reg.seq > 0);
    CHECK_EQ(reg1(p1, '1', CAMPUS_A), CET_E_ALREADY_REGISTERED);
    CHECK_EQ(reg1(p1, '3', CAMPUS_A), CET_E_ONE_PER_LEVEL);
    CHECK_EQ(reg1(p1, 'F', CAMPUS_A), CET_E_OK); /* with its written one */
    CHECK_EQ(reg1(p2, '1', CAMPUS_A), CET_E_OK);
    CHECK_EQ(left(CAMPUS_A, '1'), 0);
    CHECK_EQ(reg1(p3, '1', CAMPUS_A), CET_E_SEATS_FULL); /* capacity 2 */
    CHECK_EQ(live(CAMPUS_A, '1'), 2);
}

static void test_capacity_is_the_txn(void)
{
    /* below live: refused; equal to live: allowed; the counter follows after the commit */
    CHECK_EQ(capacity('1', CAMPUS_A, 1), CET_E_CAPACITY_BELOW_LIVE);
    CHECK_EQ(capacity('1', CAMPUS_A, 0), CET_E_CAPACITY_BELOW_LIVE);
    CHECK_EQ(capacity('1', CAMPUS_A, 2), CET_E_OK);
    CHECK_EQ(capacity('7', CAMPUS_A, 2), CET_E_OFFER_NOT_FOUND);
    CHECK_EQ(left(CAMPUS_A, '1'), 0);
    /* the support desk (no school, no province) does account matters only */
    eng_op_t op;
    op_new(&op, ENG_OP_STAFF_CAPACITY, NULL);
    cet_strlcpy(op.staff, "support", sizeof op.staff);
    op.in.subject = '1';
    op.in.campus = CAMPUS_A;
    op.in.capacity = 5;
    CHECK_EQ(run(&op), CET_E_FORBIDDEN);
    op_new(&op, ENG_OP_STAFF_CAPACITY, NULL);
    cet_strlcpy(op.staff, "prov99", sizeof op.staff);
    op.in.scope_province = 99; /* another province */
    op.in.subject = '1';
    op.in.campus = CAMPUS_A;
    op.in.capacity = 5;
    CHECK_EQ(run(&op), CET_E_FORBIDDEN);
    /* a counter that is wrong (one seat too many) cannot oversell: the txn refuses */
    eng_seats_t *s = eng_seats(eng);
    eng_seats_give(s, eng_seats_slot(s, CAMPUS_A, '1'));
    CHECK_EQ(left(CAMPUS_A, '1'), 1);
    CHECK_EQ(reg1(p3, '1', CAMPUS_A), CET_E_SEATS_FULL);
    CHECK_EQ(live(CAMPUS_A, '1'), 2);
    eng_seats_take(s, eng_seats_slot(s, CAMPUS_A, '1')); /* put the counter right again */
    CHECK_EQ(left(CAMPUS_A, '1'), 0);
    CHECK_EQ(capacity('1', CAMPUS_A, 3), CET_E_OK);
    CHECK_EQ(left(CAMPUS_A, '1'), 1);
    CHECK_EQ(reg1(p3, '1', CAMPUS_A), CET_E_OK);
    CHECK_EQ(live(CAMPUS_A, '1'), 3);
    CHECK_EQ(left(CAMPUS_A, '1'), 0);
}

static void test_cancel(void)
{
    eng_op_t op;
    uint32_t before = left(CAMPUS_A, 'F');
    CHECK_EQ(cancel(p4, '1', &op), CET_E_REGISTRATION_NOT_FOUND);
    CHECK_EQ(cancel(p1, '1', &op), CET_E_OK); /* the written subject takes its oral with it */
    CHECK(strcmp(op.res.u.cancel.subjects, "1F") == 0);
    CHECK_EQ(live(CAMPUS_A, '1'), 2);
    CHECK_EQ(left(CAMPUS_A, '1'), 1);
    CHECK_EQ(left(CAMPUS_A, 'F'), before + 1);
}

static void test_payment_and_late_notice(void)
{
    eng_op_t op, o1, n1;
    /* p2 holds '1'; add 'F' and pay both */
    CHECK_EQ(reg1(p2, 'F', CAMPUS_A), CET_E_OK);
    CHECK_EQ(order(p2, "1F", &o1), CET_E_OK);
    CHECK_EQ(o1.res.u.order.amount, 8000);
    CHECK_EQ(cancel(p2, 'F', &op), CET_E_PAYMENT_PENDING);
    CHECK_EQ(notice(o1.res.u.order.id, 7000, "G-1", &n1), CET_E_AMOUNT_MISMATCH);
    CHECK_EQ(notice(o1.res.u.order.id, 8000, "G-1", &n1), CET_E_OK);
    CHECK_EQ(n1.res.u.notice.outcome, STORE_ORDER_PAID);
    CHECK(!n1.res.u.notice.duplicate);
    CHECK_EQ(notice(o1.res.u.order.id, 8000, "G-1", &n1), CET_E_OK);
    CHECK(n1.res.u.notice.duplicate);
    uint32_t no2 = roster_no_of(p2);
    CHECK(reg_of(no2, '1').flags & STORE_REG_PAID);
    CHECK(reg_of(no2, 'F').flags & STORE_REG_PAID);
    CHECK_EQ(cancel(p2, '1', &op), CET_E_REGISTRATION_PAID);
    /* a paid registration is live: the capacity may not drop below it */
    CHECK_EQ(capacity('F', CAMPUS_A, 0), CET_E_CAPACITY_BELOW_LIVE);

    /* p5: an order for 1 and F at A times out, F is made again at B for 9000 fen */
    CHECK_EQ(bind_roster(p5, 5), CET_E_OK);
    CHECK_EQ(capacity('1', CAMPUS_A, 10), CET_E_OK);
    CHECK_EQ(reg1(p5, '1', CAMPUS_A), CET_E_OK);
    CHECK_EQ(reg1(p5, 'F', CAMPUS_A), CET_E_OK);
    eng_op_t o2, n2;
    CHECK_EQ(order(p5, "1F", &o2), CET_E_OK);
    CHECK_EQ(o2.res.u.order.amount, 8000);
    wait_order_expired(o2.res.u.order.id);
    CHECK_EQ(cancel(p5, 'F', &op), CET_E_OK);
    eng_op_t rb;
    CHECK_EQ(reg(p5, 'F', CAMPUS_B, &rb), CET_E_OK);
    CHECK_EQ(rb.res.u.reg.fee, 9000);
    CHECK_EQ(notice(o2.res.u.order.id, 8000, "G-2", &n2), CET_E_OK);
    CHECK_EQ(n2.res.u.notice.outcome, STORE_ORDER_REFUND);
    CHECK_EQ(order_state(o2.res.u.order.id), STORE_ORDER_REFUND);
    uint32_t no5 = roster_no_of(p5);
    CHECK(!(reg_of(no5, '1').flags & STORE_REG_PAID));
    CHECK(!(reg_of(no5, 'F').flags & STORE_REG_PAID));
    CHECK_EQ(reg_of(no5, 'F').campus, CAMPUS_B);
}

static void test_idempotent_replay(void)
{
    CHECK_EQ(bind_roster(p6, 6), CET_E_OK);
    eng_op_t a, b, c;
    uint8_t key[48], hash[16];
    memset(key, 0xab, sizeof key);
    memset(hash, 0xcd, sizeof hash);
    op_new(&a, ENG_OP_REG_CREATE, p6);
    a.in.subject = '3';
    a.in.campus = CAMPUS_A;
    a.idem = true;
    memcpy(a.idem_key, key, sizeof key);
    memcpy(a.idem_hash, hash, sizeof hash);
    CHECK_EQ(run(&a), CET_E_OK);
    CHECK(!a.replayed);
    uint32_t after = left(CAMPUS_A, '3');
    op_new(&b, ENG_OP_REG_CREATE, p6); /* the same request again, later */
    b.in = a.in;
    b.idem = true;
    memcpy(b.idem_key, key, sizeof key);
    memcpy(b.idem_hash, hash, sizeof hash);
    CHECK_EQ(run(&b), CET_E_OK);
    CHECK(b.replayed);
    CHECK(memcmp(&a.res, &b.res, sizeof a.res) == 0); /* the same result, byte for byte */
    CHECK_EQ(left(CAMPUS_A, '3'), after);             /* and no seat taken */
    /* the same key for another request */
    op_new(&c, ENG_OP_REG_CREATE, p6);
    c.in.subject = 'F';
    c.in.campus = CAMPUS_A;
    c.idem = true;
    memcpy(c.idem_key, key, sizeof key);
    memset(c.idem_hash, 0xee, sizeof c.idem_hash);
    CHECK_EQ(run(&c), CET_E_IDEMPOTENCY_CONFLICT);
    /* a refusal is kept too: replayed as the same refusal */
    eng_op_t d, e;
    memset(key, 0x11, sizeof key);
    op_new(&d, ENG_OP_REG_CANCEL, p6);
    d.in.subject = '9';
    d.idem = true;
    memcpy(d.idem_key, key, sizeof key);
    memcpy(d.idem_hash, hash, sizeof hash);
    CHECK_EQ(run(&d), CET_E_REGISTRATION_NOT_FOUND);
    op_new(&e, ENG_OP_REG_CANCEL, p6);
    e.in = d.in;
    e.idem = true;
    memcpy(e.idem_key, key, sizeof key);
    memcpy(e.idem_hash, hash, sizeof hash);
    CHECK_EQ(run(&e), CET_E_REGISTRATION_NOT_FOUND);
    CHECK(e.replayed);
}

static void test_order_ids_are_64_bit(void)
{
    /* the next order id is above 2^32: it must survive the order, its expiry entry and the tick */
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(store_meta_put_u64(txn, st, "order_id_last", (1ull << 33) + 5), 0);
    CHECK_EQ(store_commit(txn), 0);
    eng_op_t o, n;
    CHECK_EQ(order(p6, "3", &o), CET_E_OK);
    CHECK_EQ(o.res.u.order.id, (1ull << 33) + 6);
    CHECK_EQ(order_state(o.res.u.order.id), STORE_ORDER_PENDING);
    wait_order_expired(o.res.u.order.id);
    CHECK_EQ(notice(o.res.u.order.id, 3500, "G-64", &n), CET_E_OK); /* late, still all there */
    CHECK_EQ(n.res.u.notice.outcome, STORE_ORDER_PAID);
}

/* A restart rebuilds every live count from the registrations and the counters from them. */
/* ---- a login's hash upgrade: compare-and-set against the hash verified ---- */
static cet_err_t login(const uint8_t account[16], const char *staff, const char *seen,
                       const char *upgraded)
{
    eng_op_t op;
    op_new(&op, ENG_OP_SESSION_CREATE, account);
    if (staff) cet_strlcpy(op.staff, staff, sizeof op.staff);
    char token[CET_TOKEN_CHARS + 1];
    cet_token_new(token, op.in.token_key);
    if (upgraded) {
        cet_strlcpy(op.in.pwhash, upgraded, sizeof op.in.pwhash);
        cet_strlcpy(op.in.pwhash_seen, seen, sizeof op.in.pwhash_seen);
    }
    return run(&op);
}

static void stored_hashes(const uint8_t account[16], char acct[CET_PWHASH_BYTES],
                          char staff[CET_PWHASH_BYTES])
{
    store_txn_t *txn;
    store_account_t a;
    store_staff_t s;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_account_get(txn, st, account, &a), 0);
    CHECK_EQ(store_staff_get(txn, st, "upgrader", &s), 0);
    store_abort(txn);
    cet_strlcpy(acct, a.pwhash, CET_PWHASH_BYTES);
    cet_strlcpy(staff, s.pwhash, CET_PWHASH_BYTES);
}

static void test_login_upgrades_the_hash(void)
{
    uint8_t id[16];
    person(7, "1", id); /* its stored hash is "x" */
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    store_staff_t s = {.role = STORE_STAFF_SUPPORT};
    cet_strlcpy(s.user, "upgrader", sizeof s.user);
    cet_strlcpy(s.pwhash, "staff-old", sizeof s.pwhash);
    CHECK_EQ(store_staff_put(txn, st, &s), 0);
    CHECK_EQ(store_commit(txn), 0);
    char acct[CET_PWHASH_BYTES], staff[CET_PWHASH_BYTES];

    /* a plain login leaves the hash alone */
    CHECK_EQ(login(id, NULL, NULL, NULL), CET_E_OK);
    stored_hashes(id, acct, staff);
    CHECK(strcmp(acct, "x") == 0);
    /* verified against "x": the new hash replaces it, with the session */
    CHECK_EQ(login(id, NULL, "x", "x-new"), CET_E_OK);
    stored_hashes(id, acct, staff);
    CHECK(strcmp(acct, "x-new") == 0);
    /* verified against "x" again, but a change (or another login's upgrade) committed
     * in between: the stored hash stays, the login goes on */
    CHECK_EQ(login(id, NULL, "x", "x-newer"), CET_E_OK);
    stored_hashes(id, acct, staff);
    CHECK(strcmp(acct, "x-new") == 0);
    /* staff the same way */
    CHECK_EQ(login(NULL, "upgrader", "staff-stale", "staff-new"), CET_E_OK);
    stored_hashes(id, acct, staff);
    CHECK(strcmp(staff, "staff-old") == 0);
    CHECK_EQ(login(NULL, "upgrader", "staff-old", "staff-new"), CET_E_OK);
    stored_hashes(id, acct, staff);
    CHECK(strcmp(staff, "staff-new") == 0);
    /* a staff user that is gone: no record is made */
    CHECK_EQ(login(NULL, "nobody", "a", "b"), CET_E_OK);
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_staff_get(txn, st, "nobody", &s), STORE_NOTFOUND);
    store_abort(txn);
}

static void test_restart_rebuilds_the_ledger(const eng_options_t *opt)
{
    uint32_t want = live(CAMPUS_A, '1'), left_before = left(CAMPUS_A, '1');
    eng_close(eng);
    store_txn_t *txn;
    CHECK_EQ(store_write_begin(st, &txn), 0);
    CHECK_EQ(eng_seats_live_put(txn, st, CAMPUS_A, '1', 99), 0); /* skewed while down */
    CHECK_EQ(store_commit(txn), 0);
    CHECK_EQ(eng_open(st, opt, &eng), 0);
    CHECK_EQ(live(CAMPUS_A, '1'), want);
    CHECK_EQ(left(CAMPUS_A, '1'), left_before);
}

/*
 * The writer takes the account and candidate a core read for a registration's
 * rules only while no txn has written an account or a candidate since that
 * core's snapshot (store_people_unchanged). Here the core's snapshot still has
 * p7 bound to its roster record when support moves the record to p8: the registration
 * the core let through must be refused by the writer, which reads p7 again
 * (not bound), and its seat comes back. A second one on a fresh snapshot, for
 * p8, is taken from the core's copies and registers that record.
 */
static void test_writer_rereads_people_changed_since(void)
{
    CHECK_EQ(bind_roster(p7, 9), CET_E_OK);
    uint32_t no = roster_no_of(p7);
    CHECK(no != 0);
    uint32_t seats = left(CAMPUS_A, '3');
    store_txn_t *stale;
    CHECK_EQ(store_read_begin(st, &stale), 0); /* p7 bound here */
    eng_op_t op;
    op_new(&op, ENG_OP_STAFF_REBIND, NULL);
    cet_strlcpy(op.staff, "desk", sizeof op.staff);
    memcpy(op.in.target, p8, 16);
    op.in.id_type = STORE_ID_PASSPORT;
    cet_strlcpy(op.in.id_number, "E00000009", sizeof op.in.id_number);
    cet_strlcpy(op.in.name, "Person 9", sizeof op.in.name);
    CHECK_EQ(run(&op), CET_E_OK);
    CHECK_EQ(roster_no_of(p7), 0);
    CHECK_EQ(roster_no_of(p8), no);

    op_new(&op, ENG_OP_REG_CREATE, p7);
    op.in.subject = '3';
    op.in.campus = CAMPUS_A;
    done = 0;
    bool queued = eng_submit(&op, stale); /* the core's rules pass on the stale snapshot */
    store_abort(stale);
    CHECK(queued);
    if (queued) wait_done();
    CHECK(op.pre.valid);
    CHECK_EQ(op.res.err, CET_E_NOT_BOUND);
    CHECK_EQ(left(CAMPUS_A, '3'), seats);
    store_txn_t *txn;
    store_reg_t r;
    CHECK_EQ(store_read_begin(st, &txn), 0);
    CHECK_EQ(store_reg_get(txn, st, no, '3', &r), STORE_NOTFOUND);
    store_abort(txn);

    CHECK_EQ(reg(p8, '3', CAMPUS_A, &op), CET_E_OK);
    CHECK(op.pre.valid);
    CHECK_EQ(reg_of(no, '3').campus, CAMPUS_A);
    CHECK_EQ(left(CAMPUS_A, '3'), seats - 1);
}

int main(void)
{
    char *dir = cet_test_tmpdir();
    char keep[256];
    cet_strlcpy(keep, dir, sizeof keep);
    store_options_t sopt = {.dir = keep, .sync = false, .map_bytes = 16 << 20};
    CHECK_EQ(store_open(&sopt, &st), 0);
    t0 = cet_now_s();
    setup_data();
    person(1, "13F2", p1);
    person(2, "13F", p2);
    person(3, "13F", p3);
    person(4, "1", p4);
    person(5, "1F", p5);
    person(6, "13F", p6);
    person(9, "13F", p7);
    person(10, "13F", p8);
    {
        /* the support desk that rebinds in test_writer_rereads_people_changed_since */
        store_txn_t *txn;
        CHECK_EQ(store_write_begin(st, &txn), 0);
        store_staff_t desk;
        memset(&desk, 0, sizeof desk);
        cet_strlcpy(desk.user, "desk", sizeof desk.user);
        cet_strlcpy(desk.pwhash, "x", sizeof desk.pwhash);
        desk.role = STORE_STAFF_SUPPORT;
        CHECK_EQ(store_staff_put(txn, st, &desk), 0);
        CHECK_EQ(store_commit(txn), 0);
    }
    static const uint8_t secret[] = "unit-test-secret";
    eng_options_t opt = {.hold_ttl_s = 86400,
                         .order_ttl_s = 1,
                         .payment_secret = secret,
                         .payment_secret_len = sizeof secret - 1,
                         .pay_url_base = "http://x/pay"};
    CHECK_EQ(eng_open(st, &opt, &eng), 0);
    mb = store_mailbox_new(notify_cb, NULL);

    test_registration_rules();
    test_capacity_is_the_txn();
    test_cancel();
    test_payment_and_late_notice();
    test_idempotent_replay();
    test_order_ids_are_64_bit();
    test_login_upgrades_the_hash();
    test_writer_rereads_people_changed_since();
    test_restart_rebuilds_the_ledger(&opt);

    eng_close(eng);
    store_mailbox_free(mb);
    store_close(st);
    cet_test_rmdir(keep);
    return cet_test_done("test_eng_rules");
}
