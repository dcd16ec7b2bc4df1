/* The HTTP engine's request parser (httpd/http_parse.c) fed through a real socket: a server is
 * started once on 127.0.0.1 and each input is one connection's bytes, followed by a half-close.
 * Whatever the bytes, the server must answer with an HTTP/1.1 status line or nothing, close the
 * connection, and keep serving. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd/httpd.h"

typedef struct fuzz_srv {
    httpd *srv;
    uint16_t port;
} fuzz_srv;

static void on_request(void *arg, httpd_req *req)
{
    tally_bytes b = httpd_req_body(req);

    (void)arg;
    httpd_req_reply(req, 200, "application/octet-stream", b.p, b.n);
}

static void on_head(void *arg, httpd_req *req)
{
    (void)arg;
    if (strcmp(httpd_req_path(req), "/small") == 0) {
        httpd_req_set_body_limit(req, 16);
    }
}

/* The one server of this process; closed at exit so leak checkers see a clean shutdown. */
static fuzz_srv *the_server(void);

static void close_server(void)
{
    httpd_close(the_server()->srv);
}

static fuzz_srv *the_server(void)
{
    static fuzz_srv s;
    static bool started;

    if (!started) {
        httpd_listener_cfg lc = {
            .host = "127.0.0.1", .max_body = 4096, .head = on_head, .handle = on_request};
        httpd_cfg cfg = {.listeners = &lc,
                         .n_listeners = 1,
                         .threads = 1,
                         .read_timeout_ms = 2000,
                         .max_header_bytes = 2048,
                         .max_target = 512};
        started = true;
        if (httpd_open(&cfg, &s.srv) != TALLY_OK) {
            abort();
        }
        s.port = httpd_port(s.srv, 0);
        atexit(close_server);
    }
    return &s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_srv *s = the_server();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s->port)};
    struct timeval tv = {5, 0};
    char head[9], sink[4096];
    size_t got = 0;
    ssize_t r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        abort(); /* the server stopped serving */
    }
    if (size > 0 && send(fd, data, size, MSG_NOSIGNAL) < 0) {
        close(fd);
        return 0; /* refused early (RST) */
    }
    shutdown(fd, SHUT_WR);
    while ((r = recv(fd, got < sizeof(head) ? head + got : sink,
                     got < sizeof(head) ? sizeof(head) - got : sizeof(sink), 0)) > 0) {
        got += (size_t)r;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        abort(); /* the connection was neither answered nor closed */
    }
    if (got > 0 && memcmp(head, "HTTP/1.1 ", got < sizeof(head) ? got : sizeof(head)) != 0) {
        abort();
    }
    close(fd);
    return 0;
}
