/* server/migrate.c and store_migrations.c: order, once only, checksums,
 * refusal of altered, renamed and newer schemas, all-or-nothing
 * migrations, loading from a folder, and the built-in set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <sodium.h>

#include "migrate.h"
#include "store_migrations.h"

/* The `sql` and `sql_len` members from one string literal. */
#define SQL(text) text, sizeof(text) - 1

static const struct migration base_items[] = {
    {1, "0001_create_a.sql",
     SQL("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT;")},
    /* Uses the table migration 1 made: only works in order. */
    {2, "0002_fill_a.sql",
     SQL("INSERT INTO a (v) VALUES ('one');\n"
         "CREATE TABLE b (a_id INTEGER NOT NULL REFERENCES a (id)) STRICT;\n"
         "INSERT INTO b (a_id) SELECT id FROM a;")},
};
static const struct migration_set base = {base_items, 2, NULL};
static const struct migration_set base_first = {base_items, 1, NULL};

static struct db *open_memory(void)
{
    struct db *db = NULL;
    struct stk_error err;
    if (db_open(":memory:", &db, &err) != STK_OK) {
        fail_msg("db_open: %s", err.msg);
    }
    return db;
}

/* Runs a query returning one integer. */
static long long query_int(struct db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(db), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int has_table(struct db *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(db),
                                        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                                        " AND name = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void apply_ok(struct db *db, const struct migration_set *set, int want_applied,
                     int want_version)
{
    struct stk_error err;
    int applied = -1, version = -1;
    if (migrate_apply(db, set, &applied, &version, &err) != STK_OK) {
        fail_msg("migrate_apply: %s", err.msg);
    }
    assert_int_equal(applied, want_applied);
    assert_int_equal(version, want_version);
}

/* migrate_apply must fail with `code`, a message holding each of the
 * NULL-terminated `needles`, and zeroed out-parameters. */
__attribute__((sentinel)) static void apply_fails(struct db *db, const struct migration_set *set,
                                                  enum stk_err code, ...)
{
    struct stk_error err;
    int applied = 99, version = 99;
    stk_error_clear(&err);
    enum stk_err rc = migrate_apply(db, set, &applied, &version, &err);
    if (rc != code) {
        fail_msg("migrate_apply gave %d '%s', wanted %d", rc, err.msg, code);
    }
    assert_int_equal(err.code, code);
    va_list ap;
    va_start(ap, code);
    for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *)) {
        if (strstr(err.msg, s) == NULL) {
            fail_msg("message '%s' lacks '%s'", err.msg, s);
        }
    }
    va_end(ap);
    assert_int_equal(applied, 0);
    assert_int_equal(version, 0);
}

static void applies_in_order_once(void **state)
{
    (void)state;
    struct db *db = open_memory();
    apply_ok(db, &base, 2, 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM b"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations"), 2);

    /* Second run: nothing to do, nothing re-run. */
    apply_ok(db, &base, 0, 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations"), 2);

    int v = -1;
    assert_int_equal(store_migrations_version(db, &v, NULL), STK_OK);
    assert_int_equal(v, 2);
    assert_int_equal(migrate_apply(db, &base, NULL, NULL, NULL), STK_OK);
    db_free(db);
}

static void applies_only_the_new_ones(void **state)
{
    (void)state;
    struct db *db = open_memory();
    int v = -1;
    assert_int_equal(store_migrations_ensure(db, NULL), STK_OK);
    assert_int_equal(store_migrations_version(db, &v, NULL), STK_OK);
    assert_int_equal(v, 0);
    apply_ok(db, &base_first, 1, 1);
    assert_false(has_table(db, "b"));
    apply_ok(db, &base, 1, 2);
    assert_true(has_table(db, "b"));
    db_free(db);
}

static void empty_set(void **state)
{
    (void)state;
    struct db *db = open_memory();
    const struct migration_set none = {NULL, 0, NULL};
    apply_ok(db, &none, 0, 0);
    assert_true(has_table(db, "schema_migrations"));
    db_free(db);
}

static void records_checksums(void **state)
{
    (void)state;
    struct db *db = open_memory();
    apply_ok(db, &base, 2, 2);
    struct applied_migration *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_migrations_list(db, &rows, &n, NULL), STK_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        const struct migration *m = &base_items[i];
        assert_int_equal(rows[i].version, m->version);
        assert_string_equal(rows[i].name, m->name);
        /* BLAKE2b-256 of the exact bytes, computed independently here. */
        unsigned char h[32];
        char hex[65];
        crypto_generichash(h, sizeof(h), (const unsigned char *)m->sql, m->sql_len, NULL, 0);
        sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
        assert_string_equal(rows[i].checksum, hex);
        char sum[65];
        migrate_checksum(m->sql, m->sql_len, sum);
        assert_string_equal(sum, hex);
    }
    free(rows);
    long long now = (long long)time(NULL);
    long long at = query_int(db, "SELECT min(applied_at) FROM schema_migrations");
    assert_true(at > now - 60 && at <= now);
    db_free(db);
}

static void refuses_altered_migration(void **state)
{
    (void)state;
    struct db *db = open_memory();
    apply_ok(db, &base_first, 1, 1);
    static const struct migration altered_items[] = {
        /* One extra space is a change. */
        {1, "0001_create_a.sql",
         SQL("CREATE TABLE a (id INTEGER PRIMARY KEY,  v TEXT NOT NULL) STRICT;")},
        base_items[1],
    };
    const struct migration_set altered = {altered_items, 2, NULL};
    apply_fails(db, &altered, STK_ECONFLICT, "0001_create_a.sql", "altered", NULL);
    /* Untouched: migration 2 did not run. */
    assert_false(has_table(db, "b"));
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations"), 1);
    /* Restoring the file lets it continue. */
    apply_ok(db, &base, 1, 2);
    db_free(db);
}

static void refuses_altered_older_migration(void **state)
{
    (void)state;
    struct db *db = open_memory();
    apply_ok(db, &base, 2, 2);
    static const struct migration altered_items[] = {
        base_items[0],
        {2, "0002_fill_a.sql", SQL("SELECT 1;")},
    };
    const struct migration_set altered = {altered_items, 2, NULL};
    apply_fails(db, &altered, STK_ECONFLICT, "0002_fill_a.sql", "altered", NULL);
    db_free(db);
}

static void refuses_newer_database(void **state)
{
    (void)state;
    struct db *db = open_memory();
    apply_ok(db, &base, 2, 2);
    apply_fails(db, &base_first, STK_ECONFLICT, "newer", "version 2", "0002_fill_a.sql", NULL);
    const struct migration_set none = {NULL, 0, NULL};
    apply_fails(db, &none, STK_ECONFLICT, "newer", NULL);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations"), 2);
    db_free(db);
}

static void refuses_renamed_migration(void **state)
{
    (void)state;
    struct db *db = open_memory();
    apply_ok(db, &base_first, 1, 1);
    static const struct migration renamed_items[] = {
        {1, "0001_make_a.sql",
         SQL("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT;")},
    };
    const struct migration_set renamed = {renamed_items, 1, NULL};
    apply_fails(db, &renamed, STK_ECONFLICT, "0001_create_a.sql", "0001_make_a.sql", NULL);
    db_free(db);
}

static void failing_migration_rolls_back(void **state)
{
    (void)state;
    struct db *db = open_memory();
    static const struct migration items[] = {
        base_items[0],
        {2, "0002_half_done.sql",
         SQL("CREATE TABLE c (x INTEGER) STRICT;\n"
             "INSERT INTO a (v) VALUES ('partial');\n"
             "INSERT INTO no_such_table VALUES (1);")},
    };
    const struct migration_set set = {items, 2, NULL};
    apply_fails(db, &set, STK_EDB, "0002_half_done.sql", "no_such_table", NULL);
    /* Migration 1 committed on its own; nothing of migration 2 remains. */
    assert_true(has_table(db, "a"));
    assert_false(has_table(db, "c"));
    assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 0);
    assert_int_equal(query_int(db, "SELECT max(version) FROM schema_migrations"), 1);
    assert_int_equal(sqlite3_get_autocommit(db_handle(db)), 1);
    /* A fixed migration 2 then applies on top. */
    apply_ok(db, &base, 1, 2);
    db_free(db);
}

static void failing_first_migration_leaves_nothing(void **state)
{
    (void)state;
    struct db *db = open_memory();
    static const struct migration items[] = {
        {1, "0001_broken.sql", SQL("CREATE TABLE x (a INTEGER);\nCREATE TABLE oops (")},
    };
    const struct migration_set set = {items, 1, NULL};
    apply_fails(db, &set, STK_EDB, "0001_broken.sql", NULL);
    assert_false(has_table(db, "x"));
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations"), 0);
    db_free(db);
}

static void migration_cannot_end_its_transaction(void **state)
{
    (void)state;
    /* A migration that commits part of itself would escape the rollback
     * of the failure after it, and its half would stay applied but
     * unrecorded. */
    static const char *const texts[] = {
        "CREATE TABLE x (a INTEGER);\nCOMMIT;\nCREATE TABLE oops (",
        "CREATE TABLE x (a INTEGER);\nEND;\nCREATE TABLE y (a INTEGER);",
        "CREATE TABLE x (a INTEGER);\nROLLBACK;\nCREATE TABLE y (a INTEGER);",
        "BEGIN;\nCREATE TABLE x (a INTEGER);\nCOMMIT;",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct db *db = open_memory();
        struct migration m = {1, "0001_own_txn.sql", texts[i], strlen(texts[i])};
        const struct migration_set set = {&m, 1, NULL};
        struct stk_error err;
        stk_error_clear(&err);
        enum stk_err rc = migrate_apply(db, &set, NULL, NULL, &err);
        if (rc == STK_OK || strstr(err.msg, "0001_own_txn.sql") == NULL ||
            strstr(err.msg, "not allowed") == NULL) {
            fail_msg("'%s' gave %d '%s'", texts[i], rc, err.msg);
        }
        if (has_table(db, "x") || has_table(db, "y")) {
            fail_msg("'%s' left tables behind", texts[i]);
        }
        assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations"), 0);
        assert_int_equal(sqlite3_get_autocommit(db_handle(db)), 1);
        db_free(db);
    }
}

static void refuses_gaps_and_duplicates(void **state)
{
    (void)state;
    struct db *db = open_memory();
    static const struct migration gap_items[] = {
        base_items[0],
        {3, "0003_skip.sql", SQL("SELECT 1;")},
    };
    const struct migration_set gap = {gap_items, 2, NULL};
    apply_fails(db, &gap, STK_EINVAL, "0003_skip.sql", "gap", NULL);
    static const struct migration dup_items[] = {
        base_items[0],
        {1, "0001_again.sql", SQL("SELECT 1;")},
    };
    const struct migration_set dup = {dup_items, 2, NULL};
    apply_fails(db, &dup, STK_EINVAL, "0001_again.sql", NULL);
    static const struct migration zero_items[] = {
        {0, "0000_zero.sql", SQL("SELECT 1;")},
    };
    const struct migration_set zero = {zero_items, 1, NULL};
    apply_fails(db, &zero, STK_EINVAL, "0000_zero.sql", NULL);
    const struct migration_set reversed = {(const struct migration[]){base_items[1], base_items[0]},
                                           2, NULL};
    apply_fails(db, &reversed, STK_EINVAL, NULL);
    /* Refused before touching the database at all. */
    assert_false(has_table(db, "schema_migrations"));
    assert_false(has_table(db, "a"));
    db_free(db);
}

/* ---- loading from a folder ---- */


static void remove_tree(const char *dir, const char *const names[], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void load_real_dir(void **state)
{
    (void)state;
    struct migration_set set;
    struct stk_error err;
    if (migrate_load_dir(STK_SOURCE_DIR "/migrations", &set, &err) != STK_OK) {
        fail_msg("load: %s", err.msg);
    }
    assert_true(set.count >= 1);
    assert_non_null(set.owned);
    assert_int_equal(set.items[0].version, 1);
    assert_string_equal(set.items[0].name, "0001_create_settings.sql");
    for (size_t i = 0; i < set.count; i++) {
        assert_int_equal(set.items[i].version, (int)i + 1);
        assert_int_equal(strlen(set.items[i].sql), set.items[i].sql_len);
        char path[512];
        snprintf(path, sizeof(path), "%s/migrations/%s", STK_SOURCE_DIR, set.items[i].name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((size_t)st.st_size, set.items[i].sql_len);
    }
    struct db *db = open_memory();
    apply_ok(db, &set, (int)set.count, (int)set.count);
    assert_true(has_table(db, "settings"));
    db_free(db);
    migrate_set_release(&set);
    assert_null(set.items);
    assert_int_equal(set.count, 0);
    migrate_set_release(&set);
}

static void load_ignores_other_names(void **state)
{
    (void)state;
    char dir[] = "/tmp/stk_test_migrate_XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const char *const names[] = {
        "0002_fill_a.sql", "0001_create_a.sql", "README.md", "0003_next.sql.bak",
        "03_short.sql",    "abcd_name.sql",     "0004.sql",  "0005-dash.sql",
        "0006_x.SQL",      ".0007_hidden.sql",  "0008_.sql",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        write_file(dir, names[i], "SELECT 1;");
    }
    write_file(dir, "0001_create_a.sql", base_items[0].sql);
    write_file(dir, "0002_fill_a.sql", base_items[1].sql);
    struct migration_set set;
    struct stk_error err;
    if (migrate_load_dir(dir, &set, &err) != STK_OK) {
        fail_msg("load: %s", err.msg);
    }
    assert_int_equal(set.count, 2);
    assert_string_equal(set.items[0].name, "0001_create_a.sql");
    assert_string_equal(set.items[1].name, "0002_fill_a.sql");
    assert_int_equal(set.items[1].sql_len, base_items[1].sql_len);
    assert_memory_equal(set.items[1].sql, base_items[1].sql, base_items[1].sql_len);
    /* Loaded from disk or built by hand, the same migrations are the same. */
    struct db *db = open_memory();
    apply_ok(db, &set, 2, 2);
    apply_ok(db, &base, 0, 2);
    db_free(db);
    migrate_set_release(&set);
    remove_tree(dir, names, sizeof(names) / sizeof(names[0]));
}

/* migrate_load_dir over files `names` must fail with `code` naming `needle`,
 * and leave `out` zeroed. */
static void load_fails(const char *const names[], size_t n, enum stk_err code, const char *needle)
{
    char dir[] = "/tmp/stk_test_migrate_XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < n; i++) {
        write_file(dir, names[i], "SELECT 1;");
    }
    struct migration_set set = {(const struct migration *)dir, 7, dir};
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = migrate_load_dir(dir, &set, &err);
    if (rc != code || strstr(err.msg, needle) == NULL) {
        fail_msg("load gave %d '%s', wanted %d '%s'", rc, err.msg, code, needle);
    }
    assert_null(set.items);
    assert_int_equal(set.count, 0);
    assert_null(set.owned);
    remove_tree(dir, names, n);
}

static void load_refuses_gaps(void **state)
{
    (void)state;
    static const char *const gap[] = {"0001_a.sql", "0003_c.sql"};
    load_fails(gap, 2, STK_EINVAL, "0003_c.sql");
    static const char *const no_first[] = {"0002_b.sql"};
    load_fails(no_first, 1, STK_EINVAL, "0002_b.sql");
    static const char *const dup[] = {"0001_a.sql", "0002_b.sql", "0002_c.sql"};
    load_fails(dup, 3, STK_EINVAL, "expected 3");
    static const char *const zero[] = {"0000_a.sql", "0001_b.sql"};
    load_fails(zero, 2, STK_EINVAL, "0000_a.sql");
}

static void load_missing_dir(void **state)
{
    (void)state;
    struct migration_set set = {NULL, 3, NULL};
    struct stk_error err;
    assert_int_equal(migrate_load_dir("/nonexistent/migrations", &set, &err), STK_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/migrations"));
    assert_null(set.items);
    assert_int_equal(set.count, 0);
    assert_null(set.owned);

    char dir[] = "/tmp/stk_test_migrate_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(migrate_load_dir(dir, &set, &err), STK_OK);
    assert_int_equal(set.count, 0);
    migrate_set_release(&set);
    rmdir(dir);
}

static void builtin_matches_folder(void **state)
{
    (void)state;
    const struct migration_set *builtin = migrate_builtin();
    assert_non_null(builtin);
    assert_null(builtin->owned);
    struct migration_set disk;
    struct stk_error err;
    if (migrate_load_dir(STK_SOURCE_DIR "/migrations", &disk, &err) != STK_OK) {
        fail_msg("load: %s", err.msg);
    }
    assert_int_equal(builtin->count, disk.count);
    for (size_t i = 0; i < disk.count; i++) {
        const struct migration *b = &builtin->items[i], *d = &disk.items[i];
        assert_int_equal(b->version, d->version);
        assert_string_equal(b->name, d->name);
        assert_int_equal(b->sql_len, d->sql_len);
        assert_memory_equal(b->sql, d->sql, d->sql_len);
        assert_int_equal(b->sql[b->sql_len], '\0');
        char sb[65], sd[65];
        migrate_checksum(b->sql, b->sql_len, sb);
        migrate_checksum(d->sql, d->sql_len, sd);
        assert_string_equal(sb, sd);
    }
    /* A database made by one is accepted by the other. */
    struct db *db = open_memory();
    apply_ok(db, builtin, (int)builtin->count, (int)builtin->count);
    apply_ok(db, &disk, 0, (int)disk.count);
    db_free(db);
    migrate_set_release(&disk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(applies_in_order_once),
        cmocka_unit_test(applies_only_the_new_ones),
        cmocka_unit_test(empty_set),
        cmocka_unit_test(records_checksums),
        cmocka_unit_test(refuses_altered_migration),
        cmocka_unit_test(refuses_altered_older_migration),
        cmocka_unit_test(refuses_newer_database),
        cmocka_unit_test(refuses_renamed_migration),
        cmocka_unit_test(failing_migration_rolls_back),
        cmocka_unit_test(failing_first_migration_leaves_nothing),
        cmocka_unit_test(migration_cannot_end_its_transaction),
        cmocka_unit_test(refuses_gaps_and_duplicates),
        cmocka_unit_test(load_real_dir),
        cmocka_unit_test(load_ignores_other_names),
        cmocka_unit_test(load_refuses_gaps),
        cmocka_unit_test(load_missing_dir),
        cmocka_unit_test(builtin_matches_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
