/* The Kubernetes objects of a pod isolation (docs/agents.md, "isolate"),
 * built in one place so that the server's dry run shows exactly what the
 * agent applies. */
#ifndef STK_ISOLATION_H
#define STK_ISOLATION_H

#include <jansson.h>
#include <stddef.h>

#define ISOLATION_LABEL "stockade.io/isolated"
#define ISOLATION_KEY_LABEL "stockade.io/isolation"
#define ISOLATION_POLICY_PREFIX "stockade-isolate-"
#define ISOLATION_KEY_MAX 64 /* bytes of a key, NUL included */

/* The pod's isolation key: its name when that is a valid label value (at
 * most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends),
 * otherwise "h-" and the 40 hex digits of the name's SHA-1. */
void isolation_key(const char *pod, char out[ISOLATION_KEY_MAX]);

/* "stockade-isolate-<key>" into `out` (at least 96 bytes). */
void isolation_policy_name(const char *pod, char *out, size_t n);

/* The NetworkPolicy object: in namespace `ns`, selecting the two labels,
 * policyTypes Ingress and Egress, no rules. Caller owns; NULL on ENOMEM. */
json_t *isolation_policy(const char *ns, const char *pod);

/* The merge patch that labels the pod (isolate) or, with `remove`, takes
 * the two labels off (release). Caller owns; NULL on ENOMEM. */
json_t *isolation_label_patch(const char *pod, int remove);

/* The label selector alone ({"stockade.io/isolated":"true", ...}). */
json_t *isolation_selector(const char *pod);

#endif
