/* The HTTP/1.1 engine's loops: the listening sockets, one libevent loop per thread with its
 * wake-up pipe and completion queue, pausing a listener after an accept error, the graceful stop
 * (stop accepting, let requests in flight finish within the grace period, then close what is
 * left), and httpd_open and httpd_close. Connections are httpd/http.c. */
#include "httpd/httpd_int.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <zstd.h>

#define DEFAULT_MAX_BODY (256u * 1024u)

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

void httpd__check_exit(http_worker *w)
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
        httpd__conn_close(w->conns);
    }
    httpd__check_exit(w);
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
            httpd__conn_close(c);
        }
    }
    evtimer_add(w->grace_ev, &tv);
    httpd__check_exit(w);
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
        httpd__conn_send(done->conn, done);
    }
    if (stop && !w->stopping) {
        begin_stop(w, grace);
    }
    httpd__check_exit(w);
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
        w->lev[i] = evconnlistener_new(w->base, httpd__on_accept, &w->lctx[i], 0, 0, srv->fds[i]);
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
        httpd__conn_close(c);
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
