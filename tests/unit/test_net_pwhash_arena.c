/*
 * test_net_pwhash_arena.c: unit tests of net/net_pwhash_arena.c: with an
 * arena attached, libsodium's argon2id at today's costs runs in it (so the
 * libsodium in use still allocates the way the arena expects), hashes made
 * there verify anywhere, the arena is wiped after each use, and everything
 * else (another thread, other sizes, an older 64 MiB hash) takes the kernel's
 * mmap as before. Sanitizer builds keep libc's mmap: there nothing is lent.
 */
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>

#include "base/cet_token.h"
#include "net/net_internal.h"
#include "tests/unit/cet_test.h"

#ifdef CET_SANITIZE
#define LENT 0 /* libc's mmap: the arena is never used */
#else
#define LENT 1
#endif

static const char *const PW = "arena-Pass-2026";
static char made_elsewhere[CET_PWHASH_BYTES];

static void *other_thread(void *arg)
{
    (void)arg;
    uint64_t before = net_pwhash_arena_hits();
    CHECK_EQ(cet_pwhash_make(made_elsewhere, PW), 0);
    CHECK_EQ(net_pwhash_arena_hits(), before); /* no arena on this thread */
    return NULL;
}

int main(void)
{
    if (sodium_init() < 0) return 2;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, other_thread, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);

    CHECK_EQ(net_pwhash_arena_attach(), 0);
    CHECK_EQ(net_pwhash_arena_attach(), 0); /* once per thread: a second call keeps it */
    uint64_t h0 = net_pwhash_arena_hits();
    char h[CET_PWHASH_BYTES];
    CHECK_EQ(cet_pwhash_make(h, PW), 0);
    CHECK_EQ(net_pwhash_arena_hits(), h0 + LENT);
    CHECK(cet_pwhash_verify(h, PW));
    CHECK(!cet_pwhash_verify(h, "arena-Pass-2027"));
    CHECK(cet_pwhash_verify(made_elsewhere, PW)); /* made without the arena */
    CHECK_EQ(net_pwhash_arena_hits(), h0 + 4 * LENT);

    /* an older hash (64 MiB): the kernel's memory, and it verifies */
    char old[CET_PWHASH_BYTES];
    CHECK_EQ(crypto_pwhash_str(old, PW, strlen(PW), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE),
             0);
    CHECK(cet_pwhash_verify(old, PW));
    CHECK_EQ(net_pwhash_arena_hits(), h0 + 4 * LENT);

    /* other maps of the same size pass through (a file-less one without MAP_POPULATE) */
    void *p = mmap(NULL, CET_PWHASH_MEM_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK_EQ(munmap(p, CET_PWHASH_MEM_BYTES), 0);
    CHECK_EQ(net_pwhash_arena_hits(), h0 + 4 * LENT);

#ifndef CET_SANITIZE
    /* what the arena lends is wiped when it comes back */
    unsigned char *a = mmap(NULL, CET_PWHASH_MEM_BYTES, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    CHECK(a != MAP_FAILED);
    CHECK_EQ(net_pwhash_arena_hits(), h0 + 5);
    /* a second request while it is lent gets the kernel's memory */
    void *b = mmap(NULL, CET_PWHASH_MEM_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    CHECK(b != MAP_FAILED && b != a);
    CHECK_EQ(munmap(b, CET_PWHASH_MEM_BYTES), 0);
    memset(a, 0x5a, CET_PWHASH_MEM_BYTES);
    CHECK_EQ(munmap(a, CET_PWHASH_MEM_BYTES), 0);
    bool zero = true;
    for (size_t i = 0; i < CET_PWHASH_MEM_BYTES; i += 4093) zero = zero && a[i] == 0;
    CHECK(zero);
#endif
    net_pwhash_arena_detach();
    CHECK_EQ(cet_pwhash_make(h, PW), 0);
    CHECK_EQ(net_pwhash_arena_hits(), h0 + 5 * LENT);
    return cet_test_done("test_net_pwhash_arena");
}
