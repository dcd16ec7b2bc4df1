/* The acceptance rules' state as a section of the checkpoint state (protocol §6.5), and back.
 * The section holds what every view of the log derives alike (from headers and from public or
 * gated bodies), so the operator's full replay and an auditor's gated replay write the same
 * bytes:
 *
 * [size, last_time, node_key|nil, netuid, chain_block,
 *  versions [[from, [every parameter, in schema/params.c order]]…],
 *  [has_mg, mg_block, bound [[key, hotkey, uid, stake, permit, dup]…]],
 *  pending_mg nil | [block, parts, next, last_uid|nil, [[key, hotkey, uid, stake, permit]…]],
 *  events [[id, start, status, recompute_seq|nil, [[seq, time, start, voids]…]]…],
 *  markets [[id, event, kind, sides, body_hash, created_seq, close_seq|nil]…],
 *  [cycle, covers_to, epoch, in_block, prune_day],
 *  outcomes [[hotkey, event, last_t, [[t, count]…]]…],
 *  attestations [[hotkey, cycle]…] ascending]
 *
 * What depends on the view is left out and rebuilt after a load from the records of the last
 * 31 days (engine_rules_restore): the odds intake and the write nonces (from bodies the full view
 * reads at once), the pending embargoed records and the intake judged at reveals (the gated
 * view's). */
#include <stdlib.h>
#include <string.h>

#include "engine/rules_int.h"

static void w_opt(schema_mpw *w, bool has, uint64_t v)
{
    if (has) {
        schema_mpw_uint(w, v);
    } else {
        schema_mpw_nil(w);
    }
}

static void w_bind(schema_mpw *w, const rbind *b, bool with_dup)
{
    schema_mpw_array(w, with_dup ? 6 : 5);
    schema_mpw_bin(w, b->key, 32);
    schema_mpw_bin(w, b->hotkey, 32);
    schema_mpw_uint(w, b->uid);
    schema_mpw_uint(w, b->stake);
    schema_mpw_bool(w, b->permit);
    if (with_dup) {
        schema_mpw_bool(w, b->dup);
    }
}

static int by_attest(const void *a, const void *b)
{
    const rkey *x = a, *y = b;
    int c = memcmp(x->k, y->k, 32);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

void eng__rules_write(const engine_rules *r, schema_mpw *w)
{
    rkey *att;
    size_t n_att = 0;

    schema_mpw_array(w, 13);
    schema_mpw_uint(w, r->size);
    schema_mpw_uint(w, r->last_time);
    if (r->has_genesis) {
        schema_mpw_bin(w, r->node_key, 32);
    } else {
        schema_mpw_nil(w);
    }
    schema_mpw_uint(w, r->netuid);
    schema_mpw_uint(w, r->chain_block);
    schema_mpw_array(w, r->n_pv);
    for (size_t i = 0; i < r->n_pv; i++) {
        schema_mpw_array(w, 2);
        schema_mpw_uint(w, r->pv_from[i]);
        schema_mpw_array(w, SCHEMA_P_COUNT);
        for (size_t k = 0; k < SCHEMA_P_COUNT; k++) {
            schema_mpw_int(w, r->pv[i].v[k]);
        }
    }
    schema_mpw_array(w, 3);
    schema_mpw_bool(w, r->has_mg);
    schema_mpw_uint(w, r->mg_block);
    schema_mpw_array(w, r->n_bind);
    for (size_t i = 0; i < r->n_bind; i++) {
        w_bind(w, &r->bind[i], true);
    }
    if (!r->mg_pending) {
        schema_mpw_nil(w);
    } else {
        schema_mpw_array(w, 5);
        schema_mpw_uint(w, r->pend_block);
        schema_mpw_uint(w, r->pend_parts);
        schema_mpw_uint(w, r->pend_next);
        w_opt(w, r->pend_has_uid, r->pend_last_uid);
        schema_mpw_array(w, r->n_pend);
        for (size_t i = 0; i < r->n_pend; i++) {
            w_bind(w, &r->pend[i], false);
        }
    }
    schema_mpw_array(w, r->n_events);
    for (size_t i = 0; i < r->n_events; i++) {
        const revent *e = &r->events[i];
        schema_mpw_array(w, 5);
        schema_mpw_uint(w, e->id);
        schema_mpw_uint(w, e->start_ms);
        schema_mpw_uint(w, e->status);
        w_opt(w, e->has_recompute, e->recompute_seq);
        schema_mpw_array(w, e->n_hist);
        for (size_t k = 0; k < e->n_hist; k++) {
            schema_mpw_array(w, 4);
            schema_mpw_uint(w, e->hist[k].seq);
            schema_mpw_uint(w, e->hist[k].time);
            schema_mpw_uint(w, e->hist[k].start);
            schema_mpw_bool(w, e->hist[k].voids);
        }
    }
    schema_mpw_array(w, r->n_markets);
    for (size_t i = 0; i < r->n_markets; i++) {
        const rmarket *m = &r->markets[i];
        schema_mpw_array(w, 7);
        schema_mpw_uint(w, m->id);
        schema_mpw_uint(w, m->event_id);
        schema_mpw_uint(w, m->kind);
        schema_mpw_uint(w, m->sides);
        schema_mpw_bin(w, m->body_hash, 32);
        schema_mpw_uint(w, m->created_seq);
        w_opt(w, m->has_close, m->close_seq);
    }
    schema_mpw_array(w, 5);
    schema_mpw_uint(w, r->cycle);
    schema_mpw_uint(w, r->covers_to);
    schema_mpw_uint(w, r->epoch);
    schema_mpw_bool(w, r->in_block);
    schema_mpw_uint(w, r->prune_day);
    schema_mpw_array(w, r->outs.n);
    for (size_t i = 0; i < r->outs.n; i++) {
        const rintake *in = &r->outs.v[i];
        schema_mpw_array(w, 4);
        schema_mpw_bin(w, in->key.k, 32);
        schema_mpw_uint(w, in->key.id);
        schema_mpw_uint(w, in->last_t);
        schema_mpw_array(w, in->n);
        for (size_t k = 0; k < in->n; k++) {
            schema_mpw_array(w, 2);
            schema_mpw_uint(w, in->hits[k].t);
            schema_mpw_uint(w, in->hits[k].count);
        }
    }
    /* the set in a fixed order: the map's slots depend on its growth, not on the log alone */
    att = malloc((r->attest_ix.n ? r->attest_ix.n : 1) * sizeof(*att));
    if (att == NULL) {
        w->oom = true;
        return;
    }
    for (size_t i = 0; i < r->attest_ix.cap; i++) {
        if (r->attest_ix.vals[i] != RL_NONE) {
            att[n_att++] = r->attest_ix.keys[i];
        }
    }
    qsort(att, n_att, sizeof(*att), by_attest);
    schema_mpw_array(w, n_att);
    for (size_t i = 0; i < n_att; i++) {
        schema_mpw_array(w, 2);
        schema_mpw_bin(w, att[i].k, 32);
        schema_mpw_uint(w, att[i].id);
    }
    free(att);
}

/* ---- reading (the blob is trusted by its STATE_HASH; its structure is checked anyway) ---- */

static bool r_opt(schema_mpr *rd, uint64_t *v)
{
    if (schema_mpr_nil(rd)) {
        *v = 0;
        return false;
    }
    *v = schema_mpr_uint(rd);
    return true;
}

static void r_bind(schema_mpr *rd, rbind *b, bool with_dup)
{
    if (schema_mpr_array(rd) != (with_dup ? 6u : 5u)) {
        rd->bad = true;
        return;
    }
    schema_mpr_bin_fixed(rd, b->key, 32);
    schema_mpr_bin_fixed(rd, b->hotkey, 32);
    b->uid = schema_mpr_uint(rd);
    b->stake = schema_mpr_uint(rd);
    b->permit = schema_mpr_bool(rd);
    b->dup = with_dup && schema_mpr_bool(rd);
}

/* An array of n elements of elem bytes (at least one, zeroed), n checked against the input. */
static void *r_list(schema_mpr *rd, size_t elem, size_t *n_out)
{
    size_t n = schema_mpr_array(rd);
    void *p = rd->bad ? NULL : calloc(n ? n : 1, elem);

    *n_out = p ? n : 0;
    if (p == NULL) {
        rd->bad = true;
    }
    return p;
}

static tally_status read_params(schema_mpr *rd, engine_rules *r)
{
    r->pv = r_list(rd, sizeof(*r->pv), &r->n_pv);
    r->pv_from = calloc(r->n_pv ? r->n_pv : 1, sizeof(*r->pv_from));
    r->cap_pv = r->n_pv;
    if (r->pv == NULL || r->pv_from == NULL) {
        return rd->bad ? TALLY_EFORMAT : TALLY_ENOMEM;
    }
    for (size_t i = 0; i < r->n_pv && !rd->bad; i++) {
        if (schema_mpr_array(rd) != 2) {
            rd->bad = true;
        }
        r->pv_from[i] = schema_mpr_uint(rd);
        if (schema_mpr_array(rd) != SCHEMA_P_COUNT || (i > 0 && r->pv_from[i] < r->pv_from[i - 1])) {
            rd->bad = true;
        }
        for (unsigned k = 0; k < SCHEMA_P_COUNT; k++) {
            const schema_pdef *d = schema_param_def(k);
            int64_t v = schema_mpr_int(rd);
            if (d->kind == SCHEMA_PK_TEXT ? v != 0 : v < d->lo || v > d->hi) {
                rd->bad = true;
            }
            r->pv[i].v[k] = v;
        }
    }
    if (r->n_pv > 0) {
        r->ps = r->pv[r->n_pv - 1];
    } else {
        schema_paramset_default(&r->ps);
    }
    return rd->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status read_metagraph(schema_mpr *rd, engine_rules *r)
{
    uint64_t u;

    if (schema_mpr_array(rd) != 3) {
        return TALLY_EFORMAT;
    }
    r->has_mg = schema_mpr_bool(rd);
    r->mg_block = schema_mpr_uint(rd);
    r->bind = r_list(rd, sizeof(*r->bind), &r->n_bind);
    for (size_t i = 0; i < r->n_bind && !rd->bad; i++) {
        r_bind(rd, &r->bind[i], true);
        if (i > 0 && eng__by_bind_key(&r->bind[i - 1], &r->bind[i]) > 0) {
            rd->bad = true; /* lookups bisect: the order is part of the structure */
        }
    }
    if (!schema_mpr_nil(rd)) {
        if (schema_mpr_array(rd) != 5) {
            return TALLY_EFORMAT;
        }
        r->mg_pending = true;
        r->pend_block = schema_mpr_uint(rd);
        r->pend_parts = schema_mpr_uint(rd);
        r->pend_next = schema_mpr_uint(rd);
        r->pend_has_uid = r_opt(rd, &u);
        r->pend_last_uid = u;
        r->pend = r_list(rd, sizeof(*r->pend), &r->n_pend);
        r->cap_pend = r->n_pend;
        for (size_t i = 0; i < r->n_pend && !rd->bad; i++) {
            r_bind(rd, &r->pend[i], false);
        }
    }
    return rd->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status read_events(schema_mpr *rd, engine_rules *r)
{
    r->events = r_list(rd, sizeof(*r->events), &r->n_events);
    r->cap_events = r->n_events;
    for (size_t i = 0; i < r->n_events && !rd->bad; i++) {
        revent *e = &r->events[i];
        rkey k;
        if (schema_mpr_array(rd) != 5) {
            rd->bad = true;
            break;
        }
        e->id = schema_mpr_uint(rd);
        e->start_ms = schema_mpr_uint(rd);
        e->status = schema_mpr_uint(rd);
        e->has_recompute = r_opt(rd, &e->recompute_seq);
        e->hist = r_list(rd, sizeof(*e->hist), &e->n_hist);
        e->cap_hist = e->n_hist;
        for (size_t h = 0; h < e->n_hist && !rd->bad; h++) {
            if (schema_mpr_array(rd) != 4) {
                rd->bad = true;
            }
            e->hist[h].seq = schema_mpr_uint(rd);
            e->hist[h].time = schema_mpr_uint(rd);
            e->hist[h].start = schema_mpr_uint(rd);
            e->hist[h].voids = schema_mpr_bool(rd);
        }
        k = eng__key_id(e->id);
        if (!rd->bad && (eng__rmap_get(&r->event_ix, &k) != RL_NONE ||
                         eng__rmap_put(&r->event_ix, &k, (uint32_t)i) != TALLY_OK)) {
            rd->bad = true;
        }
    }
    return rd->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status read_markets(schema_mpr *rd, engine_rules *r)
{
    r->markets = r_list(rd, sizeof(*r->markets), &r->n_markets);
    r->cap_markets = r->n_markets;
    for (size_t i = 0; i < r->n_markets && !rd->bad; i++) {
        rmarket *m = &r->markets[i];
        rkey k;
        if (schema_mpr_array(rd) != 7) {
            rd->bad = true;
            break;
        }
        m->id = schema_mpr_uint(rd);
        m->event_id = schema_mpr_uint(rd);
        m->kind = schema_mpr_uint(rd);
        m->sides = (uint8_t)schema_mpr_uint(rd);
        schema_mpr_bin_fixed(rd, m->body_hash, 32);
        m->created_seq = schema_mpr_uint(rd);
        m->has_close = r_opt(rd, &m->close_seq);
        k = eng__key_id(m->id);
        if (!rd->bad && (eng__rmap_get(&r->market_ix, &k) != RL_NONE ||
                         eng__rmap_put(&r->market_ix, &k, (uint32_t)i) != TALLY_OK)) {
            rd->bad = true;
        }
    }
    return rd->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status read_tail(schema_mpr *rd, engine_rules *r)
{
    size_t n;

    if (schema_mpr_array(rd) != 5) {
        return TALLY_EFORMAT;
    }
    r->cycle = schema_mpr_uint(rd);
    r->covers_to = schema_mpr_uint(rd);
    r->epoch = schema_mpr_uint(rd);
    r->in_block = schema_mpr_bool(rd);
    r->prune_day = schema_mpr_uint(rd);
    n = schema_mpr_array(rd);
    for (size_t i = 0; i < n && !rd->bad; i++) {
        uint8_t hk[32];
        uint64_t ev, last;
        size_t hits;
        if (schema_mpr_array(rd) != 4) {
            return TALLY_EFORMAT;
        }
        schema_mpr_bin_fixed(rd, hk, 32);
        ev = schema_mpr_uint(rd);
        last = schema_mpr_uint(rd);
        hits = schema_mpr_array(rd);
        for (size_t k = 0; k < hits && !rd->bad; k++) {
            uint64_t t, c;
            if (schema_mpr_array(rd) != 2) {
                return TALLY_EFORMAT;
            }
            t = schema_mpr_uint(rd), c = schema_mpr_uint(rd);
            if (!rd->bad && eng__intake_add(&r->outs, hk, ev, t, c) != TALLY_OK) {
                return TALLY_ENOMEM;
            }
        }
        if (!rd->bad && r->outs.n > 0) {
            r->outs.v[r->outs.n - 1].last_t = last;
        }
    }
    n = schema_mpr_array(rd);
    for (size_t i = 0; i < n && !rd->bad; i++) {
        rkey k;
        if (schema_mpr_array(rd) != 2) {
            return TALLY_EFORMAT;
        }
        schema_mpr_bin_fixed(rd, k.k, 32);
        k.id = schema_mpr_uint(rd);
        if (!rd->bad && eng__rmap_put(&r->attest_ix, &k, 1) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
    }
    return rd->bad ? TALLY_EFORMAT : TALLY_OK;
}

tally_status eng__rules_read(schema_mpr *rd, engine_rules *r)
{
    tally_status st;

    if (schema_mpr_array(rd) != 13) {
        return TALLY_EFORMAT;
    }
    r->size = schema_mpr_uint(rd);
    r->last_time = schema_mpr_uint(rd);
    r->has_genesis = !schema_mpr_nil(rd);
    if (r->has_genesis) {
        schema_mpr_bin_fixed(rd, r->node_key, 32);
    }
    r->netuid = schema_mpr_uint(rd);
    r->chain_block = schema_mpr_uint(rd);
    st = rd->bad ? TALLY_EFORMAT : read_params(rd, r);
    if (st == TALLY_OK) {
        st = read_metagraph(rd, r);
    }
    if (st == TALLY_OK) {
        st = read_events(rd, r);
    }
    if (st == TALLY_OK) {
        st = read_markets(rd, r);
    }
    if (st == TALLY_OK) {
        st = read_tail(rd, r);
    }
    return st;
}

/* ---- the view-dependent parts, rebuilt after a load ---- */

tally_status engine_rules_restore(engine_rules *r, uint64_t seq, const schema_header *h,
                                  const schema_body *b, bool gated, uint64_t cut)
{
    const rbind *bd;
    uint64_t at;

    if (seq >= r->size || (b != NULL && b->type != h->type)) {
        return TALLY_EINVAL;
    }
    if (h->type == SCHEMA_ATTESTATION && b != NULL) {
        return eng__nonce_set(r, h->actor, b->u.attestation.nonce, 0);
    }
    if (h->tier != SCHEMA_EMBARGOED) {
        return TALLY_OK;
    }
    /* the hotkey the key was bound to then: the binding in effect now is the best the section
     * keeps, and a key rebound in the window is the rare case docs/rules.md names */
    bd = eng__binding(r, h->actor);
    if (!gated) {
        if (b == NULL || bd == NULL) {
            return TALLY_OK;
        }
        if (h->type == SCHEMA_ODDS_SUBMISSION) {
            tally_status st = TALLY_OK;
            for (size_t k = 0; st == TALLY_OK && k < b->u.odds.n_markets; k++) {
                st = eng__intake_add(&r->odds, bd->hotkey, b->u.odds.markets[k].market_id,
                                     h->time_ms, b->u.odds.markets[k].n_prices);
            }
            return st == TALLY_OK ? eng__nonce_set(r, h->actor, b->u.odds.nonce, b->u.odds.idx)
                                  : st;
        }
        return eng__nonce_set(r, h->actor, b->u.outcome.nonce, b->u.outcome.idx);
    }
    if (engine_rules_reveal_at(r, seq, h, &at) != TALLY_OK) {
        return TALLY_OK;
    }
    if (at > cut) {
        return eng__pending_add(r, seq, h, bd); /* judged at its reveal, still ahead */
    }
    if (h->type == SCHEMA_ODDS_SUBMISSION && b != NULL && bd != NULL) {
        rpending pr = {.seq = seq, .h = *h, .has_hotkey = true};
        memcpy(pr.hotkey, bd->hotkey, 32);
        return eng__late_add(r, &pr, &b->u.odds);
    }
    return TALLY_OK;
}

tally_status engine_rules_from_state(const uint8_t *state, size_t n, engine_rules **out)
{
    schema_mpr rd;
    engine_rules *r;
    size_t fields;
    tally_status st = engine_rules_new(&r);

    *out = NULL;
    if (st != TALLY_OK) {
        return st;
    }
    schema_mpr_init(&rd, state, n);
    fields = schema_mpr_array(&rd);
    /* the engine's parts come first; the rules' section is the last element */
    for (size_t i = 0; i + 1 < fields && !rd.bad; i++) {
        schema_mpr_skip(&rd);
    }
    st = fields != ENGINE_STATE_FIELDS || rd.bad ? TALLY_EFORMAT : eng__rules_read(&rd, r);
    if (st == TALLY_OK) {
        st = schema_mpr_end(&rd);
    }
    if (st != TALLY_OK) {
        engine_rules_free(r);
        return st;
    }
    *out = r;
    return TALLY_OK;
}
