/*
 * cet_id.h: validation of what candidates type: ID numbers, emails, passwords,
 * ticket numbers. Pure functions, no allocation, safe from any thread.
 */
#ifndef CET_ID_H
#define CET_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cet_err.h"

/**
 * Parses an ID type as the API sends it: "mainland", "taiwan", "hkmo_permit",
 * "passport", "hongkong", "macao" (store_id_type_t values 1..6). "military"
 * (军官证) gives CET_E_ID_TYPE_REFUSED, anything else CET_E_INVALID_FIELD.
 */
cet_err_t cet_id_type_parse(const char *s, int *out);
/** The API name of an id type (1..6), or "unknown". */
const char *cet_id_type_name(int id_type);
/**
 * Checks an ID number for its type and writes its canonical form (upper-cased,
 * trimmed) into out[cap]. A mainland number must be 17 digits plus a check
 * character per ISO 7064 MOD 11-2 (CET_E_ID_CHECK_DIGIT when that alone is
 * wrong) with a plausible birth date; other types 5..20 letters, digits,
 * '(' ')' '-'. Returns CET_E_OK or CET_E_INVALID_ID_NUMBER / CET_E_ID_CHECK_DIGIT.
 */
cet_err_t cet_id_number_check(int id_type, const char *in, char *out, size_t cap);
/**
 * The ISO 7064 MOD 11-2 check character of the first 17 characters of
 * digits17 ('0'..'9' or 'X'), or 0 when one of them is not a digit (it stops
 * reading there, so a shorter NUL-terminated string is safe too).
 */
char cet_id_check_char(const char *digits17);
/** A plausible email (local@domain.tld, <= CET_EMAIL_BYTES-1, no spaces or controls). */
bool cet_email_valid(const char *email);
/**
 * The one normal form of an email, used wherever emails are compared, keyed
 * or rate-limited: ASCII letters lower-cased, nothing else changed. Writes at
 * most cap - 1 bytes and a NUL; returns the length written (0 for an empty
 * email or one that does not fit, so that no truncated key is ever used).
 */
size_t cet_email_normalize(const char *email, char *out, size_t cap);
/** 8..128 bytes with at least one letter and one digit. */
bool cet_password_ok(const char *pw);
/** 15 digits whose year (digits 7-8) is 2005 or later: CET_E_OK or CET_E_TICKET_INVALID. */
cet_err_t cet_ticket_check(const char *ticket);
/**
 * The valid UTF-8 sequence at p (left bytes available): its length 1..4 and its
 * code point in *cp, or 0 when it is not one (overlong, surrogate, above
 * U+10FFFF, truncated, a stray continuation byte).
 */
size_t cet_utf8_seq(const unsigned char *p, size_t left, uint32_t *cp);
/** Valid UTF-8 with no control characters other than tab/newline. */
bool cet_utf8_text_ok(const char *s, size_t n);

#endif
