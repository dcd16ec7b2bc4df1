/* The simulator: a realistic, deterministic subnet history. Every random choice comes from a
 * xoshiro256** stream seeded by (seed, purpose, id), so each event's whole timeline, each
 * miner's key and habits, and each salt are functions of the seed alone. A day's run emits the
 * records whose time falls in that day, so continuing a history later gives the same bytes as
 * simulating all the days at once. Only + − × ÷ on doubles are used (no libm), which IEEE 754
 * makes identical on every machine. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

#define DAY_MS 86400000ull
#define HOUR_MS 3600000ull
#define MIN_MS 60000ull
#define SIM_T0 1767225600000ull /* 2026-01-01T00:00:00Z */
#define SIM_NETUID 57
#define SIM_ORIGIN "tally.sim/57"
#define LEAD_DAYS 2             /* events start two days after they are listed */
#define N_BOOKS 4
#define N_VALIDATORS 2

/* ---- randomness ---- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t res = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = rotl(r->s[3], 45);
    return res;
}

/* A stream for (seed, purpose, a, b): SHA-256 of the four, as the xoshiro state. */
static void rng_init(rng *r, uint64_t seed, const char *purpose, uint64_t a, uint64_t b)
{
    crypto_hash_sha256_state st;
    uint8_t h[32], buf[24];

    for (int i = 0; i < 8; i++) {
        buf[i] = (uint8_t)(seed >> (8 * i));
        buf[8 + i] = (uint8_t)(a >> (8 * i));
        buf[16 + i] = (uint8_t)(b >> (8 * i));
    }
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)purpose, strlen(purpose));
    crypto_hash_sha256_update(&st, buf, sizeof(buf));
    crypto_hash_sha256_final(&st, h);
    for (int i = 0; i < 4; i++) {
        memcpy(&r->s[i], h + 8 * i, 8);
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) {
        r->s[0] = 1;
    }
}

static double u01(rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t below(rng *r, uint64_t n)
{
    return n ? rng_next(r) % n : 0;
}

/* Approximately standard normal: Irwin–Hall sum of 12 uniforms. */
static double gauss(rng *r)
{
    double s = 0;
    for (int i = 0; i < 12; i++) {
        s += u01(r);
    }
    return s - 6.0;
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* ---- miners ---- */

enum { M_SHARP, M_COPIER, M_NOISY, M_GARBAGE, M_LATE };

typedef struct miner {
    uint8_t pk[32], sk[64], hotkey[32];
    int kind;
    double noise, participation;
    uint64_t lead_min_ms, lead_max_ms;
} miner;

static void make_miner(uint64_t seed, unsigned i, miner *m)
{
    rng r;
    uint8_t ks[32];
    double k;

    rng_init(&r, seed, "miner", i, 0);
    for (int j = 0; j < 4; j++) {
        uint64_t x = rng_next(&r), y = rng_next(&r);
        memcpy(ks + 8 * j, &x, 8);
        memcpy(m->hotkey + 8 * j, &y, 8);
    }
    crypto_sign_seed_keypair(m->pk, m->sk, ks);
    sodium_memzero(ks, sizeof(ks));
    k = u01(&r);
    m->kind = k < 0.30 ? M_SHARP : k < 0.55 ? M_COPIER : k < 0.85 ? M_NOISY : k < 0.92 ? M_LATE
                                                                                     : M_GARBAGE;
    m->noise = m->kind == M_SHARP ? 0.01 + 0.02 * u01(&r) : 0.04 + 0.08 * u01(&r);
    m->participation = 0.4 + 0.5 * u01(&r);
    if (m->kind == M_LATE) {
        m->lead_min_ms = 20 * MIN_MS, m->lead_max_ms = 2 * HOUR_MS;
    } else {
        m->lead_min_ms = 2 * HOUR_MS + below(&r, 10) * HOUR_MS;
        m->lead_max_ms = m->lead_min_ms + 24 * HOUR_MS;
    }
}

/* ---- events ---- */

static const struct league {
    const char *sport, *league;
    bool draws;
    int score_scale;
} leagues[] = {
    {"soccer", "EPL", true, 3},          {"basketball", "NBA", false, 110},
    {"football", "NFL", false, 24},      {"hockey", "NHL", false, 3},
    {"baseball", "MLB", false, 5},
};
static const char *const teams[] = {"Lions",  "Tigers", "Bears",   "Wolves",  "Hawks",
                                    "Sharks", "Eagles", "Falcons", "Rangers", "Rovers",
                                    "United", "City",   "Athletic", "Wanderers"};
static const char *const books[N_BOOKS] = {"pinnacle", "bet365", "draftkings", "fanduel"};

typedef struct sim_event {
    uint64_t id, listed_ms, start_ms;
    const struct league *lg;
    unsigned home, away;
    double p[3];     /* moneyline truth: home, away, draw (draw 0 without draws) */
    double p_cover;  /* spread: home covers */
    double p_over;   /* total */
    bool voided;
    rng r;
} sim_event;

static void make_event(uint64_t seed, uint64_t list_day, unsigned k, unsigned n_events,
                       sim_event *e)
{
    double strength, draw;

    memset(e, 0, sizeof(*e));
    e->id = list_day * 1000 + k + 1;
    rng_init(&e->r, seed, "event", e->id, 0);
    e->lg = &leagues[k % (sizeof(leagues) / sizeof(leagues[0]))];
    e->home = (unsigned)below(&e->r, 14);
    e->away = (e->home + 1 + (unsigned)below(&e->r, 13)) % 14;
    e->listed_ms = SIM_T0 + list_day * DAY_MS + 5 * MIN_MS + k * 10000ull;
    /* spread over the afternoon and evening of the start day */
    e->start_ms = SIM_T0 + (list_day + LEAD_DAYS) * DAY_MS + 12 * HOUR_MS +
                  (uint64_t)k * (11 * HOUR_MS / (n_events ? n_events : 1)) / MIN_MS * MIN_MS;
    strength = clampd(0.5 + 0.18 * gauss(&e->r), 0.08, 0.92);
    draw = e->lg->draws ? 0.18 + 0.1 * u01(&e->r) : 0.0;
    e->p[0] = strength * (1 - draw);
    e->p[1] = (1 - strength) * (1 - draw);
    e->p[2] = draw;
    e->p_cover = clampd(0.5 + 0.06 * gauss(&e->r), 0.3, 0.7);
    e->p_over = clampd(0.5 + 0.06 * gauss(&e->r), 0.3, 0.7);
    e->voided = u01(&e->r) < 0.03;
}

/* Truth for market m (0 moneyline, 1 spread, 2 total): probabilities of its sides in order. */
static unsigned truth(const sim_event *e, unsigned m, double *p, uint64_t *sides)
{
    if (m == 0) {
        p[0] = e->p[0], p[1] = e->p[1], sides[0] = SCHEMA_HOME, sides[1] = SCHEMA_AWAY;
        if (e->lg->draws) {
            p[2] = e->p[2], sides[2] = SCHEMA_DRAW;
            return 3;
        }
        return 2;
    }
    if (m == 1) {
        p[0] = e->p_cover, p[1] = 1 - e->p_cover, sides[0] = SCHEMA_HOME, sides[1] = SCHEMA_AWAY;
        return 2;
    }
    p[0] = e->p_over, p[1] = 1 - e->p_over, sides[0] = SCHEMA_OVER, sides[1] = SCHEMA_UNDER;
    return 2;
}

/* Decimal odds in nanos for probability p, on a 0.001 grid, within [1.01, 1000]. */
static uint64_t odds_of(double p)
{
    double o = clampd(1.0 / clampd(p, 0.001, 0.99), 1.01, 1000.0);
    return (uint64_t)(o * 1000.0 + 0.5) * 1000000ull;
}

/* ---- emission ---- */

typedef struct sim {
    const cli_sim_cfg *cfg;
    store_log *log;
    ledger_batch batch;
    uint64_t win_lo, win_hi; /* emit records with time in [win_lo, win_hi) */
    miner *miners;
    unsigned n_events;
    cli_sim_result *res;
    tally_status st;
    engine_params cfg_params; /* defaults: consensus follows protocol version 1 */
    engine *eng; /* the node's projection: scores every cycle */
    engine_rules *rules; /* the node's acceptance rules at the log's end */
} sim;

static bool in_window(const sim *s, uint64_t t)
{
    return t >= s->win_lo && t < s->win_hi;
}

static void emit_node(sim *s, const schema_body *b, uint64_t t)
{
    if (s->st == TALLY_OK && in_window(s, t)) {
        s->st = ledger_batch_node(&s->batch, s->log, b, t);
    }
}

static void salt_of(rng *r, uint8_t salt[16])
{
    uint64_t a = rng_next(r), b = rng_next(r);
    memcpy(salt, &a, 8);
    memcpy(salt + 8, &b, 8);
}

static void emit_event_record(sim *s, const sim_event *e, uint64_t status, uint64_t t)
{
    schema_body b = {.type = SCHEMA_EVENT};
    const char *h = teams[e->home], *a = teams[e->away];

    b.u.event = (schema_event){.event_id = e->id,
                               .sport = {e->lg->sport, strlen(e->lg->sport)},
                               .league = {e->lg->league, strlen(e->lg->league)},
                               .home_team = {h, strlen(h)},
                               .away_team = {a, strlen(a)},
                               .start_ms = e->start_ms,
                               .status = status};
    emit_node(s, &b, t);
}

static void emit_markets(sim *s, const sim_event *e)
{
    static const uint64_t kinds[3] = {SCHEMA_MONEYLINE, SCHEMA_SPREAD, SCHEMA_TOTAL};
    for (unsigned m = 0; m < 3; m++) {
        schema_body b = {.type = SCHEMA_MARKET};
        double p[3];
        uint64_t sides[3];
        unsigned n = truth(e, m, p, sides);
        b.u.market = (schema_market){.market_id = e->id * 10 + m + 1,
                                     .event_id = e->id,
                                     .kind = kinds[m],
                                     .has_line_n = m != 0,
                                     .line_n = m == 1 ? -3500000000ll : 220500000000ll,
                                     .sides = sides,
                                     .n_sides = n};
        emit_node(s, &b, e->listed_ms + 1000 + m);
    }
}

static void emit_copies(sim *s, const sim_event *e, const schema_cprice *cp, size_t k, uint64_t ts);

/* A consensus record (scoring §3) of market m over the quotes of the last round, appended by
 * the node: MARKET_SNAPSHOT at ts, or the CLOSE at the event start. */
static void emit_consensus(sim *s, const sim_event *e, unsigned m, const engine_quote *q,
                           size_t nq, uint64_t ts, uint64_t t, unsigned type)
{
    schema_body b = {.type = type};
    schema_cprice cp[3];
    double p[3];
    uint64_t sides[3];
    unsigned n = truth(e, m, p, sides);
    size_t k;
    rng r;

    if (s->st == TALLY_OK) {
        s->st = engine_consensus(&s->cfg_params, q, nq, ts, sides, n, cp, &k);
    }
    if (s->st != TALLY_OK || k == 0) {
        return;
    }
    rng_init(&r, s->cfg->seed, type == SCHEMA_CLOSE ? "close" : "snapshot", e->id * 10 + m, ts);
    b.u.snapshot = (schema_snapshot){.market_id = e->id * 10 + m + 1, .ts_ms = ts, .probs = cp,
                                     .n_probs = k};
    salt_of(&r, b.u.snapshot.salt);
    emit_node(s, &b, t);
    /* copiers follow the moneyline's last rounds within minutes */
    if (type == SCHEMA_MARKET_SNAPSHOT && m == 0 && k == n && e->start_ms - ts < 19 * HOUR_MS) {
        emit_copies(s, e, cp, k, ts);
    }
}

/* Bookmaker quotes every 6 h from listing, and 10 minutes before the start (private records);
 * a MARKET_SNAPSHOT of each round a minute later, and the CLOSE just after the start. */
static void emit_quotes(sim *s, sim_event *e)
{
    engine_quote q[3][N_BOOKS * 3];
    size_t nq[3] = {0};

    for (uint64_t t = e->listed_ms + HOUR_MS; t < e->start_ms; t += 6 * HOUR_MS) {
        uint64_t when = t + 6 * HOUR_MS >= e->start_ms ? e->start_ms - 10 * MIN_MS : t;
        for (unsigned m = 0; m < 3; m++) {
            nq[m] = 0;
            for (unsigned bk = 0; bk < N_BOOKS; bk++) {
                schema_body b = {.type = SCHEMA_PROVIDER_QUOTE};
                schema_qprice qp[3];
                double p[3], vig = 1.02 + 0.01 * bk;
                uint64_t sides[3];
                unsigned n = truth(e, m, p, sides);
                for (unsigned i = 0; i < n; i++) {
                    double qv = clampd(p[i] * (1 + 0.03 * gauss(&e->r)), 0.01, 0.97) * vig;
                    qp[i] = (schema_qprice){sides[i], odds_of(qv)};
                    q[m][nq[m]++] = (engine_quote){sides[i], bk, when - 30000, bk, qp[i].odds_n};
                }
                b.u.provider_quote = (schema_provider_quote){
                    .market_id = e->id * 10 + m + 1,
                    .provider = {"sim", 3},
                    .book = {books[bk], strlen(books[bk])},
                    .ts_ms = when - 30000,
                    .prices = qp,
                    .n_prices = n};
                salt_of(&e->r, b.u.provider_quote.salt);
                emit_node(s, &b, when + bk * 100 + m);
                if (in_window(s, when)) {
                    s->res->quotes++;
                }
            }
            /* snapshots only while the event is scheduled */
            if (!e->voided || when + MIN_MS < e->start_ms - HOUR_MS) {
                emit_consensus(s, e, m, q[m], nq[m], when + MIN_MS, when + MIN_MS + m,
                               SCHEMA_MARKET_SNAPSHOT);
            }
        }
    }
    if (e->voided) {
        return; /* it never starts: no close */
    }
    for (unsigned m = 0; m < 3; m++) {
        emit_consensus(s, e, m, q[m], nq[m], e->start_ms, e->start_ms + 1000 + m, SCHEMA_CLOSE);
    }
}

/* The probability a miner prices side i of market m at, by its habits. */
static double miner_prob(const miner *mi, rng *r, const double *p, unsigned i, unsigned n)
{
    switch (mi->kind) {
    case M_GARBAGE:
        return 0.02 + 0.9 * u01(r);
    case M_COPIER:
        /* the market's price, vig removed, with a little jitter */
        return clampd(p[i] * (1 + 0.01 * gauss(r)), 0.005, 0.98);
    default:
        (void)n;
        return clampd(p[i] + mi->noise * gauss(r), 0.005, 0.98);
    }
}

static void emit_submission(sim *s, sim_event *e, unsigned mi_idx, uint64_t t, unsigned seqno)
{
    const miner *mi = &s->miners[mi_idx];
    schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
    schema_entry entries[3];
    schema_price prices[3][3];
    rng r;

    rng_init(&r, s->cfg->seed, "submission", e->id, (uint64_t)mi_idx << 8 | seqno);
    for (unsigned m = 0; m < 3; m++) {
        double p[3];
        uint64_t sides[3];
        unsigned n = truth(e, m, p, sides);
        for (unsigned i = 0; i < n; i++) {
            uint64_t odds = odds_of(miner_prob(mi, &r, p, i, n));
            prices[m][i] = (schema_price){sides[i], odds, 1000000000000000000ull / odds};
        }
        entries[m] = (schema_entry){.market_id = e->id * 10 + m + 1,
                                    .kind = m == 0 ? SCHEMA_MONEYLINE
                                            : m == 1 ? SCHEMA_SPREAD
                                                     : SCHEMA_TOTAL,
                                    .has_priced_at_ms = true,
                                    .priced_at_ms = t - below(&r, 60000),
                                    .prices = prices[m],
                                    .n_prices = n};
    }
    /* nonces rise with time: microseconds, plus the miner's sub-millisecond counter */
    b.u.odds = (schema_odds){.nonce = t * 1000 + seqno, .idx = 0, .event_id = e->id,
                             .markets = entries, .n_markets = 3};
    salt_of(&r, b.u.odds.salt);
    if (s->st == TALLY_OK && in_window(s, t)) {
        s->st = ledger_batch_signed(&s->batch, s->log, &b, mi->pk, mi->sk, t);
    }
}

/* Copying miners reprice the moneyline at the consensus a snapshot shows, with a little jitter,
 * a minute or two after it and in the same 5-minute bucket: series that move with the market,
 * which originality (scoring §5.7) scores as such. */
static void emit_copies(sim *s, const sim_event *e, const schema_cprice *cp, size_t k, uint64_t ts)
{
    const uint64_t bucket = 5 * MIN_MS;

    for (unsigned i = 0; i < s->cfg->miners; i++) {
        const miner *mi = &s->miners[i];
        schema_body b = {.type = SCHEMA_ODDS_SUBMISSION};
        schema_price prices[3];
        schema_entry en;
        uint64_t room = bucket - ts % bucket, t;
        rng r;
        if (mi->kind != M_COPIER || room <= 2000 || s->st != TALLY_OK) {
            continue;
        }
        rng_init(&r, s->cfg->seed, "copy", e->id, (uint64_t)i << 32 | (ts / MIN_MS));
        if (u01(&r) >= mi->participation) {
            continue;
        }
        t = ts + 1000 + below(&r, room - 2000) - i % 1000;
        t = t > ts ? t : ts + 1;
        for (size_t j = 0; j < k; j++) {
            double pv = clampd((double)cp[j].prob_n * 1e-9 * (1 + 0.005 * gauss(&r)), 0.005, 0.98);
            uint64_t odds = odds_of(pv);
            prices[j] = (schema_price){cp[j].side, odds, 1000000000000000000ull / odds};
        }
        en = (schema_entry){.market_id = e->id * 10 + 1, .kind = SCHEMA_MONEYLINE,
                            .has_priced_at_ms = true, .priced_at_ms = t, .prices = prices,
                            .n_prices = k};
        b.u.odds = (schema_odds){.nonce = t * 1000 + 500 + i % 500, .idx = 0, .event_id = e->id,
                                 .markets = &en, .n_markets = 1};
        salt_of(&r, b.u.odds.salt);
        if (in_window(s, t)) {
            s->st = ledger_batch_signed(&s->batch, s->log, &b, mi->pk, mi->sk, t);
        }
    }
}

static void emit_submissions(sim *s, sim_event *e)
{
    /* odds are accepted only while the event is scheduled (spec §5.4 S5) */
    uint64_t close = e->voided ? e->start_ms - HOUR_MS : e->start_ms;

    for (unsigned i = 0; i < s->cfg->miners; i++) {
        const miner *mi = &s->miners[i];
        rng r;
        unsigned k;
        rng_init(&r, s->cfg->seed, "participation", e->id, i);
        if (u01(&r) >= mi->participation) {
            continue;
        }
        k = 1 + (unsigned)below(&r, 2);
        for (unsigned j = 0; j < k; j++) {
            uint64_t lead = mi->lead_min_ms + below(&r, mi->lead_max_ms - mi->lead_min_ms);
            uint64_t t = e->start_ms - lead / 1000 * 1000 - j * 3 * HOUR_MS - i;
            if (t > e->listed_ms + 2 * MIN_MS && t < close) {
                emit_submission(s, e, i, t, j);
            }
        }
        /* garbage miners also send what a node refuses: the same markets again a few seconds
         * later (duplicate_in_bucket) and odds after the start (market_closed) */
        if (mi->kind == M_GARBAGE) {
            uint64_t t = e->start_ms - mi->lead_min_ms / 1000 * 1000 - i;
            if (u01(&r) < 0.5 && t > e->listed_ms + 2 * MIN_MS && t + 5000 < close) {
                emit_submission(s, e, i, t - t % MIN_MS + 1000, 2);
                emit_submission(s, e, i, t - t % MIN_MS + 6000, 3);
            }
            if (u01(&r) < 0.3) {
                emit_submission(s, e, i, e->start_ms + 10 * MIN_MS + i, 4);
            }
        }
    }
}

/* Scores that agree with the result; the provider's OUTCOME, and a few miners' own. */
static void emit_outcome(sim *s, sim_event *e)
{
    uint64_t t = e->start_ms + 150 * MIN_MS + below(&e->r, 30) * MIN_MS;
    double u = u01(&e->r);
    uint64_t result = u < e->p[0] ? SCHEMA_R_HOME : u < e->p[0] + e->p[1] ? SCHEMA_R_AWAY
                                                                            : SCHEMA_R_DRAW;
    uint64_t lo = below(&e->r, (uint64_t)e->lg->score_scale + 1) + (uint64_t)e->lg->score_scale / 2;
    uint64_t hi = lo + 1 + below(&e->r, 3);
    schema_body b = {.type = SCHEMA_OUTCOME};

    b.u.outcome = (schema_outcome){.source = 1, .event_id = e->id, .has_result = true,
                                   .result = result, .has_score_home = true,
                                   .has_score_away = true};
    b.u.outcome.score_home = result == SCHEMA_R_HOME ? hi : lo;
    b.u.outcome.score_away = result == SCHEMA_R_AWAY ? hi : lo;
    emit_event_record(s, e, SCHEMA_FINISHED, t);
    emit_node(s, &b, t + 1);
    if (in_window(s, t)) {
        s->res->outcomes++;
    }
    /* miners may report results too (embargoed until the outcome window closes) */
    for (unsigned i = 0; i < s->cfg->miners; i += 37) {
        const miner *mi = &s->miners[i];
        schema_body mb = {.type = SCHEMA_OUTCOME};
        uint64_t mt = t + 5 * MIN_MS + i * 1000;
        mb.u.outcome = b.u.outcome;
        mb.u.outcome.source = 2;
        mb.u.outcome.nonce = mt * 1000 + 999;
        mb.u.outcome.has_salt = true;
        salt_of(&e->r, mb.u.outcome.salt);
        if (s->st == TALLY_OK && in_window(s, mt)) {
            s->st = ledger_batch_signed(&s->batch, s->log, &mb, mi->pk, mi->sk, mt);
        }
    }
}

static void emit_event_timeline(sim *s, sim_event *e)
{
    emit_event_record(s, e, SCHEMA_SCHEDULED, e->listed_ms);
    if (in_window(s, e->listed_ms)) {
        s->res->events++;
        s->res->markets += 3;
    }
    emit_markets(s, e);
    emit_quotes(s, e);
    emit_submissions(s, e);
    if (e->voided) {
        emit_event_record(s, e, SCHEMA_VOID, e->start_ms - HOUR_MS);
        return;
    }
    emit_outcome(s, e);
}

/* Validator uid i's hotkey and bound tally key; the first validator is the subnet owner. */
static void validator_keys(uint64_t seed, unsigned i, uint8_t hotkey[32], uint8_t key[32])
{
    rng vr;
    uint8_t ks[32], sk[64];

    rng_init(&vr, seed, "validator", i, 0);
    for (int j = 0; j < 4; j++) {
        uint64_t x = rng_next(&vr), y = rng_next(&vr);
        memcpy(ks + 8 * j, &x, 8);
        memcpy(hotkey + 8 * j, &y, 8);
    }
    crypto_sign_seed_keypair(key, sk, ks);
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(ks, sizeof(ks));
}

static void emit_metagraph(sim *s, uint64_t day, uint64_t t)
{
    unsigned total = s->cfg->miners + N_VALIDATORS, parts = (total + 255) / 256;
    schema_neuron *nn = calloc(total, sizeof(*nn));
    rng r;

    if (nn == NULL) {
        s->st = TALLY_ENOMEM;
        return;
    }
    rng_init(&r, s->cfg->seed, "metagraph", day, 0);
    for (unsigned i = 0; i < total; i++) {
        bool validator = i >= s->cfg->miners;
        nn[i].uid = i;
        nn[i].active = true;
        nn[i].validator_permit = validator;
        nn[i].stake_rao = validator ? 200000000000000ull + below(&r, 1000000000000ull)
                                    : 1000000000ull + below(&r, 50000000000ull);
        if (validator) {
            validator_keys(s->cfg->seed, i, nn[i].hotkey, nn[i].tally_key);
        } else {
            memcpy(nn[i].hotkey, s->miners[i].hotkey, 32);
            memcpy(nn[i].tally_key, s->miners[i].pk, 32);
        }
        nn[i].has_tally_key = true;
    }
    for (unsigned p = 0; p < parts; p++) {
        schema_body b = {.type = SCHEMA_METAGRAPH};
        unsigned lo = p * 256, n = total - lo < 256 ? total - lo : 256;
        b.u.metagraph = (schema_metagraph){SIM_NETUID, 1000000 + day * 7200, p, parts, nn + lo, n};
        emit_node(s, &b, t);
    }
    free(nn);
}

/* ---- driver ---- */

typedef struct sort_key {
    uint64_t time;
    size_t idx;
} sort_key;

static int by_time(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->time != y->time) {
        return x->time < y->time ? -1 : 1;
    }
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Appends the batch in time order, in chunks that never split one instant (METAGRAPH parts
 * share theirs and must land in one transaction). */
static tally_status flush_sorted(sim *s)
{
    ledger_batch *b = &s->batch;
    sort_key *keys = malloc((b->n ? b->n : 1) * sizeof(*keys));
    store_input *sorted = malloc((b->n ? b->n : 1) * sizeof(*sorted));
    size_t start = 0;
    tally_status st = keys && sorted ? TALLY_OK : TALLY_ENOMEM;

    for (size_t i = 0; st == TALLY_OK && i < b->n; i++) {
        keys[i] = (sort_key){b->in[i].header.time_ms, i};
    }
    if (st == TALLY_OK) {
        qsort(keys, b->n, sizeof(*keys), by_time);
        for (size_t i = 0; i < b->n; i++) {
            sorted[i] = b->in[keys[i].idx];
        }
    }
    /* the node admits what its rules accept: a refused miner record is counted, as a node
     * would count the rejected item, and never appended; the simulator's own node records must
     * all pass */
    size_t kept = 0;
    for (size_t i = 0; st == TALLY_OK && i < b->n; i++) {
        engine_verdict v;
        st = ledger_rules_admit(s->rules, &sorted[i], &v);
        const schema_header *h = &sorted[i].header;
        bool by_miner = h->type == SCHEMA_ODDS_SUBMISSION ||
                     (h->type == SCHEMA_OUTCOME && h->tier == SCHEMA_EMBARGOED);
        if (st != TALLY_OK || v.rule == ENGINE_RULE_OK) {
            s->res->submissions += h->type == SCHEMA_ODDS_SUBMISSION;
            sorted[kept++] = sorted[i];
            continue;
        }
        if (!by_miner) {
            snprintf(s->res->what, sizeof(s->res->what), "a simulated %s breaks rule %s: %s",
                     schema_type_name((unsigned)sorted[i].header.type), engine_rule_name(v.rule),
                     v.detail);
            st = TALLY_EINVAL;
            break;
        }
        s->res->refused[v.rule]++;
        s->res->refused_total++;
    }
    while (st == TALLY_OK && start < kept) {
        size_t end = start + 1;
        uint64_t first;
        while (end < kept && (end - start < 1024 || sorted[end].header.time_ms ==
                                                        sorted[end - 1].header.time_ms)) {
            end++;
        }
        st = store_append(s->log, sorted + start, end - start, &first);
        start = end;
    }
    free(keys);
    free(sorted);
    return st;
}

static void genesis(sim *s)
{
    static const schema_param params[] = {
        {{"decay.half_life_days", 20}, {SCHEMA_PV_INT, 10, {0}, false}},
        {{"shrinkage.k", 11}, {SCHEMA_PV_INT, 200000000000ll, {0}, false}},
        {{"weight_emission.burn_rate", 25}, {SCHEMA_PV_INT, 900000000, {0}, false}},
        {{"windows.rolling_window_days", 27}, {SCHEMA_PV_INT, 30, {0}, false}},
    };
    schema_body b = {.type = SCHEMA_GENESIS};
    uint8_t pk[32], owner_key[32];

    store_node_pubkey(s->log, pk);
    b.u.genesis = (schema_genesis){.origin = {SIM_ORIGIN, strlen(SIM_ORIGIN)},
                                   .netuid = SIM_NETUID,
                                   .created_ms = SIM_T0,
                                   .code_version = {SCHEMA_CODE_VERSION, strlen(SCHEMA_CODE_VERSION)},
                                   .params = (schema_param *)(uintptr_t)params,
                                   .n_params = 4};
    memcpy(b.u.genesis.node_hotkey, pk, 32);
    b.u.genesis.chain = (schema_chain_params){.netuid = SIM_NETUID, .block = 1000000,
                                              .tempo = 360, .max_weight_limit = 65535,
                                              .min_allowed_weights = 1,
                                              .max_allowed_uids = 4096,
                                              .has_owner_hotkey = true};
    /* the owner is the first validator: its uid receives the burn (scoring §7.2) */
    validator_keys(s->cfg->seed, s->cfg->miners, b.u.genesis.chain.owner_hotkey, owner_key);
    emit_node(s, &b, SIM_T0);
}

static tally_status simulate_day(sim *s, uint64_t day, uint64_t *cycles)
{
    uint64_t t = SIM_T0 + day * DAY_MS;
    tally_status st;

    s->win_lo = t, s->win_hi = t + DAY_MS;
    if (day == 0) {
        genesis(s);
    } else {
        /* A scoring cycle at each UTC midnight covering everything before it, with its derived
         * records, scored by the node's engine. */
        ledger_cycle_info info;
        st = ledger_node_cycle(s->log, s->eng, s->rules, *cycles + 1, 0, t, &info);
        if (st != TALLY_OK) {
            snprintf(s->res->what, sizeof(s->res->what), "%s", info.what);
            return st;
        }
        (*cycles)++;
        s->res->cycles++;
        s->res->derived += info.records - 1;
    }
    emit_metagraph(s, day, t + 2000);
    /* every event with activity today: listed up to LEAD_DAYS + 1 days ago */
    for (uint64_t ld = day > LEAD_DAYS + 1 ? day - LEAD_DAYS - 1 : 0; ld <= day; ld++) {
        for (unsigned k = 0; k < s->n_events; k++) {
            sim_event e;
            make_event(s->cfg->seed, ld, k, s->n_events, &e);
            emit_event_timeline(s, &e);
        }
    }
    if (s->st != TALLY_OK) {
        return s->st;
    }
    st = flush_sorted(s);
    ledger_batch_release(&s->batch);
    return st;
}

/* Where an existing history ends: its day count, and the node's engine caught up with it (the
 * whole log replayed, every derived record checked). */
static tally_status resume_point(sim *s, uint64_t *next_day, uint64_t *cycles)
{
    schema_sth sth;
    tally_status st = store_sth_latest(s->log, &sth);

    *next_day = 0, *cycles = 0;
    if (st == TALLY_ENOTFOUND) {
        st = engine_new(&s->eng);
        return st == TALLY_OK ? engine_rules_new(&s->rules) : st;
    }
    if (st != TALLY_OK) {
        return st;
    }
    *next_day = (sth.time_ms - SIM_T0) / DAY_MS + 1;
    st = ledger_node_catch_up(s->log, &s->eng, cycles);
    return st == TALLY_OK ? ledger_rules_open(s->log, &s->rules) : st;
}

static tally_status open_or_create(const char *dir, uint64_t seed, store_log **log, bool *created)
{
    store_cfg cfg = {.dir = dir, .map_size = cli_map_size(), .simulated_time = true};
    uint8_t ks[32];
    rng r;
    tally_status st = store_open(&cfg, log);

    *created = false;
    if (st != TALLY_ENOTFOUND) {
        return st;
    }
    rng_init(&r, seed, "node", 0, 0);
    for (int j = 0; j < 4; j++) {
        uint64_t x = rng_next(&r);
        memcpy(ks + 8 * j, &x, 8);
    }
    cfg = (store_cfg){.dir = dir, .create = true, .origin = SIM_ORIGIN, .key_seed = ks,
                      .map_size = cli_map_size(), .simulated_time = true};
    st = store_open(&cfg, log);
    sodium_memzero(ks, sizeof(ks));
    *created = st == TALLY_OK;
    return st;
}

int cli_simulate(const char *cmd, const char *dir, const cli_sim_cfg *cfg, cli_sim_result *out)
{
    sim s = {.cfg = cfg, .batch = LEDGER_BATCH_INIT, .res = out, .st = TALLY_OK};
    uint64_t first_day, cycles;
    struct timespec t0, t1;
    bool created;
    tally_status st;

    memset(out, 0, sizeof(*out));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = open_or_create(dir, cfg->seed, &s.log, &created);
    if (st != TALLY_OK) {
        return cli_fail(cmd, st, "cannot open or create a log in %s", dir);
    }
    if (strcmp(store_origin(s.log), SIM_ORIGIN) != 0) {
        int rc = cli_fail(cmd, TALLY_ECONFLICT, "%s holds a log that 'tally simulate' did not "
                                                "write (origin %s)", dir, store_origin(s.log));
        store_close(s.log);
        return rc;
    }
    engine_params_default(&s.cfg_params);
    st = resume_point(&s, &first_day, &cycles);
    s.miners = calloc(cfg->miners, sizeof(*s.miners));
    s.n_events = (cfg->markets_per_day + 2) / 3;
    if (st == TALLY_OK && s.miners == NULL) {
        st = TALLY_ENOMEM;
    }
    for (unsigned i = 0; st == TALLY_OK && i < cfg->miners; i++) {
        make_miner(cfg->seed, i, &s.miners[i]);
    }
    out->records_before = store_size(s.log);
    out->days_from_ms = SIM_T0 + first_day * DAY_MS;
    for (uint64_t d = first_day; st == TALLY_OK && d < first_day + cfg->days; d++) {
        st = simulate_day(&s, d, &cycles);
        if (!cfg->quiet) {
            fprintf(stderr, "%s: day %llu/%u done, %llu records\n", cmd,
                    (unsigned long long)(d - first_day + 1), cfg->days,
                    (unsigned long long)store_size(s.log));
        }
    }
    out->days_to_ms = SIM_T0 + (first_day + cfg->days) * DAY_MS;
    out->records_after = store_size(s.log);
    if (s.miners != NULL) {
        sodium_memzero(s.miners, cfg->miners * sizeof(*s.miners));
    }
    free(s.miners);
    ledger_batch_release(&s.batch);
    engine_free(s.eng);
    engine_rules_free(s.rules);
    store_close(s.log);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (st != TALLY_OK) {
        return cli_fail(cmd, st, "simulation stopped%s%s; every record committed before the "
                                 "failure is kept",
                        out->what[0] ? ": " : "", out->what);
    }
    (void)created;
    return CLI_OK;
}
