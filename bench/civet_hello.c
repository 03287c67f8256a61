/* civet_hello: the smallest civetweb server that does what stockade's
 * request path does, so bench/http_baseline.sh can show what our code costs
 * over civetweb itself.
 *
 *   civet_hello PORT DOCUMENT_ROOT [THREADS [KEEP_ALIVE_MS]]
 *
 * Serves on 127.0.0.1:PORT (0 picks a free port):
 *   GET /healthz   a fixed small JSON body from a request handler
 *   anything else  civetweb's own static file serving from DOCUMENT_ROOT
 * with the options stockade's main.c sets: tcp_nodelay=1, keep-alive on,
 * the same worker count and keep-alive timeout. Prints
 * "civet_hello listening on http://127.0.0.1:PORT" once it accepts, then
 * runs until SIGINT or SIGTERM. */
#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int healthz(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    /* Status line, headers and body in one write, as http_reply() does. */
    static const char reply[] = "HTTP/1.1 200 OK\r\n"
                                "Content-Type: application/json; charset=utf-8\r\n"
                                "Content-Length: 15\r\n"
                                "Cache-Control: no-store\r\n"
                                "Connection: keep-alive\r\n"
                                "\r\n"
                                "{\"status\":\"ok\"}";
    mg_write(conn, reply, sizeof(reply) - 1);
    return 200;
}

static int parse_num(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long n = strtol(s, &end, 10);
    if (end == s || *end != '\0' || n < min || n > max) {
        return -1;
    }
    *out = n;
    return 0;
}

int main(int argc, char **argv)
{
    long port = 0, threads = 48, keep_alive = 2000;
    if (argc < 3 || argc > 5 || parse_num(argv[1], 0, 65535, &port) != 0 ||
        (argc > 3 && parse_num(argv[3], 1, 1024, &threads) != 0) ||
        (argc > 4 && parse_num(argv[4], 0, 600000, &keep_alive) != 0)) {
        fprintf(stderr, "usage: civet_hello PORT DOCUMENT_ROOT [THREADS [KEEP_ALIVE_MS]]\n");
        return 2;
    }
    char listen[32], nthreads[16], ka[16];
    snprintf(listen, sizeof(listen), "127.0.0.1:%ld", port);
    snprintf(nthreads, sizeof(nthreads), "%ld", threads);
    snprintf(ka, sizeof(ka), "%ld", keep_alive);
    const char *options[] = {
        "listening_ports", listen,
        "document_root", argv[2],
        "num_threads", nthreads,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", ka,
        "request_timeout_ms", "30000",
        "tcp_nodelay", "1",
        "enable_directory_listing", "no",
        "decode_url", "yes",
        NULL,
    };

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    mg_init_library(0);
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    struct mg_context *ctx = mg_start(&cb, NULL, options);
    if (ctx == NULL) {
        fprintf(stderr, "civet_hello: cannot listen on %s or serve %s\n", listen, argv[2]);
        mg_exit_library();
        return 1;
    }
    mg_set_request_handler(ctx, "/healthz$", healthz, NULL);

    struct mg_server_port ports[2];
    memset(ports, 0, sizeof(ports));
    int n = mg_get_server_ports(ctx, 2, ports);
    printf("civet_hello listening on http://127.0.0.1:%d threads=%ld\n", n > 0 ? ports[0].port : 0,
           threads);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    mg_stop(ctx);
    mg_exit_library();
    return 0;
}
