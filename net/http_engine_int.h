/* The HTTP engine's own structures, shared by net/http.c (sockets, loops, parsing) and
 * net/http_req.c (request accessors, arena, response bytes). Handlers never include this.
 *
 * | object      | owner                  | lives                                              |
 * |-------------|------------------------|----------------------------------------------------|
 * | net_http    | caller of net_http_open| until net_http_close                               |
 * | http_worker | net_http               | one per loop thread                                |
 * | http_conn   | its worker             | accept to close; longer while a deferred req waits |
 * | net_req     | its conn               | head parsed to response written (or dropped)       |
 */
#ifndef TALLY_NET_HTTP_ENGINE_INT_H
#define TALLY_NET_HTTP_ENGINE_INT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include "net/http_int.h"

typedef struct http_worker http_worker;
typedef struct http_conn http_conn;

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

struct net_req {
    net_http *srv;
    http_conn *conn;
    net_req *next_done; /* the worker's completion queue */
    size_t listener;
    net_method method;
    const char *method_name, *target, *path, *query;
    http_field fields[NET_HTTP_HEADERS_MAX];
    size_t n_fields;
    bool http10, keep_alive, expect_continue, zstd_in, accept_zstd;
    size_t content_length, body_limit;
    uint8_t *body; /* malloc'd, decoded */
    size_t body_n;
    char id[NET_HTTP_REQUEST_ID_MAX + 1];
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
    uint8_t *out; /* the complete response bytes (head and body), malloc'd */
    size_t out_n;
};

/* Builds req->out from a status, type and body (compressing when allowed); on failure a static
 * 500 takes its place. Then hands the request back to its loop. net/http_req.c. */
void net__req_finish(net_req *req, unsigned status, const char *content_type, const void *body,
                     size_t n);
/* Frees the arena, the body and the response bytes, and the request itself. */
void net__req_free(net_req *req);
/* A fresh request with its arena; NULL on ENOMEM. */
net_req *net__req_new(http_conn *conn, size_t listener, size_t arena_cap);
/* Chooses the X-Request-Id (the client's valid one, else 16 random hex). */
void net__req_pick_id(net_req *req);
/* Parses Accept-Encoding for zstd. */
bool net__accepts_zstd(const char *accept_encoding);
/* Called from net__req_finish: the loop side (http.c) sends req->out now or after a wake-up. */
void net__req_done(net_req *req);
/* Counts a sent response in the stats. */
void net__stats_count(net_http *srv, const net_req *req);

#endif
