/*
 * cet_id.c: validation of what candidates type (contract in cet_id.h).
 *
 * Everything here is a pure function of its input and the wall clock (for
 * "not in the future"); no allocation, no locale: ASCII rules by hand so the
 * result never depends on the process's LC_CTYPE.
 */
#include "base/cet_id.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "base/cet_limits.h"

/* The oldest birth year a mainland ID may carry: older numbers are typos. */
#define ID_BIRTH_YEAR_MIN 1900
/* Other ID types: bounds of the canonical form (documents vary widely). */
#define ID_OTHER_CHARS_MIN 5
#define ID_OTHER_CHARS_MAX 20
/* Email parts, from RFC 5321's limits. */
#define EMAIL_LOCAL_CHARS_MAX 64
#define EMAIL_LABEL_CHARS_MAX 63

static const char *const id_type_names[] = {
    NULL, "mainland", "taiwan", "hkmo_permit", "passport", "hongkong", "macao",
};
#define ID_TYPE_MAX 6

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char to_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
}

static int current_year(void)
{
    time_t now = time(NULL) + 8 * 3600; /* China Standard Time */
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

cet_err_t cet_id_type_parse(const char *s, int *out)
{
    if (!s) return CET_E_INVALID_FIELD;
    for (int t = 1; t <= ID_TYPE_MAX; t++) {
        if (strcmp(s, id_type_names[t]) == 0) {
            *out = t;
            return CET_E_OK;
        }
    }
    if (strcmp(s, "military") == 0) return CET_E_ID_TYPE_REFUSED;
    return CET_E_INVALID_FIELD;
}

const char *cet_id_type_name(int id_type)
{
    if (id_type < 1 || id_type > ID_TYPE_MAX) return "unknown";
    return id_type_names[id_type];
}

char cet_id_check_char(const char *digits17)
{
    static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (digits17[i] < '0' || digits17[i] > '9') return 0; /* not 17 digits: no check char */
        sum += (digits17[i] - '0') * weight[i];
    }
    return check[sum % 11];
}

static bool leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

static int digits_value(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

/* Birth date in digits 7..14 (YYYYMMDD): a real day, not before 1900, not in the future. */
static bool mainland_birth_ok(const char *id)
{
    int y = digits_value(id + 6, 4), m = digits_value(id + 10, 2), d = digits_value(id + 12, 2);
    if (y < ID_BIRTH_YEAR_MIN || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return false;
    time_t now = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&now, &tm);
    long today = (long)(tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
    return (long)y * 10000 + m * 100 + d <= today;
}

/* Trims ASCII blanks at both ends: *start and *len describe what is left. */
static void trim(const char *in, const char **start, size_t *len)
{
    size_t n = strlen(in);
    while (n && (*in == ' ' || *in == '\t')) in++, n--;
    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\r' || in[n - 1] == '\n'))
        n--;
    *start = in;
    *len = n;
}

cet_err_t cet_id_number_check(int id_type, const char *in, char *out, size_t cap)
{
    if (!in || id_type < 1 || id_type > ID_TYPE_MAX) return CET_E_INVALID_ID_NUMBER;
    const char *s;
    size_t n;
    trim(in, &s, &n);
    if (n + 1 > cap || n + 1 > CET_ID_NUMBER_BYTES) return CET_E_INVALID_ID_NUMBER;
    char canon[CET_ID_NUMBER_BYTES];
    for (size_t i = 0; i < n; i++) canon[i] = to_upper(s[i]);
    canon[n] = 0;

    if (id_type == 1) {
        if (n != 18) return CET_E_INVALID_ID_NUMBER;
        for (int i = 0; i < 17; i++)
            if (!is_digit(canon[i])) return CET_E_INVALID_ID_NUMBER;
        if (!is_digit(canon[17]) && canon[17] != 'X') return CET_E_INVALID_ID_NUMBER;
        if (canon[0] == '0' || !mainland_birth_ok(canon)) return CET_E_INVALID_ID_NUMBER;
        if (cet_id_check_char(canon) != canon[17]) return CET_E_ID_CHECK_DIGIT;
    } else {
        if (n < ID_OTHER_CHARS_MIN || n > ID_OTHER_CHARS_MAX) return CET_E_INVALID_ID_NUMBER;
        for (size_t i = 0; i < n; i++) {
            char c = canon[i];
            if (!is_digit(c) && !is_alpha(c) && c != '(' && c != ')' && c != '-')
                return CET_E_INVALID_ID_NUMBER;
        }
    }
    memcpy(out, canon, n + 1);
    return CET_E_OK;
}

static bool domain_ok(const char *d, size_t n)
{
    size_t label = 0, labels = 0, last_start = 0;
    if (n == 0 || d[0] == '.' || d[n - 1] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        if (c == '.') {
            if (label == 0 || d[i - 1] == '-') return false;
            label = 0;
            labels++;
            last_start = i + 1;
            continue;
        }
        if (!is_digit(c) && !is_alpha(c) && c != '-') return false;
        if (label == 0 && c == '-') return false;
        if (++label > EMAIL_LABEL_CHARS_MAX) return false;
    }
    if (labels == 0 || d[n - 1] == '-') return false;
    /* the top-level domain: at least two letters */
    if (n - last_start < 2) return false;
    for (size_t i = last_start; i < n; i++)
        if (!is_alpha(d[i])) return false;
    return true;
}

bool cet_email_valid(const char *email)
{
    if (!email) return false;
    size_t n = strlen(email);
    if (n < 6 || n > CET_EMAIL_BYTES - 1) return false;
    const char *at = strchr(email, '@');
    if (!at || strchr(at + 1, '@')) return false;
    size_t local = (size_t)(at - email);
    if (local == 0 || local > EMAIL_LOCAL_CHARS_MAX) return false;
    if (email[0] == '.' || email[local - 1] == '.') return false;
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)email[i];
        /* printable ASCII without the characters RFC 5322 reserves */
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]", c)) return false;
        if (c == '.' && email[i + 1] == '.') return false;
    }
    return domain_ok(at + 1, n - local - 1);
}

bool cet_password_ok(const char *pw)
{
    if (!pw) return false;
    size_t n = strlen(pw);
    if (n < CET_PASSWORD_BYTES_MIN || n > CET_PASSWORD_BYTES_MAX) return false;
    bool letter = false, digit = false;
    for (size_t i = 0; i < n; i++) {
        letter |= is_alpha(pw[i]);
        digit |= is_digit(pw[i]);
    }
    return letter && digit;
}

cet_err_t cet_ticket_check(const char *ticket)
{
    if (!ticket || strlen(ticket) != CET_TICKET_DIGITS) return CET_E_TICKET_INVALID;
    for (int i = 0; i < CET_TICKET_DIGITS; i++)
        if (!is_digit(ticket[i])) return CET_E_TICKET_INVALID;
    int yy = digits_value(ticket + 6, 2);
    int year = yy >= 90 ? 1900 + yy : 2000 + yy;
    if (year < CET_TICKET_YEAR_MIN || year > current_year()) return CET_E_TICKET_INVALID;
    return CET_E_OK;
}

size_t cet_utf8_seq(const unsigned char *p, size_t left, uint32_t *cp_out)
{
    unsigned c = p[0];
    if (c < 0x80) {
        *cp_out = c;
        return 1;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (left < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    *cp_out = cp;
    return len;
}

bool cet_utf8_text_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = cet_utf8_seq(p + i, n - i, &cp);
        if (!len) return false;
        if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7f) return false;
        if (cp >= 0x80 && cp <= 0x9f) return false; /* C1 controls */
        i += len;
    }
    return true;
}

size_t cet_email_normalize(const char *email, char *out, size_t cap)
{
    size_t n = strlen(email);
    if (cap == 0) return 0;
    if (n == 0 || n >= cap) {
        out[0] = 0;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (email[i] >= 'A' && email[i] <= 'Z') ? (char)(email[i] + ('a' - 'A')) : email[i];
    out[n] = 0;
    return n;
}
