/* server/gateway.c in-process: a real gateway on 127.0.0.1:0 and an agent
 * written with common/stk_tls.h the way agent/ uses it (blocking mbedTLS
 * client). Enrollment with the pin check, hello/welcome, and the
 * thread-safe API: gateway_connected, gateway_send (delivery, unknown
 * cluster, too large, a reader that stopped: STK_ELIMIT) and gateway_kick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <mbedtls/net_sockets.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "cmd_sign.h"
#include "db.h"
#include "frame.h"
#include "gateway.h"
#include "log.h"
#include "migrate.h"
#include "stk_tls.h"
#include "svc_enroll.h"

static const struct actor tester = {.name = "tester", .kind = "system", .ip = "local"};

struct fixture {
    char dir[64];
    struct app app;
    struct db *db;
    struct stk_tls_rng rng;
    char port[16];
};

/* One agent-side TLS connection (blocking). */
struct client {
    mbedtls_net_context net;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/stk-gw-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char db_path[128];
    snprintf(db_path, sizeof(db_path), "%s/stockade.db", f->dir);
    struct config *cfg = &f->app.cfg;
    assert_int_equal(config_init(cfg), STK_OK);
    assert_int_equal(config_set(cfg, "data_dir", f->dir, "test", NULL), STK_OK);
    assert_int_equal(config_set(cfg, "db", db_path, "test", NULL), STK_OK);
    assert_int_equal(config_set(cfg, "agent_listen", "127.0.0.1:0", "test", NULL), STK_OK);
    assert_int_equal(db_open(db_path, &f->db, NULL), STK_OK);
    assert_int_equal(migrate_apply(f->db, migrate_builtin(), NULL, NULL, NULL), STK_OK);
    assert_int_equal(stk_tls_rng_init(&f->rng, "test-agent", NULL), STK_OK);
    struct stk_error err;
    stk_error_clear(&err);
    if (gateway_start(&f->app, &f->app.gateway, &err) != STK_OK) {
        fail_msg("gateway_start: %s", err.msg);
    }
    const char *addr = gateway_address(f->app.gateway);
    snprintf(f->port, sizeof(f->port), "%s", strrchr(addr, ':') + 1);
    assert_int_equal(strlen(f->app.agent_ca_pin), 64);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    gateway_free(f->app.gateway);
    db_free(f->db);
    config_release(&f->app.cfg);
    stk_tls_rng_release(&f->rng);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Connects; with `ca_pem` the gateway is verified against it (required),
 * else anything goes (enrollment checks the pin afterwards). */
static void client_connect(struct fixture *f, struct client *c, const char *ca_pem,
                           const char *cert_pem, const char *key_pem)
{
    memset(c, 0, sizeof(*c));
    mbedtls_net_init(&c->net);
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_ssl_init(&c->ssl);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_x509_crt_init(&c->cert);
    mbedtls_pk_init(&c->key);
    assert_int_equal(stk_tls_conf_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, &f->rng, NULL), STK_OK);
    if (ca_pem != NULL) {
        assert_int_equal(stk_tls_crt_parse(&c->ca, ca_pem, strlen(ca_pem), NULL), STK_OK);
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    if (cert_pem != NULL) {
        assert_int_equal(stk_tls_crt_parse(&c->cert, cert_pem, strlen(cert_pem), NULL), STK_OK);
        assert_int_equal(mbedtls_pk_parse_key(&c->key, (const unsigned char *)key_pem,
                                              strlen(key_pem) + 1, NULL, 0),
                         0);
        assert_int_equal(mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key), 0);
    }
    assert_int_equal(mbedtls_ssl_setup(&c->ssl, &c->conf), 0);
    assert_int_equal(mbedtls_ssl_set_hostname(&c->ssl, STK_TLS_GATEWAY_NAME), 0);
    assert_int_equal(mbedtls_net_connect(&c->net, "127.0.0.1", f->port, MBEDTLS_NET_PROTO_TCP), 0);
    assert_int_equal(stk_tls_set_nodelay(c->net.fd), 0);
    mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, mbedtls_net_recv, NULL);
    int ret;
    while ((ret = mbedtls_ssl_handshake(&c->ssl)) != 0) {
        assert_true(ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    }
}

static void client_close(struct client *c)
{
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crt_free(&c->cert);
    mbedtls_pk_free(&c->key);
    mbedtls_net_free(&c->net);
}

static void client_send(struct client *c, const char *json)
{
    size_t n = strlen(json);
    unsigned char *buf = malloc(n + STK_FRAME_HEADER);
    assert_non_null(buf);
    assert_int_equal(frame_header(n, buf), STK_OK);
    memcpy(buf + STK_FRAME_HEADER, json, n);
    size_t off = 0;
    while (off < n + STK_FRAME_HEADER) {
        int ret = mbedtls_ssl_write(&c->ssl, buf + off, n + STK_FRAME_HEADER - off);
        assert_true(ret > 0);
        off += (size_t)ret;
    }
    free(buf);
}

/* The next frame as JSON, or NULL when the server closed the connection. */
static json_t *client_next(struct client *c)
{
    struct frame_reader r;
    frame_reader_init(&r, 0);
    unsigned char byte;
    json_t *msg = NULL;
    for (;;) {
        int ret = mbedtls_ssl_read(&c->ssl, &byte, 1);
        if (ret <= 0) {
            break;
        }
        size_t used = 0, len = 0;
        char *out = NULL;
        assert_int_equal(frame_reader_feed(&r, &byte, 1, &used, &out, &len), STK_OK);
        if (out != NULL) {
            msg = json_loadb(out, len, 0, NULL);
            free(out);
            assert_non_null(msg);
            break;
        }
    }
    frame_reader_release(&r);
    return msg;
}

struct identity {
    long long agent_id;
    char cert[STK_TLS_PEM_MAX];
    char key[STK_TLS_PEM_MAX];
    char ca[STK_TLS_PEM_MAX];
};

/* Enrolls the way the agent does: pin check, key, CSR, enroll frame. */
static void enroll(struct fixture *f, const char *cluster, struct identity *id)
{
    char token[STK_ENROLL_TOKEN_MAX];
    long long tid = 0, exp = 0;
    assert_int_equal(svc_enroll_token_create(f->db, &tester, f->app.agent_ca_pin, cluster, 60,
                                             token, &tid, &exp, NULL),
                     STK_OK);
    char secret[STK_ENROLL_SECRET_MAX], pin[STK_TLS_SHA256_HEX];
    assert_int_equal(stk_enroll_token_parse(token, secret, pin), STK_OK);

    struct client c;
    client_connect(f, &c, NULL, NULL, NULL);
    const mbedtls_x509_crt *chain = mbedtls_ssl_get_peer_cert(&c.ssl);
    assert_non_null(chain);
    assert_int_equal(stk_tls_chain_check_pin(chain, pin, id->ca, sizeof(id->ca), NULL), STK_OK);

    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    char csr[STK_TLS_PEM_MAX];
    assert_int_equal(stk_tls_key_generate(&pk, &f->rng, NULL), STK_OK);
    assert_int_equal(stk_tls_key_pem(&pk, id->key, sizeof(id->key), NULL), STK_OK);
    assert_int_equal(stk_tls_csr_pem(&pk, "CN=agent", &f->rng, csr, sizeof(csr), NULL), STK_OK);
    mbedtls_pk_free(&pk);

    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "type", "enroll", "token", token, "csr", csr,
                            "agent_version", "test");
    char *text = json_dumps(req, JSON_COMPACT);
    client_send(&c, text);
    free(text);
    json_decref(req);
    json_t *reply = client_next(&c);
    assert_non_null(reply);
    assert_string_equal(json_string_value(json_object_get(reply, "type")), "enrolled");
    assert_string_equal(json_string_value(json_object_get(reply, "cluster")), cluster);
    assert_string_equal(json_string_value(json_object_get(reply, "ca")), id->ca);
    unsigned char cpk[32];
    assert_int_equal(cmd_pk_decode(json_string_value(json_object_get(reply, "command_key")), cpk),
                     STK_OK);
    id->agent_id = json_integer_value(json_object_get(reply, "agent_id"));
    snprintf(id->cert, sizeof(id->cert), "%s", json_string_value(json_object_get(reply, "cert")));
    json_decref(reply);
    assert_null(client_next(&c)); /* the server closes after answering */
    client_close(&c);
    sodium_memzero(secret, sizeof(secret));
}

static void hello(struct fixture *f, struct client *c, const struct identity *id,
                  const char *cluster)
{
    client_connect(f, c, id->ca, id->cert, id->key);
    client_send(c, "{\"type\":\"hello\",\"agent_version\":\"test\",\"facts\":{}}");
    json_t *w = client_next(c);
    assert_non_null(w);
    assert_string_equal(json_string_value(json_object_get(w, "type")), "welcome");
    assert_string_equal(json_string_value(json_object_get(w, "cluster")), cluster);
    assert_int_equal(json_integer_value(json_object_get(w, "heartbeat_s")), 15);
    json_decref(w);
}

static void enroll_hello_send_kick(void **state)
{
    struct fixture *f = *state;
    struct gateway *gw = f->app.gateway;
    struct identity *id = calloc(1, sizeof(*id));
    assert_non_null(id);
    enroll(f, "prod-aks", id);
    assert_true(id->agent_id > 0);
    assert_false(gateway_connected(gw, "prod-aks"));
    assert_int_equal(gateway_send(gw, "prod-aks", "{}", 2), STK_ENOTFOUND);

    struct client c;
    hello(f, &c, id, "prod-aks");
    /* Registered before welcome was written. */
    assert_true(gateway_connected(gw, "prod-aks"));
    assert_false(gateway_connected(gw, "other"));

    const char *cmd = "{\"type\":\"command\",\"payload\":\"{}\",\"sig\":\"x\"}";
    assert_int_equal(gateway_send(gw, "prod-aks", cmd, strlen(cmd)), STK_OK);
    json_t *got = client_next(&c);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "type")), "command");
    json_decref(got);

    assert_int_equal(gateway_send(gw, "prod-aks", cmd, 0), STK_ETOOBIG);
    assert_int_equal(gateway_send(gw, "prod-aks", cmd, STK_FRAME_MAX + 1), STK_ETOOBIG);
    assert_int_equal(gateway_send(gw, "nobody", cmd, strlen(cmd)), STK_ENOTFOUND);

    client_send(&c, "{\"type\":\"ping\",\"t\":[1,{\"a\":2}]}");
    got = client_next(&c);
    assert_non_null(got);
    char *text = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"t\":[1,{\"a\":2}],\"type\":\"pong\"}");
    free(text);
    json_decref(got);

    gateway_kick(gw, id->agent_id);
    assert_null(client_next(&c));
    client_close(&c);
    for (int i = 0; i < 100 && gateway_connected(gw, "prod-aks"); i++) {
        sleep_ms(10);
    }
    assert_false(gateway_connected(gw, "prod-aks"));
    gateway_kick(gw, 424242); /* nobody: a no-op */
    free(id);
}

static void stuck_reader_gets_elimit(void **state)
{
    struct fixture *f = *state;
    struct gateway *gw = f->app.gateway;
    struct identity *id = calloc(1, sizeof(*id));
    assert_non_null(id);
    enroll(f, "stuck", id);
    struct client c;
    hello(f, &c, id, "stuck");
    /* The agent reads nothing more: once the kernel's buffers are full,
     * accounted bytes pile up until gateway_send refuses. */
    size_t n = 1024 * 1024 - 64;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'x', n);
    memcpy(big, "{\"type\":\"command\",\"pad\":\"", 26);
    memcpy(big + n - 2, "\"}", 2);
    big[n] = '\0';
    enum stk_err rc = STK_OK;
    int sent = 0;
    for (; sent < 200 && rc == STK_OK; sent++) {
        rc = gateway_send(gw, "stuck", big, n);
        sleep_ms(20);
    }
    assert_int_equal(rc, STK_ELIMIT);
    assert_true(sent > 4);
    /* Still connected: a full queue refuses frames, it does not drop. */
    assert_true(gateway_connected(gw, "stuck"));
    free(big);
    client_close(&c);
    free(id);
}

static void newer_connection_replaces_older(void **state)
{
    struct fixture *f = *state;
    struct gateway *gw = f->app.gateway;
    struct identity *id = calloc(1, sizeof(*id));
    assert_non_null(id);
    enroll(f, "dup", id);
    struct client a, b;
    hello(f, &a, id, "dup");
    hello(f, &b, id, "dup");
    assert_null(client_next(&a));
    assert_true(gateway_connected(gw, "dup"));
    const char *cmd = "{\"type\":\"command\"}";
    assert_int_equal(gateway_send(gw, "dup", cmd, strlen(cmd)), STK_OK);
    json_t *got = client_next(&b);
    assert_non_null(got);
    json_decref(got);
    client_close(&a);
    client_close(&b);
    free(id);
}

int main(void)
{
    db_global_init();
    log_set_level(STK_LOG_WARN); /* the CA and gateway narrate at info */
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(enroll_hello_send_kick, setup, teardown),
        cmocka_unit_test_setup_teardown(stuck_reader_gets_elimit, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_connection_replaces_older, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
