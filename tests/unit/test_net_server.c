/*
 * test_net_server.c: the real net server on 127.0.0.1 (free port) and a unix
 * socket, spoken to over raw sockets: /healthz, /metrics, the handler path,
 * JSON errors, body limits, the per-core connection cap, clients that leave
 * before a delayed reply, the pool, X-Forwarded-For on the unix listener, an
 * 8 MiB answer by reference to a slow reader and to one that resets, field
 * values that would split an answer, and drain. Run it under CET_SANITIZE to turn memory errors into failures.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "cet_test.h"
#include "base/cet_base.h"
#include "net/net.h"

#define CONNS_CAP 6

static _Atomic int delayed_replies;
static _Atomic int hung;

/* ---- the application under test ---- */
#define BIG_BYTES (8u << 20)
static char big_body[BIG_BYTES];
static _Atomic int big_done; /* net_reply_ref's done callbacks */

static void big_done_cb(const void *body, size_t len, void *arg)
{
    (void)arg;
    if (body == big_body && len == BIG_BYTES) atomic_fetch_add(&big_done, 1);
}

typedef struct delayed {
    net_req_t *req;
    struct event *ev;
} delayed_t;

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
    delayed_t *d = arg;
    event_free(d->ev);
    net_reply_raw(d->req, 200, NULL, "{\"late\":true}", 13);
    cet_free(d);
    atomic_fetch_add(&delayed_replies, 1);
}

typedef struct pool_job {
    net_work_t w;
    net_req_t *req;
    const char *result;
} pool_job_t;

static void job_work_cb(net_work_t *w)
{
    pool_job_t *j = (pool_job_t *)w;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
    j->result = "pooled";
}

static void job_done_cb(net_work_t *w)
{
    pool_job_t *j = (pool_job_t *)w;
    char text[64];
    int n = snprintf(text, sizeof text, "{\"result\":\"%s\",\"core\":%u}", j->result,
                     net_core_index(net_req_core(j->req)));
    net_reply_raw(j->req, 200, NULL, text, (size_t)n);
    cet_free(j);
}

static void app_handler(net_req_t *req, void *app)
{
    const char *path = net_req_path(req);
    if (strcmp(path, "/echo") == 0 && net_req_method(req) == NET_POST) {
        net_req_set_route(req, "POST /echo");
        static const char *const allowed[] = {"msg", NULL};
        json_t *body;
        const char *field;
        cet_err_t e = net_req_json(req, allowed, &body, &field);
        if (e) {
            net_reply_error(req, e, field);
            return;
        }
        const char *msg;
        e = net_json_str(body, "msg", true, &msg);
        if (e) {
            json_decref(body);
            net_reply_error(req, e, "msg");
            return;
        }
        net_reply_json(req, 200, json_pack("{s:s}", "echo", msg));
        json_decref(body);
        return;
    }
    if (strcmp(path, "/delay") == 0) {
        net_req_set_route(req, "GET /delay");
        delayed_t *d = cet_malloc(sizeof *d);
        d->req = req;
        d->ev = evtimer_new(net_core_base(net_req_core(req)), delayed_cb, d);
        struct timeval tv = {0, 200000};
        evtimer_add(d->ev, &tv);
        return;
    }
    if (strcmp(path, "/pool") == 0) {
        pool_job_t *j = cet_calloc(1, sizeof *j);
        j->w.work_cb = job_work_cb;
        j->w.done_cb = job_done_cb;
        j->req = req;
        cet_err_t e = net_pool_submit(net_req_core(req), &j->w);
        if (e) {
            cet_free(j);
            net_reply_error(req, e, NULL);
        }
        return;
    }
    if (strcmp(path, "/client") == 0) {
        net_reply_json(req, 200, json_pack("{s:s}", "client", net_req_client(req)));
        return;
    }
    if (strcmp(path, "/query") == 0) {
        const char *k = net_req_query(req, "kind");
        net_req_add_header(req, "X-Test", "yes");
        net_reply_json(req, 200, json_pack("{s:s?}", "kind", k));
        return;
    }
    if (strcmp(path, "/big") == 0) { /* more than a socket takes at once, by reference */
        for (size_t i = 0; i < BIG_BYTES; i++)
            big_body[i] = (char)('a' + i % 26);
        net_reply_ref(req, 200, "text/plain", big_body, BIG_BYTES, big_done_cb, NULL);
        return;
    }
    if (strcmp(path, "/inject") == 0) { /* a value that would split the answer: dropped */
        net_req_add_header(req, "X-Bad", "a\r\nSet-Cookie: evil=1");
        net_req_add_header(req, "X-Good", "kept");
        net_reply_raw(req, 200, NULL, "{}", 2);
        return;
    }
    if (strcmp(path, "/hang") == 0) { /* never answered: the server must clean up */
        atomic_fetch_add(&hung, 1);
        return;
    }
    if (strcmp(path, "/busy") == 0) {
        net_reply_error(req, CET_E_OVERLOADED, NULL);
        return;
    }
    net_metrics_count("test_unknown_paths", 1);
    net_reply_error(req, CET_E_NOT_FOUND, NULL);
}

static void app_metrics(struct evbuffer *out, void *app)
{
    evbuffer_add_printf(out, "cetd_test_app_line 7\n");
}

/* ---- a tiny HTTP/1.1 client ---- */
static struct sockaddr_in tcp_addr;
static char unix_path[108];

static int connect_tcp(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr *)&tcp_addr, sizeof tcp_addr) != 0) {
        perror("connect");
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_unix(void)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, unix_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr *)&un, sizeof un) != 0) {
        perror("connect unix");
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct resp {
    int status;
    char head[4096];
    char body[65536];
    size_t body_len;
} resp_t;

/* Reads one response (Content-Length framed) within timeout_ms; 0 ok, -1 none. */
static int read_resp(int fd, resp_t *r, int timeout_ms)
{
    static _Thread_local char buf[1 << 17];
    size_t n = 0;
    memset(r, 0, sizeof *r);
    char *end = NULL;
    size_t want = 0;
    for (;;) {
        if (end && n >= want) break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) return -1;
        ssize_t got = recv(fd, buf + n, sizeof buf - n - 1, 0);
        if (got <= 0) {
            if (end) break;
            return -1;
        }
        n += (size_t)got;
        buf[n] = 0;
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            size_t hlen = (size_t)(end - buf) + 4;
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t clen = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
            want = hlen + clen;
        }
    }
    size_t hlen = (size_t)(end - buf) + 4;
    memcpy(r->head, buf, hlen < sizeof r->head ? hlen : sizeof r->head - 1);
    r->body_len = want - hlen;
    memcpy(r->body, buf + hlen, r->body_len);
    r->body[r->body_len] = 0;
    sscanf(buf, "HTTP/1.%*d %d", &r->status);
    return 0;
}

static int request_on(int fd, const char *method, const char *path, const char *extra,
                      const char *body, resp_t *r)
{
    static _Thread_local char req[1 << 17];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n",
                     method, path, extra ? extra : "", blen);
    if ((size_t)n + blen < sizeof req) { /* one write: no Nagle / delayed-ACK stall */
        memcpy(req + n, body ? body : "", blen);
        n += (int)blen;
        blen = 0;
    }
    if (send_all(fd, req, (size_t)n) || (blen && send_all(fd, body, blen))) return -1;
    return read_resp(fd, r, 3000);
}

static int request(const char *method, const char *path, const char *extra, const char *body,
                   resp_t *r)
{
    int fd = connect_tcp();
    if (fd < 0) return -1;
    int rc = request_on(fd, method, path, extra, body, r);
    close(fd);
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- tests ---- */
static void test_basics(void)
{
    resp_t r;
    CHECK_EQ(request("GET", "/healthz", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 200);
    CHECK(strcmp(r.body, "{\"status\":\"ok\"}") == 0);
    CHECK(strcasestr(r.head, "Content-Type: application/json; charset=utf-8"));
    CHECK(strcasestr(r.head, "Cache-Control: no-store"));

    CHECK_EQ(request("GET", "/nope", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 404);
    CHECK(strstr(r.body, "\"code\":\"not_found\""));
    CHECK(strstr(r.body, "\"message\":"));

    CHECK_EQ(request("POST", "/echo", "Content-Type: application/json\r\n", "{\"msg\":\"hi\"}", &r),
             0);
    CHECK_EQ(r.status, 200);
    CHECK(strcmp(r.body, "{\"echo\":\"hi\"}") == 0);

    CHECK_EQ(request("POST", "/echo", NULL, "{\"msg\":\"hi\",\"x\":1}", &r), 0);
    CHECK_EQ(r.status, 400);
    CHECK(strstr(r.body, "\"code\":\"unknown_field\""));
    CHECK(strstr(r.body, "\"field\":\"x\""));

    CHECK_EQ(request("POST", "/echo", NULL, "{\"msg\":", &r), 0);
    CHECK_EQ(r.status, 400);
    CHECK(strstr(r.body, "malformed_json"));

    CHECK_EQ(request("POST", "/echo", "Content-Type: text/plain\r\n", "{\"msg\":\"a\"}", &r), 0);
    CHECK_EQ(r.status, 415);

    CHECK_EQ(request("GET", "/busy", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 503);
    CHECK(strcasestr(r.head, "Retry-After: 1"));

    CHECK_EQ(request("GET", "/query?kind=oral&x=1", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 200);
    CHECK(strcmp(r.body, "{\"kind\":\"oral\"}") == 0);
    CHECK(strcasestr(r.head, "X-Test: yes"));

    CHECK_EQ(request("GET", "/%68ealthz", NULL, NULL, &r), 0); /* decoded path */
    CHECK_EQ(r.status, 200);
    CHECK_EQ(request("GET", "/a%00b", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 400);

    CHECK_EQ(request("GET", "/client", NULL, NULL, &r), 0);
    CHECK(strcmp(r.body, "{\"client\":\"127.0.0.1\"}") == 0);

    CHECK_EQ(request("PATCH", "/echo", NULL, NULL, &r), 0); /* not an allowed method */
    CHECK(r.status >= 400);

    /* keep-alive: three requests on one connection */
    int fd = connect_tcp();
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(request_on(fd, "GET", "/healthz", NULL, NULL, &r), 0);
        CHECK_EQ(r.status, 200);
    }
    close(fd);
}

/* Reads fd until the server closes (or 3 s pass quietly) into a new buffer; its length in *n. */
static char *read_to_close(int fd, size_t cap, size_t *n)
{
    char *got = malloc(cap);
    *n = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0) break;
        ssize_t k = recv(fd, got + *n, cap - *n, 0);
        if (k <= 0) break;
        *n += (size_t)k;
    }
    close(fd);
    return got;
}

/* An 8 MiB answer by reference to a client that reads late: all of it, in
 * order, and its done callback once; a client that leaves mid-answer: the
 * callback still runs once. A field value with a line break never splits an
 * answer. */
static void test_big_and_fields(void)
{
    int fd = connect_tcp();
    CHECK(fd >= 0);
    const char *get = "GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    CHECK_EQ(send_all(fd, get, strlen(get)), 0);
    sleep_ms(300); /* the socket's buffers fill; the rest waits for the write event */
    size_t n;
    char *got = read_to_close(fd, BIG_BYTES + 4096, &n);
    char *body = memmem(got, n, "\r\n\r\n", 4);
    CHECK(body != NULL);
    if (body) {
        body += 4;
        CHECK_EQ((size_t)(got + n - body), (size_t)BIG_BYTES);
        CHECK(memcmp(body, big_body, BIG_BYTES) == 0);
        CHECK(memmem(got, (size_t)(body - got), "Content-Length: 8388608\r\n", 25) != NULL);
    }
    free(got);
    for (int i = 0; i < 100 && atomic_load(&big_done) < 1; i++)
        sleep_ms(10);
    CHECK_EQ(atomic_load(&big_done), 1);
    /* a client that reads a little and resets */
    fd = connect_tcp();
    CHECK_EQ(send_all(fd, get, strlen(get)), 0);
    char some[1024];
    CHECK(recv(fd, some, sizeof some, 0) > 0);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    for (int i = 0; i < 300 && atomic_load(&big_done) < 2; i++)
        sleep_ms(10);
    CHECK_EQ(atomic_load(&big_done), 2);
    /* a client that half-closes once its request is out still gets all of the answer */
    fd = connect_tcp();
    const char *get_ka = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
    CHECK_EQ(send_all(fd, get_ka, strlen(get_ka)), 0);
    sleep_ms(100); /* the answer is queued: more than the socket takes */
    shutdown(fd, SHUT_WR);
    got = read_to_close(fd, BIG_BYTES + 4096, &n);
    body = memmem(got, n, "\r\n\r\n", 4);
    CHECK(body != NULL);
    if (body) CHECK_EQ((size_t)(got + n - body - 4), (size_t)BIG_BYTES);
    free(got);
    for (int i = 0; i < 100 && atomic_load(&big_done) < 3; i++)
        sleep_ms(10);
    CHECK_EQ(atomic_load(&big_done), 3);
    /* header injection */
    resp_t r;
    CHECK_EQ(request("GET", "/inject", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 200);
    CHECK(strstr(r.head, "evil") == NULL);
    CHECK(strstr(r.head, "X-Bad") == NULL);
    CHECK(strstr(r.head, "\r\nX-Good: kept\r\n") != NULL);
    /* the server still serves */
    CHECK_EQ(request("GET", "/healthz", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 200);
}

/* Pipelined behind an answer that comes later (/delay): a request whose body
 * fills the input buffer while the first is handled, then a third. All three
 * are answered, in order (the read must resume for the body's rest). */
static void test_pipelined_body(void)
{
    static char msg[CET_BODY_BYTES_MAX - 64];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = 0;
    static char reqs[3 * CET_BODY_BYTES_MAX];
    size_t blen = strlen(msg) + 10;
    int n = snprintf(reqs, sizeof reqs,
                     "GET /delay HTTP/1.1\r\nHost: t\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n{\"msg\":\"%s\"}"
                     "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     blen, msg);
    CHECK(n > CET_CONN_INPUT_BYTES);
    int fd = connect_tcp();
    CHECK_EQ(send_all(fd, reqs, (size_t)n), 0);
    /* the last request says Connection: close; everything up to the close, then split */
    static char got[4 * CET_BODY_BYTES_MAX];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0) break;
        ssize_t k = recv(fd, got + len, sizeof got - 1 - len, 0);
        if (k <= 0) break;
        len += (size_t)k;
    }
    close(fd);
    got[len] = 0;
    int status[3] = {0, 0, 0};
    size_t body_len[3] = {0, 0, 0};
    const char *p = got;
    for (int i = 0; i < 3 && p < got + len; i++) {
        const char *end = strstr(p, "\r\n\r\n");
        if (!end) break;
        sscanf(p, "HTTP/1.1 %d", &status[i]);
        const char *cl = strcasestr(p, "\r\nContent-Length:");
        body_len[i] = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        p = end + 4 + body_len[i];
    }
    CHECK_EQ(status[0], 200);
    CHECK_EQ(body_len[0], (size_t)13); /* {"late":true} */
    CHECK_EQ(status[1], 200);
    CHECK_EQ(body_len[1], strlen(msg) + 11); /* {"echo":"..."} */
    CHECK_EQ(status[2], 200);
    CHECK_EQ(body_len[2], strlen("{\"status\":\"ok\"}"));
    CHECK(p == got + len); /* nothing else, and the server closed */
}

static void test_body_limits(void)
{
    resp_t r;
    static char big[CET_BODY_BYTES_MAX + 100];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ(request("POST", "/echo", NULL, big, &r), 0);
    CHECK_EQ(r.status, 413);
    CHECK(strstr(r.body, "body_too_large"));
    /* far beyond the limit: 413 from the head (and the connection closes; the
     * body the client still sends is read and dropped, so the answer arrives) */
    static char huge[CET_BODY_HARD_BYTES_MAX + 100];
    memset(huge, 'a', sizeof huge - 1);
    huge[sizeof huge - 1] = 0;
    int fd = connect_tcp();
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", strlen(huge));
    send_all(fd, head, (size_t)n);
    send_all(fd, huge, strlen(huge)); /* may fail once the server closes */
    CHECK_EQ(read_resp(fd, &r, 3000), 0);
    CHECK_EQ(r.status, 413);
    close(fd);
    /* the server still serves */
    CHECK_EQ(request("GET", "/healthz", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 200);
}

static void test_metrics(void)
{
    resp_t r;
    CHECK_EQ(request("GET", "/metrics", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 200);
    CHECK(strcasestr(r.head, "Content-Type: text/plain"));
    CHECK(strstr(r.body, "cetd_requests_total{route=\"/healthz\",status=\"200\"}"));
    CHECK(strstr(r.body, "cetd_requests_total{route=\"POST /echo\",status=\"400\"}"));
    CHECK(strstr(r.body, "cetd_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"}"));
    CHECK(strstr(r.body, "cetd_request_duration_seconds_count{route=\"/healthz\"}"));
    CHECK(strstr(r.body, "cetd_connections "));
    CHECK(strstr(r.body, "cetd_pool_queue 0"));
    CHECK(strstr(r.body, "cetd_test_unknown_paths_total "));
    CHECK(strstr(r.body, "cetd_test_app_line 7"));
}

static void test_pool(void)
{
    resp_t r;
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(request("GET", "/pool", NULL, NULL, &r), 0);
        CHECK_EQ(r.status, 200);
        CHECK(strstr(r.body, "\"result\":\"pooled\""));
    }
}

/* Clients that leave before a delayed reply: the reply must land harmlessly. */
static void test_gone_clients(void)
{
    int before = atomic_load(&delayed_replies);
    for (int i = 0; i < 8; i++) {
        int fd = connect_tcp();
        const char *req = "GET /delay HTTP/1.1\r\nHost: t\r\n\r\n";
        send_all(fd, req, strlen(req));
        sleep_ms(20);
        if (i % 2) { /* abort with RST instead of FIN */
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(fd);
    }
    sleep_ms(600);
    CHECK_EQ(atomic_load(&delayed_replies) - before, 8);
    resp_t r;
    CHECK_EQ(request("GET", "/healthz", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 200);
    /* and a patient client gets the late answer */
    CHECK_EQ(request("GET", "/delay", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 200);
    CHECK(strcmp(r.body, "{\"late\":true}") == 0);
}

/* One core, cap CONNS_CAP: the next connection waits until one closes. */
static void test_conn_cap(void)
{
    int idle[CONNS_CAP];
    resp_t r;
    for (int i = 0; i < CONNS_CAP; i++) {
        idle[i] = connect_tcp();
        CHECK_EQ(request_on(idle[i], "GET", "/healthz", NULL, NULL, &r), 0);
    }
    int extra = connect_tcp(); /* the kernel completes it into the backlog */
    CHECK(extra >= 0);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(extra, req, strlen(req));
    CHECK_EQ(read_resp(extra, &r, 400), -1); /* not accepted while at the cap */
    close(idle[0]);
    CHECK_EQ(read_resp(extra, &r, 3000), 0); /* accepted once one left */
    CHECK_EQ(r.status, 200);
    for (int i = 1; i < CONNS_CAP; i++)
        close(idle[i]);
    close(extra);
    sleep_ms(100);
    CHECK_EQ(request("GET", "/metrics", NULL, NULL, &r), 0);
    CHECK(strstr(r.body, "cetd_connections 1\n")); /* only the scraping one */
}

/* --trusted-proxy blocks: parse and membership, v4 and v6, odd prefixes. */
static void test_cidr(void)
{
    net_cidr_t c;
    CHECK_EQ(net_cidr_parse("10.0.0.0/8", &c), 0);
    CHECK(net_cidr_contains(&c, "10.255.1.2"));
    CHECK(!net_cidr_contains(&c, "11.0.0.1"));
    CHECK(!net_cidr_contains(&c, "::ffff:10.0.0.1")); /* another family */
    CHECK_EQ(net_cidr_parse("192.0.2.7", &c), 0); /* a host: /32 */
    CHECK(net_cidr_contains(&c, "192.0.2.7"));
    CHECK(!net_cidr_contains(&c, "192.0.2.8"));
    CHECK_EQ(net_cidr_parse("172.16.0.0/12", &c), 0);
    CHECK(net_cidr_contains(&c, "172.31.255.255"));
    CHECK(!net_cidr_contains(&c, "172.32.0.0"));
    CHECK_EQ(net_cidr_parse("2001:db8::/33", &c), 0);
    CHECK(net_cidr_contains(&c, "2001:db8:7fff::1"));
    CHECK(!net_cidr_contains(&c, "2001:db8:8000::1"));
    CHECK_EQ(net_cidr_parse("0.0.0.0/0", &c), 0);
    CHECK(net_cidr_contains(&c, "203.0.113.9"));
    CHECK(!net_cidr_contains(&c, "not-an-ip"));
    CHECK_EQ(net_cidr_parse("10.0.0.0/33", &c), EINVAL);
    CHECK_EQ(net_cidr_parse("10.0.0.0/", &c), EINVAL);
    CHECK_EQ(net_cidr_parse("/8", &c), EINVAL);
    CHECK_EQ(net_cidr_parse("10.0.0/8", &c), EINVAL);
    CHECK_EQ(net_cidr_parse("::1/129", &c), EINVAL);
}

static void test_unix(void)
{
    resp_t r;
    int fd = connect_unix();
    CHECK(fd >= 0);
    CHECK_EQ(request_on(fd, "GET", "/client", NULL, NULL, &r), 0);
    CHECK(strcmp(r.body, "{\"client\":\"unix\"}") == 0);
    CHECK_EQ(request_on(fd, "GET", "/client", "X-Forwarded-For: 6.6.6.6, 10.1.2.3\r\n", NULL, &r),
             0);
    CHECK(strcmp(r.body, "{\"client\":\"10.1.2.3\"}") == 0);
    CHECK_EQ(request_on(fd, "GET", "/client", "X-Forwarded-For: ::1\r\n", NULL, &r), 0);
    CHECK(strcmp(r.body, "{\"client\":\"::1\"}") == 0);
    /* the last X-Forwarded-For field counts, written as inet_ntop writes it */
    CHECK_EQ(request_on(fd, "GET", "/client",
                        "X-Forwarded-For: 7.7.7.7\r\nX-Forwarded-For: 1.2.3.4, 2001:DB8::0:1\r\n",
                        NULL, &r),
             0);
    CHECK(strcmp(r.body, "{\"client\":\"2001:db8::1\"}") == 0);
    /* an address that is not one, or a field too long to read: 400, never "unix" */
    CHECK_EQ(request_on(fd, "GET", "/client", "X-Forwarded-For: 1.2.3.4, <evil>\r\n", NULL, &r), 0);
    CHECK_EQ(r.status, 400);
    CHECK(strstr(r.body, "\"bad_request\"") != NULL);
    CHECK_EQ(request_on(fd, "GET", "/client", "X-Forwarded-For: 1.2.3.4 5.6.7.8\r\n", NULL, &r), 0);
    CHECK_EQ(r.status, 400);
    static char big[CET_XFF_BYTES_MAX + 64];
    int n = snprintf(big, sizeof big, "X-Forwarded-For: ");
    while (n < CET_XFF_BYTES_MAX + 20)
        n += snprintf(big + n, sizeof big - (size_t)n, "9.9.9.9, ");
    snprintf(big + n, sizeof big - (size_t)n, "10.1.2.3\r\n");
    CHECK_EQ(request_on(fd, "GET", "/client", big, NULL, &r), 0);
    CHECK_EQ(r.status, 400);
    CHECK_EQ(request_on(fd, "GET", "/client", NULL, NULL, &r), 0); /* the connection goes on */
    CHECK(strcmp(r.body, "{\"client\":\"unix\"}") == 0);
    close(fd);
}

typedef struct drain_arg {
    net_server_t *srv;
    uint64_t took_ms;
} drain_arg_t;

static void *drain_main(void *arg)
{
    drain_arg_t *d = arg;
    uint64_t t0 = cet_mono_ns();
    net_server_drain(d->srv, 3000);
    d->took_ms = (cet_mono_ns() - t0) / 1000000;
    return NULL;
}

/* Drain waits for the in-flight delayed reply; healthz turns 503 meanwhile. */
static void test_drain(net_server_t *srv)
{
    resp_t r;
    int keep = connect_tcp();
    CHECK_EQ(request_on(keep, "GET", "/healthz", NULL, NULL, &r), 0);
    int slow = connect_tcp();
    const char *req = "GET /delay HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(slow, req, strlen(req));
    sleep_ms(30);
    drain_arg_t d = {srv, 0};
    pthread_t t;
    pthread_create(&t, NULL, drain_main, &d);
    sleep_ms(50);
    CHECK_EQ(request_on(keep, "GET", "/healthz", NULL, NULL, &r), 0);
    CHECK_EQ(r.status, 503);
    CHECK(strcmp(r.body, "{\"status\":\"draining\"}") == 0);
    CHECK_EQ(read_resp(slow, &r, 3000), 0);
    CHECK_EQ(r.status, 200);
    pthread_join(t, NULL);
    CHECK(d.took_ms >= 50 && d.took_ms < 2500);
    CHECK(connect_tcp() < 0); /* listeners closed */
    close(keep);
    close(slow);
}

static void *burst_main(void *arg)
{
    int *ok = arg;
    int fd = connect_tcp();
    resp_t *r = cet_malloc(sizeof *r);
    for (int i = 0; i < 300 && fd >= 0; i++) {
        const char *path = i % 3 == 0 ? "/pool" : "/echo";
        if (request_on(fd, "POST", path, NULL, "{\"msg\":\"x\"}", r) == 0 && r->status == 200)
            (*ok)++;
    }
    cet_free(r);
    if (fd >= 0) close(fd);
    return NULL;
}

static bool ipv6_ok(void)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&in6, sizeof in6) == 0;
    if (fd >= 0) close(fd);
    if (!ok) printf("no IPv6 loopback here: [::1] listener not tested\n");
    return ok;
}

/* A server freed while requests wait: closing their connections marks them gone,
 * the requests are marked gone and freed with the core (ASan/LSan watch). */
static void test_free_with_pending(void)
{
    net_options_t opt = {0};
    opt.listen[0] = "127.0.0.1:0";
    opt.n_listen = 1;
    if (ipv6_ok()) opt.listen[opt.n_listen++] = "[::1]:0";
    opt.threads = 2;
    opt.handler = app_handler;
    net_server_t *srv = NULL;
    CHECK_EQ(net_server_start(&opt, &srv), 0);
    if (!srv) return;
    struct sockaddr_in saved = tcp_addr;
    tcp_addr.sin_port = htons((uint16_t)atoi(net_server_address(srv, 0) + 10));
    if (opt.n_listen == 2) { /* IPv6 loopback, when the host has it */
        const char *a6 = net_server_address(srv, 1);
        CHECK(a6 && strncmp(a6, "[::1]:", 6) == 0);
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        in6.sin6_port = htons((uint16_t)atoi(a6 + 6));
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        CHECK_EQ(connect(fd, (struct sockaddr *)&in6, sizeof in6), 0);
        resp_t r6;
        CHECK_EQ(request_on(fd, "GET", "/client", NULL, NULL, &r6), 0);
        CHECK(strcmp(r6.body, "{\"client\":\"::1\"}") == 0);
        close(fd);
    }
    pthread_t t[4];
    int ok[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, burst_main, &ok[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(ok[i], 300);

    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = connect_tcp();
        const char *req = "GET /hang?x=1 HTTP/1.1\r\nHost: t\r\n\r\n";
        send_all(fds[i], req, strlen(req));
    }
    for (int i = 0; i < 100 && atomic_load(&hung) < 4; i++)
        sleep_ms(10);
    CHECK_EQ(atomic_load(&hung), 4);
    uint64_t t0 = cet_mono_ns();
    net_server_drain(srv, 150); /* times out: nobody answers /hang */
    CHECK((cet_mono_ns() - t0) / 1000000 >= 140);
    net_server_free(srv);
    resp_t r;
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(read_resp(fds[i], &r, 1000), -1); /* closed without an answer */
        close(fds[i]);
    }
    tcp_addr = saved;
}

int main(void)
{
    snprintf(unix_path, sizeof unix_path, "/tmp/cet-net-test-%d.sock", (int)getpid());
    char unix_spec[128];
    snprintf(unix_spec, sizeof unix_spec, "unix:%s", unix_path);
    net_options_t opt = {0};
    opt.listen[0] = "127.0.0.1:0";
    opt.listen[1] = unix_spec;
    opt.n_listen = 2;
    opt.threads = 1;
    opt.workers = 2;
    opt.handler = app_handler;
    opt.metrics = app_metrics;
    opt.conns_per_core_max = CONNS_CAP;
    net_server_t *srv = NULL;
    int rc = net_server_start(&opt, &srv);
    CHECK_EQ(rc, 0);
    if (rc) return cet_test_done("test_net_server");
    const char *addr = net_server_address(srv, 0);
    CHECK(addr && strncmp(addr, "127.0.0.1:", 10) == 0);
    CHECK(strcmp(net_server_address(srv, 1), unix_spec) == 0);
    CHECK(net_server_address(srv, 2) == NULL);
    tcp_addr.sin_family = AF_INET;
    tcp_addr.sin_port = htons((uint16_t)atoi(addr + 10));
    inet_pton(AF_INET, "127.0.0.1", &tcp_addr.sin_addr);

    test_basics();
    test_body_limits();
    test_big_and_fields();
    test_pipelined_body();
    test_pool();
    test_gone_clients();
    test_conn_cap();
    test_unix();
    test_cidr();
    test_metrics();
    test_drain(srv);
    net_server_free(srv);
    CHECK(access(unix_path, F_OK) != 0); /* socket file removed */
    test_free_with_pending();
    return cet_test_done("test_net_server");
}
