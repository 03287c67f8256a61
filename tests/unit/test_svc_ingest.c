/* svc_ingest and svc_incidents on an in-memory database: titles, the
 * correlation invariant under every order of a small scenario, idempotency,
 * merges, a failed batch leaving nothing behind, and recomputation after a
 * split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "migrate.h"
#include "store_alerts.h"
#include "svc_incidents.h"
#include "svc_ingest.h"

#define HOUR 3600000LL
#define T0 1790000000000LL

static const struct ingest_settings settings = {.window_ms = 24 * HOUR,
                                                .ns_window_ms = HOUR / 2};
static const struct actor tester = {.name = "tester", .kind = "user", .ip = "127.0.0.1"};

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

/* Fills `a` as alert number `n` at `t` involving the entities "kind:key". */
static void make_alert(struct alert_in *a, const char *prefix, int n, long long t, int severity,
                       int tactic, const char *const *ents)
{
    memset(a, 0, sizeof(*a));
    char id[64];
    snprintf(id, sizeof(id), "%s-%d", prefix, n);
    const char *parts[] = {id};
    alert_key(a->key, parts, 1);
    a->provider = PROV_API;
    snprintf(a->rule, sizeof(a->rule), "test");
    snprintf(a->title, sizeof(a->title), "Alert %s", id);
    a->severity = severity;
    a->tactic = tactic;
    a->first_ms = t;
    a->last_ms = t;
    snprintf(a->cluster, sizeof(a->cluster), "%s", prefix);
    for (const char *const *e = ents; *e != NULL; e++) {
        char kind[32];
        const char *colon = strchr(*e, ':');
        snprintf(kind, sizeof(kind), "%.*s", (int)(colon - *e), *e);
        assert_non_null(alert_add_entity(a, alert_entity_kind_parse(kind), *e, NULL));
    }
}

/* Frees what make_alert() gave the alerts. */
static void release(struct alert_in *alerts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        alert_release(&alerts[i]);
    }
}

static void store(struct db *db, struct alert_in *alerts, size_t n, struct ingest_result *res)
{
    struct ingest_batch b;
    ingest_batch_init(&b);
    b.alerts = alerts;
    b.n_alerts = n;
    struct stk_error err;
    stk_error_clear(&err);
    assert_int_equal(svc_ingest_store(db, &settings, &b, &tester, "test", res, &err), STK_OK);
}

static long long incident_of(struct db *db, const char *prefix, int n)
{
    struct alert_in probe;
    const char *none[] = {NULL};
    make_alert(&probe, prefix, n, 0, 0, 0, none);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(db),
                                        "SELECT incident_id FROM alerts WHERE substr(ikey, 9) = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, probe.key, 16, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return id;
}

static void title_rules(void **state)
{
    (void)state;
    struct incident in;
    memset(&in, 0, sizeof(in));
    in.alert_count = 1;
    svc_incidents_title(&in, "Binary drift detected", ENT_POD, "web-7f9", "prod-aks");
    assert_string_equal(in.title, "Binary drift detected on pod web-7f9 in prod-aks");
    in.alert_count = 5;
    in.tactics = (1u << TACTIC_CREDENTIAL_ACCESS) | (1u << TACTIC_EXECUTION);
    svc_incidents_title(&in, "x", ENT_POD, "web-7f9", "prod-aks");
    assert_string_equal(in.title, "Multi-stage incident involving Execution & Credential access "
                                  "on pod web-7f9 in prod-aks");
    in.tactics = 1u << TACTIC_IMPACT;
    svc_incidents_title(&in, "x", ENT_IP, "203.0.113.9", "");
    assert_string_equal(in.title, "Impact incident on IP 203.0.113.9");
    in.tactics = 0;
    svc_incidents_title(&in, "x", ENT_CLUSTER, "dev-gke", "");
    assert_string_equal(in.title, "Multiple alerts in dev-gke");
    svc_incidents_title(&in, "x", -1, "", "");
    assert_string_equal(in.title, "Multiple alerts");
}

/* Alerts 0-2 link through pods; 3 is 30 h later; 4 and 5 share only a
 * namespace 10 minutes apart; 6 is alone. */
static void scenario(struct alert_in *a, const char *prefix)
{
    char p1[64], p2[64], n1[64], p9[64];
    snprintf(p1, sizeof(p1), "pod:%s/ns/p1", prefix);
    snprintf(p2, sizeof(p2), "pod:%s/ns/p2", prefix);
    snprintf(n1, sizeof(n1), "namespace:%s/other", prefix);
    snprintf(p9, sizeof(p9), "pod:%s/ns/p9", prefix);
    const char *e0[] = {p1, NULL}, *e1[] = {p2, NULL}, *e2[] = {p1, p2, NULL};
    const char *e4[] = {n1, NULL}, *e6[] = {p9, NULL};
    make_alert(&a[0], prefix, 0, T0, SEV_LOW, TACTIC_EXECUTION, e0);
    make_alert(&a[1], prefix, 1, T0 + HOUR, SEV_HIGH, TACTIC_CREDENTIAL_ACCESS, e1);
    make_alert(&a[2], prefix, 2, T0 + 2 * HOUR, SEV_MEDIUM, TACTIC_NONE, e2);
    make_alert(&a[3], prefix, 3, T0 + 32 * HOUR, SEV_LOW, TACTIC_NONE, e0);
    make_alert(&a[4], prefix, 4, T0 + 50 * HOUR, SEV_LOW, TACTIC_NONE, e4);
    make_alert(&a[5], prefix, 5, T0 + 50 * HOUR + 600000, SEV_LOW, TACTIC_NONE, e4);
    make_alert(&a[6], prefix, 6, T0, SEV_INFORMATIONAL, TACTIC_NONE, e6);
}

static void every_order_gives_the_same_incidents(void **state)
{
    struct db *db = *state;
    /* 5040 orders is too many for a unit test under ASan: every 127th. */
    for (int round = 0; round < 40; round++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "r%d", round);
        struct alert_in a[7], shuffled[7];
        scenario(a, prefix);
        int pool[7] = {0, 1, 2, 3, 4, 5, 6}, left = 7, k = round * 127;
        for (int i = 0; i < 7; i++) {
            int fact = 1;
            for (int f = 2; f < left; f++) {
                fact *= f;
            }
            int pick = k / fact;
            k %= fact;
            shuffled[i] = a[pool[pick]];
            memmove(&pool[pick], &pool[pick + 1], sizeof(int) * (size_t)(left - pick - 1));
            left--;
        }
        struct ingest_result res;
        for (int i = 0; i < 7; i++) {
            store(db, &shuffled[i], 1, &res);
        }
        long long g0 = incident_of(db, prefix, 0);
        assert_int_equal(incident_of(db, prefix, 1), g0);
        assert_int_equal(incident_of(db, prefix, 2), g0);
        long long g3 = incident_of(db, prefix, 3);
        assert_int_not_equal(g3, g0);
        long long g4 = incident_of(db, prefix, 4);
        assert_int_equal(incident_of(db, prefix, 5), g4);
        assert_int_not_equal(g4, g0);
        assert_int_not_equal(g4, g3);
        long long g6 = incident_of(db, prefix, 6);
        assert_true(g6 != g0 && g6 != g3 && g6 != g4);
        release(a, 7); /* `shuffled` holds copies of the same alerts */
        struct incident in;
        assert_int_equal(store_incidents_get(db, g0, &in, NULL), STK_OK);
        assert_int_equal(in.alert_count, 3);
        assert_int_equal(in.severity, SEV_HIGH);
        assert_int_equal(in.status, INC_ACTIVE);
        assert_true(in.tactics == ((1u << TACTIC_EXECUTION) | (1u << TACTIC_CREDENTIAL_ACCESS)));
        assert_int_equal(in.entity_count, 2); /* p1 and p2 */
    }
}

static void duplicates_are_stored_once(void **state)
{
    struct db *db = *state;
    struct alert_in a[7];
    scenario(a, "dup");
    struct ingest_result res;
    store(db, a, 7, &res);
    assert_int_equal(res.alerts_new, 7);
    store(db, a, 7, &res);
    assert_int_equal(res.alerts_new, 0);
    assert_int_equal(res.alerts_duplicate, 7);
    assert_int_equal(res.incidents_created, 0);
    release(a, 7);
}

static void a_failed_batch_leaves_nothing(void **state)
{
    struct db *db = *state;
    struct alert_in a[7];
    scenario(a, "fail");
    /* Make the last alert's new entity fail to insert, after six alerts
     * were written inside the transaction. */
    a[6].entities[0].kind = (enum entity_kind)99;
    struct ingest_batch b;
    ingest_batch_init(&b);
    b.alerts = a;
    b.n_alerts = 7;
    struct ingest_result res;
    sqlite3_exec(db_handle(db), "CREATE TRIGGER no_kind_99 BEFORE INSERT ON entities "
                                "WHEN new.kind = 99 BEGIN SELECT raise(ABORT, 'bad kind'); END",
                 NULL, NULL, NULL);
    struct stk_error err;
    stk_error_clear(&err);
    assert_int_not_equal(svc_ingest_store(db, &settings, &b, &tester, "test", &res, &err), STK_OK);
    assert_int_equal(res.alerts_new, 0);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db_handle(db), "SELECT count(*) FROM alerts WHERE cluster = 'fail'", -1,
                       &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    assert_true(sqlite3_get_autocommit(db_handle(db)));
    release(a, 7);
}

static void split_recomputes_both_sides(void **state)
{
    struct db *db = *state;
    struct alert_in a[7];
    scenario(a, "split");
    struct ingest_result res;
    store(db, a, 7, &res);
    long long id = incident_of(db, "split", 0);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db_handle(db),
                       "SELECT id FROM alerts WHERE incident_id = ? AND severity = 3", -1, &st,
                       NULL);
    sqlite3_bind_int64(st, 1, id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long high = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    struct incident fresh, left;
    assert_int_equal(svc_incidents_split(db, &tester, id, &high, 1, &fresh, NULL), STK_OK);
    assert_int_equal(fresh.alert_count, 1);
    assert_int_equal(fresh.severity, SEV_HIGH);
    assert_int_equal(store_incidents_get(db, id, &left, NULL), STK_OK);
    assert_int_equal(left.alert_count, 2);
    assert_int_equal(left.severity, SEV_MEDIUM);
    assert_true(left.tactics == (1u << TACTIC_EXECUTION));
    assert_string_equal(left.title, "Execution incident on pod p1 in split");
    /* The split alert is pinned: a new alert on its pod does not join it. */
    char p2[64];
    snprintf(p2, sizeof(p2), "pod:split/ns/p2");
    const char *e[] = {p2, NULL};
    struct alert_in later;
    make_alert(&later, "split", 9, T0 + HOUR + 1, SEV_LOW, TACTIC_NONE, e);
    store(db, &later, 1, &res);
    assert_int_equal(incident_of(db, "split", 9), id);
    release(a, 7);
    release(&later, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(title_rules),
        cmocka_unit_test_setup_teardown(every_order_gives_the_same_incidents, setup_db,
                                        teardown_db),
        cmocka_unit_test_setup_teardown(duplicates_are_stored_once, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(a_failed_batch_leaves_nothing, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(split_recomputes_both_sides, setup_db, teardown_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
