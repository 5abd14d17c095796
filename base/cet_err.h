/*
 * cet_err.h: the one error space of cetreg, and the only place it is defined.
 *
 * Every function of cetreg that can fail returns an int from one space, as
 * LMDB does, so that no two kinds of failure ever share a value:
 *
 *   0                   CET_OK: success
 *   > 0                 an errno value (ENOMEM, EIO, ENOSPC...): a system failure
 *   -1 .. -9            control codes, where a caller must branch (nginx's
 *                       NGX_AGAIN...): CET_REFUSED, CET_AGAIN, CET_FAILED,
 *                       CET_DONE (a walk callback's "stop here, all is well")
 *   -19999 .. -19000    a cet_err_t: a domain refusal or a condition a client
 *                       sees, each mapped 1:1 to a stable snake_case code (the
 *                       API's error.code), an HTTP status and an English message
 *                       in the one table below
 *   -30999 .. -30000    storage: an LMDB code (-30799 .. -30780: MDB_MAP_FULL,
 *                       MDB_NOTFOUND...) or the store's own (STORE_CORRUPT...)
 *
 * cet_rc_class() sorts any of them into CET_OK, CET_REFUSED (a cet_err_t) or
 * CET_FAILED (errno, LMDB, anything else), and cet_strerror() names any of
 * them for a log line. cet_err_of() gives the cet_err_t a client is answered
 * with: the refusal itself, CET_E_STORAGE for a storage or system failure,
 * CET_E_OVERLOADED for CET_AGAIN.
 *
 * The HTTP status in the table belongs to the API's contract; only net/ reads
 * it (cet_err_status). The engine returns cet_err_t values, never statuses.
 */
#ifndef CET_ERR_H
#define CET_ERR_H

#include <stdbool.h>

#include "base/cet_limits.h"

/* ---- control codes ---- */
#define CET_OK 0
#define CET_REFUSED (-1) /* a rule refused: the cet_err_t is in the out-parameter */
#define CET_AGAIN (-2)   /* not now (a queue is full, a map grew): retry later */
#define CET_FAILED (-3)  /* a failure that is not the caller's doing (logged) */
#define CET_DONE (-4)    /* a walk stopped early on purpose (store_scan): not a failure */

/* X(name, code string, http status, message) */
#define CET_ERR_TABLE(X)                                                                        \
    X(MALFORMED_JSON, "malformed_json", 400, "the body is not valid JSON")                      \
    X(INVALID_UTF8, "invalid_utf8", 400, "the body is not valid UTF-8")                         \
    X(MISSING_FIELD, "missing_field", 400, "a required field is missing")                       \
    X(WRONG_TYPE, "wrong_type", 400, "a field has the wrong type")                              \
    X(UNKNOWN_FIELD, "unknown_field", 400, "the body has a field this call does not take")      \
    X(BAD_REQUEST, "bad_request", 400, "the request is malformed")                              \
    X(BAD_QUERY, "bad_query", 400, "a query parameter is missing or invalid")                   \
    X(UNAUTHORIZED, "unauthorized", 401, "log in first: the token is missing, invalid or expired") \
    X(INVALID_CREDENTIALS, "invalid_credentials", 401, "wrong email or password")               \
    X(INVALID_SIGNATURE, "invalid_signature", 401, "the payment notice signature is wrong")     \
    X(FORBIDDEN, "forbidden", 403, "this account may not do that")                              \
    X(AGREEMENT_REQUIRED, "agreement_required", 403, "accept the registration agreement first") \
    X(NOT_FOUND, "not_found", 404, "no such resource")                                          \
    X(ROSTER_NOT_FOUND, "roster_not_found", 404,                                                \
      "no roster record matches this ID type, ID number and name")                              \
    X(NOT_BOUND, "not_bound", 409, "bind a roster record to this account first")                \
    X(OFFER_NOT_FOUND, "offer_not_found", 404, "this campus does not offer this subject")       \
    X(REGISTRATION_NOT_FOUND, "registration_not_found", 404, "no registration for this subject") \
    X(ORDER_NOT_FOUND, "order_not_found", 404, "no such payment order")                         \
    X(REVIEW_NOT_FOUND, "review_not_found", 404, "no CET6 review for this account")             \
    X(ACCOUNT_NOT_FOUND, "account_not_found", 404, "no account has this account ID")            \
    X(RECOVERY_NOT_FOUND, "recovery_not_found", 404,                                            \
      "no account is bound to this roster record in the latest sitting")                       \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "this method is not allowed here")         \
    X(EMAIL_TAKEN, "email_taken", 409, "an account with this email already exists")             \
    X(WINDOW_CLOSED, "window_closed", 409, "the registration window is not open")               \
    X(ALREADY_BOUND, "already_bound", 409, "this account is already bound to a candidate")      \
    X(CANDIDATE_TAKEN, "candidate_taken", 409, "this candidate is bound to another account")    \
    X(NOT_QUALIFIED, "not_qualified", 409, "the candidate is not qualified for this subject")   \
    X(SEATS_FULL, "seats_full", 409, "no seats left for this subject at this campus")           \
    X(CAPACITY_BELOW_LIVE, "capacity_below_live", 409,                                          \
      "the capacity is below the registrations this offer holds")                               \
    X(ONE_PER_LEVEL, "one_per_level", 409, "only one written subject per level may be taken")   \
    X(ALREADY_REGISTERED, "already_registered", 409, "this subject is already registered")     \
    X(TOO_MANY_REGISTRATIONS, "too_many_registrations", 409,                                    \
      "a candidate may hold at most " CET_STR(CET_CANDIDATE_REGS_MAX) " registrations")                                          \
    X(ORAL_NEEDS_WRITTEN, "oral_needs_written", 409,                                            \
      "register the written subject of the same language and level first")                     \
    X(CAMPUS_NOT_ALLOWED, "campus_not_allowed", 409,                                            \
      "the school does not allow this campus for this candidate")                               \
    X(REGISTRATION_PAID, "registration_paid", 409, "a paid registration cannot be cancelled")   \
    X(REGISTRATION_LOCKED, "registration_locked", 409,                                          \
      "the school has locked this registration for group payment")                              \
    X(ORAL_PAID, "oral_paid", 409, "the oral subject of this written subject is already paid") \
    X(PAYMENT_PENDING, "payment_pending", 409, "this registration is in a pending payment order") \
    X(NOTHING_TO_PAY, "nothing_to_pay", 409, "none of these subjects is an unpaid registration") \
    X(REVIEW_NOT_OFFERED, "review_not_offered", 409, "the CET6 review is not offered to this candidate") \
    X(REVIEW_EXISTS, "review_exists", 409, "this account already has a CET6 review")            \
    X(REVIEW_NOT_EDITABLE, "review_not_editable", 409,                                          \
      "only a rejected CET6 review may be edited or deleted")                                   \
    X(ORDER_CLOSED, "order_closed", 409, "this payment order is no longer open")                \
    X(RECORD_NOT_BOUND, "record_not_bound", 409, "no account is bound to this roster record")   \
    X(RESET_TOKEN_USED, "reset_token_used", 409, "this password reset link was already used")   \
    X(IDEMPOTENCY_CONFLICT, "idempotency_conflict", 422,                                        \
      "this Idempotency-Key was used for a different request")                                  \
    X(INVALID_FIELD, "invalid_field", 422, "a field has an invalid value")                      \
    X(INVALID_EMAIL, "invalid_email", 422, "the email address is not valid")                    \
    X(WEAK_PASSWORD, "weak_password", 422,                                                      \
      "the password must have " CET_STR(CET_PASSWORD_BYTES_MIN) " to " CET_STR(CET_PASSWORD_BYTES_MAX) " characters with letters and digits")                     \
    X(CAPTCHA_INVALID, "captcha_invalid", 422, "the captcha answer is wrong or has expired")    \
    X(ID_TYPE_REFUSED, "id_type_refused", 422, "this ID type is not accepted")                  \
    X(INVALID_ID_NUMBER, "invalid_id_number", 422, "the ID number is not valid for its type")   \
    X(ID_CHECK_DIGIT, "id_check_digit", 422, "the ID number's check digit is wrong")           \
    X(NOT_CONFIRMED, "not_confirmed", 422, "confirm the information first (confirmed: true)")   \
    X(TICKET_INVALID, "ticket_invalid", 422,                                                    \
      "the admission ticket number must be " CET_STR(CET_TICKET_DIGITS) " digits from " CET_STR(CET_TICKET_YEAR_MIN) " or later")                       \
    X(REVIEW_REFUSED, "review_refused", 422,                                                    \
      "no passed CET4 score matches this ticket number with your ID number or name")            \
    X(AMOUNT_MISMATCH, "amount_mismatch", 422, "the notice amount does not match the order")    \
    X(RESET_TOKEN_INVALID, "reset_token_invalid", 422, "this password reset link is not valid") \
    X(RESET_TOKEN_EXPIRED, "reset_token_expired", 422,                                          \
      "this password reset link has expired: ask for a new one")                               \
    X(SHEET_UNREADABLE, "sheet_unreadable", 422,                                                \
      "the file is not a CSV, tab-separated text or .xlsx workbook that can be read")          \
    X(SHEET_TOO_LARGE, "sheet_too_large", 413, "the file is too large")                        \
    X(SHEET_EMPTY, "sheet_empty", 422, "the file has no header row")                           \
    X(SHEET_ENCODING, "invalid_encoding", 422,                                                  \
      "the row has bytes that are not valid in the file's encoding")                           \
    X(SHEET_QUOTING, "bad_quoting", 422, "the row's quotes do not follow RFC 4180")            \
    X(SHEET_ROW_TOO_LONG, "row_too_long", 422,                                                  \
      "the row has more than " CET_STR(CET_SHEET_FIELDS_MAX) " fields or " CET_STR(CET_SHEET_ROW_BYTES_MAX) " bytes") \
    X(SHEET_FIELD_COUNT, "field_count", 422, "the row has another number of fields than the header") \
    X(SHEET_UNKNOWN_COLUMN, "unknown_column", 422, "the header names a column this file does not have") \
    X(SHEET_DUPLICATE_COLUMN, "duplicate_column", 422, "the header names a column twice")     \
    X(SHEET_MISSING_COLUMN, "missing_column", 422, "the header lacks a required column")      \
    X(SHEET_EXCEL_NUMBER, "excel_number", 422,                                                  \
      "Excel turned an ID into a number and lost digits: format the column as text")           \
    X(ROSTER_REFUSED, "roster_refused", 422,                                                    \
      "the file has bad rows (listed in errors): nothing was applied")                         \
    X(ROSTER_OTHER_SCHOOL, "roster_other_school", 403,                                          \
      "the row is of a school outside your scope: the whole file is refused")                  \
    X(CAMPUS_NOT_FOUND, "campus_not_found", 422, "no such campus at the row's school")          \
    X(DUPLICATE_ROW, "duplicate_row", 422, "this ID type and number are given twice in the file") \
    X(ANNOUNCEMENT_NOT_FOUND, "announcement_not_found", 404, "no such announcement")           \
    X(EXPORT_UNKNOWN, "export_unknown", 404,                                                    \
      "exports are candidates, registrations, orders and reviews")                            \
    X(BODY_TOO_LARGE, "body_too_large", 413, "the request body is too large")                   \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, "send application/json")           \
    X(RATE_LIMITED, "rate_limited", 429, "too many attempts, wait a minute")                    \
    X(INTERNAL, "internal", 500, "internal error")                                              \
    X(OVERLOADED, "overloaded", 503, "the server is busy, retry shortly")                       \
    X(DRAINING, "draining", 503, "the server is shutting down, retry shortly")                  \
    X(STORAGE, "storage_unavailable", 503, "storage is temporarily unavailable, retry shortly") \
    X(STORAGE_FULL, "storage_full", 503,                                                        \
      "the server's disk is full: nothing was saved, retry later")                              \
    X(WINDOW_OPEN, "window_open", 409,                                                          \
      "the registration window of this campus-subject has not closed yet")                      \
    X(NOT_ENOUGH_SEATS, "not_enough_seats", 409,                                                \
      "the campus's exam rooms do not hold every paid registration: add rooms")                 \
    X(NOT_PAID, "not_paid", 409, "this registration is not paid")                               \
    X(NOT_ARRANGED, "not_arranged", 409, "this registration has no exam room and seat yet")     \
    X(PRINT_NOT_OPEN, "print_not_open", 403,                                                    \
      "admission tickets cannot be printed before the print date")

typedef enum cet_err {
    CET_E_OK = CET_OK,
    CET_E__BASE = -20000, /* not a code: the values below follow it */
#define CET_ERR_ENUM(name, code, status, msg) CET_E_##name,
    CET_ERR_TABLE(CET_ERR_ENUM)
#undef CET_ERR_ENUM
        CET_E__END /* not a code: one past the last */
} cet_err_t;

#define CET_E__COUNT ((int)CET_E__END - (int)CET_E__BASE - 1)
_Static_assert(CET_E__END < -19000, "cet_err_t codes must stay inside -19999..-19000");

/** Is rc one of the table's codes (a domain refusal or client-visible condition)? */
static inline bool cet_err_is_code(int rc)
{
    return rc > (int)CET_E__BASE && rc < (int)CET_E__END;
}

/**
 * CET_OK for 0, CET_REFUSED for a cet_err_t, CET_AGAIN for CET_AGAIN,
 * CET_DONE for CET_DONE, else CET_FAILED.
 */
static inline int cet_rc_class(int rc)
{
    if (rc == CET_OK) return CET_OK;
    if (cet_err_is_code(rc)) return CET_REFUSED;
    if (rc == CET_AGAIN) return CET_AGAIN;
    if (rc == CET_DONE) return CET_DONE;
    return CET_FAILED;
}

/**
 * The cet_err_t to answer a client with for any rc of the space: rc itself
 * when it is a code, CET_E_OVERLOADED for CET_AGAIN, CET_E_STORAGE_FULL for
 * ENOSPC, EDQUOT, EFBIG and the store's STORE_NOSPACE (-30503), CET_E_STORAGE
 * for every other failure (errno, LMDB, CET_FAILED). 0 stays CET_E_OK.
 */
cet_err_t cet_err_of(int rc);
/** The stable API code string ("seats_full"); "ok" for 0, "internal" for a non-code. */
const char *cet_err_code(cet_err_t e);
/** The HTTP status for e (200 for CET_E_OK, 500 for a non-code). Only net/ uses it. */
int cet_err_status(cet_err_t e);
/** The English message for e. */
const char *cet_err_message(cet_err_t e);
/** Looks a code string up; returns CET_E__END when unknown. */
cet_err_t cet_err_from_code(const char *code);
/**
 * Names any rc of the space for a log line: the table's code, errno's
 * strerror, the store's text for a storage code, or a control code's name. Never NULL;
 * the string is static (or from strerror) and must not be freed.
 */
const char *cet_strerror(int rc);
/** The store registers its namer of -30999..-30000 at open (the base does not link LMDB). */
void cet_strerror_set_store(const char *(*namer)(int rc));

#endif
