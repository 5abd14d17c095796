/*
 * net_server.c: the cores of cetd, from accept() to the handler.
 *
 * The accept path, as a chain of named handlers:
 *   listen_open        one SO_REUSEPORT socket per core (TCP), or one unix
 *                      socket shared by dup() (each core its own listener)
 *   core_bev_cb        evhttp asks for a bufferevent for a new connection:
 *                      count it, pause the listeners at the cap, and park the
 *                      bufferevent (with a reference) for core_claim_cb
 *   core_claim_cb      runs right after evhttp built the connection: the
 *                      bufferevent's cbarg is the evhttp_connection, where we
 *                      hook net_core_conn_closed_cb to count the close
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
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "net/net_internal.h"


struct net_core {
    net_server_t *srv;
    unsigned index;
    pthread_t thread;
    bool thread_started;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound[CET_LISTENERS_MAX];
    unsigned n_bound;
    bool paused;             /* listeners disabled at the cap */
    bool listeners_closed;   /* drain deleted them */
    _Atomic bool drain_seen; /* the core ran its drain step */
    unsigned conns_max;
    _Atomic uint64_t conns;    /* written by the core only */
    _Atomic uint64_t inflight; /* written by the core only */
    struct event *claim_ev;
    struct bufferevent **pending; /* [conns_max]: waiting for core_claim_cb */
    unsigned n_pending;
    struct event *ctl_ev;  /* drain step */
    struct event *done_ev; /* pool completions */
    _Atomic(net_work_t *) done_stack;
    store_mailbox_t *mailbox;
    store_txn_t *rtxn;
    bool rtxn_live;
    net_req_t *free_reqs;
    unsigned n_free;
    net_req_t *live; /* taken, not yet answered */
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
    if (!o->upload_path || evhttp_request_get_command(evreq) != EVHTTP_REQ_POST)
        return CET_BODY_BYTES_MAX;
    const char *uri = evhttp_request_get_uri(evreq);
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

uint64_t net_core_conns(const net_core_t *core)
{
    return atomic_load_explicit(&core->conns, memory_order_relaxed);
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
    if (srv->opt.metrics) srv->opt.metrics(out, srv->opt.app);
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
    if (!core->srv->opt.store) {
        r = EINVAL;
    } else if (!core->rtxn) {
        r = store_read_begin(core->srv->opt.store, &core->rtxn);
        if (r) core->rtxn = NULL;
        core->rtxn_live = r == 0;
    } else if (!core->rtxn_live) {
        r = mdb_txn_renew(core->rtxn);
        core->rtxn_live = r == 0;
    }
    if (rc) *rc = r;
    return r ? NULL : core->rtxn;
}

void net_core_read_done(net_core_t *core)
{
    if (core->rtxn_live) {
        mdb_txn_reset(core->rtxn);
        core->rtxn_live = false;
    }
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

/* ---- connection counting ---- */
static void core_listeners_enable(net_core_t *core, bool on)
{
    for (unsigned i = 0; i < core->n_bound; i++) {
        struct evconnlistener *l = evhttp_bound_socket_get_listener(core->bound[i]);
        if (on)
            evconnlistener_enable(l);
        else
            evconnlistener_disable(l);
    }
    core->paused = !on;
}

void net_core_conn_closed(net_core_t *core)
{
    CET_ASSERT(net_core_conns(core) > 0);
    counter_add(&core->conns, -1);
    if (core->paused && !core->listeners_closed && net_core_conns(core) < core->conns_max)
        core_listeners_enable(core, true);
}

void net_core_conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    net_core_conn_closed(arg);
}

static struct bufferevent *core_bev_cb(struct event_base *base, void *arg)
{
    net_core_t *core = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev || core->n_pending >= core->conns_max) return bev; /* uncounted: cannot claim */
    bufferevent_incref(bev);
    core->pending[core->n_pending++] = bev;
    counter_add(&core->conns, 1);
    if (net_core_conns(core) >= core->conns_max && !core->paused)
        core_listeners_enable(core, false);
    if (core->n_pending == 1) event_active(core->claim_ev, EV_READ, 0);
    return bev;
}

/* Hooks the close callback of every connection built since the last claim. */
static void core_claim(net_core_t *core)
{
    for (unsigned i = 0; i < core->n_pending; i++) {
        struct bufferevent *bev = core->pending[i];
        void *cbarg = NULL;
        bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
        if (cbarg)
            evhttp_connection_set_closecb(cbarg, net_core_conn_closed_cb, core);
        else /* evhttp gave up on it already (bufferevent_free cleared cbarg) */
            net_core_conn_closed(core);
        bufferevent_decref(bev);
    }
    core->n_pending = 0;
}

static void core_claim_cb(evutil_socket_t fd, short what, void *arg)
{
    core_claim(arg);
}

/* ---- requests ---- */
static void reply_status(net_req_t *req, int status, const char *text)
{
    if (status == 503) net_req_add_header(req, "Retry-After", "1");
    net_reply_raw(req, status, NULL, text, strlen(text));
}

static void core_request_cb(struct evhttp_request *evreq, void *arg)
{
    net_core_t *core = arg;
    net_server_t *srv = core->srv;
    core_claim(core); /* a request never outruns its connection's claim */
    net_req_t *req = net_req_new(core, evreq);
    if (!req) return;
    counter_add(&core->inflight, 1);
    const char *path = net_req_path(req);
    bool draining = atomic_load_explicit(&srv->draining, memory_order_relaxed);
    if (strcmp(path, "/healthz") == 0) {
        net_req_set_route(req, "/healthz");
        if (draining)
            reply_status(req, 503, "{\"status\":\"draining\"}");
        else
            reply_status(req, 200, "{\"status\":\"ok\"}");
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
    net_core_read_done(core);
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
    for (unsigned i = 0; i < core->n_bound; i++)
        evhttp_del_accept_socket(core->http, core->bound[i]);
    core->n_bound = 0;
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
    if (bind(fd, (const struct sockaddr *)un, a->len) != 0 || listen(fd, CET_LISTEN_BACKLOG_MAX) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    *out = fd;
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
    if (a.is_unix) {
        rc = unix_listen_socket(&a, &shared);
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
        struct evhttp_bound_socket *b = evhttp_accept_socket_with_handle(core->http, fd);
        if (!b) {
            close(fd);
            if (a.is_unix && c + 1 < srv->ncores) close(shared);
            CET_ERROR("net: evhttp refused the socket of %s", spec);
            return EIO;
        }
        core->bound[core->n_bound++] = b;
    }
    if (!a.is_unix) addr_text(&a, srv->addrs[li], sizeof srv->addrs[li]);
    return 0;
}

/* ---- cores ---- */
static int core_new(net_server_t *srv, unsigned index, net_core_t **out)
{
    net_core_t *core = cet_calloc(1, sizeof *core);
    *out = core;
    core->srv = srv;
    core->index = index;
    core->conns_max =
        srv->opt.conns_per_core_max ? srv->opt.conns_per_core_max : CET_CONNS_PER_CORE_MAX;
    core->pending = cet_calloc(core->conns_max, sizeof *core->pending);
    core->base = event_base_new();
    if (!core->base) return ENOMEM;
    core->http = evhttp_new(core->base);
    core->claim_ev = event_new(core->base, -1, 0, core_claim_cb, core);
    core->ctl_ev = event_new(core->base, -1, 0, core_ctl_cb, core);
    core->done_ev = event_new(core->base, -1, 0, core_done_cb, core);
    if (!core->http || !core->claim_ev || !core->ctl_ev || !core->done_ev) return ENOMEM;
    size_t hard = CET_BODY_HARD_BYTES_MAX;
    if (srv->opt.upload_path && srv->opt.upload_bytes_max > hard) hard = srv->opt.upload_bytes_max;
    evhttp_set_max_body_size(core->http, (ev_ssize_t)hard);
    evhttp_set_max_headers_size(core->http, CET_HEADERS_BYTES_MAX);
    evhttp_set_timeout(core->http, CET_HTTP_TIMEOUT_S);
    /* every method libevent parses reaches the router, which answers the ones no
     * route takes with a JSON 405 (libevent itself would send an HTML 501) */
    evhttp_set_allowed_methods(core->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                               EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                               EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                               EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(core->http, "application/json; charset=utf-8");
    evhttp_set_bevcb(core->http, core_bev_cb, core);
    evhttp_set_gencb(core->http, core_request_cb, core);
    core->mailbox = store_mailbox_new(core->base);
    if (!core->mailbox) return ENOMEM;
    if (srv->opt.store) {
        int rc = store_read_begin(srv->opt.store, &core->rtxn);
        if (rc) {
            CET_WARN("net: core %u: no read txn yet: %s", index, store_strerror(rc));
            core->rtxn = NULL;
        } else {
            mdb_txn_reset(core->rtxn);
        }
    }
    return 0;
}

static void core_free(net_core_t *core)
{
    if (!core) return;
    if (core->http) evhttp_free(core->http); /* close callbacks still see core */
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
    for (unsigned i = 0; i < core->n_pending; i++)
        bufferevent_decref(core->pending[i]);
    core->n_pending = 0;
    if (core->claim_ev) event_free(core->claim_ev);
    if (core->ctl_ev) event_free(core->ctl_ev);
    if (core->done_ev) event_free(core->done_ev);
    if (core->mailbox) store_mailbox_free(core->mailbox);
    if (core->rtxn) mdb_txn_abort(core->rtxn);
    while (core->free_reqs) {
        net_req_t *r = core->free_reqs;
        core->free_reqs = r->next_free;
        cet_free(r);
    }
    if (core->base) event_base_free(core->base);
    cet_free(core->pending);
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
    for (unsigned li = 0; li < CET_LISTENERS_MAX; li++)
        if (srv->unix_paths[li][0]) unlink(srv->unix_paths[li]);
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
