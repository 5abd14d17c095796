/*
 * cetctl_csv.c: school files in and out for cetctl, over base/cet_sheet.h.
 *
 * In: the whole file is read into memory and handed to the sheet reader,
 * which detects its encoding (UTF-8, BOM, GB18030, UTF-16), its separator
 * and whether it is an .xlsx; the buffer is never modified, so a txn that
 * LMDB makes us redo (map growth) rewinds the sheet and reads it again.
 * Out: a sheet writer whose sink is a FILE (stdout or --out).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "tools/cetctl.h"

int ctl_in_open(ctl_in_t *in, const char *path)
{
    memset(in, 0, sizeof *in);
    in->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cetctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size > CET_SHEET_FILE_BYTES_MAX) {
        fprintf(stderr, "cetctl: %s: cannot size the file or it is larger than %llu bytes\n", path,
                (unsigned long long)CET_SHEET_FILE_BYTES_MAX);
        fclose(f);
        return -1;
    }
    size_t n = (size_t)sb.st_size;
    in->buf = cet_malloc(n + 1);
    if (n && fread(in->buf, 1, n, f) != n) {
        fprintf(stderr, "cetctl: %s: read error\n", path);
        fclose(f);
        ctl_in_close(in);
        return -1;
    }
    fclose(f);
    in->buf[n] = 0;
    in->len = n;
    cet_sheet_problem_t why;
    if (cet_sheet_open(in->buf, in->len, &in->sheet, &why) != 0) {
        fprintf(stderr, "%s: %s\n", path, why.message);
        ctl_in_close(in);
        return -1;
    }
    cet_sheet_encoding_t enc = cet_sheet_encoding(in->sheet);
    char sep = cet_sheet_separator(in->sheet);
    fprintf(stderr, "%s: %s%s\n", path, cet_sheet_encoding_name(enc),
            enc == CET_SHEET_ENC_XLSX ? " workbook, first sheet"
            : sep == '\t'             ? ", tab-separated"
                                      : ", comma-separated");
    return 0;
}

void ctl_in_close(ctl_in_t *in)
{
    cet_sheet_free(in->sheet);
    cet_free(in->buf);
    in->sheet = NULL;
    in->buf = NULL;
}

static int file_sink_cb(void *arg, const void *data, size_t n)
{
    FILE *f = arg;
    if (fwrite(data, 1, n, f) != n) return errno ? errno : EIO;
    return 0;
}

int ctl_out_open(ctl_out_t *o, cet_sheet_format_t fmt, const cet_sheet_schema_t *sc,
                 const char *path)
{
    memset(o, 0, sizeof *o);
    if (!path || strcmp(path, "-") == 0) {
        if (fmt == CET_SHEET_FMT_XLSX && isatty(STDOUT_FILENO)) {
            fprintf(stderr, "cetctl: an .xlsx is not for a terminal: give --out FILE.xlsx\n");
            return -1;
        }
        o->f = stdout;
        o->path = "-";
    } else {
        o->f = fopen(path, "wb");
        if (!o->f) {
            fprintf(stderr, "cetctl: %s: %s\n", path, strerror(errno));
            return -1;
        }
        o->path = path;
    }
    int rc = cet_sheet_writer_open(fmt, sc, NULL, file_sink_cb, o->f, &o->w);
    if (rc) {
        fprintf(stderr, "cetctl: cannot start the %s file: %s\n", sc->kind, strerror(rc));
        ctl_out_abort(o);
        return -1;
    }
    return 0;
}

int ctl_out_close(ctl_out_t *o)
{
    int rc = cet_sheet_writer_finish(o->w);
    o->w = NULL;
    if (fflush(o->f) != 0 || ferror(o->f)) rc = rc ? rc : (errno ? errno : EIO);
    if (o->f != stdout && fclose(o->f) != 0 && !rc) rc = errno ? errno : EIO;
    o->f = NULL;
    if (rc) {
        fprintf(stderr, "cetctl: write error on %s: %s\n",
                strcmp(o->path, "-") ? o->path : "stdout", strerror(rc));
        if (strcmp(o->path, "-")) unlink(o->path);
        return -1;
    }
    return 0;
}

void ctl_out_abort(ctl_out_t *o)
{
    cet_sheet_writer_free(o->w);
    o->w = NULL;
    if (o->f && o->f != stdout) {
        fclose(o->f);
        unlink(o->path);
    }
    o->f = NULL;
}
