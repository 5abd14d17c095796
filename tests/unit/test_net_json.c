/*
 * test_net_json.c: the strict request-body decoder (net_json_decode) and the
 * typed field getters.
 */
#include <jansson.h>
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

int main(void)
{
    test_ok();
    test_refusals();
    test_depth();
    return cet_test_done("test_net_json");
}
