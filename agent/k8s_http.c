/* HTTPS client for the Kubernetes API (k8s_http.h). */
#include "k8s_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <mbedtls/asn1.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stk_tls.h"

#ifndef STK_VERSION
#define STK_VERSION "0.1.0"
#endif

#define TOKEN_MAX (16u * 1024) /* bearer token file */
#define TOKEN_RELOAD_MS 60000  /* projected tokens rotate; re-read the file this often */

/* ------------------------------------------------------------------------ */
/* IP SANs: mbedTLS 2.28 lists only dNSName SANs, and API servers are
 * usually dialled by address (KUBERNETES_SERVICE_HOST is one). */

static int san_has_ip(const unsigned char *p, const unsigned char *end, const unsigned char *ip,
                      size_t iplen)
{
    size_t len = 0;
    if (mbedtls_asn1_get_tag((unsigned char **)&p, end, &len,
                             MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) {
        return 0;
    }
    end = p + len;
    while (p < end) {
        unsigned char tag = *p++;
        size_t l = 0;
        if (mbedtls_asn1_get_len((unsigned char **)&p, end, &l) != 0) {
            return 0;
        }
        /* GeneralName iPAddress is [7] IMPLICIT OCTET STRING. */
        if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && l == iplen && memcmp(p, ip, l) == 0) {
            return 1;
        }
        p += l;
    }
    return 0;
}

int k8s_http_crt_has_ip(const void *vcrt, const char *host)
{
    const mbedtls_x509_crt *crt = vcrt;
    unsigned char ip[16];
    size_t iplen = 0;
    if (inet_pton(AF_INET, host, ip) == 1) {
        iplen = 4;
    } else if (inet_pton(AF_INET6, host, ip) == 1) {
        iplen = 16;
    } else {
        return 0;
    }
    unsigned char *p = crt->v3_ext.p;
    if (p == NULL || crt->v3_ext.len == 0) {
        return 0;
    }
    const unsigned char *end = p + crt->v3_ext.len;
    size_t len = 0;
    /* v3_ext starts at the Extensions SEQUENCE (inside the [3] wrapper);
     * step into the wrapper too, should a version keep it. */
    if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) &&
        mbedtls_asn1_get_tag(&p, end, &len,
                             MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) != 0) {
        return 0;
    }
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
        0) {
        return 0;
    }
    end = p + len;
    static const unsigned char san_oid[] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */
    while (p < end) {
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
            0) {
            return 0;
        }
        const unsigned char *ext_end = p + len;
        size_t oid_len = 0;
        if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID) != 0) {
            return 0;
        }
        const unsigned char *oid = p;
        p += oid_len;
        int critical = 0;
        int ret = mbedtls_asn1_get_bool(&p, ext_end, &critical);
        if (ret != 0 && ret != MBEDTLS_ERR_ASN1_UNEXPECTED_TAG) {
            return 0;
        }
        size_t olen = 0;
        if (mbedtls_asn1_get_tag(&p, ext_end, &olen, MBEDTLS_ASN1_OCTET_STRING) != 0) {
            return 0;
        }
        if (oid_len == sizeof(san_oid) && memcmp(oid, san_oid, oid_len) == 0) {
            return san_has_ip(p, p + olen, ip, iplen);
        }
        p = (unsigned char *)ext_end;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Client */

/* The peer's socket and the deadline every read and write of the current
 * request must meet. */
struct bio {
    int fd;
    int64_t deadline_ms;
    int timed_out;
};

struct k8s_http {
    char host[256]; /* no brackets */
    char port[8];
    char address[272]; /* HOST:PORT as dialled, for messages */
    char host_header[272];
    int host_is_ip;
    int timeout_ms;
    char *token_file;
    char *token;
    int64_t token_loaded_ms;

    struct stk_tls_rng rng;
    mbedtls_x509_crt ca;
    mbedtls_ssl_config conf;

    /* The kept-alive connection, when open. */
    int open;
    struct bio bio;
    mbedtls_ssl_context ssl;
};

/* ECDHE with AEAD only, as for the gateway, but with RSA certificates
 * allowed too: kubeadm and most managed API servers use RSA keys. */
static const int k8s_ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

/* P-384 too: some API servers are issued P-384 certificates. */
static const mbedtls_ecp_group_id k8s_curves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(const struct bio *b)
{
    int64_t left = b->deadline_ms - now_ms();
    return left <= 0 ? 0 : (int)left;
}

/* Waits for `events` on the socket until the deadline. 1 ready, 0 timed
 * out, -1 error. */
static int wait_fd(struct bio *b, short events)
{
    for (;;) {
        int left = remaining_ms(b);
        if (left == 0) {
            b->timed_out = 1;
            return 0;
        }
        struct pollfd pfd = {.fd = b->fd, .events = events};
        int r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r == 0) {
            b->timed_out = 1;
            return 0;
        }
        return r > 0 ? 1 : -1;
    }
}

static int bio_send(void *ctx, const unsigned char *data, size_t len)
{
    struct bio *b = ctx;
    for (;;) {
        ssize_t n = send(b->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            return (int)n;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return MBEDTLS_ERR_NET_SEND_FAILED;
        }
        int w = wait_fd(b, POLLOUT);
        if (w == 0) {
            return MBEDTLS_ERR_SSL_TIMEOUT;
        }
        if (w < 0) {
            return MBEDTLS_ERR_NET_SEND_FAILED;
        }
    }
}

static int bio_recv(void *ctx, unsigned char *data, size_t len)
{
    struct bio *b = ctx;
    for (;;) {
        ssize_t n = recv(b->fd, data, len, MSG_DONTWAIT);
        if (n >= 0) {
            return (int)n;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return MBEDTLS_ERR_NET_RECV_FAILED;
        }
        int w = wait_fd(b, POLLIN);
        if (w == 0) {
            return MBEDTLS_ERR_SSL_TIMEOUT;
        }
        if (w < 0) {
            return MBEDTLS_ERR_NET_RECV_FAILED;
        }
    }
}

static enum stk_err timeout_error(const struct k8s_http *c, struct stk_error *err)
{
    if (c->timeout_ms % 1000 == 0) {
        return stk_error_set(err, STK_EIO, "Kubernetes API did not answer within %d s",
                             c->timeout_ms / 1000);
    }
    return stk_error_set(err, STK_EIO, "Kubernetes API did not answer within %.1f s",
                         c->timeout_ms / 1000.0);
}

static void conn_close(struct k8s_http *c)
{
    if (!c->open) {
        return;
    }
    mbedtls_ssl_free(&c->ssl);
    close(c->bio.fd);
    c->bio.fd = -1;
    c->open = 0;
}

/* A non-blocking connect to each address of the host in turn, within the
 * deadline. */
static enum stk_err dial(struct k8s_http *c, struct stk_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(c->host, c->port, &hints, &res);
    if (gai != 0) {
        return stk_error_set(err, STK_EIO, "cannot reach the Kubernetes API at %s: %s", c->address,
                             gai_strerror(gai));
    }
    int last_errno = ECONNREFUSED;
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        if (errno == EINPROGRESS) {
            c->bio.fd = fd;
            int w = wait_fd(&c->bio, POLLOUT);
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (w == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
                break;
            }
            last_errno = w == 0 ? ETIMEDOUT : (soerr != 0 ? soerr : errno);
        } else {
            last_errno = errno;
        }
        close(fd);
        fd = -1;
        if (c->bio.timed_out) {
            break;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        c->bio.fd = -1;
        if (c->bio.timed_out) {
            return timeout_error(c, err);
        }
        return stk_error_set(err, STK_EIO, "cannot reach the Kubernetes API at %s: %s", c->address,
                             strerror(last_errno));
    }
    (void)stk_tls_set_nodelay(fd); /* MEASURED.md: 40 ms per exchange without */
    c->bio.fd = fd;
    return STK_OK;
}

static enum stk_err conn_open(struct k8s_http *c, struct stk_error *err)
{
    enum stk_err rc = dial(c, err);
    if (rc != STK_OK) {
        return rc;
    }
    mbedtls_ssl_init(&c->ssl);
    c->open = 1;
    int ret = mbedtls_ssl_setup(&c->ssl, &c->conf);
    if (ret != 0) {
        rc = stk_tls_fail(err, STK_ECRYPTO, "TLS setup", ret);
        goto out;
    }
    /* Names are checked by mbedTLS; addresses below, against the IP SANs. */
    ret = mbedtls_ssl_set_hostname(&c->ssl, c->host_is_ip ? NULL : c->host);
    if (ret != 0) {
        rc = stk_tls_fail(err, STK_ECRYPTO, "TLS host name", ret);
        goto out;
    }
    mbedtls_ssl_set_bio(&c->ssl, &c->bio, bio_send, bio_recv, NULL);
    do {
        ret = mbedtls_ssl_handshake(&c->ssl);
    } while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        char info[256];
        uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
        int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
        while (n > 0 && (info[n - 1] == '\n' || info[n - 1] == ' ')) {
            info[--n] = '\0';
        }
        for (char *q = info; *q; q++) {
            if (*q == '\n') {
                *q = ';';
            }
        }
        rc = stk_error_set(err, STK_EAUTH, "Kubernetes API certificate not trusted: %s",
                           n > 0 ? info : "verification failed");
        goto out;
    }
    if (ret != 0) {
        if (c->bio.timed_out) {
            rc = timeout_error(c, err);
        } else {
            char what[320];
            snprintf(what, sizeof(what), "TLS handshake with the Kubernetes API at %s", c->address);
            rc = stk_tls_fail(err, STK_EIO, what, ret);
        }
        goto out;
    }
    if (c->host_is_ip) {
        const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
        if (peer == NULL || !k8s_http_crt_has_ip(peer, c->host)) {
            rc = stk_error_set(err, STK_EAUTH,
                               "Kubernetes API certificate not trusted: it is not issued for "
                               "the address %s",
                               c->host);
            goto out;
        }
    }
out:
    if (rc != STK_OK) {
        conn_close(c);
    }
    return rc;
}

/* Reads the token file again when the copy in memory is older than a
 * minute (or `force`). A token with bytes that could end a header line is
 * refused. */
static enum stk_err token_load(struct k8s_http *c, int force, struct stk_error *err)
{
    if (c->token != NULL && !force && now_ms() - c->token_loaded_ms < TOKEN_RELOAD_MS) {
        return STK_OK;
    }
    FILE *f = fopen(c->token_file, "rb");
    if (f == NULL) {
        return stk_error_set(err, STK_EIO, "%s: %s", c->token_file, strerror(errno));
    }
    char *t = malloc(TOKEN_MAX + 1);
    if (t == NULL) {
        fclose(f);
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    size_t n = fread(t, 1, TOKEN_MAX + 1, f);
    fclose(f);
    while (n > 0 && isspace((unsigned char)t[n - 1])) {
        n--;
    }
    t[n < TOKEN_MAX ? n : TOKEN_MAX] = '\0';
    enum stk_err rc = STK_OK;
    if (n > TOKEN_MAX) {
        rc = stk_error_set(err, STK_EINVAL, "%s: token over %u bytes", c->token_file, TOKEN_MAX);
    } else if (n == 0) {
        rc = stk_error_set(err, STK_EINVAL, "%s: empty token", c->token_file);
    } else {
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)t[i];
            if (ch <= 0x20 || ch >= 0x7f) {
                rc = stk_error_set(err, STK_EINVAL,
                                   "%s: the token holds a byte no HTTP header "
                                   "may carry",
                                   c->token_file);
                break;
            }
        }
    }
    if (rc != STK_OK) {
        sodium_memzero(t, TOKEN_MAX + 1);
        free(t);
        return rc;
    }
    if (c->token != NULL) {
        sodium_memzero(c->token, strlen(c->token));
        free(c->token);
    }
    c->token = t;
    c->token_loaded_ms = now_ms();
    return STK_OK;
}

/* "https://HOST[:PORT][/]" into host, port and the strings for messages
 * and the Host header. */
static enum stk_err parse_server(struct k8s_http *c, const char *url, struct stk_error *err)
{
    const char *p = url;
    if (strncmp(p, "https://", 8) != 0) {
        return stk_error_set(err, STK_EINVAL, "--kube-server %s: must start with https://", url);
    }
    p += 8;
    const char *host = p;
    size_t hl = 0;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close == NULL) {
            return stk_error_set(err, STK_EINVAL, "--kube-server %s: bad IPv6 address", url);
        }
        host = p + 1;
        hl = (size_t)(close - host);
        p = close + 1;
    } else {
        hl = strcspn(p, ":/");
        p += hl;
    }
    if (hl == 0 || hl >= sizeof(c->host)) {
        return stk_error_set(err, STK_EINVAL, "--kube-server %s: no host", url);
    }
    memcpy(c->host, host, hl);
    c->host[hl] = '\0';
    snprintf(c->port, sizeof(c->port), "443");
    if (*p == ':') {
        p++;
        size_t pl = strspn(p, "0123456789");
        long port = pl > 0 && pl < 6 ? strtol(p, NULL, 10) : 0;
        if (port < 1 || port > 65535) {
            return stk_error_set(err, STK_EINVAL, "--kube-server %s: bad port", url);
        }
        snprintf(c->port, sizeof(c->port), "%ld", port);
        p += pl;
    }
    if (*p != '\0' && strcmp(p, "/") != 0) {
        return stk_error_set(err, STK_EINVAL, "--kube-server %s: no path allowed after the port",
                             url);
    }
    for (const char *q = c->host; *q; q++) {
        if ((unsigned char)*q <= ' ' || *q == '@' || *q == '/' || (unsigned char)*q >= 0x7f) {
            return stk_error_set(err, STK_EINVAL, "--kube-server %s: bad host", url);
        }
    }
    unsigned char ip[16];
    c->host_is_ip = inet_pton(AF_INET, c->host, ip) == 1 || inet_pton(AF_INET6, c->host, ip) == 1;
    int v6 = strchr(c->host, ':') != NULL;
    snprintf(c->address, sizeof(c->address), v6 ? "[%s]:%s" : "%s:%s", c->host, c->port);
    snprintf(c->host_header, sizeof(c->host_header), "%s", c->address);
    return STK_OK;
}

enum stk_err k8s_http_new(const struct k8s_http_opts *opts, struct k8s_http **out,
                          struct stk_error *err)
{
    *out = NULL;
    struct k8s_http *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    c->bio.fd = -1;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : K8S_HTTP_TIMEOUT_MS;
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_ssl_config_init(&c->conf);
    enum stk_err rc = stk_tls_rng_init(&c->rng, "stockade-agent-k8s", err);
    if (rc != STK_OK) {
        goto out;
    }
    char url[600];
    if (opts->server != NULL) {
        snprintf(url, sizeof(url), "%s", opts->server);
    } else {
        /* In-cluster: the service's address from the environment. */
        const char *h = getenv("KUBERNETES_SERVICE_HOST");
        const char *port = getenv("KUBERNETES_SERVICE_PORT");
        if (h == NULL || h[0] == '\0') {
            rc = stk_error_set(err, STK_EINVAL,
                               "no --kube-server and not running in a cluster "
                               "(KUBERNETES_SERVICE_HOST is not set); or use --simulate");
            goto out;
        }
        snprintf(url, sizeof(url), strchr(h, ':') ? "https://[%s]:%s" : "https://%s:%s", h,
                 port && port[0] ? port : "443");
    }
    rc = parse_server(c, url, err);
    if (rc != STK_OK) {
        goto out;
    }
    c->token_file = strdup(opts->token_file ? opts->token_file : K8S_SA_DIR "/token");
    if (c->token_file == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    rc = token_load(c, 1, err);
    if (rc != STK_OK) {
        goto out;
    }
    rc = stk_tls_crt_load(&c->ca, opts->ca_file ? opts->ca_file : K8S_SA_DIR "/ca.crt", err);
    if (rc != STK_OK) {
        goto out;
    }
    rc = stk_tls_conf_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, &c->rng, err);
    if (rc != STK_OK) {
        goto out;
    }
    mbedtls_ssl_conf_ciphersuites(&c->conf, k8s_ciphersuites);
    mbedtls_ssl_conf_curves(&c->conf, k8s_curves);
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
out:
    if (rc != STK_OK) {
        k8s_http_free(c);
        return rc;
    }
    *out = c;
    return STK_OK;
}

void k8s_http_free(struct k8s_http *c)
{
    if (c == NULL) {
        return;
    }
    conn_close(c);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    stk_tls_rng_release(&c->rng);
    if (c->token != NULL) {
        sodium_memzero(c->token, strlen(c->token));
        free(c->token);
    }
    free(c->token_file);
    free(c);
}

const char *k8s_http_address(const struct k8s_http *c)
{
    return c->address;
}

int k8s_http_timeout_ms(const struct k8s_http *c)
{
    return c->timeout_ms;
}

void k8s_http_resp_release(struct k8s_http_resp *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
    resp->status = 0;
}

static enum stk_err write_all(struct k8s_http *c, const char *data, size_t len,
                              struct stk_error *err)
{
    while (len > 0) {
        int ret = mbedtls_ssl_write(&c->ssl, (const unsigned char *)data, len);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            continue;
        }
        if (ret <= 0) {
            if (c->bio.timed_out) {
                return timeout_error(c, err);
            }
            return stk_tls_fail(err, STK_EIO, "sending to the Kubernetes API", ret);
        }
        data += ret;
        len -= (size_t)ret;
    }
    return STK_OK;
}

/* Outcome of one attempt on one connection. */
enum attempt {
    ATTEMPT_OK,
    ATTEMPT_FAILED,
    ATTEMPT_STALE, /* a kept-alive connection the server had closed: try again */
};

static enum attempt attempt_request(struct k8s_http *c, const char *req, size_t req_len,
                                    const char *body, size_t body_len, int head_only,
                                    size_t body_max, struct k8s_http_resp *resp,
                                    struct stk_error *err)
{
    int reused = c->open;
    enum stk_err rc = STK_OK;
    if (!c->open) {
        rc = conn_open(c, err);
        if (rc != STK_OK) {
            return ATTEMPT_FAILED;
        }
    }
    rc = write_all(c, req, req_len, err);
    if (rc == STK_OK && body_len > 0) {
        rc = write_all(c, body, body_len, err);
    }
    if (rc != STK_OK) {
        conn_close(c);
        return reused && !c->bio.timed_out ? ATTEMPT_STALE : ATTEMPT_FAILED;
    }
    struct k8s_resp_parser p;
    k8s_resp_parser_init(&p, body_max);
    p.head_only = head_only;
    size_t received = 0;
    enum attempt result = ATTEMPT_FAILED;
    unsigned char in[16384];
    while (p.state != K8S_RESP_DONE) {
        int ret = mbedtls_ssl_read(&c->ssl, in, sizeof(in));
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            continue;
        }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
            ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == MBEDTLS_ERR_NET_CONN_RESET) {
            if (received == 0 && reused) {
                result = ATTEMPT_STALE;
                goto out;
            }
            if (k8s_resp_parser_eof(&p, err) != STK_OK) {
                goto out;
            }
            p.keep_alive = 0;
            break;
        }
        if (ret < 0) {
            if (c->bio.timed_out) {
                timeout_error(c, err);
            } else {
                stk_tls_fail(err, STK_EIO, "reading from the Kubernetes API", ret);
            }
            goto out;
        }
        received += (size_t)ret;
        size_t used = 0;
        if (k8s_resp_parser_feed(&p, (const char *)in, (size_t)ret, &used, err) != STK_OK) {
            goto out;
        }
    }
    resp->status = p.status;
    resp->len = p.body.len;
    resp->body = buf_take(&p.body);
    if (resp->body == NULL) {
        stk_error_set(err, STK_ENOMEM, "out of memory");
        resp->len = 0;
        goto out;
    }
    result = ATTEMPT_OK;
out:
    if (result != ATTEMPT_OK || !p.keep_alive) {
        conn_close(c);
    }
    k8s_resp_parser_release(&p);
    return result;
}

static int path_ok(const char *path)
{
    if (path == NULL || path[0] != '/') {
        return 0;
    }
    for (const unsigned char *q = (const unsigned char *)path; *q; q++) {
        if (*q <= ' ' || *q >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

enum stk_err k8s_http_request(struct k8s_http *c, const char *method, const char *path,
                              const char *content_type, const char *body, size_t body_len,
                              size_t body_max, struct k8s_http_resp *resp, struct stk_error *err)
{
    memset(resp, 0, sizeof(*resp));
    if (!path_ok(path)) {
        return stk_error_set(err, STK_EINVAL, "bad request path");
    }
    enum stk_err rc = token_load(c, 0, err);
    if (rc != STK_OK) {
        return rc;
    }
    struct buf req;
    buf_init(&req, 64 * 1024);
    int with_body = body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "PATCH") == 0;
    int head_only = strcmp(method, "HEAD") == 0;
    int tried_new_token = 0;
    int answered = 0;
    for (int attempt = 0; attempt < 3 && !answered; attempt++) {
        buf_reset(&req);
        rc = buf_printf(&req,
                        "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: stockade-agent/" STK_VERSION
                        "\r\nAccept: application/json\r\nAuthorization: Bearer %s\r\n",
                        method, path, c->host_header, c->token);
        if (rc == STK_OK && with_body) {
            rc = buf_printf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                            content_type ? content_type : "application/json", body_len);
        }
        if (rc == STK_OK) {
            rc = buf_append_str(&req, "\r\n");
        }
        if (rc != STK_OK) {
            rc = stk_error_set(err, STK_EINVAL, "request too large");
            break;
        }
        c->bio.deadline_ms = now_ms() + c->timeout_ms;
        c->bio.timed_out = 0;
        enum attempt a =
            attempt_request(c, req.data, req.len, body, with_body ? body_len : 0, head_only,
                            body_max ? body_max : K8S_HTTP_BODY_MAX, resp, err);
        if (a == ATTEMPT_STALE) {
            continue;
        }
        if (a == ATTEMPT_FAILED) {
            rc = err != NULL && err->code != STK_OK ? err->code : STK_EIO;
            break;
        }
        /* A rotated token: read the file again once, then retry. */
        if (resp->status == 401 && !tried_new_token) {
            tried_new_token = 1;
            char *old = c->token ? strdup(c->token) : NULL;
            if (token_load(c, 1, NULL) == STK_OK && old != NULL && strcmp(old, c->token) != 0) {
                sodium_memzero(old, strlen(old));
                free(old);
                k8s_http_resp_release(resp);
                continue;
            }
            if (old != NULL) {
                sodium_memzero(old, strlen(old));
                free(old);
            }
        }
        answered = 1;
    }
    if (rc == STK_OK && !answered) {
        rc = stk_error_set(err, STK_EIO, "the Kubernetes API at %s closed the connection",
                           c->address);
    }
    if (req.data != NULL) {
        sodium_memzero(req.data, req.cap);
    }
    buf_release(&req);
    if (rc != STK_OK) {
        k8s_http_resp_release(resp);
    }
    return rc;
}
