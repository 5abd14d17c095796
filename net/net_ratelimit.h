/*
 * net_ratelimit.h: per-minute attempt limits (login, recovery) by IP and by
 * e-mail, in one fixed table of CET_RATE_SLOTS buckets shared by all threads.
 *
 * Each bucket is a sliding one-minute window estimated from two fixed windows
 * (the current minute and the one before, weighted by how much of it still
 * overlaps), keyed by XXH3 of kind and key. A full table recycles its oldest
 * nearby bucket, so a flood of distinct keys can reset someone's count but
 * never block a key that has not been used: the limit fails open, never
 * closed. Thread-safe (striped mutexes).
 */
#ifndef NET_RATELIMIT_H
#define NET_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/**
 * Counts one attempt of (bucket_kind, key) and returns true when it is within
 * per_min_max attempts in the last minute; false (and nothing counted) when
 * the caller should answer 429. bucket_kind is a short constant ("login_ip").
 */
bool net_rate_allow(const char *bucket_kind, const char *key, unsigned per_min_max);
/** Tests: replaces the clock (unix ms); NULL restores cet_now_ms. */
void net_rate_set_clock(int64_t (*now_ms)(void));
/** Tests: forgets every bucket. */
void net_rate_reset(void);

#endif
