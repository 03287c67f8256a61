#include "svc_auth.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "stk_crypto.h"
#include "store_sessions.h"
#include "store_throttle.h"
#include "store_tokens.h"
#include "store_users.h"
#include "svc_audit.h"

/* A valid argon2id hash (INTERACTIVE limits) of a password nobody has:
 * verified against for unknown users so they cost the same as known ones. */
static const char dummy_hash[] = "$argon2id$v=19$m=65536,t=2,p=1$oRDc8bAKYBxyRtU0U2xhVQ$"
                                 "UR7Kl0tFzhUb9XNpZE4nJiJXTgv/kY9HT1x18tjFQrM";

/* Sessions and tokens are touched at most this often: a write per request
 * would serialise every reader behind the database's one writer. */
#define TOUCH_EVERY_S 60

static const struct {
    unsigned bit;
    const char *name;
    const char *label;
} perm_table[] = {
    {PERMBIT_ALERTS_READ, "alerts:read", "Alerts: Read"},
    {PERMBIT_ALERTS_MANAGE, "alerts:manage", "Alerts: Manage"},
    {PERMBIT_RESPONSE_READ, "response:read", "Response: Read"},
    {PERMBIT_RESPONSE_MANAGE, "response:manage", "Response: Manage"},
    {PERMBIT_ADMIN, "admin", "Administration"},
};
#define PERM_COUNT (sizeof(perm_table) / sizeof(perm_table[0]))

static long long now_s(void)
{
    return (long long)time(NULL);
}

const char *svc_auth_perm_label(unsigned bit)
{
    for (size_t i = 0; i < PERM_COUNT; i++) {
        if (perm_table[i].bit == bit) {
            return perm_table[i].label;
        }
    }
    return "";
}

int svc_auth_allows(const struct principal *who, enum perm required, const char **missing)
{
    unsigned need = 0;
    if (missing != NULL) {
        *missing = NULL;
    }
    switch (required) {
    case PERM_UNDECLARED:
        return 0;
    case PERM_PUBLIC:
        return 1;
    case PERM_SIGNED_IN:
        return who->kind != PRINCIPAL_NONE;
    case PERM_ALERTS_READ:
        need = PERMBIT_ALERTS_READ;
        break;
    case PERM_ALERTS_MANAGE:
        need = PERMBIT_ALERTS_MANAGE;
        break;
    case PERM_RESPONSE_READ:
        need = PERMBIT_RESPONSE_READ;
        break;
    case PERM_RESPONSE_MANAGE:
        need = PERMBIT_RESPONSE_MANAGE | PERMBIT_ALERTS_MANAGE;
        break;
    case PERM_ADMIN:
        need = PERMBIT_ADMIN;
        break;
    }
    if (who->kind == PRINCIPAL_NONE) {
        return 0;
    }
    unsigned lacking = need & ~who->perms;
    if (lacking == 0) {
        return 1;
    }
    if (missing != NULL) {
        /* Name the permission the route is about first. */
        unsigned first = (lacking & PERMBIT_RESPONSE_MANAGE) ? PERMBIT_RESPONSE_MANAGE : lacking;
        first &= ~(first - 1);
        *missing = svc_auth_perm_label(first);
    }
    return 0;
}

static unsigned normalise(unsigned mask)
{
    if (mask & PERMBIT_ALERTS_MANAGE) {
        mask |= PERMBIT_ALERTS_READ;
    }
    if (mask & PERMBIT_RESPONSE_MANAGE) {
        mask |= PERMBIT_RESPONSE_READ;
    }
    return mask;
}

static enum stk_err add_perm(const char *name, size_t len, unsigned *mask, struct stk_error *err)
{
    for (size_t i = 0; i < PERM_COUNT; i++) {
        if (strlen(perm_table[i].name) == len && strncmp(perm_table[i].name, name, len) == 0) {
            if (*mask & perm_table[i].bit) {
                return stk_error_set(err, STK_EINVAL, "permission '%s' is listed twice",
                                     perm_table[i].name);
            }
            *mask |= perm_table[i].bit;
            return STK_OK;
        }
    }
    return stk_error_set(err, STK_EINVAL,
                         "unknown permission '%.*s' (use alerts:read, alerts:manage, "
                         "response:read, response:manage, admin)",
                         (int)(len > 40 ? 40 : len), name);
}

static enum stk_err check_mask(unsigned mask, struct stk_error *err)
{
    if (mask == 0) {
        return stk_error_set(err, STK_EINVAL, "at least one permission is needed");
    }
    if ((mask & PERMBIT_RESPONSE_MANAGE) && !(mask & PERMBIT_ALERTS_MANAGE)) {
        return stk_error_set(err, STK_EINVAL, "response:manage requires alerts:manage too");
    }
    return STK_OK;
}

enum stk_err svc_auth_perms_parse(const char *list, unsigned *mask, struct stk_error *err)
{
    *mask = 0;
    unsigned m = 0;
    const char *p = list;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        enum stk_err rc = add_perm(p, len, &m, err);
        if (rc != STK_OK) {
            return rc;
        }
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                return stk_error_set(err, STK_EINVAL, "empty permission name");
            }
        }
    }
    enum stk_err rc = check_mask(m, err);
    if (rc == STK_OK) {
        *mask = normalise(m);
    }
    return rc;
}

enum stk_err svc_auth_perms_from_json(const json_t *arr, unsigned *mask, struct stk_error *err)
{
    *mask = 0;
    if (!json_is_array(arr) || json_array_size(arr) > PERM_COUNT) {
        return stk_error_set(err, STK_EINVAL, "permissions must be an array of at most %zu names",
                             PERM_COUNT);
    }
    unsigned m = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v)) {
            return stk_error_set(err, STK_EINVAL, "permissions[%zu] must be a string", i);
        }
        enum stk_err rc = add_perm(json_string_value(v), json_string_length(v), &m, err);
        if (rc != STK_OK) {
            return rc;
        }
    }
    enum stk_err rc = check_mask(m, err);
    if (rc == STK_OK) {
        *mask = normalise(m);
    }
    return rc;
}

json_t *svc_auth_perms_to_json(unsigned mask)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < PERM_COUNT; i++) {
        if ((mask & perm_table[i].bit) &&
            json_array_append_new(arr, json_string(perm_table[i].name)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

void svc_auth_perms_to_csv(unsigned mask, char *out, size_t n)
{
    size_t used = 0;
    if (n == 0) {
        return;
    }
    out[0] = '\0';
    for (size_t i = 0; i < PERM_COUNT; i++) {
        if (mask & perm_table[i].bit) {
            int w = snprintf(out + used, n - used, "%s%s", used ? "," : "", perm_table[i].name);
            if (w < 0 || (size_t)w >= n - used) {
                return;
            }
            used += (size_t)w;
        }
    }
}

int svc_auth_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > STK_NAME_MAX) {
        return 0;
    }
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || c == '.' || c == '_' || c == '-' || c == '@')) {
            return 0;
        }
    }
    return 1;
}

enum stk_err svc_auth_password_ok(const char *password, size_t len, struct stk_error *err)
{
    if (len < STK_PASSWORD_MIN) {
        return stk_error_set(err, STK_EINVAL, "password must be at least %d characters",
                             STK_PASSWORD_MIN);
    }
    if (len > STK_PASSWORD_MAX) {
        return stk_error_set(err, STK_EINVAL, "password must be at most %d bytes",
                             STK_PASSWORD_MAX);
    }
    if (memchr(password, '\0', len) != NULL) {
        return stk_error_set(err, STK_EINVAL, "password must not contain NUL bytes");
    }
    return STK_OK;
}

static void principal_from_user(const struct user *u, struct principal *p)
{
    memset(p, 0, sizeof(*p));
    p->kind = PRINCIPAL_USER;
    p->id = u->id;
    snprintf(p->name, sizeof(p->name), "%s", u->username);
    snprintf(p->role, sizeof(p->role), "%s", u->role);
    p->perms = u->perms;
}

/* Throttle keys: names compare without case, like the users table. */
static void throttle_keys(const char *username, const char *ip, char ukey[96], char ikey[96])
{
    char lower[STK_NAME_MAX + 1];
    size_t i = 0;
    for (; username[i] && i < STK_NAME_MAX; i++) {
        lower[i] = (char)tolower((unsigned char)username[i]);
    }
    lower[i] = '\0';
    snprintf(ukey, 96, "user:%s", lower);
    snprintf(ikey, 96, "ip:%s", ip);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds a key is blocked after its `failures`th failure: 2 s after
 * the fifth, then doubling, at most STK_LOGIN_MAX_DELAY seconds. */
static long long delay_for(long long failures)
{
    if (failures < STK_LOGIN_FREE_FAILURES) {
        return 0;
    }
    long long shift = failures - STK_LOGIN_FREE_FAILURES + 1;
    long long s = shift >= 10 ? STK_LOGIN_MAX_DELAY : (1LL << shift);
    return (s > STK_LOGIN_MAX_DELAY ? STK_LOGIN_MAX_DELAY : s) * 1000;
}

/* Counts one more failure for `key` and blocks it once there are enough. */
static enum stk_err throttle_fail(struct db *db, const char *key, long long now,
                                  struct stk_error *err)
{
    long long failures = 0, until = 0;
    enum stk_err rc = store_throttle_get(db, key, &failures, &until, err);
    if (rc != STK_OK) {
        return rc;
    }
    failures++;
    long long delay = delay_for(failures);
    return store_throttle_put(db, key, failures, now, delay ? now + delay : 0, err);
}

/* Milliseconds left on the longer of the two keys' blocks, 0 if none. */
static enum stk_err throttle_wait(struct db *db, const char *ukey, const char *ikey,
                                  long long now, long long *wait, struct stk_error *err)
{
    *wait = 0;
    const char *keys[2] = {ukey, ikey};
    for (int i = 0; i < 2; i++) {
        long long failures = 0, until = 0;
        enum stk_err rc = store_throttle_get(db, keys[i], &failures, &until, err);
        if (rc != STK_OK) {
            return rc;
        }
        if (until > now && until - now > *wait) {
            *wait = until - now;
        }
    }
    return STK_OK;
}

/* ---- the in-memory gate on password checks in flight ---- */

#define GATE_SLOTS 1024

struct gate_slot {
    char key[96];
    int inflight;
};

struct login_gate {
    pthread_mutex_t lock;
    struct gate_slot slots[GATE_SLOTS];
};

enum stk_err svc_auth_gate_new(struct login_gate **out)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        return STK_ENOMEM;
    }
    pthread_mutex_init(&(*out)->lock, NULL);
    return STK_OK;
}

void svc_auth_gate_free(struct login_gate *g)
{
    if (g != NULL) {
        pthread_mutex_destroy(&g->lock);
        free(g);
    }
}

static struct gate_slot *gate_find(struct login_gate *g, const char *key, int create)
{
    size_t h = 5381;
    for (const char *p = key; *p; p++) {
        h = h * 33 + (unsigned char)*p;
    }
    struct gate_slot *free_slot = NULL;
    for (size_t n = 0, i = h % GATE_SLOTS; n < GATE_SLOTS; n++, i = (i + 1) % GATE_SLOTS) {
        struct gate_slot *s = &g->slots[i];
        if (s->inflight > 0 && strcmp(s->key, key) == 0) {
            return s;
        }
        if (s->inflight == 0 && free_slot == NULL) {
            free_slot = s;
        }
    }
    if (create && free_slot != NULL) {
        snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
    }
    return create ? free_slot : NULL;
}

/* Lets a password check start when the user name has none in flight and
 * the address fewer than STK_LOGIN_MAX_PARALLEL_PER_IP. Parallel guesses
 * are thereby checked one after the other, each failure recorded before
 * the next starts: no burst gets more tries than the throttle allows.
 * Returns 1 when admitted (release with gate_leave), 0 when busy. */
static int gate_enter(struct login_gate *g, const char *ukey, const char *ikey)
{
    pthread_mutex_lock(&g->lock);
    struct gate_slot *u = gate_find(g, ukey, 0);
    struct gate_slot *a = gate_find(g, ikey, 0);
    int ok = (u == NULL) && (a == NULL || a->inflight < STK_LOGIN_MAX_PARALLEL_PER_IP);
    if (ok) {
        u = gate_find(g, ukey, 1);
        if (u != NULL) {
            u->inflight++;
        }
        a = a ? a : gate_find(g, ikey, 1);
        if (a != NULL) {
            a->inflight++;
        }
        /* A full table (1,024 keys in flight) admits nothing. */
        ok = u != NULL && a != NULL;
        if (!ok) {
            if (u != NULL) {
                u->inflight--;
            }
            if (a != NULL) {
                a->inflight--;
            }
        }
    }
    pthread_mutex_unlock(&g->lock);
    return ok;
}

static void gate_leave(struct login_gate *g, const char *ukey, const char *ikey)
{
    pthread_mutex_lock(&g->lock);
    struct gate_slot *u = gate_find(g, ukey, 0);
    struct gate_slot *a = gate_find(g, ikey, 0);
    if (u != NULL) {
        u->inflight--;
    }
    if (a != NULL) {
        a->inflight--;
    }
    pthread_mutex_unlock(&g->lock);
}

static void audit_login(struct db *db, const struct login_request *req, const char *outcome,
                        const char *reason, const struct principal *who)
{
    struct stk_error err;
    stk_error_clear(&err);
    json_t *details = json_pack("{s:s}", "reason", reason);
    char name[STK_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%s", req->username);
    struct audit_event ev = {
        .actor = who ? who->name : name,
        .actor_kind = who ? "user" : "anonymous",
        .source_ip = req->source_ip,
        .action = "auth.login",
        .target = name,
        .outcome = outcome,
        .details = details,
    };
    if (svc_audit_append(db, &ev, &err) != STK_OK) {
        log_event(STK_LOG_ERROR, "audit_failed", "action=auth.login error=\"%s\"", err.msg);
    }
    json_decref(details);
}

static enum stk_err check_and_open(struct db *db, const struct auth_policy *pol,
                                   const struct login_request *req, const char *ukey,
                                   const char *ikey, long long now, long long now_m,
                                   struct login_result *out, struct stk_error *err);

enum stk_err svc_auth_login(struct db *db, const struct auth_policy *pol,
                            const struct login_request *req, struct login_result *out,
                            struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    size_t ulen = strlen(req->username);
    if (ulen == 0 || ulen > STK_NAME_MAX) {
        return stk_error_set(err, STK_EINVAL, "username must be 1 to %d bytes", STK_NAME_MAX);
    }
    if (req->password_len == 0 || req->password_len > STK_PASSWORD_MAX) {
        return stk_error_set(err, STK_EINVAL, "password must be 1 to %d bytes", STK_PASSWORD_MAX);
    }
    if (memchr(req->password, '\0', req->password_len) != NULL) {
        return stk_error_set(err, STK_EINVAL, "password must not contain NUL bytes");
    }
    long long now = now_s();
    long long now_m = now_ms();
    char ukey[96], ikey[96];
    throttle_keys(req->username, req->source_ip, ukey, ikey);
    long long wait = 0;
    enum stk_err rc = throttle_wait(db, ukey, ikey, now_m, &wait, err);
    if (rc != STK_OK) {
        return rc;
    }
    if (wait > 0) {
        out->retry_after = (wait + 999) / 1000;
        audit_login(db, req, "denied", "throttled", NULL);
        return stk_error_set(err, STK_ELIMIT, "too many failed sign-ins; try again in %lld s",
                             out->retry_after);
    }
    if (!gate_enter(pol->gate, ukey, ikey)) {
        out->retry_after = 1;
        audit_login(db, req, "denied", "sign-in already in progress", NULL);
        return stk_error_set(err, STK_ELIMIT,
                             "another sign-in for this user or address is being checked; "
                             "try again in 1 s");
    }
    rc = check_and_open(db, pol, req, ukey, ikey, now, now_m, out, err);
    gate_leave(pol->gate, ukey, ikey);
    return rc;
}

/* The part of svc_auth_login() that runs inside the gate. */
static enum stk_err check_and_open(struct db *db, const struct auth_policy *pol,
                                   const struct login_request *req, const char *ukey,
                                   const char *ikey, long long now, long long now_m,
                                   struct login_result *out, struct stk_error *err)
{
    enum stk_err rc = STK_OK;

    struct user u;
    enum stk_err found = store_users_get_by_name(db, req->username, &u, NULL);
    if (found != STK_OK && found != STK_ENOTFOUND) {
        return stk_error_set(err, found, "reading the user failed");
    }
    const char *hash = found == STK_OK ? u.password_hash : dummy_hash;
    int ok = stk_crypto_password_verify(hash, req->password, req->password_len);
    if (found != STK_OK || !ok || u.disabled) {
        const char *why = found != STK_OK ? "unknown user" : (!ok ? "wrong password" : "disabled");
        rc = db_begin(db, err);
        if (rc == STK_OK) {
            rc = throttle_fail(db, ukey, now_m, err);
        }
        if (rc == STK_OK) {
            rc = throttle_fail(db, ikey, now_m, err);
        }
        if (rc == STK_OK) {
            rc = db_commit(db, err);
        }
        db_rollback(db);
        audit_login(db, req, "failure", why, NULL);
        if (rc != STK_OK) {
            return rc;
        }
        return stk_error_set(err, STK_EAUTH, "invalid username or password");
    }

    char new_hash[STK_PASSWORD_HASH_MAX] = "";
    if (stk_crypto_password_needs_rehash(u.password_hash) &&
        stk_crypto_password_hash(req->password, req->password_len, new_hash) != STK_OK) {
        new_hash[0] = '\0';
    }
    stk_crypto_random_token("", out->token, sizeof(out->token));
    stk_crypto_random_token("", out->csrf_token, sizeof(out->csrf_token));
    char token_hash[65];
    stk_crypto_hash_hex(out->token, strlen(out->token), token_hash);
    out->expires_at = now + pol->session_max_s;
    principal_from_user(&u, &out->who);
    snprintf(out->who.csrf_token, sizeof(out->who.csrf_token), "%s", out->csrf_token);

    rc = db_begin(db, err);
    if (rc != STK_OK) {
        goto out;
    }
    rc = store_sessions_insert(db, token_hash, u.id, out->csrf_token, now, out->expires_at,
                               req->source_ip, req->user_agent ? req->user_agent : "",
                               &out->who.session_id, err);
    if (rc == STK_OK) {
        rc = store_users_touch_login(db, u.id, now, err);
    }
    if (rc == STK_OK && new_hash[0] != '\0') {
        rc = store_users_set_password(db, u.id, new_hash, now, err);
    }
    /* Success: the user's count starts over; the address's does not, so
     * one good account cannot reset an address guessing at others. */
    if (rc == STK_OK) {
        rc = store_throttle_clear(db, ukey, err);
    }
    if (rc == STK_OK) {
        json_t *details = json_pack("{s:s, s:b}", "reason", "password", "rehashed",
                                    new_hash[0] != '\0');
        struct audit_event ev = {
            .actor = u.username, .actor_kind = "user", .source_ip = req->source_ip,
            .action = "auth.login", .target = u.username, .outcome = "success",
            .details = details,
        };
        rc = svc_audit_append(db, &ev, err);
        json_decref(details);
    }
    if (rc == STK_OK) {
        rc = db_commit(db, err);
    }
out:
    db_rollback(db);
    sodium_memzero(new_hash, sizeof(new_hash));
    if (rc != STK_OK) {
        sodium_memzero(out->token, sizeof(out->token));
        return rc;
    }
    return STK_OK;
}

static int token_chars_ok(const char *s, size_t want)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!(isalnum(c) || c == '-' || c == '_') || n >= want) {
            return 0;
        }
    }
    return n == want;
}

enum stk_err svc_auth_session(struct db *db, const struct auth_policy *pol, const char *token,
                              struct principal *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    if (token == NULL || !token_chars_ok(token, STK_SESSION_TOKEN_LEN)) {
        return stk_error_set(err, STK_EAUTH, "not signed in");
    }
    char hash[65];
    stk_crypto_hash_hex(token, strlen(token), hash);
    struct session s;
    enum stk_err rc = store_sessions_get(db, hash, &s, err);
    if (rc == STK_ENOTFOUND) {
        return stk_error_set(err, STK_EAUTH, "not signed in");
    }
    if (rc != STK_OK) {
        return rc;
    }
    long long now = now_s();
    if (s.user.disabled || now >= s.expires_at || now - s.last_seen_at > pol->session_idle_s) {
        store_sessions_delete(db, s.id, NULL);
        return stk_error_set(err, STK_EAUTH, "session expired; sign in again");
    }
    long long every = pol->session_idle_s / 4 < TOUCH_EVERY_S ? pol->session_idle_s / 4
                                                               : TOUCH_EVERY_S;
    if (now - s.last_seen_at >= every) {
        store_sessions_touch(db, s.id, now, NULL);
    }
    principal_from_user(&s.user, out);
    out->session_id = s.id;
    out->expires_at = s.expires_at;
    snprintf(out->csrf_token, sizeof(out->csrf_token), "%s", s.csrf_token);
    return STK_OK;
}

enum stk_err svc_auth_logout(struct db *db, const struct principal *who, const char *source_ip,
                             struct stk_error *err)
{
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    rc = store_sessions_delete(db, who->session_id, err);
    if (rc == STK_OK) {
        struct audit_event ev = {
            .actor = who->name, .actor_kind = "user", .source_ip = source_ip,
            .action = "auth.logout", .target = who->name, .outcome = "success",
        };
        rc = svc_audit_append(db, &ev, err);
    }
    if (rc == STK_OK) {
        rc = db_commit(db, err);
    }
    db_rollback(db);
    return rc;
}

enum stk_err svc_auth_bearer(struct db *db, const char *token, struct principal *out,
                             struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    size_t plen = strlen(STK_API_TOKEN_PREFIX);
    if (token == NULL || strncmp(token, STK_API_TOKEN_PREFIX, plen) != 0 ||
        !token_chars_ok(token + plen, STK_SESSION_TOKEN_LEN)) {
        return stk_error_set(err, STK_EAUTH, "malformed API token");
    }
    char hash[65];
    stk_crypto_hash_hex(token, strlen(token), hash);
    struct api_token t;
    enum stk_err rc = store_tokens_get_by_hash(db, hash, &t, err);
    if (rc == STK_ENOTFOUND) {
        return stk_error_set(err, STK_EAUTH, "unknown API token");
    }
    if (rc != STK_OK) {
        return rc;
    }
    long long now = now_s();
    if (t.revoked_at != 0) {
        return stk_error_set(err, STK_EAUTH, "API token revoked");
    }
    if (t.expires_at != 0 && now >= t.expires_at) {
        return stk_error_set(err, STK_EAUTH, "API token expired");
    }
    if (now - t.last_used_at >= TOUCH_EVERY_S) {
        store_tokens_touch(db, t.id, now, NULL);
    }
    out->kind = PRINCIPAL_TOKEN;
    out->id = t.id;
    snprintf(out->name, sizeof(out->name), "token:%s", t.name);
    out->perms = t.perms;
    snprintf(out->cluster, sizeof(out->cluster), "%s", t.cluster);
    return STK_OK;
}

enum stk_err svc_auth_purge(struct db *db, const struct auth_policy *pol, struct stk_error *err)
{
    long long now = now_s();
    return store_sessions_purge(db, now, now - pol->session_idle_s, err);
}
