/*
 * cetctl_staff.c: `cetctl staff add` and `cetctl bench-prep`.
 *
 * bench-prep makes N candidates ready for a load test without going through
 * HTTP: account (agreement accepted), binding, and a live session each,
 * written straight into LMDB in large txns (bench_write says why in key order). argon2id runs
 * once and its string is shared by every bench account (they all have the
 * same password), which is what makes a million accounts take seconds. The
 * tokens are printed only after the txn that stores their sessions commits.
 * --legacy-pwhash (both commands) hashes at the costs before CET_PWHASH_OPS /
 * CET_PWHASH_MEM_BYTES, for the tests of the upgrade at the next login.
 */
#include <errno.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "base/cet_token.h"
#include "engine/eng.h"
#include "tools/cetctl.h"

#define BENCH_PASSWORD_DEFAULT "bench-Pass-2026"

/* ---- staff add ---- */
typedef struct staff_add {
    store_t *st;
    store_staff_t staff;
    int64_t now;
} staff_add_t;

static int staff_txn_cb(store_txn_t *txn, void *arg)
{
    staff_add_t *s = arg;
    int rc = store_staff_put(txn, s->st, &s->staff);
    if (rc) return rc;
    char text[96];
    snprintf(text, sizeof text, "staff %s role %u scope %u", s->staff.user, s->staff.role,
             s->staff.scope);
    return store_audit_append(txn, s->st, s->now, "cetctl", "staff_add", text);
}

/* Reads the first line of a password file (trailing newline dropped). */
static int read_password_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cetctl staff: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!fgets(out, (int)cap, f)) out[0] = 0;
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
    return 0;
}

int ctl_cmd_staff(int argc, char **argv)
{
    const char *data = NULL, *user = NULL, *role = NULL, *scope = NULL, *pwfile = NULL;
    bool legacy = false;
    const ctl_opt_t opts[] = {{"--data", &data, NULL},   {"--user", &user, NULL},
                              {"--role", &role, NULL},   {"--scope", &scope, NULL},
                              {"--password-file", &pwfile, NULL},
                              {"--legacy-pwhash", NULL, &legacy}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos != 1 ||
        strcmp(pos[0], "add") != 0 || !data || !user || !role || !pwfile) {
        fprintf(stderr, "usage: cetctl staff add --data DIR --user U --role "
                        "school|province|support --scope CODE --password-file F "
                        "[--legacy-pwhash]\n");
        return CTL_EXIT_USAGE;
    }
    staff_add_t s;
    memset(&s, 0, sizeof s);
    s.now = cet_now_s();
    size_t ul = strlen(user);
    bool user_ok = ul > 0 && ul < sizeof s.staff.user;
    for (size_t i = 0; i < ul; i++) {
        char c = user[i];
        user_ok &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-' || c == '.';
    }
    if (!user_ok) {
        fprintf(stderr, "cetctl staff: --user must be 1..%zu of [A-Za-z0-9_.-]\n",
                sizeof s.staff.user - 1);
        return CTL_EXIT_USAGE;
    }
    cet_strlcpy(s.staff.user, user, sizeof s.staff.user);
    uint64_t code = 0;
    if (!strcmp(role, "school")) {
        s.staff.role = STORE_STAFF_SCHOOL;
        if (!scope || strlen(scope) != 5 || ctl_parse_u64(scope, 10000, 99999, &code)) {
            fprintf(stderr, "cetctl staff: a school role needs --scope with a 5-digit school code\n");
            return CTL_EXIT_USAGE;
        }
    } else if (!strcmp(role, "province")) {
        s.staff.role = STORE_STAFF_PROVINCE;
        if (!scope || strlen(scope) != 2 || ctl_parse_u64(scope, 10, 99, &code)) {
            fprintf(stderr, "cetctl staff: a province role needs --scope with a 2-digit code\n");
            return CTL_EXIT_USAGE;
        }
    } else if (!strcmp(role, "support")) {
        s.staff.role = STORE_STAFF_SUPPORT;
        if (scope && ctl_parse_u64(scope, 0, 0, &code)) {
            fprintf(stderr, "cetctl staff: the support role has no scope (omit --scope or give 0)\n");
            return CTL_EXIT_USAGE;
        }
    } else {
        fprintf(stderr, "cetctl staff: --role must be school, province or support\n");
        return CTL_EXIT_USAGE;
    }
    s.staff.scope = (uint32_t)code;
    char pw[CTL_STAFF_PASSWORD_FILE_BYTES_MAX];
    if (read_password_file(pwfile, pw, sizeof pw) != 0) return CTL_EXIT_USAGE;
    if (!cet_password_ok(pw)) {
        fprintf(stderr, "cetctl staff: the password must have %d..%d characters with letters "
                        "and digits\n", CET_PASSWORD_BYTES_MIN, CET_PASSWORD_BYTES_MAX);
        return CTL_EXIT_USAGE;
    }
    int hr = legacy ? ctl_password_hash_legacy(pw, s.staff.pwhash)
                    : ctl_password_hash(pw, s.staff.pwhash);
    memset(pw, 0, sizeof pw);
    if (hr != 0) {
        fprintf(stderr, "cetctl staff: out of memory hashing the password\n");
        return CTL_EXIT_USAGE;
    }
    if (ctl_store_open(data, false, &s.st) != 0) return CTL_EXIT_USAGE;
    int rc = store_write_run(s.st, staff_txn_cb, &s);
    store_close(s.st);
    if (rc) {
        fprintf(stderr, "cetctl staff: %s\n", store_strerror(rc));
        return CTL_EXIT_USAGE;
    }
    fprintf(stderr, "staff %s added (%s, scope %u)\n", s.staff.user, role, s.staff.scope);
    return CTL_EXIT_OK;
}

/* ---- bench-prep ---- */
typedef struct bench_row {
    uint32_t roster_no;
    bool reuse;           /* an earlier bench-prep made this email: rebind that account */
    uint8_t id[STORE_ACCOUNT_ID_BYTES];
    uint8_t key[32];      /* session key: SHA-256 of the token's bytes */
    char token[CET_TOKEN_CHARS + 1];
} bench_row_t;

typedef struct bench {
    store_t *st;
    store_txn_t *txn;     /* bench_collect's read txn */
    uint64_t want;
    int64_t now, hold_ttl;
    char pwhash[CET_PWHASH_BYTES];
    bench_row_t *rows;
    uint32_t *order;      /* row indexes in the order the current phase writes them */
    size_t n, pos;        /* rows; first row of the current txn */
    int phase;            /* 1 accounts, 2 candidates, 3 sessions */
    ctl_progress_t prog;
} bench_t;

static void bench_email(uint32_t no, char out[CET_EMAIL_BYTES])
{
    snprintf(out, CET_EMAIL_BYTES, "bench%u@bench.test", no);
}

/* One roster number: a record without a candidate joins b's rows. */
static int bench_collect_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    bench_t *b = arg;
    (void)val, (void)vlen;
    if (b->n >= b->want) return CET_DONE;
    if (klen != 4) return CET_OK;
    uint32_t no = store_rd32(key);
    store_candidate_t cd;
    int cr = store_candidate_get(b->txn, b->st, no, &cd);
    if (cr == 0) return CET_OK; /* bound already */
    if (cr != STORE_NOTFOUND) return cr;
    bench_row_t *r = &b->rows[b->n];
    r->roster_no = no;
    char email[CET_EMAIL_BYTES];
    bench_email(no, email);
    store_account_t a;
    cr = store_account_by_email(b->txn, b->st, email, &a);
    r->reuse = cr == 0;
    if (cr == 0) {
        memcpy(r->id, a.id, sizeof r->id);
    } else if (cr == STORE_NOTFOUND) {
        cet_account_id_new(r->id);
    } else {
        return cr;
    }
    cet_token_new(r->token, r->key);
    b->order[b->n] = (uint32_t)b->n;
    b->n++;
    return CET_OK;
}

/* Picks the first want roster records without a candidate, in roster_no order. */
static int bench_collect(bench_t *b)
{
    int rc = store_read_begin(b->st, &b->txn);
    if (rc) return rc;
    rc = store_scan(b->txn, b->st, STORE_DB_ROSTER_NO, NULL, 0, bench_collect_cb, b);
    store_abort(b->txn);
    b->txn = NULL;
    return rc;
}

static int bench_put(store_txn_t *txn, bench_t *b, const bench_row_t *r)
{
    int rc;
    if (b->phase == 1) {
        store_account_t a;
        if (r->reuse) {
            if ((rc = store_account_get(txn, b->st, r->id, &a))) return rc;
        } else {
            memset(&a, 0, sizeof a);
            memcpy(a.id, r->id, sizeof a.id);
            bench_email(r->roster_no, a.email);
            a.created = b->now;
        }
        memcpy(a.pwhash, b->pwhash, sizeof a.pwhash);
        a.agreed_at = b->now;
        a.roster_no = r->roster_no;
        return store_account_put(txn, b->st, &a, r->reuse);
    }
    if (b->phase == 2) {
        /* the very records a binding and a login make (engine/eng.h) */
        store_roster_t ro;
        store_candidate_t cd;
        if ((rc = store_roster_get_by_no(txn, b->st, r->roster_no, &ro))) return rc;
        eng_candidate_init(&cd, &ro, r->id, b->now, b->hold_ttl);
        return store_candidate_put(txn, b->st, r->roster_no, &cd);
    }
    store_session_t s;
    eng_session_init(&s, STORE_SESSION_CANDIDATE, r->id, NULL, b->now);
    return store_session_put(txn, b->st, r->key, &s);
}

static int bench_txn_cb(store_txn_t *txn, void *arg)
{
    bench_t *b = arg;
    size_t end = b->pos + CTL_TXN_ROWS_MAX < b->n ? b->pos + CTL_TXN_ROWS_MAX : b->n;
    for (size_t i = b->pos; i < end; i++) {
        int rc = bench_put(txn, b, &b->rows[b->order[i]]);
        if (rc) return rc;
    }
    return 0;
}

static const bench_t *bench_sort_ctx;

static int by_account_id(const void *x, const void *y)
{
    return memcmp(bench_sort_ctx->rows[*(const uint32_t *)x].id,
                  bench_sort_ctx->rows[*(const uint32_t *)y].id, STORE_ACCOUNT_ID_BYTES);
}

static int by_session_key(const void *x, const void *y)
{
    return memcmp(bench_sort_ctx->rows[*(const uint32_t *)x].key,
                  bench_sort_ctx->rows[*(const uint32_t *)y].key, 32);
}

static int by_roster_no(const void *x, const void *y)
{
    uint32_t a = bench_sort_ctx->rows[*(const uint32_t *)x].roster_no;
    uint32_t c = bench_sort_ctx->rows[*(const uint32_t *)y].roster_no;
    return a < c ? -1 : a > c;
}

/*
 * Writes the rows in three phases (accounts, candidates, sessions), each in
 * its own key order and CTL_TXN_ROWS_MAX rows per txn: account ids and
 * session keys are random, and writing them sorted means every txn appends
 * at the right edge of its tree instead of copying most of it again.
 */
static int bench_write(bench_t *b)
{
    static int (*const sorts[4])(const void *, const void *) = {NULL, by_account_id,
                                                                 by_roster_no, by_session_key};
    bench_sort_ctx = b;
    for (b->phase = 1; b->phase <= 3; b->phase++) {
        qsort(b->order, b->n, sizeof *b->order, sorts[b->phase]);
        for (b->pos = 0; b->pos < b->n; b->pos += CTL_TXN_ROWS_MAX) {
            int rc = store_write_run(b->st, bench_txn_cb, b);
            if (rc) return rc;
            ctl_progress_tick(&b->prog, ((b->phase - 1) * b->n + b->pos) / 3 & ~1023ull);
        }
    }
    return 0;
}

/* The TSV: token, email, id_type, id_number, name, campus, qualified subjects. */
static int bench_tsv(bench_t *b, FILE *f)
{
    store_txn_t *txn;
    int rc = store_read_begin(b->st, &txn);
    if (rc) return rc;
    bench_sort_ctx = b;
    qsort(b->order, b->n, sizeof *b->order, by_roster_no);
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        const bench_row_t *row = &b->rows[b->order[i]];
        store_roster_t r;
        if ((rc = store_roster_get_by_no(txn, b->st, row->roster_no, &r))) break;
        char email[CET_EMAIL_BYTES], subj[CET_SUBJECTS_MAX + 1];
        bench_email(row->roster_no, email);
        int n = r.n_subjects < CET_SUBJECTS_MAX ? r.n_subjects : CET_SUBJECTS_MAX;
        memcpy(subj, r.subjects, (size_t)n);
        subj[n] = 0;
        fprintf(f, "%s\t%s\t%s\t%s\t%s\t%u\t%s\n", row->token, email,
                cet_id_type_name(r.id_type), r.id_number, r.name, r.campus, subj);
    }
    store_abort(txn);
    return rc;
}

int ctl_cmd_bench_prep(int argc, char **argv)
{
    const char *data = NULL, *cands = NULL, *out = NULL, *pw = BENCH_PASSWORD_DEFAULT,
               *ttl_s = NULL;
    bool legacy = false;
    const ctl_opt_t opts[] = {{"--data", &data, NULL},      {"--candidates", &cands, NULL},
                              {"--out", &out, NULL},        {"--password", &pw, NULL},
                              {"--hold-ttl", &ttl_s, NULL}, {"--legacy-pwhash", NULL, &legacy},
                              {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    uint64_t want = 0, ttl = CET_HOLD_TTL_DEFAULT_S;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos || !data ||
        !out || ctl_parse_u64(cands, 1, BENCH_CANDIDATES_MAX, &want) != 0 ||
        (ttl_s && ctl_parse_u64(ttl_s, 1, 365 * 86400, &ttl) != 0)) {
        fprintf(stderr, "usage: cetctl bench-prep --data DIR --candidates N --out FILE "
                        "[--password P] [--hold-ttl SECONDS] [--legacy-pwhash]\n");
        return CTL_EXIT_USAGE;
    }
    if (!cet_password_ok(pw)) {
        fprintf(stderr, "cetctl bench-prep: the password must have letters and digits, 8..128\n");
        return CTL_EXIT_USAGE;
    }
    bench_t *b = cet_calloc(1, sizeof *b);
    b->want = want;
    b->now = cet_now_s();
    b->hold_ttl = (int64_t)ttl;
    int ret = CTL_EXIT_USAGE, rc;
    FILE *f = NULL;
    if ((legacy ? ctl_password_hash_legacy(pw, b->pwhash) : ctl_password_hash(pw, b->pwhash)) !=
        0) {
        fprintf(stderr, "cetctl bench-prep: out of memory hashing the password\n");
        goto done;
    }
    if (ctl_store_open(data, false, &b->st) != 0) goto done;
    f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "cetctl bench-prep: %s: %s\n", out, strerror(errno));
        goto done;
    }
    static char fbuf[1 << 20];
    setvbuf(f, fbuf, _IOFBF, sizeof fbuf);
    b->rows = cet_malloc(want * sizeof *b->rows);
    b->order = cet_malloc(want * sizeof *b->order);
    ctl_progress_start(&b->prog, "bench-prep");
    if ((rc = bench_collect(b)) || (rc = bench_write(b)) || (rc = bench_tsv(b, f))) {
        fprintf(stderr, "cetctl bench-prep: storage error: %s (start again from a fresh demo)\n",
                store_strerror(rc));
        goto done;
    }
    if (fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, "cetctl bench-prep: write error on %s\n", out);
        goto done;
    }
    ctl_progress_done(&b->prog, b->n);
    if (b->n < b->want)
        fprintf(stderr, "bench-prep: only %zu unbound roster records were left (asked for %llu)\n",
                b->n, (unsigned long long)b->want);
    fprintf(stderr, "bench-prep: %zu candidates ready, tokens in %s\n", b->n, out);
    ret = CTL_EXIT_OK;
done:
    if (f && fclose(f) != 0 && ret == CTL_EXIT_OK) ret = CTL_EXIT_USAGE;
    if (b->st) store_close(b->st);
    cet_free(b->rows);
    cet_free(b->order);
    cet_free(b);
    return ret;
}
