/* Helpers shared by the tests/net/test_cases_*.c files (protocol §12 against a real `tally
 * serve`): a raw msgpack writer for bodies the schema encoder refuses to make, item signing by
 * hand, signed requests with extra headers (X-Forwarded-For, Content-Encoding, another signer),
 * a raw socket for requests the client library will not send, and the expectations every case
 * checks. Each test executable is one file plus tests/util, so the helpers are static inline here
 * (an unused one costs nothing). */
#ifndef TALLY_TESTS_NET_CASES_H
#define TALLY_TESTS_NET_CASES_H

/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/node.h"
#include "util/testutil.h"
#include "wire/wire.h"

#define CS_DAY 86400000ull
#define CS_HOUR 3600000ull

/* ---- expectations ---- */

static inline const char *cs_err(const tn_resp *r)
{
    const char *e = r->json ? json_string_value(json_object_get(r->json, "error")) : NULL;
    return e ? e : "";
}

#define cs_expect(r, status, code) cs_expect_at(r, status, code, __FILE__, __LINE__)
static inline void cs_expect_at(const tn_resp *r, unsigned status, const char *code,
                                const char *file, int line)
{
    if (r->status != status || (code != NULL && strcmp(cs_err(r), code) != 0)) {
        fail_msg("%s:%d: expected %u %s, got %u %s", file, line, status, code ? code : "",
                 r->status, r->body ? r->body : "");
    }
    /* §8: every error is the one JSON shape */
    if (status >= 400 && code != NULL) {
        if (!json_is_false(json_object_get(r->json, "success")) ||
            !json_is_string(json_object_get(r->json, "message")) ||
            !json_is_string(json_object_get(r->json, "request_id"))) {
            fail_msg("%s:%d: not the §8 error shape: %s", file, line, r->body ? r->body : "");
        }
    }
}

static inline json_t *cs_details(const tn_resp *r)
{
    return json_object_get(r->json, "details");
}

/* The error body's details.items[0] (stateless failures) or NULL. */
static inline json_t *cs_item0(const tn_resp *r)
{
    return json_array_get(json_object_get(cs_details(r), "items"), 0);
}

/* The error code of item i of a 200 or of a 422 items_rejected. */
static inline const char *cs_item_err(const tn_resp *r, size_t i)
{
    json_t *items = json_object_get(r->json, "items");
    if (items == NULL) {
        items = json_object_get(cs_details(r), "items");
    }
    const char *e = json_string_value(json_object_get(json_array_get(items, i), "error"));
    return e ? e : "";
}

/* ---- a raw msgpack writer (canonical forms unless told otherwise) ---- */

typedef struct cs_mp {
    uint8_t *b;
    size_t n, cap;
} cs_mp;

static inline void cs_put(cs_mp *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 64;
        w->b = realloc(w->b, w->cap);
        assert_non_null(w->b);
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static inline void cs_byte(cs_mp *w, uint8_t c)
{
    cs_put(w, &c, 1);
}

static inline void cs_be(cs_mp *w, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        cs_byte(w, (uint8_t)(v >> (8 * i)));
    }
}

static inline void cs_uint(cs_mp *w, uint64_t v)
{
    if (v < 128) {
        cs_byte(w, (uint8_t)v);
    } else if (v <= 0xff) {
        cs_byte(w, 0xcc), cs_be(w, v, 1);
    } else if (v <= 0xffff) {
        cs_byte(w, 0xcd), cs_be(w, v, 2);
    } else if (v <= 0xffffffffu) {
        cs_byte(w, 0xce), cs_be(w, v, 4);
    } else {
        cs_byte(w, 0xcf), cs_be(w, v, 8);
    }
}

static inline void cs_arr(cs_mp *w, size_t n)
{
    if (n < 16) {
        cs_byte(w, (uint8_t)(0x90 | n));
    } else {
        cs_byte(w, 0xdc), cs_be(w, n, 2);
    }
}

static inline void cs_nil(cs_mp *w)
{
    cs_byte(w, 0xc0);
}

static inline void cs_bin(cs_mp *w, const uint8_t *p, size_t n)
{
    cs_byte(w, 0xc4), cs_be(w, n, 1);
    cs_put(w, p, n);
}

/* ---- odds and outcome bodies, by hand ---- */

typedef struct cs_price {
    uint64_t side, odds, prob;
} cs_price;

typedef struct cs_entry {
    uint64_t market, kind;
    bool has_pa;
    uint64_t pa;
    cs_price p[4];
    size_t np;
} cs_entry;

/* Standard prices: 1.91 / 2.10 (home, away), consistent. */
static const cs_price CS_HOME = {SCHEMA_HOME, 1910000000, 523560209};
static const cs_price CS_AWAY = {SCHEMA_AWAY, 2100000000, 476190476};
static const cs_price CS_DRAW = {SCHEMA_DRAW, 3500000000, 285714285};

static inline cs_entry cs_ml(uint64_t market)
{
    cs_entry e = {.market = market, .kind = SCHEMA_MONEYLINE, .np = 2};
    e.p[0] = CS_HOME, e.p[1] = CS_AWAY;
    return e;
}

/* An ODDS_SUBMISSION body [nonce, idx, event, [entries], salt]; salt_len 16 normally, other
 * lengths for bad input, SIZE_MAX to leave the salt out (4 fields). */
static inline void cs_odds_body(cs_mp *w, uint64_t nonce, uint64_t idx, uint64_t event,
                                const cs_entry *e, size_t ne, size_t salt_len)
{
    uint8_t salt[32];

    randombytes_buf(salt, sizeof(salt));
    cs_arr(w, salt_len == SIZE_MAX ? 4 : 5);
    cs_uint(w, nonce), cs_uint(w, idx), cs_uint(w, event);
    cs_arr(w, ne);
    for (size_t i = 0; i < ne; i++) {
        cs_arr(w, 4);
        cs_uint(w, e[i].market), cs_uint(w, e[i].kind);
        if (e[i].has_pa) {
            cs_uint(w, e[i].pa);
        } else {
            cs_nil(w);
        }
        cs_arr(w, e[i].np);
        for (size_t k = 0; k < e[i].np; k++) {
            cs_arr(w, 3);
            cs_uint(w, e[i].p[k].side), cs_uint(w, e[i].p[k].odds), cs_uint(w, e[i].p[k].prob);
        }
    }
    if (salt_len != SIZE_MAX) {
        cs_bin(w, salt, salt_len);
    }
}

/* An OUTCOME body of a miner [2, nonce, idx, event, result, home, away, salt]; UINT64_MAX for nil
 * fields; salt false for nil. */
static inline void cs_outcome_body(cs_mp *w, uint64_t nonce, uint64_t idx, uint64_t event,
                                   uint64_t result, uint64_t home, uint64_t away, bool salt)
{
    uint8_t s[16];
    uint64_t v[3] = {result, home, away};

    randombytes_buf(s, sizeof(s));
    cs_arr(w, 8);
    cs_uint(w, 2), cs_uint(w, nonce), cs_uint(w, idx), cs_uint(w, event);
    for (int i = 0; i < 3; i++) {
        if (v[i] == UINT64_MAX) {
            cs_nil(w);
        } else {
            cs_uint(w, v[i]);
        }
    }
    if (salt) {
        cs_bin(w, s, 16);
    } else {
        cs_nil(w);
    }
}

/* The record signature of §2.1 over ["tally-record-v1", origin, type, key, SHA-256(body)], made
 * by hand so that bodies the schema refuses can be signed too. */
static inline void cs_item_sig(const char *origin, unsigned type, const uint8_t pk[32],
                               const uint8_t sk[64], const uint8_t *body, size_t bn,
                               uint8_t sig[64])
{
    cs_mp m = {0};
    uint8_t h[32];
    size_t on = strlen(origin);

    crypto_hash_sha256(h, body, bn);
    cs_arr(&m, 5);
    cs_byte(&m, 0xa0 | 15), cs_put(&m, "tally-record-v1", 15);
    assert_true(on < 32);
    cs_byte(&m, (uint8_t)(0xa0 | on)), cs_put(&m, origin, on);
    cs_uint(&m, type);
    cs_bin(&m, pk, 32);
    cs_bin(&m, h, 32);
    crypto_sign_detached(sig, NULL, m.b, m.n, sk);
    free(m.b);
}

/* Appends one item [body, sig] to a request being built (the caller wrote the outer array). */
static inline void cs_item(cs_mp *req, const char *origin, unsigned type, const tn_miner *m,
                           const cs_mp *body)
{
    uint8_t sig[64];
    cs_arr(req, 2);
    cs_put(req, body->b, body->n);
    cs_item_sig(origin, type, m->pk, m->sk, body->b, body->n, sig);
    cs_byte(req, 0xc4), cs_byte(req, 64), cs_put(req, sig, 64);
}

/* A one-item odds request for event with the given entries. */
static inline cs_mp cs_odds1(tn_node *n, const tn_miner *m, uint64_t nonce, uint64_t event,
                             const cs_entry *e, size_t ne)
{
    cs_mp req = {0}, b = {0};
    cs_arr(&req, 1);
    cs_odds_body(&b, nonce, 0, event, e, ne, 16);
    cs_item(&req, n->origin, SCHEMA_ODDS_SUBMISSION, m, &b);
    free(b.b);
    return req;
}

/* ---- signed requests with options ---- */

typedef struct cs_opt {
    uint64_t t, nonce;      /* 0: now / the miner's next */
    const char *ip;         /* sent as X-Forwarded-For (the node trusts 127.0.0.1) */
    const client_header *h; /* extra headers */
    size_t nh;
    const char *ctype; /* NULL: application/msgpack when there is a body */
    const void *wire;  /* bytes sent instead of the body (e.g. zstd) */
    size_t wn;
    const uint8_t *sign_sk;  /* sign with this secret key instead of the miner's */
    const char *sign_target; /* sign over this target instead */
    const char *origin;      /* sign for this origin instead */
} cs_opt;

static inline void cs_signed(tn_node *n, tn_miner *m, const char *method, const char *target,
                             const void *body, size_t bn, const cs_opt *o, tn_resp *out)
{
    static const cs_opt none;
    char key[65], sig[129], ts[24], ns[24];
    uint8_t s[64];
    client_header h[16];
    size_t nh = 0;

    if (o == NULL) {
        o = &none;
    }
    const char *origin = o->origin ? o->origin : n->origin;
    const char *st = o->sign_target ? o->sign_target : target;
    wire_request rq = {.origin = {origin, strlen(origin)},
                       .method = {method, strlen(method)},
                       .target = {st, strlen(st)},
                       .time_ms = o->t ? o->t : tn_now(),
                       .nonce = o->nonce ? o->nonce : ++m->nonce,
                       .body = body,
                       .body_len = bn};

    assert_int_equal(wire_request_sign(&rq, o->sign_sk ? o->sign_sk : m->sk, s), TALLY_OK);
    schema_hex(m->pk, 32, key);
    schema_hex(s, 64, sig);
    snprintf(ts, sizeof(ts), "%llu", (unsigned long long)rq.time_ms);
    snprintf(ns, sizeof(ns), "%llu", (unsigned long long)rq.nonce);
    h[nh++] = (client_header){"Tally-Key", key};
    h[nh++] = (client_header){"Tally-Time", ts};
    h[nh++] = (client_header){"Tally-Nonce", ns};
    h[nh++] = (client_header){"Tally-Signature", sig};
    if (o->ip != NULL) {
        h[nh++] = (client_header){"X-Forwarded-For", o->ip};
    }
    for (size_t i = 0; i < o->nh && nh < 16; i++) {
        h[nh++] = o->h[i];
    }
    tn_http(n, TN_INGEST, method, target, h, nh, o->wire ? o->wire : body, o->wire ? o->wn : bn,
            o->ctype ? o->ctype : (bn || o->wire ? "application/msgpack" : NULL), out);
    if (out->status == 0) {
        print_message("no response: %s\n", client_error(n->conn[TN_INGEST]));
    }
}

/* An unsigned request from ip (NULL: 127.0.0.1 itself) to a listener. */
static inline void cs_http(tn_node *n, int listener, const char *method, const char *target,
                           const char *ip, tn_resp *out)
{
    client_header h = {"X-Forwarded-For", ip};
    tn_http(n, listener, method, target, ip ? &h : NULL, ip ? 1 : 0, NULL, 0, NULL, out);
}

/* ---- a raw socket, for what the client library will not send ---- */

/* Sends text to 127.0.0.1:port, reads until the server closes or timeout_ms passes without a
 * byte, and returns the status of the first response line (0: none). out gets the bytes read. */
static inline unsigned cs_raw(uint16_t port, const char *text, char *out, size_t cap,
                              unsigned timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t got = 0;
    unsigned status = 0;

    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, text, strlen(text), 0), (ssize_t)strlen(text));
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)timeout_ms) <= 0 || got + 1 >= cap) {
            break;
        }
        ssize_t k = recv(fd, out + got, cap - 1 - got, 0);
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
        out[got] = '\0';
        /* one response is enough once its body (Content-Length) is in */
        char *hend = strstr(out, "\r\n\r\n"), *cl = strstr(out, "Content-Length:");
        if (hend != NULL && cl != NULL && cl < hend &&
            got >= (size_t)(hend + 4 - out) + strtoul(cl + 15, NULL, 10)) {
            break;
        }
    }
    out[got] = '\0';
    close(fd);
    if (strncmp(out, "HTTP/1.", 7) == 0 && got > 12) {
        status = (unsigned)strtoul(out + 9, NULL, 10);
    }
    return status;
}

/* The JSON body of a raw response, or NULL. */
static inline json_t *cs_raw_json(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? json_loads(b + 4, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

/* ---- state the cases say is unchanged ---- */

/* The number of bans the node holds (GET /admin/v1/bans). */
static inline size_t cs_bans(tn_node *n)
{
    tn_resp r;
    size_t k;
    tn_admin(n, "GET", "/admin/v1/bans", NULL, &r);
    assert_int_equal(r.status, 200);
    k = json_array_size(json_object_get(r.json, "bans"));
    tn_resp_free(&r);
    return k;
}

/* The ban of "ip:1.2.3.4" or "hotkey:<ss58>" as listed, or NULL (a new reference). */
static inline json_t *cs_ban_of(tn_node *n, const char *id)
{
    tn_resp r;
    json_t *a, *v, *hit = NULL;
    size_t i;
    tn_admin(n, "GET", "/admin/v1/bans", NULL, &r);
    assert_int_equal(r.status, 200);
    a = json_object_get(r.json, "bans");
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(json_object_get(v, "id"));
        if (s != NULL && strcmp(s, id) == 0) {
            hit = json_incref(v);
        }
    }
    tn_resp_free(&r);
    return hit;
}

/* The sum of a metric's samples whose label text contains every one of the (up to 3) given
 * "k=\"v\"" fragments, read from /metrics. */
static inline double cs_metric(tn_node *n, const char *name, const char *l1, const char *l2)
{
    tn_resp r;
    double sum = 0;
    size_t nl = strlen(name);
    tn_http(n, TN_OPS, "GET", "/metrics", NULL, 0, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    for (char *line = r.body; line != NULL && *line;) {
        char *end = strchr(line, '\n');
        if (end != NULL) {
            *end = '\0';
        }
        if (strncmp(line, name, nl) == 0 && (line[nl] == '{' || line[nl] == ' ') &&
            (l1 == NULL || strstr(line, l1)) && (l2 == NULL || strstr(line, l2))) {
            char *sp = strrchr(line, ' ');
            sum += sp ? strtod(sp + 1, NULL) : 0;
        }
        line = end ? end + 1 : NULL;
    }
    tn_resp_free(&r);
    return sum;
}

static inline void cs_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A feed of raw JSON records; the response is the caller's. */
static inline void cs_feed_json(tn_node *n, const char *records, tn_resp *out)
{
    char *text = malloc(strlen(records) + 32);
    assert_non_null(text);
    sprintf(text, "{\"records\": [%s]}", records);
    tn_admin(n, "POST", "/admin/v1/records", text, out);
    free(text);
}

/* An EVENT (new or an update) with the given start and status. */
static inline void cs_event(tn_node *n, uint64_t id, uint64_t start_ms, const char *status)
{
    char rec[512];
    tn_resp r;
    snprintf(rec, sizeof(rec),
             "{\"type\": \"EVENT\", \"body\": {\"event_id\": %llu, \"sport\": \"soccer\", "
             "\"league\": \"EPL\", \"home_team\": \"Tigers\", \"away_team\": \"Rovers\", "
             "\"venue\": null, \"start_ms\": %llu, \"status\": \"%s\", \"ext_id\": null}}",
             (unsigned long long)id, (unsigned long long)start_ms, status);
    cs_feed_json(n, rec, &r);
    if (r.status != 200) {
        fail_msg("event feed: %u %s", r.status, r.body ? r.body : "");
    }
    tn_resp_free(&r);
}

/* A MARKET of event; line_n 0 means null. */
static inline void cs_market(tn_node *n, uint64_t market, uint64_t event, const char *kind,
                             long long line_n, const char *sides, tn_resp *out)
{
    char rec[512];
    char line[32] = "null";
    if (line_n != 0) {
        snprintf(line, sizeof(line), "%lld", line_n);
    }
    snprintf(rec, sizeof(rec),
             "{\"type\": \"MARKET\", \"body\": {\"market_id\": %llu, \"event_id\": %llu, "
             "\"kind\": \"%s\", \"line_n\": %s, \"sides\": %s}}",
             (unsigned long long)market, (unsigned long long)event, kind, line, sides);
    cs_feed_json(n, rec, out);
}

/* ---- nodes ---- */

/* The hotkey (SS58) tn_feed binds to a miner: its key XOR 0x55. */
static inline void cs_hotkey(const tn_miner *m, char ss58[49])
{
    uint8_t acct[32];
    for (int b = 0; b < 32; b++) {
        acct[b] = (uint8_t)(m->pk[b] ^ 0x55);
    }
    schema_ss58_encode(acct, ss58);
}

/* Starts n (made by tn_init) with up to 15 KEY=VALUE settings, NULL-terminated. */
static inline void cs_start(tn_node *n, const char *const *env)
{
    size_t k = 0;
    for (; env != NULL && env[k] != NULL && k < 15; k++) {
        n->env[k] = env[k];
    }
    n->env[k] = NULL;
    tn_start(n);
}

#endif
