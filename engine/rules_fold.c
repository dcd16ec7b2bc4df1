/* The fold that keeps the acceptance rules' state (engine/rules_int.h), record by record, and
 * the reveal times of embargoed records (protocol §2.3) that follow from it. */
#include <stdlib.h>
#include <string.h>

#include "engine/rules_int.h"

/* ---- a map from (32 bytes, u64) to an index ---- */

static uint64_t rkey_hash(const rkey *k)
{
    uint64_t h = k->id * 0x9E3779B97F4A7C15ull, w;
    for (int i = 0; i < 32; i += 8) {
        memcpy(&w, k->k + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    }
    return h ^ (h >> 29);
}

uint32_t eng__rmap_get(const rmap *m, const rkey *k)
{
    if (m->cap == 0) {
        return RL_NONE;
    }
    for (size_t s = rkey_hash(k) & (m->cap - 1);; s = (s + 1) & (m->cap - 1)) {
        if (m->vals[s] == RL_NONE) {
            return RL_NONE;
        }
        if (m->keys[s].id == k->id && memcmp(m->keys[s].k, k->k, 32) == 0) {
            return m->vals[s];
        }
    }
}

void eng__rmap_free(rmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

tally_status eng__rmap_put(rmap *m, const rkey *k, uint32_t v)
{
    if (2 * (m->n + 1) > m->cap) {
        rmap g = {.cap = m->cap ? 2 * m->cap : 64};
        g.keys = malloc(g.cap * sizeof(*g.keys));
        g.vals = malloc(g.cap * sizeof(*g.vals));
        if (g.keys == NULL || g.vals == NULL) {
            eng__rmap_free(&g);
            return TALLY_ENOMEM;
        }
        for (size_t i = 0; i < g.cap; i++) {
            g.vals[i] = RL_NONE;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (m->vals[i] != RL_NONE) {
                tally_status st = eng__rmap_put(&g, &m->keys[i], m->vals[i]);
                TALLY_ASSERT(st == TALLY_OK); /* g has room for every entry */
            }
        }
        eng__rmap_free(m);
        *m = g;
    }
    for (size_t s = rkey_hash(k) & (m->cap - 1);; s = (s + 1) & (m->cap - 1)) {
        if (m->vals[s] == RL_NONE) {
            m->keys[s] = *k, m->vals[s] = v, m->n++;
            return TALLY_OK;
        }
        if (m->keys[s].id == k->id && memcmp(m->keys[s].k, k->k, 32) == 0) {
            m->vals[s] = v;
            return TALLY_OK;
        }
    }
}

rkey eng__key_id(uint64_t id)
{
    rkey k;
    memset(k.k, 0, 32);
    k.id = id;
    return k;
}

rkey eng__key_of(const uint8_t b[32], uint64_t id)
{
    rkey k;
    memcpy(k.k, b, 32);
    k.id = id;
    return k;
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
    eng__rmap_free(&t->ix);
    memset(t, 0, sizeof(*t));
}

void engine_rules_free(engine_rules *r)
{
    if (r == NULL) {
        return;
    }
    free(r->bind);
    free(r->pend);
    eng__rmap_free(&r->event_ix);
    eng__rmap_free(&r->market_ix);
    for (size_t i = 0; i < r->n_events; i++) {
        free(r->events[i].hist);
    }
    free(r->events);
    free(r->pend_rec);
    free(r->pv);
    free(r->pv_from);
    table_free(&r->late);
    free(r->markets);
    table_free(&r->odds);
    table_free(&r->outs);
    eng__rmap_free(&r->nonce_ix);
    free(r->nonces);
    eng__rmap_free(&r->attest_ix);
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

/* ---- the fold ---- */

tally_status eng__intake_add(rtable *t, const uint8_t hotkey[32], uint64_t id, uint64_t time,
                               uint64_t count)
{
    rkey k = eng__key_of(hotkey, id);
    uint32_t i = eng__rmap_get(&t->ix, &k);
    rintake *in;
    size_t keep = 0;

    if (i == RL_NONE) {
        rintake *g = eng__grow(t->v, &t->cap, t->n + 1, sizeof(*g));
        if (g == NULL) {
            return TALLY_ENOMEM;
        }
        t->v = g;
        i = (uint32_t)t->n;
        memset(&g[i], 0, sizeof(g[i]));
        g[i].key = k;
        if (eng__rmap_put(&t->ix, &k, i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        t->n++;
    }
    in = &t->v[i];
    /* times never decrease, so what fell out of the 24 h window is a prefix */
    while (keep < in->n && in->hits[keep].t + RL_DAY_MS <= time) {
        keep++;
    }
    if (keep > 0) {
        memmove(in->hits, in->hits + keep, (in->n - keep) * sizeof(*in->hits));
        in->n -= keep;
    }
    rhit *g = eng__grow(in->hits, &in->cap, in->n + 1, sizeof(*g));
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
        n += t->v[i].last_t + RL_DAY_MS > now;
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
        if (t->v[i].last_t + RL_DAY_MS > now) {
            if (eng__rmap_put(&keep.ix, &t->v[i].key, (uint32_t)keep.n) != TALLY_OK) {
                free(keep.v);
                eng__rmap_free(&keep.ix);
                return TALLY_ENOMEM;
            }
            keep.v[keep.n++] = t->v[i];
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].last_t + RL_DAY_MS <= now) {
            free(t->v[i].hits);
        }
    }
    free(t->v);
    eng__rmap_free(&t->ix);
    *t = keep;
    return TALLY_OK;
}

tally_status eng__nonce_set(engine_rules *r, const uint8_t key[32], uint64_t nonce, uint64_t idx)
{
    rkey k = eng__key_of(key, 0);
    uint32_t i = eng__rmap_get(&r->nonce_ix, &k);

    if (i == RL_NONE) {
        rnonce *g = eng__grow(r->nonces, &r->cap_nonces, r->n_nonces + 1, sizeof(*g));
        if (g == NULL) {
            return TALLY_ENOMEM;
        }
        r->nonces = g;
        i = (uint32_t)r->n_nonces;
        if (eng__rmap_put(&r->nonce_ix, &k, i) != TALLY_OK) {
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
        rbind *g = eng__grow(r->pend, &r->cap_pend, r->n_pend + 1, sizeof(*g));
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
    qsort(b, r->n_pend, sizeof(*b), eng__by_bind_key);
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

static tally_status apply_event(engine_rules *r, uint64_t seq, const schema_header *h,
                               const schema_event *ev)
{
    rkey k = eng__key_id(ev->event_id);
    uint32_t i = eng__rmap_get(&r->event_ix, &k);

    if (i == RL_NONE) {
        revent *g = eng__grow(r->events, &r->cap_events, r->n_events + 1, sizeof(*g));
        if (g == NULL) {
            return TALLY_ENOMEM;
        }
        r->events = g;
        i = (uint32_t)r->n_events;
        memset(&g[i], 0, sizeof(g[i]));
        g[i].id = ev->event_id;
        if (eng__rmap_put(&r->event_ix, &k, i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        r->n_events++;
    }
    revent *x = &r->events[i];
    rhist *g = eng__grow(x->hist, &x->cap_hist, x->n_hist + 1, sizeof(*g));
    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    x->hist = g;
    g[x->n_hist++] = (rhist){seq, h->time_ms, ev->start_ms, ev->status == SCHEMA_VOID};
    x->start_ms = ev->start_ms;
    x->status = ev->status;
    return TALLY_OK;
}

static tally_status apply_market(engine_rules *r, uint64_t seq, const schema_header *h,
                                const schema_market *m)
{
    rkey k = eng__key_id(m->market_id);
    rmarket *g = eng__grow(r->markets, &r->cap_markets, r->n_markets + 1, sizeof(*g));

    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    r->markets = g;
    g += r->n_markets;
    memset(g, 0, sizeof(*g));
    g->id = m->market_id, g->event_id = m->event_id, g->kind = m->kind;
    for (size_t i = 0; i < m->n_sides; i++) {
        g->sides |= (uint8_t)(1u << m->sides[i]);
    }
    memcpy(g->body_hash, h->body_hash, 32);
    g->created_seq = seq;
    if (eng__rmap_put(&r->market_ix, &k, (uint32_t)r->n_markets) != TALLY_OK) {
        return TALLY_ENOMEM;
    }
    r->n_markets++;
    return TALLY_OK;
}

static tally_status apply_miner(engine_rules *r, const schema_header *h, const schema_body *b)
{
    const rbind *bd = eng__binding(r, h->actor);
    tally_status st = TALLY_OK;

    if (bd == NULL) {
        return TALLY_OK; /* a record the rules refused (replay reports it) changes no intake */
    }
    if (h->type == SCHEMA_ODDS_SUBMISSION) {
        const schema_odds *o = &b->u.odds;
        for (size_t k = 0; st == TALLY_OK && k < o->n_markets; k++) {
            st = eng__intake_add(&r->odds, bd->hotkey, o->markets[k].market_id, h->time_ms,
                            o->markets[k].n_prices);
        }
        return st == TALLY_OK ? eng__nonce_set(r, h->actor, o->nonce, o->idx) : st;
    }
    st = eng__intake_add(&r->outs, bd->hotkey, b->u.outcome.event_id, h->time_ms, 1);
    return st == TALLY_OK ? eng__nonce_set(r, h->actor, b->u.outcome.nonce, b->u.outcome.idx) : st;
}

/* The parameters as they now are become a version, in effect for the records after seq
 * (a CONFIG_SET applies to records after it, §2.6). */
static tally_status push_version(engine_rules *r, uint64_t seq)
{
    size_t cap = r->cap_pv;
    schema_paramset *g = eng__grow(r->pv, &cap, r->n_pv + 1, sizeof(*g));
    uint64_t *f;

    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    r->pv = g;
    cap = r->cap_pv;
    f = eng__grow(r->pv_from, &cap, r->n_pv + 1, sizeof(*f));
    if (f == NULL) {
        return TALLY_ENOMEM;
    }
    r->pv_from = f, r->cap_pv = cap;
    g[r->n_pv] = r->ps, f[r->n_pv] = seq + 1;
    r->n_pv++;
    return TALLY_OK;
}

const schema_paramset *eng__params_at(const engine_rules *r, uint64_t seq)
{
    size_t lo = 0, hi = r->n_pv;

    /* the last version whose first record is at or before seq */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->pv_from[mid] <= seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? &r->ps : &r->pv[lo - 1];
}

tally_status engine_rules_reveal_at(const engine_rules *r, uint64_t seq, const schema_header *h,
                                    uint64_t *out)
{
    const revent *ev;
    uint64_t window = 0, at = UINT64_MAX;
    size_t i = 0;

    *out = UINT64_MAX;
    if (h->tier != SCHEMA_EMBARGOED || !h->has_event_id) {
        return TALLY_EINVAL;
    }
    if (h->type == SCHEMA_OUTCOME) {
        window = (uint64_t)eng__params_at(r, seq)->v[SCHEMA_P_OUTCOME_WINDOW_HOURS] * 3600000ull;
    }
    ev = eng__event_of(r, h->event_id);
    if (ev == NULL) {
        return TALLY_ENOTFOUND;
    }
    /* from the latest EVENT before the record; later ones only while the reveal is ahead, a
     * void one revealing from its own time (§2.3) */
    for (; i < ev->n_hist && ev->hist[i].seq < seq; i++) {
        at = ev->hist[i].voids ? ev->hist[i].time : ev->hist[i].start + window;
    }
    for (; i < ev->n_hist; i++) {
        if (ev->hist[i].time < at) {
            at = ev->hist[i].voids ? ev->hist[i].time : ev->hist[i].start + window;
        }
    }
    *out = at;
    return TALLY_OK;
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
        if (schema_paramset_apply(&r->ps, b->u.genesis.params, b->u.genesis.n_params, &err) !=
            TALLY_OK) {
            schema_paramset_default(&r->ps); /* a list the check refused changes nothing */
        }
        return push_version(r, seq); /* GENESIS starts the versions either way */
    case SCHEMA_CONFIG_SET:
        /* only a list the rules admitted is folded; one that fails changes nothing */
        return schema_paramset_apply(&r->ps, b->u.config_set.params, b->u.config_set.n_params,
                                     &err) == TALLY_OK
                   ? push_version(r, seq)
                   : TALLY_OK;
    case SCHEMA_CHAIN_PARAMS:
        r->chain_block = b->u.chain_params.block;
        return TALLY_OK;
    case SCHEMA_METAGRAPH:
        return apply_metagraph(r, &b->u.metagraph);
    case SCHEMA_EVENT:
        return apply_event(r, seq, h, &b->u.event);
    case SCHEMA_MARKET:
        return eng__market_of(r, b->u.market.market_id) ? TALLY_OK : apply_market(r, seq, h, &b->u.market);
    case SCHEMA_CLOSE: {
        rkey k = eng__key_id(b->u.snapshot.market_id);
        uint32_t i = eng__rmap_get(&r->market_ix, &k);
        if (i != RL_NONE) {
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
            rkey k = eng__key_id(b->u.recompute.affected_events[i]);
            uint32_t e = eng__rmap_get(&r->event_ix, &k);
            if (e != RL_NONE) {
                r->events[e].has_recompute = true, r->events[e].recompute_seq = seq;
            }
        }
        return TALLY_OK;
    case SCHEMA_ATTESTATION: {
        const rbind *bd = eng__binding(r, h->actor);
        rkey k;
        if (bd == NULL) {
            return TALLY_OK;
        }
        k = eng__key_of(bd->hotkey, b->u.attestation.cycle);
        if (eng__rmap_put(&r->attest_ix, &k, 1) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        return eng__nonce_set(r, h->actor, b->u.attestation.nonce, 0);
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

/* A record folded from its header alone (a body the reader does not have yet). A miner's
 * outcome counts for O5 and O6 by hotkey, event and time, all in the header. An embargoed record
 * waits in the pending list for its reveal, when engine_rules_reveal() judges its body. */
static tally_status apply_header(engine_rules *r, uint64_t seq, const schema_header *h)
{
    const rbind *bd = eng__binding(r, h->actor);

    if (h->tier != SCHEMA_EMBARGOED) {
        return TALLY_OK;
    }
    if (h->type == SCHEMA_OUTCOME && bd != NULL) {
        tally_status st = eng__intake_add(&r->outs, bd->hotkey, h->event_id, h->time_ms, 1);
        if (st != TALLY_OK) {
            return st;
        }
    }
    return eng__pending_add(r, seq, h, bd);
}

tally_status eng__pending_add(engine_rules *r, uint64_t seq, const schema_header *h,
                              const rbind *bd)
{
    rpending *g = eng__grow(r->pend_rec, &r->cap_pend_rec, r->n_pend_rec + 1, sizeof(*g));

    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    r->pend_rec = g;
    g += r->n_pend_rec++;
    memset(g, 0, sizeof(*g));
    g->seq = seq, g->h = *h, g->has_hotkey = bd != NULL;
    if (bd != NULL) {
        memcpy(g->hotkey, bd->hotkey, 32);
    }
    return TALLY_OK;
}

rpending *eng__pending(const engine_rules *r, uint64_t seq)
{
    size_t lo = 0, hi = r->n_pend_rec;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->pend_rec[mid].seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < r->n_pend_rec && r->pend_rec[lo].seq == seq && !r->pend_rec[lo].done
               ? &r->pend_rec[lo]
               : NULL;
}

tally_status eng__late_add(engine_rules *r, const rpending *pr, const schema_odds *o)
{
    tally_status st = TALLY_OK;

    for (size_t k = 0; st == TALLY_OK && pr->has_hotkey && k < o->n_markets; k++) {
        st = eng__intake_add(&r->late, pr->hotkey, o->markets[k].market_id, pr->h.time_ms,
                        o->markets[k].n_prices);
    }
    return st;
}

void eng__pending_done(engine_rules *r, rpending *pr)
{
    size_t k = 0;

    pr->done = true;
    /* compact once half the list is done: amortised O(1) per record */
    if (++r->n_pend_done * 2 < r->n_pend_rec) {
        return;
    }
    for (size_t i = 0; i < r->n_pend_rec; i++) {
        if (!r->pend_rec[i].done) {
            r->pend_rec[k++] = r->pend_rec[i];
        }
    }
    r->n_pend_rec = k, r->n_pend_done = 0;
}

tally_status engine_rules_due(const engine_rules *r, uint64_t cut, uint64_t **seqs_out,
                              size_t *n_out)
{
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;

    *seqs_out = NULL, *n_out = 0;
    for (size_t i = 0; i < r->n_pend_rec; i++) {
        uint64_t at;
        const rpending *pr = &r->pend_rec[i];
        if (pr->done || engine_rules_reveal_at(r, pr->seq, &pr->h, &at) != TALLY_OK || at > cut) {
            continue;
        }
        uint64_t *g = eng__grow(v, &cap, n + 1, sizeof(*g));
        if (g == NULL) {
            free(v);
            return TALLY_ENOMEM;
        }
        v = g;
        v[n++] = pr->seq;
    }
    *seqs_out = v, *n_out = n;
    return TALLY_OK;
}

size_t engine_rules_pending(const engine_rules *r)
{
    return r->n_pend_rec - r->n_pend_done;
}

static bool is_derived(uint64_t type)
{
    return type >= SCHEMA_SUBMISSION_SCORE;
}

tally_status engine_rules_apply(engine_rules *r, uint64_t seq, const schema_header *h,
                                const schema_body *b)
{
    tally_status st;

    if (seq != r->size || (b != NULL && b->type != h->type) ||
        (b == NULL && h->tier != SCHEMA_EMBARGOED && h->tier != SCHEMA_PRIVATE)) {
        return TALLY_EINVAL;
    }
    if (!is_derived(h->type) && h->type != SCHEMA_SCORING_CYCLE) {
        r->in_block = false;
    }
    st = b != NULL ? apply_body(r, seq, h, b) : apply_header(r, seq, h);
    if (st != TALLY_OK) {
        return st;
    }
    r->size = seq + 1;
    r->last_time = h->time_ms > r->last_time ? h->time_ms : r->last_time;
    /* once a day (by record time) the intake tables shed what no rule can reach any more */
    if (r->last_time / RL_DAY_MS != r->prune_day) {
        r->prune_day = r->last_time / RL_DAY_MS;
        st = intake_prune(&r->odds, r->last_time);
        if (st == TALLY_OK) {
            st = intake_prune(&r->outs, r->last_time);
        }
        /* bodies judged at their reveal lag their records by the odds window (≤ 30 days)
         * plus postponements; an entry dropped early can only let a violation pass */
        if (st == TALLY_OK && r->last_time > 30 * RL_DAY_MS) {
            st = intake_prune(&r->late, r->last_time - 30 * RL_DAY_MS);
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
