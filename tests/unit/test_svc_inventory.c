/* server/svc_inventory.c (and svc_inventory_pane.c) on an in-memory
 * database: inventory bodies parsed strictly with the element and field of
 * the first problem; outputs empty after a failure; properties merged by
 * top-level key; a batch with a missing edge end leaving nothing behind;
 * Trivy scans replaced per digest, followed by moving tags and collected
 * when unused; the pane's counts for a pod through its containers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db.h"
#include "migrate.h"
#include "svc_inventory.h"

static const struct actor tester = {.name = "tester", .kind = "user", .ip = "127.0.0.1"};
static const struct paths_settings ps = {.max_hops = 6, .max_per_entry = PATHS_PER_ENTRY};

static int setup_db(void **state)
{
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db, NULL), STK_OK);
    assert_int_equal(migrate_apply(db, migrate_builtin(), NULL, NULL, NULL), STK_OK);
    *state = db;
    return 0;
}

static int teardown_db(void **state)
{
    db_free(*state);
    return 0;
}

/* Asserts `body` is refused with `code`, `index` and a reason starting with
 * `reason`, and that the batch is empty afterwards. */
static void refused(const char *body, const char *bound, enum stk_err code, long index,
                    const char *reason)
{
    struct inventory_batch b;
    struct ingest_reject rej;
    memset(&b, 0x5a, sizeof(b));
    enum stk_err rc = svc_inventory_parse(body, strlen(body), bound, &b, &rej);
    if (rc != code || rej.index != index || strncmp(rej.reason, reason, strlen(reason)) != 0) {
        fail_msg("%s\nexpected %d %ld \"%s\"\ngot      %d %ld \"%s\"", body, code, index, reason,
                 rc, rej.index, rej.reason);
    }
    assert_null(b.doc);
    assert_null(b.entities);
    assert_null(b.edges);
    assert_int_equal(b.n_entities + b.n_edges, 0);
}

static void parse_refusals_name_element_and_field(void **state)
{
    (void)state;
    refused("", "", STK_EINVAL, -1, "empty body");
    refused("{}", "", STK_EINVAL, -1, "expected {\"entities\"");
    refused("{\"entities\":[],\"x\":1}", "", STK_EINVAL, -1, "x: unknown key");
    refused("{\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:a/b/c\"},{\"kind\":\"pod\"}]}", "",
            STK_EINVAL, 1, "entities[1].key: is required");
    refused("{\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:a/b/c\",\"critical\":1}]}", "",
            STK_EINVAL, 0, "entities[0].critical: expected true or false");
    refused("{\"edges\":[{\"from\":\"a:1\",\"to\":\"b:1\",\"kind\":\"member-of\"},"
            "{\"from\":\"a:1\",\"to\":\"b:1\",\"kind\":\"likes\"}]}",
            "", STK_EINVAL, 1, "edges[1].kind: \"likes\" is not an edge kind");
    refused("{\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:other/ns/p\"}]}", "mine",
            STK_EFORBIDDEN, 0, "entities[0].key: names cluster \"other\"");
    refused("{\"entities\":[{\"kind\":\"namespace\",\"key\":\"namespace:x\"}],\"edges\":[{\"from\":"
            "\"identity:a\",\"to\":\"service:other/ns/s\",\"kind\":\"can-access\"}]}",
            "mine", STK_EFORBIDDEN, 0, "edges[0].to: names cluster \"other\"");

    /* 5001 entities: 413 before any element is read. */
    size_t cap = 5001 * 40 + 64;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t at = (size_t)sprintf(big, "{\"entities\":[");
    for (int i = 0; i < 5001; i++) {
        at += (size_t)sprintf(big + at, "%s{\"kind\":\"pod\"}", i ? "," : "");
    }
    sprintf(big + at, "]}");
    refused(big, "", STK_ETOOBIG, -1, "entities: 5001 items exceeds the limit of 5000");
    free(big);

    struct inventory_batch b;
    struct ingest_reject rej;
    const char *ok =
        "{\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:mine/ns/p\",\"properties\":"
        "{\"a\":1},\"critical\":null}],\"edges\":[{\"from\":\"pod:mine/ns/p\",\"to\":"
        "\"internet:\",\"kind\":\"exposed-to-internet\",\"properties\":{\"port\":443}}]}";
    assert_int_equal(svc_inventory_parse(ok, strlen(ok), "mine", &b, &rej), STK_OK);
    assert_int_equal(rej.index, -1);
    assert_int_equal(b.n_entities, 1);
    assert_int_equal(b.entities[0].kind, ENT_POD);
    assert_int_equal(b.entities[0].critical, -1);
    assert_null(b.entities[0].name);
    assert_string_equal(b.edges[0].props, "{\"port\":443}");
    svc_inventory_batch_release(&b);
    svc_inventory_batch_release(&b); /* twice is harmless */
}

static enum stk_err apply(struct db *db, const char *body, struct inventory_result *res,
                          struct ingest_reject *rej)
{
    struct inventory_batch b;
    struct stk_error err;
    stk_error_clear(&err);
    assert_int_equal(svc_inventory_parse(body, strlen(body), "", &b, rej), STK_OK);
    enum stk_err rc = svc_inventory_apply(db, &ps, &b, &tester, res, rej, &err);
    svc_inventory_batch_release(&b);
    return rc;
}

static void props_of(struct db *db, const char *key, char *out, size_t n)
{
    struct entity e;
    assert_int_equal(store_entities_get_by_key(db, key, &e, NULL), STK_OK);
    snprintf(out, n, "%s|%s|%d", e.name, e.props, e.critical);
    store_entity_release(&e);
}

static void merge_and_rollback(void **state)
{
    struct db *db = *state;
    struct inventory_result res;
    struct ingest_reject rej;
    char got[512];
    assert_int_equal(apply(db,
                           "{\"entities\":[{\"kind\":\"identity\",\"key\":\"identity:a\","
                           "\"properties\":{\"x\":1,\"y\":{\"z\":1},\"w\":true}}]}",
                           &res, &rej),
                     STK_OK);
    assert_int_equal(res.entities_created, 1);
    assert_int_equal(apply(db,
                           "{\"entities\":[{\"kind\":\"identity\",\"key\":\"identity:a\","
                           "\"name\":\"A\",\"properties\":{\"x\":2,\"y\":{\"q\":2},\"w\":null},"
                           "\"critical\":true}]}",
                           &res, &rej),
                     STK_OK);
    assert_int_equal(res.entities_changed, 1);
    props_of(db, "identity:a", got, sizeof(got));
    assert_string_equal(got, "A|{\"x\":2,\"y\":{\"q\":2}}|1");

    /* A missing end refuses everything, including what came before it. */
    assert_int_equal(apply(db,
                           "{\"entities\":[{\"kind\":\"identity\",\"key\":\"identity:b\"},"
                           "{\"kind\":\"identity\",\"key\":\"identity:a\",\"critical\":false}],"
                           "\"edges\":[{\"from\":\"identity:b\",\"to\":\"identity:a\","
                           "\"kind\":\"member-of\"},{\"from\":\"identity:b\",\"to\":"
                           "\"identity:zz\",\"kind\":\"member-of\"}]}",
                           &res, &rej),
                     STK_EINVAL);
    assert_int_equal(rej.index, 1);
    assert_string_equal(rej.reason, "edges[1].to: no entity \"identity:zz\" in this request or "
                                    "stored");
    assert_int_equal(res.entities + res.edges + res.entities_created, 0);
    struct entity e;
    assert_int_equal(store_entities_get_by_key(db, "identity:b", &e, NULL), STK_ENOTFOUND);
    props_of(db, "identity:a", got, sizeof(got));
    assert_string_equal(got, "A|{\"x\":2,\"y\":{\"q\":2}}|1");
}

static void trivy(struct db *db, const char *body, const char *image, struct trivy_result *res)
{
    struct trivy_report r;
    struct ingest_reject rej;
    struct stk_error err;
    stk_error_clear(&err);
    assert_int_equal(ingest_trivy_parse(body, strlen(body), &r, &rej), STK_OK);
    if (svc_inventory_trivy(db, &ps, &r, image, &tester, res, &err) != STK_OK) {
        fail_msg("%s", err.msg);
    }
    ingest_trivy_release(&r);
}

#define REPORT(tag, digest, vulns)                                                                 \
    "{\"SchemaVersion\":2,\"ArtifactName\":\"" tag "\",\"Metadata\":{\"RepoTags\":[\"" tag         \
    "\"],\"RepoDigests\":[\"r@" digest "\"]},\"Results\":[{\"Vulnerabilities\":[" vulns "]}]}"
#define V(id, sev) "{\"VulnerabilityID\":\"" id "\",\"PkgName\":\"p\",\"Severity\":\"" sev "\"}"

static void scans_replace_move_and_go(void **state)
{
    struct db *db = *state;
    struct trivy_result a, b;
    trivy(db, REPORT("app:1", "sha256:a", V("C1", "HIGH") "," V("C2", "LOW") "," V("C2", "LOW")),
          NULL, &a);
    assert_false(a.replaced);
    assert_int_equal(a.counts[VULN_HIGH], 1);
    assert_int_equal(a.counts[VULN_LOW], 1); /* the duplicate finding is stored once */
    assert_string_equal(a.digest, "sha256:a");
    trivy(db, REPORT("app:1", "sha256:a", V("C3", "CRITICAL")), NULL, &b);
    assert_true(b.replaced);
    assert_int_equal(b.scan_id, a.scan_id);
    assert_int_equal(b.counts[VULN_CRITICAL], 1);
    assert_int_equal(b.counts[VULN_HIGH] + b.counts[VULN_LOW], 0);

    /* The same digest under another name: one scan, two images. */
    trivy(db, REPORT("app:1", "sha256:a", V("C3", "CRITICAL")), "mirror/app:1", &b);
    assert_int_equal(b.scan_id, a.scan_id);
    long long *ids = NULL;
    size_t n = 0;
    assert_int_equal(store_inventory_scan_entities(db, a.scan_id, 10, &ids, &n, NULL), STK_OK);
    assert_int_equal(n, 2);
    free(ids);

    /* Both tags move to a new digest: the old scan goes. */
    trivy(db, REPORT("app:1", "sha256:b", ""), NULL, &b);
    trivy(db, REPORT("app:1", "sha256:b", ""), "mirror/app:1", &b);
    assert_int_not_equal(b.scan_id, a.scan_id);
    struct image_scan s;
    assert_int_equal(store_inventory_scan_find(db, "sha256:a", &s, NULL), STK_ENOTFOUND);
    assert_int_equal(store_inventory_scan_find(db, "sha256:b", &s, NULL), STK_OK);

    /* No digest at all: the image id, else the name. */
    trivy(db, "{\"SchemaVersion\":2,\"ArtifactName\":\"t.tar\"}", NULL, &b);
    assert_string_equal(b.digest, "ref:t.tar");
    trivy(db,
          "{\"SchemaVersion\":2,\"ArtifactName\":\"t.tar\",\"Metadata\":{\"ImageID\":"
          "\"sha256:i\"}}",
          NULL, &b);
    assert_string_equal(b.digest, "sha256:i");
}

static void pane_counts_through_containers(void **state)
{
    struct db *db = *state;
    struct inventory_result res;
    struct ingest_reject rej;
    assert_int_equal(
        apply(db,
              "{\"entities\":[{\"kind\":\"pod\",\"key\":\"pod:c/ns/p\",\"properties\":{\"status\":"
              "\"Running\"}},{\"kind\":\"container\",\"key\":\"container:c/k1\"},{\"kind\":"
              "\"container\",\"key\":\"container:c/k2\"},{\"kind\":\"image\",\"key\":"
              "\"image:one:1\"},{\"kind\":\"image\",\"key\":\"image:two:1\"}],\"edges\":["
              "{\"from\":\"container:c/k1\",\"to\":\"pod:c/ns/p\",\"kind\":\"runs-in\"},"
              "{\"from\":\"container:c/k2\",\"to\":\"pod:c/ns/p\",\"kind\":\"runs-in\"},"
              "{\"from\":\"container:c/k1\",\"to\":\"image:one:1\",\"kind\":\"from-image\"},"
              "{\"from\":\"container:c/k2\",\"to\":\"image:two:1\",\"kind\":\"from-image\"},"
              "{\"from\":\"pod:c/ns/p\",\"to\":\"image:one:1\",\"kind\":\"from-image\"}]}",
              &res, &rej),
        STK_OK);
    struct trivy_result t;
    trivy(db, REPORT("one:1", "sha256:1", V("A", "HIGH") "," V("B", "MEDIUM")), NULL, &t);
    trivy(db, REPORT("two:1", "sha256:2", V("C", "CRITICAL")), NULL, &t);
    long long id = 0;
    int critical;
    assert_int_equal(store_entities_find(db, "pod:c/ns/p", &id, &critical, NULL), STK_OK);
    struct entity_pane p;
    assert_int_equal(svc_inventory_pane(db, id, &p, NULL), STK_OK);
    assert_true(p.has_vulns);
    /* one:1 is reached twice (the pod's edge and k1's) and counted once. */
    assert_int_equal(p.n_scans, 2);
    assert_int_equal(p.vulns[VULN_CRITICAL], 1);
    assert_int_equal(p.vulns[VULN_HIGH], 1);
    assert_int_equal(p.vulns[VULN_MEDIUM], 1);
    assert_int_equal(p.n_top, 3);
    assert_string_equal(p.top[0].vuln_id, "C");
    assert_int_equal(p.n_edges, 3);
    assert_string_equal(json_string_value(json_object_get(p.details, "status")), "Running");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(p.details, "response_target"), "pod")),
        "p");
    svc_inventory_pane_release(&p);
    assert_null(p.details);
    assert_int_equal(svc_inventory_pane(db, 999999, &p, NULL), STK_ENOTFOUND);
    assert_null(p.details);
    assert_null(p.edges);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_refusals_name_element_and_field),
        cmocka_unit_test_setup_teardown(merge_and_rollback, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(scans_replace_move_and_go, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(pane_counts_through_containers, setup_db, teardown_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
