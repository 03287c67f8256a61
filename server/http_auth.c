/* Sign-in, sign-out, the caller's identity, and identification of every
 * request (session cookie or bearer token). */
#include <civetweb.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "app.h"
#include "http.h"
#include "http_handlers.h"
#include "log.h"
#include "stk_crypto.h"
#include "svc_auth.h"
#include "svc_users.h"

#define SESSION_COOKIE "stockade_session"

void http_auth_policy(const struct http_req *r, struct auth_policy *out)
{
    out->session_idle_s = r->app->cfg.session_idle_s;
    out->session_max_s = r->app->cfg.session_max_s;
    out->gate = r->app->login_gate;
}

const char *http_remote(const struct http_req *r)
{
    return r->ri->remote_addr;
}

static int reply_401(struct http_req *r, const char *message)
{
    return http_reply_error_status(r, 401, "unauthorized", message);
}

/* ---- the session cache ----
 * A session check costs a database read transaction per request (the WAL
 * read lock is most of it). Each worker thread keeps the sessions it
 * resolved for at most WORKER_SESSION_MS, in its own table: no lock is
 * taken on the way. Every change that ends or alters sessions inside this
 * process (sign-out, user and password changes) bumps app->session_epoch,
 * which voids every worker's entries at once; a change made by another
 * process (the CLI) is seen within WORKER_SESSION_MS. */

void http_session_cache_invalidate(struct app *app)
{
    atomic_fetch_add(&app->session_epoch, 1);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct worker_session *cache_slot(struct worker *w, const char *token)
{
    /* The token is 256 random bits: its first bytes spread well enough. */
    unsigned h = 2166136261u;
    for (int i = 0; i < 8 && token[i]; i++) {
        h = (h ^ (unsigned char)token[i]) * 16777619u;
    }
    return &w->sessions[h % WORKER_SESSION_SLOTS];
}

static int session_cache_get(struct http_req *r, const char *token)
{
    if (r->worker == NULL) {
        return 0;
    }
    struct worker_session *s = cache_slot(r->worker, token);
    if (s->epoch == atomic_load(&r->app->session_epoch) && s->until_ms > mono_ms() &&
        stk_crypto_str_equal(s->token, token)) {
        r->who = s->who;
        return 1;
    }
    return 0;
}

static void session_cache_put(struct http_req *r, const char *token, unsigned epoch)
{
    if (r->worker == NULL) {
        return;
    }
    struct worker_session *s = cache_slot(r->worker, token);
    snprintf(s->token, sizeof(s->token), "%s", token);
    s->who = r->who;
    /* Never past the session's own absolute end. */
    long long left_ms = (r->who.expires_at - (long long)time(NULL)) * 1000;
    s->until_ms = mono_ms() + (left_ms < WORKER_SESSION_MS ? left_ms : WORKER_SESSION_MS);
    s->epoch = epoch;
}

int http_identify(struct http_req *r)
{
    if (r->identified) {
        return 0;
    }
    r->identified = 1;
    struct stk_error err;
    stk_error_clear(&err);
    const char *authz = http_header(r, "Authorization");
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) != 0) {
            return reply_401(r, "Authorization must be 'Bearer <token>'");
        }
        const char *tok = authz + 7;
        while (*tok == ' ') {
            tok++;
        }
        enum stk_err rc = r->db ? svc_auth_bearer(r->db, tok, &r->who, &err) : STK_EDB;
        if (rc == STK_EAUTH) {
            return reply_401(r, err.msg);
        }
        if (rc != STK_OK) {
            log_event(STK_LOG_ERROR, "auth_failed", "error=\"%s\"", err.msg);
            return http_reply_error(r, STK_EINTERNAL, "could not check the credentials");
        }
        return 0;
    }
    const char *cookies = http_header(r, "Cookie");
    char token[STK_SESSION_TOKEN_LEN + 2];
    if (cookies == NULL || mg_get_cookie(cookies, SESSION_COOKIE, token, sizeof(token)) <= 0) {
        return 0;
    }
    if (session_cache_get(r, token)) {
        sodium_memzero(token, sizeof(token));
        return 0;
    }
    /* The epoch is read before the database: a revocation racing with this
     * lookup leaves an entry that is already void. */
    unsigned epoch = atomic_load(&r->app->session_epoch);
    struct auth_policy pol;
    http_auth_policy(r, &pol);
    enum stk_err rc = r->db ? svc_auth_session(r->db, &pol, token, &r->who, &err) : STK_EDB;
    if (rc == STK_OK) {
        session_cache_put(r, token, epoch);
    }
    sodium_memzero(token, sizeof(token));
    if (rc != STK_OK && rc != STK_EAUTH) {
        log_event(STK_LOG_ERROR, "auth_failed", "error=\"%s\"", err.msg);
        return http_reply_error(r, STK_EINTERNAL, "could not check the session");
    }
    /* An unknown or expired cookie is the same as none: public routes
     * still work and protected ones answer 401 / redirect to sign-in. */
    return 0;
}

/* Reads a required string member of a request object. */
static const char *get_str(const json_t *obj, const char *key, size_t *len)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) {
        return NULL;
    }
    if (len != NULL) {
        *len = json_string_length(v);
    }
    return json_string_value(v);
}

json_t *http_user_json(const struct principal *who)
{
    json_t *perms = svc_auth_perms_to_json(who->perms);
    return json_pack("{s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)who->id, "username", who->name,
                     "role", who->role, "kind", who->kind == PRINCIPAL_TOKEN ? "token" : "user",
                     "permissions", perms ? perms : json_array());
}

int http_auth_login(struct http_req *r)
{
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"username", "password"};
    size_t plen = 0;
    const char *user = get_str(in, "username", NULL);
    const char *pass = get_str(in, "password", &plen);
    if (!json_is_object(in) || !http_json_keys_ok(in, keys, 2) || user == NULL || pass == NULL) {
        json_decref(in);
        return http_reply_error(r, STK_EINVAL,
                                "expected {\"username\": string, \"password\": string}");
    }
    struct auth_policy pol;
    http_auth_policy(r, &pol);
    struct login_request req = {
        .username = user, .password = pass, .password_len = plen,
        .source_ip = http_remote(r), .user_agent = http_header(r, "User-Agent"),
    };
    char ua[256];
    snprintf(ua, sizeof(ua), "%s", req.user_agent ? req.user_agent : "");
    req.user_agent = ua;
    struct login_result res;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = r->db ? svc_auth_login(r->db, &pol, &req, &res, &err) : STK_EDB;
    /* jansson keeps its own copy of the password: wipe it before freeing. */
    sodium_memzero((char *)pass, plen);
    json_decref(in);
    if (rc == STK_ELIMIT) {
        char hdr[64];
        snprintf(hdr, sizeof(hdr), "Retry-After: %lld\r\n", res.retry_after);
        return http_reply_error_with(r, 429, "too_many_requests", err.msg, hdr);
    }
    if (rc == STK_EAUTH || rc == STK_EINVAL) {
        return http_reply_error_status(r, rc == STK_EAUTH ? 401 : 400,
                                       rc == STK_EAUTH ? "invalid_credentials" : "invalid_request",
                                       err.msg);
    }
    if (rc != STK_OK) {
        log_event(STK_LOG_ERROR, "login_failed", "error=\"%s\"", err.msg);
        return http_reply_error(r, STK_EINTERNAL, "sign-in failed");
    }
    char cookie[256];
    int secure = strncmp(r->app->cfg.public_url, "https://", 8) == 0;
    snprintf(cookie, sizeof(cookie),
             "Set-Cookie: " SESSION_COOKIE
             "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s\r\n"
             "Cache-Control: no-store\r\n",
             res.token, r->app->cfg.session_max_s, secure ? "; Secure" : "");
    sodium_memzero(res.token, sizeof(res.token));
    json_t *body = json_pack("{s:o, s:s}", "user", http_user_json(&res.who), "csrf_token",
                             res.csrf_token);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    st = http_reply(r, 200, "application/json; charset=utf-8", cookie, text ? text : "{}",
                    text ? strlen(text) : 2);
    sodium_memzero(cookie, sizeof(cookie));
    free(text);
    return st;
}

int http_auth_logout(struct http_req *r)
{
    struct stk_error err;
    stk_error_clear(&err);
    http_session_cache_invalidate(r->app);
    if (r->who.kind == PRINCIPAL_USER &&
        svc_auth_logout(r->db, &r->who, http_remote(r), &err) != STK_OK) {
        log_event(STK_LOG_ERROR, "logout_failed", "error=\"%s\"", err.msg);
        return http_reply_error(r, STK_EINTERNAL, "sign-out failed");
    }
    static const char body[] = "{\"status\":\"signed_out\"}";
    return http_reply(r, 200, "application/json; charset=utf-8",
                      "Set-Cookie: " SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
                      "Max-Age=0\r\nCache-Control: no-store\r\n",
                      body, sizeof(body) - 1);
}

int http_auth_me(struct http_req *r)
{
    json_t *body = json_pack("{s:o, s:s?}", "user", http_user_json(&r->who), "csrf_token",
                             r->who.kind == PRINCIPAL_USER ? r->who.csrf_token : NULL);
    return http_reply_json(r, 200, body);
}

int http_auth_password(struct http_req *r)
{
    if (r->who.kind != PRINCIPAL_USER) {
        return http_reply_error(r, STK_EFORBIDDEN, "only users have passwords");
    }
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"current_password", "new_password"};
    size_t clen = 0, nlen = 0;
    const char *cur = get_str(in, "current_password", &clen);
    const char *pw = get_str(in, "new_password", &nlen);
    if (!json_is_object(in) || !http_json_keys_ok(in, keys, 2) || cur == NULL || pw == NULL) {
        json_decref(in);
        return http_reply_error(r, STK_EINVAL, "expected {\"current_password\", \"new_password\"}");
    }
    struct actor by = {.name = r->who.name, .kind = "user", .ip = http_remote(r)};
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc =
        svc_users_change_own_password(r->db, &by, r->who.id, cur, clen, pw, nlen, &err);
    http_session_cache_invalidate(r->app);
    sodium_memzero((char *)cur, clen);
    sodium_memzero((char *)pw, nlen);
    json_decref(in);
    if (rc != STK_OK) {
        return http_reply_error(r, rc, rc == STK_EDB ? "could not change the password" : err.msg);
    }
    static const char body[] = "{\"status\":\"changed\"}";
    return http_reply(r, 200, "application/json; charset=utf-8",
                      "Set-Cookie: " SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
                      "Max-Age=0\r\nCache-Control: no-store\r\n",
                      body, sizeof(body) - 1);
}
