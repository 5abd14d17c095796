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
            /* cut at a character boundary: the answer's field stays UTF-8 */
            size_t n = strlen(key);
            if (n >= sizeof field_copy) {
                n = sizeof field_copy - 1;
                while (n && ((unsigned char)key[n] & 0xC0) == 0x80) n--;
            }
            memcpy(field_copy, key, n);
            field_copy[n] = '\0';
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

/* ---- the writer of compact answers (net_jw_t) ---- */
void net_jw_init(net_jw_t *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->ok = cap > 0;
    w->depth = 0;
    if (w->ok) buf[0] = '\0';
}

static void jw_put(net_jw_t *w, const char *s, size_t n)
{
    if (!w->ok) return;
    if (n >= w->cap - w->len) { /* room for the NUL too */
        w->ok = false;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* s[0..n) as a JSON string, escaped as jansson's dump escapes (no ensure_ascii,
 * no escaped slash): the two-character escapes it knows, \u00XX for the other
 * control characters. */
static void jw_string(net_jw_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    jw_put(w, "\"", 1);
    size_t run = 0; /* bytes before s[i] that need no escape, not yet written */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        jw_put(w, s + i - run, run);
        run = 0;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        jw_put(w, esc, len);
    }
    jw_put(w, s + n - run, run);
    jw_put(w, "\"", 1);
}

/* The separator and the key of a member of the open object (none at the top). */
static void jw_key(net_jw_t *w, const char *key)
{
    if (!w->depth) {
        w->ok = false; /* a member outside any object */
        return;
    }
    if (!w->first[w->depth]) jw_put(w, ",", 1);
    w->first[w->depth] = false;
    jw_string(w, key, strlen(key));
    jw_put(w, ":", 1);
}

void net_jw_open(net_jw_t *w, const char *key)
{
    if (key) jw_key(w, key);
    else if (w->depth || w->len) w->ok = false; /* one top object */
    if (w->depth == NET_JW_DEPTH) w->ok = false;
    if (!w->ok) return;
    jw_put(w, "{", 1);
    w->first[++w->depth] = true;
}

void net_jw_close(net_jw_t *w)
{
    if (!w->depth) {
        w->ok = false;
        return;
    }
    w->depth--;
    jw_put(w, "}", 1);
}

void net_jw_str(net_jw_t *w, const char *key, const char *s, size_t n)
{
    jw_key(w, key);
    jw_string(w, s, n);
}

void net_jw_int(net_jw_t *w, const char *key, int64_t v)
{
    char d[22];
    d[0] = '-';
    size_t n = cet_dec_format(d + 1, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 0);
    jw_key(w, key);
    jw_put(w, v < 0 ? d : d + 1, v < 0 ? n + 1 : n);
}

void net_jw_null(net_jw_t *w, const char *key)
{
    jw_key(w, key);
    jw_put(w, "null", 4);
}
