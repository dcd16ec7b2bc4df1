/* sim's live runs (sim.h): miners of every kind with the generator's keys, events whose bodies
 * pass the schema, and odds and outcome bodies that are deterministic, carry the request's nonce
 * and idx, and pass every stateless check the node applies (wire_odds_parse,
 * wire_outcomes_parse) once signed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "wire/wire.h"

#define ORIGIN "tally.local/1"

static sim_gen *gen(uint64_t seed, unsigned miners)
{
    sim_cfg c = {.seed = seed, .miners = miners, .markets_per_day = 3, .code_version = "test"};
    sim_gen *g;
    assert_int_equal(sim_gen_new(&c, &g), TALLY_OK);
    return g;
}

static void miners_of_every_kind(void **state)
{
    sim_gen *g = gen(1, 200), *h = gen(1, 200);
    unsigned kinds[SIM_KIND_COUNT] = {0};
    sim_miner m, n;
    (void)state;

    for (unsigned i = 0; i < 200; i++) {
        assert_int_equal(sim_gen_miner(g, i, &m), TALLY_OK);
        assert_int_equal(sim_gen_miner(h, i, &n), TALLY_OK);
        assert_int_equal(m.uid, i);
        assert_int_equal(m.kind, n.kind);
        assert_memory_equal(m.pk, n.pk, 32);
        assert_true(m.lead_max_ms > m.lead_min_ms);
        kinds[m.kind]++;
    }
    for (unsigned k = 0; k < SIM_KIND_COUNT; k++) {
        assert_true(kinds[k] > 0);
        assert_string_not_equal(sim_kind_name((sim_kind)k), "?");
    }
    assert_int_equal(sim_gen_miner(g, 200, &m), TALLY_EINVAL);
    assert_null(m.pk);
    sim_gen_free(g);
    sim_gen_free(h);
}

static void events_pass_the_schema(void **state)
{
    sim_gen *g = gen(2, 4);
    sim_live_event *e = calloc(1, sizeof(*e));
    (void)state;

    assert_non_null(e);
    for (uint64_t id = 1; id < 40; id++) {
        assert_int_equal(sim_live_event_make(g, 177000000000000ull + id, 1767225600000ull, e),
                         TALLY_OK);
        assert_int_equal(schema_body_check(&e->event, NULL), TALLY_OK);
        for (unsigned m = 0; m < 3; m++) {
            assert_int_equal(schema_body_check(&e->market[m], NULL), TALLY_OK);
            assert_int_equal(e->market[m].u.market.market_id, e->event_id * 10 + m + 1);
        }
    }
    assert_int_equal(sim_live_event_make(g, 0, 1, e), TALLY_EINVAL);
    assert_int_equal(sim_live_event_make(g, SIM_LIVE_EVENT_ID_MAX + 1, 1, e), TALLY_EINVAL);
    free(e);
    sim_gen_free(g);
}

/* Bodies of every miner for two events, signed and parsed as the node parses a request. */
static void bodies_pass_the_stateless_checks(void **state)
{
    sim_gen *g = gen(3, 40);
    sim_live_event *e = calloc(2, sizeof(*e));
    tally_str origin = {ORIGIN, strlen(ORIGIN)};
    schema_paramset ps;
    (void)state;

    assert_non_null(e);
    schema_paramset_default(&ps);
    assert_int_equal(sim_live_event_make(g, 5001, 1767225600000ull + 3600000ull, &e[0]), TALLY_OK);
    assert_int_equal(sim_live_event_make(g, 5002, 1767225600000ull + 7200000ull, &e[1]), TALLY_OK);
    for (unsigned u = 0; u < 40; u++) {
        uint8_t body[2][1024], again[1024], sig[2][64], *req = NULL;
        size_t len[2], n2, rn;
        wire_signed it[2];
        wire_items items = WIRE_ITEMS_INIT;
        wire_fail wf;
        sim_miner m;
        uint64_t nonce = 1767225600000000ull + u;
        assert_int_equal(sim_gen_miner(g, u, &m), TALLY_OK);
        for (unsigned k = 0; k < 2; k++) {
            assert_int_equal(sim_live_odds(g, &m, &e[k], 1767225600000ull, nonce, k, body[k],
                                           sizeof(body[k]), &len[k]),
                             TALLY_OK);
            assert_int_equal(wire_item_sign(origin, SCHEMA_ODDS_SUBMISSION, m.pk, m.sk, body[k],
                                            len[k], sig[k]),
                             TALLY_OK);
            it[k] = (wire_signed){{body[k], len[k]}, sig[k]};
        }
        /* the same inputs give the same bytes */
        assert_int_equal(sim_live_odds(g, &m, &e[0], 1767225600000ull, nonce, 0, again,
                                       sizeof(again), &n2),
                         TALLY_OK);
        assert_int_equal(n2, len[0]);
        assert_memory_equal(again, body[0], n2);
        /* an event lowered to its moneyline alone is priced on that market only */
        {
            sim_live_event one = e[0];
            schema_body d;
            one.n_markets = 1;
            assert_int_equal(sim_live_odds(g, &m, &one, 1767225600000ull, nonce, 0, again,
                                           sizeof(again), &n2),
                             TALLY_OK);
            assert_int_equal(schema_body_decode(SCHEMA_ODDS_SUBMISSION, again, n2, &d), TALLY_OK);
            assert_int_equal(d.u.odds.n_markets, 1);
            assert_int_equal(d.u.odds.markets[0].kind, SCHEMA_MONEYLINE);
            schema_body_release(&d);
            one.n_markets = 0;
            assert_int_equal(sim_live_odds(g, &m, &one, 1767225600000ull, nonce, 0, again,
                                           sizeof(again), &n2),
                             TALLY_EINVAL);
        }
        assert_int_equal(wire_request_build(it, 2, &req, &rn), TALLY_OK);
        assert_int_equal(wire_odds_parse(origin, m.pk, nonce, &ps, req, rn, &items, &wf), TALLY_OK);
        assert_int_equal(items.n, 2);
        wire_items_release(&items);
        free(req);
        /* an outcome report of the first event */
        assert_int_equal(sim_live_outcome(g, &m, &e[0], nonce + 1, 0, body[0], sizeof(body[0]),
                                          &len[0]),
                         TALLY_OK);
        assert_int_equal(
            wire_item_sign(origin, SCHEMA_OUTCOME, m.pk, m.sk, body[0], len[0], sig[0]), TALLY_OK);
        it[0] = (wire_signed){{body[0], len[0]}, sig[0]};
        assert_int_equal(wire_request_build(it, 1, &req, &rn), TALLY_OK);
        assert_int_equal(
            wire_outcomes_parse(origin, m.pk, nonce + 1, &ps, req, rn, &items, &wf), TALLY_OK);
        wire_items_release(&items);
        free(req);
    }
    /* too small a buffer */
    {
        uint8_t small[8];
        size_t n;
        sim_miner m;
        assert_int_equal(sim_gen_miner(g, 0, &m), TALLY_OK);
        assert_int_equal(sim_live_odds(g, &m, &e[0], 1767225600000ull, 7, 0, small, sizeof(small),
                                       &n),
                         TALLY_ELIMIT);
        assert_int_equal(n, 0);
    }
    free(e);
    sim_gen_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(miners_of_every_kind),
        cmocka_unit_test(events_pass_the_schema),
        cmocka_unit_test(bodies_pass_the_stateless_checks),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
