/* Internal to the Kubernetes audit ingestion: one event as ingest_audit.c
 * reads it, judged by the detection rules of ingest_audit_rules.c. */
#ifndef STK_INGEST_AUDIT_H
#define STK_INGEST_AUDIT_H

#include "ingest_json.h"
#include "ingest_parse.h"

/* One event's fields, borrowed from the loaded JSON (every one checked for
 * type and size; requestObject/responseObject are any JSON). */
struct audit_event {
    json_t *ev;
    const char *audit_id, *stage, *verb, *uri, *user, *user_agent;
    json_t *groups, *ips, *annotations, *req_obj, *resp_obj;
    const char *resource, *subresource, *ns, *name;
    long long code;
    int has_code;
    long long ms;
    char resource_kind[ALERT_NAME_MAX]; /* "pods/exec" */
};

/* "create pods/exec", or "get /healthz" for non-resource requests, into
 * `out`; STK_EINVAL (rejection recorded) when it does not fit. */
enum stk_err audit_operation(struct ingest_ctx *c, const struct audit_event *e, char *out,
                             size_t size);

/* Runs the detection rules on `e` and appends their alerts to `out`. Only
 * the stage that decides a request is judged (docs/ingestion.md). */
enum stk_err audit_rules_apply(struct ingest_ctx *c, const struct detect_config *cfg,
                               const struct audit_event *e, const char *cluster,
                               struct ingest_batch *out);

#endif
