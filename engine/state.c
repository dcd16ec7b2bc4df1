/* The checkpoint: the fold's state as canonical msgpack (protocol §6.5), and back.
 *
 * ["tally-state-v1", cycle, epoch, as_of_ms, covers_to,
 *  next_seq, last_time, params_dirty, [every ledger parameter, in schema/params.c order], [netuid, max_weight_limit, min_allowed, owner|nil],
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
 * engine_load() reads the bodies again through the caller, in seq order. Integers use the
 * shortest msgpack form, so the bytes are a function of the state. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* ---- writer ---- */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->oom) {
        return;
    }
    if (w->n + n > w->cap) {
        size_t c = w->cap ? w->cap : 4096;
        while (c < w->n + n) {
            c *= 2;
        }
        uint8_t *q = realloc(w->p, c);
        if (q == NULL) {
            w->oom = true;
            return;
        }
        w->p = q, w->cap = c;
    }
    memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void put_be(wbuf *w, uint8_t tag, uint64_t v, int bytes)
{
    uint8_t b[9];
    b[0] = tag;
    for (int i = 0; i < bytes; i++) {
        b[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
    put(w, b, 1 + (size_t)bytes);
}

static void w_u(wbuf *w, uint64_t v)
{
    if (v < 128) {
        uint8_t b = (uint8_t)v;
        put(w, &b, 1);
    } else if (v <= 0xff) {
        put_be(w, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        put_be(w, 0xcd, v, 2);
    } else if (v <= 0xffffffffull) {
        put_be(w, 0xce, v, 4);
    } else {
        put_be(w, 0xcf, v, 8);
    }
}

static void w_i(wbuf *w, int64_t v)
{
    if (v >= 0) {
        w_u(w, (uint64_t)v);
    } else if (v >= -32) {
        uint8_t b = (uint8_t)(0xe0 | (v + 32));
        put(w, &b, 1);
    } else if (v >= INT8_MIN) {
        put_be(w, 0xd0, (uint64_t)v & 0xff, 1);
    } else if (v >= INT16_MIN) {
        put_be(w, 0xd1, (uint64_t)v & 0xffff, 2);
    } else if (v >= INT32_MIN) {
        put_be(w, 0xd2, (uint64_t)v & 0xffffffffull, 4);
    } else {
        put_be(w, 0xd3, (uint64_t)v, 8);
    }
}

static void w_arr(wbuf *w, size_t n)
{
    if (n < 16) {
        uint8_t b = (uint8_t)(0x90 | n);
        put(w, &b, 1);
    } else if (n <= 0xffff) {
        put_be(w, 0xdc, n, 2);
    } else {
        put_be(w, 0xdd, n, 4);
    }
}

static void w_nil(wbuf *w)
{
    uint8_t b = 0xc0;
    put(w, &b, 1);
}

static void w_bool(wbuf *w, bool v)
{
    uint8_t b = v ? 0xc3 : 0xc2;
    put(w, &b, 1);
}

static void w_bin(wbuf *w, const uint8_t *p, size_t n)
{
    put_be(w, 0xc4, n, 1);
    put(w, p, n);
}

static void w_str(wbuf *w, const char *s)
{
    size_t n = strlen(s);
    uint8_t b = (uint8_t)(0xa0 | n);
    put(w, &b, 1);
    put(w, s, n);
}

static void w_opt_u(wbuf *w, bool has, uint64_t v)
{
    if (has) {
        w_u(w, v);
    } else {
        w_nil(w);
    }
}

tally_status eng__state_write(const engine *e, const schema_scoring_cycle *c, uint8_t **out,
                              size_t *n_out)
{
    wbuf w = {0};

    *out = NULL, *n_out = 0;
    w_arr(&w, 17);
    w_str(&w, ENGINE_STATE_MAGIC);
    w_u(&w, c->cycle), w_u(&w, c->epoch), w_u(&w, c->as_of_ms), w_u(&w, c->covers_to);
    w_u(&w, e->next_seq), w_i(&w, e->last_time), w_bool(&w, e->params_dirty);
    /* every ledger parameter in table order: the count is the table's (schema/params.c) */
    w_arr(&w, SCHEMA_P_COUNT);
    for (size_t i = 0; i < SCHEMA_P_COUNT; i++) {
        w_i(&w, e->pset.v[i]);
    }
    w_arr(&w, 4);
    w_u(&w, e->netuid), w_u(&w, e->max_weight_limit), w_u(&w, e->min_allowed);
    if (e->has_owner) {
        w_bin(&w, e->owner, 32);
    } else {
        w_nil(&w);
    }
    w_arr(&w, e->n_hks);
    for (size_t i = 0; i < e->n_hks; i++) {
        w_arr(&w, 3);
        w_bin(&w, e->hks[i].hotkey, 32);
        w_opt_u(&w, e->hks[i].uid != ENG_NONE, e->hks[i].uid);
        w_i(&w, e->hks[i].reg_start);
    }
    w_arr(&w, 2);
    w_i(&w, e->mg_time);
    w_arr(&w, e->n_mg_parts);
    for (size_t i = 0; i < e->n_mg_parts; i++) {
        w_arr(&w, 3);
        w_u(&w, e->mg_parts[i].uid);
        w_bin(&w, e->mg_parts[i].hotkey, 32);
        if (e->mg_parts[i].has_tally_key) {
            w_bin(&w, e->mg_parts[i].tally_key, 32);
        } else {
            w_nil(&w);
        }
    }
    /* bound actor keys: one per neuron of the latest snapshot, in key order */
    w_arr(&w, e->n_actors);
    for (size_t i = 0; i < e->n_actors; i++) {
        w_arr(&w, 2);
        w_bin(&w, e->actors[i].key, 32);
        w_u(&w, e->actors[i].hk);
    }
    w_arr(&w, e->n_uids);
    for (size_t u = 0; u < e->n_uids; u++) {
        w_opt_u(&w, e->uid_hk[u] != ENG_NONE, e->uid_hk[u]);
    }
    w_arr(&w, e->n_events);
    for (size_t i = 0; i < e->n_events; i++) {
        const eng_event *ev = &e->events[i];
        w_arr(&w, 9);
        w_u(&w, ev->id), w_i(&w, ev->start_ms), w_u(&w, ev->status);
        w_u(&w, ev->em_out), w_u(&w, ev->em_hist), w_u(&w, ev->closes), w_u(&w, ev->em_closes);
        w_arr(&w, ev->n_hist);
        for (size_t k = 0; k < ev->n_hist; k++) {
            w_arr(&w, 3);
            w_u(&w, ev->hist[k].seq), w_i(&w, ev->hist[k].time), w_i(&w, ev->hist[k].base);
        }
        if (!ev->has_out) {
            w_nil(&w);
            continue;
        }
        w_arr(&w, 5);
        w_u(&w, ev->out_seq), w_i(&w, ev->out_time);
        w_opt_u(&w, ev->out_has_result, ev->out_result);
        w_opt_u(&w, ev->out_has_scores, ev->out_home);
        w_opt_u(&w, ev->out_has_scores, ev->out_away);
    }
    w_arr(&w, e->n_markets);
    for (size_t i = 0; i < e->n_markets; i++) {
        const eng_market *m = &e->markets[i];
        w_arr(&w, 8);
        w_u(&w, m->id), w_u(&w, m->ev), w_u(&w, m->kind), w_u(&w, m->em_close);
        if (m->has_line) {
            w_i(&w, m->line);
        } else {
            w_nil(&w);
        }
        w_arr(&w, m->n_sides);
        for (int k = 0; k < m->n_sides; k++) {
            w_u(&w, m->sides[k]);
        }
        if (m->has_close) {
            w_arr(&w, 2 + 2 * (size_t)m->n_sides);
            w_u(&w, m->close_seq), w_u(&w, m->close_mask);
            for (int k = 0; k < m->n_sides; k++) {
                w_i(&w, m->pi[k]), w_i(&w, m->omega[k]);
            }
        } else {
            w_nil(&w);
        }
        w_arr(&w, m->n_snaps);
        for (size_t k = 0; k < m->n_snaps; k++) {
            const eng_snap *s = &m->snaps[k];
            w_arr(&w, 3 + (size_t)m->n_sides);
            w_i(&w, s->ts), w_u(&w, s->seq), w_u(&w, s->mask);
            for (int j = 0; j < m->n_sides; j++) {
                w_i(&w, s->pi[j]);
            }
        }
    }
    w_arr(&w, e->n_subs);
    for (size_t i = 0; i < e->n_subs; i++) {
        const eng_sub *s = &e->subs[i];
        w_arr(&w, 8);
        w_u(&w, s->seq), w_i(&w, s->time_ms), w_i(&w, s->t_sub);
        w_u(&w, s->ev), w_u(&w, s->hk), w_u(&w, s->n_rows), w_bool(&w, s->revealed);
        w_bool(&w, s->scored);
    }
    if (w.oom) {
        free(w.p);
        return TALLY_ENOMEM;
    }
    *out = w.p, *n_out = w.n;
    return TALLY_OK;
}

/* ---- reader (strict: only what the writer produces) ---- */

typedef struct rbuf {
    const uint8_t *p;
    size_t n, off;
    bool bad;
} rbuf;

static uint64_t get_be(rbuf *r, int bytes)
{
    uint64_t v = 0;
    if (r->bad || r->n - r->off < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    for (int i = 0; i < bytes; i++) {
        v = v << 8 | r->p[r->off++];
    }
    return v;
}

static uint8_t peek(rbuf *r)
{
    if (r->bad || r->off >= r->n) {
        r->bad = true;
        return 0;
    }
    return r->p[r->off];
}

static int64_t r_i(rbuf *r)
{
    uint8_t t = (uint8_t)get_be(r, 1);
    if (r->bad) {
        return 0;
    }
    if (t < 0x80) {
        return t;
    }
    if (t >= 0xe0) {
        return (int64_t)t - 256;
    }
    switch (t) {
    case 0xcc: return (int64_t)get_be(r, 1);
    case 0xcd: return (int64_t)get_be(r, 2);
    case 0xce: return (int64_t)get_be(r, 4);
    case 0xcf: {
        uint64_t v = get_be(r, 8);
        if (v > INT64_MAX) {
            r->bad = true;
        }
        return (int64_t)v;
    }
    case 0xd0: return (int8_t)get_be(r, 1);
    case 0xd1: return (int16_t)get_be(r, 2);
    case 0xd2: return (int32_t)get_be(r, 4);
    case 0xd3: return (int64_t)get_be(r, 8);
    default: r->bad = true; return 0;
    }
}

static uint64_t r_u(rbuf *r)
{
    int64_t v = r_i(r);
    if (v < 0) {
        r->bad = true;
        return 0;
    }
    return (uint64_t)v;
}

static size_t r_arr(rbuf *r)
{
    uint8_t t = (uint8_t)get_be(r, 1);
    if ((t & 0xf0) == 0x90) {
        return t & 0x0f;
    }
    if (t == 0xdc) {
        return (size_t)get_be(r, 2);
    }
    if (t == 0xdd) {
        return (size_t)get_be(r, 4);
    }
    r->bad = true;
    return 0;
}

static bool r_nil(rbuf *r)
{
    if (peek(r) == 0xc0) {
        r->off++;
        return true;
    }
    return false;
}

static bool r_bool(rbuf *r)
{
    uint8_t t = (uint8_t)get_be(r, 1);
    if (t != 0xc2 && t != 0xc3) {
        r->bad = true;
    }
    return t == 0xc3;
}

static void r_bin(rbuf *r, uint8_t *out, size_t n)
{
    if (get_be(r, 1) != 0xc4 || get_be(r, 1) != n || r->n - r->off < n) {
        r->bad = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p + r->off, n);
    r->off += n;
}

static uint32_t r_opt_u32(rbuf *r)
{
    uint64_t v;
    if (r_nil(r)) {
        return ENG_NONE;
    }
    v = r_u(r);
    if (v >= ENG_NONE) {
        r->bad = true;
    }
    return (uint32_t)v;
}

/* Counts read from the blob are checked against the bytes left, so a bad count cannot make us
 * allocate more than the blob could hold. */
static bool count_ok(rbuf *r, size_t n)
{
    if (r->bad || n > r->n - r->off) {
        r->bad = true;
        return false;
    }
    return true;
}

/* Reads an array header and allocates its n elements (at least one, zeroed). The count is
 * checked against the bytes left first. NULL with *st set on failure. */
static void *r_list(rbuf *r, size_t elem, size_t *n_out, tally_status *st)
{
    size_t n = r_arr(r);
    void *p;

    *n_out = 0;
    if (!count_ok(r, n)) {
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

static tally_status load_events(rbuf *r, engine *e)
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
        if (r_arr(r) != 9) {
            r->bad = true;
            break;
        }
        ev->id = r_u(r), ev->start_ms = r_i(r), ev->status = r_u(r);
        ev->em_out = r_u(r), ev->em_hist = r_u(r), ev->closes = r_u(r), ev->em_closes = r_u(r);
        if ((ev->hist = r_list(r, sizeof(eng_hist), &nh, &st)) == NULL) {
            return st;
        }
        e->n_events++;
        ev->cap_hist = nh ? nh : 1, ev->n_hist = nh;
        for (size_t k = 0; k < nh; k++) {
            eng_hist *x = &ev->hist[k];
            if (r_arr(r) != 3) {
                r->bad = true;
            }
            x->seq = r_u(r), x->time = r_i(r), x->base = r_i(r);
        }
        if (!r_nil(r)) {
            uint32_t v;
            if (r_arr(r) != 5) {
                r->bad = true;
            }
            ev->has_out = true;
            ev->out_seq = r_u(r), ev->out_time = r_i(r);
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

static tally_status load_markets(rbuf *r, engine *e)
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
        if (r_arr(r) != 8) {
            r->bad = true;
            break;
        }
        e->n_markets++;
        m->id = r_u(r), m->ev = (uint32_t)r_u(r), m->kind = (uint8_t)r_u(r), m->em_close = r_u(r);
        m->has_line = !r_nil(r);
        m->line = m->has_line ? r_i(r) : 0;
        m->n_sides = (uint8_t)r_arr(r);
        if (m->n_sides < 2 || m->n_sides > 3 || m->ev >= e->n_events) {
            r->bad = true;
            break;
        }
        for (int k = 0; k < m->n_sides; k++) {
            m->sides[k] = r_u(r);
        }
        if (!r_nil(r)) {
            if (r_arr(r) != 2 + 2 * (size_t)m->n_sides) {
                r->bad = true;
            }
            m->has_close = true;
            m->close_seq = r_u(r), m->close_mask = (uint8_t)r_u(r);
            for (int k = 0; k < m->n_sides; k++) {
                m->pi[k] = r_i(r), m->omega[k] = r_i(r);
            }
        }
        if ((m->snaps = r_list(r, sizeof(eng_snap), &ns, &st)) == NULL) {
            return st;
        }
        m->cap_snaps = ns ? ns : 1, m->n_snaps = ns;
        for (size_t k = 0; k < ns; k++) {
            eng_snap *s = &m->snaps[k];
            if (r_arr(r) != 3 + (size_t)m->n_sides) {
                r->bad = true;
            }
            s->ts = r_i(r), s->seq = r_u(r), s->mask = (uint8_t)r_u(r);
            for (int j = 0; j < m->n_sides; j++) {
                s->pi[j] = r_i(r);
            }
        }
        if (eng__map_put(&e->market_ix, m->id, (uint32_t)i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
    }
    return r->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status load_subs(rbuf *r, engine *e, engine_fetch_fn fetch, void *arg)
{
    size_t n;
    tally_status st = TALLY_OK;

    if ((e->subs = r_list(r, sizeof(eng_sub), &n, &st)) == NULL) {
        return st;
    }
    e->cap_subs = n ? n : 1;
    for (size_t i = 0; i < n && !r->bad; i++) {
        eng_sub *s = &e->subs[i];
        schema_header h;
        schema_body b;
        if (r_arr(r) != 8) {
            r->bad = true;
            break;
        }
        e->n_subs++;
        s->seq = r_u(r), s->time_ms = r_i(r), s->t_sub = r_i(r);
        s->ev = (uint32_t)r_u(r), s->hk = (uint32_t)r_u(r), s->n_rows = (uint32_t)r_u(r);
        s->revealed = r_bool(r), s->scored = r_bool(r);
        if (r->bad || s->ev >= e->n_events || s->hk >= e->n_hks ||
            (i > 0 && s->seq <= e->subs[i - 1].seq) || (s->scored && !s->revealed)) {
            r->bad = true;
            break;
        }
        /* the prices come from the log, by seq (ascending, so a reader can stream); a reader
         * without the body of a submission not yet revealed keeps its header fields until the
         * reveal, when engine_cycle asks the fetch function set for it */
        st = fetch(s->seq, arg, &h, &b);
        if (st == TALLY_ENOTFOUND && !s->revealed) {
            continue;
        }
        if (st != TALLY_OK) {
            return st;
        }
        if (b.type != SCHEMA_ODDS_SUBMISSION || h.time_ms != (uint64_t)s->time_ms) {
            schema_body_release(&b);
            return TALLY_EFORMAT;
        }
        st = eng__sub_rows(e, s, &b.u.odds);
        schema_body_release(&b);
        if (st != TALLY_OK) {
            return st;
        }
        if (s->scored) {
            eng__rescore(e, s); /* the metrics the last cycle computed, from the same inputs */
        }
    }
    return r->bad ? TALLY_EFORMAT : TALLY_OK;
}

static tally_status load_identities(rbuf *r, engine *e)
{
    size_t n;
    tally_status st = TALLY_OK;

    if ((e->hks = r_list(r, sizeof(eng_hotkey), &n, &st)) == NULL) {
        return st;
    }
    e->cap_hks = n ? n : 1, e->n_hks = n;
    for (size_t i = 0; i < n; i++) {
        uint64_t key;
        if (r_arr(r) != 3) {
            r->bad = true;
        }
        r_bin(r, e->hks[i].hotkey, 32);
        e->hks[i].uid = r_opt_u32(r);
        e->hks[i].reg_start = r_i(r);
        key = eng__hk_prefix(e->hks[i].hotkey);
        if (eng__map_get(&e->hk_ix, key) == ENG_NONE &&
            eng__map_put(&e->hk_ix, key, (uint32_t)i) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
    }
    if (r_arr(r) != 2) {
        r->bad = true;
    }
    e->mg_time = r_i(r);
    if ((e->mg_parts = r_list(r, sizeof(schema_neuron), &n, &st)) == NULL) {
        return st;
    }
    e->cap_mg_parts = n ? n : 1, e->n_mg_parts = n;
    for (size_t i = 0; i < n; i++) {
        schema_neuron *nr = &e->mg_parts[i];
        if (r_arr(r) != 3) {
            r->bad = true;
        }
        nr->uid = r_u(r);
        r_bin(r, nr->hotkey, 32);
        nr->has_tally_key = !r_nil(r);
        if (nr->has_tally_key) {
            r_bin(r, nr->tally_key, 32);
        }
    }
    if ((e->actors = r_list(r, sizeof(eng_actor), &n, &st)) == NULL) {
        return st;
    }
    e->n_actors = n;
    for (size_t i = 0; i < n; i++) {
        if (r_arr(r) != 2) {
            r->bad = true;
        }
        r_bin(r, e->actors[i].key, 32);
        e->actors[i].hk = (uint32_t)r_u(r);
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
    rbuf r = {.p = state, .n = n};
    engine *e;
    uint8_t magic[sizeof(ENGINE_STATE_MAGIC)];
    tally_status st = engine_new(&e);

    *out = NULL;
    if (st != TALLY_OK) {
        return st;
    }
    if (r_arr(&r) != 17 || get_be(&r, 1) != (0xa0 | (sizeof(magic) - 1)) ||
        !count_ok(&r, sizeof(magic) - 1) ||
        memcmp(state + r.off, ENGINE_STATE_MAGIC, sizeof(magic) - 1) != 0) {
        engine_free(e);
        return TALLY_EFORMAT;
    }
    r.off += sizeof(magic) - 1;
    for (int i = 0; i < 4; i++) {
        (void)r_u(&r); /* cycle, epoch, as_of_ms, covers_to: the caller checks them */
    }
    e->next_seq = r_u(&r), e->last_time = r_i(&r), e->params_dirty = r_bool(&r);
    if (r_arr(&r) != SCHEMA_P_COUNT) {
        r.bad = true;
    }
    for (unsigned i = 0; i < SCHEMA_P_COUNT; i++) {
        const schema_pdef *d = schema_param_def(i);
        e->pset.v[i] = r_i(&r);
        /* a value the table refuses could break the bounds fx.h relies on */
        if (d->kind == SCHEMA_PK_TEXT ? e->pset.v[i] != 0 : e->pset.v[i] < d->lo || e->pset.v[i] > d->hi) {
            r.bad = true;
        }
    }
    engine_params_from(&e->pset, &e->params);
    if (r_arr(&r) != 4) {
        r.bad = true;
    }
    e->netuid = r_u(&r), e->max_weight_limit = r_u(&r), e->min_allowed = r_u(&r);
    e->has_owner = !r_nil(&r);
    if (e->has_owner) {
        r_bin(&r, e->owner, 32);
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
    if (st == TALLY_OK && (r.bad || r.off != r.n)) {
        st = TALLY_EFORMAT;
    }
    if (st != TALLY_OK) {
        engine_free(e);
        return st;
    }
    *out = e;
    return TALLY_OK;
}
