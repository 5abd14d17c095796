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
#include "base/cet_sheet.h"
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
 * failure. sync false (no fsync per commit) is for bulk jobs that call ctl_store_sync
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

/* ---- school files in: CSV (UTF-8, BOM, GB18030, UTF-16; comma or tab) and .xlsx ---- */
typedef struct ctl_in {
    const char *path;
    char *buf;            /* the whole file; the sheet may point into it */
    size_t len;
    cet_sheet_t *sheet;   /* base/cet_sheet.h: rows, header, values */
} ctl_in_t;

/**
 * Reads path into memory and opens it as a school file; prints on stderr how
 * it was read ("FILE: GB18030 (GBK), comma-separated"). 0, or -1 after
 * printing why (I/O, too large, unreadable: an .xls, a broken .xlsx).
 */
int ctl_in_open(ctl_in_t *in, const char *path);
void ctl_in_close(ctl_in_t *in);

/* ---- school files out: --format data (default), csv (for Excel) or xlsx ---- */
typedef struct ctl_out {
    FILE *f;
    const char *path;     /* "-" for stdout */
    cet_sheet_writer_t *w;
} ctl_out_t;

/**
 * Starts writing a file of schema sc in fmt to path (NULL or "-": stdout).
 * 0, or -1 after printing why (an .xlsx to a terminal, a file that cannot be
 * created).
 */
int ctl_out_open(ctl_out_t *o, cet_sheet_format_t fmt, const cet_sheet_schema_t *sc,
                 const char *path);
/** Finishes the file (an .xlsx is written out here) and closes it. 0 or -1 (printed). */
int ctl_out_close(ctl_out_t *o);
/** Gives up a file being written (after an error); a partial --out file is removed. */
void ctl_out_abort(ctl_out_t *o);

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
/** Argon2id string of pw at today's costs (cet_pwhash_make). 0 ok, -1 out of memory. */
int ctl_password_hash(const char *pw, char out[CET_PWHASH_BYTES]);
/**
 * The same at the costs every hash had before (libsodium's INTERACTIVE: 64 MiB,
 * t = 2), for `--legacy-pwhash`: tests of the upgrade at the next login.
 */
int ctl_password_hash_legacy(const char *pw, char out[CET_PWHASH_BYTES]);

/* ---- subcommands: argc/argv start after the subcommand word ---- */
int ctl_cmd_demo(int argc, char **argv);
int ctl_cmd_import(int argc, char **argv);
int ctl_cmd_export(int argc, char **argv);
int ctl_cmd_check(int argc, char **argv);
/** `cetctl audit verify --data DIR`: the audit hash chain (store_audit_verify). */
int ctl_cmd_audit(int argc, char **argv);
int ctl_cmd_stats(int argc, char **argv);
int ctl_cmd_staff(int argc, char **argv);
int ctl_cmd_bench_prep(int argc, char **argv);
int ctl_cmd_bench_paid(int argc, char **argv);
int ctl_cmd_debug_corrupt(int argc, char **argv);
int ctl_cmd_template(int argc, char **argv);
int ctl_cmd_backup(int argc, char **argv);
int ctl_cmd_restore(int argc, char **argv);

#endif
