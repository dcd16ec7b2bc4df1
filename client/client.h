/* client: a small blocking HTTP/1.1 client (plain POSIX sockets) for `tally submit`, the load
 * generator, the integration tests and the auditor. One client_conn is one keep-alive
 * connection to one host:port, used by one thread at a time; run one per thread. */
#ifndef TALLY_CLIENT_CLIENT_H
#define TALLY_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/status.h"

#define CLIENT_HOST_MAX 255u
#define CLIENT_TARGET_MAX 2048u
#define CLIENT_HEAD_MAX (64u * 1024u)                 /* response status line and headers */
#define CLIENT_RESPONSE_DEFAULT (64u * 1024u * 1024u) /* decoded body bytes */

typedef struct client_url {
    char host[CLIENT_HOST_MAX + 1];     /* without brackets for IPv6 literals */
    uint16_t port;                      /* 80 when the URL names none */
    char target[CLIENT_TARGET_MAX + 1]; /* path and query, "/" when empty */
} client_url;

/* Parses "http://host[:port][/path][?query]" (host a name, an IPv4 literal or [IPv6]). Returns
 * TALLY_EINVAL for another scheme, userinfo, a fragment, a bad port, or parts over the bounds
 * above; then *out is zeroed. */
TALLY_MUST_USE tally_status client_url_parse(const char *url, client_url *out);

typedef struct client_cfg {
    const char *host; /* a name or an IPv4/IPv6 literal; copied */
    uint16_t port;
    unsigned connect_timeout_ms; /* 0 picks 5,000 */
    unsigned io_timeout_ms;      /* each wait for the socket to accept or yield bytes; 0: 30,000 */
    size_t max_response;         /* decoded body bytes; 0 picks CLIENT_RESPONSE_DEFAULT */
    /* Optional source address: an IPv4 or IPv6 literal (no name, no port) the socket binds to
     * before connect, so one process can speak from many client IPs (127.0.3.N on Linux's lo);
     * NULL or "" lets the kernel choose. Copied. Only the host's addresses of the same family
     * are tried. */
    const char *bind_host;
} client_cfg;

typedef struct client_conn client_conn;
typedef struct client_response client_response;

typedef struct client_header {
    const char *name, *value;
} client_header;

typedef struct client_request {
    const char *method;           /* "GET", "POST", ... */
    const char *target;           /* sent exactly as given ("/v1/odds?x=1") */
    const client_header *headers; /* extra headers; Host and Content-Length are added */
    size_t n_headers;
    const void *body;
    size_t body_n;
    const char *content_type; /* sent when non-NULL */
    int zstd_level;           /* > 0: the body is sent Content-Encoding: zstd at this level */
    bool accept_zstd;         /* send Accept-Encoding: zstd and decode a zstd response */
} client_request;

/* Makes a connection handle; nothing is connected until the first request. Returns TALLY_EINVAL
 * (no host, or longer than CLIENT_HOST_MAX; a bind_host that is not an IP literal) or
 * TALLY_ENOMEM. *out is the caller's, released with
 * client_close(). */
TALLY_MUST_USE tally_status client_open(const client_cfg *cfg, client_conn **out);
void client_close(client_conn *c); /* NULL is a no-op */

/* Sends one request and reads its response, reusing the open connection when the server kept
 * it alive. A reused connection that fails before any response byte arrives is reopened and the
 * request sent once more (the server closed it while idle). Returns TALLY_EIO (refused, reset,
 * timed out: client_error() says which), TALLY_EFORMAT (the response is not HTTP/1.x or its
 * framing or zstd body is malformed), TALLY_ELIMIT (response head, body or decoded body over
 * the caps), TALLY_EINVAL (a header with CR/LF, target over CLIENT_TARGET_MAX), TALLY_ENOMEM.
 * On TALLY_OK *out is the caller's (client_response_free()); on any other status *out is NULL
 * and the connection is closed. */
TALLY_MUST_USE tally_status client_do(client_conn *c, const client_request *req,
                                      client_response **out);
/* One sentence about the last failure ("connection refused by 127.0.0.1:8093"); "" after a
 * success. Borrowed until the next call on c. */
const char *client_error(const client_conn *c);
/* True when a connection is open (after a keep-alive response). */
bool client_connected(const client_conn *c);

unsigned client_response_status(const client_response *r);
/* The decoded body (after Content-Encoding: zstd); borrowed until client_response_free(). */
tally_bytes client_response_body(const client_response *r);
/* The number of header fields named name (case-insensitive); *value_out (optional) is the
 * first one's trimmed value, or NULL. Borrowed until client_response_free(). */
size_t client_response_header(const client_response *r, const char *name, const char **value_out);
/* True when the body arrived with Content-Encoding: zstd (and was decoded). */
bool client_response_was_zstd(const client_response *r);
void client_response_free(client_response *r); /* NULL is a no-op */

#endif
