/*
 * eng_arrange.h: room arrangement (考场编排) of one campus-subject and the
 * 15-digit admission ticket number (准考证号). Pure C: no LMDB, no libevent,
 * no clock; the caller reads the paid registrations and the campus's rooms in
 * one store txn, calls eng_arrange_run, and writes each room and seat back in
 * the same txn (registration.md §10, api.md "Admission tickets").
 *
 * The ticket number (registration.md §10):
 *
 *     campus(6) year(2) half(1) level(1) room(3) seat(2)     e.g. 991010 26 2 1 007 23
 *
 *   campus  the 6-digit campus code (school * 10 + n)
 *   year    the sitting's year mod 100; the sitting id is year * 10 + half
 *           (store_sitting_t.id, 20262 = 2026 second half) -> "26"
 *   half    1 = 上半年 (first half, June), 2 = 下半年 (second half, December)
 *   level   1 = a level-4 written subject (英语/日语/德语/俄语/法语四级笔试),
 *           2 = a level-6 written subject,
 *           3 = a level-4 oral subject (F 英语四级口试),
 *           4 = a level-6 oral subject (S 英语六级口试).
 *           1 and 2 are the digits real CET tickets carry; orals get their own
 *           digits because they share the campus's room numbers with the
 *           written exam on another day, and without them written English-4
 *           room 001 seat 01 and oral English-4 room 001 seat 01 would carry
 *           the same number.
 *   room    001..999, seat 01..99.
 *
 * Uniqueness: inside one run every (room, seat) is used once, so numbers are
 * unique per campus-subject. Subjects of the same level digit at one campus
 * (English-4 and Japanese-4 sit at the same time in the morning) must get
 * disjoint rooms: arrange them one after another in subject-code order and
 * pass the rooms earlier runs used in eng_arrange_in_t.rooms_taken.
 *
 * The order (deterministic: the output is a function of the set of inputs,
 * never of their order, so running it again gives the same seats):
 *   1. registrations are sorted by (slot, class, candidate key, reg id), where
 *      class = (school, department, class name);
 *   2. the k-th of a class of n is placed at the fraction (2k+1)/(2n) of the
 *      sequence, and the sequence is ordered by that fraction (ties: class
 *      order), so every class is spread evenly over all rooms and neighbouring
 *      seats differ in class whenever no class holds more than half of them;
 *   3. the sequence fills the rooms in room-number order, seat 1 upwards; an
 *      oral subject fills one slot after the other and every slot starts in a
 *      fresh room (a room holds one slot's candidates).
 *
 * Thread safety: every function here is a pure function of its arguments and
 * may run on any thread; concurrent calls share nothing.
 */
#ifndef ENG_ARRANGE_H
#define ENG_ARRANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cet_limits.h"

/* The limits of the arrangement (ENG_ARRANGE_*) are in base/cet_limits.h. */

/*
 * Errors of the arrangement. Stable codes for the API (eng_arrange_err_code);
 * the lead maps them into cet_err.h on merge: NOT_ENOUGH_SEATS and TOO_MANY
 * are 409 "not_enough_seats" (the school adds rooms and runs it again), the
 * others are a caller's bug or bad room data, 422 "invalid_field".
 */
typedef enum eng_arrange_err {
    ENG_ARRANGE_OK = 0,
    ENG_ARRANGE_E_NOT_ENOUGH_SEATS = 1, /* the rooms (or a slot's rooms) hold fewer seats */
    ENG_ARRANGE_E_TOO_MANY = 2,         /* more than ENG_ARRANGE_REGS_MAX registrations */
    ENG_ARRANGE_E_BAD_ROOM = 3,         /* room number outside 1..999, twice, or seats > 99 */
    ENG_ARRANGE_E_BAD_REG = 4,          /* reg id twice, NULL key, or a slot out of range */
    ENG_ARRANGE_E_BAD_SUBJECT = 5       /* campus, sitting or level out of range */
} eng_arrange_err_t;

/** One paid registration to seat. The strings are the caller's and are only read. */
typedef struct eng_arrange_reg {
    uint64_t reg_id;           /* the registration's id (store_reg_t.seq); unique in a run */
    const char *candidate_key; /* e.g. the ID number; not NULL; orders candidates of a class */
    uint32_t school;           /* the candidate's school code (class key, part 1) */
    const char *department;    /* 院系, may be NULL or "" (class key, part 2) */
    const char *class_name;    /* 班级, may be NULL or "" (class key, part 3) */
    uint8_t slot;              /* oral: time slot 1..ENG_ARRANGE_SLOTS_MAX; written: 0 */
} eng_arrange_reg_t;

/** One room of the campus. */
typedef struct eng_arrange_room {
    uint16_t number; /* 1..ENG_ARRANGE_ROOMS_MAX */
    uint8_t seats;   /* 1..ENG_ARRANGE_SEATS_MAX; 0 = ENG_ARRANGE_SEATS_DEFAULT */
} eng_arrange_room_t;

/** What is arranged. */
typedef struct eng_arrange_in {
    uint32_t campus;               /* 6-digit campus code, 100000..999999 */
    uint32_t sitting;              /* year * 10 + half (20262), year 2000..2099, half 1 or 2 */
    uint8_t level;                 /* 4 or 6 */
    bool oral;                     /* an oral subject: registrations carry slots */
    const eng_arrange_reg_t *regs; /* n_regs paid registrations, in any order */
    size_t n_regs;
    /* The rooms, in any order. NULL / 0: rooms 001..999 of ENG_ARRANGE_SEATS_DEFAULT seats. */
    const eng_arrange_room_t *rooms;
    size_t n_rooms;
    /* Optional bitmap (bit r = room r) of rooms other subjects with the same level digit
       already use at this campus; they are skipped. NULL = none. */
    const uint8_t *rooms_taken;
} eng_arrange_in_t;

/** The seat of one registration. */
typedef struct eng_arrange_seat {
    uint64_t reg_id;                    /* = in->regs[i].reg_id */
    uint16_t room;                      /* 1..999 */
    uint8_t seat;                       /* 1..99 */
    uint8_t slot;                       /* copied from the registration (0 for written) */
    char ticket[CET_TICKET_DIGITS + 1]; /* the 15-digit number, NUL-terminated */
} eng_arrange_seat_t;

/** What a run used, for the API's {rooms, seats} answer and for rooms_taken. */
typedef struct eng_arrange_summary {
    uint32_t rooms;                                    /* rooms holding at least one candidate */
    uint32_t seats;                                    /* candidates seated (= n_regs) */
    uint32_t seats_offered;                            /* seats of the usable rooms */
    uint8_t rooms_used[ENG_ARRANGE_ROOMS_TAKEN_BYTES]; /* bitmap of the rooms used */
} eng_arrange_summary_t;

/**
 * Arranges in->regs into in->rooms. out must hold in->n_regs entries; out[i]
 * is the seat of in->regs[i]. summary may be NULL. The result depends only on
 * the set of registrations and rooms, not on their order (see the top of this
 * file), so a second run over the same data writes the same seats.
 *
 * Returns ENG_ARRANGE_OK, or without touching out beyond scratch:
 *   ENG_ARRANGE_E_BAD_SUBJECT      campus, sitting or level out of range
 *   ENG_ARRANGE_E_TOO_MANY         n_regs > ENG_ARRANGE_REGS_MAX
 *   ENG_ARRANGE_E_BAD_ROOM         a room numbered 0 or > 999, or listed twice
 *   ENG_ARRANGE_E_BAD_REG          a NULL candidate key, a reg id twice, a
 *                                  written registration with a slot, an oral one
 *                                  without (or above ENG_ARRANGE_SLOTS_MAX)
 *   ENG_ARRANGE_E_NOT_ENOUGH_SEATS the free rooms cannot seat everyone (for an
 *                                  oral subject: with every slot in its own rooms)
 * Memory: one scratch block of about 40 bytes per registration, from
 * cet_malloc, freed before it returns. Any thread.
 */
eng_arrange_err_t eng_arrange_run(const eng_arrange_in_t *in, eng_arrange_seat_t *out,
                                  eng_arrange_summary_t *summary);

/**
 * The level digit of the ticket number (see the top of this file): 1/2 for a
 * level-4/6 written subject, 3/4 for a level-4/6 oral subject; 0 when level is
 * neither 4 nor 6.
 */
int eng_arrange_level_digit(uint8_t level, bool oral);

/**
 * Writes the 15-digit ticket number into out[16] (NUL-terminated), so the
 * HTTP layer can rebuild it from a stored room and seat. Returns false and
 * writes "" when a field is out of range (campus 100000..999999, sitting
 * 20000..20992 with half 1 or 2, level digit 1..4, room 1..999, seat 1..99).
 */
bool eng_arrange_ticket_format(uint32_t campus, uint32_t sitting, int level_digit, uint16_t room,
                               uint8_t seat, char out[CET_TICKET_DIGITS + 1]);

/** The stable API code of e ("not_enough_seats", ...); never NULL. */
const char *eng_arrange_err_code(eng_arrange_err_t e);

/** Is room r (1..999) set in a rooms_taken / rooms_used bitmap? */
bool eng_arrange_room_in(const uint8_t bitmap[ENG_ARRANGE_ROOMS_TAKEN_BYTES], uint16_t r);

#endif
