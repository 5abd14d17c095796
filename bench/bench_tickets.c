/*
 * bench_tickets.c: print-day figures for admission tickets, measured in one
 * process (no HTTP):
 *
 *   arrange  N paid registrations (default 1,000,000) spread over campus-
 *            subjects of --per-offer registrations each, arranged with
 *            eng_arrange_run into the default rooms, plus one campus-subject
 *            at the largest size a run takes (999 rooms x 99 seats);
 *   store    what one LMDB write txn adds around it, through store/: read
 *            every registration and its candidate's roster snapshot (the class
 *            key), write room and seat back, commit with fsync; the real
 *            `reg` and `candidate` databases and record sizes, in a scratch
 *            environment (--lmdb-dir);
 *   render   one ticket --renders times (p50, p99, max in ms), then a bulk
 *            PDF of --bulk tickets; with --threads N also N threads rendering
 *            --renders tickets together (tickets a second, p99), as the worker
 *            pool will.
 *
 * usage: bench_tickets [--regs N] [--per-offer N] [--renders N] [--bulk N]
 *                      [--threads N] [--lmdb-dir DIR] [--no-store] [--keep FILE.pdf]
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "base/cet_err.h"
#include "engine/eng_arrange.h"
#include "net/net_ticket_pdf.h"
#include "store/store.h"

#define BENCH_CLASSES_PER_OFFER 40 /* classes among one campus-subject's candidates */
#define BENCH_RENDERS_MAX 100000
#define BENCH_RENDER_THREADS_MAX 16
#define BENCH_LMDB_MAP_BYTES (4ull << 30)

typedef struct bench_opts {
    size_t regs, per_offer, renders, bulk, threads;
    const char *lmdb_dir;
    bool store;
    const char *keep;
} bench_opts_t;

static double secs_since(uint64_t t0)
{
    return (double)(cet_mono_ns() - t0) / 1e9;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- arrangement ---- */
typedef struct bench_texts {
    char key[CET_ID_NUMBER_BYTES];
    char dept[16];
    char cls[16];
} bench_texts_t;

static void regs_make(eng_arrange_reg_t *regs, bench_texts_t *tx, size_t n, uint64_t first_id)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(rng() % BENCH_CLASSES_PER_OFFER);
        snprintf(tx[i].key, sizeof tx[i].key, "11010120%02u%08llu", (unsigned)(c % 100),
                 (unsigned long long)(rng() % 100000000ull));
        snprintf(tx[i].dept, sizeof tx[i].dept, "学院%02u", (unsigned)(c % 8));
        snprintf(tx[i].cls, sizeof tx[i].cls, "班%03u", (unsigned)c);
        regs[i] = (eng_arrange_reg_t){.reg_id = first_id + i,
                                      .candidate_key = tx[i].key,
                                      .school = 99101,
                                      .department = tx[i].dept,
                                      .class_name = tx[i].cls};
    }
}

static int bench_arrange(const bench_opts_t *o)
{
    size_t n = o->regs, per = o->per_offer;
    eng_arrange_reg_t *regs = cet_malloc(n * sizeof *regs);
    bench_texts_t *tx = cet_malloc(n * sizeof *tx);
    eng_arrange_seat_t *out = cet_malloc(n * sizeof *out);
    regs_make(regs, tx, n, 1);
    size_t offers = 0;
    uint32_t rooms = 0;
    uint64_t t0 = cet_mono_ns();
    for (size_t at = 0; at < n; at += per, offers++) {
        size_t k = n - at < per ? n - at : per;
        eng_arrange_in_t in = {.campus = (uint32_t)(100000 + offers * 10 % 900000),
                               .sitting = 20262,
                               .level = 4,
                               .regs = regs + at,
                               .n_regs = k};
        eng_arrange_summary_t s;
        eng_arrange_err_t rc = eng_arrange_run(&in, out + at, &s);
        if (rc != ENG_ARRANGE_OK) {
            fprintf(stderr, "arrange: %s at offer %zu\n", eng_arrange_err_code(rc), offers);
            return 1;
        }
        rooms += s.rooms;
    }
    double t = secs_since(t0);
    printf("arrange: %zu registrations in %zu campus-subjects (%zu each), %u rooms: %.3f s "
           "(%.0f ns per registration)\n",
           n, offers, per, rooms, t, t * 1e9 / (double)n);

    /* the largest campus-subject a run takes */
    size_t big = ENG_ARRANGE_REGS_MAX < n ? ENG_ARRANGE_REGS_MAX : n;
    eng_arrange_room_t *rm = cet_malloc(ENG_ARRANGE_ROOMS_MAX * sizeof *rm);
    for (int r = 0; r < ENG_ARRANGE_ROOMS_MAX; r++)
        rm[r] = (eng_arrange_room_t){.number = (uint16_t)(r + 1), .seats = ENG_ARRANGE_SEATS_MAX};
    eng_arrange_in_t in = {.campus = 991010,
                           .sitting = 20262,
                           .level = 6,
                           .regs = regs,
                           .n_regs = big,
                           .rooms = rm,
                           .n_rooms = ENG_ARRANGE_ROOMS_MAX};
    eng_arrange_summary_t s;
    t0 = cet_mono_ns();
    eng_arrange_err_t rc = eng_arrange_run(&in, out, &s);
    t = secs_since(t0);
    printf("arrange: one campus-subject of %zu registrations (999 rooms x 99): %.3f s, %s\n", big,
           t, eng_arrange_err_code(rc));
    cet_free(rm);
    cet_free(out);
    cet_free(tx);
    cet_free(regs);
    return rc == ENG_ARRANGE_OK ? 0 : 1;
}

/* ---- what the store txn adds (LMDB through store/, real record sizes) ---- */
#define STORE_CHECK(call)                                                                          \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_) {                                                                                 \
            fprintf(stderr, "store: %s: %s\n", #call, store_strerror(rc_));                        \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* The arrangement txn's walk: each registration and its candidate's roster snapshot. */
typedef struct bench_walk {
    store_t *st;
    store_txn_t *txn;
    size_t n;
} bench_walk_t;

static int bench_read_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    bench_walk_t *w = arg;
    if (klen != 8 || vlen != sizeof(store_reg_t)) return STORE_CORRUPT;
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    uint8_t ck[4];
    store_be32(ck, r.roster_no);
    store_val_t cv;
    int rc = store_get_ref(w->txn, w->st, STORE_DB_CANDIDATE, ck, 4, &cv);
    if (rc) return rc;
    w->n++;
    return CET_OK;
}

static int bench_seat_cb(const void *key, size_t klen, void *val, size_t vlen, bool *changed,
                         void *arg)
{
    (void)key, (void)klen, (void)arg;
    if (vlen != sizeof(store_reg_t)) return STORE_CORRUPT;
    store_reg_t r;
    memcpy(&r, val, sizeof r);
    r.room = (uint16_t)(1 + r.seq / 30 % 999);
    r.seat = (uint8_t)(1 + r.seq % 30);
    r.flags |= 0x80u;
    memcpy(val, &r, sizeof r);
    *changed = true;
    return CET_OK;
}

static int bench_store(const bench_opts_t *o)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bench-tickets-XXXXXX", o->lmdb_dir);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }
    size_t n = o->regs;
    store_options_t sopt = {
        .dir = dir, .sync = true, .map_bytes = BENCH_LMDB_MAP_BYTES, .owner = "bench_tickets"};
    store_t *st;
    STORE_CHECK(store_open(&sopt, &st));
    store_txn_t *txn;
    /* fill: registrations by seq, candidates (their roster snapshot) by a scattered number */
    uint64_t t0 = cet_mono_ns();
    STORE_CHECK(store_write_begin(st, &txn));
    store_reg_t reg;
    store_candidate_t cand;
    memset(&reg, 0, sizeof reg);
    memset(&cand, 0, sizeof cand);
    for (size_t i = 0; i < n; i++) {
        uint8_t k[8];
        store_be64(k, i + 1);
        reg.seq = i + 1;
        reg.roster_no = (uint32_t)((i * 2654435761u) % 4294967291u);
        reg.campus = 991010;
        reg.subject = '1';
        STORE_CHECK(store_put_raw(txn, st, STORE_DB_REG, k, 8, &reg, sizeof reg, 0));
        uint8_t ck[4];
        store_be32(ck, reg.roster_no);
        STORE_CHECK(store_put_raw(txn, st, STORE_DB_CANDIDATE, ck, 4, &cand, sizeof cand, 0));
    }
    STORE_CHECK(store_commit(txn));
    printf("store: filled %zu registrations (%zu B) and candidates with their roster snapshot "
           "(%zu B) in %.1f s (setup, not counted)\n",
           n, sizeof reg, sizeof cand, secs_since(t0));

    /* the arrangement's txn: read each registration and its candidate, write back */
    t0 = cet_mono_ns();
    STORE_CHECK(store_write_begin(st, &txn));
    bench_walk_t w = {st, txn, 0};
    STORE_CHECK(store_scan(txn, st, STORE_DB_REG, NULL, 0, bench_read_cb, &w));
    uint64_t read_ns = cet_mono_ns() - t0;
    /* write back: room and seat, in key order, through the walk's cursor */
    STORE_CHECK(store_update(txn, st, STORE_DB_REG, NULL, 0, bench_seat_cb, NULL));
    uint64_t t1 = cet_mono_ns();
    STORE_CHECK(store_commit(txn));
    double commit = secs_since(t1);
    double total = secs_since(t0);
    printf("store: one write txn over %zu registrations: read + candidate lookups %.3f s, "
           "write back %.3f s, commit (fsync) %.3f s, total %.3f s\n",
           w.n, (double)read_ns / 1e9, (double)(t1 - t0 - read_ns) / 1e9, commit, total);
    store_close(st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

/* ---- rendering ---- */
static void ticket_make(net_ticket_t *t, size_t i)
{
    static const char *const names[] = {"张伟", "王芳", "李娜", "刘洋", "欧阳晓明", "陈静"};
    memset(t, 0, sizeof *t);
    snprintf(t->sitting_name, sizeof t->sitting_name, "2026年下半年CET考试");
    snprintf(t->name, sizeof t->name, "%s", names[i % 6]);
    snprintf(t->id_type, sizeof t->id_type, "居民身份证");
    snprintf(t->id_masked, sizeof t->id_masked, "1101**********%04zu", i % 10000);
    snprintf(t->school, sizeof t->school, "(99101)测试学校机构01");
    snprintf(t->subject, sizeof t->subject, "英语四级笔试");
    snprintf(t->exam_date, sizeof t->exam_date, "2026年12月19日");
    snprintf(t->exam_time, sizeof t->exam_time, "09:00-11:20");
    snprintf(t->campus, sizeof t->campus, "(991010)测试校区机构001");
    t->room = (uint16_t)(1 + i / 30 % 999);
    t->seat = (uint8_t)(1 + i % 30);
    eng_arrange_ticket_format(991010, 20262, 1, t->room, t->seat, t->ticket);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench_render(const bench_opts_t *o)
{
    char font[256];
    if (!net_ticket_pdf_font_check(font, sizeof font)) {
        fprintf(stderr, "render: font %s not found\n", NET_TICKET_FONT_FAMILY);
        return 1;
    }
    net_ticket_t t;
    uint8_t *pdf;
    size_t len;
    uint64_t t0 = cet_mono_ns();
    ticket_make(&t, 0);
    if (net_ticket_pdf_render(&t, 1, &pdf, &len) != NET_TICKET_OK) return 1;
    cet_free(pdf);
    printf("render: first ticket on this thread (fonts loaded): %.1f ms, font %s\n",
           secs_since(t0) * 1e3, font);
    size_t n = o->renders;
    double *ms = cet_malloc(n * sizeof *ms + 1);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        ticket_make(&t, i + 1);
        t0 = cet_mono_ns();
        net_ticket_err_t rc = net_ticket_pdf_render(&t, 1, &pdf, &len);
        ms[i] = secs_since(t0) * 1e3;
        if (rc != NET_TICKET_OK) return 1;
        bytes += len;
        cet_free(pdf);
    }
    qsort(ms, n, sizeof *ms, cmp_double);
    if (n)
        printf("render: one ticket x %zu: p50 %.2f ms, p99 %.2f ms, max %.2f ms, %zu B each\n", n,
               ms[n / 2], ms[(n * 99) / 100], ms[n - 1], bytes / n);
    cet_free(ms);

    size_t nb = o->bulk;
    net_ticket_t *many = cet_malloc(nb * sizeof *many + 1);
    for (size_t i = 0; i < nb; i++)
        ticket_make(&many[i], i);
    t0 = cet_mono_ns();
    net_ticket_err_t rc = net_ticket_pdf_render(many, nb, &pdf, &len);
    double bulk_s = secs_since(t0);
    if (rc != NET_TICKET_OK) {
        fprintf(stderr, "bulk: %s\n", net_ticket_err_name(rc));
        return 1;
    }
    printf("render: bulk PDF of %zu tickets: %.2f s (%.2f ms a page), %.1f MB\n", nb, bulk_s,
           bulk_s * 1e3 / (double)nb, (double)len / 1e6);
    if (o->keep) {
        FILE *f = fopen(o->keep, "wb");
        if (f) {
            fwrite(pdf, 1, len, f);
            fclose(f);
        }
    }
    cet_free(pdf);
    cet_free(many);
    return 0;
}

/* ---- rendering from several threads at once (the worker pool) ---- */
typedef struct render_job {
    size_t first, n;
    double *ms;
    int rc;
} render_job_t;

static void *render_thread(void *arg)
{
    render_job_t *j = arg;
    for (size_t i = 0; i < j->n; i++) {
        net_ticket_t t;
        uint8_t *pdf;
        size_t len;
        ticket_make(&t, j->first + i);
        uint64_t t0 = cet_mono_ns();
        j->rc |= (int)net_ticket_pdf_render(&t, 1, &pdf, &len);
        j->ms[i] = secs_since(t0) * 1e3;
        cet_free(pdf);
    }
    return NULL;
}

static int bench_render_threads(const bench_opts_t *o)
{
    size_t nt = o->threads, per = o->renders / nt;
    if (per == 0) return 0;
    double *ms = cet_malloc(nt * per * sizeof *ms);
    render_job_t jobs[BENCH_RENDER_THREADS_MAX];
    pthread_t th[BENCH_RENDER_THREADS_MAX];
    uint64_t t0 = cet_mono_ns();
    for (size_t i = 0; i < nt; i++) {
        jobs[i] = (render_job_t){.first = i * per, .n = per, .ms = ms + i * per};
        if (pthread_create(&th[i], NULL, render_thread, &jobs[i]) != 0) return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
        rc |= jobs[i].rc;
    }
    double t = secs_since(t0);
    size_t n = nt * per;
    qsort(ms, n, sizeof *ms, cmp_double);
    printf("render: %zu threads x %zu tickets: %.0f tickets/s, p50 %.2f ms, p99 %.2f ms "
           "(includes each thread's first, font-loading render)\n",
           nt, per, (double)n / t, ms[n / 2], ms[(n * 99) / 100]);
    cet_free(ms);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    bench_opts_t o = {.regs = 1000000,
                      .per_offer = 2500,
                      .renders = 200,
                      .bulk = 1000,
                      .lmdb_dir = "/tmp",
                      .store = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--regs") == 0 && v)
            o.regs = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--per-offer") == 0 && v)
            o.per_offer = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--renders") == 0 && v)
            o.renders = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--bulk") == 0 && v)
            o.bulk = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--threads") == 0 && v)
            o.threads = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--lmdb-dir") == 0 && v)
            o.lmdb_dir = v, i++;
        else if (strcmp(a, "--keep") == 0 && v)
            o.keep = v, i++;
        else if (strcmp(a, "--no-store") == 0)
            o.store = false;
        else {
            fprintf(stderr,
                    "usage: %s [--regs N] [--per-offer N] [--renders N] [--bulk N] "
                    "[--threads N] [--lmdb-dir DIR] [--no-store] [--keep FILE.pdf]\n",
                    argv[0]);
            return 2;
        }
    }
    if (o.regs == 0 || o.per_offer == 0 || o.per_offer > ENG_ARRANGE_REGS_MAX ||
        o.renders > BENCH_RENDERS_MAX || o.threads > BENCH_RENDER_THREADS_MAX || o.bulk == 0 ||
        o.bulk > NET_TICKET_PDF_TICKETS_MAX) {
        fprintf(stderr,
                "bench_tickets: --regs >= 1, --per-offer 1..%d, --renders <= %d, "
                "--bulk 1..%d\n",
                ENG_ARRANGE_REGS_MAX, BENCH_RENDERS_MAX, NET_TICKET_PDF_TICKETS_MAX);
        return 2;
    }
    int rc = bench_arrange(&o);
    if (rc == 0 && o.store) rc = bench_store(&o);
    if (rc == 0) rc = bench_render(&o);
    if (rc == 0 && o.threads > 0) rc = bench_render_threads(&o);
    return rc;
}
