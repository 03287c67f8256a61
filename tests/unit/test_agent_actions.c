/* agent/actions.c over the --simulate cluster (agent/sim.c): facts of the
 * demo clusters, isolate (twice: one policy), release (twice: fine),
 * terminate with evidence, refusals in words, the tamper check restoring
 * a deleted policy and removed labels; plus the sim's merge patch and label
 * selectors, UTF-8 cleaning and fitting facts into a frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actions.h"
#include "policy.h"
#include "sim.h"

#define WEB "web-7f9c6d8b5-x2kqp"

static struct kube make_sim(const char *cluster, const char *version, const char *plugin)
{
    struct kube k;
    struct sim_opts o = {.cluster = cluster, .k8s_version = version, .plugin = plugin};
    assert_int_equal(sim_new(&o, &k, NULL), STK_OK);
    return k;
}

static json_t *find_pod(json_t *facts, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(facts, "pods"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0) {
            return p;
        }
    }
    return NULL;
}

static void facts_of_demo_clusters(void **state)
{
    (void)state;
    struct {
        const char *cluster, *version, *cloud, *plugin, *pod;
    } want[] = {
        {"prod-aks", "1.29.7", "aks", "azure-npm", WEB},
        {"payments-eks", "1.30.4-eks-a737599", "eks", "aws-node", "ledger-api-6d5f8b7c9-m4zqt"},
        {"dev-gke", "1.30.5-gke.1014001", "gke", "calico", "netshoot-debug"},
        {"somewhere", "1.29.4", "other", "calico", "web-5d8f7c9b6-k2v7p"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct kube k = make_sim(want[i].cluster, NULL, NULL);
        json_t *f = NULL;
        assert_int_equal(actions_facts(&k, NULL, &f, NULL), STK_OK);
        assert_string_equal(json_string_value(json_object_get(f, "kubernetes_version")),
                            want[i].version);
        assert_string_equal(json_string_value(json_object_get(f, "cloud")), want[i].cloud);
        json_t *np = json_object_get(f, "network_policy");
        assert_string_equal(json_string_value(json_object_get(np, "plugin")), want[i].plugin);
        assert_non_null(find_pod(f, want[i].pod));
        assert_true(json_array_size(json_object_get(f, "services")) > 0);
        json_decref(f);
        kube_free(&k);
    }
    /* The web service of prod-aks is a LoadBalancer, so external. */
    struct kube k = make_sim("prod-aks", NULL, NULL);
    json_t *f = NULL;
    assert_int_equal(actions_facts(&k, "other", &f, NULL), STK_OK);
    assert_string_equal(json_string_value(json_object_get(f, "cloud")), "other");
    json_t *svc = json_array_get(json_object_get(f, "services"), 0);
    assert_string_equal(json_string_value(json_object_get(svc, "name")), "web");
    assert_true(json_is_true(json_object_get(svc, "external")));
    assert_int_equal(json_integer_value(json_array_get(json_object_get(svc, "ports"), 0)), 443);
    json_decref(f);
    kube_free(&k);
}

static void isolate_twice_then_release_twice(void **state)
{
    (void)state;
    struct kube k = make_sim("prod-aks", NULL, NULL);
    struct action_target t = {.cluster = "prod-aks", .ns = "storefront", .pod = WEB};
    struct action_result r;
    actions_run(&k, ACTION_ISOLATE, &t, &r);
    assert_int_equal(r.status, ACTION_SUCCEEDED);
    assert_string_equal(json_string_value(json_object_get(r.details, "policy")), "created");
    assert_non_null(strstr(r.reason, "isolated"));
    action_result_release(&r);

    json_t *pols = NULL;
    assert_int_equal(
        kube_list_all(&k, KUBE_NETWORK_POLICY, "storefront", NULL, 100, &pols, NULL, NULL), STK_OK);
    assert_int_equal(json_array_size(pols), 1);
    json_t *pol = json_array_get(pols, 0);
    assert_true(policy_object_intact(pol, WEB));
    json_decref(pols);

    actions_run(&k, ACTION_ISOLATE, &t, &r);
    assert_int_equal(r.status, ACTION_SUCCEEDED);
    assert_string_equal(json_string_value(json_object_get(r.details, "policy")), "reused");
    assert_non_null(strstr(r.reason, "already isolated"));
    action_result_release(&r);
    assert_int_equal(kube_list_all(&k, KUBE_NETWORK_POLICY, NULL, NULL, 100, &pols, NULL, NULL),
                     STK_OK);
    assert_int_equal(json_array_size(pols), 1); /* no second policy */
    json_decref(pols);

    json_t *f = NULL;
    assert_int_equal(actions_facts(&k, NULL, &f, NULL), STK_OK);
    assert_true(json_is_true(json_object_get(find_pod(f, WEB), "isolated")));
    assert_false(json_is_true(json_object_get(find_pod(f, "web-7f9c6d8b5-m8r4t"), "isolated")));
    json_decref(f);

    actions_run(&k, ACTION_RELEASE, &t, &r);
    assert_int_equal(r.status, ACTION_SUCCEEDED);
    assert_true(json_is_true(json_object_get(r.details, "was_isolated")));
    action_result_release(&r);
    json_t *pod = NULL;
    assert_int_equal(k.ops->get(k.ctx, KUBE_POD, "storefront", WEB, &pod, NULL), STK_OK);
    json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
    assert_null(json_object_get(labels, STK_LABEL_ISOLATED));
    assert_null(json_object_get(labels, STK_LABEL_ISOLATION));
    assert_string_equal(json_string_value(json_object_get(labels, "app")), "web");
    json_decref(pod);
    assert_int_equal(kube_list_all(&k, KUBE_NETWORK_POLICY, NULL, NULL, 100, &pols, NULL, NULL),
                     STK_OK);
    assert_int_equal(json_array_size(pols), 0);
    json_decref(pols);

    actions_run(&k, ACTION_RELEASE, &t, &r);
    assert_int_equal(r.status, ACTION_SUCCEEDED);
    assert_string_equal(r.reason, "pod storefront/" WEB " was not isolated; nothing to release");
    assert_false(json_is_true(json_object_get(r.details, "was_isolated")));
    action_result_release(&r);
    kube_free(&k);
}

static void refusals(void **state)
{
    (void)state;
    struct action_result r;
    struct action_target t = {.cluster = "prod-aks", .ns = "storefront", .pod = WEB};
    struct kube k = make_sim("prod-aks", "v1.26.3", NULL);
    actions_run(&k, ACTION_ISOLATE, &t, &r);
    assert_int_equal(r.status, ACTION_REFUSED);
    assert_string_equal(r.reason, "isolate needs Kubernetes 1.27 or later; cluster prod-aks runs "
                                  "1.26");
    action_result_release(&r);
    /* terminate needs no policy enforcer nor a recent Kubernetes. */
    actions_run(&k, ACTION_TERMINATE, &t, &r);
    assert_int_equal(r.status, ACTION_SUCCEEDED);
    action_result_release(&r);
    kube_free(&k);

    k = make_sim("prod-aks", NULL, "calico:3.20.0");
    actions_run(&k, ACTION_ISOLATE, &t, &r);
    assert_int_equal(r.status, ACTION_REFUSED);
    assert_non_null(strstr(r.reason, "calico 3.20.0 is older than 3.24.1"));
    action_result_release(&r);
    kube_free(&k);

    k = make_sim("prod-aks", NULL, "none");
    actions_run(&k, ACTION_ISOLATE, &t, &r);
    assert_int_equal(r.status, ACTION_REFUSED);
    assert_non_null(strstr(r.reason, "cluster prod-aks has none"));
    action_result_release(&r);

    struct action_target gone = {.cluster = "prod-aks", .ns = "storefront", .pod = "web-nope"};
    actions_run(&k, ACTION_TERMINATE, &gone, &r);
    assert_int_equal(r.status, ACTION_REFUSED);
    assert_string_equal(r.reason, "pods \"web-nope\" not found (404 NotFound)");
    action_result_release(&r);
    struct action_target bad = {.cluster = "prod-aks", .ns = "Store Front", .pod = "x"};
    actions_run(&k, ACTION_ISOLATE, &bad, &r);
    assert_int_equal(r.status, ACTION_REFUSED);
    assert_non_null(strstr(r.reason, "not a valid pod"));
    assert_true(json_is_object(r.details));
    action_result_release(&r);
    kube_free(&k);

    struct sim_opts o = {.cluster = "prod-aks", .plugin = "flannel:0.1"};
    struct stk_error err = {0};
    assert_int_equal(sim_new(&o, &k, &err), STK_EINVAL);
    o.plugin = NULL;
    o.k8s_version = "new";
    assert_int_equal(sim_new(&o, &k, &err), STK_EINVAL);
}

static void terminate_captures_evidence(void **state)
{
    (void)state;
    struct kube k = make_sim("prod-aks", NULL, NULL);
    struct action_target t = {.cluster = "prod-aks", .ns = "storefront", .pod = WEB};
    struct action_result r;
    actions_run(&k, ACTION_ISOLATE, &t, &r);
    action_result_release(&r);
    actions_run(&k, ACTION_TERMINATE, &t, &r);
    assert_int_equal(r.status, ACTION_SUCCEEDED);
    assert_non_null(r.evidence);
    json_t *manifest = json_object_get(r.evidence, "manifest");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(manifest, "metadata"), "name")), WEB);
    assert_non_null(json_object_get(manifest, "status"));
    const char *log =
        json_string_value(json_object_get(json_object_get(r.evidence, "logs"), "web"));
    assert_non_null(log);
    assert_non_null(strstr(log, "azure.json"));
    /* 200 lines at most */
    size_t lines = 0;
    for (const char *c = log; *c; c++) {
        lines += *c == '\n';
    }
    assert_int_equal(lines, STK_EVIDENCE_LOG_LINES);
    assert_true(json_is_true(json_object_get(r.details, "network_policy_removed")));
    action_result_release(&r);

    /* Gone, and its Deployment made a new one without the labels. */
    json_t *pod = NULL;
    assert_int_equal(k.ops->get(k.ctx, KUBE_POD, "storefront", WEB, &pod, NULL), STK_ENOTFOUND);
    json_t *f = NULL;
    assert_int_equal(actions_facts(&k, NULL, &f, NULL), STK_OK);
    size_t web = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(f, "pods"), i, p)
    {
        const char *n = json_string_value(json_object_get(p, "name"));
        if (strncmp(n, "web-7f9c6d8b5-", 14) == 0) {
            web++;
            assert_false(json_is_true(json_object_get(p, "isolated")));
        }
    }
    assert_int_equal(web, 3);
    json_decref(f);

    /* A second terminate: the pod is not there any more. */
    actions_run(&k, ACTION_TERMINATE, &t, &r);
    assert_int_equal(r.status, ACTION_REFUSED);
    action_result_release(&r);
    kube_free(&k);
}

static void tamper_is_restored(void **state)
{
    (void)state;
    struct kube k = make_sim("dev-gke", NULL, NULL);
    struct action_target t = {.cluster = "dev-gke", .ns = "sandbox", .pod = "netshoot-debug"};
    struct action_result r;
    actions_run(&k, ACTION_ISOLATE, &t, &r);
    assert_int_equal(r.status, ACTION_SUCCEEDED);
    action_result_release(&r);

    json_t *report = NULL;
    int gone = 1;
    assert_int_equal(actions_tamper_check(&k, "sandbox", "netshoot-debug", "netshoot-debug",
                                          &report, &gone, NULL),
                     STK_OK);
    assert_null(report);
    assert_false(gone);

    /* Someone deletes the policy and strips the labels. */
    assert_int_equal(k.ops->remove(k.ctx, KUBE_NETWORK_POLICY, "sandbox",
                                   "stockade-isolate-netshoot-debug", NULL, NULL),
                     STK_OK);
    json_t *patch = policy_labels_patch("netshoot-debug", 1);
    json_t *out = NULL;
    assert_int_equal(k.ops->patch(k.ctx, KUBE_POD, "sandbox", "netshoot-debug", patch, &out, NULL),
                     STK_OK);
    json_decref(out);
    json_decref(patch);
    assert_int_equal(actions_tamper_check(&k, "sandbox", "netshoot-debug", "netshoot-debug",
                                          &report, &gone, NULL),
                     STK_OK);
    assert_non_null(report);
    assert_string_equal(json_string_value(json_object_get(report, "type")), "tamper");
    assert_true(json_is_true(json_object_get(report, "restored")));
    const char *what = json_string_value(json_object_get(report, "what"));
    assert_non_null(strstr(what, "was deleted"));
    assert_non_null(strstr(what, "labels were removed"));
    json_decref(report);
    /* Restored: the next check finds nothing. */
    assert_int_equal(actions_tamper_check(&k, "sandbox", "netshoot-debug", "netshoot-debug",
                                          &report, &gone, NULL),
                     STK_OK);
    assert_null(report);

    /* Someone opens the policy up. */
    json_t *pol = NULL;
    assert_int_equal(k.ops->get(k.ctx, KUBE_NETWORK_POLICY, "sandbox",
                                "stockade-isolate-netshoot-debug", &pol, NULL),
                     STK_OK);
    json_object_set_new(json_object_get(pol, "spec"), "egress", json_pack("[{}]"));
    assert_int_equal(k.ops->replace(k.ctx, KUBE_NETWORK_POLICY, "sandbox",
                                    "stockade-isolate-netshoot-debug", pol, &out, NULL),
                     STK_OK);
    json_decref(out);
    json_decref(pol);
    assert_int_equal(actions_tamper_check(&k, "sandbox", "netshoot-debug", "netshoot-debug",
                                          &report, &gone, NULL),
                     STK_OK);
    assert_non_null(strstr(json_string_value(json_object_get(report, "what")), "was changed"));
    json_decref(report);
    assert_int_equal(k.ops->get(k.ctx, KUBE_NETWORK_POLICY, "sandbox",
                                "stockade-isolate-netshoot-debug", &pol, NULL),
                     STK_OK);
    assert_true(policy_object_intact(pol, "netshoot-debug"));
    json_decref(pol);

    /* The pod goes away: the watch should stop. */
    assert_int_equal(k.ops->remove(k.ctx, KUBE_POD, "sandbox", "netshoot-debug", NULL, NULL),
                     STK_OK);
    assert_int_equal(actions_tamper_check(&k, "sandbox", "netshoot-debug", "netshoot-debug",
                                          &report, &gone, NULL),
                     STK_OK);
    assert_true(gone);
    assert_null(report);
    kube_free(&k);
}

static void merge_patch_and_selectors(void **state)
{
    (void)state;
    json_t *t =
        json_pack("{s:{s:{s:s, s:s}}, s:i}", "metadata", "labels", "a", "1", "b", "2", "x", 1);
    json_t *p = json_pack("{s:{s:{s:n, s:s}}, s:[i]}", "metadata", "labels", "a", "c", "3", "x", 5);
    assert_int_equal(sim_merge_patch(t, p), 0);
    char *text = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"metadata\":{\"labels\":{\"b\":\"2\",\"c\":\"3\"}},\"x\":[5]}");
    free(text);
    json_decref(p);
    p = json_pack("[]");
    assert_int_equal(sim_merge_patch(t, p), -1);
    json_decref(p);

    json_t *labels = json_pack("{s:s, s:s}", "k8s-app", "calico-node", "tier", "system");
    assert_int_equal(sim_selector_matches(STK_PLUGIN_SELECTOR, labels), 1);
    assert_int_equal(sim_selector_matches("k8s-app notin (cilium, calico-node)", labels), 0);
    assert_int_equal(sim_selector_matches("tier=system,k8s-app", labels), 1);
    assert_int_equal(sim_selector_matches("tier==system,!missing", labels), 1);
    assert_int_equal(sim_selector_matches("tier!=system", labels), 0);
    assert_int_equal(sim_selector_matches("missing", labels), 0);
    assert_int_equal(sim_selector_matches("tier in system", labels), -1);
    assert_int_equal(sim_selector_matches("!tier=system", labels), -1);
    json_decref(labels);
    json_decref(t);
}

static void utf8_and_fitting(void **state)
{
    (void)state;
    size_t n = 0;
    char *s = actions_utf8_clean("ok \xc3\xa9 \xff bad \xe2\x82", 14, &n);
    assert_string_equal(s, "ok \xc3\xa9 \xef\xbf\xbd bad \xef\xbf\xbd\xef\xbf\xbd");
    assert_int_equal(n, strlen(s));
    free(s);
    s = actions_utf8_clean("\xed\xa0\x80", 3, &n); /* a UTF-16 surrogate is not UTF-8 */
    assert_int_equal(n, 9);
    free(s);

    json_t *f = json_pack("{s:s, s:[], s:[]}", "kubernetes_version", "1.29.7", "pods", "services");
    for (int i = 0; i < 2000; i++) {
        json_array_append_new(json_object_get(f, "pods"),
                              json_pack("{s:s, s:s, s:{s:s}}", "namespace", "ns", "name",
                                        "pod-with-a-longish-name-0000000000", "labels", "app",
                                        "something-long-enough-to-matter"));
    }
    assert_int_equal(actions_facts_fit(f, 1u << 20), 0);
    assert_null(json_object_get(f, "truncated"));
    assert_int_equal(actions_facts_fit(f, 40000), 0);
    assert_true(json_is_true(json_object_get(f, "truncated")));
    assert_true(json_dumpb(f, NULL, 0, JSON_COMPACT) <= 40000);
    assert_true(json_array_size(json_object_get(f, "pods")) > 100);
    assert_null(json_object_get(json_array_get(json_object_get(f, "pods"), 0), "labels"));
    assert_int_equal(actions_facts_fit(f, 10), -1);
    json_decref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(facts_of_demo_clusters),
        cmocka_unit_test(isolate_twice_then_release_twice),
        cmocka_unit_test(refusals),
        cmocka_unit_test(terminate_captures_evidence),
        cmocka_unit_test(tamper_is_restored),
        cmocka_unit_test(merge_patch_and_selectors),
        cmocka_unit_test(utf8_and_fitting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
