/*
 * cet_sheet.c: reading school files: what the file is (encoding, separator),
 * RFC 4180 records, the header row and the values of a row (cet_sheet.h).
 *
 * A text file is turned into UTF-8 once, at open: UTF-8 is used in place,
 * GB18030 and UTF-16 are converted by glibc's iconv into a buffer of the
 * sheet's own. A byte the encoding cannot decode becomes 0xFF (never valid
 * UTF-8), so the row that held it is refused with CET_E_SHEET_ENCODING and
 * its line, and every other row still reads. The CSV reader never modifies
 * the text: rewinding and reading again gives the same rows.
 */
#include "base/cet_sheet.h"
#include "base/cet_id.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_sheet_internal.h"

int sheet_problem(cet_sheet_problem_t *why, cet_err_t code, unsigned line, const char *field,
                  const char *fmt, ...)
{
    why->code = code;
    why->line = line;
    cet_strlcpy(why->field, field ? field : "", sizeof why->field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->message, sizeof why->message, fmt, ap);
    va_end(ap);
    return CET_REFUSED;
}

const char *cet_sheet_encoding_name(cet_sheet_encoding_t e)
{
    switch (e) {
    case CET_SHEET_ENC_UTF8:
        return "UTF-8";
    case CET_SHEET_ENC_UTF8_BOM:
        return "UTF-8 with BOM";
    case CET_SHEET_ENC_GB18030:
        return "GB18030 (GBK)";
    case CET_SHEET_ENC_UTF16:
        return "UTF-16";
    case CET_SHEET_ENC_XLSX:
        return "xlsx";
    }
    return "?";
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    uint32_t cp;
    return cet_utf8_seq(p, left, &cp);
}

bool sheet_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] == 0) return false;
        size_t k = utf8_seq(p + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

/*
 * Is the text UTF-8? Yes when it has no invalid sequence, and also when its
 * valid multi-byte sequences outnumber the invalid ones many times over (a
 * UTF-8 file with one damaged line: that line is refused, the rest reads).
 * A GBK file has almost no valid UTF-8 multi-byte sequences.
 */
static bool looks_utf8(const unsigned char *p, size_t n)
{
    size_t multi = 0, bad = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(p + i, n - i);
        if (k) {
            multi++;
            i += k;
        } else {
            bad++;
            i++;
        }
    }
    return bad == 0 || (multi > 0 && multi >= CET_SHEET_DETECT_BAD_RATIO * bad);
}

/* Converts data with iconv from `from` to UTF-8 into s->owned; undecodable bytes become 0xFF. */
static int convert_to_utf8(cet_sheet_t *s, const char *from, const char *data, size_t len,
                           cet_sheet_problem_t *why)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return sheet_problem(why, CET_E_SHEET_UNREADABLE, 0, NULL,
                             "this system's iconv cannot convert from %s", from);
    /* GB18030 -> UTF-8 grows at most 3/2 (2 bytes -> 3), UTF-16 -> UTF-8 3/2 as well */
    size_t cap = len / 2 * 3 + 16;
    s->owned = cet_malloc(cap + 1);
    char *in = (char *)data, *out = s->owned;
    size_t inleft = len, outleft = cap;
    while (inleft > 0) {
        size_t r = iconv(cd, &in, &inleft, &out, &outleft);
        if (r != (size_t)-1) break;
        CET_ASSERT_INFO(errno != E2BIG, "iconv %s: output of %zu bytes too small for %zu", from,
                        cap, len);
        CET_ASSERT_INFO(outleft > 0, "iconv %s: no room for the 0xFF mark", from);
        *out++ = (char)0xff; /* EILSEQ or a truncated sequence at the end: mark, skip a byte */
        outleft--;
        in++;
        inleft--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    iconv_close(cd);
    s->len = (size_t)(out - s->owned);
    s->owned[s->len] = 0;
    s->text = s->owned;
    return 0;
}

int cet_sheet_open(const void *data, size_t len, cet_sheet_t **out, cet_sheet_problem_t *why)
{
    *out = NULL;
    memset(why, 0, sizeof *why);
    const unsigned char *p = data;
    if (len > CET_SHEET_FILE_BYTES_MAX)
        return sheet_problem(why, CET_E_SHEET_TOO_LARGE, 0, NULL,
                             "the file has %zu bytes, more than the %llu this reader takes", len,
                             (unsigned long long)CET_SHEET_FILE_BYTES_MAX);
    if (len == 0) return sheet_problem(why, CET_E_SHEET_UNREADABLE, 0, NULL, "the file is empty");
    if (len >= 8 && memcmp(p, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0)
        return sheet_problem(why, CET_E_SHEET_UNREADABLE, 0, NULL,
                             "this is an old Excel 97-2003 workbook (.xls): open it in Excel or "
                             "WPS and save it as .xlsx (Excel 工作簿) or as CSV UTF-8");
    cet_sheet_t *s = cet_calloc(1, sizeof *s);
    int rc = 0;
    if (len >= 4 && memcmp(p, "PK\x03\x04", 4) == 0) {
        s->enc = CET_SHEET_ENC_XLSX;
        rc = sheet_xlsx_load(s, data, len, why);
    } else if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        s->enc = CET_SHEET_ENC_UTF8_BOM;
        s->text = (const char *)p + 3;
        s->len = len - 3;
    } else if (len >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff))) {
        s->enc = CET_SHEET_ENC_UTF16;
        rc = convert_to_utf8(s, "UTF-16", data, len, why);
        /* iconv consumes the BOM; a BOM that survived as U+FEFF is skipped */
        if (rc == 0 && s->len >= 3 && memcmp(s->owned, "\xef\xbb\xbf", 3) == 0)
            s->text += 3, s->len -= 3;
    } else if (looks_utf8(p, len)) {
        s->enc = CET_SHEET_ENC_UTF8;
        s->text = (const char *)p;
        s->len = len;
    } else {
        s->enc = CET_SHEET_ENC_GB18030;
        rc = convert_to_utf8(s, "GB18030", data, len, why);
    }
    if (rc) {
        cet_sheet_free(s);
        return rc;
    }
    s->scratch = cet_malloc(CET_SHEET_ROW_BYTES_MAX);
    s->vals = cet_malloc(CET_SHEET_ROW_BYTES_MAX + CET_SHEET_FIELDS_MAX);
    if (s->enc != CET_SHEET_ENC_XLSX) {
        /* the separator: tab when the header line has more tabs than commas (outside quotes) */
        size_t commas = 0, tabs = 0;
        bool q = false;
        for (size_t i = 0; i < s->len; i++) {
            char c = s->text[i];
            if (c == '"') q = !q;
            if (q) continue;
            if (c == '\n' && (commas || tabs)) break;
            commas += c == ',';
            tabs += c == '\t';
        }
        s->sep = tabs > commas ? '\t' : ',';
        /* Excel's own hint line "sep=;" names the separator and is not a record */
        const char *t = s->text;
        if (s->len >= 6 && memcmp(t, "sep=", 4) == 0 && strchr(",;\t|", t[4]) &&
            (t[5] == '\n' || t[5] == '\r')) {
            s->sep = t[4];
            s->start = t[5] == '\r' && s->len >= 7 && t[6] == '\n' ? 7 : 6;
            s->start_line = 1;
        }
    }
    cet_sheet_rewind(s);
    *out = s;
    return 0;
}

void cet_sheet_free(cet_sheet_t *s)
{
    if (!s) return;
    cet_free(s->owned);
    cet_free(s->scratch);
    cet_free(s->vals);
    cet_free(s->x_arena);
    cet_free(s->x_strings);
    cet_free(s->x_cells);
    cet_free(s->x_rows);
    cet_free(s);
}

cet_sheet_encoding_t cet_sheet_encoding(const cet_sheet_t *s)
{
    return s->enc;
}

char cet_sheet_separator(const cet_sheet_t *s)
{
    return s->sep;
}

void cet_sheet_rewind(cet_sheet_t *s)
{
    s->pos = s->start;
    s->line = 1 + s->start_line;
    s->x_next = 0;
}

/* Where the reader is, to read ahead and come back. */
typedef struct sheet_mark {
    size_t pos, x_next;
    unsigned line;
} sheet_mark_t;

static sheet_mark_t sheet_mark(const cet_sheet_t *s)
{
    return (sheet_mark_t){s->pos, s->x_next, s->line};
}

static void sheet_back(cet_sheet_t *s, sheet_mark_t m)
{
    s->pos = m.pos, s->x_next = m.x_next, s->line = m.line;
}

/* ---- CSV records ---- */

/* Skips the rest of a malformed record's line and reports why. */
static int csv_fail(cet_sheet_t *s, const char *p, unsigned rec_line, cet_err_t code,
                    cet_sheet_problem_t *why, const char *msg)
{
    const char *end = s->text + s->len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    s->pos = nl ? (size_t)(nl + 1 - s->text) : s->len;
    s->line++;
    return sheet_problem(why, code, rec_line, NULL, "%s", msg);
}

static const char *encoding_fix(const cet_sheet_t *s)
{
    return s->enc == CET_SHEET_ENC_GB18030
               ? "the file was read as GB18030/GBK because it is not UTF-8; save it again as "
                 "\"CSV UTF-8\" or as .xlsx"
               : "the rest of the file is UTF-8; save it again as \"CSV UTF-8\" or as .xlsx";
}

/* One RFC 4180 record from s->text at s->pos: 1, 0 at the end, CET_REFUSED. */
static int csv_next(cet_sheet_t *s, cet_sheet_row_t *row, cet_sheet_problem_t *why)
{
    const char *end = s->text + s->len;
    while (s->pos < s->len) { /* blank lines between records are skipped */
        const char *p = s->text + s->pos;
        if (*p == '\n') {
            s->pos++, s->line++;
        } else if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            s->pos += 2, s->line++;
        } else {
            break;
        }
    }
    if (s->pos >= s->len) return 0;
    unsigned rec_line = s->line;
    int n = 0;
    char *w = s->scratch, *wend = s->scratch + CET_SHEET_ROW_BYTES_MAX - 1;
    const char *p = s->text + s->pos;
    const char sep = s->sep;
    for (;;) {
        if (n == CET_SHEET_FIELDS_MAX)
            return csv_fail(s, p, rec_line, CET_E_SHEET_ROW_TOO_LONG, why,
                            "more than " CET_STR(CET_SHEET_FIELDS_MAX) " fields");
        s->fields[n++] = w;
        if (p < end && *p == '"') {
            p++;
            for (;;) {
                if (p >= end)
                    return csv_fail(s, p, rec_line, CET_E_SHEET_QUOTING, why,
                                    "unterminated quoted field");
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        if (w >= wend) goto too_long;
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (*p == '\n') s->line++;
                if (w >= wend) goto too_long;
                *w++ = *p++;
            }
            if (p < end && *p != sep && *p != '\n' && *p != '\r')
                return csv_fail(s, p, rec_line, CET_E_SHEET_QUOTING, why,
                                "text after a closing quote");
        } else {
            const char *f = p;
            while (p < end && *p != sep && *p != '\n' && *p != '\r') {
                if (*p == '"')
                    return csv_fail(s, p, rec_line, CET_E_SHEET_QUOTING, why,
                                    "a quote inside an unquoted field (quote the whole field "
                                    "and double the quote: \"a \"\"b\"\" c\")");
                p++;
            }
            size_t k = (size_t)(p - f);
            if (k > (size_t)(wend - w)) goto too_long;
            memcpy(w, f, k);
            w += k;
        }
        *w++ = 0;
        if (p >= end) break;
        if (*p == sep) {
            p++;
            continue;
        }
        if (*p == '\r') p++;
        if (p < end && *p == '\n') p++;
        s->line++;
        break;
    }
    s->pos = (size_t)(p - s->text);
    row->line = rec_line;
    row->nfields = n;
    row->fields = s->fields;
    row->numeric = 0;
    for (int i = 0; i < n; i++) {
        if (!sheet_utf8_ok(s->fields[i], strlen(s->fields[i])) ||
            (size_t)(i + 1 < n ? s->fields[i + 1] - s->fields[i] - 1 : w - s->fields[i] - 1) !=
                strlen(s->fields[i]))
            return sheet_problem(why, CET_E_SHEET_ENCODING, rec_line, NULL,
                                 "line %u has bytes that are not valid %s: %s", rec_line,
                                 s->enc == CET_SHEET_ENC_GB18030 ? "GB18030" : "UTF-8",
                                 encoding_fix(s));
    }
    return 1;
too_long:
    return csv_fail(s, p, rec_line, CET_E_SHEET_ROW_TOO_LONG, why,
                    "the row is longer than " CET_STR(CET_SHEET_ROW_BYTES_MAX) " bytes");
}

static int xlsx_next(cet_sheet_t *s, cet_sheet_row_t *row, cet_sheet_problem_t *why)
{
    if (s->x_next >= s->x_nrows) return 0;
    const sheet_xrow_t *r = &s->x_rows[s->x_next++];
    if (r->err) {
        cet_err_t e = (cet_err_t)(CET_E__BASE + r->err);
        return sheet_problem(why, e, r->line, NULL, "%s", cet_err_message(e));
    }
    for (unsigned i = 0; i < r->n; i++) {
        uint32_t off = s->x_cells[r->first + i];
        s->fields[i] =
            (off & SHEET_X_SHARED) ? s->x_strings + (off & ~SHEET_X_SHARED) : s->x_arena + off;
    }
    row->line = r->line;
    row->nfields = r->n;
    row->fields = s->fields;
    row->numeric = r->numeric;
    return 1;
}

int cet_sheet_next(cet_sheet_t *s, cet_sheet_row_t *row, cet_sheet_problem_t *why)
{
    memset(why, 0, sizeof *why);
    for (;;) {
        int r = s->enc == CET_SHEET_ENC_XLSX ? xlsx_next(s, row, why) : csv_next(s, row, why);
        if (r != 1) return r;
        /* a row of empty fields (",,,," as Excel saves touched cells) is blank */
        bool blank = true;
        for (int i = 0; i < row->nfields && blank; i++)
            blank = row->fields[i][0] == 0;
        if (!blank) return 1;
    }
}

/* ---- the header ---- */

/*
 * Copies a header name into out[cap] in the form names are compared in:
 * surrounding ASCII and ideographic spaces, a trailing '*' (a template's
 * "required" mark) removed, ASCII lower-cased, full-width （） as ().
 */
static void header_norm(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = in, *e = in + strlen(in);
    for (;;) {
        if (p < e && (*p == ' ' || *p == '\t'))
            p++;
        else if (e - p >= 3 && memcmp(p, "\xe3\x80\x80", 3) == 0)
            p += 3;
        else
            break;
    }
    for (;;) {
        if (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '*'))
            e--;
        else if (e - p >= 3 && memcmp(e - 3, "\xe3\x80\x80", 3) == 0)
            e -= 3;
        else if (e - p >= 3 && memcmp(e - 3, "\xef\xbc\x8a", 3) == 0)
            e -= 3; /* full-width * */
        else
            break;
    }
    while (p < e && n + 1 < cap) {
        if (e - p >= 3 && memcmp(p, "\xef\xbc\x88", 3) == 0) {
            out[n++] = '(', p += 3;
        } else if (e - p >= 3 && memcmp(p, "\xef\xbc\x89", 3) == 0) {
            out[n++] = ')', p += 3;
        } else {
            char c = *p++;
            out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
    }
    out[n] = 0;
}

/* Does the normalized name equal one of the '|'-separated names in list? */
static bool name_in(const char *norm, const char *list)
{
    if (!list) return false;
    char one[CET_SHEET_NAME_BYTES_MAX * 2];
    for (const char *p = list; *p;) {
        const char *q = strchr(p, '|');
        size_t k = q ? (size_t)(q - p) : strlen(p);
        char raw[CET_SHEET_NAME_BYTES_MAX * 2];
        if (k < sizeof raw) {
            memcpy(raw, p, k);
            raw[k] = 0;
            header_norm(raw, one, sizeof one);
            if (strcmp(one, norm) == 0) return true;
        }
        p += k;
        if (*p == '|') p++;
    }
    return false;
}

/* Column of sc named `name`: index, *zh set when named in Chinese; -1 when none. */
static int header_find(const cet_sheet_schema_t *sc, const char *name, bool *zh)
{
    char norm[CET_SHEET_NAME_BYTES_MAX * 2];
    header_norm(name, norm, sizeof norm);
    for (int i = 0; i < sc->ncols; i++) {
        const cet_sheet_col_t *c = &sc->cols[i];
        if (name_in(norm, c->name)) {
            *zh = false;
            return i;
        }
        if (name_in(norm, c->zh) || name_in(norm, c->aliases)) {
            *zh = true;
            return i;
        }
    }
    return -1;
}

static void add_problem(cet_sheet_problem_t *probs, int probs_max, int *nprobs,
                        const cet_sheet_problem_t *p)
{
    if (*nprobs < probs_max) probs[*nprobs] = *p;
    (*nprobs)++;
}

/* The English and Chinese names of sc, for a message: "id_number/证件号码, ..." */
static void names_list(const cet_sheet_schema_t *sc, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < sc->ncols && n + 1 < cap; i++) {
        int k =
            snprintf(out + n, cap - n, "%s%s/%s", i ? ", " : "", sc->cols[i].name, sc->cols[i].zh);
        if (k < 0) break;
        n += (size_t)k;
    }
    if (n >= cap) out[cap - 1] = 0;
}

static void unknown_column(const cet_sheet_schema_t *sc, const cet_sheet_row_t *row, int f,
                           bool list_names, cet_sheet_problem_t *p)
{
    const char *name = row->fields[f];
    char shown[CET_SHEET_NAME_BYTES_MAX];
    cet_strlcpy(shown, name, sizeof shown);
    if (f == 0 && strncmp(name, "PK", 2) == 0) {
        sheet_problem(p, CET_E_SHEET_UNKNOWN_COLUMN, row->line, shown,
                      "unknown column 'PK...': this is an .xlsx workbook (a ZIP archive) read as "
                      "text; send the .xlsx file itself, or save it as CSV");
        return;
    }
    if (row->nfields == 1 && strchr(name, ';')) {
        sheet_problem(p, CET_E_SHEET_UNKNOWN_COLUMN, row->line, shown,
                      "unknown column '%s': the header looks separated by ';'; separate the "
                      "columns with commas or tabs",
                      shown);
        return;
    }
    if (!list_names) {
        sheet_problem(p, CET_E_SHEET_UNKNOWN_COLUMN, row->line, shown, "unknown column '%s'",
                      shown);
        return;
    }
    char list[CET_SHEET_MESSAGE_BYTES_MAX];
    names_list(sc, list, sizeof list);
    sheet_problem(p, CET_E_SHEET_UNKNOWN_COLUMN, row->line, shown,
                  "unknown column '%s' (a %s file has: %s)", shown, sc->kind, list);
}

/* A title above the header: one non-empty cell that names no column. */
static bool title_row(const cet_sheet_schema_t *sc, const cet_sheet_row_t *row)
{
    int filled = 0, at = 0;
    for (int f = 0; f < row->nfields; f++)
        if (row->fields[f][0]) filled++, at = f;
    bool zh;
    return filled == 1 && header_find(sc, row->fields[at], &zh) < 0;
}

static bool names_a_column(const cet_sheet_schema_t *sc, const cet_sheet_row_t *row)
{
    bool zh;
    for (int f = 0; f < row->nfields; f++)
        if (row->fields[f][0] && header_find(sc, row->fields[f], &zh) >= 0) return true;
    return false;
}

int cet_sheet_header(cet_sheet_t *s, const cet_sheet_schema_t *sc, cet_sheet_map_t *map,
                     cet_sheet_problem_t *probs, int probs_max, int *nprobs)
{
    CET_ASSERT_INFO(sc->ncols <= CET_SHEET_FIELDS_MAX, "schema %s has %d columns", sc->kind,
                    sc->ncols);
    memset(map, 0, sizeof *map);
    map->schema = sc;
    map->xlsx = s->enc == CET_SHEET_ENC_XLSX;
    for (int i = 0; i < CET_SHEET_FIELDS_MAX; i++)
        map->idx[i] = -1;
    *nprobs = 0;
    cet_sheet_row_t row;
    cet_sheet_problem_t p;
    int r;
    /* title rows above the header ("2026年学籍名单", one cell) are skipped when the row
     * under them names a column */
    for (int title = 0;; title++) {
        sheet_mark_t before = sheet_mark(s);
        r = cet_sheet_next(s, &row, &p);
        if (r != 1 || title == CET_SHEET_TITLE_ROWS_MAX || !title_row(sc, &row)) break;
        sheet_mark_t after = sheet_mark(s);
        cet_sheet_row_t next;
        bool names = cet_sheet_next(s, &next, &p) == 1 && names_a_column(sc, &next);
        sheet_back(s, names ? after : before);
        if (!names) {
            r = cet_sheet_next(s, &row, &p);
            break;
        }
    }
    if (r == 0) {
        sheet_problem(&p, CET_E_SHEET_EMPTY, 1, NULL, "the file is empty: a header row is needed");
        r = CET_REFUSED;
    }
    if (r < 0) {
        add_problem(probs, probs_max, nprobs, &p);
        return CET_REFUSED;
    }
    map->header_line = row.line;
    map->nfields = row.nfields;
    bool listed = false;
    for (int f = 0; f < row.nfields; f++) {
        if (row.fields[f][0] == 0) continue; /* an unnamed column is ignored */
        bool zh = false;
        int i = header_find(sc, row.fields[f], &zh);
        if (i < 0) {
            unknown_column(sc, &row, f, !listed, &p); /* the columns are listed once */
            listed = true;
            add_problem(probs, probs_max, nprobs, &p);
        } else if (map->idx[i] >= 0) {
            sheet_problem(&p, CET_E_SHEET_DUPLICATE_COLUMN, row.line, sc->cols[i].name,
                          "column '%s' appears twice", row.fields[f]);
            add_problem(probs, probs_max, nprobs, &p);
        } else {
            map->idx[i] = f;
            if (zh) map->via_zh |= 1ULL << i;
        }
    }
    for (int i = 0; i < sc->ncols; i++) {
        if (map->idx[i] >= 0 || !sc->cols[i].required) continue;
        sheet_problem(&p, CET_E_SHEET_MISSING_COLUMN, row.line, sc->cols[i].name,
                      "missing column '%s' (%s)", sc->cols[i].name, sc->cols[i].zh);
        add_problem(probs, probs_max, nprobs, &p);
    }
    if (*nprobs) return CET_REFUSED;
    /* a second header row in the other language (the template's) is skipped */
    sheet_mark_t m = sheet_mark(s);
    if (cet_sheet_next(s, &row, &p) == 1) {
        bool header2 = true;
        for (int i = 0; i < sc->ncols && header2; i++) {
            int f = map->idx[i];
            if (f < 0) continue;
            bool zh;
            header2 = f < row.nfields && header_find(sc, row.fields[f], &zh) == i;
        }
        if (header2) return 0;
    }
    sheet_back(s, m);
    return 0;
}

/* ---- the values of a row ---- */

/* 1.10108E+17, 1.1E17, -2e+05: what Excel shows (and saves to CSV) for a long number. */
static bool is_scientific(const char *v)
{
    const char *p = v;
    if (*p == '+' || *p == '-') p++;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != 'e' && *p != 'E') return false;
    p++;
    if (*p == '+' || *p == '-') p++;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == 0;
}

static size_t significant_digits(const char *v)
{
    size_t n = 0;
    bool lead = true;
    for (const char *p = v; *p && *p != 'e' && *p != 'E'; p++) {
        if (*p < '0' || *p > '9') continue;
        if (lead && *p == '0') continue;
        lead = false;
        n++;
    }
    return n;
}

/* The canonical value of v in a "canon=a|b;canon2=c" list, copied to out; NULL when none. */
static const char *value_alias(const char *values, const char *v, char *out, size_t cap)
{
    char norm[CET_SHEET_NAME_BYTES_MAX * 2];
    header_norm(v, norm, sizeof norm);
    for (const char *p = values; *p;) {
        const char *eq = strchr(p, '='), *semi = strchr(p, ';');
        if (!semi) semi = p + strlen(p);
        CET_ASSERT_INFO(eq && eq < semi, "value aliases '%s' are malformed", values);
        char list[CET_SHEET_MESSAGE_BYTES_MAX];
        size_t k = (size_t)(semi - eq - 1);
        CET_ASSERT_INFO(k < sizeof list, "value alias list too long in '%s'", values);
        memcpy(list, eq + 1, k);
        list[k] = 0;
        const char *canon = *p == '!' ? p + 1 : p; /* '!': read, never offered */
        if (name_in(norm, list) && (size_t)(eq - canon) < cap) {
            memcpy(out, canon, (size_t)(eq - canon));
            out[eq - canon] = 0;
            return out;
        }
        p = *semi ? semi + 1 : semi;
    }
    return NULL;
}

int cet_sheet_values(cet_sheet_t *s, const cet_sheet_map_t *map, const cet_sheet_row_t *row,
                     const char *vals[CET_SHEET_FIELDS_MAX], cet_sheet_problem_t *why)
{
    const cet_sheet_schema_t *sc = map->schema;
    memset(why, 0, sizeof *why);
    if (!map->xlsx && row->nfields != map->nfields)
        return sheet_problem(why, CET_E_SHEET_FIELD_COUNT, row->line, NULL,
                             "%d fields, the header has %d", row->nfields, map->nfields);
    for (int f = map->nfields; f < row->nfields; f++)
        if (row->fields[f][0])
            return sheet_problem(why, CET_E_SHEET_FIELD_COUNT, row->line, NULL,
                                 "a value in column %d, right of the header's last column", f + 1);
    char *w = s->vals, *wend = s->vals + CET_SHEET_ROW_BYTES_MAX + CET_SHEET_FIELDS_MAX;
    for (int i = 0; i < sc->ncols; i++) {
        const cet_sheet_col_t *c = &sc->cols[i];
        int f = map->idx[i];
        const char *v = (f >= 0 && f < row->nfields) ? row->fields[f] : "";
        vals[i] = v;
        if (!*v) continue;
        if (c->kind == CET_SHEET_DIGITS) {
            /* identifiers: spaces around them and the ="..." of other exports are dropped */
            const char *b = v, *e = v + strlen(v);
            while (*b == ' ' || *b == '\t')
                b++;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e - b >= 3 && b[0] == '=' && b[1] == '"' && e[-1] == '"') b += 2, e--;
            if (b != v || *e) {
                size_t k = (size_t)(e - b);
                CET_ASSERT_INFO(w + k + 1 <= wend, "values scratch overflow at column %s", c->name);
                memcpy(w, b, k);
                w[k] = 0;
                vals[i] = v = w;
                w += k + 1;
            }
            bool number_cell = f < 64 && (row->numeric >> f & 1);
            if (is_scientific(v) ||
                (number_cell && significant_digits(v) > CET_SHEET_EXCEL_DIGITS_MAX))
                return sheet_problem(
                    why, CET_E_SHEET_EXCEL_NUMBER, row->line, c->name,
                    "%s '%s' is a number as Excel shows a long one: Excel keeps only " CET_STR(
                        CET_SHEET_EXCEL_DIGITS_MAX) " digits, so the rest of this value is "
                                                    "lost. Format the column as text "
                                                    "(设置单元格格式 → 文本), enter the values "
                                                    "again (or paste them from the source as text) "
                                                    "and save the file again",
                    c->name, v);
        }
        if (c->values) {
            char canon[CET_SHEET_NAME_BYTES_MAX];
            const char *a = value_alias(c->values, v, canon, sizeof canon);
            if (a) {
                size_t k = strlen(a);
                CET_ASSERT_INFO(w + k + 1 <= wend, "values scratch overflow at column %s", c->name);
                memcpy(w, a, k + 1);
                vals[i] = w;
                w += k + 1;
            }
        }
    }
    for (int i = sc->ncols; i < CET_SHEET_FIELDS_MAX; i++)
        vals[i] = "";
    return 0;
}

int cet_sheet_money_parse(const char *s, bool yuan, uint64_t max_fen, uint64_t *out)
{
    if (!s || !*s) return -1;
    uint64_t whole = 0, frac = 0;
    int fdigits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > max_fen) return -1;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (p == s) return -1;
    if (*p == '.') {
        yuan = true;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++fdigits > 2) return -1;
            frac = frac * 10 + (uint64_t)(*p - '0');
        }
        if (fdigits == 0) return -1;
        if (fdigits == 1) frac *= 10;
    }
    if (*p) return -1;
    uint64_t fen = whole;
    if (yuan) {
        if (whole > max_fen / 100 + 1) return -1;
        fen = whole * 100 + frac;
    }
    if (fen > max_fen) return -1;
    *out = fen;
    return 0;
}
