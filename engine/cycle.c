/* One SCORING_CYCLE: reveal, prune, checkpoint and per-row scores (§4), then the per-miner half
 * (miners.c, §5–§7), and the block it returns. Every loop runs in a fixed order: submissions by
 * seq, rows as the submission lists them (market, side ascending), miners by uid. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* ---- reveal and prune ---- */

/* reveal_at of a submission (protocol §2.3), from its event's EVENT history. */
static int64_t reveal_at(const engine *e, const eng_sub *s)
{
    const eng_event *ev = &e->events[s->ev];
    int64_t r = INT64_MAX;
    size_t i = 0;

    for (; i < ev->n_hist && ev->hist[i].seq < s->seq; i++) {
        r = ev->hist[i].base;
    }
    for (; i < ev->n_hist; i++) {
        if (ev->hist[i].time < r) {
            r = ev->hist[i].base;
        }
    }
    return r;
}

tally_status eng__take_body(engine *e, eng_sub *s, engine_fetch_fn fetch, void *arg)
{
    schema_header h;
    schema_body b;
    tally_status st;

    if (fetch == NULL) {
        return TALLY_EINVAL;
    }
    st = fetch(s->seq, arg, &h, &b);
    if (st != TALLY_OK) {
        return st;
    }
    if (b.type != SCHEMA_ODDS_SUBMISSION || h.time_ms != (uint64_t)s->time_ms) {
        schema_body_release(&b);
        return TALLY_EFORMAT;
    }
    st = eng__sub_rows(e, s, &b.u.odds);
    schema_body_release(&b);
    return st;
}

static tally_status reveal_and_prune(engine *e, int64_t as_of)
{
    const engine_params *p = &e->params;
    int64_t horizon = as_of - (max64(p->rolling_days, p->cal_days) + 30) * ENG_DAY_MS;
    int64_t snap_lo = as_of - p->rolling_days * ENG_DAY_MS;
    size_t k = 0;

    for (size_t i = 0; i < e->n_subs; i++) {
        eng_sub *s = &e->subs[i];
        const eng_hotkey *hk = &e->hks[s->hk];
        /* rows of a past registration are gone for good (scoring §2); so are rows that no
         * window can reach any more */
        if (hk->uid == ENG_NONE || s->t_sub < hk->reg_start || s->t_sub < horizon) {
            eng__rows_drop(e, s);
            continue;
        }
        if (!s->revealed && reveal_at(e, s) <= e->last_time) {
            /* a body withheld until its reveal (protocol §2.3) is taken now */
            tally_status st =
                !s->has_body ? eng__take_body(e, s, e->fetch, e->fetch_arg) : TALLY_OK;
            if (st != TALLY_OK) {
                for (size_t j = i; j < e->n_subs; j++) {
                    e->subs[k++] = e->subs[j];
                }
                e->n_subs = k;
                return st;
            }
            s->revealed = true;
        }
        e->subs[k++] = *s;
    }
    e->n_subs = k;
    if (eng__rows_compact(e) != TALLY_OK) {
        return TALLY_ENOMEM;
    }
    for (size_t i = 0; i < e->n_markets; i++) {
        eng_market *m = &e->markets[i];
        size_t j = 0;
        for (size_t t = 0; t < m->n_snaps; t++) {
            if (m->snaps[t].ts >= snap_lo) {
                m->snaps[j++] = m->snaps[t];
            }
        }
        m->n_snaps = j;
    }
    return TALLY_OK;
}

/* ---- per-row scores ---- */

/* The result side of market m (scoring §2), or 0 for none, push or void. */
static uint64_t market_result(const engine *e, const eng_market *m)
{
    const eng_event *ev = &e->events[m->ev];
    int64_t h = (int64_t)ev->out_home, a = (int64_t)ev->out_away;

    if (!ev->has_out || ev->status == SCHEMA_POSTPONED || ev->status == SCHEMA_VOID) {
        return 0;
    }
    if (m->kind == SCHEMA_MONEYLINE || m->kind == SCHEMA_DNB) {
        uint64_t r;
        if (ev->out_has_scores) {
            r = h > a ? SCHEMA_HOME : h < a ? SCHEMA_AWAY : SCHEMA_DRAW;
        } else if (ev->out_has_result && ev->out_result != SCHEMA_R_VOID) {
            r = ev->out_result; /* R_HOME/AWAY/DRAW share the side codes */
        } else {
            return 0;
        }
        return m->kind == SCHEMA_DNB && r == SCHEMA_DRAW ? 0 : r;
    }
    if (!ev->out_has_scores || !m->has_line) {
        return 0;
    }
    if (m->kind == SCHEMA_TOTAL) {
        fx_wide tot = (fx_wide)(h + a) * FX_ONE;
        return tot > m->line ? SCHEMA_OVER : tot < m->line ? SCHEMA_UNDER : 0;
    }
    if (m->kind == SCHEMA_SPREAD) {
        /* D7: the home line applies to the home score */
        fx_wide hs = (fx_wide)h * FX_ONE + m->line, as = (fx_wide)a * FX_ONE;
        return hs > as ? SCHEMA_HOME : hs < as ? SCHEMA_AWAY : 0;
    }
    return 0;
}

schema_body *eng__push_body(eng_cycle *y, unsigned type)
{
    schema_body *g = eng__grow(y->bodies, &y->cap_bodies, y->n_bodies + 1, sizeof(*g));
    if (g == NULL) {
        return NULL;
    }
    y->bodies = g;
    memset(&g[y->n_bodies], 0, sizeof(*g));
    g[y->n_bodies].type = type;
    return &g[y->n_bodies++];
}

/* engine_time_factor, memoised by minute (a pure function of the minute and three params). */
static int64_t time_factor(engine *e, uint64_t minutes)
{
    const engine_params *p = &e->params;

    if (minutes >= (uint64_t)p->tw_max) {
        return engine_time_factor(p, minutes);
    }
    if (e->tf_cache == NULL || e->tf_min != p->tw_min || e->tf_max != p->tw_max ||
        e->tf_floor != p->tw_floor) {
        free(e->tf_cache);
        e->tf_cache = calloc((size_t)p->tw_max + 1, sizeof(int64_t));
        e->tf_min = p->tw_min, e->tf_max = p->tw_max, e->tf_floor = p->tw_floor;
        if (e->tf_cache == NULL) {
            return engine_time_factor(p, minutes);
        }
    }
    if (e->tf_cache[minutes] == 0) {
        e->tf_cache[minutes] = engine_time_factor(p, minutes) + 1;
    }
    return e->tf_cache[minutes] - 1;
}

static uint64_t close_key(const eng_market *m)
{
    return m->has_close ? m->close_seq + 1 : 0;
}

static uint64_t out_key(const eng_event *ev)
{
    return ev->has_out ? ev->out_seq + 1 : 0;
}

/* Scores one group (the rows of submission s on one market: rows[lo, hi)) from the current close
 * and result; with y, emits a SUBMISSION_SCORE for each row that has a score. */
static tally_status score_group(engine *e, eng_cycle *y, eng_sub *s, size_t lo, size_t hi)
{
    const engine_params *p = &e->params;
    eng_row *rows = eng__rows(e, s);
    eng_market *m = &e->markets[rows[lo].market];
    const eng_event *ev = &e->events[m->ev];
    uint64_t rho = market_result(e, m);
    uint64_t minutes = ev->start_ms > s->t_sub ? (uint64_t)((ev->start_ms - s->t_sub) / ENG_MIN_MS) : 0;
    engine_outcome oc;
    bool scored = false;

    /* S*: the market's sides with a consensus in the CLOSE; the result must be one of them */
    if (m->has_close && rho != 0 && __builtin_popcount(m->close_mask) >= 2) {
        int64_t x[3], pi[3];
        size_t n = 0, r = SIZE_MAX;
        for (int i = 0; i < m->n_sides; i++) {
            if (!(m->close_mask & (1u << i))) {
                continue;
            }
            x[n] = -1;
            for (size_t j = lo; j < hi; j++) {
                if (rows[j].side_idx == i) {
                    x[n] = rows[j].p;
                }
            }
            pi[n] = m->pi[i];
            r = m->sides[i] == rho ? n : r;
            n++;
        }
        if (r != SIZE_MAX) {
            scored = engine_outcome_metrics(x, pi, n, r, &oc);
        }
    }
    for (size_t j = lo; j < hi; j++) {
        eng_row *w = &rows[j];
        schema_close_metrics cm = {0};
        int64_t tf = 0;
        w->has_close = m->has_close && (m->close_mask & (1u << w->side_idx));
        if (w->has_close) {
            engine_close_metrics(p, w->odds_n, m->pi[w->side_idx], m->omega[w->side_idx],
                                 ev->start_ms, s->t_sub, &cm);
            w->cle = cm.cle, w->mes = cm.mes;
        }
        w->has_out = scored;
        if (scored) {
            w->brier = oc.brier;
            tf = time_factor(e, minutes); /* D4: minutes from the row and the start */
            w->pss_adj = engine_pss_adj(p, oc.pss, tf);
            w->hit = m->sides[w->side_idx] == rho;
            w->settled = ev->out_time;
        }
        if (y != NULL && (w->has_close || w->has_out)) {
            schema_body *b = eng__push_body(y, SCHEMA_SUBMISSION_SCORE);
            schema_submission_score *ss;
            if (b == NULL) {
                return TALLY_ENOMEM;
            }
            ss = &b->u.submission_score;
            ss->cycle = y->c->cycle, ss->sub_seq = s->seq, ss->uid = e->hks[s->hk].uid;
            ss->market_id = m->id, ss->side = m->sides[w->side_idx];
            ss->submitted_at_ms = (uint64_t)s->t_sub;
            ss->has_close = w->has_close, ss->close = cm;
            ss->has_outcome = w->has_out;
            if (scored) {
                ss->outcome = (schema_outcome_metrics){w->brier, oc.logloss, oc.pss, tf,
                                                       w->pss_adj, w->hit};
            }
            memcpy(ss->salt, s->salt, 16);
        }
    }
    return TALLY_OK;
}

/* Calls fn on each group of a submission's rows (rows of one market are adjacent). */
static tally_status each_group(engine *e, eng_cycle *y, eng_sub *s, bool only_changed, bool force)
{
    const eng_row *rows = eng__rows(e, s);
    size_t lo = 0;

    while (lo < s->n_prices) {
        size_t hi = lo + 1;
        const eng_market *m = &e->markets[rows[lo].market];
        const eng_event *ev = &e->events[m->ev];
        while (hi < s->n_prices && rows[hi].market == rows[lo].market) {
            hi++;
        }
        /* a row's scores change only with its market's close, its event (start, status,
         * result) or the parameters; a newly revealed submission is scored whole */
        if (!only_changed || force || !s->scored || m->em_close != close_key(m) ||
            ev->em_out != out_key(ev) || ev->em_hist != ev->n_hist) {
            if (score_group(e, y, s, lo, hi) != TALLY_OK) {
                return TALLY_ENOMEM;
            }
        }
        lo = hi;
    }
    return TALLY_OK;
}

void eng__rescore(engine *e, eng_sub *s)
{
    tally_status st = each_group(e, NULL, s, false, true);
    TALLY_ASSERT(st == TALLY_OK); /* no emission: nothing to allocate */
}

/* Whether a revealed submission's rows may score differently from the last cycle. */
static bool sub_changed(const engine *e, const eng_sub *s, bool force)
{
    const eng_event *ev = &e->events[s->ev];
    return force || !s->scored || ev->em_out != out_key(ev) || ev->em_hist != ev->n_hist ||
           ev->em_closes != ev->closes;
}

static tally_status score_rows(eng_cycle *y)
{
    engine *e = y->e;
    bool force = e->params_dirty;
    size_t bound = e->n_uids + 2;

    /* reserve the block once: at most one SUBMISSION_SCORE per row that may change */
    for (size_t i = 0; i < e->n_subs; i++) {
        if (e->subs[i].revealed && sub_changed(e, &e->subs[i], force)) {
            bound += e->subs[i].n_prices;
        }
    }
    y->bodies = eng__grow(y->bodies, &y->cap_bodies, bound, sizeof(schema_body));
    if (y->bodies == NULL) {
        return TALLY_ENOMEM;
    }

    for (size_t i = 0; i < e->n_subs; i++) {
        eng_sub *s = &e->subs[i];
        if (!s->revealed) {
            continue; /* protocol §2.3: its prices are not ours to read yet */
        }
        /* nothing of its event changed since the last cycle: its rows keep their scores */
        if (!sub_changed(e, s, force)) {
            continue;
        }
        if (each_group(e, y, s, true, force) != TALLY_OK) {
            return TALLY_ENOMEM;
        }
        s->scored = true;
    }
    for (size_t i = 0; i < e->n_markets; i++) {
        e->markets[i].em_close = close_key(&e->markets[i]);
    }
    for (size_t i = 0; i < e->n_events; i++) {
        e->events[i].em_out = out_key(&e->events[i]);
        e->events[i].em_hist = e->events[i].n_hist;
        e->events[i].em_closes = e->events[i].closes;
    }
    e->params_dirty = false;
    return TALLY_OK;
}

tally_status engine_cycle(engine *e, uint64_t seq, const schema_header *h,
                          const schema_scoring_cycle *c, engine_block *out)
{
    eng_cycle y = {.e = e, .c = c};
    tally_status st;
    schema_body *b;

    memset(out, 0, sizeof(*out));
    (void)h;
    if (c->covers_to != e->next_seq || seq < c->covers_to) {
        return TALLY_EINVAL;
    }
    out->mem_ = calloc(1, sizeof(*out->mem_));
    if (out->mem_ == NULL) {
        return TALLY_ENOMEM;
    }
    y.as_of = (int64_t)c->as_of_ms;
    y.wr_lo = y.as_of - e->params.rolling_days * ENG_DAY_MS;
    y.wc_lo = y.as_of - e->params.cal_days * ENG_DAY_MS;
    st = reveal_and_prune(e, y.as_of);
    y.truth = st == TALLY_OK ? calloc(3 * e->n_markets + 1, sizeof(*y.truth)) : NULL;
    if (st != TALLY_OK) {
        engine_block_release(out);
        return st;
    }
    if (y.truth == NULL) {
        engine_block_release(out);
        return TALLY_ENOMEM;
    }
    st = eng__state_write(e, c, &out->state, &out->state_len);
    if (st == TALLY_OK) {
        schema_sha256_2(out->state_hash, out->state, out->state_len, NULL, 0);
        st = score_rows(&y);
    }
    if (st == TALLY_OK) {
        out->n_scores = y.n_bodies;
        st = eng__miners(&y, out);
    }
    if (st == TALLY_OK && (b = eng__push_body(&y, SCHEMA_STATE_HASH)) == NULL) {
        st = TALLY_ENOMEM;
    }
    if (st == TALLY_OK) {
        b->u.state_hash.cycle = c->cycle;
        memcpy(b->u.state_hash.state_hash, out->state_hash, 32);
        b->u.state_hash.state_len = out->state_len;
    }
    out->bodies = y.bodies, out->n = y.n_bodies;
    for (size_t i = 0; i < 3 * e->n_markets; i++) {
        free(y.truth[i].pts);
    }
    free(y.truth);
    if (st != TALLY_OK) {
        engine_block_release(out);
    }
    return st;
}

void engine_block_set_inputs_hash(engine_block *b, const uint8_t (*leaf)[32])
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->bodies[i].type == SCHEMA_WEIGHTS) {
            schema_sha256_2(b->bodies[i].u.weights.inputs_hash, b->n_miners ? leaf[0] : NULL,
                            32 * b->n_miners, NULL, 0);
        }
    }
}

void engine_block_release(engine_block *b)
{
    if (b == NULL) {
        return;
    }
    if (b->mem_ != NULL) {
        free(b->mem_->uids);
        free(b->mem_->weights);
        free(b->mem_);
    }
    free(b->bodies);
    free(b->state);
    memset(b, 0, sizeof(*b));
}
