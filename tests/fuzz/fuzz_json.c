/*
 * fuzz_json.c: libFuzzer driver for net_json_decode, the strict decoder
 * behind every request body.
 *
 * Built two ways. With CET_FUZZ (clang -fsanitize=fuzzer) it is a libFuzzer
 * target. Otherwise (CET_FUZZ_REPLAY) a small main() replays the committed
 * corpus, so the corpus is a regular test: files named ok-*, bad-*, utf8-*
 * and unknown-* must decode to OK, malformed_json, invalid_utf8 and
 * unknown_field respectively.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

static const char *const allowed[] = {"email",    "password",  "captcha_id", "captcha_answer",
                                      "subjects", "confirmed", "n",          NULL};

/* Decodes data and checks what must hold whatever the input. */
static cet_err_t decode_one(const uint8_t *data, size_t size)
{
    json_t *out = (json_t *)1;
    const char *field = (const char *)1;
    cet_err_t e = net_json_decode((const char *)data, size, allowed, &out, &field);
    if (e == CET_E_OK) {
        if (!json_is_object(out) || field) abort();
        const char *k;
        json_t *v;
        json_object_foreach(out, k, v)
        {
            int ok = 0;
            for (const char *const *a = allowed; *a; a++)
                ok |= strcmp(*a, k) == 0;
            if (!ok) abort();
            (void)v;
        }
        char *text = json_dumps(out, JSON_COMPACT);
        if (!text) abort();
        free(text);
        json_decref(out);
    } else {
        if (out != NULL) abort();
        if (e == CET_E_UNKNOWN_FIELD ? field == NULL : field != NULL) abort();
        if (e != CET_E_MALFORMED_JSON && e != CET_E_INVALID_UTF8 && e != CET_E_UNKNOWN_FIELD)
            abort();
    }
    return e;
}

#ifndef CET_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_one(data, size);
    return 0;
}
#else
static cet_err_t expected(const char *name)
{
    if (strncmp(name, "ok-", 3) == 0) return CET_E_OK;
    if (strncmp(name, "utf8-", 5) == 0) return CET_E_INVALID_UTF8;
    if (strncmp(name, "unknown-", 8) == 0) return CET_E_UNKNOWN_FIELD;
    if (strncmp(name, "bad-", 4) == 0) return CET_E_MALFORMED_JSON;
    return CET_E__COUNT; /* found by the fuzzer: only must not crash */
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 2;
    }
    int files = 0, failed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        cet_err_t e = decode_one(buf, n), want = expected(de->d_name);
        files++;
        if (want != CET_E__COUNT && e != want) {
            fprintf(stderr, "%s: got %s, want %s\n", de->d_name, cet_err_code(e),
                    cet_err_code(want));
            failed++;
        }
    }
    closedir(d);
    printf("fuzz_json replay: %d files, %d failed\n", files, failed);
    return failed || files == 0 ? 1 : 0;
}
#endif
