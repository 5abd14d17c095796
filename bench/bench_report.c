/*
 * bench_report.c: the run's report as text, JSON and an SVG chart.
 *
 * Latency is reported in milliseconds, measured from each request's intended
 * send time to its answer. The per-second series is by answer time.
 */
#include "bench/bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cet_base.h"

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static const char *proto_name(const bench_cfg_t *cfg)
{
    if (cfg->h2) return cfg->tls ? "HTTP/2 over TLS" : "HTTP/2 cleartext (prior knowledge)";
    if (cfg->unix_sock) return "HTTP/1.1 keep-alive, unix socket";
    return cfg->tls ? "HTTP/1.1 keep-alive over TLS" : "HTTP/1.1 keep-alive";
}

static double rate_of(uint64_t n, double secs)
{
    return secs > 0 ? (double)n / secs : 0.0;
}

/* p99 of second i of the series, in ms (0 when nothing was answered). */
static double sec_p99_ms(const bench_stats_t *s, uint32_t i)
{
    return s->sec_hist[i] ? ms(bench_hist_percentile(s->sec_hist[i], 99.0)) : 0.0;
}

/*
 * Durable registrations (201) over the time they were being produced: from
 * the run start to the last one's answer. After a hot offer sells out the
 * answers are 409s; they do not count, and neither does the time they take.
 */
typedef struct bench_durable {
    uint64_t n;                /* 201 registrations */
    double until_s;            /* the last one's answer, from the run start */
    double rate;               /* n / until_s */
    uint32_t secs;             /* whole seconds before until_s: the flatness window */
    uint64_t min, median, max; /* 201s per whole second of that window */
    uint32_t head_s;           /* seconds in each of the first/last means */
    double first_mean, last_mean;
} bench_durable_t;

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void durable_figures(const bench_stats_t *s, bench_durable_t *d)
{
    memset(d, 0, sizeof *d);
    d->n = s->reg201.count;
    d->until_s = (double)s->reg201_last_ns / 1e9;
    d->rate = d->until_s > 0 ? (double)d->n / d->until_s : 0.0;
    /* a partial last second (the sell-out, or the drain) would read as a drop */
    uint32_t n = (uint32_t)d->until_s;
    if (n > s->n_secs) n = s->n_secs;
    if (d->n == 0 || n == 0) return;
    d->secs = n;
    uint64_t *v = cet_malloc(n * sizeof *v);
    memcpy(v, s->sec_reg201, n * sizeof *v);
    qsort(v, n, sizeof *v, u64_cmp);
    d->min = v[0];
    d->max = v[n - 1];
    d->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    cet_free(v);
    /* first 10 s against last 10 s; in a run shorter than 20 s, halves */
    d->head_s = n >= 2 * BENCH_FLAT_HEAD_S ? BENCH_FLAT_HEAD_S : (n + 1) / 2;
    uint64_t first = 0, last = 0;
    for (uint32_t i = 0; i < d->head_s; i++) {
        first += s->sec_reg201[i];
        last += s->sec_reg201[n - 1 - i];
    }
    d->first_mean = (double)first / d->head_s;
    d->last_mean = (double)last / d->head_s;
}

void bench_report_text(FILE *f, const bench_result_t *r)
{
    const bench_cfg_t *cfg = r->cfg;
    const bench_stats_t *s = r->stats;
    const bench_hist_t *h = &s->all;
    fprintf(f, "cetbench: scenario %s, target %s (%s)%s%s\n", bench_scenario_name(cfg->scenario),
            cfg->target, proto_name(cfg), cfg->label ? ", " : "", cfg->label ? cfg->label : "");
    fprintf(f, "  %u threads, %u connections", cfg->threads, cfg->connections);
    if (cfg->h2) fprintf(f, " x %u streams", cfg->streams);
    if (cfg->rate > 0)
        fprintf(f, ", open loop at %.0f/s (latency from the intended send time)\n", cfg->rate);
    else
        fprintf(f, ", closed loop\n");
    fprintf(f, "  %.2f s, %llu answered, %.1f req/s, %.1f MB in\n", r->elapsed_s,
            (unsigned long long)h->count, rate_of(h->count, r->elapsed_s),
            (double)s->bytes_in / 1e6);
    fprintf(f, "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
            ms(bench_hist_percentile(h, 50)), ms(bench_hist_percentile(h, 90)),
            ms(bench_hist_percentile(h, 99)), ms(bench_hist_percentile(h, 99.9)), ms(h->max_us),
            h->count ? ms(h->sum_us / h->count) : 0.0);
    fprintf(f, "  %-10s %10s %10s %9s %9s %9s %9s\n", "operation", "count", "req/s", "failed",
            "p50 ms", "p99 ms", "max ms");
    for (int i = 0; i < BENCH_OP__COUNT; i++) {
        if (!s->op_count[i]) continue;
        const bench_hist_t *oh = &s->op[i];
        fprintf(f, "  %-10s %10llu %10.1f %9llu %9.3f %9.3f %9.3f\n", bench_op_name((bench_op_t)i),
                (unsigned long long)s->op_count[i], rate_of(s->op_count[i], r->elapsed_s),
                (unsigned long long)s->op_fail[i], ms(bench_hist_percentile(oh, 50)),
                ms(bench_hist_percentile(oh, 99)), ms(oh->max_us));
    }
    fprintf(f, "  answers by status:");
    for (int i = 0; i < 600; i++)
        if (s->status[i])
            fprintf(f, " %s%d: %llu", i == 0 ? "none/" : "", i, (unsigned long long)s->status[i]);
    fprintf(f, "\n");
    if (s->n_codes) {
        fprintf(f, "  error codes:");
        for (uint32_t i = 0; i < s->n_codes; i++)
            fprintf(f, " %s: %llu", s->codes[i].code, (unsigned long long)s->codes[i].n);
        if (s->codes_other) fprintf(f, " (others: %llu)", (unsigned long long)s->codes_other);
        fprintf(f, "\n");
    }
    fprintf(f, "  connections: %llu opened, %llu failed\n", (unsigned long long)s->connects,
            (unsigned long long)s->conn_failures);
    if (s->dropped)
        fprintf(
            f,
            "  WARNING: %llu scheduled requests were never sent (the target fell behind the rate;\n"
            "           the latency above leaves them out)\n",
            (unsigned long long)s->dropped);
    if (cfg->scenario != BENCH_SCEN_RAW && cfg->scenario != BENCH_SCEN_BROWSE &&
        cfg->scenario != BENCH_SCEN_LOGIN) {
        fprintf(f, "  registrations acknowledged (201): %llu\n", (unsigned long long)r->acks);
        bench_durable_t d;
        durable_figures(s, &d);
        if (d.n) {
            fprintf(f,
                    "  durable registrations: %.1f/s (%llu in the %.2f s up to the last 201), "
                    "p50 %.3f p99 %.3f ms\n",
                    d.rate, (unsigned long long)d.n, d.until_s,
                    ms(bench_hist_percentile(&s->reg201, 50)),
                    ms(bench_hist_percentile(&s->reg201, 99)));
            if (d.secs)
                fprintf(f,
                        "  201s per second over %u s: min %llu median %llu max %llu; "
                        "first %u s %.0f/s, last %u s %.0f/s\n",
                        d.secs, (unsigned long long)d.min, (unsigned long long)d.median,
                        (unsigned long long)d.max, d.head_s, d.first_mean, d.head_s, d.last_mean);
        }
    }
    if (cfg->scenario == BENCH_SCEN_EXPIRY) {
        if (r->expiries_before >= 0 && r->expiries_after >= 0)
            fprintf(f, "  expiries seen (cetd_expiries_total): %ld\n",
                    r->expiries_after - r->expiries_before);
        else
            fprintf(f, "  expiries: /metrics has no cetd_expiries_total (or is unreachable)\n");
    }
    if (r->verify_rc >= 0)
        fprintf(f, "  verify: %s: %s\n",
                r->verify_rc == 0   ? "PASSED"
                : r->verify_rc == 1 ? "FAILED"
                                    : "NOT RUN",
                r->verify_note);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_lat(FILE *f, const bench_hist_t *h)
{
    fprintf(f,
            "{\"count\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
            "\"max_ms\":%.3f,"
            "\"mean_ms\":%.3f}",
            (unsigned long long)h->count, ms(bench_hist_percentile(h, 50)),
            ms(bench_hist_percentile(h, 90)), ms(bench_hist_percentile(h, 99)),
            ms(bench_hist_percentile(h, 99.9)), ms(h->max_us),
            h->count ? ms(h->sum_us / h->count) : 0.0);
}

int bench_report_json(const char *path, const bench_result_t *r)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cetbench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    const bench_cfg_t *cfg = r->cfg;
    const bench_stats_t *s = r->stats;
    fprintf(f, "{\n  \"scenario\": ");
    json_str(f, bench_scenario_name(cfg->scenario));
    fprintf(f, ",\n  \"target\": ");
    json_str(f, cfg->target);
    fprintf(f, ",\n  \"label\": ");
    json_str(f, cfg->label ? cfg->label : "");
    fprintf(f, ",\n  \"protocol\": ");
    json_str(f, proto_name(cfg));
    fprintf(f, ",\n  \"threads\": %u, \"connections\": %u, \"streams\": %u, \"rate\": %.3f,\n",
            cfg->threads, cfg->connections, cfg->h2 ? cfg->streams : 1, cfg->rate);
    fprintf(f,
            "  \"elapsed_s\": %.3f, \"answered\": %llu, \"throughput_rps\": %.1f, \"bytes_in\": "
            "%llu,\n",
            r->elapsed_s, (unsigned long long)s->all.count, rate_of(s->all.count, r->elapsed_s),
            (unsigned long long)s->bytes_in);
    fprintf(f, "  \"latency\": ");
    json_lat(f, &s->all);
    fprintf(f, ",\n  \"operations\": {");
    bool first = true;
    for (int i = 0; i < BENCH_OP__COUNT; i++) {
        if (!s->op_count[i]) continue;
        fprintf(f, "%s\n    \"%s\": {\"failed\": %llu, \"latency\": ", first ? "" : ",",
                bench_op_name((bench_op_t)i), (unsigned long long)s->op_fail[i]);
        json_lat(f, &s->op[i]);
        fprintf(f, "}");
        first = false;
    }
    fprintf(f, "\n  },\n  \"status\": {");
    first = true;
    for (int i = 0; i < 600; i++) {
        if (!s->status[i]) continue;
        fprintf(f, "%s\"%d\": %llu", first ? "" : ", ", i, (unsigned long long)s->status[i]);
        first = false;
    }
    fprintf(f, "},\n  \"codes\": {");
    for (uint32_t i = 0; i < s->n_codes; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_str(f, s->codes[i].code);
        fprintf(f, ": %llu", (unsigned long long)s->codes[i].n);
    }
    fprintf(f,
            "},\n  \"connects\": %llu, \"connect_failures\": %llu, \"unsent_scheduled\": %llu,\n",
            (unsigned long long)s->connects, (unsigned long long)s->conn_failures,
            (unsigned long long)s->dropped);
    fprintf(f, "  \"acknowledged_registrations\": %llu,\n", (unsigned long long)r->acks);
    bench_durable_t d;
    durable_figures(s, &d);
    fprintf(f,
            "  \"durable\": {\"registrations_201\": %llu, \"until_s\": %.3f, \"rate_per_s\": %.1f,"
            " \"latency\": ",
            (unsigned long long)d.n, d.until_s, d.rate);
    json_lat(f, &s->reg201);
    if (d.secs)
        fprintf(f,
                ",\n    \"flatness\": {\"seconds\": %u, \"min\": %llu, \"median\": %llu, "
                "\"max\": %llu, \"head_s\": %u, \"first_mean\": %.1f, \"last_mean\": %.1f, "
                "\"last_over_first\": %.3f}},\n",
                d.secs, (unsigned long long)d.min, (unsigned long long)d.median,
                (unsigned long long)d.max, d.head_s, d.first_mean, d.last_mean,
                d.first_mean > 0 ? d.last_mean / d.first_mean : 0.0);
    else
        fprintf(f, ",\n    \"flatness\": null},\n");
    if (r->expiries_before >= 0 && r->expiries_after >= 0)
        fprintf(f, "  \"expiries\": %ld,\n", r->expiries_after - r->expiries_before);
    fprintf(f, "  \"verify\": %s,\n  \"verify_note\": ",
            r->verify_rc < 0    ? "null"
            : r->verify_rc == 0 ? "\"passed\""
            : r->verify_rc == 1 ? "\"failed\""
                                : "\"not_run\"");
    json_str(f, r->verify_note);
    fprintf(f, ",\n  \"series\": [");
    for (uint32_t i = 0; i < s->n_secs; i++) {
        fprintf(f,
                "%s\n    {\"t\": %u, \"answered\": %llu, \"failed\": %llu, \"ok_2xx\": %llu, "
                "\"registrations_201\": %llu, \"p99_ms\": %.3f}",
                i ? "," : "", i, (unsigned long long)s->sec_done[i],
                (unsigned long long)s->sec_fail[i], (unsigned long long)s->sec_2xx[i],
                (unsigned long long)s->sec_reg201[i], sec_p99_ms(s, i));
    }
    fprintf(f, "\n  ]\n}\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "cetbench: writing %s failed\n", path);
        return -1;
    }
    return 0;
}

/* The smallest 1, 2 or 5 times a power of ten that is >= v (v > 0). */
static double nice_ceil(double v)
{
    if (v <= 0) return 1;
    double p = pow(10, floor(log10(v)));
    for (int i = 0; i < 3; i++) {
        double m = (double[]){1, 2, 5}[i] * p;
        if (m >= v) return m;
    }
    return 10 * p;
}

int bench_report_svg(const char *path, const bench_result_t *r)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cetbench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    const bench_stats_t *s = r->stats;
    const bench_cfg_t *cfg = r->cfg;
    const double W = 860, H = 420, x0 = 80, x1 = 780, y0 = 60, y1 = 350;
    /* whole seconds only: a last, partial second (the drain) would read as a drop */
    uint32_t n = s->n_secs;
    if (r->elapsed_s >= 1.0 && (double)n > r->elapsed_s) n = (uint32_t)r->elapsed_s;
    if (n == 0) n = 1;
    double max_rps = 0, max_p99 = 0;
    for (uint32_t i = 0; i < n && i < s->n_secs; i++) {
        if ((double)s->sec_done[i] > max_rps) max_rps = (double)s->sec_done[i];
        if (sec_p99_ms(s, i) > max_p99) max_p99 = sec_p99_ms(s, i);
    }
    double top_rps = nice_ceil(max_rps * 1.05), top_p99 = nice_ceil(max_p99 * 1.05);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 "
            "0 %.0f %.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"15\" font-weight=\"bold\">cetbench %s: ", x0,
            bench_scenario_name(cfg->scenario));
    for (const char *p = cfg->label ? cfg->label : cfg->target; *p; p++) {
        if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '&')
            fputs("&amp;", f);
        else
            fputc(*p, f);
    }
    fprintf(
        f,
        "</text>\n<text x=\"%.0f\" y=\"42\" fill=\"#555\">%s, %u connections, %.0f req/s overall, "
        "p99 %.2f ms overall</text>\n",
        x0, proto_name(cfg), cfg->connections, rate_of(s->all.count, r->elapsed_s),
        ms(bench_hist_percentile(&s->all, 99)));
    /* grid and axes */
    for (int i = 0; i <= 5; i++) {
        double y = y1 - (y1 - y0) * i / 5.0;
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x0,
                y, x1, y);
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f5fbf\">%g</text>\n",
                x0 - 6, y + 4, top_rps * i / 5.0);
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" fill=\"#c0392b\">%g</text>\n", x1 + 6, y + 4,
                top_p99 * i / 5.0);
    }
    uint32_t step = (uint32_t)nice_ceil(n / 10.0);
    if (step == 0) step = 1;
    for (uint32_t t = 0; t <= n; t += step) {
        double x = x0 + (x1 - x0) * t / n;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#eee\"/>\n", x,
                y0, x, y1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%u</text>\n", x, y1 + 16, t);
    }
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
            x0, y0, x1 - x0, y1 - y0);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">seconds</text>\n", (x0 + x1) / 2,
            y1 + 34);
    fprintf(f,
            "<text transform=\"translate(20,%.0f) rotate(-90)\" text-anchor=\"middle\" "
            "fill=\"#1f5fbf\">"
            "answers per second</text>\n",
            (y0 + y1) / 2);
    fprintf(f,
            "<text transform=\"translate(%.0f,%.0f) rotate(90)\" text-anchor=\"middle\" "
            "fill=\"#c0392b\">"
            "p99 latency (ms)</text>\n",
            W - 22, (y0 + y1) / 2);
    /* the series: a point in the middle of each second */
    const char *colour[2] = {"#1f5fbf", "#c0392b"};
    for (int line = 0; line < 2; line++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                colour[line]);
        for (uint32_t i = 0; i < n && i < s->n_secs; i++) {
            double v = line == 0 ? (double)s->sec_done[i] / top_rps : sec_p99_ms(s, i) / top_p99;
            double x = x0 + (x1 - x0) * (i + 0.5) / n;
            fprintf(f, "%.1f,%.1f ", x, y1 - (y1 - y0) * v);
        }
        fprintf(f, "\"/>\n");
    }
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"3\" fill=\"%s\"/><text x=\"%.0f\" "
            "y=\"%.0f\">"
            "throughput (answers/s)</text>\n",
            x0, H - 30, colour[0], x0 + 18, H - 25);
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"3\" fill=\"%s\"/><text x=\"%.0f\" "
            "y=\"%.0f\">"
            "p99 latency per second (ms, from intended send time)</text>\n",
            x0 + 200, H - 30, colour[1], x0 + 218, H - 25);
    fprintf(f, "</svg>\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "cetbench: writing %s failed\n", path);
        return -1;
    }
    return 0;
}
