/* httpd: the HTTP/1.1 server engine that the node's listeners (net/) and the auditor's ops
 * listener (auditor/) share; it uses schema/status.h, libevent, zstd and jansson, nothing of
 * either. Handlers see a request object and response functions only, so the engine underneath
 * (libevent bufferevents today) can be replaced without touching them. docs/http.md describes
 * the threading model and how each limit is enforced.
 *
 * | bound (httpd_cfg field)      | default   | enforced                                        |
 * |------------------------------|-----------|-------------------------------------------------|
 * | max_conns / max_conns_per_ip | 4096 / 64 | at accept(); over-limit sockets closed, no reply |
 * | max_target                   | 2048 B    | request line parse; 400 bad_request, close      |
 * | max_header_bytes             | 16 KiB    | request line + header lines; 400, close         |
 * | listener max_body / per-route| 256 KiB   | Content-Length before reading; 413, close       |
 * | decoded zstd body            | same      | streaming decode stops at limit + 1; 413        |
 * | zstd window                  | 8 MiB     | ZSTD_d_windowLogMax = 23; 413                   |
 * | read_timeout_ms              | 10 s      | first byte of a request to end of body; 408     |
 * | write_timeout_ms             | 30 s      | no write progress; connection closed            |
 * | idle_timeout_ms              | 60 s      | between keep-alive requests; closed silently    |
 * | max_inflight                 | 4096      | requests between head and response; 503         |
 * | arena_cap                    | 1 MiB     | httpd_req_alloc() per request; NULL beyond        |
 */
#ifndef TALLY_HTTPD_HTTPD_H
#define TALLY_HTTPD_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "schema/status.h"

#define HTTPD_LISTENERS_MAX 4u
#define HTTPD_ROUTES_MAX 32u         /* route ids handlers may assign for the stats */
#define HTTPD_HEADERS_MAX 100u       /* header fields per request; more is 400 */
#define HTTPD_REQUEST_ID_MAX 64u     /* a client X-Request-Id longer than this is replaced */
#define HTTPD_ZSTD_WINDOW_LOG_MAX 23 /* 8 MiB, spec §3 */
#define HTTPD_COMPRESS_MIN 1024u     /* bytes: smaller bodies are never compressed */

typedef enum httpd_method {
    HTTPD_METHOD_GET = 0,
    HTTPD_METHOD_HEAD,
    HTTPD_METHOD_POST,
    HTTPD_METHOD_PUT,
    HTTPD_METHOD_DELETE,
    HTTPD_METHOD_OPTIONS,
    HTTPD_METHOD_PATCH,
    HTTPD_METHOD_OTHER, /* any other token; the raw name is httpd_req_method_name() */
    HTTPD_METHOD_COUNT
} httpd_method;

typedef struct httpd_req httpd_req; /* one request; see the lifetime rules at httpd_req_reply() */
typedef struct httpd httpd;         /* a running server */

/* Called on the request's loop thread after the request line and headers are parsed and before
 * any body byte is read. It may call httpd_req_set_route() and httpd_req_set_body_limit(), or reply
 * (then the body is never read and the connection closes if one was announced). It must not
 * defer. Several loop threads call it concurrently. */
typedef void (*httpd_head_fn)(void *arg, httpd_req *req);
/* Called on the request's loop thread with the whole decoded body. It replies with one of the
 * httpd_req_reply*() / httpd_req_error() functions, or calls httpd_req_defer() and replies later
 * from any thread. Returning without either sends 500 internal_error. Called concurrently. */
typedef void (*httpd_handle_fn)(void *arg, httpd_req *req);

typedef struct httpd_listener_cfg {
    const char *name;     /* for logs and metrics ("ingest"); not copied, must outlive the server */
    const char *host;     /* an IPv4 or IPv6 literal ("127.0.0.1", "::1", "0.0.0.0") */
    uint16_t port;        /* 0 binds an ephemeral port; read it back with httpd_port() */
    size_t max_body;      /* decoded bytes; 0 picks 256 KiB; httpd_req_set_body_limit() lowers it */
    httpd_head_fn head;   /* optional */
    httpd_handle_fn handle; /* required */
    void *arg;            /* passed to head and handle */
} httpd_listener_cfg;

typedef struct httpd_cfg {
    const httpd_listener_cfg *listeners; /* 1..HTTPD_LISTENERS_MAX, copied by httpd_open */
    size_t n_listeners;
    unsigned threads;          /* event loops; 0 picks 4 */
    size_t max_header_bytes;   /* request line and header lines with their CRLFs; 0: 16 KiB */
    size_t max_target;         /* request-target bytes; 0: 2048 */
    unsigned max_conns;        /* open connections, all listeners; 0: 4096 */
    unsigned max_conns_per_ip; /* per IPv4 address or IPv6 /64; 0: 64 */
    unsigned max_inflight;     /* requests being handled or answered, all loops; 0: 4096 */
    unsigned read_timeout_ms;  /* 0: 10,000 */
    unsigned write_timeout_ms; /* 0: 30,000 */
    unsigned idle_timeout_ms;  /* 0: 60,000 */
    size_t arena_cap;          /* bytes of httpd_req_alloc() per request; 0: 1 MiB */
    int zstd_level;            /* response compression; 0 picks 3 */
    /* optional: called once per response, on the thread that replies, just before it is sent
       (req still valid: its route, status and data can be read), for access logs and metrics;
       bytes is the response's size on the wire. It must not reply or defer. */
    void (*on_reply)(void *arg, httpd_req *req, unsigned status, size_t bytes);
    void *on_reply_arg;
} httpd_cfg;

/* Binds every listener (so their ports are known on return) and starts cfg->threads loops, each
 * accepting on all listening sockets. On TALLY_OK *out belongs to the caller, who ends it with
 * httpd_close(). Returns TALLY_EINVAL (bad cfg or address literal), TALLY_EIO (bind/listen
 * failed, e.g. the port is taken) or TALLY_ENOMEM; then nothing is left running. */
TALLY_MUST_USE tally_status httpd_open(const httpd_cfg *cfg, httpd **out);
/* The bound port of listener idx (useful after port 0). */
uint16_t httpd_port(const httpd *srv, size_t idx);
/* Starts the graceful stop of spec §9.6, from any thread, any number of times (the first grace
 * counts): listening sockets close at once (new connections are refused), idle connections close,
 * in-flight requests may finish and be answered for grace_ms, then every connection closes. The
 * loops end once no connection is open and every deferred request has been replied to. */
void httpd_stop(httpd *srv, unsigned grace_ms);
/* Closes the listening sockets (new connections are refused) and keeps serving the connections
 * that are open, keep-alive included: the node's drain notice before httpd_stop. Any thread. */
void httpd_stop_accepting(httpd *srv);
/* Blocks until the loops have ended (after httpd_stop). Any thread but a loop thread. */
void httpd_wait(httpd *srv);
/* Stops with no grace if still running, waits, frees. Every deferred request must have been
 * replied to, which httpd_wait() guarantees. NULL is a no-op. */
void httpd_close(httpd *srv);

/* Counters for metrics, read with relaxed atomics from any thread (values may be a moment old). */
typedef struct httpd_gauges {
    uint64_t inflight;                               /* requests between head and response */
    uint64_t conns_open[HTTPD_LISTENERS_MAX];        /* accepted and not yet closed */
    uint64_t conns_accepted[HTTPD_LISTENERS_MAX];    /* total since open */
    uint64_t conns_rejected[HTTPD_LISTENERS_MAX];    /* closed at accept by a connection limit */
} httpd_gauges;
void httpd_gauges_get(const httpd *srv, httpd_gauges *out);
/* Responses sent with this listener, route id (httpd_req_set_route; 0 when unset), method and
 * HTTP status. Statuses outside 100..599 count as 0. */
uint64_t httpd_requests(const httpd *srv, size_t listener, unsigned route, httpd_method method,
                        unsigned status);

/* ---- the request (valid from head/handle until its reply has been sent) ---- */

size_t httpd_req_listener(const httpd_req *req); /* index into cfg->listeners */
httpd_method httpd_req_method(const httpd_req *req);
const char *httpd_req_method_name(const httpd_req *req); /* "GET", or the raw token */
/* The request-target exactly as received (signed by miners), its path (before '?') and its query
 * string (after '?', "" when none). Not percent-decoded. NUL-terminated, borrowed from req. */
const char *httpd_req_target(const httpd_req *req);
const char *httpd_req_path(const httpd_req *req);
const char *httpd_req_query(const httpd_req *req);
/* The number of fields named name (case-insensitive); *value_out (optional) is the first one's
 * value with surrounding whitespace trimmed, or NULL when none. Repeated fields are not joined. */
size_t httpd_req_header(const httpd_req *req, const char *name, const char **value_out);
/* The idx-th (0-based) field named name, or NULL. */
const char *httpd_req_header_nth(const httpd_req *req, const char *name, size_t idx);
const char *httpd_req_peer(const httpd_req *req); /* "203.0.113.7" or "2001:db8::1" */
const struct sockaddr *httpd_req_peer_addr(const httpd_req *req, socklen_t *len_out);
/* The decoded body (after Content-Encoding: zstd), borrowed from req; {NULL, 0} in head. */
tally_bytes httpd_req_body(const httpd_req *req);
const char *httpd_req_id(const httpd_req *req); /* the X-Request-Id this request is answered with */
/* True when exactly one Content-Type names media_type ("application/msgpack"), parameters
 * ignored, case-insensitive. Content-Type is checked by handlers (its 415 depends on the route). */
bool httpd_req_content_type_is(const httpd_req *req, const char *media_type);
/* True when Accept prefers application/msgpack over application/json (by q-value). */
bool httpd_req_prefers_msgpack(const httpd_req *req);
/* Per-request memory, 16-byte aligned, freed when the request ends; NULL past cfg->arena_cap. */
void *httpd_req_alloc(httpd_req *req, size_t n);
/* For the stats; route < HTTPD_ROUTES_MAX. */
void httpd_req_set_route(httpd_req *req, unsigned route);
/* Lowers (never raises) the body limit for this request; only meaningful in head. */
void httpd_req_set_body_limit(httpd_req *req, size_t limit);

/* The handler's own per-request state: set in head, read in handle (NULL until set). The
 * pointer is not freed by the engine (put it in httpd_req_alloc memory). */
void httpd_req_set_data(httpd_req *req, void *data);
void *httpd_req_data(const httpd_req *req);
/* Nanoseconds since the request's first line was read (monotonic). */
uint64_t httpd_req_elapsed_ns(const httpd_req *req);
/* The route id set for it (0 when unset). */
unsigned httpd_req_route(const httpd_req *req);

/* ---- the response ---- */

/* Adds a response header (copied). Returns TALLY_EINVAL for CR, LF or NUL in name or value or a
 * header the engine sets itself (Content-Length, Content-Encoding, Connection, X-Request-Id,
 * Transfer-Encoding), and TALLY_ELIMIT when the arena is full. Before the reply only. */
TALLY_MUST_USE tally_status httpd_req_header_add(httpd_req *req, const char *name,
                                                 const char *value);
/* Hands the request to another thread: the handler returns without replying, and exactly one
 * reply function is called later, from any thread. Until then the request stays valid even if
 * the client disconnects (the response is then dropped). */
void httpd_req_defer(httpd_req *req);
/* The reply functions end the handler's use of req: after the call req must not be touched.
 * They never fail from the caller's view: if building the response fails, a 500 internal_error
 * is sent instead. The body is copied. Any thread (see httpd_req_defer). */
void httpd_req_reply(httpd_req *req, unsigned status, const char *content_type, const void *body,
                     size_t n);
/* True when the request's Accept-Encoding accepts zstd. */
bool httpd_req_accepts_zstd(const httpd_req *req);
/* body as one zstd frame at level, malloc'd (*out_n its length), exactly as a response body
 * is compressed; NULL (and *out_n 0) when that would not make it smaller or on failure. */
uint8_t *httpd_compress(const void *body, size_t n, int level, size_t *out_n);
/* The zstd level a compressed response to req is made at (the server's zstd_level). */
int httpd_req_zstd_level(const httpd_req *req);
/* A body encoded ahead (the tile cache), sent as is: when zstd, one zstd frame with
 * Content-Encoding: zstd (the caller checked httpd_req_accepts_zstd()); otherwise the identity
 * body, never compressed here. The headers are those httpd_req_reply would send for the same
 * encoding. */
void httpd_req_reply_encoded(httpd_req *req, unsigned status, const char *content_type,
                           const void *body, size_t n, bool zstd);
/* Called once when a borrowed body is no longer read (its signature is libevent's
 * evbuffer_ref_cleanup_cb, so the output buffer calls it directly). */
typedef void (*httpd_req_body_done_fn)(const void *body, size_t n, void *arg);
/* httpd_req_reply_encoded with a borrowed body, written to the socket without a copy: body must
 * stay valid and unchanged until done(body, n, arg) is called, exactly once, on a loop thread
 * (after the body was written, or when the request or its connection is dropped; also when the
 * response could not be built and a 500 went instead). */
void httpd_req_reply_encoded_ref(httpd_req *req, unsigned status, const char *content_type,
                               const void *body, size_t n, bool zstd, httpd_req_body_done_fn done,
                               void *arg);
/* A body that is one zstd frame already (a stored checkpoint), sent as is with
 * Content-Encoding: zstd; the caller checked httpd_req_accepts_zstd(). */
void httpd_req_reply_zstd_frame(httpd_req *req, unsigned status, const char *content_type,
                                const void *frame, size_t n);
/* application/json; charset=utf-8. json is borrowed (its refcount is untouched). */
void httpd_req_reply_json(httpd_req *req, unsigned status, const json_t *json);
void httpd_req_reply_json_str(httpd_req *req, unsigned status, const char *json_text);
/* The §8 body {"success": false, "error": code, "message": message, "request_id": id,
 * "details": details} ("details" omitted when NULL; borrowed). */
void httpd_req_error(httpd_req *req, unsigned status, const char *code, const char *message,
                     const json_t *details);

#endif
