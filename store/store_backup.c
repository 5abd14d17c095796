/*
 * store_backup.c: online backups of a data directory and their restore
 * (cetctl backup, cetctl restore; docs/operations.md, "Backups").
 *
 * LMDB makes the snapshot consistent: mdb_env_copyfd2 copies what one read
 * txn sees, compacted, while the owner goes on writing (its reader slot keeps
 * the owner from reusing those pages meanwhile). Everything else here is
 * file-system care: a temporary name beside the target, the source's mode
 * and owner given before a byte is written, fsync of the file, a check that
 * the copy reads back as an environment of this schema, rename, fsync of the
 * directory. A crash at any point leaves the target either as it was or
 * complete, plus at worst a temporary file with a dotted name.
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cet_base.h"
#include "store/store_internal.h"

#define PATH_BYTES 4200 /* a directory (store_t.dir: 4096) and a file name */

/* ---- small file-system helpers (0 or errno) ---- */

static int path_join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_BYTES, "%s/%s", dir, name);
    return n < 0 || n >= PATH_BYTES ? STORE_BADARG : 0;
}

/* *exists, and *empty (no entry but "." and ".."; ignore, if not NULL, counts as absent). */
static int dir_look(const char *path, const char *ignore, bool *exists, bool *empty)
{
    struct stat sb;
    *exists = *empty = false;
    if (stat(path, &sb) != 0) return errno == ENOENT ? 0 : errno;
    *exists = true;
    if (!S_ISDIR(sb.st_mode)) return ENOTDIR;
    DIR *d = opendir(path);
    if (!d) return errno;
    *empty = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (ignore && !strcmp(e->d_name, ignore)) continue;
        *empty = false;
        break;
    }
    closedir(d);
    return 0;
}

/* fsync of the directory that holds path (a new entry in it must last too). */
static int fsync_parent(const char *path)
{
    char parent[PATH_BYTES];
    cet_strlcpy(parent, path, sizeof parent);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = 0; /* "out/" names out */
    char *slash = strrchr(parent, '/');
    if (!slash) return store_fsync_dir(".");
    if (slash == parent) slash[1] = 0; /* "/x": the root */
    else *slash = 0;
    return store_fsync_dir(parent);
}

/*
 * Gives fd the owner (when it differs: EPERM unless root or the owner) and
 * then the permission bits of like. The mode comes last: chown may clear bits.
 */
static int fd_like(int fd, const struct stat *like)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) return errno;
    if ((sb.st_uid != like->st_uid || sb.st_gid != like->st_gid) &&
        fchown(fd, sb.st_uid != like->st_uid ? like->st_uid : (uid_t)-1,
               sb.st_gid != like->st_gid ? like->st_gid : (gid_t)-1) != 0)
        return errno;
    return fchmod(fd, like->st_mode & 0777) == 0 ? 0 : errno;
}

/* Creates the directory path with the owner and mode of like. */
static int dir_make_like(const char *path, const struct stat *like)
{
    if (mkdir(path, 0700) != 0) return errno;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? errno : fd_like(fd, like);
    if (fd >= 0) close(fd);
    if (rc) rmdir(path);
    return rc;
}

/* ---- LMDB ---- */

/*
 * Opens the environment file `file` read-only without a lock file (nobody
 * writes a backup or a temporary copy) and checks that it is one of this
 * schema, or of the one a writing open upgrades in place (a backup made before
 * the upgrade restores, upgraded: store_restore). 0 and *version (when not
 * NULL), STORE_CORRUPT (another schema version), MDB_INVALID (not LMDB) or
 * another LMDB code / errno.
 */
static int env_probe(const char *file, uint64_t *version)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc) return rc;
    mdb_env_set_maxdbs(env, CET_DBS_MAX);
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    MDB_val k = {sizeof "schema_version" - 1, (void *)"schema_version"}, v;
    if ((rc = mdb_env_open(env, file, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0)) == 0 &&
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0 &&
        (rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0 && (rc = mdb_get(txn, meta, &k, &v)) == 0) {
        uint64_t ver = v.mv_size == 8 ? store_rd64(v.mv_data) : 0;
        rc = ver == STORE_SCHEMA_VERSION || ver == STORE_SCHEMA_UPGRADES_FROM ? 0 : STORE_CORRUPT;
        if (!rc && version) *version = ver;
    }
    if (rc == MDB_NOTFOUND) rc = STORE_CORRUPT; /* no meta database or no schema version */
    if (txn) mdb_txn_abort(txn);
    mdb_env_close(env);
    return rc;
}

/* Writes a compacted snapshot of the environment in dir to fd (at offset 0). */
static int env_copy(const char *dir, int fd)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc) return rc;
    mdb_env_set_maxdbs(env, CET_DBS_MAX);
    mdb_env_set_maxreaders(env, CET_READERS_MAX);
    /* read-only: a reader slot in lock.mdb, no data-directory lock (the owner runs on) */
    rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0640);
    for (int attempt = 0; rc == 0; attempt++) {
        rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
        /* the owner grew the map past ours between open and snapshot: adopt it, redo */
        if (rc != MDB_MAP_RESIZED || attempt > 0) break;
        if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
            rc = errno;
            break;
        }
        rc = mdb_env_set_mapsize(env, 0);
    }
    mdb_env_close(env);
    return rc;
}

/* Copies the file at src into fd (read/write in CET_COPY_CHUNK_BYTES). */
static int file_copy(const char *src, int fd)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno;
    char *buf = cet_malloc(CET_COPY_CHUNK_BYTES);
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, CET_COPY_CHUNK_BYTES);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = n < 0 ? errno : 0;
            break;
        }
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(fd, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                rc = errno;
                goto out;
            }
            done += w;
        }
    }
out:
    cet_free(buf);
    close(in);
    return rc;
}

static uint64_t file_bytes(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* ---- backup ---- */

int store_backup(const char *dir, const char *out_dir, store_copy_info_t *info)
{
    char src[PATH_BYTES], tmp[PATH_BYTES], dst[PATH_BYTES];
    char tmp_name[64];
    snprintf(tmp_name, sizeof tmp_name, ".data.mdb.backup-%ld", (long)getpid());
    if (path_join(src, dir, "data.mdb") || path_join(tmp, out_dir, tmp_name) ||
        path_join(dst, out_dir, "data.mdb"))
        return STORE_BADARG;
    struct stat src_sb, dir_sb;
    if (stat(src, &src_sb) != 0 || stat(dir, &dir_sb) != 0) return errno;

    bool exists, empty, created = false;
    int rc = dir_look(out_dir, NULL, &exists, &empty);
    if (rc) return rc;
    if (exists && !empty) return ENOTEMPTY;
    if (!exists) {
        if ((rc = dir_make_like(out_dir, &dir_sb))) return rc;
        created = true;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno;
        goto fail;
    }
    /* owner and mode first: a backup is never readable by more than the data */
    if ((rc = fd_like(fd, &src_sb)) || (rc = env_copy(dir, fd))) goto fail_fd;
    if (fsync(fd) != 0) {
        rc = errno;
        goto fail_fd;
    }
    close(fd);
    fd = -1;
    if ((rc = env_probe(tmp, NULL))) goto fail;
    /* (dir's commit log and checkpoint stay: they are the live owner's; only a
     * restore forgets the ones of the data it replaces) */
    if (rename(tmp, dst) != 0) {
        rc = errno;
        goto fail;
    }
    if ((rc = store_fsync_dir(out_dir)) || (created && (rc = fsync_parent(out_dir)))) {
        unlink(dst);
        goto fail;
    }
    if (info) {
        info->bytes = file_bytes(dst);
        info->source_bytes = (uint64_t)src_sb.st_size;
    }
    return 0;
fail_fd:
    close(fd);
fail:
    unlink(tmp);
    if (created) rmdir(out_dir);
    return rc;
}

/* ---- restore ---- */

int store_restore(const char *backup, const char *dir, bool force, store_copy_info_t *info)
{
    char src[PATH_BYTES], src_dir[PATH_BYTES], tmp[PATH_BYTES], dst[PATH_BYTES], lock[PATH_BYTES];
    char tmp_name[64];
    snprintf(tmp_name, sizeof tmp_name, ".data.mdb.restore-%ld", (long)getpid());
    struct stat sb;
    if (strlen(backup) >= PATH_BYTES - sizeof "/data.mdb") return STORE_BADARG;
    if (stat(backup, &sb) != 0) return errno;
    if (S_ISDIR(sb.st_mode)) { /* a backup directory, or the data.mdb in one */
        if (path_join(src, backup, "data.mdb")) return STORE_BADARG;
        cet_strlcpy(src_dir, backup, sizeof src_dir);
    } else {
        cet_strlcpy(src, backup, sizeof src);
        cet_strlcpy(src_dir, backup, sizeof src_dir);
        char *slash = strrchr(src_dir, '/');
        if (!slash) cet_strlcpy(src_dir, ".", sizeof src_dir);
        else if (slash == src_dir) slash[1] = 0;
        else *slash = 0;
    }
    if (path_join(tmp, dir, tmp_name) ||
        path_join(dst, dir, "data.mdb") || path_join(lock, dir, STORE_LOCK_FILE))
        return STORE_BADARG;
    struct stat src_sb, src_dir_sb;
    if (stat(src, &src_sb) != 0 || stat(src_dir, &src_dir_sb) != 0) return errno;
    uint64_t version = 0;
    int rc = env_probe(src, &version); /* a bad backup changes nothing in dir */
    if (rc) return rc;

    bool exists, empty, created = false;
    if ((rc = dir_look(dir, NULL, &exists, &empty))) return rc;
    if (exists && !empty && !force) return ENOTEMPTY;
    if (!exists) {
        if ((rc = dir_make_like(dir, &src_dir_sb))) return rc;
        created = true;
    }
    /* held from here to the end: no cetd starts on dir meanwhile */
    int lock_fd = -1, fd = -1;
    if ((rc = store_dir_lock(dir, "cetctl restore", &lock_fd))) goto fail;
    /* the next owner (cetd's user) must be able to open the lock file */
    if ((rc = fd_like(lock_fd, &src_sb))) goto fail;
    if (!force && ((rc = dir_look(dir, STORE_LOCK_FILE, &exists, &empty)) || !empty)) {
        rc = rc ? rc : ENOTEMPTY; /* something appeared between the look and the lock */
        goto fail;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno;
        goto fail;
    }
    if ((rc = fd_like(fd, &src_sb)) || (rc = file_copy(src, fd))) goto fail;
    if (fsync(fd) != 0) {
        rc = errno;
        goto fail;
    }
    close(fd);
    fd = -1;
    if ((rc = env_probe(tmp, NULL))) goto fail;
    /* the commit log and checkpoint of the data replaced belong to it, not to the backup */
    if ((rc = store_log_forget(dir))) goto fail;
    if (rename(tmp, dst) != 0) {
        rc = errno;
        goto fail;
    }
    /* the reader table of the data replaced; LMDB makes a new one at the next open */
    char lockmdb[PATH_BYTES];
    if (path_join(lockmdb, dir, "lock.mdb") == 0 && unlink(lockmdb) != 0 && errno != ENOENT)
        CET_WARN("store: cannot remove %s: %s", lockmdb, strerror(errno));
    /* in place now: a failed fsync is reported, but the data stays (it is the backup's) */
    if (!(rc = store_fsync_dir(dir)) && created) rc = fsync_parent(dir);
    if (info) {
        info->bytes = file_bytes(dst);
        info->source_bytes = (uint64_t)src_sb.st_size;
    }
    close(lock_fd);
    /* a backup of the schema a writing open upgrades: upgraded here, so what was
     * restored reads as this build's (cetctl restore checks it read-only next) */
    if (!rc && version == STORE_SCHEMA_UPGRADES_FROM) {
        store_options_t up = {.dir = dir, .sync = true, .owner = "cetctl restore"};
        store_t *st = NULL;
        if ((rc = store_open(&up, &st)) == 0) store_close(st);
    }
    return rc;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    if (created) unlink(lock);
    if (lock_fd >= 0) close(lock_fd);
    if (created) rmdir(dir);
    return rc;
}
