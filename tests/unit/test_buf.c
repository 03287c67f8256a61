/* common/buf.c: capped growth, failure leaves the buffer as it was, HTML
 * escaping, buf_take. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void init_is_empty(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 100);
    buf_release(&b);
    buf_release(&b);
    assert_null(b.data);
}

static void append_and_printf(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1000);
    assert_int_equal(buf_append(&b, "ab", 2), STK_OK);
    assert_int_equal(buf_append_str(&b, "cd"), STK_OK);
    assert_int_equal(buf_printf(&b, "-%d-%s", 42, "x"), STK_OK);
    assert_int_equal(b.len, 9);
    assert_string_equal(b.data, "abcd-42-x");
    assert_int_equal(buf_append(&b, NULL, 0), STK_OK);
    assert_string_equal(b.data, "abcd-42-x");
    buf_release(&b);
}

static void grows_past_first_block(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    char chunk[1000];
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 100; i++) {
        assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), STK_OK);
    }
    assert_int_equal(b.len, 100000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(b.data[99999], 'z');
    buf_release(&b);
}

static void cap_is_exact(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append_str(&b, "12345678"), STK_OK);
    assert_int_equal(b.len, 8);
    assert_int_equal(buf_append(&b, "9", 1), STK_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    buf_release(&b);
}

static void failed_append_leaves_buffer_unchanged(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append_str(&b, "keep"), STK_OK);
    assert_int_equal(buf_append_str(&b, "too long!"), STK_ETOOBIG);
    assert_string_equal(b.data, "keep");
    assert_int_equal(b.len, 4);
    assert_int_equal(buf_printf(&b, "%s", "1234567"), STK_ETOOBIG);
    assert_string_equal(b.data, "keep");
    assert_int_equal(b.len, 4);
    /* Still usable up to the cap afterwards. */
    assert_int_equal(buf_printf(&b, "%d", 123456), STK_OK);
    assert_string_equal(b.data, "keep123456");
    buf_release(&b);
}

static void empty_buffer_refuses_oversized_first_append(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 3);
    assert_int_equal(buf_append_str(&b, "abcd"), STK_ETOOBIG);
    assert_int_equal(b.len, 0);
    char *s = buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
}

static void huge_length_does_not_wrap(void **state)
{
    (void)state;
    /* An uncapped buffer must still refuse a length that would wrap the
     * size computation instead of "reserving" 0 bytes and copying. */
    struct buf b;
    buf_init(&b, SIZE_MAX);
    assert_int_equal(buf_append_str(&b, "x"), STK_OK);
    assert_int_not_equal(buf_append(&b, "y", SIZE_MAX - 1), STK_OK);
    assert_int_equal(b.len, 1);
    assert_string_equal(b.data, "x");
    buf_release(&b);
}

static void html_escapes_the_five(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1000);
    const char *in = "<a href=\"x\" title='t'>Tom & Jerry</a>";
    assert_int_equal(buf_append_html(&b, in, strlen(in)), STK_OK);
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot; title=&#39;t&#39;&gt;Tom &amp; "
                                "Jerry&lt;/a&gt;");
    buf_reset(&b);
    assert_int_equal(buf_append_html(&b, "&amp;", 5), STK_OK);
    assert_string_equal(b.data, "&amp;amp;");
    buf_reset(&b);
    assert_int_equal(buf_append_html(&b, "plain text", 10), STK_OK);
    assert_string_equal(b.data, "plain text");
    buf_reset(&b);
    /* Only `len` bytes are read. */
    assert_int_equal(buf_append_html(&b, "<<<", 1), STK_OK);
    assert_string_equal(b.data, "&lt;");
    buf_release(&b);
}

static void html_failure_is_all_or_nothing(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 12);
    assert_int_equal(buf_append_str(&b, "ab"), STK_OK);
    /* Fails on an entity in the middle. */
    assert_int_equal(buf_append_html(&b, "x<y<z<", 6), STK_ETOOBIG);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    /* Fails on the plain tail after the last entity. */
    assert_int_equal(buf_append_html(&b, "<abcdefgh", 9), STK_ETOOBIG);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    assert_int_equal(buf_append_html(&b, "<&", 2), STK_OK);
    assert_string_equal(b.data, "ab&lt;&amp;");
    buf_release(&b);
}

static void take_transfers_and_empties(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    char *empty = buf_take(&b);
    assert_non_null(empty);
    assert_string_equal(empty, "");
    free(empty);

    assert_int_equal(buf_append_str(&b, "hello"), STK_OK);
    char *s = buf_take(&b);
    assert_string_equal(s, "hello");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 100);
    free(s);

    /* Reusable after take. */
    assert_int_equal(buf_append_str(&b, "again"), STK_OK);
    assert_string_equal(b.data, "again");
    buf_release(&b);
}

static void reset_keeps_memory(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    buf_reset(&b);
    assert_int_equal(buf_append_str(&b, "abc"), STK_OK);
    char *before = b.data;
    size_t cap = b.cap;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_ptr_equal(b.data, before);
    assert_int_equal(b.cap, cap);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_is_empty),
        cmocka_unit_test(append_and_printf),
        cmocka_unit_test(grows_past_first_block),
        cmocka_unit_test(cap_is_exact),
        cmocka_unit_test(failed_append_leaves_buffer_unchanged),
        cmocka_unit_test(empty_buffer_refuses_oversized_first_append),
        cmocka_unit_test(huge_length_does_not_wrap),
        cmocka_unit_test(html_escapes_the_five),
        cmocka_unit_test(html_failure_is_all_or_nothing),
        cmocka_unit_test(take_transfers_and_empties),
        cmocka_unit_test(reset_keeps_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
