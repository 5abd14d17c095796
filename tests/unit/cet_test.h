/*
 * cet_test.h: the few macros the C unit tests share. A failed CHECK prints
 * where and what, the test goes on, and the program exits non-zero.
 */
#ifndef CET_TEST_H
#define CET_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cet_test_failures;
static int cet_test_checks;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        cet_test_checks++;                                                                \
        if (!(cond)) {                                                                    \
            cet_test_failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
        }                                                                                 \
    } while (0)

#define CHECK_EQ(a, b)                                                                    \
    do {                                                                                  \
        long long a_ = (long long)(a), b_ = (long long)(b);                               \
        cet_test_checks++;                                                                \
        if (a_ != b_) {                                                                   \
            cet_test_failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__, \
                    __LINE__, #a, a_, #b, b_);                                            \
        }                                                                                 \
    } while (0)

/* A fresh temporary directory for an LMDB environment. */
static inline char *cet_test_tmpdir(void)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/cet-test-XXXXXX");
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(2);
    }
    return path;
}

static inline void cet_test_rmdir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static inline int cet_test_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, cet_test_checks, cet_test_failures);
    return cet_test_failures ? 1 : 0;
}

#endif
