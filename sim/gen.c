/* The generator's emitter: builds and signs each day's records and hands them over in time
 * order. A day regenerates every event still active (listed up to SIM__ACTIVE_DAYS days before)
 * and keeps the records whose time falls in that day, so a history generated in pieces is the
 * same as one generated at once. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "sim/sim_int.h"

/* One built record waiting for the day's sort. */
typedef struct item {
    schema_header h;
    uint8_t *body;
    size_t n, idx;
} item;

typedef struct day {
    const sim_gen *g;
    uint64_t lo, hi; /* keep records with time in [lo, hi) */
    item *items;
    size_t n, cap;
    sim_day_stats *stats;
    tally_status st;
} day;

static bool in_day(const day *d, uint64_t t)
{
    return t >= d->lo && t < d->hi;
}

/* Encodes b, builds its header with actor pk (signed by sk, or by the node key when sk is NULL)
 * and time t, and queues it, if t falls in the day. */
static void add(day *d, const schema_body *b, const uint8_t *pk, const uint8_t *sk, uint64_t t)
{
    uint8_t buf[SCHEMA_BODY_MAX];
    tally_str origin = {SIM_ORIGIN, strlen(SIM_ORIGIN)};
    size_t n;
    item *it;

    if (d->st != TALLY_OK || !in_day(d, t)) {
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 1024;
        item *grown = realloc(d->items, cap * sizeof(*grown));
        if (grown == NULL) {
            d->st = TALLY_ENOMEM;
            return;
        }
        d->items = grown, d->cap = cap;
    }
    it = &d->items[d->n];
    d->st = schema_record_build(b, pk ? pk : d->g->node_pk, sk ? sk : d->g->node_sk, origin, t,
                                buf, sizeof(buf), &n, &it->h);
    if (d->st != TALLY_OK) {
        return;
    }
    it->body = malloc(n ? n : 1);
    if (it->body == NULL) {
        d->st = TALLY_ENOMEM;
        return;
    }
    memcpy(it->body, buf, n);
    it->n = n, it->idx = d->n;
    d->n++;
}

static void add_node(day *d, const schema_body *b, uint64_t t)
{
    add(d, b, NULL, NULL, t);
}

static uint64_t market_id(const sim__event *e, unsigned m)
{
    return e->id * 10 + m + 1;
}

/* ---- events and markets ---- */

static void emit_event_record(day *d, const sim__event *e, uint64_t status, uint64_t start,
                              uint64_t t)
{
    schema_body b = {.type = SCHEMA_EVENT};
    const char *h = sim__teams[e->home], *a = sim__teams[e->away];

    b.u.event = (schema_event){.event_id = e->id,
                               .sport = {e->lg->sport, strlen(e->lg->sport)},
                               .league = {e->lg->league, strlen(e->lg->league)},
                               .home_team = {h, strlen(h)},
                               .away_team = {a, strlen(a)},
                               .start_ms = start,
                               .status = status};
    add_node(d, &b, t);
}

static void emit_markets(day *d, const sim__event *e)
{
    static const uint64_t kinds[3] = {SCHEMA_MONEYLINE, SCHEMA_SPREAD, SCHEMA_TOTAL};
    for (unsigned m = 0; m < 3; m++) {
        schema_body b = {.type = SCHEMA_MARKET};
        double p[3];
        uint64_t sides[3];
        unsigned n = sim__truth(e, m, p, sides);
        b.u.market = (schema_market){.market_id = market_id(e, m),
                                     .event_id = e->id,
                                     .kind = kinds[m],
                                     .has_line_n = m != 0,
                                     .line_n = m != 0 ? e->line_n[m] : 0,
                                     .sides = sides,
                                     .n_sides = n};
        add_node(d, &b, e->listed_ms + 1000 + m);
    }
}

static bool postponed_at(const sim__event *e, uint64_t t)
{
    return e->postponed_ms != 0 && t >= e->postponed_ms && t < e->rescheduled_ms;
}

/* ---- miners ---- */

/* The key that sends for uid i at time t: the holder's, or (stale) the one that lost the uid
 * less than a day ago, which keeps sending what the rules then refuse (S1). */
static const sim__miner *sender(const sim_gen *g, unsigned i, unsigned gen, uint64_t t)
{
    const sim__slot *s = &g->slots[i];
    int h = sim__holder(s, t);

    if (h == (int)gen || sim__stale(s, t) == (int)gen) {
        return &s->m[gen];
    }
    return NULL;
}

/* The probability a miner prices side i of market m at, by its habits (sim_int.h). */
double sim__miner_prob(const sim__miner *mi, sim__rng *r, const double *p, unsigned i)
{
    switch (mi->kind) {
    case SIM__GARBAGE:
        return 0.02 + 0.9 * sim__u01(r);
    case SIM__COPIER:
        /* the market's price, vig removed, with a little jitter */
        return sim__clamp(p[i] * (1 + 0.01 * sim__gauss(r)), 0.005, 0.98);
    default:
        return sim__clamp(p[i] + mi->noise * sim__gauss(r), 0.005, 0.98);
    }
}

static void emit_submission(day *d, const sim__event *e, const sim__miner *mi, uint64_t t,
                            unsigned seqno)
{
    schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
    schema_entry entries[3];
    schema_price prices[3][3];
    sim__rng r;

    /* only a key that holds the uid, or lost it less than a day ago, sends */
    if (!in_day(d, t) || sender(d->g, mi->uid, mi->gen, t) == NULL) {
        return;
    }
    sim__rng_init(&r, d->g->cfg.seed, "submission", e->id,
                  (uint64_t)mi->gen << 32 | (uint64_t)mi->uid << 8 | seqno);
    for (unsigned m = 0; m < 3; m++) {
        double p[3];
        uint64_t sides[3];
        unsigned n = sim__truth(e, m, p, sides);
        for (unsigned i = 0; i < n; i++) {
            uint64_t odds = sim__odds_of(sim__miner_prob(mi, &r, p, i));
            prices[m][i] = (schema_price){sides[i], odds, 1000000000000000000ull / odds};
        }
        entries[m] = (schema_entry){.market_id = market_id(e, m),
                                    .kind = m == 0   ? SCHEMA_MONEYLINE
                                            : m == 1 ? SCHEMA_SPREAD
                                                     : SCHEMA_TOTAL,
                                    .has_priced_at_ms = true,
                                    .priced_at_ms = t - sim__below(&r, 60000),
                                    .prices = prices[m],
                                    .n_prices = n};
    }
    /* nonces rise with time: microseconds, plus the miner's sub-millisecond counter */
    b.u.odds = (schema_odds){.nonce = t * 1000 + seqno, .idx = 0, .event_id = e->id,
                             .markets = entries, .n_markets = 3};
    sim__salt(&r, b.u.odds.salt);
    add(d, &b, mi->pk, mi->sk, t);
}

/* Copying miners reprice the moneyline at the consensus a snapshot shows, with a little jitter,
 * a minute or two after it and in the same 5-minute bucket: series that move with the market,
 * which originality (scoring §5.7) scores as such. */
static void emit_copies(day *d, const sim__event *e, const schema_cprice *cp, size_t k,
                        uint64_t ts)
{
    const uint64_t bucket = 5 * SIM__MIN_MS;
    const sim_gen *g = d->g;

    for (unsigned i = 0; i < g->cfg.miners && d->st == TALLY_OK; i++) {
        int gen = sim__holder(&g->slots[i], ts);
        const sim__miner *mi = gen >= 0 ? &g->slots[i].m[gen] : NULL;
        schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
        schema_price prices[3];
        schema_entry en;
        uint64_t room = bucket - ts % bucket, t;
        sim__rng r;
        if (mi == NULL || mi->kind != SIM__COPIER || room <= 2000) {
            continue;
        }
        sim__rng_init(&r, g->cfg.seed, "copy", e->id,
                      (uint64_t)gen << 48 | (uint64_t)i << 32 | (ts / SIM__MIN_MS));
        if (sim__u01(&r) >= mi->participation) {
            continue;
        }
        t = ts + 1000 + sim__below(&r, room - 2000) - i % 1000;
        t = t > ts ? t : ts + 1;
        if (!in_day(d, t) || sim__holder(&g->slots[i], t) != gen) {
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            double pv = sim__clamp((double)cp[j].prob_n * 1e-9 * (1 + 0.005 * sim__gauss(&r)),
                                   0.005, 0.98);
            uint64_t odds = sim__odds_of(pv);
            prices[j] = (schema_price){cp[j].side, odds, 1000000000000000000ull / odds};
        }
        en = (schema_entry){.market_id = market_id(e, 0), .kind = SCHEMA_MONEYLINE,
                            .has_priced_at_ms = true, .priced_at_ms = t, .prices = prices,
                            .n_prices = k};
        b.u.odds = (schema_odds){.nonce = t * 1000 + 500 + i % 500, .idx = 0, .event_id = e->id,
                                 .markets = &en, .n_markets = 1};
        sim__salt(&r, b.u.odds.salt);
        add(d, &b, mi->pk, mi->sk, t);
    }
}

/* ---- quotes and consensus ---- */

/* A consensus record (scoring §3) of market m over the quotes of the last round, appended by
 * the node: MARKET_SNAPSHOT at ts, or the CLOSE at the event start. */
static void emit_consensus(day *d, const sim__event *e, unsigned m, const engine_quote *q,
                           size_t nq, uint64_t ts, uint64_t t, unsigned type)
{
    schema_body b = {.type = type};
    schema_cprice cp[3];
    double p[3];
    uint64_t sides[3];
    unsigned n = sim__truth(e, m, p, sides);
    size_t k;
    sim__rng r;

    if (d->st != TALLY_OK || (!in_day(d, t) && !(type == SCHEMA_MARKET_SNAPSHOT && m == 0))) {
        return; /* a moneyline snapshot outside the day may still prompt copies inside it */
    }
    d->st = engine_consensus(&d->g->params, q, nq, ts, sides, n, cp, &k);
    if (d->st != TALLY_OK || k == 0) {
        return;
    }
    sim__rng_init(&r, d->g->cfg.seed, type == SCHEMA_CLOSE ? "close" : "snapshot", e->id * 10 + m,
                  ts);
    b.u.snapshot = (schema_snapshot){.market_id = market_id(e, m), .ts_ms = ts, .probs = cp,
                                     .n_probs = k};
    sim__salt(&r, b.u.snapshot.salt);
    add_node(d, &b, t);
    /* copiers follow the moneyline's last rounds within minutes */
    if (type == SCHEMA_MARKET_SNAPSHOT && m == 0 && k == n && e->start_ms - ts < 19 * SIM__HOUR_MS) {
        emit_copies(d, e, cp, k, ts);
    }
}

/* Bookmaker quotes every 6 h from listing, and 10 minutes before the start (private records);
 * a MARKET_SNAPSHOT of each round a minute later while the event is scheduled, and the CLOSE
 * just after the start. */
static void emit_quotes(day *d, sim__event *e)
{
    engine_quote q[3][SIM__N_BOOKS * 3];
    size_t nq[3] = {0};

    for (uint64_t t = e->listed_ms + SIM__HOUR_MS; t < e->start_ms; t += 6 * SIM__HOUR_MS) {
        uint64_t when = t + 6 * SIM__HOUR_MS >= e->start_ms ? e->start_ms - 10 * SIM__MIN_MS : t;
        for (unsigned m = 0; m < 3; m++) {
            nq[m] = 0;
            for (unsigned bk = 0; bk < SIM__N_BOOKS; bk++) {
                schema_body b = {.type = SCHEMA_PROVIDER_QUOTE};
                schema_qprice qp[3];
                double p[3], vig = 1.02 + 0.01 * bk;
                uint64_t sides[3];
                unsigned n = sim__truth(e, m, p, sides);
                for (unsigned i = 0; i < n; i++) {
                    double qv = sim__clamp(p[i] * (1 + 0.03 * sim__gauss(&e->r)), 0.01, 0.97) * vig;
                    qp[i] = (schema_qprice){sides[i], sim__odds_of(qv)};
                    q[m][nq[m]++] = (engine_quote){sides[i], bk, when - 30000, bk, qp[i].odds_n};
                }
                b.u.provider_quote = (schema_provider_quote){
                    .market_id = market_id(e, m),
                    .provider = {"sim", 3},
                    .book = {sim__books[bk], strlen(sim__books[bk])},
                    .ts_ms = when - 30000,
                    .prices = qp,
                    .n_prices = n};
                sim__salt(&e->r, b.u.provider_quote.salt);
                add_node(d, &b, when + bk * 100 + m);
                if (in_day(d, when)) {
                    d->stats->quotes++;
                }
            }
            if ((!e->voided || when + SIM__MIN_MS < e->start_ms - SIM__HOUR_MS) &&
                !postponed_at(e, when + SIM__MIN_MS)) {
                emit_consensus(d, e, m, q[m], nq[m], when + SIM__MIN_MS, when + SIM__MIN_MS + m,
                               SCHEMA_MARKET_SNAPSHOT);
            }
        }
    }
    if (e->voided) {
        return; /* it never starts: no close */
    }
    for (unsigned m = 0; m < 3; m++) {
        emit_consensus(d, e, m, q[m], nq[m], e->start_ms, e->start_ms + 1000 + m, SCHEMA_CLOSE);
    }
}

/* ---- submissions ---- */

/* What garbage miners send besides their odds, all of it refused by the rules: the same
 * markets again seconds later (duplicate_in_bucket), odds after the start (market_closed), odds
 * while the event is postponed (market_closed); and a burst of reprices every 5 minutes in the
 * last hour, which a tightened daily cap (SIM_CONFIG_DAY) cuts off (market_daily_cap). */
static void emit_garbage(day *d, const sim__event *e, const sim__miner *mi, sim__rng *r,
                         uint64_t close)
{
    unsigned i = mi->uid;
    uint64_t t = e->start_ms - mi->lead_min_ms / 1000 * 1000 - i;

    if (sim__u01(r) < 0.5 && t > e->listed_ms + 2 * SIM__MIN_MS && t + 5000 < close &&
        !postponed_at(e, t)) {
        emit_submission(d, e, mi, t - t % SIM__MIN_MS + 1000, 2);
        emit_submission(d, e, mi, t - t % SIM__MIN_MS + 6000, 3);
    }
    if (sim__u01(r) < 0.3) {
        emit_submission(d, e, mi, e->start_ms + 10 * SIM__MIN_MS + i, 4);
    }
    if (e->postponed_ms != 0) {
        emit_submission(d, e, mi, e->postponed_ms + 2 * SIM__HOUR_MS + i, 6);
    }
    if (sim__u01(r) < 0.25 && !e->voided) {
        for (unsigned j = 0; j < 8; j++) {
            emit_submission(d, e, mi, e->start_ms - 40 * SIM__MIN_MS + j * 5 * SIM__MIN_MS + i,
                            8 + j);
        }
    }
}

/* The submissions of one generation of uid i for event e; only those sent while that key holds
 * the uid (or just lost it) are emitted. */
static void emit_miner(day *d, const sim__event *e, unsigned i, unsigned gen, uint64_t close)
{
    const sim__miner *mi = &d->g->slots[i].m[gen];
    sim__rng r;
    unsigned k;

    sim__rng_init(&r, d->g->cfg.seed, "participation", e->id, (uint64_t)gen << 32 | i);
    if (sim__u01(&r) >= mi->participation) {
        return;
    }
    k = 1 + (unsigned)sim__below(&r, 2);
    for (unsigned j = 0; j < k; j++) {
        uint64_t lead = mi->lead_min_ms + sim__below(&r, mi->lead_max_ms - mi->lead_min_ms);
        uint64_t t = e->start_ms - lead / 1000 * 1000 - j * 3 * SIM__HOUR_MS - i;
        /* honest miners see the listing: nothing while it is postponed */
        if (t > e->listed_ms + 2 * SIM__MIN_MS && t < close && !postponed_at(e, t)) {
            emit_submission(d, e, mi, t, j);
        }
    }
    /* before a postponement, one price for the original start */
    if (e->postponed_ms != 0) {
        emit_submission(d, e, mi, e->postponed_ms - SIM__HOUR_MS -
                                      sim__below(&r, 4) * SIM__HOUR_MS - i, 5);
    }
    if (mi->kind == SIM__GARBAGE) {
        emit_garbage(d, e, mi, &r, close);
    }
}

static void emit_submissions(day *d, const sim__event *e)
{
    /* odds are accepted only while the event is scheduled (spec §5.4 S5) */
    uint64_t close = e->voided ? e->start_ms - SIM__HOUR_MS : e->start_ms;

    for (unsigned i = 0; i < d->g->cfg.miners && d->st == TALLY_OK; i++) {
        for (unsigned gen = 0; gen < d->g->slots[i].n_gen; gen++) {
            emit_miner(d, e, i, gen, close);
        }
    }
}

/* ---- outcomes and the event timeline ---- */

/* The provider's OUTCOME with the final score, and a few miners' own reports. */
static void emit_outcome(day *d, sim__event *e)
{
    uint64_t t = e->outcome_ms;
    schema_body b = {.type = SCHEMA_OUTCOME};

    b.u.outcome = (schema_outcome){.source = 1, .event_id = e->id, .has_result = true,
                                   .result = e->result, .has_score_home = true,
                                   .score_home = e->score_home, .has_score_away = true,
                                   .score_away = e->score_away};
    emit_event_record(d, e, SCHEMA_FINISHED, e->start_ms, t);
    add_node(d, &b, t + 1);
    if (in_day(d, t)) {
        d->stats->outcomes++;
    }
    /* miners may report results too (embargoed until the outcome window closes) */
    for (unsigned i = 0; i < d->g->cfg.miners; i += 37) {
        schema_body mb = {.type = SCHEMA_OUTCOME};
        uint64_t mt = t + 5 * SIM__MIN_MS + i * 1000;
        int gen = sim__holder(&d->g->slots[i], mt);
        const sim__miner *mi = gen >= 0 ? &d->g->slots[i].m[gen] : NULL;
        mb.u.outcome = b.u.outcome;
        mb.u.outcome.source = 2;
        mb.u.outcome.nonce = mt * 1000 + 999;
        mb.u.outcome.has_salt = true;
        sim__salt(&e->r, mb.u.outcome.salt);
        if (mi != NULL) {
            add(d, &mb, mi->pk, mi->sk, mt);
        }
    }
}

static void emit_event_timeline(day *d, sim__event *e)
{
    emit_event_record(d, e, SCHEMA_SCHEDULED, e->first_start_ms, e->listed_ms);
    if (in_day(d, e->listed_ms)) {
        d->stats->events++;
        d->stats->markets += 3;
    }
    emit_markets(d, e);
    if (e->postponed_ms != 0) {
        emit_event_record(d, e, SCHEMA_POSTPONED, e->first_start_ms, e->postponed_ms);
        emit_event_record(d, e, SCHEMA_SCHEDULED, e->start_ms, e->rescheduled_ms);
    }
    emit_quotes(d, e);
    emit_submissions(d, e);
    if (e->voided) {
        emit_event_record(d, e, SCHEMA_VOID, e->start_ms, e->start_ms - SIM__HOUR_MS);
        return;
    }
    emit_outcome(d, e);
}

/* ---- node records of the day ---- */

static void emit_metagraph(day *d, uint64_t dayno, uint64_t t)
{
    const sim_gen *g = d->g;
    unsigned total = 0, parts;
    schema_neuron *nn = calloc(g->cfg.miners + SIM__N_VALIDATORS, sizeof(*nn));
    sim__rng r;

    if (nn == NULL) {
        d->st = TALLY_ENOMEM;
        return;
    }
    sim__rng_init(&r, g->cfg.seed, "metagraph", dayno, 0);
    for (unsigned i = 0; i < g->cfg.miners + SIM__N_VALIDATORS; i++) {
        bool validator = i >= g->cfg.miners;
        uint64_t stake = validator ? 200000000000000ull + sim__below(&r, 1000000000000ull)
                                   : 1000000000ull + sim__below(&r, 50000000000ull);
        schema_neuron *n = &nn[total];
        int gen = validator ? 0 : sim__holder(&g->slots[i], t + 1);
        if (gen < 0) {
            continue; /* not registered yet */
        }
        *n = (schema_neuron){.uid = i, .stake_rao = stake, .validator_permit = validator,
                             .active = true, .has_tally_key = true};
        if (validator) {
            sim__validator_keys(g->cfg.seed, i, n->hotkey, n->tally_key);
        } else {
            memcpy(n->hotkey, g->slots[i].m[gen].hotkey, 32);
            memcpy(n->tally_key, g->slots[i].m[gen].pk, 32);
        }
        total++;
    }
    parts = (total + 255) / 256;
    for (unsigned p = 0; p < parts; p++) {
        schema_body b = {.type = SCHEMA_METAGRAPH};
        unsigned lo = p * 256, n = total - lo < 256 ? total - lo : 256;
        b.u.metagraph = (schema_metagraph){SIM_NETUID, 1000000 + dayno * 7200, p, parts, nn + lo, n};
        add_node(d, &b, t);
    }
    free(nn);
}

static void emit_genesis(day *d)
{
    static const schema_param params[] = {
        {{"decay.half_life_days", 20}, {SCHEMA_PV_INT, 10, {0}, false}},
        {{"shrinkage.k", 11}, {SCHEMA_PV_INT, 200000000000ll, {0}, false}},
        {{"weight_emission.burn_rate", 25}, {SCHEMA_PV_INT, 900000000, {0}, false}},
        {{"windows.rolling_window_days", 27}, {SCHEMA_PV_INT, 30, {0}, false}},
    };
    const char *cv = d->g->cfg.code_version;
    schema_body b = {.type = SCHEMA_GENESIS};
    uint8_t owner_key[32];

    b.u.genesis = (schema_genesis){.origin = {SIM_ORIGIN, strlen(SIM_ORIGIN)},
                                   .netuid = SIM_NETUID,
                                   .created_ms = SIM_T0_MS,
                                   .code_version = {cv, strlen(cv)},
                                   .params = (schema_param *)(uintptr_t)params,
                                   .n_params = 4};
    memcpy(b.u.genesis.node_hotkey, d->g->node_pk, 32);
    b.u.genesis.chain = (schema_chain_params){.netuid = SIM_NETUID, .block = 1000000,
                                              .tempo = 360, .max_weight_limit = 65535,
                                              .min_allowed_weights = 1,
                                              .max_allowed_uids = 4096,
                                              .has_owner_hotkey = true};
    /* the owner is the first validator: its uid receives the burn (scoring §7.2) */
    sim__validator_keys(d->g->cfg.seed, d->g->cfg.miners, b.u.genesis.chain.owner_hotkey,
                        owner_key);
    add_node(d, &b, SIM_T0_MS);
}

/* A parameter change mid-run: the edge weight lowered, and the daily cap on prices per market
 * tightened to the protocol's minimum, which the garbage miners' bursts then run into. */
static void emit_config_set(day *d, uint64_t t)
{
    static const schema_param params[] = {
        {{"dimension_weights.w_edge", 24}, {SCHEMA_PV_INT, 500000000, {0}, false}},
        {{"ingest.max_submissions_per_market_day", 37}, {SCHEMA_PV_INT, 10, {0}, false}},
    };
    static const char reason[] = "sim: edge weight lowered, daily cap per market tightened";
    schema_body b = {.type = SCHEMA_CONFIG_SET};

    b.u.config_set = (schema_config_set){.params = (schema_param *)(uintptr_t)params,
                                         .n_params = 2,
                                         .has_reason = true,
                                         .reason = {reason, sizeof(reason) - 1}};
    add_node(d, &b, t);
}

/* ---- the handle ---- */

tally_status sim_gen_new(const sim_cfg *cfg, sim_gen **out)
{
    sim_gen *g;
    uint8_t ks[32];
    size_t k = 0;

    *out = NULL;
    if (cfg->miners < 1 || cfg->miners > SIM_MINERS_MAX || cfg->markets_per_day < 1 ||
        cfg->markets_per_day > SIM_MARKETS_MAX || cfg->code_version == NULL) {
        return TALLY_EINVAL;
    }
    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    g->cfg = *cfg;
    g->n_events = (cfg->markets_per_day + 2) / 3;
    engine_params_default(&g->params);
    g->slots = calloc(cfg->miners, sizeof(*g->slots));
    g->node_sk = sodium_malloc(64);
    if (g->slots == NULL || g->node_sk == NULL) {
        goto fail;
    }
    for (unsigned i = 0; i < cfg->miners; i++) {
        sim__schedule(cfg->seed, i, &g->slots[i]);
        g->n_keys += g->slots[i].n_gen;
    }
    g->keys = sodium_allocarray(g->n_keys, sizeof(*g->keys));
    if (g->keys == NULL) {
        goto fail;
    }
    for (unsigned i = 0; i < cfg->miners; i++) {
        g->slots[i].m = &g->keys[k];
        for (unsigned gen = 0; gen < g->slots[i].n_gen; gen++) {
            sim__make_miner(cfg->seed, i, gen, &g->keys[k++]);
        }
    }
    sim_node_key_seed(cfg->seed, ks);
    crypto_sign_seed_keypair(g->node_pk, g->node_sk, ks);
    sodium_memzero(ks, sizeof(ks));
    *out = g;
    return TALLY_OK;
fail:
    sim_gen_free(g);
    return TALLY_ENOMEM;
}

void sim_gen_free(sim_gen *g)
{
    if (g == NULL) {
        return;
    }
    sodium_free(g->keys); /* sodium_free wipes */
    sodium_free(g->node_sk);
    free(g->slots);
    free(g);
}

void sim_gen_node_pubkey(const sim_gen *g, uint8_t pk[32])
{
    memcpy(pk, g->node_pk, 32);
}

tally_status sim_gen_node_sign(const sim_gen *g, schema_header *h)
{
    memcpy(h->actor, g->node_pk, 32);
    return schema_record_sign(h, (tally_str){SIM_ORIGIN, strlen(SIM_ORIGIN)}, g->node_sk);
}

static int by_time(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->h.time_ms != y->h.time_ms) {
        return x->h.time_ms < y->h.time_ms ? -1 : 1;
    }
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

tally_status sim_gen_day(sim_gen *g, uint64_t dayno, sim_emit_fn emit, void *arg,
                         sim_day_stats *out)
{
    sim_day_stats stats = {0};
    uint64_t t = SIM_T0_MS + dayno * SIM_DAY_MS;
    day d = {.g = g, .lo = t, .hi = t + SIM_DAY_MS, .stats = &stats, .st = TALLY_OK};

    if (dayno == 0) {
        emit_genesis(&d);
    }
    if (dayno == SIM_CONFIG_DAY) {
        emit_config_set(&d, t + 1000);
    }
    emit_metagraph(&d, dayno, t + SIM__META_OFFSET_MS);
    /* every event with activity today */
    for (uint64_t ld = dayno > SIM__ACTIVE_DAYS ? dayno - SIM__ACTIVE_DAYS : 0; ld <= dayno; ld++) {
        for (unsigned k = 0; k < g->n_events && d.st == TALLY_OK; k++) {
            sim__event e;
            sim__make_event(g->cfg.seed, ld, k, g->n_events, &e);
            emit_event_timeline(&d, &e);
        }
    }
    if (d.st == TALLY_OK) {
        qsort(d.items, d.n, sizeof(*d.items), by_time);
    }
    for (size_t i = 0; d.st == TALLY_OK && i < d.n; i++) {
        sim_record rec = {d.items[i].h, d.items[i].body, d.items[i].n};
        d.st = emit(&rec, arg);
        stats.records++;
    }
    for (size_t i = 0; i < d.n; i++) {
        free(d.items[i].body);
    }
    free(d.items);
    if (out != NULL) {
        *out = stats;
    }
    return d.st;
}
