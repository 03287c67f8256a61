/* server/http_routes.c: literal routes, "{param}" and "*" captures, 404
 * versus 405 with the Allow list, over-long parameters.
 *
 * The source is included (as h2o's unit tests do) so that the static
 * pattern matcher can also be tested with patterns the route table does
 * not use (several parameters, a parameter before "*"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http_routes.c"

#define PARAMS char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX]

/* http_routes_match() must find `method` `path` at `pattern`. */
static void assert_found(const char *method, const char *path, const char *pattern,
                         int want_nparams, const char *param0)
{
    PARAMS;
    const struct route *rt = NULL;
    int n = -1;
    char allow[64] = "junk";
    enum route_match m = http_routes_match(method, path, &rt, params, &n, allow, sizeof(allow));
    if (m != ROUTE_FOUND) {
        fail_msg("%s %s: got %d, wanted ROUTE_FOUND", method, path, m);
    }
    assert_non_null(rt);
    assert_string_equal(rt->pattern, pattern);
    assert_string_equal(rt->method, method);
    assert_non_null(rt->handler);
    assert_int_equal(n, want_nparams);
    if (param0 != NULL) {
        assert_string_equal(params[0], param0);
    }
}

/* http_routes_match() must not find `method` `path`: `want` is
 * ROUTE_NO_PATH (Allow empty) or ROUTE_NO_METHOD (Allow `allow_want`). */
static void assert_missing(const char *method, const char *path, enum route_match want,
                           const char *allow_want)
{
    PARAMS;
    const struct route *rt = &http_route_table[0]; /* must come back NULL */
    int n = -1;
    char allow[64] = "junk";
    enum route_match m = http_routes_match(method, path, &rt, params, &n, allow, sizeof(allow));
    if (m != want) {
        fail_msg("%s %.60s: got %d, wanted %d", method, path, m, want);
    }
    assert_null(rt);
    assert_int_equal(n, 0);
    assert_string_equal(allow, allow_want);
}

static void literal_routes(void **state)
{
    (void)state;
    assert_found("GET", "/healthz", "/healthz", 0, NULL);
    assert_found("GET", "/api/v1/version", "/api/v1/version", 0, NULL);
    assert_found("GET", "/", "/", 0, NULL);
    assert_found("GET", "/incidents", "/incidents", 0, NULL);
    assert_found("GET", "/action-center", "/action-center", 0, NULL);
    assert_found("GET", "/hunting", "/hunting", 0, NULL);
    assert_found("GET", "/attack-paths", "/attack-paths", 0, NULL);
    assert_found("GET", "/settings", "/settings", 0, NULL);
}

static void literal_routes_are_exact(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/healthz/", "/healthzz", "/health", "/Healthz",          "/incidents/",     "/settings/1",
        "//healthz", "",          "/api/v1", "/api/v1/version/x", "/api/v2/version", "healthz",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        assert_missing("GET", paths[i], ROUTE_NO_PATH, "");
    }
}

static void star_captures_the_rest(void **state)
{
    (void)state;
    assert_found("GET", "/static/css/app.css", "/static/*", 1, "css/app.css");
    assert_found("GET", "/web/app.js", "/web/*", 1, "app.js");
    assert_found("GET", "/static/a/b/c/d.svg", "/static/*", 1, "a/b/c/d.svg");
    /* The handler, not the matcher, refuses an empty or unsafe rest. */
    assert_found("GET", "/static/", "/static/*", 1, "");
    assert_found("GET", "/static/../x", "/static/*", 1, "../x");
    assert_missing("GET", "/static", ROUTE_NO_PATH, "");
    assert_missing("GET", "/staticx/a.css", ROUTE_NO_PATH, "");
    assert_missing("GET", "/webapp.js", ROUTE_NO_PATH, "");
}

static void star_capture_length(void **state)
{
    (void)state;
    char path[2100];
    strcpy(path, "/static/");
    memset(path + 8, 'a', 255);
    path[8 + 255] = '\0';
    assert_found("GET", path, "/static/*", 1, path + 8);
    /* Far too long paths are not routed at all. */
    memset(path + 8, 'a', 2000);
    path[8 + 2000] = '\0';
    assert_missing("GET", path, ROUTE_NO_PATH, "");
}

static void table_param_routes(void **state)
{
    (void)state;
    assert_found("PATCH", "/api/v1/users/alice", "/api/v1/users/{username}", 1, "alice");
    assert_found("DELETE", "/api/v1/tokens/17", "/api/v1/tokens/{id}", 1, "17");
    assert_found("GET", "/attack-paths/3", "/attack-paths/{id}", 1, "3");
    assert_missing("PATCH", "/api/v1/users/", ROUTE_NO_PATH, "");
    assert_missing("PATCH", "/api/v1/users/alice/x", ROUTE_NO_PATH, "");
    assert_missing("GET", "/api/v1/users/alice", ROUTE_NO_METHOD, "PATCH");

    char path[600];
    strcpy(path, "/api/v1/users/");
    size_t pre = strlen(path);
    memset(path + pre, 'u', HTTP_PARAM_MAX - 1);
    path[pre + HTTP_PARAM_MAX - 1] = '\0';
    assert_found("PATCH", path, "/api/v1/users/{username}", 1, path + pre);
    /* One byte more does not fit a parameter: no route, not a cut value. */
    memset(path + pre, 'u', HTTP_PARAM_MAX);
    path[pre + HTTP_PARAM_MAX] = '\0';
    assert_missing("PATCH", path, ROUTE_NO_PATH, "");
}

static void wrong_method_is_405_with_allow(void **state)
{
    (void)state;
    /* Every method of the path, in table order, once each; GET brings HEAD. */
    assert_missing("DELETE", "/api/v1/users", ROUTE_NO_METHOD, "GET, HEAD, POST");
    assert_missing("PUT", "/api/v1/tokens", ROUTE_NO_METHOD, "GET, HEAD, POST");
    assert_missing("GET", "/api/v1/auth/login", ROUTE_NO_METHOD, "POST");
    assert_missing("POST", "/healthz", ROUTE_NO_METHOD, "GET, HEAD");
    assert_missing("DELETE", "/static/css/app.css", ROUTE_NO_METHOD, "GET, HEAD");
    assert_missing("PUT", "/", ROUTE_NO_METHOD, "GET, HEAD");
    /* Methods are case-sensitive; HEAD is mapped to GET by the dispatcher. */
    assert_missing("get", "/healthz", ROUTE_NO_METHOD, "GET, HEAD");
    assert_missing("HEAD", "/healthz", ROUTE_NO_METHOD, "GET, HEAD");
    /* An unknown path is 404 whatever the method. */
    assert_missing("POST", "/nope", ROUTE_NO_PATH, "");
}

static void allow_buffer_is_bounded(void **state)
{
    (void)state;
    PARAMS;
    const struct route *rt = NULL;
    int n = 0;
    char allow[3] = "xx";
    assert_int_equal(http_routes_match("POST", "/healthz", &rt, params, &n, allow, sizeof(allow)),
                     ROUTE_NO_METHOD);
    assert_string_equal(allow, "GE");
    assert_int_equal(http_routes_match("POST", "/healthz", &rt, params, &n, NULL, 0),
                     ROUTE_NO_METHOD);
    assert_null(rt);
}

/* match_pattern() over one pattern and path. */
static int match(const char *pattern, const char *path, PARAMS, int *n)
{
    *n = -1;
    return match_pattern(pattern, path, params, n);
}

static void param_capture(void **state)
{
    (void)state;
    PARAMS;
    int n;
    assert_true(match("/api/v1/incidents/{id}", "/api/v1/incidents/42", params, &n));
    assert_int_equal(n, 1);
    assert_string_equal(params[0], "42");
    assert_true(match("/a/{x}/b/{y}", "/a/one/b/two", params, &n));
    assert_int_equal(n, 2);
    assert_string_equal(params[0], "one");
    assert_string_equal(params[1], "two");
    assert_true(match("/f/{id}/*", "/f/7/rest/of/it", params, &n));
    assert_int_equal(n, 2);
    assert_string_equal(params[0], "7");
    assert_string_equal(params[1], "rest/of/it");
    assert_true(match("/healthz", "/healthz", params, &n));
    assert_int_equal(n, 0);

    /* A parameter is one whole, non-empty segment. */
    assert_false(match("/api/v1/incidents/{id}", "/api/v1/incidents/", params, &n));
    assert_false(match("/api/v1/incidents/{id}", "/api/v1/incidents", params, &n));
    assert_false(match("/api/v1/incidents/{id}", "/api/v1/incidents/42/x", params, &n));
    assert_false(match("/a/{x}/b", "/a//b", params, &n));
    assert_false(match("/a/{x}/b", "/a/1/c", params, &n));
    assert_int_equal(n, -1);
}

static void param_too_long(void **state)
{
    (void)state;
    PARAMS;
    int n;
    char path[600];
    strcpy(path, "/i/");
    memset(path + 3, '9', HTTP_PARAM_MAX - 1);
    path[3 + HTTP_PARAM_MAX - 1] = '\0';
    assert_true(match("/i/{id}", path, params, &n));
    assert_int_equal(strlen(params[0]), HTTP_PARAM_MAX - 1);
    memset(path + 3, '9', HTTP_PARAM_MAX);
    path[3 + HTTP_PARAM_MAX] = '\0';
    assert_false(match("/i/{id}", path, params, &n));
    assert_int_equal(n, -1);
}

static void too_many_params(void **state)
{
    (void)state;
    PARAMS;
    int n;
    assert_true(match("/{a}/{b}/{c}/{d}", "/1/2/3/4", params, &n));
    assert_int_equal(n, HTTP_MAX_PARAMS);
    assert_false(match("/{a}/{b}/{c}/{d}/{e}", "/1/2/3/4/5", params, &n));
    assert_false(match("/{a}/{b}/{c}/{d}/*", "/1/2/3/4/5", params, &n));
}

/* Every route reaches itself through http_routes_match(), with "{x}"
 * segments and "*" filled in, and no other method is accepted there. */
static void every_route_matches_itself(void **state)
{
    (void)state;
    for (size_t i = 0; i < http_route_count; i++) {
        const struct route *want = &http_route_table[i];
        assert_non_null(want->handler);
        assert_non_null(want->method);
        assert_int_equal(want->pattern[0], '/');
        char path[512];
        size_t j = 0;
        int np = 0;
        for (const char *p = want->pattern; *p && j + 8 < sizeof(path); p++) {
            if (*p == '{') {
                j += (size_t)snprintf(path + j, sizeof(path) - j, "p%d", np++);
                p = strchr(p, '}');
                assert_non_null(p);
            } else if (*p == '*') {
                j += (size_t)snprintf(path + j, sizeof(path) - j, "x/y.css");
                np++;
            } else {
                path[j++] = *p;
            }
        }
        path[j] = '\0';
        PARAMS;
        const struct route *rt = NULL;
        int n = -1;
        char allow[64];
        assert_int_equal(
            http_routes_match(want->method, path, &rt, params, &n, allow, sizeof(allow)),
            ROUTE_FOUND);
        assert_string_equal(rt->pattern, want->pattern);
        assert_int_equal(n, np);
        int has_patch = 0;
        for (size_t k = 0; k < http_route_count; k++) {
            has_patch |= strcmp(http_route_table[k].method, "PATCH") == 0 &&
                         strcmp(http_route_table[k].pattern, want->pattern) == 0;
        }
        assert_int_equal(http_routes_match("PATCH", path, &rt, params, &n, allow, sizeof(allow)),
                         has_patch ? ROUTE_FOUND : ROUTE_NO_METHOD);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_routes),
        cmocka_unit_test(literal_routes_are_exact),
        cmocka_unit_test(star_captures_the_rest),
        cmocka_unit_test(star_capture_length),
        cmocka_unit_test(table_param_routes),
        cmocka_unit_test(wrong_method_is_405_with_allow),
        cmocka_unit_test(allow_buffer_is_bounded),
        cmocka_unit_test(param_capture),
        cmocka_unit_test(param_too_long),
        cmocka_unit_test(too_many_params),
        cmocka_unit_test(every_route_matches_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
