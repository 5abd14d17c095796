/*
 * net_api.c: the routes of API version 1 (docs/openapi.yaml).
 *
 * Each handler runs on a core thread. Reads are answered from the core's read
 * txn at once. Writes: the handler validates, runs the rules' fast path on the
 * read txn, takes a seat for a new registration, fills an eng_op_t and queues
 * it to the writer; api_op_done_cb replies once the batch is durable.
 * Password hashing goes to the net_pool first (never on a core loop).
 */
#include "net/net_api.h"

#include <event2/buffer.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "base/cet_token.h"
#include "net/net_captcha.h"
#include "net/net_ratelimit.h"

struct net_api {
    eng_t *eng;
    store_t *st;
    char dummy_hash[CET_PWHASH_BYTES]; /* verified for unknown emails: same cost */
};

/* ---- small helpers ---- */
static store_txn_t *read_txn(net_req_t *req)
{
    int rc = 0;
    store_txn_t *txn = net_core_read_txn(net_req_core(req), &rc);
    if (!txn) {
        CET_ERROR("api: read txn: %s", store_strerror(rc));
        net_reply_error(req, CET_E_STORAGE, NULL);
    }
    return txn;
}

static void reply_store_error(net_req_t *req, int rc)
{
    CET_ERROR("api: %s: storage: %s", net_req_path(req), store_strerror(rc));
    net_reply_error(req, CET_E_STORAGE, NULL);
}

static json_t *time_json(int64_t t)
{
    char buf[26];
    return t ? json_string(cet_time_format(t, buf)) : json_null();
}

static json_t *code6(uint32_t code)
{
    char buf[12];
    snprintf(buf, sizeof buf, "%06u", code);
    return json_string(buf);
}

static json_t *code5(uint32_t code)
{
    char buf[12];
    snprintf(buf, sizeof buf, "%05u", code);
    return json_string(buf);
}

/* Parses a campus given as "100130" or 100130. */
static cet_err_t json_campus(json_t *obj, const char *key, uint32_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return CET_E_MISSING_FIELD;
    long long n;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) != 6 || strspn(s, "0123456789") != 6) return CET_E_INVALID_FIELD;
        n = atoll(s);
    } else {
        return CET_E_WRONG_TYPE;
    }
    if (n < 100000 || n > 999999) return CET_E_INVALID_FIELD;
    *out = (uint32_t)n;
    return CET_E_OK;
}

/* A subject code is one character: a digit or a capital letter. */
static bool subject_code_ok(const char *s)
{
    return s && strlen(s) == 1 &&
           ((s[0] >= '0' && s[0] <= '9') || (s[0] >= 'A' && s[0] <= 'Z'));
}

/* Decodes the body; replies and returns NULL on error. */
static json_t *body_json(net_req_t *req, const char *const *allowed)
{
    json_t *j = NULL;
    const char *field = NULL;
    cet_err_t e = net_req_json(req, allowed, &j, &field);
    if (e) {
        net_reply_error(req, e, field);
        return NULL;
    }
    return j;
}

/* Field getters that reply on error. */
#define GET_STR(j, key, req_, out)                                         \
    do {                                                                   \
        cet_err_t e_ = net_json_str(j, key, true, out);                    \
        if (e_) {                                                          \
            json_decref(j);                                                \
            net_reply_error(req_, e_, key);                                \
            return;                                                        \
        }                                                                  \
    } while (0)

static cet_err_t need_confirmed(json_t *j)
{
    bool confirmed = false;
    cet_err_t e = net_json_bool(j, "confirmed", true, &confirmed);
    if (e) return e;
    return confirmed ? CET_E_OK : CET_E_NOT_CONFIRMED;
}

/* ---- authentication ---- */
typedef struct api_auth {
    uint8_t account[16];
    store_account_t acct;
    store_staff_t staff;
    uint8_t token_key[32];
} api_auth_t;

/* Resolves the bearer token to a live session of kind; replies 401 if not. */
static bool auth(net_req_t *req, store_txn_t *txn, net_api_t *api, uint8_t kind, api_auth_t *out)
{
    const char *h = net_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !cet_token_key(h + 7, out->token_key)) {
        net_reply_error(req, CET_E_UNAUTHORIZED, NULL);
        return false;
    }
    store_session_t s;
    int rc = store_session_get(txn, api->st, out->token_key, &s);
    if (rc && rc != STORE_NOTFOUND) {
        reply_store_error(req, rc);
        return false;
    }
    if (rc || s.kind != kind || s.expires <= cet_now_s()) {
        net_reply_error(req, CET_E_UNAUTHORIZED, NULL);
        return false;
    }
    if (kind == STORE_SESSION_STAFF) {
        rc = store_staff_get(txn, api->st, s.staff, &out->staff);
    } else {
        memcpy(out->account, s.account, 16);
        rc = store_account_get(txn, api->st, s.account, &out->acct);
    }
    if (rc) {
        net_reply_error(req, CET_E_UNAUTHORIZED, NULL);
        return false;
    }
    return true;
}

/* ---- write operations: queue, then reply after commit ---- */
static void api_op_done_cb(store_req_t *r)
{
    eng_op_t *op = (eng_op_t *)r;
    net_req_t *req = op->user;
    eng_seats_t *seats = eng_seats(op->eng);
    if (op->seat_slot >= 0 && (r->status == CET_E_STORAGE || !op->seat_keep))
        eng_seats_give(seats, op->seat_slot);
    if (r->status == CET_E_STORAGE) {
        net_reply_error(req, store_req_err(r), NULL);
    } else {
        for (int i = 0; i < op->n_released; i++) eng_seats_give(seats, op->released[i]);
        if (op->replayed) net_req_add_header(req, "Idempotent-Replayed", "true");
        if (op->kind == ENG_OP_REG_CREATE && r->status == 0 && !op->replayed)
            net_metrics_count("registrations", 1);
        if (op->kind == ENG_OP_STAFF_CAPACITY && r->status == 0 && !op->replayed) {
            /* the new capacity is on disk: the counter follows (left moves by the difference) */
            int slot = eng_seats_slot(seats, op->in.campus, op->in.subject);
            if (slot >= 0) eng_seats_set_capacity(seats, slot, op->in.capacity);
        }
        net_reply_raw(req, op->http_status, "application/json; charset=utf-8", op->body,
                      op->body_len);
    }
    cet_free(op);
}

static eng_op_t *op_new(net_req_t *req, net_api_t *api, eng_op_kind_t kind)
{
    eng_op_t *op = cet_malloc(sizeof *op);
    eng_op_init(op, api->eng, kind, net_core_mailbox(net_req_core(req)), api_op_done_cb);
    op->user = req;
    return op;
}

/* Refuses a request whose op (and body) were prepared: frees both and replies. */
static void op_refuse(net_req_t *req, eng_op_t *op, json_t *j, cet_err_t e, const char *field)
{
    json_decref(j);
    cet_free(op);
    net_reply_error(req, e, field);
}

static void op_submit(net_req_t *req, eng_op_t *op)
{
    cet_err_t e = eng_submit(op);
    if (e) {
        if (op->seat_slot >= 0) eng_seats_give(eng_seats(op->eng), op->seat_slot);
        cet_free(op);
        net_reply_error(req, e, NULL);
    }
}

/*
 * Idempotency-Key: scope (the account, or a hash of the email for calls made
 * before there is one) ‖ SHA-256 of the key; the request hash covers method,
 * path and body so a key reused for another request is refused. If the key
 * was seen, replies with the first answer here and returns true.
 */
static bool idem_prepare(net_req_t *req, store_txn_t *txn, net_api_t *api, eng_op_t *op,
                         const uint8_t scope[16])
{
    const char *key = net_req_header(req, "Idempotency-Key");
    if (!key) return false;
    size_t kl = strlen(key);
    bool ok = kl >= 1 && kl <= CET_IDEM_KEY_BYTES_MAX;
    for (size_t i = 0; ok && i < kl; i++) ok = key[i] > 32 && key[i] < 127;
    if (!ok) {
        cet_free(op);
        net_reply_error(req, CET_E_BAD_REQUEST, "Idempotency-Key");
        return true;
    }
    op->idem = true;
    memcpy(op->idem_key, scope, 16);
    crypto_hash_sha256(op->idem_key + 16, (const unsigned char *)key, kl);
    size_t blen;
    const char *body = net_req_body(req, &blen);
    XXH3_state_t *hs = XXH3_createState();
    XXH3_128bits_reset(hs);
    net_method_t m = net_req_method(req);
    XXH3_128bits_update(hs, &m, sizeof m);
    XXH3_128bits_update(hs, net_req_path(req), strlen(net_req_path(req)) + 1);
    XXH3_128bits_update(hs, body ? body : "", blen);
    XXH128_hash_t h = XXH3_128bits_digest(hs);
    XXH3_freeState(hs);
    XXH128_canonicalFromHash((XXH128_canonical_t *)op->idem_hash, h);
    /* fast path: already answered, no need to queue (or take a seat) */
    store_val_t v;
    int rc = store_get_ref(txn, api->st, STORE_DB_IDEM, op->idem_key, sizeof op->idem_key, &v);
    if (rc == 0 && v.len >= sizeof(store_idem_t)) {
        store_idem_t hd;
        memcpy(&hd, v.data, sizeof hd);
        if (memcmp(hd.request_hash, op->idem_hash, 16) != 0) {
            cet_free(op);
            net_reply_error(req, CET_E_IDEMPOTENCY_CONFLICT, "Idempotency-Key");
            return true;
        }
        size_t n = hd.body_len;
        if (sizeof hd + n > v.len) n = v.len - sizeof hd;
        net_req_add_header(req, "Idempotent-Replayed", "true");
        net_reply_raw(req, hd.status, "application/json; charset=utf-8",
                      (const char *)v.data + sizeof hd, n);
        cet_free(op);
        return true;
    }
    return false;
}

static void email_scope(const char *email, uint8_t scope[16])
{
    char low[CET_EMAIL_BYTES];
    size_t n = cet_email_normalize(email, low, sizeof low);
    XXH128_hash_t h = XXH3_128bits(low, n);
    XXH128_canonicalFromHash((XXH128_canonical_t *)scope, h);
}

/* ---- captcha ---- */
static void h_captcha(net_req_t *req, net_api_t *api)
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
        op_submit(req, op);
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
static void h_account_create(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"email", "password", "captcha_id", "captcha_answer",
                                          "phone", NULL};
    json_t *j = body_json(req, allowed);
    if (!j) return;
    const char *email, *password;
    GET_STR(j, "email", req, &email);
    GET_STR(j, "password", req, &password);
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
    store_txn_t *txn = read_txn(req);
    if (!txn) {
        json_decref(j);
        return;
    }
    eng_op_t *op = op_new(req, api, ENG_OP_ACCOUNT_CREATE);
    uint8_t scope[16];
    email_scope(email, scope);
    if (idem_prepare(req, txn, api, op, scope)) {
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
            reply_store_error(req, rc);
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
    json_t *j = body_json(req, staff ? allowed_staff : allowed);
    if (!j) return;
    const char *who, *password;
    GET_STR(j, staff ? "user" : "email", req, &who);
    GET_STR(j, "password", req, &password);
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
    store_txn_t *txn = read_txn(req);
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
        reply_store_error(req, rc);
        return;
    }
    /* an unknown name still costs one verification (of the dummy hash), so
     * timing does not tell which emails have accounts; it then fails */
    job->op = op_new(req, api, ENG_OP_SESSION_CREATE);
    job->unknown = rc == STORE_NOTFOUND;
    net_core_read_done(net_req_core(req));
    pw_submit(req, job, pw_verify_cb);
}

static void h_session_create(net_req_t *req, net_api_t *api)
{
    login(req, api, false);
}

static void h_staff_session_create(net_req_t *req, net_api_t *api)
{
    login(req, api, true);
}

static void h_session_delete(net_req_t *req, net_api_t *api)
{
    store_txn_t *txn = read_txn(req);
    if (!txn) return;
    api_auth_t a;
    const char *h = net_req_header(req, "Authorization");
    bool staff = false;
    if (h && strncasecmp(h, "Bearer ", 7) == 0 && cet_token_key(h + 7, a.token_key)) {
        store_session_t s;
        staff = store_session_get(txn, api->st, a.token_key, &s) == 0 &&
                s.kind == STORE_SESSION_STAFF;
    }
    if (!auth(req, txn, api, staff ? STORE_SESSION_STAFF : STORE_SESSION_CANDIDATE, &a)) return;
    eng_op_t *op = op_new(req, api, ENG_OP_SESSION_DELETE);
    memcpy(op->in.token_key, a.token_key, 32);
    op_submit(req, op);
}

/* ---- me, agreement ---- */
static const char *review_state(store_txn_t *txn, net_api_t *api, const uint8_t account[16],
                                store_review_t *rv)
{
    if (store_review_get(txn, api->st, account, rv) != 0) return NULL;
    return eng_review_state_name(rv->state);
}

static json_t *sitting_json(store_txn_t *txn, net_api_t *api, eng_phase_t *phase)
{
    store_sitting_t s;
    memset(&s, 0, sizeof s);
    store_sitting_get(txn, api->st, &s);
    *phase = eng_phase(&s, cet_now_s());
    if (!s.id) return json_null();
    return json_pack("{s:i,s:s,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)s.id, "name", s.name,
                     "lookup_opens", time_json(s.lookup_opens), "registration_opens",
                     time_json(s.reg_opens), "registration_closes", time_json(s.reg_closes),
                     "print_opens", time_json(s.print_opens), "written_date",
                     time_json(s.written_date));
}

static void h_me(net_req_t *req, net_api_t *api)
{
    store_txn_t *txn = read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
    char hex[33];
    cet_hex(hex, a.account, 16);
    eng_phase_t phase;
    json_t *sitting = sitting_json(txn, api, &phase);
    store_review_t rv;
    const char *rs = review_state(txn, api, a.account, &rv);
    json_t *cand = json_null();
    store_candidate_t c;
    if (a.acct.roster_no && store_candidate_get(txn, api->st, a.acct.roster_no, &c) == 0) {
        char name[CET_NAME_BYTES];
        eng_mask_name(c.snapshot.name, name, sizeof name);
        cand = json_pack("{s:s,s:o,s:o,s:o}", "name", name, "school", code5(c.snapshot.school),
                         "campus", code6(c.snapshot.campus), "bound_at", time_json(c.bound_at));
    }
    json_t *j = json_pack("{s:s,s:s,s:b,s:o,s:o,s:s,s:b,s:o,s:o}", "account_id", hex, "email",
                          a.acct.email, "agreed", a.acct.agreed_at != 0, "agreed_at",
                          time_json(a.acct.agreed_at), "sitting", sitting, "phase",
                          eng_phase_name(phase), "bound", a.acct.roster_no != 0, "candidate", cand,
                          "cet6_review", rs ? json_string(rs) : json_null());
    net_reply_json(req, 200, j);
}

/* Common start of candidate write calls: auth, op, idempotency. NULL when replied. */
static eng_op_t *candidate_op(net_req_t *req, net_api_t *api, eng_op_kind_t kind,
                              api_auth_t *a)
{
    store_txn_t *txn = read_txn(req);
    if (!txn) return NULL;
    if (!auth(req, txn, api, STORE_SESSION_CANDIDATE, a)) return NULL;
    eng_op_t *op = op_new(req, api, kind);
    memcpy(op->account, a->account, 16);
    if (idem_prepare(req, txn, api, op, a->account)) return NULL;
    return op;
}

static void h_agreement(net_req_t *req, net_api_t *api)
{
    api_auth_t a;
    eng_op_t *op = candidate_op(req, api, ENG_OP_AGREE, &a);
    if (op) op_submit(req, op);
}

/* ---- roster lookup and binding ---- */
static json_t *subject_list_json(store_txn_t *txn, net_api_t *api, const store_roster_t *r)
{
    json_t *arr = json_array();
    for (int i = 0; i < r->n_subjects && i < CET_SUBJECTS_MAX; i++) {
        store_subject_t s;
        if (store_subject_get(txn, api->st, r->subjects[i], &s) != 0) continue;
        json_array_append_new(arr, json_pack("{s:s#,s:s,s:s,s:i}", "code", &s.code, (size_t)1,
                                             "name", s.name, "kind",
                                             s.kind == STORE_ORAL ? "oral" : "written", "level",
                                             (json_int_t)s.level));
    }
    return arr;
}

static const char *education_name(uint8_t e)
{
    switch (e) {
    case STORE_EDU_BACHELOR:
        return "本科";
    case STORE_EDU_ASSOCIATE:
        return "专科";
    case STORE_EDU_GRADUATE:
        return "研究生";
    }
    return "";
}

static json_t *roster_json(store_txn_t *txn, net_api_t *api, const store_roster_t *r, bool mask)
{
    store_school_t sc;
    store_campus_t cp;
    memset(&sc, 0, sizeof sc);
    memset(&cp, 0, sizeof cp);
    store_school_get(txn, api->st, r->school, &sc);
    store_campus_get(txn, api->st, r->campus, &cp);
    char name[CET_NAME_BYTES], id[CET_ID_NUMBER_BYTES];
    if (mask) {
        eng_mask_name(r->name, name, sizeof name);
        eng_mask_id(r->id_number, id, sizeof id);
    } else {
        cet_strlcpy(name, r->name, sizeof name);
        cet_strlcpy(id, r->id_number, sizeof id);
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "gender",
                          (r->flags & STORE_ROSTER_MALE) ? "男" : "女", "id_type",
                          cet_id_type_name(r->id_type), "id_number", id);
    json_object_set_new(j, "school", json_pack("{s:o,s:s}", "code", code5(r->school), "name", sc.name));
    json_object_set_new(j, "campus", json_pack("{s:o,s:s}", "code", code6(r->campus), "name", cp.name));
    json_object_set_new(j, "education", json_string(education_name(r->education)));
    json_object_set_new(j, "program_years", json_integer(r->program_years));
    json_object_set_new(j, "entry_year", json_integer(r->entry_year));
    json_object_set_new(j, "grade", json_integer(r->grade));
    json_object_set_new(j, "department", json_string(r->department));
    json_object_set_new(j, "major", json_string(r->major));
    json_object_set_new(j, "class", json_string(r->class_name));
    json_object_set_new(j, "student_no", json_string(r->student_no));
    json_object_set_new(j, "remarks", json_string(r->remarks));
    json_object_set_new(j, "cet6_barred", json_boolean(r->flags & STORE_ROSTER_CET6_BARRED));
    return j;
}

/* Parses id_type, id_number, name; replies on error. */
static bool identity_fields(net_req_t *req, json_t *j, int *id_type, char *id, size_t idcap,
                            const char **name)
{
    const char *type_s, *num;
    cet_err_t e = net_json_str(j, "id_type", true, &type_s);
    const char *field = "id_type";
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
        if (nl == 0 || nl >= CET_NAME_BYTES || !cet_utf8_text_ok(*name, nl)) e = CET_E_INVALID_FIELD;
    }
    if (e) {
        net_reply_error(req, e, field);
        return false;
    }
    return true;
}

static void h_qualification(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"id_type", "id_number", "name", NULL};
    store_txn_t *txn = read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
    if (!a.acct.agreed_at) {
        net_reply_error(req, CET_E_AGREEMENT_REQUIRED, NULL);
        return;
    }
    json_t *j = body_json(req, allowed);
    if (!j) return;
    int id_type;
    char id[CET_ID_NUMBER_BYTES];
    const char *name;
    if (!identity_fields(req, j, &id_type, id, sizeof id, &name)) {
        json_decref(j);
        return;
    }
    char hex[33];
    cet_hex(hex, a.account, 16);
    if (!net_rate_allow("lookup", hex, 30)) {
        json_decref(j);
        net_reply_error(req, CET_E_RATE_LIMITED, NULL);
        return;
    }
    eng_phase_t phase;
    json_t *sitting = sitting_json(txn, api, &phase);
    json_decref(sitting);
    if (phase < ENG_PHASE_LOOKUP || phase > ENG_PHASE_OPEN) {
        json_decref(j);
        net_reply_error(req, CET_E_WINDOW_CLOSED, NULL);
        return;
    }
    store_roster_t r;
    int rc = store_roster_get(txn, api->st, (uint8_t)id_type, id, &r);
    bool match = rc == 0 && strcmp(r.name, name) == 0;
    json_decref(j);
    if (rc && rc != STORE_NOTFOUND) {
        reply_store_error(req, rc);
        return;
    }
    if (!match) {
        net_reply_error(req, CET_E_ROSTER_NOT_FOUND, NULL);
        return;
    }
    json_t *out = json_pack("{s:o,s:o,s:b,s:b}", "roster", roster_json(txn, api, &r, false),
                            "qualified_subjects", subject_list_json(txn, api, &r),
                            "cet6_review_offered", eng_review_offered(txn, api->st, &r),
                            "can_bind", phase == ENG_PHASE_OPEN);
    net_reply_json(req, 200, out);
}

static void h_bind(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"id_type", "id_number", "name", "confirmed", NULL};
    api_auth_t a;
    eng_op_t *op = candidate_op(req, api, ENG_OP_BIND, &a);
    if (!op) return;
    json_t *j = body_json(req, allowed);
    if (!j) {
        cet_free(op);
        return;
    }
    int id_type;
    const char *name;
    if (!identity_fields(req, j, &id_type, op->in.id_number, sizeof op->in.id_number, &name)) {
        json_decref(j);
        cet_free(op);
        return;
    }
    cet_err_t e = need_confirmed(j);
    if (e) {
        op_refuse(req, op, j, e, "confirmed");
        return;
    }
    op->in.id_type = (uint8_t)id_type;
    cet_strlcpy(op->in.name, name, sizeof op->in.name);
    json_decref(j);
    op_submit(req, op);
}

/* The registration page. */
static void h_candidate_get(net_req_t *req, net_api_t *api)
{
    store_txn_t *txn = read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
    store_candidate_t c;
    if (!a.acct.roster_no || store_candidate_get(txn, api->st, a.acct.roster_no, &c) != 0) {
        net_reply_error(req, CET_E_NOT_BOUND, NULL);
        return;
    }
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(txn, api->st, a.acct.roster_no, regs, 16);
    if (n < 0) {
        reply_store_error(req, n);
        return;
    }
    json_t *written = json_array(), *oral = json_array();
    uint64_t unpaid_w = 0, unpaid_o = 0;
    for (int i = 0; i < n; i++) {
        store_reg_t *r = &regs[i];
        store_subject_t s;
        store_campus_t cp;
        store_school_t sc;
        memset(&s, 0, sizeof s);
        memset(&cp, 0, sizeof cp);
        memset(&sc, 0, sizeof sc);
        store_subject_get(txn, api->st, r->subject, &s);
        store_campus_get(txn, api->st, r->campus, &cp);
        store_school_get(txn, api->st, cp.school, &sc);
        bool paid = r->flags & STORE_REG_PAID;
        char order[24];
        snprintf(order, sizeof order, "%llu", (unsigned long long)r->order_id);
        json_t *row = json_pack(
            "{s:s#,s:s,s:i,s:s,s:s,s:b,s:s,s:o,s:s,s:o,s:o,s:o,s:o}", "subject", &r->subject,
            (size_t)1, "name", s.name, "fee", (json_int_t)r->fee, "state",
            paid ? "paid" : "unpaid", "payment_state", paid ? "已支付" : "未支付", "locked",
            (r->flags & STORE_REG_LOCKED) != 0, "arrangement",
            (r->flags & STORE_REG_ARRANGED) ? "arranged" : "unarranged", "school",
            json_pack("{s:o,s:s}", "code", code5(cp.school), "name", sc.name), "method",
            r->method == STORE_BY_SCHOOL ? "school" : "candidate", "campus",
            json_pack("{s:o,s:s}", "code", code6(r->campus), "name", cp.name), "created_at",
            time_json(r->created), "expires_at", time_json(r->expires), "order_id",
            r->order_id ? json_string(order) : json_null());
        if (s.kind == STORE_ORAL) {
            json_array_append_new(oral, row);
            if (!paid) unpaid_o += r->fee;
        } else {
            json_array_append_new(written, row);
            if (!paid) unpaid_w += r->fee;
        }
    }
    char prov[CET_ANNOUNCE_BYTES_MAX + 1], school[CET_ANNOUNCE_BYTES_MAX + 1];
    store_school_t sc;
    memset(&sc, 0, sizeof sc);
    store_school_get(txn, api->st, c.snapshot.school, &sc);
    if (store_announce_get(txn, api->st, STORE_ANNOUNCE_PROVINCE, sc.province, prov, sizeof prov))
        prov[0] = 0;
    if (store_announce_get(txn, api->st, STORE_ANNOUNCE_SCHOOL, sc.code, school, sizeof school))
        school[0] = 0;
    store_review_t rv;
    const char *rs = review_state(txn, api, a.account, &rv);
    json_t *out = json_pack(
        "{s:o,s:o,s:o,s:o,s:{s:i,s:i,s:i},s:{s:s,s:s},s:o,s:b,s:o,s:o}", "candidate",
        roster_json(txn, api, &c.snapshot, true), "qualified_subjects",
        subject_list_json(txn, api, &c.snapshot), "written", written, "oral", oral, "unpaid",
        "written", (json_int_t)unpaid_w, "oral", (json_int_t)unpaid_o, "total",
        (json_int_t)(unpaid_w + unpaid_o), "announcements", "province", prov, "school", school,
        "cet6_review", rs ? json_string(rs) : json_null(), "cet6_review_offered",
        eng_review_offered(txn, api->st, &c.snapshot), "bound_at", time_json(c.bound_at),
        "delete_at", time_json(n == 0 ? c.empty_due : 0));
    net_reply_json(req, 200, out);
}

/* ---- CET6 review ---- */
static void h_review_get(net_req_t *req, net_api_t *api)
{
    store_txn_t *txn = read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
    store_review_t rv;
    const char *rs = review_state(txn, api, a.account, &rv);
    if (!rs) {
        net_reply_error(req, CET_E_REVIEW_NOT_FOUND, NULL);
        return;
    }
    char name[CET_NAME_BYTES], id[CET_ID_NUMBER_BYTES], ticket[CET_TICKET_DIGITS + 1];
    eng_mask_name(rv.name, name, sizeof name);
    eng_mask_id(rv.id_number, id, sizeof id);
    eng_mask_id(rv.ticket, ticket, sizeof ticket);
    net_reply_json(req, 200,
                   json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "state", rs, "name", name,
                             "id_type", cet_id_type_name(rv.id_type), "id_number", id,
                             "ticket_number", ticket, "created_at", time_json(rv.created),
                             "decided_at", time_json(rv.decided)));
}

static void h_review_write(net_req_t *req, net_api_t *api, eng_op_kind_t kind)
{
    static const char *const allowed[] = {"ticket_number", "confirmed", NULL};
    api_auth_t a;
    eng_op_t *op = candidate_op(req, api, kind, &a);
    if (!op) return;
    if (kind == ENG_OP_REVIEW_DELETE) {
        op_submit(req, op);
        return;
    }
    json_t *j = body_json(req, allowed);
    if (!j) {
        cet_free(op);
        return;
    }
    const char *ticket;
    cet_err_t e = net_json_str(j, "ticket_number", true, &ticket);
    const char *field = "ticket_number";
    if (!e) e = cet_ticket_check(ticket);
    if (!e) {
        field = "confirmed";
        e = need_confirmed(j);
    }
    if (e) {
        op_refuse(req, op, j, e, field);
        return;
    }
    cet_strlcpy(op->in.ticket, ticket, sizeof op->in.ticket);
    json_decref(j);
    op_submit(req, op);
}

static void h_review_post(net_req_t *req, net_api_t *api)
{
    h_review_write(req, api, ENG_OP_REVIEW_SUBMIT);
}

static void h_review_put(net_req_t *req, net_api_t *api)
{
    h_review_write(req, api, ENG_OP_REVIEW_EDIT);
}

static void h_review_delete(net_req_t *req, net_api_t *api)
{
    h_review_write(req, api, ENG_OP_REVIEW_DELETE);
}

/* ---- offers ---- */
typedef struct offers_walk {
    net_api_t *api;
    store_txn_t *txn;
    const store_candidate_t *c;
    const store_school_t *own;
    json_t *out;
    bool oral;
    int64_t now;
    const store_reg_t *regs;
    int n_regs;
} offers_walk_t;

static void offer_row(offers_walk_t *w, const store_offer_t *o, const store_subject_t *s)
{
    store_campus_t cp;
    store_school_t sc;
    memset(&cp, 0, sizeof cp);
    memset(&sc, 0, sizeof sc);
    store_campus_get(w->txn, w->api->st, o->campus, &cp);
    store_school_get(w->txn, w->api->st, cp.school, &sc);
    eng_seats_t *seats = eng_seats(w->api->eng);
    int slot = eng_seats_slot(seats, o->campus, o->subject);
    uint32_t left = slot >= 0 ? eng_seats_left(seats, slot) : 0;
    bool registered = false;
    for (int i = 0; i < w->n_regs; i++)
        if (w->regs[i].subject == o->subject) registered = true;
    json_t *row = json_pack("{s:s#,s:s,s:s,s:i,s:i,s:o,s:o}", "subject", &s->code, (size_t)1,
                            "name", s->name, "kind", s->kind == STORE_ORAL ? "oral" : "written",
                            "level", (json_int_t)s->level, "fee", (json_int_t)o->fee, "school",
                            json_pack("{s:o,s:s}", "code", code5(cp.school), "name", sc.name),
                            "campus", json_pack("{s:o,s:s}", "code", code6(o->campus), "name", cp.name));
    json_object_set_new(row, "window_opens", time_json(o->window_opens));
    json_object_set_new(row, "window_closes", time_json(o->window_closes));
    json_object_set_new(row, "exam_date", time_json(o->exam_date));
    json_object_set_new(row, "seats", json_string(eng_seat_colour(left, o->capacity)));
    json_object_set_new(row, "registered", json_boolean(registered));
    json_array_append_new(w->out, row);
}

static bool offer_visible(offers_walk_t *w, const store_offer_t *o, store_subject_t *s)
{
    if (store_subject_get(w->txn, w->api->st, o->subject, s) != 0) return false;
    if ((s->kind == STORE_ORAL) != w->oral) return false;
    if (!eng_qualified(&w->c->snapshot, o->subject)) return false;
    if (w->now < o->window_opens || w->now >= o->window_closes) return false;
    if (w->oral && (!o->exam_date || o->fee == 0)) return false;
    return true;
}

static int oral_offer_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    offers_walk_t *w = arg;
    (void)key, (void)klen;
    if (vlen != sizeof(store_offer_t)) return 0;
    store_offer_t o;
    memcpy(&o, val, sizeof o);
    if (o.campus != w->c->snapshot.campus) {
        if (!(w->own->flags & STORE_SCHOOL_ORAL_ELSEWHERE)) return 0;
        store_campus_t cp;
        store_school_t sc;
        if (store_campus_get(w->txn, w->api->st, o.campus, &cp) ||
            store_school_get(w->txn, w->api->st, cp.school, &sc) || sc.province != w->own->province)
            return 0;
    }
    store_subject_t s;
    if (offer_visible(w, &o, &s)) offer_row(w, &o, &s);
    return 0;
}

static void h_offers(net_req_t *req, net_api_t *api)
{
    store_txn_t *txn = read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
    const char *kind = net_req_query(req, "kind");
    if (!kind) kind = "written";
    if (strcmp(kind, "written") != 0 && strcmp(kind, "oral") != 0) {
        net_reply_error(req, CET_E_BAD_QUERY, "kind");
        return;
    }
    store_candidate_t c;
    if (!a.acct.roster_no || store_candidate_get(txn, api->st, a.acct.roster_no, &c) != 0) {
        net_reply_error(req, CET_E_NOT_BOUND, NULL);
        return;
    }
    store_school_t own;
    memset(&own, 0, sizeof own);
    store_school_get(txn, api->st, c.snapshot.school, &own);
    store_reg_t regs[CET_CANDIDATE_REGS_MAX];
    int n = store_reg_list(txn, api->st, a.acct.roster_no, regs, 16);
    offers_walk_t w = {api, txn, &c, &own, json_array(), strcmp(kind, "oral") == 0, cet_now_s(),
                       regs, n < 0 ? 0 : n};
    if (w.oral) {
        int rc = store_scan(txn, api->st, STORE_DB_OFFER, NULL, 0, oral_offer_cb, &w);
        if (rc) {
            json_decref(w.out);
            reply_store_error(req, rc);
            return;
        }
    } else {
        for (int i = 0; i < c.snapshot.n_subjects && i < CET_SUBJECTS_MAX; i++) {
            store_offer_t o;
            store_subject_t s;
            if (store_offer_get(txn, api->st, c.snapshot.campus, c.snapshot.subjects[i], &o) == 0 &&
                offer_visible(&w, &o, &s))
                offer_row(&w, &o, &s);
        }
    }
    eng_phase_t phase;
    json_t *sitting = sitting_json(txn, api, &phase);
    json_decref(sitting);
    net_reply_json(req, 200, json_pack("{s:s,s:s,s:o}", "kind", kind, "phase",
                                       eng_phase_name(phase), "offers", w.out));
}

/* ---- registrations ---- */
static void h_reg_create(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"subject", "campus", NULL};
    store_txn_t *txn = read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
    eng_op_t *op = op_new(req, api, ENG_OP_REG_CREATE);
    memcpy(op->account, a.account, 16);
    if (idem_prepare(req, txn, api, op, a.account)) return;
    json_t *j = body_json(req, allowed);
    if (!j) {
        cet_free(op);
        return;
    }
    const char *subject;
    const char *field = "subject";
    cet_err_t e = net_json_str(j, "subject", true, &subject);
    if (!e && !subject_code_ok(subject)) e = CET_E_INVALID_FIELD;
    if (!e) {
        op->in.subject = subject[0];
        field = "campus";
        e = json_campus(j, "campus", &op->in.campus);
    }
    json_decref(j);
    if (e) {
        op_refuse(req, op, NULL, e, field);
        return;
    }
    /* every rule on the read txn first: refusals never touch the writer */
    store_candidate_t c;
    store_offer_t o;
    int r = eng_check_registration(api->eng, txn, a.account, op->in.subject, op->in.campus,
                                   op->now, &c, &o);
    if (r) {
        cet_free(op);
        if (cet_err_is_code(r))
            net_reply_error(req, (cet_err_t)r, NULL);
        else
            reply_store_error(req, r);
        return;
    }
    eng_seats_t *seats = eng_seats(api->eng);
    int slot = eng_seats_slot(seats, op->in.campus, op->in.subject);
    if (slot < 0 || !eng_seats_take(seats, slot)) {
        cet_free(op);
        net_metrics_count("seats_full", 1);
        net_reply_error(req, CET_E_SEATS_FULL, NULL);
        return;
    }
    op->seat_slot = slot;
    op_submit(req, op);
}

static void h_reg_cancel(net_req_t *req, net_api_t *api, const char *subject)
{
    if (!subject_code_ok(subject)) {
        net_reply_error(req, CET_E_REGISTRATION_NOT_FOUND, "subject");
        return;
    }
    api_auth_t a;
    eng_op_t *op = candidate_op(req, api, ENG_OP_REG_CANCEL, &a);
    if (!op) return;
    op->in.subject = subject[0];
    op_submit(req, op);
}

/* ---- payments ---- */
static void h_pay_create(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"subjects", "channel", NULL};
    static const char *const channels[] = {"alipay", "wechat", "unionpay", "bank", NULL};
    api_auth_t a;
    eng_op_t *op = candidate_op(req, api, ENG_OP_PAY_CREATE, &a);
    if (!op) return;
    json_t *j = body_json(req, allowed);
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
        else if (!subject_code_ok(json_string_value(v))) e = CET_E_INVALID_FIELD;
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
        op_refuse(req, op, NULL, e, field);
        return;
    }
    op_submit(req, op);
}

static void h_pay_get(net_req_t *req, net_api_t *api, const char *id_s)
{
    store_txn_t *txn = read_txn(req);
    if (!txn) return;
    api_auth_t a;
    if (!auth(req, txn, api, STORE_SESSION_CANDIDATE, &a)) return;
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
                             o.channel, "subjects", subs, "created_at", time_json(o.created),
                             "expires_at", time_json(o.expires), "paid_at", time_json(o.paid_at)));
}

static void h_pay_notice(net_req_t *req, net_api_t *api)
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
    json_t *j = body_json(req, allowed);
    if (!j) return;
    eng_op_t *op = op_new(req, api, ENG_OP_PAY_NOTICE);
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
        op_refuse(req, op, j, e, field);
        return;
    }
    op->in.amount = (uint32_t)amount;
    cet_strlcpy(op->in.gateway_txn, txn_s, sizeof op->in.gateway_txn);
    json_decref(j);
    op_submit(req, op);
}

/* ---- account email ---- */
static void h_email_change(net_req_t *req, net_api_t *api)
{
    static const char *const allowed[] = {"new_email", "password", NULL};
    api_auth_t a;
    eng_op_t *op = candidate_op(req, api, ENG_OP_EMAIL_CHANGE, &a);
    if (!op) return;
    json_t *j = body_json(req, allowed);
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
        op_refuse(req, op, j, e, field);
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

/* ---- staff ---- */
static eng_op_t *staff_op(net_req_t *req, net_api_t *api, eng_op_kind_t kind, api_auth_t *a)
{
    store_txn_t *txn = read_txn(req);
    if (!txn) return NULL;
    if (!auth(req, txn, api, STORE_SESSION_STAFF, a)) return NULL;
    eng_op_t *op = op_new(req, api, kind);
    cet_strlcpy(op->staff, a->staff.user, sizeof op->staff);
    switch (a->staff.role) {
    case STORE_STAFF_SCHOOL:
        op->in.scope_school = a->staff.scope;
        break;
    case STORE_STAFF_PROVINCE:
        op->in.scope_province = (uint16_t)a->staff.scope;
        break;
    default:
        break; /* support desk: national */
    }
    uint8_t scope[16];
    email_scope(a->staff.user, scope);
    scope[0] ^= 0x80; /* staff keys never meet candidates' */
    if (idem_prepare(req, txn, api, op, scope)) return NULL;
    return op;
}

static void h_staff_review(net_req_t *req, net_api_t *api, const char *account_hex)
{
    static const char *const allowed[] = {"decision", NULL};
    api_auth_t a;
    eng_op_t *op = staff_op(req, api, ENG_OP_STAFF_REVIEW_DECIDE, &a);
    if (!op) return;
    json_t *j = body_json(req, allowed);
    if (!j) {
        cet_free(op);
        return;
    }
    const char *d = NULL;
    cet_err_t e = net_json_str(j, "decision", true, &d);
    if (!e && strcmp(d, "approve") != 0 && strcmp(d, "reject") != 0) e = CET_E_INVALID_FIELD;
    const char *field = "decision";
    if (!e && (strlen(account_hex) != 32 || cet_unhex(op->in.target, account_hex, 16) != 0)) {
        e = CET_E_REVIEW_NOT_FOUND;
        field = "account_id";
    }
    if (!e) op->in.flag = strcmp(d, "approve") == 0;
    json_decref(j);
    if (e) {
        op_refuse(req, op, NULL, e, field);
        return;
    }
    op_submit(req, op);
}

static void h_staff_reg(net_req_t *req, net_api_t *api, eng_op_kind_t kind)
{
    static const char *const allowed_lock[] = {"id_type", "id_number", "subject", "locked", NULL};
    static const char *const allowed_pay[] = {"id_type", "id_number", "subjects", NULL};
    api_auth_t a;
    eng_op_t *op = staff_op(req, api, kind, &a);
    if (!op) return;
    json_t *j = body_json(req, kind == ENG_OP_STAFF_LOCK ? allowed_lock : allowed_pay);
    if (!j) {
        cet_free(op);
        return;
    }
    const char *type_s = NULL, *num = NULL, *field = "id_type";
    int id_type = 0;
    cet_err_t e = net_json_str(j, "id_type", true, &type_s);
    if (!e) e = cet_id_type_parse(type_s, &id_type);
    if (!e) {
        field = "id_number";
        e = net_json_str(j, "id_number", true, &num);
    }
    if (!e) e = cet_id_number_check(id_type, num, op->in.id_number, sizeof op->in.id_number);
    if (!e && kind == ENG_OP_STAFF_LOCK) {
        const char *subject = NULL;
        field = "subject";
        e = net_json_str(j, "subject", true, &subject);
        if (!e && !subject_code_ok(subject)) e = CET_E_INVALID_FIELD;
        if (!e) {
            op->in.subject = subject[0];
            field = "locked";
            e = net_json_bool(j, "locked", true, &op->in.flag);
        }
    } else if (!e) {
        field = "subjects";
        json_t *subs = json_object_get(j, "subjects");
        if (!json_is_array(subs) || json_array_size(subs) == 0 ||
            json_array_size(subs) > CET_ORDER_SUBJECTS_MAX)
            e = subs ? CET_E_INVALID_FIELD : CET_E_MISSING_FIELD;
        for (size_t i = 0, n = 0; !e && i < json_array_size(subs); i++) {
            const char *s = json_string_value(json_array_get(subs, i));
            if (!subject_code_ok(s) || strchr(op->in.subjects, s[0])) e = CET_E_INVALID_FIELD;
            else op->in.subjects[n++] = s[0];
        }
    }
    json_decref(j);
    if (e) {
        op_refuse(req, op, NULL, e, field);
        return;
    }
    op->in.id_type = (uint8_t)id_type;
    op_submit(req, op);
}

static void h_staff_capacity(net_req_t *req, net_api_t *api, const char *rest)
{
    static const char *const allowed[] = {"capacity", NULL};
    /* rest: "{campus}/{subject}" */
    char campus_s[8] = "";
    const char *slash = strchr(rest, '/');
    if (!slash || slash - rest != 6 || !subject_code_ok(slash + 1)) {
        net_reply_error(req, CET_E_OFFER_NOT_FOUND, NULL);
        return;
    }
    memcpy(campus_s, rest, 6);
    if (strspn(campus_s, "0123456789") != 6) {
        net_reply_error(req, CET_E_OFFER_NOT_FOUND, NULL);
        return;
    }
    api_auth_t a;
    eng_op_t *op = staff_op(req, api, ENG_OP_STAFF_CAPACITY, &a);
    if (!op) return;
    json_t *j = body_json(req, allowed);
    if (!j) {
        cet_free(op);
        return;
    }
    int64_t cap = 0;
    cet_err_t e = net_json_int(j, "capacity", true, &cap);
    if (!e && (cap < 0 || cap > (json_int_t)CET_OFFER_CAPACITY_MAX)) e = CET_E_INVALID_FIELD;
    json_decref(j);
    if (e) {
        op_refuse(req, op, NULL, e, "capacity");
        return;
    }
    op->in.campus = (uint32_t)atoi(campus_s);
    op->in.subject = slash[1];
    op->in.capacity = (uint32_t)cap;
    op_submit(req, op);
}

/* ---- routing ---- */
typedef void (*route_cb)(net_req_t *req, net_api_t *api);
typedef void (*route_arg_cb)(net_req_t *req, net_api_t *api, const char *arg);

typedef struct route {
    net_method_t method;
    const char *path;   /* exact, or a prefix ending in '/' when arg_cb is set */
    route_cb cb;
    route_arg_cb arg_cb;
    const char *label;  /* for metrics */
} route_t;

static void h_staff_lock(net_req_t *req, net_api_t *api)
{
    h_staff_reg(req, api, ENG_OP_STAFF_LOCK);
}

static void h_staff_group_pay(net_req_t *req, net_api_t *api)
{
    h_staff_reg(req, api, ENG_OP_STAFF_GROUP_PAY);
}

static const route_t routes[] = {
    {NET_POST, "/api/v1/captcha", h_captcha, NULL, "captcha"},
    {NET_POST, "/api/v1/accounts", h_account_create, NULL, "accounts"},
    {NET_POST, "/api/v1/sessions", h_session_create, NULL, "sessions"},
    {NET_DELETE, "/api/v1/sessions", h_session_delete, NULL, "sessions"},
    {NET_GET, "/api/v1/me", h_me, NULL, "me"},
    {NET_POST, "/api/v1/agreement", h_agreement, NULL, "agreement"},
    {NET_POST, "/api/v1/qualification", h_qualification, NULL, "qualification"},
    {NET_POST, "/api/v1/candidate", h_bind, NULL, "candidate"},
    {NET_GET, "/api/v1/candidate", h_candidate_get, NULL, "candidate"},
    {NET_GET, "/api/v1/cet6-review", h_review_get, NULL, "cet6_review"},
    {NET_POST, "/api/v1/cet6-review", h_review_post, NULL, "cet6_review"},
    {NET_PUT, "/api/v1/cet6-review", h_review_put, NULL, "cet6_review"},
    {NET_DELETE, "/api/v1/cet6-review", h_review_delete, NULL, "cet6_review"},
    {NET_GET, "/api/v1/offers", h_offers, NULL, "offers"},
    {NET_POST, "/api/v1/registrations", h_reg_create, NULL, "registrations"},
    {NET_DELETE, "/api/v1/registrations/", NULL, h_reg_cancel, "registrations_item"},
    {NET_POST, "/api/v1/payments/notify", h_pay_notice, NULL, "payments_notify"},
    {NET_POST, "/api/v1/payments", h_pay_create, NULL, "payments"},
    {NET_GET, "/api/v1/payments/", NULL, h_pay_get, "payments_item"},
    {NET_PUT, "/api/v1/account/email", h_email_change, NULL, "account_email"},
    {NET_POST, "/api/v1/admin/sessions", h_staff_session_create, NULL, "admin_sessions"},
    {NET_DELETE, "/api/v1/admin/sessions", h_session_delete, NULL, "admin_sessions"},
    {NET_POST, "/api/v1/admin/reviews/", NULL, h_staff_review, "admin_reviews"},
    {NET_POST, "/api/v1/admin/registrations/lock", h_staff_lock, NULL, "admin_lock"},
    {NET_POST, "/api/v1/admin/group-payments", h_staff_group_pay, NULL, "admin_group_pay"},
    {NET_PUT, "/api/v1/admin/offers/", NULL, h_staff_capacity, "admin_offers"},
};

void net_api_handler_cb(net_req_t *req, void *app)
{
    net_api_t *api = app;
    const char *path = net_req_path(req);
    net_method_t m = net_req_method(req);
    bool path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route_t *r = &routes[i];
        const char *arg = NULL;
        if (r->arg_cb) {
            size_t pl = strlen(r->path);
            if (strncmp(path, r->path, pl) != 0 || path[pl] == 0) continue;
            /* one path segment after the prefix; the offers route takes two */
            const char *slash = strchr(path + pl, '/');
            if (slash && (r->arg_cb != h_staff_capacity || strchr(slash + 1, '/'))) continue;
            arg = path + pl;
        } else if (strcmp(path, r->path) != 0) {
            continue;
        }
        path_known = true;
        if (r->method != m) continue;
        net_req_set_route(req, r->label);
        if (r->arg_cb)
            r->arg_cb(req, api, arg);
        else
            r->cb(req, api);
        return;
    }
    net_req_set_route(req, path_known ? "method_not_allowed" : "not_found");
    net_reply_error(req, path_known ? CET_E_METHOD_NOT_ALLOWED : CET_E_NOT_FOUND, NULL);
}

void net_api_metrics_cb(struct evbuffer *out, void *app)
{
    net_api_t *api = app;
    eng_stats_t s;
    eng_stats_get(api->eng, &s);
    evbuffer_add_printf(out,
                        "# HELP cetd_expiries_total Unpaid holds expired and their seats returned.\n"
                        "# TYPE cetd_expiries_total counter\ncetd_expiries_total %llu\n"
                        "# TYPE cetd_candidates_deleted_total counter\n"
                        "cetd_candidates_deleted_total %llu\n"
                        "# TYPE cetd_orders_expired_total counter\ncetd_orders_expired_total %llu\n",
                        (unsigned long long)s.holds_expired, (unsigned long long)s.candidates_deleted,
                        (unsigned long long)s.orders_expired);
    store_writer_stats_t ws;
    store_writer_stats(eng_writer(api->eng), &ws);
    evbuffer_add_printf(out,
                        "# HELP cetd_commit_batch_size Requests per group-commit txn.\n"
                        "# TYPE cetd_commit_batch_size histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < 12; i++) {
        cum += ws.batch_hist[i];
        if (i < 11)
            evbuffer_add_printf(out, "cetd_commit_batch_size_bucket{le=\"%d\"} %llu\n",
                                (1 << i) - 1 > 0 ? (1 << i) - 1 : 0, (unsigned long long)cum);
    }
    evbuffer_add_printf(out, "cetd_commit_batch_size_bucket{le=\"+Inf\"} %llu\n"
                             "cetd_commit_batch_size_count %llu\n",
                        (unsigned long long)cum, (unsigned long long)cum);
    evbuffer_add_printf(out,
                        "# TYPE cetd_commit_batches_total counter\ncetd_commit_batches_total %llu\n"
                        "# TYPE cetd_commit_failed_total counter\ncetd_commit_failed_total %llu\n"
                        "# TYPE cetd_commit_queue_depth gauge\ncetd_commit_queue_depth %llu\n"
                        "# TYPE cetd_map_grows_total counter\ncetd_map_grows_total %llu\n",
                        (unsigned long long)ws.batches, (unsigned long long)ws.failed_batches,
                        (unsigned long long)ws.queue_depth, (unsigned long long)ws.map_grows);
    /* seats left and live holds */
    eng_seats_t *seats = eng_seats(api->eng);
    int n = eng_seats_count(seats);
    evbuffer_add_printf(out, "# HELP cetd_seats_left Seats left per campus-subject offer.\n"
                             "# TYPE cetd_seats_left gauge\n");
    uint64_t taken = 0;
    for (int i = 0; i < n; i++) {
        uint32_t campus;
        char subject;
        eng_seats_offer(seats, i, &campus, &subject);
        uint32_t left = eng_seats_left(seats, i), cap = eng_seats_capacity(seats, i);
        taken += cap > left ? cap - left : 0;
        evbuffer_add_printf(out, "cetd_seats_left{campus=\"%06u\",subject=\"%c\"} %u\n", campus,
                            subject, left);
    }
    evbuffer_add_printf(out, "# TYPE cetd_seats_taken gauge\ncetd_seats_taken %llu\n",
                        (unsigned long long)taken);
    store_txn_t *txn;
    size_t holds = 0;
    if (store_read_begin(api->st, &txn) == 0) {
        store_count(txn, api->st, STORE_DB_EXPIRY, &holds);
        store_abort(txn);
    }
    evbuffer_add_printf(out,
                        "# HELP cetd_holds Live entries of the expiry index (holds, empty "
                        "candidates, pending orders).\n# TYPE cetd_holds gauge\ncetd_holds %zu\n",
                        holds);
}

net_api_t *net_api_new(eng_t *eng, store_t *st)
{
    net_api_t *api = cet_calloc(1, sizeof *api);
    api->eng = eng;
    api->st = st;
    char pw[32];
    randombytes_buf(pw, sizeof pw - 1);
    for (size_t i = 0; i < sizeof pw - 1; i++) pw[i] = (char)('a' + ((unsigned char)pw[i] % 26));
    pw[sizeof pw - 1] = 0;
    if (crypto_pwhash_str(api->dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        CET_ERROR("api: cannot make the dummy password hash");
    return api;
}

void net_api_free(net_api_t *api)
{
    cet_free(api);
}
