/*
 * test_net_captcha.c: challenges are one-use, case-insensitive, expire, avoid
 * look-alike characters, render as an SVG data URI, and survive threads.
 */
#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "cet_test.h"
#include "base/cet_base.h"
#include "base/cet_limits.h"
#include "net/net_captcha.h"

static int64_t fake_ms = 1800000000000LL;
static int64_t fake_clock(void)
{
    return fake_ms;
}

static void test_render(void)
{
    char id[33];
    char *uri = NULL;
    CHECK_EQ(net_captcha_new(id, &uri), CET_E_OK);
    CHECK_EQ(strlen(id), 32);
    const char *prefix = "data:image/svg+xml;base64,";
    CHECK(uri && strncmp(uri, prefix, strlen(prefix)) == 0);
    const char *b64 = uri + strlen(prefix);
    static unsigned char svg[8192];
    size_t svg_len = 0;
    CHECK_EQ(sodium_base642bin(svg, sizeof svg - 1, b64, strlen(b64), NULL, &svg_len, NULL,
                               sodium_base64_VARIANT_ORIGINAL),
             0);
    svg[svg_len] = 0;
    CHECK(strncmp((char *)svg, "<svg ", 5) == 0);
    CHECK(strstr((char *)svg, "</svg>") != NULL);
    CHECK(strstr((char *)svg, "rotate(") != NULL);
    CHECK(strstr((char *)svg, "<line") != NULL);
    char answer[CET_CAPTCHA_CHARS + 1];
    CHECK(net_captcha_peek(id, answer));
    for (int i = 0; i < CET_CAPTCHA_CHARS; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, ">%c<", answer[i]);
        CHECK(strstr((char *)svg, tag) != NULL); /* each glyph is drawn */
    }
    cet_free(uri);
}

static void test_alphabet_and_case(void)
{
    for (int round = 0; round < 200; round++) {
        char id[33], answer[CET_CAPTCHA_CHARS + 1];
        char *uri;
        net_captcha_new(id, &uri);
        cet_free(uri);
        CHECK(net_captcha_peek(id, answer));
        CHECK_EQ(strlen(answer), CET_CAPTCHA_CHARS);
        CHECK(strpbrk(answer, "0O1I") == NULL);
        /* lower case with spaces around is accepted once */
        char lower[16];
        snprintf(lower, sizeof lower, " %s ", answer);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        CHECK(net_captcha_check(id, lower));
        CHECK(!net_captcha_check(id, answer)); /* consumed */
    }
}

static void test_one_use(void)
{
    char id[33], answer[CET_CAPTCHA_CHARS + 1];
    char *uri;
    net_captcha_new(id, &uri);
    cet_free(uri);
    CHECK(net_captcha_peek(id, answer));
    CHECK(!net_captcha_check(id, "ZZZZZ") || strcmp(answer, "ZZZZZ") == 0);
    CHECK(!net_captcha_check(id, answer)); /* a wrong try consumed it */
    CHECK(!net_captcha_check("nope", answer));
    CHECK(!net_captcha_check(NULL, answer));
    CHECK(!net_captcha_check("0123456789abcdef0123456789abcdef", "ABCDE"));
    net_captcha_new(id, &uri);
    cet_free(uri);
    CHECK(!net_captcha_check(id, NULL));
    CHECK(!net_captcha_check(id, ""));
}

static void test_expiry(void)
{
    net_captcha_set_clock(fake_clock);
    char id[33], answer[CET_CAPTCHA_CHARS + 1];
    char *uri;
    net_captcha_new(id, &uri);
    cet_free(uri);
    CHECK(net_captcha_peek(id, answer));
    fake_ms += (int64_t)CET_CAPTCHA_TTL_S * 1000 - 1;
    CHECK(net_captcha_check(id, answer)); /* just in time */
    net_captcha_new(id, &uri);
    cet_free(uri);
    CHECK(net_captcha_peek(id, answer));
    fake_ms += (int64_t)CET_CAPTCHA_TTL_S * 1000;
    CHECK(!net_captcha_check(id, answer)); /* expired */
    net_captcha_set_clock(NULL);
}

static void test_disabled(void)
{
    net_captcha_set_enabled(false);
    CHECK(!net_captcha_enabled());
    CHECK(net_captcha_check("whatever", "x"));
    CHECK(net_captcha_check(NULL, NULL));
    net_captcha_set_enabled(true);
    CHECK(!net_captcha_check("whatever", "x"));
}

static void *hammer(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < 2000; i++) {
        char id[33], answer[CET_CAPTCHA_CHARS + 1];
        char *uri;
        net_captcha_new(id, &uri);
        cet_free(uri);
        if (!net_captcha_peek(id, answer) || !net_captcha_check(id, answer)) (*bad)++;
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[4];
    int bad[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, &bad[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bad[i], 0);
}

int main(void)
{
    test_render();
    test_alphabet_and_case();
    test_one_use();
    test_expiry();
    test_disabled();
    test_threads();
    return cet_test_done("test_net_captcha");
}
