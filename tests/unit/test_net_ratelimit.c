/*
 * test_net_ratelimit.c: per-minute limits per (kind, key), sliding window,
 * independence of keys and kinds, and thread safety.
 */
#include <pthread.h>
#include <stdatomic.h>

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
    /* 30 s into the next minute, half of the 10 still count: 5 more fit */
    fake_ms += 60000 + 30000;
    int allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += net_rate_allow("k", "x", 10);
    CHECK_EQ(allowed, 5);
    /* two minutes on, all is forgotten */
    fake_ms += 120000;
    allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += net_rate_allow("k", "x", 10);
    CHECK_EQ(allowed, 10);
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

int main(void)
{
    net_rate_set_clock(fake_clock);
    test_limit();
    test_sliding();
    test_threads();
    return cet_test_done("test_net_ratelimit");
}
