/* Stockade's own alert JSON (docs/alert.schema.json): strict, unknown keys
 * refused. */
#include <stdlib.h>
#include <string.h>

#include "ingest_json.h"
#include "ingest_parse.h"

#define API_ID_MAX 200

static const char *const known_keys[] = {
    "id",        "title",          "severity",      "provider", "rule",     "description", "tactic",
    "technique", "first_activity", "last_activity", "cluster",  "entities", "evidence",    NULL,
};
static const char *const entity_keys[] = {"kind", "key", "name", "properties", NULL};

static enum stk_err strict_keys(struct ingest_ctx *c, const json_t *obj, const char *where,
                                const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        const char *const *p = keys;
        while (*p != NULL && strcmp(*p, k) != 0) {
            p++;
        }
        if (*p == NULL) {
            return ingest_fail(c, STK_EINVAL, "%s%.64s: unknown key", where, k);
        }
    }
    return STK_OK;
}

/* A cluster name as ?cluster= allows it: 1 to 63 letters, digits, '-', '_'
 * or '.'. A '/' would make keys such as pod:C/NS/NAME ambiguous. */
static int cluster_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.')) {
            return 0;
        }
    }
    return 1;
}

/* Kinds whose keys start with their cluster: "pod:C/NS/NAME". */
static int keyed_by_cluster(enum entity_kind k)
{
    return k == ENT_NAMESPACE || k == ENT_NODE || k == ENT_POD || k == ENT_CONTAINER ||
           k == ENT_DEPLOYMENT || k == ENT_SERVICE;
}

/* An alert of cluster C may name entities of C (or of an unknown cluster,
 * "-"), never of another: a token bound to one cluster must not place pods
 * of another in front of the response actions. */
static enum stk_err check_entity_cluster(struct ingest_ctx *c, const struct alert_in *a,
                                         enum entity_kind k, const char *rest, size_t i)
{
    size_t n;
    if (a->cluster[0] == '\0') {
        return STK_OK;
    }
    if (k == ENT_CLUSTER) {
        n = strlen(rest);
    } else if (keyed_by_cluster(k) && strchr(rest, '/') != NULL) {
        n = (size_t)(strchr(rest, '/') - rest);
    } else {
        return STK_OK;
    }
    if ((n == strlen(a->cluster) && strncmp(rest, a->cluster, n) == 0) ||
        (k != ENT_CLUSTER && n == 1 && rest[0] == '-')) {
        return STK_OK;
    }
    return ingest_fail(c, STK_EINVAL,
                       "entities[%zu].key: names cluster \"%.*s\", not the "
                       "alert's \"%s\"",
                       i, (int)(n < 64 ? n : 64), rest, a->cluster);
}

/* "T1234" or "T1234.001". */
static int technique_ok(const char *s)
{
    size_t n = strlen(s);
    if ((n != 5 && n != 9) || s[0] != 'T' || (n == 9 && s[5] != '.')) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (i != 5 && (s[i] < '0' || s[i] > '9')) {
            return 0;
        }
    }
    return 1;
}

/* An API name exactly as alert_tactic_name() spells it (no labels). */
static int tactic_of(const char *s)
{
    for (int t = 1; t < TACTIC_N; t++) {
        if (strcmp(alert_tactic_name((enum tactic)t), s) == 0) {
            return t;
        }
    }
    return -1;
}

static enum stk_err read_entity(struct ingest_ctx *c, struct alert_in *a, const json_t *v, size_t i)
{
    char field[64];
    const char *kind, *key, *name;
    json_t *props;
    if (!json_is_object(v)) {
        return ingest_fail(c, STK_EINVAL, "entities[%zu]: expected an object", i);
    }
    snprintf(field, sizeof(field), "entities[%zu].", i);
    enum stk_err rc = strict_keys(c, v, field, entity_keys);
    snprintf(field, sizeof(field), "entities[%zu].kind", i);
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "kind", field, 32, INGEST_REQUIRED, &kind);
    }
    int k = rc == STK_OK ? alert_entity_kind_parse(kind) : 0;
    if (rc == STK_OK && k < 0) {
        return ingest_fail(c, STK_EINVAL, "%s: \"%.64s\" is not an entity kind", field, kind);
    }
    snprintf(field, sizeof(field), "entities[%zu].key", i);
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "key", field, ALERT_KEY_MAX, INGEST_REQUIRED, &key);
    }
    size_t plen = rc == STK_OK ? strlen(kind) : 0;
    if (rc == STK_OK && (strncmp(key, kind, plen) != 0 || key[plen] != ':' || key[plen + 1] == 0)) {
        return ingest_fail(c, STK_EINVAL, "%s: must start with \"%s:\"", field, kind);
    }
    if (rc == STK_OK) {
        rc = check_entity_cluster(c, a, (enum entity_kind)k, key + plen + 1, i);
    }
    snprintf(field, sizeof(field), "entities[%zu].name", i);
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "name", field, ALERT_NAME_MAX, 0, &name);
    }
    snprintf(field, sizeof(field), "entities[%zu].properties", i);
    if (rc == STK_OK) {
        rc = ingest_object(c, v, "properties", field, 0, &props);
    }
    if (rc != STK_OK) {
        return rc;
    }
    for (int j = 0; j < a->n_entities; j++) {
        if (strcmp(a->entities[j].key, key) == 0) {
            return ingest_fail(c, STK_EINVAL, "entities[%zu].key: \"%.64s\" appears twice", i, key);
        }
    }
    struct entity_ref *e;
    snprintf(field, sizeof(field), "entities[%zu]", i);
    rc = ingest_entity(c, a, (enum entity_kind)k, name, &e, field, "%s", key);
    if (rc == STK_OK && props != NULL && e != NULL) {
        e->props = json_deep_copy(props);
        if (e->props == NULL) {
            rc = ingest_fail(c, STK_ENOMEM, "out of memory");
        }
    }
    return rc;
}

static enum stk_err read_alert(struct ingest_ctx *c, const json_t *v, const char *req_cluster,
                               struct alert_in *a)
{
    const char *id, *sev, *prov, *tactic, *cl, *first_text, *last_text;
    json_t *entities, *evidence;
    if (!json_is_object(v)) {
        return ingest_fail(c, STK_EINVAL, "expected an object");
    }
    enum stk_err rc = strict_keys(c, v, "", known_keys);
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "id", "id", API_ID_MAX + 1, INGEST_REQUIRED | INGEST_NONEMPTY, &id);
    }
    if (rc == STK_OK) {
        rc = ingest_str_copy(c, v, "title", "title", a->title, sizeof(a->title),
                             INGEST_REQUIRED | INGEST_NONEMPTY);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "severity", "severity", 32, INGEST_REQUIRED, &sev);
    }
    if (rc == STK_OK && alert_severity_parse(sev) < 0) {
        return ingest_fail(c, STK_EINVAL,
                           "severity: \"%.64s\" is not informational, low, medium "
                           "or high",
                           sev);
    }
    if (rc == STK_OK) {
        a->severity = (enum severity)alert_severity_parse(sev);
        rc = ingest_str(c, v, "provider", "provider", 32, 0, &prov);
    }
    if (rc == STK_OK) {
        if (prov == NULL || strcmp(prov, "api") == 0) {
            a->provider = PROV_API;
        } else if (strcmp(prov, "stockade-rules") == 0) {
            a->provider = PROV_STOCKADE_RULES;
        } else {
            return ingest_fail(c, STK_EINVAL, "provider: \"%.64s\" is not api or stockade-rules",
                               prov);
        }
        rc = ingest_str_copy(c, v, "rule", "rule", a->rule, sizeof(a->rule), INGEST_NONEMPTY);
    }
    if (rc == STK_OK && a->rule[0] == '\0') {
        memcpy(a->rule, "api", 4);
    }
    if (rc == STK_OK) {
        rc = ingest_str_dup(c, v, "description", "description", ALERT_TEXT_MAX, 0, &a->description);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "tactic", "tactic", 64, 0, &tactic);
    }
    if (rc == STK_OK && tactic != NULL) {
        int t = tactic_of(tactic);
        if (t < 0) {
            return ingest_fail(c, STK_EINVAL, "tactic: \"%.64s\" is not a tactic name", tactic);
        }
        a->tactic = (enum tactic)t;
    }
    if (rc == STK_OK) {
        rc = ingest_str_copy(c, v, "technique", "technique", a->technique, sizeof(a->technique), 0);
    }
    if (rc == STK_OK && a->technique[0] != '\0' && !technique_ok(a->technique)) {
        return ingest_fail(c, STK_EINVAL, "technique: \"%.64s\" is not T1234 or T1234.001",
                           a->technique);
    }
    if (rc == STK_OK) {
        rc = ingest_time(c, v, "first_activity", "first_activity", INGEST_REQUIRED, &a->first_ms,
                         &first_text);
    }
    if (rc == STK_OK) {
        rc = ingest_time(c, v, "last_activity", "last_activity", 0, &a->last_ms, &last_text);
    }
    if (rc == STK_OK && last_text == NULL) {
        a->last_ms = a->first_ms;
    }
    if (rc == STK_OK && a->last_ms < a->first_ms) {
        return ingest_fail(c, STK_EINVAL, "last_activity: earlier than first_activity");
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "cluster", "cluster", ALERT_CLUSTER_MAX, 0, &cl);
    }
    if (rc == STK_OK && cl != NULL && !cluster_name_ok(cl)) {
        return ingest_fail(c, STK_EINVAL,
                           "cluster: expected 1 to 63 letters, digits, '-', '_' "
                           "or '.'");
    }
    /* The request's cluster (a bound token's, or ?cluster=) is binding. */
    if (rc == STK_OK && cl != NULL && req_cluster[0] != '\0' && strcmp(cl, req_cluster) != 0) {
        return ingest_fail(c, STK_EFORBIDDEN,
                           "cluster: \"%s\" is not the cluster of this "
                           "request (\"%s\")",
                           cl, req_cluster);
    }
    if (rc != STK_OK) {
        return rc;
    }
    cl = cl != NULL ? cl : req_cluster;
    memcpy(a->cluster, cl, strlen(cl) + 1);
    /* Keys are scoped by cluster: one cluster's sender cannot pre-empt
     * (and so suppress) another cluster's alert by reusing its id. */
    const char *parts[] = {"api", a->cluster, id};
    alert_key(a->key, parts, 3);

    rc = ingest_array(c, v, "entities", "entities", 0, ALERT_MAX_ENTITIES, &entities);
    size_t i;
    json_t *e;
    json_array_foreach(entities, i, e)
    {
        if (rc == STK_OK) {
            rc = read_entity(c, a, e, i);
        }
    }
    if (rc == STK_OK && a->cluster[0] != '\0') {
        /* Every alert names its cluster; a full entity list keeps the caller's. */
        rc =
            ingest_entity(c, a, ENT_CLUSTER, a->cluster, NULL, "cluster", "cluster:%s", a->cluster);
    }
    if (rc == STK_OK) {
        rc = ingest_object(c, v, "evidence", "evidence", 0, &evidence);
    }
    if (rc == STK_OK && evidence != NULL) {
        a->evidence = json_deep_copy(evidence);
        if (a->evidence == NULL) {
            rc = ingest_fail(c, STK_ENOMEM, "out of memory");
        }
    }
    return rc;
}

enum stk_err ingest_parse_alerts(const char *body, size_t len, const char *cluster,
                                 struct ingest_batch *out, struct ingest_reject *rej)
{
    struct ingest_ctx c;
    struct ingest_scan scan;
    json_t *doc = NULL;
    enum stk_err rc;
    ingest_ctx_init(&c, rej);
    if (cluster == NULL) {
        cluster = "";
    }
    if (strlen(cluster) >= ALERT_CLUSTER_MAX) {
        rc = ingest_fail(&c, STK_EINVAL, "cluster: longer than %d bytes", ALERT_CLUSTER_MAX - 1);
        goto out;
    }
    rc = ingest_scan_body(&c, body, len, &scan);
    if (rc != STK_OK) {
        goto out;
    }
    if (scan.first == 0) {
        rc = ingest_fail(&c, STK_EINVAL, "empty body");
        goto out;
    }
    if (scan.first != '{' && scan.first != '[') {
        rc = ingest_fail(&c, STK_EINVAL, "expected an alert object or an array of them");
        goto out;
    }
    if (scan.elements > INGEST_MAX_ELEMENTS) {
        rc = ingest_fail(&c, STK_ETOOBIG, "batch of %zu elements exceeds the limit of %d",
                         scan.elements, INGEST_MAX_ELEMENTS);
        goto out;
    }
    char why[200];
    size_t pos = 0;
    doc = ingest_load(body, len, 0, &pos, why, sizeof(why));
    if (doc == NULL) {
        c.index = scan.first == '[' ? ingest_element_at(body, len, pos) : -1;
        rc = ingest_fail(&c, STK_EINVAL, "%s", why);
        goto out;
    }
    if (json_is_object(doc)) {
        c.index = 0;
        struct alert_in *a = ingest_batch_add_alert(out);
        rc = a != NULL ? read_alert(&c, doc, cluster, a)
                       : ingest_fail(&c, STK_ENOMEM,
                                     "out of "
                                     "memory");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(doc, i, v)
    {
        c.index = (long)i;
        struct alert_in *a = ingest_batch_add_alert(out);
        if (a == NULL) {
            rc = ingest_fail(&c, STK_ENOMEM, "out of memory");
            break;
        }
        rc = read_alert(&c, v, cluster, a);
        if (rc != STK_OK) {
            break;
        }
    }
out:
    json_decref(doc);
    if (rc != STK_OK) {
        ingest_batch_release(out);
    }
    return rc;
}
