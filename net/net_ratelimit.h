/*
 * net_ratelimit.h: attempt limits (login, account creation, captcha, roster
 * lookup) by client address, account or both, in one fixed table of
 * CET_RATE_SLOTS buckets shared by all threads.
 *
 * Each bucket counts two fixed windows, the current one and the one before,
 * and a limit holds their sum: no span of one window length ever admits more
 * than the limit, and an exhausted key waits one to two windows. Buckets are keyed by SipHash-2-4 (libsodium's shorthash) of
 * kind and key under a key drawn at start, so nobody can compute which keys
 * share a bucket group. A key may live in either of two groups of
 * CET_RATE_GROUP_SLOTS slots. A new key takes a free or idle slot (nothing
 * counted in its current or previous window) and never one that still
 * counts: when both groups hold only live buckets, the attempt is refused
 * (the caller answers 429) rather than a limit forgotten. Thread-safe
 * (striped mutexes).
 *
 * Callers normalise keys first: an email through cet_email_normalize, a
 * client address through net_rate_client.
 */
#ifndef NET_RATELIMIT_H
#define NET_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * Counts one attempt of (bucket_kind, key) and returns true when it is within
 * max_per_min attempts in the last minute; false (nothing counted) when the
 * caller should answer 429: over the limit, or no bucket can be given to a
 * new key without dropping a live one. bucket_kind is a short constant
 * ("login-ip"); key at most CET_RATE_KEY_BYTES_MAX bytes (longer: refused).
 */
bool net_rate_allow(const char *bucket_kind, const char *key, unsigned max_per_min);
/** As net_rate_allow over a window of window_s seconds (one kind: one window). */
bool net_rate_allow_in(const char *bucket_kind, const char *key, unsigned max, unsigned window_s);
/**
 * Counts one event of (bucket_kind, key) whatever its count (a failure to be
 * limited later). Nothing is counted when no bucket is free (the count then
 * reads low: only for counts that restrict, never for ones that grant).
 */
void net_rate_hit(const char *bucket_kind, const char *key);
/** The count (this minute and the last) of (bucket_kind, key); 0 if unknown. Changes nothing. */
unsigned net_rate_count(const char *bucket_kind, const char *key);
/**
 * The key a client address is limited by, into out[cap] (cap >= 64): an IPv4
 * address as it is, an IPv6 address as its /64 prefix ("2001:db8:1:2::/64";
 * an IPv4-mapped one as the IPv4 address), anything else as it is.
 */
void net_rate_client(const char *client, char *out, size_t cap);
/** Tests: replaces the clock (unix ms); NULL restores cet_now_ms. */
void net_rate_set_clock(int64_t (*now_ms)(void));
/** Tests: forgets every bucket. */
void net_rate_reset(void);

#endif
