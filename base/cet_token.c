#include "base/cet_token.h"

#include <sodium.h>
#include <string.h>

#include "base/cet_base.h"

void cet_token_new(char text[CET_TOKEN_CHARS + 1], uint8_t key[32])
{
    uint8_t raw[CET_TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    cet_hex(text, raw, sizeof raw);
    crypto_hash_sha256(key, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
}

bool cet_token_key(const char *text, uint8_t key[32])
{
    uint8_t raw[CET_TOKEN_BYTES];
    if (strlen(text) != CET_TOKEN_CHARS || cet_unhex(raw, text, sizeof raw) != 0) return false;
    crypto_hash_sha256(key, raw, sizeof raw);
    return true;
}

void cet_account_id_new(uint8_t id[16])
{
    randombytes_buf(id, 16);
}

_Static_assert(crypto_pwhash_STRBYTES <= CET_PWHASH_BYTES, "a pwhash field holds the string");
_Static_assert(CET_PWHASH_OPS >= crypto_pwhash_OPSLIMIT_MIN &&
                   CET_PWHASH_MEM_BYTES >= crypto_pwhash_MEMLIMIT_MIN,
               "argon2id costs libsodium accepts");

int cet_pwhash_make(char out[CET_PWHASH_BYTES], const char *pw)
{
    return crypto_pwhash_str(out, pw, strlen(pw), CET_PWHASH_OPS, CET_PWHASH_MEM_BYTES) == 0 ? 0
                                                                                             : -1;
}

bool cet_pwhash_verify(const char *hash, const char *pw)
{
    return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

bool cet_pwhash_stale(const char *hash)
{
    /* libsodium's check accepts argon2i strings of the same costs too */
    return strncmp(hash, crypto_pwhash_argon2id_STRPREFIX,
                   sizeof crypto_pwhash_argon2id_STRPREFIX - 1) != 0 ||
           crypto_pwhash_str_needs_rehash(hash, CET_PWHASH_OPS, CET_PWHASH_MEM_BYTES) != 0;
}
