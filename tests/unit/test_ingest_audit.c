/* server/ingest_audit.c: every sample in shared/samples/k8s-audit becomes
 * CloudAuditEvents rows; the six detection rules fire on the samples and on
 * variants built here (and stay quiet otherwise); hostile input and every
 * wrong field type reject the whole batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "ingest_parse.h"

#define SAMPLES STK_SOURCE_DIR "/../shared/samples/k8s-audit/"

/* Line `n` (0-based) of a .jsonl sample; caller frees. */
static char *sample_line(const char *path, int n)
{
    size_t len;
    char *all = read_file(path, &len);
    char *p = all;
    for (int i = 0; i < n; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    size_t l = strcspn(p, "\n");
    char *line = strndup(p, l);
    assert_non_null(line);
    free(all);
    return line;
}

static void parse_ok(const char *body, const struct detect_config *cfg, struct ingest_batch *b)
{
    struct ingest_reject rej;
    ingest_batch_init(b);
    enum stk_err rc = ingest_parse_k8s_audit(body, strlen(body), "prod", cfg, b, &rej);
    if (rc != STK_OK) {
        fail_msg("%ld %s", rej.index, rej.reason);
    }
    assert_int_equal(rej.index, -1);
}

static void reject_n(const char *body, size_t len, enum stk_err code, long index,
                     const char *reason, int prefix)
{
    struct ingest_batch b;
    struct ingest_reject rej;
    ingest_batch_init(&b);
    enum stk_err rc = ingest_parse_k8s_audit(body, len, "prod", NULL, &b, &rej);
    if (rc != code || rej.index != index ||
        (prefix ? strncmp(rej.reason, reason, strlen(reason)) != 0
                : strcmp(rej.reason, reason) != 0)) {
        fail_msg("got %d %ld \"%s\", want %d %ld \"%s\"", rc, rej.index, rej.reason, code, index,
                 reason);
    }
    assert_int_equal(b.n_alerts, 0);
    assert_int_equal(b.n_audits, 0);
    assert_null(b.audits);
    assert_null(b.alerts);
}

static void reject(const char *body, enum stk_err code, long index, const char *reason)
{
    reject_n(body, strlen(body), code, index, reason, 0);
}

static const struct entity_ref *entity(const struct alert_in *a, const char *key)
{
    for (int i = 0; i < a->n_entities; i++) {
        if (strcmp(a->entities[i].key, key) == 0) {
            return &a->entities[i];
        }
    }
    return NULL;
}

static const struct alert_in *find_rule(const struct ingest_batch *b, const char *rule)
{
    for (size_t i = 0; i < b->n_alerts; i++) {
        if (strcmp(b->alerts[i].rule, rule) == 0) {
            return &b->alerts[i];
        }
    }
    return NULL;
}

/* The key of the request's cluster "prod". */
static void key_of(unsigned char out[16], const char *a, const char *b, const char *c)
{
    const char *parts[] = {a, "prod", b, c};
    alert_key(out, parts, 4);
}

static json_t *ev_path(const struct alert_in *a, const char *sect, const char *key)
{
    return json_object_get(json_object_get(a->evidence, sect), key);
}

/* A made-up but well-formed event; tests change one field at a time. */
static json_t *base_event(void)
{
    json_error_t jerr;
    json_t *ev = json_loads(
        "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\","
        "\"auditID\":\"a-1\",\"stage\":\"ResponseComplete\","
        "\"requestURI\":\"/api/v1/namespaces/default/pods/web\",\"verb\":\"get\","
        "\"user\":{\"username\":\"alice\",\"groups\":[\"dev\",\"system:authenticated\"]},"
        "\"sourceIPs\":[\"203.0.113.5\"],\"userAgent\":\"kubectl/v1.31.0\","
        "\"objectRef\":{\"resource\":\"pods\",\"namespace\":\"default\",\"name\":\"web\","
        "\"apiVersion\":\"v1\"},\"responseStatus\":{\"metadata\":{},\"code\":200},"
        "\"requestReceivedTimestamp\":\"2024-12-18T05:33:18.891118Z\","
        "\"stageTimestamp\":\"2024-12-18T05:33:18.893955Z\","
        "\"annotations\":{\"authorization.k8s.io/decision\":\"allow\"}}",
        0, &jerr);
    assert_non_null(ev);
    return ev;
}

/* Sets (or with `v` NULL removes) a member of `ev` by "a.b" path; takes `v`. */
static void set_path(json_t *ev, const char *path, json_t *v)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    char *dot = strchr(buf, '.');
    json_t *obj = ev;
    const char *key = buf;
    if (dot != NULL) {
        *dot = '\0';
        obj = json_object_get(ev, buf);
        if (!json_is_object(obj)) {
            obj = json_object();
            json_object_set_new(ev, buf, obj);
        }
        key = dot + 1;
    }
    if (v == NULL) {
        json_object_del(obj, key);
    } else {
        json_object_set_new(obj, key, v);
    }
}

static char *dump(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    assert_non_null(s);
    return s;
}

/* An EventList of two good events and `third`; frees `third`. */
static char *list_with(json_t *third)
{
    json_t *list = json_pack("{s:s, s:s, s:[o, o, o]}", "kind", "EventList", "apiVersion",
                             "audit.k8s.io/v1", "items", base_event(), base_event(), third);
    assert_non_null(list);
    char *s = dump(list);
    json_decref(list);
    return s;
}

/* ---- samples ---------------------------------------------------------------- */

static void cluster_admin_binding(void **state)
{
    (void)state;
    size_t len;
    char *body = read_file(SAMPLES "falco-trace-attach_cluster_admin_role.json", &len);
    struct ingest_batch b;
    parse_ok(body, NULL, &b);
    assert_int_equal(b.n_audits, 1);
    const struct audit_k8s_event *r = &b.audits[0];
    unsigned char want[16];
    key_of(want, "k8s-audit", "c97244c7-4aec-4714-946a-8204d00ecdca", "ResponseComplete");
    assert_memory_equal(r->key, want, 16);
    assert_int_equal(r->ts_ms, 1540563994242LL); /* stageTimestamp */
    assert_string_equal(r->cluster, "prod");
    assert_string_equal(r->operation, "create clusterrolebindings");
    assert_string_equal(r->verb, "create");
    assert_string_equal(r->resource_kind, "clusterrolebindings");
    assert_string_equal(r->resource_ns, "");
    assert_string_equal(r->resource_name, "some-reader-binding");
    assert_string_equal(r->user_name, "minikube-user");
    assert_string_equal(r->user_groups, "[\"system:masters\",\"system:authenticated\"]");
    assert_string_equal(r->source_ips, "[\"192.168.99.1\"]");
    assert_string_equal(r->user_agent, "");
    assert_int_equal(r->response_code, 201);
    /* The raw event is the sample, compacted (it has no trailing newline). */
    assert_int_equal(strlen(r->raw), len - (body[len - 1] == '\n'));
    assert_memory_equal(r->raw, body, strlen(r->raw));

    assert_int_equal(b.n_alerts, 1);
    const struct alert_in *a = &b.alerts[0];
    assert_int_equal(a->provider, PROV_K8S_AUDIT);
    assert_string_equal(a->rule, "k8s.cluster_admin_binding");
    assert_string_equal(a->title, "Cluster-admin role binding created");
    assert_int_equal(a->severity, SEV_HIGH);
    assert_int_equal(a->tactic, TACTIC_PRIVILEGE_ESCALATION);
    assert_string_equal(a->technique, "T1098");
    assert_int_equal(a->first_ms, 1540563994242LL);
    key_of(want, "k8s-audit-rule", "k8s.cluster_admin_binding",
           "c97244c7-4aec-4714-946a-8204d00ecdca");
    assert_memory_equal(a->key, want, 16);
    assert_string_equal(a->description, "minikube-user created ClusterRoleBinding "
                                        "some-reader-binding granting the cluster-admin "
                                        "ClusterRole to User minikube");
    assert_non_null(entity(a, "cluster:prod"));
    assert_non_null(entity(a, "identity:prod/minikube-user"));
    const struct entity_ref *subj = entity(a, "identity:prod/minikube");
    assert_non_null(subj);
    assert_string_equal(json_string_value(json_object_get(subj->props, "kind")), "User");
    const struct entity_ref *ip = entity(a, "ip:192.168.99.1");
    assert_non_null(ip);
    assert_null(ip->props);
    assert_int_equal(a->n_entities, 4);
    assert_string_equal(json_string_value(ev_path(a, "request", "verb")), "create");
    assert_int_equal(json_integer_value(ev_path(a, "request", "response_code")), 201);
    assert_string_equal(
        json_string_value(ev_path(a, "annotations", "authorization.k8s.io/decision")), "allow");
    json_t *obj = json_object_get(a->evidence, "object");
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "roleRef"), "name")),
                        "cluster-admin");
    assert_int_equal(json_array_size(json_object_get(obj, "subjects")), 1);
    assert_null(json_object_get(obj, "metadata"));
    ingest_batch_release(&b);

    /* An update to such a binding, and a ServiceAccount subject. */
    json_t *ev = json_loads(body, 0, NULL);
    assert_non_null(ev);
    set_path(ev, "verb", json_string("update"));
    json_t *subjects = json_object_get(json_object_get(ev, "requestObject"), "subjects");
    json_array_append_new(subjects, json_pack("{s:s, s:s, s:s}", "kind", "ServiceAccount", "name",
                                              "ci", "namespace", "build"));
    char *text = dump(ev);
    parse_ok(text, NULL, &b);
    a = find_rule(&b, "k8s.cluster_admin_binding");
    assert_non_null(a);
    assert_string_equal(a->title, "Role binding changed to grant cluster-admin");
    assert_non_null(entity(a, "identity:prod/system:serviceaccount:build:ci"));
    assert_non_null(strstr(a->description, "User minikube, ServiceAccount build/ci"));
    ingest_batch_release(&b);
    free(text);

    /* A RoleBinding to a Role that happens to be named cluster-admin, a
     * failed request and a roleRef of the wrong type do not fire. */
    json_t *ref = json_object_get(json_object_get(ev, "requestObject"), "roleRef");
    json_object_set_new(ref, "kind", json_string("Role"));
    json_object_del(ev, "responseObject");
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    json_object_set_new(ref, "kind", json_string("ClusterRole"));
    json_object_set_new(ref, "name", json_integer(5));
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    json_object_set_new(ref, "name", json_string("cluster-admin"));
    set_path(ev, "responseStatus.code", json_integer(403));
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    json_decref(ev);
    free(body);
}

static void exec_into_pod(void **state)
{
    (void)state;
    size_t len;
    char *body = read_file(SAMPLES "falco-trace-exec_pod.json", &len);
    struct ingest_batch b;
    parse_ok(body, NULL, &b);
    assert_int_equal(b.n_audits, 1);
    assert_string_equal(b.audits[0].operation, "create pods/exec");
    assert_string_equal(b.audits[0].resource_kind, "pods/exec");
    assert_string_equal(b.audits[0].resource_ns, "default");
    assert_int_equal(b.audits[0].response_code, 101);
    assert_int_equal(b.n_alerts, 1);
    const struct alert_in *a = &b.alerts[0];
    assert_string_equal(a->rule, "k8s.pod_exec");
    assert_string_equal(a->title, "Command executed in a pod through the API");
    assert_int_equal(a->severity, SEV_MEDIUM);
    assert_int_equal(a->tactic, TACTIC_EXECUTION);
    assert_string_equal(a->technique, "T1609");
    assert_string_equal(a->description, "minikube-user ran \"bash\" in pod "
                                        "default/nginx-deployment-7998647bdf-phvq7 (container "
                                        "nginx1)");
    const struct entity_ref *pod = entity(a, "pod:prod/default/nginx-deployment-7998647bdf-phvq7");
    assert_non_null(pod);
    assert_int_equal(pod->kind, ENT_POD);
    assert_string_equal(json_string_value(json_object_get(pod->props, "namespace")), "default");
    assert_non_null(entity(a, "namespace:prod/default"));
    assert_non_null(entity(a, "identity:prod/minikube-user"));
    assert_string_equal(json_string_value(ev_path(a, "exec", "command")), "bash");
    assert_string_equal(json_string_value(ev_path(a, "exec", "container")), "nginx1");
    unsigned char first_key[16];
    memcpy(first_key, a->key, 16);
    ingest_batch_release(&b);

    /* Both stages of one exec in a batch make one alert with one key. */
    json_t *ev = json_loads(body, 0, NULL);
    json_t *done = json_deep_copy(ev);
    set_path(done, "stage", json_string("ResponseComplete"));
    set_path(done, "requestURI",
             json_string("/api/v1/namespaces/default/pods/p/exec?command=sh&command=-c&"
                         "command=cat%20%2Fetc%2Fshadow&container=c"));
    json_t *list = json_pack("{s:s, s:[o, o]}", "kind", "EventList", "items", ev, done);
    char *text = dump(list);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_audits, 2);
    assert_int_equal(b.n_alerts, 1);
    assert_memory_equal(b.alerts[0].key, first_key, 16);
    ingest_batch_release(&b);
    free(text);

    /* The attach variant, and exec's command decoded from the query. */
    json_t *items = json_object_get(list, "items");
    json_array_remove(items, 0);
    text = dump(list);
    parse_ok(text, NULL, &b);
    assert_string_equal(b.alerts[0].description, "minikube-user ran \"sh -c cat /etc/shadow\" in "
                                                 "pod default/nginx-deployment-7998647bdf-phvq7 "
                                                 "(container c)");
    ingest_batch_release(&b);
    free(text);
    set_path(json_array_get(items, 0), "objectRef.subresource", json_string("attach"));
    text = dump(list);
    parse_ok(text, NULL, &b);
    assert_string_equal(b.alerts[0].rule, "k8s.pod_attach");
    assert_string_equal(b.alerts[0].title, "Attached to a pod's container through the API");
    ingest_batch_release(&b);
    free(text);
    /* RequestReceived is not judged; a refused exec does not fire. */
    set_path(json_array_get(items, 0), "stage", json_string("RequestReceived"));
    text = dump(list);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    set_path(json_array_get(items, 0), "stage", json_string("ResponseComplete"));
    set_path(json_array_get(items, 0), "responseStatus.code", json_integer(403));
    text = dump(list);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    json_decref(list);
    free(body);
}

static void secret_samples_and_service_accounts(void **state)
{
    (void)state;
    struct ingest_batch b;
    size_t len;
    char *body = read_file(SAMPLES "falco-trace-create_kube_system_secret.json", &len);
    parse_ok(body, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    assert_string_equal(b.audits[0].operation, "create secrets");
    assert_string_equal(b.audits[0].user_agent, "kubeadm/v1.16.2 (linux/amd64) kubernetes/c97fe50");
    assert_int_equal(b.audits[0].ts_ms, 1585076029025LL);
    ingest_batch_release(&b);
    free(body);

    static const char *const ops[] = {"create secrets", "get secrets", "get secrets",
                                      "patch secrets", "patch secrets"};
    static const int codes[] = {201, 0, 200, 0, 200};
    for (int i = 0; i < 5; i++) {
        char *line = sample_line(SAMPLES "unverified-secret-create-get-patch.jsonl", i);
        parse_ok(line, NULL, &b);
        assert_int_equal(b.n_audits, 1);
        assert_int_equal(b.n_alerts, 0); /* kubernetes-admin is a user */
        assert_string_equal(b.audits[0].operation, ops[i]);
        assert_int_equal(b.audits[0].response_code, codes[i]);
        assert_string_equal(b.audits[0].resource_name, "very-secure");
        assert_string_equal(b.audits[0].user_groups,
                            "[\"kubeadm:cluster-admins\",\"system:authenticated\"]");
        ingest_batch_release(&b);
        free(line);
    }

    /* The get, by a service account. */
    char *line = sample_line(SAMPLES "unverified-secret-create-get-patch.jsonl", 2);
    json_t *ev = json_loads(line, 0, NULL);
    assert_non_null(ev);
    set_path(ev, "user.username", json_string("system:serviceaccount:default:builder"));
    char *text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 1);
    const struct alert_in *a = &b.alerts[0];
    assert_string_equal(a->rule, "k8s.secret_read_by_service_account");
    assert_string_equal(a->title, "Secret read by a service account not used to it");
    assert_int_equal(a->severity, SEV_MEDIUM);
    assert_int_equal(a->tactic, TACTIC_CREDENTIAL_ACCESS);
    assert_string_equal(a->technique, "T1552.007");
    assert_string_equal(a->novelty, "secret-read:prod/system:serviceaccount:default:builder");
    assert_non_null(entity(a, "identity:prod/system:serviceaccount:default:builder"));
    assert_non_null(entity(a, "namespace:prod/default"));
    assert_non_null(entity(a, "ip:172.30.1.2"));
    assert_string_equal(a->description, "Service account system:serviceaccount:default:builder "
                                        "read secret default/very-secure (get), the first secret "
                                        "read seen from it");
    ingest_batch_release(&b);
    free(text);
    /* Without a cluster the novelty key uses "-". */
    struct ingest_reject rej;
    text = dump(ev);
    ingest_batch_init(&b);
    assert_int_equal(ingest_parse_k8s_audit(text, strlen(text), "", NULL, &b, &rej), STK_OK);
    assert_string_equal(b.alerts[0].novelty, "secret-read:-/system:serviceaccount:default:builder");
    assert_non_null(entity(&b.alerts[0], "identity:-/system:serviceaccount:default:builder"));
    ingest_batch_release(&b);
    free(text);
    /* A denied read, a write, and a subresource are not reads. */
    set_path(ev, "responseStatus.code", json_integer(403));
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    set_path(ev, "responseStatus.code", json_integer(200));
    set_path(ev, "verb", json_string("patch"));
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    set_path(ev, "verb", json_string("list"));
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 1);
    ingest_batch_release(&b);
    free(text);
    json_decref(ev);
    free(line);
}

static void pod_create_samples_and_privileged_variants(void **state)
{
    (void)state;
    struct ingest_batch b;
    char *l0 = sample_line(SAMPLES "unverified-eventlist-webhook-pod-create.jsonl", 0);
    char *l1 = sample_line(SAMPLES "unverified-eventlist-webhook-pod-create.jsonl", 1);
    parse_ok(l0, NULL, &b);
    assert_int_equal(b.n_audits, 1);
    assert_int_equal(b.n_alerts, 0);
    assert_string_equal(b.audits[0].operation, "create pods");
    assert_string_equal(b.audits[0].resource_ns, "kube-system");
    assert_int_equal(b.audits[0].ts_ms, 1612916926451LL);
    ingest_batch_release(&b);
    parse_ok(l1, NULL, &b);
    assert_int_equal(b.n_audits, 1);
    assert_int_equal(b.n_alerts, 0);
    assert_string_equal(b.audits[0].resource_name, "webhook-audit");
    assert_int_equal(b.audits[0].response_code, 201);
    ingest_batch_release(&b);

    json_t *list = json_loads(l1, 0, NULL);
    assert_non_null(list);
    json_t *ev = json_array_get(json_object_get(list, "items"), 0);
    json_t *spec = json_object_get(json_object_get(ev, "requestObject"), "spec");
    json_t *ct = json_array_get(json_object_get(spec, "containers"), 0);
    json_object_set_new(ct, "securityContext", json_pack("{s:b}", "privileged", 1));
    char *text = dump(list);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 1);
    const struct alert_in *a = &b.alerts[0];
    assert_string_equal(a->rule, "k8s.privileged_pod");
    assert_string_equal(a->title, "Privileged pod created");
    assert_int_equal(a->severity, SEV_HIGH);
    assert_int_equal(a->tactic, TACTIC_PRIVILEGE_ESCALATION);
    assert_string_equal(a->technique, "T1611");
    assert_string_equal(a->description, "kubernetes-admin created pod kube-system/webhook-audit "
                                        "with privileged container webhook-audit");
    assert_non_null(entity(a, "pod:prod/kube-system/webhook-audit"));
    assert_non_null(entity(a, "namespace:prod/kube-system"));
    assert_non_null(entity(a, "ip:192.168.229.157"));
    json_t *cs = json_object_get(json_object_get(a->evidence, "object"), "containers");
    assert_true(json_is_true(json_object_get(json_array_get(cs, 0), "privileged")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(cs, 0), "image")),
                        "httpd");
    ingest_batch_release(&b);
    free(text);

    json_object_del(ct, "securityContext");
    json_object_set_new(spec, "volumes",
                        json_pack("[{s:s, s:{s:s}}]", "name", "root", "hostPath", "path", "/"));
    text = dump(list);
    parse_ok(text, NULL, &b);
    assert_string_equal(b.alerts[0].rule, "k8s.hostpath_pod");
    assert_string_equal(b.alerts[0].title, "Pod with a hostPath volume created");
    assert_string_equal(b.alerts[0].description,
                        "kubernetes-admin created pod "
                        "kube-system/webhook-audit with hostPath volume /");
    ingest_batch_release(&b);
    free(text);

    json_object_del(spec, "volumes");
    json_object_set_new(spec, "hostPID", json_true());
    json_object_set_new(spec, "hostNetwork", json_true());
    text = dump(list);
    parse_ok(text, NULL, &b);
    assert_string_equal(b.alerts[0].rule, "k8s.host_namespace_pod");
    assert_int_equal(b.alerts[0].severity, SEV_MEDIUM);
    assert_string_equal(b.alerts[0].description, "kubernetes-admin created pod "
                                                 "kube-system/webhook-audit with the host's PID "
                                                 "and network namespaces");
    ingest_batch_release(&b);
    free(text);

    /* Privileged in the response only (an init container). */
    json_object_del(spec, "hostPID");
    json_object_del(spec, "hostNetwork");
    json_object_del(ev, "requestObject");
    json_t *rspec = json_object_get(json_object_get(ev, "responseObject"), "spec");
    json_object_set_new(
        rspec, "initContainers",
        json_pack("[{s:s, s:{s:b}}]", "name", "init", "securityContext", "privileged", 1));
    text = dump(list);
    parse_ok(text, NULL, &b);
    assert_string_equal(b.alerts[0].rule, "k8s.privileged_pod");
    assert_non_null(strstr(b.alerts[0].description, "privileged container init"));
    ingest_batch_release(&b);
    free(text);
    /* Wrong types inside the object do not match and do not reject. */
    json_object_set_new(
        rspec, "initContainers",
        json_pack("[{s:s, s:{s:s}}]", "name", "init", "securityContext", "privileged", "true"));
    json_object_set_new(rspec, "volumes", json_pack("[{s:s}]", "hostPath", "/"));
    json_object_set_new(rspec, "hostPID", json_string("yes"));
    text = dump(list);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    json_decref(list);
    free(l0);
    free(l1);
}

static void anonymous_requests(void **state)
{
    (void)state;
    struct ingest_batch b;
    json_t *ev = base_event();
    set_path(ev, "user",
             json_pack("{s:s, s:[s]}", "username", "system:anonymous", "groups",
                       "system:unauthenticated"));
    char *text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 1);
    const struct alert_in *a = &b.alerts[0];
    assert_string_equal(a->rule, "k8s.anonymous_request");
    assert_string_equal(a->title, "Anonymous request to the Kubernetes API succeeded");
    assert_int_equal(a->severity, SEV_HIGH);
    assert_int_equal(a->tactic, TACTIC_INITIAL_ACCESS);
    assert_string_equal(a->technique, "T1078.001");
    assert_string_equal(a->description, "An unauthenticated request (system:anonymous) "
                                        "succeeded with HTTP 200: get "
                                        "/api/v1/namespaces/default/pods/web");
    assert_non_null(entity(a, "identity:prod/system:anonymous"));
    assert_non_null(entity(a, "ip:203.0.113.5"));
    assert_non_null(entity(a, "pod:prod/default/web"));
    ingest_batch_release(&b);
    free(text);

    /* Health endpoints, failures and authenticated users stay quiet. */
    static const char *const quiet[] = {"/healthz", "/livez?verbose", "/readyz/etcd", "/version"};
    set_path(ev, "objectRef", NULL);
    for (size_t i = 0; i < 4; i++) {
        set_path(ev, "requestURI", json_string(quiet[i]));
        text = dump(ev);
        parse_ok(text, NULL, &b);
        assert_int_equal(b.n_alerts, 0);
        /* Non-resource requests name the path. */
        assert_int_equal(strncmp(b.audits[0].operation, "get /", 5), 0);
        ingest_batch_release(&b);
        free(text);
    }
    set_path(ev, "requestURI", json_string("/healthzz"));
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 1);
    assert_string_equal(b.audits[0].operation, "get /healthzz");
    ingest_batch_release(&b);
    free(text);
    set_path(ev, "responseStatus.code", json_integer(401));
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    /* A group alone is enough. */
    set_path(ev, "responseStatus.code", json_integer(200));
    set_path(ev, "user",
             json_pack("{s:s, s:[s]}", "username", "x", "groups", "system:unauthenticated"));
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.n_alerts, 1);
    ingest_batch_release(&b);
    free(text);
    json_decref(ev);
}

static void anonymising_proxies(void **state)
{
    (void)state;
    struct cidr_list *proxies;
    struct stk_error err;
    assert_int_equal(cidr_list_parse("192.168.99.0/24\n2001:db8::/32", &proxies, &err), STK_OK);
    struct detect_config cfg = {proxies};
    size_t len;
    char *body = read_file(SAMPLES "falco-trace-attach_cluster_admin_role.json", &len);
    struct ingest_batch b;
    parse_ok(body, &cfg, &b);
    assert_int_equal(b.n_alerts, 2);
    const struct alert_in *a = find_rule(&b, "k8s.anonymising_proxy");
    assert_non_null(a);
    assert_string_equal(a->title, "Kubernetes API request from an anonymising proxy");
    assert_int_equal(a->severity, SEV_HIGH);
    assert_int_equal(a->tactic, TACTIC_INITIAL_ACCESS);
    assert_string_equal(a->technique, "T1090.003");
    const struct entity_ref *ip = entity(a, "ip:192.168.99.1");
    assert_non_null(ip);
    assert_true(json_is_true(json_object_get(ip->props, "anonymising_proxy")));
    assert_string_equal(a->description, "minikube-user sent \"create clusterrolebindings\" from "
                                        "192.168.99.1, an address listed as an anonymising "
                                        "proxy");
    unsigned char want[16];
    key_of(want, "k8s-audit-rule", "k8s.anonymising_proxy", "c97244c7-4aec-4714-946a-8204d00ecdca");
    assert_memory_equal(a->key, want, 16);
    ingest_batch_release(&b);
    free(body);

    json_t *ev = base_event();
    set_path(ev, "sourceIPs", json_pack("[s, s, s]", "10.0.0.1", "not-an-ip", "2001:db8::77"));
    char *text = dump(ev);
    parse_ok(text, &cfg, &b);
    assert_int_equal(b.n_alerts, 1);
    a = &b.alerts[0];
    assert_non_null(entity(a, "ip:2001:db8::77"));
    assert_null(entity(a, "ip:10.0.0.1")->props);
    assert_string_equal(b.audits[0].source_ips, "[\"10.0.0.1\",\"not-an-ip\",\"2001:db8::77\"]");
    ingest_batch_release(&b);
    /* No list, no alert. */
    struct detect_config none = {NULL};
    parse_ok(text, &none, &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    free(text);
    json_decref(ev);
    cidr_list_free(proxies);
}

static void shapes_and_versions(void **state)
{
    (void)state;
    struct ingest_batch b;
    json_t *ev = base_event();
    set_path(ev, "apiVersion", NULL);
    char *text = dump(ev);
    parse_ok(text, NULL, &b); /* old samples have no apiVersion */
    ingest_batch_release(&b);
    free(text);
    set_path(ev, "apiVersion", json_string("audit.k8s.io/v1beta1"));
    set_path(ev, "requestReceivedTimestamp", NULL);
    set_path(ev, "stageTimestamp", NULL);
    set_path(ev, "timestamp", json_string("2018-10-26T14:26:34Z"));
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.audits[0].ts_ms, 1540563994000LL);
    assert_string_equal(b.audits[0].operation, "get pods");
    ingest_batch_release(&b);
    free(text);
    set_path(ev, "responseStatus", NULL);
    set_path(ev, "sourceIPs", NULL);
    set_path(ev, "user.groups", NULL);
    text = dump(ev);
    parse_ok(text, NULL, &b);
    assert_int_equal(b.audits[0].response_code, 0);
    assert_string_equal(b.audits[0].user_groups, "[]");
    assert_string_equal(b.audits[0].source_ips, "[]");
    ingest_batch_release(&b);
    free(text);
    json_decref(ev);

    parse_ok("{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"items\":[]}", NULL, &b);
    assert_int_equal(b.n_audits, 0);
    ingest_batch_release(&b);
    /* Unsigned 64-bit numbers inside objects do not refuse the batch. */
    ev = base_event();
    set_path(ev, "requestObject", json_object());
    text = dump(ev);
    char big[1024];
    snprintf(big, sizeof(big), "%.*s{\"n\":18446744073670260079}%s",
             (int)(strstr(text, "{}") - text), text, strstr(text, "{}") + 2);
    parse_ok(big, NULL, &b);
    assert_non_null(strstr(b.audits[0].raw, "\"n\":\"18446744073670260079\""));
    ingest_batch_release(&b);
    free(text);
    json_decref(ev);
}

/* ---- hostile input ----------------------------------------------------------- */

static void bad_bodies(void **state)
{
    (void)state;
    reject("", STK_EINVAL, -1, "empty body");
    reject("[]", STK_EINVAL, -1, "expected an EventList object");
    reject("{}", STK_EINVAL, -1, "kind: is required");
    reject("{\"kind\":5}", STK_EINVAL, -1, "kind: expected a string");
    reject("{\"kind\":\"PodList\",\"items\":[]}", STK_EINVAL, -1,
           "kind: \"PodList\" is not EventList or Event");
    reject("{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v2\",\"items\":[]}", STK_EINVAL,
           -1, "apiVersion: \"audit.k8s.io/v2\" is not audit.k8s.io/v1");
    reject("{\"kind\":\"EventList\",\"items\":{}}", STK_EINVAL, -1, "items: expected an array");
    reject("{\"kind\":\"EventList\"}", STK_EINVAL, -1, "items: expected an array");
    reject("{\"kind\":\"EventList\",\"items\":[5]}", STK_EINVAL, 0,
           "element 0: expected an object");
    static const char *const malformed[] = {
        "{\"kind\":\"EventList\",\"items\":[{}",
        "{\"kind\":\"EventList\",\"items\":[]} x",
        "{\"kind\":\"EventList\",\"kind\":\"Event\",\"items\":[]}",
        "{\"kind\":\"EventList\xff\",\"items\":[]}",
        "{\"kind\":\"EventList\",\"items\":[],\"x\":1e999}",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        reject_n(malformed[i], strlen(malformed[i]), STK_EINVAL, -1, "malformed JSON", 1);
    }

    size_t n = 10000;
    char *deep = malloc(n * 2 + 64);
    assert_non_null(deep);
    int o = snprintf(deep, 64, "{\"kind\":\"EventList\",\"items\":");
    memset(deep + o, '[', n);
    memset(deep + o + n, ']', n);
    snprintf(deep + o + 2 * n, 64, "}");
    reject(deep, STK_EINVAL, -1, "nesting deeper than 64 levels");
    free(deep);

    /* 100,000 events: refused before any row is built. */
    n = 100000;
    char *big = malloc(n * 3 + 64);
    assert_non_null(big);
    o = snprintf(big, 64, "{\"kind\":\"EventList\",\"items\":[");
    for (size_t i = 0; i < n; i++) {
        memcpy(big + o, i ? ",{}" : "{}", i ? 3 : 2);
        o += i ? 3 : 2;
    }
    snprintf(big + o, 64, "]}");
    reject(big, STK_ETOOBIG, -1, "batch of 100000 elements exceeds the limit of 5000");
    free(big);

    char cl[200];
    memset(cl, 'c', sizeof(cl) - 1);
    cl[sizeof(cl) - 1] = '\0';
    struct ingest_batch b;
    struct ingest_reject rej;
    ingest_batch_init(&b);
    assert_int_equal(ingest_parse_k8s_audit("{}", 2, cl, NULL, &b, &rej), STK_EINVAL);
    assert_string_equal(rej.reason, "cluster: longer than 127 bytes");
}

/* Each case changes the third event of a list; the whole list is refused
 * with index 2 and the field named. */
static void wrong_fields(void **state)
{
    (void)state;
    char long_str[300];
    char huge_str[1100];
    memset(huge_str, 'u', sizeof(huge_str) - 1);
    huge_str[sizeof(huge_str) - 1] = '\0';
    memset(long_str, 'u', sizeof(long_str) - 1);
    long_str[sizeof(long_str) - 1] = '\0';
    const struct {
        const char *path;
        json_t *value;
        const char *reason;
    } cases[] = {
        {"kind", json_integer(1), "kind: expected a string"},
        {"kind", json_string("Pod"), "kind: expected \"Event\""},
        {"apiVersion", json_string("v1"), "apiVersion: \"v1\" is not audit.k8s.io/v1"},
        {"auditID", NULL, "auditID: is required"},
        {"auditID", json_integer(5), "auditID: expected a string"},
        {"auditID", json_string(""), "auditID: must not be empty"},
        {"stage", NULL, "stage: is required"},
        {"stage", json_true(), "stage: expected a string"},
        {"stage", json_string("Done"), "stage: \"Done\" is not an audit stage"},
        {"verb", NULL, "verb: is required"},
        {"verb", json_array(), "verb: expected a string"},
        {"verb", json_string("getgetgetgetgetgetgetgetgetgetget"),
         "verb: 33 bytes exceeds the limit of 31"},
        {"level", json_integer(1), "level: expected a string"},
        {"requestURI", json_integer(1), "requestURI: expected a string"},
        {"userAgent", json_object(), "userAgent: expected a string"},
        {"userAgent", json_string(huge_str), "userAgent: 1099 bytes exceeds the limit of 1023"},
        {"user", NULL, "user: is required"},
        {"user", json_string("alice"), "user: expected an object"},
        {"user.username", NULL, "user.username: is required"},
        {"user.username", json_integer(7), "user.username: expected a string"},
        {"user.username", json_string(long_str),
         "user.username: 299 bytes exceeds the limit of 255"},
        {"user.groups", json_string("dev"), "user.groups: expected an array"},
        {"user.groups", json_pack("[s, i]", "dev", 1), "user.groups[1]: expected a string"},
        {"impersonatedUser", json_string("bob"), "impersonatedUser: expected an object"},
        {"impersonatedUser.username", json_integer(1),
         "impersonatedUser.username: expected a string"},
        {"sourceIPs", json_string("1.2.3.4"), "sourceIPs: expected an array"},
        {"sourceIPs", json_pack("[i]", 1), "sourceIPs[0]: expected a string"},
        {"objectRef", json_string("pods"), "objectRef: expected an object"},
        {"objectRef.resource", json_integer(1), "objectRef.resource: expected a string"},
        {"objectRef.subresource", json_false(), "objectRef.subresource: expected a string"},
        {"objectRef.namespace", json_array(), "objectRef.namespace: expected a string"},
        {"objectRef.name", json_integer(2), "objectRef.name: expected a string"},
        {"objectRef.apiGroup", json_integer(2), "objectRef.apiGroup: expected a string"},
        {"objectRef.apiVersion", json_integer(2), "objectRef.apiVersion: expected a string"},
        {"objectRef.name", json_string(long_str),
         "objectRef.name: 299 bytes exceeds the limit of 255"},
        {"responseStatus", json_integer(200), "responseStatus: expected an object"},
        {"responseStatus.code", json_string("200"), "responseStatus.code: expected an integer"},
        {"responseStatus.code", json_real(200.0), "responseStatus.code: expected an integer"},
        {"responseStatus.code", json_integer(1000),
         "responseStatus.code: 1000 is not an HTTP status"},
        {"annotations", json_array(), "annotations: expected an object"},
        {"requestReceivedTimestamp", json_integer(1),
         "requestReceivedTimestamp: expected a "
         "string"},
        {"requestReceivedTimestamp", json_string("yesterday"),
         "requestReceivedTimestamp: \"yesterday\" is not an RFC 3339 time"},
        {"requestReceivedTimestamp", json_string("1999-01-01T00:00:00Z"),
         "requestReceivedTimestamp: 1999-01-01T00:00:00Z is out of range"},
        {"requestReceivedTimestamp", NULL, "requestReceivedTimestamp: is required"},
        {"stageTimestamp", json_false(), "stageTimestamp: expected a string"},
        {"stageTimestamp", json_string("3000-01-01T00:00:00Z"),
         "stageTimestamp: 3000-01-01T00:00:00Z is out of range"},
        {"timestamp", json_integer(5), "timestamp: expected a string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ev = base_event();
        set_path(ev, cases[i].path, cases[i].value);
        char *text = list_with(ev);
        char want[300];
        snprintf(want, sizeof(want), "element 2: %s", cases[i].reason);
        reject(text, STK_EINVAL, 2, want);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cluster_admin_binding),
        cmocka_unit_test(exec_into_pod),
        cmocka_unit_test(secret_samples_and_service_accounts),
        cmocka_unit_test(pod_create_samples_and_privileged_variants),
        cmocka_unit_test(anonymous_requests),
        cmocka_unit_test(anonymising_proxies),
        cmocka_unit_test(shapes_and_versions),
        cmocka_unit_test(bad_bodies),
        cmocka_unit_test(wrong_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
