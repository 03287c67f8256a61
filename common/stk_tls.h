/* mbedTLS helpers shared by the agent gateway (server/gateway*.c) and the
 * agent (agent/), so both ends speak exactly the TLS that docs/agents.md
 * describes: TLS 1.2 or later, ECDHE, AES-GCM or ChaCha20-Poly1305, ECDSA
 * P-256 keys, TCP_NODELAY on every socket.
 *
 * Every function returns enum stk_err and, on failure, puts the reason
 * (with mbedTLS's own words where it gave some) into `err`, which may be
 * NULL. Nothing here keeps global state: the caller owns every context. */
#ifndef STK_TLS_H
#define STK_TLS_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stddef.h>

#include "err.h"

/* The name in the gateway certificate (CN and SAN DNS). The agent checks
 * it whatever host name it dialled. */
#define STK_TLS_GATEWAY_NAME "stockade-gateway"
/* O= of every agent client certificate; CN= is the cluster. */
#define STK_TLS_AGENT_ORG "stockade-agent"

/* Lower-case hex of a SHA-256, NUL included. */
#define STK_TLS_SHA256_HEX 65
/* Hex of a certificate serial (up to 20 bytes), NUL included. */
#define STK_TLS_SERIAL_HEX 41
/* Room for one PEM certificate, key or CSR of an ECDSA P-256 key. */
#define STK_TLS_PEM_MAX 4096

/* The allowed ciphersuites (docs/agents.md "TLS"), 0-terminated, for
 * mbedtls_ssl_conf_ciphersuites(). Static storage. */
const int *stk_tls_ciphersuites(void);

/* A seeded random generator: pass mbedtls_ctr_drbg_random and &rng->drbg
 * wherever mbedTLS asks for f_rng/p_rng. Thread-safe when mbedTLS is built
 * with MBEDTLS_THREADING_C (Debian's is), but one per thread is cheaper. */
struct stk_tls_rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

/* Seeds `rng` from the system entropy; `pers` (may be NULL) personalises
 * it ("stockade-gateway", "stockade-agent"). Release with
 * stk_tls_rng_release() whether or not this succeeded. */
enum stk_err stk_tls_rng_init(struct stk_tls_rng *rng, const char *pers, struct stk_error *err);
void stk_tls_rng_release(struct stk_tls_rng *rng);

/* mbedtls_ssl_config_defaults() for a stream transport as `endpoint`
 * (MBEDTLS_SSL_IS_CLIENT or MBEDTLS_SSL_IS_SERVER), then: minimum version
 * TLS 1.2, stk_tls_ciphersuites(), curves X25519 and P-256, the RNG `rng`
 * (which must outlive `conf`). The caller mbedtls_ssl_config_init()s
 * `conf` before and frees it after; it still sets authmode, CA chain, own
 * certificate and bio. */
enum stk_err stk_tls_conf_defaults(mbedtls_ssl_config *conf, int endpoint, struct stk_tls_rng *rng,
                                   struct stk_error *err);

/* Parses the PEM certificate(s) in file `path` and appends them to `chain`
 * (mbedtls_x509_crt_init()ed by the caller). STK_EIO when the file cannot
 * be read, STK_ECRYPTO when it does not parse. */
enum stk_err stk_tls_crt_load(mbedtls_x509_crt *chain, const char *path, struct stk_error *err);

/* Same for PEM text in memory (`len` bytes, need not be NUL-terminated). */
enum stk_err stk_tls_crt_parse(mbedtls_x509_crt *chain, const char *pem, size_t len,
                               struct stk_error *err);

/* Parses the unencrypted PEM private key in file `path` into `pk`
 * (mbedtls_pk_init()ed by the caller). STK_EIO when the file cannot be
 * read or is readable by group or others (keys are mode 0600),
 * STK_ECRYPTO when it does not parse. */
enum stk_err stk_tls_key_load(mbedtls_pk_context *pk, const char *path, struct stk_error *err);

/* Generates a new ECDSA P-256 key into `pk` (mbedtls_pk_init()ed by the
 * caller, holding no key yet). */
enum stk_err stk_tls_key_generate(mbedtls_pk_context *pk, struct stk_tls_rng *rng,
                                  struct stk_error *err);

/* PEM text of the private key `pk` into `out` (size `n`, NUL-terminated).
 * The caller wipes `out` (sodium_memzero) when done. */
enum stk_err stk_tls_key_pem(mbedtls_pk_context *pk, char *out, size_t n, struct stk_error *err);

/* A PEM certificate signing request for the key `pk` with subject
 * `subject` ("CN=prod-aks,O=stockade-agent"), signed with SHA-256, into
 * `out` (size `n`, at least STK_TLS_PEM_MAX is plenty). */
enum stk_err stk_tls_csr_pem(mbedtls_pk_context *pk, const char *subject, struct stk_tls_rng *rng,
                             char *out, size_t n, struct stk_error *err);

/* Writes `len` bytes of `data` to `path` with mode `mode` atomically: a
 * temporary file in the same directory, fsync, rename over `path`, fsync
 * of the directory. On failure `path` is untouched and no temporary file
 * is left. STK_EIO with the reason. */
enum stk_err stk_tls_write_file(const char *path, const void *data, size_t len, unsigned mode,
                                struct stk_error *err);

/* Lower-case hex SHA-256 of the SubjectPublicKeyInfo DER of `crt` (the
 * first certificate of the chain), or of the public part of `pk`. This is
 * the pin the enrollment token carries for the CA (docs/agents.md); it
 * equals `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER |
 * sha256sum`. */
enum stk_err stk_tls_crt_spki_sha256(const mbedtls_x509_crt *crt, char out[STK_TLS_SHA256_HEX],
                                     struct stk_error *err);
enum stk_err stk_tls_pk_spki_sha256(mbedtls_pk_context *pk, char out[STK_TLS_SHA256_HEX],
                                    struct stk_error *err);

/* Lower-case hex of the serial number of `crt` (leading zero bytes
 * stripped, at least "00"). */
void stk_tls_crt_serial_hex(const mbedtls_x509_crt *crt, char out[STK_TLS_SERIAL_HEX]);

/* The enrollment check the agent makes before it trusts a gateway it has
 * no CA for yet: finds in `chain` (what the gateway sent,
 * mbedtls_ssl_get_peer_cert()) the certificate whose SPKI hash equals
 * `ca_spki_hex`, and verifies the first certificate of `chain` against it
 * alone, for the name STK_TLS_GATEWAY_NAME. On success `ca_pem` (size `n`,
 * may be NULL) receives that CA certificate as PEM, to be pinned.
 * STK_EAUTH with "server CA does not match the enrollment token" when no
 * certificate matches or the chain does not verify. */
enum stk_err stk_tls_chain_check_pin(const mbedtls_x509_crt *chain, const char *ca_spki_hex,
                                     char *ca_pem, size_t n, struct stk_error *err);

/* Enrollment tokens: "stke_" + 43 characters of base64url secret + "." +
 * 64 hex of the CA's SPKI SHA-256. The server stores the BLAKE2b hash
 * (stk_crypto_hash_hex) of the secret part, prefix included. */
#define STK_ENROLL_PREFIX "stke_"
#define STK_ENROLL_SECRET_MAX 49 /* "stke_" + 43 + NUL */
#define STK_ENROLL_TOKEN_MAX 114 /* secret + "." + 64 + NUL */

/* Splits `token` into its secret ("stke_...") and the CA pin (64 lower-case
 * hex). STK_EINVAL unless the token has exactly that shape. */
enum stk_err stk_enroll_token_parse(const char *token, char secret[STK_ENROLL_SECRET_MAX],
                                    char ca_spki_hex[STK_TLS_SHA256_HEX]);

/* Sets TCP_NODELAY on socket `fd` (MEASURED.md: 40 ms per exchange
 * without). Returns 0, or -1 with errno set. */
int stk_tls_set_nodelay(int fd);

/* Records "what: mbedTLS's message (-0xNNNN)" in `err` with `code` and
 * returns `code`. */
enum stk_err stk_tls_fail(struct stk_error *err, enum stk_err code, const char *what, int ret);

#endif
