/* httpd/, the one HTTP engine of the node and the auditor, in-process on 127.0.0.1, driven by
 * client/ and by raw sockets for input no well-behaved client sends. Every wait is bounded by a
 * socket timeout or a bounded poll loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zstd.h>

#include "client/client.h"
#include "httpd/httpd.h"

#define SMALL_LIMIT 64u
#define MAX_BODY (64u * 1024u)
#define DEFER_MAX 8

enum { ROUTE_OTHER = 0, ROUTE_ECHO = 1, ROUTE_BIG = 2, ROUTE_SMALL = 3, ROUTE_DEFER = 4 };

typedef struct app {
    pthread_mutex_t mu;
    pthread_t threads[DEFER_MAX];
    int n_threads;
} app;

typedef struct fixture {
    app app;
    httpd *srv;
    uint16_t port;
} fixture;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};

    nanosleep(&ts, NULL);
}

/* ---- the handler under test ---- */

static void on_head(void *arg, httpd_req *req)
{
    const char *path = httpd_req_path(req);

    (void)arg;
    if (strcmp(path, "/echo") == 0) {
        httpd_req_set_route(req, ROUTE_ECHO);
    } else if (strcmp(path, "/big") == 0) {
        httpd_req_set_route(req, ROUTE_BIG);
    } else if (strcmp(path, "/small") == 0) {
        httpd_req_set_route(req, ROUTE_SMALL);
        httpd_req_set_body_limit(req, SMALL_LIMIT);
    } else if (strcmp(path, "/defer") == 0) {
        httpd_req_set_route(req, ROUTE_DEFER);
    } else if (strcmp(path, "/deny") == 0) {
        httpd_req_error(req, 403, "forbidden", "forbidden", NULL);
    }
}

static void *defer_main(void *arg)
{
    httpd_req *req = arg;

    sleep_ms(150);
    httpd_req_reply(req, 200, "text/plain", "deferred", 8);
    return NULL;
}

static void on_request(void *arg, httpd_req *req)
{
    app *a = arg;
    const char *path = httpd_req_path(req);
    tally_bytes body = httpd_req_body(req);
    char head[4096];
    int n;

    if (strcmp(path, "/echo") == 0 || strcmp(path, "/small") == 0) {
        char *out;
        n = snprintf(head, sizeof(head), "%s %s dup=%zu\n", httpd_req_method_name(req),
                     httpd_req_target(req), httpd_req_header(req, "X-Dup", NULL));
        out = httpd_req_alloc(req, (size_t)n + body.n + 1u);
        if (out == NULL) {
            httpd_req_error(req, 500, "internal_error", "arena", NULL);
            return;
        }
        memcpy(out, head, (size_t)n);
        if (body.n > 0) {
            memcpy(out + n, body.p, body.n);
        }
        httpd_req_reply(req, 200, "text/plain", out, (size_t)n + body.n);
    } else if (strcmp(path, "/big") == 0) {
        char *big = httpd_req_alloc(req, 4096);
        size_t i;
        TALLY_ASSERT(big != NULL);
        for (i = 0; i < 4096; i++) {
            big[i] = "tally ledger "[i % 13];
        }
        TALLY_ASSERT(httpd_req_header_add(req, "X-Test", "big") == TALLY_OK);
        httpd_req_reply(req, 200, "text/plain", big, 4096);
    } else if (strcmp(path, "/defer") == 0) {
        pthread_mutex_lock(&a->mu);
        TALLY_ASSERT(a->n_threads < DEFER_MAX);
        httpd_req_defer(req);
        TALLY_ASSERT(pthread_create(&a->threads[a->n_threads++], NULL, defer_main, req) == 0);
        pthread_mutex_unlock(&a->mu);
    } else if (strcmp(path, "/error") == 0) {
        json_t *d = json_pack("{s:s}", "field", "price");
        httpd_req_error(req, 422, "invalid_field", "price out of range", d);
        json_decref(d);
    } else if (strcmp(path, "/json") == 0) {
        json_t *o = json_pack("{s:b}", "ok", 1);
        httpd_req_reply_json(req, 200, o);
        json_decref(o);
    } else {
        httpd_req_error(req, 404, "unknown_route", "no such route", NULL);
    }
}

static void app_join(app *a)
{
    int i;

    pthread_mutex_lock(&a->mu);
    for (i = 0; i < a->n_threads; i++) {
        pthread_join(a->threads[i], NULL);
    }
    a->n_threads = 0;
    pthread_mutex_unlock(&a->mu);
}

static fixture *fixture_new3(unsigned per_ip, unsigned read_ms, unsigned max_inflight)
{
    fixture *f = calloc(1, sizeof(*f));
    httpd_listener_cfg lc;
    httpd_cfg cfg;

    TALLY_ASSERT(f != NULL);
    pthread_mutex_init(&f->app.mu, NULL);
    lc = (httpd_listener_cfg){.name = "test",
                              .host = "127.0.0.1",
                              .port = 0,
                              .max_body = MAX_BODY,
                              .head = on_head,
                              .handle = on_request,
                              .arg = &f->app};
    cfg = (httpd_cfg){.listeners = &lc,
                      .n_listeners = 1,
                      .threads = 2,
                      .max_conns_per_ip = per_ip,
                      .read_timeout_ms = read_ms,
                      .max_inflight = max_inflight};
    TALLY_ASSERT(httpd_open(&cfg, &f->srv) == TALLY_OK);
    f->port = httpd_port(f->srv, 0);
    return f;
}

static fixture *fixture_new(unsigned per_ip, unsigned read_ms)
{
    return fixture_new3(per_ip, read_ms, 0);
}

static void fixture_free(fixture *f)
{
    httpd_stop(f->srv, 1000);
    httpd_wait(f->srv);
    app_join(&f->app);
    httpd_close(f->srv);
    pthread_mutex_destroy(&f->app.mu);
    free(f);
}

static int setup(void **state)
{
    *state = fixture_new(0, 2000);
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* ---- helpers ---- */

static client_conn *cl_open(uint16_t port)
{
    client_cfg cfg = {.host = "127.0.0.1", .port = port, .io_timeout_ms = 3000};
    client_conn *c;

    assert_int_equal(client_open(&cfg, &c), TALLY_OK);
    return c;
}

static client_response *cl_do(client_conn *c, const client_request *rq)
{
    client_response *r = NULL;
    tally_status st = client_do(c, rq, &r);

    if (st != TALLY_OK) {
        fail_msg("client_do: %s (%s)", tally_status_str(st), client_error(c));
    }
    return r;
}

static int raw_connect(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {3, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends data and reads until the server closes (or 3 s pass); returns the bytes read, malloc'd
 * and NUL-terminated. */
static char *raw_exchange(uint16_t port, const void *data, size_t n, size_t *got_out)
{
    int fd = raw_connect(port);
    size_t cap = 65536, got = 0;
    char *buf = malloc(cap + 1);
    ssize_t r;

    assert_true(fd >= 0);
    assert_non_null(buf);
    assert_int_equal(send(fd, data, n, MSG_NOSIGNAL), (ssize_t)n);
    while (got < cap && (r = recv(fd, buf + got, cap - got, 0)) > 0) {
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    if (got_out != NULL) {
        *got_out = got;
    }
    return buf;
}

static void assert_error_body(const char *resp, const char *code)
{
    const char *body = strstr(resp, "\r\n\r\n");
    json_error_t err;
    json_t *o;

    assert_non_null(body);
    o = json_loads(body + 4, 0, &err);
    assert_non_null(o);
    assert_true(json_is_false(json_object_get(o, "success")));
    assert_string_equal(json_string_value(json_object_get(o, "error")), code);
    assert_non_null(json_string_value(json_object_get(o, "message")));
    assert_non_null(json_string_value(json_object_get(o, "request_id")));
    json_decref(o);
}

static bool is_hex16(const char *s)
{
    size_t i;

    for (i = 0; i < 16; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return s[16] == '\0';
}

/* ---- tests ---- */

static void test_keepalive_reuse(void **state)
{
    fixture *f = *state;
    client_conn *c = cl_open(f->port);
    client_header h[] = {{"X-Dup", "1"}, {"X-Dup", "2"}};
    httpd_gauges before, after;
    client_request rq = {.method = "POST",
                         .target = "/echo?a=1",
                         .headers = h,
                         .n_headers = 2,
                         .body = "hello",
                         .body_n = 5,
                         .content_type = "text/plain"};
    int i;

    httpd_gauges_get(f->srv, &before);
    for (i = 0; i < 5; i++) {
        client_response *r = cl_do(c, &rq);
        tally_bytes b = client_response_body(r);
        const char *want = "POST /echo?a=1 dup=2\nhello";
        assert_int_equal(client_response_status(r), 200);
        assert_int_equal(b.n, strlen(want));
        assert_memory_equal(b.p, want, b.n);
        assert_true(client_connected(c));
        client_response_free(r);
    }
    httpd_gauges_get(f->srv, &after);
    assert_int_equal(after.conns_accepted[0] - before.conns_accepted[0], 1);
    assert_true(httpd_requests(f->srv, 0, ROUTE_ECHO, HTTPD_METHOD_POST, 200) >= 5);
    client_close(c);
}

static void test_request_id(void **state)
{
    fixture *f = *state;
    client_conn *c = cl_open(f->port);
    client_header good = {"X-Request-Id", "abc_DEF-123"}, bad = {"X-Request-Id", "no spaces!"};
    client_request rq = {.method = "GET", .target = "/echo", .headers = &good, .n_headers = 1};
    client_response *r;
    const char *v;

    r = cl_do(c, &rq);
    assert_int_equal(client_response_header(r, "X-Request-Id", &v), 1);
    assert_string_equal(v, "abc_DEF-123");
    client_response_free(r);
    rq.headers = &bad;
    r = cl_do(c, &rq);
    assert_int_equal(client_response_header(r, "X-Request-Id", &v), 1);
    assert_true(is_hex16(v));
    client_response_free(r);
    rq.n_headers = 0;
    rq.target = "/nowhere";
    r = cl_do(c, &rq);
    assert_int_equal(client_response_status(r), 404);
    assert_int_equal(client_response_header(r, "X-Request-Id", &v), 1);
    assert_true(is_hex16(v));
    client_response_free(r);
    client_close(c);
}

static void test_zstd_request_body(void **state)
{
    fixture *f = *state;
    client_conn *c = cl_open(f->port);
    char body[3000];
    client_request rq = {
        .method = "POST", .target = "/echo", .body = body, .body_n = sizeof(body), .zstd_level = 3};
    client_response *r;
    tally_bytes b;

    memset(body, 'z', sizeof(body));
    r = cl_do(c, &rq);
    b = client_response_body(r);
    assert_int_equal(client_response_status(r), 200);
    assert_int_equal(b.n, strlen("POST /echo dup=0\n") + sizeof(body));
    assert_memory_equal(b.p + b.n - sizeof(body), body, sizeof(body));
    client_response_free(r);
    client_close(c);
}

static void test_zstd_response(void **state)
{
    fixture *f = *state;
    client_conn *c = cl_open(f->port);
    client_request rq = {.method = "GET", .target = "/big", .accept_zstd = true};
    client_response *r;
    const char *v;

    r = cl_do(c, &rq);
    assert_int_equal(client_response_status(r), 200);
    assert_true(client_response_was_zstd(r));
    assert_int_equal(client_response_body(r).n, 4096);
    assert_int_equal(client_response_header(r, "Vary", &v), 1);
    assert_string_equal(v, "Accept, Accept-Encoding");
    assert_int_equal(client_response_header(r, "X-Test", &v), 1);
    client_response_free(r);
    /* a small body is never compressed */
    rq.target = "/echo";
    r = cl_do(c, &rq);
    assert_false(client_response_was_zstd(r));
    assert_int_equal(client_response_header(r, "Content-Encoding", NULL), 0);
    client_response_free(r);
    /* and nothing is compressed for a client that did not ask */
    rq.target = "/big";
    rq.accept_zstd = false;
    r = cl_do(c, &rq);
    assert_false(client_response_was_zstd(r));
    assert_int_equal(client_response_body(r).n, 4096);
    client_response_free(r);
    client_close(c);
}

static void test_content_length_over_limit(void **state)
{
    fixture *f = *state;
    /* Only the head is sent: the 413 must come from Content-Length alone. */
    const char req[] = "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n";
    char *resp = raw_exchange(f->port, req, sizeof(req) - 1, NULL);

    assert_true(strncmp(resp, "HTTP/1.1 413 ", 13) == 0);
    assert_error_body(resp, "payload_too_large");
    assert_non_null(strstr(resp, "Connection: close"));
    free(resp);
    /* a route limit below the listener's: 65 bytes to /small */
    {
        const char req2[] = "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 65\r\n\r\n";
        resp = raw_exchange(f->port, req2, sizeof(req2) - 1, NULL);
        assert_true(strncmp(resp, "HTTP/1.1 413 ", 13) == 0);
        free(resp);
    }
}

static void test_zstd_bomb(void **state)
{
    fixture *f = *state;
    size_t n = 4u * 1024u * 1024u, cap = ZSTD_compressBound(n), zn;
    uint8_t *zero = calloc(1, n), *z = malloc(cap);
    char head[256], *resp;
    uint8_t *msg;
    int hn;

    assert_non_null(zero);
    assert_non_null(z);
    zn = ZSTD_compress(z, cap, zero, n, 3);
    assert_false(ZSTD_isError(zn));
    hn = snprintf(head, sizeof(head),
                  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Encoding: zstd\r\n"
                  "Content-Length: %zu\r\n\r\n",
                  zn);
    msg = malloc((size_t)hn + zn);
    assert_non_null(msg);
    memcpy(msg, head, (size_t)hn);
    memcpy(msg + hn, z, zn);
    resp = raw_exchange(f->port, msg, (size_t)hn + zn, NULL);
    assert_true(strncmp(resp, "HTTP/1.1 413 ", 13) == 0);
    assert_error_body(resp, "payload_too_large");
    free(resp);
    free(msg);
    free(z);
    free(zero);
}

static void test_zstd_window_too_large(void **state)
{
    fixture *f = *state;
    size_t n = 32u * 1024u, cap = ZSTD_compressBound(n), zn;
    uint8_t *src = calloc(1, n), *z = malloc(cap);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    char head[256], *resp;
    uint8_t *msg;
    int hn;

    assert_non_null(src);
    assert_non_null(z);
    assert_non_null(cc);
    /* A frame declaring a 16 MiB window, though its content is small. */
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 24)));
    {
        /* Streaming with an unknown size keeps the declared window at 2^24. */
        ZSTD_inBuffer in = {src, n, 0};
        ZSTD_outBuffer out = {z, cap, 0};
        size_t left;
        assert_false(ZSTD_isError(ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue)));
        do {
            left = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end);
            assert_false(ZSTD_isError(left));
        } while (left != 0);
        zn = out.pos;
    }
    ZSTD_freeCCtx(cc);
    hn = snprintf(head, sizeof(head),
                  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Encoding: zstd\r\n"
                  "Content-Length: %zu\r\n\r\n",
                  zn);
    msg = malloc((size_t)hn + zn);
    assert_non_null(msg);
    memcpy(msg, head, (size_t)hn);
    memcpy(msg + hn, z, zn);
    resp = raw_exchange(f->port, msg, (size_t)hn + zn, NULL);
    assert_true(strncmp(resp, "HTTP/1.1 413 ", 13) == 0);
    free(resp);
    free(msg);
    free(z);
    free(src);
}

static void test_gzip_415(void **state)
{
    fixture *f = *state;
    client_conn *c = cl_open(f->port);
    client_header h = {"Content-Encoding", "gzip"};
    client_request rq = {.method = "POST",
                         .target = "/echo",
                         .headers = &h,
                         .n_headers = 1,
                         .body = "x",
                         .body_n = 1};
    client_response *r = cl_do(c, &rq);
    tally_bytes b = client_response_body(r);
    json_t *o = json_loadb((const char *)b.p, b.n, 0, NULL);

    assert_int_equal(client_response_status(r), 415);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "error")), "unsupported_media_type");
    json_decref(o);
    client_response_free(r);
    client_close(c);
}

static void test_header_block_too_large(void **state)
{
    fixture *f = *state;
    size_t n = 17u * 1024u;
    char *req = malloc(n + 128), *resp;
    int k = snprintf(req, 128, "GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: ");

    assert_non_null(req);
    memset(req + k, 'a', n);
    memcpy(req + k + n, "\r\n\r\n", 4);
    resp = raw_exchange(f->port, req, (size_t)k + n + 4, NULL);
    assert_true(strncmp(resp, "HTTP/1.1 400 ", 13) == 0);
    assert_error_body(resp, "bad_request");
    free(resp);
    free(req);
}

static void test_target_too_long(void **state)
{
    fixture *f = *state;
    char req[4096], *resp;
    int k = snprintf(req, sizeof(req), "GET /");

    memset(req + k, 'a', 2100);
    k += 2100;
    k += snprintf(req + k, sizeof(req) - (size_t)k, " HTTP/1.1\r\nHost: t\r\n\r\n");
    resp = raw_exchange(f->port, req, (size_t)k, NULL);
    assert_true(strncmp(resp, "HTTP/1.1 400 ", 13) == 0);
    assert_error_body(resp, "bad_request");
    free(resp);
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "GET /echo HTTP/2.0\r\n\r\n",
        "GET echo HTTP/1.1\r\n\r\n",
        "GET /echo HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET /echo HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        "GET /echo HTTP/1.1\r\n\r\n",
        "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *resp = raw_exchange(f->port, bad[i], strlen(bad[i]), NULL);
        if (strncmp(resp, "HTTP/1.1 400 ", 13) != 0) {
            fail_msg("case %zu: %.40s", i, resp);
        }
        assert_error_body(resp, "bad_request");
        free(resp);
    }
}

static void test_pipelined(void **state)
{
    fixture *f = *state;
    const char two[] = "GET /echo?1 HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /echo?2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    char *resp = raw_exchange(f->port, two, sizeof(two) - 1, NULL);
    char *second = strstr(resp, "GET /echo?2");

    assert_non_null(strstr(resp, "GET /echo?1"));
    assert_non_null(second);
    assert_true(strstr(resp, "GET /echo?1") < second);
    free(resp);
}

static void test_head_reply_skips_body(void **state)
{
    fixture *f = *state;
    /* The head callback answers 403; the announced body is never read and the server closes. */
    const char req[] = "POST /deny HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n";
    char *resp = raw_exchange(f->port, req, sizeof(req) - 1, NULL);

    assert_true(strncmp(resp, "HTTP/1.1 403 ", 13) == 0);
    assert_non_null(strstr(resp, "Connection: close"));
    assert_error_body(resp, "forbidden");
    free(resp);
}

static void test_expect_continue_and_http10(void **state)
{
    fixture *f = *state;
    const char req[] = "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                       "Content-Length: 2\r\nConnection: close\r\n\r\n";
    int fd = raw_connect(f->port);
    char buf[512];
    size_t got = 0;
    ssize_t r;

    assert_true(fd >= 0);
    assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
    r = recv(fd, buf, sizeof(buf) - 1, 0);
    assert_true(r > 0);
    buf[r] = '\0';
    assert_true(strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    assert_int_equal(send(fd, "hi", 2, 0), 2);
    while (got < sizeof(buf) - 1 && (r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
        got += (size_t)r;
    }
    buf[got] = '\0';
    assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(buf, "\r\n\r\nPOST /echo dup=0\nhi"));
    close(fd);
    {
        const char old[] = "GET /echo HTTP/1.0\r\n\r\n";
        char *resp = raw_exchange(f->port, old, sizeof(old) - 1, NULL);
        assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
        assert_non_null(strstr(resp, "Connection: close"));
        free(resp);
    }
}

static void test_error_body_shape(void **state)
{
    fixture *f = *state;
    client_conn *c = cl_open(f->port);
    client_request rq = {.method = "GET", .target = "/error"};
    client_response *r = cl_do(c, &rq);
    tally_bytes b = client_response_body(r);
    json_t *o = json_loadb((const char *)b.p, b.n, 0, NULL);
    const char *id, *ct;

    assert_int_equal(client_response_status(r), 422);
    assert_int_equal(client_response_header(r, "Content-Type", &ct), 1);
    assert_string_equal(ct, "application/json; charset=utf-8");
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 5);
    assert_true(json_is_false(json_object_get(o, "success")));
    assert_string_equal(json_string_value(json_object_get(o, "error")), "invalid_field");
    assert_string_equal(json_string_value(json_object_get(o, "message")), "price out of range");
    assert_int_equal(client_response_header(r, "X-Request-Id", &id), 1);
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), id);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "details"), "field")),
                        "price");
    json_decref(o);
    client_response_free(r);
    client_close(c);
}

static void test_deferred(void **state)
{
    fixture *f = *state;
    client_conn *c = cl_open(f->port);
    client_request rq = {.method = "GET", .target = "/defer"};
    client_response *r = cl_do(c, &rq);

    assert_int_equal(client_response_status(r), 200);
    assert_memory_equal(client_response_body(r).p, "deferred", 8);
    client_response_free(r);
    /* the connection is reused after a deferred reply */
    rq.target = "/json";
    r = cl_do(c, &rq);
    assert_int_equal(client_response_status(r), 200);
    assert_memory_equal(client_response_body(r).p, "{\"ok\":true}", 11);
    client_response_free(r);
    client_close(c);
}

/* Waits (bounded) until the server has counted n open connections on listener 0. */
static void wait_conns(httpd *srv, uint64_t n)
{
    httpd_gauges g;
    int i;

    for (i = 0; i < 300; i++) {
        httpd_gauges_get(srv, &g);
        if (g.conns_open[0] == n) {
            return;
        }
        sleep_ms(10);
    }
    fail_msg("open connections stayed at %llu, not %llu", (unsigned long long)g.conns_open[0],
             (unsigned long long)n);
}

static void test_per_ip_limit(void **state)
{
    fixture *f = fixture_new(64, 2000);
    int fds[65], i;
    char buf[16];
    ssize_t r;
    httpd_gauges g;

    (void)state;
    for (i = 0; i < 64; i++) {
        fds[i] = raw_connect(f->port);
        assert_true(fds[i] >= 0);
    }
    wait_conns(f->srv, 64);
    fds[64] = raw_connect(f->port);
    assert_true(fds[64] >= 0);
    /* The 65th is accepted by the kernel, then closed by the server without a byte. */
    (void)send(fds[64], "GET /echo HTTP/1.1\r\n\r\n", 22, MSG_NOSIGNAL);
    r = recv(fds[64], buf, sizeof(buf), 0);
    assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
    httpd_gauges_get(f->srv, &g);
    assert_int_equal(g.conns_rejected[0], 1);
    /* the 64 admitted ones still work */
    assert_int_equal(send(fds[0], "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", 31, MSG_NOSIGNAL), 31);
    r = recv(fds[0], buf, sizeof(buf), 0);
    assert_true(r > 0);
    assert_memory_equal(buf, "HTTP/1.1 200", 12);
    for (i = 0; i < 65; i++) {
        close(fds[i]);
    }
    wait_conns(f->srv, 0);
    fixture_free(f);
}

static void test_read_timeout(void **state)
{
    fixture *f = fixture_new(0, 150);
    const char partial[] = "GET /echo HTTP/1.1\r\nHost: t\r\n";
    char *resp = raw_exchange(f->port, partial, sizeof(partial) - 1, NULL);

    (void)state;
    assert_true(strncmp(resp, "HTTP/1.1 408 ", 13) == 0);
    assert_error_body(resp, "request_timeout");
    free(resp);
    fixture_free(f);
}

typedef struct defer_call {
    uint16_t port;
    unsigned status;
    char body[16];
} defer_call;

static void *defer_client(void *arg)
{
    defer_call *d = arg;
    client_cfg cfg = {.host = "127.0.0.1", .port = d->port, .io_timeout_ms = 3000};
    client_request rq = {.method = "GET", .target = "/defer"};
    client_response *r = NULL;
    client_conn *c;

    if (client_open(&cfg, &c) == TALLY_OK && client_do(c, &rq, &r) == TALLY_OK) {
        tally_bytes b = client_response_body(r);
        d->status = client_response_status(r);
        memcpy(d->body, b.p, b.n < sizeof(d->body) - 1 ? b.n : sizeof(d->body) - 1);
    }
    client_response_free(r);
    client_close(c);
    return NULL;
}

static void test_graceful_stop(void **state)
{
    fixture *f = fixture_new(0, 2000);
    defer_call d = {.port = f->port};
    pthread_t t;
    httpd_gauges g;
    int i, fd = 0;

    (void)state;
    assert_int_equal(pthread_create(&t, NULL, defer_client, &d), 0);
    for (i = 0; i < 300; i++) {
        httpd_gauges_get(f->srv, &g);
        if (g.inflight == 1) {
            break;
        }
        sleep_ms(5);
    }
    assert_int_equal(g.inflight, 1);
    httpd_stop(f->srv, 3000);
    /* New connections are refused once every loop has let go of the listening socket. */
    for (i = 0; i < 200; i++) {
        fd = raw_connect(f->port);
        if (fd < 0) {
            break;
        }
        close(fd);
        sleep_ms(5);
    }
    assert_true(fd < 0);
    pthread_join(t, NULL);
    assert_int_equal(d.status, 200);
    assert_string_equal(d.body, "deferred");
    httpd_wait(f->srv);
    fixture_free(f);
}

/* Waits (bounded) until n requests are in flight. */
static void wait_inflight(httpd *srv, uint64_t n)
{
    httpd_gauges g;
    int i;

    for (i = 0; i < 300; i++) {
        httpd_gauges_get(srv, &g);
        if (g.inflight == n) {
            return;
        }
        sleep_ms(5);
    }
    fail_msg("in-flight requests stayed at %llu", (unsigned long long)g.inflight);
}

static void test_inflight_cap(void **state)
{
    fixture *f = fixture_new3(0, 2000, 1);
    defer_call d = {.port = f->port};
    client_conn *c = cl_open(f->port);
    client_request rq = {.method = "GET", .target = "/echo"};
    client_response *r;
    pthread_t t;

    (void)state;
    assert_int_equal(pthread_create(&t, NULL, defer_client, &d), 0);
    wait_inflight(f->srv, 1);
    r = cl_do(c, &rq);
    assert_int_equal(client_response_status(r), 503);
    client_response_free(r);
    pthread_join(t, NULL);
    assert_int_equal(d.status, 200);
    r = cl_do(c, &rq); /* the 503 closed that connection; client/ reconnects */
    assert_int_equal(client_response_status(r), 200);
    client_response_free(r);
    client_close(c);
    fixture_free(f);
}

static void test_stop_drops_late_deferred(void **state)
{
    fixture *f = fixture_new(0, 2000);
    defer_call d = {.port = f->port};
    pthread_t t;

    (void)state;
    assert_int_equal(pthread_create(&t, NULL, defer_client, &d), 0);
    wait_inflight(f->srv, 1);
    /* No grace: the connection closes while the reply is still being made elsewhere; the loop
     * keeps running until that reply arrives, then drops it. */
    httpd_stop(f->srv, 0);
    pthread_join(t, NULL);
    assert_int_equal(d.status, 0);
    httpd_wait(f->srv);
    wait_inflight(f->srv, 0);
    fixture_free(f);
}

static void test_open_errors(void **state)
{
    httpd_listener_cfg lc = {.host = "not-an-ip", .handle = on_request};
    httpd_cfg cfg = {.listeners = &lc, .n_listeners = 1, .threads = 1};
    httpd *srv = (httpd *)&cfg;

    (void)state;
    assert_int_equal(httpd_open(&cfg, &srv), TALLY_EINVAL);
    assert_null(srv);
    lc.host = "::1";
    cfg.n_listeners = 0;
    assert_int_equal(httpd_open(&cfg, &srv), TALLY_EINVAL);
}

static void test_ipv6(void **state)
{
    httpd_listener_cfg lc = {.host = "::1", .handle = on_request, .head = on_head};
    httpd_cfg cfg = {.listeners = &lc, .n_listeners = 1, .threads = 1};
    client_request rq = {.method = "GET", .target = "/echo"};
    client_cfg cc = {.host = "::1", .io_timeout_ms = 3000};
    client_response *r = NULL;
    client_conn *c;
    httpd *srv;

    (void)state;
    if (httpd_open(&cfg, &srv) != TALLY_OK) {
        skip(); /* no IPv6 loopback in this sandbox */
    }
    cc.port = httpd_port(srv, 0);
    assert_int_equal(client_open(&cc, &c), TALLY_OK);
    assert_int_equal(client_do(c, &rq, &r), TALLY_OK);
    assert_int_equal(client_response_status(r), 200);
    client_response_free(r);
    client_close(c);
    httpd_close(srv);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_keepalive_reuse),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_zstd_request_body),
        cmocka_unit_test(test_zstd_response),
        cmocka_unit_test(test_content_length_over_limit),
        cmocka_unit_test(test_zstd_bomb),
        cmocka_unit_test(test_zstd_window_too_large),
        cmocka_unit_test(test_gzip_415),
        cmocka_unit_test(test_header_block_too_large),
        cmocka_unit_test(test_target_too_long),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_head_reply_skips_body),
        cmocka_unit_test(test_expect_continue_and_http10),
        cmocka_unit_test(test_error_body_shape),
        cmocka_unit_test(test_deferred),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_per_ip_limit),
        cmocka_unit_test(test_read_timeout),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_inflight_cap),
        cmocka_unit_test(test_stop_drops_late_deferred),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_ipv6),
    };
    int fails = cmocka_run_group_tests_name("http_shared", shared, setup, teardown);

    return fails + cmocka_run_group_tests_name("http_own", own, NULL, NULL);
}
