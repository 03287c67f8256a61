/* svc_audit: appending, the hash encoding, and verification finding an
 * altered, a deleted and a reordered entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "migrate.h"
#include "svc_audit.h"

static int setup_db(void **state)
{
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db, NULL), STK_OK);
    assert_int_equal(migrate_apply(db, migrate_builtin(), NULL, NULL, NULL), STK_OK);
    for (int i = 0; i < 5; i++) {
        char target[32];
        snprintf(target, sizeof(target), "thing-%d", i);
        json_t *details = json_pack("{s:i, s:s}", "n", i, "note", "<script>\"x\"");
        struct audit_event ev = {.actor = "alice", .actor_kind = "user", .source_ip = "10.1.1.1",
                                 .action = "test.write", .target = target, .outcome = "success",
                                 .details = details};
        assert_int_equal(svc_audit_append(db, &ev, NULL), STK_OK);
        json_decref(details);
    }
    *state = db;
    return 0;
}

static int teardown_db(void **state)
{
    db_free(*state);
    return 0;
}

static void exec(struct db *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db_handle(db), sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg ? msg : "");
    }
}

static void test_intact_chain_verifies(void **state)
{
    struct audit_verify v;
    assert_int_equal(svc_audit_verify(*state, &v, NULL), STK_OK);
    assert_int_equal(v.count, 5);
    assert_int_equal(v.bad_id, 0);
    assert_int_equal(strlen(v.head), 64);
}

static void test_empty_chain_verifies(void **state)
{
    (void)state;
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db, NULL), STK_OK);
    assert_int_equal(migrate_apply(db, migrate_builtin(), NULL, NULL, NULL), STK_OK);
    struct audit_verify v;
    assert_int_equal(svc_audit_verify(db, &v, NULL), STK_OK);
    assert_int_equal(v.count, 0);
    assert_int_equal(v.bad_id, 0);
    db_free(db);
}

static void test_altered_entry_is_found(void **state)
{
    exec(*state, "UPDATE audit_log SET outcome = 'failure' WHERE id = 3");
    struct audit_verify v;
    assert_int_equal(svc_audit_verify(*state, &v, NULL), STK_OK);
    assert_int_equal(v.bad_id, 3);
    assert_non_null(strstr(v.reason, "altered"));
}

static void test_altered_details_are_found(void **state)
{
    exec(*state, "UPDATE audit_log SET details = '{\"n\":9}' WHERE id = 2");
    struct audit_verify v;
    assert_int_equal(svc_audit_verify(*state, &v, NULL), STK_OK);
    assert_int_equal(v.bad_id, 2);
}

static void test_deleted_entry_is_found(void **state)
{
    exec(*state, "DELETE FROM audit_log WHERE id = 2");
    struct audit_verify v;
    assert_int_equal(svc_audit_verify(*state, &v, NULL), STK_OK);
    assert_int_equal(v.bad_id, 3);
}

static void test_reordered_entries_are_found(void **state)
{
    /* Swap the contents of entries 2 and 4, keeping ids in sequence. */
    exec(*state, "UPDATE audit_log SET id = -2 WHERE id = 2");
    exec(*state, "UPDATE audit_log SET id = 2 WHERE id = 4");
    exec(*state, "UPDATE audit_log SET id = 4 WHERE id = -2");
    struct audit_verify v;
    assert_int_equal(svc_audit_verify(*state, &v, NULL), STK_OK);
    assert_int_equal(v.bad_id, 2);
}

static void test_rehashed_entry_breaks_the_next_link(void **state)
{
    /* Someone who recomputes an altered entry's hash still breaks the link
     * from the entry after it. */
    struct db *db = *state;
    exec(db, "UPDATE audit_log SET target = 'other' WHERE id = 3");
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(db),
                                        "SELECT id, ts, actor, actor_kind, source_ip, action,"
                                        " target, outcome, details, prev_hash FROM audit_log"
                                        " WHERE id = 3",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    struct audit_row row;
    memset(&row, 0, sizeof(row));
    row.id = sqlite3_column_int64(st, 0);
    row.ts = sqlite3_column_int64(st, 1);
    row.actor = (char *)sqlite3_column_text(st, 2);
    row.actor_kind = (char *)sqlite3_column_text(st, 3);
    row.source_ip = (char *)sqlite3_column_text(st, 4);
    row.action = (char *)sqlite3_column_text(st, 5);
    row.target = (char *)sqlite3_column_text(st, 6);
    row.outcome = (char *)sqlite3_column_text(st, 7);
    row.details = (char *)sqlite3_column_text(st, 8);
    snprintf(row.prev_hash, sizeof(row.prev_hash), "%s", sqlite3_column_text(st, 9));
    char hash[65];
    svc_audit_hash(&row, hash);
    sqlite3_finalize(st);
    char sql[200];
    snprintf(sql, sizeof(sql), "UPDATE audit_log SET hash = '%s' WHERE id = 3", hash);
    exec(db, sql);
    struct audit_verify v;
    assert_int_equal(svc_audit_verify(db, &v, NULL), STK_OK);
    assert_int_equal(v.bad_id, 4);
    assert_non_null(strstr(v.reason, "does not link"));
}

static void test_append_inside_caller_transaction_rolls_back_with_it(void **state)
{
    struct db *db = *state;
    assert_int_equal(db_begin(db, NULL), STK_OK);
    struct audit_event ev = {.actor = "bob", .actor_kind = "user", .source_ip = "x",
                             .action = "test.rollback", .target = "", .outcome = "success"};
    assert_int_equal(svc_audit_append(db, &ev, NULL), STK_OK);
    db_rollback(db);
    struct audit_verify v;
    assert_int_equal(svc_audit_verify(db, &v, NULL), STK_OK);
    assert_int_equal(v.count, 5);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_intact_chain_verifies, setup_db, teardown_db),
        cmocka_unit_test(test_empty_chain_verifies),
        cmocka_unit_test_setup_teardown(test_altered_entry_is_found, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_altered_details_are_found, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_deleted_entry_is_found, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_reordered_entries_are_found, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_rehashed_entry_breaks_the_next_link, setup_db,
                                        teardown_db),
        cmocka_unit_test_setup_teardown(test_append_inside_caller_transaction_rolls_back_with_it,
                                        setup_db, teardown_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
