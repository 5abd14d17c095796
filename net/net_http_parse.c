/*
 * net_http_parse.c: the pure parts of cetd's HTTP/1.1 server side, fuzzed on
 * their own (tests/fuzz/fuzz_http.c): where a request head ends, the head
 * itself (request line, fields, framing), and the chunked body decoder.
 *
 * Strict where leniency is a risk (RFC 9112): one SP between the parts of the
 * request line, HTTP/1.0 or 1.1 only, no whitespace before a field's colon, no
 * obs-fold, no control bytes in values, Content-Length digits only (two that
 * disagree refused), Transfer-Encoding only "chunked" and never with
 * Content-Length: each of these is a request smuggling vector through a proxy
 * that reads the request differently. Lenient where it is harmless: bare LF
 * line ends, empty lines before a request line (skipped by the caller).
 */
#include <string.h>
#include <strings.h>

#include "base/cet_base.h"
#include "net/net_internal.h"

size_t net_http_head_end(const char *s, size_t len, size_t from)
{
    /* the terminator is LF CR LF or LF LF; the first LF may lie up to 2 bytes before from */
    size_t i = from >= 2 ? from - 2 : 0;
    while (i < len) {
        const char *q = memchr(s + i, '\n', len - i);
        if (!q) return 0;
        size_t k = (size_t)(q - s);
        if (k + 1 < len && s[k + 1] == '\n') return k + 2;
        if (k + 2 < len && s[k + 1] == '\r' && s[k + 2] == '\n') return k + 3;
        i = k + 1;
    }
    return 0;
}

bool net_http_head_hopeless(const char *s, size_t len)
{
    /* the method: tchars up to the first SP; anything else (a TLS hello, binary
     * junk) can never become a request, so it is refused without waiting */
    for (size_t i = 0; i < len && i <= 16; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ') return i == 0;
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            !(c && strchr("!#$%&'*+-.^_`|~", c)))
            return true;
    }
    return len > 16 && memchr(s, ' ', 17) == NULL;
}


static bool is_tchar(unsigned char c)
{
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Does the comma-separated list v contain token t (any case)? */
static bool list_has(const char *v, const char *t)
{
    size_t tn = strlen(t);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *s = v;
        while (*v && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tn && strncasecmp(s, t, tn) == 0) return true;
    }
    return false;
}

static net_method_t method_parse(const char *m, bool *known)
{
    static const struct {
        const char *name;
        net_method_t method;
    } tab[] = {{"GET", NET_GET},       {"POST", NET_POST},     {"PUT", NET_PUT},
               {"DELETE", NET_DELETE}, {"HEAD", NET_HEAD},     {"OPTIONS", NET_OPTIONS},
               {"PATCH", 0},           {"TRACE", 0},           {"CONNECT", 0}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(m, tab[i].name) == 0) {
            *known = true;
            return tab[i].method;
        }
    *known = false;
    return 0;
}

/* Content-Length: digits only. Values from NET_CONTENT_LENGTH_CAP up saturate
 * there (too large: 413, never wrapped around into a small length). */
static int content_length_parse(const char *v, uint64_t *out)
{
    if (!*v) return -1;
    uint64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        uint64_t d = (uint64_t)(*p - '0');
        /* n * 10 + d would pass the cap (and, digits later, 2^64): stay at the cap */
        n = n > (NET_CONTENT_LENGTH_CAP - d) / 10 ? NET_CONTENT_LENGTH_CAP : n * 10 + d;
    }
    *out = n;
    return 0;
}

/*
 * Parses the head in req->head[0, len) (request line and fields, up to and
 * including the empty line) in place: NUL-terminated method, target, field
 * names and values. Framing and connection semantics into req and *cl /
 * *chunked. CET_E_OK, or the error to answer (the connection then ends).
 */
net_head_err_t net_http_head_parse(net_req_t *req, size_t len, uint64_t *cl, bool *chunked)
{
    char *p = req->head, *end = req->head + len;
    *end = 0;
    *cl = 0;
    *chunked = false;
    req->n_hdrs = 0;
    req->minor = 1;
    /* request line: method SP target SP HTTP/1.x */
    char *m = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == m || p - m > 16 || p >= end || *p != ' ') return NET_HEAD_BAD;
    *p++ = 0;
    char *target = p;
    while (p < end && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    if (p == target || p >= end || *p != ' ') return NET_HEAD_BAD;
    *p++ = 0;
    if (end - p < 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
        return NET_HEAD_BAD;
    req->minor = p[7] - '0';
    p += 8;
    if (p < end && *p == '\r') p++;
    if (p >= end || *p != '\n') return NET_HEAD_BAD;
    p++;
    req->method = method_parse(m, &req->method_known);
    req->uri = target;
    /* fields */
    bool have_cl = false, have_te = false, have_host = false, close = false, keep = false;
    for (;;) {
        if (p >= end) return NET_HEAD_BAD;
        if (*p == '\r' && p + 1 < end && p[1] == '\n') break;
        if (*p == '\n') break;
        if (*p == ' ' || *p == '\t') return NET_HEAD_BAD; /* obs-fold */
        char *name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        if (p == name || p >= end || *p != ':') return NET_HEAD_BAD;
        *p++ = 0;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        char *value = p;
        while (p < end && *p != '\r' && *p != '\n') {
            unsigned char c = (unsigned char)*p;
            if ((c < ' ' && c != '\t') || c == 0x7f) return NET_HEAD_BAD;
            p++;
        }
        char *vend = p;
        while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        if (p < end && *p == '\r') p++;
        if (p >= end || *p != '\n') return NET_HEAD_BAD;
        p++;
        *vend = 0;
        if (req->n_hdrs >= CET_HEADERS_COUNT_MAX) return NET_HEAD_BAD;
        req->hdrs[req->n_hdrs].name = name;
        req->hdrs[req->n_hdrs].value = value;
        req->n_hdrs++;
        if (strcasecmp(name, "Content-Length") == 0) {
            uint64_t v;
            if (content_length_parse(value, &v) != 0) return NET_HEAD_BAD;
            if (have_cl && v != *cl) return NET_HEAD_BAD; /* two that disagree: smuggling */
            *cl = v;
            have_cl = true;
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            /* only "chunked", once: anything else cannot be framed here */
            if (have_te || strcasecmp(value, "chunked") != 0) return NET_HEAD_BAD;
            have_te = true;
        } else if (strcasecmp(name, "Host") == 0) {
            if (have_host) return NET_HEAD_BAD; /* RFC 9112 3.2: exactly one */
            have_host = true;
        } else if (strcasecmp(name, "Connection") == 0) {
            if (list_has(value, "close")) close = true;
            if (list_has(value, "keep-alive")) keep = true;
        } else if (strcasecmp(name, "Expect") == 0) {
            if (strcasecmp(value, "100-continue") == 0) req->expect_continue = true;
        }
    }
    if (have_cl && have_te) return NET_HEAD_BAD; /* RFC 9112 6.1: a request smuggling vector */
    if (have_te && req->minor == 0) return NET_HEAD_BAD; /* 6.1: chunked on 1.0 is faulty framing */
    if (!have_host && req->minor == 1) return NET_HEAD_BAD; /* 3.2: HTTP/1.1 requires Host */
    *chunked = have_te;
    req->keep_alive = req->minor == 1 ? !close : keep && !close;
    return NET_HEAD_OK;
}


/* ---- chunked bodies ---- */

enum { CH_SIZE = 0, CH_DATA, CH_DATA_END, CH_TRAILER };

/* A whole line at in[0, len), ended by CRLF: its length with the CRLF; 0 not
 * yet whole; -1 too long, or a line end other than CRLF (a bare LF or CR in
 * chunked framing is a smuggling vector: another reader may end the line elsewhere). */
static long line_len(const char *in, size_t len)
{
    size_t max = len < CET_CHUNK_LINE_BYTES_MAX ? len : CET_CHUNK_LINE_BYTES_MAX;
    const char *lf = memchr(in, '\n', max);
    if (!lf) {
        if (max > 1 && memchr(in, '\r', max - 1)) return -1; /* a CR not before LF */
        return len >= CET_CHUNK_LINE_BYTES_MAX ? -1 : 0;
    }
    size_t n = (size_t)(lf - in) + 1;
    if (n < 2 || in[n - 2] != '\r') return -1;
    if (memchr(in, '\r', n - 2)) return -1;
    return (long)n;
}

/* A chunk extension (after the size, up to the CRLF): BWS, then nothing or
 * ';' and text without control bytes. */
static bool ext_ok(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end) return true;
    if (*p != ';') return false;
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < ' ' && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

/* Framing bytes (size lines, CRLFs, trailers) a body may carry beside its
 * data: CET_CHUNK_FRAMING_BYTES_MAX, and a sixteenth of the data on top (4 KiB
 * chunks of a 64 MiB upload carry 1/512: one-byte chunks are what it stops). */
static bool framing_add(net_chunked_t *c, long n)
{
    c->framing += (uint64_t)n;
    return c->framing <= CET_CHUNK_FRAMING_BYTES_MAX + c->data / 16;
}

net_chunk_rc_t net_chunked_step(net_chunked_t *c, const char *in, size_t len, uint64_t room,
                                size_t *used, size_t *data_off, size_t *data_len)
{
    *used = *data_off = *data_len = 0;
    switch (c->state) {
    case CH_SIZE: {
        long n = line_len(in, len);
        if (n < 0) return NET_CHUNK_BAD;
        if (n == 0) return NET_CHUNK_MORE;
        uint64_t size = 0;
        int digits = 0;
        for (; digits < 16; digits++) {
            int ch = (unsigned char)in[digits], v;
            if (ch >= '0' && ch <= '9')
                v = ch - '0';
            else if (ch >= 'a' && ch <= 'f')
                v = ch - 'a' + 10;
            else if (ch >= 'A' && ch <= 'F')
                v = ch - 'A' + 10;
            else
                break;
            size = size * 16 + (uint64_t)v;
        }
        if (digits == 0 || digits == 16 || !ext_ok(in + digits, in + n - 2) || !framing_add(c, n))
            return NET_CHUNK_BAD;
        *used = (size_t)n;
        if (size == 0) {
            c->state = CH_TRAILER;
            return NET_CHUNK_MORE;
        }
        if (size > room) return NET_CHUNK_TOO_LARGE;
        c->need = size;
        c->state = CH_DATA;
        return NET_CHUNK_MORE;
    }
    case CH_DATA: {
        size_t n = len < c->need ? len : (size_t)c->need;
        *used = *data_len = n;
        c->need -= n;
        c->data += n;
        if (c->need == 0) c->state = CH_DATA_END;
        return NET_CHUNK_MORE;
    }
    case CH_DATA_END: {
        long n = line_len(in, len);
        if (n < 0) return NET_CHUNK_BAD;
        if (n == 0) return len >= 2 ? NET_CHUNK_BAD : NET_CHUNK_MORE;
        if (n != 2 || !framing_add(c, n)) return NET_CHUNK_BAD;
        *used = (size_t)n;
        c->state = CH_SIZE;
        return NET_CHUNK_MORE;
    }
    case CH_TRAILER: {
        long n = line_len(in, len);
        if (n < 0) return NET_CHUNK_BAD;
        if (n == 0) return NET_CHUNK_MORE;
        *used = (size_t)n;
        if (n == 2) return NET_CHUNK_DONE;
        if (++c->trailers > CET_HEADERS_COUNT_MAX || !framing_add(c, n)) return NET_CHUNK_BAD;
        return NET_CHUNK_MORE; /* a trailer field: ignored */
    }
    default:
        return NET_CHUNK_BAD;
    }
}
