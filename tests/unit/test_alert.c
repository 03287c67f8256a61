/* server/alert.c: name tables and their parsers, determinations, the
 * technique -> tactic table, batch arrays (caps, release), entities and
 * idempotency keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alert.h"

static void severity_names(void **state)
{
    (void)state;
    static const char *const names[] = {"informational", "low", "medium", "high"};
    for (int i = 0; i < SEV_N; i++) {
        assert_string_equal(alert_severity_name((enum severity)i), names[i]);
        assert_int_equal(alert_severity_parse(names[i]), i);
    }
    assert_string_equal(alert_severity_name(SEV_N), "");
    assert_string_equal(alert_severity_name((enum severity) - 1), "");
    assert_int_equal(alert_severity_parse("High"), -1);
    assert_int_equal(alert_severity_parse(""), -1);
    assert_int_equal(alert_severity_parse(NULL), -1);
}

static void tactic_names_and_labels(void **state)
{
    (void)state;
    assert_string_equal(alert_tactic_name(TACTIC_NONE), "");
    assert_string_equal(alert_tactic_name(TACTIC_INITIAL_ACCESS), "initial_access");
    assert_string_equal(alert_tactic_name(TACTIC_COMMAND_AND_CONTROL), "command_and_control");
    assert_string_equal(alert_tactic_name(TACTIC_IMPACT), "impact");
    assert_string_equal(alert_tactic_label(TACTIC_CREDENTIAL_ACCESS), "Credential access");
    assert_string_equal(alert_tactic_label(TACTIC_COMMAND_AND_CONTROL), "Command and control");
    assert_string_equal(alert_tactic_label(TACTIC_N), "");
    for (int t = 1; t < TACTIC_N; t++) {
        assert_int_equal(alert_tactic_parse(alert_tactic_name((enum tactic)t)), t);
        assert_int_equal(alert_tactic_parse(alert_tactic_label((enum tactic)t)), t);
    }
}

static void tactic_parse_ids_and_tags(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum tactic want;
    } cases[] = {
        {"TA0001", TACTIC_INITIAL_ACCESS},
        {"TA0002", TACTIC_EXECUTION},
        {"TA0003", TACTIC_PERSISTENCE},
        {"TA0004", TACTIC_PRIVILEGE_ESCALATION},
        {"TA0005", TACTIC_DEFENSE_EVASION},
        {"TA0006", TACTIC_CREDENTIAL_ACCESS},
        {"TA0007", TACTIC_DISCOVERY},
        {"TA0008", TACTIC_LATERAL_MOVEMENT},
        {"TA0009", TACTIC_COLLECTION},
        {"TA0010", TACTIC_EXFILTRATION},
        {"TA0011", TACTIC_COMMAND_AND_CONTROL},
        {"TA0040", TACTIC_IMPACT},
        {"mitre_execution", TACTIC_EXECUTION},
        {"mitre_privilege_escalation", TACTIC_PRIVILEGE_ESCALATION},
        {"mitre_command_and_control", TACTIC_COMMAND_AND_CONTROL},
        {"mitre_credential_access", TACTIC_CREDENTIAL_ACCESS},
        {"mitre_lateral_movement", TACTIC_LATERAL_MOVEMENT},
        {"mitre_defense_evasion", TACTIC_DEFENSE_EVASION},
        {"mitre_persistence", TACTIC_PERSISTENCE},
        {"mitre_discovery", TACTIC_DISCOVERY},
        {"mitre_exfiltration", TACTIC_EXFILTRATION},
        {"mitre_impact", TACTIC_IMPACT},
        {"mitre_initial_access", TACTIC_INITIAL_ACCESS},
        {"mitre_collection", TACTIC_COLLECTION},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(alert_tactic_parse(cases[i].in), cases[i].want);
    }
    assert_int_equal(alert_tactic_parse("TA0012"), -1);
    assert_int_equal(alert_tactic_parse("mitre_"), -1);
    assert_int_equal(alert_tactic_parse("mitre_shell"), -1);
    assert_int_equal(alert_tactic_parse(""), -1);
    assert_int_equal(alert_tactic_parse(NULL), -1);
    assert_int_equal(alert_tactic_parse("container"), -1);
}

static void provider_kind_classification_names(void **state)
{
    (void)state;
    static const char *const provs[] = {"falco", "k8s-audit", "stockade-rules", "api"};
    static const char *const labels[] = {"Falco", "Kubernetes audit", "Stockade rules", "API"};
    for (int i = 0; i < PROV_N; i++) {
        assert_string_equal(alert_provider_name((enum provider)i), provs[i]);
        assert_string_equal(alert_provider_label((enum provider)i), labels[i]);
        assert_int_equal(alert_provider_parse(provs[i]), i);
    }
    assert_int_equal(alert_provider_parse("Falco"), -1);
    static const char *const kinds[] = {"cluster",   "namespace",  "node",    "pod",
                                        "container", "deployment", "service", "image",
                                        "registry",  "identity",   "ip",      "cloud-resource"};
    for (int i = 0; i < ENT_KIND_N; i++) {
        assert_string_equal(alert_entity_kind_name((enum entity_kind)i), kinds[i]);
        assert_int_equal(alert_entity_kind_parse(kinds[i]), i);
    }
    assert_string_equal(alert_entity_kind_name(ENT_KIND_N), "");
    assert_int_equal(alert_entity_kind_parse("cloud_resource"), -1);
    assert_string_equal(alert_classification_name(CLASS_NONE), "");
    assert_string_equal(alert_classification_name(CLASS_TRUE_POSITIVE), "true_positive");
    assert_string_equal(alert_classification_name(CLASS_INFORMATIONAL), "informational");
    assert_string_equal(alert_classification_name(CLASS_FALSE_POSITIVE), "false_positive");
    assert_string_equal(alert_classification_label(CLASS_TRUE_POSITIVE), "True positive");
    assert_string_equal(alert_classification_label(CLASS_INFORMATIONAL),
                        "Informational, expected activity");
    assert_string_equal(alert_classification_label(CLASS_FALSE_POSITIVE), "False positive");
    assert_int_equal(alert_classification_parse("false_positive"), CLASS_FALSE_POSITIVE);
    assert_int_equal(alert_classification_parse(""), -1);
    assert_int_equal(alert_classification_parse("tp"), -1);
}

static size_t count(const char *const *list)
{
    size_t n = 0;
    while (list[n] != NULL) {
        n++;
    }
    return n;
}

static void determinations(void **state)
{
    (void)state;
    assert_int_equal(count(alert_determinations(CLASS_TRUE_POSITIVE)), 6);
    assert_int_equal(count(alert_determinations(CLASS_INFORMATIONAL)), 4);
    assert_int_equal(count(alert_determinations(CLASS_FALSE_POSITIVE)), 3);
    assert_int_equal(count(alert_determinations(CLASS_NONE)), 0);
    assert_true(alert_determination_ok(CLASS_TRUE_POSITIVE, "multi_stage_attack"));
    assert_true(alert_determination_ok(CLASS_TRUE_POSITIVE, "unwanted_software"));
    assert_false(alert_determination_ok(CLASS_TRUE_POSITIVE, "not_malicious"));
    assert_true(alert_determination_ok(CLASS_INFORMATIONAL, "line_of_business_application"));
    assert_false(alert_determination_ok(CLASS_INFORMATIONAL, "malware"));
    assert_true(alert_determination_ok(CLASS_FALSE_POSITIVE, "not_enough_data"));
    for (int c = CLASS_TRUE_POSITIVE; c < CLASS_N; c++) {
        assert_true(alert_determination_ok((enum classification)c, "other"));
    }
    assert_false(alert_determination_ok(CLASS_NONE, "other"));
    assert_false(alert_determination_ok(CLASS_TRUE_POSITIVE, NULL));
    assert_string_equal(alert_determination_label("multi_stage_attack"), "Multi-stage attack");
    assert_string_equal(alert_determination_label("not_enough_data"),
                        "Not enough data to validate");
    assert_string_equal(alert_determination_label("line_of_business_application"),
                        "Line-of-business application");
    assert_string_equal(alert_determination_label("other"), "Other");
    assert_string_equal(alert_determination_label("nope"), "");
    assert_string_equal(alert_determination_label(NULL), "");
    /* Every listed determination has a label. */
    for (int c = CLASS_TRUE_POSITIVE; c < CLASS_N; c++) {
        for (const char *const *d = alert_determinations((enum classification)c); *d; d++) {
            assert_true(alert_determination_label(*d)[0] != '\0');
        }
    }
}

static void technique_tactics(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum tactic want;
    } cases[] = {
        {"T1059", TACTIC_EXECUTION},
        {"T1059.004", TACTIC_EXECUTION},
        {"T1609", TACTIC_EXECUTION},
        {"T1610", TACTIC_EXECUTION},
        {"T1611", TACTIC_PRIVILEGE_ESCALATION},
        {"T1068", TACTIC_PRIVILEGE_ESCALATION},
        {"T1548.001", TACTIC_PRIVILEGE_ESCALATION},
        {"T1496", TACTIC_IMPACT},
        {"T1552.007", TACTIC_CREDENTIAL_ACCESS},
        {"T1555", TACTIC_CREDENTIAL_ACCESS},
        {"T1003", TACTIC_CREDENTIAL_ACCESS},
        {"T1110", TACTIC_CREDENTIAL_ACCESS},
        {"T1046", TACTIC_DISCOVERY},
        {"T1613", TACTIC_DISCOVERY},
        {"T1057", TACTIC_DISCOVERY},
        {"T1071.001", TACTIC_COMMAND_AND_CONTROL},
        {"T1090.003", TACTIC_COMMAND_AND_CONTROL},
        {"T1105", TACTIC_COMMAND_AND_CONTROL},
        {"T1078.001", TACTIC_INITIAL_ACCESS},
        {"T1190", TACTIC_INITIAL_ACCESS},
        {"T1133", TACTIC_INITIAL_ACCESS},
        {"T1098", TACTIC_PERSISTENCE},
        {"T1053.007", TACTIC_PERSISTENCE},
        {"T1070.004", TACTIC_DEFENSE_EVASION},
        {"T1562.001", TACTIC_DEFENSE_EVASION},
        {"T1021", TACTIC_LATERAL_MOVEMENT},
        {"T1048", TACTIC_EXFILTRATION},
        {"T1041", TACTIC_EXFILTRATION},
        {"T1530", TACTIC_COLLECTION},
        {"T1485", TACTIC_IMPACT},
        {"T1499", TACTIC_IMPACT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(alert_tactic_of_technique(cases[i].in), cases[i].want);
    }
    assert_int_equal(alert_tactic_of_technique("T9999"), TACTIC_NONE);
    assert_int_equal(alert_tactic_of_technique("T105"), TACTIC_NONE);
    assert_int_equal(alert_tactic_of_technique("T10590"), TACTIC_NONE);
    assert_int_equal(alert_tactic_of_technique("t1059"), TACTIC_NONE);
    assert_int_equal(alert_tactic_of_technique("TA0002"), TACTIC_NONE);
    assert_int_equal(alert_tactic_of_technique(""), TACTIC_NONE);
    assert_int_equal(alert_tactic_of_technique(NULL), TACTIC_NONE);
}

static void batch_caps_and_release(void **state)
{
    (void)state;
    struct ingest_batch b;
    ingest_batch_init(&b);
    for (int i = 0; i < INGEST_MAX_ELEMENTS; i++) {
        struct alert_in *a = ingest_batch_add_alert(&b);
        assert_non_null(a);
        assert_int_equal(a->n_entities, 0);
        assert_null(a->description);
    }
    assert_null(ingest_batch_add_alert(&b));
    assert_int_equal(b.n_alerts, INGEST_MAX_ELEMENTS);
    /* Owned parts are freed by release (LeakSanitizer checks). */
    b.alerts[0].description = strdup("d");
    b.alerts[0].evidence = json_pack("{s:s}", "a", "b");
    assert_non_null(alert_add_entity(&b.alerts[0], ENT_POD, "pod:c/ns/p", NULL));
    b.alerts[0].entities[0].props = json_object();

    struct proc_event *p = ingest_batch_add_proc(&b);
    assert_non_null(p);
    assert_int_equal(p->pid, -1);
    assert_int_equal(p->ppid, -1);
    p->cmdline = strdup("sh -c id");
    struct audit_k8s_event *e = ingest_batch_add_audit(&b);
    assert_non_null(e);
    e->user_groups = strdup("[]");
    e->source_ips = strdup("[]");
    e->raw = strdup("{}");
    ingest_batch_release(&b);
    assert_null(b.alerts);
    assert_int_equal(b.n_alerts, 0);
    assert_int_equal(b.n_procs, 0);
    /* Reusable after release. */
    assert_non_null(ingest_batch_add_audit(&b));
    ingest_batch_release(&b);
    ingest_batch_release(&b);
}

static void entities(void **state)
{
    (void)state;
    struct alert_in *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    struct entity_ref *e = alert_add_entity(a, ENT_POD, "pod:prod/default/web-1", NULL);
    assert_non_null(e);
    assert_string_equal(e->name, "web-1");
    assert_int_equal(e->kind, ENT_POD);
    assert_ptr_equal(alert_add_entity(a, ENT_POD, "pod:prod/default/web-1", "other"), e);
    assert_int_equal(a->n_entities, 1);
    e = alert_add_entity(a, ENT_IP, "ip:2001:db8::1", NULL);
    assert_string_equal(e->name, "2001:db8::1");
    e = alert_add_entity(a, ENT_IDENTITY, "identity:prod/system:serviceaccount:ns:sa", NULL);
    assert_string_equal(e->name, "system:serviceaccount:ns:sa");
    e = alert_add_entity(a, ENT_IMAGE, "image:docker.io/library/nginx:1.25", "nginx:1.25");
    assert_string_equal(e->name, "nginx:1.25");

    char key[ALERT_KEY_MAX + 1];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    assert_null(alert_add_entity(a, ENT_POD, key, "n"));
    key[ALERT_KEY_MAX - 1] = '\0';
    char name[ALERT_NAME_MAX + 1];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_null(alert_add_entity(a, ENT_POD, "pod:x", name));
    assert_null(alert_add_entity(a, ENT_KIND_N, "pod:y", NULL));
    assert_null(alert_add_entity(a, ENT_POD, NULL, NULL));
    assert_int_equal(a->n_entities, 4);
    for (int i = a->n_entities; i < ALERT_MAX_ENTITIES; i++) {
        char k[32];
        snprintf(k, sizeof(k), "ip:10.0.0.%d", i);
        assert_non_null(alert_add_entity(a, ENT_IP, k, NULL));
    }
    assert_null(alert_add_entity(a, ENT_IP, "ip:10.9.9.9", NULL));
    /* An existing key is still found when the alert is full. */
    assert_non_null(alert_add_entity(a, ENT_POD, "pod:prod/default/web-1", NULL));
    alert_release(a);
    assert_int_equal(a->n_entities, 0);
    assert_null(a->strs);
    free(a);
}

static void keys(void **state)
{
    (void)state;
    unsigned char k1[16], k2[16], k3[16];
    const char *p1[] = {"api", "x"};
    alert_key(k1, p1, 2);
    static const unsigned char want[16] = {0xcc, 0xc2, 0x10, 0x3a, 0xe6, 0xd0, 0x45, 0x02,
                                           0x31, 0xfa, 0x84, 0xae, 0x5b, 0x98, 0x9a, 0xaa};
    assert_memory_equal(k1, want, 16);
    const char *p2[] = {"apix"};
    alert_key(k2, p2, 1);
    assert_memory_not_equal(k1, k2, 16);
    const char *p3[] = {"ap", "ix"};
    alert_key(k3, p3, 2);
    assert_memory_not_equal(k1, k3, 16);
    static const unsigned char empty[16] = {0xca, 0xe6, 0x69, 0x41, 0xd9, 0xef, 0xbd, 0x40,
                                            0x4e, 0x4d, 0x88, 0x75, 0x8e, 0xa6, 0x76, 0x70};
    alert_key(k3, NULL, 0);
    assert_memory_equal(k3, empty, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(severity_names),
        cmocka_unit_test(tactic_names_and_labels),
        cmocka_unit_test(tactic_parse_ids_and_tags),
        cmocka_unit_test(provider_kind_classification_names),
        cmocka_unit_test(determinations),
        cmocka_unit_test(technique_tactics),
        cmocka_unit_test(batch_caps_and_release),
        cmocka_unit_test(entities),
        cmocka_unit_test(keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
