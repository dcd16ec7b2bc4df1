/* The fold over input records (scoring §2): identities, events, markets with their closes and
 * snapshots, results, and submissions as rows. Only the record's own fields and the records
 * before it are read; time comes from headers. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

void *eng__grow(void *p, size_t *cap, size_t need, size_t elem)
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

/* ---- map ---- */

static size_t map_slot(uint64_t key, size_t cap)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

tally_status eng__map_put(eng_map *m, uint64_t key, uint32_t val)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        uint64_t *k = malloc(cap * sizeof(*k));
        uint32_t *v = malloc(cap * sizeof(*v));
        if (k == NULL || v == NULL) {
            free(k);
            free(v);
            return TALLY_ENOMEM;
        }
        for (size_t i = 0; i < cap; i++) {
            v[i] = ENG_NONE;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (m->vals[i] != ENG_NONE) {
                size_t s = map_slot(m->keys[i], cap);
                while (v[s] != ENG_NONE) {
                    s = (s + 1) & (cap - 1);
                }
                k[s] = m->keys[i], v[s] = m->vals[i];
            }
        }
        free(m->keys);
        free(m->vals);
        m->keys = k, m->vals = v, m->cap = cap;
    }
    for (size_t s = map_slot(key, m->cap);; s = (s + 1) & (m->cap - 1)) {
        if (m->vals[s] == ENG_NONE) {
            m->keys[s] = key, m->vals[s] = val, m->n++;
            return TALLY_OK;
        }
        if (m->keys[s] == key) {
            m->vals[s] = val;
            return TALLY_OK;
        }
    }
}

uint32_t eng__map_get(const eng_map *m, uint64_t key)
{
    if (m->cap == 0) {
        return ENG_NONE;
    }
    for (size_t s = map_slot(key, m->cap);; s = (s + 1) & (m->cap - 1)) {
        if (m->vals[s] == ENG_NONE || m->keys[s] == key) {
            return m->vals[s];
        }
    }
}

void eng__map_free(eng_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- lifecycle ---- */

tally_status engine_new(engine **out)
{
    engine *e = calloc(1, sizeof(*e));

    *out = NULL;
    if (e == NULL) {
        return TALLY_ENOMEM;
    }
    schema_paramset_default(&e->pset);
    engine_params_from(&e->pset, &e->params);
    e->max_weight_limit = 65535;
    *out = e;
    return TALLY_OK;
}

void engine_free(engine *e)
{
    if (e == NULL) {
        return;
    }
    for (size_t i = 0; i < e->n_markets; i++) {
        free(e->markets[i].snaps);
    }
    for (size_t i = 0; i < e->n_events; i++) {
        free(e->events[i].hist);
    }
    free(e->hks);
    free(e->uid_hk);
    free(e->actors);
    free(e->mg_parts);
    free(e->events);
    free(e->markets);
    free(e->subs);
    free(e->rows);
    free(e->decay_cache);
    free(e->tf_cache);
    eng__omemo_clear(e);
    free(e->omemo);
    eng__map_free(&e->event_ix);
    eng__map_free(&e->hk_ix);
    eng__map_free(&e->market_ix);
    free(e);
}

uint64_t engine_next_seq(const engine *e)
{
    return e->next_seq;
}

void engine_attach_rules(engine *e, const engine_rules *r)
{
    e->rules = r;
}

void engine_set_fetch(engine *e, engine_fetch_fn fetch, void *arg)
{
    e->fetch = fetch, e->fetch_arg = arg;
}

/* ---- identities ---- */

uint64_t eng__hk_prefix(const uint8_t hotkey[32])
{
    uint64_t k = 0;
    for (int i = 0; i < 8; i++) {
        k = k << 8 | hotkey[i];
    }
    return k;
}

uint32_t eng__hotkey_intern(engine *e, const uint8_t hotkey[32])
{
    uint64_t key = eng__hk_prefix(hotkey);
    uint32_t hit = eng__map_get(&e->hk_ix, key);

    /* the index maps the first 8 bytes to the first hotkey seen with them; any other hotkey
     * sharing that prefix is found by the scan */
    if (hit != ENG_NONE && memcmp(e->hks[hit].hotkey, hotkey, 32) == 0) {
        return hit;
    }
    for (size_t i = 0; hit != ENG_NONE && i < e->n_hks; i++) {
        if (memcmp(e->hks[i].hotkey, hotkey, 32) == 0) {
            return (uint32_t)i;
        }
    }
    eng_hotkey *g = eng__grow(e->hks, &e->cap_hks, e->n_hks + 1, sizeof(*g));
    if (g == NULL || (hit == ENG_NONE && eng__map_put(&e->hk_ix, key, (uint32_t)e->n_hks) !=
                                             TALLY_OK)) {
        e->hks = g ? g : e->hks;
        return ENG_NONE;
    }
    e->hks = g;
    memcpy(g[e->n_hks].hotkey, hotkey, 32);
    g[e->n_hks].uid = ENG_NONE;
    g[e->n_hks].reg_start = 0;
    return (uint32_t)e->n_hks++;
}

static int by_actor_key(const void *a, const void *b)
{
    return memcmp(((const eng_actor *)a)->key, ((const eng_actor *)b)->key, 32);
}

tally_status eng__metagraph_commit(engine *e, int64_t t)
{
    size_t n = e->n_mg_parts, max_uid = 0, n_act = 0;
    uint32_t *uid_hk;
    eng_actor *act = malloc((n ? n : 1) * sizeof(*act));
    bool *seen = calloc(e->n_hks + n + 1, sizeof(*seen));

    for (size_t i = 0; i < n; i++) {
        max_uid = e->mg_parts[i].uid > max_uid ? (size_t)e->mg_parts[i].uid : max_uid;
    }
    uid_hk = malloc((max_uid + 1) * sizeof(*uid_hk));
    if (act == NULL || seen == NULL || uid_hk == NULL) {
        free(act), free(seen), free(uid_hk);
        return TALLY_ENOMEM;
    }
    for (size_t u = 0; u <= max_uid; u++) {
        uid_hk[u] = ENG_NONE;
    }
    for (size_t i = 0; i < n; i++) {
        const schema_neuron *nr = &e->mg_parts[i];
        uint32_t hk = eng__hotkey_intern(e, nr->hotkey);
        if (hk == ENG_NONE) {
            free(act), free(seen), free(uid_hk);
            return TALLY_ENOMEM;
        }
        /* a registration runs on while the hotkey keeps its uid from snapshot to snapshot */
        if (e->hks[hk].uid != (uint32_t)nr->uid) {
            e->hks[hk].reg_start = t;
        }
        e->hks[hk].uid = (uint32_t)nr->uid;
        seen[hk] = true;
        uid_hk[nr->uid] = hk;
        if (nr->has_tally_key) {
            memcpy(act[n_act].key, nr->tally_key, 32);
            act[n_act++].hk = hk;
        }
    }
    for (size_t i = 0; i < e->n_hks; i++) {
        if (!seen[i]) {
            e->hks[i].uid = ENG_NONE;
        }
    }
    qsort(act, n_act, sizeof(*act), by_actor_key);
    free(seen);
    free(e->uid_hk);
    free(e->actors);
    e->uid_hk = uid_hk, e->n_uids = n ? max_uid + 1 : 0;
    e->actors = act, e->n_actors = n_act;
    e->n_mg_parts = 0;
    return TALLY_OK;
}

static uint32_t actor_hotkey(const engine *e, const uint8_t key[32])
{
    eng_actor probe, *hit;

    memcpy(probe.key, key, 32);
    hit = bsearch(&probe, e->actors, e->n_actors, sizeof(probe), by_actor_key);
    return hit ? hit->hk : ENG_NONE;
}

static tally_status apply_metagraph(engine *e, const schema_header *h, const schema_metagraph *m)
{
    schema_neuron *g;

    if (m->part == 0) {
        e->n_mg_parts = 0;
        e->mg_time = (int64_t)h->time_ms;
    }
    g = eng__grow(e->mg_parts, &e->cap_mg_parts, e->n_mg_parts + m->n_neurons + 1, sizeof(*g));
    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    e->mg_parts = g;
    if (m->n_neurons > 0) {
        memcpy(g + e->n_mg_parts, m->neurons, m->n_neurons * sizeof(*g));
    }
    e->n_mg_parts += m->n_neurons;
    return m->part + 1 == m->parts ? eng__metagraph_commit(e, e->mg_time) : TALLY_OK;
}

/* ---- events, markets, results ---- */

static int64_t event_base(const schema_event *ev, int64_t t)
{
    /* the reveal an EVENT sets: its start, or its own time when it voids the event */
    return ev->status == SCHEMA_VOID ? t : (int64_t)ev->start_ms;
}

static tally_status apply_event(engine *e, uint64_t seq, const schema_header *h,
                                const schema_event *ev)
{
    uint32_t i = eng__map_get(&e->event_ix, ev->event_id);
    eng_event *x;
    eng_hist *hg;

    if (i == ENG_NONE) {
        eng_event *g = eng__grow(e->events, &e->cap_events, e->n_events + 1, sizeof(*g));
        if (g == NULL) {
            return TALLY_ENOMEM;
        }
        e->events = g;
        i = (uint32_t)e->n_events;
        memset(&g[i], 0, sizeof(g[i]));
        g[i].id = ev->event_id;
        if (eng__map_put(&e->event_ix, ev->event_id, i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        e->n_events++;
    }
    x = &e->events[i];
    x->start_ms = (int64_t)ev->start_ms;
    x->status = ev->status;
    hg = eng__grow(x->hist, &x->cap_hist, x->n_hist + 1, sizeof(*hg));
    if (hg == NULL) {
        return TALLY_ENOMEM;
    }
    x->hist = hg;
    hg[x->n_hist++] = (eng_hist){seq, (int64_t)h->time_ms, event_base(ev, (int64_t)h->time_ms)};
    return TALLY_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static tally_status apply_market(engine *e, const schema_market *m)
{
    uint32_t ev = eng__map_get(&e->event_ix, m->event_id);
    eng_market *g, *x;

    if (eng__map_get(&e->market_ix, m->market_id) != ENG_NONE || ev == ENG_NONE ||
        m->n_sides < 2 || m->n_sides > 3) {
        return TALLY_OK; /* markets are immutable; one of an unknown event cannot be scored */
    }
    g = eng__grow(e->markets, &e->cap_markets, e->n_markets + 1, sizeof(*g));
    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    e->markets = g;
    x = &g[e->n_markets];
    memset(x, 0, sizeof(*x));
    x->id = m->market_id, x->ev = ev, x->kind = (uint8_t)m->kind;
    x->has_line = m->has_line_n, x->line = m->line_n, x->n_sides = (uint8_t)m->n_sides;
    memcpy(x->sides, m->sides, m->n_sides * sizeof(uint64_t));
    qsort(x->sides, x->n_sides, sizeof(uint64_t), cmp_u64);
    if (eng__map_put(&e->market_ix, m->market_id, (uint32_t)e->n_markets) != TALLY_OK) {
        return TALLY_ENOMEM;
    }
    e->n_markets++;
    return TALLY_OK;
}

static int side_index(const eng_market *m, uint64_t side)
{
    for (int i = 0; i < m->n_sides; i++) {
        if (m->sides[i] == side) {
            return i;
        }
    }
    return -1;
}

static tally_status apply_snapshot(engine *e, uint64_t seq, unsigned type, const schema_snapshot *s)
{
    uint32_t mi = eng__map_get(&e->market_ix, s->market_id);
    eng_market *m;
    eng_snap sn = {.ts = (int64_t)s->ts_ms, .seq = seq};

    if (mi == ENG_NONE) {
        return TALLY_OK;
    }
    m = &e->markets[mi];
    for (size_t k = 0; k < s->n_probs; k++) {
        int i = side_index(m, s->probs[k].side);
        if (i >= 0) {
            sn.mask |= (uint8_t)(1u << i);
            sn.pi[i] = (int64_t)s->probs[k].prob_n;
            if (type == SCHEMA_CLOSE) {
                m->omega[i] = (int64_t)s->probs[k].odds_n;
            }
        }
    }
    if (type == SCHEMA_CLOSE) {
        e->events[m->ev].closes++;
        m->has_close = true, m->close_seq = seq, m->close_mask = sn.mask;
        memcpy(m->pi, sn.pi, sizeof(m->pi));
        return TALLY_OK;
    }
    eng_snap *g = eng__grow(m->snaps, &m->cap_snaps, m->n_snaps + 1, sizeof(*g));
    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    m->snaps = g;
    g[m->n_snaps++] = sn;
    m->snap_ver++;
    return TALLY_OK;
}

static void apply_outcome(engine *e, uint64_t seq, const schema_header *h, const schema_outcome *o)
{
    uint32_t i = eng__map_get(&e->event_ix, o->event_id);
    eng_event *x;

    if (o->source != 1 || i == ENG_NONE) {
        return; /* D15: only the provider's outcomes set results */
    }
    x = &e->events[i];
    x->has_out = true;
    x->out_seq = seq, x->out_time = (int64_t)h->time_ms;
    x->out_has_result = o->has_result, x->out_result = o->result;
    x->out_has_scores = o->has_score_home && o->has_score_away;
    x->out_home = o->score_home, x->out_away = o->score_away;
}

/* ---- submissions ---- */

tally_status eng__sub_rows(engine *e, eng_sub *s, const schema_odds *o)
{
    size_t n = 0, at = e->n_rows_used;
    eng_row *rows;

    for (size_t k = 0; k < o->n_markets; k++) {
        n += o->markets[k].n_prices;
    }
    rows = eng__grow(e->rows, &e->cap_rows, at + n + 1, sizeof(*rows));
    if (rows == NULL) {
        return TALLY_ENOMEM;
    }
    e->rows = rows;
    n = 0;
    for (size_t k = 0; k < o->n_markets; k++) {
        const schema_entry *en = &o->markets[k];
        uint32_t mi = eng__map_get(&e->market_ix, en->market_id);
        for (size_t j = 0; mi != ENG_NONE && j < en->n_prices; j++) {
            int si = side_index(&e->markets[mi], en->prices[j].side);
            if (si < 0 || en->prices[j].odds_n == 0) {
                continue; /* K18: a side the market does not have is never scored */
            }
            rows[at + n++] = (eng_row){.market = mi,
                                       .side_idx = (uint8_t)si,
                                       .odds_n = en->prices[j].odds_n,
                                       .p = engine_implied(en->prices[j].odds_n)};
        }
    }
    memcpy(s->salt, o->salt, 16);
    eng__rows_drop(e, s);
    /* appended rows keep the arena in seq order only after those of every earlier submission */
    if (e->n_rows_used > 0 && s->seq <= e->rows_last_seq) {
        e->rows_misplaced += n;
    }
    e->rows_last_seq = s->seq > e->rows_last_seq ? s->seq : e->rows_last_seq;
    e->n_rows_used = at + n;
    s->row0 = at, s->n_prices = (uint32_t)n, s->has_body = true;
    return TALLY_OK;
}

void eng__rows_drop(engine *e, eng_sub *s)
{
    if (s->has_body) {
        e->rows_dead += s->n_prices;
        s->has_body = false, s->n_prices = 0;
    }
}

tally_status eng__rows_compact(engine *e)
{
    size_t at = 0;

    if ((e->rows_dead + e->rows_misplaced) * 8 <= e->n_rows_used) {
        return TALLY_OK; /* a few jumps in the pass cost less than moving every row */
    }
    if (e->rows_misplaced > 0) {
        /* a body taken late sits after later submissions' rows: copy all into seq order */
        eng_row *fresh = malloc((e->n_rows_used - e->rows_dead + 1) * sizeof(*fresh));
        if (fresh == NULL) {
            return TALLY_ENOMEM;
        }
        for (size_t i = 0; i < e->n_subs; i++) {
            eng_sub *s = &e->subs[i];
            if (s->has_body) {
                memcpy(&fresh[at], &e->rows[s->row0], s->n_prices * sizeof(*fresh));
                s->row0 = at, at += s->n_prices;
            }
        }
        free(e->rows);
        e->rows = fresh, e->cap_rows = e->n_rows_used - e->rows_dead + 1;
    } else {
        /* in order: each submission's rows move down over the holes before them */
        for (size_t i = 0; i < e->n_subs; i++) {
            eng_sub *s = &e->subs[i];
            if (s->has_body) {
                memmove(&e->rows[at], &e->rows[s->row0], s->n_prices * sizeof(*e->rows));
                s->row0 = at, at += s->n_prices;
            }
        }
    }
    e->n_rows_used = at, e->rows_dead = 0, e->rows_misplaced = 0;
    e->rows_last_seq = 0;
    for (size_t i = e->n_subs; i-- > 0;) {
        if (e->subs[i].has_body) {
            e->rows_last_seq = e->subs[i].seq;
            break;
        }
    }
    return TALLY_OK;
}

/* o is NULL for a body withheld at fold time: the header's event, time and rows are all the
 * fold needs until the reveal (protocol §2.3 engine constraint). */
static tally_status apply_odds(engine *e, uint64_t seq, const schema_header *h, const schema_odds *o)
{
    uint32_t hk = actor_hotkey(e, h->actor);
    uint32_t ev = eng__map_get(&e->event_ix, o ? o->event_id : h->event_id);
    int64_t b = e->params.odds_bucket_s * 1000, t = (int64_t)h->time_ms;
    eng_sub *g, *s;
    tally_status st;

    if (hk == ENG_NONE || ev == ENG_NONE) {
        return TALLY_OK; /* ingest admits neither; nothing to attribute the rows to */
    }
    g = eng__grow(e->subs, &e->cap_subs, e->n_subs + 1, sizeof(*g));
    if (g == NULL) {
        return TALLY_ENOMEM;
    }
    e->subs = g;
    s = &g[e->n_subs];
    memset(s, 0, sizeof(*s));
    s->seq = seq, s->time_ms = t, s->t_sub = t - t % b, s->ev = ev, s->hk = hk;
    s->n_rows = (uint32_t)(h->has_rows ? h->rows : 0);
    st = o != NULL ? eng__sub_rows(e, s, o) : TALLY_OK;
    if (st != TALLY_OK) {
        return st;
    }
    e->n_subs++;
    return TALLY_OK;
}

static void apply_params(engine *e, const schema_param *ps, size_t n)
{
    schema_param_error err;

    /* the acceptance rules refuse a list with any bad item, so a list that fails here is
     * in no accepted log; it changes nothing */
    if (schema_paramset_apply(&e->pset, ps, n, &err) == TALLY_OK) {
        engine_params_from(&e->pset, &e->params);
    }
}

tally_status engine_apply(engine *e, uint64_t seq, const schema_header *h, const schema_body *b)
{
    tally_status st = TALLY_OK;

    /* without a body: cycles and derived records (never read), and the records whose body a
     * reader may not have yet: embargoed (odds, miner outcomes) and private (quotes) */
    bool withheld = h->tier == SCHEMA_EMBARGOED || h->tier == SCHEMA_PRIVATE;
    if (seq < e->next_seq || (b != NULL && b->type != h->type) ||
        (b == NULL && !withheld && h->type != SCHEMA_SCORING_CYCLE &&
         h->type < SCHEMA_SUBMISSION_SCORE)) {
        return TALLY_EINVAL;
    }
    switch (h->type) {
    case SCHEMA_GENESIS:
        schema_paramset_default(&e->pset);
        apply_params(e, b->u.genesis.params, b->u.genesis.n_params);
        e->netuid = b->u.genesis.netuid;
        e->max_weight_limit = b->u.genesis.chain.max_weight_limit;
        e->min_allowed = b->u.genesis.chain.min_allowed_weights;
        e->has_owner = b->u.genesis.chain.has_owner_hotkey;
        memcpy(e->owner, b->u.genesis.chain.owner_hotkey, 32);
        break;
    case SCHEMA_CONFIG_SET:
        apply_params(e, b->u.config_set.params, b->u.config_set.n_params);
        e->params_dirty = true;
        eng__omemo_clear(e);
        break;
    case SCHEMA_CHAIN_PARAMS:
        e->max_weight_limit = b->u.chain_params.max_weight_limit;
        e->min_allowed = b->u.chain_params.min_allowed_weights;
        e->has_owner = b->u.chain_params.has_owner_hotkey;
        memcpy(e->owner, b->u.chain_params.owner_hotkey, 32);
        break;
    case SCHEMA_METAGRAPH:
        st = apply_metagraph(e, h, &b->u.metagraph);
        break;
    case SCHEMA_EVENT:
        st = apply_event(e, seq, h, &b->u.event);
        break;
    case SCHEMA_MARKET:
        st = apply_market(e, &b->u.market);
        break;
    case SCHEMA_MARKET_SNAPSHOT:
    case SCHEMA_CLOSE:
        st = apply_snapshot(e, seq, (unsigned)h->type, &b->u.snapshot);
        break;
    case SCHEMA_ODDS_SUBMISSION:
        st = apply_odds(e, seq, h, b ? &b->u.odds : NULL);
        break;
    case SCHEMA_OUTCOME:
        if (b != NULL) {
            apply_outcome(e, seq, h, &b->u.outcome);
        }
        break;
    default:
        break; /* quotes (private), recomputes, attestations: not inputs of scoring */
    }
    if (st == TALLY_OK) {
        e->next_seq = seq + 1;
        e->last_time = (int64_t)h->time_ms;
    }
    return st;
}

void engine_params_get(const engine *e, engine_params *out)
{
    *out = e->params;
}
