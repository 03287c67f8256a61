/* common/frame.c: the agent channel's length-prefixed frames. Whole,
 * split and batched feeds, the length limits, and what a failed feed
 * leaves behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

/* `json` framed into `out` (which must hold 4 + strlen bytes); returns the
 * framed length. */
static size_t framed(const char *json, unsigned char *out)
{
    size_t n = strlen(json);
    assert_int_equal(frame_header(n, out), STK_OK);
    memcpy(out + STK_FRAME_HEADER, json, n);
    return n + STK_FRAME_HEADER;
}

static void header_encoding(void **state)
{
    (void)state;
    unsigned char h[STK_FRAME_HEADER];
    assert_int_equal(frame_header(258, h), STK_OK);
    assert_int_equal(h[0], 0);
    assert_int_equal(h[1], 0);
    assert_int_equal(h[2], 1);
    assert_int_equal(h[3], 2);
    assert_int_equal(frame_header(STK_FRAME_MAX, h), STK_OK);
    assert_int_equal(h[1], 0x10);
    assert_int_equal(frame_header(0, h), STK_ETOOBIG);
    assert_int_equal(frame_header(STK_FRAME_MAX + 1, h), STK_ETOOBIG);
}

static void one_frame_in_one_feed(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t n = framed("{\"type\":\"ping\"}", buf);
    struct frame_reader r;
    frame_reader_init(&r, 0);
    assert_int_equal(r.max, STK_FRAME_MAX);
    size_t used = 99, len = 0;
    char *out = NULL;
    assert_int_equal(frame_reader_feed(&r, buf, n, &used, &out, &len), STK_OK);
    assert_int_equal(used, n);
    assert_non_null(out);
    assert_int_equal(len, 15);
    assert_string_equal(out, "{\"type\":\"ping\"}"); /* NUL-terminated */
    free(out);
    frame_reader_release(&r);
}

static void byte_by_byte(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t n = framed("{\"a\":1}", buf);
    struct frame_reader r;
    frame_reader_init(&r, 0);
    for (size_t i = 0; i < n; i++) {
        size_t used = 0, len = 0;
        char *out = NULL;
        assert_int_equal(frame_reader_feed(&r, buf + i, 1, &used, &out, &len), STK_OK);
        assert_int_equal(used, 1);
        if (i + 1 < n) {
            assert_null(out);
            assert_int_equal(len, 0);
        } else {
            assert_non_null(out);
            assert_int_equal(len, 7);
            assert_memory_equal(out, "{\"a\":1}", 7);
            free(out);
        }
    }
    frame_reader_release(&r);
}

static void header_split_then_payload_split(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t n = framed("{\"type\":\"facts\"}", buf);
    struct frame_reader r;
    frame_reader_init(&r, 0);
    size_t used = 0, len = 0;
    char *out = NULL;
    const size_t cuts[] = {0, 3, 6, 10, n};
    for (size_t k = 0; k + 1 < sizeof(cuts) / sizeof(cuts[0]); k++) {
        assert_int_equal(
            frame_reader_feed(&r, buf + cuts[k], cuts[k + 1] - cuts[k], &used, &out, &len), STK_OK);
        assert_int_equal(used, cuts[k + 1] - cuts[k]);
        if (cuts[k + 1] < n) {
            assert_null(out);
        }
    }
    assert_non_null(out);
    assert_string_equal(out, "{\"type\":\"facts\"}");
    free(out);
    frame_reader_release(&r);
}

static void many_frames_in_one_feed(void **state)
{
    (void)state;
    unsigned char buf[4096];
    size_t total = 0;
    char expect[50][32];
    for (int i = 0; i < 50; i++) {
        snprintf(expect[i], sizeof(expect[i]), "{\"t\":%d}", i);
        total += framed(expect[i], buf + total);
    }
    struct frame_reader r;
    frame_reader_init(&r, 0);
    size_t pos = 0;
    int got = 0;
    while (pos < total) {
        size_t used = 0, len = 0;
        char *out = NULL;
        assert_int_equal(frame_reader_feed(&r, buf + pos, total - pos, &used, &out, &len), STK_OK);
        /* It stops after each whole frame: the caller sees every one. */
        assert_non_null(out);
        assert_string_equal(out, expect[got]);
        free(out);
        got++;
        pos += used;
    }
    assert_int_equal(got, 50);
    assert_int_equal(pos, total);
    frame_reader_release(&r);
}

static void zero_length_is_refused(void **state)
{
    (void)state;
    unsigned char buf[8] = {0, 0, 0, 0, '{', '}', 0, 0};
    struct frame_reader r;
    frame_reader_init(&r, 0);
    size_t used = 0, len = 7;
    char *out = (char *)1;
    assert_int_equal(frame_reader_feed(&r, buf, sizeof(buf), &used, &out, &len), STK_EINVAL);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_int_equal(used, 4);
    frame_reader_release(&r);
}

static void oversized_is_refused_before_any_payload(void **state)
{
    (void)state;
    unsigned char h[4] = {0x00, 0x10, 0x00, 0x01}; /* 1 MiB + 1 */
    struct frame_reader r;
    frame_reader_init(&r, 0);
    size_t used = 0, len = 0;
    char *out = NULL;
    assert_int_equal(frame_reader_feed(&r, h, 4, &used, &out, &len), STK_ETOOBIG);
    assert_null(out);
    assert_null(r.payload);
    frame_reader_release(&r);

    unsigned char big[4] = {0xff, 0xff, 0xff, 0xff};
    frame_reader_init(&r, 0);
    assert_int_equal(frame_reader_feed(&r, big, 4, &used, &out, &len), STK_ETOOBIG);
    frame_reader_release(&r);
}

static void own_limit_is_applied_and_clamped(void **state)
{
    (void)state;
    unsigned char buf[64];
    struct frame_reader r;
    frame_reader_init(&r, 10);
    size_t used = 0, len = 0;
    char *out = NULL;
    size_t n = framed("0123456789", buf);
    assert_int_equal(frame_reader_feed(&r, buf, n, &used, &out, &len), STK_OK);
    assert_non_null(out);
    free(out);
    n = framed("0123456789a", buf);
    assert_int_equal(frame_reader_feed(&r, buf, n, &used, &out, &len), STK_ETOOBIG);
    assert_null(out);
    frame_reader_release(&r);
    assert_int_equal(r.max, 10); /* release keeps the limit for reuse */

    frame_reader_init(&r, (size_t)STK_FRAME_MAX * 4);
    assert_int_equal(r.max, STK_FRAME_MAX);
    frame_reader_release(&r);
}

static void memory_follows_the_bytes_not_the_announcement(void **state)
{
    (void)state;
    unsigned char buf[16] = {0x00, 0x10, 0x00, 0x00, 'a', 'b'}; /* announces 1 MiB */
    struct frame_reader r;
    frame_reader_init(&r, 0);
    size_t used = 0, len = 0;
    char *out = NULL;
    assert_int_equal(frame_reader_feed(&r, buf, 6, &used, &out, &len), STK_OK);
    assert_null(out);
    assert_int_equal(r.want, STK_FRAME_MAX);
    assert_int_equal(r.have, 2);
    /* Released mid-frame: nothing leaks (ASan checks). */
    frame_reader_release(&r);
    assert_null(r.payload);
    assert_int_equal(r.want, 0);
}

static void exactly_the_limit_is_accepted(void **state)
{
    (void)state;
    size_t n = STK_FRAME_MAX;
    unsigned char *buf = malloc(n + STK_FRAME_HEADER);
    assert_non_null(buf);
    assert_int_equal(frame_header(n, buf), STK_OK);
    memset(buf + STK_FRAME_HEADER, 'x', n);
    struct frame_reader r;
    frame_reader_init(&r, 0);
    size_t used = 0, len = 0;
    char *out = NULL;
    assert_int_equal(frame_reader_feed(&r, buf, n + STK_FRAME_HEADER, &used, &out, &len), STK_OK);
    assert_non_null(out);
    assert_int_equal(len, n);
    assert_int_equal(out[n], '\0');
    free(out);
    free(buf);
    frame_reader_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_encoding),
        cmocka_unit_test(one_frame_in_one_feed),
        cmocka_unit_test(byte_by_byte),
        cmocka_unit_test(header_split_then_payload_split),
        cmocka_unit_test(many_frames_in_one_feed),
        cmocka_unit_test(zero_length_is_refused),
        cmocka_unit_test(oversized_is_refused_before_any_payload),
        cmocka_unit_test(own_limit_is_applied_and_clamped),
        cmocka_unit_test(memory_follows_the_bytes_not_the_announcement),
        cmocka_unit_test(exactly_the_limit_is_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
