/*
 * redis_seat.c: the comparison's Redis side, driven like cetbench drives cetd.
 *
 * The operation: "take a seat if one is left and record the registration",
 * as one Lua script run with EVALSHA (check remaining > 0, DECR, HSET the
 * registration, RPUSH it onto a log). Redis runs with appendonly yes and
 * appendfsync always, so an answer follows the AOF fsync, as cetd's follows
 * its LMDB commit. Closed loop over --connections keep-alive connections, one
 * command in flight on each (no pipelining, as cetbench over HTTP/1.1), on one
 * libevent loop; latency goes into cetbench's histogram.
 *
 *   redis_seat --port P [--connections 64] [--duration 10] [--offers 1000]
 *              [--capacity 100000000] [--label TEXT]
 * --offers 1 is the hot row. Prints one line: ops/s and latency percentiles.
 */
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bench/bench.h"
#include "base/cet_base.h"

#define SEAT_CONNS_MAX 4096

static const char seat_lua[] = "local left = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                               "if left <= 0 then return 0 end\n"
                               "redis.call('DECR', KEYS[1])\n"
                               "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
                               "redis.call('RPUSH', KEYS[3], ARGV[1])\n"
                               "return 1\n";

typedef struct seat_run {
    struct event_base *base;
    char sha[48];
    uint32_t offers;
    uint64_t end_ns;
    uint64_t next_cand;
    uint64_t taken, full, errors;
    bench_hist_t hist;
    uint32_t live;
    uint64_t rng;
} seat_run_t;

typedef struct seat_conn {
    seat_run_t *run;
    redisAsyncContext *ac;
    uint64_t sent_ns;
} seat_conn_t;

static void seat_send(seat_conn_t *c);

static void seat_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    seat_conn_t *c = priv;
    seat_run_t *run = c->run;
    redisReply *reply = r;
    uint64_t now = cet_mono_ns();
    bench_hist_record(&run->hist, (now - c->sent_ns) / 1000u);
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        run->errors++;
    else if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1)
        run->taken++;
    else
        run->full++;
    if (!reply || now >= run->end_ns) {
        if (run->live-- == 1) event_base_loopbreak(run->base);
        return;
    }
    seat_send(c);
}

static void seat_send(seat_conn_t *c)
{
    seat_run_t *run = c->run;
    run->rng = run->rng * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t offer = run->offers > 1 ? (uint32_t)((run->rng >> 33) % run->offers) : 0;
    uint64_t cand = run->next_cand++;
    char k_seats[32], k_regs[32], cand_s[24], payload[96];
    snprintf(k_seats, sizeof k_seats, "seats:%u", offer);
    snprintf(k_regs, sizeof k_regs, "regs:%u", offer);
    snprintf(cand_s, sizeof cand_s, "%llu", (unsigned long long)cand);
    snprintf(payload, sizeof payload,
             "{\"campus\":%u,\"subject\":\"1\",\"state\":\"unpaid\",\"t\":%lld}", offer,
             (long long)cet_now_s());
    c->sent_ns = cet_mono_ns();
    redisAsyncCommand(c->ac, seat_reply_cb, c, "EVALSHA %s 3 %s %s reglog %s %s", run->sha, k_seats,
                      k_regs, cand_s, payload);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 6379;
    uint32_t conns = 64, offers = 1000;
    double duration = 10;
    long long capacity = 100000000;
    const char *label = "redis";
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--connections") == 0)
            conns = (uint32_t)atoi(v);
        else if (strcmp(a, "--duration") == 0)
            duration = atof(v);
        else if (strcmp(a, "--offers") == 0)
            offers = (uint32_t)atoi(v);
        else if (strcmp(a, "--capacity") == 0)
            capacity = atoll(v);
        else if (strcmp(a, "--label") == 0)
            label = v;
        else
            goto usage;
    }
    if (conns < 1 || conns > SEAT_CONNS_MAX || offers < 1 || duration <= 0 ||
        duration > BENCH_DURATION_S_MAX)
        goto usage;

    /* set up: seats per offer, the script */
    redisContext *sc = redisConnect(host, port);
    if (!sc || sc->err) {
        fprintf(stderr, "redis_seat: cannot connect to %s:%d\n", host, port);
        return 1;
    }
    redisReply *r = redisCommand(sc, "FLUSHALL");
    freeReplyObject(r);
    for (uint32_t o = 0; o < offers; o++) {
        redisAppendCommand(sc, "SET seats:%u %lld", o, capacity);
    }
    for (uint32_t o = 0; o < offers; o++) {
        if (redisGetReply(sc, (void **)&r) != REDIS_OK) return 1;
        freeReplyObject(r);
    }
    r = redisCommand(sc, "SCRIPT LOAD %s", seat_lua);
    if (!r || r->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "redis_seat: SCRIPT LOAD failed\n");
        return 1;
    }
    seat_run_t run = {.offers = offers, .rng = 42};
    cet_strlcpy(run.sha, r->str, sizeof run.sha);
    freeReplyObject(r);
    redisFree(sc);

    run.base = event_base_new();
    bench_hist_init(&run.hist, BENCH_HIST_SUB_BITS_FINE);
    seat_conn_t *cs = cet_calloc(conns, sizeof *cs);
    for (uint32_t i = 0; i < conns; i++) {
        cs[i].run = &run;
        cs[i].ac = redisAsyncConnect(host, port);
        if (!cs[i].ac || cs[i].ac->err) {
            fprintf(stderr, "redis_seat: async connect failed\n");
            return 1;
        }
        redisLibeventAttach(cs[i].ac, run.base);
    }
    uint64_t t0 = cet_mono_ns();
    run.end_ns = t0 + (uint64_t)(duration * 1e9);
    run.live = conns;
    for (uint32_t i = 0; i < conns; i++)
        seat_send(&cs[i]);
    event_base_dispatch(run.base);
    double secs = (double)(cet_mono_ns() - t0) / 1e9;
    uint64_t n = run.hist.count;
    printf("%s: %u connections, %u offers, %.2f s: %llu ops, %.1f ops/s, taken %llu, full %llu, "
           "errors %llu; "
           "latency ms p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
           label, conns, offers, secs, (unsigned long long)n, (double)n / secs,
           (unsigned long long)run.taken, (unsigned long long)run.full,
           (unsigned long long)run.errors, (double)bench_hist_percentile(&run.hist, 50) / 1000,
           (double)bench_hist_percentile(&run.hist, 90) / 1000,
           (double)bench_hist_percentile(&run.hist, 99) / 1000,
           (double)bench_hist_percentile(&run.hist, 99.9) / 1000, (double)run.hist.max_us / 1000);
    return run.errors ? 1 : 0;
usage:
    fprintf(stderr,
            "usage: redis_seat --port P [--host H] [--connections N] [--duration S] [--offers N] "
            "[--capacity N] [--label TEXT]\n");
    return 2;
}
