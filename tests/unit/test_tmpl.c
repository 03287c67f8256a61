/* server/tmpl.c: escaping by default, the Mustache subset, syntax errors
 * with name and line, bounded partial recursion and output, the real
 * templates/ folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "tmpl.h"

#define OUT_MAX (1024 * 1024)

static json_t *parse_json(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        fail_msg("bad test JSON '%s': %s", text, jerr.text);
    }
    return v;
}

/* Renders `text` as template "t" with the context `ctx_json` (NULL: no
 * context); returns the output (caller frees). */
static char *render_text(const char *text, const char *ctx_json)
{
    struct tmpl_set *set = NULL;
    struct stk_error err;
    assert_int_equal(tmpl_set_new(&set), STK_OK);
    if (tmpl_set_add(set, "t", text, strlen(text), &err) != STK_OK) {
        fail_msg("template '%s' refused: %s", text, err.msg);
    }
    json_t *ctx = ctx_json ? parse_json(ctx_json) : NULL;
    struct buf out;
    buf_init(&out, OUT_MAX);
    if (tmpl_render(set, "t", ctx, &out, &err) != STK_OK) {
        fail_msg("template '%s' failed: %s", text, err.msg);
    }
    json_decref(ctx);
    tmpl_set_free(set);
    return buf_take(&out);
}

static void assert_renders(const char *text, const char *ctx_json, const char *want)
{
    char *got = render_text(text, ctx_json);
    if (strcmp(got, want) != 0) {
        fail_msg("'%s' with %s gave '%s', wanted '%s'", text, ctx_json ? ctx_json : "NULL", got,
                 want);
    }
    free(got);
}

static void variables_are_escaped(void **state)
{
    (void)state;
    assert_renders("<p>{{x}}</p>", "{\"x\": \"<script>alert(1)</script>\"}",
                   "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
    assert_renders("<a title=\"{{x}}\">", "{\"x\": \"\\\" onmouseover=\\\"x\"}",
                   "<a title=\"&quot; onmouseover=&quot;x\">");
    assert_renders("<a title='{{x}}'>", "{\"x\": \"' onclick='x\"}",
                   "<a title='&#39; onclick=&#39;x'>");
    assert_renders("{{x}}", "{\"x\": \"&amp;\"}", "&amp;amp;");
    assert_renders("{{ x }}", "{\"x\": \"a&b\"}", "a&amp;b");
    /* Escaping holds in every place a value can come from. */
    assert_renders("{{a.b}}", "{\"a\": {\"b\": \"<i>\"}}", "&lt;i&gt;");
    assert_renders("{{#xs}}{{.}}{{/xs}}", "{\"xs\": [\"<b>\", \"'\"]}", "&lt;b&gt;&#39;");
    assert_renders("{{#s}}{{.}}{{/s}}", "{\"s\": \"<u>\"}", "&lt;u&gt;");
}

static void values_are_not_templates(void **state)
{
    (void)state;
    assert_renders("{{x}}", "{\"x\": \"{{y}}\", \"y\": \"no\"}", "{{y}}");
    assert_renders("{{{x}}}", "{\"x\": \"{{#y}}\"}", "{{#y}}");
}

static void raw_variables(void **state)
{
    (void)state;
    const char *ctx = "{\"h\": \"<b>&amp;</b>\"}";
    assert_renders("{{{h}}}", ctx, "<b>&amp;</b>");
    assert_renders("{{& h}}", ctx, "<b>&amp;</b>");
    assert_renders("{{&h}}", ctx, "<b>&amp;</b>");
    assert_renders("{{{ h }}}", ctx, "<b>&amp;</b>");
}

static void dotted_names(void **state)
{
    (void)state;
    const char *ctx = "{\"a\": {\"b\": {\"c\": \"deep\"}, \"s\": \"str\"}, \"c\": \"top\"}";
    assert_renders("{{a.b.c}}", ctx, "deep");
    assert_renders("{{a.s}}", ctx, "str");
    assert_renders("[{{a.z}}]", ctx, "[]");
    assert_renders("[{{a.s.x}}]", ctx, "[]");
    assert_renders("[{{z.b}}]", ctx, "[]");
    assert_renders("{{#a.b}}{{c}}{{/a.b}}", ctx, "deep");
    /* Only the first segment searches the context stack. */
    assert_renders("{{#a}}{{b.c}}|{{c}}{{/a}}", "{\"a\": {\"b\": {}}, \"c\": \"top\"}", "|top");
}

static void dot_is_current_value(void **state)
{
    (void)state;
    assert_renders("{{#xs}}[{{.}}]{{/xs}}", "{\"xs\": [\"a\", 2, 2.5, true]}", "[a][2][2.5][true]");
    assert_renders("{{.}}", "\"top\"", "top");
    assert_renders("[{{.}}]", "{\"a\": 1}", "[]");
}

static void sections(void **state)
{
    (void)state;
    const char *ctx = "{\"items\": [{\"n\": 1}, {\"n\": 2, \"sep\": \"+\"}], \"sep\": \"-\","
                      " \"user\": {\"name\": \"ann\"}, \"yes\": true, \"no\": false,"
                      " \"nil\": null, \"empty\": [], \"s\": \"x\", \"es\": \"\","
                      " \"zero\": 0, \"one\": 1, \"half\": 0.5, \"fzero\": 0.0}";
    assert_renders("{{#items}}{{n}}{{sep}}{{/items}}", ctx, "1-2+");
    assert_renders("{{#user}}hi {{name}}{{/user}}", ctx, "hi ann");
    assert_renders("{{#yes}}Y{{/yes}}", ctx, "Y");
    assert_renders("[{{#no}}N{{/no}}]", ctx, "[]");
    assert_renders("[{{#nil}}N{{/nil}}]", ctx, "[]");
    assert_renders("[{{#missing}}M{{/missing}}]", ctx, "[]");
    assert_renders("[{{#empty}}E{{/empty}}]", ctx, "[]");
    assert_renders("[{{#s}}S{{/s}}]", ctx, "[S]");
    assert_renders("[{{#es}}S{{/es}}]", ctx, "[]");
    assert_renders("[{{#zero}}Z{{/zero}}{{#one}}O{{/one}}]", ctx, "[O]");
    assert_renders("[{{#fzero}}Z{{/fzero}}{{#half}}H{{/half}}]", ctx, "[H]");
    /* Nested sections and the same name at two levels. */
    assert_renders("{{#a}}{{#a}}{{x}}{{/a}}{{/a}}",
                   "{\"a\": {\"a\": {\"x\": \"in\"}, \"x\": \"out\"}}", "in");
    assert_renders("{{#rows}}<tr>{{#cells}}<td>{{.}}</td>{{/cells}}</tr>{{/rows}}",
                   "{\"rows\": [{\"cells\": [1, 2]}, {\"cells\": [\"<x>\"]}]}",
                   "<tr><td>1</td><td>2</td></tr><tr><td>&lt;x&gt;</td></tr>");
}

static void inverted_sections(void **state)
{
    (void)state;
    const char *ctx = "{\"yes\": true, \"no\": false, \"nil\": null, \"empty\": [], \"full\": [1],"
                      " \"es\": \"\", \"zero\": 0, \"obj\": {}}";
    assert_renders("[{{^missing}}M{{/missing}}]", ctx, "[M]");
    assert_renders("[{{^no}}N{{/no}}]", ctx, "[N]");
    assert_renders("[{{^nil}}N{{/nil}}]", ctx, "[N]");
    assert_renders("[{{^empty}}No items{{/empty}}]", ctx, "[No items]");
    assert_renders("[{{^es}}E{{/es}}]", ctx, "[E]");
    assert_renders("[{{^zero}}Z{{/zero}}]", ctx, "[Z]");
    assert_renders("[{{^yes}}Y{{/yes}}]", ctx, "[]");
    assert_renders("[{{^full}}F{{/full}}]", ctx, "[]");
    assert_renders("[{{^obj}}O{{/obj}}]", ctx, "[]");
}

static void comments(void **state)
{
    (void)state;
    assert_renders("a{{! a comment with <b> and {{braces }}b", "{}", "ab");
    assert_renders("a{{!\nmulti\nline\n}}b", "{}", "ab");
    assert_renders("a{{!}}b", "{}", "ab");
}

static void numbers_and_other_values(void **state)
{
    (void)state;
    const char *ctx = "{\"i\": 42, \"neg\": -7, \"big\": 9007199254740993, \"r\": 3.5,"
                      " \"t\": true, \"f\": false, \"n\": null, \"o\": {\"a\": 1}, \"a\": [1]}";
    assert_renders("{{i}} {{neg}} {{big}} {{r}}", ctx, "42 -7 9007199254740993 3.5");
    assert_renders("[{{t}}|{{f}}|{{n}}|{{o}}|{{a}}]", ctx, "[true||||]");
}

static void missing_names_render_empty(void **state)
{
    (void)state;
    assert_renders("a{{nope}}b{{{nope}}}c{{& nope}}d", "{}", "abcd");
    assert_renders("a{{x}}b", NULL, "ab");
    assert_renders("plain text, no tags", NULL, "plain text, no tags");
    assert_renders("", NULL, "");
    assert_renders("a } b { c }} d", NULL, "a } b { c }} d");
}

static void partials(void **state)
{
    (void)state;
    struct tmpl_set *set = NULL;
    struct stk_error err;
    assert_int_equal(tmpl_set_new(&set), STK_OK);
    const char *head = "<title>{{title}}</title>";
    const char *row = "<li>{{name}}</li>";
    const char *page = "{{> parts/head}}<ul>{{#people}}{{>parts/row}}{{/people}}</ul>";
    assert_int_equal(tmpl_set_add(set, "parts/head", head, strlen(head), &err), STK_OK);
    assert_int_equal(tmpl_set_add(set, "parts/row", row, strlen(row), &err), STK_OK);
    assert_int_equal(tmpl_set_add(set, "page", page, strlen(page), &err), STK_OK);
    assert_true(tmpl_set_has(set, "page"));
    assert_false(tmpl_set_has(set, "parts"));
    json_t *ctx =
        parse_json("{\"title\": \"T<\", \"people\": [{\"name\": \"a\"}, {\"name\": \"b&\"}]}");
    struct buf out;
    buf_init(&out, OUT_MAX);
    assert_int_equal(tmpl_render(set, "page", ctx, &out, &err), STK_OK);
    assert_string_equal(out.data, "<title>T&lt;</title><ul><li>a</li><li>b&amp;</li></ul>");

    /* Rendering appends to what `out` holds. */
    assert_int_equal(tmpl_render(set, "parts/row", ctx, &out, &err), STK_OK);
    assert_string_equal(out.data + strlen(out.data) - 9, "<li></li>");

    assert_int_equal(tmpl_set_add(set, "page", "x", 1, &err), STK_ECONFLICT);
    buf_release(&out);
    json_decref(ctx);
    tmpl_set_free(set);
    tmpl_set_free(NULL);
}

/* tmpl_set_add must refuse `text` with EINVAL, a message holding "t:LINE"
 * and `reason`, and leave the set without "t". */
static void assert_syntax_error(const char *text, int line, const char *reason)
{
    struct tmpl_set *set = NULL;
    struct stk_error err;
    assert_int_equal(tmpl_set_new(&set), STK_OK);
    stk_error_clear(&err);
    enum stk_err rc = tmpl_set_add(set, "t", text, strlen(text), &err);
    char where[32];
    snprintf(where, sizeof(where), "t:%d:", line);
    if (rc != STK_EINVAL || strstr(err.msg, where) == NULL || strstr(err.msg, reason) == NULL) {
        fail_msg("'%s' gave rc %d '%s'; wanted '%s' and '%s'", text, rc, err.msg, where, reason);
    }
    assert_false(tmpl_set_has(set, "t"));
    /* The name stays free for a correct template. */
    assert_int_equal(tmpl_set_add(set, "t", "ok", 2, &err), STK_OK);
    tmpl_set_free(set);
}

static void syntax_errors(void **state)
{
    (void)state;
    assert_syntax_error("line 1\nline 2 {{x", 2, "unclosed tag");
    assert_syntax_error("{{x}", 1, "unclosed tag");
    assert_syntax_error("a\n\n{{{x}}", 3, "unclosed tag");
    assert_syntax_error("{{! never ends", 1, "unclosed tag");
    assert_syntax_error("{{#a}}\nx\n", 1, "never closed");
    assert_syntax_error("x\n{{#a}}{{#b}}\n{{/b}}\n", 2, "never closed");
    assert_syntax_error("{{#a}}\n{{/b}}", 2, "closes a");
    assert_syntax_error("{{#a}}{{#b}}\n\n{{/a}}{{/b}}", 3, "closes b");
    assert_syntax_error("ok\n{{/a}}", 2, "closes nothing");
    assert_syntax_error("{{a b}}", 1, "bad tag name");
    assert_syntax_error("\n{{<x>}}", 2, "bad tag name");
    assert_syntax_error("{{}}", 1, "bad tag name");
    assert_syntax_error("{{#}}{{/}}", 1, "bad tag name");
    assert_syntax_error("{{> }}", 1, "bad tag name");
    assert_syntax_error("{{x\"onload=\"y}}", 1, "bad tag name");
    assert_syntax_error("{{#a}}\n{{b c}}\n{{/a}}", 2, "bad tag name");
}

static void section_nesting_is_bounded(void **state)
{
    (void)state;
    struct buf text;
    buf_init(&text, OUT_MAX);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(buf_append_str(&text, "{{#a}}"), STK_OK);
    }
    for (int i = 0; i < 200; i++) {
        assert_int_equal(buf_append_str(&text, "{{/a}}"), STK_OK);
    }
    struct tmpl_set *set = NULL;
    struct stk_error err;
    assert_int_equal(tmpl_set_new(&set), STK_OK);
    assert_int_equal(tmpl_set_add(set, "deep", text.data, text.len, &err), STK_EINVAL);
    assert_non_null(strstr(err.msg, "deep:1:"));
    assert_non_null(strstr(err.msg, "nested too deeply"));
    assert_false(tmpl_set_has(set, "deep"));
    tmpl_set_free(set);
    buf_release(&text);
}

/* Renders `name` into a buffer that already holds "keep"; asserts failure
 * with `code` and that the buffer still holds exactly "keep". */
static void assert_render_fails(const struct tmpl_set *set, const char *name, const char *ctx_json,
                                size_t max, enum stk_err code, const char *reason)
{
    json_t *ctx = parse_json(ctx_json);
    struct buf out;
    struct stk_error err;
    buf_init(&out, max);
    assert_int_equal(buf_append_str(&out, "keep"), STK_OK);
    stk_error_clear(&err);
    enum stk_err rc = tmpl_render(set, name, ctx, &out, &err);
    if (rc != code || strstr(err.msg, reason) == NULL) {
        fail_msg("rendering '%s' gave %d '%s'; wanted %d '%s'", name, rc, err.msg, code, reason);
    }
    assert_int_equal(err.code, code);
    assert_int_equal(out.len, 4);
    assert_string_equal(out.data, "keep");
    buf_release(&out);
    json_decref(ctx);
}

static void partial_recursion_is_refused(void **state)
{
    (void)state;
    struct tmpl_set *set = NULL;
    struct stk_error err;
    assert_int_equal(tmpl_set_new(&set), STK_OK);
    static const struct {
        const char *name, *text;
    } t[] = {
        {"self", "x{{> self}}"},          {"ping", "p{{> pong}}"},
        {"pong", "q{{> ping}}"},          {"loop", "{{#xs}}{{> loop}}{{/xs}}"},
        {"wide", "{{> self}}{{> self}}"}, {"missing", "a{{> nowhere}}b"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        assert_int_equal(tmpl_set_add(set, t[i].name, t[i].text, strlen(t[i].text), &err), STK_OK);
    }
    assert_render_fails(set, "self", "{}", OUT_MAX, STK_EINVAL, "nested deeper");
    assert_render_fails(set, "ping", "{}", OUT_MAX, STK_EINVAL, "nested deeper");
    assert_render_fails(set, "loop", "{\"xs\": [1, 2, 3]}", OUT_MAX, STK_EINVAL, "nested");
    assert_render_fails(set, "wide", "{}", OUT_MAX, STK_EINVAL, "nested deeper");
    assert_render_fails(set, "missing", "{}", OUT_MAX, STK_ENOTFOUND, "nowhere");
    assert_render_fails(set, "nope", "{}", OUT_MAX, STK_ENOTFOUND, "nope");
    tmpl_set_free(set);
}

static void bounded_recursion_renders(void **state)
{
    (void)state;
    struct tmpl_set *set = NULL;
    struct stk_error err;
    assert_int_equal(tmpl_set_new(&set), STK_OK);
    const char *tree = "({{name}}{{#kids}}{{> tree}}{{/kids}})";
    assert_int_equal(tmpl_set_add(set, "tree", tree, strlen(tree), &err), STK_OK);
    json_t *ctx = parse_json("{\"name\": \"r\", \"kids\": [{\"name\": \"a\", \"kids\": []},"
                             " {\"name\": \"b\", \"kids\": [{\"name\": \"c\", \"kids\": []}]}]}");
    struct buf out;
    buf_init(&out, OUT_MAX);
    assert_int_equal(tmpl_render(set, "tree", ctx, &out, &err), STK_OK);
    assert_string_equal(out.data, "(r(a)(b(c)))");
    buf_release(&out);
    json_decref(ctx);
    tmpl_set_free(set);
}

static void output_cap(void **state)
{
    (void)state;
    struct tmpl_set *set = NULL;
    struct stk_error err;
    assert_int_equal(tmpl_set_new(&set), STK_OK);
    const char *text = "<p>{{x}}</p>{{#xs}}row {{.}}\n{{/xs}}";
    assert_int_equal(tmpl_set_add(set, "t", text, strlen(text), &err), STK_OK);
    /* Fails in literal text, in a value, in an escaped value, in a loop. */
    assert_render_fails(set, "t", "{\"x\": \"\"}", 6, STK_ETOOBIG, "larger than 6");
    assert_render_fails(set, "t", "{\"x\": \"0123456789\"}", 8, STK_ETOOBIG, "larger than 8");
    assert_render_fails(set, "t", "{\"x\": \"<<<<<<\"}", 20, STK_ETOOBIG, "larger than 20");
    json_t *many = json_array();
    for (int i = 0; i < 10000; i++) {
        json_array_append_new(many, json_integer(i));
    }
    json_t *ctx = json_pack("{s:s, s:o}", "x", "", "xs", many);
    struct buf out;
    buf_init(&out, 4096);
    assert_int_equal(buf_append_str(&out, "keep"), STK_OK);
    /* `err` still holds an earlier failure of the same kind: the message
     * must describe this one. */
    stk_error_set(&err, STK_ETOOBIG, "stale");
    assert_int_equal(tmpl_render(set, "t", ctx, &out, &err), STK_ETOOBIG);
    assert_string_equal(out.data, "keep");
    assert_string_equal(err.msg, "rendered output larger than 4096 bytes");
    /* The same render fits once the cap allows it. */
    out.max = OUT_MAX;
    assert_int_equal(tmpl_render(set, "t", ctx, &out, &err), STK_OK);
    assert_non_null(strstr(out.data, "row 9999\n"));
    buf_release(&out);
    json_decref(ctx);
    tmpl_set_free(set);
}

static void unknown_template(void **state)
{
    (void)state;
    struct tmpl_set *set = NULL;
    assert_int_equal(tmpl_set_new(&set), STK_OK);
    assert_render_fails(set, "pages/nope", "{}", OUT_MAX, STK_ENOTFOUND, "pages/nope");
    struct buf out;
    buf_init(&out, OUT_MAX);
    assert_int_equal(tmpl_render(set, "x", NULL, &out, NULL), STK_ENOTFOUND);
    assert_int_equal(out.len, 0);
    buf_release(&out);
    tmpl_set_free(set);
}

static json_t *nav_context(const char *title)
{
    static const char *const pages[][3] = {
        {"/incidents", "Incidents", "incidents"},
        {"/action-center", "Action center", "action-center"},
        {"/hunting", "Hunting", "hunting"},
    };
    json_t *nav = json_array();
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        json_array_append_new(nav, json_pack("{s:s, s:s, s:s, s:b}", "href", pages[i][0], "label",
                                             pages[i][1], "icon", pages[i][2], "current", i == 0));
    }
    return json_pack("{s:o, s:s, s:s}", "nav", nav, "title", title, "version", "0.1.0");
}

static void real_templates(void **state)
{
    (void)state;
    struct tmpl_set *set = NULL;
    struct stk_error err;
    if (tmpl_set_load(STK_SOURCE_DIR "/templates", &set, &err) != STK_OK) {
        fail_msg("loading templates/: %s", err.msg);
    }
    assert_true(tmpl_set_has(set, "pages/incidents"));
    assert_true(tmpl_set_has(set, "partials/layout_begin"));
    assert_true(tmpl_set_has(set, "partials/layout_end"));
    assert_false(tmpl_set_has(set, "pages/incidents.html"));

    json_t *ctx = nav_context("Incidents");
    struct buf out;
    buf_init(&out, OUT_MAX);
    assert_int_equal(tmpl_render(set, "partials/layout_begin", ctx, &out, &err), STK_OK);
    assert_non_null(strstr(out.data, "<title>Incidents"));
    buf_reset(&out);
    assert_int_equal(tmpl_render(set, "pages/incidents", ctx, &out, &err), STK_OK);
    const char *html = out.data;
    assert_true(strncmp(html, "<!doctype html>", 15) == 0);
    assert_non_null(strstr(html, "<title>Incidents"));
    assert_non_null(strstr(html, "v0.1.0"));
    assert_non_null(strstr(html, "<h1>Incidents</h1>"));
    assert_non_null(
        strstr(html, "href=\"/incidents\" data-nav=\"incidents\" aria-current=\"page\""));
    assert_non_null(strstr(html, "href=\"/hunting\" data-nav=\"hunting\"><img"));
    assert_non_null(strstr(html, "<span>Action center</span>"));
    assert_non_null(strstr(html, "</html>"));
    assert_null(strstr(html, "{{"));
    json_decref(ctx);

    /* A hostile title stays text. */
    ctx = nav_context("</title><script>alert(1)</script>");
    buf_reset(&out);
    assert_int_equal(tmpl_render(set, "pages/incidents", ctx, &out, &err), STK_OK);
    assert_null(strstr(out.data, "<script>alert"));
    assert_non_null(strstr(out.data, "&lt;/title&gt;&lt;script&gt;alert(1)"));
    json_decref(ctx);
    buf_release(&out);
    tmpl_set_free(set);
}


static void remove_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

static void load_dir_rules(void **state)
{
    (void)state;
    char dir[] = "/tmp/stk_test_tmpl_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[600], subsub[700];
    snprintf(sub, sizeof(sub), "%s/pages", dir);
    snprintf(subsub, sizeof(subsub), "%s/pages/deep", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(subsub, 0700), 0);
    write_file(dir, "top.html", "top");
    write_file(dir, "notes.txt", "{{ignored");
    write_file(dir, ".hidden.html", "{{ignored");
    write_file(dir, "pages/a.html", "{{> top}}a");
    write_file(dir, "pages/deep/too.html", "{{ignored");

    struct tmpl_set *set = NULL;
    struct stk_error err;
    if (tmpl_set_load(dir, &set, &err) != STK_OK) {
        fail_msg("load: %s", err.msg);
    }
    assert_true(tmpl_set_has(set, "top"));
    assert_true(tmpl_set_has(set, "pages/a"));
    assert_false(tmpl_set_has(set, "notes"));
    assert_false(tmpl_set_has(set, "pages/deep/too"));
    struct buf out;
    buf_init(&out, OUT_MAX);
    assert_int_equal(tmpl_render(set, "pages/a", NULL, &out, &err), STK_OK);
    assert_string_equal(out.data, "topa");
    buf_release(&out);
    tmpl_set_free(set);

    /* One broken template fails the whole load, naming it and its line. */
    write_file(dir, "pages/broken.html", "<p>\n{{#open}}\n");
    set = (void *)&err; /* must come back NULL */
    assert_int_equal(tmpl_set_load(dir, &set, &err), STK_EINVAL);
    assert_null(set);
    assert_non_null(strstr(err.msg, "pages/broken:2:"));

    remove_file(dir, "pages/broken.html");
    remove_file(dir, "pages/deep/too.html");
    remove_file(dir, "pages/a.html");
    remove_file(dir, ".hidden.html");
    remove_file(dir, "notes.txt");
    remove_file(dir, "top.html");
    rmdir(subsub);
    rmdir(sub);
    rmdir(dir);

    set = (void *)&err; /* must come back NULL */
    assert_int_equal(tmpl_set_load("/nonexistent/templates", &set, &err), STK_EIO);
    assert_null(set);
    assert_non_null(strstr(err.msg, "/nonexistent/templates"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(variables_are_escaped),
        cmocka_unit_test(values_are_not_templates),
        cmocka_unit_test(raw_variables),
        cmocka_unit_test(dotted_names),
        cmocka_unit_test(dot_is_current_value),
        cmocka_unit_test(sections),
        cmocka_unit_test(inverted_sections),
        cmocka_unit_test(comments),
        cmocka_unit_test(numbers_and_other_values),
        cmocka_unit_test(missing_names_render_empty),
        cmocka_unit_test(partials),
        cmocka_unit_test(syntax_errors),
        cmocka_unit_test(section_nesting_is_bounded),
        cmocka_unit_test(partial_recursion_is_refused),
        cmocka_unit_test(bounded_recursion_renders),
        cmocka_unit_test(output_cap),
        cmocka_unit_test(unknown_template),
        cmocka_unit_test(real_templates),
        cmocka_unit_test(load_dir_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
