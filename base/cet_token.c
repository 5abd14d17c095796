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
