/* The simulated world: randomness, miners and their registrations, validators, events and their
 * truth. Every random choice comes from a xoshiro256** stream seeded by (seed, purpose, ids)
 * (sim_int.h lists them), so each event's whole timeline, each miner's key and habits, and each
 * salt are functions of the seed alone. Only + − × ÷ on doubles are used (no libm), which
 * IEEE 754 makes identical on every machine. */
#include <sodium.h>
#include <string.h>

#include "sim/sim_int.h"

/* ---- randomness ---- */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim__next(sim__rng *r)
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
void sim__rng_init(sim__rng *r, uint64_t seed, const char *purpose, uint64_t a, uint64_t b)
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

double sim__u01(sim__rng *r)
{
    return (double)(sim__next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t sim__below(sim__rng *r, uint64_t n)
{
    return n ? sim__next(r) % n : 0;
}

/* Approximately standard normal: Irwin–Hall sum of 12 uniforms. */
double sim__gauss(sim__rng *r)
{
    double s = 0;
    for (int i = 0; i < 12; i++) {
        s += sim__u01(r);
    }
    return s - 6.0;
}

double sim__clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

void sim__salt(sim__rng *r, uint8_t salt[16])
{
    uint64_t a = sim__next(r), b = sim__next(r);
    memcpy(salt, &a, 8);
    memcpy(salt + 8, &b, 8);
}

void sim_node_key_seed(uint64_t seed, uint8_t out[32])
{
    sim__rng r;

    sim__rng_init(&r, seed, "node", 0, 0);
    for (int j = 0; j < 4; j++) {
        uint64_t x = sim__next(&r);
        memcpy(out + 8 * j, &x, 8);
    }
    sodium_memzero(&r, sizeof(r));
}

/* ---- miners and registrations ---- */

void sim__make_miner(uint64_t seed, unsigned uid, unsigned gen, sim__miner *m)
{
    sim__rng r;
    uint8_t ks[32];
    double k;

    sim__rng_init(&r, seed, "miner", uid, gen);
    for (int j = 0; j < 4; j++) {
        uint64_t x = sim__next(&r), y = sim__next(&r);
        memcpy(ks + 8 * j, &x, 8);
        memcpy(m->hotkey + 8 * j, &y, 8);
    }
    crypto_sign_seed_keypair(m->pk, m->sk, ks);
    sodium_memzero(ks, sizeof(ks));
    m->uid = uid, m->gen = gen;
    k = sim__u01(&r);
    m->kind = k < 0.30   ? SIM__SHARP
              : k < 0.55 ? SIM__COPIER
              : k < 0.85 ? SIM__NOISY
              : k < 0.92 ? SIM__LATE
                         : SIM__GARBAGE;
    m->noise = m->kind == SIM__SHARP ? 0.01 + 0.02 * sim__u01(&r) : 0.04 + 0.08 * sim__u01(&r);
    m->participation = 0.4 + 0.5 * sim__u01(&r);
    if (m->kind == SIM__LATE) {
        m->lead_min_ms = 20 * SIM__MIN_MS, m->lead_max_ms = 2 * SIM__HOUR_MS;
    } else {
        m->lead_min_ms = 2 * SIM__HOUR_MS + sim__below(&r, 10) * SIM__HOUR_MS;
        m->lead_max_ms = m->lead_min_ms + 24 * SIM__HOUR_MS;
    }
}

/* Every eighth uid from 6 registers a day or two late; every eighth from 3 changes hands on day
 * 2–4, then every 20–29 days (a new hotkey and tally key take the uid over). The rest hold
 * their uid from day 0 for good. */
void sim__schedule(uint64_t seed, unsigned uid, sim__slot *s)
{
    sim__rng r;

    sim__rng_init(&r, seed, "registration", uid, 0);
    s->n_gen = 1;
    s->start[0] = uid % 8 == 6 ? 1 + (uint32_t)sim__below(&r, 2) : 0;
    if (uid % 8 != 3) {
        return;
    }
    s->start[1] = 2 + (uint32_t)sim__below(&r, 3);
    s->n_gen = 2;
    while (s->n_gen < SIM__MAX_SWAPS + 1) {
        s->start[s->n_gen] = s->start[s->n_gen - 1] + 20 + (uint32_t)sim__below(&r, 10);
        s->n_gen++;
    }
}

int64_t sim__meta_day(uint64_t t)
{
    uint64_t off = t - SIM_T0_MS, day = off / SIM_DAY_MS;

    /* a record at the snapshot's own millisecond still sees the day before */
    if (off % SIM_DAY_MS <= SIM__META_OFFSET_MS) {
        return (int64_t)day - 1;
    }
    return (int64_t)day;
}

int sim__holder(const sim__slot *s, uint64_t t)
{
    int64_t d = sim__meta_day(t);
    int g = -1;

    for (unsigned i = 0; i < s->n_gen; i++) {
        if ((int64_t)s->start[i] <= d) {
            g = (int)i;
        }
    }
    return g;
}

int sim__stale(const sim__slot *s, uint64_t t)
{
    int g = sim__holder(s, t);
    uint64_t lost;

    if (g < 1) {
        return -1;
    }
    lost = SIM_T0_MS + s->start[g] * SIM_DAY_MS + SIM__META_OFFSET_MS;
    return t - lost < SIM_DAY_MS ? g - 1 : -1;
}

/* Validator uid's key seed and hotkey, drawn interleaved from its stream (the order the
 * METAGRAPH has always used). */
static void validator_draw(uint64_t seed, unsigned uid, uint8_t ks[32], uint8_t hotkey[32])
{
    sim__rng vr;

    sim__rng_init(&vr, seed, "validator", uid, 0);
    for (int j = 0; j < 4; j++) {
        uint64_t x = sim__next(&vr), y = sim__next(&vr);
        memcpy(ks + 8 * j, &x, 8);
        memcpy(hotkey + 8 * j, &y, 8);
    }
}

void sim__validator_keys(uint64_t seed, unsigned uid, uint8_t hotkey[32], uint8_t key[32])
{
    uint8_t ks[32], sk[64];

    validator_draw(seed, uid, ks, hotkey);
    crypto_sign_seed_keypair(key, sk, ks);
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(ks, sizeof(ks));
}

tally_status sim_validator_seed(uint64_t seed, unsigned miners, unsigned k, uint8_t out[32])
{
    uint8_t hotkey[32];

    memset(out, 0, 32);
    if (k >= SIM_VALIDATORS || miners == 0 || miners > SIM_MINERS_MAX) {
        return TALLY_EINVAL;
    }
    validator_draw(seed, miners + k, out, hotkey);
    return TALLY_OK;
}

/* ---- events ---- */

#define NANO 1000000000ll

static const sim__league leagues[] = {
    {"soccer", "EPL", true, 3, -1500000000ll, 8500000000ll},
    {"basketball", "NBA", false, 110, -3500000000ll, 221500000000ll},
    {"football", "NFL", false, 24, -3500000000ll, 49500000000ll},
    {"hockey", "NHL", false, 3, -1500000000ll, 8500000000ll},
    {"baseball", "MLB", false, 5, -1500000000ll, 11500000000ll},
};
const char *const sim__teams[14] = {"Lions",  "Tigers", "Bears",   "Wolves",  "Hawks",
                                    "Sharks", "Eagles", "Falcons", "Rangers", "Rovers",
                                    "United", "City",   "Athletic", "Wanderers"};
const char *const sim__books[SIM__N_BOOKS] = {"pinnacle", "bet365", "draftkings", "fanduel"};

/* The result and the final score, drawn when the event is made so that a market's line can be
 * set to land on it (a push). */
static void draw_outcome(uint64_t seed, sim__event *e)
{
    sim__rng r;
    double u;
    uint64_t lo, hi;

    sim__rng_init(&r, seed, "outcome", e->id, 0);
    u = sim__u01(&r);
    e->result = u < e->p[0] ? SCHEMA_R_HOME : u < e->p[0] + e->p[1] ? SCHEMA_R_AWAY : SCHEMA_R_DRAW;
    lo = sim__below(&r, (uint64_t)e->lg->score_scale + 1) + (uint64_t)e->lg->score_scale / 2;
    hi = lo + 1 + sim__below(&r, 3);
    e->score_home = e->result == SCHEMA_R_HOME ? hi : lo;
    e->score_away = e->result == SCHEMA_R_AWAY ? hi : lo;
    e->outcome_ms = e->start_ms + 150 * SIM__MIN_MS + sim__below(&r, 30) * SIM__MIN_MS;
}

void sim__make_event(uint64_t seed, uint64_t list_day, unsigned k, unsigned n_events,
                     sim__event *e)
{
    double strength, draw, u;

    memset(e, 0, sizeof(*e));
    e->id = list_day * 1000 + k + 1;
    sim__rng_init(&e->r, seed, "event", e->id, 0);
    e->lg = &leagues[k % (sizeof(leagues) / sizeof(leagues[0]))];
    e->home = (unsigned)sim__below(&e->r, 14);
    e->away = (e->home + 1 + (unsigned)sim__below(&e->r, 13)) % 14;
    e->listed_ms = SIM_T0_MS + list_day * SIM_DAY_MS + 5 * SIM__MIN_MS + k * 10000ull;
    /* spread over the afternoon and evening of the start day */
    e->start_ms = SIM_T0_MS + (list_day + SIM__LEAD_DAYS) * SIM_DAY_MS + 12 * SIM__HOUR_MS +
                  (uint64_t)k * (11 * SIM__HOUR_MS / (n_events ? n_events : 1)) / SIM__MIN_MS *
                      SIM__MIN_MS;
    e->first_start_ms = e->start_ms;
    strength = sim__clamp(0.5 + 0.18 * sim__gauss(&e->r), 0.08, 0.92);
    draw = e->lg->draws ? 0.18 + 0.1 * sim__u01(&e->r) : 0.0;
    e->p[0] = strength * (1 - draw);
    e->p[1] = (1 - strength) * (1 - draw);
    e->p[2] = draw;
    e->p_cover = sim__clamp(0.5 + 0.06 * sim__gauss(&e->r), 0.3, 0.7);
    e->p_over = sim__clamp(0.5 + 0.06 * sim__gauss(&e->r), 0.3, 0.7);
    u = sim__u01(&e->r);
    e->voided = u < 0.03;
    /* about one event in twenty is postponed 18 h before its start and rescheduled 12 h later,
     * a day on, before its original start */
    if (!e->voided && u < 0.08) {
        e->postponed_ms = e->start_ms - 18 * SIM__HOUR_MS;
        e->rescheduled_ms = e->start_ms - 6 * SIM__HOUR_MS;
        e->start_ms += SIM_DAY_MS;
    }
    e->line_n[1] = e->lg->spread_n;
    e->line_n[2] = e->lg->total_n;
    draw_outcome(seed, e);
    /* one in twelve has a whole-point line that the final score lands on: a push on the spread
     * when the margin allows it, else on the total */
    if (!e->voided && sim__u01(&e->r) < 1.0 / 12) {
        int64_t margin = (int64_t)e->score_away - (int64_t)e->score_home;
        if (margin != 0 && sim__u01(&e->r) < 0.5) {
            e->line_n[1] = margin * NANO;
        } else {
            e->line_n[2] = (int64_t)(e->score_home + e->score_away) * NANO;
        }
    }
}

unsigned sim__truth(const sim__event *e, unsigned m, double *p, uint64_t *sides)
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

uint64_t sim__odds_of(double p)
{
    double o = sim__clamp(1.0 / sim__clamp(p, 0.001, 0.99), 1.01, 1000.0);
    return (uint64_t)(o * 1000.0 + 0.5) * 1000000ull;
}
