/* The acceptance rules (protocol §2.4–§2.5 record rules, §5.4 S1–S9 and O1–O6, the write-nonce
 * order of §4, the parameter table of §2.6) as one pure check over the projected ledger state,
 * and the fold that keeps that state. The node's writer, `tally append`, the simulator and
 * every replay call exactly these functions, so they cannot disagree on what a log may hold.
 *
 * State, all kept incrementally (nothing here scans the log):
 * | part        | held per                                   | dropped                          |
 * |-------------|--------------------------------------------|----------------------------------|
 * | identity    | log: node key, netuid, chain block, sizes  | –                                |
 * | params      | every ledger key (schema_paramset)         | –                                |
 * | bindings    | tally key of the effective METAGRAPH       | replaced by the next snapshot    |
 * | events      | EVENT id: latest start and status          | –                                |
 * | markets     | MARKET id: event, kind, sides, body hash   | –                                |
 * | odds intake | (hotkey, market): entries of the last 24 h | 24 h after its last entry        |
 * | outcomes    | (hotkey, event): outcomes of the last 24 h | 24 h after its last outcome      |
 * | nonces      | actor key: highest write nonce and idx     | –                                |
 * | attestations| (hotkey, cycle)                            | –                                |
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define DAY_MS 86400000ull
#define ID_NONE UINT32_MAX

/* ---- a map from (32 bytes, u64) to an index ---- */

typedef struct rkey {
    uint8_t k[32];
    uint64_t id;
} rkey;

typedef struct rmap {
    rkey *keys;
    uint32_t *vals; /* ID_NONE marks an empty slot */
    size_t cap, n;
} rmap;

static uint64_t rkey_hash(const rkey *k)
{
    uint64_t h = k->id * 0x9E3779B97F4A7C15ull, w;
    for (int i = 0; i < 32; i += 8) {
        memcpy(&w, k->k + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    }
    return h ^ (h >> 29);
}

static uint32_t rmap_get(const rmap *m, const rkey *k)
{
    if (m->cap == 0) {
        return ID_NONE;
    }
    for (size_t s = rkey_hash(k) & (m->cap - 1);; s = (s + 1) & (m->cap - 1)) {
        if (m->vals[s] == ID_NONE) {
            return ID_NONE;
        }
        if (m->keys[s].id == k->id && memcmp(m->keys[s].k, k->k, 32) == 0) {
            return m->vals[s];
        }
    }
}

static void rmap_free(rmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static tally_status rmap_put(rmap *m, const rkey *k, uint32_t v)
{
    if (2 * (m->n + 1) > m->cap) {
        rmap g = {.cap = m->cap ? 2 * m->cap : 64};
        g.keys = malloc(g.cap * sizeof(*g.keys));
        g.vals = malloc(g.cap * sizeof(*g.vals));
        if (g.keys == NULL || g.vals == NULL) {
            rmap_free(&g);
            return TALLY_ENOMEM;
        }
        for (size_t i = 0; i < g.cap; i++) {
            g.vals[i] = ID_NONE;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (m->vals[i] != ID_NONE) {
                tally_status st = rmap_put(&g, &m->keys[i], m->vals[i]);
                TALLY_ASSERT(st == TALLY_OK); /* g has room for every entry */
            }
        }
        rmap_free(m);
        *m = g;
    }
    for (size_t s = rkey_hash(k) & (m->cap - 1);; s = (s + 1) & (m->cap - 1)) {
        if (m->vals[s] == ID_NONE) {
            m->keys[s] = *k, m->vals[s] = v, m->n++;
            return TALLY_OK;
        }
        if (m->keys[s].id == k->id && memcmp(m->keys[s].k, k->k, 32) == 0) {
            m->vals[s] = v;
            return TALLY_OK;
        }
    }
}

static rkey key_id(uint64_t id)
{
    rkey k;
    memset(k.k, 0, 32);
    k.id = id;
    return k;
}

static rkey key_of(const uint8_t b[32], uint64_t id)
{
    rkey k;
    memcpy(k.k, b, 32);
    k.id = id;
    return k;
}

/* ---- state ---- */

typedef struct rbind {
    uint8_t key[32], hotkey[32];
    uint64_t uid, stake;
    bool permit, dup; /* dup: the key is bound to two uids, so to none (protocol §1) */
} rbind;

typedef struct revent {
    uint64_t start_ms, status;
    bool has_recompute;
    uint64_t recompute_seq; /* the latest RECOMPUTE listing the event */
} revent;

typedef struct rmarket {
    uint64_t event_id, kind;
    uint8_t sides; /* bit s set: side s */
    uint8_t body_hash[32];
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

struct engine_rules {
    schema_paramset ps;
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

    rtable odds, outs;
    rmap nonce_ix;
    rnonce *nonces;
    size_t n_nonces, cap_nonces;
    rmap attest_ix;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 16;
    void *q;
    if (need <= *cap) {
        return p;
    }
    while (c < need) {
        c *= 2;
    }
    q = realloc(p, c * elem);
    if (q != NULL) {
        *cap = c;
    }
    return q;
}

tally_status engine_rules_new(engine_rules **out)
{
    engine_rules *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL) {
        return TALLY_ENOMEM;
    }
    schema_paramset_default(&r->ps);
    *out = r;
    return TALLY_OK;
}

static void table_free(rtable *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].hits);
    }
    free(t->v);
    rmap_free(&t->ix);
    memset(t, 0, sizeof(*t));
}

void engine_rules_free(engine_rules *r)
{
    if (r == NULL) {
        return;
    }
    free(r->bind);
    free(r->pend);
    rmap_free(&r->event_ix);
    rmap_free(&r->market_ix);
    free(r->events);
    free(r->markets);
    table_free(&r->odds);
    table_free(&r->outs);
    rmap_free(&r->nonce_ix);
    free(r->nonces);
    rmap_free(&r->attest_ix);
    free(r);
}

uint64_t engine_rules_size(const engine_rules *r)
{
    return r->size;
}

uint64_t engine_rules_last_time(const engine_rules *r)
{
    return r->last_time;
}

const schema_paramset *engine_rules_params(const engine_rules *r)
{
    return &r->ps;
}

/* ---- names ---- */

static const char *const rule_names[ENGINE_RULE_COUNT] = {
    [ENGINE_RULE_OK] = "ok",
    [ENGINE_RULE_TIME_ORDER] = "time_order",
    [ENGINE_RULE_GENESIS] = "genesis_placement",
    [ENGINE_RULE_AUTHOR] = "wrong_author",
    [ENGINE_RULE_PARAM_UNKNOWN] = "param_unknown",
    [ENGINE_RULE_PARAM_KIND] = "param_kind",
    [ENGINE_RULE_PARAM_RANGE] = "param_range",
    [ENGINE_RULE_NETUID] = "netuid_mismatch",
    [ENGINE_RULE_CHAIN_BLOCK] = "block_not_increasing",
    [ENGINE_RULE_METAGRAPH_PARTS] = "metagraph_parts",
    [ENGINE_RULE_MARKET_CONFLICT] = "market_conflict",
    [ENGINE_RULE_MARKET_DUPLICATE] = "market_duplicate",
    [ENGINE_RULE_CLOSE_TIME] = "close_time",
    [ENGINE_RULE_CLOSE_DUPLICATE] = "close_duplicate",
    [ENGINE_RULE_SNAPSHOT_TIME] = "snapshot_time",
    [ENGINE_RULE_EPOCH] = "epoch_order",
    [ENGINE_RULE_CYCLE] = "cycle_order",
    [ENGINE_RULE_BLOCK] = "cycle_block",
    [ENGINE_RULE_NOT_ELIGIBLE] = "not_eligible",
    [ENGINE_RULE_ATTESTATION_INVALID] = "attestation_invalid",
    [ENGINE_RULE_ATTESTATION_DUPLICATE] = "attestation_duplicate",
    [ENGINE_RULE_NONCE_STALE] = "nonce_stale",
    [ENGINE_RULE_NONCE_REPLAY] = "nonce_replay",
    [ENGINE_RULE_INVALID_FIELD] = "invalid_field",
    [ENGINE_RULE_PRICE_INCONSISTENT] = "price_inconsistent",
    [ENGINE_RULE_KEY_NOT_REGISTERED] = "key_not_registered",
    [ENGINE_RULE_UNKNOWN_EVENT] = "unknown_event",
    [ENGINE_RULE_UNKNOWN_MARKET] = "unknown_market",
    [ENGINE_RULE_MARKET_EVENT_MISMATCH] = "market_event_mismatch",
    [ENGINE_RULE_MARKET_KIND_MISMATCH] = "market_kind_mismatch",
    [ENGINE_RULE_MARKET_SIDES_MISMATCH] = "market_sides_mismatch",
    [ENGINE_RULE_MARKET_CLOSED] = "market_closed",
    [ENGINE_RULE_MARKET_NOT_OPEN] = "market_not_open",
    [ENGINE_RULE_PRICED_AT_OUT_OF_RANGE] = "priced_at_out_of_range",
    [ENGINE_RULE_MARKET_DAILY_CAP] = "market_daily_cap",
    [ENGINE_RULE_DUPLICATE_IN_BUCKET] = "duplicate_in_bucket",
    [ENGINE_RULE_EVENT_INELIGIBLE] = "event_ineligible",
    [ENGINE_RULE_EVENT_NOT_STARTED] = "event_not_started",
    [ENGINE_RULE_OUTCOME_WINDOW_CLOSED] = "outcome_window_closed",
    [ENGINE_RULE_EVENT_DAILY_CAP] = "event_daily_cap",
};

const char *engine_rule_name(engine_rule rule)
{
    return (unsigned)rule < ENGINE_RULE_COUNT && rule_names[rule] ? rule_names[rule] : "?";
}

bool engine_rule_is_item(engine_rule rule)
{
    return rule >= ENGINE_RULE_UNKNOWN_EVENT && rule < ENGINE_RULE_COUNT;
}

static engine_rule fail(engine_verdict *v, engine_rule rule, uint64_t market_id, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
static engine_rule fail(engine_verdict *v, engine_rule rule, uint64_t market_id, const char *fmt,
                        ...)
{
    va_list ap;

    v->rule = rule;
    v->market_id = market_id;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
    return rule;
}

/* ---- lookups ---- */

static int by_bind_key(const void *a, const void *b)
{
    return memcmp(((const rbind *)a)->key, ((const rbind *)b)->key, 32);
}

static const rbind *binding(const engine_rules *r, const uint8_t key[32])
{
    rbind probe;
    const rbind *hit;

    memcpy(probe.key, key, 32);
    hit = bsearch(&probe, r->bind, r->n_bind, sizeof(probe), by_bind_key);
    return hit != NULL && !hit->dup ? hit : NULL;
}

static const revent *event_of(const engine_rules *r, uint64_t id)
{
    rkey k = key_id(id);
    uint32_t i = rmap_get(&r->event_ix, &k);
    return i == ID_NONE ? NULL : &r->events[i];
}

static const rmarket *market_of(const engine_rules *r, uint64_t id)
{
    rkey k = key_id(id);
    uint32_t i = rmap_get(&r->market_ix, &k);
    return i == ID_NONE ? NULL : &r->markets[i];
}

static const rintake *intake_of(const rtable *t, const uint8_t hotkey[32], uint64_t id)
{
    rkey k = key_of(hotkey, id);
    uint32_t i = rmap_get(&t->ix, &k);
    return i == ID_NONE ? NULL : &t->v[i];
}

/* Prices (or outcomes) counted in the trailing 24 h (T − 24 h, T]. */
static uint64_t count_24h(const rintake *in, uint64_t t)
{
    uint64_t n = 0;
    for (size_t i = 0; in != NULL && i < in->n; i++) {
        if (in->hits[i].t + DAY_MS > t) {
            n += in->hits[i].count;
        }
    }
    return n;
}

static bool same_bucket(const rintake *in, uint64_t t, uint64_t bucket_ms)
{
    return in != NULL && in->n > 0 && in->last_t / bucket_ms == t / bucket_ms;
}

static int64_t P(const engine_rules *r, unsigned id)
{
    return r->ps.v[id];
}

static const char *tname(uint64_t type)
{
    const char *n = schema_type_name((unsigned)type);
    return n ? n : "?";
}

/* ---- the check, by record type ---- */

static engine_rule check_params(engine_verdict *v, const schema_param *p, size_t n)
{
    schema_param_error err;
    schema_paramset scratch;

    schema_paramset_default(&scratch);
    if (schema_paramset_apply(&scratch, p, n, &err) == TALLY_OK) {
        return ENGINE_RULE_OK;
    }
    return fail(v,
                err.what == SCHEMA_PARAM_UNKNOWN ? ENGINE_RULE_PARAM_UNKNOWN
                : err.what == SCHEMA_PARAM_KIND  ? ENGINE_RULE_PARAM_KIND
                                                 : ENGINE_RULE_PARAM_RANGE,
                0, "%s", err.msg);
}

static engine_rule check_nonce(const engine_rules *r, engine_verdict *v, const uint8_t key[32],
                               uint64_t nonce, uint64_t idx)
{
    rkey k = key_of(key, 0);
    uint32_t i = rmap_get(&r->nonce_ix, &k);
    const rnonce *last = i == ID_NONE ? NULL : &r->nonces[i];

    /* items of one request share its nonce and come in idx order (§5.2) */
    if (last == NULL || nonce > last->nonce || (nonce == last->nonce && idx > last->idx)) {
        return ENGINE_RULE_OK;
    }
    if (nonce == last->nonce) {
        return fail(v, ENGINE_RULE_NONCE_REPLAY, 0,
                    "write nonce %llu with idx %llu follows idx %llu of the same nonce",
                    (unsigned long long)nonce, (unsigned long long)idx,
                    (unsigned long long)last->idx);
    }
    return fail(v, ENGINE_RULE_NONCE_STALE, 0, "write nonce %llu is below the key's highest, %llu",
                (unsigned long long)nonce, (unsigned long long)last->nonce);
}

static engine_rule check_sides(engine_verdict *v, const rmarket *m, uint64_t market_id,
                               uint64_t side)
{
    if (side < 8 && (m->sides >> side & 1u)) {
        return ENGINE_RULE_OK;
    }
    return fail(v, ENGINE_RULE_MARKET_SIDES_MISMATCH, market_id,
                "side %llu is not a side of market %llu", (unsigned long long)side,
                (unsigned long long)market_id);
}

/* §5.4 stateless bounds that the parameters set: odds and probabilities, and their agreement. */
static engine_rule check_prices(const engine_rules *r, engine_verdict *v, const schema_entry *en)
{
    for (size_t j = 0; j < en->n_prices; j++) {
        const schema_price *pr = &en->prices[j];
        uint64_t implied = pr->odds_n ? 1000000000000000000ull / pr->odds_n : 0;
        uint64_t diff = implied > pr->imp_prob_n ? implied - pr->imp_prob_n
                                                 : pr->imp_prob_n - implied;
        if ((int64_t)pr->odds_n < P(r, SCHEMA_P_SEC_ODDS_MIN) ||
            pr->odds_n > (uint64_t)P(r, SCHEMA_P_SEC_ODDS_MAX)) {
            return fail(v, ENGINE_RULE_INVALID_FIELD, en->market_id,
                        "field odds_n: %llu is outside security.odds_min..odds_max",
                        (unsigned long long)pr->odds_n);
        }
        if ((int64_t)pr->imp_prob_n < P(r, SCHEMA_P_SEC_PROB_MIN) ||
            pr->imp_prob_n > (uint64_t)P(r, SCHEMA_P_SEC_PROB_MAX)) {
            return fail(v, ENGINE_RULE_INVALID_FIELD, en->market_id,
                        "field imp_prob_n: %llu is outside security.prob_min..prob_max",
                        (unsigned long long)pr->imp_prob_n);
        }
        if (diff > (uint64_t)P(r, SCHEMA_P_PROB_TOLERANCE)) {
            return fail(v, ENGINE_RULE_PRICE_INCONSISTENT, en->market_id,
                        "imp_prob_n %llu differs from 1/odds (%llu) by more than "
                        "ingest.prob_tolerance",
                        (unsigned long long)pr->imp_prob_n, (unsigned long long)implied);
        }
    }
    return ENGINE_RULE_OK;
}

static engine_rule check_odds(const engine_rules *r, engine_verdict *v, const schema_header *h,
                              const schema_odds *o, const rbind *b)
{
    uint64_t t = h->time_ms;
    uint64_t bucket = (uint64_t)P(r, SCHEMA_P_ODDS_BUCKET_SECONDS) * 1000;
    uint64_t cap = (uint64_t)P(r, SCHEMA_P_MAX_SUBMISSIONS_PER_MARKET_DAY);
    uint64_t tol = (uint64_t)P(r, SCHEMA_P_PRICED_AT_TOLERANCE_SEC) * 1000;
    const revent *ev = event_of(r, o->event_id);

    for (size_t k = 0; k < o->n_markets; k++) {
        if (check_prices(r, v, &o->markets[k]) != ENGINE_RULE_OK) {
            return v->rule;
        }
    }
    if (check_nonce(r, v, h->actor, o->nonce, o->idx) != ENGINE_RULE_OK) {
        return v->rule;
    }
    if (ev == NULL) {
        return fail(v, ENGINE_RULE_UNKNOWN_EVENT, 0, "event %llu does not exist",
                    (unsigned long long)o->event_id);
    }
    for (size_t k = 0; k < o->n_markets; k++) {
        const schema_entry *en = &o->markets[k];
        const rmarket *m = market_of(r, en->market_id);
        if (m == NULL) {
            return fail(v, ENGINE_RULE_UNKNOWN_MARKET, en->market_id, "market %llu does not exist",
                        (unsigned long long)en->market_id);
        }
        if (m->event_id != o->event_id) {
            return fail(v, ENGINE_RULE_MARKET_EVENT_MISMATCH, en->market_id,
                        "market %llu belongs to event %llu, not %llu",
                        (unsigned long long)en->market_id, (unsigned long long)m->event_id,
                        (unsigned long long)o->event_id);
        }
        if (m->kind != en->kind) {
            return fail(v, ENGINE_RULE_MARKET_KIND_MISMATCH, en->market_id,
                        "entry kind %llu, market %llu is of kind %llu",
                        (unsigned long long)en->kind, (unsigned long long)en->market_id,
                        (unsigned long long)m->kind);
        }
        for (size_t j = 0; j < en->n_prices; j++) {
            if (check_sides(v, m, en->market_id, en->prices[j].side) != ENGINE_RULE_OK) {
                return v->rule;
            }
        }
    }
    if (ev->status != SCHEMA_SCHEDULED || ev->start_ms < t) {
        return fail(v, ENGINE_RULE_MARKET_CLOSED, 0,
                    "event %llu %s (status %llu, start %llu, time %llu)",
                    (unsigned long long)o->event_id,
                    ev->status != SCHEMA_SCHEDULED ? "is not scheduled" : "has started",
                    (unsigned long long)ev->status, (unsigned long long)ev->start_ms,
                    (unsigned long long)t);
    }
    if (ev->start_ms > t + (uint64_t)P(r, SCHEMA_P_ODDS_WINDOW_DAYS) * DAY_MS) {
        return fail(v, ENGINE_RULE_MARKET_NOT_OPEN, 0,
                    "event %llu starts at %llu, beyond ingest.odds_window_days from %llu",
                    (unsigned long long)o->event_id, (unsigned long long)ev->start_ms,
                    (unsigned long long)t);
    }
    for (size_t k = 0; k < o->n_markets; k++) {
        const schema_entry *en = &o->markets[k];
        const rintake *in = intake_of(&r->odds, b->hotkey, en->market_id);
        uint64_t d = en->priced_at_ms > t ? en->priced_at_ms - t : t - en->priced_at_ms;
        if (en->has_priced_at_ms && d > tol) {
            return fail(v, ENGINE_RULE_PRICED_AT_OUT_OF_RANGE, en->market_id,
                        "priced_at_ms %llu is %llu ms from the record time %llu",
                        (unsigned long long)en->priced_at_ms, (unsigned long long)d,
                        (unsigned long long)t);
        }
        if (count_24h(in, t) >= cap) {
            return fail(v, ENGINE_RULE_MARKET_DAILY_CAP, en->market_id,
                        "%llu prices for market %llu by this hotkey in the last 24 h (cap %llu)",
                        (unsigned long long)count_24h(in, t), (unsigned long long)en->market_id,
                        (unsigned long long)cap);
        }
        if (same_bucket(in, t, bucket)) {
            return fail(v, ENGINE_RULE_DUPLICATE_IN_BUCKET, en->market_id,
                        "an entry for market %llu by this hotkey is already in bucket %llu",
                        (unsigned long long)en->market_id, (unsigned long long)(t / bucket));
        }
    }
    return ENGINE_RULE_OK;
}

static engine_rule check_miner_outcome(const engine_rules *r, engine_verdict *v,
                                       const schema_header *h, const schema_outcome *o,
                                       const rbind *b)
{
    uint64_t t = h->time_ms;
    uint64_t bucket = (uint64_t)P(r, SCHEMA_P_OUTCOME_BUCKET_SECONDS) * 1000;
    uint64_t cap = (uint64_t)P(r, SCHEMA_P_MAX_OUTCOMES_PER_EVENT_DAY);
    uint64_t window = (uint64_t)P(r, SCHEMA_P_OUTCOME_WINDOW_HOURS) * 3600000ull;
    const revent *ev = event_of(r, o->event_id);
    const rintake *in = intake_of(&r->outs, b->hotkey, o->event_id);

    if (check_nonce(r, v, h->actor, o->nonce, o->idx) != ENGINE_RULE_OK) {
        return v->rule;
    }
    if (ev == NULL) {
        return fail(v, ENGINE_RULE_UNKNOWN_EVENT, 0, "event %llu does not exist",
                    (unsigned long long)o->event_id);
    }
    if (ev->status != SCHEMA_SCHEDULED && ev->status != SCHEMA_IN_PLAY &&
        ev->status != SCHEMA_FINISHED) {
        return fail(v, ENGINE_RULE_EVENT_INELIGIBLE, 0, "event %llu has status %llu",
                    (unsigned long long)o->event_id, (unsigned long long)ev->status);
    }
    if (t < ev->start_ms) {
        return fail(v, ENGINE_RULE_EVENT_NOT_STARTED, 0, "event %llu starts at %llu, after %llu",
                    (unsigned long long)o->event_id, (unsigned long long)ev->start_ms,
                    (unsigned long long)t);
    }
    if (t > ev->start_ms + window) {
        return fail(v, ENGINE_RULE_OUTCOME_WINDOW_CLOSED, 0,
                    "the outcome window of event %llu closed at %llu",
                    (unsigned long long)o->event_id,
                    (unsigned long long)(ev->start_ms + window));
    }
    if (count_24h(in, t) >= cap) {
        return fail(v, ENGINE_RULE_EVENT_DAILY_CAP, 0,
                    "%llu outcomes for event %llu by this hotkey in the last 24 h (cap %llu)",
                    (unsigned long long)count_24h(in, t), (unsigned long long)o->event_id,
                    (unsigned long long)cap);
    }
    if (same_bucket(in, t, bucket)) {
        return fail(v, ENGINE_RULE_DUPLICATE_IN_BUCKET, 0,
                    "an outcome for event %llu by this hotkey is already in bucket %llu",
                    (unsigned long long)o->event_id, (unsigned long long)(t / bucket));
    }
    return ENGINE_RULE_OK;
}

static engine_rule check_attestation(const engine_rules *r, engine_verdict *v,
                                     const schema_header *h, const schema_attestation *a,
                                     uint64_t seq)
{
    const rbind *b = binding(r, h->actor);
    rkey k;

    if (b == NULL || memcmp(h->actor, r->node_key, 32) == 0) {
        return fail(v, ENGINE_RULE_NOT_ELIGIBLE, 0, "%s",
                    b == NULL ? "the key is not bound in the effective METAGRAPH"
                              : "the node key cannot attest");
    }
    if (P(r, SCHEMA_P_AUTH_REQUIRE_PERMIT) && !b->permit) {
        return fail(v, ENGINE_RULE_NOT_ELIGIBLE, 0, "uid %llu has no validator permit",
                    (unsigned long long)b->uid);
    }
    if (b->stake < (uint64_t)P(r, SCHEMA_P_AUTH_MIN_STAKE_RAO)) {
        return fail(v, ENGINE_RULE_NOT_ELIGIBLE, 0,
                    "uid %llu stakes %llu rao, below auth.min_stake_rao",
                    (unsigned long long)b->uid, (unsigned long long)b->stake);
    }
    if (a->cycle < 1 || a->cycle > r->cycle || a->tree_size < 1 || a->tree_size > seq) {
        return fail(v, ENGINE_RULE_ATTESTATION_INVALID, 0,
                    "cycle %llu (latest %llu) or tree size %llu (log size %llu) out of range",
                    (unsigned long long)a->cycle, (unsigned long long)r->cycle,
                    (unsigned long long)a->tree_size, (unsigned long long)seq);
    }
    k = key_of(b->hotkey, a->cycle);
    if (rmap_get(&r->attest_ix, &k) != ID_NONE) {
        return fail(v, ENGINE_RULE_ATTESTATION_DUPLICATE, 0,
                    "this hotkey already attested cycle %llu", (unsigned long long)a->cycle);
    }
    return check_nonce(r, v, h->actor, a->nonce, 0);
}

static engine_rule check_metagraph(const engine_rules *r, engine_verdict *v,
                                   const schema_metagraph *m)
{
    if (m->netuid != r->netuid) {
        return fail(v, ENGINE_RULE_NETUID, 0, "netuid %llu, the log's is %llu",
                    (unsigned long long)m->netuid, (unsigned long long)r->netuid);
    }
    if (m->part == 0 && r->mg_pending) {
        return fail(v, ENGINE_RULE_METAGRAPH_PARTS, 0,
                    "a new snapshot starts before part %llu of %llu of the last one",
                    (unsigned long long)r->pend_next, (unsigned long long)r->pend_parts);
    }
    if (m->part == 0 && r->has_mg && m->block <= r->mg_block) {
        return fail(v, ENGINE_RULE_CHAIN_BLOCK, 0, "METAGRAPH block %llu after block %llu",
                    (unsigned long long)m->block, (unsigned long long)r->mg_block);
    }
    if (m->part > 0 && (!r->mg_pending || m->part != r->pend_next || m->parts != r->pend_parts ||
                        m->block != r->pend_block)) {
        return fail(v, ENGINE_RULE_METAGRAPH_PARTS, 0,
                    "part %llu of %llu at block %llu does not continue the snapshot",
                    (unsigned long long)m->part, (unsigned long long)m->parts,
                    (unsigned long long)m->block);
    }
    if (m->part > 0 && m->n_neurons > 0 && r->pend_has_uid &&
        m->neurons[0].uid <= r->pend_last_uid) {
        return fail(v, ENGINE_RULE_METAGRAPH_PARTS, 0, "uids do not ascend across parts");
    }
    return ENGINE_RULE_OK;
}

static engine_rule check_snapshot(const engine_rules *r, engine_verdict *v, const schema_header *h,
                                  const schema_snapshot *s, uint64_t seq)
{
    const rmarket *m = market_of(r, s->market_id);
    const revent *ev;

    if (m == NULL) {
        return fail(v, ENGINE_RULE_UNKNOWN_MARKET, s->market_id, "market %llu does not exist",
                    (unsigned long long)s->market_id);
    }
    for (size_t k = 0; k < s->n_probs; k++) {
        if (check_sides(v, m, s->market_id, s->probs[k].side) != ENGINE_RULE_OK) {
            return v->rule;
        }
    }
    if (h->type == SCHEMA_MARKET_SNAPSHOT) {
        return s->ts_ms <= h->time_ms
                   ? ENGINE_RULE_OK
                   : fail(v, ENGINE_RULE_SNAPSHOT_TIME, s->market_id,
                          "ts_ms %llu is after the record time %llu",
                          (unsigned long long)s->ts_ms, (unsigned long long)h->time_ms);
    }
    ev = event_of(r, m->event_id);
    if (ev == NULL) {
        return fail(v, ENGINE_RULE_UNKNOWN_EVENT, s->market_id, "the market's event is unknown");
    }
    if (s->ts_ms != ev->start_ms || s->ts_ms > h->time_ms) {
        return fail(v, ENGINE_RULE_CLOSE_TIME, s->market_id,
                    "close_ms %llu must be the event's start %llu and not after the record "
                    "time %llu",
                    (unsigned long long)s->ts_ms, (unsigned long long)ev->start_ms,
                    (unsigned long long)h->time_ms);
    }
    if (m->has_close && !(ev->has_recompute && ev->recompute_seq > m->close_seq)) {
        return fail(v, ENGINE_RULE_CLOSE_DUPLICATE, s->market_id,
                    "market %llu has a CLOSE at seq %llu and no RECOMPUTE of its event since",
                    (unsigned long long)s->market_id, (unsigned long long)m->close_seq);
    }
    (void)seq;
    return ENGINE_RULE_OK;
}

static bool is_node_type(const schema_header *h)
{
    if (h->type == SCHEMA_ODDS_SUBMISSION || h->type == SCHEMA_ATTESTATION) {
        return false;
    }
    /* OUTCOME: the tier tells the source (public: provider; embargoed: a miner) */
    return h->type != SCHEMA_OUTCOME || h->tier == SCHEMA_PUBLIC;
}

static bool is_derived(uint64_t type)
{
    return type >= SCHEMA_SUBMISSION_SCORE;
}

/* The cycle number a derived body names (each derived type has it first). */
static uint64_t derived_cycle(const schema_body *b)
{
    switch (b->type) {
    case SCHEMA_SUBMISSION_SCORE:
        return b->u.submission_score.cycle;
    case SCHEMA_MINER_SCORE:
        return b->u.miner_score.cycle;
    case SCHEMA_WEIGHTS:
        return b->u.weights.cycle;
    default:
        return b->u.state_hash.cycle;
    }
}

static engine_rule check_header(const engine_rules *r, engine_verdict *v, uint64_t seq,
                                const schema_header *h)
{
    if ((seq == 0) != (h->type == SCHEMA_GENESIS)) {
        return fail(v, ENGINE_RULE_GENESIS, 0, "%s", seq == 0 ? "the first record must be GENESIS"
                                                             : "GENESIS only at seq 0");
    }
    if (h->time_ms < r->last_time) {
        return fail(v, ENGINE_RULE_TIME_ORDER, 0, "time %llu is below the previous record's %llu",
                    (unsigned long long)h->time_ms, (unsigned long long)r->last_time);
    }
    if (seq > 0 && is_node_type(h) && memcmp(h->actor, r->node_key, 32) != 0) {
        return fail(v, ENGINE_RULE_AUTHOR, 0, "%s must be signed by the node key of GENESIS",
                    tname(h->type));
    }
    if (!is_node_type(h) && memcmp(h->actor, r->node_key, 32) == 0) {
        return fail(v, ENGINE_RULE_AUTHOR, 0, "the node key cannot author %s", tname(h->type));
    }
    if (r->mg_pending && h->type != SCHEMA_METAGRAPH) {
        return fail(v, ENGINE_RULE_METAGRAPH_PARTS, 0,
                    "a METAGRAPH snapshot is incomplete (part %llu of %llu next)",
                    (unsigned long long)r->pend_next, (unsigned long long)r->pend_parts);
    }
    if (r->in_block && !is_derived(h->type)) {
        return fail(v, ENGINE_RULE_BLOCK, 0, "cycle %llu's derived block ends without STATE_HASH",
                    (unsigned long long)r->cycle);
    }
    if (!r->in_block && is_derived(h->type)) {
        return fail(v, ENGINE_RULE_BLOCK, 0, "a derived record outside a cycle's block");
    }
    return ENGINE_RULE_OK;
}

static engine_rule check_body(const engine_rules *r, engine_verdict *v, uint64_t seq,
                              const schema_header *h, const schema_body *b)
{
    const rbind *bd;

    switch (h->type) {
    case SCHEMA_GENESIS:
        return check_params(v, b->u.genesis.params, b->u.genesis.n_params);
    case SCHEMA_CONFIG_SET:
        return check_params(v, b->u.config_set.params, b->u.config_set.n_params);
    case SCHEMA_CHAIN_PARAMS:
        if (b->u.chain_params.netuid != r->netuid) {
            return fail(v, ENGINE_RULE_NETUID, 0, "netuid %llu, the log's is %llu",
                        (unsigned long long)b->u.chain_params.netuid,
                        (unsigned long long)r->netuid);
        }
        return b->u.chain_params.block > r->chain_block
                   ? ENGINE_RULE_OK
                   : fail(v, ENGINE_RULE_CHAIN_BLOCK, 0, "CHAIN_PARAMS block %llu after %llu",
                          (unsigned long long)b->u.chain_params.block,
                          (unsigned long long)r->chain_block);
    case SCHEMA_METAGRAPH:
        return check_metagraph(r, v, &b->u.metagraph);
    case SCHEMA_MARKET: {
        const rmarket *m = market_of(r, b->u.market.market_id);
        if (m != NULL) {
            bool same = memcmp(m->body_hash, h->body_hash, 32) == 0;
            return fail(v, same ? ENGINE_RULE_MARKET_DUPLICATE : ENGINE_RULE_MARKET_CONFLICT,
                        b->u.market.market_id, "market %llu exists %s",
                        (unsigned long long)b->u.market.market_id,
                        same ? "with identical bytes" : "with different bytes");
        }
        return event_of(r, b->u.market.event_id) != NULL
                   ? ENGINE_RULE_OK
                   : fail(v, ENGINE_RULE_UNKNOWN_EVENT, b->u.market.market_id,
                          "event %llu does not exist", (unsigned long long)b->u.market.event_id);
    }
    case SCHEMA_PROVIDER_QUOTE: {
        const rmarket *m = market_of(r, b->u.provider_quote.market_id);
        if (m == NULL) {
            return fail(v, ENGINE_RULE_UNKNOWN_MARKET, b->u.provider_quote.market_id,
                        "market %llu does not exist",
                        (unsigned long long)b->u.provider_quote.market_id);
        }
        for (size_t k = 0; k < b->u.provider_quote.n_prices; k++) {
            if (check_sides(v, m, b->u.provider_quote.market_id,
                            b->u.provider_quote.prices[k].side) != ENGINE_RULE_OK) {
                return v->rule;
            }
        }
        return ENGINE_RULE_OK;
    }
    case SCHEMA_MARKET_SNAPSHOT:
    case SCHEMA_CLOSE:
        return check_snapshot(r, v, h, &b->u.snapshot, seq);
    case SCHEMA_ODDS_SUBMISSION:
    case SCHEMA_OUTCOME:
        if (h->type == SCHEMA_OUTCOME && b->u.outcome.source == 1) {
            return event_of(r, b->u.outcome.event_id) != NULL
                       ? ENGINE_RULE_OK
                       : fail(v, ENGINE_RULE_UNKNOWN_EVENT, 0, "event %llu does not exist",
                              (unsigned long long)b->u.outcome.event_id);
        }
        bd = binding(r, h->actor);
        if (bd == NULL) {
            return fail(v, ENGINE_RULE_KEY_NOT_REGISTERED, 0,
                        "the key is not bound in the effective METAGRAPH%s",
                        r->has_mg ? "" : " (there is none yet)");
        }
        return h->type == SCHEMA_ODDS_SUBMISSION
                   ? check_odds(r, v, h, &b->u.odds, bd)
                   : check_miner_outcome(r, v, h, &b->u.outcome, bd);
    case SCHEMA_RECOMPUTE:
        return b->u.recompute.epoch == r->epoch + 1
                   ? ENGINE_RULE_OK
                   : fail(v, ENGINE_RULE_EPOCH, 0, "epoch %llu, expected %llu",
                          (unsigned long long)b->u.recompute.epoch,
                          (unsigned long long)(r->epoch + 1));
    case SCHEMA_ATTESTATION:
        return check_attestation(r, v, h, &b->u.attestation, seq);
    case SCHEMA_SCORING_CYCLE: {
        const schema_scoring_cycle *c = &b->u.scoring_cycle;
        if (c->cycle != r->cycle + 1 || c->epoch != r->epoch ||
            c->as_of_ms != h->time_ms - h->time_ms % DAY_MS || c->covers_to < r->covers_to ||
            c->covers_to > seq) {
            return fail(v, ENGINE_RULE_CYCLE, 0,
                        "cycle %llu (expected %llu), epoch %llu (expected %llu), as_of_ms %llu, "
                        "covers_to %llu (between %llu and %llu)",
                        (unsigned long long)c->cycle, (unsigned long long)(r->cycle + 1),
                        (unsigned long long)c->epoch, (unsigned long long)r->epoch,
                        (unsigned long long)c->as_of_ms, (unsigned long long)c->covers_to,
                        (unsigned long long)r->covers_to, (unsigned long long)seq);
        }
        return ENGINE_RULE_OK;
    }
    default:
        if (is_derived(h->type) && derived_cycle(b) != r->cycle) {
            return fail(v, ENGINE_RULE_BLOCK, 0, "%s names cycle %llu inside cycle %llu's block",
                        tname(h->type), (unsigned long long)derived_cycle(b),
                        (unsigned long long)r->cycle);
        }
        return ENGINE_RULE_OK;
    }
}

tally_status engine_rules_check(const engine_rules *r, uint64_t seq, const schema_header *h,
                                const schema_body *b, engine_verdict *v)
{
    memset(v, 0, sizeof(*v));
    if (seq != r->size || b == NULL || b->type != h->type) {
        return TALLY_EINVAL;
    }
    if (check_header(r, v, seq, h) == ENGINE_RULE_OK) {
        (void)check_body(r, v, seq, h, b);
    }
    return TALLY_OK;
}

/* ---- the fold ---- */

static tally_status intake_add(rtable *t, const uint8_t hotkey[32], uint64_t id, uint64_t time,
                               uint64_t count)
{
    rkey k = key_of(hotkey, id);
    uint32_t i = rmap_get(&t->ix, &k);
    rintake *in;
    size_t keep = 0;

    if (i == ID_NONE) {
        rintake *g = grow(t->v, &t->cap, t->n + 1, sizeof(*g));
        if (g == NULL) {
            return TALLY_ENOMEM;
        }
        t->v = g;
        i = (uint32_t)t->n;
        memset(&g[i], 0, sizeof(g[i]));
        g[i].key = k;
        if (rmap_put(&t->ix, &k, i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        t->n++;
    }
    in = &t->v[i];
    /* times never decrease, so what fell out of the 24 h window is a prefix */
    while (keep < in->n && in->hits[keep].t + DAY_MS <= time) {
        keep++;
    }
    if (keep > 0) {
        memmove(in->hits, in->hits + keep, (in->n - keep) * sizeof(*in->hits));
        in->n -= keep;
    }
    rhit *g = grow(in->hits, &in->cap, in->n + 1, sizeof(*g));
    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    in->hits = g;
    g[in->n++] = (rhit){time, count};
    in->last_t = time;
    return TALLY_OK;
}

/* Drops intake entries whose last hit is 24 h old: they count for no cap, and a bucket is at
 * most an hour, so for no bucket either. The copy is built first, so running out of memory
 * leaves the table as it was. */
static tally_status intake_prune(rtable *t, uint64_t now)
{
    rtable keep = {0};
    size_t n = 0;

    for (size_t i = 0; i < t->n; i++) {
        n += t->v[i].last_t + DAY_MS > now;
    }
    if (n == t->n) {
        return TALLY_OK;
    }
    keep.cap = n ? n : 1;
    keep.v = malloc(keep.cap * sizeof(*keep.v));
    if (keep.v == NULL) {
        return TALLY_ENOMEM;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].last_t + DAY_MS > now) {
            if (rmap_put(&keep.ix, &t->v[i].key, (uint32_t)keep.n) != TALLY_OK) {
                free(keep.v);
                rmap_free(&keep.ix);
                return TALLY_ENOMEM;
            }
            keep.v[keep.n++] = t->v[i];
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].last_t + DAY_MS <= now) {
            free(t->v[i].hits);
        }
    }
    free(t->v);
    rmap_free(&t->ix);
    *t = keep;
    return TALLY_OK;
}

static tally_status nonce_set(engine_rules *r, const uint8_t key[32], uint64_t nonce, uint64_t idx)
{
    rkey k = key_of(key, 0);
    uint32_t i = rmap_get(&r->nonce_ix, &k);

    if (i == ID_NONE) {
        rnonce *g = grow(r->nonces, &r->cap_nonces, r->n_nonces + 1, sizeof(*g));
        if (g == NULL) {
            return TALLY_ENOMEM;
        }
        r->nonces = g;
        i = (uint32_t)r->n_nonces;
        if (rmap_put(&r->nonce_ix, &k, i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        r->n_nonces++;
    }
    r->nonces[i] = (rnonce){nonce, idx};
    return TALLY_OK;
}

static tally_status apply_metagraph(engine_rules *r, const schema_metagraph *m)
{
    if (m->part == 0) {
        r->n_pend = 0, r->mg_pending = true;
        r->pend_block = m->block, r->pend_parts = m->parts, r->pend_has_uid = false;
    }
    for (size_t i = 0; i < m->n_neurons; i++) {
        const schema_neuron *nr = &m->neurons[i];
        r->pend_last_uid = nr->uid, r->pend_has_uid = true;
        if (!nr->has_tally_key) {
            continue;
        }
        rbind *g = grow(r->pend, &r->cap_pend, r->n_pend + 1, sizeof(*g));
        if (g == NULL) {
            return TALLY_ENOMEM;
        }
        r->pend = g;
        g[r->n_pend] = (rbind){.uid = nr->uid, .stake = nr->stake_rao,
                               .permit = nr->validator_permit};
        memcpy(g[r->n_pend].key, nr->tally_key, 32);
        memcpy(g[r->n_pend].hotkey, nr->hotkey, 32);
        r->n_pend++;
    }
    r->pend_next = m->part + 1;
    if (r->pend_next < r->pend_parts) {
        return TALLY_OK;
    }
    /* the snapshot is complete: it is the effective METAGRAPH for every later record */
    rbind *b = malloc((r->n_pend ? r->n_pend : 1) * sizeof(*b));
    if (b == NULL) {
        return TALLY_ENOMEM;
    }
    memcpy(b, r->pend, r->n_pend * sizeof(*b));
    qsort(b, r->n_pend, sizeof(*b), by_bind_key);
    for (size_t i = 1; i < r->n_pend; i++) {
        if (memcmp(b[i].key, b[i - 1].key, 32) == 0) {
            b[i].dup = b[i - 1].dup = true;
        }
    }
    free(r->bind);
    r->bind = b, r->n_bind = r->n_pend;
    r->has_mg = true, r->mg_block = r->pend_block, r->mg_pending = false;
    return TALLY_OK;
}

static tally_status apply_event(engine_rules *r, const schema_event *ev)
{
    rkey k = key_id(ev->event_id);
    uint32_t i = rmap_get(&r->event_ix, &k);

    if (i == ID_NONE) {
        revent *g = grow(r->events, &r->cap_events, r->n_events + 1, sizeof(*g));
        if (g == NULL) {
            return TALLY_ENOMEM;
        }
        r->events = g;
        i = (uint32_t)r->n_events;
        memset(&g[i], 0, sizeof(g[i]));
        if (rmap_put(&r->event_ix, &k, i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        r->n_events++;
    }
    r->events[i].start_ms = ev->start_ms;
    r->events[i].status = ev->status;
    return TALLY_OK;
}

static tally_status apply_market(engine_rules *r, const schema_header *h, const schema_market *m)
{
    rkey k = key_id(m->market_id);
    rmarket *g = grow(r->markets, &r->cap_markets, r->n_markets + 1, sizeof(*g));

    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    r->markets = g;
    g += r->n_markets;
    memset(g, 0, sizeof(*g));
    g->event_id = m->event_id, g->kind = m->kind;
    for (size_t i = 0; i < m->n_sides; i++) {
        g->sides |= (uint8_t)(1u << m->sides[i]);
    }
    memcpy(g->body_hash, h->body_hash, 32);
    if (rmap_put(&r->market_ix, &k, (uint32_t)r->n_markets) != TALLY_OK) {
        return TALLY_ENOMEM;
    }
    r->n_markets++;
    return TALLY_OK;
}

static tally_status apply_miner(engine_rules *r, const schema_header *h, const schema_body *b)
{
    const rbind *bd = binding(r, h->actor);
    tally_status st = TALLY_OK;

    if (bd == NULL) {
        return TALLY_OK; /* a record the rules refused (replay reports it) changes no intake */
    }
    if (h->type == SCHEMA_ODDS_SUBMISSION) {
        const schema_odds *o = &b->u.odds;
        for (size_t k = 0; st == TALLY_OK && k < o->n_markets; k++) {
            st = intake_add(&r->odds, bd->hotkey, o->markets[k].market_id, h->time_ms,
                            o->markets[k].n_prices);
        }
        return st == TALLY_OK ? nonce_set(r, h->actor, o->nonce, o->idx) : st;
    }
    st = intake_add(&r->outs, bd->hotkey, b->u.outcome.event_id, h->time_ms, 1);
    return st == TALLY_OK ? nonce_set(r, h->actor, b->u.outcome.nonce, b->u.outcome.idx) : st;
}

static tally_status apply_body(engine_rules *r, uint64_t seq, const schema_header *h,
                               const schema_body *b)
{
    schema_param_error err;

    switch (h->type) {
    case SCHEMA_GENESIS:
        r->has_genesis = true;
        memcpy(r->node_key, h->actor, 32);
        r->netuid = b->u.genesis.netuid;
        r->chain_block = b->u.genesis.chain.block;
        schema_paramset_default(&r->ps);
        /* a list the check refused leaves the parameters as they were */
        if (schema_paramset_apply(&r->ps, b->u.genesis.params, b->u.genesis.n_params, &err) !=
            TALLY_OK) {
            return TALLY_OK;
        }
        return TALLY_OK;
    case SCHEMA_CONFIG_SET:
        if (schema_paramset_apply(&r->ps, b->u.config_set.params, b->u.config_set.n_params,
                                  &err) != TALLY_OK) {
            return TALLY_OK;
        }
        return TALLY_OK;
    case SCHEMA_CHAIN_PARAMS:
        r->chain_block = b->u.chain_params.block;
        return TALLY_OK;
    case SCHEMA_METAGRAPH:
        return apply_metagraph(r, &b->u.metagraph);
    case SCHEMA_EVENT:
        return apply_event(r, &b->u.event);
    case SCHEMA_MARKET:
        return market_of(r, b->u.market.market_id) ? TALLY_OK : apply_market(r, h, &b->u.market);
    case SCHEMA_CLOSE: {
        rkey k = key_id(b->u.snapshot.market_id);
        uint32_t i = rmap_get(&r->market_ix, &k);
        if (i != ID_NONE) {
            r->markets[i].has_close = true, r->markets[i].close_seq = seq;
        }
        return TALLY_OK;
    }
    case SCHEMA_ODDS_SUBMISSION:
        return apply_miner(r, h, b);
    case SCHEMA_OUTCOME:
        return b->u.outcome.source == 2 ? apply_miner(r, h, b) : TALLY_OK;
    case SCHEMA_RECOMPUTE:
        r->epoch++;
        for (size_t i = 0; i < b->u.recompute.n_affected_events; i++) {
            rkey k = key_id(b->u.recompute.affected_events[i]);
            uint32_t e = rmap_get(&r->event_ix, &k);
            if (e != ID_NONE) {
                r->events[e].has_recompute = true, r->events[e].recompute_seq = seq;
            }
        }
        return TALLY_OK;
    case SCHEMA_ATTESTATION: {
        const rbind *bd = binding(r, h->actor);
        rkey k;
        if (bd == NULL) {
            return TALLY_OK;
        }
        k = key_of(bd->hotkey, b->u.attestation.cycle);
        if (rmap_put(&r->attest_ix, &k, 1) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        return nonce_set(r, h->actor, b->u.attestation.nonce, 0);
    }
    case SCHEMA_SCORING_CYCLE:
        r->cycle = b->u.scoring_cycle.cycle;
        r->covers_to = b->u.scoring_cycle.covers_to;
        r->in_block = true;
        return TALLY_OK;
    case SCHEMA_STATE_HASH:
        r->in_block = false;
        return TALLY_OK;
    default:
        return TALLY_OK;
    }
}

tally_status engine_rules_apply(engine_rules *r, uint64_t seq, const schema_header *h,
                                const schema_body *b)
{
    tally_status st;

    if (seq != r->size || b == NULL || b->type != h->type) {
        return TALLY_EINVAL;
    }
    if (!is_derived(h->type) && h->type != SCHEMA_SCORING_CYCLE) {
        r->in_block = false;
    }
    st = apply_body(r, seq, h, b);
    if (st != TALLY_OK) {
        return st;
    }
    r->size = seq + 1;
    r->last_time = h->time_ms > r->last_time ? h->time_ms : r->last_time;
    /* once a day (by record time) the intake tables shed what no rule can reach any more */
    if (r->last_time / DAY_MS != r->prune_day) {
        r->prune_day = r->last_time / DAY_MS;
        st = intake_prune(&r->odds, r->last_time);
        if (st == TALLY_OK) {
            st = intake_prune(&r->outs, r->last_time);
        }
    }
    return st;
}

tally_status engine_rules_admit(engine_rules *r, uint64_t seq, const schema_header *h,
                                const schema_body *b, engine_verdict *v)
{
    tally_status st = engine_rules_check(r, seq, h, b, v);

    if (st != TALLY_OK || v->rule != ENGINE_RULE_OK) {
        return st;
    }
    return engine_rules_apply(r, seq, h, b);
}
