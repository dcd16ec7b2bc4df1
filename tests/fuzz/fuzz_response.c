/* The HTTP client's response reader (client/response.c: heads, 1xx, Content-Length, chunked,
 * close-delimited and zstd bodies), which reads what an untrusted primary sends the auditor, fed
 * through a real socket: a thread listening on 127.0.0.1 answers each connection with the
 * input's bytes and closes it. Whatever the bytes, client_do must return (the close bounds every
 * read), and a response it accepts must have a status of 100..599 and a body within the cap. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "client/client.h"

#define BODY_CAP 65536u

typedef struct fuzz_peer {
    int lfd;
    uint16_t port;
    pthread_mutex_t mu;
    const uint8_t *data; /* the answer to every connection, under mu */
    size_t size;
} fuzz_peer;

/* Reads the request head (or until the client stops sending), then sends the answer and closes. */
static void answer(fuzz_peer *p, int fd)
{
    struct timeval tv = {2, 0};
    char req[4096];
    size_t got = 0;
    ssize_t r;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    while (got < sizeof(req) - 1 && (r = recv(fd, req + got, sizeof(req) - 1 - got, 0)) > 0) {
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL) {
            break;
        }
    }
    pthread_mutex_lock(&p->mu);
    for (size_t off = 0; off < p->size;) {
        r = send(fd, p->data + off, p->size - off, MSG_NOSIGNAL);
        if (r <= 0) {
            break; /* the client gave up on the bytes so far */
        }
        off += (size_t)r;
    }
    pthread_mutex_unlock(&p->mu);
    shutdown(fd, SHUT_WR);
    close(fd);
}

static void *serve(void *arg)
{
    fuzz_peer *p = arg;

    for (;;) {
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return NULL;
        }
        answer(p, fd);
    }
}

static fuzz_peer *the_peer(void)
{
    static fuzz_peer p = {.lfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};
    static bool started;

    if (!started) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        pthread_t t;
        started = true;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        p.lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (p.lfd < 0 || bind(p.lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            listen(p.lfd, 16) != 0 || getsockname(p.lfd, (struct sockaddr *)&sa, &len) != 0 ||
            pthread_create(&t, NULL, serve, &p) != 0) {
            abort();
        }
        pthread_detach(t);
        p.port = ntohs(sa.sin_port);
    }
    return &p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_peer *p = the_peer();
    client_cfg cfg = {.host = "127.0.0.1",
                      .port = p->port,
                      .connect_timeout_ms = 2000,
                      .io_timeout_ms = 5000,
                      .max_response = BODY_CAP};
    client_request req = {.method = "GET", .target = "/v1/info", .accept_zstd = true};
    client_conn *c = NULL;
    client_response *resp = NULL;
    tally_status st;

    pthread_mutex_lock(&p->mu);
    p->data = data, p->size = size;
    pthread_mutex_unlock(&p->mu);
    if (client_open(&cfg, &c) != TALLY_OK) {
        abort();
    }
    st = client_do(c, &req, &resp);
    if (st == TALLY_OK) {
        unsigned status = client_response_status(resp);
        tally_bytes b = client_response_body(resp);
        const char *v;
        if (status < 100 || status > 599 || b.n > BODY_CAP || (b.n > 0 && b.p == NULL)) {
            abort();
        }
        (void)client_response_header(resp, "Content-Type", &v);
        if (v != NULL && strlen(v) > size) {
            abort(); /* a field value is a piece of what was sent */
        }
        client_response_free(resp);
    } else if (resp != NULL) {
        abort(); /* a failed request leaves no response */
    }
    client_close(c);
    /* the answer is not read after the call returns: the buffer is the fuzzer's again */
    pthread_mutex_lock(&p->mu);
    p->data = NULL, p->size = 0;
    pthread_mutex_unlock(&p->mu);
    return 0;
}
