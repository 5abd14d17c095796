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
#include "tests/fuzz/fuzz_replay.h"

static cet_err_t expected(const char *name)
{
    if (strncmp(name, "ok-", 3) == 0) return CET_E_OK;
    if (strncmp(name, "utf8-", 5) == 0) return CET_E_INVALID_UTF8;
    if (strncmp(name, "unknown-", 8) == 0) return CET_E_UNKNOWN_FIELD;
    if (strncmp(name, "bad-", 4) == 0) return CET_E_MALFORMED_JSON;
    return CET_E__END; /* found by the fuzzer: only must not crash */
}

static int replay_one(const char *name, const uint8_t *data, size_t size)
{
    cet_err_t e = decode_one(data, size), want = expected(name);
    if (want != CET_E__END && e != want) {
        fprintf(stderr, "%s: got %s, want %s\n", name, cet_err_code(e), cet_err_code(want));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    return fuzz_replay_main(argc, argv, "fuzz_json", replay_one);
}
#endif
