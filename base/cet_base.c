#include "base/cet_base.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef CET_SANITIZE
#include <jemalloc/jemalloc.h>
#endif

/* ---- clock ---- */
static int64_t clock_offset_s(void)
{
    static _Atomic int64_t offset = INT64_MIN;
    int64_t v = atomic_load_explicit(&offset, memory_order_relaxed);
    if (v == INT64_MIN) {
        const char *e = getenv("CET_CLOCK_OFFSET_S");
        v = e ? strtoll(e, NULL, 10) : 0;
        atomic_store(&offset, v);
    }
    return v;
}

int64_t cet_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec + clock_offset_s();
}

int64_t cet_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t)ts.tv_sec + clock_offset_s()) * 1000 + ts.tv_nsec / 1000000;
}

uint64_t cet_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define CST_OFFSET_S (8 * 3600)

char *cet_time_format(int64_t t, char out[26])
{
    time_t local = (time_t)(t + CST_OFFSET_S);
    struct tm tm;
    gmtime_r(&local, &tm);
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999) year = year < 0 ? 0 : 9999;
    /* by hand, not snprintf: every registration's answer carries one */
    const unsigned f[6] = {(unsigned)year, (unsigned)(tm.tm_mon + 1) % 100u,
                           (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
                           (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u};
    static const char sep[5] = {'-', '-', 'T', ':', ':'};
    char *p = out + cet_dec_format(out, f[0], 4);
    for (int i = 1; i < 6; i++) {
        *p++ = sep[i - 1];
        p += cet_dec_format(p, f[i], 2);
    }
    memcpy(p, "+08:00", 7);
    return out;
}

size_t cet_dec_format(char *out, uint64_t v, int width)
{
    char d[20];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (width > 20) width = 20;
    size_t len = 0;
    for (int i = n; i < width; i++) out[len++] = '0';
    while (n) out[len++] = d[--n];
    out[len] = '\0';
    return len;
}

static int parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int cet_time_parse(const char *s, int64_t *out)
{
    int Y, M, D, h, m, sec;
    if (strlen(s) < 20) return -1;
    if (parse_digits(s, 4, &Y) || s[4] != '-' || parse_digits(s + 5, 2, &M) || s[7] != '-' ||
        parse_digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != ' ') ||
        parse_digits(s + 11, 2, &h) || s[13] != ':' || parse_digits(s + 14, 2, &m) ||
        s[16] != ':' || parse_digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return -1;
    const char *z = s + 19;
    if (*z == '.') {
        z++;
        while (*z >= '0' && *z <= '9') z++;
    }
    int off = 0;
    if (*z == 'Z' && z[1] == 0) {
        off = 0;
    } else if ((*z == '+' || *z == '-') && strlen(z) == 6 && z[3] == ':') {
        int oh, om;
        if (parse_digits(z + 1, 2, &oh) || parse_digits(z + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (oh * 3600 + om * 60) * (*z == '-' ? -1 : 1);
    } else {
        return -1;
    }
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                    .tm_hour = h, .tm_min = m, .tm_sec = sec};
    *out = (int64_t)timegm(&tm) - off;
    return 0;
}

/* ---- logging: logfmt, UTC ---- */
/*
 * One line per event, one write(2) per line (lines stay whole across
 * threads), logfmt:
 *   ts=2026-12-01T12:00:00.123+00:00 level=info comp=net msg="listening" request_id=...
 * A message "comp: text" gets its prefix as comp=. Values with a space, a
 * quote, '=' or a control byte are quoted, and control bytes are escaped, so
 * nothing a client sent (a path with %0A) can forge a line. Why logfmt and
 * not JSON: docs/operations.md ("Logs").
 */
static _Atomic int log_level = CET_LOG_INFO;
static char log_path[512];
static _Thread_local const char *log_request_id;
#define LOG_LINE_BYTES 2048

void cet_log_set_level(cet_log_level_t lv)
{
    atomic_store(&log_level, (int)lv);
}

int cet_log_level_parse(const char *s, cet_log_level_t *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (cet_log_level_t)i;
            return 0;
        }
    return -1;
}

bool cet_log_enabled(cet_log_level_t lv)
{
    return (int)lv >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void cet_log_set_request_id(const char *id)
{
    log_request_id = id;
}

size_t cet_log_quote(char *out, size_t cap, const char *s)
{
    bool plain = *s != 0;
    for (const char *p = s; *p && plain; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) plain = false;
    }
    size_t n = 0;
    if (cap == 0) return 0;
    if (plain) {
        cet_strlcpy(out, s, cap);
        return strlen(out);
    }
    static const char hex[] = "0123456789abcdef";
    if (n + 1 < cap) out[n++] = '"';
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[5];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)c;
        } else if (c == '\n') {
            esc[k++] = '\\';
            esc[k++] = 'n';
        } else if (c < ' ' || c == 0x7f) {
            esc[k++] = '\\';
            esc[k++] = 'x';
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        } else {
            esc[k++] = (char)c;
        }
        if (n + k + 2 > cap) break; /* room for the closing quote and NUL */
        memcpy(out + n, esc, k);
        n += k;
    }
    out[n++] = '"';
    out[n] = 0;
    return n;
}

/* "2026-12-01T12:00:00.123+00:00" (30 bytes with NUL) */
static void log_time(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t t = ts.tv_sec + clock_offset_s();
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 40, "%04u-%02u-%02uT%02u:%02u:%02u.%03u+00:00",
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static size_t log_head(char *line, size_t cap, cet_log_level_t lv)
{
    char ts[40];
    log_time(ts);
    int n = snprintf(line, cap, "ts=%s level=%s", ts, level_names[lv]);
    return n < 0 ? 0 : (size_t)n;
}

static void log_tail_write(char *line, size_t len)
{
    if (log_request_id && !strstr(line, " request_id=")) {
        int m = snprintf(line + len, LOG_LINE_BYTES - len - 1, " request_id=%s", log_request_id);
        if (m > 0) len += (size_t)m;
    }
    if (len > LOG_LINE_BYTES - 2) len = LOG_LINE_BYTES - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void cet_log(cet_log_level_t lv, const char *fmt, ...)
{
    if (!cet_log_enabled(lv)) return;
    char text[LOG_LINE_BYTES / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char line[LOG_LINE_BYTES];
    size_t len = log_head(line, sizeof line, lv);
    const char *msg = text;
    /* "net: cannot listen" → comp=net msg="cannot listen" */
    size_t w = strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789_-");
    if (w > 0 && w < 24 && text[w] == ':' && text[w + 1] == ' ') {
        int m = snprintf(line + len, sizeof line - len, " comp=%.*s", (int)w, text);
        if (m > 0) len += (size_t)m;
        msg = text + w + 2;
    }
    if (len + 5 < sizeof line) {
        memcpy(line + len, " msg=", 5);
        len += 5;
        len += cet_log_quote(line + len, sizeof line - len - 40, msg);
    }
    log_tail_write(line, len);
}

void cet_log_event(cet_log_level_t lv, const char *event, const char *fields_fmt, ...)
{
    if (!cet_log_enabled(lv)) return;
    char line[LOG_LINE_BYTES];
    size_t len = log_head(line, sizeof line, lv);
    int m = snprintf(line + len, sizeof line - len, " event=%s ", event);
    if (m > 0) len += (size_t)m;
    va_list ap;
    va_start(ap, fields_fmt);
    m = vsnprintf(line + len, sizeof line - len - 40, fields_fmt, ap);
    va_end(ap);
    if (m > 0) len += (size_t)m;
    if (len > sizeof line - 40) len = sizeof line - 40;
    log_tail_write(line, len);
}

void cet_log_set_file(const char *path)
{
    cet_strlcpy(log_path, path, sizeof log_path);
    cet_log_reopen();
}

void cet_log_reopen(void)
{
    if (!log_path[0]) return;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        CET_ERROR("log: cannot open %s: %s", log_path, strerror(errno));
        return;
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
}

_Noreturn void cet_assert_fail(const char *what, const char *file, int line)
{
    cet_log(CET_LOG_ERROR, "assertion failed: %s at %s:%d", what, file, line);
    abort();
}

_Noreturn void cet_assert_info_fail(const char *what, const char *file, int line, const char *fmt,
                                    ...)
{
    char info[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info, sizeof info, fmt, ap);
    va_end(ap);
    cet_log(CET_LOG_ERROR, "assertion failed: %s at %s:%d: %s", what, file, line, info);
    abort();
}

/* ---- allocation ---- */
static _Atomic size_t alloc_live;

static void *checked(void *p, size_t n)
{
    if (!p && n) {
        cet_log(CET_LOG_ERROR, "out of memory allocating %zu bytes", n);
        abort();
    }
    return p;
}

static size_t usable(void *p)
{
#ifndef CET_SANITIZE
    return p ? malloc_usable_size(p) : 0;
#else
    (void)p;
    return 0;
#endif
}

void *cet_malloc(size_t n)
{
    void *p = checked(malloc(n ? n : 1), n);
    atomic_fetch_add_explicit(&alloc_live, usable(p), memory_order_relaxed);
    return p;
}

void *cet_calloc(size_t n, size_t size)
{
    void *p = checked(calloc(n ? n : 1, size ? size : 1), n * size);
    atomic_fetch_add_explicit(&alloc_live, usable(p), memory_order_relaxed);
    return p;
}

void *cet_realloc(void *p, size_t n)
{
    size_t before = usable(p);
    void *q = checked(realloc(p, n ? n : 1), n);
    atomic_fetch_sub_explicit(&alloc_live, before, memory_order_relaxed);
    atomic_fetch_add_explicit(&alloc_live, usable(q), memory_order_relaxed);
    return q;
}

char *cet_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = cet_malloc(n);
    memcpy(p, s, n);
    return p;
}

void cet_free(void *p)
{
    if (!p) return;
    atomic_fetch_sub_explicit(&alloc_live, usable(p), memory_order_relaxed);
    free(p);
}

size_t cet_alloc_live_bytes(void)
{
    return atomic_load_explicit(&alloc_live, memory_order_relaxed);
}

int cet_mem_stats(cet_mem_stats_t *out)
{
    memset(out, 0, sizeof *out);
#ifndef CET_SANITIZE
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    sz = sizeof(size_t);
    if (mallctl("stats.allocated", &out->allocated, &sz, NULL, 0)) return -1;
    mallctl("stats.active", &out->active, &sz, NULL, 0);
    mallctl("stats.resident", &out->resident, &sz, NULL, 0);
    mallctl("stats.mapped", &out->mapped, &sz, NULL, 0);
    return 0;
#else
    return -1;
#endif
}

/* ---- strings ---- */
void cet_strlcpy(char *dst, const char *src, size_t cap)
{
    if (!cap) return;
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        /* back off to a UTF-8 lead byte so no character is cut in half */
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, src, n);
    dst[n] = 0;
}

void cet_hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cet_unhex(uint8_t *out, const char *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(in[2 * i]), lo = hi < 0 ? -1 : hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
