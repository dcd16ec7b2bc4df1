/* Protocol §12 against a real `tally serve`: the body cases — media type (8), size (9), form and
 * canonical encoding (10–12), counts (13), field bounds and price consistency (14, 15), side
 * sets (16), duplicate items (17), item signatures (18), item nonces (19), outcome consistency
 * (30) and salts (45). The stateless checks are unit-tested in wire/; here one representative
 * input per line of the table goes through the live node. Every bad request uses the same write
 * nonce, and a valid request under that nonce is accepted at the end: no refusal consumed it, no
 * refusal appended anything, and none banned anyone.
 *
 * The node runs with the key window and the hotkey cooldown threshold raised: these cases are
 * many refusals of one verified key in a few seconds, which §7 would (rightly) cool down; the
 * abuse cases run with the defaults in test_cases_abuse.c. */
#include <zstd.h>

#include "net/cases.h"

#define NONCE 5000u

static const char *const env_body[] = {
    "TALLY_SHUTDOWN_GRACE_S=1",        "TALLY_RATE_KEY_PER_S=1000",
    "TALLY_RATE_KEY_PER_MIN=60000",    "TALLY_RATE_IP_PER_S=1000",
    "TALLY_RATE_IP_PER_MIN=60000",     "TALLY_RATE_GLOBAL_PER_S=1000",
    "TALLY_RATE_GLOBAL_PER_MIN=60000", "TALLY_COOLDOWN_KEY_FAILURES=1000",
    "TALLY_COOLDOWN_IP_FAILURES=1000", NULL};

typedef struct fixture {
    tn_node n;
    tn_miner m, other; /* bound as uids 0 and 1 */
    tn_miner pair[2];
    uint64_t ids[2];
    uint64_t size0;
} fixture;

static fixture F;

static int setup(void **state)
{
    (void)state;
    tn_init(&F.n, "cases_body");
    cs_start(&F.n, env_body);
    tn_miner_init(&F.m, 1);
    tn_miner_init(&F.other, 2);
    F.pair[0] = F.m, F.pair[1] = F.other;
    F.ids[0] = 7001, F.ids[1] = 7002;
    tn_feed(&F.n, F.pair, 2, 100, F.ids, 2, tn_now() + CS_DAY);
    F.size0 = tn_size(&F.n);
    return 0;
}

/* The end of every case: nothing appended, nobody banned, and the nonce still free. */
static int teardown(void **state)
{
    tn_resp r;
    size_t bn;
    uint8_t *body;
    (void)state;

    assert_int_equal(tn_size(&F.n), F.size0);
    assert_int_equal(cs_bans(&F.n), 0);
    body = tn_odds(&F.n, &F.m, NONCE, F.ids, 2, &bn);
    cs_opt o = {.nonce = NONCE};
    cs_signed(&F.n, &F.m, "POST", "/v1/odds", body, bn, &o, &r);
    cs_expect(&r, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 2);
    tn_resp_free(&r);
    free(body);
    assert_int_equal(tn_size(&F.n), F.size0 + 2);
    assert_int_equal(tn_stop(&F.n, SIGTERM), 0);
    tn_free(&F.n);
    return 0;
}

/* Sends a request body to route under NONCE and checks the answer; returns it in out when given. */
#define bad(route, p, n, status, code, out) bad_at(route, p, n, status, code, out, __LINE__)
static void bad_at(const char *route, const void *p, size_t n, unsigned status, const char *code,
                   tn_resp *out, int line)
{
    tn_resp r;
    cs_opt o = {.nonce = NONCE, .ctype = "application/msgpack"};

    cs_signed(&F.n, &F.m, "POST", route, p, n, &o, &r);
    if (r.status != status || strcmp(cs_err(&r), code) != 0) {
        fail_msg("line %d: expected %u %s, got %u %s", line, status, code, r.status,
                 r.body ? r.body : "");
    }
    cs_expect(&r, status, code);
    if (out != NULL) {
        *out = r;
    } else {
        tn_resp_free(&r);
    }
}

/* A one-item request around body (signed by the miner for the node's origin). */
static cs_mp wrap1(const cs_mp *body, unsigned type)
{
    cs_mp req = {0};
    cs_arr(&req, 1);
    cs_item(&req, F.n.origin, type, &F.m, body);
    return req;
}

/* body with the first occurrence of find replaced by repl (asserts there is one). */
static cs_mp patched(const cs_mp *body, const void *find, size_t fn, const void *repl, size_t rn)
{
    cs_mp out = {0};
    for (size_t i = 0; i + fn <= body->n; i++) {
        if (memcmp(body->b + i, find, fn) == 0) {
            cs_put(&out, body->b, i);
            cs_put(&out, repl, rn);
            cs_put(&out, body->b + i + fn, body->n - i - fn);
            return out;
        }
    }
    fail_msg("pattern not found in the body");
    return out;
}

/* A valid one-item body for event 7001. */
static cs_mp good_body(void)
{
    cs_mp b = {0};
    cs_entry e = cs_ml(7001001);
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, 16);
    return b;
}

static void bad_body(const cs_mp *body, unsigned status, const char *code)
{
    cs_mp req = wrap1(body, SCHEMA_ODDS_SUBMISSION);
    bad("/v1/odds", req.b, req.n, status, code, NULL);
    free(req.b);
}

static void case_08_media_type(void **state)
{
    tn_resp r;
    size_t bn;
    uint8_t *body = tn_odds(&F.n, &F.m, NONCE, F.ids, 1, &bn);
    client_header gz = {"Content-Encoding", "gzip"};
    (void)state;

    cs_opt o = {.nonce = NONCE, .ctype = "application/json"};
    cs_signed(&F.n, &F.m, "POST", "/v1/odds", body, bn, &o, &r);
    cs_expect(&r, 415, "unsupported_media_type");
    tn_resp_free(&r);
    cs_opt g = {.nonce = NONCE, .h = &gz, .nh = 1};
    cs_signed(&F.n, &F.m, "POST", "/v1/odds", body, bn, &g, &r);
    cs_expect(&r, 415, "unsupported_media_type");
    tn_resp_free(&r);
    free(body);
}

static void case_09_too_large(void **state)
{
    char key[65], sig[129], text[2048], resp[4096];
    uint8_t s[64];
    size_t big = 300u << 10, cn;
    uint8_t *plain = calloc(1, big), *packed = malloc(ZSTD_compressBound(big));
    wire_request rq = {.origin = {F.n.origin, strlen(F.n.origin)},
                       .method = {"POST", 4},
                       .target = {"/v1/odds", 8},
                       .time_ms = tn_now(),
                       .nonce = NONCE,
                       .body = plain,
                       .body_len = big};
    tn_resp r;
    json_t *j;
    (void)state;

    assert_non_null(plain);
    assert_non_null(packed);
    /* the headers of a 300 KiB body and no body: answered from the headers alone */
    assert_int_equal(wire_request_sign(&rq, F.m.sk, s), TALLY_OK);
    schema_hex(F.m.pk, 32, key);
    schema_hex(s, 64, sig);
    snprintf(text, sizeof(text),
             "POST /v1/odds HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/msgpack\r\n"
             "Content-Length: %zu\r\nTally-Key: %s\r\nTally-Time: %llu\r\nTally-Nonce: %u\r\n"
             "Tally-Signature: %s\r\n\r\n",
             big, key, (unsigned long long)rq.time_ms, NONCE, sig);
    uint64_t t0 = tn_now();
    assert_int_equal(cs_raw(F.n.port[TN_INGEST], text, resp, sizeof(resp), 5000), 413);
    /* well before the read timeout (10 s): the node did not wait for the body */
    assert_true(tn_now() - t0 < 3000);
    j = cs_raw_json(resp);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "payload_too_large");
    json_decref(j);

    /* a zstd body of a few hundred bytes that decodes to 300 KiB: decoding stops at the limit */
    cn = ZSTD_compress(packed, ZSTD_compressBound(big), plain, big, 3);
    assert_false(ZSTD_isError(cn));
    assert_true(cn < 4096);
    client_header ze = {"Content-Encoding", "zstd"};
    cs_opt o = {.nonce = NONCE, .h = &ze, .nh = 1, .wire = packed, .wn = cn};
    cs_signed(&F.n, &F.m, "POST", "/v1/odds", plain, big, &o, &r);
    cs_expect(&r, 413, "payload_too_large");
    tn_resp_free(&r);
    free(plain);
    free(packed);
}

static void case_10_11_malformed(void **state)
{
    size_t bn;
    uint8_t *body = tn_odds(&F.n, &F.m, NONCE, F.ids, 1, &bn);
    static const char json_text[] = "[[{\"nonce\": 5000}, \"sig\"]]";
    uint8_t *longer = malloc(bn + 1);
    (void)state;

    /* 10: JSON text; every truncation; one trailing byte */
    bad("/v1/odds", json_text, sizeof(json_text) - 1, 400, "malformed_body", NULL);
    for (size_t k = 0; k < bn; k++) {
        bad("/v1/odds", body, k, 400, "malformed_body", NULL);
    }
    memcpy(longer, body, bn);
    longer[bn] = 0x00;
    bad("/v1/odds", longer, bn + 1, 400, "malformed_body", NULL);
    free(longer);
    free(body);

    /* 11: odds as float64, a map (as priced_at), nesting depth 9 */
    cs_mp g = good_body(), m;
    static const uint8_t odds191[] = {0xce, 0x71, 0xd8, 0x49, 0x80};
    static const uint8_t f191[] = {0xcb, 0x3f, 0xfe, 0x8f, 0x5c, 0x28, 0xf5, 0xc2, 0x8f};
    m = patched(&g, odds191, sizeof(odds191), f191, sizeof(f191));
    bad_body(&m, 400, "malformed_body");
    free(m.b);
    static const uint8_t nil = 0xc0, map0 = 0x80;
    m = patched(&g, &nil, 1, &map0, 1);
    bad_body(&m, 400, "malformed_body");
    free(m.b);
    static const uint8_t side[] = {0x93, 0x01}, deep[] = {0x93, 0x91, 0x91, 0x01};
    m = patched(&g, side, sizeof(side), deep, sizeof(deep));
    bad_body(&m, 400, "malformed_body");
    free(m.b);
    /* a top-level map */
    static const uint8_t top_map[] = {0x81, 0x01, 0x01};
    bad("/v1/odds", top_map, sizeof(top_map), 400, "malformed_body", NULL);
    free(g.b);
}

static void case_12_non_canonical(void **state)
{
    cs_mp b = {0}, m;
    cs_entry e = cs_ml(5001);
    (void)state;

    /* the integer 5 (an event id) as uint16 */
    cs_odds_body(&b, NONCE, 0, 5, &e, 1, 16);
    static const uint8_t five[] = {0x00, 0x05, 0x91}, five16[] = {0x00, 0xcd, 0x00, 0x05, 0x91};
    m = patched(&b, five, sizeof(five), five16, sizeof(five16));
    bad_body(&m, 400, "non_canonical");
    free(m.b);
    free(b.b);
    /* An odds body holds no string, so a 3-byte str8 can only stand where another type is due:
     * as the salt it is a wrong type (malformed_body, §8), whatever its size form. The size-form
     * rule is shown on the salt's own type instead: 16 bytes as bin16 (c5 0010). */
    cs_mp g = good_body();
    static const uint8_t bin8[] = {0xc4, 0x10}, bin16[] = {0xc5, 0x00, 0x10};
    m = patched(&g, bin8, sizeof(bin8), bin16, sizeof(bin16));
    bad_body(&m, 400, "non_canonical");
    free(m.b);
    m = patched(&g, bin8, 2, bin8, 2); /* a copy, its salt cut off */
    m.n -= 18;
    static const uint8_t str8[] = {0xd9, 0x03, 'a', 'b', 'c'};
    cs_put(&m, str8, sizeof(str8));
    bad_body(&m, 400, "malformed_body");
    free(m.b);
    free(g.b);
    /* markets in descending order; prices in descending side order */
    cs_entry two[2] = {cs_ml(7001002), cs_ml(7001001)};
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 0, 7001, two, 2, 16);
    bad_body(&b, 400, "non_canonical");
    free(b.b);
    e = cs_ml(7001001);
    e.p[0] = CS_AWAY, e.p[1] = CS_HOME;
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, 16);
    bad_body(&b, 400, "non_canonical");
    free(b.b);
}

/* A request of k items, item i for event base + i with per[i] markets. */
static cs_mp many(size_t k, uint64_t base, size_t per, uint64_t nonce)
{
    cs_mp req = {0};
    cs_entry *e = calloc(per, sizeof(*e));
    assert_non_null(e);
    cs_arr(&req, k);
    for (size_t i = 0; i < k; i++) {
        cs_mp b = {0};
        for (size_t j = 0; j < per; j++) {
            e[j] = cs_ml(1000 * (base + i) + 1 + j);
        }
        cs_odds_body(&b, nonce, i, base + i, e, per, 16);
        cs_item(&req, F.n.origin, SCHEMA_ODDS_SUBMISSION, &F.m, &b);
        free(b.b);
    }
    free(e);
    return req;
}

static void case_13_batch_too_large(void **state)
{
    cs_mp req;
    cs_entry e;
    (void)state;

    req = many(201, 1, 1, NONCE);
    bad("/v1/odds", req.b, req.n, 413, "batch_too_large", NULL);
    free(req.b);
    /* the bound itself passes this check (the events do not exist); a request refused whole
     * consumes its nonce in memory (§4), so this one uses a nonce below NONCE */
    req = many(200, 1, 1, NONCE - 1);
    tn_resp r;
    cs_opt o = {.nonce = NONCE - 1};
    cs_signed(&F.n, &F.m, "POST", "/v1/odds", req.b, req.n, &o, &r);
    cs_expect(&r, 422, "items_rejected");
    assert_string_equal(cs_item_err(&r, 199), "unknown_event");
    tn_resp_free(&r);
    free(req.b);
    req = many(1, 1, 65, NONCE);
    bad("/v1/odds", req.b, req.n, 413, "batch_too_large", NULL);
    free(req.b);
    /* 201 markets over four items of at most 64 */
    cs_mp r4 = {0};
    cs_entry *es = calloc(64, sizeof(*es));
    size_t per[4] = {51, 50, 50, 50};
    cs_arr(&r4, 4);
    for (size_t i = 0; i < 4; i++) {
        cs_mp b = {0};
        for (size_t j = 0; j < per[i]; j++) {
            es[j] = cs_ml(1000 * (10 + i) + 1 + j);
        }
        cs_odds_body(&b, NONCE, i, 10 + i, es, per[i], 16);
        cs_item(&r4, F.n.origin, SCHEMA_ODDS_SUBMISSION, &F.m, &b);
        free(b.b);
    }
    free(es);
    bad("/v1/odds", r4.b, r4.n, 413, "batch_too_large", NULL);
    free(r4.b);
    /* four prices in a market */
    e = cs_ml(7001001);
    e.p[2] = CS_DRAW, e.p[3] = (cs_price){SCHEMA_OVER, 2000000000, 500000000};
    e.np = 4;
    cs_mp b = {0};
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, 16);
    bad_body(&b, 413, "batch_too_large");
    free(b.b);
}

/* The details.items[0] of a 422 names idx, market_id and field. */
static void check_item_details(const tn_resp *r, size_t idx, uint64_t market, const char *field)
{
    json_t *it = cs_item0(r);
    assert_non_null(it);
    assert_int_equal(json_integer_value(json_object_get(it, "idx")), idx);
    assert_int_equal(json_integer_value(json_object_get(it, "market_id")), market);
    const char *f = json_string_value(json_object_get(it, "field"));
    assert_non_null(f);
    if (strstr(f, field) == NULL) {
        fail_msg("details field \"%s\" does not name %s", f, field);
    }
}

static void case_14_15_bounds(void **state)
{
    cs_mp req = {0}, b = {0};
    cs_entry e = cs_ml(7002001);
    tn_resp r;
    (void)state;

    /* 14: odds 1.00, in the second item so that details.idx is 1 */
    static const uint64_t bad_odds[2] = {1000000000u, 1000000000001u};
    for (int i = 0; i < 2; i++) {
        req = (cs_mp){0};
        cs_arr(&req, 2);
        cs_entry ok = cs_ml(7001001);
        b = (cs_mp){0};
        cs_odds_body(&b, NONCE, 0, 7001, &ok, 1, 16);
        cs_item(&req, F.n.origin, SCHEMA_ODDS_SUBMISSION, &F.m, &b);
        free(b.b);
        e = cs_ml(7002001);
        e.p[0].odds = bad_odds[i];
        b = (cs_mp){0};
        cs_odds_body(&b, NONCE, 1, 7002, &e, 1, 16);
        cs_item(&req, F.n.origin, SCHEMA_ODDS_SUBMISSION, &F.m, &b);
        free(b.b);
        bad("/v1/odds", req.b, req.n, 422, "invalid_field", &r);
        check_item_details(&r, 1, 7002001, "odds_n");
        tn_resp_free(&r);
        free(req.b);
    }
    /* 15: 1.91 with an implied probability of 0.6 */
    e = cs_ml(7001001);
    e.p[0].prob = 600000000;
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, 16);
    req = wrap1(&b, SCHEMA_ODDS_SUBMISSION);
    bad("/v1/odds", req.b, req.n, 422, "price_inconsistent", NULL);
    free(req.b);
    free(b.b);
}

static void case_16_sides(void **state)
{
    cs_mp b;
    cs_entry e;
    (void)state;

    /* a moneyline with only home */
    e = cs_ml(7001001);
    e.np = 1;
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, 16);
    bad_body(&b, 422, "sides_invalid");
    free(b.b);
    /* a total priced home and away */
    e = cs_ml(7001001);
    e.kind = SCHEMA_TOTAL;
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, 16);
    bad_body(&b, 422, "sides_invalid");
    free(b.b);
    /* a side repeated */
    e = cs_ml(7001001);
    e.p[1] = CS_HOME;
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, 16);
    bad_body(&b, 422, "sides_invalid");
    free(b.b);
}

static void case_17_19_items(void **state)
{
    cs_mp req, b;
    cs_entry e = cs_ml(7001001);
    uint8_t sig[64];
    (void)state;

    /* 17: the same event in two items */
    req = (cs_mp){0};
    cs_arr(&req, 2);
    for (int i = 0; i < 2; i++) {
        b = (cs_mp){0};
        cs_odds_body(&b, NONCE, (uint64_t)i, 7001, &e, 1, 16);
        cs_item(&req, F.n.origin, SCHEMA_ODDS_SUBMISSION, &F.m, &b);
        free(b.b);
    }
    bad("/v1/odds", req.b, req.n, 422, "duplicate_item", NULL);
    free(req.b);

    /* 18: an item signed by another key; an item signed for another origin */
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, 16);
    req = (cs_mp){0};
    cs_arr(&req, 1);
    cs_arr(&req, 2);
    cs_put(&req, b.b, b.n);
    cs_item_sig(F.n.origin, SCHEMA_ODDS_SUBMISSION, F.other.pk, F.other.sk, b.b, b.n, sig);
    cs_bin(&req, sig, 64);
    bad("/v1/odds", req.b, req.n, 422, "item_signature_invalid", NULL);
    free(req.b);
    req = (cs_mp){0};
    cs_arr(&req, 1);
    cs_arr(&req, 2);
    cs_put(&req, b.b, b.n);
    cs_item_sig("tally.local/2", SCHEMA_ODDS_SUBMISSION, F.m.pk, F.m.sk, b.b, b.n, sig);
    cs_bin(&req, sig, 64);
    bad("/v1/odds", req.b, req.n, 422, "item_signature_invalid", NULL);
    free(req.b);
    free(b.b);

    /* 19: the item's nonce is not Tally-Nonce; the item at position 0 says idx 1 */
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE + 1, 0, 7001, &e, 1, 16);
    bad_body(&b, 422, "item_nonce_mismatch");
    free(b.b);
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 1, 7001, &e, 1, 16);
    bad_body(&b, 422, "item_nonce_mismatch");
    free(b.b);
}

static void outcome_bad(uint64_t result, uint64_t home, uint64_t away, bool salt, unsigned status,
                        const char *code)
{
    cs_mp b = {0}, req;
    cs_outcome_body(&b, NONCE, 0, 7001, result, home, away, salt);
    req = wrap1(&b, SCHEMA_OUTCOME);
    bad("/v1/outcomes", req.b, req.n, status, code, NULL);
    free(req.b);
    free(b.b);
}

static void case_30_outcomes(void **state)
{
    (void)state;
    /* home with a score of 1-2; only score_home */
    outcome_bad(SCHEMA_R_HOME, 1, 2, true, 422, "outcome_inconsistent");
    outcome_bad(UINT64_MAX, 1, UINT64_MAX, true, 422, "outcome_incomplete");
    outcome_bad(UINT64_MAX, UINT64_MAX, UINT64_MAX, true, 422, "outcome_incomplete");
}

static void case_45_salts(void **state)
{
    cs_mp b;
    cs_entry e = cs_ml(7001001);
    (void)state;

    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, SIZE_MAX);
    bad_body(&b, 400, "malformed_body");
    free(b.b);
    b = (cs_mp){0};
    cs_odds_body(&b, NONCE, 0, 7001, &e, 1, 15);
    bad_body(&b, 400, "malformed_body");
    free(b.b);
    outcome_bad(SCHEMA_R_HOME, UINT64_MAX, UINT64_MAX, false, 400, "malformed_body");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_08_media_type),      cmocka_unit_test(case_09_too_large),
        cmocka_unit_test(case_10_11_malformed),    cmocka_unit_test(case_12_non_canonical),
        cmocka_unit_test(case_13_batch_too_large), cmocka_unit_test(case_14_15_bounds),
        cmocka_unit_test(case_16_sides),           cmocka_unit_test(case_17_19_items),
        cmocka_unit_test(case_30_outcomes),        cmocka_unit_test(case_45_salts),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
