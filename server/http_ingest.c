/* POST /api/v1/ingest/falco, /api/v1/ingest/k8s-audit and /api/v1/alerts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "http_handlers.h"
#include "ingest_parse.h"
#include "log.h"
#include "svc_ingest.h"

enum format { FMT_FALCO, FMT_K8S_AUDIT, FMT_ALERTS };

/* Alerts may name their cluster (Stockade's JSON does); it must be a valid
 * name, and the token's own when the token is bound to one. */
static enum stk_err check_clusters(const struct http_req *r, const struct ingest_batch *b,
                                   struct ingest_reject *rej)
{
    const char *bound = r->who.cluster;
    for (size_t i = 0; i < b->n_alerts; i++) {
        const char *c = b->alerts[i].cluster;
        rej->index = (long)i;
        if (c[0] != '\0' && !http_cluster_name_ok(c)) {
            snprintf(rej->reason, sizeof(rej->reason),
                     "element %zu: cluster: expected 1 to 63 letters, digits, '-', '_' or '.'", i);
            return STK_EINVAL;
        }
        if (bound[0] != '\0' && strcmp(c, bound) != 0) {
            snprintf(rej->reason, sizeof(rej->reason),
                     "element %zu: cluster: this token is bound to another cluster", i);
            return STK_EFORBIDDEN;
        }
    }
    rej->index = -1;
    return STK_OK;
}

static int ingest(struct http_req *r, enum format fmt, const char *what)
{
    char cluster[ALERT_CLUSTER_MAX];
    int st = http_request_cluster(r, cluster, sizeof(cluster));
    if (st != 0) {
        return st;
    }
    struct stk_error err;
    stk_error_clear(&err);
    char *body = NULL;
    size_t len = 0;
    enum stk_err rc = http_read_body(r, &body, &len, &err);
    if (rc != STK_OK) {
        return http_reply_error(r, rc, err.msg);
    }
    struct ingest_batch b;
    ingest_batch_init(&b);
    struct ingest_reject rej = {.index = -1, .reason = ""};
    struct detect_config dc = {.proxies = r->app->proxies};
    if (fmt == FMT_FALCO) {
        rc = ingest_parse_falco(body, len, cluster, &b, &rej);
    } else if (fmt == FMT_K8S_AUDIT) {
        rc = ingest_parse_k8s_audit(body, len, cluster, &dc, &b, &rej);
    } else {
        rc = ingest_parse_alerts(body, len, cluster, &b, &rej);
    }
    free(body);
    if (rc == STK_OK) {
        rc = check_clusters(r, &b, &rej);
    }
    if (rc != STK_OK) {
        ingest_batch_release(&b);
        return http_reply_rejected(r, rc, rej.index, rej.reason);
    }
    struct ingest_settings s = {
        .window_ms = r->app->cfg.correlation_window_s * 1000LL,
        .ns_window_ms = r->app->cfg.correlation_ns_window_s * 1000LL,
        .path_max_hops = (int)r->app->cfg.attack_path_max_hops,
    };
    struct actor by = http_actor(r);
    struct ingest_result res;
    rc = svc_ingest_store(r->db, &s, &b, &by, what, &res, &err);
    size_t n_alerts = b.n_alerts, n_events = b.n_audits;
    if (fmt != FMT_K8S_AUDIT) {
        /* Falco events give one alert each, plus our own drift alerts. */
        n_events = 0;
        for (size_t i = 0; i < b.n_alerts; i++) {
            n_events += fmt == FMT_ALERTS || b.alerts[i].provider != PROV_STOCKADE_RULES;
        }
    }
    ingest_batch_release(&b);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "ingest_failed");
    }
    return http_reply_json(
        r, 200,
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "events", (json_int_t)n_events,
                  "alerts", (json_int_t)n_alerts, "alerts_new", (json_int_t)res.alerts_new,
                  "alerts_duplicate", (json_int_t)res.alerts_duplicate, "alerts_suppressed",
                  (json_int_t)res.alerts_suppressed, "incidents_created",
                  (json_int_t)res.incidents_created, "incidents_merged",
                  (json_int_t)res.incidents_merged));
}

int http_ingest_falco(struct http_req *r)
{
    return ingest(r, FMT_FALCO, "falco");
}

int http_ingest_k8s_audit(struct http_req *r)
{
    return ingest(r, FMT_K8S_AUDIT, "k8s-audit");
}

int http_ingest_alerts(struct http_req *r)
{
    return ingest(r, FMT_ALERTS, "alerts");
}
