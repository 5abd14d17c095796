/*
 * test_cet_sheet.c: unit tests of base/cet_sheet* (school files) on real
 * files made here: a GBK file by the iconv program, UTF-8 with and without
 * BOM, tab-separated with Chinese headers, UTF-16, an .xlsx written by
 * libxlsxwriter (through the module and directly, with a number cell that
 * lost digits), one by LibreOffice when `soffice` is installed, broken files,
 * and row error counting. Exit 0 when every check passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xlsxwriter.h>

#include "base/cet_base.h"
#include "base/cet_sheet.h"
#include "tests/unit/cet_test.h"

static char dir[256];

/* ---- helpers ---- */
typedef struct buf {
    char *p;
    size_t n, cap;
} buf_t;

static int buf_sink_cb(void *arg, const void *data, size_t n)
{
    buf_t *b = arg;
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat sb;
    fstat(fileno(f), &sb);
    char *p = malloc((size_t)sb.st_size + 1);
    *len = fread(p, 1, (size_t)sb.st_size, f);
    fclose(f);
    return p;
}

static void spit(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

/* Runs a shell command built from a literal format and two strings. */
#define sh(fmt, a, b)                                                                              \
    ({                                                                                             \
        char cmd_[4096];                                                                           \
        snprintf(cmd_, sizeof cmd_, fmt, a, b);                                                    \
        system(cmd_);                                                                              \
    })

/* A file read through the module: every data row's values of schema sc, '|'-joined per row. */
typedef struct readout {
    cet_sheet_encoding_t enc;
    char sep;
    int open_rc, header_rc, nprobs, rows, bad;
    cet_sheet_problem_t open_why, probs[8], first_bad;
    char text[8192];
} readout_t;

static void read_all(const void *data, size_t len, const cet_sheet_schema_t *sc, readout_t *r)
{
    memset(r, 0, sizeof *r);
    cet_sheet_t *s;
    r->open_rc = cet_sheet_open(data, len, &s, &r->open_why);
    if (r->open_rc) return;
    r->enc = cet_sheet_encoding(s);
    r->sep = cet_sheet_separator(s);
    cet_sheet_map_t map;
    r->header_rc = cet_sheet_header(s, sc, &map, r->probs, 8, &r->nprobs);
    if (r->header_rc == 0) {
        cet_sheet_row_t row;
        cet_sheet_problem_t why;
        const char *vals[CET_SHEET_FIELDS_MAX];
        size_t n = 0;
        int rc;
        while ((rc = cet_sheet_next(s, &row, &why)) != 0) {
            if (rc == 1) rc = cet_sheet_values(s, &map, &row, vals, &why);
            if (rc < 0) {
                if (!r->bad++) r->first_bad = why;
                continue;
            }
            r->rows++;
            for (int i = 0; i < sc->ncols && n + 2 < sizeof r->text; i++)
                n += (size_t)snprintf(r->text + n, sizeof r->text - n, "%s%s", i ? "|" : "",
                                      vals[i]);
            if (n + 2 < sizeof r->text) r->text[n++] = '\n', r->text[n] = 0;
        }
    }
    cet_sheet_free(s);
}

/* Two roster rows, UTF-8, as the docs show them; EXPECT is what they read as. */
#define ROSTER_HEAD_EN                                                                             \
    "id_type,id_number,name,gender,school,campus,education,program_years,entry_year,grade,"        \
    "department,major,class_name,student_no,remarks,subjects,cet6_barred"
#define ROSTER_HEAD_ZH                                                                                                                 \
    "证件类型,证件号码,姓名,性别,学校代码,校区代码,学历,学制,入学年份,年级,院系,专业,班级,学号," \
    "备注,"                                                                                                                          \
    "资格科目,禁报六级"
#define ROW1                                                                                                   \
    "mainland,11010519491231002X,张三,M,10013,100130,本科,4,2024,2,计算机学院,软件工程,20242201," \
    "2024220001,,1;F,0"
#define ROW1_ZH                                                                                                \
    "居民身份证,11010519491231002X,张三,男,10013,100130,本科,4,2024,2,计算机学院,软件工程," \
    "20242201,2024220001,,1;F,否"
#define ROW2                                                                                               \
    "passport,E12345678,李四,F,10013,100131,研究生,3,2025,1,人文学院,英语,20252901,2025290007," \
    "\"说 \"\"好\"\", 行\",1;2;F;S,0"
#define EXPECT                                                                                                 \
    "mainland|11010519491231002X|张三|M|10013|100130|本科|4|2024|2|计算机学院|软件工程|20242201|" \
    "2024220001||1;F|0\n"                                                                                      \
    "passport|E12345678|李四|F|10013|100131|研究生|3|2025|1|人文学院|英语|20252901|2025290007|"     \
    "说 \"好\", 行|1;2;F;S|0\n"

static void test_utf8_and_bom(void)
{
    const char *csv = ROSTER_HEAD_EN "\n" ROW1 "\n\n" ROW2 "\n";
    readout_t r;
    read_all(csv, strlen(csv), &cet_sheet_roster, &r);
    CHECK_EQ(r.open_rc, 0);
    CHECK_EQ(r.enc, CET_SHEET_ENC_UTF8);
    CHECK_EQ(r.sep, ',');
    CHECK_EQ(r.header_rc, 0);
    CHECK_EQ(r.rows, 2);
    CHECK(strcmp(r.text, EXPECT) == 0);
    char bom[2048];
    snprintf(bom, sizeof bom, "\xef\xbb\xbf%s", ROSTER_HEAD_EN "\r\n" ROW1 "\r\n" ROW2 "\r\n");
    read_all(bom, strlen(bom), &cet_sheet_roster, &r);
    CHECK_EQ(r.enc, CET_SHEET_ENC_UTF8_BOM);
    CHECK(strcmp(r.text, EXPECT) == 0);
    CHECK(strcmp(cet_sheet_encoding_name(r.enc), "UTF-8 with BOM") == 0);
}

/* Chinese headers and values, tab-separated, Chinese ID type and gender names. */
static void test_tab_chinese_headers(void)
{
    char tsv[4096];
    snprintf(tsv, sizeof tsv, "%s\n%s\n%s\n", ROSTER_HEAD_ZH, ROW1_ZH, ROW2);
    for (char *p = tsv; *p; p++)
        if (*p == ',') *p = '\t';
    /* ROW2's quoted remark held ", " which became a tab: put it back inside the quotes */
    char *q = strstr(tsv, "\"\"\t 行");
    CHECK(q != NULL);
    if (q) q[2] = ',';
    readout_t r;
    read_all(tsv, strlen(tsv), &cet_sheet_roster, &r);
    CHECK_EQ(r.sep, '\t');
    CHECK_EQ(r.header_rc, 0);
    CHECK_EQ(r.rows, 2);
    CHECK(strcmp(r.text, EXPECT) == 0);
    if (strcmp(r.text, EXPECT)) fprintf(stderr, "got:\n%s", r.text);
    /* other spellings: 身份证号, 学生姓名, full-width parentheses, spaces and a '*' */
    const char *alt =
        "证件类型*,身份证号 ,学生姓名,性别,学校代码,校区代码,学历,学制（年）,入学年份,年级,"
        "院系,专业,班级,学号,资格科目\n"
        "身份证,11010519491231002X,张三,男,10013,100130,本科,4,2024,2,,,,,1\n";
    read_all(alt, strlen(alt), &cet_sheet_roster, &r);
    CHECK_EQ(r.header_rc, 0);
    CHECK_EQ(r.rows, 1);
    CHECK(strncmp(r.text, "mainland|11010519491231002X|张三|M|", 36) == 0);
}

/* GBK made by the iconv program, as Excel's "CSV (逗号分隔)" saves in a Chinese locale. */
static void test_gbk(void)
{
    char src[512], gbk[512];
    snprintf(src, sizeof src, "%s/roster-utf8.csv", dir);
    snprintf(gbk, sizeof gbk, "%s/roster-gbk.csv", dir);
    char csv[4096];
    snprintf(csv, sizeof csv, "%s\r\n%s\r\n%s\r\n", ROSTER_HEAD_ZH, ROW1_ZH, ROW2);
    spit(src, csv, strlen(csv));
    CHECK_EQ(sh("iconv -f UTF-8 -t GBK '%s' > '%s'", src, gbk), 0);
    size_t n;
    char *data = slurp(gbk, &n);
    CHECK(data && n < strlen(csv)); /* GBK: 2 bytes a character instead of 3 */
    readout_t r;
    read_all(data, n, &cet_sheet_roster, &r);
    CHECK_EQ(r.enc, CET_SHEET_ENC_GB18030);
    CHECK_EQ(r.header_rc, 0);
    CHECK_EQ(r.rows, 2);
    CHECK(strcmp(r.text, EXPECT) == 0);
    /* a byte that is not GB18030 on line 3: that row is refused, the others read */
    char *bad = malloc(n + 1);
    memcpy(bad, data, n);
    char *l3 = bad;
    for (int k = 0; k < 2; k++)
        l3 = strchr(l3, '\n') + 1;
    l3[20] = (char)0xff;
    read_all(bad, n, &cet_sheet_roster, &r);
    CHECK_EQ(r.enc, CET_SHEET_ENC_GB18030);
    CHECK_EQ(r.rows, 1);
    CHECK_EQ(r.bad, 1);
    CHECK_EQ(r.first_bad.code, CET_E_SHEET_ENCODING);
    CHECK_EQ(r.first_bad.line, 3);
    CHECK(strstr(r.first_bad.message, "GB18030") != NULL);
    free(bad);
    free(data);
    /* GB18030 four-byte characters (outside GBK) also read: 𠀀 U+20000 */
    const char *four = "姓名\n\xf0\xa0\x80\x80\n";
    spit(src, four, strlen(four));
    CHECK_EQ(sh("iconv -f UTF-8 -t GB18030 '%s' > '%s'", src, gbk), 0);
    data = slurp(gbk, &n);
    cet_sheet_t *s;
    cet_sheet_problem_t why;
    CHECK_EQ(cet_sheet_open(data, n, &s, &why), 0);
    cet_sheet_row_t row;
    CHECK_EQ(cet_sheet_next(s, &row, &why), 1);
    CHECK_EQ(cet_sheet_next(s, &row, &why), 1);
    CHECK(strcmp(row.fields[0], "\xf0\xa0\x80\x80") == 0);
    cet_sheet_free(s);
    free(data);
}

/* Excel's "Unicode text": UTF-16LE with a BOM, tab-separated. */
static void test_utf16(void)
{
    char src[512], u16[512];
    snprintf(src, sizeof src, "%s/scores-utf8.txt", dir);
    snprintf(u16, sizeof u16, "%s/scores-utf16.txt", dir);
    const char *t = "准考证号\t证件号码\t姓名\t总分\t考试年份\r\n"
                    "100130242100101\t11010519491231002X\t张三\t512\t2024\r\n";
    spit(src, t, strlen(t));
    CHECK_EQ(sh("iconv -f UTF-8 -t UTF-16 '%s' > '%s'", src, u16), 0);
    size_t n;
    char *data = slurp(u16, &n);
    readout_t r;
    read_all(data, n, &cet_sheet_scores, &r);
    CHECK_EQ(r.enc, CET_SHEET_ENC_UTF16);
    CHECK_EQ(r.sep, '\t');
    CHECK_EQ(r.rows, 1);
    CHECK(strcmp(r.text, "100130242100101|11010519491231002X|张三|512|2024\n") == 0);
    free(data);
}

/* A UTF-8 file with one damaged line stays UTF-8; only that line is refused. */
static void test_utf8_damaged_line(void)
{
    char csv[8192];
    size_t n = (size_t)snprintf(csv, sizeof csv, "%s\n", ROSTER_HEAD_EN);
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(csv + n, sizeof csv - n, "%s\n", ROW1);
    char *l5 = csv;
    for (int k = 0; k < 4; k++)
        l5 = strchr(l5, '\n') + 1;
    char *zhang = strstr(l5, "张");
    zhang[1] = 'x'; /* the second byte of 张 */
    readout_t r;
    read_all(csv, n, &cet_sheet_roster, &r);
    CHECK_EQ(r.enc, CET_SHEET_ENC_UTF8);
    CHECK_EQ(r.rows, 19);
    CHECK_EQ(r.bad, 1);
    CHECK_EQ(r.first_bad.code, CET_E_SHEET_ENCODING);
    CHECK_EQ(r.first_bad.line, 5);
}

/* Bad rows are counted one by one with their lines; the reader goes on after each. */
static void test_row_errors(void)
{
    char big[CET_SHEET_ROW_BYTES_MAX + 64];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char csv[CET_SHEET_ROW_BYTES_MAX + 4096];
    size_t n = (size_t)snprintf(csv, sizeof csv,
                                "ticket,id_number,name,score,year\n"
                                "100130242100101,11010519491231002X,张三,512,2024\n" /* 2 ok */
                                "100130242100102,\"x\"y,张三,512,2024\n"             /* 3 */
                                "100130242100103,x\"y,张三,512,2024\n"               /* 4 */
                                "100130242100104,1,2,3\n"                            /* 5 */
                                "1.00130242E+14,11010519491231002X,张三,512,2024\n"  /* 6 */
                                "100130242100105,1.10108E+17,张三,512,2024\n"        /* 7 */
                                ",,,,\n"                                             /* 8 blank */
                                "%s\n"                                               /* 9 */
                                "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,"
                                "25,26,27,28,29,30,31,32,33\n"                 /* 10 */
                                "100130242100106,\"E1\n2345\",王五,430,2024\n" /* 11-12 ok */
                                "100130242100107,E7654321,赵六,431,2024\n"     /* 13 ok */
                                "100130242100108,\"unterminated,x,1,2024\n",   /* 14 */
                                big);
    readout_t r;
    read_all(csv, n, &cet_sheet_scores, &r);
    CHECK_EQ(r.header_rc, 0);
    CHECK_EQ(r.rows, 3);
    CHECK_EQ(r.bad, 8);
    /* walk them again to see each code and line */
    cet_sheet_t *s;
    cet_sheet_problem_t why, probs[4];
    cet_sheet_map_t map;
    int np;
    CHECK_EQ(cet_sheet_open(csv, n, &s, &why), 0);
    CHECK_EQ(cet_sheet_header(s, &cet_sheet_scores, &map, probs, 4, &np), 0);
    static const struct {
        unsigned line;
        cet_err_t code;
    } want[] = {{3, CET_E_SHEET_QUOTING},       {4, CET_E_SHEET_QUOTING},
                {5, CET_E_SHEET_FIELD_COUNT},   {6, CET_E_SHEET_EXCEL_NUMBER},
                {7, CET_E_SHEET_EXCEL_NUMBER},  {9, CET_E_SHEET_ROW_TOO_LONG},
                {10, CET_E_SHEET_ROW_TOO_LONG}, {14, CET_E_SHEET_QUOTING}};
    size_t k = 0;
    cet_sheet_row_t row;
    const char *vals[CET_SHEET_FIELDS_MAX];
    int rc;
    unsigned good_lines[4], ng = 0;
    while ((rc = cet_sheet_next(s, &row, &why)) != 0) {
        if (rc == 1) rc = cet_sheet_values(s, &map, &row, vals, &why);
        if (rc == 0) {
            if (ng < 4) good_lines[ng++] = row.line;
            continue;
        }
        CHECK(k < sizeof want / sizeof want[0]);
        if (k >= sizeof want / sizeof want[0]) break;
        CHECK_EQ(why.line, want[k].line);
        CHECK_EQ(why.code, want[k].code);
        if (why.line == 7) {
            CHECK(strstr(why.message, "1.10108E+17") != NULL);
            CHECK(strstr(why.message, "format the column as text") ||
                  strstr(why.message, "Format the column as text"));
            CHECK(strcmp(why.field, "id_number") == 0);
        }
        k++;
    }
    CHECK_EQ(k, 8);
    CHECK_EQ(ng, 3);
    CHECK_EQ(good_lines[0], 2);
    CHECK_EQ(good_lines[1], 11);
    CHECK_EQ(good_lines[2], 13);
    cet_sheet_free(s);
}

static void test_header_problems(void)
{
    readout_t r;
    const char *a = "ticket,id_number,nam,score,year\n";
    read_all(a, strlen(a), &cet_sheet_scores, &r);
    CHECK_EQ(r.header_rc, CET_REFUSED);
    CHECK_EQ(r.nprobs, 2); /* unknown 'nam', missing 'name' */
    CHECK_EQ(r.probs[0].code, CET_E_SHEET_UNKNOWN_COLUMN);
    CHECK(strstr(r.probs[0].message, "unknown column 'nam'") != NULL);
    CHECK_EQ(r.probs[1].code, CET_E_SHEET_MISSING_COLUMN);
    CHECK(strcmp(r.probs[1].field, "name") == 0);
    const char *dup = "ticket,id_number,name,姓名,score,year\n";
    read_all(dup, strlen(dup), &cet_sheet_scores, &r);
    CHECK_EQ(r.nprobs, 1);
    CHECK_EQ(r.probs[0].code, CET_E_SHEET_DUPLICATE_COLUMN);
    /* an .xlsx read as text: its first bytes "PK" */
    const char *pk = "PK\x01\x02garbage,more\n";
    read_all(pk, strlen(pk), &cet_sheet_scores, &r);
    CHECK_EQ(r.probs[0].code, CET_E_SHEET_UNKNOWN_COLUMN);
    CHECK(strstr(r.probs[0].message, ".xlsx") != NULL);
    const char *semi = "ticket;id_number;name;score;year\n";
    read_all(semi, strlen(semi), &cet_sheet_scores, &r);
    CHECK(strstr(r.probs[0].message, "';'") != NULL);
    read_all("\n\n", 2, &cet_sheet_scores, &r);
    CHECK_EQ(r.probs[0].code, CET_E_SHEET_EMPTY);
    /* whole-file refusals */
    read_all("", 0, &cet_sheet_scores, &r);
    CHECK_EQ(r.open_rc, CET_REFUSED);
    CHECK_EQ(r.open_why.code, CET_E_SHEET_UNREADABLE);
    read_all("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", 12, &cet_sheet_scores, &r);
    CHECK_EQ(r.open_why.code, CET_E_SHEET_UNREADABLE);
    CHECK(strstr(r.open_why.message, ".xls") != NULL);
    read_all("PK\x03\x04not a zip at all", 21, &cet_sheet_scores, &r);
    CHECK_EQ(r.open_why.code, CET_E_SHEET_UNREADABLE);
    CHECK(strstr(r.open_why.message, ".xlsx") != NULL);
}

/* A title row above the header, Excel's "sep=;" line, and a one-column file that is not a title. */
static void test_title_and_sep(void)
{
    readout_t r;
    char csv[4096];
    snprintf(csv, sizeof csv, "2026年下半年 学籍名单,,,,\n%s\n%s\n", ROSTER_HEAD_EN, ROW1);
    read_all(csv, strlen(csv), &cet_sheet_roster, &r);
    CHECK_EQ(r.header_rc, 0);
    CHECK_EQ(r.rows, 1);
    snprintf(csv, sizeof csv, "sep=;\r\n%s\r\n%s\r\n", ROSTER_HEAD_ZH,
             "居民身份证;11010519491231002X;张三;男;10013;100130;本科;4;2024;2;计算机学院;软件工程;"
             "20242201;2024220001;;\"1;F\";否");
    for (char *p = csv + 6; *p; p++)
        if (*p == ',') *p = ';';
    read_all(csv, strlen(csv), &cet_sheet_roster, &r);
    CHECK_EQ(r.sep, ';');
    CHECK_EQ(r.header_rc, 0);
    CHECK_EQ(r.rows, 1);
    CHECK(strncmp(r.text, "mainland|11010519491231002X|", 28) == 0);
    /* a lone unknown header over data is reported, not skipped as a title */
    const char *lone = "nam\n张三\n";
    read_all(lone, strlen(lone), &cet_sheet_scores, &r);
    CHECK_EQ(r.header_rc, CET_REFUSED);
    CHECK_EQ(r.probs[0].code, CET_E_SHEET_UNKNOWN_COLUMN);
    CHECK(strcmp(cet_sheet_content_type(CET_SHEET_FMT_CSV), "text/csv; charset=utf-8") == 0);
    CHECK(strcmp(cet_sheet_file_ext(CET_SHEET_FMT_XLSX), "xlsx") == 0);
}

/* A sink that fails: the error comes back from the cell calls and from finish. */
static int full_sink_cb(void *arg, const void *data, size_t n)
{
    (void)arg, (void)data, (void)n;
    return 28; /* ENOSPC */
}

static void test_sink_error_and_refused_value(void)
{
    cet_sheet_writer_t *w;
    CHECK_EQ(
        cet_sheet_writer_open(CET_SHEET_FMT_CSV, &cet_sheet_audit, NULL, full_sink_cb, NULL, &w),
        0);
    int rc = 0;
    char detail[200];
    memset(detail, 'x', sizeof detail - 1);
    detail[sizeof detail - 1] = 0;
    for (int i = 0; i < 20000 && !rc; i++) { /* past the 1 MiB buffer */
        cet_sheet_put_uint(w, (uint64_t)i);
        cet_sheet_put_time(w, 1764550800);
        cet_sheet_put_str(w, "cetctl");
        cet_sheet_put_str(w, "demo");
        cet_sheet_put_str(w, detail);
        rc = cet_sheet_row_end(w);
    }
    CHECK_EQ(rc, 28);
    CHECK_EQ(cet_sheet_writer_finish(w), 28);
    /* 军官证 reads as "military" (so that the import can refuse it by name) */
    const char *csv =
        "证件类型,证件号码,姓名,性别,学校代码,校区代码,学历,学制,入学年份,年级,院系,专业,"
        "班级,学号,资格科目\n军官证,A1234567,张三,男,10013,100130,本科,4,2024,2,,,,,1\n";
    readout_t r;
    read_all(csv, strlen(csv), &cet_sheet_roster, &r);
    CHECK(strncmp(r.text, "military|A1234567|", 18) == 0);
}

/* ---- writing ---- */
static void write_roster(cet_sheet_format_t fmt, buf_t *out)
{
    memset(out, 0, sizeof *out);
    cet_sheet_writer_t *w;
    CHECK_EQ(cet_sheet_writer_open(fmt, &cet_sheet_roster, dir, buf_sink_cb, out, &w), 0);
    /* the two rows of EXPECT */
    const char *rows[2][17] = {
        {"mainland", "11010519491231002X", "张三", "M", "10013", "100130", "本科", "4", "2024", "2",
         "计算机学院", "软件工程", "20242201", "2024220001", "", "1;F", "0"},
        {"passport", "E12345678", "李四", "F", "10013", "100131", "研究生", "3", "2025", "1",
         "人文学院", "英语", "20252901", "2025290007", "说 \"好\", 行", "1;2;F;S", "0"}};
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 17; i++) {
            if (i >= 7 && i <= 9)
                CHECK_EQ(cet_sheet_put_uint(w, strtoull(rows[r][i], NULL, 10)), 0);
            else
                CHECK_EQ(cet_sheet_put_str(w, rows[r][i]), 0);
        }
        CHECK_EQ(cet_sheet_row_end(w), 0);
    }
    CHECK_EQ(cet_sheet_writer_rows(w), 2);
    CHECK_EQ(cet_sheet_writer_finish(w), 0);
}

static void test_write_csv_formats(void)
{
    buf_t b;
    write_roster(CET_SHEET_FMT_DATA, &b);
    const char *data = ROSTER_HEAD_EN "\n" ROW1 "\n" ROW2 "\n";
    CHECK(strcmp(b.p, data) == 0);
    readout_t r;
    read_all(b.p, b.n, &cet_sheet_roster, &r);
    CHECK(strcmp(r.text, EXPECT) == 0);
    free(b.p);
    write_roster(CET_SHEET_FMT_CSV, &b);
    CHECK(memcmp(b.p, "\xef\xbb\xbf证件类型,证件号码,姓名,", 3 + 27) == 0);
    CHECK(strstr(b.p, "\r\n居民身份证,11010519491231002X,张三,男,") != NULL);
    CHECK(strstr(b.p, ",否\r\n") != NULL);
    read_all(b.p, b.n, &cet_sheet_roster, &r);
    CHECK_EQ(r.enc, CET_SHEET_ENC_UTF8_BOM);
    CHECK(strcmp(r.text, EXPECT) == 0);
    free(b.p);
    /* money: fen in data, yuan with two decimals for a teacher */
    for (int f = CET_SHEET_FMT_DATA; f <= CET_SHEET_FMT_CSV; f++) {
        memset(&b, 0, sizeof b);
        cet_sheet_writer_t *w;
        cet_sheet_writer_open((cet_sheet_format_t)f, &cet_sheet_orders, NULL, buf_sink_cb, &b, &w);
        cet_sheet_put_uint(w, 7);
        cet_sheet_put_str(w, "11010519491231002X");
        cet_sheet_put_str(w, "1F");
        cet_sheet_put_money(w, 8005);
        cet_sheet_put_str(w, "alipay");
        cet_sheet_put_str(w, "paid");
        cet_sheet_put_time(w, 1764550800);
        cet_sheet_put_time(w, 0);
        cet_sheet_put_str(w, "T1");
        cet_sheet_row_end(w);
        cet_sheet_writer_finish(w);
        if (f == CET_SHEET_FMT_DATA)
            CHECK(strstr(
                b.p, "\n7,11010519491231002X,1F,8005,alipay,paid,2025-12-01T09:00:00+08:00,,T1\n"));
        else
            CHECK(strstr(b.p, "\r\n7,11010519491231002X,1F,80.05,alipay,已支付,2025-12-01T09:00:00+"
                              "08:00,,T1\r\n"));
        free(b.p);
    }
    uint64_t fen = 0;
    CHECK(cet_sheet_money_parse("30.00", false, 100000, &fen) == 0 && fen == 3000);
    CHECK(cet_sheet_money_parse("30.5", false, 100000, &fen) == 0 && fen == 3050);
    CHECK(cet_sheet_money_parse("3000", false, 100000, &fen) == 0 && fen == 3000);
    CHECK(cet_sheet_money_parse("30", true, 100000, &fen) == 0 && fen == 3000);
    CHECK(cet_sheet_money_parse("30.001", true, 100000, &fen) == -1);
    CHECK(cet_sheet_money_parse("1000.01", true, 100000, &fen) == -1);
    CHECK(cet_sheet_money_parse("3e3", true, 100000, &fen) == -1);
    CHECK(cet_sheet_money_parse("30.", true, 100000, &fen) == -1);
}

static void test_xlsx_roundtrip(void)
{
    buf_t b;
    write_roster(CET_SHEET_FMT_XLSX, &b);
    CHECK(b.n > 1000 && memcmp(b.p, "PK\x03\x04", 4) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s/roster.xlsx", dir);
    spit(path, b.p, b.n);
    readout_t r;
    read_all(b.p, b.n, &cet_sheet_roster, &r);
    CHECK_EQ(r.open_rc, 0);
    CHECK_EQ(r.enc, CET_SHEET_ENC_XLSX);
    CHECK_EQ(r.header_rc, 0);
    CHECK_EQ(r.rows, 2);
    CHECK(strcmp(r.text, EXPECT) == 0);
    if (strcmp(r.text, EXPECT)) fprintf(stderr, "xlsx read back:\n%s", r.text);
    /* a truncated workbook is refused, never read halfway */
    readout_t t;
    read_all(b.p, b.n / 2, &cet_sheet_roster, &t);
    CHECK_EQ(t.open_why.code, CET_E_SHEET_UNREADABLE);
    free(b.p);
    /* money cells are numbers shown 0.00; read back they are yuan by their Chinese header */
    memset(&b, 0, sizeof b);
    cet_sheet_writer_t *w;
    cet_sheet_writer_open(CET_SHEET_FMT_XLSX, &cet_sheet_orders, NULL, buf_sink_cb, &b, &w);
    cet_sheet_put_uint(w, 7);
    cet_sheet_put_str(w, "11010519491231002X");
    cet_sheet_put_str(w, "1F");
    cet_sheet_put_money(w, 8005);
    cet_sheet_put_str(w, "alipay");
    cet_sheet_put_str(w, "paid");
    cet_sheet_put_time(w, 1764550800);
    cet_sheet_put_time(w, 0);
    cet_sheet_put_str(w, "T1");
    cet_sheet_row_end(w);
    CHECK_EQ(cet_sheet_writer_finish(w), 0);
    read_all(b.p, b.n, &cet_sheet_orders, &r);
    CHECK(strcmp(r.text,
                 "7|11010519491231002X|1F|80.05|alipay|paid|2025-12-01T09:00:00+08:00||T1\n") == 0);
    free(b.p);
}

/* An .xlsx whose ID column holds numbers, as Excel makes it when IDs are typed in General. */
static void test_xlsx_number_ids(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/numbers.xlsx", dir);
    lxw_workbook *wb = workbook_new(path);
    lxw_worksheet *ws = workbook_add_worksheet(wb, NULL);
    const char *head[] = {"准考证号", "证件号码", "姓名", "总分", "考试年份"};
    for (int i = 0; i < 5; i++)
        worksheet_write_string(ws, 0, (lxw_col_t)i, head[i], NULL);
    /* row 2: an 18-digit ID as a number (Excel keeps 15 digits); row 3: a ticket as a number
     * that is exact (15 digits) and an ID as text; row 5 (row 4 empty): a shared string */
    worksheet_write_number(ws, 1, 0, 100130242100101.0, NULL);
    worksheet_write_number(ws, 1, 1, 110105194912310021.0, NULL);
    worksheet_write_string(ws, 1, 2, "张三", NULL);
    worksheet_write_number(ws, 1, 3, 512, NULL);
    worksheet_write_number(ws, 1, 4, 2024, NULL);
    worksheet_write_number(ws, 2, 0, 100130242100102.0, NULL);
    worksheet_write_string(ws, 2, 1, "11010519491231002X", NULL);
    worksheet_write_string(ws, 2, 2, "李四", NULL);
    worksheet_write_number(ws, 2, 3, 430, NULL);
    worksheet_write_number(ws, 2, 4, 2024, NULL);
    worksheet_write_string(ws, 4, 0, "100130242100103", NULL);
    worksheet_write_string(ws, 4, 1, "E1234567", NULL);
    worksheet_write_string(ws, 4, 2, "张三", NULL); /* the same shared string again */
    worksheet_write_number(ws, 4, 3, 600, NULL);
    worksheet_write_number(ws, 4, 4, 2024, NULL);
    CHECK_EQ(workbook_close(wb), LXW_NO_ERROR);
    size_t n;
    char *data = slurp(path, &n);
    readout_t r;
    read_all(data, n, &cet_sheet_scores, &r);
    CHECK_EQ(r.enc, CET_SHEET_ENC_XLSX);
    CHECK_EQ(r.rows, 2);
    CHECK_EQ(r.bad, 1);
    CHECK_EQ(r.first_bad.code, CET_E_SHEET_EXCEL_NUMBER);
    CHECK_EQ(r.first_bad.line, 2);
    CHECK(strcmp(r.text, "100130242100102|11010519491231002X|李四|430|2024\n"
                         "100130242100103|E1234567|张三|600|2024\n") == 0);
    if (r.rows != 2) fprintf(stderr, "number ids read:\n%s\n%s\n", r.text, r.first_bad.message);
    free(data);
}

/* The template: Chinese header, English row under it (skipped), nothing else. */
static void test_template(void)
{
    for (int f = CET_SHEET_FMT_CSV; f <= CET_SHEET_FMT_XLSX; f++) {
        buf_t b;
        memset(&b, 0, sizeof b);
        cet_sheet_writer_t *w;
        cet_sheet_writer_open((cet_sheet_format_t)f, &cet_sheet_roster, NULL, buf_sink_cb, &b, &w);
        CHECK_EQ(cet_sheet_writer_template(w), 0);
        CHECK_EQ(cet_sheet_writer_finish(w), 0);
        readout_t r;
        read_all(b.p, b.n, &cet_sheet_roster, &r);
        CHECK_EQ(r.header_rc, 0);
        CHECK_EQ(r.rows, 0);
        CHECK_EQ(r.bad, 0);
        /* a teacher fills in a row under the two header rows */
        if (f == CET_SHEET_FMT_CSV) {
            char filled[8192];
            snprintf(filled, sizeof filled, "%s%s\r\n", b.p, ROW1_ZH);
            read_all(filled, strlen(filled), &cet_sheet_roster, &r);
            CHECK_EQ(r.rows, 1);
            CHECK(strncmp(r.text, EXPECT, strlen("mainland|11010519491231002X")) == 0);
        }
        free(b.p);
    }
}

/* A workbook LibreOffice makes from a CSV, when LibreOffice is installed (never installed here). */
static void test_libreoffice(void)
{
    if (system("command -v soffice >/dev/null 2>&1") != 0) {
        printf("test_cet_sheet: SKIP LibreOffice part (soffice is not installed)\n");
        return;
    }
    char src[512];
    snprintf(src, sizeof src, "%s/lo.csv", dir);
    const char *csv =
        "准考证号,证件号码,姓名,总分,考试年份\n100130242100101,E1234567,张三,512,2024\n";
    spit(src, csv, strlen(csv));
    CHECK_EQ(sh("cd '%s' && soffice --headless --convert-to xlsx '%s' >/dev/null 2>&1", dir, src),
             0);
    char out[512];
    snprintf(out, sizeof out, "%s/lo.xlsx", dir);
    size_t n;
    char *data = slurp(out, &n);
    CHECK(data != NULL);
    if (!data) return;
    readout_t r;
    read_all(data, n, &cet_sheet_scores, &r);
    CHECK_EQ(r.rows, 1);
    CHECK(strcmp(r.text, "100130242100101|E1234567|张三|512|2024\n") == 0);
    free(data);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", cet_test_tmpdir());
    test_utf8_and_bom();
    test_tab_chinese_headers();
    test_gbk();
    test_utf16();
    test_utf8_damaged_line();
    test_row_errors();
    test_header_problems();
    test_title_and_sep();
    test_sink_error_and_refused_value();
    test_write_csv_formats();
    test_xlsx_roundtrip();
    test_xlsx_number_ids();
    test_template();
    test_libreoffice();
    cet_test_rmdir(dir);
    return cet_test_done("test_cet_sheet");
}
