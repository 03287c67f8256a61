/* Nouns of identity shared by the store_* and svc_* files of users,
 * roles, sessions and API tokens. */
#ifndef STK_IDENTITY_H
#define STK_IDENTITY_H

#include "stk_crypto.h"

#define STK_NAME_MAX 64 /* user, role and token names: 1..64 bytes */

/* Permission bits; the same values as permissions.bit in the database. */
enum {
    PERMBIT_ALERTS_READ = 1,
    PERMBIT_ALERTS_MANAGE = 2,
    PERMBIT_RESPONSE_READ = 4,
    PERMBIT_RESPONSE_MANAGE = 8,
    PERMBIT_ADMIN = 16,
    PERMBIT_ALL = 31,
};

/* What a route may be reached by. Every route declares one; the dispatcher
 * refuses a route left at PERM_UNDECLARED. */
enum perm {
    PERM_UNDECLARED = 0,
    PERM_PUBLIC,          /* anyone, signed in or not */
    PERM_SIGNED_IN,       /* any signed-in user or valid token */
    PERM_ALERTS_READ,
    PERM_ALERTS_MANAGE,
    PERM_RESPONSE_READ,
    PERM_RESPONSE_MANAGE, /* SPEC 5: also requires Alerts: Manage */
    PERM_ADMIN,
};

/* Who is making a request, once authenticated. */
enum principal_kind {
    PRINCIPAL_NONE = 0,
    PRINCIPAL_USER,  /* browser session */
    PRINCIPAL_TOKEN, /* Authorization: Bearer */
};

struct principal {
    enum principal_kind kind;
    long long id;          /* user id or token id */
    char name[STK_NAME_MAX + 8]; /* "alice" or "token:falco" */
    char role[STK_NAME_MAX + 1]; /* users only */
    unsigned perms;        /* PERMBIT_* mask */
    long long session_id;  /* users only */
    long long expires_at;  /* users: the session's absolute end (epoch s) */
    char csrf_token[64];   /* users only */
    char cluster[STK_NAME_MAX + 1]; /* tokens bound to a cluster, else "" */
};

/* Who did something, for the audit log. */
struct actor {
    const char *name; /* "alice", "token:falco", "cli:root", "system" */
    const char *kind; /* user | token | cli | system | anonymous */
    const char *ip;   /* source address, "local" for the CLI */
};

struct user {
    long long id;
    char username[STK_NAME_MAX + 1];
    long long role_id;
    char role[STK_NAME_MAX + 1];
    unsigned perms;
    int disabled;
    long long created_at;
    long long last_login_at; /* 0: never */
    char password_hash[STK_PASSWORD_HASH_MAX];
};

struct role {
    long long id;
    char name[STK_NAME_MAX + 1];
    char description[256];
    int builtin;
    unsigned perms;
};

struct session {
    long long id;
    long long user_id;
    char csrf_token[64];
    long long last_seen_at;
    long long expires_at;
    struct user user;
};

struct api_token {
    long long id;
    char name[STK_NAME_MAX + 1];
    char prefix[16];
    unsigned perms;
    char cluster[STK_NAME_MAX + 1]; /* "" when not bound */
    char created_by[STK_NAME_MAX + 16];
    long long created_at;
    long long expires_at;   /* 0: never */
    long long revoked_at;   /* 0: active */
    long long last_used_at; /* 0: never */
};

#endif
