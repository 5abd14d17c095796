/*
 * net_pwhash_arena.c: one argon2id memory per pool worker, made at start.
 *
 * libsodium's argon2id takes its CET_PWHASH_MEM_BYTES (19 MiB) with
 * mmap(MAP_POPULATE) and hands it back with munmap on every hash and every
 * verification. On the 2-core VM of docs/benchmarks.md that kernel work
 * (4864 page faults, memcg and LRU bookkeeping, the unmap and its TLB
 * shootdown) took as much CPU as argon2id itself (perf of cetd under the
 * login scenario: 49 % kernel, 49 % libsodium), halving logins/s.
 * libsodium has no way to be handed memory, so cetd defines mmap and munmap
 * itself (an executable's definitions come before libc's, for every library):
 *
 * - on a thread that attached an arena (the pool workers, net_pool.c), the
 *   one call libsodium makes (no address, CET_PWHASH_MEM_BYTES, read-write,
 *   private anonymous populated, no file) gets that thread's arena, and the
 *   munmap of the arena wipes it (nothing derived from a password outlives
 *   its hash) instead of unmapping;
 * - every other call, and every call on any other thread, goes to the kernel
 *   through syscall(2), as libc's functions do.
 *
 * A libsodium that allocates otherwise matches nothing: hashes take the
 * kernel path again, slower and never wrong (unit.net_pwhash_arena then
 * fails, so it is seen). Verifying an older, larger hash (64 MiB) takes the
 * kernel path too. Sanitizer builds keep libc's functions: the sanitizers
 * intercept mmap themselves.
 */
#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cet_limits.h"
#include "net/net_internal.h"

#define ARENA_PROT (PROT_READ | PROT_WRITE)
#define ARENA_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE)

static _Thread_local void *arena;  /* this thread's, or NULL */
static _Thread_local bool arena_lent; /* between libsodium's mmap and its munmap */
static _Atomic uint64_t arena_hits;

static void *kernel_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int kernel_munmap(void *addr, size_t len)
{
    return (int)syscall(SYS_munmap, addr, len);
}

#ifndef CET_SANITIZE
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (arena && !arena_lent && !addr && len == CET_PWHASH_MEM_BYTES && prot == ARENA_PROT &&
        flags == ARENA_FLAGS && fd == -1 && off == 0) {
        arena_lent = true;
        atomic_fetch_add_explicit(&arena_hits, 1, memory_order_relaxed);
        return arena;
    }
    return kernel_mmap(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
    if (arena && addr == arena && arena_lent && len == CET_PWHASH_MEM_BYTES) {
        sodium_memzero(arena, CET_PWHASH_MEM_BYTES);
        arena_lent = false;
        return 0;
    }
    return kernel_munmap(addr, len);
}
#endif

int net_pwhash_arena_attach(void)
{
    if (arena) return 0;
    void *p = kernel_mmap(NULL, CET_PWHASH_MEM_BYTES, ARENA_PROT, ARENA_FLAGS, -1, 0);
    if (p == MAP_FAILED) return errno;
    (void)madvise(p, CET_PWHASH_MEM_BYTES, MADV_DONTDUMP); /* never in a core file */
    arena = p;
    arena_lent = false;
    return 0;
}

void net_pwhash_arena_detach(void)
{
    if (!arena || arena_lent) return; /* lent: libsodium's munmap comes first */
    kernel_munmap(arena, CET_PWHASH_MEM_BYTES);
    arena = NULL;
}

uint64_t net_pwhash_arena_hits(void)
{
    return atomic_load_explicit(&arena_hits, memory_order_relaxed);
}
