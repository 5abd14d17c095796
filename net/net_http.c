/*
 * net_http.c: HTTP/1.1 on cetd's connections, from accept() to the written reply.
 *
 * cetd's own HTTP/1.1 server side, on the core's libevent loop (one event for
 * reading, one for writing and one timer per connection). It replaced evhttp,
 * whose per-request costs (header lists of malloc'd strings, a bufferevent's
 * read/write toggling with an epoll_ctl each, a FIONREAD and a second read per
 * request) were a third of the CPU of a registration's HTTP exchange
 * (docs/benchmarks.md). What it does, in order:
 *
 *   conn_open         the listener's accept: a connection object from the
 *                     core's cache, its read event added once for its life
 *   conn_read_cb      reads into a fixed input buffer, then conn_process
 *   conn_process      parses what is buffered: the head (head_parse, into the
 *                     request's own copy of it), then the body framed by
 *                     Content-Length or chunked (body_feed, chunk_feed); a
 *                     whole request is handed to net_core_dispatch
 *   net_http_send     the reply: status line and headers into one buffer, one
 *                     writev of head and body; what the socket does not take
 *                     waits in an evbuffer for the write event
 *
 * One request at a time per connection: while it is handled, bytes that
 * arrive (pipelining) are read into the buffer up to its size and parsed
 * after the reply, so answers keep their order. Limits are checked before
 * bytes are taken: the head at CET_HEADERS_BYTES_MAX, a body at its route's
 * limit as soon as the head announces it (413 without reading the body).
 * Answers that end a connection (a bad request, 413) are followed by a short
 * lingering close, so the client reads the answer instead of a reset.
 *
 * Two timers. The read deadline: CET_REQUEST_READ_MS from a request's first
 * byte (or from the accept) to the whole request, however steadily a slow
 * client trickles bytes; nothing else moves it. The other: CET_HTTP_TIMEOUT_S
 * of keep-alive idleness, or without progress writing an answer, and
 * CET_LINGER_MS of lingering.
 *
 * The read event is on exactly when reading can make progress (rev_update):
 * not after the client's EOF, not while the last answer is written, and not
 * while the input buffer is full (a pipelining client that does not read its
 * answers stops being read, instead of waking the loop for ever).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "net/net_internal.h"

typedef enum conn_state {
    ST_HEAD,       /* waiting for (more of) a request head */
    ST_BODY,       /* Content-Length body */
    ST_CHUNKED,    /* chunked body (net_chunked_step) */
    ST_BUSY,       /* a whole request is being handled */
    ST_CLOSING,    /* the last answer is being written */
    ST_LINGER,     /* answer written, write side shut: reading what the client still sends */
} conn_state_t;

struct net_conn {
    net_lsn_t *lsn;
    net_core_t *core;
    int fd;
    conn_state_t state;
    struct event *rev, *wev;
    struct event *rtimer; /* the read deadline */
    struct event *timer;  /* idleness, a stalled write, lingering */
    bool reading;    /* the read deadline runs (a request's first byte, or the accept) */
    bool rev_on;     /* the read event is added */
    bool eof;        /* the client closed its side */
    bool in_process; /* conn_process is on the stack: closing waits for it */
    bool dead;       /* closed while conn_process was on the stack: freed on its way out */
    char *in;        /* [CET_CONN_INPUT_BYTES] */
    size_t in_off, in_len; /* unparsed bytes are in[in_off, in_len) */
    size_t scan;     /* where the search for the end of the head resumes */
    net_req_t *req;  /* being read (ST_BODY, ST_CHUNKED) or handled (ST_BUSY) */
    uint64_t need;   /* ST_BODY: body bytes still to come */
    net_chunked_t chunked; /* ST_CHUNKED: where the decoder is */
    size_t body_max; /* the request's route limit */
    size_t lingered; /* bytes discarded while lingering */
    struct evbuffer *out; /* what the socket did not take yet */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    net_conn_t *prev, *next; /* the core's open connections */
};

/* ---- small helpers ---- */

static const char *reason_of(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error"
                                                                               : "Server Error";
    }
}

/* 1xx, 204 and 304 answers carry no body and no Content-Length (RFC 9110 8.6). */
static bool status_no_body(int status)
{
    return status == 204 || status == 304 || (status >= 100 && status < 200);
}

/* The Date field, formatted once a second per thread. */
static const char *date_now(void)
{
    static _Thread_local time_t last;
    static _Thread_local char text[40];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return text;
}

static void timer_set(net_conn_t *conn, const struct timeval *tv)
{
    event_add(conn->timer, tv);
}

static void deadline_start(net_conn_t *conn)
{
    if (conn->reading) return;
    conn->reading = true;
    event_add(conn->rtimer, conn->core->tv_read);
}

static void deadline_stop(net_conn_t *conn)
{
    if (!conn->reading) return;
    conn->reading = false;
    event_del(conn->rtimer);
}

/* The read event on when reading can make progress, off otherwise. */
static void rev_update(net_conn_t *conn)
{
    bool on = !conn->eof && conn->state != ST_CLOSING &&
              (conn->state == ST_LINGER || conn->in_len < CET_CONN_INPUT_BYTES);
    if (on == conn->rev_on) return;
    if (on)
        event_add(conn->rev, NULL);
    else
        event_del(conn->rev);
    conn->rev_on = on;
}

/* Moves the unparsed bytes to the front of the input buffer (room for what comes next). */
static void in_compact(net_conn_t *conn)
{
    if (conn->in_off == 0) return;
    memmove(conn->in, conn->in + conn->in_off, conn->in_len - conn->in_off);
    conn->in_len -= conn->in_off;
    conn->scan -= conn->scan >= conn->in_off ? conn->in_off : conn->scan;
    conn->in_off = 0;
}

/* Something waits in conn->out: the write event, and the timer that cuts a client
 * that does not read it. */
static void out_wait(net_conn_t *conn)
{
    event_add(conn->wev, NULL);
    timer_set(conn, conn->core->tv_idle);
}

/* ---- opening and closing ---- */

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg);
static void conn_process(net_conn_t *conn);

/* Frees a request that was being read and never reached a handler. */
static void req_drop(net_conn_t *conn)
{
    net_req_t *req = conn->req;
    conn->req = NULL;
    if (!req) return;
    net_req_clear(req);
    net_core_req_release(conn->core, req);
}

/* Frees a closed connection object and what it owns. */
static void conn_destroy(net_conn_t *conn)
{
    event_free(conn->rev);
    event_free(conn->wev);
    event_free(conn->timer);
    event_free(conn->rtimer);
    evbuffer_free(conn->out);
    cet_free(conn->in);
    cet_free(conn);
}

static void conn_free(net_conn_t *conn)
{
    net_core_t *core = conn->core;
    if (conn->req) {
        if (conn->state == ST_BUSY) { /* the handler still holds it: its reply is dropped */
            conn->req->gone = true;
            conn->req->conn = NULL;
            conn->req = NULL;
        } else {
            req_drop(conn);
        }
    }
    event_del(conn->rev);
    event_del(conn->wev);
    event_del(conn->timer);
    event_del(conn->rtimer);
    conn->rev_on = conn->reading = false;
    evbuffer_drain(conn->out, evbuffer_get_length(conn->out)); /* runs reference cleanups */
    close(conn->fd);
    conn->fd = -1;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        core->conns = conn->next;
    if (conn->next) conn->next->prev = conn->prev;
    net_lsn_conn_closed(conn->lsn);
    if (core->n_free_conns >= CET_CONN_CACHE_MAX) {
        conn_destroy(conn);
        return;
    }
    conn->next = core->free_conns;
    core->free_conns = conn;
    core->n_free_conns++;
}

/* Closes conn now, or as soon as conn_process returns (it is on the stack). */
static void conn_close(net_conn_t *conn)
{
    if (conn->in_process) {
        conn->dead = true; /* conn_process frees it on the way out */
        return;
    }
    conn_free(conn);
}

net_conn_t *net_conn_open(net_lsn_t *lsn, int fd, const struct sockaddr *sa, int salen)
{
    net_core_t *core = lsn->core;
    net_conn_t *conn = core->free_conns;
    if (conn) {
        core->free_conns = conn->next;
        core->n_free_conns--;
    } else {
        conn = cet_calloc(1, sizeof *conn);
        conn->in = cet_malloc(CET_CONN_INPUT_BYTES);
        conn->out = evbuffer_new();
        conn->rev = event_new(core->base, -1, 0, conn_read_cb, conn);
        conn->wev = event_new(core->base, -1, 0, conn_write_cb, conn);
        conn->timer = evtimer_new(core->base, conn_timer_cb, conn);
        conn->rtimer = evtimer_new(core->base, conn_deadline_cb, conn);
        CET_ASSERT(conn->in && conn->out && conn->rev && conn->wev && conn->timer && conn->rtimer);
    }
    event_assign(conn->rev, core->base, fd, EV_READ | EV_PERSIST, conn_read_cb, conn);
    event_assign(conn->wev, core->base, fd, EV_WRITE, conn_write_cb, conn);
    conn->lsn = lsn;
    conn->core = core;
    conn->fd = fd;
    conn->state = ST_HEAD;
    conn->reading = conn->rev_on = false;
    conn->eof = conn->in_process = conn->dead = false;
    conn->in_off = conn->in_len = conn->scan = 0;
    conn->req = NULL;
    conn->need = 0;
    conn->body_max = 0;
    conn->lingered = 0;
    memset(&conn->peer, 0, sizeof conn->peer);
    conn->peer_len = 0;
    if (sa && salen > 0 && (size_t)salen <= sizeof conn->peer) {
        memcpy(&conn->peer, sa, (size_t)salen);
        conn->peer_len = (socklen_t)salen;
    }
    conn->prev = NULL;
    conn->next = core->conns;
    if (core->conns) core->conns->prev = conn;
    core->conns = conn;
    rev_update(conn);
    deadline_start(conn); /* from the accept: a client that says nothing is cut too */
    return conn;
}

void net_conn_close_all(net_core_t *core)
{
    while (core->conns)
        conn_free(core->conns);
}

const struct sockaddr *net_conn_peer(const net_conn_t *conn)
{
    return conn && conn->peer_len ? (const struct sockaddr *)&conn->peer : NULL;
}

/* ---- writing ---- */

/* Writes what waits in conn->out; false when the connection failed (closed). */
static bool out_flush(net_conn_t *conn)
{
    while (evbuffer_get_length(conn->out) > 0) {
        int n = evbuffer_write(conn->out, conn->fd);
        if (n > 0) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            out_wait(conn);
            return true;
        }
        if (n < 0 && errno == EINTR) continue;
        conn_close(conn);
        return false;
    }
    return true;
}

/* After the last answer: shut the write side and read what the client still
 * sends (bounded) so that it sees the answer instead of a reset. */
static void linger_start(net_conn_t *conn)
{
    conn->state = ST_LINGER;
    deadline_stop(conn);
    shutdown(conn->fd, SHUT_WR);
    if (conn->eof) {
        conn_close(conn);
        return;
    }
    rev_update(conn);
    timer_set(conn, conn->core->tv_linger);
}

/* The answer is written (or queued): what the connection does next. */
static void after_answer(net_conn_t *conn, bool close_after)
{
    if (close_after) {
        conn->state = ST_CLOSING;
        deadline_stop(conn);
        rev_update(conn);
        if (evbuffer_get_length(conn->out) == 0) linger_start(conn);
        return; /* conn_write_cb lingers once out is empty */
    }
    conn->state = ST_HEAD;
    timer_set(conn, conn->core->tv_idle); /* idle, or a stalled write of what is queued */
    if (conn->in_process) return;         /* its loop parses what is buffered */
    rev_update(conn);
    /* pipelined bytes already read: parse them on the next loop turn */
    if (conn->in_len > conn->in_off) event_active(conn->rev, EV_READ, 1);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    net_conn_t *conn = arg;
    (void)fd, (void)what;
    if (!out_flush(conn)) return;
    if (evbuffer_get_length(conn->out) > 0) return;
    if (conn->state == ST_CLOSING) {
        linger_start(conn);
    } else if (conn->state == ST_HEAD) {
        timer_set(conn, conn->core->tv_idle);
        conn_process(conn); /* requests held back by the pause, or the EOF's last word */
    }
}

/* Appends "Name: value\r\n" (value[vlen]) to the response head being built in
 * h[cap]; a field that does not fit (with a byte to spare) is left out. No
 * printf on this path: it was 1 % of the cores' time at 40k answers/s. */
static size_t head_addn(char *h, size_t n, size_t cap, const char *name, const char *value,
                        size_t vlen)
{
    size_t nlen = strlen(name);
    if (n >= cap || nlen + vlen + 4 >= cap - n) return n;
    memcpy(h + n, name, nlen);
    memcpy(h + n + nlen, ": ", 2);
    memcpy(h + n + nlen + 2, value, vlen);
    memcpy(h + n + nlen + 2 + vlen, "\r\n", 2);
    return n + nlen + vlen + 4;
}

static size_t head_add(char *h, size_t n, size_t cap, const char *name, const char *value)
{
    return head_addn(h, n, cap, name, value, strlen(value));
}

/*
 * An answer's head into h[CET_RESPONSE_HEAD_BYTES_MAX]: the status line, Date,
 * Content-Length (when the status has a body), Connection (close, or keep-alive
 * for HTTP/1.0), then fields[flen] ("Name: value\r\n"...) and the empty line.
 * Its length. Fields beyond the head's room are left out (logged; never seen:
 * net_req_add_header bounds them). what: the path, for that log line.
 */
static size_t head_build(char *h, int minor, int status, size_t len, bool close_after,
                         const char *fields, size_t flen, const char *what)
{
    const size_t cap = CET_RESPONSE_HEAD_BYTES_MAX;
    /* the status line: "HTTP/1.m SSS Reason", well under cap */
    const char *reason = reason_of(status);
    size_t rlen = strlen(reason);
    memcpy(h, "HTTP/1.", 7);
    h[7] = minor == 0 ? '0' : '1';
    h[8] = ' ';
    size_t n = 9 + cet_dec_format(h + 9, (uint64_t)(status < 0 ? 0 : status), 0);
    h[n++] = ' ';
    memcpy(h + n, reason, rlen);
    n += rlen;
    memcpy(h + n, "\r\n", 2);
    n += 2;
    n = head_add(h, n, cap, "Date", date_now());
    if (!status_no_body(status)) {
        char num[24];
        n = head_addn(h, n, cap, "Content-Length", num, cet_dec_format(num, len, 0));
    }
    if (close_after)
        n = head_add(h, n, cap, "Connection", "close");
    else if (minor == 0)
        n = head_add(h, n, cap, "Connection", "keep-alive");
    if (n + flen + 2 >= cap) {
        CET_ERROR("net: response head of %s over %zu bytes, extra fields dropped", what, cap);
        flen = 0;
    }
    memcpy(h + n, fields, flen);
    memcpy(h + n + flen, "\r\n", 2);
    return n + flen + 2;
}

/*
 * Sends head + body on conn (one writev when nothing waits); keeps what the
 * socket does not take. done_cb: body is referenced, not copied, and done_cb
 * runs once it is no longer needed. close_after: the connection ends after it.
 */
static void conn_send(net_conn_t *conn, const char *head, size_t hlen, const char *body,
                      size_t blen, net_body_done_cb done_cb, void *done_arg, bool close_after)
{
    size_t wrote = 0;
    bool failed = false;
    if (evbuffer_get_length(conn->out) == 0) {
        struct iovec iov[2] = {{(void *)head, hlen}, {(void *)body, blen}};
        ssize_t n;
        do {
            n = writev(conn->fd, iov, blen ? 2 : 1);
        } while (n < 0 && errno == EINTR);
        if (n > 0)
            wrote = (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            failed = true;
    }
    if (failed) {
        if (done_cb) done_cb(body, blen, done_arg);
        conn_close(conn);
        return;
    }
    if (wrote < hlen) {
        evbuffer_add(conn->out, head + wrote, hlen - wrote);
        wrote = 0;
    } else {
        wrote -= hlen;
    }
    if (blen > wrote) {
        if (done_cb) {
            /* the whole body by reference (its cleanup gets the original pointer), less what went */
            if (evbuffer_add_reference(conn->out, body, blen, done_cb, done_arg) == 0) {
                if (wrote) {
                    /* only when the head went out whole: the reference is first in out */
                    evbuffer_drain(conn->out, wrote);
                }
                done_cb = NULL;
            } else {
                evbuffer_add(conn->out, body + wrote, blen - wrote);
            }
        } else {
            evbuffer_add(conn->out, body + wrote, blen - wrote);
        }
    }
    if (done_cb) done_cb(body, blen, done_arg);
    if (evbuffer_get_length(conn->out) > 0) out_wait(conn);
    after_answer(conn, close_after);
}

void net_http_send(net_req_t *req, int status, const char *body, size_t len,
                   net_body_done_cb done_cb, void *done_arg)
{
    net_conn_t *conn = req->conn;
    CET_ASSERT(conn && conn->req == req && conn->state == ST_BUSY);
    conn->req = NULL;
    req->conn = NULL;
    /* a client that closed its side still gets the answers to every whole request it sent */
    bool close_after = !req->keep_alive || net_core_draining(conn->core) ||
                       (conn->eof && conn->in_len == conn->in_off);
    char head[CET_RESPONSE_HEAD_BYTES_MAX];
    size_t n = head_build(head, req->minor, status, len, close_after, req->ohdr, req->ohdr_len,
                          req->path);
    if (status_no_body(status) || req->method == NET_HEAD) {
        if (done_cb) done_cb(body, len, done_arg);
        body = NULL;
        len = 0;
        done_cb = NULL;
    }
    conn_send(conn, head, n, body, len, done_cb, done_arg, close_after);
}

/* An answer the net layer gives itself, before any handler (a bad head, 413):
 * a JSON error with a request id, then the connection ends. */
static void early_error(net_conn_t *conn, cet_err_t e, int minor)
{
    char id[CET_REQUEST_ID_BYTES_MAX + 1];
    net_req_make_id(conn->core, NULL, id, sizeof id);
    char body[384];
    int blen = snprintf(body, sizeof body,
                        "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"request_id\":\"%s\"}}",
                        cet_err_code(e), cet_err_message(e), id);
    char fields[256];
    int flen = snprintf(fields, sizeof fields,
                        "X-Request-Id: %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                        "Cache-Control: no-store\r\n",
                        id);
    int status = cet_err_status(e);
    char head[CET_RESPONSE_HEAD_BYTES_MAX];
    size_t hlen = head_build(head, minor, status, (size_t)blen, true, fields, (size_t)flen, "-");
    req_drop(conn);
    deadline_stop(conn);
    net_metrics_early(conn->core, status);
    conn->state = ST_BUSY; /* conn_send's after_answer moves it on */
    conn_send(conn, head, hlen, body, (size_t)blen, NULL, NULL, true);
}

/* ---- the body ---- */

/* Makes room for the body's next n bytes (the inline buffer, or the heap up
 * to the route's limit). False: over the limit. */
static bool body_room(net_conn_t *conn, net_req_t *req, size_t n)
{
    size_t want = req->body_len + n;
    if (want > conn->body_max) return false;
    if (want <= CET_BODY_BYTES_MAX) return true;
    if (want <= req->big_cap) return true;
    size_t cap = req->big_cap ? req->big_cap : 2 * CET_BODY_BYTES_MAX;
    while (cap < want)
        cap *= 2;
    if (cap > conn->body_max) cap = conn->body_max;
    char *b = cet_realloc(req->big_body, cap + 1);
    if (!req->big_body) memcpy(b, req->body, req->body_len);
    req->big_body = b;
    req->big_cap = cap;
    return true;
}

static void body_put(net_req_t *req, const char *src, size_t n)
{
    char *dst = req->big_body ? req->big_body : req->body;
    memcpy(dst + req->body_len, src, n);
    req->body_len += n;
}

static void body_seal(net_req_t *req)
{
    (req->big_body ? req->big_body : req->body)[req->body_len] = 0;
}

/* ---- dispatch ---- */

static void dispatch(net_conn_t *conn)
{
    net_req_t *req = conn->req;
    body_seal(req);
    conn->state = ST_BUSY;
    deadline_stop(conn);
    net_core_dispatch(conn->core, req);
}

/* "100 Continue" (RFC 9110 10.1.1), in order behind anything still queued. */
static void send_continue(net_conn_t *conn)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    size_t len = sizeof cont - 1, off = 0;
    if (evbuffer_get_length(conn->out) == 0) {
        ssize_t n = send(conn->fd, cont, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == (ssize_t)len) return;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_close(conn);
            return;
        }
        off = n > 0 ? (size_t)n : 0;
    }
    evbuffer_add(conn->out, cont + off, len - off);
    out_wait(conn);
}

/* The head is whole at in[in_off, in_off + len): a request object for it. */
static void head_take(net_conn_t *conn, size_t len)
{
    net_core_t *core = conn->core;
    net_req_t *req = net_core_req_alloc(core);
    net_req_reset(req, core, conn);
    memcpy(req->head, conn->in + conn->in_off, len);
    conn->in_off += len;
    conn->scan = conn->in_off;
    conn->req = req;
    uint64_t cl;
    bool chunked;
    if (net_http_head_parse(req, len, &cl, &chunked) != NET_HEAD_OK) {
        early_error(conn, CET_E_BAD_REQUEST, req->minor);
        return;
    }
    conn->body_max = net_core_body_max(core, req->method, req->uri);
    if (!chunked && cl == 0) {
        dispatch(conn);
        return;
    }
    if (!chunked && cl > conn->body_max) { /* refused before a byte of it is read */
        early_error(conn, CET_E_BODY_TOO_LARGE, req->minor);
        return;
    }
    if (!chunked && !body_room(conn, req, (size_t)cl)) {
        early_error(conn, CET_E_BODY_TOO_LARGE, req->minor);
        return;
    }
    conn->need = cl;
    conn->state = chunked ? ST_CHUNKED : ST_BODY;
    memset(&conn->chunked, 0, sizeof conn->chunked);
    if (req->expect_continue && req->minor == 1 && conn->in_len == conn->in_off)
        send_continue(conn);
}

/* Looks for the end of a head in the buffer; takes it when whole. False:
 * nothing more can be done until more bytes arrive. */
static bool head_step(net_conn_t *conn)
{
    /* empty lines before a request line are ignored (RFC 9112 2.2) */
    while (conn->in_off < conn->in_len &&
           (conn->in[conn->in_off] == '\r' || conn->in[conn->in_off] == '\n'))
        conn->in_off++;
    if (conn->scan < conn->in_off) conn->scan = conn->in_off;
    size_t avail = conn->in_len - conn->in_off;
    if (avail == 0) return false;
    size_t len = net_http_head_end(conn->in + conn->in_off, avail, conn->scan - conn->in_off);
    if (!len) {
        if (avail > CET_HEADERS_BYTES_MAX || net_http_head_hopeless(conn->in + conn->in_off, avail)) {
            early_error(conn, CET_E_BAD_REQUEST, 1);
            return false;
        }
        /* resume a few bytes back: the terminator may straddle reads */
        conn->scan = conn->in_len >= conn->in_off + 3 ? conn->in_len - 3 : conn->in_off;
        return false;
    }
    if (len > CET_HEADERS_BYTES_MAX) {
        early_error(conn, CET_E_BAD_REQUEST, 1);
        return false;
    }
    head_take(conn, len);
    return true;
}

/* Moves body bytes from the buffer into the request; false when waiting for more. */
static bool body_step(net_conn_t *conn)
{
    net_req_t *req = conn->req;
    for (;;) {
        size_t avail = conn->in_len - conn->in_off;
        switch (conn->state) {
        case ST_BODY: {
            size_t n = avail < conn->need ? avail : (size_t)conn->need;
            body_put(req, conn->in + conn->in_off, n);
            conn->in_off += n;
            conn->need -= n;
            if (conn->need) return false;
            dispatch(conn);
            return true;
        }
        case ST_CHUNKED: {
            size_t used = 0, off = 0, n = 0;
            uint64_t room = conn->body_max - req->body_len;
            net_chunk_rc_t rc = net_chunked_step(&conn->chunked, conn->in + conn->in_off, avail, room,
                                                 &used, &off, &n);
            if (rc == NET_CHUNK_TOO_LARGE) {
                early_error(conn, CET_E_BODY_TOO_LARGE, req->minor);
                return false;
            }
            if (rc == NET_CHUNK_BAD) goto bad;
            if (n) {
                if (!body_room(conn, req, n)) {
                    early_error(conn, CET_E_BODY_TOO_LARGE, req->minor);
                    return false;
                }
                body_put(req, conn->in + conn->in_off + off, n);
            }
            conn->in_off += used;
            if (rc == NET_CHUNK_DONE) {
                dispatch(conn);
                return true;
            }
            if (used == 0) return false; /* waiting for more bytes */
            break;
        }
        default:
            return false;
        }
    }
bad:
    early_error(conn, CET_E_BAD_REQUEST, req->minor);
    return false;
}

/* Parses what is buffered until a request is handed out or more bytes are needed. */
static void conn_process(net_conn_t *conn)
{
    conn->in_process = true;
    for (;;) {
        bool more;
        if (conn->dead)
            more = false;
        else if (conn->state == ST_HEAD &&
                 evbuffer_get_length(conn->out) > CET_CONN_OUTPUT_PAUSE_BYTES)
            more = false; /* pipelined answers pile up unread: the next request waits for the write */
        else if (conn->state == ST_HEAD)
            more = head_step(conn);
        else if (conn->state == ST_BODY || conn->state == ST_CHUNKED)
            more = body_step(conn);
        else
            more = false;
        if (!more) break;
    }
    conn->in_process = false;
    if (conn->dead) {
        conn_free(conn);
        return;
    }
    /* keep unparsed bytes at the front: the buffer's room is for what comes next */
    if (conn->in_off == conn->in_len)
        conn->in_off = conn->in_len = conn->scan = 0;
    else if (conn->state != ST_LINGER)
        in_compact(conn);
    if (conn->eof && (conn->state == ST_BODY || conn->state == ST_CHUNKED)) {
        /* the client closed with this request's body incomplete: it never will be */
        req_drop(conn);
        conn->state = ST_HEAD;
        conn->in_off = conn->in_len = conn->scan = 0;
    }
    bool paused = conn->state == ST_HEAD &&
                  evbuffer_get_length(conn->out) > CET_CONN_OUTPUT_PAUSE_BYTES;
    if (conn->eof && conn->state == ST_HEAD) {
        /* nothing more will come: answered requests' bytes go out, then the end */
        bool held = evbuffer_get_length(conn->out) > CET_CONN_OUTPUT_PAUSE_BYTES &&
                    conn->in_len > conn->in_off; /* whole requests may wait behind the pause */
        if (!held) {
            if (evbuffer_get_length(conn->out) == 0) {
                conn_free(conn);
                return;
            }
            conn->state = ST_CLOSING; /* conn_write_cb closes once it is written */
            deadline_stop(conn);
            timer_set(conn, conn->core->tv_idle); /* ... or the write stalls */
        }
    }
    if (paused) {
        /* requests wait for the client to read its answers: the write's progress
         * timer governs, not the read deadline (conn_write_cb parses on) */
        deadline_stop(conn);
        timer_set(conn, conn->core->tv_idle);
    } else if ((conn->state == ST_HEAD && conn->in_len > conn->in_off) ||
               conn->state == ST_BODY || conn->state == ST_CHUNKED) {
        deadline_start(conn); /* bytes of a request: its deadline runs (if not already) */
    }
    rev_update(conn);
}

/* ---- reading ---- */

/* The client closed its side (or the request in progress can never end). */
static void conn_eof(net_conn_t *conn)
{
    conn->eof = true;
    rev_update(conn);
    switch (conn->state) {
    case ST_BUSY: /* answered, then closed: a half-closed client still reads */
    case ST_CLOSING:
        return;
    case ST_BODY:
    case ST_CHUNKED: /* a request cut short: dropped, what was answered still goes out */
        req_drop(conn);
        conn->state = ST_HEAD;
        conn->in_off = conn->in_len;
        break;
    default:
        break;
    }
    conn_process(conn); /* whole requests still buffered are answered; then the end */
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    net_conn_t *conn = arg;
    (void)what;
    if (conn->state == ST_LINGER) {
        char sink[4096];
        ssize_t n = recv(fd, sink, sizeof sink, 0);
        if (n > 0) conn->lingered += (size_t)n;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
            conn->lingered > CET_LINGER_BYTES_MAX)
            conn_free(conn);
        return;
    }
    if (conn->state == ST_CLOSING) { /* the last answer waits to be written: nothing more to read */
        rev_update(conn);
        return;
    }
    if (conn->eof) { /* activated to parse what is buffered: there is nothing to read */
        if (conn->state == ST_HEAD) conn_process(conn);
        return;
    }
    if (conn->in_len == CET_CONN_INPUT_BYTES) in_compact(conn);
    size_t room = CET_CONN_INPUT_BYTES - conn->in_len;
    if (room == 0) { /* full: parsing (after an answer, or the write) makes room */
        rev_update(conn);
        if (conn->state != ST_BUSY) conn_process(conn);
        return;
    }
    ssize_t n = recv(fd, conn->in + conn->in_len, room, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if (conn->state != ST_BUSY && conn->in_len > conn->in_off) conn_process(conn);
            return;
        }
        conn_free(conn); /* reset: a request being handled is marked gone */
        return;
    }
    if (n == 0) {
        conn_eof(conn);
        return;
    }
    conn->in_len += (size_t)n;
    if (conn->state == ST_BUSY) { /* pipelined: parsed after the answer */
        rev_update(conn);
        return;
    }
    conn_process(conn);
}

/* The read deadline: a request (or a first one after the accept) not whole in time. */
static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    net_conn_t *conn = arg;
    (void)fd, (void)what;
    conn->reading = false;
    if (conn->state != ST_HEAD && conn->state != ST_BODY && conn->state != ST_CHUNKED) return;
    net_server_deadline_close(conn->core);
    conn_free(conn);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    net_conn_t *conn = arg;
    (void)fd, (void)what;
    if (conn->state == ST_LINGER || conn->state == ST_CLOSING ||
        evbuffer_get_length(conn->out) > 0) {
        conn_free(conn); /* lingered long enough, or a client that does not read its answers */
        return;
    }
    if (conn->state == ST_BUSY) return; /* a handler works: its answer re-arms this */
    if (conn->reading) { /* the read deadline governs; this one stays armed behind it */
        timer_set(conn, conn->core->tv_idle);
        return;
    }
    conn_free(conn); /* idle keep-alive */
}

void net_conn_cache_free(net_core_t *core)
{
    while (core->free_conns) {
        net_conn_t *conn = core->free_conns;
        core->free_conns = conn->next;
        conn_destroy(conn);
    }
    core->n_free_conns = 0;
}
