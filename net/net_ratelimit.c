/*
 * net_ratelimit.c: windowed counts in a fixed table (see net_ratelimit.h).
 *
 * A key's SipHash (keyed at start) picks two groups of CET_RATE_GROUP_SLOTS
 * slots; each group is guarded by one of CET_RATE_STRIPES_MAX mutexes, taken
 * in index order when the two groups need two. A new key takes a free or
 * idle slot; when the two groups hold only live buckets it takes over the
 * lightest one, and only if that one has counted at most
 * CET_RATE_EVICT_COUNT_MAX events: a flood from many addresses (one request
 * each) keeps recycling its own one-request buckets, so new clients are still
 * served, while a busy bucket (a client near its limit) is never taken over,
 * so nobody's count is reset. The hash is keyed with a secret, so no one can
 * aim keys at a victim's groups. A table full of busy buckets refuses new keys.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_limits.h"
#include "net/net_ratelimit.h"

_Static_assert((CET_RATE_SLOTS & (CET_RATE_SLOTS - 1)) == 0, "slots: power of 2");
_Static_assert(CET_RATE_SLOTS / CET_RATE_GROUP_SLOTS >= 2, "two groups at least");
#define GROUPS (CET_RATE_SLOTS / CET_RATE_GROUP_SLOTS)
#define KIND_BYTES_MAX 32

typedef struct rate_slot {
    uint64_t key;       /* SipHash of kind and key; 0: free */
    uint32_t window;    /* index of the current window (unix time / window) */
    uint32_t window_s;  /* the window's length */
    uint32_t cur, prev; /* events in the current and the previous window */
} rate_slot_t;

static rate_slot_t slots[CET_RATE_SLOTS];
static pthread_mutex_t stripes[CET_RATE_STRIPES_MAX];
static uint8_t hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int64_t (*_Atomic clock_fn)(void); /* NULL: cet_now_ms */

static void rate_init(void)
{
    if (sodium_init() < 0) CET_ASSERT(!"sodium_init failed");
    for (unsigned i = 0; i < CET_RATE_STRIPES_MAX; i++)
        pthread_mutex_init(&stripes[i], NULL);
    crypto_shorthash_keygen(hash_key);
}

void net_rate_set_clock(int64_t (*fn)(void))
{
    atomic_store(&clock_fn, fn);
}

void net_rate_reset(void)
{
    pthread_once(&once, rate_init);
    for (unsigned i = 0; i < CET_RATE_STRIPES_MAX; i++)
        pthread_mutex_lock(&stripes[i]);
    memset(slots, 0, sizeof slots);
    for (unsigned i = 0; i < CET_RATE_STRIPES_MAX; i++)
        pthread_mutex_unlock(&stripes[i]);
}

/* Keyed hash of kind‖NUL‖key into *h (never 0); false when key is too long. */
static bool key_hash(const char *kind, const char *key, uint64_t *h)
{
    char buf[KIND_BYTES_MAX + 1 + CET_RATE_KEY_BYTES_MAX];
    size_t k = strnlen(kind, KIND_BYTES_MAX), n = strlen(key);
    if (n > CET_RATE_KEY_BYTES_MAX) return false;
    memcpy(buf, kind, k);
    buf[k] = 0;
    memcpy(buf + k + 1, key, n);
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)buf, k + 1 + n, hash_key);
    memcpy(h, out, sizeof *h);
    if (*h == 0) *h = 1;
    return true;
}

/* The table, locked for one key: its two groups and their stripes. */
typedef struct rate_lookup {
    unsigned g[2];
    pthread_mutex_t *mu[2]; /* mu[1] NULL when both groups share a stripe */
} rate_lookup_t;

static void lookup_lock(uint64_t h, rate_lookup_t *l)
{
    l->g[0] = (unsigned)(h & (GROUPS - 1));
    l->g[1] = (unsigned)((h >> 32) & (GROUPS - 1));
    if (l->g[1] == l->g[0]) l->g[1] ^= 1;
    unsigned s0 = l->g[0] % CET_RATE_STRIPES_MAX, s1 = l->g[1] % CET_RATE_STRIPES_MAX;
    if (s0 > s1) {
        unsigned t = s0;
        s0 = s1;
        s1 = t;
    }
    l->mu[0] = &stripes[s0];
    l->mu[1] = s1 != s0 ? &stripes[s1] : NULL;
    pthread_mutex_lock(l->mu[0]);
    if (l->mu[1]) pthread_mutex_lock(l->mu[1]);
}

static void lookup_unlock(rate_lookup_t *l)
{
    if (l->mu[1]) pthread_mutex_unlock(l->mu[1]);
    pthread_mutex_unlock(l->mu[0]);
}

static rate_slot_t *group_slot(unsigned g, unsigned i)
{
    return &slots[(size_t)g * CET_RATE_GROUP_SLOTS + i];
}

/* Does s still count anything at unix time now_s? */
static bool slot_live(const rate_slot_t *s, int64_t now_s)
{
    if (s->key == 0 || s->window_s == 0) return false;
    int64_t w = now_s / s->window_s;
    return ((int64_t)s->window == w && (s->cur || s->prev)) ||
           ((int64_t)s->window + 1 == w && s->cur);
}

/* h's slot, or a fresh one for it (create), or NULL: not there, or no slot
 * of the two groups is free or idle. */
static rate_slot_t *slot_find(const rate_lookup_t *l, uint64_t h, int64_t now_s, bool create)
{
    for (int j = 0; j < 2; j++)
        for (unsigned i = 0; i < CET_RATE_GROUP_SLOTS; i++)
            if (group_slot(l->g[j], i)->key == h) return group_slot(l->g[j], i);
    if (!create) return NULL;
    rate_slot_t *lightest = NULL;
    for (int j = 0; j < 2; j++)
        for (unsigned i = 0; i < CET_RATE_GROUP_SLOTS; i++) {
            rate_slot_t *s = group_slot(l->g[j], i);
            if (!slot_live(s, now_s)) {
                lightest = s;
                goto take;
            }
            if (!lightest || (uint64_t)s->prev + s->cur < (uint64_t)lightest->prev + lightest->cur)
                lightest = s;
        }
    if (!lightest || (uint64_t)lightest->prev + lightest->cur > CET_RATE_EVICT_COUNT_MAX)
        return NULL;
take:
    memset(lightest, 0, sizeof *lightest);
    lightest->key = h;
    return lightest;
}

/* Rolls s forward to window w (of length window_s). */
static void roll(rate_slot_t *s, uint32_t w, uint32_t window_s)
{
    if (s->window_s != window_s) { /* a fresh slot */
        s->window_s = window_s;
        s->window = w;
        s->cur = s->prev = 0;
        return;
    }
    if (s->window == w) return;
    s->prev = s->window + 1 == w ? s->cur : 0;
    s->cur = 0;
    s->window = w;
}

/* The count a limit is held to: this window and the whole previous one. Any
 * span of one window length lies within two neighbouring windows, so it
 * never admits more than max; an exhausted key waits until its previous
 * window has passed (one to two windows). (Weighting the previous window by
 * its overlap, as a sliding estimate does, admits up to twice max in a span
 * that starts late in a window.) */
static uint64_t estimate(const rate_slot_t *s)
{
    return (uint64_t)s->prev + s->cur;
}

static int64_t clock_ms(void)
{
    int64_t (*fn)(void) = atomic_load(&clock_fn);
    return fn ? fn() : cet_now_ms();
}

/* The one path of allow and hit: count when under max (or always, max 0). */
static bool rate_count_one(const char *kind, const char *key, unsigned max, unsigned window_s)
{
    pthread_once(&once, rate_init);
    uint64_t h;
    if (window_s == 0 || !key_hash(kind, key ? key : "", &h)) return false;
    int64_t now = clock_ms();
    uint32_t w = (uint32_t)(now / ((int64_t)window_s * 1000));
    rate_lookup_t l;
    lookup_lock(h, &l);
    rate_slot_t *s = slot_find(&l, h, now / 1000, true);
    bool ok = false;
    if (s) {
        roll(s, w, window_s);
        ok = max == 0 || estimate(s) < max;
        if (ok && s->cur < UINT32_MAX) s->cur++;
    }
    lookup_unlock(&l);
    return ok;
}

bool net_rate_allow_in(const char *bucket_kind, const char *key, unsigned max, unsigned window_s)
{
    return max > 0 && rate_count_one(bucket_kind, key, max, window_s);
}

bool net_rate_allow(const char *bucket_kind, const char *key, unsigned max_per_min)
{
    return net_rate_allow_in(bucket_kind, key, max_per_min, CET_RATE_WINDOW_MS / 1000);
}

void net_rate_hit(const char *bucket_kind, const char *key)
{
    (void)rate_count_one(bucket_kind, key, 0, CET_RATE_WINDOW_MS / 1000);
}

unsigned net_rate_count(const char *bucket_kind, const char *key)
{
    pthread_once(&once, rate_init);
    uint64_t h;
    if (!key_hash(bucket_kind, key ? key : "", &h)) return 0;
    int64_t now = clock_ms();
    rate_lookup_t l;
    lookup_lock(h, &l);
    rate_slot_t *s = slot_find(&l, h, now / 1000, false);
    uint64_t est = 0;
    if (s) {
        rate_slot_t v = *s; /* roll a copy: counting changes nothing */
        roll(&v, (uint32_t)(now / ((int64_t)v.window_s * 1000)), v.window_s);
        est = estimate(&v);
    }
    lookup_unlock(&l);
    return est > UINT32_MAX ? UINT32_MAX : (unsigned)est;
}

void net_rate_client(const char *client, char *out, size_t cap)
{
    uint8_t a[16];
    const char *c = client ? client : "";
    if (inet_pton(AF_INET6, c, a) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        char text[INET6_ADDRSTRLEN];
        if (memcmp(a, mapped, sizeof mapped) == 0) {
            inet_ntop(AF_INET, a + 12, text, sizeof text);
            cet_strlcpy(out, text, cap);
            return;
        }
        memset(a + 8, 0, 8);
        inet_ntop(AF_INET6, a, text, sizeof text);
        snprintf(out, cap, "%s/64", text);
        return;
    }
    cet_strlcpy(out, c, cap);
}
