/*
 * cetctl.c: the operations and data tool of cetreg (usage: `cetctl --help`,
 * formats: docs/data-formats.md). main() dispatches to one subcommand in
 * tools/cetctl_*.c; this file holds what they share: option parsing, opening
 * the store, the progress line and small domain helpers.
 */
#include "base/cet_version.h"
#include "tools/cetctl.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "base/cet_token.h"

static void usage(FILE *f)
{
    fputs("usage: cetctl COMMAND [options]\n"
          "  demo --data DIR [--candidates N] [--seed S]\n"
          "  import sitting|campuses|roster|scores|rooms --data DIR FILE   (CSV UTF-8/BOM/GBK/"
          "UTF-16, comma or tab, or .xlsx)\n"
          "  export roster|registrations|candidates|campuses|sitting|scores|orders|audit|reviews\n"
          "         --data DIR [--format data|csv|xlsx] [--out FILE] [--school CODE]\n"
          "  template roster|campuses|scores|sitting [--format csv|xlsx] [--out FILE]\n"
          "  check --data DIR   (every invariant, the audit hash chain included)\n"
          "  audit verify --data DIR   (the audit hash chain only)\n"
          "  backup --data DIR OUT           (online, beside a running cetd; OUT new or empty)\n"
          "  restore --data DIR [--force] BACKUP   (DIR new or empty, or --force if no process "
          "holds it; then check)\n"
          "  stats --data DIR\n"
          "  staff add --data DIR --user U --role school|province|support --scope CODE\n"
          "            --password-file F [--legacy-pwhash]\n"
          "  bench-prep --data DIR --candidates N --out FILE [--password P] [--hold-ttl S]\n"
          "            [--legacy-pwhash]   (tests: the older argon2id costs, upgraded at login)\n"
          "  bench-paid --data DIR --campuses N --per-campus M --out FILE [--password P]\n"
          "  debug-corrupt --data DIR --what KIND   (tests only: writes an invalid state)\n"
          "Exit: 0 ok, 1 bad data or invariant violated, 2 usage or I/O error.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("cetctl %s\n", CET_VERSION);
        return CTL_EXIT_OK;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "cetctl: libsodium cannot start\n");
        return CTL_EXIT_USAGE;
    }
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
    } cmds[] = {
        {"demo", ctl_cmd_demo},       {"import", ctl_cmd_import},
        {"export", ctl_cmd_export},   {"check", ctl_cmd_check},
        {"stats", ctl_cmd_stats},     {"staff", ctl_cmd_staff},
        {"bench-prep", ctl_cmd_bench_prep}, {"debug-corrupt", ctl_cmd_debug_corrupt},
        {"bench-paid", ctl_cmd_bench_paid}, {"template", ctl_cmd_template}, {"audit", ctl_cmd_audit},
        {"backup", ctl_cmd_backup},   {"restore", ctl_cmd_restore},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0) return cmds[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "cetctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CTL_EXIT_USAGE;
}

/* ---- command line ---- */
int ctl_args_parse(int argc, char **argv, const ctl_opt_t *opts, const char **pos, int pos_max,
                   int *npos)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (*npos >= pos_max) {
                fprintf(stderr, "cetctl: unexpected argument '%s'\n", a);
                return -1;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const ctl_opt_t *o = NULL;
        for (int k = 0; opts[k].name; k++)
            if (strlen(opts[k].name) == nl && strncmp(opts[k].name, a, nl) == 0) o = &opts[k];
        if (!o) {
            fprintf(stderr, "cetctl: unknown option '%.*s'\n", (int)nl, a);
            return -1;
        }
        if (o->flag) {
            *o->flag = true;
            continue;
        }
        if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            fprintf(stderr, "cetctl: option %s needs a value\n", o->name);
            return -1;
        }
    }
    return 0;
}

int ctl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s) return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int store_open_with(const char *dir, bool read_only, bool sync, store_t **out)
{
    if (!dir) {
        fprintf(stderr, "cetctl: --data DIR is required\n");
        return -1;
    }
    if (read_only) {
        char path[4096];
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "cetctl: %s: no data (%s)\n", dir, strerror(errno));
            return -1;
        }
    }
    store_options_t opt = {
        .dir = dir, .sync = sync, .read_only = read_only, .readers = 0, .owner = "cetctl"};
    int rc = store_open(&opt, out);
    if (rc == STORE_LOCKED) {
        /* cli.md: cetctl never writes a directory a running cetd holds */
        pid_t pid = 0;
        char who[64] = "another process";
        if (store_dir_holder(dir, &pid, who, sizeof who) == 0)
            fprintf(stderr, "cetctl: %s is held by %s (pid %ld): refusing to write it; change a "
                    "live engine through the staff API, or stop it first\n", dir, who, (long)pid);
        else
            fprintf(stderr, "cetctl: %s is held by another process: refusing to write it\n", dir);
        return -1;
    }
    if (rc) {
        fprintf(stderr, "cetctl: cannot open %s: %s\n", dir, store_strerror(rc));
        return -1;
    }
    return 0;
}

int ctl_store_open(const char *dir, bool read_only, store_t **out)
{
    return store_open_with(dir, read_only, true, out);
}

int ctl_store_open_nosync(const char *dir, store_t **out)
{
    return store_open_with(dir, false, false, out);
}

int ctl_store_sync(store_t *st)
{
    return store_sync(st);
}

/* ---- progress ---- */
void ctl_progress_start(ctl_progress_t *p, const char *what)
{
    p->what = what;
    p->tty = isatty(STDERR_FILENO) != 0;
    p->start_ns = p->last_ns = cet_mono_ns();
}

static double rate(uint64_t rows, double secs)
{
    return secs > 0 ? (double)rows / secs : 0.0;
}

void ctl_progress_tick(ctl_progress_t *p, uint64_t rows)
{
    if (!p->tty || (rows & 1023) != 0) return;
    uint64_t now = cet_mono_ns();
    if (now - p->last_ns < (uint64_t)CTL_PROGRESS_MS * 1000000u) return;
    p->last_ns = now;
    double secs = (double)(now - p->start_ns) / 1e9;
    fprintf(stderr, "\r%s: %llu rows (%.0f rows/s)   ", p->what, (unsigned long long)rows,
            rate(rows, secs));
}

double ctl_progress_done(ctl_progress_t *p, uint64_t rows)
{
    double secs = (double)(cet_mono_ns() - p->start_ns) / 1e9;
    if (p->tty) fputs("\r\033[K", stderr);
    fprintf(stderr, "%s: %llu rows in %.2f s (%.0f rows/s)\n", p->what, (unsigned long long)rows,
            secs, rate(rows, secs));
    return secs;
}

/* ---- domain helpers ---- */
#define SUBJECT(c, kind, level, written, lang, name) {c, kind, level, written, lang, name}
static const store_subject_t standard_subjects[] = {
    SUBJECT('1', STORE_WRITTEN, 4, 0, "english", "英语四级笔试"),
    SUBJECT('2', STORE_WRITTEN, 6, 0, "english", "英语六级笔试"),
    SUBJECT('3', STORE_WRITTEN, 4, 0, "japanese", "日语四级笔试"),
    SUBJECT('4', STORE_WRITTEN, 6, 0, "japanese", "日语六级笔试"),
    SUBJECT('5', STORE_WRITTEN, 4, 0, "german", "德语四级笔试"),
    SUBJECT('6', STORE_WRITTEN, 6, 0, "german", "德语六级笔试"),
    SUBJECT('7', STORE_WRITTEN, 4, 0, "russian", "俄语四级笔试"),
    SUBJECT('8', STORE_WRITTEN, 6, 0, "russian", "俄语六级笔试"),
    SUBJECT('9', STORE_WRITTEN, 4, 0, "french", "法语四级笔试"),
    SUBJECT('F', STORE_ORAL, 4, '1', "english", "英语四级口试"),
    SUBJECT('S', STORE_ORAL, 6, '2', "english", "英语六级口试"),
};

int ctl_subjects_standard(const store_subject_t **out)
{
    *out = standard_subjects;
    return (int)(sizeof standard_subjects / sizeof standard_subjects[0]);
}

int ctl_subjects_ensure(store_txn_t *txn, const store_t *st)
{
    for (size_t i = 0; i < sizeof standard_subjects / sizeof standard_subjects[0]; i++) {
        store_subject_t s;
        int rc = store_subject_get(txn, st, standard_subjects[i].code, &s);
        if (rc == STORE_NOTFOUND) rc = store_subject_put(txn, st, &standard_subjects[i]);
        if (rc) return rc;
    }
    return 0;
}

static int subject_load_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    store_subject_t *table = arg;
    if (klen != 1 || vlen != sizeof(store_subject_t)) return STORE_CORRUPT;
    memcpy(&table[*(const uint8_t *)key], val, vlen);
    return 0;
}

int ctl_subjects_load(store_txn_t *txn, const store_t *st, store_subject_t table[256])
{
    memset(table, 0, 256 * sizeof table[0]);
    return store_scan(txn, st, STORE_DB_SUBJECT, NULL, 0, subject_load_cb, table);
}

const char *ctl_education_name(int edu)
{
    switch (edu) {
    case STORE_EDU_BACHELOR: return "本科";
    case STORE_EDU_ASSOCIATE: return "专科";
    case STORE_EDU_GRADUATE: return "研究生";
    default: return "";
    }
}

int ctl_education_parse(const char *s)
{
    if (!strcmp(s, "本科") || !strcmp(s, "bachelor")) return STORE_EDU_BACHELOR;
    if (!strcmp(s, "专科") || !strcmp(s, "associate")) return STORE_EDU_ASSOCIATE;
    if (!strcmp(s, "研究生") || !strcmp(s, "graduate")) return STORE_EDU_GRADUATE;
    return 0;
}

const char *ctl_reg_state(uint8_t flags)
{
    if (flags & STORE_REG_REFUND) return "refund";
    if (flags & STORE_REG_PAID) return "paid";
    if (flags & STORE_REG_LOCKED) return "locked";
    return "unpaid";
}

void ctl_account_hex(const uint8_t id[16], char out[33])
{
    cet_hex(out, id, 16);
}

int64_t ctl_day_start(int64_t t)
{
    const int64_t cst = 8 * 3600, day = 86400;
    int64_t local = t + cst;
    int64_t r = local % day;
    if (r < 0) r += day;
    return local - r - cst;
}

int ctl_password_hash(const char *pw, char out[CET_PWHASH_BYTES])
{
    return cet_pwhash_make(out, pw);
}

int ctl_password_hash_legacy(const char *pw, char out[CET_PWHASH_BYTES])
{
    /* what every hash was made with before CET_PWHASH_OPS / CET_PWHASH_MEM_BYTES */
    return crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}
