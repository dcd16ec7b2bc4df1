/* The blocking HTTP/1.1 client: URLs, the connection (non-blocking sockets driven by poll() so
 * every wait has a timeout), the request's bytes, and client_do with its one fresh try when a
 * reused connection turns out closed. Reading the response, with its hard caps on head, body
 * and decoded body, is client/response.c. */
#include "client/client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

tally_status client__gb_reserve(gbuf *g, size_t more)
{
    size_t want;
    uint8_t *q;

    if (more > g->max - g->n) {
        return TALLY_ELIMIT;
    }
    if (more <= g->cap - g->n) {
        return TALLY_OK;
    }
    want = g->cap ? g->cap : 4096u;
    while (want - g->n < more) {
        want = want > g->max / 2u ? g->max : want * 2u;
    }
    q = realloc(g->p, want);
    if (q == NULL) {
        return TALLY_ENOMEM;
    }
    g->p = q;
    g->cap = want;
    return TALLY_OK;
}

tally_status client__gb_add(gbuf *g, const void *p, size_t n)
{
    tally_status st = client__gb_reserve(g, n);

    if (st == TALLY_OK && n > 0) {
        memcpy(g->p + g->n, p, n);
        g->n += n;
    }
    return st;
}

static tally_status gb_str(gbuf *g, const char *s)
{
    return client__gb_add(g, s, strlen(s));
}

/* ---- URL ---- */

tally_status client_url_parse(const char *url, client_url *out)
{
    const char *p, *host, *host_end, *rest;
    size_t hn;
    unsigned long port = 80;

    memset(out, 0, sizeof(*out));
    if (strncasecmp(url, "http://", 7) != 0) {
        return TALLY_EINVAL;
    }
    host = url + 7;
    rest = host + strcspn(host, "/?#");
    if (memchr(host, '@', (size_t)(rest - host)) != NULL || strchr(url, '#') != NULL) {
        goto bad;
    }
    if (*host == '[') {
        host_end = memchr(host, ']', (size_t)(rest - host));
        if (host_end == NULL) {
            goto bad;
        }
        host++;
        p = host_end + 1;
    } else {
        host_end = memchr(host, ':', (size_t)(rest - host));
        if (host_end == NULL) {
            host_end = rest;
        }
        p = host_end;
    }
    hn = (size_t)(host_end - host);
    if (hn == 0 || hn > CLIENT_HOST_MAX) {
        goto bad;
    }
    memcpy(out->host, host, hn);
    if (p < rest) {
        char *end;
        if (*p != ':' || p + 1 == rest) {
            goto bad;
        }
        errno = 0;
        port = strtoul(p + 1, &end, 10);
        if (end != rest || errno != 0 || port == 0 || port > 65535u || p[1] < '0' || p[1] > '9') {
            goto bad;
        }
    }
    out->port = (uint16_t)port;
    if (*rest == '\0') {
        out->target[0] = '/';
    } else if (*rest == '?') {
        if (strlen(rest) + 1 > CLIENT_TARGET_MAX) {
            goto bad;
        }
        out->target[0] = '/';
        memcpy(out->target + 1, rest, strlen(rest) + 1);
    } else {
        if (strlen(rest) > CLIENT_TARGET_MAX) {
            goto bad;
        }
        memcpy(out->target, rest, strlen(rest) + 1);
    }
    return TALLY_OK;
bad:
    memset(out, 0, sizeof(*out));
    return TALLY_EINVAL;
}

/* ---- connection ---- */

/* The source address of bind_host (an IP literal, port 0), or none for NULL or "". */
static tally_status parse_src(const char *bind_host, client_conn *c)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&c->src;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&c->src;

    c->src.ss_family = AF_UNSPEC;
    if (bind_host == NULL || bind_host[0] == '\0') {
        return TALLY_OK;
    }
    if (inet_pton(AF_INET, bind_host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        c->src_len = sizeof(*v4);
        return TALLY_OK;
    }
    if (inet_pton(AF_INET6, bind_host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        c->src_len = sizeof(*v6);
        return TALLY_OK;
    }
    return TALLY_EINVAL;
}

tally_status client_open(const client_cfg *cfg, client_conn **out)
{
    client_conn *c;

    *out = NULL;
    if (cfg->host == NULL || cfg->host[0] == '\0' || strlen(cfg->host) > CLIENT_HOST_MAX) {
        return TALLY_EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return TALLY_ENOMEM;
    }
    if (parse_src(cfg->bind_host, c) != TALLY_OK) {
        free(c);
        return TALLY_EINVAL;
    }
    memcpy(c->host, cfg->host, strlen(cfg->host) + 1);
    c->port = cfg->port;
    snprintf(c->port_s, sizeof(c->port_s), "%u", (unsigned)cfg->port);
    c->connect_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000u;
    c->io_ms = cfg->io_timeout_ms ? cfg->io_timeout_ms : 30000u;
    c->max_response = cfg->max_response ? cfg->max_response : CLIENT_RESPONSE_DEFAULT;
    c->fd = -1;
    *out = c;
    return TALLY_OK;
}

void client__conn_drop(client_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->carry);
    c->carry = NULL;
    c->carry_n = 0;
}

void client_close(client_conn *c)
{
    if (c == NULL) {
        return;
    }
    client__conn_drop(c);
    free(c);
}

const char *client_error(const client_conn *c)
{
    return c->err;
}

bool client_connected(const client_conn *c)
{
    return c->fd >= 0;
}

tally_status client__fail_io(client_conn *c, const char *what, int err)
{
    snprintf(c->err, sizeof(c->err), "%s %s:%s: %s", what, c->host, c->port_s,
             err == ETIMEDOUT ? "timed out" : strerror(err));
    client__conn_drop(c);
    return TALLY_EIO;
}

tally_status client__fail_fmt(client_conn *c, tally_status st, const char *what)
{
    snprintf(c->err, sizeof(c->err), "%s from %s:%s", what, c->host, c->port_s);
    client__conn_drop(c);
    return st;
}

/* Waits for events on the socket; 0 or ETIMEDOUT or errno. */
static int wait_fd(int fd, short events, unsigned ms)
{
    struct pollfd p = {fd, events, 0};
    int r;

    do {
        r = poll(&p, 1, (int)ms);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return errno;
    }
    return r == 0 ? ETIMEDOUT : 0;
}

static tally_status conn_connect(client_conn *c)
{
    struct addrinfo hints, *res = NULL, *ai;
    int rc, err = ECONNREFUSED, one = 1;
    socklen_t len;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(c->host, c->port_s, &hints, &res);
    if (rc != 0) {
        snprintf(c->err, sizeof(c->err), "cannot resolve %s: %s", c->host, gai_strerror(rc));
        return TALLY_EIO;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd;
        if (c->src.ss_family != AF_UNSPEC && c->src.ss_family != ai->ai_family) {
            err = EAFNOSUPPORT;
            continue;
        }
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (c->src.ss_family != AF_UNSPEC &&
            bind(fd, (const struct sockaddr *)&c->src, c->src_len) != 0) {
            err = errno;
            close(fd);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                err = wait_fd(fd, POLLOUT, c->connect_ms);
                len = sizeof(err);
                if (err == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                    err = errno;
                }
            }
            if (err != 0) {
                close(fd);
                continue;
            }
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        break;
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        snprintf(c->err, sizeof(c->err), "connect to %s:%s: %s", c->host, c->port_s,
                 err == ETIMEDOUT      ? "timed out"
                 : err == ECONNREFUSED ? "connection refused"
                                       : strerror(err));
        return TALLY_EIO;
    }
    return TALLY_OK;
}

static tally_status send_all(client_conn *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w, n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int err = wait_fd(c->fd, POLLOUT, c->io_ms);
            if (err != 0) {
                return client__fail_io(c, "send to", err);
            }
            continue;
        }
        return client__fail_io(c, "send to", w < 0 ? errno : EPIPE);
    }
    return TALLY_OK;
}

/* Reads more bytes into g (at most its cap). *eof is set on an orderly close. */
tally_status client__recv_some(client_conn *c, gbuf *g, bool *eof)
{
    tally_status st;
    ssize_t r;

    *eof = false;
    if (c->carry_n > 0) {
        st = client__gb_add(g, c->carry, c->carry_n);
        free(c->carry);
        c->carry = NULL;
        c->carry_n = 0;
        return st;
    }
    st = client__gb_reserve(g, g->max - g->n < 65536u ? g->max - g->n : 65536u);
    if (st != TALLY_OK) {
        return st;
    }
    if (g->n == g->max) {
        return TALLY_ELIMIT;
    }
    for (;;) {
        int err;
        r = recv(c->fd, g->p + g->n, g->cap - g->n, 0);
        if (r > 0) {
            g->n += (size_t)r;
            return TALLY_OK;
        }
        if (r == 0) {
            *eof = true;
            return TALLY_OK;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return client__fail_io(c, "read from", errno);
        }
        err = wait_fd(c->fd, POLLIN, c->io_ms);
        if (err != 0) {
            return client__fail_io(c, "read from", err);
        }
    }
}

/* ---- request ---- */

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static tally_status build_request(const client_conn *c, const client_request *rq, const void *body,
                                  size_t body_n, gbuf *g)
{
    char line[64];
    tally_status st;
    size_t i;
    bool v6 = strchr(c->host, ':') != NULL;

    if (rq->method == NULL || rq->target == NULL || has_crlf(rq->method) || has_crlf(rq->target) ||
        strchr(rq->target, ' ') != NULL || strlen(rq->target) > CLIENT_TARGET_MAX ||
        (rq->content_type != NULL && has_crlf(rq->content_type))) {
        return TALLY_EINVAL;
    }
    for (i = 0; i < rq->n_headers; i++) {
        if (has_crlf(rq->headers[i].name) || has_crlf(rq->headers[i].value)) {
            return TALLY_EINVAL;
        }
    }
    st = gb_str(g, rq->method);
    st = st ? st : gb_str(g, " ");
    st = st ? st : gb_str(g, rq->target);
    st = st ? st : gb_str(g, " HTTP/1.1\r\nHost: ");
    st = st ? st : gb_str(g, v6 ? "[" : "");
    st = st ? st : gb_str(g, c->host);
    snprintf(line, sizeof(line), "%s:%u\r\n", v6 ? "]" : "", (unsigned)c->port);
    st = st ? st : gb_str(g, line);
    for (i = 0; i < rq->n_headers && st == TALLY_OK; i++) {
        st = gb_str(g, rq->headers[i].name);
        st = st ? st : gb_str(g, ": ");
        st = st ? st : gb_str(g, rq->headers[i].value);
        st = st ? st : gb_str(g, "\r\n");
    }
    if (rq->content_type != NULL) {
        st = st ? st : gb_str(g, "Content-Type: ");
        st = st ? st : gb_str(g, rq->content_type);
        st = st ? st : gb_str(g, "\r\n");
    }
    if (rq->accept_zstd) {
        st = st ? st : gb_str(g, "Accept-Encoding: zstd\r\n");
    }
    if (rq->zstd_level > 0) {
        st = st ? st : gb_str(g, "Content-Encoding: zstd\r\n");
    }
    if (body_n > 0 || strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0) {
        snprintf(line, sizeof(line), "Content-Length: %zu\r\n", body_n);
        st = st ? st : gb_str(g, line);
    }
    st = st ? st : gb_str(g, "\r\n");
    st = st ? st : client__gb_add(g, body, body_n);
    return st;
}

tally_status client_do(client_conn *c, const client_request *rq, client_response **out)
{
    gbuf req = {NULL, 0, 0, (size_t)1 << 30};
    const void *body = rq->body;
    size_t body_n = rq->body_n, attempt;
    uint8_t *z = NULL;
    tally_status st;
    bool any = false, keep = false;

    *out = NULL;
    c->err[0] = '\0';
    if (rq->zstd_level > 0 && body_n > 0) {
        size_t cap = ZSTD_compressBound(body_n), zn;
        z = malloc(cap);
        if (z == NULL) {
            return TALLY_ENOMEM;
        }
        zn = ZSTD_compress(z, cap, body, body_n, rq->zstd_level);
        if (ZSTD_isError(zn)) {
            free(z);
            return TALLY_EINVAL;
        }
        body = z, body_n = zn;
    }
    st = build_request(c, rq, body, body_n, &req);
    free(z);
    if (st != TALLY_OK) {
        free(req.p);
        return st;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        bool reused = c->fd >= 0;
        if (!reused) {
            st = conn_connect(c);
            if (st != TALLY_OK) {
                break;
            }
        }
        st = send_all(c, req.p, req.n);
        if (st == TALLY_OK) {
            st = client__read_response(c, strcmp(rq->method, "HEAD") == 0, out, &any, &keep);
        }
        if (st == TALLY_OK || !reused || any || st != TALLY_EIO) {
            break;
        }
        client__conn_drop(c); /* the server closed the idle connection: one fresh try */
    }
    free(req.p);
    if (st != TALLY_OK) {
        client__conn_drop(c);
        return st;
    }
    if (!keep) {
        client__conn_drop(c);
    }
    c->err[0] = '\0';
    return TALLY_OK;
}
