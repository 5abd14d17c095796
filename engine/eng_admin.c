/*
 * eng_admin.c: the school's side: the roster row rules and the admin write
 * ops (eng_admin.h). Each apply checks every rule before it writes and
 * audits what it changed in the same txn.
 */
#include "engine/eng_admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "engine/eng_internal.h"

/* ---- roster row rules ---- */
typedef struct row_ctx {
    const char *const *vals;
    const char *const *labels;
    eng_row_problem_t *probs;
    int max, n;
} row_ctx_t;

__attribute__((format(printf, 4, 5))) static void problem(row_ctx_t *c, int col, cet_err_t code,
                                                          const char *fmt, ...)
{
    if (c->n >= c->max) {
        c->n++;
        return;
    }
    eng_row_problem_t *p = &c->probs[c->n++];
    p->code = code;
    p->col = col;
    p->line = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (v < min || v > max) return false;
    *out = v;
    return true;
}

static bool text_field(row_ctx_t *c, int i, char *dst, size_t cap, bool required)
{
    const char *s = c->vals[i];
    size_t n = strlen(s);
    if (required && n == 0) {
        problem(c, i, CET_E_MISSING_FIELD, "%s is empty", c->labels[i]);
        return false;
    }
    if (n >= cap) {
        problem(c, i, CET_E_INVALID_FIELD, "%s is longer than %zu bytes", c->labels[i], cap - 1);
        return false;
    }
    if (!cet_utf8_text_ok(s, n) || memchr(s, '\n', n) || memchr(s, '\t', n)) {
        problem(c, i, CET_E_INVALID_FIELD, "%s is not clean UTF-8 text (no control characters)",
                c->labels[i]);
        return false;
    }
    memcpy(dst, s, n + 1);
    return true;
}

static bool uint_field(row_ctx_t *c, int i, uint64_t min, uint64_t max, uint64_t *out)
{
    if (parse_u64(c->vals[i], min, max, out)) return true;
    problem(c, i, CET_E_INVALID_FIELD, "%s '%s' is not a whole number in %llu..%llu", c->labels[i],
            c->vals[i], (unsigned long long)min, (unsigned long long)max);
    return false;
}

static bool code_field(row_ctx_t *c, int i, int digits, uint64_t *out)
{
    const char *s = c->vals[i];
    uint64_t lo = 1, hi = 9;
    for (int k = 1; k < digits; k++)
        lo *= 10, hi = hi * 10 + 9;
    if (strlen(s) == (size_t)digits && parse_u64(s, lo, hi, out)) return true;
    problem(c, i, CET_E_INVALID_FIELD, "%s '%s' must be %d digits", c->labels[i], s, digits);
    return false;
}

static uint8_t education_parse(const char *s)
{
    if (!strcmp(s, "本科") || !strcmp(s, "bachelor")) return STORE_EDU_BACHELOR;
    if (!strcmp(s, "专科") || !strcmp(s, "associate")) return STORE_EDU_ASSOCIATE;
    if (!strcmp(s, "研究生") || !strcmp(s, "graduate")) return STORE_EDU_GRADUATE;
    return 0;
}

int eng_roster_row(const char *const vals[], const char *const labels[],
                   const store_subject_t subjects[256], store_roster_t *out,
                   eng_row_problem_t *probs, int max)
{
    row_ctx_t c = {.vals = vals, .labels = labels, .probs = probs, .max = max};
    store_roster_t *r = out;
    memset(r, 0, sizeof *r);
    int id_type = 0;
    cet_err_t e = cet_id_type_parse(vals[ENG_ROSTER_ID_TYPE], &id_type);
    if (e == CET_E_ID_TYPE_REFUSED) {
        problem(&c, ENG_ROSTER_ID_TYPE, e,
                "%s '%s' is refused (military officer cards are not accepted)",
                labels[ENG_ROSTER_ID_TYPE], vals[ENG_ROSTER_ID_TYPE]);
    } else if (e) {
        problem(&c, ENG_ROSTER_ID_TYPE, CET_E_INVALID_FIELD,
                "%s '%s' is not one of mainland, taiwan, hkmo_permit, passport, hongkong, macao",
                labels[ENG_ROSTER_ID_TYPE], vals[ENG_ROSTER_ID_TYPE]);
    } else {
        e = cet_id_number_check(id_type, vals[ENG_ROSTER_ID_NUMBER], r->id_number,
                                sizeof r->id_number);
        if (e)
            problem(&c, ENG_ROSTER_ID_NUMBER, e, "%s '%s': %s", labels[ENG_ROSTER_ID_NUMBER],
                    vals[ENG_ROSTER_ID_NUMBER], cet_err_message(e));
    }
    text_field(&c, ENG_ROSTER_NAME, r->name, sizeof r->name, true);
    const char *g = vals[ENG_ROSTER_GENDER];
    if (!strcmp(g, "M") || !strcmp(g, "男"))
        r->flags |= STORE_ROSTER_MALE;
    else if (strcmp(g, "F") && strcmp(g, "女"))
        problem(&c, ENG_ROSTER_GENDER, CET_E_INVALID_FIELD, "%s '%s' must be M or F (男/女)",
                labels[ENG_ROSTER_GENDER], g);
    uint64_t school = 0, campus = 0, years = 0, entry = 0, grade = 0, barred = 0;
    code_field(&c, ENG_ROSTER_SCHOOL, 5, &school);
    code_field(&c, ENG_ROSTER_CAMPUS, 6, &campus);
    r->education = education_parse(vals[ENG_ROSTER_EDUCATION]);
    if (!r->education)
        problem(&c, ENG_ROSTER_EDUCATION, CET_E_INVALID_FIELD,
                "%s '%s' must be 本科, 专科 or 研究生", labels[ENG_ROSTER_EDUCATION],
                vals[ENG_ROSTER_EDUCATION]);
    uint_field(&c, ENG_ROSTER_YEARS, 1, 9, &years);
    uint_field(&c, ENG_ROSTER_ENTRY, 1980, 2100, &entry);
    uint_field(&c, ENG_ROSTER_GRADE, 0, 20, &grade);
    text_field(&c, ENG_ROSTER_DEPARTMENT, r->department, sizeof r->department, false);
    text_field(&c, ENG_ROSTER_MAJOR, r->major, sizeof r->major, false);
    text_field(&c, ENG_ROSTER_CLASS, r->class_name, sizeof r->class_name, false);
    text_field(&c, ENG_ROSTER_STUDENT_NO, r->student_no, sizeof r->student_no, false);
    text_field(&c, ENG_ROSTER_REMARKS, r->remarks, sizeof r->remarks, false);
    if (*vals[ENG_ROSTER_BARRED]) uint_field(&c, ENG_ROSTER_BARRED, 0, 1, &barred);
    /* subjects: codes separated by ';' ("1;2;F"), each in the subject table, once */
    const char *s = vals[ENG_ROSTER_SUBJECTS];
    const char *sl = labels[ENG_ROSTER_SUBJECTS];
    for (const char *p = s; *p;) {
        const char *q = strchr(p, ';');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n != 1 || !subjects[(uint8_t)*p].kind) {
            problem(&c, ENG_ROSTER_SUBJECTS, CET_E_INVALID_FIELD,
                    "%s '%s': '%.*s' is not a subject code", sl, s, (int)n, p);
            break;
        }
        if (memchr(r->subjects, *p, r->n_subjects)) {
            problem(&c, ENG_ROSTER_SUBJECTS, CET_E_INVALID_FIELD, "%s '%s': '%c' is listed twice",
                    sl, s, *p);
            break;
        }
        if (r->n_subjects >= CET_SUBJECTS_MAX) {
            problem(&c, ENG_ROSTER_SUBJECTS, CET_E_INVALID_FIELD, "%s '%s': more than %d", sl, s,
                    CET_SUBJECTS_MAX);
            break;
        }
        r->subjects[r->n_subjects++] = *p;
        p += n;
        if (*p == ';') p++;
    }
    r->id_type = (uint8_t)id_type;
    r->school = (uint32_t)school;
    r->campus = (uint32_t)campus;
    r->program_years = (uint8_t)years;
    r->entry_year = (uint16_t)entry;
    r->grade = (uint8_t)grade;
    if (barred) r->flags |= STORE_ROSTER_CET6_BARRED;
    return c.n;
}

static void place_problem(eng_row_problem_t *why, int col, cet_err_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void place_problem(eng_row_problem_t *why, int col, cet_err_t code, const char *fmt, ...)
{
    why->code = code;
    why->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->message, sizeof why->message, fmt, ap);
    va_end(ap);
}

int eng_roster_place(store_txn_t *txn, const store_t *st, const store_roster_t *r,
                     uint32_t scope_school, uint16_t scope_province, const char *school_label,
                     uint32_t *cache_campus, uint32_t *cache_school, eng_row_problem_t *why)
{
    if (scope_school && r->school != scope_school) {
        place_problem(why, ENG_ROSTER_SCHOOL, CET_E_ROSTER_OTHER_SCHOOL,
                      "%s %05u is not your school (%05u): the whole file is refused", school_label,
                      r->school, scope_school);
        return CET_REFUSED;
    }
    if (scope_province) {
        store_school_t sc;
        int rc = store_school_get(txn, st, r->school, &sc);
        if (rc && rc != STORE_NOTFOUND) return rc;
        if (rc || sc.province != scope_province) {
            place_problem(why, ENG_ROSTER_SCHOOL, CET_E_ROSTER_OTHER_SCHOOL,
                          "%s %05u is not a school of your province (%02u): the whole file is "
                          "refused",
                          school_label, r->school, scope_province);
            return CET_REFUSED;
        }
    }
    if (*cache_campus != r->campus) {
        store_campus_t c;
        int rc = store_campus_get(txn, st, r->campus, &c);
        if (rc && rc != STORE_NOTFOUND) return rc;
        if (rc) {
            place_problem(why, ENG_ROSTER_CAMPUS, CET_E_CAMPUS_NOT_FOUND,
                          "campus %u does not exist (import campuses first)", r->campus);
            return CET_REFUSED;
        }
        *cache_campus = r->campus;
        *cache_school = c.school;
    }
    if (*cache_school != r->school) {
        place_problem(why, ENG_ROSTER_CAMPUS, CET_E_CAMPUS_NOT_FOUND,
                      "campus %u belongs to school %u, not %u", r->campus, *cache_school,
                      r->school);
        return CET_REFUSED;
    }
    return 0;
}

static int subject_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    store_subject_t *subjects = arg;
    store_subject_t s;
    if (klen != 1 || vlen != sizeof s) return 0;
    memcpy(&s, val, sizeof s);
    subjects[*(const uint8_t *)key] = s;
    return 0;
}

int eng_subjects_load(store_txn_t *txn, const store_t *st, store_subject_t subjects[256])
{
    memset(subjects, 0, 256 * sizeof *subjects);
    return store_scan(txn, st, STORE_DB_SUBJECT, NULL, 0, subject_cb, subjects);
}

/* ---- scope ---- */
/* ---- offers: capacity, fee, window ---- */
static int apply_offer(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_campus_t cp;
    int r = eng_lookup_rc(store_campus_get(txn, e->st, op->in.campus, &cp), CET_E_OFFER_NOT_FOUND);
    if (r) return r;
    if ((r = eng_staff_scope_ok(op, txn, cp.school))) return r;
    store_offer_t o;
    r = eng_lookup_rc(store_offer_get(txn, e->st, op->in.campus, op->in.subject, &o), CET_E_OFFER_NOT_FOUND);
    if (r) return r;
    uint32_t live;
    int rc = eng_seats_live_get(txn, e->st, o.campus, o.subject, &live);
    if (rc) return rc;
    store_offer_t n = o;
    if (op->in.set & ENG_ADMIN_SET_CAPACITY) n.capacity = op->in.capacity;
    if (op->in.set & ENG_ADMIN_SET_FEE) n.fee = op->in.fee;
    if (op->in.set & ENG_ADMIN_SET_OPENS) n.window_opens = op->in.window_opens;
    if (op->in.set & ENG_ADMIN_SET_CLOSES) n.window_closes = op->in.window_closes;
    if (n.capacity < live) return CET_E_CAPACITY_BELOW_LIVE;
    if (n.window_opens && n.window_closes && n.window_closes <= n.window_opens)
        return CET_E_INVALID_FIELD;
    if ((rc = store_offer_put(txn, e->st, &n))) return rc;
    if (n.capacity != o.capacity) {
        int slot = eng_seats_slot(e->seats, n.campus, n.subject);
        if (slot >= 0) eng_seats_defer_capacity(e->seats, slot, n.capacity);
    }
    char detail[256], target[48], a[26], b[26];
    snprintf(target, sizeof target, "school:%05u offer:%06u/%c", cp.school, n.campus, n.subject);
    snprintf(detail, sizeof detail, "capacity %u->%u, fee %u->%u fen, window %s..%s", o.capacity,
             n.capacity, o.fee, n.fee, cet_time_format(n.window_opens, a),
             cet_time_format(n.window_closes, b));
    if ((rc = store_audit_log(txn, e->st, op->now, op->staff, "offer_set", target, detail)))
        return rc;
    op->res.u.offer.campus = n.campus;
    op->res.u.offer.subject = n.subject;
    op->res.u.offer.capacity = n.capacity;
    op->res.u.offer.fee = n.fee;
    op->res.u.offer.live = live;
    op->res.u.offer.window_opens = n.window_opens;
    op->res.u.offer.window_closes = n.window_closes;
    return 0;
}

/* ---- school settings ---- */
static int apply_settings(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_school_t s;
    int r = eng_lookup_rc(store_school_get(txn, e->st, op->in.school, &s), CET_E_NOT_FOUND);
    if (r == CET_E_NOT_FOUND && !op->in.scope_school && !op->in.scope_province)
        return CET_E_FORBIDDEN;
    if (r == CET_E_NOT_FOUND && op->in.scope_school) return CET_E_FORBIDDEN;
    if (r) return r;
    if ((r = eng_staff_scope_ok(op, txn, s.code))) return r;
    bool was = s.flags & STORE_SCHOOL_ORAL_ELSEWHERE;
    if (op->in.flag)
        s.flags |= STORE_SCHOOL_ORAL_ELSEWHERE;
    else
        s.flags &= (uint8_t)~STORE_SCHOOL_ORAL_ELSEWHERE;
    int rc = store_school_put(txn, e->st, &s);
    if (rc) return rc;
    char detail[96], target[24];
    snprintf(target, sizeof target, "school:%05u", s.code);
    snprintf(detail, sizeof detail, "oral_elsewhere %s->%s", was ? "true" : "false",
             op->in.flag ? "true" : "false");
    if ((rc = store_audit_log(txn, e->st, op->now, op->staff, "school_settings", target, detail)))
        return rc;
    op->res.u.settings.school = s.code;
    op->res.u.settings.oral_elsewhere = op->in.flag;
    return 0;
}

/* ---- announcements ---- */
/* What candidates see (the 5-byte text): the newest announcement of the scope, or none. */
typedef struct newest {
    char text[CET_ANNOUNCE_BYTES_MAX + 1];
    bool any;
} newest_t;

static int newest_cb(const store_announcement_t *a, const char *title, const char *body, void *arg)
{
    (void)a;
    newest_t *n = arg;
    snprintf(n->text, sizeof n->text, "%s%s%s", title, *title && *body ? "：" : "", body);
    n->any = true;
    return 0;
}

static int candidate_text_refresh(eng_t *e, store_txn_t *txn, uint8_t scope, uint32_t code)
{
    newest_t *n = cet_calloc(1, sizeof *n);
    int rc = store_announcement_scan(txn, e->st, scope, code, newest_cb, n);
    if (rc == 0) {
        if (n->any) {
            rc = store_announce_put(txn, e->st, scope, code, n->text);
        } else {
            uint8_t k[5];
            k[0] = scope;
            store_be32(k + 1, code);
            rc = store_del_raw(txn, e->st, STORE_DB_ANNOUNCE, k, 5);
            if (rc == STORE_NOTFOUND) rc = 0;
        }
    }
    cet_free(n);
    return rc;
}

static int announce_scope_ok(eng_op_t *op, store_txn_t *txn, uint8_t scope, uint32_t code)
{
    if (scope == STORE_ANNOUNCE_SCHOOL) return eng_staff_scope_ok(op, txn, code);
    /* a province announcement: province staff of that province only */
    if (op->in.scope_school || !op->in.scope_province) return CET_E_FORBIDDEN;
    return code == op->in.scope_province ? 0 : CET_E_FORBIDDEN;
}

static int apply_announce_post(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    const char *const *tb = op->in.ext; /* {title, body} */
    uint8_t scope = op->in.flag ? STORE_ANNOUNCE_PROVINCE : STORE_ANNOUNCE_SCHOOL;
    uint32_t code = op->in.school;
    int r = announce_scope_ok(op, txn, scope, code);
    if (r) return r;
    if (scope == STORE_ANNOUNCE_SCHOOL) {
        store_school_t s;
        if ((r = eng_lookup_rc(store_school_get(txn, e->st, code, &s), CET_E_FORBIDDEN))) return r;
    }
    store_announcement_t a;
    memset(&a, 0, sizeof a);
    a.scope = scope;
    a.code = code;
    a.at = op->now;
    cet_strlcpy(a.actor, op->staff, sizeof a.actor);
    int rc = store_announcement_add(txn, e->st, &a, tb[0], tb[1]);
    if (rc) return rc;
    if ((rc = candidate_text_refresh(e, txn, scope, code))) return rc;
    char target[48], detail[CET_AUDIT_TEXT_BYTES_MAX];
    snprintf(target, sizeof target, "%s:%0*u announcement:%u",
             scope == STORE_ANNOUNCE_SCHOOL ? "school" : "province",
             scope == STORE_ANNOUNCE_SCHOOL ? 5 : 2, code, a.id);
    snprintf(detail, sizeof detail, "%s %0*u: %s",
             scope == STORE_ANNOUNCE_SCHOOL ? "school" : "province",
             scope == STORE_ANNOUNCE_SCHOOL ? 5 : 2, code, tb[0]);
    if ((rc = store_audit_log(txn, e->st, op->now, op->staff, "announce_post", target, detail)))
        return rc;
    op->res.u.announce.id = a.id;
    op->res.u.announce.code = code;
    op->res.u.announce.scope = scope;
    op->res.u.announce.at = a.at;
    return 0;
}

static int apply_announce_delete(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    store_announcement_t a;
    char title[STORE_ANNOUNCE_TITLE_BYTES_MAX + 1];
    int r =
        eng_lookup_rc(store_announcement_get(txn, e->st, op->in.item_id, &a, title, sizeof title, NULL, 0),
             CET_E_ANNOUNCEMENT_NOT_FOUND);
    if (r) return r;
    if ((r = announce_scope_ok(op, txn, a.scope, a.code))) return r;
    int rc = store_announcement_del(txn, e->st, &a);
    if (rc) return rc;
    if ((rc = candidate_text_refresh(e, txn, a.scope, a.code))) return rc;
    char target[48], detail[CET_AUDIT_TEXT_BYTES_MAX];
    snprintf(target, sizeof target, "%s:%0*u announcement:%u",
             a.scope == STORE_ANNOUNCE_SCHOOL ? "school" : "province",
             a.scope == STORE_ANNOUNCE_SCHOOL ? 5 : 2, a.code, a.id);
    snprintf(detail, sizeof detail, "deleted: %s", title);
    if ((rc = store_audit_log(txn, e->st, op->now, op->staff, "announce_delete", target, detail)))
        return rc;
    op->res.u.announce.id = a.id;
    op->res.u.announce.code = a.code;
    op->res.u.announce.scope = a.scope;
    op->res.u.announce.at = op->now;
    return 0;
}

/* ---- a roster file ---- */
static void batch_problem(eng_roster_batch_t *b, unsigned line, const eng_row_problem_t *p)
{
    b->bad++;
    if (b->nprobs >= b->probs_max) return;
    b->probs[b->nprobs] = *p;
    b->probs[b->nprobs].line = line;
    b->nprobs++;
}

static int apply_roster(eng_op_t *op, store_txn_t *txn)
{
    eng_t *e = op->eng;
    eng_roster_batch_t *b = op->in.ext;
    if (!op->in.scope_school && !op->in.scope_province) return CET_E_FORBIDDEN;
    b->nprobs = 0; /* a redo after the map grew starts again */
    b->bad = 0;
    uint32_t cc = 0, cs = 0;
    uint32_t school = 0;
    bool one_school = true;
    for (size_t i = 0; i < b->n; i++) {
        eng_row_problem_t why;
        int rc = eng_roster_place(txn, e->st, &b->rows[i], op->in.scope_school,
                                  op->in.scope_province, "school", &cc, &cs, &why);
        if (rc == CET_REFUSED)
            batch_problem(b, b->lines[i], &why);
        else if (rc)
            return rc;
        if (i == 0)
            school = b->rows[i].school;
        else if (b->rows[i].school != school)
            one_school = false;
    }
    if (b->bad) return CET_E_ROSTER_REFUSED;
    uint64_t inserted = 0, updated = 0;
    for (size_t i = 0; i < b->n; i++) {
        store_roster_t old;
        int rc = store_roster_get(txn, e->st, b->rows[i].id_type, b->rows[i].id_number, &old);
        if (rc && rc != STORE_NOTFOUND) return rc;
        if (rc == 0)
            updated++;
        else
            inserted++;
        b->rows[i].roster_no = 0;
        if ((rc = store_roster_put(txn, e->st, &b->rows[i]))) return rc;
    }
    char target[40], detail[256];
    if (one_school && b->n)
        snprintf(target, sizeof target, "school:%05u", school);
    else
        snprintf(target, sizeof target, "province:%02u", op->in.scope_province);
    snprintf(detail, sizeof detail, "roster file sha256 %s: %zu rows, %llu inserted, %llu updated",
             b->file_hash, b->n, (unsigned long long)inserted, (unsigned long long)updated);
    int rc = store_audit_log(txn, e->st, op->now, op->staff, "roster_import", target, detail);
    if (rc) return rc;
    op->res.u.roster.rows = b->n;
    op->res.u.roster.inserted = inserted;
    op->res.u.roster.updated = updated;
    return 0;
}

bool eng_admin_op_kind(eng_op_kind_t k)
{
    return k == ENG_OP_ADMIN_OFFER || k == ENG_OP_ADMIN_SETTINGS ||
           k == ENG_OP_ADMIN_ANNOUNCE_POST || k == ENG_OP_ADMIN_ANNOUNCE_DELETE ||
           k == ENG_OP_ADMIN_ROSTER;
}

int eng_admin_apply(eng_op_t *op, store_txn_t *txn)
{
    CET_ASSERT_INFO(op->staff[0] && (op->kind != ENG_OP_ADMIN_ROSTER || op->in.ext) &&
                        (op->kind != ENG_OP_ADMIN_ANNOUNCE_POST || op->in.ext),
                    "admin op kind %d without its inputs (staff '%s')", (int)op->kind, op->staff);
    switch (op->kind) {
    case ENG_OP_ADMIN_OFFER:
        return apply_offer(op, txn);
    case ENG_OP_ADMIN_SETTINGS:
        return apply_settings(op, txn);
    case ENG_OP_ADMIN_ANNOUNCE_POST:
        return apply_announce_post(op, txn);
    case ENG_OP_ADMIN_ANNOUNCE_DELETE:
        return apply_announce_delete(op, txn);
    case ENG_OP_ADMIN_ROSTER:
        return apply_roster(op, txn);
    default:
        return CET_E_INTERNAL;
    }
}
