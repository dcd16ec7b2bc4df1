/* The stateless request checks of protocol §5.2–§5.4 against the bad-input cases of §12 that
 * wire/ decides (1, 2, 10–19, 30, 45), each giving exactly the code §12 names, the §14.2 order
 * between faults, and the §8 error table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire_fixture.h"

static fx_key key;
static schema_paramset params;

/* Parses req as odds (or outcomes) and checks the failure code; returns the failure. */
static wire_fail expect(bool outcomes, const uint8_t *req, size_t n, wire_err want)
{
    wire_items it = WIRE_ITEMS_INIT;
    wire_fail f;
    tally_status st =
        outcomes ? wire_outcomes_parse(fx_origin, key.pk, FX_NONCE, &params, req, n, &it, &f)
                 : wire_odds_parse(fx_origin, key.pk, FX_NONCE, &params, req, n, &it, &f);

    if (f.err != want && want != WIRE_OK) {
        fprintf(stderr, "got %s (%s), want %s\n", wire_err_name(f.err), f.message,
                wire_err_name(want));
    }
    if (want == WIRE_OK) {
        if (st != TALLY_OK) {
            fprintf(stderr, "refused: %s: %s\n", wire_err_name(f.err), f.message);
        }
        assert_int_equal(st, TALLY_OK);
        assert_non_null(it.items);
        wire_items_release(&it);
        return f;
    }
    assert_int_not_equal(st, TALLY_OK);
    assert_int_equal(f.err, want);
    assert_null(it.items);
    assert_int_equal(it.n, 0);
    assert_true(f.message[0] != '\0');
    return f;
}

/* One odds request of the items, parsed, expecting want. */
static wire_fail odds_case(const fx_odds *items, size_t n, wire_err want)
{
    uint8_t *req;
    size_t len = fx_request(&key, items, NULL, n, &req);
    wire_fail f = expect(false, req, len, want);

    free(req);
    return f;
}

static wire_fail outcome_case(const fx_outcome *items, size_t n, wire_err want)
{
    uint8_t *req;
    size_t len = fx_request(&key, NULL, items, n, &req);
    wire_fail f = expect(true, req, len, want);

    free(req);
    return f;
}

/* A request whose item i's body has bytes [at, at + cut) replaced by rep. */
static wire_fail patched(const fx_odds *items, size_t n, size_t i, size_t at, size_t cut,
                         const char *rep_hex, wire_err want)
{
    uint8_t *bodies[8], *req, rep[64];
    size_t lens[8], rn = tu_unhex(rep_hex, rep, sizeof(rep)), len;
    wire_fail f;

    assert_true(n <= 8);
    for (size_t j = 0; j < n; j++) {
        lens[j] = fx_body(&items[j], NULL, &bodies[j]);
    }
    {
        uint8_t *b = malloc(lens[i] - cut + rn);
        assert_non_null(b);
        memcpy(b, bodies[i], at);
        memcpy(b + at, rep, rn);
        memcpy(b + at + rn, bodies[i] + at + cut, lens[i] - at - cut);
        free(bodies[i]);
        bodies[i] = b;
        lens[i] = lens[i] - cut + rn;
    }
    len = fx_request_raw(&key, fx_origin, SCHEMA_ODDS_SUBMISSION, bodies, lens, n, &req);
    f = expect(false, req, len, want);
    for (size_t j = 0; j < n; j++) {
        free(bodies[j]);
    }
    free(req);
    return f;
}

static int setup(void **state)
{
    (void)state;
    fx_key_init(&key);
    schema_paramset_default(&params);
    return 0;
}

/* ---- §8 table ---- */

static void test_error_table(void **state)
{
    (void)state;
    for (unsigned i = 0; i < WIRE_ERR_COUNT; i++) {
        const char *name = wire_err_name((wire_err)i);
        assert_non_null(name);
        assert_int_equal(wire_err_from_name(name), i);
        assert_true(wire_err_http((wire_err)i) >= 200 && wire_err_http((wire_err)i) < 600);
    }
    assert_string_equal(wire_err_name(WIRE_AUTH_MISSING), "auth_missing");
    assert_int_equal(wire_err_http(WIRE_AUTH_MISSING), 401);
    assert_int_equal(wire_err_class(WIRE_AUTH_MISSING), 'C');
    assert_int_equal(wire_err_http(WIRE_AUTH_MALFORMED), 400);
    assert_int_equal(wire_err_class(WIRE_FORBIDDEN), 'P');
    assert_int_equal(wire_err_class(WIRE_HOTKEY_COOLDOWN), 'V');
    assert_int_equal(wire_err_class(WIRE_BAD_SIGNATURE), 'X');
    assert_int_equal(wire_err_class(WIRE_NONCE_REPLAY), 'X');
    assert_int_equal(wire_err_class(WIRE_NOT_FOUND), 0);
    assert_int_equal(wire_err_http(WIRE_BATCH_TOO_LARGE), 413);
    assert_int_equal(wire_err_http(WIRE_STORAGE_FULL), 507);
    assert_int_equal(wire_err_http(WIRE_INTERNAL_ERROR), 500);
    assert_int_equal(wire_err_from_name("items_rejected"), WIRE_ITEMS_REJECTED);
    assert_int_equal(wire_err_from_name("market_closed"), WIRE_OK); /* item-level: engine_rule */
    assert_int_equal(wire_err_from_name("nope"), WIRE_OK);
    assert_null(wire_err_name(WIRE_ERR_COUNT));
    /* the 43 rows of §8, six of them naming two codes, and cosignature_invalid (§6.6a) */
    assert_int_equal(WIRE_ERR_COUNT, 50);
    assert_int_equal(wire_err_http(WIRE_COSIGNATURE_INVALID), 422);
}

/* ---- cases 1 and 2: Tally-* headers ---- */

#define HKEY "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"
#define HSIG HKEY HKEY

static wire_err auth(const char *k, const char *t, const char *n, const char *s, unsigned kc)
{
    wire_auth_headers h = {{k, k ? kc : 0}, {t, t ? 1 : 0}, {n, n ? 1 : 0}, {s, s ? 1 : 0}};
    wire_auth a;
    wire_err e = WIRE_INTERNAL_ERROR;
    tally_status st = wire_auth_parse(&h, &a, &e);

    assert_true((st == TALLY_OK) == (e == WIRE_OK));
    if (st != TALLY_OK) {
        uint8_t zero[sizeof(a)] = {0};
        assert_memory_equal(&a, zero, sizeof(a));
    }
    return e;
}

static void test_auth_headers(void **state)
{
    wire_auth_headers h = {{HKEY, 1}, {"1767225600123", 1}, {"1767225600000000", 1}, {HSIG, 1}};
    wire_auth a;
    wire_err e;
    uint8_t want[32];

    (void)state;
    assert_int_equal(wire_auth_parse(&h, &a, &e), TALLY_OK);
    assert_int_equal(e, WIRE_OK);
    tu_unhex(HKEY, want, 32);
    assert_memory_equal(a.key, want, 32);
    assert_int_equal(a.time_ms, 1767225600123ull);
    assert_int_equal(a.nonce, 1767225600000000ull);
    /* case 1 */
    assert_int_equal(auth(NULL, NULL, NULL, NULL, 0), WIRE_AUTH_MISSING);
    assert_int_equal(auth(HKEY, "1", "1", NULL, 1), WIRE_AUTH_MISSING);
    assert_int_equal(auth(HKEY, "1", NULL, "zz", 1), WIRE_AUTH_MISSING); /* missing first */
    /* case 2 */
    assert_int_equal(auth(&HKEY[1], "1", "1", HSIG, 1), WIRE_AUTH_MALFORMED); /* 63 hex */
    assert_int_equal(auth("79B5562E8FE654F94078B112E8A98BA7901F853AE695BED7E0E3910BAD049664", "1",
                          "1", HSIG, 1),
                     WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "1", "0", HSIG, 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "1", "007", HSIG, 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "1", "+5", HSIG, 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "1", "9007199254740992", HSIG, 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "1", "9007199254740991", HSIG, 1), WIRE_OK);
    assert_int_equal(auth(HKEY, "1", "1", HSIG, 2), WIRE_AUTH_MALFORMED); /* key sent twice */
    assert_int_equal(auth(HKEY, "0", "1", HSIG, 1), WIRE_OK);
    assert_int_equal(auth(HKEY, "01", "1", HSIG, 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "-1", "1", HSIG, 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "9007199254740992", "1", HSIG, 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "", "1", HSIG, 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "1 ", "1", HSIG, 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "1", "1", HSIG "0", 1), WIRE_AUTH_MALFORMED);
    assert_int_equal(auth(HKEY, "1", "1", HKEY, 1), WIRE_AUTH_MALFORMED);
    h.sig.count = 3;
    assert_int_equal(wire_auth_parse(&h, &a, &e), TALLY_EFORMAT);
    assert_int_equal(e, WIRE_AUTH_MALFORMED);
}

/* ---- valid requests ---- */

static void test_valid(void **state)
{
    static fx_odds items[WIRE_ODDS_ITEMS_MAX];
    fx_outcome outs[WIRE_OUTCOME_ITEMS_MAX + 1];
    uint8_t *req;
    size_t len;
    wire_items it = WIRE_ITEMS_INIT;
    wire_fail f;

    (void)state;
    /* the most an odds request may hold: 200 items of one market */
    for (size_t i = 0; i < WIRE_ODDS_ITEMS_MAX; i++) {
        items[i] = fx_odds_item(i, 1000 + i);
    }
    len = fx_request(&key, items, NULL, WIRE_ODDS_ITEMS_MAX, &req);
    assert_int_equal(wire_odds_parse(fx_origin, key.pk, FX_NONCE, &params, req, len, &it, &f),
                     TALLY_OK);
    assert_int_equal(it.n, WIRE_ODDS_ITEMS_MAX);
    for (size_t i = 0; i < it.n; i++) {
        const wire_item *w = &it.items[i];
        uint8_t h[32];
        assert_true(w->body.p > req && w->body.p + w->body.n < req + len);
        assert_int_equal(w->event_id, 1000 + i);
        assert_int_equal(w->header.type, SCHEMA_ODDS_SUBMISSION);
        assert_int_equal(w->header.tier, SCHEMA_EMBARGOED);
        assert_int_equal(w->header.event_id, 1000 + i);
        assert_int_equal(w->rows, 2);
        assert_int_equal(w->decoded.u.odds.idx, i);
        schema_sha256_2(h, w->body.p, w->body.n, NULL, 0);
        assert_memory_equal(w->header.body_hash, h, 32);
        assert_memory_equal(w->header.actor_sig, w->sig, 64);
        assert_int_equal(schema_record_verify(&w->header, fx_origin), TALLY_OK);
    }
    wire_items_release(&it);
    wire_items_release(&it); /* released lists are empty */
    free(req);

    /* 64 markets in one item; 200 markets over four items */
    items[0] = fx_odds_item(0, 1);
    items[0].nm = 64;
    for (size_t k = 0; k < 64; k++) {
        items[0].m[k] = fx_moneyline(10 + k);
    }
    odds_case(items, 1, WIRE_OK);
    for (size_t i = 0; i < 4; i++) {
        items[i] = fx_odds_item(i, 1 + i);
        items[i].nm = 50;
        for (size_t k = 0; k < 50; k++) {
            items[i].m[k] = fx_moneyline(10 + k);
        }
    }
    odds_case(items, 4, WIRE_OK);

    /* outcomes: 50 items, headers without rows */
    for (size_t i = 0; i < WIRE_OUTCOME_ITEMS_MAX; i++) {
        outs[i] = fx_outcome_item(i, 500 + i);
    }
    outs[3].result = -1; /* scores alone */
    outs[4].home = outs[4].away = -1; /* result alone */
    outs[5].result = 7;  /* void with scores */
    len = fx_request(&key, NULL, outs, WIRE_OUTCOME_ITEMS_MAX, &req);
    assert_int_equal(wire_outcomes_parse(fx_origin, key.pk, FX_NONCE, NULL, req, len, &it, &f),
                     TALLY_OK);
    assert_int_equal(it.n, WIRE_OUTCOME_ITEMS_MAX);
    assert_false(it.items[0].has_rows);
    assert_false(it.items[0].header.has_rows);
    assert_int_equal(it.items[0].header.type, SCHEMA_OUTCOME);
    assert_int_equal(it.items[0].header.tier, SCHEMA_EMBARGOED);
    assert_int_equal(it.items[0].decoded.u.outcome.result, 1);
    wire_items_release(&it);
    /* an odds request is not an outcome request */
    assert_int_equal(wire_odds_parse(fx_origin, key.pk, FX_NONCE, &params, req, len, &it, &f),
                     TALLY_EFORMAT);
    assert_int_equal(f.err, WIRE_MALFORMED_BODY);
    free(req);
}

/* ---- case 10: JSON, truncations, a trailing byte ---- */

static void test_case10(void **state)
{
    fx_odds items[2] = {fx_odds_item(0, 4242), fx_odds_item(1, 4243)};
    uint8_t *req, *cp;
    size_t len = fx_request(&key, items, NULL, 2, &req);
    static const char json[] = "{\"items\": []}";

    (void)state;
    expect(false, (const uint8_t *)json, strlen(json), WIRE_MALFORMED_BODY);
    expect(false, req, len, WIRE_OK);
    for (size_t cut = 0; cut < len; cut++) {
        expect(false, req, cut, WIRE_MALFORMED_BODY);
    }
    cp = malloc(len + 1);
    assert_non_null(cp);
    memcpy(cp, req, len);
    cp[len] = 0x00;
    expect(false, cp, len + 1, WIRE_MALFORMED_BODY);
    free(cp);
    free(req);
    expect(false, (const uint8_t *)"\x90", 1, WIRE_MALFORMED_BODY); /* no items */
    {
        fx_outcome o[2] = {fx_outcome_item(0, 10), fx_outcome_item(1, 11)};
        len = fx_request(&key, NULL, o, 2, &req);
        expect(true, req, len, WIRE_OK);
        for (size_t cut = 0; cut < len; cut++) {
            expect(true, req, cut, WIRE_MALFORMED_BODY);
        }
        free(req);
    }
}

/* ---- case 11: a float, a map, nesting depth 9 ---- */

static void test_case11(void **state)
{
    fx_odds it = fx_odds_item(0, 4242);
    uint8_t deep[16];
    wire_fail f;
    /* body: 95 cf<8> 00 cd1092 91 94 ce00015f91 01 c0 92 93 01 ce71d84980 ... */
    size_t odds_at = 1 + 9 + 1 + 3 + 1 + 1 + 5 + 1 + 1 + 1 + 1 + 1;

    (void)state;
    /* odds_n 1.91 as float64 */
    patched(&it, 1, 0, odds_at, 5, "cb3ffe8f5c28f5c28f", WIRE_MALFORMED_BODY);
    /* a map in place of the price array, and in place of the body */
    patched(&it, 1, 0, odds_at - 2, 1, "83", WIRE_MALFORMED_BODY);
    patched(&it, 1, 0, 0, 1, "85", WIRE_MALFORMED_BODY);
    /* a price's side as a nested array: depth 8 is still msgpack, but the wrong shape */
    f = patched(&it, 1, 0, odds_at - 1, 1, "9101", WIRE_MALFORMED_BODY);
    assert_null(strstr(f.message, "nested"));
    /* nine nested arrays */
    memset(deep, 0x91, 9);
    deep[9] = 0x01;
    f = expect(false, deep, 10, WIRE_MALFORMED_BODY);
    assert_non_null(strstr(f.message, "nested"));
    /* a positive value as int8 is valid msgpack but not canonical; 0xc1 never is msgpack */
    patched(&it, 1, 0, 10, 1, "d000", WIRE_NON_CANONICAL);
    patched(&it, 1, 0, 10, 1, "c1", WIRE_MALFORMED_BODY);
}

/* ---- case 12: non-smallest forms, markets or prices out of order ---- */

static void test_case12(void **state)
{
    fx_odds items[6];
    fx_odds one = fx_odds_item(0, 4242);

    (void)state;
    for (size_t i = 0; i < 6; i++) {
        items[i] = fx_odds_item(i, 100 + i);
    }
    /* item 5's idx, 5, as uint16 (cd0005): byte 10 of its body */
    patched(items, 6, 5, 10, 1, "cd0005", WIRE_NON_CANONICAL);
    /* the salt as bin16; the markets array as array16 */
    patched(&one, 1, 0, 66 - 18, 2, "c50010", WIRE_NON_CANONICAL);
    patched(&one, 1, 0, 14, 1, "dc0001", WIRE_NON_CANONICAL);
    /* a malformed item after a non-canonical one: malformed wins */
    {
        fx_odds two[2] = {fx_odds_item(0, 1), fx_odds_item(1, 2)};
        two[1].salt_len = 15;
        patched(two, 2, 0, 10, 1, "cd0000", WIRE_MALFORMED_BODY);
    }
    /* markets out of order, and repeated; prices out of order */
    one.nm = 2;
    one.m[0] = fx_moneyline(90002);
    one.m[1] = fx_moneyline(90001);
    odds_case(&one, 1, WIRE_NON_CANONICAL);
    one.m[1] = fx_moneyline(90002);
    odds_case(&one, 1, WIRE_NON_CANONICAL);
    one = fx_odds_item(0, 4242);
    one.m[0].p[0] = (fx_price){2, 2100000000, 476190476};
    one.m[0].p[1] = (fx_price){1, 1910000000, 523560209};
    odds_case(&one, 1, WIRE_NON_CANONICAL);
}

/* ---- case 13: counts ---- */

static void test_case13(void **state)
{
    static fx_odds items[WIRE_ODDS_ITEMS_MAX + 1];
    fx_outcome outs[WIRE_OUTCOME_ITEMS_MAX + 1];
    wire_fail f;

    (void)state;
    for (size_t i = 0; i <= WIRE_ODDS_ITEMS_MAX; i++) {
        items[i] = fx_odds_item(i, 1000 + i);
    }
    f = odds_case(items, WIRE_ODDS_ITEMS_MAX + 1, WIRE_BATCH_TOO_LARGE);
    assert_false(f.has_idx);
    /* 65 markets in one item */
    items[0].nm = 65;
    for (size_t k = 0; k < 65; k++) {
        items[0].m[k] = fx_moneyline(10 + k);
    }
    f = odds_case(items, 1, WIRE_BATCH_TOO_LARGE);
    assert_true(f.has_idx);
    assert_int_equal(f.idx, 0);
    /* 201 markets over five items */
    for (size_t i = 0; i < 5; i++) {
        items[i] = fx_odds_item(i, 1 + i);
        items[i].nm = i < 4 ? 50 : 1;
        for (size_t k = 0; k < items[i].nm; k++) {
            items[i].m[k] = fx_moneyline(10 + k);
        }
    }
    f = odds_case(items, 5, WIRE_BATCH_TOO_LARGE);
    assert_int_equal(f.idx, 4);
    /* 4 prices in a market (the side set would be invalid too: counts come first) */
    items[0] = fx_odds_item(0, 1);
    items[0].m[0].np = 4;
    for (size_t j = 0; j < 4; j++) {
        items[0].m[0].p[j] = (fx_price){j + 1, 2000000000, 500000000};
    }
    odds_case(items, 1, WIRE_BATCH_TOO_LARGE);
    /* counts before the side set of an earlier item */
    items[0] = fx_odds_item(0, 1);
    items[0].m[0].np = 1;
    items[1] = fx_odds_item(1, 2);
    items[1].nm = 65;
    for (size_t k = 0; k < 65; k++) {
        items[1].m[k] = fx_moneyline(10 + k);
    }
    odds_case(items, 2, WIRE_BATCH_TOO_LARGE);
    /* 51 outcomes */
    for (size_t i = 0; i <= WIRE_OUTCOME_ITEMS_MAX; i++) {
        outs[i] = fx_outcome_item(i, 500 + i);
    }
    outcome_case(outs, WIRE_OUTCOME_ITEMS_MAX + 1, WIRE_BATCH_TOO_LARGE);
}

/* ---- case 14: field bounds with details; case 15: price consistency ---- */

static void test_case14_15(void **state)
{
    fx_odds it[2] = {fx_odds_item(0, 4242), fx_odds_item(1, 4243)};
    wire_fail f;

    (void)state;
    it[1].m[0].p[0].odds_n = 1000000000; /* 1.00 */
    f = odds_case(it, 2, WIRE_INVALID_FIELD);
    assert_true(f.has_idx);
    assert_int_equal(f.idx, 1);
    assert_int_equal(f.market_id, 90101);
    assert_string_equal(f.field, "markets[0].prices[0].odds_n");
    it[1].m[0].p[0].odds_n = 1000000000001ull;
    f = odds_case(it, 2, WIRE_INVALID_FIELD);
    assert_string_equal(f.field, "markets[0].prices[0].odds_n");
    /* the schema's own bounds: market_id 0, kind 9, idx 200, priced_at over 2^53 − 1 */
    it[1] = fx_odds_item(1, 4243);
    it[1].nm = 2;
    it[1].m[1] = fx_moneyline(90200);
    it[1].m[1].kind = 9;
    f = odds_case(it, 2, WIRE_INVALID_FIELD);
    assert_string_equal(f.field, "markets[1].kind");
    assert_int_equal(f.market_id, 90200);
    it[1] = fx_odds_item(1, 4243);
    it[1].m[0].id = 0;
    f = odds_case(it, 2, WIRE_INVALID_FIELD);
    assert_string_equal(f.field, "markets[0].market_id");
    it[1] = fx_odds_item(200, 4243);
    f = odds_case(it, 2, WIRE_INVALID_FIELD);
    assert_string_equal(f.field, "idx");
    /* an item without markets */
    it[1] = fx_odds_item(1, 4243);
    it[1].nm = 0;
    f = odds_case(it, 2, WIRE_INVALID_FIELD);
    assert_string_equal(f.field, "markets");
    /* imp_prob_n outside security.prob_min..prob_max */
    it[1] = fx_odds_item(1, 4243);
    it[1].m[0].p[1].prob_n = 999500000;
    f = odds_case(it, 2, WIRE_INVALID_FIELD);
    assert_string_equal(f.field, "markets[0].prices[1].imp_prob_n");

    /* case 15: 1.91 with imp_prob 0.6 */
    it[1] = fx_odds_item(1, 4243);
    it[1].m[0].p[0].prob_n = 600000000;
    f = odds_case(it, 2, WIRE_PRICE_INCONSISTENT);
    assert_int_equal(f.idx, 1);
    assert_int_equal(f.market_id, 90101);
    assert_string_equal(f.field, "markets[0].prices[0].imp_prob_n");
    /* within ingest.prob_tolerance (1e5 nanos) passes */
    it[1].m[0].p[0].prob_n = 523560209 + 100000;
    odds_case(it, 2, WIRE_OK);
    it[1].m[0].p[0].prob_n = 523560209 + 100001;
    odds_case(it, 2, WIRE_PRICE_INCONSISTENT);
    /* bounds before consistency, across markets of the item (§14.2) */
    it[1] = fx_odds_item(1, 4243);
    it[1].nm = 2;
    it[1].m[0].p[0].prob_n = 600000000;
    it[1].m[1] = fx_moneyline(90200);
    it[1].m[1].p[1].odds_n = 5000000000000ull;
    f = odds_case(it, 2, WIRE_INVALID_FIELD);
    assert_int_equal(f.market_id, 90200);
    /* but an earlier item's inconsistency before a later item's bound */
    it[0].m[0].p[0].prob_n = 600000000;
    f = odds_case(it, 2, WIRE_PRICE_INCONSISTENT);
    assert_int_equal(f.idx, 0);
}

/* ---- case 16: side sets ---- */

static void test_case16(void **state)
{
    fx_odds it = fx_odds_item(0, 4242);
    wire_fail f;

    (void)state;
    it.m[0].np = 1; /* moneyline with only home */
    f = odds_case(&it, 1, WIRE_SIDES_INVALID);
    assert_int_equal(f.market_id, 90001);
    it = fx_odds_item(0, 4242);
    it.m[0].kind = 3; /* total with home and away */
    odds_case(&it, 1, WIRE_SIDES_INVALID);
    it = fx_odds_item(0, 4242);
    it.m[0].p[1].side = 1; /* a side repeated */
    odds_case(&it, 1, WIRE_SIDES_INVALID);
    it = fx_odds_item(0, 4242);
    it.m[0].kind = 2; /* spread with a draw */
    it.m[0].np = 3;
    it.m[0].p[2] = (fx_price){3, 3000000000, 333333333};
    odds_case(&it, 1, WIRE_SIDES_INVALID);
    it.m[0].kind = 1; /* moneyline with a draw is fine */
    odds_case(&it, 1, WIRE_OK);
    it = fx_odds_item(0, 4242);
    it.m[0].kind = 3; /* a total over/under is fine */
    it.m[0].p[0].side = 4;
    it.m[0].p[1].side = 5;
    odds_case(&it, 1, WIRE_OK);
    /* sides before bounds within an item: market 0 out of bounds, market 1 one price */
    it = fx_odds_item(0, 4242);
    it.nm = 2;
    it.m[0].p[0].odds_n = 1;
    it.m[1] = fx_moneyline(90002);
    it.m[1].np = 1;
    f = odds_case(&it, 1, WIRE_SIDES_INVALID);
    assert_int_equal(f.market_id, 90002);
}

/* ---- cases 17, 18, 19 ---- */

static void test_case17_18_19(void **state)
{
    fx_odds it[3] = {fx_odds_item(0, 4242), fx_odds_item(1, 4243), fx_odds_item(2, 4242)};
    uint8_t *bodies[2], *req;
    size_t lens[2], len;
    fx_key other;
    wire_fail f;

    (void)state;
    f = odds_case(it, 3, WIRE_DUPLICATE_ITEM);
    assert_int_equal(f.idx, 2);
    /* case 19 */
    it[2] = fx_odds_item(2, 4244);
    it[1].nonce = FX_NONCE + 1;
    f = odds_case(it, 3, WIRE_ITEM_NONCE_MISMATCH);
    assert_int_equal(f.idx, 1);
    it[1] = fx_odds_item(1, 4243);
    it[0].idx = 1;
    f = odds_case(it, 1, WIRE_ITEM_NONCE_MISMATCH);
    assert_int_equal(f.idx, 0);
    it[0].idx = 0;
    /* a duplicate before a nonce fault of the same item */
    it[1].event_id = 4242;
    it[1].nonce = 7;
    odds_case(it, 2, WIRE_DUPLICATE_ITEM);
    it[1] = fx_odds_item(1, 4243);

    /* case 18: item 1 signed by another key, or for another origin */
    fx_key_other(&other);
    for (size_t i = 0; i < 2; i++) {
        lens[i] = fx_body(&it[i], NULL, &bodies[i]);
    }
    {
        schema_mpw w;
        uint8_t sig[64];
        schema_mpw_init(&w, 1u << 16);
        schema_mpw_array(&w, 2);
        for (size_t i = 0; i < 2; i++) {
            fx_sign(i == 1 ? &other : &key, fx_origin, SCHEMA_ODDS_SUBMISSION, bodies[i], lens[i],
                    sig);
            schema_mpw_array(&w, 2);
            schema_mpw_raw(&w, bodies[i], lens[i]);
            schema_mpw_bin(&w, sig, 64);
        }
        assert_int_equal(schema_mpw_finish(&w, &req, &len), TALLY_OK);
        f = expect(false, req, len, WIRE_ITEM_SIGNATURE_INVALID);
        assert_int_equal(f.idx, 1);
        free(req);
    }
    len = fx_request_raw(&key, (tally_str){"tally.example.org/58", 20}, SCHEMA_ODDS_SUBMISSION,
                         bodies, lens, 2, &req);
    f = expect(false, req, len, WIRE_ITEM_SIGNATURE_INVALID);
    assert_int_equal(f.idx, 0);
    free(req);
    /* signed as an outcome (type 11) */
    len = fx_request_raw(&key, fx_origin, SCHEMA_OUTCOME, bodies, lens, 2, &req);
    expect(false, req, len, WIRE_ITEM_SIGNATURE_INVALID);
    free(req);
    /* signatures last: a bad signature on item 0 and a nonce fault on item 1 */
    it[1].nonce = 5;
    free(bodies[1]);
    lens[1] = fx_body(&it[1], NULL, &bodies[1]);
    len = fx_request_raw(&key, (tally_str){"tally.example.org/58", 20}, SCHEMA_ODDS_SUBMISSION,
                         bodies, lens, 2, &req);
    f = expect(false, req, len, WIRE_ITEM_NONCE_MISMATCH);
    assert_int_equal(f.idx, 1);
    free(req);
    for (size_t i = 0; i < 2; i++) {
        free(bodies[i]);
    }
    /* the key the node checks against is Tally-Key */
    len = fx_request(&key, it, NULL, 1, &req);
    {
        wire_items w = WIRE_ITEMS_INIT;
        assert_int_equal(wire_odds_parse(fx_origin, other.pk, FX_NONCE, &params, req, len, &w,
                                         &f),
                         TALLY_EAUTH);
        assert_int_equal(f.err, WIRE_ITEM_SIGNATURE_INVALID);
        assert_null(w.items);
    }
    free(req);
}

/* ---- case 30: outcomes; case 45: salts ---- */

static void test_case30_45(void **state)
{
    fx_outcome o[2] = {fx_outcome_item(0, 10), fx_outcome_item(1, 11)};
    fx_odds it = fx_odds_item(0, 4242);
    wire_fail f;

    (void)state;
    outcome_case(o, 2, WIRE_OK);
    o[1].home = 1; /* home with scores 1–2 */
    o[1].away = 2;
    f = outcome_case(o, 2, WIRE_OUTCOME_INCONSISTENT);
    assert_int_equal(f.idx, 1);
    o[1] = fx_outcome_item(1, 11);
    o[1].result = -1; /* only score_home */
    o[1].away = -1;
    outcome_case(o, 2, WIRE_OUTCOME_INCOMPLETE);
    o[1].home = -1; /* nothing at all */
    outcome_case(o, 2, WIRE_OUTCOME_INCOMPLETE);
    o[1] = fx_outcome_item(1, 11);
    o[1].result = 4; /* not a result code */
    f = outcome_case(o, 2, WIRE_INVALID_FIELD);
    assert_string_equal(f.field, "result");
    o[1].result = 1;
    o[1].home = 10000;
    f = outcome_case(o, 2, WIRE_INVALID_FIELD);
    assert_string_equal(f.field, "score_home");
    o[1] = fx_outcome_item(1, 11);
    o[1].source = 1;
    f = outcome_case(o, 2, WIRE_INVALID_FIELD);
    assert_string_equal(f.field, "source");
    o[1] = fx_outcome_item(1, 10);
    outcome_case(o, 2, WIRE_DUPLICATE_ITEM);
    o[1] = fx_outcome_item(0, 11);
    outcome_case(o, 2, WIRE_ITEM_NONCE_MISMATCH);
    /* case 45 */
    o[1] = fx_outcome_item(1, 11);
    o[1].salt_nil = true;
    outcome_case(o, 2, WIRE_MALFORMED_BODY);
    it.salt_len = 0;
    odds_case(&it, 1, WIRE_MALFORMED_BODY);
    it.salt_len = 15;
    odds_case(&it, 1, WIRE_MALFORMED_BODY);
    it.salt_len = 17;
    odds_case(&it, 1, WIRE_MALFORMED_BODY);
}

/* ---- the client's side: JSON to bodies, signing, building ---- */

static void test_from_json(void **state)
{
    static const char req[] =
        "{\"items\": [{\"event_id\": 4242, \"markets\": [{\"market_id\": 90001, \"kind\": "
        "\"moneyline\", \"priced_at_ms\": null, \"prices\": [{\"side\": \"home\", \"odds_n\": "
        "1910000000, \"imp_prob_n\": 523560209}, {\"side\": \"away\", \"odds_n\": 2100000000, "
        "\"imp_prob_n\": 476190476}]}], \"salt\": \"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\"}, "
        "{\"event_id\": 4243, \"markets\": [{\"market_id\": 90002, \"kind\": \"moneyline\", "
        "\"priced_at_ms\": null, \"prices\": [{\"side\": \"home\", \"odds_n\": 1910000000, "
        "\"imp_prob_n\": 523560209}, {\"side\": \"away\", \"odds_n\": 2100000000, "
        "\"imp_prob_n\": 476190476}]}]}]}";
    uint8_t want[80], sigs[2][64], *body;
    size_t want_n = tu_unhex("95cf000647484620400000cd10929194ce00015f9101c0929301ce71d84980ce1f"
                             "34e5119302ce7d2b7500ce1c62170cc410f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
                             want, sizeof(want)),
           n;
    wire_bodies b = WIRE_BODIES_INIT, b2 = WIRE_BODIES_INIT;
    wire_signed items[2];
    wire_items parsed = WIRE_ITEMS_INIT;
    wire_fail f;
    schema_field_error err;

    (void)state;
    assert_int_equal(wire_odds_from_json(req, strlen(req), FX_NONCE, &b, &err), TALLY_OK);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.len[0], want_n); /* the §4 vector's body, salt given */
    assert_memory_equal(b.body[0], want, want_n);
    assert_int_equal(wire_odds_from_json(req, strlen(req), FX_NONCE, &b2, &err), TALLY_OK);
    assert_int_equal(b.len[1], b2.len[1]); /* fresh salts differ */
    assert_memory_not_equal(b.body[1], b2.body[1], b.len[1]);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(wire_item_sign(fx_origin, SCHEMA_ODDS_SUBMISSION, key.pk, key.sk,
                                        b.body[i], b.len[i], sigs[i]),
                         TALLY_OK);
        items[i] = (wire_signed){{b.body[i], b.len[i]}, sigs[i]};
    }
    assert_int_equal(wire_request_build(items, 2, &body, &n), TALLY_OK);
    assert_int_equal(wire_odds_parse(fx_origin, key.pk, FX_NONCE, &params, body, n, &parsed, &f),
                     TALLY_OK);
    assert_int_equal(parsed.n, 2);
    assert_int_equal(parsed.items[1].decoded.u.odds.idx, 1);
    wire_items_release(&parsed);
    free(body);
    wire_bodies_release(&b);
    wire_bodies_release(&b2);
    assert_int_equal(wire_request_build(items, 0, &body, &n), TALLY_EINVAL);
    assert_null(body);

    /* a bad kind names its field; a nonce that differs is refused */
    {
        static const char bad[] = "{\"items\": [{\"event_id\": 1, \"markets\": [{\"market_id\": "
                                  "1, \"kind\": \"moneyball\", \"priced_at_ms\": null, "
                                  "\"prices\": []}]}]}";
        static const char nonce[] = "{\"items\": [{\"nonce\": 5, \"event_id\": 1}]}";
        assert_int_equal(wire_odds_from_json(bad, strlen(bad), FX_NONCE, &b, &err),
                         TALLY_EFORMAT);
        assert_non_null(strstr(err.path, "items[0].markets[0]"));
        assert_int_equal(b.n, 0);
        assert_int_equal(wire_odds_from_json(nonce, strlen(nonce), FX_NONCE, &b, &err),
                         TALLY_EFORMAT);
        assert_int_equal(wire_odds_from_json("[]", 2, FX_NONCE, &b, &err), TALLY_EFORMAT);
    }
    /* outcomes: source defaults to the miner's */
    {
        static const char outs[] = "{\"items\": [{\"event_id\": 7, \"result\": \"home\", "
                                   "\"score_home\": 2, \"score_away\": 0}]}";
        assert_int_equal(wire_outcomes_from_json(outs, strlen(outs), FX_NONCE, &b, &err),
                         TALLY_OK);
        assert_int_equal(b.n, 1);
        assert_int_equal(wire_item_sign(fx_origin, SCHEMA_OUTCOME, key.pk, key.sk, b.body[0],
                                        b.len[0], sigs[0]),
                         TALLY_OK);
        items[0] = (wire_signed){{b.body[0], b.len[0]}, sigs[0]};
        assert_int_equal(wire_request_build(items, 1, &body, &n), TALLY_OK);
        assert_int_equal(wire_outcomes_parse(fx_origin, key.pk, FX_NONCE, NULL, body, n,
                                             &parsed, &f),
                         TALLY_OK);
        assert_int_equal(parsed.items[0].decoded.u.outcome.source, 2);
        wire_items_release(&parsed);
        free(body);
        wire_bodies_release(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_table), cmocka_unit_test(test_auth_headers),
        cmocka_unit_test(test_valid),       cmocka_unit_test(test_case10),
        cmocka_unit_test(test_case11),      cmocka_unit_test(test_case12),
        cmocka_unit_test(test_case13),      cmocka_unit_test(test_case14_15),
        cmocka_unit_test(test_case16),      cmocka_unit_test(test_case17_18_19),
        cmocka_unit_test(test_case30_45),   cmocka_unit_test(test_from_json),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, setup, NULL);
}
