/*
 * cet_sheet_internal.h: what the parts of the sheet module share
 * (cet_sheet.c: detection, CSV, header and values; cet_sheet_xlsx.c: the
 * workbook reader). Not for use outside base/cet_sheet*.c.
 */
#ifndef CET_SHEET_INTERNAL_H
#define CET_SHEET_INTERNAL_H

#include "base/cet_sheet.h"

/*
 * One worksheet row read from an .xlsx, its cells in sheet->x_cells: offsets
 * into x_arena, or with SHEET_X_SHARED set into x_strings, so a shared string
 * used a million times is kept once (memory stays in the size of the file).
 */
#define SHEET_X_SHARED 0x80000000u
typedef struct sheet_xrow {
    unsigned line;    /* the row number Excel shows */
    uint32_t first;   /* index of its first cell in x_cells */
    uint16_t n;       /* cells (up to the last non-empty one) */
    uint16_t err;     /* 0, or a cet_err_t offset from CET_E__BASE: the row is refused */
    uint64_t numeric; /* bit i: cell i was a number cell */
} sheet_xrow_t;

struct cet_sheet {
    cet_sheet_encoding_t enc;
    char sep;
    /* text files: the UTF-8 text (borrowed from the caller, or owned when converted) */
    const char *text;
    size_t len, pos;
    char *owned;
    unsigned line;
    size_t start; /* where the records start: after a "sep=;" line, if any */
    unsigned start_line;
    char *scratch; /* the current row's unquoted fields */
    const char *fields[CET_SHEET_FIELDS_MAX];
    char *vals; /* cet_sheet_values' canonical values */
    /* .xlsx: every row kept, cells as offsets into one arena */
    char *x_arena; /* inline strings and numbers; [0] is the empty string */
    size_t x_arena_len, x_arena_cap;
    char *x_strings; /* the shared strings, each once (cells point into it) */
    uint32_t *x_cells;
    size_t x_ncells, x_cells_cap;
    sheet_xrow_t *x_rows;
    size_t x_nrows, x_rows_cap, x_next;
};

/**
 * Reads the workbook data[0..len) (starts with PK\3\4) into s->x_rows. 0 or
 * CET_REFUSED with *why (CET_E_SHEET_UNREADABLE: what is wrong with it).
 */
int sheet_xlsx_load(cet_sheet_t *s, const void *data, size_t len, cet_sheet_problem_t *why);

/** Fills *why (code, line, column, printf message); returns CET_REFUSED. */
int sheet_problem(cet_sheet_problem_t *why, cet_err_t code, unsigned line, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** Is s[0..n) valid UTF-8 without NUL bytes? */
bool sheet_utf8_ok(const char *s, size_t n);

#endif
