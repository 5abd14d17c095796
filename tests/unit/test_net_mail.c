/*
 * Unit tests of net/net_mail.c's composer and option checks: the message a
 * stored mail becomes (headers, RFC 2047 subject, base64 body, the stable
 * Message-ID) and the refusals of bad --smtp-url / --mail-from.
 */
#include "net/net_mail.h"

#include <sodium.h>

#include "base/cet_base.h"
#include "tests/unit/cet_test.h"

/* Decodes every base64 line after the blank line into out; returns its length. */
static size_t body_of(const char *msg, char *out, size_t cap)
{
    const char *p = strstr(msg, "\r\n\r\n");
    if (!p) return 0;
    p += 4;
    size_t n = 0;
    while (*p) {
        const char *e = strstr(p, "\r\n");
        if (!e) break;
        size_t got = 0;
        if (sodium_base642bin((unsigned char *)out + n, cap - n, p, (size_t)(e - p), NULL, &got,
                              NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
            return 0;
        n += got;
        p = e + 2;
    }
    out[n] = 0;
    return n;
}

/* The decoded text of every encoded word of the Subject: header. */
static void subject_of(const char *msg, char *out, size_t cap)
{
    const char *p = strstr(msg, "\r\nSubject: ");
    size_t n = 0;
    out[0] = 0;
    if (!p) return;
    const char *end = strstr(p + 2, "\r\nMessage-ID:");
    for (const char *w = strstr(p, "=?UTF-8?B?"); w && w < end; w = strstr(w, "=?UTF-8?B?")) {
        w += 10;
        const char *q = strstr(w, "?=");
        size_t got = 0;
        CHECK(q && (q - w) <= 75);
        sodium_base642bin((unsigned char *)out + n, cap - n - 1, w, (size_t)(q - w), NULL, &got,
                          NULL, sodium_base64_VARIANT_ORIGINAL);
        n += got;
        w = q + 2;
    }
    out[n] = 0;
}

static void test_compose(void)
{
    store_mail_t m;
    memset(&m, 0, sizeof m);
    m.id = 42;
    m.created = 1764547200; /* 2025-12-01T00:00:00Z = 08:00 +0800, a Monday */
    for (int i = 0; i < 8; i++)
        m.nonce[i] = (uint8_t)(0xa0 + i);
    cet_strlcpy(m.to, "ab@163.test", sizeof m.to);
    const char *subject = "【CET报名】重置通行证密码，这是一个很长很长很长很长的主题用来折行";
    char body[3000];
    snprintf(body, sizeof body, "您好：\n\n链接：https://cet.test/reset?token=%064d\n", 7);
    char msg[CET_MAIL_MESSAGE_BYTES_MAX];
    size_t n = net_mail_compose(&m, subject, body, "noreply@cet.test", msg, sizeof msg);
    CHECK(n > 0 && n == strlen(msg));
    CHECK(strstr(msg, "Date: Mon, 01 Dec 2025 08:00:00 +0800\r\n") == msg);
    CHECK(strstr(msg, "\r\nTo: <ab@163.test>\r\n") != NULL);
    CHECK(strstr(msg, "\r\nMessage-ID: <cetreg.42.a0a1a2a3a4a5a6a7@cet.test>\r\n") != NULL);
    CHECK(strstr(msg, "\r\nContent-Type: text/plain; charset=UTF-8\r\n") != NULL);
    CHECK(strstr(msg, "\r\nContent-Transfer-Encoding: base64\r\n") != NULL);
    CHECK(strstr(msg, " <noreply@cet.test>\r\n") != NULL);
    char got[4096];
    subject_of(msg, got, sizeof got);
    CHECK(strcmp(got, subject) == 0);
    CHECK(body_of(msg, got, sizeof got) == strlen(body));
    CHECK(strcmp(got, body) == 0);
    /* no line is longer than 78 characters */
    for (const char *p = msg, *e; (e = strstr(p, "\r\n")); p = e + 2)
        CHECK(e - p <= 78);
    /* the same mail composes to the same bytes (a resend is the same message) */
    char again[CET_MAIL_MESSAGE_BYTES_MAX];
    CHECK(net_mail_compose(&m, subject, body, "noreply@cet.test", again, sizeof again) == n);
    CHECK(memcmp(msg, again, n) == 0);
    /* too small a buffer: 0, never a cut message */
    CHECK(net_mail_compose(&m, subject, body, "noreply@cet.test", msg, 100) == 0);
}

static void test_options(void)
{
    char why[256];
    net_mail_options_t ok = {"smtp://127.0.0.1:2525", "noreply@cet.test", NULL};
    CHECK_EQ(net_mail_options_check(&ok, why, sizeof why), 0);
    net_mail_options_t tls = {"smtps://mail.example:465", "a@b.c", NULL};
    CHECK_EQ(net_mail_options_check(&tls, why, sizeof why), 0);
    net_mail_options_t none = {NULL, "a@b.c", NULL};
    net_mail_options_t no_ca = {"smtp://h:25", "a@b.c", "/nonexistent/ca.pem"};
    CHECK_EQ(net_mail_options_check(&no_ca, why, sizeof why), -1);
    CHECK_EQ(net_mail_options_check(&none, why, sizeof why), 0);
    net_mail_options_t http = {"http://x", "a@b.c", NULL};
    CHECK_EQ(net_mail_options_check(&http, why, sizeof why), -1);
    CHECK(strstr(why, "--smtp-url") != NULL);
    const char *bad_from[] = {"nobody",  "@x.cn", "a@", "a b@x.cn", "a@x.cn\r\nBcc: v@x.cn",
                              "<a@x.cn>"};
    for (size_t i = 0; i < sizeof bad_from / sizeof bad_from[0]; i++) {
        net_mail_options_t o = {NULL, bad_from[i], NULL};
        CHECK_EQ(net_mail_options_check(&o, why, sizeof why), -1);
    }
}

int main(void)
{
    if (sodium_init() < 0) return 2;
    test_compose();
    test_options();
    return cet_test_done("test_net_mail");
}
