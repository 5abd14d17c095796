/*
 * net_api.c: the router of API version 1 (docs/openapi.yaml) and what every
 * resource shares: the read txn, authentication, idempotency, queueing an op.
 */
#include "net/net_api_internal.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "base/cet_id.h"
#include "base/cet_token.h"

/* ---- small helpers ---- */
store_txn_t *net_api_read_txn(net_req_t *req)
{
    int rc = 0;
    store_txn_t *txn = net_core_read_txn(net_req_core(req), &rc);
    if (!txn) {
        CET_ERROR("api: read txn: %s", store_strerror(rc));
        net_reply_error(req, CET_E_STORAGE, NULL);
    }
    return txn;
}

void net_api_reply_store_error(net_req_t *req, int rc)
{
    CET_ERROR("api: %s: storage: %s", net_req_path(req), store_strerror(rc));
    net_reply_error(req, CET_E_STORAGE, NULL);
}

json_t *net_api_time_json(int64_t t)
{
    char buf[26];
    return t ? json_string(cet_time_format(t, buf)) : json_null();
}

json_t *net_api_code6(uint32_t code)
{
    char buf[12];
    snprintf(buf, sizeof buf, "%06u", code);
    return json_string(buf);
}

json_t *net_api_code5(uint32_t code)
{
    char buf[12];
    snprintf(buf, sizeof buf, "%05u", code);
    return json_string(buf);
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

/* Decodes the body; replies and returns NULL on error. */
json_t *net_api_body_json(net_req_t *req, const char *const *allowed)
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
cet_err_t net_api_need_confirmed(json_t *j)
{
    bool confirmed = false;
    cet_err_t e = net_json_bool(j, "confirmed", true, &confirmed);
    if (e) return e;
    return confirmed ? CET_E_OK : CET_E_NOT_CONFIRMED;
}

/* ---- authentication ---- */
/* Resolves the bearer token to a live session of kind; replies 401 if not. */
bool net_api_auth(net_req_t *req, store_txn_t *txn, net_api_t *api, uint8_t kind, api_auth_t *out)
{
    const char *h = net_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !cet_token_key(h + 7, out->token_key)) {
        net_reply_error(req, CET_E_UNAUTHORIZED, NULL);
        return false;
    }
    store_session_t s;
    int rc = store_session_get(txn, api->st, out->token_key, &s);
    if (rc && rc != STORE_NOTFOUND) {
        net_api_reply_store_error(req, rc);
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
        net_reply_error(req, CET_E_STORAGE, NULL);
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

eng_op_t *net_api_op_new(net_req_t *req, net_api_t *api, eng_op_kind_t kind)
{
    eng_op_t *op = cet_malloc(sizeof *op);
    eng_op_init(op, api->eng, kind, net_core_mailbox(net_req_core(req)), api_op_done_cb);
    op->user = req;
    return op;
}

/* Refuses a request whose op (and body) were prepared: frees both and replies. */
void net_api_op_refuse(net_req_t *req, eng_op_t *op, json_t *j, cet_err_t e, const char *field)
{
    json_decref(j);
    cet_free(op);
    net_reply_error(req, e, field);
}

void net_api_op_submit(net_req_t *req, eng_op_t *op)
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
bool net_api_idem_prepare(net_req_t *req, store_txn_t *txn, net_api_t *api, eng_op_t *op,
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
    MDB_val v;
    int rc = store_get_ref(txn, api->st, STORE_DB_IDEM, op->idem_key, sizeof op->idem_key, &v);
    if (rc == 0 && v.mv_size >= sizeof(store_idem_t)) {
        store_idem_t hd;
        memcpy(&hd, v.mv_data, sizeof hd);
        if (memcmp(hd.request_hash, op->idem_hash, 16) != 0) {
            cet_free(op);
            net_reply_error(req, CET_E_IDEMPOTENCY_CONFLICT, "Idempotency-Key");
            return true;
        }
        size_t n = hd.body_len;
        if (sizeof hd + n > v.mv_size) n = v.mv_size - sizeof hd;
        net_req_add_header(req, "Idempotent-Replayed", "true");
        net_reply_raw(req, hd.status, "application/json; charset=utf-8",
                      (const char *)v.mv_data + sizeof hd, n);
        cet_free(op);
        return true;
    }
    return false;
}

void net_api_email_scope(const char *email, uint8_t scope[16])
{
    char low[CET_EMAIL_BYTES];
    size_t n = cet_email_normalize(email, low, sizeof low);
    XXH128_hash_t h = XXH3_128bits(low, n);
    XXH128_canonicalFromHash((XXH128_canonical_t *)scope, h);
}

/* ---- routing ---- */
typedef void (*route_cb)(net_req_t *req, net_api_t *api);
typedef void (*route_arg_cb)(net_req_t *req, net_api_t *api, const char *arg);

typedef struct route {
    net_method_t method;
    const char *path;   /* exact, or a prefix ending in '/' when arg_cb is set */
    route_cb cb;
    route_arg_cb arg_cb;
    int segments;       /* path segments after a prefix (arg_cb's argument): 1 or 2 */
    const char *label;  /* for metrics */
} route_t;


static const route_t routes[] = {
    {NET_POST, "/api/v1/captcha", net_api_captcha, NULL, 0, "captcha"},
    {NET_POST, "/api/v1/accounts", net_api_account_create, NULL, 0, "accounts"},
    {NET_POST, "/api/v1/sessions", net_api_session_create, NULL, 0, "sessions"},
    {NET_DELETE, "/api/v1/sessions", net_api_session_delete, NULL, 0, "sessions"},
    {NET_GET, "/api/v1/me", net_api_me, NULL, 0, "me"},
    {NET_POST, "/api/v1/agreement", net_api_agreement, NULL, 0, "agreement"},
    {NET_POST, "/api/v1/qualification", net_api_qualification, NULL, 0, "qualification"},
    {NET_POST, "/api/v1/candidate", net_api_bind, NULL, 0, "candidate"},
    {NET_GET, "/api/v1/candidate", net_api_candidate_get, NULL, 0, "candidate"},
    {NET_GET, "/api/v1/cet6-review", net_api_review_get, NULL, 0, "cet6_review"},
    {NET_POST, "/api/v1/cet6-review", net_api_review_post, NULL, 0, "cet6_review"},
    {NET_PUT, "/api/v1/cet6-review", net_api_review_put, NULL, 0, "cet6_review"},
    {NET_DELETE, "/api/v1/cet6-review", net_api_review_delete, NULL, 0, "cet6_review"},
    {NET_GET, "/api/v1/offers", net_api_offers, NULL, 0, "offers"},
    {NET_POST, "/api/v1/registrations", net_api_reg_create, NULL, 0, "registrations"},
    {NET_DELETE, "/api/v1/registrations/", NULL, net_api_reg_cancel, 1, "registrations_item"},
    {NET_POST, "/api/v1/payments/notify", net_api_pay_notice, NULL, 0, "payments_notify"},
    {NET_POST, "/api/v1/payments", net_api_pay_create, NULL, 0, "payments"},
    {NET_GET, "/api/v1/payments/", NULL, net_api_pay_get, 1, "payments_item"},
    {NET_PUT, "/api/v1/account/email", net_api_email_change, NULL, 0, "account_email"},
    {NET_POST, "/api/v1/admin/sessions", net_api_staff_session_create, NULL, 0, "admin_sessions"},
    {NET_DELETE, "/api/v1/admin/sessions", net_api_session_delete, NULL, 0, "admin_sessions"},
    {NET_POST, "/api/v1/admin/reviews/", NULL, net_api_staff_review, 1, "admin_reviews"},
    {NET_POST, "/api/v1/admin/registrations/lock", net_api_staff_lock, NULL, 0, "admin_lock"},
    {NET_POST, "/api/v1/admin/group-payments", net_api_staff_group_pay, NULL, 0, "admin_group_pay"},
    {NET_PUT, "/api/v1/admin/offers/", NULL, net_api_staff_capacity, 2, "admin_offers"},
    {NET_GET, "/api/v1/admission-tickets/", NULL, net_api_ticket_get, 1, "admission_tickets_item"},
    {NET_POST, "/api/v1/admin/arrangements", net_api_arrangement_create, NULL, 0, "admin_arrangements"},
    {NET_GET, "/api/v1/admin/campuses/", NULL, net_api_campus_rooms, 2, "admin_campus_rooms"},
    {NET_PUT, "/api/v1/admin/campuses/", NULL, net_api_campus_rooms, 2, "admin_campus_rooms"},
    {NET_GET, "/api/v1/admin/admission-tickets", net_api_tickets_print_all, NULL, 0, "admin_admission_tickets"},
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
            const char *slash = strchr(path + pl, '/');
            if (slash && (r->segments < 2 || strchr(slash + 1, '/'))) continue;
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
