/* Numbered schema migrations: applied in order, once each, each in its own
 * transaction, recorded with a checksum in schema_migrations. */
#ifndef STK_MIGRATE_H
#define STK_MIGRATE_H

#include <stddef.h>

#include "db.h"
#include "err.h"

struct migration {
    int version;      /* NNNN of NNNN_verb_noun.sql, starting at 1 */
    const char *name; /* the file name */
    const char *sql;
    size_t sql_len;
};

struct migration_set {
    const struct migration *items; /* sorted by version, 1..count */
    size_t count;
    void *owned; /* storage of a set loaded from disk, else NULL */
};

/* The migrations compiled into the binary from migrations/. Never NULL. */
const struct migration_set *migrate_builtin(void);

/* Loads NNNN_*.sql files from `dir`. Versions must run 1..N with no gap or
 * duplicate. Caller frees with migrate_set_release(). */
enum stk_err migrate_load_dir(const char *dir, struct migration_set *out, struct stk_error *err);

/* Frees a set filled by migrate_load_dir(). */
void migrate_set_release(struct migration_set *set);

/* Checks the applied migrations against `set` and applies the missing ones.
 * Refuses (STK_ECONFLICT, database untouched) a database whose schema is
 * newer than `set` or whose applied migrations differ from `set` (altered
 * file, other name). `*applied` gets how many ran, `*version` the schema
 * version after; either may be NULL. */
enum stk_err migrate_apply(struct db *db, const struct migration_set *set, int *applied,
                           int *version, struct stk_error *err);

/* Hex BLAKE2b-256 of `sql` into `out` (65 bytes). */
void migrate_checksum(const char *sql, size_t len, char out[65]);

#endif
