/* client/submit.c: the protocol §4 known-answer vector built from JSON (body bytes and request
 * signature), the write's body accepted by the node's own parser, retries that resend the same
 * nonce and body after a dropped connection and a 503, a Retry-After beyond the wait budget,
 * and verifier-key parsing. A thread plays canned responses on a loopback socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"
#include "util/testutil.h"
#include "wire/wire.h"

#define ORIGIN "tally.example.org/57"
#define ITEM_BODY                                                                                  \
    "95cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce1f34e5119302ce7d2b7500ce1c62" \
    "170cc410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
#define ITEM_SIG                                                                                   \
    "1a7ea2162d4767466f9a3720e179e25ae651e8e6979ba39243b527c70801bd7d268b881d054a4a08098ed38de907" \
    "a92019fd65410cc3b574854646105964b70f"
#define REQUEST_SIG                                                                                \
    "20e8535537a9b7645d78ab60b8ea31c79d67deabf49dd1356f64aa8a4ebe180345c3ff9510a535515196c0a3d66c" \
    "bc8e71ee618bf7def90ed4741316f8034303"

static const char vector_json[] =
    "{\"items\": [{\"event_id\": 4242, \"salt\": \"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\", "
    "\"markets\": [{\"market_id\": 90001, \"kind\": \"moneyline\", \"priced_at_ms\": null, "
    "\"prices\": [{\"side\": \"home\", \"odds_n\": 1910000000, \"imp_prob_n\": 523560209}, "
    "{\"side\": \"away\", \"odds_n\": 2100000000, \"imp_prob_n\": 476190476}]}]}]}";

static void miner(uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)(i + 1);
    }
    crypto_sign_seed_keypair(pk, sk, seed);
}

static client_write *vector_write(uint8_t pk[32], uint8_t sk[64])
{
    client_write_cfg cfg = {.type = CLIENT_ODDS, .origin = ORIGIN, .pk = pk, .sk = sk,
                            .nonce = 1767225600000000ull};
    client_write *w = NULL;
    char detail[CLIENT_DETAIL_MAX];

    miner(pk, sk);
    assert_int_equal(client_write_new(&cfg, vector_json, strlen(vector_json), &w, detail),
                     TALLY_OK);
    return w;
}

static void known_answer(void **state)
{
    uint8_t pk[32], sk[64], want[200];
    char hex[65];
    client_write *w = vector_write(pk, sk);
    tally_bytes b = client_write_body(w);
    const client_header *h;
    size_t n = tu_unhex("9192" ITEM_BODY "c440" ITEM_SIG, want, sizeof(want));
    (void)state;

    assert_int_equal(b.n, 134);
    assert_int_equal(n, 134);
    assert_memory_equal(b.p, want, n);
    assert_int_equal(client_write_sign(w, 1767225600123ull), TALLY_OK);
    h = client_write_headers(w);
    schema_hex(pk, 32, hex);
    assert_string_equal(h[0].name, "Tally-Key");
    assert_string_equal(h[0].value, hex);
    assert_string_equal(h[1].value, "1767225600123");
    assert_string_equal(h[2].value, "1767225600000000");
    assert_string_equal(h[3].name, "Tally-Signature");
    assert_string_equal(h[3].value, REQUEST_SIG);
    assert_string_equal(client_write_target(w), "/v1/odds");
    assert_int_equal(client_write_count(w), 1);
    client_write_free(w);
}

/* Without a salt each item draws one, and the node's parser accepts the result as it stands. */
static void parses_as_node(void **state)
{
    uint8_t pk[32], sk[64];
    client_write_cfg cfg = {.type = CLIENT_OUTCOMES, .origin = ORIGIN, .pk = pk, .sk = sk,
                            .nonce = 77};
    /* nullable fields are given, as null when absent (the named-field JSON has every field) */
    const char *json = "{\"items\": [{\"event_id\": 1, \"result\": \"home\", \"score_home\": "
                       "null, \"score_away\": null}, {\"event_id\": 2, \"result\": null, "
                       "\"score_home\": 1, \"score_away\": 1}]}";
    client_write *w = NULL;
    wire_items items = WIRE_ITEMS_INIT;
    wire_fail wf;
    char detail[CLIENT_DETAIL_MAX];
    (void)state;

    miner(pk, sk);
    if (client_write_new(&cfg, json, strlen(json), &w, detail) != TALLY_OK) {
        fail_msg("%s", detail);
    }
    tally_bytes b = client_write_body(w);
    assert_int_equal(wire_outcomes_parse((tally_str){ORIGIN, strlen(ORIGIN)}, pk, 77, NULL, b.p,
                                         b.n, &items, &wf),
                     TALLY_OK);
    assert_int_equal(items.n, 2);
    wire_items_release(&items);
    client_write_free(w);
    /* a bad item is named; a bad config is refused */
    json = "{\"items\": [{\"event_id\": 1, \"result\": \"sideways\", \"score_home\": null, "
           "\"score_away\": null}]}";
    assert_int_equal(client_write_new(&cfg, json, strlen(json), &w, detail), TALLY_EFORMAT);
    assert_null(w);
    assert_non_null(strstr(detail, "items[0]"));
    cfg.origin = "a+b";
    assert_int_equal(client_write_new(&cfg, vector_json, strlen(vector_json), &w, detail),
                     TALLY_EINVAL);
}

/* ---- a canned server ---- */

#define SCRIPT_MAX 4
typedef struct canned {
    int lfd;
    uint16_t port;
    const char *resp[SCRIPT_MAX]; /* NULL: close without answering */
    size_t n;
    char req[SCRIPT_MAX][4096];
    size_t got;
} canned;

static void canned_listen(canned *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);

    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
}

/* One request per connection: its head and body (the caller's bodies are short). */
static void *canned_main(void *arg)
{
    canned *s = arg;
    struct timeval tv = {5, 0};

    while (s->got < s->n) {
        int fd = accept(s->lfd, NULL, NULL);
        char *buf = s->req[s->got], *end;
        size_t k = 0;
        if (fd < 0) {
            return NULL;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        for (;;) {
            ssize_t r = recv(fd, buf + k, sizeof(s->req[0]) - 1 - k, 0);
            if (r <= 0) {
                break;
            }
            k += (size_t)r;
            buf[k] = '\0';
            end = strstr(buf, "\r\n\r\n");
            char *cl = strstr(buf, "Content-Length: ");
            if (end != NULL && cl != NULL &&
                k >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10)) {
                break;
            }
        }
        if (s->resp[s->got] != NULL) {
            (void)send(fd, s->resp[s->got], strlen(s->resp[s->got]), MSG_NOSIGNAL);
        }
        s->got++;
        close(fd);
    }
    return NULL;
}

/* The value of a header in a raw request. */
static void header_of(const char *req, const char *name, char *out, size_t cap)
{
    const char *p = strstr(req, name);
    size_t n;

    assert_non_null(p);
    p += strlen(name) + 2;
    n = strcspn(p, "\r");
    snprintf(out, cap, "%.*s", (int)n, p);
}

static const char *body_of(const char *req)
{
    const char *p = strstr(req, "\r\n\r\n");
    assert_non_null(p);
    return p + 4;
}

static void retries_same_nonce_and_body(void **state)
{
    uint8_t pk[32], sk[64], node_pk[32] = {0};
    client_write *w = vector_write(pk, sk);
    client_submit_result *res = calloc(1, sizeof(*res));
    canned s = {0};
    pthread_t t;
    char detail[CLIENT_DETAIL_MAX], a[64], b[64];
    tally_bytes body = client_write_body(w);
    (void)state;

    assert_non_null(res);
    canned_listen(&s);
    s.resp[s.n++] = NULL; /* the connection drops before an answer */
    s.resp[s.n++] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Type: "
                    "application/json\r\nContent-Length: 55\r\n\r\n"
                    "{\"success\":false,\"error\":\"overloaded\",\"message\":\"busy\"}";
    s.resp[s.n++] = "HTTP/1.1 422 Unprocessable\r\nContent-Type: application/json\r\n"
                    "Content-Length: 135\r\n\r\n"
                    "{\"success\":false,\"error\":\"items_rejected\",\"message\":\"none\",\"details\":"
                    "{\"items\":[{\"idx\":0,\"status\":\"rejected\",\"error\":\"market_closed\"}]}}";
    assert_int_equal(pthread_create(&t, NULL, canned_main, &s), 0);
    client_submit_cfg cfg = {.host = "127.0.0.1", .port = s.port, .node_pk = node_pk,
                             .retries = 5, .max_wait_ms = 10000, .io_timeout_ms = 5000};
    assert_int_equal(client_submit(&cfg, w, res, detail), TALLY_OK);
    pthread_join(t, NULL);
    assert_int_equal(res->attempts, 3);
    assert_int_equal(res->verdict, CLIENT_REJECTED);
    assert_int_equal(res->status, 422);
    assert_string_equal(res->error, "items_rejected");
    assert_int_equal(res->n_items, 1);
    assert_string_equal(res->items[0].error, "market_closed");
    /* every attempt carried the same nonce and the same body bytes */
    for (size_t i = 0; i < 3; i++) {
        header_of(s.req[i], "Tally-Nonce", a, sizeof(a));
        assert_string_equal(a, "1767225600000000");
        assert_memory_equal(body_of(s.req[i]), body.p, body.n);
        header_of(s.req[i], "Tally-Key", a, sizeof(a));
        header_of(s.req[0], "Tally-Key", b, sizeof(b));
        assert_string_equal(a, b);
    }
    close(s.lfd);
    free(res);
    client_write_free(w);
}

static void retry_after_beyond_budget(void **state)
{
    uint8_t pk[32], sk[64], node_pk[32] = {0};
    client_write *w = vector_write(pk, sk);
    client_submit_result *res = calloc(1, sizeof(*res));
    canned s = {0};
    pthread_t t;
    char detail[CLIENT_DETAIL_MAX];
    (void)state;

    assert_non_null(res);
    canned_listen(&s);
    s.resp[s.n++] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3600\r\nContent-Type: "
                    "application/json\r\nContent-Length: 57\r\n\r\n"
                    "{\"success\":false,\"error\":\"rate_limited\",\"message\":\"slow\"}";
    assert_int_equal(pthread_create(&t, NULL, canned_main, &s), 0);
    client_submit_cfg cfg = {.host = "127.0.0.1", .port = s.port, .node_pk = node_pk,
                             .retries = 5, .max_wait_ms = 1000};
    assert_int_equal(client_submit(&cfg, w, res, detail), TALLY_EAGAIN);
    pthread_join(t, NULL);
    assert_int_equal(res->attempts, 1);
    assert_int_equal(res->waited_ms, 0);
    assert_string_equal(res->error, "rate_limited");
    assert_non_null(strstr(detail, "429"));
    close(s.lfd);
    free(res);
    client_write_free(w);
}

static void verifier_keys(void **state)
{
    char origin[129];
    uint8_t pk[32], want[32];
    /* what `tally key` prints for tests/util/node.c's node (seed 0x11 × 32) */
    const char *vk = "tally.local/1+57056c04+AdBKsjJ0K7SrOhNovUYV5ObQIkq3GgFrr4UgozLJd4c3";
    (void)state;

    tu_unhex("d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737", want, 32);
    assert_int_equal(client_vkey_parse(vk, origin, pk), TALLY_OK);
    assert_string_equal(origin, "tally.local/1");
    assert_memory_equal(pk, want, 32);
    /* a wrong key id, a missing part, a bad type byte */
    assert_int_equal(client_vkey_parse("tally.local/1+57056c05+AdBKsjJ0K7SrOhNovUYV5ObQIkq3GgFr"
                                       "r4UgozLJd4c3",
                                       origin, pk),
                     TALLY_EFORMAT);
    assert_string_equal(origin, "");
    assert_int_equal(client_vkey_parse("tally.local/1+AdBKsjJ0K7SrOhNovUYV5ObQIkq3GgFrr4UgozLJd4c3",
                                       origin, pk),
                     TALLY_EFORMAT);
    assert_int_equal(client_vkey_parse("tally.local/1+57056c04+AtBKsjJ0K7SrOhNovUYV5ObQIkq3GgFr"
                                       "r4UgozLJd4c3",
                                       origin, pk),
                     TALLY_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answer),
        cmocka_unit_test(parses_as_node),
        cmocka_unit_test(retries_same_nonce_and_body),
        cmocka_unit_test(retry_after_beyond_budget),
        cmocka_unit_test(verifier_keys),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
