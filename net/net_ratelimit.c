/*
 * net_ratelimit.c: sliding one-minute windows in a fixed table (see
 * net_ratelimit.h). Groups of CET_RATE_GROUP_SLOTS slots; a group is picked by XXH3 of
 * kind‖NUL‖key and guarded by one of CET_RATE_STRIPES_MAX mutexes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <xxhash.h>

#include "base/cet_base.h"
#include "base/cet_limits.h"
#include "net/net_ratelimit.h"


_Static_assert((CET_RATE_SLOTS & (CET_RATE_SLOTS - 1)) == 0, "slots: power of 2");

typedef struct rate_slot {
    uint64_t key;       /* XXH3 of kind and key; 0 with window 0: free */
    int64_t window;     /* index of the current minute */
    uint32_t cur, prev; /* attempts in the current and the previous minute */
} rate_slot_t;

static rate_slot_t slots[CET_RATE_SLOTS];
static pthread_mutex_t stripes[CET_RATE_STRIPES_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int64_t (*_Atomic clock_fn)(void); /* NULL: cet_now_ms */

static void rate_init(void)
{
    for (unsigned i = 0; i < CET_RATE_STRIPES_MAX; i++)
        pthread_mutex_init(&stripes[i], NULL);
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

static uint64_t key_hash(const char *kind, const char *key)
{
    char buf[CET_RATE_KEY_BYTES_MAX];
    size_t k = strnlen(kind, 32), n = strnlen(key, sizeof buf - k - 1);
    memcpy(buf, kind, k);
    buf[k] = 0;
    memcpy(buf + k + 1, key, n);
    uint64_t h = XXH3_64bits(buf, k + 1 + n);
    return h ? h : 1;
}

/* Rolls s forward to minute w. */
static void roll(rate_slot_t *s, int64_t w)
{
    if (s->window == w) return;
    s->prev = s->window == w - 1 ? s->cur : 0;
    s->cur = 0;
    s->window = w;
}

bool net_rate_allow(const char *bucket_kind, const char *key, unsigned per_min_max)
{
    pthread_once(&once, rate_init);
    int64_t (*fn)(void) = atomic_load(&clock_fn);
    int64_t now = fn ? fn() : cet_now_ms();
    int64_t w = now / CET_RATE_WINDOW_MS;
    int64_t into = now % CET_RATE_WINDOW_MS; /* ms into the current minute */
    uint64_t h = key_hash(bucket_kind, key ? key : "");
    unsigned g = (unsigned)(h & (CET_RATE_SLOTS / CET_RATE_GROUP_SLOTS - 1));
    pthread_mutex_t *mu = &stripes[g % CET_RATE_STRIPES_MAX];

    pthread_mutex_lock(mu);
    rate_slot_t *s = NULL, *oldest = &slots[g * CET_RATE_GROUP_SLOTS];
    for (unsigned i = 0; i < CET_RATE_GROUP_SLOTS && !s; i++) {
        rate_slot_t *c = &slots[g * CET_RATE_GROUP_SLOTS + i];
        if (c->key == h)
            s = c;
        else if (c->window < oldest->window)
            oldest = c;
    }
    if (!s) { /* new key: recycle the stalest slot of the group */
        s = oldest;
        memset(s, 0, sizeof *s);
        s->key = h;
        s->window = w;
    }
    roll(s, w);
    /* sliding estimate: the previous minute counts for the part still inside the window */
    uint64_t est = (uint64_t)s->prev * (uint64_t)(CET_RATE_WINDOW_MS - into) / CET_RATE_WINDOW_MS + s->cur;
    bool ok = est < per_min_max;
    if (ok) s->cur++;
    pthread_mutex_unlock(mu);
    return ok;
}
