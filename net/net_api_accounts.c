/*
 * net_api_accounts.c: accounts and sessions: captcha, account creation, candidate and
 * staff login (argon2id on the net_pool, never on a core loop), logout, email change.
 */
#include "net/net_api_internal.h"

#include <sodium.h>
#include <stdio.h>
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
    char client[64];
    net_rate_client(net_req_client(req), client, sizeof client);
    /* per minute, and per challenge lifetime: how many one client holds at once */
    if (!net_rate_allow("captcha", client, CET_CAPTCHA_PER_MIN_MAX) ||
        !net_rate_allow_in("captcha-live", client, CET_CAPTCHA_LIVE_PER_CLIENT_MAX,
                           CET_CAPTCHA_TTL_S)) {
        net_reply_error(req, CET_E_RATE_LIMITED, NULL);
        return;
    }
    char id[33];
    char *uri = NULL;
    cet_err_t e = net_captcha_new(client, id, &uri);
    if (e) {
        net_reply_error(req, e, NULL);
        return;
    }
    json_t *j = json_pack("{s:s,s:s,s:i}", "captcha_id", id, "image", uri, "expires_in",
                          CET_CAPTCHA_TTL_S);
    cet_free(uri);
    net_reply_json(req, 201, j);
}

/* Checks the body's captcha; false: answered. Not required: the fields may be
 * missing (staff login with the captcha off). */
static bool captcha_ok(net_req_t *req, json_t *j, bool required)
{
    const char *id = NULL, *answer = NULL;
    cet_err_t e = net_json_str(j, "captcha_id", required, &id);
    if (!e) e = net_json_str(j, "captcha_answer", required || id, &answer);
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

/* ---- login limits ----
 * Per client address, per client and account, and failures per account; the
 * last only holds back clients that have themselves failed for that account,
 * so a stranger's flood of wrong passwords (from anywhere) slows the
 * strangers and never locks out the owner on a client that has not failed. */
typedef struct login_keys {
    const char *kind_cu, *kind_cf, *kind_uf; /* per client+account, its failures, per account */
    char client[64];
    char who[CET_EMAIL_BYTES];               /* normalised email, or staff user */
    char client_who[64 + 1 + CET_EMAIL_BYTES];
} login_keys_t;

static void login_keys(net_req_t *req, bool staff, const char *who, login_keys_t *k)
{
    k->kind_cu = staff ? "staff-cu" : "login-cu";
    k->kind_cf = staff ? "staff-cf" : "login-cf";
    k->kind_uf = staff ? "staff-uf" : "login-uf";
    net_rate_client(net_req_client(req), k->client, sizeof k->client);
    if (staff)
        cet_strlcpy(k->who, who, sizeof k->who);
    else
        cet_email_normalize(who, k->who, sizeof k->who);
    snprintf(k->client_who, sizeof k->client_who, "%s %s", k->client, k->who);
}

static bool login_allowed(const login_keys_t *k)
{
    if (!net_rate_allow("login-ip", k->client, CET_LOGIN_CLIENT_PER_MIN_MAX)) return false;
    if (!net_rate_allow(k->kind_cu, k->client_who, CET_LOGIN_PER_MIN_MAX)) return false;
    return net_rate_count(k->kind_cf, k->client_who) == 0 ||
           net_rate_count(k->kind_uf, k->who) < CET_LOGIN_FAILS_PER_MIN_MAX;
}

static void login_failed(const login_keys_t *k)
{
    net_rate_hit(k->kind_cf, k->client_who);
    net_rate_hit(k->kind_uf, k->who);
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
    login_keys_t limit;         /* session create: whose failure to count */
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
        if (j->kind == ENG_OP_SESSION_CREATE) login_failed(&j->limit);
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
    if (!captcha_ok(req, j, true)) {
        json_decref(j);
        return;
    }
    char client[64];
    net_rate_client(net_req_client(req), client, sizeof client);
    if (!net_rate_allow("account", client, CET_ACCOUNT_CLIENT_PER_MIN_MAX)) {
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
    static const char *const allowed_staff[] = {"user", "password", "captcha_id",
                                                "captcha_answer", NULL};
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
    /* staff may leave the captcha out only while it is off (tests, tools) */
    if (!captcha_ok(req, j, !staff || net_captcha_enabled())) {
        json_decref(j);
        return;
    }
    login_keys_t limit;
    login_keys(req, staff, who, &limit);
    if (!login_allowed(&limit)) {
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
    job->limit = limit;
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
    char who[CET_EMAIL_BYTES];
    cet_email_normalize(a.acct.email, who, sizeof who);
    if (!e && !net_rate_allow("email-change", who, CET_LOGIN_PER_MIN_MAX)) e = CET_E_RATE_LIMITED;
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
