/*
 * PDF admission tickets, read back with poppler-utils: one A4 page per
 * ticket (pdfinfo), the name, number and rules present (pdftotext), the page
 * turned into a PNG (pdftoppm) whose QR code decodes to the ticket number
 * (zbarimg, when zbar-tools is installed); the same bytes from any thread and
 * on a second run; and the refusals.
 *
 * CET_TICKET_KEEP=DIR keeps the PDFs and PNGs in DIR to look at.
 * Exits 77 (skipped) when pdftotext/pdfinfo/pdftoppm are missing.
 */
#include "net/net_ticket_pdf.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cet_base.h"
#include "tests/unit/cet_test.h"

#define THREADS 4
#define PER_THREAD 3
#define OUT_BYTES_MAX (1 << 20)

static char dir[256];

#ifdef CET_SANITIZE
/*
 * LeakSanitizer: fontconfig's patterns behind pango's per-thread font map
 * are kept for the life of the thread (the font cache a worker reuses). The
 * total stays the same however many tickets are rendered (about 120 KB after
 * 10, 100 or 300 renders), so it is a cache, not a leak of ours.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\nleak:libpango-1.0.so\nleak:libpangoft2-1.0.so\n";
}
#endif

static void ticket_make(net_ticket_t *t, int i, bool oral)
{
    static const char *const names[] = {"张三丰", "欧阳晓明", "李雪", "王小二", "赵钱孙李周吴"};
    memset(t, 0, sizeof *t);
    snprintf(t->sitting_name, sizeof t->sitting_name, "2026年下半年CET考试");
    snprintf(t->name, sizeof t->name, "%s", names[i % 5]);
    snprintf(t->id_type, sizeof t->id_type, "居民身份证");
    snprintf(t->id_masked, sizeof t->id_masked, "1101**********%03d%c", i % 1000,
             i % 2 ? 'X' : '4');
    snprintf(t->school, sizeof t->school, "(99101)测试学校机构01");
    snprintf(t->subject, sizeof t->subject, oral ? "英语四级口试" : "英语四级笔试");
    snprintf(t->exam_date, sizeof t->exam_date, oral ? "2026年12月12日" : "2026年12月19日");
    snprintf(t->exam_time, sizeof t->exam_time, oral ? "第2场 10:00-10:30" : "09:00-11:20");
    snprintf(t->campus, sizeof t->campus, "(991010)测试校区机构001");
    t->room = (uint16_t)(1 + i / 30);
    t->seat = (uint8_t)(1 + i % 30);
    snprintf(t->ticket, sizeof t->ticket, "99101026%c%c%03u%02u", '2', oral ? '3' : '1',
             (unsigned)t->room % 1000u, (unsigned)t->seat % 100u);
    t->oral = oral;
}

static bool have(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

/* Runs cmd and returns its stdout (NUL-terminated, static). */
static const char *run(const char *cmd)
{
    static char out[OUT_BYTES_MAX];
    out[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p) return out;
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    pclose(p);
    return out;
}

static void file_write(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ(fwrite(data, 1, len, f), len);
    fclose(f);
}

static int pdf_pages(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "pdfinfo '%s' 2>/dev/null", path);
    const char *s = strstr(run(cmd), "Pages:");
    return s ? atoi(s + 6) : -1;
}

static void test_one(void)
{
    net_ticket_t t;
    ticket_make(&t, 7, false);
    uint8_t *pdf;
    size_t len;
    CHECK_EQ(net_ticket_pdf_render(&t, 1, &pdf, &len), NET_TICKET_OK);
    CHECK(len > 1000 && memcmp(pdf, "%PDF-", 5) == 0);
    printf("one ticket: %zu bytes\n", len);
    char path[300], cmd[2048];
    snprintf(path, sizeof path, "%s/ticket.pdf", dir);
    file_write(path, pdf, len);
    CHECK_EQ(pdf_pages(path), 1);
    snprintf(cmd, sizeof cmd, "pdfinfo '%s'", path);
    CHECK(strstr(run(cmd), "(A4)") != NULL);
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' -", path);
    const char *text = run(cmd);
    CHECK(strstr(text, t.name) != NULL);
    CHECK(strstr(text, t.ticket) != NULL);
    CHECK(strstr(text, "考生须知") != NULL);
    CHECK(strstr(text, "全国大学英语四、六级考试") != NULL);
    CHECK(strstr(text, t.id_masked) != NULL);
    CHECK(strstr(text, "英语四级笔试") != NULL);
    CHECK(strstr(text, "2026年12月19日") != NULL);
    CHECK(strstr(text, "09:00-11:20") != NULL);
    CHECK(strstr(text, "测试校区机构001") != NULL);
    CHECK(strstr(text, "照") != NULL);
    CHECK(strstr(text, "候考室") == NULL); /* the oral rule only on oral tickets */
    /* the PNG, and the QR code on it */
    snprintf(cmd, sizeof cmd, "pdftoppm -r 110 -png '%s' '%s/ticket' && test -s '%s/ticket-1.png'",
             path, dir, dir);
    CHECK(system(cmd) == 0);
    if (have("zbarimg")) {
        snprintf(cmd, sizeof cmd, "zbarimg --raw -q '%s/ticket-1.png' 2>/dev/null", dir);
        char got[64];
        cet_strlcpy(got, run(cmd), sizeof got);
        got[strcspn(got, "\r\n")] = 0;
        CHECK(strcmp(got, t.ticket) == 0);
    } else {
        printf("zbarimg missing: QR code not decoded\n");
    }
    /* the same bytes again */
    uint8_t *again;
    size_t len2;
    CHECK_EQ(net_ticket_pdf_render(&t, 1, &again, &len2), NET_TICKET_OK);
    CHECK(len2 == len && memcmp(pdf, again, len) == 0);
    cet_free(again);
    cet_free(pdf);
}

static void test_many(void)
{
    enum { N = 5 };
    net_ticket_t t[N];
    for (int i = 0; i < N; i++)
        ticket_make(&t[i], 40 + i, i == 4);
    uint8_t *pdf;
    size_t len;
    CHECK_EQ(net_ticket_pdf_render(t, N, &pdf, &len), NET_TICKET_OK);
    char path[300], cmd[2048];
    snprintf(path, sizeof path, "%s/bulk.pdf", dir);
    file_write(path, pdf, len);
    cet_free(pdf);
    CHECK_EQ(pdf_pages(path), N);
    for (int i = 0; i < N; i++) { /* page i+1 carries ticket i and nobody else's number */
        snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 -f %d -l %d '%s' -", i + 1, i + 1, path);
        const char *text = run(cmd);
        CHECK(strstr(text, t[i].ticket) != NULL);
        CHECK(strstr(text, t[i].name) != NULL);
        CHECK(strstr(text, t[(i + 1) % N].ticket) == NULL);
        CHECK((strstr(text, "候考室") != NULL) == t[i].oral);
    }
    snprintf(cmd, sizeof cmd,
             "pdftoppm -r 60 -png -f 5 -l 5 '%s' '%s/bulk' && test -s '%s/bulk-5.png'", path, dir,
             dir);
    CHECK(system(cmd) == 0);
}

typedef struct job {
    int first;
    uint8_t *pdf[PER_THREAD];
    size_t len[PER_THREAD];
    int rc;
} job_t;

static void *render_thread(void *arg)
{
    job_t *j = arg;
    for (int k = 0; k < PER_THREAD; k++) {
        net_ticket_t t;
        ticket_make(&t, j->first + k, false);
        j->rc |= (int)net_ticket_pdf_render(&t, 1, &j->pdf[k], &j->len[k]);
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[THREADS];
    job_t jobs[THREADS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < THREADS; i++) {
        jobs[i].first = 100 + i * PER_THREAD;
        CHECK(pthread_create(&th[i], NULL, render_thread, &jobs[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    int differ = 0;
    for (int i = 0; i < THREADS; i++) {
        CHECK_EQ(jobs[i].rc, 0);
        for (int k = 0; k < PER_THREAD; k++) {
            net_ticket_t t;
            ticket_make(&t, jobs[i].first + k, false);
            uint8_t *pdf;
            size_t len;
            CHECK_EQ(net_ticket_pdf_render(&t, 1, &pdf, &len), NET_TICKET_OK);
            if (len != jobs[i].len[k] || memcmp(pdf, jobs[i].pdf[k], len) != 0) differ++;
            cet_free(pdf);
            cet_free(jobs[i].pdf[k]);
        }
    }
    CHECK_EQ(differ, 0);
}

static int refuse_cb(void *user, const uint8_t *data, size_t len)
{
    int *calls = user;
    (*calls)++;
    return -1;
}

static void test_refusals(void)
{
    net_ticket_t t;
    uint8_t *pdf = (uint8_t *)"x";
    size_t len = 1;
    ticket_make(&t, 1, false);
    CHECK_EQ(net_ticket_pdf_render(&t, 0, &pdf, &len), NET_TICKET_E_COUNT);
    CHECK(pdf == NULL && len == 0);
    CHECK_EQ(net_ticket_pdf_render(&t, NET_TICKET_PDF_TICKETS_MAX + 1, &pdf, &len),
             NET_TICKET_E_COUNT);
    t.ticket[14] = 0;
    CHECK_EQ(net_ticket_pdf_render(&t, 1, &pdf, &len), NET_TICKET_E_BAD_TICKET);
    ticket_make(&t, 1, false);
    t.ticket[3] = 'a';
    CHECK_EQ(net_ticket_pdf_render(&t, 1, &pdf, &len), NET_TICKET_E_BAD_TICKET);
    ticket_make(&t, 1, false);
    t.seat = 0;
    CHECK_EQ(net_ticket_pdf_render(&t, 1, &pdf, &len), NET_TICKET_E_BAD_TICKET);
    ticket_make(&t, 1, false);
    t.name[1] = (char)0xff; /* broken UTF-8 */
    CHECK_EQ(net_ticket_pdf_render(&t, 1, &pdf, &len), NET_TICKET_E_BAD_TEXT);
    ticket_make(&t, 1, false);
    memset(t.campus, 'a', sizeof t.campus); /* not terminated */
    CHECK_EQ(net_ticket_pdf_render(&t, 1, &pdf, &len), NET_TICKET_E_BAD_TEXT);
    ticket_make(&t, 1, false);
    int calls = 0;
    CHECK_EQ(net_ticket_pdf_write(&t, 1, refuse_cb, &calls), NET_TICKET_E_WRITE);
    CHECK(calls >= 1);
    /* a very long name is cut on its line, not drawn over the table */
    memset(t.name, 0, sizeof t.name);
    for (int i = 0; i < 31; i++)
        memcpy(t.name + 3 * i, "长", 3);
    CHECK_EQ(net_ticket_pdf_render(&t, 1, &pdf, &len), NET_TICKET_OK);
    cet_free(pdf);
    CHECK(strcmp(net_ticket_err_name(NET_TICKET_E_BAD_TEXT), "bad_text") == 0);
}

int main(void)
{
    if (!have("pdftotext") || !have("pdfinfo") || !have("pdftoppm")) {
        printf("test_net_ticket_pdf: poppler-utils missing (tools/setup-deps.sh test): skipped\n");
        return 77;
    }
    char font[256];
    CHECK(net_ticket_pdf_font_check(font, sizeof font));
    printf("font: %s\n", font);
    const char *keep = getenv("CET_TICKET_KEEP");
    if (keep && *keep) {
        cet_strlcpy(dir, keep, sizeof dir);
        mkdir(dir, 0755);
    } else {
        cet_strlcpy(dir, cet_test_tmpdir(), sizeof dir);
    }
    test_one();
    test_many();
    test_threads();
    test_refusals();
    if (!(keep && *keep)) cet_test_rmdir(dir);
    return cet_test_done("test_net_ticket_pdf");
}
