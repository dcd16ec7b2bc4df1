/* The generator without a store: run through the acceptance rules and the scoring engine in
 * memory, as a node would, it gives exactly the records `tally simulate` appends (every leaf
 * hash); its world has what real subnets see (a CONFIG_SET, a postponed event rescheduled before
 * its original start, a push, a uid changing hands, and the refusals these cause); a day is the
 * same whatever was generated before it; and the simulated log replays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "sim/sim.h"
#include "store/store.h"
#include "util/testutil.h"

#define SEED 2
#define MINERS 16
#define MARKETS 12
#define DAYS 6

static const char *bin;
static char out[1 << 16];

typedef struct rec {
    schema_header h;
    uint8_t *body;
    size_t n;
    uint8_t leaf[32];
} rec;

/* The node in memory: the records admitted so far, the rules and the engine over them. */
typedef struct node {
    rec *r;
    size_t n, cap;
    engine_rules *rules;
    engine *eng;
    sim_gen *gen;
    uint64_t refused[ENGINE_RULE_COUNT];
} node;

static void push(node *nd, const schema_header *h, const uint8_t *body, size_t n)
{
    uint8_t hb[SCHEMA_HEADER_MAX];
    size_t hn;

    if (nd->n == nd->cap) {
        nd->cap = nd->cap ? 2 * nd->cap : 4096;
        nd->r = realloc(nd->r, nd->cap * sizeof(*nd->r));
        assert_non_null(nd->r);
    }
    nd->r[nd->n].h = *h;
    nd->r[nd->n].body = malloc(n ? n : 1);
    assert_non_null(nd->r[nd->n].body);
    memcpy(nd->r[nd->n].body, body, n);
    nd->r[nd->n].n = n;
    assert_int_equal(schema_header_encode(h, hb, sizeof(hb), &hn), TALLY_OK);
    store_leaf_hash(hb, hn, nd->r[nd->n].leaf);
    nd->n++;
}

/* The rules judge the record at the next position; admitted records join the log. */
static engine_rule admit(node *nd, const schema_header *h, const uint8_t *body, size_t n)
{
    schema_body b;
    engine_verdict v;

    assert_int_equal(schema_record_check(h, body, n, &b), TALLY_OK);
    assert_int_equal(engine_rules_admit(nd->rules, nd->n, h, &b, &v), TALLY_OK);
    schema_body_release(&b);
    if (v.rule == ENGINE_RULE_OK) {
        push(nd, h, body, n);
    }
    return v.rule;
}

static tally_status on_record(const sim_record *r, void *arg)
{
    node *nd = arg;
    engine_rule rule = admit(nd, &r->header, r->body, r->body_len);

    if (rule != ENGINE_RULE_OK) {
        /* only miner records may be refused */
        assert_true(schema_type_miner((unsigned)r->header.type));
        nd->refused[rule]++;
    }
    return TALLY_OK;
}

/* Folds every record not yet in the engine (a cycle and its derived records by header only). */
static void fold(node *nd)
{
    for (uint64_t s = engine_next_seq(nd->eng); s < nd->n; s++) {
        const rec *r = &nd->r[s];
        schema_body b;
        if (r->h.type == SCHEMA_SCORING_CYCLE || r->h.type >= SCHEMA_SUBMISSION_SCORE) {
            assert_int_equal(engine_apply(nd->eng, s, &r->h, NULL), TALLY_OK);
            continue;
        }
        assert_int_equal(schema_record_check(&r->h, r->body, r->n, &b), TALLY_OK);
        assert_int_equal(engine_apply(nd->eng, s, &r->h, &b), TALLY_OK);
        schema_body_release(&b);
    }
}

static void node_record(node *nd, const schema_body *b, uint64_t t, uint8_t leaf_out[32])
{
    uint8_t body[SCHEMA_BODY_MAX], pk[32];
    schema_header h;
    size_t n;

    sim_gen_node_pubkey(nd->gen, pk);
    assert_int_equal(schema_body_encode(b, body, sizeof(body), &n), TALLY_OK);
    assert_int_equal(schema_header_init(b, body, n, pk, &h), TALLY_OK);
    assert_int_equal(sim_gen_node_sign(nd->gen, &h), TALLY_OK);
    h.time_ms = t;
    assert_int_equal(admit(nd, &h, body, n), ENGINE_RULE_OK);
    if (leaf_out != NULL) {
        memcpy(leaf_out, nd->r[nd->n - 1].leaf, 32);
    }
}

/* The scoring cycle at midnight t with its derived block, as the node appends it. */
static void cycle(node *nd, uint64_t number, uint64_t t)
{
    schema_body cb = {.type = SCHEMA_SCORING_CYCLE};
    schema_header ch = {.type = SCHEMA_SCORING_CYCLE, .time_ms = t};
    engine_block blk;
    uint8_t (*leaf)[32];
    uint64_t seq = nd->n;

    fold(nd);
    cb.u.scoring_cycle = (schema_scoring_cycle){
        .cycle = number, .epoch = 0, .as_of_ms = t, .covers_to = seq,
        .code_version = {SCHEMA_CODE_VERSION, sizeof(SCHEMA_CODE_VERSION) - 1}};
    engine_attach_rules(nd->eng, nd->rules); /* the checkpoint carries the rules' state */
    assert_int_equal(engine_cycle(nd->eng, seq, &ch, &cb.u.scoring_cycle, &blk), TALLY_OK);
    engine_attach_rules(nd->eng, NULL);
    leaf = calloc(blk.n_miners + 1, sizeof(*leaf));
    assert_non_null(leaf);
    node_record(nd, &cb, t, NULL);
    for (size_t i = 0; i < blk.n; i++) {
        bool miner = i >= blk.n_scores && i < blk.n_scores + blk.n_miners;
        if (blk.bodies[i].type == SCHEMA_WEIGHTS) {
            engine_block_set_inputs_hash(&blk, (const uint8_t(*)[32])leaf);
        }
        node_record(nd, &blk.bodies[i], t, miner ? leaf[i - blk.n_scores] : NULL);
    }
    free(leaf);
    engine_block_release(&blk);
}

static void node_run(node *nd, uint64_t seed, unsigned days)
{
    sim_cfg cfg = {.seed = seed, .miners = MINERS, .markets_per_day = MARKETS,
                   .code_version = SCHEMA_CODE_VERSION};

    memset(nd, 0, sizeof(*nd));
    assert_int_equal(sim_gen_new(&cfg, &nd->gen), TALLY_OK);
    assert_int_equal(engine_rules_new(&nd->rules), TALLY_OK);
    assert_int_equal(engine_new(&nd->eng), TALLY_OK);
    for (unsigned d = 0; d < days; d++) {
        if (d > 0) {
            cycle(nd, d, SIM_T0_MS + d * SIM_DAY_MS);
        }
        assert_int_equal(sim_gen_day(nd->gen, d, on_record, nd, NULL), TALLY_OK);
    }
}

static void node_free(node *nd)
{
    for (size_t i = 0; i < nd->n; i++) {
        free(nd->r[i].body);
    }
    free(nd->r);
    engine_rules_free(nd->rules);
    engine_free(nd->eng);
    sim_gen_free(nd->gen);
}

static const rec *find_body(const node *nd, unsigned type, size_t from, schema_body *b)
{
    for (size_t i = from; i < nd->n; i++) {
        if (nd->r[i].h.type == type) {
            assert_int_equal(schema_body_decode(type, nd->r[i].body, nd->r[i].n, b), TALLY_OK);
            return &nd->r[i];
        }
    }
    return NULL;
}

/* A postponed EVENT, then the same event scheduled again with a later start, both before the
 * original start. */
static bool has_postponement(const node *nd)
{
    for (size_t i = 0; i < nd->n; i++) {
        schema_body a, b;
        bool found = false;
        if (nd->r[i].h.type != SCHEMA_EVENT) {
            continue;
        }
        assert_int_equal(schema_body_decode(SCHEMA_EVENT, nd->r[i].body, nd->r[i].n, &a),
                         TALLY_OK);
        for (size_t j = i + 1; a.u.event.status == SCHEMA_POSTPONED && j < nd->n; j++) {
            if (nd->r[j].h.type != SCHEMA_EVENT) {
                continue;
            }
            assert_int_equal(schema_body_decode(SCHEMA_EVENT, nd->r[j].body, nd->r[j].n, &b),
                             TALLY_OK);
            if (b.u.event.event_id == a.u.event.event_id) {
                found = b.u.event.status == SCHEMA_SCHEDULED &&
                        b.u.event.start_ms > a.u.event.start_ms &&
                        nd->r[j].h.time_ms < a.u.event.start_ms;
                schema_body_release(&b);
                break;
            }
            schema_body_release(&b);
        }
        schema_body_release(&a);
        if (found) {
            return true;
        }
    }
    return false;
}

/* A spread or total market whose line the provider's final score lands on exactly. */
static unsigned pushes(const node *nd)
{
    unsigned n = 0;

    for (size_t i = 0; i < nd->n; i++) {
        schema_body o, m;
        if (nd->r[i].h.type != SCHEMA_OUTCOME || nd->r[i].h.tier != SCHEMA_PUBLIC) {
            continue;
        }
        assert_int_equal(schema_body_decode(SCHEMA_OUTCOME, nd->r[i].body, nd->r[i].n, &o),
                         TALLY_OK);
        for (size_t j = 0; j < i; j++) {
            if (nd->r[j].h.type != SCHEMA_MARKET) {
                continue;
            }
            assert_int_equal(schema_body_decode(SCHEMA_MARKET, nd->r[j].body, nd->r[j].n, &m),
                             TALLY_OK);
            if (m.u.market.event_id == o.u.outcome.event_id && m.u.market.has_line_n) {
                int64_t h = (int64_t)o.u.outcome.score_home * 1000000000ll;
                int64_t a = (int64_t)o.u.outcome.score_away * 1000000000ll;
                n += m.u.market.kind == SCHEMA_TOTAL ? h + a == m.u.market.line_n
                                                     : h + m.u.market.line_n == a;
            }
            schema_body_release(&m);
        }
        schema_body_release(&o);
    }
    return n;
}

/* A uid whose hotkey and tally key differ between two METAGRAPH snapshots. */
static bool has_reregistration(const node *nd)
{
    uint8_t first[MINERS][32];
    bool seen[MINERS] = {false}, changed = false;
    schema_body b;
    size_t from = 0;
    const rec *r;

    while (!changed && (r = find_body(nd, SCHEMA_METAGRAPH, from, &b)) != NULL) {
        for (size_t k = 0; k < b.u.metagraph.n_neurons; k++) {
            const schema_neuron *nn = &b.u.metagraph.neurons[k];
            if (nn->uid >= MINERS) {
                continue;
            }
            if (seen[nn->uid] && memcmp(first[nn->uid], nn->tally_key, 32) != 0) {
                changed = true;
            }
            memcpy(first[nn->uid], nn->tally_key, 32);
            seen[nn->uid] = true;
        }
        schema_body_release(&b);
        from = (size_t)(r - nd->r) + 1;
    }
    return changed;
}

static void simulate(const char *dir, uint64_t seed)
{
    int rc = tu_run(out, sizeof(out),
                    "%s simulate --dir %s --miners %d --days %d --seed %llu --markets-per-day %d -q",
                    bin, dir, MINERS, DAYS, (unsigned long long)seed, MARKETS);
    if (rc != 0) {
        fail_msg("simulate: %d: %s", rc, out);
    }
}

/* Every leaf of the log the binary wrote is the leaf of the record the in-memory node admitted
 * at that position. */
static void test_generator_equals_log(void **state)
{
    const char *dir = tu_tmpdir("sim-gen");
    store_cfg cfg = {.dir = dir, .read_only = true};
    store_log *log;
    store_iter *it;
    store_record r;
    node nd;
    uint64_t seen = 0;
    tally_status st;
    (void)state;

    simulate(dir, SEED);
    node_run(&nd, SEED, DAYS);
    assert_int_equal(store_open(&cfg, &log), TALLY_OK);
    assert_int_equal(store_size(log), nd.n);
    assert_int_equal(store_iter_open(log, 0, &it), TALLY_OK);
    while ((st = store_iter_next(it, &r)) == TALLY_OK) {
        if (memcmp(r.leaf_hash, nd.r[r.seq].leaf, 32) != 0) {
            fail_msg("leaf %llu differs (%s)", (unsigned long long)r.seq,
                     schema_type_name((unsigned)nd.r[r.seq].h.type));
        }
        seen++;
    }
    assert_int_equal(st, TALLY_ENOTFOUND);
    assert_int_equal(seen, nd.n);
    store_iter_close(it);
    store_close(log);

    /* the world: each feature, and the refusals it brings */
    schema_body b;
    const rec *cs = find_body(&nd, SCHEMA_CONFIG_SET, 0, &b);
    assert_non_null(cs);
    assert_int_equal((cs->h.time_ms - SIM_T0_MS) / SIM_DAY_MS, SIM_CONFIG_DAY);
    assert_int_equal(b.u.config_set.n_params, 2);
    assert_memory_equal(b.u.config_set.params[1].key.p, "ingest.max_submissions_per_market_day",
                        37);
    schema_body_release(&b);
    assert_true(has_postponement(&nd));
    assert_true(pushes(&nd) > 0);
    assert_true(has_reregistration(&nd));
    assert_true(nd.refused[ENGINE_RULE_KEY_NOT_REGISTERED] > 0);  /* the old key, after */
    assert_true(nd.refused[ENGINE_RULE_MARKET_DAILY_CAP] > 0);    /* the tightened cap */
    assert_true(nd.refused[ENGINE_RULE_MARKET_CLOSED] > 0);       /* postponed, or started */
    assert_true(nd.refused[ENGINE_RULE_DUPLICATE_IN_BUCKET] > 0);
    node_free(&nd);

    /* the log replays, and its signatures hold */
    assert_int_equal(tu_run(out, sizeof(out), "%s replay --dir %s --quiet", bin, dir), 0);
    assert_non_null(strstr(out, "replay matched"));
    assert_int_equal(tu_run(out, sizeof(out), "%s verify --dir %s --signatures --quiet", bin, dir),
                     0);
    tu_rmdir(dir);
}

/* Leaf hashes of the records of one day, generated by g (no rules). */
typedef struct leaves {
    uint8_t (*h)[32];
    size_t n, cap;
    uint64_t last_ms;
} leaves;

static tally_status collect(const sim_record *r, void *arg)
{
    leaves *l = arg;
    uint8_t hb[SCHEMA_HEADER_MAX];
    size_t hn;

    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->h = realloc(l->h, l->cap * sizeof(*l->h));
        assert_non_null(l->h);
    }
    assert_int_equal(schema_record_check(&r->header, r->body, r->body_len, NULL), TALLY_OK);
    assert_int_equal(schema_record_verify(&r->header, (tally_str){SIM_ORIGIN, strlen(SIM_ORIGIN)}),
                     TALLY_OK);
    /* sorted by time */
    assert_true(l->n == 0 || r->header.time_ms >= l->last_ms);
    l->last_ms = r->header.time_ms;
    assert_int_equal(schema_header_encode(&r->header, hb, sizeof(hb), &hn), TALLY_OK);
    store_leaf_hash(hb, hn, l->h[l->n++]);
    return TALLY_OK;
}

static void day_leaves(uint64_t seed, const unsigned *days, size_t n_days, leaves *out_l)
{
    sim_cfg cfg = {.seed = seed, .miners = MINERS, .markets_per_day = MARKETS,
                   .code_version = SCHEMA_CODE_VERSION};
    sim_gen *g;

    assert_int_equal(sim_gen_new(&cfg, &g), TALLY_OK);
    for (size_t i = 0; i < n_days; i++) {
        out_l->n = 0;
        out_l->last_ms = 0;
        assert_int_equal(sim_gen_day(g, days[i], collect, out_l, NULL), TALLY_OK);
    }
    sim_gen_free(g);
}

static tally_status stop_at_third(const sim_record *r, void *arg)
{
    size_t *n = arg;
    (void)r;
    return ++*n == 3 ? TALLY_EFULL : TALLY_OK;
}

/* A day is a function of (seed, config, day) alone: generated after other days or on its own it
 * gives the same records, another seed other ones; a callback's status stops the day. */
static void test_day_independent(void **state)
{
    const unsigned alone[] = {4}, after[] = {0, 1, 2, 3, 4};
    leaves a = {0}, b = {0}, c = {0};
    sim_cfg cfg = {.seed = SEED, .miners = MINERS, .markets_per_day = MARKETS,
                   .code_version = SCHEMA_CODE_VERSION};
    sim_gen *g;
    size_t n = 0;
    (void)state;

    day_leaves(SEED, alone, 1, &a);
    day_leaves(SEED, after, 5, &b);
    day_leaves(SEED + 1, alone, 1, &c);
    assert_true(a.n > 100);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.h, b.h, a.n * 32);
    assert_memory_not_equal(a.h, c.h, 32);
    free(a.h);
    free(b.h);
    free(c.h);

    assert_int_equal(sim_gen_new(&cfg, &g), TALLY_OK);
    assert_int_equal(sim_gen_day(g, 0, stop_at_third, &n, NULL), TALLY_EFULL);
    assert_int_equal(n, 3);
    sim_gen_free(g);
    cfg.miners = 0;
    assert_int_equal(sim_gen_new(&cfg, &g), TALLY_EINVAL);
    assert_null(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator_equals_log),
        cmocka_unit_test(test_day_independent),
    };
    bin = getenv("TALLY_BIN");
    if (bin == NULL) {
        fprintf(stderr, "TALLY_BIN is not set\n");
        return 1;
    }
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
