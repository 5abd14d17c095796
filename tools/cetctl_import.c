/*
 * cetctl_import.c: `cetctl import sitting|campuses|roster|scores|rooms --data DIR FILE`.
 *
 * FILE is a school file as base/cet_sheet.h reads it: CSV in UTF-8 (with or
 * without BOM), GB18030/GBK or UTF-16, comma or tab separated, or an .xlsx;
 * headers in English or Chinese. All or nothing: the whole file is validated
 * and applied inside ONE write txn (LMDB takes multi-GB txns;
 * store_write_run grows the map and redoes the txn from the start, which is
 * why the sheet reader never modifies its buffer).
 * Each bad row is reported as FILE:LINE: message; after the first bad row
 * nothing more is written, the rest is only validated, and the txn is
 * aborted at the end, so a failed import leaves the store exactly as it was.
 * Formats: docs/data-formats.md.
 */
#include <stdarg.h>
#include <string.h>
#include <xxhash.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "engine/eng_admin.h"
#include "tools/cetctl.h"

/* ---- a set of 128-bit keys with a 32-bit value (line numbers, indexes) ---- */
typedef struct keymap_slot {
    uint64_t a, b;
    uint32_t val;
    uint32_t used;
} keymap_slot_t;

typedef struct keymap {
    keymap_slot_t *slots;
    size_t cap, n; /* cap is a power of two, kept at most half full */
} keymap_t;

static void keymap_init(keymap_t *m, size_t expect)
{
    size_t cap = 1024;
    while (cap < expect * 2) cap <<= 1;
    m->slots = cet_calloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->n = 0;
}

static void keymap_free(keymap_t *m)
{
    cet_free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

static keymap_slot_t *keymap_find(keymap_t *m, uint64_t a, uint64_t b)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)(a ^ (b * 0x9e3779b97f4a7c15ULL)) & mask;; i = (i + 1) & mask) {
        keymap_slot_t *s = &m->slots[i];
        if (!s->used || (s->a == a && s->b == b)) return s;
    }
}

static void keymap_grow(keymap_t *m)
{
    keymap_t bigger;
    keymap_init(&bigger, m->cap);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].used) continue;
        *keymap_find(&bigger, m->slots[i].a, m->slots[i].b) = m->slots[i];
        bigger.n++;
    }
    keymap_free(m);
    *m = bigger;
}

/* Inserts (a, b) -> val unless present. Returns NULL if inserted, else the existing slot. */
static keymap_slot_t *keymap_add(keymap_t *m, uint64_t a, uint64_t b, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap) keymap_grow(m);
    keymap_slot_t *s = keymap_find(m, a, b);
    if (s->used) return s;
    s->a = a, s->b = b, s->val = val, s->used = 1;
    m->n++;
    return NULL;
}

static void keymap_add_bytes(keymap_t *m, const void *key, size_t n, uint32_t val,
                             keymap_slot_t **dup)
{
    XXH128_hash_t h = XXH3_128bits(key, n);
    *dup = keymap_add(m, h.low64, h.high64, val);
}

/* ---- the import run ---- */
typedef struct imp imp_t;
typedef int (*imp_row_fn)(imp_t *im, store_txn_t *txn);

struct imp {
    store_t *st;
    ctl_in_t in;
    const char *kind;
    const cet_sheet_schema_t *schema;
    cet_sheet_map_t map;
    const char *vals[CET_SHEET_FIELDS_MAX]; /* the current row's values by schema column */
    unsigned line;        /* where the current row starts */
    char label[CET_SHEET_FIELDS_MAX][CET_SHEET_NAME_BYTES_MAX * 2]; /* column names in messages */
    imp_row_fn row_fn;
    store_subject_t subjects[256];
    keymap_t seen;        /* in-file duplicates */
    keymap_t places;      /* campuses import: province/school/campus first lines */
    keymap_t live;        /* campuses import: campus ‖ subject -> live registrations */
    uint64_t rows, bad, applied;
    unsigned shown;
    ctl_progress_t prog;
    /* one-entry cache of the last campus looked up (roster rows cluster by campus) */
    uint32_t cache_campus, cache_school;
};

__attribute__((format(printf, 2, 3))) static void row_error(imp_t *im, const char *fmt, ...)
{
    im->bad++;
    if (im->shown >= CTL_ERRORS_SHOWN_MAX) return;
    im->shown++;
    if (im->prog.tty) fputs("\r\033[K", stderr);
    fprintf(stderr, "%s:%u: ", im->in.path, im->line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The value of column i (empty string for an optional column that is absent). */
static const char *col(imp_t *im, int i)
{
    return im->vals[i];
}

/* A column as messages name it: "id_number", or "证件号码 (id_number)" in a Chinese file. */
static const char *col_name(imp_t *im, int i)
{
    return im->label[i];
}

/* Copies a UTF-8 text field into dst[cap]; false (reported) if too long or not clean text. */
static bool text_field(imp_t *im, int i, char *dst, size_t cap, bool required)
{
    const char *s = col(im, i);
    size_t n = strlen(s);
    if (required && n == 0) {
        row_error(im, "%s is empty", col_name(im, i));
        return false;
    }
    if (n >= cap) {
        row_error(im, "%s is longer than %zu bytes", col_name(im, i), cap - 1);
        return false;
    }
    if (!cet_utf8_text_ok(s, n) || memchr(s, '\n', n) || memchr(s, '\t', n)) {
        row_error(im, "%s is not clean UTF-8 text (no control characters)", col_name(im, i));
        return false;
    }
    memcpy(dst, s, n + 1);
    return true;
}

static bool uint_field(imp_t *im, int i, uint64_t min, uint64_t max, uint64_t *out)
{
    if (ctl_parse_u64(col(im, i), min, max, out) == 0) return true;
    row_error(im, "%s '%s' is not a whole number in %llu..%llu", col_name(im, i), col(im, i),
              (unsigned long long)min, (unsigned long long)max);
    return false;
}

/* An RFC 3339 time; empty gives 0 when optional. */
static bool time_field(imp_t *im, int i, bool required, int64_t *out)
{
    const char *s = col(im, i);
    if (!*s && !required) {
        *out = 0;
        return true;
    }
    if (cet_time_parse(s, out) == 0 && *out > 0) return true;
    row_error(im, "%s '%s' is not an RFC 3339 time like 2026-12-01T09:00:00+08:00",
              col_name(im, i), s);
    return false;
}

static bool code_field(imp_t *im, int i, int digits, uint64_t *out)
{
    const char *s = col(im, i);
    uint64_t lo = 1, hi = 9;
    for (int k = 1; k < digits; k++) lo *= 10, hi = hi * 10 + 9;
    if (strlen(s) == (size_t)digits && ctl_parse_u64(s, lo, hi, out) == 0) return true;
    row_error(im, "%s '%s' must be %d digits", col_name(im, i), s, digits);
    return false;
}

static int campus_row(imp_t *im, store_txn_t *txn);

/* Live registrations per offer: a new capacity may not go below them. */
static int live_count_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    keymap_t *live = arg;
    store_reg_t r;
    if (vlen != sizeof r) return 0;
    memcpy(&r, val, sizeof r);
    keymap_slot_t *s = keymap_add(live, (uint64_t)r.campus << 8 | (uint8_t)r.subject, 0, 1);
    if (s) s->val++;
    (void)key, (void)klen;
    return 0;
}

static int import_txn_cb(store_txn_t *txn, void *arg)
{
    imp_t *im = arg;
    im->rows = im->bad = im->applied = 0;
    keymap_free(&im->seen);
    keymap_free(&im->places);
    keymap_free(&im->live);
    keymap_init(&im->seen, im->in.len / 64);
    keymap_init(&im->places, 1024);
    keymap_init(&im->live, 1024);
    im->cache_campus = 0;
    int rc = ctl_subjects_ensure(txn, im->st);
    if (rc == 0) rc = ctl_subjects_load(txn, im->st, im->subjects);
    if (rc == 0 && im->row_fn == campus_row)
        rc = store_scan(txn, im->st, STORE_DB_REG, NULL, 0, live_count_cb, &im->live);
    if (rc) return rc;
    cet_sheet_rewind(im->in.sheet);
    cet_sheet_problem_t probs[CTL_HEADER_PROBLEMS_MAX], why;
    int np = 0;
    if (cet_sheet_header(im->in.sheet, im->schema, &im->map, probs, CTL_HEADER_PROBLEMS_MAX, &np)) {
        for (int i = 0; i < np && i < CTL_HEADER_PROBLEMS_MAX; i++)
            fprintf(stderr, "%s:%u: %s\n", im->in.path, probs[i].line ? probs[i].line : 1,
                    probs[i].message);
        if (np > CTL_HEADER_PROBLEMS_MAX)
            fprintf(stderr, "%s: ... and %d more header problems\n", im->in.path,
                    np - CTL_HEADER_PROBLEMS_MAX);
        im->bad++;
        im->shown++; /* the header's problems are its report */
        return 1;
    }
    for (int i = 0; i < im->schema->ncols; i++) {
        const cet_sheet_col_t *c = &im->schema->cols[i];
        if ((im->map.via_zh >> i) & 1)
            snprintf(im->label[i], sizeof im->label[i], "%s (%s)", c->zh, c->name);
        else
            snprintf(im->label[i], sizeof im->label[i], "%s", c->name);
    }
    ctl_progress_start(&im->prog, im->kind);
    for (;;) {
        cet_sheet_row_t row;
        int r = cet_sheet_next(im->in.sheet, &row, &why);
        if (r == 0) break;
        im->rows++;
        if (r == 1) r = cet_sheet_values(im->in.sheet, &im->map, &row, im->vals, &why);
        if (r < 0) {
            im->line = why.line;
            row_error(im, "%s", why.message);
            continue;
        }
        im->line = row.line;
        rc = im->row_fn(im, txn);
        if (rc < 0 || rc > 1) return rc; /* storage failure: abort (MAP_FULL: redo) */
        ctl_progress_tick(&im->prog, im->rows);
    }
    if (im->rows == 0) {
        fprintf(stderr, "%s: no data rows\n", im->in.path);
        im->bad++;
    }
    return im->bad ? 1 : 0;
}

/* ---- sitting ---- */
/* column indexes of cet_sheet_sitting (base/cet_sheet_schema.c) */
enum { S_ID, S_NAME, S_LOOKUP, S_REG_OPENS, S_REG_CLOSES, S_PRINT, S_WRITTEN, S_ORAL4, S_ORAL6 };

static int sitting_row(imp_t *im, store_txn_t *txn)
{
    if (im->rows > 1) {
        row_error(im, "a sitting file has exactly one data row");
        return 0;
    }
    store_sitting_t s;
    memset(&s, 0, sizeof s);
    uint64_t id;
    bool ok = uint_field(im, S_ID, 19870, 29992, &id);
    ok &= text_field(im, S_NAME, s.name, sizeof s.name, true);
    ok &= time_field(im, S_LOOKUP, true, &s.lookup_opens);
    ok &= time_field(im, S_REG_OPENS, true, &s.reg_opens);
    ok &= time_field(im, S_REG_CLOSES, true, &s.reg_closes);
    ok &= time_field(im, S_PRINT, true, &s.print_opens);
    ok &= time_field(im, S_WRITTEN, true, &s.written_date);
    ok &= time_field(im, S_ORAL4, false, &s.oral_date_4);
    ok &= time_field(im, S_ORAL6, false, &s.oral_date_6);
    if (!ok) return 0;
    s.id = (uint32_t)id;
    if (id % 10 != 1 && id % 10 != 2) {
        row_error(im, "id %u must be YEAR followed by 1 (first half) or 2 (second half)", s.id);
        return 0;
    }
    if (!(s.lookup_opens <= s.reg_opens && s.reg_opens < s.reg_closes &&
          s.reg_closes <= s.print_opens && s.print_opens <= s.written_date)) {
        row_error(im, "times must satisfy lookup_opens <= reg_opens < reg_closes <= print_opens "
                      "<= written_date");
        return 0;
    }
    if (im->bad) return 0;
    int rc = store_sitting_put(txn, im->st, &s);
    if (rc) return rc;
    im->applied++;
    return 0;
}

/* ---- campuses: one row per offer; upserts province, school, campus and offer ---- */
enum {
    C_PROV, C_PROV_NAME, C_SCHOOL, C_SCHOOL_NAME, C_ORAL_ELSEWHERE, C_CAMPUS, C_CAMPUS_NAME,
    C_SUBJECT, C_CAPACITY, C_FEE, C_WIN_OPENS, C_WIN_CLOSES, C_EXAM_DATE
};

/* A place (province, school, campus) must read the same on every row of the file. */
static uint64_t place_digest(const char *a, const char *b, const char *c)
{
    XXH3_state_t *s = XXH3_createState();
    XXH3_64bits_reset(s);
    XXH3_64bits_update(s, a, strlen(a) + 1);
    XXH3_64bits_update(s, b, strlen(b) + 1);
    XXH3_64bits_update(s, c, strlen(c) + 1);
    uint64_t h = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    return h;
}

/* Records (kind, code) -> digest of its describing columns; reports a mismatch. */
static bool place_same(imp_t *im, uint8_t kind, uint32_t code, uint64_t digest, const char *what)
{
    /* two entries per place: (kind ‖ code, 1) -> its first line, and
     * (kind ‖ code, digest with the top bit set) -> present */
    uint64_t a = (uint64_t)kind << 32 | code, b = digest | 1ULL << 63;
    keymap_slot_t *s = keymap_add(&im->places, a, 1, im->line);
    if (!s) {
        keymap_add(&im->places, a, b, 0);
        return true;
    }
    uint32_t first_line = s->val; /* read before the next add may move the table */
    if (!keymap_add(&im->places, a, b, 0)) {
        row_error(im, "%s %u is described differently on line %u", what, code, first_line);
        return false;
    }
    return true;
}

static int campus_row(imp_t *im, store_txn_t *txn)
{
    uint64_t prov, school, oral, campus, capacity, fee;
    store_province_t p;
    store_school_t sc;
    store_campus_t cp;
    store_offer_t o;
    memset(&p, 0, sizeof p);
    memset(&sc, 0, sizeof sc);
    memset(&cp, 0, sizeof cp);
    memset(&o, 0, sizeof o);
    bool ok = code_field(im, C_PROV, 2, &prov);
    ok &= text_field(im, C_PROV_NAME, p.name, sizeof p.name, true);
    ok &= code_field(im, C_SCHOOL, 5, &school);
    ok &= text_field(im, C_SCHOOL_NAME, sc.name, sizeof sc.name, true);
    ok &= uint_field(im, C_ORAL_ELSEWHERE, 0, 1, &oral);
    ok &= code_field(im, C_CAMPUS, 6, &campus);
    ok &= text_field(im, C_CAMPUS_NAME, cp.name, sizeof cp.name, true);
    ok &= uint_field(im, C_CAPACITY, 0, CET_OFFER_CAPACITY_MAX, &capacity);
    /* fen under the English header, yuan under 报名费(元) or with a decimal point ("30.00") */
    if (cet_sheet_money_parse(col(im, C_FEE), (im->map.via_zh >> C_FEE) & 1, CET_OFFER_FEE_MAX_FEN,
                              &fee) != 0) {
        row_error(im, "%s '%s' is not an amount: fen as a whole number (3000) or yuan with "
                      "at most two decimals (30.00)", col_name(im, C_FEE), col(im, C_FEE));
        ok = false;
    }
    ok &= time_field(im, C_WIN_OPENS, true, &o.window_opens);
    ok &= time_field(im, C_WIN_CLOSES, true, &o.window_closes);
    ok &= time_field(im, C_EXAM_DATE, false, &o.exam_date);
    const char *subj = col(im, C_SUBJECT);
    if (strlen(subj) != 1 || !im->subjects[(uint8_t)subj[0]].kind) {
        row_error(im, "%s '%s' is not in the subject table", col_name(im, C_SUBJECT), subj);
        ok = false;
    }
    if (!ok) return 0;
    if (campus / 10 != school) {
        row_error(im, "campus %llu does not belong to school %llu (campus = school code + 1 digit)",
                  (unsigned long long)campus, (unsigned long long)school);
        return 0;
    }
    if (o.window_opens >= o.window_closes) {
        row_error(im, "window_opens must be before window_closes");
        return 0;
    }
    keymap_slot_t *live = keymap_find(&im->live, campus << 8 | (uint8_t)subj[0], 0);
    if (live->used && capacity < live->val) {
        row_error(im, "capacity %llu is below the %u live registrations of %llu/%c",
                  (unsigned long long)capacity, live->val, (unsigned long long)campus, subj[0]);
        return 0;
    }
    char num[8];
    snprintf(num, sizeof num, "%llu", (unsigned long long)oral);
    ok = place_same(im, 1, (uint32_t)prov, place_digest(p.name, "", ""), "province");
    char pr[8];
    snprintf(pr, sizeof pr, "%llu", (unsigned long long)prov);
    ok &= place_same(im, 2, (uint32_t)school, place_digest(sc.name, pr, num), "school");
    ok &= place_same(im, 3, (uint32_t)campus, place_digest(cp.name, "", ""), "campus");
    keymap_slot_t *dup;
    uint8_t ok_key[5];
    store_offer_key(ok_key, (uint32_t)campus, subj[0]);
    keymap_add_bytes(&im->seen, ok_key, sizeof ok_key, im->line, &dup);
    if (dup) {
        row_error(im, "campus %llu subject %c already given on line %u",
                  (unsigned long long)campus, subj[0], dup->val);
        ok = false;
    }
    if (!ok || im->bad) return 0;
    p.code = (uint16_t)prov;
    sc.code = (uint32_t)school;
    sc.province = (uint16_t)prov;
    sc.flags = oral ? STORE_SCHOOL_ORAL_ELSEWHERE : 0;
    cp.code = (uint32_t)campus;
    cp.school = (uint32_t)school;
    o.campus = (uint32_t)campus;
    o.subject = subj[0];
    o.capacity = (uint32_t)capacity;
    o.fee = (uint32_t)fee;
    int rc;
    if ((rc = store_province_put(txn, im->st, &p)) || (rc = store_school_put(txn, im->st, &sc)) ||
        (rc = store_campus_put(txn, im->st, &cp)) || (rc = store_offer_put(txn, im->st, &o)))
        return rc;
    im->applied++;
    return 0;
}

/* ---- roster: the row rules are the engine's (eng_roster_row), shared with the admin API ---- */
static int roster_row(imp_t *im, store_txn_t *txn)
{
    const char *labels[CET_SHEET_FIELDS_MAX];
    for (int i = 0; i < im->schema->ncols; i++) labels[i] = col_name(im, i);
    store_roster_t r;
    eng_row_problem_t probs[CET_SHEET_FIELDS_MAX];
    int np = eng_roster_row(im->vals, labels, im->subjects, &r, probs, CET_SHEET_FIELDS_MAX);
    for (int i = 0; i < np && i < CET_SHEET_FIELDS_MAX; i++) row_error(im, "%s", probs[i].message);
    bool ok = np == 0;
    if (ok) {
        eng_row_problem_t why;
        int rc = eng_roster_place(txn, im->st, &r, 0, 0, col_name(im, ENG_ROSTER_SCHOOL),
                                  &im->cache_campus, &im->cache_school, &why);
        if (rc == CET_REFUSED) {
            row_error(im, "%s", why.message);
            ok = false;
        } else if (rc) {
            return rc;
        }
    }
    if (ok) {
        uint8_t key[1 + CET_ID_NUMBER_BYTES];
        size_t kl = store_roster_key(key, r.id_type, r.id_number);
        keymap_slot_t *dup;
        keymap_add_bytes(&im->seen, key, kl, im->line, &dup);
        if (dup) {
            row_error(im, "%s %s already given on line %u", col(im, ENG_ROSTER_ID_TYPE),
                      r.id_number, dup->val);
            ok = false;
        }
    }
    if (!ok || im->bad) return 0;
    int rc = store_roster_put(txn, im->st, &r);
    if (rc) return rc;
    im->applied++;
    return 0;
}

/* ---- CET4 scores ---- */
enum { K_TICKET, K_ID_NUMBER, K_NAME, K_SCORE, K_YEAR };

static int score_row(imp_t *im, store_txn_t *txn)
{
    store_score_t s;
    memset(&s, 0, sizeof s);
    bool ok = true;
    const char *t = col(im, K_TICKET);
    uint64_t tv, score = 0, year = 0;
    if (strlen(t) != CET_TICKET_DIGITS || ctl_parse_u64(t, 0, UINT64_MAX, &tv) != 0) {
        row_error(im, "%s '%s' must be %d digits", col_name(im, K_TICKET), t, CET_TICKET_DIGITS);
        ok = false;
    } else if (t[9] != '1') {
        row_error(im, "%s '%s': digit 10 (the level) must be 1 for a CET4 score", col_name(im, K_TICKET), t);
        ok = false;
    }
    const char *id = col(im, K_ID_NUMBER);
    int id_type = strlen(id) == 18 ? 1 : 4; /* scores carry no ID type: 18 chars = mainland */
    cet_err_t e = cet_id_number_check(id_type, id, s.id_number, sizeof s.id_number);
    if (e) {
        row_error(im, "%s '%s': %s", col_name(im, K_ID_NUMBER), id, cet_err_message(e));
        ok = false;
    }
    ok &= text_field(im, K_NAME, s.name, sizeof s.name, true);
    ok &= uint_field(im, K_SCORE, 0, CET_SCORE_MAX, &score);
    ok &= uint_field(im, K_YEAR, CET_SCORE_YEAR_MIN, 2100, &year);
    if (ok && (uint64_t)((t[6] - '0') * 10 + (t[7] - '0')) != year % 100) {
        row_error(im, "%s '%s': digits 7-8 must be the year's last two digits (%llu)", col_name(im, K_TICKET), t,
                  (unsigned long long)year);
        ok = false;
    }
    if (ok) {
        keymap_slot_t *dup;
        keymap_add_bytes(&im->seen, t, CET_TICKET_DIGITS, im->line, &dup);
        if (dup) {
            row_error(im, "ticket %s already given on line %u", t, dup->val);
            ok = false;
        }
    }
    if (!ok || im->bad) return 0;
    memcpy(s.ticket, t, CET_TICKET_DIGITS + 1);
    s.score = (uint16_t)score;
    s.year = (uint16_t)year;
    s.level = 4;
    int rc = store_score_put(txn, im->st, &s);
    if (rc) return rc;
    im->applied++;
    return 0;
}

/* ---- rooms (cet_sheet_rooms): campus_code, room, seats (empty = CET_ROOM_SEATS_DEFAULT) ---- */
enum { ROOM_CAMPUS, ROOM_NUMBER, ROOM_SEATS };

static int room_row(imp_t *im, store_txn_t *txn)
{
    uint64_t campus = 0, room = 0, seats = 0;
    bool ok = code_field(im, ROOM_CAMPUS, 6, &campus);
    ok &= uint_field(im, ROOM_NUMBER, 1, CET_ROOMS_PER_CAMPUS_MAX, &room);
    if (*col(im, ROOM_SEATS)) ok &= uint_field(im, ROOM_SEATS, 1, CET_ROOM_SEATS_MAX, &seats);
    if (ok) {
        store_campus_t cp;
        int rc = store_campus_get(txn, im->st, (uint32_t)campus, &cp);
        if (rc && rc != STORE_NOTFOUND) return rc;
        if (rc) {
            row_error(im, "%s %06llu is not a known campus (import campuses first)",
                      col_name(im, ROOM_CAMPUS), (unsigned long long)campus);
            ok = false;
        }
    }
    if (ok) {
        keymap_slot_t *dup = keymap_add(&im->seen, campus, room, im->line);
        if (dup) {
            row_error(im, "room %llu of campus %06llu already given on line %u",
                      (unsigned long long)room, (unsigned long long)campus, dup->val);
            ok = false;
        }
    }
    if (!ok || im->bad) return 0;
    int rc = store_room_put(txn, im->st, (uint32_t)campus, (uint16_t)room, (uint8_t)seats);
    if (rc) return rc;
    im->applied++;
    return 0;
}

int ctl_cmd_import(int argc, char **argv)
{
    const char *data = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos != 2 ||
        !data) {
        fprintf(stderr, "usage: cetctl import sitting|campuses|roster|scores|rooms --data DIR FILE\n"
                        "  FILE: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030 or UTF-16; comma or "
                        "tab) or .xlsx, headers in English or Chinese\n");
        return CTL_EXIT_USAGE;
    }
    imp_t *im = cet_calloc(1, sizeof *im);
    im->kind = pos[0];
    static const struct {
        const char *kind;
        const cet_sheet_schema_t *schema;
        imp_row_fn fn;
    } kinds[] = {{"sitting", &cet_sheet_sitting, sitting_row},
                 {"campuses", &cet_sheet_campuses, campus_row},
                 {"roster", &cet_sheet_roster, roster_row},
                 {"scores", &cet_sheet_scores, score_row},
                 {"rooms", &cet_sheet_rooms, room_row}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(pos[0], kinds[i].kind)) im->schema = kinds[i].schema, im->row_fn = kinds[i].fn;
    if (!im->row_fn) {
        fprintf(stderr, "cetctl import: unknown kind '%s' (sitting, campuses, roster, scores, rooms)\n",
                pos[0]);
        cet_free(im);
        return CTL_EXIT_USAGE;
    }
    int ret = CTL_EXIT_USAGE;
    /* the directory first: one held by a running cetd is refused before the file is read */
    if (ctl_store_open(data, false, &im->st) != 0) goto out;
    if (ctl_in_open(&im->in, pos[1]) != 0) goto out_store;
    int rc = store_write_run(im->st, import_txn_cb, im);
    if (rc == 0) {
        ctl_progress_done(&im->prog, im->rows);
        fprintf(stderr, "import %s: %llu rows applied from %s\n", im->kind,
                (unsigned long long)im->applied, im->in.path);
        ret = CTL_EXIT_OK;
    } else if (rc == 1) {
        if (im->prog.tty) fputs("\r\033[K", stderr);
        if (im->shown < im->bad)
            fprintf(stderr, "... and %llu more bad rows\n",
                    (unsigned long long)(im->bad - im->shown));
        fprintf(stderr, "import %s: %llu bad rows of %llu in %s; nothing applied\n", im->kind,
                (unsigned long long)im->bad, (unsigned long long)im->rows, im->in.path);
        ret = CTL_EXIT_BAD_DATA;
    } else {
        fprintf(stderr, "import %s: storage error: %s; nothing applied\n", im->kind,
                store_strerror(rc));
    }
    ctl_in_close(&im->in);
out_store:
    store_close(im->st);
out:
    keymap_free(&im->seen);
    keymap_free(&im->places);
    keymap_free(&im->live);
    cet_free(im);
    return ret;
}
