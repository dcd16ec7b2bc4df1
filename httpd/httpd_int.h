/* The HTTP engine's own structures, shared by httpd/http.c (connections: accept to close),
 * httpd/http_loop.c (listening sockets, loops, stop, open and close), httpd/http_parse.c
 * (request head, framing, zstd decoding) and httpd/http_req.c (request accessors, arena,
 * response bytes). Handlers never include this.
 *
 * | object      | owner                  | lives                                              |
 * |-------------|------------------------|----------------------------------------------------|
 * | httpd    | caller of httpd_open| until httpd_close                               |
 * | http_worker | httpd               | one per loop thread                                |
 * | http_conn   | its worker             | accept to close; longer while a deferred req waits |
 * | httpd_req     | its conn               | head parsed to response written (or dropped)       |
 */
#ifndef TALLY_HTTPD_HTTPD_INT_H
#define TALLY_HTTPD_HTTPD_INT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include <event2/util.h>
#include <zstd.h>

#include "httpd/httpd.h"

typedef struct http_worker http_worker;
typedef struct http_conn http_conn;
struct bufferevent;
struct event;
struct event_base;
struct evconnlistener;

#define IP_BUCKETS 1024u

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
    max_align_t data[];
} arena_chunk;

typedef struct http_field {
    const char *name, *value; /* NUL-terminated, inside the request's head copy */
} http_field;

typedef struct http_out_header {
    struct http_out_header *next;
    const char *name, *value; /* arena copies */
} http_out_header;

struct httpd_req {
    httpd *srv;
    http_conn *conn;
    httpd_req *next_done; /* the worker's completion queue */
    size_t listener;
    httpd_method method;
    const char *method_name, *target, *path, *query;
    http_field fields[HTTPD_HEADERS_MAX];
    size_t n_fields;
    bool http10, keep_alive, expect_continue, zstd_in, accept_zstd;
    bool frame_zstd; /* the body given to the reply is a zstd frame already (sent as is) */
    bool no_compress; /* the body given to the reply is sent as is, never compressed */
    size_t content_length, body_limit;
    uint8_t *body; /* malloc'd, decoded */
    size_t body_n;
    char id[HTTPD_REQUEST_ID_MAX + 1];
    unsigned route;
    int zstd_level;
    char peer[INET6_ADDRSTRLEN];
    struct sockaddr_storage peer_ss;
    socklen_t peer_len;
    size_t arena_used, arena_cap;
    arena_chunk *chunks;
    /* the response, filled by the reply functions */
    bool in_handler, deferred, replied;
    unsigned status;
    http_out_header *out_headers;
    uint8_t *out; /* the response bytes (head and body, or only the head with body_ref), malloc'd */
    size_t out_n;
    /* a body borrowed by httpd_req_reply_encoded_ref, sent after out without a copy; body_done
       is called once, by the output evbuffer when written, or by httpd__req_free */
    const void *body_ref;
    size_t body_ref_n;
    bool body_ref_send; /* build() left the body out of out: conn_send adds it */
    httpd_req_body_done_fn body_done;
    void *body_done_arg;
    void *data;        /* the handler's (httpd_req_set_data) */
    uint64_t start_ns; /* monotonic, when the request's first line was read */
};

typedef struct ip_key {
    uint8_t b[16]; /* IPv4 as ::ffff:a.b.c.d; IPv6 keeps its /64 and zeroes the rest */
} ip_key;

typedef struct ip_entry {
    struct ip_entry *next;
    ip_key key;
    unsigned count;
} ip_entry;

typedef enum conn_state {
    CONN_IDLE,     /* waiting for the first byte of a request */
    CONN_HEAD,     /* reading the request line and headers */
    CONN_BODY,     /* reading Content-Length bytes */
    CONN_HANDLING, /* the handler has the request (maybe deferred); reading is off */
    CONN_WRITING,  /* the response is in the output buffer */
    CONN_LINGER,   /* response sent, write side shut; draining input until EOF or a timer */
} conn_state;

typedef struct lis_ctx {
    http_worker *w;
    size_t idx;
    struct event *resume; /* re-enables the listener after an accept error */
} lis_ctx;

struct http_conn {
    http_worker *w;
    http_conn *prev, *next;
    size_t listener;
    struct bufferevent *bev;
    struct event *timer;
    conn_state state;
    bool closed;    /* socket gone; the struct waits for a deferred reply */
    bool inflight;  /* the current request counts in srv->inflight */
    bool line_done; /* the request line has been parsed */
    httpd_req *req;
    char *head;       /* the current request's head copy (arena), NULs in place of CRLFs */
    size_t head_n;    /* bytes received for the head, CRLFs included */
    size_t head_used; /* bytes used in head */
    size_t scanned;   /* input bytes already searched for a line end, so slow senders cost
                       * linear time */
    size_t body_got;
    uint8_t *raw; /* the body as received when zstd-encoded */
    ip_key key;
    char peer[INET6_ADDRSTRLEN];
    struct sockaddr_storage ss;
    socklen_t ss_len;
};

struct http_worker {
    httpd *srv;
    unsigned idx;
    struct event_base *base;
    struct evconnlistener *lev[HTTPD_LISTENERS_MAX];
    lis_ctx lctx[HTTPD_LISTENERS_MAX];
    struct event *wake_ev, *grace_ev;
    int wake_rd, wake_wr;
    pthread_t thread;
    bool started;
    ZSTD_DCtx *dctx;
    /* shared with other threads, under mu */
    pthread_mutex_t mu;
    httpd_req *done_head, *done_tail;
    bool stop_order;
    bool close_order, closed; /* httpd_stop_accepting: listeners closed, connections kept */
    unsigned grace_ms;
    /* loop thread only */
    bool stopping;
    http_conn *conns;
    size_t n_deferred; /* requests handed off and not yet replied to */
};

struct httpd {
    httpd_cfg cfg;
    httpd_listener_cfg lis[HTTPD_LISTENERS_MAX];
    size_t n_lis;
    int fds[HTTPD_LISTENERS_MAX];
    uint16_t ports[HTTPD_LISTENERS_MAX];
    http_worker *workers;
    unsigned n_workers;
    pthread_mutex_t mu; /* the per-IP table and conns_total */
    ip_entry *ip[IP_BUCKETS];
    unsigned conns_total;
    atomic_bool stopping;
    atomic_uint listening; /* workers that still accept */
    pthread_mutex_t wait_mu;
    bool joined;
    atomic_uint_fast64_t inflight;
    atomic_uint_fast64_t conns_open[HTTPD_LISTENERS_MAX];
    atomic_uint_fast64_t conns_accepted[HTTPD_LISTENERS_MAX];
    atomic_uint_fast64_t conns_rejected[HTTPD_LISTENERS_MAX];
    atomic_uint_fast64_t *counts; /* [listener][route][method][slot] */
};

/* The head parser (http_parse.c). httpd__read_head returns 1 when the blank line ending the head
 * has been read, 0 when more input is needed, -1 after replying with an error; the others return
 * false / a reason after replying. */
int httpd__read_head(http_conn *c);
bool httpd__check_framing(http_conn *c);
/* Decodes a zstd body into req->body up to its limit; NULL or the reason (status in *status_out).
 */
const char *httpd__decode_zstd(http_conn *c, unsigned *status_out);
/* The engine's own rejection (http.c): a §8 body, then the connection closes. */
void httpd__conn_fail(http_conn *c, unsigned status, const char *code, const char *message);

/* Connections (http.c) and loops (http_loop.c). httpd__on_accept is the listeners' accept
 * callback (arg: the lis_ctx); httpd__conn_close closes the socket now and frees the connection
 * unless a deferred request still points at it; httpd__conn_send sends req->out on the loop
 * thread; httpd__check_exit ends a stopping loop once it has no connections and no deferred
 * requests. */
void httpd__on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg);
void httpd__conn_close(http_conn *c);
void httpd__conn_send(http_conn *c, httpd_req *req);
void httpd__check_exit(http_worker *w);

/* Builds req->out from a status, type and body (compressing when allowed); on failure a static
 * 500 takes its place. Then hands the request back to its loop. httpd/http_req.c. */
void httpd__req_finish(httpd_req *req, unsigned status, const char *content_type, const void *body,
                       size_t n);
/* Frees the arena, the body and the response bytes, and the request itself. */
void httpd__req_free(httpd_req *req);
/* A fresh request with its arena; NULL on ENOMEM. */
httpd_req *httpd__req_new(http_conn *conn, size_t listener, size_t arena_cap);
/* Chooses the X-Request-Id (the client's valid one, else 16 random hex). */
void httpd__req_pick_id(httpd_req *req);
/* Parses Accept-Encoding for zstd. */
bool httpd__accepts_zstd(const char *accept_encoding);
/* Called from httpd__req_finish: the loop side (http.c) sends req->out now or after a wake-up. */
void httpd__req_done(httpd_req *req);
/* Counts a sent response in the stats. */
void httpd__stats_count(httpd *srv, const httpd_req *req);

/* Accounting (http_account.c): the client-address key of a peer, the connection limits at
 * accept() (admit takes a slot, release gives it back), and the number of status slots of
 * the response counters. */
ip_key httpd__ip_key(const struct sockaddr *sa);
bool httpd__conn_admit(httpd *srv, const ip_key *k);
void httpd__conn_release(httpd *srv, const ip_key *k);
size_t httpd__stat_slots(void);

#endif
