/* server/config.c: defaults, flags, bounds, size suffixes, the config file
 * ("path:line: reason") and the environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* Writes `text` to a new temporary file whose name goes into `path`. */
static void write_temp(const char *text, char path[64])
{
    snprintf(path, 64, "/tmp/stk_test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Loads `text` as a config file; returns the code, message in `err`. */
static enum stk_err load_text(struct config *cfg, const char *text, char path[64],
                              struct stk_error *err)
{
    write_temp(text, path);
    enum stk_err rc = config_load_file(cfg, path, err);
    unlink(path);
    return rc;
}

/* Asserts that `msg` begins with "path:line: " and contains `reason`. */
static void assert_file_error(const char *msg, const char *path, int line, const char *reason)
{
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
    if (strncmp(msg, prefix, strlen(prefix)) != 0 || strstr(msg, reason) == NULL) {
        fail_msg("message '%s' lacks '%s' or '%s'", msg, prefix, reason);
    }
}

static void defaults(void **state)
{
    (void)state;
    struct config cfg;
    assert_int_equal(config_init(&cfg), STK_OK);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.db, "data/stockade.db");
    assert_string_equal(cfg.data_dir, "data");
    assert_string_equal(cfg.log_level, "info");
    assert_string_equal(cfg.assets_dir, STK_ASSETS_DIR);
    assert_string_equal(cfg.migrations_dir, "");
    assert_string_equal(cfg.public_url, "");
    assert_int_equal(cfg.threads, 48);
    assert_int_equal(cfg.keep_alive_ms, 2000);
    assert_int_equal(cfg.request_timeout_ms, 30000);
    assert_int_equal(cfg.max_body, 8L * 1024 * 1024);
    assert_int_equal(cfg.session_idle_s, 3600);
    assert_int_equal(cfg.session_max_s, 43200);
    config_release(&cfg);
    assert_null(cfg.listen);
    config_release(&cfg);
}

static void release_accepts_zeroed(void **state)
{
    (void)state;
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    config_release(&cfg);
}

static void set_by_key_and_flag(void **state)
{
    (void)state;
    struct config cfg;
    struct stk_error err;
    assert_int_equal(config_init(&cfg), STK_OK);
    assert_int_equal(config_set(&cfg, "threads", "4", "test", &err), STK_OK);
    assert_int_equal(cfg.threads, 4);
    assert_int_equal(config_set(&cfg, "--data-dir", "/var/lib/stk", "flag", &err), STK_OK);
    assert_string_equal(cfg.data_dir, "/var/lib/stk");
    assert_int_equal(config_set(&cfg, "data-dir", "/srv", "flag", &err), STK_OK);
    assert_string_equal(cfg.data_dir, "/srv");
    assert_int_equal(config_set(&cfg, "--log-level", "debug", "flag", &err), STK_OK);
    assert_string_equal(cfg.log_level, "debug");
    assert_int_equal(config_set(&cfg, "--listen", "0.0.0.0:0", "flag", NULL), STK_OK);
    assert_string_equal(cfg.listen, "0.0.0.0:0");
    assert_int_equal(config_set(&cfg, "public_url", "https://soc.example", "flag", NULL), STK_OK);
    assert_string_equal(cfg.public_url, "https://soc.example");
    config_release(&cfg);
}

static void set_unknown_key(void **state)
{
    (void)state;
    struct config cfg;
    struct stk_error err;
    assert_int_equal(config_init(&cfg), STK_OK);
    assert_int_equal(config_set(&cfg, "--no-such", "1", "flag", &err), STK_EINVAL);
    assert_int_equal(err.code, STK_EINVAL);
    assert_non_null(strstr(err.msg, "unknown setting"));
    assert_non_null(strstr(err.msg, "--no-such"));
    assert_int_equal(config_set(&cfg, "", "1", "flag", NULL), STK_EINVAL);
    char longkey[200];
    memset(longkey, 'a', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(config_set(&cfg, longkey, "1", "flag", NULL), STK_EINVAL);
    config_release(&cfg);
}

static void has(void **state)
{
    (void)state;
    assert_true(config_has("listen"));
    assert_true(config_has("--data-dir"));
    assert_true(config_has("data_dir"));
    assert_true(config_has("max-body"));
    assert_false(config_has("--nope"));
    assert_false(config_has("config"));
    assert_false(config_has(""));
}

/* config_set must fail with EINVAL and leave `threads` as it was. */
static void assert_threads_refused(struct config *cfg, const char *value, const char *reason)
{
    struct stk_error err;
    long before = cfg->threads;
    assert_int_equal(config_set(cfg, "--threads", value, "flag", &err), STK_EINVAL);
    assert_int_equal(err.code, STK_EINVAL);
    if (strstr(err.msg, reason) == NULL || strncmp(err.msg, "flag: ", 6) != 0) {
        fail_msg("'%s' for threads gave '%s', wanted '%s'", value, err.msg, reason);
    }
    assert_int_equal(cfg->threads, before);
}

static void numbers_out_of_range(void **state)
{
    (void)state;
    struct config cfg;
    assert_int_equal(config_init(&cfg), STK_OK);
    assert_threads_refused(&cfg, "0", "threads must be between 2 and 1024, got 0");
    assert_threads_refused(&cfg, "5000", "threads must be between 2 and 1024, got 5000");
    assert_threads_refused(&cfg, "1", "between");
    assert_threads_refused(&cfg, "-4", "between");
    assert_int_equal(config_set(&cfg, "threads", "2", "flag", NULL), STK_OK);
    assert_int_equal(config_set(&cfg, "threads", "1024", "flag", NULL), STK_OK);
    assert_int_equal(cfg.threads, 1024);
    assert_int_equal(config_set(&cfg, "keep_alive_ms", "0", "flag", NULL), STK_OK);
    assert_int_equal(config_set(&cfg, "request_timeout_ms", "99", "flag", NULL), STK_EINVAL);
    assert_int_equal(cfg.request_timeout_ms, 30000);
    config_release(&cfg);
}

static void numbers_not_numeric(void **state)
{
    (void)state;
    struct config cfg;
    assert_int_equal(config_init(&cfg), STK_OK);
    assert_threads_refused(&cfg, "abc", "needs a number");
    assert_threads_refused(&cfg, "", "needs a number");
    assert_threads_refused(&cfg, "12abc", "needs a number");
    assert_threads_refused(&cfg, "1.5", "needs a number");
    assert_threads_refused(&cfg, "4K", "needs a number"); /* suffixes are for sizes only */
    assert_threads_refused(&cfg, "99999999999999999999999", "needs a number");
    config_release(&cfg);
}

static void sizes_with_suffixes(void **state)
{
    (void)state;
    struct config cfg;
    struct stk_error err;
    assert_int_equal(config_init(&cfg), STK_OK);
    assert_int_equal(config_set(&cfg, "max_body", "64K", "flag", &err), STK_OK);
    assert_int_equal(cfg.max_body, 64L * 1024);
    assert_int_equal(config_set(&cfg, "max_body", "16m", "flag", &err), STK_OK);
    assert_int_equal(cfg.max_body, 16L * 1024 * 1024);
    assert_int_equal(config_set(&cfg, "max_body", "1G", "flag", &err), STK_OK);
    assert_int_equal(cfg.max_body, 1L << 30);
    assert_int_equal(config_set(&cfg, "--max-body", "1024", "flag", &err), STK_OK);
    assert_int_equal(cfg.max_body, 1024);

    static const char *const bad[] = {
        "2G",   /* above the 1 GiB maximum */
        "1023", /* below the 1 KiB minimum */
        "1KB",
        "K",
        "-1K",
        "1T",
        "1 K",
        "",
        "9223372036854775807K", /* overflows long */
        "9007199254740993G",    /* overflows long */
        "99999999999999999999", /* overflows strtol */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        stk_error_clear(&err);
        if (config_set(&cfg, "max_body", bad[i], "flag", &err) != STK_EINVAL) {
            fail_msg("max_body '%s' was accepted", bad[i]);
        }
        assert_int_equal(err.code, STK_EINVAL);
        assert_non_null(strstr(err.msg, "max_body"));
        assert_int_equal(cfg.max_body, 1024);
    }
    config_release(&cfg);
}

static void string_validators(void **state)
{
    (void)state;
    struct config cfg;
    struct stk_error err;
    assert_int_equal(config_init(&cfg), STK_OK);
    static const struct {
        const char *key, *value;
    } bad[] = {
        {"log_level", "verbose"},
        {"log_level", ""},
        {"listen", "nocolon"},
        {"listen", ":8080"},
        {"listen", "host:"},
        {"listen", "host:70000"},
        {"listen", "host:80x"},
        {"listen", "host:-1"},
        {"db", ""},
        {"data_dir", ""},
        {"assets_dir", ""},
        {"public_url", "ftp://x"},
        {"public_url", "localhost"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        stk_error_clear(&err);
        if (config_set(&cfg, bad[i].key, bad[i].value, "flag", &err) != STK_EINVAL) {
            fail_msg("%s '%s' was accepted", bad[i].key, bad[i].value);
        }
        assert_non_null(strstr(err.msg, "invalid value"));
        assert_non_null(strstr(err.msg, bad[i].key));
    }
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.log_level, "info");
    assert_string_equal(cfg.db, "data/stockade.db");
    assert_string_equal(cfg.public_url, "");
    /* migrations_dir has no validator: empty means the built-in set. */
    assert_int_equal(config_set(&cfg, "migrations_dir", "", "flag", &err), STK_OK);
    config_release(&cfg);
}

static void file_applies_settings(void **state)
{
    (void)state;
    struct config cfg;
    struct stk_error err;
    char path[64];
    assert_int_equal(config_init(&cfg), STK_OK);
    const char *text = "# Stockade test config\n"
                       "\n"
                       "   # indented comment\n"
                       "listen = 127.0.0.1:9090\n"
                       "threads=8\r\n"
                       "\t data_dir \t=\t /tmp/stk data \n"
                       "public_url = https://soc.example/?a=b\n"
                       "max_body = 2M\n"
                       "log_level = warn"; /* no final newline */
    assert_int_equal(load_text(&cfg, text, path, &err), STK_OK);
    assert_string_equal(cfg.listen, "127.0.0.1:9090");
    assert_int_equal(cfg.threads, 8);
    assert_string_equal(cfg.data_dir, "/tmp/stk data");
    assert_string_equal(cfg.public_url, "https://soc.example/?a=b");
    assert_int_equal(cfg.max_body, 2L * 1024 * 1024);
    assert_string_equal(cfg.log_level, "warn");
    assert_string_equal(cfg.db, "data/stockade.db");
    config_release(&cfg);
}

static void file_errors_name_path_and_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int line;
        const char *reason;
    } cases[] = {
        {"# c\n\nnope = 1\n", 3, "unknown setting 'nope'"},
        {"threads = 4\nlisten = 127.0.0.1:1\nthreads = 6\n", 3, "duplicate setting 'threads'"},
        {"threads = 4\njust a line\n", 2, "expected 'key = value'"},
        {"threads = 5000\n", 1, "threads must be between 2 and 1024"},
        {"\nthreads = lots\n", 2, "needs a number"},
        {"log_level = loud\n", 1, "invalid value for log_level"},
        /* Flag spellings are for the command line; the file uses keys. */
        {"data-dir = /x\n", 1, "unknown setting 'data-dir'"},
        {"--threads = 4\n", 1, "unknown setting '--threads'"},
        {"= 4\n", 1, "unknown setting ''"},
        /* A trailing comment is part of the value, not silently dropped. */
        {"threads = 4 # four\n", 1, "needs a number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        struct stk_error err;
        char path[64];
        assert_int_equal(config_init(&cfg), STK_OK);
        stk_error_clear(&err);
        assert_int_equal(load_text(&cfg, cases[i].text, path, &err), STK_EINVAL);
        assert_int_equal(err.code, STK_EINVAL);
        assert_file_error(err.msg, path, cases[i].line, cases[i].reason);
        config_release(&cfg);
    }
}

static void file_line_too_long(void **state)
{
    (void)state;
    size_t n = 10000;
    char *text = malloc(n + 32);
    assert_non_null(text);
    strcpy(text, "threads = 4\ndb = ");
    size_t len = strlen(text);
    memset(text + len, 'x', n);
    strcpy(text + len + n, "\nthreads = 5\n");
    struct config cfg;
    struct stk_error err;
    char path[64];
    assert_int_equal(config_init(&cfg), STK_OK);
    assert_int_equal(load_text(&cfg, text, path, &err), STK_EINVAL);
    assert_file_error(err.msg, path, 2, "line too long");
    assert_string_equal(cfg.db, "data/stockade.db");
    config_release(&cfg);
    free(text);
}

static void file_missing(void **state)
{
    (void)state;
    struct config cfg;
    struct stk_error err;
    assert_int_equal(config_init(&cfg), STK_OK);
    assert_int_equal(config_load_file(&cfg, "/nonexistent/stockade.conf", &err), STK_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/stockade.conf"));
    assert_int_equal(config_load_file(&cfg, "/nonexistent/stockade.conf", NULL), STK_EIO);
    config_release(&cfg);
}

static void env_overrides(void **state)
{
    (void)state;
    struct config cfg;
    struct stk_error err;
    assert_int_equal(config_init(&cfg), STK_OK);
    setenv("STOCKADE_THREADS", "12", 1);
    setenv("STOCKADE_DATA_DIR", "/tmp/from-env", 1);
    setenv("STOCKADE_MAX_BODY", "1M", 1);
    assert_int_equal(config_load_env(&cfg, &err), STK_OK);
    assert_int_equal(cfg.threads, 12);
    assert_string_equal(cfg.data_dir, "/tmp/from-env");
    assert_int_equal(cfg.max_body, 1024L * 1024);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");

    setenv("STOCKADE_THREADS", "many", 1);
    assert_int_equal(config_load_env(&cfg, &err), STK_EINVAL);
    assert_non_null(strstr(err.msg, "STOCKADE_THREADS"));
    assert_non_null(strstr(err.msg, "needs a number"));
    assert_int_equal(cfg.threads, 12);

    unsetenv("STOCKADE_THREADS");
    unsetenv("STOCKADE_DATA_DIR");
    unsetenv("STOCKADE_MAX_BODY");
    config_release(&cfg);
}

static void usage_lists_flags(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    config_usage(f);
    long n = ftell(f);
    assert_true(n > 0);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    assert_non_null(strstr(text, "--data-dir"));
    assert_non_null(strstr(text, "--max-body"));
    assert_non_null(strstr(text, "default: 8M"));
    assert_null(strstr(text, "--data_dir"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(release_accepts_zeroed),
        cmocka_unit_test(set_by_key_and_flag),
        cmocka_unit_test(set_unknown_key),
        cmocka_unit_test(has),
        cmocka_unit_test(numbers_out_of_range),
        cmocka_unit_test(numbers_not_numeric),
        cmocka_unit_test(sizes_with_suffixes),
        cmocka_unit_test(string_validators),
        cmocka_unit_test(file_applies_settings),
        cmocka_unit_test(file_errors_name_path_and_line),
        cmocka_unit_test(file_line_too_long),
        cmocka_unit_test(file_missing),
        cmocka_unit_test(env_overrides),
        cmocka_unit_test(usage_lists_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
