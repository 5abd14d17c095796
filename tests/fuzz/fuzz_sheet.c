/*
 * fuzz_sheet.c: libFuzzer driver for the school file reader (base/cet_sheet*):
 * encoding and separator detection, GB18030/UTF-16 conversion, RFC 4180
 * records, the .xlsx reader (libzip + expat), header mapping and row values.
 *
 * Each input is opened as a file and read against the roster and the scores
 * schemas. Properties that hold for any input: every problem has a sheet
 * code and a message; every field of every row is valid UTF-8 without NUL
 * and within the row limit; a row has at most CET_SHEET_FIELDS_MAX fields;
 * reading again after a rewind gives the same rows and problems (the reader
 * never modifies its input); nothing reads past the input (ASan).
 * Built like fuzz_json.c: a libFuzzer target with CET_FUZZ, a corpus replay
 * otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cet_base.h"
#include "base/cet_sheet.h"

static bool is_sheet_code(cet_err_t e)
{
    return e >= CET_E_SHEET_UNREADABLE && e <= CET_E_SHEET_EXCEL_NUMBER;
}

static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        if (!len) return false;
        for (int k = 1; k < len; k++)
            if ((p[k] & 0xc0) != 0x80) return false;
        p += len;
    }
    return true;
}

/* Reads every row; returns a digest of what was read (rows, problems, lines, bytes). */
static uint64_t read_pass(cet_sheet_t *s, const cet_sheet_schema_t *sc)
{
    uint64_t h = 1469598103934665603ULL;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ULL)
    cet_sheet_rewind(s);
    cet_sheet_map_t map;
    cet_sheet_problem_t probs[4], why;
    int np = 0;
    int rc = cet_sheet_header(s, sc, &map, probs, 4, &np);
    if (rc) {
        if (np < 1) abort();
        for (int i = 0; i < np && i < 4; i++)
            if (!is_sheet_code(probs[i].code) || !probs[i].message[0]) abort();
        MIX(np);
        return h;
    }
    cet_sheet_row_t row;
    const char *vals[CET_SHEET_FIELDS_MAX];
    int rows = 0;
    while ((rc = cet_sheet_next(s, &row, &why)) != 0) {
        if (++rows > 100000) abort(); /* a 4 KB input cannot hold that many rows */
        if (rc == 1) {
            if (row.nfields < 1 || row.nfields > CET_SHEET_FIELDS_MAX) abort();
            size_t total = 0;
            for (int i = 0; i < row.nfields; i++) {
                if (!utf8_ok(row.fields[i])) abort();
                total += strlen(row.fields[i]);
                MIX(strlen(row.fields[i]));
            }
            if (total > CET_SHEET_ROW_BYTES_MAX) abort();
            MIX(row.line);
            rc = cet_sheet_values(s, &map, &row, vals, &why);
            if (rc == 0)
                for (int i = 0; i < sc->ncols; i++)
                    if (!vals[i] || !utf8_ok(vals[i])) abort();
        }
        if (rc < 0) {
            if (!is_sheet_code(why.code) || !why.message[0]) abort();
            MIX(why.code);
            MIX(why.line);
        }
    }
#undef MIX
    return h;
}

static void check_one(const uint8_t *data, size_t size)
{
    cet_sheet_t *s;
    cet_sheet_problem_t why;
    if (cet_sheet_open(data, size, &s, &why) != 0) {
        if (!is_sheet_code(why.code) || !why.message[0]) abort();
        return;
    }
    const cet_sheet_schema_t *schemas[] = {&cet_sheet_roster, &cet_sheet_scores};
    for (int k = 0; k < 2; k++) {
        uint64_t a = read_pass(s, schemas[k]), b = read_pass(s, schemas[k]);
        if (a != b) abort(); /* a rewound sheet reads the same */
    }
    cet_sheet_free(s);
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
    return fuzz_replay_main(argc, argv, "fuzz_sheet", replay_one);
}
#endif
