/* Enrollment tokens, issuing agent certificates, revocation (svc_enroll.h). */
#include "svc_enroll.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stk_crypto.h"
#include "svc_audit.h"

int svc_enroll_cluster_ok(const char *cluster)
{
    size_t n = strlen(cluster);
    return n > 0 && n <= 63 &&
           strspn(cluster, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
               n;
}

/* Appends a success entry for a change in the open transaction; takes
 * `details`. */
static enum stk_err audit(struct db *db, const struct actor *by, const char *action,
                          const char *target, json_t *details, struct stk_error *err)
{
    struct audit_event ev = {
        .actor = by->name,
        .actor_kind = by->kind,
        .source_ip = by->ip,
        .action = action,
        .target = target,
        .outcome = "success",
        .details = details,
    };
    enum stk_err rc = details != NULL ? svc_audit_append(db, &ev, err)
                                      : stk_error_set(err, STK_ENOMEM, "out of memory");
    json_decref(details);
    return rc;
}

static enum stk_err finish(struct db *db, enum stk_err rc, struct stk_error *err)
{
    if (rc == STK_OK) {
        rc = db_commit(db, err);
    }
    db_rollback(db);
    return rc;
}

enum stk_err svc_enroll_token_create(struct db *db, const struct actor *by, const char *pin,
                                     const char *cluster, long long ttl_s,
                                     char token[STK_ENROLL_TOKEN_MAX], long long *id,
                                     long long *expires_at, struct stk_error *err)
{
    token[0] = '\0';
    *id = 0;
    *expires_at = 0;
    if (!svc_enroll_cluster_ok(cluster)) {
        return stk_error_set(err, STK_EINVAL,
                             "cluster: expected 1 to 63 letters, digits, '-', '_' or '.'");
    }
    if (ttl_s < 1 || ttl_s > SVC_ENROLL_TTL_MAX) {
        return stk_error_set(err, STK_EINVAL, "ttl: between 1 second and %d days",
                             SVC_ENROLL_TTL_MAX / 86400);
    }
    if (strlen(pin) != STK_TLS_SHA256_HEX - 1) {
        return stk_error_set(err, STK_EINTERNAL, "the agent CA is not loaded");
    }
    char secret[STK_ENROLL_SECRET_MAX + 8];
    stk_crypto_random_token(STK_ENROLL_PREFIX, secret, sizeof(secret));
    char hash[65];
    stk_crypto_hash_hex(secret, strlen(secret), hash);
    long long now = (long long)time(NULL);
    enum stk_err rc = db_begin(db, err);
    if (rc == STK_OK) {
        rc = store_agents_token_insert(db, hash, cluster, by->name, now, now + ttl_s, id, err);
    }
    if (rc == STK_OK) {
        char target[96];
        snprintf(target, sizeof(target), "cluster:%s", cluster);
        rc = audit(db, by, "agent.enroll_token.create", target,
                   json_pack("{s:I, s:s, s:I}", "token_id", (json_int_t)*id, "cluster", cluster,
                             "ttl_s", (json_int_t)ttl_s),
                   err);
    }
    rc = finish(db, rc, err);
    if (rc == STK_OK) {
        snprintf(token, STK_ENROLL_TOKEN_MAX, "%s.%s", secret, pin);
        *expires_at = now + ttl_s;
    } else {
        *id = 0;
    }
    sodium_memzero(secret, sizeof(secret));
    return rc;
}

/* The token's row, when `req->token` is one this server made and may
 * still be used; STK_EAUTH with the reason otherwise. */
static enum stk_err check_token(struct db *db, const struct gateway_ca *ca, const char *text,
                                struct enroll_token *tok, struct stk_error *err)
{
    char secret[STK_ENROLL_SECRET_MAX], pin[STK_TLS_SHA256_HEX];
    if (text == NULL || stk_enroll_token_parse(text, secret, pin) != STK_OK) {
        return stk_error_set(err, STK_EAUTH, "malformed enrollment token");
    }
    char hash[65];
    stk_crypto_hash_hex(secret, strlen(secret), hash);
    sodium_memzero(secret, sizeof(secret));
    if (strcmp(pin, ca->pin) != 0) {
        return stk_error_set(err, STK_EAUTH, "the enrollment token was made by another server");
    }
    enum stk_err rc = store_agents_token_get_by_hash(db, hash, tok, err);
    if (rc == STK_ENOTFOUND) {
        return stk_error_set(err, STK_EAUTH, "unknown enrollment token");
    }
    if (rc != STK_OK) {
        return rc;
    }
    if (tok->used_at != 0) {
        return stk_error_set(err, STK_EAUTH, "the enrollment token was already used");
    }
    if ((long long)time(NULL) >= tok->expires_at) {
        return stk_error_set(err, STK_EAUTH, "the enrollment token has expired");
    }
    return STK_OK;
}

enum stk_err svc_enroll_agent(struct db *db, struct gateway_ca *ca,
                              const struct enroll_request *req, struct enroll_result *out,
                              struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    struct enroll_token tok;
    enum stk_err rc = check_token(db, ca, req->token, &tok, err);
    if (rc != STK_OK) {
        return rc;
    }
    rc = gateway_ca_issue(ca, tok.cluster, req->csr, req->csr_len, &out->cert, err);
    if (rc != STK_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    struct agent a;
    memset(&a, 0, sizeof(a));
    snprintf(a.cluster, sizeof(a.cluster), "%s", tok.cluster);
    snprintf(a.cert_serial, sizeof(a.cert_serial), "%s", out->cert.serial);
    snprintf(a.cert_sha256, sizeof(a.cert_sha256), "%s", out->cert.sha256);
    a.cert_expires_at = out->cert.not_after;
    snprintf(a.agent_version, sizeof(a.agent_version), "%s",
             req->agent_version ? req->agent_version : "");
    a.enroll_token_id = tok.id;
    snprintf(a.enrolled_by, sizeof(a.enrolled_by), "%s", tok.created_by);
    snprintf(a.enrolled_from, sizeof(a.enrolled_from), "%s", req->address);
    long long now = (long long)time(NULL);
    a.enrolled_at = now;
    long long id = 0;
    rc = db_begin(db, err);
    if (rc == STK_OK) {
        rc = store_agents_insert(db, &a, &id, err);
    }
    if (rc == STK_OK) {
        /* Single use even against a concurrent enrollment with the same
         * token: only one transaction finds it unused. */
        rc = store_agents_token_consume(db, tok.id, id, now, err);
        if (rc == STK_ECONFLICT) {
            rc = stk_error_set(err, STK_EAUTH, "the enrollment token was already used");
        }
    }
    if (rc == STK_OK) {
        char name[96], target[32];
        snprintf(name, sizeof(name), "agent:%s", a.cluster);
        snprintf(target, sizeof(target), "agent:%lld", id);
        struct actor by = {.name = name, .kind = "system", .ip = req->address};
        rc = audit(db, &by, "agent.enroll", target,
                   json_pack("{s:s, s:I, s:s, s:s, s:s}", "cluster", a.cluster, "token_id",
                             (json_int_t)tok.id, "token_created_by", tok.created_by, "cert_serial",
                             a.cert_serial, "agent_version", a.agent_version),
                   err);
    }
    rc = finish(db, rc, err);
    if (rc != STK_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->agent_id = id;
    snprintf(out->cluster, sizeof(out->cluster), "%s", a.cluster);
    return STK_OK;
}

enum stk_err svc_enroll_revoke(struct db *db, const struct actor *by, long long id,
                               struct agent *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    enum stk_err rc = db_begin(db, err);
    if (rc == STK_OK) {
        rc = store_agents_revoke(db, id, by->name, (long long)time(NULL), out, err);
    }
    if (rc == STK_OK) {
        char target[32];
        snprintf(target, sizeof(target), "agent:%lld", id);
        rc = audit(
            db, by, "agent.revoke", target,
            json_pack("{s:s, s:s}", "cluster", out->cluster, "cert_serial", out->cert_serial), err);
    }
    rc = finish(db, rc, err);
    if (rc != STK_OK) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}
