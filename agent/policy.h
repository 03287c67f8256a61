/* The rules of the response actions that need no cluster (docs/agents.md,
 * SPEC section 6): version parsing and the preconditions, the isolation
 * labels and NetworkPolicy, and finding the network policy plugin among
 * kube-system's pods. Pure functions, so that tests cover them directly. */
#ifndef STK_AGENT_POLICY_H
#define STK_AGENT_POLICY_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#include "isolation.h"
#include "precond.h"

#define STK_LABEL_ISOLATED ISOLATION_LABEL
#define STK_LABEL_ISOLATION ISOLATION_KEY_LABEL
#define STK_POLICY_PREFIX ISOLATION_POLICY_PREFIX
#define STK_ISOLATION_KEY_MAX ISOLATION_KEY_MAX /* 63 characters + NUL */
#define STK_POLICY_NAME_MAX ISOLATION_POLICY_NAME_MAX

/* The label selector that finds the plugins' pods in kube-system. */
#define STK_PLUGIN_SELECTOR "k8s-app in (azure-npm,calico-node,cilium,aws-node)"

/* Finds the plugin among `pods` (kube-system pods; a JSON array of Pod
 * objects) by their label k8s-app (azure-npm, calico-node, cilium,
 * aws-node). With several, the enforcer wins over the plain CNI (cilium,
 * calico, azure-npm, then aws-node); with several pods of one plugin the
 * oldest version counts. "none" when there is none. */
void policy_detect_plugin(const json_t *pods, struct net_plugin *out);

/* The tag of image reference `image` ("quay.io/cilium/cilium:v1.14.2@sha256:..."
 * gives "1.14.2"), leading v removed, into `out` (size n); "" without one. */
void policy_image_version(const char *image, char *out, size_t n);

/* 1 if `pod` (a Pod object) is active: phase Pending or Running and not
 * being deleted. `state` (size n) receives the phase, or "Terminating". */
int policy_pod_active(const json_t *pod, char *state, size_t n);

/* The isolation key of pod `name`: the name itself when it is a valid
 * label value of at most 63 characters, otherwise "h-" and 40 hex of its
 * SHA-1. */
void policy_isolation_key(const char *name, char out[STK_ISOLATION_KEY_MAX]);

/* "stockade-isolate-<key>". */
void policy_name(const char *key, char out[STK_POLICY_NAME_MAX]);

/* {"stockade.io/isolated":"true","stockade.io/isolation":KEY}. New
 * reference, NULL when out of memory. */
json_t *policy_labels(const char *key);

/* The merge patch that sets those labels, or (`remove`) deletes them with
 * nulls. New reference. */
json_t *policy_labels_patch(const char *key, int remove);

/* 1 if Pod `pod` carries both labels with the values of `key`. */
int policy_pod_labelled(const json_t *pod, const char *key);

/* The NetworkPolicy that isolates the pods labelled for `key` in `ns`:
 * podSelector.matchLabels the two labels, policyTypes [Ingress, Egress],
 * no rules, so nothing is allowed in or out. New reference. */
json_t *policy_object(const char *ns, const char *key);

/* 1 if NetworkPolicy `obj` still does what policy_object() made it do
 * (same selector, both policy types, no ingress or egress rule). */
int policy_object_intact(const json_t *obj, const char *key);

#endif
