/* What the agent does in the cluster (docs/agents.md, "Commands" and
 * "facts"): the facts it reports, isolate, terminate, release, and the
 * tamper check of an isolated pod. Written once against struct kube, so the
 * real API and --simulate behave alike. Every function here blocks on the
 * Kubernetes API (each request bounded by its deadline): call them from a
 * worker thread, never from the connection's loop. */
#ifndef STK_AGENT_ACTIONS_H
#define STK_AGENT_ACTIONS_H

#include <jansson.h>

#include "err.h"
#include "kube.h"

#define STK_FACTS_MAX_PODS 20000
#define STK_FACTS_MAX_SERVICES 5000
#define STK_EVIDENCE_LOG_LINES 200
#define STK_EVIDENCE_LOG_MAX (64u * 1024)
/* What the evidence may take of a result frame (1 MiB with the rest). */
#define STK_EVIDENCE_MAX (900u * 1024)

enum action_kind {
    ACTION_ISOLATE = 0,
    ACTION_TERMINATE,
    ACTION_RELEASE,
};

enum action_status {
    ACTION_SUCCEEDED = 0,
    ACTION_FAILED,  /* tried, and the cluster said no or did not answer */
    ACTION_REFUSED, /* not tried: a precondition or a check of the command failed */
};

/* "isolate" etc. into `out`; -1 for anything else. */
int action_kind_parse(const char *s, enum action_kind *out);
const char *action_kind_name(enum action_kind kind);
const char *action_status_name(enum action_status status);
/* -1 for anything but "succeeded", "failed", "refused". */
int action_status_parse(const char *s, enum action_status *out);

struct action_target {
    const char *cluster;
    const char *ns;
    const char *pod;
};

/* How an action ended: the words for an analyst, what was applied, and
 * for terminate the evidence. */
struct action_result {
    enum action_status status;
    char reason[STK_ERROR_MSG_MAX];
    json_t *details;  /* owned, an object */
    json_t *evidence; /* owned, NULL but for terminate */
};

/* Frees details and evidence. */
void action_result_release(struct action_result *r);

/* Carries out `kind` on `t` and fills `out` (always, even when out of
 * memory: then status failed). The caller releases `out`. */
void actions_run(struct kube *k, enum action_kind kind, const struct action_target *t,
                 struct action_result *out);

/* The cluster's facts, as in docs/agents.md: kubernetes_version, cloud
 * (`cloud` when not NULL, else guessed from the version and node names),
 * network_policy, pods (at most STK_FACTS_MAX_PODS) and services (at most
 * STK_FACTS_MAX_SERVICES). Caller owns `*out`. */
enum stk_err actions_facts(struct kube *k, const char *cloud, json_t **out, struct stk_error *err);

/* Shrinks `facts` until its JSON text fits in `max` bytes: pod labels go
 * first, then pods and services from the end; sets "truncated": true when
 * anything was dropped. Returns 0, or -1 when even an empty list does not
 * fit. */
int actions_facts_fit(json_t *facts, size_t max);

/* Checks that pod `ns`/`pod`, isolated under `key`, still is: its policy
 * exists unchanged and it carries both labels; restores what is missing.
 * `*report` receives the `tamper` frame to send when anything had been
 * changed (NULL otherwise); `*gone` is 1 when the pod no longer exists (the
 * watch should stop). STK_OK, or the API's error when the check itself
 * could not be made (nothing to report then). */
enum stk_err actions_tamper_check(struct kube *k, const char *ns, const char *pod, const char *key,
                                  json_t **report, int *gone, struct stk_error *err);

/* A copy of `s` (length `len`) that is valid UTF-8: bad bytes become
 * U+FFFD. Caller frees; NULL when out of memory. `*out_len` its length. */
char *actions_utf8_clean(const char *s, size_t len, size_t *out_len);

#endif
