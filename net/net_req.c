/*
 * net_req.c: one HTTP request from its arrival to the reply.
 *
 * Life of a request: net_http.c takes a request object when a head arrives
 * (net_req_reset) and parses the head into it; once the body is in,
 * net_core_dispatch (net_server.c) fills in path, client and request id
 * (net_req_prepare) and calls the handler; the handler or a later completion
 * calls exactly one net_reply_*(), which hands status, fields and body to
 * net_http_send (or, when the connection is gone, drops them) and recycles
 * req.
 */
#include <sys/queue.h> /* before libevent: TAILQ_INIT for the query list */
#include <arpa/inet.h>
#include <event2/http.h> /* evhttp_parse_query_str, evhttp_find_header: the query string */
#include <event2/keyvalq_struct.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* ---- trusted proxies ---- */

static int ip_parse(const char *ip, int *family, uint8_t addr[16])
{
    if (inet_pton(AF_INET, ip, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

int net_cidr_parse(const char *s, net_cidr_t *out)
{
    char ip[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof ip) return EINVAL;
    memcpy(ip, s, n);
    ip[n] = 0;
    memset(out, 0, sizeof *out);
    if (ip_parse(ip, &out->family, out->addr) != 0) return EINVAL;
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->prefix_bits = max;
    if (slash) {
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        if (slash[1] == 0 || *end || bits < 0 || bits > (long)max) return EINVAL;
        out->prefix_bits = (unsigned)bits;
    }
    return 0;
}

bool net_cidr_contains(const net_cidr_t *c, const char *ip)
{
    int family;
    uint8_t addr[16];
    if (ip_parse(ip, &family, addr) != 0 || family != c->family) return false;
    unsigned full = c->prefix_bits / 8, rest = c->prefix_bits % 8;
    if (memcmp(addr, c->addr, full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (addr[full] & mask) == (c->addr[full] & mask);
}

static bool trusted(const net_options_t *opt, const char *ip)
{
    for (unsigned i = 0; i < opt->n_trusted; i++)
        if (net_cidr_contains(&opt->trusted[i], ip)) return true;
    return false;
}

/* The last X-Forwarded-For field (a client may send its own first ones). */
static const char *xff_of(const net_req_t *req)
{
    const char *xff = NULL;
    for (unsigned i = 0; i < req->n_hdrs; i++)
        if (strcasecmp(req->hdrs[i].name, "X-Forwarded-For") == 0) xff = req->hdrs[i].value;
    return xff;
}

/*
 * The client behind a proxy, into out[cap] as inet_ntop writes it:
 * X-Forwarded-For read from its right end (the entry the nearest proxy
 * appended), skipping addresses of --trusted-proxy blocks; the first other
 * entry (or the leftmost) is the client. Anything left of it came from the
 * client and is ignored. False for a field over CET_XFF_BYTES_MAX bytes or an
 * entry on the walk that is not one IP address: the request is refused (400),
 * never attributed to a shared name that a limit would then be keyed on.
 */
static bool client_from_xff(const net_options_t *opt, const char *xff, char *out, size_t cap)
{
    if (strlen(xff) > CET_XFF_BYTES_MAX) return false;
    size_t end = strlen(xff);
    for (;;) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        size_t b = start, e = end;
        while (b < e && (xff[b] == ' ' || xff[b] == '\t'))
            b++;
        while (e > b && (xff[e - 1] == ' ' || xff[e - 1] == '\t'))
            e--;
        char ip[INET6_ADDRSTRLEN + 1];
        int family;
        uint8_t addr[16];
        if (e == b || e - b >= sizeof ip) return false;
        memcpy(ip, xff + b, e - b);
        ip[e - b] = 0;
        if (ip_parse(ip, &family, addr) != 0) return false; /* also "a b": not one address */
        char text[INET6_ADDRSTRLEN];
        inet_ntop(family, addr, text, sizeof text);
        if (start == 0 || !trusted(opt, text)) {
            cet_strlcpy(out, text, cap);
            return true;
        }
        end = start - 1; /* before the comma */
    }
}

/*
 * The client's address into out[cap]. On the unix socket (h2o): from
 * X-Forwarded-For, "unix" without one (a local process). On TCP: the peer,
 * or from X-Forwarded-For when the peer is a --trusted-proxy (nginx). False:
 * an unusable X-Forwarded-For (the caller answers 400).
 */
static bool client_of(const net_options_t *opt, const net_req_t *req, char *out, size_t cap)
{
    const struct sockaddr *sa = net_conn_peer(req->conn);
    const char *xff = xff_of(req);
    if (sa && sa->sa_family == AF_UNIX) {
        cet_strlcpy(out, "unix", cap);
        return !xff || client_from_xff(opt, xff, out, cap);
    }
    char peer[INET6_ADDRSTRLEN];
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
    } else if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
    } else {
        cet_strlcpy(out, "unknown", cap);
        return true;
    }
    cet_strlcpy(out, peer, cap);
    /* --trusted-proxy: a TCP proxy vouches for the client it forwards */
    if (xff && trusted(opt, peer)) return client_from_xff(opt, xff, out, cap);
    return true;
}

/* ---- request ids ---- */

static bool request_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok || n >= CET_REQUEST_ID_BYTES_MAX) return false;
    }
    return n > 0;
}

/* The edge's X-Request-Id, else a new one: a random per-process prefix, the
 * core and a per-core sequence number (unique within the process's life). */
void net_req_make_id(net_core_t *core, const char *given, char *out, size_t cap)
{
    if (given && request_id_ok(given)) {
        cet_strlcpy(out, given, cap);
        return;
    }
    static _Atomic uint32_t nonce;
    static _Thread_local uint64_t seq;
    uint32_t n = atomic_load_explicit(&nonce, memory_order_relaxed);
    if (n == 0) {
        if (getrandom(&n, sizeof n, 0) != (ssize_t)sizeof n) n = (uint32_t)getpid();
        n |= 1;
        atomic_store(&nonce, n);
    }
    snprintf(out, cap, "%08x-%u-%llu", n, net_core_index(core), (unsigned long long)++seq);
}

void net_req_reset(net_req_t *req, net_core_t *core, net_conn_t *conn)
{
    req->core = core;
    req->conn = conn;
    req->user = NULL;
    req->route = 0;
    req->method = 0;
    req->method_known = false;
    req->gone = req->query_parsed = req->replied = false;
    req->keep_alive = true;
    req->expect_continue = req->has_cache_control = false;
    req->minor = 1;
    req->start_ns = cet_mono_ns();
    req->uri = NULL;
    req->n_hdrs = 0;
    req->ohdr = req->ohdr_inline;
    req->ohdr_len = 0;
    req->ohdr_cap = sizeof req->ohdr_inline;
    req->body_len = 0;
    req->big_body = NULL;
    req->big_cap = 0;
    req->path[0] = req->client[0] = req->request_id[0] = 0;
}

cet_err_t net_req_prepare(net_req_t *req)
{
    req->start_ns = cet_mono_ns();
    net_req_make_id(req->core, net_req_header(req, "X-Request-Id"), req->request_id,
                    sizeof req->request_id);
    cet_strlcpy(req->client, "unknown", sizeof req->client);
    if (!req->uri || path_decode(req->uri, req->path, sizeof req->path) != 0 ||
        req->path[0] != '/') {
        cet_strlcpy(req->path, "/", sizeof req->path);
        return CET_E_BAD_REQUEST;
    }
    if (!client_of(net_server_options(net_core_server(req->core)), req, req->client,
                   sizeof req->client))
        return CET_E_BAD_REQUEST;
    return CET_E_OK;
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
        const char *q = req->uri ? strchr(req->uri, '?') : NULL;
        if (q) evhttp_parse_query_str(q + 1, &req->query);
    }
    return evhttp_find_header(&req->query, name);
}

const char *net_req_header(const net_req_t *req, const char *name)
{
    for (unsigned i = 0; i < req->n_hdrs; i++)
        if (strcasecmp(req->hdrs[i].name, name) == 0) return req->hdrs[i].value;
    return NULL;
}

const char *net_req_body(const net_req_t *req, size_t *len)
{
    if (len) *len = req->body_len;
    return req->big_body ? req->big_body : req->body;
}

const char *net_req_id(const net_req_t *req)
{
    return req->request_id;
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

/* A field name or value that could end the field early: never written. */
static bool field_text_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') return false;
    return true;
}

void net_req_add_header(net_req_t *req, const char *name, const char *value)
{
    if (req->gone) return;
    if (!field_text_ok(name) || !field_text_ok(value) || !*name) {
        CET_ERROR("net: a %s field with a line break dropped (%s)", name, req->path);
        return;
    }
    size_t nl = strlen(name), vl = strlen(value), need = req->ohdr_len + nl + vl + 4;
    if (need > CET_RESPONSE_HEAD_BYTES_MAX) {
        CET_ERROR("net: the answer's fields of %s pass %d bytes: %s dropped", req->path,
                  CET_RESPONSE_HEAD_BYTES_MAX, name);
        return;
    }
    if (need > req->ohdr_cap) {
        char *h = cet_malloc(CET_RESPONSE_HEAD_BYTES_MAX);
        memcpy(h, req->ohdr, req->ohdr_len);
        req->ohdr = h;
        req->ohdr_cap = CET_RESPONSE_HEAD_BYTES_MAX;
    }
    char *p = req->ohdr + req->ohdr_len;
    memcpy(p, name, nl);
    p[nl] = ':';
    p[nl + 1] = ' ';
    memcpy(p + nl + 2, value, vl);
    p[nl + 2 + vl] = '\r';
    p[nl + 3 + vl] = '\n';
    req->ohdr_len += nl + vl + 4;
    if (strcasecmp(name, "Cache-Control") == 0) req->has_cache_control = true;
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

static const char *method_name(const net_req_t *req)
{
    switch (req->method) {
    case NET_GET: return "GET";
    case NET_POST: return "POST";
    case NET_PUT: return "PUT";
    case NET_DELETE: return "DELETE";
    case NET_HEAD: return "HEAD";
    case NET_OPTIONS: return "OPTIONS";
    default: return "other";
    }
}

/* One logfmt line per answered request: debug below 500, warn for a 5xx. */
static void req_log(const net_req_t *req, int status, uint64_t ns)
{
    cet_log_level_t lv = status >= 500 ? CET_LOG_WARN : CET_LOG_DEBUG;
    if (!cet_log_enabled(lv)) return;
    char path[CET_PATH_BYTES_MAX * 4 + 3];
    cet_log_quote(path, sizeof path, req->path);
    cet_log_event(lv, "request", "request_id=%s method=%s path=%s status=%d duration_ms=%.3f client=%s",
                  req->request_id, method_name(req), path, status, (double)ns / 1e6, req->client);
}

void net_req_clear(net_req_t *req)
{
    if (req->query_parsed) evhttp_clear_headers(&req->query);
    req->query_parsed = false;
    cet_free(req->big_body);
    req->big_body = NULL;
    if (req->ohdr != req->ohdr_inline) cet_free(req->ohdr);
    req->ohdr = req->ohdr_inline;
}

static void req_finish(net_req_t *req)
{
    net_req_clear(req);
    net_core_t *core = req->core;
    net_core_req_release(core, req);
    net_core_req_finished(core);
}

/* The reply of net_reply_raw and net_reply_ref: body is copied, or referenced when done_cb. */
static void reply_send(net_req_t *req, int status, const char *content_type, const char *body,
                       size_t len, net_body_done_cb done_cb, void *done_arg)
{
    CET_ASSERT(!req->replied);
    req->replied = true;
    uint64_t ns = cet_mono_ns() - req->start_ns;
    net_metrics_record(net_core_metrics(req->core), req->route, status, ns);
    req_log(req, status, ns);
    if (req->gone || !req->conn) {
        req_finish(req);
        if (done_cb) done_cb(body, len, done_arg);
        return;
    }
    net_req_add_header(req, "X-Request-Id", req->request_id);
    net_req_add_header(req, "Content-Type",
                       content_type ? content_type : "application/json; charset=utf-8");
    /* a handler that set its own (a ticket's "private, no-cache") keeps it: two would add up */
    if (!req->has_cache_control) net_req_add_header(req, "Cache-Control", "no-store");
    net_http_send(req, status, body, len, done_cb, done_arg);
    req_finish(req);
}

void net_reply_raw(net_req_t *req, int status, const char *content_type, const char *body,
                   size_t len)
{
    reply_send(req, status, content_type, body, len, NULL, NULL);
}

void net_reply_ref(net_req_t *req, int status, const char *content_type, const void *body,
                   size_t len, net_body_done_cb done_cb, void *done_arg)
{
    CET_ASSERT(done_cb != NULL);
    reply_send(req, status, content_type, body, len, done_cb, done_arg);
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

size_t net_error_text(net_jw_t *w, cet_err_t e, const char *field, const char *request_id)
{
    const char *code = cet_err_code(e), *msg = cet_err_message(e);
    net_jw_open(w, NULL);
    net_jw_open(w, "error");
    net_jw_str(w, "code", code, strlen(code));
    net_jw_str(w, "message", msg, strlen(msg));
    if (field) net_jw_str(w, "field", field, strlen(field));
    net_jw_str(w, "request_id", request_id, strlen(request_id));
    net_jw_close(w);
    net_jw_close(w);
    return w->ok ? w->len : 0;
}

void net_reply_error(net_req_t *req, cet_err_t e, const char *field)
{
    int status = cet_err_status(e);
    if (status == 401) net_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"cetreg\"");
    if (status == 503) net_req_add_header(req, "Retry-After", "1");
    if (status == 429) net_req_add_header(req, "Retry-After", "60");
    char stack[1024], *heap = NULL;
    net_jw_t w;
    net_jw_init(&w, stack, sizeof stack);
    size_t len = net_error_text(&w, e, field, req->request_id);
    if (!len) {
        /* a long field: the most it can take, escaping making a byte at most 6 */
        size_t bound = 64 + 6 * (strlen(cet_err_code(e)) + strlen(cet_err_message(e)) +
                                 (field ? strlen(field) : 0) + strlen(req->request_id));
        heap = cet_malloc(bound);
        net_jw_init(&w, heap, bound);
        len = net_error_text(&w, e, field, req->request_id);
        CET_ASSERT_INFO(len > 0, "error answer %s: %zu bytes did not hold it", cet_err_code(e),
                        bound);
    }
    net_reply_raw(req, status, NULL, heap ? heap : stack, len);
    cet_free(heap);
}

void net_metrics_early(net_core_t *core, int status)
{
    net_metrics_record(net_core_metrics(core), net_metrics_route_index("other"), status, 0);
}
