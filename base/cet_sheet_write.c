/*
 * cet_sheet_write.c: writing school files (cet_sheet.h): the operator's CSV,
 * the teacher's CSV (BOM, CRLF, Chinese) and .xlsx through libxlsxwriter.
 *
 * IDs in a CSV are written as their plain text. A CSV cannot tell Excel that
 * a column is text: the tricks (="110...", a leading tab or apostrophe)
 * change the value for every other program and for the import back, so the
 * file stays exact RFC 4180 and the .xlsx format, whose ID cells are text
 * cells, is the one to open in Excel (docs/data-formats.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "base/cet_base.h"
#include "base/cet_sheet.h"

struct cet_sheet_writer {
    cet_sheet_format_t fmt;
    const cet_sheet_schema_t *sc;
    cet_sheet_sink_cb sink;
    void *arg;
    int col; /* next cell of the current row */
    uint64_t rows;
    int err;      /* first sink error: every later call returns it */
    bool started; /* header written */
    /* CSV */
    char *buf;
    size_t n;
    /* xlsx */
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *f_head, *f_head2, *f_text, *f_money;
    uint32_t xrow;
    char tmpdir[512];
    char path[600];
};

cet_sheet_format_t cet_sheet_format_parse(const char *s)
{
    if (!s) return 0;
    if (strcmp(s, "data") == 0) return CET_SHEET_FMT_DATA;
    if (strcmp(s, "csv") == 0) return CET_SHEET_FMT_CSV;
    if (strcmp(s, "xlsx") == 0) return CET_SHEET_FMT_XLSX;
    return 0;
}

const char *cet_sheet_content_type(cet_sheet_format_t fmt)
{
    return fmt == CET_SHEET_FMT_XLSX
               ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
               : "text/csv; charset=utf-8";
}

const char *cet_sheet_file_ext(cet_sheet_format_t fmt)
{
    return fmt == CET_SHEET_FMT_XLSX ? "xlsx" : "csv";
}

/* ---- CSV ---- */
static int flush(cet_sheet_writer_t *w)
{
    if (w->err || !w->n) return w->err;
    w->err = w->sink(w->arg, w->buf, w->n);
    w->n = 0;
    return w->err;
}

static void emit(cet_sheet_writer_t *w, const char *s, size_t k)
{
    if (w->err) return;
    while (k) {
        if (w->n == CET_SHEET_WRITE_BUF_BYTES && flush(w)) return;
        size_t room = CET_SHEET_WRITE_BUF_BYTES - w->n, c = k < room ? k : room;
        memcpy(w->buf + w->n, s, c);
        w->n += c, s += c, k -= c;
    }
}

static void csv_field(cet_sheet_writer_t *w, const char *s)
{
    if (w->col) emit(w, ",", 1);
    size_t n = strlen(s);
    bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    if (!quote && strpbrk(s, ",\"\r\n")) quote = true;
    if (!quote) {
        emit(w, s, n);
        return;
    }
    emit(w, "\"", 1);
    for (const char *p = s; *p;) {
        const char *q = strchr(p, '"');
        size_t k = q ? (size_t)(q - p) + 1 : strlen(p);
        emit(w, p, k);
        if (q) emit(w, "\"", 1);
        p += k;
    }
    emit(w, "\"", 1);
}

static void csv_eol(cet_sheet_writer_t *w)
{
    if (w->fmt == CET_SHEET_FMT_CSV)
        emit(w, "\r\n", 2);
    else
        emit(w, "\n", 1);
}

/* ---- xlsx ---- */
static int xlsx_start(cet_sheet_writer_t *w, bool constant_memory)
{
    const char *dir = w->tmpdir[0] ? w->tmpdir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(w->path, sizeof w->path, "%s/cet-sheet-XXXXXX", dir);
    int fd = mkstemp(w->path);
    if (fd < 0) {
        w->path[0] = 0;
        return errno ? errno : EIO;
    }
    close(fd);
    lxw_workbook_options o = {
        .constant_memory = constant_memory, .tmpdir = (char *)dir, .use_zip64 = LXW_FALSE};
    w->wb = workbook_new_opt(w->path, &o);
    if (!w->wb) return EIO;
    char name[32];
    cet_strlcpy(name, w->sc->zh, sizeof name); /* Excel: at most 31 characters */
    w->ws = workbook_add_worksheet(w->wb, name);
    if (!w->ws) return EIO;
    w->f_head = workbook_add_format(w->wb);
    format_set_bold(w->f_head);
    format_set_bg_color(w->f_head, 0xDDEBF7);
    w->f_head2 = workbook_add_format(w->wb);
    format_set_italic(w->f_head2);
    format_set_font_color(w->f_head2, 0x808080);
    w->f_text = workbook_add_format(w->wb);
    format_set_num_format(w->f_text, "@");
    w->f_money = workbook_add_format(w->wb);
    format_set_num_format(w->f_money, "0.00");
    for (int i = 0; i < w->sc->ncols; i++) {
        const cet_sheet_col_t *c = &w->sc->cols[i];
        worksheet_set_column(w->ws, (lxw_col_t)i, (lxw_col_t)i, c->width ? c->width : 12,
                             c->kind == CET_SHEET_DIGITS ? w->f_text : NULL);
    }
    return 0;
}

/* The value written for s in column c: a teacher's file shows the first alias. */
static const char *shown_value(const cet_sheet_writer_t *w, const cet_sheet_col_t *c, const char *s,
                               char *buf, size_t cap)
{
    if (w->fmt == CET_SHEET_FMT_DATA || !c->values || !*s) return s;
    size_t sl = strlen(s);
    for (const char *p = c->values; *p;) {
        const char *eq = strchr(p, '='), *semi = strchr(p, ';');
        if (!semi) semi = p + strlen(p);
        if (eq && (size_t)(eq - p) == sl && memcmp(p, s, sl) == 0) {
            const char *a = eq + 1, *bar = strchr(a, '|');
            size_t k = (size_t)((bar && bar < semi ? bar : semi) - a);
            if (k < cap) {
                memcpy(buf, a, k);
                buf[k] = 0;
                return buf;
            }
        }
        p = *semi ? semi + 1 : semi;
    }
    return s;
}

static const char *header_name(const cet_sheet_writer_t *w, const cet_sheet_col_t *c)
{
    return w->fmt == CET_SHEET_FMT_DATA ? c->name : c->zh;
}

/* Writes the header row(s): the template adds the English names as a second row. */
static int start(cet_sheet_writer_t *w, bool template)
{
    if (w->started) return w->err;
    w->started = true;
    const cet_sheet_schema_t *sc = w->sc;
    if (w->fmt == CET_SHEET_FMT_XLSX) {
        int rc = xlsx_start(w, !template);
        if (rc) return w->err = rc;
        for (int i = 0; i < sc->ncols; i++)
            worksheet_write_string(w->ws, 0, (lxw_col_t)i, header_name(w, &sc->cols[i]), w->f_head);
        w->xrow = 1;
        if (template)
            for (int i = 0; i < sc->ncols; i++)
                worksheet_write_string(w->ws, 1, (lxw_col_t)i, sc->cols[i].name, w->f_head2);
        if (template) w->xrow = 2;
        worksheet_freeze_panes(w->ws, w->xrow, 0);
        return 0;
    }
    w->buf = cet_malloc(CET_SHEET_WRITE_BUF_BYTES);
    if (w->fmt == CET_SHEET_FMT_CSV) emit(w, "\xef\xbb\xbf", 3);
    for (int i = 0; i < sc->ncols; i++, w->col++)
        csv_field(w, header_name(w, &sc->cols[i]));
    csv_eol(w);
    w->col = 0;
    if (template) {
        for (int i = 0; i < sc->ncols; i++, w->col++)
            csv_field(w, sc->cols[i].name);
        csv_eol(w);
        w->col = 0;
    }
    return w->err;
}

int cet_sheet_writer_open(cet_sheet_format_t fmt, const cet_sheet_schema_t *sc, const char *tmpdir,
                          cet_sheet_sink_cb sink, void *arg, cet_sheet_writer_t **out)
{
    CET_ASSERT_INFO(fmt >= CET_SHEET_FMT_DATA && fmt <= CET_SHEET_FMT_XLSX, "format %d", (int)fmt);
    CET_ASSERT_INFO(sc->ncols <= CET_SHEET_FIELDS_MAX, "schema %s: %d columns", sc->kind,
                    sc->ncols);
    cet_sheet_writer_t *w = cet_calloc(1, sizeof *w);
    w->fmt = fmt;
    w->sc = sc;
    w->sink = sink;
    w->arg = arg;
    if (tmpdir) cet_strlcpy(w->tmpdir, tmpdir, sizeof w->tmpdir);
    *out = w;
    return 0;
}

/* The help text of a template column (a header cell comment, the 填表说明 sheet). */
static void col_help(const cet_sheet_col_t *c, char *out, size_t cap)
{
    const char *kind = "";
    switch (c->kind) {
    case CET_SHEET_DIGITS:
        kind = "编号：按文本填写（单元格格式设为“文本”），不要让 Excel 变成 1.1E+17 这样的数字";
        break;
    case CET_SHEET_NUMBER:
        kind = "整数";
        break;
    case CET_SHEET_MONEY:
        kind = "金额（元），如 30.00";
        break;
    case CET_SHEET_TIME:
        kind = "时间，如 2026-12-01T09:00:00+08:00";
        break;
    default:
        kind = "文本";
        break;
    }
    size_t n = (size_t)snprintf(out, cap, "%s（%s）：%s。%s", c->zh, c->name,
                                c->required ? "必填" : "选填", kind);
    if (c->values && n < cap) {
        n += (size_t)snprintf(out + n, cap - n, "。可填：");
        bool first = true;
        for (const char *p = c->values; *p && n < cap;) {
            const char *eq = strchr(p, '='), *semi = strchr(p, ';');
            if (!semi) semi = p + strlen(p);
            const char *a = eq + 1, *bar = strchr(a, '|');
            int k = (int)((bar && bar < semi ? bar : semi) - a);
            if (*p != '!') { /* a refused value is not offered */
                n += (size_t)snprintf(out + n, cap - n, "%s%.*s", first ? "" : "、", k, a);
                first = false;
            }
            p = *semi ? semi + 1 : semi;
        }
    }
}

int cet_sheet_writer_template(cet_sheet_writer_t *w)
{
    CET_ASSERT_INFO(!w->started, "template of %s after rows were written", w->sc->kind);
    int rc = start(w, true);
    if (rc || w->fmt != CET_SHEET_FMT_XLSX) return rc;
    char help[CET_SHEET_MESSAGE_BYTES_MAX * 2];
    lxw_worksheet *info = workbook_add_worksheet(w->wb, "填表说明");
    if (!info) return w->err = EIO;
    worksheet_set_column(info, 0, 0, 16, NULL);
    worksheet_set_column(info, 1, 1, 16, NULL);
    worksheet_set_column(info, 2, 2, 8, NULL);
    worksheet_set_column(info, 3, 3, 90, NULL);
    static const char *const heads[] = {"列名", "英文列名", "必填", "说明"};
    for (int k = 0; k < 4; k++)
        worksheet_write_string(info, 0, (lxw_col_t)k, heads[k], w->f_head);
    for (int i = 0; i < w->sc->ncols; i++) {
        const cet_sheet_col_t *c = &w->sc->cols[i];
        col_help(c, help, sizeof help);
        worksheet_write_comment(w->ws, 0, (lxw_col_t)i, help);
        worksheet_write_string(info, (lxw_row_t)(i + 1), 0, c->zh, NULL);
        worksheet_write_string(info, (lxw_row_t)(i + 1), 1, c->name, NULL);
        worksheet_write_string(info, (lxw_row_t)(i + 1), 2, c->required ? "是" : "否", NULL);
        worksheet_write_string(info, (lxw_row_t)(i + 1), 3, help, NULL);
    }
    worksheet_write_string(info, (lxw_row_t)(w->sc->ncols + 2), 0,
                           "第 1 行为中文列名，第 2 行为英文列名（导入时两行都会被识别并跳过）；"
                           "从第 3 行起每行一条记录。",
                           NULL);
    return 0;
}

/* ---- cells ---- */
static const cet_sheet_col_t *next_col(cet_sheet_writer_t *w)
{
    CET_ASSERT_INFO(w->col < w->sc->ncols, "%s: cell %d of a row of %d columns", w->sc->kind,
                    w->col + 1, w->sc->ncols);
    return &w->sc->cols[w->col];
}

int cet_sheet_put_str(cet_sheet_writer_t *w, const char *s)
{
    int rc = start(w, false);
    if (rc) return rc;
    const cet_sheet_col_t *c = next_col(w);
    char buf[CET_SHEET_NAME_BYTES_MAX];
    const char *v = shown_value(w, c, s, buf, sizeof buf);
    if (w->fmt == CET_SHEET_FMT_XLSX) {
        if (*v &&
            worksheet_write_string(w->ws, w->xrow, (lxw_col_t)w->col, v,
                                   c->kind == CET_SHEET_DIGITS ? w->f_text : NULL) != LXW_NO_ERROR)
            w->err = EIO;
    } else {
        csv_field(w, v);
    }
    w->col++;
    return w->err;
}

int cet_sheet_put_uint(cet_sheet_writer_t *w, uint64_t v)
{
    int rc = start(w, false);
    if (rc) return rc;
    const cet_sheet_col_t *c = next_col(w);
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    if (w->fmt == CET_SHEET_FMT_XLSX && c->kind == CET_SHEET_NUMBER && !c->values) {
        if (worksheet_write_number(w->ws, w->xrow, (lxw_col_t)w->col, (double)v, NULL) !=
            LXW_NO_ERROR)
            w->err = EIO;
        w->col++;
        return w->err;
    }
    return cet_sheet_put_str(w, b);
}

int cet_sheet_put_money(cet_sheet_writer_t *w, uint64_t fen)
{
    int rc = start(w, false);
    if (rc) return rc;
    next_col(w);
    char b[32];
    if (w->fmt == CET_SHEET_FMT_DATA) {
        snprintf(b, sizeof b, "%llu", (unsigned long long)fen);
    } else if (w->fmt == CET_SHEET_FMT_CSV) {
        snprintf(b, sizeof b, "%llu.%02u", (unsigned long long)(fen / 100), (unsigned)(fen % 100));
    } else {
        if (worksheet_write_number(w->ws, w->xrow, (lxw_col_t)w->col, (double)fen / 100.0,
                                   w->f_money) != LXW_NO_ERROR)
            w->err = EIO;
        w->col++;
        return w->err;
    }
    return cet_sheet_put_str(w, b);
}

int cet_sheet_put_time(cet_sheet_writer_t *w, int64_t t)
{
    char b[26];
    return cet_sheet_put_str(w, t ? cet_time_format(t, b) : "");
}

int cet_sheet_row_end(cet_sheet_writer_t *w)
{
    int rc = start(w, false);
    if (rc) return rc;
    CET_ASSERT_INFO(w->col == w->sc->ncols, "%s: a row of %d cells, the file has %d columns",
                    w->sc->kind, w->col, w->sc->ncols);
    if (w->fmt == CET_SHEET_FMT_XLSX) {
        w->xrow++;
    } else {
        csv_eol(w);
    }
    w->col = 0;
    w->rows++;
    return w->err;
}

uint64_t cet_sheet_writer_rows(const cet_sheet_writer_t *w)
{
    return w->rows;
}

/* Streams the finished workbook file to the sink. */
static int xlsx_send(cet_sheet_writer_t *w)
{
    FILE *f = fopen(w->path, "rb");
    if (!f) return errno ? errno : EIO;
    char *buf = cet_malloc(CET_SHEET_READ_CHUNK_BYTES);
    int rc = 0;
    size_t n;
    while (!rc && (n = fread(buf, 1, CET_SHEET_READ_CHUNK_BYTES, f)) > 0)
        rc = w->sink(w->arg, buf, n);
    if (!rc && ferror(f)) rc = EIO;
    cet_free(buf);
    fclose(f);
    return rc;
}

int cet_sheet_writer_finish(cet_sheet_writer_t *w)
{
    int rc = start(w, false);
    CET_ASSERT_INFO(rc || w->col == 0, "%s: finished in the middle of a row", w->sc->kind);
    if (w->fmt == CET_SHEET_FMT_XLSX) {
        if (w->wb) {
            lxw_error e = workbook_close(w->wb);
            w->wb = NULL;
            if (!rc && e != LXW_NO_ERROR) rc = EIO;
        }
        if (!rc) rc = xlsx_send(w);
    } else if (!rc) {
        rc = flush(w);
    }
    cet_sheet_writer_free(w);
    return rc;
}

void cet_sheet_writer_free(cet_sheet_writer_t *w)
{
    if (!w) return;
    if (w->wb) workbook_close(w->wb); /* frees it; the half-written file is removed below */
    if (w->path[0]) unlink(w->path);
    cet_free(w->buf);
    cet_free(w);
}
