/*
 * fuzz_replay.h: the corpus replay that stands in for libFuzzer in ordinary
 * builds. Each driver defines its check and includes this with
 * CET_FUZZ_REPLAY; main() feeds it every file of the corpus directory.
 */
#ifndef FUZZ_REPLAY_H
#define FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>

/** Checks one corpus file; returns 0 when it behaved as its name says. */
typedef int (*fuzz_replay_cb)(const char *name, const uint8_t *data, size_t size);

static int fuzz_replay_main(int argc, char **argv, const char *driver, fuzz_replay_cb one)
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
        files++;
        failed += one(de->d_name, buf, n) != 0;
    }
    closedir(d);
    printf("%s replay: %d files, %d failed\n", driver, files, failed);
    return failed || files == 0 ? 1 : 0;
}

#endif
