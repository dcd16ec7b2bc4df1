#include "util/samples.h"

#include <string.h>

const unsigned tu_types[18] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 32, 33, 34, 35};

#define S(lit) ((tally_str){lit, sizeof(lit) - 1})

static void fill(uint8_t *p, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(start + i);
    }
}

static schema_param params1[2];
static schema_neuron neurons[2];
static uint64_t sides3[3] = {1, 2, 3}, sides_total[2] = {4, 5};
static schema_qprice qprices[2] = {{1, 1910000000}, {2, 2100000000}};
static schema_cprice cprices[2];
static schema_price prices[3] = {{1, 1910000000, 523560209}, {2, 2100000000, 476190476},
                                 {3, 3500000000ull, 285714286}};
static schema_entry entries[2];
static uint64_t affected[3] = {7, 4242, 9007199254740991ull};
static uint64_t uids[3] = {0, 5, 300}, weights[3] = {65535, 1, 40000};

static void chain(schema_chain_params *c, int v)
{
    c->netuid = v ? 57 : 1;
    c->block = v ? 5000000000ull : 10;
    c->tempo = 360;
    c->max_weight_limit = 65535;
    c->min_allowed_weights = v ? 8 : 1;
    c->max_allowed_uids = 256;
    c->has_owner_hotkey = v;
    fill(c->owner_hotkey, 32, 0x40);
}

void tu_sample(unsigned type, int v, schema_body *b)
{
    memset(b, 0, sizeof(*b));
    b->type = type;
    switch (type) {
    case SCHEMA_GENESIS: {
        schema_genesis *g = &b->u.genesis;
        g->origin = v ? S("tally.example.org/57") : S("t/1");
        g->netuid = v ? 57 : 1;
        fill(g->node_hotkey, 32, 0x10);
        g->created_ms = v ? 1767225600000ull : 0;
        g->code_version = S("tally-0.1.0");
        params1[0] = (schema_param){S("decay.half_life_days"), {SCHEMA_PV_INT, 10, {0}, 0}};
        params1[1] = (schema_param){S("normalization.method"),
                                    {SCHEMA_PV_TEXT, 0, S("zscore_logistic"), 0}};
        g->params = v ? params1 : NULL;
        g->n_params = v ? 2 : 0;
        chain(&g->chain, v);
        break;
    }
    case SCHEMA_CONFIG_SET: {
        static schema_param p[2];
        p[0] = (schema_param){S("auth.require_permit"), {SCHEMA_PV_BOOL, 0, {0}, v ? 1 : 0}};
        p[1] = (schema_param){S("shrinkage.k"), {SCHEMA_PV_INT, v ? -5 : 200000000000, {0}, 0}};
        b->u.config_set.params = p;
        b->u.config_set.n_params = v ? 2 : 1;
        b->u.config_set.has_reason = v;
        b->u.config_set.reason = S("raise k — after review");
        break;
    }
    case SCHEMA_CHAIN_PARAMS:
        chain(&b->u.chain_params, v);
        break;
    case SCHEMA_METAGRAPH: {
        schema_metagraph *m = &b->u.metagraph;
        for (int i = 0; i < 2; i++) {
            neurons[i].uid = (uint64_t)(i * 200);
            fill(neurons[i].hotkey, 32, (uint8_t)(0x80 + i));
            neurons[i].stake_rao = v ? 123456789012345678ull : 0;
            neurons[i].validator_permit = i == 1;
            neurons[i].active = true;
            neurons[i].has_tally_key = v;
            fill(neurons[i].tally_key, 32, (uint8_t)(0xa0 + i));
        }
        m->netuid = 57;
        m->block = v ? 4000000 : 1;
        m->part = v ? 1 : 0;
        m->parts = v ? 2 : 1;
        m->neurons = v ? neurons : NULL;
        m->n_neurons = v ? 2 : 0;
        break;
    }
    case SCHEMA_EVENT: {
        schema_event *e = &b->u.event;
        e->event_id = v ? 9007199254740991ull : 1;
        e->sport = S("soccer");
        e->league = v ? S("EPL") : S("x");
        e->home_team = v ? S("Brighton & Hove Albion — Ünïcode") : S("A");
        e->away_team = S("B");
        e->has_venue = v;
        e->venue = S("Amex Stadium");
        e->start_ms = 1767300000000ull;
        e->status = v ? SCHEMA_POSTPONED : SCHEMA_SCHEDULED;
        e->has_ext_id = v;
        e->ext_id = S("sr:match:12345");
        break;
    }
    case SCHEMA_MARKET: {
        schema_market *m = &b->u.market;
        m->market_id = 90001;
        m->event_id = 4242;
        m->kind = v ? SCHEMA_TOTAL : SCHEMA_MONEYLINE;
        m->has_line_n = v;
        m->line_n = 2500000000;
        m->sides = v ? sides_total : sides3;
        m->n_sides = v ? 2 : 3;
        break;
    }
    case SCHEMA_PROVIDER_QUOTE: {
        schema_provider_quote *q = &b->u.provider_quote;
        q->market_id = 90001;
        q->provider = S("sportsdata");
        q->book = v ? S("pinnacle") : S("b");
        q->ts_ms = 1767290000000ull;
        q->prices = qprices;
        q->n_prices = v ? 2 : 1;
        fill(q->salt, 16, 0xf0);
        break;
    }
    case SCHEMA_MARKET_SNAPSHOT:
    case SCHEMA_CLOSE: {
        schema_snapshot *s = &b->u.snapshot;
        cprices[0] = (schema_cprice){1, 523560210, 19100000000ull / 10, 3, v, 1234567};
        cprices[0].odds_n = 1910000000; /* round4(1/0.52356021) = 1.9100 */
        cprices[1] = (schema_cprice){2, 476439790, 2098900000, 2, false, 0};
        s->market_id = 90001;
        s->ts_ms = 1767300000000ull;
        s->probs = cprices;
        s->n_probs = v ? 2 : 1;
        fill(s->salt, 16, 0x33);
        break;
    }
    case SCHEMA_ODDS_SUBMISSION: {
        schema_odds *o = &b->u.odds;
        entries[0] = (schema_entry){90001, SCHEMA_MONEYLINE, false, 0, prices, 2};
        entries[1] = (schema_entry){90002, SCHEMA_MONEYLINE, true, 1767225600000ull, prices, 3};
        o->nonce = 1767225600000000ull;
        o->idx = v ? 199 : 0;
        o->event_id = 4242;
        o->markets = entries;
        o->n_markets = v ? 2 : 1;
        fill(o->salt, 16, 0xf0);
        break;
    }
    case SCHEMA_OUTCOME: {
        schema_outcome *o = &b->u.outcome;
        o->source = v ? 2 : 1;
        o->nonce = v ? 77 : 0;
        o->idx = v ? 3 : 0;
        o->event_id = 4242;
        o->has_result = true;
        o->result = v ? SCHEMA_R_AWAY : SCHEMA_R_VOID;
        o->has_score_home = o->has_score_away = v;
        o->score_home = 1;
        o->score_away = 9999;
        o->has_salt = v;
        fill(o->salt, 16, 0x01);
        break;
    }
    case SCHEMA_RECOMPUTE: {
        schema_recompute *r = &b->u.recompute;
        r->epoch = v ? 4294967295ull : 1;
        r->reason = v ? 8 : 1;
        r->detail = S("provider sent a wrong result for event 4242");
        r->affected_events = v ? affected : NULL;
        r->n_affected_events = v ? 3 : 0;
        r->severity = v ? 3 : 1;
        r->code_version = S("tally-0.1.0");
        break;
    }
    case SCHEMA_ATTESTATION: {
        schema_attestation *a = &b->u.attestation;
        a->nonce = 5;
        a->cycle = v ? 70000 : 1;
        a->tree_size = v ? 1ull << 40 : 12;
        fill(a->root, 32, 1);
        fill(a->state_hash, 32, 2);
        fill(a->weights_hash, 32, 3);
        a->verdict = v ? 2 : 1;
        a->reason = v ? 1 : 0;
        a->has_divergent_seq = v;
        a->divergent_seq = 812;
        break;
    }
    case SCHEMA_SCORING_CYCLE: {
        schema_scoring_cycle *c = &b->u.scoring_cycle;
        c->cycle = v ? 1000 : 1;
        c->epoch = 0;
        c->as_of_ms = 1767225600000ull;
        c->covers_to = v ? 123456789 : 7;
        c->code_version = S("tally-0.1.0");
        break;
    }
    case SCHEMA_SUBMISSION_SCORE: {
        schema_submission_score *s = &b->u.submission_score;
        s->cycle = 3;
        s->sub_seq = 812;
        s->uid = 17;
        s->market_id = 90001;
        s->side = SCHEMA_AWAY;
        s->submitted_at_ms = 1767225600000ull;
        s->has_close = v;
        s->close = (schema_close_metrics){-12345678, 2345678, -1000000000, 500000000, 1440};
        s->has_outcome = v;
        s->outcome = (schema_outcome_metrics){250000000, 693147181, -1000000000000000ll, 100000000,
                                              -5, true};
        fill(s->salt, 16, 0xf0);
        break;
    }
    case SCHEMA_MINER_SCORE: {
        schema_miner_score *m = &b->u.miner_score;
        m->cycle = 3;
        m->uid = 17;
        fill(m->hotkey, 32, 0x81);
        m->as_of_ms = 1767225600000ull;
        m->n_rows = v ? 4000000000ull : 0;
        m->n_eff = v ? 123456789012 : 0;
        for (int i = 0; i < 5; i++) {
            m->acc[i] = (schema_acc){v ? -(int64_t)i * 1000000007 : 0, v ? i * 3 : 0};
        }
        for (int i = 0; i < 14; i++) {
            m->stats[i] = (schema_opt_n){i < 12 || v, v ? 500000000 - i * 100000000 : 0};
        }
        for (int i = 0; i < 7; i++) {
            m->norms[i] = 500000000;
        }
        for (int i = 0; i < 4; i++) {
            m->dims[i] = v ? 731058579 : 500000000;
        }
        m->skill = v ? 623456789 : 500000000;
        break;
    }
    case SCHEMA_WEIGHTS: {
        schema_weights *w = &b->u.weights;
        w->cycle = 3;
        w->netuid = 57;
        w->uids = uids;
        w->weights = weights;
        w->n_uids = w->n_weights = v ? 3 : 1;
        fill(w->inputs_hash, 32, 0x55);
        break;
    }
    case SCHEMA_STATE_HASH:
        b->u.state_hash.cycle = 3;
        fill(b->u.state_hash.state_hash, 32, 0x66);
        b->u.state_hash.state_len = v ? 268435456 : 100;
        break;
    }
}
