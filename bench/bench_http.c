/*
 * bench_http.c: the client side of HTTP/1.1 (keep-alive, Content-Length and
 * chunked answers, no pipelining) and HTTP/2 (nghttp2, over TLS with ALPN or
 * h2c with prior knowledge), on libevent bufferevents.
 *
 * A connection has `cap` slots: 1 for HTTP/1.1, --streams for HTTP/2. While
 * it is connected and has a free slot it sits on its thread's ready list
 * (a queue: a connection that has just answered goes to the back, so in open
 * loop every connection carries its share instead of the few at the top of a
 * stack while the rest sit idle until the server's read deadline cuts them;
 * an HTTP/2 connection with streams left goes back to the front; stale
 * entries are skipped when popped). Every request in flight
 * is on the connection's list, so a broken connection fails exactly those
 * requests (status 0, fail "conn_error" or "timeout") and reconnects.
 */
#include "bench/bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/cet_base.h"

typedef enum conn_state { CONN_CLOSED, CONN_CONNECTING, CONN_READY } conn_state_t;

/* HTTP/1.1 answer parser states */
typedef enum h1_state {
    H1_HEAD,
    H1_BODY_LEN,
    H1_BODY_EOF,
    H1_CHUNK_SIZE,
    H1_CHUNK_DATA,
    H1_CHUNK_CRLF,
    H1_TRAILER
} h1_state_t;

struct bench_conn {
    bench_thread_t *t;
    uint32_t idx;
    struct bufferevent *bev;
    conn_state_t state;
    bool h2;
    bool was_ready; /* reached READY since the last (re)connect */
    bool in_ready;
    bool in_cb; /* inside nghttp2_session_mem_recv */
    nghttp2_session *ngh;
    uint32_t cap;
    uint32_t inflight;
    bench_req_t *head; /* in-flight requests */
    bench_conn_t *ready_next;
    struct event *retry;
    /* HTTP/1.1 parser */
    h1_state_t ps;
    uint64_t left;
    bool close_after;
};

/* ---- small helpers ---- */

static void req_link(bench_conn_t *c, bench_req_t *r)
{
    r->conn = c;
    r->cprev = NULL;
    r->cnext = c->head;
    if (c->head) c->head->cprev = r;
    c->head = r;
    c->inflight++;
    c->t->inflight++;
    atomic_store_explicit(&c->t->prog_inflight, c->t->inflight, memory_order_relaxed);
}

static void req_unlink(bench_conn_t *c, bench_req_t *r)
{
    CET_ASSERT(r->conn == c && c->inflight > 0 && c->t->inflight > 0);
    if (r->cprev)
        r->cprev->cnext = r->cnext;
    else
        c->head = r->cnext;
    if (r->cnext) r->cnext->cprev = r->cprev;
    r->cprev = r->cnext = NULL;
    r->conn = NULL;
    c->inflight--;
    c->t->inflight--;
    atomic_store_explicit(&c->t->prog_inflight, c->t->inflight, memory_order_relaxed);
}

static void resp_append(bench_req_t *r, const void *data, size_t n)
{
    r->resp_bytes += n;
    size_t room = BENCH_RESP_KEEP_BYTES - r->resp_len;
    size_t k = n < room ? n : room;
    if (k) {
        memcpy(r->resp + r->resp_len, data, k);
        r->resp_len += (uint32_t)k;
        r->resp[r->resp_len] = '\0';
    }
}

/* As resp_append for the first n bytes of in (not drained): copies only what is kept,
 * never pulls a large body (a 46 KB PDF) up into one piece. */
static void resp_append_evbuffer(bench_req_t *r, struct evbuffer *in, size_t n)
{
    r->resp_bytes += n;
    size_t room = BENCH_RESP_KEEP_BYTES - r->resp_len;
    size_t k = n < room ? n : room;
    if (k) {
        ev_ssize_t got = evbuffer_copyout(in, r->resp + r->resp_len, k);
        CET_ASSERT(got == (ev_ssize_t)k);
        r->resp_len += (uint32_t)k;
        r->resp[r->resp_len] = '\0';
    }
}

static void conn_ready_add(bench_conn_t *c, bool front)
{
    bench_thread_t *t = c->t;
    if (c->in_ready || c->state != CONN_READY || c->inflight >= c->cap) return;
    c->in_ready = true;
    if (front || !t->ready) {
        c->ready_next = t->ready;
        t->ready = c;
        if (!t->ready_tail) t->ready_tail = c;
    } else {
        c->ready_next = NULL;
        t->ready_tail->ready_next = c;
        t->ready_tail = c;
    }
}

static void conn_ready_push(bench_conn_t *c)
{
    conn_ready_add(c, false);
}

/* Takes the head of the ready queue off it. */
static void ready_pop(bench_thread_t *t)
{
    bench_conn_t *c = t->ready;
    t->ready = c->ready_next;
    if (!t->ready) t->ready_tail = NULL;
    c->in_ready = false;
    c->ready_next = NULL;
}

bool bench_conn_available(bench_thread_t *t)
{
    while (t->ready) {
        bench_conn_t *c = t->ready;
        if (c->state == CONN_READY && c->inflight < c->cap) return true;
        ready_pop(t);
    }
    return false;
}

static void conn_connect(bench_conn_t *c);

static void conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench_conn_t *c = arg;
    if (!c->t->stopping) conn_connect(c);
}

/* Tears the connection down, fails what was in flight, reconnects. */
static void conn_fail(bench_conn_t *c, const char *why)
{
    bench_thread_t *t = c->t;
    bool had_work = c->inflight > 0;
    bool never_ready = !c->was_ready;
    if (c->ngh) {
        nghttp2_session_del(c->ngh);
        c->ngh = NULL;
    }
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    c->state = CONN_CLOSED;
    if (had_work || never_ready) t->stats.conn_failures++;
    bench_req_t *list = c->head;
    while (list) {
        bench_req_t *r = list;
        list = r->cnext;
        req_unlink(c, r);
        r->status = 0;
        r->fail = why;
        bench_thread_complete(t, r);
    }
    if (t->stopping) return;
    if (never_ready) {
        struct timeval tv = {0, BENCH_RECONNECT_MS * 1000};
        evtimer_add(c->retry, &tv);
    } else {
        conn_connect(c);
    }
}

/* ---- HTTP/1.1 ---- */

static void h1_write(bench_conn_t *c, const bench_req_t *r)
{
    const bench_cfg_t *cfg = c->t->cfg;
    char head[1024];
    const char *method = r->is_post ? "POST" : r->is_delete ? "DELETE" : "GET";
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cetbench\r\n",
                     method, r->path, cfg->authority);
    if (r->auth[0])
        n += snprintf(head + n, sizeof head - (size_t)n, "Authorization: %s\r\n", r->auth);
    if (r->sig[0]) n += snprintf(head + n, sizeof head - (size_t)n, "X-Signature: %s\r\n", r->sig);
    if (r->xff[0])
        n += snprintf(head + n, sizeof head - (size_t)n, "X-Forwarded-For: %s\r\n", r->xff);
    if (r->is_post)
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %u\r\n", r->body_len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    CET_ASSERT(n > 0 && (size_t)n < sizeof head);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add(out, head, (size_t)n);
    if (r->is_post && r->body_len) evbuffer_add(out, r->body, r->body_len);
}

/* Parses the status line and headers of block[0..len). 0 ok, -1 malformed. */
static int h1_parse_head(bench_conn_t *c, bench_req_t *r, const char *block, size_t len)
{
    if (len < 12 || memcmp(block, "HTTP/1.", 7) != 0) return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (block[i] < '0' || block[i] > '9') return -1;
        status = status * 10 + (block[i] - '0');
    }
    r->status = status;
    bool chunked = false, have_len = false;
    uint64_t clen = 0;
    c->close_after = block[7] == '0'; /* HTTP/1.0 closes unless told otherwise */
    const char *p = memchr(block, '\n', len);
    const char *end = block + len;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        size_t ll = (size_t)(eol - line);
        if (ll && line[ll - 1] == '\r') ll--;
        if (ll >= 15 && strncasecmp(line, "content-length:", 15) == 0) {
            clen = strtoull(line + 15, NULL, 10);
            have_len = true;
        } else if (ll >= 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
            for (size_t i = 18; i + 7 <= ll; i++)
                if (strncasecmp(line + i, "chunked", 7) == 0) chunked = true;
        } else if (ll >= 11 && strncasecmp(line, "connection:", 11) == 0) {
            for (size_t i = 11; i + 5 <= ll; i++) {
                if (strncasecmp(line + i, "close", 5) == 0) c->close_after = true;
                if (i + 10 <= ll && strncasecmp(line + i, "keep-alive", 10) == 0)
                    c->close_after = false;
            }
        }
        p = eol;
    }
    if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
        c->ps = H1_BODY_LEN;
        c->left = 0;
    } else if (chunked) {
        c->ps = H1_CHUNK_SIZE;
    } else if (have_len) {
        c->ps = H1_BODY_LEN;
        c->left = clen;
    } else {
        c->ps = H1_BODY_EOF;
        c->close_after = true;
    }
    return 0;
}

static void h1_finish(bench_conn_t *c)
{
    bench_thread_t *t = c->t;
    bench_req_t *r = c->head;
    CET_ASSERT(r != NULL);
    req_unlink(c, r);
    c->ps = H1_HEAD;
    if (r->status >= 100 && r->status < 200) {
        /* an interim answer: keep waiting for the real one */
        req_link(c, r);
        r->status = 0;
        return;
    }
    bool close_after = c->close_after;
    if (!close_after) conn_ready_push(c);
    bench_thread_complete(t, r);
    if (close_after && c->state == CONN_READY) {
        /* the server ends the connection: open a fresh one */
        c->was_ready = true;
        conn_fail(c, "conn_closed");
    }
}

/* Consumes as much of the input as forms answers. -1 on a protocol error. */
static int h1_read(bench_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0) return 0;
        bench_req_t *r = c->head;
        if (!r) return -1; /* bytes nobody asked for */
        switch (c->ps) {
        case H1_HEAD: {
            struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            if (pos.pos < 0) return avail > BENCH_HEAD_BYTES_MAX ? -1 : 0;
            size_t hlen = (size_t)pos.pos + 4;
            const char *block = (const char *)evbuffer_pullup(in, (ssize_t)hlen);
            if (h1_parse_head(c, r, block, hlen) != 0) return -1;
            evbuffer_drain(in, hlen);
            if (c->ps == H1_BODY_LEN && c->left == 0) h1_finish(c);
            break;
        }
        case H1_BODY_LEN:
        case H1_CHUNK_DATA: {
            size_t k = avail < c->left ? avail : (size_t)c->left;
            resp_append_evbuffer(r, in, k);
            evbuffer_drain(in, k);
            c->left -= k;
            if (c->left == 0) {
                if (c->ps == H1_BODY_LEN)
                    h1_finish(c);
                else
                    c->ps = H1_CHUNK_CRLF;
            }
            break;
        }
        case H1_BODY_EOF: {
            resp_append_evbuffer(r, in, avail);
            evbuffer_drain(in, avail);
            break;
        }
        case H1_CHUNK_CRLF:
            if (avail < 2) return 0;
            evbuffer_drain(in, 2);
            c->ps = H1_CHUNK_SIZE;
            break;
        case H1_CHUNK_SIZE:
        case H1_TRAILER: {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line) return avail > BENCH_HEAD_BYTES_MAX ? -1 : 0;
            if (c->ps == H1_CHUNK_SIZE) {
                char *endp;
                unsigned long long sz = strtoull(line, &endp, 16);
                bool bad = endp == line;
                free(line);
                if (bad) return -1;
                if (sz == 0)
                    c->ps = H1_TRAILER;
                else {
                    c->ps = H1_CHUNK_DATA;
                    c->left = sz;
                }
            } else {
                free(line);
                if (n == 0) h1_finish(c);
            }
            break;
        }
        }
        if (c->state != CONN_READY) return 0;
    }
}

/* ---- HTTP/2 ---- */

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s;
    (void)flags;
    bench_conn_t *c = ud;
    if (bufferevent_write(c->bev, data, len) != 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

static int h2_header_cb(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud)
{
    (void)flags;
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_RESPONSE) return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        bench_req_t *r = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
        if (!r) return 0;
        int st = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            st = st * 10 + (value[i] - '0');
        r->status = st;
    }
    return 0;
}

static int h2_data_cb(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                      size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    bench_req_t *r = nghttp2_session_get_stream_user_data(s, stream_id);
    if (r) resp_append(r, data, len);
    return 0;
}

static int h2_close_cb(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *ud)
{
    bench_conn_t *c = ud;
    bench_req_t *r = nghttp2_session_get_stream_user_data(s, stream_id);
    if (!r) return 0;
    nghttp2_session_set_stream_user_data(s, stream_id, NULL);
    req_unlink(c, r);
    if (error_code != NGHTTP2_NO_ERROR && r->status == 0) r->fail = "h2_stream_reset";
    conn_ready_push(c);
    bench_thread_complete(c->t, r);
    return 0;
}

static int h2_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    bench_conn_t *c = ud;
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        uint32_t mcs =
            nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
        uint32_t want = c->t->cfg->streams;
        c->cap = mcs < want ? mcs : want;
        if (c->cap == 0) c->cap = 1;
        conn_ready_push(c);
    }
    return 0;
}

static ssize_t h2_body_cb(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                          uint32_t *data_flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)stream_id;
    (void)ud;
    bench_req_t *r = src->ptr;
    size_t left = r->body_len - r->body_sent;
    size_t n = left < length ? left : length;
    memcpy(buf, r->body + r->body_sent, n);
    r->body_sent += (uint32_t)n;
    if (r->body_sent == r->body_len) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void h2_flush(bench_conn_t *c)
{
    if (c->in_cb || !c->ngh) return;
    int rv = nghttp2_session_send(c->ngh);
    if (rv != 0) conn_fail(c, "h2_error");
}

static int h2_start(bench_conn_t *c)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, h2_send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2_header_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_data_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_close_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_frame_recv_cb);
    int rv = nghttp2_session_client_new(&c->ngh, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    if (nghttp2_submit_settings(c->ngh, NGHTTP2_FLAG_NONE, iv, 3) != 0) return -1;
    c->cap = c->t->cfg->streams;
    return 0;
}

static void h2_write(bench_conn_t *c, bench_req_t *r)
{
    const bench_cfg_t *cfg = c->t->cfg;
    char clen[16];
    nghttp2_nv nva[10];
    size_t n = 0;
#define NV(N, V)                                                                                   \
    nva[n++] = (nghttp2_nv){(uint8_t *)(N), (uint8_t *)(V), sizeof(N) - 1, strlen(V),              \
                            NGHTTP2_NV_FLAG_NO_COPY_NAME}
    NV(":method", r->is_post ? "POST" : r->is_delete ? "DELETE" : "GET");
    NV(":scheme", cfg->tls ? "https" : "http");
    NV(":authority", cfg->authority);
    NV(":path", r->path);
    NV("user-agent", "cetbench");
    if (r->auth[0]) NV("authorization", r->auth);
    if (r->sig[0]) NV("x-signature", r->sig);
    if (r->xff[0]) NV("x-forwarded-for", r->xff);
    if (r->is_post) {
        snprintf(clen, sizeof clen, "%u", r->body_len);
        NV("content-type", "application/json");
        NV("content-length", clen);
    }
#undef NV
    CET_ASSERT(n <= sizeof nva / sizeof nva[0]);
    nghttp2_data_provider prov = {.source.ptr = r, .read_callback = h2_body_cb};
    r->body_sent = 0;
    int32_t id = nghttp2_submit_request(c->ngh, NULL, nva, n, r->is_post ? &prov : NULL, r);
    if (id < 0) {
        req_unlink(c, r);
        r->status = 0;
        r->fail = "h2_submit";
        bench_thread_complete(c->t, r);
        return;
    }
    r->stream_id = id;
    h2_flush(c);
}

/* ---- bufferevent callbacks ---- */

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    bench_conn_t *c = arg;
    if (c->h2) {
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t len = evbuffer_get_length(in);
        const uint8_t *d = evbuffer_pullup(in, (ssize_t)len);
        c->in_cb = true;
        ssize_t rv = nghttp2_session_mem_recv(c->ngh, d, len);
        c->in_cb = false;
        if (rv < 0) {
            conn_fail(c, "h2_error");
            return;
        }
        if (c->bev) evbuffer_drain(in, len);
        h2_flush(c);
        return;
    }
    if (h1_read(c) != 0) conn_fail(c, "bad_response");
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    bench_conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        evutil_socket_t fd = bufferevent_getfd(bev);
        int one = 1;
        if (!c->t->cfg->unix_sock) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->t->stats.connects++;
        if (c->h2) {
            if (c->t->cfg->tls) {
                const unsigned char *alpn = NULL;
                unsigned alpn_len = 0;
                SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(bev), &alpn, &alpn_len);
                if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
                    CET_ERROR("cetbench: the server did not agree to h2 (ALPN)");
                    conn_fail(c, "no_h2");
                    return;
                }
            }
            if (h2_start(c) != 0) {
                conn_fail(c, "h2_error");
                return;
            }
        } else {
            c->cap = 1;
        }
        c->state = CONN_READY;
        c->was_ready = true;
        c->ps = H1_HEAD;
        conn_ready_push(c);
        if (c->h2) h2_flush(c);
        bench_thread_pump(c->t);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if (c->inflight || c->state == CONN_CONNECTING)
            conn_fail(c, "timeout");
        else
            bufferevent_enable(bev, EV_READ);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        if (!c->h2 && c->head && c->ps == H1_BODY_EOF) {
            h1_finish(c);
            return;
        }
        conn_fail(c, c->inflight ? "conn_closed" : "idle_closed");
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        if (e) {
            char buf[160];
            ERR_error_string_n(e, buf, sizeof buf);
            CET_WARN("cetbench: TLS: %s", buf);
        }
        conn_fail(c, "conn_error");
    }
}

static void conn_connect(bench_conn_t *c)
{
    bench_thread_t *t = c->t;
    const bench_cfg_t *cfg = t->cfg;
    CET_ASSERT(c->bev == NULL && c->inflight == 0);
    int opts = BEV_OPT_CLOSE_ON_FREE;
    if (cfg->tls) {
        SSL *ssl = SSL_new(t->ssl_ctx);
        CET_ASSERT(ssl != NULL);
        SSL_set_tlsext_host_name(ssl, cfg->host);
        c->bev = bufferevent_openssl_socket_new(t->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    } else {
        c->bev = bufferevent_socket_new(t->base, -1, opts);
    }
    CET_ASSERT(c->bev != NULL);
    c->state = CONN_CONNECTING;
    c->was_ready = false;
    c->ps = H1_HEAD;
    bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
    struct timeval tv = {(time_t)cfg->timeout_s,
                         (suseconds_t)((cfg->timeout_s - (double)(time_t)cfg->timeout_s) * 1e6)};
    bufferevent_set_timeouts(c->bev, &tv, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&cfg->addr,
                                   (int)cfg->addr_len) != 0)
        conn_fail(c, "connect_error");
}

struct ssl_ctx_st *bench_tls_ctx_new(const bench_cfg_t *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    static const unsigned char alpn_h2[] = "\x02h2";
    static const unsigned char alpn_h1[] = "\x08http/1.1";
    if (cfg->h2)
        SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof alpn_h2 - 1);
    else
        SSL_CTX_set_alpn_protos(ctx, alpn_h1, sizeof alpn_h1 - 1);
    return ctx;
}

int bench_conns_open(bench_thread_t *t)
{
    const bench_cfg_t *cfg = t->cfg;
    uint32_t n =
        cfg->connections / cfg->threads + (t->idx < cfg->connections % cfg->threads ? 1u : 0u);
    t->n_conns = n;
    t->conns = cet_calloc(n ? n : 1, sizeof t->conns[0]);
    for (uint32_t i = 0; i < n; i++) {
        bench_conn_t *c = cet_calloc(1, sizeof *c);
        c->t = t;
        c->idx = i;
        c->h2 = cfg->h2;
        c->cap = 1;
        c->retry = evtimer_new(t->base, conn_retry_cb, c);
        t->conns[i] = c;
        conn_connect(c);
    }
    return 0;
}

void bench_conns_close(bench_thread_t *t)
{
    for (uint32_t i = 0; i < t->n_conns; i++) {
        bench_conn_t *c = t->conns[i];
        /* what is still in flight is dropped, not counted */
        while (c->head) {
            bench_req_t *r = c->head;
            req_unlink(c, r);
            bench_req_put(t, r);
        }
        if (c->ngh) nghttp2_session_del(c->ngh);
        if (c->bev) bufferevent_free(c->bev);
        event_free(c->retry);
        cet_free(c);
    }
    cet_free(t->conns);
    t->conns = NULL;
    t->n_conns = 0;
    t->ready = t->ready_tail = NULL;
}

void bench_conn_send(bench_thread_t *t, bench_req_t *req)
{
    CET_ASSERT(bench_conn_available(t));
    bench_conn_t *c = t->ready;
    ready_pop(t);
    req->status = 0;
    req->fail = NULL;
    req->resp_len = 0;
    req->resp[0] = '\0';
    req->resp_bytes = 0;
    req->stream_id = 0;
    req_link(c, req);
    conn_ready_add(c, true); /* HTTP/2: its next free stream first, as before */
    if (c->h2)
        h2_write(c, req);
    else
        h1_write(c, req);
}
