/* The Kubernetes objects of a pod isolation (docs/agents.md, "isolate"),
 * built in one place: the agent applies them (agent/policy.c) and the
 * server's dry run shows them (svc_actions_plan()), byte for byte the same. */
#ifndef STK_ISOLATION_H
#define STK_ISOLATION_H

#include <jansson.h>
#include <stddef.h>

#define ISOLATION_LABEL "stockade.io/isolated"
#define ISOLATION_KEY_LABEL "stockade.io/isolation"
#define ISOLATION_POLICY_PREFIX "stockade-isolate-"
#define ISOLATION_KEY_MAX 64 /* bytes of a key, NUL included */
#define ISOLATION_POLICY_NAME_MAX (sizeof(ISOLATION_POLICY_PREFIX) + ISOLATION_KEY_MAX)

/* The pod's isolation key: its name when that is a valid label value (at
 * most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends),
 * otherwise "h-" and the 40 hex digits of the name's SHA-1. */
void isolation_key(const char *pod, char out[ISOLATION_KEY_MAX]);

/* "stockade-isolate-<key>". */
void isolation_policy_name(const char *key, char out[ISOLATION_POLICY_NAME_MAX]);

/* The two labels that select the isolated pod ({"stockade.io/isolated":
 * "true", "stockade.io/isolation": key}). Caller owns; NULL on ENOMEM. */
json_t *isolation_selector(const char *key);

/* The NetworkPolicy object: in namespace `ns`, selecting the two labels,
 * policyTypes Ingress and Egress, no rules (deny all). Caller owns; NULL
 * on ENOMEM. */
json_t *isolation_policy(const char *ns, const char *key);

/* The merge patch that labels the pod (isolate) or, with `remove`, takes
 * the two labels off (release). Caller owns; NULL on ENOMEM. */
json_t *isolation_label_patch(const char *key, int remove);

#endif
