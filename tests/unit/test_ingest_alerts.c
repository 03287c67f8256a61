/* server/ingest_alerts.c: Stockade's own alert JSON (docs/alert.schema.json):
 * every field mapped, defaults, the strict key set, every wrong type and
 * bad value named in the rejection, and hostile bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest_parse.h"

#define FULL                                                                                       \
    "{\"id\":\"scan-42\",\"title\":\"Crypto miner image deployed\",\"severity\":\"high\","         \
    "\"provider\":\"stockade-rules\",\"rule\":\"stockade.miner_image\","                           \
    "\"description\":\"xmrig found in image\",\"tactic\":\"impact\",\"technique\":\"T1496\","      \
    "\"first_activity\":\"2024-05-07T18:54:19.341Z\","                                             \
    "\"last_activity\":\"2024-05-07T20:54:19+01:00\",\"cluster\":\"staging\","                     \
    "\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:staging/web/miner-1\",\"name\":\"miner-1\","    \
    "\"properties\":{\"namespace\":\"web\",\"labels\":{\"app\":\"x\"}}},"                          \
    "{\"kind\":\"image\",\"key\":\"image:docker.io/evil/xmrig:6\"}],"                              \
    "\"evidence\":{\"scanner\":\"trivy\",\"findings\":[1,2,3]}}"

#define MIN                                                                                        \
    "{\"id\":\"m\",\"title\":\"t\",\"severity\":\"low\","                                          \
    "\"first_activity\":\"2024-05-07T18:54:19Z\""

static void parse_ok(const char *body, const char *cluster, struct ingest_batch *b)
{
    struct ingest_reject rej;
    ingest_batch_init(b);
    enum stk_err rc = ingest_parse_alerts(body, strlen(body), cluster, b, &rej);
    if (rc != STK_OK) {
        fail_msg("%ld %s", rej.index, rej.reason);
    }
}

static void reject_n(const char *body, size_t len, enum stk_err code, long index,
                     const char *reason, int prefix)
{
    struct ingest_batch b;
    struct ingest_reject rej;
    ingest_batch_init(&b);
    enum stk_err rc = ingest_parse_alerts(body, len, "prod", &b, &rej);
    if (rc != code || rej.index != index ||
        (prefix ? strncmp(rej.reason, reason, strlen(reason)) != 0
                : strcmp(rej.reason, reason) != 0)) {
        fail_msg("got %d %ld \"%s\", want %d %ld \"%s\"", rc, rej.index, rej.reason, code, index,
                 reason);
    }
    assert_int_equal(b.n_alerts, 0);
    assert_null(b.alerts);
}

static void reject(const char *body, enum stk_err code, long index, const char *reason)
{
    reject_n(body, strlen(body), code, index, reason, 0);
}

static void every_field(void **state)
{
    (void)state;
    struct ingest_batch b;
    parse_ok(FULL, "", &b);
    assert_int_equal(b.n_alerts, 1);
    assert_int_equal(b.n_procs, 0);
    assert_int_equal(b.n_audits, 0);
    const struct alert_in *a = &b.alerts[0];
    unsigned char want[16];
    const char *parts[] = {"api", "staging", "scan-42"};
    alert_key(want, parts, 3);
    assert_memory_equal(a->key, want, 16);
    assert_int_equal(a->provider, PROV_STOCKADE_RULES);
    assert_string_equal(a->rule, "stockade.miner_image");
    assert_string_equal(a->title, "Crypto miner image deployed");
    assert_string_equal(a->description, "xmrig found in image");
    assert_int_equal(a->severity, SEV_HIGH);
    assert_int_equal(a->tactic, TACTIC_IMPACT);
    assert_string_equal(a->technique, "T1496");
    assert_int_equal(a->first_ms, 1715108059341LL);
    assert_int_equal(a->last_ms, 1715111659000LL);
    assert_string_equal(a->cluster, "staging"); /* the request named none */
    assert_int_equal(a->n_entities, 3);
    assert_int_equal(a->entities[0].kind, ENT_POD);
    assert_string_equal(a->entities[0].key, "pod:staging/web/miner-1");
    assert_string_equal(a->entities[0].name, "miner-1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a->entities[0].props, "labels"), "app")),
        "x");
    assert_int_equal(a->entities[1].kind, ENT_IMAGE);
    assert_string_equal(a->entities[1].name, "xmrig:6");
    assert_null(a->entities[1].props);
    assert_int_equal(a->entities[2].kind, ENT_CLUSTER);
    assert_string_equal(a->entities[2].key, "cluster:staging");
    assert_string_equal(json_string_value(json_object_get(a->evidence, "scanner")), "trivy");
    assert_int_equal(json_array_size(json_object_get(a->evidence, "findings")), 3);
    assert_string_equal(a->novelty, "");
    ingest_batch_release(&b);
}

static void defaults(void **state)
{
    (void)state;
    struct ingest_batch b;
    parse_ok(MIN "}", "", &b);
    const struct alert_in *a = &b.alerts[0];
    assert_int_equal(a->provider, PROV_API);
    assert_string_equal(a->rule, "api");
    assert_null(a->description);
    assert_null(a->evidence);
    assert_int_equal(a->tactic, TACTIC_NONE);
    assert_string_equal(a->technique, "");
    assert_int_equal(a->last_ms, a->first_ms);
    assert_string_equal(a->cluster, "");
    assert_int_equal(a->n_entities, 0);
    ingest_batch_release(&b);

    parse_ok(MIN ",\"provider\":\"api\",\"description\":null,\"tactic\":null}", "prod", &b);
    a = &b.alerts[0];
    assert_string_equal(a->cluster, "prod");
    assert_int_equal(a->n_entities, 1);
    assert_string_equal(a->entities[0].key, "cluster:prod");
    ingest_batch_release(&b);

    /* An array; an entity list already naming the cluster keeps one. */
    parse_ok("[" MIN "},{\"id\":\"n\",\"title\":\"t\",\"severity\":\"low\","
             "\"first_activity\":\"2024-05-07T18:54:19Z\",\"technique\":\"T1059.004\",\"entities\":"
             "[{\"kind\":\"cluster\",\"key\":\"cluster:prod\",\"name\":\"Production\"}]}]",
             "prod", &b);
    assert_int_equal(b.n_alerts, 2);
    a = &b.alerts[1];
    assert_string_equal(a->technique, "T1059.004");
    assert_int_equal(a->n_entities, 1);
    assert_string_equal(a->entities[0].name, "Production");
    ingest_batch_release(&b);
    parse_ok("[]", "prod", &b);
    assert_int_equal(b.n_alerts, 0);
    ingest_batch_release(&b);
}

static void wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *member;
        const char *reason;
    } cases[] = {
        {"\"id\":5", "id: expected a string"},
        {"\"title\":[]", "title: expected a string"},
        {"\"severity\":1", "severity: expected a string"},
        {"\"provider\":1", "provider: expected a string"},
        {"\"rule\":{}", "rule: expected a string"},
        {"\"description\":1", "description: expected a string"},
        {"\"tactic\":2", "tactic: expected a string"},
        {"\"technique\":1059", "technique: expected a string"},
        {"\"first_activity\":1715108059", "first_activity: expected a string"},
        {"\"last_activity\":true", "last_activity: expected a string"},
        {"\"cluster\":1", "cluster: expected a string"},
        {"\"entities\":{}", "entities: expected an array"},
        {"\"entities\":[1]", "entities[0]: expected an object"},
        {"\"entities\":[{\"kind\":1,\"key\":\"pod:a\"}]", "entities[0].kind: expected a string"},
        {"\"entities\":[{\"kind\":\"pod\",\"key\":1}]", "entities[0].key: expected a string"},
        {"\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:a\",\"name\":1}]",
         "entities[0].name: expected a string"},
        {"\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:a\",\"properties\":[]}]",
         "entities[0].properties: expected an object"},
        {"\"evidence\":[]", "evidence: expected an object"},
        {"\"evidence\":\"x\"", "evidence: expected an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* The member under test goes first; required ones follow unless it
         * is one of them. */
        char body[1024], want[256];
        const char *m = cases[i].member;
        snprintf(body, sizeof(body), "[" MIN "},{%s%s%s%s%s}]", m,
                 strncmp(m, "\"id\"", 4) ? ",\"id\":\"x\"" : "",
                 strncmp(m, "\"title\"", 7) ? ",\"title\":\"t\"" : "",
                 strncmp(m, "\"severity\"", 10) ? ",\"severity\":\"low\"" : "",
                 strncmp(m, "\"first_activity\"", 16)
                     ? ",\"first_activity\":\"2024-05-07T18:54:19Z\""
                     : "");
        snprintf(want, sizeof(want), "element 1: %s", cases[i].reason);
        reject(body, STK_EINVAL, 1, want);
    }
}

static void bad_values(void **state)
{
    (void)state;
    char long_id[260], long_desc[70000], body[72000];
    memset(long_id, 'i', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    static const struct {
        const char *member;
        const char *reason;
    } cases[] = {
        {"\"color\":\"red\"", "color: unknown key"},
        {"\"severity\":\"High\"", "severity: \"High\" is not informational, low, medium or high"},
        {"\"severity\":\"critical\"",
         "severity: \"critical\" is not informational, low, medium or high"},
        {"\"provider\":\"falco\"", "provider: \"falco\" is not api or stockade-rules"},
        {"\"rule\":\"\"", "rule: must not be empty"},
        {"\"tactic\":\"Execution\"", "tactic: \"Execution\" is not a tactic name"},
        {"\"tactic\":\"TA0002\"", "tactic: \"TA0002\" is not a tactic name"},
        {"\"technique\":\"T12\"", "technique: \"T12\" is not T1234 or T1234.001"},
        {"\"technique\":\"T1234.1\"", "technique: \"T1234.1\" is not T1234 or T1234.001"},
        {"\"technique\":\"t1234\"", "technique: \"t1234\" is not T1234 or T1234.001"},
        {"\"technique\":\"T1234.0011\"", "technique: \"T1234.0011\" is not T1234 or T1234.001"},
        {"\"last_activity\":\"2024-05-07T18:54:18Z\"",
         "last_activity: earlier than first_activity"},
        {"\"last_activity\":\"2024-05-07\"",
         "last_activity: \"2024-05-07\" is not an RFC 3339 time"},
        {"\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:a\",\"color\":1}]",
         "entities[0].color: unknown key"},
        {"\"entities\":[{\"kind\":\"pods\",\"key\":\"pods:a\"}]",
         "entities[0].kind: \"pods\" is not an entity kind"},
        {"\"entities\":[{\"kind\":\"pod\",\"key\":\"node:a\"}]",
         "entities[0].key: must start with \"pod:\""},
        {"\"entities\":[{\"kind\":\"pod\",\"key\":\"pod\"}]",
         "entities[0].key: must start with \"pod:\""},
        {"\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:\"}]",
         "entities[0].key: must start with \"pod:\""},
        {"\"entities\":[{\"kind\":\"pod\"}]", "entities[0].key: is required"},
        {"\"entities\":[{\"key\":\"pod:a\"}]", "entities[0].kind: is required"},
        {"\"entities\":[{\"kind\":\"ip\",\"key\":\"ip:1.2.3.4\"},{\"kind\":\"ip\","
         "\"key\":\"ip:1.2.3.4\"}]",
         "entities[1].key: \"ip:1.2.3.4\" appears twice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[256];
        const char *m = cases[i].member;
        if (strncmp(m, "\"severity\"", 10) == 0) {
            snprintf(body, sizeof(body),
                     "{\"id\":\"m\",\"title\":\"t\",\"first_activity\":"
                     "\"2024-05-07T18:54:19Z\",%s}",
                     m);
        } else {
            snprintf(body, sizeof(body), MIN ",%s}", m);
        }
        snprintf(want, sizeof(want), "element 0: %s", cases[i].reason);
        reject(body, STK_EINVAL, 0, want);
    }
    snprintf(body, sizeof(body), MIN ",\"cluster\":\"%.150s\"}", long_id);
    reject(body, STK_EINVAL, 0, "element 0: cluster: 150 bytes exceeds the limit of 127");
    reject("{\"title\":\"t\",\"severity\":\"low\",\"first_activity\":\"2024-05-07T18:54:19Z\"}",
           STK_EINVAL, 0, "element 0: id: is required");
    reject("{\"id\":\"\",\"title\":\"t\",\"severity\":\"low\"}", STK_EINVAL, 0,
           "element 0: id: must not be empty");
    snprintf(body, sizeof(body), "{\"id\":\"%.201s\"}", long_id);
    reject(body, STK_EINVAL, 0, "element 0: id: 201 bytes exceeds the limit of 200");
    snprintf(body, sizeof(body), "{\"id\":\"%.200s\",\"title\":\"t\"}", long_id);
    reject(body, STK_EINVAL, 0, "element 0: severity: is required");
    snprintf(body, sizeof(body), "{\"id\":\"i\",\"title\":\"%s\"}", long_id);
    reject(body, STK_EINVAL, 0, "element 0: title: 259 bytes exceeds the limit of 255");
    reject("{\"id\":\"i\",\"title\":\"\"}", STK_EINVAL, 0, "element 0: title: must not be empty");
    reject("{\"id\":\"i\",\"title\":\"t\",\"severity\":\"low\"}", STK_EINVAL, 0,
           "element 0: first_activity: is required");
    reject("{\"id\":\"i\",\"title\":\"t\",\"severity\":\"low\",\"first_activity\":"
           "\"1970-01-01T00:00:00Z\"}",
           STK_EINVAL, 0, "element 0: first_activity: 1970-01-01T00:00:00Z is out of range");
    memset(long_desc, 'd', sizeof(long_desc) - 1);
    long_desc[sizeof(long_desc) - 1] = '\0';
    snprintf(body, sizeof(body), MIN ",\"description\":\"%s\"}", long_desc);
    reject(body, STK_EINVAL, 0, "element 0: description: 69999 bytes exceeds the limit of 65535");

    /* 17 entities. */
    int o = snprintf(body, sizeof(body), MIN ",\"entities\":[");
    for (int i = 0; i < 17; i++) {
        o += snprintf(body + o, sizeof(body) - (size_t)o,
                      "%s{\"kind\":\"ip\",\"key\":\"ip:10.0.0.%d\"}", i ? "," : "", i);
    }
    snprintf(body + o, sizeof(body) - (size_t)o, "]}");
    reject(body, STK_EINVAL, 0, "element 0: entities: 17 items exceeds the limit of 16");
    /* 16 entities and a cluster: the cluster entity does not fit, no error. */
    char *last = strrchr(body, '{');
    snprintf(last - 1, 8, "]}");
    struct ingest_batch b;
    parse_ok(body, "prod", &b);
    assert_int_equal(b.alerts[0].n_entities, 16);
    ingest_batch_release(&b);
}

static void clusters(void **state)
{
    (void)state;
    struct ingest_batch b;
    struct ingest_reject rej;
    /* The request's cluster (a bound token's) cannot be overridden. */
    ingest_batch_init(&b);
    assert_int_equal(ingest_parse_alerts(FULL, strlen(FULL), "prod", &b, &rej), STK_EFORBIDDEN);
    assert_int_equal(rej.index, 0);
    assert_string_equal(rej.reason, "element 0: cluster: \"staging\" is not the cluster of this "
                                    "request (\"prod\")");
    assert_int_equal(b.n_alerts, 0);
    parse_ok(FULL, "staging", &b);
    assert_string_equal(b.alerts[0].cluster, "staging");
    ingest_batch_release(&b);
    static const char *const bad[] = {
        "prod/eu", "a b", "", "é",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body), MIN ",\"cluster\":\"%s\"}", bad[i]);
        reject(body, STK_EINVAL, 0,
               "element 0: cluster: expected 1 to 63 letters, digits, '-', '_' or '.'");
    }
    /* Entities of another cluster are refused; unknown ("-") and keys
     * without a cluster part are fine. */
    static const struct {
        const char *ent;
        const char *reason;
    } cases[] = {
        {"{\"kind\":\"pod\",\"key\":\"pod:other/n/p\"}",
         "element 0: entities[0].key: names cluster \"other\", not the alert's \"prod\""},
        {"{\"kind\":\"namespace\",\"key\":\"namespace:prodx/n\"}",
         "element 0: entities[0].key: names cluster \"prodx\", not the alert's \"prod\""},
        {"{\"kind\":\"cluster\",\"key\":\"cluster:other\"}",
         "element 0: entities[0].key: names cluster \"other\", not the alert's \"prod\""},
        {"{\"kind\":\"cluster\",\"key\":\"cluster:-\"}",
         "element 0: entities[0].key: names cluster \"-\", not the alert's \"prod\""},
        {"{\"kind\":\"container\",\"key\":\"container:/abc\"}",
         "element 0: entities[0].key: names cluster \"\", not the alert's \"prod\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body), MIN ",\"entities\":[%s]}", cases[i].ent);
        reject(body, STK_EINVAL, 0, cases[i].reason);
    }
    parse_ok(MIN ",\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:-/n/p\"},"
                 "{\"kind\":\"pod\",\"key\":\"pod:lonely\"},"
                 "{\"kind\":\"identity\",\"key\":\"identity:other/u\"},"
                 "{\"kind\":\"pod\",\"key\":\"pod:prod/n/p\"}]}",
             "prod", &b);
    assert_int_equal(b.alerts[0].n_entities, 5);
    ingest_batch_release(&b);
    /* Without any cluster, entity keys are not checked. */
    parse_ok(MIN ",\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:other/n/p\"}]}", "", &b);
    ingest_batch_release(&b);
}

static void hostile_bodies(void **state)
{
    (void)state;
    reject("", STK_EINVAL, -1, "empty body");
    reject("\"x\"", STK_EINVAL, -1, "expected an alert object or an array of them");
    reject("[5]", STK_EINVAL, 0, "element 0: expected an object");
    reject_n(MIN "}" MIN "}", strlen(MIN "}" MIN "}"), STK_EINVAL, -1, "malformed JSON", 1);
    reject_n(MIN "} x", strlen(MIN "} x"), STK_EINVAL, -1, "malformed JSON", 1);
    reject_n("[" MIN "}," MIN, strlen("[" MIN "}," MIN), STK_EINVAL, 1, "element 1: malformed JSON",
             1);
    reject_n(MIN ",\"id\":\"y\"}", strlen(MIN ",\"id\":\"y\"}"), STK_EINVAL, -1, "malformed JSON",
             1);
    reject_n(MIN ",\"title\":\"\xc3\"}", strlen(MIN ",\"title\":\"\xc3\"}"), STK_EINVAL, -1,
             "malformed JSON", 1);
    /* Big integers stay refused in our own format. */
    reject_n(MIN ",\"evidence\":{\"n\":18446744073670260079}}",
             strlen(MIN ",\"evidence\":{\"n\":18446744073670260079}}"), STK_EINVAL, -1,
             "malformed JSON", 1);

    char buf[512];
    int o = snprintf(buf, sizeof(buf), "[" MIN "}," MIN ",\"evidence\":");
    for (int i = 0; i < 70; i++) {
        buf[o++] = '[';
    }
    buf[o] = '\0';
    reject(buf, STK_EINVAL, 1, "element 1: nesting deeper than 64 levels");

    size_t n = 100000;
    char *big = malloc(n * 3 + 4);
    assert_non_null(big);
    size_t off = 0;
    big[off++] = '[';
    for (size_t i = 0; i < n; i++) {
        memcpy(big + off, i ? ",{}" : "{}", i ? 3 : 2);
        off += i ? 3 : 2;
    }
    big[off++] = ']';
    big[off] = '\0';
    reject(big, STK_ETOOBIG, -1, "batch of 100000 elements exceeds the limit of 5000");
    free(big);

    char cl[200];
    memset(cl, 'c', sizeof(cl) - 1);
    cl[sizeof(cl) - 1] = '\0';
    struct ingest_batch b;
    struct ingest_reject rej;
    ingest_batch_init(&b);
    assert_int_equal(ingest_parse_alerts("{}", 2, cl, &b, &rej), STK_EINVAL);
    assert_string_equal(rej.reason, "cluster: longer than 127 bytes");
    /* A request cluster of the maximum length still fits its entity key. */
    cl[127] = '\0';
    parse_ok(MIN "}", cl, &b);
    assert_int_equal(b.alerts[0].n_entities, 1);
    ingest_batch_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_field), cmocka_unit_test(defaults), cmocka_unit_test(wrong_types),
        cmocka_unit_test(bad_values),  cmocka_unit_test(clusters), cmocka_unit_test(hostile_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
