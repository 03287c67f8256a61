/* Enrollment (docs/agents.md "Enrollment"; agent.h): pin the CA by the
 * hash in the token, send a CSR, store what the server issues. */
#include <errno.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conn.h"
#include "log.h"
#include "state.h"
#include "stk_tls.h"

#define ENROLL_TIMEOUT_MS 30000 /* one attempt: connect, handshake, answer */

struct enroll {
    const struct agent_config *cfg;
    char secret[STK_ENROLL_SECRET_MAX];
    char pin[STK_TLS_SHA256_HEX];
    char key_pin[STK_TLS_SHA256_HEX]; /* SPKI hash of our key, to check the certificate */
    struct stk_tls_rng rng;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
    char csr[STK_TLS_PEM_MAX];
    /* the attempt in progress */
    int sent;
    int done;
    int fatal; /* no point retrying */
    struct stk_error result;
};

/* Loads agent.key when an earlier attempt left one, else makes it. */
static enum stk_err own_key(struct enroll *en, struct stk_error *err)
{
    char p[4096];
    if (state_path(en->cfg->state_dir, "agent.key", p, sizeof(p)) != 0) {
        return stk_error_set(err, STK_EIO, "state directory path too long");
    }
    if (access(p, F_OK) == 0) {
        return stk_tls_key_load(&en->key, p, err);
    }
    enum stk_err rc = stk_tls_key_generate(&en->key, &en->rng, err);
    if (rc != STK_OK) {
        return rc;
    }
    char pem[STK_TLS_PEM_MAX];
    rc = stk_tls_key_pem(&en->key, pem, sizeof(pem), err);
    if (rc == STK_OK) {
        rc = state_write(en->cfg->state_dir, "agent.key", pem, err);
    }
    sodium_memzero(pem, sizeof(pem));
    return rc;
}

/* Checks the `enrolled` answer and writes the state files; agent.crt
 * last, since its presence is what "enrolled" means. */
static enum stk_err store(struct enroll *en, const json_t *msg, struct stk_error *err)
{
    const char *cluster = json_string_value(json_object_get(msg, "cluster"));
    const char *cert = json_string_value(json_object_get(msg, "cert"));
    const char *ca = json_string_value(json_object_get(msg, "ca"));
    const char *cmd_key = json_string_value(json_object_get(msg, "command_key"));
    if (!state_cluster_name_ok(cluster) || cert == NULL || ca == NULL || cmd_key == NULL) {
        return stk_error_set(err, STK_EINVAL, "the gateway's enrolled message is incomplete");
    }
    unsigned char pk[STK_CMD_PK_BYTES];
    if (cmd_pk_decode(cmd_key, pk) != STK_OK) {
        return stk_error_set(err, STK_EINVAL, "the gateway sent a malformed command key");
    }
    mbedtls_x509_crt c;
    mbedtls_x509_crt a;
    mbedtls_x509_crt_init(&c);
    mbedtls_x509_crt_init(&a);
    char h[STK_TLS_SHA256_HEX];
    enum stk_err rc = stk_tls_crt_parse(&a, ca, strlen(ca), err);
    if (rc == STK_OK && (stk_tls_crt_spki_sha256(&a, h, err) != STK_OK || strcmp(h, en->pin))) {
        rc = stk_error_set(err, STK_EAUTH, "server CA does not match the enrollment token");
    }
    if (rc == STK_OK) {
        rc = stk_tls_crt_parse(&c, cert, strlen(cert), err);
    }
    if (rc == STK_OK && (stk_tls_crt_spki_sha256(&c, h, err) != STK_OK || strcmp(h, en->key_pin))) {
        rc = stk_error_set(err, STK_EAUTH, "the gateway issued a certificate for another key");
    }
    uint32_t flags = 0;
    if (rc == STK_OK && mbedtls_x509_crt_verify(&c, &a, NULL, NULL, &flags, NULL, NULL) != 0) {
        rc = stk_error_set(err, STK_EAUTH,
                           "the certificate the gateway issued does not verify "
                           "against its CA");
    }
    mbedtls_x509_crt_free(&c);
    mbedtls_x509_crt_free(&a);
    const char *dir = en->cfg->state_dir;
    if (rc == STK_OK) {
        rc = state_write(dir, "ca.crt", ca, err);
    }
    if (rc == STK_OK) {
        char line[STK_CMD_PK_B64_MAX + 2];
        snprintf(line, sizeof(line), "%s\n", cmd_key);
        rc = state_write(dir, "command.pub", line, err);
    }
    if (rc == STK_OK) {
        char line[STK_AGENT_CLUSTER_MAX + 2];
        snprintf(line, sizeof(line), "%s\n", cluster);
        rc = state_write(dir, "cluster", line, err);
    }
    if (rc == STK_OK) {
        rc = state_write(dir, "agent.crt", cert, err);
    }
    if (rc == STK_OK) {
        json_t *id = json_object_get(msg, "agent_id");
        log_event(STK_LOG_INFO, "enrolled", "cluster=%s agent_id=%lld state_dir=%s", cluster,
                  (long long)json_integer_value(id), dir);
    }
    return rc;
}

static enum stk_err on_frame(void *arg, char *payload, size_t len, struct stk_error *err)
{
    struct enroll *en = arg;
    json_t *msg = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
    free(payload);
    const char *type = json_string_value(json_object_get(msg, "type"));
    enum stk_err rc = STK_OK;
    if (type != NULL && strcmp(type, "enrolled") == 0) {
        rc = store(en, msg, &en->result);
        en->done = 1;
        en->fatal = rc == STK_EAUTH;
    } else if (type != NULL && strcmp(type, "error") == 0) {
        const char *code = json_string_value(json_object_get(msg, "code"));
        const char *message = json_string_value(json_object_get(msg, "message"));
        char m[300];
        snprintf(m, sizeof(m), "%s", message ? message : (code ? code : "no reason given"));
        for (char *q = m; *q; q++) {
            *q = (*q < 0x20 && *q > 0) ? ' ' : *q;
        }
        rc = stk_error_set(&en->result, STK_EAUTH, "enrollment refused: %s", m);
        en->done = 1;
        en->fatal = code != NULL && strcmp(code, "enroll_refused") == 0;
    } else {
        rc = stk_error_set(&en->result, STK_EINVAL,
                           "the gateway answered the enrollment with "
                           "something else");
        en->done = 1;
    }
    json_decref(msg);
    if (rc != STK_OK) {
        stk_error_set(err, rc, "%s", en->result.msg);
    }
    return rc;
}

/* The pin check and the enroll frame, once the handshake is done. */
static enum stk_err send_enroll(struct enroll *en, struct conn *c, struct stk_error *err)
{
    enum stk_err rc = stk_tls_chain_check_pin(conn_peer_chain(c), en->pin, NULL, 0, err);
    if (rc != STK_OK) {
        en->fatal = 1;
        return rc;
    }
    /* The whole token as printed: the gateway checks the pin part too. */
    json_t *msg =
        json_pack("{s:s, s:s, s:s, s:s}", "type", "enroll", "token", en->cfg->enroll_token, "csr",
                  en->csr, "agent_version", STK_AGENT_VERSION_STRING);
    rc = msg ? conn_send(c, msg, err) : stk_error_set(err, STK_ENOMEM, "out of memory");
    json_decref(msg);
    en->sent = rc == STK_OK;
    return rc;
}

/* One attempt. STK_OK once enrolled; `en->fatal` says whether a failure is
 * worth another attempt. `*stopped` when stop_fd fired. */
static enum stk_err attempt(struct enroll *en, int stop_fd, int *stopped, struct stk_error *err)
{
    struct conn c;
    conn_init(&c);
    en->sent = 0;
    en->done = 0;
    stk_error_clear(&en->result);
    int64_t now = agent_now_ms();
    int64_t deadline = now + ENROLL_TIMEOUT_MS;
    enum stk_err rc = conn_start(&c, en->cfg->server, &en->conf, now, ENROLL_TIMEOUT_MS, err);
    while (rc == STK_OK && !en->done) {
        struct pollfd fds[2] = {{.fd = conn_fd(&c), .events = conn_events(&c)},
                                {.fd = stop_fd, .events = POLLIN}};
        int left = (int)(deadline - agent_now_ms());
        if (left <= 0) {
            rc = stk_error_set(err, STK_EIO,
                               "the gateway at %s did not answer the enrollment "
                               "within %d s",
                               en->cfg->server, ENROLL_TIMEOUT_MS / 1000);
            break;
        }
        int r = poll(fds, 2, left);
        if (r < 0 && errno != EINTR) {
            rc = stk_error_set(err, STK_EIO, "poll: %s", strerror(errno));
            break;
        }
        if (r > 0 && (fds[1].revents & POLLIN)) {
            *stopped = 1;
            rc = stk_error_set(err, STK_EIO, "stopped before enrollment finished");
            break;
        }
        rc = conn_progress(&c, r > 0 ? fds[0].revents : 0, agent_now_ms(), on_frame, en, err);
        if (rc == STK_OK && conn_is_open(&c) && !en->sent) {
            rc = send_enroll(en, &c, err);
            if (rc == STK_OK) {
                rc = conn_progress(&c, 0, agent_now_ms(), on_frame, en, err);
            }
        }
    }
    /* Once the answer is in, the gateway closing the connection (which it
     * does right after `enrolled`) is no failure. */
    if (en->done && en->result.code != STK_OK) {
        rc = stk_error_set(err, en->result.code, "%s", en->result.msg);
    } else if (en->done) {
        rc = STK_OK;
    }
    conn_close(&c);
    return rc;
}

enum stk_err agent_enroll(const struct agent_config *cfg, int stop_fd, struct stk_error *err)
{
    struct enroll *en = calloc(1, sizeof(*en));
    if (en == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    en->cfg = cfg;
    mbedtls_pk_init(&en->key);
    mbedtls_ssl_config_init(&en->conf);
    enum stk_err rc = STK_OK;
    if (cfg->enroll_token == NULL ||
        stk_enroll_token_parse(cfg->enroll_token, en->secret, en->pin) != STK_OK) {
        rc = stk_error_set(err, STK_EINVAL,
                           "--enroll-token: not an enrollment token (stke_<43 characters>.<64 "
                           "hex>; make one with `stockade agent enroll-token --cluster NAME`)");
        goto out;
    }
    rc = stk_tls_rng_init(&en->rng, "stockade-agent-enroll", err);
    if (rc == STK_OK) {
        rc = own_key(en, err);
    }
    if (rc == STK_OK) {
        rc = stk_tls_pk_spki_sha256(&en->key, en->key_pin, err);
    }
    if (rc == STK_OK) {
        /* The server ignores the CSR's subject; this one only says what it is. */
        rc = stk_tls_csr_pem(&en->key, "CN=stockade-agent,O=" STK_TLS_AGENT_ORG, &en->rng, en->csr,
                             sizeof(en->csr), err);
    }
    if (rc == STK_OK) {
        rc = stk_tls_conf_defaults(&en->conf, MBEDTLS_SSL_IS_CLIENT, &en->rng, err);
    }
    if (rc != STK_OK) {
        goto out;
    }
    /* No trust anchor yet: the chain is checked against the token's pin
     * once the handshake is done (stk_tls_chain_check_pin). */
    mbedtls_ssl_conf_authmode(&en->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
    int delay = cfg->backoff_min_ms > 0 ? cfg->backoff_min_ms : 1000;
    for (;;) {
        int stopped = 0;
        log_event(STK_LOG_INFO, "enrolling", "server=%s", cfg->server);
        rc = attempt(en, stop_fd, &stopped, err);
        if (rc == STK_OK || en->fatal || stopped || rc == STK_EINVAL) {
            break;
        }
        char clean[600];
        log_event(STK_LOG_WARN, "enroll_failed", "reason=%s retry_ms=%d",
                  log_clean(err ? err->msg : "", clean, sizeof(clean)), delay);
        struct pollfd p = {.fd = stop_fd, .events = POLLIN};
        int r = poll(&p, 1, delay);
        if (r > 0) {
            rc = stk_error_set(err, STK_EIO, "stopped before enrollment finished");
            break;
        }
        delay = delay * 2 > cfg->backoff_max_ms ? cfg->backoff_max_ms : delay * 2;
    }
out:
    sodium_memzero(en->secret, sizeof(en->secret));
    mbedtls_ssl_config_free(&en->conf);
    mbedtls_pk_free(&en->key);
    stk_tls_rng_release(&en->rng);
    free(en);
    return rc;
}

enum stk_err agent_prepare(const struct agent_config *cfg, int stop_fd, struct stk_error *err)
{
    enum stk_err rc = state_dir_prepare(cfg->state_dir, err);
    if (rc != STK_OK) {
        return rc;
    }
    if (state_enrolled(cfg->state_dir)) {
        if (cfg->enroll_token != NULL) {
            log_event(STK_LOG_INFO, "enroll_skipped", "reason=already_enrolled state_dir=%s",
                      cfg->state_dir);
        }
        return STK_OK;
    }
    if (cfg->enroll_token == NULL) {
        return stk_error_set(err, STK_EINVAL,
                             "%s holds no agent.crt: enroll first with --enroll-token (from "
                             "`stockade agent enroll-token --cluster NAME`)",
                             cfg->state_dir);
    }
    return agent_enroll(cfg, stop_fd, err);
}
