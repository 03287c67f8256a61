/* The agent CA (docs/agents.md, "Keys and files"): an ECDSA P-256 CA kept
 * in the data directory that issues the gateway's server certificate and
 * one client certificate per enrolled agent. */
#ifndef STK_GATEWAY_CA_H
#define STK_GATEWAY_CA_H

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <stddef.h>

#include "err.h"
#include "stk_tls.h"

#define GATEWAY_CA_YEARS 10
#define GATEWAY_CERT_DAYS 365
#define GATEWAY_RENEW_DAYS 30 /* re-issue the gateway certificate this close to its end */

struct gateway_ca {
    mbedtls_x509_crt ca;          /* ca.crt */
    mbedtls_pk_context ca_key;    /* ca.key */
    mbedtls_x509_crt gw_chain;    /* gateway.crt, then the CA: what the gateway sends */
    mbedtls_pk_context gw_key;    /* gateway.key */
    char ca_pem[STK_TLS_PEM_MAX]; /* ca.crt as text, for `enrolled` */
    char pin[STK_TLS_SHA256_HEX]; /* SHA-256 of the CA's SubjectPublicKeyInfo */
    struct stk_tls_rng rng;
};

/* Loads the CA and gateway certificate from `data_dir` (which must exist),
 * creating what is missing: ca.key/ca.crt, then gateway.key/gateway.crt
 * (also re-issued when it has less than GATEWAY_RENEW_DAYS left or
 * was not issued by this CA). Keys are written mode 0600 through a
 * temporary file and a rename, under a lock file so that a CLI and a
 * server starting together create one CA. A ca.crt without its ca.key, a
 * key that does not match its certificate, or a key readable by others is
 * STK_EIO with the reason. Caller frees with gateway_ca_free(). */
enum stk_err gateway_ca_open(const char *data_dir, struct gateway_ca **out, struct stk_error *err);

/* Frees and wipes. Accepts NULL. */
void gateway_ca_free(struct gateway_ca *ca);

/* What gateway_ca_issue() made. */
struct agent_cert {
    char serial[STK_TLS_SERIAL_HEX]; /* lower-case hex, 32 digits */
    char sha256[STK_TLS_SHA256_HEX]; /* of the certificate's DER */
    long long not_after;             /* seconds since the epoch */
    char pem[STK_TLS_PEM_MAX];
};

/* Issues a client certificate for `cluster` (already validated: letters,
 * digits, '-', '_', '.') to the public key of the PEM CSR `csr_pem`
 * (`len` bytes): subject CN=<cluster>, O=stockade-agent, a random 128-bit
 * serial, GATEWAY_CERT_DAYS days, extKeyUsage clientAuth. Only the CSR's
 * public key is used; its signature must verify (proof the requester has
 * the key) and the key must be ECDSA P-256, else STK_EINVAL with the
 * reason. Not thread-safe for one `ca` (one thread issues). */
enum stk_err gateway_ca_issue(struct gateway_ca *ca, const char *cluster, const char *csr_pem,
                              size_t len, struct agent_cert *out, struct stk_error *err);

#endif
