/* Ed25519 signatures on the commands the server sends to agents
 * (docs/agents.md, "Commands"). The signature covers the domain string
 * "stockade-command-v1\n" followed by the exact bytes of the command's
 * payload (a JSON text carried as a string), so neither side has to
 * canonicalise JSON. */
#ifndef STK_CMD_SIGN_H
#define STK_CMD_SIGN_H

#include <sodium.h>
#include <stddef.h>

#include "err.h"

#define STK_CMD_PK_BYTES crypto_sign_PUBLICKEYBYTES /* 32 */
#define STK_CMD_SK_BYTES crypto_sign_SECRETKEYBYTES /* 64 */
/* base64 (standard alphabet, padded) of a signature or a public key, NUL included */
#define STK_CMD_SIG_B64_MAX 96
#define STK_CMD_PK_B64_MAX 48

/* Signs `payload` with `sk`; `sig_b64` receives the base64 signature. */
void cmd_sign(const unsigned char sk[STK_CMD_SK_BYTES], const char *payload, size_t len,
              char sig_b64[STK_CMD_SIG_B64_MAX]);

/* 1 if `sig_b64` is a valid signature of `payload` by `pk`, else 0 (also for
 * malformed base64 or a wrong length). */
int cmd_verify(const unsigned char pk[STK_CMD_PK_BYTES], const char *payload, size_t len,
               const char *sig_b64);

/* Base64 of a public key, and back. Decoding returns STK_EINVAL unless the
 * text is exactly one 32-byte key. */
void cmd_pk_encode(const unsigned char pk[STK_CMD_PK_BYTES], char out[STK_CMD_PK_B64_MAX]);
enum stk_err cmd_pk_decode(const char *b64, unsigned char pk[STK_CMD_PK_BYTES]);

/* Reads the signing key pair from the file `path` (64 raw bytes of secret
 * key), or creates it (mode 0600, written to a temporary file and renamed)
 * when the file does not exist. STK_EIO with a message when the file is
 * unreadable, has another size, or is readable by group or others. The
 * caller wipes `sk` with sodium_memzero() when done. */
enum stk_err cmd_key_load_or_create(const char *path, unsigned char pk[STK_CMD_PK_BYTES],
                                    unsigned char sk[STK_CMD_SK_BYTES], struct stk_error *err);

#endif
