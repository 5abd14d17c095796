/*
 * net_server.c: the cores of cetd, from accept() to the handler.
 *
 * The accept path, as a chain of named handlers:
 *   listen_open        one SO_REUSEPORT socket per core (TCP, after port_lock
 *                      and port_probe: nobody else holds the port), or one
 *                      unix socket shared by dup(); each core has one evhttp
 *                      per listener (net_lsn_t), so each listener has its own
 *                      connection budget
 *   core_bev_cb        evhttp asks for a bufferevent for a new connection:
 *                      count it against its listener, pause that listener at
 *                      its cap, and park the bufferevent (with a reference)
 *                      for core_claim
 *   core_claim         runs right after evhttp built the connection: the
 *                      bufferevent's cbarg is the evhttp_connection; conn_track
 *                      hooks net_conn_closed_cb to count the close and starts
 *                      the read deadline (conn_input_cb, conn_deadline_cb)
 *   core_request_cb    a full request: net_req_new, then /healthz, /metrics
 *                      or the application's handler
 *   net_reply_*        (net_req.c) sends and recycles the request
 *
 * libevent 2.1 has no connection cap and no "connection created" hook; the
 * claim step is how we get one. It is safe even when evhttp frees the
 * connection before the claim runs, because core_bev_cb holds a reference
 * on the bufferevent: bufferevent_free() clears its callbacks (cbarg NULL)
 * but the memory stays until our bufferevent_decref().
 *
 * Threads: net_server_start and net_server_drain/free run on the main thread;
 * everything else here runs on a core's own thread, except net_core_work_done
 * (pool threads), which only pushes to a lock-free list and event_active()s.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "net/net_internal.h"


/* One listener on one core: its own evhttp, so that a connection is counted
 * against the budget of the listener that accepted it (a flood on the TCP
 * port cannot take the slots of h2o's unix socket). */
typedef struct net_lsn {
    net_core_t *core;
    unsigned index; /* in --listen order */
    bool is_unix;
    struct evhttp *http;
    struct evhttp_bound_socket *bound; /* NULL once drain closed it */
    bool paused;                       /* disabled at the cap */
    unsigned conns_max;
    _Atomic uint64_t conns;         /* written by the core only */
    _Atomic uint64_t accepted;      /* ever, written by the core only */
    struct bufferevent **pending;   /* [conns_max]: waiting for core_claim */
    unsigned n_pending;
} net_lsn_t;

/* One accepted connection, from the claim to its close callback. */
struct net_conn {
    net_lsn_t *lsn;
    struct bufferevent *bev; /* we hold a reference: see conn_deadline_cb */
    struct evhttp_connection *evcon;
    struct event *deadline;  /* CET_REQUEST_READ_MS from a request's first byte */
    int fd;
    bool reading;            /* bytes of a request arrived, no callback yet */
    bool busy;               /* a request taken and not yet answered */
    net_conn_t *next_free;
};

struct net_core {
    net_server_t *srv;
    unsigned index;
    pthread_t thread;
    bool thread_started;
    struct event_base *base;
    net_lsn_t lsn[CET_LISTENERS_MAX];
    unsigned n_lsn;
    bool listeners_closed;   /* drain deleted them */
    _Atomic bool drain_seen; /* the core ran its drain step */
    _Atomic uint64_t inflight; /* written by the core only */
    struct event *claim_ev;
    struct event *ctl_ev;  /* drain step */
    struct event *done_ev; /* pool completions */
    struct event *tick_ev; /* the watchdog tick (core 0 only) */
    _Atomic(net_work_t *) done_stack;
    store_mailbox_t *mailbox; /* writer completions; the writer wakes us on store_ev */
    struct event *store_ev;
    store_read_txn_t *rtxn;
    net_req_t *free_reqs;
    unsigned n_free;
    net_req_t *live; /* taken, not yet answered */
    net_conn_t *free_conns;
    unsigned n_free_conns;
    net_core_metrics_t metrics;
};

struct net_server {
    net_options_t opt;
    unsigned ncores;
    net_core_t *cores[CET_THREADS_MAX];
    net_pool_t *pool;
    _Atomic bool draining;
    bool stopped;
    char addrs[CET_LISTENERS_MAX][128];
    char unix_paths[CET_LISTENERS_MAX][108];
    int port_locks[CET_LISTENERS_MAX]; /* abstract unix sockets held for a TCP port; -1 none */
    net_conn_t **conn_by_fd;           /* [n_fds]: each entry written by the fd's core only */
    unsigned n_fds;
    _Atomic uint64_t deadline_closes;  /* connections cut by CET_REQUEST_READ_MS */
};

/* ---- once per process ---- */
static pthread_once_t net_once = PTHREAD_ONCE_INIT;

static void net_init_once(void)
{
    evthread_use_pthreads();
    json_set_alloc_funcs(cet_malloc, cet_free);
}

/* ---- small accessors for the other files ---- */
size_t net_core_body_max(const net_core_t *core, struct evhttp_request *evreq)
{
    const net_options_t *o = &core->srv->opt;
    const char *uri = evhttp_request_get_uri(evreq);
    if (o->body_max && uri) {
        char path[CET_PATH_BYTES_MAX];
        size_t n = strcspn(uri, "?");
        size_t m = 0;
        if (n < sizeof path) {
            memcpy(path, uri, n);
            path[n] = 0;
            m = o->body_max(net_method_of(evreq), path);
        }
        if (m) return m < CET_BODY_HARD_BYTES_MAX ? m : CET_BODY_HARD_BYTES_MAX;
    }
    if (!o->upload_path || evhttp_request_get_command(evreq) != EVHTTP_REQ_POST)
        return CET_BODY_BYTES_MAX;
    size_t n = strlen(o->upload_path);
    if (!uri || strncmp(uri, o->upload_path, n) != 0 || (uri[n] && uri[n] != '?'))
        return CET_BODY_BYTES_MAX;
    return o->upload_bytes_max;
}

unsigned net_core_index(const net_core_t *core)
{
    return core->index;
}

struct event_base *net_core_base(net_core_t *core)
{
    return core->base;
}

store_mailbox_t *net_core_mailbox(net_core_t *core)
{
    return core->mailbox;
}

net_core_metrics_t *net_core_metrics(net_core_t *core)
{
    return &core->metrics;
}

bool net_core_draining(const net_core_t *core)
{
    return atomic_load_explicit(&core->srv->draining, memory_order_relaxed);
}

unsigned net_server_ncores(const net_server_t *srv)
{
    return srv->ncores;
}

net_core_t *net_server_core(net_server_t *srv, unsigned i)
{
    return srv->cores[i];
}

uint64_t net_core_inflight(const net_core_t *core)
{
    return atomic_load_explicit(&core->inflight, memory_order_relaxed);
}

unsigned net_server_pool_queue(net_server_t *srv)
{
    return srv->pool ? net_pool_queue_len(srv->pool) : 0;
}

void net_server_app_metrics(net_server_t *srv, struct evbuffer *out)
{
    if (srv->opt.metrics)
        srv->opt.metrics(out, srv->opt.metrics_arg ? srv->opt.metrics_arg : srv->opt.app);
}

const net_options_t *net_server_options(const net_server_t *srv)
{
    return &srv->opt;
}

net_server_t *net_core_server(net_core_t *core)
{
    return core->srv;
}

const char *net_server_address(const net_server_t *srv, unsigned i)
{
    return i < srv->opt.n_listen ? srv->addrs[i] : NULL;
}

static void counter_add(_Atomic uint64_t *c, int64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d,
                          memory_order_relaxed);
}

/* ---- read txn ---- */
store_txn_t *net_core_read_txn(net_core_t *core, int *rc)
{
    int r = 0;
    store_txn_t *txn = NULL;
    if (!core->srv->opt.store) {
        r = EINVAL;
    } else if (!core->rtxn) {
        r = store_read_txn_new(core->srv->opt.store, &core->rtxn);
    }
    if (r == 0) r = store_read_txn_renew(core->rtxn, &txn);
    if (rc) *rc = r;
    return r ? NULL : txn;
}

void net_core_read_done(net_core_t *core)
{
    store_read_txn_reset(core->rtxn);
}

/* ---- request objects ---- */
net_req_t *net_core_req_alloc(net_core_t *core)
{
    net_req_t *req = core->free_reqs;
    if (req) {
        core->free_reqs = req->next_free;
        core->n_free--;
    } else {
        req = cet_malloc(sizeof *req);
    }
    req->live_prev = NULL;
    req->live_next = core->live;
    if (core->live) core->live->live_prev = req;
    core->live = req;
    return req;
}

void net_core_req_release(net_core_t *core, net_req_t *req)
{
    if (req->live_prev)
        req->live_prev->live_next = req->live_next;
    else
        core->live = req->live_next;
    if (req->live_next) req->live_next->live_prev = req->live_prev;
    if (core->n_free >= CET_REQ_CACHE_MAX) {
        cet_free(req);
        return;
    }
    req->next_free = core->free_reqs;
    core->free_reqs = req;
    core->n_free++;
}

void net_core_req_finished(net_core_t *core)
{
    counter_add(&core->inflight, -1);
    net_core_read_done(core);
}

/* ---- connection counting, per listener ---- */
static void lsn_enable(net_lsn_t *l, bool on)
{
    if (!l->bound) return;
    struct evconnlistener *el = evhttp_bound_socket_get_listener(l->bound);
    if (on)
        evconnlistener_enable(el);
    else
        evconnlistener_disable(el);
    l->paused = !on;
}

static void lsn_conn_closed(net_lsn_t *l)
{
    CET_ASSERT(atomic_load_explicit(&l->conns, memory_order_relaxed) > 0);
    counter_add(&l->conns, -1);
    if (l->paused && !l->core->listeners_closed &&
        atomic_load_explicit(&l->conns, memory_order_relaxed) < l->conns_max)
        lsn_enable(l, true);
}

static void conn_release(net_conn_t *conn)
{
    net_core_t *core = conn->lsn->core;
    net_server_t *srv = core->srv;
    event_del(conn->deadline);
    if (conn->fd >= 0 && (unsigned)conn->fd < srv->n_fds && srv->conn_by_fd[conn->fd] == conn)
        srv->conn_by_fd[conn->fd] = NULL;
    bufferevent_decref(conn->bev);
    lsn_conn_closed(conn->lsn);
    if (core->n_free_conns >= CET_CONN_CACHE_MAX) {
        event_free(conn->deadline);
        cet_free(conn);
        return;
    }
    conn->next_free = core->free_conns;
    core->free_conns = conn;
    core->n_free_conns++;
}

void net_conn_closed(net_conn_t *conn)
{
    if (conn) conn_release(conn);
}

void net_conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    conn_release(arg);
}

/* The read deadline: a request that has not fully arrived CET_REQUEST_READ_MS
 * after its first byte (or after the accept) closes its connection. libevent
 * 2.1's own timeout restarts on every byte, so a client sending one byte every
 * few seconds would otherwise hold its slot for ever. */
static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    net_conn_t *conn = arg;
    void *cbarg = NULL;
    bufferevent_getcb(conn->bev, NULL, NULL, NULL, &cbarg);
    if (!cbarg) { /* evhttp freed it without telling us: only our reference is left */
        conn_release(conn);
        return;
    }
    if (conn->busy || !conn->reading) return;
    atomic_fetch_add_explicit(&conn->lsn->core->srv->deadline_closes, 1, memory_order_relaxed);
    evhttp_connection_free(conn->evcon); /* its close callback releases conn */
}

static void conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    net_conn_t *conn = arg;
    if (info->n_added == 0 || conn->busy || conn->reading) return;
    conn->reading = true;
    struct timeval tv = {CET_REQUEST_READ_MS / 1000, (CET_REQUEST_READ_MS % 1000) * 1000};
    event_add(conn->deadline, &tv);
}

static net_conn_t *conn_alloc(net_core_t *core)
{
    net_conn_t *conn = core->free_conns;
    if (conn) {
        core->free_conns = conn->next_free;
        core->n_free_conns--;
        return conn;
    }
    conn = cet_calloc(1, sizeof *conn);
    conn->deadline = evtimer_new(core->base, conn_deadline_cb, conn);
    CET_ASSERT(conn->deadline);
    return conn;
}

/* Tracks a connection evhttp has just built: close callback, read deadline. */
static void conn_track(net_lsn_t *l, struct bufferevent *bev, struct evhttp_connection *evcon)
{
    net_core_t *core = l->core;
    net_server_t *srv = core->srv;
    net_conn_t *conn = conn_alloc(core);
    conn->lsn = l;
    conn->bev = bev; /* the reference core_bev_cb took passes to conn */
    conn->evcon = evcon;
    conn->fd = (int)bufferevent_getfd(bev);
    conn->busy = false;
    conn->reading = true; /* from the accept: a client that says nothing is cut too */
    if (conn->fd >= 0 && (unsigned)conn->fd < srv->n_fds) srv->conn_by_fd[conn->fd] = conn;
    evhttp_connection_set_closecb(evcon, net_conn_closed_cb, conn);
    evbuffer_add_cb(bufferevent_get_input(bev), conn_input_cb, conn);
    struct timeval tv = {CET_REQUEST_READ_MS / 1000, (CET_REQUEST_READ_MS % 1000) * 1000};
    event_add(conn->deadline, &tv);
}

net_conn_t *net_conn_of(net_core_t *core, struct evhttp_request *evreq)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(evreq);
    if (!evcon) return NULL;
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    net_server_t *srv = core->srv;
    if (fd < 0 || (unsigned)fd >= srv->n_fds) return NULL;
    net_conn_t *conn = srv->conn_by_fd[fd];
    return conn && conn->evcon == evcon ? conn : NULL;
}

void net_conn_request_taken(net_conn_t *conn)
{
    if (!conn) return;
    conn->busy = true;
    conn->reading = false;
    event_del(conn->deadline);
}

void net_conn_request_done(net_conn_t *conn)
{
    if (conn) conn->busy = false;
}

bool net_conn_is_unix(const net_conn_t *conn)
{
    return conn && conn->lsn->is_unix;
}

static struct bufferevent *core_bev_cb(struct event_base *base, void *arg)
{
    net_lsn_t *l = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev || l->n_pending >= l->conns_max) return bev; /* uncounted: cannot claim */
    bufferevent_incref(bev);
    l->pending[l->n_pending++] = bev;
    counter_add(&l->conns, 1);
    counter_add(&l->accepted, 1);
    if (atomic_load_explicit(&l->conns, memory_order_relaxed) >= l->conns_max && !l->paused)
        lsn_enable(l, false);
    event_active(l->core->claim_ev, EV_READ, 0);
    return bev;
}

/* Hooks every connection built since the last claim. */
static void core_claim(net_core_t *core)
{
    for (unsigned li = 0; li < core->n_lsn; li++) {
        net_lsn_t *l = &core->lsn[li];
        for (unsigned i = 0; i < l->n_pending; i++) {
            struct bufferevent *bev = l->pending[i];
            void *cbarg = NULL;
            bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
            if (cbarg) {
                conn_track(l, bev, cbarg);
            } else { /* evhttp gave up on it already (bufferevent_free cleared cbarg) */
                lsn_conn_closed(l);
                bufferevent_decref(bev);
            }
        }
        l->n_pending = 0;
    }
}

static void core_claim_cb(evutil_socket_t fd, short what, void *arg)
{
    core_claim(arg);
}

uint64_t net_core_conns(const net_core_t *core)
{
    uint64_t n = 0;
    for (unsigned li = 0; li < core->n_lsn; li++)
        n += atomic_load_explicit(&core->lsn[li].conns, memory_order_relaxed);
    return n;
}

void net_server_listener_conns(net_server_t *srv, bool is_unix, uint64_t *open, uint64_t *accepted)
{
    *open = *accepted = 0;
    for (unsigned c = 0; c < srv->ncores; c++) {
        net_core_t *core = srv->cores[c];
        for (unsigned li = 0; li < core->n_lsn; li++) {
            if (core->lsn[li].is_unix != is_unix) continue;
            *open += atomic_load_explicit(&core->lsn[li].conns, memory_order_relaxed);
            *accepted += atomic_load_explicit(&core->lsn[li].accepted, memory_order_relaxed);
        }
    }
}

uint64_t net_server_deadline_closes(net_server_t *srv)
{
    return atomic_load_explicit(&srv->deadline_closes, memory_order_relaxed);
}

/* ---- requests ---- */
static void reply_status(net_req_t *req, int status, const char *text)
{
    if (status == 503) net_req_add_header(req, "Retry-After", "1");
    net_reply_raw(req, status, NULL, text, strlen(text));
}

static void reply_ready(net_req_t *req, bool draining)
{
    net_server_t *srv = req->core->srv;
    char text[512];
    if (draining) {
        reply_status(req, 503, "{\"status\":\"draining\"}");
        return;
    }
    if (!srv->opt.ready) {
        reply_status(req, 200, "{\"status\":\"ok\"}");
        return;
    }
    char checks[400];
    bool ok = srv->opt.ready(checks, sizeof checks, srv->opt.ready_arg);
    snprintf(text, sizeof text, "{\"status\":\"%s\",\"checks\":%s}", ok ? "ok" : "unready",
             checks);
    reply_status(req, ok ? 200 : 503, text);
}

static void core_request_cb(struct evhttp_request *evreq, void *arg)
{
    net_core_t *core = arg;
    net_server_t *srv = core->srv;
    core_claim(core); /* a request never outruns its connection's claim */
    net_req_t *req = net_req_new(core, evreq);
    if (!req) return;
    counter_add(&core->inflight, 1);
    cet_log_set_request_id(req->request_id);
    const char *path = net_req_path(req);
    bool draining = atomic_load_explicit(&srv->draining, memory_order_relaxed);
    const int known = EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                      EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                      EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH;
    if (!((int)evhttp_request_get_command(evreq) & known)) {
        /* a method libevent does not know ("FOO"): no route can take it */
        net_req_set_route(req, "other");
        net_req_add_header(req, "Allow", "GET, POST, PUT, DELETE, HEAD, OPTIONS");
        net_reply_error(req, CET_E_METHOD_NOT_ALLOWED, NULL);
    } else if (strcmp(path, "/healthz") == 0) {
        net_req_set_route(req, "/healthz");
        if (draining)
            reply_status(req, 503, "{\"status\":\"draining\"}");
        else
            reply_status(req, 200, "{\"status\":\"ok\"}");
    } else if (strcmp(path, "/livez") == 0) {
        /* this loop answered: the process lives (draining included) */
        net_req_set_route(req, "/livez");
        reply_status(req, 200, "{\"status\":\"ok\"}");
    } else if (strcmp(path, "/readyz") == 0) {
        net_req_set_route(req, "/readyz");
        reply_ready(req, draining);
    } else if (strcmp(path, "/metrics") == 0) {
        net_req_set_route(req, "/metrics");
        struct evbuffer *out = evbuffer_new();
        net_metrics_render(srv, out);
        size_t len = evbuffer_get_length(out);
        net_reply_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                      (const char *)evbuffer_pullup(out, -1), len);
        evbuffer_free(out);
    } else if (draining) {
        net_reply_error(req, CET_E_DRAINING, NULL);
    } else {
        srv->opt.handler(req, srv->opt.app);
    }
    cet_log_set_request_id(NULL);
    net_core_read_done(core);
}

/* ---- the watchdog tick (core 0) ---- */
static void core_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    net_core_t *core = arg;
    net_server_t *srv = core->srv;
    if (srv->opt.tick) srv->opt.tick(srv->opt.tick_arg);
}

static void core_started_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    net_core_t *core = arg;
    core->srv->opt.started(core, core->srv->opt.started_arg);
}

/* ---- pool completions ---- */
cet_err_t net_pool_submit(net_core_t *core, net_work_t *w)
{
    w->core = core;
    return net_pool_push(core->srv->pool, w);
}

void net_core_work_done(net_core_t *core, net_work_t *w)
{
    net_work_t *head = atomic_load_explicit(&core->done_stack, memory_order_relaxed);
    do {
        w->next_ = head;
    } while (!atomic_compare_exchange_weak_explicit(&core->done_stack, &head, w,
                                                    memory_order_release, memory_order_relaxed));
    event_active(core->done_ev, EV_READ, 0);
}

/* ---- writer completions: the store's mailbox, woken through our loop ---- */
static void core_store_notify_cb(void *ctx) /* writer thread */
{
    net_core_t *core = ctx;
    event_active(core->store_ev, EV_READ, 0);
}

static void core_store_cb(evutil_socket_t fd, short what, void *arg) /* core thread */
{
    net_core_t *core = arg;
    (void)fd, (void)what;
    store_mailbox_drain(core->mailbox);
}

static void core_done_cb(evutil_socket_t fd, short what, void *arg)
{
    net_core_t *core = arg;
    net_work_t *w = atomic_exchange_explicit(&core->done_stack, NULL, memory_order_acquire);
    net_work_t *fifo = NULL;
    while (w) { /* the stack is newest first: reverse it */
        net_work_t *next = w->next_;
        w->next_ = fifo;
        fifo = w;
        w = next;
    }
    while (fifo) {
        net_work_t *next = fifo->next_;
        fifo->next_ = NULL;
        fifo->done_cb(fifo);
        fifo = next;
    }
    net_core_read_done(core);
}

/* ---- drain step on the core ---- */
static void core_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    net_core_t *core = arg;
    for (unsigned li = 0; li < core->n_lsn; li++) {
        net_lsn_t *l = &core->lsn[li];
        if (l->bound) evhttp_del_accept_socket(l->http, l->bound);
        l->bound = NULL;
    }
    core->listeners_closed = true;
    atomic_store(&core->drain_seen, true);
}

static void *core_main(void *arg)
{
    net_core_t *core = arg;
    char name[16];
    snprintf(name, sizeof name, "cetd-core%u", core->index);
    pthread_setname_np(pthread_self(), name);
    event_base_loop(core->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* ---- listeners ---- */
typedef struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool is_unix;
} listen_addr_t;

static int listen_parse(const char *s, listen_addr_t *a)
{
    memset(a, 0, sizeof *a);
    if (strncmp(s, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
        const char *path = s + 5;
        if (!*path || strlen(path) >= sizeof un->sun_path) return EINVAL;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, path);
        a->len = sizeof *un;
        a->is_unix = true;
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (!colon) return EINVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == 0 || port < 0 || port > 65535) return EINVAL;
    char host[64];
    size_t hlen = (size_t)(colon - s);
    if (hlen >= sizeof host) return EINVAL;
    memcpy(host, s, hlen);
    host[hlen] = 0;
    if (host[0] == '[') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
        if (hlen < 2 || host[hlen - 1] != ']') return EINVAL;
        host[hlen - 1] = 0;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1) return EINVAL;
        a->len = sizeof *in6;
        return 0;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    if (host[0] == 0 || strcmp(host, "*") == 0) strcpy(host, "0.0.0.0");
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) return EINVAL;
    a->len = sizeof *in4;
    return 0;
}

static void addr_text(const listen_addr_t *a, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN];
    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, ntohs(in4->sin_port));
    }
}

/*
 * SO_REUSEPORT lets any process of the same user bind a port we listen on and
 * silently take half its connections. Two guards before we bind (and nothing
 * needed for port 0, which the kernel hands out fresh):
 *   port_lock   an abstract unix socket named after the address, held for the
 *               process's life (the kernel drops it at exit, even on kill -9):
 *               a second cetd on the same address fails to bind it;
 *   port_probe  a plain bind without SO_REUSEPORT: fails if any other process
 *               (a cetd of another build, nginx, ...) holds the port.
 */
static int port_lock(const listen_addr_t *a, int *out)
{
    char text[128];
    addr_text(a, text, sizeof text);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int n = snprintf(un.sun_path + 1, sizeof un.sun_path - 1, "cetd-port:%s", text);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    if (bind(fd, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                                     (size_t)n)) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    *out = fd;
    return 0;
}

static int port_probe(const listen_addr_t *a)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on); /* TIME_WAIT is no owner */
    if (a->ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    int rc = bind(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

static uint16_t addr_port(const listen_addr_t *a)
{
    if (a->ss.ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

int net_listen_check(const char *spec)
{
    listen_addr_t a;
    return listen_parse(spec, &a);
}

static int tcp_listen_socket(listen_addr_t *a, int *out)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) goto fail;
    if (a->ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    /* accepted sockets inherit it: an answer is one write, never worth delaying */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (bind(fd, (struct sockaddr *)&a->ss, a->len) != 0) goto fail;
    if (listen(fd, CET_LISTEN_BACKLOG_MAX) != 0) goto fail;
    /* port 0: every later core must bind the port the first one got */
    socklen_t len = sizeof a->ss;
    getsockname(fd, (struct sockaddr *)&a->ss, &len);
    *out = fd;
    return 0;
fail:;
    int e = errno;
    close(fd);
    return e;
}

static int unix_listen_socket(const listen_addr_t *a, int *out)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
    struct stat stt;
    if (lstat(un->sun_path, &stt) == 0) {
        if (!S_ISSOCK(stt.st_mode)) return EEXIST;
        /* a socket file: stale unless someone still answers on it */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int live = probe >= 0 && connect(probe, (const struct sockaddr *)un, a->len) == 0;
        if (probe >= 0) close(probe);
        if (live) return EADDRINUSE;
        unlink(un->sun_path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    /* bind under a umask that gives nobody more than the mode we set next */
    mode_t old = umask(0177);
    int rc = bind(fd, (const struct sockaddr *)un, a->len);
    umask(old);
    if (rc != 0 || listen(fd, CET_LISTEN_BACKLOG_MAX) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    *out = fd;
    return 0;
}

/* --socket-mode / --socket-group on a bound unix socket. */
static int unix_socket_access(const net_options_t *opt, const char *path)
{
    mode_t mode = opt->socket_mode ? (mode_t)opt->socket_mode : CET_SOCKET_MODE_DEFAULT;
    if (opt->socket_gid >= 0 && chown(path, (uid_t)-1, (gid_t)opt->socket_gid) != 0) return errno;
    if (chmod(path, mode) != 0) return errno;
    return 0;
}

/* Binds listener li on every core. */
static int listen_open(net_server_t *srv, unsigned li)
{
    const char *spec = srv->opt.listen[li];
    listen_addr_t a;
    int rc = listen_parse(spec, &a);
    if (rc) {
        CET_ERROR("net: cannot parse --listen %s (want 127.0.0.1:8080, [::1]:8080 or unix:/path)",
                  spec);
        return rc;
    }
    int shared = -1;
    if (!a.is_unix && addr_port(&a) != 0) {
        rc = port_lock(&a, &srv->port_locks[li]);
        if (rc == EADDRINUSE) {
            CET_ERROR("net: cannot listen on %s: another cetd holds this port", spec);
            return rc;
        }
        if (!rc) rc = port_probe(&a);
        if (rc) {
            CET_ERROR("net: cannot listen on %s: %s%s", spec, strerror(rc),
                      rc == EADDRINUSE ? " (another process holds the port)" : "");
            return rc;
        }
    }
    if (a.is_unix) {
        rc = unix_listen_socket(&a, &shared);
        if (!rc) {
            rc = unix_socket_access(&srv->opt, a.ss.ss_family == AF_UNIX ? spec + 5 : spec);
            if (rc) close(shared);
        }
        if (rc) {
            CET_ERROR("net: cannot listen on %s: %s", spec, strerror(rc));
            return rc;
        }
        cet_strlcpy(srv->unix_paths[li], spec + 5, sizeof srv->unix_paths[li]);
        cet_strlcpy(srv->addrs[li], spec, sizeof srv->addrs[li]);
    }
    for (unsigned c = 0; c < srv->ncores; c++) {
        net_core_t *core = srv->cores[c];
        int fd = -1;
        if (a.is_unix) {
            fd = c + 1 == srv->ncores ? shared : fcntl(shared, F_DUPFD_CLOEXEC, 0);
            rc = fd < 0 ? errno : 0;
        } else {
            rc = tcp_listen_socket(&a, &fd);
        }
        if (rc) {
            CET_ERROR("net: cannot listen on %s: %s", spec, strerror(rc));
            if (a.is_unix && c + 1 < srv->ncores) close(shared);
            return rc;
        }
        net_lsn_t *l = &core->lsn[li];
        struct evhttp_bound_socket *b = evhttp_accept_socket_with_handle(l->http, fd);
        if (!b) {
            close(fd);
            if (a.is_unix && c + 1 < srv->ncores) close(shared);
            CET_ERROR("net: evhttp refused the socket of %s", spec);
            return EIO;
        }
        l->bound = b;
        l->is_unix = a.is_unix;
    }
    if (!a.is_unix) addr_text(&a, srv->addrs[li], sizeof srv->addrs[li]);
    return 0;
}

/* ---- cores ---- */
static int lsn_new(net_core_t *core, unsigned li)
{
    net_server_t *srv = core->srv;
    net_lsn_t *l = &core->lsn[li];
    l->core = core;
    l->index = li;
    l->is_unix = strncmp(srv->opt.listen[li], "unix:", 5) == 0;
    unsigned max = l->is_unix ? srv->opt.unix_conns_per_core_max : srv->opt.conns_per_core_max;
    l->conns_max = max ? max : (l->is_unix ? CET_UNIX_CONNS_PER_CORE_MAX : CET_CONNS_PER_CORE_MAX);
    l->pending = cet_calloc(l->conns_max, sizeof *l->pending);
    l->http = evhttp_new(core->base);
    if (!l->http) return ENOMEM;
    /* the roster upload's route may carry more; every other route is cut at
     * CET_BODY_BYTES_MAX by net_req_new (net_core_body_max) */
    size_t hard = CET_BODY_HARD_BYTES_MAX;
    const net_options_t *o = &core->srv->opt;
    if (o->upload_path && o->upload_bytes_max > hard) hard = o->upload_bytes_max;
    evhttp_set_max_body_size(l->http, (ev_ssize_t)hard);
    evhttp_set_max_headers_size(l->http, CET_HEADERS_BYTES_MAX);
    evhttp_set_timeout(l->http, CET_HTTP_TIMEOUT_S);
    /* Every method, known or not (libevent 2.1 marks an unknown one with bit
     * 15), reaches core_request_cb, which answers the ones no route takes with
     * a JSON 405: libevent itself would send an HTML 501. */
    evhttp_set_allowed_methods(l->http, 0xffff);
    evhttp_set_default_content_type(l->http, "application/json; charset=utf-8");
    evhttp_set_bevcb(l->http, core_bev_cb, l);
    evhttp_set_gencb(l->http, core_request_cb, core);
    return 0;
}

static int core_new(net_server_t *srv, unsigned index, net_core_t **out)
{
    net_core_t *core = cet_calloc(1, sizeof *core);
    *out = core;
    core->srv = srv;
    core->index = index;
    core->base = event_base_new();
    if (!core->base) return ENOMEM;
    core->claim_ev = event_new(core->base, -1, 0, core_claim_cb, core);
    core->ctl_ev = event_new(core->base, -1, 0, core_ctl_cb, core);
    core->done_ev = event_new(core->base, -1, 0, core_done_cb, core);
    if (!core->claim_ev || !core->ctl_ev || !core->done_ev) return ENOMEM;
    core->n_lsn = srv->opt.n_listen;
    for (unsigned li = 0; li < core->n_lsn; li++) {
        int rc = lsn_new(core, li);
        if (rc) return rc;
    }
    if (index == 0 && srv->opt.started) {
        static const struct timeval now = {0, 0};
        if (event_base_once(core->base, -1, EV_TIMEOUT, core_started_cb, core, &now) != 0)
            return ENOMEM;
    }
    if (index == 0 && srv->opt.tick && srv->opt.tick_ms) {
        core->tick_ev = event_new(core->base, -1, EV_PERSIST, core_tick_cb, core);
        if (!core->tick_ev) return ENOMEM;
        struct timeval tv = {srv->opt.tick_ms / 1000, (srv->opt.tick_ms % 1000) * 1000};
        event_add(core->tick_ev, &tv);
    }
    core->store_ev = event_new(core->base, -1, 0, core_store_cb, core);
    core->mailbox = store_mailbox_new(core_store_notify_cb, core);
    if (!core->store_ev || !core->mailbox) return ENOMEM;
    if (srv->opt.store) {
        int rc = store_read_txn_new(srv->opt.store, &core->rtxn);
        if (rc) {
            CET_WARN("net: core %u: no read txn yet: %s", index, store_strerror(rc));
            core->rtxn = NULL;
        }
    }
    return 0;
}

static void core_free(net_core_t *core)
{
    if (!core) return;
    /* evhttp_free frees the listeners before the connections: the close
     * callbacks that follow must not re-enable a freed listener */
    core->listeners_closed = true;
    for (unsigned li = 0; li < core->n_lsn; li++)
        core->lsn[li].bound = NULL;
    for (unsigned li = 0; li < core->n_lsn; li++) /* close callbacks still see core */
        if (core->lsn[li].http) evhttp_free(core->lsn[li].http);
    /* Requests never answered (drain timed out): evhttp_free marked them gone;
     * no loop will ever run their completions, so they end here. */
    unsigned unanswered = 0;
    while (core->live) {
        net_req_t *r = core->live;
        CET_ASSERT(r->gone || !r->evreq);
        core->live = r->live_next;
        if (r->query_parsed) evhttp_clear_headers(&r->query);
        if (r->detached) evhttp_request_free(r->evreq);
        cet_free(r);
        unanswered++;
    }
    if (unanswered)
        CET_WARN("net: core %u: %u requests unanswered at shutdown", core->index, unanswered);
    for (unsigned li = 0; li < core->n_lsn; li++) {
        net_lsn_t *l = &core->lsn[li];
        for (unsigned i = 0; i < l->n_pending; i++)
            bufferevent_decref(l->pending[i]);
        l->n_pending = 0;
        cet_free(l->pending);
    }
    if (core->claim_ev) event_free(core->claim_ev);
    if (core->ctl_ev) event_free(core->ctl_ev);
    if (core->done_ev) event_free(core->done_ev);
    if (core->store_ev) event_free(core->store_ev);
    if (core->tick_ev) event_free(core->tick_ev);
    if (core->mailbox) store_mailbox_free(core->mailbox);
    store_read_txn_free(core->rtxn);
    while (core->free_reqs) {
        net_req_t *r = core->free_reqs;
        core->free_reqs = r->next_free;
        cet_free(r);
    }
    while (core->free_conns) {
        net_conn_t *c = core->free_conns;
        core->free_conns = c->next_free;
        event_free(c->deadline);
        cet_free(c);
    }
    if (core->base) event_base_free(core->base);
    cet_free(core);
}

/* ---- server ---- */
/* The signals cetd handles itself: TERM and INT drain, HUP reopens logs. */
static void served_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

static void signals_block(void)
{
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    served_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int net_server_start(const net_options_t *opt, net_server_t **out)
{
    pthread_once(&net_once, net_init_once);
    *out = NULL;
    if (!opt->handler || opt->n_listen == 0 || opt->n_listen > CET_LISTENERS_MAX) {
        CET_ERROR("net: a handler and 1..%d listeners are required", CET_LISTENERS_MAX);
        return EINVAL;
    }
    /* Core and pool threads inherit this mask; net_server_wait_signal takes them. */
    signals_block();

    net_server_t *srv = cet_calloc(1, sizeof *srv);
    srv->opt = *opt;
    for (unsigned li = 0; li < CET_LISTENERS_MAX; li++)
        srv->port_locks[li] = -1;
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0)
        srv->n_fds = nofile.rlim_cur == RLIM_INFINITY || nofile.rlim_cur > CET_FDS_MAX
                         ? CET_FDS_MAX
                         : (unsigned)nofile.rlim_cur;
    else
        srv->n_fds = 1024;
    srv->conn_by_fd = cet_calloc(srv->n_fds, sizeof *srv->conn_by_fd);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    srv->ncores = opt->threads ? opt->threads : (ncpu > 0 ? (unsigned)ncpu : 1);
    if (srv->ncores > CET_THREADS_MAX) srv->ncores = CET_THREADS_MAX;

    int rc = 0;
    for (unsigned i = 0; i < srv->ncores && !rc; i++)
        rc = core_new(srv, i, &srv->cores[i]);
    if (rc) CET_ERROR("net: cannot set up a core: %s", strerror(rc));
    for (unsigned li = 0; li < opt->n_listen && !rc; li++)
        rc = listen_open(srv, li);
    if (!rc) rc = net_pool_start(opt->workers, &srv->pool);
    for (unsigned i = 0; i < srv->ncores && !rc; i++) {
        rc = pthread_create(&srv->cores[i]->thread, NULL, core_main, srv->cores[i]);
        if (rc)
            CET_ERROR("net: cannot start core thread %u: %s", i, strerror(rc));
        else
            srv->cores[i]->thread_started = true;
    }
    if (rc) {
        net_server_free(srv);
        return rc;
    }
    for (unsigned li = 0; li < opt->n_listen; li++)
        printf("cetd: listening on %s\n", srv->addrs[li]);
    fflush(stdout);
    CET_INFO("net: %u core threads, %u pool threads", srv->ncores, opt->workers ? opt->workers : 2);
    *out = srv;
    return 0;
}

static uint64_t inflight_total(net_server_t *srv)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < srv->ncores; i++)
        n += net_core_inflight(srv->cores[i]);
    return n;
}

void net_server_drain(net_server_t *srv, unsigned timeout_ms)
{
    if (!srv || srv->stopped) return;
    atomic_store(&srv->draining, true);
    for (unsigned i = 0; i < srv->ncores; i++)
        if (srv->cores[i]->thread_started) event_active(srv->cores[i]->ctl_ev, EV_READ, 0);
    uint64_t deadline = cet_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        bool closed = true;
        for (unsigned i = 0; i < srv->ncores; i++)
            if (srv->cores[i]->thread_started && !atomic_load(&srv->cores[i]->drain_seen))
                closed = false;
        uint64_t left = inflight_total(srv);
        if (closed && left == 0) break;
        if (cet_mono_ns() >= deadline) {
            CET_WARN("net: drain timed out with %llu requests in flight", (unsigned long long)left);
            break;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    for (unsigned i = 0; i < srv->ncores; i++) {
        net_core_t *core = srv->cores[i];
        if (!core->thread_started) continue;
        event_base_loopexit(core->base, NULL);
        pthread_join(core->thread, NULL);
        core->thread_started = false;
    }
    net_pool_stop(srv->pool);
    srv->pool = NULL;
    srv->stopped = true;
}

void net_server_free(net_server_t *srv)
{
    if (!srv) return;
    net_server_drain(srv, 0);
    for (unsigned i = 0; i < srv->ncores; i++)
        core_free(srv->cores[i]);
    for (unsigned li = 0; li < CET_LISTENERS_MAX; li++) {
        if (srv->unix_paths[li][0]) unlink(srv->unix_paths[li]);
        if (srv->port_locks[li] >= 0) close(srv->port_locks[li]);
    }
    cet_free(srv->conn_by_fd);
    cet_free(srv);
}

void net_server_wait_signal(net_server_t *srv)
{
    sigset_t set;
    served_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig < 0) continue; /* EINTR */
        if (sig == SIGHUP) {
            cet_log_reopen();
            CET_INFO("net: SIGHUP: logs reopened");
            continue;
        }
        CET_INFO("net: %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
}
