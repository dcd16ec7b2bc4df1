/* client/: chunked and Content-Length responses, keep-alive reuse, zstd, caps and failures
 * against a raw socket server in a thread that plays canned responses; and the URL parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zstd.h>

#include "client/client.h"

#define SCRIPT_MAX 4

/* A server that accepts one connection and answers each request head with the next canned
 * response; NULL as a response means "close without answering", "" means "say nothing". */
typedef struct canned {
    int lfd;
    uint16_t port;
    const char *resp[SCRIPT_MAX];
    size_t resp_n[SCRIPT_MAX];
    size_t n;
    char last_req[8192];
    size_t accepted;
    struct sockaddr_in peer; /* the last accepted connection's source address */
} canned;

static void canned_listen(canned *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int one = 1;

    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
}

/* Reads one request head (and a Content-Length body) into s->last_req; false on EOF. */
static bool read_request(canned *s, int fd)
{
    size_t got = 0;
    char *end, *cl;
    size_t body = 0;

    for (;;) {
        ssize_t r = recv(fd, s->last_req + got, sizeof(s->last_req) - 1 - got, 0);
        if (r <= 0) {
            return false;
        }
        got += (size_t)r;
        s->last_req[got] = '\0';
        end = strstr(s->last_req, "\r\n\r\n");
        if (end != NULL) {
            cl = strstr(s->last_req, "Content-Length: ");
            body = cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
            if (got >= (size_t)(end + 4 - s->last_req) + body) {
                return true;
            }
        }
    }
}

static void *canned_main(void *arg)
{
    canned *s = arg;
    struct timeval tv = {3, 0};
    size_t i = 0;
    int fd;

    while (i < s->n) {
        socklen_t plen = sizeof(s->peer);
        fd = accept(s->lfd, (struct sockaddr *)&s->peer, &plen);
        if (fd < 0) {
            return NULL;
        }
        s->accepted++;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        for (; i < s->n && read_request(s, fd); i++) {
            if (s->resp[i] == NULL) {
                i++;
                break; /* close: the client must reconnect */
            }
            if (s->resp_n[i] == 0) {
                /* say nothing until the client gives up */
                char sink[64];
                while (recv(fd, sink, sizeof(sink), 0) > 0) {
                }
                i++;
                break;
            }
            (void)send(fd, s->resp[i], s->resp_n[i], MSG_NOSIGNAL);
        }
        close(fd);
    }
    return NULL;
}

static void canned_add(canned *s, const char *resp)
{
    s->resp[s->n] = resp;
    s->resp_n[s->n] = resp != NULL ? strlen(resp) : 0;
    s->n++;
}

static client_conn *open_to(uint16_t port, unsigned io_ms)
{
    client_cfg cfg = {.host = "127.0.0.1", .port = port, .io_timeout_ms = io_ms};
    client_conn *c;

    assert_int_equal(client_open(&cfg, &c), TALLY_OK);
    return c;
}

static void test_chunked_and_reuse(void **state)
{
    canned s = {0};
    pthread_t t;
    client_conn *c;
    client_response *r;
    client_request rq = {.method = "GET", .target = "/a?b=c"};
    const char *v;

    (void)state;
    canned_listen(&s);
    canned_add(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\n\r\n"
                   "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n");
    canned_add(&s, "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc");
    canned_add(&s, "HTTP/1.1 204 No Content\r\n\r\n");
    assert_int_equal(pthread_create(&t, NULL, canned_main, &s), 0);
    c = open_to(s.port, 3000);
    assert_int_equal(client_do(c, &rq, &r), TALLY_OK);
    assert_int_equal(client_response_status(r), 200);
    assert_int_equal(client_response_body(r).n, 12);
    assert_memory_equal(client_response_body(r).p, "hello, world", 12);
    assert_int_equal(client_response_header(r, "x-a", &v), 2);
    assert_string_equal(v, "1");
    client_response_free(r);
    assert_non_null(strstr(s.last_req, "GET /a?b=c HTTP/1.1\r\n"));
    rq.method = "POST";
    rq.body = "xyz";
    rq.body_n = 3;
    assert_int_equal(client_do(c, &rq, &r), TALLY_OK);
    assert_int_equal(client_response_status(r), 201);
    assert_memory_equal(client_response_body(r).p, "abc", 3);
    client_response_free(r);
    assert_non_null(strstr(s.last_req, "Content-Length: 3\r\n\r\nxyz"));
    assert_int_equal(client_do(c, &rq, &r), TALLY_OK);
    assert_int_equal(client_response_status(r), 204);
    assert_int_equal(client_response_body(r).n, 0);
    client_response_free(r);
    client_close(c);
    pthread_join(t, NULL);
    assert_int_equal(s.accepted, 1);
    close(s.lfd);
}

static void test_reconnect_after_close(void **state)
{
    canned s = {0};
    pthread_t t;
    client_conn *c;
    client_response *r;
    client_request rq = {.method = "GET", .target = "/"};

    (void)state;
    canned_listen(&s);
    canned_add(&s, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1");
    canned_add(&s, NULL); /* the server drops the kept-alive connection */
    canned_add(&s, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n2");
    assert_int_equal(pthread_create(&t, NULL, canned_main, &s), 0);
    c = open_to(s.port, 3000);
    assert_int_equal(client_do(c, &rq, &r), TALLY_OK);
    client_response_free(r);
    assert_int_equal(client_do(c, &rq, &r), TALLY_OK);
    assert_memory_equal(client_response_body(r).p, "2", 1);
    assert_false(client_connected(c));
    client_response_free(r);
    client_close(c);
    pthread_join(t, NULL);
    assert_int_equal(s.accepted, 2);
    close(s.lfd);
}

static void test_zstd_response(void **state)
{
    canned s = {0};
    pthread_t t;
    client_conn *c;
    client_response *r;
    client_request rq = {.method = "GET", .target = "/", .accept_zstd = true};
    char plain[2000], z[1024], resp[1400];
    size_t zn;
    int hn;

    (void)state;
    memset(plain, 'q', sizeof(plain));
    zn = ZSTD_compress(z, sizeof(z), plain, sizeof(plain), 3);
    assert_false(ZSTD_isError(zn));
    hn = snprintf(resp, sizeof(resp),
                  "HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nContent-Length: %zu\r\n\r\n", zn);
    memcpy(resp + hn, z, zn);
    canned_listen(&s);
    s.resp[0] = resp;
    s.resp_n[0] = (size_t)hn + zn;
    s.n = 1;
    assert_int_equal(pthread_create(&t, NULL, canned_main, &s), 0);
    c = open_to(s.port, 3000);
    assert_int_equal(client_do(c, &rq, &r), TALLY_OK);
    assert_true(client_response_was_zstd(r));
    assert_int_equal(client_response_body(r).n, sizeof(plain));
    assert_memory_equal(client_response_body(r).p, plain, sizeof(plain));
    assert_non_null(strstr(s.last_req, "Accept-Encoding: zstd\r\n"));
    client_response_free(r);
    client_close(c);
    pthread_join(t, NULL);
    close(s.lfd);
}

static void test_caps_and_bad_framing(void **state)
{
    canned s = {0};
    pthread_t t;
    client_cfg cfg = {.host = "127.0.0.1", .io_timeout_ms = 3000, .max_response = 4};
    client_conn *c;
    client_response *r = (client_response *)&cfg;
    client_request rq = {.method = "GET", .target = "/"};

    (void)state;
    canned_listen(&s);
    canned_add(&s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12345");
    canned_add(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_int_equal(pthread_create(&t, NULL, canned_main, &s), 0);
    cfg.port = s.port;
    assert_int_equal(client_open(&cfg, &c), TALLY_OK);
    assert_int_equal(client_do(c, &rq, &r), TALLY_ELIMIT);
    assert_null(r);
    assert_true(strlen(client_error(c)) > 0);
    assert_int_equal(client_do(c, &rq, &r), TALLY_EFORMAT);
    assert_null(r);
    client_close(c);
    pthread_join(t, NULL);
    close(s.lfd);
}

static void test_timeout_and_refused(void **state)
{
    canned s = {0};
    pthread_t t;
    client_conn *c;
    client_response *r;
    client_request rq = {.method = "GET", .target = "/"};
    uint16_t port;

    (void)state;
    canned_listen(&s);
    canned_add(&s, ""); /* silence */
    assert_int_equal(pthread_create(&t, NULL, canned_main, &s), 0);
    c = open_to(s.port, 150);
    assert_int_equal(client_do(c, &rq, &r), TALLY_EIO);
    assert_non_null(strstr(client_error(c), "timed out"));
    client_close(c);
    pthread_join(t, NULL);
    port = s.port;
    close(s.lfd);
    /* nothing listens on the port any more */
    c = open_to(port, 150);
    assert_int_equal(client_do(c, &rq, &r), TALLY_EIO);
    assert_non_null(strstr(client_error(c), "refused"));
    client_close(c);
}

static void test_request_validation(void **state)
{
    client_conn *c = open_to(1, 100);
    client_header h = {"X-Bad", "a\r\nInjected: 1"};
    client_request rq = {.method = "GET", .target = "/", .headers = &h, .n_headers = 1};
    client_response *r;

    (void)state;
    assert_int_equal(client_do(c, &rq, &r), TALLY_EINVAL);
    assert_null(r);
    client_close(c);
}

/* bind_host picks the source address: any 127/8 address is local on Linux's lo. */
static void test_bind_host(void **state)
{
    canned s = {0};
    pthread_t t;
    client_conn *c;
    client_response *r;
    client_request rq = {.method = "GET", .target = "/"};
    client_cfg cfg = {.host = "127.0.0.1", .io_timeout_ms = 3000, .bind_host = "127.0.3.7"};
    char peer[INET_ADDRSTRLEN];

    (void)state;
    canned_listen(&s);
    canned_add(&s, "HTTP/1.1 204 No Content\r\n\r\n");
    assert_int_equal(pthread_create(&t, NULL, canned_main, &s), 0);
    cfg.port = s.port;
    assert_int_equal(client_open(&cfg, &c), TALLY_OK);
    assert_int_equal(client_do(c, &rq, &r), TALLY_OK);
    assert_int_equal(client_response_status(r), 204);
    client_response_free(r);
    client_close(c);
    pthread_join(t, NULL);
    assert_non_null(inet_ntop(AF_INET, &s.peer.sin_addr, peer, sizeof(peer)));
    assert_string_equal(peer, "127.0.3.7");

    /* a name or a port is not a literal; an IPv6 source cannot reach an IPv4 host */
    cfg.bind_host = "localhost";
    assert_int_equal(client_open(&cfg, &c), TALLY_EINVAL);
    assert_null(c);
    cfg.bind_host = "127.0.0.1:80";
    assert_int_equal(client_open(&cfg, &c), TALLY_EINVAL);
    cfg.bind_host = "::1";
    assert_int_equal(client_open(&cfg, &c), TALLY_OK);
    assert_int_equal(client_do(c, &rq, &r), TALLY_EIO);
    assert_null(r);
    client_close(c);
    close(s.lfd);
}

static void test_url_parse(void **state)
{
    client_url u;

    (void)state;
    assert_int_equal(client_url_parse("http://127.0.0.1:8093/path", &u), TALLY_OK);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8093);
    assert_string_equal(u.target, "/path");
    assert_int_equal(client_url_parse("http://example.org", &u), TALLY_OK);
    assert_string_equal(u.host, "example.org");
    assert_int_equal(u.port, 80);
    assert_string_equal(u.target, "/");
    assert_int_equal(client_url_parse("HTTP://[::1]:8200/v1/sth?x=1", &u), TALLY_OK);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 8200);
    assert_string_equal(u.target, "/v1/sth?x=1");
    assert_int_equal(client_url_parse("http://h?q", &u), TALLY_OK);
    assert_string_equal(u.target, "/?q");
    assert_int_equal(client_url_parse("http://[::1]/", &u), TALLY_OK);
    assert_int_equal(u.port, 80);

    static const char *const bad[] = {
        "https://127.0.0.1/", "ftp://x/",        "http://",      "http://:80/", "http://h:/",
        "http://h:0/",        "http://h:65536/", "http://h:8x/", "http://u@h/", "http://h/#frag",
        "http://[::1/",       "http://[::1]x/",  "127.0.0.1:80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (client_url_parse(bad[i], &u) != TALLY_EINVAL) {
            fail_msg("accepted %s", bad[i]);
        }
        assert_int_equal(u.port, 0);
        assert_string_equal(u.host, "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_and_reuse),   cmocka_unit_test(test_reconnect_after_close),
        cmocka_unit_test(test_zstd_response),       cmocka_unit_test(test_caps_and_bad_framing),
        cmocka_unit_test(test_timeout_and_refused), cmocka_unit_test(test_request_validation),
        cmocka_unit_test(test_url_parse),           cmocka_unit_test(test_bind_host),
    };

    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
