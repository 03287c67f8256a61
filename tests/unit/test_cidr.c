/* server/cidr.c: CIDR list parsing (separators, comments, errors naming the
 * entry) and membership for IPv4, IPv6 and IPv4-mapped addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ingest_parse.h"

static struct cidr_list *parse_ok(const char *text)
{
    struct cidr_list *l = NULL;
    struct stk_error err;
    stk_error_clear(&err);
    assert_int_equal(cidr_list_parse(text, &l, &err), STK_OK);
    assert_non_null(l);
    return l;
}

static void ipv4_ranges(void **state)
{
    (void)state;
    struct cidr_list *l = parse_ok("198.51.100.0/24, 203.0.113.7\n10.1.2.3/8");
    assert_true(cidr_list_contains(l, "198.51.100.0"));
    assert_true(cidr_list_contains(l, "198.51.100.255"));
    assert_false(cidr_list_contains(l, "198.51.101.0"));
    assert_true(cidr_list_contains(l, "203.0.113.7"));
    assert_false(cidr_list_contains(l, "203.0.113.8"));
    /* Host bits of an entry are ignored: 10.1.2.3/8 is 10.0.0.0/8. */
    assert_true(cidr_list_contains(l, "10.200.0.1"));
    assert_false(cidr_list_contains(l, "11.0.0.1"));
    /* IPv4-mapped IPv6 is the same address. */
    assert_true(cidr_list_contains(l, "::ffff:203.0.113.7"));
    assert_false(cidr_list_contains(l, "not an ip"));
    assert_false(cidr_list_contains(l, ""));
    assert_false(cidr_list_contains(l, NULL));
    cidr_list_free(l);
}

static void ipv6_ranges(void **state)
{
    (void)state;
    struct cidr_list *l = parse_ok("2001:db8::/32\n2001:db8:ffff::1/128 # one host\n");
    assert_true(cidr_list_contains(l, "2001:db8::1"));
    assert_true(cidr_list_contains(l, "2001:0db8:1234::"));
    assert_false(cidr_list_contains(l, "2001:db9::1"));
    assert_false(cidr_list_contains(l, "198.51.100.1"));
    cidr_list_free(l);
    l = parse_ok("2001:db8::1:0/112");
    assert_true(cidr_list_contains(l, "2001:db8::1:ffff"));
    assert_false(cidr_list_contains(l, "2001:db8::2:0"));
    cidr_list_free(l);
}

static void prefix_edges(void **state)
{
    (void)state;
    struct cidr_list *l = parse_ok("0.0.0.0/0");
    assert_true(cidr_list_contains(l, "1.2.3.4"));
    assert_true(cidr_list_contains(l, "255.255.255.255"));
    assert_false(cidr_list_contains(l, "2001:db8::1"));
    cidr_list_free(l);
    l = parse_ok("192.0.2.1/31");
    assert_true(cidr_list_contains(l, "192.0.2.0"));
    assert_true(cidr_list_contains(l, "192.0.2.1"));
    assert_false(cidr_list_contains(l, "192.0.2.2"));
    cidr_list_free(l);
    l = parse_ok("192.0.2.0/25");
    assert_true(cidr_list_contains(l, "192.0.2.127"));
    assert_false(cidr_list_contains(l, "192.0.2.128"));
    cidr_list_free(l);
}

static void comments_and_empty(void **state)
{
    (void)state;
    struct cidr_list *l = parse_ok("");
    assert_false(cidr_list_contains(l, "1.2.3.4"));
    cidr_list_free(l);
    l = parse_ok("# tor exits\n\n  # nothing else\r\n");
    assert_false(cidr_list_contains(l, "1.2.3.4"));
    cidr_list_free(l);
    l = parse_ok("# list\n192.0.2.1#inline\n,,\t192.0.2.9 ,");
    assert_true(cidr_list_contains(l, "192.0.2.1"));
    assert_true(cidr_list_contains(l, "192.0.2.9"));
    cidr_list_free(l);
    l = parse_ok(NULL);
    cidr_list_free(l);
    cidr_list_free(NULL);
    assert_false(cidr_list_contains(NULL, "1.2.3.4"));
}

static void bad_entries_named(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"192.0.2.1, 10.0.0.300/8", "entry 2: \"10.0.0.300/8\" is not an IP address or CIDR "
                                    "range"},
        {"10.0.0.0/33", "entry 1: \"10.0.0.0/33\" is not an IP address or CIDR range"},
        {"2001:db8::/129", "entry 1: \"2001:db8::/129\" is not an IP address or CIDR range"},
        {"10.0.0.0/", "entry 1: \"10.0.0.0/\" is not an IP address or CIDR range"},
        {"/8", "entry 1: \"/8\" is not an IP address or CIDR range"},
        {"10.0.0.0/-1", "entry 1: \"10.0.0.0/-1\" is not an IP address or CIDR range"},
        {"10.0.0.0/8/8", "entry 1: \"10.0.0.0/8/8\" is not an IP address or CIDR range"},
        {"example.com", "entry 1: \"example.com\" is not an IP address or CIDR range"},
        {"010.0.0.1", "entry 1: \"010.0.0.1\" is not an IP address or CIDR range"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cidr_list *l = (struct cidr_list *)1;
        struct stk_error err;
        assert_int_equal(cidr_list_parse(cases[i].text, &l, &err), STK_EINVAL);
        assert_null(l);
        assert_string_equal(err.msg, cases[i].msg);
    }
    char longer[200];
    memset(longer, '1', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    struct cidr_list *l = NULL;
    assert_int_equal(cidr_list_parse(longer, &l, NULL), STK_EINVAL);
    assert_null(l);
}

static void many_entries(void **state)
{
    (void)state;
    char text[64 * 300];
    size_t off = 0;
    for (int i = 0; i < 300; i++) {
        off +=
            (size_t)snprintf(text + off, sizeof(text) - off, "10.%d.%d.0/24\n", i / 256, i % 256);
    }
    struct cidr_list *l = parse_ok(text);
    assert_true(cidr_list_contains(l, "10.1.43.9"));
    assert_false(cidr_list_contains(l, "10.1.44.9"));
    cidr_list_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_ranges),       cmocka_unit_test(ipv6_ranges),
        cmocka_unit_test(prefix_edges),      cmocka_unit_test(comments_and_empty),
        cmocka_unit_test(bad_entries_named), cmocka_unit_test(many_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
