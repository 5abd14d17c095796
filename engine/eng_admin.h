/*
 * eng_admin.h: the school's side of the engine: the roster row rules (one
 * function that cetctl import and the admin API both call) and the write ops
 * of the admin API (offers, school settings, announcements, a school's roster
 * file in one txn), applied by the writer like every op of eng.h.
 *
 * Scope. Every admin op carries the caller's scope in op->in: a school
 * (scope_school), a province (scope_province), or neither (the support desk,
 * which may do account matters only: every op here is then CET_E_FORBIDDEN).
 * Every change is audited in the same txn (store_audit_log: a hash chain).
 *
 * Threads: eng_roster_row is pure (any thread); eng_roster_place takes any
 * read or write txn; eng_admin_apply runs on the writer thread only.
 */
#ifndef ENG_ADMIN_H
#define ENG_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cet_err.h"
#include "base/cet_limits.h"
#include "engine/eng.h"

/* ADMIN_OFFER: which fields op->in carries (in.set). */
#define ENG_ADMIN_SET_CAPACITY 0x01u
#define ENG_ADMIN_SET_FEE 0x02u
#define ENG_ADMIN_SET_OPENS 0x04u
#define ENG_ADMIN_SET_CLOSES 0x08u

/* The columns of a roster file, in the order of cet_sheet_roster. */
enum {
    ENG_ROSTER_ID_TYPE,
    ENG_ROSTER_ID_NUMBER,
    ENG_ROSTER_NAME,
    ENG_ROSTER_GENDER,
    ENG_ROSTER_SCHOOL,
    ENG_ROSTER_CAMPUS,
    ENG_ROSTER_EDUCATION,
    ENG_ROSTER_YEARS,
    ENG_ROSTER_ENTRY,
    ENG_ROSTER_GRADE,
    ENG_ROSTER_DEPARTMENT,
    ENG_ROSTER_MAJOR,
    ENG_ROSTER_CLASS,
    ENG_ROSTER_STUDENT_NO,
    ENG_ROSTER_REMARKS,
    ENG_ROSTER_SUBJECTS,
    ENG_ROSTER_BARRED
};

/** One thing wrong with a row: the code, the schema column (-1: the row), a message. */
typedef struct eng_row_problem {
    cet_err_t code;
    int col;
    unsigned line;
    char message[CET_SHEET_MESSAGE_BYTES_MAX];
} eng_row_problem_t;

/**
 * The roster row rules without the store: vals[] by schema column (as
 * cet_sheet_values gives them), labels[] the columns as messages name them,
 * subjects[] the subject table by code (kind 0: no such subject). Fills *out
 * (roster_no 0) and returns the number of problems written to probs (at most
 * max; 0: the row is good). Pure.
 */
int eng_roster_row(const char *const vals[], const char *const labels[],
                   const store_subject_t subjects[256], store_roster_t *out,
                   eng_row_problem_t *probs, int max);
/**
 * The row's place in the store: its campus exists and belongs to its school,
 * and (scope_school / scope_province non-zero) the school is in the caller's
 * scope. 0, CET_REFUSED with *why, or a storage code. *cache_campus and
 * *cache_school keep the last campus looked up (rows cluster by campus);
 * start them at 0.
 */
int eng_roster_place(store_txn_t *txn, const store_t *st, const store_roster_t *r,
                     uint32_t scope_school, uint16_t scope_province, const char *school_label,
                     uint32_t *cache_campus, uint32_t *cache_school, eng_row_problem_t *why);
/** Loads the subject table into subjects[256] (kind 0 where none). 0 or a storage code. */
int eng_subjects_load(store_txn_t *txn, const store_t *st, store_subject_t subjects[256]);

/*
 * ADMIN_ROSTER's input (op->in.ext): the rows of one file, already through
 * eng_roster_row (by the submitter, off the core loop). The writer checks
 * each row's place and scope again in its txn, then writes all of them or,
 * when any is wrong, none: the op is refused with CET_E_ROSTER_REFUSED and
 * probs lists why (the writer fills it; the submitter reads it in done_cb).
 */
typedef struct eng_roster_batch {
    store_roster_t *rows;
    unsigned *lines; /* the file line of each row */
    size_t n;
    eng_row_problem_t *probs; /* out: up to probs_max */
    size_t nprobs, probs_max;
    uint64_t bad;       /* out: problems found (also beyond probs_max) */
    char file_hash[65]; /* hex SHA-256 of the file, for the audit entry */
} eng_roster_batch_t;

/** Is k one of the ops of this file? */
bool eng_admin_op_kind(eng_op_kind_t k);
/** Applies an admin op inside the writer's txn (eng_ops.c dispatches here). */
int eng_admin_apply(eng_op_t *op, store_txn_t *txn);

#endif
