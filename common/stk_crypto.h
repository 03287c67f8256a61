/* Small wrappers over libsodium used by the server and the agent. */
#ifndef STK_CRYPTO_H
#define STK_CRYPTO_H

#include <sodium.h>
#include <stddef.h>

#include "err.h"

/* 32 random bytes as unpadded base64url (43 characters) after `prefix`
 * (may be ""), NUL-terminated. `out` must hold strlen(prefix) + 44 bytes. */
void stk_crypto_random_token(const char *prefix, char *out, size_t out_size);

/* Lower-case hex of BLAKE2b-256(data) into `out` (65 bytes). */
void stk_crypto_hash_hex(const void *data, size_t len, char out[65]);

/* Constant-time comparison of two NUL-terminated strings; 1 when equal.
 * Time depends on the lengths only. */
int stk_crypto_str_equal(const char *a, const char *b);

#define STK_PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

/* argon2id at the INTERACTIVE limits. STK_ENOMEM when the memory for the
 * hash could not be had. */
enum stk_err stk_crypto_password_hash(const char *password, size_t len,
                                      char out[STK_PASSWORD_HASH_MAX]);

/* 1 if `password` matches `hash`, 0 otherwise (also for malformed hashes). */
int stk_crypto_password_verify(const char *hash, const char *password, size_t len);

/* 1 if `hash` was made with other limits than the current ones. */
int stk_crypto_password_needs_rehash(const char *hash);

#endif
