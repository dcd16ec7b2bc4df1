/* The acceptance rules (protocol §2.4–§2.5, §4, §5.4; the §12 cases 20–30, 43 and 48 at the
 * library level): each rule admits a record at its boundary and refuses it one step past, a
 * first item of a batch makes a second fail (cap, bucket), and a refused record changes
 * nothing. Records are built by hand and judged by engine_rules alone, with no store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define DAY 86400000ull
#define HOUR 3600000ull
#define T0 1767225600000ull /* 2026-01-01, GENESIS time */
#define EV 42
#define ML 4201 /* moneyline market of EV, two-way */
#define TOT 4202 /* total market of EV */
#define START (T0 + 3 * DAY)

static uint8_t node_pk[32], miner_pk[32], other_pk[32], auditor_pk[32];
static uint8_t miner_hk[32], auditor_hk[32];

typedef struct fx {
    engine_rules *r;
    uint64_t nonce;
} fx;

static tally_str S(const char *s)
{
    return (tally_str){s, strlen(s)};
}

/* Judges body b by `actor` at time t, with its body or (a reader without it, the gated view)
 * from its header alone; folds it when admitted. Returns the rule. */
static engine_rule judge_as(fx *f, const schema_body *b, const uint8_t *actor, uint64_t t,
                            bool with_body)
{
    static uint8_t bytes[SCHEMA_BODY_MAX];
    schema_header h;
    engine_verdict v;
    size_t n;

    assert_int_equal(schema_record_build(b, actor, NULL, (tally_str){NULL, 0}, t, bytes,
                                         sizeof(bytes), &n, &h),
                     TALLY_OK);
    assert_int_equal(engine_rules_admit(f->r, engine_rules_size(f->r), &h, with_body ? b : NULL,
                                        &v),
                     TALLY_OK);
    return v.rule;
}

static engine_rule judge(fx *f, const schema_body *b, const uint8_t *actor, uint64_t t)
{
    return judge_as(f, b, actor, t, true);
}

static engine_rule judge_header(fx *f, const schema_body *b, const uint8_t *actor, uint64_t t)
{
    return judge_as(f, b, actor, t, false);
}

static engine_rule node(fx *f, const schema_body *b, uint64_t t)
{
    return judge(f, b, node_pk, t);
}

static schema_body genesis_body(void)
{
    schema_body b = {.type = SCHEMA_GENESIS};
    b.u.genesis = (schema_genesis){.origin = S("tally.test/7"), .netuid = 7, .created_ms = T0,
                                   .code_version = S("test")};
    b.u.genesis.chain = (schema_chain_params){.netuid = 7, .block = 100, .tempo = 360,
                                              .max_weight_limit = 65535,
                                              .min_allowed_weights = 1, .max_allowed_uids = 256};
    return b;
}

static schema_body event_body(uint64_t id, uint64_t start, uint64_t status)
{
    schema_body b = {.type = SCHEMA_EVENT};
    b.u.event = (schema_event){.event_id = id, .sport = S("soccer"), .league = S("EPL"),
                               .home_team = S("A"), .away_team = S("B"), .start_ms = start,
                               .status = status};
    return b;
}

static uint64_t two_sides[2] = {SCHEMA_HOME, SCHEMA_AWAY};
static uint64_t ou_sides[2] = {SCHEMA_OVER, SCHEMA_UNDER};

static schema_body market_body(uint64_t id, uint64_t ev, uint64_t kind)
{
    schema_body b = {.type = SCHEMA_MARKET};
    b.u.market = (schema_market){.market_id = id, .event_id = ev, .kind = kind,
                                 .has_line_n = kind == SCHEMA_TOTAL, .line_n = 2500000000,
                                 .sides = kind == SCHEMA_TOTAL ? ou_sides : two_sides,
                                 .n_sides = 2};
    return b;
}

static schema_body metagraph_body(uint64_t block, uint64_t part, uint64_t parts, schema_neuron *n,
                                  size_t k)
{
    schema_body b = {.type = SCHEMA_METAGRAPH};
    b.u.metagraph = (schema_metagraph){7, block, part, parts, n, k};
    return b;
}

static schema_neuron neuron(uint64_t uid, const uint8_t hk[32], const uint8_t key[32],
                            bool permit, uint64_t stake)
{
    schema_neuron n = {.uid = uid, .stake_rao = stake, .validator_permit = permit,
                       .active = true, .has_tally_key = key != NULL};
    memcpy(n.hotkey, hk, 32);
    if (key != NULL) {
        memcpy(n.tally_key, key, 32);
    }
    return n;
}

/* A log prefix: GENESIS, a METAGRAPH binding the miner (uid 1) and the auditor (uid 2), one
 * scheduled event starting at START with a two-way moneyline and a total. */
static void setup(fx *f)
{
    schema_body b = genesis_body();
    schema_neuron nn[2] = {neuron(1, miner_hk, miner_pk, false, 1000),
                           neuron(2, auditor_hk, auditor_pk, true, 200000000000000ull)};

    memset(f, 0, sizeof(*f));
    assert_int_equal(engine_rules_new(&f->r), TALLY_OK);
    assert_int_equal(node(f, &b, T0), ENGINE_RULE_OK);
    b = metagraph_body(200, 0, 1, nn, 2);
    assert_int_equal(node(f, &b, T0 + 1), ENGINE_RULE_OK);
    b = event_body(EV, START, SCHEMA_SCHEDULED);
    assert_int_equal(node(f, &b, T0 + 2), ENGINE_RULE_OK);
    b = market_body(ML, EV, SCHEMA_MONEYLINE);
    assert_int_equal(node(f, &b, T0 + 3), ENGINE_RULE_OK);
    b = market_body(TOT, EV, SCHEMA_TOTAL);
    assert_int_equal(node(f, &b, T0 + 4), ENGINE_RULE_OK);
    f->nonce = 1000;
}

static void teardown(fx *f)
{
    engine_rules_free(f->r);
}

/* One ODDS_SUBMISSION item with one entry of market m (prices at 1.91 / 2.10). */
typedef struct odds_item {
    schema_body b;
    schema_entry en[2];
    schema_price pr[2][3];
} odds_item;

static void odds(fx *f, odds_item *o, uint64_t m, uint64_t kind, uint64_t priced_at)
{
    uint64_t s0 = kind == SCHEMA_TOTAL ? SCHEMA_OVER : SCHEMA_HOME;

    memset(o, 0, sizeof(*o));
    o->pr[0][0] = (schema_price){s0, 1910000000, 523560209};
    o->pr[0][1] = (schema_price){s0 + 1, 2100000000, 476190476};
    o->en[0] = (schema_entry){.market_id = m, .kind = kind, .has_priced_at_ms = priced_at != 0,
                              .priced_at_ms = priced_at, .prices = o->pr[0], .n_prices = 2};
    o->b.type = SCHEMA_ODDS_SUBMISSION;
    o->b.u.odds = (schema_odds){.nonce = ++f->nonce, .idx = 0, .event_id = EV,
                                .markets = o->en, .n_markets = 1};
}

static engine_rule submit(fx *f, uint64_t m, uint64_t kind, uint64_t t)
{
    odds_item o;
    odds(f, &o, m, kind, t);
    return judge(f, &o.b, miner_pk, t);
}

static void record_rules(void **state)
{
    fx f;
    schema_body b;
    (void)state;

    setup(&f);
    /* GENESIS only at seq 0 (§12 43); a node type only by the GENESIS key */
    b = genesis_body();
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_GENESIS);
    b = event_body(EV + 1, START, SCHEMA_SCHEDULED);
    assert_int_equal(judge(&f, &b, other_pk, T0 + 10), ENGINE_RULE_AUTHOR);
    /* time never goes back */
    assert_int_equal(node(&f, &b, T0 + 3), ENGINE_RULE_TIME_ORDER);
    assert_int_equal(node(&f, &b, T0 + 4), ENGINE_RULE_OK);
    /* MARKET: a byte-identical repeat is a no-op, other bytes a conflict (§12 43) */
    b = market_body(ML, EV, SCHEMA_MONEYLINE);
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_MARKET_DUPLICATE);
    b = market_body(ML, EV + 1, SCHEMA_MONEYLINE);
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_MARKET_CONFLICT);
    b = market_body(9999, 777, SCHEMA_MONEYLINE);
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_UNKNOWN_EVENT);
    /* RECOMPUTE epochs count up from 1 */
    b = (schema_body){.type = SCHEMA_RECOMPUTE};
    b.u.recompute = (schema_recompute){.epoch = 2, .reason = 3, .detail = S("x"), .severity = 1,
                                       .code_version = S("t")};
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_EPOCH);
    b.u.recompute.epoch = 1;
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_OK);
    /* CHAIN_PARAMS: same netuid, rising block */
    b = (schema_body){.type = SCHEMA_CHAIN_PARAMS};
    b.u.chain_params = genesis_body().u.genesis.chain;
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_CHAIN_BLOCK);
    b.u.chain_params.block = 101;
    b.u.chain_params.netuid = 8;
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_NETUID);
    b.u.chain_params.netuid = 7;
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_OK);
    teardown(&f);
}

static void params(void **state)
{
    fx f;
    schema_body b = {.type = SCHEMA_CONFIG_SET};
    schema_param p = {.key = S("bogus.key"), .value = {.kind = SCHEMA_PV_INT, .i = 1}};
    (void)state;

    setup(&f);
    b.u.config_set = (schema_config_set){.params = &p, .n_params = 1};
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_PARAM_UNKNOWN);
    p.key = S("decay.half_life_days");
    p.value.i = 100000;
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_PARAM_RANGE);
    p.value = (schema_pvalue){.kind = SCHEMA_PV_BOOL, .b = true};
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_PARAM_KIND);
    p.value = (schema_pvalue){.kind = SCHEMA_PV_INT, .i = 365};
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_OK);
    assert_int_equal(engine_rules_params(f.r)->v[SCHEMA_P_DECAY_HALF_LIFE_DAYS], 365);
    /* a refused GENESIS parameter too */
    teardown(&f);
    assert_int_equal(engine_rules_new(&f.r), TALLY_OK);
    b = genesis_body();
    p = (schema_param){.key = S("finality.k"), .value = {.kind = SCHEMA_PV_INT, .i = 65}};
    b.u.genesis.params = &p, b.u.genesis.n_params = 1;
    assert_int_equal(node(&f, &b, T0), ENGINE_RULE_PARAM_RANGE);
    assert_int_equal(engine_rules_size(f.r), 0);
    teardown(&f);
}

static void metagraph(void **state)
{
    fx f;
    schema_neuron a = neuron(3, other_pk, other_pk, false, 1), c = neuron(4, node_pk, NULL, 0, 1);
    schema_body b;
    (void)state;

    setup(&f);
    /* the other key is bound only once its snapshot is complete */
    b = metagraph_body(300, 0, 2, &a, 1);
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_OK);
    b = event_body(EV + 1, START, SCHEMA_SCHEDULED);
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_METAGRAPH_PARTS);
    b = metagraph_body(300, 0, 2, &a, 1);
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_METAGRAPH_PARTS);
    b = metagraph_body(300, 1, 2, &c, 1);
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_OK);
    b = metagraph_body(300, 0, 1, &a, 1);
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_CHAIN_BLOCK);
    /* the new snapshot dropped the miner: S1 */
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, T0 + 20), ENGINE_RULE_KEY_NOT_REGISTERED);
    teardown(&f);
}

static void odds_markets(void **state)
{
    fx f;
    odds_item o;
    (void)state;

    setup(&f);
    /* S2–S4 (§12 22) */
    odds(&f, &o, ML, SCHEMA_MONEYLINE, 0);
    o.b.u.odds.event_id = EV + 5;
    assert_int_equal(judge(&f, &o.b, miner_pk, T0 + 10), ENGINE_RULE_UNKNOWN_EVENT);
    odds(&f, &o, 5555, SCHEMA_MONEYLINE, 0);
    assert_int_equal(judge(&f, &o.b, miner_pk, T0 + 10), ENGINE_RULE_UNKNOWN_MARKET);
    odds(&f, &o, ML, SCHEMA_SPREAD, 0);
    assert_int_equal(judge(&f, &o.b, miner_pk, T0 + 10), ENGINE_RULE_MARKET_KIND_MISMATCH);
    odds(&f, &o, ML, SCHEMA_MONEYLINE, 0);
    o.pr[0][2] = (schema_price){SCHEMA_DRAW, 3000000000, 333333333};
    o.en[0].n_prices = 3;
    assert_int_equal(judge(&f, &o.b, miner_pk, T0 + 10), ENGINE_RULE_MARKET_SIDES_MISMATCH);
    {
        schema_body e2 = event_body(EV + 1, START, SCHEMA_SCHEDULED);
        assert_int_equal(node(&f, &e2, T0 + 10), ENGINE_RULE_OK);
        odds(&f, &o, ML, SCHEMA_MONEYLINE, 0);
        o.b.u.odds.event_id = EV + 1;
        assert_int_equal(judge(&f, &o.b, miner_pk, T0 + 10), ENGINE_RULE_MARKET_EVENT_MISMATCH);
    }
    /* security bounds and price consistency (§12 14, 15) */
    odds(&f, &o, ML, SCHEMA_MONEYLINE, 0);
    o.pr[0][0] = (schema_price){SCHEMA_HOME, 1000000000, 999000000};
    assert_int_equal(judge(&f, &o.b, miner_pk, T0 + 10), ENGINE_RULE_INVALID_FIELD);
    odds(&f, &o, ML, SCHEMA_MONEYLINE, 0);
    o.pr[0][0].imp_prob_n = 600000000;
    assert_int_equal(judge(&f, &o.b, miner_pk, T0 + 10), ENGINE_RULE_PRICE_INCONSISTENT);
    odds(&f, &o, ML, SCHEMA_MONEYLINE, 0);
    o.pr[0][0].imp_prob_n = 523560209 + 100000; /* exactly the tolerance */
    assert_int_equal(judge(&f, &o.b, miner_pk, T0 + 10), ENGINE_RULE_OK);
    teardown(&f);
}

static void odds_times(void **state)
{
    fx f;
    odds_item o;
    schema_body e;
    (void)state;

    setup(&f);
    /* S6 (§12 21): a start exactly 7 days ahead is open, 1 ms more is not (the event moved
     * to 7 days and 1 ms after the first submission's time) */
    e = event_body(EV, T0 + 10 + 7 * DAY + 1, SCHEMA_SCHEDULED);
    assert_int_equal(node(&f, &e, T0 + 10), ENGINE_RULE_OK);
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, T0 + 10), ENGINE_RULE_MARKET_NOT_OPEN);
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, T0 + 11), ENGINE_RULE_OK);
    e = event_body(EV, START, SCHEMA_SCHEDULED);
    assert_int_equal(node(&f, &e, T0 + 12), ENGINE_RULE_OK);
    /* S7: priced_at 300 s away is accepted, 301 s is not */
    odds(&f, &o, ML, SCHEMA_MONEYLINE, 0);
    o.en[0].has_priced_at_ms = true, o.en[0].priced_at_ms = START - 2 * DAY - 301000;
    assert_int_equal(judge(&f, &o.b, miner_pk, START - 2 * DAY), ENGINE_RULE_PRICED_AT_OUT_OF_RANGE);
    o.en[0].priced_at_ms = START - 2 * DAY - 300000;
    assert_int_equal(judge(&f, &o.b, miner_pk, START - 2 * DAY), ENGINE_RULE_OK);
    /* S5 (§12 20): a start exactly at T is accepted, 1 ms before T is closed */
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, START), ENGINE_RULE_OK);
    assert_int_equal(submit(&f, TOT, SCHEMA_TOTAL, START + 1), ENGINE_RULE_MARKET_CLOSED);
    teardown(&f);
    /* S5: not scheduled */
    setup(&f);
    e = event_body(EV, START, SCHEMA_IN_PLAY);
    assert_int_equal(node(&f, &e, T0 + 10), ENGINE_RULE_OK);
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, T0 + 20), ENGINE_RULE_MARKET_CLOSED);
    teardown(&f);
}

static void odds_caps(void **state)
{
    fx f;
    schema_body b = {.type = SCHEMA_CONFIG_SET};
    schema_param p = {.key = S("ingest.max_submissions_per_market_day"),
                      .value = {.kind = SCHEMA_PV_INT, .i = 10}};
    uint64_t t = START - 3 * DAY + 5 * 60000;
    (void)state;

    setup(&f);
    b.u.config_set = (schema_config_set){.params = &p, .n_params = 1};
    assert_int_equal(node(&f, &b, T0 + 10), ENGINE_RULE_OK);
    /* S9 (§12 23): a second entry in the same 60 s bucket, the batch's first item making the
     * second fail; the next bucket is free; another market is not affected */
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, t), ENGINE_RULE_OK);
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, t + 59999 - t % 60000),
                     ENGINE_RULE_DUPLICATE_IN_BUCKET);
    assert_int_equal(submit(&f, TOT, SCHEMA_TOTAL, t + 1), ENGINE_RULE_OK);
    /* S8: five entries of two prices reach the cap of 10; the sixth is refused, within 24 h
     * of the first; exactly 24 h after the first it falls out of the window */
    for (int i = 1; i < 5; i++) {
        assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, t + (uint64_t)i * 60000), ENGINE_RULE_OK);
    }
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, t + DAY - 1), ENGINE_RULE_MARKET_DAILY_CAP);
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, t + DAY), ENGINE_RULE_OK);
    teardown(&f);
}

static void nonces(void **state)
{
    fx f;
    odds_item o, o2;
    schema_body e = event_body(EV + 1, START, SCHEMA_SCHEDULED);
    schema_body m = market_body(EV * 1000 + 1, EV + 1, SCHEMA_MONEYLINE);
    uint64_t t = START - DAY;
    (void)state;

    setup(&f);
    assert_int_equal(node(&f, &e, T0 + 10), ENGINE_RULE_OK);
    assert_int_equal(node(&f, &m, T0 + 11), ENGINE_RULE_OK);
    odds(&f, &o, ML, SCHEMA_MONEYLINE, 0);
    assert_int_equal(judge(&f, &o.b, miner_pk, t), ENGINE_RULE_OK);
    /* the same item again: same nonce, same idx (the re-appended submission of the issue) */
    assert_int_equal(judge(&f, &o.b, miner_pk, t + 60000), ENGINE_RULE_NONCE_REPLAY);
    /* the next item of the same request (idx 1, another event) is fine */
    odds(&f, &o2, EV * 1000 + 1, SCHEMA_MONEYLINE, 0);
    o2.b.u.odds.nonce = o.b.u.odds.nonce, o2.b.u.odds.idx = 1, o2.b.u.odds.event_id = EV + 1;
    assert_int_equal(judge(&f, &o2.b, miner_pk, t), ENGINE_RULE_OK);
    /* a lower nonce is stale */
    o2.b.u.odds.nonce = o.b.u.odds.nonce - 1, o2.b.u.odds.idx = 0;
    assert_int_equal(judge(&f, &o2.b, miner_pk, t + 120000), ENGINE_RULE_NONCE_STALE);
    teardown(&f);
}

static engine_rule outcome(fx *f, uint64_t t, uint64_t bucket_shift)
{
    schema_body b = {.type = SCHEMA_OUTCOME};
    b.u.outcome = (schema_outcome){.source = 2, .nonce = ++f->nonce, .event_id = EV,
                                   .has_result = true, .result = SCHEMA_R_HOME, .has_salt = true};
    (void)bucket_shift;
    return judge(f, &b, miner_pk, t);
}

static void outcomes(void **state)
{
    fx f;
    schema_body e;
    schema_body c = {.type = SCHEMA_CONFIG_SET};
    schema_param p = {.key = S("ingest.max_outcomes_per_event_day"),
                      .value = {.kind = SCHEMA_PV_INT, .i = 5}};
    (void)state;

    setup(&f);
    c.u.config_set = (schema_config_set){.params = &p, .n_params = 1};
    assert_int_equal(node(&f, &c, T0 + 10), ENGINE_RULE_OK);
    /* O3, O4 (§12 29): before the start, at the start, at start + 12 h, 1 ms past */
    assert_int_equal(outcome(&f, START - 1, 0), ENGINE_RULE_EVENT_NOT_STARTED);
    assert_int_equal(outcome(&f, START, 0), ENGINE_RULE_OK);
    /* O6: one per 300 s bucket */
    assert_int_equal(outcome(&f, START + 299999, 0), ENGINE_RULE_DUPLICATE_IN_BUCKET);
    /* O5: five in 24 h reach the cap */
    for (uint64_t i = 1; i < 5; i++) {
        assert_int_equal(outcome(&f, START + i * 300000, 0), ENGINE_RULE_OK);
    }
    assert_int_equal(outcome(&f, START + 12 * HOUR, 0), ENGINE_RULE_EVENT_DAILY_CAP);
    teardown(&f);
    setup(&f);
    assert_int_equal(outcome(&f, START + 12 * HOUR, 0), ENGINE_RULE_OK);
    assert_int_equal(outcome(&f, START + 12 * HOUR + 1, 0), ENGINE_RULE_OUTCOME_WINDOW_CLOSED);
    /* O2: a void event */
    e = event_body(EV, START, SCHEMA_VOID);
    assert_int_equal(node(&f, &e, START + 12 * HOUR + 2), ENGINE_RULE_OK);
    assert_int_equal(outcome(&f, START + 12 * HOUR + 3, 0), ENGINE_RULE_EVENT_INELIGIBLE);
    teardown(&f);
}

static void closes(void **state)
{
    fx f;
    schema_cprice cp[2] = {{SCHEMA_HOME, 520000000, 1923100000, 3, false, 0},
                           {SCHEMA_AWAY, 480000000, 2083300000, 3, false, 0}};
    schema_body b = {.type = SCHEMA_CLOSE}, r = {.type = SCHEMA_RECOMPUTE};
    uint64_t affected = EV;
    (void)state;

    setup(&f);
    /* §12 48: close_ms other than the start, or appended before it */
    b.u.snapshot = (schema_snapshot){.market_id = ML, .ts_ms = START - 1, .probs = cp,
                                     .n_probs = 2};
    assert_int_equal(node(&f, &b, START + 1000), ENGINE_RULE_CLOSE_TIME);
    b.u.snapshot.ts_ms = START;
    assert_int_equal(node(&f, &b, START - 1), ENGINE_RULE_CLOSE_TIME);
    assert_int_equal(node(&f, &b, START), ENGINE_RULE_OK);
    /* at most one per market, unless a later RECOMPUTE lists the event */
    assert_int_equal(node(&f, &b, START + 5), ENGINE_RULE_CLOSE_DUPLICATE);
    r.u.recompute = (schema_recompute){.epoch = 1, .reason = 1, .detail = S("feed"),
                                       .affected_events = &affected, .n_affected_events = 1,
                                       .severity = 1, .code_version = S("t")};
    assert_int_equal(node(&f, &r, START + 6), ENGINE_RULE_OK);
    assert_int_equal(node(&f, &b, START + 7), ENGINE_RULE_OK);
    /* a snapshot may not be from the future */
    b.type = SCHEMA_MARKET_SNAPSHOT;
    b.u.snapshot.ts_ms = START + 9;
    assert_int_equal(node(&f, &b, START + 8), ENGINE_RULE_SNAPSHOT_TIME);
    b.u.snapshot.ts_ms = START + 8;
    assert_int_equal(node(&f, &b, START + 8), ENGINE_RULE_OK);
    teardown(&f);
}

static void cycles_and_attestations(void **state)
{
    fx f;
    schema_body c = {.type = SCHEMA_SCORING_CYCLE}, sh = {.type = SCHEMA_STATE_HASH};
    schema_body a = {.type = SCHEMA_ATTESTATION};
    uint64_t t = T0 + DAY;
    (void)state;

    setup(&f);
    c.u.scoring_cycle = (schema_scoring_cycle){.cycle = 2, .epoch = 0, .as_of_ms = t,
                                               .covers_to = 5, .code_version = S("t")};
    assert_int_equal(node(&f, &c, t), ENGINE_RULE_CYCLE);
    c.u.scoring_cycle.cycle = 1, c.u.scoring_cycle.as_of_ms = t - DAY;
    assert_int_equal(node(&f, &c, t), ENGINE_RULE_CYCLE);
    c.u.scoring_cycle.as_of_ms = t, c.u.scoring_cycle.covers_to = 6;
    assert_int_equal(node(&f, &c, t), ENGINE_RULE_CYCLE);
    c.u.scoring_cycle.covers_to = 5;
    assert_int_equal(node(&f, &c, t), ENGINE_RULE_OK);
    /* the block: derived records of this cycle, then STATE_HASH; nothing else in between */
    sh.u.state_hash = (schema_state_hash){.cycle = 2, .state_len = 1};
    assert_int_equal(node(&f, &sh, t), ENGINE_RULE_BLOCK);
    sh.u.state_hash.cycle = 1;
    assert_int_equal(node(&f, &sh, t), ENGINE_RULE_OK);
    assert_int_equal(node(&f, &sh, t), ENGINE_RULE_BLOCK);
    /* ATTESTATION: an eligible auditor, once per cycle; not the node, not a permitless miner */
    a.u.attestation = (schema_attestation){.nonce = 5, .cycle = 1, .tree_size = 7, .verdict = 1};
    assert_int_equal(judge(&f, &a, auditor_pk, t + 1), ENGINE_RULE_OK);
    a.u.attestation.nonce = 6;
    assert_int_equal(judge(&f, &a, auditor_pk, t + 2), ENGINE_RULE_ATTESTATION_DUPLICATE);
    a.u.attestation.cycle = 2;
    assert_int_equal(judge(&f, &a, auditor_pk, t + 2), ENGINE_RULE_ATTESTATION_INVALID);
    a.u.attestation.cycle = 1;
    assert_int_equal(judge(&f, &a, miner_pk, t + 2), ENGINE_RULE_NOT_ELIGIBLE);
    assert_int_equal(judge(&f, &a, node_pk, t + 2), ENGINE_RULE_AUTHOR);
    teardown(&f);
}

/* A refused record changes nothing: the state after a refusal judges the next record exactly
 * as if the refused one had never been offered. */
static void refusal_changes_nothing(void **state)
{
    fx f;
    uint64_t t = START - DAY;
    (void)state;

    setup(&f);
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, START + 1), ENGINE_RULE_MARKET_CLOSED);
    assert_int_equal(engine_rules_size(f.r), 5);
    assert_int_equal(engine_rules_last_time(f.r), T0 + 4);
    assert_int_equal(submit(&f, ML, SCHEMA_MONEYLINE, t), ENGINE_RULE_OK);
    assert_int_equal(engine_rules_size(f.r), 6);
    teardown(&f);
}

/* The gated view: embargoed records judged from their headers where they stand (S1, S2, S5,
 * S6), and the rest at their reveal against the state at their own position. */
static void withheld_bodies(void **state)
{
    fx f;
    odds_item o[3];
    schema_header h;
    engine_verdict v;
    uint64_t t = START - DAY, first, at, *due;
    size_t n;
    uint8_t bytes[SCHEMA_BODY_MAX];
    (void)state;

    setup(&f);
    first = engine_rules_size(f.r);
    odds(&f, &o[0], ML, SCHEMA_MONEYLINE, t);
    odds(&f, &o[1], ML, SCHEMA_MONEYLINE, t + 1); /* the same 60 s bucket */
    odds(&f, &o[2], 5555, SCHEMA_MONEYLINE, t + 2); /* no such market */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(judge_header(&f, &o[i].b, miner_pk, t + (uint64_t)i), ENGINE_RULE_OK);
    }
    assert_int_equal(engine_rules_pending(f.r), 3);
    /* what the header shows is judged at once */
    odds(&f, &o[0], ML, SCHEMA_MONEYLINE, START + 1);
    assert_int_equal(judge_header(&f, &o[0].b, miner_pk, START + 1), ENGINE_RULE_MARKET_CLOSED);
    assert_int_equal(judge_header(&f, &o[0].b, other_pk, START + 1),
                     ENGINE_RULE_KEY_NOT_REGISTERED);
    /* the reveal follows the event's start (§2.3) */
    odds(&f, &o[0], ML, SCHEMA_MONEYLINE, t);
    assert_int_equal(schema_body_encode(&o[0].b, bytes, sizeof(bytes), &n), TALLY_OK);
    assert_int_equal(schema_header_init(&o[0].b, bytes, n, miner_pk, &h), TALLY_OK);
    assert_int_equal(engine_rules_reveal_at(f.r, first, &h, &at), TALLY_OK);
    assert_int_equal(at, START);
    assert_int_equal(engine_rules_due(f.r, START - 1, &due, &n), TALLY_OK);
    assert_int_equal(n, 0);
    free(due);
    assert_int_equal(engine_rules_due(f.r, START, &due, &n), TALLY_OK);
    assert_int_equal(n, 3);
    assert_int_equal(due[0], first);
    free(due);
    /* at the reveal: the first is fine, the second shares its bucket, the third its market is
     * unknown (the same verdicts the full view gives where they stand) */
    odds(&f, &o[0], ML, SCHEMA_MONEYLINE, t);
    o[0].b.u.odds.nonce = f.nonce - 5; /* the nonce is not judged at a reveal */
    assert_int_equal(engine_rules_reveal(f.r, first, &o[0].b, &v), TALLY_OK);
    assert_int_equal(v.rule, ENGINE_RULE_OK);
    odds(&f, &o[1], ML, SCHEMA_MONEYLINE, t + 1);
    assert_int_equal(engine_rules_reveal(f.r, first + 1, &o[1].b, &v), TALLY_OK);
    assert_int_equal(v.rule, ENGINE_RULE_DUPLICATE_IN_BUCKET);
    odds(&f, &o[2], 5555, SCHEMA_MONEYLINE, t + 2);
    assert_int_equal(engine_rules_reveal(f.r, first + 2, &o[2].b, &v), TALLY_OK);
    assert_int_equal(v.rule, ENGINE_RULE_UNKNOWN_MARKET);
    assert_int_equal(engine_rules_pending(f.r), 0);
    assert_int_equal(engine_rules_reveal(f.r, first, &o[0].b, &v), TALLY_EINVAL);
    teardown(&f);
}

static void keys(void)
{
    uint8_t sk[64];
    crypto_sign_keypair(node_pk, sk);
    crypto_sign_keypair(miner_pk, sk);
    crypto_sign_keypair(other_pk, sk);
    crypto_sign_keypair(auditor_pk, sk);
    randombytes_buf(miner_hk, 32);
    randombytes_buf(auditor_hk, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_rules),
        cmocka_unit_test(params),
        cmocka_unit_test(metagraph),
        cmocka_unit_test(odds_markets),
        cmocka_unit_test(odds_times),
        cmocka_unit_test(odds_caps),
        cmocka_unit_test(nonces),
        cmocka_unit_test(outcomes),
        cmocka_unit_test(closes),
        cmocka_unit_test(cycles_and_attestations),
        cmocka_unit_test(refusal_changes_nothing),
        cmocka_unit_test(withheld_bodies),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    keys();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
