/*
 * cet_sheet.h: tabular school files (rosters, campuses, scores, exports), read
 * and written the way schools have them. Pure: no LMDB, no libevent, no
 * domain state; used by cetctl and by the admin HTTP API alike.
 *
 * Reading takes a whole file from memory and detects what it is:
 *   - `PK\3\4` (a ZIP archive): an Office Open XML workbook (.xlsx); the first
 *     worksheet is read (libzip + expat, see docs/data-formats.md);
 *   - a UTF-8 byte-order mark: UTF-8; a UTF-16 one (Excel's "Unicode text"): UTF-16;
 *   - otherwise valid UTF-8 (or all but a few lines of it): UTF-8;
 *   - otherwise GB18030 (GBK and GB2312 are subsets), through glibc's iconv.
 * A text file's separator (comma or tab) is detected from its header line;
 * quoting is RFC 4180. Every row comes out as NUL-terminated UTF-8 fields with
 * the line it started on (an .xlsx row: its row number), so an error points
 * where an editor or Excel shows it.
 *
 * Errors are values of base/cet_err.h (the CET_E_SHEET_* codes) with a line,
 * the column concerned and an English message that says what happened and how
 * to fix it (cet_sheet_problem_t). A bad row never stops the reader: it gives
 * CET_REFUSED for that row and goes on with the next, so a caller can count
 * and list every bad row of a file in one pass.
 *
 * Writing produces one of three formats through a sink callback:
 *   CET_SHEET_FMT_DATA  the operator's CSV: UTF-8 without BOM, LF, English
 *                       headers, money in fen: what `cetctl import` reads
 *                       back byte for byte;
 *   CET_SHEET_FMT_CSV   for a teacher's Excel: UTF-8 with BOM, CRLF, Chinese
 *                       headers and values, money in yuan with two decimals;
 *   CET_SHEET_FMT_XLSX  a workbook (libxlsxwriter): header row, ID columns as
 *                       text cells, money as numbers shown with two decimals.
 * Whatever the writer produces, the reader reads back to the same values.
 *
 * Threads: a cet_sheet_t or writer belongs to one thread at a time; distinct
 * ones may be used from different threads at once.
 */
#ifndef CET_SHEET_H
#define CET_SHEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cet_err.h"
#include "base/cet_limits.h"

/* ---- what a file is ---- */
typedef enum cet_sheet_encoding {
    CET_SHEET_ENC_UTF8 = 1, /* UTF-8 (or ASCII) without a byte-order mark */
    CET_SHEET_ENC_UTF8_BOM, /* UTF-8 with EF BB BF */
    CET_SHEET_ENC_GB18030,  /* not UTF-8: read as GB18030, which contains GBK and GB2312 */
    CET_SHEET_ENC_UTF16,    /* UTF-16 with a byte-order mark (Excel "Unicode text") */
    CET_SHEET_ENC_XLSX,     /* an .xlsx workbook (its cells are UTF-8 XML) */
} cet_sheet_encoding_t;

/** "UTF-8", "UTF-8 with BOM", "GB18030 (GBK)", "UTF-16", "xlsx"; "?" for others. */
const char *cet_sheet_encoding_name(cet_sheet_encoding_t e);

/** One thing wrong with a file or a row. */
typedef struct cet_sheet_problem {
    cet_err_t code; /* a CET_E_SHEET_* code, or CET_E_OK when nothing is wrong */
    unsigned line;  /* line (CSV) or row number (xlsx); 0: the whole file */
    char field[CET_SHEET_NAME_BYTES_MAX];      /* the column as named in the file, or "" */
    char message[CET_SHEET_MESSAGE_BYTES_MAX]; /* English, for a person; never empty on error */
} cet_sheet_problem_t;

/* ---- reading ---- */
typedef struct cet_sheet cet_sheet_t;

/** One row as read: fields[0..nfields) are NUL-terminated UTF-8. */
typedef struct cet_sheet_row {
    unsigned line; /* where the row starts (1 = the first line/row) */
    int nfields;
    const char *const *fields; /* owned by the sheet: valid until the next call on it */
    uint64_t numeric;          /* xlsx: bit i set when field i was a number cell */
} cet_sheet_row_t;

/**
 * Opens the file data[0..len) (a whole file in memory). data is borrowed, not
 * copied when it is UTF-8 text: it must stay unchanged until cet_sheet_free.
 * Returns 0 and *out, or CET_REFUSED with *why filled (the file cannot be read
 * at all: CET_E_SHEET_TOO_LARGE over CET_SHEET_FILE_BYTES_MAX,
 * CET_E_SHEET_UNREADABLE for an empty file, an .xls, a ZIP that is not a
 * workbook or a broken workbook). Out of memory aborts (cet_malloc).
 */
int cet_sheet_open(const void *data, size_t len, cet_sheet_t **out, cet_sheet_problem_t *why);
/** Frees the sheet and everything it owns; NULL is allowed. */
void cet_sheet_free(cet_sheet_t *s);
cet_sheet_encoding_t cet_sheet_encoding(const cet_sheet_t *s);
/** ',' or '\t' for a text file, 0 for an .xlsx. */
char cet_sheet_separator(const cet_sheet_t *s);
/** Back before the first row (a redone LMDB txn reads the file again). */
void cet_sheet_rewind(cet_sheet_t *s);
/**
 * Reads the next row that is not blank. Returns 1 with *row, 0 at the end, or
 * CET_REFUSED with *why for a row that cannot be read (CET_E_SHEET_QUOTING,
 * CET_E_SHEET_ENCODING, CET_E_SHEET_ROW_TOO_LONG): the reader has moved past
 * it, so the next call reads the row after it.
 */
int cet_sheet_next(cet_sheet_t *s, cet_sheet_row_t *row, cet_sheet_problem_t *why);

/* ---- columns: the schema of a kind of file ---- */
typedef enum cet_sheet_kind {
    CET_SHEET_TEXT = 1, /* free text */
    CET_SHEET_DIGITS,   /* an identifier (ID, ticket, code, student number): text, never a number */
    CET_SHEET_NUMBER,   /* a count or small number */
    CET_SHEET_MONEY,    /* an amount: fen in FMT_DATA, yuan "30.00" in CSV and xlsx */
    CET_SHEET_TIME,     /* RFC 3339 text */
} cet_sheet_kind_t;

typedef struct cet_sheet_col {
    const char *name; /* the documented English header: "id_number" */
    const char *zh;   /* the usual Chinese header: "证件号码" (written by FMT_CSV/XLSX) */
    const char
        *aliases; /* more Chinese headers read, '|'-separated ("身份证号|身份证号码"), or NULL */
    const char *values; /* value aliases "canon=别名|别名;canon2=...": read as canon, written
                           in CSV/xlsx as the first alias; NULL when none */
    uint8_t kind;       /* cet_sheet_kind_t */
    bool required;      /* import: the column must be present */
    uint8_t width;      /* xlsx column width in characters (0: 12) */
} cet_sheet_col_t;

typedef struct cet_sheet_schema {
    const char *kind; /* "roster" */
    const char *zh;   /* "学籍名单": the xlsx sheet name */
    const cet_sheet_col_t *cols;
    int ncols; /* <= CET_SHEET_FIELDS_MAX */
} cet_sheet_schema_t;

/* The school files of docs/data-formats.md: importable ones and exports. */
extern const cet_sheet_schema_t cet_sheet_sitting, cet_sheet_campuses, cet_sheet_roster,
    cet_sheet_scores, cet_sheet_rooms, cet_sheet_registrations, cet_sheet_candidates, cet_sheet_orders,
    cet_sheet_audit, cet_sheet_reviews;
/** The schema named kind ("roster"), or NULL. */
const cet_sheet_schema_t *cet_sheet_schema_find(const char *kind);
/** Index of the column named name (English) in sc, or -1. */
int cet_sheet_col_index(const cet_sheet_schema_t *sc, const char *name);

/** How a file's header row maps onto a schema. */
typedef struct cet_sheet_map {
    const cet_sheet_schema_t *schema;
    int idx[CET_SHEET_FIELDS_MAX]; /* field of schema column i, -1 when absent */
    uint64_t via_zh;               /* bit i: column i was named in Chinese */
    int nfields;                   /* fields of the header row */
    unsigned header_line;
    bool xlsx; /* short rows are padded with empty cells */
} cet_sheet_map_t;

/**
 * Reads the header row and maps it onto sc. The header is the first
 * non-blank row, after up to CET_SHEET_TITLE_ROWS_MAX title rows (one cell
 * that names no column, "2026年学籍名单") when the row under them names a
 * column; an Excel "sep=;" first line sets the separator. Header
 * names match the English name or any Chinese one, ignoring ASCII case,
 * surrounding spaces, full-width parentheses and a trailing '*'. A second
 * header row right after the first (the template's English names under the
 * Chinese ones) is skipped. Returns 0, or CET_REFUSED with up to probs_max
 * problems in probs (*nprobs of them): CET_E_SHEET_EMPTY, an unreadable
 * header row, CET_E_SHEET_UNKNOWN_COLUMN (an .xlsx or .xls read as text is
 * named as such), CET_E_SHEET_DUPLICATE_COLUMN, CET_E_SHEET_MISSING_COLUMN.
 */
int cet_sheet_header(cet_sheet_t *s, const cet_sheet_schema_t *sc, cet_sheet_map_t *map,
                     cet_sheet_problem_t *probs, int probs_max, int *nprobs);

/**
 * The values of a data row by schema column: vals[i] for column i ("" for an
 * absent optional column), canonical (a value alias such as 居民身份证 reads
 * as "mainland"; an ID cell written ="110..." or with spaces around it reads
 * as its digits). Checks the row against the header: CET_E_SHEET_FIELD_COUNT
 * for a CSV row whose field count differs, CET_E_SHEET_EXCEL_NUMBER for an
 * identifier Excel turned into a number (1.10108E+17, or an xlsx number cell
 * of more than 15 digits). vals point into the row or into the sheet, valid
 * until the next call on s. 0 or CET_REFUSED with *why.
 */
int cet_sheet_values(cet_sheet_t *s, const cet_sheet_map_t *map, const cet_sheet_row_t *row,
                     const char *vals[CET_SHEET_FIELDS_MAX], cet_sheet_problem_t *why);

/**
 * Parses an amount of money into fen. In yuan ("30", "30.5", "30.00",
 * yuan true, or any value with a decimal point) or in fen (a whole number,
 * yuan false). -1 when it is not an amount or above max_fen.
 */
int cet_sheet_money_parse(const char *s, bool yuan, uint64_t max_fen, uint64_t *out);

/* ---- writing ---- */
typedef enum cet_sheet_format {
    CET_SHEET_FMT_DATA = 1, /* operator CSV: no BOM, LF, English headers, fen */
    CET_SHEET_FMT_CSV,      /* teacher CSV: BOM, CRLF, Chinese headers and values, yuan */
    CET_SHEET_FMT_XLSX,     /* .xlsx workbook */
} cet_sheet_format_t;

/** "data", "csv", "xlsx" -> the format; 0 when unknown. */
cet_sheet_format_t cet_sheet_format_parse(const char *s);

/** The HTTP Content-Type of a file in fmt ("text/csv; charset=utf-8" or the xlsx type). */
const char *cet_sheet_content_type(cet_sheet_format_t fmt);
/** "csv" or "xlsx": the file name extension (Content-Disposition). */
const char *cet_sheet_file_ext(cet_sheet_format_t fmt);

/** Receives the bytes of the file being written; 0 ok, else an errno value that stops writing. */
typedef int (*cet_sheet_sink_cb)(void *arg, const void *data, size_t n);

typedef struct cet_sheet_writer cet_sheet_writer_t;

/**
 * Starts a file of schema sc in format fmt; *out is the writer, owned by the
 * caller until cet_sheet_writer_finish or _free. The header row is written
 * with the first cell (or the template, or by finish for a file without
 * rows). CSV formats stream to sink as they go (buffered
 * CET_SHEET_WRITE_BUF_BYTES); an .xlsx is built in a temporary file under
 * tmpdir (NULL: $TMPDIR or /tmp; exports in libxlsxwriter's constant-memory
 * mode, so a million rows need little memory) and handed to sink by
 * cet_sheet_writer_finish. sink is called only from these calls, on the
 * caller's thread. Returns 0 (a workbook that cannot be started, EIO or the
 * errno of its temporary file, is reported by the first cell call).
 */
int cet_sheet_writer_open(cet_sheet_format_t fmt, const cet_sheet_schema_t *sc, const char *tmpdir,
                          cet_sheet_sink_cb sink, void *arg, cet_sheet_writer_t **out);
/**
 * Writes a template: the header row in Chinese and, under it, the English
 * names (read back as a second header row and skipped). xlsx: identifier
 * columns are formatted as text (what a teacher types there stays text),
 * each header cell has a comment that explains the column, and a second
 * sheet 填表说明 explains them all. Call instead of any row, then finish.
 */
int cet_sheet_writer_template(cet_sheet_writer_t *w);
/* The cells of one row, in schema order; each returns 0 or a sink error. */
int cet_sheet_put_str(cet_sheet_writer_t *w, const char *s);
int cet_sheet_put_uint(cet_sheet_writer_t *w, uint64_t v);
/** Money in fen: "3000" in FMT_DATA, "30.00" in CSV, 30.00 (a number cell) in xlsx. */
int cet_sheet_put_money(cet_sheet_writer_t *w, uint64_t fen);
/** RFC 3339 in +08:00; 0 writes an empty cell. */
int cet_sheet_put_time(cet_sheet_writer_t *w, int64_t t);
/** Ends the row; asserts (CET_ASSERT_INFO) that it had one cell per column. */
int cet_sheet_row_end(cet_sheet_writer_t *w);
/** Rows written so far (not counting header rows). */
uint64_t cet_sheet_writer_rows(const cet_sheet_writer_t *w);
/**
 * Completes the file (xlsx: closes the workbook and streams it to the sink)
 * and frees the writer, also on error. 0 or an errno value.
 */
int cet_sheet_writer_finish(cet_sheet_writer_t *w);
/** Frees a writer without completing it (after an error); NULL allowed. */
void cet_sheet_writer_free(cet_sheet_writer_t *w);

#endif
