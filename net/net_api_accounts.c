/*
 * net_api_accounts.c: accounts and sessions: captcha, account creation, candidate and
 * staff login (argon2id on the net_pool, never on a core loop; a login upgrades a hash
 * made with older costs), logout, email change.
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
void net_api_captcha(net_call_t *call)
{
    char client[64];
    net_rate_client(net_req_client(call->req), client, sizeof client);
    /* per minute, and per challenge lifetime: how many one client holds at once */
    if (!net_rate_allow("captcha", client, CET_CAPTCHA_PER_MIN_MAX) ||
        !net_rate_allow_in("captcha-live", client, CET_CAPTCHA_LIVE_PER_CLIENT_MAX,
                           CET_CAPTCHA_TTL_S)) {
        net_call_reply_error(call, CET_E_RATE_LIMITED, NULL);
        return;
    }
    char id[33];
    char *uri = NULL;
    cet_err_t e = net_captcha_new(client, id, &uri);
    if (e) {
        net_call_reply_error(call, e, NULL);
        return;
    }
    json_t *j =
        json_pack("{s:s,s:s,s:i}", "captcha_id", id, "image", uri, "expires_in", CET_CAPTCHA_TTL_S);
    cet_free(uri);
    net_call_reply_json(call, 201, j);
}

bool net_api_captcha_ok(net_call_t *call, json_t *j, bool required)
{
    const char *id = NULL, *answer = NULL;
    cet_err_t e = net_json_str(j, "captcha_id", required, &id);
    if (!e) e = net_json_str(j, "captcha_answer", required || id, &answer);
    if (e) {
        net_call_reply_error(call, e, id ? "captcha_answer" : "captcha_id");
        return false;
    }
    if (!net_captcha_check(id, answer)) {
        net_call_reply_error(call, CET_E_CAPTCHA_INVALID, "captcha_answer");
        return false;
    }
    return true;
}

/* ---- login limits ----
 * Per client address, per client and account, and failures per account; the
 * last only holds back clients that have themselves failed for that account,
 * so a stranger's flood of wrong passwords (from anywhere) slows the
 * strangers and never locks out the owner on a client that has not failed. */
static void login_keys(net_req_t *req, bool staff, const char *who, net_login_keys_t *k)
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

static bool login_allowed(const net_login_keys_t *k)
{
    if (!net_rate_allow("login-ip", k->client, CET_LOGIN_CLIENT_PER_MIN_MAX)) return false;
    if (!net_rate_allow(k->kind_cu, k->client_who, CET_LOGIN_PER_MIN_MAX)) return false;
    return net_rate_count(k->kind_cf, k->client_who) == 0 ||
           net_rate_count(k->kind_uf, k->who) < CET_LOGIN_FAILS_PER_MIN_MAX;
}

static void login_failed(const net_login_keys_t *k)
{
    net_rate_hit(k->kind_cf, k->client_who);
    net_rate_hit(k->kind_uf, k->who);
}

/* ---- password work on the pool (the call's pw; argon2id never on a core loop) ---- */
static void pw_hash_cb(net_work_t *w)
{
    net_call_t *call = w->arg;
    net_call_pw_t *pw = &call->pw;
    pw->ok = cet_pwhash_make(pw->hash, pw->password) == 0;
    sodium_memzero(pw->password, sizeof pw->password);
}

static void pw_verify_cb(net_work_t *w)
{
    net_call_t *call = w->arg;
    net_call_pw_t *pw = &call->pw;
    eng_op_t *op = &call->op;
    pw->ok = cet_pwhash_verify(pw->hash, pw->password) && !pw->unknown;
    /* A login upgrades a hash made with older costs: the new one is made here
     * (the one login that pays a second hash) and the writer stores it with
     * the session, only if the record still holds the hash verified. */
    if (pw->ok && op->kind == ENG_OP_SESSION_CREATE && cet_pwhash_stale(pw->hash)) {
        if (cet_pwhash_make(op->in.pwhash, pw->password) == 0)
            cet_strlcpy(op->in.pwhash_seen, pw->hash, sizeof op->in.pwhash_seen);
        else
            op->in.pwhash[0] = 0; /* no memory now: the next login tries again */
    }
    sodium_memzero(pw->password, sizeof pw->password);
}

/* Back on the core: the op goes to the writer, or the call is refused. */
static void pw_done_cb(net_work_t *w)
{
    net_call_t *call = w->arg;
    eng_op_t *op = &call->op;
    if (!call->pw.ok) {
        if (op->kind == ENG_OP_SESSION_CREATE) login_failed(&call->pw.limit);
        cet_err_t e =
            op->kind == ENG_OP_ACCOUNT_CREATE ? CET_E_INTERNAL : CET_E_INVALID_CREDENTIALS;
        net_call_reply_error(call, e, op->kind == ENG_OP_EMAIL_CHANGE ? "password" : NULL);
        return;
    }
    if (op->kind == ENG_OP_ACCOUNT_CREATE)
        cet_strlcpy(op->in.pwhash, call->pw.hash, sizeof op->in.pwhash);
    if (op->kind == ENG_OP_SESSION_CREATE) cet_token_new(op->in.token_out, op->in.token_key);
    net_call_submit(call);
}

/* Ends the read txn (the pool takes a while) and queues the call's password work. */
static void pw_submit(net_call_t *call, const char *password, net_work_cb work)
{
    cet_strlcpy(call->pw.password, password, sizeof call->pw.password);
    call->pw.w.work_cb = work;
    call->pw.w.done_cb = pw_done_cb;
    call->pw.w.arg = call;
    net_call_read_done(call);
    cet_err_t e = net_pool_submit(net_req_core(call->req), &call->pw.w);
    if (e) net_call_reply_error(call, e, NULL);
}

/* ---- accounts and sessions ---- */
void net_api_account_create(net_call_t *call)
{
    static const char *const allowed[] = {"email",          "password", "captcha_id",
                                          "captcha_answer", "phone",    NULL};
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    const char *email, *password, *field;
    cet_err_t e = net_json_str(j, field = "email", true, &email);
    if (!e) e = net_json_str(j, field = "password", true, &password);
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    if (!cet_email_valid(email)) {
        net_call_reply_error(call, CET_E_INVALID_EMAIL, "email");
        return;
    }
    if (!cet_password_ok(password)) {
        net_call_reply_error(call, CET_E_WEAK_PASSWORD, "password");
        return;
    }
    if (!net_api_captcha_ok(call, j, true)) return;
    char client[64];
    net_rate_client(net_req_client(call->req), client, sizeof client);
    if (!net_rate_allow("account", client, CET_ACCOUNT_CLIENT_PER_MIN_MAX)) {
        net_call_reply_error(call, CET_E_RATE_LIMITED, NULL);
        return;
    }
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    eng_op_t *op = net_call_op(call, ENG_OP_ACCOUNT_CREATE);
    uint8_t scope[16];
    net_api_email_scope(email, scope);
    if (!net_call_idem(call, scope)) return;
    cet_strlcpy(op->in.email, email, sizeof op->in.email);
    cet_account_id_new(op->in.target);
    /* a replayed key or a taken email is answered before the password is hashed */
    if (eng_op_early(op, txn)) {
        if (op->res.err == CET_E_EMAIL_TAKEN) {
            net_call_reply_error(call, CET_E_EMAIL_TAKEN, "email");
            return;
        }
        net_call_reply_op(call);
        return;
    }
    pw_submit(call, password, pw_hash_cb);
}

json_t *net_api_render_account(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    char hex[33];
    cet_hex(hex, op->res.u.account.id, 16);
    return json_pack("{s:s,s:s}", "account_id", hex, "email", op->res.u.account.email);
}

static void login(net_call_t *call, bool staff)
{
    static const char *const allowed[] = {"email", "password", "captcha_id", "captcha_answer",
                                          NULL};
    static const char *const allowed_staff[] = {"user", "password", "captcha_id", "captcha_answer",
                                                NULL};
    net_api_t *api = call->api;
    json_t *j = net_call_body(call, staff ? allowed_staff : allowed);
    if (!j) return;
    const char *who, *password, *field;
    cet_err_t e = net_json_str(j, field = staff ? "user" : "email", true, &who);
    if (!e) e = net_json_str(j, field = "password", true, &password);
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    if (strlen(password) > CET_PASSWORD_BYTES_MAX || strlen(who) >= CET_EMAIL_BYTES) {
        net_call_reply_error(call, CET_E_INVALID_CREDENTIALS, NULL);
        return;
    }
    /* staff may leave the captcha out only while it is off (tests, tools) */
    if (!net_api_captcha_ok(call, j, !staff || net_captcha_enabled())) return;
    login_keys(call->req, staff, who, &call->pw.limit);
    if (!login_allowed(&call->pw.limit)) {
        net_call_reply_error(call, CET_E_RATE_LIMITED, NULL);
        return;
    }
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    eng_op_t *op = net_call_op(call, ENG_OP_SESSION_CREATE);
    cet_strlcpy(call->pw.hash, api->dummy_hash, sizeof call->pw.hash);
    int rc;
    if (staff) {
        store_staff_t s;
        rc = store_staff_get(txn, api->st, who, &s);
        if (rc == 0) {
            cet_strlcpy(call->pw.hash, s.pwhash, sizeof call->pw.hash);
            cet_strlcpy(op->staff, s.user, sizeof op->staff);
        }
    } else {
        store_account_t a;
        rc = store_account_by_email(txn, api->st, who, &a);
        if (rc == 0) {
            cet_strlcpy(call->pw.hash, a.pwhash, sizeof call->pw.hash);
            memcpy(op->account, a.id, 16);
        }
    }
    if (rc && rc != STORE_NOTFOUND) {
        net_call_reply_store_error(call, rc);
        return;
    }
    /* an unknown name still costs one verification (of the dummy hash), so
     * timing does not tell which emails have accounts; it then fails */
    call->pw.unknown = rc == STORE_NOTFOUND;
    pw_submit(call, password, pw_verify_cb);
}

json_t *net_api_render_session(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:s,s:o}", "token", op->in.token_out, "expires_at",
                     net_api_time_json(op->res.u.session.expires));
}

void net_api_session_create(net_call_t *call)
{
    login(call, false);
}

void net_api_staff_session_create(net_call_t *call)
{
    login(call, true);
}

void net_api_session_delete(net_call_t *call)
{
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    uint8_t key[32];
    const char *h = net_req_header(call->req, "Authorization");
    bool staff = false;
    if (h && strncasecmp(h, "Bearer ", 7) == 0 && cet_token_key(h + 7, key)) {
        store_session_t s;
        staff =
            store_session_get(txn, call->api->st, key, &s) == 0 && s.kind == STORE_SESSION_STAFF;
    }
    if (!net_api_auth(call, txn, staff ? STORE_SESSION_STAFF : STORE_SESSION_CANDIDATE)) return;
    eng_op_t *op = net_call_op(call, ENG_OP_SESSION_DELETE);
    memcpy(op->in.token_key, call->auth.token_key, 32);
    net_call_submit(call);
}

json_t *net_api_render_logout(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    (void)op;
    return json_pack("{s:s}", "status", "logged_out");
}

/* ---- account email ---- */
void net_api_email_change(net_call_t *call)
{
    static const char *const allowed[] = {"new_email", "password", NULL};
    eng_op_t *op = net_api_candidate_op(call, ENG_OP_EMAIL_CHANGE);
    if (!op) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    const char *email = NULL, *password = NULL;
    cet_err_t e = net_json_str(j, "new_email", true, &email);
    const char *field = "new_email";
    if (!e && !cet_email_valid(email)) e = CET_E_INVALID_EMAIL;
    if (!e) {
        field = "password";
        e = net_json_str(j, "password", true, &password);
    }
    char who[CET_EMAIL_BYTES];
    cet_email_normalize(call->auth.acct.email, who, sizeof who);
    if (!e && !net_rate_allow("email-change", who, CET_LOGIN_PER_MIN_MAX)) e = CET_E_RATE_LIMITED;
    if (e) {
        net_call_reply_error(call, e, field);
        return;
    }
    cet_strlcpy(op->in.email, email, sizeof op->in.email);
    /* a replayed key is answered before the password is verified */
    if (eng_op_early(op, call->rtxn)) {
        net_call_reply_op(call);
        return;
    }
    cet_strlcpy(call->pw.hash, call->auth.acct.pwhash, sizeof call->pw.hash);
    pw_submit(call, password, pw_verify_cb);
}

json_t *net_api_render_email(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:s}", "email", op->res.u.account.email);
}
