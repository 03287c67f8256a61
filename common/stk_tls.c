/* mbedTLS helpers shared by the gateway and the agent (stk_tls.h). */
#include "stk_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_csr.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const int ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

static const mbedtls_ecp_group_id curves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_NONE,
};

const int *stk_tls_ciphersuites(void)
{
    return ciphersuites;
}

enum stk_err stk_tls_fail(struct stk_error *err, enum stk_err code, const char *what, int ret)
{
    char msg[200];
    mbedtls_strerror(ret, msg, sizeof(msg));
    return stk_error_set(err, code, "%s: %s (-0x%04x)", what, msg, (unsigned)-ret);
}

enum stk_err stk_tls_rng_init(struct stk_tls_rng *rng, const char *pers, struct stk_error *err)
{
    mbedtls_entropy_init(&rng->entropy);
    mbedtls_ctr_drbg_init(&rng->drbg);
    const char *p = pers ? pers : "stockade";
    int ret = mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy,
                                    (const unsigned char *)p, strlen(p));
    if (ret != 0) {
        return stk_tls_fail(err, STK_ECRYPTO, "seeding the random generator", ret);
    }
    return STK_OK;
}

void stk_tls_rng_release(struct stk_tls_rng *rng)
{
    mbedtls_ctr_drbg_free(&rng->drbg);
    mbedtls_entropy_free(&rng->entropy);
}

enum stk_err stk_tls_conf_defaults(mbedtls_ssl_config *conf, int endpoint, struct stk_tls_rng *rng,
                                   struct stk_error *err)
{
    int ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        return stk_tls_fail(err, STK_ECRYPTO, "TLS configuration", ret);
    }
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(conf, ciphersuites);
    mbedtls_ssl_conf_curves(conf, curves);
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &rng->drbg);
    /* Renegotiation is off by default; say so, it is a DoS lever. */
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    return STK_OK;
}

enum stk_err stk_tls_crt_load(mbedtls_x509_crt *chain, const char *path, struct stk_error *err)
{
    if (access(path, R_OK) != 0) {
        return stk_error_set(err, STK_EIO, "%s: %s", path, strerror(errno));
    }
    int ret = mbedtls_x509_crt_parse_file(chain, path);
    if (ret != 0) {
        return stk_tls_fail(err, STK_ECRYPTO, path, ret);
    }
    return STK_OK;
}

enum stk_err stk_tls_crt_parse(mbedtls_x509_crt *chain, const char *pem, size_t len,
                               struct stk_error *err)
{
    /* mbedTLS wants PEM NUL-terminated and the NUL counted in the length. */
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    memcpy(copy, pem, len);
    copy[len] = '\0';
    int ret = mbedtls_x509_crt_parse(chain, (const unsigned char *)copy, len + 1);
    free(copy);
    if (ret != 0) {
        return stk_tls_fail(err, STK_ECRYPTO, "certificate", ret);
    }
    return STK_OK;
}

enum stk_err stk_tls_key_load(mbedtls_pk_context *pk, const char *path, struct stk_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return stk_error_set(err, STK_EIO, "%s: %s", path, strerror(errno));
    }
    if ((st.st_mode & 077) != 0) {
        return stk_error_set(err, STK_EIO, "%s: readable by group or others (chmod 600 it)", path);
    }
    int ret = mbedtls_pk_parse_keyfile(pk, path, NULL);
    if (ret != 0) {
        return stk_tls_fail(err, STK_ECRYPTO, path, ret);
    }
    return STK_OK;
}

enum stk_err stk_tls_key_generate(mbedtls_pk_context *pk, struct stk_tls_rng *rng,
                                  struct stk_error *err)
{
    int ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0) {
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                  mbedtls_ctr_drbg_random, &rng->drbg);
    }
    if (ret != 0) {
        return stk_tls_fail(err, STK_ECRYPTO, "generating a P-256 key", ret);
    }
    return STK_OK;
}

enum stk_err stk_tls_key_pem(mbedtls_pk_context *pk, char *out, size_t n, struct stk_error *err)
{
    int ret = mbedtls_pk_write_key_pem(pk, (unsigned char *)out, n);
    if (ret != 0) {
        if (n > 0) {
            out[0] = '\0';
        }
        return stk_tls_fail(err, STK_ECRYPTO, "writing a key", ret);
    }
    return STK_OK;
}

enum stk_err stk_tls_csr_pem(mbedtls_pk_context *pk, const char *subject, struct stk_tls_rng *rng,
                             char *out, size_t n, struct stk_error *err)
{
    mbedtls_x509write_csr csr;
    mbedtls_x509write_csr_init(&csr);
    mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
    mbedtls_x509write_csr_set_key(&csr, pk);
    enum stk_err rc = STK_OK;
    int ret = mbedtls_x509write_csr_set_subject_name(&csr, subject);
    if (ret != 0) {
        rc = stk_tls_fail(err, STK_EINVAL, "CSR subject", ret);
        goto out;
    }
    ret = mbedtls_x509write_csr_pem(&csr, (unsigned char *)out, n, mbedtls_ctr_drbg_random,
                                    &rng->drbg);
    if (ret != 0) {
        rc = stk_tls_fail(err, STK_ECRYPTO, "writing the CSR", ret);
    }
out:
    mbedtls_x509write_csr_free(&csr);
    if (rc != STK_OK && n > 0) {
        out[0] = '\0';
    }
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

enum stk_err stk_tls_write_file(const char *path, const void *data, size_t len, unsigned mode,
                                struct stk_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
        return stk_error_set(err, STK_EIO, "%s: path too long", path);
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        return stk_error_set(err, STK_EIO, "%s: %s", tmp, strerror(errno));
    }
    enum stk_err rc = STK_OK;
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rc = stk_error_set(err, STK_EIO, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return rc;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        rc = stk_error_set(err, STK_EIO, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return rc;
    }
    /* The rename is durable once the directory is synced. */
    char dircopy[4096];
    snprintf(dircopy, sizeof(dircopy), "%s", path);
    int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return STK_OK;
}

static void sha256_hex(const unsigned char *data, size_t len, char out[STK_TLS_SHA256_HEX])
{
    unsigned char h[32];
    mbedtls_sha256_ret(data, len, h, 0);
    sodium_bin2hex(out, STK_TLS_SHA256_HEX, h, sizeof(h));
}

enum stk_err stk_tls_crt_spki_sha256(const mbedtls_x509_crt *crt, char out[STK_TLS_SHA256_HEX],
                                     struct stk_error *err)
{
    out[0] = '\0';
    if (crt == NULL || crt->pk_raw.p == NULL || crt->pk_raw.len == 0) {
        return stk_error_set(err, STK_EINVAL, "no certificate");
    }
    /* pk_raw is the whole SubjectPublicKeyInfo, tag and length included. */
    sha256_hex(crt->pk_raw.p, crt->pk_raw.len, out);
    return STK_OK;
}

enum stk_err stk_tls_pk_spki_sha256(mbedtls_pk_context *pk, char out[STK_TLS_SHA256_HEX],
                                    struct stk_error *err)
{
    unsigned char der[256];
    out[0] = '\0';
    /* mbedtls writes DER at the end of the buffer. */
    int n = mbedtls_pk_write_pubkey_der(pk, der, sizeof(der));
    if (n <= 0) {
        return stk_tls_fail(err, STK_ECRYPTO, "public key", n);
    }
    sha256_hex(der + sizeof(der) - (size_t)n, (size_t)n, out);
    return STK_OK;
}

void stk_tls_crt_serial_hex(const mbedtls_x509_crt *crt, char out[STK_TLS_SERIAL_HEX])
{
    const unsigned char *p = crt->serial.p;
    size_t len = crt->serial.len;
    while (len > 1 && p[0] == 0) {
        p++;
        len--;
    }
    if (len == 0 || len > 20) {
        snprintf(out, STK_TLS_SERIAL_HEX, "00");
        return;
    }
    sodium_bin2hex(out, STK_TLS_SERIAL_HEX, p, len);
}

enum stk_err stk_tls_chain_check_pin(const mbedtls_x509_crt *chain, const char *ca_spki_hex,
                                     char *ca_pem, size_t n, struct stk_error *err)
{
    if (ca_pem != NULL && n > 0) {
        ca_pem[0] = '\0';
    }
    const mbedtls_x509_crt *match = NULL;
    for (const mbedtls_x509_crt *c = chain; c != NULL && c->raw.p != NULL; c = c->next) {
        char h[STK_TLS_SHA256_HEX];
        if (stk_tls_crt_spki_sha256(c, h, NULL) == STK_OK && strcmp(h, ca_spki_hex) == 0) {
            match = c;
            break;
        }
    }
    if (match == NULL) {
        return stk_error_set(err, STK_EAUTH, "server CA does not match the enrollment token");
    }
    mbedtls_x509_crt ca;
    mbedtls_x509_crt_init(&ca);
    enum stk_err rc = STK_OK;
    uint32_t flags = 0;
    if (mbedtls_x509_crt_parse_der(&ca, match->raw.p, match->raw.len) != 0 ||
        mbedtls_x509_crt_verify((mbedtls_x509_crt *)chain, &ca, NULL, STK_TLS_GATEWAY_NAME, &flags,
                                NULL, NULL) != 0) {
        rc = stk_error_set(err, STK_EAUTH, "server CA does not match the enrollment token");
        goto out;
    }
    if (ca_pem != NULL) {
        size_t olen = 0;
        int ret = mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
                                           "-----END CERTIFICATE-----\n", match->raw.p,
                                           match->raw.len, (unsigned char *)ca_pem, n, &olen);
        if (ret != 0) {
            rc = stk_tls_fail(err, STK_ECRYPTO, "writing the CA certificate", ret);
        }
    }
out:
    mbedtls_x509_crt_free(&ca);
    return rc;
}

enum stk_err stk_enroll_token_parse(const char *token, char secret[STK_ENROLL_SECRET_MAX],
                                    char ca_spki_hex[STK_TLS_SHA256_HEX])
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static const char hex[] = "0123456789abcdef";
    const size_t plen = sizeof(STK_ENROLL_PREFIX) - 1;
    const size_t slen = STK_ENROLL_SECRET_MAX - 1;
    secret[0] = '\0';
    ca_spki_hex[0] = '\0';
    if (token == NULL || strlen(token) != slen + 1 + 64 ||
        strncmp(token, STK_ENROLL_PREFIX, plen) != 0 ||
        strspn(token + plen, b64url) != slen - plen || token[slen] != '.' ||
        strspn(token + slen + 1, hex) != 64) {
        return STK_EINVAL;
    }
    memcpy(secret, token, slen);
    secret[slen] = '\0';
    memcpy(ca_spki_hex, token + slen + 1, 64);
    ca_spki_hex[64] = '\0';
    return STK_OK;
}

int stk_tls_set_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}
