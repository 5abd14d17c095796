/*
 * test_net_captcha.c: challenges are PNG data URIs that carry no answer,
 * one-use, case-insensitive, expire, avoid look-alike characters, survive
 * threads; a flood from one client never evicts another client's challenge;
 * an empty ready ring is a 503, not a render on the caller's thread. Prints
 * what a render and an issue cost.
 */
#include <ctype.h>
#include <png.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "cet_test.h"
#include "base/cet_base.h"
#include "base/cet_limits.h"
#include "net/net_captcha.h"

#ifdef CET_SANITIZE
/* LeakSanitizer: fontconfig keeps its parsed config and the patterns behind
 * cairo's toy faces for the life of the process (once: a cache). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}
#endif

static int64_t fake_ms = 1800000000000LL;
static int64_t fake_clock(void)
{
    return fake_ms;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* net_captcha_new, waiting for the renderer when its ring is empty. */
static cet_err_t new_waiting(const char *client, char id[33], char **uri)
{
    for (int i = 0; i < 5000; i++) {
        cet_err_t e = net_captcha_new(client, id, uri);
        if (e != CET_E_OVERLOADED) return e;
        nap_ms(1);
    }
    return CET_E_OVERLOADED;
}

/* Is needle (n bytes) anywhere in hay (len bytes)? */
static bool contains(const void *hay, size_t len, const char *needle, size_t n)
{
    return memmem(hay, len, needle, n) != NULL;
}

static void test_render(void)
{
    for (int round = 0; round < 20; round++) {
        char id[33], answer[CET_CAPTCHA_CHARS + 1];
        char *uri = NULL;
        CHECK_EQ(new_waiting("10.0.0.1", id, &uri), CET_E_OK);
        CHECK_EQ(strlen(id), 32);
        const char *prefix = "data:image/png;base64,";
        CHECK(uri && strncmp(uri, prefix, strlen(prefix)) == 0);
        if (!uri) return;
        const char *b64 = uri + strlen(prefix);
        static unsigned char png[CET_CAPTCHA_PNG_BYTES_MAX];
        size_t png_len = 0;
        CHECK_EQ(sodium_base642bin(png, sizeof png, b64, strlen(b64), NULL, &png_len, NULL,
                                   sodium_base64_VARIANT_ORIGINAL),
                 0);
        CHECK(png_len > 1000);
        CHECK(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
        CHECK(net_captcha_peek(id, answer));
        /* the answer is pixels only: not in the image bytes, not as text anywhere
         * (upper or lower case) and no SVG or text chunk to read it from */
        char lower[CET_CAPTCHA_CHARS + 1];
        for (int i = 0; i <= CET_CAPTCHA_CHARS; i++)
            lower[i] = (char)tolower((unsigned char)answer[i]);
        CHECK(!contains(png, png_len, answer, CET_CAPTCHA_CHARS));
        CHECK(!contains(png, png_len, lower, CET_CAPTCHA_CHARS));
        CHECK(!contains(png, png_len, "tEXt", 4) && !contains(png, png_len, "<svg", 4));
        /* a real picture of the right size with ink on it */
        png_image img;
        memset(&img, 0, sizeof img);
        img.version = PNG_IMAGE_VERSION;
        CHECK(png_image_begin_read_from_memory(&img, png, png_len));
        CHECK_EQ(img.width, CET_CAPTCHA_WIDTH_PX);
        CHECK_EQ(img.height, CET_CAPTCHA_HEIGHT_PX);
        img.format = PNG_FORMAT_GRAY;
        static uint8_t px[CET_CAPTCHA_WIDTH_PX * CET_CAPTCHA_HEIGHT_PX];
        CHECK(png_image_finish_read(&img, NULL, px, 0, NULL));
        int dark = 0, light = 0;
        for (size_t i = 0; i < sizeof px; i++) {
            dark += px[i] < 110;
            light += px[i] > 200;
        }
        CHECK(dark > 300);   /* glyphs and noise */
        CHECK(light > 4000); /* background */
        png_image_free(&img);
        const char *sample = getenv("CET_CAPTCHA_SAMPLE"); /* a file to look at one in */
        if (round == 0 && sample) {
            FILE *f = fopen(sample, "wb");
            if (f) {
                fwrite(png, 1, png_len, f);
                fclose(f);
            }
        }
        cet_free(uri);
    }
}

static void test_alphabet_and_case(void)
{
    for (int round = 0; round < 200; round++) {
        char id[33], answer[CET_CAPTCHA_CHARS + 1];
        CHECK_EQ(net_captcha_new_bare("10.0.0.1", id), CET_E_OK);
        CHECK(net_captcha_peek(id, answer));
        CHECK_EQ(strlen(answer), CET_CAPTCHA_CHARS);
        CHECK(strpbrk(answer, "0OQ1IlL2Z5S6G8B") == NULL);
        for (int i = 0; i < CET_CAPTCHA_CHARS; i++)
            CHECK(isupper((unsigned char)answer[i]) || isdigit((unsigned char)answer[i]));
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
    net_captcha_new_bare("10.0.0.1", id);
    CHECK(net_captcha_peek(id, answer));
    CHECK(!net_captcha_check(id, "ZZZZZ")); /* Z is not in the alphabet */
    CHECK(!net_captcha_check(id, answer));  /* a wrong try consumed it */
    CHECK(!net_captcha_check("nope", answer));
    CHECK(!net_captcha_check(NULL, answer));
    CHECK(!net_captcha_check("0123456789abcdef0123456789abcdef", "ACDEF"));
    CHECK(!net_captcha_check("0123456789abcdef0123456789abcdeZ", "ACDEF"));
    net_captcha_new_bare("10.0.0.1", id);
    CHECK(!net_captcha_check(id, NULL));
    CHECK(!net_captcha_check(id, answer)); /* the NULL try consumed it */
    net_captcha_new_bare("10.0.0.1", id);
    CHECK(!net_captcha_check(id, ""));
}

static void test_expiry(void)
{
    net_captcha_set_clock(fake_clock);
    char id[33], answer[CET_CAPTCHA_CHARS + 1];
    net_captcha_new_bare("10.0.0.1", id);
    CHECK(net_captcha_peek(id, answer));
    fake_ms += (int64_t)CET_CAPTCHA_TTL_S * 1000 - 1;
    CHECK(net_captcha_check(id, answer)); /* just in time */
    net_captcha_new_bare("10.0.0.1", id);
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

/* One client asks for twice the table: it never evicts another client's live
 * challenge (it recycles its own), and once the table is all its own a third
 * client is refused (503) rather than anyone's challenge dropped. */
static void test_flood_cannot_evict_others(void)
{
    net_captcha_reset();
    net_captcha_set_clock(fake_clock);
    enum { VICTIMS = 64 };
    char vid[VICTIMS][33], vans[VICTIMS][CET_CAPTCHA_CHARS + 1];
    for (int i = 0; i < VICTIMS; i++) {
        char who[32];
        snprintf(who, sizeof who, "192.0.2.%d", i);
        CHECK_EQ(net_captcha_new_bare(who, vid[i]), CET_E_OK);
        CHECK(net_captcha_peek(vid[i], vans[i]));
    }
    long issued = 0, refused = 0;
    char id[33];
    for (long i = 0; i < 2L * CET_CAPTCHA_SLOTS; i++) {
        cet_err_t e = net_captcha_new_bare("203.0.113.66", id);
        issued += e == CET_E_OK;
        refused += e == CET_E_OVERLOADED;
    }
    /* the flood goes on being served, from its own slots */
    CHECK(issued > 2L * CET_CAPTCHA_SLOTS * 9 / 10);
    CHECK_EQ(issued + refused, 2L * CET_CAPTCHA_SLOTS);
    /* a newcomer finds no room: refused, nobody's challenge dropped for it */
    int newcomer_ok = 0;
    for (int i = 0; i < 100; i++)
        newcomer_ok += net_captcha_new_bare("198.51.100.7", id) == CET_E_OK;
    CHECK(newcomer_ok < 100);
    /* every victim still answers, once */
    for (int i = 0; i < VICTIMS; i++) {
        CHECK(net_captcha_check(vid[i], vans[i]));
        CHECK(!net_captcha_check(vid[i], vans[i]));
    }
    /* when the flood's challenges expire, everyone gets room again */
    fake_ms += (int64_t)CET_CAPTCHA_TTL_S * 1000;
    CHECK_EQ(net_captcha_new_bare("198.51.100.7", id), CET_E_OK);
    net_captcha_set_clock(NULL);
    net_captcha_reset();
}

/* Draining the ready ring is a refusal, never a render on this thread. */
static void test_empty_ring_is_overloaded(void)
{
    bool overloaded = false;
    char id[33];
    char *uri;
    for (int i = 0; i < 20 * CET_CAPTCHA_READY_MAX && !overloaded; i++) {
        cet_err_t e = net_captcha_new("10.9.9.9", id, &uri);
        if (e == CET_E_OVERLOADED) {
            overloaded = true;
            CHECK(uri == NULL);
        } else {
            CHECK_EQ(e, CET_E_OK);
            cet_free(uri);
        }
    }
    CHECK(overloaded);
    CHECK_EQ(new_waiting("10.9.9.9", id, &uri), CET_E_OK); /* the renderer catches up */
    cet_free(uri);
}

static void *hammer(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < 150; i++) {
        char id[33], answer[CET_CAPTCHA_CHARS + 1];
        char *uri = NULL;
        if (new_waiting("10.1.1.1", id, &uri) != CET_E_OK) {
            (*bad)++;
            continue;
        }
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

/* What a challenge costs: the renderer's time per image (off the core
 * loops), and an issue (what a core loop pays: a copy, the table, base64). */
static void test_costs(void)
{
    while (net_captcha_ready() < CET_CAPTCHA_READY_MAX)
        nap_ms(10);
    uint64_t n0, ns0;
    net_captcha_render_stats(&n0, &ns0);
    enum { ISSUES = 200 };
    uint64_t t0 = cet_mono_ns();
    for (int i = 0; i < ISSUES; i++) {
        char id[33];
        char *uri;
        CHECK_EQ(net_captcha_new("10.2.2.2", id, &uri), CET_E_OK);
        cet_free(uri);
    }
    double issue_us = (double)(cet_mono_ns() - t0) / 1e3 / ISSUES;
    while (net_captcha_ready() < CET_CAPTCHA_READY_MAX)
        nap_ms(10);
    uint64_t n, ns;
    net_captcha_render_stats(&n, &ns);
    double render_us = n ? (double)ns / 1e3 / (double)n : 0;
    printf("captcha: render %.0f us CPU per challenge (%llu rendered, renderer thread); "
           "issue %.1f us per challenge (caller's thread)\n",
           render_us, (unsigned long long)n, issue_us);
    CHECK(n + 1 >= n0 + ISSUES); /* the renderer may hold one rendered before the first count */
    CHECK(render_us > 0 && render_us < 20000);
    CHECK(issue_us < 2000);
}

int main(void)
{
    CHECK_EQ(net_captcha_start(), 0);
    test_render();
    test_alphabet_and_case();
    test_one_use();
    test_expiry();
    test_disabled();
    test_flood_cannot_evict_others();
    test_empty_ring_is_overloaded();
    test_threads();
    test_costs();
    net_captcha_stop();
    return cet_test_done("test_net_captcha");
}
