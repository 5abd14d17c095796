/*
 * net_api_staff.c: the school's staff calls: CET6 review decisions, group-payment
 * lock and record, offer capacity.
 */
#include "net/net_api_internal.h"

#include <string.h>

#include "base/cet_id.h"

/* ---- staff ---- */
/* Common start of staff write calls: auth, op with the staff's scope, Idempotency-Key. */
static eng_op_t *staff_op(net_call_t *call, eng_op_kind_t kind)
{
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return NULL;
    if (!net_api_auth(call, txn, STORE_SESSION_STAFF)) return NULL;
    api_auth_t *a = &call->auth;
    eng_op_t *op = net_call_op(call, kind);
    cet_strlcpy(op->staff, a->staff.user, sizeof op->staff);
    switch (a->staff.role) {
    case STORE_STAFF_SCHOOL:
        op->in.scope_school = a->staff.scope;
        break;
    case STORE_STAFF_PROVINCE:
        op->in.scope_province = (uint16_t)a->staff.scope;
        break;
    default:
        break; /* support desk: national */
    }
    uint8_t scope[16];
    net_api_email_scope(a->staff.user, scope);
    scope[0] ^= 0x80; /* staff keys never meet candidates' */
    if (!net_call_idem(call, scope)) return NULL;
    return op;
}

void net_api_staff_review(net_call_t *call, const char *account_hex)
{
    static const char *const allowed[] = {"decision", NULL};
    eng_op_t *op = staff_op(call, ENG_OP_STAFF_REVIEW_DECIDE);
    if (!op) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    const char *d = NULL;
    cet_err_t e = net_json_str(j, "decision", true, &d);
    if (!e && strcmp(d, "approve") != 0 && strcmp(d, "reject") != 0) e = CET_E_INVALID_FIELD;
    const char *field = "decision";
    if (!e && (strlen(account_hex) != 32 || cet_unhex(op->in.target, account_hex, 16) != 0)) {
        e = CET_E_REVIEW_NOT_FOUND;
        field = "account_id";
    }
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    op->in.flag = strcmp(d, "approve") == 0;
    net_call_submit(call);
}

json_t *net_api_render_staff_review(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:s}", "state", eng_review_state_name(op->res.u.review.state));
}

static void h_staff_reg(net_call_t *call, eng_op_kind_t kind)
{
    static const char *const allowed_lock[] = {"id_type", "id_number", "subject", "locked", NULL};
    static const char *const allowed_pay[] = {"id_type", "id_number", "subjects", NULL};
    eng_op_t *op = staff_op(call, kind);
    if (!op) return;
    json_t *j = net_call_body(call, kind == ENG_OP_STAFF_LOCK ? allowed_lock : allowed_pay);
    if (!j) return;
    const char *type_s = NULL, *num = NULL, *field = "id_type";
    int id_type = 0;
    cet_err_t e = net_json_str(j, "id_type", true, &type_s);
    if (!e) e = cet_id_type_parse(type_s, &id_type);
    if (!e) {
        field = "id_number";
        e = net_json_str(j, "id_number", true, &num);
    }
    if (!e) e = cet_id_number_check(id_type, num, op->in.id_number, sizeof op->in.id_number);
    if (!e && kind == ENG_OP_STAFF_LOCK) {
        const char *subject = NULL;
        field = "subject";
        e = net_json_str(j, "subject", true, &subject);
        if (!e && !net_api_subject_code_ok(subject)) e = CET_E_INVALID_FIELD;
        if (!e) {
            op->in.subject = subject[0];
            field = "locked";
            e = net_json_bool(j, "locked", true, &op->in.flag);
        }
    } else if (!e) {
        field = "subjects";
        json_t *subs = json_object_get(j, "subjects");
        if (!json_is_array(subs) || json_array_size(subs) == 0 ||
            json_array_size(subs) > CET_ORDER_SUBJECTS_MAX)
            e = subs ? CET_E_INVALID_FIELD : CET_E_MISSING_FIELD;
        for (size_t i = 0, n = 0; !e && i < json_array_size(subs); i++) {
            const char *s = json_string_value(json_array_get(subs, i));
            if (!net_api_subject_code_ok(s) || strchr(op->in.subjects, s[0])) e = CET_E_INVALID_FIELD;
            else op->in.subjects[n++] = s[0];
        }
    }
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    op->in.id_type = (uint8_t)id_type;
    net_call_submit(call);
}

json_t *net_api_render_lock(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:s#,s:b,s:o}", "subject", &op->res.u.lock.subject, (size_t)1, "locked",
                     op->res.u.lock.locked, "expires_at",
                     net_api_time_json(op->res.u.lock.expires));
}

json_t *net_api_render_group_pay(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:o}", "paid", net_api_subjects_json(op->res.u.group_pay.subjects));
}

void net_api_staff_capacity(net_call_t *call, const char *rest)
{
    static const char *const allowed[] = {"capacity", NULL};
    /* rest: "{campus}/{subject}" */
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
    eng_op_t *op = staff_op(call, ENG_OP_STAFF_CAPACITY);
    if (!op) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    int64_t cap = 0;
    cet_err_t e = net_json_int(j, "capacity", true, &cap);
    if (!e && (cap < 0 || cap > (json_int_t)CET_OFFER_CAPACITY_MAX)) e = CET_E_INVALID_FIELD;
    if (e) {
        net_call_reply_error(call, e, "capacity");
        return;
    }
    op->in.campus = (uint32_t)atoi(campus_s);
    op->in.subject = slash[1];
    op->in.capacity = (uint32_t)cap;
    net_call_submit(call);
}

json_t *net_api_render_capacity(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:I}", "capacity", (json_int_t)op->res.u.capacity.capacity);
}

void net_api_staff_lock(net_call_t *call)
{
    h_staff_reg(call, ENG_OP_STAFF_LOCK);
}

void net_api_staff_group_pay(net_call_t *call)
{
    h_staff_reg(call, ENG_OP_STAFF_GROUP_PAY);
}
