/*
 * cetctl_staff.c: `cetctl staff add` and `cetctl bench-prep`.
 *
 * bench-prep makes N candidates ready for a load test without going through
 * HTTP: account (agreement accepted), binding, and a live session each,
 * written straight into LMDB in one write txn. argon2id runs
 * once and its string is shared by every bench account (they all have the
 * same password), which is what makes a million accounts take seconds. The
 * tokens are printed only after the txn that stores their sessions commits.
 */
#include <errno.h>
#include <string.h>

#include "engine/cet_base.h"
#include "engine/eng_id.h"
#include "engine/eng_token.h"
#include "tools/cetctl.h"

#define STAFF_PASSWORD_FILE_BYTES_MAX 256
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
    const ctl_opt_t opts[] = {{"--data", &data, NULL},   {"--user", &user, NULL},
                              {"--role", &role, NULL},   {"--scope", &scope, NULL},
                              {"--password-file", &pwfile, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos != 1 ||
        strcmp(pos[0], "add") != 0 || !data || !user || !role || !pwfile) {
        fprintf(stderr, "usage: cetctl staff add --data DIR --user U --role "
                        "school|province|support --scope CODE --password-file F\n");
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
    char pw[STAFF_PASSWORD_FILE_BYTES_MAX];
    if (read_password_file(pwfile, pw, sizeof pw) != 0) return CTL_EXIT_USAGE;
    if (!eng_password_ok(pw)) {
        fprintf(stderr, "cetctl staff: the password must have %d..%d characters with letters "
                        "and digits\n", CET_PASSWORD_BYTES_MIN, CET_PASSWORD_BYTES_MAX);
        return CTL_EXIT_USAGE;
    }
    int hr = ctl_password_hash(pw, s.staff.pwhash);
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
typedef struct bench {
    store_t *st;
    uint64_t want, made;
    int64_t now, hold_ttl;
    char pwhash[CET_PWHASH_BYTES];
    char *out;            /* the TSV lines, written to the file after the commit */
    size_t out_len, out_cap;
    ctl_progress_t prog;
} bench_t;

static void bench_line(bench_t *b, const char *token, const store_account_t *a,
                       const store_roster_t *r)
{
    size_t need = ENG_TOKEN_CHARS + CET_EMAIL_BYTES + CET_ID_NUMBER_BYTES + CET_NAME_BYTES +
                  CET_SUBJECTS_MAX + 64;
    if (b->out_len + need > b->out_cap) {
        b->out_cap = b->out_cap ? b->out_cap * 2 : (size_t)1 << 20;
        b->out = cet_realloc(b->out, b->out_cap);
    }
    char subj[CET_SUBJECTS_MAX + 1];
    int n = r->n_subjects < CET_SUBJECTS_MAX ? r->n_subjects : CET_SUBJECTS_MAX;
    memcpy(subj, r->subjects, (size_t)n);
    subj[n] = 0;
    int w = snprintf(b->out + b->out_len, b->out_cap - b->out_len, "%s\t%s\t%s\t%s\t%s\t%u\t%s\n",
                     token, a->email, eng_id_type_name(r->id_type), r->id_number, r->name,
                     r->campus, subj);
    if (w > 0) b->out_len += (size_t)w;
}

/* Binds one roster record to a bench account with a live session. */
static int bench_one(store_txn_t *txn, bench_t *b, const store_roster_t *r)
{
    store_account_t a;
    char email[CET_EMAIL_BYTES];
    snprintf(email, sizeof email, "bench%u@bench.test", r->roster_no);
    /* an earlier bench-prep may have made this email (its candidate since expired): rebind it */
    int rc = store_account_by_email(txn, b->st, email, &a);
    bool reuse = rc == 0;
    if (rc == STORE_NOTFOUND) {
        memset(&a, 0, sizeof a);
        eng_account_id_new(a.id);
        cet_strlcpy(a.email, email, sizeof a.email);
        a.created = b->now;
    } else if (rc) {
        return rc;
    }
    memcpy(a.pwhash, b->pwhash, sizeof a.pwhash);
    a.agreed_at = b->now;
    a.roster_no = r->roster_no;
    if ((rc = store_account_put(txn, b->st, &a, reuse))) return rc;
    store_candidate_t cd;
    memset(&cd, 0, sizeof cd);
    memcpy(cd.account, a.id, sizeof cd.account);
    cd.bound_at = b->now;
    cd.empty_due = b->now + b->hold_ttl;
    cd.snapshot = *r;
    if ((rc = store_candidate_put(txn, b->st, r->roster_no, &cd))) return rc;
    char token[ENG_TOKEN_CHARS + 1];
    uint8_t key[32];
    eng_token_new(token, key);
    store_session_t s;
    memset(&s, 0, sizeof s);
    memcpy(s.account, a.id, sizeof s.account);
    s.kind = STORE_SESSION_CANDIDATE;
    s.created = b->now;
    s.expires = b->now + CET_SESSION_TTL_S;
    if ((rc = store_session_put(txn, b->st, key, &s))) return rc;
    bench_line(b, token, &a, r);
    return 0;
}

/*
 * One write txn for the whole job: account ids and session keys are random,
 * so smaller txns would copy most of those trees again on every commit; in
 * one txn each page is copied once. It walks the roster in roster_no order
 * and takes the first records that have no candidate.
 */
static int bench_txn_cb(store_txn_t *txn, void *arg)
{
    bench_t *b = arg;
    b->made = 0;
    b->out_len = 0;
    ctl_progress_start(&b->prog, "bench-prep");
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(b->st, STORE_DB_ROSTER_NO), &cur);
    if (rc) return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && b->made < b->want;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 4) continue;
        uint32_t no = store_rd32(k.mv_data);
        store_candidate_t cd;
        int cr = store_candidate_get(txn, b->st, no, &cd);
        if (cr == 0) continue; /* bound already */
        if (cr != STORE_NOTFOUND) {
            rc = cr;
            break;
        }
        MDB_val rv;
        store_roster_t r;
        if (store_get_ref(txn, b->st, STORE_DB_ROSTER, v.mv_data, v.mv_size, &rv) != 0 ||
            rv.mv_size != sizeof r)
            continue; /* a broken index entry: cetctl check reports it */
        memcpy(&r, rv.mv_data, sizeof r);
        if ((rc = bench_one(txn, b, &r))) break;
        ctl_progress_tick(&b->prog, ++b->made);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ctl_cmd_bench_prep(int argc, char **argv)
{
    const char *data = NULL, *cands = NULL, *out = NULL, *pw = BENCH_PASSWORD_DEFAULT,
               *ttl_s = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL},      {"--candidates", &cands, NULL},
                              {"--out", &out, NULL},        {"--password", &pw, NULL},
                              {"--hold-ttl", &ttl_s, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    uint64_t want = 0, ttl = CET_HOLD_TTL_DEFAULT_S;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos || !data ||
        !out || ctl_parse_u64(cands, 1, BENCH_CANDIDATES_MAX, &want) != 0 ||
        (ttl_s && ctl_parse_u64(ttl_s, 1, 365 * 86400, &ttl) != 0)) {
        fprintf(stderr, "usage: cetctl bench-prep --data DIR --candidates N --out FILE "
                        "[--password P] [--hold-ttl SECONDS]\n");
        return CTL_EXIT_USAGE;
    }
    if (!eng_password_ok(pw)) {
        fprintf(stderr, "cetctl bench-prep: the password must have letters and digits, 8..128\n");
        return CTL_EXIT_USAGE;
    }
    bench_t *b = cet_calloc(1, sizeof *b);
    b->want = want;
    b->now = cet_now_s();
    b->hold_ttl = (int64_t)ttl;
    int ret = CTL_EXIT_USAGE;
    FILE *f = NULL;
    if (ctl_password_hash(pw, b->pwhash) != 0) {
        fprintf(stderr, "cetctl bench-prep: out of memory hashing the password\n");
        goto done;
    }
    if (ctl_store_open(data, false, &b->st) != 0) goto done;
    f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "cetctl bench-prep: %s: %s\n", out, strerror(errno));
        goto done;
    }
    int rc = store_write_run(b->st, bench_txn_cb, b);
    if (rc) {
        fprintf(stderr, "cetctl bench-prep: storage error: %s; nothing made\n", store_strerror(rc));
        goto done;
    }
    if (b->out_len) fwrite(b->out, 1, b->out_len, f);
    if (fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, "cetctl bench-prep: write error on %s\n", out);
        goto done;
    }
    ctl_progress_done(&b->prog, b->made);
    if (b->made < b->want)
        fprintf(stderr, "bench-prep: only %llu unbound roster records were left (asked for %llu)\n",
                (unsigned long long)b->made, (unsigned long long)b->want);
    fprintf(stderr, "bench-prep: %llu candidates ready, tokens in %s\n",
            (unsigned long long)b->made, out);
    ret = CTL_EXIT_OK;
done:
    if (f && fclose(f) != 0 && ret == CTL_EXIT_OK) ret = CTL_EXIT_USAGE;
    if (b->st) store_close(b->st);
    cet_free(b->out);
    cet_free(b);
    return ret;
}
