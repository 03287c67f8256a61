/* The one struct that holds all server state (STYLE section 8). */
#ifndef STK_APP_H
#define STK_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "config.h"
#include "migrate.h"

struct mg_context;
struct tmpl_set;
struct static_files;
struct login_gate;
struct session_cache;

struct app {
    struct config cfg;
    const struct migration_set *migrations;
    int schema_version;           /* what migrate_apply() left the database at */
    struct mg_context *http;      /* civetweb, NULL until started */
    struct tmpl_set *templates;   /* parsed templates/, read-only after start */
    struct static_files *statics; /* /static and /web file server */
    struct login_gate *login_gate; /* password checks in flight */
    struct session_cache *sessions; /* resolved sessions, for a second */
    time_t started_at;
    char listen_url[160];         /* http://ADDR:PORT actually bound */
    atomic_int inflight;          /* requests inside the dispatcher */
    atomic_int draining;          /* set at shutdown: answer with Connection: close */
};

#endif
