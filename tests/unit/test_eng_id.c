/*
 * test_eng_id.c: unit tests of engine/eng_id.c (ID numbers, emails,
 * passwords, admission tickets, UTF-8), of the password hashes of
 * base/cet_token.c and of base/cet_base.c's time and code formatting. Exit 0 when every check passes.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/cet_base.h"
#include "base/cet_id.h"
#include "base/cet_token.h"
#include "tests/unit/cet_test.h"

static cet_err_t id_check(int type, const char *in, char *out)
{
    return cet_id_number_check(type, in, out, 24);
}

static void test_check_char(void)
{
    /* verified by hand: sum of digit * weight (7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) mod 11 */
    CHECK(cet_id_check_char("11010519491231002") == 'X');
    CHECK(cet_id_check_char("11010119900307447") == '7');
    CHECK(cet_id_check_char("44030419900101001") == '1');
    CHECK(cet_id_check_char("32010219991231123") == '6');
}

static void test_mainland(void)
{
    char out[24];
    CHECK(id_check(1, "11010519491231002X", out) == CET_E_OK);
    CHECK(strcmp(out, "11010519491231002X") == 0);
    /* lower-case x and blanks are canonicalised */
    CHECK(id_check(1, " 11010519491231002x ", out) == CET_E_OK);
    CHECK(strcmp(out, "11010519491231002X") == 0);
    /* 110101199003074477: the check character of 11010119900307447 is 7, so valid */
    CHECK(id_check(1, "110101199003074477", out) == CET_E_OK);
    CHECK(id_check(1, "110101199003074478", out) == CET_E_ID_CHECK_DIGIT);
    CHECK(id_check(1, "11010119900307447X", out) == CET_E_ID_CHECK_DIGIT);
    CHECK(id_check(1, "110105194912310021", out) == CET_E_ID_CHECK_DIGIT);
    CHECK(id_check(1, "110101199003074470", out) == CET_E_ID_CHECK_DIGIT);
    CHECK(id_check(1, "440304199001010011", out) == CET_E_OK);
    CHECK(id_check(1, "440304199001010012", out) == CET_E_ID_CHECK_DIGIT);
    CHECK(id_check(1, "320102199912311236", out) == CET_E_OK);
    /* 2004-02-29 exists, 2005-02-29 does not */
    CHECK(id_check(1, "110108200402290011", out) == CET_E_OK);
    CHECK(id_check(1, "110108200502290019", out) == CET_E_INVALID_ID_NUMBER);
    /* wrong length, letters, month 13, a birth date in the future, year 1800 */
    CHECK(id_check(1, "11010519491231002", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(1, "11010519491231002X1", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(1, "1101051949123100AX", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(1, "110105194913310021", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(1, "110105299901010021", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(1, "110105180001010021", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(1, "", out) == CET_E_INVALID_ID_NUMBER);
    /* a small output buffer is refused, not overrun */
    CHECK(cet_id_number_check(1, "11010519491231002X", out, 10) == CET_E_INVALID_ID_NUMBER);
}

static void test_other_types(void)
{
    char out[24];
    CHECK(id_check(4, "E12345678", out) == CET_E_OK);
    CHECK(id_check(4, "e12345678", out) == CET_E_OK && strcmp(out, "E12345678") == 0);
    CHECK(id_check(5, "A123456(3)", out) == CET_E_OK);
    CHECK(id_check(6, "1234567(8)", out) == CET_E_OK);
    CHECK(id_check(3, "H12345678", out) == CET_E_OK);
    CHECK(id_check(2, "01234567", out) == CET_E_OK);
    CHECK(id_check(4, "E12", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(4, "E1234 5678", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(4, "E123456789012345678901", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(4, "E1234567\xe4\xb8\xad", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(0, "E12345678", out) == CET_E_INVALID_ID_NUMBER);
    CHECK(id_check(7, "E12345678", out) == CET_E_INVALID_ID_NUMBER);
}

static void test_id_type(void)
{
    int t = 0;
    CHECK(cet_id_type_parse("mainland", &t) == CET_E_OK && t == 1);
    CHECK(cet_id_type_parse("taiwan", &t) == CET_E_OK && t == 2);
    CHECK(cet_id_type_parse("hkmo_permit", &t) == CET_E_OK && t == 3);
    CHECK(cet_id_type_parse("passport", &t) == CET_E_OK && t == 4);
    CHECK(cet_id_type_parse("hongkong", &t) == CET_E_OK && t == 5);
    CHECK(cet_id_type_parse("macao", &t) == CET_E_OK && t == 6);
    CHECK(cet_id_type_parse("military", &t) == CET_E_ID_TYPE_REFUSED);
    CHECK(cet_id_type_parse("Mainland", &t) == CET_E_INVALID_FIELD);
    CHECK(cet_id_type_parse("", &t) == CET_E_INVALID_FIELD);
    CHECK(cet_id_type_parse(NULL, &t) == CET_E_INVALID_FIELD);
    CHECK(strcmp(cet_id_type_name(1), "mainland") == 0);
    CHECK(strcmp(cet_id_type_name(6), "macao") == 0);
    CHECK(strcmp(cet_id_type_name(9), "unknown") == 0);
}

static void test_email(void)
{
    CHECK(cet_email_valid("alice@example.com"));
    CHECK(cet_email_valid("a.b+tag@mail.bupt.edu.cn"));
    CHECK(cet_email_valid("bench12@bench.test"));
    CHECK(!cet_email_valid("alice@example"));
    CHECK(!cet_email_valid("alice@@example.com"));
    CHECK(!cet_email_valid("@example.com"));
    CHECK(!cet_email_valid("alice@.example.com"));
    CHECK(!cet_email_valid("alice@example..com"));
    CHECK(!cet_email_valid("alice@example.c"));
    CHECK(!cet_email_valid("al ice@example.com"));
    CHECK(!cet_email_valid("alice@exa_mple.com"));
    CHECK(!cet_email_valid("alice.@example.com"));
    CHECK(!cet_email_valid("ali\x01" "ce@example.com"));
    CHECK(!cet_email_valid(""));
    char big[200];
    memset(big, 'a', sizeof big);
    memcpy(big + 180, "@example.com", 13);
    CHECK(!cet_email_valid(big));
}

static void test_password(void)
{
    CHECK(cet_password_ok("abcdefg1"));
    CHECK(cet_password_ok("demo-Staff-2026"));
    CHECK(!cet_password_ok("abcdefgh"));
    CHECK(!cet_password_ok("12345678"));
    CHECK(!cet_password_ok("abc1"));
    char big[200];
    memset(big, 'a', sizeof big);
    big[0] = '1';
    big[129] = 0;
    CHECK(!cet_password_ok(big));
    big[128] = 0;
    CHECK(cet_password_ok(big));
}

/* Password hashes: OWASP's minimum argon2id costs, and what is stale (upgraded at login). */
static void test_pwhash(void)
{
    CHECK_EQ(CET_PWHASH_OPS, 2);
    CHECK_EQ(CET_PWHASH_MEM_BYTES, 19 * 1024 * 1024);
    char h[CET_PWHASH_BYTES], old[CET_PWHASH_BYTES];
    CHECK_EQ(cet_pwhash_make(h, "demo-Staff-2026"), 0);
    CHECK(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK(cet_pwhash_verify(h, "demo-Staff-2026"));
    CHECK(!cet_pwhash_verify(h, "demo-Staff-2027"));
    CHECK(!cet_pwhash_stale(h));
    /* the costs every hash had before (libsodium's INTERACTIVE): verifies, and is stale */
    CHECK_EQ(crypto_pwhash_str(old, "demo-Staff-2026", 15, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE),
             0);
    CHECK(strncmp(old, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    CHECK(cet_pwhash_verify(old, "demo-Staff-2026"));
    CHECK(cet_pwhash_stale(old));
    /* argon2i (not argon2id), and what is no hash at all: stale, never verified */
    CHECK_EQ(crypto_pwhash_argon2i_str(old, "demo-Staff-2026", 15, 3, CET_PWHASH_MEM_BYTES), 0);
    CHECK(cet_pwhash_stale(old));
    old[1] = 0;
    CHECK(cet_pwhash_stale(old));
    CHECK(cet_pwhash_stale(""));
    CHECK(!cet_pwhash_verify("", "demo-Staff-2026"));
    /* a fresh salt each time */
    char h2[CET_PWHASH_BYTES];
    CHECK_EQ(cet_pwhash_make(h2, "demo-Staff-2026"), 0);
    CHECK(strcmp(h, h2) != 0);
}

static void test_ticket(void)
{
    CHECK(cet_ticket_check("100130241100101") == CET_E_OK);  /* 2024 */
    CHECK(cet_ticket_check("100130051100101") == CET_E_OK);  /* 2005 */
    CHECK(cet_ticket_check("100130041100101") == CET_E_TICKET_INVALID); /* 2004 */
    CHECK(cet_ticket_check("100130991100101") == CET_E_TICKET_INVALID); /* 1999 */
    CHECK(cet_ticket_check("100130891100101") == CET_E_TICKET_INVALID); /* 2089: future */
    CHECK(cet_ticket_check("10013024110010") == CET_E_TICKET_INVALID);
    CHECK(cet_ticket_check("1001302411001011") == CET_E_TICKET_INVALID);
    CHECK(cet_ticket_check("10013024110010a") == CET_E_TICKET_INVALID);
    CHECK(cet_ticket_check("") == CET_E_TICKET_INVALID);
    CHECK(cet_ticket_check(NULL) == CET_E_TICKET_INVALID);
    /* this year is accepted, next year is not */
    time_t now = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&now, &tm);
    char t[24];
    snprintf(t, sizeof t, "100130%02u1100101", (unsigned)(tm.tm_year + 1900) % 100u);
    CHECK(cet_ticket_check(t) == CET_E_OK);
    snprintf(t, sizeof t, "100130%02u1100101", (unsigned)(tm.tm_year + 1901) % 100u);
    CHECK(cet_ticket_check(t) == CET_E_TICKET_INVALID);
}

static void test_utf8(void)
{
    const char *ok = "北京邮电大学 ok\tline\n";
    CHECK(cet_utf8_text_ok(ok, strlen(ok)));
    CHECK(cet_utf8_text_ok("", 0));
    CHECK(cet_utf8_text_ok("\xf0\x9f\x98\x80", 4));       /* U+1F600 */
    CHECK(!cet_utf8_text_ok("\xc0\xaf", 2));              /* overlong '/' */
    CHECK(!cet_utf8_text_ok("\xe0\x80\xaf", 3));          /* overlong */
    CHECK(!cet_utf8_text_ok("\xed\xa0\x80", 3));          /* surrogate */
    CHECK(!cet_utf8_text_ok("\xf4\x90\x80\x80", 4));      /* above U+10FFFF */
    CHECK(!cet_utf8_text_ok("\xe4\xb8", 2));              /* truncated */
    CHECK(!cet_utf8_text_ok("\x80", 1));                  /* stray continuation */
    CHECK(!cet_utf8_text_ok("a\x01" "b", 3));             /* control */
    CHECK(!cet_utf8_text_ok("a\rb", 3));
    CHECK(!cet_utf8_text_ok("a\x7f", 2));
    CHECK(!cet_utf8_text_ok("\xc2\x85", 2));              /* C1 control NEL */
    CHECK(!cet_utf8_text_ok("a\0b", 3));
    CHECK(!cet_utf8_text_ok("\xff", 1));
}

/* cet_dec_format and cet_time_format, written by hand, against snprintf and gmtime_r */
static void test_formats(void)
{
    const uint64_t vals[] = {0, 7, 42, 99999, 100000, 100130, 999999, 1000000, 4294967295u,
                             UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        for (int width = 0; width <= 20; width++) {
            char got[21], want[32];
            size_t n = cet_dec_format(got, vals[i], width);
            snprintf(want, sizeof want, "%0*llu", width, (unsigned long long)vals[i]);
            CHECK(n == strlen(want) && strcmp(got, want) == 0);
        }
    }
    const int64_t times[] = {0, 1, 1764550800 /* 2025-12-01T09:00:00+08:00 */, 1798732799,
                             951753600 /* 2000-02-29 */, 4102444799, -28800};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char got[26], want[32];
        time_t local = (time_t)(times[i] + 8 * 3600);
        struct tm tm;
        gmtime_r(&local, &tm);
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
        CHECK(strcmp(cet_time_format(times[i], got), want) == 0);
        int64_t back = 0;
        CHECK(cet_time_parse(got, &back) == 0 && back == times[i]);
    }
    char got[26];
    CHECK(strcmp(cet_time_format(1764550800, got), "2025-12-01T09:00:00+08:00") == 0);
}

int main(void)
{
    if (sodium_init() < 0) return 2;
    test_check_char();
    test_mainland();
    test_other_types();
    test_id_type();
    test_email();
    test_password();
    test_pwhash();
    test_ticket();
    test_utf8();
    test_formats();
    return cet_test_done("test_eng_id");
}
