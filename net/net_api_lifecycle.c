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
    p->verified = !p->verify || cet_pwhash_verify(op->in.pwhash_seen, p->password);
    if (p->verified) p->hashed = cet_pwhash_make(op->in.pwhash, p->new_password) == 0;
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
    return json_pack("{s:s,s:I}", "status", "password_reset", "sessions_ended",
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
    return json_pack("{s:s,s:I}", "status", "password_changed", "sessions_ended",
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
    return json_pack("{s:s,s:s,s:I,s:o}", "from_account_id", from, "to_account_id", to, "roster_no",
                     (json_int_t)op->res.u.rebind.roster_no, "registrations",
                     net_api_subjects_json(op->res.u.rebind.subjects));
}

/* ---- GET /api/v1/admin/accounts?email=|account_id=|id_type=&id_number= (support desk only) ---- */
/* One account as the desk sees it: full email (support reads it out), its binding masked. */
static json_t *support_account_json(net_call_t *call, store_txn_t *txn, const store_account_t *a)
{
    const store_t *st = call->api->st;
    char hex[33];
    cet_hex(hex, a->id, 16);
    json_t *binding = json_null(), *regs = json_array();
    store_candidate_t c;
    if (a->roster_no && store_candidate_get(txn, st, a->roster_no, &c) == 0 &&
        memcmp(c.account, a->id, 16) == 0) {
        char name[CET_NAME_BYTES], idm[CET_ID_NUMBER_BYTES];
        eng_mask_name(c.snapshot.name, name, sizeof name);
        eng_mask_id(c.snapshot.id_number, idm, sizeof idm);
        json_decref(binding);
        binding = json_pack("{s:I,s:s,s:s,s:s,s:o,s:o}", "roster_no", (json_int_t)a->roster_no,
                            "name", name, "id_type", cet_id_type_name(c.snapshot.id_type),
                            "id_number", idm, "school", net_api_code5(c.snapshot.school),
                            "bound_at", net_api_time_json(c.bound_at));
        store_reg_t r[CET_CANDIDATE_REGS_MAX];
        int n = store_reg_list(txn, st, a->roster_no, r, CET_CANDIDATE_REGS_MAX);
        for (int i = 0; i < n; i++) {
            char s[2] = {r[i].subject, 0};
            const char *state = (r[i].flags & STORE_REG_PAID)     ? "paid"
                                : (r[i].flags & STORE_REG_LOCKED) ? "locked"
                                                                  : "unpaid";
            json_array_append_new(regs, json_pack("{s:s,s:s,s:o}", "subject", s, "state", state,
                                                  "campus", net_api_code6(r[i].campus)));
        }
    }
    return json_pack("{s:s,s:s,s:o,s:b,s:o,s:o}", "account_id", hex, "email", a->email,
                     "created_at", net_api_time_json(a->created), "bound", json_is_object(binding),
                     "binding", binding, "registrations", regs);
}

void net_api_staff_accounts(net_call_t *call)
{
    store_txn_t *txn = net_api_read_txn(call);
    if (!txn) return;
    if (!net_api_auth(call, txn, STORE_SESSION_STAFF)) return;
    if (call->auth.staff.role != STORE_STAFF_SUPPORT) {
        net_call_reply_error(call, CET_E_FORBIDDEN, NULL);
        return;
    }
    const store_t *st = call->api->st;
    const char *email = net_req_query(call->req, "email");
    const char *acct = net_req_query(call->req, "account_id");
    const char *idt = net_req_query(call->req, "id_type");
    const char *idn = net_req_query(call->req, "id_number");
    int keys = (email != NULL) + (acct != NULL) + (idt != NULL || idn != NULL);
    if (keys != 1) {
        net_call_reply_error(call, CET_E_BAD_QUERY, "email");
        return;
    }
    eng_op_t *op = net_call_op(call, ENG_OP_STAFF_LOOKUP);
    store_account_t a;
    json_t *arr = json_array();
    int rc = 0;
    if (email) {
        if (!email[0] || strlen(email) >= CET_EMAIL_BYTES - 8) {
            json_decref(arr);
            net_call_reply_error(call, CET_E_BAD_QUERY, "email");
            return;
        }
        snprintf(op->in.email, sizeof op->in.email, "email=%s", email);
        rc = store_account_by_email(txn, st, email, &a);
    } else if (acct) {
        uint8_t id[16];
        if (strlen(acct) != 32 || cet_unhex(id, acct, 16) != 0) {
            json_decref(arr);
            net_call_reply_error(call, CET_E_BAD_QUERY, "account_id");
            return;
        }
        snprintf(op->in.email, sizeof op->in.email, "account_id=%s", acct);
        rc = store_account_get(txn, st, id, &a);
    } else {
        int t = 0;
        if (!idt || !idn || cet_id_type_parse(idt, &t) != CET_E_OK || !idn[0] ||
            strlen(idn) >= CET_ID_NUMBER_BYTES) {
            json_decref(arr);
            net_call_reply_error(call, CET_E_BAD_QUERY, idt && idn ? "id_number" : "id_type");
            return;
        }
        snprintf(op->in.email, sizeof op->in.email, "id_type=%s id_number=%s",
                 cet_id_type_name(t), idn);
        store_roster_t ro;
        store_candidate_t c;
        rc = store_roster_get(txn, st, (uint8_t)t, idn, &ro);
        if (!rc) rc = store_candidate_get(txn, st, ro.roster_no, &c);
        if (!rc) rc = store_account_get(txn, st, c.account, &a);
    }
    if (rc == 0)
        json_array_append_new(arr, support_account_json(call, txn, &a));
    else if (rc != STORE_NOTFOUND) {
        json_decref(arr);
        net_call_reply_store_error(call, rc);
        return;
    }
    cet_strlcpy(op->staff, call->auth.staff.user, sizeof op->staff);
    call->lookup = json_pack("{s:o}", "accounts", arr);
    net_call_submit(call); /* the lookup is audited before it is answered */
}

json_t *net_api_render_lookup(net_call_t *call, const eng_op_t *op)
{
    (void)op;
    json_t *j = call->lookup;
    call->lookup = NULL;
    return j ? j : json_pack("{s:[]}", "accounts");
}
