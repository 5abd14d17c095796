/*
 * net_api_payments.c: payments: a payment order, its state, the platform's signed notice.
 */
#include "net/net_api_internal.h"

#include <string.h>

/* ---- payments ---- */
void net_api_pay_create(net_call_t *call)
{
    static const char *const allowed[] = {"subjects", "channel", NULL};
    static const char *const channels[] = {"alipay", "wechat", "unionpay", "bank", NULL};
    eng_op_t *op = net_api_candidate_op(call, ENG_OP_PAY_CREATE);
    if (!op) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    cet_err_t e = CET_E_OK;
    const char *field = "subjects";
    json_t *subs = json_object_get(j, "subjects");
    if (!subs) e = CET_E_MISSING_FIELD;
    else if (!json_is_array(subs)) e = CET_E_WRONG_TYPE;
    else if (json_array_size(subs) == 0 || json_array_size(subs) > CET_ORDER_SUBJECTS_MAX)
        e = CET_E_INVALID_FIELD;
    size_t n = 0;
    for (size_t i = 0; !e && i < json_array_size(subs); i++) {
        json_t *v = json_array_get(subs, i);
        if (!json_is_string(v)) e = CET_E_WRONG_TYPE;
        else if (!net_api_subject_code_ok(json_string_value(v))) e = CET_E_INVALID_FIELD;
        else if (strchr(op->in.subjects, json_string_value(v)[0])) e = CET_E_INVALID_FIELD;
        else op->in.subjects[n++] = json_string_value(v)[0];
    }
    const char *channel = NULL;
    if (!e) {
        field = "channel";
        e = net_json_str(j, "channel", true, &channel);
    }
    if (!e) {
        e = CET_E_INVALID_FIELD;
        for (int i = 0; channels[i]; i++)
            if (strcmp(channels[i], channel) == 0) e = CET_E_OK;
    }
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    cet_strlcpy(op->in.channel, channel, sizeof op->in.channel);
    net_call_submit(call);
}

json_t *net_api_render_order(net_call_t *call, const eng_op_t *op)
{
    char id[24], url[512];
    snprintf(id, sizeof id, "%llu", (unsigned long long)op->res.u.order.id);
    snprintf(url, sizeof url, "%s?order_id=%s&amount=%u&channel=%s",
             eng_options(call->api->eng)->pay_url_base, id, op->res.u.order.amount,
             op->res.u.order.channel);
    return json_pack("{s:s,s:I,s:s,s:o,s:o,s:s}", "order_id", id, "amount",
                     (json_int_t)op->res.u.order.amount, "pay_url", url, "expires_at",
                     net_api_time_json(op->res.u.order.expires), "subjects",
                     net_api_subjects_json(op->res.u.order.subjects), "state", "pending");
}

void net_api_pay_get(net_call_t *call, const char *id_s)
{
    net_api_t *api = call->api;
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    if (!net_api_auth(call, txn, STORE_SESSION_CANDIDATE)) return;
    uint64_t id = 0;
    store_order_t o;
    if (!net_api_id_parse(id_s, &id) || store_order_get(txn, api->st, id, &o) != 0 ||
        memcmp(o.account, call->auth.account, 16) != 0) {
        net_call_reply_error(call, CET_E_ORDER_NOT_FOUND, NULL);
        return;
    }
    char canon[24];
    snprintf(canon, sizeof canon, "%llu", (unsigned long long)o.id);
    json_t *subs = json_array();
    for (int i = 0; i < o.n_subjects; i++) json_array_append_new(subs, json_stringn(&o.subjects[i], 1));
    net_call_reply_json(call, 200,
                        json_pack("{s:s,s:I,s:s,s:s,s:o,s:o,s:o,s:o}", "order_id", canon,
                                  "amount", (json_int_t)o.amount, "state",
                                  eng_order_state_name(o.state), "channel", o.channel, "subjects",
                                  subs, "created_at", net_api_time_json(o.created), "expires_at",
                                  net_api_time_json(o.expires), "paid_at",
                                  net_api_time_json(o.paid_at)));
}

void net_api_pay_notice(net_call_t *call)
{
    static const char *const allowed[] = {"order_id", "amount", "paid_at", "gateway_txn", NULL};
    size_t blen;
    const char *body = net_req_body(call->req, &blen);
    if (!eng_notice_signature_ok(call->api->eng, body ? body : "", blen,
                                 net_req_header(call->req, "X-Signature"))) {
        CET_WARN("payment: notice with a bad signature from %s", net_req_client(call->req));
        net_call_reply_error(call, CET_E_INVALID_SIGNATURE, NULL);
        return;
    }
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    eng_op_t *op = net_call_op(call, ENG_OP_PAY_NOTICE);
    cet_err_t e = CET_E_OK;
    const char *field = "order_id";
    json_t *oid = json_object_get(j, "order_id");
    if (!oid) e = CET_E_MISSING_FIELD;
    else if (json_is_integer(oid) && json_integer_value(oid) > 0)
        op->in.order_id = (uint64_t)json_integer_value(oid);
    else if (json_is_string(oid)) {
        if (!net_api_id_parse(json_string_value(oid), &op->in.order_id)) e = CET_E_INVALID_FIELD;
    } else
        e = CET_E_WRONG_TYPE;
    int64_t amount = 0;
    if (!e) {
        field = "amount";
        e = net_json_int(j, "amount", true, &amount);
        if (!e && (amount < 0 || amount > UINT32_MAX)) e = CET_E_INVALID_FIELD;
    }
    const char *txn_s = NULL, *paid_at = NULL;
    if (!e) {
        field = "gateway_txn";
        e = net_json_str(j, "gateway_txn", true, &txn_s);
        if (!e && (strlen(txn_s) == 0 || strlen(txn_s) >= sizeof op->in.gateway_txn))
            e = CET_E_INVALID_FIELD;
    }
    if (!e) {
        field = "paid_at";
        e = net_json_str(j, "paid_at", true, &paid_at);
        if (!e && cet_time_parse(paid_at, &op->in.paid_at) != 0) e = CET_E_INVALID_FIELD;
    }
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    op->in.amount = (uint32_t)amount;
    cet_strlcpy(op->in.gateway_txn, txn_s, sizeof op->in.gateway_txn);
    net_call_submit(call);
}

json_t *net_api_render_notice(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:s,s:b}", "status",
                     op->res.u.notice.outcome == STORE_ORDER_PAID ? "paid" : "refund",
                     "duplicate", op->res.u.notice.duplicate);
}
