/* common/log.c: log_clean() keeps user text from forging lines or fields;
 * log_event() writes one terminated line per event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static void strips_line_breaks_and_controls(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(log_clean("a\r\nb", out, sizeof(out)), "a__b");
    assert_string_equal(log_clean("tab\there", out, sizeof(out)), "tab_here");
    assert_string_equal(log_clean("\x01\x1b[31m\x7f", out, sizeof(out)), "__[31m_");
}

static void strips_quotes_backslashes_and_spaces(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(log_clean("say \"hi\"", out, sizeof(out)), "say__hi_");
    assert_string_equal(log_clean("C:\\dir", out, sizeof(out)), "C:_dir");
    /* A space would start a forged key=value field. */
    assert_string_equal(log_clean("x level=error", out, sizeof(out)), "x_level=error");
}

static void forged_line_stays_one_value(void **state)
{
    (void)state;
    char out[128];
    const char *evil = "/x\nts=2024-01-01T00:00:00Z level=error event=login_ok user=\"admin\"";
    log_clean(evil, out, sizeof(out));
    assert_null(strchr(out, '\n'));
    assert_null(strchr(out, ' '));
    assert_null(strchr(out, '"'));
    assert_int_equal(strlen(out), strlen(evil));
}

static void keeps_printable_and_utf8(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(log_clean("/api/v1/x?a=b&c=d", out, sizeof(out)), "/api/v1/x?a=b&c=d");
    assert_string_equal(log_clean("caf\xc3\xa9", out, sizeof(out)), "caf\xc3\xa9");
}

static void truncates_to_n(void **state)
{
    (void)state;
    char out[8];
    assert_ptr_equal(log_clean("abcdefghijkl", out, sizeof(out)), out);
    assert_string_equal(out, "abcdefg");
    assert_string_equal(log_clean("abcdefghijkl", out, 4), "abc");
    assert_string_equal(log_clean("abc", out, 1), "");
    /* n == 0: nothing is written at all. */
    memcpy(out, "sentinel", 8);
    assert_ptr_equal(log_clean("abc", out, 0), out);
    assert_memory_equal(out, "sentinel", 8);
}

static void null_input_is_empty(void **state)
{
    (void)state;
    char out[16] = "junk";
    assert_string_equal(log_clean(NULL, out, sizeof(out)), "");
    assert_string_equal(log_clean("", out, sizeof(out)), "");
}

static void level_parse(void **state)
{
    (void)state;
    enum stk_log_level lvl = STK_LOG_ERROR;
    assert_int_equal(log_level_parse("debug", &lvl), 0);
    assert_int_equal(lvl, STK_LOG_DEBUG);
    assert_int_equal(log_level_parse("warn", &lvl), 0);
    assert_int_equal(lvl, STK_LOG_WARN);
    assert_int_equal(log_level_parse("error", &lvl), 0);
    assert_int_equal(lvl, STK_LOG_ERROR);
    assert_int_equal(log_level_parse("info", &lvl), 0);
    assert_int_equal(lvl, STK_LOG_INFO);
    assert_int_equal(log_level_parse("INFO", &lvl), -1);
    assert_int_equal(log_level_parse("verbose", &lvl), -1);
    assert_int_equal(log_level_parse("", &lvl), -1);
    assert_int_equal(lvl, STK_LOG_INFO);
}

/* Runs log_event() (one "k=value" field) with stderr pointed at a temporary file and returns
 * what it wrote (caller frees). */
static char *capture(enum stk_log_level level, const char *event, const char *value)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    log_event(level, event, "k=%s", value);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    assert_true(fseek(tmp, 0, SEEK_END) == 0);
    long n = ftell(tmp);
    rewind(tmp);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, tmp), (size_t)n);
    fclose(tmp);
    return text;
}

static void event_is_one_line(void **state)
{
    (void)state;
    log_set_level(STK_LOG_INFO);
    char *line = capture(STK_LOG_WARN, "thing_failed", "disk");
    assert_true(strncmp(line, "ts=", 3) == 0);
    assert_non_null(strstr(line, " level=warn event=thing_failed k=disk\n"));
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
    free(line);
}

static void level_filters(void **state)
{
    (void)state;
    log_set_level(STK_LOG_WARN);
    char *line = capture(STK_LOG_INFO, "quiet", "v");
    assert_string_equal(line, "");
    free(line);
    line = capture(STK_LOG_ERROR, "loud", "v");
    assert_non_null(strstr(line, "level=error event=loud k=v\n"));
    free(line);
    log_set_level(STK_LOG_INFO);
}

static void long_values_are_cut_but_terminated(void **state)
{
    (void)state;
    char *big = malloc(10000);
    assert_non_null(big);
    memset(big, 'v', 9999);
    big[9999] = '\0';
    char *line = capture(STK_LOG_ERROR, "big", big);
    size_t len = strlen(line);
    assert_true(len > 1000 && len < 2048);
    assert_int_equal(line[len - 1], '\n');
    assert_ptr_equal(strchr(line, '\n'), line + len - 1);
    free(line);

    /* An event name that fills the line buffer on its own. */
    char event[2048];
    for (size_t want = 2000; want < sizeof(event); want++) {
        memset(event, 'e', want);
        event[want] = '\0';
        line = capture(STK_LOG_ERROR, event, "v");
        len = strlen(line);
        assert_true(len < 2048);
        if (len > 0) {
            assert_int_equal(line[len - 1], '\n');
        }
        free(line);
    }
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strips_line_breaks_and_controls),
        cmocka_unit_test(strips_quotes_backslashes_and_spaces),
        cmocka_unit_test(forged_line_stays_one_value),
        cmocka_unit_test(keeps_printable_and_utf8),
        cmocka_unit_test(truncates_to_n),
        cmocka_unit_test(null_input_is_empty),
        cmocka_unit_test(level_parse),
        cmocka_unit_test(event_is_one_line),
        cmocka_unit_test(level_filters),
        cmocka_unit_test(long_values_are_cut_but_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
