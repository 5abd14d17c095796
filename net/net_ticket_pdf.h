/*
 * net_ticket_pdf.h: admission tickets (准考证) as PDF, one A4 page per ticket.
 *
 * A pure function of its input: ticket data in, PDF bytes out (to a callback
 * or into one buffer). Drawn with cairo's PDF surface and pango in the CJK
 * font NET_TICKET_FONT_FAMILY (Debian fonts-wqy-microhei, found through
 * fontconfig); the QR code of the ticket number comes from libqrencode. The
 * same input gives the same bytes (the PDF's dates are fixed), so a rendered
 * ticket can be kept and served again.
 *
 * Each page shows: the title, the sitting, the candidate's name, ID type and
 * masked ID number, school, subject, the 15-digit ticket number, exam date and
 * time, campus, room and seat, a photo box, the QR code of the ticket number,
 * and the rules for candidates (考生须知).
 *
 * Threads: every function may run on any thread, concurrently, and is meant
 * for the worker pool (a page costs milliseconds: never on a core loop). What
 * that rests on:
 *   - cairo objects (surface, cairo_t) are made per call and never shared;
 *     cairo's own font caches are locked inside cairo;
 *   - pango >= 1.32.6 keeps one default PangoCairoFontMap per thread
 *     (pango_cairo_font_map_get_default), and the PangoContext and layouts are
 *     made per call; so no pango object is shared between threads, and each
 *     worker thread keeps its fonts loaded between calls;
 *   - fontconfig >= 2.10.91 is thread-safe (Debian 12 has 2.14);
 *   - libqrencode is thread-safe when built with pthreads (Debian's links
 *     libpthread; its header warns only for builds without).
 */
#ifndef NET_TICKET_PDF_H
#define NET_TICKET_PDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cet_limits.h"

/* The limits of the PDF tickets (NET_TICKET_*) are in base/cet_limits.h. */

/* The font every ticket is drawn in (fontconfig family name). */
#define NET_TICKET_FONT_FAMILY "WenQuanYi Micro Hei"

typedef enum net_ticket_err {
    NET_TICKET_OK = 0,
    NET_TICKET_E_BAD_TICKET = 1, /* a ticket number that is not 15 digits, or room/seat 0 */
    NET_TICKET_E_BAD_TEXT = 2,   /* a text field that is not valid UTF-8 (or not terminated) */
    NET_TICKET_E_COUNT = 3,      /* no tickets, or more than NET_TICKET_PDF_TICKETS_MAX */
    NET_TICKET_E_TOO_LARGE = 4,  /* the PDF would pass NET_TICKET_PDF_BYTES_MAX */
    NET_TICKET_E_WRITE = 5,      /* the write callback failed */
    NET_TICKET_E_CAIRO = 6       /* cairo or libqrencode failed (out of memory): internal */
} net_ticket_err_t;

/** What one ticket shows. Fixed arrays, so a job can be copied to a worker as is. */
typedef struct net_ticket {
    char sitting_name[NET_TICKET_TEXT_BYTES]; /* 2026年下半年CET考试 */
    char name[NET_TICKET_TEXT_BYTES];         /* the candidate's name, in full */
    char id_type[NET_TICKET_TEXT_BYTES];      /* 居民身份证, 护照, ... */
    char id_masked[NET_TICKET_TEXT_BYTES];    /* masked by the caller (eng_mask_id) */
    char school[NET_TICKET_TEXT_BYTES];       /* (99101)测试学校 */
    char subject[NET_TICKET_TEXT_BYTES];      /* 英语四级笔试 */
    char exam_date[NET_TICKET_TEXT_BYTES];    /* 2026年12月19日 */
    char exam_time[NET_TICKET_TEXT_BYTES];    /* 09:00-11:20 (an oral one: its slot) */
    char campus[NET_TICKET_TEXT_BYTES];       /* (991010)测试校区 */
    char ticket[CET_TICKET_DIGITS + 1];       /* the 15-digit number */
    uint16_t room;                            /* 1..NET_TICKET_ROOM_MAX */
    uint8_t seat;                             /* 1..NET_TICKET_SEAT_MAX */
    bool oral;                                /* an oral subject: its own rule on the page */
} net_ticket_t;

/** Receives the PDF in pieces, in order. Return 0 to go on, anything else to stop. */
typedef int (*net_ticket_write_cb)(void *user, const uint8_t *data, size_t len);

/**
 * Checks that fontconfig resolves NET_TICKET_FONT_FAMILY to an installed font
 * that has Chinese glyphs. Writes the font file's path into path[cap] (when
 * path is not NULL). Returns true when found. cetd calls it at start and
 * refuses to start without it; any thread.
 */
bool net_ticket_pdf_font_check(char *path, size_t cap);

/**
 * Renders n tickets as one PDF, one A4 page each in the order given, and
 * hands the bytes to write_cb (on the calling thread, before it returns).
 * Returns NET_TICKET_OK, NET_TICKET_E_COUNT (n is 0 or too large),
 * NET_TICKET_E_BAD_TICKET / NET_TICKET_E_BAD_TEXT (checked for every ticket
 * before anything is written), NET_TICKET_E_WRITE (write_cb refused; the
 * bytes written so far are not a PDF), NET_TICKET_E_CAIRO. Any thread.
 */
net_ticket_err_t net_ticket_pdf_write(const net_ticket_t *tickets, size_t n,
                                      net_ticket_write_cb write_cb, void *user);

/**
 * net_ticket_pdf_write into one buffer: *pdf (from cet_malloc, the caller
 * frees it with cet_free) and *len. On an error *pdf is NULL and *len 0;
 * NET_TICKET_E_TOO_LARGE when it passes NET_TICKET_PDF_BYTES_MAX. Any thread.
 */
net_ticket_err_t net_ticket_pdf_render(const net_ticket_t *tickets, size_t n, uint8_t **pdf,
                                       size_t *len);

/** A short English name of e ("bad_ticket", ...), for logs; never NULL. */
const char *net_ticket_err_name(net_ticket_err_t e);

#endif
