/*
 * cetctl_export.c: `cetctl export KIND` (CSV on stdout) and `cetctl stats`.
 *
 * Both open the store read-only and read inside one read txn, so they see one
 * consistent snapshot and can run beside a live cetd. Every export that has
 * an import twin writes exactly the columns that import reads, in the same
 * order (roster, campuses, sitting, scores), so export -> import round-trips.
 */
#include <stdlib.h>
#include <string.h>

#include "base/cet_base.h"
#include "engine/eng.h"
#include "base/cet_id.h"
#include "base/cet_token.h"
#include "tools/cetctl.h"

typedef struct exp {
    store_t *st;
    store_txn_t *txn;
    ctl_out_t out;
    cet_sheet_writer_t *w; /* out.w */
    uint32_t school;       /* --school: only this school's rows; 0 = all */
    int err;               /* first write error (the rest of the scan is skipped) */
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
static void roster_out(exp_t *x, const store_roster_t *r)
{
    char subj[2 * CET_SUBJECTS_MAX + 1];
    cet_sheet_writer_t *o = x->w;
    cet_sheet_put_str(o, cet_id_type_name(r->id_type));
    cet_sheet_put_str(o, r->id_number);
    cet_sheet_put_str(o, r->name);
    cet_sheet_put_str(o, (r->flags & STORE_ROSTER_MALE) ? "M" : "F");
    cet_sheet_put_uint(o, r->school);
    cet_sheet_put_uint(o, r->campus);
    cet_sheet_put_str(o, ctl_education_name(r->education));
    cet_sheet_put_uint(o, r->program_years);
    cet_sheet_put_uint(o, r->entry_year);
    cet_sheet_put_uint(o, r->grade);
    cet_sheet_put_str(o, r->department);
    cet_sheet_put_str(o, r->major);
    cet_sheet_put_str(o, r->class_name);
    cet_sheet_put_str(o, r->student_no);
    cet_sheet_put_str(o, r->remarks);
    subjects_text(r->subjects, r->n_subjects < CET_SUBJECTS_MAX ? r->n_subjects : CET_SUBJECTS_MAX,
                  subj, sizeof subj);
    cet_sheet_put_str(o, subj);
    cet_sheet_put_str(o, (r->flags & STORE_ROSTER_CET6_BARRED) ? "1" : "0");
    x->err = cet_sheet_row_end(o);
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
    if (x->school && r.school != x->school) return 0;
    roster_out(x, &r);
    ctl_progress_tick(&x->prog, ++x->rows);
    return x->err;
}

static int export_roster(exp_t *x)
{
    return store_scan(x->txn, x->st, STORE_DB_ROSTER_NO, NULL, 0, roster_no_cb, x);
}

/* ---- registrations ---- */
static int reg_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    if (vlen != sizeof(store_reg_t)) return 0;
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    if (x->school && r.campus / 10 != x->school) return 0; /* a campus is its school + 1 digit */
    store_candidate_t c;
    const char *idn = "", *name = "";
    if (store_candidate_get(x->txn, x->st, r.roster_no, &c) == 0) {
        idn = c.snapshot.id_number;
        name = c.snapshot.name;
    }
    char subj[2] = {r.subject, 0};
    cet_sheet_writer_t *o = x->w;
    cet_sheet_put_str(o, idn);
    cet_sheet_put_str(o, name);
    cet_sheet_put_uint(o, r.roster_no);
    cet_sheet_put_str(o, subj);
    cet_sheet_put_uint(o, r.campus);
    cet_sheet_put_money(o, r.fee);
    cet_sheet_put_str(o, ctl_reg_state(r.flags));
    cet_sheet_put_str(o, r.method == STORE_BY_SCHOOL ? "school" : "candidate");
    cet_sheet_put_str(o, (r.flags & STORE_REG_ARRANGED) ? "1" : "0");
    if (r.flags & STORE_REG_ARRANGED) {
        cet_sheet_put_uint(o, r.room);
        cet_sheet_put_uint(o, r.seat);
    } else {
        cet_sheet_put_str(o, "");
        cet_sheet_put_str(o, "");
    }
    if (r.order_id)
        cet_sheet_put_uint(o, r.order_id);
    else
        cet_sheet_put_str(o, "");
    cet_sheet_put_time(o, r.created);
    cet_sheet_put_time(o, r.expires);
    x->err = cet_sheet_row_end(o);
    ctl_progress_tick(&x->prog, ++x->rows);
    (void)key, (void)klen;
    return x->err;
}

static int export_registrations(exp_t *x)
{
    return store_scan(x->txn, x->st, STORE_DB_REG, NULL, 0, reg_cb, x);
}

/* ---- candidates (bound accounts) ---- */
static int cand_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    if (klen != 4 || vlen != sizeof(store_candidate_t)) return 0;
    store_candidate_t c;
    memcpy(&c, val, sizeof c);
    uint32_t no = store_rd32(key);
    if (x->school && c.snapshot.school != x->school) return 0;
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
    cet_sheet_writer_t *o = x->w;
    cet_sheet_put_uint(o, no);
    cet_sheet_put_str(o, hex);
    cet_sheet_put_str(o, email);
    cet_sheet_put_str(o, cet_id_type_name(r->id_type));
    cet_sheet_put_str(o, r->id_number);
    cet_sheet_put_str(o, r->name);
    cet_sheet_put_uint(o, r->school);
    cet_sheet_put_uint(o, r->campus);
    cet_sheet_put_str(o, subj);
    cet_sheet_put_time(o, c.bound_at);
    cet_sheet_put_time(o, c.empty_due);
    cet_sheet_put_str(o, regs);
    x->err = cet_sheet_row_end(o);
    ctl_progress_tick(&x->prog, ++x->rows);
    return x->err;
}

static int export_candidates(exp_t *x)
{
    return store_scan(x->txn, x->st, STORE_DB_CANDIDATE, NULL, 0, cand_cb, x);
}

/* ---- campuses: one row per offer, the columns of `import campuses` ---- */
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
    if (x->school && s.code != x->school) return 0;
    char subj[2] = {of.subject, 0}, code[8];
    cet_sheet_writer_t *o = x->w;
    snprintf(code, sizeof code, "%02u", (unsigned)p.code);
    cet_sheet_put_str(o, code);
    cet_sheet_put_str(o, p.name);
    cet_sheet_put_uint(o, s.code);
    cet_sheet_put_str(o, s.name);
    cet_sheet_put_str(o, (s.flags & STORE_SCHOOL_ORAL_ELSEWHERE) ? "1" : "0");
    cet_sheet_put_uint(o, c.code);
    cet_sheet_put_str(o, c.name);
    cet_sheet_put_str(o, subj);
    cet_sheet_put_uint(o, of.capacity);
    cet_sheet_put_money(o, of.fee);
    cet_sheet_put_time(o, of.window_opens);
    cet_sheet_put_time(o, of.window_closes);
    cet_sheet_put_time(o, of.exam_date);
    x->err = cet_sheet_row_end(o);
    x->rows++;
    (void)key, (void)klen;
    return 0;
}

static int export_campuses(exp_t *x)
{
    return store_scan(x->txn, x->st, STORE_DB_OFFER, NULL, 0, offer_cb, x);
}

static int export_sitting(exp_t *x)
{
    store_sitting_t s;
    int rc = store_sitting_get(x->txn, x->st, &s);
    if (rc) return rc;
    cet_sheet_put_uint(x->w, s.id);
    cet_sheet_put_str(x->w, s.name);
    cet_sheet_put_time(x->w, s.lookup_opens);
    cet_sheet_put_time(x->w, s.reg_opens);
    cet_sheet_put_time(x->w, s.reg_closes);
    cet_sheet_put_time(x->w, s.print_opens);
    cet_sheet_put_time(x->w, s.written_date);
    cet_sheet_put_time(x->w, s.oral_date_4);
    cet_sheet_put_time(x->w, s.oral_date_6);
    x->err = cet_sheet_row_end(x->w);
    x->rows = 1;
    return x->err;
}

/* The school of a ticket number: its first 6 digits are the campus, school + 1 digit. */
static uint32_t ticket_school(const char *t)
{
    uint32_t campus = 0;
    for (int i = 0; i < 6 && t[i] >= '0' && t[i] <= '9'; i++) campus = campus * 10 + (uint32_t)(t[i] - '0');
    return campus / 10;
}

static int score_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    exp_t *x = arg;
    if (vlen != sizeof(store_score_t)) return 0;
    store_score_t s;
    memcpy(&s, val, sizeof s);
    /* a score belongs to the school of the campus it was taken at: ticket digits 1-6 */
    if (x->school && ticket_school(s.ticket) != x->school) return 0;
    cet_sheet_put_str(x->w, s.ticket);
    cet_sheet_put_str(x->w, s.id_number);
    cet_sheet_put_str(x->w, s.name);
    cet_sheet_put_uint(x->w, s.score);
    cet_sheet_put_uint(x->w, s.year);
    x->err = cet_sheet_row_end(x->w);
    ctl_progress_tick(&x->prog, ++x->rows);
    (void)key, (void)klen;
    return x->err;
}

static int export_scores(exp_t *x)
{
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
    if (store_roster_get_by_no(x->txn, x->st, o.roster_no, &r) != 0) {
        if (x->school) return 0;
        r.id_number[0] = 0;
    } else if (x->school && r.school != x->school) {
        return 0;
    }
    char subjects[CET_ORDER_SUBJECTS_MAX + 1];
    memcpy(subjects, o.subjects, o.n_subjects);
    subjects[o.n_subjects] = 0;
    cet_sheet_put_uint(x->w, o.id);
    cet_sheet_put_str(x->w, r.id_number);
    cet_sheet_put_str(x->w, subjects);
    cet_sheet_put_money(x->w, o.amount);
    cet_sheet_put_str(x->w, o.channel);
    cet_sheet_put_str(x->w, eng_order_state_name(o.state));
    cet_sheet_put_time(x->w, o.created);
    cet_sheet_put_time(x->w, o.paid_at);
    cet_sheet_put_str(x->w, o.gateway_txn);
    x->err = cet_sheet_row_end(x->w);
    ctl_progress_tick(&x->prog, ++x->rows);
    return x->err;
}

static int export_orders(exp_t *x)
{
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
    cet_sheet_put_uint(x->w, store_rd64(key));
    cet_sheet_put_time(x->w, h.at);
    cet_sheet_put_str(x->w, h.actor);
    cet_sheet_put_str(x->w, h.action);
    cet_sheet_put_str(x->w, text);
    x->err = cet_sheet_row_end(x->w);
    ctl_progress_tick(&x->prog, ++x->rows);
    return x->err;
}

static int export_audit(exp_t *x)
{
    return store_scan(x->txn, x->st, STORE_DB_AUDIT, NULL, 0, audit_cb, x);
}

/* ---- CET6 reviews: who decided comes from the audit log (the review keeps only when) ---- */
typedef struct review_decider {
    char account[33];           /* hex */
    char actor[CET_SHORT_BYTES];
    uint64_t seq;               /* audit sequence: the latest decision wins */
} review_decider_t;

typedef struct review_scan {
    review_decider_t *d;
    size_t n, cap;
} review_scan_t;

/* Each "review_decide" entry ("review of account HEX: state"); a later one replaces an earlier. */
static int decider_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    review_scan_t *rs = arg;
    if (klen != 8 || vlen < sizeof(store_audit_t)) return 0;
    store_audit_t h;
    memcpy(&h, val, sizeof h);
    if (strncmp(h.action, "review_decide", sizeof h.action) != 0) return 0;
    static const char prefix[] = "review of account ";
    const char *text = (const char *)val + sizeof h;
    size_t n = vlen - sizeof h;
    if (n < sizeof prefix - 1 + 32 || memcmp(text, prefix, sizeof prefix - 1) != 0) return 0;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? 2 * rs->cap : 256;
        rs->d = cet_realloc(rs->d, rs->cap * sizeof *rs->d);
    }
    review_decider_t *d = &rs->d[rs->n++];
    memcpy(d->account, text + sizeof prefix - 1, 32);
    d->account[32] = 0;
    cet_strlcpy(d->actor, h.actor, sizeof d->actor);
    d->seq = store_rd64(key);
    return 0;
}

/* By account, then by audit sequence (qsort is not stable). */
static int decider_cmp(const void *a, const void *b)
{
    const review_decider_t *x = a, *y = b;
    int c = strcmp(x->account, y->account);
    if (c) return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct review_exp {
    exp_t *x;
    review_scan_t deciders; /* sorted by (account, seq): the last of an account is the latest */
} review_exp_t;

static const char *decided_by(const review_exp_t *re, const char *hex)
{
    const review_scan_t *rs = &re->deciders;
    size_t lo = 0, hi = rs->n;
    while (lo < hi) { /* the last entry with this account */
        size_t mid = (lo + hi) / 2;
        if (strcmp(rs->d[mid].account, hex) <= 0) lo = mid + 1;
        else hi = mid;
    }
    return lo > 0 && strcmp(rs->d[lo - 1].account, hex) == 0 ? rs->d[lo - 1].actor : "";
}

static int review_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    review_exp_t *re = arg;
    exp_t *x = re->x;
    (void)key, (void)klen;
    if (vlen != sizeof(store_review_t)) return 0;
    store_review_t rv;
    memcpy(&rv, val, sizeof rv);
    store_roster_t r;
    uint32_t school = store_roster_get_by_no(x->txn, x->st, rv.roster_no, &r) == 0 ? r.school : 0;
    if (x->school && school != x->school) return 0;
    char hex[33];
    ctl_account_hex(rv.account, hex);
    const char *state = eng_review_state_name(rv.state);
    const char *by = rv.state == STORE_REVIEW_AUTO_APPROVED ? "auto"
                     : rv.state == STORE_REVIEW_PENDING     ? ""
                                                            : decided_by(re, hex);
    cet_sheet_writer_t *o = x->w;
    cet_sheet_put_str(o, hex);
    cet_sheet_put_uint(o, rv.roster_no);
    cet_sheet_put_str(o, cet_id_type_name(rv.id_type));
    cet_sheet_put_str(o, rv.id_number);
    cet_sheet_put_str(o, rv.name);
    if (school)
        cet_sheet_put_uint(o, school);
    else
        cet_sheet_put_str(o, "");
    cet_sheet_put_str(o, rv.ticket);
    cet_sheet_put_str(o, state ? state : "unknown");
    cet_sheet_put_time(o, rv.created);
    cet_sheet_put_str(o, by);
    cet_sheet_put_time(o, rv.state == STORE_REVIEW_PENDING ? 0 : rv.decided);
    x->err = cet_sheet_row_end(o);
    ctl_progress_tick(&x->prog, ++x->rows);
    return x->err;
}

static int export_reviews(exp_t *x)
{
    review_exp_t re = {.x = x};
    int rc = store_scan(x->txn, x->st, STORE_DB_AUDIT, NULL, 0, decider_cb, &re.deciders);
    if (rc == 0) {
        if (re.deciders.n) /* qsort(NULL, 0) is undefined */
            qsort(re.deciders.d, re.deciders.n, sizeof *re.deciders.d, decider_cmp);
        rc = store_scan(x->txn, x->st, STORE_DB_REVIEW, NULL, 0, review_cb, &re);
    }
    cet_free(re.deciders.d);
    return rc;
}

/* ---- the command ---- */
static const struct {
    const char *kind;
    const cet_sheet_schema_t *schema;
    int (*fn)(exp_t *x);
    bool per_school; /* --school applies */
} export_kinds[] = {
    {"roster", &cet_sheet_roster, export_roster, true},
    {"registrations", &cet_sheet_registrations, export_registrations, true},
    {"candidates", &cet_sheet_candidates, export_candidates, true},
    {"campuses", &cet_sheet_campuses, export_campuses, true},
    {"sitting", &cet_sheet_sitting, export_sitting, false},
    {"scores", &cet_sheet_scores, export_scores, true},
    {"orders", &cet_sheet_orders, export_orders, true},
    {"audit", &cet_sheet_audit, export_audit, false},
    {"reviews", &cet_sheet_reviews, export_reviews, true},
};

static void export_usage(void)
{
    fprintf(stderr,
            "usage: cetctl export KIND --data DIR [--format data|csv|xlsx] [--out FILE] "
            "[--school CODE]\n"
            "  KIND: roster, registrations, candidates, campuses, sitting, scores, orders, "
            "audit, reviews\n"
            "  --format data  (default) what cetctl import reads back: UTF-8, LF, English "
            "headers, fen\n"
            "  --format csv   for Excel: UTF-8 with BOM, CRLF, Chinese headers and values, yuan\n"
            "  --format xlsx  an Excel workbook (IDs as text cells); needs --out or a pipe\n"
            "  --school CODE  only that school's rows (not for sitting, audit)\n");
}

int ctl_cmd_export(int argc, char **argv)
{
    const char *data = NULL, *format = NULL, *out = NULL, *school = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL},
                              {"--format", &format, NULL},
                              {"--out", &out, NULL},
                              {"--school", &school, NULL},
                              {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos != 1 ||
        !data) {
        export_usage();
        return CTL_EXIT_USAGE;
    }
    int k = -1;
    for (size_t i = 0; i < sizeof export_kinds / sizeof export_kinds[0]; i++)
        if (!strcmp(pos[0], export_kinds[i].kind)) k = (int)i;
    if (k < 0) {
        fprintf(stderr, "cetctl export: unknown kind '%s'\n", pos[0]);
        export_usage();
        return CTL_EXIT_USAGE;
    }
    cet_sheet_format_t fmt = format ? cet_sheet_format_parse(format) : CET_SHEET_FMT_DATA;
    if (!fmt) {
        fprintf(stderr, "cetctl export: --format is data, csv or xlsx, not '%s'\n", format);
        return CTL_EXIT_USAGE;
    }
    exp_t x;
    memset(&x, 0, sizeof x);
    if (school) {
        uint64_t code;
        if (!export_kinds[k].per_school) {
            fprintf(stderr, "cetctl export %s: --school does not apply\n", pos[0]);
            return CTL_EXIT_USAGE;
        }
        if (strlen(school) != 5 || ctl_parse_u64(school, 10000, 99999, &code) != 0) {
            fprintf(stderr, "cetctl export: --school '%s' is not a 5-digit school code\n", school);
            return CTL_EXIT_USAGE;
        }
        x.school = (uint32_t)code;
    }
    if (ctl_store_open(data, true, &x.st) != 0) return CTL_EXIT_USAGE;
    int rc = store_read_begin(x.st, &x.txn);
    if (rc) {
        fprintf(stderr, "cetctl export: %s\n", store_strerror(rc));
        store_close(x.st);
        return CTL_EXIT_USAGE;
    }
    if (ctl_out_open(&x.out, fmt, export_kinds[k].schema, out) != 0) {
        store_abort(x.txn);
        store_close(x.st);
        return CTL_EXIT_USAGE;
    }
    x.w = x.out.w;
    char what[64];
    snprintf(what, sizeof what, "export %s", pos[0]);
    ctl_progress_start(&x.prog, what);
    rc = export_kinds[k].fn(&x);
    store_abort(x.txn);
    store_close(x.st);
    if (rc || x.err) {
        if (x.err)
            fprintf(stderr, "cetctl export %s: write error: %s\n", pos[0], strerror(x.err));
        else
            fprintf(stderr, "cetctl export %s: %s\n", pos[0], store_strerror(rc));
        ctl_out_abort(&x.out);
        return CTL_EXIT_USAGE;
    }
    if (ctl_out_close(&x.out) != 0) return CTL_EXIT_USAGE;
    if (x.prog.tty || x.rows >= 100000) ctl_progress_done(&x.prog, x.rows);
    return CTL_EXIT_OK;
}

/* ---- template: an empty file for a school to fill in ---- */
int ctl_cmd_template(int argc, char **argv)
{
    const char *format = NULL, *out = NULL;
    const ctl_opt_t opts[] = {{"--format", &format, NULL}, {"--out", &out, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos != 1) {
        fprintf(stderr, "usage: cetctl template roster|campuses|scores|sitting [--format csv|xlsx] "
                        "[--out FILE]\n");
        return CTL_EXIT_USAGE;
    }
    const cet_sheet_schema_t *sc = cet_sheet_schema_find(pos[0]);
    if (!sc || (sc != &cet_sheet_roster && sc != &cet_sheet_campuses && sc != &cet_sheet_scores &&
                sc != &cet_sheet_sitting)) {
        fprintf(stderr, "cetctl template: no template for '%s' (roster, campuses, scores, sitting)\n",
                pos[0]);
        return CTL_EXIT_USAGE;
    }
    cet_sheet_format_t fmt = format ? cet_sheet_format_parse(format) : CET_SHEET_FMT_CSV;
    if (fmt != CET_SHEET_FMT_CSV && fmt != CET_SHEET_FMT_XLSX) {
        fprintf(stderr, "cetctl template: --format is csv or xlsx\n");
        return CTL_EXIT_USAGE;
    }
    ctl_out_t o;
    if (ctl_out_open(&o, fmt, sc, out) != 0) return CTL_EXIT_USAGE;
    int rc = cet_sheet_writer_template(o.w);
    if (rc) {
        fprintf(stderr, "cetctl template: %s\n", strerror(rc));
        ctl_out_abort(&o);
        return CTL_EXIT_USAGE;
    }
    return ctl_out_close(&o) == 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
}

/* ---- stats ---- */
typedef struct stats_offer {
    store_offer_t offer;
    uint32_t live, paid, locked, refund;
} stats_offer_t;

#define STATS_COSTS_BYTES 40
typedef struct stats_costs {
    char costs[STATS_COSTS_BYTES]; /* "m=19456,t=2,p=1" */
    uint64_t n;
    bool current;                  /* CET_PWHASH_OPS / CET_PWHASH_MEM_BYTES (argon2id) */
} stats_costs_t;

typedef struct stats {
    store_t *st;
    store_txn_t *txn;
    stats_offer_t *offers;
    size_t n_offers, cap_offers;
    uint64_t by_state[4];  /* unpaid, paid, locked, refund */
    uint64_t by_subject[256];
    uint64_t orphans;      /* registrations of an offer that does not exist */
    stats_costs_t costs[2][CTL_STATS_PWHASH_COSTS_MAX + 1]; /* accounts, staff; the last: other */
} stats_t;

/* One argon2id costs text ("m=19456,t=2,p=1") of the hash; "unreadable" when it has none. */
static void pwhash_costs(const char *hash, char out[STATS_COSTS_BYTES])
{
    /* "$argon2id$v=19$m=19456,t=2,p=1$salt$hash": the fourth field */
    const char *p = hash;
    for (int i = 0; i < 3 && p; i++) p = strchr(i ? p + 1 : p, '$');
    const char *end = p ? strchr(p + 1, '$') : NULL;
    if (!end || (size_t)(end - p - 1) >= STATS_COSTS_BYTES || strncmp(hash, "$argon2", 7)) {
        cet_strlcpy(out, "unreadable", STATS_COSTS_BYTES);
        return;
    }
    memcpy(out, p + 1, (size_t)(end - p - 1));
    out[end - p - 1] = 0;
}

static void stats_pwhash(stats_t *s, int kind, const char *hash)
{
    stats_costs_t *c = s->costs[kind];
    char costs[STATS_COSTS_BYTES];
    pwhash_costs(hash, costs);
    int i = 0;
    while (i < CTL_STATS_PWHASH_COSTS_MAX && c[i].n && strcmp(c[i].costs, costs) != 0) i++;
    if (i < CTL_STATS_PWHASH_COSTS_MAX && !c[i].n) {
        cet_strlcpy(c[i].costs, costs, sizeof c[i].costs);
        c[i].current = !cet_pwhash_stale(hash);
    } else if (i == CTL_STATS_PWHASH_COSTS_MAX) {
        cet_strlcpy(c[i].costs, "other", sizeof c[i].costs);
    }
    c[i].n++;
}

static int stats_account_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void)key, (void)klen;
    if (vlen != sizeof(store_account_t)) return 0;
    store_account_t a;
    memcpy(&a, val, sizeof a);
    a.pwhash[sizeof a.pwhash - 1] = 0;
    stats_pwhash(arg, 0, a.pwhash);
    return 0;
}

static int stats_staff_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void)key, (void)klen;
    if (vlen != sizeof(store_staff_t)) return 0;
    store_staff_t staff;
    memcpy(&staff, val, sizeof staff);
    staff.pwhash[sizeof staff.pwhash - 1] = 0;
    stats_pwhash(arg, 1, staff.pwhash);
    return 0;
}

/* Password hashes by costs: how many are still to be upgraded at their next login. */
static void stats_pwhash_print(const stats_t *s)
{
    printf("password hashes by argon2id costs (older ones are made again at the next login):\n");
    static const char *const kinds[2] = {"accounts", "staff"};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i <= CTL_STATS_PWHASH_COSTS_MAX && s->costs[k][i].n; i++)
            printf("  %-9s %-18s %9llu  %s\n", kinds[k], s->costs[k][i].costs,
                   (unsigned long long)s->costs[k][i].n,
                   s->costs[k][i].current ? "current" : "older");
}

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
    if ((rc = store_scan(s.txn, s.st, STORE_DB_ACCOUNT, NULL, 0, stats_account_cb, &s)) ||
        (rc = store_scan(s.txn, s.st, STORE_DB_STAFF, NULL, 0, stats_staff_cb, &s)))
        goto fail;
    stats_pwhash_print(&s);
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
