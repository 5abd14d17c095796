/*
 * cet_sheet_xlsx.c: the first worksheet of an .xlsx workbook, read with libzip
 * (the archive, from memory) and expat (the XML, streamed).
 *
 * Debian 12 has no C library that reads .xlsx (libfreexl 1.0 reads only the
 * old .xls; libxlsxwriter only writes), so this reads the three parts that
 * matter itself: xl/workbook.xml and its relationships (which part is the
 * first sheet, where the shared strings are), xl/sharedStrings.xml and the
 * sheet. Every part is decompressed in CET_SHEET_READ_CHUNK_BYTES pieces
 * straight into expat and counted, so a zip bomb stops at
 * CET_SHEET_XLSX_PART_BYTES_MAX; a DOCTYPE (never in an .xlsx, the door to
 * entity expansion) stops the parse. Rows keep the row number Excel shows.
 */
#include <expat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "base/cet_base.h"
#include "base/cet_sheet_internal.h"

#define XLSX_NAME_BYTES_MAX 256 /* a part name inside the archive */
#define SS_TOO_LONG UINT32_MAX  /* a shared string's offset when it is over the cell limit */

/* ---- streaming one part through expat ---- */
typedef struct xml_job {
    XML_Parser p;
    int depth;
    char why[160]; /* set when a handler stops the parse */
} xml_job_t;

static const char *local_name(const char *n)
{
    const char *c = strrchr(n, ':');
    return c ? c + 1 : n;
}

static const char *attr(const char **atts, const char *want)
{
    for (int i = 0; atts[i]; i += 2)
        if (strcmp(local_name(atts[i]), want) == 0) return atts[i + 1];
    return NULL;
}

static void job_stop(xml_job_t *j, const char *why)
{
    if (!j->why[0]) snprintf(j->why, sizeof j->why, "%s", why);
    XML_StopParser(j->p, XML_FALSE);
}

static void XMLCALL doctype_cb(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int internal)
{
    job_stop(ud, "a DOCTYPE, which no workbook has");
    (void)name, (void)sysid, (void)pubid, (void)internal;
}

/*
 * Streams the part `name` of z through a parser whose user data is job (the
 * handlers' state starts with an xml_job_t). 0 ok, 1 no such part, -1 with
 * why: broken, too large or stopped by a handler.
 */
static int xml_part(zip_t *z, const char *name, uint64_t max_bytes, xml_job_t *job,
                    XML_StartElementHandler start, XML_EndElementHandler end,
                    XML_CharacterDataHandler text, char *why, size_t why_cap)
{
    zip_int64_t idx = zip_name_locate(z, name, 0);
    if (idx < 0) return 1;
    zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)idx, 0);
    if (!f) {
        snprintf(why, why_cap, "%s cannot be opened: %s", name, zip_strerror(z));
        return -1;
    }
    XML_Parser p = XML_ParserCreate("UTF-8");
    CET_ASSERT_INFO(p != NULL, "expat cannot create a parser for %s", name);
    job->p = p;
    job->depth = 0;
    job->why[0] = 0;
    XML_SetUserData(p, job);
    XML_SetElementHandler(p, start, end);
    XML_SetCharacterDataHandler(p, text);
    XML_SetStartDoctypeDeclHandler(p, doctype_cb);
    char *buf = cet_malloc(CET_SHEET_READ_CHUNK_BYTES);
    uint64_t total = 0;
    int rc = 0;
    for (;;) {
        zip_int64_t n = zip_fread(f, buf, CET_SHEET_READ_CHUNK_BYTES);
        if (n < 0) {
            snprintf(why, why_cap, "%s is damaged: %s", name, zip_file_strerror(f));
            rc = -1;
            break;
        }
        total += (uint64_t)n;
        if (total > max_bytes) {
            snprintf(why, why_cap, "%s unpacks to more than %llu bytes", name,
                     (unsigned long long)max_bytes);
            rc = -1;
            break;
        }
        if (XML_Parse(p, buf, (int)n, n == 0) != XML_STATUS_OK) {
            if (job->why[0])
                snprintf(why, why_cap, "%s: %s", name, job->why);
            else
                snprintf(why, why_cap, "%s is not well-formed XML (line %lu: %s)", name,
                         (unsigned long)XML_GetCurrentLineNumber(p),
                         XML_ErrorString(XML_GetErrorCode(p)));
            rc = -1;
            break;
        }
        if (n == 0) break;
    }
    cet_free(buf);
    XML_ParserFree(p);
    zip_fclose(f);
    return rc;
}

static void depth_in(xml_job_t *j)
{
    if (++j->depth > CET_SHEET_XML_DEPTH_MAX) job_stop(j, "elements nested too deep");
}

/* ---- a growable text buffer for the element being read ---- */
typedef struct tbuf {
    char *s;
    size_t n, cap;
    bool over; /* more than CET_SHEET_XLSX_CELL_BYTES_MAX */
} tbuf_t;

static void tbuf_add(tbuf_t *b, const char *s, size_t n)
{
    if (b->n + n > CET_SHEET_XLSX_CELL_BYTES_MAX) {
        b->over = true;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = cet_realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void tbuf_clear(tbuf_t *b)
{
    b->n = 0;
    b->over = false;
    if (b->s) b->s[0] = 0;
}

/* ---- workbook.xml and its relationships: where the first sheet is ---- */
typedef struct wb_job {
    xml_job_t job;
    char sheet_rid[XLSX_NAME_BYTES_MAX];
    const char *want_rid;
    char sheet_target[XLSX_NAME_BYTES_MAX], strings_target[XLSX_NAME_BYTES_MAX];
} wb_job_t;

static void XMLCALL wb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    wb_job_t *w = ud;
    depth_in(&w->job);
    const char *ln = local_name(name);
    if (strcmp(ln, "sheet") == 0 && !w->sheet_rid[0]) {
        const char *id = attr(atts, "id");
        if (id) snprintf(w->sheet_rid, sizeof w->sheet_rid, "%s", id);
    } else if (strcmp(ln, "Relationship") == 0) {
        const char *id = attr(atts, "Id"), *target = attr(atts, "Target"),
                   *type = attr(atts, "Type");
        if (!target) return;
        if (id && w->want_rid && strcmp(id, w->want_rid) == 0)
            snprintf(w->sheet_target, sizeof w->sheet_target, "%s", target);
        size_t tl = type ? strlen(type) : 0;
        if (tl >= 14 && strcmp(type + tl - 14, "/sharedStrings") == 0)
            snprintf(w->strings_target, sizeof w->strings_target, "%s", target);
    }
}

static void XMLCALL wb_end(void *ud, const XML_Char *name)
{
    ((wb_job_t *)ud)->job.depth--;
    (void)name;
}

static void XMLCALL no_text(void *ud, const XML_Char *s, int len)
{
    (void)ud, (void)s, (void)len;
}

/* "worksheets/sheet1.xml" (relative to xl/) or "/xl/worksheets/sheet1.xml" -> a part name. */
static void part_name(const char *target, char *out, size_t cap)
{
    if (target[0] == '/') {
        cet_strlcpy(out, target + 1, cap);
    } else {
        cet_strlcpy(out, "xl/", cap);
        cet_strlcpy(out + 3, target, cap - 3);
    }
}

/* ---- sharedStrings.xml ---- */
typedef struct ss_job {
    xml_job_t job;
    char *arena;
    size_t arena_n, arena_cap;
    uint32_t *off;
    size_t n, cap;
    bool in_si, in_t;
    int rph; /* inside <rPh> (phonetic runs: not part of the text) */
    tbuf_t text;
} ss_job_t;

static void XMLCALL ss_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    ss_job_t *j = ud;
    depth_in(&j->job);
    const char *ln = local_name(name);
    if (strcmp(ln, "si") == 0) {
        j->in_si = true;
        tbuf_clear(&j->text);
    } else if (strcmp(ln, "rPh") == 0) {
        j->rph++;
    } else if (strcmp(ln, "t") == 0 && j->in_si && !j->rph) {
        j->in_t = true;
    }
    (void)atts;
}

static void XMLCALL ss_end(void *ud, const XML_Char *name)
{
    ss_job_t *j = ud;
    j->job.depth--;
    const char *ln = local_name(name);
    if (strcmp(ln, "t") == 0) {
        j->in_t = false;
    } else if (strcmp(ln, "rPh") == 0) {
        j->rph--;
    } else if (strcmp(ln, "si") == 0) {
        j->in_si = false;
        if (j->n >= CET_SHEET_XLSX_STRINGS_MAX) {
            job_stop(&j->job, "more shared strings than " CET_STR(CET_SHEET_XLSX_STRINGS_MAX));
            return;
        }
        if (j->n == j->cap) {
            j->cap = j->cap ? 2 * j->cap : 1024;
            j->off = cet_realloc(j->off, j->cap * sizeof *j->off);
        }
        if (j->text.over) { /* longer than Excel's cell limit: the rows that use it are refused */
            j->off[j->n++] = SS_TOO_LONG;
            return;
        }
        size_t k = j->text.n;
        if (j->arena_n + k + 1 > j->arena_cap) {
            j->arena_cap = (j->arena_n + k + 1) * 2;
            j->arena = cet_realloc(j->arena, j->arena_cap);
        }
        CET_ASSERT_INFO(j->arena_n < SHEET_X_SHARED, "shared strings at %zu bytes", j->arena_n);
        j->off[j->n++] = (uint32_t)j->arena_n;
        if (k) memcpy(j->arena + j->arena_n, j->text.s, k);
        j->arena[j->arena_n + k] = 0;
        j->arena_n += k + 1;
    }
}

static void XMLCALL ss_text(void *ud, const XML_Char *s, int len)
{
    ss_job_t *j = ud;
    if (j->in_t) tbuf_add(&j->text, s, (size_t)len);
}

/* ---- the worksheet ---- */
typedef struct ws_job {
    xml_job_t job;
    cet_sheet_t *s;
    const ss_job_t *ss;
    bool in_row, in_cell, in_v, in_is, in_t;
    int rph;
    sheet_xrow_t row;
    unsigned last_line;
    int col, next_col;
    char type[8];
    tbuf_t text;
} ws_job_t;

/* "BC12" -> column 54 (0-based); -1 when it has no letters or is past XFD. */
static int col_of_ref(const char *r)
{
    int c = 0, n = 0;
    for (; *r >= 'A' && *r <= 'Z'; r++, n++) {
        c = c * 26 + (*r - 'A' + 1);
        if (c > CET_SHEET_XLSX_COL_MAX) return -1;
    }
    return n ? c - 1 : -1;
}

static uint32_t arena_add(cet_sheet_t *s, const char *v, size_t k)
{
    if (s->x_arena_len + k + 1 > s->x_arena_cap) {
        s->x_arena_cap = (s->x_arena_len + k + 1) * 2;
        s->x_arena = cet_realloc(s->x_arena, s->x_arena_cap);
    }
    CET_ASSERT_INFO(s->x_arena_len + k < SHEET_X_SHARED, "xlsx arena at %zu bytes", s->x_arena_len);
    uint32_t off = (uint32_t)s->x_arena_len;
    memcpy(s->x_arena + off, v, k);
    s->x_arena[off + k] = 0;
    s->x_arena_len += k + 1;
    return off;
}

static void cell_push(cet_sheet_t *s, uint32_t off)
{
    if (s->x_ncells == s->x_cells_cap) {
        s->x_cells_cap = s->x_cells_cap ? 2 * s->x_cells_cap : 4096;
        s->x_cells = cet_realloc(s->x_cells, s->x_cells_cap * sizeof *s->x_cells);
    }
    s->x_cells[s->x_ncells++] = off;
}

static void row_refuse(ws_job_t *j, cet_err_t e)
{
    if (!j->row.err) j->row.err = (uint16_t)((int)e - (int)CET_E__BASE);
}

/*
 * A number cell's text as a person typed it: integers below 10^15 in plain
 * digits ("2024220001" even when stored as 2.024220001E9), other values as
 * written ("1.10108199901011E+17" stays, so an identifier column refuses it).
 */
static void number_text(const char *v, char *out, size_t cap)
{
    char *end;
    double d = strtod(v, &end);
    if (*v && !*end && isfinite(d) && d == floor(d) && fabs(d) < 1e15)
        snprintf(out, cap, "%.0f", d);
    else
        snprintf(out, cap, "%s", v);
}

static void cell_done(ws_job_t *j)
{
    cet_sheet_t *s = j->s;
    if (j->text.over) {
        row_refuse(j, CET_E_SHEET_ROW_TOO_LONG);
        return;
    }
    const char *v = j->text.s ? j->text.s : "";
    char num[64];
    bool numeric = false;
    uint32_t shared = 0; /* a shared string's offset with SHEET_X_SHARED, kept as is */
    if (strcmp(j->type, "s") == 0) {
        if (!*v) return; /* <c t="s"/>: an empty cell */
        char *end;
        unsigned long k = strtoul(v, &end, 10);
        if (!*v || *end || k >= j->ss->n) {
            job_stop(&j->job, "a cell names a shared string that does not exist");
            return;
        }
        if (j->ss->off[k] == SS_TOO_LONG) {
            row_refuse(j, CET_E_SHEET_ROW_TOO_LONG);
            return;
        }
        shared = j->ss->off[k] | SHEET_X_SHARED;
        v = j->ss->arena + j->ss->off[k];
    } else if (!j->type[0] || strcmp(j->type, "n") == 0) {
        if (!*v) return;
        number_text(v, num, sizeof num);
        v = num;
        numeric = true;
    }
    if (!*v) return; /* empty cells are not stored: the row is padded when read */
    if (j->col < j->row.n) {
        job_stop(&j->job, "cells out of column order");
        return;
    }
    if (j->col >= CET_SHEET_FIELDS_MAX) {
        row_refuse(j, CET_E_SHEET_ROW_TOO_LONG);
        return;
    }
    while (j->row.n < j->col) {
        cell_push(s, 0); /* offset 0 is the arena's empty string */
        j->row.n++;
    }
    size_t vlen = strlen(v);
    if (!shared && s->x_arena_len + vlen + 1 >= SHEET_X_SHARED) {
        job_stop(&j->job, "more cell text than a 1 GiB sheet can hold");
        return;
    }
    cell_push(s, shared ? shared : arena_add(s, v, vlen));
    if (numeric) j->row.numeric |= 1ULL << j->col;
    j->row.n++;
}

static void XMLCALL ws_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    ws_job_t *j = ud;
    depth_in(&j->job);
    const char *ln = local_name(name);
    if (strcmp(ln, "row") == 0) {
        const char *r = attr(atts, "r");
        unsigned line = r ? (unsigned)strtoul(r, NULL, 10) : j->last_line + 1;
        if (line <= j->last_line || line > CET_SHEET_XLSX_ROWS_MAX) {
            job_stop(&j->job, "rows out of order or past row " CET_STR(CET_SHEET_XLSX_ROWS_MAX));
            return;
        }
        j->last_line = line;
        memset(&j->row, 0, sizeof j->row);
        j->row.line = line;
        j->row.first = (uint32_t)j->s->x_ncells;
        j->in_row = true;
        j->next_col = 0;
    } else if (strcmp(ln, "c") == 0 && j->in_row) {
        const char *r = attr(atts, "r"), *t = attr(atts, "t");
        j->col = r ? col_of_ref(r) : j->next_col;
        if (j->col < 0) {
            job_stop(&j->job, "a cell reference is not a column letter and row");
            return;
        }
        j->next_col = j->col + 1;
        snprintf(j->type, sizeof j->type, "%s", t ? t : "");
        j->in_cell = true;
        tbuf_clear(&j->text);
    } else if (j->in_cell && strcmp(ln, "v") == 0) {
        j->in_v = true;
    } else if (j->in_cell && strcmp(ln, "is") == 0) {
        j->in_is = true;
    } else if (j->in_is && strcmp(ln, "rPh") == 0) {
        j->rph++;
    } else if (j->in_is && !j->rph && strcmp(ln, "t") == 0) {
        j->in_t = true;
    }
}

static void XMLCALL ws_end(void *ud, const XML_Char *name)
{
    ws_job_t *j = ud;
    j->job.depth--;
    const char *ln = local_name(name);
    if (strcmp(ln, "v") == 0) {
        j->in_v = false;
    } else if (strcmp(ln, "t") == 0) {
        j->in_t = false;
    } else if (strcmp(ln, "rPh") == 0 && j->rph) {
        j->rph--;
    } else if (strcmp(ln, "is") == 0) {
        j->in_is = false;
    } else if (strcmp(ln, "c") == 0 && j->in_cell) {
        j->in_cell = false;
        cell_done(j);
    } else if (strcmp(ln, "row") == 0 && j->in_row) {
        j->in_row = false;
        cet_sheet_t *s = j->s;
        if (j->row.n == 0 && !j->row.err) return; /* an empty row is blank */
        if (j->row.err) {                         /* a refused row keeps no cells */
            s->x_ncells = j->row.first;
            j->row.n = 0;
        }
        if (s->x_nrows == s->x_rows_cap) {
            s->x_rows_cap = s->x_rows_cap ? 2 * s->x_rows_cap : 1024;
            s->x_rows = cet_realloc(s->x_rows, s->x_rows_cap * sizeof *s->x_rows);
        }
        s->x_rows[s->x_nrows++] = j->row;
    }
}

static void XMLCALL ws_text(void *ud, const XML_Char *txt, int len)
{
    ws_job_t *j = ud;
    if (j->in_v || j->in_t) tbuf_add(&j->text, txt, (size_t)len);
}

static int unreadable(cet_sheet_problem_t *why, const char *what)
{
    return sheet_problem(why, CET_E_SHEET_UNREADABLE, 0, NULL,
                         "the .xlsx workbook cannot be read (%s): open it in Excel or WPS and "
                         "save it again as .xlsx, or save it as CSV UTF-8",
                         what);
}

int sheet_xlsx_load(cet_sheet_t *s, const void *data, size_t len, cet_sheet_problem_t *why)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    if (!src) {
        zip_error_fini(&ze);
        return unreadable(why, "the ZIP archive cannot be opened");
    }
    zip_t *z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!z) {
        char what[160];
        snprintf(what, sizeof what, "the ZIP archive is damaged: %s", zip_error_strerror(&ze));
        zip_source_free(src);
        zip_error_fini(&ze);
        return unreadable(why, what);
    }
    zip_error_fini(&ze);
    int rc = 0;
    char msg[320] = "";
    ss_job_t ss;
    memset(&ss, 0, sizeof ss);
    ws_job_t ws;
    memset(&ws, 0, sizeof ws);
    if (zip_get_num_entries(z, 0) > CET_SHEET_XLSX_ENTRIES_MAX) {
        rc = unreadable(why, "more than " CET_STR(CET_SHEET_XLSX_ENTRIES_MAX) " files in it");
        goto out;
    }
    wb_job_t wb;
    memset(&wb, 0, sizeof wb);
    int r = xml_part(z, "xl/workbook.xml", CET_SHEET_XLSX_META_BYTES_MAX, &wb.job, wb_start, wb_end,
                     no_text, msg, sizeof msg);
    if (r == 1) {
        rc = sheet_problem(why, CET_E_SHEET_UNREADABLE, 0, NULL,
                           "this ZIP archive is not an .xlsx workbook (it has no xl/workbook.xml)"
                           ": send the roster as .xlsx or CSV");
        goto out;
    }
    if (r < 0) goto broken;
    wb.want_rid = wb.sheet_rid;
    r = xml_part(z, "xl/_rels/workbook.xml.rels", CET_SHEET_XLSX_META_BYTES_MAX, &wb.job, wb_start,
                 wb_end, no_text, msg, sizeof msg);
    if (r < 0) goto broken;
    char sheet_part[XLSX_NAME_BYTES_MAX + 8], strings_part[XLSX_NAME_BYTES_MAX + 8];
    part_name(wb.sheet_target[0] ? wb.sheet_target : "worksheets/sheet1.xml", sheet_part,
              sizeof sheet_part);
    part_name(wb.strings_target[0] ? wb.strings_target : "sharedStrings.xml", strings_part,
              sizeof strings_part);
    r = xml_part(z, strings_part, CET_SHEET_XLSX_PART_BYTES_MAX, &ss.job, ss_start, ss_end, ss_text,
                 msg, sizeof msg);
    if (r < 0) goto broken;
    s->x_arena_cap = 4096;
    s->x_arena = cet_malloc(s->x_arena_cap);
    s->x_arena[0] = 0;
    s->x_arena_len = 1;
    ws.s = s;
    ws.ss = &ss;
    r = xml_part(z, sheet_part, CET_SHEET_XLSX_PART_BYTES_MAX, &ws.job, ws_start, ws_end, ws_text,
                 msg, sizeof msg);
    if (r == 1) {
        snprintf(msg, sizeof msg, "its first worksheet %s is missing", sheet_part);
        goto broken;
    }
    if (r < 0) goto broken;
    goto out;
broken:
    rc = unreadable(why, msg);
out:
    if (rc == 0) { /* the cells point into the shared strings: the sheet keeps them */
        s->x_strings = ss.arena;
        ss.arena = NULL;
    }
    cet_free(ss.arena);
    cet_free(ss.off);
    cet_free(ss.text.s);
    cet_free(ws.text.s);
    zip_discard(z); /* read-only: nothing to write; frees the source */
    return rc;
}
