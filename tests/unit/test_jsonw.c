/* jsonw: the streaming writer's output parses back to what was written,
 * hostile strings stay strings, misuse and a full buffer are reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

static json_t *parse(const struct buf *b)
{
    json_error_t jerr;
    json_t *v = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        fail_msg("not JSON (%s): %.*s", jerr.text, (int)b->len, b->data);
    }
    return v;
}

static void round_trip(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    struct jw w;
    jw_init(&w, &b);
    jw_object(&w);
    jw_key(&w, "s");
    jw_str(&w, "quote \" backslash \\ slash / tab\t nl\n cr\r bell\a nul-free \x1f end");
    jw_key(&w, "script");
    jw_str(&w, "</script><script>alert(1)</script>");
    jw_key(&w, "utf8");
    jw_str(&w, "caf\xc3\xa9 \xe4\xba\x8b\xe4\xbb\xb6 \xf0\x9f\x91\x91");
    jw_key(&w, "n");
    jw_int(&w, -9007199254740993LL);
    jw_key(&w, "list");
    jw_array(&w);
    jw_bool(&w, 1);
    jw_bool(&w, 0);
    jw_null(&w);
    jw_raw(&w, "{\"a\":[1,2]}", "{}");
    jw_raw(&w, NULL, "[]");
    jw_time_ms(&w, 1790000000123LL);
    jw_time_ms(&w, 0);
    jw_end(&w);
    jw_key(&w, "empty");
    jw_object(&w);
    jw_end(&w);
    jw_end(&w);
    assert_int_equal(w.rc, STK_OK);
    assert_int_equal(w.depth, 0);
    json_t *v = parse(&b);
    assert_string_equal(json_string_value(json_object_get(v, "s")),
                        "quote \" backslash \\ slash / tab\t nl\n cr\r bell\a nul-free \x1f end");
    assert_string_equal(json_string_value(json_object_get(v, "script")),
                        "</script><script>alert(1)</script>");
    assert_string_equal(json_string_value(json_object_get(v, "utf8")),
                        "caf\xc3\xa9 \xe4\xba\x8b\xe4\xbb\xb6 \xf0\x9f\x91\x91");
    assert_true(json_integer_value(json_object_get(v, "n")) == -9007199254740993LL);
    json_t *list = json_object_get(v, "list");
    assert_int_equal(json_array_size(list), 7);
    assert_true(json_is_true(json_array_get(list, 0)));
    assert_true(json_is_false(json_array_get(list, 1)));
    assert_true(json_is_null(json_array_get(list, 2)));
    assert_int_equal(json_array_size(json_object_get(json_array_get(list, 3), "a")), 2);
    assert_int_equal(json_array_size(json_array_get(list, 4)), 0);
    assert_string_equal(json_string_value(json_array_get(list, 5)), "2026-09-21T14:13:20.123Z");
    assert_true(json_is_null(json_array_get(list, 6)));
    json_decref(v);
    buf_release(&b);
}

static void invalid_utf8_becomes_replacement(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xc3", "\x80x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf b;
        buf_init(&b, 1024);
        struct jw w;
        jw_init(&w, &b);
        jw_str(&w, bad[i]);
        assert_int_equal(w.rc, STK_OK);
        json_t *v = parse(&b);
        assert_non_null(strstr(json_string_value(v), "\xef\xbf\xbd"));
        json_decref(v);
        buf_release(&b);
    }
}

static void misuse_is_reported(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    struct jw w;
    jw_init(&w, &b);
    jw_object(&w);
    jw_int(&w, 1); /* a value with no key */
    assert_int_equal(w.rc, STK_EINTERNAL);
    buf_release(&b);

    buf_init(&b, 1024);
    jw_init(&w, &b);
    jw_end(&w); /* nothing open */
    assert_int_equal(w.rc, STK_EINTERNAL);
    buf_release(&b);

    buf_init(&b, 1024);
    jw_init(&w, &b);
    jw_array(&w);
    jw_key(&w, "k"); /* a key in an array */
    assert_int_equal(w.rc, STK_EINTERNAL);
    buf_release(&b);

    buf_init(&b, 1 << 16);
    jw_init(&w, &b);
    for (int i = 0; i < JW_MAX_DEPTH + 1; i++) {
        jw_array(&w);
    }
    assert_int_equal(w.rc, STK_EINTERNAL);
    buf_release(&b);
}

static void a_full_buffer_stops_the_writer(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    struct jw w;
    jw_init(&w, &b);
    jw_array(&w);
    for (int i = 0; i < 100; i++) {
        jw_str(&w, "0123456789");
    }
    assert_int_equal(w.rc, STK_ETOOBIG);
    assert_true(b.len <= 64);
    buf_release(&b);
}

/* jw_str and jw_json write the very bytes json_dumps() writes (the Falco
 * evidence relies on it: it used to be a dumped tree). */
static void same_bytes_as_jansson(void **state)
{
    (void)state;
    static const char *const text =
        "{\"s\":\"tab\\t nl\\n q\\\" bs\\\\ sl / \\u0001 \\u001f \\u007f caf\\u00e9 "
        "\\ud83d\\ude00 \\u2028\",\"k\\u0002\":[1,-9223372036854775808,1.5,1e300,-0.0,0.1,"
        "1E-7,true,false,null,{},[],{\"z\":{\"y\":[[\"deep\"]]},\"a\":\"\"}],\"b\":\"x\"}";
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(v);
    char *want = json_dumps(v, JSON_COMPACT);
    struct buf b;
    buf_init(&b, 1 << 16);
    struct jw w;
    jw_init(&w, &b);
    jw_json(&w, v);
    assert_int_equal(w.rc, STK_OK);
    assert_string_equal(b.data, want);
    free(want);

    buf_reset(&b);
    jw_init(&w, &b);
    jw_str(&w, json_string_value(json_object_get(v, "s")));
    want = json_dumps(json_object_get(v, "s"), JSON_COMPACT | JSON_ENCODE_ANY);
    assert_string_equal(b.data, want);
    assert_non_null(strstr(b.data, "\\u001F"));
    free(want);
    json_decref(v);

    /* Nesting deeper than JW_MAX_DEPTH is the value's own. */
    buf_reset(&b);
    jw_init(&w, &b);
    v = json_array();
    json_t *in = v;
    for (int i = 0; i < JW_MAX_DEPTH * 2; i++) {
        json_t *next = json_array();
        json_array_append_new(in, next);
        in = next;
    }
    jw_object(&w);
    jw_key(&w, "v");
    jw_json(&w, v);
    jw_end(&w);
    assert_int_equal(w.rc, STK_OK);
    json_decref(v);
    v = parse(&b);
    json_decref(v);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(invalid_utf8_becomes_replacement),
        cmocka_unit_test(misuse_is_reported),
        cmocka_unit_test(a_full_buffer_stops_the_writer),
        cmocka_unit_test(same_bytes_as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
