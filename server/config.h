/* Server settings: one table row per setting (STYLE section 9).
 *
 * Sources, later ones winning: built-in defaults, the file named by
 * --config (lines `key = value`, `#` comments), environment variables
 * STOCKADE_<KEY> (upper case), then command-line flags --key value (with
 * '-' for '_'). */
#ifndef STK_CONFIG_H
#define STK_CONFIG_H

#include <stddef.h>

#include "err.h"

struct config {
    char *listen;         /* ADDR:PORT of the HTTP server */
    char *db;             /* SQLite database path */
    char *data_dir;       /* CA keys, agent state, artefacts */
    char *log_level;      /* debug | info | warn | error */
    char *assets_dir;     /* holds templates/, static/, web/ */
    char *migrations_dir; /* empty: the migrations built into the binary */
    char *public_url;     /* how browsers reach us; https:// marks cookies Secure */
    long threads;         /* civetweb worker threads, one DB connection each */
    long keep_alive_ms;   /* idle keep-alive before a worker is freed */
    long request_timeout_ms;
    long shutdown_grace_ms; /* how long requests in flight may finish at shutdown */
    long max_body;        /* bytes; larger request bodies get 413 */
    long session_idle_s;  /* a browser session unused this long ends */
    long session_max_s;   /* every browser session ends this long after sign-in */
    long correlation_window_s;    /* alerts sharing a pod/container/identity/IP */
    long correlation_ns_window_s; /* alerts sharing only a namespace */
    char *anon_proxies;           /* comma-separated IPs/CIDRs */
    char *anon_proxies_file;      /* one IP/CIDR per line */
    long attack_path_max_hops;    /* longest attack path, in edges */
    char *agent_listen;           /* ADDR:PORT of the agent gateway */
    long agent_max_connections;   /* gateway connections at once */
    long agent_heartbeat_s;       /* hidden: agents ping this often; 3x silence drops */
    long agent_handshake_timeout_s; /* hidden: TLS handshake and enrollment deadline */
    long action_queue_ttl_s;      /* undelivered actions fail after this ("agent offline") */
    long two_person_rule;         /* 1: terminate waits for a second responder */
};

/* Fills `cfg` with the defaults. Caller frees with config_release(). */
enum stk_err config_init(struct config *cfg);

/* Frees the strings held by `cfg`. Accepts a zeroed struct. */
void config_release(struct config *cfg);

/* Applies `key = value` lines from `path`. Unknown, duplicate or
 * out-of-range settings fail with "path:line: reason" in `err`. */
enum stk_err config_load_file(struct config *cfg, const char *path, struct stk_error *err);

/* Applies STOCKADE_* variables from the environment for every setting. */
enum stk_err config_load_env(struct config *cfg, struct stk_error *err);

/* Sets one setting by key ("listen") or flag name ("--data-dir"); `origin`
 * names the source in error messages. */
enum stk_err config_set(struct config *cfg, const char *key, const char *value, const char *origin,
                        struct stk_error *err);

/* True if `name` (with or without leading "--", '-' or '_') is a setting. */
int config_has(const char *name);

/* Writes "  --flag VALUE  help (default ...)" lines for usage text. */
void config_usage(void *file);

#endif
