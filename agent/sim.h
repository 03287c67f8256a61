/* --simulate: a built-in fake cluster behind struct kube (kube.h), for
 * demos and tests without Kubernetes. It holds the clusters of the demo
 * scenario (tests/fixtures/demo: prod-aks, payments-eks, dev-gke, with
 * their namespaces, pods, services, Kubernetes version and network policy
 * plugin) as in-memory objects, so that isolate, terminate and release
 * really change what the next facts report. A cluster name it does not
 * know gets a small generic cluster. Nothing is persisted. */
#ifndef STK_AGENT_SIM_H
#define STK_AGENT_SIM_H

#include "err.h"
#include "kube.h"

struct sim_opts {
    const char *cluster;     /* which demo cluster to play */
    const char *k8s_version; /* override the gitVersion ("v1.26.3"); NULL: the cluster's */
    const char *plugin;      /* override the plugin: "calico:3.20.0", "none"; NULL: the cluster's */
};

/* Builds the fake cluster into `out`; free with kube_free(). STK_EINVAL
 * for a malformed override. */
enum stk_err sim_new(const struct sim_opts *opts, struct kube *out, struct stk_error *err);

/* Merges `patch` into the object `target` as RFC 7386 says (null deletes
 * a member, objects merge, anything else replaces). Returns 0, -1 when out
 * of memory or when `target` or `patch` is not an object. */
int sim_merge_patch(json_t *target, const json_t *patch);

/* 1 if the labels object `labels` matches the label selector `selector`
 * ("app=web,tier!=db", "k8s-app in (a,b)", "key", "!key"); -1 when the
 * selector does not parse. */
int sim_selector_matches(const char *selector, const json_t *labels);

#endif
