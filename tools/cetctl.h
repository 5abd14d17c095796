/*
 * cetctl.h: the internals shared by the cetctl subcommands (tools/cetctl_*.c).
 *
 * cetctl is a single-threaded command-line program: it opens the store (read
 * only for export, check and stats, so it can run beside a live cetd), does
 * one job and exits. Exit codes: 0 done / all invariants hold, 1 the data is
 * bad (an import row, a check violation), 2 usage or I/O error.
 */
#ifndef CETCTL_H
#define CETCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/cet_limits.h"
#include "store/store.h"

#define CTL_EXIT_OK 0
#define CTL_EXIT_BAD_DATA 1
#define CTL_EXIT_USAGE 2

/* ---- limits of cetctl (tool-local, not engine limits) ---- */

/* ---- command line ---- */
typedef struct ctl_opt {
    const char *name;   /* "--data" */
    const char **value; /* where the value goes (NULL for a flag) */
    bool *flag;         /* set when a flag is present */
} ctl_opt_t;

/**
 * Parses argv[0..argc) as "--name value", "--name=value" and positional
 * words. Unknown options and missing values print a message and give -1.
 * pos gets at most pos_max positional words, *npos their number.
 */
int ctl_args_parse(int argc, char **argv, const ctl_opt_t *opts, const char **pos, int pos_max,
                   int *npos);
/** Parses a decimal unsigned number in [min, max]; -1 when it is not one. */
int ctl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/**
 * Opens the store in dir (read-only or read-write), printing why not on
 * failure. sync false (MDB_NOSYNC) is for bulk jobs that call ctl_store_sync
 * once at the end and whose data is disposable if the machine crashes midway.
 */
int ctl_store_open(const char *dir, bool read_only, store_t **out);
int ctl_store_open_nosync(const char *dir, store_t **out);
/** Flushes everything committed to disk (fsync). 0 or an LMDB/errno code. */
int ctl_store_sync(store_t *st);

/* ---- progress on a terminal ---- */
typedef struct ctl_progress {
    const char *what;
    bool tty;           /* stderr is a terminal: draw the \r line */
    uint64_t start_ns, last_ns;
} ctl_progress_t;

void ctl_progress_start(ctl_progress_t *p, const char *what);
/** Redraws "what: N rows (R rows/s)" at most every CTL_PROGRESS_MS, only on a terminal. */
void ctl_progress_tick(ctl_progress_t *p, uint64_t rows);
/** Ends the line (terminal) and prints the summary line on stderr always. Returns seconds. */
double ctl_progress_done(ctl_progress_t *p, uint64_t rows);

/* ---- CSV reading (RFC 4180) ---- */
typedef struct ctl_csv {
    const char *path;
    char *buf;          /* the whole file, NUL-terminated; never modified */
    size_t len, pos;
    unsigned line;      /* physical line the next record starts on (1-based) */
    unsigned rec_line;  /* line of the record just read */
    int nfields;
    char *fields[CTL_CSV_FIELDS_MAX];
    char *scratch;      /* unquoted copies of the current record's fields */
    char err[160];      /* why ctl_csv_next gave -1 */
} ctl_csv_t;

/** Reads path into memory (a UTF-8 BOM is skipped). 0 ok, -1 (printed) on failure. */
int ctl_csv_open(ctl_csv_t *c, const char *path);
void ctl_csv_close(ctl_csv_t *c);
/** Back to the first record (the header): a redone txn re-reads the file. */
void ctl_csv_rewind(ctl_csv_t *c);
/**
 * Reads the next record into c->fields (NUL-terminated, quotes removed).
 * Returns 1 for a record, 0 at the end, -1 for a malformed record (c->err
 * says why; the reader has skipped to the next line). Blank lines are skipped.
 */
int ctl_csv_next(ctl_csv_t *c);

/**
 * Maps the header record onto cols (names, n of them): idx[i] gets the field
 * index of cols[i]. Missing columns in required (all when required is NULL)
 * and unknown columns are errors printed as FILE:1: message. Optional
 * missing columns get idx -1. Returns 0 or -1.
 */
int ctl_csv_header(ctl_csv_t *c, const char *const *cols, int n, const bool *required, int *idx);

/* ---- CSV writing (to stdout, buffered) ---- */
typedef struct ctl_out {
    FILE *f;
    bool first;         /* next field is the first of its record */
} ctl_out_t;

void ctl_out_init(ctl_out_t *o, FILE *f);
void ctl_out_str(ctl_out_t *o, const char *s);
void ctl_out_u64(ctl_out_t *o, uint64_t v);
/** RFC 3339 in +08:00, or an empty field for 0. */
void ctl_out_time(ctl_out_t *o, int64_t t);
void ctl_out_end(ctl_out_t *o);
/** Writes a whole header record from a list of names. */
void ctl_out_header(ctl_out_t *o, const char *const *cols, int n);

/* ---- domain helpers ---- */
/** The standard subject table (docs/rules.md#R15, #R16): n entries into out. */
int ctl_subjects_standard(const store_subject_t **out);
/** Writes the standard subjects that are missing from the store (in txn). */
int ctl_subjects_ensure(store_txn_t *txn, const store_t *st);
/** Loads the subject table: table[(uint8_t)code] with kind 0 for unknown codes. */
int ctl_subjects_load(store_txn_t *txn, const store_t *st, store_subject_t table[256]);
const char *ctl_education_name(int edu);
/** 本科/专科/研究生 or bachelor/associate/graduate; 0 when unknown. */
int ctl_education_parse(const char *s);
/** "unpaid", "paid", "locked" or "refund" for a registration's flags. */
const char *ctl_reg_state(uint8_t flags);
/** Hex of an account id (33 bytes). */
void ctl_account_hex(const uint8_t id[16], char out[33]);
/** Sitting half-year etc. as CST day start of t. */
int64_t ctl_day_start(int64_t t);
/** Argon2id string of pw (crypto_pwhash_str, interactive limits). 0 ok, -1 out of memory. */
int ctl_password_hash(const char *pw, char out[CET_PWHASH_BYTES]);

/* ---- subcommands: argc/argv start after the subcommand word ---- */
int ctl_cmd_demo(int argc, char **argv);
int ctl_cmd_import(int argc, char **argv);
int ctl_cmd_export(int argc, char **argv);
int ctl_cmd_check(int argc, char **argv);
int ctl_cmd_stats(int argc, char **argv);
int ctl_cmd_staff(int argc, char **argv);
int ctl_cmd_bench_prep(int argc, char **argv);
int ctl_cmd_bench_paid(int argc, char **argv);
int ctl_cmd_debug_corrupt(int argc, char **argv);

#endif
