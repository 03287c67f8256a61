/* SQL for roles and role_permissions. */
#ifndef STK_STORE_ROLES_H
#define STK_STORE_ROLES_H

#include <stddef.h>

#include "db.h"
#include "identity.h"

/* STK_ENOTFOUND when there is no such role. */
enum stk_err store_roles_get_by_name(struct db *db, const char *name, struct role *out,
                                     struct stk_error *err);

/* All roles by id. Caller owns `*out` (free()). */
enum stk_err store_roles_list(struct db *db, struct role **out, size_t *count,
                              struct stk_error *err);

/* Adds a custom role with the permissions of `perms` (a mask of
 * PERMBIT_*). STK_ECONFLICT when the name is taken. Call inside a
 * transaction: it writes two tables. */
enum stk_err store_roles_insert(struct db *db, const char *name, const char *description,
                                unsigned perms, long long now, long long *id,
                                struct stk_error *err);

#endif
