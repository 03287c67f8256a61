/* svc_auth: the authorization decision, permission parsing, login,
 * sessions, throttling and bearer tokens against an in-memory database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "db.h"
#include "http_routes.h"
#include "migrate.h"
#include "store_throttle.h"
#include "svc_auth.h"
#include "svc_users.h"

static struct auth_policy policy = {.session_idle_s = 3600, .session_max_s = 43200};
static const struct actor tester = {.name = "tester", .kind = "system", .ip = "local"};

static int setup_db(void **state)
{
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db, NULL), STK_OK);
    assert_int_equal(migrate_apply(db, migrate_builtin(), NULL, NULL, NULL), STK_OK);
    *state = db;
    return 0;
}

static int teardown_db(void **state)
{
    db_free(*state);
    return 0;
}

static struct principal with_perms(unsigned perms)
{
    struct principal p;
    memset(&p, 0, sizeof(p));
    p.kind = PRINCIPAL_USER;
    p.perms = perms;
    return p;
}

static void test_allows_matrix(void **state)
{
    (void)state;
    const unsigned viewer = PERMBIT_ALERTS_READ | PERMBIT_RESPONSE_READ;
    const unsigned analyst = viewer | PERMBIT_ALERTS_MANAGE;
    const unsigned responder = analyst | PERMBIT_RESPONSE_MANAGE;
    struct principal v = with_perms(viewer), a = with_perms(analyst), r = with_perms(responder),
                     ad = with_perms(PERMBIT_ALL), none;
    memset(&none, 0, sizeof(none));
    const char *missing = NULL;

    assert_true(svc_auth_allows(&v, PERM_ALERTS_READ, NULL));
    assert_false(svc_auth_allows(&v, PERM_ALERTS_MANAGE, &missing));
    assert_string_equal(missing, "Alerts: Manage");
    assert_false(svc_auth_allows(&a, PERM_RESPONSE_MANAGE, &missing));
    assert_string_equal(missing, "Response: Manage");
    assert_false(svc_auth_allows(&v, PERM_RESPONSE_MANAGE, &missing));
    assert_string_equal(missing, "Response: Manage");
    assert_true(svc_auth_allows(&r, PERM_RESPONSE_MANAGE, NULL));
    assert_false(svc_auth_allows(&r, PERM_ADMIN, &missing));
    assert_string_equal(missing, "Administration");
    assert_true(svc_auth_allows(&ad, PERM_ADMIN, NULL));

    /* Response: Manage alone is not enough: SPEC 5 wants Alerts: Manage too. */
    struct principal odd = with_perms(PERMBIT_RESPONSE_MANAGE | PERMBIT_RESPONSE_READ);
    assert_false(svc_auth_allows(&odd, PERM_RESPONSE_MANAGE, &missing));
    assert_string_equal(missing, "Alerts: Manage");

    assert_true(svc_auth_allows(&none, PERM_PUBLIC, NULL));
    assert_false(svc_auth_allows(&none, PERM_SIGNED_IN, NULL));
    assert_false(svc_auth_allows(&none, PERM_ALERTS_READ, NULL));
    assert_false(svc_auth_allows(&ad, PERM_UNDECLARED, NULL));
}

static void test_every_route_declares_a_permission(void **state)
{
    (void)state;
    assert_true(http_route_count > 0);
    for (size_t i = 0; i < http_route_count; i++) {
        const struct route *rt = &http_route_table[i];
        if (rt->perm == PERM_UNDECLARED) {
            fail_msg("route %s %s declares no permission", rt->method, rt->pattern);
        }
        assert_non_null(rt->handler);
        /* The API never changes state for anonymous callers except login. */
        if (strcmp(rt->method, "GET") != 0 && rt->perm == PERM_PUBLIC) {
            assert_string_equal(rt->pattern, "/api/v1/auth/login");
        }
    }
}

static void test_perms_parse(void **state)
{
    (void)state;
    unsigned m = 0;
    struct stk_error err;
    assert_int_equal(svc_auth_perms_parse("alerts:manage", &m, &err), STK_OK);
    assert_int_equal(m, PERMBIT_ALERTS_MANAGE | PERMBIT_ALERTS_READ);
    assert_int_equal(svc_auth_perms_parse("alerts:manage,response:manage", &m, &err), STK_OK);
    assert_int_equal(m, PERMBIT_ALERTS_MANAGE | PERMBIT_ALERTS_READ | PERMBIT_RESPONSE_MANAGE |
                            PERMBIT_RESPONSE_READ);
    assert_int_equal(svc_auth_perms_parse("response:manage", &m, &err), STK_EINVAL);
    assert_int_equal(m, 0);
    assert_int_equal(svc_auth_perms_parse("", &m, &err), STK_EINVAL);
    assert_int_equal(svc_auth_perms_parse("alerts:read,", &m, &err), STK_EINVAL);
    assert_int_equal(svc_auth_perms_parse("alerts:read,alerts:read", &m, &err), STK_EINVAL);
    assert_int_equal(svc_auth_perms_parse("root", &m, &err), STK_EINVAL);
    assert_non_null(strstr(err.msg, "unknown permission"));

    json_t *arr = json_pack("[s,s]", "admin", "alerts:read");
    assert_int_equal(svc_auth_perms_from_json(arr, &m, &err), STK_OK);
    assert_int_equal(m, PERMBIT_ADMIN | PERMBIT_ALERTS_READ);
    json_decref(arr);
    arr = json_pack("[i]", 1);
    assert_int_equal(svc_auth_perms_from_json(arr, &m, &err), STK_EINVAL);
    json_decref(arr);
    assert_int_equal(svc_auth_perms_from_json(NULL, &m, &err), STK_EINVAL);
}

static void test_login_session_logout(void **state)
{
    struct db *db = *state;
    struct user u;
    struct stk_error err;
    assert_int_equal(svc_users_create(db, &tester, "alice", "analyst", "correct horse", 13, &u,
                                      &err),
                     STK_OK);
    struct login_request req = {.username = "ALICE", .password = "correct horse",
                                .password_len = 13, .source_ip = "10.0.0.1", .user_agent = "t"};
    struct login_result a, b;
    assert_int_equal(svc_auth_login(db, &policy, &req, &a, &err), STK_OK);
    assert_int_equal(svc_auth_login(db, &policy, &req, &b, &err), STK_OK);
    /* A new token at every sign-in: nothing a client chose survives. */
    assert_string_not_equal(a.token, b.token);
    assert_int_equal(strlen(a.token), STK_SESSION_TOKEN_LEN);

    struct principal p;
    assert_int_equal(svc_auth_session(db, &policy, a.token, &p, &err), STK_OK);
    assert_string_equal(p.name, "alice");
    assert_string_equal(p.csrf_token, a.csrf_token);
    assert_int_equal(svc_auth_logout(db, &p, "10.0.0.1", &err), STK_OK);
    assert_int_equal(svc_auth_session(db, &policy, a.token, &p, &err), STK_EAUTH);
    assert_int_equal(p.kind, PRINCIPAL_NONE);
    assert_int_equal(svc_auth_session(db, &policy, b.token, &p, &err), STK_OK);

    /* Disabling ends every session at once. */
    assert_int_equal(svc_users_set_disabled(db, &tester, "alice", 1, &u, &err), STK_OK);
    assert_int_equal(svc_auth_session(db, &policy, b.token, &p, &err), STK_EAUTH);
    assert_int_equal(svc_auth_login(db, &policy, &req, &a, &err), STK_EAUTH);
    assert_string_equal(a.token, "");

    assert_int_equal(svc_auth_session(db, &policy, "short", &p, &err), STK_EAUTH);
    assert_int_equal(svc_auth_session(db, &policy, NULL, &p, &err), STK_EAUTH);
}

static void test_login_throttle(void **state)
{
    struct db *db = *state;
    struct user u;
    struct stk_error err;
    assert_int_equal(svc_users_create(db, &tester, "bob", "viewer", "right password", 14, &u,
                                      &err),
                     STK_OK);
    struct login_request bad = {.username = "bob", .password = "wrong password",
                                .password_len = 14, .source_ip = "10.0.0.2"};
    struct login_result res;
    for (int i = 0; i < STK_LOGIN_FREE_FAILURES; i++) {
        assert_int_equal(svc_auth_login(db, &policy, &bad, &res, &err), STK_EAUTH);
    }
    struct login_request good = bad;
    good.password = "right password";
    good.source_ip = "10.0.0.3";
    assert_int_equal(svc_auth_login(db, &policy, &good, &res, &err), STK_ELIMIT);
    assert_true(res.retry_after >= 1);

    /* Unknown users are throttled like known ones. */
    struct login_request ghost = {.username = "ghost", .password = "whatever1",
                                  .password_len = 9, .source_ip = "10.0.0.4"};
    for (int i = 0; i < STK_LOGIN_FREE_FAILURES; i++) {
        assert_int_equal(svc_auth_login(db, &policy, &ghost, &res, &err), STK_EAUTH);
        assert_string_equal(err.msg, "invalid username or password");
    }
    assert_int_equal(svc_auth_login(db, &policy, &ghost, &res, &err), STK_ELIMIT);
}

static void test_login_rejects_bad_input(void **state)
{
    struct db *db = *state;
    struct stk_error err;
    struct login_result res;
    char longname[200];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct login_request req = {.username = longname, .password = "x", .password_len = 1,
                                .source_ip = "1.1.1.1"};
    assert_int_equal(svc_auth_login(db, &policy, &req, &res, &err), STK_EINVAL);
    req.username = "";
    assert_int_equal(svc_auth_login(db, &policy, &req, &res, &err), STK_EINVAL);
    req.username = "a";
    req.password = "ab\0cd";
    req.password_len = 5;
    assert_int_equal(svc_auth_login(db, &policy, &req, &res, &err), STK_EINVAL);
    req.password_len = STK_PASSWORD_MAX + 1;
    assert_int_equal(svc_auth_login(db, &policy, &req, &res, &err), STK_EINVAL);
}

static void test_tokens(void **state)
{
    struct db *db = *state;
    struct stk_error err;
    char secret[80];
    struct api_token t;
    assert_int_equal(svc_tokens_create(db, &tester, "falco", PERMBIT_ALERTS_READ, 0, "prod-aks",
                                       secret, &t, &err),
                     STK_OK);
    assert_int_equal(strncmp(secret, STK_API_TOKEN_PREFIX, 4), 0);
    struct principal p;
    assert_int_equal(svc_auth_bearer(db, secret, &p, &err), STK_OK);
    assert_int_equal(p.kind, PRINCIPAL_TOKEN);
    assert_string_equal(p.name, "token:falco");
    assert_string_equal(p.cluster, "prod-aks");
    assert_int_equal(svc_tokens_revoke(db, &tester, t.id, &t, &err), STK_OK);
    assert_int_equal(svc_auth_bearer(db, secret, &p, &err), STK_EAUTH);
    assert_string_equal(err.msg, "API token revoked");
    assert_int_equal(svc_tokens_revoke(db, &tester, t.id, &t, &err), STK_ENOTFOUND);

    assert_int_equal(svc_auth_bearer(db, "stk_short", &p, &err), STK_EAUTH);
    assert_int_equal(svc_auth_bearer(db, "abc", &p, &err), STK_EAUTH);
    secret[10] = '!';
    assert_int_equal(svc_auth_bearer(db, secret, &p, &err), STK_EAUTH);
    assert_int_equal(svc_tokens_create(db, &tester, "bad name!", PERMBIT_ALERTS_READ, 0, NULL,
                                       secret, &t, &err),
                     STK_EINVAL);
    assert_string_equal(secret, "");
}

static void test_last_admin_guard(void **state)
{
    struct db *db = *state;
    struct user u;
    struct stk_error err;
    assert_int_equal(svc_users_create(db, &tester, "root1", "admin", "admin password", 14, &u,
                                      &err),
                     STK_OK);
    assert_int_equal(svc_users_set_disabled(db, &tester, "root1", 1, &u, &err), STK_ECONFLICT);
    assert_int_equal(svc_users_set_role(db, &tester, "root1", "viewer", &u, &err), STK_ECONFLICT);
    assert_int_equal(svc_users_create(db, &tester, "root2", "admin", "admin password", 14, &u,
                                      &err),
                     STK_OK);
    assert_int_equal(svc_users_set_role(db, &tester, "root1", "viewer", &u, &err), STK_OK);
    assert_string_equal(u.role, "viewer");
    assert_int_equal(svc_users_set_role(db, &tester, "nobody", "viewer", &u, &err), STK_ENOTFOUND);
    assert_int_equal(svc_users_set_role(db, &tester, "root2", "no-such-role", &u, &err),
                     STK_ENOTFOUND);
}

static void test_ttl(void **state)
{
    (void)state;
    long long s = 0;
    assert_int_equal(svc_parse_ttl("30d", &s, NULL), STK_OK);
    assert_int_equal(s, 30 * 86400);
    assert_int_equal(svc_parse_ttl("90", &s, NULL), STK_OK);
    assert_int_equal(s, 90);
    assert_int_equal(svc_parse_ttl("1h", &s, NULL), STK_OK);
    assert_int_equal(s, 3600);
    assert_int_equal(svc_parse_ttl("0", &s, NULL), STK_EINVAL);
    assert_int_equal(svc_parse_ttl("-5m", &s, NULL), STK_EINVAL);
    assert_int_equal(svc_parse_ttl("5w", &s, NULL), STK_EINVAL);
    assert_int_equal(svc_parse_ttl("5dd", &s, NULL), STK_EINVAL);
    assert_int_equal(svc_parse_ttl("99999999999d", &s, NULL), STK_EINVAL);
    assert_int_equal(s, 0);
}

int main(void)
{
    if (sodium_init() < 0 || svc_auth_gate_new(&policy.gate) != STK_OK) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allows_matrix),
        cmocka_unit_test(test_every_route_declares_a_permission),
        cmocka_unit_test(test_perms_parse),
        cmocka_unit_test_setup_teardown(test_login_session_logout, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_login_throttle, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_login_rejects_bad_input, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_tokens, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_last_admin_guard, setup_db, teardown_db),
        cmocka_unit_test(test_ttl),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    svc_auth_gate_free(policy.gate);
    return failed;
}
