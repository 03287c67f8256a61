/* The incident report: a summary of the attack written from the correlated
 * alerts alone (no language model), one section per MITRE tactic in
 * kill-chain order, the entities and the suggested responses. Everything in
 * it derives from stored alerts and entities, in a fixed order, so the same
 * incident always gives the same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "buf.h"
#include "svc_incidents.h"

#define REPORT_MAX_ALERTS 5000
#define REPORT_MAX_RESPONSES 20
#define TEXT_MAX (64 * 1024)

static int by_time_then_content(const void *pa, const void *pb)
{
    const struct alert_row *a = pa, *b = pb;
    if (a->first_ts != b->first_ts) {
        return a->first_ts < b->first_ts ? -1 : 1;
    }
    int c = strcmp(a->title, b->title);
    if (c == 0) {
        c = strcmp(a->rule, b->rule);
    }
    if (c == 0) {
        c = a->severity - b->severity;
    }
    if (c == 0) {
        c = strcmp(a->description ? a->description : "", b->description ? b->description : "");
    }
    return c != 0 ? c : (a->id < b->id ? -1 : a->id > b->id);
}

static void rfc3339(long long ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t used = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + used, n - used, ".%03dZ", (int)(ms % 1000));
}

static void when(long long ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* "pod" / "pods", "identity" / "identities", "IP" / "IPs". */
static const char *kind_plural(int kind, long long n)
{
    static const char *const many[ENT_KIND_N] = {
        [ENT_CLUSTER] = "clusters",
        [ENT_NAMESPACE] = "namespaces",
        [ENT_NODE] = "nodes",
        [ENT_POD] = "pods",
        [ENT_CONTAINER] = "containers",
        [ENT_DEPLOYMENT] = "deployments",
        [ENT_SERVICE] = "services",
        [ENT_IMAGE] = "images",
        [ENT_REGISTRY] = "registries",
        [ENT_IDENTITY] = "identities",
        [ENT_IP] = "IPs",
        [ENT_CLOUD_RESOURCE] = "cloud resources",
    };
    static const char *const one[ENT_KIND_N] = {
        [ENT_CLUSTER] = "cluster",
        [ENT_NAMESPACE] = "namespace",
        [ENT_NODE] = "node",
        [ENT_POD] = "pod",
        [ENT_CONTAINER] = "container",
        [ENT_DEPLOYMENT] = "deployment",
        [ENT_SERVICE] = "service",
        [ENT_IMAGE] = "image",
        [ENT_REGISTRY] = "registry",
        [ENT_IDENTITY] = "identity",
        [ENT_IP] = "IP",
        [ENT_CLOUD_RESOURCE] = "cloud resource",
    };
    return n == 1 ? one[kind] : many[kind];
}

static const char *plural(long long n)
{
    return n == 1 ? "" : "s";
}

/* "a, b and c" over the distinct titles of a tactic's alerts. */
static void distinct_titles(struct buf *b, const struct alert_row *alerts, size_t n, int tactic)
{
    size_t listed = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (alerts[i].tactic != tactic) {
            continue;
        }
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = alerts[j].tactic == tactic && strcmp(alerts[j].title, alerts[i].title) == 0;
        }
        if (!seen) {
            total++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (alerts[i].tactic != tactic) {
            continue;
        }
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = alerts[j].tactic == tactic && strcmp(alerts[j].title, alerts[i].title) == 0;
        }
        if (seen) {
            continue;
        }
        if (listed > 0) {
            buf_append_str(b, listed + 1 == total ? " and " : ", ");
        }
        buf_printf(b, "\"%s\"", alerts[i].title);
        if (++listed == 8 && total > 8) {
            buf_printf(b, " and %zu more", total - 8);
            break;
        }
    }
}

static json_t *section(const struct incident_detail *d, int tactic)
{
    json_t *alerts = json_array();
    long long first = 0, last = 0, count = 0;
    int worst = 0;
    for (size_t i = 0; i < d->n_alerts; i++) {
        const struct alert_row *a = &d->alerts[i];
        if (a->tactic != tactic) {
            continue;
        }
        if (count++ == 0 || a->first_ts < first) {
            first = a->first_ts;
        }
        last = a->last_ts > last ? a->last_ts : last;
        worst = a->severity > worst ? a->severity : worst;
        char at[40];
        rfc3339(a->first_ts, at, sizeof(at));
        json_array_append_new(alerts, json_pack("{s:I, s:s, s:s, s:s, s:s}", "id",
                                                (json_int_t)a->id, "title", a->title, "severity",
                                                alert_severity_name(a->severity), "technique",
                                                a->technique, "time", at));
    }
    if (count == 0) {
        json_decref(alerts);
        return NULL;
    }
    char t1[40], t2[40];
    when(first, t1, sizeof(t1));
    when(last, t2, sizeof(t2));
    struct buf b;
    buf_init(&b, TEXT_MAX);
    buf_printf(&b, "%lld alert%s between %s and %s (highest severity %s): ", count, plural(count),
               t1, t2, alert_severity_name(worst));
    distinct_titles(&b, d->alerts, d->n_alerts, tactic);
    buf_append_str(&b, ".");
    json_t *s =
        json_pack("{s:s, s:s, s:s%, s:o}", "tactic", tactic ? alert_tactic_name(tactic) : "other",
                  "label", tactic ? alert_tactic_label(tactic) : "Other activity", "text",
                  b.data ? b.data : "", b.len, "alerts", alerts);
    buf_release(&b);
    return s;
}

static void summary(struct buf *b, const struct incident_detail *d)
{
    const struct incident *in = &d->in;
    char t1[40], t2[40];
    when(in->first_ts, t1, sizeof(t1));
    when(in->last_ts, t2, sizeof(t2));
    buf_printf(b, "Between %s and %s, %lld alert%s from ", t1, t2, in->alert_count,
               plural(in->alert_count));
    int listed = 0;
    for (int p = 0; p < PROV_N; p++) {
        if (in->sources & (1u << p)) {
            buf_printf(b, "%s%s", listed++ ? " and " : "", alert_provider_label(p));
        }
    }
    buf_printf(b, " %s correlated into this incident, of %s severity. ",
               in->alert_count == 1 ? "was" : "were", alert_severity_name(in->severity));
    int n_tactics = 0;
    for (int t = 1; t < TACTIC_N; t++) {
        n_tactics += (in->tactics >> t) & 1;
    }
    if (n_tactics > 0) {
        buf_printf(b, "The activity spans %d MITRE ATT&CK tactic%s: ", n_tactics,
                   plural(n_tactics));
        int done = 0;
        for (int t = 1; t < TACTIC_N; t++) {
            if (in->tactics & (1u << t)) {
                done++;
                buf_printf(b, "%s%s",
                           done == 1           ? ""
                           : done == n_tactics ? " and "
                                               : ", ",
                           alert_tactic_label(t));
            }
        }
        buf_append_str(b, ". ");
    }
    long long per_kind[ENT_KIND_N] = {0};
    for (size_t i = 0; i < d->n_entities; i++) {
        if (d->entities[i].kind >= 0 && d->entities[i].kind < ENT_KIND_N) {
            per_kind[d->entities[i].kind]++;
        }
    }
    buf_printf(b, "It involves %zu entit%s", d->n_entities, d->n_entities == 1 ? "y" : "ies");
    listed = 0;
    for (int k = 0; k < ENT_KIND_N; k++) {
        if (per_kind[k] > 0) {
            buf_printf(b, "%s%lld %s", listed++ ? ", " : " (", per_kind[k],
                       kind_plural(k, per_kind[k]));
        }
    }
    buf_append_str(b, listed ? ")." : ".");
    listed = 0;
    for (size_t i = 0; i < d->n_entities; i++) {
        if (d->entities[i].critical) {
            buf_printf(b, "%s%s %s", listed++ ? ", " : " Critical assets involved: ",
                       alert_entity_kind_name(d->entities[i].kind), d->entities[i].name);
        }
    }
    if (listed) {
        buf_append_str(b, ".");
    }
}

/* Splits "pod:C/NS/NAME" into its parts; 0 if the key is not that shape. */
static int pod_target(const char *key, char *cluster, char *ns, char *pod, size_t n)
{
    if (strncmp(key, "pod:", 4) != 0) {
        return 0;
    }
    const char *c = key + 4, *s1 = strchr(c, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (s1 == NULL || s2 == NULL || (size_t)(s1 - c) >= n || (size_t)(s2 - s1 - 1) >= n ||
        strlen(s2 + 1) >= n || s1 == c || s2 == s1 + 1 || s2[1] == '\0') {
        return 0;
    }
    snprintf(cluster, n, "%.*s", (int)(s1 - c), c);
    snprintf(ns, n, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
    snprintf(pod, n, "%s", s2 + 1);
    return 1;
}

static json_t *responses(const struct incident_detail *d)
{
    json_t *list = json_array();
    static const char *const types[] = {"isolate", "terminate"};
    static const char *const verbs[] = {"Isolate", "Terminate"};
    for (size_t i = 0; i < d->n_entities && json_array_size(list) < REPORT_MAX_RESPONSES; i++) {
        const struct entity *e = &d->entities[i];
        char cluster[256], ns[256], pod[256];
        if (e->kind != ENT_POD || !pod_target(e->key, cluster, ns, pod, sizeof(cluster))) {
            continue;
        }
        for (int t = 0; t < 2; t++) {
            char label[300], href[128];
            snprintf(label, sizeof(label), "%s pod %s", verbs[t], pod);
            snprintf(href, sizeof(href), "/incidents/%lld#respond-%s-%lld", d->in.id, types[t],
                     e->id);
            json_array_append_new(list, json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:I, s:s}", "type",
                                                  types[t], "label", label, "target", "cluster",
                                                  cluster, "namespace", ns, "pod", pod, "entity_id",
                                                  (json_int_t)e->id, "href", href));
        }
    }
    return list;
}

enum stk_err svc_incidents_report(struct db *db, long long id, struct incident *in, json_t **out,
                                  struct stk_error *err)
{
    *out = NULL;
    struct incident_detail d;
    enum stk_err rc = svc_incidents_get(db, id, REPORT_MAX_ALERTS, &d, err);
    if (rc != STK_OK) {
        return rc;
    }
    *in = d.in;
    if (d.in.status == INC_MERGED) {
        svc_incidents_detail_release(&d);
        return stk_error_set(err, STK_ECONFLICT, "incident %lld was merged into incident %lld", id,
                             in->merged_into);
    }
    /* Alerts with the same time are ordered by their content, not by
     * arrival, so that the text does not depend on it. */
    qsort(d.alerts, d.n_alerts, sizeof(*d.alerts), by_time_then_content);
    json_t *sections = json_array();
    for (int t = 1; t <= TACTIC_N; t++) {
        json_t *s = section(&d, t == TACTIC_N ? TACTIC_NONE : t);
        if (s != NULL) {
            json_array_append_new(sections, s);
        }
    }
    json_t *ents = json_array();
    for (size_t i = 0; i < d.n_entities; i++) {
        const struct entity *e = &d.entities[i];
        json_array_append_new(
            ents, json_pack("{s:I, s:s, s:s, s:s, s:b, s:I}", "id", (json_int_t)e->id, "kind",
                            alert_entity_kind_name(e->kind), "name", e->name, "key", e->key,
                            "critical", e->critical, "alert_count", (json_int_t)e->alert_count));
    }
    struct buf b;
    buf_init(&b, TEXT_MAX);
    summary(&b, &d);
    *out = json_pack("{s:s%, s:o, s:o, s:o, s:b}", "summary", b.data ? b.data : "", b.len,
                     "sections", sections, "entities", ents, "responses", responses(&d),
                     "alerts_truncated", d.alerts_truncated);
    buf_release(&b);
    svc_incidents_detail_release(&d);
    if (*out == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    return STK_OK;
}
