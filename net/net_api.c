/*
 * net_api.c: the router of API version 1 (docs/openapi.yaml) and what every
 * resource shares: the per-call context and its pool, the read txn,
 * authentication, Idempotency-Key hashing, submitting an op and rendering
 * its result.
 */
#include "net/net_api_internal.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "base/cet_id.h"
#include "base/cet_token.h"

/* ---- the per-core pool of calls ---- */
typedef struct call_chunk {
    struct call_chunk *next;
    net_call_t calls[CET_CALL_POOL_CHUNK];
} call_chunk_t;

struct net_call_pool {
    net_call_t *free;
    call_chunk_t *chunks;
};

/* A call from the core's pool (core thread only: the pool is the core's). */
static net_call_t *call_new(net_req_t *req, net_api_t *api)
{
    unsigned core = net_core_index(net_req_core(req));
    CET_ASSERT_INFO(core < CET_THREADS_MAX, "call on core %u of at most %d", core,
                    CET_THREADS_MAX);
    net_call_pool_t *pool = api->pools[core];
    if (!pool) pool = api->pools[core] = cet_calloc(1, sizeof *pool);
    if (!pool->free) {
        call_chunk_t *ch = cet_calloc(1, sizeof *ch);
        ch->next = pool->chunks;
        pool->chunks = ch;
        for (int i = 0; i < CET_CALL_POOL_CHUNK; i++) {
            ch->calls[i].next_free = pool->free;
            pool->free = &ch->calls[i];
        }
    }
    net_call_t *call = pool->free;
    pool->free = call->next_free;
    memset(call, 0, offsetof(net_call_t, op));
    call->req = req;
    call->api = api;
    return call;
}

/*
 * Replies (reply_cb frees the request) and then releases everything the call
 * owns, at once, putting it back in its core's pool: the one place a call ends.
 */
static net_call_pool_t *call_pool(const net_call_t *call)
{
    return call->api->pools[net_core_index(net_req_core(call->req))];
}

static void call_release(net_call_t *call, net_call_pool_t *pool)
{
    json_decref(call->body);
    json_decref(call->lookup);
    call->lookup = NULL;
    cet_free(call->tickets);
    call->tickets = NULL;
    sodium_memzero(&call->pw, sizeof call->pw);
    call->req = NULL;
    call->body = NULL;
    call->next_free = pool->free;
    pool->free = call;
}

void net_call_reply_json(net_call_t *call, int status, json_t *j)
{
    net_call_pool_t *pool = call_pool(call);
    net_reply_json(call->req, status, j);
    call_release(call, pool);
}

void net_call_reply_raw(net_call_t *call, int status, const char *content_type, const void *body,
                        size_t len)
{
    net_call_pool_t *pool = call_pool(call);
    net_reply_raw(call->req, status, content_type, (const char *)body, len);
    call_release(call, pool);
}

void net_call_reply_ref(net_call_t *call, int status, const char *content_type, const void *body,
                        size_t len, net_body_done_cb done_cb, void *done_arg)
{
    net_call_pool_t *pool = call_pool(call);
    net_reply_ref(call->req, status, content_type, body, len, done_cb, done_arg);
    call_release(call, pool);
}

void net_call_reply_error(net_call_t *call, cet_err_t e, const char *field)
{
    net_call_pool_t *pool = call_pool(call);
    net_reply_error(call->req, e, field); /* field may live in call->body */
    call_release(call, pool);
}

void net_call_reply_store_error(net_call_t *call, int rc)
{
    CET_ERROR("api: %s: storage: %s", net_req_path(call->req), cet_strerror(rc));
    net_call_reply_error(call, CET_E_STORAGE, NULL);
}

/* ---- small helpers ---- */
store_txn_t *net_api_read_txn(net_call_t *call)
{
    int rc = 0;
    store_txn_t *txn = net_core_read_txn(net_req_core(call->req), &rc);
    if (!txn) {
        CET_ERROR("api: read txn: %s", cet_strerror(rc));
        net_call_reply_error(call, CET_E_STORAGE, NULL);
    }
    call->rtxn = txn;
    return txn;
}

json_t *net_api_time_json(int64_t t)
{
    char buf[26];
    return t ? json_string(cet_time_format(t, buf)) : json_null();
}

json_t *net_api_code6(uint32_t code)
{
    char buf[21];
    cet_dec_format(buf, code, 6);
    return json_string(buf);
}

json_t *net_api_code5(uint32_t code)
{
    char buf[21];
    cet_dec_format(buf, code, 5);
    return json_string(buf);
}

/* ["1","F"] from "1F". */
json_t *net_api_subjects_json(const char *codes)
{
    json_t *a = json_array();
    for (size_t i = 0; codes[i]; i++) json_array_append_new(a, json_stringn(&codes[i], 1));
    return a;
}

bool net_api_id_parse(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20 || strspn(s, "0123456789") != n || s[0] == '0') return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Parses a campus given as "100130" or 100130. */
cet_err_t net_api_json_campus(json_t *obj, const char *key, uint32_t *out)
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
bool net_api_subject_code_ok(const char *s)
{
    return s && strlen(s) == 1 &&
           ((s[0] >= '0' && s[0] <= '9') || (s[0] >= 'A' && s[0] <= 'Z'));
}

json_t *net_call_body(net_call_t *call, const char *const *allowed)
{
    const char *field = NULL;
    cet_err_t e = net_req_json(call->req, allowed, &call->body, &field);
    if (e) {
        net_call_reply_error(call, e, field);
        return NULL;
    }
    return call->body;
}

cet_err_t net_api_need_confirmed(json_t *j)
{
    bool confirmed = false;
    cet_err_t e = net_json_bool(j, "confirmed", true, &confirmed);
    if (e) return e;
    return confirmed ? CET_E_OK : CET_E_NOT_CONFIRMED;
}

void net_api_email_scope(const char *email, uint8_t scope[16])
{
    char low[CET_EMAIL_BYTES];
    size_t n = cet_email_normalize(email, low, sizeof low);
    XXH128_hash_t h = XXH3_128bits(low, n);
    XXH128_canonicalFromHash((XXH128_canonical_t *)scope, h);
}

/* ---- authentication ---- */
bool net_api_auth(net_call_t *call, store_txn_t *txn, uint8_t kind)
{
    api_auth_t *out = &call->auth;
    const char *h = net_req_header(call->req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !cet_token_key(h + 7, out->token_key)) {
        net_call_reply_error(call, CET_E_UNAUTHORIZED, NULL);
        return false;
    }
    store_session_t s;
    int rc = store_session_get(txn, call->api->st, out->token_key, &s);
    if (rc && rc != STORE_NOTFOUND) {
        net_call_reply_store_error(call, rc);
        return false;
    }
    if (rc || s.kind != kind || s.expires <= cet_now_s()) {
        net_call_reply_error(call, CET_E_UNAUTHORIZED, NULL);
        return false;
    }
    if (kind == STORE_SESSION_STAFF) {
        rc = store_staff_get(txn, call->api->st, s.staff, &out->staff);
    } else {
        memcpy(out->account, s.account, 16);
        rc = store_account_get(txn, call->api->st, s.account, &out->acct);
    }
    if (rc) {
        net_call_reply_error(call, CET_E_UNAUTHORIZED, NULL);
        return false;
    }
    return true;
}

/* ---- write operations: submit, then reply the result once it is known ---- */
/* The success status of each op kind (the API's choice, not the engine's) and its JSON. */
static const struct {
    int status;
    net_api_render_cb render;
    net_api_write_cb write; /* instead of render */
} results[ENG_OP__COUNT] = {
    [ENG_OP_ACCOUNT_CREATE] = {201, net_api_render_account},
    [ENG_OP_SESSION_CREATE] = {201, net_api_render_session},
    [ENG_OP_SESSION_DELETE] = {200, net_api_render_logout},
    [ENG_OP_AGREE] = {200, net_api_render_agree},
    [ENG_OP_BIND] = {201, net_api_render_bind},
    [ENG_OP_REVIEW_SUBMIT] = {201, net_api_render_review},
    [ENG_OP_REVIEW_EDIT] = {200, net_api_render_review},
    [ENG_OP_REVIEW_DELETE] = {200, net_api_render_review},
    [ENG_OP_REG_CREATE] = {201, NULL, net_api_write_reg},
    [ENG_OP_REG_CANCEL] = {200, net_api_render_cancel},
    [ENG_OP_PAY_CREATE] = {201, net_api_render_order},
    [ENG_OP_PAY_NOTICE] = {200, net_api_render_notice},
    [ENG_OP_EMAIL_CHANGE] = {200, net_api_render_email},
    [ENG_OP_STAFF_REVIEW_DECIDE] = {200, net_api_render_staff_review},
    [ENG_OP_STAFF_LOCK] = {200, net_api_render_lock},
    [ENG_OP_STAFF_GROUP_PAY] = {200, net_api_render_group_pay},
    [ENG_OP_STAFF_CAPACITY] = {200, net_api_render_capacity},
    [ENG_OP_TICKETS] = {200, net_api_render_tickets},
    [ENG_OP_RESET_REQUEST] = {202, net_api_render_reset_request},
    [ENG_OP_RESET_CONFIRM] = {200, net_api_render_reset_confirm},
    [ENG_OP_PASSWORD_CHANGE] = {200, net_api_render_password},
    [ENG_OP_STAFF_REBIND] = {200, net_api_render_rebind},
    [ENG_OP_STAFF_LOOKUP] = {200, net_api_render_lookup},
    [ENG_OP_ADMIN_OFFER] = {200, net_api_render_admin_offer},
    [ENG_OP_ADMIN_SETTINGS] = {200, net_api_render_admin_settings},
    [ENG_OP_ADMIN_ANNOUNCE_POST] = {201, net_api_render_admin_announce},
    [ENG_OP_ADMIN_ANNOUNCE_DELETE] = {200, net_api_render_admin_announce},
};

void net_call_reply_op(net_call_t *call)
{
    const eng_op_t *op = &call->op;
    cet_err_t err = op->res.err;
    if (op->replayed) net_req_add_header(call->req, "Idempotent-Replayed", "true");
    if (op->kind == ENG_OP_REG_CREATE && !op->replayed) {
        if (err == CET_E_OK) net_metrics_count("registrations", 1);
        if (err == CET_E_SEATS_FULL) net_metrics_count("seats_full", 1);
    }
    if (err) {
        net_call_reply_error(call, err,
                             err == CET_E_IDEMPOTENCY_CONFLICT ? "Idempotency-Key" : NULL);
        return;
    }
    CET_ASSERT_INFO(op->kind > 0 && op->kind < ENG_OP__COUNT &&
                        (results[op->kind].render || results[op->kind].write),
                    "no renderer for op kind %d", (int)op->kind);
    if (results[op->kind].write) {
        char text[NET_API_WRITE_BYTES];
        net_jw_t w;
        net_jw_init(&w, text, sizeof text);
        results[op->kind].write(call, op, &w);
        CET_ASSERT_INFO(w.ok, "the answer of op kind %d outgrew %d bytes", (int)op->kind,
                        NET_API_WRITE_BYTES);
        net_call_reply_raw(call, results[op->kind].status, NULL, text, w.len);
        return;
    }
    net_call_reply_json(call, results[op->kind].status, results[op->kind].render(call, op));
}

static void call_op_done_cb(store_req_t *r)
{
    eng_op_t *op = (eng_op_t *)r;
    net_call_reply_op(op->user);
}

eng_op_t *net_call_op(net_call_t *call, eng_op_kind_t kind)
{
    eng_op_init(&call->op, call->api->eng, kind, net_core_mailbox(net_req_core(call->req)),
                call_op_done_cb);
    call->op.user = call;
    return &call->op;
}

void net_call_submit(net_call_t *call)
{
    if (!eng_submit(&call->op, call->rtxn)) net_call_reply_op(call);
}

void net_call_read_done(net_call_t *call)
{
    net_core_read_done(net_req_core(call->req));
    call->rtxn = NULL;
}

bool net_call_idem(net_call_t *call, const uint8_t scope[16])
{
    net_req_t *req = call->req;
    eng_op_t *op = &call->op;
    const char *key = net_req_header(req, "Idempotency-Key");
    if (!key) return true;
    size_t kl = strlen(key);
    bool ok = kl >= 1 && kl <= CET_IDEM_KEY_BYTES_MAX;
    for (size_t i = 0; ok && i < kl; i++) ok = key[i] > 32 && key[i] < 127;
    if (!ok) {
        net_call_reply_error(call, CET_E_BAD_REQUEST, "Idempotency-Key");
        return false;
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
    return true;
}

/* ---- routing ---- */
typedef void (*route_cb)(net_call_t *call);
typedef void (*route_arg_cb)(net_call_t *call, const char *arg);

typedef struct route {
    net_method_t method;
    const char *path;   /* exact, or a prefix ending in '/' when arg_cb is set */
    route_cb cb;
    route_arg_cb arg_cb;
    int segments;       /* path segments after a prefix (arg_cb's argument): 1 or 2 */
    const char *label;  /* for metrics */
    size_t body_max;    /* a body larger than CET_BODY_BYTES_MAX it takes (0: none) */
} route_t;

static const route_t routes[] = {
    {NET_POST, "/api/v1/captcha", net_api_captcha, NULL, 0, "captcha", 0},
    {NET_POST, "/api/v1/accounts", net_api_account_create, NULL, 0, "accounts", 0},
    {NET_POST, "/api/v1/sessions", net_api_session_create, NULL, 0, "sessions", 0},
    {NET_DELETE, "/api/v1/sessions", net_api_session_delete, NULL, 0, "sessions", 0},
    {NET_GET, "/api/v1/me", net_api_me, NULL, 0, "me", 0},
    {NET_POST, "/api/v1/agreement", net_api_agreement, NULL, 0, "agreement", 0},
    {NET_POST, "/api/v1/qualification", net_api_qualification, NULL, 0, "qualification", 0},
    {NET_POST, "/api/v1/candidate", net_api_bind, NULL, 0, "candidate", 0},
    {NET_GET, "/api/v1/candidate", net_api_candidate_get, NULL, 0, "candidate", 0},
    {NET_GET, "/api/v1/cet6-review", net_api_review_get, NULL, 0, "cet6_review", 0},
    {NET_POST, "/api/v1/cet6-review", net_api_review_post, NULL, 0, "cet6_review", 0},
    {NET_PUT, "/api/v1/cet6-review", net_api_review_put, NULL, 0, "cet6_review", 0},
    {NET_DELETE, "/api/v1/cet6-review", net_api_review_delete, NULL, 0, "cet6_review", 0},
    {NET_GET, "/api/v1/offers", net_api_offers, NULL, 0, "offers", 0},
    {NET_POST, "/api/v1/registrations", net_api_reg_create, NULL, 0, "registrations", 0},
    {NET_DELETE, "/api/v1/registrations/", NULL, net_api_reg_cancel, 1, "registrations_item", 0},
    {NET_POST, "/api/v1/payments/notify", net_api_pay_notice, NULL, 0, "payments_notify", 0},
    {NET_POST, "/api/v1/payments", net_api_pay_create, NULL, 0, "payments", 0},
    {NET_GET, "/api/v1/payments/", NULL, net_api_pay_get, 1, "payments_item", 0},
    {NET_PUT, "/api/v1/account/email", net_api_email_change, NULL, 0, "account_email", 0},
    {NET_PUT, "/api/v1/account/password", net_api_password_change, NULL, 0, "account_password", 0},
    {NET_GET, "/api/v1/sitting", net_api_sitting_get, NULL, 0, "sitting", 0},
    {NET_POST, "/api/v1/password-resets", net_api_reset_request, NULL, 0, "password_resets", 0},
    {NET_POST, "/api/v1/password-resets/confirm", net_api_reset_confirm, NULL, 0, "password_resets_confirm", 0},
    {NET_POST, "/api/v1/account-recovery", net_api_account_recovery, NULL, 0, "account_recovery", 0},
    {NET_POST, "/api/v1/admin/rebindings", net_api_staff_rebind, NULL, 0, "admin_rebindings", 0},
    {NET_GET, "/api/v1/admin/accounts", net_api_staff_accounts, NULL, 0, "admin_accounts", 0},
    {NET_POST, "/api/v1/admin/sessions", net_api_staff_session_create, NULL, 0, "admin_sessions", 0},
    {NET_DELETE, "/api/v1/admin/sessions", net_api_session_delete, NULL, 0, "admin_sessions", 0},
    {NET_POST, "/api/v1/admin/reviews/", NULL, net_api_staff_review, 1, "admin_reviews", 0},
    {NET_POST, "/api/v1/admin/registrations/lock", net_api_staff_lock, NULL, 0, "admin_lock", 0},
    {NET_POST, "/api/v1/admin/group-payments", net_api_staff_group_pay, NULL, 0, "admin_group_pay", 0},
    {NET_PUT, "/api/v1/admin/offers/", NULL, net_api_admin_offer, 2, "admin_offers", 0},
    {NET_POST, "/api/v1/admin/roster", net_api_admin_roster, NULL, 0, "admin_roster", 0},
    {NET_GET, "/api/v1/admin/reviews", net_api_admin_reviews, NULL, 0, "admin_reviews_list", 0},
    {NET_PUT, "/api/v1/admin/schools/", NULL, net_api_admin_settings, 2, "admin_school_settings", 0},
    {NET_GET, "/api/v1/admin/announcements", net_api_admin_announcements_get, NULL, 0, "admin_announcements", 0},
    {NET_POST, "/api/v1/admin/announcements", net_api_admin_announcements_post, NULL, 0, "admin_announcements", 0},
    {NET_DELETE, "/api/v1/admin/announcements/", NULL, net_api_admin_announcement_delete, 1, "admin_announcements_item", 0},
    {NET_GET, "/api/v1/admin/exports/", NULL, net_api_admin_export, 1, "admin_exports", 0},
    {NET_GET, "/api/v1/admin/audit", net_api_admin_audit, NULL, 0, "admin_audit", 0},
    {NET_GET, "/api/v1/admin/dashboard", net_api_admin_dashboard, NULL, 0, "admin_dashboard", 0},
    {NET_GET, "/api/v1/admin/registrations", net_api_admin_registrations, NULL, 0, "admin_registrations", 0},
    {NET_GET, "/api/v1/admission-tickets/", NULL, net_api_ticket_get, 1, "admission_tickets_item", 0},
    {NET_POST, "/api/v1/admin/arrangements", net_api_arrangement_create, NULL, 0, "admin_arrangements", 0},
    {NET_GET, "/api/v1/admin/campuses/", NULL, net_api_campus_rooms, 2, "admin_campus_rooms", 0},
    /* a campus's 999 rooms fit, even spelled out */
    {NET_PUT, "/api/v1/admin/campuses/", NULL, net_api_campus_rooms, 2, "admin_campus_rooms",
     CET_ROOMS_BODY_BYTES_MAX},
    {NET_GET, "/api/v1/admin/admission-tickets", net_api_tickets_print_all, NULL, 0, "admin_admission_tickets", 0},
};

/*
 * The route of (m, path), with *arg the path after a prefix route's prefix;
 * NULL when none, and *path_known whether another method has that path.
 */
static const route_t *route_find(net_method_t m, const char *path, const char **arg,
                                 bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route_t *r = &routes[i];
        *arg = NULL;
        if (r->arg_cb) {
            size_t pl = strlen(r->path);
            if (strncmp(path, r->path, pl) != 0 || path[pl] == 0) continue;
            const char *slash = strchr(path + pl, '/');
            if (slash && (r->segments < 2 || strchr(slash + 1, '/'))) continue;
            *arg = path + pl;
        } else if (strcmp(path, r->path) != 0) {
            continue;
        }
        *path_known = true;
        if (r->method == m) return r;
    }
    return NULL;
}

size_t net_api_body_max(net_method_t method, const char *path)
{
    const char *arg;
    bool known;
    const route_t *r = route_find(method, path, &arg, &known);
    return r ? r->body_max : 0;
}

void net_api_handler_cb(net_req_t *req, void *app)
{
    net_api_t *api = app;
    const char *arg;
    bool path_known;
    const route_t *r = route_find(net_req_method(req), net_req_path(req), &arg, &path_known);
    if (r) {
        net_req_set_route(req, r->label);
        net_call_t *call = call_new(req, api);
        if (r->arg_cb)
            r->arg_cb(call, arg);
        else
            r->cb(call);
        return;
    }
    net_req_set_route(req, path_known ? "method_not_allowed" : "not_found");
    net_reply_error(req, path_known ? CET_E_METHOD_NOT_ALLOWED : CET_E_NOT_FOUND, NULL);
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
    /* the costs of every hash made today: an unknown name costs what a known one does */
    if (cet_pwhash_make(api->dummy_hash, pw) != 0)
        CET_ERROR("api: cannot make the dummy password hash");
    return api;
}

void net_api_free(net_api_t *api)
{
    if (!api) return;
    for (int i = 0; i < CET_THREADS_MAX; i++) {
        net_call_pool_t *pool = api->pools[i];
        if (!pool) continue;
        while (pool->chunks) {
            call_chunk_t *next = pool->chunks->next;
            cet_free(pool->chunks);
            pool->chunks = next;
        }
        cet_free(pool);
    }
    cet_free(api);
}
