/* The checkpoint: the fold's state as canonical msgpack (protocol §6.5), and back.
 *
 * ["tally-state-v1", cycle, epoch, as_of_ms, covers_to,
 *  next_seq, last_time, params_dirty, [every ledger parameter, in schema/params.c order],
 *  [netuid, max_weight_limit, min_allowed, owner|nil],
 *  hotkeys [[hotkey, uid|nil, reg_start]…], mg [time, [[uid, hotkey, tally_key|nil]…]] (parts
 *  still being assembled),
 *  actors [[tally_key, hotkey index]…], uids [hotkey index|nil …],
 *  events [[id, start, status, em_out, em_hist, closes, em_closes, [[seq, time, base]…],
 *           outcome|nil]…],
 *  markets [[id, event index, kind, em_close, line|nil, [sides], close|nil, [[ts, seq, mask, π…]…]]…],
 *  subs [[seq, time, t_sub, event index, hotkey index, rows, revealed, scored]…]]
 * close = [seq, mask, π, Ω, π, Ω…]; events and markets also carry the keys of what the last
 * cycle scored (em_out, em_hist; em_close).
 *
 * Submissions are held by seq and header fields alone: nothing of a body, revealed or not, is in
 * the state (protocol §6.5 forbids unrevealed ones; revealed ones are in the log anyway), and
 * engine_load() reads the bodies again through the caller, in seq order. The bytes are canonical
 * msgpack (schema_mpw / schema_mpr), so they are a function of the state. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* ---- writer (schema_mpw: canonical msgpack, sticky failure) ---- */

static void w_opt_u(schema_mpw *w, bool has, uint64_t v)
{
    if (has) {
        schema_mpw_uint(w, v);
    } else {
        schema_mpw_nil(w);
    }
}

tally_status eng__state_write(const engine *e, const schema_scoring_cycle *c, uint8_t **out,
                              size_t *n_out)
{
    schema_mpw w;

    *out = NULL, *n_out = 0;
    schema_mpw_init(&w, ENGINE_STATE_MAX);
    schema_mpw_array(&w, ENGINE_STATE_FIELDS);
    schema_mpw_str(&w, ENGINE_STATE_MAGIC, strlen(ENGINE_STATE_MAGIC));
    schema_mpw_uint(&w, c->cycle), schema_mpw_uint(&w, c->epoch), schema_mpw_uint(&w, c->as_of_ms), schema_mpw_uint(&w, c->covers_to);
    schema_mpw_uint(&w, e->next_seq), schema_mpw_int(&w, e->last_time), schema_mpw_bool(&w, e->params_dirty);
    /* every ledger parameter in table order: the count is the table's (schema/params.c) */
    schema_mpw_array(&w, SCHEMA_P_COUNT);
    for (size_t i = 0; i < SCHEMA_P_COUNT; i++) {
        schema_mpw_int(&w, e->pset.v[i]);
    }
    schema_mpw_array(&w, 4);
    schema_mpw_uint(&w, e->netuid), schema_mpw_uint(&w, e->max_weight_limit), schema_mpw_uint(&w, e->min_allowed);
    if (e->has_owner) {
        schema_mpw_bin(&w, e->owner, 32);
    } else {
        schema_mpw_nil(&w);
    }
    schema_mpw_array(&w, e->n_hks);
    for (size_t i = 0; i < e->n_hks; i++) {
        schema_mpw_array(&w, 3);
        schema_mpw_bin(&w, e->hks[i].hotkey, 32);
        w_opt_u(&w, e->hks[i].uid != ENG_NONE, e->hks[i].uid);
        schema_mpw_int(&w, e->hks[i].reg_start);
    }
    schema_mpw_array(&w, 2);
    schema_mpw_int(&w, e->mg_time);
    schema_mpw_array(&w, e->n_mg_parts);
    for (size_t i = 0; i < e->n_mg_parts; i++) {
        schema_mpw_array(&w, 3);
        schema_mpw_uint(&w, e->mg_parts[i].uid);
        schema_mpw_bin(&w, e->mg_parts[i].hotkey, 32);
        if (e->mg_parts[i].has_tally_key) {
            schema_mpw_bin(&w, e->mg_parts[i].tally_key, 32);
        } else {
            schema_mpw_nil(&w);
        }
    }
    /* bound actor keys: one per neuron of the latest snapshot, in key order */
    schema_mpw_array(&w, e->n_actors);
    for (size_t i = 0; i < e->n_actors; i++) {
        schema_mpw_array(&w, 2);
        schema_mpw_bin(&w, e->actors[i].key, 32);
        schema_mpw_uint(&w, e->actors[i].hk);
    }
    schema_mpw_array(&w, e->n_uids);
    for (size_t u = 0; u < e->n_uids; u++) {
        w_opt_u(&w, e->uid_hk[u] != ENG_NONE, e->uid_hk[u]);
    }
    schema_mpw_array(&w, e->n_events);
    for (size_t i = 0; i < e->n_events; i++) {
        const eng_event *ev = &e->events[i];
        schema_mpw_array(&w, 9);
        schema_mpw_uint(&w, ev->id), schema_mpw_int(&w, ev->start_ms), schema_mpw_uint(&w, ev->status);
        schema_mpw_uint(&w, ev->em_out), schema_mpw_uint(&w, ev->em_hist), schema_mpw_uint(&w, ev->closes), schema_mpw_uint(&w, ev->em_closes);
        schema_mpw_array(&w, ev->n_hist);
        for (size_t k = 0; k < ev->n_hist; k++) {
            schema_mpw_array(&w, 3);
            schema_mpw_uint(&w, ev->hist[k].seq), schema_mpw_int(&w, ev->hist[k].time), schema_mpw_int(&w, ev->hist[k].base);
        }
        if (!ev->has_out) {
            schema_mpw_nil(&w);
            continue;
        }
        schema_mpw_array(&w, 5);
        schema_mpw_uint(&w, ev->out_seq), schema_mpw_int(&w, ev->out_time);
        w_opt_u(&w, ev->out_has_result, ev->out_result);
        w_opt_u(&w, ev->out_has_scores, ev->out_home);
        w_opt_u(&w, ev->out_has_scores, ev->out_away);
    }
    schema_mpw_array(&w, e->n_markets);
    for (size_t i = 0; i < e->n_markets; i++) {
        const eng_market *m = &e->markets[i];
        schema_mpw_array(&w, 8);
        schema_mpw_uint(&w, m->id), schema_mpw_uint(&w, m->ev), schema_mpw_uint(&w, m->kind), schema_mpw_uint(&w, m->em_close);
        if (m->has_line) {
            schema_mpw_int(&w, m->line);
        } else {
            schema_mpw_nil(&w);
        }
        schema_mpw_array(&w, m->n_sides);
        for (int k = 0; k < m->n_sides; k++) {
            schema_mpw_uint(&w, m->sides[k]);
        }
        if (m->has_close) {
            schema_mpw_array(&w, 2 + 2 * (size_t)m->n_sides);
            schema_mpw_uint(&w, m->close_seq), schema_mpw_uint(&w, m->close_mask);
            for (int k = 0; k < m->n_sides; k++) {
                schema_mpw_int(&w, m->pi[k]), schema_mpw_int(&w, m->omega[k]);
            }
        } else {
            schema_mpw_nil(&w);
        }
        schema_mpw_array(&w, m->n_snaps);
        for (size_t k = 0; k < m->n_snaps; k++) {
            const eng_snap *s = &m->snaps[k];
            schema_mpw_array(&w, 3 + (size_t)m->n_sides);
            schema_mpw_int(&w, s->ts), schema_mpw_uint(&w, s->seq), schema_mpw_uint(&w, s->mask);
            for (int j = 0; j < m->n_sides; j++) {
                schema_mpw_int(&w, s->pi[j]);
            }
        }
    }
    schema_mpw_array(&w, e->n_subs);
    for (size_t i = 0; i < e->n_subs; i++) {
        const eng_sub *s = &e->subs[i];
        schema_mpw_array(&w, 8);
        schema_mpw_uint(&w, s->seq), schema_mpw_int(&w, s->time_ms), schema_mpw_int(&w, s->t_sub);
        schema_mpw_uint(&w, s->ev), schema_mpw_uint(&w, s->hk), schema_mpw_uint(&w, s->n_rows), schema_mpw_bool(&w, s->revealed);
        schema_mpw_bool(&w, s->scored);
    }
    if (e->rules != NULL) {
        eng__rules_write(e->rules, &w);
    } else {
        schema_mpw_nil(&w);
    }
    return schema_mpw_finish(&w, out, n_out);
}

/* ---- reader (schema_mpr: only canonical forms, sticky failure) ---- */

static uint32_t r_opt_u32(schema_mpr *r)
{
    uint64_t v;
    if (schema_mpr_nil(r)) {
        return ENG_NONE;
    }
    v = schema_mpr_uint(r);
    if (v >= ENG_NONE) {
        r->bad = true;
    }
    return (uint32_t)v;
}

/* Reads an array header and allocates its n elements (at least one, zeroed). The count is
 * checked against the bytes left first. NULL with *st set on failure. */
static void *r_list(schema_mpr *r, size_t elem, size_t *n_out, tally_status *st)
{
    size_t n = schema_mpr_array(r);
    void *p;

    *n_out = 0;
    if (!schema_mpr_count_ok(r, n)) {
        *st = TALLY_EFORMAT;
        return NULL;
    }
    p = calloc(n ? n : 1, elem);
    if (p == NULL) {
        *st = TALLY_ENOMEM;
        return NULL;
    }
    *n_out = n;
    return p;
}

static tally_status load_events(schema_mpr *r, engine *e)
{
    size_t n;
    tally_status st = TALLY_OK;

    if ((e->events = r_list(r, sizeof(eng_event), &n, &st)) == NULL) {
        return st;
    }
    e->cap_events = n ? n : 1;
    for (size_t i = 0; i < n && !r->bad; i++) {
        eng_event *ev = &e->events[i];
        size_t nh;
        if (schema_mpr_array(r) != 9) {
            r->bad = true;
            break;
        }
        ev->id = schema_mpr_uint(r), ev->start_ms = schema_mpr_int(r), ev->status = schema_mpr_uint(r);
        ev->em_out = schema_mpr_uint(r), ev->em_hist = schema_mpr_uint(r), ev->closes = schema_mpr_uint(r), ev->em_closes = schema_mpr_uint(r);
        if ((ev->hist = r_list(r, sizeof(eng_hist), &nh, &st)) == NULL) {
            return st;
        }
        e->n_events++;
        ev->cap_hist = nh ? nh : 1, ev->n_hist = nh;
        for (size_t k = 0; k < nh; k++) {
            eng_hist *x = &ev->hist[k];
            if (schema_mpr_array(r) != 3) {
                r->bad = true;
            }
            x->seq = schema_mpr_uint(r), x->time = schema_mpr_int(r), x->base = schema_mpr_int(r);
        }
        if (!schema_mpr_nil(r)) {
            uint32_t v;
            if (schema_mpr_array(r) != 5) {
                r->bad = true;
            }
            ev->has_out = true;
            ev->out_seq = schema_mpr_uint(r), ev->out_time = schema_mpr_int(r);
            v = r_opt_u32(r);
            ev->out_has_result = v != ENG_NONE, ev->out_result = v;
            v = r_opt_u32(r);
            ev->out_has_scores = v != ENG_NONE, ev->out_home = v;
            v = r_opt_u32(r);
            ev->out_away = v;
            if (ev->out_has_scores != (v != ENG_NONE)) {
                r->bad = true;
            }
        }
        if (eng__map_put(&e->event_ix, ev->id, (uint32_t)i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
    }
    return r->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status load_markets(schema_mpr *r, engine *e)
{
    size_t n;
    tally_status st = TALLY_OK;

    if ((e->markets = r_list(r, sizeof(eng_market), &n, &st)) == NULL) {
        return st;
    }
    e->cap_markets = n ? n : 1;
    for (size_t i = 0; i < n && !r->bad; i++) {
        eng_market *m = &e->markets[i];
        size_t ns;
        if (schema_mpr_array(r) != 8) {
            r->bad = true;
            break;
        }
        e->n_markets++;
        m->id = schema_mpr_uint(r), m->ev = (uint32_t)schema_mpr_uint(r), m->kind = (uint8_t)schema_mpr_uint(r), m->em_close = schema_mpr_uint(r);
        m->has_line = !schema_mpr_nil(r);
        m->line = m->has_line ? schema_mpr_int(r) : 0;
        m->n_sides = (uint8_t)schema_mpr_array(r);
        if (m->n_sides < 2 || m->n_sides > 3 || m->ev >= e->n_events) {
            r->bad = true;
            break;
        }
        for (int k = 0; k < m->n_sides; k++) {
            m->sides[k] = schema_mpr_uint(r);
        }
        if (!schema_mpr_nil(r)) {
            if (schema_mpr_array(r) != 2 + 2 * (size_t)m->n_sides) {
                r->bad = true;
            }
            m->has_close = true;
            m->close_seq = schema_mpr_uint(r), m->close_mask = (uint8_t)schema_mpr_uint(r);
            for (int k = 0; k < m->n_sides; k++) {
                m->pi[k] = schema_mpr_int(r), m->omega[k] = schema_mpr_int(r);
            }
        }
        if ((m->snaps = r_list(r, sizeof(eng_snap), &ns, &st)) == NULL) {
            return st;
        }
        m->cap_snaps = ns ? ns : 1, m->n_snaps = ns;
        for (size_t k = 0; k < ns; k++) {
            eng_snap *s = &m->snaps[k];
            if (schema_mpr_array(r) != 3 + (size_t)m->n_sides) {
                r->bad = true;
            }
            s->ts = schema_mpr_int(r), s->seq = schema_mpr_uint(r), s->mask = (uint8_t)schema_mpr_uint(r);
            for (int j = 0; j < m->n_sides; j++) {
                s->pi[j] = schema_mpr_int(r);
            }
        }
        if (eng__map_put(&e->market_ix, m->id, (uint32_t)i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
    }
    return r->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status load_subs(schema_mpr *r, engine *e, engine_fetch_fn fetch, void *arg)
{
    size_t n;
    tally_status st = TALLY_OK;

    if ((e->subs = r_list(r, sizeof(eng_sub), &n, &st)) == NULL) {
        return st;
    }
    e->cap_subs = n ? n : 1;
    for (size_t i = 0; i < n && !r->bad; i++) {
        eng_sub *s = &e->subs[i];
        if (schema_mpr_array(r) != 8) {
            r->bad = true;
            break;
        }
        e->n_subs++;
        s->seq = schema_mpr_uint(r), s->time_ms = schema_mpr_int(r), s->t_sub = schema_mpr_int(r);
        s->ev = (uint32_t)schema_mpr_uint(r), s->hk = (uint32_t)schema_mpr_uint(r), s->n_rows = (uint32_t)schema_mpr_uint(r);
        s->revealed = schema_mpr_bool(r), s->scored = schema_mpr_bool(r);
        if (r->bad || s->ev >= e->n_events || s->hk >= e->n_hks ||
            (i > 0 && s->seq <= e->subs[i - 1].seq) || (s->scored && !s->revealed)) {
            r->bad = true;
            break;
        }
        /* the prices come from the log, by seq (ascending, so a reader can stream); a reader
         * without the body of a submission not yet revealed keeps its header fields until the
         * reveal, when engine_cycle asks the fetch function set for it */
        st = eng__take_body(e, s, fetch, arg);
        if (st == TALLY_ENOTFOUND && !s->revealed) {
            continue;
        }
        if (st != TALLY_OK) {
            return st;
        }
        if (s->scored) {
            eng__rescore(e, s); /* the metrics the last cycle computed, from the same inputs */
        }
    }
    return r->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status load_identities(schema_mpr *r, engine *e)
{
    size_t n;
    tally_status st = TALLY_OK;

    if ((e->hks = r_list(r, sizeof(eng_hotkey), &n, &st)) == NULL) {
        return st;
    }
    e->cap_hks = n ? n : 1, e->n_hks = n;
    for (size_t i = 0; i < n; i++) {
        uint64_t key;
        if (schema_mpr_array(r) != 3) {
            r->bad = true;
        }
        schema_mpr_bin_fixed(r, e->hks[i].hotkey, 32);
        e->hks[i].uid = r_opt_u32(r);
        e->hks[i].reg_start = schema_mpr_int(r);
        key = eng__hk_prefix(e->hks[i].hotkey);
        if (eng__map_get(&e->hk_ix, key) == ENG_NONE &&
            eng__map_put(&e->hk_ix, key, (uint32_t)i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
    }
    if (schema_mpr_array(r) != 2) {
        r->bad = true;
    }
    e->mg_time = schema_mpr_int(r);
    if ((e->mg_parts = r_list(r, sizeof(schema_neuron), &n, &st)) == NULL) {
        return st;
    }
    e->cap_mg_parts = n ? n : 1, e->n_mg_parts = n;
    for (size_t i = 0; i < n; i++) {
        schema_neuron *nr = &e->mg_parts[i];
        if (schema_mpr_array(r) != 3) {
            r->bad = true;
        }
        nr->uid = schema_mpr_uint(r);
        schema_mpr_bin_fixed(r, nr->hotkey, 32);
        nr->has_tally_key = !schema_mpr_nil(r);
        if (nr->has_tally_key) {
            schema_mpr_bin_fixed(r, nr->tally_key, 32);
        }
    }
    if ((e->actors = r_list(r, sizeof(eng_actor), &n, &st)) == NULL) {
        return st;
    }
    e->n_actors = n;
    for (size_t i = 0; i < n; i++) {
        if (schema_mpr_array(r) != 2) {
            r->bad = true;
        }
        schema_mpr_bin_fixed(r, e->actors[i].key, 32);
        e->actors[i].hk = (uint32_t)schema_mpr_uint(r);
        if (e->actors[i].hk >= e->n_hks ||
            (i > 0 && memcmp(e->actors[i - 1].key, e->actors[i].key, 32) >= 0)) {
            r->bad = true;
        }
    }
    if ((e->uid_hk = r_list(r, sizeof(uint32_t), &n, &st)) == NULL) {
        return st;
    }
    if (n > ENGINE_MAX_UIDS) {
        return TALLY_EFORMAT;
    }
    e->n_uids = n;
    for (size_t u = 0; u < n; u++) {
        e->uid_hk[u] = r_opt_u32(r);
        if (e->uid_hk[u] != ENG_NONE && e->uid_hk[u] >= e->n_hks) {
            r->bad = true;
        }
    }
    return r->bad ? TALLY_EFORMAT : TALLY_OK;
}

tally_status engine_load(const uint8_t *state, size_t n, engine_fetch_fn fetch, void *arg,
                         engine **out)
{
    schema_mpr r;
    engine *e;
    const char *magic;
    size_t magic_n;
    tally_status st = engine_new(&e);

    *out = NULL;
    if (st != TALLY_OK) {
        return st;
    }
    schema_mpr_init(&r, state, n);
    if (schema_mpr_array(&r) != ENGINE_STATE_FIELDS || (magic = schema_mpr_str(&r, &magic_n)) == NULL ||
        magic_n != strlen(ENGINE_STATE_MAGIC) || memcmp(magic, ENGINE_STATE_MAGIC, magic_n) != 0) {
        engine_free(e);
        return TALLY_EFORMAT;
    }
    for (int i = 0; i < 4; i++) {
        (void)schema_mpr_uint(&r); /* cycle, epoch, as_of_ms, covers_to: the caller checks them */
    }
    e->next_seq = schema_mpr_uint(&r), e->last_time = schema_mpr_int(&r), e->params_dirty = schema_mpr_bool(&r);
    if (schema_mpr_array(&r) != SCHEMA_P_COUNT) {
        r.bad = true;
    }
    for (unsigned i = 0; i < SCHEMA_P_COUNT; i++) {
        const schema_pdef *d = schema_param_def(i);
        e->pset.v[i] = schema_mpr_int(&r);
        /* a value the table refuses could break the bounds fx.h relies on */
        if (d->kind == SCHEMA_PK_TEXT ? e->pset.v[i] != 0 : e->pset.v[i] < d->lo || e->pset.v[i] > d->hi) {
            r.bad = true;
        }
    }
    engine_params_from(&e->pset, &e->params);
    if (schema_mpr_array(&r) != 4) {
        r.bad = true;
    }
    e->netuid = schema_mpr_uint(&r), e->max_weight_limit = schema_mpr_uint(&r), e->min_allowed = schema_mpr_uint(&r);
    e->has_owner = !schema_mpr_nil(&r);
    if (e->has_owner) {
        schema_mpr_bin_fixed(&r, e->owner, 32);
    }
    st = r.bad ? TALLY_EFORMAT : load_identities(&r, e);
    if (st == TALLY_OK) {
        st = load_events(&r, e);
    }
    if (st == TALLY_OK) {
        st = load_markets(&r, e);
    }
    if (st == TALLY_OK) {
        st = load_subs(&r, e, fetch, arg);
    }
    if (st == TALLY_OK) {
        schema_mpr_skip(&r); /* the rules' section: engine_rules_from_state reads it */
        st = schema_mpr_end(&r);
    }
    if (st != TALLY_OK) {
        engine_free(e);
        return st;
    }
    *out = e;
    return TALLY_OK;
}
