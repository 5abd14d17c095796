/*
 * test_net_json.c: the strict request-body decoder (net_json_decode) and the
 * typed field getters.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cet_test.h"
#include "net/net.h"

static const char *const allowed[] = {"email", "password", "n", "flag", "list", "obj", NULL};

static cet_err_t dec(const char *body, size_t len, json_t **out, const char **field)
{
    return net_json_decode(body, len, allowed, out, field);
}

static cet_err_t dec_s(const char *body)
{
    json_t *out = NULL;
    const char *field = NULL;
    cet_err_t e = dec(body, strlen(body), &out, &field);
    if (e == CET_E_OK) {
        CHECK(json_is_object(out));
        json_decref(out);
    } else {
        CHECK(out == NULL);
    }
    return e;
}

static void test_ok(void)
{
    json_t *out;
    const char *field;
    const char *b = "{\"email\":\"a@b.cn\",\"n\":42,\"flag\":true,\"list\":[1,2]}";
    CHECK_EQ(dec(b, strlen(b), &out, &field), CET_E_OK);
    CHECK(field == NULL);
    const char *s;
    int64_t n = 0;
    bool f = false;
    CHECK_EQ(net_json_str(out, "email", true, &s), CET_E_OK);
    CHECK(s && strcmp(s, "a@b.cn") == 0);
    CHECK_EQ(net_json_int(out, "n", true, &n), CET_E_OK);
    CHECK_EQ(n, 42);
    CHECK_EQ(net_json_bool(out, "flag", true, &f), CET_E_OK);
    CHECK(f);
    CHECK_EQ(net_json_str(out, "password", true, &s), CET_E_MISSING_FIELD);
    CHECK_EQ(net_json_str(out, "password", false, &s), CET_E_OK);
    CHECK(s == NULL);
    CHECK_EQ(net_json_str(out, "n", true, &s), CET_E_WRONG_TYPE);
    CHECK_EQ(net_json_int(out, "email", true, &n), CET_E_WRONG_TYPE);
    CHECK_EQ(net_json_bool(out, "n", true, &f), CET_E_WRONG_TYPE);
    json_decref(out);
    /* null counts as absent */
    b = "{\"email\":null}";
    CHECK_EQ(dec(b, strlen(b), &out, &field), CET_E_OK);
    CHECK_EQ(net_json_str(out, "email", true, &s), CET_E_MISSING_FIELD);
    json_decref(out);
    /* a real is not an integer */
    b = "{\"n\":1.5}";
    CHECK_EQ(dec(b, strlen(b), &out, &field), CET_E_OK);
    CHECK_EQ(net_json_int(out, "n", true, &n), CET_E_WRONG_TYPE);
    json_decref(out);
    /* UTF-8 names */
    CHECK_EQ(dec_s("{\"email\":\"\xe5\xbc\xa0\xe4\xb8\x89\"}"), CET_E_OK);
    CHECK_EQ(dec_s("{\"email\":\"\\u5f20\"}"), CET_E_OK);
    CHECK_EQ(dec_s("  {}  \n"), CET_E_OK);
}

static void test_refusals(void)
{
    json_t *out;
    const char *field;
    /* duplicates */
    CHECK_EQ(dec_s("{\"email\":\"a\",\"email\":\"b\"}"), CET_E_MALFORMED_JSON);
    /* unknown field, named */
    const char *b = "{\"email\":\"a\",\"is_admin\":true}";
    CHECK_EQ(dec(b, strlen(b), &out, &field), CET_E_UNKNOWN_FIELD);
    CHECK(out == NULL);
    CHECK(field && strcmp(field, "is_admin") == 0);
    /* NULL allowed list takes anything */
    CHECK_EQ(net_json_decode(b, strlen(b), NULL, &out, &field), CET_E_OK);
    json_decref(out);
    /* trailing garbage, truncation, empty, not an object */
    CHECK_EQ(dec_s("{\"email\":\"a\"} x"), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec_s("{\"email\":\"a\"}{}"), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec_s("{\"email\":\"a\""), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec_s(""), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec_s("[1]"), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec_s("\"x\""), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec_s("{'email':'a'}"), CET_E_MALFORMED_JSON);
    /* NUL: escaped and raw */
    CHECK_EQ(dec_s("{\"email\":\"a\\u0000b\"}"), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec("{\"email\":\"a\0b\"}", 14, &out, &field), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec("{}\0", 3, &out, &field), CET_E_MALFORMED_JSON);
    /* huge numbers */
    CHECK_EQ(dec_s("{\"n\":123456789012345678901234567890}"), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec_s("{\"n\":1e999}"), CET_E_MALFORMED_JSON);
    CHECK_EQ(dec_s("{\"n\":9223372036854775807}"), CET_E_OK);
    /* bad UTF-8: invalid byte, truncated, overlong, surrogate, above U+10FFFF */
    CHECK_EQ(dec_s("{\"email\":\"\xff\"}"), CET_E_INVALID_UTF8);
    CHECK_EQ(dec_s("{\"email\":\"\xc3\"}"), CET_E_INVALID_UTF8);
    CHECK_EQ(dec_s("{\"email\":\"\xc0\xaf\"}"), CET_E_INVALID_UTF8);
    CHECK_EQ(dec_s("{\"email\":\"\xe0\x80\xaf\"}"), CET_E_INVALID_UTF8);
    CHECK_EQ(dec_s("{\"email\":\"\xed\xa0\x80\"}"), CET_E_INVALID_UTF8);
    CHECK_EQ(dec_s("{\"email\":\"\xf4\x90\x80\x80\"}"), CET_E_INVALID_UTF8);
    CHECK_EQ(dec_s("{\"email\":\"\xf0\x9f\x98\x80\"}"), CET_E_OK);
    /* a lone escaped surrogate is not a character */
    CHECK_EQ(dec_s("{\"email\":\"\\ud800\"}"), CET_E_MALFORMED_JSON);
}

/* An unknown key of 64 bytes or more comes back cut at a character boundary. */
static void test_long_unknown_key(void)
{
    char body[512], key[200];
    strcpy(key, "a");
    for (int i = 0; i < 40; i++) strcat(key, "\xe6\x8a\xa5"); /* 报: 3 bytes */
    snprintf(body, sizeof body, "{\"email\":\"x\",\"%s\":1}", key);
    json_t *out;
    const char *field = NULL;
    CHECK_EQ(dec(body, strlen(body), &out, &field), CET_E_UNKNOWN_FIELD);
    CHECK(field && strlen(field) == 61 && strncmp(field, key, 61) == 0);
    /* ASCII: 70 bytes come back as their first 63 */
    const char *ascii = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqr";
    snprintf(body, sizeof body, "{\"%s\":1}", ascii);
    CHECK_EQ(dec(body, strlen(body), &out, &field), CET_E_UNKNOWN_FIELD);
    CHECK(field && strlen(field) == 63 && strncmp(field, ascii, 63) == 0);
    /* a character that starts at byte 63 is left out whole: 63 bytes */
    snprintf(body, sizeof body, "{\"%.63s\xe6\x8a\xa5\":1}", ascii);
    CHECK_EQ(dec(body, strlen(body), &out, &field), CET_E_UNKNOWN_FIELD);
    CHECK(field && strlen(field) == 63 && strncmp(field, ascii, 63) == 0);
}

static void test_depth(void)
{
    /* 8 nested containers pass, 9 do not; scalars add no level */
    CHECK_EQ(dec_s("{\"obj\":{\"a\":{\"b\":{\"c\":[[[[1]]]]}}}}"), CET_E_OK);
    CHECK_EQ(dec_s("{\"obj\":{\"a\":{\"b\":{\"c\":[[[[[1]]]]]}}}}"), CET_E_MALFORMED_JSON);
    char deep[8192];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "{\"list\":");
    for (int i = 0; i < 3000; i++)
        deep[n++] = '[';
    for (int i = 0; i < 3000; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = 0;
    CHECK_EQ(dec_s(deep), CET_E_MALFORMED_JSON);
}

/* ---- the answer writer (net_jw_t) against json_dumps(JSON_COMPACT) ---- */
static char *dumps(json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return t;
}

/* One string member written both ways: the same bytes. */
static void jw_same_string(const char *str, size_t n)
{
    char buf[4096];
    net_jw_t w;
    net_jw_init(&w, buf, sizeof buf);
    net_jw_open(&w, NULL);
    net_jw_str(&w, "k\"\x01", str, n); /* the key is escaped too */
    net_jw_close(&w);
    CHECK(w.ok);
    json_t *j = json_object();
    json_t *v = json_stringn(str, n);
    CHECK(v != NULL); /* callers' strings are valid UTF-8 */
    json_object_set_new(j, "k\"\x01", v);
    char *want = dumps(j);
    CHECK(want && w.len == strlen(want) && memcmp(buf, want, w.len) == 0);
    if (want && strcmp(buf, want) != 0) fprintf(stderr, "jw: %s\njansson: %s\n", buf, want);
    free(want);
}

static void test_writer(void)
{
    /* every ASCII character alone and all of them in a row, then UTF-8 */
    char all[128];
    for (int c = 1; c < 128; c++) {
        char one = (char)c;
        jw_same_string(&one, 1);
        all[c - 1] = (char)c;
    }
    jw_same_string(all, 127);
    jw_same_string("", 0);
    const char *utf8 = "报名费 \xe2\x80\xa8 \xf0\x9f\x98\x80 \"q\" \\ / end";
    jw_same_string(utf8, strlen(utf8));
    /* random mixes of escapes and plain runs */
    unsigned x = 12345;
    for (int round = 0; round < 2000; round++) {
        char r[64];
        size_t n = (size_t)(round % 60);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            r[i] = (char)(1 + (x >> 16) % 127);
        }
        jw_same_string(r, n);
    }

    /* integers, null, nesting, in insertion order */
    const int64_t ints[] = {0, 1, -1, 9, 10, -10, 3000, INT64_MAX, INT64_MIN, 1000000007};
    char buf[512];
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        net_jw_t w;
        net_jw_init(&w, buf, sizeof buf);
        net_jw_open(&w, NULL);
        net_jw_int(&w, "n", ints[i]);
        net_jw_open(&w, "o");
        net_jw_null(&w, "z");
        net_jw_str(&w, "s", "x", 1);
        net_jw_close(&w);
        net_jw_int(&w, "m", ints[i] / -3);
        net_jw_close(&w);
        CHECK(w.ok);
        char *want = dumps(json_pack("{s:I,s:{s:n,s:s},s:I}", "n", (json_int_t)ints[i], "o", "z",
                                     "s", "x", "m", (json_int_t)(ints[i] / -3)));
        CHECK(want && strcmp(buf, want) == 0);
        free(want);
    }

    /* too small a buffer: not ok, and nothing written past it */
    char small[40];
    memset(small, '#', sizeof small);
    net_jw_t w;
    net_jw_init(&w, small, 16);
    net_jw_open(&w, NULL);
    net_jw_str(&w, "message", "more than sixteen bytes", 23);
    net_jw_close(&w);
    CHECK(!w.ok);
    CHECK(w.len < 16);
    for (int i = 16; i < 40; i++) CHECK(small[i] == '#');
    /* a member outside an object, a second top object, a close too many */
    net_jw_init(&w, buf, sizeof buf);
    net_jw_int(&w, "n", 1);
    CHECK(!w.ok);
    net_jw_init(&w, buf, sizeof buf);
    net_jw_open(&w, NULL);
    net_jw_close(&w);
    net_jw_open(&w, NULL);
    CHECK(!w.ok);
    net_jw_init(&w, buf, sizeof buf);
    net_jw_close(&w);
    CHECK(!w.ok);
    /* nesting deeper than NET_JW_DEPTH */
    net_jw_init(&w, buf, sizeof buf);
    net_jw_open(&w, NULL);
    for (int i = 1; i < NET_JW_DEPTH; i++) net_jw_open(&w, "a");
    CHECK(w.ok);
    net_jw_open(&w, "a");
    CHECK(!w.ok);
}

/* Every error code's answer, with and without a field, as jansson would write it. */
static void test_error_text(void)
{
    const char *fields[] = {NULL, "subject", "a\"b\\\x02报名"};
    for (int e = (int)CET_E__BASE + 1; e < (int)CET_E__END; e++) {
        for (size_t f = 0; f < 3; f++) {
            char buf[2048];
            net_jw_t w;
            net_jw_init(&w, buf, sizeof buf);
            size_t n = net_error_text(&w, (cet_err_t)e, fields[f], "r-123");
            json_t *err = json_pack("{s:s,s:s}", "code", cet_err_code((cet_err_t)e), "message",
                                    cet_err_message((cet_err_t)e));
            if (fields[f]) json_object_set_new(err, "field", json_string(fields[f]));
            json_object_set_new(err, "request_id", json_string("r-123"));
            char *want = dumps(json_pack("{s:o}", "error", err));
            CHECK(n > 0 && want && n == strlen(want) && memcmp(buf, want, n) == 0);
            free(want);
        }
    }
    char tiny[20];
    net_jw_t w;
    net_jw_init(&w, tiny, sizeof tiny);
    CHECK_EQ(net_error_text(&w, CET_E_SEATS_FULL, NULL, "r"), 0);
}

int main(void)
{
    test_ok();
    test_refusals();
    test_depth();
    test_long_unknown_key();
    test_writer();
    test_error_text();
    return cet_test_done("test_net_json");
}
