/*
 * net_api_accounts.c: accounts and sessions: captcha, account creation, candidate and
 * staff login (argon2id on the net_pool, never on a core loop), logout, email change.
 */
#include "net/net_api_internal.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "base/cet_id.h"
#include "base/cet_token.h"
#include "net/net_captcha.h"
#include "net/net_ratelimit.h"

/* ---- captcha ---- */
void net_api_captcha(net_req_t *req, net_api_t *api)
{
    (void)api;
    char id[33];
    char *uri = NULL;
    cet_err_t e = net_captcha_new(id, &uri);
    if (e) {
        net_reply_error(req, e, NULL);
        return;
    }
    json_t *j = json_pack("{s:s,s:s,s:i}", "captcha_id", id, "image", uri, "expires_in",
                          CET_CAPTCHA_TTL_S);
    cet_free(uri);
    net_reply_json(req, 201, j);
}

static bool captcha_ok(net_req_t *req, json_t *j)
{
    const char *id = NULL, *answer = NULL;
    cet_err_t e = net_json_str(j, "captcha_id", true, &id);
    if (!e) e = net_json_str(j, "captcha_answer", true, &answer);
    if (e) {
        net_reply_error(req, e, id ? "captcha_answer" : "captcha_id");
        return false;
    }
    if (!net_captcha_check(id, answer)) {
        net_reply_error(req, CET_E_CAPTCHA_INVALID, "captcha_answer");
        return false;
    }
    return true;
}

/* ---- password work on the pool ---- */
typedef struct pw_job {
    net_work_t w;
    net_req_t *req;
    net_api_t *api;
    eng_op_kind_t kind;         /* what to queue when the password work is done */
    char email[CET_EMAIL_BYTES];
    char password[CET_PASSWORD_BYTES_MAX + 1];
    char hash[CET_PWHASH_BYTES]; /* in: stored hash to verify; out: new hash */
    uint8_t account[16];
    char staff[CET_SHORT_BYTES];
    bool unknown;               /* no such account: verify the dummy, then refuse */
    bool ok;
    eng_op_t *op;               /* prepared op (account create, email change) */
} pw_job_t;

static void pw_hash_cb(net_work_t *w)
{
    pw_job_t *j = w->arg;
    j->ok = crypto_pwhash_str(j->hash, j->password, strlen(j->password),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
    sodium_memzero(j->password, sizeof j->password);
}

static void pw_verify_cb(net_work_t *w)
{
    pw_job_t *j = w->arg;
    j->ok = crypto_pwhash_str_verify(j->hash, j->password, strlen(j->password)) == 0 &&
            !j->unknown;
    sodium_memzero(j->password, sizeof j->password);
}

static void pw_done_cb(net_work_t *w)
{
    pw_job_t *j = w->arg;
    net_req_t *req = j->req;
    eng_op_t *op = j->op;
    if (!j->ok) {
        cet_free(op);
        cet_err_t e = j->kind == ENG_OP_ACCOUNT_CREATE ? CET_E_INTERNAL : CET_E_INVALID_CREDENTIALS;
        net_reply_error(req, e, j->kind == ENG_OP_EMAIL_CHANGE ? "password" : NULL);
    } else {
        if (j->kind == ENG_OP_ACCOUNT_CREATE) {
            cet_strlcpy(op->in.pwhash, j->hash, sizeof op->in.pwhash);
        } else if (j->kind == ENG_OP_SESSION_CREATE) {
            memcpy(op->account, j->account, 16);
            cet_strlcpy(op->staff, j->staff, sizeof op->staff);
            cet_token_new(op->in.token_out, op->in.token_key);
        }
        net_api_op_submit(req, op);
    }
    sodium_memzero(j, sizeof *j);
    cet_free(j);
}

static void pw_submit(net_req_t *req, pw_job_t *j, net_work_cb work)
{
    j->w.work_cb = work;
    j->w.done_cb = pw_done_cb;
    j->w.arg = j;
    j->req = req;
    cet_err_t e = net_pool_submit(net_req_core(req), &j->w);
    if (e) {
        cet_free(j->op);
        cet_free(j);
        net_reply_error(req, e, NULL);
    }
}

/* ---- accounts and sessions ---- */
void net_api_account_create(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"email", "password", "captcha_id", "captcha_answer",
                                          "phone", NULL};
    json_t *j = net_api_body_json(req, allowed);
    if (!j) return;
    const char *email, *password, *field;
    cet_err_t e = net_json_str(j, field = "email", true, &email);
    if (!e) e = net_json_str(j, field = "password", true, &password);
    if (e) {
        json_decref(j);
        net_reply_error(req, e, field);
        return;
    }
    if (!cet_email_valid(email)) {
        json_decref(j);
        net_reply_error(req, CET_E_INVALID_EMAIL, "email");
        return;
    }
    if (!cet_password_ok(password)) {
        json_decref(j);
        net_reply_error(req, CET_E_WEAK_PASSWORD, "password");
        return;
    }
    if (!captcha_ok(req, j)) {
        json_decref(j);
        return;
    }
    if (!net_rate_allow("account", net_req_client(req), CET_LOGIN_PER_MIN_MAX * 6)) {
        json_decref(j);
        net_reply_error(req, CET_E_RATE_LIMITED, NULL);
        return;
    }
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) {
        json_decref(j);
        return;
    }
    eng_op_t *op = net_api_op_new(req, api, ENG_OP_ACCOUNT_CREATE);
    uint8_t scope[16];
    net_api_email_scope(email, scope);
    if (net_api_idem_prepare(req, txn, api, op, scope)) {
        json_decref(j);
        return;
    }
    store_account_t a;
    int rc = store_account_by_email(txn, api->st, email, &a);
    if (rc == 0 || (rc && rc != STORE_NOTFOUND)) {
        json_decref(j);
        cet_free(op);
        if (rc == 0)
            net_reply_error(req, CET_E_EMAIL_TAKEN, "email");
        else
            net_api_reply_store_error(req, rc);
        return;
    }
    cet_strlcpy(op->in.email, email, sizeof op->in.email);
    cet_account_id_new(op->in.target);
    pw_job_t *job = cet_calloc(1, sizeof *job);
    job->api = api;
    job->kind = ENG_OP_ACCOUNT_CREATE;
    job->op = op;
    cet_strlcpy(job->password, password, sizeof job->password);
    json_decref(j);
    net_core_read_done(net_req_core(req));
    pw_submit(req, job, pw_hash_cb);
}

static void login(net_req_t *req, net_api_t *api, bool staff)
{
    static const char *const allowed[] = {"email", "password", "captcha_id", "captcha_answer",
                                          NULL};
    static const char *const allowed_staff[] = {"user", "password", NULL};
    json_t *j = net_api_body_json(req, staff ? allowed_staff : allowed);
    if (!j) return;
    const char *who, *password, *field;
    cet_err_t e = net_json_str(j, field = staff ? "user" : "email", true, &who);
    if (!e) e = net_json_str(j, field = "password", true, &password);
    if (e) {
        json_decref(j);
        net_reply_error(req, e, field);
        return;
    }
    if (strlen(password) > CET_PASSWORD_BYTES_MAX || strlen(who) >= CET_EMAIL_BYTES) {
        json_decref(j);
        net_reply_error(req, CET_E_INVALID_CREDENTIALS, NULL);
        return;
    }
    if (!staff && !captcha_ok(req, j)) {
        json_decref(j);
        return;
    }
    if (!net_rate_allow("login-ip", net_req_client(req), CET_LOGIN_PER_MIN_MAX * 10) ||
        !net_rate_allow("login", who, CET_LOGIN_PER_MIN_MAX)) {
        json_decref(j);
        net_reply_error(req, CET_E_RATE_LIMITED, NULL);
        return;
    }
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) {
        json_decref(j);
        return;
    }
    pw_job_t *job = cet_calloc(1, sizeof *job);
    job->api = api;
    job->kind = ENG_OP_SESSION_CREATE;
    cet_strlcpy(job->password, password, sizeof job->password);
    cet_strlcpy(job->hash, api->dummy_hash, sizeof job->hash);
    int rc;
    if (staff) {
        store_staff_t s;
        rc = store_staff_get(txn, api->st, who, &s);
        if (rc == 0) {
            cet_strlcpy(job->hash, s.pwhash, sizeof job->hash);
            cet_strlcpy(job->staff, s.user, sizeof job->staff);
        }
    } else {
        store_account_t a;
        rc = store_account_by_email(txn, api->st, who, &a);
        if (rc == 0) {
            cet_strlcpy(job->hash, a.pwhash, sizeof job->hash);
            memcpy(job->account, a.id, 16);
        }
    }
    json_decref(j);
    if (rc && rc != STORE_NOTFOUND) {
        cet_free(job);
        net_api_reply_store_error(req, rc);
        return;
    }
    /* an unknown name still costs one verification (of the dummy hash), so
     * timing does not tell which emails have accounts; it then fails */
    job->op = net_api_op_new(req, api, ENG_OP_SESSION_CREATE);
    job->unknown = rc == STORE_NOTFOUND;
    net_core_read_done(net_req_core(req));
    pw_submit(req, job, pw_verify_cb);
}

void net_api_session_create(net_req_t *req, net_api_t *api)
{
    login(req, api, false);
}

void net_api_staff_session_create(net_req_t *req, net_api_t *api)
{
    login(req, api, true);
}

void net_api_session_delete(net_req_t *req, net_api_t *api)
{
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) return;
    api_auth_t a;
    const char *h = net_req_header(req, "Authorization");
    bool staff = false;
    if (h && strncasecmp(h, "Bearer ", 7) == 0 && cet_token_key(h + 7, a.token_key)) {
        store_session_t s;
        staff = store_session_get(txn, api->st, a.token_key, &s) == 0 &&
                s.kind == STORE_SESSION_STAFF;
    }
    if (!net_api_auth(req, txn, api, staff ? STORE_SESSION_STAFF : STORE_SESSION_CANDIDATE, &a)) return;
    eng_op_t *op = net_api_op_new(req, api, ENG_OP_SESSION_DELETE);
    memcpy(op->in.token_key, a.token_key, 32);
    net_api_op_submit(req, op);
}

/* ---- account email ---- */
void net_api_email_change(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"new_email", "password", NULL};
    api_auth_t a;
    eng_op_t *op = net_api_candidate_op(req, api, ENG_OP_EMAIL_CHANGE, &a);
    if (!op) return;
    json_t *j = net_api_body_json(req, allowed);
    if (!j) {
        cet_free(op);
        return;
    }
    const char *email = NULL, *password = NULL;
    cet_err_t e = net_json_str(j, "new_email", true, &email);
    const char *field = "new_email";
    if (!e && !cet_email_valid(email)) e = CET_E_INVALID_EMAIL;
    if (!e) {
        field = "password";
        e = net_json_str(j, "password", true, &password);
    }
    if (!e && !net_rate_allow("login", a.acct.email, CET_LOGIN_PER_MIN_MAX)) e = CET_E_RATE_LIMITED;
    if (e) {
        net_api_op_refuse(req, op, j, e, field);
        return;
    }
    cet_strlcpy(op->in.email, email, sizeof op->in.email);
    pw_job_t *job = cet_calloc(1, sizeof *job);
    job->api = api;
    job->kind = ENG_OP_EMAIL_CHANGE;
    job->op = op;
    cet_strlcpy(job->password, password, sizeof job->password);
    cet_strlcpy(job->hash, a.acct.pwhash, sizeof job->hash);
    json_decref(j);
    net_core_read_done(net_req_core(req));
    pw_submit(req, job, pw_verify_cb);
}
