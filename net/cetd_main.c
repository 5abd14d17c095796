/*
 * cetd: the registration engine.
 *
 *   cetd [--config FILE] --data DIR --listen ADDR [--listen ADDR ...] [options]
 *
 * Start-up order: settings (config file, then flags over it), the
 * fail-closed checks (payment secret, payment URL, data directory: each a
 * one-line refusal unless --dev), open LMDB (clearing stale readers), rebuild
 * seat counters, start the writer (its first tick expires holds that fell due
 * while we were down), then the core threads and listeners, then READY=1 to
 * systemd. SIGTERM drains: /healthz and /readyz turn 503, listeners close,
 * in-flight requests finish and commit, exit 0.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <getopt.h>
#include <grp.h>
#include <ini.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "base/cet_version.h"
#include "engine/eng.h"
#include "net/net.h"
#include "net/net_api.h"
#include "net/net_ticket_pdf.h"
#include "net/net_captcha.h"
#include "net/net_mail.h"

#define PAY_URL_SIMULATOR "http://127.0.0.1:8090/pay"

#ifdef CET_SANITIZE
/*
 * LeakSanitizer: fontconfig keeps what it parsed and matched for the life of
 * the process (its config, and the patterns behind cairo's and pango's font
 * caches: the captcha's faces, the tickets' fonts). A fixed amount, once: a
 * cache, not a leak of ours (tests/unit/test_net_ticket_pdf.c says the same).
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\nleak:libpango-1.0.so\nleak:libpangoft2-1.0.so\n";
}

/* ... and says nothing about having used them: cetd's stderr stays its own lines
 * (a refused start is one line, in sanitizer builds too). */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cetd [--config FILE] --data DIR --listen ADDR [--listen ADDR ...] [options]\n"
            "  --config FILE              settings file (INI: key = value, keys are these option\n"
            "                             names without --); flags given here override it\n"
            "  --check-config             validate the settings (and files they name), then exit\n"
            "  --version                  print the version and exit\n"
            "  --data DIR                 LMDB environment (created if missing)\n"
            "  --listen ADDR              127.0.0.1:8080, [::1]:8080 or unix:/path/cetd.sock\n"
            "  --threads N                core threads (default: number of CPUs)\n"
            "  --workers N                password-hashing threads (default 2)\n"
            "  --hold-ttl SECONDS         unpaid hold life (default 86400)\n"
            "  --order-ttl SECONDS        pending payment order life (default %d)\n"
            "  --captcha on|off           off only for load and automated tests (default on)\n"
            "  --captcha-answers FILE     tests only: append each challenge's id and answer\n"
            "  --payment-secret-file FILE HMAC secret shared with the payment platform (required;\n"
            "                             mode 0600 or 0400)\n"
            "  --pay-url URL              the payment platform's page (required)\n"
            "  --sync full|none           fsync before any success is sent (default full)\n"
            "  --log-file FILE            log there instead of stderr (SIGHUP reopens)\n"
            "  --log-level LEVEL          debug, info, warn or error (default info; debug logs\n"
            "                             every request)\n"
            "  --trusted-proxy CIDR       believe X-Forwarded-For from these TCP peers (nginx);\n"
            "                             may repeat\n"
            "  --socket-mode OCTAL        mode of unix sockets (default 0660)\n"
            "  --socket-group NAME        group of unix sockets (default: cetd's)\n"
            "                             (--listen-mode, --listen-group: the same)\n"
            "  --tcp-conns-max N          open connections per TCP listener and core (default %d)\n"
            "  --unix-conns-max N         ... per unix listener (h2o) and core (default %d)\n"
            "  --disk-free-min MIB        /readyz fails below this free space (default %llu)\n"
            "  --dev                      development: no payment secret needed, the payment\n"
            "                             simulator as --pay-url, any secret file mode\n"
            "  --smtp-url URL             smtp://HOST:PORT or smtps://HOST:PORT: where the outbox's\n"
            "                             mail goes (none: mail waits in the outbox)\n"
            "  --smtp-ca-file FILE        PEM CA certificates for the SMTP server's TLS (default:\n"
            "                             the system's)\n"
            "  --mail-from ADDR           sender of that mail (default noreply@localhost)\n"
            "  --public-url URL           base of the links in mail (default http://localhost)\n",
            CET_ORDER_TTL_S, CET_CONNS_PER_CORE_MAX, CET_UNIX_CONNS_PER_CORE_MAX,
            (unsigned long long)(CET_DISK_FREE_MIN_BYTES >> 20));
}

/* ---- settings: one table for flags and the config file ---- */

typedef struct settings {
    const char *data;
    const char *listen[CET_LISTENERS_MAX];
    unsigned n_listen;
    bool listen_from_flags; /* the first --listen flag replaces the file's */
    const char *trusted[CET_TRUSTED_PROXIES_MAX];
    unsigned n_trusted;
    bool trusted_from_flags;
    unsigned threads, workers, tcp_conns_max, unix_conns_max;
    long hold_ttl_s, order_ttl_s;
    bool captcha, sync, dev, check_only;
    const char *secret_file, *pay_url, *log_file, *socket_group, *captcha_answers;
    const char *smtp_url, *smtp_ca_file, *mail_from, *public_url; /* the outbox's mail */
    cet_log_level_t log_level;
    unsigned socket_mode;
    unsigned long long disk_free_min_bytes;
    char err[256]; /* the first bad setting */
} settings_t;

/* Values given in a config file live as long as the process: copied into
 * one static arena (nothing to free, nothing leaked when a flag overrides
 * them). NULL when the arena is full. */
static const char *keep(const char *v)
{
    static char arena[CET_CONFIG_BYTES_MAX];
    static size_t used;
    size_t n = strlen(v) + 1;
    if (n > sizeof arena - used) return NULL;
    memcpy(arena + used, v, n);
    used += n;
    return arena + used - n;
}

static bool num_in(const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < min || n > max) return false;
    *out = n;
    return true;
}

static bool set_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "1")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "0")) {
        *out = false;
        return true;
    }
    return false;
}

/*
 * Applies one setting by its option name (flag without "--", or config key).
 * Returns 0, or -1 with s->err set. from_file: a config file line.
 */
static int setting_apply(settings_t *s, const char *name, const char *v, bool from_file)
{
    long n = 0;
#define BAD(...) (snprintf(s->err, sizeof s->err, __VA_ARGS__), -1)
    if (from_file) { /* the line's buffer is inih's: keep the value */
        v = keep(v);
        if (!v)
            return BAD("the settings file holds more than %d bytes of values",
                       CET_CONFIG_BYTES_MAX);
    }
    if (!strcmp(name, "data")) {
        s->data = v;
    } else if (!strcmp(name, "listen")) {
        if (!from_file && !s->listen_from_flags) {
            s->listen_from_flags = true;
            s->n_listen = 0;
        }
        if (s->n_listen >= CET_LISTENERS_MAX) return BAD("at most %d listen", CET_LISTENERS_MAX);
        if (net_listen_check(v))
            return BAD("listen wants 127.0.0.1:8080, [::1]:8080 or unix:/path, not '%s'", v);
        s->listen[s->n_listen++] = v;
    } else if (!strcmp(name, "trusted-proxy")) {
        if (!from_file && !s->trusted_from_flags) {
            s->trusted_from_flags = true;
            s->n_trusted = 0;
        }
        net_cidr_t c;
        if (net_cidr_parse(v, &c)) return BAD("trusted-proxy wants an address or CIDR, not '%s'", v);
        if (s->n_trusted >= CET_TRUSTED_PROXIES_MAX)
            return BAD("at most %d trusted-proxy", CET_TRUSTED_PROXIES_MAX);
        s->trusted[s->n_trusted++] = v;
    } else if (!strcmp(name, "threads")) {
        if (!num_in(v, 1, CET_THREADS_MAX, &n)) return BAD("threads wants 1..%d", CET_THREADS_MAX);
        s->threads = (unsigned)n;
    } else if (!strcmp(name, "tcp-conns-max") || !strcmp(name, "unix-conns-max")) {
        if (!num_in(v, 1, 1L << 20, &n)) return BAD("%s wants 1..1048576", name);
        if (name[0] == 't')
            s->tcp_conns_max = (unsigned)n;
        else
            s->unix_conns_max = (unsigned)n;
    } else if (!strcmp(name, "workers")) {
        if (!num_in(v, 1, CET_WORKERS_MAX, &n)) return BAD("workers wants 1..%d", CET_WORKERS_MAX);
        s->workers = (unsigned)n;
    } else if (!strcmp(name, "hold-ttl")) {
        if (!num_in(v, 1, 30L * 86400, &s->hold_ttl_s)) return BAD("hold-ttl wants 1..2592000");
    } else if (!strcmp(name, "order-ttl")) {
        if (!num_in(v, 1, 86400, &s->order_ttl_s)) return BAD("order-ttl wants 1..86400");
    } else if (!strcmp(name, "captcha")) {
        if (!set_bool(v, &s->captcha)) return BAD("captcha wants on|off, not '%s'", v);
    } else if (!strcmp(name, "captcha-answers")) {
        s->captcha_answers = v;
    } else if (!strcmp(name, "sync")) {
        if (strcmp(v, "full") && strcmp(v, "none")) return BAD("sync wants full|none, not '%s'", v);
        s->sync = strcmp(v, "full") == 0;
    } else if (!strcmp(name, "payment-secret-file")) {
        s->secret_file = v;
    } else if (!strcmp(name, "pay-url")) {
        if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
            return BAD("pay-url wants an http:// or https:// URL, not '%s'", v);
        s->pay_url = v;
    } else if (!strcmp(name, "log-file")) {
        s->log_file = v;
    } else if (!strcmp(name, "log-level")) {
        if (cet_log_level_parse(v, &s->log_level))
            return BAD("log-level wants debug|info|warn|error, not '%s'", v);
    } else if (!strcmp(name, "socket-mode") || !strcmp(name, "listen-mode")) {
        char *end;
        unsigned long m = strtoul(v, &end, 8);
        if (*end || end == v || m > 0777) return BAD("socket-mode wants an octal mode, not '%s'", v);
        s->socket_mode = (unsigned)m;
    } else if (!strcmp(name, "socket-group") || !strcmp(name, "listen-group")) {
        s->socket_group = v;
    } else if (!strcmp(name, "disk-free-min")) {
        if (!num_in(v, 0, 1L << 30, &n)) return BAD("disk-free-min wants MiB, not '%s'", v);
        s->disk_free_min_bytes = (unsigned long long)n << 20;
    } else if (!strcmp(name, "smtp-url")) {
        s->smtp_url = v;
    } else if (!strcmp(name, "smtp-ca-file")) {
        s->smtp_ca_file = v;
    } else if (!strcmp(name, "mail-from")) {
        s->mail_from = v;
    } else if (!strcmp(name, "public-url")) {
        if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) || strlen(v) >= CET_URL_BYTES_MAX)
            return BAD("public-url wants http://HOST or https://HOST[/PATH], not '%s'", v);
        s->public_url = v;
    } else if (!strcmp(name, "dev")) {
        if (!set_bool(v, &s->dev)) return BAD("dev wants true|false, not '%s'", v);
    } else {
        return BAD("unknown setting '%s'", name);
    }
    return 0;
#undef BAD
}

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    settings_t *s = user;
    if (section[0] && strcmp(section, "cetd") != 0) {
        snprintf(s->err, sizeof s->err, "unknown section [%s]", section);
        return 0;
    }
    return setting_apply(s, name, value, true) == 0;
}

static int config_load(settings_t *s, const char *path)
{
    int rc = ini_parse(path, ini_cb, s);
    if (rc == -1) {
        fprintf(stderr, "cetd: cannot read --config %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (rc != 0) {
        fprintf(stderr, "cetd: %s line %d: %s\n", path, rc, s->err[0] ? s->err : "bad line");
        return -1;
    }
    return 0;
}

enum { OPT_CONFIG = 1000, OPT_CHECK, OPT_VERSION, OPT_DEV, OPT_SETTING };

static const struct option longopts[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"version", no_argument, NULL, OPT_VERSION},
    {"dev", no_argument, NULL, OPT_DEV},
    {"help", no_argument, NULL, 'h'},
    {"data", required_argument, NULL, OPT_SETTING},
    {"listen", required_argument, NULL, OPT_SETTING},
    {"threads", required_argument, NULL, OPT_SETTING},
    {"workers", required_argument, NULL, OPT_SETTING},
    {"hold-ttl", required_argument, NULL, OPT_SETTING},
    {"order-ttl", required_argument, NULL, OPT_SETTING},
    {"captcha", required_argument, NULL, OPT_SETTING},
    {"captcha-answers", required_argument, NULL, OPT_SETTING},
    {"payment-secret-file", required_argument, NULL, OPT_SETTING},
    {"pay-url", required_argument, NULL, OPT_SETTING},
    {"sync", required_argument, NULL, OPT_SETTING},
    {"log-file", required_argument, NULL, OPT_SETTING},
    {"log-level", required_argument, NULL, OPT_SETTING},
    {"trusted-proxy", required_argument, NULL, OPT_SETTING},
    {"socket-mode", required_argument, NULL, OPT_SETTING},
    {"socket-group", required_argument, NULL, OPT_SETTING},
    {"listen-mode", required_argument, NULL, OPT_SETTING},  /* the names for them */
    {"listen-group", required_argument, NULL, OPT_SETTING},
    {"disk-free-min", required_argument, NULL, OPT_SETTING},
    {"tcp-conns-max", required_argument, NULL, OPT_SETTING},
    {"unix-conns-max", required_argument, NULL, OPT_SETTING},
    {"smtp-url", required_argument, NULL, OPT_SETTING},
    {"smtp-ca-file", required_argument, NULL, OPT_SETTING},
    {"mail-from", required_argument, NULL, OPT_SETTING},
    {"public-url", required_argument, NULL, OPT_SETTING},
    {NULL, 0, NULL, 0},
};

/* Returns -1 to go on, else the exit code. */
static int settings_parse(int argc, char **argv, settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->hold_ttl_s = CET_HOLD_TTL_DEFAULT_S;
    s->captcha = s->sync = true;
    s->log_level = CET_LOG_INFO;
    s->disk_free_min_bytes = CET_DISK_FREE_MIN_BYTES;
    s->mail_from = "noreply@localhost";
    s->public_url = "http://localhost";
    /* pass 1: --config, --version, --help (the file goes under the flags) */
    int c, idx;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
        if (c == OPT_VERSION) {
            printf("cetd %s\n", CET_VERSION);
            return 0;
        }
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == OPT_CONFIG && config_load(s, optarg)) return 2;
    }
    /* pass 2: the flags */
    optind = 0; /* glibc: 0 restarts the scan from scratch */
    opterr = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
        switch (c) {
        case OPT_CONFIG:
            break;
        case OPT_CHECK:
            s->check_only = true;
            break;
        case OPT_DEV:
            s->dev = true;
            break;
        case OPT_SETTING:
            if (setting_apply(s, longopts[idx].name, optarg, false)) {
                fprintf(stderr, "cetd: --%s\n", s->err);
                return 2;
            }
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "cetd: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!s->data || s->n_listen == 0) {
        fprintf(stderr, "cetd: --data and at least one --listen are required (cetd --help)\n");
        return 2;
    }
    return -1;
}

/* ---- fail-closed checks: one clear line each, unless --dev ---- */

static int secret_read(const settings_t *s, uint8_t *buf, size_t cap, size_t *len)
{
    *len = 0;
    if (!s->secret_file) {
        if (s->dev) return 0;
        fprintf(stderr, "cetd: --payment-secret-file is required (every payment notice would "
                        "be refused; --dev runs without one)\n");
        return -1;
    }
    FILE *f = fopen(s->secret_file, "rb");
    if (!f) {
        fprintf(stderr, "cetd: cannot read --payment-secret-file %s: %s\n", s->secret_file,
                strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) && !s->dev) {
        fprintf(stderr, "cetd: --payment-secret-file %s is readable by group or others (mode "
                        "%04o): chmod 600 it\n", s->secret_file, (unsigned)(st.st_mode & 07777));
        fclose(f);
        return -1;
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--; /* a trailing newline is not key */
    if (n < 16) {
        fprintf(stderr, "cetd: the payment secret in %s is shorter than 16 bytes\n",
                s->secret_file);
        return -1;
    }
    *len = n;
    return 0;
}

/* A payment page on this machine, or without TLS: only a test or a simulator has one. */
static bool pay_url_suspect(const char *url)
{
    if (strncmp(url, "https://", 8) != 0) return true;
    const char *host = url + 8;
    static const char *const local[] = {"127.", "localhost", "[::1]", "0.0.0.0", "[::]"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (strncmp(host, local[i], strlen(local[i])) == 0) return true;
    return false;
}

static int pay_url_check(settings_t *s)
{
    if (s->pay_url) {
        /* candidates' browsers are sent there to pay: said at start, not refused (a
         * staging platform may well be plain HTTP on a private address) */
        if (!s->dev && pay_url_suspect(s->pay_url))
            fprintf(stderr, "cetd: warning: --pay-url %s is not an HTTPS page on another host: "
                            "candidates sent there to pay will not reach a payment platform "
                            "(the simulator is for --dev)\n", s->pay_url);
        return 0;
    }
    if (s->dev) {
        s->pay_url = PAY_URL_SIMULATOR;
        return 0;
    }
    fprintf(stderr, "cetd: --pay-url is required (the default would be the payment simulator "
                    "at " PAY_URL_SIMULATOR "; --dev allows it)\n");
    return -1;
}

/* The data directory exists (or can be made) and we may write it. */
static int data_check(const settings_t *s)
{
    struct stat st;
    if (stat(s->data, &st) != 0) {
        if (errno != ENOENT) goto bad;
        if (s->check_only) return 0; /* cetd would create it */
        if (mkdir(s->data, 0750) != 0) goto bad;
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        goto bad;
    }
    if (access(s->data, R_OK | W_OK | X_OK) != 0) goto bad;
    return 0;
bad:
    fprintf(stderr, "cetd: cannot use --data %s: %s\n", s->data, strerror(errno));
    return -1;
}

static int socket_group_gid(const settings_t *s, int *gid)
{
    *gid = -1;
    if (!s->socket_group) return 0;
    struct group *g = getgrnam(s->socket_group);
    if (!g) {
        fprintf(stderr, "cetd: --socket-group %s: no such group\n", s->socket_group);
        return -1;
    }
    *gid = (int)g->gr_gid;
    return 0;
}

/* ---- health: /readyz and the systemd watchdog ---- */

typedef struct health {
    eng_t *eng;
    const char *data;
    unsigned long long disk_free_min_bytes;
    _Atomic uint64_t last_batches;
    _Atomic int64_t last_change_ms;
    bool watchdog;
} health_t;

/* The writer commits a txn at least every CET_EXPIRE_TICK_MS (its tick): no
 * new commit within CET_READY_COMMIT_AGE_MS means it is stuck. */
static bool writer_alive(health_t *h, int64_t *age_ms)
{
    store_writer_stats_t ws;
    store_writer_stats(eng_writer(h->eng), &ws);
    int64_t now = cet_mono_ns() / 1000000;
    uint64_t last = atomic_load(&h->last_batches);
    if (ws.batches != last && atomic_compare_exchange_strong(&h->last_batches, &last, ws.batches))
        atomic_store(&h->last_change_ms, now);
    *age_ms = now - atomic_load(&h->last_change_ms);
    return *age_ms < CET_READY_COMMIT_AGE_MS;
}

static bool health_ready_cb(char *out, size_t cap, void *arg)
{
    health_t *h = arg;
    int64_t age_ms;
    bool writer = writer_alive(h, &age_ms);
    struct statvfs vfs;
    unsigned long long free_b = 0;
    bool disk = statvfs(h->data, &vfs) == 0 &&
                (free_b = (unsigned long long)vfs.f_bavail * vfs.f_frsize) >= h->disk_free_min_bytes;
    /* informational: writes are still durable through the log while checkpoints
     * fail, so readiness does not depend on it; the alert is cetd_checkpoint_failing */
    store_log_stats_t ls;
    store_log_stats(eng_store(h->eng), &ls);
    snprintf(out, cap,
             "{\"writer\":{\"ok\":%s,\"last_commit_ms_ago\":%lld},"
             "\"disk\":{\"ok\":%s,\"free_bytes\":%llu,\"min_bytes\":%llu},"
             "\"checkpoint\":{\"failing\":%s,\"last_ms_ago\":%llu}}",
             writer ? "true" : "false", (long long)age_ms, disk ? "true" : "false", free_b,
             h->disk_free_min_bytes, ls.checkpoint_failing ? "true" : "false",
             (unsigned long long)ls.checkpoint_age_ms);
    return writer && disk;
}

/* Core 0's loop runs this: a pet proves that loop and the writer both move. */
static void health_tick_cb(void *arg)
{
    health_t *h = arg;
    int64_t age_ms;
    if (writer_alive(h, &age_ms)) {
        if (h->watchdog) sd_notify(0, "WATCHDOG=1");
    } else {
        CET_WARN("cetd: the writer has not committed for %lld ms: not petting the watchdog",
                 (long long)age_ms);
    }
}

/* ---- /metrics: the app's families plus what cetd adds ---- */

typedef struct metrics_ctx {
    net_api_t *api;
} metrics_ctx_t;

/* The engine's and the writer's families (net_api_ops.c), then cetd_build_info. */
static void cetd_metrics_cb(struct evbuffer *out, void *arg)
{
    metrics_ctx_t *m = arg;
    net_api_metrics_cb(out, m->api);
    evbuffer_add_printf(out,
                        "# HELP cetd_build_info The running build (value 1).\n"
                        "# TYPE cetd_build_info gauge\ncetd_build_info{version=\"%s\"} 1\n",
                        CET_VERSION);
}

static void metrics_declare(void)
{
    net_metrics_declare("registrations", "Registrations created (seats held).");
    net_metrics_declare("seats_full", "Registrations refused because the offer was full.");
    net_metrics_declare("ticket_cache_hits", "Admission tickets served from the memory cache.");
    net_metrics_declare("ticket_cache_misses", "Admission tickets not in the memory cache.");
    net_metrics_declare("ticket_file_reads", "Admission tickets read from DATA_DIR/tickets.");
    net_metrics_declare("ticket_file_reads_waited",
                        "Of those, read on the pool: the page cache did not hold the file.");
    net_metrics_declare("ticket_renders", "Admission tickets rendered as PDF.");
    net_metrics_declare("ticket_prerenders", "Admission tickets rendered ahead, once arranged.");
    net_metrics_declare("mail_sent", "Outbox mails the SMTP server accepted (250).");
    net_metrics_declare("mail_failed", "Outbox mails the SMTP server refused for good (5xx).");
    net_metrics_declare("mail_retries", "Sender passes ended by an SMTP server down or busy.");
}

/* ---- main ---- */

/*
 * Admission tickets are drawn in NET_TICKET_FONT_FAMILY: without it every
 * ticket would fail on print day, so cetd refuses to start, in one line,
 * before it touches the data directory. 0 with the font file's path in
 * font[cap] (logged once the directory is ours, like the other modes).
 */
static int ticket_font_check(char *font, size_t cap)
{
    if (!net_ticket_pdf_font_check(font, cap)) {
        fprintf(stderr, "cetd: the admission-ticket font " NET_TICKET_FONT_FAMILY
                        " is missing (Debian: apt-get install fonts-wqy-microhei); not starting\n");
        return -1;
    }
    return 0;
}

static void announce_modes(const settings_t *s)
{
    if (!s->captcha) CET_WARN("cetd: captcha is OFF (load tests and automated tests only)");
    if (!s->sync) CET_WARN("cetd: --sync none: acknowledged writes may be lost on a power cut");
    if (s->dev) CET_WARN("cetd: --dev: development settings allowed (never in production)");
    if (s->dev && !s->secret_file)
        CET_WARN("cetd: no --payment-secret-file: every payment notice will be refused");
}

int main(int argc, char **argv)
{
    /* The signals cetd serves (net_server_wait_signal) are blocked before any
     * thread exists, so every thread (the writer, the captcha renderer, the
     * mail sender) inherits the mask: a SIGTERM that comes early stays pending
     * for the main thread to drain on, instead of killing the process through
     * a thread that does not block it. */
    sigset_t served;
    sigemptyset(&served);
    sigaddset(&served, SIGTERM);
    sigaddset(&served, SIGINT);
    sigaddset(&served, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &served, NULL);
    settings_t s;
    int rc = settings_parse(argc, argv, &s);
    if (rc >= 0) return rc;
    cet_log_set_level(s.log_level);

    static uint8_t secret[1024];
    size_t secret_len;
    int gid;
    if (secret_read(&s, secret, sizeof secret, &secret_len) || pay_url_check(&s) ||
        data_check(&s) || socket_group_gid(&s, &gid))
        return 2;
    net_mail_options_t mopt = {s.smtp_url, s.mail_from, s.smtp_ca_file};
    char why[256];
    if (net_mail_options_check(&mopt, why, sizeof why)) {
        fprintf(stderr, "cetd: %s\n", why);
        return 2;
    }
    static char public_base[CET_URL_BYTES_MAX]; /* links add their own '/' */
    cet_strlcpy(public_base, s.public_url, sizeof public_base);
    for (size_t pl = strlen(public_base); pl > 0 && public_base[pl - 1] == '/';)
        public_base[--pl] = 0;
    net_options_t nopt;
    memset(&nopt, 0, sizeof nopt);
    for (unsigned i = 0; i < s.n_listen; i++)
        nopt.listen[i] = s.listen[i];
    nopt.n_listen = s.n_listen;
    for (unsigned i = 0; i < s.n_trusted; i++)
        net_cidr_parse(s.trusted[i], &nopt.trusted[i]); /* checked by setting_apply */
    nopt.n_trusted = s.n_trusted;
    nopt.threads = s.threads;
    nopt.workers = s.workers;
    nopt.conns_per_core_max = s.tcp_conns_max;
    nopt.unix_conns_per_core_max = s.unix_conns_max;
    nopt.socket_mode = s.socket_mode;
    nopt.socket_gid = gid;
    if (s.check_only) {
        printf("cetd: config ok\n");
        return 0;
    }
    if (s.log_file) cet_log_set_file(s.log_file);
    if (sodium_init() < 0) {
        CET_ERROR("cetd: libsodium failed to initialise");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    char font[512];
    if (ticket_font_check(font, sizeof font)) return 1;

    /* First the data directory: its lock makes this process its one owner
     * for its whole life (store_open; released when we exit). */
    store_options_t sopt = {.dir = s.data, .sync = s.sync, .owner = "cetd"};
    store_t *st;
    rc = store_open(&sopt, &st);
    if (rc == STORE_LOCKED) {
        pid_t pid = 0;
        char who[64] = "another process";
        if (store_dir_holder(s.data, &pid, who, sizeof who) == 0)
            fprintf(stderr, "cetd: data directory %s is held by %s (pid %ld): one process owns a "
                    "data directory; stop that one first\n", s.data, who, (long)pid);
        else
            fprintf(stderr, "cetd: data directory %s is held by another process (lock file %s/%s)\n",
                    s.data, s.data, STORE_LOCK_FILE);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "cetd: cannot open the data in %s: %s\n", s.data, store_strerror(rc));
        return 1;
    }
    announce_modes(&s); /* after the lock: a refused second cetd says one line only */
    CET_INFO("cetd: admission tickets in %s", font);

    eng_options_t eopt;
    memset(&eopt, 0, sizeof eopt);
    eopt.hold_ttl_s = s.hold_ttl_s;
    eopt.order_ttl_s = s.order_ttl_s;
    if (secret_len) {
        eopt.payment_secret = secret;
        eopt.payment_secret_len = secret_len;
    }
    eopt.pay_url_base = s.pay_url;
    eopt.public_url = public_base;
    net_captcha_set_enabled(s.captcha);
    /* off: nothing rendered ahead (512 images, some 0.4 s of a core at start);
     * a challenge asked for anyway starts the renderer then */
    if (s.captcha && net_captcha_start() != 0) {
        fprintf(stderr, "cetd: cannot draw captcha images (see the log); --captcha off to run "
                        "without\n");
        return 1;
    }
    if (s.captcha_answers) {
        int arc = net_captcha_set_answer_log(s.captcha_answers);
        if (arc) {
            fprintf(stderr, "cetd: cannot open %s: %s\n", s.captcha_answers, strerror(arc));
            return 2;
        }
        CET_WARN("cetd: --captcha-answers: every captcha answer is written to %s (tests only)",
                 s.captcha_answers);
    }

    eng_t *eng;
    if ((rc = eng_open(st, &eopt, &eng))) {
        fprintf(stderr, "cetd: cannot start the engine over %s: %s\n", s.data, store_strerror(rc));
        store_close(st);
        return 1;
    }
    net_mail_t *mail = NULL;
    if (!mopt.smtp_url) {
        CET_WARN("cetd: no --smtp-url: mail is kept in the outbox and not sent");
    } else if ((rc = net_mail_start(st, eng_writer(eng), &mopt, &mail))) {
        fprintf(stderr, "cetd: cannot start the mail sender: %s\n", strerror(rc));
        eng_close(eng);
        store_close(st);
        return 1;
    }
    static health_t health;
    health.eng = eng;
    health.data = s.data;
    health.disk_free_min_bytes = s.disk_free_min_bytes;
    health.last_change_ms = (int64_t)(cet_mono_ns() / 1000000);
    uint64_t wd_usec = 0;
    health.watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;
    net_api_t *api = net_api_new(eng, st);
    static metrics_ctx_t mctx;
    mctx.api = api;
    metrics_declare();
    nopt.handler = net_api_handler_cb;
    nopt.metrics = cetd_metrics_cb;
    nopt.metrics_arg = &mctx;
    nopt.app = api;
    nopt.store = st;
    nopt.upload_path = "/api/v1/admin/roster"; /* a school's roster file (net_api_admin.c) */
    nopt.upload_bytes_max = CET_SHEET_UPLOAD_BYTES_MAX;
    nopt.body_max = net_api_body_max; /* a campus's rooms in one PUT */
    nopt.ready = health_ready_cb;
    nopt.ready_arg = &health;
    nopt.tick = health_tick_cb;
    nopt.tick_arg = &health;
    nopt.started = net_api_started_cb;
    nopt.started_arg = api;
    nopt.tick_ms = CET_WATCHDOG_TICK_MS;
    if (health.watchdog && wd_usec / 4000 < nopt.tick_ms) /* pet at least 4 times a period */
        nopt.tick_ms = wd_usec / 4000 ? (unsigned)(wd_usec / 4000) : 1;
    net_server_t *srv;
    if ((rc = net_server_start(&nopt, &srv))) { /* net_server_start logged the one line */
        net_mail_stop(mail);
        eng_close(eng);
        store_close(st);
        return 1;
    }
    CET_INFO("cetd: %s ready", CET_VERSION);
    sd_notify(0, "READY=1\nSTATUS=serving");
    net_server_wait_signal(srv);
    sd_notify(0, "STOPPING=1\nSTATUS=draining");
    CET_INFO("cetd: draining");
    net_server_drain(srv, 10000);
    net_server_free(srv);
    net_captcha_stop();
    net_mail_stop(mail); /* before the writer it marks delivered mail through */
    eng_close(eng);
    net_api_free(api);
    store_close(st);
    CET_INFO("cetd: stopped");
    return 0;
}
