/* stockade-agent: runs beside a Kubernetes cluster and carries out
 * response actions for the Stockade server (docs/agents.md). This file
 * only parses the command line and hands over to the modules; it is the
 * only file of the agent that may call exit(). */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "actions.h"
#include "agent.h"
#include "k8s_http.h"
#include "kube.h"
#include "log.h"
#include "policy.h"
#include "sim.h"

#ifndef STK_VERSION
#define STK_VERSION "0.1.0"
#endif

/* Exit codes. */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,  /* the run or the action failed */
    EXIT_USAGE = 2, /* bad arguments or unreadable files */
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: stockade-agent run --server HOST:PORT --state-dir DIR [--enroll-token T]\n"
        "                          [--kube-server URL --kube-token-file F --kube-ca-file F"
        " | --simulate]\n"
        "       stockade-agent exec-local --action isolate|terminate|release|facts|tamper\n"
        "                          [--namespace NS --pod NAME] [--cluster NAME]\n"
        "                          [--kube-server URL --kube-token-file F --kube-ca-file F"
        " | --simulate]\n"
        "       stockade-agent version\n"
        "Without --kube-server the agent uses the in-cluster service account.\n"
        "Other options: --log-level debug|info|warn|error, --cloud aks|eks|gke|other,\n"
        "  --kube-timeout-s N (10), --facts-interval-s N (30), --tamper-interval-s N (5),\n"
        "  --backoff-max-s N (60), --sim-k8s-version V, --sim-network-policy PLUGIN[:VERSION].\n");
}

struct opts {
    const char *server;
    const char *state_dir;
    const char *enroll_token;
    const char *kube_server;
    const char *kube_token_file;
    const char *kube_ca_file;
    int simulate;
    const char *cloud;
    const char *log_level;
    int kube_timeout_s;
    int facts_interval_s;
    int tamper_interval_s;
    int backoff_max_s;
    const char *sim_k8s_version;
    const char *sim_plugin;
    /* exec-local */
    const char *action;
    const char *ns;
    const char *pod;
    const char *cluster;
};

/* One row per option: name, where its value goes (string or int), and
 * the bounds of an int. */
struct opt_row {
    const char *name;
    size_t str_off; /* offsetof the const char * field, or (size_t)-1 */
    size_t int_off; /* offsetof the int field, or (size_t)-1 */
    int min;
    int max;
};

#define NONE ((size_t)-1)
#define S(f) offsetof(struct opts, f), NONE, 0, 0
#define I(f, lo, hi) NONE, offsetof(struct opts, f), lo, hi

static const struct opt_row rows[] = {
    {"--server", S(server)},
    {"--state-dir", S(state_dir)},
    {"--enroll-token", S(enroll_token)},
    {"--kube-server", S(kube_server)},
    {"--kube-token-file", S(kube_token_file)},
    {"--kube-ca-file", S(kube_ca_file)},
    {"--cloud", S(cloud)},
    {"--log-level", S(log_level)},
    {"--kube-timeout-s", I(kube_timeout_s, 1, 300)},
    {"--facts-interval-s", I(facts_interval_s, 1, 3600)},
    {"--tamper-interval-s", I(tamper_interval_s, 1, 3600)},
    {"--backoff-max-s", I(backoff_max_s, 1, 3600)},
    {"--sim-k8s-version", S(sim_k8s_version)},
    {"--sim-network-policy", S(sim_plugin)},
    {"--action", S(action)},
    {"--namespace", S(ns)},
    {"--pod", S(pod)},
    {"--cluster", S(cluster)},
};

/* Parses argv[2..] into `o`. Returns 0, or -1 after printing the reason. */
static int parse(int argc, char **argv, struct opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--simulate") == 0) {
            o->simulate = 1;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const struct opt_row *row = NULL;
        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
            if (strlen(rows[r].name) == nl && strncmp(rows[r].name, a, nl) == 0) {
                row = &rows[r];
            }
        }
        if (row == NULL) {
            fprintf(stderr, "stockade-agent: unknown option '%s'\n", a);
            return -1;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (val == NULL || val[0] == '\0') {
            fprintf(stderr, "stockade-agent: %s needs a value\n", row->name);
            return -1;
        }
        if (row->str_off != NONE) {
            *(const char **)((char *)o + row->str_off) = val;
            continue;
        }
        char *endp = NULL;
        long v = strtol(val, &endp, 10);
        if (*endp != '\0' || v < row->min || v > row->max) {
            fprintf(stderr, "stockade-agent: %s %s: want a whole number from %d to %d\n", row->name,
                    val, row->min, row->max);
            return -1;
        }
        *(int *)((char *)o + row->int_off) = (int)v;
    }
    if (o->log_level != NULL) {
        enum stk_log_level lvl;
        if (log_level_parse(o->log_level, &lvl) != 0) {
            fprintf(stderr, "stockade-agent: --log-level %s: want debug, info, warn or error\n",
                    o->log_level);
            return -1;
        }
        log_set_level(lvl);
    }
    if (o->simulate && (o->kube_server || o->kube_token_file || o->kube_ca_file)) {
        fprintf(stderr, "stockade-agent: --simulate and --kube-* exclude each other\n");
        return -1;
    }
    if (!o->simulate && (o->sim_k8s_version || o->sim_plugin)) {
        fprintf(stderr, "stockade-agent: --sim-* options need --simulate\n");
        return -1;
    }
    if (o->cloud != NULL && strcmp(o->cloud, "aks") != 0 && strcmp(o->cloud, "eks") != 0 &&
        strcmp(o->cloud, "gke") != 0 && strcmp(o->cloud, "other") != 0) {
        fprintf(stderr, "stockade-agent: --cloud %s: want aks, eks, gke or other\n", o->cloud);
        return -1;
    }
    return 0;
}

/* The Kubernetes backend the options ask for. */
static enum stk_err make_kube(const struct opts *o, const char *cluster, struct kube *k,
                              struct stk_error *err)
{
    if (o->simulate) {
        struct sim_opts so = {
            .cluster = cluster, .k8s_version = o->sim_k8s_version, .plugin = o->sim_plugin};
        return sim_new(&so, k, err);
    }
    struct k8s_http_opts ko = {
        .server = o->kube_server,
        .token_file = o->kube_token_file,
        .ca_file = o->kube_ca_file,
        .timeout_ms = o->kube_timeout_s * 1000,
    };
    return kube_api_new(&ko, k, err);
}

static int print_json(json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL) {
        fprintf(stderr, "stockade-agent: out of memory\n");
        return -1;
    }
    puts(text);
    free(text);
    return 0;
}

/* exec-local: one operation against the cluster, the outcome as JSON on
 * stdout; for debugging and for tests without a server. */
static int exec_local(const struct opts *o)
{
    const char *cluster = o->cluster ? o->cluster : "local";
    enum action_kind kind = ACTION_ISOLATE;
    int is_facts = o->action != NULL && strcmp(o->action, "facts") == 0;
    int is_tamper = o->action != NULL && strcmp(o->action, "tamper") == 0;
    if (o->action != NULL && !is_facts && !is_tamper && action_kind_parse(o->action, &kind) != 0) {
        fprintf(stderr,
                "stockade-agent: --action %s: want isolate, terminate, release, facts or "
                "tamper\n",
                o->action);
        return EXIT_USAGE;
    }
    if (o->action == NULL || (!is_facts && (o->ns == NULL || o->pod == NULL))) {
        fprintf(stderr, "stockade-agent: exec-local needs --action, and --namespace and --pod "
                        "for a pod action\n");
        return EXIT_USAGE;
    }
    struct stk_error err = {0};
    struct kube k;
    if (make_kube(o, cluster, &k, &err) != STK_OK) {
        fprintf(stderr, "stockade-agent: %s\n", err.msg);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK;
    json_t *out = NULL;
    if (is_facts) {
        if (actions_facts(&k, o->cloud, &out, &err) != STK_OK) {
            out = json_pack("{s:s, s:s}", "status", "failed", "reason", err.msg);
            rc = EXIT_FAIL;
        }
    } else if (is_tamper) {
        char key[STK_ISOLATION_KEY_MAX];
        json_t *report = NULL;
        int gone = 0;
        policy_isolation_key(o->pod, key);
        if (actions_tamper_check(&k, o->ns, o->pod, key, &report, &gone, &err) != STK_OK) {
            out = json_pack("{s:s, s:s}", "status", "failed", "reason", err.msg);
            rc = EXIT_FAIL;
        } else {
            out = json_pack("{s:s, s:o, s:b}", "status", "succeeded", "tamper",
                            report ? report : json_null(), "gone", gone);
        }
    } else {
        struct action_target t = {.cluster = cluster, .ns = o->ns, .pod = o->pod};
        struct action_result r;
        actions_run(&k, kind, &t, &r);
        out = json_pack("{s:s, s:s, s:s, s:O, s:O?}", "action", action_kind_name(kind), "status",
                        action_status_name(r.status), "reason", r.reason, "details", r.details,
                        "evidence", r.evidence);
        rc = r.status == ACTION_SUCCEEDED ? EXIT_OK : EXIT_FAIL;
        action_result_release(&r);
    }
    if (out == NULL || print_json(out) != 0) {
        rc = EXIT_FAIL;
    }
    json_decref(out);
    kube_free(&k);
    return rc;
}

/* SIGTERM and SIGINT are blocked (in every thread, which inherit the mask)
 * and read from a signalfd the loop polls: no handler, no global flag. */
static int stop_fd_open(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int run(const struct opts *o)
{
    if (o->server == NULL || o->state_dir == NULL) {
        fprintf(stderr, "stockade-agent: run needs --server HOST:PORT and --state-dir DIR\n");
        return EXIT_USAGE;
    }
    struct agent_config cfg;
    agent_config_init(&cfg);
    cfg.server = o->server;
    cfg.state_dir = o->state_dir;
    cfg.enroll_token = o->enroll_token;
    cfg.cloud = o->cloud;
    if (o->facts_interval_s > 0) {
        cfg.facts_interval_ms = o->facts_interval_s * 1000;
    }
    if (o->tamper_interval_s > 0) {
        cfg.tamper_interval_ms = o->tamper_interval_s * 1000;
    }
    if (o->backoff_max_s > 0) {
        cfg.backoff_max_ms = o->backoff_max_s * 1000;
    }
    struct stk_error err = {0};
    struct agent *a = NULL;
    struct kube k = {0};
    enum stk_err rc = STK_OK;
    /* The real API's flags are checked before a token is spent on
     * enrolling; the simulated cluster needs the enrolled cluster's name. */
    if (!o->simulate && make_kube(o, NULL, &k, &err) != STK_OK) {
        fprintf(stderr, "stockade-agent: %s\n", err.msg);
        return EXIT_USAGE;
    }
    int stop_fd = stop_fd_open();
    if (stop_fd < 0) {
        kube_free(&k);
        fprintf(stderr, "stockade-agent: cannot set up signal handling\n");
        return EXIT_FAIL;
    }
    rc = agent_prepare(&cfg, stop_fd, &err);
    if (rc != STK_OK) {
        kube_free(&k);
        close(stop_fd);
        fprintf(stderr, "stockade-agent: %s\n", err.msg);
        return rc == STK_EINVAL || rc == STK_EIO ? EXIT_USAGE : EXIT_FAIL;
    }
    char cluster[STK_AGENT_CLUSTER_MAX];
    rc = agent_state_cluster(cfg.state_dir, cluster, &err);
    if (rc == STK_OK && o->simulate) {
        rc = make_kube(o, cluster, &k, &err);
    }
    if (rc == STK_OK) {
        rc = agent_new(&cfg, &k, &a, &err); /* takes k */
    }
    if (rc != STK_OK) {
        kube_free(&k);
        close(stop_fd);
        fprintf(stderr, "stockade-agent: %s\n", err.msg);
        return EXIT_USAGE;
    }
    rc = agent_run(a, stop_fd, &err);
    agent_free(a);
    close(stop_fd);
    if (rc != STK_OK) {
        fprintf(stderr, "stockade-agent: %s\n", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("stockade-agent %s\n", STK_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "run") != 0 && strcmp(cmd, "exec-local") != 0) {
        fprintf(stderr, "stockade-agent: unknown command '%s'\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }
    struct opts o;
    memset(&o, 0, sizeof(o));
    if (parse(argc, argv, &o) != 0) {
        return EXIT_USAGE;
    }
    int rc = strcmp(cmd, "run") == 0 ? run(&o) : exec_local(&o);
    exit(rc);
}
