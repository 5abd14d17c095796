/*
 * net_internal.h: what the files of net/ share and nobody else sees.
 *
 * Ownership in one paragraph. A net_server_t owns its cores; a core owns its
 * event_base, evhttp, listeners, mailbox, read txn and a cache of request
 * objects. A net_req_t is taken from its core's cache when evhttp hands us a
 * request and goes back there in net_reply_*(), on the core's thread only.
 * The evhttp_request inside it belongs to libevent: while a request is
 * pending, the connection's close callback points at the net_req_t so that a
 * connection freed under us (shutdown, a detached request) marks it gone and
 * the reply then never touches libevent's freed memory.
 */
#ifndef NET_INTERNAL_H
#define NET_INTERNAL_H

#include <event2/event.h>
#include <event2/http.h>
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

/* ---- connections (net_server.c) ---- */
typedef struct net_conn net_conn_t;
/** The tracked connection evreq arrived on, or NULL (not claimed / untracked). */
net_conn_t *net_conn_of(net_core_t *core, struct evhttp_request *evreq);
/** A whole request arrived on conn and is being handled: its read deadline stops. */
void net_conn_request_taken(net_conn_t *conn);
/** The request taken on conn was answered: the next one's first byte starts a deadline. */
void net_conn_request_done(net_conn_t *conn);
/** True when conn came through a unix listener (h2o). NULL: false. */
bool net_conn_is_unix(const net_conn_t *conn);
/** conn is gone (called by net_req_gone_cb); NULL is ignored. */
void net_conn_closed(net_conn_t *conn);
/** The connection close callback used while no request is pending (arg: the conn). */
void net_conn_closed_cb(struct evhttp_connection *evcon, void *arg);
/** Open and ever-accepted connections of the unix (or TCP) listeners, all cores. */
void net_server_listener_conns(net_server_t *srv, bool is_unix, uint64_t *open, uint64_t *accepted);
/** Connections closed by the read deadline, all cores. */
uint64_t net_server_deadline_closes(net_server_t *srv);

/* ---- requests (net_req.c) ---- */
struct net_req {
    struct evhttp_request *evreq; /* libevent's; untouchable once gone */
    net_core_t *core;
    net_conn_t *conn; /* NULL once the connection is gone (or never tracked) */
    net_req_t *next_free;
    net_req_t *live_prev, *live_next; /* the core's list of unanswered requests */
    void *user;
    unsigned route; /* metrics route index */
    net_method_t method;
    bool gone;     /* the connection was freed before the reply */
    bool detached; /* ...and libevent left evreq to us to free */
    bool query_parsed;
    bool replied;
    uint64_t start_ns;
    struct evkeyvalq query;
    size_t body_len;
    char path[CET_PATH_BYTES_MAX];
    char client[64];
    char request_id[CET_REQUEST_ID_BYTES_MAX + 1]; /* X-Request-Id taken or made */
    char body[CET_BODY_BYTES_MAX + 1];
    char *big_body; /* a body above CET_BODY_BYTES_MAX on the upload route (heap), or NULL */
};

/**
 * Builds a net_req_t for evreq on core (core thread). Returns NULL and answers
 * evreq itself (400 / 413, JSON) when the request cannot be taken.
 */
net_req_t *net_req_new(net_core_t *core, struct evhttp_request *evreq);
/** evreq's method (0: one no route takes: TRACE, CONNECT, PATCH, unknown). */
net_method_t net_method_of(struct evhttp_request *evreq);
/** The connection-closed callback installed while req is pending. */
void net_req_gone_cb(struct evhttp_connection *evcon, void *arg);

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
 * The largest body the request line of evreq may carry: CET_BODY_BYTES_MAX,
 * or the upload route's limit for a POST to net_options_t.upload_path.
 */
size_t net_core_body_max(const net_core_t *core, struct evhttp_request *evreq);
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
