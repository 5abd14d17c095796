/*
 * cet_token.h: bearer tokens, account ids and password hashes.
 *
 * A token is 64 lower-case hex digits of CET_TOKEN_BYTES random bytes from
 * libsodium; the session database is keyed by SHA-256 of those raw bytes, so
 * a copy of the database does not hand out live tokens. cetctl bench-prep
 * makes sessions the same way.
 *
 * A password hash is libsodium's argon2id string (crypto_pwhash_str, at most
 * CET_PWHASH_BYTES with its NUL): the costs it was made with are part of the
 * string, so a hash made with other costs than CET_PWHASH_OPS /
 * CET_PWHASH_MEM_BYTES still verifies, and cet_pwhash_stale tells it is due
 * to be made again (cetd does at the next login). Making or verifying one
 * takes milliseconds and CET_PWHASH_MEM_BYTES of memory: cetd runs them on its
 * worker pool, never on a core loop. Any thread may call them.
 */
#ifndef CET_TOKEN_H
#define CET_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/cet_limits.h"

#define CET_TOKEN_CHARS (2 * CET_TOKEN_BYTES)

/** New random token text (NUL-terminated) and its session key. */
void cet_token_new(char text[CET_TOKEN_CHARS + 1], uint8_t key[32]);
/** Session key of a token text; false when the text is not a well-formed token. */
bool cet_token_key(const char *text, uint8_t key[32]);
/** New random 16-byte account id. */
void cet_account_id_new(uint8_t id[16]);

/**
 * The argon2id string of pw (NUL-terminated) at CET_PWHASH_OPS and
 * CET_PWHASH_MEM_BYTES, with a fresh random salt, into out. 0, or -1 when the
 * memory could not be had (out is then undefined).
 */
int cet_pwhash_make(char out[CET_PWHASH_BYTES], const char *pw);
/** Whether pw is the password of hash (any argon2 costs); false for a malformed hash. */
bool cet_pwhash_verify(const char *hash, const char *pw);
/**
 * Whether hash was made with other costs than CET_PWHASH_OPS /
 * CET_PWHASH_MEM_BYTES (or is no argon2id string): it is to be made again
 * from the password the next time one is verified against it. Microseconds:
 * it only reads the string.
 */
bool cet_pwhash_stale(const char *hash);

#endif
