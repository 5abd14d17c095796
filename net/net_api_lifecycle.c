/*
 * net_api_lifecycle.c: the candidate's account lifecycle (docs/rules.md
 * R30..R34): the public sitting, password reset by mail, account recovery,
 * password change, and the support desk's rebinding. Password hashing runs
 * on the net_pool, never on a core loop; every write goes through the
 * writer (eng_account.c), whose commit also holds the mail it queues.
 */
#include "net/net_api_internal.h"

#include <sodium.h>
#include <string.h>

#include "base/cet_id.h"
#include "base/cet_token.h"
#include "net/net_captcha.h"
#include "net/net_ratelimit.h"

/* ---- small shared pieces ---- */
/* Replies and returns false unless the body's captcha answer is right (R2). */
static bool captcha_passed(net_req_t *req, json_t *j)
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

/* id_type, id_number (canonical into id[idcap]) and name; replies on error. */
static bool identity(net_req_t *req, json_t *j, int *id_type, char *id, size_t idcap,
                     const char **name)
{
    const char *type_s = NULL, *num = NULL, *field = "id_type";
    cet_err_t e = net_json_str(j, "id_type", true, &type_s);
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
        net_reply_error(req, e, field);
        return false;
    }
    return true;
}

/* Replies 429 and returns false when (bucket, key) is over per_min_max this minute. */
static bool within_rate(net_req_t *req, const char *bucket, const char *key, unsigned per_min_max)
{
    if (net_rate_allow(bucket, key, per_min_max)) return true;
    net_reply_error(req, CET_E_RATE_LIMITED, NULL);
    return false;
}

/* ---- password work on the pool ---- */
typedef struct pw_work {
    net_work_t w;
    net_req_t *req;
    eng_op_t *op;                                  /* queued when the work succeeded */
    char password[CET_PASSWORD_BYTES_MAX + 1];     /* verified against op->in.pwhash_seen */
    char new_password[CET_PASSWORD_BYTES_MAX + 1]; /* hashed into op->in.pwhash */
    bool verify;
    bool verified, hashed;
} pw_work_t;

static void pw_work_cb(net_work_t *w)
{
    pw_work_t *p = w->arg;
    p->verified = !p->verify || crypto_pwhash_str_verify(p->op->in.pwhash_seen, p->password,
                                                         strlen(p->password)) == 0;
    if (p->verified)
        p->hashed = crypto_pwhash_str(p->op->in.pwhash, p->new_password, strlen(p->new_password),
                                      crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                      crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
    sodium_memzero(p->password, sizeof p->password);
    sodium_memzero(p->new_password, sizeof p->new_password);
}

static void pw_work_done_cb(net_work_t *w)
{
    pw_work_t *p = w->arg;
    if (!p->verified) {
        cet_free(p->op);
        net_reply_error(p->req, CET_E_INVALID_CREDENTIALS, "password");
    } else if (!p->hashed) {
        cet_free(p->op);
        net_reply_error(p->req, CET_E_INTERNAL, NULL);
    } else {
        net_api_op_submit(p->req, p->op);
    }
    cet_free(p);
}

/* Hands op to the pool: verify `password` (when verify), hash `new_password`, then submit. */
static void pw_work_submit(net_req_t *req, eng_op_t *op, bool verify, const char *password,
                           const char *new_password)
{
    pw_work_t *p = cet_calloc(1, sizeof *p);
    p->w.work_cb = pw_work_cb;
    p->w.done_cb = pw_work_done_cb;
    p->w.arg = p;
    p->req = req;
    p->op = op;
    p->verify = verify;
    if (password) cet_strlcpy(p->password, password, sizeof p->password);
    cet_strlcpy(p->new_password, new_password, sizeof p->new_password);
    net_core_read_done(net_req_core(req));
    cet_err_t e = net_pool_submit(net_req_core(req), &p->w);
    if (e) {
        sodium_memzero(p, sizeof *p);
        cet_free(p);
        cet_free(op);
        net_reply_error(req, e, NULL);
    }
}

/* ---- GET /api/v1/sitting: public, the entry page's 考试时间 ---- */
void net_api_sitting_get(net_req_t *req, net_api_t *api)
{
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) return;
    eng_phase_t phase;
    json_t *sitting = net_api_sitting_json(txn, api, &phase);
    net_reply_json(req, 200,
                   json_pack("{s:o,s:s,s:o}", "sitting", sitting, "phase", eng_phase_name(phase),
                             "now", net_api_time_json(cet_now_s())));
}

/* ---- POST /api/v1/password-resets ---- */
/*
 * The same answer, and the same work, for every well-formed email: a token
 * is made, one op goes through the writer and one reset record is committed
 * either way (eng_account.c); only an email with an account gets the mail.
 */
void net_api_reset_request(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"email", "captcha_id", "captcha_answer", NULL};
    json_t *j = net_api_body_json(req, allowed);
    if (!j) return;
    const char *email = NULL;
    cet_err_t e = net_json_str(j, "email", true, &email);
    if (!e && !cet_email_valid(email)) e = CET_E_INVALID_EMAIL;
    if (e) {
        json_decref(j);
        net_reply_error(req, e, "email");
        return;
    }
    char norm[CET_EMAIL_BYTES];
    cet_email_normalize(email, norm, sizeof norm);
    if (!captcha_passed(req, j) ||
        !within_rate(req, "reset-ip", net_req_client(req), CET_RESET_PER_CLIENT_PER_MIN_MAX) ||
        !within_rate(req, "reset", norm, CET_RESET_PER_EMAIL_PER_MIN_MAX)) {
        json_decref(j);
        return;
    }
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) {
        json_decref(j);
        return;
    }
    eng_op_t *op = net_api_op_new(req, api, ENG_OP_RESET_REQUEST);
    uint8_t scope[16];
    net_api_email_scope(norm, scope);
    scope[1] ^= 0x5a; /* reset keys never meet account-creation keys of the same email */
    if (net_api_idem_prepare(req, txn, api, op, scope)) {
        json_decref(j);
        return;
    }
    cet_strlcpy(op->in.email, norm, sizeof op->in.email);
    cet_token_new(op->in.token_out, op->in.token_key);
    json_decref(j);
    net_api_op_submit(req, op);
}

/* ---- POST /api/v1/password-resets/confirm ---- */
void net_api_reset_confirm(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"token", "new_password", NULL};
    json_t *j = net_api_body_json(req, allowed);
    if (!j) return;
    const char *token = NULL, *pw = NULL, *field = "token";
    uint8_t key[32];
    cet_err_t e = net_json_str(j, "token", true, &token);
    if (!e && !cet_token_key(token, key)) e = CET_E_RESET_TOKEN_INVALID;
    if (!e) {
        field = "new_password";
        e = net_json_str(j, "new_password", true, &pw);
    }
    if (!e && !cet_password_ok(pw)) e = CET_E_WEAK_PASSWORD;
    if (e) {
        json_decref(j);
        net_reply_error(req, e, field);
        return;
    }
    if (!within_rate(req, "reset-ip", net_req_client(req), CET_RESET_PER_CLIENT_PER_MIN_MAX)) {
        json_decref(j);
        return;
    }
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) {
        json_decref(j);
        return;
    }
    /* a link that cannot work is refused here, before a password is hashed; the
     * writer checks the record again (a second use may be racing this one) */
    store_reset_t r;
    int rc = store_reset_get(txn, api->st, key, &r);
    static const uint8_t zero[16];
    e = CET_E_OK;
    if (rc == STORE_NOTFOUND || (rc == 0 && memcmp(r.account, zero, 16) == 0))
        e = CET_E_RESET_TOKEN_INVALID;
    else if (rc == 0 && r.used_at)
        e = CET_E_RESET_TOKEN_USED;
    else if (rc == 0 && cet_now_s() >= r.expires)
        e = CET_E_RESET_TOKEN_EXPIRED;
    bool superseded = false;
    if (rc == 0 && !e) rc = store_reset_superseded(txn, api->st, &r, &superseded);
    if (superseded) e = CET_E_RESET_TOKEN_EXPIRED;
    if (rc && rc != STORE_NOTFOUND) {
        json_decref(j);
        net_api_reply_store_error(req, rc);
        return;
    }
    if (e) {
        json_decref(j);
        net_reply_error(req, e, "token");
        return;
    }
    eng_op_t *op = net_api_op_new(req, api, ENG_OP_RESET_CONFIRM);
    memcpy(op->in.token_key, key, 32);
    pw_work_submit(req, op, false, NULL, pw);
    json_decref(j);
}

/* ---- POST /api/v1/account-recovery (找回已报名账号) ---- */
void net_api_account_recovery(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"id_type",    "id_number",      "name",
                                          "captcha_id", "captcha_answer", NULL};
    json_t *j = net_api_body_json(req, allowed);
    if (!j) return;
    int id_type = 0;
    char id[CET_ID_NUMBER_BYTES];
    const char *name = NULL;
    if (!identity(req, j, &id_type, id, sizeof id, &name) || !captcha_passed(req, j) ||
        !within_rate(req, "recovery-ip", net_req_client(req), CET_RECOVERY_PER_MIN_MAX)) {
        json_decref(j);
        return;
    }
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) {
        json_decref(j);
        return;
    }
    /* the environment is one sitting, the latest: its binding of this record */
    store_roster_t ro;
    store_candidate_t c;
    store_account_t a;
    int rc = store_roster_get(txn, api->st, (uint8_t)id_type, id, &ro);
    if (rc == 0 && strcmp(ro.name, name) != 0) rc = STORE_NOTFOUND;
    if (rc == 0) rc = store_candidate_get(txn, api->st, ro.roster_no, &c);
    if (rc == 0) rc = store_account_get(txn, api->st, c.account, &a);
    if (rc == 0 && a.roster_no != ro.roster_no) rc = STORE_NOTFOUND;
    json_decref(j);
    if (rc == STORE_NOTFOUND) {
        net_reply_error(req, CET_E_RECOVERY_NOT_FOUND, NULL);
        return;
    }
    if (rc) {
        net_api_reply_store_error(req, rc);
        return;
    }
    char masked[CET_EMAIL_BYTES + 8];
    eng_mask_email(a.email, masked, sizeof masked);
    net_reply_json(req, 200, json_pack("{s:s}", "email_masked", masked));
}

/* ---- PUT /api/v1/account/password ---- */
void net_api_password_change(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"password", "new_password", NULL};
    api_auth_t a;
    eng_op_t *op = net_api_candidate_op(req, api, ENG_OP_PASSWORD_CHANGE, &a);
    if (!op) return;
    json_t *j = net_api_body_json(req, allowed);
    if (!j) {
        cet_free(op);
        return;
    }
    const char *pw = NULL, *new_pw = NULL, *field = "password";
    cet_err_t e = net_json_str(j, "password", true, &pw);
    if (!e && strlen(pw) > CET_PASSWORD_BYTES_MAX) e = CET_E_INVALID_CREDENTIALS;
    if (!e) {
        field = "new_password";
        e = net_json_str(j, "new_password", true, &new_pw);
    }
    if (!e && !cet_password_ok(new_pw)) e = CET_E_WEAK_PASSWORD;
    if (!e && !net_rate_allow("login", a.acct.email, CET_LOGIN_PER_MIN_MAX)) e = CET_E_RATE_LIMITED;
    if (e) {
        net_api_op_refuse(req, op, j, e, e == CET_E_RATE_LIMITED ? NULL : field);
        return;
    }
    cet_strlcpy(op->in.pwhash_seen, a.acct.pwhash, sizeof op->in.pwhash_seen);
    memcpy(op->in.token_key, a.token_key, 32); /* this session stays */
    pw_work_submit(req, op, true, pw, new_pw);
    json_decref(j);
}

/* ---- POST /api/v1/admin/rebindings (support desk only) ---- */
void net_api_staff_rebind(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"id_type", "id_number", "name", "to_account_id", NULL};
    store_txn_t *txn = net_api_read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!net_api_auth(req, txn, api, STORE_SESSION_STAFF, &a)) return;
    if (a.staff.role != STORE_STAFF_SUPPORT) {
        net_reply_error(req, CET_E_FORBIDDEN, NULL);
        return;
    }
    json_t *j = net_api_body_json(req, allowed);
    if (!j) return;
    int id_type = 0;
    const char *name = NULL, *to = NULL;
    eng_op_t *op = net_api_op_new(req, api, ENG_OP_STAFF_REBIND);
    if (!identity(req, j, &id_type, op->in.id_number, sizeof op->in.id_number, &name)) {
        json_decref(j);
        cet_free(op);
        return;
    }
    cet_err_t e = net_json_str(j, "to_account_id", true, &to);
    if (!e && (strlen(to) != 32 || cet_unhex(op->in.target, to, 16) != 0)) e = CET_E_INVALID_FIELD;
    if (e) {
        net_api_op_refuse(req, op, j, e, "to_account_id");
        return;
    }
    op->in.id_type = (uint8_t)id_type;
    cet_strlcpy(op->in.name, name, sizeof op->in.name);
    cet_strlcpy(op->staff, a.staff.user, sizeof op->staff);
    json_decref(j);
    uint8_t scope[16];
    net_api_email_scope(a.staff.user, scope);
    scope[0] ^= 0x80; /* staff keys never meet candidates' (as net_api_staff.c) */
    if (net_api_idem_prepare(req, txn, api, op, scope)) return;
    net_api_op_submit(req, op);
}
