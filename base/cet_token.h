/*
 * cet_token.h: bearer tokens and account ids.
 *
 * A token is 64 lower-case hex digits of CET_TOKEN_BYTES random bytes from
 * libsodium; the session database is keyed by SHA-256 of those raw bytes, so
 * a copy of the database does not hand out live tokens. cetctl bench-prep
 * makes sessions the same way.
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

#endif
