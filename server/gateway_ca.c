/* The agent CA: creating, loading and issuing (gateway_ca.h). */
#include "gateway_ca.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_csr.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define CA_SUBJECT "CN=Stockade agent CA"
#define DAY_S 86400LL
#define CSR_PEM_MAX 8192

/* DER values of the extensions mbedTLS 2.28 has no setter for. */
static const unsigned char san_gateway[] = {0x30, 0x12, 0x82, 0x10, 's', 't', 'o', 'c', 'k', 'a',
                                            'd',  'e',  '-',  'g',  'a', 't', 'e', 'w', 'a', 'y'};
static const unsigned char eku_server[] = {0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06,
                                           0x01, 0x05, 0x05, 0x07, 0x03, 0x01};
static const unsigned char eku_client[] = {0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06,
                                           0x01, 0x05, 0x05, 0x07, 0x03, 0x02};

/* What one certificate is for. */
enum cert_kind { CERT_CA, CERT_GATEWAY, CERT_AGENT };

struct cert_req {
    enum cert_kind kind;
    const char *subject;
    mbedtls_pk_context *subject_key; /* public part used */
    mbedtls_pk_context *issuer_key;
    const char *issuer;
    long long not_before;
    long long not_after;
};

static int path_in(char *dst, size_t n, const char *dir, const char *name)
{
    return snprintf(dst, n, "%s/%s", dir, name) < (int)n ? 0 : -1;
}

static void log_created(const char *path)
{
    char clean[512];
    log_event(STK_LOG_INFO, "gateway_ca_file_created", "path=%s",
              log_clean(path, clean, sizeof(clean)));
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void fmt_time(long long t, char out[16])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static long long x509_time_epoch(const mbedtls_x509_time *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = t->year - 1900;
    tm.tm_mon = t->mon - 1;
    tm.tm_mday = t->day;
    tm.tm_hour = t->hour;
    tm.tm_min = t->min;
    tm.tm_sec = t->sec;
    return (long long)timegm(&tm);
}

/* 128 random bits as a positive serial (top bit clear, never short). */
static int random_serial(mbedtls_mpi *serial)
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);
    return mbedtls_mpi_read_binary(serial, b, sizeof(b));
}

/* Writes the certificate `r` describes as DER at the end of `buf`; returns
 * its length in `*len` and sets `*der` to its start. */
static enum stk_err write_cert(struct gateway_ca *ca, const struct cert_req *r, unsigned char *buf,
                               size_t size, unsigned char **der, size_t *len, struct stk_error *err)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    char nb[16], na[16];
    fmt_time(r->not_before, nb);
    fmt_time(r->not_after, na);
    int is_ca = r->kind == CERT_CA;
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, r->subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, r->issuer_key);
    enum stk_err rc = STK_OK;
    const char *step = "serial";
    int ret = random_serial(&serial);
    if (ret == 0) {
        ret = mbedtls_x509write_crt_set_serial(&w, &serial);
    }
    if (ret == 0) {
        step = "subject";
        ret = mbedtls_x509write_crt_set_subject_name(&w, r->subject);
    }
    if (ret == 0) {
        step = "issuer";
        ret = mbedtls_x509write_crt_set_issuer_name(&w, r->issuer);
    }
    if (ret == 0) {
        step = "validity";
        ret = mbedtls_x509write_crt_set_validity(&w, nb, na);
    }
    if (ret == 0) {
        step = "extensions";
        ret = mbedtls_x509write_crt_set_basic_constraints(&w, is_ca, is_ca ? 0 : -1);
    }
    if (ret == 0) {
        ret = mbedtls_x509write_crt_set_key_usage(&w, is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN |
                                                                  MBEDTLS_X509_KU_CRL_SIGN
                                                            : MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    }
    if (ret == 0) {
        ret = mbedtls_x509write_crt_set_subject_key_identifier(&w);
    }
    if (ret == 0) {
        ret = mbedtls_x509write_crt_set_authority_key_identifier(&w);
    }
    if (ret == 0 && r->kind == CERT_GATEWAY) {
        ret = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                  san_gateway, sizeof(san_gateway));
    }
    if (ret == 0 && !is_ca) {
        const unsigned char *eku = r->kind == CERT_GATEWAY ? eku_server : eku_client;
        ret = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
                                                  0, eku, sizeof(eku_server));
    }
    if (ret != 0) {
        rc = stk_tls_fail(err, STK_ECRYPTO, step, ret);
        goto out;
    }
    ret = mbedtls_x509write_crt_der(&w, buf, size, mbedtls_ctr_drbg_random, &ca->rng.drbg);
    if (ret <= 0) {
        rc = stk_tls_fail(err, STK_ECRYPTO, "signing a certificate", ret);
        goto out;
    }
    *len = (size_t)ret;
    *der = buf + size - (size_t)ret;
out:
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    return rc;
}

static enum stk_err der_to_pem(const unsigned char *der, size_t len, char *pem, size_t n,
                               struct stk_error *err)
{
    size_t olen = 0;
    int ret =
        mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                 der, len, (unsigned char *)pem, n, &olen);
    if (ret != 0) {
        return stk_tls_fail(err, STK_ECRYPTO, "PEM", ret);
    }
    return STK_OK;
}

/* Issues the certificate `r` describes and writes it to `path` (0644). */
static enum stk_err make_cert_file(struct gateway_ca *ca, const struct cert_req *r,
                                   const char *path, struct stk_error *err)
{
    unsigned char buf[4096];
    unsigned char *der = NULL;
    size_t len = 0;
    char pem[STK_TLS_PEM_MAX];
    enum stk_err rc = write_cert(ca, r, buf, sizeof(buf), &der, &len, err);
    if (rc == STK_OK) {
        rc = der_to_pem(der, len, pem, sizeof(pem), err);
    }
    if (rc == STK_OK) {
        rc = stk_tls_write_file(path, pem, strlen(pem), 0644, err);
    }
    return rc;
}

/* Loads the key at `path`, or makes one there (0600) when it is missing. */
static enum stk_err key_load_or_create(struct gateway_ca *ca, const char *path,
                                       mbedtls_pk_context *pk, int *created, struct stk_error *err)
{
    *created = 0;
    if (file_exists(path)) {
        return stk_tls_key_load(pk, path, err);
    }
    char pem[STK_TLS_PEM_MAX];
    enum stk_err rc = stk_tls_key_generate(pk, &ca->rng, err);
    if (rc == STK_OK) {
        rc = stk_tls_key_pem(pk, pem, sizeof(pem), err);
    }
    if (rc == STK_OK) {
        rc = stk_tls_write_file(path, pem, strlen(pem), 0600, err);
    }
    sodium_memzero(pem, sizeof(pem));
    *created = rc == STK_OK;
    return rc;
}

static enum stk_err open_ca(struct gateway_ca *ca, const char *dir, struct stk_error *err)
{
    char key_path[4096], crt_path[4096];
    if (path_in(key_path, sizeof(key_path), dir, "ca.key") != 0 ||
        path_in(crt_path, sizeof(crt_path), dir, "ca.crt") != 0) {
        return stk_error_set(err, STK_EIO, "%s: path too long", dir);
    }
    int crt_exists = file_exists(crt_path);
    if (crt_exists && !file_exists(key_path)) {
        return stk_error_set(err, STK_EIO,
                             "%s exists but %s does not: restore the key, or move "
                             "both away to make a new CA (agents must re-enroll)",
                             crt_path, key_path);
    }
    int created = 0;
    enum stk_err rc = key_load_or_create(ca, key_path, &ca->ca_key, &created, err);
    if (rc != STK_OK) {
        return rc;
    }
    if (!crt_exists) {
        long long now = (long long)time(NULL);
        struct cert_req r = {
            .kind = CERT_CA,
            .subject = CA_SUBJECT,
            .subject_key = &ca->ca_key,
            .issuer_key = &ca->ca_key,
            .issuer = CA_SUBJECT,
            .not_before = now - 3600,
            .not_after = now + GATEWAY_CA_YEARS * 365 * DAY_S,
        };
        rc = make_cert_file(ca, &r, crt_path, err);
        if (rc != STK_OK) {
            return rc;
        }
        log_created(crt_path);
    }
    rc = stk_tls_crt_load(&ca->ca, crt_path, err);
    if (rc != STK_OK) {
        return rc;
    }
    if (mbedtls_pk_check_pair(&ca->ca.pk, &ca->ca_key) != 0) {
        return stk_error_set(err, STK_EIO, "%s does not belong to %s", key_path, crt_path);
    }
    rc = der_to_pem(ca->ca.raw.p, ca->ca.raw.len, ca->ca_pem, sizeof(ca->ca_pem), err);
    if (rc == STK_OK) {
        rc = stk_tls_crt_spki_sha256(&ca->ca, ca->pin, err);
    }
    return rc;
}

/* True when the gateway certificate in ca->gw_chain was issued by this CA
 * for STK_TLS_GATEWAY_NAME, matches its key and has time left. */
static int gateway_cert_usable(struct gateway_ca *ca)
{
    uint32_t flags = 0;
    if (mbedtls_x509_crt_verify(&ca->gw_chain, &ca->ca, NULL, STK_TLS_GATEWAY_NAME, &flags, NULL,
                                NULL) != 0) {
        return 0;
    }
    if (mbedtls_pk_check_pair(&ca->gw_chain.pk, &ca->gw_key) != 0) {
        return 0;
    }
    long long left = x509_time_epoch(&ca->gw_chain.valid_to) - (long long)time(NULL);
    return left >= GATEWAY_RENEW_DAYS * DAY_S;
}

static enum stk_err open_gateway(struct gateway_ca *ca, const char *dir, struct stk_error *err)
{
    char key_path[4096], crt_path[4096];
    if (path_in(key_path, sizeof(key_path), dir, "gateway.key") != 0 ||
        path_in(crt_path, sizeof(crt_path), dir, "gateway.crt") != 0) {
        return stk_error_set(err, STK_EIO, "%s: path too long", dir);
    }
    int created = 0;
    enum stk_err rc = key_load_or_create(ca, key_path, &ca->gw_key, &created, err);
    if (rc != STK_OK) {
        return rc;
    }
    if (!created && file_exists(crt_path)) {
        rc = stk_tls_crt_load(&ca->gw_chain, crt_path, err);
        if (rc != STK_OK) {
            return rc;
        }
        if (gateway_cert_usable(ca)) {
            goto chain;
        }
        mbedtls_x509_crt_free(&ca->gw_chain);
        mbedtls_x509_crt_init(&ca->gw_chain);
    }
    long long now = (long long)time(NULL);
    char issuer[256];
    if (mbedtls_x509_dn_gets(issuer, sizeof(issuer), &ca->ca.subject) < 0) {
        return stk_error_set(err, STK_ECRYPTO, "the CA's subject does not fit");
    }
    struct cert_req r = {
        .kind = CERT_GATEWAY,
        .subject = "CN=" STK_TLS_GATEWAY_NAME,
        .subject_key = &ca->gw_key,
        .issuer_key = &ca->ca_key,
        .issuer = issuer,
        .not_before = now - 3600,
        .not_after = now + GATEWAY_CERT_DAYS * DAY_S,
    };
    rc = make_cert_file(ca, &r, crt_path, err);
    if (rc != STK_OK) {
        return rc;
    }
    log_created(crt_path);
    rc = stk_tls_crt_load(&ca->gw_chain, crt_path, err);
    if (rc != STK_OK) {
        return rc;
    }
chain:
    /* The agent checks the token's pin against the CA it is sent, so the
     * chain carries the CA certificate too. */
    return stk_tls_crt_parse(&ca->gw_chain, ca->ca_pem, strlen(ca->ca_pem), err);
}

enum stk_err gateway_ca_open(const char *data_dir, struct gateway_ca **out, struct stk_error *err)
{
    *out = NULL;
    struct gateway_ca *ca = calloc(1, sizeof(*ca));
    if (ca == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    mbedtls_x509_crt_init(&ca->ca);
    mbedtls_pk_init(&ca->ca_key);
    mbedtls_x509_crt_init(&ca->gw_chain);
    mbedtls_pk_init(&ca->gw_key);
    int lock_fd = -1;
    enum stk_err rc = stk_tls_rng_init(&ca->rng, "stockade-agent-ca", err);
    if (rc != STK_OK) {
        goto out;
    }
    char lock_path[4096];
    if (path_in(lock_path, sizeof(lock_path), data_dir, "ca.lock") != 0) {
        rc = stk_error_set(err, STK_EIO, "%s: path too long", data_dir);
        goto out;
    }
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
        rc = stk_error_set(err, STK_EIO, "%s: %s", lock_path, strerror(errno));
        goto out;
    }
    rc = open_ca(ca, data_dir, err);
    if (rc == STK_OK) {
        rc = open_gateway(ca, data_dir, err);
    }
out:
    if (lock_fd >= 0) {
        close(lock_fd); /* releases the lock */
    }
    if (rc != STK_OK) {
        gateway_ca_free(ca);
        return rc;
    }
    *out = ca;
    return STK_OK;
}

void gateway_ca_free(struct gateway_ca *ca)
{
    if (ca == NULL) {
        return;
    }
    mbedtls_x509_crt_free(&ca->ca);
    mbedtls_pk_free(&ca->ca_key);
    mbedtls_x509_crt_free(&ca->gw_chain);
    mbedtls_pk_free(&ca->gw_key);
    stk_tls_rng_release(&ca->rng);
    sodium_memzero(ca, sizeof(*ca));
    free(ca);
}

/* The CSR's signature over its request info: proof its sender holds the
 * private key of the public key we are about to certify. */
static int csr_signature_ok(mbedtls_x509_csr *csr)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(csr->sig_md);
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    if (md == NULL || csr->sig_pk != MBEDTLS_PK_ECDSA ||
        mbedtls_md(md, csr->cri.p, csr->cri.len, hash) != 0) {
        return 0;
    }
    return mbedtls_pk_verify(&csr->pk, csr->sig_md, hash, mbedtls_md_get_size(md), csr->sig.p,
                             csr->sig.len) == 0;
}

enum stk_err gateway_ca_issue(struct gateway_ca *ca, const char *cluster, const char *csr_pem,
                              size_t len, struct agent_cert *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > CSR_PEM_MAX) {
        return stk_error_set(err, STK_EINVAL, "csr: expected a PEM certificate request");
    }
    mbedtls_x509_csr csr;
    mbedtls_x509_csr_init(&csr);
    mbedtls_x509_crt issued;
    mbedtls_x509_crt_init(&issued);
    enum stk_err rc = STK_OK;
    char copy[CSR_PEM_MAX + 1];
    memcpy(copy, csr_pem, len);
    copy[len] = '\0';
    if (mbedtls_x509_csr_parse(&csr, (const unsigned char *)copy, len + 1) != 0) {
        rc = stk_error_set(err, STK_EINVAL, "csr: not a PEM certificate request");
        goto out;
    }
    if (mbedtls_pk_get_type(&csr.pk) != MBEDTLS_PK_ECKEY ||
        mbedtls_pk_ec(csr.pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
        rc = stk_error_set(err, STK_EINVAL, "csr: the key must be ECDSA P-256");
        goto out;
    }
    if (!csr_signature_ok(&csr)) {
        rc = stk_error_set(err, STK_EINVAL, "csr: its signature does not verify");
        goto out;
    }
    char subject[160], issuer[256];
    snprintf(subject, sizeof(subject), "CN=%s,O=" STK_TLS_AGENT_ORG, cluster);
    if (mbedtls_x509_dn_gets(issuer, sizeof(issuer), &ca->ca.subject) < 0) {
        rc = stk_error_set(err, STK_ECRYPTO, "the CA's subject does not fit");
        goto out;
    }
    long long now = (long long)time(NULL);
    struct cert_req r = {
        .kind = CERT_AGENT,
        .subject = subject,
        .subject_key = &csr.pk,
        .issuer_key = &ca->ca_key,
        .issuer = issuer,
        .not_before = now - 300,
        .not_after = now + GATEWAY_CERT_DAYS * DAY_S,
    };
    unsigned char buf[4096];
    unsigned char *der = NULL;
    size_t dlen = 0;
    rc = write_cert(ca, &r, buf, sizeof(buf), &der, &dlen, err);
    if (rc != STK_OK) {
        goto out;
    }
    if (mbedtls_x509_crt_parse_der(&issued, der, dlen) != 0) {
        rc = stk_error_set(err, STK_EINTERNAL, "the issued certificate does not parse");
        goto out;
    }
    stk_tls_crt_serial_hex(&issued, out->serial);
    unsigned char h[32];
    mbedtls_sha256_ret(der, dlen, h, 0);
    sodium_bin2hex(out->sha256, sizeof(out->sha256), h, sizeof(h));
    out->not_after = x509_time_epoch(&issued.valid_to);
    rc = der_to_pem(der, dlen, out->pem, sizeof(out->pem), err);
out:
    mbedtls_x509_crt_free(&issued);
    mbedtls_x509_csr_free(&csr);
    if (rc != STK_OK) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}
