#include "cli.h"

#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "gateway_ca.h"
#include "store_agents.h"
#include "store_roles.h"
#include "store_tokens.h"
#include "store_users.h"
#include "svc_audit.h"
#include "svc_auth.h"
#include "svc_enroll.h"
#include "svc_users.h"

#define PASSWORD_BUF (STK_PASSWORD_MAX + 2)

/* "cli:<login name>": who ran the command, for the audit log. */
static void cli_actor(struct actor *a, char name[80])
{
    const char *user = NULL;
    struct passwd *pw = getpwuid(geteuid());
    if (pw != NULL) {
        user = pw->pw_name;
    }
    snprintf(name, 80, "cli:%s", user ? user : "unknown");
    a->name = name;
    a->kind = "cli";
    a->ip = "local";
}

static int fail(const char *what, const struct stk_error *err)
{
    fprintf(stderr, "stockade: %s: %s\n", what, err->msg[0] ? err->msg : "failed");
    return 1;
}

/* Reads a password from stdin (--password-stdin: everything up to EOF,
 * minus one trailing newline) or from the terminal with echo off, asked
 * twice. Returns the length, or -1 with a message printed. */
static long read_password(int from_stdin, char *buf, size_t size)
{
    if (from_stdin) {
        size_t n = fread(buf, 1, size - 1, stdin);
        if (ferror(stdin)) {
            fprintf(stderr, "stockade: could not read the password from stdin\n");
            return -1;
        }
        if (n == size - 1 && fgetc(stdin) != EOF) {
            fprintf(stderr, "stockade: password must be at most %d bytes\n", STK_PASSWORD_MAX);
            return -1;
        }
        if (n > 0 && buf[n - 1] == '\n') {
            n--;
            if (n > 0 && buf[n - 1] == '\r') {
                n--;
            }
        }
        buf[n] = '\0';
        return (long)n;
    }
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "stockade: no terminal to ask for a password; use --password-stdin\n");
        return -1;
    }
    char again[PASSWORD_BUF];
    struct termios old, quiet;
    tcgetattr(STDIN_FILENO, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    long len = -1;
    fprintf(stderr, "Password: ");
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    int ok = fgets(buf, (int)size, stdin) != NULL;
    fprintf(stderr, "\nAgain: ");
    ok = ok && fgets(again, sizeof(again), stdin) != NULL;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
    if (ok) {
        buf[strcspn(buf, "\r\n")] = '\0';
        again[strcspn(again, "\r\n")] = '\0';
        if (strcmp(buf, again) != 0) {
            fprintf(stderr, "stockade: the passwords differ\n");
        } else {
            len = (long)strlen(buf);
        }
    }
    sodium_memzero(again, sizeof(again));
    return len;
}

static void print_user(const struct user *u)
{
    char perms[128];
    svc_auth_perms_to_csv(u->perms, perms, sizeof(perms));
    printf("%-24s %-12s %-9s %s\n", u->username, u->role, u->disabled ? "disabled" : "enabled",
           perms);
}

static int need(const struct cli_args *a, int npos, const char *usage)
{
    if (a->npos != npos) {
        fprintf(stderr, "usage: stockade %s\n", usage);
        return 0;
    }
    return 1;
}

int cli_user(struct db *db, const char *sub, const struct cli_args *a)
{
    struct actor by;
    char actor_name[80];
    cli_actor(&by, actor_name);
    struct stk_error err;
    stk_error_clear(&err);
    struct user u;
    if (strcmp(sub, "add") == 0) {
        if (!need(a, 1, "user add NAME --role viewer|analyst|responder|admin [--password-stdin]")) {
            return 2;
        }
        if (a->role == NULL) {
            fprintf(stderr, "stockade: user add needs --role\n");
            return 2;
        }
        char pw[PASSWORD_BUF];
        long len = read_password(a->password_stdin, pw, sizeof(pw));
        if (len < 0) {
            return 1;
        }
        enum stk_err rc = svc_users_create(db, &by, a->pos[0], a->role, pw, (size_t)len, &u, &err);
        sodium_memzero(pw, sizeof(pw));
        if (rc != STK_OK) {
            return fail("user add", &err);
        }
        printf("added user %s with role %s\n", u.username, u.role);
        return 0;
    }
    if (strcmp(sub, "list") == 0) {
        struct user *users = NULL;
        size_t n = 0;
        if (store_users_list(db, &users, &n, &err) != STK_OK) {
            return fail("user list", &err);
        }
        for (size_t i = 0; i < n; i++) {
            print_user(&users[i]);
            sodium_memzero(users[i].password_hash, sizeof(users[i].password_hash));
        }
        free(users);
        return 0;
    }
    if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
        if (!need(a, 1, "user disable|enable NAME")) {
            return 2;
        }
        int off = strcmp(sub, "disable") == 0;
        if (svc_users_set_disabled(db, &by, a->pos[0], off, &u, &err) != STK_OK) {
            return fail(off ? "user disable" : "user enable", &err);
        }
        printf("%s user %s\n", off ? "disabled" : "enabled", u.username);
        return 0;
    }
    if (strcmp(sub, "set-role") == 0) {
        if (!need(a, 2, "user set-role NAME ROLE")) {
            return 2;
        }
        if (svc_users_set_role(db, &by, a->pos[0], a->pos[1], &u, &err) != STK_OK) {
            return fail("user set-role", &err);
        }
        printf("user %s now has role %s\n", u.username, u.role);
        return 0;
    }
    if (strcmp(sub, "passwd") == 0) {
        if (!need(a, 1, "user passwd NAME [--password-stdin]")) {
            return 2;
        }
        char pw[PASSWORD_BUF];
        long len = read_password(a->password_stdin, pw, sizeof(pw));
        if (len < 0) {
            return 1;
        }
        enum stk_err rc = svc_users_set_password(db, &by, a->pos[0], pw, (size_t)len, &err);
        sodium_memzero(pw, sizeof(pw));
        if (rc != STK_OK) {
            return fail("user passwd", &err);
        }
        printf("password changed for %s; their sessions were ended\n", a->pos[0]);
        return 0;
    }
    fprintf(stderr, "stockade: unknown command 'user %s' (add, list, disable, enable, set-role, "
                    "passwd)\n", sub);
    return 2;
}

int cli_role(struct db *db, const char *sub, const struct cli_args *a)
{
    struct actor by;
    char actor_name[80];
    cli_actor(&by, actor_name);
    struct stk_error err;
    stk_error_clear(&err);
    if (strcmp(sub, "add") == 0) {
        if (!need(a, 1, "role add NAME --permissions LIST [--description TEXT]")) {
            return 2;
        }
        unsigned perms = 0;
        if (a->permissions == NULL) {
            fprintf(stderr, "stockade: role add needs --permissions\n");
            return 2;
        }
        if (svc_auth_perms_parse(a->permissions, &perms, &err) != STK_OK) {
            return fail("role add", &err);
        }
        struct role r;
        if (svc_roles_create(db, &by, a->pos[0], a->description ? a->description : "", perms, &r,
                             &err) != STK_OK) {
            return fail("role add", &err);
        }
        printf("added role %s\n", r.name);
        return 0;
    }
    if (strcmp(sub, "list") == 0) {
        struct role *roles = NULL;
        size_t n = 0;
        if (store_roles_list(db, &roles, &n, &err) != STK_OK) {
            return fail("role list", &err);
        }
        for (size_t i = 0; i < n; i++) {
            json_t *p = svc_auth_perms_to_json(roles[i].perms);
            char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
            printf("%-16s %-8s %s\n", roles[i].name, roles[i].builtin ? "builtin" : "custom",
                   text ? text : "[]");
            free(text);
            json_decref(p);
        }
        free(roles);
        return 0;
    }
    fprintf(stderr, "stockade: unknown command 'role %s' (add, list)\n", sub);
    return 2;
}

int cli_token(struct db *db, const char *sub, const struct cli_args *a)
{
    struct actor by;
    char actor_name[80];
    cli_actor(&by, actor_name);
    struct stk_error err;
    stk_error_clear(&err);
    if (strcmp(sub, "create") == 0) {
        if (a->npos != 0 || a->name == NULL || a->permissions == NULL) {
            fprintf(stderr, "usage: stockade token create --name NAME --permissions LIST "
                            "[--ttl 30d] [--cluster NAME]\n");
            return 2;
        }
        unsigned perms = 0;
        long long ttl = 0;
        if (svc_auth_perms_parse(a->permissions, &perms, &err) != STK_OK ||
            (a->ttl != NULL && svc_parse_ttl(a->ttl, &ttl, &err) != STK_OK)) {
            return fail("token create", &err);
        }
        char secret[80];
        struct api_token t;
        if (svc_tokens_create(db, &by, a->name, perms, ttl, a->cluster, secret, &t, &err) !=
            STK_OK) {
            return fail("token create", &err);
        }
        /* stdout carries the token alone, for scripts: `T=$(stockade token create ...)`. */
        printf("%s\n", secret);
        fflush(stdout);
        sodium_memzero(secret, sizeof(secret));
        fprintf(stderr, "created token %lld (%s); it is shown only this once\n", t.id, t.name);
        return 0;
    }
    if (strcmp(sub, "list") == 0) {
        struct api_token *toks = NULL;
        size_t n = 0;
        if (store_tokens_list(db, &toks, &n, &err) != STK_OK) {
            return fail("token list", &err);
        }
        long long now = (long long)time(NULL);
        for (size_t i = 0; i < n; i++) {
            const struct api_token *t = &toks[i];
            const char *status = t->revoked_at                              ? "revoked"
                                 : (t->expires_at && now >= t->expires_at) ? "expired"
                                                                           : "active";
            printf("%-6lld %-24s %-12s %-8s %s\n", t->id, t->name, t->prefix, status,
                   t->cluster[0] ? t->cluster : "-");
        }
        free(toks);
        return 0;
    }
    if (strcmp(sub, "revoke") == 0) {
        if (!need(a, 1, "token revoke ID")) {
            return 2;
        }
        char *end = NULL;
        long long id = strtoll(a->pos[0], &end, 10);
        if (end == a->pos[0] || *end != '\0' || id <= 0) {
            fprintf(stderr, "stockade: token revoke needs a numeric id (see 'token list')\n");
            return 2;
        }
        struct api_token t;
        if (svc_tokens_revoke(db, &by, id, &t, &err) != STK_OK) {
            return fail("token revoke", &err);
        }
        printf("revoked token %lld (%s)\n", t.id, t.name);
        return 0;
    }
    fprintf(stderr, "stockade: unknown command 'token %s' (create, list, revoke)\n", sub);
    return 2;
}

int cli_audit(struct db *db, const char *sub, const struct cli_args *a)
{
    (void)a;
    if (strcmp(sub, "verify") != 0) {
        fprintf(stderr, "stockade: unknown command 'audit %s' (verify)\n", sub);
        return 2;
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct audit_verify v;
    if (svc_audit_verify(db, &v, &err) != STK_OK) {
        return fail("audit verify", &err);
    }
    if (v.bad_id != 0) {
        fprintf(stderr, "audit chain BROKEN at entry %lld: %s\n", v.bad_id, v.reason);
        printf("BROKEN entry=%lld checked=%lld\n", v.bad_id, v.count);
        return 1;
    }
    printf("OK %lld entries, head %s\n", v.count, v.head);
    return 0;
}

/* "2026-11-22 10:00:00" UTC, or "-" for 0. */
static const char *fmt_time(long long t, char out[24])
{
    if (t == 0) {
        return "-";
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 24, "%Y-%m-%d %H:%M:%S", &tm);
    return out;
}

static int agent_enroll_token(struct db *db, const char *data_dir, const struct cli_args *a,
                              const struct actor *by)
{
    if (a->npos != 0 || a->cluster == NULL) {
        fprintf(stderr, "usage: stockade agent enroll-token --cluster NAME [--ttl 1h]\n");
        return 2;
    }
    struct stk_error err;
    stk_error_clear(&err);
    long long ttl = SVC_ENROLL_TTL_DEFAULT;
    if (a->ttl != NULL && svc_parse_ttl(a->ttl, &ttl, &err) != STK_OK) {
        return fail("agent enroll-token", &err);
    }
    /* A token pins the CA of the server that will enroll the agent: making
     * a new CA here (a --data-dir other than the server's) would print a
     * token no server accepts. The server creates the CA at its first start. */
    char ca_path[4096];
    struct stat st;
    if (snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", data_dir) >= (int)sizeof(ca_path) ||
        stat(ca_path, &st) != 0) {
        fprintf(stderr,
                "stockade: agent enroll-token: no agent CA in %s (the server creates it when it "
                "first starts); pass the server's --data-dir\n",
                data_dir);
        return 1;
    }
    struct gateway_ca *ca = NULL;
    if (gateway_ca_open(data_dir, &ca, &err) != STK_OK) {
        return fail("agent CA", &err);
    }
    char token[STK_ENROLL_TOKEN_MAX];
    long long id = 0, expires_at = 0;
    enum stk_err rc =
        svc_enroll_token_create(db, by, ca->pin, a->cluster, ttl, token, &id, &expires_at, &err);
    gateway_ca_free(ca);
    if (rc != STK_OK) {
        return fail("agent enroll-token", &err);
    }
    /* stdout carries the token alone, for scripts. */
    printf("%s\n", token);
    fflush(stdout);
    sodium_memzero(token, sizeof(token));
    char when[24];
    fprintf(stderr, "enrollment token %lld for cluster %s, single use, valid until %s UTC\n", id,
            a->cluster, fmt_time(expires_at, when));
    return 0;
}

int cli_agent(struct db *db, const char *data_dir, const char *sub, const struct cli_args *a)
{
    struct actor by;
    char actor_name[80];
    cli_actor(&by, actor_name);
    struct stk_error err;
    stk_error_clear(&err);
    if (strcmp(sub, "enroll-token") == 0) {
        return agent_enroll_token(db, data_dir, a, &by);
    }
    if (strcmp(sub, "list") == 0) {
        struct agent *agents = NULL;
        size_t n = 0;
        if (store_agents_list(db, &agents, &n, &err) != STK_OK) {
            return fail("agent list", &err);
        }
        for (size_t i = 0; i < n; i++) {
            const struct agent *g = &agents[i];
            const char *status = g->revoked_at ? "revoked" : g->connected ? "connected" : "offline";
            char enrolled[24], seen[24];
            printf("%-6lld %-24s %-9s %-20s %-20s %-21s %s\n", g->id, g->cluster, status,
                   fmt_time(g->enrolled_at, enrolled), fmt_time(g->last_seen_at, seen),
                   g->last_address[0] ? g->last_address : "-", g->cert_serial);
        }
        free(agents);
        return 0;
    }
    if (strcmp(sub, "revoke") == 0) {
        if (!need(a, 1, "agent revoke ID")) {
            return 2;
        }
        char *end = NULL;
        long long id = strtoll(a->pos[0], &end, 10);
        if (end == a->pos[0] || *end != '\0' || id <= 0) {
            fprintf(stderr, "stockade: agent revoke needs a numeric id (see 'agent list')\n");
            return 2;
        }
        struct agent g;
        if (svc_enroll_revoke(db, &by, id, &g, &err) != STK_OK) {
            return fail("agent revoke", &err);
        }
        /* A running server drops the connection within 2 s (it polls). */
        printf("revoked agent %lld (cluster %s)\n", g.id, g.cluster);
        return 0;
    }
    fprintf(stderr, "stockade: unknown command 'agent %s' (enroll-token, list, revoke)\n", sub);
    return 2;
}
