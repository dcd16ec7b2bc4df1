/* engine internals of the acceptance rules: the projected ledger state they judge by
 * (rules.c holds the checks, rules_fold.c the fold that keeps this state).
 *
 * | part          | held per                                   | dropped                         |
 * |---------------|--------------------------------------------|---------------------------------|
 * | identity      | log: node key, netuid, chain block, sizes  | –                               |
 * | params        | every ledger key, one version per change   | –                               |
 * | bindings      | tally key of the effective METAGRAPH       | replaced by the next snapshot   |
 * | events        | EVENT id: latest start, status; history    | –                               |
 * | markets       | MARKET id: event, kind, sides, body hash   | –                               |
 * | odds intake   | (hotkey, market): entries of the last 24 h | 24 h after its last entry       |
 * | outcomes      | (hotkey, event): outcomes of the last 24 h | 24 h after its last outcome     |
 * | late intake   | (hotkey, market), from bodies judged at    | 31 days after its last entry    |
 * |               | their reveal (the gated view)              |                                 |
 * | nonces        | actor key: highest write nonce and idx     | –                               |
 * | attestations  | (hotkey, cycle)                            | –                               |
 */
#ifndef TALLY_ENGINE_RULES_INT_H
#define TALLY_ENGINE_RULES_INT_H

#include "engine/engine_int.h"

#define RL_DAY_MS 86400000ull
#define RL_NONE UINT32_MAX

typedef struct rkey {
    uint8_t k[32];
    uint64_t id;
} rkey;

typedef struct rmap {
    rkey *keys;
    uint32_t *vals; /* RL_NONE marks an empty slot */
    size_t cap, n;
} rmap;

typedef struct rbind {
    uint8_t key[32], hotkey[32];
    uint64_t uid, stake;
    bool permit, dup; /* dup: the key is bound to two uids, so to none (protocol §1) */
} rbind;

typedef struct rhist { /* one EVENT record, for reveal times (protocol §2.3) */
    uint64_t seq, time, start;
    bool voids;
} rhist;

typedef struct revent {
    uint64_t id, start_ms, status;
    rhist *hist;
    size_t n_hist, cap_hist;
    bool has_recompute;
    uint64_t recompute_seq; /* the latest RECOMPUTE listing the event */
} revent;

typedef struct rmarket {
    uint64_t id, event_id, kind;
    uint8_t sides; /* bit s set: side s */
    uint8_t body_hash[32];
    uint64_t created_seq;
    bool has_close;
    uint64_t close_seq;
} rmarket;

/* Accepted entries of one (hotkey, market) or outcomes of one (hotkey, event) within 24 h. */
typedef struct rhit {
    uint64_t t, count;
} rhit;
typedef struct rintake {
    rkey key;
    uint64_t last_t;
    rhit *hits;
    size_t n, cap;
} rintake;

typedef struct rtable {
    rmap ix;
    rintake *v;
    size_t n, cap;
} rtable;

typedef struct rnonce {
    uint64_t nonce, idx;
} rnonce;

/* An embargoed record folded from its header alone, whose body-level rules wait for its reveal;
 * hotkey is the one its key was bound to at its position. */
typedef struct rpending {
    uint64_t seq;
    schema_header h;
    uint8_t hotkey[32];
    bool has_hotkey, done;
} rpending;

struct engine_rules {
    schema_paramset ps;      /* in effect now */
    schema_paramset *pv;     /* every version, in order; version i applies from pv_from[i] on */
    uint64_t *pv_from;
    size_t n_pv, cap_pv;
    uint64_t size, last_time;
    bool has_genesis;
    uint8_t node_key[32];
    uint64_t netuid, chain_block;

    bool has_mg;
    uint64_t mg_block;
    rbind *bind; /* the effective METAGRAPH's bound keys, sorted by key */
    size_t n_bind;
    bool mg_pending;
    uint64_t pend_block, pend_parts, pend_next, pend_last_uid;
    bool pend_has_uid;
    rbind *pend;
    size_t n_pend, cap_pend;

    rmap event_ix, market_ix;
    revent *events;
    size_t n_events, cap_events;
    rmarket *markets;
    size_t n_markets, cap_markets;

    uint64_t cycle, covers_to, epoch;
    bool in_block;
    uint64_t prune_day;

    rtable odds, outs, late;
    rpending *pend_rec; /* ascending by seq; done ones are dropped as the list compacts */
    size_t n_pend_rec, cap_pend_rec, n_pend_done;
    rmap nonce_ix;
    rnonce *nonces;
    size_t n_nonces, cap_nonces;
    rmap attest_ix;
};


uint32_t eng__rmap_get(const rmap *m, const rkey *k);
tally_status eng__rmap_put(rmap *m, const rkey *k, uint32_t v);
void eng__rmap_free(rmap *m);
rkey eng__key_id(uint64_t id);
rkey eng__key_of(const uint8_t b[32], uint64_t id);
int eng__by_bind_key(const void *a, const void *b);
/* The binding of a tally key in the effective METAGRAPH (NULL: unbound, or bound twice). */
const rbind *eng__binding(const engine_rules *r, const uint8_t key[32]);
const revent *eng__event_of(const engine_rules *r, uint64_t id);
const rmarket *eng__market_of(const engine_rules *r, uint64_t id);
/* The pending record at seq, or NULL. */
rpending *eng__pending(const engine_rules *r, uint64_t seq);
tally_status eng__late_add(engine_rules *r, const rpending *pr, const schema_odds *o);
void eng__pending_done(engine_rules *r, rpending *pr);
/* Reads the checkpoint section eng__rules_write (engine_int.h) writes, into a fresh state. */
tally_status eng__rules_read(schema_mpr *rd, engine_rules *r);
tally_status eng__intake_add(rtable *t, const uint8_t hotkey[32], uint64_t id, uint64_t time,
                             uint64_t count);
tally_status eng__nonce_set(engine_rules *r, const uint8_t key[32], uint64_t nonce, uint64_t idx);
tally_status eng__pending_add(engine_rules *r, uint64_t seq, const schema_header *h,
                              const rbind *bd);
/* The parameters in effect at record seq. */
const schema_paramset *eng__params_at(const engine_rules *r, uint64_t seq);

#endif
