/*
 * net_api_admin.c: the admin API of the school's side (api.md "School,
 * province and support staff"): the roster upload, the reviews to decide,
 * offers, school settings, announcements, the audit chain and the dashboard.
 * Exports are net_api_exports.c.
 *
 * Scope. A school token acts on its own school only, a province token on its
 * province, a support token on account matters only: every call here is 403
 * `forbidden` for support staff, and rows or records of a school outside the
 * caller's scope are refused (writes: by the engine, in the txn; reads: here).
 */
#include "net/net_api_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/cet_id.h"
#include "base/cet_sheet.h"
#include "engine/eng_admin.h"

/* Builds a call's answer from txn (pool thread: only reads, and the call is parked). */
typedef int (*admin_build_cb)(net_call_t *call, store_txn_t *txn, int arg, json_t **out);
static void admin_read_on_pool(net_call_t *call, admin_build_cb build, int arg);

/* ---- scope ---- */
bool net_api_admin_begin(net_call_t *call)
{
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return false;
    if (!net_api_auth(call, txn, STORE_SESSION_STAFF)) return false;
    uint8_t role = call->auth.staff.role;
    if (role != STORE_STAFF_SCHOOL && role != STORE_STAFF_PROVINCE) {
        net_call_reply_error(call, CET_E_FORBIDDEN, NULL); /* support: account matters only */
        return false;
    }
    return true;
}

int net_api_admin_school_ok(net_call_t *call, store_txn_t *txn, uint32_t school)
{
    const store_staff_t *s = &call->auth.staff;
    if (s->role == STORE_STAFF_SCHOOL) return school == s->scope ? 0 : CET_E_FORBIDDEN;
    if (s->role != STORE_STAFF_PROVINCE) return CET_E_FORBIDDEN;
    store_school_t sc;
    int rc = store_school_get(txn, call->api->st, school, &sc);
    if (rc == STORE_NOTFOUND) return CET_E_FORBIDDEN;
    if (rc) return rc;
    return sc.province == s->scope ? 0 : CET_E_FORBIDDEN;
}

/* The caller's province: a province staff's scope, or its school's province. */
static uint16_t caller_province(net_call_t *call, store_txn_t *txn)
{
    const store_staff_t *s = &call->auth.staff;
    if (s->role == STORE_STAFF_PROVINCE) return (uint16_t)s->scope;
    store_school_t sc;
    if (store_school_get(txn, call->api->st, s->scope, &sc)) return 0;
    return sc.province;
}

static eng_op_t *admin_op(net_call_t *call, eng_op_kind_t kind)
{
    eng_op_t *op = net_call_op(call, kind);
    const store_staff_t *s = &call->auth.staff;
    cet_strlcpy(op->staff, s->user, sizeof op->staff);
    if (s->role == STORE_STAFF_SCHOOL) op->in.scope_school = s->scope;
    if (s->role == STORE_STAFF_PROVINCE) op->in.scope_province = (uint16_t)s->scope;
    return op;
}

static bool admin_idem(net_call_t *call)
{
    uint8_t scope[16];
    net_api_email_scope(call->auth.staff.user, scope);
    scope[0] ^= 0x80; /* staff keys never meet candidates' */
    return net_call_idem(call, scope);
}

static json_t *roster_json(const store_roster_t *r)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:I,s:I}", "id_type",
                     cet_id_type_name(r->id_type), "id_number", r->id_number, "name", r->name,
                     "school", net_api_code5(r->school), "campus", net_api_code6(r->campus),
                     "department", r->department, "major", r->major, "class_name", r->class_name,
                     "student_no", r->student_no, "entry_year", (json_int_t)r->entry_year, "grade",
                     (json_int_t)r->grade);
}

/* ---- GET /api/v1/admin/reviews?state=pending ---- */
typedef struct review_item {
    store_review_t rv;
    store_roster_t ro;
} review_item_t;

typedef struct review_list {
    net_call_t *call;
    store_txn_t *txn;
    uint8_t state; /* 0: every state */
    review_item_t *items;
    size_t n, cap;
} review_list_t;

static int review_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    review_list_t *l = arg;
    (void)key;
    store_review_t rv;
    if (klen != 16 || vlen != sizeof rv) return 0;
    memcpy(&rv, val, sizeof rv);
    if (l->state && rv.state != l->state) return 0;
    store_roster_t ro;
    int rc = store_roster_get_by_no(l->txn, l->call->api->st, rv.roster_no, &ro);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    rc = net_api_admin_school_ok(l->call, l->txn, ro.school);
    if (rc == CET_E_FORBIDDEN) return 0;
    if (rc) return rc;
    if (l->n >= CET_ADMIN_LIST_MAX) return CET_DONE;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->items = cet_realloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n].rv = rv;
    l->items[l->n].ro = ro;
    l->n++;
    return 0;
}

/* Oldest first; the same second by account id. */
static int review_cmp(const void *a, const void *b)
{
    const store_review_t *x = &((const review_item_t *)a)->rv, *y = &((const review_item_t *)b)->rv;
    if (x->created != y->created) return x->created < y->created ? -1 : 1;
    return memcmp(x->account, y->account, 16);
}

static int reviews_build(net_call_t *call, store_txn_t *txn, int state, json_t **out)
{
    review_list_t l = {.call = call, .txn = txn, .state = (uint8_t)state};
    int rc = store_scan(l.txn, call->api->st, STORE_DB_REVIEW, NULL, 0, review_cb, &l);
    if (rc) {
        cet_free(l.items);
        return rc;
    }
    if (l.n) qsort(l.items, l.n, sizeof *l.items, review_cmp);
    json_t *arr = json_array();
    for (size_t k = 0; k < l.n; k++) {
        const store_review_t *rv = &l.items[k].rv;
        char hex[33];
        cet_hex(hex, rv->account, 16);
        json_t *score = json_null();
        store_score_t sc;
        if (store_score_get(l.txn, call->api->st, rv->ticket, &sc) == 0)
            score = json_pack("{s:I,s:I,s:s,s:b,s:b}", "score", (json_int_t)sc.score, "year",
                              (json_int_t)sc.year, "name", sc.name, "id_matches",
                              strcmp(sc.id_number, rv->id_number) == 0, "name_matches",
                              strcmp(sc.name, rv->name) == 0);
        json_array_append_new(arr,
                              json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "account_id", hex, "state",
                                        eng_review_state_name(rv->state), "ticket", rv->ticket,
                                        "created_at", net_api_time_json(rv->created), "decided_at",
                                        net_api_time_json(rv->decided), "candidate",
                                        roster_json(&l.items[k].ro), "cet4_score", score));
    }
    cet_free(l.items);
    *out = json_pack("{s:o}", "reviews", arr);
    return 0;
}

void net_api_admin_reviews(net_call_t *call)
{
    if (!net_api_admin_begin(call)) return;
    const char *st = net_req_query(call->req, "state");
    int state;
    if (!st || !strcmp(st, "pending"))
        state = STORE_REVIEW_PENDING;
    else if (!strcmp(st, "approved"))
        state = STORE_REVIEW_APPROVED;
    else if (!strcmp(st, "rejected"))
        state = STORE_REVIEW_REJECTED;
    else if (!strcmp(st, "all"))
        state = 0;
    else {
        net_call_reply_error(call, CET_E_BAD_QUERY, "state");
        return;
    }
    admin_read_on_pool(call, reviews_build, state);
}

/* ---- PUT /api/v1/admin/offers/{campus}/{subject} ---- */
static cet_err_t time_field(json_t *j, const char *key, int64_t *out, bool *given)
{
    const char *s = NULL;
    cet_err_t e = net_json_str(j, key, false, &s);
    if (e || !s) return e;
    if (cet_time_parse(s, out) != 0 || *out <= 0) return CET_E_INVALID_FIELD;
    *given = true;
    return CET_E_OK;
}

void net_api_admin_offer(net_call_t *call, const char *rest)
{
    static const char *const allowed[] = {"capacity", "fee", "window_opens", "window_closes", NULL};
    char campus_s[8] = "";
    const char *slash = strchr(rest, '/');
    if (!slash || slash - rest != 6 || !net_api_subject_code_ok(slash + 1)) {
        net_call_reply_error(call, CET_E_OFFER_NOT_FOUND, NULL);
        return;
    }
    memcpy(campus_s, rest, 6);
    if (strspn(campus_s, "0123456789") != 6) {
        net_call_reply_error(call, CET_E_OFFER_NOT_FOUND, NULL);
        return;
    }
    if (!net_api_admin_begin(call)) return;
    eng_op_t *op = admin_op(call, ENG_OP_ADMIN_OFFER);
    if (!admin_idem(call)) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    int64_t cap = -1, fee = -1;
    bool opens = false, closes = false;
    const char *field = "capacity";
    cet_err_t e = net_json_int(j, "capacity", false, &cap);
    if (!e && json_object_get(j, "capacity") &&
        (cap < 0 || cap > (json_int_t)CET_OFFER_CAPACITY_MAX))
        e = CET_E_INVALID_FIELD;
    if (!e) {
        field = "fee";
        e = net_json_int(j, "fee", false, &fee);
        if (!e && json_object_get(j, "fee") && (fee < 0 || fee > (int64_t)CET_OFFER_FEE_MAX_FEN))
            e = CET_E_INVALID_FIELD;
    }
    if (!e) {
        field = "window_opens";
        e = time_field(j, "window_opens", &op->in.window_opens, &opens);
    }
    if (!e) {
        field = "window_closes";
        e = time_field(j, "window_closes", &op->in.window_closes, &closes);
    }
    if (!e && cap < 0 && fee < 0 && !opens && !closes) {
        field = "capacity";
        e = CET_E_MISSING_FIELD;
    }
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    op->in.campus = (uint32_t)atoi(campus_s);
    op->in.subject = slash[1];
    if (cap >= 0) op->in.capacity = (uint32_t)cap, op->in.set |= ENG_ADMIN_SET_CAPACITY;
    if (fee >= 0) op->in.fee = (uint32_t)fee, op->in.set |= ENG_ADMIN_SET_FEE;
    if (opens) op->in.set |= ENG_ADMIN_SET_OPENS;
    if (closes) op->in.set |= ENG_ADMIN_SET_CLOSES;
    net_call_submit(call);
}

json_t *net_api_render_admin_offer(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    char subj[2] = {op->res.u.offer.subject, 0};
    return json_pack("{s:o,s:s,s:I,s:I,s:I,s:I,s:o,s:o}", "campus",
                     net_api_code6(op->res.u.offer.campus), "subject", subj, "capacity",
                     (json_int_t)op->res.u.offer.capacity, "live", (json_int_t)op->res.u.offer.live,
                     "seats_left", (json_int_t)(op->res.u.offer.capacity - op->res.u.offer.live),
                     "fee", (json_int_t)op->res.u.offer.fee, "window_opens",
                     net_api_time_json(op->res.u.offer.window_opens), "window_closes",
                     net_api_time_json(op->res.u.offer.window_closes));
}

/* ---- PUT /api/v1/admin/schools/{school}/settings ---- */
void net_api_admin_settings(net_call_t *call, const char *rest)
{
    static const char *const allowed[] = {"oral_elsewhere", NULL};
    const char *slash = strchr(rest, '/');
    if (!slash || slash - rest != 5 || strspn(rest, "0123456789") != 5 ||
        strcmp(slash, "/settings") != 0) {
        net_call_reply_error(call, CET_E_NOT_FOUND, NULL);
        return;
    }
    if (!net_api_admin_begin(call)) return;
    eng_op_t *op = admin_op(call, ENG_OP_ADMIN_SETTINGS);
    if (!admin_idem(call)) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    cet_err_t e = net_json_bool(j, "oral_elsewhere", true, &op->in.flag);
    if (e) {
        net_call_reply_error(call, e, "oral_elsewhere");
        return;
    }
    op->in.school = (uint32_t)atoi(rest);
    net_call_submit(call);
}

json_t *net_api_render_admin_settings(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:o,s:b}", "school", net_api_code5(op->res.u.settings.school),
                     "oral_elsewhere", op->res.u.settings.oral_elsewhere);
}

/* ---- announcements ---- */
typedef struct ann_list {
    net_call_t *call;
    store_txn_t *txn;
    uint16_t province; /* the caller's */
    json_t *arr;
    int rc;
} ann_list_t;

static int ann_list_cb(const store_announcement_t *a, const char *title, const char *body,
                       void *arg)
{
    ann_list_t *l = arg;
    bool mine;
    if (a->scope == STORE_ANNOUNCE_PROVINCE) {
        mine = a->code == l->province;
    } else {
        int rc = net_api_admin_school_ok(l->call, l->txn, a->code);
        if (rc && rc != CET_E_FORBIDDEN) return rc;
        mine = rc == 0;
    }
    if (!mine) return 0;
    char code[8];
    snprintf(code, sizeof code, a->scope == STORE_ANNOUNCE_PROVINCE ? "%02u" : "%05u", a->code);
    json_array_append_new(
        l->arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)a->id, "scope",
                          a->scope == STORE_ANNOUNCE_PROVINCE ? "province" : "school", "code", code,
                          "title", title, "body", body, "posted_at", net_api_time_json(a->at),
                          "posted_by", a->actor));
    return 0;
}

void net_api_admin_announcements_get(net_call_t *call)
{
    if (!net_api_admin_begin(call)) return;
    ann_list_t l = {.call = call, .txn = call->rtxn, .arr = json_array()};
    l.province = caller_province(call, l.txn);
    int rc = store_announcement_scan(l.txn, call->api->st, 0, 0, ann_list_cb, &l);
    if (rc) {
        json_decref(l.arr);
        net_call_reply_store_error(call, rc);
        return;
    }
    net_call_reply_json(call, 200, json_pack("{s:o}", "announcements", l.arr));
}

void net_api_admin_announcements_post(net_call_t *call)
{
    static const char *const allowed[] = {"scope", "school", "title", "body", NULL};
    if (!net_api_admin_begin(call)) return;
    eng_op_t *op = admin_op(call, ENG_OP_ADMIN_ANNOUNCE_POST);
    if (!admin_idem(call)) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    const char *scope = NULL, *school = NULL, *field = "scope";
    cet_err_t e = net_json_str(j, "scope", false, &scope);
    if (!e && scope && strcmp(scope, "school") && strcmp(scope, "province"))
        e = CET_E_INVALID_FIELD;
    bool province = scope && !strcmp(scope, "province");
    const store_staff_t *s = &call->auth.staff;
    if (!e) {
        field = "school";
        e = net_json_str(j, "school", false, &school);
        if (!e && school && (strlen(school) != 5 || strspn(school, "0123456789") != 5))
            e = CET_E_INVALID_FIELD;
    }
    if (!e && province) {
        if (s->role != STORE_STAFF_PROVINCE) e = CET_E_FORBIDDEN;
        op->in.school = s->scope;
    } else if (!e) {
        if (school)
            op->in.school = (uint32_t)atoi(school);
        else if (s->role == STORE_STAFF_SCHOOL)
            op->in.school = s->scope;
        else
            e = CET_E_MISSING_FIELD; /* province staff name the school */
    }
    const char *title = NULL, *body = NULL;
    if (!e) {
        field = "title";
        e = net_json_str(j, "title", true, &title);
        if (!e &&
            (!*title || strlen(title) > STORE_ANNOUNCE_TITLE_BYTES_MAX || strchr(title, '\n')))
            e = CET_E_INVALID_FIELD;
    }
    if (!e) {
        field = "body";
        e = net_json_str(j, "body", true, &body);
        if (!e && strlen(body) > CET_ANNOUNCE_BYTES_MAX - STORE_ANNOUNCE_TITLE_BYTES_MAX - 4)
            e = CET_E_INVALID_FIELD;
    }
    if (e) {
        net_call_reply_error(call, e, e == CET_E_FORBIDDEN ? NULL : field);
        return;
    }
    op->in.flag = province;
    call->admin_text[0] = title; /* both live in call->body until the reply */
    call->admin_text[1] = body;
    op->in.ext = (void *)call->admin_text;
    net_call_submit(call);
}

json_t *net_api_render_admin_announce(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    char code[8];
    bool prov = op->res.u.announce.scope == STORE_ANNOUNCE_PROVINCE;
    snprintf(code, sizeof code, prov ? "%02u" : "%05u", op->res.u.announce.code);
    return json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)op->res.u.announce.id, "scope",
                     prov ? "province" : "school", "code", code, "at",
                     net_api_time_json(op->res.u.announce.at));
}

void net_api_admin_announcement_delete(net_call_t *call, const char *id_s)
{
    uint64_t id = 0;
    if (!net_api_id_parse(id_s, &id) || id > UINT32_MAX) {
        net_call_reply_error(call, CET_E_ANNOUNCEMENT_NOT_FOUND, NULL);
        return;
    }
    if (!net_api_admin_begin(call)) return;
    eng_op_t *op = admin_op(call, ENG_OP_ADMIN_ANNOUNCE_DELETE);
    if (!admin_idem(call)) return;
    op->in.item_id = (uint32_t)id;
    net_call_submit(call);
}

/* ---- GET /api/v1/admin/audit?after=SEQ&limit=N ---- */
typedef struct audit_list {
    net_call_t *call;
    store_txn_t *txn;
    uint16_t province;
    json_t *arr;
    uint64_t last;
} audit_list_t;

/* Whether the caller may read an entry's contents: its target names a school in scope,
 * or the caller's province, or the caller wrote it. */
static int audit_visible(audit_list_t *l, const store_audit_entry_t *e, bool *yes)
{
    *yes = !strcmp(e->actor, l->call->auth.staff.user);
    unsigned code = 0;
    if (*yes) return 0;
    if (sscanf(e->target, "school:%5u", &code) == 1) {
        int rc = net_api_admin_school_ok(l->call, l->txn, code);
        if (rc && rc != CET_E_FORBIDDEN) return rc;
        *yes = rc == 0;
    } else if (sscanf(e->target, "province:%2u", &code) == 1) {
        *yes = code == l->province;
    }
    return 0;
}

static int audit_cb(const store_audit_entry_t *e, void *arg)
{
    audit_list_t *l = arg;
    bool yes;
    int rc = audit_visible(l, e, &yes);
    if (rc) return rc;
    char prev[65], hash[65];
    cet_hex(prev, e->prev_hash, 32);
    cet_hex(hash, e->hash, 32);
    json_t *o;
    if (yes) {
        char at[26];
        o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "seq", (json_int_t)e->seq, "at",
                      cet_time_format(e->at, at), "actor", e->actor, "action", e->action, "target",
                      e->target, "detail", e->detail, "prev_hash", prev, "hash", hash);
    } else {
        /* another scope's entry: its place in the chain, not its contents */
        o = json_pack("{s:I,s:b,s:s,s:s}", "seq", (json_int_t)e->seq, "redacted", 1, "prev_hash",
                      prev, "hash", hash);
    }
    json_array_append_new(l->arr, o);
    l->last = e->seq;
    return 0;
}

void net_api_admin_audit(net_call_t *call)
{
    if (!net_api_admin_begin(call)) return;
    uint64_t after = 0, limit = CET_ADMIN_AUDIT_PAGE_MAX;
    const char *a = net_req_query(call->req, "after");
    const char *m = net_req_query(call->req, "limit");
    if (a && strcmp(a, "0") != 0 && !net_api_id_parse(a, &after)) {
        net_call_reply_error(call, CET_E_BAD_QUERY, "after");
        return;
    }
    if (m && (!net_api_id_parse(m, &limit) || limit > CET_ADMIN_AUDIT_PAGE_MAX)) {
        net_call_reply_error(call, CET_E_BAD_QUERY, "limit");
        return;
    }
    audit_list_t l = {.call = call, .txn = call->rtxn, .arr = json_array(), .last = after};
    l.province = caller_province(call, l.txn);
    int rc = store_audit_scan(l.txn, call->api->st, after, limit, audit_cb, &l);
    if (rc) {
        json_decref(l.arr);
        net_call_reply_store_error(call, rc);
        return;
    }
    uint64_t head = 0;
    store_meta_get_u64(l.txn, call->api->st, "audit_seq", &head);
    net_call_reply_json(call, 200,
                        json_pack("{s:o,s:I,s:I,s:s}", "entries", l.arr, "next_after",
                                  (json_int_t)l.last, "head_seq", (json_int_t)head, "hash",
                                  "sha256 over netstrings of seq, at, actor, action, target, "
                                  "detail, prev_hash (docs/storage.md)"));
}

/* ---- reads that walk a whole scope run on the pool, with its own read txn ---- */
typedef struct admin_read {
    net_work_t w;
    net_call_t *call;
    admin_build_cb build;
    int arg;
    json_t *out;
    int rc;
} admin_read_t;

static void admin_read_work_cb(net_work_t *w)
{
    admin_read_t *r = w->arg;
    store_txn_t *txn;
    r->rc = store_read_begin(r->call->api->st, &txn);
    if (r->rc) return;
    r->rc = r->build(r->call, txn, r->arg, &r->out);
    store_abort(txn);
}

static void admin_read_done_cb(net_work_t *w)
{
    admin_read_t *r = w->arg;
    net_call_t *call = r->call;
    int rc = r->rc;
    json_t *out = r->out;
    cet_free(r);
    if (rc) {
        json_decref(out);
        net_call_reply_store_error(call, rc);
        return;
    }
    net_call_reply_json(call, 200, out);
}

/* Ends the core's read txn and answers the call with build's JSON from the pool. */
static void admin_read_on_pool(net_call_t *call, admin_build_cb build, int arg)
{
    admin_read_t *r = cet_calloc(1, sizeof *r);
    r->call = call;
    r->build = build;
    r->arg = arg;
    r->w.work_cb = admin_read_work_cb;
    r->w.done_cb = admin_read_done_cb;
    r->w.arg = r;
    net_call_read_done(call);
    cet_err_t e = net_pool_submit(net_req_core(call->req), &r->w);
    if (e) {
        cet_free(r);
        net_call_reply_error(call, e, NULL);
    }
}

/* ---- GET /api/v1/admin/dashboard ---- */
typedef struct dash {
    net_call_t *call;
    store_txn_t *txn;
    json_t *schools, *offers;
    uint32_t school_codes[CET_ADMIN_SCHOOLS_MAX];
    size_t nschools;
    /* per offer of the scope: paid and unpaid registrations, by (campus, subject) */
    struct {
        uint32_t campus;
        char subject;
        uint32_t regs, paid;
    } cnt[CET_ADMIN_OFFERS_MAX];
    size_t ncnt;
    uint64_t pending;
} dash_t;

static int dash_school_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    dash_t *d = arg;
    (void)key;
    store_school_t s;
    if (klen != 4 || vlen != sizeof s) return 0;
    memcpy(&s, val, sizeof s);
    int rc = net_api_admin_school_ok(d->call, d->txn, s.code);
    if (rc == CET_E_FORBIDDEN) return 0;
    if (rc) return rc;
    if (d->nschools >= CET_ADMIN_SCHOOLS_MAX) return CET_DONE;
    d->school_codes[d->nschools++] = s.code;
    json_array_append_new(d->schools, json_pack("{s:o,s:s,s:b}", "code", net_api_code5(s.code),
                                                "name", s.name, "oral_elsewhere",
                                                (s.flags & STORE_SCHOOL_ORAL_ELSEWHERE) != 0));
    return 0;
}

static bool dash_has_school(const dash_t *d, uint32_t school)
{
    for (size_t i = 0; i < d->nschools; i++)
        if (d->school_codes[i] == school) return true;
    return false;
}

static int dash_count(dash_t *d, uint32_t campus, char subject, bool paid)
{
    for (size_t i = 0; i < d->ncnt; i++)
        if (d->cnt[i].campus == campus && d->cnt[i].subject == subject) {
            d->cnt[i].regs++;
            d->cnt[i].paid += paid;
            return 0;
        }
    if (d->ncnt >= CET_ADMIN_OFFERS_MAX) return 0;
    d->cnt[d->ncnt].campus = campus;
    d->cnt[d->ncnt].subject = subject;
    d->cnt[d->ncnt].regs = 1;
    d->cnt[d->ncnt].paid = paid;
    d->ncnt++;
    return 0;
}

/* Registrations of the scope's candidates (a school's roster index, then each candidate). */
static int dash_roster_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    dash_t *d = arg;
    (void)val, (void)vlen;
    if (klen != 8) return 0;
    uint32_t no = store_rd32((const uint8_t *)key + 4);
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(d->txn, d->call->api->st, no, regs, CET_CANDIDATE_REGS_MAX);
    if (n < 0) return n;
    for (int i = 0; i < n; i++)
        dash_count(d, regs[i].campus, regs[i].subject, regs[i].flags & STORE_REG_PAID);
    return 0;
}

static int dash_offer_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    dash_t *d = arg;
    (void)key;
    store_offer_t o;
    if (klen != 5 || vlen != sizeof o) return 0;
    memcpy(&o, val, sizeof o);
    store_campus_t cp;
    int rc = store_campus_get(d->txn, d->call->api->st, o.campus, &cp);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    if (!dash_has_school(d, cp.school)) return 0;
    uint32_t live = 0;
    if ((rc = eng_seats_live_get(d->txn, d->call->api->st, o.campus, o.subject, &live))) return rc;
    store_subject_t subj;
    const char *sname = "";
    if (store_subject_get(d->txn, d->call->api->st, o.subject, &subj) == 0) sname = subj.name;
    uint32_t regs = 0, paid = 0;
    for (size_t i = 0; i < d->ncnt; i++)
        if (d->cnt[i].campus == o.campus && d->cnt[i].subject == o.subject)
            regs = d->cnt[i].regs, paid = d->cnt[i].paid;
    char s[2] = {o.subject, 0};
    json_array_append_new(
        d->offers,
        json_pack("{s:o,s:s,s:o,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "campus",
                  net_api_code6(o.campus), "campus_name", cp.name, "school",
                  net_api_code5(cp.school), "subject", s, "subject_name", sname, "capacity",
                  (json_int_t)o.capacity, "live", (json_int_t)live, "seats_left",
                  (json_int_t)(o.capacity > live ? o.capacity - live : 0), "fee", (json_int_t)o.fee,
                  "own_registrations", (json_int_t)regs, "own_paid", (json_int_t)paid,
                  "window_opens", net_api_time_json(o.window_opens), "window_closes",
                  net_api_time_json(o.window_closes)));
    return 0;
}

static int dash_review_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    dash_t *d = arg;
    (void)key;
    store_review_t rv;
    if (klen != 16 || vlen != sizeof rv) return 0;
    memcpy(&rv, val, sizeof rv);
    if (rv.state != STORE_REVIEW_PENDING) return 0;
    store_roster_t ro;
    int rc = store_roster_get_by_no(d->txn, d->call->api->st, rv.roster_no, &ro);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    if (dash_has_school(d, ro.school)) d->pending++;
    return 0;
}

static int dash_build(net_call_t *call, store_txn_t *txn, int arg, json_t **out)
{
    (void)arg;
    dash_t *d = cet_calloc(1, sizeof *d);
    d->call = call;
    d->txn = txn;
    d->schools = json_array();
    d->offers = json_array();
    store_t *st = call->api->st;
    int rc = store_scan(d->txn, st, STORE_DB_SCHOOL, NULL, 0, dash_school_cb, d);
    for (size_t i = 0; !rc && i < d->nschools; i++) {
        uint8_t p[4];
        store_be32(p, d->school_codes[i]);
        rc = store_scan(d->txn, st, STORE_DB_ROSTER_SCHOOL, p, 4, dash_roster_cb, d);
    }
    if (!rc) rc = store_scan(d->txn, st, STORE_DB_OFFER, NULL, 0, dash_offer_cb, d);
    if (!rc) rc = store_scan(d->txn, st, STORE_DB_REVIEW, NULL, 0, dash_review_cb, d);
    eng_phase_t phase = ENG_PHASE_NONE;
    json_t *sitting = rc ? NULL : net_api_sitting_json(d->txn, call->api, &phase);
    if (rc) {
        json_decref(d->schools);
        json_decref(d->offers);
        cet_free(d);
        return rc;
    }
    const store_staff_t *s = &call->auth.staff;
    char scope[8];
    snprintf(scope, sizeof scope, s->role == STORE_STAFF_SCHOOL ? "%05u" : "%02u", s->scope);
    *out =
        json_pack("{s:{s:s,s:s,s:s},s:o,s:s,s:o,s:o,s:I}", "staff", "user", s->user, "role",
                  s->role == STORE_STAFF_SCHOOL ? "school" : "province", "scope", scope, "sitting",
                  sitting ? sitting : json_null(), "phase", eng_phase_name(phase), "schools",
                  d->schools, "offers", d->offers, "pending_reviews", (json_int_t)d->pending);
    cet_free(d);
    return 0;
}

void net_api_admin_dashboard(net_call_t *call)
{
    if (!net_api_admin_begin(call)) return;
    admin_read_on_pool(call, dash_build, 0);
}

/* ---- POST /api/v1/admin/roster?dry_run=0|1: the file, parsed on the pool ---- */
typedef struct roster_job {
    net_work_t w;
    net_call_t *call;
    store_t *st;
    const char *data;
    size_t len;
    bool dry_run;
    uint32_t scope_school;
    uint16_t scope_province;
    cet_sheet_problem_t file_prob; /* the file cannot be read at all (code set) */
    int storage_rc;
    uint64_t rows, inserted, updated; /* dry run: what applying would do */
    size_t cap;
    eng_roster_batch_t b;
    /* in-file duplicates: open addressing over XXH3-64 of the roster key */
    uint64_t *seen;
    unsigned *seen_line;
    size_t seen_cap;
} roster_job_t;

static void job_problem(roster_job_t *job, unsigned line, cet_err_t code, int col, const char *msg)
{
    eng_row_problem_t p = {.code = code, .col = col, .line = line};
    cet_strlcpy(p.message, msg, sizeof p.message);
    job->b.bad++;
    if (job->b.nprobs < job->b.probs_max) job->b.probs[job->b.nprobs++] = p;
}

/* The line a key was first seen on, or 0 (then it is added). */
static unsigned seen_add(roster_job_t *job, const store_roster_t *r, unsigned line)
{
    if ((job->b.n + 1) * 2 > job->seen_cap) {
        size_t cap = job->seen_cap ? job->seen_cap * 2 : 1024;
        uint64_t *s = cet_calloc(cap, sizeof *s);
        unsigned *l = cet_calloc(cap, sizeof *l);
        for (size_t i = 0; i < job->seen_cap; i++) {
            if (!job->seen[i]) continue;
            size_t k = job->seen[i] & (cap - 1);
            while (s[k])
                k = (k + 1) & (cap - 1);
            s[k] = job->seen[i];
            l[k] = job->seen_line[i];
        }
        cet_free(job->seen);
        cet_free(job->seen_line);
        job->seen = s;
        job->seen_line = l;
        job->seen_cap = cap;
    }
    uint8_t key[1 + CET_ID_NUMBER_BYTES];
    size_t kl = store_roster_key(key, r->id_type, r->id_number);
    uint64_t h = XXH3_64bits(key, kl) | 1;
    size_t k = h & (job->seen_cap - 1);
    while (job->seen[k]) {
        if (job->seen[k] == h) return job->seen_line[k];
        k = (k + 1) & (job->seen_cap - 1);
    }
    job->seen[k] = h;
    job->seen_line[k] = line;
    return 0;
}

static void roster_rows(roster_job_t *job, store_txn_t *txn)
{
    store_subject_t *subjects = cet_malloc(256 * sizeof *subjects);
    cet_sheet_t *sh = NULL;
    int rc = eng_subjects_load(txn, job->st, subjects);
    if (rc) {
        job->storage_rc = rc;
        goto out;
    }
    if (cet_sheet_open(job->data, job->len, &sh, &job->file_prob) != 0) goto out;
    cet_sheet_map_t map;
    cet_sheet_problem_t hp[8];
    int nh = 0;
    if (cet_sheet_header(sh, &cet_sheet_roster, &map, hp, 8, &nh) != 0) {
        for (int i = 0; i < nh; i++)
            job_problem(job, hp[i].line, hp[i].code, -1, hp[i].message);
        goto out;
    }
    const char *labels[CET_SHEET_FIELDS_MAX];
    for (int i = 0; i < cet_sheet_roster.ncols; i++)
        labels[i] = cet_sheet_roster.cols[i].name;
    cet_sheet_row_t row;
    cet_sheet_problem_t why;
    uint32_t cc = 0, cs = 0;
    for (;;) {
        int r = cet_sheet_next(sh, &row, &why);
        if (r == 0) break;
        job->rows++;
        if (r != 1) {
            job_problem(job, why.line ? why.line : row.line, why.code, -1, why.message);
            continue;
        }
        const char *vals[CET_SHEET_FIELDS_MAX];
        if (cet_sheet_values(sh, &map, &row, vals, &why) != 0) {
            int col = why.field[0] ? cet_sheet_col_index(&cet_sheet_roster, why.field) : -1;
            job_problem(job, row.line, why.code, col, why.message);
            continue;
        }
        store_roster_t rec;
        eng_row_problem_t probs[4];
        int np = eng_roster_row(vals, labels, subjects, &rec, probs, 4);
        for (int i = 0; i < np && i < 4; i++)
            job_problem(job, row.line, probs[i].code, probs[i].col, probs[i].message);
        if (np) continue;
        eng_row_problem_t pw;
        rc = eng_roster_place(txn, job->st, &rec, job->scope_school, job->scope_province, "school",
                              &cc, &cs, &pw);
        if (rc == CET_REFUSED) {
            job_problem(job, row.line, pw.code, pw.col, pw.message);
            continue;
        }
        if (rc) {
            job->storage_rc = rc;
            goto out;
        }
        unsigned first = seen_add(job, &rec, row.line);
        if (first) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s %s is already given on line %u",
                     cet_id_type_name(rec.id_type), rec.id_number, first);
            job_problem(job, row.line, CET_E_DUPLICATE_ROW, ENG_ROSTER_ID_NUMBER, msg);
            continue;
        }
        store_roster_t old;
        rc = store_roster_get(txn, job->st, rec.id_type, rec.id_number, &old);
        if (rc && rc != STORE_NOTFOUND) {
            job->storage_rc = rc;
            goto out;
        }
        if (rc == 0)
            job->updated++;
        else
            job->inserted++;
        if (job->b.bad) continue; /* nothing will be applied: keep validating only */
        if (job->b.n == job->cap) {
            job->cap = job->cap ? 2 * job->cap : 256;
            job->b.rows = cet_realloc(job->b.rows, job->cap * sizeof *job->b.rows);
            job->b.lines = cet_realloc(job->b.lines, job->cap * sizeof *job->b.lines);
        }
        job->b.rows[job->b.n] = rec;
        job->b.lines[job->b.n] = row.line;
        job->b.n++;
    }
    if (job->rows == 0 && !job->b.bad)
        job_problem(job, 0, CET_E_SHEET_EMPTY, -1, "the file has a header but no rows");
out:
    cet_sheet_free(sh);
    cet_free(subjects);
}

static void roster_work_cb(net_work_t *w)
{
    roster_job_t *job = w->arg;
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)job->data, job->len);
    cet_hex(job->b.file_hash, h, 32);
    store_txn_t *txn;
    int rc = store_read_begin(job->st, &txn);
    if (rc) {
        job->storage_rc = rc;
        return;
    }
    roster_rows(job, txn);
    store_abort(txn);
}

static void roster_job_free(roster_job_t *job)
{
    cet_free(job->b.rows);
    cet_free(job->b.lines);
    cet_free(job->b.probs);
    cet_free(job->seen);
    cet_free(job->seen_line);
    cet_free(job);
}

static json_t *roster_errors_json(const eng_roster_batch_t *b)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < b->nprobs; i++) {
        const eng_row_problem_t *p = &b->probs[i];
        const char *field = p->col >= 0 && p->col < cet_sheet_roster.ncols
                                ? cet_sheet_roster.cols[p->col].name
                                : "";
        json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s}", "line", (json_int_t)p->line,
                                             "field", field, "code", cet_err_code(p->code),
                                             "message", p->message));
    }
    return arr;
}

/* Replies the job's answer: 200 with the counts, or 422 roster_refused with the errors. */
static void roster_reply(roster_job_t *job, uint64_t inserted, uint64_t updated)
{
    net_call_t *call = job->call;
    json_t *j =
        json_pack("{s:I,s:I,s:I,s:b,s:I,s:o}", "rows", (json_int_t)job->rows, "inserted",
                  (json_int_t)inserted, "updated", (json_int_t)updated, "dry_run", job->dry_run,
                  "error_count", (json_int_t)job->b.bad, "errors", roster_errors_json(&job->b));
    int status = 200;
    if (job->b.bad) {
        /* a row of a school outside the caller's scope: the file is forbidden, all of it */
        cet_err_t e = CET_E_ROSTER_REFUSED;
        for (size_t i = 0; i < job->b.nprobs; i++)
            if (job->b.probs[i].code == CET_E_ROSTER_OTHER_SCHOOL) e = CET_E_FORBIDDEN;
        status = cet_err_status(e);
        json_object_set_new(j, "error",
                            json_pack("{s:s,s:s}", "code", cet_err_code(e), "message",
                                      e == CET_E_FORBIDDEN
                                          ? cet_err_message(CET_E_ROSTER_OTHER_SCHOOL)
                                          : cet_err_message(e)));
    }
    roster_job_free(job);
    net_call_reply_json(call, status, j);
}

static void roster_op_done_cb(store_req_t *r)
{
    eng_op_t *op = (eng_op_t *)r;
    net_call_t *call = op->user;
    roster_job_t *job = (roster_job_t *)((char *)op->in.ext - offsetof(roster_job_t, b));
    if (op->res.err && op->res.err != CET_E_ROSTER_REFUSED) {
        roster_job_free(job);
        net_call_reply_op(call);
        return;
    }
    if (op->res.err == CET_E_ROSTER_REFUSED) {
        roster_reply(job, 0, 0);
        return;
    }
    roster_reply(job, op->res.u.roster.inserted, op->res.u.roster.updated);
}

static void roster_done_cb(net_work_t *w)
{
    roster_job_t *job = w->arg;
    net_call_t *call = job->call;
    if (job->storage_rc) {
        int rc = job->storage_rc;
        roster_job_free(job);
        net_call_reply_store_error(call, rc);
        return;
    }
    if (job->file_prob.code) {
        cet_err_t e = job->file_prob.code;
        json_t *j =
            json_pack("{s:{s:s,s:s},s:i,s:i,s:i,s:[{s:I,s:s,s:s,s:s}]}", "error", "code",
                      cet_err_code(e), "message", job->file_prob.message, "rows", 0, "inserted", 0,
                      "updated", 0, "errors", "line", (json_int_t)job->file_prob.line, "field", "",
                      "code", cet_err_code(e), "message", job->file_prob.message);
        roster_job_free(job);
        net_call_reply_json(call, cet_err_status(e), j);
        return;
    }
    if (job->dry_run || job->b.bad) {
        roster_reply(job, job->b.bad ? 0 : job->inserted, job->b.bad ? 0 : job->updated);
        return;
    }
    eng_op_t *op = admin_op(call, ENG_OP_ADMIN_ROSTER);
    op->done_cb = roster_op_done_cb;
    op->in.ext = &job->b;
    net_call_submit(call); /* no read txn now: the writer checks everything again */
    (void)0;
}

void net_api_admin_roster(net_call_t *call)
{
    if (!net_api_admin_begin(call)) return;
    const char *d = net_req_query(call->req, "dry_run");
    if (d && strcmp(d, "0") && strcmp(d, "1") && strcmp(d, "true") && strcmp(d, "false")) {
        net_call_reply_error(call, CET_E_BAD_QUERY, "dry_run");
        return;
    }
    roster_job_t *job = cet_calloc(1, sizeof *job);
    job->call = call;
    job->st = call->api->st;
    job->data = net_req_body(call->req, &job->len);
    job->dry_run = d && (!strcmp(d, "1") || !strcmp(d, "true"));
    const store_staff_t *s = &call->auth.staff;
    if (s->role == STORE_STAFF_SCHOOL)
        job->scope_school = s->scope;
    else
        job->scope_province = (uint16_t)s->scope;
    job->b.probs_max = CET_ADMIN_ROSTER_ERRORS_MAX;
    job->b.probs = cet_calloc(job->b.probs_max, sizeof *job->b.probs);
    job->w.work_cb = roster_work_cb;
    job->w.done_cb = roster_done_cb;
    job->w.arg = job;
    net_call_read_done(call);
    cet_err_t e = net_pool_submit(net_req_core(call->req), &job->w);
    if (e) {
        roster_job_free(job);
        net_call_reply_error(call, e, NULL);
    }
}

/* ---- GET /api/v1/admin/registrations?state=unpaid|locked|paid|all: for group payment ---- */
typedef struct reg_list {
    net_call_t *call;
    store_txn_t *txn;
    int want; /* 0 all, 1 unpaid, 2 locked, 3 paid */
    json_t *arr;
    size_t n;
} reg_list_t;

static int reg_list_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    reg_list_t *l = arg;
    (void)val, (void)vlen;
    if (klen != 8) return 0;
    uint32_t no = store_rd32((const uint8_t *)key + 4);
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(l->txn, l->call->api->st, no, regs, CET_CANDIDATE_REGS_MAX);
    if (n < 0) return n;
    if (n == 0) return 0;
    store_candidate_t c;
    int rc = store_candidate_get(l->txn, l->call->api->st, no, &c);
    if (rc == STORE_NOTFOUND) return 0;
    if (rc) return rc;
    for (int i = 0; i < n; i++) {
        const store_reg_t *r = &regs[i];
        int st = (r->flags & STORE_REG_PAID) ? 3 : (r->flags & STORE_REG_LOCKED) ? 2 : 1;
        if (l->want && st != l->want) continue;
        if (l->n >= CET_ADMIN_LIST_MAX) return CET_DONE;
        char s[2] = {r->subject, 0};
        static const char *const names[] = {"", "unpaid", "locked", "paid"};
        json_array_append_new(l->arr, json_pack("{s:s,s:s,s:s,s:s,s:o,s:I,s:s,s:b,s:o}", "id_type",
                                                cet_id_type_name(c.snapshot.id_type), "id_number",
                                                c.snapshot.id_number, "name", c.snapshot.name,
                                                "subject", s, "campus", net_api_code6(r->campus),
                                                "fee", (json_int_t)r->fee, "state", names[st],
                                                "in_order", r->order_id != 0, "expires_at",
                                                net_api_time_json(r->expires)));
        l->n++;
    }
    return 0;
}

static int reg_school_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    reg_list_t *l = arg;
    (void)key;
    store_school_t s;
    if (klen != 4 || vlen != sizeof s) return 0;
    memcpy(&s, val, sizeof s);
    int rc = net_api_admin_school_ok(l->call, l->txn, s.code);
    if (rc == CET_E_FORBIDDEN) return 0;
    if (rc) return rc;
    uint8_t p[4];
    store_be32(p, s.code);
    return store_scan(l->txn, l->call->api->st, STORE_DB_ROSTER_SCHOOL, p, 4, reg_list_cb, l);
}

static int reg_build(net_call_t *call, store_txn_t *txn, int want, json_t **out)
{
    reg_list_t l = {.call = call, .txn = txn, .want = want, .arr = json_array()};
    int rc = store_scan(l.txn, call->api->st, STORE_DB_SCHOOL, NULL, 0, reg_school_cb, &l);
    if (rc) {
        json_decref(l.arr);
        return rc;
    }
    *out = json_pack("{s:o}", "registrations", l.arr);
    return 0;
}

void net_api_admin_registrations(net_call_t *call)
{
    if (!net_api_admin_begin(call)) return;
    const char *q = net_req_query(call->req, "state");
    int want;
    if (!q || !strcmp(q, "all"))
        want = 0;
    else if (!strcmp(q, "unpaid"))
        want = 1;
    else if (!strcmp(q, "locked"))
        want = 2;
    else if (!strcmp(q, "paid"))
        want = 3;
    else {
        net_call_reply_error(call, CET_E_BAD_QUERY, "state");
        return;
    }
    admin_read_on_pool(call, reg_build, want);
}
