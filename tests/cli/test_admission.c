/* The acceptance rules as the writer's admission hook: store_append_items appends the items
 * the rules admit, each judged at the position and time the writer gives it with the items
 * before it in the same transaction counted (a first item makes a second fail), reports the
 * refused ones with their rule, and changes nothing for them; store_append (the trusted,
 * all-or-nothing path) only folds. Signed requests (protocol §4): the writer decides each
 * request's write nonce against the index it keeps with the records (new, duplicate, replay,
 * stale), also across a restart and for two racing producers; side tables persist; a full queue
 * refuses at once. */
#include <pthread.h>
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

static store_log *open_fixture(const char *dir, ledger_admission *adm, bool create,
                               store_cfg *cfg_io);

static void items_judged_in_order(void **state)
{
    const char *dir = tu_tmpdir("admission");
    static uint8_t bufs[8][SCHEMA_BODY_MAX];
    ledger_admission adm;
    store_cfg cfg = {0};
    store_log *log;
    store_input in[4];
    store_item_result res[4];
    schema_body b;
    schema_entry en[3];
    schema_price pr[3][2];
    uint64_t t = START - DAY;
    size_t acc;
    (void)state;

    log = open_fixture(dir, &adm, true, &cfg);
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

/* A log with GENESIS, a METAGRAPH binding the miner, event 42 and markets 4201, 4202; opened
 * with the rules as admission hook. */
static store_log *open_fixture(const char *dir, ledger_admission *adm, bool create,
                               store_cfg *cfg_io)
{
    static uint8_t bufs[4][SCHEMA_BODY_MAX];
    store_log *log;
    store_input in[3];
    schema_body b;
    schema_neuron nn = {.uid = 1, .stake_rao = 1, .active = true, .has_tally_key = true};
    uint64_t first;

    assert_int_equal(ledger_admission_init(adm), TALLY_OK);
    cfg_io->dir = dir, cfg_io->admission = &adm->hook;
    cfg_io->create = create, cfg_io->origin = create ? "tally.test/7" : NULL;
    assert_int_equal(store_open(cfg_io, &log), TALLY_OK);
    assert_int_equal(ledger_admission_attach(adm, log), TALLY_OK);
    if (!create) {
        return log;
    }
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
    return log;
}

static store_request request_of(uint64_t nonce, uint8_t tag)
{
    store_request rq = {.nonce = nonce};
    memcpy(rq.key, miner_pk, 32);
    memset(rq.digest, tag, 32);
    return rq;
}

static void request_nonces(void **state)
{
    const char *dir = tu_tmpdir("requests");
    static uint8_t bufs[4][SCHEMA_BODY_MAX];
    ledger_admission adm;
    store_cfg cfg = {0};
    store_log *log = open_fixture(dir, &adm, true, &cfg);
    store_input in[2];
    store_item_result out[2];
    store_req_result res;
    store_nonce_info info;
    schema_entry en[2];
    schema_price pr[2][2];
    schema_body b;
    uint64_t t = START - DAY;
    store_request rq = request_of(100, 0xa1);
    (void)state;

    b = odds(100, 0, 4201, &en[0], pr[0]);
    in[0] = miner_rec(log, &b, t, bufs[0]);
    b = odds(100, 1, 4202, &en[1], pr[1]);
    in[1] = miner_rec(log, &b, t, bufs[1]);
    assert_int_equal(store_append_request(log, &rq, in, 2, out, &res), TALLY_OK);
    assert_int_equal(res.verdict, STORE_REQ_NEW);
    assert_int_equal(res.n_accepted, 2);
    assert_int_equal(res.first_seq, 5);
    assert_int_equal(res.count, 2);
    assert_true(res.has_sth);
    assert_int_equal(res.sth.tree_size, 7);
    assert_int_equal(store_size(log), 7);
    /* the same request again (a retry): the original seqs, nothing appended */
    assert_int_equal(store_append_request(log, &rq, in, 2, out, &res), TALLY_OK);
    assert_int_equal(res.verdict, STORE_REQ_DUPLICATE);
    assert_int_equal(res.first_seq, 5);
    assert_int_equal(res.count, 2);
    assert_false(out[0].accepted || out[1].accepted);
    assert_int_equal(store_size(log), 7);
    assert_int_equal(res.sth.tree_size, 7);
    /* another body under the accepted nonce */
    rq = request_of(100, 0xb2);
    assert_int_equal(store_append_request(log, &rq, in, 1, out, &res), TALLY_OK);
    assert_int_equal(res.verdict, STORE_REQ_REPLAY);
    assert_int_equal(store_size(log), 7);
    /* a nonce below the highest, never used */
    rq = request_of(99, 0xc3);
    assert_int_equal(store_append_request(log, &rq, in, 1, out, &res), TALLY_OK);
    assert_int_equal(res.verdict, STORE_REQ_STALE);
    assert_int_equal(store_nonce_get(log, &rq, &info), TALLY_OK);
    assert_true(info.stale && !info.found);
    rq = request_of(100, 0xa1);
    assert_int_equal(store_nonce_get(log, &rq, &info), TALLY_OK);
    assert_true(info.found && !info.stale);
    assert_int_equal(info.first_seq, 5);
    assert_int_equal(info.count, 2);
    /* a request whose only item is refused (same bucket) consumes nonce 101 in memory only */
    b = odds(101, 0, 4201, &en[0], pr[0]);
    in[0] = miner_rec(log, &b, t + 1, bufs[2]);
    rq = request_of(101, 0xd4);
    assert_int_equal(store_append_request(log, &rq, in, 1, out, &res), TALLY_OK);
    assert_int_equal(res.verdict, STORE_REQ_NEW);
    assert_int_equal(res.n_accepted, 0);
    assert_int_equal(out[0].code, ENGINE_RULE_DUPLICATE_IN_BUCKET);
    assert_int_equal(store_size(log), 7);
    rq = request_of(101, 0xe5); /* other content under the consumed nonce */
    assert_int_equal(store_nonce_get(log, &rq, &info), TALLY_OK);
    assert_true(info.stale);
    assert_int_equal(store_append_request(log, &rq, in, 1, out, &res), TALLY_OK);
    assert_int_equal(res.verdict, STORE_REQ_STALE);
    rq = request_of(101, 0xd4); /* the same request is judged again */
    assert_int_equal(store_append_request(log, &rq, in, 1, out, &res), TALLY_OK);
    assert_int_equal(res.verdict, STORE_REQ_NEW);
    assert_int_equal(out[0].code, ENGINE_RULE_DUPLICATE_IN_BUCKET);
    store_close(log);
    ledger_admission_release(&adm);
    /* after a restart the index still decides; the memory of consumed nonces is gone */
    cfg = (store_cfg){0};
    log = open_fixture(dir, &adm, false, &cfg);
    b = odds(100, 0, 4201, &en[0], pr[0]);
    in[0] = miner_rec(log, &b, t, bufs[0]);
    b = odds(100, 1, 4202, &en[1], pr[1]);
    in[1] = miner_rec(log, &b, t, bufs[1]);
    rq = request_of(100, 0xa1);
    assert_int_equal(store_append_request(log, &rq, in, 2, out, &res), TALLY_OK);
    assert_int_equal(res.verdict, STORE_REQ_DUPLICATE);
    assert_int_equal(res.first_seq, 5);
    rq = request_of(100, 0xb2);
    assert_int_equal(store_append_request(log, &rq, in, 2, out, &res), TALLY_OK);
    assert_int_equal(res.verdict, STORE_REQ_REPLAY);
    assert_int_equal(store_size(log), 7);
    store_close(log);
    ledger_admission_release(&adm);
    tu_rmdir(dir);
}

typedef struct racer {
    store_log *log;
    store_input *in;
    store_item_result out[1];
    store_req_result res;
    tally_status st;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    store_request rq = request_of(300, 0x77);
    r->st = store_append_request(r->log, &rq, r->in, 1, r->out, &r->res);
    return NULL;
}

/* Two producers send the same request at once: exactly one appends, the other is told it is a
 * duplicate of it (never a replay). */
static void racing_duplicates(void **state)
{
    const char *dir = tu_tmpdir("race");
    static uint8_t buf[SCHEMA_BODY_MAX];
    ledger_admission adm;
    store_cfg cfg = {0};
    store_log *log = open_fixture(dir, &adm, true, &cfg);
    store_input in[1];
    schema_entry en;
    schema_price pr[2];
    schema_body b;
    racer r[8];
    pthread_t th[8];
    unsigned fresh = 0, dup = 0;
    (void)state;

    b = odds(300, 0, 4201, &en, pr);
    in[0] = miner_rec(log, &b, START - DAY, buf);
    for (int i = 0; i < 8; i++) {
        r[i] = (racer){.log = log, .in = in};
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].st, TALLY_OK);
        fresh += r[i].res.verdict == STORE_REQ_NEW && r[i].res.n_accepted == 1;
        dup += r[i].res.verdict == STORE_REQ_DUPLICATE && r[i].res.first_seq == 5;
    }
    assert_int_equal(fresh, 1);
    assert_int_equal(dup, 7);
    assert_int_equal(store_size(log), 6);
    store_close(log);
    ledger_admission_release(&adm);
    tu_rmdir(dir);
}

static bool collect(void *arg, tally_bytes key, tally_bytes val)
{
    char *s = arg;
    size_t n = strlen(s);
    snprintf(s + n, 256 - n, "%.*s=%.*s;", (int)key.n, (const char *)key.p, (int)val.n,
             (const char *)val.p);
    return true;
}

/* Side tables: put, replace, delete, persistence across a restart; nothing in the tree. */
static void side_tables(void **state)
{
    const char *dir = tu_tmpdir("side");
    ledger_admission adm;
    store_cfg cfg = {0};
    store_log *log = open_fixture(dir, &adm, true, &cfg);
    char seen[256] = "";
    uint8_t buf[16];
    size_t n;
    bool found;
    (void)state;

    assert_int_equal(store_side_put(log, STORE_SIDE_BANS, (const uint8_t *)"b", 1,
                                    (const uint8_t *)"2", 1), TALLY_OK);
    assert_int_equal(store_side_put(log, STORE_SIDE_BANS, (const uint8_t *)"a", 1,
                                    (const uint8_t *)"1", 1), TALLY_OK);
    assert_int_equal(store_side_put(log, STORE_SIDE_BANS, (const uint8_t *)"a", 1,
                                    (const uint8_t *)"11", 2), TALLY_OK);
    assert_int_equal(store_side_put(log, STORE_SIDE_MARKS, (const uint8_t *)"m", 1,
                                    (const uint8_t *)"x", 1), TALLY_OK);
    assert_int_equal(store_side_put(log, STORE_SIDE_BANS, (const uint8_t *)"zz", 2, NULL, 0),
                     TALLY_OK);
    assert_int_equal(store_side_put(log, STORE_SIDE_BANS, (const uint8_t *)"", 0, NULL, 0),
                     TALLY_EINVAL);
    assert_int_equal(store_size(log), 5);
    store_close(log);
    ledger_admission_release(&adm);
    cfg = (store_cfg){0};
    log = open_fixture(dir, &adm, false, &cfg);
    assert_int_equal(store_side_each(log, STORE_SIDE_BANS, collect, seen), TALLY_OK);
    assert_string_equal(seen, "a=11;b=2;");
    assert_int_equal(store_side_put(log, STORE_SIDE_BANS, (const uint8_t *)"a", 1, NULL, 0),
                     TALLY_OK);
    seen[0] = '\0';
    assert_int_equal(store_side_each(log, STORE_SIDE_BANS, collect, seen), TALLY_OK);
    assert_string_equal(seen, "b=2;");
    assert_int_equal(store_side_get(log, STORE_SIDE_MARKS, (const uint8_t *)"m", 1, buf,
                                    sizeof(buf), &n, &found), TALLY_OK);
    assert_true(found && n == 1 && buf[0] == 'x');
    assert_int_equal(store_side_get(log, STORE_SIDE_MARKS, (const uint8_t *)"q", 1, buf,
                                    sizeof(buf), &n, &found), TALLY_OK);
    assert_false(found);
    store_close(log);
    ledger_admission_release(&adm);
    tu_rmdir(dir);
}

/* The writer blocked inside a commit: the queue fills and then refuses at once. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open, entered;
} gate;

static void hold_commit(void *arg, uint64_t first, uint64_t records, uint64_t ns)
{
    gate *g = arg;
    (void)first, (void)records, (void)ns;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

typedef struct async_done {
    pthread_mutex_t mu;
    int calls;
    tally_status st[4];
} async_done;

static void on_done(void *arg, tally_status st)
{
    async_done *d = arg;
    pthread_mutex_lock(&d->mu);
    d->st[d->calls++] = st;
    pthread_mutex_unlock(&d->mu);
}

static void queue_full(void **state)
{
    const char *dir = tu_tmpdir("queue");
    static uint8_t bufs[4][SCHEMA_BODY_MAX];
    ledger_admission adm;
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    async_done d = {PTHREAD_MUTEX_INITIALIZER, 0, {0}};
    store_cfg cfg = {.queue_max = 2, .on_commit = hold_commit, .on_commit_arg = &g};
    store_log *log;
    store_input in[3];
    store_item_result out[3][1];
    store_req_result res[3];
    store_request rq[3] = {request_of(500, 1), request_of(501, 2), request_of(502, 3)};
    schema_entry en[3];
    schema_price pr[3][2];
    schema_body b;
    store_writer_stats ws;
    (void)state;

    g.open = true; /* the fixture's own appends pass */
    log = open_fixture(dir, &adm, true, &cfg);
    pthread_mutex_lock(&g.mu);
    g.open = false, g.entered = false;
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < 3; i++) {
        b = odds(500 + (uint64_t)i, 0, 4201 + (uint64_t)(i == 1), &en[i], pr[i]);
        in[i] = miner_rec(log, &b, START - DAY + (uint64_t)i * 60000, bufs[i]);
    }
    /* the first is taken by the writer, which then waits in its commit hook */
    assert_int_equal(store_submit_request(log, &rq[0], &in[0], 1, out[0], &res[0], on_done, &d),
                     TALLY_OK);
    pthread_mutex_lock(&g.mu);
    while (!g.entered) {
        pthread_cond_wait(&g.cv, &g.mu);
    }
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(store_submit_request(log, &rq[1], &in[1], 1, out[1], &res[1], on_done, &d),
                     TALLY_OK);
    assert_int_equal(store_submit_request(log, &rq[2], &in[2], 1, out[2], &res[2], on_done, &d),
                     TALLY_OK);
    store_writer_stats_get(log, &ws);
    assert_int_equal(ws.queued, 2);
    /* a fourth would exceed queue_max: refused at once, nothing decided */
    assert_int_equal(store_submit_request(log, &rq[2], &in[2], 1, out[2], &res[2], on_done, &d),
                     TALLY_EAGAIN);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    store_close(log); /* drains the queue: every queued request is decided */
    assert_int_equal(d.calls, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(d.st[i], TALLY_OK);
        assert_int_equal(res[i].verdict, STORE_REQ_NEW);
        assert_int_equal(res[i].n_accepted, 1);
    }
    ledger_admission_release(&adm);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(items_judged_in_order), cmocka_unit_test(request_nonces),
        cmocka_unit_test(racing_duplicates),     cmocka_unit_test(side_tables),
        cmocka_unit_test(queue_full),
    };
    uint8_t seed[32] = {7};
    if (sodium_init() < 0) {
        return 1;
    }
    crypto_sign_seed_keypair(miner_pk, miner_sk, seed);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
