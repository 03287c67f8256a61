/* agent/policy.c: version parsing, the isolate preconditions and their
 * words, plugin detection from kube-system pods (images from the real CNI
 * manifests in shared/samples/cni), the isolation key, labels and the
 * NetworkPolicy object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

static void versions(void **state)
{
    (void)state;
    struct semver v;
    assert_int_equal(precond_version_parse("v1.27.3", &v), 0);
    assert_int_equal(v.major, 1);
    assert_int_equal(v.minor, 27);
    assert_int_equal(v.patch, 3);
    assert_int_equal(precond_version_parse("1.26.0-gke.100", &v), 0);
    assert_int_equal(v.minor, 26);
    assert_int_equal(v.patch, 0);
    assert_int_equal(precond_version_parse("v1.30.4-eks-a737599", &v), 0);
    assert_int_equal(precond_version_parse("v1.29.4+k3s1", &v), 0);
    assert_int_equal(v.minor, 29);
    assert_int_equal(precond_version_parse("v3.24.1", &v), 0);
    assert_int_equal(v.major, 3);
    assert_int_equal(precond_version_parse("1.13.1", &v), 0);
    assert_int_equal(precond_version_parse("1.13", &v), 0);
    assert_int_equal(v.patch, 0);
    assert_int_equal(precond_version_parse("1.12.1-rc3", &v), 0);
    const char *bad[] = {"",        "v",    "1",    "latest", "1.x",      "1..2",
                         "1.2.3.4", "a1.2", "1.2 ", "1.2_3",  "9999999.1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(precond_version_parse(bad[i], &v), -1);
    }
    assert_int_equal(precond_version_parse(NULL, &v), -1);
    struct semver a;
    struct semver b;
    precond_version_parse("3.24.1", &a);
    precond_version_parse("3.24.0", &b);
    assert_true(precond_version_cmp(&a, &b) > 0);
    precond_version_parse("3.9.9", &b);
    assert_true(precond_version_cmp(&a, &b) > 0); /* numeric, not text */
    precond_version_parse("v3.24.1-gke.3", &b);
    assert_int_equal(precond_version_cmp(&a, &b), 0);
}

static void image_tags(void **state)
{
    (void)state;
    char v[64];
    policy_image_version("gcr.io/projectcalico-org/node:v3.19.1", v, sizeof(v));
    assert_string_equal(v, "3.19.1");
    policy_image_version("quay.io/cilium/cilium:v1.14.2@sha256:6263f3a3d5d63b267b538298dbeb5ae8", v,
                         sizeof(v));
    assert_string_equal(v, "1.14.2");
    policy_image_version("registry.local:5000/calico/node", v, sizeof(v)); /* a port, no tag */
    assert_string_equal(v, "");
    policy_image_version("registry.local:5000/calico/node:v3.26.1", v, sizeof(v));
    assert_string_equal(v, "3.26.1");
    policy_image_version("602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.12.1-rc3",
                         v, sizeof(v));
    assert_string_equal(v, "1.12.1-rc3");
    policy_image_version("node@sha256:abc", v, sizeof(v));
    assert_string_equal(v, "");
    policy_image_version(NULL, v, sizeof(v));
    assert_string_equal(v, "");
}

static json_t *plugin_pod(const char *app, const char *container, const char *image)
{
    return json_pack("{s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s}, {s:s, s:s}]}}", "metadata", "name",
                     "p", "namespace", "kube-system", "labels", "k8s-app", app, "spec",
                     "containers", "name", "sidecar", "image", "busybox:1.36", "name", container,
                     "image", image);
}

static void detect_plugins(void **state)
{
    (void)state;
    struct net_plugin np;
    json_t *pods = json_array();
    policy_detect_plugin(pods, &np);
    assert_string_equal(np.name, "none");
    assert_string_equal(np.version, "");

    /* The images of shared/samples/cni: all older than SPEC's minimums. */
    json_array_append_new(pods,
                          plugin_pod("azure-npm", "azure-npm",
                                     "mcr.microsoft.com/containernetworking/azure-npm:v1.4.1"));
    policy_detect_plugin(pods, &np);
    assert_string_equal(np.name, "azure-npm");
    assert_string_equal(np.version, "1.4.1");

    json_array_append_new(pods, plugin_pod("aws-node", "aws-node",
                                           "602401143452.dkr.ecr.us-west-2.amazonaws.com/"
                                           "amazon-k8s-cni:v1.12.1-rc3"));
    policy_detect_plugin(pods, &np);
    assert_string_equal(np.name, "azure-npm"); /* the plain CNI loses to an enforcer */

    json_array_append_new(
        pods, plugin_pod("calico-node", "calico-node", "gcr.io/projectcalico-org/node:v3.19.1"));
    json_array_append_new(
        pods, plugin_pod("calico-node", "calico-node", "gcr.io/projectcalico-org/node:v3.26.1"));
    policy_detect_plugin(pods, &np);
    assert_string_equal(np.name, "calico");
    assert_string_equal(np.version, "3.19.1"); /* mid-upgrade: the oldest counts */

    json_array_append_new(pods,
                          plugin_pod("cilium", "cilium-agent", "docker.io/cilium/cilium:v1.6.0"));
    policy_detect_plugin(pods, &np);
    assert_string_equal(np.name, "cilium");
    assert_string_equal(np.version, "1.6.0");
    json_decref(pods);

    /* Only aws-node, its version from the aws-node container. */
    pods = json_array();
    json_array_append_new(pods, plugin_pod("aws-node", "aws-node",
                                           "602401143452.dkr.ecr.eu-west-1.amazonaws.com/"
                                           "amazon-k8s-cni:v1.18.3-eksbuild.1"));
    json_array_append_new(pods, plugin_pod("kube-dns", "coredns", "coredns:1.11.1"));
    policy_detect_plugin(pods, &np);
    assert_string_equal(np.name, "aws-node");
    assert_string_equal(np.version, "1.18.3-eksbuild.1");
    json_decref(pods);
}

static void preconditions(void **state)
{
    (void)state;
    struct stk_error why = {0};
    struct net_plugin calico = {"calico", "3.26.1"};
    assert_int_equal(precond_check_isolate("prod-aks", "v1.29.7", &calico, &why), STK_OK);
    assert_int_equal(precond_check_isolate("prod-aks", "v1.27.0", &calico, &why), STK_OK);
    assert_int_equal(precond_check_isolate("prod-aks", "1.26.0-gke.100", &calico, &why),
                     STK_EFORBIDDEN);
    assert_string_equal(why.msg, "isolate needs Kubernetes 1.27 or later; cluster prod-aks runs "
                                 "1.26");
    assert_int_equal(precond_check_isolate("prod-aks", "v0.99.0", &calico, &why), STK_EFORBIDDEN);
    assert_int_equal(precond_check_isolate("prod-aks", "v2.0.0", &calico, &why), STK_OK);
    assert_int_equal(precond_check_isolate("x", "banana", &calico, &why), STK_EFORBIDDEN);
    assert_non_null(strstr(why.msg, "cannot be read (\"banana\")"));

    struct net_plugin old = {"calico", "3.20.0"};
    assert_int_equal(precond_check_isolate("prod-aks", "v1.29.7", &old, &why), STK_EFORBIDDEN);
    assert_non_null(strstr(why.msg, "calico 3.20.0 is older than 3.24.1"));
    assert_non_null(strstr(why.msg, "prod-aks"));

    struct net_plugin exact = {"calico", "3.24.1"};
    assert_int_equal(precond_check_isolate("c", "v1.29.7", &exact, &why), STK_OK);
    struct net_plugin cilium = {"cilium", "1.13.1"};
    assert_int_equal(precond_check_isolate("c", "v1.29.7", &cilium, &why), STK_OK);
    struct net_plugin cilium_old = {"cilium", "1.13.0"};
    assert_int_equal(precond_check_isolate("c", "v1.29.7", &cilium_old, &why), STK_EFORBIDDEN);
    assert_non_null(strstr(why.msg, "cilium 1.13.0 is older than 1.13.1"));
    struct net_plugin npm = {"azure-npm", "1.5.34"};
    assert_int_equal(precond_check_isolate("c", "v1.29.7", &npm, &why), STK_OK);
    struct net_plugin aws = {"aws-node", "1.15.0"};
    assert_int_equal(precond_check_isolate("c", "v1.29.7", &aws, &why), STK_EFORBIDDEN);
    struct net_plugin aws_ok = {"aws-node", "1.18.3-eksbuild.1"};
    assert_int_equal(precond_check_isolate("c", "v1.29.7", &aws_ok, &why), STK_OK);

    struct net_plugin none = {"none", ""};
    assert_int_equal(precond_check_isolate("dev", "v1.29.7", &none, &why), STK_EFORBIDDEN);
    assert_non_null(strstr(why.msg, "cluster dev has none"));
    struct net_plugin unknown = {"calico", ""};
    assert_int_equal(precond_check_isolate("dev", "v1.29.7", &unknown, &why), STK_EFORBIDDEN);
    assert_non_null(strstr(why.msg, "cannot be read from its image tag"));
    /* The Kubernetes version is checked first. */
    assert_int_equal(precond_check_isolate("dev", "v1.20.1", &none, &why), STK_EFORBIDDEN);
    assert_non_null(strstr(why.msg, "runs 1.20"));
}

static void pod_states(void **state)
{
    (void)state;
    char st[32];
    json_t *p = json_pack("{s:{}, s:{s:s}}", "metadata", "status", "phase", "Running");
    assert_true(policy_pod_active(p, st, sizeof(st)));
    assert_string_equal(st, "Running");
    json_object_set_new(json_object_get(p, "status"), "phase", json_string("Pending"));
    assert_true(policy_pod_active(p, st, sizeof(st)));
    json_object_set_new(json_object_get(p, "status"), "phase", json_string("Succeeded"));
    assert_false(policy_pod_active(p, st, sizeof(st)));
    assert_string_equal(st, "Succeeded");
    json_object_set_new(json_object_get(p, "status"), "phase", json_string("Running"));
    json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
                        json_string("2026-11-22T10:00:00Z"));
    assert_false(policy_pod_active(p, st, sizeof(st)));
    assert_string_equal(st, "Terminating");
    json_decref(p);
    p = json_object();
    assert_false(policy_pod_active(p, st, sizeof(st)));
    assert_string_equal(st, "Unknown");
    json_decref(p);
}

static void isolation_keys(void **state)
{
    (void)state;
    char key[STK_ISOLATION_KEY_MAX];
    policy_isolation_key("web-7f9c6d8b5-x2kqp", key);
    assert_string_equal(key, "web-7f9c6d8b5-x2kqp");
    /* 63 characters is still a label value. */
    char name63[64];
    memset(name63, 'a', 63);
    name63[63] = '\0';
    policy_isolation_key(name63, key);
    assert_string_equal(key, name63);
    /* 64 is not: h- and the SHA-1 of the name (sha1sum of the text). */
    policy_isolation_key("nightly-report-generator-with-a-very-long-name-that-passes-sixty-three-"
                         "chars-x7k2p",
                         key);
    assert_int_equal(strlen(key), 42);
    assert_memory_equal(key, "h-", 2);
    assert_string_equal(key, "h-d5f2b0032e1dc686bfa985346c4fbc1ca041735f");
    /* A subdomain with a dot that ends in a non-alphanumeric cannot happen;
     * a name with dots stays as it is. */
    policy_isolation_key("web.v2", key);
    assert_string_equal(key, "web.v2");
    char name[STK_POLICY_NAME_MAX];
    policy_name("web-1", name);
    assert_string_equal(name, "stockade-isolate-web-1");
}

static void objects(void **state)
{
    (void)state;
    json_t *pol = policy_object("storefront", "web-1");
    assert_non_null(pol);
    assert_string_equal(json_string_value(json_object_get(pol, "kind")), "NetworkPolicy");
    assert_string_equal(json_string_value(json_object_get(pol, "apiVersion")),
                        "networking.k8s.io/v1");
    json_t *meta = json_object_get(pol, "metadata");
    assert_string_equal(json_string_value(json_object_get(meta, "name")), "stockade-isolate-web-1");
    assert_string_equal(json_string_value(json_object_get(meta, "namespace")), "storefront");
    json_t *spec = json_object_get(pol, "spec");
    json_t *ml = json_object_get(json_object_get(spec, "podSelector"), "matchLabels");
    assert_int_equal(json_object_size(ml), 2);
    assert_string_equal(json_string_value(json_object_get(ml, STK_LABEL_ISOLATED)), "true");
    assert_string_equal(json_string_value(json_object_get(ml, STK_LABEL_ISOLATION)), "web-1");
    json_t *types = json_object_get(spec, "policyTypes");
    assert_int_equal(json_array_size(types), 2);
    assert_string_equal(json_string_value(json_array_get(types, 0)), "Ingress");
    assert_string_equal(json_string_value(json_array_get(types, 1)), "Egress");
    assert_null(json_object_get(spec, "ingress"));
    assert_null(json_object_get(spec, "egress"));
    assert_true(policy_object_intact(pol, "web-1"));
    assert_false(policy_object_intact(pol, "web-2"));

    /* Tampering: an allow-all rule, a lost policy type, a wider selector. */
    json_object_set_new(spec, "ingress", json_pack("[{}]"));
    assert_false(policy_object_intact(pol, "web-1"));
    json_object_set_new(spec, "ingress", json_array());
    assert_true(policy_object_intact(pol, "web-1"));
    json_object_set_new(spec, "policyTypes", json_pack("[s]", "Ingress"));
    assert_false(policy_object_intact(pol, "web-1"));
    json_object_set_new(spec, "policyTypes", json_pack("[s, s]", "Egress", "Ingress"));
    assert_true(policy_object_intact(pol, "web-1"));
    json_object_del(ml, STK_LABEL_ISOLATION);
    assert_false(policy_object_intact(pol, "web-1"));
    json_decref(pol);

    json_t *add = policy_labels_patch("web-1", 0);
    char *text = json_dumps(add, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"metadata\":{\"labels\":{\"stockade.io/isolated\":\"true\","
                              "\"stockade.io/isolation\":\"web-1\"}}}");
    free(text);
    json_t *pod = json_pack("{s:O}", "metadata", json_object_get(add, "metadata"));
    assert_true(policy_pod_labelled(pod, "web-1"));
    assert_false(policy_pod_labelled(pod, "web-2"));
    json_decref(pod);
    json_decref(add);
    json_t *rm = policy_labels_patch("web-1", 1);
    text = json_dumps(rm, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"metadata\":{\"labels\":{\"stockade.io/isolated\":null,"
                              "\"stockade.io/isolation\":null}}}");
    free(text);
    json_decref(rm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions),       cmocka_unit_test(image_tags),
        cmocka_unit_test(detect_plugins), cmocka_unit_test(preconditions),
        cmocka_unit_test(pod_states),     cmocka_unit_test(isolation_keys),
        cmocka_unit_test(objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
