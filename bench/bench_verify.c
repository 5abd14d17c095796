/*
 * bench_verify.c: after a run, is every acknowledged registration in the
 * engine's data, and is no campus-subject oversold?
 *
 * Sources: `cetctl check --data DIR` (the engine's own invariants, must exit
 * 0), `cetctl export registrations --data DIR` (CSV with a header row holding
 * at least id_number, subject, campus, state) and, when cetctl can export
 * them, capacities (`cetctl export campuses`: one row per offer, columns
 * campus_code, subject, capacity). An acknowledged registration may be missing only if the bench
 * cancelled it (and the engine said yes) or if it was unpaid and older than
 * the hold TTL (--hold-ttl). Anything else is a LOST registration.
 */
#include "bench/bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/cet_base.h"

#define VERIFY_LINE_BYTES_MAX 65536
#define VERIFY_FIELDS_MAX 64
#define VERIFY_PROBLEMS_SHOWN_MAX 20

/* ---- shell helpers ---- */

/* Appends s to cmd single-quoted for /bin/sh. */
static void sh_quote(char *cmd, size_t cap, const char *s)
{
    size_t n = strlen(cmd);
    if (n + 2 >= cap) return;
    cmd[n++] = '\'';
    for (; *s && n + 5 < cap; s++) {
        if (*s == '\'') {
            memcpy(cmd + n, "'\\''", 4);
            n += 4;
        } else {
            cmd[n++] = *s;
        }
    }
    cmd[n++] = '\'';
    cmd[n] = '\0';
}

static void make_cmd(char *cmd, size_t cap, const bench_cfg_t *cfg, const char *verb)
{
    cmd[0] = '\0';
    sh_quote(cmd, cap, cfg->cetctl);
    size_t n = strlen(cmd);
    snprintf(cmd + n, cap - n, " %s --data ", verb);
    sh_quote(cmd, cap, cfg->data_dir);
}

/* ---- CSV ---- */

/* Splits one CSV line in place (RFC 4180 quotes, no embedded newlines). Returns the field count. */
static int csv_split(char *line, char **field, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        if (*p == '"') {
            char *w = ++p;
            field[n++] = w;
            while (*p) {
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            *w = '\0';
            while (*p && *p != ',')
                p++;
        } else {
            field[n++] = p;
            while (*p && *p != ',')
                p++;
        }
        if (*p != ',') {
            *p = '\0';
            break;
        }
        *p++ = '\0';
    }
    return n;
}

static int csv_col(char **f, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(f[i], name) == 0) return i;
    return -1;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* ---- a string-keyed table ---- */

typedef struct vrow {
    char *key; /* "id_number\x1fsubject" or "campus\x1fsubject" */
    char *campus;
    char *state;
    long count;    /* offer table: live registrations */
    long capacity; /* offer table: -1 unknown */
} vrow_t;

typedef struct vtab {
    vrow_t *rows;
    size_t cap; /* power of two */
    size_t n;
} vtab_t;

static void vtab_init(vtab_t *t)
{
    t->cap = 1024;
    t->n = 0;
    t->rows = cet_calloc(t->cap, sizeof t->rows[0]);
}

static vrow_t *vtab_find(vtab_t *t, const char *key, bool create)
{
    if (create && (t->n + 1) * 2 > t->cap) {
        vtab_t big = {.cap = t->cap * 2, .n = 0};
        big.rows = cet_calloc(big.cap, sizeof big.rows[0]);
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->rows[i].key) continue;
            size_t j = XXH3_64bits(t->rows[i].key, strlen(t->rows[i].key)) & (big.cap - 1);
            while (big.rows[j].key)
                j = (j + 1) & (big.cap - 1);
            big.rows[j] = t->rows[i];
            big.n++;
        }
        cet_free(t->rows);
        *t = big;
    }
    size_t j = XXH3_64bits(key, strlen(key)) & (t->cap - 1);
    while (t->rows[j].key) {
        if (strcmp(t->rows[j].key, key) == 0) return &t->rows[j];
        j = (j + 1) & (t->cap - 1);
    }
    if (!create) return NULL;
    vrow_t *r = &t->rows[j];
    r->key = cet_strdup(key);
    r->capacity = -1;
    t->n++;
    return r;
}

static void vtab_free(vtab_t *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->rows[i].key) continue;
        cet_free(t->rows[i].key);
        if (t->rows[i].campus) cet_free(t->rows[i].campus);
        if (t->rows[i].state) cet_free(t->rows[i].state);
    }
    cet_free(t->rows);
}

/* A state that does not hold a seat (if the export lists such rows at all). */
static bool state_is_dead(const char *st)
{
    return strstr(st, "expired") || strstr(st, "cancel") || strstr(st, "deleted");
}

/* A state whose seat is in doubt (a notice for an expired order): not counted against capacity. */
static bool state_is_refund(const char *st)
{
    return strstr(st, "refund") != NULL;
}

/* Reads `cetctl export registrations` into regs (by id|subject) and offers (counts by
 * campus|subject). */
static int load_registrations(const bench_cfg_t *cfg, vtab_t *regs, vtab_t *offers, char *err,
                              size_t cap)
{
    char cmd[2048];
    make_cmd(cmd, sizeof cmd, cfg, "export registrations");
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(err, cap, "cannot run %.400s", cmd);
        return -1;
    }
    char *line = cet_malloc(VERIFY_LINE_BYTES_MAX);
    char *f[VERIFY_FIELDS_MAX];
    int c_id = -1, c_subj = -1, c_campus = -1, c_state = -1;
    bool header = true;
    long rows = 0;
    while (fgets(line, VERIFY_LINE_BYTES_MAX, p)) {
        chomp(line);
        if (!line[0]) continue;
        int n = csv_split(line, f, VERIFY_FIELDS_MAX);
        if (header) {
            c_id = csv_col(f, n, "id_number");
            c_subj = csv_col(f, n, "subject");
            c_campus = csv_col(f, n, "campus");
            c_state = csv_col(f, n, "state");
            header = false;
            if (c_id < 0 || c_subj < 0 || c_campus < 0) break;
            continue;
        }
        if (n <= c_id || n <= c_subj || n <= c_campus) continue;
        const char *state = c_state >= 0 && n > c_state ? f[c_state] : "";
        char key[160];
        snprintf(key, sizeof key, "%s\x1f%s", f[c_id], f[c_subj]);
        vrow_t *r = vtab_find(regs, key, true);
        if (!r->campus) {
            r->campus = cet_strdup(f[c_campus]);
            r->state = cet_strdup(state);
        }
        if (!state_is_dead(state) && !state_is_refund(state)) {
            snprintf(key, sizeof key, "%s\x1f%s", f[c_campus], f[c_subj]);
            vtab_find(offers, key, true)->count++;
        }
        rows++;
    }
    cet_free(line);
    int st = pclose(p);
    if (header || c_id < 0 || c_subj < 0 || c_campus < 0) {
        snprintf(err, cap,
                 "`cetctl export registrations` gave no header with id_number, subject, campus "
                 "(exit %d)",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, cap, "`cetctl export registrations` failed (exit %d)",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return -1;
    }
    return (int)(rows > 0 ? 0 : 0);
}

/* Capacities from `cetctl export campuses` if cetctl has it; returns how many were read (0: none).
 */
static long load_capacities(const bench_cfg_t *cfg, vtab_t *offers)
{
    char cmd[2048];
    make_cmd(cmd, sizeof cmd, cfg, "export campuses");
    strncat(cmd, " 2>/dev/null", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char *line = cet_malloc(VERIFY_LINE_BYTES_MAX);
    char *f[VERIFY_FIELDS_MAX];
    int c_campus = -1, c_subj = -1, c_cap = -1;
    bool header = true;
    long n_read = 0;
    while (fgets(line, VERIFY_LINE_BYTES_MAX, p)) {
        chomp(line);
        if (!line[0]) continue;
        int n = csv_split(line, f, VERIFY_FIELDS_MAX);
        if (header) {
            c_campus = csv_col(f, n, "campus_code");
            if (c_campus < 0) c_campus = csv_col(f, n, "campus");
            c_subj = csv_col(f, n, "subject");
            c_cap = csv_col(f, n, "capacity");
            header = false;
            if (c_campus < 0 || c_subj < 0 || c_cap < 0) break;
            continue;
        }
        if (n <= c_campus || n <= c_subj || n <= c_cap) continue;
        char key[160];
        snprintf(key, sizeof key, "%s\x1f%s", f[c_campus], f[c_subj]);
        vtab_find(offers, key, true)->capacity = strtol(f[c_cap], NULL, 10);
        n_read++;
    }
    cet_free(line);
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 0;
    return n_read;
}

static int run_check(const bench_cfg_t *cfg)
{
    char cmd[2048];
    make_cmd(cmd, sizeof cmd, cfg, "check");
    strncat(cmd, " >&2", sizeof cmd - strlen(cmd) - 1);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void loud(const char *what)
{
    fprintf(stderr,
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            "!!! cetbench VERIFY FAILED: %s\n"
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n",
            what);
}

int bench_verify(const bench_cfg_t *cfg, bench_thread_t *threads, uint32_t n_threads, char *note,
                 size_t cap)
{
    int check_rc = run_check(cfg);
    vtab_t regs, offers;
    vtab_init(&regs);
    vtab_init(&offers);
    char err[512] = "";
    if (load_registrations(cfg, &regs, &offers, err, sizeof err) != 0) {
        vtab_free(&regs);
        vtab_free(&offers);
        snprintf(note, cap, "could not read the registrations: %s; cetctl check exit %d", err,
                 check_rc);
        if (check_rc != 0) {
            loud("cetctl check failed");
            return 1;
        }
        fprintf(stderr, "cetbench: verify not run: %s\n", err);
        return 2;
    }
    long capacities = load_capacities(cfg, &offers);

    int64_t now = cet_now_s();
    uint64_t acks = 0, present = 0, lost = 0, expired_ok = 0, cancelled_ok = 0, zombie = 0,
             moved = 0;
    uint64_t unpaid = 0; /* the notice was acknowledged, the registration is not paid */
    uint32_t shown = 0;
    for (uint32_t ti = 0; ti < n_threads; ti++) {
        const bench_thread_t *t = &threads[ti];
        for (uint32_t i = 0; i < t->n_acks; i++) {
            const bench_ack_t *a = &t->acks[i];
            const bench_cand_t *c = &cfg->cands[a->cand];
            acks++;
            char key[160];
            snprintf(key, sizeof key, "%s\x1f%c", c->id_number, a->subject);
            const vrow_t *r = vtab_find(&regs, key, false);
            bool live = r && !state_is_dead(r->state);
            if (live && a->cancelled) {
                zombie++;
                if (shown++ < VERIFY_PROBLEMS_SHOWN_MAX)
                    fprintf(stderr, "cetbench: CANCELLED BUT PRESENT: %s subject %c\n",
                            c->id_number, a->subject);
            } else if (live) {
                present++;
                if (a->paid && strcmp(r->state, "unpaid") == 0) {
                    unpaid++;
                    if (shown++ < VERIFY_PROBLEMS_SHOWN_MAX)
                        fprintf(stderr,
                                "cetbench: PAYMENT LOST: %s subject %c: notice acknowledged, state "
                                "%s\n",
                                c->id_number, a->subject, r->state);
                }
                if (strcmp(r->campus, a->campus) != 0) {
                    moved++;
                    if (shown++ < VERIFY_PROBLEMS_SHOWN_MAX)
                        fprintf(stderr,
                                "cetbench: WRONG CAMPUS: %s subject %c acknowledged at %s, stored "
                                "at %s\n",
                                c->id_number, a->subject, a->campus, r->campus);
                }
            } else if (a->cancelled) {
                cancelled_ok++;
            } else if (!a->paid && cfg->hold_ttl_s > 0 &&
                       (double)(now - a->acked_s) + 1.0 >= cfg->hold_ttl_s) {
                expired_ok++;
            } else {
                lost++;
                if (shown++ < VERIFY_PROBLEMS_SHOWN_MAX)
                    fprintf(stderr,
                            "cetbench: LOST: %s subject %c at %s (%s, acknowledged %llds ago)\n",
                            c->id_number, a->subject, a->campus, a->paid ? "paid" : "unpaid",
                            (long long)(now - a->acked_s));
            }
        }
    }
    uint64_t oversold = 0;
    for (size_t i = 0; i < offers.cap; i++) {
        const vrow_t *o = &offers.rows[i];
        if (!o->key || o->capacity < 0 || o->count <= o->capacity) continue;
        oversold++;
        char k[160];
        cet_strlcpy(k, o->key, sizeof k);
        char *sep = strchr(k, '\x1f');
        if (sep) *sep = '/';
        fprintf(stderr, "cetbench: OVERSOLD: %s has %ld live registrations, capacity %ld\n", k,
                o->count, o->capacity);
    }
    snprintf(note, cap,
             "cetctl check exit %d; %llu acknowledged: %llu present, %llu expired by hold TTL, "
             "%llu cancelled; "
             "%llu lost, %llu cancelled-but-present, %llu wrong campus, %llu paid-but-unpaid; %zu "
             "rows exported; "
             "capacity %s, %llu oversold",
             check_rc, (unsigned long long)acks, (unsigned long long)present,
             (unsigned long long)expired_ok, (unsigned long long)cancelled_ok,
             (unsigned long long)lost, (unsigned long long)zombie, (unsigned long long)moved,
             (unsigned long long)unpaid, regs.n,
             capacities > 0 ? "checked per campus-subject" : "checked by cetctl check only",
             (unsigned long long)oversold);
    vtab_free(&regs);
    vtab_free(&offers);
    bool failed = check_rc != 0 || lost || zombie || moved || oversold || unpaid;
    if (failed) {
        char what[256];
        snprintf(what, sizeof what,
                 "%llu LOST, %llu OVERSOLD campus-subjects, %llu cancelled-but-present, "
                 "%llu wrong campus, %llu payments lost, cetctl check exit %d",
                 (unsigned long long)lost, (unsigned long long)oversold, (unsigned long long)zombie,
                 (unsigned long long)moved, (unsigned long long)unpaid, check_rc);
        loud(what);
        return 1;
    }
    return 0;
}

/* ---- a blocking GET for /metrics ---- */

int bench_simple_get(const bench_cfg_t *cfg, const char *path, char *out, size_t cap)
{
    if (cfg->tls || cap < 2) return -1;
    int fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)&cfg->addr, cfg->addr_len) != 0) {
        close(fd);
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     path, cfg->authority);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    for (;;) {
        ssize_t k = read(fd, out + got, cap - 1 - got);
        if (k <= 0) break;
        got += (size_t)k;
        if (got == cap - 1) break;
    }
    close(fd);
    out[got] = '\0';
    if (got < 12 || strncmp(out, "HTTP/1.", 7) != 0) return -1;
    int status = atoi(out + 9);
    char *body = strstr(out, "\r\n\r\n");
    if (body)
        memmove(out, body + 4, strlen(body + 4) + 1);
    else
        out[0] = '\0';
    return status;
}
