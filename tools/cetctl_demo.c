/*
 * cetctl_demo.c: `cetctl demo --data DIR [--candidates N] [--seed S]`.
 *
 * A deterministic demo sitting: everything random comes from one xoshiro256**
 * stream seeded by --seed, so the same seed gives the same provinces, schools,
 * roster, scores and capacities; only the sitting's windows are relative to
 * the clock (so the registration window is open when you try it). What is
 * made, and why, is documented in docs/data-formats.md ("The demo data set").
 *
 * Speed: the roster is generated in memory CTL_TXN_ROWS_MAX rows at a time and
 * each chunk is written in one write txn (store_write_run), so a million
 * candidates take a few seconds.
 */
#include <stdlib.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "tools/cetctl.h"

#define DEMO_CANDIDATES_DEFAULT 20000
#define DEMO_SITTING_ID 20262
#define DEMO_SITTING_YEAR 2026
#define DEMO_STAFF_PASSWORD "demo-Staff-2026"
#define DEMO_DAY_S 86400
#define DEMO_SMALL_CAPACITY 50 /* 993021: offers that fill up in seconds, for tests */
#define DEMO_EXAMPLES 3

/* ---- PRNG: splitmix64 seeds xoshiro256** ---- */
typedef struct rng {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) (Lemire's multiply; the tiny bias is irrelevant for demo data). */
static uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* ---- the fixed places ---- */
typedef struct demo_school {
    uint32_t code;
    uint16_t province;
    bool oral_elsewhere;
    const char *name;
} demo_school_t;

static const demo_school_t demo_schools[] = {
    {10013, 11, true, "北京邮电大学"},
    {99101, 99, false, "测试学校"},
    {99301, 99, true, "测试学校机构01"},
    {99302, 99, true, "测试学校机构02"},
};

typedef struct demo_campus {
    uint32_t code;
    const char *name;
    uint32_t weight;       /* per mille of the candidates */
    const char *written;   /* written subjects offered */
    const char *oral;      /* oral subjects offered */
    uint32_t oral_pct;     /* oral capacity: percent of the campus's candidates */
    bool busiest;          /* English capacity below demand: runs out under load */
    bool small;            /* every offer DEMO_SMALL_CAPACITY */
} demo_campus_t;

static const demo_campus_t demo_campuses[] = {
    {100130, "西土城路校区", 380, "123456789", "FS", 10, true, false},
    {100131, "沙河校区", 340, "123456", "F", 8, false, false},
    {100132, "宏福校区", 60, "12", "", 0, false, false},
    {100133, "小西天校区", 40, "123", "", 0, false, false},
    {991010, "99101-0校区", 50, "123456789", "FS", 10, false, false},
    {993010, "测试校区机构001", 50, "123456789", "FS", 10, false, false},
    {993020, "测试校区机构002", 50, "123456789", "FS", 10, false, false},
    {993021, "测试校区机构003", 30, "123456789", "", 0, false, true},
};
#define DEMO_CAMPUSES (sizeof demo_campuses / sizeof demo_campuses[0])

static const char *const surnames[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "彭", "曾", "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏",
    "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金",
    "石", "廖", "贾", "夏", "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹",
    "薛", "闫", "段", "雷", "侯", "龙", "史", "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵",
    "万", "钱", "严", "覃", "武", "戴", "莫", "孔", "向", "汤", "欧阳", "司马", "诸葛", "上官"};
static const char *const given[] = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "萍", "红", "鹏", "飞", "鑫",
    "宇", "浩", "然", "轩", "博", "文", "子", "涵", "欣", "怡", "梓", "晨", "雨", "思", "佳",
    "琪", "悦", "嘉", "一", "诺", "睿", "泽", "瑞", "雪", "婷", "晓", "东", "阳", "志", "建",
    "俊", "凯", "晴", "颖", "昊", "天", "航", "宁", "乐", "安", "可", "心", "语", "彤", "琳",
    "璐", "昕", "晗", "逸", "辰", "煜", "铭", "哲", "翔", "远", "振", "亮", "斌", "海", "波",
    "丹", "蕾", "倩", "妍", "薇", "蓉", "洁", "慧", "楠", "冰", "春", "秋", "冬", "夏", "松",
    "林", "森", "峰", "岩", "川", "江", "河", "清", "源", "达", "彬", "琦", "璇", "瑶", "菲"};

/* Area codes (first 6 digits of a mainland ID): Beijing districts, then elsewhere. */
static const char *const area_beijing[] = {"110101", "110102", "110105", "110106",
                                           "110107", "110108", "110114", "110115"};
static const char *const area_other[] = {
    "120101", "130102", "130602", "140105", "150102", "210102", "220102", "230102",
    "310115", "320102", "320583", "330106", "340104", "350102", "360102", "370102",
    "370202", "410105", "420106", "430104", "440106", "440304", "450103", "460105",
    "500103", "510107", "520102", "530102", "540102", "610113", "620102", "630104",
    "640104", "650102", "321102", "411302", "130203", "431202", "511702", "360730"};

typedef struct demo_dept {
    const char *name;
    const char *majors[4];
} demo_dept_t;

static const demo_dept_t bupt_depts[] = {
    {"信息与通信工程学院", {"通信工程", "电子信息工程", "信息工程", NULL}},
    {"计算机学院", {"计算机科学与技术", "软件工程", "数据科学与大数据技术", NULL}},
    {"电子工程学院", {"电子科学与技术", "光电信息科学与工程", NULL}},
    {"网络空间安全学院", {"网络空间安全", "信息安全", "密码科学与技术", NULL}},
    {"经济管理学院", {"工商管理", "信息管理与信息系统", "电子商务", "会计学"}},
    {"人工智能学院", {"人工智能", "自动化", "智能科学与技术", NULL}},
    {"现代邮政学院", {"物流工程", "邮政管理", NULL}},
    {"理学院", {"数学与应用数学", "应用物理学", NULL}},
    {"人文学院", {"英语", "日语", "法学", NULL}},
    {"数字媒体与设计艺术学院", {"数字媒体技术", "数字媒体艺术", NULL}},
    {"集成电路学院", {"集成电路设计与集成系统", "微电子科学与工程", NULL}},
    {"国际学院", {"电信工程及管理", "物联网工程", NULL}},
};
#define BUPT_DEPTS (sizeof bupt_depts / sizeof bupt_depts[0])

static const char *const remarks[] = {"转专业", "辅修双学位", "休学复学", "留学生预科"};

/* ---- generator state ---- */
#define ENTRY_YEARS 4 /* 2022..2025 */
#define ENTRY_YEAR_FIRST 2022
#define TICKET_OVERFLOW_SEATS 69 /* seats 31..99 when 999 rooms of 30 are used up */

typedef struct demo_example {
    bool set;
    store_roster_t r;
    char ticket[CET_TICKET_DIGITS + 1];
} demo_example_t;

typedef struct demo {
    store_t *st;
    rng_t rng;
    uint64_t n, done;
    /* mainland ID numbers given out (their first 17 digits as a number) */
    uint64_t *ids;
    size_t ids_cap;
    uint32_t other_seq;   /* serial for the other ID types */
    uint32_t counts[DEMO_CAMPUSES][256]; /* qualified candidates per campus and subject */
    uint32_t campus_total[DEMO_CAMPUSES];
    uint32_t student_seq[DEMO_CAMPUSES][ENTRY_YEARS][BUPT_DEPTS];
    uint32_t ticket_seq[DEMO_CAMPUSES][ENTRY_YEARS][2];
    /* everything generated, then written in key order */
    store_roster_t *roster;
    store_score_t *scores;
    size_t scores_n;
    uint32_t *order;       /* roster indexes sorted by roster key */
    uint32_t *score_order; /* score indexes sorted by ticket */
    size_t w_roster, w_scores; /* what the next txn writes: [w, w + CTL_TXN_ROWS_MAX) */
    demo_example_t ex_plain[DEMO_EXAMPLES], ex_test, ex_review, ex_pending, ex_passport;
    int64_t now;
    store_sitting_t sitting;
    char staff_hash[4][CET_PWHASH_BYTES];
} demo_t;

static bool id_seen_add(demo_t *d, uint64_t v)
{
    size_t mask = d->ids_cap - 1;
    for (size_t i = (size_t)((v * 0x9e3779b97f4a7c15ULL) >> 20) & mask;; i = (i + 1) & mask) {
        if (d->ids[i] == v) return false;
        if (d->ids[i] == 0) {
            d->ids[i] = v;
            return true;
        }
    }
}

/* Writes v as exactly width decimal digits (zero-padded, high digits dropped). */
static char *put_digits(char *p, uint32_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A mainland ID: area + birth date + 3-digit sequence (odd: male) + check character. */
static void make_mainland(demo_t *d, const char *area, int by, int bm, int bd, bool male,
                          char out[CET_ID_NUMBER_BYTES])
{
    for (;;) {
        uint32_t seq = rng_below(&d->rng, 500) * 2 + (male ? 1 : 0);
        char digits[18];
        memcpy(digits, area, 6);
        char *p = put_digits(digits + 6, (uint32_t)by, 4);
        p = put_digits(p, (uint32_t)bm, 2);
        p = put_digits(p, (uint32_t)bd, 2);
        put_digits(p, seq, 3);
        digits[17] = 0;
        uint64_t v = 0;
        for (int i = 0; i < 17; i++) v = v * 10 + (uint64_t)(digits[i] - '0');
        if (!id_seen_add(d, v)) continue; /* taken: draw another sequence */
        memcpy(out, digits, 17);
        out[17] = cet_id_check_char(digits);
        out[18] = 0;
        return;
    }
}

/* Hong Kong identity card: letter + 6 digits + (check), the check per the HKID rule. */
static void make_hkid(uint32_t serial, char out[CET_ID_NUMBER_BYTES])
{
    char letter = (char)('A' + serial % 26);
    uint32_t num = (serial / 26) % 1000000;
    char d[7];
    snprintf(d, sizeof d, "%06u", num);
    int sum = 9 * 36 + 8 * (letter - 'A' + 10);
    for (int i = 0; i < 6; i++) sum += (7 - i) * (d[i] - '0');
    int c = (11 - sum % 11) % 11;
    snprintf(out, CET_ID_NUMBER_BYTES, "%c%s(%c)", letter, d, c == 10 ? 'A' : (char)('0' + c));
}

static void make_other_id(demo_t *d, uint8_t *type, char out[CET_ID_NUMBER_BYTES])
{
    uint32_t k = ++d->other_seq;
    uint32_t r = rng_below(&d->rng, 100);
    if (r < 40) {
        *type = STORE_ID_PASSPORT;
        snprintf(out, CET_ID_NUMBER_BYTES, "E%08u", 10000000u + k * 7u % 89999989u);
    } else if (r < 60) {
        *type = STORE_ID_HKMO_PERMIT;
        snprintf(out, CET_ID_NUMBER_BYTES, "%c%08u", (k & 1) ? 'H' : 'M', 20000000u + k);
    } else if (r < 75) {
        *type = STORE_ID_TAIWAN;
        snprintf(out, CET_ID_NUMBER_BYTES, "%08u", 30000000u + k);
    } else if (r < 90) {
        *type = STORE_ID_HONGKONG;
        make_hkid(k, out);
    } else {
        *type = STORE_ID_MACAO;
        snprintf(out, CET_ID_NUMBER_BYTES, "%c%06u(%u)", "157"[k % 3], k % 1000000u, k % 10u);
    }
}

static void add_subject(store_roster_t *r, char c)
{
    if (r->n_subjects < CET_SUBJECTS_MAX && !memchr(r->subjects, c, r->n_subjects))
        r->subjects[r->n_subjects++] = c;
}

/* Sorts the qualified subjects by code ('1' < ... < '9' < 'F' < 'S'). */
static void sort_subjects(store_roster_t *r)
{
    for (int i = 1; i < r->n_subjects; i++)
        for (int j = i; j > 0 && r->subjects[j - 1] > r->subjects[j]; j--) {
            char t = r->subjects[j];
            r->subjects[j] = r->subjects[j - 1];
            r->subjects[j - 1] = t;
        }
}

/* A CET4 score record at the candidate's campus in an earlier sitting; false if none fits. */
static bool make_score(demo_t *d, int ci, const store_roster_t *r, const char *id_number,
                       uint16_t score, store_score_t *s, char *ticket_out)
{
    int year = r->entry_year + (int)rng_below(&d->rng, 2);
    if (year > DEMO_SITTING_YEAR - 1) year = DEMO_SITTING_YEAR - 1;
    int half = year == r->entry_year ? 2 : 1 + (int)rng_below(&d->rng, 2);
    uint32_t *seq = &d->ticket_seq[ci][year - ENTRY_YEAR_FIRST][half - 1];
    uint32_t c = (*seq)++, room, seat;
    if (c < CET_ROOMS_PER_CAMPUS_MAX * CET_ROOM_SEATS_DEFAULT) {
        room = c / CET_ROOM_SEATS_DEFAULT + 1, seat = c % CET_ROOM_SEATS_DEFAULT + 1;
    } else if ((c -= CET_ROOMS_PER_CAMPUS_MAX * CET_ROOM_SEATS_DEFAULT) <
               CET_ROOMS_PER_CAMPUS_MAX * TICKET_OVERFLOW_SEATS) {
        room = c / TICKET_OVERFLOW_SEATS + 1,
        seat = CET_ROOM_SEATS_DEFAULT + 1 + c % TICKET_OVERFLOW_SEATS;
    } else {
        return false;
    }
    memset(s, 0, sizeof *s);
    /* each field reduced to its width (all are within it): 15 digits, as the format says */
    snprintf(s->ticket, sizeof s->ticket, "%06u%02u%u1%03u%02u", r->campus % 1000000u,
             (unsigned)year % 100u, (unsigned)half % 10u, room % 1000u, seat % 100u);
    cet_strlcpy(s->id_number, id_number, sizeof s->id_number);
    memcpy(s->name, r->name, sizeof s->name);
    s->score = score;
    s->year = (uint16_t)year;
    s->level = 4;
    if (ticket_out) memcpy(ticket_out, s->ticket, CET_TICKET_DIGITS + 1);
    return true;
}

static void keep_example(demo_example_t *e, const store_roster_t *r, const char *ticket)
{
    if (e->set) return;
    e->set = true;
    e->r = *r;
    if (ticket) memcpy(e->ticket, ticket, sizeof e->ticket);
}

static void gen_candidate(demo_t *d, store_roster_t *r)
{
    rng_t *g = &d->rng;
    memset(r, 0, sizeof *r);
    /* campus by weight */
    uint32_t w = rng_below(g, 1000), acc = 0;
    int ci = 0;
    for (size_t i = 0; i < DEMO_CAMPUSES; i++) {
        acc += demo_campuses[i].weight;
        if (w < acc) {
            ci = (int)i;
            break;
        }
    }
    const demo_campus_t *cp = &demo_campuses[ci];
    r->campus = cp->code;
    r->school = cp->code / 10;
    bool bupt = r->school == 10013;
    bool male = rng_below(g, 2) == 0;
    if (male) r->flags |= STORE_ROSTER_MALE;

    /* name: surname + one or two given characters */
    const char *sn = surnames[rng_below(g, sizeof surnames / sizeof surnames[0])];
    const char *g1 = given[rng_below(g, sizeof given / sizeof given[0])];
    size_t sl = strlen(sn), gl = strlen(g1);
    memcpy(r->name, sn, sl);
    memcpy(r->name + sl, g1, gl);
    if (rng_below(g, 10) < 7) {
        const char *g2 = given[rng_below(g, sizeof given / sizeof given[0])];
        memcpy(r->name + sl + gl, g2, strlen(g2));
    }

    /* education, program, entry year, grade (year of study in the 2026 sitting) */
    uint32_t e = rng_below(g, 1000);
    if (e < 850) {
        r->education = STORE_EDU_BACHELOR, r->program_years = 4;
        r->entry_year = (uint16_t)(ENTRY_YEAR_FIRST + rng_below(g, 4));
    } else if (e < 930) {
        r->education = STORE_EDU_ASSOCIATE, r->program_years = 3;
        r->entry_year = (uint16_t)(ENTRY_YEAR_FIRST + 2 + rng_below(g, 2));
    } else {
        r->education = STORE_EDU_GRADUATE, r->program_years = rng_below(g, 3) ? 3 : 2;
        r->entry_year = (uint16_t)(ENTRY_YEAR_FIRST + 2 + rng_below(g, 2));
    }
    r->grade = (uint8_t)(DEMO_SITTING_YEAR - r->entry_year);

    /* birth date: 18-19 at entry, graduates 22-23; within 2000..2007 */
    int by = r->entry_year - (r->education == STORE_EDU_GRADUATE ? 22 : 18) - (int)rng_below(g, 2);
    if (by < 2000) by = 2000;
    if (by > 2007) by = 2007;
    int bm = 1 + (int)rng_below(g, 12);
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int dim = bm == 2 && leap(by) ? 29 : mdays[bm - 1];
    int bd = 1 + (int)rng_below(g, (uint32_t)dim);

    /* ID: ~97% mainland, area code Beijing for a third of BUPT, elsewhere otherwise */
    if (rng_below(g, 1000) < 970) {
        r->id_type = STORE_ID_MAINLAND;
        const char *area =
            bupt && rng_below(g, 3) == 0
                ? area_beijing[rng_below(g, sizeof area_beijing / sizeof area_beijing[0])]
                : area_other[rng_below(g, sizeof area_other / sizeof area_other[0])];
        make_mainland(d, area, by, bm, bd, male, r->id_number);
    } else {
        make_other_id(d, &r->id_type, r->id_number);
    }

    /* department, major, class, student number */
    uint32_t di = 0;
    if (bupt) {
        di = rng_below(g, BUPT_DEPTS);
        const demo_dept_t *dp = &bupt_depts[di];
        int nm = 0;
        while (nm < 4 && dp->majors[nm]) nm++;
        cet_strlcpy(r->department, dp->name, sizeof r->department);
        cet_strlcpy(r->major, dp->majors[rng_below(g, (uint32_t)nm)], sizeof r->major);
    } else {
        cet_strlcpy(r->department, "测试学院", sizeof r->department);
        cet_strlcpy(r->major, "测试专业", sizeof r->major);
    }
    uint32_t seq = ++d->student_seq[ci][r->entry_year - ENTRY_YEAR_FIRST][di];
    uint32_t dept_code = 21 + di + (uint32_t)ci * 20; /* unique per campus and department */
    /* student_no: entry year, department code, 4-digit serial (5 past 9999), e.g. 2023211001 */
    char *p = put_digits(r->student_no, r->entry_year, 4);
    p = put_digits(p, dept_code % 100, 2);
    put_digits(p, seq, seq > 9999 ? 5 : 4);
    p = put_digits(r->class_name, r->entry_year, 4);
    p = put_digits(p, dept_code % 100, 2);
    put_digits(p, seq / 30 % 100 + 1, 2);
    if (rng_below(g, 100) == 0)
        cet_strlcpy(r->remarks, remarks[rng_below(g, sizeof remarks / sizeof remarks[0])],
                    sizeof r->remarks);

    /* qualified subjects and CET4 history */
    add_subject(r, '1');
    add_subject(r, 'F');
    bool barred = rng_below(g, 100) < 2;
    if (barred) r->flags |= STORE_ROSTER_CET6_BARRED;
    uint32_t lang = rng_below(g, 1000);
    if (lang < 30) add_subject(r, '3');
    if (lang < 10) add_subject(r, '4');
    if (lang >= 30 && lang < 40) add_subject(r, '5');
    if (lang >= 40 && lang < 45) add_subject(r, '7');
    if (lang >= 45 && lang < 50) add_subject(r, '9');
    uint32_t u = rng_below(g, 10000);
    uint16_t pass = (uint16_t)(425 + rng_below(g, 226)), fail = (uint16_t)(300 + rng_below(g, 125));
    store_score_t *s = &d->scores[d->scores_n];
    char ticket[CET_TICKET_DIGITS + 1] = "";
    if (u < 3500 && !barred) {
        add_subject(r, '2');
        add_subject(r, 'S');
        if (rng_below(g, 7) < 5 && make_score(d, ci, r, r->id_number, pass, s, NULL))
            d->scores_n++;
    } else if (u >= 3500 && u < 4000) {
        /* passed CET4 but the roster lacks English-6: the CET6 review approves automatically */
        if (make_score(d, ci, r, r->id_number, pass, s, ticket)) {
            d->scores_n++;
            if (!barred && r->id_type == STORE_ID_MAINLAND) keep_example(&d->ex_review, r, ticket);
        }
    } else if (u >= 4000 && u < 4200) {
        /* the score's ID number was recorded wrongly: name matches, ID does not -> pending */
        char other[CET_ID_NUMBER_BYTES];
        if (r->id_type == STORE_ID_MAINLAND) {
            make_mainland(d, r->id_number, by, bm, bd, male, other);
        } else {
            uint8_t t;
            make_other_id(d, &t, other);
        }
        if (make_score(d, ci, r, other, pass, s, ticket)) {
            d->scores_n++;
            if (!barred) keep_example(&d->ex_pending, r, ticket);
        }
    } else if (u >= 4200 && u < 5000) {
        if (make_score(d, ci, r, r->id_number, fail, s, NULL)) d->scores_n++;
    }
    sort_subjects(r);

    d->campus_total[ci]++;
    for (int i = 0; i < r->n_subjects; i++) d->counts[ci][(uint8_t)r->subjects[i]]++;
    if (r->id_type == STORE_ID_MAINLAND && ci == 0) {
        for (int i = 0; i < DEMO_EXAMPLES; i++)
            if (!d->ex_plain[i].set) {
                keep_example(&d->ex_plain[i], r, NULL);
                break;
            }
    }
    if (r->id_type == STORE_ID_MAINLAND && r->school == 99101) keep_example(&d->ex_test, r, NULL);
    if (r->id_type == STORE_ID_PASSPORT) keep_example(&d->ex_passport, r, NULL);
}

/*
 * Keys in LMDB order. Random inserts would copy nearly every leaf page in each
 * txn (the IDs are random), so the records are written sorted: every txn
 * then only appends at the right edge of the tree. roster_no follows the key
 * order, which is as deterministic as the generation order.
 */
static const demo_t *sort_ctx;

/* The roster key (id_type ‖ id_number) zero-padded to 24 bytes as three big-endian
 * words: zero padding keeps LMDB's order because no ID character is NUL. */
typedef struct sort_key {
    uint64_t k[3];
    uint32_t idx;
} sort_key_t;

static void sort_key_make(sort_key_t *s, const store_roster_t *r, uint32_t idx)
{
    uint8_t b[24] = {0};
    b[0] = r->id_type;
    size_t n = strlen(r->id_number);
    memcpy(b + 1, r->id_number, n < 23 ? n : 23);
    for (int w = 0; w < 3; w++) s->k[w] = store_rd64(b + 8 * w);
    s->idx = idx;
}

static int sort_key_cmp(const void *a, const void *b)
{
    const sort_key_t *x = a, *y = b;
    for (int w = 0; w < 3; w++)
        if (x->k[w] != y->k[w]) return x->k[w] < y->k[w] ? -1 : 1;
    return 0;
}

static int score_order_cmp(const void *a, const void *b)
{
    return memcmp(sort_ctx->scores[*(const uint32_t *)a].ticket,
                  sort_ctx->scores[*(const uint32_t *)b].ticket, CET_TICKET_DIGITS);
}

static int chunk_txn_cb(store_txn_t *txn, void *arg)
{
    demo_t *d = arg;
    size_t end = d->w_roster + CTL_TXN_ROWS_MAX;
    for (size_t i = d->w_roster; i < end && i < d->n; i++) {
        int rc = store_roster_put(txn, d->st, &d->roster[d->order[i]]);
        if (rc) return rc;
    }
    end = d->w_scores + CTL_TXN_ROWS_MAX;
    for (size_t i = d->w_scores; i < end && i < d->scores_n; i++) {
        int rc = store_score_put(txn, d->st, &d->scores[d->score_order[i]]);
        if (rc) return rc;
    }
    return 0;
}

/* ---- places, offers, announcements, staff: one final txn ---- */
static uint32_t offer_capacity(const demo_t *d, int ci, char subject)
{
    const demo_campus_t *cp = &demo_campuses[ci];
    uint32_t q = d->counts[ci][(uint8_t)subject], total = d->campus_total[ci];
    if (cp->small) return DEMO_SMALL_CAPACITY;
    if (subject == 'F' || subject == 'S') {
        uint32_t c = total * cp->oral_pct / 100 / (subject == 'S' ? 2 : 1);
        uint32_t min = subject == 'S' ? 20 : 30;
        return c < min ? min : c;
    }
    if (cp->busiest && subject == '1') return q * 70 / 100;
    if (cp->busiest && subject == '2') return q * 80 / 100;
    return q + q / 10 + 10;
}

static const struct {
    uint8_t scope;
    uint32_t code;
    const char *text;
} demo_announces[] = {
    {STORE_ANNOUNCE_PROVINCE, 11,
     "北京市2026年下半年全国大学英语四、六级考试（CET）报名通告：笔试和口试均在本系统报名，"
     "口试须先报考同语种同级别的笔试。报考科目缴费成功后方为报名成功，未缴费的科目保留24小时，"
     "逾期自动取消。请考生按学校通知的时间完成报名和缴费。"},
    {STORE_ANNOUNCE_PROVINCE, 99,
     "测试省CET报名通告：本省为测试数据，仅供系统演示和测试使用。报名时间、考试时间以考次设置为准。"},
    {STORE_ANNOUNCE_SCHOOL, 10013,
     "北京邮电大学CET报名通知：请在报名开放期间登录报名，先查询资格并绑定学籍信息，再选择报考科目。"
     "西土城路校区、沙河校区设有口试考点。集体缴费的科目由学校统一锁定，锁定期间不能取消。"
     "如有疑问请联系教务处考务办公室。"},
    {STORE_ANNOUNCE_SCHOOL, 99101, "测试学校报名须知：本校考生只能在本校校区报考口试。"},
    {STORE_ANNOUNCE_SCHOOL, 99301, "测试学校机构01报名须知：本校考生可在其他学校的校区报考口试。"},
    {STORE_ANNOUNCE_SCHOOL, 99302,
     "测试学校机构02报名须知：本校有两个校区，测试校区机构003的名额很少，用于满额测试。"},
};

static const struct {
    const char *user;
    uint8_t role;
    uint32_t scope;
} demo_staff[] = {
    {"teacher10013", STORE_STAFF_SCHOOL, 10013},
    {"teacher99101", STORE_STAFF_SCHOOL, 99101},
    {"prov11", STORE_STAFF_PROVINCE, 11},
    {"support", STORE_STAFF_SUPPORT, 0},
};

static int places_txn_cb(store_txn_t *txn, void *arg)
{
    demo_t *d = arg;
    int rc;
    if ((rc = store_sitting_put(txn, d->st, &d->sitting))) return rc;
    if ((rc = ctl_subjects_ensure(txn, d->st))) return rc;
    store_province_t p;
    memset(&p, 0, sizeof p);
    p.code = 11;
    cet_strlcpy(p.name, "北京市", sizeof p.name);
    if ((rc = store_province_put(txn, d->st, &p))) return rc;
    p.code = 99;
    cet_strlcpy(p.name, "测试省", sizeof p.name);
    if ((rc = store_province_put(txn, d->st, &p))) return rc;
    for (size_t i = 0; i < sizeof demo_schools / sizeof demo_schools[0]; i++) {
        store_school_t s;
        memset(&s, 0, sizeof s);
        s.code = demo_schools[i].code;
        s.province = demo_schools[i].province;
        s.flags = demo_schools[i].oral_elsewhere ? STORE_SCHOOL_ORAL_ELSEWHERE : 0;
        cet_strlcpy(s.name, demo_schools[i].name, sizeof s.name);
        if ((rc = store_school_put(txn, d->st, &s))) return rc;
    }
    for (size_t ci = 0; ci < DEMO_CAMPUSES; ci++) {
        const demo_campus_t *cp = &demo_campuses[ci];
        store_campus_t c;
        memset(&c, 0, sizeof c);
        c.code = cp->code;
        c.school = cp->code / 10;
        cet_strlcpy(c.name, cp->name, sizeof c.name);
        if ((rc = store_campus_put(txn, d->st, &c))) return rc;
        char subjects[24];
        snprintf(subjects, sizeof subjects, "%s%s", cp->written, cp->oral);
        for (const char *s = subjects; *s; s++) {
            store_offer_t o;
            memset(&o, 0, sizeof o);
            o.campus = cp->code;
            o.subject = *s;
            o.capacity = offer_capacity(d, (int)ci, *s);
            bool oral = *s == 'F' || *s == 'S';
            bool english = *s == '1' || *s == '2';
            o.fee = oral ? 5000 : english ? 3000 : 3500;
            o.window_opens = d->sitting.reg_opens;
            o.window_closes = d->sitting.reg_closes;
            o.exam_date = *s == 'F'   ? d->sitting.oral_date_4
                          : *s == 'S' ? d->sitting.oral_date_6
                                      : d->sitting.written_date;
            if ((rc = store_offer_put(txn, d->st, &o))) return rc;
        }
    }
    for (size_t i = 0; i < sizeof demo_announces / sizeof demo_announces[0]; i++)
        if ((rc = store_announce_put(txn, d->st, demo_announces[i].scope, demo_announces[i].code,
                                     demo_announces[i].text)))
            return rc;
    for (size_t i = 0; i < sizeof demo_staff / sizeof demo_staff[0]; i++) {
        store_staff_t s;
        memset(&s, 0, sizeof s);
        cet_strlcpy(s.user, demo_staff[i].user, sizeof s.user);
        memcpy(s.pwhash, d->staff_hash[i], sizeof s.pwhash);
        s.role = demo_staff[i].role;
        s.scope = demo_staff[i].scope;
        if ((rc = store_staff_put(txn, d->st, &s))) return rc;
    }
    char text[128];
    snprintf(text, sizeof text, "demo: %llu candidates", (unsigned long long)d->n);
    return store_audit_append(txn, d->st, d->now, "cetctl", "demo", text);
}

static void print_example(const char *what, const demo_example_t *e)
{
    if (!e->set) return;
    fprintf(stderr, "  %-34s %s %-10s %s %s campus %u%s%s\n", what, cet_id_type_name(e->r.id_type),
            e->r.name, e->r.id_number, (e->r.flags & STORE_ROSTER_MALE) ? "M" : "F", e->r.campus,
            e->ticket[0] ? " CET4 ticket " : "", e->ticket);
}

static int64_t minute_floor(int64_t t)
{
    return t - t % 60;
}

int ctl_cmd_demo(int argc, char **argv)
{
    const char *data = NULL, *cands = NULL, *seed_s = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL},
                              {"--candidates", &cands, NULL},
                              {"--seed", &seed_s, NULL},
                              {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    uint64_t n = DEMO_CANDIDATES_DEFAULT, seed = 1;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos || !data ||
        (cands && ctl_parse_u64(cands, 1, CTL_DEMO_CANDIDATES_MAX, &n) != 0) ||
        (seed_s && ctl_parse_u64(seed_s, 0, UINT64_MAX, &seed) != 0)) {
        fprintf(stderr, "usage: cetctl demo --data DIR [--candidates N (1..%d)] [--seed S]\n",
                CTL_DEMO_CANDIDATES_MAX);
        return CTL_EXIT_USAGE;
    }
    demo_t *d = cet_calloc(1, sizeof *d);
    int ret = CTL_EXIT_USAGE;
    if (ctl_store_open_nosync(data, &d->st) != 0) goto out;
    {
        store_txn_t *txn;
        size_t have = 0;
        store_sitting_t s;
        int rc = store_read_begin(d->st, &txn);
        if (rc == 0) {
            rc = store_count(txn, d->st, STORE_DB_ROSTER, &have);
            if (rc == 0 && store_sitting_get(txn, d->st, &s) == 0) have++;
            store_abort(txn);
        }
        if (rc || have) {
            fprintf(stderr, "cetctl demo: %s already holds data; give a fresh --data DIR\n", data);
            goto out;
        }
    }
    d->n = n;
    rng_seed(&d->rng, seed);
    d->ids_cap = 1024;
    while (d->ids_cap < n * 3) d->ids_cap <<= 1;
    d->ids = cet_calloc(d->ids_cap, sizeof *d->ids);
    d->roster = cet_malloc(n * sizeof *d->roster);
    d->scores = cet_malloc(n * sizeof *d->scores);
    d->order = cet_malloc(n * sizeof *d->order);

    /* the sitting, relative to now: lookup 10 days ago, registration open since yesterday */
    d->now = cet_now_s();
    int64_t m = minute_floor(d->now);
    store_sitting_t *st = &d->sitting;
    st->id = DEMO_SITTING_ID;
    cet_strlcpy(st->name, "2026年下半年CET考试", sizeof st->name);
    st->lookup_opens = m - 10 * DEMO_DAY_S;
    st->reg_opens = m - 1 * DEMO_DAY_S;
    st->reg_closes = m + 14 * DEMO_DAY_S;
    st->print_opens = m + 30 * DEMO_DAY_S;
    st->oral_date_4 = ctl_day_start(d->now + 33 * DEMO_DAY_S);
    st->oral_date_6 = ctl_day_start(d->now + 34 * DEMO_DAY_S);
    st->written_date = ctl_day_start(d->now + 40 * DEMO_DAY_S);

    /* staff passwords first: argon2id is the slow part of a small demo */
    for (size_t i = 0; i < sizeof demo_staff / sizeof demo_staff[0]; i++)
        if (ctl_password_hash(DEMO_STAFF_PASSWORD, d->staff_hash[i]) != 0) {
            fprintf(stderr, "cetctl demo: out of memory hashing a password\n");
            goto out;
        }

    ctl_progress_t prog;
    ctl_progress_start(&prog, "demo roster");
    for (d->done = 0; d->done < n; d->done++) {
        gen_candidate(d, &d->roster[d->done]);
        ctl_progress_tick(&prog, d->done + 1);
    }
    uint64_t t_gen = cet_mono_ns();
    d->score_order = cet_malloc((d->scores_n + 1) * sizeof *d->score_order);
    for (size_t i = 0; i < d->scores_n; i++) d->score_order[i] = (uint32_t)i;
    sort_ctx = d;
    sort_key_t *keys = cet_malloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++) sort_key_make(&keys[i], &d->roster[i], (uint32_t)i);
    qsort(keys, n, sizeof *keys, sort_key_cmp);
    for (size_t i = 0; i < n; i++) d->order[i] = keys[i].idx;
    cet_free(keys);
    qsort(d->score_order, d->scores_n, sizeof *d->score_order, score_order_cmp);
    uint64_t t_sort = cet_mono_ns();
    for (d->w_roster = d->w_scores = 0; d->w_roster < n || d->w_scores < d->scores_n;
         d->w_roster += CTL_TXN_ROWS_MAX, d->w_scores += CTL_TXN_ROWS_MAX) {
        int rc = store_write_run(d->st, chunk_txn_cb, d);
        if (rc) {
            fprintf(stderr, "cetctl demo: storage error: %s\n", store_strerror(rc));
            goto out;
        }
        ctl_progress_tick(&prog, d->w_roster);
    }
    uint64_t t_write = cet_mono_ns();
    ctl_progress_done(&prog, n);
    fprintf(stderr, "demo: generate %.2f s, sort %.2f s, write %.2f s\n",
            (double)(t_gen - prog.start_ns) / 1e9, (double)(t_sort - t_gen) / 1e9,
            (double)(t_write - t_sort) / 1e9);
    int rc = store_write_run(d->st, places_txn_cb, d);
    if (rc) {
        fprintf(stderr, "cetctl demo: storage error: %s\n", store_strerror(rc));
        goto out;
    }
    if ((rc = ctl_store_sync(d->st))) {
        fprintf(stderr, "cetctl demo: cannot sync: %s\n", store_strerror(rc));
        goto out;
    }
    char t1[26], t2[26];
    fprintf(stderr, "demo: sitting %u %s, registration %s .. %s\n", st->id, st->name,
            cet_time_format(st->reg_opens, t1), cet_time_format(st->reg_closes, t2));
    fprintf(stderr, "demo: %llu candidates, %llu CET4 scores, seed %llu; staff teacher10013, "
                    "teacher99101, prov11, support with password %s\n",
            (unsigned long long)n, (unsigned long long)d->scores_n, (unsigned long long)seed,
            DEMO_STAFF_PASSWORD);
    fprintf(stderr, "demo: candidates to try (ID type, name, ID number):\n");
    for (int i = 0; i < DEMO_EXAMPLES; i++) print_example("北京邮电大学 西土城路校区", &d->ex_plain[i]);
    print_example("测试学校 (oral only at own campus)", &d->ex_test);
    print_example("CET6 review, approves at once", &d->ex_review);
    print_example("CET6 review, pending (ID mismatch)", &d->ex_pending);
    print_example("passport holder", &d->ex_passport);
    ret = CTL_EXIT_OK;
out:
    if (d->st) store_close(d->st);
    cet_free(d->ids);
    cet_free(d->roster);
    cet_free(d->scores);
    cet_free(d->order);
    cet_free(d->score_order);
    cet_free(d);
    return ret;
}
