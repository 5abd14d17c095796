/*
 * test_net_http_parse.c: the pure HTTP/1.1 parsing of net/net_http_parse.c on
 * chosen inputs (tests/fuzz/fuzz_http.c checks its properties on any input):
 * Content-Length read exactly and saturated (never wrapped), the Host rules,
 * and the chunked decoder's framing allowance: a large upload in 4 KiB chunks
 * passes, a body of one-byte chunks does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cet_test.h"
#include "base/cet_base.h"
#include "net/net_internal.h"

static net_req_t req;

static net_head_err_t parse(const char *head, uint64_t *cl, bool *chunked)
{
    size_t n = strlen(head);
    CHECK(n <= CET_HEADERS_BYTES_MAX);
    memcpy(req.head, head, n);
    return net_http_head_parse(&req, n, cl, chunked);
}

static void test_content_length(void)
{
    static const struct {
        const char *value;
        uint64_t want;
    } cases[] = {
        {"0", 0},
        {"2", 2},
        {"0000000000000000000000000000042", 42},
        {"4611686018427387903", NET_CONTENT_LENGTH_CAP - 1},
        {"4611686018427387904", NET_CONTENT_LENGTH_CAP},
        {"18446744073709551615", NET_CONTENT_LENGTH_CAP},
        {"18446744073709551616", NET_CONTENT_LENGTH_CAP}, /* 2^64: once read as 0 */
        {"18446744073709551620", NET_CONTENT_LENGTH_CAP}, /* once read as 4 */
        {"99999999999999999999999999999999999999", NET_CONTENT_LENGTH_CAP},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char head[256];
        snprintf(head, sizeof head, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: %s\r\n\r\n",
                 cases[i].value);
        uint64_t cl = 7;
        bool chunked = true;
        CHECK_EQ(parse(head, &cl, &chunked), NET_HEAD_OK);
        CHECK(cl == cases[i].want);
        CHECK(!chunked);
    }
    uint64_t cl;
    bool chunked;
    CHECK_EQ(parse("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
                   "Content-Length: 18446744073709551616\r\n\r\n", &cl, &chunked),
             NET_HEAD_BAD);
    CHECK_EQ(parse("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1e3\r\n\r\n", &cl, &chunked),
             NET_HEAD_BAD);
    CHECK_EQ(parse("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\n", &cl, &chunked),
             NET_HEAD_BAD);
}

static void test_host(void)
{
    uint64_t cl;
    bool chunked;
    CHECK_EQ(parse("GET / HTTP/1.1\r\n\r\n", &cl, &chunked), NET_HEAD_BAD);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", &cl, &chunked), NET_HEAD_BAD);
    CHECK_EQ(parse("GET / HTTP/1.0\r\n\r\n", &cl, &chunked), NET_HEAD_OK);
    CHECK(!req.keep_alive);
    CHECK_EQ(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &cl, &chunked), NET_HEAD_OK);
    CHECK(req.keep_alive);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", &cl,
                   &chunked),
             NET_HEAD_OK);
    CHECK(!req.keep_alive);
    CHECK_EQ(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &cl, &chunked),
             NET_HEAD_BAD);
}

/* Decodes body[0, len) whole; NET_CHUNK_DONE with *data bytes, or the verdict. */
static net_chunk_rc_t decode(const char *body, size_t len, uint64_t room, uint64_t *data)
{
    net_chunked_t c;
    memset(&c, 0, sizeof c);
    size_t pos = 0;
    *data = 0;
    for (;;) {
        size_t used, off, n;
        net_chunk_rc_t rc = net_chunked_step(&c, body + pos, len - pos, room - *data, &used, &off, &n);
        *data += n;
        pos += used;
        if (rc != NET_CHUNK_MORE) return rc;
        if (used == 0) return NET_CHUNK_MORE;
    }
}

static char *chunks(size_t count, size_t size, size_t *len)
{
    char *b = malloc(count * (size + 16) + 16), *p = b;
    for (size_t i = 0; i < count; i++) {
        p += sprintf(p, "%zx\r\n", size);
        memset(p, 'a', size);
        p += size;
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    p += sprintf(p, "0\r\n\r\n");
    *len = (size_t)(p - b);
    return b;
}

static void test_chunk_framing(void)
{
    size_t len;
    uint64_t data;
    /* a 40 MiB upload in 4 KiB chunks: 80 KB of framing, more than the flat allowance */
    char *b = chunks(10240, 4096, &len);
    CHECK_EQ(decode(b, len, 64u << 20, &data), NET_CHUNK_DONE);
    CHECK_EQ(data, (uint64_t)10240 * 4096);
    free(b);
    /* 20,000 one-byte chunks: 100 KB of framing for 20 KB of data */
    b = chunks(20000, 1, &len);
    CHECK_EQ(decode(b, len, 64u << 20, &data), NET_CHUNK_BAD);
    free(b);
    /* over the room: 413's verdict */
    b = chunks(2, 4096, &len);
    CHECK_EQ(decode(b, len, 6000, &data), NET_CHUNK_TOO_LARGE);
    free(b);
    /* strict line ends and extensions */
    CHECK_EQ(decode("2 ; ext=1\r\n{}\r\n0\r\n\r\n", 21, 100, &data), NET_CHUNK_DONE);
    CHECK_EQ(decode("2 x\r\n{}\r\n0\r\n\r\n", 15, 100, &data), NET_CHUNK_BAD);
    CHECK_EQ(decode("2\n{}\r\n0\r\n\r\n", 11, 100, &data), NET_CHUNK_BAD);
    CHECK_EQ(decode("2\r\n{}\n0\r\n\r\n", 11, 100, &data), NET_CHUNK_BAD);
}

int main(void)
{
    test_content_length();
    test_host();
    test_chunk_framing();
    return cet_test_done("test_net_http_parse");
}
