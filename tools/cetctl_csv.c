/*
 * cetctl_csv.c: RFC 4180 CSV in and out for cetctl.
 *
 * The reader loads the whole file and never modifies it: each record's
 * fields are unquoted into a scratch buffer, so a txn that LMDB makes us redo
 * (map growth) can simply rewind and read again. Line numbers are physical
 * lines, so an error points where an editor shows it.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cet_base.h"
#include "tools/cetctl.h"

int ctl_csv_open(ctl_csv_t *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cetctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size > CTL_CSV_FILE_BYTES_MAX) {
        fprintf(stderr, "cetctl: %s: cannot size the file or it is too large\n", path);
        fclose(f);
        return -1;
    }
    size_t n = (size_t)sb.st_size;
    c->buf = cet_malloc(n + 1);
    if (n && fread(c->buf, 1, n, f) != n) {
        fprintf(stderr, "cetctl: %s: read error\n", path);
        fclose(f);
        cet_free(c->buf);
        c->buf = NULL;
        return -1;
    }
    fclose(f);
    c->buf[n] = 0;
    c->len = n;
    c->scratch = cet_malloc(CTL_CSV_RECORD_BYTES_MAX);
    ctl_csv_rewind(c);
    return 0;
}

void ctl_csv_close(ctl_csv_t *c)
{
    cet_free(c->buf);
    cet_free(c->scratch);
    c->buf = c->scratch = NULL;
}

void ctl_csv_rewind(ctl_csv_t *c)
{
    c->pos = 0;
    if (c->len >= 3 && memcmp(c->buf, "\xef\xbb\xbf", 3) == 0) c->pos = 3; /* UTF-8 BOM */
    c->line = 1;
    c->rec_line = 0;
    c->nfields = 0;
}

/* Skips the rest of a malformed record's line and reports why. */
static int csv_fail(ctl_csv_t *c, const char *p, const char *why)
{
    const char *end = c->buf + c->len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    c->pos = nl ? (size_t)(nl + 1 - c->buf) : c->len;
    c->line++;
    snprintf(c->err, sizeof c->err, "%s", why);
    return -1;
}

int ctl_csv_next(ctl_csv_t *c)
{
    const char *end = c->buf + c->len;
    /* blank lines between records are skipped */
    while (c->pos < c->len) {
        const char *p = c->buf + c->pos;
        if (*p == '\n') {
            c->pos++, c->line++;
        } else if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            c->pos += 2, c->line++;
        } else {
            break;
        }
    }
    if (c->pos >= c->len) return 0;
    c->rec_line = c->line;
    c->nfields = 0;
    char *w = c->scratch, *wend = c->scratch + CTL_CSV_RECORD_BYTES_MAX - 1;
    const char *p = c->buf + c->pos;
    for (;;) {
        if (c->nfields == CTL_CSV_FIELDS_MAX) return csv_fail(c, p, "too many fields");
        c->fields[c->nfields++] = w;
        if (p < end && *p == '"') {
            p++;
            for (;;) {
                if (p >= end) return csv_fail(c, p, "unterminated quoted field");
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        if (w >= wend) return csv_fail(c, p, "record too long");
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (*p == '\n') c->line++;
                if (w >= wend) return csv_fail(c, p, "record too long");
                *w++ = *p++;
            }
            if (p < end && *p != ',' && *p != '\n' && *p != '\r')
                return csv_fail(c, p, "text after a closing quote");
        } else {
            const char *s = p;
            while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
                if (*p == '"') return csv_fail(c, p, "a quote inside an unquoted field");
                p++;
            }
            size_t n = (size_t)(p - s);
            if (n > (size_t)(wend - w)) return csv_fail(c, p, "record too long");
            memcpy(w, s, n);
            w += n;
        }
        *w++ = 0;
        if (p >= end) break;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\r') p++;
        if (p < end && *p == '\n') p++;
        c->line++;
        break;
    }
    c->pos = (size_t)(p - c->buf);
    return 1;
}

int ctl_csv_header(ctl_csv_t *c, const char *const *cols, int n, const bool *required, int *idx)
{
    int r = ctl_csv_next(c);
    if (r <= 0) {
        fprintf(stderr, "%s:1: %s\n", c->path, r == 0 ? "empty file, a header row is needed" : c->err);
        return -1;
    }
    for (int i = 0; i < n; i++) idx[i] = -1;
    int bad = 0;
    for (int f = 0; f < c->nfields; f++) {
        const char *name = c->fields[f];
        int found = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(name, cols[i]) == 0) found = i;
        if (found < 0) {
            fprintf(stderr, "%s:%u: unknown column '%s'\n", c->path, c->rec_line, name);
            bad = 1;
        } else if (idx[found] >= 0) {
            fprintf(stderr, "%s:%u: column '%s' appears twice\n", c->path, c->rec_line, name);
            bad = 1;
        } else {
            idx[found] = f;
        }
    }
    for (int i = 0; i < n; i++) {
        if (idx[i] < 0 && (!required || required[i])) {
            fprintf(stderr, "%s:%u: missing column '%s'\n", c->path, c->rec_line, cols[i]);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* ---- writing ---- */
void ctl_out_init(ctl_out_t *o, FILE *f)
{
    o->f = f;
    o->first = true;
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
}

void ctl_out_str(ctl_out_t *o, const char *s)
{
    if (!o->first) putc(',', o->f);
    o->first = false;
    size_t n = strlen(s);
    bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    if (!quote && strpbrk(s, ",\"\r\n")) quote = true;
    if (!quote) {
        fwrite(s, 1, n, o->f);
        return;
    }
    putc('"', o->f);
    for (; *s; s++) {
        if (*s == '"') putc('"', o->f);
        putc(*s, o->f);
    }
    putc('"', o->f);
}

void ctl_out_u64(ctl_out_t *o, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    ctl_out_str(o, b);
}

void ctl_out_time(ctl_out_t *o, int64_t t)
{
    char b[26];
    ctl_out_str(o, t ? cet_time_format(t, b) : "");
}

void ctl_out_end(ctl_out_t *o)
{
    putc('\n', o->f);
    o->first = true;
}

void ctl_out_header(ctl_out_t *o, const char *const *cols, int n)
{
    for (int i = 0; i < n; i++) ctl_out_str(o, cols[i]);
    ctl_out_end(o);
}
