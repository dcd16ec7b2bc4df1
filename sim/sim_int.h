/* sim private: the world model (world.c) shared with the emitter (gen.c).
 *
 * | stream purpose | ids (a, b)                         | draws                                  |
 * |----------------|------------------------------------|----------------------------------------|
 * | node           | 0, 0                               | node key seed (4 × u64)                |
 * | miner          | uid, generation                    | key seed, hotkey, kind, habits         |
 * | registration   | uid, 0                             | join day, re-registration days         |
 * | validator      | uid, 0                             | key seed, hotkey                       |
 * | event          | event id, 0                        | teams, truth, void/postpone/push, quotes |
 * | outcome        | event id, 0                        | result, scores, report time            |
 * | submission     | event id, gen<<32 · uid<<8 · seqno | prices, priced_at, salt                |
 * | participation  | event id, gen<<32 · uid            | whether and how often a miner prices   |
 * | copy           | event id, gen<<48 · uid<<32 · min  | a copier's reprice                     |
 * | close/snapshot | market index, ts                   | salt                                   |
 * | metagraph      | day, 0                             | stakes                                 |
 *
 * Generation 0 of a uid uses b = uid (and b = 0 for the miner stream), so histories without
 * re-registration keep the streams they always had. */
#ifndef TALLY_SIM_SIM_INT_H
#define TALLY_SIM_SIM_INT_H

#include "engine/engine.h"
#include "sim/sim.h"

#define SIM__HOUR_MS 3600000ull
#define SIM__MIN_MS 60000ull
#define SIM__LEAD_DAYS 2u   /* events start two days after they are listed */
#define SIM__ACTIVE_DAYS 4u /* a listed event has records for at most this many more days */
#define SIM__N_BOOKS 4u
#define SIM__N_VALIDATORS SIM_VALIDATORS
#define SIM__MAX_SWAPS 8u   /* re-registrations of one uid */
#define SIM__META_OFFSET_MS 2000ull /* a day's METAGRAPH at 00:00:02 */

typedef struct sim__rng {
    uint64_t s[4];
} sim__rng;

void sim__rng_init(sim__rng *r, uint64_t seed, const char *purpose, uint64_t a, uint64_t b);
uint64_t sim__next(sim__rng *r);
double sim__u01(sim__rng *r);
uint64_t sim__below(sim__rng *r, uint64_t n);
double sim__gauss(sim__rng *r);
double sim__clamp(double x, double lo, double hi);
void sim__salt(sim__rng *r, uint8_t salt[16]);

enum { SIM__SHARP, SIM__COPIER, SIM__NOISY, SIM__GARBAGE, SIM__LATE };

typedef struct sim__miner {
    uint8_t pk[32], sk[64], hotkey[32];
    int kind;
    unsigned uid, gen;
    double noise, participation;
    uint64_t lead_min_ms, lead_max_ms;
} sim__miner;

/* A uid's registrations: generation g holds the uid from day start[g] (its METAGRAPH) until
 * day start[g + 1]; its key keeps sending for a day after it lost the uid, and the rules refuse
 * those records (S1). join = start[0]. */
typedef struct sim__slot {
    unsigned n_gen;
    uint32_t start[SIM__MAX_SWAPS + 1];
    sim__miner *m; /* n_gen miners, generation order */
} sim__slot;

typedef struct sim__league {
    const char *sport, *league;
    bool draws;
    int score_scale;
    int64_t spread_n, total_n; /* the usual lines, nanos (half points) */
} sim__league;

typedef struct sim__event {
    uint64_t id, listed_ms, start_ms; /* start_ms: the final start (after a postponement) */
    uint64_t first_start_ms;          /* the start it was listed with */
    uint64_t postponed_ms, rescheduled_ms; /* 0 unless postponed */
    const sim__league *lg;
    unsigned home, away;
    double p[3];    /* moneyline truth: home, away, draw (draw 0 without draws) */
    double p_cover; /* spread: home covers */
    double p_over;  /* total */
    int64_t line_n[3]; /* per market: moneyline unused, spread, total */
    bool voided;
    uint64_t result, score_home, score_away, outcome_ms;
    sim__rng r;
} sim__event;

/* The generator handle (gen.c builds it; live.c reads it). */
struct sim_gen {
    sim_cfg cfg;
    unsigned n_events;
    sim__slot *slots; /* one per miner uid */
    sim__miner *keys; /* every generation of every uid; sodium_malloc */
    size_t n_keys;
    uint8_t node_pk[32];
    uint8_t *node_sk; /* 64 bytes, sodium_malloc */
    engine_params params; /* consensus follows protocol version 1's defaults */
};

extern const char *const sim__teams[14];
extern const char *const sim__books[SIM__N_BOOKS];

/* The key material and habits of (uid, generation). */
void sim__make_miner(uint64_t seed, unsigned uid, unsigned gen, sim__miner *m);
/* The registration schedule of uid (without keys). */
void sim__schedule(uint64_t seed, unsigned uid, sim__slot *s);
/* Validator uid's hotkey and bound tally key. */
void sim__validator_keys(uint64_t seed, unsigned uid, uint8_t hotkey[32], uint8_t key[32]);
/* Event k of those listed on list_day (of n_events a day). */
void sim__make_event(uint64_t seed, uint64_t list_day, unsigned k, unsigned n_events,
                     sim__event *e);
/* Truth for market m (0 moneyline, 1 spread, 2 total): the probabilities of its sides, in
 * canonical order; returns the number of sides. */
unsigned sim__truth(const sim__event *e, unsigned m, double *p, uint64_t *sides);
/* The probability miner mi prices a side of true probability p[i] at, by its kind and habits
 * (gen.c): garbage at random, copiers at the market's price with a little jitter, the others at
 * the truth plus their own noise. */
double sim__miner_prob(const sim__miner *mi, sim__rng *r, const double *p, unsigned i);
/* Decimal odds in nanos for probability p, on a 0.001 grid, within [1.01, 1000]. */
uint64_t sim__odds_of(double p);
/* The day whose METAGRAPH is in effect for a record at time t, or −1 before the first. */
int64_t sim__meta_day(uint64_t t);
/* The generation of slot s that holds the uid at time t, or −1 if none does. */
int sim__holder(const sim__slot *s, uint64_t t);
/* The generation whose key still sends at t although it lost the uid (within a day), or −1. */
int sim__stale(const sim__slot *s, uint64_t t);

#endif
