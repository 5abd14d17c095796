/*
 * net_ticket_pdf.c: admission tickets as PDF (contract and thread-safety
 * notes in net_ticket_pdf.h).
 *
 * Page layout (A4, millimetres from the top left):
 *   14..50   title: 全国大学英语四、六级考试 / 准 考 证 / the sitting
 *   56..166  the table: 11 rows of label and value on the left; the photo box
 *            (rows 1-5) and the QR code of the ticket number (rows 6-11) on the right
 *   172..272 考生须知 in a box
 *   278      a footer line
 * One PangoContext per document; every text is a layout of it. Nothing is
 * static except constant text, so concurrent calls share nothing.
 */
#include "net/net_ticket_pdf.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <glib.h>
#include <pango/pangocairo.h>
#include <qrencode.h>
#include <string.h>

#include "base/cet_base.h"

#define MM (72.0 / 25.4) /* PDF points per millimetre */
#define PAGE_W_MM 210.0
#define PAGE_H_MM 297.0
#define TABLE_X_MM 20.0
#define TABLE_W_MM 170.0
#define TABLE_Y_MM 56.0
#define ROW_H_MM 10.0
#define ROWS 11
#define LABEL_W_MM 30.0
#define SIDE_W_MM 44.0 /* photo and QR column */
#define PHOTO_W_MM 30.0
#define PHOTO_H_MM 40.0
#define QR_MM 38.0
#define QR_QUIET_MODULES 4
#define RULES_Y_MM 172.0
#define RULES_H_MM 100.0
#define FOOTER_Y_MM 278.0
/* A fixed date in the PDF's metadata, so the same tickets give the same bytes. */
#define PDF_DATE "2000-01-01T00:00:00+08:00"

static const char *const rules_common[] = {
    "凭本准考证和报名时使用的有效身份证件原件参加考试，二者缺一不可。",
    "请于开考前30分钟到达考点，对号入座，将准考证和身份证件放在桌面左上角。",
    "除规定文具外，不得携带书刊、资料及手机、智能手表、耳机等电子设备入座。",
    "开考后迟到考生不得进入考场；考试结束前不得提前离开考场。",
    /* one rule over two lines: parenthesised, so clang's -Wstring-concatenation
     * sees a deliberate concatenation, not a missing comma */
    ("服从考场工作人员和监考教师管理，自觉遵守考试纪律，考试诚实守信，不违规，不作弊；"
     "违规者按《国家教育考试违规处理办法》处理。"),
    "本须知中有关条形码及题目作答顺序等内容仅针对英语四级和英语六级笔试科目。",
    "请妥善保管本准考证，考后查询成绩须使用准考证号。",
};
static const char *const rule_oral =
    "口试考生请按准考证所示时间提前到候考室报到，听从工作人员安排依次考试。";

/* ---- output: a growing buffer for net_ticket_pdf_render ---- */
typedef struct pdf_buf {
    uint8_t *data;
    size_t len, cap;
    bool too_large;
} pdf_buf_t;

static int buf_write_cb(void *user, const uint8_t *data, size_t len)
{
    pdf_buf_t *b = user;
    if (b->len + len > NET_TICKET_PDF_BYTES_MAX) {
        b->too_large = true;
        return -1;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < b->len + len)
            cap *= 2;
        if (cap > NET_TICKET_PDF_BYTES_MAX) cap = NET_TICKET_PDF_BYTES_MAX;
        b->data = cet_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

typedef struct pdf_stream {
    net_ticket_write_cb cb;
    void *user;
    bool failed;
} pdf_stream_t;

static cairo_status_t stream_write(void *closure, const unsigned char *data, unsigned int len)
{
    pdf_stream_t *s = closure;
    if (s->failed || s->cb(s->user, data, len) != 0) {
        s->failed = true;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

/* ---- input checks ---- */
static bool text_ok(const char *s, size_t cap)
{
    const char *end = memchr(s, 0, cap);
    return end && g_utf8_validate(s, end - s, NULL);
}

static net_ticket_err_t ticket_check(const net_ticket_t *t)
{
    if (strlen(t->ticket) != CET_TICKET_DIGITS) return NET_TICKET_E_BAD_TICKET;
    for (int i = 0; i < CET_TICKET_DIGITS; i++)
        if (t->ticket[i] < '0' || t->ticket[i] > '9') return NET_TICKET_E_BAD_TICKET;
    if (t->room < 1 || t->room > NET_TICKET_ROOM_MAX || t->seat < 1 ||
        t->seat > NET_TICKET_SEAT_MAX)
        return NET_TICKET_E_BAD_TICKET;
    const char *texts[] = {t->sitting_name, t->name,      t->id_type,   t->id_masked, t->school,
                           t->subject,      t->exam_date, t->exam_time, t->campus};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (!text_ok(texts[i], NET_TICKET_TEXT_BYTES)) return NET_TICKET_E_BAD_TEXT;
    return NET_TICKET_OK;
}

/* ---- drawing ---- */
typedef struct pdf_draw {
    cairo_t *cr;
    PangoContext *ctx;
    PangoLayout *layout; /* one layout, re-filled for every text */
    PangoFontDescription *font_title, *font_big, *font_label, *font_value, *font_number,
        *font_small, *font_rule;
} pdf_draw_t;

enum text_align { ALIGN_LEFT, ALIGN_CENTER };

/*
 * Draws text in the box (x, y, w, h) in mm, vertically centred; h == 0 puts
 * its top at y. Wraps at w; with one_line it is cut with "…" instead.
 * Returns the height drawn, in mm.
 */
static double text_box(pdf_draw_t *d, const PangoFontDescription *font, const char *text, double x,
                       double y, double w, double h, enum text_align align, bool one_line)
{
    PangoLayout *l = d->layout;
    pango_layout_set_font_description(l, font);
    pango_layout_set_width(l, (int)(w * MM * PANGO_SCALE));
    pango_layout_set_alignment(l, align == ALIGN_CENTER ? PANGO_ALIGN_CENTER : PANGO_ALIGN_LEFT);
    pango_layout_set_ellipsize(l, one_line ? PANGO_ELLIPSIZE_END : PANGO_ELLIPSIZE_NONE);
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_text(l, text, -1);
    int pw, ph;
    pango_layout_get_size(l, &pw, &ph);
    double th = (double)ph / PANGO_SCALE / MM;
    double ty = h > 0 ? y + (h - th) / 2 : y;
    cairo_move_to(d->cr, x * MM, ty * MM);
    pango_cairo_show_layout(d->cr, l);
    return th;
}

static void rect_mm(cairo_t *cr, double x, double y, double w, double h)
{
    cairo_rectangle(cr, x * MM, y * MM, w * MM, h * MM);
}

static void line_mm(cairo_t *cr, double x0, double y0, double x1, double y1)
{
    cairo_move_to(cr, x0 * MM, y0 * MM);
    cairo_line_to(cr, x1 * MM, y1 * MM);
}

/* The QR code of the ticket number, size mm square at (x, y), quiet zone included. */
static net_ticket_err_t draw_qr(pdf_draw_t *d, const char *number, double x, double y, double size)
{
    QRcode *qr = QRcode_encodeString(number, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) return NET_TICKET_E_CAIRO;
    int n = qr->width + 2 * QR_QUIET_MODULES;
    double m = size / n; /* mm per module */
    cairo_t *cr = d->cr;
    cairo_set_source_rgb(cr, 1, 1, 1);
    rect_mm(cr, x, y, size, size);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int r = 0; r < qr->width; r++) {
        for (int c = 0; c < qr->width;) {
            if (!(qr->data[r * qr->width + c] & 1)) {
                c++;
                continue;
            }
            int run = 1; /* one rectangle per run of dark modules */
            while (c + run < qr->width && (qr->data[r * qr->width + c + run] & 1))
                run++;
            rect_mm(cr, x + (c + QR_QUIET_MODULES) * m, y + (r + QR_QUIET_MODULES) * m, run * m, m);
            c += run;
        }
    }
    cairo_fill(cr);
    QRcode_free(qr);
    return NET_TICKET_OK;
}

static void draw_title(pdf_draw_t *d, const net_ticket_t *t)
{
    cairo_set_source_rgb(d->cr, 0, 0, 0);
    text_box(d, d->font_title, "全国大学英语四、六级考试", 15, 14, 180, 0, ALIGN_CENTER, true);
    text_box(d, d->font_big, "准　考　证", 15, 24, 180, 0, ALIGN_CENTER, true);
    char line[2 * NET_TICKET_TEXT_BYTES + 16];
    snprintf(line, sizeof line, "%s　·　%s", t->sitting_name, t->subject);
    text_box(d, d->font_small, line, 15, 42, 180, 0, ALIGN_CENTER, true);
    cairo_set_line_width(d->cr, 1.2);
    line_mm(d->cr, TABLE_X_MM, 50, TABLE_X_MM + TABLE_W_MM, 50);
    cairo_stroke(d->cr);
}

static void draw_table(pdf_draw_t *d, const net_ticket_t *t)
{
    char room[8], seat[8];
    snprintf(room, sizeof room, "%03u", (unsigned)t->room);
    snprintf(seat, sizeof seat, "%02u", (unsigned)t->seat);
    const char *labels[ROWS] = {"姓　　名", "证件类型", "证件号码", "学　　校",
                                "考试科目", "准考证号", "考试日期", "考试时间",
                                "考　　点", "考 场 号", "座 位 号"};
    const char *values[ROWS] = {t->name,    t->id_type, t->id_masked, t->school,
                                t->subject, t->ticket,  t->exam_date, t->exam_time,
                                t->campus,  room,       seat};
    cairo_t *cr = d->cr;
    double value_x = TABLE_X_MM + LABEL_W_MM;
    double side_x = TABLE_X_MM + TABLE_W_MM - SIDE_W_MM;
    double value_w = side_x - value_x;
    /* label column shading */
    cairo_set_source_rgb(cr, 0.93, 0.93, 0.93);
    rect_mm(cr, TABLE_X_MM, TABLE_Y_MM, LABEL_W_MM, ROWS * ROW_H_MM);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int r = 0; r < ROWS; r++) {
        double y = TABLE_Y_MM + r * ROW_H_MM;
        text_box(d, d->font_label, labels[r], TABLE_X_MM + 2, y, LABEL_W_MM - 4, ROW_H_MM,
                 ALIGN_CENTER, true);
        const PangoFontDescription *f = r == 5 ? d->font_number : d->font_value;
        text_box(d, f, values[r], value_x + 3, y, value_w - 5, ROW_H_MM, ALIGN_LEFT, true);
    }
    /* grid */
    cairo_set_line_width(cr, 0.8);
    rect_mm(cr, TABLE_X_MM, TABLE_Y_MM, TABLE_W_MM, ROWS * ROW_H_MM);
    line_mm(cr, value_x, TABLE_Y_MM, value_x, TABLE_Y_MM + ROWS * ROW_H_MM);
    line_mm(cr, side_x, TABLE_Y_MM, side_x, TABLE_Y_MM + ROWS * ROW_H_MM);
    for (int r = 1; r < ROWS; r++)
        line_mm(cr, TABLE_X_MM, TABLE_Y_MM + r * ROW_H_MM, side_x, TABLE_Y_MM + r * ROW_H_MM);
    line_mm(cr, side_x, TABLE_Y_MM + 5 * ROW_H_MM, TABLE_X_MM + TABLE_W_MM,
            TABLE_Y_MM + 5 * ROW_H_MM);
    cairo_stroke(cr);
}

static net_ticket_err_t draw_side(pdf_draw_t *d, const net_ticket_t *t)
{
    cairo_t *cr = d->cr;
    double side_x = TABLE_X_MM + TABLE_W_MM - SIDE_W_MM;
    /* photo box, dashed, in rows 1-5 */
    double px = side_x + (SIDE_W_MM - PHOTO_W_MM) / 2;
    double py = TABLE_Y_MM + (5 * ROW_H_MM - PHOTO_H_MM) / 2;
    double dash[] = {3.0, 2.0};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 0.6);
    rect_mm(cr, px, py, PHOTO_W_MM, PHOTO_H_MM);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    text_box(d, d->font_label, "照　片", px, py + 12, PHOTO_W_MM, 0, ALIGN_CENTER, true);
    text_box(d, d->font_small, "近期免冠\n正面证件照", px, py + 21, PHOTO_W_MM, 0, ALIGN_CENTER,
             false);
    cairo_set_source_rgb(cr, 0, 0, 0);
    /* QR code of the ticket number in rows 6-11 */
    double qy = TABLE_Y_MM + 5 * ROW_H_MM;
    double qh = 6 * ROW_H_MM;
    net_ticket_err_t rc =
        draw_qr(d, t->ticket, side_x + (SIDE_W_MM - QR_MM) / 2, qy + (qh - QR_MM - 6) / 2, QR_MM);
    text_box(d, d->font_small, "准考证号二维码", side_x, qy + qh - 7, SIDE_W_MM, 0, ALIGN_CENTER,
             true);
    return rc;
}

static void draw_rules(pdf_draw_t *d, const net_ticket_t *t)
{
    cairo_t *cr = d->cr;
    cairo_set_line_width(cr, 0.8);
    rect_mm(cr, TABLE_X_MM, RULES_Y_MM, TABLE_W_MM, RULES_H_MM);
    cairo_stroke(cr);
    text_box(d, d->font_value, "考生须知", TABLE_X_MM, RULES_Y_MM + 3, TABLE_W_MM, 0, ALIGN_CENTER,
             true);
    double y = RULES_Y_MM + 12;
    size_t n = sizeof rules_common / sizeof rules_common[0];
    char line[512];
    int no = 1;
    for (size_t i = 0; i < n; i++) {
        snprintf(line, sizeof line, "%d. %s", no++, rules_common[i]);
        y += text_box(d, d->font_rule, line, TABLE_X_MM + 5, y, TABLE_W_MM - 10, 0, ALIGN_LEFT,
                      false) +
             3.2;
    }
    if (t->oral) {
        snprintf(line, sizeof line, "%d. %s", no, rule_oral);
        y += text_box(d, d->font_rule, line, TABLE_X_MM + 5, y, TABLE_W_MM - 10, 0, ALIGN_LEFT,
                      false);
    }
    /* constant text: the tests render both kinds; a font with other metrics only warns */
    if (y > RULES_Y_MM + RULES_H_MM) CET_WARN("ticket pdf: the rules end at %.1f mm", y);
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    text_box(d, d->font_small, "本准考证仅限考生本人本次考试使用，涂改无效。请用A4纸打印。",
             TABLE_X_MM, FOOTER_Y_MM, TABLE_W_MM, 0, ALIGN_CENTER, true);
    cairo_set_source_rgb(cr, 0, 0, 0);
}

static net_ticket_err_t draw_page(pdf_draw_t *d, const net_ticket_t *t)
{
    draw_title(d, t);
    draw_table(d, t);
    net_ticket_err_t rc = draw_side(d, t);
    draw_rules(d, t);
    cairo_show_page(d->cr);
    return rc;
}

static PangoFontDescription *font_make(const char *family, int size_pt, bool bold)
{
    PangoFontDescription *f = pango_font_description_new();
    pango_font_description_set_family(f, family);
    pango_font_description_set_size(f, size_pt * PANGO_SCALE);
    pango_font_description_set_weight(f, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    return f;
}

static void draw_init(pdf_draw_t *d, cairo_t *cr)
{
    d->cr = cr;
    d->ctx = pango_cairo_create_context(cr);          /* on this thread's default font map */
    pango_cairo_context_set_resolution(d->ctx, 72.0); /* font points = PDF points */
    d->layout = pango_layout_new(d->ctx);
    d->font_title = font_make(NET_TICKET_FONT_FAMILY, 24, true);
    d->font_big = font_make(NET_TICKET_FONT_FAMILY, 36, true);
    d->font_label = font_make(NET_TICKET_FONT_FAMILY, 14, false);
    d->font_value = font_make(NET_TICKET_FONT_FAMILY, 15, true);
    d->font_number = font_make(NET_TICKET_FONT_FAMILY " Mono", 21, true);
    d->font_small = font_make(NET_TICKET_FONT_FAMILY, 10, false);
    d->font_rule = font_make(NET_TICKET_FONT_FAMILY, 12, false);
}

static void draw_free(pdf_draw_t *d)
{
    PangoFontDescription *fonts[] = {d->font_title,  d->font_big,   d->font_label, d->font_value,
                                     d->font_number, d->font_small, d->font_rule};
    for (size_t i = 0; i < sizeof fonts / sizeof fonts[0]; i++)
        pango_font_description_free(fonts[i]);
    g_object_unref(d->layout);
    g_object_unref(d->ctx);
}

net_ticket_err_t net_ticket_pdf_write(const net_ticket_t *tickets, size_t n,
                                      net_ticket_write_cb write_cb, void *user)
{
    CET_ASSERT(write_cb != NULL);
    if (n == 0 || n > NET_TICKET_PDF_TICKETS_MAX) return NET_TICKET_E_COUNT;
    CET_ASSERT(tickets != NULL);
    for (size_t i = 0; i < n; i++) {
        net_ticket_err_t rc = ticket_check(&tickets[i]);
        if (rc) return rc;
    }
    pdf_stream_t s = {.cb = write_cb, .user = user};
    cairo_surface_t *surf =
        cairo_pdf_surface_create_for_stream(stream_write, &s, PAGE_W_MM * MM, PAGE_H_MM * MM);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE,
                                   n == 1 ? tickets[0].ticket : "准考证");
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "cetreg");
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATE_DATE, PDF_DATE);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_MOD_DATE, PDF_DATE);
    cairo_t *cr = cairo_create(surf);
    pdf_draw_t d;
    draw_init(&d, cr);
    net_ticket_err_t rc = NET_TICKET_OK;
    for (size_t i = 0; i < n && rc == NET_TICKET_OK && !s.failed; i++)
        rc = draw_page(&d, &tickets[i]);
    draw_free(&d);
    cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surf); /* fonts are subset and written here */
    if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    if (s.failed) return NET_TICKET_E_WRITE;
    if (rc) return rc;
    return cs == CAIRO_STATUS_SUCCESS ? NET_TICKET_OK : NET_TICKET_E_CAIRO;
}

net_ticket_err_t net_ticket_pdf_render(const net_ticket_t *tickets, size_t n, uint8_t **pdf,
                                       size_t *len)
{
    pdf_buf_t b = {0};
    *pdf = NULL;
    *len = 0;
    net_ticket_err_t rc = net_ticket_pdf_write(tickets, n, buf_write_cb, &b);
    if (rc == NET_TICKET_E_WRITE && b.too_large) rc = NET_TICKET_E_TOO_LARGE;
    if (rc) {
        cet_free(b.data);
        return rc;
    }
    CET_ASSERT(b.len > 0 && memcmp(b.data, "%PDF-", 5) == 0);
    *pdf = b.data;
    *len = b.len;
    return NET_TICKET_OK;
}

bool net_ticket_pdf_font_check(char *path, size_t cap)
{
    if (path && cap) path[0] = 0;
    FcPattern *pat = FcNameParse((const FcChar8 *)NET_TICKET_FONT_FAMILY);
    if (!pat) return false;
    FcConfigSubstitute(NULL, pat, FcMatchPattern);
    FcDefaultSubstitute(pat);
    FcResult res;
    FcPattern *font = FcFontMatch(NULL, pat, &res);
    FcPatternDestroy(pat);
    if (!font) return false;
    bool ok = false;
    FcChar8 *family = NULL, *file = NULL;
    FcCharSet *cs = NULL;
    for (int i = 0; FcPatternGetString(font, FC_FAMILY, i, &family) == FcResultMatch; i++)
        if (strcmp((const char *)family, NET_TICKET_FONT_FAMILY) == 0) ok = true;
    /* 准 (U+51C6) and 考 (U+8003): the font has Chinese, not only the fallback's Latin */
    if (ok && FcPatternGetCharSet(font, FC_CHARSET, 0, &cs) == FcResultMatch)
        ok = FcCharSetHasChar(cs, 0x51C6) && FcCharSetHasChar(cs, 0x8003);
    else
        ok = false;
    if (ok && path && cap && FcPatternGetString(font, FC_FILE, 0, &file) == FcResultMatch)
        cet_strlcpy(path, (const char *)file, cap);
    FcPatternDestroy(font);
    return ok;
}

const char *net_ticket_err_name(net_ticket_err_t e)
{
    switch (e) {
    case NET_TICKET_OK:
        return "ok";
    case NET_TICKET_E_BAD_TICKET:
        return "bad_ticket";
    case NET_TICKET_E_BAD_TEXT:
        return "bad_text";
    case NET_TICKET_E_COUNT:
        return "bad_count";
    case NET_TICKET_E_TOO_LARGE:
        return "too_large";
    case NET_TICKET_E_WRITE:
        return "write_failed";
    case NET_TICKET_E_CAIRO:
        return "cairo_failed";
    }
    return "unknown";
}
