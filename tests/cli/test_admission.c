/* The acceptance rules as the writer's admission hook: store_append_items appends the items
 * the rules admit, each judged at the position and time the writer gives it with the items
 * before it in the same transaction counted (a first item makes a second fail), reports the
 * refused ones with their rule, and changes nothing for them; store_append (the trusted,
 * all-or-nothing path) only folds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "cli/cli.h"
#include "util/testutil.h"

#define T0 1767225600000ull
#define DAY 86400000ull
#define START (T0 + 3 * DAY)

static uint8_t miner_pk[32], miner_sk[64];

static store_input node_rec(store_log *log, const schema_body *b, uint64_t t, uint8_t *buf)
{
    store_input in = {0};
    uint8_t pk[32];
    size_t n;

    store_node_pubkey(log, pk);
    assert_int_equal(schema_body_encode(b, buf, SCHEMA_BODY_MAX, &n), TALLY_OK);
    assert_int_equal(schema_header_init(b, buf, n, pk, &in.header), TALLY_OK);
    assert_int_equal(store_node_sign(log, &in.header), TALLY_OK);
    in.header.time_ms = t, in.body = buf, in.body_len = n;
    return in;
}

static store_input miner_rec(store_log *log, const schema_body *b, uint64_t t, uint8_t *buf)
{
    store_input in = {0};
    size_t n;
    tally_str origin = {store_origin(log), strlen(store_origin(log))};

    assert_int_equal(schema_body_encode(b, buf, SCHEMA_BODY_MAX, &n), TALLY_OK);
    assert_int_equal(schema_header_init(b, buf, n, miner_pk, &in.header), TALLY_OK);
    assert_int_equal(schema_record_sign(&in.header, origin, miner_sk), TALLY_OK);
    in.header.time_ms = t, in.body = buf, in.body_len = n;
    return in;
}

static uint64_t sides2[2] = {SCHEMA_HOME, SCHEMA_AWAY};

static schema_body odds(uint64_t nonce, uint64_t idx, uint64_t market, schema_entry *en,
                        schema_price *pr)
{
    schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
    pr[0] = (schema_price){SCHEMA_HOME, 1910000000, 523560209};
    pr[1] = (schema_price){SCHEMA_AWAY, 2100000000, 476190476};
    *en = (schema_entry){.market_id = market, .kind = SCHEMA_MONEYLINE, .prices = pr,
                         .n_prices = 2};
    b.u.odds = (schema_odds){.nonce = nonce, .idx = idx, .event_id = 42, .markets = en,
                             .n_markets = 1};
    return b;
}

static void items_judged_in_order(void **state)
{
    const char *dir = tu_tmpdir("admission");
    static uint8_t bufs[8][SCHEMA_BODY_MAX];
    ledger_admission adm;
    store_cfg cfg = {.dir = dir, .create = true, .origin = "tally.test/7"};
    store_log *log;
    store_input in[4];
    store_item_result res[4];
    schema_body b;
    schema_neuron nn = {.uid = 1, .stake_rao = 1, .active = true, .has_tally_key = true};
    schema_entry en[3];
    schema_price pr[3][2];
    uint64_t first, t = START - DAY;
    size_t acc;
    (void)state;

    assert_int_equal(ledger_admission_init(&adm), TALLY_OK);
    cfg.admission = &adm.hook;
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(ledger_admission_attach(&adm, log), TALLY_OK);
    /* the prefix through the trusted path: GENESIS, a METAGRAPH binding the miner, an event
     * with two markets */
    b = (schema_body){.type = SCHEMA_GENESIS};
    b.u.genesis = (schema_genesis){.origin = {"tally.test/7", 12}, .netuid = 7,
                                   .code_version = {"t", 1}};
    b.u.genesis.chain = (schema_chain_params){.netuid = 7, .block = 1, .max_weight_limit = 65535};
    in[0] = node_rec(log, &b, T0, bufs[0]);
    memcpy(nn.tally_key, miner_pk, 32);
    b = (schema_body){.type = SCHEMA_METAGRAPH};
    b.u.metagraph = (schema_metagraph){7, 2, 0, 1, &nn, 1};
    in[1] = node_rec(log, &b, T0 + 1, bufs[1]);
    b = (schema_body){.type = SCHEMA_EVENT};
    b.u.event = (schema_event){.event_id = 42, .sport = {"x", 1}, .league = {"y", 1},
                               .home_team = {"A", 1}, .away_team = {"B", 1}, .start_ms = START,
                               .status = SCHEMA_SCHEDULED};
    in[2] = node_rec(log, &b, T0 + 2, bufs[2]);
    assert_int_equal(store_append(log, in, 3, &first), TALLY_OK);
    for (uint64_t m = 1; m <= 2; m++) {
        b = (schema_body){.type = SCHEMA_MARKET};
        b.u.market = (schema_market){.market_id = 4200 + m, .event_id = 42,
                                     .kind = SCHEMA_MONEYLINE, .sides = sides2, .n_sides = 2};
        in[0] = node_rec(log, &b, T0 + 3, bufs[3]);
        assert_int_equal(store_append(log, in, 1, &first), TALLY_OK);
    }
    assert_int_equal(store_size(log), 5);
    /* one request: the second item is in the first's bucket for market 4201, the third is for
     * the other market, the fourth's event has started by its time */
    b = odds(100, 0, 4201, &en[0], pr[0]);
    in[0] = miner_rec(log, &b, t, bufs[4]);
    b = odds(100, 1, 4201, &en[1], pr[1]);
    in[1] = miner_rec(log, &b, t + 10, bufs[5]);
    b = odds(100, 2, 4202, &en[2], pr[2]);
    in[2] = miner_rec(log, &b, t + 20, bufs[6]);
    b = odds(100, 3, 4202, &en[2], pr[2]);
    in[3] = miner_rec(log, &b, START + 1, bufs[7]);
    assert_int_equal(store_append_items(log, in, 4, res, &acc), TALLY_OK);
    assert_int_equal(acc, 2);
    assert_true(res[0].accepted && res[2].accepted);
    assert_false(res[1].accepted);
    assert_int_equal(res[1].code, ENGINE_RULE_DUPLICATE_IN_BUCKET);
    assert_false(res[3].accepted);
    assert_int_equal(res[3].code, ENGINE_RULE_MARKET_CLOSED);
    assert_int_equal(res[0].seq, 5);
    assert_int_equal(res[2].seq, 6);
    assert_int_equal(res[2].time_ms, t + 20);
    assert_int_equal(store_size(log), 7);
    /* the same request again, at the node clock: every item is refused by its write nonce,
     * nothing is written */
    for (int i = 0; i < 3; i++) {
        in[i].header.time_ms = 0;
    }
    assert_int_equal(store_append_items(log, in, 3, res, &acc), TALLY_OK);
    assert_int_equal(acc, 0);
    assert_int_equal(res[0].code, ENGINE_RULE_NONCE_REPLAY);
    assert_int_equal(store_size(log), 7);
    /* GENESIS never comes through the judged path */
    in[0] = node_rec(log, &(schema_body){.type = SCHEMA_GENESIS, .u.genesis = {
                                             .origin = {"tally.test/7", 12}, .netuid = 7,
                                             .code_version = {"t", 1},
                                             .chain = {.netuid = 7, .max_weight_limit = 1}}},
                     t + 30, bufs[0]);
    assert_int_equal(store_append_items(log, in, 1, res, &acc), TALLY_ECONFLICT);
    store_close(log);
    ledger_admission_release(&adm);
    /* a reopened log gives the hook the same state: the next bucket is free */
    assert_int_equal(ledger_admission_init(&adm), TALLY_OK);
    cfg = (store_cfg){.dir = dir, .admission = &adm.hook};
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(ledger_admission_attach(&adm, log), TALLY_OK);
    b = odds(200, 0, 4202, &en[0], pr[0]);
    in[0] = miner_rec(log, &b, t + 59999 - t % 60000, bufs[4]);
    b = odds(201, 0, 4202, &en[1], pr[1]);
    in[1] = miner_rec(log, &b, t + 60000 - t % 60000, bufs[5]);
    assert_int_equal(store_append_items(log, in, 2, res, &acc), TALLY_OK);
    assert_false(res[0].accepted);
    assert_int_equal(res[0].code, ENGINE_RULE_DUPLICATE_IN_BUCKET);
    assert_true(res[1].accepted);
    store_close(log);
    ledger_admission_release(&adm);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(items_judged_in_order),
    };
    uint8_t seed[32] = {7};
    if (sodium_init() < 0) {
        return 1;
    }
    crypto_sign_seed_keypair(miner_pk, miner_sk, seed);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
