/*
 * fuzz_fields.c: libFuzzer driver for what the handlers parse out of a
 * decoded body: ID types and numbers (with the ISO 7064 check), emails,
 * passwords, ticket numbers, RFC 3339 times, UTF-8 text, bearer tokens.
 *
 * Each input is split at its first NUL into a selector-free pair of strings
 * and fed to every parser; the properties checked hold for any input:
 * canonical ID numbers re-check as themselves, a parsed time formats and
 * parses back to the same instant, nothing reads past its input.
 * Built like fuzz_json.c: a libFuzzer target with CET_FUZZ, a corpus replay
 * otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "base/cet_token.h"

static void check_one(const uint8_t *data, size_t size)
{
    if (size > 4096) return;
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0; /* parsers see a C string: the first NUL ends it */
    size_t n = strlen(s);

    int id_type = 0;
    cet_err_t e = cet_id_type_parse(s, &id_type);
    if (e == CET_E_OK && (id_type < 1 || id_type > 6)) abort();
    for (int t = 1; t <= 6; t++) {
        char canon[CET_ID_NUMBER_BYTES], again[CET_ID_NUMBER_BYTES];
        e = cet_id_number_check(t, s, canon, sizeof canon);
        if (e == CET_E_OK) {
            if (strlen(canon) >= sizeof canon) abort();
            /* canonical form is a fixed point */
            if (cet_id_number_check(t, canon, again, sizeof again) != CET_E_OK) abort();
            if (strcmp(canon, again) != 0) abort();
        } else if (e != CET_E_INVALID_ID_NUMBER && e != CET_E_ID_CHECK_DIGIT) {
            abort();
        }
    }
    if (n >= 17) {
        char c = cet_id_check_char(s); /* only the first 17 chars are read */
        (void)c;
    }
    if (cet_email_valid(s) && n >= CET_EMAIL_BYTES) abort();
    if (cet_password_ok(s) && (n < CET_PASSWORD_BYTES_MIN || n > CET_PASSWORD_BYTES_MAX)) abort();
    e = cet_ticket_check(s);
    if (e == CET_E_OK && n != CET_TICKET_DIGITS) abort();
    (void)cet_utf8_text_ok(s, n);
    (void)cet_utf8_text_ok((const char *)data, size);

    int64_t t;
    if (cet_time_parse(s, &t) == 0 && t > -62135596800LL && t < 253402300799LL) {
        char buf[26];
        int64_t back;
        if (cet_time_parse(cet_time_format(t, buf), &back) != 0 || back != t) abort();
    }
    uint8_t key[32];
    if (cet_token_key(s, key) && n != CET_TOKEN_CHARS) abort();
    free(s);
}

#ifndef CET_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(data, size);
    return 0;
}
#else
#include "tests/fuzz/fuzz_replay.h"

static int replay_one(const char *name, const uint8_t *data, size_t size)
{
    (void)name; /* every property is checked inside; a violation aborts */
    check_one(data, size);
    return 0;
}

int main(int argc, char **argv)
{
    return fuzz_replay_main(argc, argv, "fuzz_fields", replay_one);
}
#endif
