/*
 * test_net_ratelimit.c: per-minute limits per (kind, key), never more in any 60 s,
 * independence of keys and kinds, thread safety; and, since the hash key is
 * secret and colliding keys cannot be computed, structurally: a flood of
 * one-request keys recycles its own buckets, a table full of busy buckets
 * refuses new keys and never resets a busy one, and frees
 * nothing until a bucket has gone idle. Client keys group IPv6 by /64.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cet_test.h"
#include "base/cet_limits.h"
#include "net/net_ratelimit.h"

static _Atomic int64_t fake_ms = 1800000000000LL; /* a whole minute */
static int64_t fake_clock(void)
{
    return fake_ms;
}

static void test_limit(void)
{
    net_rate_reset();
    for (int i = 0; i < CET_LOGIN_PER_MIN_MAX; i++)
        CHECK(net_rate_allow("login_ip", "10.0.0.1", CET_LOGIN_PER_MIN_MAX));
    CHECK(!net_rate_allow("login_ip", "10.0.0.1", CET_LOGIN_PER_MIN_MAX));
    CHECK(!net_rate_allow("login_ip", "10.0.0.1", CET_LOGIN_PER_MIN_MAX));
    /* other key, other kind: independent */
    CHECK(net_rate_allow("login_ip", "10.0.0.2", CET_LOGIN_PER_MIN_MAX));
    CHECK(net_rate_allow("login_email", "10.0.0.1", CET_LOGIN_PER_MIN_MAX));
    /* kind and key do not run into each other */
    for (int i = 0; i < 3; i++)
        CHECK(net_rate_allow("ab", "c", 3));
    CHECK(!net_rate_allow("ab", "c", 3));
    CHECK(net_rate_allow("a", "bc", 3));
}

static void test_sliding(void)
{
    net_rate_reset();
    fake_ms = 1800000000000LL;
    for (int i = 0; i < 10; i++)
        CHECK(net_rate_allow("k", "x", 10));
    CHECK(!net_rate_allow("k", "x", 10));
    /* 59 s into the next minute the 10 still count: any 60 s admit at most 10 */
    fake_ms += 60000 + 59000;
    int allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += net_rate_allow("k", "x", 10);
    CHECK_EQ(allowed, 0);
    /* the minute after, they are out of the count: 10 more */
    fake_ms += 2000;
    for (int i = 0; i < 20; i++)
        allowed += net_rate_allow("k", "x", 10);
    CHECK_EQ(allowed, 10);
    /* two minutes on, all is forgotten */
    fake_ms += 120000;
    allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += net_rate_allow("k", "x", 10);
    CHECK_EQ(allowed, 10);
    /* a flood starting mid-minute: at most 10 in the 60 s that follow */
    net_rate_reset();
    fake_ms = 1800000000000LL + 30000;
    allowed = 0;
    for (int t = 0; t < 60; t++, fake_ms += 1000)
        for (int i = 0; i < 5; i++)
            allowed += net_rate_allow("mid", "x", 10);
    CHECK_EQ(allowed, 10);
    /* crossing into a new minute frees no try: the minute before still counts in full */
    net_rate_reset();
    fake_ms = 1800000000000LL + CET_RATE_WINDOW_MS - 10;
    for (int i = 0; i < 10; i++)
        CHECK(net_rate_allow("edge", "x", 10));
    fake_ms += 20;
    CHECK(!net_rate_allow("edge", "x", 10));
}

static void *hammer(void *arg)
{
    int *n = arg;
    for (int i = 0; i < 1000; i++)
        *n += net_rate_allow("thr", "shared", 500);
    return NULL;
}

static void test_threads(void)
{
    net_rate_reset();
    pthread_t t[4];
    int n[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, &n[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(n[0] + n[1] + n[2] + n[3], 500); /* exact under contention */
}

/* A busy key at its limit, a key part-way, then twice the table of fresh
 * one-request keys (a flood from many addresses): the flood recycles its own
 * one-request buckets, so fresh keys and newcomers are still admitted, and
 * neither busy bucket moves. */
static void test_full_table_keeps_busy_keys(void)
{
    net_rate_reset();
    fake_ms = 1800000000000LL;
    for (int i = 0; i < 100; i++)
        CHECK(net_rate_allow("login-ip", "10.0.0.1", 100));
    CHECK(!net_rate_allow("login-ip", "10.0.0.1", 100));
    for (int i = 0; i < 3; i++)
        CHECK(net_rate_allow("login-ip", "10.0.0.2", 100));
    long fresh_ok = 0;
    char key[32];
    for (long i = 0; i < 2L * CET_RATE_SLOTS; i++) {
        snprintf(key, sizeof key, "k%ld", i);
        fresh_ok += net_rate_allow("login-ip", key, 100);
        if (i % 4096 == 0) CHECK(!net_rate_allow("login-ip", "10.0.0.1", 100)); /* all along */
    }
    CHECK_EQ(fresh_ok, 2L * CET_RATE_SLOTS); /* one-request buckets make room */
    CHECK_EQ(net_rate_count("login-ip", "10.0.0.1"), 100);
    CHECK(!net_rate_allow("login-ip", "10.0.0.1", 100));
    CHECK_EQ(net_rate_count("login-ip", "10.0.0.2"), 3);
    int newcomer = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "new%d", i);
        newcomer += net_rate_allow("login-ip", key, 100);
    }
    CHECK_EQ(newcomer, 100);
    /* the next minute everything still counts (the previous minute weighs in) */
    fake_ms += CET_RATE_WINDOW_MS;
    CHECK(!net_rate_allow("login-ip", "10.0.0.1", 100));
    CHECK_EQ(net_rate_count("login-ip", "10.0.0.2"), 3); /* the minute before, all inside */
    net_rate_reset();
}

/* A table full of busy buckets (two requests each): a new key is refused,
 * never given someone's bucket, until buckets go idle. */
static void test_busy_table_refuses_newcomers(void)
{
    net_rate_reset();
    fake_ms = 1800000000000LL;
    char key[32];
    for (long i = 0; i < 2L * CET_RATE_SLOTS; i++) {
        snprintf(key, sizeof key, "b%ld", i);
        if (net_rate_allow("login-ip", key, 100)) net_rate_allow("login-ip", key, 100);
    }
    CHECK(!net_rate_allow("login-ip", "b0", 100) || net_rate_count("login-ip", "b0") >= 2);
    int newcomer = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "new%d", i);
        newcomer += net_rate_allow("login-ip", key, 100);
    }
    CHECK(newcomer < 100);
    /* two minutes on, every bucket is idle and may be reused */
    fake_ms += 2 * CET_RATE_WINDOW_MS;
    newcomer = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "fresh%d", i);
        newcomer += net_rate_allow("login-ip", key, 100);
    }
    CHECK_EQ(newcomer, 100);
    net_rate_reset();
}

/* hit counts past any limit; count reads without changing. */
static void test_hit_and_count(void)
{
    net_rate_reset();
    fake_ms = 1800000000000LL;
    CHECK_EQ(net_rate_count("fail", "u"), 0);
    for (int i = 0; i < 25; i++)
        net_rate_hit("fail", "u");
    CHECK_EQ(net_rate_count("fail", "u"), 25);
    CHECK_EQ(net_rate_count("fail", "u"), 25);
    CHECK_EQ(net_rate_count("fail", "v"), 0);
    CHECK(!net_rate_allow("fail", "u", 25));
    fake_ms += 2 * CET_RATE_WINDOW_MS;
    CHECK_EQ(net_rate_count("fail", "u"), 0);
    /* a longer window: 5 in 300 s */
    for (int i = 0; i < 5; i++)
        CHECK(net_rate_allow_in("live", "c", 5, 300));
    CHECK(!net_rate_allow_in("live", "c", 5, 300));
    fake_ms += 2 * CET_RATE_WINDOW_MS; /* two minutes: still inside the window */
    CHECK(!net_rate_allow_in("live", "c", 5, 300));
    fake_ms += 2 * 300 * 1000;
    CHECK(net_rate_allow_in("live", "c", 5, 300));
    /* a key longer than the table takes is refused, never truncated into another */
    char big[CET_RATE_KEY_BYTES_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(!net_rate_allow("long", big, 100));
    CHECK(!net_rate_allow("x", "y", 0));
}

static void test_client_key(void)
{
    char out[64];
    net_rate_client("192.0.2.7", out, sizeof out);
    CHECK(strcmp(out, "192.0.2.7") == 0);
    net_rate_client("2001:db8:1:2:aaaa:bbbb:cccc:dddd", out, sizeof out);
    CHECK(strcmp(out, "2001:db8:1:2::/64") == 0);
    net_rate_client("2001:db8:1:2::1", out, sizeof out);
    CHECK(strcmp(out, "2001:db8:1:2::/64") == 0); /* one /64: one client */
    net_rate_client("::ffff:192.0.2.7", out, sizeof out);
    CHECK(strcmp(out, "192.0.2.7") == 0);
    net_rate_client("unix", out, sizeof out);
    CHECK(strcmp(out, "unix") == 0);
}

int main(void)
{
    net_rate_set_clock(fake_clock);
    test_limit();
    test_sliding();
    test_threads();
    test_full_table_keeps_busy_keys();
    test_busy_table_refuses_newcomers();
    test_hit_and_count();
    test_client_key();
    return cet_test_done("test_net_ratelimit");
}
