/* What svc_actions.c and svc_actions_agent.c share, and nothing else uses:
 * the clock, the audit entry and the incident-history note of an action,
 * and the end of a transaction. */
#ifndef STK_SVC_ACTIONS_INT_H
#define STK_SVC_ACTIONS_INT_H

#include <jansson.h>

#include "db.h"
#include "identity.h"
#include "store_actions.h"

/* Milliseconds since the epoch (CLOCK_REALTIME). */
long long svc_actions_now_ms(void);

/* Appends the audit entry `what` for action `id` (0: none yet, as for a
 * refused request); takes over `details_taken`. */
enum stk_err svc_actions_audit(struct db *db, const struct actor *by, const char *what,
                               long long id, const char *outcome, json_t *details_taken,
                               struct stk_error *err);

/* "Isolation", "Termination", "Release from isolation". */
const char *svc_actions_verb(const char *type);

/* Notes `summary` in the history of the action's incident (none: no-op). */
enum stk_err svc_actions_history(struct db *db, const struct action *a, const char *actor,
                                 const char *kind, const char *summary, struct stk_error *err);

/* Commits when `rc` is STK_OK, else (or when the commit fails) rolls back. */
enum stk_err svc_actions_finish(struct db *db, enum stk_err rc, struct stk_error *err);

#endif
