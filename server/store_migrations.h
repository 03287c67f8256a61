/* SQL for the schema_migrations table. */
#ifndef STK_STORE_MIGRATIONS_H
#define STK_STORE_MIGRATIONS_H

#include "db.h"

struct applied_migration {
    int version;
    char name[256];
    char checksum[65];
};

/* Creates schema_migrations when missing. */
enum stk_err store_migrations_ensure(struct db *db, struct stk_error *err);

/* Reads the applied rows in version order into a new array.
 * Caller owns `*out`; free with free(). */
enum stk_err store_migrations_list(struct db *db, struct applied_migration **out, size_t *count,
                                   struct stk_error *err);

/* Runs one migration's SQL and records it, in one transaction. `*ran` is 0
 * when another process applied that version first (then nothing is done). */
enum stk_err store_migrations_run(struct db *db, int version, const char *name, const char *sql,
                                  const char *checksum, int *ran, struct stk_error *err);

/* Highest applied version (0 when none) — the health check's query. */
enum stk_err store_migrations_version(struct db *db, int *version, struct stk_error *err);

#endif
