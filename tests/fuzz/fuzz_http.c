/*
 * fuzz_http.c: libFuzzer driver for cetd's HTTP/1.1 request parsing
 * (net/net_http_parse.c): where a head ends, the head itself, and the chunked
 * body decoder.
 *
 * Properties checked for any input:
 *   - finding the end of a head does not depend on how the bytes arrived: a
 *     search resumed where the connection resumes it (3 bytes before the end
 *     of what was searched) finds the same end as one over the whole input;
 *   - a head the parser accepts has a method, a target without spaces or
 *     control bytes, HTTP/1.0 or 1.1, and fields whose names are tokens and
 *     whose values hold no CR, LF or NUL (nothing a reply or log could be
 *     split by); a chunked head never also has a Content-Length; the length
 *     is each Content-Length's decimal value, saturated, never wrapped;
 *   - the chunked decoder gives the same body and the same verdict whether the
 *     bytes come at once or one at a time, and never more body than allowed.
 * Built like fuzz_json.c: a libFuzzer target with CET_FUZZ, a corpus replay
 * otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cet_base.h"
#include "net/net_internal.h"

#define FUZZ_BODY_ROOM 2048 /* the decoder's room, small so that 413 is reached */

static net_req_t req; /* large: not on the stack */

static bool tchars(const char *s)
{
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c && strchr("!#$%&'*+-.^_`|~", c));
        if (!ok) return false;
    }
    return true;
}

/* A Content-Length value as it must be read: the decimal number, or
 * NET_CONTENT_LENGTH_CAP from there up (never wrapped around). */
static uint64_t cl_value(const char *v)
{
    while (*v == '0' && v[1])
        v++;
    size_t n = strlen(v);
    if (n > 19) return NET_CONTENT_LENGTH_CAP;
    unsigned long long x = strtoull(v, NULL, 10); /* at most 19 digits: fits 64 bits */
    return x > NET_CONTENT_LENGTH_CAP ? NET_CONTENT_LENGTH_CAP : (uint64_t)x;
}

static void check_head(const char *data, size_t size)
{
    size_t end = net_http_head_end(data, size, 0);
    if (end > size) abort();
    if (end && (end < 2 || data[end - 1] != '\n')) abort();
    /* resumed searches, as net_http.c makes them after each read */
    for (size_t k = 1; k < size; k += 1 + k / 4) {
        size_t first = net_http_head_end(data, k, 0);
        if (first) {
            if (first != end) abort(); /* a prefix's end is the end */
            break;
        }
        size_t from = k >= 3 ? k - 3 : 0;
        if (net_http_head_end(data, size, from) != end) abort();
    }
    if (!end || end > CET_HEADERS_BYTES_MAX) return;
    memcpy(req.head, data, end);
    uint64_t cl = 0;
    bool chunked = false;
    if (net_http_head_parse(&req, end, &cl, &chunked) != NET_HEAD_OK) return;
    if (net_http_head_hopeless(data, end)) abort(); /* a hopeless start never parses */
    if (!req.uri || !*req.uri || (req.minor != 0 && req.minor != 1)) abort();
    for (const char *p = req.uri; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) abort();
    if (req.n_hdrs > CET_HEADERS_COUNT_MAX) abort();
    bool have_cl = false;
    for (unsigned i = 0; i < req.n_hdrs; i++) {
        if (!tchars(req.hdrs[i].name)) abort();
        for (const char *p = req.hdrs[i].value; *p; p++)
            if (*p == '\r' || *p == '\n') abort();
        if (strcasecmp(req.hdrs[i].name, "Content-Length") == 0) {
            have_cl = true;
            if (cl_value(req.hdrs[i].value) != cl) abort(); /* every one says the same length */
        }
    }
    if (chunked && have_cl) abort();
    if (!have_cl && cl) abort();
}

/* Decodes in[0, size) as a chunked body fed by grow bytes at a time; the
 * verdict, and the body into out[*out_len]. */
static net_chunk_rc_t decode(const char *in, size_t size, size_t grow, char *out, size_t *out_len)
{
    net_chunked_t c;
    memset(&c, 0, sizeof c);
    size_t pos = 0, avail = grow < size ? grow : size;
    *out_len = 0;
    for (;;) {
        size_t used, off, n;
        net_chunk_rc_t rc = net_chunked_step(&c, in + pos, avail - pos,
                                             FUZZ_BODY_ROOM - *out_len, &used, &off, &n);
        if (rc == NET_CHUNK_BAD || rc == NET_CHUNK_TOO_LARGE) return rc;
        if (used > avail - pos || off + n > used) abort();
        if (*out_len + n > FUZZ_BODY_ROOM) abort();
        memcpy(out + *out_len, in + pos + off, n);
        *out_len += n;
        pos += used;
        if (rc == NET_CHUNK_DONE) return rc;
        if (used == 0) {
            if (avail == size) return NET_CHUNK_MORE; /* the input ended mid-body */
            avail = avail + grow < size ? avail + grow : size;
        }
    }
}

static void check_chunked(const char *data, size_t size)
{
    static char a[FUZZ_BODY_ROOM], b[FUZZ_BODY_ROOM];
    size_t alen, blen;
    net_chunk_rc_t ra = decode(data, size, size ? size : 1, a, &alen);
    net_chunk_rc_t rb = decode(data, size, 1, b, &blen);
    if (ra != rb) abort();
    if (ra != NET_CHUNK_BAD && ra != NET_CHUNK_TOO_LARGE && (alen != blen || memcmp(a, b, alen)))
        abort();
}

static void check_one(const uint8_t *data, size_t size)
{
    if (size > 4 * CET_HEADERS_BYTES_MAX) return;
    check_head((const char *)data, size);
    /* the bytes after a head are a body: decode them as chunked, and the whole input too */
    size_t end = net_http_head_end((const char *)data, size, 0);
    check_chunked((const char *)data + end, size - end);
    if (end) check_chunked((const char *)data, size);
}

#ifndef CET_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(data, size);
    return 0;
}
#else
#include "tests/fuzz/fuzz_replay.h"

static int replay_one(const char *name, const uint8_t *data, size_t size)
{
    (void)name; /* every property is checked inside; a violation aborts */
    check_one(data, size);
    return 0;
}

int main(int argc, char **argv)
{
    return fuzz_replay_main(argc, argv, "fuzz_http", replay_one);
}
#endif
