/*
 * bench_hist.c: the latency histogram.
 *
 * Bucket index of a value v (microseconds), S = sub_bits:
 *   v < 2^S:  index v (exact)
 *   else:     m = msb(v), sh = m - S + 1, index = sh * 2^(S-1) + (v >> sh)
 * (v >> sh) lies in [2^(S-1), 2^S), so the indexes of consecutive octaves
 * follow each other without gaps, and a bucket spans 2^sh values.
 */
#include "bench/bench.h"

#include <string.h>

#include "base/cet_base.h"

static uint32_t hist_index(uint32_t sub_bits, uint64_t v)
{
    if (v < (1ull << sub_bits)) return (uint32_t)v;
    uint32_t m = 63u - (uint32_t)__builtin_clzll(v);
    uint32_t sh = m - sub_bits + 1u;
    return (sh << (sub_bits - 1u)) + (uint32_t)(v >> sh);
}

/* The lowest value of bucket idx and its width. */
static void hist_bucket_range(uint32_t sub_bits, uint32_t idx, uint64_t *lo, uint64_t *width)
{
    if (idx < (1u << sub_bits)) {
        *lo = idx;
        *width = 1;
        return;
    }
    uint32_t sh = (idx >> (sub_bits - 1u)) - 1u;
    uint64_t sub = idx - ((uint64_t)sh << (sub_bits - 1u));
    *lo = sub << sh;
    *width = 1ull << sh;
}

void bench_hist_init(bench_hist_t *h, uint32_t sub_bits)
{
    CET_ASSERT(sub_bits >= 4 && sub_bits <= 12);
    memset(h, 0, sizeof *h);
    h->sub_bits = sub_bits;
    h->n_buckets = hist_index(sub_bits, BENCH_LATENCY_US_MAX) + 1u;
    h->buckets = cet_calloc(h->n_buckets, sizeof h->buckets[0]);
    h->min_us = UINT64_MAX;
}

void bench_hist_free(bench_hist_t *h)
{
    if (h->buckets) cet_free(h->buckets);
    h->buckets = NULL;
    h->n_buckets = 0;
}

void bench_hist_record(bench_hist_t *h, uint64_t us)
{
    uint64_t clamped = us > BENCH_LATENCY_US_MAX ? BENCH_LATENCY_US_MAX : us;
    uint32_t i = hist_index(h->sub_bits, clamped);
    CET_ASSERT(i < h->n_buckets);
    h->buckets[i]++;
    h->count++;
    h->sum_us += us;
    if (us > h->max_us) h->max_us = us;
    if (us < h->min_us) h->min_us = us;
}

void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src)
{
    CET_ASSERT(dst->sub_bits == src->sub_bits && dst->n_buckets == src->n_buckets);
    for (uint32_t i = 0; i < src->n_buckets; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum_us += src->sum_us;
    if (src->max_us > dst->max_us) dst->max_us = src->max_us;
    if (src->min_us < dst->min_us) dst->min_us = src->min_us;
}

uint64_t bench_hist_percentile(const bench_hist_t *h, double p)
{
    if (h->count == 0) return 0;
    if (p >= 100.0) return h->max_us;
    /* the rank of the value at p: at least 1 */
    double want = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want || rank == 0) rank++;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < h->n_buckets; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t lo, width;
            hist_bucket_range(h->sub_bits, i, &lo, &width);
            uint64_t mid = lo + (width - 1) / 2;
            if (mid > h->max_us) mid = h->max_us;
            if (mid < h->min_us) mid = h->min_us;
            return mid;
        }
    }
    return h->max_us;
}
