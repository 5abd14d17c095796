/*
 * cet_err.h: the one error space of cetreg.
 *
 * Every failure a client can see is a value of cet_err_t, mapped 1:1 to a
 * stable snake_case code (the API's error.code), an HTTP status and an English
 * message, in one table (cet_err.c). 0 is success. Internal failures that are
 * not the client's doing map to CET_E_INTERNAL / CET_E_STORAGE and are logged.
 */
#ifndef CET_ERR_H
#define CET_ERR_H

/* X(name, code string, http status, message) */
#define CET_ERR_TABLE(X)                                                                        \
    X(OK, "ok", 200, "ok")                                                                      \
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
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "this method is not allowed here")         \
    X(EMAIL_TAKEN, "email_taken", 409, "an account with this email already exists")             \
    X(WINDOW_CLOSED, "window_closed", 409, "the registration window is not open")               \
    X(ALREADY_BOUND, "already_bound", 409, "this account is already bound to a candidate")      \
    X(CANDIDATE_TAKEN, "candidate_taken", 409, "this candidate is bound to another account")    \
    X(NOT_QUALIFIED, "not_qualified", 409, "the candidate is not qualified for this subject")   \
    X(SEATS_FULL, "seats_full", 409, "no seats left for this subject at this campus")           \
    X(ONE_PER_LEVEL, "one_per_level", 409, "only one written subject per level may be taken")   \
    X(ALREADY_REGISTERED, "already_registered", 409, "this subject is already registered")     \
    X(TOO_MANY_REGISTRATIONS, "too_many_registrations", 409,                                    \
      "a candidate may hold at most 7 registrations")                                          \
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
    X(IDEMPOTENCY_CONFLICT, "idempotency_conflict", 422,                                        \
      "this Idempotency-Key was used for a different request")                                  \
    X(INVALID_FIELD, "invalid_field", 422, "a field has an invalid value")                      \
    X(INVALID_EMAIL, "invalid_email", 422, "the email address is not valid")                    \
    X(WEAK_PASSWORD, "weak_password", 422,                                                      \
      "the password must have 8 to 128 characters with letters and digits")                     \
    X(CAPTCHA_INVALID, "captcha_invalid", 422, "the captcha answer is wrong or has expired")    \
    X(ID_TYPE_REFUSED, "id_type_refused", 422, "this ID type is not accepted")                  \
    X(INVALID_ID_NUMBER, "invalid_id_number", 422, "the ID number is not valid for its type")   \
    X(ID_CHECK_DIGIT, "id_check_digit", 422, "the ID number's check digit is wrong")           \
    X(NOT_CONFIRMED, "not_confirmed", 422, "confirm the information first (confirmed: true)")   \
    X(TICKET_INVALID, "ticket_invalid", 422,                                                    \
      "the admission ticket number must be 15 digits from 2005 or later")                       \
    X(REVIEW_REFUSED, "review_refused", 422,                                                    \
      "no passed CET4 score matches this ticket number with your ID number or name")            \
    X(AMOUNT_MISMATCH, "amount_mismatch", 422, "the notice amount does not match the order")    \
    X(BODY_TOO_LARGE, "body_too_large", 413, "the request body is too large")                   \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, "send application/json")           \
    X(RATE_LIMITED, "rate_limited", 429, "too many attempts, wait a minute")                    \
    X(INTERNAL, "internal", 500, "internal error")                                              \
    X(OVERLOADED, "overloaded", 503, "the server is busy, retry shortly")                       \
    X(DRAINING, "draining", 503, "the server is shutting down, retry shortly")                  \
    X(STORAGE, "storage_unavailable", 503, "storage is temporarily unavailable, retry shortly")

typedef enum cet_err {
#define CET_ERR_ENUM(name, code, status, msg) CET_E_##name,
    CET_ERR_TABLE(CET_ERR_ENUM)
#undef CET_ERR_ENUM
        CET_E__COUNT
} cet_err_t;

/** The stable API code string ("seats_full"). Never NULL; unknown values give "internal". */
const char *cet_err_code(cet_err_t e);
/** The HTTP status for e (200 for CET_E_OK). */
int cet_err_status(cet_err_t e);
/** The English message for e. */
const char *cet_err_message(cet_err_t e);
/** Looks a code string up; returns CET_E__COUNT when unknown. */
cet_err_t cet_err_from_code(const char *code);

#endif
