/* The HTTP/1.1 engine: listening sockets, one libevent loop per thread, connection limits at
 * accept(), the request parser, timeouts, deferred completion and the graceful stop.
 *
 * Each loop owns its connections outright: only its thread touches their bufferevents. Other
 * threads reach a loop through its completion queue (a mutex-protected list plus a pipe that
 * wakes the loop), which carries deferred replies and the stop order. */
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

#define DEFAULT_MAX_BODY (256u * 1024u)

static void conn_read(struct bufferevent *bev, void *arg);
static void conn_close(http_conn *c);
static void check_exit(http_worker *w);

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
 * the reply, when it comes, frees both (see conn_send). */
static void conn_close(http_conn *c)
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
    check_exit(w);
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
static void conn_send(http_conn *c, httpd_req *req)
{
    http_worker *w = c->w;

    TALLY_ASSERT(c->req == req);
    if (c->closed) {
        req_drop(c);
        free(c);
        check_exit(w);
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
        conn_send(req->conn, req);
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
    conn_close(c);
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
    conn_close(c);
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
                conn_close(c);
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

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
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

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    lis_ctx *lx = arg;

    (void)fd;
    (void)what;
    if (lx->w->lev[lx->idx] != NULL) {
        evconnlistener_enable(lx->w->lev[lx->idx]);
    }
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    lis_ctx *lx = arg;
    struct timeval tv = {0, 100000};

    /* EMFILE and friends: the pending connection stays readable, so accepting again at once
     * would spin; pause this loop's listener for 100 ms instead. */
    evconnlistener_disable(lev);
    evtimer_add(lx->resume, &tv);
}

/* ---- stopping ---- */

static void check_exit(http_worker *w)
{
    if (w->stopping && w->conns == NULL && w->n_deferred == 0) {
        event_base_loopexit(w->base, NULL);
    }
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    http_worker *w = arg;

    (void)fd;
    (void)what;
    while (w->conns != NULL) {
        conn_close(w->conns);
    }
    check_exit(w);
}

/* Stops accepting on this loop; the last loop to let go closes the sockets, so new connections
 * are refused, not queued. */
static void close_listeners(http_worker *w)
{
    httpd *srv = w->srv;
    size_t i;

    if (w->closed) {
        return;
    }
    w->closed = true;
    for (i = 0; i < srv->n_lis; i++) {
        if (w->lev[i] != NULL) {
            evconnlistener_free(w->lev[i]);
            w->lev[i] = NULL;
        }
        evtimer_del(w->lctx[i].resume);
    }
    if (atomic_fetch_sub(&srv->listening, 1) == 1) {
        for (i = 0; i < srv->n_lis; i++) {
            close(srv->fds[i]);
            srv->fds[i] = -1;
        }
    }
}

static void begin_stop(http_worker *w, unsigned grace_ms)
{
    struct timeval tv = {(time_t)(grace_ms / 1000u), (suseconds_t)(grace_ms % 1000u) * 1000};
    http_conn *c, *next;

    w->stopping = true;
    close_listeners(w);
    for (c = w->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == CONN_IDLE || c->state == CONN_LINGER) {
            conn_close(c);
        }
    }
    evtimer_add(w->grace_ev, &tv);
    check_exit(w);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    http_worker *w = arg;
    httpd_req *done, *next;
    bool stop;
    unsigned grace;
    char sink[64];

    (void)what;
    while (read(fd, sink, sizeof(sink)) > 0) {
    }
    pthread_mutex_lock(&w->mu);
    done = w->done_head;
    w->done_head = w->done_tail = NULL;
    stop = w->stop_order;
    grace = w->grace_ms;
    bool close_now = w->close_order;
    pthread_mutex_unlock(&w->mu);
    if (close_now) {
        close_listeners(w);
    }
    for (; done != NULL; done = next) {
        next = done->next_done;
        TALLY_ASSERT(w->n_deferred > 0);
        w->n_deferred--;
        conn_send(done->conn, done);
    }
    if (stop && !w->stopping) {
        begin_stop(w, grace);
    }
    check_exit(w);
}

void httpd_stop_accepting(httpd *srv)
{
    for (unsigned i = 0; i < srv->n_workers; i++) {
        http_worker *w = &srv->workers[i];
        ssize_t r;
        pthread_mutex_lock(&w->mu);
        w->close_order = true;
        pthread_mutex_unlock(&w->mu);
        r = write(w->wake_wr, "a", 1);
        (void)r;
    }
}

void httpd_stop(httpd *srv, unsigned grace_ms)
{
    unsigned i;
    ssize_t r;

    if (atomic_exchange(&srv->stopping, true)) {
        return;
    }
    for (i = 0; i < srv->n_workers; i++) {
        http_worker *w = &srv->workers[i];
        pthread_mutex_lock(&w->mu);
        w->stop_order = true;
        w->grace_ms = grace_ms;
        pthread_mutex_unlock(&w->mu);
        r = write(w->wake_wr, "s", 1);
        (void)r;
    }
}

void httpd_wait(httpd *srv)
{
    unsigned i;

    pthread_mutex_lock(&srv->wait_mu);
    if (!srv->joined) {
        for (i = 0; i < srv->n_workers; i++) {
            if (srv->workers[i].started) {
                pthread_join(srv->workers[i].thread, NULL);
                srv->workers[i].started = false;
            }
        }
        srv->joined = true;
    }
    pthread_mutex_unlock(&srv->wait_mu);
}

/* ---- opening and closing ---- */

static void *worker_main(void *arg)
{
    http_worker *w = arg;

    event_base_dispatch(w->base);
    return NULL;
}

static tally_status bind_one(const httpd_listener_cfg *lc, int *fd_out, uint16_t *port_out)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;
    socklen_t len;
    int fd, one = 1;

    *fd_out = -1;
    *port_out = 0;
    memset(&ss, 0, sizeof(ss));
    if (lc->host != NULL && inet_pton(AF_INET, lc->host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(lc->port);
        len = sizeof(*s4);
    } else if (lc->host != NULL && inet_pton(AF_INET6, lc->host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(lc->port);
        len = sizeof(*s6);
    } else {
        return TALLY_EINVAL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return TALLY_EIO;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        close(fd);
        return TALLY_EIO;
    }
    *port_out = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
    *fd_out = fd;
    return TALLY_OK;
}

static tally_status worker_init(httpd *srv, http_worker *w, unsigned idx)
{
    int p[2];
    size_t i;

    w->srv = srv;
    w->idx = idx;
    w->wake_rd = w->wake_wr = -1;
    pthread_mutex_init(&w->mu, NULL);
    /* With the changelist, the read and write interest a request toggles (read off and write
     * on to answer, then back) reaches epoll once per loop iteration as its net change, not as
     * an epoll_ctl call per toggle (they were 15 % of a cached bundle's CPU). Its one caveat,
     * fds shared through dup(), does not arise here: every socket is accept()ed. */
    {
        struct event_config *ec = event_config_new();
        if (ec != NULL && event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0) {
            w->base = event_base_new_with_config(ec);
        }
        event_config_free(ec);
    }
    if (w->base == NULL) {
        w->base = event_base_new();
    }
    w->dctx = ZSTD_createDCtx();
    if (w->base == NULL || w->dctx == NULL) {
        return TALLY_ENOMEM;
    }
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
        return TALLY_EIO;
    }
    w->wake_rd = p[0];
    w->wake_wr = p[1];
    w->wake_ev = event_new(w->base, w->wake_rd, EV_READ | EV_PERSIST, on_wake, w);
    w->grace_ev = evtimer_new(w->base, on_grace, w);
    if (w->wake_ev == NULL || w->grace_ev == NULL || event_add(w->wake_ev, NULL) != 0) {
        return TALLY_ENOMEM;
    }
    for (i = 0; i < srv->n_lis; i++) {
        w->lctx[i] = (lis_ctx){w, i, evtimer_new(w->base, on_accept_resume, &w->lctx[i])};
        if (w->lctx[i].resume == NULL) {
            return TALLY_ENOMEM;
        }
        /* backlog 0: the socket already listens; no CLOSE_ON_FREE: the loops share it. */
        w->lev[i] = evconnlistener_new(w->base, on_accept, &w->lctx[i], 0, 0, srv->fds[i]);
        if (w->lev[i] == NULL) {
            return TALLY_ENOMEM;
        }
        evconnlistener_set_error_cb(w->lev[i], on_accept_error);
    }
    return TALLY_OK;
}

static void worker_release(http_worker *w)
{
    size_t i;
    http_conn *c;

    if (w->srv == NULL) {
        return;
    }
    for (i = 0; i < HTTPD_LISTENERS_MAX; i++) {
        if (w->lev[i] != NULL) {
            evconnlistener_free(w->lev[i]);
        }
        if (w->lctx[i].resume != NULL) {
            event_free(w->lctx[i].resume);
        }
    }
    while ((c = w->conns) != NULL) {
        conn_close(c);
    }
    if (w->wake_ev != NULL) {
        event_free(w->wake_ev);
    }
    if (w->grace_ev != NULL) {
        event_free(w->grace_ev);
    }
    if (w->base != NULL) {
        event_base_free(w->base);
    }
    ZSTD_freeDCtx(w->dctx);
    if (w->wake_rd >= 0) {
        close(w->wake_rd);
        close(w->wake_wr);
    }
    pthread_mutex_destroy(&w->mu);
}

static tally_status cfg_fill(const httpd_cfg *in, httpd *srv)
{
    httpd_cfg *c = &srv->cfg;
    size_t i;

    if (in->listeners == NULL || in->n_listeners == 0 || in->n_listeners > HTTPD_LISTENERS_MAX) {
        return TALLY_EINVAL;
    }
    *c = *in;
    c->threads = c->threads ? c->threads : 4u;
    c->max_header_bytes = c->max_header_bytes ? c->max_header_bytes : 16384u;
    c->max_target = c->max_target ? c->max_target : 2048u;
    c->max_conns = c->max_conns ? c->max_conns : 4096u;
    c->max_conns_per_ip = c->max_conns_per_ip ? c->max_conns_per_ip : 64u;
    c->max_inflight = c->max_inflight ? c->max_inflight : 4096u;
    c->read_timeout_ms = c->read_timeout_ms ? c->read_timeout_ms : 10000u;
    c->write_timeout_ms = c->write_timeout_ms ? c->write_timeout_ms : 30000u;
    c->idle_timeout_ms = c->idle_timeout_ms ? c->idle_timeout_ms : 60000u;
    c->arena_cap = c->arena_cap ? c->arena_cap : 1024u * 1024u;
    c->zstd_level = c->zstd_level ? c->zstd_level : 3;
    if (c->threads > 256u || c->max_header_bytes < 256u ||
        c->arena_cap < c->max_header_bytes * 2u) {
        return TALLY_EINVAL;
    }
    srv->n_lis = in->n_listeners;
    for (i = 0; i < srv->n_lis; i++) {
        srv->lis[i] = in->listeners[i];
        if (srv->lis[i].handle == NULL) {
            return TALLY_EINVAL;
        }
        if (srv->lis[i].max_body == 0) {
            srv->lis[i].max_body = DEFAULT_MAX_BODY;
        }
    }
    c->listeners = srv->lis;
    return TALLY_OK;
}

tally_status httpd_open(const httpd_cfg *cfg, httpd **out)
{
    httpd *srv;
    tally_status st;
    size_t i, n_counts;

    *out = NULL;
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return TALLY_ENOMEM;
    }
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->wait_mu, NULL);
    for (i = 0; i < HTTPD_LISTENERS_MAX; i++) {
        srv->fds[i] = -1;
    }
    st = cfg_fill(cfg, srv);
    if (st != TALLY_OK) {
        goto fail;
    }
    n_counts = srv->n_lis * HTTPD_ROUTES_MAX * HTTPD_METHOD_COUNT * httpd__stat_slots();
    srv->counts = calloc(n_counts, sizeof(*srv->counts));
    srv->workers = calloc(srv->cfg.threads, sizeof(*srv->workers));
    if (srv->counts == NULL || srv->workers == NULL) {
        st = TALLY_ENOMEM;
        goto fail;
    }
    for (i = 0; i < srv->n_lis; i++) {
        st = bind_one(&srv->lis[i], &srv->fds[i], &srv->ports[i]);
        if (st != TALLY_OK) {
            goto fail;
        }
    }
    for (srv->n_workers = 0; srv->n_workers < srv->cfg.threads; srv->n_workers++) {
        st = worker_init(srv, &srv->workers[srv->n_workers], srv->n_workers);
        if (st != TALLY_OK) {
            srv->n_workers++; /* so httpd_close releases the half-made one */
            goto fail;
        }
    }
    atomic_store(&srv->listening, srv->n_workers);
    for (i = 0; i < srv->n_workers; i++) {
        if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0) {
            st = TALLY_ENOMEM;
            goto fail;
        }
        srv->workers[i].started = true;
    }
    *out = srv;
    return TALLY_OK;
fail:
    httpd_close(srv);
    return st;
}

uint16_t httpd_port(const httpd *srv, size_t idx)
{
    TALLY_ASSERT(idx < srv->n_lis);
    return srv->ports[idx];
}

void httpd_close(httpd *srv)
{
    unsigned i;
    size_t b;
    ip_entry *e;

    if (srv == NULL) {
        return;
    }
    httpd_stop(srv, 0);
    httpd_wait(srv);
    for (i = 0; i < srv->n_workers; i++) {
        worker_release(&srv->workers[i]);
    }
    for (b = 0; b < HTTPD_LISTENERS_MAX; b++) {
        if (srv->fds[b] >= 0) {
            close(srv->fds[b]);
        }
    }
    for (b = 0; b < IP_BUCKETS; b++) {
        while ((e = srv->ip[b]) != NULL) {
            srv->ip[b] = e->next;
            free(e);
        }
    }
    free(srv->workers);
    free(srv->counts);
    pthread_mutex_destroy(&srv->mu);
    pthread_mutex_destroy(&srv->wait_mu);
    free(srv);
}
