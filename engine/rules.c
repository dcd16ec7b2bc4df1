/* The acceptance rules (protocol §2.4–§2.5 record rules, §5.4 S1–S9 and O1–O6, the write-nonce
 * order of §4, the parameter table of §2.6) as one pure check over the projected ledger state,
 * and the fold that keeps that state. The node's writer, `tally append`, the simulator and
 * every replay call exactly these functions, so they cannot disagree on what a log may hold.
 *
 * The state (engine/rules_int.h) is kept by rules_fold.c, record by record; nothing here scans
 * the log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rules_int.h"

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

tally_status engine_rule_status(engine_rule rule)
{
    switch (rule) {
    case ENGINE_RULE_OK:
        return TALLY_OK;
    case ENGINE_RULE_GENESIS:
    case ENGINE_RULE_MARKET_CONFLICT:
    case ENGINE_RULE_MARKET_DUPLICATE:
    case ENGINE_RULE_ATTESTATION_DUPLICATE:
        return TALLY_ECONFLICT;
    case ENGINE_RULE_AUTHOR:
    case ENGINE_RULE_KEY_NOT_REGISTERED:
    case ENGINE_RULE_NOT_ELIGIBLE:
        return TALLY_EAUTH;
    default:
        return TALLY_EINVAL;
    }
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

int eng__by_bind_key(const void *a, const void *b)
{
    return memcmp(((const rbind *)a)->key, ((const rbind *)b)->key, 32);
}

const rbind *eng__binding(const engine_rules *r, const uint8_t key[32])
{
    rbind probe;
    const rbind *hit;

    if (r->n_bind == 0) {
        return NULL; /* r->bind may be NULL, which bsearch() must not get even for 0 items */
    }
    memcpy(probe.key, key, 32);
    hit = bsearch(&probe, r->bind, r->n_bind, sizeof(probe), eng__by_bind_key);
    return hit != NULL && !hit->dup ? hit : NULL;
}

bool engine_rules_binding(const engine_rules *r, const uint8_t key[32], engine_binding *out)
{
    const rbind *b = eng__binding(r, key);

    memset(out, 0, sizeof(*out));
    if (b == NULL) {
        return false;
    }
    *out = (engine_binding){.uid = b->uid, .stake_rao = b->stake, .permit = b->permit};
    memcpy(out->hotkey, b->hotkey, 32);
    return true;
}

bool engine_rules_metagraph(const engine_rules *r, uint64_t *block_out)
{
    *block_out = r->has_mg ? r->mg_block : 0;
    return r->has_mg;
}

void engine_rules_cycles(const engine_rules *r, uint64_t *cycle_out, uint64_t *epoch_out)
{
    *cycle_out = r->cycle, *epoch_out = r->epoch;
}

bool engine_rules_node_key(const engine_rules *r, uint8_t out[32])
{
    memcpy(out, r->node_key, 32);
    return r->has_genesis;
}

const revent *eng__event_of(const engine_rules *r, uint64_t id)
{
    rkey k = eng__key_id(id);
    uint32_t i = eng__rmap_get(&r->event_ix, &k);
    return i == RL_NONE ? NULL : &r->events[i];
}

const rmarket *eng__market_of(const engine_rules *r, uint64_t id)
{
    rkey k = eng__key_id(id);
    uint32_t i = eng__rmap_get(&r->market_ix, &k);
    return i == RL_NONE ? NULL : &r->markets[i];
}

static const rintake *intake_of(const rtable *t, const uint8_t hotkey[32], uint64_t id)
{
    rkey k = eng__key_of(hotkey, id);
    uint32_t i = eng__rmap_get(&t->ix, &k);
    return i == RL_NONE ? NULL : &t->v[i];
}

/* Prices (or outcomes) counted in the trailing 24 h (T − 24 h, T]. */
static uint64_t count_24h(const rintake *in, uint64_t t)
{
    uint64_t n = 0;
    for (size_t i = 0; in != NULL && i < in->n; i++) {
        if (in->hits[i].t + RL_DAY_MS > t) {
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
    rkey k = eng__key_of(key, 0);
    uint32_t i = eng__rmap_get(&r->nonce_ix, &k);
    const rnonce *last = i == RL_NONE ? NULL : &r->nonces[i];

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

/* §5.4 stateless bounds that the parameters set, in the order of protocol §14.2: every odds and
 * probability bound of the body first (invalid_field), then their agreement (price_inconsistent),
 * so a body with both faults reports the bound wherever the two sit. */
engine_rule engine_prices_check(const schema_paramset *ps, const schema_odds *o, engine_verdict *v)
{
    for (size_t k = 0; k < o->n_markets; k++) {
        const schema_entry *en = &o->markets[k];
        for (size_t j = 0; j < en->n_prices; j++) {
            const schema_price *pr = &en->prices[j];
            if ((int64_t)pr->odds_n < ps->v[SCHEMA_P_SEC_ODDS_MIN] ||
                pr->odds_n > (uint64_t)ps->v[SCHEMA_P_SEC_ODDS_MAX]) {
                snprintf(v->field, sizeof(v->field), "markets[%zu].prices[%zu].odds_n", k, j);
                return fail(v, ENGINE_RULE_INVALID_FIELD, en->market_id,
                            "field odds_n: %llu is outside security.odds_min..odds_max",
                            (unsigned long long)pr->odds_n);
            }
            if ((int64_t)pr->imp_prob_n < ps->v[SCHEMA_P_SEC_PROB_MIN] ||
                pr->imp_prob_n > (uint64_t)ps->v[SCHEMA_P_SEC_PROB_MAX]) {
                snprintf(v->field, sizeof(v->field), "markets[%zu].prices[%zu].imp_prob_n", k, j);
                return fail(v, ENGINE_RULE_INVALID_FIELD, en->market_id,
                            "field imp_prob_n: %llu is outside security.prob_min..prob_max",
                            (unsigned long long)pr->imp_prob_n);
            }
        }
    }
    for (size_t k = 0; k < o->n_markets; k++) {
        const schema_entry *en = &o->markets[k];
        for (size_t j = 0; j < en->n_prices; j++) {
            const schema_price *pr = &en->prices[j];
            uint64_t implied = pr->odds_n ? 1000000000000000000ull / pr->odds_n : 0;
            uint64_t diff = implied > pr->imp_prob_n ? implied - pr->imp_prob_n
                                                     : pr->imp_prob_n - implied;
            if (diff > (uint64_t)ps->v[SCHEMA_P_PROB_TOLERANCE]) {
                snprintf(v->field, sizeof(v->field), "markets[%zu].prices[%zu].imp_prob_n", k, j);
                return fail(v, ENGINE_RULE_PRICE_INCONSISTENT, en->market_id,
                            "imp_prob_n %llu differs from 1/odds (%llu) by more than "
                            "ingest.prob_tolerance",
                            (unsigned long long)pr->imp_prob_n, (unsigned long long)implied);
            }
        }
    }
    return ENGINE_RULE_OK;
}

/* S2, S5 and S6: what the header alone (event, time) decides. */
static engine_rule odds_event(const engine_rules *r, engine_verdict *v, uint64_t event_id,
                              uint64_t t)
{
    const revent *ev = eng__event_of(r, event_id);

    if (ev == NULL) {
        return fail(v, ENGINE_RULE_UNKNOWN_EVENT, 0, "event %llu does not exist",
                    (unsigned long long)event_id);
    }
    if (ev->status != SCHEMA_SCHEDULED || ev->start_ms < t) {
        return fail(v, ENGINE_RULE_MARKET_CLOSED, 0,
                    "event %llu %s (status %llu, start %llu, time %llu)",
                    (unsigned long long)event_id,
                    ev->status != SCHEMA_SCHEDULED ? "is not scheduled" : "has started",
                    (unsigned long long)ev->status, (unsigned long long)ev->start_ms,
                    (unsigned long long)t);
    }
    if (ev->start_ms > t + (uint64_t)r->ps.v[SCHEMA_P_ODDS_WINDOW_DAYS] * RL_DAY_MS) {
        return fail(v, ENGINE_RULE_MARKET_NOT_OPEN, 0,
                    "event %llu starts at %llu, beyond ingest.odds_window_days from %llu",
                    (unsigned long long)event_id, (unsigned long long)ev->start_ms,
                    (unsigned long long)t);
    }
    return ENGINE_RULE_OK;
}

/* S3 and S4 for every entry: markets that exist before the record (seq) and fit it. */
static engine_rule odds_markets(const engine_rules *r, engine_verdict *v, const schema_odds *o,
                                uint64_t seq)
{
    for (size_t k = 0; k < o->n_markets; k++) {
        const schema_entry *en = &o->markets[k];
        const rmarket *m = eng__market_of(r, en->market_id);
        if (m == NULL || m->created_seq >= seq) {
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
    return ENGINE_RULE_OK;
}

/* S7, S8 and S9 for every entry, against the intake table t of this hotkey. */
static engine_rule odds_intake(const schema_paramset *ps, engine_verdict *v, const rtable *tab,
                               const uint8_t hotkey[32], const schema_odds *o, uint64_t t)
{
    uint64_t bucket = (uint64_t)ps->v[SCHEMA_P_ODDS_BUCKET_SECONDS] * 1000;
    uint64_t cap = (uint64_t)ps->v[SCHEMA_P_MAX_SUBMISSIONS_PER_MARKET_DAY];
    uint64_t tol = (uint64_t)ps->v[SCHEMA_P_PRICED_AT_TOLERANCE_SEC] * 1000;

    for (size_t k = 0; k < o->n_markets; k++) {
        const schema_entry *en = &o->markets[k];
        const rintake *in = intake_of(tab, hotkey, en->market_id);
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

static engine_rule check_odds(const engine_rules *r, engine_verdict *v, uint64_t seq,
                              const schema_header *h, const schema_odds *o, const rbind *b)
{
    if (engine_prices_check(&r->ps, o, v) != ENGINE_RULE_OK) {
        return v->rule;
    }
    if (check_nonce(r, v, h->actor, o->nonce, o->idx) != ENGINE_RULE_OK ||
        odds_event(r, v, o->event_id, h->time_ms) != ENGINE_RULE_OK ||
        odds_markets(r, v, o, seq) != ENGINE_RULE_OK) {
        return v->rule;
    }
    return odds_intake(&r->ps, v, &r->odds, b->hotkey, o, h->time_ms);
}

/* O1–O6: all decided by the header (event, time, hotkey); the nonce needs the body. */
static engine_rule outcome_rules(const engine_rules *r, engine_verdict *v, uint64_t event_id,
                                 uint64_t t, const rbind *b)
{
    uint64_t bucket = (uint64_t)P(r, SCHEMA_P_OUTCOME_BUCKET_SECONDS) * 1000;
    uint64_t cap = (uint64_t)P(r, SCHEMA_P_MAX_OUTCOMES_PER_EVENT_DAY);
    uint64_t window = (uint64_t)P(r, SCHEMA_P_OUTCOME_WINDOW_HOURS) * 3600000ull;
    const revent *ev = eng__event_of(r, event_id);
    const rintake *in = intake_of(&r->outs, b->hotkey, event_id);

    if (ev == NULL) {
        return fail(v, ENGINE_RULE_UNKNOWN_EVENT, 0, "event %llu does not exist",
                    (unsigned long long)event_id);
    }
    if (ev->status != SCHEMA_SCHEDULED && ev->status != SCHEMA_IN_PLAY &&
        ev->status != SCHEMA_FINISHED) {
        return fail(v, ENGINE_RULE_EVENT_INELIGIBLE, 0, "event %llu has status %llu",
                    (unsigned long long)event_id, (unsigned long long)ev->status);
    }
    if (t < ev->start_ms) {
        return fail(v, ENGINE_RULE_EVENT_NOT_STARTED, 0, "event %llu starts at %llu, after %llu",
                    (unsigned long long)event_id, (unsigned long long)ev->start_ms,
                    (unsigned long long)t);
    }
    if (t > ev->start_ms + window) {
        return fail(v, ENGINE_RULE_OUTCOME_WINDOW_CLOSED, 0,
                    "the outcome window of event %llu closed at %llu",
                    (unsigned long long)event_id, (unsigned long long)(ev->start_ms + window));
    }
    if (count_24h(in, t) >= cap) {
        return fail(v, ENGINE_RULE_EVENT_DAILY_CAP, 0,
                    "%llu outcomes for event %llu by this hotkey in the last 24 h (cap %llu)",
                    (unsigned long long)count_24h(in, t), (unsigned long long)event_id,
                    (unsigned long long)cap);
    }
    if (same_bucket(in, t, bucket)) {
        return fail(v, ENGINE_RULE_DUPLICATE_IN_BUCKET, 0,
                    "an outcome for event %llu by this hotkey is already in bucket %llu",
                    (unsigned long long)event_id, (unsigned long long)(t / bucket));
    }
    return ENGINE_RULE_OK;
}

static engine_rule check_attestation(const engine_rules *r, engine_verdict *v,
                                     const schema_header *h, const schema_attestation *a,
                                     uint64_t seq)
{
    const rbind *b = eng__binding(r, h->actor);
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
    /* §6.6: the cycle's STATE_HASH is in the log (a cycle ≤ the latest whose block is closed:
     * no record but a derived one stands inside a block) and state_seq < tree_size ≤ the size at
     * the attestation. The rules keep no per-cycle seqs, so for the latest cycle they check the
     * bound its covers_to implies (state_seq ≥ covers_to + 1); the exact bound is the node's
     * door check and ledger_finality's, where an attestation below it never counts. */
    if (a->cycle < 1 || a->cycle > r->cycle || a->tree_size < 1 || a->tree_size > seq ||
        (a->cycle == r->cycle && a->tree_size <= r->covers_to + 1)) {
        return fail(v, ENGINE_RULE_ATTESTATION_INVALID, 0,
                    "cycle %llu (latest %llu) or tree size %llu (log size %llu) out of range",
                    (unsigned long long)a->cycle, (unsigned long long)r->cycle,
                    (unsigned long long)a->tree_size, (unsigned long long)seq);
    }
    k = eng__key_of(b->hotkey, a->cycle);
    if (eng__rmap_get(&r->attest_ix, &k) != RL_NONE) {
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
    const rmarket *m = eng__market_of(r, s->market_id);
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
    ev = eng__event_of(r, m->event_id);
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
        return fail(v, ENGINE_RULE_TIME_ORDER, 0,
                    "time_ms %llu is below the previous record's time %llu",
                    (unsigned long long)h->time_ms, (unsigned long long)r->last_time);
    }
    /* the same author rule the writer and verify apply, against the GENESIS actor */
    if (seq > 0 && schema_author_check(r->node_key, h) != TALLY_OK) {
        return is_node_type(h)
                   ? fail(v, ENGINE_RULE_AUTHOR, 0, "%s must be signed by the node key of GENESIS",
                          tname(h->type))
                   : fail(v, ENGINE_RULE_AUTHOR, 0, "the node key cannot author %s",
                          tname(h->type));
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
        const rmarket *m = eng__market_of(r, b->u.market.market_id);
        if (m != NULL) {
            bool same = memcmp(m->body_hash, h->body_hash, 32) == 0;
            return fail(v, same ? ENGINE_RULE_MARKET_DUPLICATE : ENGINE_RULE_MARKET_CONFLICT,
                        b->u.market.market_id, "market %llu exists %s",
                        (unsigned long long)b->u.market.market_id,
                        same ? "with identical bytes" : "with different bytes");
        }
        return eng__event_of(r, b->u.market.event_id) != NULL
                   ? ENGINE_RULE_OK
                   : fail(v, ENGINE_RULE_UNKNOWN_EVENT, b->u.market.market_id,
                          "event %llu does not exist", (unsigned long long)b->u.market.event_id);
    }
    case SCHEMA_PROVIDER_QUOTE: {
        const rmarket *m = eng__market_of(r, b->u.provider_quote.market_id);
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
            return eng__event_of(r, b->u.outcome.event_id) != NULL
                       ? ENGINE_RULE_OK
                       : fail(v, ENGINE_RULE_UNKNOWN_EVENT, 0, "event %llu does not exist",
                              (unsigned long long)b->u.outcome.event_id);
        }
        bd = eng__binding(r, h->actor);
        if (bd == NULL) {
            return fail(v, ENGINE_RULE_KEY_NOT_REGISTERED, 0,
                        "the key is not bound in the effective METAGRAPH%s",
                        r->has_mg ? "" : " (there is none yet)");
        }
        if (h->type == SCHEMA_ODDS_SUBMISSION) {
            return check_odds(r, v, seq, h, &b->u.odds, bd);
        }
        if (check_nonce(r, v, h->actor, b->u.outcome.nonce, b->u.outcome.idx) != ENGINE_RULE_OK) {
            return v->rule;
        }
        return outcome_rules(r, v, b->u.outcome.event_id, h->time_ms, bd);
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
            c->as_of_ms != h->time_ms - h->time_ms % RL_DAY_MS || c->covers_to < r->covers_to ||
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

/* An embargoed or private record judged from its header alone: S1, S2, S5 and S6 of odds, S1
 * and O1–O6 of a miner's outcome; the rest waits for the body (engine_rules_reveal). */
static engine_rule check_withheld(const engine_rules *r, engine_verdict *v, const schema_header *h)
{
    const rbind *bd;

    if (h->tier == SCHEMA_PRIVATE) {
        return ENGINE_RULE_OK; /* a node record (authorship checked): its body is never served */
    }
    bd = eng__binding(r, h->actor);
    if (bd == NULL) {
        return fail(v, ENGINE_RULE_KEY_NOT_REGISTERED, 0,
                    "the key is not bound in the effective METAGRAPH%s",
                    r->has_mg ? "" : " (there is none yet)");
    }
    return h->type == SCHEMA_ODDS_SUBMISSION ? odds_event(r, v, h->event_id, h->time_ms)
                                             : outcome_rules(r, v, h->event_id, h->time_ms, bd);
}

tally_status engine_rules_check(const engine_rules *r, uint64_t seq, const schema_header *h,
                                const schema_body *b, engine_verdict *v)
{
    memset(v, 0, sizeof(*v));
    if (seq != r->size || (b != NULL && b->type != h->type) ||
        (b == NULL && h->tier != SCHEMA_EMBARGOED && h->tier != SCHEMA_PRIVATE)) {
        return TALLY_EINVAL;
    }
    if (check_header(r, v, seq, h) == ENGINE_RULE_OK) {
        (void)(b != NULL ? check_body(r, v, seq, h, b) : check_withheld(r, v, h));
    }
    return TALLY_OK;
}

tally_status engine_rules_reveal(engine_rules *r, uint64_t seq, const schema_body *b,
                                 engine_verdict *v)
{
    rpending *pr = eng__pending(r, seq);
    const schema_paramset *ps;
    tally_status st = TALLY_OK;

    memset(v, 0, sizeof(*v));
    if (pr == NULL || b == NULL || b->type != pr->h.type) {
        return TALLY_EINVAL;
    }
    /* the rules the header could not decide, with the parameters in effect at the record */
    ps = eng__params_at(r, seq);
    if (b->type == SCHEMA_ODDS_SUBMISSION && pr->has_hotkey) {
        const schema_odds *o = &b->u.odds;
        (void)engine_prices_check(ps, o, v);
        if (v->rule == ENGINE_RULE_OK && odds_markets(r, v, o, seq) == ENGINE_RULE_OK) {
            (void)odds_intake(ps, v, &r->late, pr->hotkey, o, pr->h.time_ms);
        }
        if (v->rule == ENGINE_RULE_OK) {
            st = eng__late_add(r, pr, o);
        }
    }
    eng__pending_done(r, pr);
    return st;
}

