/*
 * net_api_payments.c: payments: a payment order, its state, the platform's signed notice.
 */
#include "net/net_api_internal.h"

#include <string.h>

/* ---- payments ---- */
void net_api_pay_create(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"subjects", "channel", NULL};
    static const char *const channels[] = {"alipay", "wechat", "unionpay", "bank", NULL};
    api_auth_t a;
    eng_op_t *op = net_api_candidate_op(req, api, ENG_OP_PAY_CREATE, &a);
    if (!op) return;
    json_t *j = net_api_body_json(req, allowed);
    if (!j) {
        cet_free(op);
        return;
    }
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
    if (!e) cet_strlcpy(op->in.channel, channel, sizeof op->in.channel);
    json_decref(j);
    if (e) {
        net_api_op_refuse(req, op, NULL, e, field);
        return;
    }
    net_api_op_submit(req, op);
}

void net_api_pay_get(net_req_t *req, net_api_t *api, const char *id_s)
{
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!net_api_auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
    char *end;
    unsigned long long id = strtoull(id_s, &end, 10);
    store_order_t o;
    if (*id_s == 0 || *end || store_order_get(txn, api->st, id, &o) != 0 ||
        memcmp(o.account, a.account, 16) != 0) {
        net_reply_error(req, CET_E_ORDER_NOT_FOUND, NULL);
        return;
    }
    json_t *subs = json_array();
    for (int i = 0; i < o.n_subjects; i++) json_array_append_new(subs, json_stringn(&o.subjects[i], 1));
    net_reply_json(req, 200,
                   json_pack("{s:s,s:i,s:s,s:s,s:o,s:o,s:o,s:o}", "order_id", id_s, "amount",
                             (json_int_t)o.amount, "state", eng_order_state_name(o.state), "channel",
                             o.channel, "subjects", subs, "created_at", net_api_time_json(o.created),
                             "expires_at", net_api_time_json(o.expires), "paid_at", net_api_time_json(o.paid_at)));
}

void net_api_pay_notice(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"order_id", "amount", "paid_at", "gateway_txn", NULL};
    size_t blen;
    const char *body = net_req_body(req, &blen);
    if (!eng_notice_signature_ok(api->eng, body ? body : "", blen,
                                 net_req_header(req, "X-Signature"))) {
        CET_WARN("payment: notice with a bad signature from %s", net_req_client(req));
        net_reply_error(req, CET_E_INVALID_SIGNATURE, NULL);
        return;
    }
    json_t *j = net_api_body_json(req, allowed);
    if (!j) return;
    eng_op_t *op = net_api_op_new(req, api, ENG_OP_PAY_NOTICE);
    cet_err_t e = CET_E_OK;
    const char *field = "order_id";
    json_t *oid = json_object_get(j, "order_id");
    if (!oid) e = CET_E_MISSING_FIELD;
    else if (json_is_integer(oid) && json_integer_value(oid) > 0)
        op->in.order_id = (uint64_t)json_integer_value(oid);
    else if (json_is_string(oid)) {
        char *end;
        const char *s = json_string_value(oid);
        op->in.order_id = strtoull(s, &end, 10);
        if (!*s || *end || !op->in.order_id) e = CET_E_INVALID_FIELD;
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
        net_api_op_refuse(req, op, j, e, field);
        return;
    }
    op->in.amount = (uint32_t)amount;
    cet_strlcpy(op->in.gateway_txn, txn_s, sizeof op->in.gateway_txn);
    json_decref(j);
    net_api_op_submit(req, op);
}
