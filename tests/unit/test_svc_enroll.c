/* server/svc_enroll.c and server/store_agents.c against an in-memory
 * database: enrollment tokens (stored as hashes, single use, expiry, the
 * pin), enrolling, revoking, and what the gateway reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway_ca.h"
#include "log.h"
#include "migrate.h"
#include "stk_crypto.h"
#include "store_agents.h"
#include "svc_enroll.h"

static const struct actor admin = {.name = "alice", .kind = "user", .ip = "127.0.0.1"};

struct fixture {
    struct db *db;
    struct gateway_ca *ca;
    char dir[64];
    char csr[STK_TLS_PEM_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(db_open(":memory:", &f->db, NULL), STK_OK);
    assert_int_equal(migrate_apply(f->db, migrate_builtin(), NULL, NULL, NULL), STK_OK);
    snprintf(f->dir, sizeof(f->dir), "/tmp/stk-enroll-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(gateway_ca_open(f->dir, &f->ca, NULL), STK_OK);
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    assert_int_equal(stk_tls_key_generate(&pk, &f->ca->rng, NULL), STK_OK);
    assert_int_equal(stk_tls_csr_pem(&pk, "CN=x", &f->ca->rng, f->csr, sizeof(f->csr), NULL),
                     STK_OK);
    mbedtls_pk_free(&pk);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    gateway_ca_free(f->ca);
    db_free(f->db);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void make_token(struct fixture *f, const char *cluster, long long ttl,
                       char token[STK_ENROLL_TOKEN_MAX])
{
    long long id = 0, exp = 0;
    assert_int_equal(
        svc_enroll_token_create(f->db, &admin, f->ca->pin, cluster, ttl, token, &id, &exp, NULL),
        STK_OK);
    assert_true(id > 0);
}

static enum stk_err try_enroll(struct fixture *f, const char *token, struct enroll_result *res,
                               struct stk_error *err)
{
    struct enroll_request req = {.token = token,
                                 .csr = f->csr,
                                 .csr_len = strlen(f->csr),
                                 .agent_version = "0.1.0",
                                 .address = "10.0.0.1:5000"};
    return svc_enroll_agent(f->db, f->ca, &req, res, err);
}

static long long count(struct db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(db), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void token_is_stored_as_a_hash(void **state)
{
    struct fixture *f = *state;
    char token[STK_ENROLL_TOKEN_MAX];
    long long id = 0, exp = 0;
    assert_int_equal(svc_enroll_token_create(f->db, &admin, f->ca->pin, "prod-aks", 3600, token,
                                             &id, &exp, NULL),
                     STK_OK);
    char secret[STK_ENROLL_SECRET_MAX], pin[STK_TLS_SHA256_HEX];
    assert_int_equal(stk_enroll_token_parse(token, secret, pin), STK_OK);
    assert_string_equal(pin, f->ca->pin);
    long long now = (long long)time(NULL);
    assert_true(exp >= now + 3599 && exp <= now + 3601);
    char hash[65];
    stk_crypto_hash_hex(secret, strlen(secret), hash);
    struct enroll_token t;
    assert_int_equal(store_agents_token_get_by_hash(f->db, hash, &t, NULL), STK_OK);
    assert_int_equal(t.id, id);
    assert_string_equal(t.cluster, "prod-aks");
    assert_string_equal(t.created_by, "alice");
    assert_int_equal(t.used_at, 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM audit_log WHERE action ="
                                  " 'agent.enroll_token.create' AND target = 'cluster:prod-aks'"),
                     1);
}

static void token_input_is_checked(void **state)
{
    struct fixture *f = *state;
    char token[STK_ENROLL_TOKEN_MAX];
    long long id = 7, exp = 7;
    const char *bad_clusters[] = {"", "a b", "a/b", "x,O=evil", NULL};
    for (size_t i = 0; bad_clusters[i] != NULL; i++) {
        assert_int_equal(svc_enroll_token_create(f->db, &admin, f->ca->pin, bad_clusters[i], 60,
                                                 token, &id, &exp, NULL),
                         STK_EINVAL);
        assert_int_equal(token[0], '\0');
        assert_int_equal(id, 0);
    }
    char long_name[80];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_int_equal(
        svc_enroll_token_create(f->db, &admin, f->ca->pin, long_name, 60, token, &id, &exp, NULL),
        STK_EINVAL);
    long_name[63] = '\0';
    assert_int_equal(
        svc_enroll_token_create(f->db, &admin, f->ca->pin, long_name, 60, token, &id, &exp, NULL),
        STK_OK);
    assert_int_equal(
        svc_enroll_token_create(f->db, &admin, f->ca->pin, "ok", 0, token, &id, &exp, NULL),
        STK_EINVAL);
    assert_int_equal(svc_enroll_token_create(f->db, &admin, f->ca->pin, "ok",
                                             SVC_ENROLL_TTL_MAX + 1, token, &id, &exp, NULL),
                     STK_EINVAL);
    assert_int_equal(count(f->db, "SELECT count(*) FROM agent_enroll_tokens"), 1);
}

static void enrolls_once(void **state)
{
    struct fixture *f = *state;
    char token[STK_ENROLL_TOKEN_MAX];
    make_token(f, "prod-aks", 3600, token);
    struct enroll_result *res = calloc(1, sizeof(*res));
    assert_non_null(res);
    assert_int_equal(try_enroll(f, token, res, NULL), STK_OK);
    assert_true(res->agent_id > 0);
    assert_string_equal(res->cluster, "prod-aks");
    struct agent a;
    assert_int_equal(store_agents_get_by_serial(f->db, res->cert.serial, &a, NULL), STK_OK);
    assert_int_equal(a.id, res->agent_id);
    assert_string_equal(a.cluster, "prod-aks");
    assert_string_equal(a.enrolled_by, "alice");
    assert_string_equal(a.enrolled_from, "10.0.0.1:5000");
    assert_string_equal(a.agent_version, "0.1.0");
    assert_string_equal(a.cert_sha256, res->cert.sha256);
    assert_int_equal(a.revoked_at, 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM agent_enroll_tokens WHERE used_at IS NOT"
                                  " NULL AND used_by_agent = 1"),
                     1);
    assert_int_equal(count(f->db, "SELECT count(*) FROM audit_log WHERE action = 'agent.enroll'"
                                  " AND actor = 'agent:prod-aks'"),
                     1);

    struct stk_error err;
    assert_int_equal(try_enroll(f, token, res, &err), STK_EAUTH);
    assert_string_equal(err.msg, "the enrollment token was already used");
    assert_int_equal(res->agent_id, 0);
    assert_int_equal(res->cert.pem[0], '\0');
    assert_int_equal(count(f->db, "SELECT count(*) FROM agents"), 1);
    free(res);
}

static void refusals(void **state)
{
    struct fixture *f = *state;
    struct enroll_result *res = calloc(1, sizeof(*res));
    assert_non_null(res);
    struct stk_error err;
    char token[STK_ENROLL_TOKEN_MAX];

    make_token(f, "late", 60, token);
    assert_int_equal(sqlite3_exec(db_handle(f->db),
                                  "UPDATE agent_enroll_tokens SET expires_at = expires_at - 61",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(try_enroll(f, token, res, &err), STK_EAUTH);
    assert_string_equal(err.msg, "the enrollment token has expired");

    char unknown[STK_ENROLL_TOKEN_MAX];
    snprintf(unknown, sizeof(unknown), "stke_%s.%s", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
             f->ca->pin);
    assert_int_equal(try_enroll(f, unknown, res, &err), STK_EAUTH);
    assert_string_equal(err.msg, "unknown enrollment token");

    char good[STK_ENROLL_TOKEN_MAX], foreign[STK_ENROLL_TOKEN_MAX];
    make_token(f, "pin", 60, good);
    snprintf(foreign, sizeof(foreign), "%.48s.%064d", good, 0);
    assert_int_equal(try_enroll(f, foreign, res, &err), STK_EAUTH);
    assert_string_equal(err.msg, "the enrollment token was made by another server");

    assert_int_equal(try_enroll(f, "stke_x.y", res, &err), STK_EAUTH);
    assert_string_equal(err.msg, "malformed enrollment token");
    assert_int_equal(try_enroll(f, NULL, res, &err), STK_EAUTH);

    /* A bad CSR is refused and does not use the token up. */
    struct enroll_request req = {
        .token = good, .csr = "nope", .csr_len = 4, .agent_version = "", .address = "x"};
    assert_int_equal(svc_enroll_agent(f->db, f->ca, &req, res, &err), STK_EINVAL);
    assert_int_equal(count(f->db, "SELECT count(*) FROM agents"), 0);
    assert_int_equal(try_enroll(f, good, res, NULL), STK_OK);
    assert_int_equal(count(f->db, "SELECT count(*) FROM agents"), 1);
    free(res);
}

static void revoke_and_poll(void **state)
{
    struct fixture *f = *state;
    char token[STK_ENROLL_TOKEN_MAX];
    make_token(f, "c1", 60, token);
    struct enroll_result *res = calloc(1, sizeof(*res));
    assert_non_null(res);
    assert_int_equal(try_enroll(f, token, res, NULL), STK_OK);
    long long id = res->agent_id;

    assert_int_equal(store_agents_set_connected(f->db, id, 1, "1.2.3.4:5", "0.2.0", 100, NULL),
                     STK_OK);
    struct agent a;
    assert_int_equal(store_agents_get(f->db, id, &a, NULL), STK_OK);
    assert_int_equal(a.connected, 1);
    assert_string_equal(a.last_address, "1.2.3.4:5");
    assert_string_equal(a.agent_version, "0.2.0");
    assert_int_equal(a.last_seen_at, 100);
    assert_int_equal(store_agents_set_connected(f->db, id, 0, NULL, NULL, 200, NULL), STK_OK);
    assert_int_equal(store_agents_get(f->db, id, &a, NULL), STK_OK);
    assert_int_equal(a.connected, 0);
    assert_string_equal(a.last_address, "1.2.3.4:5"); /* kept */

    long long *ids = NULL;
    size_t n = 9;
    long long before = (long long)time(NULL);
    assert_int_equal(store_agents_revoked_since(f->db, before - 5, &ids, &n, NULL), STK_OK);
    assert_int_equal(n, 0);
    free(ids);

    assert_int_equal(svc_enroll_revoke(f->db, &admin, id, &a, NULL), STK_OK);
    assert_true(a.revoked_at >= before);
    assert_string_equal(a.revoked_by, "alice");
    assert_int_equal(store_agents_revoked_since(f->db, before - 5, &ids, &n, NULL), STK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], id);
    free(ids);
    assert_int_equal(store_agents_revoked_since(f->db, before + 100, &ids, &n, NULL), STK_OK);
    assert_int_equal(n, 0);
    free(ids);

    struct stk_error err;
    assert_int_equal(svc_enroll_revoke(f->db, &admin, id, &a, &err), STK_ECONFLICT);
    assert_int_equal(a.id, 0);
    assert_int_equal(svc_enroll_revoke(f->db, &admin, 999, &a, &err), STK_ENOTFOUND);
    assert_int_equal(count(f->db, "SELECT count(*) FROM audit_log WHERE action = 'agent.revoke'"),
                     1);

    struct agent *list = NULL;
    assert_int_equal(store_agents_list(f->db, &list, &n, NULL), STK_OK);
    assert_int_equal(n, 1);
    assert_int_not_equal(list[0].revoked_at, 0);
    free(list);
    free(res);
}

static void reset_connected(void **state)
{
    struct fixture *f = *state;
    char token[STK_ENROLL_TOKEN_MAX];
    struct enroll_result *res = calloc(1, sizeof(*res));
    assert_non_null(res);
    for (int i = 0; i < 3; i++) {
        make_token(f, "same", 60, token);
        assert_int_equal(try_enroll(f, token, res, NULL), STK_OK);
        assert_int_equal(store_agents_set_connected(f->db, res->agent_id, 1, "a", NULL, 1, NULL),
                         STK_OK);
    }
    assert_int_equal(count(f->db, "SELECT count(*) FROM agents WHERE connected = 1"), 3);
    assert_int_equal(store_agents_touch(f->db, res->agent_id, 50, NULL), STK_OK);
    assert_int_equal(store_agents_reset_connected(f->db, NULL), STK_OK);
    assert_int_equal(count(f->db, "SELECT count(*) FROM agents WHERE connected = 1"), 0);
    assert_int_equal(count(f->db, "SELECT max(last_seen_at) FROM agents"), 50);
    free(res);
}

int main(void)
{
    log_set_level(STK_LOG_WARN); /* the CA and gateway narrate at info */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(token_is_stored_as_a_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(token_input_is_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(enrolls_once, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(revoke_and_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_connected, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
