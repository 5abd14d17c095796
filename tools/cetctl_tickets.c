/*
 * cetctl_tickets.c: `cetctl bench-paid --data DIR --campuses N --per-campus M --out FILE
 * [--password P]`: the data of the print-day benchmarks. Into a demo environment it
 * adds N campuses (schools 19001.. of province 11, campus = school * 10, English-4
 * written only, window = the sitting's) with M roster records each, every one bound
 * to an account with a session and holding one PAID English-4 registration, so
 * `POST /api/v1/admin/arrangements` (as the demo's province staff prov11) has N x M
 * registrations to seat and cetbench's `tickets` scenario has candidates to log in.
 * The TSV has bench-prep's columns (token, email, id_type, id_number, name, campus,
 * subjects). Sessions expire CET_SESSION_TTL_S after this command's clock: run it
 * with the CET_CLOCK_OFFSET_S cetd will have (docs/benchmarks.md, "Print day").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "base/cet_token.h"
#include "engine/eng.h"
#include "tools/cetctl.h"

#define PAID_SCHOOL_FIRST 19001u /* school codes of the benchmark campuses */
#define PAID_PROVINCE 11
#define PAID_PASSWORD_DEFAULT "bench-Pass-2026"

typedef struct paid_row {
    uint32_t roster_no;
    uint32_t campus;
    uint8_t id[16];
    uint8_t key[32];
    char token[CET_TOKEN_CHARS + 1];
    char id_number[19];
} paid_row_t;

typedef struct paid {
    store_t *st;
    uint32_t campuses, per;
    size_t n, pos;
    int phase; /* 1 places + roster, 2 accounts, 3 candidates + registrations, 4 sessions */
    int64_t now;
    store_sitting_t sitting;
    char pwhash[CET_PWHASH_BYTES];
    paid_row_t *rows;
    uint32_t *order;
    ctl_progress_t prog;
} paid_t;

static const char *const given[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊",   "军", "洋",
                                    "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平"};
static const char *const surname[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"};

static void paid_email(uint32_t no, char out[CET_EMAIL_BYTES])
{
    snprintf(out, CET_EMAIL_BYTES, "paid%u@bench.test", no);
}

static void paid_name(size_t i, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", surname[i % 10], given[(i / 10) % 20]);
}

/* A valid 18-character mainland ID, increasing with i (so roster keys go in order). */
static void paid_id(size_t i, char out[19])
{
    snprintf(out, 19, "11010820%02u%07zu", (unsigned)(i / 10000000 % 100), i % 10000000);
    out[17] = cet_id_check_char(out);
    out[18] = 0;
}

static int places_put(store_txn_t *txn, paid_t *p)
{
    int rc;
    for (uint32_t c = 0; c < p->campuses; c++) {
        store_school_t s;
        memset(&s, 0, sizeof s);
        s.code = PAID_SCHOOL_FIRST + c;
        s.province = PAID_PROVINCE;
        snprintf(s.name, sizeof s.name, "基准测试学校%03u", c + 1);
        if ((rc = store_school_put(txn, p->st, &s))) return rc;
        store_campus_t cp;
        memset(&cp, 0, sizeof cp);
        cp.code = s.code * 10;
        cp.school = s.code;
        snprintf(cp.name, sizeof cp.name, "基准测试校区%03u", c + 1);
        if ((rc = store_campus_put(txn, p->st, &cp))) return rc;
        store_offer_t o;
        memset(&o, 0, sizeof o);
        o.campus = cp.code;
        o.subject = '1';
        o.capacity = p->per;
        o.fee = 3000;
        o.window_opens = p->sitting.reg_opens;
        o.window_closes = p->sitting.reg_closes;
        o.exam_date = p->sitting.written_date;
        if ((rc = store_offer_put(txn, p->st, &o))) return rc;
    }
    return 0;
}

static int row_put(store_txn_t *txn, paid_t *p, paid_row_t *r, size_t i)
{
    int rc;
    if (p->phase == 1) {
        store_roster_t ro;
        memset(&ro, 0, sizeof ro);
        ro.school = r->campus / 10;
        ro.campus = r->campus;
        ro.id_type = STORE_ID_MAINLAND;
        ro.education = STORE_EDU_BACHELOR;
        ro.program_years = 4;
        ro.entry_year = 2024;
        ro.grade = 3;
        ro.n_subjects = 1;
        ro.subjects[0] = '1';
        cet_strlcpy(ro.id_number, r->id_number, sizeof ro.id_number);
        paid_name(i, ro.name, sizeof ro.name);
        snprintf(ro.department, sizeof ro.department, "学院%02zu", i % 8);
        snprintf(ro.major, sizeof ro.major, "专业%02zu", i % 16);
        snprintf(ro.class_name, sizeof ro.class_name, "班%03zu", (i / 8) % 60);
        snprintf(ro.student_no, sizeof ro.student_no, "S%09zu", i);
        if ((rc = store_roster_put(txn, p->st, &ro))) return rc;
        r->roster_no = ro.roster_no;
        return 0;
    }
    if (p->phase == 2) {
        store_account_t a;
        memset(&a, 0, sizeof a);
        memcpy(a.id, r->id, sizeof a.id);
        paid_email(r->roster_no, a.email);
        memcpy(a.pwhash, p->pwhash, sizeof a.pwhash);
        a.created = a.agreed_at = p->now;
        a.roster_no = r->roster_no;
        return store_account_put(txn, p->st, &a, false);
    }
    if (p->phase == 3) {
        /* the very records a binding and a login make (engine/eng.h, as bench-prep) */
        store_roster_t ro;
        store_candidate_t cd;
        if ((rc = store_roster_get_by_no(txn, p->st, r->roster_no, &ro))) return rc;
        eng_candidate_init(&cd, &ro, r->id, p->now, CET_HOLD_TTL_DEFAULT_S);
        cd.empty_due = 0; /* it holds a registration: not due for deletion */
        if ((rc = store_candidate_put(txn, p->st, r->roster_no, &cd))) return rc;
        store_reg_t g;
        memset(&g, 0, sizeof g);
        g.roster_no = r->roster_no;
        g.campus = r->campus;
        g.subject = '1';
        g.flags = STORE_REG_PAID;
        g.method = STORE_BY_CANDIDATE;
        g.fee = 3000;
        g.created = p->now;
        return store_reg_put(txn, p->st, &g, 0);
    }
    store_session_t s;
    eng_session_init(&s, STORE_SESSION_CANDIDATE, r->id, NULL, p->now);
    return store_session_put(txn, p->st, r->key, &s);
}

static int paid_txn_cb(store_txn_t *txn, void *arg)
{
    paid_t *p = arg;
    int rc;
    if (p->phase == 1 && p->pos == 0 && (rc = places_put(txn, p))) return rc;
    size_t end = p->pos + CTL_TXN_ROWS_MAX < p->n ? p->pos + CTL_TXN_ROWS_MAX : p->n;
    for (size_t i = p->pos; i < end; i++)
        if ((rc = row_put(txn, p, &p->rows[p->order[i]], p->order[i]))) return rc;
    if (end == p->n && p->phase == 4) {
        char text[96];
        snprintf(text, sizeof text, "bench-paid: %zu paid registrations at %u campuses", p->n,
                 p->campuses);
        return store_audit_append(txn, p->st, p->now, "cetctl", "bench_paid", text);
    }
    return 0;
}

static const paid_t *sort_ctx;
static int by_id(const void *x, const void *y)
{
    return memcmp(sort_ctx->rows[*(const uint32_t *)x].id, sort_ctx->rows[*(const uint32_t *)y].id,
                  16);
}
static int by_key(const void *x, const void *y)
{
    return memcmp(sort_ctx->rows[*(const uint32_t *)x].key,
                  sort_ctx->rows[*(const uint32_t *)y].key, 32);
}
static int by_index(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

/* Writes each phase in its own key order, CTL_TXN_ROWS_MAX rows a txn (as bench-prep). */
static int paid_write(paid_t *p)
{
    static int (*const sorts[5])(const void *, const void *) = {NULL, by_index, by_id, by_index,
                                                                by_key};
    sort_ctx = p;
    for (p->phase = 1; p->phase <= 4; p->phase++) {
        qsort(p->order, p->n, sizeof *p->order, sorts[p->phase]);
        for (p->pos = 0; p->pos < p->n; p->pos += CTL_TXN_ROWS_MAX) {
            int rc = store_write_run(p->st, paid_txn_cb, p);
            if (rc) return rc;
            ctl_progress_tick(&p->prog, ((uint64_t)(p->phase - 1) * p->n + p->pos) / 4);
        }
    }
    return ctl_store_sync(p->st);
}

static int paid_tsv(paid_t *p, FILE *f)
{
    for (size_t i = 0; i < p->n; i++) {
        const paid_row_t *r = &p->rows[i];
        char email[CET_EMAIL_BYTES], name[CET_NAME_BYTES];
        paid_email(r->roster_no, email);
        paid_name(i, name, sizeof name);
        fprintf(f, "%s\t%s\tmainland\t%s\t%s\t%u\t1\n", r->token, email, r->id_number, name,
                r->campus);
    }
    return fflush(f) != 0 || ferror(f) ? EIO : 0;
}

int ctl_cmd_bench_paid(int argc, char **argv)
{
    const char *data = NULL, *cs = NULL, *ps = NULL, *out = NULL, *pw = PAID_PASSWORD_DEFAULT;
    const ctl_opt_t opts[] = {{"--data", &data, NULL},     {"--campuses", &cs, NULL},
                              {"--per-campus", &ps, NULL}, {"--out", &out, NULL},
                              {"--password", &pw, NULL},   {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    uint64_t nc = 0, per = 0;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos || !data ||
        !out || ctl_parse_u64(cs, 1, CTL_BENCH_PAID_CAMPUSES_MAX, &nc) != 0 ||
        ctl_parse_u64(ps, 1, CTL_BENCH_PAID_PER_CAMPUS_MAX, &per) != 0 || !cet_password_ok(pw)) {
        fprintf(stderr,
                "usage: cetctl bench-paid --data DIR --campuses N (1..%u) --per-campus M "
                "(1..%u) --out FILE [--password P]\n",
                CTL_BENCH_PAID_CAMPUSES_MAX, CTL_BENCH_PAID_PER_CAMPUS_MAX);
        return CTL_EXIT_USAGE;
    }
    paid_t *p = cet_calloc(1, sizeof *p);
    p->campuses = (uint32_t)nc;
    p->per = (uint32_t)per;
    p->n = (size_t)(nc * per);
    p->now = cet_now_s();
    int ret = CTL_EXIT_USAGE, rc;
    FILE *f = NULL;
    if (ctl_password_hash(pw, p->pwhash) != 0) goto done;
    if (ctl_store_open_nosync(data, &p->st) != 0) goto done;
    store_txn_t *txn;
    if ((rc = store_read_begin(p->st, &txn)) == 0) {
        rc = store_sitting_get(txn, p->st, &p->sitting);
        store_school_t s;
        if (rc == 0 && store_school_get(txn, p->st, PAID_SCHOOL_FIRST, &s) == 0) rc = STORE_EXISTS;
        store_abort(txn);
    }
    if (rc) {
        fprintf(stderr, "cetctl bench-paid: %s: %s (give a fresh cetctl demo)\n", data,
                rc == STORE_EXISTS ? "already has the benchmark campuses" : store_strerror(rc));
        goto done;
    }
    if (!(f = fopen(out, "w"))) {
        fprintf(stderr, "cetctl bench-paid: %s: %s\n", out, strerror(errno));
        goto done;
    }
    p->rows = cet_calloc(p->n, sizeof *p->rows);
    p->order = cet_malloc(p->n * sizeof *p->order);
    for (size_t i = 0; i < p->n; i++) {
        paid_row_t *r = &p->rows[i];
        r->campus = (PAID_SCHOOL_FIRST + (uint32_t)(i / per)) * 10;
        paid_id(i, r->id_number);
        cet_account_id_new(r->id);
        cet_token_new(r->token, r->key);
        p->order[i] = (uint32_t)i;
    }
    ctl_progress_start(&p->prog, "bench-paid");
    if ((rc = paid_write(p)) || (rc = paid_tsv(p, f))) {
        fprintf(stderr, "cetctl bench-paid: %s\n", store_strerror(rc));
        goto done;
    }
    ctl_progress_done(&p->prog, p->n);
    fprintf(stderr,
            "bench-paid: %zu paid English-4 registrations at %u campuses (%06u..%06u), "
            "tokens in %s; arrange as prov11\n",
            p->n, p->campuses, PAID_SCHOOL_FIRST * 10, (PAID_SCHOOL_FIRST + p->campuses - 1) * 10,
            out);
    ret = CTL_EXIT_OK;
done:
    if (f && fclose(f) != 0) ret = CTL_EXIT_USAGE;
    if (p->st) store_close(p->st);
    cet_free(p->rows);
    cet_free(p->order);
    cet_free(p);
    return ret;
}
