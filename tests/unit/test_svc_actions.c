/* server/svc_actions.c, svc_actions_agent.c and svc_agents.c on an
 * in-memory database, without a gateway (actions stay pending, as they do
 * while the agent is offline): every
 * precondition refused in words; facts stored from a hello; the lifecycle
 * through results, replays, another cluster's answers, cancel, the
 * two-person rule, expiry and timed isolation; the dry-run plan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "app.h"
#include "db.h"
#include "isolation.h"
#include "migrate.h"
#include "store_actions.h"
#include "store_clusters.h"
#include "store_entities.h"
#include "svc_actions.h"
#include "svc_agents.h"

static const struct actor alice = {.name = "alice", .kind = "user", .ip = "127.0.0.1"};
static const struct actor bob = {.name = "bob", .kind = "user", .ip = "127.0.0.1"};

struct fixture {
    struct app app;
    struct db *db;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char HELLO[] =
    "{\"type\":\"hello\",\"agent_version\":\"0.1.0\",\"facts\":{\"kubernetes_version\":"
    "\"v1.29.4\",\"cloud\":\"aks\",\"network_policy\":{\"plugin\":\"calico\",\"version\":"
    "\"3.26.1\"},\"pods\":[{\"namespace\":\"shop\",\"name\":\"web-7f9\",\"phase\":\"Running\","
    "\"labels\":{\"app\":\"web\"}},{\"namespace\":\"shop\",\"name\":\"job-1\",\"phase\":"
    "\"Succeeded\"}],\"services\":[]}}";

static void hello(struct fixture *fx, const char *cluster, const char *text)
{
    struct agent_peer peer = {.agent_id = 1};
    snprintf(peer.cluster, sizeof(peer.cluster), "%s", cluster);
    snprintf(peer.address, sizeof(peer.address), "127.0.0.1:5000");
    json_t *msg = json_loads(text, 0, NULL);
    assert_non_null(msg);
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = svc_agents_on_hello(&fx->app, fx->db, &peer, msg, &err);
    if (rc != STK_OK) {
        fail_msg("hello: %s", err.msg);
    }
    json_decref(msg);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(config_init(&fx->app.cfg), STK_OK);
    assert_int_equal(db_open(":memory:", &fx->db, NULL), STK_OK);
    assert_int_equal(migrate_apply(fx->db, migrate_builtin(), NULL, NULL, NULL), STK_OK);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    db_free(fx->db);
    config_release(&fx->app.cfg);
    free(fx);
    return 0;
}

static void refused_with(const char *type, const struct cluster_facts *f,
                         const struct cluster_pod *pod, int isolated, int connected,
                         const char *want)
{
    struct action_request r = {
        .type = type, .cluster = "prod-aks", .ns = "shop", .pod = "web-7f9", .comment = "x"};
    struct precheck_input in = {.req = &r,
                                .facts = f,
                                .pod = pod,
                                .isolated = isolated,
                                .agent_connected = connected,
                                .now = 1000000000,
                                .queue_ttl_ms = 600000};
    char why[512];
    enum stk_err rc = svc_actions_precheck(&in, why, sizeof(why));
    if (want == NULL) {
        if (rc != STK_OK) {
            fail_msg("%s refused: %s", type, why);
        }
        return;
    }
    assert_int_equal(rc, STK_ECONFLICT);
    if (strcmp(why, want) != 0) {
        fail_msg("%s\nwant: %s\ngot:  %s", type, want, why);
    }
}

static void preconditions_are_refused_in_words(void **state)
{
    (void)state;
    struct cluster_facts f = {.cluster = "prod-aks",
                              .kubernetes_version = "1.29.4",
                              .np_plugin = "calico",
                              .np_version = "3.26.1",
                              .last_seen_at = 1000000000};
    struct cluster_pod running = {.ns = "shop", .name = "web-7f9", .phase = "Running"};
    struct cluster_pod done = {.ns = "shop", .name = "web-7f9", .phase = "Succeeded"};
    refused_with("isolate", &f, &running, 0, 1, NULL);
    refused_with("terminate", &f, &running, 0, 0, NULL); /* offline, seen now: queued */
    refused_with("isolate", NULL, &running, 0, 0,
                 "no agent connected for cluster prod-aks (none has ever reported)");
    struct cluster_facts gone = f;
    gone.last_seen_at = 1000000000 - 3600000;
    refused_with("isolate", &gone, &running, 0, 0,
                 "no agent connected for cluster prod-aks (last seen 60 minutes ago)");
    struct cluster_facts old = f;
    snprintf(old.kubernetes_version, sizeof(old.kubernetes_version), "1.26.3");
    refused_with("isolate", &old, &running, 0, 1,
                 "isolate needs Kubernetes 1.27 or later; cluster prod-aks runs 1.26");
    refused_with("terminate", &old, &running, 0, 1, NULL);
    struct cluster_facts calico = f;
    snprintf(calico.np_version, sizeof(calico.np_version), "3.20.0");
    refused_with("isolate", &calico, &running, 0, 1,
                 "isolate needs calico 3.24.1 or later on cluster prod-aks: calico 3.20.0 is older "
                 "than 3.24.1");
    struct cluster_facts none = f;
    snprintf(none.np_plugin, sizeof(none.np_plugin), "none");
    refused_with("isolate", &none, &running, 0, 1,
                 "isolate needs a network policy enforcer (azure-npm 1.5.34, calico 3.24.1, cilium "
                 "1.13.1 or aws-node 1.15.1 or later); cluster prod-aks has none, so a "
                 "NetworkPolicy would not be enforced");
    refused_with("terminate", &none, &running, 0, 1, NULL);
    refused_with("isolate", &f, &done, 0, 1, "pod web-7f9 is not active (Succeeded)");
    refused_with("terminate", &f, &done, 0, 1, "pod web-7f9 is not active (Succeeded)");
    refused_with("isolate", &f, NULL, 0, 1,
                 "pod shop/web-7f9 was not reported by the agent of cluster prod-aks");
    struct cluster_facts big = f;
    big.truncated = 1; /* the pod may be among those left out: the agent checks */
    refused_with("isolate", &big, NULL, 0, 1, NULL);
    refused_with("release", &f, &running, 0, 1, "pod web-7f9 is not isolated");
    refused_with("release", &f, &running, 1, 1, NULL);
}

static void request(struct fixture *fx, const char *type, long long isolate_for_s,
                    struct action *out)
{
    struct action_request r = {.type = type,
                               .cluster = "prod-aks",
                               .ns = "shop",
                               .pod = "web-7f9",
                               .comment = "contain the miner",
                               .isolate_for_s = isolate_for_s};
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = svc_actions_request(&fx->app, fx->db, &r, &alice, out, &err);
    if (rc != STK_OK) {
        fail_msg("request %s: %s", type, err.msg);
    }
}

static enum stk_err result(struct fixture *fx, const char *cluster, long long id,
                           const char *status, int replay)
{
    char text[256];
    snprintf(text, sizeof(text),
             "{\"type\":\"result\",\"id\":%lld,\"status\":\"%s\",\"reason\":\"%s\","
             "\"details\":{\"policy\":\"stockade-isolate-web-7f9\"},\"replay\":%s}",
             id, status, strcmp(status, "succeeded") ? "pods \\\"web-7f9\\\" not found" : "",
             replay ? "true" : "false");
    json_t *msg = json_loads(text, 0, NULL);
    assert_non_null(msg);
    struct agent_peer peer = {.agent_id = 1};
    snprintf(peer.cluster, sizeof(peer.cluster), "%s", cluster);
    enum stk_err rc = svc_agents_on_frame(&fx->app, fx->db, &peer, "result", msg, NULL);
    json_decref(msg);
    return rc;
}

static void status_is(struct fixture *fx, long long id, const char *want)
{
    struct action a;
    assert_int_equal(store_actions_get(fx->db, id, &a, NULL), STK_OK);
    if (strcmp(a.status, want) != 0) {
        fail_msg("action %lld is %s, want %s (%s)", id, a.status, want, a.failure_reason);
    }
    store_action_release(&a);
}

static void lifecycle_through_results(void **state)
{
    struct fixture *fx = *state;
    /* Nothing reported yet: refused, nothing stored. */
    struct action a;
    struct action_request r = {
        .type = "isolate", .cluster = "prod-aks", .ns = "shop", .pod = "web-7f9", .comment = "x"};
    struct stk_error err;
    assert_int_equal(svc_actions_request(&fx->app, fx->db, &r, &alice, &a, &err), STK_ECONFLICT);
    assert_string_equal(err.msg, "no agent connected for cluster prod-aks (none has ever "
                                 "reported)");
    assert_int_equal(a.id, 0);

    hello(fx, "prod-aks", HELLO);
    struct cluster_facts f;
    assert_int_equal(store_clusters_get(fx->db, "prod-aks", &f, NULL), STK_OK);
    assert_string_equal(f.np_plugin, "calico");
    assert_int_equal(f.pods, 2);

    request(fx, "isolate", 0, &a);
    assert_string_equal(a.status, "pending"); /* no gateway: queued */
    long long id = a.id;
    store_action_release(&a);

    /* Another cluster's agent cannot answer for it. */
    assert_int_equal(result(fx, "other", id, "succeeded", 0), STK_EFORBIDDEN);
    status_is(fx, id, "pending");
    assert_int_equal(result(fx, "prod-aks", id, "succeeded", 0), STK_OK);
    status_is(fx, id, "succeeded");
    struct isolation iso;
    assert_int_equal(store_actions_isolation_get(fx->db, "prod-aks", "shop", "web-7f9", &iso, NULL),
                     STK_OK);
    assert_int_equal(iso.action_id, id);
    assert_int_equal(iso.until, 0);
    /* A replayed or late answer changes nothing. */
    assert_int_equal(result(fx, "prod-aks", id, "failed", 1), STK_OK);
    status_is(fx, id, "succeeded");

    /* Release, which fails at the agent: the isolation stays. */
    request(fx, "release", 0, &a);
    long long rel = a.id;
    store_action_release(&a);
    assert_int_equal(result(fx, "prod-aks", rel, "failed", 0), STK_OK);
    assert_int_equal(store_actions_get(fx->db, rel, &a, NULL), STK_OK);
    assert_string_equal(a.failure_reason, "pods \"web-7f9\" not found");
    store_action_release(&a);
    assert_int_equal(store_actions_isolation_get(fx->db, "prod-aks", "shop", "web-7f9", &iso, NULL),
                     STK_OK);

    /* Cancel: only while not yet dispatched. */
    request(fx, "release", 0, &a);
    long long c = a.id;
    store_action_release(&a);
    assert_int_equal(svc_actions_cancel(&fx->app, fx->db, c, &bob, "wrong pod", &err), STK_OK);
    status_is(fx, c, "cancelled");
    assert_int_equal(svc_actions_cancel(&fx->app, fx->db, c, &bob, NULL, &err), STK_ECONFLICT);
    assert_int_equal(svc_actions_cancel(&fx->app, fx->db, 999, &bob, NULL, &err), STK_ENOTFOUND);
    assert_int_equal(result(fx, "prod-aks", c, "succeeded", 0), STK_OK);
    status_is(fx, c, "cancelled");
}

static void malformed_requests_and_frames(void **state)
{
    struct fixture *fx = *state;
    hello(fx, "prod-aks", HELLO);
    struct action a;
    struct stk_error err;
    struct action_request bad[] = {
        {.type = "reboot", .cluster = "prod-aks", .ns = "shop", .pod = "web-7f9", .comment = "x"},
        {.type = "isolate", .cluster = "", .ns = "shop", .pod = "web-7f9", .comment = "x"},
        {.type = "isolate", .cluster = "prod-aks", .ns = "Shop", .pod = "web-7f9", .comment = "x"},
        {.type = "isolate", .cluster = "prod-aks", .ns = "shop", .pod = "web/7f9", .comment = "x"},
        {.type = "isolate", .cluster = "prod-aks", .ns = "shop", .pod = "web-7f9", .comment = ""},
        {.type = "terminate",
         .cluster = "prod-aks",
         .ns = "shop",
         .pod = "web-7f9",
         .comment = "x",
         .isolate_for_s = 60},
        {.type = "isolate",
         .cluster = "prod-aks",
         .ns = "shop",
         .pod = "web-7f9",
         .comment = "x",
         .isolate_for_s = ACTION_MAX_ISOLATE_S + 1},
        {.type = "isolate",
         .cluster = "prod-aks",
         .ns = "shop",
         .pod = "web-7f9",
         .comment = "x",
         .incident_id = 12345},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        stk_error_clear(&err);
        assert_int_equal(svc_actions_request(&fx->app, fx->db, &bad[i], &alice, &a, &err),
                         STK_EINVAL);
        assert_int_equal(a.id, 0);
        assert_true(err.msg[0] != '\0');
    }
    struct agent_peer peer = {.agent_id = 1, .cluster = "prod-aks"};
    const char *frames[] = {
        "{\"type\":\"result\"}",
        "{\"type\":\"result\",\"id\":\"1\",\"status\":\"succeeded\"}",
        "{\"type\":\"result\",\"id\":1,\"status\":\"maybe\"}",
        "{\"type\":\"result\",\"id\":1,\"status\":\"failed\",\"details\":[1]}",
        "{\"type\":\"tamper\",\"pod\":\"x\"}",
        "{\"type\":\"facts\",\"facts\":{\"pods\":[{\"name\":\"x\"}]}}",
        "{\"type\":\"facts\",\"facts\":[]}",
    };
    const char *types[] = {"result", "result", "result", "result", "tamper", "facts", "facts"};
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        json_t *msg = json_loads(frames[i], 0, NULL);
        assert_non_null(msg);
        enum stk_err rc = svc_agents_on_frame(&fx->app, fx->db, &peer, types[i], msg, NULL);
        json_decref(msg);
        if (rc != STK_EINVAL && rc != STK_ENOTFOUND) {
            fail_msg("frame %zu: %d", i, rc);
        }
    }
}

static void two_person_rule(void **state)
{
    struct fixture *fx = *state;
    fx->app.cfg.two_person_rule = 1;
    hello(fx, "prod-aks", HELLO);
    struct action a;
    request(fx, "terminate", 0, &a);
    assert_string_equal(a.status, "awaiting_approval");
    long long id = a.id;
    store_action_release(&a);
    struct stk_error err;
    assert_int_equal(svc_actions_decide(&fx->app, fx->db, id, 1, &alice, NULL, &err),
                     STK_EFORBIDDEN);
    assert_int_equal(svc_actions_decide(&fx->app, fx->db, id, 0, &bob, NULL, &err), STK_EINVAL);
    assert_int_equal(svc_actions_decide(&fx->app, fx->db, id, 1, &bob, "agreed", &err), STK_OK);
    status_is(fx, id, "pending");
    assert_int_equal(store_actions_get(fx->db, id, &a, NULL), STK_OK);
    assert_string_equal(a.approved_by, "bob");
    store_action_release(&a);
    assert_int_equal(svc_actions_decide(&fx->app, fx->db, id, 1, &bob, NULL, &err), STK_ECONFLICT);

    request(fx, "terminate", 0, &a);
    id = a.id;
    store_action_release(&a);
    assert_int_equal(svc_actions_decide(&fx->app, fx->db, id, 0, &bob, "not this one", &err),
                     STK_OK);
    assert_int_equal(store_actions_get(fx->db, id, &a, NULL), STK_OK);
    assert_string_equal(a.status, "cancelled");
    assert_string_equal(a.failure_reason, "rejected by bob: not this one");
    store_action_release(&a);
}

static void expiry_and_timed_isolation(void **state)
{
    struct fixture *fx = *state;
    hello(fx, "prod-aks", HELLO);
    struct action a;
    request(fx, "terminate", 0, &a);
    long long queued = a.id;
    store_action_release(&a);
    request(fx, "isolate", 3600, &a);
    long long iso_id = a.id;
    store_action_release(&a);
    assert_int_equal(result(fx, "prod-aks", iso_id, "succeeded", 0), STK_OK);
    struct isolation iso;
    assert_int_equal(store_actions_isolation_get(fx->db, "prod-aks", "shop", "web-7f9", &iso, NULL),
                     STK_OK);
    assert_true(iso.until > now_ms() + 3500 * 1000LL);

    /* Eleven minutes on: the queued terminate failed, agent offline. */
    svc_actions_tick(&fx->app, fx->db, now_ms() + 11 * 60 * 1000LL);
    assert_int_equal(store_actions_get(fx->db, queued, &a, NULL), STK_OK);
    assert_string_equal(a.status, "failed");
    assert_string_equal(a.failure_reason, "agent offline: no agent of cluster prod-aks took the "
                                          "action before it expired");
    store_action_release(&a);

    /* An hour on: the clock asks for the release, once. */
    long long later = now_ms() + 3601 * 1000LL;
    svc_actions_tick(&fx->app, fx->db, later);
    struct action *list = NULL;
    size_t n = 0;
    struct action_filter f = {.types = ",release,", .limit = 10};
    assert_int_equal(store_actions_list(fx->db, &f, &list, &n, NULL), STK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].origin, "timer");
    assert_string_equal(list[0].requested_by, "system");
    long long rel = list[0].id;
    store_actions_free(list, n);
    assert_int_equal(result(fx, "prod-aks", rel, "succeeded", 0), STK_OK);
    svc_actions_tick(&fx->app, fx->db, later);
    assert_int_equal(store_actions_list(fx->db, &f, &list, &n, NULL), STK_OK);
    assert_int_equal(n, 1);
    store_actions_free(list, n);
    assert_int_equal(store_actions_isolation_get(fx->db, "prod-aks", "shop", "web-7f9", &iso, NULL),
                     STK_ENOTFOUND);
}

static void plan_shows_the_objects(void **state)
{
    struct fixture *fx = *state;
    hello(fx, "prod-aks", HELLO);
    struct action_request r = {.type = "isolate",
                               .cluster = "prod-aks",
                               .ns = "shop",
                               .pod = "web-7f9",
                               .comment = "dry run"};
    json_t *plan = NULL;
    assert_int_equal(svc_actions_plan(&fx->app, fx->db, &r, &plan, NULL), STK_OK);
    assert_true(json_is_true(json_object_get(plan, "allowed")));
    json_t *np = json_object_get(plan, "network_policy");
    assert_string_equal(json_string_value(json_object_get(json_object_get(np, "metadata"), "name")),
                        "stockade-isolate-web-7f9");
    json_t *types = json_object_get(json_object_get(np, "spec"), "policyTypes");
    assert_int_equal(json_array_size(types), 2);
    assert_int_equal(json_array_size(json_object_get(plan, "matched_pods")), 1);
    json_decref(plan);
    r.pod = "job-1";
    assert_int_equal(svc_actions_plan(&fx->app, fx->db, &r, &plan, NULL), STK_OK);
    assert_false(json_is_true(json_object_get(plan, "allowed")));
    assert_string_equal(json_string_value(json_object_get(plan, "reason")),
                        "pod job-1 is not active (Succeeded)");
    json_decref(plan);
    /* Nothing was stored by a plan. */
    struct action *list = NULL;
    size_t n = 0;
    struct action_filter f = {.limit = 10};
    assert_int_equal(store_actions_list(fx->db, &f, &list, &n, NULL), STK_OK);
    assert_int_equal(n, 0);
    free(list);

    /* Keys for names that are not label values. */
    char key[ISOLATION_KEY_MAX];
    char longname[200];
    memset(longname, 'a', 100);
    longname[100] = '\0';
    isolation_key(longname, key);
    assert_int_equal(strlen(key), 42);
    assert_memory_equal(key, "h-", 2);
    isolation_key("web-7f9", key);
    assert_string_equal(key, "web-7f9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(preconditions_are_refused_in_words),
        cmocka_unit_test_setup_teardown(lifecycle_through_results, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_requests_and_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(two_person_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(expiry_and_timed_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(plan_shows_the_objects, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
