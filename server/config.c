#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#ifndef STK_ASSETS_DIR
#define STK_ASSETS_DIR "."
#endif

enum setting_type { SET_STRING, SET_LONG, SET_SIZE };

struct setting {
    const char *key;
    enum setting_type type;
    long min;
    long max;
    const char *def;
    size_t offset;
    int (*validate)(const char *value);
    const char *help;
    int hidden; /* settable, but left out of the usage text (test knobs) */
};

static int valid_log_level(const char *v)
{
    enum stk_log_level lvl;
    return log_level_parse(v, &lvl) == 0;
}

static int valid_listen(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || colon[1] == '\0') {
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return errno == 0 && *end == '\0' && port >= 0 && port <= 65535;
}

static int valid_nonempty(const char *v)
{
    return v[0] != '\0';
}

static int valid_public_url(const char *v)
{
    return v[0] == '\0' || strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
}

#define OFF(f) offsetof(struct config, f)

static const struct setting settings[] = {
    {"listen", SET_STRING, 0, 0, "127.0.0.1:8080", OFF(listen), valid_listen,
     "HTTP listen address ADDR:PORT (port 0 picks a free port)", 0},
    {"db", SET_STRING, 0, 0, "data/stockade.db", OFF(db), valid_nonempty, "SQLite database path",
     0},
    {"data_dir", SET_STRING, 0, 0, "data", OFF(data_dir), valid_nonempty,
     "directory for keys and artefacts", 0},
    {"log_level", SET_STRING, 0, 0, "info", OFF(log_level), valid_log_level,
     "debug, info, warn or error", 0},
    {"assets_dir", SET_STRING, 0, 0, STK_ASSETS_DIR, OFF(assets_dir), valid_nonempty,
     "directory holding templates/, static/ and web/", 0},
    {"migrations_dir", SET_STRING, 0, 0, "", OFF(migrations_dir), NULL,
     "load migrations from this directory instead of the built-in set", 0},
    {"public_url", SET_STRING, 0, 0, "", OFF(public_url), valid_public_url,
     "URL browsers use to reach the server (https:// makes cookies Secure)", 0},
    {"threads", SET_LONG, 2, 1024, "48", OFF(threads), NULL,
     "HTTP worker threads (each holds one database connection)", 0},
    {"keep_alive_ms", SET_LONG, 0, 600000, "2000", OFF(keep_alive_ms), NULL,
     "idle keep-alive time before a connection's worker is freed", 0},
    {"request_timeout_ms", SET_LONG, 100, 3600000, "30000", OFF(request_timeout_ms), NULL,
     "time allowed to receive one request", 0},
    {"shutdown_grace_ms", SET_LONG, 0, 600000, "15000", OFF(shutdown_grace_ms), NULL,
     "at SIGTERM, time requests in flight get to finish", 0},
    {"session_idle_s", SET_LONG, 60, 7 * 86400, "3600", OFF(session_idle_s), NULL,
     "seconds of inactivity after which a browser session ends", 0},
    {"session_max_s", SET_LONG, 300, 30 * 86400, "43200", OFF(session_max_s), NULL,
     "seconds after sign-in at which every browser session ends", 0},
    {"max_body", SET_SIZE, 1024, 1L << 30, "8M", OFF(max_body), NULL,
     "largest request body accepted (bytes, or with K/M/G)", 0},
    {"correlation_window_s", SET_LONG, 60, 30 * 86400, "86400", OFF(correlation_window_s), NULL,
     "alerts sharing a pod, container, identity or IP this close in time join one incident", 0},
    {"correlation_ns_window_s", SET_LONG, 0, 86400, "1800", OFF(correlation_ns_window_s), NULL,
     "alerts sharing only a cluster and namespace this close in time join one incident", 0},
    {"anon_proxies", SET_STRING, 0, 0, "", OFF(anon_proxies), NULL,
     "anonymising proxy addresses (comma-separated IPs or CIDRs) for the audit rules", 0},
    {"anon_proxies_file", SET_STRING, 0, 0, "", OFF(anon_proxies_file), NULL,
     "file of anonymising proxy addresses, one IP or CIDR per line", 0},
    {"attack_path_max_hops", SET_LONG, 1, 16, "6", OFF(attack_path_max_hops), NULL,
     "longest attack path searched, in edges from the entry point to the critical asset", 0},
    {"agent_listen", SET_STRING, 0, 0, "0.0.0.0:8443", OFF(agent_listen), valid_listen,
     "agent gateway (mutual TLS) listen address ADDR:PORT (port 0 picks a free port)", 0},
    {"agent_max_connections", SET_LONG, 1, 65536, "4096", OFF(agent_max_connections), NULL,
     "agent gateway connections held at once (handshakes included)", 0},
    {"agent_heartbeat_s", SET_LONG, 1, 3600, "15", OFF(agent_heartbeat_s), NULL,
     "seconds between agent pings; silent agents are dropped after three", 1},
    {"agent_handshake_timeout_s", SET_LONG, 1, 600, "10", OFF(agent_handshake_timeout_s), NULL,
     "seconds an agent connection gets for its TLS handshake (and to enroll)", 1},
    {"action_queue_ttl_s", SET_LONG, 5, 86400, "600", OFF(action_queue_ttl_s), NULL,
     "response actions not delivered to the cluster's agent within this time fail", 0},
    {"two_person_rule", SET_LONG, 0, 1, "0", OFF(two_person_rule), NULL,
     "1: a terminate waits until a second responder approves it", 0},
};

#define SETTING_COUNT (sizeof(settings) / sizeof(settings[0]))

/* Maps "--data-dir", "data-dir" or "data_dir" to the table row. */
static const struct setting *find_setting(const char *name)
{
    char key[64];
    size_t j = 0;
    while (*name == '-') {
        name++;
    }
    for (; *name && j + 1 < sizeof(key); name++) {
        key[j++] = *name == '-' ? '_' : *name;
    }
    if (*name != '\0') {
        return NULL;
    }
    key[j] = '\0';
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        if (strcmp(settings[i].key, key) == 0) {
            return &settings[i];
        }
    }
    return NULL;
}

int config_has(const char *name)
{
    return find_setting(name) != NULL;
}

static int parse_long(const char *v, enum setting_type type, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v) {
        return -1;
    }
    if (type == SET_SIZE && *end != '\0' && end[1] == '\0') {
        long mul = 1;
        switch (toupper((unsigned char)*end)) {
        case 'K':
            mul = 1024L;
            break;
        case 'M':
            mul = 1024L * 1024;
            break;
        case 'G':
            mul = 1024L * 1024 * 1024;
            break;
        default:
            return -1;
        }
        if (n > LONG_MAX / mul || n < 0) {
            return -1;
        }
        n *= mul;
        end++;
    }
    if (*end != '\0') {
        return -1;
    }
    *out = n;
    return 0;
}

static enum stk_err apply(struct config *cfg, const struct setting *s, const char *value,
                          const char *origin, struct stk_error *err)
{
    char *field = (char *)cfg + s->offset;
    if (s->type == SET_STRING) {
        if (s->validate != NULL && !s->validate(value)) {
            return stk_error_set(err, STK_EINVAL, "%s: invalid value for %s: '%s'", origin, s->key,
                                 value);
        }
        char *copy = strdup(value);
        if (copy == NULL) {
            return stk_error_set(err, STK_ENOMEM, "%s: out of memory", origin);
        }
        char **slot = (char **)(void *)field;
        free(*slot);
        *slot = copy;
        return STK_OK;
    }
    long n = 0;
    if (parse_long(value, s->type, &n) != 0) {
        return stk_error_set(err, STK_EINVAL, "%s: %s needs a number, got '%s'", origin, s->key,
                             value);
    }
    if (n < s->min || n > s->max) {
        return stk_error_set(err, STK_EINVAL, "%s: %s must be between %ld and %ld, got %ld", origin,
                             s->key, s->min, s->max, n);
    }
    *(long *)(void *)field = n;
    return STK_OK;
}

enum stk_err config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        enum stk_err rc = apply(cfg, &settings[i], settings[i].def, "default", NULL);
        if (rc != STK_OK) {
            config_release(cfg);
            return rc;
        }
    }
    return STK_OK;
}

void config_release(struct config *cfg)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        if (settings[i].type == SET_STRING) {
            char **slot = (char **)(void *)((char *)cfg + settings[i].offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

enum stk_err config_set(struct config *cfg, const char *key, const char *value, const char *origin,
                        struct stk_error *err)
{
    const struct setting *s = find_setting(key);
    if (s == NULL) {
        return stk_error_set(err, STK_EINVAL, "%s: unknown setting '%s'", origin, key);
    }
    return apply(cfg, s, value, origin, err);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) {
        *--e = '\0';
    }
    return s;
}

enum stk_err config_load_file(struct config *cfg, const char *path, struct stk_error *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return stk_error_set(err, STK_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    enum stk_err rc = STK_OK;
    unsigned char seen[SETTING_COUNT] = {0};
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char origin[512];
        snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = stk_error_set(err, STK_EINVAL, "%s: line too long", origin);
            goto out;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#') {
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = stk_error_set(err, STK_EINVAL, "%s: expected 'key = value'", origin);
            goto out;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        const struct setting *st = find_setting(key);
        if (st == NULL || strchr(key, '-') != NULL) {
            rc = stk_error_set(err, STK_EINVAL, "%s: unknown setting '%s'", origin, key);
            goto out;
        }
        size_t idx = (size_t)(st - settings);
        if (seen[idx]) {
            rc = stk_error_set(err, STK_EINVAL, "%s: duplicate setting '%s'", origin, key);
            goto out;
        }
        seen[idx] = 1;
        rc = apply(cfg, st, value, origin, err);
        if (rc != STK_OK) {
            goto out;
        }
    }
    if (ferror(f)) {
        rc = stk_error_set(err, STK_EIO, "%s: read error", path);
    }
out:
    fclose(f);
    return rc;
}

enum stk_err config_load_env(struct config *cfg, struct stk_error *err)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        char name[80] = "STOCKADE_";
        size_t j = strlen(name);
        for (const char *k = settings[i].key; *k && j + 1 < sizeof(name); k++) {
            name[j++] = (char)toupper((unsigned char)*k);
        }
        name[j] = '\0';
        const char *v = getenv(name);
        if (v != NULL) {
            enum stk_err rc = apply(cfg, &settings[i], v, name, err);
            if (rc != STK_OK) {
                return rc;
            }
        }
    }
    return STK_OK;
}

void config_usage(void *file)
{
    FILE *f = file;
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        if (settings[i].hidden) {
            continue;
        }
        char flag[64];
        size_t j = 0;
        for (const char *k = settings[i].key; *k && j + 1 < sizeof(flag); k++) {
            flag[j++] = *k == '_' ? '-' : *k;
        }
        flag[j] = '\0';
        fprintf(f, "  --%-20s %s (default: %s)\n", flag, settings[i].help,
                settings[i].def[0] ? settings[i].def : "none");
    }
}
