/*
 * cetd: the registration engine.
 *
 *   cetd --data DIR --listen ADDR [--listen ADDR ...] [options]
 *
 * Start-up order: open LMDB (clearing stale readers), rebuild seat counters,
 * start the writer (its first tick expires holds that fell due while we were
 * down), then the core threads and listeners. SIGTERM drains: /healthz turns
 * 503, listeners close, in-flight requests finish and commit, exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "engine/eng.h"
#include "net/net.h"
#include "net/net_api.h"
#include "net/net_ticket_pdf.h"
#include "net/net_captcha.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cetd --data DIR --listen ADDR [--listen ADDR ...] [options]\n"
            "  --data DIR                 LMDB environment (created if missing)\n"
            "  --listen ADDR              127.0.0.1:8080, [::1]:8080 or unix:/path/cetd.sock\n"
            "  --threads N                core threads (default: number of CPUs)\n"
            "  --workers N                password-hashing threads (default 2)\n"
            "  --hold-ttl SECONDS         unpaid hold life (default 86400)\n"
            "  --order-ttl SECONDS        pending payment order life (default %d)\n"
            "  --captcha on|off           off only for load and automated tests (default on)\n"
            "  --payment-secret-file FILE HMAC secret shared with the payment platform\n"
            "  --pay-url URL              the payment platform's page (default "
            "http://127.0.0.1:8090/pay)\n"
            "  --sync full|none           fsync before any success is sent (default full)\n"
            "  --log-file FILE            log there instead of stderr (SIGHUP reopens)\n",
            CET_ORDER_TTL_S);
}

static long parse_num(const char *opt, const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        fprintf(stderr, "cetd: %s wants a number from %ld to %ld, not '%s'\n", opt, min, max, s);
        exit(2);
    }
    return v;
}

static size_t read_secret(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cetd: cannot read %s: %s\n", path, strerror(errno));
        exit(2);
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--; /* a trailing newline is not key */
    if (n < 16) {
        fprintf(stderr, "cetd: the payment secret in %s is shorter than 16 bytes\n", path);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"workers", required_argument, NULL, 'w'},
        {"hold-ttl", required_argument, NULL, 'H'},
        {"order-ttl", required_argument, NULL, 'O'},
        {"captcha", required_argument, NULL, 'c'},
        {"payment-secret-file", required_argument, NULL, 'p'},
        {"pay-url", required_argument, NULL, 'u'},
        {"sync", required_argument, NULL, 's'},
        {"log-file", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *secret_file = NULL, *pay_url = "http://127.0.0.1:8090/pay";
    net_options_t nopt;
    memset(&nopt, 0, sizeof nopt);
    eng_options_t eopt;
    memset(&eopt, 0, sizeof eopt);
    eopt.hold_ttl_s = CET_HOLD_TTL_DEFAULT_S;
    bool sync = true, captcha = true;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'l':
            if (nopt.n_listen >= CET_LISTENERS_MAX) {
                fprintf(stderr, "cetd: at most %d --listen\n", CET_LISTENERS_MAX);
                return 2;
            }
            nopt.listen[nopt.n_listen++] = optarg;
            break;
        case 't':
            nopt.threads = (unsigned)parse_num("--threads", optarg, 1, CET_THREADS_MAX);
            break;
        case 'w':
            nopt.workers = (unsigned)parse_num("--workers", optarg, 1, CET_WORKERS_MAX);
            break;
        case 'H':
            eopt.hold_ttl_s = parse_num("--hold-ttl", optarg, 1, 30L * 86400);
            break;
        case 'O':
            eopt.order_ttl_s = parse_num("--order-ttl", optarg, 1, 86400);
            break;
        case 'c':
            if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
                fprintf(stderr, "cetd: --captcha on|off\n");
                return 2;
            }
            captcha = strcmp(optarg, "on") == 0;
            break;
        case 'p':
            secret_file = optarg;
            break;
        case 'u':
            pay_url = optarg;
            break;
        case 's':
            if (strcmp(optarg, "full") && strcmp(optarg, "none")) {
                fprintf(stderr, "cetd: --sync full|none\n");
                return 2;
            }
            sync = strcmp(optarg, "full") == 0;
            break;
        case 'L':
            cet_log_set_file(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!data || nopt.n_listen == 0 || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        CET_ERROR("cetd: libsodium failed to initialise");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    static uint8_t secret[1024];
    if (secret_file) {
        eopt.payment_secret = secret;
        eopt.payment_secret_len = read_secret(secret_file, secret, sizeof secret);
    } else {
        CET_WARN("cetd: no --payment-secret-file: every payment notice will be refused");
    }
    eopt.pay_url_base = pay_url;
    net_captcha_set_enabled(captcha);
    if (!captcha) CET_WARN("cetd: captcha is OFF (load tests and automated tests only)");
    if (!sync) CET_WARN("cetd: --sync none: acknowledged writes may be lost on a power cut");

    char font[512];
    if (!net_ticket_pdf_font_check(font, sizeof font)) {
        CET_ERROR("cetd: the admission-ticket font " NET_TICKET_FONT_FAMILY
                  " is missing (Debian: apt-get install fonts-wqy-microhei); not starting");
        return 1;
    }
    CET_INFO("cetd: admission tickets in %s", font);

    store_options_t sopt = {.dir = data, .sync = sync};
    store_t *st;
    int rc = store_open(&sopt, &st);
    if (rc) return 1;
    eng_t *eng;
    if ((rc = eng_open(st, &eopt, &eng))) {
        store_close(st);
        return 1;
    }
    net_api_t *api = net_api_new(eng, st);
    nopt.handler = net_api_handler_cb;
    nopt.metrics = net_api_metrics_cb;
    nopt.app = api;
    nopt.store = st;
    net_server_t *srv;
    if ((rc = net_server_start(&nopt, &srv))) {
        CET_ERROR("cetd: cannot start serving: %s", strerror(rc));
        eng_close(eng);
        store_close(st);
        return 1;
    }
    net_server_wait_signal(srv);
    CET_INFO("cetd: draining");
    net_server_drain(srv, 10000);
    net_server_free(srv);
    eng_close(eng);
    net_api_free(api);
    store_close(st);
    CET_INFO("cetd: stopped");
    return 0;
}
