/*
 * net_internal.h: what the files of net/ share and nobody else sees.
 *
 * Ownership in one paragraph. A net_server_t owns its cores; a core owns its
 * event_base, listeners, connections, mailbox, read txn and caches of request
 * and connection objects. A net_req_t is taken from its core's cache when a
 * request head arrives (net_http.c) and goes back there in net_reply_*(), on
 * the core's thread only. While a handler holds it, its connection points at
 * it: a connection closed under it (a reset, shutdown) marks it gone, and the
 * reply is then dropped without touching the freed connection.
 */
#ifndef NET_INTERNAL_H
#define NET_INTERNAL_H

#include <sys/queue.h> /* before libevent: TAILQ for the query list */
#include <sys/socket.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/cet_limits.h"
#include "net/net.h"

/* ---- metrics (net_metrics.c) ---- */

/* Per-core counters: written by the core thread only (relaxed atomics), summed
 * by whichever core answers /metrics. */
typedef struct net_core_metrics {
    _Atomic uint64_t requests[CET_ROUTES_MAX][CET_STATUS_LABELS_MAX];
    _Atomic uint64_t hist[CET_ROUTES_MAX][CET_LATENCY_BUCKETS_MAX + 1];
    _Atomic uint64_t sum_us[CET_ROUTES_MAX];
} net_core_metrics_t;

/** The index of route (interned on first sight; 0 = "other" when full). */
unsigned net_metrics_route_index(const char *route);
/** Records one answered request on the calling core. */
void net_metrics_record(net_core_metrics_t *m, unsigned route, int status, uint64_t ns);
/** Appends every built-in metric of srv, then the app's, to out. */
void net_metrics_render(net_server_t *srv, struct evbuffer *out);

/* ---- pool (net_pool.c) ---- */
typedef struct net_pool net_pool_t;
/** Starts n (1..CET_WORKERS_MAX) pool threads. */
int net_pool_start(unsigned n, net_pool_t **out);
/** Lets the threads finish what is queued, then joins them and frees pool. */
void net_pool_stop(net_pool_t *pool);
/** Jobs queued and not yet taken by a thread. */
unsigned net_pool_queue_len(net_pool_t *pool);
/** Puts w on the queue (any thread). CET_E_OK or CET_E_OVERLOADED. */
cet_err_t net_pool_push(net_pool_t *pool, net_work_t *w);
/** Hands a finished job back to its core (pool thread; implemented in net_server.c). */
void net_core_work_done(net_core_t *core, net_work_t *w);

/* ---- argon2id memory of a pool worker (net_pwhash_arena.c) ---- */
/**
 * Gives the calling thread its own CET_PWHASH_MEM_BYTES for libsodium's
 * argon2id, mapped and populated now: that thread's hashes and verifications
 * at today's costs then skip the kernel's mmap/munmap. 0, or an errno (the
 * thread hashes without one). A pool worker calls it once at start.
 */
int net_pwhash_arena_attach(void);
/** Unmaps the calling thread's arena (a pool worker, on its way out). */
void net_pwhash_arena_detach(void);
/** Hashes and verifications that used an arena since start (any thread; /metrics, tests). */
uint64_t net_pwhash_arena_hits(void);

/* ---- listeners and cores (net_server.c), shared with net_http.c ---- */
typedef struct net_conn net_conn_t;

/* One listener on one core, with its own connection budget (a flood on the
 * TCP port cannot take the slots of h2o's unix socket). */
typedef struct net_lsn {
    net_core_t *core;
    unsigned index; /* in --listen order */
    bool is_unix;
    struct evconnlistener *el; /* NULL once drain closed it */
    bool paused;               /* disabled at the cap */
    unsigned conns_max;
    _Atomic uint64_t conns;    /* written by the core only */
    _Atomic uint64_t accepted; /* ever, written by the core only */
    struct event *retry_ev;    /* re-enables the listener after a failed accept */
    int64_t error_logged_ms;   /* the last failed accept's warning */
} net_lsn_t;

struct net_core {
    net_server_t *srv;
    unsigned index;
    pthread_t thread;
    bool thread_started;
    struct event_base *base;
    net_lsn_t lsn[CET_LISTENERS_MAX];
    unsigned n_lsn;
    bool listeners_closed;     /* drain deleted them */
    _Atomic bool drain_seen;   /* the core ran its drain step */
    _Atomic uint64_t inflight; /* written by the core only */
    struct event *ctl_ev;      /* drain step */
    struct event *done_ev;     /* pool completions */
    struct event *tick_ev;     /* the watchdog tick (core 0 only) */
    _Atomic(net_work_t *) done_stack;
    store_mailbox_t *mailbox; /* writer completions; the writer wakes us on store_ev */
    struct event *store_ev;
    store_read_txn_t *rtxn;
    net_req_t *free_reqs;
    unsigned n_free;
    net_req_t *live;        /* taken, not yet answered */
    net_conn_t *conns;      /* open connections (net_http.c) */
    net_conn_t *free_conns; /* closed ones kept for reuse */
    unsigned n_free_conns;
    /* the connection deadlines as libevent common timeouts (cheap to re-arm) */
    const struct timeval *tv_read, *tv_idle, *tv_linger;
    net_core_metrics_t metrics;
};

/** A connection of lsn closed (net_http.c): its budget; the listener resumes below its cap. */
void net_lsn_conn_closed(net_lsn_t *lsn);
/** A connection of core was cut by its read deadline (counted for /metrics). */
void net_server_deadline_close(net_core_t *core);
/** Open and ever-accepted connections of the unix (or TCP) listeners, all cores. */
void net_server_listener_conns(net_server_t *srv, bool is_unix, uint64_t *open, uint64_t *accepted);
/** Connections closed by the read deadline, all cores. */
uint64_t net_server_deadline_closes(net_server_t *srv);
/** A whole request arrived (net_http.c): /healthz, /metrics or the application's handler. */
void net_core_dispatch(net_core_t *core, net_req_t *req);

/* ---- HTTP/1.1 connections (net_http.c) ---- */
/** A connection lsn accepted (fd non-blocking): reading starts. */
net_conn_t *net_conn_open(net_lsn_t *lsn, int fd, const struct sockaddr *sa, int salen);
/** Closes every connection of core (shutdown); requests being handled are marked gone. */
void net_conn_close_all(net_core_t *core);
/** Frees the core's cache of closed connection objects (shutdown). */
void net_conn_cache_free(net_core_t *core);
/** The peer's address as accepted, or NULL. */
const struct sockaddr *net_conn_peer(const net_conn_t *conn);

/* ---- HTTP/1.1 parsing, pure (net_http_parse.c; tests/fuzz/fuzz_http.c) ---- */
/**
 * Where the head at s[0, len) ends (the offset after its empty line), or 0
 * when it has not all arrived. from: bytes before it were searched already.
 */
size_t net_http_head_end(const char *s, size_t len, size_t from);
/** True when the start of a head s[0, len) can never become a request line. */
bool net_http_head_hopeless(const char *s, size_t len);

typedef enum net_head_err { NET_HEAD_OK = 0, NET_HEAD_BAD } net_head_err_t;
/* A Content-Length from here up is only "too large" (413); it saturates here. */
#define NET_CONTENT_LENGTH_CAP (UINT64_C(1) << 62)
/**
 * Parses a whole request head in req->head[0, len) in place (pure; fuzzed):
 * method, target, version and fields into req; Content-Length into *cl, and
 * whether the body is chunked. NET_HEAD_BAD: the caller answers 400 and closes.
 */
net_head_err_t net_http_head_parse(net_req_t *req, size_t len, uint64_t *cl, bool *chunked);
/* The chunked decoder's place; zeroed at the start of a body. */
typedef struct net_chunked {
    int state;
    unsigned trailers;
    uint64_t need;    /* data bytes left in this chunk */
    uint64_t framing; /* bytes of size lines, CRLFs and trailers so far */
    uint64_t data;    /* body bytes so far */
} net_chunked_t;
typedef enum net_chunk_rc {
    NET_CHUNK_MORE,      /* go on (with more bytes when *used is 0) */
    NET_CHUNK_DONE,      /* the last chunk and the trailers are in */
    NET_CHUNK_BAD,       /* malformed: 400 */
    NET_CHUNK_TOO_LARGE, /* a chunk over room: 413 */
} net_chunk_rc_t;
/**
 * One step of decoding a chunked body from in[0, len): *used bytes taken,
 * of which in[*data_off, *data_off + *data_len) are body data (the caller
 * copies them). room: body bytes still allowed.
 */
net_chunk_rc_t net_chunked_step(net_chunked_t *c, const char *in, size_t len, uint64_t room,
                                size_t *used, size_t *data_off, size_t *data_len);

/**
 * Writes req's answer on its connection (core thread; req->conn set): status
 * line, Date, Content-Length, Connection, the fields in req->ohdr, then the
 * body (referenced until done_cb when one is given, else copied if the socket
 * does not take it at once).
 */
void net_http_send(net_req_t *req, int status, const char *body, size_t len,
                   net_body_done_cb done_cb, void *done_arg);

/* ---- requests (net_req.c) ---- */
typedef struct net_hdr {
    const char *name, *value; /* NUL-terminated, inside net_req_t.head */
} net_hdr_t;

struct net_req {
    net_core_t *core;
    net_conn_t *conn; /* NULL once the connection is gone (or the answer is sent) */
    net_req_t *next_free;
    net_req_t *live_prev, *live_next; /* the core's list of unanswered requests */
    void *user;
    unsigned route;       /* metrics route index */
    net_method_t method;  /* 0: one no route takes */
    bool method_known;    /* a method of RFC 9110 (PATCH, TRACE, CONNECT included) */
    bool gone;            /* the connection closed before the reply */
    bool query_parsed;
    bool replied;
    bool keep_alive;      /* the connection may carry another request after this one */
    bool expect_continue; /* "Expect: 100-continue" */
    bool has_cache_control; /* a handler set Cache-Control */
    int minor;            /* HTTP/1.minor */
    uint64_t start_ns;
    const char *uri;      /* the request target as sent, inside head */
    unsigned n_hdrs;
    net_hdr_t hdrs[CET_HEADERS_COUNT_MAX];
    struct evkeyvalq query;
    char *ohdr;           /* the answer's fields ("Name: value\r\n"...): ohdr_inline or heap */
    size_t ohdr_len, ohdr_cap;
    size_t body_len;
    size_t big_cap;       /* bytes of big_body, less its NUL */
    char *big_body;       /* a body above CET_BODY_BYTES_MAX on a route that takes one, or NULL */
    char path[CET_PATH_BYTES_MAX];
    char client[64];
    char request_id[CET_REQUEST_ID_BYTES_MAX + 1]; /* X-Request-Id taken or made */
    char head[CET_HEADERS_BYTES_MAX + 1];          /* the request head, parsed in place */
    char ohdr_inline[CET_RESPONSE_FIELDS_INLINE_BYTES];
    char body[CET_BODY_BYTES_MAX + 1];
};

/** Frees what a request object holds beside itself (parsed query, a large body, heap fields). */
void net_req_clear(net_req_t *req);
/** Prepares a request object from core's cache for a head arriving on conn. */
void net_req_reset(net_req_t *req, net_core_t *core, net_conn_t *conn);
/**
 * What a handler reads besides the head: the decoded path, the client's
 * address, the request id. CET_E_OK, or CET_E_BAD_REQUEST (a path that does
 * not decode, an unusable X-Forwarded-For).
 */
cet_err_t net_req_prepare(net_req_t *req);
/** A request id: given when it is a usable X-Request-Id, else a new one. */
void net_req_make_id(net_core_t *core, const char *given, char *out, size_t cap);
/** An answer the net layer gave itself (a bad head, 413), counted for /metrics. */
void net_metrics_early(net_core_t *core, int status);

/* ---- cores (net_server.c) ---- */
/**
 * Takes a free request object from the core's cache (or the heap) and links
 * it into the core's live list (freed by net_server_free if never answered).
 */
net_req_t *net_core_req_alloc(net_core_t *core);
/** Unlinks req from the live list and returns it to the core's cache. */
void net_core_req_release(net_core_t *core, net_req_t *req);
/** Book-keeping when a pending request is answered: in-flight count, txn reset. */
void net_core_req_finished(net_core_t *core);
/** The core's metrics block. */
net_core_metrics_t *net_core_metrics(net_core_t *core);
/**
 * The largest body a request may carry, by its method and target as sent:
 * CET_BODY_BYTES_MAX, a larger route's limit (net_options_t.body_max), or the
 * upload route's limit for a POST to net_options_t.upload_path.
 */
size_t net_core_body_max(const net_core_t *core, net_method_t method, const char *uri);
/** True once net_server_drain began. */
bool net_core_draining(const net_core_t *core);

/* ---- server-wide numbers for /metrics (net_server.c) ---- */
unsigned net_server_ncores(const net_server_t *srv);
net_core_t *net_server_core(net_server_t *srv, unsigned i);
uint64_t net_core_conns(const net_core_t *core);
uint64_t net_core_inflight(const net_core_t *core);
unsigned net_server_pool_queue(net_server_t *srv);
void net_server_app_metrics(net_server_t *srv, struct evbuffer *out);
/** The server's options (trusted proxies for net_req.c). */
const net_options_t *net_server_options(const net_server_t *srv);
net_server_t *net_core_server(net_core_t *core);

#endif
