/* server/ingest_json.c: the body pre-scan (depth, element counts, strings
 * skipped), big-integer quoting, RFC 3339 parsing, the typed readers'
 * messages and the address helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest_json.h"

static struct ingest_scan scan_ok(const char *body)
{
    struct ingest_reject rej;
    struct ingest_ctx c;
    struct ingest_scan s;
    ingest_ctx_init(&c, &rej);
    assert_int_equal(ingest_scan_body(&c, body, strlen(body), &s), STK_OK);
    return s;
}

static void scan_counts(void **state)
{
    (void)state;
    struct ingest_scan s = scan_ok("");
    assert_int_equal(s.first, 0);
    assert_int_equal(s.elements, 0);
    s = scan_ok(" [ ] ");
    assert_int_equal(s.first, '[');
    assert_int_equal(s.top_values, 1);
    assert_int_equal(s.elements, 0);
    s = scan_ok("[{\"a\":[1,2,3]}, \"x,y]\", 5, true, [[]]]");
    assert_int_equal(s.elements, 5);
    s = scan_ok("{\"a\":1}\n\n{\"b\":\"}{\"}\n{}");
    assert_int_equal(s.first, '{');
    assert_int_equal(s.top_values, 3);
    assert_int_equal(s.elements, 3);
    s = scan_ok("{\"s\":\"\\\"[[[[\"}");
    assert_int_equal(s.elements, 1);
    s = scan_ok("[1, 9223372036854775807, 9223372036854775808, -9223372036854775809, 1e30]");
    assert_int_equal(s.big_ints, 2);
}

static void scan_depth(void **state)
{
    (void)state;
    char body[200];
    struct ingest_reject rej;
    struct ingest_ctx c;
    struct ingest_scan s;
    memset(body, '[', 64);
    memset(body + 64, ']', 64);
    body[128] = '\0';
    scan_ok(body);
    memset(body, '{', 65);
    body[65] = '\0';
    ingest_ctx_init(&c, &rej);
    assert_int_equal(ingest_scan_body(&c, body, strlen(body), &s), STK_EINVAL);
    assert_int_equal(rej.index, 0);
    assert_string_equal(rej.reason, "element 0: nesting deeper than 64 levels");
    assert_int_equal(c.index, -1);
}

static void element_at(void **state)
{
    (void)state;
    const char *b = "[{\"a\":1},{\"b\":\"x,y\"},{\"c\":";
    assert_int_equal(ingest_element_at(b, strlen(b), 3), 0);
    assert_int_equal(ingest_element_at(b, strlen(b), 12), 1);
    assert_int_equal(ingest_element_at(b, strlen(b), strlen(b)), 2);
    const char *c = "[{},{}] x";
    assert_int_equal(ingest_element_at(c, strlen(c), strlen(c)), -1);
}

static void quoting(void **state)
{
    (void)state;
    const char *in = "{\"a\":18446744073670260079,\"b\":\"18446744073670260079\","
                     "\"c\":[-99999999999999999999,1,9223372036854775807],\"d\":1.8e19}";
    char *out;
    size_t len;
    assert_int_equal(ingest_quote_big_ints(in, strlen(in), &out, &len), STK_OK);
    assert_string_equal(out, "{\"a\":\"18446744073670260079\",\"b\":\"18446744073670260079\","
                             "\"c\":[\"-99999999999999999999\",1,9223372036854775807],"
                             "\"d\":1.8e19}");
    assert_int_equal(len, strlen(out));
    free(out);
    /* An unterminated string is copied as is (jansson refuses it later). */
    assert_int_equal(ingest_quote_big_ints("\"abc\\", 5, &out, &len), STK_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "\"abc\\", 5);
    free(out);
}

static void rfc3339(void **state)
{
    (void)state;
    long long ns;
    assert_int_equal(ingest_parse_rfc3339("2024-05-07T18:54:19.341081180Z", &ns), 0);
    assert_int_equal(ns, 1715108059341081180LL);
    assert_int_equal(ingest_parse_rfc3339("2024-05-07t20:54:19.3+02:00", &ns), 0);
    assert_int_equal(ns, 1715108059300000000LL);
    assert_int_equal(ingest_parse_rfc3339("2000-01-01T00:00:00-01:30", &ns), 0);
    assert_int_equal(ns, 946690200000000000LL);
    assert_int_equal(ingest_parse_rfc3339("2016-12-31T23:59:60Z", &ns), 0);
    static const char *const bad[] = {
        "2024-05-07",
        "2024-05-07T18:54Z",
        "2024-5-07T18:54:19Z",
        "2024-05-07T18:54:19z ",
        "2024-05-07T18:54:19+2:00",
        "2024-05-07T18:54:19+02:60",
        "2024-04-31T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "x",
        "2024-05-07T18:54:19.0000000001Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ingest_parse_rfc3339(bad[i], &ns), -1);
    }
    assert_int_equal(ingest_parse_rfc3339("9999-12-31T23:59:59Z", &ns), 0);
    assert_true(ns == INT64_MAX);
}

static void readers(void **state)
{
    (void)state;
    struct ingest_reject rej;
    struct ingest_ctx c;
    ingest_ctx_init(&c, &rej);
    c.index = 4;
    json_t *o = json_pack("{s:s, s:i, s:b, s:n, s:s, s:[]}", "s", "abc", "i", 7, "b", 1, "n", "na",
                          "<NA>", "a");
    const char *s;
    char buf[4];
    long long v;
    int present, b;
    json_t *arr;
    assert_int_equal(ingest_str(&c, o, "s", "x.s", 4, 0, &s), STK_OK);
    assert_string_equal(s, "abc");
    assert_int_equal(ingest_str(&c, o, "s", "x.s", 3, 0, &s), STK_EINVAL);
    assert_null(s);
    assert_string_equal(rej.reason, "element 4: x.s: 3 bytes exceeds the limit of 2");
    assert_int_equal(rej.index, 4);
    assert_int_equal(ingest_str(&c, o, "n", "x.n", 4, 0, &s), STK_OK);
    assert_null(s);
    assert_int_equal(ingest_str(&c, o, "n", "x.n", 4, INGEST_REQUIRED, &s), STK_EINVAL);
    assert_string_equal(rej.reason, "element 4: x.n: is required");
    assert_int_equal(ingest_str(&c, o, "na", "x.na", 8, INGEST_NA, &s), STK_OK);
    assert_null(s);
    assert_int_equal(ingest_str(&c, o, "na", "x.na", 8, 0, &s), STK_OK);
    assert_string_equal(s, "<NA>");
    assert_int_equal(ingest_str(&c, o, "i", "x.i", 8, 0, &s), STK_EINVAL);
    assert_string_equal(rej.reason, "element 4: x.i: expected a string");
    assert_int_equal(ingest_str_copy(&c, o, "s", "x.s", buf, sizeof(buf), 0), STK_OK);
    assert_string_equal(buf, "abc");
    assert_int_equal(ingest_int(&c, o, "i", "x.i", 0, &v, &present), STK_OK);
    assert_int_equal(v, 7);
    assert_true(present);
    assert_int_equal(ingest_int(&c, o, "na", "x.na", INGEST_NA, &v, &present), STK_OK);
    assert_false(present);
    assert_int_equal(ingest_bool(&c, o, "b", "x.b", 0, &b), STK_OK);
    assert_true(b);
    assert_int_equal(ingest_bool(&c, o, "i", "x.i", 0, &b), STK_EINVAL);
    assert_string_equal(rej.reason, "element 4: x.i: expected true or false");
    assert_int_equal(ingest_array(&c, o, "a", "x.a", 0, 0, &arr), STK_OK);
    assert_int_equal(ingest_object(&c, o, "a", "x.a", 0, &arr), STK_EINVAL);
    assert_null(arr);
    assert_int_equal(ingest_object(&c, NULL, "a", "x.a", 0, &arr), STK_OK);
    assert_null(arr);
    c.index = -1;
    assert_int_equal(ingest_object(&c, NULL, "a", "x.a", INGEST_REQUIRED, &arr), STK_EINVAL);
    assert_string_equal(rej.reason, "x.a: is required");
    assert_int_equal(rej.index, -1);
    json_decref(o);
}

static void addresses(void **state)
{
    (void)state;
    assert_true(ingest_is_ip("192.0.2.1"));
    assert_true(ingest_is_ip("2001:db8::1"));
    assert_false(ingest_is_ip("192.0.2.1:80"));
    assert_false(ingest_is_ip("example.com"));
    assert_false(ingest_is_ip(NULL));
    assert_true(ingest_ip_is_local("127.0.0.1"));
    assert_true(ingest_ip_is_local("127.9.9.9"));
    assert_true(ingest_ip_is_local("0.0.0.0"));
    assert_true(ingest_ip_is_local("::1"));
    assert_true(ingest_ip_is_local("::"));
    assert_true(ingest_ip_is_local("::ffff:127.0.0.1"));
    assert_false(ingest_ip_is_local("10.0.0.1"));
    assert_false(ingest_ip_is_local("::2"));
    assert_false(ingest_ip_is_local("x"));
    char hex[33];
    unsigned char key[16] = {0x00, 0x01, 0xab, 0xff};
    ingest_key_hex(key, hex);
    assert_string_equal(hex, "0001abff000000000000000000000000");
    static const char *const list[] = {"a", "b", NULL};
    assert_true(ingest_one_of("b", list));
    assert_false(ingest_one_of("c", list));
    assert_false(ingest_one_of(NULL, list));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scan_counts), cmocka_unit_test(scan_depth), cmocka_unit_test(element_at),
        cmocka_unit_test(quoting),     cmocka_unit_test(rfc3339),    cmocka_unit_test(readers),
        cmocka_unit_test(addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
