/*
 * net_captcha.c: challenge table and SVG rendering (see net_captcha.h).
 *
 * The table is CET_CAPTCHA_SLOTS entries in groups of CET_CAPTCHA_GROUP_SLOTS slots;
 * XXH3 of the id picks a group, one of CET_CAPTCHA_STRIPES_MAX mutexes guards it.
 * Inserting takes a free or expired slot of the group, else evicts the one
 * closest to expiry. No allocation besides the returned data URI.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <xxhash.h>

#include "base/cet_base.h"
#include "base/cet_limits.h"
#include "net/net_captcha.h"


_Static_assert((CET_CAPTCHA_SLOTS & (CET_CAPTCHA_SLOTS - 1)) == 0, "slots: power of 2");
_Static_assert(CET_CAPTCHA_SLOTS % CET_CAPTCHA_GROUP_SLOTS == 0, "slots: whole groups");

/* No 0/O, 1/I (nor L, easily read as 1 in some fonts). */
static const char alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

typedef struct captcha_slot {
    int64_t expires_ms; /* 0: free */
    char id[CET_CAPTCHA_ID_HEX_CHARS];
    char answer[CET_CAPTCHA_CHARS];
} captcha_slot_t;

static captcha_slot_t slots[CET_CAPTCHA_SLOTS];
static pthread_mutex_t stripes[CET_CAPTCHA_STRIPES_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic bool enabled = true;
static int64_t (*_Atomic clock_fn)(void); /* NULL: cet_now_ms */

static void captcha_init(void)
{
    if (sodium_init() < 0) CET_ASSERT(!"sodium_init failed");
    for (unsigned i = 0; i < CET_CAPTCHA_STRIPES_MAX; i++)
        pthread_mutex_init(&stripes[i], NULL);
}

static int64_t now_ms(void)
{
    int64_t (*fn)(void) = atomic_load(&clock_fn);
    return fn ? fn() : cet_now_ms();
}

void net_captcha_set_clock(int64_t (*fn)(void))
{
    atomic_store(&clock_fn, fn);
}

void net_captcha_set_enabled(bool on)
{
    atomic_store(&enabled, on);
}

bool net_captcha_enabled(void)
{
    return atomic_load(&enabled);
}

static unsigned group_of(const char *id)
{
    uint64_t h = XXH3_64bits(id, CET_CAPTCHA_ID_HEX_CHARS);
    return (unsigned)(h & (CET_CAPTCHA_SLOTS / CET_CAPTCHA_GROUP_SLOTS - 1));
}

static void store_answer(const char *id, const char *answer)
{
    unsigned g = group_of(id);
    pthread_mutex_t *mu = &stripes[g % CET_CAPTCHA_STRIPES_MAX];
    int64_t now = now_ms();
    pthread_mutex_lock(mu);
    captcha_slot_t *best = &slots[g * CET_CAPTCHA_GROUP_SLOTS];
    for (unsigned i = 0; i < CET_CAPTCHA_GROUP_SLOTS; i++) {
        captcha_slot_t *s = &slots[g * CET_CAPTCHA_GROUP_SLOTS + i];
        if (s->expires_ms <= now) {
            best = s;
            break;
        }
        if (s->expires_ms < best->expires_ms) best = s;
    }
    best->expires_ms = now + (int64_t)CET_CAPTCHA_TTL_S * 1000;
    memcpy(best->id, id, CET_CAPTCHA_ID_HEX_CHARS);
    memcpy(best->answer, answer, CET_CAPTCHA_CHARS);
    pthread_mutex_unlock(mu);
}

/* Finds id's live slot and copies its answer out; consume frees the slot. */
static bool take_answer(const char *id, char out[CET_CAPTCHA_CHARS], bool consume)
{
    if (!id || strlen(id) != CET_CAPTCHA_ID_HEX_CHARS) return false;
    unsigned g = group_of(id);
    pthread_mutex_t *mu = &stripes[g % CET_CAPTCHA_STRIPES_MAX];
    int64_t now = now_ms();
    bool found = false;
    pthread_mutex_lock(mu);
    for (unsigned i = 0; i < CET_CAPTCHA_GROUP_SLOTS; i++) {
        captcha_slot_t *s = &slots[g * CET_CAPTCHA_GROUP_SLOTS + i];
        if (s->expires_ms == 0 || memcmp(s->id, id, CET_CAPTCHA_ID_HEX_CHARS) != 0) continue;
        found = s->expires_ms > now;
        memcpy(out, s->answer, CET_CAPTCHA_CHARS);
        if (consume || !found) s->expires_ms = 0;
        break;
    }
    pthread_mutex_unlock(mu);
    return found;
}

static unsigned rnd(unsigned n)
{
    return randombytes_uniform(n);
}

/* Appends printf-style text to buf[cap] at *len; the cap is generous, a
 * truncation would only cut noise and is asserted against in tests. */
__attribute__((format(printf, 4, 5))) static void svg_add(char *buf, size_t cap, size_t *len,
                                                          const char *fmt, ...)
{
    if (*len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0) *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

static size_t svg_render(const char *answer, char *buf, size_t cap)
{
    size_t len = 0;
    svg_add(buf, cap, &len,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\"><rect width=\"%d\" height=\"%d\" fill=\"#f3efe6\"/>",
            CET_CAPTCHA_WIDTH_PX, CET_CAPTCHA_HEIGHT_PX, CET_CAPTCHA_WIDTH_PX, CET_CAPTCHA_HEIGHT_PX, CET_CAPTCHA_WIDTH_PX, CET_CAPTCHA_HEIGHT_PX);
    for (int i = 0; i < 6; i++)
        svg_add(buf, cap, &len,
                "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"#%02x%02x%02x\" "
                "stroke-width=\"%u.%u\"/>",
                rnd(CET_CAPTCHA_WIDTH_PX), rnd(CET_CAPTCHA_HEIGHT_PX), rnd(CET_CAPTCHA_WIDTH_PX), rnd(CET_CAPTCHA_HEIGHT_PX), 40 + rnd(140),
                40 + rnd(140), 40 + rnd(140), 1 + rnd(2), rnd(10));
    int step = (CET_CAPTCHA_WIDTH_PX - 20) / CET_CAPTCHA_CHARS;
    for (int i = 0; i < CET_CAPTCHA_CHARS; i++) {
        int x = 14 + i * step + (int)rnd(8);
        int y = 38 + (int)rnd(14);
        int deg = (int)rnd(61) - 30;
        svg_add(buf, cap, &len,
                "<text x=\"%d\" y=\"%d\" font-family=\"monospace\" font-size=\"%u\" "
                "font-weight=\"bold\" fill=\"#%02x%02x%02x\" "
                "transform=\"rotate(%d %d %d) skewX(%d)\">%c</text>",
                x, y, 28 + rnd(8), rnd(120), rnd(120), rnd(120), deg, x + 8, y - 10,
                (int)rnd(21) - 10, answer[i]);
    }
    for (int i = 0; i < 3; i++)
        svg_add(buf, cap, &len,
                "<path d=\"M%u %u Q%u %u %u %u\" stroke=\"#%02x%02x%02x\" fill=\"none\" "
                "stroke-width=\"1.5\"/>",
                rnd(20), rnd(CET_CAPTCHA_HEIGHT_PX), rnd(CET_CAPTCHA_WIDTH_PX), rnd(CET_CAPTCHA_HEIGHT_PX), CET_CAPTCHA_WIDTH_PX - rnd(20),
                rnd(CET_CAPTCHA_HEIGHT_PX), rnd(150), rnd(150), rnd(150));
    for (int i = 0; i < 30; i++)
        svg_add(buf, cap, &len, "<circle cx=\"%u\" cy=\"%u\" r=\"1\" fill=\"#%02x%02x%02x\"/>",
                rnd(CET_CAPTCHA_WIDTH_PX), rnd(CET_CAPTCHA_HEIGHT_PX), rnd(200), rnd(200), rnd(200));
    svg_add(buf, cap, &len, "</svg>");
    return len;
}

cet_err_t net_captcha_new(char id_out[33], char **data_uri_out)
{
    pthread_once(&once, captcha_init);
    uint8_t raw[CET_CAPTCHA_ID_HEX_CHARS / 2];
    randombytes_buf(raw, sizeof raw);
    cet_hex(id_out, raw, sizeof raw);
    char answer[CET_CAPTCHA_CHARS + 1];
    for (int i = 0; i < CET_CAPTCHA_CHARS; i++)
        answer[i] = alphabet[rnd(sizeof alphabet - 1)];
    answer[CET_CAPTCHA_CHARS] = 0;
    store_answer(id_out, answer);

    char svg[CET_CAPTCHA_IMAGE_BYTES_MAX];
    size_t svg_len = svg_render(answer, svg, sizeof svg);
    static const char prefix[] = "data:image/svg+xml;base64,";
    size_t b64 = sodium_base64_ENCODED_LEN(svg_len, sodium_base64_VARIANT_ORIGINAL);
    char *uri = cet_malloc(sizeof prefix - 1 + b64);
    memcpy(uri, prefix, sizeof prefix - 1);
    sodium_bin2base64(uri + sizeof prefix - 1, b64, (const unsigned char *)svg, svg_len,
                      sodium_base64_VARIANT_ORIGINAL);
    *data_uri_out = uri;
    return CET_E_OK;
}

bool net_captcha_check(const char *id, const char *answer)
{
    pthread_once(&once, captcha_init);
    char want[CET_CAPTCHA_CHARS];
    bool live = take_answer(id, want, true);
    if (!atomic_load(&enabled)) return true;
    if (!live || !answer) return false;
    while (*answer == ' ')
        answer++;
    size_t n = strlen(answer);
    while (n && answer[n - 1] == ' ')
        n--;
    if (n != CET_CAPTCHA_CHARS) return false;
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)(toupper((unsigned char)answer[i]) ^ (unsigned char)want[i]);
    return diff == 0;
}

bool net_captcha_peek(const char *id, char *out)
{
    pthread_once(&once, captcha_init);
    char a[CET_CAPTCHA_CHARS];
    if (!take_answer(id, a, false)) return false;
    memcpy(out, a, CET_CAPTCHA_CHARS);
    out[CET_CAPTCHA_CHARS] = 0;
    return true;
}
