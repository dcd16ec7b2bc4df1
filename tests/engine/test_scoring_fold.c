/* The §11.12 end-to-end example of spec/scoring.md through the fold (records in, MINER_SCOREs
 * and WEIGHTS out), with the fold's helpers: records applied in seq order, one-price odds
 * submissions kept for engine_load to read back, and the next SCORING_CYCLE. Tolerances are the
 * spec's: ±5e-9 unless stated. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/scoring_test.h"

typedef struct rec {
    schema_header h;
    schema_body b;
} rec;

static uint64_t g_seq;

/* The ODDS_SUBMISSIONs of the fold, for engine_load to read back by seq. (One-sided entries,
 * as in the spec's example, are below the wire minimum of two prices, so they stay structs.) */
static struct {
    uint64_t seq;
    schema_header h;
    schema_price pr[3];
    schema_entry en;
    schema_odds odds;
} g_odds[16];
static size_t g_n_odds;

static void put(engine *e, rec *r, uint64_t time_ms)
{
    r->h.type = r->b.type;
    r->h.time_ms = time_ms;
    assert_int_equal(engine_apply(e, g_seq++, &r->h, &r->b), TALLY_OK);
}

static void acct(uint8_t out[32], uint8_t tag)
{
    memset(out, 0, 32);
    out[0] = tag;
}

/* Adds a one-price-per-side submission by the miner with key tag `who`. */
static void odds(engine *e, uint8_t who, uint64_t event, uint64_t market, uint64_t kind,
                 const uint64_t *sides, const uint64_t *o, size_t n, int64_t t)
{
    rec r = {0};
    schema_price pr[3];
    schema_entry en;
    for (size_t i = 0; i < n; i++) {
        pr[i] = (schema_price){sides[i], o[i], 1000000000000000000ull / o[i]};
    }
    en = (schema_entry){.market_id = market, .kind = kind, .prices = pr, .n_prices = n};
    r.b.type = SCHEMA_ODDS_SUBMISSION;
    r.b.u.odds = (schema_odds){.event_id = event, .markets = &en, .n_markets = 1};
    acct(r.h.actor, (uint8_t)(0x80 | who));
    r.h.has_rows = true, r.h.rows = n;
    assert_true(g_n_odds < 16);
    g_odds[g_n_odds].seq = g_seq;
    memcpy(g_odds[g_n_odds].pr, pr, sizeof(pr));
    g_odds[g_n_odds].en = en;
    g_odds[g_n_odds].en.prices = g_odds[g_n_odds].pr;
    g_odds[g_n_odds].odds = r.b.u.odds;
    g_odds[g_n_odds].odds.markets = &g_odds[g_n_odds].en;
    put(e, &r, (uint64_t)t);
    g_odds[g_n_odds++].h = r.h;
}

static tally_status fetch_odds(uint64_t seq, void *arg, schema_header *h, schema_body *b)
{
    (void)arg;
    for (size_t i = 0; i < g_n_odds; i++) {
        if (g_odds[i].seq == seq) {
            *h = g_odds[i].h;
            memset(b, 0, sizeof(*b));
            b->type = SCHEMA_ODDS_SUBMISSION;
            b->u.odds = g_odds[i].odds;
            return TALLY_OK;
        }
    }
    return TALLY_ENOTFOUND;
}

/* Runs the next SCORING_CYCLE of the fold at as_of (covering everything applied). */
static void next_cycle(engine *e, uint64_t *cycle_no, int64_t as_of, engine_block *blk)
{
    schema_scoring_cycle c = {
        .cycle = (*cycle_no)++, .as_of_ms = (uint64_t)as_of, .covers_to = g_seq};
    schema_header h = {.type = SCHEMA_SCORING_CYCLE, .time_ms = (uint64_t)as_of + 1000};
    assert_int_equal(engine_cycle(e, g_seq, &h, &c, blk), TALLY_OK);
    assert_int_equal(engine_apply(e, g_seq++, &h, NULL), TALLY_OK);
}

static void test_end_to_end_11_12(void **state)
{
    engine *e;
    rec r;
    schema_neuron nn[5];
    schema_cprice cp[2];
    uint64_t ml_sides[2] = {SCHEMA_HOME, SCHEMA_AWAY}, tot_sides[2] = {SCHEMA_OVER, SCHEMA_UNDER};
    int64_t m1_start = MS_2026_02_25_18, m2_start = m1_start + DAY + 7 * HOUR; /* 02-27 01:00 */
    int64_t as_of = m1_start + 3 * DAY + 6 * HOUR;                             /* 03-01 00:00 */
    engine_block blk;
    (void)state;
    g_seq = 0, g_n_odds = 0;
    assert_int_equal(engine_new(&e), TALLY_OK);

    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_GENESIS;
    r.b.u.genesis.netuid = 57;
    r.b.u.genesis.chain = (schema_chain_params){.netuid = 57,
                                                .max_weight_limit = 65535,
                                                .min_allowed_weights = 1,
                                                .has_owner_hotkey = true};
    acct(r.b.u.genesis.chain.owner_hotkey, 1);
    put(e, &r, (uint64_t)(m1_start - 10 * DAY));

    memset(nn, 0, sizeof(nn));
    for (int u = 0; u < 5; u++) {
        nn[u].uid = (uint64_t)u;
        acct(nn[u].hotkey, (uint8_t)(1 + u));
        nn[u].has_tally_key = true;
        acct(nn[u].tally_key, (uint8_t)(0x80 | u));
    }
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_METAGRAPH;
    r.b.u.metagraph = (schema_metagraph){57, 1, 0, 1, nn, 5};
    put(e, &r, (uint64_t)(m1_start - 10 * DAY));

    /* events and markets */
    for (int k = 0; k < 2; k++) {
        memset(&r, 0, sizeof(r));
        r.b.type = SCHEMA_EVENT;
        r.b.u.event.event_id = 100u + (uint64_t)k;
        r.b.u.event.start_ms = (uint64_t)(k == 0 ? m1_start : m2_start);
        r.b.u.event.status = SCHEMA_SCHEDULED;
        put(e, &r, (uint64_t)(m1_start - 9 * DAY));
        memset(&r, 0, sizeof(r));
        r.b.type = SCHEMA_MARKET;
        r.b.u.market = (schema_market){.market_id = 1000u + (uint64_t)k,
                                       .event_id = 100u + (uint64_t)k,
                                       .kind = k == 0 ? SCHEMA_MONEYLINE : SCHEMA_TOTAL,
                                       .has_line_n = k == 1,
                                       .line_n = 220500000000ll,
                                       .sides = k == 0 ? ml_sides : tot_sides,
                                       .n_sides = 2};
        put(e, &r, (uint64_t)(m1_start - 9 * DAY));
    }
    /* submissions in time order */
    int64_t t0 = m1_start;
    odds(e, 3, 100, 1000, SCHEMA_MONEYLINE, (uint64_t[]){SCHEMA_AWAY}, (uint64_t[]){2400000000}, 1,
         t0 - 7 * DAY + 30000); /* C 02-18 18:00 */
    odds(e, 1, 100, 1000, SCHEMA_MONEYLINE, (uint64_t[]){SCHEMA_HOME}, (uint64_t[]){2050000000}, 1,
         t0 - 3 * DAY - 4 * HOUR - 31 * MIN + 45000); /* A 02-22 13:29:45 */
    odds(e, 2, 100, 1000, SCHEMA_MONEYLINE, (uint64_t[]){SCHEMA_HOME}, (uint64_t[]){1700000000}, 1,
         t0 - 30 * MIN); /* B 02-25 17:30 */
    memset(&r, 0, sizeof(r));
    cp[0] = (schema_cprice){SCHEMA_HOME, 532031070, 1879600000, 3, false, 0};
    cp[1] = (schema_cprice){SCHEMA_AWAY, 467968930, 2136900000, 3, false, 0};
    r.b.type = SCHEMA_CLOSE;
    r.b.u.snapshot = (schema_snapshot){
        .market_id = 1000, .ts_ms = (uint64_t)m1_start, .probs = cp, .n_probs = 2};
    put(e, &r, (uint64_t)(m1_start + 1000));
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_OUTCOME;
    r.b.u.outcome = (schema_outcome){.source = 1,
                                     .event_id = 100,
                                     .has_result = true,
                                     .result = SCHEMA_R_HOME,
                                     .has_score_home = true,
                                     .has_score_away = true,
                                     .score_home = 2,
                                     .score_away = 1};
    put(e, &r, (uint64_t)(m1_start + 3 * HOUR));
    odds(e, 2, 101, 1001, SCHEMA_TOTAL, (uint64_t[]){SCHEMA_UNDER}, (uint64_t[]){2200000000}, 1,
         m2_start - DAY); /* B 02-26 01:00 */
    odds(e, 3, 101, 1001, SCHEMA_TOTAL, (uint64_t[]){SCHEMA_OVER}, (uint64_t[]){2000000000}, 1,
         m2_start - 10 * HOUR); /* C 02-26 15:00 */
    odds(e, 1, 101, 1001, SCHEMA_TOTAL, tot_sides, (uint64_t[]){1950000000, 1950000000}, 2,
         m2_start - 2 * HOUR); /* A 02-26 23:00 */
    memset(&r, 0, sizeof(r));
    cp[0] = (schema_cprice){SCHEMA_OVER, 520000000, 1923100000, 3, false, 0};
    cp[1] = (schema_cprice){SCHEMA_UNDER, 480000000, 2083300000, 3, false, 0};
    r.b.type = SCHEMA_CLOSE;
    r.b.u.snapshot = (schema_snapshot){
        .market_id = 1001, .ts_ms = (uint64_t)m2_start, .probs = cp, .n_probs = 2};
    put(e, &r, (uint64_t)(m2_start + 1000));
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_OUTCOME;
    r.b.u.outcome = (schema_outcome){.source = 1,
                                     .event_id = 101,
                                     .has_score_home = true,
                                     .has_score_away = true,
                                     .score_home = 100,
                                     .score_away = 110};
    put(e, &r, (uint64_t)(m2_start + 3 * HOUR));

    schema_scoring_cycle c = {.cycle = 1, .as_of_ms = (uint64_t)as_of, .covers_to = g_seq};
    schema_header ch = {.type = SCHEMA_SCORING_CYCLE, .time_ms = (uint64_t)(as_of + 6 * HOUR)};
    assert_int_equal(engine_cycle(e, g_seq, &ch, &c, &blk), TALLY_OK);
    assert_int_equal(blk.n_scores, 7);
    assert_int_equal(blk.n_miners, 3);
    static const struct {
        double n_eff, es_mean, es_std, es_adj, mes, pss, brier, fq, skill;
    } want[3] = {
        {2.376096185, 0.006154736, 0.061189570, 0.100584724, 0.947586036, -0.022881522, 0.506649782,
         -0.013299564, 0.541717307},
        {1.611748094, -0.018952962, 0.075769147, -0.250140898, 0.920949301, -0.025878379,
         0.468456755, 0.063086491, 0.478907970},
        {1.339624182, 0.070492652, 0.040061366, 1.759616779, 0.935432867, 0.085696412, 0.443956988,
         0.112086023, 0.679525697},
    };
    for (size_t i = 0; i < 3; i++) {
        const schema_miner_score *m = &blk.bodies[blk.n_scores + i].u.miner_score;
        assert_int_equal(blk.bodies[blk.n_scores + i].type, SCHEMA_MINER_SCORE);
        assert_int_equal(m->uid, i + 1);
        near(m->n_eff, want[i].n_eff, 5, "n_eff");
        near(m->stats[0].v, want[i].es_mean, 5, "es_mean");
        near(m->stats[1].v, want[i].es_std, 5, "es_std");
        near(m->stats[2].v, want[i].es_adj, 50, "es_adj");
        near(m->stats[3].v, want[i].mes, 5, "mes_mean");
        near(m->stats[5].v, want[i].pss, 5, "pss_mean");
        near(m->stats[7].v, want[i].brier, 5, "brier_mean");
        near(m->stats[8].v, want[i].fq, 5, "fq_raw");
        near(m->skill, want[i].skill, 10, "skill");
        assert_int_equal(m->stats[10].v, 500000000); /* CAL: too few rows */
        assert_false(m->stats[12].has);              /* SOS absent */
    }
    const schema_weights *w = &blk.bodies[blk.n_scores + 3].u.weights;
    assert_int_equal(blk.bodies[blk.n_scores + 3].type, SCHEMA_WEIGHTS);
    assert_int_equal(w->n_uids, 4);
    uint64_t wu[4] = {65535, 2320, 2051, 2910};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(w->uids[i], i);
        assert_int_equal(w->weights[i], wu[i]);
    }
    assert_int_equal(blk.bodies[blk.n - 1].type, SCHEMA_STATE_HASH);

    /* the checkpoint: a fresh engine loaded from it recomputes the same block, byte for byte */
    engine *e2;
    engine_block blk2;
    assert_int_equal(engine_load(blk.state, blk.state_len, fetch_odds, NULL, &e2), TALLY_OK);
    assert_int_equal(engine_cycle(e2, g_seq, &ch, &c, &blk2), TALLY_OK);
    assert_int_equal(blk2.state_len, blk.state_len);
    assert_memory_equal(blk2.state, blk.state, blk.state_len);
    assert_int_equal(blk2.n, blk.n);
    for (size_t i = 0; i < blk.n; i++) {
        uint8_t x[4096], y[4096];
        size_t nx, ny;
        static const uint8_t leaves[3][32];
        if (blk.bodies[i].type == SCHEMA_WEIGHTS) {
            engine_block_set_inputs_hash(&blk, leaves);
            engine_block_set_inputs_hash(&blk2, leaves);
        }
        assert_int_equal(schema_body_encode(&blk.bodies[i], x, sizeof(x), &nx), TALLY_OK);
        assert_int_equal(schema_body_encode(&blk2.bodies[i], y, sizeof(y), &ny), TALLY_OK);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx);
    }
    engine_block_release(&blk2);
    engine_free(e2);
    /* bad input: every truncation is refused; single-byte changes never crash the loader */
    for (size_t n = 0; n < blk.state_len; n++) {
        engine *bad = NULL;
        assert_int_not_equal(engine_load(blk.state, n, fetch_odds, NULL, &bad), TALLY_OK);
        assert_null(bad);
    }
    uint8_t *mut = malloc(blk.state_len);
    for (size_t i = 0; i < blk.state_len; i++) {
        engine *bad = NULL;
        memcpy(mut, blk.state, blk.state_len);
        mut[i] ^= (uint8_t)(1u << (i % 8));
        if (engine_load(mut, blk.state_len, fetch_odds, NULL, &bad) == TALLY_OK) {
            engine_free(bad);
        }
    }
    free(mut);
    engine_block_release(&blk);

    /* the next day, nothing changed: no SUBMISSION_SCORE is written again, the miners are */
    uint64_t cycle_no = 2;
    next_cycle(e, &cycle_no, as_of + DAY, &blk);
    assert_int_equal(blk.n_scores, 0);
    assert_int_equal(blk.n_miners, 3);
    engine_block_release(&blk);

    /* a CONFIG_SET: every scored row is written again under the new parameters */
    schema_param cp_par = {{"security.cle_max", 16}, {SCHEMA_PV_INT, 50000000, {0}, false}};
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_CONFIG_SET;
    r.b.u.config_set = (schema_config_set){.params = &cp_par, .n_params = 1};
    put(e, &r, (uint64_t)(as_of + DAY + 7 * HOUR));
    next_cycle(e, &cycle_no, as_of + 2 * DAY, &blk);
    assert_int_equal(blk.n_scores, 7);
    for (size_t i = 0; i < blk.n_scores; i++) {
        const schema_submission_score *ss = &blk.bodies[i].u.submission_score;
        assert_true(ss->close.cle <= 50000000); /* clamped at the new maximum 0.05 */
    }
    engine_block_release(&blk);

    /* miner B's hotkey leaves uid 2: its rows are gone from the next cycle on */
    acct(nn[2].hotkey, 0x42);
    memset(&r, 0, sizeof(r));
    r.b.type = SCHEMA_METAGRAPH;
    r.b.u.metagraph = (schema_metagraph){57, 2, 0, 1, nn, 5};
    put(e, &r, (uint64_t)(as_of + 2 * DAY + 7 * HOUR));
    next_cycle(e, &cycle_no, as_of + 3 * DAY, &blk);
    assert_int_equal(blk.n_miners, 2);
    assert_int_equal(blk.bodies[0].u.miner_score.uid, 1);
    assert_int_equal(blk.bodies[1].u.miner_score.uid, 3);
    engine_block_release(&blk);
    engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end_to_end_11_12),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
