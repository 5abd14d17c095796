/*
 * net_server.c: the cores of cetd, from listen() to the handler.
 *
 * The accept path, as a chain of named handlers:
 *   listen_open        one SO_REUSEPORT socket per core (TCP, after port_lock
 *                      and port_probe: nobody else holds the port), or one
 *                      unix socket shared by dup(); each core has one
 *                      evconnlistener per listener (net_lsn_t), so each
 *                      listener has its own connection budget
 *   lsn_accept_cb      counts the connection against its listener, pauses
 *                      that listener at its cap, hands the socket to
 *                      net_conn_open (net_http.c: HTTP/1.1 from here)
 *   net_core_dispatch  a whole request: net_req_prepare, then /healthz,
 *                      /metrics or the application's handler
 *   net_reply_*        (net_req.c) sends and recycles the request
 *
 * Threads: net_server_start and net_server_drain/free run on the main thread;
 * everything else here runs on a core's own thread, except net_core_work_done
 * (pool threads), which only pushes to a lock-free list and event_active()s.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
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
size_t net_core_body_max(const net_core_t *core, net_method_t method, const char *uri)
{
    const net_options_t *o = &core->srv->opt;
    if (o->body_max && uri) {
        char path[CET_PATH_BYTES_MAX];
        size_t n = strcspn(uri, "?");
        size_t m = 0;
        if (n < sizeof path) {
            memcpy(path, uri, n);
            path[n] = 0;
            m = o->body_max(method, path);
        }
        if (m) return m < CET_BODY_HARD_BYTES_MAX ? m : CET_BODY_HARD_BYTES_MAX;
    }
    if (!o->upload_path || method != NET_POST || !uri) return CET_BODY_BYTES_MAX;
    size_t n = strlen(o->upload_path);
    if (strncmp(uri, o->upload_path, n) != 0 || (uri[n] && uri[n] != '?'))
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
    if (!l->el) return;
    if (on)
        evconnlistener_enable(l->el);
    else
        evconnlistener_disable(l->el);
    l->paused = !on;
}

void net_lsn_conn_closed(net_lsn_t *l)
{
    CET_ASSERT(atomic_load_explicit(&l->conns, memory_order_relaxed) > 0);
    counter_add(&l->conns, -1);
    if (l->paused && !l->core->listeners_closed &&
        atomic_load_explicit(&l->conns, memory_order_relaxed) < l->conns_max)
        lsn_enable(l, true);
}

void net_server_deadline_close(net_core_t *core)
{
    atomic_fetch_add_explicit(&core->srv->deadline_closes, 1, memory_order_relaxed);
}

/* An accept failed for a reason other than a connection gone before it was
 * taken: out of descriptors (EMFILE, ENFILE) or memory. The listening socket
 * stays readable, so it is left alone for CET_ACCEPT_RETRY_MS instead of
 * being retried in a loop; a connection that closes meanwhile re-enables it. */
static void lsn_error_cb(struct evconnlistener *el, void *arg)
{
    net_lsn_t *l = arg;
    int e = EVUTIL_SOCKET_ERROR();
    int64_t now = cet_now_ms();
    if (now - l->error_logged_ms >= 60000) {
        CET_WARN("net: accepting on %s: %s; the listener pauses %d ms at a time while it lasts",
                 l->core->srv->addrs[l->index], strerror(e), CET_ACCEPT_RETRY_MS);
        l->error_logged_ms = now;
    }
    (void)el;
    lsn_enable(l, false);
    static const struct timeval tv = {CET_ACCEPT_RETRY_MS / 1000, (CET_ACCEPT_RETRY_MS % 1000) * 1000};
    event_add(l->retry_ev, &tv);
}

static void lsn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    net_lsn_t *l = arg;
    (void)fd, (void)what;
    if (l->paused && !l->core->listeners_closed &&
        atomic_load_explicit(&l->conns, memory_order_relaxed) < l->conns_max)
        lsn_enable(l, true);
}

static void lsn_accept_cb(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    net_lsn_t *l = arg;
    (void)el;
    counter_add(&l->conns, 1);
    counter_add(&l->accepted, 1);
    if (atomic_load_explicit(&l->conns, memory_order_relaxed) >= l->conns_max && !l->paused)
        lsn_enable(l, false);
    net_conn_open(l, (int)fd, sa, salen);
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

void net_core_dispatch(net_core_t *core, net_req_t *req)
{
    net_server_t *srv = core->srv;
    cet_err_t bad = net_req_prepare(req);
    counter_add(&core->inflight, 1);
    cet_log_set_request_id(req->request_id);
    const char *path = net_req_path(req);
    bool draining = atomic_load_explicit(&srv->draining, memory_order_relaxed);
    if (bad) { /* a path that does not decode, an unusable X-Forwarded-For */
        net_req_set_route(req, "other");
        net_reply_error(req, bad, NULL);
    } else if (!req->method_known) {
        /* a method no RFC defines ("BREW"): no route can take it */
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
        if (l->el) evconnlistener_free(l->el);
        l->el = NULL;
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
        /* backlog 0: the socket listens already, with CET_LISTEN_BACKLOG_MAX (-1 would
         * listen() again with 128); accepted sockets come non-blocking */
        l->el = evconnlistener_new(core->base, lsn_accept_cb, l, LEV_OPT_CLOSE_ON_FREE, 0, fd);
        if (l->el) evconnlistener_set_error_cb(l->el, lsn_error_cb);
        if (!l->el) {
            close(fd);
            if (a.is_unix && c + 1 < srv->ncores) close(shared);
            CET_ERROR("net: libevent refused the socket of %s", spec);
            return EIO;
        }
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
    l->retry_ev = evtimer_new(core->base, lsn_retry_cb, l);
    return l->retry_ev ? 0 : ENOMEM;
}

static int core_new(net_server_t *srv, unsigned index, net_core_t **out)
{
    net_core_t *core = cet_calloc(1, sizeof *core);
    *out = core;
    core->srv = srv;
    core->index = index;
    core->base = event_base_new();
    if (!core->base) return ENOMEM;
    core->ctl_ev = event_new(core->base, -1, 0, core_ctl_cb, core);
    core->done_ev = event_new(core->base, -1, 0, core_done_cb, core);
    if (!core->ctl_ev || !core->done_ev) return ENOMEM;
    static const struct timeval read_tv = {CET_REQUEST_READ_MS / 1000,
                                           (CET_REQUEST_READ_MS % 1000) * 1000};
    static const struct timeval idle_tv = {CET_HTTP_TIMEOUT_S, 0};
    static const struct timeval linger_tv = {CET_LINGER_MS / 1000, (CET_LINGER_MS % 1000) * 1000};
    core->tv_read = event_base_init_common_timeout(core->base, &read_tv);
    core->tv_idle = event_base_init_common_timeout(core->base, &idle_tv);
    core->tv_linger = event_base_init_common_timeout(core->base, &linger_tv);
    if (!core->tv_read || !core->tv_idle || !core->tv_linger) return ENOMEM;
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
    /* the listeners go first: closing connections must not re-enable one */
    core->listeners_closed = true;
    for (unsigned li = 0; li < core->n_lsn; li++) {
        if (core->lsn[li].el) evconnlistener_free(core->lsn[li].el);
        core->lsn[li].el = NULL;
    }
    /* requests still being handled are marked gone by their connection's close */
    net_conn_close_all(core);
    /* Requests never answered (drain timed out): no loop will ever run their
     * completions, so they end here. */
    unsigned unanswered = 0;
    while (core->live) {
        net_req_t *r = core->live;
        CET_ASSERT(r->gone);
        core->live = r->live_next;
        net_req_clear(r);
        cet_free(r);
        unanswered++;
    }
    if (unanswered)
        CET_WARN("net: core %u: %u requests unanswered at shutdown", core->index, unanswered);
    for (unsigned li = 0; li < core->n_lsn; li++)
        if (core->lsn[li].retry_ev) event_free(core->lsn[li].retry_ev);
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
    net_conn_cache_free(core);
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
