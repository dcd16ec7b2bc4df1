/* The blocking HTTP/1.1 client: non-blocking sockets driven by poll() so every wait has a
 * timeout; one response buffer per request with hard caps on head, body and decoded body. */
#include "client/client.h"

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

#define FIELDS_MAX 128u
#define ERR_MAX 512u /* room for a 255-byte host and the reason */

struct client_conn {
    char host[CLIENT_HOST_MAX + 1];
    char port_s[8];
    uint16_t port;
    unsigned connect_ms, io_ms;
    size_t max_response;
    int fd;
    struct sockaddr_storage src; /* the bind_host address; ss_family AF_UNSPEC when none */
    socklen_t src_len;
    char err[ERR_MAX];
    /* bytes read past the end of the last response (pipelining is not used, so normally none) */
    uint8_t *carry;
    size_t carry_n;
};

typedef struct field {
    char *name, *value;
} field;

struct client_response {
    unsigned status;
    bool zstd;
    char *head; /* the head copy, NULs in place of line ends */
    field fields[FIELDS_MAX];
    size_t n_fields;
    uint8_t *body;
    size_t body_n;
};

/* A growing byte buffer with a hard cap checked before every allocation. */
typedef struct gbuf {
    uint8_t *p;
    size_t n, cap, max;
} gbuf;

static tally_status gb_reserve(gbuf *g, size_t more)
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

static tally_status gb_add(gbuf *g, const void *p, size_t n)
{
    tally_status st = gb_reserve(g, n);

    if (st == TALLY_OK && n > 0) {
        memcpy(g->p + g->n, p, n);
        g->n += n;
    }
    return st;
}

static tally_status gb_str(gbuf *g, const char *s)
{
    return gb_add(g, s, strlen(s));
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

static void conn_drop(client_conn *c)
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
    conn_drop(c);
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

static tally_status fail_io(client_conn *c, const char *what, int err)
{
    snprintf(c->err, sizeof(c->err), "%s %s:%s: %s", what, c->host, c->port_s,
             err == ETIMEDOUT ? "timed out" : strerror(err));
    conn_drop(c);
    return TALLY_EIO;
}

static tally_status fail_fmt(client_conn *c, tally_status st, const char *what)
{
    snprintf(c->err, sizeof(c->err), "%s from %s:%s", what, c->host, c->port_s);
    conn_drop(c);
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
                return fail_io(c, "send to", err);
            }
            continue;
        }
        return fail_io(c, "send to", w < 0 ? errno : EPIPE);
    }
    return TALLY_OK;
}

/* Reads more bytes into g (at most its cap). *eof is set on an orderly close. */
static tally_status recv_some(client_conn *c, gbuf *g, bool *eof)
{
    tally_status st;
    ssize_t r;

    *eof = false;
    if (c->carry_n > 0) {
        st = gb_add(g, c->carry, c->carry_n);
        free(c->carry);
        c->carry = NULL;
        c->carry_n = 0;
        return st;
    }
    st = gb_reserve(g, g->max - g->n < 65536u ? g->max - g->n : 65536u);
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
            return fail_io(c, "read from", errno);
        }
        err = wait_fd(c->fd, POLLIN, c->io_ms);
        if (err != 0) {
            return fail_io(c, "read from", err);
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
    st = st ? st : gb_add(g, body, body_n);
    return st;
}

/* ---- response ---- */

void client_response_free(client_response *r)
{
    if (r == NULL) {
        return;
    }
    free(r->head);
    free(r->body);
    free(r);
}

unsigned client_response_status(const client_response *r)
{
    return r->status;
}

tally_bytes client_response_body(const client_response *r)
{
    tally_bytes b = {r->body, r->body_n};

    return b;
}

bool client_response_was_zstd(const client_response *r)
{
    return r->zstd;
}

size_t client_response_header(const client_response *r, const char *name, const char **value_out)
{
    size_t i, n = 0;

    if (value_out != NULL) {
        *value_out = NULL;
    }
    for (i = 0; i < r->n_fields; i++) {
        if (strcasecmp(r->fields[i].name, name) == 0) {
            if (n == 0 && value_out != NULL) {
                *value_out = r->fields[i].value;
            }
            n++;
        }
    }
    return n;
}

/* Splits the head (status line and fields) in place. */
static tally_status parse_head(client_response *r, bool *http10)
{
    char *line = r->head, *next, *colon, *v, *end;
    bool first = true;

    for (; *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next == NULL) {
            next = line + strlen(line);
        } else {
            *next++ = '\0';
        }
        if (next - line >= 2 && next[-2] == '\r') {
            next[-2] = '\0';
        } else if (*line != '\0' && line[strlen(line) - 1] == '\r') {
            line[strlen(line) - 1] = '\0';
        }
        if (first) {
            if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
                line[8] != ' ' || line[9] < '1' || line[9] > '5' || line[10] < '0' ||
                line[10] > '9' || line[11] < '0' || line[11] > '9' ||
                (line[12] != ' ' && line[12] != '\0')) {
                return TALLY_EFORMAT;
            }
            *http10 = line[7] == '0';
            r->status =
                (unsigned)((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
            first = false;
            continue;
        }
        if (*line == '\0') {
            break;
        }
        colon = strchr(line, ':');
        if (colon == NULL || colon == line || r->n_fields >= FIELDS_MAX) {
            return colon == NULL || colon == line ? TALLY_EFORMAT : TALLY_ELIMIT;
        }
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++) {
        }
        for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--) {
        }
        *end = '\0';
        r->fields[r->n_fields].name = line;
        r->fields[r->n_fields].value = v;
        r->n_fields++;
    }
    return first ? TALLY_EFORMAT : TALLY_OK;
}

/* Finds the end of the head in g: the offset just past the blank line, or 0. */
static size_t head_end(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i++) {
        if (p[i] == '\n' &&
            (p[i + 1] == '\n' || (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n'))) {
            return i + (p[i + 1] == '\n' ? 2u : 3u);
        }
    }
    return 0;
}

static bool token_in(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    const char *p;

    for (p = list; p != NULL && *p != '\0'; p = strchr(p, ',')) {
        while (*p == ',' || *p == ' ' || *p == '\t') {
            p++;
        }
        if (strncasecmp(p, tok, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ')) {
            return true;
        }
    }
    return false;
}

typedef struct reader {
    client_conn *c;
    gbuf in; /* bytes received and not yet consumed, from off */
    size_t off;
} reader;

/* Makes at least need unconsumed bytes available. */
static tally_status rd_fill(reader *rd, size_t need, bool *eof)
{
    tally_status st;

    *eof = false;
    while (rd->in.n - rd->off < need) {
        if (rd->off > 0) {
            memmove(rd->in.p, rd->in.p + rd->off, rd->in.n - rd->off);
            rd->in.n -= rd->off;
            rd->off = 0;
        }
        st = recv_some(rd->c, &rd->in, eof);
        if (st != TALLY_OK || *eof) {
            return st;
        }
    }
    return TALLY_OK;
}

/* Takes the next line (without its LF) of at most max bytes; *line points into rd. */
static tally_status rd_line(reader *rd, size_t max, const uint8_t **line, size_t *len)
{
    tally_status st;
    uint8_t *nl;
    bool eof;

    for (;;) {
        nl = rd->in.n > rd->off ? memchr(rd->in.p + rd->off, '\n', rd->in.n - rd->off) : NULL;
        if (nl != NULL) {
            break;
        }
        if (rd->in.n - rd->off > max) {
            return TALLY_EFORMAT;
        }
        st = rd_fill(rd, rd->in.n - rd->off + 1u, &eof);
        if (st != TALLY_OK || eof) {
            return st != TALLY_OK ? st : TALLY_EFORMAT;
        }
    }
    *line = rd->in.p + rd->off;
    *len = (size_t)(nl - *line);
    rd->off += *len + 1u;
    return TALLY_OK;
}

/* Parses a chunk-size line ("1a;ext=x\r"); false when it has no hex digits or too many. */
static bool chunk_size(const uint8_t *p, size_t n, size_t *size)
{
    size_t i, digits = 0;

    *size = 0;
    for (i = 0; i < n; i++) {
        int ch = p[i], d;
        d = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
        if (d < 0) {
            break; /* ";ext" or CR */
        }
        if (++digits > 15) {
            return false;
        }
        *size = *size * 16u + (size_t)d;
    }
    return digits > 0;
}

/* Reads a chunked body into body: chunks, the last chunk, trailers, the blank line. */
static tally_status read_chunked(reader *rd, gbuf *body)
{
    const uint8_t *line;
    size_t len, size;
    tally_status st;
    bool eof;

    for (;;) {
        st = rd_line(rd, 1024u, &line, &len);
        if (st != TALLY_OK) {
            return st;
        }
        if (!chunk_size(line, len, &size)) {
            return TALLY_EFORMAT;
        }
        if (size == 0) {
            do {
                st = rd_line(rd, CLIENT_HEAD_MAX, &line, &len);
            } while (st == TALLY_OK && !(len == 0 || (len == 1 && line[0] == '\r')));
            return st;
        }
        if (size > body->max - body->n) {
            return TALLY_ELIMIT;
        }
        if (rd->in.max < size + 65536u) {
            rd->in.max = size + 65536u; /* size is bounded by the body cap just checked */
        }
        st = rd_fill(rd, size, &eof);
        if (st == TALLY_OK && eof) {
            st = TALLY_EFORMAT;
        }
        st = st ? st : gb_add(body, rd->in.p + rd->off, size);
        rd->off += st == TALLY_OK ? size : 0;
        st = st ? st : rd_line(rd, 1, &line, &len);
        if (st != TALLY_OK || len > 1 || (len == 1 && line[0] != '\r')) {
            return st != TALLY_OK ? st : TALLY_EFORMAT;
        }
    }
}

static tally_status decode_zstd(const gbuf *raw, size_t max, uint8_t **out, size_t *out_n)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    gbuf g = {NULL, 0, 0, max};
    ZSTD_inBuffer in = {raw->p, raw->n, 0};
    tally_status st = TALLY_OK;
    size_t r = 1;

    *out = NULL;
    *out_n = 0;
    if (d == NULL) {
        return TALLY_ENOMEM;
    }
    while (st == TALLY_OK && (in.pos < in.size || r != 0)) {
        ZSTD_outBuffer o;
        size_t before;
        if (g.n == g.cap) {
            size_t more = g.cap ? g.cap : 65536u;
            if (g.n == max) {
                st = TALLY_ELIMIT; /* a frame still wanting room at the cap is over it */
                break;
            }
            st = gb_reserve(&g, more < max - g.n ? more : max - g.n);
            if (st != TALLY_OK) {
                break;
            }
        }
        o = (ZSTD_outBuffer){g.p, g.cap, g.n};
        before = in.pos;
        r = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(r)) {
            st = TALLY_EFORMAT;
            break;
        }
        if (o.pos == g.n && in.pos == before && o.pos < o.size) {
            st = TALLY_EFORMAT; /* no progress: truncated frame */
            break;
        }
        g.n = o.pos;
    }
    ZSTD_freeDCtx(d);
    if (st != TALLY_OK) {
        free(g.p);
        return st;
    }
    *out = g.p;
    *out_n = g.n;
    return TALLY_OK;
}

/* Reads response heads until a final one (1xx are skipped) into a new *out. *any_byte tells
 * whether anything arrived, so client_do() knows a retry is safe. */
static tally_status read_final_head(reader *rd, client_response **out, bool *any_byte, bool *http10)
{
    client_conn *c = rd->c;
    client_response *r;
    tally_status st;
    size_t hend;
    bool eof;

    *out = NULL;
    for (;;) {
        while ((hend = rd->in.p == NULL ? 0 : head_end(rd->in.p + rd->off, rd->in.n - rd->off)) ==
               0) {
            if (rd->in.n - rd->off > CLIENT_HEAD_MAX) {
                return fail_fmt(c, TALLY_ELIMIT, "response head too large");
            }
            st = rd_fill(rd, rd->in.n - rd->off + 1u, &eof);
            if (st != TALLY_OK) {
                return st;
            }
            if (eof) {
                return rd->in.n - rd->off == 0 && !*any_byte
                           ? fail_io(c, "connection closed by", ECONNRESET)
                           : fail_fmt(c, TALLY_EFORMAT, "truncated response head");
            }
            *any_byte = true;
        }
        *any_byte = true;
        r = calloc(1, sizeof(*r));
        if (r == NULL || (r->head = malloc(hend + 1u)) == NULL) {
            free(r);
            return TALLY_ENOMEM;
        }
        memcpy(r->head, rd->in.p + rd->off, hend);
        r->head[hend] = '\0';
        rd->off += hend;
        st = parse_head(r, http10);
        if (st != TALLY_OK) {
            client_response_free(r);
            return fail_fmt(c, st, "malformed response head");
        }
        if (r->status >= 200 || r->status == 101) {
            *out = r;
            return TALLY_OK;
        }
        client_response_free(r);
    }
}

/* Reads the body framed by Content-Length, chunked encoding or the connection's close. */
static tally_status read_body(reader *rd, const client_response *r, bool *keep, gbuf *body)
{
    client_conn *c = rd->c;
    unsigned long long n;
    tally_status st;
    const char *v;
    char *end;
    bool eof;

    if (client_response_header(r, "Transfer-Encoding", &v) > 0) {
        if (!token_in(v, "chunked")) {
            return fail_fmt(c, TALLY_EFORMAT, "unsupported Transfer-Encoding");
        }
        st = read_chunked(rd, body);
        return st == TALLY_OK || st == TALLY_EIO ? st : fail_fmt(c, st, "bad chunked body");
    }
    if (client_response_header(r, "Content-Length", &v) > 1) {
        return fail_fmt(c, TALLY_EFORMAT, "repeated Content-Length");
    }
    if (v == NULL) {
        *keep = false; /* delimited by close */
        st = gb_add(body, rd->in.p + rd->off, rd->in.n - rd->off);
        while (st == TALLY_OK) {
            rd->in.n = rd->off = 0;
            st = recv_some(c, &rd->in, &eof);
            if (st != TALLY_OK || eof) {
                break;
            }
            st = gb_add(body, rd->in.p, rd->in.n);
        }
        return st == TALLY_ELIMIT ? fail_fmt(c, st, "response body over the cap") : st;
    }
    errno = 0;
    n = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || errno != 0) {
        return fail_fmt(c, TALLY_EFORMAT, "malformed Content-Length");
    }
    if (n > c->max_response) {
        return fail_fmt(c, TALLY_ELIMIT, "response body over the cap");
    }
    rd->in.max = rd->in.n + (size_t)n + 1u;
    st = rd_fill(rd, (size_t)n, &eof);
    if (st == TALLY_OK && eof) {
        return fail_fmt(c, TALLY_EFORMAT, "truncated response body");
    }
    st = st ? st : gb_add(body, rd->in.p + rd->off, (size_t)n);
    rd->off += st == TALLY_OK ? (size_t)n : 0;
    return st;
}

/* Moves body into r, decoding Content-Encoding: zstd. */
static tally_status take_body(client_conn *c, client_response *r, gbuf *body)
{
    const char *v;
    tally_status st;

    if (client_response_header(r, "Content-Encoding", &v) == 0 || strcasecmp(v, "identity") == 0) {
        r->body = body->p;
        r->body_n = body->n;
        body->p = NULL;
        return TALLY_OK;
    }
    if (strcasecmp(v, "zstd") != 0) {
        return fail_fmt(c, TALLY_EFORMAT, "unsupported Content-Encoding");
    }
    st = decode_zstd(body, c->max_response, &r->body, &r->body_n);
    if (st != TALLY_OK) {
        return fail_fmt(c, st,
                        st == TALLY_ELIMIT ? "decoded body over the cap" : "malformed zstd body");
    }
    r->zstd = true;
    return TALLY_OK;
}

/* Reads one response into *out; *keep tells whether the connection may be reused. */
static tally_status read_response(client_conn *c, bool head_req, client_response **out,
                                  bool *any_byte, bool *keep)
{
    reader rd = {c, {NULL, 0, 0, CLIENT_HEAD_MAX + (size_t)65536u}, 0};
    gbuf body = {NULL, 0, 0, c->max_response};
    client_response *r = NULL;
    tally_status st;
    const char *v;
    bool http10 = false;

    *out = NULL;
    *any_byte = false;
    st = read_final_head(&rd, &r, any_byte, &http10);
    if (st == TALLY_OK) {
        *keep = !http10;
        if (client_response_header(r, "Connection", &v) > 0) {
            *keep = http10 ? token_in(v, "keep-alive") : !token_in(v, "close");
        }
        if (!head_req && r->status != 204 && r->status != 304 && r->status != 101) {
            st = read_body(&rd, r, keep, &body);
        }
    }
    st = st ? st : take_body(c, r, &body);
    if (st == TALLY_OK && rd.in.n > rd.off && *keep) {
        /* bytes past this response; without room for them the connection cannot be reused */
        c->carry = malloc(rd.in.n - rd.off);
        *keep = c->carry != NULL;
        if (c->carry != NULL) {
            memcpy(c->carry, rd.in.p + rd.off, rd.in.n - rd.off);
            c->carry_n = rd.in.n - rd.off;
        }
    }
    free(rd.in.p);
    free(body.p);
    if (st != TALLY_OK) {
        client_response_free(r);
        conn_drop(c);
        return st;
    }
    *out = r;
    return TALLY_OK;
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
            st = read_response(c, strcmp(rq->method, "HEAD") == 0, out, &any, &keep);
        }
        if (st == TALLY_OK || !reused || any || st != TALLY_EIO) {
            break;
        }
        conn_drop(c); /* the server closed the idle connection: one fresh try */
    }
    free(req.p);
    if (st != TALLY_OK) {
        conn_drop(c);
        return st;
    }
    if (!keep) {
        conn_drop(c);
    }
    c->err[0] = '\0';
    return TALLY_OK;
}
