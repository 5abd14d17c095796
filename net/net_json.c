/*
 * net_json.c: the strict request-body decoder and the typed field getters.
 *
 * Order of checks: bytes first (UTF-8, so invalid_utf8 is exact and not a
 * guess from jansson's error text), then jansson (syntax, duplicates, NUL in
 * strings, trailing bytes, number range), then shape (object, depth, keys).
 */
#include <jansson.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_limits.h"
#include "net/net.h"

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. Returns true when s[0..len) is valid.
 */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0; /* overlong */
            if (c == 0xED) hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90; /* overlong */
            if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
        } else {
            return false;
        }
        if (len - i <= need) return false;
        unsigned b = s[i + 1];
        if (b < lo || b > hi) return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return false;
        i += need + 1;
    }
    return true;
}

/* True when containers nest deeper than CET_JSON_DEPTH_MAX below v (v at
 * depth; scalars add no level). jansson refuses nesting beyond 2048, which
 * bounds the recursion. */
static bool json_depth_over(const json_t *v, int depth)
{
    if (!json_is_object(v) && !json_is_array(v)) return false;
    if (depth > CET_JSON_DEPTH_MAX) return true;
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach((json_t *)v, k, child)
        {
            (void)k;
            if (json_depth_over(child, depth + 1)) return true;
        }
    } else {
        size_t i;
        const json_t *child;
        json_array_foreach(v, i, child)
        {
            if (json_depth_over(child, depth + 1)) return true;
        }
    }
    return false;
}

static bool key_allowed(const char *const *allowed, const char *key)
{
    if (!allowed) return true;
    for (const char *const *a = allowed; *a; a++)
        if (strcmp(*a, key) == 0) return true;
    return false;
}

static _Thread_local char field_copy[64];

cet_err_t net_json_decode(const char *body, size_t len, const char *const *allowed, json_t **out,
                          const char **field)
{
    *out = NULL;
    if (field) *field = NULL;
    if (!body || len == 0) return CET_E_MALFORMED_JSON;
    if (!utf8_valid((const unsigned char *)body, len)) return CET_E_INVALID_UTF8;

    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return CET_E_MALFORMED_JSON;
    if (!json_is_object(root) || json_depth_over(root, 1)) {
        json_decref(root);
        return CET_E_MALFORMED_JSON;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        (void)val;
        if (!key_allowed(allowed, key)) {
            cet_strlcpy(field_copy, key, sizeof field_copy);
            if (field) *field = field_copy;
            json_decref(root);
            return CET_E_UNKNOWN_FIELD;
        }
    }
    *out = root;
    return CET_E_OK;
}

/* A member that is absent or JSON null counts as absent. */
static json_t *member(json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

cet_err_t net_json_str(json_t *obj, const char *key, bool required, const char **out)
{
    json_t *v = member(obj, key);
    *out = NULL;
    if (!v) return required ? CET_E_MISSING_FIELD : CET_E_OK;
    if (!json_is_string(v)) return CET_E_WRONG_TYPE;
    *out = json_string_value(v);
    return CET_E_OK;
}

cet_err_t net_json_bool(json_t *obj, const char *key, bool required, bool *out)
{
    json_t *v = member(obj, key);
    if (!v) return required ? CET_E_MISSING_FIELD : CET_E_OK;
    if (!json_is_boolean(v)) return CET_E_WRONG_TYPE;
    *out = json_is_true(v);
    return CET_E_OK;
}

cet_err_t net_json_int(json_t *obj, const char *key, bool required, int64_t *out)
{
    json_t *v = member(obj, key);
    if (!v) return required ? CET_E_MISSING_FIELD : CET_E_OK;
    if (!json_is_integer(v)) return CET_E_WRONG_TYPE;
    *out = (int64_t)json_integer_value(v);
    return CET_E_OK;
}
