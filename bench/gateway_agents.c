/* gateway_agents: the agent side of bench/gateway.sh. Against a running
 * `stockade serve`, enrolls N agents (tokens written straight into the
 * database, the CA pin read from the data dir), connects them all with
 * their certificates and says hello, then measures ping round trips on one
 * of them while the others sit idle, and prints key=value lines:
 *   enroll_per_s, connect_per_s, rss_before_kb, rss_after_kb, rtt_p50_us,
 *   rtt_p99_us
 * usage: gateway_agents DB DATA_DIR GATEWAY_PORT N SERVER_PID */
#include <jansson.h>
#include <mbedtls/net_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "db.h"
#include "frame.h"
#include "gateway_ca.h"
#include "stk_tls.h"
#include "svc_enroll.h"

struct conn {
    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
};

static const struct actor bench = {.name = "bench", .kind = "system", .ip = "local"};

struct ctx {
    const char *port;
    mbedtls_x509_crt ca;
    struct stk_tls_rng rng;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "gateway_agents: %s\n", what);
    exit(1);
}

static long rss_kb(const char *pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

/* Connects `c`; with a certificate in c->cert/c->key it is presented. */
static void dial(struct ctx *x, struct conn *c, int with_cert)
{
    mbedtls_net_init(&c->net);
    mbedtls_ssl_init(&c->ssl);
    mbedtls_ssl_config_init(&c->conf);
    if (stk_tls_conf_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, &x->rng, NULL) != STK_OK) {
        die("TLS configuration");
    }
    mbedtls_ssl_conf_ca_chain(&c->conf, &x->ca, NULL);
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    if (with_cert && mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key) != 0) {
        die("own certificate");
    }
    if (mbedtls_ssl_setup(&c->ssl, &c->conf) != 0 ||
        mbedtls_ssl_set_hostname(&c->ssl, STK_TLS_GATEWAY_NAME) != 0 ||
        mbedtls_net_connect(&c->net, "127.0.0.1", x->port, MBEDTLS_NET_PROTO_TCP) != 0) {
        die("connect");
    }
    stk_tls_set_nodelay(c->net.fd);
    mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, mbedtls_net_recv, NULL);
    if (mbedtls_ssl_handshake(&c->ssl) != 0) {
        die("handshake");
    }
}

static void hang_up(struct conn *c)
{
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_net_free(&c->net);
}

static void send_frame(struct conn *c, const char *json)
{
    unsigned char buf[8192];
    size_t n = strlen(json);
    if (n + 4 > sizeof(buf) || frame_header(n, buf) != STK_OK) {
        die("frame too long");
    }
    memcpy(buf + 4, json, n);
    for (size_t off = 0; off < n + 4;) {
        int ret = mbedtls_ssl_write(&c->ssl, buf + off, n + 4 - off);
        if (ret <= 0) {
            die("write");
        }
        off += (size_t)ret;
    }
}

/* The next frame (caller frees), dies when the connection ends. */
static char *read_frame(struct conn *c)
{
    struct frame_reader r;
    frame_reader_init(&r, 0);
    unsigned char buf[4096];
    char *out = NULL;
    while (out == NULL) {
        /* Whole records are read; one frame per record in practice. */
        int ret = mbedtls_ssl_read(&c->ssl, buf, sizeof(buf));
        if (ret <= 0) {
            die("read");
        }
        size_t used = 0, len = 0;
        if (frame_reader_feed(&r, buf, (size_t)ret, &used, &out, &len) != STK_OK) {
            die("frame");
        }
    }
    frame_reader_release(&r);
    return out;
}

static void enroll_one(struct ctx *x, struct db *db, const char *pin, int i, struct conn *c)
{
    char cluster[32], token[STK_ENROLL_TOKEN_MAX], csr[STK_TLS_PEM_MAX];
    snprintf(cluster, sizeof(cluster), "bench-%d", i);
    long long id = 0, exp = 0;
    if (svc_enroll_token_create(db, &bench, pin, cluster, 600, token, &id, &exp, NULL) != STK_OK) {
        die("token");
    }
    mbedtls_pk_init(&c->key);
    mbedtls_x509_crt_init(&c->cert);
    if (stk_tls_key_generate(&c->key, &x->rng, NULL) != STK_OK ||
        stk_tls_csr_pem(&c->key, "CN=bench", &x->rng, csr, sizeof(csr), NULL) != STK_OK) {
        die("key");
    }
    dial(x, c, 0);
    json_t *req = json_pack("{s:s, s:s, s:s}", "type", "enroll", "token", token, "csr", csr);
    char *text = json_dumps(req, JSON_COMPACT);
    send_frame(c, text);
    free(text);
    json_decref(req);
    char *reply = read_frame(c);
    json_t *msg = json_loads(reply, 0, NULL);
    const char *cert = json_string_value(json_object_get(msg, "cert"));
    if (cert == NULL || stk_tls_crt_parse(&c->cert, cert, strlen(cert), NULL) != STK_OK) {
        die(reply);
    }
    json_decref(msg);
    free(reply);
    hang_up(c);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: gateway_agents DB DATA_DIR GATEWAY_PORT N SERVER_PID\n");
        return 2;
    }
    struct ctx x;
    memset(&x, 0, sizeof(x));
    x.port = argv[3];
    int n = atoi(argv[4]);
    const char *pid = argv[5];
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    db_global_init();
    struct db *db = NULL;
    struct gateway_ca *ca = NULL;
    if (db_open(argv[1], &db, NULL) != STK_OK || gateway_ca_open(argv[2], &ca, NULL) != STK_OK ||
        stk_tls_rng_init(&x.rng, "bench", NULL) != STK_OK) {
        die("opening the database or the CA");
    }
    mbedtls_x509_crt_init(&x.ca);
    if (stk_tls_crt_parse(&x.ca, ca->ca_pem, strlen(ca->ca_pem), NULL) != STK_OK) {
        die("CA");
    }
    struct conn *conns = calloc((size_t)n, sizeof(*conns));
    if (conns == NULL) {
        die("memory");
    }
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        enroll_one(&x, db, ca->pin, i, &conns[i]);
    }
    double enroll_s = now_s() - t0;
    long before = rss_kb(pid);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        dial(&x, &conns[i], 1);
        send_frame(&conns[i], "{\"type\":\"hello\",\"agent_version\":\"bench\",\"facts\":{}}");
        free(read_frame(&conns[i]));
    }
    double connect_s = now_s() - t0;
    struct timespec settle = {2, 0};
    nanosleep(&settle, NULL);
    long after = rss_kb(pid);
    enum { PINGS = 2000 };
    double *rtt = calloc(PINGS, sizeof(*rtt));
    if (rtt == NULL) {
        die("memory");
    }
    for (int i = 0; i < PINGS; i++) {
        struct conn *c = &conns[(size_t)i % (size_t)n];
        double s = now_s();
        send_frame(c, "{\"type\":\"ping\",\"t\":1}");
        free(read_frame(c));
        rtt[i] = (now_s() - s) * 1e6;
    }
    qsort(rtt, PINGS, sizeof(rtt[0]), cmp_double);
    printf("agents=%d\nenroll_per_s=%.0f\nconnect_per_s=%.0f\nrss_before_kb=%ld\n"
           "rss_after_kb=%ld\nrtt_p50_us=%.0f\nrtt_p99_us=%.0f\n",
           n, n / enroll_s, n / connect_s, before, after, rtt[PINGS / 2], rtt[PINGS * 99 / 100]);
    for (int i = 0; i < n; i++) {
        hang_up(&conns[i]);
        mbedtls_x509_crt_free(&conns[i].cert);
        mbedtls_pk_free(&conns[i].key);
    }
    free(conns);
    free(rtt);
    mbedtls_x509_crt_free(&x.ca);
    stk_tls_rng_release(&x.rng);
    gateway_ca_free(ca);
    db_free(db);
    return 0;
}
