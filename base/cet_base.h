/*
 * cet_base.h: small things every part of cetreg uses: clock, logging, asserts
 * that stay on in release builds, and the counting allocator over jemalloc.
 */
#ifndef CET_BASE_H
#define CET_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- clock ---- */
/** Wall clock, unix seconds / milliseconds. Tests may shift it with CET_CLOCK_OFFSET_S. */
int64_t cet_now_s(void);
int64_t cet_now_ms(void);
/** Monotonic nanoseconds, for latency. */
uint64_t cet_mono_ns(void);
/**
 * Formats unix seconds as RFC 3339 in China Standard Time ("2026-12-01T09:00:00+08:00").
 * out must hold 26 bytes. Returns out.
 */
char *cet_time_format(int64_t t, char out[26]);
/**
 * v in decimal, zero-padded to at least width digits (a campus code is 6, a school's 5),
 * as "%0*llu" does, and a NUL: the hot answers' numbers without printf. out must hold
 * the digits and the NUL (21 bytes always do; width at most 20). Returns the length.
 */
size_t cet_dec_format(char *out, uint64_t v, int width);
/** Parses RFC 3339 with an offset or Z ("2026-12-01T09:00:00+08:00"). 0 ok, -1 bad. */
int cet_time_parse(const char *s, int64_t *out);

/* ---- logging: one logfmt line per event on stderr, UTC ---- */
typedef enum cet_log_level { CET_LOG_DEBUG, CET_LOG_INFO, CET_LOG_WARN, CET_LOG_ERROR } cet_log_level_t;
void cet_log_set_level(cet_log_level_t lv);
/** "debug", "info", "warn", "error" → *out; 0 ok, -1 unknown. */
int cet_log_level_parse(const char *s, cet_log_level_t *out);
/** True when a line at lv would be written. */
bool cet_log_enabled(cet_log_level_t lv);
/**
 * Writes "ts=... level=... [comp=X] msg=..." where a formatted text "X: rest"
 * gives comp=X and msg=rest; msg is quoted and escaped (cet_log_quote).
 */
void cet_log(cet_log_level_t lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/**
 * Writes "ts=... level=... event=EVENT <fields>"; the caller formats fields as
 * logfmt pairs and quotes any value that is not its own (cet_log_quote).
 */
void cet_log_event(cet_log_level_t lv, const char *event, const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/**
 * The request the calling thread is working on: every line it logs until the
 * next call gets request_id=ID. id must outlive that; NULL clears it.
 */
void cet_log_set_request_id(const char *id);
/**
 * s as a logfmt value into out[cap]: as is when it has no space, quote, '=',
 * backslash or control byte, else in double quotes with \" \\ \n \xNN escapes
 * (cut to fit). Returns the length written.
 */
size_t cet_log_quote(char *out, size_t cap, const char *s);
#define CET_INFO(...) cet_log(CET_LOG_INFO, __VA_ARGS__)
#define CET_WARN(...) cet_log(CET_LOG_WARN, __VA_ARGS__)
#define CET_ERROR(...) cet_log(CET_LOG_ERROR, __VA_ARGS__)
/** Reopens stderr onto the file set by cet_log_set_file (SIGHUP). */
void cet_log_set_file(const char *path);
void cet_log_reopen(void);

/* ---- asserts that stay on: context first, then abort ---- */
#define CET_ASSERT(cond)                                                                    \
    do {                                                                                    \
        if (__builtin_expect(!(cond), 0)) cet_assert_fail(#cond, __FILE__, __LINE__);       \
    } while (0)
_Noreturn void cet_assert_fail(const char *what, const char *file, int line);
/*
 * An assert with context, like Redis's serverAssertWithInfo: on failure it
 * logs the condition, the place and a printf-formatted account of the state
 * it was about (the op, the offer, the counts), then aborts. On in release.
 */
#define CET_ASSERT_INFO(cond, ...)                                                          \
    do {                                                                                    \
        if (__builtin_expect(!(cond), 0))                                                   \
            cet_assert_info_fail(#cond, __FILE__, __LINE__, __VA_ARGS__);                   \
    } while (0)
_Noreturn void cet_assert_info_fail(const char *what, const char *file, int line, const char *fmt,
                                    ...) __attribute__((format(printf, 4, 5)));

/* ---- allocation: jemalloc underneath, counted ---- */
/** malloc that never returns NULL (logs and aborts on exhaustion: not a client's doing). */
void *cet_malloc(size_t n);
void *cet_calloc(size_t n, size_t size);
void *cet_realloc(void *p, size_t n);
char *cet_strdup(const char *s);
void cet_free(void *p);
/** Bytes currently allocated through cet_*; and jemalloc's stats (0 if unavailable). */
size_t cet_alloc_live_bytes(void);
typedef struct cet_mem_stats {
    size_t allocated, active, resident, mapped;
} cet_mem_stats_t;
int cet_mem_stats(cet_mem_stats_t *out);

/* ---- small string helpers ---- */
/** Copies src into dst[cap] with truncation at a UTF-8 boundary; always NUL-terminates. */
void cet_strlcpy(char *dst, const char *src, size_t cap);
/** Lower-case hex of n bytes into out (2n+1). */
void cet_hex(char *out, const uint8_t *in, size_t n);
/** Parses 2n hex chars into n bytes; 0 ok, -1 bad. */
int cet_unhex(uint8_t *out, const char *in, size_t n);

#endif
