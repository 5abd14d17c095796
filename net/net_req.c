/*
 * net_req.c: one HTTP request from evhttp's hands to the reply.
 *
 * Life of a request: net_server.c's request callback calls net_req_new
 * (copies path, client and body into a net_req_t, installs net_req_gone_cb
 * as the connection's close callback), then the handler; the handler or a
 * later completion calls exactly one net_reply_*(), which restores the
 * connection's plain close callback, sends through evhttp (or, when the
 * connection is gone, frees what libevent left to us) and recycles req.
 *
 * Why the close callback. libevent 2.1 disables reading while a request is
 * pending, so a client that leaves is normally noticed only when the reply
 * is written, and evhttp then frees everything itself. But evhttp_free (at
 * shutdown) and the EOF/timeout path of evhttp_connection_incoming_fail free
 * the connection while our handler still holds the request: the first frees
 * the evhttp_request too, the second detaches it (evcon = NULL) and leaves it
 * to the user. evhttp_connection_free calls the close callback first, so
 * net_req_gone_cb sees which case it is and the reply obeys.
 */
#include <sys/queue.h> /* before libevent: TAILQ_INIT for the query list */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/cet_base.h"
#include "net/net_internal.h"

/* ---- building a request ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes the path part of uri (up to '?' or '#') into out[cap].
 * Refuses %00, bad escapes and overflow: 0 ok, -1 bad. */
static int path_decode(const char *uri, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = uri; *p && *p != '?' && *p != '#'; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
            if (l < 0) return -1;
            c = h * 16 + l;
            if (c == 0) return -1;
            p += 2;
        }
        if (n + 1 >= cap) return -1;
        out[n++] = (char)c;
    }
    if (n == 0) return -1;
    out[n] = 0;
    return 0;
}

/* The client h2o saw: the last comma-separated entry of the last
 * X-Forwarded-For field (h2o appends it; anything before it came from the
 * client), as inet_ntop writes it, into out[cap]. No field: "unix" (a local
 * process on the socket). False for a field over CET_XFF_BYTES_MAX bytes or
 * an entry that is not an IP address: the request is refused (400), never
 * attributed to a shared name that a limit would then be keyed on. */
static bool client_from_xff(const struct evkeyvalq *h, char *out, size_t cap)
{
    const char *xff = NULL;
    for (const struct evkeyval *kv = TAILQ_FIRST(h); kv; kv = TAILQ_NEXT(kv, next))
        if (strcasecmp(kv->key, "X-Forwarded-For") == 0) xff = kv->value;
    cet_strlcpy(out, "unix", cap);
    if (!xff) return true;
    if (strlen(xff) > CET_XFF_BYTES_MAX) return false;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ' || *last == '\t')
        last++;
    size_t n = strcspn(last, " \t");
    if (last[n + strspn(last + n, " \t")] != 0) return false; /* "a b": not one address */
    char addr[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof addr) return false;
    memcpy(addr, last, n);
    addr[n] = 0;
    uint8_t bin[16];
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, addr, bin) == 1)
        inet_ntop(AF_INET, bin, text, sizeof text);
    else if (inet_pton(AF_INET6, addr, bin) == 1)
        inet_ntop(AF_INET6, bin, text, sizeof text);
    else
        return false;
    cet_strlcpy(out, text, cap);
    return true;
}

/* The client's address into out[cap]; false: an unusable X-Forwarded-For. */
static bool client_of(struct evhttp_request *evreq, char *out, size_t cap)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(evreq);
    const struct sockaddr *sa = evcon ? evhttp_connection_get_addr(evcon) : NULL;
    if (sa && sa->sa_family == AF_UNIX)
        return client_from_xff(evhttp_request_get_input_headers(evreq), out, cap);
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
        return true;
    }
    if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
        return true;
    }
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &addr, &port);
    cet_strlcpy(out, addr ? addr : "unknown", cap);
    return true;
}

static net_method_t method_of(struct evhttp_request *evreq)
{
    switch (evhttp_request_get_command(evreq)) {
    case EVHTTP_REQ_GET:
        return NET_GET;
    case EVHTTP_REQ_POST:
        return NET_POST;
    case EVHTTP_REQ_PUT:
        return NET_PUT;
    case EVHTTP_REQ_DELETE:
        return NET_DELETE;
    case EVHTTP_REQ_HEAD:
        return NET_HEAD;
    case EVHTTP_REQ_OPTIONS:
        return NET_OPTIONS;
    default:
        return 0;
    }
}

/* An answer given before a net_req_t exists (JSON error, then evhttp frees);
 * close: the connection cannot carry another request. */
static void early_error(struct evhttp_request *evreq, cet_err_t e, bool close)
{
    char text[256];
    int n = snprintf(text, sizeof text, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                     cet_err_code(e), cet_err_message(e));
    struct evkeyvalq *h = evhttp_request_get_output_headers(evreq);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (close) evhttp_add_header(h, "Connection", "close");
    evbuffer_add(evhttp_request_get_output_buffer(evreq), text, (size_t)n);
    evhttp_send_reply(evreq, cet_err_status(e), NULL, NULL);
}

/* Several Content-Length fields that disagree: where the body ends is
 * ambiguous (RFC 9112 6.3: 400 and close; request smuggling). libevent 2.1
 * silently takes the first one. */
static bool content_length_conflict(const struct evkeyvalq *h)
{
    const char *first = NULL;
    for (const struct evkeyval *kv = TAILQ_FIRST(h); kv; kv = TAILQ_NEXT(kv, next)) {
        if (strcasecmp(kv->key, "Content-Length") != 0) continue;
        if (!first)
            first = kv->value;
        else if (strcmp(first, kv->value) != 0)
            return true;
    }
    return false;
}

net_req_t *net_req_new(net_core_t *core, struct evhttp_request *evreq)
{
    const char *uri = evhttp_request_get_uri(evreq);
    struct evbuffer *in = evhttp_request_get_input_buffer(evreq);
    size_t body_len = evbuffer_get_length(in);
    if (body_len > CET_BODY_BYTES_MAX && body_len > net_core_body_max(core, evreq)) {
        early_error(evreq, CET_E_BODY_TOO_LARGE, true);
        return NULL;
    }
    if (content_length_conflict(evhttp_request_get_input_headers(evreq))) {
        early_error(evreq, CET_E_BAD_REQUEST, true);
        return NULL;
    }
    net_req_t *req = net_core_req_alloc(core);
    if (!uri || path_decode(uri, req->path, sizeof req->path) != 0 || req->path[0] != '/') {
        net_core_req_release(core, req);
        early_error(evreq, CET_E_BAD_REQUEST, false);
        return NULL;
    }
    req->evreq = evreq;
    req->core = core;
    req->user = NULL;
    req->route = 0;
    req->method = method_of(evreq);
    req->gone = req->detached = req->query_parsed = req->replied = false;
    req->start_ns = cet_mono_ns();
    req->body_len = body_len;
    char *body = req->body;
    req->big_body = NULL;
    if (body_len > CET_BODY_BYTES_MAX) body = req->big_body = cet_malloc(body_len + 1);
    evbuffer_copyout(in, body, body_len);
    body[body_len] = 0;
    if (!client_of(evreq, req->client, sizeof req->client)) {
        cet_free(req->big_body);
        req->big_body = NULL;
        net_core_req_release(core, req);
        early_error(evreq, CET_E_BAD_REQUEST, false);
        return NULL;
    }
    /* From here until the reply, a freed connection must reach us. */
    evhttp_connection_set_closecb(evhttp_request_get_connection(evreq), net_req_gone_cb, req);
    return req;
}

void net_req_gone_cb(struct evhttp_connection *evcon, void *arg)
{
    net_req_t *req = arg;
    CET_ASSERT(!req->gone && !req->replied);
    req->gone = true;
    /* The EOF/timeout path of evhttp_connection_incoming_fail unhooks the
     * request (evcon = NULL) before freeing the connection and leaves it to
     * us; every other path frees it with the connection. */
    req->detached = evhttp_request_get_connection(req->evreq) == NULL;
    if (!req->detached) req->evreq = NULL;
    net_core_conn_closed(req->core);
}

/* ---- accessors ---- */

net_method_t net_req_method(const net_req_t *req)
{
    return req->method;
}

const char *net_req_path(const net_req_t *req)
{
    return req->path;
}

const char *net_req_query(net_req_t *req, const char *name)
{
    if (!req->query_parsed) {
        req->query_parsed = true;
        TAILQ_INIT(&req->query);
        const char *uri = req->evreq ? evhttp_request_get_uri(req->evreq) : NULL;
        const char *q = uri ? strchr(uri, '?') : NULL;
        if (q) evhttp_parse_query_str(q + 1, &req->query);
    }
    return evhttp_find_header(&req->query, name);
}

const char *net_req_header(const net_req_t *req, const char *name)
{
    if (req->gone && !req->detached) return NULL;
    return evhttp_find_header(evhttp_request_get_input_headers(req->evreq), name);
}

const char *net_req_body(const net_req_t *req, size_t *len)
{
    if (len) *len = req->body_len;
    return req->big_body ? req->big_body : req->body;
}

const char *net_req_client(const net_req_t *req)
{
    return req->client;
}

net_core_t *net_req_core(net_req_t *req)
{
    return req->core;
}

void net_req_set_route(net_req_t *req, const char *route)
{
    req->route = net_metrics_route_index(route);
}

void net_req_set_user(net_req_t *req, void *p)
{
    req->user = p;
}

void *net_req_user(const net_req_t *req)
{
    return req->user;
}

void net_req_add_header(net_req_t *req, const char *name, const char *value)
{
    if (req->gone) return;
    evhttp_add_header(evhttp_request_get_output_headers(req->evreq), name, value);
}

/* "application/json", any case, optionally followed by parameters. */
static bool is_json_type(const char *ct)
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0) return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == 0 || *ct == ';';
}

cet_err_t net_req_json(net_req_t *req, const char *const *allowed, json_t **out, const char **field)
{
    *out = NULL;
    if (field) *field = NULL;
    /* A missing Content-Type is taken as JSON: only a different one is refused. */
    const char *ct = net_req_header(req, "Content-Type");
    if (ct && !is_json_type(ct)) return CET_E_UNSUPPORTED_MEDIA_TYPE;
    return net_json_decode(net_req_body(req, NULL), req->body_len, allowed, out, field);
}

/* ---- replies ---- */

static void req_finish(net_req_t *req)
{
    if (req->query_parsed) evhttp_clear_headers(&req->query);
    cet_free(req->big_body);
    req->big_body = NULL;
    net_core_t *core = req->core;
    net_core_req_release(core, req);
    net_core_req_finished(core);
}

void net_reply_raw(net_req_t *req, int status, const char *content_type, const char *body,
                   size_t len)
{
    CET_ASSERT(!req->replied);
    req->replied = true;
    net_metrics_record(net_core_metrics(req->core), req->route, status,
                       cet_mono_ns() - req->start_ns);
    if (req->gone) {
        if (req->detached) evhttp_request_free(req->evreq);
        req_finish(req);
        return;
    }
    struct evhttp_request *evreq = req->evreq;
    evhttp_connection_set_closecb(evhttp_request_get_connection(evreq), net_core_conn_closed_cb,
                                  req->core);
    struct evkeyvalq *h = evhttp_request_get_output_headers(evreq);
    evhttp_add_header(h, "Content-Type",
                      content_type ? content_type : "application/json; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (net_core_draining(req->core)) evhttp_add_header(h, "Connection", "close");
    if (len) evbuffer_add(evhttp_request_get_output_buffer(evreq), body, len);
    evhttp_send_reply(evreq, status, NULL, NULL);
    req_finish(req);
}

void net_reply_json(net_req_t *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (body && !text) {
        CET_ERROR("net: cannot serialise a %d answer for %s", status, req->path);
        net_reply_error(req, CET_E_INTERNAL, NULL);
        return;
    }
    net_reply_raw(req, status, NULL, text ? text : "{}", text ? strlen(text) : 2);
    json_free_t free_fn;
    json_get_alloc_funcs(NULL, &free_fn);
    if (text) free_fn(text);
}

void net_reply_error(net_req_t *req, cet_err_t e, const char *field)
{
    json_t *err = json_pack("{s:s, s:s}", "code", cet_err_code(e), "message", cet_err_message(e));
    if (field && err) json_object_set_new(err, "field", json_string(field));
    int status = cet_err_status(e);
    if (status == 503) net_req_add_header(req, "Retry-After", "1");
    if (status == 429) net_req_add_header(req, "Retry-After", "60");
    net_reply_json(req, status, json_pack("{s:o}", "error", err));
}
