/*
 * net_metrics.c: request counters, latency histograms and named app counters,
 * rendered in the Prometheus text format by /metrics.
 *
 * Hot path is lock-free: each core writes only its own counters (relaxed
 * atomics, single writer); a scrape sums all cores. Route labels and counter
 * names are interned once into fixed tables (a mutex guards the rare insert;
 * lookups read a published count with acquire order).
 */
#include <event2/buffer.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdatomic.h>
#include <string.h>

#include "base/cet_base.h"
#include "net/net_internal.h"

/* ---- interned names ---- */
typedef struct name_table {
    pthread_mutex_t mu;
    _Atomic unsigned n;
    const char
        *names[CET_ROUTES_MAX > CET_METRIC_COUNTERS_MAX ? CET_ROUTES_MAX : CET_METRIC_COUNTERS_MAX];
    unsigned cap;
} name_table_t;

static name_table_t routes = {PTHREAD_MUTEX_INITIALIZER, 1, {"other"}, CET_ROUTES_MAX};
static name_table_t counters = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, CET_METRIC_COUNTERS_MAX};
static _Atomic uint64_t counter_values[CET_METRIC_COUNTERS_MAX];
static const char *counter_help[CET_METRIC_COUNTERS_MAX]; /* set by net_metrics_declare */

/* Index of name in t, adding it when new; -1 when t is full. */
static int name_index(name_table_t *t, const char *name)
{
    unsigned n = atomic_load_explicit(&t->n, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (t->names[i] == name || strcmp(t->names[i], name) == 0) return (int)i;
    pthread_mutex_lock(&t->mu);
    n = atomic_load_explicit(&t->n, memory_order_relaxed);
    int found = -1;
    for (unsigned i = 0; i < n && found < 0; i++)
        if (strcmp(t->names[i], name) == 0) found = (int)i;
    if (found < 0 && n < t->cap) {
        t->names[n] = cet_strdup(name);
        atomic_store_explicit(&t->n, n + 1, memory_order_release);
        found = (int)n;
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

unsigned net_metrics_route_index(const char *route)
{
    if (!route) return 0;
    int i = name_index(&routes, route);
    return i < 0 ? 0 : (unsigned)i;
}

void net_metrics_count(const char *name, uint64_t n)
{
    int i = name_index(&counters, name);
    if (i < 0) {
        CET_WARN("metrics: counter table full, dropping %s", name);
        return;
    }
    atomic_fetch_add_explicit(&counter_values[i], n, memory_order_relaxed);
}

void net_metrics_declare(const char *name, const char *help)
{
    int i = name_index(&counters, name);
    if (i >= 0) counter_help[i] = help;
}

/* ---- recording ---- */
static const int status_labels[CET_STATUS_LABELS_MAX - 1] = {200, 201, 202, 204, 301, 302, 304, 400,
                                                        401, 403, 404, 405, 408, 409, 413, 415,
                                                        422, 429, 500, 501, 502, 503, 504};

/* Upper bounds in microseconds; the +Inf bucket follows. */
static const uint64_t bucket_us[CET_LATENCY_BUCKETS_MAX] = {250,    500,     1000,    2500,    5000,
                                                     10000,  25000,   50000,   100000,  250000,
                                                     500000, 1000000, 2500000, 10000000};
static const char *const bucket_le[CET_LATENCY_BUCKETS_MAX] = {
    "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "10"};

static unsigned status_slot(int status)
{
    for (unsigned i = 0; i < CET_STATUS_LABELS_MAX - 1; i++)
        if (status_labels[i] == status) return i;
    return CET_STATUS_LABELS_MAX - 1;
}

/* Single writer per core: a relaxed load + store is enough and cheaper than
 * a locked read-modify-write. */
static void bump(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void net_metrics_record(net_core_metrics_t *m, unsigned route, int status, uint64_t ns)
{
    if (route >= CET_ROUTES_MAX) route = 0;
    uint64_t us = ns / 1000;
    unsigned b = 0;
    while (b < CET_LATENCY_BUCKETS_MAX && us > bucket_us[b])
        b++;
    bump(&m->requests[route][status_slot(status)], 1);
    bump(&m->hist[route][b], 1);
    bump(&m->sum_us[route], us);
}

/* ---- rendering ---- */
static uint64_t load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Route names come from code, but escape them as the format asks anyway. */
static void add_label(struct evbuffer *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') evbuffer_add(out, "\\", 1);
        if (*s == '\n') {
            evbuffer_add(out, "\\n", 2);
            continue;
        }
        evbuffer_add(out, s, 1);
    }
}

static void render_requests(net_server_t *srv, struct evbuffer *out, unsigned nroutes)
{
    unsigned ncores = net_server_ncores(srv);
    evbuffer_add_printf(out, "# HELP cetd_requests_total Requests answered, by route and status.\n"
                             "# TYPE cetd_requests_total counter\n");
    for (unsigned r = 0; r < nroutes; r++) {
        for (unsigned s = 0; s < CET_STATUS_LABELS_MAX; s++) {
            uint64_t sum = 0;
            for (unsigned c = 0; c < ncores; c++)
                sum += load(&net_core_metrics(net_server_core(srv, c))->requests[r][s]);
            if (!sum) continue;
            evbuffer_add_printf(out, "cetd_requests_total{route=\"");
            add_label(out, routes.names[r]);
            if (s < CET_STATUS_LABELS_MAX - 1)
                evbuffer_add_printf(out, "\",status=\"%d\"} %llu\n", status_labels[s],
                                    (unsigned long long)sum);
            else
                evbuffer_add_printf(out, "\",status=\"other\"} %llu\n", (unsigned long long)sum);
        }
    }
    evbuffer_add_printf(out, "# HELP cetd_request_duration_seconds Time from request to answer.\n"
                             "# TYPE cetd_request_duration_seconds histogram\n");
    for (unsigned r = 0; r < nroutes; r++) {
        uint64_t buckets[CET_LATENCY_BUCKETS_MAX + 1] = {0}, sum_us = 0, count = 0;
        for (unsigned c = 0; c < ncores; c++) {
            net_core_metrics_t *m = net_core_metrics(net_server_core(srv, c));
            for (unsigned b = 0; b <= CET_LATENCY_BUCKETS_MAX; b++)
                buckets[b] += load(&m->hist[r][b]);
            sum_us += load(&m->sum_us[r]);
        }
        for (unsigned b = 0; b <= CET_LATENCY_BUCKETS_MAX; b++)
            count += buckets[b];
        if (!count) continue;
        uint64_t cum = 0;
        for (unsigned b = 0; b <= CET_LATENCY_BUCKETS_MAX; b++) {
            cum += buckets[b];
            evbuffer_add_printf(out, "cetd_request_duration_seconds_bucket{route=\"");
            add_label(out, routes.names[r]);
            evbuffer_add_printf(out, "\",le=\"%s\"} %llu\n",
                                b < CET_LATENCY_BUCKETS_MAX ? bucket_le[b] : "+Inf",
                                (unsigned long long)cum);
        }
        evbuffer_add_printf(out, "cetd_request_duration_seconds_sum{route=\"");
        add_label(out, routes.names[r]);
        evbuffer_add_printf(out, "\"} %llu.%06llu\n", (unsigned long long)(sum_us / 1000000),
                            (unsigned long long)(sum_us % 1000000));
        evbuffer_add_printf(out, "cetd_request_duration_seconds_count{route=\"");
        add_label(out, routes.names[r]);
        evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)count);
    }
}

/* process_* as the Prometheus client libraries name them, from /proc/self. */
static void render_process(struct evbuffer *out)
{
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
    long long rss = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        const char *p = strrchr(buf, ')'); /* after the command name */
        /* fields 14 utime 15 stime 22 starttime 23 vsize 24 rss, counted from 1 */
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
                               "%*d %*d %*d %llu %llu %lld",
                        &utime, &stime, &start, &vsize, &rss) != 5)
            utime = stime = start = vsize = 0, rss = 0;
    }
    double boot = 0;
    f = fopen("/proc/stat", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "btime %lf", &boot) == 1) break;
        fclose(f);
    }
    unsigned fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        while (readdir(d))
            fds++;
        closedir(d);
        fds = fds >= 3 ? fds - 3 : 0; /* ".", ".." and the DIR's own fd */
    }
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_NOFILE, &rl);
    evbuffer_add_printf(out,
                        "# HELP process_cpu_seconds_total User and system CPU time spent.\n"
                        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
                        "# HELP process_resident_memory_bytes Resident memory size.\n"
                        "# TYPE process_resident_memory_bytes gauge\n"
                        "process_resident_memory_bytes %lld\n"
                        "# HELP process_virtual_memory_bytes Virtual memory size.\n"
                        "# TYPE process_virtual_memory_bytes gauge\n"
                        "process_virtual_memory_bytes %llu\n"
                        "# HELP process_start_time_seconds Start time since the unix epoch.\n"
                        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n"
                        "# HELP process_open_fds Open file descriptors.\n"
                        "# TYPE process_open_fds gauge\nprocess_open_fds %u\n"
                        "# HELP process_max_fds The open file descriptor limit.\n"
                        "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
                        tick > 0 ? (double)(utime + stime) / (double)tick : 0.0,
                        rss * (long long)page, vsize,
                        tick > 0 ? boot + (double)start / (double)tick : 0.0, fds,
                        (unsigned long long)rl.rlim_cur);
}

void net_metrics_render(net_server_t *srv, struct evbuffer *out)
{
    unsigned nroutes = atomic_load_explicit(&routes.n, memory_order_acquire);
    render_requests(srv, out, nroutes);

    uint64_t conns = 0, inflight = 0;
    for (unsigned c = 0; c < net_server_ncores(srv); c++) {
        conns += net_core_conns(net_server_core(srv, c));
        inflight += net_core_inflight(net_server_core(srv, c));
    }
    evbuffer_add_printf(out,
                        "# HELP cetd_connections Open client connections.\n"
                        "# TYPE cetd_connections gauge\ncetd_connections %llu\n"
                        "# HELP cetd_requests_in_flight Requests taken and not yet answered.\n"
                        "# TYPE cetd_requests_in_flight gauge\ncetd_requests_in_flight %llu\n"
                        "# HELP cetd_pool_queue Slow jobs waiting for a pool thread.\n"
                        "# TYPE cetd_pool_queue gauge\ncetd_pool_queue %u\n"
                        "# HELP cetd_pwhash_arena_total argon2id hashes and verifications run in "
                        "a pool thread's own memory (net_pwhash_arena.c).\n"
                        "# TYPE cetd_pwhash_arena_total counter\ncetd_pwhash_arena_total %llu\n",
                        (unsigned long long)conns, (unsigned long long)inflight,
                        net_server_pool_queue(srv),
                        (unsigned long long)net_pwhash_arena_hits());

    cet_mem_stats_t ms;
    evbuffer_add_printf(out,
                        "# HELP cetd_alloc_live_bytes Bytes held through cet_malloc.\n"
                        "# TYPE cetd_alloc_live_bytes gauge\ncetd_alloc_live_bytes %zu\n",
                        cet_alloc_live_bytes());
    if (cet_mem_stats(&ms) == 0) {
        evbuffer_add_printf(out,
                            "# HELP cetd_jemalloc_bytes jemalloc stats (allocated, active, "
                            "resident, mapped).\n# TYPE cetd_jemalloc_bytes gauge\n"
                            "cetd_jemalloc_bytes{kind=\"allocated\"} %zu\n"
                            "cetd_jemalloc_bytes{kind=\"active\"} %zu\n"
                            "cetd_jemalloc_bytes{kind=\"resident\"} %zu\n"
                            "cetd_jemalloc_bytes{kind=\"mapped\"} %zu\n",
                            ms.allocated, ms.active, ms.resident, ms.mapped);
    }

    unsigned ncounters = atomic_load_explicit(&counters.n, memory_order_acquire);
    for (unsigned i = 0; i < ncounters; i++) {
        evbuffer_add_printf(out,
                            "# HELP cetd_%s_total %s\n# TYPE cetd_%s_total counter\n"
                            "cetd_%s_total %llu\n",
                            counters.names[i], counter_help[i] ? counter_help[i] : "An app event.",
                            counters.names[i], counters.names[i],
                            (unsigned long long)load(&counter_values[i]));
    }
    evbuffer_add_printf(out,
                        "# HELP cetd_connections_deadline_closed_total Connections closed because a "
                        "request had not fully arrived within CET_REQUEST_READ_MS.\n"
                        "# TYPE cetd_connections_deadline_closed_total counter\n"
                        "cetd_connections_deadline_closed_total %llu\n",
                        (unsigned long long)net_server_deadline_closes(srv));
    uint64_t open[2], accepted[2];
    net_server_listener_conns(srv, false, &open[0], &accepted[0]);
    net_server_listener_conns(srv, true, &open[1], &accepted[1]);
    evbuffer_add_printf(out,
                        "# HELP cetd_listener_connections Open connections by listener kind "
                        "(each kind has its own budget).\n"
                        "# TYPE cetd_listener_connections gauge\n"
                        "cetd_listener_connections{listener=\"tcp\"} %llu\n"
                        "cetd_listener_connections{listener=\"unix\"} %llu\n"
                        "# HELP cetd_connections_accepted_total Connections accepted by listener "
                        "kind.\n# TYPE cetd_connections_accepted_total counter\n"
                        "cetd_connections_accepted_total{listener=\"tcp\"} %llu\n"
                        "cetd_connections_accepted_total{listener=\"unix\"} %llu\n",
                        (unsigned long long)open[0], (unsigned long long)open[1],
                        (unsigned long long)accepted[0], (unsigned long long)accepted[1]);
    render_process(out);
    net_server_app_metrics(srv, out); /* each family with its HELP: the app writes them */
}
