/*
 * net_captcha.h: image challenges for account creation and candidate and staff login.
 *
 * A challenge is CET_CAPTCHA_CHARS characters from an alphabet without
 * look-alikes (no 0/O/Q, 1/I/L, 2/Z, 5/S, 6/G, 8/B), drawn with cairo into a
 * CET_CAPTCHA_WIDTH_PX x CET_CAPTCHA_HEIGHT_PX PNG: each glyph in one of
 * several faces and weights, rotated, sheared, scaled and offset; the whole
 * picture warped by two sine waves; curves, an arc and dots drawn across the
 * glyphs and background-coloured curves cut through them. The answer exists
 * only as pixels: nothing in the reply carries it.
 *
 * Rendering costs 0.5 to 0.8 ms of CPU, too much for a core loop, so one
 * renderer thread keeps a ring of CET_CAPTCHA_READY_MAX rendered challenges
 * and net_captcha_new only takes one (a mutex and a copy). An empty ring is
 * CET_E_OVERLOADED (503, retry), never a render on the caller's thread.
 *
 * Issued challenges live in one fixed table of CET_CAPTCHA_SLOTS entries
 * (striped mutexes) for CET_CAPTCHA_TTL_S and are consumed by the first check,
 * right or wrong. A new challenge takes a free or expired slot, or else one
 * of its own client's live ones; never another client's live challenge. A
 * table full of other clients' live challenges is CET_E_OVERLOADED. How many
 * challenges one client may ask for is the caller's rate limit.
 * Thread-safe throughout.
 */
#ifndef NET_CAPTCHA_H
#define NET_CAPTCHA_H

#include <stdbool.h>
#include <stdint.h>

#include "base/cet_err.h"

/**
 * Builds the glyphs, renders up to CET_CAPTCHA_PREFILL_MAX challenges and
 * starts the renderer thread. Call once from the main thread before serving;
 * net_captcha_new starts it on first use otherwise (tests). Returns 0, or
 * CET_FAILED (logged: no usable font, or the renderer thread cannot start).
 */
int net_captcha_start(void);
/** Stops and joins the renderer thread (at exit; no-op if never started). */
void net_captcha_stop(void);
/**
 * Issues a challenge to client (the rate-limit key of the asking address,
 * see net_rate_client). id_out receives 32 lower-case hex characters and a
 * NUL; *data_uri_out receives "data:image/png;base64,..." which the caller
 * frees with cet_free. Returns CET_E_OK; CET_E_OVERLOADED when no rendered
 * challenge is ready or the table is full of other clients' live challenges
 * (nothing issued, *data_uri_out NULL).
 */
cet_err_t net_captcha_new(const char *client, char id_out[33], char **data_uri_out);
/**
 * Checks answer for id, ignoring case and surrounding spaces. One use: the
 * challenge is consumed by any check, right or wrong. Returns false for an
 * unknown, expired or consumed id. Always true while the captcha is disabled.
 */
bool net_captcha_check(const char *id, const char *answer);
/** Turns checking on or off for the whole process (--captcha on|off). */
void net_captcha_set_enabled(bool on);
bool net_captcha_enabled(void);
/**
 * Tests only (cetd --captcha-answers FILE): appends "<id> <answer>\n" for each
 * issued challenge to path, so that a test can pass the captcha without
 * reading the image. Returns 0 or an errno. NULL closes it.
 */
int net_captcha_set_answer_log(const char *path);
/** Rendered challenges so far and the CPU time spent rendering them (ns). */
void net_captcha_render_stats(uint64_t *rendered, uint64_t *render_ns);
/** Rendered challenges waiting to be issued. */
unsigned net_captcha_ready(void);
/** Tests: replaces the clock (unix ms); NULL restores cet_now_ms. */
void net_captcha_set_clock(int64_t (*now_ms)(void));
/** Tests: the answer of a live challenge into out[CET_CAPTCHA_CHARS + 1]; false if none. */
bool net_captcha_peek(const char *id, char *out);
/** Tests: as net_captcha_new without an image (no renderer needed); read the answer with
 * net_captcha_peek. */
cet_err_t net_captcha_new_bare(const char *client, char id_out[33]);
/** Tests: empties the challenge table (the ready ring is kept). */
void net_captcha_reset(void);

#endif
