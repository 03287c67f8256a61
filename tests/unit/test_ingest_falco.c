/* server/ingest_falco.c: every Falco sample in shared/samples/falco parses
 * into the right alerts, entities, evidence and process events; drift
 * alerts; body shapes (object, array, NDJSON); and hostile input (deep
 * nesting, huge strings, bad UTF-8, wrong types, bad times, oversized
 * batches, trailing garbage, duplicate keys), each rejected whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "testutil.h"

#include "ingest_parse.h"

#define SAMPLES STK_SOURCE_DIR "/../shared/samples/falco/"

/* Every text parsed() so far, by text (freed by forget_parsed()). */
static json_t *parsed_texts;

/* JSON text the parser wrote (evidence, display facts), parsed. The text
 * must be exactly what json_dumps() writes for what it holds: the parser
 * writes it directly, the store used to dump jansson trees. */
static json_t *parsed(const char *text)
{
    assert_non_null(text);
    if (parsed_texts == NULL) {
        parsed_texts = json_object();
    }
    json_t *v = json_object_get(parsed_texts, text);
    if (v == NULL) {
        json_error_t jerr;
        v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(v)) {
            fail_msg("not a JSON object (%s): %s", jerr.text, text);
        }
        char *again = json_dumps(v, JSON_COMPACT);
        assert_string_equal(again, text);
        free(again);
        json_object_set_new(parsed_texts, text, v);
    }
    return v;
}

static json_t *evidence(const struct alert_in *a)
{
    assert_null(a->evidence);
    return parsed(a->evidence_json);
}

static json_t *props(const struct entity_ref *e)
{
    assert_null(e->props);
    return parsed(e->props_json);
}

static int forget_parsed(void **state)
{
    (void)state;
    json_decref(parsed_texts);
    parsed_texts = NULL;
    return 0;
}

static void parse_sample(const char *name, const char *cluster, struct ingest_batch *b)
{
    size_t len;
    char *body = read_file(name, &len);
    struct ingest_reject rej;
    ingest_batch_init(b);
    enum stk_err rc = ingest_parse_falco(body, len, cluster, b, &rej);
    if (rc != STK_OK) {
        fail_msg("%s: %ld %s", name, rej.index, rej.reason);
    }
    assert_int_equal(rej.index, -1);
    free(body);
    for (size_t i = 0; i < b->n_alerts; i++) {
        evidence(&b->alerts[i]);
        for (int j = 0; j < b->alerts[i].n_entities; j++) {
            if (b->alerts[i].entities[j].props_json != NULL) {
                props(&b->alerts[i].entities[j]);
            }
        }
    }
}

static int starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
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

static int has_kind(const struct alert_in *a, enum entity_kind k)
{
    for (int i = 0; i < a->n_entities; i++) {
        if (a->entities[i].kind == k) {
            return 1;
        }
    }
    return 0;
}

/* The evidence member at a dotted path (no dots inside keys but the last). */
static json_t *ev_get(const struct alert_in *a, const char *sect, const char *key)
{
    json_t *s = json_object_get(evidence(a), sect);
    return s != NULL ? json_object_get(s, key) : NULL;
}

static const char *ev_str(const struct alert_in *a, const char *sect, const char *key)
{
    return json_string_value(ev_get(a, sect, key));
}

/* Expects `body` to be refused with `code`, `index` and exactly `reason`
 * (or a reason starting with it when `prefix`), leaving the batch empty. */
static void reject_n(const char *body, size_t len, enum stk_err code, long index,
                     const char *reason, int prefix)
{
    struct ingest_batch b;
    struct ingest_reject rej;
    ingest_batch_init(&b);
    enum stk_err rc = ingest_parse_falco(body, len, "prod", &b, &rej);
    if (rc != code || rej.index != index ||
        (prefix ? strncmp(rej.reason, reason, strlen(reason)) != 0
                : strcmp(rej.reason, reason) != 0)) {
        fail_msg("got %d %ld \"%s\", want %d %ld \"%s\"", rc, rej.index, rej.reason, code, index,
                 reason);
    }
    assert_int_equal(b.n_alerts, 0);
    assert_int_equal(b.n_procs, 0);
    assert_null(b.alerts);
    assert_null(b.procs);
}

static void reject(const char *body, enum stk_err code, long index, const char *reason)
{
    reject_n(body, strlen(body), code, index, reason, 0);
}

static void reject_prefix(const char *body, enum stk_err code, long index, const char *reason)
{
    reject_n(body, strlen(body), code, index, reason, 1);
}

static void accept(const char *body, struct ingest_batch *b)
{
    struct ingest_reject rej;
    ingest_batch_init(b);
    enum stk_err rc = ingest_parse_falco(body, strlen(body), "prod", b, &rej);
    if (rc != STK_OK) {
        fail_msg("%ld %s", rej.index, rej.reason);
    }
    for (size_t i = 0; i < b->n_alerts; i++) {
        evidence(&b->alerts[i]);
        for (int j = 0; j < b->alerts[i].n_entities; j++) {
            if (b->alerts[i].entities[j].props_json != NULL) {
                props(&b->alerts[i].entities[j]);
            }
        }
    }
}

/* ---- samples -------------------------------------------------------------- */

static void sidekick_payload(void **state)
{
    (void)state;
    struct ingest_batch b;
    parse_sample(SAMPLES "falcosidekick-readme-payload.json", "prod", &b);
    assert_int_equal(b.n_alerts, 1);
    const struct alert_in *a = &b.alerts[0];
    assert_int_equal(a->provider, PROV_FALCO);
    assert_string_equal(a->rule, "Write below binary dir");
    assert_string_equal(a->title, "Write below binary dir");
    assert_int_equal(a->severity, SEV_HIGH);
    assert_int_equal(a->tactic, TACTIC_NONE);
    assert_string_equal(a->technique, "");
    /* `time` wins over output_fields.evt.time (2017 in this sample). */
    assert_int_equal(a->first_ms, 1558107116746LL);
    assert_int_equal(a->last_ms, a->first_ms);
    assert_string_equal(a->cluster, "prod");
    assert_string_equal(a->description, "File below a known binary directory opened for "
                                        "writing (user=root command=touch /bin/hack "
                                        "file=/bin/hack)");
    assert_int_equal(a->n_entities, 1);
    assert_non_null(entity(a, "cluster:prod"));
    assert_string_equal(ev_str(a, "file", "name"), "/bin/hack");
    assert_string_equal(ev_str(a, "process", "cmdline"), "touch /bin/hack");
    assert_string_equal(ev_str(a, "process", "user"), "root");
    assert_string_equal(ev_str(a, "falco", "hostname"), "localhost");
    assert_string_equal(ev_str(a, "falco", "priority"), "Error");
    json_t *of = ev_get(a, "falco", "output_fields");
    assert_int_equal(json_integer_value(json_object_get(of, "evt.time")), 1507591916746609046LL);
    assert_null(json_object_get(evidence(a), "container"));
    assert_int_equal(b.n_procs, 1);
    const struct proc_event *p = &b.procs[0];
    assert_memory_equal(p->key, a->key, 16);
    assert_int_equal(p->ts_ms, a->first_ms);
    assert_string_equal(p->cmdline, "touch /bin/hack");
    assert_string_equal(p->account, "root");
    assert_string_equal(p->process_name, "");
    assert_string_equal(p->container_id, "");
    assert_int_equal(p->pid, -1);
    assert_int_equal(p->ppid, -1);
    assert_int_equal(p->drift, 0);
    unsigned char want[16];
    const char *parts[] = {"falco",
                           "prod",
                           "2019-05-17T15:31:56.746609046Z",
                           "Write below binary dir",
                           "localhost",
                           "16:31:56.746609046: Error File below a known binary directory "
                           "opened for writing (user=root command=touch /bin/hack "
                           "file=/bin/hack)"};
    alert_key(want, parts, 6);
    assert_memory_equal(a->key, want, 16);
    ingest_batch_release(&b);
}

static void cryptominer_alert(void **state)
{
    (void)state;
    struct ingest_batch b;
    parse_sample(SAMPLES "unverified-lab-custom-cryptominer-alert.json", "prod", &b);
    assert_int_equal(b.n_alerts, 1);
    const struct alert_in *a = &b.alerts[0];
    assert_string_equal(a->rule, "Possible cryptominer connecting to mining pool port");
    assert_int_equal(a->severity, SEV_HIGH);
    /* Tags: T1496, mitre_command_and_control, mitre_impact: the technique's
     * own tactic wins among the tactic tags. */
    assert_int_equal(a->tactic, TACTIC_IMPACT);
    assert_string_equal(a->technique, "T1496");
    assert_int_equal(a->first_ms, 1791650655007LL);
    assert_true(starts_with(a->description, "Possible cryptominer connecting to a mining-pool "
                                            "port (container=lab9-target "));
    const struct entity_ref *c = entity(a, "container:prod/03937e041ac2");
    assert_non_null(c);
    assert_int_equal(c->kind, ENT_CONTAINER);
    assert_string_equal(c->name, "lab9-target");
    assert_string_equal(json_string_value(json_object_get(props(c), "image")), "alpine:3.20");
    assert_non_null(entity(a, "image:alpine:3.20"));
    assert_non_null(entity(a, "registry:docker.io"));
    assert_non_null(entity(a, "node:prod/f17e8cccf11f"));
    assert_non_null(entity(a, "cluster:prod"));
    /* null k8s fields: no pod or namespace; 127.0.0.1 is not an ip entity. */
    assert_false(has_kind(a, ENT_POD));
    assert_false(has_kind(a, ENT_NAMESPACE));
    assert_false(has_kind(a, ENT_IP));
    assert_int_equal(a->n_entities, 5);
    assert_string_equal(ev_str(a, "network", "address"), "127.0.0.1:3333");
    assert_string_equal(ev_str(a, "network", "connection"), "0.0.0.0:0");
    assert_null(json_object_get(evidence(a), "file"));
    assert_string_equal(ev_str(a, "container", "image"), "alpine:3.20");
    assert_int_equal(b.n_procs, 1);
    const struct proc_event *p = &b.procs[0];
    assert_string_equal(p->process_name, "nc");
    assert_string_equal(p->folder, "/bin");
    assert_string_equal(p->file, "busybox");
    assert_string_equal(p->container_id, "03937e041ac2");
    assert_string_equal(p->container_name, "lab9-target");
    assert_string_equal(p->image, "alpine:3.20");
    assert_string_equal(p->parent_name, "");
    assert_string_equal(p->ns, "");
    assert_int_equal(p->drift, 0);
    ingest_batch_release(&b);
}

static void lab_alerts_with_drift(void **state)
{
    (void)state;
    struct ingest_batch b;
    parse_sample(SAMPLES "unverified-lab-falco-0.43.1-alerts.jsonl", "prod", &b);
    assert_int_equal(b.n_alerts, 4);
    assert_int_equal(b.n_procs, 3);

    const struct alert_in *a = &b.alerts[0];
    assert_string_equal(a->rule, "Terminal shell in container");
    assert_int_equal(a->severity, SEV_LOW);
    assert_int_equal(a->tactic, TACTIC_EXECUTION);
    assert_string_equal(a->technique, "T1059");
    assert_true(starts_with(a->description, "A shell was spawned in a container with"));
    assert_string_equal(ev_str(a, "parent", "name"), "containerd-shim");

    a = &b.alerts[1];
    assert_string_equal(a->rule, "Drop and execute new binary in container");
    assert_int_equal(a->severity, SEV_HIGH);
    assert_int_equal(a->tactic, TACTIC_PERSISTENCE);
    assert_string_equal(a->technique, "");
    assert_int_equal(a->first_ms, 1783763098682LL);
    json_t *anc = ev_get(a, "parent", "ancestors");
    assert_int_equal(json_array_size(anc), 1);
    assert_string_equal(json_string_value(json_array_get(anc, 0)), "systemd");
    /* The unsigned 64-bit field survives as text; int64 fields stay exact. */
    json_t *of = ev_get(a, "falco", "output_fields");
    assert_string_equal(
        json_string_value(json_object_get(of, "proc.exe_ino.ctime_duration_proc_start")),
        "18446744073670260079");
    assert_int_equal(json_integer_value(json_object_get(of, "evt.time.iso8601")),
                     1783763098682419669LL);
    assert_int_equal(json_integer_value(json_object_get(of, "proc.exe_ino.mtime")),
                     4707072802758275760LL);

    const struct alert_in *d = &b.alerts[2];
    assert_int_equal(d->provider, PROV_STOCKADE_RULES);
    assert_string_equal(d->rule, "stockade.binary_drift");
    assert_string_equal(d->title, "Binary drift detected");
    assert_int_equal(d->severity, SEV_HIGH);
    assert_int_equal(d->tactic, TACTIC_EXECUTION);
    assert_int_equal(d->first_ms, a->first_ms);
    assert_string_equal(d->description, "/usr/local/bin/fake-binary was not part of the image of "
                                        "container lab9-target (alpine:3.20)");
    assert_int_equal(d->n_entities, a->n_entities);
    for (int i = 0; i < d->n_entities; i++) {
        assert_string_equal(d->entities[i].key, a->entities[i].key);
    }
    json_t *drift = json_object_get(evidence(d), "drift");
    assert_true(json_is_true(json_object_get(drift, "upper_layer")));
    assert_true(json_is_false(json_object_get(drift, "from_memfd")));
    assert_string_equal(json_string_value(json_object_get(drift, "executable")),
                        "/usr/local/bin/fake-binary");
    char hex[33];
    for (int i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", a->key[i]);
    }
    unsigned char want[16];
    const char *parts[] = {hex, "drift"};
    alert_key(want, parts, 2);
    assert_memory_equal(d->key, want, 16);

    a = &b.alerts[3];
    assert_string_equal(a->rule, "Write to /tmp by container");
    assert_int_equal(a->severity, SEV_MEDIUM);
    assert_string_equal(ev_str(a, "file", "name"), "/tmp/my-write.txt");

    const struct proc_event *p = &b.procs[1];
    assert_memory_equal(p->key, b.alerts[1].key, 16);
    assert_string_equal(p->process_name, "fake-binary");
    assert_string_equal(p->cmdline, "fake-binary echo test");
    assert_string_equal(p->folder, "/usr/local/bin");
    assert_string_equal(p->file, "fake-binary");
    assert_string_equal(p->parent_name, "containerd-shim");
    assert_string_equal(p->account, "root");
    assert_int_equal(p->drift, 1);
    assert_int_equal(b.procs[0].drift, 0); /* EXE_LOWER_LAYER */
    /* The /tmp write has a command line but no process name. */
    assert_string_equal(b.procs[2].cmdline, "sh -lc echo \"test\" > /tmp/my-write.txt");
    ingest_batch_release(&b);
}

static void elastic_sample(void **state)
{
    (void)state;
    struct ingest_batch b;
    parse_sample(SAMPLES "elastic-integrations-falco-sample.jsonl", "prod", &b);
    assert_int_equal(b.n_alerts, 17);
    assert_int_equal(b.n_procs, 17);
    const struct alert_in *a = &b.alerts[0];
    assert_string_equal(a->rule, "Read sensitive file untrusted");
    assert_int_equal(a->severity, SEV_MEDIUM);
    assert_int_equal(a->tactic, TACTIC_CREDENTIAL_ACCESS);
    assert_string_equal(a->technique, "T1555");
    assert_int_equal(a->first_ms, 1715108059341LL);
    assert_non_null(entity(a, "container:prod/9656db3bb358"));
    assert_non_null(entity(a, "node:prod/97ade2b595f0"));
    assert_false(has_kind(a, ENT_IMAGE));
    assert_string_equal(ev_str(a, "file", "name"), "/etc/shadow");

    a = &b.alerts[2];
    assert_non_null(entity(a, "image:falcosecurity/event-generator:0.10.0"));
    assert_string_equal(ev_str(a, "parent", "cmdline"), "event-generator run --loop");

    a = &b.alerts[3];
    assert_string_equal(a->rule, "Run shell untrusted");
    assert_int_equal(a->severity, SEV_LOW);
    assert_string_equal(a->technique, "T1059.004");
    assert_int_equal(a->tactic, TACTIC_EXECUTION);

    a = &b.alerts[4]; /* "tags": [] */
    assert_int_equal(a->severity, SEV_INFORMATIONAL);
    assert_int_equal(a->tactic, TACTIC_NONE);
    assert_string_equal(a->technique, "");

    a = &b.alerts[6];
    json_t *anc = ev_get(a, "parent", "ancestors");
    assert_int_equal(json_array_size(anc), 5); /* aname[2..6]; aname[7] is null */
    assert_string_equal(json_string_value(json_array_get(anc, 4)), "init");

    a = &b.alerts[11]; /* hand-made k8s fields */
    const struct entity_ref *pod = entity(a, "pod:prod/kubernetes-ns/kubernetes-pod-1");
    assert_non_null(pod);
    assert_int_equal(pod->kind, ENT_POD);
    assert_string_equal(pod->name, "kubernetes-pod-1");
    assert_string_equal(json_string_value(json_object_get(props(pod), "namespace")),
                        "kubernetes-ns");
    assert_string_equal(json_string_value(json_object_get(props(pod), "cluster")), "prod");
    assert_string_equal(json_string_value(json_object_get(props(pod), "container_id")),
                        "84c0b936c919");
    assert_int_equal(json_array_size(json_object_get(props(pod), "labels")), 3);
    assert_non_null(entity(a, "namespace:prod/kubernetes-ns"));
    assert_string_equal(ev_str(a, "pod", "namespace"), "kubernetes-ns");
    assert_string_equal(b.procs[11].pod, "kubernetes-pod-1");
    assert_string_equal(b.procs[11].ns, "kubernetes-ns");

    a = &b.alerts[14]; /* fd.rip / fd.sip, local fd.lip */
    assert_non_null(entity(a, "ip:67.43.156.0"));
    assert_non_null(entity(a, "ip:89.160.20.112"));
    assert_null(entity(a, "ip:89.160.20.128"));
    assert_string_equal(ev_str(a, "network", "client_ip"), "216.160.83.56");
    assert_int_equal(json_integer_value(ev_get(a, "network", "server_port")), 5700);

    a = &b.alerts[15];
    assert_int_equal(json_integer_value(ev_get(a, "process", "pid")), 133567);
    assert_int_equal(b.procs[15].pid, 133567);
    assert_int_equal(b.procs[15].ppid, 133568);
    for (size_t i = 0; i < b.n_alerts; i++) {
        assert_int_equal(b.alerts[i].provider, PROV_FALCO);
        assert_string_equal(b.procs[i].account, i == 1 || i == 4 || i == 5 ? "daemon" : "root");
    }
    ingest_batch_release(&b);
}

static void no_cluster_keys(void **state)
{
    (void)state;
    struct ingest_batch b1, b2;
    parse_sample(SAMPLES "elastic-integrations-falco-sample.jsonl", "", &b1);
    const struct alert_in *a = &b1.alerts[11];
    assert_string_equal(a->cluster, "");
    assert_false(has_kind(a, ENT_CLUSTER));
    assert_non_null(entity(a, "pod:-/kubernetes-ns/kubernetes-pod-1"));
    assert_non_null(entity(a, "namespace:-/kubernetes-ns"));
    assert_non_null(entity(a, "container:-/84c0b936c919"));
    assert_non_null(entity(a, "node:-/a2000de987ff"));
    /* Keys are scoped by cluster; the same cluster gives the same keys. */
    parse_sample(SAMPLES "elastic-integrations-falco-sample.jsonl", "other", &b2);
    for (size_t i = 0; i < b1.n_alerts; i++) {
        assert_memory_not_equal(b1.alerts[i].key, b2.alerts[i].key, 16);
    }
    ingest_batch_release(&b2);
    parse_sample(SAMPLES "elastic-integrations-falco-sample.jsonl", "", &b2);
    for (size_t i = 0; i < b1.n_alerts; i++) {
        assert_memory_equal(b1.alerts[i].key, b2.alerts[i].key, 16);
    }
    ingest_batch_release(&b1);
    ingest_batch_release(&b2);
}

/* The three lab events as NDJSON, as an array and one by one give the same
 * alerts. */
static void body_shapes_agree(void **state)
{
    (void)state;
    size_t len;
    char *nd = read_file(SAMPLES "unverified-lab-falco-0.43.1-alerts.jsonl", &len);
    struct ingest_batch one, arr;
    struct ingest_reject rej;
    char *arr_text = malloc(len + 3);
    assert_non_null(arr_text);
    arr_text[0] = '[';
    memcpy(arr_text + 1, nd, len);
    arr_text[len + 1] = ']';
    arr_text[len + 2] = '\0';
    for (size_t i = 1; i <= len; i++) {
        if (arr_text[i] == '\n') {
            arr_text[i] = ',';
        }
    }
    if (arr_text[len] == ',') {
        arr_text[len] = ' ';
    }
    ingest_batch_init(&arr);
    assert_int_equal(ingest_parse_falco(arr_text, len + 2, "prod", &arr, &rej), STK_OK);
    assert_int_equal(arr.n_alerts, 4);
    char *line = nd;
    size_t k = 0;
    for (int i = 0; i < 3; i++) {
        char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        ingest_batch_init(&one);
        assert_int_equal(ingest_parse_falco(line, n, "prod", &one, &rej), STK_OK);
        for (size_t j = 0; j < one.n_alerts; j++, k++) {
            assert_memory_equal(one.alerts[j].key, arr.alerts[k].key, 16);
        }
        ingest_batch_release(&one);
        line = nl != NULL ? nl + 1 : line + n;
    }
    assert_int_equal(k, 4);
    /* Blank lines and CRLF between NDJSON events are fine. */
    char *nd2 = malloc(2 * len + 16);
    assert_non_null(nd2);
    size_t o = 0;
    memcpy(nd2 + o, "\n\r\n", 3);
    o += 3;
    for (size_t i = 0; i < len; i++) {
        if (nd[i] == '\n') {
            memcpy(nd2 + o, "\r\n\n  \n", 6);
            o += 6;
        } else {
            nd2[o++] = nd[i];
        }
    }
    ingest_batch_init(&one);
    assert_int_equal(ingest_parse_falco(nd2, o, "prod", &one, &rej), STK_OK);
    assert_int_equal(one.n_alerts, 4);
    ingest_batch_release(&one);
    ingest_batch_release(&arr);
    free(nd2);
    free(arr_text);
    free(nd);
}

/* ---- mapping details --------------------------------------------------- */

#define EV_HEAD "{\"rule\":\"r\",\"priority\":\"Warning\",\"time\":\"2024-05-07T18:54:19Z\""

static void priorities(void **state)
{
    (void)state;
    static const struct {
        const char *pri;
        enum severity sev;
    } cases[] = {
        {"Emergency", SEV_HIGH},
        {"ALERT", SEV_HIGH},
        {"critical", SEV_HIGH},
        {"Error", SEV_HIGH},
        {"warning", SEV_MEDIUM},
        {"Notice", SEV_LOW},
        {"Informational", SEV_INFORMATIONAL},
        {"info", SEV_INFORMATIONAL},
        {"Debug", SEV_INFORMATIONAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        struct ingest_batch b;
        snprintf(body, sizeof(body),
                 "{\"rule\":\"r\",\"priority\":\"%s\",\"time\":\"2024-05-07T18:54:19Z\"}",
                 cases[i].pri);
        accept(body, &b);
        assert_int_equal(b.alerts[0].severity, cases[i].sev);
        assert_int_equal(b.n_procs, 0);
        assert_null(b.alerts[0].description);
        ingest_batch_release(&b);
    }
    reject("{\"rule\":\"r\",\"priority\":\"Severe\",\"time\":\"2024-05-07T18:54:19Z\"}", STK_EINVAL,
           0, "element 0: priority: \"Severe\" is not a Falco priority");
}

static void kubernetes_and_network_fields(void **state)
{
    (void)state;
    struct ingest_batch b;
    accept(EV_HEAD ",\"hostname\":\"node-7\",\"output\":\"18:54:19.000000000: Warning x y\","
                   "\"tags\":[\"mitre_discovery\",\"T1046\",\"T1059\"],"
                   "\"output_fields\":{\"k8s.pod.name\":\"web-1\",\"k8s.ns.name\":\"<NA>\","
                   "\"container.id\":\"abc123\",\"container.image.repository\":"
                   "\"registry.example.com:5000/team/web\",\"container.image.tag\":\"1.2\","
                   "\"fd.name\":\"10.0.0.5:41234->203.0.113.9:3333\","
                   "\"fd.lip\":\"10.0.0.5\",\"ka.user.name\":\"alice\"}}",
           &b);
    const struct alert_in *a = &b.alerts[0];
    assert_string_equal(a->description, "x y");
    /* Tactic tag, then the first technique tag. */
    assert_int_equal(a->tactic, TACTIC_DISCOVERY);
    assert_string_equal(a->technique, "T1046");
    assert_non_null(entity(a, "pod:prod/-/web-1"));
    assert_false(has_kind(a, ENT_NAMESPACE));
    assert_non_null(entity(a, "container:prod/abc123"));
    assert_non_null(entity(a, "image:registry.example.com:5000/team/web:1.2"));
    assert_non_null(entity(a, "registry:registry.example.com:5000"));
    assert_non_null(entity(a, "node:prod/node-7"));
    assert_non_null(entity(a, "ip:203.0.113.9"));
    assert_null(entity(a, "ip:10.0.0.5"));
    assert_non_null(entity(a, "identity:prod/alice"));
    assert_string_equal(ev_str(a, "network", "connection"), "10.0.0.5:41234->203.0.113.9:3333");
    assert_null(json_object_get(evidence(a), "file"));
    ingest_batch_release(&b);

    /* A host process: no container, no node; IPv6 tuple; localhost registry. */
    accept(EV_HEAD ",\"hostname\":\"h\",\"output_fields\":{\"container.id\":\"host\","
                   "\"proc.name\":\"curl\",\"fd.name\":\"2001:db8::5:5555->2001:db8::9:443\","
                   "\"evt.arg.addr\":\"[2001:db8::7]:80\",\"fd.sip\":\"::1\","
                   "\"container.image.repository\":\"localhost/x\"}}",
           &b);
    a = &b.alerts[0];
    assert_false(has_kind(a, ENT_CONTAINER));
    assert_false(has_kind(a, ENT_NODE));
    assert_non_null(entity(a, "ip:2001:db8::9"));
    assert_non_null(entity(a, "ip:2001:db8::7"));
    assert_null(entity(a, "ip:::1"));
    assert_non_null(entity(a, "registry:localhost"));
    assert_string_equal(b.procs[0].container_id, "");
    assert_string_equal(b.procs[0].process_name, "curl");
    assert_string_equal(b.procs[0].file, "curl");
    ingest_batch_release(&b);

    /* Only a technique tag: the tactic comes from it; old "<NA>" strings. */
    accept(EV_HEAD ",\"tags\":[\"T1611\",\"container\"],\"output_fields\":{\"proc.pid\":\"<NA>\","
                   "\"k8s.pod.labels\":\"<NA>\",\"k8s.pod.name\":null,\"proc.name\":\"<NA>\"}}",
           &b);
    assert_int_equal(b.alerts[0].tactic, TACTIC_PRIVILEGE_ESCALATION);
    assert_string_equal(b.alerts[0].technique, "T1611");
    assert_int_equal(b.n_procs, 0);
    ingest_batch_release(&b);
}

static void time_sources(void **state)
{
    (void)state;
    struct ingest_batch b;
    /* No `time`: output_fields.evt.time in ns, kept exact in the key text. */
    accept("{\"rule\":\"r\",\"priority\":\"Notice\",\"output_fields\":"
           "{\"evt.time\":1715108059341081180}}",
           &b);
    assert_int_equal(b.alerts[0].first_ms, 1715108059341LL);
    unsigned char want[16];
    const char *parts[] = {"falco", "prod", "1715108059341081180",
                           "r",     "",     "{\"evt.time\":1715108059341081180}"};
    alert_key(want, parts, 6);
    assert_memory_equal(b.alerts[0].key, want, 16);
    ingest_batch_release(&b);
    accept("{\"rule\":\"r\",\"priority\":\"Notice\",\"output_fields\":"
           "{\"evt.time.iso8601\":1715108059341081180}}",
           &b);
    assert_int_equal(b.alerts[0].first_ms, 1715108059341LL);
    ingest_batch_release(&b);
    /* Offsets and fractions. */
    accept("{\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-05-07T20:54:19.5+02:00\"}", &b);
    assert_int_equal(b.alerts[0].first_ms, 1715108059500LL);
    ingest_batch_release(&b);
    accept("{\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-05-07T18:54:19.123456789z\"}",
           &b);
    assert_int_equal(b.alerts[0].first_ms, 1715108059123LL);
    ingest_batch_release(&b);
    accept("{\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-02-29T00:00:00-00:30\"}", &b);
    assert_int_equal(b.alerts[0].first_ms, 1709166600000LL);
    ingest_batch_release(&b);
}

static void bad_times(void **state)
{
    (void)state;
    static const struct {
        const char *time;
        const char *reason;
    } cases[] = {
        {"1970-01-01T00:00:00Z", "element 0: time: 1970-01-01T00:00:00Z is out of range"},
        {"1999-12-31T23:59:59.999Z", "element 0: time: 1999-12-31T23:59:59.999Z is out of range"},
        {"2999-01-01T00:00:00Z", "element 0: time: 2999-01-01T00:00:00Z is out of range"},
        {"9999-12-31T23:59:59Z", "element 0: time: 9999-12-31T23:59:59Z is out of range"},
        {"2024-13-01T00:00:00Z", "element 0: time: \"2024-13-01T00:00:00Z\" is not an RFC 3339 "
                                 "time"},
        {"2023-02-29T00:00:00Z", "element 0: time: \"2023-02-29T00:00:00Z\" is not an RFC 3339 "
                                 "time"},
        {"2024-05-07 18:54:19Z", "element 0: time: \"2024-05-07 18:54:19Z\" is not an RFC 3339 "
                                 "time"},
        {"2024-05-07T18:54:19", "element 0: time: \"2024-05-07T18:54:19\" is not an RFC 3339 "
                                "time"},
        {"2024-05-07T18:54:19.1234567891Z", "element 0: time: \"2024-05-07T18:54:19.1234567891Z"
                                            "\" is not an RFC 3339 time"},
        {"2024-05-07T18:54:19.Z", "element 0: time: \"2024-05-07T18:54:19.Z\" is not an RFC "
                                  "3339 time"},
        {"2024-05-07T18:54:19+0000", "element 0: time: \"2024-05-07T18:54:19+0000\" is not an "
                                     "RFC 3339 time"},
        {"2024-05-07T24:00:00Z", "element 0: time: \"2024-05-07T24:00:00Z\" is not an RFC 3339 "
                                 "time"},
        {"", "element 0: time: \"\" is not an RFC 3339 time"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"%s\"}",
                 cases[i].time);
        reject(body, STK_EINVAL, 0, cases[i].reason);
    }
    /* Two days ahead of the clock is refused; a few hours is fine. */
    char body[256];
    time_t t = time(NULL) + 2 * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[64];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(body, sizeof(body), "{\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"%s\"}", ts);
    char want[128];
    snprintf(want, sizeof(want), "element 0: time: %s is out of range", ts);
    reject(body, STK_EINVAL, 0, want);
    t = time(NULL) + 3 * 3600;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(body, sizeof(body), "{\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"%s\"}", ts);
    struct ingest_batch b;
    accept(body, &b);
    ingest_batch_release(&b);
    reject("{\"rule\":\"r\",\"priority\":\"Notice\",\"output_fields\":{\"evt.time\":0}}",
           STK_EINVAL, 0, "element 0: output_fields.evt.time: 0 is out of range");
    reject("{\"rule\":\"r\",\"priority\":\"Notice\",\"output_fields\":{\"evt.time\":-5}}",
           STK_EINVAL, 0, "element 0: output_fields.evt.time: -5 is out of range");
    reject("{\"rule\":\"r\",\"priority\":\"Notice\",\"output_fields\":"
           "{\"evt.time\":9223372036854775807}}",
           STK_EINVAL, 0, "element 0: output_fields.evt.time: 9223372036854775807 is out of range");
    reject("{\"rule\":\"r\",\"priority\":\"Notice\"}", STK_EINVAL, 0,
           "element 0: time: is required (or output_fields.evt.time)");
}

static void memfd_drift(void **state)
{
    (void)state;
    struct ingest_batch b;
    accept(EV_HEAD ",\"output_fields\":{\"proc.is_exe_from_memfd\":true,\"proc.name\":\"x\","
                   "\"container.id\":\"c1\",\"container.name\":\"web\"}}",
           &b);
    assert_int_equal(b.n_alerts, 2);
    assert_string_equal(b.alerts[1].description,
                        "x ran from memory (memfd) and was not part of the image of container web");
    assert_true(json_is_true(
        json_object_get(json_object_get(evidence(&b.alerts[1]), "drift"), "from_memfd")));
    assert_int_equal(b.procs[0].drift, 1);
    ingest_batch_release(&b);
    accept(EV_HEAD ",\"output_fields\":{\"evt.arg.flags\":\"EXE_FROM_MEMFD\"}}", &b);
    assert_int_equal(b.n_alerts, 2);
    ingest_batch_release(&b);
    /* A flag that merely contains the name is not drift. */
    accept(EV_HEAD ",\"output_fields\":{\"evt.arg.flags\":\"NOT_EXE_UPPER_LAYER|X\","
                   "\"proc.is_exe_upper_layer\":false}}",
           &b);
    assert_int_equal(b.n_alerts, 1);
    ingest_batch_release(&b);
}

/* ---- hostile input --------------------------------------------------------- */

static void empty_and_not_json(void **state)
{
    (void)state;
    reject("", STK_EINVAL, -1, "empty body");
    reject(" \n\t\r\n", STK_EINVAL, -1, "empty body");
    reject("5", STK_EINVAL, -1,
           "expected a JSON object, an array of objects or "
           "newline-delimited objects");
    reject("\"x\"", STK_EINVAL, -1,
           "expected a JSON object, an array of objects or "
           "newline-delimited objects");
    reject("[1]", STK_EINVAL, 0, "element 0: expected an object");
    reject("[{\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-05-07T18:54:19Z\"},[]]",
           STK_EINVAL, 1, "element 1: expected an object");
    reject_prefix("{\"rule\":", STK_EINVAL, 0, "element 0: malformed JSON");
    reject_prefix("[{\"rule\":\"r\"", STK_EINVAL, 0, "element 0: malformed JSON");
    struct ingest_batch b;
    accept("[]", &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
    struct ingest_reject rej;
    assert_int_equal(ingest_parse_falco("{}", 2, NULL, &b, &rej), STK_EINVAL);
    assert_string_equal(rej.reason, "element 0: rule: is required");
    char cl[200];
    memset(cl, 'c', sizeof(cl) - 1);
    cl[sizeof(cl) - 1] = '\0';
    assert_int_equal(ingest_parse_falco("{}", 2, cl, &b, &rej), STK_EINVAL);
    assert_string_equal(rej.reason, "cluster: longer than 127 bytes");
}

static void deep_nesting(void **state)
{
    (void)state;
    size_t n = 100000;
    char *body = malloc(2 * n + 1);
    assert_non_null(body);
    memset(body, '[', n);
    memset(body + n, ']', n);
    body[2 * n] = '\0';
    reject(body, STK_EINVAL, 0, "element 0: nesting deeper than 64 levels");
    free(body);

    /* Deep inside the second event of an array. */
    char buf[1024];
    int o = snprintf(buf, sizeof(buf), "[" EV_HEAD "}," EV_HEAD ",\"output_fields\":{\"x\":");
    for (int i = 0; i < 70; i++) {
        buf[o++] = '[';
    }
    for (int i = 0; i < 70; i++) {
        buf[o++] = ']';
    }
    snprintf(buf + o, sizeof(buf) - (size_t)o, "}}]");
    reject(buf, STK_EINVAL, 1, "element 1: nesting deeper than 64 levels");

    /* Exactly 64 levels (the object, output_fields and 62 arrays) pass. */
    o = snprintf(buf, sizeof(buf), EV_HEAD ",\"output_fields\":{\"x\":");
    for (int i = 0; i < 62; i++) {
        buf[o++] = '[';
    }
    for (int i = 0; i < 62; i++) {
        buf[o++] = ']';
    }
    snprintf(buf + o, sizeof(buf) - (size_t)o, "}}");
    struct ingest_batch b;
    accept(buf, &b);
    ingest_batch_release(&b);
    /* Brackets inside strings do not count. */
    o = snprintf(buf, sizeof(buf), EV_HEAD ",\"output\":\"");
    for (int i = 0; i < 200; i++) {
        buf[o++] = i % 2 ? '{' : '[';
    }
    snprintf(buf + o, sizeof(buf) - (size_t)o, "\\\"\"}");
    accept(buf, &b);
    ingest_batch_release(&b);
}

static void huge_strings(void **state)
{
    (void)state;
    size_t n = 10 * 1024 * 1024;
    char *body = malloc(n + 256);
    assert_non_null(body);
    int o = snprintf(body, 256, EV_HEAD ",\"output\":\"");
    memset(body + o, 'a', n);
    snprintf(body + o + n, 256, "\"}");
    reject(body, STK_EINVAL, 0, "element 0: output: 10485760 bytes exceeds the limit of 65535");
    o = snprintf(body, 256, EV_HEAD ",\"output_fields\":{\"proc.env\":\"");
    memset(body + o, 'a', n);
    snprintf(body + o + n, 256, "\"}}");
    reject(body, STK_EINVAL, 0,
           "element 0: output_fields.proc.env: 10485760 bytes exceeds the limit of 65535");
    o = snprintf(body, 256, EV_HEAD ",\"output_fields\":{\"x\":[1,{\"y\":\"");
    memset(body + o, 'a', n);
    snprintf(body + o + n, 256, "\"}]}}");
    reject(body, STK_EINVAL, 0,
           "element 0: output_fields.x: 10485760 bytes exceeds the limit of 65535");
    free(body);

    char buf[1024];
    char name[300];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(buf, sizeof(buf), EV_HEAD ",\"output_fields\":{\"k8s.pod.name\":\"%s\"}}", name);
    reject(buf, STK_EINVAL, 0,
           "element 0: output_fields.k8s.pod.name: 299 bytes exceeds the limit of 255");
    snprintf(buf, sizeof(buf), "{\"rule\":\"%s\",\"priority\":\"Notice\"}", name);
    reject(buf, STK_EINVAL, 0, "element 0: rule: 299 bytes exceeds the limit of 255");
    name[90] = '\0';
    snprintf(buf, sizeof(buf), EV_HEAD ",\"output_fields\":{\"container.id\":\"%s\"}}", name);
    reject(buf, STK_EINVAL, 0,
           "element 0: output_fields.container.id: 90 bytes exceeds the limit of 79");
    name[90] = 'n';
    name[250] = '\0';
    snprintf(buf, sizeof(buf),
             EV_HEAD ",\"output_fields\":{\"container.image.repository\":\"%s\","
                     "\"container.image.tag\":\"%.10s\"}}",
             name, name);
    reject(buf, STK_EINVAL, 0,
           "element 0: output_fields.container.image.tag: the image reference exceeds 255 bytes");
}

static void invalid_utf8_and_duplicates(void **state)
{
    (void)state;
    reject_prefix("{\"rule\":\"r\xff\",\"priority\":\"Notice\"}", STK_EINVAL, 0,
                  "element 0: malformed JSON");
    reject_prefix("{\"rule\":\"\xc3\x28\",\"priority\":\"Notice\"}", STK_EINVAL, 0,
                  "element 0: malformed JSON");
    reject_prefix("{\"rule\":\"a\\u0000b\",\"priority\":\"Notice\"}", STK_EINVAL, 0,
                  "element 0: malformed JSON");
    reject_prefix(EV_HEAD ",\"rule\":\"b\"}", STK_EINVAL, 0, "element 0: malformed JSON");
    struct ingest_batch b;
    struct ingest_reject rej;
    ingest_batch_init(&b);
    const char *dup = EV_HEAD ",\"output_fields\":{\"a\":1,\"a\":2}}";
    assert_int_equal(ingest_parse_falco(dup, strlen(dup), "", &b, &rej), STK_EINVAL);
    assert_non_null(strstr(rej.reason, "duplicate object key"));
}

static void wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *member;
        const char *reason;
    } top[] = {
        {"\"rule\":5", "rule: expected a string"},
        {"\"rule\":\"\"", "rule: must not be empty"},
        {"\"priority\":true", "priority: expected a string"},
        {"\"time\":1715108059", "time: expected a string"},
        {"\"output\":[]", "output: expected a string"},
        {"\"message\":{}", "message: expected a string"},
        {"\"source\":1", "source: expected a string"},
        {"\"hostname\":false", "hostname: expected a string"},
        {"\"uuid\":2", "uuid: expected a string"},
        {"\"tags\":\"mitre_execution\"", "tags: expected an array"},
        {"\"tags\":[\"a\",1]", "tags[1]: expected a string"},
        {"\"output_fields\":\"x\"", "output_fields: expected an object"},
        {"\"output_fields\":[]", "output_fields: expected an object"},
    };
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        char body[512], want[256];
        /* The tested member comes first, so it overrides the defaults. */
        snprintf(body, sizeof(body), "{%s%s}", top[i].member,
                 strncmp(top[i].member, "\"rule\"", 6) == 0
                     ? ",\"priority\":\"Notice\",\"time\":\"2024-05-07T18:54:19Z\""
                 : strncmp(top[i].member, "\"priority\"", 10) == 0
                     ? ",\"rule\":\"r\",\"time\":\"2024-05-07T18:54:19Z\""
                 : strncmp(top[i].member, "\"time\"", 6) == 0
                     ? ",\"rule\":\"r\",\"priority\":\"Notice\""
                     : ",\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-05-07T18:54:19Z\"");
        snprintf(want, sizeof(want), "element 0: %s", top[i].reason);
        reject(body, STK_EINVAL, 0, want);
    }
    static const char *const strings[] = {
        "k8s.pod.name",
        "k8s.ns.name",
        "container.id",
        "container.name",
        "container.image.repository",
        "container.image.tag",
        "container.image",
        "container.ip",
        "proc.name",
        "proc.cmdline",
        "proc.exepath",
        "proc.exe",
        "proc.pname",
        "proc.pcmdline",
        "user.name",
        "fd.name",
        "fd.directory",
        "fd.sip",
        "fd.rip",
        "fd.cip",
        "fd.lip",
        "evt.arg.addr",
        "evt.arg.flags",
        "evt.type",
        "evt.res",
        "ka.user.name",
        "ka.target.namespace",
        "proc.aname[2]",
        "proc.aname[9]",
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        static const char *const bad[] = {"5", "true", "{}", "[\"x\"]", "1.5"};
        for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
            char body[512], want[256];
            snprintf(body, sizeof(body), EV_HEAD ",\"output_fields\":{\"%s\":%s}}", strings[i],
                     bad[j]);
            snprintf(want, sizeof(want), "element 0: output_fields.%s: expected a string",
                     strings[i]);
            reject(body, STK_EINVAL, 0, want);
        }
    }
    static const struct {
        const char *member;
        const char *reason;
    } typed[] = {
        {"\"proc.pid\":\"12\"", "output_fields.proc.pid: expected an integer"},
        {"\"proc.pid\":1.5", "output_fields.proc.pid: expected an integer"},
        {"\"proc.ppid\":true", "output_fields.proc.ppid: expected an integer"},
        {"\"fd.sport\":\"80\"", "output_fields.fd.sport: expected an integer"},
        {"\"fd.cport\":[]", "output_fields.fd.cport: expected an integer"},
        {"\"proc.is_exe_upper_layer\":\"true\"",
         "output_fields.proc.is_exe_upper_layer: expected true or false"},
        {"\"proc.is_exe_from_memfd\":1",
         "output_fields.proc.is_exe_from_memfd: expected true or false"},
    };
    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
        char body[512], want[256];
        snprintf(body, sizeof(body), EV_HEAD ",\"output_fields\":{%s}}", typed[i].member);
        snprintf(want, sizeof(want), "element 0: %s", typed[i].reason);
        reject(body, STK_EINVAL, 0, want);
    }
    reject("{\"rule\":\"r\",\"priority\":\"Notice\",\"output_fields\":{\"evt.time\":\"1\"}}",
           STK_EINVAL, 0, "element 0: output_fields.evt.time: expected an integer");
    /* A field read with a number where a string belongs: in the 2nd line. */
    reject(EV_HEAD "}\n" EV_HEAD ",\"hostname\":7}\n", STK_EINVAL, 1,
           "element 1: hostname: expected a string");
}

static void oversized_batches(void **state)
{
    (void)state;
    size_t n = 100000;
    char *body = malloc(n * 3 + 4);
    assert_non_null(body);
    size_t o = 0;
    body[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        memcpy(body + o, i ? ",{}" : "{}", i ? 3 : 2);
        o += i ? 3 : 2;
    }
    body[o++] = ']';
    body[o] = '\0';
    reject(body, STK_ETOOBIG, -1, "batch of 100000 elements exceeds the limit of 5000");
    o = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(body + o, "{}\n", 3);
        o += 3;
    }
    body[o] = '\0';
    reject(body, STK_ETOOBIG, -1, "batch of 100000 elements exceeds the limit of 5000");
    free(body);

    /* Exactly the limit is fine; one more is not. */
    const char *ev = EV_HEAD "}";
    size_t evlen = strlen(ev);
    body = malloc((evlen + 1) * 5001 + 3);
    assert_non_null(body);
    o = 0;
    body[o++] = '[';
    for (size_t i = 0; i < 5000; i++) {
        if (i > 0) {
            body[o++] = ',';
        }
        memcpy(body + o, ev, evlen);
        o += evlen;
    }
    body[o] = ']';
    body[o + 1] = '\0';
    struct ingest_batch b;
    accept(body, &b);
    assert_int_equal(b.n_alerts, 5000);
    ingest_batch_release(&b);
    body[o] = ',';
    memcpy(body + o + 1, ev, evlen);
    body[o + 1 + evlen] = ']';
    body[o + 2 + evlen] = '\0';
    reject(body, STK_ETOOBIG, -1, "batch of 5001 elements exceeds the limit of 5000");
    free(body);

    /* 5000 drift events yield 10000 alerts: refused, not cut. */
    const char *dev = EV_HEAD ",\"output_fields\":{\"proc.is_exe_upper_layer\":true}}\n";
    size_t dlen = strlen(dev);
    body = malloc(dlen * 2600 + 1);
    assert_non_null(body);
    for (size_t i = 0; i < 2600; i++) {
        memcpy(body + i * dlen, dev, dlen);
    }
    body[dlen * 2600] = '\0';
    reject(body, STK_ETOOBIG, 2500,
           "element 2500: the batch yields more than 5000 alerts; send fewer events per request");
    free(body);
}

static void trailing_garbage_and_partial(void **state)
{
    (void)state;
    reject(EV_HEAD "} x", STK_EINVAL, 0,
           "element 0: unexpected text after the event (events are separated by newlines)");
    reject(EV_HEAD "}" EV_HEAD "}", STK_EINVAL, 0,
           "element 0: unexpected text after the event (events are separated by newlines)");
    reject_prefix(EV_HEAD "}\nxyz\n", STK_EINVAL, 1, "element 1: malformed JSON");
    reject_prefix("[" EV_HEAD "}] x", STK_EINVAL, -1, "malformed JSON");
    reject_prefix("[" EV_HEAD "}]]", STK_EINVAL, -1, "malformed JSON");
    reject_prefix("[" EV_HEAD "}," EV_HEAD "},", STK_EINVAL, 1, "element 1: malformed JSON");
    /* A good event then a bad one: nothing is kept. */
    reject(EV_HEAD ",\"output_fields\":{\"proc.name\":\"sh\"}}\n{\"rule\":\"r\"}", STK_EINVAL, 1,
           "element 1: priority: is required");
}

static void big_integers(void **state)
{
    (void)state;
    struct ingest_batch b;
    accept(EV_HEAD ",\"output_fields\":{\"a\":9223372036854775807,\"b\":9223372036854775808,"
                   "\"c\":-9223372036854775808,\"d\":-9223372036854775809,"
                   "\"e\":123456789012345678901234567890,\"f\":\"99999999999999999999\"}}",
           &b);
    json_t *of = ev_get(&b.alerts[0], "falco", "output_fields");
    assert_int_equal(json_integer_value(json_object_get(of, "a")), INT64_MAX);
    assert_string_equal(json_string_value(json_object_get(of, "b")), "9223372036854775808");
    assert_int_equal(json_integer_value(json_object_get(of, "c")), INT64_MIN);
    assert_string_equal(json_string_value(json_object_get(of, "d")), "-9223372036854775809");
    assert_string_equal(json_string_value(json_object_get(of, "e")),
                        "123456789012345678901234567890");
    assert_string_equal(json_string_value(json_object_get(of, "f")), "99999999999999999999");
    ingest_batch_release(&b);
    /* Leading zeros stay invalid JSON. */
    reject_prefix(EV_HEAD ",\"output_fields\":{\"a\":00000000000000000000001}}", STK_EINVAL, 0,
                  "element 0: malformed JSON");
    /* A big number where an integer is read is a type error. */
    reject("{\"rule\":\"r\",\"priority\":\"Notice\",\"output_fields\":"
           "{\"evt.time\":18446744073670260079}}",
           STK_EINVAL, 0, "element 0: output_fields.evt.time: expected an integer");
}

/* The evidence text is written directly, not dumped from a tree: it must be
 * the very bytes json_dumps() gave (evidence() checks that), escapes, reals,
 * nesting and all, and the drift alert's is the same plus "drift". */
static void evidence_text_is_what_jansson_writes(void **state)
{
    (void)state;
    struct ingest_batch b;
    accept(EV_HEAD ",\"output\":\"x\",\"tags\":[\"T1059\",\"a\\u0001b\"],"
                   "\"output_fields\":{\"proc.name\":\"sh\\t\\\"q\\\" \\u001b[31m \\u007f \\\\ /\","
                   "\"proc.cmdline\":\"caf\\u00e9 \\ud83d\\ude00 \\u2028\",\"proc.pid\":-7,"
                   "\"r\":[1.5,1e300,-0.0,0.1,1E-7],\"n\":{\"z\":null,\"a\":[true,false,{}]},"
                   "\"k\\u0002ey\":\"\",\"proc.is_exe_upper_layer\":true,"
                   "\"container.id\":\"c1\",\"container.name\":\"\",\"k8s.pod.name\":\"p\","
                   "\"k8s.pod.labels\":{\"a\\u0001\":[\"b\\\"\",2.5]}}}",
           &b);
    assert_int_equal(b.n_alerts, 2);
    const struct entity_ref *pod = entity(&b.alerts[0], "pod:prod/-/p");
    assert_non_null(pod);
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(props(pod), "labels"), "a\x01")), 2);
    assert_string_equal(ev_str(&b.alerts[0], "process", "name"), "sh\t\"q\" \x1b[31m \x7f \\ /");
    assert_non_null(strstr(b.alerts[0].evidence_json, "\\u001B[31m"));
    assert_string_equal(ev_str(&b.alerts[0], "process", "cmdline"),
                        "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8");
    json_t *r = json_object_get(ev_get(&b.alerts[0], "falco", "output_fields"), "r");
    assert_int_equal(json_array_size(r), 5);
    assert_null(json_object_get(evidence(&b.alerts[0]), "drift"));
    /* Empty strings are left out of the sections, kept in output_fields. */
    assert_null(ev_get(&b.alerts[0], "container", "name"));
    size_t n = strlen(b.alerts[0].evidence_json);
    assert_memory_equal(b.alerts[1].evidence_json, b.alerts[0].evidence_json, n - 1);
    assert_true(starts_with(b.alerts[1].evidence_json + n - 1, ",\"drift\":{"));
    assert_true(json_is_true(ev_get(&b.alerts[1], "drift", "upper_layer")));
    ingest_batch_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sidekick_payload),
        cmocka_unit_test(cryptominer_alert),
        cmocka_unit_test(lab_alerts_with_drift),
        cmocka_unit_test(elastic_sample),
        cmocka_unit_test(no_cluster_keys),
        cmocka_unit_test(body_shapes_agree),
        cmocka_unit_test(priorities),
        cmocka_unit_test(kubernetes_and_network_fields),
        cmocka_unit_test(time_sources),
        cmocka_unit_test(bad_times),
        cmocka_unit_test(memfd_drift),
        cmocka_unit_test(empty_and_not_json),
        cmocka_unit_test(deep_nesting),
        cmocka_unit_test(huge_strings),
        cmocka_unit_test(invalid_utf8_and_duplicates),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(oversized_batches),
        cmocka_unit_test(trailing_garbage_and_partial),
        cmocka_unit_test(big_integers),
        cmocka_unit_test(evidence_text_is_what_jansson_writes),
    };
    return cmocka_run_group_tests(tests, NULL, forget_parsed);
}
