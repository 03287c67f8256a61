/* server/http_static.c, the pure parts: which relative paths may be served
 * (no traversal, no hidden files) and the MIME type by extension. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http_static.h"

static void accepts_plain_paths(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "app.css", "css/app.css", "icons/logo.svg", "a-b_c.1.min.js", "a/b/c/d.txt",
        "x",       "file.",       "v1.2/x.js",      "UPPER/Case.PNG",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!http_static_path_ok(ok[i])) {
            fail_msg("'%s' was refused", ok[i]);
        }
    }
}

static void refuses_traversal_and_hidden(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "/",
        "/etc/passwd",
        "..",
        ".",
        "../etc/passwd",
        "../../etc/passwd",
        "css/../../etc/passwd",
        "css/..",
        "a/./b",
        "./a",
        ".env",
        ".git/config",
        "css/.htaccess",
        "a//b",
        "a/",
        "a\\b",
        "..\\..\\etc\\passwd",
        "%2e%2e/etc/passwd",
        "%2e%2e%2fetc%2fpasswd",
        "..%2f..%2fetc%2fpasswd",
        "a%00.css",
        "a b.css",
        "a\nb",
        "a:b",
        "~root/x",
        "a?b",
        "a#b",
        "caf\xc3\xa9.css",
        "\xc0\xae\xc0\xae/etc/passwd",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (http_static_path_ok(bad[i])) {
            fail_msg("'%s' was accepted", bad[i]);
        }
    }
}

static void length_limit(void **state)
{
    (void)state;
    char path[300];
    memset(path, 'a', 255);
    path[255] = '\0';
    assert_true(http_static_path_ok(path));
    memset(path, 'a', 256);
    path[256] = '\0';
    assert_false(http_static_path_ok(path));
}

static void mime_types(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"index.html", "text/html; charset=utf-8"},
        {"css/app.css", "text/css; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"mod.mjs", "text/javascript; charset=utf-8"},
        {"data.json", "application/json; charset=utf-8"},
        {"app.js.map", "application/json; charset=utf-8"},
        {"icons/logo.svg", "image/svg+xml"},
        {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},
        {"favicon.ico", "image/x-icon"},
        {"font.woff2", "font/woff2"},
        {"notes.txt", "text/plain; charset=utf-8"},
        {"APP.CSS", "text/css; charset=utf-8"},
        {"Index.Html", "text/html; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(http_static_mime(cases[i][0]), cases[i][1]);
    }
}

static void unknown_types_are_opaque(void **state)
{
    (void)state;
    static const char *const names[] = {
        "noext",      "archive.tar.gz", "run.exe", "file.", "",
        "dir.d/file", "x.html.bak",     "x.csss",  "x.htm",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *m = http_static_mime(names[i]);
        assert_non_null(m);
        if (strcmp(m, "application/octet-stream") != 0) {
            fail_msg("'%s' got '%s'", names[i], m);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_plain_paths),
        cmocka_unit_test(refuses_traversal_and_hidden),
        cmocka_unit_test(length_limit),
        cmocka_unit_test(mime_types),
        cmocka_unit_test(unknown_types_are_opaque),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
