/* stockade: argument parsing, configuration, and starting the server.
 * The only file of the server that may call exit(). */
#include <civetweb.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "buf.h"
#include "cli.h"
#include "cmd_sign.h"
#include "config.h"
#include "db.h"
#include "gateway.h"
#include "http_routes.h"
#include "http_static.h"
#include "ingest_parse.h"
#include "log.h"
#include "migrate.h"
#include "svc_auth.h"
#include "svc_graph.h"
#include "svc_users.h"
#include "tmpl.h"
#include "version.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: stockade COMMAND [options]\n"
               "\n"
               "commands:\n"
               "  serve      run the HTTP server (migrates the database first)\n"
               "  migrate    apply pending database migrations and exit\n"
               "  user add NAME --role ROLE [--password-stdin] | list | disable NAME |\n"
               "       enable NAME | set-role NAME ROLE | passwd NAME [--password-stdin]\n"
               "  role add NAME --permissions LIST [--description TEXT] | list\n"
               "  token create --name NAME --permissions LIST [--ttl 30d] [--cluster NAME]\n"
               "        | list | revoke ID\n"
               "  agent enroll-token --cluster NAME [--ttl 1h] | list | revoke ID\n"
               "  audit verify   walk the audit hash chain (exit 1 at the first broken entry)\n"
               "  version    print the version\n"
               "  help       print this text\n"
               "\n"
               "options (also STOCKADE_<NAME> environment variables, or --config FILE\n"
               "with 'name = value' lines; flags win over the environment, which wins\n"
               "over the file):\n"
               "  --config FILE             read settings from FILE\n");
    config_usage(f);
}

/* Moves the subcommand's own flags and positional words out of `argv` into
 * `a`, leaving --config and settings in `rest`. Returns -1 after printing a
 * message for a flag missing its value. */
static int split_args(int argc, char **argv, struct cli_args *a, char **rest, int *nrest)
{
    static const char *const valued[] = {"--role", "--name", "--permissions", "--ttl",
                                         "--cluster", "--description"};
    const char **slots[] = {&a->role, &a->name, &a->permissions, &a->ttl, &a->cluster,
                            &a->description};
    memset(a, 0, sizeof(*a));
    *nrest = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--password-stdin") == 0) {
            a->password_stdin = 1;
            continue;
        }
        int taken = 0;
        for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]) && !taken; k++) {
            if (strcmp(arg, valued[k]) == 0) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "stockade: %s needs a value\n", arg);
                    return -1;
                }
                *slots[k] = argv[++i];
                taken = 1;
            }
        }
        if (taken) {
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (a->npos == (int)(sizeof(a->pos) / sizeof(a->pos[0]))) {
                fprintf(stderr, "stockade: too many arguments\n");
                return -1;
            }
            a->pos[a->npos++] = arg;
            continue;
        }
        rest[(*nrest)++] = argv[i];
        if (strchr(arg, '=') == NULL && i + 1 < argc) {
            rest[(*nrest)++] = argv[++i];
        }
    }
    return 0;
}

static int has_cli_args(const struct cli_args *a)
{
    return a->npos || a->role || a->name || a->permissions || a->ttl || a->cluster ||
           a->description || a->password_stdin;
}

/* Reads --config, then the environment, then every --flag of `argv`.
 * Flags this command does not know stop with a message. */
static int load_config(struct config *cfg, int argc, char **argv)
{
    struct stk_error err;
    stk_error_clear(&err);
    if (config_init(cfg) != STK_OK) {
        fprintf(stderr, "stockade: out of memory\n");
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "stockade: --config needs a file\n");
                return -1;
            }
            if (config_load_file(cfg, argv[i + 1], &err) != STK_OK) {
                fprintf(stderr, "stockade: %s\n", err.msg);
                return -1;
            }
        }
    }
    if (config_load_env(cfg, &err) != STK_OK) {
        fprintf(stderr, "stockade: %s\n", err.msg);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "stockade: unexpected argument '%s' (see 'stockade help')\n", arg);
            return -1;
        }
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(arg, '=');
        if (eq != NULL) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
            value = eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", arg);
            if (i + 1 >= argc) {
                fprintf(stderr, "stockade: %s needs a value\n", arg);
                return -1;
            }
            value = argv[++i];
        }
        if (!config_has(name)) {
            fprintf(stderr, "stockade: unknown option '%s' (see 'stockade help')\n", name);
            return -1;
        }
        if (config_set(cfg, name, value, name, &err) != STK_OK) {
            fprintf(stderr, "stockade: %s\n", err.msg);
            return -1;
        }
    }
    enum stk_log_level lvl = STK_LOG_INFO;
    log_level_parse(cfg->log_level, &lvl);
    log_set_level(lvl);
    return 0;
}

/* mkdir -p with `mode` for each created component. */
static int make_dirs(const char *path, mode_t mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* Opens the database (creating its directory) and brings the schema up to
 * date, or explains why it refuses to. On failure nothing is left to free:
 * `*out` is NULL and `loaded` is released. */
static int open_and_migrate(struct app *app, struct db **out, struct migration_set *loaded)
{
    struct stk_error err;
    stk_error_clear(&err);
    *out = NULL;
    if (strcmp(app->cfg.db, ":memory:") != 0) {
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", app->cfg.db);
        const char *dir = dirname(copy);
        if (make_dirs(dir, 0700) != 0) {
            fprintf(stderr, "stockade: cannot create %s: %s\n", dir, strerror(errno));
            return -1;
        }
    }
    app->migrations = migrate_builtin();
    if (app->cfg.migrations_dir[0] != '\0') {
        if (migrate_load_dir(app->cfg.migrations_dir, loaded, &err) != STK_OK) {
            fprintf(stderr, "stockade: %s\n", err.msg);
            return -1;
        }
        app->migrations = loaded;
    }
    struct db *db = NULL;
    if (db_open(app->cfg.db, &db, &err) != STK_OK) {
        fprintf(stderr, "stockade: %s\n", err.msg);
        migrate_set_release(loaded);
        return -1;
    }
    int applied = 0;
    if (migrate_apply(db, app->migrations, &applied, &app->schema_version, &err) != STK_OK) {
        fprintf(stderr, "stockade: refusing to use %s: %s\n", app->cfg.db, err.msg);
        db_free(db);
        migrate_set_release(loaded);
        return -1;
    }
    *out = db;
    return applied;
}

static void *thread_start(const struct mg_context *ctx, int thread_type)
{
    /* 1 is a request worker: each gets its own database connection. */
    if (thread_type != 1) {
        return NULL;
    }
    struct app *app = mg_get_user_data(ctx);
    struct worker *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        log_event(STK_LOG_ERROR, "worker_alloc_failed", "size=%zu", sizeof(*w));
        return NULL;
    }
    struct stk_error err;
    stk_error_clear(&err);
    if (db_open(app->cfg.db, &w->db, &err) != STK_OK) {
        /* The worker still answers: requests needing the database get 503. */
        log_event(STK_LOG_ERROR, "worker_db_open_failed", "error=\"%s\"", err.msg);
    }
    return w;
}

static void thread_stop(const struct mg_context *ctx, int thread_type, void *ptr)
{
    (void)ctx;
    if (thread_type == 1 && ptr != NULL) {
        struct worker *w = ptr;
        db_free(w->db);
        sodium_memzero(w->sessions, sizeof(w->sessions));
        free(w);
    }
}

static int civetweb_log(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    char clean[512];
    log_event(STK_LOG_WARN, "civetweb", "message=\"%s\"", log_clean(message, clean, sizeof(clean)));
    return 1;
}

/* The anonymising proxy list: the setting's addresses plus the file's. */
static enum stk_err load_proxies(struct app *app, struct stk_error *err)
{
    struct buf text;
    buf_init(&text, 16u << 20);
    enum stk_err rc = buf_append(&text, app->cfg.anon_proxies, strlen(app->cfg.anon_proxies));
    if (rc == STK_OK && app->cfg.anon_proxies_file[0] != '\0') {
        FILE *f = fopen(app->cfg.anon_proxies_file, "r");
        if (f == NULL) {
            buf_release(&text);
            return stk_error_set(err, STK_EIO, "%s: %s", app->cfg.anon_proxies_file,
                                 strerror(errno));
        }
        char chunk[4096];
        size_t n;
        rc = buf_append(&text, "\n", 1);
        while (rc == STK_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
            rc = buf_append(&text, chunk, n);
        }
        fclose(f);
    }
    if (rc == STK_OK) {
        rc = cidr_list_parse(text.data ? text.data : "", &app->proxies, err);
    } else {
        stk_error_set(err, rc, "the proxy list is too large");
    }
    buf_release(&text);
    return rc;
}

/* The Ed25519 key that signs agent commands, created on first start. */
static enum stk_err load_command_key(struct app *app, struct stk_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/command.key", app->cfg.data_dir) >= (int)sizeof(path)) {
        return stk_error_set(err, STK_EINVAL, "data dir path too long");
    }
    unsigned char pk[STK_CMD_PK_BYTES];
    enum stk_err rc = cmd_key_load_or_create(path, pk, app->command_sk, err);
    app->command_key_loaded = rc == STK_OK;
    return rc;
}

static int cmd_serve(struct app *app)
{
    int rc = 1;
    struct db *db = NULL;
    struct migration_set loaded = {0};
    struct stk_error err;
    stk_error_clear(&err);

    if (make_dirs(app->cfg.data_dir, 0700) != 0) {
        fprintf(stderr, "stockade: cannot create data dir %s: %s\n", app->cfg.data_dir,
                strerror(errno));
        goto out;
    }
    if (open_and_migrate(app, &db, &loaded) < 0) {
        goto out;
    }
    char first_pw[32];
    int created = 0;
    if (svc_users_bootstrap_admin(db, first_pw, &created, &err) != STK_OK) {
        fprintf(stderr, "stockade: creating the first admin: %s\n", err.msg);
        goto out;
    }
    struct auth_policy pol = {.session_idle_s = app->cfg.session_idle_s,
                              .session_max_s = app->cfg.session_max_s};
    if (svc_auth_purge(db, &pol, &err) != STK_OK) {
        log_event(STK_LOG_WARN, "session_purge_failed", "error=\"%s\"", err.msg);
    }
    if (created) {
        log_event(STK_LOG_WARN, "first_admin_created", "user=admin");
        printf("No user existed: created user 'admin' with password %s\n"
               "It is shown only this once; sign in and change it under Settings.\n",
               first_pw);
        fflush(stdout);
        sodium_memzero(first_pw, sizeof(first_pw));
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/templates", app->cfg.assets_dir);
    if (tmpl_set_load(dir, &app->templates, &err) != STK_OK) {
        fprintf(stderr, "stockade: templates: %s\n", err.msg);
        goto out;
    }
    if (svc_auth_gate_new(&app->login_gate) != STK_OK) {
        fprintf(stderr, "stockade: out of memory\n");
        goto out;
    }
    if (http_static_new(app->cfg.assets_dir, &app->statics, &err) != STK_OK) {
        fprintf(stderr, "stockade: static files: %s\n", err.msg);
        goto out;
    }
    if (load_proxies(app, &err) != STK_OK) {
        fprintf(stderr, "stockade: anon_proxies: %s\n", err.msg);
        goto out;
    }
    if (svc_graph_cache_new(SVC_GRAPH_CACHE_ENTRIES, SVC_GRAPH_CACHE_BYTES, &app->graphs, &err) !=
        STK_OK) {
        fprintf(stderr, "stockade: graph cache: %s\n", err.msg);
        goto out;
    }
    if (load_command_key(app, &err) != STK_OK) {
        fprintf(stderr, "stockade: command signing key: %s\n", err.msg);
        goto out;
    }
    if (gateway_start(app, &app->gateway, &err) != STK_OK) {
        fprintf(stderr, "stockade: agent gateway: %s\n", err.msg);
        goto out;
    }

    /* Block the stop signals before civetweb makes its threads, so they
     * inherit the mask and only sigwait() below sees the signal. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char threads[16], keep_alive[16], req_timeout[16];
    snprintf(threads, sizeof(threads), "%ld", app->cfg.threads);
    snprintf(keep_alive, sizeof(keep_alive), "%ld", app->cfg.keep_alive_ms);
    snprintf(req_timeout, sizeof(req_timeout), "%ld", app->cfg.request_timeout_ms);
    const char *options[] = {
        "listening_ports", app->cfg.listen,
        "num_threads", threads,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", keep_alive,
        "request_timeout_ms", req_timeout,
        /* Without it every response waits 40 ms for Nagle (MEASURED.md). */
        "tcp_nodelay", "1",
        "enable_directory_listing", "no",
        /* We decode the path ourselves: civetweb would turn %00 into a NUL
         * that cuts the path short before any check sees it. */
        "decode_url", "no",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.init_thread = thread_start;
    cb.exit_thread = thread_stop;
    cb.http_error = http_routes_civetweb_error;
    cb.log_message = civetweb_log;
    app->http = mg_start(&cb, app, options);
    if (app->http == NULL) {
        fprintf(stderr, "stockade: cannot listen on %s (address in use or not available)\n",
                app->cfg.listen);
        goto out;
    }
    mg_set_request_handler(app->http, "/", http_routes_dispatch, app);

    struct mg_server_port ports[4];
    memset(ports, 0, sizeof(ports));
    int nports = mg_get_server_ports(app->http, 4, ports);
    char host[96];
    snprintf(host, sizeof(host), "%s", app->cfg.listen);
    char *colon = strrchr(host, ':');
    if (colon != NULL) {
        *colon = '\0';
    }
    snprintf(app->listen_url, sizeof(app->listen_url), "http://%s:%d", host,
             nports > 0 ? ports[0].port : 0);
    log_event(STK_LOG_INFO, "listening", "url=%s threads=%ld db=%s schema_version=%d",
              app->listen_url, app->cfg.threads, app->cfg.db, app->schema_version);
    /* One write, the gateway first: whoever waits for the second line
     * (tests/api/lib/server.mjs) has both. */
    printf("gateway listening on %s\nstockade listening on %s\n", gateway_address(app->gateway),
           app->listen_url);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    log_event(STK_LOG_INFO, "shutdown", "signal=%d inflight=%d", sig,
              atomic_load(&app->inflight));
    /* civetweb's mg_stop() aborts writes still in progress: first let the
     * requests being served finish (new ones are answered with
     * Connection: close), for at most the grace period. */
    atomic_store(&app->draining, 1);
    for (long waited = 0; atomic_load(&app->inflight) > 0 && waited < app->cfg.shutdown_grace_ms;
         waited += 10) {
        struct timespec ten_ms = {0, 10 * 1000 * 1000};
        nanosleep(&ten_ms, NULL);
    }
    if (atomic_load(&app->inflight) > 0) {
        log_event(STK_LOG_WARN, "shutdown_grace_over", "inflight=%d",
                  atomic_load(&app->inflight));
    }
    mg_stop(app->http);
    /* After civetweb: no request can reach the gateway any more. */
    gateway_free(app->gateway);
    app->gateway = NULL;
    app->http = NULL;
    if (db_checkpoint(db, &err) != STK_OK) {
        log_event(STK_LOG_WARN, "checkpoint_failed", "error=\"%s\"", err.msg);
    }
    log_event(STK_LOG_INFO, "stopped", "db=%s", app->cfg.db);
    rc = 0;
out:
    tmpl_set_free(app->templates);
    app->templates = NULL;
    http_static_free(app->statics);
    app->statics = NULL;
    svc_auth_gate_free(app->login_gate);
    app->login_gate = NULL;
    cidr_list_free(app->proxies);
    app->proxies = NULL;
    svc_graph_cache_free(app->graphs);
    app->graphs = NULL;
    gateway_free(app->gateway);
    app->gateway = NULL;
    sodium_memzero(app->command_sk, sizeof(app->command_sk));
    app->command_key_loaded = 0;
    db_free(db);
    migrate_set_release(&loaded);
    return rc;
}

static int cmd_migrate(struct app *app)
{
    struct db *db = NULL;
    struct migration_set loaded = {0};
    int applied = open_and_migrate(app, &db, &loaded);
    if (applied < 0) {
        return 1;
    }
    struct stk_error err;
    stk_error_clear(&err);
    db_checkpoint(db, &err);
    printf("schema version %d (%d migration%s applied)\n", app->schema_version, applied,
           applied == 1 ? "" : "s");
    db_free(db);
    migrate_set_release(&loaded);
    return 0;
}

/* user / role / token / audit / agent against the database (migrated
 * first, so a fresh database works). */
static int cmd_admin(struct app *app, const char *cmd, const char *sub, const struct cli_args *a)
{
    struct db *db = NULL;
    struct migration_set loaded = {0};
    if (open_and_migrate(app, &db, &loaded) < 0) {
        return 1;
    }
    int rc = 2;
    if (strcmp(cmd, "agent") == 0) {
        /* enroll-token needs the CA, made in the data dir like serve does. */
        if (strcmp(sub, "enroll-token") == 0 && make_dirs(app->cfg.data_dir, 0700) != 0) {
            fprintf(stderr, "stockade: cannot create data dir %s: %s\n", app->cfg.data_dir,
                    strerror(errno));
            rc = 1;
        } else {
            rc = cli_agent(db, app->cfg.data_dir, sub, a);
        }
    } else if (strcmp(cmd, "user") == 0) {
        rc = cli_user(db, sub, a);
    } else if (strcmp(cmd, "role") == 0) {
        rc = cli_role(db, sub, a);
    } else if (strcmp(cmd, "token") == 0) {
        rc = cli_token(db, sub, a);
    } else {
        rc = cli_audit(db, sub, a);
    }
    db_free(db);
    migrate_set_release(&loaded);
    return rc;
}

int main(int argc, char **argv)
{
    db_global_init();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("stockade %s\n", STK_VERSION);
        return 0;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "stockade: libsodium failed to initialise\n");
        return 1;
    }
    struct app app;
    memset(&app, 0, sizeof(app));
    static const char *const admin_cmds[] = {"user", "role", "token", "audit", "agent"};
    int is_admin_cmd = 0;
    for (size_t i = 0; i < sizeof(admin_cmds) / sizeof(admin_cmds[0]); i++) {
        is_admin_cmd |= strcmp(cmd, admin_cmds[i]) == 0;
    }
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0 && !is_admin_cmd) {
        fprintf(stderr, "stockade: unknown command '%s' (see 'stockade help')\n", cmd);
        return 2;
    }
    int first = 2;
    const char *sub = NULL;
    if (is_admin_cmd) {
        if (argc < 3 || strncmp(argv[2], "--", 2) == 0) {
            fprintf(stderr, "stockade: '%s' needs a subcommand (see 'stockade help')\n", cmd);
            return 2;
        }
        sub = argv[2];
        first = 3;
    }
    struct cli_args cli;
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    if (rest == NULL || split_args(argc - first, argv + first, &cli, rest, &nrest) != 0) {
        free(rest);
        return 2;
    }
    if (!is_admin_cmd && has_cli_args(&cli)) {
        fprintf(stderr, "stockade: unexpected argument for '%s' (see 'stockade help')\n", cmd);
        free(rest);
        return 2;
    }
    int rc = 2;
    if (load_config(&app.cfg, nrest, rest) != 0) {
        free(rest);
        config_release(&app.cfg);
        return 2;
    }
    free(rest);
    mg_init_library(0);
    if (strcmp(cmd, "serve") == 0) {
        rc = cmd_serve(&app);
    } else if (strcmp(cmd, "migrate") == 0) {
        rc = cmd_migrate(&app);
    } else {
        rc = cmd_admin(&app, cmd, sub, &cli);
    }
    mg_exit_library();
    config_release(&app.cfg);
    return rc;
}
