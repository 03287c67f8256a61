/* Helpers shared by the unit tests. Include after <cmocka.h>. */
#ifndef STK_TESTUTIL_H
#define STK_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>

/* Writes `text` to `dir`/`name`, failing the test when it cannot. */
static inline void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Reads the whole file at `path` (NUL-terminated), failing the test when
 * it cannot. Caller frees. */
static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

#endif
