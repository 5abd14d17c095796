/*
 * cetctl_backup.c: `cetctl backup` (a consistent online copy of a data
 * directory, beside a running cetd) and `cetctl restore` (a backup into a
 * directory no process holds, then the invariant check of `cetctl check`).
 * The store does the work (store_backup, store_restore in store/store.h);
 * this file parses, says in one line why it refuses, and reports.
 */
#include "tools/cetctl.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cet_base.h"

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* "mode 0640, owner 105:112" of path, for the report. */
static void describe(const char *path, char *out, size_t cap)
{
    struct stat sb;
    if (stat(path, &sb) == 0)
        snprintf(out, cap, "mode %04o, owner %ld:%ld", (unsigned)(sb.st_mode & 07777),
                 (long)sb.st_uid, (long)sb.st_gid);
    else
        snprintf(out, cap, "not found");
}

int ctl_cmd_backup(int argc, char **argv)
{
    const char *data = NULL;
    const ctl_opt_t opts[] = {{"--data", &data, NULL}, {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos != 1 ||
        !data) {
        fprintf(stderr, "usage: cetctl backup --data DIR OUT\n");
        return CTL_EXIT_USAGE;
    }
    const char *out = pos[0];
    store_copy_info_t info;
    uint64_t t0 = cet_mono_ns();
    int rc = store_backup(data, out, &info);
    double secs = (double)(cet_mono_ns() - t0) / 1e9;
    switch (rc) {
    case 0:
        break;
    case ENOTEMPTY:
    case ENOTDIR:
        fprintf(stderr, "cetctl backup: %s exists and is not an empty directory: refusing to "
                        "write a backup there\n", out);
        return CTL_EXIT_USAGE;
    case ENOENT:
        fprintf(stderr, "cetctl backup: %s: no data (no data.mdb)\n", data);
        return CTL_EXIT_USAGE;
    case EPERM:
        fprintf(stderr, "cetctl backup: cannot give the backup the owner of %s/data.mdb: run "
                        "as root or as that owner\n", data);
        return CTL_EXIT_USAGE;
    default:
        fprintf(stderr, "cetctl backup: %s -> %s: %s\n", data, out, store_strerror(rc));
        return CTL_EXIT_USAGE;
    }
    char path[4200], how[96];
    snprintf(path, sizeof path, "%s/data.mdb", out);
    describe(path, how, sizeof how);
    printf("backup: %s -> %s: %.1f MiB (the data %.1f MiB, compacted), %s, in %.2f s\n", data,
           path, mib(info.bytes), mib(info.source_bytes), how, secs);
    return CTL_EXIT_OK;
}

int ctl_cmd_restore(int argc, char **argv)
{
    const char *data = NULL;
    bool force = false;
    const ctl_opt_t opts[] = {{"--data", &data, NULL}, {"--force", NULL, &force},
                              {NULL, NULL, NULL}};
    const char *pos[CTL_POSITIONAL_MAX];
    int npos;
    if (ctl_args_parse(argc, argv, opts, pos, CTL_POSITIONAL_MAX, &npos) != 0 || npos != 1 ||
        !data) {
        fprintf(stderr, "usage: cetctl restore --data DIR [--force] BACKUP\n");
        return CTL_EXIT_USAGE;
    }
    const char *backup = pos[0];
    store_copy_info_t info;
    int rc = store_restore(backup, data, force, &info);
    if (rc == STORE_LOCKED) {
        pid_t pid = 0;
        char who[64] = "another process";
        if (store_dir_holder(data, &pid, who, sizeof who) == 0)
            fprintf(stderr, "cetctl restore: %s is held by %s (pid %ld): refusing to restore "
                            "onto a directory in use; stop it first\n", data, who, (long)pid);
        else
            fprintf(stderr, "cetctl restore: %s is held by another process: refusing to restore "
                            "onto a directory in use; stop it first\n", data);
        return CTL_EXIT_USAGE;
    }
    switch (rc) {
    case 0:
        break;
    case ENOTEMPTY:
        fprintf(stderr, "cetctl restore: %s is not empty: restore into a new or empty "
                        "directory, or give --force to replace its data\n", data);
        return CTL_EXIT_USAGE;
    case ENOENT:
        fprintf(stderr, "cetctl restore: %s: no backup there (no data.mdb)\n", backup);
        return CTL_EXIT_USAGE;
    case EPERM:
        fprintf(stderr, "cetctl restore: cannot give %s the owner of the backup: run as root or "
                        "as that owner\n", data);
        return CTL_EXIT_USAGE;
    default:
        fprintf(stderr, "cetctl restore: %s -> %s: %s\n", backup, data, store_strerror(rc));
        return CTL_EXIT_USAGE;
    }
    char path[4200], how[96];
    snprintf(path, sizeof path, "%s/data.mdb", data);
    describe(path, how, sizeof how);
    printf("restore: %s -> %s: %.1f MiB, %s; checking it\n", backup, path, mib(info.bytes), how);
    fflush(stdout);
    /* the same checks as `cetctl check --data DIR`, and its exit code */
    char opt_data[] = "--data";
    char *check_argv[] = {opt_data, (char *)data};
    return ctl_cmd_check(2, check_argv);
}
