/* Live runs (sim.h): the generator's miners and event model on the real clock. Nothing here
 * keeps state between calls; every random draw comes from a stream of (seed, purpose, ids), so
 * the same seed, event and nonce give the same body in every run. */
#include <string.h>

#include "sim/sim_int.h"

static const char *const kind_names[SIM_KIND_COUNT] = {
    [SIM_KIND_SHARP] = "sharp",     [SIM_KIND_COPIER] = "copying", [SIM_KIND_NOISY] = "noisy",
    [SIM_KIND_GARBAGE] = "garbage", [SIM_KIND_LATE] = "late",
};

/* The private kinds and the public ones are the same list in the same order. */
_Static_assert(SIM__SHARP == (int)SIM_KIND_SHARP && SIM__COPIER == (int)SIM_KIND_COPIER &&
                   SIM__NOISY == (int)SIM_KIND_NOISY && SIM__GARBAGE == (int)SIM_KIND_GARBAGE &&
                   SIM__LATE == (int)SIM_KIND_LATE,
               "sim kinds");

#define LIVE_TIME_MAX 9007199254740991ull /* 2^53 − 1 */

const char *sim_kind_name(sim_kind k)
{
    return (unsigned)k < SIM_KIND_COUNT ? kind_names[k] : "?";
}

tally_status sim_gen_miner(const sim_gen *g, unsigned uid, sim_miner *out)
{
    const sim__miner *mi;

    memset(out, 0, sizeof(*out));
    if (uid >= g->cfg.miners) {
        return TALLY_EINVAL;
    }
    mi = &g->slots[uid].m[0];
    *out = (sim_miner){.uid = uid,
                       .kind = (sim_kind)mi->kind,
                       .pk = mi->pk,
                       .sk = mi->sk,
                       .hotkey = mi->hotkey,
                       .lead_min_ms = mi->lead_min_ms,
                       .lead_max_ms = mi->lead_max_ms};
    return TALLY_OK;
}

tally_status sim_live_event_make(const sim_gen *g, uint64_t event_id, uint64_t start_ms,
                                 sim_live_event *out)
{
    static const uint64_t kinds[3] = {SCHEMA_MONEYLINE, SCHEMA_SPREAD, SCHEMA_TOTAL};
    sim__event e;

    memset(out, 0, sizeof(*out));
    if (event_id == 0 || event_id > SIM_LIVE_EVENT_ID_MAX || start_ms > LIVE_TIME_MAX) {
        return TALLY_EINVAL;
    }
    /* the model's event of that number on the calendar, moved to the caller's id and start */
    sim__make_event(g->cfg.seed, event_id / 1000, (unsigned)(event_id % 1000), 1000, &e);
    out->event_id = event_id, out->start_ms = start_ms, out->n_markets = 3;
    out->event.type = SCHEMA_EVENT;
    out->event.u.event =
        (schema_event){.event_id = event_id,
                       .sport = {e.lg->sport, strlen(e.lg->sport)},
                       .league = {e.lg->league, strlen(e.lg->league)},
                       .home_team = {sim__teams[e.home], strlen(sim__teams[e.home])},
                       .away_team = {sim__teams[e.away], strlen(sim__teams[e.away])},
                       .start_ms = start_ms,
                       .status = SCHEMA_SCHEDULED};
    for (unsigned m = 0; m < 3; m++) {
        unsigned n = sim__truth(&e, m, out->p[m], out->sides[m]);
        out->market[m].type = SCHEMA_MARKET;
        out->market[m].u.market = (schema_market){.market_id = event_id * 10 + m + 1,
                                                  .event_id = event_id,
                                                  .kind = kinds[m],
                                                  .has_line_n = m != 0,
                                                  .line_n = m != 0 ? e.line_n[m] : 0,
                                                  .sides = out->sides[m],
                                                  .n_sides = n};
    }
    out->result = e.result, out->score_home = e.score_home, out->score_away = e.score_away;
    return TALLY_OK;
}

/* The miner's private view of its habits (its noise and kind), found again from the handle. */
static const sim__miner *miner_of(const sim_gen *g, const sim_miner *m)
{
    return m->uid < g->cfg.miners ? &g->slots[m->uid].m[0] : NULL;
}

static void live_rng(const sim_gen *g, const char *purpose, const sim_live_event *e, uint64_t nonce,
                     unsigned uid, sim__rng *r)
{
    sim__rng_init(r, g->cfg.seed, purpose, e->event_id, nonce << 10 ^ (uint64_t)uid);
}

tally_status sim_live_odds(const sim_gen *g, const sim_miner *m, const sim_live_event *e,
                           uint64_t t_ms, uint64_t nonce, uint64_t idx, uint8_t *buf, size_t cap,
                           size_t *n_out)
{
    const sim__miner *mi = miner_of(g, m);
    schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
    schema_entry entries[3];
    schema_price prices[3][3];
    sim__rng r;

    *n_out = 0;
    if (mi == NULL || t_ms > LIVE_TIME_MAX) {
        return TALLY_EINVAL;
    }
    if (e->n_markets < 1 || e->n_markets > 3) {
        return TALLY_EINVAL;
    }
    live_rng(g, "live-odds", e, nonce, m->uid, &r);
    for (unsigned k = 0; k < e->n_markets; k++) {
        const schema_market *mk = &e->market[k].u.market;
        for (unsigned i = 0; i < mk->n_sides; i++) {
            uint64_t odds = sim__odds_of(sim__miner_prob(mi, &r, e->p[k], i));
            prices[k][i] = (schema_price){mk->sides[i], odds, 1000000000000000000ull / odds};
        }
        entries[k] = (schema_entry){.market_id = mk->market_id,
                                    .kind = mk->kind,
                                    .has_priced_at_ms = true,
                                    .priced_at_ms = t_ms - sim__below(&r, t_ms < 5000 ? 1 : 5000),
                                    .prices = prices[k],
                                    .n_prices = mk->n_sides};
    }
    b.u.odds = (schema_odds){
        .nonce = nonce, .idx = idx, .event_id = e->event_id, .markets = entries,
        .n_markets = e->n_markets};
    sim__salt(&r, b.u.odds.salt);
    return schema_body_encode(&b, buf, cap, n_out);
}

tally_status sim_live_outcome(const sim_gen *g, const sim_miner *m, const sim_live_event *e,
                              uint64_t nonce, uint64_t idx, uint8_t *buf, size_t cap, size_t *n_out)
{
    schema_body b = {.type = SCHEMA_OUTCOME};
    sim__rng r;

    *n_out = 0;
    if (miner_of(g, m) == NULL) {
        return TALLY_EINVAL;
    }
    live_rng(g, "live-outcome", e, nonce, m->uid, &r);
    b.u.outcome = (schema_outcome){.source = 2,
                                   .nonce = nonce,
                                   .idx = idx,
                                   .event_id = e->event_id,
                                   .has_result = true,
                                   .result = e->result,
                                   .has_score_home = true,
                                   .score_home = e->score_home,
                                   .has_score_away = true,
                                   .score_away = e->score_away,
                                   .has_salt = true};
    sim__salt(&r, b.u.outcome.salt);
    return schema_body_encode(&b, buf, cap, n_out);
}
