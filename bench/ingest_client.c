/* ingest_client: sustained Falco ingestion over HTTP for bench/ingest.sh.
 *
 *   ingest_client HOST PORT TOKEN CLUSTER EVENTS BATCH CONNS T0_MS
 *
 * Builds every request (headers and a JSON array of BATCH events from
 * bench/ingest_gen.h) in memory first, then opens CONNS keep-alive
 * connections (TCP_NODELAY) and has each send batches one after the other,
 * taking the next batch number from a shared counter, until all are sent.
 * Every answer must be 200 with alerts_new equal to the alerts the batch
 * yields (nothing deduplicated, nothing refused). Prints one line:
 *   events=N alerts=N batches=N seconds=S events_per_s=R half2_events_per_s=R
 *   p50_ms=X p99_ms=X max_ms=X build_s=S body_bytes=N
 * half2 is the rate over the second half of the batches (steady state on a
 * growing database). Exit 1 on any error. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ingest_gen.h"

struct req {
    char *data;
    size_t len;
    long long alerts;
    double done_at; /* seconds since start, when its answer arrived */
    double latency;
};

static struct req *reqs;
static long long n_reqs;
static atomic_llong next_req;
static atomic_int failed;
static struct sockaddr_in addr;
static struct timespec start;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int connect_one(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
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

/* Reads one response: status and body (into buf, NUL-terminated). */
static int read_response(int fd, char *buf, size_t cap, int *status, char **body)
{
    size_t have = 0;
    char *hdr_end = NULL;
    while (hdr_end == NULL) {
        if (have + 1 >= cap) {
            return -1;
        }
        ssize_t r = recv(fd, buf + have, cap - 1 - have, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        have += (size_t)r;
        buf[have] = '\0';
        hdr_end = strstr(buf, "\r\n\r\n");
    }
    if (sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
        return -1;
    }
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl == NULL || cl > hdr_end) {
        return -1;
    }
    size_t len = strtoul(cl + 17, NULL, 10);
    size_t need = (size_t)(hdr_end + 4 - buf) + len;
    if (need + 1 > cap) {
        return -1;
    }
    while (have < need) {
        ssize_t r = recv(fd, buf + have, need - have, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        have += (size_t)r;
    }
    buf[need] = '\0';
    *body = hdr_end + 4;
    return 0;
}

static long long json_num(const char *body, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(body, pat);
    return p != NULL ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static void *worker(void *arg)
{
    (void)arg;
    int fd = connect_one();
    if (fd < 0) {
        fprintf(stderr, "ingest_client: cannot connect: %s\n", strerror(errno));
        atomic_store(&failed, 1);
        return NULL;
    }
    static __thread char buf[65536];
    for (;;) {
        long long k = atomic_fetch_add(&next_req, 1);
        if (k >= n_reqs || atomic_load(&failed)) {
            break;
        }
        struct req *q = &reqs[k];
        double t0 = since(&start);
        int status = 0;
        char *body = NULL;
        if (send_all(fd, q->data, q->len) != 0 ||
            read_response(fd, buf, sizeof(buf), &status, &body) != 0) {
            fprintf(stderr, "ingest_client: batch %lld: connection failed\n", k);
            atomic_store(&failed, 1);
            break;
        }
        q->done_at = since(&start);
        q->latency = q->done_at - t0;
        long long got = json_num(body, "alerts_new");
        if (status != 200 || got != q->alerts) {
            fprintf(stderr,
                    "ingest_client: batch %lld: status %d, alerts_new %lld of %lld: %.300s\n", k,
                    status, got, q->alerts, body);
            atomic_store(&failed, 1);
            break;
        }
    }
    close(fd);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: ingest_client HOST PORT TOKEN CLUSTER EVENTS BATCH CONNS T0_MS\n");
        return 2;
    }
    const char *host = argv[1], *token = argv[3], *cluster = argv[4];
    int port = atoi(argv[2]), batch = atoi(argv[6]), conns = atoi(argv[7]);
    long long events = atoll(argv[5]), t0_ms = atoll(argv[8]);
    if (port <= 0 || batch <= 0 || conns <= 0 || conns > 64 || events < batch) {
        fprintf(stderr, "ingest_client: bad arguments\n");
        return 2;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "ingest_client: %s: not an IPv4 address\n", host);
        return 2;
    }

    struct timespec b0;
    clock_gettime(CLOCK_MONOTONIC, &b0);
    n_reqs = events / batch;
    reqs = calloc((size_t)n_reqs, sizeof(*reqs));
    if (reqs == NULL) {
        return 1;
    }
    long long body_bytes = 0, total_alerts = 0;
    struct gen_buf body = {0};
    for (long long k = 0; k < n_reqs; k++) {
        body.len = 0;
        gen_batch(&body, k, batch, t0_ms, &reqs[k].alerts);
        struct gen_buf r = {0};
        gen_put(&r,
                "POST /api/v1/ingest/falco?cluster=%s HTTP/1.1\r\nHost: %s:%d\r\n"
                "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
                cluster, host, port, token, body.len);
        gen_put(&r, "%s", body.p);
        reqs[k].data = r.p;
        reqs[k].len = r.len;
        body_bytes += (long long)body.len;
        total_alerts += reqs[k].alerts;
    }
    free(body.p);
    double build_s = since(&b0);

    pthread_t th[64];
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < conns; i++) {
        pthread_create(&th[i], NULL, worker, NULL);
    }
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
    }
    double secs = since(&start);
    if (atomic_load(&failed)) {
        return 1;
    }

    /* Second half: from the moment half of the batches were answered. */
    double *done = malloc((size_t)n_reqs * sizeof(double));
    double *lat = malloc((size_t)n_reqs * sizeof(double));
    for (long long k = 0; k < n_reqs; k++) {
        done[k] = reqs[k].done_at;
        lat[k] = reqs[k].latency;
    }
    qsort(done, (size_t)n_reqs, sizeof(double), cmp_double);
    qsort(lat, (size_t)n_reqs, sizeof(double), cmp_double);
    long long half = n_reqs / 2;
    double half2 = (double)((n_reqs - half) * batch) / (done[n_reqs - 1] - done[half - 1]);
    long long sent = n_reqs * batch;
    printf("events=%lld alerts=%lld batches=%lld seconds=%.3f events_per_s=%.0f "
           "half2_events_per_s=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f build_s=%.2f "
           "body_bytes=%lld\n",
           sent, total_alerts, n_reqs, secs, (double)sent / secs, half2, lat[n_reqs / 2] * 1000,
           lat[(n_reqs * 99) / 100] * 1000, lat[n_reqs - 1] * 1000, build_s, body_bytes);
    for (long long k = 0; k < n_reqs; k++) {
        free(reqs[k].data);
    }
    free(reqs);
    free(done);
    free(lat);
    return 0;
}
