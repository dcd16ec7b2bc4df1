/* The rewriting proxy of tests/util/proxy.h. */
#include "util/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"

struct tp_proxy {
    int fd;
    uint16_t port, upstream;
    tp_rewrite_fn fn;
    void *arg;
    pthread_t th;
    atomic_bool stop;
};

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) {
            return false;
        }
        c += w, n -= (size_t)w;
    }
    return true;
}

/* Reads one request head (≤ 16 KiB) and its Content-Length body; false at EOF or on error. */
static bool read_request(int fd, char *head, size_t cap, size_t *head_n, uint8_t **body,
                         size_t *body_n, size_t *carry, char *buf)
{
    size_t have = *carry;
    char *end = NULL;

    *body = NULL, *body_n = 0;
    for (;;) {
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            break;
        }
        if (have >= cap - 1) {
            return false;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 200) <= 0) {
            if (have == 0) {
                *carry = 0;
                return false; /* idle: let the caller check for stop */
            }
            continue;
        }
        ssize_t r = read(fd, buf + have, cap - 1 - have);
        if (r <= 0) {
            return false;
        }
        have += (size_t)r;
    }
    *head_n = (size_t)(end + 4 - buf);
    memcpy(head, buf, *head_n);
    head[*head_n] = '\0';
    size_t cl = 0;
    for (char *l = strstr(head, "\r\n"); l != NULL && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0) {
            cl = strtoul(l + 17, NULL, 10);
        }
    }
    size_t extra = have - *head_n;
    *body = malloc(cl + 1);
    memcpy(*body, buf + *head_n, extra < cl ? extra : cl);
    size_t got = extra < cl ? extra : cl;
    while (got < cl) {
        ssize_t r = read(fd, *body + got, cl - got);
        if (r <= 0) {
            free(*body);
            *body = NULL;
            return false;
        }
        got += (size_t)r;
    }
    *body_n = cl;
    /* keep what came after this request */
    size_t used = *head_n + (extra < cl ? extra : cl);
    memmove(buf, buf + used, have - used);
    *carry = have - used;
    return true;
}

static const char *header_of(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l != NULL && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, nl) == 0 && l[2 + nl] == ':') {
            const char *v = l + 3 + nl, *e = strstr(v, "\r\n");
            while (*v == ' ') {
                v++;
            }
            snprintf(out, cap, "%.*s", (int)(e - v), v);
            return out;
        }
    }
    return NULL;
}

static void serve_conn(tp_proxy *p, int cfd, client_conn *up)
{
    static char buf[65536];
    char head[16384];
    size_t carry = 0;

    while (!atomic_load(&p->stop)) {
        size_t hn, bn;
        uint8_t *body;
        if (!read_request(cfd, head, sizeof(buf), &hn, &body, &bn, &carry, buf)) {
            if (carry == 0 && !atomic_load(&p->stop)) {
                /* idle or closed: a closed peer reads 0 in poll's wake */
                struct pollfd pf = {cfd, POLLIN, 0};
                char c;
                if (poll(&pf, 1, 0) > 0 && recv(cfd, &c, 1, MSG_PEEK) <= 0) {
                    break;
                }
                continue;
            }
            break;
        }
        char method[16], target[2048], auth[200], accept[200], ctype[200];
        if (sscanf(head, "%15s %2047s", method, target) != 2) {
            free(body);
            break;
        }
        client_header hs[3];
        size_t nh = 0;
        if (header_of(head, "Authorization", auth, sizeof(auth))) {
            hs[nh++] = (client_header){"Authorization", auth};
        }
        if (header_of(head, "Accept", accept, sizeof(accept))) {
            hs[nh++] = (client_header){"Accept", accept};
        }
        const char *ct = header_of(head, "Content-Type", ctype, sizeof(ctype));
        client_request rq = {.method = method, .target = target, .headers = hs, .n_headers = nh,
                             .body = body, .body_n = bn, .content_type = ct};
        client_response *resp = NULL;
        if (client_do(up, &rq, &resp) != TALLY_OK) {
            free(body);
            break;
        }
        free(body);
        tally_bytes b = client_response_body(resp);
        uint8_t *nb = NULL;
        size_t nn = 0;
        if (p->fn != NULL) {
            p->fn(p->arg, target, client_response_status(resp), b.p, b.n, &nb, &nn);
        }
        const char *rct = NULL;
        client_response_header(resp, "Content-Type", &rct);
        char line[512];
        int ln = snprintf(line, sizeof(line),
                          "HTTP/1.1 %u X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                          client_response_status(resp), rct ? rct : "application/octet-stream",
                          nb ? nn : b.n);
        bool ok = write_all(cfd, line, (size_t)ln) && write_all(cfd, nb ? nb : b.p, nb ? nn : b.n);
        free(nb);
        client_response_free(resp);
        if (!ok) {
            break;
        }
    }
}

static void *run(void *arg)
{
    tp_proxy *p = arg;
    client_cfg cc = {.host = "127.0.0.1", .port = p->upstream};

    while (!atomic_load(&p->stop)) {
        struct pollfd pf = {p->fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0) {
            continue;
        }
        int cfd = accept(p->fd, NULL, NULL);
        if (cfd < 0) {
            continue;
        }
        client_conn *up = NULL;
        if (client_open(&cc, &up) == TALLY_OK) {
            serve_conn(p, cfd, up);
        }
        client_close(up);
        close(cfd);
    }
    return NULL;
}

tp_proxy *tp_start(uint16_t upstream_port, tp_rewrite_fn fn, void *arg)
{
    tp_proxy *p = calloc(1, sizeof(*p));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);

    if (p == NULL) {
        abort();
    }
    p->upstream = upstream_port, p->fn = fn, p->arg = arg;
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(p->fd, 8) != 0 || getsockname(p->fd, (struct sockaddr *)&sa, &sl) != 0) {
        abort();
    }
    p->port = ntohs(sa.sin_port);
    if (pthread_create(&p->th, NULL, run, p) != 0) {
        abort();
    }
    return p;
}

uint16_t tp_port(const tp_proxy *p)
{
    return p->port;
}

void tp_stop(tp_proxy *p)
{
    if (p == NULL) {
        return;
    }
    atomic_store(&p->stop, true);
    pthread_join(p->th, NULL);
    close(p->fd);
    free(p);
}
