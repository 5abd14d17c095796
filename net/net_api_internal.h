/*
 * net_api_internal.h: what the files of the API (net/net_api*.c) share.
 *
 * net_api.c routes a request to a handler of one resource file and holds what
 * every resource uses: the per-call context, the core's read txn, bearer-token
 * authentication, Idempotency-Key hashing, and submitting an engine op whose
 * result is rendered once it is durable. Every handler runs on a core thread
 * and never blocks.
 *
 * The call. The router takes a net_call_t from the core's pool for every API
 * request; it owns everything the request needs until it is answered: the
 * decoded body, the caller, the engine op and the password work. A handler
 * answers through net_call_reply_* (or net_call_submit, whose op's result is
 * rendered by net_call_reply_op), which replies and releases the call, all of
 * it, in that one place (h2o's per-request pool is the model). Every helper
 * below that returns false or NULL has answered and released the call: the
 * handler returns at once and touches nothing of it again.
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
#include "net/net_ticket_pdf.h"
#include "store/store.h"

typedef struct net_call net_call_t;
typedef struct net_call_pool net_call_pool_t;

struct net_api {
    eng_t *eng;
    store_t *st;
    char dummy_hash[CET_PWHASH_BYTES]; /* verified for unknown emails: same cost */
    net_call_pool_t *pools[CET_THREADS_MAX]; /* one per core (net_core_index) */
};

typedef struct api_auth {
    uint8_t account[16];
    store_account_t acct;
    store_staff_t staff;
    uint8_t token_key[32];
} api_auth_t;

/* The rate-limit keys of one login (net_api_accounts.c): per client+account, its
 * failures, failures per account; the failure is counted when the password fails. */
typedef struct net_login_keys {
    const char *kind_cu, *kind_cf, *kind_uf;
    char client[64];
    char who[CET_EMAIL_BYTES];               /* normalised email, or staff user */
    char client_who[64 + 1 + CET_EMAIL_BYTES];
} net_login_keys_t;

/* Password work of a call on the pool (argon2id never runs on a core loop). */
typedef struct net_call_pw {
    net_work_t w;
    char password[CET_PASSWORD_BYTES_MAX + 1];
    char hash[CET_PWHASH_BYTES]; /* in: the stored hash to verify; out: a new hash */
    bool unknown;                /* no such account: verify the dummy, then refuse */
    bool ok;
    net_login_keys_t limit;      /* session create: whose failure to count */
} net_call_pw_t;

struct net_call {
    net_req_t *req;
    net_api_t *api;
    json_t *body;         /* the decoded request body (net_call_body), or NULL */
    store_txn_t *rtxn;    /* the core's read txn while the handler runs (net_api_read_txn);
                             NULL once slow work ended it (net_call_read_done) */
    api_auth_t auth;      /* the caller (net_api_auth) */
    eng_tickets_in_t *tickets; /* ENG_OP_TICKETS's input (net_api_tickets.c), freed with the call */
    eng_op_t op;          /* the write op (net_call_op) */
    net_call_pw_t pw;
    json_t *lookup;       /* the support lookup's answer, replied once its audit commits */
    const char *admin_text[2]; /* an announcement's title and body (in body) for its op */
    net_call_t *next_free;
};

/* ---- the call (net_api.c) ---- */
/** Replies status with j (stolen) and releases the call. */
void net_call_reply_json(net_call_t *call, int status, json_t *j);
/** Replies the error of e (field may be NULL) and releases the call. */
void net_call_reply_error(net_call_t *call, cet_err_t e, const char *field);
/** Logs a storage code, replies 503 storage_unavailable and releases the call. */
void net_call_reply_store_error(net_call_t *call, int rc);
/** Replies status with len bytes of body (copied) as content_type (an export, a PDF) and
 * releases the call. */
void net_call_reply_raw(net_call_t *call, int status, const char *content_type, const void *body,
                        size_t len);
/** As net_call_reply_raw without the copy: body stays valid until done_cb (net_reply_ref). */
void net_call_reply_ref(net_call_t *call, int status, const char *content_type, const void *body,
                        size_t len, net_body_done_cb done_cb, void *done_arg);
/** Replies the result of the call's op (its status and JSON, or its error) and releases the call. */
void net_call_reply_op(net_call_t *call);
/** The call's op, initialised for kind (the caller's account or staff is the handler's to set). */
eng_op_t *net_call_op(net_call_t *call, eng_op_kind_t kind);
/**
 * Submits the call's op, with the fast paths of call->rtxn (none after slow
 * work ended it); its result is replied when known.
 */
void net_call_submit(net_call_t *call);
/** Ends the core's read txn before slow work (the pool); the call forgets it. */
void net_call_read_done(net_call_t *call);
/** Decodes the body into call->body, strictly (only allowed keys); NULL when replied. */
json_t *net_call_body(net_call_t *call, const char *const *allowed);
/**
 * Idempotency-Key: scope (the account, or a hash of the email for calls made
 * before there is one) ‖ SHA-256 of the header value; the request hash covers
 * method, path and body. Sets them on the call's op (the engine looks the key
 * up and keeps the result). False when the header is malformed (replied).
 */
bool net_call_idem(net_call_t *call, const uint8_t scope[16]);
/** The core's read txn; NULL when replied (storage). */
store_txn_t *net_api_read_txn(net_call_t *call);
/** Resolves the bearer token to a live session of kind into call->auth; false when replied. */
bool net_api_auth(net_call_t *call, store_txn_t *txn, uint8_t kind);

/* ---- small helpers (net_api.c) ---- */
bool net_api_subject_code_ok(const char *s);
/** Strict decimal id: 1 to 20 digits, no sign, no leading zero; false otherwise. */
bool net_api_id_parse(const char *s, uint64_t *out);
cet_err_t net_api_json_campus(json_t *obj, const char *key, uint32_t *out);
cet_err_t net_api_need_confirmed(json_t *j);
json_t *net_api_code5(uint32_t code);
json_t *net_api_code6(uint32_t code);
json_t *net_api_time_json(int64_t t);
json_t *net_api_subjects_json(const char *codes);
void net_api_email_scope(const char *email, uint8_t scope[16]);

/* ---- renderers of op results, one per op kind (each resource file) ---- */
typedef json_t *(*net_api_render_cb)(net_call_t *call, const eng_op_t *op);
/* or, for the answers sent most often, straight into text (net_jw_t; NET_API_WRITE_BYTES) */
#define NET_API_WRITE_BYTES 512
typedef void (*net_api_write_cb)(net_call_t *call, const eng_op_t *op, net_jw_t *w);
void net_api_write_reg(net_call_t *call, const eng_op_t *op, net_jw_t *w);
json_t *net_api_render_account(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_session(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_logout(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_email(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_agree(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_bind(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_review(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_cancel(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_order(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_notice(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_staff_review(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_lock(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_group_pay(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_capacity(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_admin_offer(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_admin_settings(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_admin_announce(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_tickets(net_call_t *call, const eng_op_t *op);

/* ---- body fields shared by several resources ---- */
/**
 * Checks the body's captcha_id and captcha_answer (one use: the challenge is
 * consumed). Not required: both may be missing (staff login with the captcha
 * off). False when the call was answered (missing field, wrong or expired answer).
 */
bool net_api_captcha_ok(net_call_t *call, json_t *j, bool required);
/**
 * Parses id_type, id_number (checked and canonical into id[idcap]) and name
 * (UTF-8 text under CET_NAME_BYTES). False when the call was answered with the
 * field's error.
 */
bool net_api_identity_fields(net_call_t *call, json_t *j, int *id_type, char *id, size_t idcap,
                             const char **name);

/* ---- handlers: accounts and sessions (net_api_accounts.c) ---- */
void net_api_account_create(net_call_t *call);
void net_api_captcha(net_call_t *call);
void net_api_email_change(net_call_t *call);
void net_api_session_create(net_call_t *call);
void net_api_session_delete(net_call_t *call);
void net_api_staff_session_create(net_call_t *call);

/* ---- handlers: the candidate (net_api_candidate.c) ---- */
/** Common start of candidate write calls: auth, op, Idempotency-Key. NULL when replied. */
eng_op_t *net_api_candidate_op(net_call_t *call, eng_op_kind_t kind);
json_t *net_api_sitting_json(store_txn_t *txn, net_api_t *api, eng_phase_t *phase);
void net_api_agreement(net_call_t *call);
void net_api_bind(net_call_t *call);
void net_api_candidate_get(net_call_t *call);
void net_api_me(net_call_t *call);
void net_api_qualification(net_call_t *call);
void net_api_review_delete(net_call_t *call);
void net_api_review_get(net_call_t *call);
void net_api_review_post(net_call_t *call);
void net_api_review_put(net_call_t *call);

/* ---- handlers: offers and registrations (net_api_registrations.c) ---- */
void net_api_offers(net_call_t *call);
void net_api_reg_cancel(net_call_t *call, const char *subject);
void net_api_reg_create(net_call_t *call);

/* ---- handlers: payments (net_api_payments.c) ---- */
void net_api_pay_create(net_call_t *call);
void net_api_pay_get(net_call_t *call, const char *id_s);
void net_api_pay_notice(net_call_t *call);

/* ---- handlers: staff (net_api_staff.c) ---- */
void net_api_staff_capacity(net_call_t *call, const char *rest);
void net_api_staff_group_pay(net_call_t *call);
void net_api_staff_lock(net_call_t *call);
void net_api_staff_review(net_call_t *call, const char *account_hex);

/* ---- handlers: admission tickets (net_api_tickets.c) ---- */
void net_api_arrangement_create(net_call_t *call);
void net_api_campus_rooms(net_call_t *call, const char *rest);
void net_api_ticket_get(net_call_t *call, const char *subject);
void net_api_tickets_print_all(net_call_t *call);
/* A registration's seat as its admission ticket gives it (net_api_tickets.c). */
typedef struct net_api_seat {
    char number[CET_TICKET_DIGITS + 1]; /* the 15-digit ticket number */
    int64_t day;                       /* the exam's day: the offer's, else the sitting's */
    char time[NET_TICKET_TEXT_BYTES];  /* "09:00-11:20", an oral one its slot */
} net_api_seat_t;
/** False when r is not arranged. o may be NULL (no offer record: the sitting's day). */
bool net_api_ticket_seat(const store_sitting_t *sit, const store_subject_t *subj,
                         const store_offer_t *o, const store_reg_t *r, net_api_seat_t *out);
/* ---- handlers: the account lifecycle (net_api_lifecycle.c) ---- */
void net_api_account_recovery(net_call_t *call);
void net_api_password_change(net_call_t *call);
void net_api_reset_confirm(net_call_t *call);
void net_api_reset_request(net_call_t *call);
void net_api_sitting_get(net_call_t *call);
void net_api_staff_rebind(net_call_t *call);
void net_api_staff_accounts(net_call_t *call);
json_t *net_api_render_reset_request(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_reset_confirm(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_password(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_rebind(net_call_t *call, const eng_op_t *op);
json_t *net_api_render_lookup(net_call_t *call, const eng_op_t *op);
/* ---- handlers: the school's side (net_api_admin.c, net_api_exports.c) ---- */
/**
 * Common start of admin calls: the read txn and a staff session of a school or
 * province (support staff: 403 forbidden). False when replied.
 */
bool net_api_admin_begin(net_call_t *call);
/** 0 when school is in the caller's scope, CET_E_FORBIDDEN, or a storage code. */
int net_api_admin_school_ok(net_call_t *call, store_txn_t *txn, uint32_t school);
void net_api_admin_announcement_delete(net_call_t *call, const char *id);
void net_api_admin_announcements_get(net_call_t *call);
void net_api_admin_announcements_post(net_call_t *call);
void net_api_admin_audit(net_call_t *call);
void net_api_admin_dashboard(net_call_t *call);
void net_api_admin_export(net_call_t *call, const char *kind);
void net_api_admin_offer(net_call_t *call, const char *rest);
void net_api_admin_registrations(net_call_t *call);
void net_api_admin_reviews(net_call_t *call);
void net_api_admin_roster(net_call_t *call);
void net_api_admin_settings(net_call_t *call, const char *rest);

#endif
