/* The HTTP/1.1 engine's connections, from accept() to close: the connection limits at accept(),
 * reading a request (head, framing, body), the read and idle timeouts, handing it to its
 * handler, deferred completion, sending the response and lingering before a close.
 *
 * Each loop owns its connections outright: only its thread touches their bufferevents. Other
 * threads reach a loop through its completion queue (a mutex-protected list plus a pipe that
 * wakes the loop), which carries deferred replies and the stop order. The loops themselves, the
 * listening sockets and the graceful stop are httpd/http_loop.c. */
#include "httpd/httpd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <zstd.h>
#include <zstd_errors.h>

static void conn_read(struct bufferevent *bev, void *arg);

/* ---- connection lifecycle ---- */

static void timer_arm(http_conn *c, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)(ms % 1000u) * 1000};

    evtimer_add(c->timer, &tv);
}

static void req_drop(http_conn *c)
{
    if (c->inflight) {
        atomic_fetch_sub_explicit(&c->w->srv->inflight, 1, memory_order_relaxed);
        c->inflight = false;
    }
    free(c->raw);
    c->raw = NULL;
    httpd__req_free(c->req);
    c->req = NULL;
    c->head = NULL;
}

static void conn_unlink(http_conn *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        c->w->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
}

/* Closes the socket now. The struct goes too unless a deferred request still points at it; then
 * the reply, when it comes, frees both (see httpd__conn_send). */
void httpd__conn_close(http_conn *c)
{
    http_worker *w = c->w;

    if (c->closed) {
        return;
    }
    c->closed = true;
    event_free(c->timer);
    c->timer = NULL;
    bufferevent_free(c->bev);
    c->bev = NULL;
    conn_unlink(c);
    httpd__conn_release(w->srv, &c->key);
    atomic_fetch_sub_explicit(&w->srv->conns_open[c->listener], 1, memory_order_relaxed);
    if (c->state == CONN_HANDLING && c->req != NULL && c->req->deferred) {
        return;
    }
    req_drop(c);
    free(c);
    httpd__check_exit(w);
}

static void out_free(const void *data, size_t n, void *arg)
{
    (void)n, (void)arg;
    free((void *)data);
}

/* Queues req->out and a borrowed body without copying them: the output buffer owns both from
 * here and gives them back through their cleanups once written. -1 when out of memory (what was
 * not handed over stays with req). */
static int queue_out(http_conn *c, httpd_req *req)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (req->out == NULL || req->out_n == 0) {
        return 0;
    }
    if (!req->body_ref_send) {
        /* a small response (the static 500, a JSON answer): one copy is cheaper than a chain */
        if (req->out_n < 4096) {
            return bufferevent_write(c->bev, req->out, req->out_n);
        }
    }
    if (evbuffer_add_reference(out, req->out, req->out_n, out_free, NULL) != 0) {
        return -1;
    }
    req->out = NULL; /* the buffer frees it */
    if (req->body_ref_send) {
        if (evbuffer_add_reference(out, req->body_ref, req->body_ref_n, req->body_done,
                                   req->body_done_arg) != 0) {
            return -1;
        }
        req->body_done = NULL; /* the buffer calls it */
    }
    return 0;
}

/* Sends req->out, built by a reply function; on the loop thread. */
void httpd__conn_send(http_conn *c, httpd_req *req)
{
    http_worker *w = c->w;

    TALLY_ASSERT(c->req == req);
    if (c->closed) {
        req_drop(c);
        free(c);
        httpd__check_exit(w);
        return;
    }
    c->state = CONN_WRITING;
    evtimer_del(c->timer);
    bufferevent_disable(c->bev, EV_READ);
    httpd__stats_count(w->srv, req);
    if (queue_out(c, req) != 0) {
        /* Closing here would free c under the caller's feet; the timer closes it instead. */
        event_active(c->timer, EV_TIMEOUT, 1);
        return;
    }
    bufferevent_enable(c->bev, EV_WRITE);
}

void httpd__req_done(httpd_req *req)
{
    http_worker *w;
    bool was_empty;

    if (!req->deferred) {
        httpd__conn_send(req->conn, req);
        return;
    }
    w = req->conn->w;
    pthread_mutex_lock(&w->mu);
    was_empty = w->done_head == NULL;
    req->next_done = NULL;
    if (w->done_tail != NULL) {
        w->done_tail->next_done = req;
    } else {
        w->done_head = req;
    }
    w->done_tail = req;
    pthread_mutex_unlock(&w->mu);
    if (was_empty) {
        /* A full pipe means a wake-up is already pending, so EAGAIN is fine. */
        ssize_t r = write(w->wake_wr, "d", 1);
        (void)r;
    }
}

/* The error reply for a request the engine itself rejects; always closes afterwards. */
void httpd__conn_fail(http_conn *c, unsigned status, const char *code, const char *message)
{
    httpd_req *req = c->req;

    if (req->id[0] == '\0') {
        httpd__req_pick_id(req);
    }
    req->keep_alive = false;
    bufferevent_disable(c->bev, EV_READ);
    httpd_req_error(req, status, code, message, NULL);
}

/* Closing right after a response while the client may still be sending (a body we refused to
 * read) would make the kernel answer with RST, and the client could lose the response. So the
 * write side is shut and input is discarded until EOF or a short timer. */
static void conn_linger(http_conn *c)
{
    unsigned ms = c->w->srv->cfg.read_timeout_ms < 2000u ? c->w->srv->cfg.read_timeout_ms : 2000u;

    c->state = CONN_LINGER;
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    evbuffer_drain(bufferevent_get_input(c->bev),
                   evbuffer_get_length(bufferevent_get_input(c->bev)));
    bufferevent_disable(c->bev, EV_WRITE);
    bufferevent_enable(c->bev, EV_READ);
    timer_arm(c, ms);
}

static void conn_write(struct bufferevent *bev, void *arg)
{
    http_conn *c = arg;
    bool keep;

    if (c->state != CONN_WRITING || evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        return;
    }
    keep = c->req->keep_alive && !c->w->stopping;
    req_drop(c);
    if (!keep) {
        conn_linger(c);
        return;
    }
    c->state = CONN_IDLE;
    c->line_done = false;
    timer_arm(c, c->w->srv->cfg.idle_timeout_ms);
    bufferevent_enable(bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
        conn_read(bev, c); /* a pipelined request already buffered raises no new read event */
    }
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    http_conn *c = arg;

    (void)bev;
    (void)what;
    /* EOF, a socket error or the write timeout: nothing more can be said on this connection. */
    httpd__conn_close(c);
}

static void conn_timer(evutil_socket_t fd, short what, void *arg)
{
    http_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->state == CONN_HEAD || c->state == CONN_BODY) {
        httpd__conn_fail(c, 408, "request_timeout", "request not received within the read timeout");
        return;
    }
    httpd__conn_close(c);
}

static void dispatch(http_conn *c);

/* After the head: framing, limits, the head callback; then the body or the handler. */
static void head_done(http_conn *c)
{
    http_worker *w = c->w;
    httpd *srv = w->srv;
    const httpd_listener_cfg *lc = &srv->lis[c->listener];
    httpd_req *req = c->req;
    bool keep;

    httpd__req_pick_id(req);
    if (!httpd__check_framing(c)) {
        return;
    }
    if (atomic_fetch_add(&srv->inflight, 1) >= srv->cfg.max_inflight) {
        atomic_fetch_sub(&srv->inflight, 1);
        httpd__conn_fail(c, 503, "overloaded", "too many requests in flight");
        return;
    }
    c->inflight = true;
    req->body_limit = lc->max_body;
    if (lc->head != NULL) {
        /* A reply from head leaves the body unread, so the connection cannot be reused. */
        keep = req->keep_alive;
        if (req->content_length > 0) {
            req->keep_alive = false;
        }
        req->in_handler = true;
        lc->head(lc->arg, req);
        req->in_handler = false;
        TALLY_ASSERT(!req->deferred);
        if (req->replied) {
            return;
        }
        req->keep_alive = keep;
    }
    if (req->content_length > req->body_limit) {
        httpd__conn_fail(c, 413, "payload_too_large",
                         "Content-Length exceeds the limit for this route");
        return;
    }
    if (req->content_length == 0) {
        dispatch(c);
        return;
    }
    c->raw = malloc(req->content_length);
    if (c->raw == NULL) {
        httpd__conn_fail(c, 503, "overloaded", "no memory for the request body");
        return;
    }
    c->body_got = 0;
    c->state = CONN_BODY;
    if (req->expect_continue && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
        bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
}

static void dispatch(http_conn *c)
{
    const httpd_listener_cfg *lc = &c->w->srv->lis[c->listener];
    httpd_req *req = c->req;
    unsigned status;
    const char *why;

    if (req->zstd_in && req->content_length > 0) {
        why = httpd__decode_zstd(c, &status);
        free(c->raw);
        c->raw = NULL;
        if (why != NULL) {
            httpd__conn_fail(c, status,
                             status == 413   ? "payload_too_large"
                             : status == 400 ? "bad_request"
                             : status == 503 ? "overloaded"
                                             : "internal_error",
                             why);
            return;
        }
    } else {
        req->body = c->raw;
        req->body_n = req->content_length;
        c->raw = NULL;
    }
    c->state = CONN_HANDLING;
    evtimer_del(c->timer);
    bufferevent_disable(c->bev, EV_READ);
    req->in_handler = true;
    lc->handle(lc->arg, req);
    /* After a deferral another thread may already be replying, so only the flag set by this
     * thread is read. */
    if (req->deferred) {
        c->w->n_deferred++;
        return;
    }
    req->in_handler = false;
    if (!req->replied) {
        httpd_req_error(req, 500, "internal_error", "handler did not reply", NULL);
    }
}

static void conn_read(struct bufferevent *bev, void *arg)
{
    http_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    httpd *srv = c->w->srv;
    size_t n;
    int r;

    for (;;) {
        switch (c->state) {
        case CONN_IDLE:
            if (evbuffer_get_length(in) == 0) {
                return;
            }
            c->req = httpd__req_new(c, c->listener, srv->cfg.arena_cap);
            c->head =
                c->req != NULL ? httpd_req_alloc(c->req, srv->cfg.max_header_bytes + 1u) : NULL;
            if (c->head == NULL) {
                httpd__conn_close(c);
                return;
            }
            c->req->srv = srv;
            c->req->zstd_level = srv->cfg.zstd_level;
            memcpy(c->req->peer, c->peer, sizeof(c->peer));
            memcpy(&c->req->peer_ss, &c->ss, sizeof(c->ss));
            c->req->peer_len = c->ss_len;
            c->req->keep_alive = false; /* until the head says otherwise */
            c->head_n = c->head_used = c->scanned = 0;
            c->state = CONN_HEAD;
            timer_arm(c, srv->cfg.read_timeout_ms);
            break;
        case CONN_HEAD:
            r = httpd__read_head(c);
            if (r <= 0) {
                return;
            }
            head_done(c);
            if (c->state != CONN_BODY) {
                return; /* answered from the head, or handled (c may be a zombie now) */
            }
            break;
        case CONN_BODY:
            n = evbuffer_get_length(in);
            if (n > c->req->content_length - c->body_got) {
                n = c->req->content_length - c->body_got;
            }
            if (n == 0) {
                return;
            }
            evbuffer_remove(in, c->raw + c->body_got, n);
            c->body_got += n;
            if (c->body_got < c->req->content_length) {
                return;
            }
            dispatch(c);
            return;
        case CONN_LINGER:
            evbuffer_drain(in, evbuffer_get_length(in));
            return;
        case CONN_HANDLING:
        case CONN_WRITING:
            return;
        }
    }
}

/* ---- accepting ---- */

void httpd__on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    lis_ctx *lx = arg;
    http_worker *w = lx->w;
    httpd *srv = w->srv;
    struct timeval wtv = {(time_t)(srv->cfg.write_timeout_ms / 1000u),
                          (suseconds_t)(srv->cfg.write_timeout_ms % 1000u) * 1000};
    ip_key key = httpd__ip_key(sa);
    http_conn *c;

    (void)lev;
    if (w->stopping || !httpd__conn_admit(srv, &key)) {
        atomic_fetch_add_explicit(&srv->conns_rejected[lx->idx], 1, memory_order_relaxed);
        close(fd); /* stage 1 of spec §7.3: closed without a response */
        return;
    }
    /* A response leaves in writes of at most 16 KiB (libevent's single-write cap), so the last
     * short segment of a body over 16 KiB would wait, under Nagle, for the ACK of the one
     * before, which a keep-alive client delays by up to 40 ms: 44 ms for every 38 KiB entry
     * bundle (bench/tiles.sh). Ignored where it fails (not TCP: a Unix socket in a test). */
    {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    c = calloc(1, sizeof(*c));
    if (c != NULL) {
        c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
        c->timer = evtimer_new(w->base, conn_timer, c);
    }
    if (c == NULL || c->bev == NULL || c->timer == NULL) {
        if (c != NULL && c->bev != NULL) {
            bufferevent_free(c->bev);
        } else {
            close(fd);
        }
        if (c != NULL && c->timer != NULL) {
            event_free(c->timer);
        }
        free(c);
        httpd__conn_release(srv, &key);
        atomic_fetch_add_explicit(&srv->conns_rejected[lx->idx], 1, memory_order_relaxed);
        return;
    }
    /* One write per response of up to 256 KiB instead of 16 KiB pieces: each write to a local
     * peer wakes its reader, so a 38 KiB entry bundle cost three wake-ups (bench/tiles.sh). */
    (void)bufferevent_set_max_single_write(c->bev, 256u * 1024u);
    c->w = w;
    c->listener = lx->idx;
    c->key = key;
    c->ss_len = socklen > 0 && (size_t)socklen <= sizeof(c->ss) ? (socklen_t)socklen
                                                                : (socklen_t)sizeof(c->ss);
    memcpy(&c->ss, sa, c->ss_len);
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, c->peer, sizeof(c->peer));
    } else if (IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)(void *)sa)->sin6_addr)) {
        inet_ntop(AF_INET, &key.b[12], c->peer, sizeof(c->peer));
    } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, c->peer,
                  sizeof(c->peer));
    }
    c->next = w->conns;
    if (w->conns != NULL) {
        w->conns->prev = c;
    }
    w->conns = c;
    atomic_fetch_add_explicit(&srv->conns_open[lx->idx], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&srv->conns_accepted[lx->idx], 1, memory_order_relaxed);
    bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
    bufferevent_set_timeouts(c->bev, NULL, &wtv);
    bufferevent_enable(c->bev, EV_READ);
    timer_arm(c, srv->cfg.read_timeout_ms);
}
