/*
 * net_captcha.h: image challenges for account creation, login and recovery.
 *
 * A challenge is CET_CAPTCHA_CHARS characters from an alphabet without the
 * look-alikes 0/O/1/I, drawn as an SVG (rotated glyphs, noise lines and dots)
 * and returned as a data URI. Answers live in one fixed table of
 * CET_CAPTCHA_SLOTS entries shared by all threads (striped mutexes, slot from
 * XXH3 of the id) for CET_CAPTCHA_TTL_S. Under pressure a new challenge may
 * evict an old one: its holder then gets captcha_invalid and asks again.
 * Thread-safe throughout.
 */
#ifndef NET_CAPTCHA_H
#define NET_CAPTCHA_H

#include <stdbool.h>
#include <stdint.h>

#include "base/cet_err.h"

/**
 * Creates a challenge. id_out receives 32 lower-case hex characters and a
 * NUL; *data_uri_out receives "data:image/svg+xml;base64,..." which the
 * caller frees with cet_free. Returns CET_E_OK (nothing can fail but memory,
 * which aborts).
 */
cet_err_t net_captcha_new(char id_out[33], char **data_uri_out);
/**
 * Checks answer for id, ignoring case and surrounding spaces. One use: the
 * challenge is consumed by any check, right or wrong. Returns false for an
 * unknown, expired or consumed id. Always true while the captcha is disabled.
 */
bool net_captcha_check(const char *id, const char *answer);
/** Turns checking on or off for the whole process (--captcha on|off). */
void net_captcha_set_enabled(bool on);
bool net_captcha_enabled(void);
/** Tests: replaces the clock (unix ms); NULL restores cet_now_ms. */
void net_captcha_set_clock(int64_t (*now_ms)(void));
/** Tests: the answer of a live challenge into out[CET_CAPTCHA_CHARS + 1]; false if none. */
bool net_captcha_peek(const char *id, char *out);

#endif
