/*
 * net_api_candidate.c: the candidate: /me, the agreement, roster lookup and binding,
 * the registration page, the CET6 review.
 */
#include "net/net_api_internal.h"

#include <string.h>

#include "base/cet_id.h"
#include "net/net_ratelimit.h"

/* ---- me, agreement ---- */
static const char *review_state(store_txn_t *txn, net_api_t *api, const uint8_t account[16],
                                store_review_t *rv)
{
    if (store_review_get(txn, api->st, account, rv) != 0) return NULL;
    return eng_review_state_name(rv->state);
}

json_t *net_api_sitting_json(store_txn_t *txn, net_api_t *api, eng_phase_t *phase)
{
    store_sitting_t s;
    memset(&s, 0, sizeof s);
    store_sitting_get(txn, api->st, &s);
    *phase = eng_phase(&s, cet_now_s());
    if (!s.id) return json_null();
    return json_pack(
        "{s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)s.id, "name", s.name,
        "lookup_opens", net_api_time_json(s.lookup_opens), "registration_opens",
        net_api_time_json(s.reg_opens), "registration_closes", net_api_time_json(s.reg_closes),
        "print_opens", net_api_time_json(s.print_opens), "written_date",
        net_api_time_json(s.written_date), "oral_date_4", net_api_time_json(s.oral_date_4),
        "oral_date_6", net_api_time_json(s.oral_date_6));
}

void net_api_me(net_call_t *call)
{
    net_api_t *api = call->api;
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    if (!net_api_auth(call, txn, STORE_SESSION_CANDIDATE)) return;
    const api_auth_t *a = &call->auth;
    char hex[33];
    cet_hex(hex, a->account, 16);
    eng_phase_t phase;
    json_t *sitting = net_api_sitting_json(txn, api, &phase);
    store_review_t rv;
    const char *rs = review_state(txn, api, a->account, &rv);
    json_t *cand = json_null();
    store_candidate_t c;
    if (a->acct.roster_no && store_candidate_get(txn, api->st, a->acct.roster_no, &c) == 0) {
        char name[CET_NAME_BYTES];
        eng_mask_name(c.snapshot.name, name, sizeof name);
        cand = json_pack(
            "{s:s,s:o,s:o,s:o}", "name", name, "school", net_api_code5(c.snapshot.school), "campus",
            net_api_code6(c.snapshot.campus), "bound_at", net_api_time_json(c.bound_at));
    }
    json_t *j = json_pack("{s:s,s:s,s:b,s:o,s:o,s:s,s:b,s:o,s:o}", "account_id", hex, "email",
                          a->acct.email, "agreed", a->acct.agreed_at != 0, "agreed_at",
                          net_api_time_json(a->acct.agreed_at), "sitting", sitting, "phase",
                          eng_phase_name(phase), "bound", a->acct.roster_no != 0, "candidate", cand,
                          "cet6_review", rs ? json_string(rs) : json_null());
    net_call_reply_json(call, 200, j);
}

eng_op_t *net_api_candidate_op(net_call_t *call, eng_op_kind_t kind)
{
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return NULL;
    if (!net_api_auth(call, txn, STORE_SESSION_CANDIDATE)) return NULL;
    eng_op_t *op = net_call_op(call, kind);
    memcpy(op->account, call->auth.account, 16);
    op->account_read = &call->auth.acct; /* read on the txn net_call_submit hands the engine */
    if (!net_call_idem(call, call->auth.account)) return NULL;
    return op;
}

void net_api_agreement(net_call_t *call)
{
    if (net_api_candidate_op(call, ENG_OP_AGREE)) net_call_submit(call);
}

json_t *net_api_render_agree(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:b,s:o}", "agreed", 1, "agreed_at",
                     net_api_time_json(op->res.u.agree.agreed_at));
}

/* ---- roster lookup and binding ---- */
static json_t *subject_list_json(store_txn_t *txn, net_api_t *api, const store_roster_t *r)
{
    json_t *arr = json_array();
    for (int i = 0; i < r->n_subjects && i < CET_SUBJECTS_MAX; i++) {
        store_subject_t s;
        if (store_subject_get(txn, api->st, r->subjects[i], &s) != 0) continue;
        json_array_append_new(arr,
                              json_pack("{s:s#,s:s,s:s,s:I}", "code", &s.code, (size_t)1, "name",
                                        s.name, "kind", s.kind == STORE_ORAL ? "oral" : "written",
                                        "level", (json_int_t)s.level));
    }
    return arr;
}

static const char *education_name(uint8_t e)
{
    switch (e) {
    case STORE_EDU_BACHELOR:
        return "本科";
    case STORE_EDU_ASSOCIATE:
        return "专科";
    case STORE_EDU_GRADUATE:
        return "研究生";
    }
    return "";
}

static json_t *roster_json(store_txn_t *txn, net_api_t *api, const store_roster_t *r, bool mask)
{
    store_school_t sc;
    store_campus_t cp;
    memset(&sc, 0, sizeof sc);
    memset(&cp, 0, sizeof cp);
    store_school_get(txn, api->st, r->school, &sc);
    store_campus_get(txn, api->st, r->campus, &cp);
    char name[CET_NAME_BYTES], id[CET_ID_NUMBER_BYTES];
    if (mask) {
        eng_mask_name(r->name, name, sizeof name);
        eng_mask_id(r->id_number, id, sizeof id);
    } else {
        cet_strlcpy(name, r->name, sizeof name);
        cet_strlcpy(id, r->id_number, sizeof id);
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "gender",
                          (r->flags & STORE_ROSTER_MALE) ? "男" : "女", "id_type",
                          cet_id_type_name(r->id_type), "id_number", id);
    json_object_set_new(j, "school",
                        json_pack("{s:o,s:s}", "code", net_api_code5(r->school), "name", sc.name));
    json_object_set_new(j, "campus",
                        json_pack("{s:o,s:s}", "code", net_api_code6(r->campus), "name", cp.name));
    json_object_set_new(j, "education", json_string(education_name(r->education)));
    json_object_set_new(j, "program_years", json_integer(r->program_years));
    json_object_set_new(j, "entry_year", json_integer(r->entry_year));
    json_object_set_new(j, "grade", json_integer(r->grade));
    json_object_set_new(j, "department", json_string(r->department));
    json_object_set_new(j, "major", json_string(r->major));
    json_object_set_new(j, "class", json_string(r->class_name));
    json_object_set_new(j, "student_no", json_string(r->student_no));
    json_object_set_new(j, "remarks", json_string(r->remarks));
    json_object_set_new(j, "cet6_barred", json_boolean(r->flags & STORE_ROSTER_CET6_BARRED));
    return j;
}

bool net_api_identity_fields(net_call_t *call, json_t *j, int *id_type, char *id, size_t idcap,
                             const char **name)
{
    const char *type_s, *num;
    cet_err_t e = net_json_str(j, "id_type", true, &type_s);
    const char *field = "id_type";
    if (!e) e = cet_id_type_parse(type_s, id_type);
    if (!e) {
        field = "id_number";
        e = net_json_str(j, "id_number", true, &num);
    }
    if (!e) e = cet_id_number_check(*id_type, num, id, idcap);
    if (!e) {
        field = "name";
        e = net_json_str(j, "name", true, name);
    }
    if (!e) {
        size_t nl = strlen(*name);
        if (nl == 0 || nl >= CET_NAME_BYTES || !cet_utf8_text_ok(*name, nl))
            e = CET_E_INVALID_FIELD;
    }
    if (e) {
        net_call_reply_error(call, e, field);
        return false;
    }
    return true;
}

void net_api_qualification(net_call_t *call)
{
    static const char *const allowed[] = {"id_type", "id_number", "name", NULL};
    net_api_t *api = call->api;
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    if (!net_api_auth(call, txn, STORE_SESSION_CANDIDATE)) return;
    if (!call->auth.acct.agreed_at) {
        net_call_reply_error(call, CET_E_AGREEMENT_REQUIRED, NULL);
        return;
    }
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    int id_type;
    char id[CET_ID_NUMBER_BYTES];
    const char *name;
    if (!net_api_identity_fields(call, j, &id_type, id, sizeof id, &name)) return;
    char hex[33], client[64];
    cet_hex(hex, call->auth.account, 16);
    net_rate_client(net_req_client(call->req), client, sizeof client);
    /* accounts are cheap: per account and per client address */
    if (!net_rate_allow("lookup-ip", client, CET_LOOKUP_CLIENT_PER_MIN_MAX) ||
        !net_rate_allow("lookup", hex, CET_LOOKUP_PER_MIN_MAX)) {
        net_call_reply_error(call, CET_E_RATE_LIMITED, NULL);
        return;
    }
    eng_phase_t phase;
    json_t *sitting = net_api_sitting_json(txn, api, &phase);
    json_decref(sitting);
    if (phase < ENG_PHASE_LOOKUP || phase > ENG_PHASE_OPEN) {
        net_call_reply_error(call, CET_E_WINDOW_CLOSED, NULL);
        return;
    }
    store_roster_t r;
    int rc = store_roster_get(txn, api->st, (uint8_t)id_type, id, &r);
    bool match = rc == 0 && strcmp(r.name, name) == 0;
    if (rc && rc != STORE_NOTFOUND) {
        net_call_reply_store_error(call, rc);
        return;
    }
    if (!match) {
        net_call_reply_error(call, CET_E_ROSTER_NOT_FOUND, NULL);
        return;
    }
    json_t *out =
        json_pack("{s:o,s:o,s:b,s:b}", "roster", roster_json(txn, api, &r, false),
                  "qualified_subjects", subject_list_json(txn, api, &r), "cet6_review_offered",
                  eng_review_offered(txn, api->st, &r), "can_bind", phase == ENG_PHASE_OPEN);
    net_call_reply_json(call, 200, out);
}

void net_api_bind(net_call_t *call)
{
    static const char *const allowed[] = {"id_type", "id_number", "name", "confirmed", NULL};
    eng_op_t *op = net_api_candidate_op(call, ENG_OP_BIND);
    if (!op) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    int id_type;
    const char *name;
    if (!net_api_identity_fields(call, j, &id_type, op->in.id_number, sizeof op->in.id_number,
                                 &name))
        return;
    cet_err_t e = net_api_need_confirmed(j);
    if (e) {
        net_call_reply_error(call, e, "confirmed");
        return;
    }
    op->in.id_type = (uint8_t)id_type;
    cet_strlcpy(op->in.name, name, sizeof op->in.name);
    net_call_submit(call);
}

json_t *net_api_render_bind(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    char school[12], campus[12];
    snprintf(school, sizeof school, "%05u", op->res.u.bind.school);
    snprintf(campus, sizeof campus, "%06u", op->res.u.bind.campus);
    return json_pack("{s:b,s:s,s:s,s:o,s:o}", "bound", 1, "school", school, "campus", campus,
                     "qualified_subjects", net_api_subjects_json(op->res.u.bind.subjects),
                     "bound_at", net_api_time_json(op->res.u.bind.bound_at));
}

/*
 * A paid registration's seat, from the print date on (the date the admission
 * ticket says it all): the 15-digit number, room, seat, the exam's time and
 * where its PDF is; null while unarranged. Before the print date the page says
 * only "arranged" (docs/admission-tickets.md).
 */
static json_t *ticket_json(store_txn_t *txn, const store_t *st, const store_sitting_t *sit,
                           const store_subject_t *subj, const store_reg_t *r)
{
    store_offer_t o;
    net_api_seat_t seat;
    bool have_offer = store_offer_get(txn, st, r->campus, r->subject, &o) == 0;
    if (!net_api_ticket_seat(sit, subj, have_offer ? &o : NULL, r, &seat)) return json_null();
    char url[48];
    snprintf(url, sizeof url, "/api/v1/admission-tickets/%c", r->subject);
    return json_pack("{s:s,s:I,s:I,s:o,s:s,s:s}", "number", seat.number, "room",
                     (json_int_t)r->room, "seat", (json_int_t)r->seat, "exam_date",
                     net_api_time_json(seat.day), "exam_time", seat.time, "pdf", url);
}

/* The registration page. */
void net_api_candidate_get(net_call_t *call)
{
    net_api_t *api = call->api;
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    if (!net_api_auth(call, txn, STORE_SESSION_CANDIDATE)) return;
    const api_auth_t *a = &call->auth;
    store_candidate_t c;
    if (!a->acct.roster_no || store_candidate_get(txn, api->st, a->acct.roster_no, &c) != 0 ||
        memcmp(c.account, a->account, 16) != 0) {
        net_call_reply_error(call, CET_E_NOT_BOUND, NULL);
        return;
    }
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(txn, api->st, a->acct.roster_no, regs, CET_CANDIDATE_REGS_MAX);
    if (n < 0) {
        net_call_reply_store_error(call, n);
        return;
    }
    json_t *written = json_array(), *oral = json_array();
    uint64_t unpaid_w = 0, unpaid_o = 0;
    store_sitting_t sit;
    /* the PDF's own rule (net_api_tickets.c): the sitting's print phase */
    bool printable = store_sitting_get(txn, api->st, &sit) == 0 &&
                     eng_phase(&sit, cet_now_s()) == ENG_PHASE_PRINT;
    for (int i = 0; i < n; i++) {
        store_reg_t *r = &regs[i];
        store_subject_t s;
        store_campus_t cp;
        store_school_t sc;
        memset(&s, 0, sizeof s);
        memset(&cp, 0, sizeof cp);
        memset(&sc, 0, sizeof sc);
        store_subject_get(txn, api->st, r->subject, &s);
        store_campus_get(txn, api->st, r->campus, &cp);
        store_school_get(txn, api->st, cp.school, &sc);
        bool paid = r->flags & STORE_REG_PAID;
        char order[24];
        snprintf(order, sizeof order, "%llu", (unsigned long long)r->order_id);
        json_t *row = json_pack(
            "{s:s#,s:s,s:I,s:s,s:s,s:b,s:s,s:o,s:s,s:o,s:o,s:o,s:o}", "subject", &r->subject,
            (size_t)1, "name", s.name, "fee", (json_int_t)r->fee, "state", paid ? "paid" : "unpaid",
            "payment_state", paid ? "已支付" : "未支付", "locked",
            (r->flags & STORE_REG_LOCKED) != 0, "arrangement",
            (r->flags & STORE_REG_ARRANGED) ? "arranged" : "unarranged", "school",
            json_pack("{s:o,s:s}", "code", net_api_code5(cp.school), "name", sc.name), "method",
            r->method == STORE_BY_SCHOOL ? "school" : "candidate", "campus",
            json_pack("{s:o,s:s}", "code", net_api_code6(r->campus), "name", cp.name), "created_at",
            net_api_time_json(r->created), "expires_at", net_api_time_json(r->expires), "order_id",
            r->order_id ? json_string(order) : json_null());
        json_object_set_new(row, "ticket",
                            printable && paid ? ticket_json(txn, api->st, &sit, &s, r) : json_null());
        if (s.kind == STORE_ORAL) {
            json_array_append_new(oral, row);
            if (!paid) unpaid_o += r->fee;
        } else {
            json_array_append_new(written, row);
            if (!paid) unpaid_w += r->fee;
        }
    }
    char prov[CET_ANNOUNCE_BYTES_MAX + 1], school[CET_ANNOUNCE_BYTES_MAX + 1];
    store_school_t sc;
    memset(&sc, 0, sizeof sc);
    store_school_get(txn, api->st, c.snapshot.school, &sc);
    if (store_announce_get(txn, api->st, STORE_ANNOUNCE_PROVINCE, sc.province, prov, sizeof prov))
        prov[0] = 0;
    if (store_announce_get(txn, api->st, STORE_ANNOUNCE_SCHOOL, sc.code, school, sizeof school))
        school[0] = 0;
    store_review_t rv;
    const char *rs = review_state(txn, api, a->account, &rv);
    json_t *out = json_pack(
        "{s:o,s:o,s:o,s:o,s:{s:I,s:I,s:I},s:{s:s,s:s},s:o,s:b,s:o,s:o}", "candidate",
        roster_json(txn, api, &c.snapshot, true), "qualified_subjects",
        subject_list_json(txn, api, &c.snapshot), "written", written, "oral", oral, "unpaid",
        "written", (json_int_t)unpaid_w, "oral", (json_int_t)unpaid_o, "total",
        (json_int_t)(unpaid_w + unpaid_o), "announcements", "province", prov, "school", school,
        "cet6_review", rs ? json_string(rs) : json_null(), "cet6_review_offered",
        eng_review_offered(txn, api->st, &c.snapshot), "bound_at", net_api_time_json(c.bound_at),
        "delete_at", net_api_time_json(n == 0 ? c.empty_due : 0));
    net_call_reply_json(call, 200, out);
}

/* ---- CET6 review ---- */
void net_api_review_get(net_call_t *call)
{
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    if (!net_api_auth(call, txn, STORE_SESSION_CANDIDATE)) return;
    store_review_t rv;
    const char *rs = review_state(txn, call->api, call->auth.account, &rv);
    if (!rs) {
        net_call_reply_error(call, CET_E_REVIEW_NOT_FOUND, NULL);
        return;
    }
    char name[CET_NAME_BYTES], id[CET_ID_NUMBER_BYTES], ticket[CET_TICKET_DIGITS + 1];
    eng_mask_name(rv.name, name, sizeof name);
    eng_mask_id(rv.id_number, id, sizeof id);
    eng_mask_id(rv.ticket, ticket, sizeof ticket);
    net_call_reply_json(call, 200,
                        json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "state", rs, "name", name,
                                  "id_type", cet_id_type_name(rv.id_type), "id_number", id,
                                  "ticket_number", ticket, "created_at",
                                  net_api_time_json(rv.created), "decided_at",
                                  net_api_time_json(rv.decided)));
}

static void h_review_write(net_call_t *call, eng_op_kind_t kind)
{
    static const char *const allowed[] = {"ticket_number", "confirmed", NULL};
    eng_op_t *op = net_api_candidate_op(call, kind);
    if (!op) return;
    if (kind == ENG_OP_REVIEW_DELETE) {
        net_call_submit(call);
        return;
    }
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    const char *ticket;
    cet_err_t e = net_json_str(j, "ticket_number", true, &ticket);
    const char *field = "ticket_number";
    if (!e) e = cet_ticket_check(ticket);
    if (!e) {
        field = "confirmed";
        e = net_api_need_confirmed(j);
    }
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    cet_strlcpy(op->in.ticket, ticket, sizeof op->in.ticket);
    net_call_submit(call);
}

json_t *net_api_render_review(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    if (op->kind == ENG_OP_REVIEW_DELETE) return json_pack("{s:s}", "state", "deleted");
    return json_pack("{s:s,s:o}", "state", eng_review_state_name(op->res.u.review.state),
                     "qualified_subjects", net_api_subjects_json(op->res.u.review.subjects));
}

void net_api_review_post(net_call_t *call)
{
    h_review_write(call, ENG_OP_REVIEW_SUBMIT);
}

void net_api_review_put(net_call_t *call)
{
    h_review_write(call, ENG_OP_REVIEW_EDIT);
}

void net_api_review_delete(net_call_t *call)
{
    h_review_write(call, ENG_OP_REVIEW_DELETE);
}
