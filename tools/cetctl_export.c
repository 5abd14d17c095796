/*
 * cetctl_export.c: `cetctl export KIND` (CSV on stdout) and `cetctl stats`.
 *
 * Both open the store read-only and read inside one read txn, so they see one
 * consistent snapshot and can run beside a live cetd. Every export that has
 * an import twin writes exactly the columns that import reads, in the same
 * order (roster, campuses, sitting, scores), so export -> import round-trips.
 */
#include <string.h>

#include "base/cet_base.h"
#include "engine/eng.h"
#include "base/cet_id.h"
#include "tools/cetctl.h"

typedef struct exp {
    store_t *st;
    store_txn_t *txn;
    ctl_out_t out;
    ctl_progress_t prog;
    uint64_t rows;
    store_subject_t subjects[256];
} exp_t;

static void subjects_text(const char *codes, int n, char *out, size_t cap)
{
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < cap; i++) {
        if (i) out[k++] = ';';
        out[k++] = codes[i];
    }
    out[k] = 0;
}

/* ---- roster: in roster_no order, the columns of `import roster` ---- */
static const char *const roster_cols[] = {
    "id_type",    "id_number", "name",       "gender",     "school",   "campus",
    "education",  "program_years", "entry_year", "grade", "department", "major",
    "class_name", "student_no", "remarks",   "subjects",   "cet6_barred"};

static void roster_out(exp_t *x, const store_roster_t *r)
{
    char subj[2 * CET_SUBJECTS_MAX + 1];
    ctl_out_t *o = &x->out;
    ctl_out_str(o, cet_id_type_name(r->id_type));
    ctl_out_str(o, r->id_number);
    ctl_out_str(o, r->name);
    ctl_out_str(o, (r->flags & STORE_ROSTER_MALE) ? "M" : "F");
    ctl_out_u64(o, r->school);
    ctl_out_u64(o, r->campus);
    ctl_out_str(o, ctl_education_name(r->education));
    ctl_out_u64(o, r->program_years);
    ctl_out_u64(o, r->entry_year);
    ctl_out_u64(o, r->grade);
    ctl_out_str(o, r->department);
    ctl_out_str(o, r->major);
    ctl_out_str(o, r->class_name);
    ctl_out_str(o, r->student_no);
    ctl_out_str(o, r->remarks);
    subjects_text(r->subjects, r->n_subjects < CET_SUBJECTS_MAX ? r->n_subjects : CET_SUBJECTS_MAX,
                  subj, sizeof subj);
    ctl_out_str(o, subj);
    ctl_out_str(o, (r->flags & STORE_ROSTER_CET6_BARRED) ? "1" : "0");
    ctl_out_end(o);
}

static int roster_no_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    store_val_t v;
    int rc = store_get_ref(x->txn, x->st, STORE_DB_ROSTER, val, vlen, &v);
    if (rc || v.len != sizeof(store_roster_t)) {
        fprintf(stderr, "cetctl export: roster_no %u has no roster record (run cetctl check)\n",
                klen == 4 ? store_rd32(key) : 0);
        return 0;
    }
    store_roster_t r;
    memcpy(&r, v.data, sizeof r);
    roster_out(x, &r);
    ctl_progress_tick(&x->prog, ++x->rows);
    return 0;
}

static int export_roster(exp_t *x)
{
    ctl_out_header(&x->out, roster_cols, 17);
    return store_scan(x->txn, x->st, STORE_DB_ROSTER_NO, NULL, 0, roster_no_cb, x);
}

/* ---- registrations ---- */
static const char *const reg_cols[] = {
    "id_number", "name",       "roster_no", "subject", "campus",  "fee",  "state",
    "method",    "arranged",   "room",      "seat",    "order_id", "created_at", "expires_at"};

static int reg_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    if (vlen != sizeof(store_reg_t)) return 0;
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    store_candidate_t c;
    const char *idn = "", *name = "";
    if (store_candidate_get(x->txn, x->st, r.roster_no, &c) == 0) {
        idn = c.snapshot.id_number;
        name = c.snapshot.name;
    }
    char subj[2] = {r.subject, 0};
    ctl_out_t *o = &x->out;
    ctl_out_str(o, idn);
    ctl_out_str(o, name);
    ctl_out_u64(o, r.roster_no);
    ctl_out_str(o, subj);
    ctl_out_u64(o, r.campus);
    ctl_out_u64(o, r.fee);
    ctl_out_str(o, ctl_reg_state(r.flags));
    ctl_out_str(o, r.method == STORE_BY_SCHOOL ? "school" : "candidate");
    ctl_out_str(o, (r.flags & STORE_REG_ARRANGED) ? "1" : "0");
    if (r.flags & STORE_REG_ARRANGED) {
        ctl_out_u64(o, r.room);
        ctl_out_u64(o, r.seat);
    } else {
        ctl_out_str(o, "");
        ctl_out_str(o, "");
    }
    if (r.order_id)
        ctl_out_u64(o, r.order_id);
    else
        ctl_out_str(o, "");
    ctl_out_time(o, r.created);
    ctl_out_time(o, r.expires);
    ctl_out_end(o);
    ctl_progress_tick(&x->prog, ++x->rows);
    (void)key, (void)klen;
    return 0;
}

static int export_registrations(exp_t *x)
{
    ctl_out_header(&x->out, reg_cols, 14);
    return store_scan(x->txn, x->st, STORE_DB_REG, NULL, 0, reg_cb, x);
}

/* ---- candidates (bound accounts) ---- */
static const char *const cand_cols[] = {
    "roster_no", "account_id", "email",   "id_type",   "id_number", "name",     "school",
    "campus",    "subjects",   "bound_at", "empty_due", "registrations"};

static int cand_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    if (klen != 4 || vlen != sizeof(store_candidate_t)) return 0;
    store_candidate_t c;
    memcpy(&c, val, sizeof c);
    uint32_t no = store_rd32(key);
    store_account_t a;
    const char *email = "";
    if (store_account_get(x->txn, x->st, c.account, &a) == 0) email = a.email;
    char hex[33], subj[2 * CET_SUBJECTS_MAX + 1], regs[2 * CET_SUBJECTS_MAX + 1];
    ctl_account_hex(c.account, hex);
    const store_roster_t *r = &c.snapshot;
    subjects_text(r->subjects, r->n_subjects < CET_SUBJECTS_MAX ? r->n_subjects : CET_SUBJECTS_MAX,
                  subj, sizeof subj);
    store_reg_t list[CET_SUBJECTS_MAX];
    int n = store_reg_list(x->txn, x->st, no, list, CET_SUBJECTS_MAX);
    char codes[CET_SUBJECTS_MAX];
    for (int i = 0; i < n; i++) codes[i] = list[i].subject;
    subjects_text(codes, n < 0 ? 0 : n, regs, sizeof regs);
    ctl_out_t *o = &x->out;
    ctl_out_u64(o, no);
    ctl_out_str(o, hex);
    ctl_out_str(o, email);
    ctl_out_str(o, cet_id_type_name(r->id_type));
    ctl_out_str(o, r->id_number);
    ctl_out_str(o, r->name);
    ctl_out_u64(o, r->school);
    ctl_out_u64(o, r->campus);
    ctl_out_str(o, subj);
    ctl_out_time(o, c.bound_at);
    ctl_out_time(o, c.empty_due);
    ctl_out_str(o, regs);
    ctl_out_end(o);
    ctl_progress_tick(&x->prog, ++x->rows);
    return 0;
}

static int export_candidates(exp_t *x)
{
    ctl_out_header(&x->out, cand_cols, 12);
    return store_scan(x->txn, x->st, STORE_DB_CANDIDATE, NULL, 0, cand_cb, x);
}

/* ---- campuses: one row per offer, the columns of `import campuses` ---- */
static const char *const campus_cols[] = {
    "province_code", "province_name", "school_code", "school_name", "oral_elsewhere",
    "campus_code",   "campus_name",   "subject",     "capacity",    "fee",
    "window_opens",  "window_closes", "exam_date"};

static int offer_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    if (vlen != sizeof(store_offer_t)) return 0;
    store_offer_t of;
    memcpy(&of, val, sizeof of);
    store_campus_t c;
    store_school_t s;
    store_province_t p;
    if (store_campus_get(x->txn, x->st, of.campus, &c) || store_school_get(x->txn, x->st, c.school, &s) ||
        store_province_get(x->txn, x->st, s.province, &p)) {
        fprintf(stderr, "cetctl export: offer %u/%c: campus, school or province missing\n",
                of.campus, of.subject);
        return 0;
    }
    char subj[2] = {of.subject, 0}, code[8];
    ctl_out_t *o = &x->out;
    snprintf(code, sizeof code, "%02u", (unsigned)p.code);
    ctl_out_str(o, code);
    ctl_out_str(o, p.name);
    ctl_out_u64(o, s.code);
    ctl_out_str(o, s.name);
    ctl_out_str(o, (s.flags & STORE_SCHOOL_ORAL_ELSEWHERE) ? "1" : "0");
    ctl_out_u64(o, c.code);
    ctl_out_str(o, c.name);
    ctl_out_str(o, subj);
    ctl_out_u64(o, of.capacity);
    ctl_out_u64(o, of.fee);
    ctl_out_time(o, of.window_opens);
    ctl_out_time(o, of.window_closes);
    ctl_out_time(o, of.exam_date);
    ctl_out_end(o);
    x->rows++;
    (void)key, (void)klen;
    return 0;
}

static int export_campuses(exp_t *x)
{
    ctl_out_header(&x->out, campus_cols, 13);
    return store_scan(x->txn, x->st, STORE_DB_OFFER, NULL, 0, offer_cb, x);
}

static int export_sitting(exp_t *x)
{
    static const char *const cols[] = {"id",          "name",         "lookup_opens",
                                       "reg_opens",   "reg_closes",   "print_opens",
                                       "written_date", "oral_date_4", "oral_date_6"};
    store_sitting_t s;
    int rc = store_sitting_get(x->txn, x->st, &s);
    if (rc) return rc;
    ctl_out_header(&x->out, cols, 9);
    ctl_out_u64(&x->out, s.id);
    ctl_out_str(&x->out, s.name);
    ctl_out_time(&x->out, s.lookup_opens);
    ctl_out_time(&x->out, s.reg_opens);
    ctl_out_time(&x->out, s.reg_closes);
    ctl_out_time(&x->out, s.print_opens);
    ctl_out_time(&x->out, s.written_date);
    ctl_out_time(&x->out, s.oral_date_4);
    ctl_out_time(&x->out, s.oral_date_6);
    ctl_out_end(&x->out);
    x->rows = 1;
    return 0;
}

static int score_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    if (vlen != sizeof(store_score_t)) return 0;
    store_score_t s;
    memcpy(&s, val, sizeof s);
    ctl_out_str(&x->out, s.ticket);
    ctl_out_str(&x->out, s.id_number);
    ctl_out_str(&x->out, s.name);
    ctl_out_u64(&x->out, s.score);
    ctl_out_u64(&x->out, s.year);
    ctl_out_end(&x->out);
    ctl_progress_tick(&x->prog, ++x->rows);
    (void)key, (void)klen;
    return 0;
}

static int export_scores(exp_t *x)
{
    static const char *const cols[] = {"ticket", "id_number", "name", "score", "year"};
    ctl_out_header(&x->out, cols, 5);
    return store_scan(x->txn, x->st, STORE_DB_SCORE, NULL, 0, score_cb, x);
}

/* ---- orders and the audit log (operators: refunds, staff actions) ---- */
static int order_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    (void)key, (void)klen;
    if (vlen != sizeof(store_order_t)) return 0;
    store_order_t o;
    memcpy(&o, val, sizeof o);
    store_roster_t r;
    if (store_roster_get_by_no(x->txn, x->st, o.roster_no, &r) != 0) r.id_number[0] = 0;
    char subjects[CET_ORDER_SUBJECTS_MAX + 1];
    memcpy(subjects, o.subjects, o.n_subjects);
    subjects[o.n_subjects] = 0;
    ctl_out_u64(&x->out, o.id);
    ctl_out_str(&x->out, r.id_number);
    ctl_out_str(&x->out, subjects);
    ctl_out_u64(&x->out, o.amount);
    ctl_out_str(&x->out, o.channel);
    ctl_out_str(&x->out, eng_order_state_name(o.state));
    ctl_out_time(&x->out, o.created);
    ctl_out_time(&x->out, o.paid_at);
    ctl_out_str(&x->out, o.gateway_txn);
    ctl_out_end(&x->out);
    ctl_progress_tick(&x->prog, ++x->rows);
    return 0;
}

static int export_orders(exp_t *x)
{
    static const char *const cols[] = {"order_id", "id_number", "subjects", "amount", "channel",
                                       "state", "created_at", "paid_at", "gateway_txn"};
    ctl_out_header(&x->out, cols, 9);
    return store_scan(x->txn, x->st, STORE_DB_ORDER, NULL, 0, order_cb, x);
}

static int audit_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    if (klen != 8 || vlen < sizeof(store_audit_t)) return 0;
    store_audit_t h;
    memcpy(&h, val, sizeof h);
    char text[CET_AUDIT_TEXT_BYTES_MAX + 1];
    size_t n = vlen - sizeof h;
    if (n > h.text_len) n = h.text_len;
    if (n > CET_AUDIT_TEXT_BYTES_MAX) n = CET_AUDIT_TEXT_BYTES_MAX;
    memcpy(text, (const char *)val + sizeof h, n);
    text[n] = 0;
    ctl_out_u64(&x->out, store_rd64(key));
    ctl_out_time(&x->out, h.at);
    ctl_out_str(&x->out, h.actor);
    ctl_out_str(&x->out, h.action);
    ctl_out_str(&x->out, text);
    ctl_out_end(&x->out);
    ctl_progress_tick(&x->prog, ++x->rows);
    return 0;
}

static int export_audit(exp_t *x)
{
    static const char *const cols[] = {"seq", "at", "actor", "action", "detail"};
    ctl_out_header(&x->out, cols, 5);
    return store_scan(x->txn, x->st, STORE_DB_AUDIT, NULL, 0, audit_cb, x);
}

int ctl_cmd_export(int argc, char **argv)
{
    const char *data = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    static const struct {
        const char *kind;
        int (*fn)(exp_t *x);
    } kinds[] = {{"roster", export_roster},     {"registrations", export_registrations},
                 {"candidates", export_candidates}, {"campuses", export_campuses},
                 {"sitting", export_sitting},   {"scores", export_scores},
                 {"orders", export_orders},     {"audit", export_audit}};
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos != 1 ||
        !data) {
        fprintf(stderr, "usage: cetctl export roster|registrations|candidates|campuses|sitting|"
                        "scores|orders|audit --data DIR\n");
        return CTL_EXIT_USAGE;
    }
    int (*fn)(exp_t *) = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(pos[0], kinds[i].kind)) fn = kinds[i].fn;
    if (!fn) {
        fprintf(stderr, "cetctl export: unknown kind '%s'\n", pos[0]);
        return CTL_EXIT_USAGE;
    }
    exp_t x;
    memset(&x, 0, sizeof x);
    if (ctl_store_open(data, true, &x.st) != 0) return CTL_EXIT_USAGE;
    int rc = store_read_begin(x.st, &x.txn);
    if (rc) {
        fprintf(stderr, "cetctl export: %s\n", store_strerror(rc));
        store_close(x.st);
        return CTL_EXIT_USAGE;
    }
    ctl_out_init(&x.out, stdout);
    char what[64];
    snprintf(what, sizeof what, "export %s", pos[0]);
    ctl_progress_start(&x.prog, what);
    rc = fn(&x);
    store_abort(x.txn);
    store_close(x.st);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "cetctl export: write error on stdout\n");
        return CTL_EXIT_USAGE;
    }
    if (rc) {
        fprintf(stderr, "cetctl export %s: %s\n", pos[0], store_strerror(rc));
        return CTL_EXIT_USAGE;
    }
    if (x.prog.tty || x.rows >= 100000) ctl_progress_done(&x.prog, x.rows);
    return CTL_EXIT_OK;
}

/* ---- stats ---- */
typedef struct stats_offer {
    store_offer_t offer;
    uint32_t live, paid, locked, refund;
} stats_offer_t;

typedef struct stats {
    store_t *st;
    store_txn_t *txn;
    stats_offer_t *offers;
    size_t n_offers, cap_offers;
    uint64_t by_state[4];  /* unpaid, paid, locked, refund */
    uint64_t by_subject[256];
    uint64_t orphans;      /* registrations of an offer that does not exist */
} stats_t;

static int stats_offer_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    stats_t *s = arg;
    if (vlen != sizeof(store_offer_t)) return 0;
    if (s->n_offers == s->cap_offers) {
        s->cap_offers = s->cap_offers ? 2 * s->cap_offers : 256;
        s->offers = cet_realloc(s->offers, s->cap_offers * sizeof *s->offers);
    }
    stats_offer_t *o = &s->offers[s->n_offers++];
    memset(o, 0, sizeof *o);
    memcpy(&o->offer, val, sizeof o->offer);
    (void)key, (void)klen;
    return 0;
}

static stats_offer_t *stats_find(stats_t *s, uint32_t campus, char subject)
{
    size_t lo = 0, hi = s->n_offers; /* offers are in key order: campus, then subject */
    uint64_t k = (uint64_t)campus << 8 | (uint8_t)subject;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint64_t m = (uint64_t)s->offers[mid].offer.campus << 8 | (uint8_t)s->offers[mid].offer.subject;
        if (m == k) return &s->offers[mid];
        if (m < k) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int stats_reg_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    stats_t *s = arg;
    if (vlen != sizeof(store_reg_t)) return 0;
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    const char *state = ctl_reg_state(r.flags);
    int si = !strcmp(state, "unpaid") ? 0 : !strcmp(state, "paid") ? 1 : !strcmp(state, "locked") ? 2 : 3;
    s->by_state[si]++;
    s->by_subject[(uint8_t)r.subject]++;
    stats_offer_t *o = stats_find(s, r.campus, r.subject);
    if (!o) {
        s->orphans++;
        return 0;
    }
    o->live++;
    if (r.flags & STORE_REG_PAID) o->paid++;
    if (r.flags & STORE_REG_LOCKED) o->locked++;
    if (r.flags & STORE_REG_REFUND) o->refund++;
    (void)key, (void)klen;
    return 0;
}

int ctl_cmd_stats(int argc, char **argv)
{
    const char *data = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos || !data) {
        fprintf(stderr, "usage: cetctl stats --data DIR\n");
        return CTL_EXIT_USAGE;
    }
    stats_t s;
    memset(&s, 0, sizeof s);
    if (ctl_store_open(data, true, &s.st) != 0) return CTL_EXIT_USAGE;
    int rc = store_read_begin(s.st, &s.txn);
    if (rc) goto fail;
    store_sitting_t sit;
    char t1[26], t2[26];
    if (store_sitting_get(s.txn, s.st, &sit) == 0) {
        printf("sitting %u %s\n", sit.id, sit.name);
        printf("  lookup from %s, registration %s", cet_time_format(sit.lookup_opens, t1),
               cet_time_format(sit.reg_opens, t2));
        printf(" .. %s\n", cet_time_format(sit.reg_closes, t1));
    } else {
        printf("sitting: none\n");
    }
    static const struct {
        store_db_t db;
        const char *name;
    } dbs[] = {{STORE_DB_PROVINCE, "provinces"},   {STORE_DB_SCHOOL, "schools"},
               {STORE_DB_CAMPUS, "campuses"},      {STORE_DB_SUBJECT, "subjects"},
               {STORE_DB_OFFER, "offers"},         {STORE_DB_ROSTER, "roster records"},
               {STORE_DB_SCORE, "CET4 scores"},    {STORE_DB_ACCOUNT, "accounts"},
               {STORE_DB_CANDIDATE, "candidates (bound)"}, {STORE_DB_REVIEW, "CET6 reviews"},
               {STORE_DB_REG, "registrations"},    {STORE_DB_EXPIRY, "expiry entries"},
               {STORE_DB_ORDER, "payment orders"}, {STORE_DB_SESSION, "sessions"},
               {STORE_DB_STAFF, "staff"},          {STORE_DB_AUDIT, "audit records"}};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        size_t n = 0;
        if ((rc = store_count(s.txn, s.st, dbs[i].db, &n))) goto fail;
        printf("  %-20s %zu\n", dbs[i].name, n);
    }
    if ((rc = store_scan(s.txn, s.st, STORE_DB_OFFER, NULL, 0, stats_offer_cb, &s))) goto fail;
    if ((rc = store_scan(s.txn, s.st, STORE_DB_REG, NULL, 0, stats_reg_cb, &s))) goto fail;
    printf("registrations by state: unpaid %llu, paid %llu, locked %llu, refund %llu\n",
           (unsigned long long)s.by_state[0], (unsigned long long)s.by_state[1],
           (unsigned long long)s.by_state[2], (unsigned long long)s.by_state[3]);
    printf("registrations by subject:");
    for (int c = 0; c < 256; c++)
        if (s.by_subject[c]) printf(" %c=%llu", c, (unsigned long long)s.by_subject[c]);
    printf("\n");
    if (s.orphans) printf("registrations without an offer: %llu (run cetctl check)\n",
                          (unsigned long long)s.orphans);
    printf("%-8s %-7s %-10s %9s %9s %9s %9s %9s  %s\n", "campus", "subject", "fee", "capacity",
           "live", "left", "paid", "locked", "name");
    uint32_t last_campus = 0;
    store_campus_t camp;
    memset(&camp, 0, sizeof camp);
    for (size_t i = 0; i < s.n_offers; i++) {
        stats_offer_t *o = &s.offers[i];
        if (o->offer.campus != last_campus) {
            last_campus = o->offer.campus;
            if (store_campus_get(s.txn, s.st, last_campus, &camp)) camp.name[0] = 0;
        }
        long left = (long)o->offer.capacity - (long)o->live;
        printf("%-8u %-7c %-10.2f %9u %9u %9ld %9u %9u  %s\n", o->offer.campus, o->offer.subject,
               o->offer.fee / 100.0, o->offer.capacity, o->live, left, o->paid, o->locked,
               camp.name);
    }
    store_abort(s.txn);
    store_close(s.st);
    cet_free(s.offers);
    return CTL_EXIT_OK;
fail:
    fprintf(stderr, "cetctl stats: %s\n", store_strerror(rc));
    if (s.txn) store_abort(s.txn);
    store_close(s.st);
    cet_free(s.offers);
    return CTL_EXIT_USAGE;
}
