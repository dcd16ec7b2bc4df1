/* client private: the HTTP client's connection and response, shared by client/client.c (URL,
 * connection, request, client_do) and client/response.c (reading and framing a response,
 * decoding its body). The load generator (loadgen_int.h) and the tools never include this.
 *
 * | object          | owner                 | lives                                          |
 * |-----------------|-----------------------|------------------------------------------------|
 * | client_conn     | caller of client_open | until client_close; its socket until a drop    |
 * | client_response | caller of client_do   | until client_response_free                     |
 * | gbuf            | its function          | one request's bytes or one response's reading  |
 */
#ifndef TALLY_CLIENT_CLIENT_INT_H
#define TALLY_CLIENT_CLIENT_INT_H

#include <sys/socket.h>

#include "client/client.h"

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

/* The buffer's growth (client.c): room for more bytes (TALLY_ELIMIT past g->max, TALLY_ENOMEM),
 * and an append of n bytes. */
TALLY_MUST_USE tally_status client__gb_reserve(gbuf *g, size_t more);
TALLY_MUST_USE tally_status client__gb_add(gbuf *g, const void *p, size_t n);

/* The connection (client.c). client__conn_drop closes the socket and forgets carried bytes;
 * client__fail_io and client__fail_fmt write the sentence into c->err, drop the connection and
 * return TALLY_EIO or st; client__recv_some reads more bytes into g (carried ones first), *eof
 * set on an orderly close. */
void client__conn_drop(client_conn *c);
tally_status client__fail_io(client_conn *c, const char *what, int err);
tally_status client__fail_fmt(client_conn *c, tally_status st, const char *what);
TALLY_MUST_USE tally_status client__recv_some(client_conn *c, gbuf *g, bool *eof);

/* Reads one response into *out (response.c); *keep tells whether the connection may be reused,
 * *any_byte whether anything arrived (so a retry is safe). */
TALLY_MUST_USE tally_status client__read_response(client_conn *c, bool head_req,
                                                  client_response **out, bool *any_byte,
                                                  bool *keep);

#endif
