/* The gateway connection (conn.h). */
#include "conn.h"

#include <errno.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stk_tls.h"

#define READ_CHUNK 16384
#define WRITE_CHUNK 16384 /* one TLS record */

void conn_init(struct conn *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->state = CONN_IDLE;
    frame_reader_init(&c->reader, 0);
    buf_init(&c->out, STK_CONN_OUT_MAX);
}

int conn_split_hostport(const char *hostport, char *host, size_t hn, char *port, size_t pn)
{
    const char *colon;
    const char *h = hostport;
    size_t hl;
    if (hostport == NULL) {
        return -1;
    }
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (close == NULL || close[1] != ':') {
            return -1;
        }
        h++;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(h, ':');
        if (colon == NULL || memchr(h, ':', (size_t)(colon - h)) != NULL) {
            return -1;
        }
        hl = (size_t)(colon - h);
    }
    const char *p = colon + 1;
    size_t pl = strlen(p);
    long v = pl > 0 && pl < 6 && strspn(p, "0123456789") == pl ? strtol(p, NULL, 10) : 0;
    if (hl == 0 || hl >= hn || v < 1 || v > 65535 || pl >= pn) {
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, pn, "%ld", v);
    return 0;
}

/* Non-blocking socket I/O for mbedTLS: EAGAIN becomes WANT_READ/WRITE. */
static int nb_send(void *ctx, const unsigned char *data, size_t len)
{
    int fd = *(int *)ctx;
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) {
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int nb_recv(void *ctx, unsigned char *data, size_t len)
{
    int fd = *(int *)ctx;
    ssize_t n = recv(fd, data, len, 0);
    if (n >= 0) {
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

enum stk_err conn_start(struct conn *c, const char *hostport, const mbedtls_ssl_config *conf,
                        int64_t now_ms, int timeout_ms, struct stk_error *err)
{
    char host[256];
    char port[8];
    if (conn_split_hostport(hostport, host, sizeof(host), port, sizeof(port)) != 0) {
        return stk_error_set(err, STK_EINVAL, "--server %s: want HOST:PORT", hostport);
    }
    snprintf(c->peer, sizeof(c->peer), "%s", hostport);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        return stk_error_set(err, STK_EIO, "cannot reach the gateway at %s: %s", c->peer,
                             gai_strerror(gai));
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return stk_error_set(err, STK_EIO, "socket: %s", strerror(errno));
    }
    (void)stk_tls_set_nodelay(fd); /* MEASURED.md: 40 ms per exchange without */
    int r = connect(fd, res->ai_addr, res->ai_addrlen);
    int e = errno;
    freeaddrinfo(res);
    if (r != 0 && e != EINPROGRESS) {
        close(fd);
        return stk_error_set(err, STK_EIO, "cannot reach the gateway at %s: %s", c->peer,
                             strerror(e));
    }
    mbedtls_ssl_init(&c->ssl);
    c->ssl_set = 1;
    c->fd = fd;
    int ret = mbedtls_ssl_setup(&c->ssl, conf);
    if (ret == 0) {
        /* The gateway's certificate names the service, not the host dialled. */
        ret = mbedtls_ssl_set_hostname(&c->ssl, STK_TLS_GATEWAY_NAME);
    }
    if (ret != 0) {
        enum stk_err rc = stk_tls_fail(err, STK_ECRYPTO, "TLS setup", ret);
        conn_close(c);
        return rc;
    }
    mbedtls_ssl_set_bio(&c->ssl, &c->fd, nb_send, nb_recv, NULL);
    c->state = CONN_CONNECTING;
    c->deadline_ms = now_ms + timeout_ms;
    c->want_write = 1;
    return STK_OK;
}

int conn_fd(const struct conn *c)
{
    return c->fd;
}

short conn_events(const struct conn *c)
{
    switch (c->state) {
    case CONN_IDLE:
        return 0;
    case CONN_CONNECTING:
        return POLLOUT;
    case CONN_HANDSHAKE:
        return c->want_write ? POLLOUT : POLLIN;
    case CONN_OPEN:
        return (short)(POLLIN | (c->want_write || c->out.len > c->out_off ? POLLOUT : 0));
    }
    return 0;
}

int conn_is_open(const struct conn *c)
{
    return c->state == CONN_OPEN;
}

size_t conn_pending(const struct conn *c)
{
    return c->out.len - c->out_off;
}

const mbedtls_x509_crt *conn_peer_chain(const struct conn *c)
{
    return c->ssl_set && c->state == CONN_OPEN ? mbedtls_ssl_get_peer_cert(&c->ssl) : NULL;
}

void conn_close(struct conn *c)
{
    if (c->ssl_set) {
        if (c->state == CONN_OPEN) {
            (void)mbedtls_ssl_close_notify(&c->ssl); /* best effort, never waits */
        }
        mbedtls_ssl_free(&c->ssl);
        c->ssl_set = 0;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    frame_reader_release(&c->reader);
    buf_release(&c->out);
    c->out_off = 0;
    c->wlen = 0;
    c->want_write = 0;
    c->state = CONN_IDLE;
}

static enum stk_err handshake(struct conn *c, int64_t now_ms, struct stk_error *err)
{
    int ret = mbedtls_ssl_handshake(&c->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        c->want_write = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
        if (now_ms > c->deadline_ms) {
            return stk_error_set(err, STK_EIO,
                                 "the gateway at %s did not finish the TLS "
                                 "handshake in time",
                                 c->peer);
        }
        return STK_OK;
    }
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        char info[256];
        int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "",
                                             mbedtls_ssl_get_verify_result(&c->ssl));
        while (n > 0 && (info[n - 1] == '\n' || info[n - 1] == ' ')) {
            info[--n] = '\0';
        }
        for (char *q = info; *q; q++) {
            *q = *q == '\n' ? ';' : *q;
        }
        return stk_error_set(err, STK_EAUTH, "gateway certificate not trusted: %s",
                             n > 0 ? info : "verification failed");
    }
    if (ret != 0) {
        char what[360];
        snprintf(what, sizeof(what), "TLS handshake with the gateway at %s", c->peer);
        return stk_tls_fail(err, STK_EIO, what, ret);
    }
    c->state = CONN_OPEN;
    c->want_write = 0;
    return STK_OK;
}

static enum stk_err flush(struct conn *c, struct stk_error *err)
{
    c->want_write = 0;
    while (c->out_off < c->out.len) {
        size_t n = c->wlen;
        if (n == 0) {
            n = c->out.len - c->out_off;
            n = n > WRITE_CHUNK ? WRITE_CHUNK : n;
        }
        int ret = mbedtls_ssl_write(&c->ssl, (const unsigned char *)c->out.data + c->out_off, n);
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) {
            /* mbedTLS has taken the bytes; it must be called again with the
             * same length, whatever is queued behind them meanwhile. */
            c->wlen = n;
            c->want_write = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
            return STK_OK;
        }
        if (ret < 0) {
            return stk_tls_fail(err, STK_EIO, "writing to the gateway", ret);
        }
        c->wlen = 0;
        c->out_off += (size_t)ret;
    }
    buf_reset(&c->out);
    c->out_off = 0;
    return STK_OK;
}

static enum stk_err read_frames(struct conn *c, conn_frame_fn fn, void *arg, struct stk_error *err)
{
    unsigned char in[READ_CHUNK];
    for (;;) {
        int ret = mbedtls_ssl_read(&c->ssl, in, sizeof(in));
        if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
            return STK_OK;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            c->want_write = 1;
            return STK_OK;
        }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
            ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == MBEDTLS_ERR_NET_CONN_RESET) {
            return stk_error_set(err, STK_EIO, "the gateway closed the connection");
        }
        if (ret < 0) {
            return stk_tls_fail(err, STK_EIO, "reading from the gateway", ret);
        }
        size_t pos = 0;
        while (pos < (size_t)ret) {
            size_t used = 0;
            char *payload = NULL;
            size_t plen = 0;
            enum stk_err rc =
                frame_reader_feed(&c->reader, in + pos, (size_t)ret - pos, &used, &payload, &plen);
            if (rc != STK_OK) {
                return stk_error_set(err, STK_EINVAL, "the gateway sent a frame of %s length",
                                     rc == STK_ETOOBIG ? "too large a" : "zero");
            }
            pos += used;
            if (payload != NULL) {
                rc = fn(arg, payload, plen, err);
                if (rc != STK_OK) {
                    return rc;
                }
                if (c->state != CONN_OPEN) {
                    return STK_OK; /* the callback closed it */
                }
            }
        }
    }
}

enum stk_err conn_progress(struct conn *c, short revents, int64_t now_ms, conn_frame_fn fn,
                           void *arg, struct stk_error *err)
{
    if (c->state == CONN_CONNECTING) {
        if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0) {
            if (now_ms > c->deadline_ms) {
                return stk_error_set(err, STK_EIO, "cannot reach the gateway at %s: timed out",
                                     c->peer);
            }
            return STK_OK;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
            soerr = errno;
        }
        if (soerr != 0) {
            return stk_error_set(err, STK_EIO, "cannot reach the gateway at %s: %s", c->peer,
                                 strerror(soerr));
        }
        c->state = CONN_HANDSHAKE;
    }
    if (c->state == CONN_HANDSHAKE) {
        enum stk_err rc = handshake(c, now_ms, err);
        if (rc != STK_OK || c->state != CONN_OPEN) {
            return rc;
        }
        revents |= POLLIN; /* records may have come with the last handshake flight */
    }
    if (c->state != CONN_OPEN) {
        return STK_OK;
    }
    if ((revents & (POLLIN | POLLERR | POLLHUP)) || mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 ||
        c->want_write) {
        enum stk_err rc = read_frames(c, fn, arg, err);
        if (rc != STK_OK || c->state != CONN_OPEN) {
            return rc;
        }
    }
    return flush(c, err);
}

enum stk_err conn_send(struct conn *c, const json_t *msg, struct stk_error *err)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    size_t len = strlen(text);
    unsigned char hdr[STK_FRAME_HEADER];
    enum stk_err rc = frame_header(len, hdr);
    if (rc != STK_OK) {
        free(text);
        return stk_error_set(err, STK_ETOOBIG, "frame of %zu bytes is over the limit", len);
    }
    /* Written bytes are dropped before growing, so the cap counts what is
     * still waiting. */
    if (c->out_off > 0 && c->wlen == 0) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out.data[c->out.len] = '\0';
        c->out_off = 0;
    }
    rc = buf_append(&c->out, hdr, sizeof(hdr));
    if (rc == STK_OK) {
        rc = buf_append(&c->out, text, len);
        if (rc != STK_OK) {
            c->out.len -= sizeof(hdr); /* never half a frame */
            c->out.data[c->out.len] = '\0';
        }
    }
    free(text);
    if (rc == STK_ETOOBIG) {
        return stk_error_set(err, STK_ELIMIT, "over %u bytes queued for the gateway",
                             STK_CONN_OUT_MAX);
    }
    if (rc != STK_OK) {
        return stk_error_set(err, rc, "out of memory");
    }
    return STK_OK;
}
