/* Authentication and authorization rules: login with throttling, session
 * and bearer-token checks, and the one function that decides every
 * authorization. No SQL, no civetweb. */
#ifndef STK_SVC_AUTH_H
#define STK_SVC_AUTH_H

#include <jansson.h>
#include <stddef.h>

#include "db.h"
#include "identity.h"

#define STK_PASSWORD_MIN 8
#define STK_PASSWORD_MAX 1024
#define STK_SESSION_TOKEN_LEN 43 /* 32 bytes, base64url */
#define STK_API_TOKEN_PREFIX "stk_"
#define STK_LOGIN_FREE_FAILURES 5
#define STK_LOGIN_MAX_DELAY 900
#define STK_LOGIN_MAX_PARALLEL_PER_IP 4 /* password checks in flight per address */

/* Password checks in flight, per user name and per address (process-wide,
 * in memory: nothing to undo after a crash). */
struct login_gate;

/* Caller owns `*out`; free with svc_auth_gate_free(). */
enum stk_err svc_auth_gate_new(struct login_gate **out);
void svc_auth_gate_free(struct login_gate *g);

struct auth_policy {
    long long session_idle_s; /* a session unused this long ends */
    long long session_max_s;  /* and every session ends this long after login */
    struct login_gate *gate;  /* shared by every sign-in of the process */
};

/* ---- permissions ---- */

/* The label of a permission bit ("Response: Manage"), or "" if unknown. */
const char *svc_auth_perm_label(unsigned bit);

/* The one authorization decision. Returns 1 when `perms` satisfy `required`;
 * otherwise 0 and `*missing` (if not NULL) gets the label of a permission
 * that is lacking, for "Requires <label>". PERM_UNDECLARED is never
 * allowed. */
int svc_auth_allows(const struct principal *who, enum perm required, const char **missing);

/* Parses "alerts:read,response:manage" (also a JSON array via
 * svc_auth_perms_from_json) into a mask with implied reads added.
 * Unknown names, duplicates, an empty list, and response:manage without
 * alerts:manage are STK_EINVAL. */
enum stk_err svc_auth_perms_parse(const char *list, unsigned *mask, struct stk_error *err);
enum stk_err svc_auth_perms_from_json(const json_t *arr, unsigned *mask, struct stk_error *err);

/* The mask as a JSON array of names. Caller owns the result. */
json_t *svc_auth_perms_to_json(unsigned mask);

/* The mask as "alerts:read,alerts:manage" into `out` (size `n`, always
 * terminated; 96 bytes hold every permission). */
void svc_auth_perms_to_csv(unsigned mask, char *out, size_t n);

/* ---- login and sessions ---- */

struct login_request {
    const char *username;
    const char *password;
    size_t password_len;
    const char *source_ip;
    const char *user_agent;
};

struct login_result {
    char token[STK_SESSION_TOKEN_LEN + 1]; /* cookie value: secret */
    char csrf_token[64];
    long long expires_at;
    long long retry_after; /* seconds, with STK_ELIMIT */
    struct principal who;
};

/* Checks the throttle before any hashing; lets one password check per user
 * name (and a few per address) run at a time, so parallel guesses are
 * checked and counted one after the other; verifies the password (the same
 * work and answer for unknown users, disabled users and wrong passwords);
 * records failures (from the fifth, the key is blocked 2, 4, 8 ... s); on
 * success opens a new session (a fresh token every time: no fixation).
 * Every attempt is audited. STK_EAUTH for bad credentials, STK_ELIMIT with
 * retry_after when throttled or busy, STK_EINVAL for malformed input. The
 * token is wiped from `out` on failure. */
enum stk_err svc_auth_login(struct db *db, const struct auth_policy *pol,
                            const struct login_request *req, struct login_result *out,
                            struct stk_error *err);

/* Resolves a session cookie value. STK_EAUTH when missing, unknown,
 * expired (idle or absolute; the session is then deleted) or its user is
 * disabled. */
enum stk_err svc_auth_session(struct db *db, const struct auth_policy *pol, const char *token,
                              struct principal *out, struct stk_error *err);

/* Ends the caller's session and audits it. */
enum stk_err svc_auth_logout(struct db *db, const struct principal *who, const char *source_ip,
                             struct stk_error *err);

/* Resolves an "Authorization: Bearer" token. STK_EAUTH with a reason
 * (malformed, unknown, revoked, expired). */
enum stk_err svc_auth_bearer(struct db *db, const char *token, struct principal *out,
                             struct stk_error *err);

/* Deletes expired sessions. */
enum stk_err svc_auth_purge(struct db *db, const struct auth_policy *pol, struct stk_error *err);

/* ---- input checks shared with the CLI ---- */

/* 1..64 bytes of letters, digits, '.', '_', '-', '@'. */
int svc_auth_name_ok(const char *name);

/* STK_EINVAL with a reason unless 8..1024 bytes with no NUL. */
enum stk_err svc_auth_password_ok(const char *password, size_t len, struct stk_error *err);

#endif
