/* The misbehaving node's front (tamper.h): a rewriting HTTP proxy on 127.0.0.1 in front of an
 * honest node's ledger listener, forwarding each request with the blocking client and rewriting
 * the answer the way the kind says. One connection at a time, keep-alive; answers carry
 * Content-Length and no content encoding. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"
#include "schema/schema.h"
#include "tamper/tamper.h"
#include "wire/wire.h"

#define HEAD_MAX 16384u
#define BODY_MAX (8u << 20) /* request bodies the proxy forwards (the node's own cap is lower) */

struct tamper_proxy {
    int fd;
    uint16_t port, upstream;
    tamper_kind kind;
    tamper_rewrite_fn fn;
    void *arg;
    uint64_t from;
    char *old_note;
    size_t old_n;
    pthread_mutex_t mu;
    bool done;
    uint64_t done_seq;
    char *buf; /* HEAD_MAX: bytes read ahead on the client connection */
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

/* One request head (< HEAD_MAX) and its Content-Length body; false at EOF, on error or when
 * idle (*carry 0: the caller checks for stop). */
static bool read_request(int fd, char *head, size_t *head_n, uint8_t **body, size_t *body_n,
                         size_t *carry, char *buf, atomic_bool *stop)
{
    size_t have = *carry, cl = 0, extra, got, used;
    char *end = NULL;

    *body = NULL, *body_n = 0;
    for (;;) {
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            break;
        }
        if (have >= HEAD_MAX - 1) {
            return false;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 200) <= 0) {
            if (have == 0) {
                *carry = 0;
                return false;
            }
            if (atomic_load(stop)) {
                return false; /* a client stalled inside a request head */
            }
            continue;
        }
        ssize_t r = read(fd, buf + have, HEAD_MAX - 1 - have);
        if (r <= 0) {
            return false;
        }
        have += (size_t)r;
    }
    *head_n = (size_t)(end + 4 - buf);
    memcpy(head, buf, *head_n);
    head[*head_n] = '\0';
    for (char *l = strstr(head, "\r\n"); l != NULL && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0) {
            cl = strtoul(l + 17, NULL, 10);
        }
    }
    if (cl > BODY_MAX) {
        return false;
    }
    extra = have - *head_n;
    *body = malloc(cl + 1);
    if (*body == NULL) {
        return false;
    }
    got = extra < cl ? extra : cl;
    memcpy(*body, buf + *head_n, got);
    while (got < cl) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 200) <= 0) {
            if (atomic_load(stop)) {
                free(*body);
                *body = NULL;
                return false; /* a client stalled inside a request body */
            }
            continue;
        }
        ssize_t r = read(fd, *body + got, cl - got);
        if (r <= 0) {
            free(*body);
            *body = NULL;
            return false;
        }
        got += (size_t)r;
    }
    *body_n = cl;
    used = *head_n + (extra < cl ? extra : cl);
    memmove(buf, buf + used, have - used);
    *carry = have - used;
    return true;
}

static const char *header_of(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l != NULL && l[2] != '\r';
         l = strstr(l + 2, "\r\n")) {
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

static void mark(tamper_proxy *p, uint64_t seq)
{
    pthread_mutex_lock(&p->mu);
    if (!p->done) {
        p->done = true, p->done_seq = seq;
    }
    pthread_mutex_unlock(&p->mu);
}

/* TAMPER_WITHHELD on /v1/records: the answer re-encoded without embargoed bodies. */
static void strip_records(tamper_proxy *p, const uint8_t *body, size_t n, uint8_t **out,
                          size_t *out_n)
{
    wire_records r;
    schema_mpw w;

    if (wire_records_decode(body, n, &r) != TALLY_OK) {
        return;
    }
    schema_mpw_init(&w, 80u << 20);
    schema_mpw_array(&w, 3);
    schema_mpw_uint(&w, r.from), schema_mpw_uint(&w, r.to);
    schema_mpw_array(&w, r.n);
    for (size_t i = 0; i < r.n; i++) {
        schema_header h;
        bool withhold =
            schema_header_decode(r.entries[i].header.p, r.entries[i].header.n, &h) == TALLY_OK &&
            h.tier == SCHEMA_EMBARGOED;
        schema_mpw_array(&w, 2);
        schema_mpw_bin(&w, r.entries[i].header.p, r.entries[i].header.n);
        if (r.entries[i].has_body && !withhold) {
            schema_mpw_bin(&w, r.entries[i].body.p, r.entries[i].body.n);
        } else {
            if (r.entries[i].has_body) {
                mark(p, r.from + i);
            }
            schema_mpw_nil(&w);
        }
    }
    if (schema_mpw_finish(&w, out, out_n) != TALLY_OK) {
        *out = NULL, *out_n = 0;
    }
    wire_records_release(&r);
}

/* The built-in kinds' rewrite of one answer. */
static void rewrite_kind(tamper_proxy *p, const char *target, unsigned status, const uint8_t *body,
                         size_t n, uint8_t **out, size_t *out_n)
{
    wire_delta d;
    schema_sth sth;
    uint8_t hb[SCHEMA_HEADER_MAX], *bcopy = NULL;
    bool changed = false, done;

    if (status != 200) {
        return;
    }
    if (p->kind == TAMPER_REWIND && strcmp(target, "/log/checkpoint") == 0) {
        *out = malloc(p->old_n);
        if (*out != NULL) {
            memcpy(*out, p->old_note, p->old_n);
            *out_n = p->old_n;
            mark(p, 0);
        }
        return;
    }
    if (p->kind == TAMPER_BAD_CHECKPOINT && strncmp(target, "/v1/checkpoints/", 16) == 0 && n > 0) {
        /* a state blob one byte off: the auditor's bootstrap must refuse it */
        *out = malloc(n);
        if (*out != NULL) {
            memcpy(*out, body, n);
            (*out)[n / 2] ^= 0x01;
            *out_n = n;
            mark(p, 0);
        }
        return;
    }
    if (p->kind == TAMPER_WITHHELD && strncmp(target, "/v1/records", 11) == 0) {
        strip_records(p, body, n, out, out_n);
        return;
    }
    if (strncmp(target, "/v1/deltas", 10) != 0 ||
        wire_delta_decode(body, n, &d, &sth) != TALLY_OK) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    done = p->done;
    pthread_mutex_unlock(&p->mu);
    /* withheld strips every embargoed body of every delta; the other kinds change one record */
    for (size_t i = 0; i < d.n && (!done || p->kind == TAMPER_WITHHELD); i++) {
        uint64_t seq = d.from + i;
        schema_header h;
        if (seq < p->from ||
            schema_header_decode(d.entries[i].header.p, d.entries[i].header.n, &h) != TALLY_OK) {
            continue;
        }
        if (p->kind == TAMPER_BODY && d.entries[i].has_body && d.entries[i].body.n > 0 &&
            h.tier != SCHEMA_PUBLIC) {
            bcopy = malloc(d.entries[i].body.n);
            if (bcopy == NULL) {
                break;
            }
            memcpy(bcopy, d.entries[i].body.p, d.entries[i].body.n);
            bcopy[d.entries[i].body.n - 1] ^= 1;
            d.entries[i].body.p = bcopy;
            mark(p, seq), done = true;
        } else if (p->kind == TAMPER_HEADER) {
            size_t hn;
            h.time_ms += 1;
            if (schema_header_encode(&h, hb, sizeof(hb), &hn) != TALLY_OK) {
                break;
            }
            d.entries[i].header = (tally_bytes){hb, hn};
            mark(p, seq), done = true;
        } else if ((p->kind == TAMPER_DROPPED || p->kind == TAMPER_INSERTED ||
                    p->kind == TAMPER_REORDERED) &&
                   i + 1 < d.n) {
            wire_delta_entry e = d.entries[i];
            if (p->kind == TAMPER_DROPPED) {
                /* record i left out: the rest move up, the delta ends one earlier */
                memmove(&d.entries[i], &d.entries[i + 1], (d.n - i - 1) * sizeof(e));
                d.n--, d.to--;
            } else if (p->kind == TAMPER_INSERTED) {
                /* record i served twice: the last one pushed out */
                memmove(&d.entries[i + 1], &d.entries[i], (d.n - i - 1) * sizeof(e));
            } else {
                d.entries[i] = d.entries[i + 1];
                d.entries[i + 1] = e;
            }
            mark(p, p->kind == TAMPER_INSERTED ? seq + 1 : seq), done = true;
        } else if (p->kind == TAMPER_WITHHELD && d.entries[i].has_body &&
                   h.tier == SCHEMA_EMBARGOED) {
            d.entries[i].has_body = false;
            d.entries[i].body = (tally_bytes){NULL, 0};
            changed = true; /* every embargoed body, in every delta */
        }
    }
    if ((done && p->kind != TAMPER_WITHHELD) || changed) {
        if (wire_delta_encode(&d, out, out_n) != TALLY_OK) {
            *out = NULL, *out_n = 0;
        }
    }
    free(bcopy);
    wire_delta_release(&d);
}

static void serve_conn(tamper_proxy *p, int cfd, client_conn *up)
{
    char head[HEAD_MAX];
    size_t carry = 0;

    while (!atomic_load(&p->stop)) {
        size_t hn, bn;
        uint8_t *body;
        if (!read_request(cfd, head, &hn, &body, &bn, &carry, p->buf, &p->stop)) {
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
        client_request rq = {
            .method = method,
            .target = target,
            .headers = hs,
            .n_headers = nh,
            .body = body,
            .body_n = bn,
            .content_type = ct,
        };
        client_response *resp = NULL;
        tally_status st = client_do(up, &rq, &resp);
        free(body);
        if (st != TALLY_OK) {
            break;
        }
        tally_bytes b = client_response_body(resp);
        uint8_t *nb = NULL;
        size_t nn = 0;
        unsigned status = client_response_status(resp);
        if (p->fn != NULL) {
            p->fn(p->arg, target, status, b.p, b.n, &nb, &nn);
        } else {
            rewrite_kind(p, target, status, b.p, b.n, &nb, &nn);
        }
        const char *rct = NULL, *ra = NULL, *www = NULL;
        client_response_header(resp, "Content-Type", &rct);
        client_response_header(resp, "Retry-After", &ra);
        client_response_header(resp, "WWW-Authenticate", &www);
        char line[1024];
        int ln =
            snprintf(line, sizeof(line),
                     "HTTP/1.1 %u X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s%s%s%s%s\r\n",
                     status, rct ? rct : "application/octet-stream", nb ? nn : b.n,
                     ra ? "Retry-After: " : "", ra ? ra : "", ra ? "\r\n" : "",
                     www ? "WWW-Authenticate: " : "", www ? www : "", www ? "\r\n" : "");
        bool ok = ln > 0 && (size_t)ln < sizeof(line) && write_all(cfd, line, (size_t)ln) &&
                  write_all(cfd, nb ? nb : b.p, nb ? nn : b.n);
        free(nb);
        client_response_free(resp);
        if (!ok) {
            break;
        }
    }
}

static void *run(void *arg)
{
    tamper_proxy *p = arg;
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

bool tamper_kind_is_proxy(tamper_kind k)
{
    return k == TAMPER_BODY || k == TAMPER_HEADER || k == TAMPER_DROPPED || k == TAMPER_INSERTED ||
           k == TAMPER_REORDERED || k == TAMPER_WITHHELD || k == TAMPER_REWIND ||
           k == TAMPER_BAD_CHECKPOINT;
}

tally_status tamper_proxy_start(const tamper_proxy_cfg *cfg, tamper_proxy **out, char *detail)
{
    tamper_proxy *p;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);

    *out = NULL;
    if (cfg->fn == NULL && !tamper_kind_is_proxy(cfg->kind)) {
        if (detail != NULL) {
            snprintf(detail, TAMPER_DETAIL_MAX, "%s is not played by a proxy",
                     tamper_kind_name(cfg->kind));
        }
        return TALLY_EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return TALLY_ENOMEM;
    }
    p->buf = malloc(HEAD_MAX);
    if (cfg->kind == TAMPER_REWIND && cfg->fn == NULL && cfg->old_note != NULL) {
        p->old_note = malloc(cfg->old_n ? cfg->old_n : 1);
        if (p->old_note != NULL) {
            memcpy(p->old_note, cfg->old_note, cfg->old_n);
            p->old_n = cfg->old_n;
        }
    }
    if (p->buf == NULL || (cfg->kind == TAMPER_REWIND && cfg->fn == NULL && p->old_note == NULL)) {
        free(p->buf);
        free(p->old_note);
        free(p);
        return cfg->kind == TAMPER_REWIND && cfg->old_note == NULL ? TALLY_EINVAL : TALLY_ENOMEM;
    }
    p->upstream = cfg->upstream_port, p->kind = cfg->kind, p->fn = cfg->fn, p->arg = cfg->arg;
    p->from = cfg->from;
    pthread_mutex_init(&p->mu, NULL);
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(p->fd, 8) != 0 || getsockname(p->fd, (struct sockaddr *)&sa, &sl) != 0) {
        if (detail != NULL) {
            snprintf(detail, TAMPER_DETAIL_MAX, "cannot listen on 127.0.0.1");
        }
        if (p->fd >= 0) {
            close(p->fd);
        }
        pthread_mutex_destroy(&p->mu);
        free(p->buf);
        free(p->old_note);
        free(p);
        return TALLY_EIO;
    }
    p->port = ntohs(sa.sin_port);
    if (pthread_create(&p->th, NULL, run, p) != 0) {
        close(p->fd);
        pthread_mutex_destroy(&p->mu);
        free(p->buf);
        free(p->old_note);
        free(p);
        return TALLY_ENOMEM;
    }
    *out = p;
    return TALLY_OK;
}

uint16_t tamper_proxy_port(const tamper_proxy *p)
{
    return p->port;
}

bool tamper_proxy_done(tamper_proxy *p, uint64_t *seq)
{
    bool d;

    pthread_mutex_lock(&p->mu);
    d = p->done;
    if (seq != NULL) {
        *seq = p->done_seq;
    }
    pthread_mutex_unlock(&p->mu);
    return d;
}

void tamper_proxy_stop(tamper_proxy *p)
{
    if (p == NULL) {
        return;
    }
    atomic_store(&p->stop, true);
    pthread_join(p->th, NULL);
    close(p->fd);
    pthread_mutex_destroy(&p->mu);
    free(p->buf);
    free(p->old_note);
    free(p);
}
