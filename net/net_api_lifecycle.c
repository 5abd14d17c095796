/*
 * net_api_lifecycle.c: the candidate's account lifecycle (docs/rules.md
 * R30..R34): the public sitting, password reset by mail, account recovery,
 * password change, and the support desk's rebinding, with the renderers of
 * their op results. Password hashing runs on the net_pool, never on a core
 * loop; every write goes through the writer (eng_account.c), whose commit
 * also holds the mail it queues.
 */
#include "net/net_api_internal.h"

#include <sodium.h>
#include <string.h>

#include "base/cet_id.h"
#include "base/cet_token.h"
#include "net/net_captcha.h"
#include "net/net_ratelimit.h"

/* ---- small shared pieces; each false means the call was answered ---- */
/* Counts one attempt of (bucket, key); 429 when over per_min_max this minute. */
static bool within_rate(net_call_t *call, const char *bucket, const char *key, unsigned per_min_max)
{
    if (net_rate_allow(bucket, key, per_min_max)) return true;
    net_call_reply_error(call, CET_E_RATE_LIMITED, NULL);
    return false;
}

/* The call's client address as the rate limits key it (net_rate_client). */
static void client_key(net_call_t *call, char out[64])
{
    net_rate_client(net_req_client(call->req), out, 64);
}

/* ---- password work on the pool: verify the old password (optional), hash the new ---- */
typedef struct pw_work {
    net_work_t w;
    net_call_t *call;
    char password[CET_PASSWORD_BYTES_MAX + 1];     /* verified against op.in.pwhash_seen */
    char new_password[CET_PASSWORD_BYTES_MAX + 1]; /* hashed into op.in.pwhash */
    bool verify;
    bool verified, hashed;
} pw_work_t;

static void pw_work_cb(net_work_t *w)
{
    pw_work_t *p = w->arg;
    eng_op_t *op = &p->call->op;
    p->verified = !p->verify || crypto_pwhash_str_verify(op->in.pwhash_seen, p->password,
                                                         strlen(p->password)) == 0;
    if (p->verified)
        p->hashed = crypto_pwhash_str(op->in.pwhash, p->new_password, strlen(p->new_password),
                                      crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                      crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
    sodium_memzero(p->password, sizeof p->password);
    sodium_memzero(p->new_password, sizeof p->new_password);
}

/* Back on the core: the op goes to the writer, or the call is refused. */
static void pw_work_done_cb(net_work_t *w)
{
    pw_work_t *p = w->arg;
    net_call_t *call = p->call;
    bool verified = p->verified, hashed = p->hashed;
    cet_free(p);
    if (!verified)
        net_call_reply_error(call, CET_E_INVALID_CREDENTIALS, "password");
    else if (!hashed)
        net_call_reply_error(call, CET_E_INTERNAL, NULL);
    else
        net_call_submit(call); /* the read txn ended: no fast paths, the writer decides */
}

/* Ends the read txn (the pool takes a while) and queues the password work of the call's op. */
static void pw_work_submit(net_call_t *call, bool verify, const char *password,
                           const char *new_password)
{
    pw_work_t *p = cet_calloc(1, sizeof *p);
    p->w.work_cb = pw_work_cb;
    p->w.done_cb = pw_work_done_cb;
    p->w.arg = p;
    p->call = call;
    p->verify = verify;
    if (password) cet_strlcpy(p->password, password, sizeof p->password);
    cet_strlcpy(p->new_password, new_password, sizeof p->new_password);
    net_call_read_done(call);
    cet_err_t e = net_pool_submit(net_req_core(call->req), &p->w);
    if (e) {
        sodium_memzero(p, sizeof *p);
        cet_free(p);
        net_call_reply_error(call, e, NULL);
    }
}

/* ---- GET /api/v1/sitting: public, the entry page's 考试时间 ---- */
void net_api_sitting_get(net_call_t *call)
{
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    eng_phase_t phase;
    json_t *sitting = net_api_sitting_json(txn, call->api, &phase);
    net_call_reply_json(call, 200,
                        json_pack("{s:o,s:s,s:o}", "sitting", sitting, "phase",
                                  eng_phase_name(phase), "now", net_api_time_json(cet_now_s())));
}

/* ---- POST /api/v1/password-resets ---- */
/*
 * The same answer, and the same work, for every well-formed email: a token
 * is made, one op goes through the writer and one reset record is committed
 * either way (eng_account.c); only an email with an account gets the mail.
 */
void net_api_reset_request(net_call_t *call)
{
    static const char *const allowed[] = {"email", "captcha_id", "captcha_answer", NULL};
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    const char *email = NULL;
    cet_err_t e = net_json_str(j, "email", true, &email);
    if (!e && !cet_email_valid(email)) e = CET_E_INVALID_EMAIL;
    if (e) {
        net_call_reply_error(call, e, "email");
        return;
    }
    char norm[CET_EMAIL_BYTES], client[64];
    cet_email_normalize(email, norm, sizeof norm);
    client_key(call, client);
    if (!net_api_captcha_ok(call, j, true) ||
        !within_rate(call, "reset-ip", client, CET_RESET_PER_CLIENT_PER_MIN_MAX) ||
        !within_rate(call, "reset", norm, CET_RESET_PER_EMAIL_PER_MIN_MAX))
        return;
    if (!net_api_read_txn(call)) return;
    eng_op_t *op = net_call_op(call, ENG_OP_RESET_REQUEST);
    uint8_t scope[16];
    net_api_email_scope(norm, scope);
    scope[1] ^= 0x5a; /* reset keys never meet account-creation keys of the same email */
    if (!net_call_idem(call, scope)) return;
    cet_strlcpy(op->in.email, norm, sizeof op->in.email);
    cet_token_new(op->in.token_out, op->in.token_key);
    net_call_submit(call);
}

json_t *net_api_render_reset_request(net_call_t *call, const eng_op_t *op)
{
    (void)call, (void)op;
    return json_pack("{s:s,s:i}", "status", "queued", "expires_in", CET_RESET_TTL_S);
}

/* ---- POST /api/v1/password-resets/confirm ---- */
void net_api_reset_confirm(net_call_t *call)
{
    static const char *const allowed[] = {"token", "new_password", NULL};
    json_t *j = net_call_body(call, allowed);
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
        net_call_reply_error(call, e, field);
        return;
    }
    char client[64];
    client_key(call, client);
    if (!within_rate(call, "reset-ip", client, CET_RESET_PER_CLIENT_PER_MIN_MAX)) return;
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    /* a link that cannot work is refused here, before a password is hashed; the
     * writer checks the record again (a second use may be racing this one) */
    store_reset_t r;
    static const uint8_t zero[16];
    int rc = store_reset_get(txn, call->api->st, key, &r);
    e = CET_E_OK;
    if (rc == STORE_NOTFOUND || (rc == 0 && memcmp(r.account, zero, 16) == 0))
        e = CET_E_RESET_TOKEN_INVALID;
    else if (rc == 0 && r.used_at)
        e = CET_E_RESET_TOKEN_USED;
    else if (rc == 0 && cet_now_s() >= r.expires)
        e = CET_E_RESET_TOKEN_EXPIRED;
    bool superseded = false;
    if (rc == 0 && !e) rc = store_reset_superseded(txn, call->api->st, &r, &superseded);
    if (superseded) e = CET_E_RESET_TOKEN_EXPIRED;
    if (rc && rc != STORE_NOTFOUND) {
        net_call_reply_store_error(call, rc);
        return;
    }
    if (e) {
        net_call_reply_error(call, e, "token");
        return;
    }
    eng_op_t *op = net_call_op(call, ENG_OP_RESET_CONFIRM);
    memcpy(op->in.token_key, key, 32);
    pw_work_submit(call, false, NULL, pw);
}

json_t *net_api_render_reset_confirm(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:s,s:i}", "status", "password_reset", "sessions_ended",
                     (json_int_t)op->res.u.password.sessions_ended);
}

/* ---- POST /api/v1/account-recovery (找回已报名账号) ---- */
void net_api_account_recovery(net_call_t *call)
{
    static const char *const allowed[] = {"id_type",    "id_number",      "name",
                                          "captcha_id", "captcha_answer", NULL};
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    int id_type = 0;
    char id[CET_ID_NUMBER_BYTES], client[64];
    const char *name = NULL;
    client_key(call, client);
    if (!net_api_identity_fields(call, j, &id_type, id, sizeof id, &name) ||
        !net_api_captcha_ok(call, j, true) ||
        !within_rate(call, "recovery-ip", client, CET_RECOVERY_PER_MIN_MAX))
        return;
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    /* the environment is one sitting, the latest: its binding of this record */
    const store_t *st = call->api->st;
    store_roster_t ro;
    store_candidate_t c;
    store_account_t a;
    int rc = store_roster_get(txn, st, (uint8_t)id_type, id, &ro);
    if (rc == 0 && strcmp(ro.name, name) != 0) rc = STORE_NOTFOUND;
    if (rc == 0) rc = store_candidate_get(txn, st, ro.roster_no, &c);
    if (rc == 0) rc = store_account_get(txn, st, c.account, &a);
    if (rc == 0 && a.roster_no != ro.roster_no) rc = STORE_NOTFOUND;
    if (rc == STORE_NOTFOUND) {
        net_call_reply_error(call, CET_E_RECOVERY_NOT_FOUND, NULL);
        return;
    }
    if (rc) {
        net_call_reply_store_error(call, rc);
        return;
    }
    char masked[CET_EMAIL_BYTES + 8];
    eng_mask_email(a.email, masked, sizeof masked);
    net_call_reply_json(call, 200, json_pack("{s:s}", "email_masked", masked));
}

/* ---- PUT /api/v1/account/password ---- */
void net_api_password_change(net_call_t *call)
{
    static const char *const allowed[] = {"password", "new_password", NULL};
    eng_op_t *op = net_api_candidate_op(call, ENG_OP_PASSWORD_CHANGE);
    if (!op) return;
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    const char *pw = NULL, *new_pw = NULL, *field = "password";
    cet_err_t e = net_json_str(j, "password", true, &pw);
    if (!e && strlen(pw) > CET_PASSWORD_BYTES_MAX) e = CET_E_INVALID_CREDENTIALS;
    if (!e) {
        field = "new_password";
        e = net_json_str(j, "new_password", true, &new_pw);
    }
    if (!e && !cet_password_ok(new_pw)) e = CET_E_WEAK_PASSWORD;
    char who[CET_EMAIL_BYTES];
    cet_email_normalize(call->auth.acct.email, who, sizeof who);
    if (!e && !net_rate_allow("password-change", who, CET_LOGIN_PER_MIN_MAX))
        e = CET_E_RATE_LIMITED;
    if (e) {
        net_call_reply_error(call, e, e == CET_E_RATE_LIMITED ? NULL : field);
        return;
    }
    /* a replayed key is answered before any password work */
    if (eng_op_early(op, call->rtxn)) {
        net_call_reply_op(call);
        return;
    }
    cet_strlcpy(op->in.pwhash_seen, call->auth.acct.pwhash, sizeof op->in.pwhash_seen);
    memcpy(op->in.token_key, call->auth.token_key, 32); /* this session stays */
    pw_work_submit(call, true, pw, new_pw);
}

json_t *net_api_render_password(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    return json_pack("{s:s,s:i}", "status", "password_changed", "sessions_ended",
                     (json_int_t)op->res.u.password.sessions_ended);
}

/* ---- POST /api/v1/admin/rebindings (support desk only) ---- */
void net_api_staff_rebind(net_call_t *call)
{
    static const char *const allowed[] = {"id_type", "id_number", "name", "to_account_id", NULL};
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    if (!net_api_auth(call, txn, STORE_SESSION_STAFF)) return;
    if (call->auth.staff.role != STORE_STAFF_SUPPORT) {
        net_call_reply_error(call, CET_E_FORBIDDEN, NULL);
        return;
    }
    json_t *j = net_call_body(call, allowed);
    if (!j) return;
    eng_op_t *op = net_call_op(call, ENG_OP_STAFF_REBIND);
    int id_type = 0;
    const char *name = NULL, *to = NULL;
    if (!net_api_identity_fields(call, j, &id_type, op->in.id_number, sizeof op->in.id_number,
                                 &name))
        return;
    cet_err_t e = net_json_str(j, "to_account_id", true, &to);
    if (!e && (strlen(to) != 32 || cet_unhex(op->in.target, to, 16) != 0)) e = CET_E_INVALID_FIELD;
    if (e) {
        net_call_reply_error(call, e, "to_account_id");
        return;
    }
    op->in.id_type = (uint8_t)id_type;
    cet_strlcpy(op->in.name, name, sizeof op->in.name);
    cet_strlcpy(op->staff, call->auth.staff.user, sizeof op->staff);
    uint8_t scope[16];
    net_api_email_scope(call->auth.staff.user, scope);
    scope[0] ^= 0x80; /* staff keys never meet candidates' (as net_api_staff.c) */
    if (!net_call_idem(call, scope)) return;
    net_call_submit(call);
}

json_t *net_api_render_rebind(net_call_t *call, const eng_op_t *op)
{
    (void)call;
    char from[33], to[33];
    cet_hex(from, op->res.u.rebind.from, 16);
    cet_hex(to, op->res.u.rebind.to, 16);
    return json_pack("{s:s,s:s,s:i,s:o}", "from_account_id", from, "to_account_id", to, "roster_no",
                     (json_int_t)op->res.u.rebind.roster_no, "registrations",
                     net_api_subjects_json(op->res.u.rebind.subjects));
}
