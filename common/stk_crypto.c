#include "stk_crypto.h"

#include <string.h>

void stk_crypto_random_token(const char *prefix, char *out, size_t out_size)
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    size_t plen = strlen(prefix);
    if (out_size < plen + 44) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        sodium_memzero(raw, sizeof(raw));
        return;
    }
    memcpy(out, prefix, plen);
    sodium_bin2base64(out + plen, out_size - plen, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

void stk_crypto_hash_hex(const void *data, size_t len, char out[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), data, len, NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

int stk_crypto_str_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) {
        return 0;
    }
    return sodium_memcmp(a, b, la) == 0;
}

enum stk_err stk_crypto_password_hash(const char *password, size_t len,
                                      char out[STK_PASSWORD_HASH_MAX])
{
    if (crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        return STK_ENOMEM;
    }
    return STK_OK;
}

int stk_crypto_password_verify(const char *hash, const char *password, size_t len)
{
    return crypto_pwhash_str_verify(hash, password, len) == 0;
}

int stk_crypto_password_needs_rehash(const char *hash)
{
    return crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}
