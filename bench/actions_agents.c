/* actions_agents: the agents and the driver of bench/actions.sh.
 *
 *   actions_agents STOCKADE REPO WORK TOKEN N ACTIONS CONC
 *
 * Runs `STOCKADE serve` itself (a child: it restarts it in step 5), with a
 * fresh database WORK/stockade.db and data dir WORK/data, loopback ports
 * picked by the kernel the first time and kept for the restart, log level
 * warn, every other setting at its default. TOKEN is an API token with
 * admin and response permissions (made by the script). Then:
 *   1. the server's RSS and CPU (utime + stime, /proc/PID/stat) over IDLE_S
 *      seconds with no agent;
 *   2. N enrollment tokens over the API (POST /api/v1/agents/enroll-tokens,
 *      clusters bench-0000 ...), and N agents enrolled with them through the
 *      real agent library (agent_prepare(): key, CSR, TLS, state files in
 *      WORK/agents/bench-NNNN), two at a time;
 *   3. the N agents (agent_new() with the --simulate backend, each its own
 *      cluster; one shared worker pool of 2 threads; default settings:
 *      15 s heartbeat, 30 s facts, backoff 1 s doubling to 60 s +-20 %)
 *      driven through agent_pollfds/agent_timeout_ms/agent_dispatch by
 *      LOOPS threads (agent i by thread i % LOOPS), until the API lists all
 *      N as connected; then, once every agent has sent its first ping
 *      (16 s), RSS and CPU over IDLE_S idle seconds;
 *   4. ACTIONS isolate actions (POST /api/v1/actions), CONC at a time from
 *      CONC keep-alive connections, on distinct agents spread over the N
 *      (agent k * N / ACTIONS) and their simulated pod; each is polled
 *      (GET /api/v1/actions/{id}, every POLL_MS ms) until it ended: client
 *      time from sending the POST to the GET that shows `succeeded`, and
 *      the record's finished_at - created_at (and its steps);
 *   5. SIGTERM to the server with the N agents connected, wait for it to
 *      exit, start it again on the same ports, database and data dir, and
 *      time until GET /api/v1/agents shows all N connected again (polled
 *      every 200 ms), and until every agent had its welcome (agent side).
 * Prints key=value lines on stdout; progress on stderr. Environment:
 * IDLE_S (15: one heartbeat period, each agent pings once), POLL_MS (5),
 * LOOPS (8), LOG_LEVEL (error; warn shows the agents' failed attempts). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "sim.h"
#include "worker.h"

/* The simulator's generic cluster (agent/sim.c, any cluster name it does
 * not know): a Running pod of Kubernetes v1.29.4 with calico 3.26.1, so the
 * server's isolate preconditions pass. */
#define POD_NS "default"
#define POD_NAME "web-5d8f7c9b6-k2v7p"

static const char *g_bin, *g_repo, *g_work, *g_token;
static int g_http_port, g_gw_port;
static pid_t g_pid = -1;
static int g_idle_s = 15, g_poll_ms = 5, g_loops = 8;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[actions] ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "actions_agents: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
    }
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted `v`. */
static double pct(const double *v, int n, int p)
{
    if (n == 0) {
        return 0;
    }
    int k = (n * p + 99) / 100;
    return v[k < 1 ? 0 : k - 1];
}

/* ------------------------------------------------------------------------ */
/* The server process */

static long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

/* utime + stime of `pid`, in clock ticks. */
static long long proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ... utime(14) stime(15) */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        return -1;
    }
    return (long long)(ut + st);
}

/* The server's CPU use over `secs` seconds, in % of one CPU. */
static double server_cpu_pct(int secs)
{
    long long t0 = proc_cpu_ticks(g_pid);
    double w0 = now_s();
    sleep_ms(secs * 1000L);
    long long t1 = proc_cpu_ticks(g_pid);
    double w1 = now_s();
    return (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK) / (w1 - w0) * 100.0;
}

/* Starts the server (run `k` names its output files) and waits until it
 * says where it listens. Ports 0 the first time; the same ones after. */
static void server_start(int k)
{
    char out[4096], err[4096], listen[64], agent_listen[64], db[4096], data[4096];
    snprintf(out, sizeof(out), "%s/server-%d.out", g_work, k);
    snprintf(err, sizeof(err), "%s/server-%d.err", g_work, k);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", g_http_port);
    snprintf(agent_listen, sizeof(agent_listen), "127.0.0.1:%d", g_gw_port);
    snprintf(db, sizeof(db), "%s/stockade.db", g_work);
    snprintf(data, sizeof(data), "%s/data", g_work);
    pid_t pid = fork();
    if (pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the bench */
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) {
            _exit(127);
        }
        execl(g_bin, g_bin, "serve", "--listen", listen, "--agent-listen", agent_listen, "--db", db,
              "--data-dir", data, "--assets-dir", g_repo, "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    g_pid = pid;
    for (int i = 0; i < 300; i++) {
        char line[512];
        int http = 0, gw = 0;
        FILE *f = fopen(out, "r");
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            char *c = strrchr(line, ':');
            if (c != NULL && strncmp(line, "gateway listening on ", 21) == 0) {
                gw = atoi(c + 1);
            } else if (c != NULL && strncmp(line, "stockade listening on http://", 29) == 0) {
                http = atoi(c + 1);
            }
        }
        if (f != NULL) {
            fclose(f);
        }
        if (http > 0 && gw > 0) {
            g_http_port = http;
            g_gw_port = gw;
            return;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            g_pid = -1;
            die("the server exited at start; see %s", err);
        }
        sleep_ms(20);
    }
    die("the server did not start within 6 s; see %s", err);
}

/* SIGTERM, and the wait for the exit. */
static void server_stop(void)
{
    if (g_pid <= 0) {
        return;
    }
    kill(g_pid, SIGTERM);
    int st;
    while (waitpid(g_pid, &st, 0) < 0 && errno == EINTR) {
    }
    g_pid = -1;
}

/* ------------------------------------------------------------------------ */
/* A small HTTP/1.1 client: one keep-alive connection, Content-Length
 * answers (what the server sends). */

struct http {
    int fd;
    double used; /* when the connection last answered */
    char *buf;
    size_t cap;
};

static void http_close(struct http *h)
{
    if (h->fd >= 0) {
        close(h->fd);
    }
    h->fd = -1;
}

static int http_connect(struct http *h)
{
    http_close(h);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)g_http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    h->fd = fd;
    return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int http_fill(struct http *h, size_t *have)
{
    if (*have + 1 >= h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 65536;
        char *b = realloc(h->buf, cap);
        if (b == NULL) {
            return -1;
        }
        h->buf = b;
        h->cap = cap;
    }
    for (;;) {
        ssize_t r = recv(h->fd, h->buf + *have, h->cap - 1 - *have, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        *have += (size_t)r;
        h->buf[*have] = '\0';
        return 0;
    }
}

static int http_once(struct http *h, const char *req, size_t len, char **body)
{
    if (send_all(h->fd, req, len) != 0) {
        return -1;
    }
    size_t have = 0;
    char *end = NULL;
    while (end == NULL) {
        if (http_fill(h, &have) != 0) {
            return -1;
        }
        end = strstr(h->buf, "\r\n\r\n");
    }
    int status = 0;
    const char *cl = strcasestr(h->buf, "\r\nContent-Length:");
    if (sscanf(h->buf, "HTTP/1.%*d %d", &status) != 1 || cl == NULL || cl > end) {
        return -1;
    }
    size_t hdr = (size_t)(end + 4 - h->buf);
    size_t need = hdr + strtoul(cl + 17, NULL, 10);
    while (have < need) {
        if (http_fill(h, &have) != 0) {
            return -1;
        }
    }
    h->buf[need] = '\0';
    *body = h->buf + hdr;
    h->used = now_s();
    return status;
}

/* One request; returns the status (-1 when there was no answer) and the
 * body in *body (valid until the next request). A connection idle for a
 * second is replaced first (the server's keep-alive is 2 s), and one that
 * fails before any answer is retried once on a new one. */
static int http_do(struct http *h, const char *method, const char *path, const char *json,
                   char **body)
{
    char req[4096];
    size_t blen = json ? strlen(json) : 0;
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, g_token, blen, json ? json : "");
    if (n < 0 || (size_t)n >= sizeof(req)) {
        die("request too long");
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((h->fd < 0 || now_s() - h->used > 1.0) && http_connect(h) != 0) {
            h->used = 0;
            continue;
        }
        int st = http_once(h, req, (size_t)n, body);
        if (st > 0) {
            return st;
        }
        http_close(h);
    }
    return -1;
}

static json_t *http_json(struct http *h, const char *method, const char *path, const char *json,
                         int want)
{
    char *body = NULL;
    int st = http_do(h, method, path, json, &body);
    if (st != want) {
        die("%s %s: %d %.300s", method, path, st, st > 0 ? body : "(no answer)");
    }
    json_t *v = json_loads(body, 0, NULL);
    if (v == NULL) {
        die("%s %s: not JSON", method, path);
    }
    return v;
}

/* Agents the API shows connected; -1 when it did not answer. */
static int api_connected(struct http *h)
{
    char *body = NULL;
    if (http_do(h, "GET", "/api/v1/agents", NULL, &body) != 200) {
        return -1;
    }
    json_t *v = json_loads(body, 0, NULL);
    size_t i;
    json_t *it;
    int n = 0;
    json_array_foreach(json_object_get(v, "items"), i, it)
    {
        n += json_is_true(json_object_get(it, "connected"));
    }
    json_decref(v);
    return n;
}

/* ------------------------------------------------------------------------ */
/* The agents */

struct fleet;

/* One thread driving agents first, first + step, ... */
struct loop {
    struct fleet *f;
    int first, step;
    pthread_t thread;
    atomic_int connected; /* its agents welcomed */
};

struct fleet {
    int n;
    char (*names)[32];
    char (*dirs)[4096];
    char **tokens;
    char server[64];
    struct agent_config *cfg;
    struct agent **a;
    struct worker *pool;
    int nloops;
    struct loop *loops;
    atomic_int stop;
    atomic_int enroll_next;
    pthread_mutex_t mu; /* guards what follows */
    int *up;            /* welcomed, as of the last turn */
    double *up_at;      /* when it was last welcomed (now_s) */
    long long drops;    /* welcomed -> not, over the run */
};

static void *enroll_run(void *arg)
{
    struct fleet *f = arg;
    for (;;) {
        int i = atomic_fetch_add(&f->enroll_next, 1);
        if (i >= f->n) {
            return NULL;
        }
        struct stk_error err = {0};
        if (agent_prepare(&f->cfg[i], -1, &err) != STK_OK) {
            die("enrolling %s: %s", f->names[i], err.msg);
        }
        free(f->tokens[i]);
        f->tokens[i] = NULL;
        f->cfg[i].enroll_token = NULL;
    }
}

#define TURN_MS 20 /* handshake work per turn of the agents' loop */

struct order {
    long long key;
    int i;
};

static int order_cmp(const void *a, const void *b)
{
    long long x = ((const struct order *)a)->key, y = ((const struct order *)b)->key;
    return x < y ? -1 : x > y;
}

/* A poll loop that drives some of the agents (agent.h). */
static void *loop_run(void *arg)
{
    struct loop *lp = arg;
    struct fleet *f = lp->f;
    struct pollfd *fds = calloc((size_t)f->n * STK_AGENT_POLLFDS, sizeof(*fds));
    int *off = calloc((size_t)f->n, sizeof(*off));
    int *cnt = calloc((size_t)f->n, sizeof(*cnt));
    /* When each agent's connection was first seen (0: none): handshakes are
     * served in that order, as the gateway accepts them. */
    long long *since = calloc((size_t)f->n, sizeof(*since));
    long long conns = 0;
    struct order *todo = calloc((size_t)f->n, sizeof(*todo));
    if (fds == NULL || off == NULL || cnt == NULL || since == NULL || todo == NULL) {
        die("memory");
    }
    while (!atomic_load(&f->stop)) {
        int64_t now = agent_now_ms();
        int timeout = 100; /* to see `stop` */
        int n = 0;
        for (int i = lp->first; i < f->n; i += lp->step) {
            off[i] = n;
            cnt[i] = agent_pollfds(f->a[i], fds + n, STK_AGENT_POLLFDS);
            int has_conn = cnt[i] >= 2 && fds[n + 1].fd >= 0;
            if (has_conn && since[i] == 0) {
                since[i] = ++conns;
            } else if (!has_conn) {
                since[i] = 0;
            }
            n += cnt[i];
            int t = agent_timeout_ms(f->a[i], now);
            timeout = t < timeout ? t : timeout;
        }
        if (poll(fds, (nfds_t)n, timeout) < 0) {
            if (errno != EINTR) {
                die("poll: %s", strerror(errno));
            }
            for (int j = 0; j < n; j++) {
                fds[j].revents = 0;
            }
        }
        /* Only the agents with something to do (events or a timer); the
         * connected ones first (pings, commands: cheap), then the others
         * (TLS handshakes: ~5 ms of ECC each) oldest connection first, for
         * at most TURN_MS per turn. Real agents each have a CPU of their
         * own; here one thread does many agents' handshakes, and serving
         * them all each turn would make each take as long as all of them
         * together (and hold up the connected agents' pongs and commands).
         * What is left stays ready for the next turn. */
        now = agent_now_ms();
        double t_turn = now_s();
        size_t ntodo = 0;
        for (int i = lp->first; i < f->n; i += lp->step) {
            int any = 0;
            for (int j = 0; j < cnt[i]; j++) {
                any |= fds[off[i] + j].revents != 0;
            }
            if (!any && agent_timeout_ms(f->a[i], now) != 0) {
                continue;
            }
            if (agent_connected(f->a[i])) {
                agent_dispatch(f->a[i], fds + off[i], cnt[i], agent_now_ms());
            } else {
                todo[ntodo++] = (struct order){.key = since[i], .i = i};
            }
        }
        qsort(todo, ntodo, sizeof(*todo), order_cmp);
        for (size_t k = 0; k < ntodo && now_s() - t_turn < TURN_MS / 1000.0; k++) {
            int i = todo[k].i;
            agent_dispatch(f->a[i], fds + off[i], cnt[i], agent_now_ms());
        }
        double t = now_s();
        int up = 0;
        pthread_mutex_lock(&f->mu);
        for (int i = lp->first; i < f->n; i += lp->step) {
            int c = agent_connected(f->a[i]);
            if (c && !f->up[i]) {
                f->up_at[i] = t;
            } else if (!c && f->up[i]) {
                f->drops++;
            }
            f->up[i] = c;
            up += c;
        }
        pthread_mutex_unlock(&f->mu);
        atomic_store(&lp->connected, up);
    }
    free(fds);
    free(off);
    free(cnt);
    free(since);
    free(todo);
    return NULL;
}

static int fleet_connected(struct fleet *f)
{
    int up = 0;
    for (int t = 0; t < f->nloops; t++) {
        up += atomic_load(&f->loops[t].connected);
    }
    return up;
}

static void fleet_start(struct fleet *f)
{
    for (int t = 0; t < f->nloops; t++) {
        f->loops[t] = (struct loop){.f = f, .first = t, .step = f->nloops};
        pthread_create(&f->loops[t].thread, NULL, loop_run, &f->loops[t]);
    }
}

static void fleet_init(struct fleet *f, int n, int nloops)
{
    memset(f, 0, sizeof(*f));
    f->n = n;
    f->nloops = nloops;
    f->loops = calloc((size_t)nloops, sizeof(*f->loops));
    f->names = calloc((size_t)n, sizeof(*f->names));
    f->dirs = calloc((size_t)n, sizeof(*f->dirs));
    f->tokens = calloc((size_t)n, sizeof(*f->tokens));
    f->cfg = calloc((size_t)n, sizeof(*f->cfg));
    f->a = calloc((size_t)n, sizeof(*f->a));
    f->up = calloc((size_t)n, sizeof(*f->up));
    f->up_at = calloc((size_t)n, sizeof(*f->up_at));
    if (!f->names || !f->dirs || !f->tokens || !f->cfg || !f->a || !f->up || !f->up_at ||
        !f->loops) {
        die("memory");
    }
    pthread_mutex_init(&f->mu, NULL);
    snprintf(f->server, sizeof(f->server), "127.0.0.1:%d", g_gw_port);
    char root[2048];
    if (snprintf(root, sizeof(root), "%s/agents", g_work) >= (int)sizeof(root)) {
        die("WORK path too long");
    }
    if (mkdir(root, 0700) != 0 && errno != EEXIST) {
        die("mkdir %s: %s", root, strerror(errno));
    }
    for (int i = 0; i < n; i++) {
        snprintf(f->names[i], sizeof(f->names[i]), "bench-%04d", i % 10000);
        snprintf(f->dirs[i], sizeof(f->dirs[i]), "%s/%s", root, f->names[i]);
        /* The defaults of `stockade-agent run`: nothing shortened. */
        agent_config_init(&f->cfg[i]);
        f->cfg[i].server = f->server;
        f->cfg[i].state_dir = f->dirs[i];
    }
}

/* ------------------------------------------------------------------------ */
/* The actions */

struct act {
    double client_ms; /* POST sent -> GET shows succeeded */
    double post_ms;   /* POST sent -> 202 */
    long long created, dispatched, acked, finished;
};

struct actions_run {
    struct fleet *f;
    int total;
    atomic_int next;
    struct act *out;
};

static void *actions_thread(void *arg)
{
    struct actions_run *r = arg;
    struct http h = {.fd = -1};
    for (;;) {
        int k = atomic_fetch_add(&r->next, 1);
        if (k >= r->total) {
            break;
        }
        int i = (int)((long long)k * r->f->n / r->total);
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"type\":\"isolate\",\"target\":{\"cluster\":\"%s\",\"namespace\":\"" POD_NS
                 "\",\"pod\":\"" POD_NAME "\"},\"comment\":\"bench: contain it\"}",
                 r->f->names[i]);
        /* A fresh connection when idle, so that the clock runs from the
         * POST's first byte and not from a reconnection. */
        if (h.fd < 0 || now_s() - h.used > 1.0) {
            http_connect(&h);
        }
        double t0 = now_s();
        json_t *a = http_json(&h, "POST", "/api/v1/actions", body, 202);
        double t_post = now_s();
        long long id = (long long)json_integer_value(json_object_get(a, "id"));
        json_decref(a);
        char path[64];
        snprintf(path, sizeof(path), "/api/v1/actions/%lld", id);
        for (;;) {
            json_t *v = http_json(&h, "GET", path, NULL, 200);
            const char *st = json_string_value(json_object_get(v, "status"));
            if (st != NULL && strcmp(st, "succeeded") == 0) {
                struct act *o = &r->out[k];
                o->client_ms = (now_s() - t0) * 1000.0;
                o->post_ms = (t_post - t0) * 1000.0;
                o->created = json_integer_value(json_object_get(v, "created_at"));
                o->dispatched = json_integer_value(json_object_get(v, "dispatched_at"));
                o->acked = json_integer_value(json_object_get(v, "acked_at"));
                o->finished = json_integer_value(json_object_get(v, "finished_at"));
                json_decref(v);
                break;
            }
            if (st == NULL || (strcmp(st, "pending") != 0 && strcmp(st, "dispatched") != 0)) {
                die("action %lld on %s ended %s: %s", id, r->f->names[i], st ? st : "?",
                    json_string_value(json_object_get(v, "failure_reason")));
            }
            json_decref(v);
            sleep_ms(g_poll_ms);
        }
    }
    http_close(&h);
    free(h.buf);
    return NULL;
}

static void print_dist(const char *key, double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    printf("%s_p50=%.1f\n%s_p90=%.1f\n%s_p99=%.1f\n%s_max=%.1f\n", key, pct(v, n, 50), key,
           pct(v, n, 90), key, pct(v, n, 99), key, n ? v[n - 1] : 0.0);
}

static void run_actions(struct fleet *f, int total, int conc)
{
    struct actions_run r = {.f = f, .total = total};
    r.out = calloc((size_t)total, sizeof(*r.out));
    pthread_t *t = calloc((size_t)conc, sizeof(*t));
    if (r.out == NULL || t == NULL) {
        die("memory");
    }
    double t0 = now_s();
    for (int i = 0; i < conc; i++) {
        pthread_create(&t[i], NULL, actions_thread, &r);
    }
    for (int i = 0; i < conc; i++) {
        pthread_join(t[i], NULL);
    }
    double secs = now_s() - t0;
    double *v = calloc((size_t)total, sizeof(*v));
    if (v == NULL) {
        die("memory");
    }
    printf("actions=%d\nactions_conc=%d\nactions_poll_ms=%d\nactions_per_s=%.1f\n", total, conc,
           g_poll_ms, total / secs);
    for (int i = 0; i < total; i++) {
        v[i] = r.out[i].client_ms;
    }
    print_dist("client_ms", v, total);
    for (int i = 0; i < total; i++) {
        v[i] = (double)(r.out[i].finished - r.out[i].created);
    }
    print_dist("record_ms", v, total);
    for (int i = 0; i < total; i++) {
        v[i] = r.out[i].post_ms;
    }
    print_dist("post_ms", v, total);
    /* The steps of the actions whose record has every time: an ack can
     * overtake the request's own "dispatched" mark (docs/actions.md: the
     * moves are conditional), which then leaves dispatched_at empty. */
    int m = 0;
    for (int i = 0; i < total; i++) {
        if (r.out[i].dispatched > 0 && r.out[i].acked > 0) {
            r.out[m++] = r.out[i];
        }
    }
    printf("steps_incomplete=%d\n", total - m);
    for (int i = 0; i < m; i++) {
        v[i] = (double)(r.out[i].dispatched - r.out[i].created);
    }
    print_dist("dispatch_ms", v, m);
    for (int i = 0; i < m; i++) {
        v[i] = (double)(r.out[i].acked - r.out[i].dispatched);
    }
    print_dist("ack_ms", v, m);
    for (int i = 0; i < m; i++) {
        v[i] = (double)(r.out[i].finished - r.out[i].acked);
    }
    print_dist("result_ms", v, m);
    free(v);
    free(r.out);
    free(t);
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: actions_agents STOCKADE REPO WORK TOKEN N ACTIONS CONC\n");
        return 2;
    }
    g_bin = argv[1];
    g_repo = argv[2];
    g_work = argv[3];
    g_token = argv[4];
    int n = atoi(argv[5]), total = atoi(argv[6]), conc = atoi(argv[7]);
    if (n < 1 || n > 9999 || total < 1 || total > n || conc < 1 || conc > 64) {
        die("N 1..9999, ACTIONS 1..N, CONC 1..64");
    }
    if (getenv("IDLE_S") != NULL) {
        g_idle_s = atoi(getenv("IDLE_S"));
    }
    if (getenv("POLL_MS") != NULL) {
        g_poll_ms = atoi(getenv("POLL_MS"));
    }
    if (getenv("LOOPS") != NULL) {
        g_loops = atoi(getenv("LOOPS"));
    }
    if (g_loops < 1 || g_loops > 64 || g_loops > n) {
        die("LOOPS 1..64 and at most N");
    }
    signal(SIGPIPE, SIG_IGN);
    /* Per agent: its socket, its wake-up eventfd, its journal. */
    struct rlimit rl;
    rlim_t want = (rlim_t)n * 4 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < want) {
            die("open files limit %llu, need %llu", (unsigned long long)rl.rlim_cur,
                (unsigned long long)want);
        }
    }
    /* Quiet by default: 1,000 agents' disconnections at the restart.
     * LOG_LEVEL=warn shows the agents' failed attempts (stderr). */
    enum stk_log_level lvl = STK_LOG_ERROR;
    if (getenv("LOG_LEVEL") != NULL && log_level_parse(getenv("LOG_LEVEL"), &lvl) != 0) {
        die("LOG_LEVEL: debug, info, warn or error");
    }
    log_set_level(lvl);

    /* 1. no agent */
    server_start(1);
    say("server pid %d, http %d, gateway %d", (int)g_pid, g_http_port, g_gw_port);
    sleep_ms(2000);
    long rss0 = proc_rss_kb(g_pid);
    double cpu0 = server_cpu_pct(g_idle_s);
    say("no agent: RSS %ld KB, CPU %.2f%%", rss0, cpu0);

    /* 2. enrollment */
    struct fleet f;
    fleet_init(&f, n, g_loops);
    struct http h = {.fd = -1};
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"cluster\":\"%s\",\"ttl_s\":3600}", f.names[i]);
        json_t *v = http_json(&h, "POST", "/api/v1/agents/enroll-tokens", body, 201);
        const char *tok = json_string_value(json_object_get(v, "token"));
        f.tokens[i] = tok ? strdup(tok) : NULL;
        f.cfg[i].enroll_token = f.tokens[i];
        json_decref(v);
        if (f.tokens[i] == NULL) {
            die("no token in the answer");
        }
    }
    double tokens_s = now_s() - t0;
    t0 = now_s();
    pthread_t et[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&et[i], NULL, enroll_run, &f);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(et[i], NULL);
    }
    double enroll_s = now_s() - t0;
    say("%d enrollment tokens in %.1f s, %d agents enrolled in %.1f s", n, tokens_s, n, enroll_s);

    /* 3. connected and idle */
    struct stk_error err = {0};
    if (worker_new(2, &f.pool, &err) != STK_OK) {
        die("worker pool: %s", err.msg);
    }
    for (int i = 0; i < n; i++) {
        struct sim_opts so = {.cluster = f.names[i]};
        struct kube k = {0};
        f.cfg[i].worker = f.pool;
        if (sim_new(&so, &k, &err) != STK_OK || agent_new(&f.cfg[i], &k, &f.a[i], &err) != STK_OK) {
            die("agent %s: %s", f.names[i], err.msg);
        }
    }
    t0 = now_s();
    fleet_start(&f);
    int api = 0;
    while ((api = api_connected(&h)) < n) {
        if (now_s() - t0 > 300) {
            die("only %d of %d agents connected after 300 s", api, n);
        }
        sleep_ms(200);
    }
    double connect_s = now_s() - t0;
    while (fleet_connected(&f) != n) {
        sleep_ms(10);
    }
    double *first = calloc((size_t)n, sizeof(*first));
    if (first == NULL) {
        die("memory");
    }
    pthread_mutex_lock(&f.mu);
    for (int i = 0; i < n; i++) {
        first[i] = f.up_at[i] - t0;
    }
    pthread_mutex_unlock(&f.mu);
    qsort(first, (size_t)n, sizeof(*first), cmp_double);
    say("%d agents connected in %.1f s (agent side: p50 %.2f s, max %.2f s)", n, connect_s,
        pct(first, n, 50), first[n - 1]);
    http_close(&h);
    /* Idle means every agent in its heartbeat cycle: the last one welcomed
     * has sent its first ping (15 s) before the window opens. */
    sleep_ms(16000);
    long rss1 = proc_rss_kb(g_pid);
    double cpu1 = server_cpu_pct(g_idle_s);
    say("%d idle agents: RSS %ld KB, CPU %.2f%%", n, rss1, cpu1);
    printf("agents=%d\nenroll_tokens_s=%.2f\nenroll_s=%.2f\nconnect_s=%.2f\n", n, tokens_s,
           enroll_s, connect_s);
    printf("connect_agent_p50_s=%.2f\nconnect_agent_p90_s=%.2f\nconnect_agent_max_s=%.2f\n",
           pct(first, n, 50), pct(first, n, 90), first[n - 1]);
    free(first);
    printf("rss_before_kb=%ld\nrss_idle_kb=%ld\ncpu_before_pct=%.2f\ncpu_idle_pct=%.2f\n"
           "idle_s=%d\n",
           rss0, rss1, cpu0, cpu1, g_idle_s);
    fflush(stdout);

    /* 4. actions */
    run_actions(&f, total, conc);
    fflush(stdout);
    pthread_mutex_lock(&f.mu);
    long long drops = f.drops;
    pthread_mutex_unlock(&f.mu);
    printf("drops_before_restart=%lld\n", drops);
    long rss2 = proc_rss_kb(g_pid);
    say("actions done; server RSS %ld KB", rss2);
    sleep_ms(3000); /* the agents' follow-up facts (isolated: true) */

    /* 5. restart */
    if (fleet_connected(&f) != n) {
        die("only %d agents connected before the restart", fleet_connected(&f));
    }
    double t_term = now_s();
    server_stop();
    double t_exit = now_s();
    server_start(2);
    double t_up = now_s();
    say("server stopped in %.2f s, restarted (pid %d) %.2f s after SIGTERM", t_exit - t_term,
        (int)g_pid, t_up - t_term);
    double t_api = 0;
    for (;;) {
        int c = api_connected(&h);
        if (c == n) {
            t_api = now_s();
            break;
        }
        if (now_s() - t_term > 300) {
            die("only %d of %d agents back 300 s after the restart", c, n);
        }
        sleep_ms(200);
    }
    while (fleet_connected(&f) != n) {
        sleep_ms(10);
    }
    double *back = calloc((size_t)n, sizeof(*back));
    if (back == NULL) {
        die("memory");
    }
    pthread_mutex_lock(&f.mu);
    int stale = 0;
    for (int i = 0; i < n; i++) {
        back[i] = f.up_at[i] - t_exit;
        stale += f.up_at[i] < t_exit;
    }
    pthread_mutex_unlock(&f.mu);
    if (stale > 0) {
        die("%d agents never noticed the restart", stale);
    }
    qsort(back, (size_t)n, sizeof(*back), cmp_double);
    long rss3 = proc_rss_kb(g_pid);
    printf("rss_after_restart_kb=%ld\nstop_s=%.2f\nstart_s=%.2f\n", rss3, t_exit - t_term,
           t_up - t_exit);
    printf("restart_api_s=%.2f\nrestart_from_term_s=%.2f\n", t_api - t_exit, t_api - t_term);
    printf("restart_agent_p50_s=%.2f\nrestart_agent_p90_s=%.2f\nrestart_agent_max_s=%.2f\n",
           pct(back, n, 50), pct(back, n, 90), back[n - 1]);
    say("all %d back %.2f s after the old server exited (API), agents p50 %.2f s max %.2f s", n,
        t_api - t_exit, pct(back, n, 50), back[n - 1]);
    free(back);
    http_close(&h);
    free(h.buf);

    /* the end */
    server_stop();
    atomic_store(&f.stop, 1);
    for (int t = 0; t < f.nloops; t++) {
        pthread_join(f.loops[t].thread, NULL);
    }
    for (int i = 0; i < n; i++) {
        agent_free(f.a[i]);
    }
    worker_free(f.pool);
    for (int i = 0; i < n; i++) {
        free(f.tokens[i]);
    }
    free(f.names);
    free(f.dirs);
    free(f.tokens);
    free(f.cfg);
    free(f.a);
    free(f.up);
    free(f.up_at);
    free(f.loops);
    pthread_mutex_destroy(&f.mu);
    return 0;
}
