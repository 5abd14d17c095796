/*
 * net_api_internal.h: what the files of the API (net/net_api*.c) share.
 *
 * net_api.c routes a request to a handler of one resource file and holds the
 * helpers every resource uses: the core's read txn, bearer-token
 * authentication, idempotency keys, and queueing an engine op whose answer is
 * sent once it is durable. Every handler runs on a core thread and never blocks.
 */
#ifndef NET_API_INTERNAL_H
#define NET_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "base/cet_limits.h"
#include "engine/eng.h"
#include "net/net_api.h"
#include "store/store.h"

struct net_api {
    eng_t *eng;
    store_t *st;
    char dummy_hash[CET_PWHASH_BYTES]; /* verified for unknown emails: same cost */
};

typedef struct api_auth {
    uint8_t account[16];
    store_account_t acct;
    store_staff_t staff;
    uint8_t token_key[32];
} api_auth_t;

/* ---- shared helpers (net_api.c) ---- */
bool net_api_auth(net_req_t *req, store_txn_t *txn, net_api_t *api, uint8_t kind, api_auth_t *out);
bool net_api_idem_prepare(net_req_t *req, store_txn_t *txn, net_api_t *api, eng_op_t *op,
                         const uint8_t scope[16]);
bool net_api_subject_code_ok(const char *s);
cet_err_t net_api_json_campus(json_t *obj, const char *key, uint32_t *out);
cet_err_t net_api_need_confirmed(json_t *j);
eng_op_t *net_api_op_new(net_req_t *req, net_api_t *api, eng_op_kind_t kind);
json_t *net_api_body_json(net_req_t *req, const char *const *allowed);
json_t *net_api_code5(uint32_t code);
json_t *net_api_code6(uint32_t code);
json_t *net_api_time_json(int64_t t);
store_txn_t *net_api_read_txn(net_req_t *req);
void net_api_email_scope(const char *email, uint8_t scope[16]);
void net_api_op_refuse(net_req_t *req, eng_op_t *op, json_t *j, cet_err_t e, const char *field);
void net_api_op_submit(net_req_t *req, eng_op_t *op);
void net_api_reply_store_error(net_req_t *req, int rc);

/* ---- handlers: accounts and sessions (net_api_accounts.c) ---- */
void net_api_account_create(net_req_t *req, net_api_t *api);
void net_api_captcha(net_req_t *req, net_api_t *api);
void net_api_email_change(net_req_t *req, net_api_t *api);
void net_api_session_create(net_req_t *req, net_api_t *api);
void net_api_session_delete(net_req_t *req, net_api_t *api);
void net_api_staff_session_create(net_req_t *req, net_api_t *api);

/* ---- handlers: the candidate (net_api_candidate.c) ---- */
eng_op_t *net_api_candidate_op(net_req_t *req, net_api_t *api, eng_op_kind_t kind,
                              api_auth_t *a);
json_t *net_api_sitting_json(store_txn_t *txn, net_api_t *api, eng_phase_t *phase);
void net_api_agreement(net_req_t *req, net_api_t *api);
void net_api_bind(net_req_t *req, net_api_t *api);
void net_api_candidate_get(net_req_t *req, net_api_t *api);
void net_api_me(net_req_t *req, net_api_t *api);
void net_api_qualification(net_req_t *req, net_api_t *api);
void net_api_review_delete(net_req_t *req, net_api_t *api);
void net_api_review_get(net_req_t *req, net_api_t *api);
void net_api_review_post(net_req_t *req, net_api_t *api);
void net_api_review_put(net_req_t *req, net_api_t *api);

/* ---- handlers: offers and registrations (net_api_registrations.c) ---- */
void net_api_offers(net_req_t *req, net_api_t *api);
void net_api_reg_cancel(net_req_t *req, net_api_t *api, const char *subject);
void net_api_reg_create(net_req_t *req, net_api_t *api);

/* ---- handlers: payments (net_api_payments.c) ---- */
void net_api_pay_create(net_req_t *req, net_api_t *api);
void net_api_pay_get(net_req_t *req, net_api_t *api, const char *id_s);
void net_api_pay_notice(net_req_t *req, net_api_t *api);

/* ---- handlers: staff (net_api_staff.c) ---- */
void net_api_staff_capacity(net_req_t *req, net_api_t *api, const char *rest);
void net_api_staff_group_pay(net_req_t *req, net_api_t *api);
void net_api_staff_lock(net_req_t *req, net_api_t *api);
void net_api_staff_review(net_req_t *req, net_api_t *api, const char *account_hex);

/* ---- handlers: admission tickets (net_api_tickets.c) ---- */
void net_api_arrangement_create(net_req_t *req, net_api_t *api);
void net_api_campus_rooms(net_req_t *req, net_api_t *api, const char *rest);
void net_api_ticket_get(net_req_t *req, net_api_t *api, const char *subject);
void net_api_tickets_print_all(net_req_t *req, net_api_t *api);

#endif
