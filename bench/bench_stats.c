/*
 * bench_stats.c: a run's statistics: overall and per-operation histograms,
 * answers by status and error code, and the per-second series.
 */
#include "bench/bench.h"

#include <string.h>

#include "base/cet_base.h"

/* ---- run statistics ---- */

static const char *const op_names[BENCH_OP__COUNT] = {
    [BENCH_OP_RAW] = "raw",           [BENCH_OP_OFFERS] = "offers",
    [BENCH_OP_REGISTER] = "register", [BENCH_OP_ORAL] = "oral",
    [BENCH_OP_CANCEL] = "cancel",     [BENCH_OP_PAY] = "pay",
    [BENCH_OP_NOTIFY] = "notify",     [BENCH_OP_CANDIDATE] = "candidate",
    [BENCH_OP_LOGIN] = "login",
    [BENCH_OP_TICKET] = "ticket",
};

const char *bench_op_name(bench_op_t op)
{
    return (unsigned)op < BENCH_OP__COUNT ? op_names[op] : "?";
}

void bench_stats_init(bench_stats_t *s)
{
    memset(s, 0, sizeof *s);
    bench_hist_init(&s->all, BENCH_HIST_SUB_BITS_FINE);
    bench_hist_init(&s->reg201, BENCH_HIST_SUB_BITS_FINE);
    for (int i = 0; i < BENCH_OP__COUNT; i++)
        bench_hist_init(&s->op[i], BENCH_HIST_SUB_BITS_FINE);
}

void bench_stats_free(bench_stats_t *s)
{
    bench_hist_free(&s->all);
    bench_hist_free(&s->reg201);
    for (int i = 0; i < BENCH_OP__COUNT; i++)
        bench_hist_free(&s->op[i]);
    for (uint32_t i = 0; i < BENCH_SERIES_S_MAX; i++) {
        if (s->sec_hist[i]) {
            bench_hist_free(s->sec_hist[i]);
            cet_free(s->sec_hist[i]);
            s->sec_hist[i] = NULL;
        }
    }
}

static void stats_count_code(bench_stats_t *s, const char *code, uint64_t n)
{
    for (uint32_t i = 0; i < s->n_codes; i++) {
        if (strcmp(s->codes[i].code, code) == 0) {
            s->codes[i].n += n;
            return;
        }
    }
    if (s->n_codes == BENCH_CODES_MAX) {
        s->codes_other += n;
        return;
    }
    cet_strlcpy(s->codes[s->n_codes].code, code, sizeof s->codes[0].code);
    s->codes[s->n_codes].n = n;
    s->n_codes++;
}

void bench_stats_merge(bench_stats_t *dst, const bench_stats_t *src)
{
    bench_hist_merge(&dst->all, &src->all);
    bench_hist_merge(&dst->reg201, &src->reg201);
    if (src->reg201_last_ns > dst->reg201_last_ns) dst->reg201_last_ns = src->reg201_last_ns;
    for (int i = 0; i < BENCH_OP__COUNT; i++) {
        bench_hist_merge(&dst->op[i], &src->op[i]);
        dst->op_count[i] += src->op_count[i];
        dst->op_fail[i] += src->op_fail[i];
    }
    for (int i = 0; i < 600; i++)
        dst->status[i] += src->status[i];
    for (uint32_t i = 0; i < src->n_codes; i++)
        stats_count_code(dst, src->codes[i].code, src->codes[i].n);
    dst->codes_other += src->codes_other;
    dst->bytes_in += src->bytes_in;
    dst->connects += src->connects;
    dst->conn_failures += src->conn_failures;
    dst->dropped += src->dropped;
    for (uint32_t i = 0; i < src->n_secs; i++) {
        dst->sec_done[i] += src->sec_done[i];
        dst->sec_fail[i] += src->sec_fail[i];
        dst->sec_2xx[i] += src->sec_2xx[i];
        dst->sec_reg201[i] += src->sec_reg201[i];
        if (src->sec_hist[i]) {
            if (!dst->sec_hist[i]) {
                dst->sec_hist[i] = cet_malloc(sizeof(bench_hist_t));
                bench_hist_init(dst->sec_hist[i], BENCH_HIST_SUB_BITS_COARSE);
            }
            bench_hist_merge(dst->sec_hist[i], src->sec_hist[i]);
        }
    }
    if (src->n_secs > dst->n_secs) dst->n_secs = src->n_secs;
}

void bench_stats_record(bench_stats_t *s, const bench_req_t *r, uint64_t t0_ns, uint64_t done_ns)
{
    uint64_t lat_us = done_ns > r->intended_ns ? (done_ns - r->intended_ns) / 1000u : 0;
    bool failed = r->status == 0 || r->status >= 400;
    bench_hist_record(&s->all, lat_us);
    CET_ASSERT(r->op < BENCH_OP__COUNT);
    bench_hist_record(&s->op[r->op], lat_us);
    s->op_count[r->op]++;
    if (failed) s->op_fail[r->op]++;
    s->status[r->status >= 0 && r->status < 600 ? r->status : 0]++;
    s->bytes_in += r->resp_bytes;
    if (r->status == 0) {
        stats_count_code(s, r->fail ? r->fail : "no_answer", 1);
    } else if (r->status >= 400) {
        char code[48];
        if (bench_json_field(r->resp, "code", code, sizeof code) == 0) {
            stats_count_code(s, code, 1);
        } else {
            char k[48];
            snprintf(k, sizeof k, "http_%d", r->status);
            stats_count_code(s, k, 1);
        }
    }
    uint64_t since_t0_ns = done_ns > t0_ns ? done_ns - t0_ns : 0;
    bool durable = r->status == 201 && (r->op == BENCH_OP_REGISTER || r->op == BENCH_OP_ORAL);
    if (durable) {
        bench_hist_record(&s->reg201, lat_us);
        if (since_t0_ns > s->reg201_last_ns) s->reg201_last_ns = since_t0_ns;
    }
    uint64_t sec = since_t0_ns / 1000000000u;
    if (sec >= BENCH_SERIES_S_MAX) return;
    s->sec_done[sec]++;
    if (failed) s->sec_fail[sec]++;
    if (r->status >= 200 && r->status < 300) s->sec_2xx[sec]++;
    if (durable) s->sec_reg201[sec]++;
    if (!s->sec_hist[sec]) {
        s->sec_hist[sec] = cet_malloc(sizeof(bench_hist_t));
        bench_hist_init(s->sec_hist[sec], BENCH_HIST_SUB_BITS_COARSE);
    }
    bench_hist_record(s->sec_hist[sec], lat_us);
    if (sec + 1 > s->n_secs) s->n_secs = (uint32_t)sec + 1u;
}
