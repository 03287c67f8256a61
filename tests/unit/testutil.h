/* Helpers shared by the unit tests. Include after <cmocka.h>. */
#ifndef STK_TESTUTIL_H
#define STK_TESTUTIL_H

#include <stdio.h>

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

#endif
