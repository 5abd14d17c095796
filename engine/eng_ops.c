/*
 * eng_ops.c: every write of the registration, applied by the writer thread
 * inside its group-commit txn. Each apply re-checks all the rules of
 * docs/rules.md against the txn (the txn is the truth; what the core
 * checked before is only a fast path), writes nothing when it refuses, and
 * fills the op's domain result (eng_result_t) that the core renders and the
 * Idempotency-Key keeps.
 *
 * Every apply_* returns 0 (applied; op->res.u holds its kind's result), a
 * cet_err_t (refused, nothing written) or a storage code (the writer aborts
 * the batch); base/cet_err.h.
 */
#include <string.h>
#include <strings.h>

#include "base/cet_base.h"
#include "engine/eng_admin.h"
#include "engine/eng_internal.h"

/* Copies n subject codes (at most cap - 1) as a NUL-terminated string. */
static void codes_copy(char *out, size_t cap, const char *codes, size_t n)
{
    size_t k = 0;
    for (; k < n && k + 1 < cap && codes[k]; k++) out[k] = codes[k];
    out[k] = 0;
}

/* ---- shared lookups; each returns 0, a cet_err_t or a storage code (base/cet_err.h) ---- */
static int load_account(eng_op_t *op, store_txn_t *txn, store_account_t *a)
{
    return eng_lookup_rc(store_account_get(txn, op->eng->st, op->account, a), CET_E_UNAUTHORIZED);
}

static int load_candidate(eng_op_t *op, store_txn_t *txn, store_account_t *a,
                          store_candidate_t *c)
{
    int r = load_account(op, txn, a);
    if (r) return r;
    if (!a->roster_no) return CET_E_NOT_BOUND;
    r = eng_lookup_rc(store_candidate_get(txn, op->eng->st, a->roster_no, c), CET_E_NOT_BOUND);
    if (r) return r;
    if (memcmp(c->account, a->id, 16) != 0) return CET_E_NOT_BOUND;
    return 0;
}

static int window_open(const eng_t *e, store_txn_t *txn, int64_t now)
{
    store_sitting_t s;
    int r = eng_lookup_rc(store_sitting_get(txn, e->st, &s), CET_E_WINDOW_CLOSED);
    if (r) return r;
    return eng_phase(&s, now) == ENG_PHASE_OPEN ? 0 : CET_E_WINDOW_CLOSED;
}

/* The caller's bound candidate, while the registration window is open. */
static int load_candidate_in_window(eng_op_t *op, store_txn_t *txn, store_account_t *a,
                                    store_candidate_t *c)
{
    int r = load_candidate(op, txn, a, c);
    return r ? r : window_open(op->eng, txn, op->now);
}

static void add_subject(store_roster_t *r, char code)
{
    if (!eng_qualified(r, code) && r->n_subjects < CET_SUBJECTS_MAX)
        r->subjects[r->n_subjects++] = code;
}

typedef struct grant_walk {
    store_roster_t *r;
    char written;
} grant_walk_t;

static int grant_oral_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    grant_walk_t *g = arg;
    (void)key, (void)klen;
    if (vlen != sizeof(store_subject_t)) return 0;
    store_subject_t s;
    memcpy(&s, val, sizeof s);
    if (s.kind == STORE_ORAL && s.written == g->written) add_subject(g->r, s.code);
    return 0;
}

/*
 * An approved CET6 review (automatic, by staff, or carried over to a
 * re-binding) qualifies for English-6 as the roster would: the written subject
 * and every oral subject the subject table pairs with it ('S' for '2'), so the
 * oral can be taken once the written one is registered.
 */
static int grant_english6(eng_t *e, store_txn_t *txn, store_roster_t *r)
{
    add_subject(r, ENG_SUBJECT_ENGLISH6);
    grant_walk_t g = {r, ENG_SUBJECT_ENGLISH6};
    return store_scan(txn, e->st, STORE_DB_SUBJECT, NULL, 0, grant_oral_cb, &g);
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* After the last registration of a candidate went: due for deletion. */
static int candidate_maybe_empty(eng_t *e, store_txn_t *txn, uint32_t roster_no, int64_t now)
{
    store_reg_t regs[1];
    int n = store_reg_list(txn, e->st, roster_no, regs, 1);
    if (n < 0) return n;
    if (n > 0) return 0;
    store_candidate_t c;
    int rc = store_candidate_get(txn, e->st, roster_no, &c);
    if (rc) return rc == STORE_NOTFOUND ? 0 : rc;
    c.empty_due = max64(c.bound_at + e->opt.hold_ttl_s, now);
    return store_candidate_put(txn, e->st, roster_no, &c);
}

/* ---- accounts and sessions ---- */
static int apply_account_create(eng_op_t *op, store_txn_t *txn)
{
    store_account_t a;
    memset(&a, 0, sizeof a);
    int rc = store_account_by_email(txn, op->eng->st, op->in.email, &a);
    if (rc == 0) return CET_E_EMAIL_TAKEN;
    if (rc != STORE_NOTFOUND) return rc;
    memset(&a, 0, sizeof a);
    memcpy(a.id, op->in.target, 16);
    cet_strlcpy(a.email, op->in.email, sizeof a.email);
    cet_strlcpy(a.pwhash, op->in.pwhash, sizeof a.pwhash);
    a.created = op->now;
    rc = store_account_put(txn, op->eng->st, &a, false);
    if (rc == STORE_EXISTS) return CET_E_EMAIL_TAKEN;
    if (rc) return rc;
    memcpy(op->res.u.account.id, a.id, 16);
    cet_strlcpy(op->res.u.account.email, a.email, sizeof op->res.u.account.email);
    return 0;
}

void eng_session_init(store_session_t *s, uint8_t kind, const uint8_t account[16],
                      const char *staff, int64_t now)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->created = now;
    s->expires = now + CET_SESSION_TTL_S;
    if (account) memcpy(s->account, account, 16);
    if (staff) cet_strlcpy(s->staff, staff, sizeof s->staff);
}

/*
 * A login's hash upgrade: in.pwhash was made on the pool from the password
 * just verified against in.pwhash_seen (a hash with older costs). It replaces
 * the stored hash only while the record still holds that very hash, the
 * compare-and-set of ENG_OP_PASSWORD_CHANGE, so a password change or reset
 * that committed in between is never undone (the login itself goes on, as it
 * did before upgrades). Returns whether stored now holds the new hash.
 */
static bool pwhash_upgrade(const eng_op_t *op, char stored[CET_PWHASH_BYTES])
{
    if (!op->in.pwhash[0] || strcmp(stored, op->in.pwhash_seen) != 0) return false;
    cet_strlcpy(stored, op->in.pwhash, CET_PWHASH_BYTES);
    return true;
}

static int apply_session_create(eng_op_t *op, store_txn_t *txn)
{
    store_session_t s;
    int rc;
    if (op->staff[0]) {
        if (op->in.pwhash[0]) {
            store_staff_t staff;
            rc = store_staff_get(txn, op->eng->st, op->staff, &staff);
            if (rc && rc != STORE_NOTFOUND) return rc;
            if (rc == 0 && pwhash_upgrade(op, staff.pwhash) &&
                (rc = store_staff_put(txn, op->eng->st, &staff)))
                return rc;
        }
        eng_session_init(&s, STORE_SESSION_STAFF, NULL, op->staff, op->now);
    } else {
        store_account_t a;
        int r = load_account(op, txn, &a);
        if (cet_err_is_code(r)) return CET_E_INVALID_CREDENTIALS;
        if (r) return r;
        if (pwhash_upgrade(op, a.pwhash) && (rc = store_account_put(txn, op->eng->st, &a, true)))
            return rc;
        eng_session_init(&s, STORE_SESSION_CANDIDATE, op->account, NULL, op->now);
    }
    rc = store_session_put(txn, op->eng->st, op->in.token_key, &s);
    if (rc) return rc;
    op->res.u.session.expires = s.expires;
    return 0;
}

static int apply_session_delete(eng_op_t *op, store_txn_t *txn)
{
    int rc = store_session_del(txn, op->eng->st, op->in.token_key);
    if (rc && rc != STORE_NOTFOUND) return rc;
    return 0;
}

static int apply_agree(eng_op_t *op, store_txn_t *txn)
{
    store_account_t a;
    int r = load_account(op, txn, &a);
    if (r) return r;
    if (!a.agreed_at) {
        a.agreed_at = op->now;
        int rc = store_account_put(txn, op->eng->st, &a, true);
        if (rc) return rc;
    }
    op->res.u.agree.agreed_at = a.agreed_at;
    return 0;
}

static int apply_email_change(eng_op_t *op, store_txn_t *txn)
{
    store_account_t a, other;
    int r = load_account(op, txn, &a);
    if (r) return r;
    int rc = store_account_by_email(txn, op->eng->st, op->in.email, &other);
    if (rc == 0 && memcmp(other.id, a.id, 16) != 0) return CET_E_EMAIL_TAKEN;
    if (rc && rc != STORE_NOTFOUND) return rc;
    char old[CET_EMAIL_BYTES];
    cet_strlcpy(old, a.email, sizeof old);
    cet_strlcpy(a.email, op->in.email, sizeof a.email);
    rc = store_account_put(txn, op->eng->st, &a, true);
    if (rc == STORE_EXISTS) return CET_E_EMAIL_TAKEN;
    if (rc) return rc;
    /* the notice goes to the old address, in this same commit (eng_account.c) */
    if ((rc = eng_account_mail_email_changed(op->eng, txn, old, a.email, op->now))) return rc;
    memcpy(op->res.u.account.id, a.id, 16);
    cet_strlcpy(op->res.u.account.email, a.email, sizeof op->res.u.account.email);
    return 0;
}

/* ---- binding ---- */
void eng_candidate_init(store_candidate_t *c, const store_roster_t *ro, const uint8_t account[16],
                        int64_t now, int64_t hold_ttl_s)
{
    memset(c, 0, sizeof *c);
    memcpy(c->account, account, 16);
    c->bound_at = now;
    c->empty_due = now + hold_ttl_s;
    c->snapshot = *ro;
}

static int apply_bind(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_account_t a;
    int r = load_account(op, txn, &a);
    if (r) return r;
    if (!a.agreed_at) return CET_E_AGREEMENT_REQUIRED;
    if (a.roster_no) return CET_E_ALREADY_BOUND;
    if ((r = window_open(e, txn, op->now))) return r;
    store_roster_t ro;
    r = eng_lookup_rc(store_roster_get(txn, e->st, op->in.id_type, op->in.id_number, &ro),
             CET_E_ROSTER_NOT_FOUND);
    if (r) return r;
    if (strcmp(ro.name, op->in.name) != 0) return CET_E_ROSTER_NOT_FOUND;
    store_candidate_t c;
    int rc = store_candidate_get(txn, e->st, ro.roster_no, &c);
    if (rc == 0) return CET_E_CANDIDATE_TAKEN;
    if (rc != STORE_NOTFOUND) return rc;

    eng_candidate_init(&c, &ro, a.id, op->now, e->opt.hold_ttl_s);
    /* a CET6 review approved for this very record survives a re-binding */
    store_review_t rv;
    rc = store_review_get(txn, e->st, a.id, &rv);
    if (rc == 0 && rv.roster_no == ro.roster_no &&
        (rv.state == STORE_REVIEW_AUTO_APPROVED || rv.state == STORE_REVIEW_APPROVED)) {
        if ((rc = grant_english6(e, txn, &c.snapshot))) return rc;
    } else if (rc && rc != STORE_NOTFOUND) {
        return rc;
    }
    if ((rc = store_candidate_put(txn, e->st, ro.roster_no, &c))) return rc;
    a.roster_no = ro.roster_no;
    if ((rc = store_account_put(txn, e->st, &a, true))) return rc;
    op->res.u.bind.school = ro.school;
    op->res.u.bind.campus = ro.campus;
    op->res.u.bind.bound_at = c.bound_at;
    codes_copy(op->res.u.bind.subjects, sizeof op->res.u.bind.subjects, c.snapshot.subjects,
               c.snapshot.n_subjects);
    return 0;
}

/* ---- CET6 review ---- */
static int review_decide(eng_t *e, store_txn_t *txn, const store_candidate_t *c,
                         const char *ticket, uint8_t *state)
{
    store_score_t s;
    int rc = store_score_get(txn, e->st, ticket, &s);
    if (rc == STORE_NOTFOUND) return CET_E_REVIEW_REFUSED;
    if (rc) return rc;
    if (s.level != 4 || s.score < CET_CET4_PASS_SCORE || s.year < 2005) return CET_E_REVIEW_REFUSED;
    if (strcasecmp(s.id_number, c->snapshot.id_number) == 0) {
        *state = STORE_REVIEW_AUTO_APPROVED;
        return 0;
    }
    if (strcmp(s.name, c->snapshot.name) == 0) {
        *state = STORE_REVIEW_PENDING;
        return 0;
    }
    return CET_E_REVIEW_REFUSED;
}

static int apply_review_submit(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_account_t a;
    store_candidate_t c;
    int r = load_candidate(op, txn, &a, &c);
    if (r) return r;
    store_review_t rv;
    int rc = store_review_get(txn, e->st, a.id, &rv);
    if (rc && rc != STORE_NOTFOUND) return rc;
    bool exists = rc == 0;
    if (op->kind == ENG_OP_REVIEW_SUBMIT && exists) return CET_E_REVIEW_EXISTS;
    if (op->kind == ENG_OP_REVIEW_EDIT) {
        if (!exists) return CET_E_REVIEW_NOT_FOUND;
        if (rv.state != STORE_REVIEW_REJECTED) return CET_E_REVIEW_NOT_EDITABLE;
    }
    if (!eng_review_offered(txn, e->st, &c.snapshot)) return CET_E_REVIEW_NOT_OFFERED;
    uint8_t state = 0;
    r = review_decide(e, txn, &c, op->in.ticket, &state);
    if (r) return r;

    memset(&rv, 0, sizeof rv);
    memcpy(rv.account, a.id, 16);
    rv.roster_no = a.roster_no;
    rv.state = state;
    rv.id_type = c.snapshot.id_type;
    cet_strlcpy(rv.ticket, op->in.ticket, sizeof rv.ticket);
    cet_strlcpy(rv.id_number, c.snapshot.id_number, sizeof rv.id_number);
    cet_strlcpy(rv.name, c.snapshot.name, sizeof rv.name);
    rv.created = op->now;
    if (state == STORE_REVIEW_AUTO_APPROVED) {
        rv.decided = op->now;
        if ((rc = grant_english6(e, txn, &c.snapshot))) return rc;
        if ((rc = store_candidate_put(txn, e->st, a.roster_no, &c))) return rc;
    }
    if ((rc = store_review_put(txn, e->st, &rv))) return rc;
    op->res.u.review.state = state;
    codes_copy(op->res.u.review.subjects, sizeof op->res.u.review.subjects, c.snapshot.subjects,
               c.snapshot.n_subjects);
    return 0;
}

static int apply_review_delete(eng_op_t *op, store_txn_t *txn)
{
    store_account_t a;
    int r = load_account(op, txn, &a);
    if (r) return r;
    store_review_t rv;
    r = eng_lookup_rc(store_review_get(txn, op->eng->st, a.id, &rv), CET_E_REVIEW_NOT_FOUND);
    if (r) return r;
    if (rv.state != STORE_REVIEW_REJECTED) return CET_E_REVIEW_NOT_EDITABLE;
    int rc = store_review_del(txn, op->eng->st, a.id);
    if (rc) return rc;
    op->res.u.review.state = 0; /* deleted */
    return 0;
}

/* ---- registrations ---- */
int eng_offer_eligible(eng_t *e, store_txn_t *txn, const store_candidate_t *c,
                       const store_subject_t *subj, const store_offer_t *o, int64_t now)
{
    const store_t *st = e->st;
    if (!eng_qualified(&c->snapshot, subj->code)) return CET_E_NOT_QUALIFIED;
    if (now < o->window_opens || now >= o->window_closes) return CET_E_WINDOW_CLOSED;
    if (subj->kind == STORE_WRITTEN)
        return o->campus == c->snapshot.campus ? 0 : CET_E_CAMPUS_NOT_ALLOWED;
    if (!o->exam_date || o->fee == 0) return CET_E_OFFER_NOT_FOUND;
    if (o->campus == c->snapshot.campus) return 0;
    /* an oral elsewhere: where the school allows it, inside its province */
    store_school_t own, other;
    store_campus_t cp;
    int r = eng_lookup_rc(store_school_get(txn, st, c->snapshot.school, &own), CET_E_CAMPUS_NOT_ALLOWED);
    if (r) return r;
    if (!(own.flags & STORE_SCHOOL_ORAL_ELSEWHERE)) return CET_E_CAMPUS_NOT_ALLOWED;
    if ((r = eng_lookup_rc(store_campus_get(txn, st, o->campus, &cp), CET_E_OFFER_NOT_FOUND))) return r;
    if ((r = eng_lookup_rc(store_school_get(txn, st, cp.school, &other), CET_E_OFFER_NOT_FOUND))) return r;
    return other.province == own.province ? 0 : CET_E_CAMPUS_NOT_ALLOWED;
}

/*
 * Every rule of a new registration, without writing. The core runs it on a
 * read txn before taking a seat; the writer runs it again in its txn.
 */
int eng_check_registration(eng_t *e, store_txn_t *txn, const uint8_t account[16], char subject,
                           uint32_t campus, int64_t now, store_candidate_t *c_out,
                           store_offer_t *o_out)
{
    store_account_t a;
    int r = eng_lookup_rc(store_account_get(txn, e->st, account, &a), CET_E_UNAUTHORIZED);
    if (r) return r;
    return eng_check_registration_of(e, txn, &a, subject, campus, now, c_out, o_out);
}

int eng_check_registration_of(eng_t *e, store_txn_t *txn, const store_account_t *acct,
                              char subject, uint32_t campus, int64_t now,
                              store_candidate_t *c_out, store_offer_t *o_out)
{
    int r;
    if (!acct->roster_no) return CET_E_NOT_BOUND;
    store_candidate_t *c = c_out;
    if ((r = eng_lookup_rc(store_candidate_get(txn, e->st, acct->roster_no, c), CET_E_NOT_BOUND)))
        return r;
    return eng_check_registration_with(e, txn, acct, c, subject, campus, now, o_out);
}

int eng_check_registration_with(eng_t *e, store_txn_t *txn, const store_account_t *acct,
                                const store_candidate_t *c, char subject, uint32_t campus,
                                int64_t now, store_offer_t *o_out)
{
    const store_t *st = e->st;
    const store_account_t a = *acct;
    int r;
    if (!a.roster_no) return CET_E_NOT_BOUND;
    if ((r = window_open(e, txn, now))) return r;
    store_subject_t subj;
    if ((r = eng_lookup_rc(store_subject_get(txn, st, subject, &subj), CET_E_OFFER_NOT_FOUND))) return r;
    if (!eng_qualified(&c->snapshot, subject)) return CET_E_NOT_QUALIFIED;
    store_offer_t *o = o_out;
    if ((r = eng_lookup_rc(store_offer_get(txn, st, campus, subject, o), CET_E_OFFER_NOT_FOUND))) return r;
    if ((r = eng_offer_eligible(e, txn, c, &subj, o, now))) return r;
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(txn, st, a.roster_no, regs, CET_CANDIDATE_REGS_MAX);
    if (n < 0) return n > 0 ? -n : n;
    bool has_written = false;
    for (int i = 0; i < n; i++) {
        if (regs[i].subject == subject) return CET_E_ALREADY_REGISTERED;
        if (subj.kind == STORE_ORAL && regs[i].subject == subj.written) has_written = true;
        if (subj.kind == STORE_WRITTEN) {
            store_subject_t other;
            if ((r = eng_lookup_rc(store_subject_get(txn, st, regs[i].subject, &other), CET_E_INTERNAL)))
                return r;
            if (other.kind == STORE_WRITTEN && other.level == subj.level) return CET_E_ONE_PER_LEVEL;
        }
    }
    if (subj.kind == STORE_ORAL && !has_written) return CET_E_ORAL_NEEDS_WRITTEN;
    /* the per-candidate index holds CET_CANDIDATE_REGS_MAX; the rules allow far fewer
     * (one written per level, orals with them) unless many oral codes exist */
    if (n >= CET_CANDIDATE_REGS_MAX) return CET_E_TOO_MANY_REGISTRATIONS;
    return 0;
}

/* The seat ledger's side of a registration kept or removed, in the writer's txn. */
static int reg_insert(eng_t *e, store_txn_t *txn, store_reg_t *reg, const store_offer_t *o)
{
    uint32_t live;
    int rc = eng_seats_live_get(txn, e->st, reg->campus, reg->subject, &live);
    if (rc) return rc;
    CET_ASSERT_INFO(live <= o->capacity, "registration at %06u/%c: %u live, capacity %u",
                    reg->campus, reg->subject, live, o->capacity);
    if (live >= o->capacity) return CET_E_SEATS_FULL; /* the txn is the truth */
    if ((rc = store_reg_put(txn, e->st, reg, 0))) return rc;
    return eng_seats_live_put(txn, e->st, reg->campus, reg->subject, live + 1);
}

int eng_reg_remove(eng_t *e, store_txn_t *txn, const store_reg_t *reg)
{
    uint32_t live;
    int rc = eng_seats_live_get(txn, e->st, reg->campus, reg->subject, &live);
    if (rc) return rc;
    CET_ASSERT_INFO(live > 0, "removing roster_no %u/%c at %06u: the offer counts no live one",
                    reg->roster_no, reg->subject, reg->campus);
    if ((rc = store_reg_del(txn, e->st, reg))) return rc;
    if ((rc = eng_seats_live_put(txn, e->st, reg->campus, reg->subject, live - 1))) return rc;
    int slot = eng_seats_slot(e->seats, reg->campus, reg->subject);
    if (slot >= 0) eng_seats_defer_give(e->seats, slot);
    return 0;
}

static int apply_reg_create(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_candidate_t c;
    store_offer_t o;
    int r;
    if (op->pre.valid && store_people_unchanged(txn, e->st, op->pre.snapshot)) {
        /* nothing wrote an account or a candidate since the core read them: its
         * copies are what this txn would read, without two random B-tree reads;
         * every other rule is checked again on this txn */
        c = op->pre.candidate;
        r = eng_check_registration_with(e, txn, &op->pre.account, &c, op->in.subject,
                                        op->in.campus, op->now, &o);
    } else {
        r = eng_check_registration(e, txn, op->account, op->in.subject, op->in.campus, op->now,
                                   &c, &o);
    }
    if (r) return r;
    if (op->seat_slot < 0) return CET_E_SEATS_FULL;
    store_reg_t reg;
    memset(&reg, 0, sizeof reg);
    reg.roster_no = c.snapshot.roster_no;
    reg.campus = op->in.campus;
    reg.subject = op->in.subject;
    reg.method = STORE_BY_CANDIDATE;
    reg.fee = o.fee;
    reg.created = op->now;
    reg.hold_due = op->now + e->opt.hold_ttl_s;
    reg.expires = reg.hold_due;
    /* The candidate's deletion entry (empty_due) is left as it is: the expiry
     * handler finds the registration then and keeps the candidate. Not
     * rewriting the record saves a random page write per registration. */
    r = reg_insert(e, txn, &reg, &o);
    if (r) return r;
    op->seat_keep = true;
    op->res.u.reg.seq = reg.seq;
    op->res.u.reg.subject = reg.subject;
    op->res.u.reg.campus = reg.campus;
    op->res.u.reg.fee = reg.fee;
    op->res.u.reg.expires = reg.expires;
    return 0;
}

static int apply_reg_cancel(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_account_t a;
    store_candidate_t c;
    int r = load_candidate_in_window(op, txn, &a, &c);
    if (r) return r;
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(txn, e->st, a.roster_no, regs, CET_CANDIDATE_REGS_MAX);
    if (n < 0) return n;
    int target = -1;
    for (int i = 0; i < n; i++)
        if (regs[i].subject == op->in.subject) target = i;
    if (target < 0) return CET_E_REGISTRATION_NOT_FOUND;
    store_reg_t *t = &regs[target];
    if (t->flags & STORE_REG_PAID) return CET_E_REGISTRATION_PAID;
    if (t->flags & STORE_REG_LOCKED) return CET_E_REGISTRATION_LOCKED;
    if (t->order_id) return CET_E_PAYMENT_PENDING;
    /* a written subject takes its unpaid oral with it; a paid oral blocks it */
    int orals[CET_CANDIDATE_REGS_MAX], n_orals = 0;
    for (int i = 0; i < n; i++) {
        if (i == target) continue;
        store_subject_t s;
        int rc = store_subject_get(txn, e->st, regs[i].subject, &s);
        if (rc) return rc == STORE_NOTFOUND ? CET_E_INTERNAL : rc;
        if (s.kind != STORE_ORAL || s.written != t->subject) continue;
        if (regs[i].flags & STORE_REG_PAID) return CET_E_ORAL_PAID;
        if (regs[i].flags & STORE_REG_LOCKED) return CET_E_REGISTRATION_LOCKED;
        if (regs[i].order_id) return CET_E_PAYMENT_PENDING;
        orals[n_orals++] = i;
    }
    char *gone = op->res.u.cancel.subjects;
    int rc = eng_reg_remove(e, txn, t);
    gone[0] = t->subject;
    for (int i = 0; rc == 0 && i < n_orals; i++) {
        rc = eng_reg_remove(e, txn, &regs[orals[i]]);
        gone[1 + i] = regs[orals[i]].subject;
    }
    if (rc == 0) rc = candidate_maybe_empty(e, txn, a.roster_no, op->now);
    return rc;
}

/* ---- payments ---- */
/*
 * An oral subject is paid with or after its written one (candidates and group
 * payments alike), so no paid oral is ever left behind when an unpaid written
 * hold expires. paying: the subject codes paid together. Returns 0,
 * CET_E_ORAL_NEEDS_WRITTEN or a storage code.
 */
static int paid_with_written(const eng_t *e, store_txn_t *txn, uint32_t roster_no, char subject,
                             const char *paying)
{
    store_subject_t s;
    int r = eng_lookup_rc(store_subject_get(txn, e->st, subject, &s), CET_E_INTERNAL);
    if (r) return r;
    if (s.kind != STORE_ORAL || strchr(paying, s.written)) return 0;
    store_reg_t w;
    r = eng_lookup_rc(store_reg_get(txn, e->st, roster_no, s.written, &w), CET_E_ORAL_NEEDS_WRITTEN);
    if (r) return r;
    return (w.flags & STORE_REG_PAID) ? 0 : CET_E_ORAL_NEEDS_WRITTEN;
}

static int apply_pay_create(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_account_t a;
    store_candidate_t c;
    int r = load_candidate_in_window(op, txn, &a, &c);
    if (r) return r;
    size_t n = strlen(op->in.subjects);
    if (n == 0) return CET_E_NOTHING_TO_PAY;
    store_reg_t regs[CET_ORDER_SUBJECTS_MAX];
    uint32_t amount = 0;
    for (size_t i = 0; i < n; i++) {
        r = eng_lookup_rc(store_reg_get(txn, e->st, a.roster_no, op->in.subjects[i], &regs[i]),
                 CET_E_REGISTRATION_NOT_FOUND);
        if (r) return r;
        if (regs[i].flags & STORE_REG_PAID) return CET_E_REGISTRATION_PAID;
        if (regs[i].flags & STORE_REG_LOCKED) return CET_E_REGISTRATION_LOCKED;
        if (regs[i].order_id) return CET_E_PAYMENT_PENDING;
        r = paid_with_written(e, txn, a.roster_no, regs[i].subject, op->in.subjects);
        if (r) return r;
        amount += regs[i].fee;
    }
    store_order_t o;
    memset(&o, 0, sizeof o);
    int rc = store_order_next_id(txn, e->st, &o.id);
    if (rc) return rc;
    o.roster_no = a.roster_no;
    o.amount = amount;
    memcpy(o.account, a.id, 16);
    o.state = STORE_ORDER_PENDING;
    o.n_subjects = (uint8_t)n;
    memcpy(o.subjects, op->in.subjects, n);
    for (size_t i = 0; i < n; i++) {
        CET_ASSERT_INFO(regs[i].seq != 0, "order for roster_no %u/%c: a registration without seq",
                        regs[i].roster_no, regs[i].subject);
        o.reg_seq[i] = regs[i].seq;
        o.reg_campus[i] = regs[i].campus;
        o.reg_fee[i] = regs[i].fee;
    }
    cet_strlcpy(o.channel, op->in.channel, sizeof o.channel);
    o.created = op->now;
    o.expires = op->now + e->opt.order_ttl_s;
    if ((rc = store_order_put(txn, e->st, &o, 0))) return rc;
    for (size_t i = 0; i < n; i++) {
        int64_t old = regs[i].expires;
        regs[i].order_id = o.id;
        regs[i].expires = 0; /* paused while the order is pending */
        if ((rc = store_reg_put(txn, e->st, &regs[i], old))) return rc;
    }
    op->res.u.order.id = o.id;
    op->res.u.order.amount = o.amount;
    op->res.u.order.expires = o.expires;
    cet_strlcpy(op->res.u.order.channel, o.channel, sizeof op->res.u.order.channel);
    codes_copy(op->res.u.order.subjects, sizeof op->res.u.order.subjects, o.subjects,
               o.n_subjects);
    return 0;
}

/*
 * Pays the registrations the order was made for, each at its fee: the very
 * records (by sequence; a subject cancelled and registered again, at another
 * campus or fee, is another record), still unpaid and in no other order.
 * CET_REFUSED when any of them is not (nothing is written then): a refund.
 */
static int pay_regs(eng_t *e, store_txn_t *txn, const store_order_t *o, bool check_only,
                    char *why, size_t why_cap)
{
    for (int i = 0; i < o->n_subjects; i++) {
        store_reg_t reg;
        int rc = store_reg_get(txn, e->st, o->roster_no, o->subjects[i], &reg);
        if (rc == STORE_NOTFOUND) {
            snprintf(why, why_cap, "subject %c at %06u for %u fen is gone", o->subjects[i],
                     o->reg_campus[i], o->reg_fee[i]);
            return CET_REFUSED;
        }
        if (rc) return rc;
        if (reg.seq != o->reg_seq[i]) { /* cancelled and made again since the order */
            snprintf(why, why_cap,
                     "subject %c: the order's registration (%06u, %u fen) is gone, the one now "
                     "held is another (%06u, %u fen)",
                     o->subjects[i], o->reg_campus[i], o->reg_fee[i], reg.campus, reg.fee);
            return CET_REFUSED;
        }
        CET_ASSERT_INFO(reg.campus == o->reg_campus[i] && reg.fee == o->reg_fee[i],
                        "order %llu: registration seq %llu at %06u for %u fen, the order says "
                        "%06u for %u fen",
                        (unsigned long long)o->id, (unsigned long long)reg.seq, reg.campus,
                        reg.fee, o->reg_campus[i], o->reg_fee[i]);
        if ((reg.flags & STORE_REG_PAID) || (reg.order_id && reg.order_id != o->id)) {
            snprintf(why, why_cap, "subject %c is %s", o->subjects[i],
                     (reg.flags & STORE_REG_PAID) ? "paid already" : "in another order");
            return CET_REFUSED;
        }
        if (check_only) continue;
        int64_t old = reg.expires;
        reg.flags |= STORE_REG_PAID;
        reg.flags &= (uint8_t)~STORE_REG_LOCKED;
        reg.order_id = o->id;
        reg.expires = 0;
        reg.hold_due = 0;
        if ((rc = store_reg_put(txn, e->st, &reg, old))) return rc;
    }
    return 0;
}

static int apply_pay_notice(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    /* notices are keyed order id ‖ gateway txn: a new one lands next to its
     * order, near the tail of the tree, not on a random page */
    uint8_t key[8 + sizeof op->in.gateway_txn];
    size_t gl = strlen(op->in.gateway_txn);
    store_be64(key, op->in.order_id);
    memcpy(key + 8, op->in.gateway_txn, gl);
    store_notice_t nt;
    size_t len = 0;
    int rc = store_get_raw(txn, e->st, STORE_DB_NOTICE, key, 8 + gl, &nt, sizeof nt, &len);
    if (rc == 0 && len == sizeof nt && nt.order_id == op->in.order_id) {
        /* the same notice again: same answer, nothing changes */
        op->res.u.notice.outcome = nt.outcome == STORE_ORDER_PAID ? STORE_ORDER_PAID
                                                                   : STORE_ORDER_REFUND;
        op->res.u.notice.duplicate = true;
        return 0;
    }
    if (rc && rc != STORE_NOTFOUND) return rc;
    store_order_t o;
    int r = eng_lookup_rc(store_order_get(txn, e->st, op->in.order_id, &o), CET_E_ORDER_NOT_FOUND);
    if (r) return r;
    char detail[CET_AUDIT_TEXT_BYTES_MAX];
    if (op->in.amount != o.amount) {
        snprintf(detail, sizeof detail, "order %llu notice amount %u, order amount %u, txn %s",
                 (unsigned long long)o.id, op->in.amount, o.amount, op->in.gateway_txn);
        CET_WARN("payment: amount mismatch: %s", detail);
        if ((rc = store_audit_append(txn, e->st, op->now, "payment", "amount_mismatch", detail)))
            return rc;
        return CET_E_AMOUNT_MISMATCH;
    }
    uint8_t outcome;
    char why[160] = "the order is no longer open";
    int64_t old_expires = o.state == STORE_ORDER_PENDING ? o.expires : 0;
    switch (o.state) {
    case STORE_ORDER_PENDING:
    case STORE_ORDER_EXPIRED:
        /* A late notice still pays when every registration of the order is
         * still there unpaid; otherwise the money goes back (refund). */
        rc = pay_regs(e, txn, &o, true, why, sizeof why);
        if (rc && rc != CET_REFUSED) return rc;
        if (rc == 0) {
            if ((rc = pay_regs(e, txn, &o, false, why, sizeof why))) return rc;
            outcome = STORE_ORDER_PAID;
        } else {
            outcome = STORE_ORDER_REFUND;
        }
        break;
    case STORE_ORDER_PAID:
        outcome = strcmp(o.gateway_txn, op->in.gateway_txn) == 0 ? STORE_ORDER_PAID
                                                                  : STORE_ORDER_REFUND;
        snprintf(why, sizeof why, "the order was paid already by txn %s", o.gateway_txn);
        break;
    default:
        outcome = STORE_ORDER_REFUND;
    }
    if (o.state != STORE_ORDER_PAID) {
        o.state = outcome;
        o.paid_at = op->in.paid_at ? op->in.paid_at : op->now;
        cet_strlcpy(o.gateway_txn, op->in.gateway_txn, sizeof o.gateway_txn);
        if ((rc = store_order_put(txn, e->st, &o, old_expires))) return rc;
    }
    if (outcome == STORE_ORDER_REFUND) {
        snprintf(detail, sizeof detail, "order %llu txn %s amount %u marked for refund: %s",
                 (unsigned long long)o.id, op->in.gateway_txn, op->in.amount, why);
        CET_WARN("payment: %s", detail);
        if ((rc = store_audit_append(txn, e->st, op->now, "payment", "refund", detail))) return rc;
    }
    memset(&nt, 0, sizeof nt);
    nt.order_id = o.id;
    nt.amount = op->in.amount;
    nt.outcome = outcome;
    nt.received = op->now;
    if ((rc = store_put_raw(txn, e->st, STORE_DB_NOTICE, key, 8 + gl, &nt, sizeof nt,
                            0)))
        return rc;
    op->res.u.notice.outcome = outcome == STORE_ORDER_PAID ? STORE_ORDER_PAID : STORE_ORDER_REFUND;
    op->res.u.notice.duplicate = false;
    return 0;
}

/* ---- staff ---- */
int eng_staff_scope_ok(eng_op_t *op, store_txn_t *txn, uint32_t school_code)
{
    if (op->in.scope_school) return school_code == op->in.scope_school ? 0 : CET_E_FORBIDDEN;
    if (!op->in.scope_province) return CET_E_FORBIDDEN; /* support desk: account matters only */
    store_school_t s;
    int r = eng_lookup_rc(store_school_get(txn, op->eng->st, school_code, &s), CET_E_FORBIDDEN);
    if (r) return r;
    return s.province == op->in.scope_province ? 0 : CET_E_FORBIDDEN;
}

static int apply_staff_review(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_review_t rv;
    int r = eng_lookup_rc(store_review_get(txn, e->st, op->in.target, &rv), CET_E_REVIEW_NOT_FOUND);
    if (r) return r;
    store_roster_t ro;
    r = eng_lookup_rc(store_roster_get_by_no(txn, e->st, rv.roster_no, &ro), CET_E_REVIEW_NOT_FOUND);
    if (r) return r;
    if ((r = eng_staff_scope_ok(op, txn, ro.school))) return r;
    if (rv.state != STORE_REVIEW_PENDING) return CET_E_REVIEW_NOT_EDITABLE;
    rv.state = op->in.flag ? STORE_REVIEW_APPROVED : STORE_REVIEW_REJECTED;
    rv.decided = op->now;
    int rc = store_review_put(txn, e->st, &rv);
    if (rc) return rc;
    store_candidate_t c;
    rc = store_candidate_get(txn, e->st, rv.roster_no, &c);
    if (rc == 0 && op->in.flag && memcmp(c.account, rv.account, 16) == 0) {
        if ((rc = grant_english6(e, txn, &c.snapshot))) return rc;
        if ((rc = store_candidate_put(txn, e->st, rv.roster_no, &c))) return rc;
    } else if (rc && rc != STORE_NOTFOUND) {
        return rc;
    }
    char detail[128], hex[33];
    cet_hex(hex, rv.account, 16);
    snprintf(detail, sizeof detail, "review of account %s: %s", hex, eng_review_state_name(rv.state));
    char target[24];
    snprintf(target, sizeof target, "school:%05u", ro.school);
    if ((rc = store_audit_log(txn, e->st, op->now, op->staff, "review_decide", target, detail)))
        return rc;
    op->res.u.review.state = rv.state;
    return 0;
}

/* Finds the candidate a staff call names by ID, checking the staff's scope. */
static int staff_candidate(eng_op_t *op, store_txn_t *txn, store_candidate_t *c, uint32_t *no)
{
    store_roster_t ro;
    int r = eng_lookup_rc(store_roster_get(txn, op->eng->st, op->in.id_type, op->in.id_number, &ro),
                 CET_E_ROSTER_NOT_FOUND);
    if (r) return r;
    if ((r = eng_staff_scope_ok(op, txn, ro.school))) return r;
    *no = ro.roster_no;
    return eng_lookup_rc(store_candidate_get(txn, op->eng->st, ro.roster_no, c), CET_E_NOT_BOUND);
}

static int apply_staff_lock(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_candidate_t c;
    uint32_t no;
    int r = staff_candidate(op, txn, &c, &no);
    if (r) return r;
    store_reg_t reg;
    r = eng_lookup_rc(store_reg_get(txn, e->st, no, op->in.subject, &reg), CET_E_REGISTRATION_NOT_FOUND);
    if (r) return r;
    if (reg.flags & STORE_REG_PAID) return CET_E_REGISTRATION_PAID;
    if (reg.order_id) return CET_E_PAYMENT_PENDING;
    int64_t old = reg.expires;
    if (op->in.flag) {
        reg.flags |= STORE_REG_LOCKED;
        reg.expires = 0; /* a locked registration does not expire */
    } else if (reg.flags & STORE_REG_LOCKED) {
        reg.flags &= (uint8_t)~STORE_REG_LOCKED;
        reg.hold_due = op->now + e->opt.hold_ttl_s; /* unlocked: a fresh 24 hours */
        reg.expires = reg.hold_due;
    }
    int rc = store_reg_put(txn, e->st, &reg, old);
    if (rc) return rc;
    char detail[128];
    snprintf(detail, sizeof detail, "%s subject %c of %s", op->in.flag ? "lock" : "unlock",
             reg.subject, op->in.id_number);
    char target[24];
    snprintf(target, sizeof target, "school:%05u", c.snapshot.school);
    if ((rc = store_audit_log(txn, e->st, op->now, op->staff, op->in.flag ? "lock" : "unlock",
                              target, detail)))
        return rc;
    op->res.u.lock.subject = reg.subject;
    op->res.u.lock.locked = op->in.flag;
    op->res.u.lock.expires = reg.expires;
    return 0;
}

static int apply_staff_group_pay(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_candidate_t c;
    uint32_t no;
    int r = staff_candidate(op, txn, &c, &no);
    if (r) return r;
    size_t n = strlen(op->in.subjects);
    store_reg_t regs[CET_ORDER_SUBJECTS_MAX];
    for (size_t i = 0; i < n; i++) {
        r = eng_lookup_rc(store_reg_get(txn, e->st, no, op->in.subjects[i], &regs[i]),
                 CET_E_REGISTRATION_NOT_FOUND);
        if (r) return r;
        if (regs[i].flags & STORE_REG_PAID) return CET_E_REGISTRATION_PAID;
        if (!(regs[i].flags & STORE_REG_LOCKED)) return CET_E_NOTHING_TO_PAY;
    }
    for (size_t i = 0; i < n; i++) {
        r = paid_with_written(e, txn, no, regs[i].subject, op->in.subjects);
        if (r) return r;
    }
    for (size_t i = 0; i < n; i++) {
        regs[i].flags = (uint8_t)((regs[i].flags | STORE_REG_PAID) & ~STORE_REG_LOCKED);
        regs[i].hold_due = 0;
        int rc = store_reg_put(txn, e->st, &regs[i], regs[i].expires);
        if (rc) return rc;
    }
    char detail[128];
    snprintf(detail, sizeof detail, "group payment of %s for %s", op->in.subjects,
             op->in.id_number);
    char target[24];
    snprintf(target, sizeof target, "school:%05u", c.snapshot.school);
    int rc = store_audit_log(txn, e->st, op->now, op->staff, "group_pay", target, detail);
    if (rc) return rc;
    codes_copy(op->res.u.group_pay.subjects, sizeof op->res.u.group_pay.subjects,
               op->in.subjects, n);
    return 0;
}

static int apply_staff_capacity(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_campus_t cp;
    int r = eng_lookup_rc(store_campus_get(txn, e->st, op->in.campus, &cp), CET_E_OFFER_NOT_FOUND);
    if (r) return r;
    if ((r = eng_staff_scope_ok(op, txn, cp.school))) return r;
    store_offer_t o;
    r = eng_lookup_rc(store_offer_get(txn, e->st, op->in.campus, op->in.subject, &o), CET_E_OFFER_NOT_FOUND);
    if (r) return r;
    uint32_t live;
    int rc = eng_seats_live_get(txn, e->st, o.campus, o.subject, &live);
    if (rc) return rc;
    if (op->in.capacity < live) return CET_E_CAPACITY_BELOW_LIVE;
    o.capacity = op->in.capacity;
    if ((rc = store_offer_put(txn, e->st, &o))) return rc;
    /* the counter follows after the commit, in commit order (eng_seats_commit) */
    int slot = eng_seats_slot(e->seats, o.campus, o.subject);
    if (slot >= 0) eng_seats_defer_capacity(e->seats, slot, o.capacity);
    char detail[128];
    snprintf(detail, sizeof detail, "capacity of %06u/%c set to %u", o.campus, o.subject,
             o.capacity);
    char target[24];
    snprintf(target, sizeof target, "school:%05u", cp.school);
    if ((rc = store_audit_log(txn, e->st, op->now, op->staff, "capacity", target, detail)))
        return rc;
    op->res.u.capacity.capacity = o.capacity;
    return 0;
}

/* ---- dispatch with idempotency ---- */
static bool op_is_staff(eng_op_kind_t k)
{
    return k == ENG_OP_STAFF_REVIEW_DECIDE || k == ENG_OP_STAFF_LOCK ||
           k == ENG_OP_STAFF_GROUP_PAY || k == ENG_OP_STAFF_CAPACITY || k == ENG_OP_TICKETS ||
           k == ENG_OP_STAFF_REBIND || k == ENG_OP_STAFF_LOOKUP || eng_admin_op_kind(k);
}

/*
 * What every apply_* may take for granted, because the submitter (net/)
 * validated it: checked before any of them runs, and an op that breaks it is
 * printed whole before the abort (a bug in the caller, never a client's doing).
 */
static void op_check_preconditions(const eng_op_t *op)
{
    static const uint8_t zero[16];
    eng_op_kind_t k = op->kind;
    bool by_account = k != ENG_OP_ACCOUNT_CREATE && k != ENG_OP_SESSION_DELETE &&
                      k != ENG_OP_PAY_NOTICE && k != ENG_OP_RESET_REQUEST &&
                      k != ENG_OP_RESET_CONFIRM && !op_is_staff(k) &&
                      !(k == ENG_OP_SESSION_CREATE && op->staff[0]);
    bool ok = true;
    if (by_account) ok = memcmp(op->account, zero, 16) != 0;
    if (op_is_staff(k)) ok = ok && op->staff[0] != 0;
    switch (k) {
    case ENG_OP_ACCOUNT_CREATE:
        ok = ok && op->in.email[0] && op->in.pwhash[0] && memcmp(op->in.target, zero, 16) != 0;
        break;
    case ENG_OP_BIND:
        ok = ok && op->in.id_type && op->in.id_number[0] && op->in.name[0];
        break;
    case ENG_OP_REG_CREATE:
        ok = ok && op->in.subject && op->in.campus >= 100000 && op->in.campus <= 999999;
        break;
    case ENG_OP_REG_CANCEL:
    case ENG_OP_STAFF_LOCK:
        ok = ok && op->in.subject;
        break;
    case ENG_OP_PAY_CREATE:
    case ENG_OP_STAFF_GROUP_PAY:
        ok = ok && op->in.subjects[0] && strlen(op->in.subjects) <= CET_ORDER_SUBJECTS_MAX;
        break;
    case ENG_OP_PAY_NOTICE:
        ok = ok && op->in.order_id && op->in.gateway_txn[0];
        break;
    case ENG_OP_STAFF_CAPACITY:
        ok = ok && op->in.subject && op->in.capacity <= CET_OFFER_CAPACITY_MAX;
        break;
    case ENG_OP_TICKETS:
        ok = ok && op->in.tickets && op->in.campus >= 100000 && op->in.campus <= 999999 &&
             (op->in.tickets->what == ENG_TICKETS_ROOMS ||
              (op->in.tickets->what == ENG_TICKETS_ARRANGE && op->in.subject)) &&
             op->in.tickets->n_rooms <= CET_ROOMS_BODY_MAX;
        break;
    case ENG_OP_RESET_REQUEST:
        ok = ok && op->in.email[0] && strlen(op->in.token_out) == 64;
        break;
    case ENG_OP_SESSION_CREATE: /* an upgraded hash names the one it replaces */
        ok = ok && (!op->in.pwhash[0] || op->in.pwhash_seen[0]);
        break;
    case ENG_OP_RESET_CONFIRM:
        ok = ok && op->in.pwhash[0];
        break;
    case ENG_OP_PASSWORD_CHANGE:
        ok = ok && op->in.pwhash[0] && op->in.pwhash_seen[0];
        break;
    case ENG_OP_STAFF_REBIND:
        ok = ok && op->in.id_type && op->in.id_number[0] && op->in.name[0];
        break;
    case ENG_OP_STAFF_LOOKUP:
        ok = ok && op->in.email[0];
        break;
    default:
        break;
    }
    char acct[33];
    cet_hex(acct, op->account, 16);
    CET_ASSERT_INFO(ok,
                    "apply precondition: op kind %d account %s staff '%s' subject '%c' campus %u "
                    "subjects '%s' order %llu capacity %u",
                    (int)k, acct, op->staff, op->in.subject ? op->in.subject : '-', op->in.campus,
                    op->in.subjects, (unsigned long long)op->in.order_id, op->in.capacity);
}

static int apply_kind(eng_op_t *op, store_txn_t *txn)
{
    op_check_preconditions(op);
    switch (op->kind) {
    case ENG_OP_ACCOUNT_CREATE:
        return apply_account_create(op, txn);
    case ENG_OP_SESSION_CREATE:
        return apply_session_create(op, txn);
    case ENG_OP_SESSION_DELETE:
        return apply_session_delete(op, txn);
    case ENG_OP_AGREE:
        return apply_agree(op, txn);
    case ENG_OP_BIND:
        return apply_bind(op, txn);
    case ENG_OP_REVIEW_SUBMIT:
    case ENG_OP_REVIEW_EDIT:
        return apply_review_submit(op, txn);
    case ENG_OP_REVIEW_DELETE:
        return apply_review_delete(op, txn);
    case ENG_OP_REG_CREATE:
        return apply_reg_create(op, txn);
    case ENG_OP_REG_CANCEL:
        return apply_reg_cancel(op, txn);
    case ENG_OP_PAY_CREATE:
        return apply_pay_create(op, txn);
    case ENG_OP_PAY_NOTICE:
        return apply_pay_notice(op, txn);
    case ENG_OP_EMAIL_CHANGE:
        return apply_email_change(op, txn);
    case ENG_OP_STAFF_REVIEW_DECIDE:
        return apply_staff_review(op, txn);
    case ENG_OP_STAFF_LOCK:
        return apply_staff_lock(op, txn);
    case ENG_OP_STAFF_GROUP_PAY:
        return apply_staff_group_pay(op, txn);
    case ENG_OP_STAFF_CAPACITY:
        return apply_staff_capacity(op, txn);
    case ENG_OP_TICKETS:
        return eng_tickets_apply(op, txn);
    case ENG_OP_RESET_REQUEST:
    case ENG_OP_RESET_CONFIRM:
    case ENG_OP_PASSWORD_CHANGE:
    case ENG_OP_STAFF_REBIND:
    case ENG_OP_STAFF_LOOKUP:
        return eng_account_apply(op, txn);
    case ENG_OP_ADMIN_OFFER:
    case ENG_OP_ADMIN_SETTINGS:
    case ENG_OP_ADMIN_ANNOUNCE_POST:
    case ENG_OP_ADMIN_ANNOUNCE_DELETE:
    case ENG_OP_ADMIN_ROSTER:
        return eng_admin_apply(op, txn);
    case ENG_OP__COUNT:
        break;
    }
    return CET_E_INTERNAL;
}

/*
 * The seat eng_submit took for this registration: kept when the registration
 * was written, else it comes back after the commit (the ledger, in commit order).
 */
static void op_settle_seat(eng_op_t *op)
{
    if (op->seat_slot >= 0 && !op->seat_keep) eng_seats_defer_give(op->eng->seats, op->seat_slot);
}

/* ---- idempotency: the first result of a key, kept in `idem` ---- */
/*
 * Looks op's key up in txn: *found and op->res (replayed) when it was
 * answered before; CET_E_IDEMPOTENCY_CONFLICT when the key was used for
 * another request; 0 when new; or a storage code.
 */
static int idem_lookup(eng_op_t *op, store_txn_t *txn, bool *found)
{
    uint8_t buf[sizeof(store_idem_t) + sizeof(eng_result_t)];
    size_t len = 0;
    *found = false;
    int rc = store_get_raw(txn, op->eng->st, STORE_DB_IDEM, op->idem_key, sizeof op->idem_key,
                           buf, sizeof buf, &len);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    store_idem_t h;
    if (len < sizeof h) return STORE_CORRUPT;
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.request_hash, op->idem_hash, 16) != 0) return CET_E_IDEMPOTENCY_CONFLICT;
    if (len != sizeof h + sizeof op->res || h.result_len != sizeof op->res ||
        h.kind != (uint32_t)op->kind)
        return STORE_CORRUPT;
    memcpy(&op->res, buf + sizeof h, sizeof op->res);
    op->replayed = true;
    *found = true;
    return 0;
}

/* Kept under the key: success and the rules' refusals; not what may go another way later. */
static bool result_is_final(cet_err_t err)
{
    return err != CET_E_INTERNAL && err != CET_E_STORAGE && err != CET_E_OVERLOADED &&
           err != CET_E_DRAINING;
}

static int idem_keep(eng_op_t *op, store_txn_t *txn)
{
    uint8_t buf[sizeof(store_idem_t) + sizeof(eng_result_t)];
    store_idem_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.request_hash, op->idem_hash, 16);
    h.created = op->now;
    h.kind = (uint32_t)op->kind;
    h.result_len = (uint32_t)sizeof op->res;
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, &op->res, sizeof op->res);
    return store_put_raw(txn, op->eng->st, STORE_DB_IDEM, op->idem_key, sizeof op->idem_key, buf,
                         sizeof buf, 0);
}

/* ---- the writer's entry: one op inside the batch's txn ---- */
static int op_apply_cb(store_txn_t *txn, store_t *st, store_req_t *req)
{
    eng_op_t *op = (eng_op_t *)req;
    (void)st;
    /* a batch redone after MDB_MAP_FULL applies every op again from scratch */
    op->seat_keep = false;
    op->replayed = false;
    memset(&op->res, 0, sizeof op->res);
    int r = 0;
    if (op->idem) {
        bool found;
        r = idem_lookup(op, txn, &found);
        if (cet_rc_class(r) == CET_FAILED) return r; /* storage: the writer aborts the batch */
        if (r || found) {
            if (r) op->res.err = (cet_err_t)r;
            op_settle_seat(op);
            return r;
        }
    }
    r = apply_kind(op, txn);
    if (cet_rc_class(r) == CET_FAILED) return r;
    CET_ASSERT_INFO(r == 0 || cet_err_is_code(r), "op kind %d answered %d (%s)", (int)op->kind, r,
                    cet_strerror(r));
    op->res.err = (cet_err_t)r;
    op_settle_seat(op);
    if (op->idem && result_is_final(op->res.err)) {
        int rc = idem_keep(op, txn);
        if (rc) return rc;
    }
    return r;
}

/* A seat taken for op that never reached a committed txn goes back now (core thread). */
static void op_seat_return(eng_op_t *op)
{
    if (op->seat_slot < 0) return;
    eng_seats_t *s = op->eng->seats;
    CET_ASSERT_INFO(eng_seats_taken(s, op->seat_slot) > 0,
                    "seat give back: op kind %d at %06u/%c, but the offer has no seat taken",
                    (int)op->kind, op->in.campus, op->in.subject);
    eng_seats_give(s, op->seat_slot);
    op->seat_slot = -1;
}

/*
 * On the submitter's core after the commit: a registration whose batch failed
 * never reached a committed txn, so its seat comes back here (a committed one
 * was settled by the writer); then the submitter's completion.
 */
static void op_done_cb(store_req_t *req)
{
    eng_op_t *op = (eng_op_t *)req;
    if (req->status == CET_E_STORAGE) {
        op_seat_return(op);
        op->res.err = store_req_err(req); /* storage_full when the disk is full */
        op->replayed = false;
    }
    op->done_cb(req);
}

void eng_op_init(eng_op_t *op, eng_t *e, eng_op_kind_t kind, store_mailbox_t *mb,
                 void (*done_cb)(store_req_t *req))
{
    memset(op, 0, sizeof *op);
    op->req.apply_cb = op_apply_cb;
    op->req.done_cb = op_done_cb;
    op->done_cb = done_cb;
    op->req.mailbox = mb;
    op->eng = e;
    op->kind = kind;
    op->seat_slot = -1;
    op->now = cet_now_s();
}

/* A new registration's fast path on the core: every rule on its read txn, then a seat. */
static int reg_fast_path(eng_op_t *op, store_txn_t *rtxn)
{
    store_offer_t o;
    store_account_t *a = &op->pre.account;
    int r;
    /* the account as the caller's auth read it on this same read txn, if it did */
    if (op->account_read)
        *a = *op->account_read;
    else if ((r = eng_lookup_rc(store_account_get(rtxn, op->eng->st, op->account, a),
                                CET_E_UNAUTHORIZED)))
        return r;
    r = eng_check_registration_of(op->eng, rtxn, a, op->in.subject, op->in.campus, op->now,
                                  &op->pre.candidate, &o);
    if (r) return r;
    int slot = eng_seats_slot(op->eng->seats, op->in.campus, op->in.subject);
    if (slot < 0 || !eng_seats_take(op->eng->seats, slot)) return CET_E_SEATS_FULL;
    op->seat_slot = slot;
    /* for the writer: the records and the snapshot they were read on */
    op->pre.snapshot = store_txn_snapshot(rtxn);
    op->pre.valid = op->pre.snapshot != 0;
    return 0;
}

/* A fast path's refusal, or a failure of the read txn it ran on, answers op now. */
static bool answer_now(eng_op_t *op, int r)
{
    if (!cet_err_is_code(r)) CET_ERROR("engine: op kind %d: %s", (int)op->kind, cet_strerror(r));
    op->res.err = cet_err_of(r);
    return true;
}

bool eng_op_early(eng_op_t *op, store_txn_t *rtxn)
{
    if (op->idem) {
        bool found;
        int r = idem_lookup(op, rtxn, &found);
        if (r) return answer_now(op, r);
        if (found) return true; /* answered before: that answer again */
    }
    if (op->kind == ENG_OP_ACCOUNT_CREATE) {
        store_account_t a;
        int rc = store_account_by_email(rtxn, op->eng->st, op->in.email, &a);
        if (rc == 0) return answer_now(op, CET_E_EMAIL_TAKEN);
        if (rc != STORE_NOTFOUND) return answer_now(op, rc);
    }
    return false;
}

bool eng_submit(eng_op_t *op, store_txn_t *rtxn)
{
    CET_ASSERT_INFO(op->kind > 0 && op->kind < ENG_OP__COUNT && op->seat_slot < 0,
                    "submit: op kind %d, seat slot %d", (int)op->kind, op->seat_slot);
    if (rtxn && eng_op_early(op, rtxn)) return false;
    int r = 0;
    if (op->kind == ENG_OP_REG_CREATE && rtxn) r = reg_fast_path(op, rtxn);
    if (!r) r = store_writer_submit(op->eng->writer, &op->req);
    if (!r) return true;
    op_seat_return(op);
    return !answer_now(op, r);
}

/* ---- expiry (writer thread, inside the tick) ---- */
int eng_expire_hold(eng_t *e, store_txn_t *txn, uint64_t seq, char subject, int64_t due,
                    int64_t now)
{
    store_reg_t reg;
    int rc = store_reg_get_seq(txn, e->st, seq, &reg);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    if (reg.subject != subject || reg.expires != due ||
        (reg.flags & (STORE_REG_PAID | STORE_REG_LOCKED)) || reg.order_id)
        return 0; /* stale index entry: the tick removes it */
    uint32_t roster_no = reg.roster_no;
    if ((rc = eng_reg_remove(e, txn, &reg))) return rc;
    e->tick_counts.holds_expired++;
    /* nobody may hold an oral subject without its written one */
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(txn, e->st, roster_no, regs, CET_CANDIDATE_REGS_MAX);
    if (n < 0) return n;
    for (int i = 0; i < n; i++) {
        store_subject_t s;
        rc = store_subject_get(txn, e->st, regs[i].subject, &s);
        if (rc == STORE_NOTFOUND) continue;
        if (rc) return rc;
        if (s.kind != STORE_ORAL || s.written != subject || (regs[i].flags & STORE_REG_PAID))
            continue;
        if ((rc = eng_reg_remove(e, txn, &regs[i]))) return rc;
        e->tick_counts.holds_expired++;
    }
    return candidate_maybe_empty(e, txn, roster_no, now);
}

int eng_expire_candidate(eng_t *e, store_txn_t *txn, uint32_t roster_no, int64_t due)
{
    store_candidate_t c;
    int rc = store_candidate_get(txn, e->st, roster_no, &c);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    if (c.empty_due != due) return 0;
    store_reg_t one[1];
    int n = store_reg_list(txn, e->st, roster_no, one, 1);
    if (n < 0) return n;
    if (n > 0) {
        c.empty_due = 0;
        return store_candidate_put(txn, e->st, roster_no, &c);
    }
    if ((rc = store_candidate_del(txn, e->st, roster_no))) return rc;
    store_account_t a;
    rc = store_account_get(txn, e->st, c.account, &a);
    if (rc == 0 && a.roster_no == roster_no) {
        a.roster_no = 0;
        rc = store_account_put(txn, e->st, &a, true);
    }
    if (rc && rc != STORE_NOTFOUND) return rc;
    e->tick_counts.candidates_deleted++;
    return 0;
}

int eng_expire_order(eng_t *e, store_txn_t *txn, uint64_t order_id, int64_t due, int64_t now)
{
    store_order_t o;
    int rc = store_order_get(txn, e->st, order_id, &o);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    if (o.state != STORE_ORDER_PENDING || o.expires != due) return 0;
    o.state = STORE_ORDER_EXPIRED;
    if ((rc = store_order_put(txn, e->st, &o, due))) return rc;
    for (int i = 0; i < o.n_subjects; i++) {
        store_reg_t reg;
        rc = store_reg_get(txn, e->st, o.roster_no, o.subjects[i], &reg);
        if (rc == STORE_NOTFOUND) continue;
        if (rc) return rc;
        if (reg.order_id != o.id || (reg.flags & STORE_REG_PAID)) continue;
        reg.order_id = 0;
        /* the hold resumes; one whose 24 hours passed meanwhile goes at once */
        reg.expires = (reg.flags & STORE_REG_LOCKED) ? 0 : max64(reg.hold_due, now);
        if ((rc = store_reg_put(txn, e->st, &reg, 0))) return rc;
    }
    e->tick_counts.orders_expired++;
    return 0;
}
