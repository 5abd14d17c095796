/*
 * bench_main.c: cetbench's options, worker threads, schedule and progress.
 *
 * Path of one request: bench_thread_pump() takes the next piece of work
 * (a follow-up step first, else a new start from the scenario, at its
 * schedule slot in open loop) and bench_conn_send()s it on a free connection
 * slot; bench_http.c parses the answer and calls bench_thread_complete(),
 * which counts it (bench_stats_record), lets the scenario decide the next
 * step (bench_scen_done) and pumps again.
 */
#include "base/cet_version.h"
#include "bench/bench.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/ssl.h>

#include "base/cet_base.h"

#define BENCH_TICK_MS 100
#define BENCH_START_GRACE_MS 300   /* connections open before the first request */
#define BENCH_REQ_POOL_MAX 4000000 /* request objects one thread may hold */

static volatile sig_atomic_t g_interrupted;

static uint64_t now_ns(void)
{
    return cet_mono_ns();
}

/* ---- request pool ---- */

static _Thread_local uint64_t tl_reqs_allocated;

bench_req_t *bench_req_get(bench_thread_t *t)
{
    bench_req_t *r = t->free_reqs;
    if (r) {
        t->free_reqs = r->next;
    } else {
        CET_ASSERT(++tl_reqs_allocated <= BENCH_REQ_POOL_MAX);
        r = cet_malloc(sizeof *r);
    }
    memset(r, 0, offsetof(bench_req_t, resp));
    r->resp[0] = '\0';
    return r;
}

void bench_req_put(bench_thread_t *t, bench_req_t *r)
{
    r->next = t->free_reqs;
    t->free_reqs = r;
}

void bench_fifo_push(bench_thread_t *t, bench_req_t *r)
{
    r->next = NULL;
    if (t->fifo_tail)
        t->fifo_tail->next = r;
    else
        t->fifo_head = r;
    t->fifo_tail = r;
}

static bench_req_t *fifo_pop(bench_thread_t *t)
{
    bench_req_t *r = t->fifo_head;
    if (!r) return NULL;
    t->fifo_head = r->next;
    if (!t->fifo_head) t->fifo_tail = NULL;
    r->next = NULL;
    return r;
}

/* ---- schedule ---- */

static uint64_t slot_ns(const bench_thread_t *t, uint64_t k)
{
    return t->t0_ns + t->phase_ns + (uint64_t)((double)k * t->interval_ns);
}

static void thread_finish(bench_thread_t *t)
{
    if (t->finished) return;
    t->finished = true;
    event_base_loopbreak(t->base);
}

static void thread_check_done(bench_thread_t *t)
{
    if ((t->stopping || t->source_done) && t->inflight == 0 && !t->fifo_head) thread_finish(t);
}

static void thread_stop(bench_thread_t *t, uint64_t now)
{
    if (t->stopping) return;
    t->stopping = true;
    t->drain_end_ns = now + (uint64_t)BENCH_DRAIN_S * 1000000000u;
    if (t->interval_ns > 0 && !t->source_done) {
        /* schedule slots that fell due before the end but were never sent */
        uint64_t end = t->end_ns && t->end_ns < now ? t->end_ns : now;
        while (slot_ns(t, t->sched_k) < end) {
            t->stats.dropped++;
            t->sched_k++;
        }
    }
    bench_req_t *r;
    while ((r = fifo_pop(t)) != NULL)
        bench_req_put(t, r);
    thread_check_done(t);
}

/* The next request to send now, or NULL (then the schedule timer is armed if needed). */
static bench_req_t *thread_next(bench_thread_t *t, uint64_t now)
{
    bench_req_t *r = fifo_pop(t);
    if (r) return r;
    if (t->stopping || t->source_done || now < t->t0_ns) return NULL;
    if (t->request_quota && t->starts >= t->request_quota) {
        t->source_done = true;
        return NULL;
    }
    uint64_t intended = now;
    if (t->interval_ns > 0) {
        intended = slot_ns(t, t->sched_k);
        if (intended > now) {
            struct timeval tv = {0, (suseconds_t)((intended - now) / 1000u)};
            if (!evtimer_pending(t->sched, NULL)) evtimer_add(t->sched, &tv);
            return NULL;
        }
        if (t->end_ns && intended >= t->end_ns) return NULL;
    }
    r = bench_scen_start(t, intended);
    if (!r) {
        t->source_done = true;
        return NULL;
    }
    t->starts++;
    t->sched_k++;
    return r;
}

void bench_thread_pump(bench_thread_t *t)
{
    uint64_t now = now_ns();
    while (bench_conn_available(t)) {
        bench_req_t *r = thread_next(t, now);
        if (!r) break;
        r->sent_ns = now;
        t->issued++;
        bench_conn_send(t, r);
    }
    thread_check_done(t);
}

void bench_thread_complete(bench_thread_t *t, bench_req_t *r)
{
    uint64_t now = now_ns();
    bench_stats_record(&t->stats, r, t->t0_ns, now);
    t->last_done_ns = now;
    atomic_store_explicit(&t->prog_done, t->stats.all.count, memory_order_relaxed);
    if (r->status == 0 || r->status >= 400)
        atomic_fetch_add_explicit(&t->prog_fail, 1, memory_order_relaxed);
    bench_scen_done(t, r, now);
    bench_thread_pump(t);
}

static void sched_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench_thread_pump(arg);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench_thread_t *t = arg;
    uint64_t now = now_ns();
    if (g_interrupted && !t->stopping) thread_stop(t, now);
    if (!t->stopping && t->end_ns && now >= t->end_ns) thread_stop(t, now);
    if (t->stopping && now >= t->drain_end_ns) thread_finish(t);
    /* nothing ever connected: the target is not there */
    if (!t->stopping && t->stats.connects == 0 &&
        t->stats.conn_failures >= 20u * (t->n_conns ? t->n_conns : 1)) {
        CET_ERROR("cetbench: cannot connect to %s", t->cfg->target);
        thread_stop(t, now);
        thread_finish(t);
    }
    if (!t->stopping) bench_thread_pump(t);
}

static void *thread_main_cb(void *arg)
{
    bench_thread_t *t = arg;
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    t->base = event_base_new_with_config(ec);
    event_config_free(ec);
    CET_ASSERT(t->base != NULL);
    t->tick = event_new(t->base, -1, EV_PERSIST, tick_cb, t);
    t->sched = evtimer_new(t->base, sched_cb, t);
    struct timeval tv = {0, BENCH_TICK_MS * 1000};
    event_add(t->tick, &tv);
    uint64_t now = now_ns();
    if (t->t0_ns > now) {
        struct timeval st = {(time_t)((t->t0_ns - now) / 1000000000u),
                             (suseconds_t)(((t->t0_ns - now) % 1000000000u) / 1000u)};
        evtimer_add(t->sched, &st);
    }
    bench_conns_open(t);
    event_base_dispatch(t->base);
    t->stopping = true;
    bench_conns_close(t);
    bench_req_t *r;
    while ((r = fifo_pop(t)) != NULL)
        bench_req_put(t, r);
    while ((r = t->free_reqs) != NULL) {
        t->free_reqs = r->next;
        cet_free(r);
    }
    event_free(t->tick);
    event_free(t->sched);
    event_base_free(t->base);
    t->base = NULL;
    return NULL;
}

/* ---- candidates file ---- */

long bench_cands_load(const char *path, bench_cand_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cetbench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    long n = 0, cap = 1024, lineno = 0;
    bench_cand_t *v = cet_calloc((size_t)cap, sizeof *v);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        char *field[7];
        int nf = 0;
        char *p = line;
        while (nf < 7) {
            field[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf < 7) {
            /* a header row is fine; anything else short is not */
            if (lineno == 1 && strcmp(field[0], "token") == 0) continue;
            fprintf(stderr, "cetbench: %s:%ld: expected 7 tab-separated fields, got %d\n", path,
                    lineno, nf);
            free(line);
            fclose(f);
            bench_cands_free(v, n);
            return -1;
        }
        if (lineno == 1 && strcmp(field[0], "token") == 0) continue;
        if (n == BENCH_CANDIDATES_MAX) break;
        if (n == cap) {
            cap *= 2;
            v = cet_realloc(v, (size_t)cap * sizeof *v);
        }
        bench_cand_t *c = &v[n++];
        c->token = cet_strdup(field[0]);
        c->email = cet_strdup(field[1]);
        c->id_type = cet_strdup(field[2]);
        c->id_number = cet_strdup(field[3]);
        c->name = cet_strdup(field[4]);
        c->campus = cet_strdup(field[5]);
        c->subjects = cet_strdup(field[6]);
    }
    free(line);
    fclose(f);
    *out = v;
    return n;
}

void bench_cands_free(bench_cand_t *v, long n)
{
    for (long i = 0; i < n; i++) {
        cet_free(v[i].token);
        cet_free(v[i].email);
        cet_free(v[i].id_type);
        cet_free(v[i].id_number);
        cet_free(v[i].name);
        cet_free(v[i].campus);
        cet_free(v[i].subjects);
    }
    cet_free(v);
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: cetbench --target URL [options]\n"
        "  --target URL          http://127.0.0.1:8080, https://127.0.0.1:8443 or unix:/path.sock\n"
        "  --http2               HTTP/2 (ALPN h2 over https, prior knowledge over http)\n"
        "  --scenario NAME       raw | opening | hot | spread | browse | login | expiry | tickets (default "
        "raw)\n"
        "  --threads N           worker threads, one event loop each (default 1)\n"
        "  --connections N       connections in all (default 16)\n"
        "  --streams N           concurrent streams per HTTP/2 connection (default 10)\n"
        "  --rate R              open loop: R requests (opening: arrivals) per second; default "
        "closed loop\n"
        "  --duration S          seconds of load (endless scenarios default to 10)\n"
        "  --requests N          at most N requests (opening: N candidates)\n"
        "  --timeout S           a request's answer (default %d)\n"
        "  --candidates FILE     from `cetctl bench-prep`\n"
        "  --password P          login scenario: the bench-prep password (default bench-prep's)\n"
        "  --payment-secret-file F  HMAC key of the payment platform (signed notices)\n"
        "  --hot-campus C --hot-subject S --hot-any   hot scenario\n"
        "  --oral-share X --pay-share X --cancel-share X --wave-share X   (0..1)\n"
        "  --path P              raw scenario path (default /)\n"
        "  --hold-ttl S          the engine's --hold-ttl (verification allows expired holds)\n"
        "  --verify --data DIR --cetctl PATH   check the engine's data after the run\n"
        "  --json FILE --svg FILE --label TEXT --seed N --quiet\n",
        BENCH_TIMEOUT_S_DEFAULT);
}

static int parse_target(bench_cfg_t *cfg)
{
    const char *u = cfg->target;
    if (strncmp(u, "unix:", 5) == 0) {
        cfg->unix_sock = true;
        cet_strlcpy(cfg->unix_path, u + 5, sizeof cfg->unix_path);
        struct sockaddr_un *sa = (struct sockaddr_un *)&cfg->addr;
        sa->sun_family = AF_UNIX;
        cet_strlcpy(sa->sun_path, cfg->unix_path, sizeof sa->sun_path);
        cfg->addr_len = sizeof *sa;
        cet_strlcpy(cfg->authority, "localhost", sizeof cfg->authority);
        cet_strlcpy(cfg->host, "localhost", sizeof cfg->host);
        return 0;
    }
    const char *rest;
    if (strncmp(u, "http://", 7) == 0)
        rest = u + 7;
    else if (strncmp(u, "https://", 8) == 0) {
        rest = u + 8;
        cfg->tls = true;
    } else
        return -1;
    size_t alen = strcspn(rest, "/");
    if (alen == 0 || alen >= sizeof cfg->authority) return -1;
    memcpy(cfg->authority, rest, alen);
    cfg->authority[alen] = '\0';
    const char *port = NULL;
    if (cfg->authority[0] == '[') {
        char *rb = strchr(cfg->authority, ']');
        if (!rb) return -1;
        size_t hl = (size_t)(rb - cfg->authority - 1);
        memcpy(cfg->host, cfg->authority + 1, hl);
        cfg->host[hl] = '\0';
        if (rb[1] == ':') port = rb + 2;
    } else {
        char *colon = strrchr(cfg->authority, ':');
        size_t hl = colon ? (size_t)(colon - cfg->authority) : strlen(cfg->authority);
        memcpy(cfg->host, cfg->authority, hl);
        cfg->host[hl] = '\0';
        if (colon) port = colon + 1;
    }
    cet_strlcpy(cfg->port, port ? port : cfg->tls ? "443" : "80", sizeof cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(cfg->host, cfg->port, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "cetbench: %s: %s\n", cfg->host, gai_strerror(rc));
        return -1;
    }
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    cfg->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int read_secret(bench_cfg_t *cfg)
{
    FILE *f = fopen(cfg->secret_file, "rb");
    if (!f) {
        fprintf(stderr, "cetbench: %s: %s\n", cfg->secret_file, strerror(errno));
        return -1;
    }
    size_t n = fread(cfg->secret, 1, sizeof cfg->secret, f);
    fclose(f);
    /* the key is the file's bytes without trailing line ends and blanks */
    while (n &&
           (cfg->secret[n - 1] == '\n' || cfg->secret[n - 1] == '\r' || cfg->secret[n - 1] == ' '))
        n--;
    if (n == 0) {
        fprintf(stderr, "cetbench: %s is empty\n", cfg->secret_file);
        return -1;
    }
    cfg->secret_len = n;
    return 0;
}

static double arg_double(const char *name, const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "cetbench: --%s wants a number in [%g, %g], got '%s'\n", name, lo, hi, v);
        exit(2);
    }
    return d;
}

enum {
    OPT_TARGET = 256,
    OPT_HTTP2,
    OPT_SCENARIO,
    OPT_THREADS,
    OPT_CONNS,
    OPT_STREAMS,
    OPT_RATE,
    OPT_DURATION,
    OPT_REQUESTS,
    OPT_TIMEOUT,
    OPT_CANDS,
    OPT_PASSWORD,
    OPT_SECRET,
    OPT_HOT_CAMPUS,
    OPT_HOT_SUBJECT,
    OPT_HOT_ANY,
    OPT_ORAL,
    OPT_PAY,
    OPT_CANCEL,
    OPT_WAVE,
    OPT_PATH,
    OPT_HOLD_TTL,
    OPT_VERIFY,
    OPT_DATA,
    OPT_CETCTL,
    OPT_JSON,
    OPT_SVG,
    OPT_LABEL,
    OPT_SEED,
    OPT_QUIET,
    OPT_HELP,
    OPT_VERSION
};

static int parse_args(bench_cfg_t *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", 1, 0, OPT_TARGET},
        {"http2", 0, 0, OPT_HTTP2},
        {"scenario", 1, 0, OPT_SCENARIO},
        {"threads", 1, 0, OPT_THREADS},
        {"connections", 1, 0, OPT_CONNS},
        {"streams", 1, 0, OPT_STREAMS},
        {"rate", 1, 0, OPT_RATE},
        {"duration", 1, 0, OPT_DURATION},
        {"requests", 1, 0, OPT_REQUESTS},
        {"timeout", 1, 0, OPT_TIMEOUT},
        {"candidates", 1, 0, OPT_CANDS},
        {"password", 1, 0, OPT_PASSWORD},
        {"payment-secret-file", 1, 0, OPT_SECRET},
        {"hot-campus", 1, 0, OPT_HOT_CAMPUS},
        {"hot-subject", 1, 0, OPT_HOT_SUBJECT},
        {"hot-any", 0, 0, OPT_HOT_ANY},
        {"oral-share", 1, 0, OPT_ORAL},
        {"pay-share", 1, 0, OPT_PAY},
        {"cancel-share", 1, 0, OPT_CANCEL},
        {"wave-share", 1, 0, OPT_WAVE},
        {"path", 1, 0, OPT_PATH},
        {"hold-ttl", 1, 0, OPT_HOLD_TTL},
        {"verify", 0, 0, OPT_VERIFY},
        {"data", 1, 0, OPT_DATA},
        {"cetctl", 1, 0, OPT_CETCTL},
        {"json", 1, 0, OPT_JSON},
        {"svg", 1, 0, OPT_SVG},
        {"label", 1, 0, OPT_LABEL},
        {"seed", 1, 0, OPT_SEED},
        {"quiet", 0, 0, OPT_QUIET},
        {"help", 0, 0, OPT_HELP},
        {"version", 0, 0, OPT_VERSION},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case OPT_TARGET:
            cfg->target = optarg;
            break;
        case OPT_HTTP2:
            cfg->h2 = true;
            break;
        case OPT_SCENARIO: {
            int s = bench_scenario_parse(optarg);
            if (s < 0) {
                fprintf(stderr, "cetbench: unknown scenario '%s'\n", optarg);
                return -1;
            }
            cfg->scenario = (bench_scenario_t)s;
            break;
        }
        case OPT_THREADS:
            cfg->threads = (uint32_t)arg_double("threads", optarg, 1, BENCH_THREADS_MAX);
            break;
        case OPT_CONNS:
            cfg->connections = (uint32_t)arg_double("connections", optarg, 1, BENCH_CONNS_MAX);
            break;
        case OPT_STREAMS:
            cfg->streams = (uint32_t)arg_double("streams", optarg, 1, BENCH_STREAMS_MAX);
            break;
        case OPT_RATE:
            cfg->rate = arg_double("rate", optarg, 0, 1e8);
            break;
        case OPT_DURATION:
            cfg->duration_s = arg_double("duration", optarg, 0, BENCH_DURATION_S_MAX);
            break;
        case OPT_REQUESTS:
            cfg->requests = (uint64_t)arg_double("requests", optarg, 0, 1e12);
            break;
        case OPT_TIMEOUT:
            cfg->timeout_s = arg_double("timeout", optarg, 0.001, 3600);
            break;
        case OPT_CANDS:
            cfg->cands_file = optarg;
            break;
        case OPT_PASSWORD:
            cfg->password = optarg;
            break;
        case OPT_SECRET:
            cfg->secret_file = optarg;
            break;
        case OPT_HOT_CAMPUS:
            cfg->hot_campus = cet_strdup(optarg);
            break;
        case OPT_HOT_SUBJECT:
            cfg->hot_subject = optarg[0];
            break;
        case OPT_HOT_ANY:
            cfg->hot_any = true;
            break;
        case OPT_ORAL:
            cfg->oral_share = arg_double("oral-share", optarg, 0, 1);
            break;
        case OPT_PAY:
            cfg->pay_share = arg_double("pay-share", optarg, 0, 1);
            break;
        case OPT_CANCEL:
            cfg->cancel_share = arg_double("cancel-share", optarg, 0, 1);
            break;
        case OPT_WAVE:
            cfg->wave_share = arg_double("wave-share", optarg, 0, 1);
            break;
        case OPT_PATH:
            cfg->path = optarg;
            break;
        case OPT_HOLD_TTL:
            cfg->hold_ttl_s = arg_double("hold-ttl", optarg, 0, 1e9);
            break;
        case OPT_VERIFY:
            cfg->verify = true;
            break;
        case OPT_DATA:
            cfg->data_dir = optarg;
            break;
        case OPT_CETCTL:
            cfg->cetctl = optarg;
            break;
        case OPT_JSON:
            cfg->json_file = optarg;
            break;
        case OPT_SVG:
            cfg->svg_file = optarg;
            break;
        case OPT_LABEL:
            cfg->label = optarg;
            break;
        case OPT_SEED:
            cfg->seed = (uint64_t)arg_double("seed", optarg, 0, 1e15);
            break;
        case OPT_QUIET:
            cfg->quiet = true;
            break;
        case OPT_VERSION:
            printf("cetbench %s\n", CET_VERSION);
            exit(0);
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc || !cfg->target) {
        usage(stderr);
        return -1;
    }
    if (parse_target(cfg) != 0) {
        fprintf(stderr, "cetbench: cannot use target '%s'\n", cfg->target);
        return -1;
    }
    if (cfg->unix_sock && cfg->h2) {
        fprintf(stderr, "cetbench: --http2 over a unix socket is not supported\n");
        return -1;
    }
    if (cfg->connections < cfg->threads) cfg->connections = cfg->threads;
    if (cfg->verify && !cfg->data_dir) {
        fprintf(stderr, "cetbench: --verify needs --data DIR\n");
        return -1;
    }
    if (cfg->secret_file && read_secret(cfg) != 0) return -1;
    return 0;
}

/* Sums cetd_expiries_total (all label sets) from /metrics; -1 when unknown. */
static long read_expiries(const bench_cfg_t *cfg)
{
    static char buf[1 << 20];
    int st = bench_simple_get(cfg, "/metrics", buf, sizeof buf);
    if (st != 200) return -1;
    long total = -1;
    for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, "cetd_expiries_total", 19) != 0 || (p[19] != ' ' && p[19] != '{')) continue;
        char *sp = strchr(p, ' ');
        char *nl = strchr(p, '\n');
        if (sp && (!nl || sp < nl)) total = (total < 0 ? 0 : total) + (long)strtod(sp + 1, NULL);
    }
    return total;
}

static void progress_line(bench_thread_t *th, uint32_t n, double secs, uint64_t *last_done)
{
    uint64_t done = 0, fail = 0, infl = 0;
    for (uint32_t i = 0; i < n; i++) {
        done += atomic_load_explicit(&th[i].prog_done, memory_order_relaxed);
        fail += atomic_load_explicit(&th[i].prog_fail, memory_order_relaxed);
        infl += atomic_load_explicit(&th[i].prog_inflight, memory_order_relaxed);
    }
    fprintf(stderr, "\r\033[K[%5.1fs] %llu answered, %llu/s, %llu failed, %llu in flight", secs,
            (unsigned long long)done, (unsigned long long)(done - *last_done),
            (unsigned long long)fail, (unsigned long long)infl);
    *last_done = done;
}

static _Atomic uint32_t g_exited;

static void *thread_run_cb(void *arg)
{
    thread_main_cb(arg);
    atomic_fetch_add(&g_exited, 1);
    return NULL;
}

static void on_sigint_cb(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

int main(int argc, char **argv)
{
    bench_cfg_t cfg = {
        .threads = 1,
        .connections = 16,
        .streams = 10,
        .timeout_s = BENCH_TIMEOUT_S_DEFAULT,
        .seed = 20261201,
        .path = "/",
        .password = "bench-Pass-2026",
        .hot_subject = '1',
        .oral_share = 0.3,
        .pay_share = 0.8,
        .cancel_share = 0.02,
        .wave_share = 0.5,
        .cetctl = "cetctl",
        .scenario = BENCH_SCEN_RAW,
    };
    if (parse_args(&cfg, argc, argv) != 0) return 2;
    cfg.progress = !cfg.quiet && isatty(STDERR_FILENO);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint_cb;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (cfg.cands_file) {
        cfg.n_cands = bench_cands_load(cfg.cands_file, &cfg.cands);
        if (cfg.n_cands < 0) return 2;
    }
    if (bench_scen_prepare(&cfg) != 0) return 2;
    evthread_use_pthreads();
    SSL_CTX *ssl_ctx = NULL;
    if (cfg.tls) {
        ssl_ctx = bench_tls_ctx_new(&cfg);
        if (!ssl_ctx) {
            fprintf(stderr, "cetbench: cannot make a TLS context\n");
            return 2;
        }
    }
    bench_result_t res = {
        .cfg = &cfg, .expiries_before = -1, .expiries_after = -1, .verify_rc = -1};
    if (cfg.scenario == BENCH_SCEN_EXPIRY) res.expiries_before = read_expiries(&cfg);

    uint32_t nt = cfg.threads;
    bench_thread_t *th = cet_calloc(nt, sizeof *th);
    pthread_t *pt = cet_calloc(nt, sizeof *pt);
    uint64_t grace = (uint64_t)BENCH_START_GRACE_MS * 1000000u + (uint64_t)cfg.connections * 50000u;
    uint64_t t0 = now_ns() + grace;
    for (uint32_t i = 0; i < nt; i++) {
        bench_thread_t *t = &th[i];
        t->idx = i;
        t->cfg = &cfg;
        t->ssl_ctx = ssl_ctx;
        t->t0_ns = t0;
        t->end_ns = cfg.duration_s > 0 ? t0 + (uint64_t)(cfg.duration_s * 1e9) : 0;
        if (cfg.requests) {
            t->request_quota = cfg.requests / nt + (i < cfg.requests % nt ? 1 : 0);
            if (t->request_quota == 0) t->source_done = true;
        }
        if (cfg.rate > 0) {
            t->interval_ns = 1e9 * nt / cfg.rate;
            t->phase_ns = (uint64_t)(t->interval_ns * i / nt);
        }
        bench_stats_init(&t->stats);
        bench_scen_thread_init(t);
    }
    for (uint32_t i = 0; i < nt; i++)
        CET_ASSERT(pthread_create(&pt[i], NULL, thread_run_cb, &th[i]) == 0);
    /* wait for the workers; progress once a second on a terminal */
    uint64_t last_done = 0;
    uint64_t next_prog = t0 + 1000000000u;
    while (atomic_load(&g_exited) < nt) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        uint64_t now = now_ns();
        if (cfg.progress && now >= next_prog) {
            progress_line(th, nt, (double)(now - t0) / 1e9, &last_done);
            next_prog += 1000000000u;
        }
    }
    if (cfg.progress) fprintf(stderr, "\n");
    for (uint32_t i = 0; i < nt; i++)
        pthread_join(pt[i], NULL);

    bench_stats_t *all = cet_calloc(1, sizeof *all);
    bench_stats_init(all);
    uint64_t last = t0;
    for (uint32_t i = 0; i < nt; i++) {
        bench_stats_merge(all, &th[i].stats);
        if (th[i].last_done_ns > last) last = th[i].last_done_ns;
        res.acks += th[i].n_acks;
    }
    res.stats = all;
    res.elapsed_s = (double)(last - t0) / 1e9;
    if (cfg.scenario == BENCH_SCEN_EXPIRY) res.expiries_after = read_expiries(&cfg);
    if (cfg.verify) {
        res.verify_rc = bench_verify(&cfg, th, nt, res.verify_note, sizeof res.verify_note);
    }
    bench_report_text(stdout, &res);
    int rc = 0;
    if (cfg.json_file && bench_report_json(cfg.json_file, &res) != 0) rc = 2;
    if (cfg.svg_file && bench_report_svg(cfg.svg_file, &res) != 0) rc = 2;
    if (all->all.count == 0 || all->all.count == all->status[0]) {
        fprintf(stderr, "cetbench: no request was answered\n");
        rc = 3;
    }
    if (res.verify_rc == 1)
        rc = 1;
    else if (res.verify_rc == 2 && rc == 0)
        rc = 4;

    for (uint32_t i = 0; i < nt; i++) {
        bench_stats_free(&th[i].stats);
        cet_free(th[i].users);
        cet_free(th[i].acks);
    }
    bench_stats_free(all);
    cet_free(all);
    cet_free(th);
    cet_free(pt);
    if (ssl_ctx) SSL_CTX_free(ssl_ctx);
    if (cfg.cands) bench_cands_free(cfg.cands, cfg.n_cands);
    cet_free(cfg.order);
    return rc;
}
