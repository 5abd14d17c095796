/*
 * net_api_exports.c: GET /api/v1/admin/exports/{kind}?format=csv|xlsx: a
 * school's (or a province's) candidates, registrations, orders or reviews as
 * a teacher opens them, through base/cet_sheet's writers (CSV: UTF-8 with a
 * BOM, Chinese headers, IDs as text, yuan with two decimals; .xlsx: a
 * workbook built in a temporary file). The file is made on the pool with its
 * own read txn, never on a core loop.
 */
#include "net/net_api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cet_id.h"
#include "base/cet_sheet.h"

typedef struct export_job {
    net_work_t w;
    net_call_t *call;
    store_t *st;
    store_txn_t *txn;
    const cet_sheet_schema_t *schema;
    cet_sheet_format_t fmt;
    int kind;
    uint32_t schools[CET_ADMIN_SCHOOLS_MAX]; /* the scope */
    size_t nschools;
    cet_sheet_writer_t *wr;
    char *buf;
    size_t len, cap;
    int err;
    uint64_t rows;
    /* reviews: who decided each, from the audit chain */
    struct decider {
        char account[33];
        char actor[CET_SHORT_BYTES];
    } * dec;
    size_t ndec, capdec;
} export_job_t;

enum { EXP_CANDIDATES, EXP_REGISTRATIONS, EXP_ORDERS, EXP_REVIEWS };

static bool in_scope(const export_job_t *x, uint32_t school)
{
    for (size_t i = 0; i < x->nschools; i++)
        if (x->schools[i] == school) return true;
    return false;
}

static int sink_cb(void *arg, const void *data, size_t n)
{
    export_job_t *x = arg;
    if (x->len + n > CET_ADMIN_EXPORT_BYTES_MAX) return EFBIG;
    if (x->len + n > x->cap) {
        size_t cap = x->cap ? x->cap : 65536;
        while (cap < x->len + n)
            cap *= 2;
        x->buf = cet_realloc(x->buf, cap);
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    return 0;
}

static const char *reg_state(uint8_t flags)
{
    if (flags & STORE_REG_REFUND) return "refund";
    if (flags & STORE_REG_PAID) return "paid";
    if (flags & STORE_REG_LOCKED) return "locked";
    return "unpaid";
}

static void subjects_text(const char *codes, int n, char *out, size_t cap)
{
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < cap; i++) {
        if (i) out[k++] = ';';
        out[k++] = codes[i];
    }
    out[k] = 0;
}

static int cand_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    export_job_t *x = arg;
    if (klen != 4 || vlen != sizeof(store_candidate_t)) return 0;
    store_candidate_t c;
    memcpy(&c, val, sizeof c);
    uint32_t no = store_rd32(key);
    if (!in_scope(x, c.snapshot.school)) return 0;
    store_account_t a;
    const char *email = store_account_get(x->txn, x->st, c.account, &a) == 0 ? a.email : "";
    char hex[33], subj[2 * CET_SUBJECTS_MAX + 1], regs[2 * CET_SUBJECTS_MAX + 1];
    cet_hex(hex, c.account, 16);
    const store_roster_t *r = &c.snapshot;
    subjects_text(r->subjects, r->n_subjects < CET_SUBJECTS_MAX ? r->n_subjects : CET_SUBJECTS_MAX,
                  subj, sizeof subj);
    store_reg_t list[CET_SUBJECTS_MAX];
    int n = store_reg_list(x->txn, x->st, no, list, CET_SUBJECTS_MAX);
    char codes[CET_SUBJECTS_MAX];
    for (int i = 0; i < n; i++)
        codes[i] = list[i].subject;
    subjects_text(codes, n < 0 ? 0 : n, regs, sizeof regs);
    cet_sheet_writer_t *o = x->wr;
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
    x->rows++;
    return (x->err = cet_sheet_row_end(o));
}

static int reg_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    export_job_t *x = arg;
    (void)key, (void)klen;
    if (vlen != sizeof(store_reg_t)) return 0;
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    store_candidate_t c;
    if (store_candidate_get(x->txn, x->st, r.roster_no, &c) != 0) return 0;
    if (!in_scope(x, c.snapshot.school)) return 0;
    char subj[2] = {r.subject, 0};
    cet_sheet_writer_t *o = x->wr;
    cet_sheet_put_str(o, c.snapshot.id_number);
    cet_sheet_put_str(o, c.snapshot.name);
    cet_sheet_put_uint(o, r.roster_no);
    cet_sheet_put_str(o, subj);
    cet_sheet_put_uint(o, r.campus);
    cet_sheet_put_money(o, r.fee);
    cet_sheet_put_str(o, reg_state(r.flags));
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
    x->rows++;
    return (x->err = cet_sheet_row_end(o));
}

static int order_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    export_job_t *x = arg;
    (void)key, (void)klen;
    if (vlen != sizeof(store_order_t)) return 0;
    store_order_t o;
    memcpy(&o, val, sizeof o);
    store_roster_t r;
    if (store_roster_get_by_no(x->txn, x->st, o.roster_no, &r) != 0) return 0;
    if (!in_scope(x, r.school)) return 0;
    char subjects[CET_ORDER_SUBJECTS_MAX + 1];
    memcpy(subjects, o.subjects, o.n_subjects);
    subjects[o.n_subjects] = 0;
    cet_sheet_put_uint(x->wr, o.id);
    cet_sheet_put_str(x->wr, r.id_number);
    cet_sheet_put_str(x->wr, subjects);
    cet_sheet_put_money(x->wr, o.amount);
    cet_sheet_put_str(x->wr, o.channel);
    cet_sheet_put_str(x->wr, eng_order_state_name(o.state));
    cet_sheet_put_time(x->wr, o.created);
    cet_sheet_put_time(x->wr, o.paid_at);
    cet_sheet_put_str(x->wr, o.gateway_txn);
    x->rows++;
    return (x->err = cet_sheet_row_end(x->wr));
}

/* Each "review_decide" entry ("review of account HEX: state"); a later one replaces an earlier. */
static int decider_cb(const store_audit_entry_t *e, void *arg)
{
    export_job_t *x = arg;
    static const char prefix[] = "review of account ";
    if (strcmp(e->action, "review_decide") != 0 ||
        strncmp(e->detail, prefix, sizeof prefix - 1) != 0 ||
        strlen(e->detail) < sizeof prefix - 1 + 32)
        return 0;
    for (size_t i = 0; i < x->ndec; i++)
        if (!strncmp(x->dec[i].account, e->detail + sizeof prefix - 1, 32)) {
            cet_strlcpy(x->dec[i].actor, e->actor, sizeof x->dec[i].actor);
            return 0;
        }
    if (x->ndec == x->capdec) {
        x->capdec = x->capdec ? 2 * x->capdec : 64;
        x->dec = cet_realloc(x->dec, x->capdec * sizeof *x->dec);
    }
    memcpy(x->dec[x->ndec].account, e->detail + sizeof prefix - 1, 32);
    x->dec[x->ndec].account[32] = 0;
    cet_strlcpy(x->dec[x->ndec].actor, e->actor, sizeof x->dec[x->ndec].actor);
    x->ndec++;
    return 0;
}

static int review_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    export_job_t *x = arg;
    (void)key, (void)klen;
    if (vlen != sizeof(store_review_t)) return 0;
    store_review_t rv;
    memcpy(&rv, val, sizeof rv);
    store_roster_t r;
    if (store_roster_get_by_no(x->txn, x->st, rv.roster_no, &r) != 0) return 0;
    if (!in_scope(x, r.school)) return 0;
    char hex[33];
    cet_hex(hex, rv.account, 16);
    const char *by = "";
    if (rv.state == STORE_REVIEW_AUTO_APPROVED)
        by = "auto";
    else if (rv.state != STORE_REVIEW_PENDING)
        for (size_t i = 0; i < x->ndec; i++)
            if (!strcmp(x->dec[i].account, hex)) by = x->dec[i].actor;
    const char *state = eng_review_state_name(rv.state);
    cet_sheet_writer_t *o = x->wr;
    cet_sheet_put_str(o, hex);
    cet_sheet_put_uint(o, rv.roster_no);
    cet_sheet_put_str(o, cet_id_type_name(rv.id_type));
    cet_sheet_put_str(o, rv.id_number);
    cet_sheet_put_str(o, rv.name);
    cet_sheet_put_uint(o, r.school);
    cet_sheet_put_str(o, rv.ticket);
    cet_sheet_put_str(o, state ? state : "unknown");
    cet_sheet_put_time(o, rv.created);
    cet_sheet_put_str(o, by);
    cet_sheet_put_time(o, rv.state == STORE_REVIEW_PENDING ? 0 : rv.decided);
    x->rows++;
    return (x->err = cet_sheet_row_end(o));
}

static int export_rows(export_job_t *x)
{
    switch (x->kind) {
    case EXP_CANDIDATES:
        return store_scan(x->txn, x->st, STORE_DB_CANDIDATE, NULL, 0, cand_cb, x);
    case EXP_REGISTRATIONS:
        return store_scan(x->txn, x->st, STORE_DB_REG, NULL, 0, reg_cb, x);
    case EXP_ORDERS:
        return store_scan(x->txn, x->st, STORE_DB_ORDER, NULL, 0, order_cb, x);
    default: {
        int rc = store_audit_scan(x->txn, x->st, 0, 0, decider_cb, x);
        if (rc) return rc;
        return store_scan(x->txn, x->st, STORE_DB_REVIEW, NULL, 0, review_cb, x);
    }
    }
}

static void export_work_cb(net_work_t *w)
{
    export_job_t *x = w->arg;
    int rc = store_read_begin(x->st, &x->txn);
    if (rc) {
        x->err = rc;
        return;
    }
    cet_sheet_writer_open(x->fmt, x->schema, NULL, sink_cb, x, &x->wr);
    rc = export_rows(x);
    store_abort(x->txn);
    x->txn = NULL;
    if (rc || x->err) {
        cet_sheet_writer_free(x->wr);
        x->err = rc ? rc : x->err;
        return;
    }
    x->err = cet_sheet_writer_finish(x->wr);
}

static void export_free(export_job_t *x)
{
    cet_free(x->buf);
    cet_free(x->dec);
    cet_free(x);
}

static void export_done_cb(net_work_t *w)
{
    export_job_t *x = w->arg;
    net_call_t *call = x->call;
    if (x->err) {
        int rc = x->err;
        export_free(x);
        net_call_reply_store_error(call, rc);
        return;
    }
    char disp[128], n[24];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s-%05u.%s\"", x->schema->kind,
             x->nschools == 1 ? x->schools[0] : call->auth.staff.scope, cet_sheet_file_ext(x->fmt));
    snprintf(n, sizeof n, "%llu", (unsigned long long)x->rows);
    net_req_add_header(call->req, "Content-Disposition", disp);
    net_req_add_header(call->req, "X-Rows", n);
    net_call_reply_raw(call, 200, cet_sheet_content_type(x->fmt), x->buf, x->len);
    export_free(x);
}

static int school_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    export_job_t *x = arg;
    (void)key;
    store_school_t s;
    if (klen != 4 || vlen != sizeof s) return 0;
    memcpy(&s, val, sizeof s);
    int rc = net_api_admin_school_ok(x->call, x->call->rtxn, s.code);
    if (rc == CET_E_FORBIDDEN) return 0;
    if (rc) return rc;
    if (x->nschools < CET_ADMIN_SCHOOLS_MAX) x->schools[x->nschools++] = s.code;
    return 0;
}

void net_api_admin_export(net_call_t *call, const char *kind)
{
    static const struct {
        const char *name;
        const cet_sheet_schema_t *schema;
    } kinds[] = {{"candidates", &cet_sheet_candidates},
                 {"registrations", &cet_sheet_registrations},
                 {"orders", &cet_sheet_orders},
                 {"reviews", &cet_sheet_reviews}};
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(kind, kinds[i].name)) k = i;
    if (k < 0) {
        net_call_reply_error(call, CET_E_EXPORT_UNKNOWN, NULL);
        return;
    }
    if (!net_api_admin_begin(call)) return;
    const char *f = net_req_query(call->req, "format");
    cet_sheet_format_t fmt = f ? cet_sheet_format_parse(f) : CET_SHEET_FMT_CSV;
    if (fmt != CET_SHEET_FMT_CSV && fmt != CET_SHEET_FMT_XLSX) {
        net_call_reply_error(call, CET_E_BAD_QUERY, "format");
        return;
    }
    export_job_t *x = cet_calloc(1, sizeof *x);
    x->call = call;
    x->st = call->api->st;
    x->schema = kinds[k].schema;
    x->kind = k;
    x->fmt = fmt;
    const char *school = net_req_query(call->req, "school");
    int rc = store_scan(call->rtxn, x->st, STORE_DB_SCHOOL, NULL, 0, school_cb, x);
    if (rc) {
        export_free(x);
        net_call_reply_store_error(call, rc);
        return;
    }
    if (school) { /* one school of the scope (province staff) */
        uint32_t code = (uint32_t)atoi(school);
        if (strlen(school) != 5 || strspn(school, "0123456789") != 5 || !in_scope(x, code)) {
            export_free(x);
            net_call_reply_error(call, CET_E_FORBIDDEN, NULL);
            return;
        }
        x->schools[0] = code;
        x->nschools = 1;
    }
    x->w.work_cb = export_work_cb;
    x->w.done_cb = export_done_cb;
    x->w.arg = x;
    net_call_read_done(call);
    cet_err_t e = net_pool_submit(net_req_core(call->req), &x->w);
    if (e) {
        export_free(x);
        net_call_reply_error(call, e, NULL);
    }
}
