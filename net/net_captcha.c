/*
 * net_captcha.c: the challenge table, the ready ring and the cairo renderer
 * (see net_captcha.h).
 *
 * Table: CET_CAPTCHA_SLOTS slots in groups of CET_CAPTCHA_GROUP_SLOTS; the
 * first 8 bytes of the (random, server-chosen) id pick the group, one of
 * CET_CAPTCHA_STRIPES_MAX mutexes guards it. Each slot remembers its owner (a
 * keyed hash of the client), so that eviction can be limited to the asker's
 * own challenges.
 *
 * Renderer: glyph outlines are built once (cairo's toy font API, which asks
 * fontconfig) as cairo paths, so a render never touches a font: it appends
 * transformed paths, warps the pixels, draws noise, and libpng writes the
 * PNG (compression level 1: the noise does not compress anyway).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cairo.h>
#include <png.h>

#include "base/cet_base.h"
#include "base/cet_limits.h"
#include "net/net_captcha.h"

_Static_assert((CET_CAPTCHA_SLOTS & (CET_CAPTCHA_SLOTS - 1)) == 0, "slots: power of 2");
_Static_assert(CET_CAPTCHA_SLOTS % CET_CAPTCHA_GROUP_SLOTS == 0, "slots: whole groups");
_Static_assert(CET_CAPTCHA_ID_HEX_CHARS == 32, "ids are 16 bytes");

#define GROUPS (CET_CAPTCHA_SLOTS / CET_CAPTCHA_GROUP_SLOTS)
#define W CET_CAPTCHA_WIDTH_PX
#define H CET_CAPTCHA_HEIGHT_PX
#define GLYPH_NOMINAL_PX 40.0 /* size the outlines are built at */
#define GLYPH_INK_MIN_PX 150  /* dark pixels the self-test wants to see */
#define FACES_MAX 12

/* Characters nobody confuses, even distorted: none of 0/O/Q, 1/I/L, 2/Z,
 * 5/S, 6/G, 8/B. Upper case only (the check ignores case). */
static const char alphabet[] = "ACDEFHJKMNPRTUVWXY3479";
#define ALPHABET_N (sizeof alphabet - 1)

/* ---- the table of issued challenges ---- */
typedef struct captcha_slot {
    int64_t expires_ms; /* 0: free */
    uint64_t owner;     /* keyed hash of the client that asked */
    uint8_t id[16];
    char answer[CET_CAPTCHA_CHARS];
} captcha_slot_t;

static captcha_slot_t slots[CET_CAPTCHA_SLOTS];
static pthread_mutex_t stripes[CET_CAPTCHA_STRIPES_MAX];
static uint8_t owner_key[crypto_shorthash_KEYBYTES];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static _Atomic bool enabled = true;
static int64_t (*_Atomic clock_fn)(void); /* NULL: cet_now_ms */

/* ---- the ready ring ---- */
#define URI_PREFIX "data:image/png;base64,"
#define URI_BYTES_MAX                                                                              \
    (sizeof URI_PREFIX - 1 +                                                                       \
     sodium_base64_ENCODED_LEN(CET_CAPTCHA_PNG_BYTES_MAX, sodium_base64_VARIANT_ORIGINAL))
typedef struct captcha_ready {
    char answer[CET_CAPTCHA_CHARS];
    uint32_t uri_len;        /* with its NUL */
    char uri[URI_BYTES_MAX]; /* the image as the reply carries it */
} captcha_ready_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the renderer waits here while the ring is full */
    captcha_ready_t ring[CET_CAPTCHA_READY_MAX];
    unsigned head, len; /* oldest entry, entries */
    bool started, stop;
    int start_rc;
    pthread_t thread;
    _Atomic uint64_t rendered, render_ns;
} ready = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* ---- the test answer log ---- */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *answer_log;

/* ---- glyphs, built once by net_captcha_start ---- */
typedef struct glyph {
    cairo_path_t *path;  /* outline at GLYPH_NOMINAL_PX, origin on the baseline */
    double x0, y0, w, h; /* ink box */
} glyph_t;
static glyph_t glyphs[FACES_MAX][ALPHABET_N];
static int n_faces;

static void table_init(void)
{
    if (sodium_init() < 0) CET_ASSERT(!"sodium_init failed");
    for (unsigned i = 0; i < CET_CAPTCHA_STRIPES_MAX; i++)
        pthread_mutex_init(&stripes[i], NULL);
    crypto_shorthash_keygen(owner_key);
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

static unsigned group_of(const uint8_t id[16])
{
    uint64_t g;
    memcpy(&g, id, sizeof g);
    return (unsigned)(g & (GROUPS - 1));
}

static uint64_t owner_of(const char *client)
{
    uint8_t h[crypto_shorthash_BYTES];
    const char *c = client ? client : "";
    crypto_shorthash(h, (const unsigned char *)c, strlen(c), owner_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return v;
}

/* Puts (id, answer) for owner into a free or expired slot of id's group, or
 * else over the owner's own oldest live one there. False: the group holds
 * only other clients' live challenges. */
static bool table_put(const uint8_t id[16], const char answer[CET_CAPTCHA_CHARS], uint64_t owner,
                      int64_t now)
{
    unsigned g = group_of(id);
    pthread_mutex_t *mu = &stripes[g % CET_CAPTCHA_STRIPES_MAX];
    captcha_slot_t *group = &slots[(size_t)g * CET_CAPTCHA_GROUP_SLOTS];
    captcha_slot_t *take = NULL, *own = NULL;
    pthread_mutex_lock(mu);
    for (unsigned i = 0; i < CET_CAPTCHA_GROUP_SLOTS && !take; i++) {
        captcha_slot_t *s = &group[i];
        if (s->expires_ms <= now)
            take = s;
        else if (s->owner == owner && (!own || s->expires_ms < own->expires_ms))
            own = s;
    }
    if (!take) take = own;
    if (take) {
        take->expires_ms = now + (int64_t)CET_CAPTCHA_TTL_S * 1000;
        take->owner = owner;
        memcpy(take->id, id, 16);
        memcpy(take->answer, answer, CET_CAPTCHA_CHARS);
    }
    pthread_mutex_unlock(mu);
    return take != NULL;
}

/* Finds id's live slot and copies its answer out; consume frees the slot. */
static bool table_take(const char *id_hex, char out[CET_CAPTCHA_CHARS], bool consume)
{
    uint8_t id[16];
    if (!id_hex || strlen(id_hex) != CET_CAPTCHA_ID_HEX_CHARS || cet_unhex(id, id_hex, 16))
        return false;
    unsigned g = group_of(id);
    pthread_mutex_t *mu = &stripes[g % CET_CAPTCHA_STRIPES_MAX];
    captcha_slot_t *group = &slots[(size_t)g * CET_CAPTCHA_GROUP_SLOTS];
    int64_t now = now_ms();
    bool found = false;
    pthread_mutex_lock(mu);
    for (unsigned i = 0; i < CET_CAPTCHA_GROUP_SLOTS; i++) {
        captcha_slot_t *s = &group[i];
        if (s->expires_ms == 0 || sodium_memcmp(s->id, id, 16) != 0) continue;
        found = s->expires_ms > now;
        memcpy(out, s->answer, CET_CAPTCHA_CHARS);
        if (consume || !found) s->expires_ms = 0;
        break;
    }
    pthread_mutex_unlock(mu);
    return found;
}

void net_captcha_reset(void)
{
    pthread_once(&table_once, table_init);
    for (unsigned i = 0; i < CET_CAPTCHA_STRIPES_MAX; i++)
        pthread_mutex_lock(&stripes[i]);
    memset(slots, 0, sizeof slots);
    for (unsigned i = 0; i < CET_CAPTCHA_STRIPES_MAX; i++)
        pthread_mutex_unlock(&stripes[i]);
}

/* ---- rendering ---- */

/* Randomness for drawing: one getrandom-seeded ChaCha20 stream per render
 * (randombytes_buf per value would be a system call each, hundreds per image). */
#define DRAW_RANDOM_BYTES 4096
static struct {
    uint32_t v[DRAW_RANDOM_BYTES / 4];
    unsigned at;
} draw_rng; /* the rendering thread's (the renderer, or start) */

static void draw_rng_seed(void)
{
    uint8_t seed[randombytes_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    randombytes_buf_deterministic(draw_rng.v, sizeof draw_rng.v, seed);
    sodium_memzero(seed, sizeof seed);
    draw_rng.at = 0;
}

static uint32_t draw_u32(void)
{
    if (draw_rng.at == DRAW_RANDOM_BYTES / 4) draw_rng_seed();
    return draw_rng.v[draw_rng.at++];
}

static double frand(double lo, double hi)
{
    return lo + (hi - lo) * ((double)draw_u32() / 4294967295.0);
}

/* Uniform in [0, n), n small (rejection keeps it unbiased). */
static unsigned rnd(unsigned n)
{
    uint32_t lim = UINT32_MAX - UINT32_MAX % n, v;
    while ((v = draw_u32()) >= lim) {
    }
    return v % n;
}

/* Outlines of every alphabet character in every face the toy API finds.
 * Returns the number of faces built; 0 when no font draws anything. */
static int glyphs_build(void)
{
    /* family, slant, weight: bold faces (thin strokes vanish in the noise) and one book */
    static const struct {
        const char *family;
        cairo_font_slant_t slant;
        cairo_font_weight_t weight;
    } faces[] = {
        {"DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD},
        {"DejaVu Sans", CAIRO_FONT_SLANT_OBLIQUE, CAIRO_FONT_WEIGHT_BOLD},
        {"DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL},
        {"DejaVu Serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD},
        {"DejaVu Serif", CAIRO_FONT_SLANT_ITALIC, CAIRO_FONT_WEIGHT_BOLD},
        {"DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD},
        {"DejaVu Sans Mono", CAIRO_FONT_SLANT_OBLIQUE, CAIRO_FONT_WEIGHT_BOLD},
        {"DejaVu Sans Condensed", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD},
    };
    _Static_assert(sizeof faces / sizeof faces[0] <= FACES_MAX, "faces fit");
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A8, 8, 8);
    cairo_t *cr = cairo_create(s);
    int n = 0;
    for (size_t f = 0; f < sizeof faces / sizeof faces[0]; f++) {
        cairo_select_font_face(cr, faces[f].family, faces[f].slant, faces[f].weight);
        cairo_set_font_size(cr, GLYPH_NOMINAL_PX);
        bool ok = true;
        for (size_t c = 0; c < ALPHABET_N; c++) {
            char text[2] = {alphabet[c], 0};
            cairo_new_path(cr);
            cairo_move_to(cr, 0, 0);
            cairo_text_path(cr, text);
            double x1, y1, x2, y2;
            cairo_path_extents(cr, &x1, &y1, &x2, &y2);
            glyph_t *g = &glyphs[n][c];
            g->path = cairo_copy_path(cr);
            g->x0 = x1;
            g->y0 = y1;
            g->w = x2 - x1;
            g->h = y2 - y1;
            if (g->w < 4 || g->h < 8) ok = false; /* no outline: no such font at all */
        }
        if (!ok) {
            for (size_t c = 0; c < ALPHABET_N; c++)
                cairo_path_destroy(glyphs[n][c].path);
            continue;
        }
        n++;
    }
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return n;
}

static void glyphs_free(void)
{
    for (int f = 0; f < n_faces; f++)
        for (size_t c = 0; c < ALPHABET_N; c++)
            cairo_path_destroy(glyphs[f][c].path);
    n_faces = 0;
}

static void set_dark(cairo_t *cr)
{
    cairo_set_source_rgb(cr, frand(0, 0.45), frand(0, 0.45), frand(0, 0.45));
}

/* The glyphs of answer, each its own face, size, angle, shear and place. */
static void draw_glyphs(cairo_t *cr, const char answer[CET_CAPTCHA_CHARS])
{
    const glyph_t *g[CET_CAPTCHA_CHARS];
    double scale[CET_CAPTCHA_CHARS], xs[CET_CAPTCHA_CHARS], total = 0;
    for (int i = 0; i < CET_CAPTCHA_CHARS; i++) {
        size_t c = (size_t)(strchr(alphabet, answer[i]) - alphabet);
        g[i] = &glyphs[rnd((unsigned)n_faces)][c];
        scale[i] = frand(0.9, 1.1) * (H * 0.46) / g[i]->h; /* about half the height */
        xs[i] = frand(0.8, 1.2);
        total += g[i]->w * scale[i] * xs[i];
    }
    /* spread the run over the width, glyphs touching or overlapping a little */
    double room = W - 28.0 + 2.0 * (CET_CAPTCHA_CHARS - 1); /* at the tightest gap */
    if (total > room) {
        for (int i = 0; i < CET_CAPTCHA_CHARS; i++)
            scale[i] *= room / total;
        total = room;
    }
    double gap = (W - 28 - total) / (CET_CAPTCHA_CHARS - 1);
    if (gap > 4) gap = 4;
    if (gap < -2) gap = -2;
    double x = (W - total - gap * (CET_CAPTCHA_CHARS - 1)) / 2;
    for (int i = 0; i < CET_CAPTCHA_CHARS; i++) {
        double gw = g[i]->w * scale[i] * xs[i];
        cairo_save(cr);
        cairo_translate(cr, x + gw / 2 + frand(-2, 2), H / 2.0 + frand(-4, 4));
        cairo_rotate(cr, frand(-0.4, 0.4));
        cairo_matrix_t shear;
        cairo_matrix_init(&shear, 1, 0, frand(-0.25, 0.25), 1, 0, 0);
        cairo_transform(cr, &shear);
        cairo_scale(cr, scale[i] * xs[i], scale[i] * frand(0.85, 1.15));
        cairo_translate(cr, -(g[i]->x0 + g[i]->w / 2), -(g[i]->y0 + g[i]->h / 2));
        cairo_new_path(cr);
        cairo_append_path(cr, g[i]->path);
        cairo_restore(cr); /* the path stays, in device space: an even outline */
        set_dark(cr);
        cairo_set_line_width(cr, frand(0.8, 1.6));
        cairo_fill_preserve(cr);
        cairo_stroke(cr);
        x += gw + gap + frand(-1.5, 1.5);
    }
}

/* b = a displaced by a vertical wave along x and a horizontal one along y. */
static void warp(cairo_surface_t *a, cairo_surface_t *b)
{
    cairo_surface_flush(a);
    cairo_surface_flush(b);
    const uint32_t *src = (const uint32_t *)cairo_image_surface_get_data(a);
    uint32_t *dst = (uint32_t *)cairo_image_surface_get_data(b);
    int ss = cairo_image_surface_get_stride(a) / 4, ds = cairo_image_surface_get_stride(b) / 4;
    double ay = frand(2.5, 5), fy = frand(0.035, 0.07), py = frand(0, 6.283);
    double ax = frand(1.5, 3), fx = frand(0.08, 0.16), px = frand(0, 6.283);
    int dx[H], dy[W];
    for (int y = 0; y < H; y++)
        dx[y] = (int)lrint(ax * sin(y * fx + px));
    for (int x = 0; x < W; x++)
        dy[x] = (int)lrint(ay * sin(x * fy + py));
    uint32_t bg = src[0];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int sx = x + dx[y], sy = y + dy[x];
            dst[y * ds + x] = sx >= 0 && sx < W && sy >= 0 && sy < H ? src[sy * ss + sx] : bg;
        }
    cairo_surface_mark_dirty(b);
}

static void draw_noise(cairo_t *cr, double br, double bgc, double bb)
{
    for (int i = 0; i < 2; i++) { /* dark curves through the glyph band */
        set_dark(cr);
        cairo_set_line_width(cr, frand(1.0, 2.0));
        cairo_move_to(cr, frand(0, 20), frand(12, H - 12));
        cairo_curve_to(cr, frand(30, 70), frand(0, H), frand(90, 130), frand(0, H),
                       frand(W - 20, W), frand(12, H - 12));
        cairo_stroke(cr);
    }
    for (int i = 0; i < 1; i++) { /* a background-coloured cut through the glyphs */
        cairo_set_source_rgb(cr, br, bgc, bb);
        cairo_set_line_width(cr, frand(0.8, 1.3));
        cairo_move_to(cr, 0, frand(15, H - 15));
        cairo_curve_to(cr, frand(30, 70), frand(0, H), frand(90, 130), frand(0, H), W,
                       frand(15, H - 15));
        cairo_stroke(cr);
    }
    set_dark(cr);
    cairo_set_line_width(cr, frand(1.0, 2.0));
    cairo_new_path(cr);
    cairo_arc(cr, frand(30, W - 30), frand(15, H - 15), frand(14, 30), frand(0, 3),
              frand(3.5, 6.2));
    cairo_stroke(cr);
    for (int k = 0; k < 3; k++) { /* dots */
        cairo_set_source_rgb(cr, frand(0, 0.8), frand(0, 0.8), frand(0, 0.8));
        for (int i = 0; i < 35; i++)
            cairo_rectangle(cr, rnd(W), rnd(H), frand(0.8, 1.8), frand(0.8, 1.8));
        cairo_fill(cr);
    }
}

typedef struct png_sink {
    uint8_t *buf;
    size_t cap, len;
} png_sink_t;

static void png_write_cb(png_structp p, png_bytep data, size_t n)
{
    png_sink_t *s = png_get_io_ptr(p);
    if (n > s->cap - s->len) png_error(p, "captcha image too large");
    memcpy(s->buf + s->len, data, n);
    s->len += n;
}

static void png_flush_cb(png_structp p)
{
    (void)p;
}

static void png_error_cb(png_structp p, png_const_charp msg)
{
    (void)msg;
    png_longjmp(p, 1);
}

static void png_warn_cb(png_structp p, png_const_charp msg)
{
    (void)p;
    (void)msg;
}

/* PNG of an RGB24 surface into s; false when it does not fit. Everything
 * used after the longjmp is set before the setjmp. */
static bool png_encode(cairo_surface_t *surf, png_sink_t *s)
{
    cairo_surface_flush(surf);
    const uint8_t *data = cairo_image_surface_get_data(surf);
    const int stride = cairo_image_surface_get_stride(surf);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_cb, png_warn_cb);
    if (!p) return false;
    png_infop info = png_create_info_struct(p);
    if (!info || setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, info ? &info : NULL);
        return false;
    }
    png_set_write_fn(p, s, png_write_cb, png_flush_cb);
    png_set_IHDR(p, info, W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(p, 1);
    png_set_filter(p, 0, PNG_FILTER_NONE);
    png_write_info(p, info);
    png_set_filler(p, 0, PNG_FILLER_AFTER); /* cairo's RGB24 is native-endian xRGB */
    png_set_bgr(p);
    for (int y = 0; y < H; y++)
        png_write_row(p, (png_const_bytep)(data + (size_t)y * (size_t)stride));
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    return true;
}

/* Renders a fresh random challenge into out. ink_out (self-test): the dark
 * pixels the glyphs alone left. False when the PNG did not fit (retry). */
static bool render(captcha_ready_t *out, cairo_surface_t *a, cairo_surface_t *b, int *ink_out)
{
    draw_rng_seed();
    for (int i = 0; i < CET_CAPTCHA_CHARS; i++)
        out->answer[i] = alphabet[rnd(ALPHABET_N)];
    double br = frand(0.86, 0.98), bgc = frand(0.86, 0.98), bb = frand(0.84, 0.96);
    cairo_t *cr = cairo_create(a);
    cairo_set_source_rgb(cr, br, bgc, bb);
    cairo_paint(cr);
    for (int i = 0; i < 6; i++) { /* faint lines behind the glyphs */
        cairo_set_source_rgb(cr, frand(0.45, 0.8), frand(0.45, 0.8), frand(0.45, 0.8));
        cairo_set_line_width(cr, frand(0.5, 1.2));
        cairo_move_to(cr, rnd(W), rnd(H));
        cairo_line_to(cr, rnd(W), rnd(H));
        cairo_stroke(cr);
    }
    if (ink_out) { /* self-test: glyphs only, on plain background */
        cairo_set_source_rgb(cr, br, bgc, bb);
        cairo_paint(cr);
    }
    draw_glyphs(cr, out->answer);
    cairo_destroy(cr);
    if (ink_out) {
        cairo_surface_flush(a);
        const uint8_t *d = cairo_image_surface_get_data(a);
        int stride = cairo_image_surface_get_stride(a), ink = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint32_t px;
                memcpy(&px, d + (size_t)y * (size_t)stride + 4 * (size_t)x, 4);
                ink += ((px >> 16 & 0xff) + (px >> 8 & 0xff) + (px & 0xff)) < 3 * 128;
            }
        *ink_out = ink;
    }
    warp(a, b);
    cr = cairo_create(b);
    draw_noise(cr, br, bgc, bb);
    cairo_destroy(cr);
    static uint8_t png[CET_CAPTCHA_PNG_BYTES_MAX]; /* the rendering thread's */
    png_sink_t s = {png, sizeof png, 0};
    if (!png_encode(b, &s)) return false;
    memcpy(out->uri, URI_PREFIX, sizeof URI_PREFIX - 1);
    size_t b64 = sodium_base64_ENCODED_LEN(s.len, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(out->uri + sizeof URI_PREFIX - 1, b64, png, s.len,
                      sodium_base64_VARIANT_ORIGINAL);
    out->uri_len = (uint32_t)(sizeof URI_PREFIX - 1 + b64);
    return true;
}

/* CPU time of the calling thread: what a render costs, whoever else runs. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *renderer_main(void *arg)
{
    (void)arg;
    cairo_surface_t *a = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_surface_t *b = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    static captcha_ready_t next; /* this thread only */
    bool have = false;
    unsigned too_large = 0;
    for (;;) {
        if (!have) {
            uint64_t t0 = thread_cpu_ns();
            have = render(&next, a, b, NULL);
            atomic_fetch_add(&ready.render_ns, thread_cpu_ns() - t0);
            if (!have) {
                if (too_large++ == 0)
                    CET_WARN("captcha: a challenge image exceeded " CET_STR(
                        CET_CAPTCHA_PNG_BYTES_MAX) " bytes; rendering again");
                continue;
            }
            atomic_fetch_add(&ready.rendered, 1);
        }
        pthread_mutex_lock(&ready.mu);
        while (ready.len == CET_CAPTCHA_READY_MAX && !ready.stop)
            pthread_cond_wait(&ready.wake, &ready.mu);
        if (ready.stop) {
            pthread_mutex_unlock(&ready.mu);
            break;
        }
        unsigned at = (ready.head + ready.len) % CET_CAPTCHA_READY_MAX;
        memcpy(&ready.ring[at], &next, offsetof(captcha_ready_t, uri) + next.uri_len);
        ready.len++;
        pthread_mutex_unlock(&ready.mu);
        have = false;
    }
    cairo_surface_destroy(a);
    cairo_surface_destroy(b);
    return NULL;
}

static int start_locked(void)
{
    n_faces = glyphs_build();
    if (n_faces == 0) {
        CET_ERROR("captcha: no font draws the alphabet (install fonts-dejavu-core)");
        return CET_FAILED;
    }
    cairo_surface_t *a = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_surface_t *b = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    int ink = 0;
    captcha_ready_t *probe = cet_malloc(sizeof *probe);
    bool ok = render(probe, a, b, &ink) && ink >= GLYPH_INK_MIN_PX;
    cet_free(probe);
    for (unsigned i = 0; ok && i < CET_CAPTCHA_PREFILL_MAX; i++) {
        uint64_t t0 = thread_cpu_ns();
        if (!render(&ready.ring[ready.len], a, b, NULL)) continue;
        atomic_fetch_add(&ready.render_ns, thread_cpu_ns() - t0);
        atomic_fetch_add(&ready.rendered, 1);
        ready.len++;
    }
    cairo_surface_destroy(a);
    cairo_surface_destroy(b);
    if (!ok) {
        CET_ERROR("captcha: the self-test render shows no glyphs (%d dark pixels)", ink);
        glyphs_free();
        return CET_FAILED;
    }
    int rc = pthread_create(&ready.thread, NULL, renderer_main, NULL);
    if (rc) {
        CET_ERROR("captcha: cannot start the renderer thread: %s", strerror(rc));
        glyphs_free();
        return CET_FAILED;
    }
    return 0;
}

/* Starts once; ready.mu held. Later calls return the first outcome. */
static int ensure_started_locked(void)
{
    if (!ready.started) {
        ready.started = true;
        ready.stop = false;
        ready.head = ready.len = 0;
        ready.start_rc = start_locked();
    }
    return ready.start_rc;
}

int net_captcha_start(void)
{
    pthread_once(&table_once, table_init);
    pthread_mutex_lock(&ready.mu);
    int rc = ensure_started_locked();
    pthread_mutex_unlock(&ready.mu);
    return rc;
}

void net_captcha_stop(void)
{
    pthread_mutex_lock(&ready.mu);
    bool running = ready.started && ready.start_rc == 0;
    ready.stop = true;
    pthread_cond_broadcast(&ready.wake);
    pthread_mutex_unlock(&ready.mu);
    if (running) pthread_join(ready.thread, NULL);
    pthread_mutex_lock(&ready.mu);
    if (running) glyphs_free();
    ready.started = false;
    ready.len = 0;
    pthread_mutex_unlock(&ready.mu);
    net_captcha_set_answer_log(NULL);
}

void net_captcha_render_stats(uint64_t *rendered, uint64_t *render_ns)
{
    *rendered = atomic_load(&ready.rendered);
    *render_ns = atomic_load(&ready.render_ns);
}

unsigned net_captcha_ready(void)
{
    pthread_mutex_lock(&ready.mu);
    unsigned n = ready.len;
    pthread_mutex_unlock(&ready.mu);
    return n;
}

/* Takes the oldest rendered challenge: its answer into answer, its data URI
 * into a new *uri (cet_free). False when none is ready. */
static bool ready_take(char answer[CET_CAPTCHA_CHARS], char **uri)
{
    pthread_mutex_lock(&ready.mu);
    bool got = ensure_started_locked() == 0 && ready.len > 0;
    if (got) {
        captcha_ready_t *r = &ready.ring[ready.head];
        *uri = cet_malloc(r->uri_len);
        memcpy(*uri, r->uri, r->uri_len);
        memcpy(answer, r->answer, CET_CAPTCHA_CHARS);
        sodium_memzero(r->answer, CET_CAPTCHA_CHARS);
        ready.head = (ready.head + 1) % CET_CAPTCHA_READY_MAX;
        ready.len--;
        pthread_cond_signal(&ready.wake);
    }
    pthread_mutex_unlock(&ready.mu);
    return got;
}

int net_captcha_set_answer_log(const char *path)
{
    FILE *f = NULL;
    if (path && !(f = fopen(path, "a"))) return errno;
    pthread_mutex_lock(&log_mu);
    if (answer_log) fclose(answer_log);
    answer_log = f;
    pthread_mutex_unlock(&log_mu);
    return 0;
}

static void answer_log_write(const char *id, const char *answer)
{
    pthread_mutex_lock(&log_mu);
    if (answer_log) {
        fprintf(answer_log, "%s %.*s\n", id, CET_CAPTCHA_CHARS, answer);
        fflush(answer_log);
    }
    pthread_mutex_unlock(&log_mu);
}

/* Puts answer into the table for client under a fresh id (hex into id_out). */
static cet_err_t issue(const char *client, const char answer[CET_CAPTCHA_CHARS], char id_out[33])
{
    uint64_t owner = owner_of(client);
    int64_t now = now_ms();
    uint8_t id[16];
    for (unsigned probe = 0; probe < CET_CAPTCHA_PROBES_MAX; probe++) {
        randombytes_buf(id, sizeof id);
        if (table_put(id, answer, owner, now)) {
            cet_hex(id_out, id, sizeof id);
            answer_log_write(id_out, answer);
            return CET_E_OK;
        }
    }
    return CET_E_OVERLOADED;
}

cet_err_t net_captcha_new(const char *client, char id_out[33], char **data_uri_out)
{
    pthread_once(&table_once, table_init);
    *data_uri_out = NULL;
    id_out[0] = 0;
    char answer[CET_CAPTCHA_CHARS], *uri;
    if (!ready_take(answer, &uri)) return CET_E_OVERLOADED;
    cet_err_t e = issue(client, answer, id_out);
    sodium_memzero(answer, sizeof answer);
    if (e) {
        cet_free(uri);
        return e;
    }
    *data_uri_out = uri;
    return CET_E_OK;
}

cet_err_t net_captcha_new_bare(const char *client, char id_out[33])
{
    pthread_once(&table_once, table_init);
    char answer[CET_CAPTCHA_CHARS];
    for (int i = 0; i < CET_CAPTCHA_CHARS; i++)
        answer[i] = alphabet[randombytes_uniform(ALPHABET_N)];
    id_out[0] = 0;
    return issue(client, answer, id_out);
}

bool net_captcha_check(const char *id, const char *answer)
{
    pthread_once(&table_once, table_init);
    char want[CET_CAPTCHA_CHARS];
    bool live = table_take(id, want, true);
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
    sodium_memzero(want, sizeof want);
    return diff == 0;
}

bool net_captcha_peek(const char *id, char *out)
{
    pthread_once(&table_once, table_init);
    char a[CET_CAPTCHA_CHARS];
    if (!table_take(id, a, false)) return false;
    memcpy(out, a, CET_CAPTCHA_CHARS);
    out[CET_CAPTCHA_CHARS] = 0;
    return true;
}
