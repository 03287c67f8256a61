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

static int cluster_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

/* The cluster the events come from: the token's binding, or ?cluster=.
 * Returns 0, or the status of the error reply it sent. */
static int request_cluster(struct http_req *r, char *out, size_t n)
{
    char q[128] = "";
    int has = http_query(r, "cluster", q, sizeof(q));
    if (has < 0 || (has > 0 && !cluster_name_ok(q))) {
        return http_reply_error(r, STK_EINVAL,
                                "cluster: expected 1 to 63 letters, digits, '-', '_' or '.'");
    }
    const char *bound = r->who.cluster;
    if (bound[0] != '\0') {
        if (has > 0 && strcmp(q, bound) != 0) {
            return http_reply_error(r, STK_EFORBIDDEN,
                                    "this token is bound to another cluster");
        }
        snprintf(out, n, "%s", bound);
    } else {
        snprintf(out, n, "%s", has > 0 ? q : "");
    }
    return 0;
}

/* Alerts may name their cluster (Stockade's JSON does); it must be a valid
 * name, and the token's own when the token is bound to one. */
static enum stk_err check_clusters(const struct http_req *r, const struct ingest_batch *b,
                                   struct ingest_reject *rej)
{
    const char *bound = r->who.cluster;
    for (size_t i = 0; i < b->n_alerts; i++) {
        const char *c = b->alerts[i].cluster;
        rej->index = (long)i;
        if (c[0] != '\0' && !cluster_name_ok(c)) {
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

static int reply_rejected(struct http_req *r, enum stk_err rc, const struct ingest_reject *rej)
{
    json_t *e = json_pack("{s:s, s:s}", "code", stk_err_name(rc), "message", rej->reason);
    if (e != NULL && rej->index >= 0) {
        json_object_set_new(e, "index", json_integer(rej->index));
    }
    return http_reply_json(r, http_status_for(rc), json_pack("{s:o}", "error", e));
}

static int ingest(struct http_req *r, enum format fmt, const char *what)
{
    char cluster[ALERT_CLUSTER_MAX];
    int st = request_cluster(r, cluster, sizeof(cluster));
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
        return reply_rejected(r, rc, &rej);
    }
    struct ingest_settings s = {
        .window_ms = r->app->cfg.correlation_window_s * 1000LL,
        .ns_window_ms = r->app->cfg.correlation_ns_window_s * 1000LL,
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
