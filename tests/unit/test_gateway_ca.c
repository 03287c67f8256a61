/* server/gateway_ca.c and common/stk_tls.c: creating and reloading the
 * agent CA, the gateway certificate, issuing agent certificates from
 * CSRs, the CA pin and the enrollment token's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway_ca.h"
#include "log.h"
#include "stk_tls.h"
#include "testutil.h"

struct fixture {
    char dir[64];
    struct stk_tls_rng rng;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/stk-ca-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(stk_tls_rng_init(&f->rng, "test", NULL), STK_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    stk_tls_rng_release(&f->rng);
    free(f);
    return 0;
}

static unsigned file_mode(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 0777);
}

/* A fresh P-256 key and its CSR (PEM) in `csr`. */
static void make_csr(struct fixture *f, char *csr, size_t n)
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    assert_int_equal(stk_tls_key_generate(&pk, &f->rng, NULL), STK_OK);
    assert_int_equal(stk_tls_csr_pem(&pk, "CN=ignored,O=evil", &f->rng, csr, n, NULL), STK_OK);
    mbedtls_pk_free(&pk);
}

static void creates_then_reloads(void **state)
{
    struct fixture *f = *state;
    struct gateway_ca *ca = NULL;
    assert_int_equal(gateway_ca_open(f->dir, &ca, NULL), STK_OK);
    assert_int_equal(file_mode(f->dir, "ca.key"), 0600);
    assert_int_equal(file_mode(f->dir, "gateway.key"), 0600);
    assert_int_equal(file_mode(f->dir, "ca.crt"), 0644);
    assert_int_equal(strlen(ca->pin), 64);
    assert_non_null(strstr(ca->ca_pem, "BEGIN CERTIFICATE"));
    char subject[128];
    mbedtls_x509_dn_gets(subject, sizeof(subject), &ca->ca.subject);
    assert_string_equal(subject, "CN=Stockade agent CA");
    assert_true(ca->ca.ca_istrue);
    /* The gateway sends its certificate and the CA. */
    assert_non_null(ca->gw_chain.next);
    mbedtls_x509_dn_gets(subject, sizeof(subject), &ca->gw_chain.subject);
    assert_string_equal(subject, "CN=" STK_TLS_GATEWAY_NAME);
    uint32_t flags = 0;
    assert_int_equal(mbedtls_x509_crt_verify(&ca->gw_chain, &ca->ca, NULL, STK_TLS_GATEWAY_NAME,
                                             &flags, NULL, NULL),
                     0);
    assert_int_equal(
        mbedtls_x509_crt_check_extended_key_usage(&ca->gw_chain, MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
        0);
    /* The pin is the CA's own SPKI hash, the same through both helpers. */
    char pin[STK_TLS_SHA256_HEX], pin2[STK_TLS_SHA256_HEX];
    assert_int_equal(stk_tls_crt_spki_sha256(&ca->ca, pin, NULL), STK_OK);
    assert_int_equal(stk_tls_pk_spki_sha256(&ca->ca_key, pin2, NULL), STK_OK);
    assert_string_equal(pin, ca->pin);
    assert_string_equal(pin2, ca->pin);
    char first_pin[STK_TLS_SHA256_HEX];
    strcpy(first_pin, ca->pin);
    gateway_ca_free(ca);

    ca = NULL;
    assert_int_equal(gateway_ca_open(f->dir, &ca, NULL), STK_OK);
    assert_string_equal(ca->pin, first_pin);
    gateway_ca_free(ca);
    gateway_ca_free(NULL);
}

static void gateway_cert_is_reissued_when_missing(void **state)
{
    struct fixture *f = *state;
    struct gateway_ca *ca = NULL;
    assert_int_equal(gateway_ca_open(f->dir, &ca, NULL), STK_OK);
    char serial[STK_TLS_SERIAL_HEX];
    stk_tls_crt_serial_hex(&ca->gw_chain, serial);
    gateway_ca_free(ca);
    char path[256];
    snprintf(path, sizeof(path), "%s/gateway.crt", f->dir);
    assert_int_equal(unlink(path), 0);
    ca = NULL;
    assert_int_equal(gateway_ca_open(f->dir, &ca, NULL), STK_OK);
    char again[STK_TLS_SERIAL_HEX];
    stk_tls_crt_serial_hex(&ca->gw_chain, again);
    assert_string_not_equal(serial, again);
    gateway_ca_free(ca);
}

static void refuses_broken_files(void **state)
{
    struct fixture *f = *state;
    struct gateway_ca *ca = NULL;
    assert_int_equal(gateway_ca_open(f->dir, &ca, NULL), STK_OK);
    gateway_ca_free(ca);
    char path[256];
    struct stk_error err;

    /* A key readable by others. */
    snprintf(path, sizeof(path), "%s/ca.key", f->dir);
    assert_int_equal(chmod(path, 0644), 0);
    ca = (struct gateway_ca *)1;
    assert_int_equal(gateway_ca_open(f->dir, &ca, &err), STK_EIO);
    assert_null(ca);
    assert_non_null(strstr(err.msg, "readable by group or others"));
    assert_int_equal(chmod(path, 0600), 0);

    /* A certificate without its key: never silently a new CA. */
    char moved[256];
    snprintf(moved, sizeof(moved), "%s/ca.key.away", f->dir);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(gateway_ca_open(f->dir, &ca, &err), STK_EIO);
    assert_null(ca);
    assert_non_null(strstr(err.msg, "ca.key does not"));

    /* A key that is not the certificate's. */
    struct fixture other;
    snprintf(other.dir, sizeof(other.dir), "/tmp/stk-ca2-XXXXXX");
    assert_non_null(mkdtemp(other.dir));
    assert_int_equal(gateway_ca_open(other.dir, &ca, NULL), STK_OK);
    gateway_ca_free(ca);
    char theirs[256];
    snprintf(theirs, sizeof(theirs), "%s/ca.key", other.dir);
    assert_int_equal(rename(theirs, path), 0);
    assert_int_equal(gateway_ca_open(f->dir, &ca, &err), STK_EIO);
    assert_null(ca);
    assert_non_null(strstr(err.msg, "does not belong"));
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", other.dir);
    assert_int_equal(system(cmd), 0);
}

static void issues_client_certificates(void **state)
{
    struct fixture *f = *state;
    struct gateway_ca *ca = NULL;
    assert_int_equal(gateway_ca_open(f->dir, &ca, NULL), STK_OK);
    char csr[STK_TLS_PEM_MAX];
    make_csr(f, csr, sizeof(csr));
    struct agent_cert *cert = calloc(1, sizeof(*cert));
    assert_non_null(cert);
    assert_int_equal(gateway_ca_issue(ca, "prod-aks", csr, strlen(csr), cert, NULL), STK_OK);
    assert_int_equal(strlen(cert->serial), 32);
    assert_int_equal(strlen(cert->sha256), 64);
    long long days = (cert->not_after - (long long)time(NULL)) / 86400;
    assert_true(days >= 364 && days <= 365);

    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(stk_tls_crt_parse(&crt, cert->pem, strlen(cert->pem), NULL), STK_OK);
    char subject[128];
    mbedtls_x509_dn_gets(subject, sizeof(subject), &crt.subject);
    /* The CSR's subject is ignored. */
    assert_string_equal(subject, "CN=prod-aks, O=stockade-agent");
    char serial[STK_TLS_SERIAL_HEX];
    stk_tls_crt_serial_hex(&crt, serial);
    assert_string_equal(serial, cert->serial);
    assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(
                         &crt, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
                     0);
    assert_int_not_equal(
        mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
        0);
    assert_false(crt.ca_istrue);
    uint32_t flags = 0;
    assert_int_equal(mbedtls_x509_crt_verify(&crt, &ca->ca, NULL, NULL, &flags, NULL, NULL), 0);
    mbedtls_x509_crt_free(&crt);
    free(cert);
    gateway_ca_free(ca);
}

static void serials_are_unique(void **state)
{
    struct fixture *f = *state;
    struct gateway_ca *ca = NULL;
    assert_int_equal(gateway_ca_open(f->dir, &ca, NULL), STK_OK);
    char csr[STK_TLS_PEM_MAX];
    make_csr(f, csr, sizeof(csr));
    enum { N = 100 };
    char(*serials)[STK_TLS_SERIAL_HEX] = calloc(N, STK_TLS_SERIAL_HEX);
    struct agent_cert *cert = calloc(1, sizeof(*cert));
    assert_non_null(serials);
    assert_non_null(cert);
    for (int i = 0; i < N; i++) {
        assert_int_equal(gateway_ca_issue(ca, "c", csr, strlen(csr), cert, NULL), STK_OK);
        assert_int_equal(strlen(cert->serial), 32);
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(serials[j], cert->serial);
        }
        strcpy(serials[i], cert->serial);
    }
    free(serials);
    free(cert);
    gateway_ca_free(ca);
}

static void refuses_bad_csrs(void **state)
{
    struct fixture *f = *state;
    struct gateway_ca *ca = NULL;
    assert_int_equal(gateway_ca_open(f->dir, &ca, NULL), STK_OK);
    struct agent_cert *cert = calloc(1, sizeof(*cert));
    assert_non_null(cert);
    struct stk_error err;
    assert_int_equal(gateway_ca_issue(ca, "c", "garbage", 7, cert, &err), STK_EINVAL);
    assert_int_equal(cert->serial[0], '\0');
    assert_int_equal(cert->pem[0], '\0');
    assert_int_equal(gateway_ca_issue(ca, "c", "", 0, cert, &err), STK_EINVAL);

    /* The signature over the request must verify: change one letter of
     * the subject in the DER, which still parses. */
    char csr[STK_TLS_PEM_MAX];
    make_csr(f, csr, sizeof(csr));
    mbedtls_pem_context pem;
    mbedtls_pem_init(&pem);
    size_t used = 0;
    assert_int_equal(mbedtls_pem_read_buffer(&pem, "-----BEGIN CERTIFICATE REQUEST-----",
                                             "-----END CERTIFICATE REQUEST-----",
                                             (const unsigned char *)csr, NULL, 0, &used),
                     0);
    unsigned char der[1024];
    size_t dlen = 0;
    const unsigned char *buf = pem.buf;
    dlen = pem.buflen;
    assert_true(dlen < sizeof(der));
    memcpy(der, buf, dlen);
    mbedtls_pem_free(&pem);
    unsigned char *at = memmem(der, dlen, "ignored", 7);
    assert_non_null(at);
    at[6] = 'x';
    size_t olen = 0;
    assert_int_equal(mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE REQUEST-----\n",
                                              "-----END CERTIFICATE REQUEST-----\n", der, dlen,
                                              (unsigned char *)csr, sizeof(csr), &olen),
                     0);
    enum stk_err rc = gateway_ca_issue(ca, "c", csr, strlen(csr), cert, &err);
    assert_int_equal(rc, STK_EINVAL);
    assert_string_equal(err.msg, "csr: its signature does not verify");
    assert_int_equal(cert->serial[0], '\0');
    free(cert);
    gateway_ca_free(ca);
}

static void token_shape(void **state)
{
    (void)state;
    char secret[STK_ENROLL_SECRET_MAX], pin[STK_TLS_SHA256_HEX];
    char tok[STK_ENROLL_TOKEN_MAX];
    snprintf(tok, sizeof(tok), "stke_%s.%s", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_int_equal(strlen(tok), STK_ENROLL_TOKEN_MAX - 1);
    assert_int_equal(stk_enroll_token_parse(tok, secret, pin), STK_OK);
    assert_string_equal(secret, "stke_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq");
    assert_string_equal(pin, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    const char *bad[] = {
        "",
        "stke_",
        "stk_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr.0123456789abcdef0123456789abcdef012345"
        "6789abcdef0123456789abcdef",
        /* upper-case hex */
        "stke_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq.0123456789ABCDEF0123456789abcdef0123456"
        "789abcdef0123456789abcdef",
        /* '+' is not base64url */
        "stke_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop+.0123456789abcdef0123456789abcdef0123456"
        "789abcdef0123456789abcdef",
        /* one character short, then '.' moved */
        "stke_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop.00123456789abcdef0123456789abcdef0123456"
        "789abcdef0123456789abcdef",
        NULL,
    };
    for (size_t i = 0; bad[i] != NULL; i++) {
        assert_int_equal(stk_enroll_token_parse(bad[i], secret, pin), STK_EINVAL);
        assert_int_equal(secret[0], '\0');
        assert_int_equal(pin[0], '\0');
    }
    assert_int_equal(stk_enroll_token_parse(NULL, secret, pin), STK_EINVAL);
}

static void chain_pin_check(void **state)
{
    struct fixture *f = *state;
    struct gateway_ca *ca = NULL;
    assert_int_equal(gateway_ca_open(f->dir, &ca, NULL), STK_OK);
    char pem[STK_TLS_PEM_MAX];
    assert_int_equal(stk_tls_chain_check_pin(&ca->gw_chain, ca->pin, pem, sizeof(pem), NULL),
                     STK_OK);
    assert_string_equal(pem, ca->ca_pem);
    struct stk_error err;
    char wrong[STK_TLS_SHA256_HEX];
    memset(wrong, 'a', 64);
    wrong[64] = '\0';
    assert_int_equal(stk_tls_chain_check_pin(&ca->gw_chain, wrong, pem, sizeof(pem), &err),
                     STK_EAUTH);
    assert_string_equal(err.msg, "server CA does not match the enrollment token");
    assert_int_equal(pem[0], '\0');
    /* The CA alone (no gateway certificate for the name) does not pass. */
    assert_int_equal(stk_tls_chain_check_pin(&ca->ca, ca->pin, NULL, 0, &err), STK_EAUTH);
    gateway_ca_free(ca);
}

static void write_file_is_atomic_with_mode(void **state)
{
    struct fixture *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/x.key", f->dir);
    assert_int_equal(stk_tls_write_file(path, "one", 3, 0600, NULL), STK_OK);
    assert_int_equal(stk_tls_write_file(path, "two!", 4, 0600, NULL), STK_OK);
    assert_int_equal(file_mode(f->dir, "x.key"), 0600);
    size_t len = 0;
    char *text = read_file(path, &len);
    assert_string_equal(text, "two!");
    free(text);
    struct stk_error err;
    assert_int_equal(stk_tls_write_file("/nonexistent/dir/x", "a", 1, 0600, &err), STK_EIO);
}

int main(void)
{
    log_set_level(STK_LOG_WARN); /* the CA and gateway narrate at info */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(creates_then_reloads, setup, teardown),
        cmocka_unit_test_setup_teardown(gateway_cert_is_reissued_when_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_broken_files, setup, teardown),
        cmocka_unit_test_setup_teardown(issues_client_certificates, setup, teardown),
        cmocka_unit_test_setup_teardown(serials_are_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_bad_csrs, setup, teardown),
        cmocka_unit_test(token_shape),
        cmocka_unit_test_setup_teardown(chain_pin_check, setup, teardown),
        cmocka_unit_test_setup_teardown(write_file_is_atomic_with_mode, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
